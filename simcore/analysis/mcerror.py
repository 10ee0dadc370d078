"""Monte-Carlo errors of the figures of per-trial values: one place for every module that reports them.

Which error, and why:

- **mean**: standard error ``sd / sqrt(n)``.
- **probability** (P(hit)): binomial ``sqrt(p (1 - p) / n)``.
- **quantile** (P10, P50, P90): the asymptotic standard error of a sample quantile,
  ``sqrt(q (1 - q) / n) / f(x_q)``, with ``1 / f`` estimated from the spacing of the order
  statistics ranked ``n q -/+ sqrt(n q (1 - q))`` (Siddiqui); a Gaussian kernel density
  estimate is available too (``method="kde"``) but over-smooths skewed tails. For stopping
  rules and intervals, the distribution-free **order-statistic interval**: the ranks
  ``j, k`` come from the Binomial(n, q) quantiles at ``alpha / 2`` and ``1 - alpha / 2``,
  and ``[x_(j), x_(k)]`` covers the true quantile with probability at least ``1 - alpha``
  whatever the distribution. ``tests/test_convergence.py`` checks the coverage of both
  against known distributions.

:func:`distribution` gives the plain figures (mean, P10, P50, P90) and :func:`with_errors`
the same with their errors.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from simcore.engine.sampling import replicate_of
from simcore.errors import SimcoreError

QUANTILES = {"p10": 0.10, "p50": 0.50, "p90": 0.90}


def mean_se(values) -> float:
    """Standard error of the mean of per-trial ``values``: sd / sqrt(n).

    Parameters
    ----------
    values : array_like
        One value per trial.

    Returns
    -------
    float
        NaN for fewer than two values.
    """
    x = np.asarray(values, dtype=np.float64)
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def proportion_se(p: float, n: int) -> float:
    """Binomial standard error of a proportion estimated from ``n`` trials.

    Parameters
    ----------
    p : float
        The estimated proportion.
    n : int
        Trials it was estimated from.

    Returns
    -------
    float
        NaN for no trials.
    """
    return math.sqrt(max(p * (1.0 - p), 0.0) / n) if n > 0 else math.nan


def quantile_se(values, q: float, method: str = "order") -> float:
    """Standard error of the sample ``q``-quantile.

    Both methods estimate ``sqrt(q (1 - q) / n) / f(x_q)``; they differ in the density ``f``:

    - ``"order"`` (default): from the spacing of order statistics around the quantile
      (Siddiqui's estimator): half the distance between the values ranked
      ``n q -/+ sqrt(n q (1 - q))``. No bandwidth to choose, and right in skewed tails.
    - ``"kde"``: a Gaussian kernel density estimate (Scott's rule) at the quantile. Fine for
      a bell-shaped distribution, but it over-smooths a skewed tail and then overstates
      the error (tests/test_convergence.py shows it on a lognormal's P10).

    Returns 0 when every value is the same (a degenerate distribution).

    Parameters
    ----------
    values : array_like
        One value per trial.
    q : float
        The quantile, in (0, 1).
    method : {"order", "kde"}, default "order"
    """
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n < 2:
        return math.nan
    if np.ptp(x) == 0:
        return 0.0
    if method == "kde":
        from scipy import stats  # only here: importing it adds ~0.4 s to every `simcore run`

        density = float(stats.gaussian_kde(x)(np.quantile(x, q))[0])
        return math.sqrt(q * (1.0 - q) / n) / density if density > 0 else math.inf
    if method != "order":
        raise SimcoreError(f"quantile_se method must be 'order' or 'kde', got {method!r}")
    x = np.sort(x)
    h = math.sqrt(n * q * (1.0 - q))
    lo = np.interp(n * q - h - 0.5, np.arange(n), x)
    hi = np.interp(n * q + h - 0.5, np.arange(n), x)
    return float(0.5 * (hi - lo))


def quantile_interval(values, q: float, level: float = 0.95) -> tuple:
    """Distribution-free interval for the ``q``-quantile from order statistics.

    With ``N ~ Binomial(n, q)`` the number of values at or below the true quantile,
    ``x_(j) <= x_q < x_(k)`` exactly when ``j <= N < k``; ``j`` and ``k`` are chosen from
    the Binomial quantiles so that this has probability at least ``level``.

    Parameters
    ----------
    values : array_like
        One value per trial.
    q : float
        The quantile, in (0, 1).
    level : float, default 0.95
        Coverage of the interval.

    Returns
    -------
    (float, float)
        The interval's ends; -inf / inf on a side where ``n`` is too small to reach ``level``
        (e.g. 20 values cannot bound a P10 from below at 95%).
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    if n == 0:
        raise SimcoreError("no values to take a quantile of")
    alpha = 1.0 - level
    j = binomial_quantile(alpha / 2.0, n, q)
    k = binomial_quantile(1.0 - alpha / 2.0, n, q) + 1
    # Too few values for the coverage asked: the interval is open on that side.
    lo = float(x[j - 1]) if j >= 1 else -math.inf
    hi = float(x[k - 1]) if k <= n else math.inf
    return lo, hi


def binomial_quantile(prob: float, n: int, q: float) -> int:
    """Smallest ``k`` with P(Binomial(n, q) <= k) >= prob (``scipy.stats.binom.ppf``).

    Computed from ``scipy.special.bdtr``: importing ``scipy.stats`` for this one call would
    add ~0.4 s to every ``simcore run``.

    Parameters
    ----------
    prob : float
        The probability, in [0, 1].
    n : int
        Trials.
    q : float
        Success probability.

    Returns
    -------
    int
        ``-1`` for ``prob <= 0``, ``n`` for ``prob >= 1``.
    """
    if prob <= 0.0:
        return -1
    if prob >= 1.0:
        return n
    # The continuous inverse lands within a step of the answer; walk to the exact one.
    k = int(np.clip(np.floor(special.bdtrik(prob, n, q)), 0, n))
    while k > 0 and special.bdtr(k - 1, n, q) >= prob:
        k -= 1
    while k < n and special.bdtr(k, n, q) < prob:
        k += 1
    return k


def relative_half_width(values, q: float, level: float = 0.95) -> float:
    """Half the order-statistic interval's width over the sample quantile (0.005 = +/-0.5%).

    Parameters
    ----------
    values : array_like
        One value per trial.
    q : float
        The quantile, in (0, 1).
    level : float, default 0.95

    Returns
    -------
    float
        0 when the quantile and its interval are all 0; inf when the quantile is 0 alone.
    """
    lo, hi = quantile_interval(values, q, level)
    centre = float(np.quantile(values, q))
    if centre == 0:
        return 0.0 if hi == lo else math.inf
    return 0.5 * (hi - lo) / abs(centre)


def with_errors(values, target=None, level: float | None = 0.95) -> dict:
    """Headline figures of per-trial ``values`` (dollars), each with its Monte-Carlo error.

    Parameters
    ----------
    values : array_like
        One value per trial.
    target : float, optional
        With a target, ``p_hit`` = P(value >= target) too.
    level : float or None, default 0.95
        Confidence level of the quantiles' order-statistic intervals; ``None``: no intervals
        (and no ``trials``), as the comparison of variants reports them.

    Returns
    -------
    dict
        ``{"trials": n, "mean": {"value", "se"}, "p10": {"value", "se", "low", "high"},
        "p50": ..., "p90": ..., "p_hit": {"value", "se"} (with a target)}``.

    Examples
    --------
    >>> f = with_errors(np.arange(1000.0), target=900.0)
    >>> f["mean"]["value"], f["p_hit"]["value"], f["p50"]["low"] < 499.5 < f["p50"]["high"]
    (499.5, 0.1, True)
    """
    x = np.asarray(values, dtype=np.float64)
    out = {} if level is None else {"trials": int(len(x))}
    out["mean"] = {"value": float(x.mean()), "se": mean_se(x)}
    for name, q in QUANTILES.items():
        out[name] = {"value": float(np.quantile(x, q)), "se": quantile_se(x, q)}
        if level is not None:
            out[name]["low"], out[name]["high"] = quantile_interval(x, q, level)
    if target is not None:
        p = float((x >= target).mean())
        out["p_hit"] = {"value": p, "se": proportion_se(p, len(x))}
    return out


def distribution(values, quantiles=None) -> dict:
    """``{"mean", "p10", "p50", "p90"}`` of a 1-D array of per-trial values.

    Parameters
    ----------
    values : array_like
        One value per trial.
    quantiles : dict, optional
        ``name -> q`` (default :data:`QUANTILES`), in the order wanted.

    Returns
    -------
    dict
        ``"mean"`` then each quantile, as floats.

    Examples
    --------
    >>> distribution([1.0, 2.0, 3.0, 4.0, 5.0])
    {'mean': 3.0, 'p10': 1.4, 'p50': 3.0, 'p90': 4.6}
    """
    quantiles = QUANTILES if quantiles is None else quantiles
    v = np.asarray(values, dtype=np.float64)
    q = np.quantile(v, list(quantiles.values()))
    return {"mean": float(v.mean()), **{k: float(x) for k, x in zip(quantiles, q)}}


def replicate_errors(values, replicate, target=None, level: float = 0.95) -> dict:
    """:func:`with_errors` for stratified samples: errors from independent randomisations.

    Under Latin hypercube or scrambled Sobol' sampling the trials are not independent, and
    the i.i.d. formulas overstate the error. Each replicate is an independent randomisation
    (:mod:`simcore.engine.sampling`), so each figure's standard error is the standard
    deviation of its value across the ``R`` replicates (over ``c4(R)``, which makes it
    unbiased for a normal spread) over ``sqrt(R)``: exact for the mean and P(hit),
    asymptotically right for a quantile. Its interval is the figure +/- Student's t with
    ``R - 1`` degrees of freedom times the uncorrected standard error. Errors from fewer
    than about ten replicates are rough. The trials of an incomplete replicate (a run that stops
    inside one) count in the figures but not in the spread; their part of the error is bounded
    by the i.i.d. formula's.

    Parameters
    ----------
    values : array_like
        Per-trial values (dollars).
    replicate : array_like of int
        Each trial's replicate (:func:`simcore.engine.sampling.replicate_of`).
    target : float, optional
        With a target, ``p_hit`` too.
    level : float, default 0.95

    Returns
    -------
    dict
        As :func:`with_errors`, plus ``"replicates": R`` (the complete replicates the spread
        is taken over); errors are NaN with fewer than 2.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(1000.0)
    >>> e = replicate_errors(x, np.arange(1000) % 10)
    >>> round(e["mean"]["value"], 1), e["replicates"]
    (499.5, 10)
    """
    from scipy.stats import t as student  # lazy: scipy.stats takes a while to import

    x = np.asarray(values, dtype=np.float64)
    groups = np.unique(np.asarray(replicate), return_inverse=True)[1]
    sizes = np.bincount(groups) if len(x) else np.zeros(0, dtype=np.int64)
    n_rep = len(sizes)
    # A run that stops inside a replicate leaves it incomplete: a few trials, not stratified as
    # a whole, whose figures would spread far more than a complete replicate's. The spread is
    # taken over the complete replicates (n_c trials); the m other trials enter a figure with
    # weight m / n, and their part of its variance is bounded by plain Monte Carlo's:
    # se^2 = (n_c / n)^2 se_complete^2 + (m / n) se_iid^2, se_iid the i.i.d. error on all n.
    complete = sizes == sizes.max() if n_rep else sizes.astype(bool)
    partial = bool(n_rep) and not complete.all() and complete.sum() >= 2
    if partial:
        keep = complete[groups]
        n_rep = int(complete.sum())
        parts = [x[groups == g] for g in np.flatnonzero(complete)]
        share_c, share_m = keep.mean(), 1.0 - keep.mean()
    else:
        parts = [x[groups == g] for g in range(n_rep)]
        share_c, share_m = 1.0, 0.0
    half = student.ppf(0.5 + level / 2, n_rep - 1) if n_rep > 1 else math.nan

    # sd / c4(R) is unbiased for a normal spread: with a handful of replicates the sd alone
    # understates it (by 20% at R = 2, 8% at R = 4).
    c4 = (
        math.exp(math.lgamma(n_rep / 2) - math.lgamma((n_rep - 1) / 2)) * math.sqrt(2 / (n_rep - 1))
        if n_rep > 1
        else 1.0
    )

    def figure(value, stat, iid_se):
        spread = np.std([stat(p) for p in parts], ddof=1) if n_rep > 1 else math.nan
        se = float(spread / math.sqrt(n_rep))
        if partial:
            extra = share_m * iid_se() ** 2
            se, corrected = (
                math.hypot(share_c * se, math.sqrt(extra)),
                math.hypot(share_c * se / c4, math.sqrt(extra)),
            )
        else:
            corrected = se / c4
        return {"value": value, "se": corrected, "low": value - half * se, "high": value + half * se}

    out = {"trials": int(len(x)), "replicates": n_rep}
    mean = figure(float(x.mean()), np.mean, lambda: mean_se(x))
    out["mean"] = {"value": mean["value"], "se": mean["se"]}
    for name, q in QUANTILES.items():
        out[name] = figure(
            float(np.quantile(x, q)), lambda p, q=q: np.quantile(p, q), lambda q=q: quantile_se(x, q)
        )
    if target is not None:
        p_hit = float((x >= target).mean())
        hit = figure(p_hit, lambda p: (p >= target).mean(), lambda: proportion_se(p_hit, len(x)))
        out["p_hit"] = {"value": hit["value"], "se": hit["se"]}
    return out


def figures_of(sampling: str = "random", trial=None, level: float = 0.95):
    """The error function for a run's ``sampling``: ``f(values, target=None)`` gives
    :func:`with_errors` for plain Monte Carlo, :func:`replicate_errors` over the replicates
    of the trial indices ``trial`` for ``lhs`` and ``sobol``.
    """
    if sampling == "random":
        return lambda values, target=None: with_errors(values, target, level)
    replicate = replicate_of(sampling, trial)
    return lambda values, target=None: replicate_errors(values, replicate, target, level)
