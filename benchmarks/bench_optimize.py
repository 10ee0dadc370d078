"""Benchmark: the optimizer on fy2026 (4 sources x 4 quarters) at 10,000 trials.

Run: ``python benchmarks/bench_optimize.py [--trials 10000] [--verify-trials 20000]``.
Prints the wall time of the call that the target is about (the solve with its lower bound and
the 20,000-trial out-of-sample check, no spreadsheet comparison), then of the whole call (with
the spreadsheet plan as written and scaled, and the required bank), and the load average. The
numba kernel is compiled (or loaded from its cache) before timing. Target: under 30 s on the
2-core machine.

``--breakdown`` instead prints what each step from the uniform spreadsheet to the optimized plan
of the segmented scenario saves, at equal confidence and ending bank: push, sizing by
simulation, timing and source mix (fy2026), then the per-cell rates (fy2026_segmented, with the
same ending-bank requirement), against the "Stage 1 requirement falls 20-35%" claim.
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
    p.add_argument("--breakdown", action="store_true", help="the saving by step, fy2026 -> segmented")
    args = p.parse_args()
    if args.breakdown:
        return breakdown(args)
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
        f"stage 1 ${solve.total_stage1 / 1e6:.1f}M, in-sample {solve.confidence_in_sample:.2%}, "
        f"out-of-sample {solve.confidence_out_of_sample:.1%}, gap {solve.gap:.1%} ({solve.certificate})"
    )
    sh = full.spreadsheet
    print(
        f"  full call (+ spreadsheet as written and scaled, required bank): {t_full:.1f} s; spreadsheet "
        f"${sh['total_stage1'] / 1e6:.1f}M at {sh['confidence']:.1%}, scaled ${sh['scaled']['total_stage1'] / 1e6:.1f}M; "
        f"saving at equal confidence and ending bank {sh['saving_equal_confidence']:.1%}"
    )


def breakdown(args):
    """The saving from the uniform spreadsheet to the segmented scenario's optimized plan, by step."""
    kw = {"trials": args.trials, "seed": 0, "verify_trials": args.verify_trials}
    base = optimize(simcore.load_scenario(ROOT / "scenarios" / "fy2026.toml"), args.confidence, **kw)
    bank = base.ending_bank["required"]
    seg_sc = simcore.load_scenario(
        ROOT / "scenarios" / "fy2026_segmented.toml", overrides={"optimize.ending_bank": bank}
    )
    seg = optimize(seg_sc, args.confidence, **kw)
    b, sb = base.spreadsheet["breakdown"], seg.spreadsheet["breakdown"]
    sheet = b["as_written"]
    steps = [
        ("spreadsheet as written (uniform rates, no push)", sheet),
        ("  - push (the spreadsheet's backsolve with push)", -b["push"]),
        ("  - sizing by simulation to the confidence and ending bank", -b["confidence_and_ending_bank"]),
        ("  - timing and source mix (optimized, uniform rates)", -b["timing_and_mix"]),
        ("  - per-cell rates (optimized, segmented)", seg.total_stage1 - base.total_stage1),
        ("segmented, optimized", seg.total_stage1),
    ]
    print(
        f"bench_optimize --breakdown: {args.trials:,} trials, {args.confidence:.0%}, ending Stage-4 bank "
        f"${bank / 1e6:.2f}M at {base.ending_bank['confidence']:.0%}, load {os.getloadavg()[0]:.1f}"
    )
    for label, value in steps:
        print(f"  {label:<62} ${value / 1e6:8.2f}M  {value / sheet:+7.1%}")
    scaled = base.spreadsheet["scaled"]["total_stage1"]
    print(
        f"  base optimized ${base.total_stage1 / 1e6:.2f}M (success {base.success}) in {base.confidence_in_sample:.2%} / out "
        f"{base.confidence_out_of_sample:.1%}; segmented optimized (success {seg.success}) in {seg.confidence_in_sample:.2%} / out "
        f"{seg.confidence_out_of_sample:.1%}; segmented spreadsheet as written ${sb['as_written'] / 1e6:.2f}M, "
        f"scaled ${seg.spreadsheet['scaled']['total_stage1'] / 1e6:.2f}M"
    )
    print(
        f"  Stage 1 falls {1 - seg.total_stage1 / sheet:.1%} from the spreadsheet as written, "
        f"{1 - seg.total_stage1 / scaled:.1%} from it scaled to the same confidence and ending bank"
    )


if __name__ == "__main__":
    main()
