"""Named slot layouts shared by the kernel and the Python side.

The kernel works on flat vectors: each cell's parameter slots (what
:func:`simcore.engine.compile.compile_scenario` fills and the kernel draws per trial) and the
flow slots of each (trial, period, cell) output row (what the kernel writes and
:func:`simcore.engine.simulate.build_dataset` labels). A layout names the offsets of those
slots. Each is a ``NamedTuple`` built by one jitted function, so the kernel (``layout.win``
in nopython code) and Python (``param_layout(4).win``) read the same numbers from the same
code; being a tuple, it also unpacks positionally as the layouts always have.

Multi-slot quantities are named by their first slot (``advance0``) and their length follows
from the number of open stages ``k``: ``advance`` and ``growth`` have one slot per stage
before the decision stage (``k - 1``), ``dwell`` one per stage (``k``); in the flows
``created``, ``lost_competition`` and ``lost_no_decision`` one per stage and ``due`` one
per forecast category.

Examples
--------
>>> from simcore.engine.layout import flow_layout, param_layout
>>> p = param_layout(4)
>>> p.win, p.n_slots
(10, 18)
>>> f = flow_layout(4)
>>> f.booked, f.created0, f.n_slots
(0, 1, 20)
"""

from __future__ import annotations

from typing import NamedTuple

from simcore.engine._jit import jit

# Forecast categories, in bank and due outputs.
N_CATEGORIES = 3


class ParamSlots(NamedTuple):
    """Offsets of one cell's parameter slots (see :func:`param_layout`)."""

    advance0: int
    dwell0: int
    growth0: int
    win: int
    push: int
    push_delay: int
    win_decay: int
    to_decision: int
    median: int
    whale_probability: int
    whale_factor: int
    n_slots: int


class FlowSlots(NamedTuple):
    """Offsets of one (trial, period, cell) row of flow outputs (see :func:`flow_layout`)."""

    booked: int
    created0: int
    lost_competition0: int
    lost_no_decision0: int
    pushes: int
    slipped: int
    due0: int
    won_pushes: int
    won_cycle: int
    n_slots: int


@jit
def param_layout(n_stages):
    """Slot offsets of the per-cell parameter vector for ``n_stages`` open stages.

    Parameters
    ----------
    n_stages : int
        Open stages, the decision stage included.

    Returns
    -------
    ParamSlots
        ``advance0`` (``k - 1`` slots), ``dwell0`` (``k``), ``growth0`` (``k - 1``), then one
        slot each for ``win``, ``push``, ``push_delay``, ``win_decay``, ``to_decision``,
        ``median``, ``whale_probability``, ``whale_factor``; ``n_slots`` is the total.

    Examples
    --------
    >>> param_layout(3).dwell0, param_layout(3).growth0
    (2, 5)
    """
    k = n_stages
    base = 3 * k - 2
    return ParamSlots(
        0,
        k - 1,
        2 * k - 1,
        base,
        base + 1,
        base + 2,
        base + 3,
        base + 4,
        base + 5,
        base + 6,
        base + 7,
        base + 8,
    )


@jit
def flow_layout(n_stages):
    """Slot offsets of the flow outputs (per trial, period and cell).

    Parameters
    ----------
    n_stages : int
        Open stages, the decision stage included.

    Returns
    -------
    FlowSlots
        ``booked``, ``created0`` (``k`` slots), ``lost_competition0`` (``k``),
        ``lost_no_decision0`` (``k``), ``pushes``, ``slipped``, ``due0`` (one per forecast
        category), ``won_pushes``, ``won_cycle``; ``n_slots`` is the total. In the amount
        array ``won_cycle`` holds the summed cycle days of won deals whose creation time is
        known, and in the count array their number.

    Examples
    --------
    >>> flow_layout(2).due0, flow_layout(2).n_slots
    (9, 14)
    """
    k = n_stages
    return FlowSlots(
        0,
        1,
        1 + k,
        1 + 2 * k,
        1 + 3 * k,
        2 + 3 * k,
        3 + 3 * k,
        3 + 3 * k + N_CATEGORIES,
        4 + 3 * k + N_CATEGORIES,
        5 + 3 * k + N_CATEGORIES,
    )
