"""Sensitivity: known answers for the draws regression, one-at-a-time swings and the variance
split by cell."""

import json
import math

import numpy as np
import pytest
import xarray as xr
from helpers import two_stage_raw

import simcore
from simcore.analysis.sensitivity import drawn_sensitivity, one_at_a_time, variance_contributions
from simcore.cli.app import main


def plan(win=0.25, to_decision=0.6, counts=(150, 150)):
    return two_stage_raw("sens", win=win, to_decision=to_decision, counts=counts)


WIDE_WIN = {"low": 0.15, "base": 0.25, "high": 0.35}
NARROW_CONV = {"low": 0.59, "base": 0.6, "high": 0.61}


def test_the_one_wide_assumption_ranks_first():
    sc = simcore.scenario_from_dict(plan(win=WIDE_WIN, to_decision=NARROW_CONV))
    ds = simcore.simulate(sc, 2000, seed=0, progress=False)
    for method in ("rank", "linear"):
        d = drawn_sensitivity(ds, sc, method=method)
        assert [r["name"] for r in d.rows] == ["win", "to_decision"]  # no market factor: no cell loads on it
        assert d.rows[0]["importance"] > d.rows[1]["importance"]
        assert d.rows[0]["p50_high"] > d.rows[0]["p50_low"]
    oat = one_at_a_time(sc, trials=500, seed=0)
    assert [r["name"] for r in oat.rows] == ["win", "to_decision"]
    assert oat.rows[0]["low_value"] == 0.15 and oat.rows[0]["high_value"] == 0.35
    assert oat.swings("p10")[0]["name"] == "win"


def test_one_at_a_time_swing_matches_the_closed_form():
    # No push: a deal is won when u < win, nothing else depends on win, so
    # E[bookings | win = .35] / E[bookings | win = .15] = .35 / .15 exactly.
    sc = simcore.scenario_from_dict(plan(win=WIDE_WIN, to_decision=NARROW_CONV))
    oat = one_at_a_time(sc, trials=1000, seed=0)
    low, high = oat.bookings["win"]
    ratio = high.mean() / low.mean()
    se = (high - ratio * low).std(ddof=1) / math.sqrt(len(low)) / low.mean()  # delta method, paired
    assert abs(ratio - 0.35 / 0.15) < 4 * se
    assert oat.rows[0]["mean"]["swing"] == pytest.approx(high.mean() - low.mean())


def test_standardized_regression_known_answer():
    # y = 3 a + b + noise with independent standard normals: SRC = 3/sqrt(11), 1/sqrt(11), R^2 = 10/11.
    rng = np.random.default_rng(0)
    n = 4000
    a, b, e = rng.standard_normal((3, n))
    y = 3 * a + b + e
    ds = xr.Dataset(
        {
            "assumption": (("trial", "parameter", "source"), np.stack([a, b], 1)[:, :, None]),
            "bookings_amount": (("trial", "period", "source"), y[:, None, None]),
            "market_factor": ("trial", np.zeros(n)),
        },
        coords={"trial": np.arange(n), "parameter": ["a", "b"], "source": ["x"], "period": ["2026"]},
        attrs={"dimensions": json.dumps(["source"])},
    )
    d = drawn_sensitivity(ds, method="linear")
    coef = {c["group"]: c["coefficient"] for c in d.columns}
    boot = []
    for _ in range(100):
        i = rng.integers(0, n, n)
        sub = ds.isel(trial=i).assign_coords(trial=np.arange(n))
        boot.append([c["coefficient"] for c in drawn_sensitivity(sub, method="linear").columns])
    se = np.std(boot, axis=0, ddof=1)
    assert abs(coef["a"] - 3 / math.sqrt(11)) < 4 * se[0]
    assert abs(coef["b"] - 1 / math.sqrt(11)) < 4 * se[1]
    assert d.rows[0]["name"] == "a" and d.rows[0]["importance"] == pytest.approx(coef["a"] ** 2)
    # Asymptotic s.e. of R^2 (normal data): 2 R (1 - R^2) / sqrt(n).
    assert abs(d.r_squared - 10 / 11) < 4 * 2 * math.sqrt(10 / 11) * (1 / 11) / math.sqrt(n)


def test_variance_contributions_add_to_one_and_split_independent_cells_by_volume():
    # Independent cells (no shared assumption, no market factor): bookings per cell are compound
    # Poisson, variance proportional to the deal rate, so a cell with twice the deals holds 2/3.
    sc = simcore.scenario_from_dict(plan(counts=(200, 100)))
    ds = simcore.simulate(sc, 4000, seed=0, progress=False)
    v = variance_contributions(ds)
    assert float(v.sum()) == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(0)
    boot = [
        float(variance_contributions(ds.isel(trial=rng.integers(0, 4000, 4000))).sel(source="inbound"))
        for _ in range(100)
    ]
    assert abs(float(v.sel(source="inbound")) - 2 / 3) < 4 * np.std(boot, ddof=1)


def test_default_scenario_market_factor_and_cells():
    sc = simcore.load_scenario("scenarios/fy2026.toml")
    ds = simcore.simulate(sc, 1500, seed=0, progress=False)
    d = drawn_sensitivity(ds, sc)
    assert d.rows[0]["name"] == "market_factor"  # the shared factor beats 16 independent per-cell draws
    v = variance_contributions(ds)
    assert v.dims == ("source", "product") and float(v.sum()) == pytest.approx(1.0)


def test_cli_sensitivity(capsys):
    assert (
        main(["sensitivity", "scenarios/fy2026.toml", "--trials", "300", "--oat-trials", "150", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert {"drawn", "one_at_a_time", "variance_by_cell", "variance_by_source"} <= set(out)
    assert sum(out["variance_by_source"].values()) == pytest.approx(1.0)
    assert (
        main(
            [
                "sensitivity",
                "scenarios/fy2026.toml",
                "--trials",
                "300",
                "--oat-trials",
                "150",
                "--by",
                "source",
            ]
        )
        == 0
    )
    assert "to_decision [inbound]" in capsys.readouterr().out
    assert main(["sensitivity", "scenarios/fy2026.toml", "--by", "region"]) == 2


def test_a_swing_run_is_the_override_run():
    # Setting win to its low in every cell is the same run as --set defaults.decision.win=0.15.
    sc = simcore.scenario_from_dict(plan(win=WIDE_WIN, to_decision=NARROW_CONV))
    oat = one_at_a_time(sc, trials=200, seed=0)
    low = simcore.simulate(sc.with_overrides({"defaults.decision.win": 0.15}), 200, seed=0, progress=False)
    assert np.array_equal(oat.bookings["win"][0], low.simcore.year_bookings().values)
