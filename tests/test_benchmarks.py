"""The benchmark scripts still run (tiny sizes: this checks they work, not how fast)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # compiles the ceiling kernels
def test_kernel_and_ceiling_benchmarks_run(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_ceiling
    import bench_kernel

    bench_kernel.main(["--trials", "64", "--repeats", "1", "--numpy-trials", "40", "--numpy-repeats", "1"])
    bench_ceiling.main(["--trials", "64", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "ratio kernel / numpy" in out and "lifecycles per trial" in out
    assert "stripped lifecycle, " in out and "x the full model" in out
    sys.modules.pop("bench_kernel", None)
    sys.modules.pop("bench_ceiling", None)


def test_parts_benchmark_cuts_find_their_lines(tmp_path, monkeypatch):
    """bench_parts.py cuts lines out of a copy of the kernel: each must still be there, once
    (timing the cut copies compiles each, too slow for the suite)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_parts

    original = (ROOT / "simcore" / "engine" / "kernel.py").read_text().splitlines()
    for name, cuts in bench_parts.CUTS.items():
        dest = tmp_path / name.replace(" ", "_")
        dest.mkdir()
        cut = (bench_parts.cut_copy(dest, cuts) / "simcore" / "engine" / "kernel.py").read_text().splitlines()
        changed = [b for a, b in zip(original, cut) if a != b]
        assert len(cut) == len(original) and sorted(b.strip() for b in changed) == sorted(
            r for _, r in cuts
        ), name
    sys.modules.pop("bench_parts", None)


def test_regression_check_warns_on_a_drop_and_never_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import check_regression

    # A real measurement at tiny sizes: both rates positive, their ratio what it says.
    got = check_regression.measure(
        ROOT / "scenarios" / "smb.toml", kernel_trials=40, numpy_trials=20, repeats=1
    )
    assert got["kernel"] > 0 and got["numpy"] > 0 and got["ratio"] == got["kernel"] / got["numpy"]
    stored = tmp_path / "ratio.json"
    for ratio, warned in ((5.0, False), (4.1, False), (3.9, True)):
        monkeypatch.setattr(
            check_regression, "measure", lambda scenario, r=ratio: {"kernel": r, "numpy": 1.0, "ratio": r}
        )
        if not stored.exists():
            assert check_regression.main(["--stored", str(stored), "--update"]) == 0
            assert "recorded" in capsys.readouterr().out
            continue
        assert check_regression.main(["--stored", str(stored)]) == 0
        assert ("warning: the kernel's speed relative to numpy dropped" in capsys.readouterr().out) == warned
    assert check_regression.main(["--stored", str(tmp_path / "none.json")]) == 0
    assert "no stored ratio" in capsys.readouterr().out
    sys.modules.pop("check_regression", None)


@pytest.mark.slow  # imports the optimizer and calibration, and starts two interpreters
def test_the_asv_suite_imports_and_every_class_has_benchmarks(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from asv_bench import bench_simcore

    kinds = ("time_", "track_", "peakmem_")
    classes = [
        c
        for c in vars(bench_simcore).values()
        if isinstance(c, type) and c.__module__ == bench_simcore.__name__
    ]
    assert {c.__name__ for c in classes} >= {
        "Kernel",
        "Simulate",
        "StreamedRun",
        "Startup",
        "Optimizer",
        "Calibration",
    }
    for cls in classes:
        assert any(name.startswith(kinds) for name in vars(cls)), cls.__name__
    # The start-up floor's tracks are cheap: run them (each 0 today).
    modules = bench_simcore.StartupModules()
    assert modules.track_heavy_modules_import() == 0
    assert modules.track_heavy_modules_validate() == 0
    assert modules.track_heavy_modules_printed_run() == 0


@pytest.mark.slow  # three fresh interpreters that load numba (and xarray)
def test_the_start_up_benchmark_runs(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_startup

    bench_startup.main(["--trials", "16", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "the kernel" in out and "in all" in out and "Dataset" not in out
    bench_startup.main(["--trials", "16", "--repeats", "1", "--mode", "overlap"])
    assert "the Dataset" in capsys.readouterr().out
    bench_startup.main(["--floor", "--trials", "16", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "numba's first load" in out and "python -m simcore run, 16 trials" in out
