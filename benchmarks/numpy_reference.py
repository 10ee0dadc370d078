"""A plain numpy implementation of the opportunity lifecycle: the yardstick of the kernel's speed.

It simulates the same model as :func:`simcore.engine.kernel.simulate_trials` (docs/model.md), from
the same compiled :class:`simcore.engine.compile.Model`, but the way one would write it with
numpy alone: vectorised across every deal of a batch of trials, one open stage at a
time with boolean masks, then the decision stage one push round at a time, and
aggregated with ``np.bincount``. Its randomness comes from a ``numpy.random.Generator``
(so it matches the kernel in distribution, not draw for draw), and it uses exact
lognormal draws instead of the kernel's quantile tables.

What it computes, per trial, period and cell: bookings (dollars and count), creation
by stage, losses by stage and reason, and pushes. It leaves out what only the kernel
records (the bank, due and slipped deals at period boundaries, cohorts, cycle times),
so it does less work than the kernel: the speed ratio is, if anything, flattering to
numpy. ``tests/test_numpy_reference.py`` checks that its expected bookings agree with
the kernel's within Monte-Carlo error, which is what makes the speed ratio honest.
"""

from __future__ import annotations

import math

import numpy as np

from simcore.engine.kernel import (
    AMOUNT_EMPIRICAL,
    BETA,
    DIST_EXPONENTIAL,
    DIST_GAMMA,
    DIST_LOGNORMAL,
    NEGATIVE_BINOMIAL,
    PERT,
    param_layout,
)


def _assumptions(model, rng, trials):
    """Each trial's and cell's drawn parameter slots, shape (trials, cells, slots)."""
    kind, a, b, c = model.kernel_params()
    out = np.broadcast_to(a, (trials,) + a.shape).copy()
    for cell, slot in np.argwhere(kind != 0):
        if kind[cell, slot] == PERT:
            low, mode, high = a[cell, slot], b[cell, slot], c[cell, slot]
            if high <= low:
                out[:, cell, slot] = mode
                continue
            alpha = 1.0 + 4.0 * (mode - low) / (high - low)
            beta = 1.0 + 4.0 * (high - mode) / (high - low)
            out[:, cell, slot] = low + (high - low) * rng.beta(alpha, beta, trials)
        elif kind[cell, slot] == BETA:
            mean, strength = a[cell, slot], b[cell, slot]
            out[:, cell, slot] = rng.beta(mean * strength, (1.0 - mean) * strength, trials)
    return out


def _attainment(model, rng, trials, z):
    """Each trial's share of the plan delivered per cell, shape (trials, cells): the cell's
    attainment group drawn by its quantile (a Gaussian copula on the market factor ``z``)."""
    from scipy.special import betaincinv, ndtr, ndtri

    n_cells = len(model.creation_rate)
    out = np.ones((trials, n_cells))
    for g in range(len(model.attain_names)):
        kind, base = model.attain_kind[g], model.attain_base[g]
        if kind == PERT and model.attain_high[g] > model.attain_low[g]:
            low, high = model.attain_low[g], model.attain_high[g]
            a, b = 1.0 + 4.0 * (base - low) / (high - low), 1.0 + 4.0 * (high - base) / (high - low)
        elif kind == BETA:
            low, high = 0.0, 1.0
            a, b = base * model.attain_strength[g], (1.0 - base) * model.attain_strength[g]
        else:
            out[:, model.attain_group == g] = base
            continue
        lo = model.attain_loading[g]
        u = ndtr(math.sqrt(1.0 - lo * lo) * ndtri(rng.random(trials)) + lo * z)
        out[:, model.attain_group == g] = (low + (high - low) * betaincinv(a, b, u))[:, None]
    return out


