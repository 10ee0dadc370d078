"""Twenty programs evaluated and chosen among at 10,000 trials: target under 60 s on 2 cores.

Run: ``python benchmarks/bench_programs.py [--trials 10000] [--programs 20]``.

The example ``scenarios/programs.toml`` with its seven programs, plus copies of them (new
names, other cells, other sizes) up to ``--programs``: every program simulated alone and all
together with common random numbers (``evaluate_programs``: programs + 2 runs, more for
programs that require others), then the least-cost choice reaching P(hit) 50% and the best
P(hit) for a budget (``choose_programs``, each simulating its choice as a whole). Then the
programs chosen jointly with the creation plan (``optimize_with_programs``, least total cost at
P(hit) 50%) at ``--joint-trials`` (default 2,000: every set it scores is a creation
optimization at that many trials). The numba kernel is warmed first (a short run), so the
figure is the work, not the compile. Report it with the load average: the machine is shared.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simcore.analysis.programs import evaluate_programs
from simcore.optimize.joint import optimize_with_programs
from simcore.optimize.programs import choose_programs
from simcore.scenario.load import load_scenario, scenario_from_dict

SOURCES = ["inbound", "outbound", "partner"]
SEGMENTS = ["commercial", "enterprise"]


def scenario_with(n_programs: int):
    """The example scenario with ``n_programs`` programs (the file's seven, then variations)."""
    sc = load_scenario(ROOT / "scenarios" / "programs.toml")
    raw = copy.deepcopy(sc.raw)
    programs = raw["program"]
    i = 0
    while len(programs) < n_programs:
        p = copy.deepcopy(raw["program"][i % 7])
        p["name"] = f"{p['name']} #{len(programs)}"
        p["feeds"] = {"source": SOURCES[i % 3], "segment": SEGMENTS[(i // 3) % 2]}
        if "creation" in p:
            key = "dollars" if "dollars" in p["creation"] else "count"
            p["creation"][key] = p["creation"][key] * (0.5 + 0.1 * (i % 7))
        p.pop("requires", None)
        programs.append(p)
        i += 1
    del programs[n_programs:]
    return scenario_from_dict(raw, name=f"programs x{n_programs}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--programs", type=int, default=20)
    ap.add_argument("--joint-trials", type=int, default=2000, help="trials of the joint choice (0: skip it)")
    args = ap.parse_args(argv)
    sc = scenario_with(args.programs)
    evaluate_programs(sc, trials=200, seed=1)  # warm the kernel and the search
    choose_programs(sc, trials=200, seed=1, confidence=0.5)
    t0 = time.perf_counter()
    ev = evaluate_programs(sc, trials=args.trials, seed=1)
    t1 = time.perf_counter()
    least = choose_programs(sc, trials=args.trials, seed=1, confidence=0.5, evaluation=ev)
    t2 = time.perf_counter()
    best = choose_programs(sc, trials=args.trials, seed=1, budget=2_000_000, evaluation=ev)
    t3 = time.perf_counter()
    joint = None
    if args.joint_trials:
        joint = optimize_with_programs(sc, 0.5, trials=args.joint_trials, seed=1, verify_trials=0)
    t4 = time.perf_counter()
    load = os.getloadavg()
    print(
        f"{args.programs} programs, {args.trials:,} trials, NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'all')}"
    )
    print(f"evaluate (alone and all together): {t1 - t0:6.1f} s")
    print(f"choose, least cost at P(hit) 50%:  {t2 - t1:6.1f} s  ({least.selected} selected, {least.status})")
    print(f"choose, best P(hit) for $2M:       {t3 - t2:6.1f} s  ({best.selected} selected)")
    print(f"total:                             {t3 - t0:6.1f} s  (target < 60 s)")
    if joint is not None:
        print(
            f"joint with the creation plan, {args.joint_trials:,} trials: {t4 - t3:6.1f} s  "
            f"({joint.selected} selected, {len(joint.sets_scored)} sets optimized, total cost ${joint.total_cost:,.0f})"
        )
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
