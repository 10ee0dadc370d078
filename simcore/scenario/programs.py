"""Programs: the ``[[program]]`` and ``[[program_group]]`` tables, declared and resolved.

A program is a decision a plan can fund: it feeds the cells of some dimension values
(``feeds = {source = "outbound", segment = "enterprise"}``), costs a fixed amount plus an
amount per month from its start, adds creation (dollars or a count per period) that ramps
linearly from its start to full effect over ``ramp_months``, and may lift a rate (a stage's
advance rate or the win rate) in the cells it feeds. Groups say which programs exclude each
other (at most one of an exclusive group); ``requires`` says which need another.

The declarations here are part of the scenario format (:mod:`simcore.scenario.spec` lists
them in its ``SCENARIO`` table); :func:`resolve_programs` turns valid tables into frozen
:class:`Program` s, with the checks that need the rest of the scenario (dimension values,
the horizon, the cells' rates), each a ``(path, message)`` problem.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from simcore.scenario.nodes import (
    MAX_ATTAINMENT,
    MAX_NAME_LENGTH,
    MAX_OPPORTUNITIES_PER_CELL,
    MAX_TOTAL_DOLLARS,
    Date,
    ListOf,
    MapOf,
    Node,
    Number,
    Table,
    Text,
    _type_name,
    expected,
    text_problem,
)
from simcore.scenario.values import BetaRate, Pert

__all__ = ["GROUP", "PROGRAM", "Program", "RateLift", "resolve_programs"]

#: Days in an average month: a program's ramp and its monthly cost use it.
MONTH_DAYS = 365.25 / 12.0
MAX_PROGRAMS = 200
LIFT_PARAMETERS = ("win", "advance")
PER = ("week", "month", "quarter", "year")
_PER_DAYS = {"week": 7.0, "month": MONTH_DAYS, "quarter": 3 * MONTH_DAYS, "year": 365.25}


class OneOrMany(Node):
    """A dimension value, or a list of them."""

    def __init__(self, doc=""):
        self.doc = doc

    def check(self, value, path, ctx, out):
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not value:
            out.append((path, "must name at least one value"))
        for i, item in enumerate(items):
            where = path + [i] if isinstance(value, list) else path
            if not isinstance(item, str):
                out.append((where, f"must be text, got {_type_name(item)}"))
            elif (problem := text_problem(item, name=True)) is not None:
                out.append((where, problem))

    def schema(self):
        text = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH}
        return {"anyOf": [text, {"type": "array", "items": text, "minItems": 1}], "description": self.doc}


PROGRAM = Table(
    {
        "name": Text("program name (unique)", name=True),
        "description": Text("what the program is", max_len=10_000),
        "feeds": MapOf(
            OneOrMany(),
            'the dimension values it feeds, e.g. {source = "outbound", segment = "enterprise"}; '
            "a dimension left out: all its values",
            keys="dimension_names",
            key_doc="dimension",
        ),
        "start": Date("the day it starts (default: the plan's start)"),
        "ramp_months": Number(
            "months from its start to full effect (linear ramp; default 0: full effect at once)", 0.0, 1200.0
        ),
        "cost": Table(
            {
                "fixed": Number("one-off cost, in dollars", 0.0, MAX_TOTAL_DOLLARS),
                "per_month": Number(
                    "running cost per month from its start, in dollars", 0.0, MAX_TOTAL_DOLLARS
                ),
            },
            "what it costs inside the horizon",
        ),
        "creation": Table(
            {
                "per": Text("the period the number is for: week, month (default), quarter or year", PER),
                "dollars": Number(
                    "pipeline dollars it adds per period at full effect", 0.0, MAX_TOTAL_DOLLARS
                ),
                "count": Number(
                    "opportunities it adds per period at full effect", 0.0, MAX_OPPORTUNITIES_PER_CELL
                ),
                "attainment": Number(
                    "share of it actually delivered: a number, a PERT {low, base, high} or a Beta "
                    "{mean, strength}, drawn once per trial for the program (its own draw, not the plan's)",
                    0.0,
                    MAX_ATTAINMENT,
                    uncertain=True,
                    beta=True,
                ),
                "attainment_loading": Number(
                    "correlation of the program's attainment with the market factor, in [-1, 1]", -1.0, 1.0
                ),
            },
            "the creation it adds, split over the cells it feeds in proportion to their own plans",
            two_forms=[(("dollars",), ("count",))],
        ),
        "effects": ListOf(
            Table(
                {
                    "parameter": Text("the rate it lifts: win, or advance (with stage)", LIFT_PARAMETERS),
                    "stage": Text("the stage whose advance rate it lifts", context_choices="stages"),
                    "lift": Number(
                        "the amount added to the rate (may be uncertain {low, base, high})",
                        -1.0,
                        1.0,
                        uncertain=True,
                    ),
                },
                "a rate lift in the cells it feeds",
                required=("parameter", "lift"),
            ),
            "rate effects, e.g. an enablement program lifting the win rate by {low, base, high}",
        ),
        "requires": ListOf(Text(name=True), "programs that must be funded for this one to be", unique=True),
    },
    "a program the plan may fund: creation it adds and rates it lifts, at a cost, from a start, with a ramp",
    required=("name",),
)

GROUP = Table(
    {
        "name": Text("group name", name=True),
        "exclusive": ListOf(
            Text(name=True), "programs of which at most one may be funded", min_len=2, unique=True
        ),
    },
    "programs that exclude each other",
    required=("name", "exclusive"),
)


@dataclass(frozen=True)
class RateLift:
    """A program's lift of one rate in the cells it feeds.

    Attributes
    ----------
    parameter : str
        ``"win"`` or ``"advance"``.
    stage : int or None
        Index of the stage whose advance rate is lifted (``None`` for ``win``).
    lift : float or Pert
        The amount added to the rate.
    """

    parameter: str
    stage: int | None
    lift: float | Pert


@dataclass(frozen=True)
class Program:
    """One resolved ``[[program]]``.

    Attributes
    ----------
    name, description : str
    feeds : tuple
        ``((dimension, (value, ...)), ...)`` as declared.
    cells : tuple of int
        Indices into ``Scenario.cells`` of the cells it feeds.
    start_day : int
        Its start, in days from the plan's start (negative: it is already running).
    ramp_days : float
        Days from its start to full effect (linear).
    fixed_cost, cost_per_month : float
    creation_kind : str or None
        ``"dollars"``, ``"count"`` or ``None`` (no creation).
    creation_per_day : float
        The creation at full effect, per day.
    effects : tuple of RateLift
    requires : tuple of str
    key : int
        Its place in the file: the key of its creation's random-number streams, so its deals
        are the same whichever other programs are funded.
    attainment : float, Pert, BetaRate or None
        Share of its creation delivered, drawn once per trial (None: as planned).
    attainment_loading : float
        Loading of that draw on the market factor.
    """

    name: str
    description: str
    feeds: tuple
    cells: tuple
    start_day: int
    ramp_days: float
    fixed_cost: float
    cost_per_month: float
    creation_kind: str | None
    creation_per_day: float
    effects: tuple
    requires: tuple
    key: int = 0
    attainment: float | Pert | BetaRate | None = None
    attainment_loading: float = 0.0

    def effect(self, day):
        """Share of full effect at ``day`` (days from the plan's start; a number or an array):
        0 before the start, then a linear ramp to 1 over ``ramp_days``.

        Examples
        --------
        >>> import numpy as np
        >>> p = Program("x", "", (), (0,), 10, 20.0, 0.0, 0.0, None, 0.0, (), ())
        >>> p.effect(np.array([0, 10, 20, 30, 40])).tolist()
        [0.0, 0.0, 0.5, 1.0, 1.0]
        """
        import numpy as np  # lazily: `simcore validate` reads programs but draws no effect

        t = np.asarray(day, dtype=np.float64) - self.start_day
        if self.ramp_days <= 0:
            return (t >= 0).astype(np.float64)
        return np.clip(t / self.ramp_days, 0.0, 1.0)

    def cost(self, horizon_days: int) -> float:
        """What it costs inside a horizon of ``horizon_days``: fixed plus the months it runs.

        Examples
        --------
        >>> round(Program("x", "", (), (0,), 0, 0.0, 100.0, 10.0, None, 0.0, (), ()).cost(365), 2)
        219.92
        """
        days = max(0.0, horizon_days - max(self.start_day, 0))
        return self.fixed_cost + self.cost_per_month * days / MONTH_DAYS


def _cells_fed(feeds, dims, cells):
    """Indices of the cells whose values match every fed dimension."""
    names = list(dims)
    return tuple(
        c for c, cell in enumerate(cells) if all(cell[names.index(d)] in values for d, values in feeds)
    )


def _lift_problems(lift, value, where, push=None):
    """Problems of adding ``lift`` to a cell's rate ``value`` (a number, Pert or BetaRate)."""
    if value is None:
        return [f"{where} is set by conversion.to_decision, not a rate of its own: it cannot be lifted"]
    if isinstance(value, BetaRate) and isinstance(lift, Pert):
        return [
            f"{where} is a Beta {{mean, strength}}: an uncertain lift needs the rate as {{low, base, high}}"
        ]
    lo_v = value.low if isinstance(value, Pert) else value.mean if isinstance(value, BetaRate) else value
    hi_v = value.high if isinstance(value, Pert) else value.mean if isinstance(value, BetaRate) else value
    lo_l = lift.low if isinstance(lift, Pert) else lift
    hi_l = lift.high if isinstance(lift, Pert) else lift
    room = 1.0
    if push is not None:
        room -= push.high if isinstance(push, Pert) else push.mean if isinstance(push, BetaRate) else push
    if hi_v + hi_l > room + 1e-12:
        return [f"lifts {where} to {hi_v + hi_l:g}, above {room:g} (the most it can be)"]
    if lo_v + lo_l < 0:
        return [f"lowers {where} to {lo_v + lo_l:g}, below 0"]
    return []


def _effects(raw_effects, path, cells, params, stage_names, problems):
    out = []
    for i, e in enumerate(raw_effects):
        where = path + ["effects", i]
        lift = e["lift"]
        lift = (
            Pert(float(lift["low"]), float(lift["base"]), float(lift["high"]))
            if isinstance(lift, dict)
            else float(lift)
        )
        stage = None
        if e["parameter"] == "advance":
            if "stage" not in e:
                problems.append((where + ["stage"], "an advance lift names its stage"))
                continue
            stage = stage_names.index(e["stage"])
            if stage == len(stage_names) - 1:
                problems.append(
                    (where + ["stage"], f"{e['stage']!r} is the decision stage: lift win instead")
                )
                continue
        elif "stage" in e:
            problems.append((where + ["stage"], "only an advance lift names a stage"))
            continue
        seen = set()
        for c in cells:
            p = params[c]
            if stage is None:
                found = _lift_problems(lift, p.decision.win, "the win rate", p.decision.push)
            else:
                found = _lift_problems(lift, p.stages[stage].advance, f"the advance rate of {e['stage']!r}")
            for msg in found:
                if msg not in seen:
                    seen.add(msg)
                    problems.append((where + ["lift"], msg))
        out.append(RateLift(e["parameter"], stage, lift))
    return tuple(out)


def _one(raw, i, dims, cells, params, stage_names, start, horizon_days, problems):
    path = ["program", i]
    feeds = []
    for dim, values in (raw.get("feeds") or {}).items():
        values = tuple(values) if isinstance(values, list) else (values,)
        for v in values:
            if v not in dims[dim]:
                problems.append((path + ["feeds", dim], f"unknown {dim} {v!r}{expected(v, dims[dim])}"))
        feeds.append((dim, values))
    fed = _cells_fed(feeds, dims, cells)
    begin = raw.get("start", start)
    start_day = (begin - start).days
    if start_day >= horizon_days:
        problems.append((path + ["start"], f"starts on {begin}, after the plan's last day"))
    ramp_days = float(raw.get("ramp_months", 0.0)) * MONTH_DAYS
    if ramp_days > horizon_days:
        problems.append(
            (
                path + ["ramp_months"],
                f"a ramp of {raw['ramp_months']:g} months is longer than the horizon ({horizon_days} days)",
            )
        )
    cost = raw.get("cost") or {}
    cr = raw.get("creation") or {}
    kind = "dollars" if "dollars" in cr else "count" if "count" in cr else None
    per_day = float(cr.get(kind, 0.0)) / _PER_DAYS[cr.get("per", "month")] if kind else 0.0
    effects = _effects(raw.get("effects") or [], path, fed, params, stage_names, problems)
    if not kind and not effects:
        problems.append((path, "adds no creation and lifts no rate: give creation or effects"))
    if "attainment_loading" in cr and "attainment" not in cr:
        problems.append(
            (path + ["creation", "attainment_loading"], "an attainment_loading without an attainment to load")
        )
    return Program(
        name=raw["name"],
        description=str(raw.get("description", "")),
        feeds=tuple(feeds),
        cells=fed,
        start_day=start_day,
        ramp_days=ramp_days,
        fixed_cost=float(cost.get("fixed", 0.0)),
        cost_per_month=float(cost.get("per_month", 0.0)),
        creation_kind=kind,
        creation_per_day=per_day,
        effects=effects,
        requires=tuple(raw.get("requires") or ()),
        key=i,
        attainment=_share(cr.get("attainment")),
        attainment_loading=float(cr.get("attainment_loading", 0.0)),
    )


def _share(value):
    """A checked attainment: None, a number, a Pert or a BetaRate."""
    if value is None:
        return None
    if isinstance(value, dict) and "low" in value:
        return Pert(float(value["low"]), float(value["base"]), float(value["high"]))
    if isinstance(value, dict):
        return BetaRate(float(value["mean"]), float(value["strength"]))
    return float(value)


def _requires_cycle(programs) -> list | None:
    """A cycle of ``requires`` (as a list of names), or None."""
    needs = {p.name: p.requires for p in programs}
    state = {}

    def visit(name, trail):
        state[name] = 1
        for other in needs.get(name, ()):
            if state.get(other) == 1:
                return trail[trail.index(other) :] + [other] if other in trail else [name, other]
            if other in needs and not state.get(other):
                found = visit(other, trail + [other])
                if found:
                    return found
        state[name] = 2
        return None

    for name in needs:
        if not state.get(name):
            found = visit(name, [name])
            if found:
                return found
    return None


def resolve_programs(raw, dims, cells, params, stage_names, start: _dt.date, horizon_days: int):
    """The scenario's programs and groups, resolved; with the problems found.

    Parameters
    ----------
    raw : dict
        The checked scenario document.
    dims : dict
        Dimension -> its values.
    cells : tuple
        The scenario's cells (tuples of values).
    params : sequence of CellParams
        The cells' resolved parameters (the rates a lift adds to).
    stage_names : list of str
    start : datetime.date
    horizon_days : int

    Returns
    -------
    (tuple of Program, tuple of (str, tuple of str), list of (path, message))
        The programs, the exclusive groups ``(name, programs)`` and the problems.
    """
    problems = []
    raws = raw.get("program") or []
    if len(raws) > MAX_PROGRAMS:
        return (), (), [(["program"], f"at most {MAX_PROGRAMS} programs, got {len(raws)}")]
    programs = [
        _one(r, i, dims, cells, params, stage_names, start, horizon_days, problems)
        for i, r in enumerate(raws)
    ]
    names = [p.name for p in programs]
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append((["program", i, "name"], f"program {name!r} is declared twice"))
    for i, p in enumerate(programs):
        for other in p.requires:
            if other not in names:
                problems.append(
                    (["program", i, "requires"], f"unknown program {other!r}{expected(other, names)}")
                )
            elif other == p.name:
                problems.append((["program", i, "requires"], f"program {other!r} requires itself"))
    if not problems and (cycle := _requires_cycle(programs)):
        problems.append((["program"], "programs require each other in a cycle: " + " -> ".join(cycle)))
    groups = []
    for i, g in enumerate(raw.get("program_group") or []):
        for name in g["exclusive"]:
            if name not in names:
                problems.append(
                    (["program_group", i, "exclusive"], f"unknown program {name!r}{expected(name, names)}")
                )
        groups.append((g["name"], tuple(g["exclusive"])))
    for i, (gname, members) in enumerate(groups):
        for p in programs:
            both = [r for r in p.requires if r in members] + ([p.name] if p.name in members else [])
            if len(set(both)) > 1:
                problems.append(
                    (
                        ["program_group", i],
                        f"program {p.name!r} needs {' and '.join(sorted(set(both)))}, "
                        f"which group {gname!r} says exclude each other",
                    )
                )
    return tuple(programs), tuple(groups), problems
