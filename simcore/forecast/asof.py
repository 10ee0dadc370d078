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

from simcore.calibrate.readers import read_opportunities, read_stage_history
from simcore.calibrate.stages import StageMap, closed_code, parse_mapping
from simcore.engine.compile import Model
from simcore.errors import Problem, ScenarioError, SimcoreError
from simcore.scenario import spec
from simcore.scenario.load import Scenario, check_scenario

__all__ = ["AsOf", "as_of_state", "as_of_day"]

_DAY = pd.Timedelta(days=1)
# An export whose latest date is more than this many days before the as-of date cannot say
# what happened since: a week allows for an export pulled on a Friday and used on a Monday.
EXPORT_GRACE_DAYS = 7


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
        One row per deal created in the plan's year before the as-of date: ``cell, day,
        amount``.
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
    for frame in frames:
        if frame is None:
            continue
        for name in frame["stage"].drop_duplicates():
            c = closed_code(name)
            if c is not None:
                code.setdefault(name.lower(), c)
    return StageMap(names, [s.category for s in sc.stages], code)


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


def _where(frame, i, field_name):
    column = frame.attrs.get("columns", {}).get(field_name, field_name)
    return f"line {int(frame['line'].iloc[i])}, column {column!r}"


def _cells(sc, opps, rows):
    """Cell index of ``opps.iloc[rows]``; an unknown dimension value is a problem naming its line."""
    file = opps.attrs.get("file", "(table)")
    dims = list(sc.dimensions)
    missing = [d for d in dims if d not in opps.columns]
    if missing:
        raise SimcoreError(
            f"{file}: the opportunity table has no column for the scenario's dimension "
            f"{', '.join(map(repr, missing))}: read it with read_opportunities(..., dimensions={dims!r})"
        )
    problems = []
    codes = []
    for d in dims:
        values = opps[d].iloc[rows].astype(str)
        code = pd.Index(list(sc.dimensions[d])).get_indexer(values).astype(np.int64)
        for i in np.nonzero(code < 0)[0][:20]:
            value = values.iloc[i]
            problems.append(
                Problem(
                    file,
                    _where(opps, rows[i], d),
                    f"unknown {d} {value!r}{spec.did_you_mean(value, sc.dimensions[d])}: the scenario's "
                    f"{d} values are {', '.join(sc.dimensions[d])}",
                )
            )
        codes.append(code)
    if problems:
        raise ScenarioError(problems)
    shape = tuple(len(sc.dimensions[d]) for d in dims)
    lookup = np.zeros(shape, dtype=np.int64)
    for i, cell in enumerate(sc.cells):
        lookup[tuple(list(sc.dimensions[d]).index(v) for d, v in zip(dims, cell))] = i
    return lookup[tuple(codes)] if dims else np.zeros(len(rows), dtype=np.int64)


def _latest(opps, history):
    """The latest date the files record, and where (for the export-ends-too-early problem)."""
    candidates = []
    for frame, columns in ((opps, ("created", "closed")), (history, ("changed",))):
        if frame is None or frame.empty:
            continue
        for col in columns:
            values = frame[col]
            if values.notna().any():
                i = int(np.nanargmax(values.to_numpy(dtype="datetime64[ns]").astype("int64")))
                if values.iloc[i] is not pd.NaT:
                    candidates.append((values.iloc[i], frame, i, col))
    return max(candidates, key=lambda c: c[0]) if candidates else None


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


