"""Scaling of a run over Dask workers on this machine: 1 worker, then 2.

Run: ``python benchmarks/bench_dask.py [--trials 20000] [--workers 1 2]``.

Each worker is its own process with one numba thread (``--dask local:N``). A warm-up run
loads the kernel in every worker first; then the same streamed run (fy2026, seed 7) is timed
on each cluster, and its headline figures are checked to be the same bits as one machine's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numba
from distributed import get_task_stream

import simcore
from simcore.engine.distributed import connect, worker_threads


def _task_seconds(records) -> tuple:
    """Seconds the workers spent computing tasks, and moving their data, from a task stream."""
    compute = transfer = 0.0
    for record in records:
        for part in record.get("startstops", ()):
            seconds = part["stop"] - part["start"]
            if part["action"] == "compute":
                compute += seconds
            elif part["action"] == "transfer":
                transfer += seconds
    return compute, transfer


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=20_000)
    p.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "fy2026.toml"))
    args = p.parse_args(argv)
    sc = simcore.load_scenario(args.scenario)
    print(f"load before: {os.getloadavg()[0]:.2f}; {args.trials:,} trials, streamed")
    t0 = time.perf_counter()
    here = simcore.simulate(sc, args.trials, 7, stream=True, progress=False).simcore.summary()
    print(f"here, {numba.get_num_threads()} numba thread(s): {time.perf_counter() - t0:.1f} s")
    times = {}
    for n in args.workers:
        client = connect(f"local:{n}")
        try:
            simcore.simulate(sc, 1024 * n, 1, client=client, stream=True)  # load the kernel everywhere
            threads = client.run(worker_threads)
            with get_task_stream(client) as tasks:
                t0, c0 = time.perf_counter(), time.process_time()
                ds = simcore.simulate(sc, args.trials, 7, client=client, stream=True)
                times[n] = time.perf_counter() - t0
                here_cpu = time.process_time() - c0
        finally:
            client.close()
        same = ds.simcore.summary() == here
        compute, transfer = _task_seconds(tasks.data)
        print(
            f"{n} worker(s): {times[n]:.1f} s, {args.trials / times[n]:,.0f} trials/s, same bits: {same}; "
            f"numba threads per worker {sorted(set(threads.values()))}; tasks computing {compute:.1f} s "
            f"in all ({compute / times[n] / n:.0%} of the workers' wall time), transfers {transfer:.2f} s, "
            f"the client's own CPU {here_cpu:.2f} s"
        )
    first = args.workers[0]
    for n in args.workers[1:]:
        print(f"speed-up {first} -> {n} workers: {times[first] / times[n]:.2f}x")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
