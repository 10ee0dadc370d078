"""Readers of CRM history: an opportunity export and an optional stage history, as tidy DataFrames.

Both files are CSV (UTF-8, with or without Excel's byte-order mark). Columns are found by
their Salesforce API names (``StageName``), their report labels (``Stage``, ``Close Date``) or
any name given with ``columns={"field": "Column"}`` (the command line's ``--map field=Column``);
names match case-insensitively and ignoring spaces and underscores. Dates may come in several
formats in one column (ISO ``2026-01-05`` or ``2026-01-05T10:30:00.000+0000``, US
``1/5/2026`` or ``1/5/2026 10:30 AM``, ``05.01.2026``, ``5-Jan-2026``, ``Jan 5, 2026``);
a slash date is month first unless the column holds a first number above 12.

Every problem is reported at once, one line each naming the file, the line and the column
(:class:`~simcore.errors.ScenarioError`: the command line prints them and exits 2). What is
odd but usable (a blank amount, a lead without a created date) is a warning, returned with
the data.

The opportunity table (:func:`read_opportunities`), one row per opportunity:

=================  ========================================================================
``opportunity_id`` text
``created``        datetime64 (UTC, naive); rows without one are leads and are dropped
``stage``          the CRM's stage name as in the file (open stages and closed ones)
``status``         ``"open"``, ``"won"`` or ``"lost"``
``loss_reason``    ``"competition"``, ``"no_decision"``, ``"other"`` or ``""`` (not lost)
``closed``         datetime64: when it was won or lost (NaT while open)
``close_date``     datetime64: the current (expected or actual) close date, NaT if blank
``amount``         float dollars, NaN where blank
``forecast_category`` text as in the file, ``""`` if absent
``line``           the line of the file the row came from
one column per dimension asked for (text; ``"unknown"`` where blank)
=================  ========================================================================

The stage-history table (:func:`read_stage_history`), one row per change, sorted by
opportunity and time: ``opportunity_id``, ``changed`` (datetime64), ``stage``, ``amount``,
``close_date``, ``line``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simcore.errors import Problem, ScenarioError
from simcore.scenario.nodes import MAX_DOLLARS

# Fields of each file and the column names they are known by (normalised: lower case, no
# spaces, underscores or punctuation). Salesforce API names first, then report labels.
OPPORTUNITY_FIELDS = {
    "id": ["id", "opportunityid", "opportunity id", "18 digit id", "record id"],
    "created": ["createddate", "created date", "create date", "created", "opportunity created date"],
    "stage": ["stagename", "stage", "opportunity stage"],
    "amount": ["amount", "amount (converted)", "opportunity amount", "total amount"],
    "close_date": ["closedate", "close date", "expected close date"],
    "closed": ["closed date", "date closed", "closeddate"],
    "is_closed": ["isclosed", "closed"],
    "is_won": ["iswon", "won"],
    "outcome": ["outcome", "result", "status"],
    "loss_reason": ["loss_reason__c", "loss reason", "lossreason", "closed lost reason", "reason lost"],
    "forecast_category": ["forecastcategoryname", "forecast category", "forecastcategory"],
}
HISTORY_FIELDS = {
    # Not "id": in Salesforce's OpportunityHistory that is the change's own id, and taking it made
    # the opportunity export itself pass for a stage history.
    "opportunity_id": ["opportunityid", "opportunity id", "opportunity"],
    "changed": ["createddate", "created date", "last modified", "edit date", "date", "changed"],
    "stage": ["stagename", "stage", "to stage"],
    "amount": ["amount"],
    "close_date": ["closedate", "close date"],
}
REQUIRED = {"opportunity": ("id", "created", "stage"), "history": ("opportunity_id", "changed", "stage")}

WON_WORDS = {"closed won", "won", "closedwon", "win"}
LOST_WORDS = {"closed lost", "lost", "closedlost", "loss", "closed - lost", "closed - won"}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
_DATE_FORMATS = [
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%y",
    "%d.%m.%Y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%Y/%m/%d",
]


def normalise(name: str) -> str:
    """Column names compare by this: lower case, without spaces, underscores or punctuation."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def dimension_aliases(dimension: str) -> list:
    """Names a dimension's column may have: itself, ``Dimension__c``, and ``LeadSource`` for source."""
    names = [dimension, f"{dimension}__c"]
    if normalise(dimension) in ("source", "leadsource"):
        names += ["leadsource", "lead source", "source"]
    if normalise(dimension) in ("type", "motion", "dealtype"):
        names += ["type", "opportunity type"]
    return names


