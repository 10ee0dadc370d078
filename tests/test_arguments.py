"""Bad arguments to the Python API give a SimcoreError that names the argument: never an
AttributeError, KeyError, IndexError or numpy error from further down, and never a silently
wrong answer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

import simcore
from simcore import SimcoreError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sc():
    return simcore.load_scenario(ROOT / "scenarios" / "fy2026.toml")


@pytest.fixture(scope="module")
def ds(sc):
    return simcore.simulate(sc, trials=60, seed=1, progress=False)


CASES = {
    "simulate a path": (
        lambda sc, ds: simcore.simulate("scenarios/fy2026.toml", trials=10),
        "expected a Scenario from simcore.load_scenario, got str 'scenarios/fy2026.toml': load it first",
    ),
    "simulate None": (lambda sc, ds: simcore.simulate(None), "expected a Scenario"),
    "compile, unknown period": (
        lambda sc, ds: simcore.compile_scenario(sc, "decade"),
        "period must be week, month or quarter, got 'decade'",
    ),
    "converge by year": (
        lambda sc, ds: simcore.simulate_to_precision(sc, period="year", chunk=10, max_trials=10),
        "period must be week, month or quarter, got 'year'",
    ),
    "converge, precision text": (
        lambda sc, ds: simcore.simulate_to_precision(sc, precision="1%"),
        "precision must be a number, got '1%'",
    ),
    "one at a time, unknown period": (
        lambda sc, ds: simcore.one_at_a_time(sc, trials=20, period="fortnight"),
        "period must be week, month or quarter",
    ),
    "metrics, stage index out of range": (
        lambda sc, ds: simcore.forecast_metrics(ds, by=(), from_stage=9),
        "stage index 9 is out of range: there are 4 stages",
    ),
    "metrics, unknown stage": (
        lambda sc, ds: simcore.forecast_metrics(ds, from_stage="Stage 9"),
        "unknown stage 'Stage 9'; the stages are Stage 1, Stage 2, Stage 3, Stage 4",
    ),
    "metrics of None": (
        lambda sc, ds: simcore.forecast_metrics(None),
        "expected a Dataset returned by simcore.simulate",
    ),
    "sensitivity of None": (lambda sc, ds: simcore.drawn_sensitivity(None), "expected a Dataset"),
    "headline errors, level 2": (
        lambda sc, ds: simcore.headline_errors(ds, level=2),
        "level must be in (0, 1), got 2",
    ),
    "accessor, unknown stage": (
        lambda sc, ds: ds.simcore.stage_created("Stage 9"),
        "unknown stage 'Stage 9'",
    ),
    "accessor, stage index": (lambda sc, ds: ds.simcore.stage_created(9), "stage index 9 is out of range"),
    "accessor, text target": (lambda sc, ds: ds.simcore.p_hit("abc"), "target must be a number, got 'abc'"),
    "summary, text target": (lambda sc, ds: ds.simcore.summary(target="x"), "target must be a number"),
    "accessor, unknown variable": (
        lambda sc, ds: ds.simcore.total("nope"),
        "no variable 'nope' in this Dataset",
    ),
    "funnel, negative bookings": (
        lambda sc, ds: simcore.funnel(sc, bookings=-5),
        "bookings must be >= 0, got -5",
    ),
    "funnel, text bookings": (lambda sc, ds: simcore.funnel(sc, bookings="abc"), "bookings must be a number"),
    "funnel, text date": (
        lambda sc, ds: simcore.funnel(sc, current_bank=1e6, current_bank_date="2025-10-01"),
        "current_bank_date must be a datetime.date, got '2025-10-01'",
    ),
    "compare, one string": (
        lambda sc, ds: simcore.compare(sc, "Base,Stretch", trials=50),
        "variants must be a list of names, e.g. ['Base', 'Stretch']",
    ),
    "optimize, negative verify trials": (
        lambda sc, ds: simcore.optimize(sc, trials=100, verify_trials=-1),
        "verify_trials must be a whole number >= 0, got -1",
    ),
    "optimize, unknown dimension": (
        lambda sc, ds: simcore.optimize(sc, dimension="region", trials=100),
        "the scenario has no dimension 'region' to plan by; it has source, product",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_argument_names_itself(case, sc, ds):
    call, words = CASES[case]
    with pytest.raises(SimcoreError) as info:
        call(sc, ds)
    assert words in str(info.value)


def test_stage_by_numpy_integer_or_negative_index(ds):
    by_name = float(simcore.forecast_metrics(ds, by=(), from_stage="Stage 4").close_rate)
    for stage in (np.int64(3), 3, -1):
        assert float(simcore.forecast_metrics(ds, by=(), from_stage=stage).close_rate) == by_name
    first = ds.simcore.stage_created("Stage 1")
    assert (ds.simcore.stage_created(np.int64(0)) == first).all()


def test_funnel_with_a_date_still_works(sc):
    fun = simcore.funnel(sc, current_bank=1e6, current_bank_date=dt.date(2025, 12, 1))
    assert fun.stage4_created_needed > 0


SMALL_CASES = {
    "forecast, unknown category": (
        lambda: simcore.category_weighted_forecast({"comit": 1e6}, {"comit": 0.9}),
        "unknown forecast category 'comit'",
    ),
    "forecast, negative dollars": (
        lambda: simcore.category_weighted_forecast({"commit": -1}, {"commit": 0.9}),
        "bank['commit'] must be >= 0",
    ),
    "forecast, text conversion": (
        lambda: simcore.category_weighted_forecast({"commit": 1}, {"commit": "a"}),
        "conversion of 'commit' must be a number",
    ),
    "forecast, created conversion 2": (
        lambda: simcore.category_weighted_forecast({"commit": 1e6}, {"commit": 0.9}, 1e6, 2.0),
        "created_conversion must be between 0 and 1, got 2.0",
    ),
    "pacing, negative plan": (lambda: simcore.pacing(-40, 15, 15, 30), "planned must be >= 0, got -40"),
    "pacing, NaN plan": (lambda: simcore.pacing(float("nan"), 15, 15, 30), "planned must be a finite number"),
}


@pytest.mark.parametrize("case", list(SMALL_CASES))
def test_bad_argument_to_a_small_function(case):
    call, words = SMALL_CASES[case]
    with pytest.raises(SimcoreError) as info:
        call()
    assert words in str(info.value)


def test_coverage_is_of_dollars(ds):
    with pytest.raises(SimcoreError, match="measure must be 'amount'"):
        simcore.coverage(ds, measure="count")


def test_more_argument_checks(sc, ds):
    with pytest.raises(SimcoreError, match="no dimension 'region'; the scenario has source, product"):
        sc.cell_index(region="EMEA")
    with pytest.raises(SimcoreError, match="no source 'inbond'"):
        sc.cell_index(source="inbond")
    assert len(sc.cell_index(source="inbound")) == 4
    with pytest.raises(SimcoreError, match="needs at least 2 trials"):
        simcore.variance_contributions(ds.isel(trial=[0]))
    model = simcore.compile_scenario(sc, "quarter")
    with pytest.raises(SimcoreError, match="period 'month' differs from the model's"):
        simcore.simulate(sc, trials=5, period="month", model=model)
    # keep without bookings: they are kept anyway, since the errors are computed from them.
    kept, _ = simcore.simulate_to_precision(sc, chunk=40, max_trials=40, keep=["created_amount"])
    assert "bookings_amount" in kept and "created_amount" in kept
