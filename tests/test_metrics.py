"""Forecast metrics: a hand-built Dataset with hand-computed answers, The sales playbook's SMB forecast,
and a simulated check against closed forms."""

import datetime as dt
import json
import math

import numpy as np
import pytest
import xarray as xr

import simcore
from simcore.analysis.metrics import category_weighted_forecast, coverage, cycle_time, forecast_metrics
from simcore.cli.app import main


def tiny():
    """2 trials, 2 periods, sources a/b, stages S1/S2; only (Q1, a) has activity."""
    T, P, S = 2, 2, 2
    z = lambda *shape: np.zeros(shape)  # noqa: E731
    book, nbook, pushes = z(T, P, S), z(T, P, S), z(T, P, S)
    book[0, 0, 0], book[1, 0, 0] = 100, 300
    nbook[0, 0, 0], nbook[1, 0, 0] = 1, 2
    pushes[0, 0, 0], pushes[1, 0, 0] = 1, 2
    lost = z(T, P, S, 2, 2)
    lost[0, 0, 0, 0, 0] = 100  # trial 0 lost $100 to competition at S1
    lost[1, 0, 0, 1, 1] = 200  # trial 1 lost $200 to no decision at S2
    slipped = z(T, P, S)
    slipped[0, 0, 0] = 200
    due = z(T, P, S, 3)
    due[0, 0, 0, 1], due[0, 0, 0, 2] = 200, 100  # best case, commit
    due[1, 0, 0, 2] = 300
    cyc_days, cyc_n = z(T, P, S), z(T, P, S)
    cyc_days[0, 0, 0], cyc_days[1, 0, 0] = 10, 40
    cyc_n[0, 0, 0], cyc_n[1, 0, 0] = 1, 2
    hist = z(T, S, 3)
    hist[0, 0, 0], hist[1, 0, 1] = 1, 2
    d3 = ("trial", "period", "source")
    ds = xr.Dataset(
        {
            "bookings_amount": (d3, book),
            "bookings_count": (d3, nbook),
            "won_pushes": (d3, pushes),
            "lost_amount": (d3 + ("stage", "reason"), lost),
            "slipped_amount": (d3, slipped),
            "due_amount": (d3 + ("category",), due),
            "won_cycle_days": (d3, cyc_days),
            "won_cycle_count": (d3, cyc_n),
            "cycle_time_count": (("trial", "source", "cycle_bin"), hist),
            "period_target": ("period", [500.0, 500.0]),
        },
        coords={
            "trial": [0, 1],
            "period": ["2026-Q1", "2026-Q2"],
            "source": ["a", "b"],
            "stage": ["S1", "S2"],
            "reason": ["competition", "no_decision"],
            "category": ["pipeline", "best_case", "commit"],
            "cycle_bin": ["0-15d", "15-30d", "30d+"],
        },
        attrs={"dimensions": json.dumps(["source"])},
    )
    return ds


def test_hand_built_rates():
    m = forecast_metrics(tiny(), by=("period", "source"))
    q1a = m.sel(period="2026-Q1", source="a")
    assert float(q1a.close_rate) == pytest.approx(400 / 700)
    assert float(q1a.win_rate) == pytest.approx(400 / 500)
    assert float(q1a.slippage_adjusted_close_rate) == pytest.approx(400 / 900)
    assert float(q1a.coverage_needed) == pytest.approx(7 / 4)
    assert float(q1a.pushes_per_won) == pytest.approx(1.0)
    assert math.isnan(float(m.sel(period="2026-Q2", source="b").close_rate))
    late = forecast_metrics(tiny(), by=(), from_stage="S2")
    assert float(late.close_rate) == pytest.approx(400 / 600) and float(late.win_rate) == 1.0


def test_hand_built_coverage_and_cycle_time():
    cov = coverage(tiny())
    # per trial (200 + 100 + 100) / 500 = 0.8 and (300 + 300) / 500 = 1.2
    assert float(cov.coverage.sel(period="2026-Q1")) == pytest.approx(1.0)
    ct = cycle_time(tiny())
    assert float(ct["mean_days"]) == pytest.approx(50 / 3)
    assert list(ct["distribution"].values) == pytest.approx([1 / 3, 2 / 3, 0])
    assert ct["median_days"] == pytest.approx(15 + 15 * (0.5 - 1 / 3) / (2 / 3))