@dataclass
class Read:
    """A table read from a file, with what is odd about it.

    Attributes
    ----------
    table : pandas.DataFrame
        The tidy table (columns documented in :mod:`simcore.calibrate.readers`).
    warnings : list of str
        One line per thing that is usable but worth saying (blank amounts, leads dropped).
    file : str
        The file it came from.
    """

    table: pd.DataFrame
    warnings: list = field(default_factory=list)
    file: str = ""


def require_amount(table: pd.DataFrame, purpose: str) -> None:
    """Refuse an opportunity table with no dollars: no amount column, or a blank amount in every row.

    A forecast, a pacing or a backtest without amounts would count every won deal as $0 and
    still print a P(hit): an error naming the file instead of a warning.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`read_opportunities`'s table (its ``attrs`` name the file and the columns found).
    purpose : str
        What needs the dollars, for the message (``"a forecast"``).

    Raises
    ------
    ScenarioError
        Naming the file and what to map.

    Examples
    --------
    >>> import pandas as pd
    >>> require_amount(pd.DataFrame({"amount": [100.0, None]}), "a forecast")
    """
    file = str(table.attrs.get("file", "the opportunity table"))
    found = table.attrs.get("columns")
    if (found is not None and "amount" not in found) or "amount" not in table.columns:
        looked = ", ".join(repr(a) for a in OPPORTUNITY_FIELDS["amount"][:3])
        what = f"no column for 'amount' (looked for {looked})"
    elif len(table) and table["amount"].isna().all():
        what = f"column {found.get('amount', 'amount') if found else 'amount'!r}: every amount is blank"
    else:
        return
    raise ScenarioError(
        [
            Problem(
                file,
                "(header)",
                f"{what}; {purpose} needs each deal's dollars: map one with --map amount=COLUMN",
            )
        ]
    )


def _read_csv(path, what):
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True
        )
    except FileNotFoundError:
        raise ScenarioError([Problem(str(path), "(file)", f"no such {what} file")]) from None
    except UnicodeDecodeError:
        raise ScenarioError([Problem(str(path), "(file)", "not UTF-8 text: save it as CSV UTF-8")]) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        raise ScenarioError([Problem(str(path), "(file)", f"cannot read as CSV: {exc}")]) from None
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas makes the first columns an index when rows have more fields than the header:
        # every later column would be read shifted. Say which lines.
        raise ScenarioError(_long_rows(path, len(frame.columns)))
    return frame


def _long_rows(path, n_columns):
    """One problem per line (at most 20) with more fields than the header's ``n_columns``."""
    import csv
    import io

    if hasattr(path, "seek"):
        path.seek(0)
        text = path.read()
    else:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    problems = []
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    for row in reader:
        if len(row) > n_columns and reader.line_num > 1:
            problems.append(
                Problem(
                    str(path),
                    f"line {reader.line_num}",
                    f"{len(row)} fields but the header (line 1) has {n_columns} columns: a value with "
                    f"a comma (e.g. $1,000.50) must be quoted",
                )
            )
            if len(problems) >= 20:
                break
    return problems or [Problem(str(path), "(file)", "rows have more fields than the header has columns")]


def _find_columns(frame, path, fields, required, columns, dimensions=()):
    """``{field: column}``: the user's mapping first, then the known names."""
    by_norm = {}
    for col in frame.columns:
        by_norm.setdefault(normalise(col), col)
    found, problems = {}, []
    known = {**fields, **{d: dimension_aliases(d) for d in dimensions}}
    for name, column in (columns or {}).items():
        if name not in known:
            problems.append(
                Problem(str(path), f"--map {name}", f"unknown field; known: {', '.join(sorted(known))}")
            )
        elif normalise(column) not in by_norm:
            problems.append(Problem(str(path), f"--map {name}={column}", f"no column {column!r} in the file"))
        else:
            found[name] = by_norm[normalise(column)]
    taken = set(found.values())
    for name, aliases in known.items():
        if name in found:
            continue
        for alias in aliases:
            col = by_norm.get(normalise(alias))
            if col is not None and col not in taken:
                found[name] = col
                taken.add(col)
                break
    for name in [*required, *dimensions]:
        if name not in found:
            problems.append(
                Problem(
                    str(path),
                    "(header)",
                    f"no column for {name!r} (looked for {', '.join(repr(a) for a in known[name][:3])}); "
                    f"map one with --map {name}=COLUMN",
                )
            )
    if problems:
        raise ScenarioError(problems)
    return found


