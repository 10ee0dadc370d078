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
import dataclasses
import datetime as _dt
import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from simcore.calendar import period_count
from simcore.errors import Problem, ScenarioError, SimcoreError, format_path
from simcore.format import exact_money, money
from simcore.scenario import files, reference, spec
from simcore.scenario.bank import _read_bank
from simcore.scenario.capacity import resolve_capacity
from simcore.scenario.document import document_context, document_problems, is_date
from simcore.scenario.limits import check_resolved
from simcore.scenario.overrides import _apply_override
from simcore.scenario.programs import resolve_programs
from simcore.scenario.resolve import resolve_cell
from simcore.scenario.values import Stage


@dataclass(frozen=True, repr=False)
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
    params : tuple of CellParams
        The resolved parameters of each cell (:mod:`simcore.scenario.params`).
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
    allow_bank_outside : bool
        Whether ``bank.csv`` may name a file outside ``base_dir``.
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
    allow_bank_outside: bool = False
    capacity: object = None  # simcore.scenario.capacity.Capacity of [capacity], if any
    programs: tuple = ()  # the [[program]] tables, resolved (simcore.scenario.programs.Program)
    program_groups: tuple = ()  # (name, programs) of each exclusive [[program_group]]

    def __repr__(self) -> str:
        """A one-line summary; :meth:`full_repr` gives every field."""
        dims = " x ".join(self.dimensions)
        target = "no target" if self.target is None else f"target {exact_money(self.target, self.currency)}"
        bank = sum(d.amount for d in self.bank)
        return (
            f"<Scenario {self.name!r}: {len(self.cells)} cells ({dims}), {len(self.stages)} stages "
            f"(decision: {self.stages[-1].name!r}), {self.horizon_days} days from {self.start}, "
            f"{target}, bank {len(self.bank)} deals {money(bank, self.currency)}>"
        )

    def full_repr(self) -> str:
        """Every field, as a dataclass shows it (tens of thousands of characters for a large plan).

        Returns
        -------
        str
        """
        shown = (f for f in dataclasses.fields(self) if f.repr)
        return f"Scenario({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in shown)})"

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

    def with_overrides(self, overrides: dict) -> Scenario:
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
        return _build(
            raw,
            self.file,
            self.base_dir,
            self.variant,
            {**self.overrides, **overrides},
            self.source_raw,
            self.allow_bank_outside,
        )

    def with_variant(self, name: str | None) -> Scenario:
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
        return _from_raw(
            copy.deepcopy(self.source_raw),
            self.file,
            self.base_dir,
            name,
            self.overrides,
            self.allow_bank_outside,
        )


def check_scenario(value) -> Scenario:
    """``value`` if it is a :class:`Scenario`, else a :class:`SimcoreError` saying what to pass.

    A notebook user who passes a path where a Scenario belongs should read what to pass
    instead, not an ``AttributeError`` from three calls down.

    Parameters
    ----------
    value : object

    Returns
    -------
    Scenario
        ``value`` itself.
    """
    if not isinstance(value, Scenario):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        hint = (
            ": load it first with simcore.load_scenario(path)"
            if isinstance(value, str) or hasattr(value, "__fspath__")
            else ""
        )
        raise SimcoreError(
            f"expected a Scenario from simcore.load_scenario, got {type(value).__name__} {shown}{hint}"
        )
    return value


def load_scenario(
    path, variant: str | None = None, overrides: dict | None = None, allow_bank_outside: bool = False
) -> Scenario:
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
    allow_bank_outside : bool, default False
        Let ``bank.csv`` name a file outside the scenario's folder (an absolute path, or one
        with ``..``). Off by default: a scenario from someone else must not read any file the
        user can read (what ``simcore --allow-bank-outside`` turns on).

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
    name = str(path).replace("\0", "\\0")
    try:
        text = files.read_bytes(path, files.MAX_SCENARIO_BYTES).decode("utf-8")
    except files.FileProblem as exc:
        raise ScenarioError([Problem(name, "(file)", str(exc))]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            [Problem(name, "(file)", f"is not UTF-8 text ({exc.reason} at byte {exc.start})")]
        ) from None
    raw = parse_toml(text, name)
    return _from_raw(raw, name, path.parent, variant, overrides or {}, allow_bank_outside)


