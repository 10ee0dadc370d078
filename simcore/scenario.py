"""Scenario files: load, override, validate and resolve every parameter per cell.

A scenario is TOML (format reference: ``docs/scenario-format.md``, JSON Schema:
``simcore/scenario.schema.json``). Loading checks the whole file and reports every
problem at once, each naming the file, the field path and what is wrong
(:class:`~simcore.errors.ScenarioError`); nothing downstream ever sees bad input.

Parameters are resolved per cell (one combination of dimension values):
``defaults``, then ``by.<dimension>.<value>`` for each dimension in the order the
scenario declares them, then ``cell."<a>/<b>"``; the most specific level wins, field
by field. Where a field has two forms (``win_loss_push`` or ``win``/``push``/...,
``empirical`` or ``median``, ``sigma`` or ``p90_ratio``, ``dollars`` or ``count``), the
form set at the most specific level wins.
"""

from __future__ import annotations

import copy
import csv
import datetime as _dt
import hashlib
import io
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import spec
from .calendar import periods as make_periods
from .errors import Problem, ScenarioError, SimcoreError, format_path
from .variables import RESERVED_NAMES

_TOL = 1e-6
# conversion.to_decision and advance rates that leave it nothing to set must agree this closely
# (a rate rounded to a tenth of a percent, on each of a few stages, still agrees).
_AGREE_TOL = 0.005


@dataclass(frozen=True)
class Uncertain:
    """An assumption drawn once per trial and cell.

    ``kind`` is ``"pert"`` (``a, b, c`` = low, base, high) or ``"beta"`` (``a`` = mean,
    ``b`` = strength).
    """

    kind: str
    a: float
    b: float
    c: float = math.nan

    @property
    def base(self) -> float:
        """The planning value: PERT's base, Beta's mean."""
        return self.b if self.kind == "pert" else self.a

    @property
    def mean(self) -> float:
        """Expected value of the draw."""
        if self.kind == "pert":
            return (self.a + 4.0 * self.b + self.c) / 6.0
        return self.a


def base(value) -> float:
    """The planning value of a number or an :class:`Uncertain`."""
    return value.base if isinstance(value, Uncertain) else float(value)


@dataclass(frozen=True)
class Stage:
    name: str
    category: str


@dataclass(frozen=True)
class BankDeal:
    """One open opportunity at start (days are relative to the plan start; NaN if unknown)."""

    cell: int
    stage: int
    amount: float
    created: float = math.nan
    expected_close: float = math.nan


