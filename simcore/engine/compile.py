"""Compile a :class:`~simcore.scenario.load.Scenario` into the plain arrays the kernel takes.

The expected count of new opportunities per cell and week is

    lambda = planned dollars per day / E[amount at creation] (or planned count per day)
             x share x uplift x seasonality index of the day's month,

summed over the week's days. A plan number for a period is spread evenly over that
period's calendar days (so a partial last month creates a partial month's pipeline),
and seasonality indices are normalised to average 1 over the days of a 365-day year
(months weighted by their length), so they move pipeline between months without
changing the annual plan (:func:`simcore.engine.creation.daily_plan`). Dollars are turned
into counts with the *base* mean amount: assumption uncertainty about deal size
changes the dollars a plan produces, not the number of deals the team creates.
"""

from __future__ import annotations

import numpy as np

from simcore import checks
from simcore.calendar import periods
from simcore.engine import creation
from simcore.engine.capacity import capped_rate, check_capacity
from simcore.engine.creation import daily_plan
from simcore.engine.kernel import (
    AMOUNT_EMPIRICAL,
    AMOUNT_LOGNORMAL,
    DIST_EXPONENTIAL,
    DIST_FIXED,
    DIST_GAMMA,
    DIST_LOGNORMAL,
    NEGATIVE_BINOMIAL,
    POISSON,
    param_layout,
)
from simcore.engine.model import Model
from simcore.engine.safety import check_model
from simcore.engine.tables import _lognormal_sigma, _Tables, count_tables, lognormal_table
from simcore.scenario.amounts import expected_amount
from simcore.scenario.load import Scenario, check_scenario
from simcore.scenario.params import AmountParams, CellParams
from simcore.scenario.spec import CATEGORIES

_DIST_CODE = {
    "fixed": DIST_FIXED,
    "exponential": DIST_EXPONENTIAL,
    "lognormal": DIST_LOGNORMAL,
    "gamma": DIST_GAMMA,
}

__all__ = [
    "CYCLE_EDGES",
    "Model",
    "compile_scenario",
    "count_tables",
    "daily_plan",
    "lognormal_table",
    "param_names",
]

# Cycle-time bins of won deals, in days.
CYCLE_EDGES = np.array([0, 15, 30, 45, 60, 90, 120, 180, 270, 365, 540, np.inf])


def param_names(stage_names):
    """Names of the per-cell parameter slots, in :func:`simcore.engine.kernel.param_layout` order.

    Parameters
    ----------
    stage_names : list of str
        The scenario's stages, the decision stage last.

    Returns
    -------
    list of str
        One name per slot, e.g. ``advance[Stage 1]``, ``win``, ``median_amount``.
    """
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


