"""What is known on an as-of date: the year's actuals and the open bank, from a CRM export.

:func:`as_of_state` reads an opportunity export (and optionally a stage history) with the
calibration readers and the same column mapping as ``simcore calibrate``, and splits the
plan's year at the as-of date:

- **actuals**: every deal the export shows won with a close date inside the plan's year and
  before the as-of date, by its close day, cell, dollars and count;
- **the bank**: every deal created before the as-of date and not closed before it (a deal
  won or lost later was open then), with its stage, amount, created, expected close date and
  age in its stage on the as-of date, rebuilt from the stage history's rows dated before the
  as-of date when a history is given;
- **created**: the deals created in the plan's year before the as-of date (entry-stage
  creation, dollars and count), so that the year's creation can be shown whole.

A deal is in exactly one of the actuals and the bank, or in neither (lost, or won before
the plan's year): nothing is counted twice. The choices a finance partner would ask about
are written in ``docs/forecast.md``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simcore.calibrate.readers import (
    dimension_aliases,
    normalise,
    read_opportunities,
    read_stage_history,
    require_amount,
)
from simcore.calibrate.stages import StageMap, add_closed_names, parse_mapping
from simcore.engine.compile import Model
from simcore.errors import Problem, ScenarioError, SimcoreError
from simcore.forecast.deals import (
    _DAY,
    EXPORT_GRACE_DAYS,
    _bank,
    _cells,
    _check_not_absurd,
    _days,
    _later_stages,
    _latest,
    _where,
)
from simcore.scenario import spec
from simcore.scenario.load import Scenario, check_scenario

__all__ = ["AsOf", "as_of_state", "as_of_day"]


@dataclass
class AsOf:
    """A plan's year split at an as-of date: what already happened, and what is open.

    Build one with :func:`as_of_state`. Days are counted from the scenario's ``start``.

    Attributes
    ----------
    scenario : Scenario
    as_of : datetime.date
    day : int
        The as-of date in days from the scenario's start (``0 <= day < horizon``).
    actuals : pandas.DataFrame
        One row per deal won in the plan's year before the as-of date: ``opportunity_id,
        cell, day`` (its close day), ``amount`` (dollars; 0 where the export has none),
        ``line`` and the dimensions.
    bank : pandas.DataFrame
        One row per deal open on the as-of date: ``opportunity_id, cell, stage`` (index into
        ``scenario.stages``), ``stage_name, amount, created, expected_close`` (days; NaN if
        unknown), ``age`` (days in its stage on the as-of date; NaN if unknown), ``line`` and
        the dimensions.
    created : pandas.DataFrame
        One row per deal entering a stage in the plan's year before the as-of date: ``cell,
        stage, day, amount``; the entry stage from the export's created dates, the later
        stages (with a stage history) from the first change into each.
    warnings : list of str
        What is usable but worth saying (blank amounts, deals without a history...).
    file : str
        The export the state was read from (``""`` for a table or none).
    """

    scenario: Scenario = field(repr=False)
    as_of: _dt.date
    day: int
    actuals: pd.DataFrame = field(repr=False)
    bank: pd.DataFrame = field(repr=False)
    created: pd.DataFrame = field(repr=False)
    warnings: list = field(default_factory=list)
    file: str = ""

    def by_period(self, frame: pd.DataFrame, model: Model) -> tuple:
        """Dollars and count of ``frame`` (``actuals`` or ``created``) by the model's period and cell.

        Parameters
        ----------
        frame : pandas.DataFrame
            With ``cell``, ``day`` and ``amount`` columns.
        model : Model
            Its periods are the reporting periods.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            ``(periods, cells)`` float64 dollars and int64 counts.
        """
        shape = (len(model.periods), len(self.scenario.cells))
        amount, count = np.zeros(shape), np.zeros(shape, dtype=np.int64)
        if len(frame):
            p = model.period_of_day[frame["day"].to_numpy(dtype=np.int64)]
            c = frame["cell"].to_numpy(dtype=np.int64)
            np.add.at(amount, (p, c), frame["amount"].to_numpy(dtype=np.float64))
            np.add.at(count, (p, c), 1)
        return amount, count

    def created_by_period(self, model: Model) -> tuple:
        """Dollars and count entering each stage before the as-of date, by period, cell and stage.

        Parameters
        ----------
        model : Model

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            ``(periods, cells, stages)`` float64 dollars and int64 counts.
        """
        shape = (len(model.periods), len(self.scenario.cells), model.n_stages)
        amount, count = np.zeros(shape), np.zeros(shape, dtype=np.int64)
        f = self.created
        if len(f):
            idx = (
                model.period_of_day[f["day"].to_numpy(dtype=np.int64)],
                f["cell"].to_numpy(dtype=np.int64),
                f["stage"].to_numpy(dtype=np.int64),
            )
            np.add.at(amount, idx, f["amount"].to_numpy(dtype=np.float64))
            np.add.at(count, idx, 1)
        return amount, count

    def model(self, model: Model) -> Model:
        """The as-of model: ``model``'s creation from the as-of day on, and this bank starting then.

        Parameters
        ----------
        model : Model
            The plan's model (:func:`simcore.engine.compile.compile_scenario`).

        Returns
        -------
        Model
        """
        b = self.bank
        later = model.from_day(self.day)
        return later.with_bank(
            b["cell"].to_numpy(dtype=np.int64),
            b["stage"].to_numpy(dtype=np.int64),
            b["amount"].to_numpy(dtype=np.float64),
            created=b["created"].to_numpy(dtype=np.float64),
            close=b["expected_close"].to_numpy(dtype=np.float64),
            start=float(self.day),
            age=b["age"].to_numpy(dtype=np.float64),
            pushes=b["pushes"].to_numpy(dtype=np.int64),
        )


def as_of_day(scenario: Scenario, as_of) -> tuple:
    """``(date, day)`` of an as-of date inside the plan's horizon; a clear error otherwise.

    Parameters
    ----------
    scenario : Scenario
    as_of : datetime.date or str
        ISO ``YYYY-MM-DD``.

    Returns
    -------
    (datetime.date, int)

    Raises
    ------
    SimcoreError
        When ``as_of`` is not a date, or lies outside the plan's horizon.

    Examples
    --------
    >>> import simcore
    >>> as_of_day(simcore.load_scenario("scenarios/smb.toml"), "2026-05-15")
    (datetime.date(2026, 5, 15), 134)
    """
    sc = check_scenario(scenario)
    if isinstance(as_of, pd.Timestamp):
        as_of = as_of.date()
    if isinstance(as_of, _dt.datetime):
        as_of = as_of.date()
    if isinstance(as_of, str):
        try:
            as_of = _dt.date.fromisoformat(as_of.strip())
        except ValueError:
            raise SimcoreError(f"as_of: expected a date YYYY-MM-DD, got {as_of!r}") from None
    if not isinstance(as_of, _dt.date):
        raise SimcoreError(f"as_of: expected a date, got {type(as_of).__name__}")
    day = (as_of - sc.start).days
    end = sc.start + _dt.timedelta(days=sc.horizon_days - 1)
    if not 0 <= day < sc.horizon_days:
        raise SimcoreError(
            f"as-of date {as_of} is outside the plan's year ({sc.start} to {end}): "
            f"an as-of forecast is made from a day inside the plan"
        )
    return as_of, day


def _scenario_stage_map(sc: Scenario, frames, mapping) -> StageMap:
    """The scenario's stages, the CRM names that map to them, and the closed names."""
    names = [s.name for s in sc.stages]
    code = {n.lower(): i for i, n in enumerate(names)}
    if mapping is not None:
        items = parse_mapping(mapping) if isinstance(mapping, str) else list(mapping)
        for crm, target, _ in items:
            if target not in names:
                raise SimcoreError(
                    f"--stages {crm}={target}: the scenario has no stage {target!r}"
                    f"{spec.did_you_mean(target, names)} (its stages: {', '.join(names)})"
                )
            code[crm.lower()] = names.index(target)
    add_closed_names(code, frames)
    return StageMap(names, [s.category for s in sc.stages], code)


