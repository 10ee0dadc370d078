"""Fuzzing from the spec's own bounds: values at, just inside and just outside every number
field's range, in every form it takes (number, PERT, Beta, list), at every level of
inheritance, and bank CSV rows at the edges of amounts and dates.

Each generated scenario must either be refused with problems naming the file and a field,
or load, compile and simulate (two trials) to outputs that are all finite. Three failure
classes are counted and must stay at zero: a traceback (any other exception), a hang (a
case over :data:`HANG_SECONDS` kills the run with a dump of the stack, via faulthandler:
a kernel that never returns cannot be interrupted from Python), and a non-finite output.

The default suite runs a few hundred cases; ``pytest -m slow tests/test_fuzz.py`` runs
thousands. ``SIMCORE_FUZZ_REPORT=path.json`` writes the counts the README quotes.
"""

from __future__ import annotations

import atexit
import copy
import datetime as dt
import faulthandler
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simcore import ScenarioError, load_scenario, scenario_from_dict, simulate
from simcore.scenario import reference, spec

FILE = "fuzz.toml"
HANG_SECONDS = 120
COUNTS = {"tried": 0, "rejected": 0, "passed": 0, "traceback": 0, "hang": 0, "non_finite": 0}

BASE = {
    "name": "fuzz",
    "start": dt.date(2026, 1, 1),
    "end": dt.date(2026, 6, 30),
    "target": 1_000_000,
    "dimensions": {"source": ["inbound", "outbound"], "product": ["A"]},
    "stage": [
        {"name": "S1", "category": "pipeline"},
        {"name": "S2", "category": "best_case"},
        {"name": "S3", "category": "commit"},
    ],
    "defaults": {
        "conversion": {"to_decision": 0.4},
        "stages": {"S1": {"dwell": {"mean": 10}}, "S2": {"dwell": {"dist": "gamma", "mean": 12, "cv": 0.5}}},
        "decision": {"win": 0.3, "push": 0.2, "dwell": {"mean": 20}, "max_pushes": 2},
        "amount": {"median": 50_000, "p90_ratio": 2.0},
        "creation": {"per": "quarter", "dollars": 1_000_000},
    },
    "bank": {
        "aggregate": [{"source": "inbound", "product": "A", "stage": "S3", "dollars": 300_000, "count": 3}]
    },
}
LEVELS = (("defaults",), ("by", "source", "outbound"), ("cell", "inbound/A"))


def _edges(node: spec.Number):
    """Values at, just inside and just outside ``node``'s range, and a few ordinary ones."""
    lo, hi = node.minimum, node.maximum
    out = [0.5, 1.0, 2.0, 30.0, 1e-9, 1e6]
    if lo is not None:
        out += [lo, math.nextafter(lo, math.inf), math.nextafter(lo, -math.inf), lo + 1e-300]
    if hi is not None:
        out += [hi, math.nextafter(hi, -math.inf), math.nextafter(hi, math.inf), hi * 0.999]
    if node.integer:
        ints = [int(lo) if lo is not None else 0, int(hi) if hi is not None else 10**6]
        return sorted({*ints, ints[0] + 1, ints[1] - 1, ints[0] - 1, ints[1] + 1, 1, 2, 3})
    return sorted({float(x) for x in out})


@st.composite
def number_value(draw, node):
    """A value for a Number field: plain, or (where allowed) PERT or Beta at the edges."""
    edges = _edges(node)
    forms = (
        ["plain"] + (["pert"] if node.uncertain else []) + (["beta"] if node.beta and node.uncertain else [])
    )
    form = draw(st.sampled_from(forms))
    if form == "plain":
        return draw(st.sampled_from(edges))
    if form == "pert":
        low, base, high = sorted(draw(st.lists(st.sampled_from(edges), min_size=3, max_size=3)))
        return {"low": low, "base": base, "high": high}
    mean = draw(st.sampled_from([5e-324, 1e-300, 1e-9, 0.5, 1 - 2**-53, math.nextafter(1.0, 0.0), 0.0, 1.0]))
    strength = draw(st.sampled_from([spec.MIN_STRENGTH, math.nextafter(spec.MIN_STRENGTH, 0.0), 3.0,
                                     spec.MAX_STRENGTH, math.nextafter(spec.MAX_STRENGTH, math.inf)]))  # fmt: skip
    return {"mean": mean, "strength": strength}


