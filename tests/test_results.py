"""The common result base (to_dict, to_dataframe), the short reprs, and the defaults declared once."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from simcore import load_scenario
from simcore.analysis.compare import compare
from simcore.analysis.funnel import funnel
from simcore.analysis.mcerror import distribution, with_errors
from simcore.scenario import reference, spec


@pytest.fixture(scope="module")
def fy2026():
    return load_scenario("scenarios/fy2026.toml")


def test_funnel_result_to_dataframe_has_a_row_per_cell(fy2026):
    f = funnel(fy2026)
    frame = f.to_dataframe()
    assert list(frame.index) == fy2026.cell_labels
    # The rows add up to the totals the result states.
    assert frame["stage4_created_needed"].sum() == pytest.approx(f.stage4_created_needed)
    assert frame["bookings"].sum() == pytest.approx(f.bookings)
    out = f.to_dict()
    json.dumps(out, allow_nan=False)  # JSON-ready: no NaN, dates as text
    assert out["stack_steps"][0] == {"step": "Stage 1 -> Stage 2", "rate": f.stack_steps[0][1]}
    assert (out["first_stage"], out["decision_stage"]) == ("Stage 1", "Stage 4")


def test_comparison_to_dataframe_has_a_row_per_variant():
    sc = load_scenario("scenarios/smb.toml")
    r = compare(sc, ["Conservative", "Base", "Stretch"], trials=200, seed=1)
    frame = r.to_dataframe()
    assert list(frame.index) == ["Conservative", "Base", "Stretch"]
    for label in frame.index:
        assert frame.loc[label, "p50"] == r.variants[label]["year"]["p50"]["value"]
    d = r.to_dict()
    assert "bookings" not in d and set(d) == {
        "baseline",
        "trials",
        "seed",
        "currency",
        "periods",
        "variants",
        "differences",
    }
    assert isinstance(frame, pd.DataFrame)


def test_one_definition_of_the_figures():
    x = np.random.default_rng(0).lognormal(size=1001)
    plain = distribution(x)
    full = with_errors(x, target=1.0)
    for name in ("mean", "p10", "p50", "p90"):
        assert full[name]["value"] == plain[name]
    assert full["trials"] == 1001 and full["p_hit"]["value"] == pytest.approx((x >= 1.0).mean())
    # Without a level, the figures and their errors only (the shape a comparison reports).
    assert set(with_errors(x, level=None)) == {"mean", "p10", "p50", "p90"}


def test_every_default_names_a_field():
    # (tests/test_schema.py checks that a scenario setting none of them resolves to them.)
    fields = {path for path, _ in reference.reference_rows()} | {
        p for p, _ in reference.reference_rows(spec.BLOCK)
    }
    assert set(spec.DEFAULTS) <= fields, set(spec.DEFAULTS) - fields
    assert spec.default("amount.cap") == math.inf and spec.default_text("amount.cap") == "none"
    with pytest.raises(KeyError):
        spec.default("decision.win")  # no default: the scenario must give it


def test_scenario_repr_is_a_summary(fy2026):
    text = repr(fy2026)
    assert len(text) < 300
    for words in ("fy2026", "16 cells", "4 stages", "'Stage 4'", "target $8.65M", "52 deals"):
        assert words in text
    assert len(fy2026.full_repr()) > 10_000 and "params=" in fy2026.full_repr()