def _stage_warnings(smap: StageMap, opps, hist, mapping) -> list:
    """What the stage names leave unused, said: a ``--stages`` name no row has, a history stage
    the scenario does not know (its rows are then not read; one the as-of state needs is an
    error where it is read).
    """
    out = []
    seen = {str(n).lower() for f in (opps, hist) if f is not None for n in f["stage"].drop_duplicates()}
    if mapping is not None:
        items = parse_mapping(mapping) if isinstance(mapping, str) else list(mapping)
        for crm, target, _ in items:
            if crm.lower() not in seen:
                out.append(
                    f"--stages {crm}={target}: no row of the export or the stage history has the stage "
                    f"{crm!r}: this mapping is not used (a typo?)"
                )
    if hist is not None and len(hist):
        lower = hist["stage"].str.lower()
        unknown = ~lower.isin(list(smap.code))
        if unknown.any():
            counts = hist.loc[unknown, "stage"].value_counts()
            file = hist.attrs.get("file", "the stage history")
            for name, n in counts.head(10).items():
                out.append(
                    f"{file}: {int(n)} rows have the stage {name!r}, which is not a stage of the scenario "
                    f"nor mapped with --stages: those rows are not used"
                )
    return out


def _table(value, reader, what, **kwargs):
    if value is None:
        return None, []
    if isinstance(value, pd.DataFrame):
        return value, []
    if isinstance(value, (str, Path)):
        read = reader(value, **kwargs)
        return read.table, list(read.warnings)
    raise SimcoreError(
        f"{what} must be a CSV file's path or a table from the readers, got {type(value).__name__}"
    )


