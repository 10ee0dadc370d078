"""Regression values: ``simcore run --json --trials 3000 --seed 11`` on each bundled scenario.

Recorded before the house was rebuilt into layers (and to be re-recorded only on purpose, in a
commit that says why: a change to the draws, say). A refactor that changes what a user sees
fails here. The analytic tests say whether the numbers are right; these say they did not move.

Figures are compared to 1e-12 relative, not bit for bit: the kernel's outputs are the same bits
on any machine, but numpy's reductions over them (the sums across cells, the moments behind
an error) take a different order on a CPU with wider SIMD registers, which moves the last bit
or two (seen between a Zen 2 and a Zen 5 host). A changed draw moves them by far more. Same
bits for any thread count and chunking on one machine is tests/test_reproducible.py's job.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
RECORDED = Path(__file__).resolve().parent / "data" / "regression"


@pytest.mark.parametrize("name", ["fy2026", "smb", "enterprise"])
def test_run_json_is_bit_for_bit_as_recorded(capsys, name):
    code, out, _ = run_cli(
        capsys, "run", ROOT / "scenarios" / f"{name}.toml", "--json", "--trials", 3000, "--seed", 11
    )
    assert code == 0
    now = json.loads(out)
    recorded = json.loads((RECORDED / f"{name}.json").read_text())
    for key in ("version",):  # the package's version is not a result
        now.pop(key), recorded.pop(key)
    assert _close(now, recorded) == [], "differs from the recorded values"


def _close(now, recorded, path=""):
    """The paths where ``now`` and ``recorded`` differ, numbers beyond 1e-12 relative."""
    if isinstance(recorded, dict):
        if not isinstance(now, dict) or set(now) != set(recorded):
            return [path or "/"]
        return [p for k in recorded for p in _close(now[k], recorded[k], f"{path}/{k}")]
    if isinstance(recorded, list):
        if not isinstance(now, list) or len(now) != len(recorded):
            return [path]
        return [p for i, (a, b) in enumerate(zip(now, recorded)) for p in _close(a, b, f"{path}[{i}]")]
    if isinstance(recorded, float) and isinstance(now, (int, float)) and not isinstance(now, bool):
        return (
            [] if now == pytest.approx(recorded, rel=1e-12, abs=0.0) else [f"{path}: {now!r} != {recorded!r}"]
        )
    return [] if now == recorded else [f"{path}: {now!r} != {recorded!r}"]


def test_the_comparison_sees_a_changed_figure():
    recorded = {"p50": 9895551.391359823, "rows": [1, 2.5], "name": "fy2026"}
    assert _close({"p50": 9895551.391359825, "rows": [1, 2.5], "name": "fy2026"}, recorded) == []
    assert _close({"p50": 9895551.3914, "rows": [1, 2.5], "name": "fy2026"}, recorded) == [
        "/p50: 9895551.3914 != 9895551.391359823"
    ]
    assert _close({"p50": 9895551.391359823, "rows": [1, 2.6], "name": "fy2026"}, recorded) == [
        "/rows[1]: 2.6 != 2.5"
    ]
    assert _close({"p50": 9895551.391359823, "rows": [1], "name": "fy2026"}, recorded) == ["/rows"]
