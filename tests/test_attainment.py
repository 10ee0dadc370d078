"""Creation attainment: the share of the planned creation delivered, drawn once per trial.

Known answers: a fixed attainment ``a`` scales expected creation and bookings by ``a``; a PERT
or Beta attainment's draws follow their distribution; one declaration is one draw shared by
every cell it covers; a loading on the market factor is a correlation on the normal scale;
thinning keeps the deals' count Poisson with the attained mean. Same bits for any chunking.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import assert_close_se, build, edited, retry_test, run, se_mean, two_stage_raw
from scipy import stats

import simcore
from simcore.errors import ScenarioError
from simcore.scenario.values import Pert

INBOUND = "by__source__inbound__creation__attainment"


def _plan(raw):
    sc = build(raw)
    return sc, simcore.compile_scenario(sc)


def _created(ds):
    """(trial, source) deals created in the entry stage."""
    return ds.created_count.isel(stage=0).sum("period").values


def test_fixed_attainment_scales_creation_and_bookings():
    raw = two_stage_raw(counts=(300, 300))
    sc0, m0 = _plan(raw)
    sc, m = _plan(edited(raw, **{INBOUND: 0.6}))
    assert m.attain_names == ("by.source.inbound.creation.attainment",)
    a0 = run(sc0, 3000, seed=4, model=m0.without_bank())
    a = run(sc, 3000, seed=4, model=m.without_bank())
    created = _created(a)
    # Expected creation: the plan's rate times a (closed form), inbound only.
    planned = m0.creation_rate.sum(axis=1)
    assert_close_se(created[:, 0].mean(), 0.6 * planned[0], se_mean(created[:, 0]), what="inbound creation")
    assert_close_se(created[:, 1].mean(), planned[1], se_mean(created[:, 1]), what="outbound creation")
    # Bookings: a x the plan's bookings (deal lives do not depend on how many were made).
    b = a.bookings_amount.sum("period").values
    b0 = a0.bookings_amount.sum("period").values
    se = math.hypot(se_mean(b[:, 0]), 0.6 * se_mean(b0[:, 0]))
    assert_close_se(b[:, 0].mean(), 0.6 * b0[:, 0].mean(), se, what="inbound bookings")
    # The outbound cell is untouched, bit for bit.
    assert np.array_equal(b[:, 1], b0[:, 1])
    # A number costs no random number and is reported as drawn nowhere.
    assert float(a.attainment.min()) == float(a.attainment.max()) == 0.6
    assert not bool(a.attainment_drawn.any())


@pytest.mark.parametrize(
    "value, dist",
    [
        (
            {"low": 0.3, "base": 0.55, "high": 0.9},
            stats.beta(1 + 4 * 0.25 / 0.6, 1 + 4 * 0.35 / 0.6, 0.3, 0.6),
        ),
        ({"mean": 0.7, "strength": 12}, stats.beta(0.7 * 12, 0.3 * 12)),
    ],
)
def test_drawn_attainment_follows_its_distribution(value, dist):
    sc, m = _plan(edited(two_stage_raw(counts=(40, 40)), **{INBOUND: value}))

    def check(seed):
        ds = run(sc, 1500, seed=seed, model=m.without_bank())
        return stats.kstest(ds.attainment.values[:, 0], dist.cdf).pvalue

    retry_test(check)


def test_thinned_count_is_poisson_with_the_attained_mean():
    """Given the trial's attainment a, the inbound count is Poisson(a x plan): the count's mean
    and variance conditional on a match (the regression on a has slope plan, intercept 0)."""
    raw = edited(two_stage_raw(counts=(200, 50)), **{INBOUND: {"low": 0.2, "base": 0.5, "high": 1.0}})
    sc, m = _plan(raw)
    ds = run(sc, 3000, seed=9, model=m.without_bank())
    a = ds.attainment.values[:, 0]
    n = _created(ds)[:, 0]
    lam = a * m.creation_rate[0].sum()
    z = (n - lam) / np.sqrt(lam)  # standard (approximately normal) if Poisson(lam)
    assert_close_se(z.mean(), 0.0, 1 / math.sqrt(len(z)), what="mean of (n - a plan) / sqrt(a plan)")
    assert_close_se(z.var(), 1.0, math.sqrt(2 / len(z)) * 1.1, what="variance of the standardised count")


def test_one_declaration_is_one_draw_shared_by_its_cells():
    sc = simcore.load_scenario("scenarios/smb.toml", overrides={"by.source.inbound.creation.attainment": 0.5})
    wide = {"low": 0.1, "base": 0.5, "high": 1.0}
    shared = simcore.load_scenario("scenarios/smb.toml", overrides={"defaults.creation.attainment": wide})
    m = simcore.compile_scenario(shared)
    assert m.attain_names == ("defaults.creation.attainment",) and (m.attain_group == 0).all()
    m = simcore.compile_scenario(sc)
    inbound = [i for i, c in enumerate(sc.cells) if c[0] == "inbound"]
    assert m.attain_group[inbound].tolist() == [0, 0] and (np.delete(m.attain_group, inbound) == -1).all()
    # Behaviour: two cells of one declaration move together trial by trial; two cells with a
    # declaration each do not.
    per_cell = simcore.load_scenario(
        "scenarios/smb.toml",
        overrides={
            'cell."inbound/Starter".creation.attainment': wide,
            'cell."inbound/Pro".creation.attainment': wide,
        },
    )
    one = run(shared, 600, seed=2)
    two = run(per_cell, 600, seed=2)
    assert one.attainment.shape == (600, 1) and two.attainment.shape == (600, 2)

    def corr(ds):
        c = ds.created_count.isel(stage=0).sum("period").sel(source="inbound").values
        return np.corrcoef(c[:, 0], c[:, 1])[0, 1]

    assert corr(one) > 0.8
    assert abs(corr(two)) < 4 / math.sqrt(600)


def test_loading_correlates_attainment_with_the_market_on_the_normal_scale():
    value = {"low": 0.2, "base": 0.6, "high": 1.0}
    raw = edited(
        two_stage_raw(counts=(20, 20)),
        **{INBOUND: value, "by__source__inbound__creation__attainment_loading": 0.6},
    )
    sc, m = _plan(raw)
    n = 4000
    ds = run(sc, n, seed=5, model=m.without_bank())
    dist = stats.beta(1 + 4 * 0.4 / 0.8, 1 + 4 * 0.4 / 0.8, 0.2, 0.8)
    z = stats.norm.ppf(dist.cdf(ds.attainment.values[:, 0]))
    rho = np.corrcoef(z, ds.market_factor.values)[0, 1]
    assert_close_se(rho, 0.6, (1 - 0.36) / math.sqrt(n), what="correlation with the market factor")
    # The marginal stays as declared.
    assert stats.kstest(ds.attainment.values[:, 0], dist.cdf).pvalue > 1e-3


def test_same_bits_for_any_chunking_and_sampler_stratifies_attainment():
    raw = edited(two_stage_raw(counts=(60, 60)), **{INBOUND: {"low": 0.4, "base": 0.7, "high": 1.0}})
    sc, m = _plan(raw)
    whole = run(sc, 300, seed=8, model=m)
    parts = [run(sc, 100, seed=8, model=m, trial_start=s, chunk_size=37) for s in (0, 100, 200)]
    for name in ("attainment", "bookings_amount", "created_count"):
        assert np.array_equal(whole[name].values, np.concatenate([p[name].values for p in parts]))
    lhs = run(sc, 256, seed=8, model=m, sampling="lhs")
    dist = stats.beta(1 + 4 * 0.3 / 0.6, 1 + 4 * 0.3 / 0.6, 0.4, 0.6)
    strata = np.floor(dist.cdf(lhs.attainment.values[:, 0]) * 256 + 1e-9).astype(int)
    # One trial per stratum of the attainment (a stratum boundary may blur by the quantile
    # table's interpolation); plain Monte Carlo would hit about 162 of the 256.
    assert len(set(strata.tolist())) >= 250


def test_thread_counts_give_the_same_bits():
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    raw = edited(two_stage_raw(counts=(60, 60)), **{INBOUND: {"mean": 0.6, "strength": 8}})
    sc, m = _plan(raw)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run(sc, 200, seed=3, model=m)
        numba.set_num_threads(2)
        two = run(sc, 200, seed=3, model=m)
    finally:
        numba.set_num_threads(previous)
    assert np.array_equal(one.bookings_amount.values, two.bookings_amount.values)
    assert np.array_equal(one.attainment.values, two.attainment.values)


def test_a_higher_attainment_keeps_the_deals_of_a_lower_one():
    raw = edited(two_stage_raw(counts=(200, 50)), **{INBOUND: {"low": 0.2, "base": 0.5, "high": 1.0}})
    sc, m = _plan(raw)
    lo = run(sc, 200, seed=1, model=m.with_fixed_attainment({0: 0.4}).without_bank())
    hi = run(sc, 200, seed=1, model=m.with_fixed_attainment({0: 0.8}).without_bank())
    assert (_created(hi)[:, 0] >= _created(lo)[:, 0]).all()
    assert (
        hi.bookings_count.sum("period").values[:, 0] >= lo.bookings_count.sum("period").values[:, 0]
    ).all()


def test_sensitivity_ranks_attainment_beside_the_rates():
    from simcore.analysis.sensitivity import drawn_sensitivity, one_at_a_time

    raw = edited(two_stage_raw(counts=(150, 150)), **{INBOUND: {"low": 0.2, "base": 0.6, "high": 1.0}})
    sc = build(raw)
    result = drawn_sensitivity(run(sc, 800, seed=1), sc)
    assert result.rows[0]["name"] == "attainment [by.source.inbound]"
    swings = one_at_a_time(sc, trials=300, seed=1)
    names = [r["name"] for r in swings.rows]
    assert "attainment [by.source.inbound]" in names
    row = swings.rows[names.index("attainment [by.source.inbound]")]
    assert row["low_value"] == 0.2 and row["high_value"] == 1.0 and row["mean"]["swing"] > 0


@pytest.mark.parametrize(
    "changes, field, words",
    [
        ({INBOUND: -0.1}, "by.source.inbound.creation.attainment", "out of range"),
        ({INBOUND: 3.5}, "by.source.inbound.creation.attainment", "out of range"),
        ({INBOUND: {"mean": 1.2, "strength": 5}}, "by.source.inbound.creation.attainment.mean", "(0, 1)"),
        (
            {INBOUND: {"low": 0.9, "base": 0.5, "high": 1.0}},
            "by.source.inbound.creation.attainment",
            "low <=",
        ),
        ({INBOUND: "most"}, "by.source.inbound.creation.attainment", "number"),
        (
            {"defaults__creation__attainment_loading": 0.3},
            "defaults.creation.attainment_loading",
            "without a creation.attainment",
        ),
        (
            {INBOUND: 0.5, "defaults__creation__attainment_loading": 0.3},
            "defaults.creation.attainment_loading",
            "beside",
        ),
        (
            {INBOUND: 0.5, "by__source__inbound__creation__attainment_loading": 1.5},
            "attainment_loading",
            "range",
        ),
    ],
)
def test_bad_attainment_is_one_clear_problem(changes, field, words):
    with pytest.raises(ScenarioError) as info:
        build(edited(two_stage_raw(), **changes))
    text = str(info.value)
    assert field in text and words in text, text


def test_components_api_checks_its_arguments():
    sc, m = _plan(two_stage_raw())
    shape = (1,) + m.creation_rate.shape
    with pytest.raises(simcore.SimcoreError, match="components"):
        m.with_components(np.zeros(m.creation_rate.shape))
    with pytest.raises(simcore.SimcoreError, match="finite"):
        m.with_components(np.full(shape, -1.0))
    with pytest.raises(simcore.SimcoreError, match="keys"):
        m.with_components(np.zeros((2,) + m.creation_rate.shape), keys=[3, 3])
    with pytest.raises(simcore.SimcoreError, match="no attainment group"):
        m.with_components(np.zeros(shape), attainment=["nope"])
    more = m.with_components(np.zeros(shape), attainment=[Pert(0.5, 0.7, 0.9)], keys=[4])
    assert more.attain_names == ("component 4",) and more.with_components_removed().attain_names == ()


def test_run_shows_the_attainment_drawn(capsys):
    from helpers import run_cli

    args = ("run", "scenarios/smb.toml", "--trials", 200, "--seed", 1)
    pert = "by.source.inbound.creation.attainment={low = 0.5, base = 0.7, high = 0.9}"
    code, out, _ = run_cli(capsys, *args, "--json", "--set", pert)
    assert code == 0
    drawn = json.loads(out)["attainment"]["by.source.inbound"]
    assert 0.5 < drawn["p10"] < drawn["p50"] < drawn["p90"] < 0.9
    code, out, _ = run_cli(capsys, *args, "--set", pert)
    assert code == 0 and "Creation attainment" in out and "by.source.inbound" in out
    code, out, _ = run_cli(capsys, *args, "--json")
    assert code == 0 and "attainment" not in json.loads(out)  # none declared: nothing shown
    code, _, err = run_cli(
        capsys, "validate", "scenarios/smb.toml", "--set", "defaults.creation.attainment=-1"
    )
    assert code == 2 and "defaults.creation.attainment" in err and "Traceback" not in err
