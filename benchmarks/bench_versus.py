"""This kernel beside the kernel of another commit, in one process, alternating runs.

Run: ``python benchmarks/bench_versus.py [--ref main] [--scenario scenarios/fy2026.toml]
[--trials 4000] [--repeats 9]``; set ``NUMBA_NUM_THREADS`` to choose the threads.

On a shared machine absolute speeds move by tens of percent from minute to minute, so a
speed-up is only visible as a ratio of two kernels timed under the same load. This script
extracts ``simcore/`` at ``--ref`` from git into a temporary folder as the package
``simcore_ref`` (its absolute imports rewritten), compiles both kernels, then times them in
alternation: ``ref, new, ref, new, ...``. It prints each kernel's best and median wall time,
lifecycles per CPU-second (``time.process_time``, which counts every thread of the process),
and the ratios new / ref. The first run of a ref compiles its kernel (a minute or more).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numba
from bench_kernel import machine

# Import statements (the first line of each), whose ``simcore`` becomes ``simcore_ref``.
_IMPORT = re.compile(r"^\s*(from\s+simcore\S*\s+import|import\s+simcore)\b.*$", re.M)
# Module names in strings (the lazy attribute table of ``simcore/__init__.py``), the same way.
_NAMED = re.compile(r"(?<=[\"'])simcore(?=[.\"'])")


def extract_ref(ref: str) -> Path:
    """``simcore/`` at git ``ref`` as the package ``simcore_ref`` in a folder kept between runs
    (named by the commit, so that numba's cache of its kernel is kept too)."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", ref], check=True, capture_output=True, text=True
    ).stdout.strip()
    dest = Path(tempfile.gettempdir()) / f"simcore_ref2_{sha[:12]}"  # 2: with module names in strings renamed
    if (dest / "simcore_ref").is_dir():
        return dest
    tmp = Path(tempfile.mkdtemp(dir=dest.parent))
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "simcore"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(tmp, filter="data")
    pkg = tmp / "simcore"
    for path in pkg.rglob("*.py"):
        text = _IMPORT.sub(lambda m: re.sub(r"\bsimcore\b", "simcore_ref", m[0]), path.read_text())
        path.write_text(_NAMED.sub("simcore_ref", text))
    dest.mkdir(exist_ok=True)
    pkg.rename(dest / "simcore_ref")
    return dest


class Runner:
    """One kernel (a package's ``simulate_trials``) ready to run ``trials`` trials of a scenario."""

    def __init__(self, package: str, scenario: str, trials: int, boundaries: bool = True):
        pkg = importlib.import_module(package)
        # The engine's modules sit in ``engine/`` since the house refactor, at the top before it.
        engine = f"{package}.engine" if importlib.util.find_spec(f"{package}.engine") else package
        self.compile = importlib.import_module(f"{engine}.compile")
        self.kernel = importlib.import_module(f"{engine}.kernel")
        self.simulate = importlib.import_module(f"{engine}.simulate")
        self.model = self.compile.compile_scenario(pkg.load_scenario(scenario))
        self.args = tuple(self.model.kernel_args())
        self.trials = trials
        self.out = self.simulate._Outputs(self.model, trials)
        # A kernel that takes per-run arguments after the compiled ones (boundaries, trial_u).
        names = list(inspect.signature(self.kernel.simulate_trials.py_func).parameters)
        self.extra = (boundaries, np.empty((0, 1))) if "trial_u" in names else ()
        self.run(16)  # compile or load from the cache

    def run(self, trials=None):
        """(wall seconds, CPU seconds) of one kernel call into zeroed outputs."""
        arrays = self.out.arrays(0, trials or self.trials)
        for a in arrays:
            a[...] = 0
        # Threads take 8 trials at a time: a kernel with TRIAL_BLOCK loops over blocks of 8.
        previous = numba.set_parallel_chunksize(1 if hasattr(self.kernel, "TRIAL_BLOCK") else 8)
        w0, c0 = time.perf_counter(), time.process_time()
        self.kernel.simulate_trials(np.uint64(7), np.int64(0), *self.args, *self.extra, *arrays)
        w1, c1 = time.perf_counter(), time.process_time()
        numba.set_parallel_chunksize(previous)
        return w1 - w0, c1 - c0

    def lifecycles(self):
        created0 = self.kernel.flow_layout(self.model.n_stages)[1]
        return int(
            self.simulate._opportunities(
                self.model, self.out.flow_cnt[..., created0 : created0 + self.model.n_stages]
            ).sum()
        )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ref", default="main")
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "fy2026.toml"))
    p.add_argument("--trials", type=int, default=4000)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument(
        "--no-boundaries", action="store_true", help="run this kernel without the period-boundary bookkeeping"
    )
    args = p.parse_args(argv)
    sys.path.insert(0, str(extract_ref(args.ref)))
    ref = Runner("simcore_ref", args.scenario, args.trials)
    new = Runner("simcore", args.scenario, args.trials, boundaries=not args.no_boundaries)
    times = {"ref": [], "new": []}
    for _ in range(args.repeats):
        times["ref"].append(ref.run())
        times["new"].append(new.run())
    n_ref, n_new = ref.lifecycles(), new.lifecycles()
    print(f"machine: {machine()}")
    print(
        f"scenario {args.scenario}, {args.trials} trials, {args.repeats} alternating repeats, ref {args.ref}"
    )
    rate = {}
    for name, n in (("ref", n_ref), ("new", n_new)):
        wall = np.array([t[0] for t in times[name]])
        cpu = np.array([t[1] for t in times[name]])
        rate[name] = (n / wall.min(), n / np.median(wall), n / np.median(cpu))
        print(
            f"{name}: {n / args.trials:.1f} lifecycles per trial; best {rate[name][0] / 1e6:.1f} M/s, "
            f"median {rate[name][1] / 1e6:.1f} M/s wall, {rate[name][2] / 1e6:.1f} M per CPU-second"
        )
    r = [a / b for a, b in zip(rate["new"], rate["ref"])]
    print(f"ratio new / ref: best {r[0]:.2f}x  median {r[1]:.2f}x  per CPU-second {r[2]:.2f}x")
    print(f"machine after: load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
