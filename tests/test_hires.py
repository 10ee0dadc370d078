"""Hires as a lever: where the next heads of ``[capacity]`` go.

Known answers: where capacity does not bind a head adds nothing (the same bits, a paired
difference of exactly 0 under common random numbers); where it binds all year, one head adds
its productivity times its ramp-weighted days of expected creation (the ramp's integral); the
greedy placement picks the binding role and source first; bad input exits 2.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from helpers import build, run_cli

import simcore
from simcore.analysis.programs import quarter_bookings
from simcore.errors import SimcoreError
from simcore.examples import example_path
from simcore.optimize.hires import hire_candidates, place_hires, with_hires
from simcore.scenario.capacity import MONTH_DAYS

START = dt.date(2026, 1, 1)
HORIZON = 365


def _raw(roles):
    return {
        "name": "hires",
        "start": START,
        "end": dt.date(2026, 12, 31),
        "period": "quarter",
        "target": 4_000_000,
        "dimensions": {"source": ["inbound", "outbound"]},
        "stage": [{"name": "Qualify", "category": "pipeline"}, {"name": "Decide", "category": "commit"}],
        "defaults": {
            "conversion": {"to_decision": 0.6},
            "stages": {"Qualify": {"dwell": {"mean": 20, "cv": 0.5}}},
            "decision": {"win": 0.25, "dwell": {"mean": 30, "cv": 0.5}},
            "amount": {"median": 50_000, "p90_ratio": 2.0},
        },
        "by": {
            "source": {
                "inbound": {"creation": {"per": "week", "count": 3.0}},
                "outbound": {"creation": {"per": "week", "count": 4.0}},
            }
        },
        "capacity": {"role": roles},
    }


# An SDR team that binds outbound all year (1 head x 1 a week against 4 a week planned), and an
# inbound team with room to spare (10 a week against 3).
BINDING = {"SDR": {"headcount": 1, "creates": {"outbound": 1.0}, "ramp_months": 2, "cost_per_head": 100_000}}
SPARE = {"BDR": {"headcount": 1, "creates": {"inbound": 10.0}, "cost_per_head": 50_000}}


def test_where_capacity_does_not_bind_a_head_adds_exactly_nothing():
    sc = build(_raw(SPARE))
    m0 = simcore.compile_scenario(sc, "quarter")
    assert not m0.capacity.limited
    m1 = simcore.compile_scenario(with_hires(sc, [("BDR", "inbound", 0)]), "quarter")
    assert np.array_equal(m1.creation_rate, m0.creation_rate)
    a, b = quarter_bookings(m0, 300, 4), quarter_bookings(m1, 300, 4)
    assert np.array_equal(b - a, np.zeros_like(a))  # the paired difference, trial by trial
    r = place_hires(sc, heads=2, trials=100, seed=4)
    assert r.placements == [] and not r.binding and "binds nowhere" in r.note


@pytest.mark.parametrize("quarter", [0, 2])
def test_one_binding_head_adds_its_productivity_times_its_ramped_days(quarter):
    sc = build(_raw(BINDING))
    m0 = simcore.compile_scenario(sc, "quarter")
    m1 = simcore.compile_scenario(with_hires(sc, [("SDR", "outbound", quarter)]), "quarter")
    assert m1.capacity.factor[0].max() < 1.0  # still binding every week with the head
    s = (dt.date(2026, 1 + 3 * quarter, 1) - START).days
    ramp = 2 * MONTH_DAYS
    # A linear ramp of R days from day s to the horizon H: (H - s) - R / 2 productive days.
    expected = 1.0 * ((HORIZON - s) - ramp / 2) / 7.0
    added = m1.creation_rate - m0.creation_rate
    assert added.sum() == pytest.approx(expected, rel=1e-9)
    assert np.array_equal(added[0], np.zeros_like(added[0]))  # inbound: untouched


def test_the_greedy_places_the_binding_role_and_source_first():
    sc = build(_raw({**BINDING, **SPARE}))
    r = place_hires(sc, heads=2, trials=300, seed=2, start=START)
    assert r.binding and r.candidates == 2  # SDR on outbound, BDR on inbound, both in Q1
    assert [(p["role"], p["value"]) for p in r.placements] == [("SDR", "outbound")] * 2
    first = r.placements[0]
    assert first["added_mean"] > 4 * first["added_mean_se"]
    assert first["opportunities_added"] == pytest.approx((HORIZON - 2 * MONTH_DAYS / 2) / 7.0, rel=1e-9)
    assert first["cost"] == pytest.approx(100_000 * HORIZON / 365.25)
    assert first["bookings_per_dollar"] == pytest.approx(first["added_mean"] / first["cost"])
    assert r.to_dataframe()["role"].tolist() == ["SDR", "SDR"]
    # The flag's cost per head replaces the role's; a later start costs its share of the year.
    later = place_hires(sc, heads=1, trials=50, seed=2, start=dt.date(2026, 7, 15), cost_per_head=80_000)
    assert later.placements[0]["start"] == "2026-07-01"
    assert later.placements[0]["cost"] == pytest.approx(80_000 * (HORIZON - 181) / 365.25)


def test_candidates_and_bad_arguments():
    sc = build(_raw({**BINDING, **SPARE}))
    assert len(hire_candidates(sc)) == 8 and len(hire_candidates(sc, role="SDR")) == 4
    with pytest.raises(SimcoreError, match="unknown role 'AE'"):
        hire_candidates(sc, role="AE")
    with pytest.raises(SimcoreError, match="outside the plan"):
        hire_candidates(sc, start=dt.date(2027, 3, 1))
    with pytest.raises(SimcoreError, match="cost_per_head"):
        place_hires(sc, heads=1, trials=10, cost_per_head=-1.0)
    plain = _raw(SPARE)
    del plain["capacity"]
    with pytest.raises(SimcoreError, match=r"no \[capacity\]"):
        hire_candidates(build(plain))


_CAPACITY = """
[capacity.role.SDR]
headcount = 1
creates = {{ outbound = 1.0 }}
ramp_months = 2
cost_per_head = {cost}
"""


def _toml(tmp_path, cost="100_000"):
    text = example_path("programs").read_text()
    path = tmp_path / "plan.toml"
    path.write_text(text + _CAPACITY.format(cost=cost))
    return path


def test_cli_places_the_heads_and_prints_json(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "hires", _toml(tmp_path), "--heads", "1", "--trials", "100", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["placements"][0]["role"] == "SDR" and data["placements"][0]["value"] == "outbound"
    assert data["confidence"] == 0.9 and data["binding"]
    code, out, _ = run_cli(capsys, "hires", _toml(tmp_path), "--heads", "1", "--trials", "50")
    assert code == 0 and "heads placed" in out and "added at 90%" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--cost-per-head", "-5"], "--cost-per-head: must be >= 0"),
        (["--role", "AE"], "unknown role 'AE'"),
        (["--start", "2031-01-01"], "outside the plan"),
        (["--start", "April"], "expected a date"),
        (["--confidence", "1.5"], "between 0 and 1"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path, capsys, args, message):
    code, _, err = run_cli(capsys, "hires", _toml(tmp_path), "--trials", "10", *args)
    assert code == 2 and message in err


def test_a_negative_cost_per_head_in_the_file_exits_2(tmp_path, capsys):
    code, _, err = run_cli(capsys, "hires", _toml(tmp_path, cost="-10"), "--trials", "10")
    assert code == 2 and "capacity.role.SDR.cost_per_head" in err


def test_between_two_binding_places_the_more_productive_goes_first():
    # Inbound binds too (0.5 a head a week against 3), but a head there creates half as much.
    half = {"AE": {"headcount": 1, "creates": {"inbound": 0.5}, "ramp_months": 2}}
    sc = build(_raw({**BINDING, **half}))
    r = place_hires(sc, heads=1, trials=400, seed=3, start=START)
    assert r.candidates == 2 and r.placements[0]["role"] == "SDR"
    ae = place_hires(sc, heads=1, trials=400, seed=3, start=START, role="AE").placements[0]
    assert ae["opportunities_added"] == pytest.approx(0.5 * r.placements[0]["opportunities_added"])
    assert 0 < ae["added_mean"] < r.placements[0]["added_mean"]


def test_same_seed_same_placements_and_figures():
    sc = build(_raw({**BINDING, **SPARE}))
    a = place_hires(sc, heads=2, trials=120, seed=9, start=START).to_dict()
    b = place_hires(sc, heads=2, trials=120, seed=9, start=START).to_dict()
    assert a == b and a["placements"]


def test_the_total_is_every_head_against_the_base_plan():
    sc = build(_raw(BINDING))
    r = place_hires(sc, heads=2, trials=200, seed=5, start=START)
    placed = with_hires(sc, [("SDR", "outbound", 0)] * 2)
    base = quarter_bookings(simcore.compile_scenario(sc, "quarter"), 200, 5).sum(axis=1)
    both = quarter_bookings(simcore.compile_scenario(placed, "quarter"), 200, 5).sum(axis=1)
    assert r.total["added_mean"] == pytest.approx(float((both - base).mean()), rel=1e-12)
    assert r.total["cost"] == pytest.approx(sum(p["cost"] for p in r.placements))


def test_greedy_placement_matches_exhaustive_search():
    """Every placement of 3 heads over the 4 places (2 roles x 2 quarters, both binding), the same
    trials: none adds more bookings at the confidence than the greedy one."""
    import itertools

    roles = {
        "SDR": {"headcount": 1, "creates": {"outbound": 1.0}, "ramp_months": 2, "cost_per_head": 100_000},
        "BDR": {"headcount": 1, "creates": {"inbound": 1.6}, "ramp_months": 4, "cost_per_head": 80_000},
    }
    raw = _raw(roles)
    raw["end"], raw["target"] = dt.date(2026, 6, 30), 2_000_000
    sc = build(raw)
    trials, seed, conf = 1000, 2, 0.9
    r = place_hires(sc, heads=3, trials=trials, seed=seed, confidence=conf)
    base = quarter_bookings(simcore.compile_scenario(sc, "quarter"), trials, seed).sum(axis=1)
    cands = hire_candidates(sc)
    assert len(cands) == 4
    best = -np.inf
    for placed in itertools.combinations_with_replacement(cands, 3):
        year = quarter_bookings(
            simcore.compile_scenario(with_hires(sc, list(placed)), "quarter"), trials, seed
        )
        best = max(best, np.quantile(year.sum(axis=1), 1 - conf) - np.quantile(base, 1 - conf))
    assert r.total["added_at_confidence"] == pytest.approx(best, rel=1e-12)
    assert len(r.placements) == 3


def test_hires_go_to_the_workbook(tmp_path):
    """The placement is the report's Hires sheet: a row per head, in the order placed."""
    import openpyxl

    from simcore.report.content import Report
    from simcore.report.program_tables import hires_tables
    from simcore.report.workbook import write_xlsx

    r = place_hires(build(_raw(BINDING)), heads=2, trials=200, seed=1)
    tables = hires_tables(r)
    assert [t.sheet for t in tables] == ["Hires"] and len(tables[0].rows) == 2
    write_xlsx(Report("hires", {"currency": r.currency}, tables=tables), tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["Hires"]
    assert [c.value for c in ws[2]][:4] == ["#", "role", "source", "start"]
    rows = [[c.value for c in row][:5] for row in ws.iter_rows(min_row=3, max_row=4)]
    assert [row[1] for row in rows] == ["SDR", "SDR"]
    assert rows[0][4] == pytest.approx(r.placements[0]["added_p50"])