class _Arrays:
    """The per-cell arrays of a model, filled one cell at a time."""

    def __init__(self, n_cells, k, n_weeks):
        n_slots = param_layout(k)[-1]
        self.k = k
        self.layout = param_layout(k)
        self.kind = np.zeros((n_cells, n_slots), dtype=np.int8)
        self.base = np.zeros((n_cells, n_slots))
        self.low = np.full((n_cells, n_slots), np.nan)
        self.high = np.full((n_cells, n_slots), np.nan)
        self.strength = np.full((n_cells, n_slots), np.nan)
        self.entry = np.zeros(n_cells, dtype=np.int64)
        self.free = np.zeros((n_cells, k), dtype=np.bool_)
        self.lc_share = np.full((n_cells, k), 0.5)
        self.dwell_kind = np.zeros((n_cells, k), dtype=np.int64)
        self.dwell_cv = np.zeros((n_cells, k))
        self.dwell_table = np.zeros((n_cells, k), dtype=np.int64)
        self.push_kind = np.zeros(n_cells, dtype=np.int64)
        self.push_cv = np.zeros(n_cells)
        self.push_table = np.zeros(n_cells, dtype=np.int64)
        self.amount_table = np.zeros(n_cells, dtype=np.int64)
        self.tables = _Tables()
        self.dec_share = np.zeros(n_cells)
        self.max_pushes = np.zeros(n_cells, dtype=np.int64)
        self.loading = np.zeros(n_cells)
        self.amount_kind = np.zeros(n_cells, dtype=np.int64)
        self.sigma = np.zeros(n_cells)
        self.empirical, self.offsets = [], [0]
        self.whale_max = np.full(n_cells, np.nan)
        self.floor = np.zeros(n_cells)
        self.cap = np.full(n_cells, np.inf)
        self.process = np.zeros(n_cells, dtype=np.int64)
        self.dispersion = np.full(n_cells, np.inf)
        self.mean_amount = np.zeros(n_cells)
        self.rate = np.zeros((n_cells, n_weeks))

    def put(self, c, s, value):
        self.kind[c, s], self.base[c, s], self.low[c, s], self.high[c, s], self.strength[c, s] = (
            creation.group_slot(value)
        )

    def stages(self, c, p: CellParams):
        adv0, dwell0, growth0 = self.layout[:3]
        k = self.k
        self.entry[c] = p.entry_stage
        for s, st in enumerate(p.stages):
            if st.advance is None:
                self.free[c, s] = True
                self.put(c, adv0 + s, 1.0)
            else:
                self.put(c, adv0 + s, st.advance)
            self.lc_share[c, s] = st.lost_competition_share
            self.put(c, growth0 + s, st.growth)
            self.dwell_kind[c, s] = _DIST_CODE[st.dwell.dist]
            self.dwell_cv[c, s] = st.dwell.cv
            self.put(c, dwell0 + s, st.dwell.mean)
        dec = p.decision
        self.dwell_kind[c, k - 1] = _DIST_CODE[dec.dwell.dist]
        self.dwell_cv[c, k - 1] = dec.dwell.cv
        for s in range(k):
            # Mean-one lognormal dwell: the drawn mean multiplies it.
            sd = _lognormal_sigma(self.dwell_cv[c, s])
            self.dwell_table[c, s] = self.tables.row(sd, -0.5 * sd * sd)
        self.put(c, dwell0 + k - 1, dec.dwell.mean)

    def decision(self, c, p: CellParams):
        _, _, _, win_s, push_s, delay_s, decay_s, conv_s = self.layout[:8]
        dec = p.decision
        self.put(c, win_s, dec.win)
        self.put(c, push_s, dec.push)
        self.put(c, delay_s, dec.push_delay.mean)
        self.push_kind[c] = _DIST_CODE[dec.push_delay.dist]
        self.push_cv[c] = dec.push_delay.cv
        sd = _lognormal_sigma(self.push_cv[c])
        self.push_table[c] = self.tables.row(sd, -0.5 * sd * sd)
        self.put(c, decay_s, dec.win_decay)
        self.dec_share[c] = dec.lost_competition_share
        self.max_pushes[c] = dec.max_pushes
        self.put(c, conv_s, p.to_decision if p.to_decision is not None else 1.0)
        self.loading[c] = p.market_loading

    def amount(self, c, am: AmountParams):
        median_s, wp_s, wf_s = self.layout[8:11]
        self.amount_kind[c] = AMOUNT_EMPIRICAL if am.kind == "empirical" else AMOUNT_LOGNORMAL
        self.sigma[c] = am.sigma
        self.amount_table[c] = self.tables.row(
            self.sigma[c], 0.0
        )  # median one: the drawn median multiplies it
        self.empirical.extend(am.empirical)
        self.offsets.append(len(self.empirical))
        self.put(c, median_s, am.median)
        self.put(c, wp_s, am.whale_probability)
        self.put(c, wf_s, am.whale_factor)
        self.whale_max[c] = am.whale_factor_max
        self.floor[c], self.cap[c] = am.floor, am.cap
        self.mean_amount[c] = expected_amount(am)

    def creation(self, c, sc: Scenario):
        cr = sc.params[c].creation
        self.process[c] = NEGATIVE_BINOMIAL if cr.process == "negative_binomial" else POISSON
        self.dispersion[c] = cr.dispersion
        daily = daily_plan(sc, c)
        if cr.kind == "dollars":
            daily = daily / self.mean_amount[c]
        self.rate[c] = np.add.reduceat(daily, np.arange(0, sc.horizon_days, 7))


