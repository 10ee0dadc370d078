"""What ``simulate()`` costs beyond the kernel: output memory, the Dataset, opportunities.

Run: ``python benchmarks/bench_simulate.py [--trials 10000] [--repeats 5]``; set
``NUMBA_NUM_THREADS`` to choose the threads.

Alternating in one process, each repeated: the kernel alone into outputs allocated and
touched before the clock starts (``bench_kernel.py``'s figure), ``simulate()`` right after
the previous result was dropped (its output memory is reused: :func:`simcore.engine.memory.
output_buffer`), and ``simulate()`` into fresh memory (the first run of a process, or of a new
size: every 4 KB page faulted in by the kernel). Wall and CPU seconds (every thread) are
printed, best and median, with the ratio simulate() / kernel; on a shared machine the CPU
ratio is the steadier one.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numba

import simcore
from simcore.engine import memory
from simcore.engine.compile import compile_scenario
from simcore.engine.kernel import simulate_trials
from simcore.engine.simulate import _Outputs


def _clock():
    return time.perf_counter(), time.process_time()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "fy2026.toml"))
    p.add_argument("--trials", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    sc = simcore.load_scenario(args.scenario)
    model = compile_scenario(sc)
    kernel_args = model.kernel_args()
    simcore.simulate(sc, 64, 1, model=model, progress=False)  # load the kernel
    print(f"load average before: {os.getloadavg()[0]:.1f}; {numba.get_num_threads()} threads")
    times = {"kernel": [], "simulate (memory reused)": [], "simulate (fresh memory)": []}
    lifecycles = 0
    previous = numba.set_parallel_chunksize(1)
    for _ in range(args.repeats):
        out = _Outputs(model, args.trials)
        for a in out.arrays(0, args.trials):
            a[...] = 1
            a[...] = 0
        t0 = _clock()
        simulate_trials(
            np.uint64(7), np.int64(0), *kernel_args, True, np.empty((0, 1)), *out.arrays(0, args.trials)
        )
        t1 = _clock()
        times["kernel"].append((t1[0] - t0[0], t1[1] - t0[1]))
        del out
        for fresh in (False, True):
            gc.collect()
            if fresh:
                memory._idle.clear()
            t0 = _clock()
            ds = simcore.simulate(sc, args.trials, 7, model=model, progress=False)
            t1 = _clock()
            name = "simulate (fresh memory)" if fresh else "simulate (memory reused)"
            times[name].append((t1[0] - t0[0], t1[1] - t0[1]))
            lifecycles = int(ds.opportunities.sum())
            del ds
    numba.set_parallel_chunksize(previous)
    kernel = np.asarray(times["kernel"])
    for name, values in times.items():
        v = np.asarray(values)
        print(
            f"{name:26s} wall best {v[:, 0].min() * 1e3:6.0f} ms ({lifecycles / v[:, 0].min() / 1e6:5.1f} M/s) "
            f"median {np.median(v[:, 0]) * 1e3:6.0f} ms; CPU median {np.median(v[:, 1]) * 1e3:6.0f} ms; "
            f"/ kernel: wall {np.median(v[:, 0]) / np.median(kernel[:, 0]):.2f}x, "
            f"CPU {np.median(v[:, 1]) / np.median(kernel[:, 1]):.2f}x"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
