"""Known-answer tests of the simulation model (docs/model.md) on small purpose-built scenarios.

Every stochastic check compares a Monte-Carlo estimate with a closed form or a hand
computation, with a tolerance of 4 Monte-Carlo standard errors (helpers in
helpers.py); the deterministic scenarios are compared exactly. Horizons are long
and creation happens early, so that no deal is cut off by the end of the plan unless
a test wants that.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest
from helpers import (
    assert_close_se,
    build,
    day,
    retry_test,
    run,
    se_mean,
    se_proportion,
    se_ratio,
    se_variance_of,
    small_raw,
    stage_names,
    write_bank_csv,
)
from scipy import integrate, stats
from scipy.special import expit, logit

import simcore.engine.compile
from simcore.engine.compile import CYCLE_EDGES, compile_scenario
from simcore.scenario.amounts import expected_amount


def total(da, keep=("trial",)):
    """Sum a DataArray over every dim but ``keep``, as a numpy array."""
    return da.sum([d for d in da.dims if d not in keep]).values


# ---------------------------------------------------------------------------------------
# Closed forms of the decision stage (docs/model.md "Life of one opportunity", step 3)


def decision_outcomes(w, p, share, decay, max_pushes):
    """P(won), P(lost to competition), P(lost to no decision), E[pushes] of one deal at the
    decision stage, with no horizon.

    Decision ``n`` (after ``n`` pushes, n = 0..m) is reached with probability p^n: a push
    keeps probability p whatever the decay. There the deal wins with ``w d^n``, is lost to
    competition with the undecayed ``(1 - w - p) x share`` (the decay's removed mass goes
    to no decision, not to competition), and pushes with ``p`` unless ``n = m``, where a
    further push is lost to no decision.
    """
    reach = [p**n for n in range(max_pushes + 1)]
    won = sum(r * w * decay**n for n, r in enumerate(reach))
    lost_comp = sum(r * (1.0 - w - p) * share for r in reach)
    pushes = sum(reach[1:])
    return won, lost_comp, 1.0 - won - lost_comp, pushes


def test_decision_closed_form_by_hand():
    # w=.3, p=.3, lc=.2, d=.8, m=1: won = .3 + .3*.3*.8; lost comp = .2 + .3*.2.
    won, lc, lnd, pushes = decision_outcomes(0.3, 0.3, 0.5, 0.8, 1)
    assert won == pytest.approx(0.3 + 0.072)
    assert lc == pytest.approx(0.2 + 0.06)
    # no decision: .2 at the first decision, then at the second .2 + decay's .06 + the push's .3
    assert lnd == pytest.approx(0.2 + 0.3 * (0.2 + 0.3 * 0.2 + 0.3))
    assert pushes == pytest.approx(0.3)
    # Unlimited pushes, no decay: won / decided = w / (w + lc + lnd).
    won, lc, lnd, _ = decision_outcomes(0.25, 0.25, 0.5, 1.0, 200)
    assert won == pytest.approx(0.25 / 0.75)
    assert won + lc + lnd == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------
# 1. Expected bookings = deals x P(reach decision) x P(won) x E[amount at close]

FUNNEL = {
    "advance": (0.6, 0.7, 0.8),
    "growth": (1.1, 1.2, 1.25),
    "win": 0.3,
    "push": 0.3,
    "share": 0.4,
    "decay": 0.8,
    "max_pushes": 2,
    "median": 100_000.0,
    "sigma": 0.8,
    "whale_p": 0.1,
    "whale_lo": 2.0,
    "whale_hi": 5.0,
    "floor": 20_000.0,
    "cap": 1_500_000.0,
    "count": 2000.0,
}


def funnel_raw():
    f = FUNNEL
    raw = small_raw(n_stages=4, horizon_weeks=156, count_per_year=f["count"])
    names = stage_names(4)
    d = raw["defaults"]
    for s, name in enumerate(names[:-1]):
        d["stages"][name] = {
            "advance": f["advance"][s],
            "growth": f["growth"][s],
            "dwell": {"dist": "lognormal", "mean": 10.0, "cv": 0.5},
        }
    d["decision"] = {
        "win": f["win"],
        "push": f["push"],
        "lost_competition_share": f["share"],
        "win_decay": f["decay"],
        "max_pushes": f["max_pushes"],
        "dwell": {"dist": "lognormal", "mean": 15.0, "cv": 0.5},
        "push_delay": {"dist": "gamma", "mean": 20.0, "cv": 0.5},
    }
    d["amount"] = {
        "median": f["median"],
        "sigma": f["sigma"],
        "whale_probability": f["whale_p"],
        "whale_factor": f["whale_lo"],
        "whale_factor_max": f["whale_hi"],
        "floor": f["floor"],
        "cap": f["cap"],
    }
    return raw


@pytest.fixture(scope="module")
def funnel():
    sc = build(funnel_raw())
    return sc, run(sc, 2000, seed=0)


def test_expected_deals_is_the_plan(funnel):
    sc, ds = funnel
    model = compile_scenario(sc)
    assert model.creation_rate.sum() == pytest.approx(FUNNEL["count"], rel=1e-12)
    created = total(ds.created_count.sel(stage="Stage 1"))
    assert_close_se(
        created.mean(), FUNNEL["count"], math.sqrt(FUNNEL["count"] / created.size), what="deals created"
    )


def test_expected_bookings_closed_form(funnel):
    sc, ds = funnel
    f = FUNNEL
    reach = float(np.prod(f["advance"]))
    won, _, _, _ = decision_outcomes(f["win"], f["push"], f["share"], f["decay"], f["max_pushes"])
    mean_at_close = expected_amount(sc.params[0].amount) * float(np.prod(f["growth"]))
    bookings = total(ds.bookings_amount)
    assert_close_se(
        bookings.mean(),
        f["count"] * reach * won * mean_at_close,
        se_mean(bookings),
        what="expected bookings (dollars)",
    )
    booked = total(ds.bookings_count)
    assert_close_se(
        booked.mean(), f["count"] * reach * won, se_mean(booked), what="expected bookings (deals)"
    )


def test_decision_outcomes_with_push_decay_and_max_pushes(funnel):
    _, ds = funnel
    f = FUNNEL
    won, lost_comp, lost_nd, pushes = decision_outcomes(
        f["win"], f["push"], f["share"], f["decay"], f["max_pushes"]
    )
    at_decision = total(ds.created_count.sel(stage="Stage 4")).sum()
    lost = ds.lost_count.sel(stage="Stage 4")
    observed = {
        "won": total(ds.bookings_count).sum(),
        "lost_competition": total(lost.sel(reason="competition")).sum(),
        "lost_no_decision": total(lost.sel(reason="no_decision")).sum(),
    }
    expected = {"won": won, "lost_competition": lost_comp, "lost_no_decision": lost_nd}
    for name, p in expected.items():
        assert_close_se(observed[name] / at_decision, p, se_proportion(p, at_decision), what=name)
    # Pushes per deal: 0, 1 or 2, with P(>= n) = p^n; its variance gives the SE.
    var_pushes = f["push"] + 3 * f["push"] ** 2 - pushes**2
    assert_close_se(
        total(ds.pushes_count).sum() / at_decision,
        pushes,
        math.sqrt(var_pushes / at_decision),
        what="pushes per deal",
    )
    # Won deals' pushes: E[n | won] = sum n p^n w d^n / P(won).
    won_at = [f["push"] ** n * f["win"] * f["decay"] ** n for n in range(f["max_pushes"] + 1)]
    won_pushes = sum(n * x for n, x in enumerate(won_at)) / won
    mean_sq = sum(n * n * x for n, x in enumerate(won_at)) / won
    n_won = observed["won"]
    assert_close_se(
        total(ds.won_pushes).sum() / n_won,
        won_pushes,
        math.sqrt((mean_sq - won_pushes**2) / n_won),
        what="pushes taken by won deals",
    )


def test_stage_conversion_and_losses(funnel):
    _, ds = funnel
    f = FUNNEL
    created = [total(ds.created_count.sel(stage=s)).sum() for s in stage_names(4)]
    for s in range(3):
        a = f["advance"][s]
        assert_close_se(
            created[s + 1] / created[s],
            a,
            se_proportion(a, created[s]),
            what=f"advance rate of Stage {s + 1}",
        )
        # Pre-decision losses split by the conversion's lost_competition_share (default 0.5).
        lost = ds.lost_count.sel(stage=f"Stage {s + 1}")
        lc = total(lost.sel(reason="competition")).sum() / created[s]
        assert_close_se(
            lc,
            (1 - a) * 0.5,
            se_proportion((1 - a) * 0.5, created[s]),
            what=f"lost to competition at Stage {s + 1}",
        )


def test_amount_grows_per_stage(funnel):
    sc, ds = funnel
    mean0 = expected_amount(sc.params[0].amount)
    growth = 1.0
    for s, name in enumerate(stage_names(4)):
        amount = total(ds.created_amount.sel(stage=name))
        count = total(ds.created_count.sel(stage=name))
        assert_close_se(
            amount.sum() / count.sum(),
            mean0 * growth,
            se_ratio(amount, count),
            what=f"mean amount entering {name}",
        )
        if s < 3:
            growth *= FUNNEL["growth"][s]
    # Won deals book their amount at close: the stage-4 amount (growth after Stage 3 included).
    amount, count = total(ds.bookings_amount), total(ds.bookings_count)
    assert_close_se(
        amount.sum() / count.sum(), mean0 * growth, se_ratio(amount, count), what="mean amount booked"
    )


def test_expected_amount_against_numerical_integration():
    f = FUNNEL
    amount = build(funnel_raw()).params[0].amount
    z = np.linspace(-10.0, 10.0, 40_001)
    phi = stats.norm.pdf(z)

    def mean_at(factor):
        """E[clip(median x factor x e^(sigma Z), floor, cap)] by the trapezoid rule over z;
        ``factor`` may be an array (one mean per factor)."""
        factor = np.asarray(factor, dtype=float)[..., None]
        x = np.clip(f["median"] * factor * np.exp(f["sigma"] * z), f["floor"], f["cap"])
        return np.trapezoid(x * phi, z, axis=-1)

    factors = np.linspace(f["whale_lo"], f["whale_hi"], 401)
    whale = integrate.simpson(mean_at(factors), x=factors) / (f["whale_hi"] - f["whale_lo"])
    direct = (1 - f["whale_p"]) * mean_at(1.0) + f["whale_p"] * whale
    assert expected_amount(amount) == pytest.approx(direct, rel=1e-7)
    # Without floor, cap and whales it is the lognormal mean.
    plain = dataclasses.replace(amount, whale_probability=0.0, floor=0.0, cap=math.inf)
    assert expected_amount(plain) == pytest.approx(f["median"] * math.exp(f["sigma"] ** 2 / 2), rel=1e-12)
    # A fixed whale factor: (1 - p) + p x factor on the clipped mean.
    fixed = dataclasses.replace(amount, whale_factor_max=math.nan)
    assert expected_amount(fixed) == pytest.approx(
        (1 - f["whale_p"]) * mean_at(1.0) + f["whale_p"] * mean_at(f["whale_lo"]), rel=1e-7
    )


def test_empirical_amount_mean():
    raw = small_raw(count_per_year=2000)
    sizes = [20_000.0, 50_000.0, 80_000.0, 400_000.0]
    raw["defaults"]["amount"] = {"empirical": sizes}
    sc = build(raw)
    assert expected_amount(sc.params[0].amount) == pytest.approx(np.mean(sizes))
    ds = run(sc, 300, seed=0)
    amount = total(ds.created_amount.sel(stage="Stage 1"))
    count = total(ds.created_count.sel(stage="Stage 1"))
    assert_close_se(
        amount.sum() / count.sum(),
        np.mean(sizes),
        se_ratio(amount, count),
        what="mean of resampled deal sizes",
    )


# ---------------------------------------------------------------------------------------
# 2. Push


def decision_raw(win, push, decay=1.0, max_pushes=3, count=2000.0):
    raw = small_raw(n_stages=2, horizon_weeks=156, count_per_year=count)
    raw["defaults"]["decision"].update(
        win=win, push=push, win_decay=decay, max_pushes=max_pushes, lost_competition_share=0.5
    )
    raw["defaults"]["decision"]["dwell"] = {"dist": "lognormal", "mean": 20.0, "cv": 0.5}
    return raw


def test_zero_push_is_the_no_push_model():
    # With push = 0, the push delay, decay and max_pushes must not matter at all.
    plain = decision_raw(0.3, 0.0, decay=1.0, max_pushes=0)
    other = decision_raw(0.3, 0.0, decay=0.5, max_pushes=5)
    other["defaults"]["decision"]["push_delay"] = {"dist": "gamma", "mean": 70.0, "cv": 1.5}
    del plain["defaults"]["decision"]["push"]  # the default: no push
    a, b = run(build(plain), 300, seed=0), run(build(other), 300, seed=0)
    for name in a.data_vars:
        if name != "assumption":  # records the (unused) decay and delay
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert total(a.pushes_count).sum() == 0
    decided = total(a.bookings_count).sum() + total(a.lost_count.sel(stage="Stage 2")).sum()
    won = total(a.bookings_count).sum() / decided
    assert_close_se(won, 0.3, se_proportion(0.3, decided), what="won fraction with no push")


def test_unlimited_pushes_without_decay_win_w_over_decided():
    # w : lc : lnd : p = .3 : .15 : .15 : .4; every decided deal won with w / (w + lc + lnd) = .5,
    # whatever the horizon cuts off, because a push changes nothing but the time.
    ds = run(build(decision_raw(0.3, 0.4, decay=1.0, max_pushes=1000)), 300, seed=0)
    won = total(ds.bookings_count).sum()
    decided = won + total(ds.lost_count.sel(stage="Stage 2")).sum()
    assert_close_se(won / decided, 0.5, se_proportion(0.5, decided), what="won / decided")
    assert total(ds.pushes_count).sum() > 0


# ---------------------------------------------------------------------------------------
# 3. Whale overlay


@pytest.mark.parametrize(
    "whale", [{"whale_factor": 4.0}, {"whale_factor": 3.0, "whale_factor_max": 7.0}], ids=["fixed", "uniform"]
)
def test_whale_overlay_moves_the_mean(whale):
    p = 0.15
    factor = (whale["whale_factor"] + whale.get("whale_factor_max", whale["whale_factor"])) / 2
    base = small_raw(count_per_year=2000)
    lumpy = small_raw(count_per_year=2000)
    lumpy["defaults"]["amount"].update(whale_probability=p, **whale)
    a, b = run(build(base), 300, seed=0), run(build(lumpy), 300, seed=0)
    plain = total(a.created_amount.sel(stage="Stage 1"))
    whales = total(b.created_amount.sel(stage="Stage 1"))
    count = total(b.created_count.sel(stage="Stage 1"))
    np.testing.assert_array_equal(count, total(a.created_count.sel(stage="Stage 1")))
    lift = (1 - p) + p * factor
    # Same deals, same base amounts (common random numbers): the ratio is tight.
    assert_close_se(whales.sum() / plain.sum(), lift, se_ratio(whales, plain), what="whale lift")
    lognormal_mean = 100_000.0 * math.exp(0.5**2 / 2)
    assert_close_se(
        whales.sum() / count.sum(),
        lognormal_mean * lift,
        se_ratio(whales, count),
        what="mean amount with whales",
    )
    assert expected_amount(build(lumpy).params[0].amount) == pytest.approx(lognormal_mean * lift, rel=1e-9)


# ---------------------------------------------------------------------------------------
# 4. Creation


def weekly_raw(process="poisson", dispersion=None, per_week=20.0):
    raw = small_raw(horizon_weeks=52, period="week")
    cr = {"per": "week", "count": per_week, "process": process}
    if dispersion is not None:
        cr["dispersion"] = dispersion
    raw["defaults"]["creation"] = cr
    return raw


def weekly_counts(ds):
    return ds.created_count.sel(stage="Stage 1").sum("source").values.ravel()


def test_poisson_creation_mean_and_variance_per_week():
    lam = 20.0
    counts = weekly_counts(run(build(weekly_raw()), 200, seed=0))
    assert counts.size == 200 * 52
    assert_close_se(counts.mean(), lam, math.sqrt(lam / counts.size), what="Poisson mean")
    # Var(s^2) of a Poisson sample = (mu4 - sigma^4) / n = (lam + 2 lam^2) / n.
    assert_close_se(
        counts.var(ddof=1), lam, math.sqrt((lam + 2 * lam * lam) / counts.size), what="Poisson variance"
    )


def test_negative_binomial_variance():
    lam, size = 20.0, 5.0
    counts = weekly_counts(run(build(weekly_raw("negative_binomial", size)), 200, seed=0))
    assert_close_se(counts.mean(), lam, math.sqrt((lam + lam * lam / size) / counts.size), what="NB mean")
    nb = stats.nbinom(size, size / (size + lam))
    assert_close_se(counts.var(ddof=1), nb.var(), se_variance_of(nb, counts.size), what="NB variance")
    assert nb.var() == pytest.approx(lam + lam * lam / size)


MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)


def expected_created_by_period(model):
    """Expected new deals per reporting period under docs/model.md's rule: each week's expected
    count, with creation times uniform within the week (so a week that straddles two
    months splits by days, not by the two months' plans)."""
    starts = model.periods.start_day
    out = np.zeros((model.creation_rate.shape[0], len(starts) - 1))
    for w, (w0, length) in enumerate(zip(model.week_start, model.week_length)):
        for i in range(len(starts) - 1):
            overlap = max(0.0, min(w0 + length, starts[i + 1]) - max(w0, starts[i]))
            out[:, i] += model.creation_rate[:, w] * overlap / length
    return out


def calendar_year_raw(creation, period):
    raw = small_raw(period=period)
    del raw["horizon_weeks"]
    raw["end"] = dt.date(2026, 12, 31)
    raw["defaults"]["creation"] = creation
    return raw


def test_seasonality_moves_pipeline_between_months_not_the_annual_total():
    season = [2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 1.0, 1.0, 1.0, 1.5]
    sc = build(calendar_year_raw({"per": "year", "count": 1200.0, "seasonality": season}, "month"))
    model = compile_scenario(sc)
    assert model.creation_rate.sum() == pytest.approx(1200.0, rel=1e-12)
    # Each day gets the index of its month: a month's plan is its days x index.
    weight = MONTH_DAYS * np.array(season)
    plan = 1200.0 * weight / weight.sum()
    daily = simcore.engine.compile.daily_plan(sc, 0)
    month_ends = np.cumsum(MONTH_DAYS).astype(int)
    np.testing.assert_allclose(np.add.reduceat(daily, np.r_[0, month_ends[:-1]]), plan, rtol=1e-12)
    expected = expected_created_by_period(model)[0]
    assert expected.sum() == pytest.approx(1200.0, rel=1e-12)
    counts = run(sc, 300, seed=0).created_count.sel(stage="Stage 1").sum("source").values
    for m in range(12):
        assert_close_se(counts[:, m].mean(), expected[m], math.sqrt(expected[m] / 300), what=f"month {m + 1}")
    assert_close_se(counts.sum(axis=1).mean(), 1200.0, math.sqrt(1200.0 / 300), what="annual total")
    flat = compile_scenario(build(calendar_year_raw({"per": "year", "count": 1200.0}, "month")))
    assert flat.creation_rate.sum() == pytest.approx(1200.0, rel=1e-12)


@pytest.mark.parametrize(
    "per,values",
    [
        ("quarter", [100.0, 200.0, 300.0, 400.0]),
        ("month", [50.0, 10.0, 30.0, 0.0, 80.0, 40.0, 40.0, 60.0, 20.0, 90.0, 30.0, 50.0]),
    ],
)
def test_plan_given_per_period_as_a_list(per, values):
    sc = build(calendar_year_raw({"per": per, "count": values}, per))
    model = compile_scenario(sc)
    assert model.creation_rate.sum() == pytest.approx(sum(values), rel=1e-12)
    expected = expected_created_by_period(model)[0]
    counts = run(sc, 300, seed=0).created_count.sel(stage="Stage 1").sum("source").values
    for i, v in enumerate(expected):
        # Only the two boundary weeks move deals between periods: at most 6 days each.
        assert abs(v - values[i]) <= 2 * 6 * max(values) / model.periods.full_days.min()
        assert_close_se(counts[:, i].mean(), v, math.sqrt(v / 300), what=f"{per} {i + 1}")


def test_dollar_plan_becomes_a_count_via_the_mean_amount():
    dollars = 60_000_000.0
    raw = small_raw()
    raw["defaults"]["amount"].update(whale_probability=0.1, whale_factor=3.0, floor=30_000.0)
    raw["defaults"]["creation"] = {"per": "year", "dollars": [dollars, 0.0]}
    sc = build(raw)
    mean_amount = expected_amount(sc.params[0].amount)
    ds = run(sc, 300, seed=0)
    count = total(ds.created_count.sel(stage="Stage 1"))
    n = dollars / mean_amount
    assert_close_se(count.mean(), n, math.sqrt(n / count.size), what="deals from a dollar plan")
    amount = total(ds.created_amount.sel(stage="Stage 1"))
    assert_close_se(amount.mean(), dollars, se_mean(amount), what="dollars created")


@pytest.mark.parametrize("own_rate", [None, 0.9], ids=["all-free", "one-stage-given"])
def test_cumulative_conversion_splits_geometrically(own_rate):
    raw = small_raw(count_per_year=3000)
    for name in stage_names(4)[:-1]:
        del raw["defaults"]["stages"][name]["advance"]
    raw["defaults"]["conversion"] = {"to_decision": 0.5}
    free = 3
    if own_rate is not None:
        raw["defaults"]["stages"]["Stage 2"]["advance"] = own_rate
        free = 2
    per_stage = (0.5 / (own_rate or 1.0)) ** (1.0 / free)
    ds = run(build(raw), 200, seed=0)
    created = [total(ds.created_count.sel(stage=s)).sum() for s in stage_names(4)]
    assert_close_se(created[3] / created[0], 0.5, se_proportion(0.5, created[0]), what="stage 1 -> 4")
    rates = [per_stage, own_rate or per_stage, per_stage]
    for s in range(3):
        assert_close_se(
            created[s + 1] / created[s],
            rates[s],
            se_proportion(rates[s], created[s]),
            what=f"advance of Stage {s + 1}",
        )
        # The drawn-assumptions output gives the rate in effect, not a placeholder.
        np.testing.assert_allclose(
            ds.assumption.sel(parameter=f"advance[Stage {s + 1}]"), rates[s], rtol=1e-12
        )


def test_assumption_output_gives_each_trials_rate_from_an_uncertain_conversion():
    raw = small_raw(count_per_year=10)
    for name in stage_names(4)[:-1]:
        del raw["defaults"]["stages"][name]["advance"]
    raw["defaults"]["conversion"] = {"to_decision": {"low": 0.3, "base": 0.5, "high": 0.6}}
    ds = run(build(raw), 50, seed=3)
    a = ds.assumption
    drawn = ds.assumption_drawn
    assert drawn.sel(parameter="to_decision").all() and not drawn.sel(parameter="advance[Stage 1]").any()
    conversion = a.sel(parameter="to_decision").values
    per_stage = [a.sel(parameter=f"advance[Stage {s}]").values for s in (1, 2, 3)]
    np.testing.assert_allclose(per_stage[0] * per_stage[1] * per_stage[2], conversion, rtol=1e-12)
    np.testing.assert_allclose(per_stage[0], conversion ** (1 / 3), rtol=1e-12)
    assert conversion.std() > 0.02


# ---------------------------------------------------------------------------------------
# 5. Dwell


def test_fixed_dwells_give_a_deterministic_cycle_time():
    raw = small_raw(count_per_year=500)
    for name, mean in zip(stage_names(4)[:-1], (10.0, 20.0, 30.0)):
        raw["defaults"]["stages"][name]["dwell"]["mean"] = mean
    dec = raw["defaults"]["decision"]
    dec.update(win=0.5, push=0.3, max_pushes=3)
    dec["dwell"]["mean"] = 15.0
    dec["push_delay"]["mean"] = 25.0
    ds = run(build(raw), 50, seed=0)
    won = total(ds.won_cycle_count).sum()
    assert won == total(ds.bookings_count).sum() > 0
    # Each won deal took 10 + 20 + 30 + 15 days, plus 25 per push.
    expected = 75.0 * won + 25.0 * total(ds.won_pushes).sum()
    assert total(ds.won_cycle_days).sum() == pytest.approx(expected, rel=1e-12)
    # Without pushes every won deal is in the 60-90 day bin.
    dec["push"] = 0.0
    ds = run(build(raw), 50, seed=0)
    hist = ds.cycle_time_count.sum(["trial", "source"])
    assert hist.sel(cycle_bin="60-90d") == hist.sum() == total(ds.bookings_count).sum()
    assert total(ds.won_cycle_days).sum() == pytest.approx(75.0 * hist.sum().item(), rel=1e-12)


DWELL_FAMILIES = {
    "lognormal": (
        {"dist": "lognormal", "mean": 40.0, "cv": 0.6},
        stats.lognorm(math.sqrt(math.log1p(0.36)), scale=40.0 * math.exp(-math.log1p(0.36) / 2)),
    ),
    "gamma": ({"dist": "gamma", "mean": 40.0, "cv": 0.6}, stats.gamma(1 / 0.36, scale=40.0 * 0.36)),
    "exponential": ({"dist": "exponential", "mean": 40.0}, stats.expon(scale=40.0)),
}


def chi_square_p(observed, dist, scale=1.0):
    """p-value of binned cycle times against ``dist`` (bins with expected < 5 merged into the last kept)."""
    cdf = dist.cdf(CYCLE_EDGES / scale)
    expected = np.diff(cdf) * observed.sum()
    obs, exp = [], []
    for o, e in zip(observed, expected):
        if exp and exp[-1] < 5:
            obs[-1] += o
            exp[-1] += e
        else:
            obs.append(o)
            exp.append(e)
    while len(exp) > 1 and exp[-1] < 5:
        obs[-2] += obs.pop()
        exp[-2] += exp.pop()
    return stats.chisquare(obs, np.array(exp) * sum(obs) / sum(exp)).pvalue


def family_raw(bank_dir=None, deals_per_cell=0):
    """One cell per dwell family; deals enter at the decision stage and always win."""
    families = list(DWELL_FAMILIES) + (["fixed"] if bank_dir else [])
    raw = small_raw(n_stages=2, horizon_weeks=104, sources=families, count_per_year=600)
    raw["defaults"]["entry_stage"] = "Stage 2"
    raw["defaults"]["decision"]["win"] = 1.0
    raw["defaults"]["creation"] = {"per": "quarter", "count": [600.0] + [0.0] * 7}
    raw["by"] = {"source": {}}
    for name in families:
        dwell = DWELL_FAMILIES[name][0] if name in DWELL_FAMILIES else {"dist": "fixed", "mean": 40.0}
        raw["by"]["source"][name] = {"decision": {"dwell": dwell}}
    if bank_dir is not None:
        raw["defaults"]["creation"] = {"per": "year", "count": 0.0}
        rows = [
            {"source": name, "stage": "Stage 2", "amount": 1000.0, "created": "2026-01-01"}
            for name in families
            for _ in range(deals_per_cell)
        ]
        raw["bank"] = {"csv": write_bank_csv(bank_dir, rows)}
    return raw


def test_dwell_families_means_and_shapes():
    sc = build(family_raw())

    def check(seed):
        ds = run(sc, 200, seed=seed)
        p_values = []
        for name, (_dwell, dist) in DWELL_FAMILIES.items():
            days = total(ds.won_cycle_days.sel(source=name))
            count = total(ds.won_cycle_count.sel(source=name))
            assert_close_se(days.sum() / count.sum(), 40.0, se_ratio(days, count), what=f"{name} mean dwell")
            hist = ds.cycle_time_count.sel(source=name).sum("trial").values
            p_values.append(chi_square_p(hist, dist))
        # Bonferroni over the three families keeps the test's level at 1%.
        return min(p_values) * len(p_values)

    retry_test(check, seeds=(0, 1))


def test_bank_deals_residual_dwell(tmp_path):
    """A deal found mid-stage has the renewal-theory residual: mean E[D^2] / (2 E[D])."""
    sc = build(family_raw(tmp_path, deals_per_cell=200), base_dir=tmp_path)

    def check(seed):
        ds = run(sc, 200, seed=seed)
        for name in list(DWELL_FAMILIES) + ["fixed"]:
            cv = DWELL_FAMILIES[name][0].get("cv", 1.0) if name in DWELL_FAMILIES else 0.0
            days = total(ds.won_cycle_days.sel(source=name))
            count = total(ds.won_cycle_count.sel(source=name))
            assert count.sum() == 200 * 200
            assert_close_se(
                days.sum() / count.sum(),
                40.0 * (1 + cv * cv) / 2,
                se_ratio(days, count),
                what=f"{name} residual dwell",
            )
        # Memoryless: the residual of an exponential is the same exponential; of a fixed
        # dwell, uniform on [0, dwell].
        p_exp = chi_square_p(
            ds.cycle_time_count.sel(source="exponential").sum("trial").values,
            DWELL_FAMILIES["exponential"][1],
        )
        p_fixed = chi_square_p(
            ds.cycle_time_count.sel(source="fixed").sum("trial").values, stats.uniform(0.0, 40.0)
        )
        return 2 * min(p_exp, p_fixed)

    retry_test(check, seeds=(0, 1))


# ---------------------------------------------------------------------------------------
# 6. Slip, due and bank by hand


def test_slip_due_and_bank_by_hand(tmp_path):
    """Deterministic outcomes, counted by hand (quarters: Q1 = days 0-89, Q2 90-180,
    Q3 181-272, Q4 273-363, the horizon ends at day 364).

    inbound always wins at the decision (Stage 3); outbound always pushes, once at most
    (30 days), then is lost to no decision.
    - D1 inbound, Stage 3, $100, expected close Feb 15 (Q1): won Feb 15.
    - D2 inbound, Stage 3, $300, expected close May 10 (Q2): in the Q1-end bank, due Q2, won May 10.
    - D3 inbound, Stage 2 (best case), $50: residual Stage-2 dwell < 10 days, then 20 days of
      decision: expected close 10 + 20 = day 30, due Q1 as best case, won before day 30.
    - D4 outbound, Stage 3, $200, expected close Mar 22 (day 80, Q1): pushed to day 110,
      so it slipped out of Q1, sits in the Q1-end bank, is due again in Q2 and lost there.
    - D5 outbound, Stage 3, $400, expected close Oct 28 (day 300): in the bank at the end of
      Q1-Q3, due Q4, pushed to day 330 and lost inside Q4 (no slip).
    - D6 outbound, Stage 3, $1000, expected close Dec 17 (day 350): pushed to day 380, past the
      horizon: slipped out of Q4 and in the ending bank.
    """
    raw = small_raw(n_stages=3, horizon_weeks=52, sources=("inbound", "outbound"))
    raw["defaults"]["creation"] = {"per": "year", "count": 0.0}
    raw["defaults"]["decision"].update(win=1.0, push=0.0)
    raw["defaults"]["decision"]["dwell"]["mean"] = 20.0
    raw["by"] = {
        "source": {
            "outbound": {
                "decision": {
                    "win": 0.0,
                    "push": 1.0,
                    "max_pushes": 1,
                    "push_delay": {"dist": "fixed", "mean": 30.0},
                }
            }
        }
    }
    rows = [
        {"source": "inbound", "stage": "Stage 3", "amount": 100, "expected_close": "2026-02-15"},
        {"source": "inbound", "stage": "Stage 3", "amount": 300, "expected_close": "2026-05-10"},
        {"source": "inbound", "stage": "Stage 2", "amount": 50, "created": "2025-12-01"},
        {"source": "outbound", "stage": "Stage 3", "amount": 200, "expected_close": "2026-03-22"},
        {"source": "outbound", "stage": "Stage 3", "amount": 400, "expected_close": "2026-10-28"},
        {"source": "outbound", "stage": "Stage 3", "amount": 1000, "expected_close": "2026-12-17"},
    ]
    assert [day(r["expected_close"]) for r in rows if r.get("expected_close")] == [45, 129, 80, 300, 350]
    raw["bank"] = {"csv": write_bank_csv(tmp_path, rows)}
    ds = run(build(raw, base_dir=tmp_path), 3, seed=0)
    assert list(ds.period.values) == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]

    def amounts(name, **sel):
        """(source, quarter) dollars, identical in every trial."""
        v = ds[name].sel(**sel).transpose("trial", "source", "period").values
        assert (v == v[0]).all(), f"{name} differs between trials"
        return v[0].tolist()

    commit = {"category": "commit"}
    assert ds.starting_bank_amount.sel(trial=0, category="commit").values.tolist() == [400, 1600]
    assert ds.starting_bank_amount.sel(trial=0, category="best_case").values.tolist() == [50, 0]
    assert amounts("due_amount", **commit) == [[100, 300, 0, 0], [200, 200, 0, 1400]]
    assert amounts("due_amount", category="best_case") == [[50, 0, 0, 0], [0, 0, 0, 0]]
    assert amounts("due_count", **commit) == [[1, 1, 0, 0], [1, 1, 0, 2]]
    assert amounts("slipped_amount") == [[0, 0, 0, 0], [200, 0, 0, 1000]]
    assert amounts("slipped_count") == [[0, 0, 0, 0], [1, 0, 0, 1]]
    assert amounts("bank_amount", **commit) == [[300, 0, 0, 0], [1600, 1400, 1400, 1000]]
    assert amounts("bank_count", **commit) == [[1, 0, 0, 0], [3, 2, 2, 1]]
    assert amounts("bank_amount", category="best_case") == [[0] * 4, [0] * 4]
    assert amounts("bookings_amount") == [[150, 300, 0, 0], [0, 0, 0, 0]]
    assert amounts("pushes_amount") == [[0, 0, 0, 0], [200, 0, 0, 1400]]
    assert amounts("pushes_count") == [[0, 0, 0, 0], [1, 0, 0, 2]]
    lost = {"stage": "Stage 3", "reason": "no_decision"}
    assert amounts("lost_amount", **lost) == [[0, 0, 0, 0], [0, 200, 0, 400]]
    assert amounts("created_count", stage="Stage 3") == [[1, 0, 0, 0], [0, 0, 0, 0]]
    assert ds.lost_count.sum().item() == 3 * 2
    # Every booking here comes from the starting bank.
    by_cohort = ds.bookings_by_cohort.sum("source")
    assert (by_cohort.sel(cohort="bank") == ds.bookings_amount.sum("source")).all()
    assert by_cohort.drop_sel(cohort="bank").sum().item() == 0


