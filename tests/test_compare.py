"""Scenario comparison: common random numbers pair the trials, so differences are precise."""

import datetime as dt
import json
import math

import numpy as np
import pytest

import simcore
from simcore.analysis.compare import compare, variant_scenarios
from simcore.cli.app import main


def plan():
    return {
        "name": "crn",
        "start": dt.date(2026, 1, 1),
        "end": dt.date(2026, 12, 31),
        "target": 6_000_000,
        "dimensions": {"source": ["inbound", "outbound"]},
        "stage": [{"name": "Qualify", "category": "pipeline"}, {"name": "Decide", "category": "commit"}],
        "defaults": {
            "conversion": {"to_decision": 0.6},
            "stages": {"Qualify": {"dwell": {"mean": 20, "cv": 0.5}}},
            "decision": {"win": 0.25, "dwell": {"mean": 30, "cv": 0.5}},
            "amount": {"median": 100_000, "p90_ratio": 2.0},
            "creation": {"count": 150},
        },
        "variants": {
            "Base": {"set": {}},
            "Better win": {"description": "win 25% -> 28%", "set": {"defaults.decision.win": 0.28}},
        },
    }


def test_paired_difference_is_precise_and_matches_the_closed_form():
    sc = simcore.scenario_from_dict(plan())
    r = compare(sc, ["Base", "Better win"], trials=2000, seed=0)
    d = r.differences["Better win"]["year"]
    # Common random numbers: the paired error is far below the unpaired one.
    for q in ("mean", "p10", "p50", "p90"):
        assert d[q]["se"] < d[q]["se_unpaired"], q
    # With no push and no uncertainty a deal's outcome is u < win on the same u, so the
    # expected bookings scale by 0.28 / 0.25: E[x_v - x_b - 0.12 x_b] = 0.
    xb, xv = r.bookings["Base"], r.bookings["Better win"]
    resid = xv - xb - (0.28 / 0.25 - 1) * xb
    assert abs(resid.mean()) < 4 * resid.std(ddof=1) / math.sqrt(len(resid))
    # And the winners of the better variant include every winner of the base one.
    assert np.all(xv >= xb - 1e-6)


def test_same_variant_twice_differs_by_exactly_zero():
    sc = simcore.scenario_from_dict(plan())
    r = compare(sc, ["Base"], {"Copy": {}}, trials=300, seed=0)
    d = r.differences["Copy"]["year"]
    assert d["mean"]["difference"] == 0 and d["mean"]["se"] == 0 and d["p50"]["difference"] == 0
    assert d["p_hit"]["difference"] == 0


def test_per_period_figures_and_baseline():
    sc = simcore.scenario_from_dict(plan())
    r = compare(sc, None, trials=300, seed=0)  # every variant of the file
    assert list(r.variants) == ["Base", "Better win"] and r.baseline == "Base"
    assert r.periods == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    total = sum(r.variants["Base"]["by_period"][p]["mean"]["value"] for p in r.periods)
    assert total == pytest.approx(r.variants["Base"]["year"]["mean"]["value"])
    assert r.variants["Better win"]["description"] == "win 25% -> 28%"
    with pytest.raises(simcore.SimcoreError, match="baseline"):
        compare(sc, ["Base"], trials=10, baseline="Nope")
    with pytest.raises(simcore.ScenarioError, match="no variant"):
        variant_scenarios(sc, ["Stretchh"])


def test_cli_compare(capsys):
    assert (
        main(
            [
                "compare",
                "scenarios/fy2026.toml",
                "--variants",
                "Conservative,Base",
                "--trials",
                "300",
                "--set-variant",
                "Win 30%:defaults.decision.win_loss_push=[1.2, 1.8, 1]",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert list(out["variants"]) == ["Conservative", "Base", "Win 30%"]
    assert out["differences"]["Win 30%"]["year"]["p50"]["difference"] > 0
    assert main(["compare", "scenarios/fy2026.toml", "--variants", "Base,Stretch", "--trials", "300"]) == 0
    assert "Stretch - Base" in capsys.readouterr().out
    assert main(["compare", "scenarios/fy2026.toml", "--variants", "Nope", "--trials", "10"]) == 2
    assert main(["compare", "scenarios/fy2026.toml", "--set-variant", "broken", "--trials", "10"]) == 2


def test_cli_compare_default_variants_with_a_set_variant_and_no_variant_option(capsys):
    # --set-variant adds to the file's variants (a set named like one of them amends it).
    argv = [
        "compare",
        "scenarios/fy2026.toml",
        "--trials",
        "100",
        "--json",
        "--set-variant",
        "Base:defaults.decision.push=0.1",
        "--set-variant",
        "Upsell:defaults.decision.win=0.3",
    ]
    assert main(argv) == 0
    assert list(json.loads(capsys.readouterr().out)["variants"]) == [
        "Conservative",
        "Stretch",
        "Base",
        "Upsell",
    ]
    # --variant would be silently replaced by each compared variant: refused, with the fix.
    assert main(["compare", "scenarios/fy2026.toml", "--trials", "10", "--variant", "Stretch"]) == 2
    assert "--variants Stretch,Base" in capsys.readouterr().err