def parse_toml(text: str, name: str) -> dict:
    """``tomllib.loads(text)``, with every failure a :class:`ScenarioError` naming ``name``.

    tomllib raises more than ``TOMLDecodeError``: a ``ValueError`` for an integer of over
    4,300 digits and a ``RecursionError`` for arrays nested a thousand deep. A document
    nested deeper than :data:`simcore.scenario.files.MAX_NESTING` is refused too, before
    anything walks it recursively.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem(name, "(syntax)", f"not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ScenarioError(
            [Problem(name, "(syntax)", f"tables or lists nested too deep (at most {files.MAX_NESTING})")]
        ) from None
    except ValueError:
        # Python refuses to convert integers of over 4,300 digits (CVE-2020-10735).
        found = re.search(r"[0-9_]{4300,}", text)
        where = "(syntax)"
        if found:
            line = text.count("\n", 0, found.start()) + 1
            column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
            where = f"line {line}, column {column}"
        raise ScenarioError([Problem(name, where, "a number with over 4,300 digits")]) from None
    if files.nesting_depth(raw) > files.MAX_NESTING:
        raise ScenarioError(
            [Problem(name, "(syntax)", f"tables or lists nested too deep (at most {files.MAX_NESTING})")]
        )
    return raw


def scenario_from_dict(
    raw: dict, name: str = "<dict>", base_dir=None, variant=None, overrides=None, allow_bank_outside=False
):
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
    allow_bank_outside : bool, default False
        Let ``bank.csv`` name a file outside ``base_dir`` (see :func:`load_scenario`).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        With one problem per thing wrong, each naming ``name`` and the field.
    """
    if files.nesting_depth(raw) > files.MAX_NESTING:
        raise ScenarioError(
            [Problem(name, "(top level)", f"tables or lists nested too deep (at most {files.MAX_NESTING})")]
        )
    return _from_raw(
        copy.deepcopy(raw),
        name,
        Path(base_dir) if base_dir else None,
        variant,
        overrides or {},
        allow_bank_outside,
    )


def _from_raw(raw, name, base_dir, variant, overrides, allow_bank_outside=False):
    problems = []
    source_raw = copy.deepcopy(raw)
    if variant is not None:
        variants = raw.get("variants", {}) if isinstance(raw.get("variants"), dict) else {}
        if variant not in variants:
            raise ScenarioError(
                [
                    Problem(
                        name,
                        "variants",
                        f"no variant {variant!r}"
                        f"{spec.did_you_mean(variant, variants)}; the file has: "
                        f"{', '.join(variants) or 'none'}",
                    )
                ]
            )
        settings = variants[variant].get("set", {}) if isinstance(variants[variant], dict) else {}
        if not isinstance(settings, dict):
            raise ScenarioError([Problem(name, f"variants.{variant}.set", "must be a table")])
        for path, value in settings.items():
            _apply_override(raw, path, value, f"variants.{variant}.set", problems)
    for path, value in overrides.items():
        _apply_override(raw, path, value, "--set", problems)
    if problems:
        raise ScenarioError([Problem(name, p, m) for p, m in problems])
    return _build(raw, name, base_dir, variant, dict(overrides), source_raw, allow_bank_outside)


# ---------------------------------------------------------------------------------------
# Build: check the document, then resolve cells, then read the bank.


def _build(raw, name, base_dir, variant, overrides, source_raw, allow_bank_outside=False):
    ctx = document_context(raw)
    problems = [Problem(name, format_path(p), m) for p, m in spec.check(raw, ctx)]
    problems += document_problems(raw, name, ctx)
    # The bank only needs the stage and dimension names: read it now, so that its problems
    # (and the CSV's) come with the rest of the file's.
    bank_read = None
    if "stages" in ctx and "cell_names" in ctx and is_date(raw.get("start")):
        dims = {k: list(v) for k, v in raw["dimensions"].items()}
        bank_read = _read_bank(
            raw,
            name,
            base_dir,
            dims,
            tuple(Stage(n, "") for n in ctx["stages"]),
            tuple(itertools.product(*dims.values())),
            raw["start"],
            allow_bank_outside,
        )
    if problems:
        raise ScenarioError(problems + (bank_read[2] if bank_read else []))
    return _resolved(raw, name, base_dir, variant, overrides, source_raw, bank_read, allow_bank_outside)