def _dimensions_to_read(sc, opportunities, columns):
    """The scenario's dimensions to read from an export file: all but a one-valued dimension the
    file has no column for.
    """
    dims = list(sc.dimensions)
    if not isinstance(opportunities, (str, Path)):
        return dims
    try:
        header = {normalise(c) for c in pd.read_csv(opportunities, nrows=0, encoding="utf-8-sig").columns}
    except (OSError, ValueError, UnicodeDecodeError):
        return dims  # the reader says what is wrong with the file
    given = columns or {}
    return [
        d
        for d in dims
        if len(sc.dimensions[d]) > 1
        or d in given
        or any(normalise(a) in header for a in dimension_aliases(d))
    ]


def _check_export_reaches(opps, history, as_of):
    latest = _latest(opps, history)
    if latest is None:
        return
    when, frame, i, col = latest
    if when < pd.Timestamp(as_of) - EXPORT_GRACE_DAYS * _DAY:
        field_name = "changed" if col == "changed" else col
        raise ScenarioError(
            [
                Problem(
                    frame.attrs.get("file", "(table)"),
                    _where(frame, i, field_name if field_name != "closed" else "close_date"),
                    f"the export ends before the as-of date: its latest date is {when.date()}, more than "
                    f"{EXPORT_GRACE_DAYS} days before {as_of}; pull a newer export, or forecast as of an "
                    f"earlier date",
                )
            ]
        )


def as_of_state(scenario, opportunities=None, as_of=None, *, history=None, columns=None, stages=None) -> AsOf:
    """The plan's year split at ``as_of``: actuals, the open bank and the creation so far.

    Parameters
    ----------
    scenario : Scenario
        The plan (:func:`simcore.load_scenario`); its dimensions name the export's columns
        and its stages are the stages the export's stage names map to.
    opportunities : str, Path or pandas.DataFrame, optional
        The opportunity export (CSV), or its table from
        :func:`simcore.calibrate.read_opportunities` read with the scenario's dimensions.
        None: no actuals, and the scenario's own bank starts at the as-of date.
    as_of : datetime.date or str
        A day inside the plan's horizon; only what happened before it counts.
    history : str, Path or pandas.DataFrame, optional
        The stage history (CSV, or :func:`simcore.calibrate.read_stage_history`'s table):
        the deals' stages, ages in stage, amounts and close dates on the as-of date are
        rebuilt from its rows dated before it.
    columns : dict, optional
        ``{field: column}`` for columns under other names, as ``simcore calibrate --map``.
    stages : str or list, optional
        CRM stage names mapped to the scenario's stages, ``"Proposal=Trial, Contract=Negotiation"``
        (:func:`simcore.calibrate.stages.parse_mapping`); a CRM name equal to a scenario
        stage's name (any case) needs no mapping, closed stages are known by name.

    Returns
    -------
    AsOf

    Raises
    ------
    SimcoreError, ScenarioError
        An as-of date outside the plan's year; a file that cannot be read; a close before a
        creation; a stage or a dimension value the scenario does not know; an export that
        ends before the as-of date: each naming the file, the line and the column.

    Examples
    --------
    >>> import simcore
    >>> from simcore.calibrate import simulate_history, tidy_history
    >>> sc = simcore.load_scenario("scenarios/smb.toml")
    >>> h = simulate_history(sc, "2025-01-01", "2026-06-01", seed=1)
    >>> opps, hist = tidy_history(h, dimensions=["source", "product"])
    >>> state = as_of_state(sc, opps, "2026-05-15", history=hist)
    >>> bool(len(state.actuals) > 0 and len(state.bank) > 0), state.day
    (True, 134)
    """
    sc = check_scenario(scenario)
    if as_of is None:
        raise SimcoreError("as_of: give the as-of date (YYYY-MM-DD)")
    as_of, day = as_of_day(sc, as_of)
    if opportunities is None:
        return _own_bank(sc, as_of, day)
    dims = _dimensions_to_read(sc, opportunities, columns)
    opps, warnings = _table(
        opportunities, read_opportunities, "opportunities", columns=columns, dimensions=dims
    )
    # A dimension of one value (a fitted scenario's ``segment = ["all"]``) needs no column.
    lone = {d: v[0] for d, v in sc.dimensions.items() if len(v) == 1 and d not in opps.columns}
    if lone:
        attrs = dict(opps.attrs)
        opps = opps.assign(**lone)
        opps.attrs.update(attrs)
    hist, hist_warnings = _table(history, read_stage_history, "history", columns=columns)
    warnings += hist_warnings
    for name in ("opportunity_id", "created", "status", "closed", "close_date", "amount", "stage", "line"):
        if name not in opps.columns:
            raise SimcoreError(f"opportunities: the table lacks {name!r}: read it with read_opportunities")
    require_amount(opps, "a forecast")
    smap = _scenario_stage_map(sc, [opps, hist], stages)  # a bad mapping is said first
    warnings += _stage_warnings(smap, opps, hist, stages)
    _check_export_reaches(opps, hist, as_of)
    t_as_of, t_start = pd.Timestamp(as_of), pd.Timestamp(sc.start)
    file = opps.attrs.get("file", "(table)")
    status = opps["status"].to_numpy()
    created_before = (opps["created"] < t_as_of).to_numpy()
    is_closed = status != "open"
    closed = opps["closed"]
    closed_before = is_closed & (closed < t_as_of).to_numpy()
    when_unknown = is_closed & closed.isna().to_numpy() & created_before
    if when_unknown.any():
        warnings.append(
            f"{file}: {int(when_unknown.sum())} closed opportunities have no close date: neither actuals "
            f"nor open on the as-of date"
        )
    won = (status == "won") & closed_before & (closed >= t_start).to_numpy()
    open_rows = np.nonzero(created_before & ~closed_before & ~when_unknown)[0]
    actuals = _actuals(sc, opps, np.nonzero(won)[0], t_start, warnings)
    created_rows = np.nonzero(created_before & (opps["created"] >= t_start).to_numpy())[0]
    cells = _cells(sc, opps, created_rows)
    created = pd.DataFrame(
        {
            "cell": cells,
            "stage": np.array([sc.params[c].entry_stage for c in cells], dtype=np.int64),
            "day": np.floor(_days(opps["created"].iloc[created_rows], t_start)).astype(np.int64),
            "amount": np.nan_to_num(opps["amount"].iloc[created_rows].to_numpy(dtype=np.float64)),
        }
    )
    if hist is not None:
        created = pd.concat(
            [created, _later_stages(sc, opps, hist, smap, t_as_of, t_start)], ignore_index=True
        )
    bank = _bank(sc, opps, hist, smap, open_rows, t_as_of, t_start, warnings)
    return AsOf(sc, as_of, day, actuals, bank, created, warnings, str(opps.attrs.get("file", "")))


