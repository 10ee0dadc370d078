"""The mean deal size of a cell's resolved amount parameters, in closed form.

It lives with the scenario (not the engine) because resolution needs it too: a creation plan
given in dollars is turned into deal counts with the base mean deal size.
"""

from __future__ import annotations

import math
from functools import cache

from simcore.scenario.params import AmountParams
from simcore.scenario.values import base


def _ndtr_scipy(x):
    # Lazy: importing scipy.special takes ~0.25 s, most of `simcore validate`, which only needs
    # the rough mean of _ndtr_math. The model's numbers keep scipy's own digits.
    from scipy.special import ndtr

    return ndtr(x)


def _ndtr_math(x):
    """The standard normal CDF from :func:`math.erfc` (within a few ulp of ``scipy.special.ndtr``)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _clipped_lognormal_mean(mu, sigma, floor, cap, ndtr=_ndtr_scipy):
    """E[clip(X, floor, cap)] for X = exp(mu + sigma Z)."""
    if sigma <= 0:
        return min(max(math.exp(mu), floor), cap)
    lo = (math.log(floor) - mu) / sigma if floor > 0 else -math.inf
    hi = (math.log(cap) - mu) / sigma if math.isfinite(cap) else math.inf
    inside = math.exp(mu + 0.5 * sigma * sigma) * (ndtr(hi - sigma) - ndtr(lo - sigma))
    return floor * ndtr(lo) + (cap * (1.0 - ndtr(hi)) if math.isfinite(cap) else 0.0) + inside


def expected_amount(
    amount: AmountParams, median=None, whale_probability=None, whale_factor=None, *, rough=False
) -> float:
    """Mean deal size at creation (dollars) of a cell's resolved amount parameters.

    Closed form for the lognormal with whale overlay, floor and cap; the exact
    average for an empirical list. A uniform whale factor is integrated with
    Gauss-Legendre quadrature.

    Parameters
    ----------
    amount : AmountParams
        ``Scenario.params[i].amount``.
    median, whale_probability, whale_factor : float, optional
        Values to use instead of the plan's base values.
    rough : bool
        Use :func:`math.erfc` for the normal CDF instead of ``scipy.special.ndtr``: the same
        to a few ulp, without importing scipy (for checks of a plan's size, not for the model).

    Returns
    -------
    float

    Examples
    --------
    >>> import math
    >>> a = AmountParams("lognormal", 1000.0, 0.5, (), 0.0, 1.0, math.nan, 0.0, math.inf)
    >>> round(expected_amount(a), 2)  # 1000 exp(0.5^2 / 2)
    1133.15
    >>> round(expected_amount(a, rough=True), 2)
    1133.15
    """
    median = base(amount.median) if median is None else median
    pw = base(amount.whale_probability) if whale_probability is None else whale_probability
    wf = base(amount.whale_factor) if whale_factor is None else whale_factor
    wmax = amount.whale_factor_max
    floor, cap = amount.floor, amount.cap
    if amount.kind == "empirical" and rough:
        values = [v * median for v in amount.empirical]

        def mean_at(factor):
            return math.fsum(min(max(v * factor, floor), cap) for v in values) / len(values)
    elif amount.kind == "empirical":
        import numpy as np  # lazily: the rough mean (`simcore validate`) needs no numpy

        values = np.asarray(amount.empirical) * median

        def mean_at(factor):
            return float(np.mean(np.clip(values * factor, floor, cap)))
    else:
        sigma = amount.sigma

        ndtr = _ndtr_math if rough else _ndtr_scipy

        def mean_at(factor):
            return _clipped_lognormal_mean(math.log(median * factor), sigma, floor, cap, ndtr)

    if pw == 0:
        return float(mean_at(1.0))
    if math.isnan(wmax) or wmax == wf:
        whale = mean_at(wf)
    else:
        x, w = _gauss_legendre(48) if rough else _leggauss(48)
        factors = [wf + (wmax - wf) * (xi + 1.0) / 2.0 for xi in x]
        whale = float(sum(wi * mean_at(f) for wi, f in zip(w, factors)) / 2.0)
    return float((1.0 - pw) * mean_at(1.0) + pw * whale)


def _leggauss(n: int):
    import numpy as np  # lazily: the rough mean (`simcore validate`) needs no numpy

    return np.polynomial.legendre.leggauss(n)


@cache
def _gauss_legendre(n: int) -> tuple:
    """Gauss-Legendre nodes and weights on [-1, 1] in plain Python (Newton on the Legendre
    recurrence): the nodes of ``numpy.polynomial.legendre.leggauss`` to an ulp and its weights
    to 1e-12, for the rough mean (which stays within a few ulp of the exact one).

    Examples
    --------
    >>> x, w = _gauss_legendre(3)
    >>> [round(v, 12) for v in x], [round(v, 12) for v in w]
    ([-0.774596669241, 0.0, 0.774596669241], [0.555555555556, 0.888888888889, 0.555555555556])
    """
    nodes, weights = [], []
    for i in range(n):
        x = -math.cos(math.pi * (i + 0.75) / (n + 0.5))  # Tricomi's first guess, ascending
        for _ in range(100):
            p0, p1 = 1.0, x
            for k in range(2, n + 1):
                p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
            dp = n * (x * p1 - p0) / (x * x - 1.0)
            step = p1 / dp
            x -= step
            if abs(step) < 1e-16:
                break
        p0, p1 = 1.0, x
        for k in range(2, n + 1):
            p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
        nodes.append(x)
        weights.append(2.0 * (1.0 - x) * (1.0 + x) / (n * p0) ** 2)  # p0 = P_{n-1}(x) at the root
    # As numpy does: symmetric about 0, and weights scaled to sum to 2 (the integral of 1).
    nodes = [0.5 * (a - b) for a, b in zip(nodes, reversed(nodes))]
    weights = [0.5 * (a + b) for a, b in zip(weights, reversed(weights))]
    total = math.fsum(weights)
    return tuple(nodes), tuple(2.0 * v / total for v in weights)
