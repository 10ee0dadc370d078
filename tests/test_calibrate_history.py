"""Synthetic CRM history (simcore history): the model's closed forms hold in the tables it writes.

Tolerances are 4 Monte-Carlo standard errors of each statistic (binomial for shares, sd/sqrt(n)
for means, sqrt(n) for Poisson counts).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from conftest import START, assert_close_se, build, run, run_cli, se_proportion

from simcore.calibrate import events as ev
from simcore.calibrate import simulate_history, tidy_history
from simcore.calibrate.history import drawn_assumptions, trial_draws
from simcore.calibrate.stages import stage_map
from simcore.engine.compile import compile_scenario


def known_raw(count=1500.0, push=0.2, win_decay=1.0, sources=("inbound", "outbound")):
    """Two stages with fixed rates: what the history must show, in closed form."""
    return {
        "name": "known",
        "start": START,
        "end": dt.date(2026, 12, 31),
        "dimensions": {"source": list(sources)},
        "stage": [{"name": "Qualify", "category": "pipeline"}, {"name": "Decide", "category": "commit"}],
        "defaults": {
            "market_loading": 0.0,
            "stages": {
                "Qualify": {
                    "advance": 0.6,
                    "lost_competition": 0.1,
                    "dwell": {"mean": 20, "cv": 0.5},
                    "growth": 1.2,
                }
            },
            "decision": {
                "win": 0.3,
                "push": push,
                "lost_competition_share": 0.5,
                "dwell": {"mean": 25, "cv": 0.6},
                "push_delay": {"mean": 15, "cv": 0.5},
                "win_decay": win_decay,
                "max_pushes": 3,
            },
            "amount": {"median": 100_000, "sigma": 0.5},
            "creation": {"per": "year", "count": count},
        },
    }


def _events(h, dims=("source",)):
    opps, hist = tidy_history(h, list(dims))
    smap = stage_map(opps, hist)
    values = sorted(opps["source"].unique())
    cells = {(v,): i for i, v in enumerate(values)}
    events, _ = ev.build_events(opps, hist, smap, pd.Timestamp(h.end), list(dims), cells)
    return events, smap


@pytest.fixture(scope="module")
def known_history():
    sc = build(known_raw())
    return simulate_history(sc, "2023-01-01", "2026-01-01", seed=4)


def test_history_tables_have_the_salesforce_columns(known_history):
    h = known_history
    assert list(h.opportunities.columns[:9]) == [
        "Id", "CreatedDate", "StageName", "Amount", "CloseDate", "IsClosed", "IsWon", "ForecastCategoryName",
        "Loss_Reason__c",
    ]  # fmt: skip
    assert "LeadSource" in h.opportunities.columns
    assert list(h.stage_history.columns) == [
        "OpportunityId", "CreatedDate", "StageName", "Amount", "CloseDate", "PrevAmount", "PrevCloseDate",
        "ForecastCategory",
    ]  # fmt: skip
    # Deals still open at the end, and every deal has its history.
    assert (~h.opportunities["IsClosed"]).sum() > 0
    assert set(h.stage_history["OpportunityId"]) == set(h.opportunities["Id"])
    won = h.opportunities["IsWon"]
    assert (h.opportunities.loc[won, "StageName"] == "Closed Won").all()


def test_creation_count_matches_the_plan(known_history):
    # 1500 a year per source over three years: Poisson, so sd sqrt(mean).
    n = (known_history.opportunities["LeadSource"] == "inbound").sum()
    expected = 1500.0 * (dt.date(2026, 1, 1) - dt.date(2023, 1, 1)).days / 365.0
    assert_close_se(n, expected, math.sqrt(expected), what="deals created")


def test_stage_outcomes_and_decisions_match_the_rates(known_history):
    events, _ = _events(known_history)
    sp = events.spells
    q = sp[(sp["stage"] == 0) & (sp["outcome"] != ev.OUT_CENSORED)]
    adv = (q["outcome"] == ev.OUT_ADVANCE).mean()
    assert_close_se(adv, 0.6, se_proportion(0.6, len(q)), what="advance share")
    lost = q[q["outcome"] != ev.OUT_ADVANCE]
    comp = (lost["outcome"] == ev.OUT_LOST_COMPETITION).mean()
    assert_close_se(comp, 0.25, se_proportion(0.25, len(lost)), what="competition share of stage losses")
    d = sp[(sp["stage"] == 1) & (sp["outcome"] != ev.OUT_CENSORED)]
    first = d[d["pushes"] == 0]
    win = (first["outcome"] == ev.OUT_WON).mean()
    assert_close_se(win, 0.3, se_proportion(0.3, len(first)), what="win share of first decisions")
    can_push = d[d["pushes"] < 3]
    push = (can_push["outcome"] == ev.OUT_PUSH).mean()
    assert_close_se(push, 0.2, se_proportion(0.2, len(can_push)), what="push share")
    # Past max_pushes a push is a loss to no decision: no deal pushes a fourth time.
    assert sp["pushes"].max() <= 3


def test_mean_dwell_and_growth_match(known_history):
    events, _ = _events(known_history)
    sp = events.spells
    # Spells that began a year before the end are essentially never truncated (mean 20 days).
    q = sp[(sp["stage"] == 0) & (sp["start"] < -365) & (sp["kind"] == ev.KIND_DWELL)]
    assert (q["outcome"] != ev.OUT_CENSORED).all()
    assert_close_se(q["duration"].mean(), 20.0, 0.5 * 20.0 / math.sqrt(len(q)), what="mean Qualify dwell")
    delay = sp[(sp["kind"] == ev.KIND_PUSH_DELAY) & (sp["start"] < -365)]
    assert_close_se(
        delay["duration"].mean(), 15.0, 0.5 * 15.0 / math.sqrt(len(delay)), what="mean push delay"
    )
    growth = q.loc[q["outcome"] == ev.OUT_ADVANCE, "growth"]
    np.testing.assert_allclose(growth, 1.2, rtol=1e-3)  # amounts rounded to cents


def test_amounts_are_lognormal(known_history):
    first = known_history.stage_history.groupby("OpportunityId", sort=False).first()
    y = np.log(first["Amount"].to_numpy())
    assert_close_se(y.mean(), math.log(100_000), 0.5 / math.sqrt(len(y)), what="mean log amount")
    assert_close_se(y.std(), 0.5, 0.5 / math.sqrt(2 * len(y)), what="sd of log amount")


def test_assumptions_are_the_kernels_draws():
    # One history is one trial: its drawn assumptions are simcore run's for that trial.
    import simcore

    sc = simcore.load_scenario("scenarios/fy2026.toml")
    ds = run(sc, trials=3, seed=5)
    model = compile_scenario(sc)
    for trial in range(3):
        drawn = drawn_assumptions(model, 5, trial)
        for name in ("win", "median_amount", "dwell_mean[Stage 4]", "to_decision"):
            q = model.param_names.index(name)
            kernel = ds["assumption"].isel(trial=trial).sel(parameter=name).values.ravel()
            np.testing.assert_array_equal(drawn[:, q], kernel)
        # The market factor too: the history's win is shifted by the same z as the kernel's.
        z = trial_draws(model, 5, trial)[1]
        stored = ds["market_factor"].isel(trial=trial).values
        assert np.asarray(z, dtype=stored.dtype) == stored


def test_same_seed_same_history_and_another_seed_differs():
    sc = build(known_raw(count=300))
    a = simulate_history(sc, "2025-01-01", "2026-01-01", seed=1)
    b = simulate_history(sc, "2025-01-01", "2026-01-01", seed=1)
    c = simulate_history(sc, "2025-01-01", "2026-01-01", seed=2)
    pd.testing.assert_frame_equal(a.stage_history, b.stage_history)
    assert not a.opportunities["Amount"].equals(c.opportunities["Amount"])


def test_history_command_writes_both_files(tmp_path, capsys):
    code, out, err = run_cli(
        capsys,
        "history",
        "scenarios/smb.toml",
        "--start",
        "2025-01-01",
        "--end",
        "2025-07-01",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    assert (tmp_path / "opportunities.csv").exists() and (tmp_path / "stage_history.csv").exists()
    code, out, err = run_cli(
        capsys,
        "history",
        "scenarios/smb.toml",
        "--start",
        "2025-07-01",
        "--end",
        "2025-01-01",
        "--out",
        tmp_path,
    )
    assert code == 2 and "must be after start" in err
