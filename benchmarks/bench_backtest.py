"""Time of ``simcore backtest`` on a large CRM history: 8 quarterly as-of dates.

Run: ``python benchmarks/bench_backtest.py [--opportunities 100000] [--trials 1000] [--out DIR]``.

A synthetic history (``simcore history``) of a company with 8 cells (4 sources x 2 products),
four stages and pushes, sized to about ``--opportunities`` deals over three years, is written as
CSV. Then, timed apart: reading both files, and the backtest of its last two years (as of each
quarter from 2024-01-01, forecasting the next quarter: calibrate on what was known, simulate,
score), with the time per as-of date. Wall and CPU seconds and the load average before and after
are printed (the machine is shared: read the figures with it). Target on the 2-core machine: the
backtest in under 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from history_scenario import history_scenario

from simcore.calibrate import read_opportunities, read_stage_history, simulate_history
from simcore.forecast.backtest import backtest

STAGES = ["Discovery", "Evaluation", "Proposal", "Negotiation"]
DECISION = {"dwell": {"mean": 20, "cv": 0.5}, "push_delay": {"mean": 20, "cv": 0.5}, "win_decay": 0.9}


def big_scenario(opportunities: int, years: int):
    """8 cells, four stages, a decision pushing 30% of the time up to three times."""
    return history_scenario(
        "bench_backtest",
        opportunities,
        years,
        products=["A", "B"],
        stages=STAGES,
        categories=["pipeline", "pipeline", "best_case", "commit"],
        stage={"advance": 0.7, "dwell": {"mean": 15, "cv": 0.6}},
        decision=dict(DECISION, push=0.3, max_pushes=3, win=0.35),
        median=30_000,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--out", help="folder for the CSVs (default: a temporary one)")
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    out = Path(args.out or tempfile.mkdtemp(prefix="bench_backtest_"))
    t0 = time.perf_counter()
    h = simulate_history(big_scenario(args.opportunities, 3), "2023-01-01", "2026-01-01", seed=1)
    opp_path, hist_path = h.write(out)
    print(f"history: {len(h.opportunities):,} opportunities, {len(h.stage_history):,} stage changes "
          f"(simulated and written in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
    del h
    t0, c0 = time.perf_counter(), time.process_time()
    opps = read_opportunities(opp_path, dimensions=["source"]).table
    hist = read_stage_history(hist_path).table
    print(f"read both files: {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU")
    marks = []

    def progress(k, n, as_of):
        marks.append(time.perf_counter())

    t0, c0 = time.perf_counter(), time.process_time()
    bt = backtest(opps, hist, start="2024-01-01", stop="2026-01-01", dimensions=["source"],
                  trials=args.trials, progress=progress)  # fmt: skip
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    marks.append(time.perf_counter())
    per = [b - a for a, b in zip(marks, marks[1:])]
    print(f"backtest of {len(bt.rows)} as-of dates, {args.trials:,} trials each: {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU (target < 120 s); per date {', '.join(f'{x:.1f}' for x in per)} s")  # fmt: skip
    print(
        f"coverage {bt.overall['coverage']:.0%}, PIT KS p = {bt.overall['pit_p_value']:.2f}; PITs "
        + ", ".join(f"{r['pit']:.2f}" for r in bt.rows)
    )
    print(f"load average after: {os.getloadavg()}")
    return wall


if __name__ == "__main__":
    main()
