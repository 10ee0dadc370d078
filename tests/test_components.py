"""Creation components (Model.with_components): extra creation on streams of its own.

Known answers: a component equal to a cell's own plan adds, in expectation, the bookings that
plan books; turning a component on or off leaves the plan's deals and every other component's
deals bit-identical; no component (or a zero one) is the plan bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from helpers import assert_close_se, build, run, se_mean, two_stage_raw

import simcore
from simcore.scenario.values import Pert


def _model():
    sc = build(two_stage_raw(counts=(200, 200)))
    return sc, simcore.compile_scenario(sc).without_bank()


def _year(ds, name="bookings_amount"):
    return ds[name].sum("period").values  # (trial, source)


def test_a_component_equal_to_a_cells_plan_adds_what_that_plan_books():
    sc, m = _model()
    rates = np.zeros((1,) + m.creation_rate.shape)
    rates[0, 0] = m.creation_rate[0]  # inbound's plan, once more
    plan = run(sc, 3000, seed=6, model=m)
    more = run(sc, 3000, seed=6, model=m.with_components(rates, keys=[11]))
    added = _year(more)[:, 0] - _year(plan)[:, 0]  # the component's bookings, trial by trial
    base = _year(plan)[:, 0]
    se = math.hypot(se_mean(added), se_mean(base))
    assert_close_se(added.mean(), base.mean(), se, what="bookings the component adds")
    # Deals of the component report into the inbound cell, nowhere else.
    assert np.array_equal(_year(more)[:, 1], _year(plan)[:, 1])


def test_toggling_a_component_leaves_the_plan_and_the_other_components_bit_identical():
    sc, m = _model()
    n_cells, n_weeks = m.creation_rate.shape
    a = np.zeros((1, n_cells, n_weeks))
    a[0, 0] = 0.5 * m.creation_rate[0]  # into inbound
    b = np.zeros((1, n_cells, n_weeks))
    b[0, 1] = 0.5 * m.creation_rate[1]  # into outbound
    plan = run(sc, 300, seed=2, model=m)
    # No component, or a zero one: the plan, bit for bit, in every output.
    for model in (m.with_components(np.zeros((0, n_cells, n_weeks))), m.with_components(0 * a)):
        same = run(sc, 300, seed=2, model=model)
        for name in ("bookings_amount", "created_amount", "lost_count", "bank_amount", "assumption"):
            assert np.array_equal(same[name].values, plan[name].values), name
    only_a = run(sc, 300, seed=2, model=m.with_components(a, keys=[1]))
    only_b = run(sc, 300, seed=2, model=m.with_components(b, keys=[2]))
    both = run(sc, 300, seed=2, model=m.with_components(np.concatenate([a, b]), keys=[1, 2]))
    # Outbound sees the plan and b alone: identical with or without a; inbound the reverse.
    for name in ("bookings_amount", "created_count", "bookings_by_cohort"):
        assert np.array_equal(
            both[name].sel(source="outbound").values, only_b[name].sel(source="outbound").values
        )
        assert np.array_equal(
            both[name].sel(source="inbound").values, only_a[name].sel(source="inbound").values
        )
        assert np.array_equal(
            only_a[name].sel(source="outbound").values, plan[name].sel(source="outbound").values
        )
    # And a larger component keeps the deals of a smaller one (its count is a superset).
    bigger = run(sc, 300, seed=2, model=m.with_components(2 * a, keys=[1]))
    assert (_year(bigger, "bookings_count")[:, 0] >= _year(only_a, "bookings_count")[:, 0]).all()


def test_a_components_attainment_is_its_own_draw_or_a_shared_one():
    raw = two_stage_raw(counts=(200, 200))
    raw["by"]["source"]["inbound"]["creation"]["attainment"] = {"low": 0.2, "base": 0.6, "high": 1.0}
    sc = build(raw)
    m = simcore.compile_scenario(sc).without_bank()
    rates = np.zeros((2,) + m.creation_rate.shape)
    rates[:, 1] = m.creation_rate[1]
    own, shared = "component 5", "by.source.inbound.creation.attainment"
    model = m.with_components(rates, attainment=[Pert(0.1, 0.3, 0.5), shared], keys=[5, 6])
    assert model.attain_names == (shared, own)
    ds = run(sc, 2000, seed=3, model=model)
    att = ds.attainment.sel(attainment_group=own).values
    assert 0.1 <= att.min() and att.max() <= 0.5
    assert_close_se(att.mean(), (0.1 + 4 * 0.3 + 0.5) / 6, se_mean(att), what="component attainment mean")
    # The plan's own group draws as without components (its uniform is keyed by its name).
    alone = run(sc, 2000, seed=3, model=m)
    assert np.array_equal(ds.attainment.sel(attainment_group=shared).values, alone.attainment.values[:, 0])
