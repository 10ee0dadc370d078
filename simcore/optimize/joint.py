"""Programs chosen jointly with the creation plan: the least total cost (creation plus programs)
that books the target at the confidence, or the best P(hit) for a total budget.

A set ``S`` of programs is scored by the creation optimizer itself
(:func:`simcore.optimize.plan.optimize`, objective ``cost``) run with ``S`` funded beside the
plan (:class:`Funded`: the programs' own deals book the same whatever the plan's dollars, so
they join every trial's constant, as the starting bank does; their rate lifts change the
plan's deals in every simulation). Its total is the optimizer's creation cost
(``cost_per_dollar`` x planned dollars) plus the programs' cost inside the horizon. That is
exact for the set, and costs a few simulations; the search spends it on few sets:

1. **Proposals on the linear model.** At a creation plan ``x`` simulated (per-trial bookings
   ``bank_t + plan_t``) and each program's per-trial added bookings ``d[t, j]`` (the
   evaluation's, common random numbers), the plan scaled by ``lam`` books
   ``bank_t + lam plan_t + sum_{j in S} d[t, j]`` at creation cost ``lam C(x)``. For each
   ``lam`` of a grid the best set is found exactly (:func:`simcore.optimize.programs.solve_choice`,
   every set scored over the trials): the sets the grid proposes are the candidates.
2. **Each candidate scored exactly** by the optimizer (its own creation plan, reshaped for the
   programs funded: a program feeding one source lets the optimizer cut that source's creation).
3. **Re-linearise** at the best set's plan and propose again, until no new set is proposed
   (``iterations`` at most).
4. **Polish** (up to ``polish`` programs): the sets one change away from the best (a program
   added, dropped, or swapped within its exclusive group) that the linear model at the best
   set's plan puts within 15% of it, scored exactly, moving while one is better.

Also scored: no program at all (the optimizer's plan alone) and the programs
:func:`~simcore.optimize.programs.choose_programs` picks on top of the plan as written, so the
joint answer is never worse than either. The answer is the best set scored, re-run with the
out-of-sample check. It is not proven optimal over every set (that would take a creation
optimisation per set); the tests hold it within 1% of the exhaustive answer on small problems.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from simcore import checks
from simcore.analysis.programs import ProgramsResult, evaluate_programs, quarter_bookings
from simcore.engine.compile import compile_scenario
from simcore.engine.programs import with_programs
from simcore.engine.simulate import as_seed
from simcore.errors import SimcoreError
from simcore.format import money, percent, table
from simcore.optimize.context import say
from simcore.optimize.layout import build_layout
from simcore.optimize.plan import optimize
from simcore.optimize.programs import _constraints, _request, choose_programs, solve_choice
from simcore.optimize.sample import simulate_plan
from simcore.result import Result
from simcore.scenario.load import Scenario, check_scenario

__all__ = ["Funded", "JointChoice", "optimize_with_programs"]

# The creation scales the proposals try (1: the plan simulated), and the trials they use.
_GRID = np.round(np.arange(0.0, 1.5001, 0.125), 4)
_SCAN_TRIALS = 2000
# Polish: a neighbour is optimized only when the linear model puts it within this share of the best.
_NEAR = 0.15


class Funded:
    """Programs funded beside the creation plan, as the optimizer simulates them.

    The hook of :class:`simcore.optimize.layout.Layout` (``programs``): every plan the optimizer
    simulates gets the rate lifts of the funded programs (:meth:`model`), and each trial's
    constant gets the bookings of the programs' own deals (:meth:`bookings`). A program's
    creation is split over the cells it feeds by the scenario's plan as written (not by the
    plan being optimized), so its deals, and what they book, are the same whatever the plan:
    the optimizer's linear model stays exact at the plan simulated.

    Parameters
    ----------
    scenario : Scenario
    programs : iterable of simcore.scenario.programs.Program

    Examples
    --------
    >>> from simcore import load_scenario
    >>> from simcore.engine.compile import compile_scenario
    >>> sc = load_scenario("scenarios/programs.toml")
    >>> f = Funded(sc, sc.programs[:1])
    >>> f.bookings(compile_scenario(sc, "quarter"), 50, 0).shape
    (50, 4)
    """

    def __init__(self, scenario: Scenario, programs):
        self.programs = list(programs)
        self.base = compile_scenario(scenario, "quarter")
        self.lifting = [dataclasses.replace(p, creation_kind=None) for p in self.programs if p.effects]
        self.creating = [dataclasses.replace(p, effects=()) for p in self.programs if p.creation_kind]
        self._cache = {}

    def model(self, model):
        """The plan's model with the funded programs' rate lifts."""
        return with_programs(model, self.lifting)

    def bookings(self, model, trials, seed) -> np.ndarray:
        """(trials, quarters) bookings of the programs' own deals, under ``model``'s rates."""
        key = (int(trials), int(seed))
        if key not in self._cache:
            if not self.creating:
                self._cache[key] = np.zeros((trials, len(model.periods)))
            else:
                bare = model.with_creation_scale(0.0).without_bank()
                funded = with_programs(bare, self.creating, plan=self.base)
                # The optimizer's own simulations draw with "random" sampling (kernel_chunks).
                self._cache[key] = quarter_bookings(funded, trials, seed, "random")
        return self._cache[key]


@dataclass
class JointChoice(Result):
    """Programs and the creation plan chosen together.

    Attributes
    ----------
    objective : str
        ``"cost"`` (least total cost at the confidence) or ``"p_hit"`` (best P(hit) for a total
        budget).
    success : bool
        The request is met in-sample (``cost``), and the out-of-sample check is not more than
        2 standard errors short.
    message : str
    evaluated, selected : int
    chosen : list of str
    program_cost, creation_cost, total_cost : float
        Inside the horizon; creation cost is ``cost_per_dollar`` x planned dollars.
    confidence, budget : float or None
        As requested (``budget``: total, creation plus programs).
    confidence_in_sample, confidence_out_of_sample, confidence_out_of_sample_se : float
        P(hit) of the chosen plan with the chosen programs, simulated.
    plan : dict
        The creation plan, source -> quarter -> planned dollars.
    programs : list of dict
        Per program: ``name``, ``selected``, ``cost``, ``added_mean``, ``added_p50``,
        ``added_p10``, ``added_p90``, ``p_hit_change``, ``bookings_per_dollar`` (each alone,
        against the plan as written).
    on_top : dict
        The other answer, for comparison: programs chosen on top of the plan as written
        (``chosen``, ``program_cost``, ``creation_cost``, ``total_cost``, ``p_hit``).
    sets_scored : list of dict
        Every set the search scored with the optimizer: ``programs``, ``creation_cost``,
        ``program_cost``, ``total_cost``, ``confidence_in_sample``, ``met``, ``how``.
    currency : str
    trials, seed, verify_trials : int
    """

    objective: str
    success: bool
    message: str
    evaluated: int
    selected: int
    chosen: list
    program_cost: float
    creation_cost: float
    total_cost: float
    confidence: float | None
    budget: float | None
    confidence_in_sample: float
    confidence_out_of_sample: float
    confidence_out_of_sample_se: float
    plan: dict
    programs: list
    on_top: dict
    sets_scored: list
    currency: str
    trials: int
    seed: int
    verify_trials: int
    creation: object = field(default=None, repr=False)
    evaluation: ProgramsResult = field(default=None, repr=False)

    _table = "programs"

    def text(self) -> str:
        """X evaluated, Y selected, cost and returns per program, and the creation plan beside it.

        Returns
        -------
        str
        """
        m = lambda v: money(v, self.currency)  # noqa: E731
        ask = (
            f"least total cost to reach P(hit) {percent(self.confidence)}"
            if self.objective == "cost"
            else f"best P(hit) for a total budget of {m(self.budget)}"
        )
        out = "-" if math.isnan(self.confidence_out_of_sample) else percent(self.confidence_out_of_sample)
        top = self.on_top
        lines = [
            f"{self.evaluated} programs evaluated, {self.selected} selected with the creation plan "
            f"({ask}; {self.trials:,} trials, seed {self.seed}; {len(self.sets_scored)} sets optimized)",
            f"Total cost {m(self.total_cost)}: programs {m(self.program_cost)}, creation "
            f"{m(self.creation_cost)}. P(hit) {percent(self.confidence_in_sample)} in sample, "
            f"{out} out of sample ({self.verify_trials:,} new trials)",
            f"Programs on top of the plan as written instead: {len(top['chosen'])} funded, total cost "
            f"{m(top['total_cost'])} (programs {m(top['program_cost'])}, creation {m(top['creation_cost'])}), "
            f"P(hit) {percent(top['p_hit'])}" + ("" if top.get("meets", True) else ", short of the request"),
            self.message,
            "",
        ]
        rows = [
            [
                "yes" if r["selected"] else "",
                r["name"],
                m(r["cost"]),
                m(r["added_p50"]),
                f"{m(r['added_p10'])} to {m(r['added_p90'])}",
                f"{r['bookings_per_dollar']:.2f}" if r["bookings_per_dollar"] is not None else "-",
            ]
            for r in self.programs
        ]
        heads = ["funded", "Program", "cost", "bookings added P50", "P10 to P90", "bookings / $"]
        lines += [table(rows, heads), "", "Creation plan (planned entry-stage dollars):"]
        quarters = list(next(iter(self.plan.values()))) if self.plan else []
        plan_rows = [[s] + [m(v) for v in by_q.values()] for s, by_q in self.plan.items()]
        lines.append(table(plan_rows, ["source"] + quarters))
        return "\n".join(lines)


@dataclass
class _Scored:
    names: tuple
    result: object  # OptimizeResult
    program_cost: float
    met: bool
    how: str

    @property
    def total(self) -> float:
        return float(self.result.total_cost) + self.program_cost

    def key(self, objective):
        """Smaller is better: unmet sets last; then cost, or P(hit) then cost."""
        if objective == "cost":
            return (not self.met, self.total, self.names)
        return (not self.met, -self.result.confidence_in_sample, self.total, self.names)


class _Search:
    """The sets scored by the optimizer, and the proposals of the linear model."""

    def __init__(self, sc, ev, confidence, budget, opts, progress=False):
        self.sc, self.ev, self.opts, self.progress = sc, ev, opts, progress
        self.confidence, self.budget = confidence, budget
        self.objective = "cost" if confidence is not None else "p_hit"
        self.names = [r["name"] for r in ev.programs]
        by_name = {p.name: p for p in sc.programs}
        self.by_name = by_name
        self.cost = np.array([by_name[n].cost(sc.horizon_days) for n in self.names])
        self.rows = _constraints(len(self.names), sc, self.names)
        self.scored: dict = {}
        self._linear: dict = {}
        self.layout = build_layout(sc, "source", False)

    def allowed(self, names) -> bool:
        x = np.array([n in names for n in self.names], dtype=float)
        return all(lo <= row @ x <= hi for row, lo, hi in self.rows)

    def score(self, names, how, verify_trials=0):
        names = tuple(n for n in self.names if n in names)
        if names in self.scored and not verify_trials:
            return self.scored[names]
        pc = float(sum(self.by_name[n].cost(self.sc.horizon_days) for n in names))
        kw = dict(self.opts, verify_trials=verify_trials, spreadsheet=False, resolve=False)
        funded = Funded(self.sc, [self.by_name[n] for n in names]) if names else None
        if self.objective == "cost":
            r = optimize(self.sc, self.confidence, objective="cost", programs=funded, **kw)
            met = bool(r.feasible and r.confidence_in_sample >= self.confidence - 1e-12)
        elif self.budget - pc <= 0:
            return None  # the programs alone spend the budget: no creation (not scored)
        else:
            r = optimize(self.sc, objective="p_hit", budget=self.budget - pc, programs=funded, **kw)
            met = bool(r.feasible)
        s = _Scored(names, r, pc, met, how)
        if names not in self.scored:
            self.scored[names] = s
        say(self.progress, f"programs with the plan: {list(names) or 'none'}, total ${s.total:,.0f}")
        return s

    def best(self):
        return min(self.scored.values(), key=lambda s: s.key(self.objective))

    def linear(self, s: _Scored) -> tuple:
        """``(bank, plan, creation cost)``: per-trial bookings of the starting bank and of ``s``'s
        creation plan (no program funded, the first trials), and that plan's cost.
        """
        if s.names not in self._linear:
            x = np.asarray(s.result.x, dtype=np.float64).ravel()
            if len(x) != self.layout.n_units or x.sum() <= 0:
                x = self.layout.unit_dollars(self.layout.reference)
                creation_cost = float((self.layout.cost[:, None] * self.layout.reference).sum())
            else:
                creation_cost = float(s.result.total_cost)
            sim = simulate_plan(self.layout, x, min(self.ev.trials, _SCAN_TRIALS), self.ev.seed)
            self._linear[s.names] = (sim.bank.sum(axis=1), sim.unit_bookings.sum(axis=(1, 2)), creation_cost)
        return self._linear[s.names]

    def estimate(self, names, s: _Scored) -> float:
        """The least total cost of ``names`` on the linear model at ``s``'s plan (inf: out of reach)."""
        bank, plan, creation_cost = self.linear(s)
        x = np.array([n in names for n in self.names], dtype=np.float64)
        lams = np.linspace(0.0, _GRID[-1], 151)
        year = bank[None, :] + lams[:, None] * plan[None, :] + (self.ev.own[: len(bank)] @ x)[None, :]
        ok = (year >= self.sc.target).mean(axis=1) >= self.confidence
        return float(lams[ok][0] * creation_cost + self.cost @ x) if ok.any() else math.inf

    def propose(self, s: _Scored) -> list:
        """Sets the linear model at ``s``'s plan finds best, one per creation scale tried."""
        bank, plan, creation_cost = self.linear(s)
        d, target = self.ev.own[: len(bank)], self.sc.target
        found = []
        for lam in _GRID:
            base = bank + lam * plan
            if self.objective == "cost":
                choice, _ = solve_choice(
                    base, d, self.cost, target, confidence=self.confidence, rows=self.rows
                )
                if choice is None:
                    continue
                total = lam * creation_cost + float(self.cost @ choice)
                key = (total,)
            else:
                left = self.budget - lam * creation_cost
                if left < 0:
                    break
                choice, _ = solve_choice(base, d, self.cost, target, budget=left, rows=self.rows)
                hits = float((d @ choice + base >= target).mean())
                key = (-hits, lam * creation_cost + float(self.cost @ choice))
            found.append((key, tuple(n for n, v in zip(self.names, choice, strict=True) if v > 0.5)))
        out = []
        for _, names in sorted(found):
            if names not in out:
                out.append(names)
        return out

    def neighbours(self, names) -> list:
        """Sets one change from ``names``: a program added or dropped, or swapped within a group."""
        out = []
        for n in self.names:
            other = tuple(m for m in names if m != n) if n in names else tuple(names) + (n,)
            for extra in (other, tuple(other) + tuple(self.by_name[n].requires)):
                extra = tuple(m for m in self.names if m in set(extra))
                if self.allowed(extra) and extra not in out:
                    out.append(extra)
                    break
        for _, members in self.sc.program_groups:
            for a in members:
                for b in members:
                    if a in names and b not in names:
                        swap = tuple(m for m in self.names if (m in names and m != a) or m == b)
                        if self.allowed(swap) and swap not in out:
                            out.append(swap)
        return out