def test_seed003_smb_forecast():
    out = category_weighted_forecast(
        {"commit": 1_000_000, "best_case": 2_000_000, "pipeline": 2_000_000},
        {"commit": 0.9, "best_case": 0.6, "pipeline": 0.3},
        to_be_created=1_000_000,
        created_conversion=0.3,
    )
    assert out["by_category"] == pytest.approx(
        {"commit": 900_000, "best_case": 1_200_000, "pipeline": 600_000}
    )
    assert out["to_be_created"] == pytest.approx(300_000)
    assert out["forecast"] == pytest.approx(3_000_000)


def test_bad_metric_input():
    with pytest.raises(simcore.SimcoreError, match="cannot group"):
        forecast_metrics(tiny(), by=("region",))
    with pytest.raises(simcore.SimcoreError, match="conversion"):
        category_weighted_forecast({"commit": 1.0}, {})


def test_simulated_rates_match_closed_forms():
    # One decision stage: win .3, push .2, lost to competition .3, to no decision .2, no decay,
    # pushes unlimited in practice. Every deal decides in the quiet months after creation stops.
    w, p, lc = 0.3, 0.2, 0.3
    raw = {
        "name": "closed",
        "start": dt.date(2026, 1, 1),
        "end": dt.date(2027, 6, 30),
        "dimensions": {"source": ["inbound"]},
        "stage": [{"name": "Decide", "category": "commit"}],
        "defaults": {
            "decision": {
                "win": w,
                "push": p,
                "lost_competition": lc,
                "win_decay": 1.0,
                "max_pushes": 60,
                "dwell": {"dist": "fixed", "mean": 20},
                "push_delay": {"dist": "fixed", "mean": 10},
            },
            "amount": {"median": 50_000, "p90_ratio": 1.5},
            "creation": {"per": "month", "count": [100] * 12 + [0] * 6},
        },
    }
    ds = simcore.simulate(simcore.scenario_from_dict(raw), trials=300, seed=0, progress=False)
    m = forecast_metrics(ds, by=(), measure="count")
    closed = float(m.won + m.lost_competition + m.lost_no_decision)
    won = float(m.won)
    close, win_rate = w / (1 - p), w / (w + lc)  # each deal's eventual outcome
    assert abs(float(m.close_rate) - close) < 4 * math.sqrt(close * (1 - close) / closed)
    decided = float(m.won + m.lost_competition)
    assert abs(float(m.win_rate) - win_rate) < 4 * math.sqrt(win_rate * (1 - win_rate) / decided)
    # Pushes before a win are geometric: mean p / (1 - p), variance p / (1 - p)^2.
    assert abs(float(m.pushes_per_won) - p / (1 - p)) < 4 * math.sqrt(p) / (1 - p) / math.sqrt(won)
    # Cycle = 20 days + 10 per push.
    ct = cycle_time(ds)
    assert abs(float(ct["mean_days"]) - (20 + 10 * p / (1 - p))) < 4 * 10 * math.sqrt(p) / (
        1 - p
    ) / math.sqrt(won)
    assert ct["deals"] == won
    assert float(m.slippage_adjusted_close_rate) <= float(m.close_rate)


def test_cli_metrics(capsys):
    assert main(["metrics", "scenarios/fy2026.toml", "--trials", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"year", "by_period", "by_source", "by_product", "coverage", "cycle_time"} <= set(out["amount"])
    assert main(["metrics", "scenarios/fy2026.toml", "--trials", "200"]) == 0
    assert "Close rate" in capsys.readouterr().out
    assert main(["metrics", "scenarios/fy2026.toml", "--trials", "200", "--by", "region"]) == 2
    # By period is always shown: --by period is a usage error, not a traceback.
    assert main(["metrics", "scenarios/fy2026.toml", "--trials", "200", "--by", "period"]) == 2
    assert "the rates by period are always shown" in capsys.readouterr().err
    assert main(["metrics", "scenarios/fy2026.toml", "--trials", "200", "--by", "source"]) == 0
    assert "Close rate by source" in capsys.readouterr().out


def test_bank_at_period_start_chains_the_period_ends():
    from simcore.analysis.metrics import bank_at_period_start

    ds = simcore.simulate(simcore.load_scenario("scenarios/fy2026.toml"), 50, seed=0, progress=False)
    b = bank_at_period_start(ds)
    assert list(b.period.values) == list(ds.period.values)
    assert np.array_equal(
        b.isel(period=0).values, ds.starting_bank_amount.transpose(*b.isel(period=0).dims).values
    )
    assert np.array_equal(
        b.isel(period=2).values, ds.bank_amount.isel(period=1).transpose(*b.isel(period=2).dims).values
    )
    # The plan starts with its $7.4M stage-4 bank, all in commit.
    start = b.isel(period=0).sum(["source", "product"]).mean("trial")
    assert float(start.sel(category="commit")) == pytest.approx(7_400_000)
