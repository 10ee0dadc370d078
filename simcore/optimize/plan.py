"""The optimizer: how much pipeline each source must create, and when, to book the target at a
chosen confidence, at least cost, within what each team can really produce.

Method (sample-average approximation with common random numbers)
------------------------------------------------------------------
Decision variables are planned stage-1 (entry-stage) creation dollars ``x[s, q]`` per source and
quarter; within a source the product mix is the scenario's (or, with ``free_mix=True``, each
source x product cell is its own variable).

1. Simulate a reference plan ``x_ref`` (``trials`` trials, ``seed``). ``bookings_by_cohort``
   attributes every trial's bookings to the (source, creation quarter) that created the deal,
   or to the starting bank.
2. A deal's fate never depends on the volume around it (counter-based generator, docs/model.md
   "Randomness"; a larger plan keeps a smaller plan's deals), so trial ``t``'s bookings under a
   plan ``x`` are modelled as ``bank_t + sum_u (x_u / x_ref_u) B_t[u]``: exact in expectation,
   exact in every trial at ``x = x_ref`` (and for ``x_u = 0``). Each trial keeps its own drawn
   assumptions (win rates, conversion, deal sizes, the market factor): that is what makes a 90%
   plan differ from a 50% plan.
3. Solve the chance-constrained problem over the trials (:mod:`simcore.optimize.lp`: a CVaR LP
   start, then exact trial-selection LPs with HiGHS).
4. Re-simulate at the solution as the new reference and re-solve until the plan is stable
   (relative change under 2%, at most ``iterations`` times), so the linearisation is exact where
   it matters: the in-sample confidence reported is that of the plan itself, simulated.
5. Verify with an independent simulation: ``verify_trials`` trials with ``verify_seed``.

Lead time needs no constraint: a quarter's creation that cannot close inside the horizon
simply books nothing in the simulation, so late creation is worth less and the plan
front-loads where cycles are long.

Caveats
-------
- The trial-selection LPs find a local optimum of the (non-convex) sample-average problem; on a
  separable 2 x 2 problem it is within 1% of a brute-force grid (tests/test_optimize.py).
- The reported in-sample confidence is the plan's own, simulated; the loop accepts a plan that
  is within ``max(0.2 points, 0.25 / sqrt(trials))`` of the request (a fraction of one binomial
  SE), so it can read 89.8% for a 90% request. The out-of-sample check is the one to quote.
- A week that straddles two quarters creates its deals uniformly over the week (the kernel's
  rule), so a plan that differs a lot between adjacent quarters is approximated in that week.
- Mix rules use expected stage-4 yields (a short bank-free simulation per quarter), not
  per-trial ones; the ending stage-4 bank is reported, not constrained.

Plans are scenario overrides (``cell."<source>/<product>".creation``: per quarter, dollars),
so every simulation is the engine's own, and a plan can be pasted back into the scenario file.
A quarter's dollars keep the scenario's seasonality *within* the quarter; the figure is the
expected pipeline created in that quarter.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field, replace

import numpy as np

from simcore import checks
from simcore.calendar import month_of_day, periods
from simcore.engine.compile import compile_scenario, daily_plan
from simcore.engine.kernel import flow_layout
from simcore.engine.simulate import as_seed, run_kernel
from simcore.errors import Problem as ScenarioProblem
from simcore.errors import ScenarioError, SimcoreError
from simcore.format import json_safe
from simcore.optimize.lp import Chance, Problem, best_confidence, shortfall_lp, solve
from simcore.scenario.amounts import expected_amount
from simcore.scenario.load import Scenario, check_scenario

OBJECTIVES = ("creation", "cost", "p_hit")
_CHUNK = 4096


# ---------------------------------------------------------------------------------------
# Plan <-> scenario


@dataclass
class _Layout:
    """The decision variables ("units") and how a plan maps onto cells and quarters."""

    scenario: Scenario
    dim: str
    sources: list
    quarters: object  # calendar.Periods
    unit_source: np.ndarray  # (J,) source index of each unit
    unit_quarter: np.ndarray  # (J,) quarter index
    unit_label: list  # "inbound 2026-Q1" or "inbound/CMP 2026-Q1"
    cell_unit: np.ndarray  # (C, Q) -> unit index
    weight: np.ndarray  # (C, Q) share of the unit's dollars that go to the cell
    season_sum: np.ndarray  # (C, Q) sum over the quarter's days of the normalised seasonality
    reference: np.ndarray  # (C, Q) the scenario's own plan, dollars
    mean_amount: np.ndarray  # (C,) base mean deal size, dollars
    cost: np.ndarray  # (C,) cost per pipeline dollar

    @property
    def n_units(self):
        return len(self.unit_source)

    def cell_dollars(self, x) -> np.ndarray:
        """(C, Q) planned dollars per cell and quarter for unit dollars ``x``."""
        return self.weight * np.asarray(x)[self.cell_unit]

    def unit_dollars(self, cell_dollars) -> np.ndarray:
        out = np.zeros(self.n_units)
        np.add.at(out, self.cell_unit, cell_dollars)
        return out

    def overrides(self, cell_dollars) -> dict:
        """Scenario overrides that make each cell create ``cell_dollars[c, q]`` in quarter ``q``."""
        full = self.quarters.full_days
        out = {}
        for c, label in enumerate(self.scenario.cell_labels):
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(self.season_sum[c] > 0, cell_dollars[c] * full / self.season_sum[c], 0.0)
            key = f'cell."{label}".creation'
            out[f"{key}.per"] = "quarter"
            out[f"{key}.dollars"] = [float(v) for v in values]
            out[f"{key}.share"] = 1.0
            out[f"{key}.uplift"] = 1.0
        return out

    def plan_scenario(self, cell_dollars) -> Scenario:
        return self.scenario.with_overrides(self.overrides(cell_dollars))

    def unit_matrix(self, per_cell_quarter):
        """Sum a (..., Q_cohort, C) array into (..., J) units."""
        C, Q = self.cell_unit.shape
        out = np.zeros(per_cell_quarter.shape[:-2] + (self.n_units,))
        for c in range(C):
            for q in range(Q):
                out[..., self.cell_unit[c, q]] += per_cell_quarter[..., q, c]
        return out


def _layout(sc: Scenario, dim: str, free_mix: bool) -> _Layout:
    if dim not in sc.dimensions:
        raise SimcoreError(
            f"the scenario has no dimension {dim!r} to plan by; it has {', '.join(sc.dimensions)}"
        )
    quarters = periods(sc.start, sc.horizon_days, "quarter", sc.fiscal_year_start_month)
    of_day = quarters.of_day(sc.horizon_days)
    months = month_of_day(sc.start, sc.horizon_days)
    C, Q = len(sc.cells), len(quarters)
    d = list(sc.dimensions).index(dim)
    sources = list(sc.dimensions[dim])
    reference = np.zeros((C, Q))
    season_sum = np.zeros((C, Q))
    mean_amount = np.zeros(C)
    cost = np.zeros(C)
    for c, p in enumerate(sc.params):
        mean_amount[c] = expected_amount(p.amount)
        cost[c] = p.cost_per_dollar
        daily = daily_plan(sc, c)
        if p.creation.kind == "count":
            daily = daily * mean_amount[c]
        reference[c] = np.bincount(of_day, weights=daily, minlength=Q)
        season = np.asarray(p.creation.seasonality, dtype=np.float64)
        season = season / season.mean()
        season_sum[c] = np.bincount(of_day, weights=season[months], minlength=Q)
    cell_source = np.array([sources.index(cell[d]) for cell in sc.cells])
    labels, unit_source, unit_quarter = [], [], []
    cell_unit = np.zeros((C, Q), dtype=np.int64)
    weight = np.zeros((C, Q))
    groups = (
        [[c for c in range(C) if cell_source[c] == s] for s in range(len(sources))]
        if not free_mix
        else [[c] for c in range(C)]
    )
    for g in groups:
        for q in range(Q):
            j = len(labels)
            name = sources[cell_source[g[0]]] if not free_mix else sc.cell_labels[g[0]]
            labels.append(f"{name} {quarters.labels[q]}")
            unit_source.append(cell_source[g[0]])
            unit_quarter.append(q)
            ref = reference[g, q] * (season_sum[g, q] > 0)
            if ref.sum() <= 0:
                # The scenario plans nothing here: use the unit's mix over the year, else even.
                ref = reference[g].sum(axis=1) * (season_sum[g, q] > 0)
            if ref.sum() <= 0:
                ref = (season_sum[g, q] > 0).astype(float)
            for i, c in enumerate(g):
                cell_unit[c, q] = j
                weight[c, q] = ref[i] / ref.sum() if ref.sum() > 0 else 0.0
    return _Layout(
        sc,
        dim,
        sources,
        quarters,
        np.array(unit_source),
        np.array(unit_quarter),
        labels,
        cell_unit,
        weight,
        season_sum,
        reference,
        mean_amount,
        cost,
    )


# ---------------------------------------------------------------------------------------
# Constraints: the [optimize] table of the scenario, and keyword overrides


@dataclass
class Limits:
    """What each team can really produce, and the other conditions a plan must meet.

    All money in dollars of planned stage-1 (entry-stage) pipeline, per source.

    Attributes
    ----------
    min, max : dict
        Source -> total over the horizon.
    min_per_quarter, max_per_quarter : dict
        Source -> per quarter.
    capacity_per_week : dict
        Source -> opportunities the team can create per week (e.g. SDRs x meetings x
        conversion); becomes ``x[s, q] <= capacity x weeks in q x mean deal size``.
    capacity_dollars_per_week : dict
        Source -> pipeline dollars per week.
    mix : list of dict
        ``{"sources": [...], "min_share": 0.4}``: at least that share of the (expected)
        decision-stage creation comes from those sources.
    period_targets : list of dict
        ``{"period": "2026-Q2", "target": dollars, "confidence": 0.8, "cumulative": False}``:
        bookings in that quarter (or year to date) at their own confidence.
    budget : float or None
        Total cost (sum of cost_per_dollar x planned dollars) for the ``p_hit`` objective.
    """

    min: dict = field(default_factory=dict)
    max: dict = field(default_factory=dict)
    min_per_quarter: dict = field(default_factory=dict)
    max_per_quarter: dict = field(default_factory=dict)
    capacity_per_week: dict = field(default_factory=dict)
    capacity_dollars_per_week: dict = field(default_factory=dict)
    mix: list = field(default_factory=list)
    period_targets: list = field(default_factory=list)
    budget: float | None = None


def read_limits(sc: Scenario, dim: str = "source") -> tuple:
    """The scenario's ``[optimize]`` table as ``(Limits, settings)``; every problem names its field.

    ``settings`` holds ``confidence``, ``objective``, ``free_mix`` and ``bank_build_weeks``
    when the table gives them.
    """
    table = sc.raw.get("optimize") or {}
    problems = []
    limits = Limits()
    sources = sc.dimensions.get(dim, [])
    where = "optimize"

    def bad(path, msg):
        problems.append(ScenarioProblem(sc.file, path, msg))

    for name, spec in (table.get("source") or {}).items():
        path = f"{where}.source.{name}"
        if name not in sources:
            bad(path, f"unknown {dim} {name!r}; expected one of {', '.join(map(repr, sources))}")
            continue
        for key in (
            "min",
            "max",
            "min_per_quarter",
            "max_per_quarter",
            "capacity_per_week",
            "capacity_dollars_per_week",
        ):
            if key in spec:
                getattr(limits, key)[name] = float(spec[key])
        if name in limits.min and name in limits.max and limits.min[name] > limits.max[name]:
            bad(f"{path}.min", f"min {limits.min[name]:g} is above max {limits.max[name]:g}")
    for i, m in enumerate(table.get("mix") or []):
        unknown = [s for s in m.get("sources", []) if s not in sources]
        if unknown:
            bad(
                f"{where}.mix[{i}].sources",
                f"unknown {dim} {unknown[0]!r}; expected one of {', '.join(map(repr, sources))}",
            )
            continue
        limits.mix.append({"sources": list(m["sources"]), "min_share": float(m["min_share"])})
    labels = periods(sc.start, sc.horizon_days, "quarter", sc.fiscal_year_start_month).labels
    for i, t in enumerate(table.get("period_target") or []):
        if t.get("period") not in labels:
            bad(
                f"{where}.period_target[{i}].period",
                f"unknown quarter {t.get('period')!r}; the horizon's quarters are {', '.join(labels)}",
            )
            continue
        if not isinstance(t.get("cumulative", False), bool):
            bad(f"{where}.period_target[{i}].cumulative", f"must be true or false, got {t['cumulative']!r}")
            continue
        limits.period_targets.append(
            {
                "period": t["period"],
                "target": float(t["target"]),
                "confidence": float(t.get("confidence", table.get("confidence", 0.9))),
                "cumulative": bool(t.get("cumulative", False)),
            }
        )
    if "budget" in table:
        limits.budget = float(table["budget"])
    if problems:
        raise ScenarioError(problems)
    settings = {
        k: table[k] for k in ("confidence", "objective", "free_mix", "bank_build_weeks") if k in table
    }
    return limits, settings


# ---------------------------------------------------------------------------------------
# Simulation of a plan, reduced to what the optimizer needs


@dataclass
class _Sim:
    """One simulation of a plan, reduced: per-trial bookings by unit and close quarter."""

    x: np.ndarray  # unit dollars simulated
    unit_bookings: np.ndarray  # (T, J, P) bookings of the unit's deals closing in quarter P
    bank: np.ndarray  # (T, P) bookings of the starting bank
    stage4: np.ndarray  # (P, C) mean decision-stage creation dollars (in the period it happened)
    stage1: np.ndarray  # (P, C) mean entry-stage creation dollars
    ending_bank: np.ndarray = None  # (C,) mean decision-stage-category bank at the horizon, dollars

    def bookings(self, x) -> np.ndarray:
        """(T, P) bookings under the linear model at unit dollars ``x``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(self.x > 0, np.asarray(x) / self.x, 0.0)
        return self.bank + np.einsum("tjp,j->tp", self.unit_bookings, r)

    def per_dollar(self) -> np.ndarray:
        """(T, J, P) bookings per planned dollar of each unit."""
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(self.x > 0, 1.0 / self.x, 0.0)
        return self.unit_bookings * r[None, :, None]


