"""The exact search over sets of programs, each scored over every trial.

With ``J`` programs there are ``2**J`` sets; a set is scored on ``T`` trials (how many trials its
programs make book the target, and its cost), in integer cents (exact, whatever the order of
the sums). The search is a depth-first branch and bound, spread over threads by the first
programs' choices: a branch is cut as soon as its cost passes the best set found, or when
even every program left in it could not make it hit enough trials, so most sets are never
scored; the answer is the one plain enumeration gives (the tests hold it). Past
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


@jit(inline="always")
def _bound(tot, extra, need):
    """Trials that could still hit: ``tot + extra >= need``."""
    n = 0
    for t in range(len(tot)):
        if tot[t] + extra[t] >= need[t]:
            n += 1
    return n


@jit(inline="always")
def _groups_ok(mask, groups):
    for g in groups:
        x = mask & g
        if x & (x - 1):
            return False
    return True


@jit(parallel=True)
def _search(d, need, cost, groups, requires, suffix, n_top, mode, level, bound):  # pragma: no cover
    """Best set per block of sets sharing their first ``n_top`` programs' choices, by depth-first
    branch and bound over the other programs (bits ``low - 1`` down to 0).

    ``mode`` 0: the least cost with at least ``level`` trials hit (``bound``: a cost no better
    set exceeds); 1: the most trials hit with a cost of at most ``level`` (``bound``: trials a
    known set hits). A branch is cut when its cost already passes the best, or when even all
    of its remaining programs (``suffix[i]``: the positive part of programs ``0 .. i - 1``
    added) cannot make it better. Returns ``(mask, hits, cost)`` per block (mask -1: none).
    """
    J, T = d.shape
    low = J - n_top
    blocks = 1 << n_top
    best_mask = np.full(blocks, -1, dtype=np.int64)
    best_hits = np.zeros(blocks, dtype=np.int64)
    best_cost = np.zeros(blocks, dtype=np.int64)
    for b in numba.prange(blocks):
        mask = np.int64(b) << np.int64(low)
        if not _groups_ok(mask, groups):
            continue
        tot = np.zeros(T, dtype=np.int64)
        spend = 0
        for j in range(low, J):
            if (mask >> j) & 1:
                spend += cost[j]
                for t in range(T):
                    tot[t] += d[j, t]
        cap = bound if mode == 0 else level  # the most a set may cost
        top_hits = -1 if mode == 0 else bound  # hits a set must reach (mode 1: beat or tie)
        if spend > cap:
            continue
        state = np.zeros(low + 1, dtype=np.int8)
        k = 0
        while k >= 0:
            if k == low:
                if _allowed(mask, groups, requires):
                    hits = 0
                    for t in range(T):
                        if tot[t] >= need[t]:
                            hits += 1
                    if mode == 0:
                        if hits >= level and (
                            best_mask[b] < 0
                            or spend < best_cost[b]
                            or (spend == best_cost[b] and hits > best_hits[b])
                        ):
                            best_mask[b], best_hits[b], best_cost[b] = mask, hits, spend
                            cap = spend
                    elif hits > top_hits or (hits == top_hits and (best_mask[b] < 0 or spend < best_cost[b])):
                        best_mask[b], best_hits[b], best_cost[b] = mask, hits, spend
                        top_hits = hits
                k -= 1
                continue
            j = low - 1 - k
            bit = np.int64(1) << np.int64(j)
            if state[k] == 0:  # first branch: with program j
                state[k] = 1
                if spend + cost[j] > cap or not _groups_ok(mask | bit, groups):
                    continue
                mask |= bit
                spend += cost[j]
                for t in range(T):
                    tot[t] += d[j, t]
            elif state[k] == 1:  # second branch: without it
                state[k] = 2
                if mask & bit:
                    mask ^= bit
                    spend -= cost[j]
                    for t in range(T):
                        tot[t] -= d[j, t]
            else:
                k -= 1
                continue
            ub = _bound(tot, suffix[j], need)
            if mode == 0 and ub < level:
                continue
            if mode == 1 and (
                ub < top_hits or (ub == top_hits and best_mask[b] >= 0 and spend >= best_cost[b])
            ):
                continue
            k += 1
            state[k] = 0
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
    d = np.ascontiguousarray(d_cents, dtype=np.int64)
    cost = np.ascontiguousarray(cost, dtype=np.int64)
    n_top = min(J, 5)
    # suffix[i]: what programs 0 .. i - 1 could add at most (their positive parts).
    suffix = np.zeros((J + 1, d.shape[1]), dtype=np.int64)
    np.cumsum(np.maximum(d, 0), axis=0, out=suffix[1:])
    if hits_needed is not None:
        mode, level = 0, int(hits_needed)
        bound = int(cost.sum())  # no set costs more than all of them
    else:
        mode, level, bound = 1, int(budget), 0
    masks, hits, costs = _search(
        d,
        np.ascontiguousarray(need_cents, dtype=np.int64),
        cost,
        np.array(groups, dtype=np.int64),
        np.array(requires, dtype=np.int64),
        suffix,
        n_top,
        mode,
        level,
        bound,
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