def _on_top(search: _Search, ev, confidence, budget) -> dict:
    """Programs chosen on top of the plan as written (the creation plan held), for comparison."""
    lay = search.layout
    creation_cost = float((lay.cost[:, None] * lay.reference).sum())
    if budget is not None:
        left = budget - creation_cost
        if left <= 0:
            return {"chosen": [], "program_cost": 0.0, "creation_cost": creation_cost,
                    "total_cost": creation_cost, "p_hit": ev.base["p_hit"]}  # fmt: skip
        top = choose_programs(search.sc, ev.trials, ev.seed, budget=left, evaluation=ev)
    else:
        top = choose_programs(search.sc, ev.trials, ev.seed, confidence=confidence, evaluation=ev)
    return {
        "chosen": list(top.chosen),
        "program_cost": float(top.cost),
        "creation_cost": creation_cost,
        "total_cost": creation_cost + float(top.cost),
        "p_hit": float(top.p_hit_simulated),
        "meets": bool(top.feasible and (confidence is None or top.p_hit_simulated >= confidence)),
    }


def _search(search: _Search, top_names, iterations, polish) -> _Scored:
    """Steps 1-4 of the module's docstring: the best set scored."""
    search.score((), "no program")
    search.score(tuple(top_names), "on top of the plan as written")
    current = search.best()
    for _ in range(iterations):
        fresh = [n for n in search.propose(current) if n not in search.scored][:3]
        if not fresh:
            break
        for names in fresh:
            search.score(names, "proposed by the linear model")
        new = search.best()
        if new.names == current.names:
            break
        current = new
    if len(search.names) <= polish:
        moved = True
        while moved:
            moved = False
            if search.objective == "cost":  # only neighbours the linear model finds near the best
                near = (1.0 + _NEAR) * search.estimate(current.names, current)
                todo = [n for n in search.neighbours(current.names) if search.estimate(n, current) <= near]
            else:
                todo = search.neighbours(current.names)
            for names in todo:
                if names not in search.scored:
                    search.score(names, "one change from the best")
            new = search.best()
            if new.names != current.names:
                current, moved = new, True
    return current


