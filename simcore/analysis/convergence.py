"""The headline figures' Monte-Carlo errors, and running until they are small enough.

The errors themselves are computed in :mod:`simcore.analysis.mcerror` (which says which
error each figure gets, and why).

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
from simcore.analysis import headline
from simcore.analysis.mcerror import (  # noqa: F401  (also importable from here, as before)
    QUANTILES,
    binomial_quantile,
    mean_se,
    proportion_se,
    quantile_interval,
    quantile_se,
    relative_half_width,
    replicate_errors,
    with_errors,
)
from simcore.engine import stream
from simcore.engine.compile import compile_scenario
from simcore.engine.sampling import REPLICATE_SIZE, replicate_of
from simcore.engine.simulate import simulate
from simcore.errors import SimcoreError
from simcore.result import Result


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
    bookings = stream.headline(ds, ("bookings_amount",))["bookings_amount"]
    periods = [str(p) for p in ds["period"].values]
    sampling = ds.attrs.get("sampling", "random")  # from replicates under lhs or sobol sampling
    return headline.errors(bookings, periods, ds.attrs.get("target"), sampling, ds["trial"].values, level)


@dataclass
class ConvergenceReport(Result):
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

    _table = "history"

    def message(self) -> str:
        """One line: whether the precision was reached, after how many trials, and where P50 and P10 are.

        Returns
        -------
        str
        """
        state = "reached" if self.converged else "NOT reached"
        return (
            f"Precision {100 * self.precision:g}% at {100 * self.level:g}% {state} after {self.trials:,} "
            f"trials: P50 +/-{100 * self.achieved['p50']:.2f}%, P10 +/-{100 * self.achieved['p10']:.2f}%"
        )


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
        Trials added per step (under ``lhs`` or ``sobol`` sampling, rounded up to whole
        replicates: 256 or 512 trials).
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
    precision = checks.fraction("precision", precision, ", e.g. 0.005 for 0.5%")
    level = checks.fraction("level", level)
    if chunk < 1 or max_trials < 1:
        raise SimcoreError("chunk and max_trials must be at least 1")
    if progress is True:
        progress = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    if keep is not None:
        # The headline figures and their errors are computed from bookings, so always keep them.
        keep = list(dict.fromkeys(["bookings_amount", *keep]))
    size = REPLICATE_SIZE.get(scenario.raw.get("sampling", "random"))
    if size:  # whole replicates per chunk: every check but a last one at max_trials sees complete ones
        chunk = -(-chunk // size) * size
    model = compile_scenario(scenario, period)  # its count tables are built once, for every chunk
    parts, year = [], []
    history = []
    n = 0
    converged = False
    achieved = {"p50": math.inf, "p10": math.inf}
    while n < max_trials:
        size = min(chunk, max_trials - n)
        ds = simulate(scenario, size, seed, trial_start=n, model=model, progress=False)
        year.append(stream.headline(ds, ("bookings_amount",))["bookings_amount"].sum(axis=1))
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

    e = replicate_errors(values, replicate_of(sampling, np.arange(len(values))), None, level)
    return {
        name: 0.5 * (e[name]["high"] - e[name]["low"]) / abs(e[name]["value"])
        if e[name]["value"]
        else math.inf
        for name in ("p50", "p10")
    }