# ---------------------------------------------------------------------------------------
# 7. Assumption uncertainty


def uncertain_raw():
    raw = small_raw(
        n_stages=2, horizon_weeks=104, sources=("pert", "beta", "pert2", "fixed"), count_per_year=500
    )
    raw["by"] = {
        "source": {
            "pert": {"decision": {"win": {"low": 0.1, "base": 0.25, "high": 0.5}}},
            "pert2": {"decision": {"win": {"low": 0.1, "base": 0.25, "high": 0.5}}},
            "beta": {"decision": {"win": {"mean": 0.3, "strength": 20.0}}},
        }
    }
    return raw


@pytest.fixture(scope="module")
def uncertain():
    return run(build(uncertain_raw()), 1000, seed=0)


def test_pert_and_beta_draws(uncertain):
    win = uncertain.assumption.sel(parameter="win")
    low, mode, high = 0.1, 0.25, 0.5
    pert = win.sel(source="pert").values
    mean = (low + 4 * mode + high) / 6
    var = (mean - low) * (high - mean) / 7
    assert_close_se(pert.mean(), mean, math.sqrt(var / pert.size), what="PERT mean")
    alpha, beta = 1 + 4 * (mode - low) / (high - low), 1 + 4 * (high - mode) / (high - low)
    dist = stats.beta(alpha, beta, loc=low, scale=high - low)
    assert dist.mean() == pytest.approx(mean) and dist.var() == pytest.approx(var)
    assert_close_se(pert.var(ddof=1), var, se_variance_of(dist, pert.size), what="PERT variance")
    b = win.sel(source="beta").values
    m, k = 0.3, 20.0
    assert_close_se(b.mean(), m, math.sqrt(m * (1 - m) / (k + 1) / b.size), what="Beta mean")
    dist = stats.beta(m * k, (1 - m) * k)
    assert dist.var() == pytest.approx(m * (1 - m) / (k + 1))
    assert_close_se(b.var(ddof=1), m * (1 - m) / (k + 1), se_variance_of(dist, b.size), what="Beta variance")
    # A number stays that number in every trial.
    assert (win.sel(source="fixed").values == 0.25).all()
    # Two cells with the same PERT draw independently: correlation ~ 0 (SE 1 / sqrt(T)).
    r = np.corrcoef(pert, win.sel(source="pert2").values)[0, 1]
    assert abs(r) < 4 / math.sqrt(pert.size)