def parse_dates(values: pd.Series) -> pd.Series:
    """Text dates in any of the supported formats -> datetime64 (UTC, tz-naive); blank -> NaT.

    Unparseable values are NaT too; the caller reports them by line.

    Examples
    --------
    >>> import pandas as pd
    >>> parse_dates(pd.Series(["2026-01-05", "1/7/2026", "", "08.01.2026"])).dt.day.tolist()
    [5.0, 7.0, nan, 8.0]
    """
    text = values.astype(str).str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    iso = text.str.match(r"^\d{4}-\d{2}-\d{2}")
    if iso.any():
        parsed = pd.to_datetime(text[iso], format="ISO8601", errors="coerce", utc=True)
        out[iso] = parsed.dt.tz_localize(None).astype("datetime64[ns]")
    rest = ~iso & (text != "")
    slash = text.str.extract(r"^(\d{1,2})/(\d{1,2})/\d{2,4}")[0]
    day_first = bool((pd.to_numeric(slash, errors="coerce") > 12).any())
    formats = [f.replace("%m/%d", "%d/%m") if day_first else f for f in _DATE_FORMATS]
    for fmt in formats:
        if not rest.any():
            break
        parsed = pd.to_datetime(text[rest], format=fmt, errors="coerce")
        ok = parsed.notna()
        out[parsed.index[ok]] = parsed[ok].astype("datetime64[ns]")
        rest[parsed.index[ok]] = False
    return out


def _amounts(values: pd.Series) -> pd.Series:
    """``"$1,234.50"``, ``"1234.5"``, ``"(100)"`` -> floats; blank -> NaN; nonsense -> NaN (reported)."""
    text = values.astype(str).str.strip().str.replace(r"[,$€£\s]|USD|EUR|GBP", "", regex=True)
    return pd.to_numeric(text.where(text != ""), errors="coerce")


def _amount_problems(path, frame, column, raw, amount) -> list:
    """Amounts that are not numbers, and amounts no deal has: over :data:`MAX_DOLLARS` (a
    trillion, a units mistake) or infinite, which would overflow every sum made of them.
    """
    return [
        *_bad_rows(path, frame, column, amount.isna() & (raw != ""), "not an amount"),
        *_bad_rows(
            path,
            frame,
            column,
            amount.abs() > MAX_DOLLARS,
            f"above the largest deal size of {MAX_DOLLARS:,.0f} (larger is a units mistake)",
        ),
    ]


def _bad_rows(path, frame, column, bad, what, limit=20):
    lines = frame.index[bad][:limit]
    problems = [
        Problem(str(path), f"line {i + 2}, column {column!r}", f"{what}: {frame.at[i, column]!r}")
        for i in lines
    ]
    if bad.sum() > limit:
        problems.append(Problem(str(path), f"column {column!r}", f"{int(bad.sum()) - limit} more such rows"))
    return problems


def _flags(values):
    text = values.astype(str).str.strip().str.lower()
    out = pd.Series(
        np.where(text.isin(_TRUE), 1.0, np.where(text.isin(_FALSE), 0.0, np.nan)), index=values.index
    )
    return out


def _outcome(frame, cols, path, problems):
    """``status`` from IsClosed/IsWon, an outcome column, or the stage name."""
    stage = frame[cols["stage"]].astype(str).str.strip().str.lower()
    status = pd.Series("open", index=frame.index, dtype=object)
    status[stage.isin(WON_WORDS)] = "won"
    status[stage.isin(LOST_WORDS - {"closed - won"}) | stage.str.startswith("closed lost")] = "lost"
    if "outcome" in cols:
        word = frame[cols["outcome"]].astype(str).str.strip().str.lower()
        status[word.isin(WON_WORDS)] = "won"
        status[word.isin(LOST_WORDS)] = "lost"
    if "is_closed" in cols:
        closed = _flags(frame[cols["is_closed"]])
        bad = closed.isna()
        problems.extend(_bad_rows(path, frame, cols["is_closed"], bad, "expected true or false"))
        won = _flags(frame[cols["is_won"]]) if "is_won" in cols else pd.Series(np.nan, index=frame.index)
        if "is_won" in cols:
            problems.extend(_bad_rows(path, frame, cols["is_won"], won.isna(), "expected true or false"))
        status[(closed == 1) & (won == 1)] = "won"
        status[(closed == 1) & (won == 0)] = "lost"
        status[closed == 0] = "open"
    return status


