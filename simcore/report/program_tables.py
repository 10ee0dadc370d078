"""The report's programs page: each program's cost and returns, alone and all together.

The figures come from :func:`simcore.analysis.programs.evaluate_programs` (common random
numbers against the base plan); the same table is the workbook's ``Programs`` sheet.
"""

from __future__ import annotations

import math

from simcore.report.content import Table


def program_tables(result) -> list:
    """The programs table and the bookings each adds by quarter.

    Parameters
    ----------
    result : simcore.analysis.programs.ProgramsResult

    Returns
    -------
    list of Table

    Examples
    --------
    >>> from simcore import load_scenario
    >>> from simcore.analysis.programs import evaluate_programs
    >>> r = evaluate_programs(load_scenario("scenarios/programs.toml"), trials=200, seed=1)
    >>> [t.sheet for t in program_tables(r)]
    ['Programs', 'Programs by quarter']
    """
    records = [*result.programs, {"name": "All together", "with": [], **result.together}]
    rows = [
        [
            r["name"],
            r["cost"],
            r["pipeline_added"],
            r["added_p10"],
            r["added_p50"],
            r["added_p90"],
            r.get("p_hit_change", math.nan),
            r["bookings_per_dollar"] if r["bookings_per_dollar"] is not None else math.nan,
            ", ".join(r["with"]),
        ]
        for r in records
    ]
    n = len(result.programs)
    tables = [
        Table(
            "programs",
            f"Programs: {n} evaluated against the base plan",
            [
                "Program",
                "cost",
                "pipeline added",
                "bookings added P10",
                "P50",
                "P90",
                "P(hit) change",
                "bookings per $",
                "evaluated with",
            ],
            ["text", "money", "money", "money", "money", "money", "points", "multiple", "text"],
            rows,
            f"Each program added to the base plan alone (with any program it requires) and all "
            f"together, {result.trials:,} trials on the same random numbers: bookings added are "
            "the per-trial differences over the horizon; cost is what the program costs inside it.",
            sheet="Programs",
        )
    ]
    rows = [
        [r["name"], p, value]
        for r in records
        for p, value in zip(result.periods, r["added_by_period"], strict=True)
    ]
    tables.append(
        Table(
            "programs_by_quarter",
            "Programs: mean bookings added by quarter (when each pays)",
            ["Program", "quarter", "bookings added"],
            ["text", "text", "money"],
            rows,
            "A program that starts late, ramps slowly or feeds long cycles books little this year.",
            sheet="Programs by quarter",
        )
    )
    return tables