def _attainment_fields(sc: Scenario) -> dict:
    """The Model's attainment-group fields from the scenario's ``creation.attainment`` declarations."""
    groups = creation.attainment_groups(sc)
    slots = np.array(groups["slots"], dtype=np.float64).reshape(-1, 5)
    return {
        "attain_group": groups["group"],
        "attain_kind": slots[:, 0].astype(np.int8),
        "attain_base": slots[:, 1].copy(),
        "attain_low": slots[:, 2].copy(),
        "attain_high": slots[:, 3].copy(),
        "attain_strength": slots[:, 4].copy(),
        "attain_loading": np.asarray(groups["loading"], dtype=np.float64),
        "attain_key": creation.group_keys(groups["names"]),
        "attain_upper": creation.upper_bounds(slots[:, 0], slots[:, 1], slots[:, 3]),
        "attain_names": tuple(groups["names"]),
        "component_rate": np.zeros((0,) + sc_shape(sc)),
        "component_group": np.zeros((0, len(sc.cells)), dtype=np.int64),
    }


def sc_shape(sc: Scenario) -> tuple:
    """``(cells, weeks)`` of a scenario's creation rate."""
    return len(sc.cells), -(-sc.horizon_days // 7)


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

    Examples
    --------
    >>> from simcore import load_scenario
    >>> compile_scenario(load_scenario("scenarios/smb.toml"))
    Model('smb_inside_sales': 6 cells, 3 stages, 365 days by month, 81 bank deals)
    """
    sc = check_scenario(scenario)
    checks.reporting_period(period)
    k = len(sc.stages)
    horizon = sc.horizon_days
    per = periods(sc.start, horizon, period or sc.period, sc.fiscal_year_start_month)
    n_weeks = -(-horizon // 7)
    week_start = np.arange(n_weeks, dtype=np.float64) * 7.0
    arrays = _Arrays(len(sc.cells), k, n_weeks)
    for c, p in enumerate(sc.params):
        arrays.stages(c, p)
        arrays.decision(c, p)
        arrays.amount(c, p.amount)
        arrays.creation(c, sc)
    a, bank = arrays, sc.bank
    week_length = np.minimum(7.0, horizon - week_start)
    capacity = check_capacity(sc, a.rate, week_start, week_length)
    model = Model(
        scenario=sc,
        periods=per,
        n_stages=k,
        category=np.array([CATEGORIES.index(s.category) for s in sc.stages], dtype=np.int64),
        entry_stage=a.entry,
        free_stage=a.free,
        lost_comp_share=a.lc_share,
        dwell_kind=a.dwell_kind,
        dwell_cv=a.dwell_cv,
        dwell_table=a.dwell_table,
        push_kind=a.push_kind,
        push_cv=a.push_cv,
        push_table=a.push_table,
        amount_table=a.amount_table,
        tables=a.tables.array(),
        decision_lost_comp_share=a.dec_share,
        max_pushes=a.max_pushes,
        market_loading=a.loading,
        amount_kind=a.amount_kind,
        amount_sigma=a.sigma,
        empirical=np.asarray(a.empirical, dtype=np.float64),
        empirical_offset=np.asarray(a.offsets, dtype=np.int64),
        whale_factor_max=a.whale_max,
        amount_floor=a.floor,
        amount_cap=a.cap,
        param_kind=a.kind,
        param_base=a.base,
        param_low=a.low,
        param_high=a.high,
        param_strength=a.strength,
        creation_rate=capped_rate(capacity, sc, a.rate),
        capacity=capacity,
        process=a.process,
        dispersion=a.dispersion,
        week_start=week_start,
        week_length=week_length,
        bank_cell=np.array([d.cell for d in bank], dtype=np.int64),
        bank_stage=np.array([d.stage for d in bank], dtype=np.int64),
        bank_amount=np.array([d.amount for d in bank], dtype=np.float64),
        bank_created=np.array([d.created for d in bank], dtype=np.float64),
        bank_close=np.array([d.expected_close for d in bank], dtype=np.float64),
        bank_start=np.zeros(len(bank)),
        bank_age=np.full(len(bank), np.nan),
        bank_pushes=np.zeros(len(bank), dtype=np.int64),
        period_of_day=per.of_day(horizon),
        cohorts=periods(sc.start, horizon, "quarter", sc.fiscal_year_start_month),
        horizon=float(horizon),
        cycle_edges=CYCLE_EDGES.astype(np.float64),
        param_names=param_names([s.name for s in sc.stages]),
        mean_amount=a.mean_amount,
        **_attainment_fields(sc),
    )
    check_model(model)  # the safety net: nothing non-finite or out of range reaches the kernel
    return model
