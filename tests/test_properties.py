"""Property tests of the scenario loader: any mutation of a valid scenario either loads or
fails with a :class:`~simcore.errors.ScenarioError` whose every problem names the file and
a field, never with another exception (a KeyError, a TypeError, a numba error...).

A scenario that loads must also compile (:func:`simcore.compile_scenario`): the loader is
the only gate, so nothing it lets through may crash further down.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simcore import ScenarioError, compile_scenario, scenario_from_dict
from simcore.scenario.bank import parse_bank_csv
from simcore.scenario.load import Scenario

ROOT = Path(__file__).resolve().parent.parent
FILE = "mutant.toml"
# Example counts are modest so the suite stays fast; SIMCORE_PROPERTY_SCALE=20 hunts harder.
SCALE = float(os.environ.get("SIMCORE_PROPERTY_SCALE", "1"))


def n(examples):
    return max(1, int(examples * SCALE))


# A small scenario using every part of the format: two dimensions, three stages, per-stage
# rates and conversion, a decision table, amounts with a whale overlay, a creation plan
# list, uncertainty in both forms, a by-level, a cell-level, a bank and variants.
SMALL = {
    "name": "small",
    "description": "property-test base",
    "start": dt.date(2026, 1, 1),
    "end": dt.date(2026, 6, 30),
    "period": "quarter",
    "target": 1_000_000,
    "currency": "USD",
    "dimensions": {"source": ["inbound", "outbound"], "product": ["A", "B"]},
    "stage": [
        {"name": "S1", "category": "pipeline"},
        {"name": "S2", "category": "best_case"},
        {"name": "S3", "category": "commit"},
    ],
    "defaults": {
        "market_loading": 0.2,
        "conversion": {"to_decision": {"low": 0.3, "base": 0.4, "high": 0.5}, "lost_competition_share": 0.4},
        "stages": {
            "S1": {"dwell": {"mean": 10, "cv": 0.5}, "growth": 1.1},
            "S2": {"advance": 0.6, "lost_competition": 0.1, "dwell": {"dist": "gamma", "mean": 12}},
        },
        "decision": {
            "win": {"mean": 0.3, "strength": 40},
            "push": 0.2,
            "lost_competition": 0.25,
            "dwell": {"mean": 20},
            "push_delay": {"dist": "exponential", "mean": 15},
            "win_decay": 0.9,
            "max_pushes": 2,
        },
        "amount": {
            "median": 50_000,
            "p90_ratio": 2.0,
            "whale_probability": 0.05,
            "whale_factor": 3,
            "whale_factor_max": 5,
            "floor": 1_000,
            "cap": 2_000_000,
        },
        "creation": {
            "per": "quarter",
            "dollars": [1_000_000, 1_200_000],
            "process": "negative_binomial",
            "dispersion": 5,
            "seasonality": [1] * 12,
            "uplift": 1.0,
        },
        "cost_per_dollar": 0.02,
    },
    "by": {
        "source": {"outbound": {"creation": {"share": 0.5}, "decision": {"win_loss_push": [1, 2, 1]}}},
        "product": {"B": {"amount": {"empirical": [10_000, 20_000, 80_000]}}},
    },
    "cell": {"inbound/B": {"creation": {"count": 30, "per": "month"}}},
    "bank": {
        "aggregate": [{"source": "inbound", "product": "A", "stage": "S3", "dollars": 300_000, "count": 3}]
    },
    "variants": {"Low": {"description": "lower win", "set": {"defaults.decision.push": 0.1}}},
}


def _fy2026():
    return tomllib.loads((ROOT / "scenarios" / "fy2026.toml").read_text(encoding="utf-8"))


# Junk that a hand-edited file (or a careless --set) can put anywhere.
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([0, 1, -1, 2, 12, 13, 10**30, -(10**30)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 0.5, 1.0, 1.5, -0.5, 1e-300, 1e300]),
    st.text(max_size=8),
    st.sampled_from(["S1", "S3", "inbound", "A", "quarter", "negative_binomial", "gamma", "commit"]),
    st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2040, 12, 31)),
    st.just(dt.datetime(2026, 1, 1, 12, 0)),
    st.lists(st.integers(-3, 3), max_size=4),
    st.lists(st.floats(-1, 2), max_size=13),
    st.builds(list),  # a fresh object each time: st.just would share one
    st.builds(dict),
    st.fixed_dictionaries({"low": st.floats(-1, 2), "base": st.floats(-1, 2), "high": st.floats(-1, 2)}),
    st.fixed_dictionaries({"mean": st.floats(-1, 2), "strength": st.floats(-5, 50)}),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(node, prefix=()):
    """Every (container path, key) pair in a nested dict/list document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix, key
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield prefix, i
            yield from _paths(value, prefix + (i,))


