"""The report's tables for other tools: one CSV per table, and one workbook as finance uses it.

CSV files hold the raw numbers (money in the currency, rates as fractions), each float to
:data:`simcore.format.CSV_DIGITS` significant figures: far more than the Monte-Carlo error of any
figure in them, without the last-bit noise of float arithmetic.

The workbook opens on the headline; every sheet has a title row, a frozen header row and first
column, filters, column widths that fit, numbers stored as numbers with currency and percent
formats, the table's note below it; the fan and the distribution are native Excel charts; an
``About`` sheet says where the figures come from.
"""

from __future__ import annotations

import csv
import re

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from simcore.format import cell, csv_value, excel_format, excel_value, inert_text
from simcore.report.content import Report, Table

_HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
_INVALID = re.compile(r"[\[\]:*?/\\]")


def write_csv(table: Table, path) -> None:
    """``table`` as CSV: a header row, raw numbers (money, fractions), empty for missing."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([inert_text(c) for c in table.columns])
        for row in table.rows:
            writer.writerow([inert_text(csv_value(v)) for v in row])


def sheet_names(tables) -> list:
    """Unique sheet names in words, at most 31 characters (Excel's limit), without brackets, colons, etc."""
    names, seen = [], {"about"}
    for t in tables:
        base = " ".join(_INVALID.sub(" ", t.sheet or t.title).split())
        base = _cut(base, 31) or t.name[:31]
        name, i = base, 2
        while name.lower() in seen:
            suffix = f" ({i})"
            name, i = base[: 31 - len(suffix)].rstrip() + suffix, i + 1
        seen.add(name.lower())
        names.append(name)
    return names


def _cut(text: str, n: int) -> str:
    """``text`` in at most ``n`` characters, cut after a whole word where one fits.

    Examples
    --------
    >>> _cut("Open pipeline (bank) by forecast category", 31)
    'Open pipeline (bank) by'
    >>> _cut("Bookings", 31), _cut("Supercalifragilisticexpialidocious!", 10)
    ('Bookings', 'Supercalif')
    """
    if len(text) <= n:
        return text
    head = text[: n + 1].rsplit(" ", 1)[0] if " " in text[: n + 1] else text[:n]
    return head[:n].rstrip(" ,;-(")


def _fill_sheet(ws, table: Table, currency: str) -> None:
    ws.append([table.title])
    ws["A1"].font = Font(bold=True, size=12)
    ws.append(list(table.columns))
    for c in ws[2]:
        c.font = Font(bold=True)
        c.fill = _HEADER_FILL
        c.alignment = Alignment(horizontal="left" if c.column == 1 else "right", wrap_text=True)
    widths = [len(str(c)) for c in table.columns]
    for i, row in enumerate(table.rows):
        kinds = table.row_kinds(i)
        ws.append([excel_value(v, k) for v, k in zip(row, kinds)])
        for j, (c, kind) in enumerate(zip(ws[ws.max_row], kinds)):
            fmt = excel_format(kind, currency)
            if fmt and isinstance(c.value, (int, float)):
                c.number_format = fmt
            widths[j] = max(widths[j], len(cell(row[j], kind, currency)) + (3 if kind == "money" else 1))
    last = get_column_letter(len(table.columns))
    ws.freeze_panes = "B3"
    if table.rows:
        ws.auto_filter.ref = f"A2:{last}{ws.max_row}"
    if table.note:
        ws.append([])
        ws.append([table.note])
        ws.cell(ws.max_row, 1).font = Font(italic=True, color="555555")
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = max(10, min(60, w + 2))


def _fan_chart(ws, table: Table, currency: str) -> None:
    """Native line chart of P10..P90 bookings to date (the sheet's own numbers)."""
    n = len(table.rows)
    chart = LineChart()
    chart.title = "Bookings to date: P10, P25, P50, P75, P90"
    chart.y_axis.title = "Bookings to date"
    chart.x_axis.title = table.columns[0]
    chart.y_axis.number_format = excel_format("money", currency)
    chart.add_data(Reference(ws, min_col=2, max_col=6, min_row=2, max_row=2 + n), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=3, max_row=2 + n))
    for series, width in zip(chart.series, (12700, 19050, 38100, 19050, 12700)):
        series.graphicalProperties.line.width = width
    chart.height, chart.width = 9, 18
    ws.add_chart(chart, "H3")


def _histogram_chart(ws, table: Table) -> None:
    """Native column chart of trials per bin of annual bookings."""
    n = len(table.rows)
    chart = BarChart()
    chart.type = "col"
    chart.gapWidth = 10
    chart.title = "Annual bookings: trials per bin"
    chart.y_axis.title = "Trials"
    chart.x_axis.title = "Bookings, bin from"
    chart.legend = None
    chart.add_data(Reference(ws, min_col=3, min_row=2, max_row=2 + n), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=3, max_row=2 + n))
    chart.height, chart.width = 9, 18
    ws.add_chart(chart, "F3")


def write_xlsx(report: Report, path) -> None:
    """The report's tables as one workbook: the headline sheet first, a sheet per table, ``About``."""
    cur = report.headline["currency"]
    wb = Workbook()
    wb.remove(wb.active)
    for table, name in zip(report.tables, sheet_names(report.tables)):
        ws = wb.create_sheet(name)
        _fill_sheet(ws, table, cur)
        if table.name == "bookings_to_date" and table.rows:
            _fan_chart(ws, table, cur)
        elif table.name == "bookings_histogram" and table.rows:
            _histogram_chart(ws, table)
    ws = wb.create_sheet("About")
    ws.append(["Figure", "value"])
    for c in ws[1]:
        c.font = Font(bold=True)
        c.fill = _HEADER_FILL
    for key, value in report.about.items():
        ws.append([key.replace("_", " "), value if isinstance(value, (int, float)) else str(value)])
    ws.freeze_panes = "A2"
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 60
    wb.active = 0  # opens on the headline
    _no_formulas(wb)
    wb.save(path)


def _no_formulas(wb) -> None:
    """Store as text every cell openpyxl took for a formula: the workbook writes none, so any
    is a name from the scenario or the export that opens with ``=`` (see ``format.inert_text``).
    """
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    c.data_type = "s"
