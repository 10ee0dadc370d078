"""Output memory reused from results no longer referenced: zeroed, never shared with a live one."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

import simcore
from simcore.engine import memory

SMB = Path(__file__).resolve().parents[1] / "scenarios" / "smb.toml"


@pytest.fixture
def empty_pool(monkeypatch):
    gc.collect()
    monkeypatch.setattr(memory, "_idle", [])
    return memory._idle


def test_a_dropped_buffer_comes_back_zeroed_and_is_kept_only_up_to_the_cap(empty_pool, monkeypatch):
    size = 3 << 20
    a = np.frombuffer(memory.output_buffer(size, threads=2), np.uint8)
    a[:] = 7
    del a
    assert memory.idle_bytes() == size
    b = np.frombuffer(memory.output_buffer(size - 4096, threads=2), np.uint8)  # about the same size
    assert memory.idle_bytes() == 0 and b.size == size and not b.any()
    monkeypatch.setattr(memory, "IDLE_BYTES", size - 1)
    del b
    assert memory.idle_bytes() == 0  # over the cap: unmapped, not kept


def test_a_run_of_another_size_gives_the_idle_memory_back(empty_pool):
    a = memory.output_buffer(3 << 20)
    del a
    assert memory.idle_bytes() == 3 << 20
    big = memory.output_buffer(7 << 20)  # more than twice as large: not a fit
    assert memory.idle_bytes() == 0 and len(big) == 7 << 20


def test_idle_memory_counts_as_available(empty_pool, monkeypatch):
    # Kept maps are given back before a run of another size allocates: not counted as used.
    monkeypatch.delenv(memory.CAP_VARIABLE, raising=False)
    before, _ = memory.available_memory()
    monkeypatch.setattr(memory, "idle_bytes", lambda: 50 << 30)
    after, _ = memory.available_memory()
    assert (50 << 30) - (1 << 30) < after - before < (50 << 30) + (1 << 30)


def test_runs_into_reused_memory_are_the_same_bits_and_leave_live_results_alone(empty_pool):
    sc = simcore.load_scenario(SMB)
    fresh = simcore.simulate(sc, 2000, 5, progress=False)
    kept = {name: var.values.copy() for name, var in fresh.data_vars.items()}
    first = simcore.simulate(sc, 2000, 4, progress=False)  # fresh is alive: new memory
    assert memory.idle_bytes() == 0
    del first
    gc.collect()
    assert memory.idle_bytes() > 0
    again = simcore.simulate(sc, 2000, 5, progress=False)  # into first's memory, zeroed
    assert memory.idle_bytes() == 0
    for name, var in again.data_vars.items():
        np.testing.assert_array_equal(var.values, kept[name], err_msg=name)
        np.testing.assert_array_equal(fresh[name].values, kept[name], err_msg=name)
