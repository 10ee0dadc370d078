"""The report's tables from the analyses: the deterministic funnel, the variants, the sensitivity.

Every label that names a stage takes the scenario's own names (``stages = (first, decision)``).
"""

from __future__ import annotations

import math

from simcore.format import column, exact_money
from simcore.report.content import Table
from simcore.report.labels import assumption_kind, assumption_label

_DIST_COLUMNS = ["mean", "P10", "P50", "P90"]


def _comparison_labels(first: str, decision: str) -> dict:
    return {
        "stage1_created": f"{first} created",
        "stage4_created": f"{decision} created",
        "starting_bank": f"Starting {decision} bank",
        "ending_bank": f"Ending {decision} bank",
        "retired": f"Retired at {decision} (won + lost)",
        "retire_multiple": "Retire multiple",
        "bookings": "Bookings",
    }


def _funnel_rows(fun, first: str, decision: str) -> list:
    rows = [
        ["Bookings to make", fun.bookings, "money"],
        [f"Retire multiple at {decision}, with push", fun.retire_multiple, "multiple"],
        ["Retire multiple without push", fun.retire_multiple_no_push, "multiple"],
        [f"Starting {decision} bank", fun.starting_bank, "money"],
        [f"Ending {decision} bank wanted", fun.ending_bank, "money"],
        [f"{decision} creation needed", fun.stage4_created_needed, "money"],
        [f"{decision} creation needed without push", fun.stage4_created_needed_no_push, "money"],
        [f"{first} creation needed", fun.stage1_created_needed, "money"],
        [f"{first} creation needed without push", fun.stage1_created_needed_no_push, "money"],
        [f"{first} saved by modelling push", fun.push_saving_stage1, "money"],
        [f"Weekly {first} creation needed", fun.weekly_stage1_needed, "money"],
        [f"Weekly {decision} creation needed", fun.weekly_stage4_needed, "money"],
        [f"{first} -> {decision} rate", fun.to_decision, "percent"],
        [f"{decision} win rate", fun.win_rate, "percent"],
        [f"Implied stack, {first} -> won", fun.stack, "percent"],
        [f"Planned {first} creation", fun.planned_stage1, "money"],
        ["Planned bookings (forward funnel)", fun.planned_bookings, "money"],
    ]
    if fun.bank_gap is not None:
        rows.append(["Starting-bank gap (needed - today)", fun.bank_gap, "money"])
    if fun.weekly_run_rate is not None:
        rows.append(["Weekly run-rate to close the gap", fun.weekly_run_rate, "money"])
    return rows


def funnel_tables(fun, comparison=None, stages=("Stage 1", "Stage 4")) -> list:
    """The deterministic funnel (and, if given, its comparison with the simulation) as tables.

    Parameters
    ----------
    fun : simcore.analysis.funnel.FunnelResult
    comparison : simcore.analysis.funnel.FunnelComparison, optional
    stages : tuple of str
        The scenario's first stage and decision stage, as it names them.
    """
    first, decision = stages
    rows = _funnel_rows(fun, first, decision)
    units = {"money": fun.currency, "percent": "fraction", "multiple": "x"}
    tables = [
        Table(
            "funnel",
            "The deterministic funnel (the spreadsheet's arithmetic)",
            ["Figure", "value", "unit"],
            ["text", "number", "text"],
            [[label, float(v), units[kind]] for label, v, kind in rows],
            "Backsolved from the bookings target on the plan's base values; no randomness.",
            cell_kinds=[["text", kind, "text"] for *_, kind in rows],
            sheet="Funnel",
        )
    ]
    for dim, lines in fun.by_dimension.items():
        keys = ("bookings", "stage4_created_needed", "stage1_created_needed", "planned_stage1")
        rows = [
            [str(value), *[ln[k] for k in keys], ln["to_decision"], ln["win_rate"], ln["retire_multiple"]]
            for value, ln in lines.items()
        ]
        tables.append(
            Table(
                f"funnel_by_{dim}",
                f"The funnel by {dim}",
                [
                    dim.capitalize(),
                    "bookings (target split)",
                    f"{decision} needed",
                    f"{first} needed",
                    f"{first} planned",
                    f"{first} -> {decision}",
                    "win rate",
                    "retire multiple",
                ],
                ["text", "money", "money", "money", "money", "percent", "percent", "multiple"],
                rows,
                sheet=f"Funnel by {dim}",
            )
        )
    if comparison is not None:
        tables += _funnel_comparison_tables(comparison, first, decision)
    return tables


