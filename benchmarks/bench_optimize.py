"""Benchmark: the optimizer on fy2026 (4 sources x 4 quarters) at 10,000 trials.

Run: ``python benchmarks/bench_optimize.py [--trials 10000] [--verify-trials 20000]``.
Prints the wall time of the call that the target is about (the solve with its lower bound and
the 20,000-trial out-of-sample check, no spreadsheet comparison), then of the whole call (with
the spreadsheet plan as written and scaled, and the required bank), and the load average. The
numba kernel is compiled (or loaded from its cache) before timing. Target: under 30 s on the
2-core machine.
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
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    solve = optimize(
        sc, args.confidence, trials=args.trials, seed=0, verify_trials=args.verify_trials, spreadsheet=False
    )
    t_solve = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = optimize(sc, args.confidence, trials=args.trials, seed=0, verify_trials=args.verify_trials)
    t_full = time.perf_counter() - t0
    print(
        f"bench_optimize: fy2026, {len(full.sources)} sources x {len(full.quarters)} quarters, "
        f"{args.trials:,} trials, {os.cpu_count()} cores, load {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(
        f"  solve + bound + {args.verify_trials:,}-trial check ({solve.nit} simulations): {t_solve:.1f} s; "
        f"stage 1 ${solve.total_stage1 / 1e6:.1f}M, in-sample {solve.confidence_in_sample:.1%}, "
        f"out-of-sample {solve.confidence_out_of_sample:.1%}, gap {solve.gap:.1%} ({solve.certificate})"
    )
    sh = full.spreadsheet
    print(
        f"  full call (+ spreadsheet as written and scaled, required bank): {t_full:.1f} s; spreadsheet "
        f"${sh['total_stage1'] / 1e6:.1f}M at {sh['confidence']:.1%}, scaled ${sh['scaled']['total_stage1'] / 1e6:.1f}M; "
        f"saving at equal confidence and ending bank {sh['saving_equal_confidence']:.1%}"
    )


if __name__ == "__main__":
    main()
