"""Runs on Dask: the same bits as one machine, full or streamed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

import simcore
from simcore.engine.distributed import chunk_plan, fan_out
from simcore.engine.stream import BLOCK
from simcore.errors import SimcoreError

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


def test_a_failed_connection_leaves_dask_default_scheduler_alone():
    # A Client that fails to connect had already made itself dask's default, so every later
    # dask computation in the process (a netCDF write of a streamed run) asked for a
    # distributed scheduler that was not there.
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    from simcore.engine.distributed import connect

    before = dask.config.get("scheduler", None)
    with pytest.raises(SimcoreError, match="expected local:N"):
        connect("bogus")
    assert dask.config.get("scheduler", None) == before


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


SMB = FY2026.parent / "smb.toml"


@pytest.fixture(scope="module")
def client():
    """A Dask client whose one worker is a thread of this process: quick to start, and the same
    code path as a cluster's (scatter, submit, gather in order); pickling to worker processes is
    the slow test's part.
    """
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as c:
        yield c


def test_compare_on_dask_is_the_same_bits(client):
    from simcore.analysis.compare import compare

    sc = simcore.load_scenario(SMB)
    here = compare(sc, ["Base", "Stretch"], trials=200, seed=11)
    there = compare(sc, ["Base", "Stretch"], trials=200, seed=11, client=client)
    assert here.to_dict() == there.to_dict()
    for label, values in here.bookings.items():
        np.testing.assert_array_equal(values, there.bookings[label], err_msg=label)


def test_one_at_a_time_on_dask_is_the_same_bits(client):
    from simcore.analysis.sensitivity import one_at_a_time

    sc = simcore.load_scenario(SMB)
    here = one_at_a_time(sc, 128, 5)
    there = one_at_a_time(sc, 128, 5, client=client)
    assert here.rows and here.to_dict() == there.to_dict()
    np.testing.assert_array_equal(here.base_bookings, there.base_bookings)
    for name, (low, high) in here.bookings.items():
        np.testing.assert_array_equal(low, there.bookings[name][0], err_msg=name)
        np.testing.assert_array_equal(high, there.bookings[name][1], err_msg=name)


def test_a_worker_streaming_its_part_in_several_chunks_gives_the_same_bits(client, monkeypatch):
    # A worker's part (1024 trials) streams through a buffer of one block (512): the figures
    # kept from the first half must not be overwritten by the second.
    import simcore.engine.simulate as engine

    monkeypatch.setattr(engine, "STREAM_CHUNK_BYTES", 1)
    assert engine.stream_chunk(simcore.compile_scenario(simcore.load_scenario(SMB))) == BLOCK
    sc = simcore.load_scenario(SMB)
    here = simcore.simulate(sc, 1600, 3, progress=False, stream=True)
    there = simcore.simulate(sc, 1600, 3, client=client, stream=True, chunk_size=1024)
    assert here.simcore.summary() == there.simcore.summary()
    for name, var in here.data_vars.items():
        np.testing.assert_array_equal(var.values, there[name].values, err_msg=name)


def test_workers_take_their_numba_threads_from_the_environment(monkeypatch):
    import numba

    from simcore.engine.distributed import worker_threads

    before = numba.get_num_threads()
    try:
        monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
        assert worker_threads() == numba.get_num_threads() == 1
        monkeypatch.setenv("NUMBA_NUM_THREADS", "many")  # not a number: numba's setting stays
        assert worker_threads() == 1
    finally:
        numba.set_num_threads(before)


def test_kernel_chunks_on_dask_are_the_same_bits(client):
    from simcore.engine.compile import compile_scenario
    from simcore.engine.distributed import kernel_chunks

    model = compile_scenario(simcore.load_scenario(SMB))
    here = list(kernel_chunks(None, model, 700, 9, 300))
    there = list(kernel_chunks(client, model, 700, 9, 300))
    assert (
        [(lo, hi) for lo, hi, _ in here]
        == [(lo, hi) for lo, hi, _ in there]
        == [(0, 300), (300, 600), (600, 700)]
    )
    for (_, _, a), (_, _, b) in zip(here, there):
        for x, y in zip(a.arrays(0, len(a.market)), b.arrays(0, len(b.market))):
            np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_the_optimizer_re_simulates_on_dask_with_the_same_bits(client):
    sc = simcore.load_scenario(SMB)
    options = {"confidence": 0.8, "trials": 300, "verify_trials": 200, "spreadsheet": False}
    here = simcore.optimize(sc, **options)
    there = simcore.optimize(sc, **options, client=client)
    a, b = here.to_dict(), there.to_dict()
    for volatile in ("seconds", "elapsed_seconds"):
        a.pop(volatile, None), b.pop(volatile, None)
    assert a == b


def test_compare_and_sensitivity_take_dask_on_the_command_line(capsys):
    pytest.importorskip("distributed")
    for command in ("compare", "sensitivity", "optimize"):
        code, _, err = run_cli(capsys, command, SMB, "--trials", 10, "--dask", "local:0")
        assert code == 2 and "local:N" in err, (command, err)


@pytest.mark.parametrize(
    "address, words",
    [
        ("bogus", "expected local:N or a scheduler address"),  # was a ValueError traceback
        (f"local:{(os.cpu_count() or 1) + 1}", "use local:"),  # local:1000 started 1,000 processes
    ],
)
def test_a_dask_address_that_cannot_work_is_one_line(capsys, address, words):
    pytest.importorskip("distributed")
    code, _, err = run_cli(capsys, "run", SMB, "--trials", 10, "--dask", address)
    assert code == 2 and words in err and err.count("\n") == 1, err