def _per_trial(model, params, z):
    """Per (trial, cell) rates after the free-stage split and the market factor."""
    k = model.n_stages
    adv0, dwell0, growth0, win_s, push_s, delay_s, decay_s, conv_s, med_s, wp_s, wf_s, _ = param_layout(k)
    trials, n_cells, _ = params.shape
    advance = np.clip(params[:, :, adv0 : adv0 + k - 1], 0.0, 1.0)
    for c in range(n_cells):
        free = model.free_stage[c, : k - 1]
        if free.any():
            counted = np.zeros(k - 1, dtype=bool)
            counted[model.entry_stage[c] :] = True
            fixed = params[:, c, adv0 : adv0 + k - 1][:, counted & ~free].prod(axis=1)
            n_free = int((counted & free).sum())
            ratio = np.where(fixed > 0, params[:, c, conv_s] / np.where(fixed > 0, fixed, 1.0), 1.0)
            split = ratio ** (1.0 / n_free) if n_free > 0 else np.ones(trials)
            advance[:, c, free] = np.clip(split, 0.0, 1.0)[:, None]
    dwell_mean = np.maximum(params[:, :, dwell0 : dwell0 + k], 1e-9)
    w = np.clip(params[:, :, win_s], 0.0, 1.0)
    load = model.market_loading[None, :]
    inside = (load != 0.0) & (w > 0.0) & (w < 1.0)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        shifted = 1.0 / (1.0 + np.exp(-(np.log(w / (1.0 - w)) + load * z[:, None])))
    w = np.where(inside, shifted, w)
    return {
        "advance": advance,
        "growth": params[:, :, growth0 : growth0 + k - 1],
        "dwell_mean": dwell_mean,
        "win": w,
        "push": np.clip(params[:, :, push_s], 0.0, 1.0 - w),
        "decay": params[:, :, decay_s],
        "push_mean": np.maximum(params[:, :, delay_s], 1e-9),
        "median": params[:, :, med_s],
        "whale_p": params[:, :, wp_s],
        "whale_f": params[:, :, wf_s],
    }


def _dwell(rng, kind, mean, cv, residual):
    """Dwell days of deals with distribution ``kind`` (per deal), mean and cv; ``residual``
    for deals found mid-stage (length-biased, times a uniform: see the kernel's ``_dwell``)."""
    out = np.array(mean, dtype=np.float64, copy=True)  # DIST_FIXED
    m = kind == DIST_LOGNORMAL
    if m.any():
        s = np.sqrt(np.log1p(cv[m] ** 2))
        shift = np.where(residual[m], 0.5, -0.5) * s * s
        out[m] = mean[m] * np.exp(s * rng.standard_normal(int(m.sum())) + shift)
    m = kind == DIST_EXPONENTIAL
    if m.any():
        out[m] = rng.exponential(1.0, int(m.sum())) * mean[m]
    m = kind == DIST_GAMMA
    if m.any():
        shape = 1.0 / cv[m] ** 2
        out[m] = rng.gamma(shape + residual[m], 1.0) * mean[m] / shape
    # The exponential is memoryless: its residual is itself.
    scale = residual & (kind != DIST_EXPONENTIAL)
    if scale.any():
        out[scale] *= rng.random(int(scale.sum()))
    return out


def _amounts(model, rng, cell, par_idx, pars):
    """Deal sizes at creation (dollars): base lognormal or empirical, whale overlay, floor, cap."""
    n = cell.shape[0]
    median = pars["median"][par_idx]
    amount = np.empty(n)
    emp = model.amount_kind[cell] == AMOUNT_EMPIRICAL
    lg = ~emp
    amount[lg] = median[lg] * np.exp(model.amount_sigma[cell[lg]] * rng.standard_normal(int(lg.sum())))
    if emp.any():
        off = model.empirical_offset
        lo, size = off[cell[emp]], off[cell[emp] + 1] - off[cell[emp]]
        pick = np.minimum((rng.random(int(emp.sum())) * size).astype(np.int64), size - 1)
        amount[emp] = median[emp] * model.empirical[lo + pick]
    whale = rng.random(n) < pars["whale_p"][par_idx]
    if whale.any():
        f = pars["whale_f"][par_idx][whale]
        hi = model.whale_factor_max[cell[whale]]
        ranged = ~np.isnan(hi)
        factor = f.copy()
        factor[ranged] = f[ranged] + (hi[ranged] - f[ranged]) * rng.random(int(ranged.sum()))
        amount[whale] *= factor
    return np.clip(amount, model.amount_floor[cell], model.amount_cap[cell])


