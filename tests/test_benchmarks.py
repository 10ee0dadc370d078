"""The benchmark scripts still run (tiny sizes: this checks they work, not how fast)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