def _days(values, origin):
    return ((values - origin) / _DAY).to_numpy(dtype=np.float64)


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
    dims = list(sc.dimensions)
    opps, warnings = _table(
        opportunities, read_opportunities, "opportunities", columns=columns, dimensions=dims
    )
    hist, hist_warnings = _table(history, read_stage_history, "history", columns=columns)
    warnings += hist_warnings
    for name in ("opportunity_id", "created", "status", "closed", "close_date", "amount", "stage", "line"):
        if name not in opps.columns:
            raise SimcoreError(f"opportunities: the table lacks {name!r}: read it with read_opportunities")
    smap = _scenario_stage_map(sc, [opps, hist], stages)  # a bad mapping is said first
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
    created = pd.DataFrame(
        {
            "cell": _cells(sc, opps, created_rows),
            "day": np.floor(_days(opps["created"].iloc[created_rows], t_start)).astype(np.int64),
            "amount": np.nan_to_num(opps["amount"].iloc[created_rows].to_numpy(dtype=np.float64)),
        }
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
            "line": np.zeros(len(sc.bank), dtype=np.int64),
        }
    )
    empty = pd.DataFrame({"cell": np.zeros(0, np.int64), "day": np.zeros(0, np.int64), "amount": np.zeros(0)})
    actuals = empty.assign(opportunity_id=pd.Series([], dtype=object), line=np.zeros(0, np.int64))
    return AsOf(sc, as_of, day, actuals, bank, empty, [], "")


def _actuals(sc, opps, rows, t_start, warnings):
    amount = opps["amount"].iloc[rows].to_numpy(dtype=np.float64)
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


def _bank(sc, opps, hist, smap, rows, t_as_of, t_start, warnings):
    """The deals open on the as-of date (see :class:`AsOf`)."""
    from simcore.scenario.bank import MAX_BANK_DEALS

    file = opps.attrs.get("file", "(table)")
    if len(rows) > MAX_BANK_DEALS:
        raise SimcoreError(
            f"{file}: {len(rows):,} opportunities are open on the as-of date, more than the limit of "
            f"{MAX_BANK_DEALS:,} for a bank"
        )
    sub = opps.iloc[rows]
    cells = _cells(sc, opps, rows)
    entry = np.array([sc.params[c].entry_stage for c in cells], dtype=np.int64)
    code = smap.codes(sub["stage"], file, sub["line"], opps.attrs.get("columns", {}).get("stage", "stage"))
    still_open = (sub["status"] == "open").to_numpy()
    _check_close_dates(opps, rows, still_open)
    # A deal closed since the as-of date shows its final stage and real close date in the
    # export: neither was known then. It starts at its cell's entry stage, its age the days
    # since it was created, its expected close unknown.
    stage = np.where(code >= 0, code, entry)
    since_created = _days(t_as_of - sub["created"], pd.Timedelta(0))
    age = np.where(stage == entry, since_created, np.nan)
    close = np.where(still_open, _days(sub["close_date"], t_start), np.nan)
    amount = sub["amount"].to_numpy(dtype=np.float64).copy()
    have = np.zeros(len(rows), dtype=bool)
    if hist is not None:
        have = _from_history(hist, smap, sub["opportunity_id"], t_as_of, t_start, stage, age, close, amount)
        if (~have).any():
            warnings.append(
                f"{int((~have).sum())} of the {len(rows):,} deals open on the as-of date have no stage-history "
                f"row before it: their export stage is used, their age in stage known only at the entry stage"
            )
    n_later = int(((code < 0) & ~have).sum())
    if n_later:
        warnings.append(
            f"{file}: {n_later} deals open on the as-of date closed later and have no history before it: "
            f"started at their entry stage, aged since created"
        )
    latest = _latest(opps, hist)
    if hist is None and latest is not None and latest[0] > t_as_of + EXPORT_GRACE_DAYS * _DAY:
        warnings.append(
            f"{file}: the export is of {latest[0].date()}, after the as-of date, and no stage history was "
            f"given: the open deals' stages and close dates are the export's, not the as-of date's "
            f"(give --history to rebuild them)"
        )
    amount = _bank_amounts(sc, opps, rows, cells, amount, warnings)
    names = [s.name for s in sc.stages]
    bank = pd.DataFrame(
        {
            "opportunity_id": sub["opportunity_id"].to_numpy(),
            "cell": cells,
            "stage": stage,
            "stage_name": [names[s] for s in stage],
            "amount": amount,
            "created": _days(sub["created"], t_start),
            "expected_close": close,
            "age": age,
            "line": sub["line"].to_numpy(),
        }
    )
    for d in sc.dimensions:
        bank[d] = sub[d].to_numpy()
    return bank