def test_pert_and_beta_draws_ks():
    sc = build(uncertain_raw())
    pert = stats.beta(2.5, 3.5, loc=0.1, scale=0.4)  # PERT(0.1, 0.25, 0.5)
    beta = stats.beta(0.3 * 20, 0.7 * 20)

    def check(seed):
        win = run(sc, 1000, seed=seed).assumption.sel(parameter="win")
        p = [
            stats.kstest(win.sel(source=name).values, dist.cdf).pvalue
            for name, dist in (("pert", pert), ("beta", beta))
        ]
        return 2 * min(p)

    retry_test(check, seeds=(0, 1))


def test_one_draw_per_trial_shared_by_every_deal(uncertain):
    """Given the trial's drawn win w_t, the cell's won count is Binomial(decided_t, w_t):
    standardised, the residuals have mean square 1. Were every deal drawing its own rate,
    the trial's won fraction would sit near the average and the mean square would be ~15."""
    for name in ("pert", "beta", "fixed"):
        cell = uncertain.sel(source=name)
        won = total(cell.bookings_count)
        decided = won + total(cell.lost_count.sel(stage="Stage 2"))
        w = cell.assumption.sel(parameter="win").values
        z2 = (won - decided * w) ** 2 / (decided * w * (1 - w))
        assert_close_se(z2.mean(), 1.0, se_mean(z2), what=f"{name}: mean square of standardised wins")


