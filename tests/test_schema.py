"""The published JSON Schema (``simcore/scenario.schema.json``) is the one spec.py generates,
is a valid draft 2020-12 schema, accepts every bundled scenario, and rejects what the loader
rejects on the structural cases a schema can see (unknown keys, types, ranges, two forms)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from simcore import ScenarioError, load_scenario, scenario_from_dict
from simcore.cli import main
from simcore.scenario import write_json_schema
from simcore.spec import json_schema

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "simcore" / "scenario.schema.json"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


def as_json(value):
    """A parsed TOML document as JSON would carry it (dates become ISO text)."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SHIPPED.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_shipped_schema_is_the_generated_one(tmp_path):
    assert json.loads(SHIPPED.read_text(encoding="utf-8")) == json_schema(), (
        "simcore/scenario.schema.json is stale: regenerate it with "
        "python -c \"from simcore.scenario import write_json_schema as w; w('simcore/scenario.schema.json')\"")
    # And byte for byte what write_json_schema writes.
    write_json_schema(tmp_path / "schema.json")
    assert (tmp_path / "schema.json").read_bytes() == SHIPPED.read_bytes()


def test_cli_schema_prints_it(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()


def test_there_are_scenarios_to_check():
    assert any(p.name == "fy2026.toml" for p in SCENARIOS)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_bundled_scenario_validates(path, validator):
    doc = as_json(tomllib.loads(path.read_text(encoding="utf-8")))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []
    load_scenario(path)  # and the loader agrees


def _fy2026():
    return tomllib.loads((ROOT / "scenarios" / "fy2026.toml").read_text(encoding="utf-8"))


def _set(doc, path, value):
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


@pytest.mark.parametrize("path, value", [
    (["nmae"], "x"),
    (["defaults", "decison"], {}),
    (["by", "source", "inbound", "creaton"], {}),
    (["defaults", "stages", "Stage 1", "advnce"], 0.5),
    (["target"], "lots"),
    (["defaults", "decision", "win_decay"], 1.5),
    (["by", "product", "BillOps", "amount", "whale_probability"], -0.1),
    (["by", "product", "CMP", "amount", "median"], 0),
    (["defaults", "decision", "max_pushes"], {"low": 1, "base": 2, "high": 3}),
    (["defaults", "conversion", "to_decision"], {"low": 0.4, "high": 0.6}),
    (["defaults", "decision", "win"], 0.3),  # beside win_loss_push: two forms of one field
    (["bank", "aggregate", 0, "count"], 0),
    (["stage", 0, "category"], "maybe"),
    (["period"], "fortnight"),
])
def test_schema_and_loader_both_reject(path, value, validator):
    doc = _set(_fy2026(), path, value)
    assert list(validator.iter_errors(as_json(doc))), "the schema accepted it"
    with pytest.raises(ScenarioError):
        scenario_from_dict(copy.deepcopy(doc))