def simulate_batch(model, trials, rng):
    """Simulate ``trials`` trials of ``model`` with numpy; returns ``(outputs, lifecycles)``.

    ``outputs`` maps ``bookings_amount``, ``bookings_count`` (trials, periods, cells),
    ``created_amount``, ``created_count``, ``lost_competition_amount``,
    ``lost_no_decision_amount`` (trials, periods, cells, stages), ``pushes_count``
    (trials, periods, cells) to arrays; ``lifecycles`` is the number of opportunities
    simulated (created plus starting bank).
    """
    k = model.n_stages
    decision = k - 1
    n_cells = model.param_kind.shape[0]
    n_periods = len(model.periods)
    horizon = model.horizon
    pod = model.period_of_day
    params = _assumptions(model, rng, trials)
    z = rng.standard_normal(trials)
    pars = _per_trial(model, params, z)

    # Creation: Poisson (or negative binomial) counts per trial, cell and week, at the plan's
    # rate times the trial's attainment (a thinned Poisson is Poisson; a thinned negative
    # binomial keeps its size).
    rate = model.creation_rate
    attained = _attainment(model, rng, trials, z)
    counts = np.empty((trials,) + rate.shape, dtype=np.int64)
    for c in range(n_cells):
        if model.process[c] == NEGATIVE_BINOMIAL and math.isfinite(model.dispersion[c]):
            size = model.dispersion[c]
            lam = np.maximum(rate[c] * attained[:, c, None], 1e-300)
            counts[:, c] = np.where(rate[c] > 0, rng.negative_binomial(size, size / (size + lam)), 0)
        else:
            counts[:, c] = rng.poisson(rate[c] * attained[:, c, None])
    flat = counts.ravel()
    slot = np.repeat(np.arange(flat.size), flat)
    trial = slot // (n_cells * rate.shape[1])
    cell = (slot // rate.shape[1]) % n_cells
    week = slot % rate.shape[1]
    t = model.week_start[week] + model.week_length[week] * rng.random(slot.size)
    amount = _amounts(model, rng, cell, (trial, cell), pars)
    stage = model.entry_stage[cell].copy()
    residual = np.zeros(slot.size, dtype=bool)
    given_close = np.full(slot.size, np.nan)

    # The starting bank, in every trial.
    nb = model.bank_cell.size
    if nb:
        trial = np.concatenate([trial, np.repeat(np.arange(trials), nb)])
        cell = np.concatenate([cell, np.tile(model.bank_cell, trials)])
        t = np.concatenate([t, np.zeros(trials * nb)])
        amount = np.concatenate([amount, np.tile(model.bank_amount, trials)])
        stage = np.concatenate([stage, np.tile(model.bank_stage, trials)])
        residual = np.concatenate([residual, np.ones(trials * nb, dtype=bool)])
        given_close = np.concatenate([given_close, np.tile(model.bank_close, trials)])
    lifecycles = trial.size

    def cube(tr, per, ce, weights, extra=None, size=None):
        """Sum ``weights`` into (trials, periods, cells[, extra])."""
        if extra is None:
            idx = (tr * n_periods + per) * n_cells + ce
            return np.bincount(idx, weights, trials * n_periods * n_cells).reshape(trials, n_periods, n_cells)
        idx = ((tr * n_periods + per) * n_cells + ce) * size + extra
        return np.bincount(idx, weights, trials * n_periods * n_cells * size).reshape(
            trials, n_periods, n_cells, size
        )

    new = ~residual
    created_amount = cube(trial[new], pod[t[new].astype(np.int64)], cell[new], amount[new], stage[new], k)
    created_count = cube(trial[new], pod[t[new].astype(np.int64)], cell[new], None, stage[new], k)
    lost_comp = np.zeros((trials, n_periods, n_cells, k))
    lost_nd = np.zeros((trials, n_periods, n_cells, k))

    # Open stages before the decision, one stage at a time over every deal in it.
    for s in range(decision):
        m = np.flatnonzero(stage == s)
        if m.size == 0:
            continue
        tc = (trial[m], cell[m])
        dwell = _dwell(
            rng,
            model.dwell_kind[cell[m], s],
            pars["dwell_mean"][tc + (s,)],
            model.dwell_cv[cell[m], s],
            residual[m],
        )
        t_exit = t[m] + dwell
        residual[m] = False
        inside = t_exit < horizon
        stage[m[~inside]] = -1  # open at the horizon: part of the ending bank
        m, t_exit, tc = m[inside], t_exit[inside], (tc[0][inside], tc[1][inside])
        t[m] = t_exit
        u = rng.random(m.size)
        a = pars["advance"][tc + (s,)]
        adv = u < a
        per = pod[t_exit.astype(np.int64)]
        amount[m[adv]] *= pars["growth"][tc + (s,)][adv]
        stage[m[adv]] = s + 1
        created_amount += cube(tc[0][adv], per[adv], tc[1][adv], amount[m[adv]], np.full(adv.sum(), s + 1), k)
        created_count += cube(tc[0][adv], per[adv], tc[1][adv], None, np.full(adv.sum(), s + 1), k)
        lost = ~adv
        comp = lost & (u < a + (1.0 - a) * model.lost_comp_share[cell[m], s])
        nd = lost & ~comp
        lost_comp[..., s] += cube(tc[0][comp], per[comp], tc[1][comp], amount[m[comp]])
        lost_nd[..., s] += cube(tc[0][nd], per[nd], tc[1][nd], amount[m[nd]])
        stage[m[lost]] = -1

    # The decision stage: decide, or push and decide again, one round at a time.
    m = np.flatnonzero(stage == decision)
    tc = (trial[m], cell[m])
    given = ~np.isnan(given_close[m]) & residual[m]
    dwell = _dwell(
        rng,
        model.dwell_kind[cell[m], decision],
        pars["dwell_mean"][tc + (decision,)],
        model.dwell_cv[cell[m], decision],
        residual[m],
    )
    t_decide = np.where(given, np.maximum(given_close[m], t[m]), t[m] + dwell)
    w = pars["win"][tc]
    p_push = pars["push"][tc]
    p_comp = (1.0 - w - p_push) * model.decision_lost_comp_share[cell[m]]
    n_push = np.zeros(m.size, dtype=np.int64)
    won_t, won_m = [], []
    pushes = np.zeros((trials, n_periods, n_cells))
    while m.size:
        inside = t_decide < horizon
        m, t_decide, w, p_push, p_comp, n_push = (x[inside] for x in (m, t_decide, w, p_push, p_comp, n_push))
        tr, ce = trial[m], cell[m]
        per = pod[t_decide.astype(np.int64)]
        u = rng.random(m.size)
        win = u < w
        comp = ~win & (u < w + p_comp)
        push = ~win & ~comp & (u < w + p_comp + p_push) & (n_push < model.max_pushes[ce])
        nd = ~(win | comp | push)
        won_t.append(t_decide[win])
        won_m.append(m[win])
        lost_comp[..., decision] += cube(tr[comp], per[comp], ce[comp], amount[m[comp]])
        lost_nd[..., decision] += cube(tr[nd], per[nd], ce[nd], amount[m[nd]])
        pushes += cube(tr[push], per[push], ce[push], None)
        mean = pars["push_mean"][tr[push], ce[push]]
        delay = _dwell(
            rng, model.push_kind[ce[push]], mean, model.push_cv[ce[push]], np.zeros(push.sum(), dtype=bool)
        )
        m, w, p_push, p_comp = (
            m[push],
            w[push] * pars["decay"][tr[push], ce[push]],
            p_push[push],
            p_comp[push],
        )
        t_decide, n_push = t_decide[push] + delay, n_push[push] + 1

    won_t = np.concatenate(won_t) if won_t else np.zeros(0)
    won_m = np.concatenate(won_m) if won_m else np.zeros(0, dtype=np.int64)
    per = pod[won_t.astype(np.int64)]
    outputs = {
        "bookings_amount": cube(trial[won_m], per, cell[won_m], amount[won_m]),
        "bookings_count": cube(trial[won_m], per, cell[won_m], None),
        "created_amount": created_amount,
        "created_count": created_count,
        "lost_competition_amount": lost_comp,
        "lost_no_decision_amount": lost_nd,
        "pushes_count": pushes,
    }
    return outputs, lifecycles


def simulate(model, trials, seed=0, batch=1000):
    """Simulate ``trials`` trials in batches of ``batch``; returns ``(outputs, lifecycles)``.

    Parameters
    ----------
    model : simcore.engine.compile.Model
        From :func:`simcore.engine.compile.compile_scenario`.
    trials : int
        Number of Monte Carlo trials.
    seed : int
        Seed of the ``numpy.random.Generator`` (draws differ from the kernel's).
    batch : int
        Trials vectorised together (memory grows with batch x deals per trial).

    Examples
    --------
    >>> out, n = simulate(compile_scenario(load_scenario("scenarios/fy2026.toml")), 2000, seed=0)
    >>> out["bookings_amount"].sum(axis=(1, 2)).mean()  # mean bookings over the horizon, dollars
    """
    rng = np.random.default_rng(seed)
    parts, total = [], 0
    for lo in range(0, trials, batch):
        out, n = simulate_batch(model, min(batch, trials - lo), rng)
        parts.append(out)
        total += n
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}, total
