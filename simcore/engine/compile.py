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

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from simcore import checks
from simcore.calendar import Periods, month_of_day, periods
from simcore.engine import creation
from simcore.engine.capacity import capped_rate, check_capacity
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
    assumption_tables,
    param_layout,
)
from simcore.engine.safety import check_model
from simcore.engine.tables import _lognormal_sigma, _Tables, count_tables, lognormal_table
from simcore.errors import SimcoreError
from simcore.scenario.amounts import expected_amount
from simcore.scenario.load import Scenario, check_scenario
from simcore.scenario.params import AmountParams, CellParams
from simcore.scenario.spec import CATEGORIES
from simcore.scenario.values import BetaRate, Pert

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


@dataclass(frozen=True)
class Model:
    """Everything the kernel needs, as arrays (see :func:`simcore.engine.kernel.simulate_trials`).

    Build one with :func:`compile_scenario`. A model is never edited: its variants
    (:meth:`at_base_values`, :meth:`with_fixed_assumptions`, :meth:`without_bank`,
    :meth:`with_bank_only_in`, :meth:`with_creation_scale`) are new models, which share
    the arrays they do not change and keep every deal's random numbers, so runs of a
    model and of its variants with one seed are paired trial by trial.

    The per-cell parameter slots (cells x slots, in
    :func:`~simcore.engine.kernel.param_layout` order, named by ``param_names``) say how
    each parameter is drawn in ``param_kind`` (``FIXED``, ``PERT`` or ``BETA``), and its
    numbers in ``param_base`` (the fixed value, a PERT's base, a Beta's mean),
    ``param_low``, ``param_high`` (a PERT's ends) and ``param_strength`` (a Beta's); NaN
    where a kind has no such number.
    """

    scenario: Scenario = field(repr=False)
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
    param_base: np.ndarray
    param_low: np.ndarray
    param_high: np.ndarray
    param_strength: np.ndarray
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
    # Creation attainment (docs/model.md "Creation"): one group per declaration, its draw
    # shared by the cells it covers. ``attain_group`` (cells,) is the plan's group of each
    # cell (-1: delivered as planned); per group its kind and numbers as the parameter slots
    # have them, its loading on the market factor, the key of its stream and its name (the
    # field that declared it, e.g. ``by.source.inbound.creation.attainment``).
    attain_group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    attain_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    attain_base: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_high: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_strength: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_loading: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_key: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # The bound each group's count tables are built at (PERT high, Beta 1, a number itself).
    attain_upper: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attain_names: tuple = ()
    # Creation components (see with_components): expected new deals per (component, cell,
    # week), each component's stream key and its attainment group per cell (-1: none).
    component_rate: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    component_key: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    component_group: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    # The capacity check of the plan (simcore.engine.capacity.CapacityCheck), when the
    # scenario has a [capacity] table; creation_rate is then already capped.
    capacity: object = field(default=None, repr=False, compare=False)
    # The creation-count tables, built on first use (they take a while, and every chunk of a
    # chunked run, every variant that keeps the creation plan, would rebuild the same ones).
    _count_tables: list = field(default_factory=list, repr=False, compare=False)

    def __repr__(self) -> str:
        sc = self.scenario
        return (
            f"Model({sc.name!r}: {len(sc.cells)} cells, {self.n_stages} stages, "
            f"{int(self.horizon)} days by {self.periods.kind}, {len(self.bank_cell)} bank deals)"
        )

    def count_tables(self) -> tuple:
        """``(cdf, offsets)`` of the deals created per source, cell and week (:func:`count_tables`
        of this model's ``creation_rate``, then of each component's rate, ``process`` and
        ``dispersion``, each rate times its attainment group's upper bound), built once.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            The CDFs, flattened, and the offsets of each (source, cell, week) table in them
            (``sources x cells x weeks + 1`` int64; one source, the plan, without components).
        """
        if not self._count_tables:
            self._count_tables.append(creation.join_tables(creation.source_tables(self)))
        return self._count_tables[0]

    def kernel_params(self) -> tuple:
        """The parameter slots as the kernel reads them.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray)
            ``kind, a, b, c``: a PERT's low, base, high; a Beta's mean, strength, NaN; a
            fixed value, NaN, NaN.
        """
        pert, beta = self.param_kind == PERT, self.param_kind == BETA
        a = np.where(pert, self.param_low, self.param_base)
        b = np.where(pert, self.param_base, np.where(beta, self.param_strength, np.nan))
        c = np.where(pert, self.param_high, np.nan)
        return self.param_kind, a, b, c

    def kernel_args(self) -> tuple:
        """Inputs of :func:`simcore.engine.kernel.simulate_trials`, after ``seed, trial0``.

        Returns
        -------
        tuple
            In the kernel's argument order; the count tables are built on the first call.
        """
        count_cdf, count_offset = self.count_tables()
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
            *self.kernel_params(),
            *assumption_tables(*self.kernel_params()),
            count_cdf,
            count_offset,
            *creation.kernel_creation_args(self),
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

    def _variant(self, **changes) -> Model:
        creation_fields = {"creation_rate", "process", "dispersion", "component_rate", "attain_group"}
        creation_fields |= {"attain_upper"}
        changed = creation_fields & set(changes)
        # A variant with the same creation plan shares the count tables (built or not yet).
        tables = [] if changed else self._count_tables
        return dataclasses.replace(self, **changes, _count_tables=tables)

    def at_base_values(self) -> Model:
        """Every uncertain assumption and creation attainment fixed at its planning value (PERT
        base, Beta mean), and no market factor: what the deterministic funnel assumes, simulated.

        Returns
        -------
        Model
            Deals keep their random numbers (the parameter stream is simply not used).
        """
        return self._variant(
            param_kind=np.full_like(self.param_kind, FIXED),
            market_loading=np.zeros_like(self.market_loading),
            # Attainment at its planning value too (PERT base, Beta mean), thinned as drawn.
            attain_kind=np.full_like(self.attain_kind, FIXED),
        )

    def with_fixed_assumptions(self, values: dict) -> Model:
        """Some parameter slots fixed at given values (the others drawn as before).

        Parameters
        ----------
        values : dict
            ``{(cell, slot): value}``; slots as in ``param_names``.

        Returns
        -------
        Model
        """
        kind, base = self.param_kind.copy(), self.param_base.copy()
        for (cell, slot), value in values.items():
            kind[cell, slot] = FIXED
            base[cell, slot] = value
        return self._variant(param_kind=kind, param_base=base)

    def without_bank(self) -> Model:
        """No starting bank: only the deals the plan creates.

        Returns
        -------
        Model
        """
        return self._variant(
            **{
                name: getattr(self, name)[:0]
                for name in ("bank_cell", "bank_stage", "bank_amount", "bank_created", "bank_close")
            }
        )

    def with_bank_only_in(self, stage: int) -> Model:
        """The starting bank's deals outside ``stage`` worth nothing (their amounts zero).

        The deals stay, so every deal keeps its random numbers.

        Parameters
        ----------
        stage : int
            Index of the stage whose deals keep their amounts.

        Returns
        -------
        Model
        """
        return self._variant(bank_amount=np.where(self.bank_stage == stage, self.bank_amount, 0.0))

    def with_fixed_attainment(self, values: dict) -> Model:
        """Some attainment groups fixed at given values (the others drawn as before).

        The count tables stay (built at each group's bound) and a fixed group keeps each deal
        with probability value / bound, so the variant's deals are a subset of the model's,
        paired deal by deal (what the tornado's swings want).

        Parameters
        ----------
        values : dict
            ``{group: value}``, a group by index or name (``attain_names``), a value in
            ``[0, attain_upper[group]]``.

        Returns
        -------
        Model
        """
        kind, base = self.attain_kind.copy(), self.attain_base.copy()
        for group, value in values.items():
            g = self.attain_names.index(group) if isinstance(group, str) else int(group)
            if not 0.0 <= float(value) <= self.attain_upper[g]:
                raise SimcoreError(
                    f"attainment {value} for {self.attain_names[g]} is outside [0, {self.attain_upper[g]:g}]"
                )
            kind[g], base[g] = FIXED, float(value)
        return self._variant(attain_kind=kind, attain_base=base)

    def with_creation_scale(self, scale) -> Model:
        """Expected creation multiplied by ``scale`` (cells x weeks, or broadcastable).

        Deals keep their random numbers (common random numbers), so this is how the
        optimizer and comparisons vary a plan without re-reading the scenario.

        Parameters
        ----------
        scale : float or array_like
            Broadcastable to ``creation_rate`` (cells x weeks).

        Returns
        -------
        Model
        """
        rate = np.ascontiguousarray(self.creation_rate * np.asarray(scale, dtype=np.float64))
        return self._variant(creation_rate=rate)

    def with_components(self, rates, attainment=None, keys=None, loading=None) -> Model:
        """The plan plus creation components: extra creation per (component, cell, week).

        A component is, say, a program's added creation. Its deals are made in the cell
        (the cell's drawn parameters, amounts and lifecycle) and reported in the cell's
        outputs, but from count and deal streams of the component's own ``key``: adding,
        removing or resizing one component leaves the plan's deals and every other
        component's deals bit-identical (common random numbers), and a larger rate keeps
        the deals of a smaller one. The plan's count tables are shared, not rebuilt.

        Parameters
        ----------
        rates : array_like
            (components, cells, weeks) expected new deals per week (a count: divide planned
            dollars by ``mean_amount[cell]``). A component that is off is a zero rate, or is
            left out: either way the others keep their deals.
        attainment : sequence, optional
            Per component: ``None`` (delivered as planned, the default), a number, a
            :class:`~simcore.scenario.values.Pert` or a
            :class:`~simcore.scenario.values.BetaRate` (a group of the component's own,
            drawn once per trial, named ``"component <key>"``), or the name of one of the
            model's groups (``attain_names``) to share that draw.
        keys : array_like of int, optional
            Per component, the key of its streams, in [0, 65535] and distinct (default:
            0, 1, ...). Keep a component's key from run to run to pair its deals.
        loading : sequence of float, optional
            Per component with an attainment of its own, its loading on the market factor,
            in [-1, 1] (default 0).

        Returns
        -------
        Model
            Any components this model already had are replaced.

        Examples
        --------
        >>> import simcore
        >>> from simcore.scenario.values import Pert
        >>> model = simcore.compile_scenario(simcore.load_scenario("scenarios/smb.toml"))
        >>> extra = np.zeros((1,) + model.creation_rate.shape)
        >>> extra[0, 0] = model.creation_rate[0]  # cell 0's plan once more
        >>> more = model.with_components(extra, attainment=[Pert(0.5, 0.8, 1.0)], keys=[7])
        >>> more.attain_names
        ('component 7',)
        >>> a = simcore.simulate(model.scenario, 400, seed=3, model=model, progress=False)
        >>> b = simcore.simulate(model.scenario, 400, seed=3, model=more, progress=False)
        >>> bool(b.opportunities.mean() > a.opportunities.mean())
        True
        """
        base = self.with_components_removed() if self.component_rate.shape[0] else self
        changes = creation.component_changes(base, rates, attainment, keys, loading)
        model = dataclasses.replace(base, **changes, _count_tables=[])
        # The plan's tables (built once, cached on the plan's model), then the components' own.
        plan = base.count_tables()
        model._count_tables.append(creation.join_tables([plan, *creation.source_tables(model, plan=False)]))
        return model

    def with_components_removed(self) -> Model:
        """The plan alone: this model without creation components (and their own groups).

        Returns
        -------
        Model
        """
        n = len(self.attain_names) - sum(name.startswith("component ") for name in self.attain_names)
        return self._variant(
            component_rate=np.zeros((0,) + self.creation_rate.shape),
            component_key=np.zeros(0, dtype=np.int64),
            component_group=np.zeros((0, len(self.creation_rate)), dtype=np.int64),
            **{f: getattr(self, f)[:n] for f in _GROUP_FIELDS},
            attain_names=self.attain_names[:n],
        )


