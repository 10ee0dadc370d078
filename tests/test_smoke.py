"""The default scenario loads, simulates and summarises (the README's first command)."""

import numpy as np

import simcore
from simcore.cli import default_scenario


def test_default_scenario_runs_and_meets_its_plan_shape():
    sc = simcore.load_scenario(default_scenario())
    ds = simcore.simulate(sc, trials=400, seed=0)
    summary = ds.simcore.summary()
    assert summary["trials"] == 400 and summary["seed"] == 0
    assert list(summary["bookings"]["by_period"]) == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    # Stage-1 creation in expectation is the plan's $89.9M (the median is not uncertain in
    # fy2026, so the dollars-to-count conversion is exact in expectation): within 4 SE.
    created = ds.simcore.stage_created(0).sum("period").values
    se = created.std(ddof=1) / np.sqrt(created.size)
    assert abs(created.mean() - 89.9e6) < 4 * se
    year = ds.simcore.year_bookings().values
    assert summary["p_hit"] == np.mean(year >= 8.65e6)
