"""Pacing: the planning example, the plan as the engine compiles it, and the probability's model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import build, edited, run_cli, two_stage_raw

from simcore.engine.compile import daily_plan
from simcore.errors import SimcoreError
from simcore.forecast.pacing import made_probability, pace


def _plan(count=40, seasonality=None):
    creation = {"per": "month", "count": count}
    raw = edited(two_stage_raw(), period="month", by__source__inbound__creation=creation)
    if seasonality is not None:
        raw = edited(raw, defaults__creation__seasonality=seasonality)
    return build(raw)


def _opps(dates, source="inbound", amount=100_000.0):
    return pd.DataFrame(
        {"created": pd.to_datetime(dates), "closed": pd.NaT, "amount": amount, "source": source}
    )


def test_planning_example_40_planned_15_by_day_15_needs_25_in_15_days():
    sc = _plan()
    opps = _opps([f"2026-04-{1 + i % 15:02d}" for i in range(15)])
    r = pace(sc, opps, "2026-04-16", by=["source"])
    inbound = next(row for row in r.rows if row["group"] == {"source": "inbound"})["count"]
    assert (r.period, r.days_elapsed, r.days_left) == ("2026-04", 15, 15)
    assert inbound["planned"] == pytest.approx(40.0)
    assert inbound["planned_to_date"] == pytest.approx(20.0)
    assert inbound["created"] == 15
    assert inbound["remaining"] == pytest.approx(25.0)
    assert inbound["per_day_needed"] == pytest.approx(25 / 15)
    assert inbound["per_week_needed"] == pytest.approx(7 * 25 / 15)
    assert inbound["behind"] == pytest.approx(5.0)
    dollars = next(row for row in r.rows if row["group"] == {"source": "inbound"})["dollars"]
    assert dollars["created"] == pytest.approx(1_500_000.0)


def test_deals_on_or_after_the_as_of_day_and_before_the_period_do_not_count():
    sc = _plan()
    opps = _opps(["2026-03-31", "2026-04-01", "2026-04-15", "2026-04-16", "2026-04-20"])
    row = pace(sc, opps, "2026-04-16").rows[1]["count"]
    assert row["created"] == 2


def test_plan_to_date_follows_the_engines_daily_plan_with_seasonality():
    season = [1.4, 1, 1, 0.6, 1, 1, 1, 1, 1, 1, 1, 1.2]
    sc = _plan(seasonality=season)
    r = pace(sc, _opps(["2026-04-02"]), "2026-04-11")
    day = (pd.Timestamp("2026-04-11") - pd.Timestamp(sc.start)).days
    first = (pd.Timestamp("2026-04-01") - pd.Timestamp(sc.start)).days
    inbound = sc.cells.index(("inbound",))
    expected = daily_plan(sc, inbound)[first:day].sum()
    assert r.rows[1]["count"]["planned_to_date"] == pytest.approx(expected)
    assert r.rows[1]["count"]["planned"] == pytest.approx(daily_plan(sc, inbound)[first : first + 30].sum())


def test_probability_is_the_gamma_poisson_closed_form_checked_by_simulation():
    # theta ~ Gamma(a + n, rate a + L_done); M | theta ~ Poisson(theta L_rest); P(n + M >= plan).
    rng = np.random.default_rng(7)
    for n, done_plan, rest, plan, a in [(15, 20, 20, 40, 1.0), (30, 20, 20, 40, 2.0), (3, 10, 30, 40, 5.0)]:
        p, projected = made_probability(n, done_plan, rest, plan, a)
        theta = rng.gamma(a + n, 1.0 / (a + done_plan), size=200_000)
        m = rng.poisson(theta * rest)
        sim = float(np.mean(n + m >= plan))
        se = np.sqrt(sim * (1 - sim) / len(m)) + 1e-12
        assert abs(p - sim) < 4 * se + 1e-4, (n, p, sim)
        assert projected == pytest.approx(
            n + m.mean(), rel=4 * m.std() / np.sqrt(len(m)) / (n + m.mean()) + 1e-3
        )


def test_probability_edges():
    assert made_probability(45, 20, 20, 40)[0] == 1.0
    assert made_probability(10, 40, 0, 40)[0] == 0.0
    # On pace with a long way to go: close to even odds (a little under, since it must reach the plan).
    p = made_probability(200, 200, 200, 400)[0]
    assert 0.4 < p < 0.6
    with pytest.raises(SimcoreError):
        made_probability(1, 1, 1, 2, prior_strength=0)


def test_probability_is_calibrated_when_the_plan_rate_is_true():
    # Deals arriving at the plan's rate: P(plan) averaged over many months equals the share made.
    rng = np.random.default_rng(3)
    n_done = rng.poisson(20.0, size=4000)
    n_rest = rng.poisson(20.0, size=4000)
    p = np.array([made_probability(k, 20.0, 20.0, 40.0, 1e6)[0] for k in n_done])
    made = (n_done + n_rest) >= 40
    assert abs(p.mean() - made.mean()) < 4 * np.sqrt(made.mean() * (1 - made.mean()) / 4000)
    # with the run-rate given its weight, P rises with what was done
    q = [made_probability(k, 20.0, 20.0, 40.0)[0] for k in (10, 20, 30)]
    assert q[0] < q[1] < q[2]


def test_dollar_probability_matches_the_count_one_when_every_deal_is_the_same_size():
    sc = _plan()
    opps = _opps([f"2026-04-{1 + i % 15:02d}" for i in range(18)] + ["2026-01-05"] * 30)
    row = pace(sc, opps, "2026-04-16", by=["source"]).rows[1]
    size = 100_000.0
    k_needed = (row["dollars"]["planned"] - row["dollars"]["created"]) / size
    p_count, _ = made_probability(18, 20, 20, 18 + k_needed)
    se = np.sqrt(p_count * (1 - p_count) / 4000)
    assert abs(row["dollars"]["probability"] - p_count) < 4 * se + 1e-3


def test_bad_input_is_one_clear_error():
    sc = _plan()
    opps = _opps(["2026-04-02"])
    with pytest.raises(SimcoreError, match="outside the plan's year"):
        pace(sc, opps, "2027-02-01")
    with pytest.raises(SimcoreError, match="no dimension 'segment'"):
        pace(sc, opps, "2026-04-10", by=["segment"])
    with pytest.raises(SimcoreError, match="export ends on 2026-04-02"):
        pace(sc, opps, "2026-06-10")


@pytest.fixture(scope="module")
def smb_export(tmp_path_factory):
    import simcore
    from simcore.calibrate import simulate_history

    sc = simcore.load_scenario("scenarios/smb.toml")
    out = tmp_path_factory.mktemp("pace")
    simulate_history(sc, "2025-10-01", "2026-04-20", seed=2).write(out)
    return out / "opportunities.csv"


def test_cli_pace_on_history(smb_export, capsys):
    import json

    code, out, err = run_cli(
        capsys, "pace", "scenarios/smb.toml", "--as-of", "2026-04-16", "--opportunities", smb_export,
        "--by", "source,product", "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["period"] == "2026-04" and len(doc["rows"]) == 1 + 6
    total = doc["rows"][0]["count"]
    assert total["created"] == sum(r["count"]["created"] for r in doc["rows"][1:])
    assert 0.0 <= total["probability"] <= 1.0
    code, out, err = run_cli(
        capsys, "pace", "scenarios/smb.toml", "--as-of", "2026-04-16", "--opportunities", smb_export
    )
    assert code == 0 and "still needed" in out and "inbound" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--as-of", "2026-13-01"], "expected a date"),
        (["--as-of", "2027-03-01"], "outside the plan's year"),
        (["--as-of", "2026-04-16", "--by", "region"], "no dimension 'region'"),
        (["--as-of", "2026-12-20"], "the export ends on"),
        (["--as-of", "2026-04-16", "--prior-strength", "0"], "must be positive"),
    ],
)
def test_cli_pace_hostile(smb_export, capsys, args, message):
    code, out, err = run_cli(capsys, "pace", "scenarios/smb.toml", "--opportunities", smb_export, *args)
    assert code == 2 and message in err, err


def test_cli_pace_missing_file(capsys, tmp_path):
    code, _, err = run_cli(
        capsys, "pace", "scenarios/smb.toml", "--as-of", "2026-04-16", "--opportunities", tmp_path / "x.csv"
    )
    assert code == 2 and "no such opportunity file" in err