def optimize_with_programs(
    scenario: Scenario,
    confidence: float | None = None,
    *,
    budget: float | None = None,
    trials: int = 4000,
    seed=0,
    verify_trials: int = 20_000,
    iterations: int = 4,
    polish: int = 8,
    evaluation: ProgramsResult | None = None,
    progress=False,
) -> JointChoice:
    """Choose the programs to fund and the creation plan together.

    Parameters
    ----------
    scenario : Scenario
        With ``[[program]]`` tables, a ``target`` and ``cost_per_dollar`` per source (the
        creation's cost; default 1 per planned dollar). Its ``[optimize]`` limits bound the plan.
    confidence : float, optional
        Required P(hit), for the least total cost (default: ``[optimize] confidence``, else 0.9).
    budget : float, optional
        Instead: the total to spend, creation plus programs, for the best P(hit).
    trials, seed : int
        The in-sample trials, shared by the evaluation and every optimization (default 4000).
    verify_trials : int
        The out-of-sample check of the answer (``seed + 1``); 0 skips it.
    iterations : int
        Most re-linearisations of the proposals.
    polish : int
        Up to this many programs, the best set's neighbours are scored too (0: never).
    evaluation : ProgramsResult, optional
        :func:`~simcore.analysis.programs.evaluate_programs` of the same scenario, trials, seed.
    progress : bool or callable

    Returns
    -------
    JointChoice

    Raises
    ------
    SimcoreError
        Without programs or a target, with both a confidence and a budget.

    Examples
    --------
    Minutes at 2,000 trials (every set scored is a creation optimization): the tests run it.

    >>> from simcore import load_scenario
    >>> sc = load_scenario("scenarios/programs.toml")
    >>> r = optimize_with_programs(sc, 0.5, trials=2000)  # doctest: +SKIP
    >>> r.evaluated, r.selected, r.total_cost == r.program_cost + r.creation_cost  # doctest: +SKIP
    (7, 3, True)
    """
    sc = check_scenario(scenario)
    trials = checks.whole("trials", trials, 100)
    if sc.target is None:
        raise SimcoreError(
            f"{sc.file}: choosing programs with the plan needs a target (the scenario's target)"
        )
    if not sc.programs:
        raise SimcoreError(f"{sc.file}: the scenario declares no [[program]] to choose from")
    confidence, budget = _request(sc, confidence, budget)
    if confidence is not None:
        confidence = checks.fraction("confidence", confidence)
    elif not budget > 0:
        raise SimcoreError(f"the budget must be > 0 (total cost in dollars), got {budget}")
    seed = as_seed(seed)
    say(progress, f"programs with the plan: evaluating {len(sc.programs)} programs ({trials:,} trials)")
    ev = evaluation or evaluate_programs(sc, trials, seed)
    opts = {"trials": trials, "seed": seed, "iterations": 4, "progress": False}
    search = _Search(sc, ev, confidence, budget, opts, progress)
    top = _on_top(search, ev, confidence, budget)
    best = _search(search, top["chosen"], checks.whole("iterations", iterations, 1), polish)
    final = search.score(best.names, best.how, verify_trials=verify_trials) if verify_trials else best
    return _answer(search, ev, final, top, verify_trials)


