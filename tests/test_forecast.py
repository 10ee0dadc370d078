"""As-of forecasts: actuals from the export, the open bank rebuilt as of the date, the rest simulated.

Known answers: the plan's start with no export is ``simcore run`` bit for bit; a closed
period's bookings are the export's own sums, with no spread; no deal is both an actual and
in the bank. Calibration: over histories drawn from a known scenario (no assumption
uncertainty, so the truth is one draw of the model the forecast simulates), the forecast's
P10-P90 of the year's bookings covers what the history actually booked about 80% of the time.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from helpers import build

import simcore
from simcore.calibrate import simulate_history, tidy_history
from simcore.engine.compile import compile_scenario
from simcore.forecast.asof import as_of_state
from simcore.forecast.forecast import forecast

SMB = "scenarios/smb.toml"


@pytest.fixture(scope="module")
def smb():
    return simcore.load_scenario(SMB)


@pytest.fixture(scope="module")
def smb_history(smb):
    h = simulate_history(smb, "2025-01-01", "2026-08-01", seed=5)
    opps, hist = tidy_history(h, dimensions=["source", "product"])
    return h, opps, hist


def test_as_of_the_plans_start_with_no_export_is_the_plans_run(smb):
    f = forecast(smb, None, "2026-01-01", trials=400, seed=9, progress=False, baseline=None)
    run = simcore.simulate(smb, trials=400, seed=9, progress=False)
    for name in ("bookings_amount", "bookings_count", "created_amount", "bank_amount", "won_cycle_days"):
        np.testing.assert_array_equal(f.dataset[name].values, run[name].values)
    assert f.summary == run.simcore.summary()
    assert f.actual_deals == 0 and f.bank_deals == len(smb.bank)


def test_closed_periods_are_the_exports_sums_with_no_spread(smb, smb_history):
    h, opps, hist = smb_history
    f = forecast(smb, opps, "2026-05-15", history=hist, trials=300, seed=1, progress=False, baseline=None)
    e = h.opportunities
    close = pd.to_datetime(e["CloseDate"])
    won = e["IsWon"] & (close >= "2026-01-01") & (close < "2026-05-15")
    by_month = e[won].groupby(close[won].dt.strftime("%Y-%m"))["Amount"].sum()
    ds = f.dataset
    total = ds.bookings_amount.sum(["source", "product"])
    for i, row in enumerate(f.by_period):
        label = ds.period.values[i]
        month = f"2026-{i + 1:02d}"
        if row["status"] == "closed":
            assert row["actual"] == pytest.approx(by_month[month], rel=1e-12)
            assert float(total.isel(period=i).min()) == float(total.isel(period=i).max()) == row["actual"]
        elif row["status"] == "current":
            assert label.endswith("05") or "May" in label or i == 4
            assert row["actual"] == pytest.approx(by_month[month], rel=1e-12)
            assert row["total"]["p10"] >= row["actual"]
        else:
            assert row["actual"] == 0
    assert [r["status"] for r in f.by_period[:6]] == ["closed"] * 4 + ["current", "open"]
    assert f.year["actual"] == pytest.approx(float(e[won]["Amount"].sum()), rel=1e-12)
    # Creation so far: the entry stage from the export's created dates, the decision stage from
    # the first change into it in the stage history; closed months have no spread.
    created = pd.to_datetime(e["CreatedDate"]).dt.tz_localize(None)
    feb = (created >= "2026-02-01") & (created < "2026-03-01")
    counts = ds.created_count.sum(["source", "product"]).isel(period=1)
    assert (counts.isel(stage=0) == int(feb.sum())).all()
    s = h.stage_history
    changed = pd.to_datetime(s["CreatedDate"]).dt.tz_localize(None)
    first = s[s["StageName"] == "Negotiation"].assign(t=changed).groupby("OpportunityId")["t"].min()
    assert (counts.isel(stage=-1) == int(((first >= "2026-02-01") & (first < "2026-03-01")).sum())).all()


def test_no_deal_is_both_an_actual_and_in_the_bank(smb, smb_history):
    h, opps, hist = smb_history
    state = as_of_state(smb, opps, "2026-04-01", history=hist)
    assert not set(state.actuals["opportunity_id"]) & set(state.bank["opportunity_id"])
    e = h.opportunities
    created = pd.to_datetime(e["CreatedDate"]).dt.tz_localize(None)
    close = pd.to_datetime(e["CloseDate"])
    open_then = (created < "2026-04-01") & (~e["IsClosed"] | (close >= "2026-04-01"))
    assert set(state.bank["opportunity_id"]) == set(e["Id"][open_then])
    won = e["IsWon"] & (close >= "2026-01-01") & (close < "2026-04-01")
    assert set(state.actuals["opportunity_id"]) == set(e["Id"][won])
    # Ages are as of the date: non-negative, and at most the time since creation.
    since_created = (
        pd.Timestamp("2026-04-01") - pd.to_datetime(opps.set_index("opportunity_id")["created"])
    ) / (pd.Timedelta(days=1))
    age = state.bank.set_index("opportunity_id")["age"]
    assert (age >= 0).all() and (age <= since_created[age.index] + 1e-9).all()


def _csv(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_stage_age_and_close_date_are_rebuilt_from_the_history_before_the_date(tmp_path, smb):
    opps = _csv(
        tmp_path,
        "opps.csv",
        "Id,CreatedDate,StageName,Amount,CloseDate,LeadSource,Product__c\n"
        "A,2026-02-01,Closed Won,30000,2026-06-10,inbound,Pro\n"
        "B,2026-03-01,Negotiation,12000,2026-07-01,outbound,Starter\n"
        "C,2026-01-05,Closed Won,9000,2026-02-20,partner,Starter\n",
    )
    hist = _csv(
        tmp_path,
        "hist.csv",
        "OpportunityId,CreatedDate,StageName,Amount,CloseDate\n"
        "A,2026-02-01,Discovery,20000,2026-03-15\n"
        "A,2026-02-20,Trial,25000,2026-04-01\n"
        "A,2026-04-20,Trial,26000,2026-05-30\n"  # an edit, not a stage change: the age runs on
        "A,2026-06-10,Closed Won,30000,2026-06-10\n"
        "B,2026-03-01,Discovery,12000,2026-07-01\n"
        "C,2026-01-05,Discovery,9000,2026-02-01\n"
        "C,2026-02-20,Closed Won,9000,2026-02-20\n",
    )
    state = as_of_state(smb, opps, "2026-05-01", history=hist)
    bank = state.bank.set_index("opportunity_id")
    assert list(bank.index) == ["A", "B"]
    assert bank.loc["A", "stage_name"] == "Trial" and bank.loc["A", "age"] == 70.0  # Feb 20 -> May 1
    assert bank.loc["A", "amount"] == 26000.0 and bank.loc["A", "expected_close"] == 149.0  # May 30
    assert bank.loc["B", "stage_name"] == "Discovery" and bank.loc["B", "age"] == 61.0
    assert list(state.actuals["opportunity_id"]) == ["C"] and state.actuals["day"].tolist() == [50]


def test_pushes_taken_before_the_date_are_counted_from_the_close_date_moves(tmp_path, smb):
    # At the decision stage (Negotiation) a later close date is a push, an earlier one is not,
    # and a move after the as-of date was not known then; the deal carries 2 pushes.
    opps = _csv(
        tmp_path,
        "opps.csv",
        "Id,CreatedDate,StageName,Amount,CloseDate,LeadSource,Product__c\n"
        "D,2026-01-10,Negotiation,40000,2026-08-01,outbound,Pro\n",
    )
    hist = _csv(
        tmp_path,
        "hist.csv",
        "OpportunityId,CreatedDate,StageName,Amount,CloseDate\n"
        "D,2026-01-10,Discovery,40000,2026-03-01\n"
        "D,2026-02-01,Negotiation,40000,2026-03-15\n"
        "D,2026-03-10,Negotiation,40000,2026-04-15\n"  # pushed
        "D,2026-03-20,Negotiation,40000,2026-04-01\n"  # pulled in: not a push
        "D,2026-04-10,Negotiation,40000,2026-05-20\n"  # pushed
        "D,2026-05-10,Negotiation,40000,2026-08-01\n",  # after the as-of date
    )
    state = as_of_state(smb, opps, "2026-05-01", history=hist)
    assert state.bank["pushes"].tolist() == [2]
    assert state.model(compile_scenario(smb)).bank_pushes.tolist() == [2]


def _problems(exc):
    return [str(p) for p in exc.value.problems]


def test_hostile_inputs_are_one_clear_line_each(tmp_path, smb):
    head = "Id,CreatedDate,StageName,Amount,CloseDate,LeadSource,Product__c\n"
    good = "A,2026-02-01,Discovery,20000,2026-06-01,inbound,Pro\n"
    with pytest.raises(simcore.SimcoreError, match="outside the plan's year"):
        as_of_state(smb, _csv(tmp_path, "a.csv", head + good), "2027-02-01")
    with pytest.raises(simcore.SimcoreError, match="expected a date"):
        as_of_state(smb, _csv(tmp_path, "a.csv", head + good), "May 15")
    cases = {
        "unknown stage": head + "A,2026-02-01,Contracting,20000,2026-06-01,inbound,Pro\n",
        "unknown source": head + "A,2026-02-01,Discovery,20000,2026-06-01,webinar,Pro\n",
        "before it was created": head + "A,2026-02-01,Closed Won,20000,2026-01-15,inbound,Pro\n",
        "export ends before the as-of date": head + "A,2026-01-02,Discovery,20000,2026-06-01,inbound,Pro\n",
        "above the largest deal size": head + "A,2026-02-01,Discovery,9e12,2026-06-01,inbound,Pro\n",
        "expected close 2026-01-15 is before": head + "A,2026-02-01,Discovery,20000,2026-01-15,inbound,Pro\n",
    }
    for message, text in cases.items():
        path = _csv(tmp_path, "bad.csv", text)
        with pytest.raises(simcore.ScenarioError) as exc:
            as_of_state(smb, path, "2026-02-05")
        lines = _problems(exc)
        assert any(message in line for line in lines), (message, lines)
        assert all(str(path) in line and "line 2" in line and "column" in line for line in lines), lines
    with pytest.raises(simcore.ScenarioError, match="no such opportunity file"):
        as_of_state(smb, tmp_path / "missing.csv", "2026-03-01")
    with pytest.raises(simcore.SimcoreError, match="no stage 'Contract'"):
        as_of_state(smb, _csv(tmp_path, "a.csv", head + good), "2026-02-05", stages="Neg=Contract")


def test_mapped_stages_and_blank_amounts(tmp_path, smb):
    path = _csv(
        tmp_path,
        "opps.csv",
        "Id,CreatedDate,StageName,Amount,CloseDate,LeadSource,Product__c\n"
        "A,2026-02-01,Proposal,,2026-06-01,inbound,Pro\n"
        "B,2026-02-10,Closed Won,,2026-02-20,inbound,Pro\n"
        "C,2026-02-12,Discovery,9000,2026-07-01,inbound,Pro\n",  # not every amount blank: that is an error
    )
    state = as_of_state(smb, path, "2026-02-25", stages="Proposal=Trial")
    assert state.bank["stage_name"].tolist() == ["Trial", "Discovery"] and state.bank["amount"].iloc[0] > 0
    assert state.actuals["amount"].tolist() == [0.0]
    assert any("no amount" in w for w in state.warnings)


def test_change_since_the_plan_and_since_a_previous_forecast(smb, smb_history, tmp_path):
    _, opps, hist = smb_history
    f = forecast(smb, opps, "2026-06-01", history=hist, trials=300, seed=3, progress=False)
    assert f.change["since"] == "plan"
    assert f.change["p_hit_change"] == pytest.approx(f.p_hit - f.change["p_hit_before"])
    later = forecast(smb, opps, "2026-07-01", history=hist, trials=300, seed=3, progress=False, baseline=f)
    assert later.change["since"] == "forecast as of 2026-06-01"
    assert later.change["p50_change"] == pytest.approx(later.year["total"]["p50"] - f.year["total"]["p50"])


# ---------------------------------------------------------------------------------------
# Calibration of the forecast itself


def _known_scenario():
    """Fixed rates (no assumption uncertainty, no market factor): a history is one draw of the
    very model the forecast simulates."""
    return build(
        {
            "name": "known",
            "start": dt.date(2026, 1, 1),
            "end": dt.date(2026, 12, 31),
            "period": "quarter",
            "target": 6_000_000,
            "dimensions": {"source": ["inbound", "outbound"]},
            "stage": [
                {"name": "Qualify", "category": "pipeline"},
                {"name": "Propose", "category": "best_case"},
                {"name": "Decide", "category": "commit"},
            ],
            "defaults": {
                "market_loading": 0.0,
                "stages": {
                    "Qualify": {"advance": 0.6, "dwell": {"dist": "lognormal", "mean": 20, "cv": 0.8}},
                    "Propose": {"advance": 0.7, "dwell": {"dist": "gamma", "mean": 25, "cv": 0.6}},
                },
                "decision": {
                    "win": 0.4,
                    "push": 0.15,
                    "dwell": {"dist": "lognormal", "mean": 15, "cv": 0.7},
                    "push_delay": {"mean": 14, "cv": 0.5},
                    "max_pushes": 2,
                },
                "amount": {"median": 40_000, "p90_ratio": 2.0},
            },
            "by": {
                "source": {
                    "inbound": {"creation": {"count": 400}},
                    "outbound": {"creation": {"count": 200}},
                }
            },
        }
    )


@pytest.mark.slow
def test_p10_p90_covers_the_actual_year_about_80_percent_of_the_time():
    sc = _known_scenario()
    rng = np.random.default_rng(2026)
    n = 100
    covered = 0
    for i in range(n):
        h = simulate_history(sc, "2025-01-01", "2027-03-01", seed=100 + i)
        opps, hist = tidy_history(h, dimensions=["source"])
        e = h.opportunities
        close = pd.to_datetime(e["CloseDate"])
        actual = float(e["Amount"][e["IsWon"] & (close >= "2026-01-01") & (close <= "2026-12-31")].sum())
        as_of = dt.date(2026, 1, 1) + dt.timedelta(days=int(rng.integers(10, 330)))
        f = forecast(sc, opps, as_of, history=hist, trials=300, seed=i, progress=False, baseline=None)
        covered += f.year["total"]["p10"] <= actual <= f.year["total"]["p90"]
    share = covered / n
    se = math.sqrt(0.8 * 0.2 / n)
    assert abs(share - 0.8) <= 3 * se, f"P10-P90 covered {covered} of {n} ({share:.0%})"


def test_a_fitted_scenario_forecasts_from_the_export_it_was_fitted_to(tmp_path, smb):
    # What a backtest does: calibrate as of a date, forecast the fitted plan from the same
    # files. The fitted plan's one-valued dimension (segment = all) needs no column.
    from simcore.calibrate import calibrate

    h = simulate_history(smb, "2024-06-01", "2026-03-01", seed=2)
    opps_csv, hist_csv = h.write(tmp_path)
    opps, hist = tidy_history(h)
    fit = calibrate(opps, "2026-01-01", [], hist)
    from_files = forecast(
        fit.scenario, opps_csv, "2026-02-01", history=hist_csv, trials=100, progress=False, baseline=None
    )
    from_tables = forecast(
        fit.scenario, opps, "2026-02-01", history=hist, trials=100, progress=False, baseline=None
    )
    assert from_files.actual_deals == from_tables.actual_deals > 0
    assert from_files.bank_deals == from_tables.bank_deals > 0
    assert from_files.year == from_tables.year
