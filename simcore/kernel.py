"""The lifecycle kernel: plain arrays in, aggregates written into preallocated outputs.

Nothing here sees a scenario, a dict or a Dataset (:mod:`simcore.compile` builds the
arrays, :mod:`simcore.simulate` allocates the outputs and builds the Dataset). One
trial is simulated by one thread from start to end, deal after deal in a fixed
order, so its sums are the same bits whatever the thread count; every random draw
comes from :mod:`simcore.rng` keyed by the trial's absolute index, so any split of
trials into chunks gives the same bits too. Aggregation happens here, per trial,
period and cell: memory never grows with the number of deals.

Layouts shared with Python (one definition each, used on both sides):
- parameter slots per cell: :func:`param_layout`;
- flow slots per trial, period and cell: :func:`flow_layout`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._jit import jit, jit_parallel
from .rng import (
    STREAM_BANK,
    STREAM_COUNT,
    STREAM_DEAL,
    STREAM_MARKET,
    STREAM_PARAM,
    beta_draw,
    deal_key,
    gamma_draw,
    negative_binomial_quantile,
    normal_quantile,
    poisson_quantile,
    uniform,
)

# Dwell and push-delay distribution families.
DIST_FIXED, DIST_EXPONENTIAL, DIST_LOGNORMAL, DIST_GAMMA = 0, 1, 2, 3
# How a parameter slot is given: a number, a PERT {low, base, high}, a Beta {mean, strength}.
FIXED, PERT, BETA = 0, 1, 2
# Creation processes.
POISSON, NEGATIVE_BINOMIAL = 0, 1
# Amount distributions.
AMOUNT_LOGNORMAL, AMOUNT_EMPIRICAL = 0, 1
# Forecast categories, in bank and due outputs.
N_CATEGORIES = 3


@jit
def param_layout(n_stages):
    """Slot offsets of the per-cell parameter vector for ``n_stages`` open stages.

    Returns ``(advance0, dwell0, growth0, win, push, push_delay, win_decay,
    to_decision, median, whale_probability, whale_factor, n_slots)``; ``advance``
    and ``growth`` have one slot per stage before the decision stage, ``dwell`` one
    per stage.
    """
    k = n_stages
    advance0 = 0
    dwell0 = k - 1
    growth0 = 2 * k - 1
    base = 3 * k - 2
    return (advance0, dwell0, growth0, base, base + 1, base + 2, base + 3, base + 4,
            base + 5, base + 6, base + 7, base + 8)


@jit
def flow_layout(n_stages):
    """Slot offsets of the flow outputs (per trial, period and cell).

    Returns ``(booked, created0, lost_competition0, lost_no_decision0, pushes,
    slipped, due0, won_pushes, won_cycle, n_slots)``. ``created``, ``lost_*`` have one
    slot per stage, ``due`` one per forecast category. In the amount array
    ``won_cycle`` holds the summed cycle days of won deals whose creation time is
    known, and in the count array their number.
    """
    k = n_stages
    return (0, 1, 1 + k, 1 + 2 * k, 1 + 3 * k, 2 + 3 * k, 3 + 3 * k,
            3 + 3 * k + N_CATEGORIES, 4 + 3 * k + N_CATEGORIES, 5 + 3 * k + N_CATEGORIES)


@jit
def _dwell(key, j, kind, mean, mu, sigma, cv, residual):
    """One dwell (days). ``residual``: the time left for a deal found mid-stage.

    A deal already in a stage at an arbitrary instant has been there for an unknown
    time; renewal theory gives its remaining dwell as U x (a length-biased dwell),
    which for a lognormal(mu, s) is lognormal(mu + s^2, s) and for a Gamma(k, theta)
    is Gamma(k + 1, theta). Returns ``(days, next_j)``.
    """
    if kind == DIST_LOGNORMAL:
        m = mu + sigma * sigma if residual else mu
        x = math.exp(m + sigma * normal_quantile(uniform(key, j)))
        j += 1
    elif kind == DIST_EXPONENTIAL:
        # Memoryless: the residual of an exponential is the same exponential.
        x = -mean * math.log(uniform(key, j))
        return x, j + 1
    elif kind == DIST_GAMMA:
        shape = 1.0 / (cv * cv)
        g, j = gamma_draw(key, j, shape + 1.0 if residual else shape)
        x = g * mean / shape
    else:
        x = mean
    if residual:
        x *= uniform(key, j)
        j += 1
    return x, j


@jit
def _cross_boundaries(t_from, t_to, bj, amount, cat, expected_close, pend_j, pend_amount,
                      cell, period_start, n_periods, flow_amt, flow_cnt, bank_amt, bank_cnt,
                      slipped, due0):
    """Record an open deal at every period boundary in ``[t_from, t_to)``.

    At each boundary the deal is in the bank of its forecast category. If its
    expected close date falls in the period that starts there, it is due in that
    period; if it is still open at the period's end, it slipped out of it. Returns
    the updated ``(bj, pend_j, pend_amount)``.
    """
    while bj <= n_periods and period_start[bj] < t_to:
        if pend_j >= 0:
            # Still open at the end of the period it was due in: it slipped.
            flow_amt[pend_j, cell, slipped] += pend_amount
            flow_cnt[pend_j, cell, slipped] += 1
            pend_j = -1
        bank_amt[bj, cell, cat] += amount
        bank_cnt[bj, cell, cat] += 1
        if bj < n_periods and period_start[bj] <= expected_close < period_start[bj + 1]:
            flow_amt[bj, cell, due0 + cat] += amount
            flow_cnt[bj, cell, due0 + cat] += 1
            pend_j = bj
            pend_amount = amount
        bj += 1
    return bj, pend_j, pend_amount


@jit
def _first_boundary(t, period_start, n_periods):
    bj = 0
    while bj <= n_periods and period_start[bj] < t:
        bj += 1
    return bj


@jit
def _simulate_deal(key, j, cell, stage, t, amount, t_created, cohort, residual_first,
                   first_decision, expected_first,
                   n_stages, category, advance, lost_comp_share, dwell_kind, dwell_mean,
                   dwell_mu, dwell_sigma, dwell_cv, growth, remaining_mean,
                   win, push, decision_lost_comp_share, win_decay, max_pushes,
                   push_kind, push_mean, push_mu, push_sigma, push_cv,
                   period_of_day, period_start, n_periods, horizon,
                   cycle_edges, flow_amt, flow_cnt, bank_amt, bank_cnt, cohort_amt,
                   cycle_hist):
    """Follow one opportunity from ``(stage, t, amount)`` to its close or the horizon."""
    (booked, created0, lost_comp0, lost_nd0, pushes_slot, slipped, due0, won_pushes,
     won_cycle, _n) = flow_layout(n_stages)
    decision = n_stages - 1
    c = cell
    s = stage
    bj = _first_boundary(t, period_start, n_periods)
    pend_j = -1
    pend_amount = 0.0
    if expected_first == expected_first:  # not NaN: the bank deal's own close date
        expected_close = expected_first
    else:
        expected_close = t + remaining_mean[c, s]
    residual = residual_first
    # Open stages before the decision stage.
    while s < decision:
        d, j = _dwell(key, j, dwell_kind[c, s], dwell_mean[c, s], dwell_mu[c, s],
                      dwell_sigma[c, s], dwell_cv[c, s], residual)
        residual = False
        t_exit = t + d
        bj, pend_j, pend_amount = _cross_boundaries(
            t, t_exit, bj, amount, category[s], expected_close, pend_j, pend_amount, c,
            period_start, n_periods, flow_amt, flow_cnt, bank_amt, bank_cnt, slipped, due0)
        if t_exit >= horizon:
            return
        t = t_exit
        p = period_of_day[int(t)]
        u = uniform(key, j)
        j += 1
        a = advance[c, s]
        if u < a:
            amount *= growth[c, s]
            s += 1
            flow_amt[p, c, created0 + s] += amount
            flow_cnt[p, c, created0 + s] += 1
            expected_close = t + remaining_mean[c, s]
        else:
            if u < a + (1.0 - a) * lost_comp_share[c, s]:
                slot = lost_comp0 + s
            else:
                slot = lost_nd0 + s
            flow_amt[p, c, slot] += amount
            flow_cnt[p, c, slot] += 1
            return
    # The decision stage: decide, or push and decide again later.
    if first_decision == first_decision:  # the bank deal's own expected close date
        t_decide = max(first_decision, t)
    else:
        d, j = _dwell(key, j, dwell_kind[c, s], dwell_mean[c, s], dwell_mu[c, s],
                      dwell_sigma[c, s], dwell_cv[c, s], residual)
        t_decide = t + d
    n_push = 0
    w0 = win[c]
    p_push = push[c]
    while True:
        bj, pend_j, pend_amount = _cross_boundaries(
            t, t_decide, bj, amount, category[s], expected_close, pend_j, pend_amount, c,
            period_start, n_periods, flow_amt, flow_cnt, bank_amt, bank_cnt, slipped, due0)
        if t_decide >= horizon:
            return
        t = t_decide
        p = period_of_day[int(t)]
        u = uniform(key, j)
        j += 1
        w = w0 * win_decay[c] ** n_push
        lost_comp = (1.0 - w0 - p_push) * decision_lost_comp_share[c]
        if u < w:
            flow_amt[p, c, booked] += amount
            flow_cnt[p, c, booked] += 1
            flow_cnt[p, c, won_pushes] += n_push
            cohort_amt[p, cohort, c] += amount
            if t_created == t_created:
                cycle = t - t_created
                flow_amt[p, c, won_cycle] += cycle
                flow_cnt[p, c, won_cycle] += 1
                b = 0
                while b < cycle_edges.shape[0] - 2 and cycle >= cycle_edges[b + 1]:
                    b += 1
                cycle_hist[c, b] += 1
            return
        if u < w + lost_comp:
            flow_amt[p, c, lost_comp0 + s] += amount
            flow_cnt[p, c, lost_comp0 + s] += 1
            return
        if u < w + lost_comp + p_push and n_push < max_pushes[c]:
            n_push += 1
            flow_amt[p, c, pushes_slot] += amount
            flow_cnt[p, c, pushes_slot] += 1
            delay, j = _dwell(key, j, push_kind[c], push_mean[c], push_mu[c], push_sigma[c],
                              push_cv[c], False)
            t_decide = t + delay
            expected_close = t + push_mean[c]
            continue
        # Lost to no decision: the rest, the mass decay removed from the win, and a push
        # beyond max_pushes.
        flow_amt[p, c, lost_nd0 + s] += amount
        flow_cnt[p, c, lost_nd0 + s] += 1
        return


@jit
def _draw_assumptions(seed, trial, kind, p_a, p_b, p_c, out):
    """Each cell's assumptions for one trial: fixed, PERT or Beta, one draw per slot."""
    n_cells, n_slots = kind.shape
    for c in range(n_cells):
        for q in range(n_slots):
            k = kind[c, q]
            if k == FIXED:
                out[c, q] = p_a[c, q]
            elif k == PERT:
                low, mode, high = p_a[c, q], p_b[c, q], p_c[c, q]
                if high <= low:
                    out[c, q] = mode
                else:
                    alpha = 1.0 + 4.0 * (mode - low) / (high - low)
                    beta = 1.0 + 4.0 * (high - mode) / (high - low)
                    x, _ = beta_draw(deal_key(seed, trial, STREAM_PARAM, c, q), 0, alpha, beta)
                    out[c, q] = low + (high - low) * x
            else:
                mean, strength = p_a[c, q], p_b[c, q]
                x, _ = beta_draw(deal_key(seed, trial, STREAM_PARAM, c, q), 0,
                                 mean * strength, (1.0 - mean) * strength)
                out[c, q] = x


