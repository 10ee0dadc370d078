"""End-to-end time of ``simcore run``: the first run after install, and warm runs.

Run: ``python benchmarks/bench_run.py [--trials 10000] [--repeats 3] [--scenario PATH]``.

Each run is a fresh process (``python -m simcore run SCENARIO --trials N --seed 7``),
timed from start to exit, output discarded. The *first run* uses a new, empty
``NUMBA_CACHE_DIR``: numba compiles the kernel and writes its cache (what a user sees
once after installing). The *warm* runs reuse that cache, as every later run does.
Targets on the 2-core machine: first run under 30 s, warm run of the default scenario at
10,000 trials under 2 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_kernel import cpu_model


def run_once(scenario, trials, cache_dir) -> float:
    """Wall seconds of one ``simcore run`` in a subprocess with ``NUMBA_CACHE_DIR=cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "simcore", "run", str(scenario), "--trials", str(trials), "--seed", "7"]
    t0 = time.perf_counter()
    done = subprocess.run(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"simcore run failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "fy2026.toml"))
    p.add_argument("--trials", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="simcore-numba-cache-") as cache:
        first = run_once(args.scenario, args.trials, cache)
        print(f"first run after install (empty numba cache, compiles): {first:.1f} s   [target < 30 s]")
        warm = [run_once(args.scenario, args.trials, cache) for _ in range(args.repeats)]
        print(
            f"warm run, {args.trials} trials: best {min(warm):.2f} s  median {np.median(warm):.2f} s   "
            f"[target < 2 s]"
        )
    print(f"machine after: load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
