"""The deterministic funnel: the planning spreadsheet, computed from a scenario.

Every finance team already has this backsolve; the Monte Carlo must agree with it in
expectation, so simcore shows it beside the simulation and explains the difference.

The spreadsheet, per cell (one source x product), on the plan's *base* values:

- retire multiple at the decision stage = (won + lost) / won = (1 - push) / win: a pushed
  deal stays open, it does not "retire". 4x at a 25% win rate with no push; 3x with
  win:loss:push = 1:2:1. Without push (every non-win retires) it is 1 / win.
- stage-4 creation needed = retire multiple x bookings + ending stage-4 bank - starting
  stage-4 bank (pipeline flow conservation at the decision stage);
- stage-1 creation needed = stage-4 creation needed / (stage 1 -> 4 rate x growth): the
  dollar conversion (amounts may grow on advancing);
- the implied stack stage 1 -> won = stage 1 -> 4 rate x stage 4 win rate (12.5% for 50% x 25%);
- the starting-bank gap (the bank the plan needs at start minus today's bank) and the
  weekly run-rate that closes it by the start date.

How the plan's totals are split by cell (the spreadsheet has one row; the scenario has
per-cell rates): the bookings target is split in proportion to what each cell's
planned creation would book (planned stage-1 dollars x conversion / retire multiple),
the ending stage-4 bank in proportion to each cell's steady-state stage-4 bank
(Little's law: planned stage-4 dollars per day x expected days in the decision stage,
pushes included), and the starting bank is the scenario's own bank by cell.

:func:`funnel_vs_simulation` puts the simulated expectation of the same scenario
beside it and splits the difference into horizon truncation, push carry-over and
assumption uncertainty (see :class:`FunnelComparison`). ``docs/funnel.md`` says all this for
users.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from simcore import checks
from simcore.analysis.mcerror import mean_se
from simcore.calendar import periods as make_periods
from simcore.engine.compile import compile_scenario, daily_plan
from simcore.engine.simulate import as_seed, simulate
from simcore.errors import Problem, ScenarioError, SimcoreError
from simcore.format import money, table
from simcore.result import Result
from simcore.scenario.amounts import expected_amount
from simcore.scenario.load import Scenario, check_scenario
from simcore.scenario.params import CellParams
from simcore.scenario.values import base

# ---------------------------------------------------------------------------------------
# Per-cell rates on the plan's base values


@dataclass(frozen=True)
class CellRates:
    """The base-value funnel rates of one cell.

    Attributes
    ----------
    to_decision : float
        Count conversion from the entry stage to the decision stage (stage 1 -> 4).
    growth : float
        Amount multiplier from entry to the decision stage (product of stage growths).
    win, push : float
        Decision-stage probabilities per decision.
    win_decay : float
        Win multiplier per push already taken.
    max_pushes : int
        Pushes allowed before a push becomes lost to no decision.
    decision_days : float
        Expected days a deal spends in the decision stage, pushes included.
    """

    to_decision: float
    growth: float
    win: float
    push: float
    win_decay: float
    max_pushes: int
    decision_days: float

    @property
    def retire_multiple(self) -> float:
        """(won + lost) / won per decision: the spreadsheet's multiple with push."""
        return (1.0 - self.push) / self.win if self.win > 0 else math.inf

    @property
    def retire_multiple_no_push(self) -> float:
        """1 / win: every non-win retires (the spreadsheet before push was modelled)."""
        return 1.0 / self.win if self.win > 0 else math.inf

    @property
    def eventual_win(self) -> float:
        """P(a deal entering the decision stage is eventually won), with win decay per push and
        the push limit: sum over n = 0..max_pushes of (push x decay)^n x win.
        """
        q = self.push * self.win_decay
        return self.win * sum(q**n for n in range(self.max_pushes + 1))

    @property
    def retire_multiple_model(self) -> float:
        """1 / eventual win: the retire multiple the simulation's deal life implies (equal to
        :attr:`retire_multiple` when win_decay = 1 and pushes are unlimited).
        """
        p = self.eventual_win
        return 1.0 / p if p > 0 else math.inf

    @property
    def dollar_conversion(self) -> float:
        """Stage-4 dollars per stage-1 dollar: conversion x growth."""
        return self.to_decision * self.growth


