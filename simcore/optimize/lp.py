"""The chance-constrained linear programs behind :func:`simcore.optimize.plan.optimize`.

Plain arrays in, plain arrays out (no scenario, no Dataset), like the kernel.

The sample-average problem over ``T`` simulated trials is

    minimise    c . x
    subject to  A_ub x <= b_ub,  lb <= x <= ub,
                for each chance constraint i:  #{t : G_i[t] . x >= h_i[t]} >= k_i

with ``k_i = ceil(alpha_i T)``. Exactly, that is a MILP with one binary per trial,
which HiGHS does not solve in seconds at 10,000 trials. We solve it in two steps:

1. **CVaR start** (Rockafellar & Uryasev 2000; Nemirovski & Shapiro 2006): replace each
   chance constraint by ``CVaR_alpha(h - G x) <= 0``, its tightest convex conservative
   approximation. One LP; the plan it gives always meets the confidence, with room to spare.
2. **Trial selection**: at the current plan keep the ``k_i`` trials with the largest
   margins ``G x - h`` and solve the LP that must hit the target in exactly those trials.
   The current plan is feasible for that LP, so the optimum can only fall; repeat until
   it stops falling. Each step is an exact optimum of the SAA problem with the failing
   trials fixed, the local search of Ahmed, Luedtke et al.'s "scenario selection" heuristics;
   it ends at a plan whose confidence under the linear model is exactly the requested one
   (the last trial kept is binding). Later re-linearisations start from the previous plan.

Rows are scaled so that numbers are of order one (dollars / target, plan in units of
``scale`` dollars); callers convert back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

# A trial counts as hit when its margin is at least -_HIT_TOL (in units of the target):
# floating-point round-off of an LP vertex must not turn a binding trial into a miss.
_HIT_TOL = 1e-9
# Selected trials must be hit with this much to spare, so that the count is exact.
_SAFETY = 2e-9


@dataclass
class Chance:
    """``P(G x >= h) >= alpha`` over the rows (trials) of ``G``; ``name`` for messages."""

    G: np.ndarray
    h: np.ndarray
    alpha: float
    name: str
    target: float = 1.0  # dollars the rows were divided by (for duals per target dollar)

    @property
    def need(self) -> int:
        """Trials that must be hit: ceil(alpha T), with a guard against 0.9 * 10000 = 9000.000001."""
        return math.ceil(self.alpha * len(self.h) - 1e-9)

    def hits(self, x) -> np.ndarray:
        return self.G @ x - self.h >= -_HIT_TOL

    def confidence(self, x) -> float:
        return float(self.hits(x).mean())


@dataclass
class Problem:
    """The SAA problem in scaled units (see the module docstring)."""

    c: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    A_ub: np.ndarray
    b_ub: np.ndarray
    row_names: list
    chances: list

    @property
    def n(self) -> int:
        return len(self.c)


@dataclass
class Solution:
    """An LP answer: the plan, its objective, and the duals of the last LP solved."""

    x: np.ndarray | None
    fun: float = math.inf
    status: str = ""
    row_duals: np.ndarray | None = None  # d objective / d b_ub (<= 0 for binding rows)
    upper_duals: np.ndarray | None = None  # d objective / d ub
    lower_duals: np.ndarray | None = None  # d objective / d lb
    chance_duals: list = field(default_factory=list)  # sum of the selected trials' duals
    trial_duals: list = field(default_factory=list)  # per chance constraint, each kept trial's dual
    kept: list = field(default_factory=list)  # per chance constraint, the trials kept
    lp_count: int = 0
    others: list = field(default_factory=list)  # (objective, plan) of the other starts' local optima


def _linprog(c, A, b, bounds):
    # scipy.optimize is imported here, not at the top: `import simcore` (and so every
    # `simcore run`) would otherwise pay ~0.15 s for it.
    from scipy.optimize import linprog

    res = linprog(c, A_ub=A, b_ub=b, bounds=bounds, method="highs")
    return res


def _bounds(problem, extra=0, extra_bounds=(None, None)):
    out = [(lo, None if not math.isfinite(hi) else hi) for lo, hi in zip(problem.lb, problem.ub)]
    return out + [extra_bounds] * extra


def cvar_start(problem: Problem, levels=None, minimise_risk=False):
    """Plans from the CVaR approximation, one per level ``beta >= alpha`` (conservative to exact).

    With ``minimise_risk`` (the request is infeasible as stated) the LP minimises the sum of the
    CVaRs instead, subject to the linear constraints: the most robust plan the limits allow.
    Returns a list of plans (possibly empty when the LP is infeasible).
    """
    from scipy import sparse

    n = problem.n
    plans = []
    for shift in levels or [0.0]:
        cols = n
        col_of = []
        for ch in problem.chances:
            T = len(ch.h)
            col_of.append((cols, cols + 1, cols + 1 + T))
            cols += 1 + T
        c = np.zeros(cols)
        if not minimise_risk:
            c[:n] = problem.c
        rows_A = []
        rows_b = []
        if len(problem.b_ub):
            rows_A.append(
                sparse.hstack(
                    [sparse.csr_matrix(problem.A_ub), sparse.csr_matrix((len(problem.b_ub), cols - n))]
                )
            )
            rows_b.append(problem.b_ub)
        for ch, (eta, u0, u1) in zip(problem.chances, col_of):
            T = len(ch.h)
            beta = min(ch.alpha + shift * (1.0 - ch.alpha), 1.0 - 0.5 / T)
            # u_t >= h_t - G_t x - eta  <=>  -G_t x - eta - u_t <= -h_t
            left = sparse.csr_matrix(-ch.G)
            r = np.concatenate([np.arange(T), np.arange(T)])
            k = np.concatenate([np.full(T, eta - n), np.arange(u0 - n, u1 - n)])
            mid = sparse.csr_matrix((-np.ones(2 * T), (r, k)), shape=(T, cols - n))
            rows_A.append(sparse.hstack([left, mid]))
            rows_b.append(-ch.h)
            weight = 1.0 / ((1.0 - beta) * T)
            if minimise_risk:
                c[eta] += 1.0
                c[u0:u1] += weight
            else:
                row = np.zeros(cols)
                row[eta] = 1.0
                row[u0:u1] = weight
                rows_A.append(sparse.csr_matrix(row))
                rows_b.append(np.zeros(1))
        A = sparse.vstack(rows_A).tocsr()
        b = np.concatenate(rows_b)
        bounds = _bounds(problem)
        for _eta, u0, u1 in col_of:
            bounds += [(None, None)] + [(0.0, None)] * (u1 - u0)
        res = _linprog(c, A, b, bounds)
        if res.status == 0:
            plans.append(np.clip(res.x[:n], problem.lb, problem.ub))
    return plans


def _selection_step(problem: Problem, x, excluded=None):
    """The LP that meets, for each chance constraint, the ``need`` trials with the largest margins
    at ``x`` (never the ``excluded`` ones): ``(result, spans, kept)``.

    Row generation: with a handful of plan variables only a few kept trials bind, so the LP starts
    from the kept trials with the smallest margins and adds those the solution misses until it
    meets all of them. The answer is the full LP's; ``result.ineqlin.marginals`` is laid out as if
    every kept row were present (zeros for the rows never added).
    """
    kept = []
    for i, ch in enumerate(problem.chances):
        margin = ch.G @ x - ch.h
        if excluded is not None and excluded[i]:
            margin = margin.copy()
            margin[list(excluded[i])] = -np.inf
        kept.append(np.argsort(-margin, kind="stable")[: ch.need])
    active = [keep[-min(len(keep), 8 * problem.n + 32) :] for keep in kept]  # the smallest margins
    while True:
        res, pos = _selection_lp_rows(problem, active)
        if res.status != 0:
            return res, [], kept
        y = np.clip(res.x, problem.lb, problem.ub)
        grown = False
        for i, (ch, keep) in enumerate(zip(problem.chances, kept)):
            miss = keep[ch.G[keep] @ y - ch.h[keep] < _SAFETY * 0.5]
            miss = np.setdiff1d(miss, active[i], assume_unique=False)
            if len(miss):
                active[i] = np.concatenate([active[i], miss[: 4 * problem.n + 64]])
                grown = True
        if not grown:
            break
    # Duals laid out over all kept rows (limits first, then each chance constraint's kept trials).
    m0 = len(problem.b_ub)
    full = [res.ineqlin.marginals[:m0]]
    spans, start = [], m0
    for i, keep in enumerate(kept):
        where = np.full(len(problem.chances[i].h), -1)
        where[keep] = np.arange(len(keep))
        d = np.zeros(len(keep))
        d[where[active[i]]] = res.ineqlin.marginals[pos[i] : pos[i] + len(active[i])]
        full.append(d)
        spans.append((start, start + len(keep)))
        start += len(keep)
    res.ineqlin.marginals = np.concatenate(full)
    return res, spans, kept


def _selection_lp_rows(problem: Problem, active):
    """The LP with the limits and the ``active`` trial rows: ``(result, first row of each block)``."""
    n = problem.n
    rows_A, rows_b, pos = [], [], []
    if len(problem.b_ub):
        rows_A.append(problem.A_ub)
        rows_b.append(problem.b_ub)
    start = len(problem.b_ub)
    for ch, act in zip(problem.chances, active):
        rows_A.append(-ch.G[act])
        rows_b.append(-ch.h[act] - _SAFETY)
        pos.append(start)
        start += len(act)
    A = np.vstack(rows_A) if rows_A else np.zeros((0, n))
    b = np.concatenate(rows_b) if rows_b else np.zeros(0)
    return _linprog(problem.c, A, b, _bounds(problem)), pos


def _record(best: Solution, problem: Problem, res, spans):
    best.x = np.clip(res.x, problem.lb, problem.ub)
    best.fun, best.status = float(res.fun), "optimal"
    duals = res.ineqlin.marginals
    best.row_duals = duals[: len(problem.b_ub)]
    best.upper_duals = res.upper.marginals
    best.lower_duals = res.lower.marginals
    best.chance_duals = [float(duals[a:b_].sum()) for a, b_ in spans]
    best.trial_duals = [duals[a:b_] for a, b_ in spans]


def selection_lp(problem: Problem, x_start, max_iter=40, excluded=None) -> Solution:
    """Improve a plan by trial selection (module docstring, step 2).

    Returns the best plan found with the duals of its LP, or ``x=None`` when the
    first selection is already infeasible (the limits cannot hit the kept trials).
    """
    x = np.asarray(x_start, dtype=np.float64)
    best = Solution(None)
    for _ in range(max_iter):
        res, spans, kept = _selection_step(problem, x, excluded)
        best.lp_count += 1
        if res.status != 0:
            if best.x is None:
                best.status = "infeasible"
            break
        improved = best.x is None or res.fun < best.fun - 1e-9 * max(1.0, abs(best.fun))
        if not improved:
            break
        _record(best, problem, res, spans)
        best.kept = kept
        x = best.x
    return best


def swap_search(problem: Problem, sol: Solution, rounds=12) -> Solution:
    """1-opt over the trials met: give up one binding trial (the kept trial rows with a nonzero
    dual) and meet the next-best one instead; keep the swap when the plan gets cheaper.

    The selection LP stops at a plan whose kept trials are the ones with the largest margins; a
    binding trial of the annual target is what holds the plan up, and releasing it is the move
    a branch-and-bound would branch on. Returns the cheapest plan found.
    """
    if sol.x is None:
        return sol
    best, excluded = sol, [set() for _ in problem.chances]
    for _ in range(rounds):
        candidates = []
        for i, (duals, keep) in enumerate(zip(best.trial_duals, best.kept)):
            for r in np.flatnonzero(duals < -1e-12):
                candidates.append((float(duals[r]), i, int(keep[r])))
        improved = False
        for _dual, i, t in sorted(candidates)[: max(problem.n, 4)]:
            trial = [set(e) for e in excluded]
            trial[i].add(t)
            new = selection_lp(problem, best.x, excluded=trial)
            if new.x is not None and new.fun < best.fun - 1e-7 * max(1.0, abs(best.fun)):
                new.lp_count += best.lp_count
                best, excluded, improved = new, trial, True
                break
        if not improved:
            break
    return best


def subsample(problem: Problem, size) -> Problem:
    """The same problem on an evenly spaced subset of trials (for a cheap CVaR start)."""
    chances = []
    for ch in problem.chances:
        T = len(ch.h)
        if T <= size:
            chances.append(ch)
            continue
        idx = np.linspace(0, T - 1, size).astype(np.int64)
        chances.append(Chance(ch.G[idx], ch.h[idx], ch.alpha, ch.name))
    return replace(problem, chances=chances)


def also_x_start(problem: Problem, steps=6) -> np.ndarray | None:
    """An ALSO-X style start (Jiang & Xie 2022): bisection on the objective.

    For a cost level ``u``, the LP ``min sum_t max(0, h_t - G_t x)`` over the first chance
    constraint's trials, with ``c . x <= u`` and the limits, gives the plan that misses the
    target by the least in total; its count of trials met grows with ``u``. The smallest level
    whose plan meets enough trials is the start. Returns None when no level does.
    """
    from scipy import sparse

    ch = problem.chances[0]
    T, n = ch.G.shape
    hi_x = cvar_start(problem) or cvar_start(problem, minimise_risk=True)
    if not hi_x:
        return None
    hi = float(problem.c @ hi_x[0])
    lo, best = 0.0, hi_x[0] if ch.hits(hi_x[0]).sum() >= ch.need else None
    c = np.concatenate([np.zeros(n), np.full(T, 1.0 / T)])
    # s_t >= h_t - G_t x  <=>  -G_t x - s_t <= -h_t
    hinge = sparse.hstack([sparse.csr_matrix(-ch.G), -sparse.identity(T, format="csr")])
    rows = [hinge]
    rhs = [-ch.h]
    if len(problem.b_ub):
        rows.append(
            sparse.hstack([sparse.csr_matrix(problem.A_ub), sparse.csr_matrix((len(problem.b_ub), T))])
        )
        rhs.append(problem.b_ub)
    budget_row = sparse.csr_matrix(np.concatenate([problem.c, np.zeros(T)])[None, :])
    bounds = _bounds(problem) + [(0.0, None)] * T
    for _ in range(steps):
        u = 0.5 * (lo + hi)
        A = sparse.vstack(rows + [budget_row]).tocsr()
        res = _linprog(c, A, np.concatenate(rhs + [[u]]), bounds)
        if res.status != 0:
            lo = u
            continue
        x = np.clip(res.x[:n], problem.lb, problem.ub)
        if ch.hits(x).sum() >= ch.need:
            hi, best = u, x
        else:
            lo = u
    return best


def corner_starts(problem: Problem, pairs=True) -> list:
    """Plans that put everything on one unit (and, with ``pairs``, on two): starts in every
    corner of the plan space, from which the selection LPs find the basins a CVaR start misses.
    """
    n = problem.n
    open_ = [j for j in range(n) if problem.ub[j] > 0]
    big = 10.0 * max(
        1.0, float(np.max(np.abs(problem.chances[0].h))) / max(float(problem.chances[0].G.max()), 1e-12)
    )
    out = []
    for j in open_:
        x = np.array(problem.lb, dtype=np.float64)
        x[j] = big
        out.append(x)
    if len(open_) <= 6:
        # Directions spread over the simplex (a fixed generator: same starts on every run).
        rng = np.random.default_rng(20261201)
        for w in rng.dirichlet(np.ones(len(open_)), size=8 * len(open_)):
            x = np.array(problem.lb, dtype=np.float64)
            x[open_] = big * w
            out.append(x)
    if pairs and len(open_) <= 6:
        for a in range(len(open_)):
            for b in range(a + 1, len(open_)):
                x = np.array(problem.lb, dtype=np.float64)
                x[open_[a]] = x[open_[b]] = big
                out.append(x)
    return out


def solve(problem: Problem, starts=None, cvar_trials=1000, fresh=True, swaps=12, also_x=True) -> Solution:
    """Minimise ``c . x`` under the chance constraints (several starts, trial selection, 1-opt swaps).

    ``starts``: plans to start the trial selection from (e.g. the previous solution), besides
    the CVaR and ALSO-X plans computed on ``cvar_trials`` evenly spaced trials (they are only
    starts: the selection LPs use every trial). ``swaps``: rounds of 1-opt swaps on the best
    plan; ``also_x=False`` leaves out the ALSO-X start (a bisection of LPs). Returns the cheapest plan found; ``x`` is None when no start leads to a feasible
    selection.
    """
    best = Solution(None, status="infeasible")
    starts = list(starts) if starts is not None else []
    # Several starts, whatever is given: the sample problem is not convex, and a start from the
    # previous plan alone keeps the search in that plan's basin.
    if fresh or not starts:
        small = subsample(problem, cvar_trials)
        cvar = cvar_start(small)
        if not cvar:
            # CVaR is conservative: it can be infeasible when the chance constraint is not.
            cvar = cvar_start(small, minimise_risk=True)
        also = also_x_start(small) if also_x else None
        starts += cvar + ([also] if also is not None else []) + corner_starts(problem)
    count, found = 0, []
    for x0 in starts:
        sol = selection_lp(problem, x0)
        count += sol.lp_count
        if sol.x is not None:
            found.append((sol.fun, sol.x))
            if sol.fun < best.fun:
                best = sol
    best = swap_search(problem, best, rounds=swaps)  # the 1-opt polish, on the best start only
    best.lp_count += count + len(starts)
    best.others = distinct_plans(found, exclude=best.x)
    return best


def distinct_plans(found, exclude=None, min_distance=0.1) -> list:
    """``(objective, plan)`` pairs, cheapest first, without near repeats: a plan whose shares
    differ from a cheaper one's (or ``exclude``'s) by less than ``min_distance`` (L1) is dropped.

    Parameters
    ----------
    found : list of (float, numpy.ndarray)
        Local optima: objective and plan.
    exclude : numpy.ndarray, optional
        A plan already kept elsewhere (the best one).
    min_distance : float
        Least L1 distance between the shares of two plans kept.

    Returns
    -------
    list of (float, numpy.ndarray)

    Examples
    --------
    >>> import numpy as np
    >>> found = [(2.0, np.array([1.0, 1.0])), (1.0, np.array([2.0, 0.0])), (1.5, np.array([2.0, 2.02]))]
    >>> [f for f, _ in distinct_plans(found)]  # the 2.0 plan has the 1.5 plan's shares, nearly
    [1.0, 1.5]
    """
    out, seen = [], []
    if exclude is not None and np.sum(exclude) > 0:
        seen.append(np.asarray(exclude) / np.sum(exclude))
    for fun, x in sorted(found, key=lambda f: f[0]):
        total = float(np.sum(x))
        if total <= 0:
            continue
        share = x / total
        if any(np.abs(share - s).sum() < min_distance for s in seen):
            continue
        seen.append(share)
        out.append((float(fun), x))
    return out


def best_confidence(problem: Problem, index=0, tol_trials=None) -> tuple:
    """The highest confidence of chance constraint ``index`` the linear limits allow.

    Bisection on the number of trials to hit, each step a :func:`solve`. Returns
    ``(confidence, plan)``; the plan is the cheapest one found at that confidence.
    """
    ch = problem.chances[index]
    T = len(ch.h)
    risk = cvar_start(subsample(problem, 2000), minimise_risk=True)
    if not risk:
        return 0.0, None
    lo_x = risk[0]
    lo = int(ch.hits(lo_x).sum())
    hi = ch.need  # infeasible by assumption
    tol = tol_trials or max(1, T // 2000)
    while hi - lo > tol:
        mid = (lo + hi) // 2
        trial = replace(
            problem,
            chances=[
                Chance(c.G, c.h, (mid if j == index else c.need) / len(c.h), c.name)
                for j, c in enumerate(problem.chances)
            ],
        )
        # The best plan so far and a fresh solve's starts (CVaR, ALSO-X, corners, on 1,000
        # trials). A second CVaR start on 2,000 trials was a third of the time of an infeasible
        # request (fy2026 at 90%), for the same answer.
        sol = solve(trial, starts=[lo_x])
        if sol.x is not None:
            lo, lo_x = max(lo, int(ch.hits(sol.x).sum())), sol.x
        else:
            hi = mid
    return lo / T, lo_x


def shortfall_lp(problem: Problem, x, index=0):
    """Which limits stop chance constraint ``index``: duals of the least-shortfall LP.

    Keeps the ``need`` trials with the largest margins at ``x`` and minimises the shortfall
    ``z`` (in units of the target) with ``G_t x + z >= h_t`` on them. The dual of each
    linear limit says how much the shortfall falls per unit of relaxation. Returns
    ``(z, row_duals, upper_duals)`` or None.
    """
    ch = problem.chances[index]
    n = problem.n
    margin = ch.G @ x - ch.h
    keep = np.argsort(-margin, kind="stable")[: ch.need]
    A = np.vstack(
        [
            np.hstack([problem.A_ub, np.zeros((len(problem.b_ub), 1))]),
            np.hstack([-ch.G[keep], -np.ones((len(keep), 1))]),
        ]
    )
    b = np.concatenate([problem.b_ub, -ch.h[keep]])
    c = np.zeros(n + 1)
    c[-1] = 1.0
    res = _linprog(c, A, b, _bounds(problem, 1, (0.0, None)))
    if res.status != 0:
        return None
    return float(res.fun), res.ineqlin.marginals[: len(problem.b_ub)], res.upper.marginals[:n]
