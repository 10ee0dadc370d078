"""An as-of forecast beside ``simcore run`` of the same trials, in one process.

Run: ``python benchmarks/bench_forecast.py [--trials 10000] [--deals 5000] [--repeats 3]``.

A CRM history of the default scenario (fy2026) is simulated and cut to the ``--deals`` most
recently created opportunities (with their stage history), written as CSV, and forecast as of
2026-05-15. Timed apart, best and median of ``--repeats``, alternating so that a change of load
hits both alike: reading and splitting the files (``as_of_state``), the forecast's simulation
(``forecast(..., baseline=None)`` on the state), the forecast with the plan's own run for the
change since the plan (``baseline="plan"``, what ``simcore forecast`` does), and
``simulate(plan, trials)``. The issue's target: the forecast takes the time of a run plus the
time to read the file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import simcore
from simcore.calibrate import simulate_history
from simcore.forecast.asof import as_of_state
from simcore.forecast.forecast import forecast

AS_OF = "2026-05-15"


def export(sc, deals, folder):
    """Write a history of ``deals`` opportunities (the latest created before the as-of date): as
    many years back as the plan's creation needs (fy2026 creates about 600 a year)."""
    h = simulate_history(sc, "2013-01-01", "2026-05-20", seed=3)
    opps = h.opportunities.sort_values("CreatedDate").tail(deals)
    hist = h.stage_history[h.stage_history["OpportunityId"].isin(opps["Id"])]
    paths = folder / "opportunities.csv", folder / "stage_history.csv"
    opps.to_csv(paths[0], index=False)
    hist.to_csv(paths[1], index=False)
    return paths, len(opps), len(hist)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "fy2026.toml"))
    p.add_argument("--trials", type=int, default=10_000)
    p.add_argument("--deals", type=int, default=5_000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    sc = simcore.load_scenario(args.scenario)
    print(f"{os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        (opps, hist), n_opps, n_hist = export(sc, args.deals, Path(tmp))
        print(
            f"export: {n_opps:,} opportunities, {n_hist:,} stage changes; as of {AS_OF}; {args.trials:,} trials"
        )
        kw = {"trials": args.trials, "seed": 7, "progress": False}
        state = as_of_state(sc, opps, AS_OF, history=hist)  # warm: numba cache, pandas parsers
        forecast(sc, state, baseline=None, trials=50, seed=7, progress=False)
        simcore.simulate(sc, trials=50, seed=7, progress=False)
        times = {"read": [], "forecast": [], "forecast+plan": [], "run": []}
        for _ in range(args.repeats):
            t, state = timed(lambda: as_of_state(sc, opps, AS_OF, history=hist))
            times["read"].append(t)
            times["forecast"].append(timed(lambda s=state: forecast(sc, s, baseline=None, **kw))[0])
            times["forecast+plan"].append(timed(lambda s=state: forecast(sc, s, **kw))[0])
            times["run"].append(timed(lambda: simcore.simulate(sc, **kw))[0])
        print(f"bank {len(state.bank):,} open deals, {len(state.actuals):,} actuals")
        for name, values in times.items():
            print(f"{name:>14}: best {min(values):6.2f} s  median {np.median(values):6.2f} s")
        best = {k: min(v) for k, v in times.items()}
        print(
            f"forecast / run = {best['forecast'] / best['run']:.2f}; "
            f"(read + forecast) / (read + run) = {(best['read'] + best['forecast']) / (best['read'] + best['run']):.2f}; "
            f"with the plan's run for the change: {best['forecast+plan'] / best['run']:.2f} x run"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
