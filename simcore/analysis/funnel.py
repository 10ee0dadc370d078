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
from simcore.analysis.funnel_rates import (
    CellRates,
    FunnelLine,
    FunnelResult,
    _weights,
    base_model,
    cell_axis,
    cell_rates,
    decision_flows,
    funnel_inputs,
    pacing,
    planned_creation,
    stage_advance,
    starting_decision_bank,
)
from simcore.analysis.mcerror import mean_se
from simcore.calendar import periods as make_periods
from simcore.engine.compile import compile_scenario, daily_plan
from simcore.engine.simulate import as_seed, simulate
from simcore.errors import Problem, ScenarioError, SimcoreError
from simcore.format import money, table
from simcore.result import Result
from simcore.scenario.load import Scenario, check_scenario
from simcore.scenario.values import base

__all__ = [
    "CellRates",
    "FunnelComparison",
    "FunnelLine",
    "FunnelResult",
    "base_model",
    "cell_axis",
    "cell_rates",
    "decision_flows",
    "funnel",
    "funnel_inputs",
    "funnel_vs_simulation",
    "pacing",
    "planned_creation",
    "stage_advance",
    "starting_decision_bank",
]

# ---------------------------------------------------------------------------------------
# The backsolve


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
    bookings, ending_bank, start_cells, current_bank, current_bank_date = _inputs(
        sc, bookings, ending_bank, starting_bank, current_bank, current_bank_date
    )
    n = _Needs(sc, bookings, ending_bank, start_cells)
    by_dimension = {
        dim: {v: asdict(n.line([i for i, c in enumerate(sc.cells) if c[d] == v])) for v in sc.dimensions[dim]}
        for d, dim in enumerate(sc.dimensions)
    }
    total = n.line(range(len(sc.cells)))
    by_cell = {label: asdict(n.line([i])) for i, label in enumerate(sc.cell_labels)}
    horizon_weeks = sc.horizon_days / 7.0
    start_total = float(start_cells.sum())
    gap, weeks, run, run_gross = _bank_gap(sc, n, start_total, current_bank, current_bank_date)
    with np.errstate(divide="ignore", invalid="ignore"):
        planned_bookings = float(
            np.where(np.isfinite(n.rm), (n.planned4 + start_cells - n.cell_end) / n.rm, 0.0).sum()
        )
    w_push = _weights(n.cell_book, np.ones(len(n.cell_book)))
    return FunnelResult(
        scenario=sc.name,
        currency=sc.currency,
        bookings=bookings,
        retire_multiple=total.retire_multiple,
        retire_multiple_no_push=total.retire_multiple_no_push,
        retire_multiple_model=float((n.rm_model * w_push).sum()),
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
        push_rate=float((n.push * w_push).sum()),
        stack=total.stack,
        stack_with_push=total.to_decision / total.retire_multiple,
        stack_steps=_stack_steps(sc, n, total),
        current_bank=None if current_bank is None else float(current_bank),
        current_bank_date=current_bank_date,
        weeks_to_start=weeks,
        bank_gap=gap,
        weekly_run_rate=run,
        weekly_run_rate_gross=run_gross,
        planned_stage1=float(n.planned.sum()),
        planned_stage4=float(n.planned4.sum()),
        planned_bookings=planned_bookings,
        horizon_weeks=horizon_weeks,
        by_source=by_dimension.get("source", {}),
        by_product=by_dimension.get("product", {}),
        by_cell=by_cell,
        by_dimension=by_dimension,
        stage4_needed_by_period=_need_by_period(sc, n, total),
        first_stage=sc.stages[0].name,
        decision_stage=sc.stages[-1].name,
    )


def _inputs(sc, bookings, ending_bank, starting_bank, current_bank, current_bank_date):
    """The funnel's plan inputs: the arguments given, else the ``[funnel]`` table, checked."""
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
    return bookings, ending_bank, start_cells, current_bank, current_bank_date