def _block_fields():
    """``(path parts, node)`` of every number field of the parameter block, stage names filled in."""
    out = []
    for path, node in reference.reference_rows(spec.BLOCK):
        if isinstance(node, (spec.Number, spec.NumberOrList)) or (
            isinstance(node, spec.ListOf) and isinstance(node.item, spec.Number)
        ):
            for stage in ("S1", "S2") if "<stage>" in path else (None,):
                out.append((tuple(stage if p == "<stage>" else p for p in path.split(".")), node))
    return out


BLOCK_FIELDS = _block_fields()
TOP_FIELDS = [
    ((path,), node)
    for path, node in reference.reference_rows()
    if isinstance(node, spec.Number) and "." not in path
]
BANK_FIELDS = [(("bank", "aggregate", 0, k), node) for k, node in spec.AGGREGATE_BANK.fields.items() if isinstance(node, spec.Number)]  # fmt: skip


@st.composite
def field_value(draw, node):
    if isinstance(node, spec.NumberOrList):
        if draw(st.booleans()):
            return draw(number_value(node.number))
        return draw(st.lists(number_value(node.number), min_size=1, max_size=3))
    if isinstance(node, spec.ListOf):
        n = node.length or draw(st.integers(1, 3))
        return draw(st.lists(number_value(node.item), min_size=n, max_size=n))
    return draw(number_value(node))


def _put(doc, parts, value):
    node = doc
    for part in parts[:-1]:
        node = node[part] if isinstance(node, list) else node.setdefault(part, {})
        if not isinstance(node, (dict, list)):
            return
    if isinstance(node, dict) or (isinstance(node, list) and parts[-1] < len(node)):
        node[parts[-1]] = value


@st.composite
def edge_scenario(draw):
    """BASE with one to four fields set to values at the edges of their ranges."""
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(["block"] * 6 + ["top", "bank"]))
        if where == "block":
            parts, node = draw(st.sampled_from(BLOCK_FIELDS))
            parts = draw(st.sampled_from(LEVELS)) + parts
        else:
            parts, node = draw(st.sampled_from(TOP_FIELDS if where == "top" else BANK_FIELDS))
        if parts[-1] in ("dollars", "count") and parts[-2] == "creation" and draw(st.booleans()):
            _put(doc, parts[:-1] + ("dollars" if parts[-1] == "count" else "count",), None)
            doc_c = _get(doc, parts[:-1])
            if isinstance(doc_c, dict):
                doc_c.pop("dollars" if parts[-1] == "count" else "count", None)
        if parts[-1] == "horizon_weeks":
            doc.pop("end", None)
        if parts[-1] in ("dispersion",):
            _put(doc, parts[:-1] + ("process",), "negative_binomial")
        if parts[-1] == "cv" and draw(st.booleans()):
            _put(doc, parts[:-1] + ("dist",), draw(st.sampled_from(spec.DWELL_FAMILIES)))
        _put(doc, parts, draw(field_value(node)))
    return doc


def _get(doc, parts):
    for part in parts:
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def _too_many_deals(exc: ScenarioError) -> bool:
    """Whether the compile-time refusal is the count tables' size, for one cell's creation."""
    return all(
        p.path.startswith("cell.") and p.path.endswith(".creation") and "count tables would need" in p.message
        for p in exc.problems
    )