@jit
def _lognormal_params(mean, cv):
    s2 = math.log1p(cv * cv)
    return math.log(mean) - 0.5 * s2, math.sqrt(s2)


@jit_parallel
def simulate_trials(
    seed, trial0, n_stages, category,
    # per-cell structure
    entry_stage, free_stage, lost_comp_share, dwell_kind, dwell_cv, push_kind, push_cv,
    decision_lost_comp_share, max_pushes, market_loading,
    amount_kind, amount_sigma, empirical, empirical_offset, whale_factor_max,
    amount_floor, amount_cap,
    # per-cell parameter slots (see param_layout)
    param_kind, param_a, param_b, param_c,
    # creation
    creation_rate, process, dispersion, week_start, week_length,
    # starting bank
    bank_cell, bank_stage, bank_amount, bank_created, bank_close, bank_cohort,
    # calendar
    period_of_day, period_start, horizon, cycle_edges,
    # outputs (first axis: trial - trial0)
    flow_amt, flow_cnt, bank_amt, bank_cnt, cohort_amt, cycle_hist, drawn, market,
):
    """Simulate trials ``trial0 .. trial0 + flow_amt.shape[0] - 1`` into the outputs.

    Outputs must be zeroed by the caller. Shapes: ``flow_*`` (trials, periods, cells,
    flow slots), ``bank_*`` (trials, periods + 1, cells, categories) at each period
    boundary, ``cohort_amt`` (trials, close period, creation period + bank, cells),
    ``cycle_hist`` (trials, cells, bins), ``drawn`` (trials, cells, slots), ``market``
    (trials,).
    """
    n_trials = flow_amt.shape[0]
    n_cells = param_kind.shape[0]
    n_periods = period_start.shape[0] - 1
    n_weeks = week_start.shape[0]
    k = n_stages
    (advance0, dwell0, growth0, win_slot, push_slot, push_delay_slot, decay_slot,
     to_decision_slot, median_slot, whale_p_slot, whale_f_slot, _n) = param_layout(k)
    for i in numba.prange(n_trials):
        trial = trial0 + i
        params = drawn[i]
        _draw_assumptions(seed, trial, param_kind, param_a, param_b, param_c, params)
        z = normal_quantile(uniform(deal_key(seed, trial, STREAM_MARKET, 0, 0), 0))
        market[i] = z
        # Per-trial arrays derived from the drawn assumptions.
        advance = np.zeros((n_cells, k))
        growth = np.ones((n_cells, k))
        dwell_mean = np.zeros((n_cells, k))
        dwell_mu = np.zeros((n_cells, k))
        dwell_sigma = np.zeros((n_cells, k))
        remaining = np.zeros((n_cells, k))
        win = np.zeros(n_cells)
        push = np.zeros(n_cells)
        decay = np.zeros(n_cells)
        push_mean = np.zeros(n_cells)
        push_mu = np.zeros(n_cells)
        push_sigma = np.zeros(n_cells)
        for c in range(n_cells):
            fixed_product = 1.0
            n_free = 0
            for s in range(entry_stage[c], k - 1):
                if free_stage[c, s]:
                    n_free += 1
                else:
                    fixed_product *= params[c, advance0 + s]
            for s in range(k - 1):
                if free_stage[c, s]:
                    # Cumulative conversion split evenly (geometrically) over the stages
                    # that have no rate of their own.
                    ratio = params[c, to_decision_slot] / fixed_product if fixed_product > 0 else 1.0
                    a = ratio ** (1.0 / n_free) if n_free > 0 else 1.0
                    advance[c, s] = min(max(a, 0.0), 1.0)
                else:
                    advance[c, s] = min(max(params[c, advance0 + s], 0.0), 1.0)
                growth[c, s] = params[c, growth0 + s]
            for s in range(k):
                m = max(params[c, dwell0 + s], 1e-9)
                dwell_mean[c, s] = m
                if dwell_kind[c, s] == DIST_LOGNORMAL:
                    dwell_mu[c, s], dwell_sigma[c, s] = _lognormal_params(m, dwell_cv[c, s])
            acc = 0.0
            for s in range(k - 1, -1, -1):
                acc += dwell_mean[c, s]
                remaining[c, s] = acc
            w = min(max(params[c, win_slot], 0.0), 1.0)
            if market_loading[c] != 0.0 and 0.0 < w < 1.0:
                # The market factor shifts every cell's win rate on the log-odds scale.
                x = math.log(w / (1.0 - w)) + market_loading[c] * z
                w = 1.0 / (1.0 + math.exp(-x))
            win[c] = w
            push[c] = min(max(params[c, push_slot], 0.0), 1.0 - w)
            decay[c] = params[c, decay_slot]
            pm = max(params[c, push_delay_slot], 1e-9)
            push_mean[c] = pm
            if push_kind[c] == DIST_LOGNORMAL:
                push_mu[c], push_sigma[c] = _lognormal_params(pm, push_cv[c])

        fa = flow_amt[i]
        fc = flow_cnt[i]
        ba = bank_amt[i]
        bc = bank_cnt[i]
        ca = cohort_amt[i]
        ch = cycle_hist[i]
        nan = np.nan
        # Newly created opportunities, cell by cell and week by week.
        for c in range(n_cells):
            median = params[c, median_slot]
            log_median = math.log(max(median, 1e-300))
            whale_p = params[c, whale_p_slot]
            whale_lo = params[c, whale_f_slot]
            whale_hi = whale_factor_max[c]
            e0 = empirical_offset[c]
            n_emp = empirical_offset[c + 1] - e0
            s0 = entry_stage[c]
            for wk in range(n_weeks):
                lam = creation_rate[c, wk]
                if lam <= 0.0:
                    continue
                u = uniform(deal_key(seed, trial, STREAM_COUNT, c, wk), 0)
                if process[c] == NEGATIVE_BINOMIAL:
                    n_new = negative_binomial_quantile(u, lam, dispersion[c])
                else:
                    n_new = poisson_quantile(u, lam)
                for d in range(n_new):
                    key = deal_key(seed, trial, STREAM_DEAL, c, (wk << 32) | d)
                    t = week_start[wk] + week_length[wk] * uniform(key, 0)
                    if amount_kind[c] == AMOUNT_EMPIRICAL:
                        amount = empirical[e0 + min(int(uniform(key, 1) * n_emp), n_emp - 1)]
                        amount *= median
                    else:
                        amount = math.exp(log_median + amount_sigma[c] * normal_quantile(uniform(key, 1)))
                    if uniform(key, 2) < whale_p:
                        if whale_hi == whale_hi:
                            amount *= whale_lo + (whale_hi - whale_lo) * uniform(key, 3)
                        else:
                            amount *= whale_lo
                    amount = min(max(amount, amount_floor[c]), amount_cap[c])
                    p = period_of_day[int(t)]
                    fa[p, c, 1 + s0] += amount
                    fc[p, c, 1 + s0] += 1
                    _simulate_deal(
                        key, 4, c, s0, t, amount, t, p, False, nan, nan,
                        k, category, advance, lost_comp_share, dwell_kind, dwell_mean,
                        dwell_mu, dwell_sigma, dwell_cv, growth, remaining,
                        win, push, decision_lost_comp_share, decay, max_pushes,
                        push_kind, push_mean, push_mu, push_sigma, push_cv,
                        period_of_day, period_start, n_periods, horizon,
                        cycle_edges, fa, fc, ba, bc, ca, ch)
        # The starting bank, simulated forward from each deal's current stage.
        for b in range(bank_cell.shape[0]):
            key = deal_key(seed, trial, STREAM_BANK, 0, b)
            s = bank_stage[b]
            close = bank_close[b] if s == k - 1 else nan
            _simulate_deal(
                key, 0, bank_cell[b], s, 0.0, bank_amount[b], bank_created[b], bank_cohort,
                True, close, bank_close[b],
                k, category, advance, lost_comp_share, dwell_kind, dwell_mean,
                dwell_mu, dwell_sigma, dwell_cv, growth, remaining,
                win, push, decision_lost_comp_share, decay, max_pushes,
                push_kind, push_mean, push_mu, push_sigma, push_cv,
                period_of_day, period_start, n_periods, horizon,
                cycle_edges, fa, fc, ba, bc, ca, ch)
