"""Compile a :class:`~simcore.scenario.load.Scenario` into the plain arrays the kernel takes.

The expected count of new opportunities per cell and week is

    lambda = planned dollars per day / E[amount at creation] (or planned count per day)
             x share x uplift x seasonality index of the day's month,

summed over the week's days. A plan number for a period is spread evenly over that
period's calendar days (so a partial last month creates a partial month's pipeline),
and seasonality indices are normalised to average 1 over the days of a 365-day year
(months weighted by their length), so they move pipeline between months without
changing the annual plan. Dollars are turned
into counts with the *base* mean amount: assumption uncertainty about deal size
changes the dollars a plan produces, not the number of deals the team creates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.special import ndtri

from simcore import checks
from simcore.calendar import Periods, month_of_day, periods
from simcore.engine.kernel import (
    AMOUNT_EMPIRICAL,
    AMOUNT_LOGNORMAL,
    BETA,
    DIST_EXPONENTIAL,
    DIST_FIXED,
    DIST_GAMMA,
    DIST_LOGNORMAL,
    FIXED,
    NEGATIVE_BINOMIAL,
    NEW_DEALS_BLOCK,
    PERT,
    POISSON,
    TABLE_KNOTS,
    assumption_tables,
    param_layout,
)
from simcore.scenario.amounts import expected_amount
from simcore.scenario.load import Scenario
from simcore.scenario.spec import CATEGORIES
from simcore.scenario.values import Uncertain

_DIST_CODE = {
    "fixed": DIST_FIXED,
    "exponential": DIST_EXPONENTIAL,
    "lognormal": DIST_LOGNORMAL,
    "gamma": DIST_GAMMA,
}

# Cycle-time bins of won deals, in days.
CYCLE_EDGES = np.array([0, 15, 30, 45, 60, 90, 120, 180, 270, 365, 540, np.inf])


@dataclass
class Model:
    """Everything the kernel needs, as arrays (see :func:`simcore.engine.kernel.simulate_trials`)."""

    scenario: Scenario
    periods: Periods
    n_stages: int
    category: np.ndarray
    entry_stage: np.ndarray
    free_stage: np.ndarray
    lost_comp_share: np.ndarray
    dwell_kind: np.ndarray
    dwell_cv: np.ndarray
    dwell_table: np.ndarray
    push_kind: np.ndarray
    push_cv: np.ndarray
    push_table: np.ndarray
    decision_lost_comp_share: np.ndarray
    max_pushes: np.ndarray
    market_loading: np.ndarray
    amount_kind: np.ndarray
    amount_sigma: np.ndarray
    amount_table: np.ndarray
    tables: np.ndarray
    empirical: np.ndarray
    empirical_offset: np.ndarray
    whale_factor_max: np.ndarray
    amount_floor: np.ndarray
    amount_cap: np.ndarray
    param_kind: np.ndarray
    param_a: np.ndarray
    param_b: np.ndarray
    param_c: np.ndarray
    creation_rate: np.ndarray
    process: np.ndarray
    dispersion: np.ndarray
    week_start: np.ndarray
    week_length: np.ndarray
    bank_cell: np.ndarray
    bank_stage: np.ndarray
    bank_amount: np.ndarray
    bank_created: np.ndarray
    bank_close: np.ndarray
    period_of_day: np.ndarray
    cohorts: Periods  # creation quarters: the cohorts of bookings_by_cohort
    horizon: float
    cycle_edges: np.ndarray
    param_names: list
    mean_amount: np.ndarray

    def kernel_args(self):
        """Inputs of :func:`simcore.engine.kernel.simulate_trials`, after ``seed, trial0``."""
        count_cdf, count_offset = count_tables(self.creation_rate, self.process, self.dispersion)
        return (
            self.n_stages,
            self.category,
            self.entry_stage,
            self.free_stage,
            self.lost_comp_share,
            self.dwell_kind,
            self.dwell_cv,
            self.dwell_table,
            self.push_kind,
            self.push_cv,
            self.push_table,
            self.decision_lost_comp_share,
            self.max_pushes,
            self.market_loading,
            self.amount_kind,
            self.amount_table,
            self.empirical,
            self.empirical_offset,
            self.whale_factor_max,
            self.amount_floor,
            self.amount_cap,
            self.tables,
            self.param_kind,
            self.param_a,
            self.param_b,
            self.param_c,
            *assumption_tables(self.param_kind, self.param_a, self.param_b, self.param_c),
            count_cdf,
            count_offset,
            self.week_start,
            self.week_length,
            self.bank_cell,
            self.bank_stage,
            self.bank_amount,
            self.bank_created,
            self.bank_close,
            len(self.cohorts),  # the starting bank's cohort index, after the creation quarters
            self.period_of_day,
            self.cohorts.of_day(int(self.horizon)),
            self.periods.start_day,
            self.horizon,
            self.cycle_edges,
            NEW_DEALS_BLOCK,
        )

    @property
    def uncertain_slots(self):
        """``[(cell, slot), ...]`` of parameters drawn per trial."""
        return [tuple(x) for x in np.argwhere(self.param_kind != FIXED)]

    def with_creation_scale(self, scale) -> Model:
        """A copy whose expected creation is multiplied by ``scale`` (cells x weeks, or broadcastable).

        Deals keep their random numbers (common random numbers), so this is how the
        optimizer and comparisons vary a plan without re-reading the scenario.
        """
        out = Model(**self.__dict__)
        out.creation_rate = np.ascontiguousarray(self.creation_rate * np.asarray(scale, dtype=np.float64))
        return out


def param_names(stage_names):
    """Names of the per-cell parameter slots, in :func:`simcore.engine.kernel.param_layout` order."""
    k = len(stage_names)
    names = [None] * param_layout(k)[-1]
    adv0, dwell0, growth0, win, push, delay, decay, conv, median, wp, wf, _ = param_layout(k)
    for s in range(k - 1):
        names[adv0 + s] = f"advance[{stage_names[s]}]"
        names[growth0 + s] = f"growth[{stage_names[s]}]"
    for s in range(k):
        names[dwell0 + s] = f"dwell_mean[{stage_names[s]}]"
    names[win], names[push], names[delay], names[decay] = "win", "push", "push_delay_mean", "win_decay"
    names[conv], names[median], names[wp], names[wf] = (
        "to_decision",
        "median_amount",
        "whale_probability",
        "whale_factor",
    )
    return names


def lognormal_table(sigma: float, shift: float) -> np.ndarray:
    """Knots of the quantile function of ``exp(sigma * Z + shift)``, then sigma and shift.

    Knot ``i`` is the quantile at ``i / TABLE_KNOTS`` (the ends are never read: the
    kernel computes the outer bins exactly).
    """
    u = np.arange(TABLE_KNOTS + 1) / TABLE_KNOTS
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # sigma 0: 0 * inf at the ends
        knots = np.exp(sigma * ndtri(u) + shift)
    knots[0], knots[-1] = 0.0, 0.0
    return np.concatenate([knots, [sigma, shift]])


class _Tables:
    """Lognormal quantile tables, one per distinct (sigma, shift)."""

    def __init__(self):
        self.rows = {}

    def row(self, sigma, shift):
        key = (float(sigma), float(shift))
        if key not in self.rows:
            self.rows[key] = len(self.rows)
        return self.rows[key]

    def array(self):
        out = np.zeros((max(len(self.rows), 1), TABLE_KNOTS + 3))
        for (sigma, shift), i in self.rows.items():
            out[i] = lognormal_table(sigma, shift)
        return out


def _lognormal_sigma(cv):
    return math.sqrt(math.log1p(cv * cv))


def count_tables(rate, process, dispersion):
    """CDF of the number of deals created per (cell, week), flattened with offsets.

    ``rate`` is (cells, weeks) expected counts. Each table runs until the CDF is 1 to
    double precision, so a uniform in (0, 1) always finds its count (and is at least
    40 entries long, which the kernel's branch-free count relies on).

    Poisson CDFs are evaluated in one vectorised ``scipy.special.pdtr`` call (what
    ``scipy.stats.poisson.cdf`` computes, without building one frozen distribution per
    cell and week, which cost a second per run); negative binomial ones through
    ``scipy.stats.nbinom``, imported only when a scenario uses it (importing
    ``scipy.stats`` costs about a second too).
    """
    n_cells, n_weeks = rate.shape
    lam = np.maximum(np.asarray(rate, dtype=np.float64), 0.0)
    nb = np.array([process[c] == NEGATIVE_BINOMIAL and math.isfinite(dispersion[c]) for c in range(n_cells)])
    size = np.where(nb, np.asarray(dispersion, dtype=np.float64), 1.0)[:, None]
    sd = np.sqrt(np.where(nb[:, None], lam + lam * lam / size, lam))
    length = np.where(lam > 0, (lam + 40.0 * sd + 40.0).astype(np.int64), 0)
    offsets = np.concatenate([[0], np.cumsum(length.ravel())]).astype(np.int64)
    total = int(offsets[-1])
    # k = 0, 1, ... within each (cell, week) table.
    k = np.arange(total, dtype=np.float64) - np.repeat(offsets[:-1], length.ravel())
    lam_k = np.repeat(lam.ravel(), length.ravel())
    cdf = special.pdtr(k, lam_k)
    if nb.any():
        from scipy import stats

        cell_k = np.repeat(np.repeat(np.arange(n_cells), n_weeks), length.ravel())
        m = nb[cell_k]
        size_k = size[cell_k, 0][m]
        cdf[m] = stats.nbinom.cdf(k[m], size_k, size_k / (size_k + lam_k[m]))
    cdf[offsets[1:][length.ravel() > 0] - 1] = 1.0
    return cdf, offsets


def _slot(value):
    if isinstance(value, Uncertain):
        if value.kind == "pert":
            return PERT, value.a, value.b, value.c
        return BETA, value.a, value.b, math.nan
    return FIXED, float(value), math.nan, math.nan


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.float64)


def daily_plan(scenario: Scenario, cell: int) -> np.ndarray:
    """Planned creation per day of the horizon for one cell: dollars (or count), after share,
    uplift and seasonality.
    """
    p = scenario.params[cell]["creation"]
    horizon = scenario.horizon_days
    if not p["values"]:
        return np.zeros(horizon)
    per = periods(scenario.start, horizon, p["per"], scenario.fiscal_year_start_month)
    per_day = np.asarray(p["values"]) / per.full_days
    rate = per_day[per.of_day(horizon)]
    season = np.asarray(p["seasonality"], dtype=np.float64)
    # Weighted by month length: a plain mean over the twelve months would change a
    # year's total by up to a few per mille (31-day months count more days).
    season = season * 365.0 / np.dot(_MONTH_DAYS, season)
    return rate * season[month_of_day(scenario.start, horizon)] * p["share"] * p["uplift"]


def compile_scenario(scenario: Scenario, period: str | None = None) -> Model:
    """Turn a scenario into kernel arrays, reporting by ``period`` (default: the scenario's).

    Parameters
    ----------
    scenario : Scenario
        From :func:`simcore.load_scenario`.
    period : {"week", "month", "quarter"}, optional
        Reporting period of the results (default: the scenario's ``period``).

    Returns
    -------
    Model
        The kernel's inputs; pass it to :func:`simcore.engine.simulate` as ``model`` to simulate
        without compiling again (e.g. after :meth:`Model.with_creation_scale`).

    Raises
    ------
    SimcoreError
        When ``scenario`` is not a :class:`~simcore.scenario.load.Scenario` or ``period`` is not
        one of the above.
    """
    sc = checks.scenario(scenario)
    checks.reporting_period(period)
    k = len(sc.stages)
    n_cells = len(sc.cells)
    names = [s.name for s in sc.stages]
    layout = param_layout(k)
    n_slots = layout[-1]
    adv0, dwell0, growth0, win_s, push_s, delay_s, decay_s, conv_s, median_s, wp_s, wf_s, _ = layout
    per = periods(sc.start, sc.horizon_days, period or sc.period, sc.fiscal_year_start_month)
    horizon = sc.horizon_days

    kind = np.zeros((n_cells, n_slots), dtype=np.int8)
    pa = np.zeros((n_cells, n_slots))
    pb = np.full((n_cells, n_slots), np.nan)
    pc = np.full((n_cells, n_slots), np.nan)
    entry = np.zeros(n_cells, dtype=np.int64)
    free = np.zeros((n_cells, k), dtype=np.bool_)
    lc_share = np.full((n_cells, k), 0.5)
    dwell_kind = np.zeros((n_cells, k), dtype=np.int64)
    dwell_cv = np.zeros((n_cells, k))
    dwell_table = np.zeros((n_cells, k), dtype=np.int64)
    push_kind = np.zeros(n_cells, dtype=np.int64)
    push_cv = np.zeros(n_cells)
    push_table = np.zeros(n_cells, dtype=np.int64)
    amount_table = np.zeros(n_cells, dtype=np.int64)
    tables = _Tables()
    dec_share = np.zeros(n_cells)
    max_pushes = np.zeros(n_cells, dtype=np.int64)
    loading = np.zeros(n_cells)
    amount_kind = np.zeros(n_cells, dtype=np.int64)
    sigma = np.zeros(n_cells)
    empirical, offsets = [], [0]
    whale_max = np.full(n_cells, np.nan)
    floor = np.zeros(n_cells)
    cap = np.full(n_cells, np.inf)
    process = np.zeros(n_cells, dtype=np.int64)
    dispersion = np.full(n_cells, np.inf)
    mean_amount = np.zeros(n_cells)
    n_weeks = -(-horizon // 7)
    week_start = np.arange(n_weeks, dtype=np.float64) * 7.0
    week_length = np.minimum(7.0, horizon - week_start)
    rate = np.zeros((n_cells, n_weeks))

    def put(c, s, value):
        kind[c, s], pa[c, s], pb[c, s], pc[c, s] = _slot(value)

    for c, p in enumerate(sc.params):
        entry[c] = p["entry_stage"]
        for s, st in enumerate(p["stages"]):
            if st["advance"] is None:
                free[c, s] = True
                put(c, adv0 + s, 1.0)
            else:
                put(c, adv0 + s, st["advance"])
            lc_share[c, s] = st["lost_competition_share"]
            put(c, growth0 + s, st["growth"])
            dwell_kind[c, s] = _DIST_CODE[st["dwell"]["dist"]]
            dwell_cv[c, s] = st["dwell"]["cv"]
            put(c, dwell0 + s, st["dwell"]["mean"])
        dec = p["decision"]
        dwell_kind[c, k - 1] = _DIST_CODE[dec["dwell"]["dist"]]
        dwell_cv[c, k - 1] = dec["dwell"]["cv"]
        for s in range(k):
            # Mean-one lognormal dwell: the drawn mean multiplies it.
            sd = _lognormal_sigma(dwell_cv[c, s])
            dwell_table[c, s] = tables.row(sd, -0.5 * sd * sd)
        put(c, dwell0 + k - 1, dec["dwell"]["mean"])
        put(c, win_s, dec["win"])
        put(c, push_s, dec["push"])
        put(c, delay_s, dec["push_delay"]["mean"])
        push_kind[c] = _DIST_CODE[dec["push_delay"]["dist"]]
        push_cv[c] = dec["push_delay"]["cv"]
        sd = _lognormal_sigma(push_cv[c])
        push_table[c] = tables.row(sd, -0.5 * sd * sd)
        put(c, decay_s, dec["win_decay"])
        dec_share[c] = dec["lost_competition_share"]
        max_pushes[c] = dec["max_pushes"]
        put(c, conv_s, p["to_decision"] if p["to_decision"] is not None else 1.0)
        loading[c] = p["market_loading"]
        am = p["amount"]
        amount_kind[c] = AMOUNT_EMPIRICAL if am["kind"] == "empirical" else AMOUNT_LOGNORMAL
        sigma[c] = am["sigma"]
        amount_table[c] = tables.row(sigma[c], 0.0)  # median one: the drawn median multiplies it
        empirical.extend(am["empirical"])
        offsets.append(len(empirical))
        put(c, median_s, am["median"])
        put(c, wp_s, am["whale_probability"])
        put(c, wf_s, am["whale_factor"])
        whale_max[c] = am["whale_factor_max"]
        floor[c], cap[c] = am["floor"], am["cap"]
        mean_amount[c] = expected_amount(am)
        cr = p["creation"]
        process[c] = NEGATIVE_BINOMIAL if cr["process"] == "negative_binomial" else POISSON
        dispersion[c] = cr["dispersion"]
        daily = daily_plan(sc, c)
        if cr["kind"] == "dollars":
            daily = daily / mean_amount[c]
        rate[c] = np.add.reduceat(daily, np.arange(0, horizon, 7))

    bank = sc.bank
    return Model(
        scenario=sc,
        periods=per,
        n_stages=k,
        category=np.array([CATEGORIES.index(s.category) for s in sc.stages], dtype=np.int64),
        entry_stage=entry,
        free_stage=free,
        lost_comp_share=lc_share,
        dwell_kind=dwell_kind,
        dwell_cv=dwell_cv,
        dwell_table=dwell_table,
        push_kind=push_kind,
        push_cv=push_cv,
        push_table=push_table,
        amount_table=amount_table,
        tables=tables.array(),
        decision_lost_comp_share=dec_share,
        max_pushes=max_pushes,
        market_loading=loading,
        amount_kind=amount_kind,
        amount_sigma=sigma,
        empirical=np.asarray(empirical, dtype=np.float64),
        empirical_offset=np.asarray(offsets, dtype=np.int64),
        whale_factor_max=whale_max,
        amount_floor=floor,
        amount_cap=cap,
        param_kind=kind,
        param_a=pa,
        param_b=pb,
        param_c=pc,
        creation_rate=rate,
        process=process,
        dispersion=dispersion,
        week_start=week_start,
        week_length=week_length,
        bank_cell=np.array([d.cell for d in bank], dtype=np.int64),
        bank_stage=np.array([d.stage for d in bank], dtype=np.int64),
        bank_amount=np.array([d.amount for d in bank], dtype=np.float64),
        bank_created=np.array([d.created for d in bank], dtype=np.float64),
        bank_close=np.array([d.expected_close for d in bank], dtype=np.float64),
        period_of_day=per.of_day(horizon),
        cohorts=periods(sc.start, horizon, "quarter", sc.fiscal_year_start_month),
        horizon=float(horizon),
        cycle_edges=CYCLE_EDGES.astype(np.float64),
        param_names=param_names(names),
        mean_amount=mean_amount,
    )
