"""The numpy reference of benchmarks/ simulates the same model as the kernel.

The benchmark's speed ratio (kernel vs plain numpy) is only honest if both compute the
same thing. They use different random numbers (a counter-based generator vs numpy's
Generator, quantile tables vs exact lognormals), so they agree in distribution, not draw
for draw: each expected output is compared within 4 Monte-Carlo standard errors of the
difference of two independent means.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import simcore
from simcore.engine.compile import compile_scenario

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy_reference  # noqa: E402  (found through the sys.path entry above)

TRIALS = 2000


def _agree(name, kernel, reference):
    """Per-trial samples (trials, ...) of the same quantity: means within 4 SE."""
    kernel = np.asarray(kernel, dtype=np.float64).reshape(kernel.shape[0], -1)
    reference = np.asarray(reference, dtype=np.float64).reshape(reference.shape[0], -1)
    se = np.sqrt(
        kernel.var(axis=0, ddof=1) / kernel.shape[0] + reference.var(axis=0, ddof=1) / reference.shape[0]
    )
    diff = np.abs(kernel.mean(axis=0) - reference.mean(axis=0))
    # A quantity that is exactly zero in both (e.g. nothing lost at a stage no deal reaches).
    ok = (diff <= 4.0 * se) | ((se == 0) & (diff == 0))
    assert ok.all(), (
        f"{name}: kernel {kernel.mean(axis=0)[~ok]} vs numpy {reference.mean(axis=0)[~ok]} (SE {se[~ok]})"
    )


@pytest.mark.parametrize("scenario", ["fy2026.toml", "enterprise.toml"])
def test_numpy_reference_matches_kernel(scenario):
    # fy2026: PERT conversion, market factor, whales, pushes with decay, an aggregate bank.
    # enterprise: six stages with growth, gamma dwell, negative binomial creation, an entry
    # stage after the first, a CSV bank with expected close dates.
    sc = simcore.load_scenario(ROOT / "scenarios" / scenario)
    model = compile_scenario(sc)
    ds = simcore.simulate(sc, trials=TRIALS, seed=0, progress=False, model=model)
    ref, lifecycles = numpy_reference.simulate(model, TRIALS, seed=0)
    n_cells = len(sc.cells)
    k = model.n_stages

    def cells(da, *extra):
        return da.values.reshape((TRIALS, len(model.periods), n_cells) + tuple(extra))

    # Bookings by period, summed over cells; and over the horizon by cell.
    _agree("bookings by period", cells(ds.bookings_amount).sum(axis=2), ref["bookings_amount"].sum(axis=2))
    _agree("bookings by cell", cells(ds.bookings_amount).sum(axis=1), ref["bookings_amount"].sum(axis=1))
    _agree("won deals by period", cells(ds.bookings_count).sum(axis=2), ref["bookings_count"].sum(axis=2))
    _agree(
        "created by stage", cells(ds.created_count, k).sum(axis=(1, 2)), ref["created_count"].sum(axis=(1, 2))
    )
    _agree(
        "created dollars by stage",
        cells(ds.created_amount, k).sum(axis=(1, 2)),
        ref["created_amount"].sum(axis=(1, 2)),
    )
    lost = cells(ds.lost_amount, k, 2).sum(axis=(1, 2))
    _agree("lost to competition by stage", lost[..., 0], ref["lost_competition_amount"].sum(axis=(1, 2)))
    _agree("lost to no decision by stage", lost[..., 1], ref["lost_no_decision_amount"].sum(axis=(1, 2)))
    _agree("pushes by period", cells(ds.pushes_count).sum(axis=2), ref["pushes_count"].sum(axis=2))
    # The same number of lifecycles is simulated (in expectation: creation is random).
    assert abs(lifecycles / TRIALS - float(ds.opportunities.mean())) <= 4.0 * float(
        ds.opportunities.std()
    ) * np.sqrt(2.0 / TRIALS)
