"""The exact search over sets of programs: every set, each scored over every trial.

With ``J`` programs there are ``2**J`` sets; each is scored on ``T`` trials (how many trials its
programs make book the target, and its cost). Sets are visited in Gray-code order, so going
from one set to the next adds or removes one program: ``T`` additions per set, in integer cents
(exact, whatever the order), spread over threads by the first programs' choices. At 20
programs and 10,000 trials that is 10**10 additions: seconds on two cores. Past
:data:`MAX_EXACT` programs the mixed-integer program (:func:`simcore.optimize.programs.solve_choice`
with HiGHS) takes over.
"""

from __future__ import annotations

import numba
import numpy as np

from simcore.engine._jit import jit

__all__ = ["MAX_EXACT", "search"]

#: The most programs the exact search takes (2**22 sets).
MAX_EXACT = 22


@jit(inline="always")
def _allowed(mask, groups, requires):
    for g in groups:
        x = mask & g
        if x & (x - 1):  # two or more of an exclusive group
            return False
    for j in range(len(requires)):
        if (mask >> j) & 1 and (mask & requires[j]) != requires[j]:
            return False
    return True


@jit(parallel=True)
def _search(d, need, cost, groups, requires, n_top, mode, level):  # pragma: no cover (compiled)
    """Best set per block of sets sharing their first ``n_top`` programs' choices.

    ``mode`` 0: the least cost with at least ``level`` trials hit; 1: the most trials hit with a
    cost of at most ``level``. Returns ``(mask, hits, cost)`` per block (mask -1: none).
    """
    J, T = d.shape
    low = J - n_top
    blocks = 1 << n_top
    best_mask = np.full(blocks, -1, dtype=np.int64)
    best_hits = np.zeros(blocks, dtype=np.int64)
    best_cost = np.zeros(blocks, dtype=np.int64)
    for b in numba.prange(blocks):
        mask = np.int64(b) << np.int64(low)
        tot = np.zeros(T, dtype=np.int64)
        spend = 0
        for j in range(low, J):
            if (mask >> j) & 1:
                spend += cost[j]
                for t in range(T):
                    tot[t] += d[j, t]
        for i in range(1 << low):
            if i > 0:
                j = 0
                while not (i >> j) & 1:
                    j += 1
                mask ^= np.int64(1) << np.int64(j)
                sign = 1 if (mask >> j) & 1 else -1
                spend += sign * cost[j]
                for t in range(T):
                    tot[t] += sign * d[j, t]
            if mode == 0 and best_mask[b] >= 0 and spend > best_cost[b]:
                continue
            if mode == 1 and spend > level:
                continue
            if not _allowed(mask, groups, requires):
                continue
            hits = 0
            for t in range(T):
                if tot[t] >= need[t]:
                    hits += 1
            if mode == 0:
                better = hits >= level and (
                    best_mask[b] < 0
                    or spend < best_cost[b]
                    or (spend == best_cost[b] and hits > best_hits[b])
                )
            else:
                better = (
                    best_mask[b] < 0 or hits > best_hits[b] or (hits == best_hits[b] and spend < best_cost[b])
                )
            if better:
                best_mask[b], best_hits[b], best_cost[b] = mask, hits, spend
    return best_mask, best_hits, best_cost


def search(d_cents, need_cents, cost, groups, requires, *, hits_needed=None, budget=None):
    """The best set of programs, by exhaustive search.

    Parameters
    ----------
    d_cents : numpy.ndarray
        (programs, trials) int64: what each program adds, in cents.
    need_cents : numpy.ndarray
        (trials,) int64: what the trial lacks to book the target, in cents (<= 0: hit already).
    cost : numpy.ndarray
        (programs,) int64 costs, in cents (exact sums).
    groups : list of int
        Bit masks of the exclusive groups.
    requires : list of int
        Per program, the bit mask of the programs it requires.
    hits_needed : int, optional
        Least trials hit (the least-cost choice).
    budget : int, optional
        Most cost in cents (the best-P(hit) choice), when ``hits_needed`` is not given.

    Returns
    -------
    (int or None, int)
        The chosen set as a bit mask (None when no set hits enough trials) and its trials hit.

    Examples
    --------
    >>> d = np.array([[5, 5, 0, 5], [12, 12, 0, 12]], dtype=np.int64)
    >>> need = np.array([10, 5, 0, 20], dtype=np.int64)
    >>> search(d, need, np.array([100, 300]), [], [0, 0], hits_needed=3)
    (2, 3)
    """
    J = d_cents.shape[0]
    if J > MAX_EXACT:
        raise ValueError(f"at most {MAX_EXACT} programs for the exact search, got {J}")
    n_top = min(J, 6)
    mode, level = (0, int(hits_needed)) if hits_needed is not None else (1, int(budget))
    masks, hits, costs = _search(
        np.ascontiguousarray(d_cents, dtype=np.int64),
        np.ascontiguousarray(need_cents, dtype=np.int64),
        np.ascontiguousarray(cost, dtype=np.int64),
        np.array(groups, dtype=np.int64),
        np.array(requires, dtype=np.int64),
        n_top,
        mode,
        level,
    )
    ok = masks >= 0
    if not ok.any():
        return None, 0
    if mode == 0:
        order = np.lexsort((masks[ok], -hits[ok], costs[ok]))
    else:
        order = np.lexsort((masks[ok], costs[ok], -hits[ok]))
    i = order[0]
    return int(masks[ok][i]), int(hits[ok][i])