def _container(doc, path):
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def mutated(draw, base):
    """``base`` with one to three random edits: delete, retype, rename, insert junk."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        places = list(_paths(doc))
        if not places:
            break
        path, key = draw(st.sampled_from(places))
        parent = _container(doc, path)
        action = draw(st.sampled_from(["delete", "replace", "rename", "insert", "scale"]))
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(JUNK)
        elif action == "scale" and type(parent[key]) in (int, float):
            parent[key] = parent[key] * draw(st.sampled_from([-1, 0, 1e-9, 0.5, 2, 1e9, 1e300]))
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = parent.pop(key)
        elif action == "insert":
            target = parent[key] if isinstance(parent[key], (dict, list)) else parent
            if isinstance(target, dict):
                target[draw(st.text(min_size=1, max_size=10))] = draw(JUNK)
            else:
                target.append(draw(JUNK))
    return doc


def _check_outcome(doc, **kwargs):
    try:
        sc = scenario_from_dict(doc, name=FILE, **kwargs)
    except ScenarioError as exc:
        assert exc.problems, "a ScenarioError must carry at least one problem"
        for problem in exc.problems:
            assert problem.file == FILE
            assert isinstance(problem.path, str) and problem.path.strip(), problem
            assert isinstance(problem.message, str) and problem.message.strip(), problem
            assert str(problem).startswith(f"{FILE}: {problem.path}: ")
        return None
    assert isinstance(sc, Scenario)
    model = compile_scenario(sc)
    model.kernel_args()  # builds the creation count tables: must not blow up either
    return sc


def test_bases_are_valid():
    assert _check_outcome(SMALL) is not None
    assert _check_outcome(_fy2026()) is not None
    assert _check_outcome(SMALL, variant="Low") is not None


@settings(max_examples=n(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(SMALL))
def test_mutated_small_scenario_loads_or_names_a_field(doc):
    _check_outcome(doc)


@settings(max_examples=n(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(_fy2026()))
def test_mutated_default_scenario_loads_or_names_a_field(doc):
    _check_outcome(doc)


@settings(max_examples=n(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(_fy2026()), st.sampled_from(["Base", "Conservative", "Stretch"]))
def test_mutated_variants_load_or_name_a_field(doc, variant):
    # A mutation may remove the variant itself: that too is a ScenarioError naming `variants`.
    _check_outcome(doc, variant=variant)


SET_PATHS = st.sampled_from(
    [
        "defaults.decision.win",
        "defaults.decision.win_loss_push",
        "defaults.decision.win_loss_push.1",
        'defaults.stages."S1".advance',
        "by.source.inbound.creation.dollars",
        "bank.aggregate.0.count",
        "bank.aggregate.7.count",
        "cell.inbound/A.amount.median",
        "name.first",
        "horizon_weeks",
        "x.y.z",
        "defaults..win",
        ".",
        "defaults.amount",
        "stage.0.name",
        "dimensions.source",
    ]
)


@settings(max_examples=n(100), deadline=None)
@given(st.dictionaries(SET_PATHS, JUNK, min_size=1, max_size=3))
def test_overrides_load_or_name_a_field(overrides):
    _check_outcome(SMALL, overrides=overrides)


CSV_CELLS = st.one_of(
    st.sampled_from(["inbound", "A", "S3", "S1", "100000", "-5", "2026-02-01", "", "x"]), st.text(max_size=6)
)


@settings(max_examples=n(100), deadline=None)
@given(st.lists(st.lists(CSV_CELLS, min_size=0, max_size=7), min_size=0, max_size=4))
def test_bank_csv_rows_parse_or_name_their_line(rows):
    header = "source,product,stage,amount,created,expected_close"
    text = header + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    dims = {"source": ["inbound", "outbound"], "product": ["A", "B"]}
    cells = {("inbound", "A"): 0, ("inbound", "B"): 1, ("outbound", "A"): 2, ("outbound", "B"): 3}
    deals, problems = parse_bank_csv(text, "bank.csv", dims, ["S1", "S2", "S3"], cells, dt.date(2026, 1, 1))
    for problem in problems:
        assert problem.file == "bank.csv"
        assert problem.path.startswith("line ")
    for deal in deals:
        assert deal.amount > 0 and 0 <= deal.cell < 4 and 0 <= deal.stage < 3
