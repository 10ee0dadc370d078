"""Monte-Carlo error of every headline figure, and running until it is small enough.

Which error, and why:

- **mean**: standard error ``sd / sqrt(n)``.
- **probability** (P(hit)): binomial ``sqrt(p (1 - p) / n)``.
- **quantile** (P10, P50, P90): the asymptotic standard error of a sample quantile,
  ``sqrt(q (1 - q) / n) / f(x_q)``, with ``1 / f`` estimated from the spacing of the order
  statistics ranked ``n q -/+ sqrt(n q (1 - q))`` (Siddiqui); a Gaussian kernel density
  estimate is available too (``method="kde"``) but over-smooths skewed tails. For the stopping rule and for
  intervals we use instead the distribution-free **order-statistic interval**: the
  ranks ``j, k`` come from the Binomial(n, q) quantiles at ``alpha / 2`` and
  ``1 - alpha / 2``, and ``[x_(j), x_(k)]`` covers the true quantile with probability
  at least ``1 - alpha`` whatever the distribution (no density estimate involved).
  ``tests/test_convergence.py`` checks the coverage of both against known distributions.

:func:`simulate_to_precision` adds trials in chunks (``trial_start`` keeps the chunks one
bit-identical run) until the P50 and P10 of annual bookings are known to within a
relative error at 95%.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from simcore import checks
from simcore.errors import SimcoreError

QUANTILES = {"p10": 0.10, "p50": 0.50, "p90": 0.90}


def mean_se(values) -> float:
    """Standard error of the mean of per-trial ``values``: sd / sqrt(n)."""
    x = np.asarray(values, dtype=np.float64)
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def proportion_se(p: float, n: int) -> float:
    """Binomial standard error of a proportion estimated from ``n`` trials."""
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
    """
    from scipy import special

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
    """Half the order-statistic interval's width over the sample quantile (0.005 = +/-0.5%)."""
    lo, hi = quantile_interval(values, q, level)
    centre = float(np.quantile(values, q))
    if centre == 0:
        return 0.0 if hi == lo else math.inf
    return 0.5 * (hi - lo) / abs(centre)


def with_errors(values, target=None, level: float = 0.95) -> dict:
    """Headline figures of per-trial ``values`` (dollars), each with its Monte-Carlo error.

    Returns
    -------
    dict
        ``{"mean": {"value", "se"}, "p10": {"value", "se", "low", "high"}, "p50": ..., "p90": ...,
        "p_hit": {"value", "se"} (with a target), "trials": n}``; ``low``/``high`` is the
        order-statistic interval at ``level``.
    """
    x = np.asarray(values, dtype=np.float64)
    out = {"trials": int(len(x)), "mean": {"value": float(x.mean()), "se": mean_se(x)}}
    for name, q in QUANTILES.items():
        lo, hi = quantile_interval(x, q, level)
        out[name] = {"value": float(np.quantile(x, q)), "se": quantile_se(x, q), "low": lo, "high": hi}
    if target is not None:
        p = float((x >= target).mean())
        out["p_hit"] = {"value": p, "se": proportion_se(p, len(x))}
    return out


