"""The report's tables that need only the simulated Dataset: headline, bookings, creation, mix, bank,
forecast metrics.
"""

from __future__ import annotations

import math

import numpy as np

from simcore.analysis.convergence import with_errors
from simcore.analysis.mcerror import distribution
from simcore.analysis.metrics import coverage, cycle_time, forecast_metrics, period_targets
from simcore.report.content import Table


def _dist_row(label, values):
    d = distribution(values)
    return [label, d["mean"], d["p10"], d["p50"], d["p90"]]


_DIST_COLUMNS = ["mean", "P10", "P50", "P90"]


def headline(ds, target=None) -> dict:
    """The report's headline figures of a simulated Dataset.

    Returns
    -------
    dict
        ``p10, p50, p90, mean`` of bookings over the horizon (dollars), ``target`` (dollars or None),
        ``p_hit`` (fraction or None), ``se`` (each figure's Monte-Carlo standard error, from
        :func:`simcore.analysis.convergence.with_errors`), ``trials``, ``seed``, ``currency``, ``scenario``.
    """
    # The summary's own figures, so the report and ``simcore run`` agree to the last digit.
    summary = ds.simcore.summary(target)
    year = ds.simcore.total("bookings_amount", ("trial", "period")).sum("period").values
    errors = with_errors(year, summary["target"])
    return {
        **summary["bookings"]["year"],
        "target": summary["target"],
        "p_hit": summary["p_hit"],
        "se": {k: errors[k]["se"] for k in ("mean", "p10", "p50", "p90", "p_hit") if k in errors},
        "trials": summary["trials"],
        "seed": int(ds.attrs["seed"]),
        "currency": summary["currency"],
        "scenario": summary["scenario"],
    }


def chart_data_tables(ds, bins: int = 40) -> list:
    """The numbers behind the fan and the distribution charts (the workbook draws them natively).

    ``bookings_to_date``: P10, P25, P50, P75, P90 of bookings to the end of each period.
    ``bookings_histogram``: trials per bin of annual bookings, and the share at most the bin's top.
    """
    per_period = ds.simcore.total("bookings_amount", ("trial", "period")).transpose("trial", "period").values
    to_date = np.cumsum(per_period, axis=1)
    q = np.quantile(to_date, [0.10, 0.25, 0.50, 0.75, 0.90], axis=0)
    fan = Table(
        "bookings_to_date",
        "Bookings to date by period: the fan chart's numbers",
        [f"End of {ds.attrs.get('period', 'period')}", "P10", "P25", "P50", "P75", "P90"],
        ["text"] + ["money"] * 5,
        [[str(p), *[float(v) for v in q[:, i]]] for i, p in enumerate(ds.period.values)],
        "Quantiles across trials of the bookings from the start of the plan to the end of each period.",
        sheet="Bookings to date",
        in_html=False,
    )
    year = to_date[:, -1]
    counts, edges = np.histogram(year, bins=bins)
    cumulative = np.cumsum(counts) / max(len(year), 1)
    hist = Table(
        "bookings_histogram",
        "Annual bookings: the distribution's numbers",
        ["from", "to", "trials", "share at most 'to'"],
        ["money", "money", "count", "percent"],
        [
            [float(a), float(b), int(c), float(f)]
            for a, b, c, f in zip(edges[:-1], edges[1:], counts, cumulative)
        ],
        f"{len(year):,} simulated years in {bins} equal bins.",
        sheet="Distribution",
        in_html=False,
    )
    return [fan, hist]