def _funnel_comparison_tables(comparison, first, decision) -> list:
    labels = _comparison_labels(first, decision)
    rows, kinds = [], []
    for name, r in comparison.rows.items():
        se = r["se"] if r["se"] is not None and math.isfinite(r["se"]) else math.nan
        rows.append([labels.get(name, name.replace("_", " ")), r["funnel"], r["simulated"], se])
        kind = "multiple" if name == "retire_multiple" else "money"
        kinds.append(["text", kind, kind, "decimal" if kind == "multiple" else "money"])
    return [
        Table(
            "funnel_vs_simulation",
            "The funnel beside the simulated expectation",
            ["Figure", "funnel", "simulated mean", "MC s.e."],
            ["text", "number", "number", "number"],
            rows,
            "Money except the retire multiple (a ratio). Simulated figures are means over "
            f"{comparison.trials:,} trials with their Monte-Carlo standard error.",
            cell_kinds=kinds,
            sheet="Funnel vs simulation",
        ),
        Table(
            "funnel_difference",
            "Why the simulation differs from the funnel (bookings)",
            ["Effect", "funnel - simulated", "MC s.e.", "explanation"],
            ["text", "money", "money", "text"],
            [[e["name"], e["dollars"], e["se"], e["text"]] for e in comparison.effects],
            sheet="Funnel difference",
        ),
    ]


def comparison_tables(result) -> list:
    """Variants side by side from :func:`simcore.analysis.compare.compare`: the year, each period, the differences.

    Parameters
    ----------
    result : simcore.analysis.compare.ComparisonResult
    """
    rows = []
    for label, v in result.variants.items():
        y = v["year"]
        quantiles = [y[k]["value"] for k in ("mean", "p10", "p50", "p90")]
        rows.append([label, *quantiles, y["p_hit"]["value"] if "p_hit" in y else math.nan, y["p50"]["se"]])
    tables = [
        Table(
            "variants",
            "Variants side by side (same seed: common random numbers)",
            ["Variant", *_DIST_COLUMNS, "P(hit)", "P50 s.e."],
            ["text"] + ["money"] * 4 + ["percent", "money"],
            rows,
            f"Annual bookings of each variant, {result.trials:,} trials each, every variant run on the "
            "same random numbers so the differences are the assumptions', not the dice's.",
            sheet="Variants",
        )
    ]
    rows = [
        [p, label, *[v["by_period"][p][k]["value"] for k in ("p10", "p50", "p90")]]
        for p in result.periods
        for label, v in result.variants.items()
    ]
    tables.append(
        Table(
            "variants_by_period",
            "Variants by period",
            ["Period", "Variant", "P10", "P50", "P90"],
            ["text", "text", "money", "money", "money"],
            rows,
        )
    )
    rows, kinds = [], []
    names = {"mean": "mean", "p10": "P10", "p50": "P50", "p90": "P90", "p_hit": "P(hit)"}
    for label, d in result.differences.items():
        for key, name in names.items():
            if key in d["year"]:
                x = d["year"][key]
                rows.append(
                    [f"{label} - {result.baseline}", name, x["difference"], x["se"], x["se_unpaired"]]
                )
                kind = "points" if key == "p_hit" else "money"
                kinds.append(["text", "text", kind, kind, kind])
    if rows:
        tables.append(
            Table(
                "variant_differences",
                f"Differences from {result.baseline}, annual bookings",
                ["Variants", "figure", "difference", "s.e. (paired)", "s.e. if run independently"],
                ["text", "text", "number", "number", "number"],
                rows,
                "Money, except P(hit) (percentage points). Common random numbers make the paired "
                "standard error much smaller than independent runs would give.",
                cell_kinds=kinds,
                sheet="Variant differences",
            )
        )
    return tables


def _setting(value):
    """A swing's setting: the number, or the range of a setting that differs by cell."""
    if isinstance(value, (list, tuple)):
        return value[0] if value[0] == value[1] else list(value)
    return value


