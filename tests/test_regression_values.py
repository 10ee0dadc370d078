"""Regression values: ``simcore run --json --trials 3000 --seed 11`` on each bundled scenario.

Recorded before the house was rebuilt into layers (and to be re-recorded only on purpose, in a
commit that says why: a change to the draws, say). A refactor that changes one bit of what a
user sees fails here. The analytic tests say whether the numbers are right; these say they
did not move.
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
    assert now == recorded
