"""The starting bank: aggregate rows and a CSV of open deals, checked and turned into :class:`BankDeal`."""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
from pathlib import Path

from simcore.errors import Problem, format_path
from simcore.scenario import spec
from simcore.scenario.values import BankDeal

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
        return [], [
            Problem(
                file,
                "line 1",
                f"missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}; columns are {', '.join(header) or 'none'}",
            )
        ]
    allowed = set(required) | {"created", "expected_close", "name", "id"}
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
            if not amount > 0:
                bad.append(f"amount must be > 0, got {row.get('amount')!r}")
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
            continue
        deals.append(
            BankDeal(
                cell_of[tuple(key)], stage_names.index(stage), amount, days["created"], days["expected_close"]
            )
        )
    return deals, problems