@dataclass(frozen=True)
class Scenario:
    """A validated scenario with every parameter resolved per cell.

    Build one with :func:`load_scenario`. ``cells`` lists the dimension-value
    tuples in a fixed order (the first dimension varies slowest) and ``params[i]``
    is the resolved parameter set of ``cells[i]``. ``raw`` is the document after
    variant and overrides, the source of :attr:`hash`.

    Attributes
    ----------
    name : str
        The scenario's ``name``, followed by ``" [variant]"`` when a variant is applied.
    description : str
    file : str
        Where it came from, as named in problem messages.
    base_dir : Path or None
        Directory a relative ``bank.csv`` path is read from.
    raw : dict
        The document after variant and overrides.
    start : datetime.date
        First day of the plan.
    horizon_days : int
        Length of the plan, in days.
    fiscal_year_start_month : int
        1 = January.
    period : str
        Default reporting period: ``"week"``, ``"month"`` or ``"quarter"``.
    target : float or None
        Bookings target over the horizon, in dollars.
    period_targets : list of float or None
        One bookings target per reporting period.
    currency : str
    dimensions : dict
        Dimension name -> list of its values, in the file's order.
    stages : tuple of Stage
        Each stage's ``name`` and forecast ``category``; the last is the decision stage.
    cells : tuple of tuple of str
        Every combination of dimension values.
    params : tuple of dict
        The resolved parameters of each cell.
    bank : tuple of BankDeal
        The open opportunities at the start.
    variants : dict
        The file's ``[variants]`` table.
    variant : str or None
        The variant applied.
    hash : str
        16 hex digits identifying ``raw`` and the bank's source data.
    overrides : dict
        The field paths and values applied after the variant.
    """

    name: str
    description: str
    file: str
    base_dir: Path | None
    raw: dict
    start: _dt.date
    horizon_days: int
    fiscal_year_start_month: int
    period: str
    target: float | None
    period_targets: list | None
    currency: str
    dimensions: dict
    stages: tuple
    cells: tuple
    params: tuple
    bank: tuple
    variants: dict
    variant: str | None
    hash: str
    bank_source: str = ""
    overrides: dict = field(default_factory=dict)
    source_raw: dict = field(default_factory=dict, repr=False)

    @property
    def decision_stage(self) -> int:
        """Index of the decision stage: the last of ``stages``."""
        return len(self.stages) - 1

    @property
    def cell_labels(self) -> list:
        """The cells as ``"inbound/CMP"`` strings, in ``cells`` order."""
        return ["/".join(c) for c in self.cells]

    def cell_index(self, **values) -> list:
        """Indices of the cells matching ``dimension=value`` filters.

        Parameters
        ----------
        **values : str
            ``dimension=value`` pairs, e.g. ``source="inbound"``; no filters match every cell.

        Returns
        -------
        list of int
            Indices into ``cells`` (and ``params``) of the cells matching all the filters.

        Raises
        ------
        SimcoreError
            When a filter names a dimension or a value the scenario does not have.
        """
        out = []
        names = list(self.dimensions)
        for k, v in values.items():
            if k not in self.dimensions:
                raise SimcoreError(f"no dimension {k!r}; the scenario has {', '.join(names)}")
            if v not in self.dimensions[k]:
                raise SimcoreError(f"no {k} {v!r}; its values are {', '.join(self.dimensions[k])}")
        for i, cell in enumerate(self.cells):
            if all(cell[names.index(k)] == v for k, v in values.items()):
                out.append(i)
        return out

    def with_overrides(self, overrides: dict) -> "Scenario":
        """A new scenario with ``{"path.to.field": value}`` applied and re-validated.

        Parameters
        ----------
        overrides : dict
            ``{"defaults.decision.win": 0.3, ...}``: field paths to values, applied on top
            of this scenario's document (its variant and earlier overrides included).

        Returns
        -------
        Scenario
            A new scenario (this one is unchanged) whose ``overrides`` are this one's
            updated with ``overrides``.

        Raises
        ------
        ScenarioError
            When a path cannot be applied or the result does not validate.
        """
        raw = copy.deepcopy(self.raw)
        problems = []
        for path, value in overrides.items():
            _apply_override(raw, path, value, "--set", problems)
        if problems:
            raise ScenarioError([Problem(self.file, where, message) for where, message in problems])
        return _build(raw, self.file, self.base_dir, self.variant, {**self.overrides, **overrides},
                      self.source_raw)

    def with_variant(self, name: str | None) -> "Scenario":
        """The same file with its named variant (see ``[variants]``) and the same overrides.

        Parameters
        ----------
        name : str or None
            Name of a variant in the file's ``[variants]`` table; ``None`` for the file
            without any variant. Replaces this scenario's variant.

        Returns
        -------
        Scenario
            Built from the original document with variant ``name``, then this scenario's
            ``overrides`` applied.

        Raises
        ------
        ScenarioError
            When the file has no variant ``name``, or the result does not validate.
        """
        return _from_raw(copy.deepcopy(self.source_raw), self.file, self.base_dir, name, self.overrides)


