"""The funnel's parts: each cell's rates on the plan's base values, its plan, the result types,
the per-trial flows its comparison with the simulation reads, and the pacing check of a
period's plan.

:mod:`simcore.analysis.funnel` backsolves the plan from them and puts the simulation beside it.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field

import numpy as np

from simcore import checks
from simcore.engine.compile import compile_scenario, daily_plan
from simcore.errors import SimcoreError
from simcore.result import Result
from simcore.scenario.amounts import expected_amount
from simcore.scenario.load import Scenario
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

    Parameters
    ----------
    params : CellParams
        ``scenario.params[i]``.
    n_stages : int
        Stages of the scenario, the decision stage included.

    Returns
    -------
    list of float
        One rate per stage before the decision stage.
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
    """Base-value funnel rates of one cell's resolved parameters (``scenario.params[i]``).

    Parameters
    ----------
    params : CellParams
        ``scenario.params[i]``.
    n_stages : int
        Stages of the scenario, the decision stage included.

    Returns
    -------
    CellRates
    """
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
    """Planned entry-stage creation of one cell over the horizon, in dollars (base deal size).

    Parameters
    ----------
    scenario : Scenario
    cell : int
        Index into ``scenario.cells``.

    Returns
    -------
    float
        Dollars; a count plan is priced at the base mean deal size.
    """
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
# The funnel's result


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
    first_stage, decision_stage : str
        The names the scenario gives its first stage ("stage 1") and its decision stage
        ("stage 4"), for labels.
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
    first_stage: str = ""
    decision_stage: str = ""

    _table = "by_cell"

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (what ``simcore funnel --json`` prints).

        Returns
        -------
        dict
            The fields, ``stack_steps`` as ``[{"step", "rate"}, ...]``.
        """
        out = super().to_dict()
        out["stack_steps"] = [{"step": a, "rate": r} for a, r in out["stack_steps"]]
        return out


def funnel_inputs(scenario: Scenario) -> dict:
    """The ``[funnel]`` table of the scenario (plan inputs the simulation does not need).

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    dict
        A copy of the table (empty without one).
    """
    table = scenario.raw.get("funnel") or {}
    return dict(table) if isinstance(table, dict) else {}


def starting_decision_bank(scenario: Scenario) -> np.ndarray:
    """Dollars of the scenario's starting bank in the decision stage, per cell.

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    numpy.ndarray
        One float64 per cell, in ``scenario.cells`` order.
    """
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


# ---------------------------------------------------------------------------------------
# Per-trial flows, for the comparison with the simulation


def base_model(scenario: Scenario, period: str | None = None):
    """The compiled scenario with every uncertain assumption fixed at its planning value
    (PERT base, Beta mean) and no market factor: what the funnel assumes, simulated.

    Deals keep their random numbers (the parameter stream is simply not used), so a run
    of this model with the same seed is paired trial by trial with the full run.

    Parameters
    ----------
    scenario : Scenario
    period : {"week", "month", "quarter"}, optional
        Reporting period (default: the scenario's).

    Returns
    -------
    Model
        :meth:`Model.at_base_values` of the compiled scenario.
    """
    return compile_scenario(scenario, period).at_base_values()


def cell_axis(da, scenario: Scenario) -> np.ndarray:
    """A Dataset variable summed to (trial, cell), cells in ``scenario.cells`` order.

    Parameters
    ----------
    da : xarray.DataArray
        A variable of a simulated Dataset.
    scenario : Scenario

    Returns
    -------
    numpy.ndarray
        (trial, cell) float64.
    """
    dims = list(scenario.dimensions)
    da = da.sum([d for d in da.dims if d not in ["trial", *dims]]).transpose("trial", *dims)
    return np.asarray(da.values, dtype=np.float64).reshape(da.sizes["trial"], -1)


def decision_flows(ds, scenario: Scenario) -> dict:
    """Per trial and cell, in dollars: entry-stage creation, decision-stage creation, won, lost at
    the decision stage, starting and ending decision-stage bank.

    The ending bank comes from flow conservation, exact in every trial: decision-stage
    created + starting bank = won + lost at the decision stage + ending bank.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate` of ``scenario``.
    scenario : Scenario

    Returns
    -------
    dict
        ``entry_created, decision_created, won, lost, retired, starting_bank, ending_bank``,
        each (trial, cell) in dollars.
    """
    k = len(scenario.stages)
    created = ds["created_amount"]
    entry = np.array([p.entry_stage for p in scenario.params])
    per_stage = np.stack([cell_axis(created.isel(stage=s), scenario) for s in range(k)], axis=-1)
    entry_created = np.take_along_axis(per_stage, entry[None, :, None], axis=-1)[..., 0]
    decision = per_stage[..., k - 1]
    won = cell_axis(ds["bookings_amount"], scenario)
    lost = cell_axis(ds["lost_amount"].isel(stage=k - 1), scenario)
    start = np.broadcast_to(starting_decision_bank(scenario), won.shape)
    return {
        "entry_created": entry_created,
        "decision_created": decision,
        "won": won,
        "lost": lost,
        "retired": won + lost,
        "starting_bank": start,
        "ending_bank": decision + start - won - lost,
    }
