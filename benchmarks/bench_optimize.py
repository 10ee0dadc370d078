"""Benchmark: the optimizer on fy2026 (4 sources x 4 quarters) at 10,000 trials.

Run: ``python benchmarks/bench_optimize.py [--trials 10000] [--verify-trials 20000]``.
Prints the wall time of the solve (re-simulations + LPs, the in-sample answer) and of the
whole call (with the 20,000-trial out-of-sample check, the spreadsheet plan and the required
bank). The numba kernel is compiled (or loaded from its cache) before timing. Target: the
solve under 60 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import simcore
from simcore.optimize.plan import optimize


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=10_000)
    p.add_argument("--verify-trials", type=int, default=20_000)
    p.add_argument("--confidence", type=float, default=0.9)
    args = p.parse_args()
    sc = simcore.load_scenario(ROOT / "scenarios" / "fy2026.toml")
    simcore.simulate(sc, trials=100, seed=0, progress=False)  # compile / load the kernel first

    t0 = time.perf_counter()
    solve = optimize(sc, args.confidence, trials=args.trials, seed=0, verify_trials=0, spreadsheet=False)
    t_solve = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = optimize(sc, args.confidence, trials=args.trials, seed=0, verify_trials=args.verify_trials)
    t_full = time.perf_counter() - t0
    print(
        f"bench_optimize: fy2026, {len(full.sources)} sources x {len(full.quarters)} quarters, "
        f"{args.trials:,} trials, {os.cpu_count()} cores"
    )
    print(
        f"  solve (in-sample, {solve.nit} simulations): {t_solve:.1f} s; total stage 1 "
        f"${solve.total_stage1 / 1e6:.1f}M, in-sample confidence {solve.confidence_in_sample:.1%}"
    )
    print(
        f"  full call (+ {args.verify_trials:,}-trial check, spreadsheet plan, required bank): {t_full:.1f} s; "
        f"out-of-sample confidence {full.confidence_out_of_sample:.1%}; spreadsheet "
        f"${full.spreadsheet['total_stage1'] / 1e6:.1f}M at {full.spreadsheet['confidence']:.1%}"
    )


if __name__ == "__main__":
    main()