def stage_advance(params: CellParams, n_stages: int) -> list:
    """Base-value advance rate of each stage before the decision stage, as the kernel sets them.

    A cumulative ``to_decision`` is split geometrically over the stages (from the entry
    stage) that have no advance rate of their own; stages before the entry stage get 1.
    """
    k = n_stages
    entry = params.entry_stage
    fixed, n_free = 1.0, 0
    for s in range(entry, k - 1):
        adv = params.stages[s].advance
        if adv is None:
            n_free += 1
        else:
            fixed *= min(max(base(adv), 0.0), 1.0)
    out = []
    for s in range(k - 1):
        adv = params.stages[s].advance
        if s < entry:
            out.append(1.0)
        elif adv is None:
            ratio = base(params.to_decision) / fixed if fixed > 0 else 1.0
            out.append(min(max(ratio ** (1.0 / n_free), 0.0), 1.0))
        else:
            out.append(min(max(base(adv), 0.0), 1.0))
    return out


def cell_rates(params: CellParams, n_stages: int) -> CellRates:
    """Base-value funnel rates of one cell's resolved parameters (``scenario.params[i]``)."""
    k = n_stages
    entry = params.entry_stage
    conv = float(np.prod(stage_advance(params, k)[entry:]))
    growth = float(np.prod([base(params.stages[s].growth) for s in range(entry, k - 1)]))
    dec = params.decision
    win = min(max(base(dec.win), 0.0), 1.0)
    push = min(max(base(dec.push), 0.0), 1.0 - win)
    max_pushes = int(dec.max_pushes)
    # Push n happens with probability push^n (decay moves win mass to no decision, not push).
    pushes = sum(push**n for n in range(1, max_pushes + 1))
    days = base(dec.dwell.mean) + base(dec.push_delay.mean) * pushes
    return CellRates(conv, growth, win, push, base(dec.win_decay), max_pushes, days)


def planned_creation(scenario: Scenario, cell: int) -> float:
    """Planned entry-stage creation of one cell over the horizon, in dollars (base deal size)."""
    p = scenario.params[cell]
    total = float(daily_plan(scenario, cell).sum())
    if p.creation.kind == "count":
        total *= expected_amount(p.amount)
    return total


def pacing(planned: float, done: float, day: float, days_in_period: float) -> dict:
    """Where a period's plan stands on a given day (the Programs method: 40 leads planned for the month,
    15 by day 15 -> 25 more needed in the 15 days left).

    Parameters
    ----------
    planned : float
        The period's plan (leads, deals or dollars).
    done : float
        Achieved so far.
    day : float
        Days elapsed in the period.
    days_in_period : float
        Length of the period, in days.

    Returns
    -------
    dict
        ``planned`` and ``done`` (as given), ``remaining`` (planned - done, never below 0),
        ``days_left``, ``per_day_needed`` (remaining / days_left), ``on_pace`` (planned x day /
        days: where a straight line would be), ``behind`` (on_pace - done; negative when ahead).

    Raises
    ------
    SimcoreError
        When ``day`` is not within ``[0, days_in_period]``, ``days_in_period`` is not positive,
        or ``planned`` or ``done`` is negative or not a number.

    Examples
    --------
    >>> pacing(40, 15, 15, 30)["remaining"]
    25.0
    """
    planned = checks.number("planned", planned, minimum=0)
    done = checks.number("done", done, minimum=0)
    day, days_in_period = checks.number("day", day), checks.number("days_in_period", days_in_period)
    if days_in_period <= 0 or not 0 <= day <= days_in_period:
        raise SimcoreError(f"pacing: day {day} must be within a period of {days_in_period} days")
    remaining = max(float(planned) - float(done), 0.0)
    days_left = float(days_in_period) - float(day)
    on_pace = float(planned) * float(day) / float(days_in_period)
    return {
        "planned": float(planned),
        "done": float(done),
        "remaining": remaining,
        "days_left": days_left,
        "per_day_needed": remaining / days_left if days_left > 0 else (math.inf if remaining else 0.0),
        "on_pace": on_pace,
        "behind": on_pace - float(done),
    }


# ---------------------------------------------------------------------------------------
# The backsolve


