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
        assert len(cut) == len(original) and sorted(changed) == sorted(r for _, r in cuts), name
    sys.modules.pop("bench_parts", None)