def test_market_factor_correlates_win_rates_across_cells():
    raw = small_raw(n_stages=2, horizon_weeks=104, sources=("a", "b", "c", "d"), count_per_year=500)
    raw["by"] = {"source": {"a": {"market_loading": 1.0}, "b": {"market_loading": 1.0}}}
    trials = 1000
    ds = run(build(raw), trials, seed=0)
    z = ds.market_factor.values
    assert_close_se(z.mean(), 0.0, 1 / math.sqrt(trials), what="market factor mean")
    fractions = {}
    for name in "abcd":
        cell = ds.sel(source=name)
        won = total(cell.bookings_count)
        decided = won + total(cell.lost_count.sel(stage="Stage 2"))
        fractions[name] = won / decided
        # Known answer: given the trial's market factor, the win rate is logistic(logit(w) + loading z).
        w = expit(logit(0.25) + (1.0 if name in "ab" else 0.0) * z)
        z2 = (won - decided * w) ** 2 / (decided * w * (1 - w))
        assert_close_se(z2.mean(), 1.0, se_mean(z2), what=f"cell {name}: win given the market factor")
    loaded = np.corrcoef(fractions["a"], fractions["b"])[0, 1]
    free = np.corrcoef(fractions["c"], fractions["d"])[0, 1]
    mixed = np.corrcoef(fractions["a"], fractions["c"])[0, 1]
    assert loaded > 4 / math.sqrt(trials)
    assert abs(free) < 4 / math.sqrt(trials)
    assert abs(mixed) < 4 / math.sqrt(trials)


