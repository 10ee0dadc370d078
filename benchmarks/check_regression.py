"""A cheap guard on kernel speed for CI: the kernel's speed relative to numpy, against a stored ratio.

Run: ``python benchmarks/check_regression.py [--update] [--stored benchmarks/regression_ratio.json]``.

Wall-clock speeds on shared CI machines move by tens of percent, so this compares two
implementations of the same model timed in the same process, in alternation: lifecycles per
CPU-second (``time.process_time``) of the numba kernel on one thread over those of
``numpy_reference.py``, the best of 7 each. A change that slows the kernel lowers the ratio whatever the machine's
load. The ratio is compared with the one stored in ``regression_ratio.json``; a drop of more
than 20% prints a warning (never a failure: the machines are shared, and the ratio also moves
a little with the CPU). ``--update`` records the median of three measurements. It takes a few seconds
with the kernel in numba's cache (the first run compiles it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numba
import numpy_reference
from bench_kernel import cpu_model

import simcore
from simcore.engine.compile import compile_scenario
from simcore.engine.kernel import flow_layout, simulate_trials
from simcore.engine.simulate import _opportunities, _Outputs

STORED = ROOT / "benchmarks" / "regression_ratio.json"
DROP = 0.20  # warn when the ratio falls by more than this


def kernel_rate(model, trials):
    """A callable giving one measurement of the kernel's lifecycles per CPU-second.

    It runs on one thread: with two, OpenMP's workers spin-wait at the end of the parallel
    loop, and that spinning is counted as CPU time, by a varying amount.
    """
    args = model.kernel_args()
    out = _Outputs(model, trials)
    extra = (True, np.empty((0, 1)))
    simulate_trials(np.uint64(7), np.int64(0), *args, *extra, *out.arrays(0, 8))  # compile / load
    created0 = flow_layout(model.n_stages).created0

    def once():
        for a in out.arrays(0, trials):
            a[...] = 0
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        c0 = time.process_time()
        simulate_trials(np.uint64(7), np.int64(0), *args, *extra, *out.arrays(0, trials))
        spent = time.process_time() - c0
        numba.set_num_threads(threads)
        n = int(_opportunities(model, out.flow_cnt[..., created0 : created0 + model.n_stages]).sum())
        return n / spent

    return once


def numpy_rate(model, trials):
    """A callable giving one measurement of the numpy reference's lifecycles per CPU-second."""

    def once():
        c0 = time.process_time()
        _, n = numpy_reference.simulate(model, trials, seed=7, batch=trials)
        return n / (time.process_time() - c0)

    return once


def measure(scenario, kernel_trials=1000, numpy_trials=400, repeats=7):
    """``{"kernel": .., "numpy": .., "ratio": ..}`` in lifecycles per CPU-second.

    The two are timed in alternation, ``repeats`` times each, so that a change in the machine's
    load falls on both; each rate is the best of its runs (the least disturbed).
    """
    model = compile_scenario(simcore.load_scenario(scenario))
    kernel, numpy_ = kernel_rate(model, kernel_trials), numpy_rate(model, numpy_trials)
    numpy_()  # numpy's first run warms its caches and allocator
    rates = [(kernel(), numpy_()) for _ in range(repeats)]
    k = max(r[0] for r in rates)
    n = max(r[1] for r in rates)
    return {"kernel": k, "numpy": n, "ratio": k / n}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "fy2026.toml"))
    p.add_argument("--stored", type=Path, default=STORED)
    p.add_argument("--update", action="store_true", help="record the ratio measured now")
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    # A ratio to keep is the median of three measurements (numpy's rate moves ~5% run to run).
    runs = sorted((measure(args.scenario) for _ in range(3 if args.update else 1)), key=lambda r: r["ratio"])
    now = runs[len(runs) // 2]
    print(
        f"kernel {now['kernel'] / 1e6:.1f} M lifecycles per CPU-second, numpy {now['numpy'] / 1e6:.2f} M: "
        f"ratio {now['ratio']:.2f}  ({cpu_model()}, the kernel on 1 thread, load average {load:.1f})"
    )
    if args.update:
        record = {
            "ratio": round(now["ratio"], 3),
            "kernel_per_cpu_second": round(now["kernel"]),
            "numpy_per_cpu_second": round(now["numpy"]),
            "scenario": Path(args.scenario).name,
            "machine": cpu_model(),
            "threads": 1,
            "load_average": round(load, 1),
            "date": dt.date.today().isoformat(),
        }
        args.stored.write_text(json.dumps(record, indent=2) + "\n")
        print(f"recorded in {args.stored}")
        return 0
    if not args.stored.exists():
        print(f"warning: no stored ratio at {args.stored} (run with --update to record one)")
        return 0
    stored = json.loads(args.stored.read_text())
    change = now["ratio"] / stored["ratio"] - 1.0
    print(f"stored ratio {stored['ratio']:.2f} ({stored['machine']}, {stored['date']}): {change:+.0%}")
    if change < -DROP:
        print(
            f"warning: the kernel's speed relative to numpy dropped {-change:.0%} "
            f"(more than {DROP:.0%}): a slower kernel, or a noisy machine; rerun, then bench_versus.py"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