def _resolved(raw, name, base_dir, variant, overrides, source_raw, bank_read, allow_bank_outside) -> Scenario:
    """The scenario of a document without problems of its own: every cell resolved."""
    problems = []
    start = raw["start"]
    if "end" in raw:
        horizon_days = (raw["end"] - start).days + 1
    else:
        horizon_days = 7 * int(raw.get("horizon_weeks", spec.default("horizon_weeks")))
    fy_month = int(raw.get("fiscal_year_start_month", spec.default("fiscal_year_start_month")))
    period = raw.get("period", spec.default("period"))
    dims = {k: [str(x) for x in v] for k, v in raw["dimensions"].items()}
    stage_list = tuple(Stage(s["name"], s["category"]) for s in raw["stage"])
    cells = tuple(itertools.product(*dims.values()))

    params = []
    # A problem set at a shared level (defaults, by.<dimension>) shows up in every cell it
    # reaches: report it once, with the cells it affects.
    cells_of = {}
    for cell in cells:
        p, cell_problems = resolve_cell(raw, cell, dims, stage_list, start, horizon_days, fy_month)
        params.append(p)
        for path, msg in cell_problems:
            cells_of.setdefault((path, msg), []).append("/".join(cell))
    if not cells_of:
        # Limits across fields (a gamma dwell's cv, the empirical lists of all cells) need
        # resolved parameters; each is reported once, with the cells it affects.
        for c, p in enumerate(params):
            for path, msg in check_resolved(p, stage_list, len(cells)):
                cells_of.setdefault((path, msg), []).append("/".join(cells[c]))
    for (path, msg), where in cells_of.items():
        problems.append(Problem(name, path, f"{msg} ({_cells_text(where, len(cells))})"))
    target = raw.get("target")
    n_periods = period_count(start, horizon_days, period, fy_month)
    period_targets = raw.get("period_targets")
    if period_targets is not None and len(period_targets) != n_periods:
        problems.append(
            Problem(
                name,
                "period_targets",
                f"needs one target per {period} of the horizon ({n_periods}), got {len(period_targets)}",
            )
        )
    bank, bank_source, bank_problems = bank_read
    problems.extend(bank_problems)
    capacity, capacity_problems = resolve_capacity(raw, dims, start, horizon_days, fy_month)
    problems.extend(Problem(name, path, msg) for path, msg in capacity_problems)
    programs, groups, program_problems = ((), (), [])
    if not problems:
        programs, groups, program_problems = resolve_programs(
            raw, dims, cells, params, [s.name for s in stage_list], start, horizon_days
        )
    problems.extend(Problem(name, format_path(p), m) for p, m in program_problems)
    if not problems and not bank and all(p.creation.is_empty for p in params):
        problems.append(
            Problem(
                name,
                "defaults.creation",
                "the plan is empty: no cell creates pipeline (dollars or count > 0) and there is no bank",
            )
        )
    if problems:
        raise ScenarioError(problems)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode())
    digest.update(bank_source.encode())
    return Scenario(
        name=str(raw["name"]) + (f" [{variant}]" if variant else ""),
        description=str(raw.get("description", "")),
        file=name,
        base_dir=base_dir,
        raw=raw,
        start=start,
        horizon_days=horizon_days,
        fiscal_year_start_month=fy_month,
        period=period,
        target=float(target) if target is not None else None,
        period_targets=[float(x) for x in period_targets] if period_targets is not None else None,
        currency=str(raw.get("currency", spec.default("currency"))),
        dimensions=dims,
        stages=stage_list,
        cells=cells,
        params=tuple(params),
        bank=tuple(bank),
        variants=dict(raw.get("variants", {})),
        variant=variant,
        hash=digest.hexdigest()[:16],
        bank_source=bank_source,
        overrides=overrides,
        source_raw=source_raw,
        allow_bank_outside=allow_bank_outside,
        capacity=capacity,
        programs=programs,
        program_groups=groups,
    )


def _cells_text(labels, n_cells):
    if len(labels) == 1:
        return f"cell {labels[0]!r}"
    if len(labels) == n_cells:
        return f"all {n_cells} cells"
    shown = ", ".join(map(repr, labels[:4]))
    return f"{len(labels)} cells: {shown}{', ...' if len(labels) > 4 else ''}"


def write_json_schema(path) -> None:
    """Write the scenario JSON Schema (kept in the package; a test holds it current).

    Parameters
    ----------
    path : str or Path
        Where to write it (``simcore/scenario.schema.json`` in the repository).
    """
    Path(path).write_text(json.dumps(reference.json_schema(), indent=2) + "\n", encoding="utf-8")
