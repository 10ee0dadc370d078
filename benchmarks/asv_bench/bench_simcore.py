"""asv benchmarks: the kernel, ``simulate()``, ``simcore run`` start-up, the optimizer, calibration.

``time_*`` are wall times (asv repeats and reports the median), ``peakmem_*`` the process's
peak resident memory, ``track_*`` figures this module computes itself: lifecycles per
CPU-second, and the kernel's speed relative to the plain numpy implementation in the same
process (the figure that survives a shared machine's load; see check_regression.py).
The kernel is compiled or loaded from numba's cache in ``setup``, so no benchmark times a
compile. Sizes are small enough that ``asv run -E existing --quick`` finishes in a minute or two.
"""

from __future__ import annotations

import importlib
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


class Calibration:
    """Calibration from deal history (``simcore.calibrate``): skipped where it is not importable,
    or where this checkout has no deal-history file to calibrate from."""

    timeout = 600

    def setup(self):
        try:  # optional: being written beside this suite
            self.calibrate = importlib.import_module("simcore.calibrate")
        except ImportError:
            raise NotImplementedError("simcore.calibrate is not importable here") from None
        histories = sorted(ROOT.glob("scenarios/**/*history*.csv")) + sorted(
            ROOT.glob("tests/data/**/*history*.csv")
        )
        fit = getattr(self.calibrate, "calibrate", None)
        if fit is None or not histories:
            raise NotImplementedError("no calibrate() or no deal history to calibrate from")
        self.fit, self.history = fit, histories[0]

    def time_import_calibrate(self):
        subprocess.run([sys.executable, "-c", "import simcore.calibrate"], check=True)

    def time_calibrate(self):
        self.fit(self.history)
