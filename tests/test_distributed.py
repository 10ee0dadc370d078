"""Runs on Dask: the same bits as one machine, full or streamed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

import simcore
from simcore.engine.distributed import chunk_plan, fan_out
from simcore.engine.stream import BLOCK

FY2026 = Path(__file__).resolve().parents[1] / "scenarios" / "fy2026.toml"


def test_chunk_plan_covers_the_trials_in_whole_blocks():
    for trials, workers in [(1, 1), (5000, 2), (100_000, 7), (BLOCK, 3)]:
        plan = chunk_plan(trials, workers)
        assert sum(n for _, n in plan) == trials
        assert all(lo % BLOCK == 0 for lo, _ in plan)
        assert [lo for lo, _ in plan] == sorted({lo for lo, _ in plan})


def test_fan_out_without_a_client_runs_here():
    assert fan_out(None, divmod, [7, 9], 4) == [(1, 3), (2, 1)]


def test_a_bad_dask_address_is_one_clear_line(capsys):
    code, _, err = run_cli(capsys, "run", FY2026, "--trials", 10, "--dask", "local:zero", "--quiet")
    assert code == 2 and "local:N" in err


@pytest.mark.slow
def test_two_workers_give_the_same_bits_as_one_machine():
    pytest.importorskip("distributed")
    from simcore.engine.distributed import connect

    sc = simcore.load_scenario(FY2026)
    client = connect("local:2")
    try:
        for stream, sampling in [(False, "random"), (True, "lhs")]:
            here = simcore.simulate(sc, 1300, 5, progress=False, stream=stream, sampling=sampling)
            there = simcore.simulate(sc, 1300, 5, client=client, stream=stream, sampling=sampling)
            assert here.simcore.summary() == there.simcore.summary()
            for name, var in here.data_vars.items():
                if var.dtype.kind in "fiub":
                    np.testing.assert_array_equal(var.values, there[name].values, err_msg=name)
        # fan_out on the cluster: the same as here.
        years = fan_out(client, _year, [1, 2], sc)
        assert years == [_year(1, sc), _year(2, sc)]
    finally:
        client.close()


def _year(seed, sc):
    return float(simcore.simulate(sc, 64, seed, progress=False).simcore.year_bookings().mean())
