"""How fast this kernel's design can go: a stripped lifecycle beside the full kernel.

Run: ``python benchmarks/bench_ceiling.py [--trials 10000]``.

The stripped lifecycle is written the way :func:`simcore.engine.kernel.simulate_trials` is (numba,
parallel over trials, the same counter-based draws and lognormal quantile table) but keeps
only the core of the model: a fixed number of deals per trial, each created with a time and
an amount, three open stages (a lognormal dwell, advance or lose) and one decision (won, lost
to competition, lost to no decision), aggregated by period and cell. Everything else the full
model does is left out: Poisson/negative-binomial counts per (cell, week), whales, floors and
caps, a starting bank, pushes with decay, bank/due/slip at period boundaries, cohorts, cycle
times, assumptions drawn per trial and the market factor.

Its throughput is an upper bound for the full model written in this style (scalar code, one
trial per thread, deals in a fixed order). Issue 2 asks for 40 M lifecycles/s; the figure
printed here says how much of that the bare lifecycle already uses.

The same stripped lifecycle is also run *batched*: a trial's deals advance stage by stage
together, the draws of each stage in a loop of pure arithmetic (numba compiles it to AVX-512),
outcomes chosen without branching and the survivors compacted. It gives the same sums as the
deal-by-deal version, and says what that kernel shape would buy.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_kernel import machine, time_kernel

import simcore
from simcore.engine.compile import compile_scenario
from simcore.engine.kernel import TABLE_KNOTS, TABLE_ROW, lognormal_unit
from simcore.engine.rng import mix64, trial_key, uniform

N_CELLS = 16
HORIZON = 365.0


@numba.njit(parallel=True, cache=True)
def stripped(seed, n_trials, n_deals, tab, dwell_mean, advance, win, lost_comp, out):
    """``n_deals`` bare lifecycles per trial into ``out`` (trials, 4 quarters, cells, 13 slots)."""
    for i in numba.prange(n_trials):
        acc = out[i]
        base = trial_key(seed, i)
        for d in range(n_deals):
            key = mix64(base ^ np.uint64(d))
            c = d % N_CELLS
            t = HORIZON * uniform(key, 0)
            amount = lognormal_unit(tab, 0, uniform(key, 1))
            acc[int(t) // 92, c, 0] += amount
            s = 0
            j = 2
            open_ = True
            while s < 3:
                t += dwell_mean * lognormal_unit(tab, TABLE_ROW, uniform(key, j))
                j += 1
                if t >= HORIZON:
                    open_ = False
                    break
                p = int(t) // 92
                u = uniform(key, j)
                j += 1
                if u < advance:
                    s += 1
                    acc[p, c, s] += amount
                else:
                    acc[p, c, 4 + s] += amount
                    open_ = False
                    break
            if open_:
                t += dwell_mean * lognormal_unit(tab, TABLE_ROW, uniform(key, j))
                if t < HORIZON:
                    p = int(t) // 92
                    u = uniform(key, j + 1)
                    if u < win:
                        acc[p, c, 10] += amount
                    elif u < win + lost_comp:
                        acc[p, c, 11] += amount
                    else:
                        acc[p, c, 12] += amount


@numba.njit(parallel=True, cache=True)
def stripped_batched(seed, n_trials, n_deals, tab, dwell_mean, advance, win, lost_comp, out):
    """:func:`stripped`, stage by stage over all of a trial's deals. ``out`` has a fifth period
    row that collects, unused, the outcomes past the horizon (so nothing branches on it)."""
    for i in numba.prange(n_trials):
        acc = out[i].reshape(out[i].size)
        base = trial_key(seed, i)
        key = np.empty(n_deals, dtype=np.uint64)
        t = np.empty(n_deals)
        amount = np.empty(n_deals)
        cell = np.empty(n_deals, dtype=np.int64)
        u1 = np.empty(n_deals)
        u2 = np.empty(n_deals)
        for d in range(n_deals):
            key[d] = mix64(base ^ np.uint64(d))
        for d in range(n_deals):
            u1[d] = uniform(key[d], 0)
            u2[d] = uniform(key[d], 1)
        for d in range(n_deals):
            c = d % N_CELLS
            cell[d] = c
            t[d] = HORIZON * u1[d]
            amount[d] = lognormal_unit(tab, 0, u2[d])
            acc[((int(t[d]) // 92) * N_CELLS + c) * 13] += amount[d]
        m = n_deals
        for s in range(3):
            for q in range(m):  # the stage's draws: pure arithmetic, compiled to SIMD
                u1[q] = uniform(key[q], 2 + 2 * s)
                u2[q] = uniform(key[q], 3 + 2 * s)
            kept = 0
            for q in range(m):
                t_exit = t[q] + dwell_mean * lognormal_unit(tab, TABLE_ROW, u1[q])
                inside = t_exit < HORIZON
                advanced = u2[q] < advance
                p = int(t_exit) // 92 if inside else 4
                slot = s + 1 if advanced else 4 + s
                c = cell[q]
                acc[(p * N_CELLS + c) * 13 + slot] += amount[q]
                key[kept] = key[q]
                t[kept] = t_exit
                amount[kept] = amount[q]
                cell[kept] = c
                kept += inside and advanced
            m = kept
        for q in range(m):
            u1[q] = uniform(key[q], 8)
            u2[q] = uniform(key[q], 9)
        for q in range(m):
            t_decide = t[q] + dwell_mean * lognormal_unit(tab, TABLE_ROW, u1[q])
            p = int(t_decide) // 92 if t_decide < HORIZON else 4
            u = u2[q]
            slot = 10 if u < win else (11 if u < win + lost_comp else 12)
            acc[(p * N_CELLS + cell[q]) * 13 + slot] += amount[q]


def best_rate(f, trials, per_trial, tab, out):
    """Best M lifecycles/s of ``f`` over repeats (the first call compiles or loads)."""
    f(np.uint64(7), 16, per_trial, tab, 20.0, 0.79, 0.25, 0.35, out)
    times = []
    for _ in range(best_rate.repeats):
        out[...] = 0
        t0 = time.perf_counter()
        f(np.uint64(7), trials, per_trial, tab, 20.0, 0.79, 0.25, 0.35, out)
        times.append(time.perf_counter() - t0)
    return trials * per_trial / min(times) / 1e6


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)

    sc = simcore.load_scenario(ROOT / "scenarios" / "fy2026.toml")
    model = compile_scenario(sc)
    k_times, k_n = time_kernel(model, args.trials, args.repeats)
    per_trial = round(k_n / args.trials)

    # Two lognormal tables as the kernel builds them: amounts (sigma 1) and dwells (sigma 0.5).
    u = np.arange(TABLE_KNOTS + 1) / TABLE_KNOTS
    u[0], u[-1] = 1e-12, 1 - 1e-12
    from scipy.special import ndtri

    rows = [np.concatenate([np.exp(s * ndtri(u) - 0.5 * s * s), [s, -0.5 * s * s]]) for s in (1.0, 0.5)]
    tab = np.concatenate(rows)
    best_rate.repeats = args.repeats
    out = np.zeros((args.trials, 4, N_CELLS, 13))
    bare = best_rate(stripped, args.trials, per_trial, tab, out)
    out_batched = np.zeros((args.trials, 5, N_CELLS, 13))
    batched = best_rate(stripped_batched, args.trials, per_trial, tab, out_batched)
    if not np.allclose(out.sum(axis=0), out_batched[:, :4].sum(axis=0), rtol=1e-9):
        raise SystemExit("the batched stripped lifecycle does not give the deal-by-deal one's sums")
    full = k_n / min(k_times) / 1e6
    print(f"machine: {machine()}")
    print(f"full kernel, fy2026, {args.trials} trials:       best {full:6.1f} M lifecycles/s")
    print(
        f"stripped lifecycle, {per_trial} deals per trial: best {bare:6.1f} M lifecycles/s "
        f"({bare / full:.1f}x the full model)"
    )
    print(
        f"  the same, batched stage by stage:     best {batched:6.1f} M lifecycles/s "
        f"({batched / bare:.2f}x deal by deal)"
    )


if __name__ == "__main__":
    main()
