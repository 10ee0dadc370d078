"""What the scenario format's declarations render to: the JSON Schema and the field reference.

:mod:`simcore.scenario.spec` declares every field once; this module writes them out for
editors (``simcore/scenario.schema.json``, ``simcore schema``) and for people (the generated
field reference of ``docs/scenario-format.md``). ``tests/test_schema.py`` holds both files to it.
"""

from __future__ import annotations

from simcore.scenario.nodes import Date, ListOf, MapOf, Number, NumberOrList, Table, Text
from simcore.scenario.spec import AGGREGATE_BANK, BLOCK, SCENARIO, NumberOrCategories, default_text


def json_schema():
    """The JSON Schema (draft 2020-12) of scenario files, generated from this module."""
    schema = SCENARIO.schema()
    bank_row = {
        "type": "object",
        "properties": {k: v.schema() for k, v in AGGREGATE_BANK.fields.items()},
        "required": list(AGGREGATE_BANK.required),
        "additionalProperties": {"type": "string"},
        "description": AGGREGATE_BANK.doc,
    }
    schema["properties"]["bank"]["properties"]["aggregate"]["items"] = bank_row
    schema["properties"]["variants"]["additionalProperties"]["properties"]["set"]["additionalProperties"] = {}
    # The parameter block is declared once and referenced at each level of inheritance.
    block = {"$ref": "#/$defs/block"}
    schema["properties"]["defaults"] = block
    schema["properties"]["by"]["additionalProperties"] = {"type": "object", "additionalProperties": block}
    schema["properties"]["cell"]["additionalProperties"] = block
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://simcore.dev/scenario.schema.json",
        "title": "simcore scenario",
        **schema,
        "$defs": {"block": BLOCK.schema()},
    }


def _kind(node):
    if isinstance(node, Number):
        kind = "probability" if node.rate else "whole number" if node.integer else "number"
        if node.uncertain:
            kind += " or {low, base, high}" + (" or {mean, strength}" if node.beta else "")
        return kind
    if isinstance(node, NumberOrList):
        return "number, or a list with one per period"
    if isinstance(node, NumberOrCategories):
        return "number, or a table by forecast category"
    if isinstance(node, Text):
        return (
            "one of " + ", ".join(node.choices)
            if node.choices
            else (f"a name from {node.context_choices}" if node.context_choices else "text")
        )
    if isinstance(node, Date):
        return "date (YYYY-MM-DD, unquoted)"
    if isinstance(node, ListOf):
        size = f"{node.length} " if node.length else ""
        return f"list of {size}{_kind(node.item) if not isinstance(node.item, Table) else 'tables'}"
    if isinstance(node, (Table, MapOf)):
        return "table"
    return "any"


def _range(node):
    if isinstance(node, (NumberOrList, NumberOrCategories)):
        node = node.number
    if isinstance(node, ListOf) and isinstance(node.item, Number):
        node = node.item
    if isinstance(node, Number) and (node.minimum is not None or node.maximum is not None):
        return node.bounds_text()
    return ""


_KEY_NAMES = {"open_stages": "<stage>", "dimension_names": "<dimension>", "cell_names": '"<cell>"'}


def reference_rows(node=None, prefix=""):
    """``(path, node)`` of every field, depth first (``<stage>`` etc. stand for names)."""
    node = SCENARIO if node is None else node
    if isinstance(node, Table):
        for key, child in node.fields.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path, child
            if child is not BLOCK or node is BLOCK:  # the block is listed once, under its own heading
                yield from reference_rows(child, path)
    elif isinstance(node, MapOf) and node.value is not BLOCK and not isinstance(node.value, MapOf):
        yield from reference_rows(node.value, f"{prefix}.{_KEY_NAMES.get(node.keys, '<name>')}")
    elif isinstance(node, ListOf) and isinstance(node.item, Table):
        yield from reference_rows(node.item, f"{prefix}[]")


def _table(rows):
    out = ["| field | type | range | default | meaning |", "|---|---|---|---|---|"]
    for path, node in rows:
        default = default_text(path)
        doc = (node.doc or "").replace("|", "\\|")
        out.append(f"| `{path}` | {_kind(node)} | {_range(node)} | {default} | {doc} |")
    return "\n".join(out)


def reference_markdown():
    """The field reference of docs/scenario-format.md (Markdown tables)."""
    own_sections = ("bank", "funnel", "optimize", "variants")
    top = [(p, n) for p, n in reference_rows() if not p.startswith(own_sections)]
    sections = [
        ("Top level", top),
        (
            'Parameter block (`defaults`, `by.<dimension>.<value>`, `cell."<cell>"`)',
            list(reference_rows(BLOCK)),
        ),
        (
            "Aggregate bank rows (`[[bank.aggregate]]`, plus one key per dimension)",
            list(reference_rows(AGGREGATE_BANK, "bank.aggregate[]")),
        ),
    ]
    rest = [(p, n) for p, n in reference_rows() if p.startswith(("bank", "funnel", "optimize", "variants"))]
    for name in ("bank", "funnel", "optimize", "variants"):
        rows = [(p, n) for p, n in rest if p.split(".")[0] == name]
        if rows:
            sections.append((f"`{name}`", rows))
    return "\n\n".join(f"### {title}\n\n{_table(rows)}" for title, rows in sections) + "\n"
