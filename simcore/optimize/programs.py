"""Which programs to fund: a mixed-integer choice over the simulated trials.

Every program is simulated on its own against the base plan with one seed
(:func:`simcore.analysis.programs.evaluate_programs`): ``d[t, j]``, the bookings program ``j``
adds in trial ``t`` (a paired difference). A set ``S`` of programs books, in trial ``t``,
``base[t] + sum_{j in S} d[t, j]``. For programs that add creation this is exact trial by trial,
even for programs feeding one cell (each program's deals come from random-number streams of
its own); rate lifts interact with what else is funded in their cells (a lifted win rate
books the other programs' deals too), so the chosen set is then simulated as a whole and its
own figures are reported beside the model's. Over these trials the choice is a mixed-integer
program, solved exactly by scoring every set (:mod:`simcore.optimize.program_search`, up to
22 programs) or, past that, by HiGHS through :func:`scipy.optimize.milp`:

- ``x_j`` in {0, 1}: program ``j`` funded; ``y_t`` in {0, 1}: trial ``t`` books the target;
- ``sum_j d[t, j] x_j >= (target - base[t]) y_t + lo_t (1 - y_t)``, with ``lo_t`` the least the
  programs can add in trial ``t`` (so ``y_t = 0`` never binds); a trial the base plan already
  hits, or that no set of programs can make hit, has no ``y_t``;
- at most one program of each exclusive group; ``x_j <= x_k`` when ``j`` requires ``k``;
- objective ``cost``: the least ``sum_j cost_j x_j`` with ``sum_t y_t >= confidence x trials``
  (the target reached at the confidence); objective ``p_hit``: the most trials hit with
  ``sum_j cost_j x_j <= budget``, the cheaper set among those hitting as many.

The creation plan is the scenario's, held fixed: programs are chosen on top of it (the
``simcore optimize`` creation plan is a separate question).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simcore import checks
from simcore.analysis.programs import ProgramsResult, evaluate_programs, quarter_bookings
from simcore.engine.compile import compile_scenario
from simcore.engine.programs import with_programs
from simcore.errors import SimcoreError
from simcore.format import money, percent, points, table
from simcore.optimize.program_search import MAX_EXACT, search
from simcore.result import Result
from simcore.scenario.load import Scenario, check_scenario

__all__ = ["ProgramChoice", "choose_programs", "solve_choice"]


@dataclass
class ProgramChoice(Result):
    """The programs to fund.

    Attributes
    ----------
    objective : str
        ``"cost"`` (least cost to reach the target at the confidence) or ``"p_hit"`` (best
        confidence within the budget).
    feasible : bool
        The request can be met (``cost``: some set reaches the confidence); ``p_hit`` always is.
    message : str
    evaluated, selected : int
        Programs evaluated; programs chosen.
    chosen : list of str
    cost : float
        Cost of the chosen set inside the horizon.
    confidence, budget : float or None
        As requested.
    p_hit_model : float
        P(hit) of the chosen set under the sum-of-programs model, over the trials.
    p_hit_simulated : float
        P(hit) of the chosen set simulated as a whole (same trials).
    p_hit_base : float
        P(hit) of the base plan.
    p50_simulated : float
        P50 bookings of the chosen set, simulated as a whole.
    programs : list of dict
        Per program: ``name``, ``selected``, ``cost``, ``added_mean``, ``added_p50``,
        ``added_p10``, ``added_p90``, ``p_hit_change``, ``bookings_per_dollar``.
    currency : str
    trials, seed : int
    status : str
        What HiGHS said.
    """

    objective: str
    feasible: bool
    message: str
    evaluated: int
    selected: int
    chosen: list
    cost: float
    confidence: float | None
    budget: float | None
    p_hit_model: float
    p_hit_simulated: float
    p_hit_base: float
    p50_simulated: float
    programs: list
    currency: str
    trials: int
    seed: int
    status: str = ""
    evaluation: ProgramsResult = field(default=None, repr=False)

    _table = "programs"

    def text(self) -> str:
        """The choice as the CFO reads it: X evaluated, Y selected, cost and returns of each.

        Returns
        -------
        str
        """
        m = lambda v: money(v, self.currency)  # noqa: E731
        rows = [
            [
                "yes" if r["selected"] else "",
                r["name"],
                m(r["cost"]),
                m(r["added_p50"]),
                f"{m(r['added_p10'])} to {m(r['added_p90'])}",
                points(r["p_hit_change"]) if r.get("p_hit_change") is not None else "-",
                f"{r['bookings_per_dollar']:.2f}" if r["bookings_per_dollar"] is not None else "-",
            ]
            for r in self.programs
        ]
        ask = (
            f"least cost to reach P(hit) {percent(self.confidence)}"
            if self.objective == "cost"
            else f"best P(hit) for a budget of {m(self.budget)}"
        )
        lines = [
            f"{self.evaluated} programs evaluated, {self.selected} selected ({ask}; {self.trials:,} trials, seed {self.seed})",
            f"Cost of the selection: {m(self.cost)}. P(hit): base plan {percent(self.p_hit_base)}, "
            f"with the selection {percent(self.p_hit_simulated)} simulated as a whole "
            f"({percent(self.p_hit_model)} as the sum of programs); P50 bookings {m(self.p50_simulated)}",
            self.message,
            "",
            table(
                rows,
                [
                    "funded",
                    "Program",
                    "cost",
                    "bookings added P50",
                    "P10 to P90",
                    "P(hit) change alone",
                    "bookings / $",
                ],
            ),
        ]
        return "\n".join(lines)


def _constraints(n, scenario, names):
    """Rows ``(coefficients over x, lo, hi)`` of the groups and requirements."""
    rows = []
    index = {name: j for j, name in enumerate(names)}
    for _, members in scenario.program_groups:
        row = np.zeros(n)
        for name in members:
            if name in index:
                row[index[name]] = 1.0
        if row.sum() > 1:
            rows.append((row, -np.inf, 1.0))
    for name in names:
        p = scenario.programs[[q.name for q in scenario.programs].index(name)]
        for other in p.requires:
            row = np.zeros(n)
            row[index[name]] = 1.0
            if other in index:
                row[index[other]] = -1.0
                rows.append((row, -np.inf, 0.0))
            else:  # its requirement is not on offer: it cannot be funded
                rows.append((row, -np.inf, 0.0))
    return rows


def _cents(x):
    return np.round(np.asarray(x, dtype=np.float64) * 100.0).astype(np.int64)


def _masks(rows, n):
    """The exclusive groups and requirements of ``_constraints`` rows as bit masks."""
    groups, requires = [], [0] * n
    for row, _lo, hi in rows:
        if hi == 1.0:
            groups.append(sum(1 << j for j in range(n) if row[j] > 0))
        else:
            j = int(np.flatnonzero(row > 0)[0])
            others = np.flatnonzero(row < 0)
            # A requirement not on offer: the program needs itself twice, which no set satisfies
            # except those without it (bit 62 is never set).
            requires[j] |= (1 << int(others[0])) if len(others) else (1 << 62)
    return groups, requires


def solve_choice(
    base, d, cost, target, *, confidence=None, budget=None, rows=(), time_limit=60.0, method="auto"
):
    """The choice over trials (see the module's docstring): exact search or mixed-integer program.

    Parameters
    ----------
    base : numpy.ndarray
        (trials,) bookings of the base plan.
    d : numpy.ndarray
        (trials, programs) bookings each program adds.
    cost : numpy.ndarray
        (programs,) costs.
    target : float
    confidence : float, optional
        For the ``cost`` objective.
    budget : float, optional
        For the ``p_hit`` objective (when ``confidence`` is not given).
    rows : sequence of (numpy.ndarray, float, float)
        More linear constraints on ``x``: ``lo <= row . x <= hi``.
    time_limit : float
        Seconds HiGHS may take.
    method : {"auto", "exact", "milp"}
        ``exact``: every set scored (:func:`simcore.optimize.program_search.search`, up to
        ``MAX_EXACT`` programs); ``milp``: the mixed-integer program (HiGHS); ``auto``: exact
        when it can be. Both read amounts rounded to the cent.

    Returns
    -------
    (numpy.ndarray or None, str)
        The 0/1 choice (None when no choice meets the confidence), and how it was found.

    Examples
    --------
    >>> base = np.array([90.0, 95.0, 100.0, 80.0])
    >>> d = np.array([[5.0, 12.0], [5.0, 12.0], [0.0, 0.0], [5.0, 12.0]])
    >>> x, _ = solve_choice(base, d, np.array([1.0, 3.0]), 100.0, confidence=0.75)
    >>> x.tolist()
    [0.0, 1.0]
    """
    T, n = d.shape
    d_cents, need_cents = _cents(d), _cents(target) - _cents(base)
    if method == "exact" or (method == "auto" and n <= MAX_EXACT):
        groups, requires = _masks(rows, n)
        if confidence is not None:
            needed = max(math.ceil(confidence * T - 1e-9), 0)
            mask, _ = search(d_cents.T, need_cents, _cents(cost), groups, requires, hits_needed=needed)
        else:
            mask, _ = search(
                d_cents.T, need_cents, _cents(cost), groups, requires, budget=int(_cents(budget))
            )
        if mask is None:
            return None, f"exact search of all {2**n:,} sets: none meets the request"
        return np.array(
            [(mask >> j) & 1 for j in range(n)], dtype=np.float64
        ), f"exact search of all {2**n:,} sets"
    return _milp(d_cents / 100.0, need_cents / 100.0, cost, confidence, budget, rows, time_limit)


def _milp(d, need, cost, confidence, budget, rows, time_limit):
    """The mixed-integer program of the module's docstring, by HiGHS."""
    # scipy.optimize is imported here, not at the top: `import simcore` would otherwise pay for it.
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    T, n = d.shape
    lo = np.minimum(d, 0.0).sum(axis=1)
    hi = np.maximum(d, 0.0).sum(axis=1)
    sure = need <= 0
    open_ = ~sure & (hi >= need)  # trials some set of programs could make hit
    idx = np.flatnonzero(open_)
    m = len(idx)
    A_rows, lows, highs = [], [], []
    # sum_j d[t, j] x_j - (need_t - lo_t) y_t >= lo_t
    G = sparse.csr_matrix(d[idx])
    Y = sparse.csr_matrix((-(need[idx] - lo[idx]), (np.arange(m), np.arange(m))), shape=(m, m))
    A_rows.append(sparse.hstack([G, Y]))
    lows.append(lo[idx])
    highs.append(np.full(m, np.inf))
    for row, a, b in rows:
        A_rows.append(sparse.csr_matrix(np.concatenate([row, np.zeros(m)])[None, :]))
        lows.append([a])
        highs.append([b])
    hits = np.concatenate([np.zeros(n), np.ones(m)])
    spend = np.concatenate([cost, np.zeros(m)])
    if confidence is not None:
        needed = math.ceil(confidence * T - 1e-9) - int(sure.sum())
        A_rows.append(sparse.csr_matrix(hits[None, :]))
        lows.append([needed])
        highs.append([np.inf])
        c = spend
    else:
        A_rows.append(sparse.csr_matrix(spend[None, :]))
        lows.append([-np.inf])
        highs.append([budget * (1 + 1e-12)])
        # The most trials hit; among sets hitting as many, the cheaper (the cost term adds < 0.5).
        c = -hits + 0.5 * spend / (cost.sum() + 1.0)
    res = milp(
        c,
        constraints=LinearConstraint(
            sparse.vstack(A_rows).tocsr(), np.concatenate(lows), np.concatenate(highs)
        ),
        integrality=np.ones(n + m),
        bounds=Bounds(0, 1),
        options={"time_limit": float(time_limit), "mip_rel_gap": 0.0},
    )
    if res.x is None:
        return None, f"HiGHS: {res.message}"
    return np.round(res.x[:n]), f"HiGHS: {res.message}"


_SHOWN = ("cost", "added_mean", "added_p50", "added_p10", "added_p90", "p_hit_change", "bookings_per_dollar")


def _request(sc, confidence, budget):
    """``(confidence, budget)``: one of them, from the arguments or the scenario's ``[optimize]``."""
    opt = sc.raw.get("optimize") or {}
    if confidence is not None and budget is not None:
        raise SimcoreError("give either a confidence (least cost) or a budget (best P(hit)), not both")
    if confidence is None and budget is None:
        if opt.get("objective") == "p_hit" and "budget" in opt:
            budget = float(opt["budget"])
        else:
            confidence = float(opt.get("confidence", 0.9))
    return confidence, budget


def _message(feasible, confidence, sim_hit, model_hit) -> str:
    if not feasible:
        return (
            f"No set of programs reaches P(hit) {percent(confidence)}: the best reachable is "
            f"{percent(model_hit)} (the selection shown)."
        )
    if confidence is not None and sim_hit < confidence:
        return (
            f"The selection reaches {percent(sim_hit)} simulated as a whole, short of {percent(confidence)}: "
            "its rate lifts add less together than alone; fund one more or re-run with more trials."
        )
    return "The selection meets the request on the trials simulated."


def choose_programs(
    scenario: Scenario,
    trials: int = 10_000,
    seed=0,
    *,
    confidence: float | None = None,
    budget: float | None = None,
    evaluation: ProgramsResult | None = None,
    time_limit: float = 60.0,
    progress=False,
) -> ProgramChoice:
    """Choose the programs to fund: the target at the confidence at least cost, or the best
    P(hit) within a budget.

    Parameters
    ----------
    scenario : Scenario
        With ``[[program]]`` tables and a ``target``.
    trials : int, default 10000
    seed : int
    confidence : float, optional
        Required P(bookings >= target) (default: ``[optimize] confidence``, else 0.9), for the
        least-cost choice.
    budget : float, optional
        Instead: the most to spend on programs, for the best P(hit) (``[optimize] budget`` with
        ``objective = "p_hit"`` sets it too).
    evaluation : ProgramsResult, optional
        A :func:`~simcore.analysis.programs.evaluate_programs` of the same scenario, trials and
        seed, to reuse.
    time_limit : float
        Seconds the solver may take.
    progress : bool or None

    Returns
    -------
    ProgramChoice

    Raises
    ------
    SimcoreError
        Without a target or programs, or with both a confidence and a budget.

    Examples
    --------
    >>> from simcore import load_scenario
    >>> r = choose_programs(load_scenario("scenarios/programs.toml"), trials=300, seed=1, budget=1_000_000)
    >>> r.evaluated, r.cost <= 1_000_000
    (7, True)
    """
    sc = check_scenario(scenario)
    trials = checks.whole("trials", trials, 1)
    if sc.target is None:
        raise SimcoreError(f"{sc.file}: choosing programs needs a target (the scenario's target)")
    confidence, budget = _request(sc, confidence, budget)
    ev = evaluation or evaluate_programs(sc, trials, seed, progress=progress)
    names = [r["name"] for r in ev.programs]
    horizon = sc.horizon_days
    by_name = {p.name: p for p in sc.programs}
    cost = np.array([by_name[n].cost(horizon) for n in names])
    base = ev.base_bookings.sum(axis=1)
    x, status = solve_choice(
        base,
        ev.own,
        cost,
        sc.target,
        confidence=confidence,
        budget=budget,
        rows=_constraints(len(names), sc, names),
        time_limit=time_limit,
    )
    feasible = x is not None
    if not feasible:  # the confidence cannot be reached: the best P(hit) with everything on offer
        x, status = solve_choice(
            base,
            ev.own,
            cost,
            sc.target,
            budget=float(cost.sum()) + 1.0,
            rows=_constraints(len(names), sc, names),
        )
    chosen = [n for n, v in zip(names, x, strict=True) if v > 0.5]
    model_hit = float((_cents(ev.own) @ x.astype(np.int64) >= _cents(sc.target) - _cents(base)).mean())
    funded = [by_name[n] for n in chosen]
    q = quarter_bookings(
        with_programs(compile_scenario(sc, "quarter"), funded),
        ev.trials,
        ev.seed,
        sc.raw.get("sampling", "random"),
    )
    year = q.sum(axis=1)
    sim_hit = float((year >= sc.target).mean())
    message = _message(feasible, confidence, sim_hit, model_hit)
    records = [
        {"name": r["name"], "selected": r["name"] in chosen, **{k: r.get(k) for k in _SHOWN}}
        for r in ev.programs
    ]
    return ProgramChoice(
        objective="cost" if confidence is not None else "p_hit",
        feasible=feasible,
        message=message,
        evaluated=len(names),
        selected=len(chosen),
        chosen=chosen,
        cost=float(cost @ x),
        confidence=confidence,
        budget=budget,
        p_hit_model=model_hit,
        p_hit_simulated=sim_hit,
        p_hit_base=float((base >= sc.target).mean()),
        p50_simulated=float(np.quantile(year, 0.5)),
        programs=records,
        currency=sc.currency,
        trials=ev.trials,
        seed=ev.seed,
        status=status,
        evaluation=ev,
    )
