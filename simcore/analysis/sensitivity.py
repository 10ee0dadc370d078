"""Which assumptions move P50 and P10 bookings most, and where the variance comes from.

Three views, cheapest first:

1. :func:`drawn_sensitivity`, from the per-trial assumption draws already in the Dataset
   (``ds.assumption``), no extra runs. Each uncertain (parameter, cell) is a column;
   annual bookings are regressed on all of them at once, on ranks by default (standardized
   rank regression coefficients, SRRC; Spearman's rho is reported per column too), or on
   the values (``method="linear"``, standardized regression coefficients, SRC). A
   parameter's importance is the sum of its columns' squared coefficients: the share of
   the variance of (ranked) bookings it explains, the columns being independent draws.
   For P50 and P10 the trials are split at the median of that parameter's own linear
   predictor, and the bookings P50 / P10 of the low half and the high half are reported.
2. :func:`one_at_a_time`: each uncertain parameter set to its low and then its high (a
   PERT's ``low``/``high``; a Beta's 10th/90th percentiles) in every cell that has it,
   everything else as in the scenario, rerun with the same seed (common random numbers):
   the swing in P50 and P10. The market factor is not a parameter slot, so it has no
   one-at-a-time row; its effect shows in the draws view.
3. :func:`variance_contributions`: each cell's (source x product) contribution to the
   variance of annual bookings, cov(cell, total) / var(total); the contributions add up
   to exactly 1 (covariances with the total are additive).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from simcore import checks
from simcore.analysis.mcerror import distribution
from simcore.engine.compile import compile_scenario
from simcore.engine.kernel import FIXED, PERT
from simcore.engine.simulate import as_seed, simulate
from simcore.errors import SimcoreError
from simcore.result import Result

METRICS = {"p50": 0.5, "p10": 0.1}


def _year(ds) -> np.ndarray:
    return np.asarray(ds.simcore.year_bookings().values, dtype=np.float64)


def assumption_columns(ds: xr.Dataset, scenario=None) -> tuple:
    """The uncertain draws as columns: ``(names, groups, X)`` with ``X`` (trials, columns).

    A column is one (parameter, cell) drawn per trial that varies across trials; its
    group is the parameter name. Values that follow from drawn ones (a per-stage rate
    from a cumulative conversion) are not columns: they would repeat what the drawn
    column says. ``market_factor`` is a column unless ``scenario`` is given and no cell
    loads on it.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.
    scenario : Scenario, optional
        The scenario simulated (to leave out a market factor no cell loads on).

    Returns
    -------
    (list of str, list of str, numpy.ndarray)
        Column names, their groups, and ``X`` (trials, columns).
    """
    dims = ds.simcore.dimensions
    a = ds["assumption"].transpose("trial", "parameter", *dims)
    values = np.asarray(a.values, dtype=np.float64).reshape(a.sizes["trial"], a.sizes["parameter"], -1)
    if "assumption_drawn" in ds:
        drawn = np.asarray(ds["assumption_drawn"].transpose("parameter", *dims).values, dtype=bool)
        drawn = drawn.reshape(a.sizes["parameter"], -1)
    else:  # a Dataset written before assumption_drawn existed
        drawn = np.ones(values.shape[1:], dtype=bool)
    cells = ["/".join(map(str, c)) for c in _cells(ds, dims)]
    names, groups, cols = [], [], []
    for p, parameter in enumerate(a.parameter.values):
        for c, cell in enumerate(cells):
            col = values[:, p, c]
            if drawn[p, c] and np.ptp(col) > 0:
                names.append(f"{parameter} [{cell}]")
                groups.append(str(parameter))
                cols.append(col)
    if "attainment" in ds:
        # Each creation-attainment declaration is one draw per trial: one column of its own.
        att = np.asarray(ds["attainment"].transpose("trial", "attainment_group").values, dtype=np.float64)
        for g, group in enumerate(ds["attainment_group"].values):
            if np.ptp(att[:, g]) > 0:
                names.append(attainment_label(str(group)))
                groups.append(attainment_label(str(group)))
                cols.append(att[:, g])
    market = scenario is None or any(p.market_loading != 0 for p in scenario.params)
    if market and "market_factor" in ds and np.ptp(ds["market_factor"].values) > 0:
        names.append("market_factor")
        groups.append("market_factor")
        cols.append(np.asarray(ds["market_factor"].values, dtype=np.float64))
    X = np.column_stack(cols) if cols else np.zeros((ds.sizes["trial"], 0))
    return names, groups, X


def attainment_label(group: str) -> str:
    """``"attainment [by.source.inbound]"`` for the group ``by.source.inbound.creation.attainment``."""
    return f"attainment [{group.removesuffix('.creation.attainment')}]"


def _cells(ds, dims):
    return list(itertools.product(*[list(ds[d].values) for d in dims]))


def _standardize(x):
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


@dataclass
class DrawnSensitivity(Result):
    """Result of :func:`drawn_sensitivity`.

    Attributes
    ----------
    method : str
        ``"rank"`` (SRRC) or ``"linear"`` (SRC).
    r_squared : float
        Share of the (ranked) bookings variance the regression explains; the rest is
        deal-level noise (which deals are created, won, how big) and nonlinearity.
    rows : list of dict
        Per parameter, most important first: ``name, importance`` (sum of squared
        coefficients), ``columns`` (how many cells), ``spearman`` (the column with the
        largest |rho|), ``p50_low, p50_high, p10_low, p10_high`` (dollars: bookings P50 / P10
        in the trials where the parameter's draws pushed bookings down / up).
    columns : list of dict
        Per column: ``name, group, coefficient, spearman``.
    """

    method: str
    trials: int
    r_squared: float
    rows: list
    columns: list = field(default_factory=list)

    _table = "rows"


def drawn_sensitivity(ds: xr.Dataset, scenario=None, method: str = "rank") -> DrawnSensitivity:
    """Rank the uncertain assumptions by how much of the bookings spread they explain.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate` (uses ``assumption``, ``market_factor`` and
        ``bookings_amount``).
    scenario : Scenario, optional
        Lets the market factor be left out when no cell loads on it.
    method : {"rank", "linear"}
        Standardized regression on ranks (robust to skew and monotone nonlinearity) or on values.

    Returns
    -------
    DrawnSensitivity
    """
    checks.dataset(ds)
    from scipy import stats  # lazily: importing it adds ~0.4 s to every `simcore run`

    if method not in ("rank", "linear"):
        raise SimcoreError(f"method must be 'rank' or 'linear', got {method!r}")
    y = _year(ds)
    n = len(y)
    names, groups, X = assumption_columns(ds, scenario)
    if X.shape[1] == 0:
        return DrawnSensitivity(method, n, 0.0, [], [])
    if n <= X.shape[1] + 2:
        raise SimcoreError(
            f"{n} trials are too few to separate {X.shape[1]} uncertain assumptions; run more trials"
        )
    if method == "rank":
        Xs = _standardize(stats.rankdata(X, axis=0))
        ys = _standardize(stats.rankdata(y))
    else:
        Xs, ys = _standardize(X), _standardize(y)
    beta, *_ = np.linalg.lstsq(Xs, ys, rcond=None)
    fitted = Xs @ beta
    r2 = float(1.0 - ((ys - fitted) ** 2).sum() / (ys**2).sum()) if (ys**2).sum() > 0 else 0.0
    rho = np.array(
        [stats.spearmanr(X[:, j], y).statistic if np.ptp(y) > 0 else 0.0 for j in range(X.shape[1])]
    )
    columns = [
        {"name": nm, "group": g, "coefficient": float(b), "spearman": float(r)}
        for nm, g, b, r in zip(names, groups, beta, rho)
    ]
    rows = []
    for g in dict.fromkeys(groups):
        idx = [j for j, gg in enumerate(groups) if gg == g]
        predictor = Xs[:, idx] @ beta[idx]
        high = predictor > np.median(predictor)
        row = {
            "name": g,
            "importance": float((beta[idx] ** 2).sum()),
            "columns": len(idx),
            "spearman": float(rho[idx][np.argmax(np.abs(rho[idx]))]),
        }
        for metric, q in METRICS.items():
            lo_part, hi_part = y[~high], y[high]
            row[f"{metric}_low"] = float(np.quantile(lo_part, q)) if len(lo_part) else math.nan
            row[f"{metric}_high"] = float(np.quantile(hi_part, q)) if len(hi_part) else math.nan
        rows.append(row)
    rows.sort(key=lambda r: r["importance"], reverse=True)
    return DrawnSensitivity(method, n, r2, rows, columns)


# ---------------------------------------------------------------------------------------
# One at a time


@dataclass
class OneAtATime(Result):
    """Result of :func:`one_at_a_time` (dollars of annual bookings).

    Attributes
    ----------
    base : dict
        ``{"mean", "p50", "p10"}`` of the scenario as given.
    rows : list of dict
        Per assumption, widest P50 swing first: ``name, low_value, high_value`` (the
        settings, per cell where cells differ: their range) and for each of ``mean, p50,
        p10``: ``{"low", "high", "swing"}`` (swing = high - low).
    trials, seed : int
    bookings : dict
        ``name -> (low run, high run)`` per-trial annual bookings (trial-aligned with
        ``base_bookings``), for paired errors.
    """

    base: dict
    rows: list
    trials: int
    seed: int
    _table = "rows"

    base_bookings: np.ndarray = field(default=None, repr=False)
    bookings: dict = field(default_factory=dict, repr=False)

    def swings(self, metric: str = "p50") -> list:
        """The swings of one figure, for :func:`simcore.report.plots.tornado`.

        Parameters
        ----------
        metric : {"mean", "p50", "p10"}, default "p50"

        Returns
        -------
        list of dict
            ``[{"name", "low", "high"}, ...]``, widest P50 swing first.
        """
        if metric not in ("mean", "p50", "p10"):
            raise SimcoreError(f"metric must be mean, p50 or p10, got {metric!r}")
        return [{"name": r["name"], "low": r[metric]["low"], "high": r[metric]["high"]} for r in self.rows]


def _figures(y) -> dict:
    return distribution(y, METRICS)


def uncertain_groups(model, by: str | None = None) -> dict:
    """``name -> [(cell, slot), ...]`` of the drawn parameter slots, by parameter name (and by
    the value of dimension ``by`` if given, e.g. ``"to_decision [outbound]"``), then each
    drawn creation attainment, ``"attainment [by.source.inbound]" -> [("attainment", group)]``.

    Parameters
    ----------
    model : Model
    by : str, optional
        A dimension of the scenario.

    Returns
    -------
    dict
        ``name -> [(cell, slot), ...]``.
    """
    sc = model.scenario
    dims = list(sc.dimensions)
    if by is not None and by not in dims:
        raise SimcoreError(f"cannot group by {by!r}; the scenario's dimensions are {', '.join(dims)}")
    groups = {}
    for cell, slot in np.argwhere(model.param_kind != FIXED):
        name = model.param_names[slot]
        if by is not None:
            name = f"{name} [{sc.cells[cell][dims.index(by)]}]"
        groups.setdefault(name, []).append((int(cell), int(slot)))
    for g, group in enumerate(model.attain_names):
        if model.attain_kind[g] != FIXED:
            groups[attainment_label(group)] = [("attainment", g)]
    return groups


def _setting(model, cell, slot, end):
    """The low (``end=0``) or high (``end=1``) setting of one drawn slot (or, for cell
    ``"attainment"``, of attainment group ``slot``).
    """
    from scipy import stats  # lazily: importing it adds ~0.4 s to every `simcore run`

    if cell == "attainment":
        if model.attain_kind[slot] == PERT:
            return float(model.attain_low[slot] if end == 0 else model.attain_high[slot])
        mean, strength = model.attain_base[slot], model.attain_strength[slot]
        return float(stats.beta.ppf(0.1 if end == 0 else 0.9, mean * strength, (1 - mean) * strength))
    if model.param_kind[cell, slot] == PERT:
        return float(model.param_low[cell, slot] if end == 0 else model.param_high[cell, slot])
    mean, strength = model.param_base[cell, slot], model.param_strength[cell, slot]
    return float(stats.beta.ppf(0.1 if end == 0 else 0.9, mean * strength, (1 - mean) * strength))


def one_at_a_time(
    scenario, trials: int = 2000, seed=0, by: str | None = None, period=None, progress=False
) -> OneAtATime:
    """Swing each uncertain assumption to its low and its high; report the change in P50/P10.

    Parameters
    ----------
    scenario : Scenario
    trials : int
        Trials per run (1 + 2 x assumptions runs).
    seed : int
        Every run uses it: the swings are paired trial by trial (common random numbers).
    by : str, optional
        Swing each parameter separately per value of this dimension (e.g. ``"source"``).
    period : {"week", "month", "quarter"}, optional
        Reporting period of the runs (default: the scenario's ``period``).
    progress : bool or None, default False
        Show a progress bar on stderr for each run lasting over a second (``None``: when
        stderr is a terminal), as in :func:`simcore.engine.simulate`.

    Returns
    -------
    OneAtATime

    Raises
    ------
    SimcoreError
        When ``by`` is not one of the scenario's dimensions, or ``scenario`` or ``period``
        is not valid.
    """
    model = compile_scenario(scenario, period)
    base_y = _year(simulate(scenario, trials, seed, model=model, progress=progress))
    rows, runs = [], {}
    for name, slots in uncertain_groups(model, by).items():
        result = {"name": name}
        ys = []
        for end, label in ((0, "low"), (1, "high")):
            values = [_setting(model, cell, slot, end) for cell, slot in slots]
            # The variant shares the model's (slow to build) creation tables.
            if slots[0][0] == "attainment":
                m = model.with_fixed_attainment({slots[0][1]: values[0]})
            else:
                m = model.with_fixed_assumptions(dict(zip(slots, values)))
            y = _year(simulate(scenario, trials, seed, model=m, progress=progress))
            ys.append(y)
            lo, hi = min(values), max(values)
            result[f"{label}_value"] = lo if lo == hi else [lo, hi]
        for metric, f in (
            ("mean", np.mean),
            ("p50", lambda v: np.quantile(v, 0.5)),
            ("p10", lambda v: np.quantile(v, 0.1)),
        ):
            low, high = float(f(ys[0])), float(f(ys[1]))
            result[metric] = {"low": low, "high": high, "swing": high - low}
        rows.append(result)
        runs[name] = (ys[0], ys[1])
    rows.sort(key=lambda r: abs(r["p50"]["swing"]), reverse=True)
    return OneAtATime(_figures(base_y), rows, int(trials), as_seed(seed), base_y, runs)


# ---------------------------------------------------------------------------------------
# Variance by cell


def variance_contributions(ds: xr.Dataset) -> xr.DataArray:
    """Each cell's share of the variance of annual bookings: cov(cell, total) / var(total).

    The shares add up to 1 over all cells (and sum over a dimension for, e.g., the share of
    each source). A cell that is large but moves independently contributes its own
    variance; cells that move together (shared market factor) also contribute their
    covariance. A negative share means the cell tends to offset the others.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate` (uses ``bookings_amount``), with at least two
        trials.

    Returns
    -------
    xarray.DataArray
        ``variance_share`` over the scenario's dimensions.

    Raises
    ------
    SimcoreError
        When ``ds`` is not a Dataset returned by :func:`simcore.engine.simulate`, or annual
        bookings do not vary across its trials.
    """
    checks.dataset(ds)
    dims = ds.simcore.dimensions
    per_cell = ds["bookings_amount"].sum("period").astype(np.float64)
    total = per_cell.sum(dims)
    if ds.sizes["trial"] < 2:
        raise SimcoreError(f"a variance needs at least 2 trials, got {ds.sizes['trial']}")
    var = float(total.var("trial", ddof=1))
    if not var > 0:
        raise SimcoreError("annual bookings do not vary across trials: there is no variance to split")
    cov = ((per_cell - per_cell.mean("trial")) * (total - total.mean("trial"))).sum("trial") / (
        total.sizes["trial"] - 1
    )
    out = cov / var
    out.attrs = {"units": "share", "description": "cov(cell bookings, total bookings) / var(total bookings)"}
    return out.rename("variance_share")
