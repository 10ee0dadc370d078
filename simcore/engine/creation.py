"""Creation beyond the plan's expected count: attainment groups and creation components.

The kernel makes new deals from count tables of ``sources x cells x weeks``: source 0 is the
plan, each further source a *creation component* (a program's added creation, see
:meth:`simcore.engine.compile.Model.with_components`) with count and deal streams of its own
key. An *attainment group* is one declaration of ``creation.attainment``: one share of the
plan delivered, drawn once per trial and shared by every (source, cell) it covers. The count
tables of a covered (source, cell) are built at the group's upper bound and the kernel keeps
each deal made with probability ``attainment / upper bound``; a fixed attainment scales the
rate instead, and costs no random number.

Nothing here runs when a scenario declares no attainment and a model has no components:
the plan's count tables and deals are then those of a model without this module.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from simcore.engine.kernel import BETA, FIXED, MAX_COMPONENT_KEY, PERT, assumption_tables
from simcore.engine.tables import count_tables
from simcore.errors import SimcoreError
from simcore.scenario.values import BetaRate, Pert

# A component's own attainment group is keyed apart from the scenario's declarations.
COMPONENT_GROUP_KEY = 1 << 20


def group_slot(value) -> tuple:
    """``(kind, base, low, high, strength)`` of an attainment (a number, a Pert or a BetaRate)."""
    if isinstance(value, Pert):
        return PERT, value.base, value.low, value.high, math.nan
    if isinstance(value, BetaRate):
        return BETA, value.mean, math.nan, math.nan, value.strength
    return FIXED, float(value), math.nan, math.nan, math.nan


def attainment_groups(scenario) -> dict:
    """The scenario's attainment groups: one per field that declares ``creation.attainment``.

    Returns
    -------
    dict
        ``{"group": (cells,) int64 (-1: none), "slots": [(kind, base, low, high, strength)],
        "loading": [float], "names": [str]}``, groups in order of first cell covered.
    """
    group = np.full(len(scenario.cells), -1, dtype=np.int64)
    names, slots, loading = [], [], []
    for c, p in enumerate(scenario.params):
        cr = p.creation
        if cr.attainment is None:
            continue
        if cr.attainment_at not in names:
            names.append(cr.attainment_at)
            slots.append(group_slot(cr.attainment))
            loading.append(cr.attainment_loading)
        group[c] = names.index(cr.attainment_at)
    return {"group": group, "slots": slots, "loading": loading, "names": names}


def group_keys(names) -> np.ndarray:
    """Each group's stream key, from its name: a declaration keeps its draws when others are
    added or removed (distinct keys below :data:`COMPONENT_GROUP_KEY`).
    """
    keys = []
    for name in names:
        k = zlib.crc32(name.encode()) % COMPONENT_GROUP_KEY
        while k in keys:  # a collision of two names: the next free key, so no two share a draw
            k = (k + 1) % COMPONENT_GROUP_KEY
        keys.append(k)
    return np.asarray(keys, dtype=np.int64)


def upper_bounds(kind, base, high) -> np.ndarray:
    """Each group's largest possible attainment: what its count tables are built at.

    A number is itself (the rate is scaled by it, nothing is thinned), a PERT its ``high``,
    a Beta 1.
    """
    kind = np.asarray(kind)
    return np.where(kind == PERT, high, np.where(kind == BETA, 1.0, base)).astype(np.float64)


def _scale(groups: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The factor on each (.., cell)'s rate: its group's upper bound, 1 without a group."""
    return np.where(groups >= 0, upper[np.maximum(groups, 0)] if upper.size else 1.0, 1.0)


def source_tables(model, plan: bool = True) -> list:
    """``[(cdf, offsets)]`` of each source (the plan, unless ``plan`` is False, then each
    component), unflattened.
    """
    upper = model.attain_upper
    out = []
    rate = model.creation_rate
    if (model.attain_group >= 0).any():
        rate = rate * _scale(model.attain_group, upper)[:, None]
    if plan:
        out.append(count_tables(rate, model.process, model.dispersion))
    for j in range(model.component_rate.shape[0]):
        rate = model.component_rate[j] * _scale(model.component_group[j], upper)[:, None]
        out.append(count_tables(rate, model.process, model.dispersion))
    return out


def join_tables(tables: list) -> tuple:
    """One ``(cdf, offsets)`` of every source's tables, back to back (the kernel's layout)."""
    if len(tables) == 1:
        return tables[0]
    cdfs, offsets, base = [], [np.zeros(1, dtype=np.int64)], 0
    for cdf, off in tables:
        cdfs.append(cdf)
        offsets.append(off[1:] + base)
        base += int(off[-1])
    return np.concatenate(cdfs), np.concatenate(offsets).astype(np.int64)


