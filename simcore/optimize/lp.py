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
    lp_count: int = 0


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


def selection_lp(problem: Problem, x_start, max_iter=40) -> Solution:
    """Improve a plan by trial selection (module docstring, step 2).

    Returns the best plan found with the duals of its LP, or ``x=None`` when the
    first selection is already infeasible (the limits cannot hit the kept trials).
    """
    n = problem.n
    x = np.asarray(x_start, dtype=np.float64)
    best = Solution(None)
    for _ in range(max_iter):
        rows_A, rows_b, spans = [], [], []
        if len(problem.b_ub):
            rows_A.append(problem.A_ub)
            rows_b.append(problem.b_ub)
        start = len(problem.b_ub)
        for ch in problem.chances:
            margin = ch.G @ x - ch.h
            keep = np.argsort(-margin, kind="stable")[: ch.need]
            rows_A.append(-ch.G[keep])
            rows_b.append(-ch.h[keep] - _SAFETY)
            spans.append((start, start + len(keep)))
            start += len(keep)
        A = np.vstack(rows_A) if rows_A else np.zeros((0, n))
        b = np.concatenate(rows_b) if rows_b else np.zeros(0)
        res = _linprog(problem.c, A, b, _bounds(problem))
        best.lp_count += 1
        if res.status != 0:
            if best.x is None:
                best.status = "infeasible"
            break
        new = np.clip(res.x, problem.lb, problem.ub)
        improved = best.x is None or res.fun < best.fun - 1e-9 * max(1.0, abs(best.fun))
        if improved:
            best.x, best.fun, best.status = new, float(res.fun), "optimal"
            duals = res.ineqlin.marginals
            best.row_duals = duals[: len(problem.b_ub)]
            best.upper_duals = res.upper.marginals
            best.lower_duals = res.lower.marginals
            best.chance_duals = [float(duals[a:b_].sum()) for a, b_ in spans]
        if not improved:
            break
        x = new
    return best


def _subsample(problem: Problem, size, seed=0) -> Problem:
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


def solve(problem: Problem, starts=None, cvar_trials=2000) -> Solution:
    """Minimise ``c . x`` under the chance constraints (CVaR start, then trial selection).

    ``starts``: plans to start the trial selection from (e.g. the previous solution); by
    default the CVaR plan, computed on ``cvar_trials`` evenly spaced trials (it is only a
    start: the selection LPs use every trial). Returns the cheapest plan found; ``x`` is None
    when no start leads to a feasible selection.
    """
    best = Solution(None, status="infeasible")
    starts = list(starts) if starts is not None else []
    if not starts:
        small = _subsample(problem, cvar_trials)
        starts = cvar_start(small)
        if not starts:
            # CVaR is conservative: it can be infeasible when the chance constraint is not.
            starts = cvar_start(small, minimise_risk=True)
    count = 0
    for x0 in starts:
        sol = selection_lp(problem, x0)
        count += sol.lp_count
        if sol.x is not None and sol.fun < best.fun:
            best = sol
    best.lp_count = count + len(starts)
    return best


def best_confidence(problem: Problem, index=0, tol_trials=None) -> tuple:
    """The highest confidence of chance constraint ``index`` the linear limits allow.

    Bisection on the number of trials to hit, each step a :func:`solve`. Returns
    ``(confidence, plan)``; the plan is the cheapest one found at that confidence.
    """
    ch = problem.chances[index]
    T = len(ch.h)
    risk = cvar_start(_subsample(problem, 2000), minimise_risk=True)
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
        # Two starts: the best plan so far, and the CVaR plan at this level (when it exists).
        small = _subsample(trial, 2000)
        sol = solve(trial, starts=[lo_x] + (cvar_start(small) or cvar_start(small, minimise_risk=True)))
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
