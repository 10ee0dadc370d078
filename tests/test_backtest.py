"""Backtests: no peeking, calibrated ranges on synthetic history, baselines, the command and its bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import build, retry_test, run_cli, two_stage_raw

from simcore.calibrate import simulate_history, tidy_history
from simcore.errors import SimcoreError
from simcore.forecast.backtest import as_of_dates, backtest, booked, forecast_at, known_at
from simcore.forecast.baselines import stage_win_rates
from simcore.forecast.scores import uniformity

PLAN = two_stage_raw(counts=(200, 200), push=0.2)


@pytest.fixture(scope="module")
def history():
    h = simulate_history(build(PLAN), "2023-01-01", "2025-01-01", seed=5)
    return tidy_history(h, ["source"])


@pytest.fixture(scope="module")
def files(history, tmp_path_factory):
    h = simulate_history(build(PLAN), "2023-01-01", "2025-01-01", seed=5)
    return h.write(tmp_path_factory.mktemp("backtest"))


def test_as_of_dates():
    got = [d.date().isoformat() for d in as_of_dates("2025-01-01", "2026-01-01", "month", "quarter")]
    assert got[0] == "2025-01-01" and got[-1] == "2025-10-01" and len(got) == 10
    with pytest.raises(SimcoreError, match="must be before"):
        as_of_dates("2026-01-01", "2025-01-01")
    with pytest.raises(SimcoreError, match="no as-of date"):
        as_of_dates("2025-01-01", "2025-02-01")
    with pytest.raises(SimcoreError, match="--every 'fortnight'"):
        as_of_dates("2025-01-01", "2026-01-01", "fortnight")


def test_known_at_reopens_what_closed_later_and_keeps_what_closed_before(history):
    opps, hist = history
    as_of = pd.Timestamp("2024-06-01")
    known, known_hist = known_at(opps, hist, as_of)
    assert (known["created"] < as_of).all() and (known_hist["changed"] < as_of).all()
    closed_before = (opps["status"] != "open") & (opps["closed"] < as_of) & (opps["created"] < as_of)
    assert set(known.loc[known["status"] != "open", "opportunity_id"]) == set(
        opps.loc[closed_before, "opportunity_id"]
    )
    reopened = known[known["status"] == "open"]
    assert reopened["closed"].isna().all() and (reopened["loss_reason"] == "").all()
    # Their stage is the one they were in on the day (no closed stage), their close date the one known then.
    assert not reopened["stage"].str.startswith("Closed").any()
    last = known_hist.groupby("opportunity_id").tail(1).set_index("opportunity_id")
    sample = reopened.set_index("opportunity_id").index[:50]
    assert (reopened.set_index("opportunity_id").loc[sample, "stage"] == last.loc[sample, "stage"]).all()


def test_no_peeking_rows_after_the_as_of_date_do_not_change_its_forecast(history):
    opps, hist = history
    as_of = pd.Timestamp("2024-07-01")
    base = forecast_at(opps, hist, as_of, "quarter", dimensions=["source"], trials=300, seed=3)
    # Rewrite the future: outcomes and amounts of deals closed later, deals created later, later changes.
    future = opps.copy()
    later = future["closed"] >= as_of
    future.loc[later, "status"] = "lost"
    future.loc[later, "amount"] *= 7.0
    future.loc[future["created"] >= as_of, "amount"] = 1.0
    extra = future.iloc[:20].copy()
    extra["opportunity_id"] = [f"new{i}" for i in range(20)]
    extra["created"] = as_of + pd.Timedelta(days=3)
    future = pd.concat([future, extra], ignore_index=True)
    future.attrs = opps.attrs
    h2 = hist.copy()
    after = h2["changed"] >= as_of
    h2.loc[after, "stage"] = "Closed Lost"
    h2.loc[after, "amount"] = 5.0
    other = forecast_at(future, h2, as_of, "quarter", dimensions=["source"], trials=300, seed=3)
    np.testing.assert_array_equal(base["samples"], other["samples"])
    assert base["baselines"] == other["baselines"]
    # ... and the actual is what was booked in the horizon, from the real export
    assert booked(opps, as_of, base["horizon_end"]) > 0


def test_same_seed_same_bits(history):
    opps, hist = history
    a = backtest(opps, hist, start="2024-04-01", stop="2024-10-01", dimensions=["source"], trials=200, seed=4)
    b = backtest(opps, hist, start="2024-04-01", stop="2024-10-01", dimensions=["source"], trials=200, seed=4)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.to_dict() == b.to_dict()
    assert len(a.to_dataframe()) == 2 and "baselines.funnel.crps" in a.to_dataframe().columns


def test_stage_win_rates_are_the_share_won_of_deals_ever_in_the_stage():
    opps = pd.DataFrame({"opportunity_id": list("abcd"), "status": ["won", "lost", "lost", "open"]})
    hist = pd.DataFrame(
        {"opportunity_id": list("aabbcd"), "stage": ["One", "Two", "One", "Two", "One", "Two"]}
    )
    # One: a won, b lost, c lost -> 1/3; Two: a won, b lost (d is open) -> 1/2.
    np.testing.assert_allclose(stage_win_rates(opps, hist, ["One", "Two"]), [1 / 3, 1 / 2])


def test_baselines_score_as_points(history):
    opps, hist = history
    bt = backtest(opps, hist, start="2024-07-01", stop="2024-10-01", dimensions=["source"], trials=200)
    row = bt.rows[0]
    for b in row["baselines"].values():
        assert b["crps"] == pytest.approx(abs(row["actual"] - b["forecast"]))
        assert b["side"] in ("above", "below", "equal")
    # The category weights: 90% of commit is at most 90% of the open deals' dollars in the window.
    assert 0 < row["baselines"]["category_weighted"]["forecast"]


@pytest.mark.slow
def test_ranges_cover_80_percent_and_pits_are_uniform_on_synthetic_history():
    # 12 histories, each a company living under its own draw of the plan's assumptions; four
    # quarterly as-of dates each: 48 forecasts of the next quarter.
    sc = build(PLAN)

    def check(seed):
        pits, inside = [], []
        for s in range(12):
            h = simulate_history(sc, "2023-01-01", "2025-01-01", seed=1000 * seed + 100 + s)
            opps, hist = tidy_history(h, ["source"])
            bt = backtest(
                opps, hist, start="2024-01-01", stop="2025-01-01", dimensions=["source"], trials=400, seed=s
            )
            pits += [r["pit"] for r in bt.rows]
            inside += [r["inside"] for r in bt.rows]
        n = len(inside)
        share = float(np.mean(inside))
        # Coverage within the binomial 99% range of 80% over n forecasts.
        assert abs(share - 0.8) < 2.576 * np.sqrt(0.8 * 0.2 / n) + 0.5 / n, share
        return uniformity(pits)["p_value"]

    retry_test(check, seeds=(0, 1))


def test_cli_backtest(files, tmp_path, capsys):
    opps, hist = files
    out = tmp_path / "bt"
    code, stdout, err = run_cli(
        capsys, "backtest", opps, "--history", hist, "--from", "2024-07-01", "--to", "2025-01-01",
        "--dimensions", "source", "--trials", "200", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    assert "Inside P10-P90" in stdout and "2024-10-01" in stdout
    for name in ("backtest.json", "backtest.csv", "forecasts.png", "pit.png"):
        assert (out / name).stat().st_size > 0
    doc = json.loads((out / "backtest.json").read_text())
    assert doc["overall"]["forecasts"] == 2
    code, stdout, err = run_cli(
        capsys, "backtest", opps, "--from", "2024-07-01", "--to", "2024-10-01", "--trials", "100", "--json",
        "--weights", "commit=0.8",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(stdout)["rows"][0]["baselines"]["stage_weighted"]["forecast"] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "2024-13-01", "--to", "2025-01-01"], "expected a date"),
        (["--from", "2025-01-01", "--to", "2024-01-01"], "must be before --to"),
        (
            ["--from", "2024-07-01", "--to", "2025-06-01"],
            "the export ends on 2024-12-31, before --to 2025-06-01",
        ),
        (["--from", "2024-07-01", "--to", "2024-08-01"], "no as-of date"),
        (["--from", "2024-07-01", "--to", "2025-01-01", "--weights", "commit=2"], "between 0 and 1"),
        (["--from", "2024-07-01", "--to", "2025-01-01", "--weights", "upside=0.5"], "the categories are"),
        (["--from", "2024-07-01", "--to", "2025-01-01", "--every", "day"], "invalid choice"),
        (["--from", "2024-07-01", "--to", "2025-01-01", "--trials", "0"], "--trials"),
        (["--from", "2024-07-01", "--to", "2025-01-01", "--half-life", "-3"], "positive number of days"),
        (["--from", "2024-07-01", "--to", "2025-01-01", "--dimensions", "region"], "no column for 'region'"),
        (["--from", "2020-01-01", "--to", "2020-07-01"], "no opportunity was created before"),
    ],
)
def test_cli_backtest_hostile(files, capsys, args, message):
    opps, _ = files
    code, _, err = run_cli(capsys, "backtest", opps, *args)
    assert code == 2, err
    assert message in err
    assert "error" in err


def test_cli_backtest_out_is_a_file(files, tmp_path, capsys):
    opps, _ = files
    f = tmp_path / "taken.txt"
    f.write_text("x")
    code, _, err = run_cli(capsys, "backtest", opps, "--from", "2024-07-01", "--to", "2025-01-01", "--out", f)
    assert code == 2 and "not a folder" in err
