"""Where the kernel's wall time goes: the full kernel beside copies with parts cut out.

Run: ``python benchmarks/bench_parts.py [--scenario scenarios/fy2026.toml] [--trials 4000]``.

``bench_kernel.py`` says how fast the kernel is; the instruction counts in
``benchmarks/README.md`` say what it executes. Neither says how the *time* splits, and the
two differ: the lives of deals run at a lower instructions-per-cycle than the creation
passes. This script measures time directly. It copies ``simcore/`` to a temporary folder,
cuts one part out of the copy's ``kernel.py`` by replacing a line (each line to replace must
be found exactly once, so a kernel change makes this fail loudly rather than measure something
else), and times each copy in its own process with its own numba cache:

- *full*: the kernel as it is;
- *no lives*: per-trial assumptions, the (cell, week) count pass and the making of new deals,
  but no deal lives (no stage events, no bank deals);
- *count pass only*: per-trial assumptions and the count pass, no deals made at all
  (and so no lives of new deals; the starting bank's ~8% of deals still live);
- *no boundaries*: every deal lives, but no period-boundary bookkeeping (bank, due, slip).

Differences of these times give the share of each part. The cut copies compute wrong
results on purpose; only their time is used. The first run of each compiles (~20 s each).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_LIVES = "for q in range(n_lives):"
_MAKING = "while m < block and cand < n_new:"
_BOUNDARY = "bj = p + (period_start[p] < t)"

CUTS = {
    "full": [],
    "no lives": [(_LIVES, "for q in range(0):")],
    "count pass only": [
        (_LIVES, "for q in range(0):"),
        (_MAKING, "while m < block and cand < 0:"),
    ],
    "no boundaries": [(_BOUNDARY, "bj = n_periods + 1 + 0 * (period_start[p] < t)")],
}

# Run in a child process, with the cut copy first on sys.path: prints the best and median
# kernel time in seconds and the lifecycles simulated, as JSON.
_CHILD = r"""
import json, sys, time
import numba, numpy as np
import simcore
from simcore.engine.compile import compile_scenario
from simcore.engine.kernel import flow_layout, simulate_trials
from simcore.engine.simulate import _Outputs, _opportunities
scenario, trials, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = compile_scenario(simcore.load_scenario(scenario))
args = model.kernel_args()
out = _Outputs(model, trials)
simulate_trials(np.uint64(7), np.int64(0), *args, True, np.empty((0, 1)), *out.arrays(0, min(trials, 16)))
numba.set_parallel_chunksize(1)
times = []
for _ in range(repeats):
    for a in out.arrays(0, trials):
        a[...] = 0
    t0 = time.perf_counter()
    simulate_trials(np.uint64(7), np.int64(0), *args, True, np.empty((0, 1)), *out.arrays(0, trials))
    times.append(time.perf_counter() - t0)
print(json.dumps({"best": min(times), "median": float(np.median(times)), "file": simcore.__file__}))
"""


def cut_copy(dest: Path, cuts) -> Path:
    """A copy of ``simcore/`` in ``dest``; each ``(start, replacement)`` of ``cuts`` replaces the
    one line of ``kernel.py`` that starts with ``start`` after its indentation, which it keeps."""
    pkg = dest / "simcore"
    shutil.copytree(ROOT / "simcore", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    kernel = pkg / "engine" / "kernel.py"
    lines = kernel.read_text().splitlines()
    for start, replacement in cuts:
        found = [i for i, line in enumerate(lines) if line.lstrip().startswith(start)]
        if len(found) != 1:
            raise SystemExit(
                f"bench_parts: no single line of simcore/engine/kernel.py starts with {start.strip()!r}; "
                "update CUTS to the kernel as it is now"
            )
        line = lines[found[0]]
        lines[found[0]] = line[: len(line) - len(line.lstrip())] + replacement
    kernel.write_text("\n".join(lines) + "\n")
    return dest


def time_copy(src: Path, scenario: str, trials: int, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), NUMBA_CACHE_DIR=str(src / "numba-cache"))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, scenario, str(trials), str(repeats)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        cwd=src,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench_parts: the timed process failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["file"].startswith(str(src)):
        raise SystemExit(f"bench_parts: the timed process imported {result['file']}, not the cut copy")
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "fy2026.toml"))
    p.add_argument("--trials", type=int, default=4000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--parts", default=",".join(CUTS), help="comma-separated subset of: " + ", ".join(CUTS))
    args = p.parse_args(argv)
    parts = [x.strip() for x in args.parts.split(",")]
    unknown = [x for x in parts if x not in CUTS]
    if unknown:
        p.error(f"unknown part {unknown[0]!r}; choose from {', '.join(CUTS)}")

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_kernel import machine, time_kernel

    import simcore
    from simcore.engine.compile import compile_scenario

    model = compile_scenario(simcore.load_scenario(args.scenario))
    _, lifecycles = time_kernel(model, args.trials, 1)  # the lifecycles, from the real kernel
    results = {}
    with tempfile.TemporaryDirectory(prefix="simcore-parts-") as tmp:
        for name in parts:
            dest = Path(tmp) / name.replace(" ", "_")
            dest.mkdir()
            results[name] = time_copy(cut_copy(dest, CUTS[name]), args.scenario, args.trials, args.repeats)
    print(f"machine: {machine()}")
    print(
        f"{args.trials} trials, {lifecycles / args.trials:.1f} lifecycles per trial; "
        f"40 M lifecycles/s would take {lifecycles / 40e6 * 1e3:.0f} ms"
    )
    full = results.get("full", {}).get("best")
    for name, r in results.items():
        share = f"  {r['best'] / full:5.0%} of full" if full else ""
        print(f"{name:16s} best {r['best'] * 1e3:7.1f} ms  median {r['median'] * 1e3:7.1f} ms{share}")
    if {"full", "no lives", "count pass only"} <= set(results):
        b = {k: v["best"] for k, v in results.items()}
        print(f"deal lives (full - no lives):                  {(b['full'] - b['no lives']) * 1e3:7.1f} ms")
        print(
            f"making new deals (no lives - count pass only): {(b['no lives'] - b['count pass only']) * 1e3:7.1f} ms"
        )


if __name__ == "__main__":
    main()