def _own_bank(sc, as_of, day):
    """No export: no actuals, and the scenario's own bank starting at the as-of day."""
    names = [s.name for s in sc.stages]
    bank = pd.DataFrame(
        {
            "opportunity_id": [f"bank-{i}" for i in range(len(sc.bank))],
            "cell": np.array([d.cell for d in sc.bank], dtype=np.int64),
            "stage": np.array([d.stage for d in sc.bank], dtype=np.int64),
            "stage_name": [names[d.stage] for d in sc.bank],
            "amount": np.array([d.amount for d in sc.bank], dtype=np.float64),
            "created": np.array([d.created for d in sc.bank], dtype=np.float64),
            "expected_close": np.array([d.expected_close for d in sc.bank], dtype=np.float64),
            "age": np.full(len(sc.bank), np.nan),
            "pushes": np.zeros(len(sc.bank), dtype=np.int64),
            "line": np.zeros(len(sc.bank), dtype=np.int64),
        }
    )
    empty = pd.DataFrame({"cell": np.zeros(0, np.int64), "day": np.zeros(0, np.int64), "amount": np.zeros(0)})
    actuals = empty.assign(opportunity_id=pd.Series([], dtype=object), line=np.zeros(0, np.int64))
    return AsOf(sc, as_of, day, actuals, bank, empty.assign(stage=np.zeros(0, np.int64)), [], "")


def _actuals(sc, opps, rows, t_start, warnings):
    amount = opps["amount"].iloc[rows].to_numpy(dtype=np.float64)
    _check_not_absurd(opps, rows, amount)
    if np.isnan(amount).any():
        warnings.append(
            f"{opps.attrs.get('file', '(table)')}: {int(np.isnan(amount).sum())} deals won before the "
            f"as-of date have no amount: counted as won deals, with no dollars"
        )
    frame = pd.DataFrame(
        {
            "opportunity_id": opps["opportunity_id"].iloc[rows].to_numpy(),
            "cell": _cells(sc, opps, rows),
            "day": np.floor(_days(opps["closed"].iloc[rows], t_start)).astype(np.int64),
            "amount": np.nan_to_num(amount),
            "line": opps["line"].iloc[rows].to_numpy(),
        }
    )
    for d in sc.dimensions:
        frame[d] = opps[d].iloc[rows].to_numpy()
    return frame