class _Needs:
    """Per cell: the base-value rates, the plan, the bookings and ending bank split over cells,
    and the decision-stage and entry-stage creation each needs.
    """

    def __init__(self, sc, bookings, ending_bank, start_cells):
        k = len(sc.stages)
        self.start_cells = start_cells
        self.rates = rates = [cell_rates(p, k) for p in sc.params]
        bad = [sc.cell_labels[i] for i, r in enumerate(rates) if r.win <= 0 or r.dollar_conversion <= 0]
        self.planned = planned = np.array([planned_creation(sc, c) for c in range(len(sc.cells))])
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
        self.rm = rm = np.array([r.retire_multiple for r in rates])
        self.rm0 = rm0 = np.array([r.retire_multiple_no_push for r in rates])
        self.rm_model = np.array([r.retire_multiple_model for r in rates])
        self.conv = conv = np.array([r.dollar_conversion for r in rates])
        self.win = np.array([r.win for r in rates])
        self.push = np.array([r.push for r in rates])
        self.days = days = np.array([r.decision_days for r in rates])
        with np.errstate(divide="ignore", invalid="ignore"):
            self.planned4 = planned4 = planned * conv
            book_w = _weights(np.where(np.isfinite(rm), planned4 / rm, 0.0), start_cells)
            bank_w = _weights(planned4 * days, start_cells)
        self.cell_book = cell_book = bookings * book_w
        self.cell_end = cell_end = ending_bank * bank_w
        self.need4 = need4 = rm * cell_book + cell_end - start_cells
        self.need4_0 = need4_0 = rm0 * cell_book + cell_end - start_cells
        with np.errstate(divide="ignore", invalid="ignore"):
            self.need1 = np.where(conv > 0, need4 / conv, 0.0)
            self.need1_0 = np.where(conv > 0, need4_0 / conv, 0.0)

    def line(self, idx) -> FunnelLine:
        """The funnel of the cells ``idx`` together."""
        idx = np.asarray(idx, dtype=np.int64)
        b = self.cell_book[idx].sum()
        n1 = self.need1[idx].sum()
        w_b = _weights(self.cell_book[idx], np.ones(len(idx)))
        w_1 = _weights(self.need1[idx], np.ones(len(idx)))
        td = float((np.array([self.rates[i].to_decision for i in idx]) * w_1).sum())
        wr = float((self.win[idx] * w_b).sum())
        return FunnelLine(
            bookings=float(b),
            starting_bank=float(self.start_cells[idx].sum()),
            ending_bank=float(self.cell_end[idx].sum()),
            retire_multiple=float((self.rm[idx] * w_b).sum()),
            retire_multiple_no_push=float((self.rm0[idx] * w_b).sum()),
            stage4_created_needed=float(self.need4[idx].sum()),
            stage4_created_needed_no_push=float(self.need4_0[idx].sum()),
            stage1_created_needed=float(n1),
            stage1_created_needed_no_push=float(self.need1_0[idx].sum()),
            to_decision=td,
            win_rate=wr,
            stack=td * wr,
            planned_stage1=float(self.planned[idx].sum()),
            share_of_stage1=float(n1 / self.need1.sum()) if self.need1.sum() else math.nan,
        )


def _stack_steps(sc, n: _Needs, total: FunnelLine) -> list:
    """The stack, stage by stage, weighted by each cell's entry-stage need."""
    k = len(sc.stages)
    w1 = _weights(n.need1, np.ones(len(n.need1)))
    steps = []
    stage_names = [s.name for s in sc.stages]
    for s in range(k - 1):
        adv = [stage_advance(p, k)[s] for p in sc.params]
        steps.append((f"{stage_names[s]} -> {stage_names[s + 1]}", float((np.array(adv) * w1).sum())))
    steps.append((f"{stage_names[-1]} -> Won", total.win_rate))
    return steps


def _bank_gap(sc, n: _Needs, start_total, current_bank, current_bank_date) -> tuple:
    """``(gap, weeks, net run rate, gross run rate)`` from today's bank to the starting bank."""
    gap = weeks = run = run_gross = None
    if current_bank is not None:
        gap = start_total - float(current_bank)
        if current_bank_date is not None:
            weeks = (sc.start - current_bank_date).days / 7.0
            if weeks > 0:
                run = gap / weeks
                # Retirement-aware: today's bank and what is added both retire at 1/T per day.
                t_days = float((n.days * _weights(n.start_cells, n.planned4)).sum())
                T = t_days / 7.0
                decay = math.exp(-weeks / T) if T > 0 else 0.0
                run_gross = (
                    (start_total - float(current_bank) * decay) / (T * (1.0 - decay)) if T > 0 else run
                )
    return gap, weeks, run, run_gross


def _need_by_period(sc, n: _Needs, total: FunnelLine) -> dict:
    """The decision-stage need over the reporting periods, shaped like the plan's creation calendar."""
    per = make_periods(sc.start, sc.horizon_days, sc.period, sc.fiscal_year_start_month)
    of_day = per.of_day(sc.horizon_days)
    shape = np.zeros(len(per))
    for c in range(len(sc.cells)):
        daily = daily_plan(sc, c)
        if daily.sum() > 0:
            np.add.at(shape, of_day, daily / daily.sum() * max(n.need4[c], 0.0))
    shape = _weights(shape, per.start_day[1:] - per.start_day[:-1])
    return {label: float(total.stage4_created_needed * s) for label, s in zip(per.labels, shape)}


