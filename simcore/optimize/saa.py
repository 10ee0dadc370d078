"""The certificate: a lower bound on the sample problem's optimum, and its exact solution where
the size allows (a mixed-integer program solved by HiGHS through :func:`scipy.optimize.milp`).

The sample problem (:mod:`simcore.optimize.lp`) with one binary ``z_t`` per trial, "trial ``t``
meets the target", is

    minimise    c . x
    subject to  A_ub x <= b_ub,  lb <= x <= ub,
                G_t . x >= h_t - M_t (1 - z_t)      for every trial t of every chance constraint,
                sum_t z_t >= k,                      z_t in {0, 1}.

Big-M from the data (quantile strengthening, :func:`floors`): every plan that meets the
constraint has ``G_t . x >= L_t``, the ``k``-th smallest over trials ``s`` of the least
``G_t . x`` among plans that meet trial ``s`` (bookings per dollar are never negative, so that
least value is ``h_s`` times the smallest ratio ``G_tj / G_sj``). ``M_t = h_t - L_t`` is then
valid, and much tighter than ``h_t``. Before the MILP every trial is classified:

- *free*: ``L_t >= h_t``: every plan that meets the constraint meets it: removed, ``k`` falls by one;
- *out of reach* for an incumbent of cost ``U``: the cheapest plan that meets trial ``t`` alone,
  ignoring every limit but the bounds (a fractional knapsack, :func:`_single_trial_cost`), costs
  more than ``U``: no plan as good as the incumbent meets it, so it is removed as missed;
- the rest get a binary.

The bound reported is the best of: the MILP's dual bound (HiGHS's own, at the end of the
search, whether it finished or hit its node limit), and the *quantile bound*: a plan that meets
``k`` trials costs at least the single-trial cost of each of them, so at least the ``k``-th
smallest single-trial cost. The gap is ``(c . x - bound) / c . x``, as a MILP solver reports it.

The node limit (not a time limit) keeps the answer the same on every machine: same seed, same
plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from simcore.engine._jit import jit
from simcore.optimize.lp import Problem

# Trials kept in the MILP are met with this much to spare (units of the target), so that a
# plan read back from HiGHS (feasibility tolerance 1e-7) counts them as met.
_MARGIN = 1e-6


@dataclass
class Certificate:
    """What is known about the sample problem's optimum.

    Attributes
    ----------
    fun : float
        Objective of the best plan known (scaled units of ``problem.c``).
    bound : float
        A lower bound on the optimum of the sample problem.
    gap : float
        ``(fun - bound) / |fun|``; 0 means the plan is proven optimal (to the MILP's tolerance).
    method : str
        How the bound was obtained, in words.
    x : numpy.ndarray or None
        A plan better than the incumbent, when the MILP found one.
    binaries, nodes : int
        Trials left with a binary after the classification; branch-and-bound nodes.
    """

    fun: float
    bound: float
    gap: float
    method: str
    x: np.ndarray | None = None
    binaries: int = 0
    nodes: int = 0


def _single_trial_cost(problem: Problem, G, h) -> np.ndarray:
    """Per trial, the least ``c . x`` with ``G_t . x >= h_t`` and ``lb <= x <= ub`` only.

    A fractional knapsack per trial, vectorised: buy the units with the most bookings per unit of
    cost first. ``inf`` where the bounds cannot meet the trial.
    """
    lb, ub, c = problem.lb, problem.ub, problem.c
    base = c @ lb
    need = h - G @ lb
    T, n = G.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(G > 0, c[None, :] / G, np.inf)  # cost per unit of margin
    order = np.argsort(ratio, axis=1, kind="stable")
    room = np.where(np.isfinite(ub - lb), ub - lb, np.inf)
    cost = np.full(T, base)
    left = need.copy()
    rows = np.arange(T)
    for k in range(n):
        j = order[:, k]
        g = G[rows, j]
        with np.errstate(invalid="ignore"):
            take_margin = np.minimum(left, np.where(g > 0, g * room[j], 0.0))
            take_margin = np.where(left > 0, np.maximum(take_margin, 0.0), 0.0)
            cost += np.where(take_margin > 0, take_margin * ratio[rows, j], 0.0)
        left = left - take_margin
    cost[need <= 0] = base
    cost[left > 1e-12 * np.maximum(1.0, np.abs(h))] = np.inf
    return cost


def quantile_bound(problem: Problem) -> float:
    """The ``k``-th smallest single-trial cost, largest over the chance constraints."""
    out = -math.inf
    for ch in problem.chances:
        cost = np.sort(_single_trial_cost(problem, ch.G, ch.h))
        if ch.need > 0:
            out = max(out, float(cost[ch.need - 1]))
    return out if out > -math.inf else float(problem.c @ problem.lb)


def certify(
    problem: Problem, x_incumbent, *, max_binaries=120, max_trials=4000, node_limit=2000, rel_gap=1e-4
):
    """Bound the sample problem's optimum and, where the size allows, solve it exactly.

    Parameters
    ----------
    problem : Problem
        The sample problem (scaled units).
    x_incumbent : numpy.ndarray
        The best plan known (meets the chance constraints of ``problem``).
    max_binaries : int
        The MILP is run only when at most this many trials keep a binary.
    max_trials : int
        Past this many trials (over all chance constraints) only the quantile bound is computed.
    node_limit : int
        Branch-and-bound nodes HiGHS may use (deterministic, unlike a time limit).
    rel_gap : float
        HiGHS stops when its relative gap is below this.

    Returns
    -------
    Certificate

    Examples
    --------
    >>> import numpy as np
    >>> from simcore.optimize.lp import Chance, Problem
    >>> G = np.array([[1.0], [2.0], [4.0]]); h = np.ones(3)  # trial t is met when x >= 1/G_t
    >>> p = Problem(np.ones(1), np.zeros(1), np.full(1, np.inf), np.zeros((0, 1)), np.zeros(0), [],
    ...             [Chance(G, h, 2 / 3, "target")])
    >>> cert = certify(p, np.array([1.0]))
    >>> round(float(cert.x[0]), 4), round(cert.gap, 6)
    (0.5, 0.0)
    """
    x_inc = np.asarray(x_incumbent, dtype=np.float64)
    U = float(problem.c @ x_inc)
    q_bound = quantile_bound(problem)
    if sum(len(ch.h) for ch in problem.chances) > max_trials:
        # The strengthening costs trials^2 and the relaxation's LP grows with the trials: past a
        # few thousand trials only the quantile bound is computed (and said).
        gap = max((U - min(q_bound, U)) / abs(U), 0.0) if U else 0.0
        return Certificate(
            U, min(q_bound, U), gap, "quantile bound (sample too large for the MILP relaxation)"
        )
    parts = [_classify(problem, ch, U) for ch in problem.chances]
    binaries = sum(len(p[0]) for p in parts)
    bound, method, better, nodes = q_bound, "quantile bound", None, 0
    relaxed = _relaxation(problem, parts, U)
    if relaxed > bound:
        bound, method = relaxed, "LP relaxation of the strengthened MILP"
    if binaries <= max_binaries:
        res = _milp(problem, parts, U, node_limit, rel_gap)
        nodes = int(getattr(res, "mip_node_count", 0) or 0)
        if res.status == 2:  # nothing cheaper than the incumbent: it is optimal
            bound, method = max(bound, U), "exact MILP (HiGHS): no plan is cheaper"
        elif res.x is not None or res.status in (0, 1):
            dual = getattr(res, "mip_dual_bound", None)
            if dual is not None and math.isfinite(dual) and dual > bound:
                bound = float(dual)
            method = "exact MILP (HiGHS)" if res.status == 0 else f"MILP bound (HiGHS, {nodes} nodes)"
            if res.x is not None and float(problem.c @ res.x[: problem.n]) < U - 1e-9 * max(1.0, abs(U)):
                better = np.clip(res.x[: problem.n], problem.lb, problem.ub)
    best = U if better is None else float(problem.c @ better)
    bound = min(bound, best)
    gap = (best - bound) / abs(best) if best else 0.0
    return Certificate(best, bound, max(gap, 0.0), method, better, binaries, nodes)


@jit(parallel=True)
def _kth_floor(G, h, usable, k):  # pragma: no cover (compiled)
    """Per trial t, the k-th smallest over trials s of min{G_t . x : G_s . x >= h_s, x >= 0}."""
    T, n = G.shape
    out = np.zeros(T)
    for t in numba.prange(T):
        m = np.empty(T)
        for s in range(T):
            if h[s] <= 0.0:
                m[s] = 0.0
                continue
            best = np.inf
            for j in range(n):
                if usable[j] and G[s, j] > 0.0:
                    r = G[t, j] / G[s, j]
                    if r < best:
                        best = r
            m[s] = h[s] * best
        out[t] = np.partition(m, k - 1)[k - 1]
    return out


def floors(problem: Problem, ch) -> np.ndarray:
    """A lower bound on ``G_t . x`` for every plan that meets ``ch`` (quantile strengthening).

    A plan that meets trial ``s`` has ``G_t . x >= m_ts = min{G_t . x : G_s . x >= h_s, x in box}``;
    it meets at least ``k`` trials, so ``G_t . x`` is at least the ``k``-th smallest ``m_ts``
    (Luedtke, Ahmed & Nemhauser 2010; Qiu, Ahmed, Dey & Wolsey 2014). The box is relaxed to
    ``x >= 0`` (units with ``ub = 0`` excluded), which keeps the bound valid.
    """
    if ch.need <= 0:
        return np.zeros(len(ch.h))
    usable = problem.ub > 0
    return _kth_floor(np.ascontiguousarray(ch.G), np.ascontiguousarray(ch.h), usable, int(ch.need))


def _classify(problem: Problem, ch, U):
    """(binary trial indices, their big-M, trials needed among them) for one chance constraint."""
    floor = np.maximum(floors(problem, ch), ch.G @ problem.lb)
    free = floor >= ch.h + _MARGIN  # every plan that meets the constraint meets this trial
    reach = _single_trial_cost(problem, ch.G, ch.h) <= U * (1 + 1e-9) + 1e-12
    keep = np.flatnonzero(~free & reach)
    # Free trials stay as plain rows (every plan that meets the constraint meets them; without
    # the rows the reduced MILP would be a relaxation); those the bounds alone meet need none.
    hard = np.flatnonzero(free & (ch.G @ problem.lb < ch.h + _MARGIN))
    return keep, ch.h[keep] + _MARGIN - floor[keep], max(ch.need - int(free.sum()), 0), hard


def _relaxation(problem: Problem, parts, U) -> float:
    """The strengthened MILP with ``0 <= z <= 1``: a lower bound, one LP."""
    res = _milp(problem, parts, U, 0, 0.0, relax=True)
    return float(res.fun) if res.status == 0 else (math.inf if res.status == 2 else -math.inf)


def _milp(problem: Problem, parts, U, node_limit, rel_gap, relax=False):
    """The big-M MILP over the classified trials, with ``c . x <= U`` (nothing worse is wanted)."""
    # scipy.optimize is imported here, not at the top: `import simcore` would otherwise pay for it.
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = problem.n
    m = sum(len(p[0]) for p in parts)
    c = np.concatenate([problem.c, np.zeros(m)])
    blocks, lo, hi = [], [], []
    if len(problem.b_ub):
        blocks.append(
            sparse.hstack([sparse.csr_matrix(problem.A_ub), sparse.csr_matrix((len(problem.b_ub), m))])
        )
        lo.append(np.full(len(problem.b_ub), -np.inf))
        hi.append(problem.b_ub)
    blocks.append(sparse.csr_matrix(np.concatenate([problem.c, np.zeros(m)])[None, :]))
    lo.append([-np.inf])
    hi.append([U * (1 + 1e-7) + 1e-12])
    col = n
    for ch, (keep, M, need, hard) in zip(problem.chances, parts):
        if len(hard):
            blocks.append(sparse.hstack([sparse.csr_matrix(ch.G[hard]), sparse.csr_matrix((len(hard), m))]))
            lo.append(ch.h[hard] + _MARGIN)
            hi.append(np.full(len(hard), np.inf))
        G, h = ch.G[keep], ch.h[keep] + _MARGIN
        k = len(keep)
        z = sparse.csr_matrix((-M, (np.arange(k), col + np.arange(k))), shape=(k, n + m))
        blocks.append(sparse.hstack([sparse.csr_matrix(G), sparse.csr_matrix((k, m))]) + z)
        lo.append(h - M)
        hi.append(np.full(k, np.inf))
        count = np.zeros(n + m)
        count[col : col + k] = 1.0
        blocks.append(sparse.csr_matrix(count[None, :]))
        lo.append([need])
        hi.append([np.inf])
        col += k
    A = sparse.vstack(blocks).tocsr()
    ub = np.concatenate([np.where(np.isfinite(problem.ub), problem.ub, np.inf), np.ones(m)])
    integrality = np.concatenate([np.zeros(n), np.ones(m)])
    if relax:
        integrality = np.zeros(n + m)
    return milp(
        c,
        integrality=integrality,
        bounds=Bounds(np.concatenate([problem.lb, np.zeros(m)]), ub),
        constraints=LinearConstraint(A, np.concatenate(lo), np.concatenate(hi)),
        options={"node_limit": node_limit, "mip_rel_gap": rel_gap, "time_limit": 20.0},
    )
