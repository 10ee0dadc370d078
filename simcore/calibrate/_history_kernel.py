"""The recording lifecycle: one trial of the model of ``docs/model.md``, every event written down.

:mod:`simcore.engine.kernel` aggregates as it goes and never keeps a deal; a CRM history needs
the opposite, every deal and every change of stage. This module is that second lifecycle,
written against the same contract and the same counter-based random numbers
(:mod:`simcore.engine.rng`, keyed exactly as the kernel keys them: stream, cell, week and
deal), and nothing else of the kernel's internals, so that the kernel can change shape
without breaking it. Plain arrays in, preallocated arrays out (sgkit's ``*_numba_fns``).

Event kinds (``EV_*``) and deal outcomes (``OUT_*``) are shared with
:mod:`simcore.calibrate.history`, which turns the arrays into CRM tables.
"""

from __future__ import annotations

import math

import numpy as np

from simcore.engine._jit import jit
from simcore.engine.rng import (
    STREAM_COUNT,
    STREAM_DEAL,
    gamma_draw,
    mix64,
    normal_quantile,
    stream_key,
    trial_key,
    uniform,
)

# Dwell families, as simcore.engine.kernel numbers them (the compiled Model's codes).
DIST_FIXED, DIST_EXPONENTIAL, DIST_LOGNORMAL, DIST_GAMMA = 0, 1, 2, 3
AMOUNT_LOGNORMAL, AMOUNT_EMPIRICAL = 0, 1

# What a row of the stage history records.
EV_CREATED, EV_ADVANCE, EV_PUSH, EV_WON, EV_LOST_COMPETITION, EV_LOST_NO_DECISION = range(6)
# Where a deal stands at the end of the history.
OUT_OPEN, OUT_WON, OUT_LOST_COMPETITION, OUT_LOST_NO_DECISION = range(4)


@jit
def draw_dwell(key, j, kind, mean, cv):
    """One dwell (days) with the given mean: lognormal, gamma, exponential or fixed.

    The lognormal is computed exactly, ``mean * exp(s Z - s^2 / 2)`` with
    ``s^2 = log(1 + cv^2)``; the kernel reads the same quantile function from a table.
    Returns ``(days, next_j)``.
    """
    if kind == DIST_LOGNORMAL:
        s = math.sqrt(math.log1p(cv * cv))
        return mean * math.exp(s * normal_quantile(uniform(key, j)) - 0.5 * s * s), j + 1
    if kind == DIST_EXPONENTIAL:
        return -mean * math.log(uniform(key, j)), j + 1
    if kind == DIST_GAMMA:
        shape = 1.0 / (cv * cv)
        g, j = gamma_draw(key, j, shape)
        return g * mean / shape, j
    return mean, j


@jit
def creation_counts(seed, trial, count_cdf, count_offset, n_cells, n_weeks, out):
    """Deals created per (cell, week), one uniform inverted through the count's CDF, keyed
    as the kernel keys them (so a larger plan keeps a smaller one's deals).
    """
    trial_k = trial_key(seed, trial)
    for c in range(n_cells):
        count_k = stream_key(trial_k, STREAM_COUNT, c)
        for wk in range(n_weeks):
            slot = c * n_weeks + wk
            o0 = count_offset[slot]
            o1 = count_offset[slot + 1]
            n = 0
            if o1 > o0:
                u = uniform(mix64(count_k ^ np.uint64(wk)), 0)
                while o0 < o1 - 1 and count_cdf[o0] < u:
                    o0 += 1
                    n += 1
            out[c, wk] = n


@jit
def _new_amount(
    key, c, amount_kind, sigma, median, empirical, empirical_offset, whale, amount_floor, amount_cap
):
    """A new deal's amount: draws 1, 2 and 3 of its sequence, as in the kernel."""
    if amount_kind[c] == AMOUNT_EMPIRICAL:
        e0 = empirical_offset[c]
        n_emp = empirical_offset[c + 1] - e0
        amount = median[c] * empirical[e0 + min(int(uniform(key, 1) * n_emp), n_emp - 1)]
    else:
        amount = median[c] * math.exp(sigma[c] * normal_quantile(uniform(key, 1)))
    if uniform(key, 2) < whale[c, 0]:
        lo, hi = whale[c, 1], whale[c, 2]
        amount *= lo + (hi - lo) * uniform(key, 3) if hi == hi else lo
    return min(max(amount, amount_floor[c]), amount_cap[c])


