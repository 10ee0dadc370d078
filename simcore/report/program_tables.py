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


def choice_tables(choice) -> list:
    """The programs chosen with the creation plan, and the plan beside them.

    Parameters
    ----------
    choice : simcore.optimize.joint.JointChoice

    Returns
    -------
    list of Table
        ``Programs chosen`` (each program: funded or not, cost and returns, then the totals)
        and ``Plan with programs`` (planned entry-stage dollars by source and quarter).

    Examples
    --------
    >>> from simcore import load_scenario
    >>> from simcore.optimize.joint import optimize_with_programs
    >>> r = optimize_with_programs(load_scenario("scenarios/programs.toml"), 0.5)  # doctest: +SKIP
    >>> [t.sheet for t in choice_tables(r)]  # doctest: +SKIP
    ['Programs chosen', 'Plan with programs']
    """
    m = choice.currency
    rows = [
        [
            "yes" if r["selected"] else "",
            r["name"],
            r["cost"],
            r["added_p10"],
            r["added_p50"],
            r["added_p90"],
            r["bookings_per_dollar"] if r["bookings_per_dollar"] is not None else math.nan,
        ]
        for r in choice.programs
    ]
    ask = (
        f"the least total cost reaching P(hit) {choice.confidence:.0%}"
        if choice.objective == "cost"
        else f"the best P(hit) for a total of {choice.budget:,.0f} {m}"
    )
    top = choice.on_top
    note = (
        f"{choice.evaluated} programs evaluated, {choice.selected} selected with the creation plan, "
        f"{ask}: total cost {choice.total_cost:,.0f} {m} (programs {choice.program_cost:,.0f}, creation "
        f"{choice.creation_cost:,.0f}); P(hit) {choice.confidence_in_sample:.1%} in sample"
        + (
            ""
            if math.isnan(choice.confidence_out_of_sample)
            else f", {choice.confidence_out_of_sample:.1%} on {choice.verify_trials:,} new trials"
        )
        + f". Programs on top of the plan as written would cost {top['total_cost']:,.0f} in total. "
        "Returns are each program alone against the plan as written."
    )
    tables = [
        Table(
            "programs_chosen",
            "Programs chosen with the creation plan",
            ["funded", "Program", "cost", "bookings added P10", "P50", "P90", "bookings per $"],
            ["text", "text", "money", "money", "money", "money", "multiple"],
            rows,
            note,
            sheet="Programs chosen",
        )
    ]
    plan_rows = [[s, q, v] for s, by_q in choice.plan.items() for q, v in by_q.items()]
    tables.append(
        Table(
            "programs_plan",
            "The creation plan beside the programs chosen",
            ["source", "quarter", "planned entry-stage dollars"],
            ["text", "text", "money"],
            plan_rows,
            "The optimizer's creation plan with the chosen programs funded beside it.",
            sheet="Plan with programs",
        )
    )
    return tables


def hires_tables(hires) -> list:
    """Where the next heads go, in the order placed.

    Parameters
    ----------
    hires : simcore.optimize.hires.HiresResult

    Returns
    -------
    list of Table
        One table, the workbook's ``Hires`` sheet.
    """
    conf = f"{hires.confidence:.0%}"
    rows = [
        [
            i + 1,
            p["role"],
            p["value"],
            str(p["start"]),
            p["added_p50"],
            p["added_at_confidence"],
            p.get("p_hit_change", math.nan) if p.get("p_hit_change") is not None else math.nan,
            p["cost"],
            p["bookings_per_dollar"] if p.get("bookings_per_dollar") is not None else math.nan,
        ]
        for i, p in enumerate(hires.placements)
    ]
    t = hires.total
    note = (
        f"{len(hires.placements)} heads placed from {hires.candidates} places ({hires.trials:,} trials, "
        f"common random numbers); each row is what the head adds to the heads above it. All together: "
        f"{t.get('added_p50', 0):,.0f} at P50, {t.get('added_at_confidence', 0):,.0f} at {conf} confidence."
        + (f" {hires.note}" if hires.note else "")
    )
    return [
        Table(
            "hires",
            f"Where the next {len(hires.placements)} heads go",
            [
                "#",
                "role",
                hires.dimension,
                "start",
                "added P50",
                f"added at {conf}",
                "P(hit) change",
                "cost",
                "bookings per $",
            ],  # fmt: skip
            ["count", "text", "text", "text", "money", "money", "points", "money", "multiple"],
            rows,
            note,
            sheet="Hires",
        )
    ]
