"""Start-up cannot regress silently: what ``import simcore``, ``simcore validate`` and a run import.

Each check runs in a fresh interpreter (the test process has imported everything long ago) and
lists the heavy modules it found in ``sys.modules``. Times are not asserted (the machine is
shared); which modules load is what sets the floor, and it does not depend on the load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
FY2026 = str(ROOT / "scenarios" / "fy2026.toml")

# Loaded only by the commands that use them: Dask by --dask runs, matplotlib by charts and
# reports, scipy.optimize by the optimizer and calibration.
NEVER_AT_START = ("dask", "distributed", "matplotlib", "scipy.optimize")
# Not needed to read and check a scenario either.
NOT_FOR_VALIDATE = (*NEVER_AT_START, "numpy", "numba", "xarray", "pandas", "scipy", "importlib.metadata")


def loaded_after(code: str) -> list[str]:
    """The top-level names of the modules ``sys.modules`` holds after running ``code`` afresh."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def heavy(modules: list[str], names) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_import_simcore_loads_nothing_heavy():
    assert heavy(loaded_after("import simcore"), NOT_FOR_VALIDATE) == []


def test_validate_loads_nothing_heavy():
    code = (
        "import contextlib, io\nfrom simcore.cli.app import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['validate', {FY2026!r}]) == 0"
    )
    assert heavy(loaded_after(code), NOT_FOR_VALIDATE) == []


def test_version_is_read_when_asked():
    assert heavy(loaded_after("import simcore; assert simcore.__version__"), ["importlib.metadata"])


def test_a_run_loads_no_dask_matplotlib_or_optimizer():
    pytest.importorskip("dask.array")  # what is checked is that an installed Dask is not loaded
    code = (
        "import contextlib, io\nfrom simcore.cli.app import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['run', {FY2026!r}, '--trials', '16', '--quiet']) == 0"
    )
    assert heavy(loaded_after(code), NEVER_AT_START) == []


def test_xarray_still_sees_dask_arrays_once_dask_is_loaded():
    da = pytest.importorskip("dask.array")
    import xarray as xr

    import simcore.lazydask

    assert simcore.lazydask.defer_dask_array()
    x = xr.DataArray(da.ones((4, 6), chunks=(2, 3)), dims=("a", "b"))
    assert isinstance(x.data, da.Array) and x.chunks == ((2, 2), (3, 3))
    masked = xr.Variable(("a",), da.from_array(np.ma.masked_array([1.0, 2.0], mask=[0, 1])))
    assert bool(masked.isnull().compute()[1])  # the masked-array branch that asks for the class
    assert float(x.sum().compute()) == 24.0


def test_the_rough_mean_deal_size_is_the_exact_one_to_rounding():
    import math

    from simcore.scenario.amounts import expected_amount
    from simcore.scenario.params import AmountParams

    for sigma, floor, cap, pw, wf, wmax in [
        (0.5, 0.0, math.inf, 0.0, 1.0, math.nan),
        (1.3, 5e3, 4e5, 0.04, 3.0, 8.0),
        (2.5, 1e4, 2e4, 0.1, 2.0, math.nan),
    ]:
        a = AmountParams("lognormal", 4e4, sigma, (), pw, wf, wmax, floor, cap)
        exact, rough = expected_amount(a), expected_amount(a, rough=True)
        assert math.isclose(rough, exact, rel_tol=1e-13), (rough, exact)
    # An empirical list with a whale range: the rough mean sums in plain Python (no numpy).
    a = AmountParams("empirical", 4e4, 0.0, (0.3, 1.0, 2.5, 7.0), 0.1, 2.0, 5.0, 1e4, 2e5)
    assert math.isclose(expected_amount(a, rough=True), expected_amount(a), rel_tol=1e-13)


def test_the_engine_loads_without_xarray_or_pandas():
    # A run's kernel starts while xarray and pandas load in a thread (simulate.preload_xarray):
    # compiling a scenario and running the kernel must not need them.
    code = (
        "from simcore.engine import simulate as S\n"
        "from simcore.engine.compile import compile_scenario\n"
        "from simcore.scenario.load import load_scenario\n"
        f"model = compile_scenario(load_scenario({FY2026!r}))\n"
        "S.run_kernel(model, 16, 7, progress=False)"
    )
    assert heavy(loaded_after(code), ("xarray", "pandas")) == []


def test_a_printed_run_never_imports_xarray_or_pandas():
    # `simcore run` without --out makes what it prints from the kernel's outputs, no Dataset.
    code = (
        "import contextlib, io\nfrom simcore.cli.app import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['run', {FY2026!r}, '--trials', '16', '--quiet']) == 0\n"
        f"    assert main(['run', {FY2026!r}, '--trials', '16', '--json', '--sampling', 'lhs']) == 0"
    )
    assert heavy(loaded_after(code), ("xarray", "pandas")) == []


def test_a_run_with_out_imports_xarray_beside_its_kernel_not_before_it(tmp_path):
    # `simcore run --out` reaches its kernel with xarray still loading in preload_xarray's
    # thread: nothing before it (main() included) imports the accessor, or xarray in the main
    # thread (then preload_xarray would find it loaded and start no thread).
    out = str(tmp_path / "run.json")
    code = (
        "import contextlib, io, sys\nfrom simcore.cli.app import main\n"
        "import simcore.engine.simulate as S\n"
        "seen, real = [], S.run_kernel\n"
        "def spy(*args, **kwargs):\n"
        "    seen.append(('simcore.accessor' in sys.modules, S._xarray_loading is not None))\n"
        "    return real(*args, **kwargs)\n"
        "S.run_kernel = spy\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['run', {FY2026!r}, '--trials', '16', '--quiet', '--out', {out!r}]) == 0\n"
        "assert seen == [(False, True)], seen"
    )
    assert "xarray" in loaded_after(code)


def test_a_run_that_preloads_xarray_prints_what_one_without_prints(capsys):
    # `simcore run` in a fresh process (xarray imported in a thread during the kernel) against
    # the same run here, where everything is imported already.
    from helpers import run_cli

    args = ["run", FY2026, "--trials", "300", "--seed", "3", "--json"]
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-m", "simcore", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(run_cli(capsys, *args)[1])


def test_a_run_without_out_skips_the_boundaries_and_prints_the_same(tmp_path, capsys, monkeypatch):
    # No --out: the kernel skips the bank, due and slip bookkeeping, runs in one reused chunk
    # buffer and no Dataset is built; with --out it keeps every output. Same figures, same bits.
    from helpers import run_cli

    import simcore.engine.simulate as engine

    asked = []
    real = engine.run_kernel

    def spy(*args, **kwargs):
        asked.append((kwargs.get("boundaries", True), kwargs.get("on_chunk") is not None))
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "run_kernel", spy)
    cases = [("fy2026", ()), ("enterprise", ()), ("smb", ()), ("fy2026", ("--period", "week"))]
    cases += [("fy2026", ("--sampling", "sobol")), ("fy2026", ("--trials", 1500))]  # several chunks
    for name, extra in cases:
        scenario = ROOT / "scenarios" / f"{name}.toml"
        args = ["run", scenario, "--trials", 400, "--seed", 5, "--json", *extra]
        _, lean, _ = run_cli(capsys, *args)
        _, full, _ = run_cli(capsys, *args, "--out", tmp_path / f"{name}.nc")
        assert json.loads(lean) == json.loads(full), (name, extra)
    assert asked == [(False, True), (True, False)] * len(cases)
