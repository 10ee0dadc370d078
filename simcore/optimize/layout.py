"""Plans and scenarios: the optimizer's decision variables ("units") and how a plan becomes
scenario overrides.

A unit is one source's planned stage-1 (entry-stage) creation in one quarter, spread over the
source's cells with the scenario's product mix (or, with ``free_mix``, one cell's creation in one
quarter). A quarter's dollars keep the scenario's seasonality *within* the quarter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simcore.calendar import month_of_day, periods
from simcore.engine.compile import compile_scenario, daily_plan
from simcore.errors import SimcoreError
from simcore.scenario.amounts import expected_amount
from simcore.scenario.load import Scenario


@dataclass
class Layout:
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
    as_of: object = None  # a simcore.forecast.asof.AsOf: re-plan from its date (None: the whole year)
    # HOOK (programs chosen with the plan, simcore.optimize.joint): funded programs, a
    # simcore.optimize.joint.Funded. Its `model(model)` lifts the rates of the plan's deals
    # (used by `compiled`); its `bookings(model, trials, seed)` are the (trials, quarters)
    # bookings of the programs' own deals, which the plan's dollars do not drive (added to each
    # trial's constant by simulate_plan). None: today's behaviour.
    programs: object = None

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

    def compiled(self, cell_dollars):
        """The compiled model of a plan, by quarter: every simulation of the optimizer starts here.

        With ``as_of``, the plan's creation from the as-of day on and the export's open deals as
        the bank (:meth:`simcore.forecast.asof.AsOf.model`).
        """
        model = compile_scenario(self.plan_scenario(cell_dollars), "quarter")
        if self.programs is not None:  # HOOK: funded programs' rate lifts (see the field)
            model = self.programs.model(model)
        return model if self.as_of is None else self.as_of.model(model)

    @property
    def as_of_day(self) -> int:
        """The day creation can start (0 without ``as_of``)."""
        return 0 if self.as_of is None else int(self.as_of.day)

    def open_share(self) -> np.ndarray:
        """(J,) the share of each unit's quarter still to come on the as-of day (1 or 0 but for the
        quarter containing it), by the plan's seasonality within the quarter.
        """
        sc, day = self.scenario, self.as_of_day
        of_day = self.quarters.of_day(sc.horizon_days)
        months = month_of_day(sc.start, sc.horizon_days)
        later = np.arange(sc.horizon_days) >= day
        share = np.zeros(self.n_units)
        for c, p in enumerate(sc.params):
            season = np.asarray(p.creation.seasonality, dtype=np.float64)
            daily = (season / season.mean())[months]  # as season_sum is built
            rest = np.bincount(of_day, weights=daily * later, minlength=len(self.quarters))
            with np.errstate(divide="ignore", invalid="ignore"):
                part = np.where(self.season_sum[c] > 0, rest / self.season_sum[c], 0.0)
            np.add.at(share, self.cell_unit[c], self.weight[c] * part)
        return np.clip(share, 0.0, 1.0)

    def closed_units(self) -> np.ndarray:
        """(J,) bool: the units whose quarter ended before the as-of date (nothing can be created)."""
        end = np.minimum(self.quarters.start_day[1:], self.scenario.horizon_days)
        return end[self.unit_quarter] <= self.as_of_day

    def unit_matrix(self, per_cell_quarter):
        """Sum a (..., Q_cohort, C) array into (..., J) units."""
        C, Q = self.cell_unit.shape
        out = np.zeros(per_cell_quarter.shape[:-2] + (self.n_units,))
        for c in range(C):
            for q in range(Q):
                out[..., self.cell_unit[c, q]] += per_cell_quarter[..., q, c]
        return out


def cell_inputs(sc: Scenario, c: int) -> tuple:
    """One cell's mean deal size, cost per pipeline dollar, planned dollars per day and
    seasonality (normalised to mean 1): the only place the optimizer reads resolved parameters.
    """
    p = sc.params[c]
    mean_amount = expected_amount(p.amount)
    daily = daily_plan(sc, c)
    if p.creation.kind == "count":
        daily = daily * mean_amount
    season = np.asarray(p.creation.seasonality, dtype=np.float64)
    return mean_amount, float(p.cost_per_dollar), daily, season / season.mean()


def build_layout(sc: Scenario, dim: str, free_mix: bool) -> Layout:
    """The units of a plan by ``dim`` (usually ``source``) and quarter, from the scenario's own plan."""
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
    for c in range(C):
        mean_amount[c], cost[c], daily, season = cell_inputs(sc, c)
        reference[c] = np.bincount(of_day, weights=daily, minlength=Q)
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
    return Layout(
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
