"""A synthetic history delivers creation as simulate does: at the trial's attainment (and capacity),
so that calibrating it recovers the creation the scenario delivers, not its full plan."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pytest

import simcore
from simcore.calibrate import calibrate, simulate_history, tidy_history
from simcore.calibrate.history import capacity_share, creation_rate, delivered_share, trial_draws
from simcore.engine.compile import compile_scenario

FY = "scenarios/fy2026.toml"  # inbound delivered at a PERT(0.30, 0.55, 0.80) attainment


def test_the_delivered_share_is_the_kernels_attainment_of_the_trial():
    sc = simcore.load_scenario(FY)
    model = compile_scenario(sc)
    ds = simcore.simulate(sc, trials=4, seed=7, progress=False)
    for trial in range(4):
        _, z = trial_draws(model, 7, trial)
        share = delivered_share(model, 7, trial, z)
        covered = np.asarray(model.attain_group) >= 0
        assert covered.any() and (share[~covered] == 1.0).all()
        assert (share[covered] == ds["attainment"].values[trial, 0]).all()


def test_calibrating_a_history_recovers_the_delivered_creation_not_the_full_plan():
    sc = simcore.load_scenario(FY)
    model = compile_scenario(sc)
    seed, trial = 7, 2  # this trial's inbound attainment is about 0.31: far from the plan
    start, as_of = _dt.date(2025, 1, 1), _dt.date(2026, 1, 1)
    _, z = trial_draws(model, seed, trial)
    share = delivered_share(model, seed, trial, z) * capacity_share(sc, model)
    plan = creation_rate(sc, start, (as_of - start).days).sum(axis=1)
    h = simulate_history(sc, start, as_of, seed=seed, trial=trial)
    opps, hist = tidy_history(h, dimensions=list(sc.dimensions))
    fit = calibrate(opps, as_of, list(sc.dimensions), stage_history=hist)
    src = list(sc.dimensions).index("source")
    inbound = np.array([c[src] == "inbound" for c in sc.cells])
    fitted = sum(
        sum(p.creation.values)
        for c, p in zip(fit.scenario.cells, fit.scenario.params)
        if c[list(fit.scenario.dimensions).index("source")] == "inbound"
    )
    delivered, full = float((plan * share)[inbound].sum()), float(plan[inbound].sum())
    se = np.sqrt(delivered)  # Poisson creation over the year
    assert share[inbound].max() < 0.4
    assert abs(fitted - delivered) < 4 * se, (fitted, delivered, full)
    assert abs(fitted - full) > 4 * se


@pytest.mark.parametrize("name", ["scenarios/fy2026_segmented.toml", FY])
def test_capacity_share_is_what_the_capacity_lets_through(name):
    sc = simcore.load_scenario(name)
    model = compile_scenario(sc)
    share = capacity_share(sc, model)
    assert ((0 < share) & (share <= 1)).all()
    if model.capacity is None:
        assert (share == 1).all()
