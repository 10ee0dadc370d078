"""What a report holds: :class:`Table`, :class:`Chart` and :class:`Report`, before any file is written.

The builders (:mod:`simcore.report.tables`, :mod:`simcore.report.plan_tables`,
:mod:`simcore.report.build`) fill them with raw numbers; the renderers (:mod:`simcore.report.html`,
:mod:`simcore.report.workbook`) turn them into text and files through :mod:`simcore.format`, so a
number is formatted in one place only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from simcore.format import KINDS, json_safe


@dataclass
class Table:
    """One summary table of the report.

    Attributes
    ----------
    name : str
        File stem (``bookings_by_period`` -> ``bookings_by_period.csv``).
    title : str
        Heading shown above the table (and the sheet's name, shortened, in the workbook).
    columns : list of str
    kinds : list of str
        Per column, one of :data:`simcore.format.KINDS`: money in the currency, percent as a
        fraction (0.25 = 25%), points a difference of fractions, multiple a ratio (3.0 = 3.00x).
    rows : list of list
        Raw values (numbers unformatted).
    note : str
        A sentence under the table saying how to read it.
    cell_kinds : list of list of str, optional
        Per row, the kind of each cell, for tables whose rows are of different units (a
        "figure, value" table); default every row has :attr:`kinds`.
    sheet : str, optional
        The workbook sheet's name (at most 31 characters); default from the title.
    in_html : bool
        Shown on the HTML page (False for the numbers behind a chart, kept for CSV and the workbook).
    """

    name: str
    title: str
    columns: list
    kinds: list
    rows: list
    note: str = ""
    cell_kinds: list | None = None
    sheet: str = ""
    in_html: bool = True

    def __post_init__(self):
        if len(self.kinds) != len(self.columns):
            raise ValueError(f"table {self.name}: {len(self.columns)} columns but {len(self.kinds)} kinds")
        bad = [k for k in self.kinds + [k for r in self.cell_kinds or [] for k in r] if k not in KINDS]
        if bad:
            raise ValueError(f"table {self.name}: unknown column kinds {bad}")
        if self.cell_kinds is not None and len(self.cell_kinds) != len(self.rows):
            raise ValueError(f"table {self.name}: {len(self.rows)} rows but {len(self.cell_kinds)} row kinds")

    def row_kinds(self, i: int) -> list:
        """The kinds of the cells of row ``i``."""
        return list(self.kinds if self.cell_kinds is None else self.cell_kinds[i])

    def column_kinds(self, j: int) -> list:
        """The kinds of the cells of column ``j``, row by row."""
        return [self.row_kinds(i)[j] for i in range(len(self.rows))]


@dataclass
class Chart:
    """One chart: ``name`` (PNG file stem), ``title`` (heading), the matplotlib ``figure``."""

    name: str
    title: str
    figure: object
    caption: str = ""


@dataclass
class Report:
    """Everything :func:`simcore.report.write_report` writes.

    Attributes
    ----------
    title : str
    headline : dict
        ``p50, p10, p90, mean, target, p_hit, trials, seed, currency`` (money in the currency;
        ``p_hit`` a fraction or None without a target), ``se`` their Monte-Carlo errors.
    tables : list of Table
    charts : list of Chart
    about : dict
        Provenance: scenario, file, hash, variant, overrides, seed, trials, simcore version, date.
    notes : list of str
        Sections left out and why.
    summary : dict
        The first page's sentences: ``drivers`` (what drives the risk), ``actions`` (what to do),
        each a list of sentences.
    """

    title: str
    headline: dict
    tables: list = field(default_factory=list)
    charts: list = field(default_factory=list)
    about: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def table(self, name: str) -> Table:
        """The table called ``name``."""
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def chart(self, name: str) -> Chart:
        """The chart called ``name``."""
        for c in self.charts:
            if c.name == name:
                return c
        raise KeyError(name)


def report_files(report: Report) -> list:
    """Names of the files :func:`simcore.report.write_report` writes, in writing order."""
    return (
        [f"{c.name}.png" for c in report.charts]
        + [f"{t.name}.csv" for t in report.tables]
        + ["report.xlsx", "report.html"]
    )


def report_json(report: Report) -> str:
    """The headline and provenance as JSON (what ``simcore report --json`` prints)."""
    return json.dumps(
        json_safe(
            {
                "headline": report.headline,
                "about": report.about,
                "files": report_files(report),
                "notes": report.notes,
            }
        ),
        indent=2,
        default=str,
        allow_nan=False,
    )
