"""Re-planning what is left of the year: ``optimize(..., as_of=...)`` and ``--carryover``."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
from helpers import build
from test_optimize import _toml, two_source_raw

from simcore.cli.app import main
from simcore.errors import SimcoreError
from simcore.forecast.asof import as_of_state
from simcore.optimize.layout import build_layout
from simcore.optimize.plan import optimize
from simcore.optimize.replan import carryover

KW = {"trials": 400, "seed": 0, "verify_trials": 0, "spreadsheet": False, "iterations": 2}


def three_quarters_raw():
    """The two-source plan over 39 weeks from 2026-04-01: 2026-Q2 (91 days), Q3 (92), Q4 (90 of 92)."""
    raw = copy.deepcopy(two_source_raw())
    raw["horizon_weeks"] = 39
    raw["defaults"]["creation"]["dollars"] = [6_000_000.0] * 3
    raw["target"] = 3_000_000
    return raw


def test_as_of_the_start_without_export_is_the_plan():
    # No actuals, the scenario's own bank starting on day 0, creation from day 0: the same kernel
    # inputs, so the same random numbers and the same plan, bit for bit.
    sc = build(two_source_raw())
    plain = optimize(sc, 0.8, **KW)
    state = as_of_state(sc, None, sc.start)
    again = optimize(sc, 0.8, as_of=state, **KW)
    assert np.array_equal(plain.x, again.x)
    assert plain.confidence_in_sample == again.confidence_in_sample
    assert again.as_of["actual_bookings"] == 0 and again.as_of["closed_quarters"] == []
    assert again.spreadsheet == {} and "not computed as of a date" in again.required_bank["note"]


def test_actuals_above_target_need_no_more_creation():
    sc = build(two_source_raw())
    state = as_of_state(sc, None, "2026-05-01")
    won = pd.DataFrame({"opportunity_id": ["w1"], "cell": [0], "day": [10], "amount": [sc.target + 1.0]})
    state = dataclasses.replace(state, actuals=won)
    res = optimize(sc, 0.9, as_of=state, **KW)
    assert res.feasible and res.success
    assert res.total_stage1 == 0.0
    assert res.confidence_in_sample == 1.0
    assert res.as_of["target_left"] == 0.0 and res.as_of["actual_bookings"] == sc.target + 1.0


def test_past_quarters_get_no_creation():
    sc_limits = three_quarters_raw()
    sc_limits["optimize"] = {"ramp": 1.5, "source": {"a": {"min_per_quarter": 1_000_000}}}
    sc = build(sc_limits)
    state = as_of_state(sc, None, "2026-07-15")
    res = optimize(sc, 0.8, as_of=state, **KW)
    assert res.feasible
    assert res.plan["a"]["2026-Q2"] == 0.0 and res.plan["b"]["2026-Q2"] == 0.0
    assert res.as_of["closed_quarters"] == ["2026-Q2"] and res.as_of["current_quarter"] == "2026-Q3"
    assert any("a in 2026-Q2" in r for r in res.as_of["relaxed"])
    # The minimum still holds where creation is possible, and the plan has creation left to do.
    assert res.plan["a"]["2026-Q3"] >= 1_000_000 * (1 - 1e-9)
    still = res.as_of["still_to_create"]
    assert still["a"]["2026-Q2"] == 0.0
    # Q3 is under way on day 14 of 92: only its days still to come create.
    assert still["a"]["2026-Q3"] == pytest.approx(res.plan["a"]["2026-Q3"] * 78 / 92)


def test_carryover_next_and_even_exact():
    sc = build(three_quarters_raw())
    layout = build_layout(sc, "source", False)
    state = as_of_state(sc, None, "2026-07-01")  # Q2 over, Q3 and Q4 to come
    a_cell = sc.cells.index(("a",))
    created = pd.DataFrame(
        {"cell": [a_cell, a_cell], "stage": [0, 0], "day": [5, 60], "amount": [1_000_000.0, 500_000.0]}
    )
    layout.as_of = dataclasses.replace(state, created=created)
    nxt, even = carryover(layout, "next"), carryover(layout, "even")
    ra, rb = nxt["rows"]
    assert ra["source"] == "a" and ra["planned_to_date"] == pytest.approx(6_000_000.0)
    assert ra["created_to_date"] == 1_500_000.0 and ra["shortfall"] == pytest.approx(4_500_000.0)
    assert rb["created_to_date"] == 0.0 and rb["shortfall"] == pytest.approx(6_000_000.0)
    rest = ra["remaining_plan"]
    assert rest["2026-Q2"] == 0.0
    assert ra["replan"]["2026-Q3"] == pytest.approx(rest["2026-Q3"] + 4_500_000.0)
    assert ra["replan"]["2026-Q4"] == pytest.approx(rest["2026-Q4"])
    ea = even["rows"][0]
    assert ea["replan"]["2026-Q3"] == pytest.approx(rest["2026-Q3"] + 4_500_000.0 * 92 / 182)
    assert ea["replan"]["2026-Q4"] == pytest.approx(rest["2026-Q4"] + 4_500_000.0 * 90 / 182)
    # Unit dollars of the re-plan create exactly the re-plan from the as-of day on.
    x = nxt["x"]
    share = layout.open_share()
    j = [i for i in range(layout.n_units) if layout.unit_source[i] == 0 and layout.unit_quarter[i] == 1][0]
    assert x[j] * share[j] == pytest.approx(ra["replan"]["2026-Q3"])
    # A surplus larger than the quarter leaves it at zero, and says how much went unused.
    big = pd.DataFrame({"cell": [a_cell], "stage": [0], "day": [5], "amount": [30_000_000.0]})
    layout.as_of = dataclasses.replace(state, created=big)
    over = carryover(layout, "next")
    assert over["rows"][0]["replan"]["2026-Q3"] == 0.0 and over["unused"] > 0


def _history(tmp_path):
    raw = three_quarters_raw()
    path = tmp_path / "plan.toml"
    path.write_text(_toml(raw))
    out = tmp_path / "crm"
    code = main(["history", str(path), "--start", "2026-01-01", "--end", "2026-07-20", "--out", str(out)])
    assert code == 0
    return path, out


@pytest.mark.slow
def test_cli_replan_end_to_end_and_bad_input(tmp_path, capsys):
    path, crm = _history(tmp_path)
    opps, hist = str(crm / "opportunities.csv"), str(crm / "stage_history.csv")
    base = ["optimize", str(path), "--confidence", "0.6", "--trials", "300", "--verify-trials", "0"]
    base += ["--iterations", "2", "--quiet", "--no-spreadsheet"]
    capsys.readouterr()
    code = main(
        base + ["--as-of", "2026-07-15", "--opportunities", opps, "--history", hist, "--carryover", "even"]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "As of 2026-07-15: actual bookings" in text and "Re-plan by the carryover rule 'even'" in text
    code = main(base + ["--as-of", "2026-07-15", "--opportunities", opps, "--carryover", "next", "--json"])
    data = __import__("json").loads(capsys.readouterr().out)
    assert code == 0 and data["as_of"]["carryover"]["rule"] == "next"
    state = as_of_state(build(three_quarters_raw()), opps, "2026-07-15")
    assert data["as_of"]["actual_bookings"] == pytest.approx(float(state.actuals["amount"].sum()))
    assert data["plan"]["a"]["2026-Q2"] == 0.0
    # Bad input: exit 2, one clear line.
    assert main(base + ["--as-of", "2027-06-01"]) == 2
    err = capsys.readouterr().err
    assert "outside the plan's year" in err and len(err.strip().splitlines()) == 1
    assert main(base + ["--as-of", "2026-07-15", "--carryover", "next"]) == 2
    err = capsys.readouterr().err
    assert "--carryover needs --opportunities" in err and len(err.strip().splitlines()) == 1
    assert main(base + ["--opportunities", opps]) == 2
    assert "needs --as-of" in capsys.readouterr().err


def test_bad_requests_say_what_is_wrong(tmp_path, capsys):
    sc = build(three_quarters_raw())
    state = as_of_state(sc, None, "2026-07-15")
    with pytest.raises(SimcoreError, match="carryover needs as_of"):
        optimize(sc, 0.8, carryover="next", **KW)
    with pytest.raises(SimcoreError, match="carryover must be one of"):
        optimize(sc, 0.8, as_of=state, carryover="weekly", **KW)
    with pytest.raises(SimcoreError, match="another scenario"):
        optimize(build(two_source_raw()), 0.8, as_of=state, **KW)
    with pytest.raises(SimcoreError, match="free_mix"):
        optimize(sc, 0.8, as_of=state, carryover="even", free_mix=True, **KW)
    path = tmp_path / "plan.toml"
    path.write_text(_toml(three_quarters_raw()))
    base = ["optimize", str(path), "--trials", "200", "--verify-trials", "0", "--quiet"]
    opps = tmp_path / "opps.csv"
    opps.write_text(
        "opportunity_id,created,status,closed,amount,stage,source\n1,2026-04-02,open,,1000,S1,a\n"
    )
    capsys.readouterr()
    for extra, says in (
        (["--carryover", "next"], "--carryover needs --as-of"),
        (["--as-of", "2026-07-15", "--programs"], "does not combine with --programs"),
        (["--as-of", "2026-07-15", "--history", str(opps)], "--history needs --opportunities"),
        (["--as-of", "2026-09-15", "--opportunities", str(opps)], "the export ends before the as-of date"),
        # Without the export, nothing won and the starting bank still open in July: refused.
        (["--as-of", "2026-07-15"], "give --opportunities"),
    ):
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        # One problem, one line (a file's problems end with the house's count line).
        assert says in err and sum(line.startswith("error:") for line in err.splitlines()) == 1, err


def test_a_closed_quarters_target_is_its_actuals():
    # A target for a quarter already over is met or missed by its actual bookings alone: met in
    # every trial when the actuals reach it (and the annual target still asks for creation).
    raw = three_quarters_raw()
    raw["optimize"] |= {"period_target": [{"period": "2026-Q2", "target": 500_000, "confidence": 0.9}]}
    sc = build(raw)
    state = as_of_state(sc, None, "2026-07-15")
    won = pd.DataFrame({"opportunity_id": ["w1"], "cell": [0], "day": [30], "amount": [600_000.0]})
    res = optimize(sc, 0.8, as_of=dataclasses.replace(state, actuals=won), **KW)
    assert res.feasible and res.period_targets[0]["confidence_in_sample"] == 1.0
    assert res.total_stage1 > 0 and res.as_of["target_left"] == sc.target - 600_000.0
    short = pd.DataFrame({"opportunity_id": ["w1"], "cell": [0], "day": [30], "amount": [400_000.0]})
    with pytest.raises(SimcoreError, match="2026-Q2: the quarter is over and booked \\$400,000"):
        optimize(sc, 0.8, as_of=dataclasses.replace(state, actuals=short), **KW)