def _check_close_dates(opps, rows, still_open):
    sub = opps.iloc[rows]
    bad = still_open & (sub["close_date"] < sub["created"].dt.normalize()).to_numpy()
    if bad.any():
        raise ScenarioError(
            [
                Problem(
                    opps.attrs.get("file", "(table)"),
                    _where(opps, rows[i], "close_date"),
                    f"expected close {sub['close_date'].iloc[i].date()} is before it was created "
                    f"{sub['created'].iloc[i].date()}",
                )
                for i in np.nonzero(bad)[0][:20]
            ]
        )


def _from_history(hist, smap, ids, t_as_of, t_start, stage, age, close, amount):
    """Stage, age in stage, expected close and amount on the as-of date from the history's
    rows dated before it, written into the arrays in place; returns which deals had rows.
    """
    h = hist[(hist["changed"] < t_as_of) & hist["opportunity_id"].isin(ids)]
    if h.empty:
        return np.zeros(len(ids), dtype=bool)
    column = hist.attrs.get("columns", {}).get("stage", "stage")
    code = smap.codes(h["stage"], hist.attrs.get("file", "(table)"), h["line"], column)
    is_open = code >= 0
    o, ocode = h[is_open], code[is_open]
    deal = o["opportunity_id"].to_numpy()
    first = np.r_[True, deal[1:] != deal[:-1]] if len(deal) else np.zeros(0, dtype=bool)
    new_run = first | np.r_[True, ocode[1:] != ocode[:-1]][: len(ocode)]
    entered = o["changed"].where(new_run).ffill()
    last = np.r_[deal[1:] != deal[:-1], True] if len(deal) else np.zeros(0, dtype=bool)
    now = pd.DataFrame({"stage": ocode[last], "entered": entered.to_numpy()[last]}, index=deal[last])
    latest = h.groupby("opportunity_id")[["close_date", "amount"]].last()  # the last value given
    position = pd.Index(ids)
    i = position.get_indexer(now.index)
    stage[i] = now["stage"].to_numpy()
    age[i] = _days(t_as_of - pd.Series(now["entered"].to_numpy()), pd.Timedelta(0))
    j = position.get_indexer(latest.index)
    given_close = latest["close_date"].notna().to_numpy()
    close[j[given_close]] = _days(latest["close_date"][given_close], t_start)
    given_amount = latest["amount"].notna().to_numpy()
    amount[j[given_amount]] = latest["amount"].to_numpy()[given_amount]
    have = np.zeros(len(ids), dtype=bool)
    have[i] = True
    return have


def _bank_amounts(sc, opps, rows, cells, amount, warnings):
    """A blank or zero amount takes the cell's mean deal size; an absurd one is an error."""
    from simcore.scenario.amounts import expected_amount

    big = amount > spec.MAX_DOLLARS
    if big.any():
        raise ScenarioError(
            [
                Problem(
                    opps.attrs.get("file", "(table)"),
                    _where(opps, rows[i], "amount"),
                    f"amount {amount[i]:,.0f} is above the largest deal size of {spec.MAX_DOLLARS:,.0f} "
                    f"(larger is a units mistake)",
                )
                for i in np.nonzero(big)[0][:20]
            ]
        )
    small = ~(amount >= spec.MIN_DOLLARS)
    if small.any():
        mean = np.array([expected_amount(p.amount) for p in sc.params])
        amount = np.where(small, mean[cells], amount)
        warnings.append(
            f"{opps.attrs.get('file', '(table)')}: {int(small.sum())} deals open on the as-of date have no "
            f"amount (blank or below {spec.MIN_DOLLARS:g}): each is given its cell's mean deal size"
        )
    return amount