# ---------------------------------------------------------------------------------------
# Beside the simulation


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
        """A readable table and the explanation in words.

        Returns
        -------
        str
        """
        cur = self.funnel.currency
        labels = {
            "stage1_created": f"{self.funnel.first_stage or 'stage 1'} created",
            "stage4_created": f"{self.funnel.decision_stage or 'decision stage'} created",
        }
        rows = []
        for name, r in self.rows.items():
            fmt = (lambda v: f"{v:.2f}x") if name == "retire_multiple" else (lambda v: money(v, cur))
            rows.append(
                [
                    labels.get(name, name.replace("_", " ")),
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
    planned = np.array([planned_creation(sc, c) for c in range(len(sc.cells))])
    plan = {
        "planned": planned,
        "planned4": planned * np.array([r.dollar_conversion for r in rates]),
        "end_cells": np.array([f.by_cell[label]["ending_bank"] for label in sc.cell_labels]),
        "start_cells": starting_decision_bank(sc),
        "inv_rm": np.divide(1.0, rm, out=np.zeros_like(rm), where=rm > 0),
    }
    full = decision_flows(simulate(sc, trials, seed, progress=progress), sc)
    at_base = decision_flows(simulate(sc, trials, seed, progress=progress, model=base_model(sc)), sc)
    tot = {name: v.sum(axis=1) for name, v in full.items()}
    rows = _comparison_rows(f, plan, tot, trials)
    effects = _effects(sc, f, plan, at_base, tot)
    return FunnelComparison(f, int(trials), as_seed(seed), rows, effects)


def _comparison_rows(f, plan, tot, trials) -> dict:
    """The funnel's figures beside the simulated means, with their Monte-Carlo errors."""
    planned4, start_cells, end_cells = plan["planned4"], plan["start_cells"], plan["end_cells"]
    rows = {}
    # The keys are those of ``simcore funnel --json`` (stage 1, stage 4: the first and decision stages).
    for name, planned_value in (
        ("stage1_created", plan["planned"].sum()),
        ("stage4_created", planned4.sum()),
        ("starting_bank", start_cells.sum()),
        ("ending_bank", end_cells.sum()),
        ("retired", (planned4 + start_cells - end_cells).sum()),
    ):
        key = {"stage1_created": "entry_created", "stage4_created": "decision_created"}.get(name, name)
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
    return rows


def _delivered_share(sc) -> np.ndarray:
    """Per cell, the share of its planned creation created at base values: its attainment's
    planning value (PERT base, Beta mean; 1 without) times the share capacity leaves.
    """
    share = np.array(
        [1.0 if p.creation.attainment is None else base(p.creation.attainment) for p in sc.params]
    )
    if sc.capacity is not None:
        model = compile_scenario(sc)  # the count tables are not built: this is cheap
        plan = model.creation_rate.sum(axis=1)
        check = model.capacity
        dim = list(sc.dimensions).index(check.dimension)
        for c, cell in enumerate(sc.cells):
            if cell[dim] in check.values and plan[c] > 0:
                v = check.values.index(cell[dim])
                full = check.need[v].sum()
                share[c] *= (check.factor[v] * check.need[v]).sum() / full if full > 0 else 1.0
    return share


def _effects(sc, f, plan, b, tot) -> list:
    """The bookings difference funnel - simulation, split into its four reasons, in words."""
    planned4, end_cells, inv_rm = plan["planned4"], plan["end_cells"], plan["inv_rm"]
    first, decision = sc.stages[0].name, sc.stages[-1].name
    delivered4 = planned4 * _delivered_share(sc)
    truncation = ((delivered4[None, :] - b["decision_created"]) * inv_rm).sum(axis=1)
    undelivered = np.full(truncation.shape, ((planned4 - delivered4) * inv_rm).sum())
    ending = ((b["ending_bank"] - end_cells[None, :]) * inv_rm).sum(axis=1)
    carry = (b["retired"] * inv_rm - b["won"]).sum(axis=1)
    uncertainty = b["won"].sum(axis=1) - tot["won"]
    cur = sc.currency
    m4, _ = _mean_se(b["decision_created"].sum(axis=1))
    me, _ = _mean_se(b["ending_bank"].sum(axis=1))
    rb = b["retired"].sum(axis=1).mean() / max(b["won"].sum(axis=1).mean(), 1e-300)
    effects = []
    if (delivered4 < planned4).any():
        effects.append(
            {
                "name": "creation not delivered (attainment, capacity)",
                "dollars": float(undelivered[0]),
                "se": 0.0,
                "text": f"the plan's {first} creation delivered at its planning attainment and within "
                f"capacity is {money(delivered4.sum(), cur)} of {decision} pipeline, not "
                f"{money(planned4.sum(), cur)}: what is not created books nothing",
            }
        )
    for name, values, text in (
        (
            f"horizon truncation ({decision} creation)",
            truncation,
            f"the plan's {first} dollars{' delivered' if (delivered4 < planned4).any() else ''} x conversion "
            f"are {money(delivered4.sum(), cur)} of {decision} "
            f"pipeline, but only {money(m4, cur)} reaches {decision} inside the horizon: deals created "
            "late are still in earlier stages at the end",
        ),
        (
            "horizon truncation (ending bank)",
            ending,
            f"the simulation ends with {money(me, cur)} open in {decision}, the plan assumed "
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
    return effects