@dataclass
class FunnelLine:
    """The funnel of one group of cells (a source, a product, one cell), in dollars."""

    bookings: float
    starting_bank: float
    ending_bank: float
    retire_multiple: float
    retire_multiple_no_push: float
    stage4_created_needed: float
    stage4_created_needed_no_push: float
    stage1_created_needed: float
    stage1_created_needed_no_push: float
    to_decision: float
    win_rate: float
    stack: float
    planned_stage1: float
    share_of_stage1: float = math.nan


@dataclass
class FunnelResult(Result):
    """the planning spreadsheet for a scenario (all money in dollars, rates as fractions).

    Attributes
    ----------
    bookings : float
        Bookings the plan must make over the horizon (the ``[funnel] bookings`` or the target).
    retire_multiple, retire_multiple_no_push : float
        (won + lost) / won at the decision stage with push, and 1 / win without (the
        bookings-weighted average over cells).
    retire_multiple_model : float
        1 / P(eventually won) with the scenario's win decay per push and push limit.
    starting_bank, ending_bank : float
        Stage-4 (decision-stage) bank at the start and the bank the plan wants at the end.
    stage4_created_needed, stage4_created_needed_no_push : float
        retire multiple x bookings + ending bank - starting bank.
    stage1_created_needed, stage1_created_needed_no_push : float
        Stage-4 need / (stage 1 -> 4 dollar conversion), summed over cells (cells that enter
        the funnel later count their entry-stage creation).
    push_saving_stage1 : float
        stage1 needed without push - with push: what modelling push takes off the plan.
    weekly_stage1_needed, weekly_stage4_needed : float
        The needs per week of the horizon.
    to_decision, win_rate, push_rate : float
        Weighted average rates (by stage-1 need, by bookings).
    stack : float
        Implied stage 1 -> won: to_decision x win rate (12.5% for 50% x 25%).
    stack_with_push : float
        Stage 1 -> eventually won when pushed deals decide again: to_decision / retire multiple.
    stack_steps : list of (str, float)
        The stage-by-stage rates of the stack (base values, stage-1-need weighted).
    current_bank, current_bank_date : float or None, date or None
        Today's stage-4 bank and its date (``[funnel]`` table).
    weeks_to_start : float or None
        Weeks from the current bank's date to the plan's start.
    bank_gap : float or None
        starting_bank - current_bank: what the bank must grow by before the start.
    weekly_run_rate : float or None
        bank_gap / weeks_to_start: the spreadsheet's net growth per week.
    weekly_run_rate_gross : float or None
        Stage-4 creation per week that closes the gap while today's bank (and what is added)
        keeps retiring at 1 / (expected days in the decision stage): solves
        B(t) = r T + (B0 - r T) exp(-t / T) = starting_bank for r.
    planned_stage1, planned_stage4 : float
        What the scenario's creation plan puts in (stage-1 dollars, times conversion).
    planned_bookings : float
        The forward funnel: (planned stage-4 + starting bank - ending bank) / retire multiple,
        what the plan books by the spreadsheet's arithmetic.
    by_source, by_product, by_cell : dict
        :class:`FunnelLine` per value (``to_dict`` gives plain dicts).
    stage4_needed_by_period : dict
        The stage-4 need spread over the reporting periods like the plan's creation calendar.
    """

    scenario: str
    currency: str
    bookings: float
    retire_multiple: float
    retire_multiple_no_push: float
    retire_multiple_model: float
    starting_bank: float
    ending_bank: float
    stage4_created_needed: float
    stage4_created_needed_no_push: float
    stage1_created_needed: float
    stage1_created_needed_no_push: float
    push_saving_stage1: float
    weekly_stage1_needed: float
    weekly_stage4_needed: float
    to_decision: float
    win_rate: float
    push_rate: float
    stack: float
    stack_with_push: float
    stack_steps: list
    current_bank: float | None
    current_bank_date: _dt.date | None
    weeks_to_start: float | None
    bank_gap: float | None
    weekly_run_rate: float | None
    weekly_run_rate_gross: float | None
    planned_stage1: float
    planned_stage4: float
    planned_bookings: float
    horizon_weeks: float
    by_source: dict = field(default_factory=dict)
    by_product: dict = field(default_factory=dict)
    by_cell: dict = field(default_factory=dict)
    by_dimension: dict = field(default_factory=dict)
    stage4_needed_by_period: dict = field(default_factory=dict)

    _table = "by_cell"

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (what ``simcore funnel --json`` prints)."""
        out = super().to_dict()
        out["stack_steps"] = [{"step": a, "rate": r} for a, r in out["stack_steps"]]
        return out


def funnel_inputs(scenario: Scenario) -> dict:
    """The ``[funnel]`` table of the scenario (plan inputs the simulation does not need)."""
    table = scenario.raw.get("funnel") or {}
    return dict(table) if isinstance(table, dict) else {}


def starting_decision_bank(scenario: Scenario) -> np.ndarray:
    """Dollars of the scenario's starting bank in the decision stage, per cell."""
    out = np.zeros(len(scenario.cells))
    for deal in scenario.bank:
        if deal.stage == scenario.decision_stage:
            out[deal.cell] += deal.amount
    return out


