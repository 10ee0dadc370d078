"""The remaining dwell of a bank deal of known age in its stage, against the closed form.

A deal ``age`` days into a stage whose dwell is ``D`` has ``D - age`` left, given ``D > age``:
its CDF is ``1 - S(age + x) / S(age)`` with ``S`` the dwell's survival function. Each family is
checked by a KS test at alpha 0.01, retried once with a fresh seed, both on the kernel's draw
alone and end to end through :func:`simcore.simulate` (a bank deal that starts at the as-of
day and is won at its decision: its cycle time is its age plus the drawn remaining dwell).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from helpers import build, retry_test, small_raw
from scipy import stats

import simcore
from simcore.engine.compile import compile_scenario
from simcore.engine.kernel import (
    DIST_EXPONENTIAL,
    DIST_FIXED,
    DIST_GAMMA,
    DIST_LOGNORMAL,
    TABLE_ROW,
    _aged_dwell,
)
from simcore.engine.rng import mix64, uniform
from simcore.engine.tables import _lognormal_sigma, _Tables

N = 3000


def _dwell_dist(kind, mean, cv):
    if kind == DIST_LOGNORMAL:
        s = _lognormal_sigma(cv)
        return stats.lognorm(s=s, scale=mean * math.exp(-0.5 * s * s))
    if kind == DIST_GAMMA:
        k = 1.0 / (cv * cv)
        return stats.gamma(a=k, scale=mean / k)
    return stats.expon(scale=mean)


def _residual_cdf(dist, age):
    return lambda x: 1.0 - dist.sf(age + np.asarray(x)) / dist.sf(age)


def _draws(kind, mean, cv, age, seed, n=N):
    tables = _Tables()
    s = _lognormal_sigma(cv)
    off = tables.row(s, -0.5 * s * s) * TABLE_ROW
    return _loop(kind, mean, cv, tables.array().ravel(), off, age, seed, n)


@numba.njit
def _loop(kind, mean, cv, tab, off, age, seed, n):
    out = np.empty(n)
    for i in range(n):
        # As the kernel does: one word gives the uniform, further words of the key the rest.
        key = mix64(np.uint64(seed) * np.uint64(1_000_003) + np.uint64(i + 1))
        out[i], _ = _aged_dwell(key, 1, kind, mean, cv, tab, off, age, uniform(key, 0))
    return out


@pytest.mark.parametrize(
    "kind, cv, age",
    [
        (DIST_LOGNORMAL, 0.8, 10.0),  # younger than typical
        (DIST_LOGNORMAL, 0.5, 80.0),  # 80 days into a stage whose dwell is typically 30
        (DIST_LOGNORMAL, 0.3, 200.0),  # far out in the tail
        (DIST_GAMMA, 0.5, 12.0),  # shape 4, below the mean: rejection of fresh draws
        (DIST_GAMMA, 0.5, 80.0),  # shape 4, beyond the mean: exponential proposal
        (DIST_GAMMA, 1.6, 5.0),  # shape below one
        (DIST_GAMMA, 1.6, 90.0),
        (DIST_EXPONENTIAL, 1.0, 55.0),  # memoryless
    ],
)
def test_remaining_dwell_is_the_conditional_distribution(kind, cv, age):
    dist = _dwell_dist(kind, 30.0, cv)
    cdf = _residual_cdf(dist, age)

    def check(seed):
        x = _draws(kind, 30.0, cv, age, seed)
        assert (x >= 0).all()
        return stats.kstest(x, cdf).pvalue

    retry_test(check, seeds=(1, 2))


def test_the_test_sees_an_unconditioned_dwell():
    # The same KS test rejects the fresh dwell (what ignoring the age would draw).
    dist = _dwell_dist(DIST_LOGNORMAL, 30.0, 0.5)
    fresh = dist.rvs(size=N, random_state=np.random.default_rng(0))
    assert stats.kstest(fresh, _residual_cdf(dist, 80.0)).pvalue < 1e-6


def test_fixed_dwell_is_what_is_left_or_due_now():
    assert _draws(DIST_FIXED, 30.0, 0.0, 12.0, 0, n=3).tolist() == [18.0] * 3
    assert _draws(DIST_FIXED, 30.0, 0.0, 45.0, 0, n=3).tolist() == [0.0] * 3


def _one_bank_deal_scenario(dist, cv):
    raw = small_raw(n_stages=2, horizon_weeks=104, period="month", count_per_year=0.0)
    raw["defaults"]["decision"].update({"win": 1.0, "dwell": {"dist": dist, "mean": 30.0, "cv": cv}})
    # A plan needs something to simulate; the test replaces this bank by its own.
    raw["bank"] = {"aggregate": [{"source": "inbound", "stage": "Stage 2", "dollars": 50_000, "count": 1}]}
    return build(raw)


@pytest.mark.parametrize("dist, kind, cv", [("lognormal", DIST_LOGNORMAL, 0.8), ("gamma", DIST_GAMMA, 0.7)])
def test_an_aged_bank_deal_closes_after_its_conditioned_dwell(dist, kind, cv):
    # One bank deal at the decision stage, starting on day 100, 70 days into the stage and
    # created then: every trial wins it once, at 100 + the remaining dwell.
    sc = _one_bank_deal_scenario(dist, cv)
    age, start = 70.0, 100.0
    model = compile_scenario(sc).with_bank(
        [0], [1], [50_000.0], created=[start - age], start=start, age=[age]
    )
    cdf = _residual_cdf(_dwell_dist(kind, 30.0, cv), age)

    def check(seed):
        ds = simcore.simulate(sc, trials=N, seed=seed, model=model, progress=False)
        assert (ds.bookings_count.sum(["period", "source"]) == 1).all()
        cycle = ds.won_cycle_days.sum(["period", "source"]).values
        return stats.kstest(cycle - age, cdf).pvalue

    retry_test(check, seeds=(3, 4))


def test_unknown_age_keeps_the_renewal_residual_and_start_zero_keeps_the_bits():
    sc = simcore.load_scenario("scenarios/smb.toml")
    model = compile_scenario(sc)
    same = model.with_bank(
        model.bank_cell, model.bank_stage, model.bank_amount, model.bank_created, model.bank_close
    )
    a = simcore.simulate(sc, trials=200, seed=5, progress=False)
    b = simcore.simulate(sc, trials=200, seed=5, model=same, progress=False)
    for name in ("bookings_amount", "bank_amount", "won_cycle_days"):
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_a_bank_that_starts_later_books_nothing_before_it():
    sc = simcore.load_scenario("scenarios/smb.toml")
    model = compile_scenario(sc)
    later = model.without_bank().from_day(181)  # 2026-07-01
    later = later.with_bank(model.bank_cell, model.bank_stage, model.bank_amount, start=181.0)
    ds = simcore.simulate(sc, trials=100, seed=1, model=later, progress=False)
    by_period = ds.bookings_amount.sum(["trial", "source", "product"]).values
    assert (by_period[:6] == 0).all() and (by_period[6:] > 0).all()
    assert (ds.created_amount.sum(["trial", "source", "product", "stage"]).values[:6] == 0).all()


def test_creation_from_a_day_keeps_the_plans_later_deals():
    # Common random numbers: after the as-of week, the deals are the plan's own, so the
    # count created in each later month is the same in the plan and in the as-of model.
    sc = simcore.load_scenario("scenarios/smb.toml")
    model = compile_scenario(sc).without_bank()
    ds_plan = simcore.simulate(sc, trials=50, seed=2, model=model, progress=False)
    ds_late = simcore.simulate(sc, trials=50, seed=2, model=model.from_day(100), progress=False)
    plan = ds_plan.created_count.isel(stage=0).sum(["source", "product"]).values
    late = ds_late.created_count.isel(stage=0).sum(["source", "product"]).values
    np.testing.assert_array_equal(plan[:, 4:], late[:, 4:])  # May on (day 100 is April 11)
    assert (late[:, :3] == 0).all() and (late[:, 3] < plan[:, 3]).all()


def test_bad_bank_arrays_are_refused():
    model = compile_scenario(simcore.load_scenario("scenarios/smb.toml"))
    with pytest.raises(simcore.SimcoreError, match="outside the horizon"):
        model.with_bank([0], [0], [10_000.0], start=400.0)
    with pytest.raises(simcore.SimcoreError, match="stage index"):
        model.with_bank([0], [7], [10_000.0])
    with pytest.raises(simcore.SimcoreError, match="values for"):
        model.with_bank([0, 1], [0, 0], [10_000.0])


@pytest.mark.parametrize("taken", [1, 2])
def test_a_bank_deal_that_has_pushed_keeps_its_decayed_win_chance(taken):
    # Win 0.5, push 0.2, decay 0.8, at most 2 pushes; every deal decides on day 20 (its close
    # date) and any push is decided long before the horizon. With k pushes already taken the
    # next decision wins w d^k and may push only while fewer than 2 are taken, so
    # P(won) = w d (1 + p d) after one push and w d^2 after two.
    raw = small_raw(n_stages=2, horizon_weeks=52, period="quarter", count_per_year=0.0)
    raw["defaults"]["decision"].update(
        {
            "win": 0.5,
            "push": 0.2,
            "lost_competition_share": 0.5,
            "win_decay": 0.8,
            "max_pushes": 2,
            "push_delay": {"dist": "fixed", "mean": 10.0},
        }
    )
    raw["bank"] = {"aggregate": [{"source": "inbound", "stage": "Stage 2", "dollars": 50_000, "count": 1}]}
    sc = build(raw)
    n = 2000
    model = compile_scenario(sc).with_bank(
        np.zeros(n, dtype=np.int64),
        np.ones(n, dtype=np.int64),
        np.full(n, 50_000.0),
        close=np.full(n, 20.0),
        start=10.0,
        pushes=np.full(n, taken),
    )
    w, p, d = 0.5, 0.2, 0.8
    expected = w * d * (1 + p * d) if taken == 1 else w * d * d
    ds = simcore.simulate(sc, trials=20, seed=9, model=model, progress=False)
    won = float(ds.bookings_count.sum().values) / (20 * n)
    se = math.sqrt(expected * (1 - expected) / (20 * n))
    assert abs(won - expected) < 4 * se, (won, expected, se)
    with pytest.raises(simcore.SimcoreError, match="pushes"):
        compile_scenario(sc).with_bank([0], [1], [50_000.0], pushes=[-1])