def replicate_errors(values, replicate, target=None, level: float = 0.95) -> dict:
    """:func:`with_errors` for stratified samples: errors from independent randomisations.

    Under Latin hypercube or scrambled Sobol' sampling the trials are not independent, and
    the i.i.d. formulas overstate the error. Each replicate is an independent randomisation
    (:mod:`simcore.engine.sampling`), so each figure's standard error is the standard
    deviation of its value across the ``R`` replicates (over ``c4(R)``, which makes it
    unbiased for a normal spread) over ``sqrt(R)``: exact for the mean and P(hit),
    asymptotically right for a quantile. Its interval is the figure +/- Student's t with
    ``R - 1`` degrees of freedom times the uncorrected standard error. Errors from fewer
    than about ten replicates are rough.

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
        As :func:`with_errors`, plus ``"replicates": R``; errors are NaN with fewer than 2.

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
    n_rep = int(groups.max()) + 1 if len(x) else 0
    parts = [x[groups == g] for g in range(n_rep)]
    half = student.ppf(0.5 + level / 2, n_rep - 1) if n_rep > 1 else math.nan

    # sd / c4(R) is unbiased for a normal spread: with a handful of replicates the sd alone
    # understates it (by 20% at R = 2, 8% at R = 4).
    c4 = (
        math.exp(math.lgamma(n_rep / 2) - math.lgamma((n_rep - 1) / 2)) * math.sqrt(2 / (n_rep - 1))
        if n_rep > 1
        else 1.0
    )

    def figure(value, stat):
        spread = np.std([stat(p) for p in parts], ddof=1) if n_rep > 1 else math.nan
        se = float(spread / math.sqrt(n_rep))
        return {"value": value, "se": se / c4, "low": value - half * se, "high": value + half * se}

    out = {"trials": int(len(x)), "replicates": n_rep}
    mean = figure(float(x.mean()), np.mean)
    out["mean"] = {"value": mean["value"], "se": mean["se"]}
    for name, q in QUANTILES.items():
        out[name] = figure(float(np.quantile(x, q)), lambda p, q=q: np.quantile(p, q))
    if target is not None:
        hit = figure(float((x >= target).mean()), lambda p: (p >= target).mean())
        out["p_hit"] = {"value": hit["value"], "se": hit["se"]}
    return out


def _figures(ds: xr.Dataset, level: float):
    """The error function for ``ds``'s sampling: i.i.d. for random, replicates otherwise."""
    from simcore.engine.sampling import replicate_of

    sampling = ds.attrs.get("sampling", "random")
    if sampling == "random":
        return lambda values, target=None: with_errors(values, target, level)
    replicate = replicate_of(sampling, ds["trial"].values)
    return lambda values, target=None: replicate_errors(values, replicate, target, level)


def headline_errors(ds: xr.Dataset, level: float = 0.95) -> dict:
    """:func:`with_errors` for a simulation's bookings: the year and each period.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate` (uses ``bookings_amount`` and the ``target``
        attribute).
    level : float, default 0.95
        Confidence level of the quantiles' order-statistic intervals (``low``/``high``).

    Returns
    -------
    dict
        ``{"year": figures, "by_period": {period: figures}}``, each ``figures`` as returned
        by :func:`with_errors` (dollars). ``p_hit`` is given for the year only, and only when
        the scenario has a target.

    Raises
    ------
    SimcoreError
        When ``ds`` is not a Dataset returned by :func:`simcore.engine.simulate`.
    """
    checks.dataset(ds)
    level = checks.fraction("level", level)
    per_period = ds.simcore.total("bookings_amount", ("trial", "period"))
    target = ds.attrs.get("target")
    figures = _figures(ds, level)  # from replicates under lhs or sobol sampling
    return {
        "year": figures(per_period.sum("period").values, target),
        "by_period": {
            str(p): figures(per_period.sel(period=p).values, None) for p in per_period.period.values
        },
    }


@dataclass
class ConvergenceReport:
    """What :func:`simulate_to_precision` did.

    Attributes
    ----------
    trials : int
        Trials run in all.
    converged : bool
        Whether P50 and P10 reached the precision before ``max_trials``.
    precision : float
        The relative half-width asked for (0.005 = 0.5%), at ``level``.
    achieved : dict
        ``{"p50": relative half-width, "p10": ...}`` at the end.
    history : list of dict
        One ``{"trials", "p50", "p10"}`` per chunk.
    errors : dict
        :func:`headline_errors` of the final run.
    """

    trials: int
    converged: bool
    precision: float
    level: float
    achieved: dict
    history: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "trials": self.trials,
            "converged": self.converged,
            "precision": self.precision,
            "level": self.level,
            "achieved": self.achieved,
            "history": self.history,
            "errors": self.errors,
        }

    def message(self) -> str:
        state = "reached" if self.converged else "NOT reached"
        return (
            f"Precision {100 * self.precision:g}% at {100 * self.level:g}% {state} after {self.trials:,} "
            f"trials: P50 +/-{100 * self.achieved['p50']:.2f}%, P10 +/-{100 * self.achieved['p10']:.2f}%"
        )


def copy_model(model):
    """A shallow copy of a compiled model: its dataclass fields only (not a cached ``kernel_args``)."""
    import dataclasses

    from simcore.engine.compile import Model

    return Model(**{f.name: getattr(model, f.name) for f in dataclasses.fields(Model)})


def cached_model(model):
    """A copy of ``model`` whose kernel inputs are built once: the creation-count tables take
    a while and every chunk of a chunked run would otherwise rebuild the same ones.
    """
    out = copy_model(model)
    args = model.kernel_args()
    out.kernel_args = lambda: args  # an instance attribute shadows the method
    return out


