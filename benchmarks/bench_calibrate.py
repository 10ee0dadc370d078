"""Time of ``simcore calibrate`` on a large CRM history, beside the time to read its files.

Run: ``python benchmarks/bench_calibrate.py [--opportunities 100000] [--out DIR]``.

A synthetic history (``simcore history``) of a company with 16 cells, eight stages and pushes,
sized to about ``--opportunities`` deals and ten stage changes per deal (1,000,000 rows at the
default), is written as CSV; then, timed apart: reading both files with the readers, and
calibrating. Peak resident memory is printed beside the size of the history in memory, and
the load average before and after (the machine is shared: read the figures with it).
Target on the 2-core machine: calibrating in under 30 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from history_scenario import history_scenario

from simcore.calibrate import calibrate, read_opportunities, read_stage_history, simulate_history

STAGES = [f"Stage {i + 1}" for i in range(12)]


def big_scenario(opportunities: int, years: int):
    """16 cells, 12 stages advancing at 95%, a decision pushing 40% of the time up to 6 times:
    about ten stage changes per deal."""
    return history_scenario(
        "bench",
        opportunities,
        years,
        products=["A", "B", "C", "D"],
        stages=STAGES,
        categories=["pipeline" if i < 8 else "commit" for i in range(len(STAGES))],
        stage={"advance": 0.95, "dwell": {"mean": 12, "cv": 0.6}, "growth": 1.02},
        decision={
            "win": 0.3,
            "push": 0.4,
            "dwell": {"mean": 20, "cv": 0.5},
            "push_delay": {"mean": 20, "cv": 0.5},
            "win_decay": 0.9,
            "max_pushes": 6,
        },
        median=40_000,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--out", help="folder for the CSVs (default: a temporary one)")
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    out = Path(args.out or tempfile.mkdtemp(prefix="bench_calibrate_"))
    sc = big_scenario(args.opportunities, args.years)
    t0 = time.perf_counter()
    h = simulate_history(sc, f"{2026 - args.years}-01-01", "2026-01-01", seed=1)
    opp_path, hist_path = h.write(out)
    print(f"history: {len(h.opportunities):,} opportunities, {len(h.stage_history):,} stage changes "
          f"(simulated and written in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
    del h
    t0, c0 = time.perf_counter(), time.process_time()
    opps = read_opportunities(opp_path, dimensions=["source", "product"]).table
    hist = read_stage_history(hist_path).table
    t_read, c_read = time.perf_counter() - t0, time.process_time() - c0
    in_memory = (opps.memory_usage(deep=True).sum() + hist.memory_usage(deep=True).sum()) / 2**20
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    fit = calibrate(opps, "2026-01-01", ["source", "product"], hist)
    t_fit, c_fit = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # CPU seconds beside wall seconds: on a shared machine the wall time grows with the load,
    # the CPU time of this one process much less.
    print(f"read both files: {t_read:.1f} s wall, {c_read:.1f} s CPU")
    print(f"calibrate:       {t_fit:.1f} s wall, {c_fit:.1f} s CPU  (target < 30 s)")
    print(
        f"history in memory {in_memory:.0f} MiB; peak RSS {rss_before:.0f} MiB before calibrating, {rss:.0f} MiB after"
    )
    print(f"fitted: {len(fit.evidence)} values, {fit.diagnostics['open_deals']:,} open deals in the bank")
    print(f"load average after: {os.getloadavg()}")
    return t_read, t_fit


if __name__ == "__main__":
    main()
