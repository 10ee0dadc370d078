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
from simcore.cli.app import main
from simcore.scenario.load import write_json_schema
from simcore.scenario.params import Duration
from simcore.scenario.reference import json_schema

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
        'python -c "from simcore.scenario.load import write_json_schema as w; '
        "w('simcore/scenario.schema.json')\""
    )
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


@pytest.mark.parametrize(
    "path, value",
    [
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
        (["defaults", "decision", "win_loss_push"], [1, 2, 1]),  # beside win/push: two forms of one field
        (["bank", "aggregate", 0, "count"], 0),
        (["stage", 0, "category"], "maybe"),
        (["period"], "fortnight"),
    ],
)
def test_schema_and_loader_both_reject(path, value, validator):
    doc = _set(_fy2026(), path, value)
    assert list(validator.iter_errors(as_json(doc))), "the schema accepted it"
    with pytest.raises(ScenarioError):
        scenario_from_dict(copy.deepcopy(doc))


# ---- docs/scenario-format.md: the reference for scenario authors ------------------------------

DOC = ROOT / "docs" / "scenario-format.md"
BEGIN = "<!-- BEGIN GENERATED REFERENCE"
END = "<!-- END GENERATED REFERENCE -->"


def test_doc_field_reference_is_generated_from_spec():
    from simcore.scenario.reference import reference_markdown

    text = DOC.read_text(encoding="utf-8")
    start = text.index("\n", text.index(BEGIN)) + 1
    section = text[start : text.index(END)]
    assert section.strip() == reference_markdown().strip(), (
        "docs/scenario-format.md's field reference is stale: replace the text between the BEGIN/END "
        "GENERATED REFERENCE markers with simcore.scenario.reference.reference_markdown()"
    )


def test_every_field_of_spec_appears_in_the_doc():
    from simcore.scenario.reference import reference_rows
    from simcore.scenario.spec import AGGREGATE_BANK, BLOCK

    text = DOC.read_text(encoding="utf-8")
    paths = [
        path
        for path, _ in [
            *reference_rows(),
            *reference_rows(BLOCK),
            *reference_rows(AGGREGATE_BANK, "bank.aggregate[]"),
        ]
    ]
    assert len(paths) > 90 and "decision.win_loss_push" in paths and "creation.dispersion" in paths
    missing = [p for p in paths if f"`{p}`" not in text]
    assert missing == []


def test_doc_explains_what_the_issue_asks():
    text = DOC.read_text(encoding="utf-8")
    for words in (
        "defaults -> by -> cell",
        "geometrically",
        "win_loss_push",
        "{low, base, high}",
        "{ mean = 0.25, strength = 40 }",
        "Losses cannot be\nuncertain",
        "market factor",
        "negative binomial",
        "normalised to average 1",
        "renewal theory",
        "length-biased",
        "decides first at that date",
        "slipped",
        "whole horizon",
        "simulate_trials",
        "_dwell",
    ):
        assert words in text, words


def test_documented_defaults_are_the_loaders():
    # A scenario that sets only what has no default: everything else takes the documented value.
    raw = {
        "name": "d",
        "start": dt.date(2026, 1, 1),
        "dimensions": {"source": ["a"]},
        "stage": [{"name": "S1", "category": "pipeline"}, {"name": "S2", "category": "commit"}],
        "defaults": {
            "stages": {"S1": {"advance": 0.5}},
            "decision": {"win": 0.3},
            "amount": {"median": 1000.0},
            "creation": {"dollars": 1e5},
        },
    }
    sc = scenario_from_dict(raw)
    p = sc.params[0]
    assert sc.horizon_days == 52 * 7 and sc.fiscal_year_start_month == 1
    assert sc.period == "quarter" and sc.currency == "USD"
    assert p.entry_stage == 0 and p.market_loading == 0 and p.cost_per_dollar == 1
    stage = p.stages[0]
    assert stage.growth == 1 and stage.dwell == Duration("lognormal", 30.0, 0.5)
    assert stage.lost_competition_share == 0.5
    d = p.decision
    assert d.push == 0 and d.win_decay == 1 and d.max_pushes == 3
    assert d.lost_competition_share == 0.5
    assert d.dwell == d.push_delay == Duration("lognormal", 30.0, 0.5)
    a = p.amount
    assert (a.sigma, a.whale_probability, a.whale_factor) == (0, 0, 1)
    assert (a.floor, a.cap) == (0, float("inf"))
    c = p.creation
    assert (c.per, c.share, c.process, c.uplift) == ("year", 1, "poisson", 1)
    assert c.seasonality == (1.0,) * 12
    # decision.lost_competition_share defaults to conversion.lost_competition_share.
    raw["defaults"]["conversion"] = {"lost_competition_share": 0.3}
    assert scenario_from_dict(raw).params[0].decision.lost_competition_share == 0.3
