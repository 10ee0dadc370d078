"""Checks of a scenario document as a whole, before any cell is resolved.

The field declarations (:mod:`simcore.scenario.spec`) check each field on its own; what they
cannot check is here: names used in one table and declared in another (``by.<dimension>``
values, stages), the dates and the horizon, the number of cells, reserved names.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math

from simcore.errors import Problem, format_path
from simcore.scenario import spec
from simcore.variables import RESERVED_NAMES


def is_date(value) -> bool:
    """Whether ``value`` is a TOML date (not a date-time)."""
    # A TOML date-time is a datetime, itself a date: spec.Date rejects it, and so must we here.
    return isinstance(value, _dt.date) and not isinstance(value, _dt.datetime)


def document_context(raw) -> dict:
    """The declared names a field check needs: stages, open stages, dimensions and cells."""
    ctx = {}
    # Names are checked against the declarations only where those are themselves valid:
    # a broken declaration is reported once, not again at every use of its names.
    stages = raw.get("stage")
    if (
        isinstance(stages, list)
        and stages
        and all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in stages)
    ):
        names = [s["name"] for s in stages]
        ctx["stages"] = names
        ctx["open_stages"] = names[:-1]
    dims = raw.get("dimensions")
    if isinstance(dims, dict) and dims:
        ctx["dimension_names"] = list(dims)
        valid = {
            k: v for k, v in dims.items() if isinstance(v, list) and v and all(isinstance(x, str) for x in v)
        }
        ctx["dimension_values"] = valid
        # The product is only built when it is small: 8 dimensions of 1,000 values would be
        # 10**24 cells, reported by _build instead of exhausting memory here.
        if len(valid) == len(dims) and math.prod(len(v) for v in valid.values()) <= spec.MAX_CELLS:
            ctx["cell_names"] = ["/".join(c) for c in itertools.product(*valid.values())]
    return ctx


def document_problems(raw, name, ctx) -> list:
    """What the declarations cannot check field by field: names across tables, dates, the horizon."""
    problems = []
    n_cells = math.prod(len(v) for v in ctx.get("dimension_values", {}).values())
    if n_cells > spec.MAX_CELLS:
        problems.append(
            Problem(
                name,
                "dimensions",
                f"{n_cells:,} cells (combinations of dimension values) is more than the limit of "
                f"{spec.MAX_CELLS:,}: merge values, or split the plan into scenarios",
            )
        )
    # by.<dimension>.<value>: the values must be the dimension's.
    for dim, table in (raw.get("by") or {}).items() if isinstance(raw.get("by"), dict) else []:
        allowed = ctx.get("dimension_values", {}).get(dim)
        if allowed is None or not isinstance(table, dict):
            continue
        for value in table:
            if value not in allowed:
                problems.append(
                    Problem(
                        name,
                        format_path(["by", dim, value]),
                        f"unknown {dim} {value!r}{spec.expected(value, allowed)}",
                    )
                )
    problems += _share_problems(raw, name, ctx)
    stages = raw.get("stage") if isinstance(raw.get("stage"), list) else []
    seen = set()
    for i, st in enumerate(stages):
        if isinstance(st, dict) and isinstance(st.get("name"), str):
            if st["name"] in seen:
                problems.append(
                    Problem(
                        name, format_path(["stage", i, "name"]), f"stage {st['name']!r} is declared twice"
                    )
                )
            seen.add(st["name"])
    if "end" in raw and "horizon_weeks" in raw:
        problems.append(Problem(name, "end", "give either end or horizon_weeks, not both"))
    elif is_date(raw.get("start")) and is_date(raw.get("end")):
        if raw["end"] < raw["start"]:
            problems.append(Problem(name, "end", f"end {raw['end']} is before start {raw['start']}"))
        elif (raw["end"] - raw["start"]).days + 1 > 7 * spec.MAX_HORIZON_WEEKS:
            problems.append(
                Problem(
                    name,
                    "end",
                    f"the plan from {raw['start']} to {raw['end']} is longer "
                    f"than {spec.MAX_HORIZON_WEEKS:,} weeks (about {spec.MAX_HORIZON_WEEKS // 52} years)",
                )
            )
    latest_start_year = _dt.MAXYEAR - spec.MAX_HORIZON_WEEKS // 52 - 2  # room for the calendar's periods
    if is_date(raw.get("start")) and raw["start"].year > latest_start_year:
        problems.append(Problem(name, "start", f"start {raw['start']} is too far in the future"))
    elif is_date(raw.get("start")) and raw["start"] < spec.EARLIEST_START:
        problems.append(
            Problem(
                name, "start", f"start {raw['start']} is before {spec.EARLIEST_START}: a typo for the year?"
            )
        )
    if isinstance(raw.get("dimensions"), dict) and not raw["dimensions"]:
        problems.append(
            Problem(name, "dimensions", 'declare at least one dimension, e.g. source = ["inbound"]')
        )
    for dim in raw.get("dimensions") or {} if isinstance(raw.get("dimensions"), dict) else {}:
        if dim in RESERVED_NAMES:
            problems.append(
                Problem(
                    name,
                    format_path(["dimensions", dim]),
                    f"{dim!r} is already a dimension or variable of the results; "
                    f"give this dimension another name",
                )
            )
    return problems


# How far the shares that split a plan may add up from 1: room for 0.333 x 3, not for a typo.
SHARE_SUM_TOLERANCE = 0.005


def _share_problems(raw, name, ctx) -> list:
    """``by.<dimension>.<value>.creation.share`` given for every value of a dimension splits the
    plan: the shares must add to 1, or the plan is silently scaled by their sum.
    """
    problems = []
    by = raw.get("by") if isinstance(raw.get("by"), dict) else {}
    for dim, values in ctx.get("dimension_values", {}).items():
        tables = by.get(dim) if isinstance(by.get(dim), dict) else {}
        shares = {}
        for value in values:
            creation = (
                (tables.get(value) or {}).get("creation") if isinstance(tables.get(value), dict) else None
            )
            share = creation.get("share") if isinstance(creation, dict) else None
            if isinstance(share, (int, float)) and not isinstance(share, bool) and math.isfinite(share):
                shares[value] = float(share)
        if len(values) < 2 or len(shares) < len(values):
            continue
        total = math.fsum(shares.values())
        if abs(total - 1.0) > SHARE_SUM_TOLERANCE:
            listed = " + ".join(f"{v} {s:g}" for v, s in shares.items())
            problems.append(
                Problem(
                    name,
                    format_path(["by", dim]),
                    f"creation.share of every {dim} adds to {total:.4g} ({listed}), not 1: shares that "
                    f"split a plan add to 1 (to scale creation, use creation.uplift)",
                )
            )
    return problems