def _simulate_plan(layout: _Layout, x, trials, seed, *, model=None, only_bank4=False) -> _Sim:
    cells = layout.cell_dollars(x)
    if model is None:
        model = compile_scenario(layout.plan_scenario(cells), "quarter")
    if only_bank4:
        # Only the decision-stage part of the starting bank, no creation: what a scaled bank books.
        model = model.with_creation_scale(0.0).with_bank_only_in(layout.scenario.decision_stage)
    k = model.n_stages
    created0 = flow_layout(k)[1]
    P = len(model.periods)
    C = len(layout.scenario.cells)
    J = layout.n_units
    unit_bookings = np.zeros((trials, J, P))
    bank = np.zeros((trials, P))
    stage4 = np.zeros((P, C))
    ending = np.zeros(C)
    decision_category = model.category[k - 1]
    stage1 = np.zeros((P, C))
    entry = model.entry_stage
    lo = 0
    while lo < trials:
        hi = min(trials, lo + _CHUNK)
        out = run_kernel(model, hi - lo, seed, trial_start=lo, progress=False)
        cohort = out.cohort_amt  # (t, close period, cohort, cell)
        bank[lo:hi] = cohort[:, :, P, :].sum(axis=-1)
        unit_bookings[lo:hi] = np.moveaxis(layout.unit_matrix(cohort[:, :, :P, :]), 1, 2)
        stage4 += out.flow_amt[..., created0 + k - 1].sum(axis=0)
        ending += out.bank_amt[:, P, :, decision_category].sum(axis=0)
        stage1 += out.flow_amt[:, :, np.arange(C), created0 + entry].sum(axis=0)
        lo = hi
    return _Sim(
        np.asarray(x, dtype=np.float64).copy(),
        unit_bookings,
        bank,
        stage4 / trials,
        stage1 / trials,
        ending / trials,
    )


