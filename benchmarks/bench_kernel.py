"""Kernel throughput in opportunity lifecycles per second, beside the plain numpy version.

Run: ``python benchmarks/bench_kernel.py [--scenario scenarios/fy2026.toml] [--trials 10000]
[--repeats 7] [--numpy-trials 2000]``; set ``NUMBA_NUM_THREADS`` to choose the threads.

A lifecycle is one opportunity simulated from creation (or from the starting bank) to
won, lost or open at the horizon: ``ds.opportunities.sum()``. Three figures, all warm
(the kernel compiled or loaded from its cache first) and all in this one process, so the
ratio is measured under the same machine load:

- *kernel*: one call of :func:`simcore.engine.kernel.simulate_trials` over every trial into
  outputs allocated and zeroed before the clock starts (what the kernel itself does);
- *simulate()*: the public call, with output allocation (first-touch page faults) and
  the labelled ``xarray.Dataset``;
- *numpy*: :mod:`numpy_reference` (the same model, vectorised with numpy), with its batch
  size chosen as its fastest of a few.

Each is repeated; best and median are printed. The machine is shared by other work
often enough that the median is the honest figure and the best the achievable one.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numba
import numpy_reference

import simcore
from simcore.engine.compile import compile_scenario
from simcore.engine.kernel import flow_layout, simulate_trials
from simcore.engine.simulate import _opportunities, _Outputs


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``, else :func:`platform.processor`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    """One line naming the machine, the threads and the current load."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu_model()}, {os.cpu_count()} logical cores, numba {numba.__version__} "
        f"({numba.threading_layer() if _ran_parallel else '?'} layer), {numba.get_num_threads()} threads, "
        f"load average {load:.1f}"
    )


_ran_parallel = False


def time_kernel(model, trials, repeats, seed=7, boundaries=True):
    """Seconds per kernel call over ``trials`` trials (list), and the lifecycles simulated.

    ``time_kernel.cpu`` keeps the CPU seconds (every thread) of the same calls.
    ``boundaries=False``: without the period-boundary bookkeeping (bank, due, slip).
    """
    global _ran_parallel
    args = model.kernel_args()
    out = _Outputs(model, trials)
    t0 = time.perf_counter()
    simulate_trials(
        np.uint64(seed), np.int64(0), *args, boundaries, np.empty((0, 1)), *out.arrays(0, min(trials, 16))
    )  # compile / load
    time_kernel.first_call = time.perf_counter() - t0
    _ran_parallel = True
    times, cpu = [], []
    # Blocks of trials handed to threads one at a time, as simcore.engine.simulate.run_kernel does.
    previous = numba.set_parallel_chunksize(1)
    for _ in range(repeats):
        for a in out.arrays(0, trials):
            a[...] = 0
        t0, c0 = time.perf_counter(), time.process_time()
        simulate_trials(
            np.uint64(seed), np.int64(0), *args, boundaries, np.empty((0, 1)), *out.arrays(0, trials)
        )
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    numba.set_parallel_chunksize(previous)
    time_kernel.cpu = cpu
    created0 = flow_layout(model.n_stages)[1]
    lifecycles = int(_opportunities(model, out.flow_cnt[..., created0 : created0 + model.n_stages]).sum())
    return times, lifecycles


def time_simulate(sc, model, trials, repeats, seed=7):
    """Seconds per :func:`simcore.engine.simulate` call (list), and the lifecycles."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ds = simcore.simulate(sc, trials=trials, seed=seed, progress=False, model=model)
        times.append(time.perf_counter() - t0)
    return times, int(ds.opportunities.sum())


def time_numpy(model, trials, repeats, seed=7):
    """Seconds per numpy-reference run (list) at its fastest batch size, the lifecycles, the batch."""
    best_batch, best = None, np.inf
    for batch in (100, 300, 1000):
        t0 = time.perf_counter()
        numpy_reference.simulate(model, min(trials, 2 * batch), seed=seed, batch=batch)
        per = (time.perf_counter() - t0) / min(trials, 2 * batch)
        if per < best:
            best_batch, best = batch, per
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _, lifecycles = numpy_reference.simulate(model, trials, seed=seed, batch=best_batch)
        times.append(time.perf_counter() - t0)
    return times, lifecycles, best_batch


def rates(times, lifecycles):
    """(best, median) millions of lifecycles per second."""
    t = np.asarray(times)
    return lifecycles / t.min() / 1e6, lifecycles / np.median(t) / 1e6


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "fy2026.toml"))
    p.add_argument("--trials", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--numpy-trials", type=int, default=2_000)
    p.add_argument("--numpy-repeats", type=int, default=3)
    args = p.parse_args(argv)

    sc = simcore.load_scenario(args.scenario)
    model = compile_scenario(sc)
    k_times, k_n = time_kernel(model, args.trials, args.repeats)
    k_cpu = time_kernel.cpu
    print(
        f"scenario {sc.name}: {len(sc.cells)} cells, {model.n_stages} stages, {len(model.periods)} periods, "
        f"{k_n / args.trials:.1f} lifecycles per trial  (first kernel call {time_kernel.first_call:.2f} s: "
        f"compile or cache load)"
    )
    print(f"machine: {machine()}")
    lean_times, lean_n = time_kernel(model, args.trials, max(3, args.repeats // 2), boundaries=False)
    s_times, s_n = time_simulate(sc, model, args.trials, max(3, args.repeats // 2))
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    one_times, one_n = time_kernel(model, max(1, args.trials // 4), max(3, args.repeats // 2))
    one_cpu = time_kernel.cpu
    numba.set_num_threads(threads)
    n_times, n_n, batch = time_numpy(model, args.numpy_trials, args.numpy_repeats)
    kb, km = rates(k_times, k_n)
    sb, sm = rates(s_times, s_n)
    nb, nm = rates(n_times, n_n)
    ob, om = rates(one_times, one_n)
    lb, lm = rates(lean_times, lean_n)
    print(
        f"kernel      {args.trials:>6} trials: best {kb:6.1f} M lifecycles/s  median {km:6.1f}  "
        f"({min(k_times) * 1e3:.0f} ms best)"
    )
    print(
        f"kernel, 1 thread {args.trials // 4:>6}: best {ob:6.1f} M lifecycles/s  median {om:6.1f}  "
        f"(scaling to {threads} threads: {kb / ob:.2f}x best, {km / om:.2f}x median)"
    )
    print(
        f"kernel, per CPU-second: {k_n / np.median(k_cpu) / 1e6:6.1f} M lifecycles ({threads} threads), "
        f"{one_n / np.median(one_cpu) / 1e6:6.1f} M (1 thread)  (median)"
    )
    print(
        f"kernel, no boundaries {args.trials:>6}: best {lb:6.1f} M lifecycles/s  median {lm:6.1f}  "
        f"({lb / kb:.2f}x best, {lm / km:.2f}x median: without the bank, due and slip bookkeeping)"
    )
    print(
        f"simulate()  {args.trials:>6} trials: best {sb:6.1f} M lifecycles/s  median {sm:6.1f}  "
        f"({min(s_times) * 1e3:.0f} ms best, with output allocation and the Dataset)"
    )
    print(
        f"numpy       {args.numpy_trials:>6} trials: best {nb:6.1f} M lifecycles/s  median {nm:6.1f}  "
        f"(batch {batch} trials)"
    )
    print(
        f"ratio kernel / numpy: best {kb / nb:.1f}x  median {km / nm:.1f}x  (wall time; numpy runs on 1 core)"
    )
    print(f"machine after: load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