def test_uncertain_median_and_dwell_scale_are_shared_by_the_trials_deals():
    """A drawn median multiplies every deal of the trial and cell; a drawn dwell mean sets
    every deal's dwell (fixed dwells make that exact). A dollar plan still turns into
    counts with the *base* mean amount (compile's rule)."""
    raw = small_raw(n_stages=2, horizon_weeks=104, count_per_year=400)
    raw["defaults"]["entry_stage"] = "Stage 2"
    raw["defaults"]["decision"].update(win=1.0)
    dwell_mean = {"low": 20.0, "base": 30.0, "high": 60.0}
    raw["defaults"]["decision"]["dwell"] = {"dist": "fixed", "mean": dwell_mean}
    median = {"low": 60_000.0, "base": 100_000.0, "high": 180_000.0}
    raw["defaults"]["amount"] = {"median": median, "sigma": 0.5}
    sc = build(raw)
    ds = run(sc, 300, seed=0)
    dwell = ds.assumption.sel(parameter="dwell_mean[Stage 2]").values.ravel()
    cycle = total(ds.won_cycle_days) / total(ds.won_cycle_count)
    np.testing.assert_allclose(cycle, dwell, rtol=1e-12)
    assert len(np.unique(dwell)) == dwell.size
    median = ds.assumption.sel(parameter="median_amount").values.ravel()
    amount = total(ds.created_amount.sel(stage="Stage 2"))
    count = total(ds.created_count.sel(stage="Stage 2"))
    # Given the trial's median m, its mean deal is m e^(s^2/2) with variance m^2 e^(s^2) (e^(s^2) - 1).
    s2 = 0.5**2
    variance = median**2 * math.exp(s2) * math.expm1(s2)
    z2 = (amount / count - median * math.exp(s2 / 2)) ** 2 / (variance / count)
    assert_close_se(z2.mean(), 1.0, se_mean(z2), what="mean square of standardised trial means")
    raw["defaults"]["creation"] = {"per": "year", "dollars": [40_000_000.0, 0.0]}
    model = compile_scenario(build(raw))
    base_mean = 100_000.0 * math.exp(s2 / 2)
    assert model.creation_rate.sum() == pytest.approx(40_000_000.0 / base_mean, rel=1e-12)
