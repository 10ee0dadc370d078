"""Where a warm ``simcore run`` goes: each step of the command timed in one fresh process.

Run: ``python benchmarks/bench_startup.py [--trials 10000] [--repeats 3]``.

Each repeat is a new interpreter (imports are what is measured) that does what ``simcore run
--trials N`` does, step by step: import the command line and build its parser, import the
engine (numba, scipy.special, the kernel module), load the scenario, compile it (numba's
first cached load), then, as a run without ``--out`` (``--mode printed``, the default), run the
kernel into one reused chunk buffer without the period-boundary bookkeeping and make the
summary, errors and tables from its figures per trial, never importing xarray or pandas. ``--mode
overlap`` does what a run with ``--out`` does instead: every output kept, xarray and pandas
imported in a thread beside the kernel, then the Dataset; ``--mode serial`` imports them
before the run, as ``simcore run`` did before they overlapped. Printed: each step's best
seconds and share of the total, and the load average. Shares move less with the machine's
load than seconds.

``--floor`` times what no change to simcore's code can remove, each a fresh interpreter
(best wall and CPU of ``--repeats``, the steps interleaved): Python itself, importing numpy,
numba, numba's first load of a cached function (a one-line ``njit(cache=True)`` function in a
temporary folder: numba's typing and target registries, and the BLAS check that imports
``scipy.linalg``), the same with ``scipy.special`` (the engine's tables need it), and
importing xarray with pandas; then the whole ``python -m simcore run`` for comparison.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, sys, time
marks = [("start", time.perf_counter())]
def mark(name):
    marks.append((name, time.perf_counter()))
mode = sys.argv[3]
import simcore.cli.app as app
parser, handlers = app.build_parser()
args = parser.parse_args(["run", sys.argv[1], "--trials", sys.argv[2], "--seed", "7", "--quiet"])
mark("imports: numpy, the command line and its parser")
from simcore.engine import simulate as S
mark("imports: numba, scipy.special and the engine")
if mode == "serial":
    import simcore.accessor
    mark("imports: xarray, pandas (the accessor), before the run")
sc = app.load(args)
mark("load the scenario")
from simcore.engine.compile import compile_scenario
model = compile_scenario(sc, None)
mark("compile_scenario (numba's first cached load)")
from simcore.cli.analytics import errors_table
from simcore.report.text import summary_table
if mode == "printed":
    from simcore.analysis import headline
    figures = S.simulate_headline(sc, args.trials, 7, model=model, progress=False)
    mark("the kernel, in one reused chunk buffer, without boundaries")
    run = figures.pop("run")
    summary = headline.summary(figures, run, run["target"])
    errors = headline.errors(figures["bookings_amount"], run["periods"], run["target"])
    text = summary_table(summary) + errors_table(errors, sc.currency)
    mark("the summary, errors and tables")
else:
    if mode == "overlap":
        S.preload_xarray()
    out = S.run_kernel(model, args.trials, 7, 0, None, False, "random")
    mark("the kernel, every output kept" + (" (xarray and pandas loading in a thread)" if mode == "overlap" else ""))
    S.load_xarray()
    import simcore.accessor
    mark("what is left of the xarray/pandas import")
    ds = S.build_dataset(model, out, 7, 0, "random")
    summary = ds.simcore.summary()
    from simcore.analysis.convergence import headline_errors
    text = summary_table(summary) + errors_table(headline_errors(ds), sc.currency)
    mark("the Dataset, summary, errors and tables")
print(json.dumps([(b[0], b[1] - a[1]) for a, b in zip(marks, marks[1:])]))
sys.stdout.flush()
os._exit(0)
"""


FLOOR_MODULE = """
import numba


@numba.njit(cache=True)
def one(x):
    return x + 1
"""

FLOOR_STEPS = (
    ("python itself", "pass"),
    ("+ import numpy", "import numpy"),
    ("+ import numba", "import numpy, numba"),
    (
        "+ numba's first load of a cached one-line function",
        "import numpy, numba, floor_one; floor_one.one(1)",
    ),
    ("+ import scipy.special", "import numpy, numba, scipy.special, floor_one; floor_one.one(1)"),
    ("import numpy and xarray (pandas with it)", "import numpy, xarray"),
)


def _timed(cmd, cwd, env) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)  # wait4: the child's own CPU, not this process's
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if child.returncode != 0:
        raise SystemExit(f"{cmd} failed ({child.returncode})")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def floor(scenario, trials, repeats):
    """Print the library floors of a warm run beside the run itself (see the module docstring)."""
    run = [sys.executable, "-m", "simcore", "run", scenario, "--trials", str(trials), "--seed", "7"]
    with tempfile.TemporaryDirectory(prefix="simcore-floor-") as folder:
        Path(folder, "floor_one.py").write_text(FLOOR_MODULE)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        # Left with os._exit, as simcore's command line leaves: not timing the interpreter's teardown.
        steps = [
            (name, [sys.executable, "-c", f"{code}\nimport os\nos._exit(0)"], folder)
            for name, code in FLOOR_STEPS
        ]
        steps.append((f"python -m simcore run, {trials} trials", run, ROOT))
        for _, cmd, cwd in steps:  # warm: numba writes its cache, the OS caches the files
            _timed(cmd, cwd, env)
        best = {name: (math.inf, math.inf) for name, _, _ in steps}
        for _ in range(repeats):
            for name, cmd, cwd in steps:
                wall, cpu = _timed(cmd, cwd, env)
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    for name, (wall, cpu) in best.items():
        print(f"{wall:7.3f} s wall  {cpu:6.3f} s CPU  {name}")
    if not Path(importlib.util.cache_from_source(str(ROOT / "simcore" / "engine" / "kernel.py"))).exists():
        # As where PYTHONDONTWRITEBYTECODE is set: an installed package has its .pyc files.
        print("note: simcore's modules have no .pyc here; every run compiles their source (~0.1 s)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "fy2026.toml"))
    p.add_argument("--trials", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--mode",
        choices=["printed", "overlap", "serial"],
        default="printed",
        help="printed: a run without --out (the default); overlap: a run with --out, xarray and "
        "pandas loading beside the kernel; serial: as a run did before they overlapped it",
    )
    p.add_argument(
        "--floor",
        action="store_true",
        help="the library floors (numpy, numba, its first load, xarray) beside the run",
    )
    args = p.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    if args.floor:
        floor(args.scenario, args.trials, args.repeats)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        return
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    runs = []
    for _ in range(args.repeats):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, args.scenario, str(args.trials), args.mode],
            env=env, cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    best = {name: min(run[i][1] for run in runs) for i, (name, _) in enumerate(runs[0])}
    total = sum(best.values())
    for name, seconds in best.items():
        print(f"{seconds:7.3f} s  {100 * seconds / total:4.0f}%  {name}")
    print(f"{total:7.3f} s        in all (best of {args.repeats} per step)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
