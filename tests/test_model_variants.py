"""The compiled Model's variants: new models, sharing what they do not change, the original untouched."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simcore import load_scenario
from simcore.engine.compile import compile_scenario
from simcore.engine.kernel import BETA, FIXED, PERT
from simcore.engine.simulate import simulate


@pytest.fixture(scope="module")
def smb():
    return compile_scenario(load_scenario("scenarios/smb.toml"))


@pytest.fixture(scope="module")
def enterprise():
    return compile_scenario(load_scenario("scenarios/enterprise.toml"))


def test_with_creation_scale_after_the_count_tables_are_built(smb):
    # It used to raise TypeError once the kernel inputs had been cached on the model.
    smb.kernel_args()
    doubled = smb.with_creation_scale(2.0)
    np.testing.assert_array_equal(doubled.creation_rate, 2.0 * smb.creation_rate)
    # New creation, new count tables: longer, since twice the deals are expected.
    assert len(doubled.count_tables()[0]) > len(smb.count_tables()[0])
    # A run of the doubled plan creates about twice the opportunities (4 Monte-Carlo s.e.).
    ds1 = simulate(smb.scenario, 400, seed=3, model=smb, progress=False)
    ds2 = simulate(smb.scenario, 400, seed=3, model=doubled, progress=False)
    bank = len(smb.bank_cell)
    n1 = ds1["opportunities"].values.astype(float) - bank
    n2 = ds2["opportunities"].values.astype(float) - bank
    ratio = n2.mean() / n1.mean()
    se = np.sqrt(n2.var() / n2.mean() ** 2 + n1.var() / n1.mean() ** 2) / np.sqrt(len(n1))
    assert abs(ratio - 2.0) < 4 * se * 2.0 + 1e-9


def test_a_model_cannot_be_edited(smb):
    with pytest.raises(dataclasses.FrozenInstanceError):
        smb.bank_amount = smb.bank_amount[:0]


def test_variants_that_keep_the_plan_share_its_count_tables(enterprise):
    tables = enterprise.count_tables()
    assert enterprise.at_base_values().count_tables() is tables
    assert enterprise.without_bank().count_tables() is tables
    assert enterprise.with_fixed_assumptions({}).count_tables() is tables


def test_at_base_values(enterprise):
    m = enterprise
    assert (m.param_kind != FIXED).any(), "the scenario should have uncertain assumptions"
    base = m.at_base_values()
    assert (base.param_kind == FIXED).all() and (base.market_loading == 0).all()
    kind, a, _, _ = base.kernel_params()
    # The kernel reads a fixed slot's value from a: the PERT's base, the Beta's mean.
    np.testing.assert_array_equal(a, m.param_base)
    assert (m.param_kind != FIXED).any()  # the original is untouched
    # In the kernel's encoding of the original, a PERT's a is its low and a Beta's its mean.
    kind, a, b, c = m.kernel_params()
    pert, beta = kind == PERT, kind == BETA
    np.testing.assert_array_equal(a[pert], m.param_low[pert])
    np.testing.assert_array_equal(b[pert], m.param_base[pert])
    np.testing.assert_array_equal(c[pert], m.param_high[pert])
    np.testing.assert_array_equal(a[beta], m.param_base[beta])
    np.testing.assert_array_equal(b[beta], m.param_strength[beta])


def test_with_fixed_assumptions(enterprise):
    m = enterprise
    cell, slot = (int(x) for x in np.argwhere(m.param_kind != FIXED)[0])
    fixed = m.with_fixed_assumptions({(cell, slot): 0.123})
    assert fixed.param_kind[cell, slot] == FIXED and fixed.kernel_params()[1][cell, slot] == 0.123
    assert m.param_kind[cell, slot] != FIXED
    # Every other slot is as before.
    other = np.ones_like(m.param_kind, dtype=bool)
    other[cell, slot] = False
    np.testing.assert_array_equal(fixed.param_kind[other], m.param_kind[other])


def test_bank_variants(enterprise):
    m = enterprise
    assert len(m.bank_cell) > 0
    assert len(m.without_bank().bank_amount) == 0 and len(m.bank_amount) > 0
    stage = m.scenario.decision_stage
    only = m.with_bank_only_in(stage)
    assert len(only.bank_amount) == len(m.bank_amount)
    np.testing.assert_array_equal(only.bank_amount, np.where(m.bank_stage == stage, m.bank_amount, 0.0))


def test_repr_is_short(smb):
    text = repr(smb)
    assert len(text) < 200 and smb.scenario.name in text