KEEP = ("bookings_amount", "bookings_count", "created_amount", "opportunities")


def simulate_to_precision(
    scenario,
    precision: float = 0.005,
    seed=0,
    *,
    level: float = 0.95,
    chunk: int = 5000,
    max_trials: int = 1_000_000,
    period: str | None = None,
    keep=KEEP,
    progress=None,
):
    """Add trials in chunks until P50 and P10 annual bookings are within ``precision`` at ``level``.

    Parameters
    ----------
    scenario : Scenario
    precision : float
        Relative half-width of the order-statistic interval, e.g. 0.005 for +/-0.5%.
    seed : int
        The chunks are trials ``0 .. chunk - 1``, ``chunk .. 2 chunk - 1``, ... of this seed
        (``trial_start``), so the result is bit-identical to one run of the same length.
    level : float
        Confidence level of the interval (default 95%).
    chunk : int
        Trials added per step.
    max_trials : int
        Stop here even if not converged (the report says so).
    period : {"week", "month", "quarter"}, optional
        Reporting period of the result (default: the scenario's ``period``).
    keep : sequence of str or None
        Variables kept from each chunk (default: what the summary needs; memory grows with
        trials); ``None`` keeps the whole Dataset. ``bookings_amount`` is always kept.
    progress : callable or bool, optional
        Called with a one-line message after each chunk; ``True`` prints it on stderr.

    Returns
    -------
    (xarray.Dataset, ConvergenceReport)
        All the trials run, concatenated along ``trial``, and what happened.

    Raises
    ------
    SimcoreError
        When ``precision`` or ``level`` is not in (0, 1), or ``chunk`` or ``max_trials`` is
        below 1.
    """
    from simcore.engine.compile import compile_scenario
    from simcore.engine.simulate import simulate

    precision = checks.fraction("precision", precision, ", e.g. 0.005 for 0.5%")
    level = checks.fraction("level", level)
    if chunk < 1 or max_trials < 1:
        raise SimcoreError("chunk and max_trials must be at least 1")
    if progress is True:
        progress = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    if keep is not None:
        # The headline figures and their errors are computed from bookings, so always keep them.
        keep = list(dict.fromkeys(["bookings_amount", *keep]))
    model = cached_model(compile_scenario(scenario, period))
    parts, year = [], []
    history = []
    n = 0
    converged = False
    achieved = {"p50": math.inf, "p10": math.inf}
    while n < max_trials:
        size = min(chunk, max_trials - n)
        ds = simulate(scenario, size, seed, trial_start=n, model=model, progress=False)
        year.append(ds.simcore.year_bookings().values)
        parts.append(ds if keep is None else ds[list(keep)])
        n += size
        values = np.concatenate(year)
        if ds.attrs.get("sampling", "random") == "random":
            achieved = {name: relative_half_width(values, QUANTILES[name], level) for name in ("p50", "p10")}
        else:  # stratified: the interval from independent replicates (see replicate_errors)
            achieved = _replicate_half_widths(values, ds.attrs["sampling"], level)
        history.append({"trials": n, **achieved})
        if progress:
            progress(
                f"{n:,} trials: P50 +/-{100 * achieved['p50']:.2f}%, P10 +/-{100 * achieved['p10']:.2f}% "
                f"(aiming for {100 * precision:g}%)"
            )
        if max(achieved.values()) <= precision:
            converged = True
            break
    ds = (
        parts[0]
        if len(parts) == 1
        else xr.concat(
            parts, dim="trial", data_vars="minimal", coords="minimal", compat="override", join="override"
        )
    )
    ds.attrs.update(parts[0].attrs)
    ds.attrs["trials"] = n
    report = ConvergenceReport(n, converged, precision, level, achieved, history, headline_errors(ds, level))
    return ds, report


def _replicate_half_widths(values, sampling: str, level: float) -> dict:
    from simcore.engine.sampling import replicate_of

    e = replicate_errors(values, replicate_of(sampling, np.arange(len(values))), None, level)
    return {
        name: 0.5 * (e[name]["high"] - e[name]["low"]) / abs(e[name]["value"])
        if e[name]["value"]
        else math.inf
        for name in ("p50", "p10")
    }
