"""The deals of an export as of a date: cells, the open bank's state and the creation so far.

The row-level work of :func:`simcore.forecast.asof.as_of_state`: each deal's cell from the
scenario's dimensions, the open deals' stage, age in stage, amount and expected close (rebuilt
from a stage history's rows dated before the as-of date), and the later stages' entries. Every
problem names the file, the line and the column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simcore.errors import Problem, ScenarioError, SimcoreError
from simcore.scenario import spec
from simcore.scenario.amounts import expected_amount
from simcore.scenario.bank import MAX_BANK_DEALS

_DAY = pd.Timedelta(days=1)
# An export whose latest date is more than this many days before the as-of date cannot say
# what happened since: a week allows for an export pulled on a Friday and used on a Monday.
EXPORT_GRACE_DAYS = 7


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


def _days(values, origin):
    return ((values - origin) / _DAY).to_numpy(dtype=np.float64)


def _bank(sc, opps, hist, smap, rows, t_as_of, t_start, warnings):
    """The deals open on the as-of date (see :class:`AsOf`)."""
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
    pushes = np.zeros(len(rows), dtype=np.int64)
    have = np.zeros(len(rows), dtype=bool)
    if hist is not None:
        have = _from_history(hist, smap, sub["opportunity_id"], t_as_of, t_start, stage, age, close, amount)
        pushes = _pushes_taken(hist, smap, sub["opportunity_id"], t_as_of)
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
            "pushes": pushes,
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


def _pushes_taken(hist, smap, ids, t_as_of):
    """Pushes each deal took before the as-of date: its close date moved later while it stayed
    at the decision stage (as calibration counts them, :mod:`simcore.calibrate.events`).
    """
    h = hist[(hist["changed"] < t_as_of) & hist["opportunity_id"].isin(ids)]
    out = np.zeros(len(ids), dtype=np.int64)
    if h.empty:
        return out
    column = hist.attrs.get("columns", {}).get("stage", "stage")
    code = smap.codes(h["stage"], hist.attrs.get("file", "(table)"), h["line"], column)
    deal = h["opportunity_id"].to_numpy()
    close = h["close_date"].to_numpy()
    decision = len(smap.names) - 1
    same = np.r_[False, deal[1:] == deal[:-1]]
    at_decision = np.r_[False, (code[1:] == decision) & (code[:-1] == decision)]
    later = np.r_[False, close[1:] > close[:-1]]
    push = same & at_decision & later
    counts = pd.Series(push.astype(np.int64)).groupby(deal).sum()
    out[pd.Index(ids).get_indexer(counts.index)] = counts.to_numpy()
    return out


def _bank_amounts(sc, opps, rows, cells, amount, warnings):
    """A blank or zero amount takes the cell's mean deal size; an absurd one is an error."""
    _check_not_absurd(opps, rows, amount)
    small = ~(amount >= spec.MIN_DOLLARS)
    if small.any():
        mean = np.array([expected_amount(p.amount) for p in sc.params])
        amount = np.where(small, mean[cells], amount)
        warnings.append(
            f"{opps.attrs.get('file', '(table)')}: {int(small.sum())} deals open on the as-of date have no "
            f"amount (blank or below {spec.MIN_DOLLARS:g}): each is given its cell's mean deal size"
        )
    return amount


def _check_not_absurd(opps, rows, amount):
    """An amount above the largest deal size is a units mistake: one problem per row."""
    big = ~(amount <= spec.MAX_DOLLARS) & ~np.isnan(amount)
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


def _later_stages(sc, opps, hist, smap, t_as_of, t_start):
    """Entries into the stages after each deal's entry stage, in the year before the as-of date:
    the first change of each deal into each stage (a deal that comes back is not created twice).
    """
    h = hist[(hist["changed"] >= t_start) & (hist["changed"] < t_as_of)]
    index = pd.Series(np.arange(len(opps)), index=opps["opportunity_id"].to_numpy())
    h = h[h["opportunity_id"].isin(index.index)]
    if h.empty:
        return pd.DataFrame({"cell": [], "stage": [], "day": [], "amount": []}).astype(
            {"cell": np.int64, "stage": np.int64, "day": np.int64}
        )
    column = hist.attrs.get("columns", {}).get("stage", "stage")
    code = smap.codes(h["stage"], hist.attrs.get("file", "(table)"), h["line"], column)
    rows = index[h["opportunity_id"]].to_numpy()
    cells = _cells(sc, opps, rows)
    entry = np.array([p.entry_stage for p in sc.params], dtype=np.int64)[cells]
    frame = pd.DataFrame(
        {
            "deal": rows,
            "cell": cells,
            "stage": code,
            "day": np.floor(_days(h["changed"], t_start)).astype(np.int64),
            "amount": h["amount"].to_numpy(dtype=np.float64),
            "export_amount": opps["amount"].to_numpy(dtype=np.float64)[rows],
        }
    )
    frame = frame[(code > entry)].drop_duplicates(["deal", "stage"], keep="first")
    frame["amount"] = np.nan_to_num(frame["amount"].fillna(frame["export_amount"]).to_numpy())
    return frame[["cell", "stage", "day", "amount"]].reset_index(drop=True)
