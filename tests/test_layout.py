"""The named slot layouts (simcore.engine.layout): the kernel and the Python side agree.

The kernel reads its parameters and writes its flows at the offsets the layouts name;
compile fills the parameters and simulate labels the flows from the same layouts. These
tests hold that the layouts are well formed, that the nopython kernel sees the numbers
Python sees, that compile's parameter names sit at the named slots, and that the kernel's
outputs at the named flow slots obey the bookkeeping identity of a lifecycle.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pytest

import simcore
from simcore.engine.compile import compile_scenario, param_names
from simcore.engine.kernel import FIXED
from simcore.engine.layout import N_CATEGORIES, FlowSlots, ParamSlots, flow_layout, param_layout
from simcore.engine.simulate import run_kernel

ROOT = Path(__file__).resolve().parent.parent

# Multi-slot fields and their lengths for k open stages.
PARAM_RUNS = {"advance0": lambda k: k - 1, "dwell0": lambda k: k, "growth0": lambda k: k - 1}
FLOW_RUNS = {
    "created0": lambda k: k,
    "lost_competition0": lambda k: k,
    "lost_no_decision0": lambda k: k,
    "due0": lambda k: N_CATEGORIES,
}


def covered(layout, runs, k):
    slots = []
    for name, start in layout._asdict().items():
        if name != "n_slots":
            slots += range(start, start + runs.get(name, lambda k: 1)(k))
    return slots


@pytest.mark.parametrize("k", range(2, 9))
def test_layouts_tile_their_slots_exactly(k):
    for layout, runs, cls in (
        (param_layout(k), PARAM_RUNS, ParamSlots),
        (flow_layout(k), FLOW_RUNS, FlowSlots),
    ):
        assert isinstance(layout, cls)
        assert sorted(covered(layout, runs, k)) == list(range(layout.n_slots)), layout


@numba.njit
def _in_nopython(k):
    p, f = param_layout(k), flow_layout(k)
    return (
        (p.advance0, p.dwell0, p.growth0, p.win, p.push, p.push_delay, p.win_decay, p.to_decision),
        (p.median, p.whale_probability, p.whale_factor, p.n_slots),
        (f.booked, f.created0, f.lost_competition0, f.lost_no_decision0, f.pushes, f.slipped),
        (f.due0, f.won_pushes, f.won_cycle, f.n_slots),
    )


@pytest.mark.parametrize("k", [2, 4, 6])
def test_the_kernel_sees_what_python_sees(k):
    # Attribute access in nopython code, the jitted call from Python and the pure-Python
    # function give the same numbers.
    a, b, c, d = _in_nopython(k)
    assert a + b == tuple(param_layout(k)) == tuple(param_layout.py_func(k))
    assert c + d == tuple(flow_layout(k)) == tuple(flow_layout.py_func(k))


def test_compiled_parameter_names_sit_at_their_slots():
    sc = simcore.load_scenario(ROOT / "scenarios" / "enterprise.toml")
    model = compile_scenario(sc)
    k = model.n_stages
    p = param_layout(k)
    names = param_names([s.name for s in sc.stages])
    assert len(names) == p.n_slots == model.param_kind.shape[1]
    stages = [s.name for s in sc.stages]
    for s in range(k - 1):
        assert names[p.advance0 + s] == f"advance[{stages[s]}]"
        assert names[p.growth0 + s] == f"growth[{stages[s]}]"
    for s in range(k):
        assert names[p.dwell0 + s] == f"dwell_mean[{stages[s]}]"
    singles = ("win", "push", "push_delay", "win_decay", "to_decision", "median", "whale_probability")
    expected = (
        "win",
        "push",
        "push_delay_mean",
        "win_decay",
        "to_decision",
        "median_amount",
        "whale_probability",
    )
    for field, name in zip(singles, expected):
        assert names[getattr(p, field)] == name


def test_the_kernel_writes_where_the_flow_layout_says():
    """Every lifecycle that starts ends once: per trial and cell, the deals created in the entry
    stage plus the starting bank equal those booked, lost at any stage for either reason, and
    open at the horizon. Read through the named slots, this fails if the kernel and Python
    disagree about any of them; the fixed assumptions come back at their named slots."""
    model = compile_scenario(simcore.load_scenario(ROOT / "scenarios" / "fy2026.toml"))
    k = model.n_stages
    fl, pl = flow_layout(k), param_layout(k)
    out = run_kernel(model, 16, 3)
    cnt = out.flow_cnt.sum(axis=1)  # (trial, cell, slot)
    cells = np.arange(cnt.shape[1])
    created = cnt[:, cells, fl.created0 + model.entry_stage]
    started = created + out.bank_cnt[:, 0].sum(axis=-1)
    lost = cnt[..., fl.lost_competition0 : fl.lost_competition0 + k].sum(-1)
    lost += cnt[..., fl.lost_no_decision0 : fl.lost_no_decision0 + k].sum(-1)
    ended = cnt[..., fl.booked] + lost + out.bank_cnt[:, -1].sum(axis=-1)
    np.testing.assert_array_equal(started, ended)
    assert created.sum() > 16 * 400  # fy2026 creates ~490 deals a trial (inbound delivered at ~55%)
    # Pushes counted at the decision slot equal the pushes of won deals plus those of the rest.
    assert (cnt[..., fl.won_pushes] <= cnt[..., fl.pushes]).all() and cnt[..., fl.pushes].sum() > 0
    # Won cycle days are positive where deals were won with a known creation time.
    amt = out.flow_amt.sum(axis=1)
    assert (amt[..., fl.won_cycle][cnt[..., fl.won_cycle] > 0] > 0).all()
    singles = (model.param_kind == FIXED) & (np.arange(pl.n_slots) >= pl.win)
    assert singles.any() and (out.drawn[:, singles] == model.param_base[singles]).all()
