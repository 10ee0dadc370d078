"""The starting bank: aggregate rows and a CSV of open deals, checked and turned into :class:`BankDeal`.

A scenario file is untrusted input: ``bank.csv`` is read relative to the scenario's folder
and only inside it (unless the user allows otherwise), only if it is a regular file of at
most :data:`simcore.scenario.files.MAX_BANK_CSV_BYTES`, and no error message quotes a line
that does not look like a bank CSV.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
from pathlib import Path

from simcore.errors import Problem, format_path
from simcore.scenario import files, spec
from simcore.scenario.values import BankDeal

# Most open deals in the starting bank (aggregate rows and CSV rows together): each is
# simulated in every trial, and is held as one Python object while the scenario is loaded.
MAX_BANK_DEALS = 250_000

# ---------------------------------------------------------------------------------------
# Starting bank


def _read_bank(raw, name, base_dir, dims, stages, cells, start, allow_outside=False):
    bank_raw = raw.get("bank") if isinstance(raw.get("bank"), dict) else {}
    problems = []
    deals = []
    source = ""
    if not isinstance(bank_raw.get("aggregate", []), list):
        bank_raw = {k: v for k, v in bank_raw.items() if k != "aggregate"}  # reported by the spec check
    if not isinstance(bank_raw.get("csv", ""), str) or spec.text_problem(bank_raw.get("csv", "")):
        bank_raw = {k: v for k, v in bank_raw.items() if k != "csv"}
    names = [s.name for s in stages]
    cell_of = {c: i for i, c in enumerate(cells)}
    dim_names = list(dims)
    rows = []
    for i, row in enumerate(bank_raw.get("aggregate", [])):
        where = ["bank", "aggregate", i]
        if not isinstance(row, dict):
            problems.append(Problem(name, format_path(where), "must be a table"))
            continue
        out = []
        spec.AGGREGATE_BANK.check(
            {k: v for k, v in row.items() if k not in dims}, where, {"stages": names}, out
        )
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
        if amount < spec.MIN_DOLLARS:
            problems.append(
                Problem(
                    name,
                    format_path(where + ["dollars"]),
                    f"dollars / count = {amount:.3g} per deal is below the smallest deal size of "
                    f"{spec.MIN_DOLLARS:g}: check the units, or the count",
                )
            )
            continue
        if amount > spec.MAX_DOLLARS:
            # Each of the row's deals gets dollars / count: the per-deal limit applies to that.
            problems.append(
                Problem(
                    name,
                    format_path(where + ["dollars"]),
                    f"dollars / count = {amount:,.0f} per deal is above the largest deal size "
                    f"of {spec.MAX_DOLLARS:,.0f}: check the units, or the count",
                )
            )
            continue
        rows.append((cell_of[tuple(key)], names.index(row["stage"]), amount, int(row["count"]), where))
        source += json.dumps(row, sort_keys=True, default=str)
    # Counted before any deal is made: two million deals a row would take gigabytes.
    n_aggregate = sum(r[3] for r in rows)
    if n_aggregate > MAX_BANK_DEALS:
        problems.append(
            Problem(
                name,
                "bank.aggregate",
                f"the aggregate rows hold {n_aggregate:,} open deals, more than the limit of "
                f"{MAX_BANK_DEALS:,} for the whole bank: check the counts",
            )
        )
        return deals, source, problems
    for cell, stage, amount, count, _ in rows:
        deals.extend([BankDeal(cell, stage, amount)] * count)  # frozen: one object, shared
    csv_name = bank_raw.get("csv")
    if csv_name is not None:
        path, problem = _bank_path(csv_name, base_dir, allow_outside)
        if problem:
            problems.append(Problem(name, "bank.csv", problem))
            return deals, source, problems
        try:
            # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark, which is not part of
            # the first column's name.
            text = files.read_bytes(path, files.MAX_BANK_CSV_BYTES).decode("utf-8-sig")
        except files.FileProblem as exc:
            problems.append(Problem(name, "bank.csv", f"{str(path)!r}: {exc}"))
            return deals, source, problems
        except UnicodeDecodeError as exc:
            problems.append(
                Problem(
                    name,
                    "bank.csv",
                    f"{str(path)!r} is not UTF-8 text ({exc.reason} at "
                    f"byte {exc.start}): save it as CSV UTF-8",
                )
            )
            return deals, source, problems
        source += text
        csv_deals, csv_problems = parse_bank_csv(
            text, str(path), dims, names, cell_of, start, max_rows=MAX_BANK_DEALS - len(deals)
        )
        deals.extend(csv_deals)
        problems.extend(csv_problems)
    return deals, source, problems


def _bank_path(csv_name, base_dir, allow_outside):
    """``(path, None)`` of the bank CSV ``csv_name``, or ``(None, problem)``."""
    if not csv_name.strip():
        return None, "the file name is empty: name a CSV file, or remove bank.csv for no CSV bank"
    if "\0" in csv_name:
        return None, "the file name contains a NUL character"
    folder = Path(base_dir) if base_dir is not None else Path.cwd()
    path = Path(csv_name)
    if not path.is_absolute():
        path = folder / path
    if not allow_outside and not files.is_inside(path, folder):
        return None, (
            f"{csv_name!r} is outside the scenario's folder ({str(folder)!r}): a scenario may only read "
            f"a bank CSV beside it or below it; to read this one, pass --allow-bank-outside "
            f"(load_scenario(..., allow_bank_outside=True) in Python)"
        )
    return path, None


def _looks_like_header(header, known):
    """True if a first line reads like a CSV header: printable, short names, one of them known.

    Otherwise an error must not quote it: it may be the first line of any file at all.
    """
    return any(c.strip() in known for c in header) and all(len(c) <= 64 and c.isprintable() for c in header)


def _separator_hint(header) -> str:
    """A hint for a CSV saved with another separator (a spreadsheet in a comma-decimal locale)."""
    if len(header) == 1:
        for sep in (";", "\t", "|"):
            if sep in header[0]:
                shown = {"\t": "tabs"}.get(sep, repr(sep))
                return f"; its fields look separated by {shown}: save it with commas"
    return ""


def parse_bank_csv(text, file, dims, stage_names, cell_of, start, max_rows=MAX_BANK_DEALS):
    """Open deals from CSV text: one column per dimension, ``stage``, ``amount``,
    optional ``created`` and ``expected_close`` dates (YYYY-MM-DD).

    Returns ``(deals, problems)``; every problem names the line. More than ``max_rows`` deals
    is one problem (and no deals).
    """
    problems, deals = [], []
    reader = csv.DictReader(io.StringIO(text))
    required = list(dims) + ["stage", "amount"]
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        # The header may run over several lines (an open quote): say where the reader stopped.
        return [], [Problem(file, f"line {max(reader.line_num, 1)}", f"not readable as CSV: {exc}")]
    missing = [c for c in required if c not in header]
    allowed = set(required) | {"created", "expected_close", "name", "id"}
    if missing and not _looks_like_header(header, allowed):
        return [], [
            Problem(
                file,
                "line 1",
                f"this is not a bank CSV: its first line is not a header with the columns "
                f"{', '.join(required)} (and optionally created, expected_close)" + _separator_hint(header),
            )
        ]
    if missing:
        return [], [
            Problem(
                file,
                "line 1",
                f"missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}; columns are {', '.join(header) or 'none'}",
            )
        ]
    extra = [c for c in header if c not in allowed]
    if extra:
        return [], [
            Problem(
                file, "line 1", f"unknown column {extra[0]!r}{spec.did_you_mean(extra[0], sorted(allowed))}"
            )
        ]
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
            problems.append(
                Problem(file, f"line {line}", f"{n} fields but the header (line 1) has {len(header)} columns")
            )
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
            if not amount >= spec.MIN_DOLLARS:  # also NaN
                bad.append(f"amount must be at least {spec.MIN_DOLLARS:g}, got {row.get('amount')!r}")
            elif not amount <= spec.MAX_DOLLARS:  # also inf
                bad.append(
                    f"amount must be at most {spec.MAX_DOLLARS:,.0f} (larger is a units mistake), "
                    f"got {row.get('amount')!r}"
                )
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
            bad.append(
                f"created {created} is after start {start}: a deal in the starting bank must "
                f"exist at start (add it to the plan's creation instead, or fix the date)"
            )
        elif created is not None and close is not None and close < created:
            bad.append(f"expected_close {close} is before created {created}")
        if bad:
            problems.extend(Problem(file, f"line {line}", msg) for msg in bad)
            if len(problems) >= 100:
                problems.append(Problem(file, f"line {line}", "stopped after 100 problems"))
                break
            continue
        if len(deals) >= max_rows:
            return [], problems + [
                Problem(
                    file,
                    f"line {line}",
                    f"more than {max_rows:,} open deals: the starting bank holds at most "
                    f"{MAX_BANK_DEALS:,} (aggregate rows and CSV together)",
                )
            ]
        deals.append(
            BankDeal(
                cell_of[tuple(key)], stage_names.index(stage), amount, days["created"], days["expected_close"]
            )
        )
    return deals, problems
