"""Scores of forecasts against what happened: interval coverage, the PIT and the CRPS.

A forecast here is a Monte-Carlo sample (one value per trial) of a quantity, and the actual is
what was booked. Three scores, the ones a forecaster's track record is judged by:

- **coverage**: whether the actual fell inside the P10-P90 interval; over many forecasts it should
  happen about 80% of the time (more: the ranges are too wide; less: overconfident);
- the **probability integral transform** (PIT): where the actual falls in the forecast's own
  distribution, ``F(actual)``. Over many forecasts of a well-calibrated model the PITs are uniform
  on (0, 1); a U shape means too narrow, a hump too wide, a slope a bias. A sample's distribution
  is a step function (and a point forecast is all one step), so ties are broken at random: the
  randomised PIT, exactly uniform when the actual is exchangeable with the sample;
- the **continuous ranked probability score** (CRPS), in dollars: how far the forecast's
  distribution is from the actual, ``E|X - y| - E|X - X'| / 2`` (the energy form; lower is
  better). It rewards sharpness and calibration together, and for a point forecast it is the
  absolute error, so the Monte Carlo and a single-number baseline are scored on one scale.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from simcore.errors import SimcoreError


def _samples(samples):
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] == 0:
        raise SimcoreError("scores: samples must be a non-empty 1-d sample or a 2-d (forecasts, draws) array")
    if not np.isfinite(x).all():
        raise SimcoreError("scores: the samples hold NaN or infinite values")
    return x


def _actuals(actual, n):
    y = np.broadcast_to(np.asarray(actual, dtype=np.float64), (n,))
    if not np.isfinite(y).all():
        raise SimcoreError("scores: an actual is NaN or infinite")
    return y


def interval_hit(samples, actual, low: float = 0.1, high: float = 0.9):
    """Whether each actual lies inside its forecast's ``[P(low), P(high)]`` (ends included).

    Parameters
    ----------
    samples : array_like
        One forecast's draws (1-d) or several, one per row.
    actual : float or array_like
        One actual per forecast.
    low, high : float
        The interval's quantiles.

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> interval_hit([np.arange(101.0)] * 3, [5.0, 50.0, 95.0]).tolist()
    [False, True, False]
    """
    x = _samples(samples)
    y = _actuals(actual, len(x))
    lo, hi = np.quantile(x, [low, high], axis=1)
    return (y >= lo) & (y <= hi)


def pit(samples, actual, rng=None):
    """The randomised probability integral transform of each actual in its forecast's sample.

    With ``b`` draws below the actual, ``e`` equal to it, out of ``n``, the PIT is
    ``(b + U (e + 1)) / (n + 1)`` with ``U`` uniform on (0, 1): if the actual and the draws are
    exchangeable (the forecast is right), its rank among them is uniform on ``0..n`` and this
    spreads each rank evenly over its ``1 / (n + 1)``, so the PIT is exactly uniform.

    Parameters
    ----------
    samples : array_like
        One forecast's draws (1-d) or several, one per row.
    actual : float or array_like
        One actual per forecast.
    rng : numpy.random.Generator or int, optional
        The uniforms that break ties (a seed, for reproducible scores).

    Returns
    -------
    numpy.ndarray
        One PIT per forecast, in (0, 1).

    Examples
    --------
    An actual above all 99 draws is in the top hundredth, one below all in the bottom one:

    >>> p = pit([np.arange(99.0)] * 2, [1000.0, -5.0], rng=0)
    >>> bool(0.99 < p[0] < 1.0), bool(0.0 < p[1] < 0.01)
    (True, True)
    """
    x = _samples(samples)
    y = _actuals(actual, len(x))
    rng = np.random.default_rng(rng)
    below = (x < y[:, None]).sum(axis=1)
    equal = (x == y[:, None]).sum(axis=1)
    return (below + rng.random(len(x)) * (equal + 1)) / (x.shape[1] + 1)


def crps(samples, actual):
    """The CRPS of each forecast's sample at its actual, energy form, in ``O(n log n)``.

    ``E|X - y| - E|X - X'| / 2`` with the expectations over the sample's empirical distribution;
    the second term from the sorted draws, ``sum_i (2i - n - 1) x_(i) / n^2``, not the ``n^2`` pairs.

    Parameters
    ----------
    samples : array_like
        One forecast's draws (1-d) or several, one per row.
    actual : float or array_like
        One actual per forecast.

    Returns
    -------
    numpy.ndarray
        In the actual's units (dollars); 0 only for a sure forecast that was right.

    Examples
    --------
    A point forecast (every draw the same) scores its absolute error:

    >>> crps([3.0, 3.0, 3.0], 5.0).tolist()
    [2.0]
    >>> float(crps([0.0, 1.0], 0.0)[0])  # E|X - 0| = 0.5, E|X - X'| = 0.5
    0.25
    """
    x = np.sort(_samples(samples), axis=1)
    y = _actuals(actual, len(x))
    n = x.shape[1]
    weights = (2.0 * np.arange(1, n + 1) - n - 1) / (n * n)
    return np.abs(x - y[:, None]).mean(axis=1) - x @ weights


def crps_normal(mean, sd, actual):
    """The CRPS of a normal forecast in closed form (Gneiting and Raftery 2007), for tests.

    Examples
    --------
    >>> round(float(crps_normal(0.0, 1.0, 0.0)), 4)  # (sqrt(2) - 1) / sqrt(pi)
    0.2337
    """
    z = (np.asarray(actual, dtype=np.float64) - mean) / sd
    return sd * (z * (2.0 * stats.norm.cdf(z) - 1.0) + 2.0 * stats.norm.pdf(z) - 1.0 / np.sqrt(np.pi))


def point_scores(forecast, actual) -> dict:
    """How a point forecast (a single number) is scored beside a distribution.

    Its CRPS is the absolute error (a distribution with all its mass on the number); its PIT is
    not defined (0 or 1 at a step), so the side of the actual is reported instead: ``"above"``
    (booked more than forecast), ``"below"`` or ``"equal"``; it is never inside a P10-P90 interval.

    Examples
    --------
    >>> point_scores(90.0, 100.0)
    {'crps': 10.0, 'error': 10.0, 'side': 'above'}
    """
    f, y = float(forecast), float(actual)
    side = "above" if y > f else "below" if y < f else "equal"
    return {"crps": abs(y - f), "error": y - f, "side": side}


def uniformity(pits) -> dict:
    """The Kolmogorov-Smirnov test of the PITs against the uniform distribution.

    Returns
    -------
    dict
        ``n``, ``ks`` (the statistic) and ``p_value`` (NaN with fewer than 2 PITs).

    Examples
    --------
    >>> r = uniformity(np.linspace(0.01, 0.99, 50))
    >>> r["n"], r["p_value"] > 0.99
    (50, True)
    """
    u = np.asarray(pits, dtype=np.float64)
    u = u[np.isfinite(u)]
    if len(u) < 2:
        return {"n": int(len(u)), "ks": float("nan"), "p_value": float("nan")}
    res = stats.kstest(u, "uniform")
    return {"n": int(len(u)), "ks": float(res.statistic), "p_value": float(res.pvalue)}