@jit
def _outcome(u, s, last, a, lc_share, w, decision, can_push):
    """What ends a stay, from its uniform ``u``: advance or a loss before the decision stage; at it,
    won, lost, or pushed (while pushes are left), with the kernel's order of the outcomes.
    """
    if s < last:
        if u < a:
            return EV_ADVANCE
        return EV_LOST_COMPETITION if u < a + (1.0 - a) * lc_share else EV_LOST_NO_DECISION
    if u < w:
        return EV_WON
    # Decay moves win mass to no decision: the competition share stays that of the first decision.
    p_lc = (1.0 - decision[0] - decision[1]) * decision[4]
    if u < w + p_lc:
        return EV_LOST_COMPETITION
    if u < w + p_lc + decision[1] and can_push:
        return EV_PUSH
    return EV_LOST_NO_DECISION


@jit
def record_history(
    seed,
    trial,
    counts,
    week_start,
    week_length,
    horizon,
    entry_stage,
    dwell_kind,
    dwell_mean,
    dwell_cv,
    advance,
    lost_comp_share,
    growth,
    decision,
    push_kind,
    push_cv,
    max_pushes,
    amount_kind,
    sigma,
    median,
    empirical,
    empirical_offset,
    whale,
    amount_floor,
    amount_cap,
    opp,
    opp_status,
    ev,
    ev_kind,
):
    """Live every deal of ``counts`` (cells x weeks) until ``horizon`` days, recording events.

    ``decision[c]`` holds (win, push, win_decay, push_delay_mean, lost_competition_share) of
    cell c for this trial; ``whale[c]`` (probability, factor, factor_max or NaN).
    Outputs: ``opp[d]`` = (cell, created, amount, closed or NaN, stage, expected close,
    pushes), ``opp_status[d]`` an ``OUT_*``; ``ev[e]`` = (deal, time, stage, amount,
    expected close), ``ev_kind[e]`` an ``EV_*``. Returns ``(deals, events)`` written.
    """
    n_cells, n_weeks = counts.shape
    k = dwell_mean.shape[1]
    last = k - 1
    trial_k = trial_key(seed, trial)
    d_out = 0
    e_out = 0
    for c in range(n_cells):
        deal_k = stream_key(trial_k, STREAM_DEAL, c)
        # The expected close a rep would enter: now plus the mean dwell of the stages left.
        remaining = np.zeros(k + 1)
        for s in range(k - 1, -1, -1):
            remaining[s] = remaining[s + 1] + dwell_mean[c, s]
        w0, decay, push_mean = decision[c, 0], decision[c, 2], decision[c, 3]
        for wk in range(n_weeks):
            for q in range(counts[c, wk]):
                key = mix64(deal_k ^ np.uint64((wk << 32) | q))
                t = week_start[wk] + week_length[wk] * uniform(key, 0)
                amount = _new_amount(key, c, amount_kind, sigma, median, empirical, empirical_offset, whale,
                                     amount_floor, amount_cap)  # fmt: skip
                s = entry_stage[c]
                close = t + remaining[s]
                d = d_out
                d_out += 1
                opp[d, 0], opp[d, 1], opp[d, 3] = c, t, np.nan
                ev[e_out, 0], ev[e_out, 1], ev[e_out, 2], ev[e_out, 3], ev[e_out, 4] = d, t, s, amount, close
                ev_kind[e_out] = EV_CREATED
                e_out += 1
                j = 4
                n_push = 0
                w = w0
                status = OUT_OPEN
                t_next = -1.0
                while True:
                    if t_next < 0.0:
                        dwell, j = draw_dwell(key, j, dwell_kind[c, s], dwell_mean[c, s], dwell_cv[c, s])
                        t_next = t + dwell
                    if t_next >= horizon:
                        break
                    t = t_next
                    t_next = -1.0
                    u = uniform(key, j)
                    j += 1
                    kind = _outcome(u, s, last, advance[c, s] if s < last else 0.0,
                                    lost_comp_share[c, s] if s < last else 0.0, w, decision[c],
                                    n_push < max_pushes[c])  # fmt: skip
                    if kind == EV_ADVANCE:
                        amount *= growth[c, s]
                        s += 1
                        close = t + remaining[s]
                    elif kind == EV_PUSH:
                        n_push += 1
                        delay, j = draw_dwell(key, j, push_kind[c], push_mean, push_cv[c])
                        t_next = t + delay
                        # The rep moves the close date out: later than it was, by whole days.
                        close = max(t + push_mean, math.floor(close) + 1.0)
                        w *= decay
                    ev[e_out, 0], ev[e_out, 1], ev[e_out, 2], ev[e_out, 3] = d, t, s, amount
                    ev_kind[e_out] = kind
                    if kind == EV_WON or kind == EV_LOST_COMPETITION or kind == EV_LOST_NO_DECISION:
                        close = t
                        opp[d, 3] = t
                        status = kind - EV_WON + OUT_WON  # the EV_ and OUT_ closings are in the same order
                    ev[e_out, 4] = close
                    e_out += 1
                    if status != OUT_OPEN:
                        break
                opp[d, 2], opp[d, 4], opp[d, 5], opp[d, 6] = amount, s, close, n_push
                opp_status[d] = status
    return d_out, e_out
