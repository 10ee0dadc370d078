"""The ``[optimize]`` table: limits and settings of ``simcore optimize``, not used by the simulation.

Declared here and placed in the scenario format by :mod:`simcore.scenario.spec`, as
:mod:`simcore.scenario.programs` declares ``[[program]]``; ``simcore.optimize.limits`` reads it.
"""

from __future__ import annotations

from simcore.scenario.nodes import (
    CATEGORIES,
    MAX_HORIZON_WEEKS,
    MAX_OPPORTUNITIES_PER_CELL,
    MAX_RAMP,
    MAX_TOTAL_DOLLARS,
    Boolean,
    ListOf,
    MapOf,
    Number,
    NumberOrCategories,
    Table,
    Text,
)

OPTIMIZE = Table(
    {
        "confidence": Number(
            "P(bookings over the horizon >= target) the plan must reach (default 0.9)", 0.0, 1.0
        ),
        "objective": Text(
            "creation (least stage-1 dollars, default), cost (least cost_per_dollar x dollars) "
            "or p_hit (highest confidence within budget)",
            ("creation", "cost", "p_hit"),
        ),
        "budget": Number(
            "total cost in dollars, for objective p_hit",
            0.0,
            MAX_TOTAL_DOLLARS,
            exclusive_minimum=True,
        ),
        "bank_build_weeks": Number(
            "weeks left to build the required starting bank (default: from [funnel] current_bank_date)",
            0.0,
            MAX_HORIZON_WEEKS,
            exclusive_minimum=True,
        ),
        "ramp": Number(
            "largest quarter-over-quarter ratio of a source's weekly creation, both ways "
            "(default 1.5; 0 lifts it)",
            0.0,
            MAX_RAMP,
        ),
        "shape_ramp": Number(
            "largest ratio, both ways, of a quarter's share of a source's creation to its share "
            "in the scenario's own plan (default 0: no limit; 1 keeps the plan's shape exactly)",
            0.0,
            MAX_RAMP,
        ),
        "ending_bank": NumberOrCategories(
            CATEGORIES,
            Number("", 0.0, MAX_TOTAL_DOLLARS),
            "decision-stage bank the horizon must end with, in dollars (default, when [funnel] "
            "plans an ending bank: what the spreadsheet plan, simulated, ends with; 0 lifts it); "
            "or dollars by forecast category, e.g. {commit = 5e6, best_case = 8e6}, which "
            "replaces that default",
        ),
        "ending_bank_confidence": NumberOrCategories(
            CATEGORIES,
            Number("", 0.0, 1.0),
            "P(ending bank >= ending_bank) required (default 0.5); or one per forecast "
            "category named in ending_bank, e.g. {commit = 0.8}",
        ),
        "source": MapOf(
            Table(
                {
                    "ramp": Number("this source's ramp limit (see optimize.ramp)", 0.0, MAX_RAMP),
                    "shape_ramp": Number(
                        "this source's limit against the scenario's own shape (see optimize.shape_ramp)",
                        0.0,
                        MAX_RAMP,
                    ),
                    "min": Number(
                        "least stage-1 pipeline over the horizon, in dollars", 0.0, MAX_TOTAL_DOLLARS
                    ),
                    "max": Number(
                        "most stage-1 pipeline over the horizon (a credible ceiling), in dollars",
                        0.0,
                        MAX_TOTAL_DOLLARS,
                    ),
                    "min_per_quarter": Number(
                        "least stage-1 pipeline per quarter, in dollars", 0.0, MAX_TOTAL_DOLLARS
                    ),
                    "max_per_quarter": Number(
                        "most stage-1 pipeline per quarter, in dollars", 0.0, MAX_TOTAL_DOLLARS
                    ),
                    "capacity_per_week": Number(
                        "opportunities the team can create per week (headcount x "
                        "meetings per week x conversion)",
                        0.0,
                        MAX_OPPORTUNITIES_PER_CELL,
                    ),
                    "capacity_dollars_per_week": Number(
                        "stage-1 pipeline dollars the team can create per week",
                        0.0,
                        MAX_TOTAL_DOLLARS,
                    ),
                },
                "limits on one source's planned creation",
            ),
            "limits per source (optimizer dimension value)",
        ),
        "mix": ListOf(
            Table(
                {
                    "sources": ListOf(Text(), "the sources whose share is bounded", min_len=1, unique=True),
                    "min_share": Number(
                        "least share of expected stage-4 creation from those sources", 0.0, 1.0
                    ),
                },
                "a mix rule, e.g. >= 40% of stage 4 from expansion + outbound",
                required=("sources", "min_share"),
            ),
            "mix rules on expected decision-stage creation",
        ),
        "period_target": ListOf(
            Table(
                {
                    "period": Text("the quarter, e.g. 2026-Q2"),
                    "target": Number(
                        "bookings target of that quarter, in dollars",
                        0.0,
                        MAX_TOTAL_DOLLARS,
                        exclusive_minimum=True,
                    ),
                    "confidence": Number("P(quarter bookings >= target) required", 0.0, 1.0),
                    "cumulative": Boolean("true: the target is year to date (default false)"),
                },
                "a per-quarter bookings target with its own confidence (cumulative = true: year to date)",
                required=("period", "target"),
            ),
            "per-quarter targets",
        ),
    },
    "limits and settings of simcore optimize, not used by the simulation",
)