def dataset_tables(ds) -> list:
    """The tables that need only the simulated Dataset: bookings, creation, mix, bank."""
    period_label = str(ds.attrs.get("period", "period")).capitalize()
    tables = []
    per_period = ds.simcore.total("bookings_amount", ("trial", "period")).transpose("trial", "period")
    rows = [_dist_row(str(p), per_period.sel(period=p).values) for p in ds.period.values]
    rows.append(_dist_row("Year", per_period.sum("period").values))
    columns = [period_label, *_DIST_COLUMNS]
    kinds = ["text"] + ["money"] * 4
    if "period_target" in ds:
        columns.append("target")
        kinds.append("money")
        for row, value in zip(rows, list(ds["period_target"].values) + [float(ds["period_target"].sum())]):
            row.append(float(value))
    tables.append(
        Table(
            "bookings_by_period",
            "Bookings by period",
            columns,
            kinds,
            rows,
            "Won amounts booked in each period, across trials; the Year row is the distribution "
            "of the whole horizon's bookings (not the sum of the period quantiles).",
        )
    )

    counts = ds.simcore.total("bookings_count", ("trial", "period"))
    rows = [_dist_row(str(p), counts.sel(period=p).values) for p in ds.period.values]
    rows.append(_dist_row("Year", counts.sum("period").values))
    tables.append(
        Table(
            "deals_won_by_period",
            "Deals won by period",
            [period_label, *_DIST_COLUMNS],
            ["text"] + ["count"] * 4,
            rows,
        )
    )

    stages = [str(s) for s in ds.stage.values]
    rows = []
    for stage in dict.fromkeys([stages[0], stages[-1]]):
        created = ds.simcore.stage_created(stage).transpose("trial", "period")
        for p in ds.period.values:
            rows.append([stage, *_dist_row(str(p), created.sel(period=p).values)])
        rows.append([stage, *_dist_row("Year", created.sum("period").values)])
    tables.append(
        Table(
            "created_by_period",
            "Pipeline created by period",
            ["Stage", period_label, *_DIST_COLUMNS],
            ["text", "text"] + ["money"] * 4,
            rows,
            f"Dollars entering {stages[0]} (new pipeline) and {stages[-1]} (the decision stage).",
        )
    )

    year_total = ds.simcore.year_bookings().values
    total_mean = float(year_total.mean())
    for dim in ds.simcore.dimensions:
        by = ds.simcore.total("bookings_amount", ("trial", dim))
        rows = []
        for value in ds[dim].values:
            row = _dist_row(str(value), by.sel({dim: value}).values)
            row.append(row[1] / total_mean if total_mean else math.nan)
            rows.append(row)
        tables.append(
            Table(
                f"bookings_by_{dim}",
                f"Bookings by {dim}",
                [dim.capitalize(), *_DIST_COLUMNS, "share of mean"],
                ["text"] + ["money"] * 4 + ["percent"],
                rows,
            )
        )

    categories = [str(c) for c in ds.category.values]
    start = ds.simcore.total("starting_bank_amount", ("trial", "category")).mean("trial")
    ends = ds.simcore.total("bank_amount", ("trial", "period", "category")).mean("trial")
    rows = [["Start", *[float(start.sel(category=c)) for c in categories], float(start.sum())]]
    for p in ds.period.values:
        e = ends.sel(period=p)
        rows.append([f"{p} end", *[float(e.sel(category=c)) for c in categories], float(e.sum())])
    tables.append(
        Table(
            "bank_by_category",
            "Open pipeline (bank) by forecast category, expected",
            ["When", *[c.replace("_", " ") for c in categories], "total"],
            ["text"] + ["money"] * (len(categories) + 1),
            rows,
            "Mean across trials of the open pipeline at the start and at each period's end.",
            sheet="Open pipeline by category",
        )
    )
    return tables + creation_limit_tables(ds)


def creation_limit_tables(ds) -> list:
    """The creation attainment drawn and the capacity report, when the scenario has them."""
    summary = ds.simcore.summary()
    tables = []
    if summary.get("attainment"):
        rows = [
            [level, *(d[k] for k in ("mean", "p10", "p50", "p90"))]
            for level, d in summary["attainment"].items()
        ]
        tables.append(
            Table(
                "creation_attainment",
                "Creation attainment: the share of the planned creation delivered",
                ["declared at", *_DIST_COLUMNS],
                ["text"] + ["percent"] * 4,
                rows,
                "Drawn once per trial for every cell the declaration covers; across trials.",
                sheet="Creation attainment",
            )
        )
    cap = summary.get("capacity")
    if cap and cap["creation"]:
        keys = ("period", "role", "needed", "available", "heads", "heads_needed", "binding")
        tables.append(
            Table(
                "capacity_creation",
                "Creation capacity by period and role" + (": CAPACITY-LIMITED" if cap["limited"] else ""),
                ["period", "role", "opportunities needed", "available", "heads", "heads needed", "binds"],
                ["text", "text", "number", "number", "number", "number", "text"],
                [
                    [r[k] if k != "binding" else ("yes" if r[k] else "") for k in keys]
                    for r in cap["creation"]
                ],
                "What the plan asks of each role against what its productive heads can create; "
                "creation beyond capacity is not created.",
            )
        )
    if cap and cap["carrying"]:
        keys = ("period", "role", "needed_p50", "needed_p90", "available")
        tables.append(
            Table(
                "capacity_carrying",
                "Open deals at period end against what the carrying roles can carry",
                ["period", "role", "open deals P50", "P90", "can carry"],
                ["text", "text", "number", "number", "number"],
                [[r.get(k) for k in keys] for r in cap["carrying"]],
                "Open deals simulated at each period's end, across trials, against heads x carries.",
            )
        )
    return tables


