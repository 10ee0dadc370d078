"""The deterministic funnel holds the 2026 plan's own figures, and the simulation agrees with it
in expectation when nothing truncates and nothing is uncertain."""

import datetime as dt
import json
import math

import numpy as np
import pytest
from helpers import run_cli

import simcore
from simcore.analysis.funnel import funnel, funnel_vs_simulation, pacing
from simcore.cli.app import main


def one_cell(decision, bank=7_400_000, ending=16_300_000, bookings=8_650_000):
    """The 2026 plan's as one row of the spreadsheet: 50% stage 1->4, a $7.4M stage-4 bank."""
    return {
        "name": "seed000",
        "start": dt.date(2026, 1, 1),
        "end": dt.date(2026, 12, 31),
        "target": bookings,
        "dimensions": {"source": ["all"]},
        "stage": [
            {"name": f"Stage {i}", "category": c}
            for i, c in zip(range(1, 5), ["pipeline", "pipeline", "best_case", "commit"])
        ],
        "defaults": {
            "conversion": {"to_decision": 0.5},
            "decision": decision,
            "amount": {"median": 100_000, "p90_ratio": 2.0},
            "creation": {"dollars": 89_900_000},
        },
        "bank": {"aggregate": [{"source": "all", "stage": "Stage 4", "dollars": bank, "count": 40}]},
        "funnel": {"ending_bank": ending},
    }


def test_seed000_figures_without_push():
    f = funnel(simcore.scenario_from_dict(one_cell({"win": 0.25})))
    assert f.retire_multiple == pytest.approx(4.0)
    assert f.retire_multiple_no_push == pytest.approx(4.0)
    # 4 x 8.65 + 16.3 - 7.4 = 43.5
    assert f.stage4_created_needed == pytest.approx(43_500_000)
    assert f.stage1_created_needed == pytest.approx(87_000_000)
    assert f.stack == pytest.approx(0.125)
    assert f.starting_bank == pytest.approx(7_400_000)


def test_seed000_push_lowers_the_retire_multiple_to_3x_and_stage1_by_17_3m():
    f = funnel(simcore.scenario_from_dict(one_cell({"win_loss_push": [1, 2, 1]})))
    assert f.retire_multiple == pytest.approx(3.0)
    assert f.retire_multiple_no_push == pytest.approx(4.0)
    assert f.stage4_created_needed == pytest.approx(3 * 8.65e6 + 16.3e6 - 7.4e6)
    assert f.stage4_created_needed_no_push == pytest.approx(43_500_000)
    # (4 - 3) x $8.65M of stage 4 at a 50% stage 1 -> 4 rate
    assert f.push_saving_stage1 == pytest.approx(17_300_000)
    assert f.stack == pytest.approx(0.125)
    assert f.stack_with_push == pytest.approx(0.5 / 3)


def test_default_scenario_bank_gap_and_run_rate():
    f = funnel(simcore.load_scenario("scenarios/fy2026.toml"))
    assert f.retire_multiple == pytest.approx(3.0)
    assert f.starting_bank == pytest.approx(7_400_000)
    assert f.bank_gap == pytest.approx(3_800_000)
    assert f.weeks_to_start == pytest.approx(10.0)  # 2025-10-23 -> 2026-01-01 is 70 days
    assert f.weekly_run_rate == pytest.approx(380_000)
    # Retirement while the bank builds means more gross stage-4 creation than the net gap.
    assert f.weekly_run_rate_gross > f.weekly_run_rate
    for key in ("stage4_created_needed", "stage1_created_needed", "bookings", "ending_bank", "starting_bank"):
        assert sum(v[key] for v in f.by_source.values()) == pytest.approx(getattr(f, key))
        assert sum(v[key] for v in f.by_product.values()) == pytest.approx(getattr(f, key))
    assert sum(f.stage4_needed_by_period.values()) == pytest.approx(f.stage4_created_needed)
    assert [s for s, _ in f.stack_steps][-1] == "Stage 4 -> Won"
    assert np.prod([r for _, r in f.stack_steps]) == pytest.approx(f.stack)


def test_gross_run_rate_closed_form():
    # B(t) = r T + (B0 - r T) e^{-t/T}: with T = 45 days (no push) and 10 weeks to go.
    raw = one_cell({"win": 0.25, "dwell": {"mean": 45}})
    raw["funnel"].update(current_bank=3_600_000, current_bank_date=dt.date(2025, 10, 23))
    f = funnel(simcore.scenario_from_dict(raw))
    T = 45 / 7
    e = math.exp(-10 / T)
    assert f.weekly_run_rate_gross == pytest.approx((7_400_000 - 3_600_000 * e) / (T * (1 - e)))


def test_pacing_seed002():
    p = pacing(40, 15, 15, 30)
    assert p["remaining"] == 25 and p["days_left"] == 15
    assert p["per_day_needed"] == pytest.approx(25 / 15)
    assert p["behind"] == pytest.approx(5)


def steady(decision):
    """No truncation, no uncertainty: 12 months of creation, then 6 quiet months in which every
    deal decides (dwell ~10 days per stage), no starting bank, no ending bank."""
    return {
        "name": "steady",
        "start": dt.date(2026, 1, 1),
        "end": dt.date(2027, 6, 30),
        "period": "quarter",
        "target": 2_000_000,
        "dimensions": {"source": ["inbound", "outbound"]},
        "stage": [
            {"name": f"Stage {i}", "category": c}
            for i, c in zip(range(1, 5), ["pipeline", "pipeline", "best_case", "commit"])
        ],
        "defaults": {
            "conversion": {"to_decision": 0.5},
            "stages": {f"Stage {i}": {"dwell": {"mean": 10, "cv": 0.3}} for i in (1, 2, 3)},
            "decision": {**decision, "dwell": {"mean": 10, "cv": 0.3}, "push_delay": {"mean": 10, "cv": 0.3}},
            "amount": {"median": 100_000, "p90_ratio": 2.0, "whale_probability": 0.05, "whale_factor": 3.0},
            "creation": {"per": "month", "dollars": [2_000_000] * 12 + [0] * 6},
        },
        "by": {"source": {"outbound": {"conversion": {"to_decision": 0.4}}}},
    }