def _weights(values, fallback):
    values = np.asarray(values, dtype=np.float64)
    total = values.sum()
    if total > 0 and np.isfinite(total):
        return values / total
    fallback = np.asarray(fallback, dtype=np.float64)
    if fallback.sum() > 0:
        return fallback / fallback.sum()
    return np.full(len(values), 1.0 / len(values))


def funnel(
    scenario: Scenario,
    *,
    bookings: float | None = None,
    ending_bank: float | None = None,
    starting_bank: float | None = None,
    current_bank: float | None = None,
    current_bank_date: _dt.date | None = None,
) -> FunnelResult:
    """Backsolve the plan from the bookings target the way the planning spreadsheet does.

    Parameters
    ----------
    scenario : Scenario
        From :func:`simcore.load_scenario`; its ``[funnel]`` table supplies the defaults below.
    bookings : float, optional
        Bookings to make over the horizon, in dollars (default: ``[funnel] bookings``, else the
        scenario's ``target``).
    ending_bank : float, optional
        Stage-4 bank wanted at the end, in dollars (default ``[funnel] ending_bank``, else 0).
    starting_bank : float, optional
        Stage-4 bank at the start, in dollars (default ``[funnel] starting_bank``, else the
        decision-stage dollars of the scenario's ``[bank]``).
    current_bank, current_bank_date : optional
        Today's stage-4 bank (dollars) and its date, for the bank gap and weekly run-rate
        (default ``[funnel] current_bank`` / ``current_bank_date``).

    Returns
    -------
    FunnelResult

    Raises
    ------
    ScenarioError
        When there is no bookings figure, or a cell has a zero win rate or conversion.

    Examples
    --------
    >>> from simcore import load_scenario
    >>> f = funnel(load_scenario("scenarios/fy2026.toml"))
    >>> round(f.retire_multiple, 2), round(f.stage4_created_needed / 1e6, 2)
    (3.0, 34.85)
    """
    sc = check_scenario(scenario)
    for name, value in (
        ("bookings", bookings),
        ("ending_bank", ending_bank),
        ("starting_bank", starting_bank),
        ("current_bank", current_bank),
    ):
        if value is not None:
            checks.number(name, value, minimum=0)
    if current_bank_date is not None and not isinstance(current_bank_date, _dt.date):
        raise SimcoreError(f"current_bank_date must be a datetime.date, got {current_bank_date!r}")
    inputs = funnel_inputs(sc)
    bookings = inputs.get("bookings", sc.target) if bookings is None else bookings
    if bookings is None:
        raise ScenarioError(
            [
                Problem(
                    sc.file,
                    "funnel.bookings",
                    "the funnel needs a bookings figure: give [funnel] bookings or a target",
                )
            ]
        )
    bookings = float(bookings)
    ending_bank = float(inputs.get("ending_bank", 0.0) if ending_bank is None else ending_bank)
    start_cells = starting_decision_bank(sc)
    if starting_bank is None and "starting_bank" in inputs:
        starting_bank = inputs["starting_bank"]
    if starting_bank is not None:
        # A planned starting bank other than the scenario's: spread like the scenario's bank.
        start_cells = float(starting_bank) * _weights(start_cells, np.ones(len(start_cells)))
    current_bank = inputs.get("current_bank") if current_bank is None else current_bank
    current_bank_date = inputs.get("current_bank_date") if current_bank_date is None else current_bank_date

    k = len(sc.stages)
    rates = [cell_rates(p, k) for p in sc.params]
    bad = [sc.cell_labels[i] for i, r in enumerate(rates) if r.win <= 0 or r.dollar_conversion <= 0]
    planned = np.array([planned_creation(sc, c) for c in range(len(sc.cells))])
    if bad and any(planned[sc.cell_labels.index(b)] > 0 for b in bad):
        raise ScenarioError(
            [
                Problem(
                    sc.file,
                    "defaults.decision",
                    f"the funnel cannot backsolve cell {b!r}: its win rate or conversion is zero",
                )
                for b in bad
            ]
        )
    rm = np.array([r.retire_multiple for r in rates])
    rm0 = np.array([r.retire_multiple_no_push for r in rates])
    rm_model = np.array([r.retire_multiple_model for r in rates])
    conv = np.array([r.dollar_conversion for r in rates])
    win = np.array([r.win for r in rates])
    push = np.array([r.push for r in rates])
    days = np.array([r.decision_days for r in rates])
    with np.errstate(divide="ignore", invalid="ignore"):
        planned4 = planned * conv
        book_w = _weights(np.where(np.isfinite(rm), planned4 / rm, 0.0), start_cells)
        bank_w = _weights(planned4 * days, start_cells)
    cell_book = bookings * book_w
    cell_end = ending_bank * bank_w
    need4 = rm * cell_book + cell_end - start_cells
    need4_0 = rm0 * cell_book + cell_end - start_cells
    with np.errstate(divide="ignore", invalid="ignore"):
        need1 = np.where(conv > 0, need4 / conv, 0.0)
        need1_0 = np.where(conv > 0, need4_0 / conv, 0.0)

    def line(idx) -> FunnelLine:
        idx = np.asarray(idx, dtype=np.int64)
        b = cell_book[idx].sum()
        n1 = need1[idx].sum()
        w_b = _weights(cell_book[idx], np.ones(len(idx)))
        w_1 = _weights(need1[idx], np.ones(len(idx)))
        td = float((np.array([rates[i].to_decision for i in idx]) * w_1).sum())
        wr = float((win[idx] * w_b).sum())
        return FunnelLine(
            bookings=float(b),
            starting_bank=float(start_cells[idx].sum()),
            ending_bank=float(cell_end[idx].sum()),
            retire_multiple=float((rm[idx] * w_b).sum()),
            retire_multiple_no_push=float((rm0[idx] * w_b).sum()),
            stage4_created_needed=float(need4[idx].sum()),
            stage4_created_needed_no_push=float(need4_0[idx].sum()),
            stage1_created_needed=float(n1),
            stage1_created_needed_no_push=float(need1_0[idx].sum()),
            to_decision=td,
            win_rate=wr,
            stack=td * wr,
            planned_stage1=float(planned[idx].sum()),
            share_of_stage1=float(n1 / need1.sum()) if need1.sum() else math.nan,
        )

    names = list(sc.dimensions)
    by_dimension = {}
    for d, dim in enumerate(names):
        by_dimension[dim] = {
            v: asdict(line([i for i, c in enumerate(sc.cells) if c[d] == v])) for v in sc.dimensions[dim]
        }
    total = line(range(len(sc.cells)))
    by_cell = {label: asdict(line([i])) for i, label in enumerate(sc.cell_labels)}

    # The stack, stage by stage, weighted by each cell's stage-1 need.
    w1 = _weights(need1, np.ones(len(need1)))
    steps = []
    stage_names = [s.name for s in sc.stages]
    for s in range(k - 1):
        adv = [stage_advance(p, k)[s] for p in sc.params]
        steps.append((f"{stage_names[s]} -> {stage_names[s + 1]}", float((np.array(adv) * w1).sum())))
    steps.append((f"{stage_names[-1]} -> Won", total.win_rate))

    horizon_weeks = sc.horizon_days / 7.0
    gap = weeks = run = run_gross = None
    start_total = float(start_cells.sum())
    if current_bank is not None:
        gap = start_total - float(current_bank)
        if current_bank_date is not None:
            weeks = (sc.start - current_bank_date).days / 7.0
            if weeks > 0:
                run = gap / weeks
                # Retirement-aware: today's bank and what is added both retire at 1/T per day.
                t_days = float((days * _weights(start_cells, planned4)).sum())
                T = t_days / 7.0
                decay = math.exp(-weeks / T) if T > 0 else 0.0
                run_gross = (
                    (start_total - float(current_bank) * decay) / (T * (1.0 - decay)) if T > 0 else run
                )

    # The stage-4 need over the reporting periods, shaped like the plan's creation calendar.
    per = make_periods(sc.start, sc.horizon_days, sc.period, sc.fiscal_year_start_month)
    of_day = per.of_day(sc.horizon_days)
    shape = np.zeros(len(per))
    for c in range(len(sc.cells)):
        daily = daily_plan(sc, c)
        if daily.sum() > 0:
            np.add.at(shape, of_day, daily / daily.sum() * max(need4[c], 0.0))
    shape = _weights(shape, per.start_day[1:] - per.start_day[:-1])
    by_period = {label: float(total.stage4_created_needed * s) for label, s in zip(per.labels, shape)}

    planned4_total = float(planned4.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        planned_bookings = float(
            np.where(np.isfinite(rm), (planned4 + start_cells - cell_end) / rm, 0.0).sum()
        )
    w_push = _weights(cell_book, np.ones(len(cell_book)))
    return FunnelResult(
        scenario=sc.name,
        currency=sc.currency,
        bookings=bookings,
        retire_multiple=total.retire_multiple,
        retire_multiple_no_push=total.retire_multiple_no_push,
        retire_multiple_model=float((rm_model * w_push).sum()),
        starting_bank=start_total,
        ending_bank=ending_bank,
        stage4_created_needed=total.stage4_created_needed,
        stage4_created_needed_no_push=total.stage4_created_needed_no_push,
        stage1_created_needed=total.stage1_created_needed,
        stage1_created_needed_no_push=total.stage1_created_needed_no_push,
        push_saving_stage1=total.stage1_created_needed_no_push - total.stage1_created_needed,
        weekly_stage1_needed=total.stage1_created_needed / horizon_weeks,
        weekly_stage4_needed=total.stage4_created_needed / horizon_weeks,
        to_decision=total.to_decision,
        win_rate=total.win_rate,
        push_rate=float((push * w_push).sum()),
        stack=total.stack,
        stack_with_push=total.to_decision / total.retire_multiple,
        stack_steps=steps,
        current_bank=None if current_bank is None else float(current_bank),
        current_bank_date=current_bank_date,
        weeks_to_start=weeks,
        bank_gap=gap,
        weekly_run_rate=run,
        weekly_run_rate_gross=run_gross,
        planned_stage1=float(planned.sum()),
        planned_stage4=planned4_total,
        planned_bookings=planned_bookings,
        horizon_weeks=horizon_weeks,
        by_source=by_dimension.get("source", {}),
        by_product=by_dimension.get("product", {}),
        by_cell=by_cell,
        by_dimension=by_dimension,
        stage4_needed_by_period=by_period,
    )


# ---------------------------------------------------------------------------------------
# Beside the simulation


def base_model(scenario: Scenario, period: str | None = None):
    """The compiled scenario with every uncertain assumption fixed at its planning value
    (PERT base, Beta mean) and no market factor: what the funnel assumes, simulated.

    Deals keep their random numbers (the parameter stream is simply not used), so a run
    of this model with the same seed is paired trial by trial with the full run.
    """
    return compile_scenario(scenario, period).at_base_values()


def cell_axis(da, scenario: Scenario) -> np.ndarray:
    """A Dataset variable summed to (trial, cell), cells in ``scenario.cells`` order."""
    dims = list(scenario.dimensions)
    da = da.sum([d for d in da.dims if d not in ["trial", *dims]]).transpose("trial", *dims)
    return np.asarray(da.values, dtype=np.float64).reshape(da.sizes["trial"], -1)


def decision_flows(ds, scenario: Scenario) -> dict:
    """Per trial and cell, in dollars: entry-stage creation, stage-4 creation, won, lost at the
    decision stage, starting and ending stage-4 bank.

    The ending stage-4 bank comes from flow conservation, exact in every trial: stage-4
    created + starting stage-4 bank = won + lost at stage 4 + ending stage-4 bank.
    """
    k = len(scenario.stages)
    created = ds["created_amount"]
    entry = np.array([p.entry_stage for p in scenario.params])
    per_stage = np.stack([cell_axis(created.isel(stage=s), scenario) for s in range(k)], axis=-1)
    entry_created = np.take_along_axis(per_stage, entry[None, :, None], axis=-1)[..., 0]
    stage4 = per_stage[..., k - 1]
    won = cell_axis(ds["bookings_amount"], scenario)
    lost = cell_axis(ds["lost_amount"].isel(stage=k - 1), scenario)
    start = np.broadcast_to(starting_decision_bank(scenario), won.shape)
    return {
        "entry_created": entry_created,
        "stage4_created": stage4,
        "won": won,
        "lost": lost,
        "retired": won + lost,
        "starting_bank": start,
        "ending_bank": stage4 + start - won - lost,
    }


def _mean_se(x) -> tuple:
    x = np.asarray(x, dtype=np.float64)
    return float(x.mean()), mean_se(x)


@dataclass
class FunnelComparison(Result):
    """The funnel beside the simulated expectation of the same scenario.

    Attributes
    ----------
    funnel : FunnelResult
    trials, seed : int
    rows : dict
        ``name -> {"funnel", "simulated", "se"}`` for stage-1 created, stage-4 created,
        starting bank, retired, ending bank, retire multiple and bookings (dollars; the
        simulated figures are means over trials with their Monte-Carlo standard error).
    effects : list of dict
        ``{"name", "dollars", "se", "text"}``: the bookings difference funnel - simulation,
        split exactly into (1) stage-4 creation the horizon cuts off, (2) the ending bank,
        (3) the retire multiple (push carry-over, win decay, push limit), all measured on a
        run with every assumption at its base value, and (4) assumption uncertainty, the
        paired difference between that run and the full one (E[f(X)] != f(E[X])).
    """

    funnel: FunnelResult = field(repr=False)
    trials: int
    seed: int
    rows: dict
    effects: list

    _table = "rows"

    def text(self) -> str:
        """A readable table and the explanation in words."""
        cur = self.funnel.currency
        rows = []
        for name, r in self.rows.items():
            fmt = (lambda v: f"{v:.2f}x") if name == "retire_multiple" else (lambda v: money(v, cur))
            rows.append(
                [
                    name.replace("_", " "),
                    fmt(r["funnel"]),
                    fmt(r["simulated"]),
                    "-"
                    if r["se"] is None or not math.isfinite(r["se"])
                    else (f"{r['se']:.3f}" if name == "retire_multiple" else money(r["se"], cur)),
                ]
            )
        out = [
            table(
                rows,
                ["Funnel vs simulation", "funnel", f"simulated mean ({self.trials:,} trials)", "MC s.e."],
            ),
            "",
            "Why they differ (bookings, funnel - simulated; +/- is 2 Monte-Carlo s.e.):",
        ]
        for e in self.effects:
            out.append(
                f"  {money(e['dollars'], cur):>8} +/- {money(2 * e['se'], cur)}  {e['name']}: {e['text']}"
            )
        return "\n".join(out)


def funnel_vs_simulation(
    scenario: Scenario, trials: int = 2000, seed=0, result: FunnelResult | None = None, progress=False
) -> FunnelComparison:
    """Run the scenario and explain how its simulated expectation differs from the funnel.

    The forward funnel says the plan books (planned stage-4 + starting bank - ending bank)
    / retire multiple. The simulation differs for three reasons, each measured here in
    dollars of bookings with its Monte-Carlo standard error:

    - **horizon truncation**: stage-1 deals created late reach stage 4, or close, after
      the horizon, so less stage-4 pipeline is created inside it than planned x conversion;
      and the ending bank is whatever is still open, not the plan's figure;
    - **push carry-over**: pushed deals decide again later (some after the horizon), with
      a decayed win rate and a push limit, so won / retired inside the horizon is not
      win / (win + lost);
    - **assumption uncertainty**: rates drawn per trial and the market factor; the mean of
      a nonlinear plan is not the plan at the mean (E[f(X)] != f(E[X])), and a PERT's mean
      is not its base.

    Parameters
    ----------
    scenario : Scenario
    trials : int
        Trials of each of the two runs (full, and all assumptions at base).
    seed : int
        Both runs use it, so they are paired trial by trial (common random numbers).
    result : FunnelResult, optional
        A funnel already computed (default: :func:`funnel` of the scenario).

    Returns
    -------
    FunnelComparison
    """
    f = funnel(scenario) if result is None else result
    sc = scenario
    k = len(sc.stages)
    rates = [cell_rates(p, k) for p in sc.params]
    rm = np.array([r.retire_multiple for r in rates])
    rm = np.where(np.isfinite(rm), rm, 0.0)
    inv_rm = np.divide(1.0, rm, out=np.zeros_like(rm), where=rm > 0)
    planned = np.array([planned_creation(sc, c) for c in range(len(sc.cells))])
    planned4 = planned * np.array([r.dollar_conversion for r in rates])
    end_cells = np.array([f.by_cell[label]["ending_bank"] for label in sc.cell_labels])
    start_cells = starting_decision_bank(sc)

    full = decision_flows(simulate(sc, trials, seed, progress=progress), sc)
    at_base = decision_flows(simulate(sc, trials, seed, progress=progress, model=base_model(sc)), sc)
    tot = {name: v.sum(axis=1) for name, v in full.items()}
    rows = {}
    for name, planned_value in (
        ("stage1_created", planned.sum()),
        ("stage4_created", planned4.sum()),
        ("starting_bank", start_cells.sum()),
        ("ending_bank", end_cells.sum()),
        ("retired", (planned4 + start_cells - end_cells).sum()),
    ):
        key = "entry_created" if name == "stage1_created" else name
        m, se = _mean_se(tot[key])
        rows[name] = {"funnel": float(planned_value), "simulated": m, "se": se}
    won_m = tot["won"].mean()
    rm_sim = tot["retired"].mean() / won_m if won_m > 0 else math.nan
    # Delta method for a ratio of means.
    if won_m > 0:
        resid = tot["retired"] - rm_sim * tot["won"]
        rm_se = float(resid.std(ddof=1) / math.sqrt(trials) / won_m) if trials > 1 else math.nan
    else:
        rm_se = math.nan
    rows["retire_multiple"] = {"funnel": f.retire_multiple, "simulated": rm_sim, "se": rm_se}
    m, se = _mean_se(tot["won"])
    rows["bookings"] = {"funnel": f.planned_bookings, "simulated": m, "se": se}

    b = at_base
    truncation = ((planned4[None, :] - b["stage4_created"]) * inv_rm).sum(axis=1)
    ending = ((b["ending_bank"] - end_cells[None, :]) * inv_rm).sum(axis=1)
    carry = (b["retired"] * inv_rm - b["won"]).sum(axis=1)
    uncertainty = b["won"].sum(axis=1) - tot["won"]
    cur = sc.currency
    m4, _ = _mean_se(b["stage4_created"].sum(axis=1))
    me, _ = _mean_se(b["ending_bank"].sum(axis=1))
    rb = b["retired"].sum(axis=1).mean() / max(b["won"].sum(axis=1).mean(), 1e-300)
    effects = []
    for name, values, text in (
        (
            "horizon truncation (stage-4 creation)",
            truncation,
            f"the plan's stage-1 dollars x conversion are {money(planned4.sum(), cur)} of stage-4 "
            f"pipeline, but only {money(m4, cur)} reaches stage 4 inside the horizon: deals created "
            "late are still in earlier stages at the end",
        ),
        (
            "horizon truncation (ending bank)",
            ending,
            f"the simulation ends with {money(me, cur)} open in stage 4, the plan assumed "
            f"{money(end_cells.sum(), cur)}; pipeline still open at the end books nothing inside the horizon",
        ),
        (
            "push carry-over",
            carry,
            f"won / retired inside the horizon gives a retire multiple of {rb:.2f}x, not the spreadsheet's "
            f"{f.retire_multiple:.2f}x: pushed deals decide again later (some after the horizon), with a "
            f"decayed win rate and a push limit (the deal-life multiple is {f.retire_multiple_model:.2f}x)",
        ),
        (
            "assumption uncertainty",
            uncertainty,
            "rates, dwell and deal size drawn per trial and the market factor, against the same deals with "
            "every assumption at its base value: the plan's mean outcome is not the outcome of the mean plan "
            "(E[f(X)] != f(E[X])), and a skewed PERT's mean is not its base",
        ),
    ):
        m, se = _mean_se(values)
        effects.append({"name": name, "dollars": m, "se": se, "text": text})
    return FunnelComparison(f, int(trials), as_seed(seed), rows, effects)