def swings_table(swings, currency: str = "USD") -> Table:
    """One assumption at a time: each one's low and high settings and P50 / P10 there."""
    rows, kinds = [], []
    for r in swings.rows:
        kind = assumption_kind(r["name"])
        low, high = _setting(r["low_value"]), _setting(r["high_value"])
        rows.append(
            [
                assumption_label(r["name"]),
                *[_range_text(v, kind, currency) if isinstance(v, list) else v for v in (low, high)],
                *[r[m][k] for m in ("p50", "p10") for k in ("low", "high", "swing")],
            ]
        )
        kinds.append(["text", kind, kind] + ["money"] * 6)
    columns = ["Assumption", "low setting", "high setting"]
    columns += [f"{m} {k}" for m in ("P50", "P10") for k in ("at low", "at high", "swing")]
    return Table(
        "sensitivity_swings",
        "One assumption at a time: low and high settings",
        columns,
        ["text", "number", "number"] + ["money"] * 6,
        rows,
        "Annual bookings with the assumption at its low / high value in every cell and everything else "
        f"as in the scenario ({swings.trials:,} trials per run, same seed). This run's own base: P50 "
        f"{exact_money(swings.base['p50'], currency)}, P10 {exact_money(swings.base['p10'], currency)}.",
        cell_kinds=kinds,
        sheet="Sensitivity one at a time",
    )


def _range_text(values, kind, currency) -> str:
    return " to ".join(column(values, kind, currency))


def drawn_table(drawn) -> Table:
    """Which drawn assumptions explain the spread of annual bookings (regression on the draws)."""
    keys = ("importance", "spearman", "p50_low", "p50_high", "p10_low", "p10_high")
    rows = [[assumption_label(r["name"]), *[r[k] for k in keys]] for r in drawn.rows]
    return Table(
        "sensitivity_drawn",
        "Which drawn assumptions explain the spread",
        [
            "Assumption",
            "share of variance",
            "Spearman rho",
            "P50 when low",
            "P50 when high",
            "P10 when low",
            "P10 when high",
        ],
        ["text", "percent", "decimal", "money", "money", "money", "money"],
        rows,
        f"From each trial's own draws ({drawn.method} regression over {drawn.trials:,} trials, "
        f"R² {drawn.r_squared:.2f}; the rest is deal-level luck). 'When low / high': bookings "
        "in the half of the trials where the assumption's draws pushed bookings down / up.",
        sheet="Sensitivity from the draws",
    )


def variance_table(contributions) -> Table:
    """Each cell's share of the variance of annual bookings."""
    dims = list(contributions.dims)
    if len(dims) == 2:
        rows_dim, cols_dim = dims
        grid = contributions.transpose(rows_dim, cols_dim)
        cols = list(grid[cols_dim].values)
        rows = [
            [
                str(r),
                *[float(grid.sel({rows_dim: r, cols_dim: c})) for c in cols],
                float(grid.sel({rows_dim: r}).sum()),
            ]
            for r in grid[rows_dim].values
        ]
        rows.append(["total", *[float(grid.sel({cols_dim: c}).sum()) for c in cols], float(grid.sum())])
        columns = [f"{rows_dim} \\ {cols_dim}", *[str(c) for c in cols], "total"]
    else:
        flat = contributions.stack(cell=dims) if len(dims) > 1 else contributions
        rows = [
            ["/".join(map(str, v if isinstance(v, tuple) else (v,))), float(x)]
            for v, x in zip(flat[flat.dims[0]].values, flat.values)
        ]
        columns = ["Cell", "share"]
    return Table(
        "variance_by_cell",
        "Where the variance of annual bookings comes from",
        columns,
        ["text"] + ["percent"] * (len(columns) - 1),
        rows,
        "Each cell's cov(cell, total) / var(total): the shares add up to 100%.",
        sheet="Variance by cell",
    )


def sensitivity_tables(drawn=None, swings=None, contributions=None, currency: str = "USD") -> list:
    """What moves P50 and P10 bookings, from :mod:`simcore.analysis.sensitivity`.

    Parameters
    ----------
    drawn : simcore.analysis.sensitivity.DrawnSensitivity, optional
        Regression of annual bookings on each trial's drawn assumptions (no extra runs).
    swings : simcore.analysis.sensitivity.OneAtATime, optional
        Each uncertain assumption set to its low and its high, everything else as given.
    contributions : xarray.DataArray, optional
        Each cell's share of the variance of annual bookings (over the scenario's dimensions).
    currency : str
    """
    tables = []
    if swings is not None and swings.rows:
        tables.append(swings_table(swings, currency))
    if drawn is not None and drawn.rows:
        tables.append(drawn_table(drawn))
    if contributions is not None:
        tables.append(variance_table(contributions))
    return tables