@pytest.mark.parametrize(
    "decision, multiple",
    [
        # 1:2:1 with unlimited pushes and no decay: the spreadsheet's 3x is exact.
        ({"win_loss_push": [1, 2, 1], "win_decay": 1.0, "max_pushes": 40}, "retire_multiple"),
        # Decay and a push limit: the deal-life multiple 1 / sum_n (p d)^n w is the right one.
        ({"win_loss_push": [1, 2, 1], "win_decay": 0.8, "max_pushes": 2}, "retire_multiple_model"),
    ],
)
def test_simulated_mean_agrees_with_funnel_without_truncation_or_uncertainty(decision, multiple):
    sc = simcore.scenario_from_dict(steady(decision))
    f = funnel(sc, bookings=1.0)
    trials = 3000
    ds = simcore.simulate(sc, trials=trials, seed=0, progress=False)
    won = ds.simcore.year_bookings().values
    se = won.std(ddof=1) / math.sqrt(trials)
    expected = f.planned_stage4 / getattr(f, multiple)
    assert abs(won.mean() - expected) < 4 * se
    # Nothing is left open at the end of the quiet months.
    assert float(ds.bank_amount.isel(period=-1).sum(["source", "category"]).max()) == 0.0
    # And the backsolve from the simulated bookings gives back the plan, in stage-1 dollars.
    if multiple == "retire_multiple":
        back = funnel(sc, bookings=won.mean())
        scale = back.stage1_created_needed / back.bookings  # no banks: the need is linear in bookings
        assert abs(back.stage1_created_needed - back.planned_stage1) < 4 * se * scale


def test_the_difference_decomposes_exactly():
    sc = simcore.load_scenario("scenarios/fy2026.toml")
    c = funnel_vs_simulation(sc, trials=500, seed=0)
    gap = c.rows["bookings"]["funnel"] - c.rows["bookings"]["simulated"]
    assert sum(e["dollars"] for e in c.effects) == pytest.approx(gap, rel=1e-9, abs=1e-3)
    assert c.rows["starting_bank"]["simulated"] == pytest.approx(7_400_000)
    assert "push carry-over" in c.text()


def test_steady_state_effects_vanish():
    sc = simcore.scenario_from_dict(steady({"win_loss_push": [1, 2, 1], "win_decay": 1.0, "max_pushes": 40}))
    c = funnel_vs_simulation(sc, trials=1500, seed=0)
    for e in c.effects:
        assert abs(e["dollars"]) < 4 * e["se"] + 1e-6, e


def test_cli_json(capsys):
    assert main(["funnel", "scenarios/fy2026.toml", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in (
        "retire_multiple",
        "stage4_created_needed",
        "stage1_created_needed",
        "bank_gap",
        "weekly_run_rate",
        "by_source",
    ):
        assert key in out
    assert set(out["by_source"]) == {"inbound", "outbound", "expansion", "partner"}


def test_cli_text_and_simulated_side(capsys):
    assert main(["funnel", "scenarios/fy2026.toml", "--trials", "300", "--seed", "0"]) == 0
    text = capsys.readouterr().out
    assert "Retire multiple" in text and "$34.9M" in text and "push carry-over" in text


def test_cli_bad_input(capsys, tmp_path):
    assert main(["funnel", str(tmp_path / "missing.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_pacing(capsys):
    assert main(["funnel", "scenarios/fy2026.toml", "--json", "--pacing", "40,15,15,30"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pacing"]["remaining"] == 25 and out["pacing"]["days_left"] == 15
    assert main(["funnel", "scenarios/fy2026.toml", "--pacing", "40,15"]) == 2
    assert main(["funnel", "scenarios/fy2026.toml", "--pacing", "40,15,45,30"]) == 2


def test_cli_pacing_nonsense_and_no_days_left(capsys):
    from simcore.cli.app import main

    for bad, words in [
        ("nan,1,1,30", "planned must be a finite number"),
        ("-1,-5,1,30", "planned must be >= 0"),
    ]:
        assert main(["funnel", "scenarios/fy2026.toml", "--trials", "20", f"--pacing={bad}"]) == 2
        assert words in capsys.readouterr().err
    assert main(["funnel", "scenarios/fy2026.toml", "--trials", "20", "--pacing=40,15,30,30"]) == 0
    out = capsys.readouterr().out
    assert "25 more needed (no days left to make it up;" in out and "inf" not in out


def test_the_decision_stage_is_named_as_the_scenario_names_it(capsys):
    # enterprise.toml's stages run Qualified ... Redlines: no label says "stage 4" or "stage 1".
    code, out, _ = run_cli(capsys, "funnel", "scenarios/enterprise.toml", "--trials", "100")
    assert code == 0
    for words in (
        "Redlines creation needed",
        "Qualified creation needed",
        "Redlines bank:",
        "Redlines need",
        "Qualified created",
        "horizon truncation (Redlines creation)",
    ):
        assert words in out, words
    assert "stage 4" not in out.lower() and "stage-4" not in out.lower() and "stage 1" not in out.lower()