def _loss_reason(frame, cols, status):
    out = pd.Series("", index=frame.index, dtype=object)
    lost = status == "lost"
    if "loss_reason" not in cols:
        out[lost] = "other"
        return out
    text = frame[cols["loss_reason"]].astype(str).str.lower()
    out[lost] = "other"
    out[lost & text.str.contains("compet|lost to|competitor|price")] = "competition"
    out[
        lost
        & text.str.contains(r"no decision|no_decision|nodecision|no budget|status quo|went dark|unresponsive")
    ] = "no_decision"
    return out


def read_opportunities(path, columns=None, dimensions=()) -> Read:
    r"""Read an opportunity export (one row per opportunity) into the tidy table above.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    columns : dict, optional
        ``{field: column}`` for columns under other names, e.g. ``{"amount": "ARR"}``. Fields:
        ``id, created, stage, amount, close_date, closed, is_closed, is_won, outcome,
        loss_reason, forecast_category`` and the dimensions.
    dimensions : sequence of str
        Dimension columns to keep (``source``, ``product``...).

    Returns
    -------
    Read
        ``.table`` and ``.warnings``.

    Raises
    ------
    ScenarioError
        One problem per missing column, bad date, bad amount or duplicated id, each naming the
        file, the line and the column.

    Examples
    --------
    >>> import io, tempfile, os
    >>> text = "Id,Created Date,Stage,Amount,Close Date\n1,1/5/2026,Closed Won,100,2/1/2026\n"
    >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    ...     _ = f.write(text)
    >>> read_opportunities(f.name).table["status"].tolist()
    ['won']
    >>> os.unlink(f.name)
    """
    frame = _read_csv(path, "opportunity")
    cols = _find_columns(frame, path, OPPORTUNITY_FIELDS, REQUIRED["opportunity"], columns, dimensions)
    problems, warnings = [], []
    ids = frame[cols["id"]].astype(str).str.strip()
    dup = ids.duplicated(keep="first") & (ids != "")
    problems.extend(_bad_rows(path, frame, cols["id"], dup, "opportunity id given twice"))
    problems.extend(_bad_rows(path, frame, cols["id"], ids == "", "blank opportunity id"))
    dates, amount = _dates_and_amounts(frame, cols, path, problems)
    status = _outcome(frame, cols, path, problems)
    stage = frame[cols["stage"]].astype(str).str.strip()
    problems.extend(_bad_rows(path, frame, cols["stage"], stage == "", "blank stage"))
    if problems:
        raise ScenarioError(problems)
    close_date = dates.get("close_date", pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"))
    closed = dates.get("closed", close_date).where(status != "open")
    table = pd.DataFrame(
        {
            "opportunity_id": ids,
            "created": dates["created"],
            "stage": stage,
            "status": status,
            "loss_reason": _loss_reason(frame, cols, status),
            "closed": closed,
            "close_date": close_date,
            "amount": amount.astype(np.float64),
            "forecast_category": frame[cols["forecast_category"]].astype(str).str.strip()
            if "forecast_category" in cols
            else "",
            "line": frame.index.to_numpy() + 2,
        }
    )
    for d in dimensions:
        values = frame[cols[d]].astype(str).str.strip()
        if (values == "").any():
            warnings.append(
                f"{path}: {int((values == '').sum())} opportunities have no {d}: counted as 'unknown'"
            )
        table[d] = values.where(values != "", "unknown")
    problems.extend(_order_problems(path, table, cols))
    if problems:
        raise ScenarioError(problems)
    leads = table["created"].isna()
    if leads.any():
        warnings.append(
            f"{path}: {int(leads.sum())} rows have no created date: leads, not opportunities; left out"
        )
    blank = table["amount"].isna() & ~leads
    if blank.any():
        warnings.append(
            f"{path}: {int(blank.sum())} opportunities have no amount: used for rates and dwells, "
            f"not for deal sizes"
        )
    no_close = (table["status"] != "open") & table["closed"].isna() & ~leads
    if no_close.any():
        warnings.append(
            f"{path}: {int(no_close.sum())} closed opportunities have no close date: used for rates, "
            f"not for dwells"
        )
    table = table[~leads].reset_index(drop=True)
    table.attrs.update(file=str(path), columns=cols)
    return Read(table, warnings, str(path))


def _dates_and_amounts(frame, cols, path, problems):
    """The export's dates (``{field: datetime64 Series}``) and amounts; bad values go to ``problems``."""
    dates = {}
    for name in ("created", "close_date", "closed"):
        if name in cols:
            raw = frame[cols[name]].astype(str).str.strip()
            dates[name] = parse_dates(raw)
            problems.extend(
                _bad_rows(path, frame, cols[name], dates[name].isna() & (raw != ""), "not a date")
            )
    amount = pd.Series(np.nan, index=frame.index)
    if "amount" in cols:
        raw = frame[cols["amount"]].astype(str).str.strip()
        amount = _amounts(raw)
        problems.extend(_amount_problems(path, frame, cols["amount"], raw, amount))
        problems.extend(_bad_rows(path, frame, cols["amount"], amount < 0, "negative amount"))
    return dates, amount


def _order_problems(path, table, cols):
    if "close_date" not in cols:
        return []
    bad = (table["status"] != "open") & (table["closed"] < table["created"].dt.normalize())
    return [
        Problem(
            str(path),
            f"line {int(table.at[i, 'line'])}, column {cols.get('closed', cols['close_date'])!r}",
            f"closed {table.at[i, 'closed'].date()} before it was created {table.at[i, 'created'].date()}",
        )
        for i in table.index[bad][:20]
    ]


def read_stage_history(path, columns=None) -> Read:
    """Read a stage history (one row per change of an opportunity: Salesforce's OpportunityHistory).

    Parameters
    ----------
    path : str or Path
        The CSV file.
    columns : dict, optional
        ``{field: column}``; fields ``opportunity_id, changed, stage, amount, close_date``.

    Returns
    -------
    Read
        ``.table`` sorted by opportunity and time, and ``.warnings``.

    Raises
    ------
    ScenarioError
        Missing columns, bad dates or amounts, each naming file, line and column.
    """
    frame = _read_csv(path, "stage history")
    hist_columns = {k: v for k, v in (columns or {}).items() if k in HISTORY_FIELDS}
    try:
        cols = _find_columns(frame, path, HISTORY_FIELDS, REQUIRED["history"], hist_columns)
    except ScenarioError as exc:
        header = {normalise(c) for c in frame.columns}
        if {"isclosed", "iswon"} & header or ("id" in header and "opportunity_id" not in hist_columns):
            exc.problems.append(
                Problem(
                    str(path),
                    "(header)",
                    "this looks like an opportunity export (one row per opportunity), not a stage "
                    "history (one row per change, with the opportunity's id in OpportunityId)",
                )
            )
            raise ScenarioError(exc.problems) from None
        raise
    problems = []
    ids = frame[cols["opportunity_id"]].astype(str).str.strip()
    problems.extend(_bad_rows(path, frame, cols["opportunity_id"], ids == "", "blank opportunity id"))
    raw = frame[cols["changed"]].astype(str).str.strip()
    changed = parse_dates(raw)
    problems.extend(_bad_rows(path, frame, cols["changed"], changed.isna(), "not a date"))
    close = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    if "close_date" in cols:
        raw = frame[cols["close_date"]].astype(str).str.strip()
        close = parse_dates(raw)
        problems.extend(_bad_rows(path, frame, cols["close_date"], close.isna() & (raw != ""), "not a date"))
    amount = pd.Series(np.nan, index=frame.index)
    if "amount" in cols:
        raw = frame[cols["amount"]].astype(str).str.strip()
        amount = _amounts(raw)
        problems.extend(_amount_problems(path, frame, cols["amount"], raw, amount))
    stage = frame[cols["stage"]].astype(str).str.strip()
    problems.extend(_bad_rows(path, frame, cols["stage"], stage == "", "blank stage"))
    if problems:
        raise ScenarioError(problems)
    table = pd.DataFrame(
        {
            "opportunity_id": ids,
            "changed": changed,
            "stage": stage,
            "amount": amount.astype(np.float64),
            "close_date": close,
            "line": frame.index.to_numpy() + 2,
        }
    )
    table = table.sort_values(["opportunity_id", "changed", "line"], kind="stable").reset_index(drop=True)
    table.attrs.update(file=str(path), columns=cols)
    return Read(table, [], str(path))