def _answer(search: _Search, ev, final: _Scored, top: dict, verify_trials) -> JointChoice:
    r = final.result
    chosen = list(final.names)
    shown = (
        "cost",
        "added_mean",
        "added_p50",
        "added_p10",
        "added_p90",
        "p_hit_change",
        "bookings_per_dollar",
    )
    records = [
        {"name": p["name"], "selected": p["name"] in chosen, **{k: p.get(k) for k in shown}}
        for p in ev.programs
    ]
    out, se = float(r.confidence_out_of_sample), float(r.confidence_out_of_sample_se)
    if search.objective == "cost":
        short = verify_trials and out < search.confidence - 2 * se
        if not final.met:
            message = (
                f"No set of programs with any creation plan within the limits reaches P(hit) "
                f"{percent(search.confidence)}: the best shown reaches {percent(r.confidence_in_sample)}."
            )
        elif short:
            message = (
                f"Met in sample; out of sample {percent(out)} is more than 2 standard errors short of "
                f"{percent(search.confidence)}: re-run with more trials."
            )
        else:
            message = "The plan and the programs meet the request on the trials simulated."
        success = bool(final.met and not short)
    else:
        message, success = (
            f"Best P(hit) found for a total of {money(search.budget, search.sc.currency)}.",
            final.met,
        )
    return JointChoice(
        objective=search.objective,
        success=success,
        message=message,
        evaluated=len(search.names),
        selected=len(chosen),
        chosen=chosen,
        program_cost=final.program_cost,
        creation_cost=float(r.total_cost),
        total_cost=final.total,
        confidence=search.confidence,
        budget=search.budget,
        confidence_in_sample=float(r.confidence_in_sample),
        confidence_out_of_sample=out,
        confidence_out_of_sample_se=se,
        plan={s: dict(q) for s, q in r.plan.items()},
        programs=records,
        on_top=top,
        sets_scored=[
            {
                "programs": list(s.names),
                "creation_cost": float(s.result.total_cost),
                "program_cost": s.program_cost,
                "total_cost": s.total,
                "confidence_in_sample": float(s.result.confidence_in_sample),
                "met": s.met,
                "how": s.how,
            }
            for s in search.scored.values()
        ],
        currency=search.sc.currency,
        trials=int(ev.trials),
        seed=int(ev.seed),
        verify_trials=int(verify_trials),
        creation=r,
        evaluation=ev,
    )