_GROUP_FIELDS = (
    "attain_kind",
    "attain_base",
    "attain_low",
    "attain_high",
    "attain_strength",
    "attain_loading",
    "attain_key",
    "attain_upper",
)


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


def _slot(value):
    """``(kind, base, low, high, strength)`` of one parameter slot."""
    if isinstance(value, Pert):
        return PERT, value.base, value.low, value.high, math.nan
    if isinstance(value, BetaRate):
        return BETA, value.mean, math.nan, math.nan, value.strength
    return FIXED, float(value), math.nan, math.nan, math.nan


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.float64)


def daily_plan(scenario: Scenario, cell: int) -> np.ndarray:
    """Planned creation per day of the horizon for one cell, after share, uplift and seasonality.

    Parameters
    ----------
    scenario : Scenario
    cell : int
        Index into ``scenario.cells``.

    Returns
    -------
    numpy.ndarray
        One value per day of the horizon: dollars, or a count where the cell plans a count.
    """
    p = scenario.params[cell].creation
    horizon = scenario.horizon_days
    if not p.values:
        return np.zeros(horizon)
    per = periods(scenario.start, horizon, p.per, scenario.fiscal_year_start_month)
    per_day = np.asarray(p.values) / per.full_days
    rate = per_day[per.of_day(horizon)]
    season = np.asarray(p.seasonality, dtype=np.float64)
    # Weighted by month length: a plain mean over the twelve months would change a
    # year's total by up to a few per mille (31-day months count more days).
    season = season * 365.0 / np.dot(_MONTH_DAYS, season)
    return rate * season[month_of_day(scenario.start, horizon)] * p.share * p.uplift


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
        self.kind[c, s], self.base[c, s], self.low[c, s], self.high[c, s], self.strength[c, s] = _slot(value)

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
