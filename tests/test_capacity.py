"""Capacity: roles, headcount, hires that ramp, attrition, productivity; the plan capped at it.

Known answers: a capacity exactly equal to the plan's need changes nothing, bit for bit; half
of it halves creation where it binds; a hire's in-period capacity is reduced by the ramp's
integral; attrition is exponential per month; bad input is one clear problem each, exit 2.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from helpers import assert_close_se, build, run, run_cli, se_mean
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import simcore
from simcore.engine.capacity import role_heads
from simcore.errors import ScenarioError
from simcore.scenario.capacity import MONTH_DAYS, Role

START = dt.date(2026, 1, 1)


def _raw(capacity=None, outbound_per_week=4.0):
    raw = {
        "name": "cap",
        "start": START,
        "end": dt.date(2026, 12, 31),
        "period": "quarter",
        "dimensions": {"source": ["inbound", "outbound"]},
        "stage": [{"name": "Qualify", "category": "pipeline"}, {"name": "Decide", "category": "commit"}],
        "defaults": {
            "conversion": {"to_decision": 0.6},
            "stages": {"Qualify": {"dwell": {"mean": 20, "cv": 0.5}}},
            "decision": {"win": 0.25, "dwell": {"mean": 30, "cv": 0.5}},
            "amount": {"median": 100_000, "p90_ratio": 2.0},
        },
        "by": {
            "source": {
                "inbound": {"creation": {"count": 150}},
                "outbound": {"creation": {"per": "week", "count": outbound_per_week}},
            }
        },
    }
    if capacity is not None:
        raw["capacity"] = capacity
    return raw


def _sdr(**role):
    return {"role": {"SDR": {"headcount": 1, "creates": {"outbound": 4.0}, **role}}}


def test_capacity_equal_to_the_need_changes_nothing_bit_for_bit():
    plain = build(_raw())
    capped = build(_raw(_sdr()))
    m0, m = simcore.compile_scenario(plain), simcore.compile_scenario(capped)
    assert not m.capacity.limited
    assert np.array_equal(m.creation_rate, m0.creation_rate)
    a, b = run(plain, 200, seed=3), run(capped, 200, seed=3)
    for name in ("bookings_amount", "created_count", "bank_count", "assumption"):
        assert np.array_equal(a[name].values, b[name].values), name
    assert not b.simcore.summary()["capacity"]["limited"]


def test_half_the_capacity_halves_creation_where_it_binds():
    sc0 = build(_raw())
    sc = build(_raw(_sdr(creates={"outbound": 2.0})))
    m0, m = simcore.compile_scenario(sc0), simcore.compile_scenario(sc)
    assert m.capacity.limited and np.allclose(m.creation_rate[1], 0.5 * m0.creation_rate[1])
    assert np.array_equal(m.creation_rate[0], m0.creation_rate[0])  # inbound: no role creates it
    ds = run(sc, 2000, seed=5, model=m.without_bank())
    created = ds.created_count.isel(stage=0).sum("period").sel(source="outbound").values
    assert_close_se(
        created.mean(), 0.5 * m0.creation_rate[1].sum(), se_mean(created), what="outbound created"
    )
    report = ds.simcore.summary()["capacity"]
    assert report["limited"] and all(r["binding"] for r in report["creation"])
    for r in report["creation"]:
        assert r["available"] == pytest.approx(0.5 * r["needed"], rel=1e-9)
        assert r["heads"] == pytest.approx(1.0) and r["heads_needed"] == pytest.approx(2.0)


@pytest.mark.parametrize("ramp_months", [0.0, 1.0, 2.5])
def test_a_ramp_reduces_a_hires_in_period_capacity_by_its_integral(ramp_months):
    role = Role("SDR", (0.0,) * 4, (0.0, 3.0, 0.0, 0.0), ramp_months, 0.0, {"outbound": 1.0}, None)
    heads = role_heads(role, START, 364, "quarter", 1)
    q2 = slice(90, 181)  # 2026-04-01 .. 2026-06-30: 91 days
    ramp_days = ramp_months * MONTH_DAYS
    # A linear ramp of R days from the period's start: the period's head-days are D - R / 2.
    assert heads[q2].sum() == pytest.approx(3.0 * (91 - ramp_days / 2), rel=1e-12)
    assert (heads[:90] == 0).all() and heads[200] == 3.0
    # And the simulated creation follows: a ramping hire as the only capacity, Q2 bound by it.
    cap = {
        "role": {
            "SDR": {
                "headcount": 0,
                "hires": [0, 3, 0, 0],
                "ramp_months": ramp_months,
                "creates": {"outbound": 1.0},
            }
        }
    }
    sc = build(_raw(cap))
    ds = run(sc, 1500, seed=2, model=simcore.compile_scenario(sc).without_bank())
    q2_created = ds.created_count.isel(stage=0).sel(source="outbound", period="2026-Q2").values
    expected = 3.0 * (91 - ramp_days / 2) / 7.0
    assert_close_se(q2_created.mean(), expected, se_mean(q2_created), what="Q2 creation of the ramping hires")


def test_attrition_is_a_monthly_rate_on_every_head():
    role = Role("CSM", (10.0,) * 4, (0.0,) * 4, 0.0, 0.05, {"expansion": 0.5}, None)
    heads = role_heads(role, START, 364, "quarter", 1)
    day = 300
    assert heads[day] == pytest.approx(10.0 * 0.95 ** ((day + 0.5) / MONTH_DAYS), rel=1e-12)


def test_carrying_roles_are_reported_against_the_open_deals_simulated():
    cap = {"role": {"AE": {"headcount": 4, "hires": [0, 2, 0, 0], "carries": 15}}}
    sc = build(_raw(cap))
    ds = run(sc, 400, seed=1)
    report = ds.simcore.summary()["capacity"]
    assert not report["limited"] and not report["creation"]
    open_deals = ds.bank_count.sum(["source", "category"])
    for row in report["carrying"]:
        n = open_deals.sel(period=row["period"]).values
        assert row["needed_p50"] == np.quantile(n, 0.5) and row["needed_p90"] == np.quantile(n, 0.9)
        assert row["available"] == pytest.approx(15 * (4 + (2 if row["period"] != "2026-Q1" else 0)))
        assert row["binding"] == (row["needed_p90"] > row["available"])


_TOML = """
name = "cap"
start = 2026-01-01
end = 2026-12-31
[dimensions]
source = ["inbound", "outbound"]
[[stage]]
name = "Decide"
category = "commit"
[defaults]
decision = { win = 0.25, dwell = { mean = 30, cv = 0.5 } }
amount = { median = 100000, p90_ratio = 2.0 }
[by.source.inbound]
creation.count = 150
[by.source.outbound]
creation = { per = "week", count = 4 }
[capacity.role.SDR]
"""


def test_run_says_plainly_that_it_is_capacity_limited(capsys, tmp_path):
    path = tmp_path / "cap.toml"
    path.write_text(_TOML + "headcount = 1\ncreates = { outbound = 2.0 }\n")
    code, out, _ = run_cli(capsys, "run", path, "--trials", 100, "--seed", 1)
    assert code == 0 and "CAPACITY-LIMITED" in out and "SDR in 2026-Q1" in out
    code, out, _ = run_cli(capsys, "run", path, "--trials", 100, "--seed", 1, "--json")
    assert code == 0 and json.loads(out)["capacity"]["limited"] is True


@pytest.mark.parametrize(
    "capacity, field, words",
    [
        (_sdr(creates={"outbond": 2.0}), "capacity.role.SDR.creates.outbond", "did you mean 'outbound'"),
        (_sdr(ramp_months=14), "capacity.role.SDR.ramp_months", "longer than the horizon"),
        (_sdr(headcount=-1), "capacity.role.SDR.headcount", "out of range"),
        (_sdr(creates={"outbound": -2.0}), "capacity.role.SDR.creates.outbound", "out of range"),
        (_sdr(headcount=[1, 2]), "capacity.role.SDR.headcount", "has 2 values but the horizon has 4"),
        (_sdr(attrition=1.5), "capacity.role.SDR.attrition", "out of range"),
        (_sdr(cost_per_head=-1), "capacity.role.SDR.cost_per_head", "out of range"),
        (_sdr(cost_per_head="lots"), "capacity.role.SDR.cost_per_head", "number"),
        ({"role": {"AE": {"headcount": 3}}}, "capacity.role.AE", "neither creates"),
        (
            {"dimension": "region", "role": {"AE": {"headcount": 3, "carries": 5}}},
            "capacity.dimension",
            "region",
        ),
        ({"role": {"AE": {"headcount": 3, "carries": 0}}}, "capacity.role.AE.carries", "out of range"),
        ({"role": {"AE": {"headcount": 3, "carries": 5, "quota": 2}}}, "capacity.role.AE.quota", "unknown"),
    ],
)
def test_bad_capacity_is_one_clear_problem(capacity, field, words):
    with pytest.raises(ScenarioError) as info:
        build(_raw(capacity))
    text = str(info.value)
    assert field in text and words in text, text


def test_validate_exits_2_on_bad_capacity(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(_TOML + "headcount = -3\ncreates = { partner = 1.0 }\n")
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 2 and "capacity.role.SDR.headcount" in err and "Traceback" not in err
    path.write_text(_TOML + "headcount = 3\ncreates = { partner = 1.0 }\n")
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 2 and "unknown source 'partner'" in err


def test_the_report_has_the_capacity_and_attainment_tables():
    from simcore.report.tables import dataset_tables

    cap = _sdr(creates={"outbound": 2.0})
    cap["role"]["AE"] = {"headcount": 3, "carries": 20}
    raw = _raw(cap)
    raw["by"]["source"]["inbound"]["creation"]["attainment"] = {"low": 0.5, "base": 0.7, "high": 0.9}
    tables = {t.name: t for t in dataset_tables(run(build(raw), 200, seed=1))}
    assert "CAPACITY-LIMITED" in tables["capacity_creation"].title
    assert [r[1] for r in tables["capacity_carrying"].rows] == ["AE"] * 4
    assert tables["creation_attainment"].rows[0][0] == "by.source.inbound"
    plain = {t.name for t in dataset_tables(run(build(_raw()), 50, seed=1))}
    assert not plain & {"capacity_creation", "capacity_carrying", "creation_attainment"}


_EDGE = [-1.0, -1e-300, 0.0, 5e-324, 0.5, 1.0, 3.0, 13.9, 120.0, 1e5, 1e5 + 1, 1e300, math.inf, math.nan]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headcount=st.one_of(st.sampled_from(_EDGE), st.lists(st.sampled_from(_EDGE), min_size=1, max_size=5)),
    hires=st.sampled_from(_EDGE),
    ramp=st.sampled_from(_EDGE),
    attrition=st.sampled_from(_EDGE),
    creates=st.sampled_from(_EDGE),
    carries=st.sampled_from(_EDGE),
)
# A ramp of the smallest subnormal number of months overflowed x * x / (2 R) past the ramp.
@example(headcount=0.0, hires=5e-324, ramp=5e-324, attrition=0.0, creates=0.0, carries=5e-324)
def test_hostile_capacity_is_refused_or_simulates_finite(headcount, hires, ramp, attrition, creates, carries):
    role = {"headcount": headcount, "hires": hires, "ramp_months": ramp, "attrition": attrition}
    role |= {"creates": {"outbound": creates}, "carries": carries}
    try:
        sc = build(_raw({"role": {"SDR": role}}))
    except ScenarioError as exc:
        assert str(exc) and "capacity" in str(exc)
        return
    m = simcore.compile_scenario(sc)
    assert np.isfinite(m.creation_rate).all() and (m.creation_rate >= 0).all()
    ds = run(sc, 4, seed=1, model=m)
    assert np.isfinite(ds.bookings_amount.values).all()
    json.dumps(ds.simcore.summary()["capacity"], allow_nan=False)