def load_scenario(path, variant: str | None = None, overrides: dict | None = None) -> Scenario:
    """Load, override and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        A TOML scenario file.
    variant : str, optional
        Name of a variant in the file's ``[variants]`` table (e.g. ``"Conservative"``).
    overrides : dict, optional
        ``{"defaults.decision.win": 0.3, ...}``: field paths to values, applied after the
        variant (what ``simcore run --set`` passes).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        With one problem per thing wrong, each naming the file and the field.

    Examples
    --------
    >>> sc = load_scenario("scenarios/fy2026.toml", variant="Conservative")
    >>> sc.cells[0]
    ('inbound', 'CMP')
    """
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem(name, "(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(name, "(file)", f"cannot read: {exc}")]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem(name, "(syntax)", f"not valid TOML: {exc}")]) from None
    return _from_raw(raw, name, path.parent, variant, overrides or {})


def scenario_from_dict(raw: dict, name: str = "<dict>", base_dir=None, variant=None, overrides=None):
    """Like :func:`load_scenario` for a document already parsed (e.g. built in a test).

    Parameters
    ----------
    raw : dict
        The scenario document, as :func:`tomllib.loads` would return it (it is copied,
        never modified).
    name : str, default "<dict>"
        Name used as the file in problem messages and as ``Scenario.file``.
    base_dir : str or Path, optional
        Directory that a relative ``bank.csv`` path is read from (default: the current
        directory).
    variant : str, optional
        Name of a variant in the document's ``[variants]`` table.
    overrides : dict, optional
        ``{"defaults.decision.win": 0.3, ...}``: field paths to values, applied after the
        variant.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        With one problem per thing wrong, each naming ``name`` and the field.
    """
    return _from_raw(copy.deepcopy(raw), name, Path(base_dir) if base_dir else None, variant,
                     overrides or {})


def _from_raw(raw, name, base_dir, variant, overrides):
    problems = []
    source_raw = copy.deepcopy(raw)
    if variant is not None:
        variants = raw.get("variants", {}) if isinstance(raw.get("variants"), dict) else {}
        if variant not in variants:
            raise ScenarioError([Problem(name, "variants", f"no variant {variant!r}"
                                         f"{spec.did_you_mean(variant, variants)}; the file has: "
                                         f"{', '.join(variants) or 'none'}")])
        settings = variants[variant].get("set", {}) if isinstance(variants[variant], dict) else {}
        if not isinstance(settings, dict):
            raise ScenarioError([Problem(name, f"variants.{variant}.set", "must be a table")])
        for path, value in settings.items():
            _apply_override(raw, path, value, f"variants.{variant}.set", problems)
    for path, value in overrides.items():
        _apply_override(raw, path, value, "--set", problems)
    if problems:
        raise ScenarioError([Problem(name, p, m) for p, m in problems])
    return _build(raw, name, base_dir, variant, dict(overrides), source_raw)


# ---------------------------------------------------------------------------------------
# Overrides


def split_path(path: str) -> list:
    """``'by.source.inbound.stages."Stage 1".advance'`` -> its parts (quotes protect dots)."""
    parts, buf, quoted, i = [], "", False, 0
    while i < len(path):
        ch = path[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
        i += 1
    parts.append(buf)
    return [int(p) if p.isdigit() else p for p in parts]


def parse_value(text: str):
    """A ``--set`` value: TOML syntax (``0.3``, ``[1, 2, 1]``, ``{low=1, base=2, high=3}``), else text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_override(raw, path, value, where, problems):
    parts = split_path(path) if isinstance(path, str) else list(path)
    if not parts or any(p == "" for p in parts):
        problems.append((where, f"empty part in the field path {path!r}"))
        return
    node = raw
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                problems.append((where, f"{path}: no entry {part!r} in the list at {format_path(parts[:i])}"))
                return
            node = node[part]
        elif isinstance(node, dict):
            key = str(part)
            if key not in node:
                node[key] = {}
            node = node[key]
        else:
            problems.append((where, f"{path}: {format_path(parts[:i])} is not a table"))
            return
        if not isinstance(node, (dict, list)):
            problems.append((where, f"{path}: {format_path(parts[:i + 1])} is a value, not a table"))
            return
    last = parts[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or last >= len(node):
            problems.append((where, f"{path}: no entry {last!r} in the list"))
            return
        node[last] = value
    else:
        table = spec.BLOCK.fields.get(parts[-2]) if len(parts) >= 2 else None
        if isinstance(table, spec.Table):
            _replace_other_form(node, str(last), table)
        node[str(last)] = value


def _replace_other_form(node, key, table):
    """An override in one form of a two-form field replaces the other form in that table.

    Overriding ``win`` (or ``push``...) where the table gives ``win_loss_push`` keeps what
    the ratio said for the other outcomes: ``[1, 2, 1]`` becomes ``win = 0.25, push = 0.25``
    (losses the rest), then the override applies. So ``--set defaults.decision.win=0.3`` on
    a 1:2:1 plan moves the win rate and leaves the push rate alone.
    """
    for one, other in table.two_forms:
        replaced = other if key in one else one if key in other else ()
        present = [k for k in replaced if k in node]
        if not present:
            continue
        ratio = node.get("win_loss_push")
        numbers = isinstance(ratio, list) and all(type(x) in (int, float) and x >= 0 for x in ratio)
        if present == ["win_loss_push"] and numbers and len(ratio) == 3 and sum(ratio) > 0:
            node["win"] = ratio[0] / sum(ratio)
            node["push"] = ratio[2] / sum(ratio)
        for k in present:
            del node[k]


# ---------------------------------------------------------------------------------------
# Build: check the document, then resolve cells, then read the bank.


def _context(raw):
    ctx = {}
    # Names are checked against the declarations only where those are themselves valid:
    # a broken declaration is reported once, not again at every use of its names.
    stages = raw.get("stage")
    if isinstance(stages, list) and stages and all(
            isinstance(s, dict) and isinstance(s.get("name"), str) for s in stages):
        names = [s["name"] for s in stages]
        ctx["stages"] = names
        ctx["open_stages"] = names[:-1]
    dims = raw.get("dimensions")
    if isinstance(dims, dict) and dims:
        ctx["dimension_names"] = list(dims)
        valid = {k: v for k, v in dims.items()
                 if isinstance(v, list) and v and all(isinstance(x, str) for x in v)}
        ctx["dimension_values"] = valid
        if len(valid) == len(dims):
            ctx["cell_names"] = ["/".join(c) for c in itertools.product(*valid.values())]
    return ctx


def _build(raw, name, base_dir, variant, overrides, source_raw):
    ctx = _context(raw)
    problems = [Problem(name, format_path(p), m) for p, m in spec.check(raw, ctx)]
    # by.<dimension>.<value>: the values must be the dimension's.
    for dim, table in (raw.get("by") or {}).items() if isinstance(raw.get("by"), dict) else []:
        allowed = ctx.get("dimension_values", {}).get(dim)
        if allowed is None or not isinstance(table, dict):
            continue
        for value in table:
            if value not in allowed:
                problems.append(Problem(name, format_path(["by", dim, value]),
                                        f"unknown {dim} {value!r}{spec.expected(value, allowed)}"))
    stages = raw.get("stage") if isinstance(raw.get("stage"), list) else []
    seen = set()
    for i, st in enumerate(stages):
        if isinstance(st, dict) and isinstance(st.get("name"), str):
            if st["name"] in seen:
                problems.append(Problem(name, format_path(["stage", i, "name"]),
                                        f"stage {st['name']!r} is declared twice"))
            seen.add(st["name"])
    if "end" in raw and "horizon_weeks" in raw:
        problems.append(Problem(name, "end", "give either end or horizon_weeks, not both"))
    elif _is_date(raw.get("start")) and _is_date(raw.get("end")):
        if raw["end"] < raw["start"]:
            problems.append(Problem(name, "end", f"end {raw['end']} is before start {raw['start']}"))
        elif (raw["end"] - raw["start"]).days + 1 > 7 * spec.MAX_HORIZON_WEEKS:
            problems.append(Problem(name, "end", f"the plan from {raw['start']} to {raw['end']} is longer "
                                                 f"than {spec.MAX_HORIZON_WEEKS // 52} years"))
    latest_start_year = _dt.MAXYEAR - spec.MAX_HORIZON_WEEKS // 52 - 2  # room for the calendar's periods
    if _is_date(raw.get("start")) and raw["start"].year > latest_start_year:
        problems.append(Problem(name, "start", f"start {raw['start']} is too far in the future"))
    if isinstance(raw.get("dimensions"), dict) and not raw["dimensions"]:
        problems.append(Problem(name, "dimensions", "declare at least one dimension, e.g. "
                                                    "source = [\"inbound\"]"))
    for dim in raw.get("dimensions") or {} if isinstance(raw.get("dimensions"), dict) else {}:
        if dim in RESERVED_NAMES:
            problems.append(Problem(name, format_path(["dimensions", dim]),
                                    f"{dim!r} is already a dimension or variable of the results; "
                                    f"give this dimension another name"))
    # The bank only needs the stage and dimension names: read it now, so that its problems
    # (and the CSV's) come with the rest of the file's.
    bank_read = None
    if "stages" in ctx and "cell_names" in ctx and _is_date(raw.get("start")):
        dims = {k: list(v) for k, v in raw["dimensions"].items()}
        bank_read = _read_bank(raw, name, base_dir, dims, tuple(Stage(n, "") for n in ctx["stages"]),
                               tuple(itertools.product(*dims.values())), raw["start"])
    if problems:
        raise ScenarioError(problems + (bank_read[2] if bank_read else []))

    start = raw["start"]
    if "end" in raw:
        horizon_days = (raw["end"] - start).days + 1
    else:
        horizon_days = 7 * int(raw.get("horizon_weeks", 52))
    fy_month = int(raw.get("fiscal_year_start_month", 1))
    period = raw.get("period", "quarter")
    dims = {k: [str(x) for x in v] for k, v in raw["dimensions"].items()}
    stage_list = tuple(Stage(s["name"], s["category"]) for s in raw["stage"])
    cells = tuple(itertools.product(*dims.values()))

    params = []
    # A problem set at a shared level (defaults, by.<dimension>) shows up in every cell it
    # reaches: report it once, with the cells it affects.
    cells_of = {}
    for cell in cells:
        p, cell_problems = _resolve_cell(raw, cell, dims, stage_list, start, horizon_days, fy_month)
        params.append(p)
        for path, msg in cell_problems:
            cells_of.setdefault((path, msg), []).append("/".join(cell))
    for (path, msg), where in cells_of.items():
        problems.append(Problem(name, path, f"{msg} ({_cells_text(where, len(cells))})"))
    target = raw.get("target")
    n_periods = len(make_periods(start, horizon_days, period, fy_month))
    period_targets = raw.get("period_targets")
    if period_targets is not None and len(period_targets) != n_periods:
        problems.append(Problem(name, "period_targets", f"needs one target per {period} of the horizon "
                                                        f"({n_periods}), got {len(period_targets)}"))
    bank, bank_source, bank_problems = bank_read
    problems.extend(bank_problems)
    if not problems and not bank and all(_plan_is_empty(p) for p in params):
        problems.append(Problem(name, "defaults.creation", "the plan is empty: no cell creates pipeline "
                                                           "(dollars or count > 0) and there is no bank"))
    if problems:
        raise ScenarioError(problems)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode())
    digest.update(bank_source.encode())
    return Scenario(
        name=str(raw["name"]) + (f" [{variant}]" if variant else ""),
        description=str(raw.get("description", "")),
        file=name, base_dir=base_dir, raw=raw, start=start, horizon_days=horizon_days,
        fiscal_year_start_month=fy_month, period=period,
        target=float(target) if target is not None else None,
        period_targets=[float(x) for x in period_targets] if period_targets is not None else None,
        currency=str(raw.get("currency", "USD")), dimensions=dims, stages=stage_list, cells=cells,
        params=tuple(params), bank=tuple(bank), variants=dict(raw.get("variants", {})), variant=variant,
        hash=digest.hexdigest()[:16], bank_source=bank_source, overrides=overrides, source_raw=source_raw,
    )


def _is_date(value):
    # A TOML date-time is a datetime, itself a date: spec.Date rejects it, and so must we here.
    return isinstance(value, _dt.date) and not isinstance(value, _dt.datetime)


def _cells_text(labels, n_cells):
    if len(labels) == 1:
        return f"cell {labels[0]!r}"
    if len(labels) == n_cells:
        return f"all {n_cells} cells"
    shown = ", ".join(map(repr, labels[:4]))
    return f"{len(labels)} cells: {shown}{', ...' if len(labels) > 4 else ''}"


def _plan_is_empty(p):
    values = p["creation"]["values"]
    return not values or sum(values) * p["creation"]["share"] <= 0


# ---------------------------------------------------------------------------------------
# Resolution of one cell


@dataclass
class _Leaf:
    value: object
    level: int
    path: list


def _merge(node, dst, src, level, path):
    for key, value in src.items():
        child = node.fields.get(key) if isinstance(node, spec.Table) else node.value
        if isinstance(child, (spec.Table, spec.MapOf)) and isinstance(value, dict):
            _merge(child, dst.setdefault(key, {}), value, level, path + [key])
        else:
            dst[key] = _Leaf(value, level, path + [key])


def _levels(raw, cell, dims):
    levels = [(["defaults"], raw.get("defaults", {}))]
    for dim, value in zip(dims, cell):
        block = (raw.get("by") or {}).get(dim, {}).get(value)
        if block:
            levels.append((["by", dim, value], block))
    block = (raw.get("cell") or {}).get("/".join(cell))
    if block:
        levels.append((["cell", "/".join(cell)], block))
    return levels


def _value(v):
    if isinstance(v, dict):
        if set(v) == set(spec.UNCERTAIN_PERT):
            return Uncertain("pert", float(v["low"]), float(v["base"]), float(v["high"]))
        return Uncertain("beta", float(v["mean"]), float(v["strength"]))
    return v


def _resolve_cell(raw, cell, dims, stages, start, horizon_days, fy_month):
    """Resolve one cell's parameters; returns ``(params, [(path, message), ...])``."""
    merged = {}
    for level, (path, block) in enumerate(_levels(raw, cell, dims)):
        _merge(spec.BLOCK, merged, block, level, path)
    problems = []

    def get(table, key, default=None):
        leaf = (table or {}).get(key)
        return _value(leaf.value) if isinstance(leaf, _Leaf) else default

    def where(table, key, fallback):
        leaf = (table or {}).get(key)
        return format_path(leaf.path) if isinstance(leaf, _Leaf) else fallback

    def level(table, *keys):
        return max((table[k].level for k in keys if isinstance((table or {}).get(k), _Leaf)), default=-1)

    names = [s.name for s in stages]
    k = len(stages)
    entry_name = get(merged, "entry_stage", names[0])
    entry = names.index(entry_name)
    conv = merged.get("conversion", {})
    to_decision = get(conv, "to_decision")
    loss_share_default = get(conv, "lost_competition_share", 0.5)

    stage_params = []
    fixed_product = 1.0
    n_free = 0
    for s in range(k - 1):
        st = merged.get("stages", {}).get(names[s], {})
        adv = get(st, "advance")
        lc, lnd = get(st, "lost_competition"), get(st, "lost_no_decision")
        at = where(st, "advance", f"stages.{names[s]!r}")
        if adv is None and to_decision is None and s >= entry:
            problems.append((f'defaults.stages."{names[s]}".advance',
                             f"no advance rate for stage {names[s]!r}: give stages.\"{names[s]}\".advance "
                             f"or conversion.to_decision"))
        share = loss_share_default
        if lc is not None or lnd is not None:
            a = base(adv) if adv is not None else None
            if lc is not None and lnd is not None:
                if a is not None and abs(a + lc + lnd - 1.0) > _TOL:
                    problems.append((at, f"stage {names[s]!r}: advance + lost_competition + lost_no_decision = "
                                         f"{a + lc + lnd:g}, must sum to 1"))
                share = lc / (lc + lnd) if lc + lnd > 0 else 0.5
            elif a is not None:
                rest = 1.0 - a
                given = lc if lc is not None else lnd
                if given > rest + _TOL:
                    problems.append((at, f"stage {names[s]!r}: advance {a:g} + losses {given:g} exceed 1"))
                other = max(rest - given, 0.0)
                lc_v = given if lc is not None else other
                share = lc_v / rest if rest > 0 else 0.5
            else:
                share = 1.0 if lc is not None and lc > 0 else 0.0
        if adv is not None and s >= entry:
            fixed_product *= base(adv)
        elif s >= entry:
            n_free += 1
        stage_params.append({
            "advance": adv,
            "lost_competition_share": share,
            "dwell": _dist(st.get("dwell", {}), get),
            "growth": get(st, "growth", 1.0),
        })
    if to_decision is not None and n_free > 0 and base(to_decision) > fixed_product + _TOL:
        problems.append((where(conv, "to_decision", "conversion.to_decision"),
                         f"conversion.to_decision {base(to_decision):g} cannot be reached: stages with their "
                         f"own advance rates already multiply to {fixed_product:g}"))
    elif (to_decision is not None and n_free == 0 and entry < k - 1
          and abs(base(to_decision) - fixed_product) > _AGREE_TOL):
        # Every stage has its own advance: the simulation uses them and to_decision is unused.
        fixed = [names[s] for s in range(entry, k - 1)]
        if len(fixed) == 1:
            rates = f"stage {fixed[0]!r} has its own advance rate {fixed_product:g}"
            fields = f'stages."{fixed[0]}".advance'
        else:
            rates = (f"stages {', '.join(map(repr, fixed))} all have their own advance rates, which "
                     f"multiply to {fixed_product:g}")
            fields = "the stages' advance rates"
        problems.append((where(conv, "to_decision", "conversion.to_decision"),
                         f"conversion.to_decision {base(to_decision):g} disagrees with the advance rates: "
                         f"{rates}, and no stage is left for to_decision to set; change "
                         f"conversion.to_decision to {fixed_product:g}, or {fields}, or give one of "
                         f"the two only"))

    # Decision stage.
    dec = merged.get("decision", {})
    ratio_level = level(dec, "win_loss_push")
    explicit_level = level(dec, "win", "lost_competition", "lost_no_decision", "push")
    dec_share = get(dec, "lost_competition_share", loss_share_default)
    win = push = None
    if ratio_level > explicit_level:
        w, l, p = get(dec, "win_loss_push")
        total = w + l + p
        if total <= 0:
            problems.append((where(dec, "win_loss_push", "decision"), "win_loss_push must not be all zero"))
            total = 1.0
        win, push = w / total, p / total
    else:
        win = get(dec, "win")
        push = get(dec, "push", 0.0)
        if win is None:
            problems.append(("defaults.decision.win", "no win rate at the decision stage: give decision.win "
                                                      "or decision.win_loss_push"))
        else:
            lc, lnd = get(dec, "lost_competition"), get(dec, "lost_no_decision")
            rest = 1.0 - base(win) - base(push)
            at = where(dec, "win", "decision")
            if rest < -_TOL:
                problems.append((at, f"decision: win {base(win):g} + push {base(push):g} exceed 1"))
            elif lc is not None and lnd is not None:
                if abs(rest - lc - lnd) > _TOL:
                    problems.append((at, f"decision: win + lost_competition + lost_no_decision + push = "
                                         f"{1.0 - rest + lc + lnd:g}, must sum to 1"))
                dec_share = lc / (lc + lnd) if lc + lnd > 0 else 0.5
            elif lc is not None or lnd is not None:
                given = lc if lc is not None else lnd
                if given > rest + _TOL:
                    problems.append((at, f"decision: win + push + losses exceed 1"))
                lc_v = given if lc is not None else max(rest - given, 0.0)
                dec_share = lc_v / rest if rest > 0 else 0.5
    decision = {
        "win": win if win is not None else 0.0,
        "push": push if push is not None else 0.0,
        "lost_competition_share": dec_share,
        "dwell": _dist(dec.get("dwell", {}), get),
        "push_delay": _dist(dec.get("push_delay", {}), get),
        "win_decay": get(dec, "win_decay", 1.0),
        "max_pushes": get(dec, "max_pushes", 3),
    }

    # Amount.
    am = merged.get("amount", {})
    empirical = get(am, "empirical")
    use_empirical = empirical is not None and level(am, "empirical") >= level(am, "median")
    median = get(am, "median")
    if not use_empirical and median is None:
        problems.append(("defaults.amount.median", "no deal size: give amount.median (with p90_ratio or sigma) "
                                                   "or amount.empirical"))
    if level(am, "p90_ratio") > level(am, "sigma"):
        sigma = math.log(get(am, "p90_ratio")) / 1.2815515655446004
    else:
        sigma = float(get(am, "sigma", 0.0))
    floor = float(get(am, "floor", 0.0))
    cap = float(get(am, "cap", math.inf))
    if floor > cap:
        problems.append((where(am, "floor", "amount.floor"), f"amount floor {floor:g} is above the cap {cap:g}"))
    whale_factor = get(am, "whale_factor", 1.0)
    whale_max = get(am, "whale_factor_max")
    if whale_max is not None and whale_max < base(whale_factor):
        problems.append((where(am, "whale_factor_max", "amount.whale_factor_max"),
                         f"whale_factor_max {whale_max:g} is below whale_factor {base(whale_factor):g}"))
    amount = {
        "kind": "empirical" if use_empirical else "lognormal",
        "median": 1.0 if use_empirical else (median if median is not None else 1.0),
        "sigma": sigma,
        "empirical": [float(x) for x in empirical] if use_empirical else [],
        "whale_probability": get(am, "whale_probability", 0.0),
        "whale_factor": whale_factor,
        "whale_factor_max": float(whale_max) if whale_max is not None else math.nan,
        "floor": floor,
        "cap": cap,
    }

    # Creation.
    cr = merged.get("creation", {})
    per = get(cr, "per", "year")
    if level(cr, "count") > level(cr, "dollars"):
        kind, values = "count", get(cr, "count")
    elif "dollars" in cr:
        kind, values = "dollars", get(cr, "dollars")
    else:
        kind, values = "dollars", []
    n_per = len(make_periods(start, horizon_days, per, fy_month))
    if isinstance(values, list):
        if values and len(values) != n_per:
            problems.append((where(cr, kind, f"creation.{kind}"),
                             f"creation.{kind} has {len(values)} values but the horizon has {n_per} "
                             f"{per}{'s' if n_per != 1 else ''}: give one per {per}, or a single number"))
        values = [float(x) for x in values]
    else:
        values = [float(values)] * n_per
    process = get(cr, "process", "poisson")
    dispersion = get(cr, "dispersion")
    if process == "negative_binomial" and dispersion is None:
        problems.append((where(cr, "process", "creation.process"),
                         "negative_binomial creation needs creation.dispersion"))
    seasonality = [float(x) for x in get(cr, "seasonality", [1.0] * 12)]
    if sum(seasonality) <= 0:
        problems.append((where(cr, "seasonality", "creation.seasonality"), "seasonality must not be all zero"))
        seasonality = [1.0] * 12
    creation = {
        "per": per, "kind": kind, "values": values, "share": float(get(cr, "share", 1.0)),
        "process": process, "dispersion": float(dispersion) if dispersion is not None else math.inf,
        "seasonality": seasonality, "uplift": float(get(cr, "uplift", 1.0)),
    }
    planned = sum(values) * creation["share"] * creation["uplift"]
    if kind == "dollars" and planned > 0 and not use_empirical and median is None:
        planned = 0.0  # no deal size to count by: reported above, and not again as a units mistake
    elif kind == "dollars" and planned > 0:
        from .compile import expected_amount  # imported here: compile imports this module

        planned /= max(expected_amount(amount), 1e-300)
    if planned > spec.MAX_OPPORTUNITIES_PER_CELL:
        problems.append((where(cr, kind, f"creation.{kind}"),
                         f"the plan creates more than {spec.MAX_OPPORTUNITIES_PER_CELL:,} opportunities over "
                         f"the horizon: check the units (creation.{kind} is per {per})"))
    params = {
        "entry_stage": entry,
        "market_loading": float(get(merged, "market_loading", 0.0)),
        "to_decision": to_decision,
        "stages": stage_params,
        "decision": decision,
        "amount": amount,
        "creation": creation,
        "cost_per_dollar": float(get(merged, "cost_per_dollar", 1.0)),
    }
    return params, problems


def _dist(table, get):
    return {
        "dist": get(table, "dist", "lognormal"),
        "mean": get(table, "mean", 30.0),
        "cv": float(get(table, "cv", 0.5)),
    }


# ---------------------------------------------------------------------------------------
# Starting bank


def _read_bank(raw, name, base_dir, dims, stages, cells, start):
    bank_raw = raw.get("bank") if isinstance(raw.get("bank"), dict) else {}
    problems = []
    deals = []
    source = ""
    if not isinstance(bank_raw.get("aggregate", []), list):
        bank_raw = {k: v for k, v in bank_raw.items() if k != "aggregate"}  # reported by the spec check
    if not isinstance(bank_raw.get("csv", ""), str):
        bank_raw = {k: v for k, v in bank_raw.items() if k != "csv"}
    names = [s.name for s in stages]
    cell_of = {c: i for i, c in enumerate(cells)}
    dim_names = list(dims)
    for i, row in enumerate(bank_raw.get("aggregate", [])):
        where = ["bank", "aggregate", i]
        if not isinstance(row, dict):
            problems.append(Problem(name, format_path(where), "must be a table"))
            continue
        out = []
        spec.AGGREGATE_BANK.check({k: v for k, v in row.items() if k not in dims}, where, {"stages": names}, out)
        key = []
        for dim in dim_names:
            value = row.get(dim)
            if value is None:
                out.append((where + [dim], f"missing: each aggregate row names its {dim}"))
            elif str(value) not in dims[dim]:
                out.append((where + [dim], f"unknown {dim} {value!r}{spec.did_you_mean(value, dims[dim])}"))
            key.append(str(value))
        problems.extend(Problem(name, format_path(p), m) for p, m in out)
        if out:
            continue
        amount = float(row["dollars"]) / int(row["count"])
        if amount > spec.MAX_DOLLARS:
            # Each of the row's deals gets dollars / count: the per-deal limit applies to that.
            problems.append(Problem(name, format_path(where + ["dollars"]),
                                    f"dollars / count = {amount:,.0f} per deal is above the largest deal size "
                                    f"of {spec.MAX_DOLLARS:,.0f}: check the units, or the count"))
            continue
        for _ in range(int(row["count"])):
            deals.append(BankDeal(cell_of[tuple(key)], names.index(row["stage"]), amount))
        source += json.dumps(row, sort_keys=True, default=str)
    csv_name = bank_raw.get("csv")
    if csv_name:
        path = Path(csv_name)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark, which is not part of
            # the first column's name.
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            problems.append(Problem(name, "bank.csv", f"cannot read {str(path)!r}: {exc.strerror or exc}"))
            return deals, source, problems
        except UnicodeDecodeError as exc:
            problems.append(Problem(name, "bank.csv", f"{str(path)!r} is not UTF-8 text ({exc.reason} at "
                                                      f"byte {exc.start}): save it as CSV UTF-8"))
            return deals, source, problems
        source += text
        csv_deals, csv_problems = parse_bank_csv(text, str(path), dims, names, cell_of, start)
        deals.extend(csv_deals)
        problems.extend(csv_problems)
    return deals, source, problems


def parse_bank_csv(text, file, dims, stage_names, cell_of, start):
    """Open deals from CSV text: one column per dimension, ``stage``, ``amount``,
    optional ``created`` and ``expected_close`` dates (YYYY-MM-DD).

    Returns ``(deals, problems)``; every problem names the line.
    """
    problems, deals = [], []
    reader = csv.DictReader(io.StringIO(text))
    required = list(dims) + ["stage", "amount"]
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        return [], [Problem(file, "line 1", f"not readable as CSV: {exc}")]
    missing = [c for c in required if c not in header]
    if missing:
        return [], [Problem(file, "line 1", f"missing column{'s' if len(missing) > 1 else ''} "
                                           f"{', '.join(missing)}; columns are {', '.join(header) or 'none'}")]
    allowed = set(required) | {"created", "expected_close", "name", "id"}
    extra = [c for c in header if c not in allowed]
    if extra:
        return [], [Problem(file, "line 1", f"unknown column {extra[0]!r}"
                                            f"{spec.did_you_mean(extra[0], sorted(allowed))}")]
    twice = [c for i, c in enumerate(header) if c in header[:i]]
    if twice:
        # csv.DictReader would keep the last one's values and drop the others silently.
        return [], [Problem(file, "line 1", f"column {twice[0]!r} appears more than once")]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # A malformed row (e.g. a stray quote) stops the reader: report it and what follows.
            problems.append(Problem(file, f"line {reader.line_num}", f"not readable as CSV: {exc}"))
            break
        line = reader.line_num
        if None in row:
            # DictReader keeps the fields beyond the header under the key None. The row is
            # probably shifted (a stray comma), so its other values are not checked.
            n = len(header) + len(row[None])
            problems.append(Problem(file, f"line {line}", f"{n} fields but the header (line 1) has "
                                                          f"{len(header)} columns"))
            continue
        bad = []
        key = []
        for dim in dims:
            value = (row.get(dim) or "").strip()
            if value not in dims[dim]:
                bad.append(f"unknown {dim} {value!r}{spec.did_you_mean(value, dims[dim])}")
            key.append(value)
        stage = (row.get("stage") or "").strip()
        if stage not in stage_names:
            bad.append(f"unknown stage {stage!r}{spec.did_you_mean(stage, stage_names)}")
        try:
            amount = float(row.get("amount") or "")
            if not amount > 0:
                bad.append(f"amount must be > 0, got {row.get('amount')!r}")
            elif not amount <= spec.MAX_DOLLARS:  # also inf
                bad.append(f"amount must be at most {spec.MAX_DOLLARS:,.0f} (larger is a units mistake), "
                           f"got {row.get('amount')!r}")
        except ValueError:
            bad.append(f"amount is not a number: {row.get('amount')!r}")
            amount = math.nan
        days, dates = {}, {}
        for col in ("created", "expected_close"):
            value = (row.get(col) or "").strip()
            days[col] = math.nan
            if not value:
                continue
            try:
                dates[col] = _dt.date.fromisoformat(value)
                days[col] = float((dates[col] - start).days)
            except ValueError:
                bad.append(f"{col} is not a date (YYYY-MM-DD): {value!r}")
        created, close = dates.get("created"), dates.get("expected_close")
        if created is not None and created > start:
            # An open deal at start was created by then; a later date would give it a negative age.
            bad.append(f"created {created} is after start {start}: a deal in the starting bank must "
                       f"exist at start (add it to the plan's creation instead, or fix the date)")
        elif created is not None and close is not None and close < created:
            bad.append(f"expected_close {close} is before created {created}")
        if bad:
            problems.extend(Problem(file, f"line {line}", msg) for msg in bad)
            continue
        deals.append(BankDeal(cell_of[tuple(key)], stage_names.index(stage), amount,
                              days["created"], days["expected_close"]))
    return deals, problems


def write_json_schema(path) -> None:
    """Write the scenario JSON Schema (kept in the package; a test holds it current)."""
    Path(path).write_text(json.dumps(spec.json_schema(), indent=2) + "\n", encoding="utf-8")