def _stage4_yield(layout: _Layout, x, trials, seed) -> np.ndarray:
    """Expected decision-stage dollars created inside the horizon per planned dollar, per unit.

    One short bank-free simulation per quarter with only that quarter's creation (expectations
    only: the mix constraint is on expected stage-4 creation).
    """
    ref = np.maximum(np.asarray(x, dtype=np.float64), 1.0)
    cells = layout.cell_dollars(ref)
    model = compile_scenario(layout.plan_scenario(cells), "quarter").without_bank()
    k = model.n_stages
    created0 = flow_layout(k)[1]
    week_day = model.week_start.astype(np.int64)
    of_day = layout.quarters.of_day(layout.scenario.horizon_days)
    out_yield = np.zeros(layout.n_units)
    for q in range(len(layout.quarters)):
        # Share of each week's days that fall in quarter q.
        share = np.array([np.mean(of_day[d : d + 7] == q) for d in week_day])
        sub = model.with_creation_scale(share[None, :])
        out = run_kernel(sub, trials, seed, progress=False)
        s4 = out.flow_amt[..., created0 + k - 1].sum(axis=(0, 1)) / trials  # per cell
        for c in range(len(layout.scenario.cells)):
            u = layout.cell_unit[c, q]
            if cells[c, q] > 0:
                out_yield[u] += s4[c]
    units = layout.unit_dollars(cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(units > 0, out_yield / units, 0.0)


# ---------------------------------------------------------------------------------------
# The result


@dataclass
class OptimizeResult:
    """The optimizer's answer, read like :class:`scipy.optimize.OptimizeResult`.

    Money is in dollars; plans are planned stage-1 (entry-stage) pipeline created.

    Attributes
    ----------
    x : numpy.ndarray
        The plan, sources x quarters (dollars); ``plan`` is the same as a dict.
    fun : float
        The objective at the plan: total stage-1 dollars (``creation``), total cost (``cost``),
        or the in-sample confidence (``p_hit``).
    success, feasible : bool
        ``feasible``: a plan meets every constraint at the requested confidence in-sample.
        ``success``: feasible, and the plan simulated exactly reaches the confidence in-sample
        (within half a standard error) and in the out-of-sample check (within 1.5 points).
    message : str
        What happened, in words; for an infeasible request, the best confidence reachable and
        the limit that stops it.
    confidence_target, confidence_in_sample, confidence_out_of_sample : float
        Requested; reached in the ``trials`` simulated (the plan itself, simulated); reached in
        an independent simulation (``verify_trials`` trials, ``verify_seed``).
    plan, plan_by_product, plan_weekly : dict
        ``{source: {quarter: dollars}}``, ``{source: {product: {quarter: dollars}}}`` and
        ``{source: [dollars per week]}`` (weeks from the start, 7 days each).
    stage4_targets, stage4_weekly, stage4_by_product : dict
        Expected decision-stage creation the plan implies, by source and the quarter it happens
        in, per week, and by source, product and quarter.
    expected_ending_stage4_bank : float
        Expected bank in the decision stage's forecast category at the end of the horizon (the
        spreadsheet plans for one; this plan does not, unless its limits ask for creation late).
    binding : list of dict
        Constraints at their limit with their shadow price: the change in the objective per
        dollar of relaxation (and per dollar of target for a confidence constraint).
    marginal_bookings : dict
        ``{source: {quarter: d bookings-at-the-confidence / d dollar of creation}}``: the
        bookings the plan's (1 - confidence) quantile gains per extra planned dollar.
    spreadsheet : dict
        The uniform spreadsheet plan for the same target: its stage-1 requirement (simcore.funnel)
        and the confidence it actually reaches when simulated.
    required_bank : dict
        The smallest stage-4 bank on day one that makes a plan hit the target at the confidence
        (the scenario's own plan, and this plan), the gap from today's bank and the weekly
        run-rate that builds it.
    period_targets : list of dict
        Each per-quarter target with its confidence in-sample and out-of-sample.
    history : list of dict
        Each re-simulation: total planned dollars, objective, in-sample confidence.
    """

    x: np.ndarray
    fun: float
    success: bool
    feasible: bool
    message: str
    objective: str
    confidence_target: float
    confidence_in_sample: float
    confidence_out_of_sample: float
    confidence_out_of_sample_se: float
    target: float
    plan: dict
    plan_by_product: dict
    plan_weekly: dict
    stage4_targets: dict
    stage4_weekly: dict
    stage4_by_product: dict
    total_stage1: float
    total_cost: float
    bookings_at_confidence: float
    expected_ending_stage4_bank: float
    binding: list
    marginal_bookings: dict
    spreadsheet: dict
    required_bank: dict
    period_targets: list
    history: list
    nit: int
    trials: int
    seed: int
    verify_trials: int
    verify_seed: int
    elapsed_seconds: float
    scenario: str = ""
    currency: str = "USD"
    quarters: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    budget: float | None = None

    def __repr__(self):
        return (
            f"OptimizeResult(feasible={self.feasible}, success={self.success}, fun={self.fun:.6g}, "
            f"confidence_in_sample={self.confidence_in_sample:.4f}, "
            f"confidence_out_of_sample={self.confidence_out_of_sample:.4f}, message={self.message!r})"
        )

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (what ``simcore optimize --json`` prints)."""
        out = {
            "scenario": self.scenario,
            "currency": self.currency,
            "objective": self.objective,
            "target": self.target,
            "budget": self.budget,
            "confidence_target": self.confidence_target,
            "confidence_in_sample": self.confidence_in_sample,
            "confidence_out_of_sample": self.confidence_out_of_sample,
            "confidence_out_of_sample_se": self.confidence_out_of_sample_se,
            "feasible": self.feasible,
            "success": self.success,
            "message": self.message,
            "fun": self.fun,
            "plan": self.plan,
            "plan_by_product": self.plan_by_product,
            "plan_weekly": self.plan_weekly,
            "stage4_targets": self.stage4_targets,
            "stage4_weekly": self.stage4_weekly,
            "stage4_by_product": self.stage4_by_product,
            "total_stage1": self.total_stage1,
            "total_cost": self.total_cost,
            "total_stage4": float(sum(sum(v.values()) for v in self.stage4_targets.values())),
            "bookings_at_confidence": self.bookings_at_confidence,
            "expected_ending_stage4_bank": self.expected_ending_stage4_bank,
            "spreadsheet_total_stage1": self.spreadsheet.get("total_stage1"),
            "spreadsheet": self.spreadsheet,
            "required_bank": self.required_bank,
            "binding": self.binding,
            "marginal_bookings": self.marginal_bookings,
            "period_targets": self.period_targets,
            "history": self.history,
            "nit": self.nit,
            "trials": self.trials,
            "seed": self.seed,
            "verify_trials": self.verify_trials,
            "verify_seed": self.verify_seed,
            "elapsed_seconds": self.elapsed_seconds,
        }
        return json_safe(out)


# ---------------------------------------------------------------------------------------
# Building the linear problem


class _Builder:
    """Linear rows and bounds in scaled units: plan in ``scale`` dollars, bookings / target."""

    def __init__(self, layout: _Layout, limits: Limits, objective: str, yields, scale):
        sc = layout.scenario
        self.layout = layout
        self.scale = scale
        J = layout.n_units
        Q = len(layout.quarters)
        days = np.diff(np.minimum(layout.quarters.start_day, sc.horizon_days))
        weeks = days / 7.0
        # Per unit: cost and deals per planned dollar (mix-weighted over its cells).
        cost = np.zeros(J)
        deals = np.zeros(J)
        for c in range(len(sc.cells)):
            for q in range(Q):
                u = layout.cell_unit[c, q]
                cost[u] += layout.weight[c, q] * layout.cost[c]
                deals[u] += layout.weight[c, q] / layout.mean_amount[c]
        self.cost = cost
        self.c = (cost if objective == "cost" else np.ones(J)) * scale
        lb = np.zeros(J)
        ub = np.full(J, np.inf)
        # A unit whose cells have no day with seasonality > 0 in the quarter cannot create.
        blocked = np.zeros(J, dtype=bool)
        for u in range(J):
            if layout.weight[layout.cell_unit == u].sum() <= 0:
                blocked[u] = True
        ub[blocked] = 0.0
        rows, rhs, names = [], [], []
        src = layout.sources
        labels = layout.quarters.labels

        def add(row, value, kind, name, per="dollar"):
            # Rows are stored in dollars of plan (x scale) and divided by scale in problem().
            rows.append(np.asarray(row, dtype=np.float64) * scale)
            rhs.append(float(value))
            names.append({"kind": kind, "name": name, "limit": abs(float(value)), "per": per})

        # Per-quarter limits are rows over the source's units of that quarter (one unit with the
        # scenario's mix, one per product with free_mix).
        for s_name in src:
            s = src.index(s_name)
            for q in range(Q):
                units = ((layout.unit_source == s) & (layout.unit_quarter == q)).astype(float)
                where = f"{s_name} in {labels[q]}"
                if s_name in limits.max_per_quarter:
                    add(
                        units,
                        limits.max_per_quarter[s_name],
                        "max",
                        f"{s_name} max per quarter in {labels[q]}",
                    )
                if s_name in limits.min_per_quarter:
                    add(
                        -units,
                        -limits.min_per_quarter[s_name],
                        "min",
                        f"{s_name} min per quarter in {labels[q]}",
                    )
                if s_name in limits.capacity_per_week:
                    cap = limits.capacity_per_week[s_name]
                    add(
                        units * deals,
                        cap * weeks[q],
                        "capacity",
                        f"{where}: capacity {cap:g} opportunities/week",
                        "opportunity",
                    )
                if s_name in limits.capacity_dollars_per_week:
                    add(
                        units,
                        limits.capacity_dollars_per_week[s_name] * weeks[q],
                        "capacity",
                        f"{where}: capacity ${limits.capacity_dollars_per_week[s_name]:,.0f}/week",
                    )
        for s_name, value in limits.max.items():
            add(
                (layout.unit_source == src.index(s_name)).astype(float),
                value,
                "max",
                f"{s_name} max over the horizon",
            )
        for s_name, value in limits.min.items():
            add(
                -(layout.unit_source == src.index(s_name)).astype(float),
                -value,
                "min",
                f"{s_name} min over the horizon",
            )
        for m in limits.mix:
            inside = np.isin(np.array(src)[layout.unit_source], m["sources"])
            add(
                (m["min_share"] - inside) * yields,
                0.0,
                "mix",
                f"at least {m['min_share']:.0%} of stage-4 creation from {' + '.join(m['sources'])}",
                "point of share",
            )
        self.ub_name = [""] * J
        self.yields = yields
        self.rows, self.rhs, self.names = rows, rhs, names
        self.lb, self.ub = lb / scale, ub / scale
        self.deals = deals

    def problem(self, chances, budget=None) -> Problem:
        rows, rhs, names = list(self.rows), list(self.rhs), list(self.names)
        if budget is not None:
            rows.append(self.cost * self.scale)
            rhs.append(budget)
            names.append(
                {"kind": "budget", "name": "budget (total cost)", "limit": float(budget), "per": "dollar"}
            )
        # Rows in dollars -> divide by scale for order-one numbers.
        A = np.array(rows, dtype=np.float64).reshape(len(rows), len(self.c)) / self.scale
        b = np.array(rhs, dtype=np.float64) / self.scale
        return Problem(self.c, self.lb, self.ub, A, b, names, chances)


def _chances(sim: _Sim, layout: _Layout, target, confidence, limits: Limits, scale):
    """The chance constraints in scaled units: G x >= h, one row per trial."""
    per_dollar = sim.per_dollar()  # (T, J, P)
    out = []
    G = per_dollar.sum(axis=2) * scale / target
    h = (target - sim.bank.sum(axis=1)) / target
    out.append(Chance(G, h, confidence, "annual target", target))
    labels = layout.quarters.labels
    for t in limits.period_targets:
        q = labels.index(t["period"])
        sel = slice(0, q + 1) if t["cumulative"] else slice(q, q + 1)
        Gq = per_dollar[:, :, sel].sum(axis=2) * scale / t["target"]
        hq = (t["target"] - sim.bank[:, sel].sum(axis=1)) / t["target"]
        name = f"{t['period']} {'year-to-date ' if t['cumulative'] else ''}target"
        out.append(Chance(Gq, hq, t["confidence"], name, t["target"]))
    return out


def _period_hits(bookings, layout, limits):
    out = []
    labels = layout.quarters.labels
    for t in limits.period_targets:
        q = labels.index(t["period"])
        sel = slice(0, q + 1) if t["cumulative"] else slice(q, q + 1)
        out.append(bookings[:, sel].sum(axis=1) >= t["target"])
    return out


# ---------------------------------------------------------------------------------------
# The optimizer


def _say(progress, message):
    if progress:
        if callable(progress):
            progress(message)
        else:
            print(f"optimize: {message}", file=sys.stderr, flush=True)


def optimize(
    scenario: Scenario,
    confidence: float | None = None,
    *,
    objective: str | None = None,
    budget: float | None = None,
    target: float | None = None,
    trials: int = 10_000,
    seed=0,
    verify_trials: int = 20_000,
    verify_seed=None,
    iterations: int = 4,
    limits: Limits | None = None,
    free_mix: bool | None = None,
    dimension: str = "source",
    spreadsheet: bool = True,
    progress=False,
) -> OptimizeResult:
    """The cheapest creation plan by source and quarter that books the target at a confidence.

    Parameters
    ----------
    scenario : Scenario
        From :func:`simcore.load_scenario`. Its ``[optimize]`` table (if any) gives the limits:
        per-source min/max, capacity per week, mix, per-quarter targets, budget.
    confidence : float, optional
        Required P(bookings over the horizon >= target), e.g. 0.9 (default: the ``[optimize]``
        table's, else 0.9).
    objective : {"creation", "cost", "p_hit"}, optional
        Minimise total planned stage-1 dollars (default), total cost (``cost_per_dollar`` of each
        source x planned dollars), or maximise P(hit) within ``budget``.
    budget : float, optional
        Total cost in dollars for ``objective="p_hit"``.
    target : float, optional
        Bookings target in dollars (default: the scenario's ``target``).
    trials, seed : int
        The in-sample simulation (default 10,000 trials, seed 0).
    verify_trials, verify_seed : int
        The independent check (default 20,000 trials with ``seed + 1``); 0 skips it.
    iterations : int
        Most re-simulations at the solution (default 4); stops earlier when the plan is stable.
    limits : Limits, optional
        Instead of the scenario's ``[optimize]`` table.
    free_mix : bool, optional
        Let the product mix within each source vary (one variable per cell and quarter).
    dimension : str
        The dimension plans are made by (default ``source``).
    spreadsheet : bool
        Also simulate the uniform spreadsheet plan (simcore.funnel) for the comparison.
    progress : bool or callable
        Progress messages on stderr (or passed to the callable).

    Returns
    -------
    OptimizeResult
        ``feasible=False`` with the best reachable confidence and the limiting constraint when
        the request cannot be met; never a silent bad plan.

    Examples
    --------
    >>> sc = simcore.load_scenario("scenarios/fy2026.toml")  # doctest: +SKIP
    >>> res = simcore.optimize(sc, confidence=0.9)  # doctest: +SKIP
    >>> res.plan["inbound"]["2026-Q1"], res.confidence_out_of_sample  # doctest: +SKIP
    """
    t_start = time.perf_counter()
    sc = check_scenario(scenario)
    if dimension not in sc.dimensions:
        raise SimcoreError(
            f"the scenario has no dimension {dimension!r} to plan by; it has {', '.join(sc.dimensions)}"
        )
    file_limits, settings = read_limits(sc, dimension)
    limits = file_limits if limits is None else limits
    confidence = settings.get("confidence", 0.9) if confidence is None else confidence
    confidence = checks.fraction("confidence", confidence)
    objective = settings.get("objective", "creation") if objective is None else objective
    if objective not in OBJECTIVES:
        raise SimcoreError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if budget is not None and objective != "p_hit":
        raise SimcoreError(
            f"a budget applies to objective p_hit (the highest confidence within it); "
            f"objective {objective!r} minimises {'cost' if objective == 'cost' else 'creation'} "
            f"instead: drop the budget or choose objective p_hit"
        )
    budget = limits.budget if budget is None else budget
    if objective == "p_hit" and (budget is None or not budget > 0):
        raise SimcoreError(
            "objective p_hit needs a budget > 0 (total cost in dollars): --budget or [optimize] budget"
        )
    free_mix = bool(settings.get("free_mix", False)) if free_mix is None else free_mix
    target = sc.target if target is None else float(target)
    if target is None or not target > 0:
        raise SimcoreError(
            "the optimizer needs a bookings target > 0: give target in the scenario, or --target "
            "(target= in Python)"
        )
    trials = checks.whole("trials", trials, 1)
    iterations = checks.whole("iterations", iterations, 1)
    verify_trials = checks.whole("verify_trials", verify_trials, 0)  # 0: no out-of-sample check
    if trials < 100:
        raise SimcoreError(f"trials must be at least 100 for a confidence to mean something, got {trials}")
    seed = as_seed(seed)
    verify_seed = (seed + 1) % 2**64 if verify_seed is None else as_seed(verify_seed)
    for t in limits.period_targets:
        checks.fraction(f"confidence of the {t['period']} target", t["confidence"])

    layout = _layout(sc, dimension, free_mix)
    J = layout.n_units
    file_plan = layout.unit_dollars(layout.reference)
    scale = max(file_plan.sum() / max(J, 1), 1.0)
    _say(
        progress,
        f"{len(layout.sources)} {dimension}s x {len(layout.quarters)} quarters, {trials:,} trials, "
        f"confidence {confidence:.0%} of ${target:,.0f}",
    )

    # Stage-4 yields for the mix constraint (expected values; a short simulation per quarter).
    yields = np.zeros(J)
    if limits.mix:
        _say(progress, "stage-4 yield per source and quarter")
        yields = _stage4_yield(layout, np.where(file_plan > 0, file_plan, scale), min(trials, 2000), seed)
    builder = _Builder(layout, limits, objective if objective != "p_hit" else "cost", yields, scale)
    if np.any(builder.lb > builder.ub):
        raise SimcoreError("the limits contradict each other: a minimum is above a maximum or capacity")

    # The first reference: the scenario's own plan, with a floor so every unit can be measured.
    floor = 0.1 * file_plan.sum() / max(J, 1) if file_plan.sum() > 0 else scale
    ub_dollars = builder.ub * scale

    def reference(x):
        # Units at 0 are simulated at the floor (so their yield stays measured) and priced at 0:
        # the cohort attribution makes the linear model exact at x all the same.
        return np.minimum(
            np.maximum(x, floor), np.where(np.isfinite(ub_dollars), np.maximum(ub_dollars, 0), np.inf)
        )

    x_ref = reference(file_plan)
    history = []
    x = None
    sol = None
    feasible = True
    best_conf = None
    nit = 0
    file_sim = None
    tol = max(0.002, 0.25 / math.sqrt(trials))  # in-sample slack: a quarter of a binomial SE at 90%
    while True:
        nit += 1
        _say(progress, f"iteration {nit}: simulating the plan (${x_ref.sum():,.0f}, {trials:,} trials)")
        sim = _simulate_plan(layout, x_ref, trials, seed)
        if nit == 1:
            file_sim = sim
        chances = _chances(sim, layout, target, confidence, limits, scale)
        problem = builder.problem(chances, budget if objective == "p_hit" else None)
        if x is not None:
            # The previous plan, now simulated exactly.
            conf_prev = chances[0].confidence(x / scale)
            history[-1]["confidence_in_sample"] = conf_prev
        if objective == "p_hit":
            conf_best, sol_x = _max_p_hit(problem)
            sol = None
            x_new = (sol_x if sol_x is not None else np.zeros(J)) * scale
            fun_new = conf_best
        else:
            sol = solve(problem, starts=None if x is None else [x / scale])
            if sol.x is None and x is not None:
                sol = solve(problem)
            if sol.x is None:
                feasible = False
                best_conf, best_x = best_confidence(problem)
                x_new = (best_x if best_x is not None else np.zeros(J)) * scale
                fun_new = float(builder.c @ (x_new / scale))
            else:
                feasible = True
                x_new = sol.x * scale
                fun_new = sol.fun
        if x is not None and feasible:
            fun_prev = history[-1]["objective"]
            stable = (
                abs(fun_new - fun_prev) <= 0.002 * abs(fun_prev)
                if objective != "p_hit"
                else abs(fun_new - conf_prev) <= tol
            )
            if stable and (objective == "p_hit" or conf_prev >= confidence - tol):
                # The previous plan is exact (simulated) and the new one is no real improvement.
                if objective != "p_hit":
                    # Duals at the accepted plan: the selection LP from it, on its own simulation.
                    again = solve(problem, starts=[x / scale])
                    sol = again if again.x is not None else sol
                break
        history.append(
            {
                "iteration": nit,
                "simulated_total": float(x_ref.sum()),
                "total_stage1": float(x_new.sum()),
                "objective": float(fun_new),
                "confidence_linear_model": float(chances[0].confidence(x_new / scale)),
            }
        )
        x = x_new
        x_ref = reference(x)
        if nit >= iterations or (not feasible and nit >= 2):
            nit += 1
            _say(progress, "simulating the final plan in-sample")
            sim = _simulate_plan(layout, x_ref, trials, seed)
            chances = _chances(sim, layout, target, confidence, limits, scale)
            problem = builder.problem(chances, budget if objective == "p_hit" else None)
            history[-1]["confidence_in_sample"] = chances[0].confidence(x / scale)
            break
    bookings_in = sim.bookings(x)
    conf_in = float((bookings_in.sum(axis=1) >= target).mean())
    sol_final_x = x

    # The independent check.
    conf_out = se_out = math.nan
    period_out = []
    if verify_trials:
        _say(progress, f"verifying: {verify_trials:,} new trials (seed {verify_seed})")
        vsim = _simulate_plan(layout, reference(x), verify_trials, verify_seed)
        vbook = vsim.bookings(x)
        conf_out = float((vbook.sum(axis=1) >= target).mean())
        se_out = math.sqrt(max(conf_out * (1 - conf_out), 1e-12) / verify_trials)
        period_out = [float(h.mean()) for h in _period_hits(vbook, layout, limits)]
    period_in = [float(h.mean()) for h in _period_hits(bookings_in, layout, limits)]

    # Marginal bookings at the confidence per extra dollar of each unit: E[dB/dx | B = quantile].
    annual = bookings_in.sum(axis=1)
    q_level = float(np.quantile(annual, 1.0 - confidence))
    per_dollar = sim.per_dollar().sum(axis=2)
    bw = 1.06 * annual.std() * len(annual) ** -0.2 if annual.std() > 0 else 1.0
    w = np.exp(-0.5 * ((annual - q_level) / bw) ** 2)
    marginal = (w @ per_dollar) / w.sum() if w.sum() > 0 else np.zeros(J)

    binding = _binding(
        builder,
        problem,
        sol if feasible and objective != "p_hit" else None,
        sol_final_x,
        target,
        scale,
        chances,
    )
    message = ""
    if not feasible:
        limit = _limiting(builder, problem, (x / scale), scale)
        message = (
            f"cannot book ${target:,.0f} with {confidence:.0%} confidence under the limits: the best "
            f"reachable is {best_conf:.1%} ({limit}). The plan shown is that best plan."
        )
    elif objective == "p_hit":
        message = f"highest confidence within the budget ${budget:,.0f}: {conf_in:.1%} in-sample"
    else:
        message = f"optimal plan found in {nit} simulation{'s' if nit > 1 else ''} of {trials:,} trials"
    # The plan is simulated exactly, in-sample and (with verify_trials) on new trials: it is
    # a success only if both reach the confidence asked for, within their sampling error.
    short_in = objective != "p_hit" and conf_in < confidence - 0.5 / math.sqrt(trials)
    short_out = bool(verify_trials) and objective != "p_hit" and conf_out < confidence - 0.015
    if feasible and (short_in or short_out):
        reached = f"{conf_in:.1%} in-sample" + (
            f" and {conf_out:.1%} on {verify_trials:,} new trials" if verify_trials else ""
        )
        message = (
            f"a plan was found, but simulated it reaches only {reached} against {confidence:.0%}: "
            f"the {trials:,}-trial sample is too small or the linearisation too coarse; raise trials "
            f"or iterations"
        )

    # Spreadsheet plan and required bank.
    sheet = (
        _spreadsheet(
            layout,
            sc,
            target,
            confidence,
            verify_trials or trials,
            verify_seed if verify_trials else seed,
            progress,
        )
        if spreadsheet
        else {}
    )
    bank = _required_bank(
        layout,
        sc,
        limits,
        settings,
        target,
        confidence,
        trials,
        seed,
        x,
        sim,
        file_plan,
        file_sim,
        floor,
        reference,
        progress,
    )
    if (
        not feasible
        and bank.get("for_optimized_plan") is not None
        and math.isfinite(bank["for_optimized_plan"])
    ):
        message += (
            f" A stage-4 bank of ${bank['for_optimized_plan']:,.0f} on day one (the scenario has "
            f"${bank['current_stage4_bank']:,.0f}) would make that plan reach {confidence:.0%}."
        )

    success = feasible and not short_in and not short_out
    quarters = list(layout.quarters.labels)
    sources = list(layout.sources)
    cells = layout.cell_dollars(x)
    plan = {s: dict.fromkeys(quarters, 0.0) for s in sources}
    d = list(sc.dimensions).index(dimension)
    others = [i for i in range(len(sc.dimensions)) if i != d]
    by_product = {s: {} for s in sources}
    for c, cell in enumerate(sc.cells):
        s = cell[d]
        key = "/".join(cell[i] for i in others) or s
        row = by_product[s].setdefault(key, dict.fromkeys(quarters, 0.0))
        for qi, q in enumerate(quarters):
            plan[s][q] += float(cells[c, qi])
            row[q] += float(cells[c, qi])
    plan_sc = layout.plan_scenario(cells)
    weekly = {s: np.zeros(-(-sc.horizon_days // 7)) for s in sources}
    for c, cell in enumerate(sc.cells):
        daily = daily_plan(plan_sc, c)
        weekly[cell[d]] += np.add.reduceat(daily, np.arange(0, sc.horizon_days, 7))
    days = np.diff(np.minimum(layout.quarters.start_day, sc.horizon_days))
    stage4 = {s: dict.fromkeys(quarters, 0.0) for s in sources}
    stage4_weekly = {s: dict.fromkeys(quarters, 0.0) for s in sources}
    stage4_by_product = {s: {} for s in sources}
    # Stage-4 creation and the ending bank are expectations of the plan itself (units at 0
    # really at 0): a short exact simulation.
    exact = _simulate_plan(layout, x, min(trials, 2000), seed)
    for c, cell in enumerate(sc.cells):
        for qi, q in enumerate(quarters):
            v = float(exact.stage4[qi, c])
            stage4[cell[d]][q] += v
            stage4_weekly[cell[d]][q] += v / (days[qi] / 7.0)
            key = "/".join(cell[i] for i in others) or cell[d]
            stage4_by_product[cell[d]].setdefault(key, dict.fromkeys(quarters, 0.0))[q] += v
    ending_bank = float(exact.ending_bank.sum())
    total_cost = float((builder.cost * x).sum())
    fun = {"creation": float(x.sum()), "cost": total_cost, "p_hit": conf_in}[objective]
    marginal_d = {s: dict.fromkeys(quarters, 0.0) for s in sources}
    for u in range(J):
        if not free_mix:
            marginal_d[sources[layout.unit_source[u]]][quarters[layout.unit_quarter[u]]] = float(marginal[u])
    if free_mix:
        for s in sources:
            for qi, q in enumerate(quarters):
                us = [
                    u
                    for u in range(J)
                    if layout.unit_source[u] == sources.index(s) and layout.unit_quarter[u] == qi
                ]
                wts = np.array([x[u] for u in us]) + 1e-9
                marginal_d[s][q] = float((marginal[us] * wts).sum() / wts.sum())
    period_rows = [
        {
            **t,
            "confidence_in_sample": period_in[i],
            "confidence_out_of_sample": period_out[i] if period_out else None,
        }
        for i, t in enumerate(limits.period_targets)
    ]
    _say(progress, f"done in {time.perf_counter() - t_start:.1f} s")
    return OptimizeResult(
        x=np.array([[plan[s][q] for q in quarters] for s in sources]),
        fun=fun,
        success=bool(success),
        feasible=bool(feasible),
        message=message,
        objective=objective,
        confidence_target=confidence,
        confidence_in_sample=conf_in,
        confidence_out_of_sample=conf_out,
        confidence_out_of_sample_se=se_out,
        target=target,
        plan=plan,
        plan_by_product=by_product,
        plan_weekly={s: [float(v) for v in weekly[s]] for s in sources},
        stage4_targets=stage4,
        stage4_weekly=stage4_weekly,
        stage4_by_product=stage4_by_product,
        total_stage1=float(x.sum()),
        total_cost=total_cost,
        bookings_at_confidence=q_level,
        expected_ending_stage4_bank=ending_bank,
        binding=binding,
        marginal_bookings=marginal_d,
        spreadsheet=sheet,
        required_bank=bank,
        period_targets=period_rows,
        history=history,
        nit=nit,
        trials=int(trials),
        seed=int(seed),
        verify_trials=int(verify_trials),
        verify_seed=int(verify_seed),
        elapsed_seconds=time.perf_counter() - t_start,
        scenario=sc.name,
        currency=sc.currency,
        quarters=quarters,
        sources=sources,
        budget=budget,
    )


def _max_p_hit(problem: Problem):
    """Highest annual confidence within the budget (a row of ``problem``): bisection on the trials to hit."""
    ch = problem.chances[0]
    return best_confidence(replace(problem, chances=[Chance(ch.G, ch.h, 1.0, ch.name)] + problem.chances[1:]))


def _binding(builder, problem, sol, x_dollars, target, scale, chances):
    """Limits at their bound, with the objective's change per unit of relaxation (LP duals)."""
    out = []
    if sol is None or getattr(sol, "row_duals", None) is None:
        return out
    x = x_dollars / scale
    slack = problem.A_ub @ x - problem.b_ub if len(problem.b_ub) else np.zeros(0)
    for i, row in enumerate(problem.row_names):
        dual = float(sol.row_duals[i]) if i < len(sol.row_duals) else 0.0
        if dual < -1e-12 or abs(slack[i]) <= 1e-7 * max(1.0, abs(problem.b_ub[i])):
            if row["kind"] == "mix":
                # One point of share moves the row by 0.01 x expected stage-4 creation.
                price = -dual * 0.01 * float(builder.yields @ x)
            else:
                price = -dual / scale
            out.append(
                {
                    "constraint": row["name"],
                    "kind": row["kind"],
                    "limit": row["limit"] if row["kind"] != "mix" else None,
                    "shadow_price": price,
                    "unit": f"objective saved per {row['per']} of relaxation",
                }
            )
    for ch, dual in zip(chances, sol.chance_duals):
        # Trial rows are (target - bank) / target: one more dollar of target moves them by 1 / target.
        out.append(
            {
                "constraint": f"{ch.name} at {ch.alpha:.0%} confidence",
                "kind": "confidence",
                "limit": ch.target,
                "shadow_price": float(-dual / ch.target),
                "unit": "objective added per dollar of target",
            }
        )
    return out


def _limiting(builder, problem, x, scale):
    """Words for the limits that stop an infeasible request (duals of the least-shortfall LP)."""
    res = shortfall_lp(problem, x)
    if res is None:
        return "the linear limits themselves are infeasible"
    _z, row_duals, upper_duals = res
    items = []
    for i, row in enumerate(problem.row_names):
        if row_duals[i] < -1e-12:
            items.append((-row_duals[i] * max(abs(problem.b_ub[i]), 1e-9), row["name"]))
    for u, dual in enumerate(upper_duals):
        if dual < -1e-12 and np.isfinite(problem.ub[u]):
            items.append((-dual * problem.ub[u], builder.layout.unit_label[u]))
    if not items:
        return "lead time: creation late in the horizon cannot close inside it"
    items.sort(reverse=True)
    names = []
    for _, n in items:
        if n not in names:
            names.append(n)
    return "limited by " + "; ".join(names[:4])


def _spreadsheet(layout, sc, target, confidence, trials, seed, progress):
    """The uniform spreadsheet plan (simcore.funnel, every non-win retires) and its simulated confidence."""
    from simcore.analysis.funnel import funnel

    try:
        f = funnel(sc, bookings=target)
    except (ScenarioError, SimcoreError) as exc:
        return {"total_stage1": None, "note": f"no spreadsheet plan: {exc}"}
    by_cell = np.array(
        [max(f.by_cell[label]["stage1_created_needed_no_push"], 0.0) for label in sc.cell_labels]
    )
    ref = layout.reference
    shape = np.where(
        ref.sum(axis=1, keepdims=True) > 0,
        ref / np.maximum(ref.sum(axis=1, keepdims=True), 1e-300),
        layout.season_sum / np.maximum(layout.season_sum.sum(axis=1, keepdims=True), 1e-300),
    )
    cells = by_cell[:, None] * shape
    _say(progress, f"simulating the spreadsheet plan (${cells.sum():,.0f}, {trials:,} trials)")
    model = compile_scenario(layout.plan_scenario(cells), "quarter")
    out_conf = _confidence_of_model(model, trials, seed, target)
    plan = {s: dict.fromkeys(layout.quarters.labels, 0.0) for s in layout.sources}
    d = list(sc.dimensions).index(layout.dim)
    for c, cell in enumerate(sc.cells):
        for qi, q in enumerate(layout.quarters.labels):
            plan[cell[d]][q] += float(cells[c, qi])
    return {
        "total_stage1": float(f.stage1_created_needed_no_push),
        "total_stage1_with_push": float(f.stage1_created_needed),
        "retire_multiple": float(f.retire_multiple_no_push),
        "retire_multiple_with_push": float(f.retire_multiple),
        "ending_bank": float(f.ending_bank),
        "confidence": out_conf,
        "trials": int(trials),
        "seed": int(seed),
        "plan": plan,
        "note": "the spreadsheet's backsolve: retire multiple 1/win (every non-win retires), ending stage-4 bank "
        "from [funnel]; spread over cells and quarters like the scenario's own plan",
    }


def _confidence_of_model(model, trials, seed, target):
    hit = 0
    lo = 0
    while lo < trials:
        hi = min(trials, lo + _CHUNK)
        out = run_kernel(model, hi - lo, seed, trial_start=lo, progress=False)
        hit += int((out.flow_amt[..., 0].sum(axis=(1, 2)) >= target).sum())
        lo = hi
    return hit / trials


def _required_bank(
    layout,
    sc,
    limits,
    settings,
    target,
    confidence,
    trials,
    seed,
    x,
    sim,
    file_plan,
    file_sim,
    floor,
    reference,
    progress,
):
    """Smallest stage-4 bank on day one at which a plan hits the target at the confidence.

    Scaling the decision-stage bank deals' amounts by ``beta`` scales their bookings exactly
    (a deal's fate does not depend on its amount), so trial t hits when
    ``other_t + beta * bank4_t >= target``: the required ``beta`` is a quantile.
    """
    from simcore.analysis.funnel import funnel_inputs, starting_decision_bank

    bank4_now = float(starting_decision_bank(sc).sum())
    out = {"current_stage4_bank": bank4_now}
    if bank4_now <= 0:
        out["note"] = "the scenario has no decision-stage bank to scale"
        return out
    _say(progress, "required starting bank")
    b4 = _simulate_plan(layout, reference(x), trials, seed, only_bank4=True).bank.sum(axis=1)

    def needed(total):
        other = total - b4
        with np.errstate(divide="ignore", invalid="ignore"):
            beta = np.where(b4 > 0, (target - other) / b4, np.where(other >= target, 0.0, np.inf))
        beta = np.maximum(beta, 0.0)
        return float(np.quantile(beta, confidence, method="inverted_cdf")) * bank4_now

    out["for_optimized_plan"] = needed(sim.bookings(x).sum(axis=1))
    if file_sim is None:
        _say(progress, "simulating the scenario's own plan")
        file_sim = _simulate_plan(layout, reference(file_plan), trials, seed)
    out["for_scenario_plan"] = needed(file_sim.bookings(file_plan).sum(axis=1))
    out["scenario_plan_total_stage1"] = float(file_plan.sum())
    out["scenario_plan_confidence"] = float((file_sim.bookings(file_plan).sum(axis=1) >= target).mean())
    f_in = funnel_inputs(sc)
    today = f_in.get("current_bank", bank4_now)
    weeks = settings.get("bank_build_weeks")
    if weeks is None and f_in.get("current_bank_date") is not None:
        weeks = (sc.start - f_in["current_bank_date"]).days / 7.0
    out["today_stage4_bank"] = float(today)
    out["weeks_to_build"] = float(weeks) if weeks else None
    for key in ("for_scenario_plan", "for_optimized_plan"):
        gap = out[key] - float(today)
        out[key.replace("for_", "gap_")] = gap
        out[key.replace("for_", "weekly_run_rate_")] = gap / weeks if weeks and math.isfinite(gap) else None
    return out