def outcome(load):
    """Load (``load()``), compile and simulate; count and return what happened."""
    COUNTS["tried"] += 1
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    try:
        try:
            sc = load()
        except ScenarioError as exc:
            assert exc.problems and all(p.path.strip() and p.message.strip() for p in exc.problems)
            COUNTS["rejected"] += 1
            return "rejected"
        try:
            ds = simulate(sc, trials=2, seed=1, progress=False)
        except ScenarioError as exc:
            if _too_many_deals(exc):
                # The count tables' size comes from the compiled weekly rates (the plan over the
                # deals' mean amount, seasonality, the attainment's upper bound), which only the
                # engine computes: the run refuses it before allocating, naming the cell's
                # creation, and validation cannot see it without compiling.
                COUNTS["rejected"] += 1
                return "rejected"
            # The compile-time safety net refused what validation let through: clean for a
            # user, but validation should have said it, with the field's own path.
            raise AssertionError(f"validation let through what compile refused: {exc}") from None
    except AssertionError:
        raise
    except Exception:
        COUNTS["traceback"] += 1
        raise
    finally:
        faulthandler.cancel_dump_traceback_later()
    bad = [v for v in ds.data_vars if ds[v].dtype.kind == "f" and not np.isfinite(ds[v].values).all()]
    if bad:
        COUNTS["non_finite"] += 1
        raise AssertionError(f"non-finite outputs {bad}")
    COUNTS["passed"] += 1
    return "passed"


def _write_report():
    path = os.environ.get("SIMCORE_FUZZ_REPORT")
    if path and COUNTS["tried"]:
        Path(path).write_text(json.dumps(COUNTS, indent=2) + "\n", encoding="utf-8")


atexit.register(_write_report)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(
    max_examples=2500, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def test_base_simulates():
    assert outcome(lambda: scenario_from_dict(BASE, name=FILE)) == "passed"


def test_every_number_field_is_fuzzed():
    # The strategies are built from the spec: a new field is fuzzed without editing this file.
    assert len(BLOCK_FIELDS) > 25 and len(TOP_FIELDS) >= 3 and len(BANK_FIELDS) == 2


@FAST
@given(edge_scenario())
def test_edge_values_are_refused_or_simulate_finite(doc):
    outcome(lambda: scenario_from_dict(doc, name=FILE))


@pytest.mark.slow
@SLOW
@given(edge_scenario())
def test_edge_values_many(doc):
    outcome(lambda: scenario_from_dict(doc, name=FILE))


# ---- the bank CSV at the edges of amounts and dates -----------------------------------------

CSV_DIR = Path(tempfile.mkdtemp(prefix="simcore-fuzz-"))
CSV_TOML = """\
name = "csv"
start = 2026-01-01
horizon_weeks = 13
dimensions = { source = ["inbound"] }
stage = [{ name = "S1", category = "pipeline" }, { name = "S2", category = "commit" }]
[defaults]
conversion = { to_decision = 0.5 }
decision = { win = 0.3, push = 0.2 }
amount = { median = 1000 }
creation = { dollars = 0 }
[bank]
csv = "deals.csv"
"""
AMOUNTS = ["0.01", "0.009999", "1e12", "1000000000000.0001", "1e-320", "nan", "inf", "-0", "5e3", "1_000", ""]
DATES = ["", "0001-01-01", "1900-01-01", "2025-12-31", "2026-01-01", "2026-01-02", "9999-12-31", "2026-02-30"]


@st.composite
def bank_csv(draw):
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["inbound", "x", ""]),
                st.sampled_from(["S1", "S2", "S3"]),
                st.sampled_from(AMOUNTS),
                st.sampled_from(DATES),
                st.sampled_from(DATES),
            ),
            min_size=1,
            max_size=4,
        )
    )
    return "source,stage,amount,created,expected_close\n" + "".join(",".join(r) + "\n" for r in rows)


def _load_csv(text):
    (CSV_DIR / "plan.toml").write_text(CSV_TOML, encoding="utf-8")
    (CSV_DIR / "deals.csv").write_text(text, encoding="utf-8")
    return load_scenario(CSV_DIR / "plan.toml")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bank_csv())
def test_bank_csv_edges_are_refused_or_simulate_finite(text):
    outcome(lambda: _load_csv(text))


@pytest.mark.slow
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bank_csv())
def test_bank_csv_edges_many(text):
    outcome(lambda: _load_csv(text))
