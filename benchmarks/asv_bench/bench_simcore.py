"""asv benchmarks: the kernel, ``simulate()``, streamed runs, start-up, the optimizer, calibration.

``time_*`` are wall times (asv repeats and reports the median), ``peakmem_*`` the process's
peak resident memory, ``track_*`` figures this module computes itself: lifecycles per
CPU-second, and the kernel's speed relative to the plain numpy implementation in the same
process (the figure that survives a shared machine's load; see check_regression.py).
The kernel is compiled or loaded from numba's cache in ``setup``, so no benchmark times a
compile. Sizes are small enough that ``asv run -E existing --quick`` finishes in a minute or two.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
sys.path.insert(0, str(ROOT / "benchmarks"))

import check_regression

import simcore
from simcore.engine.compile import compile_scenario
from simcore.engine.kernel import simulate_trials
from simcore.engine.layout import flow_layout
from simcore.engine.simulate import _opportunities, _Outputs
from simcore.optimize.plan import optimize

# Trials per call: ~1.3 M lifecycles of fy2026, about a tenth of a second on two free cores.
TRIALS = 2000
# The same order of lifecycles for each bundled scenario (smb creates ~19,000 deals a trial).
KERNEL_TRIALS = {"fy2026": 2000, "smb": 100, "enterprise": 2000}


def _model(name="fy2026"):
    sc = simcore.load_scenario(SCENARIOS / f"{name}.toml")
    return sc, compile_scenario(sc)


class Kernel:
    """One kernel call over ``KERNEL_TRIALS`` trials into zeroed outputs, per bundled scenario,
    with and without the period-boundary bookkeeping."""

    params = (["fy2026", "smb", "enterprise"], [True, False])
    param_names = ["scenario", "boundaries"]
    timeout = 300

    def setup(self, scenario, boundaries):
        self.sc, self.model = _model(scenario)
        self.args = self.model.kernel_args()
        self.trials = KERNEL_TRIALS[scenario]
        self.out = _Outputs(self.model, self.trials)
        self.extra = (boundaries, np.empty((0, 1)))
        self.kernel = simulate_trials
        self.kernel(np.uint64(7), np.int64(0), *self.args, *self.extra, *self.out.arrays(0, 8))
        self._call()
        k, created0 = self.model.n_stages, flow_layout(self.model.n_stages).created0
        self.lifecycles = int(
            _opportunities(self.model, self.out.flow_cnt[..., created0 : created0 + k]).sum()
        )

    def _call(self):
        for a in self.out.arrays(0, self.trials):
            a[...] = 0
        self.kernel(np.uint64(7), np.int64(0), *self.args, *self.extra, *self.out.arrays(0, self.trials))

    def time_kernel(self, scenario, boundaries):
        self._call()

    def track_lifecycles_per_cpu_second(self, scenario, boundaries):
        best = np.inf
        for _ in range(3):
            c0 = time.process_time()
            self._call()
            best = min(best, time.process_time() - c0)
        return self.lifecycles / best

    track_lifecycles_per_cpu_second.unit = "lifecycles/CPU-s"


class KernelVersusNumpy:
    """Lifecycles per CPU-second of the kernel over those of numpy_reference.py, same process."""

    timeout = 300

    def track_ratio_to_numpy(self):
        return check_regression.measure(SCENARIOS / "fy2026.toml")["ratio"]

    track_ratio_to_numpy.unit = "x numpy"


class Simulate:
    """The public call: output allocation, the kernel in chunks, the labelled Dataset."""

    timeout = 300

    def setup(self):
        self.simulate = simcore.simulate
        self.sc, self.model = _model()
        self.simulate(self.sc, trials=16, seed=0, progress=False, model=self.model)

    def time_simulate(self):
        self.simulate(self.sc, trials=TRIALS, seed=0, progress=False, model=self.model)

    def peakmem_simulate(self):
        self.simulate(self.sc, trials=TRIALS, seed=0, progress=False, model=self.model)

    def time_compile_scenario(self):
        compile_scenario(self.sc)


class Startup:
    """``simcore`` commands in a fresh process, warm numba cache: the floor every user pays."""

    timeout = 300
    repeat = (1, 5, 30.0)

    def setup(self):
        self.run(["run", str(SCENARIOS / "fy2026.toml"), "--trials", "16", "--json"])  # warm the cache

    def run(self, args):
        subprocess.run([sys.executable, "-m", "simcore", *args], check=True, capture_output=True)

    def time_run_16_trials(self):
        self.run(["run", str(SCENARIOS / "fy2026.toml"), "--trials", "16", "--json"])

    def time_run_10000_trials(self):
        self.run(["run", str(SCENARIOS / "fy2026.toml"), "--trials", "10000", "--json"])

    def time_validate(self):
        self.run(["validate", str(SCENARIOS / "fy2026.toml")])

    def time_import(self):
        subprocess.run([sys.executable, "-c", "import simcore"], check=True)


class Optimizer:
    """The optimizer on fy2026 at 2,000 trials, without the out-of-sample check."""

    timeout = 600
    repeat = (1, 3, 120.0)
    number = 1

    def setup(self):
        self.sc, _ = _model()

    def time_optimize(self):
        optimize(self.sc, 0.9, trials=TRIALS, seed=0, verify_trials=0, spreadsheet=False)

    def peakmem_optimize(self):
        optimize(self.sc, 0.9, trials=TRIALS, seed=0, verify_trials=0, spreadsheet=False)


class Calibration:
    """Calibration from a synthetic CRM history (``simcore history``: 16 cells, eight stages,
    pushes; ``bench_calibrate.big_scenario``), written once to a temporary folder and read in
    ``setup``; only the fit is timed (``bench_calibrate.py`` times reading a large one too)."""

    timeout = 600
    repeat = (1, 3, 120.0)
    number = 1

    def setup(self):
        import tempfile

        from bench_calibrate import big_scenario

        from simcore.calibrate import calibrate, read_opportunities, read_stage_history, simulate_history

        self.folder = tempfile.TemporaryDirectory(prefix="asv_calibrate_")
        history = simulate_history(big_scenario(5000, 2), "2024-01-01", "2026-01-01", seed=1)
        opp_path, hist_path = history.write(Path(self.folder.name))
        self.opps = read_opportunities(opp_path, dimensions=["source", "product"]).table
        self.hist = read_stage_history(hist_path).table
        self.calibrate = calibrate

    def teardown(self):
        self.folder.cleanup()

    def time_import_calibrate(self):
        subprocess.run([sys.executable, "-c", "import simcore.calibrate"], check=True)

    def time_calibrate(self):
        self.calibrate(self.opps, "2026-01-01", ["source", "product"], self.hist)

    def peakmem_calibrate(self):
        self.calibrate(self.opps, "2026-01-01", ["source", "product"], self.hist)


class StreamedRun:
    """A streamed fy2026 run (``stream=True``): headline figures per trial, moments of the rest.
    Its peak memory is what a million-trial ``simcore run`` grows from (about 210 bytes a trial
    on top of one chunk of full outputs)."""

    timeout = 300

    def setup(self):
        self.sc, self.model = _model()
        simcore.simulate(self.sc, trials=512, seed=0, progress=False, model=self.model, stream=True)

    def time_streamed_run(self):
        simcore.simulate(self.sc, trials=10 * 1024, seed=0, progress=False, model=self.model, stream=True)

    def peakmem_streamed_run(self):
        simcore.simulate(self.sc, trials=10 * 1024, seed=0, progress=False, model=self.model, stream=True)


class PrintedRun:
    """What ``simcore run`` without ``--out`` runs (``simulate_headline``): the headline figures
    per trial from one reused chunk of outputs, without the boundary bookkeeping or a Dataset."""

    timeout = 300

    def setup(self):
        from simcore.engine.simulate import simulate_headline

        self.run = simulate_headline
        self.sc, self.model = _model()
        self.run(self.sc, 512, 0, progress=False, model=self.model)

    def time_printed_run(self):
        self.run(self.sc, 10 * 1024, 0, progress=False, model=self.model)

    def peakmem_printed_run(self):
        self.run(self.sc, 10 * 1024, 0, progress=False, model=self.model)


class StartupModules:
    """How many heavy libraries ``simcore validate`` and ``import simcore`` load, and how many
    xarray and pandas modules a printed ``simcore run`` loads (0 each): the start-up floor in a
    form the machine's load cannot blur (tests/test_startup.py asserts it)."""

    HEAVY = ("numba", "xarray", "pandas", "scipy", "dask", "distributed", "matplotlib")

    def _count(self, code, heavy=HEAVY):
        probe = f"{code}\nimport sys\nprint(sum(m.split('.')[0] in {heavy!r} for m in sys.modules))"
        done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
        return int(done.stdout.strip().splitlines()[-1])

    def track_heavy_modules_validate(self):
        path = str(SCENARIOS / "fy2026.toml")
        return self._count(
            f"import contextlib, io\nfrom simcore.cli.app import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n    main(['validate', {path!r}])"
        )

    track_heavy_modules_validate.unit = "modules"

    def track_heavy_modules_printed_run(self):
        path = str(SCENARIOS / "fy2026.toml")
        return self._count(
            f"import contextlib, io\nfrom simcore.cli.app import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n    main(['run', {path!r}, '--trials', '16'])",
            ("xarray", "pandas"),
        )

    track_heavy_modules_printed_run.unit = "modules"

    def track_heavy_modules_import(self):
        return self._count("import simcore")

    track_heavy_modules_import.unit = "modules"