def kernel_creation_args(model) -> tuple:
    """The kernel's arguments after ``count_offset``: ``count_key .. attain_upper``."""
    n_cells = len(model.creation_rate)
    count_key = np.concatenate([[-1], model.component_key]).astype(np.int64)
    keep_group = np.vstack([model.attain_group[None, :], model.component_group.reshape(-1, n_cells)])
    kind = model.attain_kind
    pert, beta = kind == PERT, kind == BETA
    a = np.where(pert, model.attain_low, model.attain_base)
    b = np.where(pert, model.attain_base, np.where(beta, model.attain_strength, np.nan))
    c = np.where(pert, model.attain_high, np.nan)
    row, tables = assumption_tables(kind[:, None], a[:, None], b[:, None], c[:, None])
    return (
        count_key,
        np.ascontiguousarray(keep_group, dtype=np.int64),
        kind,
        a,
        b,
        c,
        np.ascontiguousarray(row[:, 0]),
        tables,
        np.asarray(model.attain_loading, dtype=np.float64),
        np.asarray(model.attain_key, dtype=np.int64),
        np.asarray(model.attain_upper, dtype=np.float64),
    )


def component_changes(model, rates, attainment=None, keys=None, loading=None) -> dict:
    """The fields of ``model.with_components(...)`` (see there), checked."""
    n_cells, n_weeks = model.creation_rate.shape
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 3 or rates.shape[1:] != (n_cells, n_weeks):
        raise SimcoreError(f"component rates must be (components, {n_cells}, {n_weeks}), got {rates.shape}")
    if not (np.isfinite(rates) & (rates >= 0)).all():
        raise SimcoreError("component rates must be finite and >= 0 (expected new deals per week)")
    n = rates.shape[0]
    keys = np.arange(n, dtype=np.int64) if keys is None else np.asarray(keys, dtype=np.int64).reshape(-1)
    if keys.shape != (n,) or len(set(keys.tolist())) != n or ((keys < 0) | (keys > MAX_COMPONENT_KEY)).any():
        raise SimcoreError(f"component keys must be {n} distinct whole numbers in [0, {MAX_COMPONENT_KEY}]")
    attainment = [None] * n if attainment is None else list(attainment)
    loading = [0.0] * n if loading is None else [float(x) for x in loading]
    if len(attainment) != n or len(loading) != n:
        raise SimcoreError(f"give one attainment and one loading per component ({n})")
    names = list(model.attain_names)
    fields = {
        "kind": list(model.attain_kind),
        "base": list(model.attain_base),
        "low": list(model.attain_low),
        "high": list(model.attain_high),
        "strength": list(model.attain_strength),
        "loading": list(model.attain_loading),
        "key": list(model.attain_key),
    }
    group = np.full((n, n_cells), -1, dtype=np.int64)
    for j, (value, lo) in enumerate(zip(attainment, loading)):
        if value is None:
            continue
        if isinstance(value, str):
            if value not in names:
                raise SimcoreError(f"component {j}: no attainment group {value!r}; the model has {names}")
            group[j] = names.index(value)
            continue
        if not -1.0 <= lo <= 1.0:
            raise SimcoreError(f"component {j}: attainment loading must be in [-1, 1], got {lo}")
        slot = group_slot(value)
        _check_slot(j, slot)
        for name, x in zip(("kind", "base", "low", "high", "strength"), slot):
            fields[name].append(x)
        fields["loading"].append(lo)
        fields["key"].append(COMPONENT_GROUP_KEY + int(keys[j]))
        names.append(f"component {int(keys[j])}")
        group[j] = len(names) - 1
    return {
        "component_rate": np.ascontiguousarray(rates),
        "component_key": keys,
        "component_group": group,
        "attain_kind": np.asarray(fields["kind"], dtype=np.int8),
        "attain_base": np.asarray(fields["base"], dtype=np.float64),
        "attain_low": np.asarray(fields["low"], dtype=np.float64),
        "attain_high": np.asarray(fields["high"], dtype=np.float64),
        "attain_strength": np.asarray(fields["strength"], dtype=np.float64),
        "attain_loading": np.asarray(fields["loading"], dtype=np.float64),
        "attain_key": np.asarray(fields["key"], dtype=np.int64),
        "attain_upper": upper_bounds(fields["kind"], fields["base"], fields["high"]),
        "attain_names": tuple(names),
    }


def _check_slot(j, slot):
    kind, base, low, high, strength = slot
    ok = math.isfinite(base) and base >= 0
    if kind == PERT:
        ok = ok and 0 <= low <= base <= high < math.inf
    if kind == BETA:
        ok = ok and 0 < base < 1 and 0 < strength < math.inf
    if not ok:
        raise SimcoreError(
            f"component {j}: attainment {slot[1:]} is not a share >= 0 (PERT low <= base <= high)"
        )
