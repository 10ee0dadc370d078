"""The lifecycle kernel: plain arrays in, aggregates written into preallocated outputs.

Nothing here sees a scenario, a dict or a Dataset (:mod:`simcore.engine.compile` builds the
arrays, :mod:`simcore.engine.simulate` allocates the outputs and builds the Dataset). One
trial is simulated by one thread from start to end, deal after deal in a fixed
order, so its sums are the same bits whatever the thread count; every random draw
comes from :mod:`simcore.engine.rng` keyed by the trial's absolute index, so any split of
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

from simcore.engine._jit import jit, jit_parallel
from simcore.engine.rng import (
    STREAM_BANK,
    STREAM_COUNT,
    STREAM_DEAL,
    STREAM_MARKET,
    STREAM_PARAM,
    beta_draw,
    deal_key,
    gamma_draw,
    mix64,
    normal_quantile,
    stream_key,
    trial_key,
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
    return (
        advance0,
        dwell0,
        growth0,
        base,
        base + 1,
        base + 2,
        base + 3,
        base + 4,
        base + 5,
        base + 6,
        base + 7,
        base + 8,
    )


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
    return (
        0,
        1,
        1 + k,
        1 + 2 * k,
        1 + 3 * k,
        2 + 3 * k,
        3 + 3 * k,
        3 + 3 * k + N_CATEGORIES,
        4 + 3 * k + N_CATEGORIES,
        5 + 3 * k + N_CATEGORIES,
    )


# Lognormal draws go through a quantile table: ``TABLE_KNOTS`` knots of the
# quantile function, linearly interpolated, with the outer ``TABLE_EXACT`` bins at
# each end computed exactly. That replaces a log and an exp per draw by two loads;
# the bias it leaves on the mean is below 2e-5 relative for sigma <= 1.5 (held by
# tests/test_rng.py), far inside any Monte-Carlo error.
TABLE_KNOTS = 2048
TABLE_EXACT = 32


# Rows of the table array, flattened: row r starts at r * TABLE_ROW.
TABLE_ROW = TABLE_KNOTS + 3


@jit(inline="always")
def lognormal_unit(tab, off, u):
    """``exp(sigma * Z + shift)`` for the table row at ``off`` of the flat table array
    (``tab[off + TABLE_KNOTS + 1]`` = sigma, ``tab[off + TABLE_KNOTS + 2]`` = shift).
    """
    pos = u * TABLE_KNOTS
    i = int(pos)
    if i < TABLE_EXACT or i >= TABLE_KNOTS - TABLE_EXACT:
        return math.exp(tab[off + TABLE_KNOTS + 1] * normal_quantile(u) + tab[off + TABLE_KNOTS + 2])
    lo = tab[off + i]
    return lo + (pos - i) * (tab[off + i + 1] - lo)


@jit(inline="always")
def _dwell(key, j, kind, mean, cv, tab, off, residual):
    """One dwell (days) from the table row at ``off``. ``residual``: the time left for a
    deal found mid-stage.

    A deal already in a stage at an arbitrary instant has been there for an unknown
    time; renewal theory gives its remaining dwell as U x (a length-biased dwell),
    which for a lognormal(mu, s) is lognormal(mu + s^2, s) and for a Gamma(k, theta)
    is Gamma(k + 1, theta). Returns ``(days, next_j)``.
    """
    if kind == DIST_LOGNORMAL and not residual:
        # The common case first, on its own: one table lookup.
        return mean * lognormal_unit(tab, off, uniform(key, j)), j + 1
    if kind == DIST_LOGNORMAL:
        if residual:
            s = tab[off + TABLE_KNOTS + 1]
            x = mean * math.exp(s * normal_quantile(uniform(key, j)) + 0.5 * s * s)
        else:
            x = mean * lognormal_unit(tab, off, uniform(key, j))
        j += 1
    elif kind == DIST_EXPONENTIAL:
        # Memoryless: the residual of an exponential is the same exponential.
        return -mean * math.log(uniform(key, j)), j + 1
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


# New deals made (and held) at a time, by default: 32 KB of scratch per thread. Any block
# size gives the same bits (tests/test_reproducible.py).
NEW_DEALS_BLOCK = 1024

# Per-trial values of each (cell, stage), side by side in one flat array: the lifecycle
# reads several per event, and one flat index costs a third of the instructions of a
# two-dimensional one (numba's negative-index fix-up and stride product per axis).
ST_ADVANCE, ST_GROWTH, ST_REMAINING, ST_DWELL_MEAN, ST_DWELL_CV, ST_LOST_COMP, ST_WIDTH = range(7)
# The same for the integers, which do not change between trials.
SI_KIND, SI_TABLE, SI_CATEGORY, SI_WIDTH = range(4)
# Per-cell values of one trial.
CP_WIN, CP_PUSH, CP_DECAY, CP_PUSH_MEAN, CP_MEDIAN, CP_WHALE_P, CP_WHALE_F, CP_WIDTH = range(8)


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
                x, _ = beta_draw(
                    deal_key(seed, trial, STREAM_PARAM, c, q), 0, mean * strength, (1.0 - mean) * strength
                )
                out[c, q] = x


@jit_parallel
def simulate_trials(
    seed,
    trial0,
    n_stages,
    category,
    # per-cell structure
    entry_stage,
    free_stage,
    lost_comp_share,
    dwell_kind,
    dwell_cv,
    dwell_table,
    push_kind,
    push_cv,
    push_table,
    decision_lost_comp_share,
    max_pushes,
    market_loading,
    amount_kind,
    amount_table,
    empirical,
    empirical_offset,
    whale_factor_max,
    amount_floor,
    amount_cap,
    tables,
    # per-cell parameter slots (see param_layout)
    param_kind,
    param_a,
    param_b,
    param_c,
    # creation: CDF of the count per cell and week (see compile.count_tables)
    count_cdf,
    count_offset,
    week_start,
    week_length,
    # starting bank
    bank_cell,
    bank_stage,
    bank_amount,
    bank_created,
    bank_close,
    bank_cohort,
    # calendar; cohorts are creation quarters whatever the reporting period, so the cohort
    # output grows with periods, not with periods squared
    period_of_day,
    cohort_of_day,
    period_start,
    horizon,
    cycle_edges,
    # new deals made at a time (see NEW_DEALS_BLOCK)
    deal_block,
    # outputs (first axis: trial - trial0)
    flow_amt,
    flow_cnt,
    bank_amt,
    bank_cnt,
    cohort_amt,
    cycle_hist,
    drawn,
    market,
    # per-trial assumptions and market factor sampled outside (simcore.engine.sampling),
    # or empty: then drawn here
    preset_drawn,
    preset_market,
):
    """Simulate trials ``trial0 .. trial0 + flow_amt.shape[0] - 1`` into the outputs.

    Outputs must be zeroed by the caller. Shapes: ``flow_*`` (trials, periods, cells,
    flow slots), ``bank_*`` (trials, periods + 1, cells, categories) at each period
    boundary, ``cohort_amt`` (trials, close period, creation quarter + bank, cells),
    ``cycle_hist`` (trials, cells, bins), ``drawn`` (trials, cells, slots), ``market``
    (trials,). ``preset_drawn`` (trials, cells, slots) and ``preset_market`` (trials,),
    when not empty, replace the per-trial draws (stratified sampling).

    The lifecycle is written once, inline, for new and bank deals alike: a call per
    deal with dozens of array arguments costs more in reference counting than the
    deal itself.
    """
    n_trials = flow_amt.shape[0]
    n_cells = param_kind.shape[0]
    n_periods = period_start.shape[0] - 1
    n_weeks = week_start.shape[0]
    n_slots = n_cells * n_weeks
    n_bank = bank_cell.shape[0]
    k = n_stages
    decision = k - 1
    (
        advance0,
        dwell0,
        growth0,
        win_slot,
        push_slot,
        push_delay_slot,
        decay_slot,
        to_decision_slot,
        median_slot,
        whale_p_slot,
        whale_f_slot,
        _n,
    ) = param_layout(k)
    (booked, created0, lost_comp0, lost_nd0, pushes_slot, slipped, due0, won_pushes, won_cycle, n_flow) = (
        flow_layout(k)
    )
    n_bins = cycle_edges.shape[0] - 1
    # Period boundaries with +inf after the last, so the boundary loop needs no bounds test.
    bounds = np.empty(n_periods + 2)
    bounds[: n_periods + 1] = period_start
    bounds[n_periods + 1] = np.inf
    tab = tables.reshape(tables.size)
    # Flat output strides: flows (period, cell, slot), bank (boundary, cell, category),
    # cohort bookings (period, cohort, cell), cycle histogram (cell, bin).
    flow_period = n_cells * n_flow
    bank_period = n_cells * N_CATEGORIES
    n_cohort_cols = cohort_amt.shape[2]
    si = np.empty(n_cells * k * SI_WIDTH, dtype=np.int64)
    for c in range(n_cells):
        for s in range(k):
            o = (c * k + s) * SI_WIDTH
            si[o + SI_KIND] = dwell_kind[c, s]
            si[o + SI_TABLE] = dwell_table[c, s] * TABLE_ROW
            si[o + SI_CATEGORY] = category[s]
    for i in numba.prange(n_trials):
        trial = trial0 + i
        trial_k = trial_key(seed, trial)
        params = drawn[i]
        if preset_market.shape[0] > 0:
            params[:, :] = preset_drawn[i]
            z = preset_market[i]
        else:
            _draw_assumptions(seed, trial, param_kind, param_a, param_b, param_c, params)
            z = normal_quantile(uniform(deal_key(seed, trial, STREAM_MARKET, 0, 0), 0))
        market[i] = z
        # Per-trial parameters derived from the drawn assumptions.
        st = np.empty(n_cells * k * ST_WIDTH)
        cp = np.empty(n_cells * CP_WIDTH)
        deal_keys = np.empty(n_cells, dtype=np.uint64)
        counts = np.empty(n_slots, dtype=np.int64)
        for c in range(n_cells):
            fixed_product = 1.0
            n_free = 0
            for s in range(entry_stage[c], k - 1):
                if free_stage[c, s]:
                    n_free += 1
                else:
                    fixed_product *= params[c, advance0 + s]
            for s in range(k):
                o = (c * k + s) * ST_WIDTH
                if s == k - 1:
                    st[o + ST_ADVANCE] = 0.0  # the decision stage decides instead
                    st[o + ST_GROWTH] = 1.0
                elif free_stage[c, s]:
                    # Cumulative conversion split evenly (geometrically) over the stages
                    # that have no rate of their own.
                    ratio = params[c, to_decision_slot] / fixed_product if fixed_product > 0 else 1.0
                    a = min(max(ratio ** (1.0 / n_free) if n_free > 0 else 1.0, 0.0), 1.0)
                    st[o + ST_ADVANCE] = a
                    st[o + ST_GROWTH] = params[c, growth0 + s]
                    # The drawn-assumptions output shows the rate in effect, not the placeholder.
                    params[c, advance0 + s] = a
                else:
                    st[o + ST_ADVANCE] = min(max(params[c, advance0 + s], 0.0), 1.0)
                    st[o + ST_GROWTH] = params[c, growth0 + s]
                st[o + ST_DWELL_CV] = dwell_cv[c, s]
                st[o + ST_LOST_COMP] = lost_comp_share[c, s]
            acc = 0.0
            for s in range(k - 1, -1, -1):
                o = (c * k + s) * ST_WIDTH
                mean = max(params[c, dwell0 + s], 1e-9)
                st[o + ST_DWELL_MEAN] = mean
                acc += mean
                st[o + ST_REMAINING] = acc
            w = min(max(params[c, win_slot], 0.0), 1.0)
            if market_loading[c] != 0.0 and 0.0 < w < 1.0:
                # The market factor shifts every cell's win rate on the log-odds scale.
                x = math.log(w / (1.0 - w)) + market_loading[c] * z
                w = 1.0 / (1.0 + math.exp(-x))
            o = c * CP_WIDTH
            cp[o + CP_WIN] = w
            cp[o + CP_PUSH] = min(max(params[c, push_slot], 0.0), 1.0 - w)
            cp[o + CP_DECAY] = params[c, decay_slot]
            cp[o + CP_PUSH_MEAN] = max(params[c, push_delay_slot], 1e-9)
            cp[o + CP_MEDIAN] = params[c, median_slot]
            cp[o + CP_WHALE_P] = params[c, whale_p_slot]
            cp[o + CP_WHALE_F] = params[c, whale_f_slot]
            deal_keys[c] = stream_key(trial_k, STREAM_DEAL, c)
            # How many deals each (cell, week) creates, in one tight pass: most weeks
            # create none or one or two. Inverting one uniform through the count's CDF
            # keeps a larger plan's deals a superset of a smaller one's (common random
            # numbers).
            count_k = stream_key(trial_k, STREAM_COUNT, c)
            for wk in range(n_weeks):
                slot = c * n_weeks + wk
                o0 = count_offset[slot]
                o1 = count_offset[slot + 1]
                n = 0
                if o1 - o0 > 4:
                    u = uniform(mix64(count_k ^ np.uint64(wk)), 0)
                    # The CDF is non-decreasing: its first four comparisons, branch-free,
                    # count the usual small numbers; the table is long enough to go on.
                    n = (
                        (count_cdf[o0] < u)
                        + (count_cdf[o0 + 1] < u)
                        + (count_cdf[o0 + 2] < u)
                        + (count_cdf[o0 + 3] < u)
                    )
                    if n == 4:
                        o = o0 + 4
                        while o < o1 - 1 and count_cdf[o] < u:
                            o += 1
                            n += 1
                elif o1 > o0:
                    u = uniform(mix64(count_k ^ np.uint64(wk)), 0)
                    while o0 < o1 - 1 and count_cdf[o0] < u:
                        o0 += 1
                        n += 1
                counts[slot] = n
        bank_k = stream_key(trial_k, STREAM_BANK, 0)

        fa = flow_amt[i].reshape(flow_amt[i].size)
        fc = flow_cnt[i].reshape(flow_cnt[i].size)
        ba = bank_amt[i].reshape(bank_amt[i].size)
        bc = bank_cnt[i].reshape(bank_cnt[i].size)
        ca = cohort_amt[i].reshape(cohort_amt[i].size)
        ch = cycle_hist[i].reshape(cycle_hist[i].size)

        # New deals are made a block at a time, in (cell, week, k) order, in a tight loop,
        # and then live their lives; the bank's deals come last. Scratch memory stays one
        # block, whatever the number of deals.
        n_new = 0
        for slot in range(n_slots):
            n_new += counts[slot]
        block = min(n_new, max(deal_block, 1))
        new_key = np.empty(block, dtype=np.uint64)
        new_cell = np.empty(block, dtype=np.int64)
        new_t = np.empty(block)
        new_amount = np.empty(block)
        slot = 0  # where making new deals stands: the (cell, week) and the deal in it
        d = 0
        bank_done = False
        while True:
            m = 0
            while m < block and slot < n_slots:
                if d >= counts[slot]:
                    slot += 1
                    d = 0
                    continue
                c = slot // n_weeks
                wk = slot - c * n_weeks
                o = c * CP_WIDTH
                key = mix64(deal_keys[c] ^ np.uint64((wk << 32) | d))
                new_key[m] = key
                new_cell[m] = c
                new_t[m] = week_start[wk] + week_length[wk] * uniform(key, 0)
                if amount_kind[c] == AMOUNT_EMPIRICAL:
                    e0 = empirical_offset[c]
                    n_emp = empirical_offset[c + 1] - e0
                    amount = cp[o + CP_MEDIAN] * empirical[e0 + min(int(uniform(key, 1) * n_emp), n_emp - 1)]
                else:
                    amount = cp[o + CP_MEDIAN] * lognormal_unit(
                        tab, amount_table[c] * TABLE_ROW, uniform(key, 1)
                    )
                if uniform(key, 2) < cp[o + CP_WHALE_P]:
                    whale_lo = cp[o + CP_WHALE_F]
                    whale_hi = whale_factor_max[c]
                    if whale_hi == whale_hi:
                        amount *= whale_lo + (whale_hi - whale_lo) * uniform(key, 3)
                    else:
                        amount *= whale_lo
                new_amount[m] = min(max(amount, amount_floor[c]), amount_cap[c])
                m += 1
                d += 1
            if m > 0:
                n_lives = m
            elif bank_done:
                break
            else:
                n_lives = n_bank
                bank_done = True
            for q in range(n_lives):
                if m > 0:
                    key = new_key[q]
                    c = new_cell[q]
                    t = new_t[q]
                    amount = new_amount[q]
                    s = entry_stage[c]
                    p = period_of_day[int(t)]
                    fa[p * flow_period + c * n_flow + created0 + s] += amount
                    fc[p * flow_period + c * n_flow + created0 + s] += 1
                    j = 4
                    t_created = t
                    cohort = cohort_of_day[int(t)]
                    residual = False
                    given_close = np.nan
                else:
                    key = mix64(bank_k ^ np.uint64(q))
                    c = bank_cell[q]
                    s = bank_stage[q]
                    t = 0.0
                    p = 0
                    amount = bank_amount[q]
                    t_created = bank_created[q]
                    given_close = bank_close[q]
                    cohort = bank_cohort
                    residual = True
                    j = 0

                # ---- the life of one opportunity, from (c, s, t, amount) ----
                # One loop over its events (a stage exit, a decision), with the period
                # boundaries it lives through recorded in one place. Indices are flat:
                # ``flow_cell + p * flow_period + slot`` is flow ``slot`` of period p.
                flow_cell = c * n_flow
                bank_of_cell = c * N_CATEGORIES
                row = c * k  # (cell, stage) rows of st and si are row + s
                o = (row + s) * ST_WIDTH
                bj = p + (period_start[p] < t)  # the first boundary at or after t (whole days)
                pend_j = -1
                pend_amount = 0.0
                if given_close == given_close:  # a bank deal's own expected close date
                    expected_close = given_close
                else:
                    expected_close = t + st[o + ST_REMAINING]
                n_push = 0
                co = c * CP_WIDTH
                w = cp[co + CP_WIN]
                t_next = -1.0  # the next event's time, when already known (a pushed decision)
                while True:
                    o = (row + s) * ST_WIDTH
                    oi = (row + s) * SI_WIDTH
                    if t_next < 0.0:
                        if s == decision and residual and given_close == given_close:
                            t_next = max(given_close, t)
                        else:
                            dwell, j = _dwell(
                                key,
                                j,
                                si[oi + SI_KIND],
                                st[o + ST_DWELL_MEAN],
                                st[o + ST_DWELL_CV],
                                tab,
                                si[oi + SI_TABLE],
                                residual,
                            )
                            t_next = t + dwell
                        residual = False
                    # Open at each period boundary it lives through: in the bank, maybe due,
                    # and slipped if still open at the end of the period it was due in.
                    while bounds[bj] < t_next:
                        if pend_j >= 0:
                            fa[pend_j * flow_period + flow_cell + slipped] += pend_amount
                            fc[pend_j * flow_period + flow_cell + slipped] += 1
                            pend_j = -1
                        cat = si[oi + SI_CATEGORY]
                        ba[bj * bank_period + bank_of_cell + cat] += amount
                        bc[bj * bank_period + bank_of_cell + cat] += 1
                        if bj < n_periods and bounds[bj] <= expected_close < bounds[bj + 1]:
                            fa[bj * flow_period + flow_cell + due0 + cat] += amount
                            fc[bj * flow_period + flow_cell + due0 + cat] += 1
                            pend_j = bj
                            pend_amount = amount
                        bj += 1
                    if t_next >= horizon:
                        break  # open at the horizon: in the ending bank
                    t = t_next
                    t_next = -1.0
                    p = period_of_day[int(t)]
                    fp = p * flow_period + flow_cell
                    u = uniform(key, j)
                    j += 1
                    if s < decision:
                        a = st[o + ST_ADVANCE]
                        if u < a:
                            amount *= st[o + ST_GROWTH]
                            s += 1
                            fa[fp + created0 + s] += amount
                            fc[fp + created0 + s] += 1
                            expected_close = t + st[o + ST_WIDTH + ST_REMAINING]  # of stage s + 1
                            continue
                        lost = lost_comp0 + s if u < a + (1.0 - a) * st[o + ST_LOST_COMP] else lost_nd0 + s
                        fa[fp + lost] += amount
                        fc[fp + lost] += 1
                        break
                    # The decision: won, lost, or pushed to be decided again later.
                    if u < w:
                        fa[fp + booked] += amount
                        fc[fp + booked] += 1
                        fc[fp + won_pushes] += n_push
                        ca[(p * n_cohort_cols + cohort) * n_cells + c] += amount
                        if t_created == t_created:
                            cycle = t - t_created
                            fa[fp + won_cycle] += cycle
                            fc[fp + won_cycle] += 1
                            bin_ = 0
                            while bin_ < n_bins - 1 and cycle >= cycle_edges[bin_ + 1]:
                                bin_ += 1
                            ch[c * n_bins + bin_] += 1
                        break
                    p_push = cp[co + CP_PUSH]
                    # Decay moves win mass to no decision: the competition share stays that of
                    # the undecayed win rate.
                    p_lost_comp = (1.0 - cp[co + CP_WIN] - p_push) * decision_lost_comp_share[c]
                    if u < w + p_lost_comp:
                        fa[fp + lost_comp0 + s] += amount
                        fc[fp + lost_comp0 + s] += 1
                        break
                    if u < w + p_lost_comp + p_push and n_push < max_pushes[c]:
                        n_push += 1
                        fa[fp + pushes_slot] += amount
                        fc[fp + pushes_slot] += 1
                        delay, j = _dwell(
                            key,
                            j,
                            push_kind[c],
                            cp[co + CP_PUSH_MEAN],
                            push_cv[c],
                            tab,
                            push_table[c] * TABLE_ROW,
                            False,
                        )
                        t_next = t + delay
                        expected_close = t + cp[co + CP_PUSH_MEAN]
                        # Each push taken decays the next win chance; the mass goes to no decision.
                        w *= cp[co + CP_DECAY]
                        continue
                    # Lost to no decision: the rest, the mass decay removed from the win,
                    # and a push beyond max_pushes.
                    fa[fp + lost_nd0 + s] += amount
                    fc[fp + lost_nd0 + s] += 1
                    break