def metrics_tables(ds) -> list:
    """The sales playbook's forecast metrics by period and by each dimension (dollars), and coverage if there is a
    target: from :mod:`simcore.analysis.metrics`.
    """
    names = ["close_rate", "win_rate", "slippage_adjusted_close_rate", "coverage_needed", "pushes_per_won"]
    columns = [
        "close rate",
        "win rate",
        "slippage-adjusted close rate",
        "coverage needed",
        "pushes per won deal",
    ]
    kinds = ["percent", "percent", "percent", "multiple", "decimal"]

    def values(m, sel=None):
        return [float(m[n].sel(sel) if sel else m[n]) for n in names]

    by_period = forecast_metrics(ds, by=("period",))
    year = forecast_metrics(ds, by=())
    period_label = str(ds.attrs.get("period", "period")).capitalize()
    rows = [[str(p), *values(by_period, {"period": p})] for p in ds.period.values]
    rows.append(["Year", *values(year)])
    tables = [
        Table(
            "forecast_metrics",
            "Forecast metrics by period (by amount)",
            [period_label, *columns],
            ["text", *kinds],
            rows,
            "Pooled over trials: close rate = won / (won + lost), win rate = won / (won + lost to "
            "competition), slippage-adjusted adds what slipped out of the period; coverage needed = 1 / "
            "close rate.",
            sheet="Forecast metrics by period",
        )
    ]
    for dim in ds.simcore.dimensions:
        m = forecast_metrics(ds, by=(dim,))
        tables.append(
            Table(
                f"metrics_by_{dim}",
                f"Forecast metrics by {dim} (whole plan, by amount)",
                [dim.capitalize(), *columns],
                ["text", *kinds],
                [[str(v), *values(m, {dim: v})] for v in ds[dim].values],
            )
        )
    if period_targets(ds) is not None:
        cov = coverage(ds)
        rows = [
            [
                str(p),
                float(cov.target.sel(period=p)),
                float(cov.commit.sel(period=p)),
                float(cov.best_case.sel(period=p)),
                float(cov.won.sel(period=p)),
                float(cov.coverage.sel(period=p)),
                float(cov.coverage_needed.sel(period=p)),
            ]
            for p in cov.period.values
        ]
        tables.append(
            Table(
                "coverage",
                "Pipeline coverage by period",
                [period_label, "target", "commit due", "best case due", "won", "coverage", "coverage needed"],
                ["text", "money", "money", "money", "money", "multiple", "multiple"],
                rows,
                "coverage = (commit + best case open at the period's start with an expected close "
                "in it + won in it) / the period's target, mean over trials.",
            )
        )
    ct = cycle_time(ds)
    share = ct["distribution"]
    tables.append(
        Table(
            "cycle_time",
            "Creation-to-close time of won deals",
            ["Creation to close", "share of won deals"],
            ["text", "percent"],
            [[str(b), float(share.sel(cycle_bin=b))] for b in share.cycle_bin.values],
            f"Mean {float(ct['mean_days']):.0f} days, median about {ct['median_days']:.0f} days "
            "(deals whose creation date is known).",
            sheet="Creation to close, won deals",
        )
    )
    return tables


def headline_table(head: dict) -> Table:
    """The headline figures as a two-column table (the first CSV / sheet)."""
    se = head.get("se", {})
    rows = [
        ["P50 annual bookings", head["p50"], se.get("p50"), "money"],
        ["P10 annual bookings", head["p10"], se.get("p10"), "money"],
        ["P90 annual bookings", head["p90"], se.get("p90"), "money"],
        ["Mean annual bookings", head["mean"], se.get("mean"), "money"],
    ]
    if head["target"] is not None:
        rows += [
            ["Target", head["target"], None, "money"],
            ["P(bookings >= target)", head["p_hit"], se.get("p_hit"), "percent"],
        ]
    rows += [["Trials", head["trials"], None, "count"]]
    return Table(
        "headline",
        "Headline",
        ["Figure", "value", "MC s.e.", "unit"],
        ["text", "number", "number", "text"],
        [
            [
                label,
                int(v) if k == "count" else float(v),
                math.nan if e is None else float(e),
                {"money": head["currency"], "percent": "fraction", "count": "trials"}[k],
            ]
            for label, v, e, k in rows
        ],
        "MC s.e.: the Monte-Carlo standard error of the figure (more trials make it smaller); "
        "the target is an input.",
        cell_kinds=[["text", k, k, "text"] for *_, k in rows],
        sheet="Headline",
    )
