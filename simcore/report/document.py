"""The plan report: headline, tables and charts as PNGs, one self-contained HTML page, CSV and .xlsx.

:func:`build_report` runs the scenario (and its variants) and gathers what finance reads:

- the headline (P50 annual bookings, the chance of hitting the target, P10 / P90);
- tables: bookings and creation by period, bookings by source and product, the bank by forecast
  category, the deterministic funnel (the planning spreadsheet) beside the simulation, and the
  variants side by side;
- charts from :mod:`simcore.report.plots`.

:func:`write_report` writes it atomically: every file is built in a temporary folder next to the
output folder and moved into place only once all of them are complete, so an interrupted or failed
run leaves no half-written file and keeps what the folder already held.

Files written into the output folder
------------------------------------
``report.html``
    One page, no network needed: CSS inline, charts as base64 ``data:`` URIs.
``report.xlsx``
    One sheet per table, numbers as numbers (dollars formatted, rates as percentages), plus an
    ``About`` sheet (scenario, hash, seed, trials, version).
``<table>.csv``
    One per table, full-precision numbers (dollars, fractions for rates), for other tools.
``<chart>.png``
    One per chart.
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import gc
import html
import json
import math
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simcore._version import __version__
from simcore.analysis.mcerror import distribution
from simcore.errors import ScenarioError, SimcoreError
from simcore.format import money, percent
from simcore.io import file_kind, fsync_file

# Column kinds: how a value is shown (HTML) and formatted (xlsx); CSV keeps the raw number.
KINDS = ("text", "money", "percent", "multiple", "count", "number", "decimal")


@dataclass
class Table:
    """One summary table of the report.

    Attributes
    ----------
    name : str
        File stem (``bookings_by_period`` -> ``bookings_by_period.csv``) and sheet name.
    title : str
        Heading shown above the table.
    columns : list of str
    kinds : list of str
        Per column, one of :data:`KINDS`: money in dollars, percent as a fraction (0.25 = 25%),
        multiple as a ratio (3.0 = 3.0x), decimal a small number shown to three places.
    rows : list of list
        Raw values (numbers unformatted).
    note : str
        A sentence under the table saying how to read it.
    """

    name: str
    title: str
    columns: list
    kinds: list
    rows: list
    note: str = ""

    def __post_init__(self):
        if len(self.kinds) != len(self.columns):
            raise ValueError(f"table {self.name}: {len(self.columns)} columns but {len(self.kinds)} kinds")
        bad = [k for k in self.kinds if k not in KINDS]
        if bad:
            raise ValueError(f"table {self.name}: unknown column kinds {bad}")


@dataclass
class Chart:
    """One chart: ``name`` (PNG file stem), ``title`` (heading), the matplotlib ``figure``."""

    name: str
    title: str
    figure: object
    caption: str = ""


@dataclass
class Report:
    """Everything :func:`write_report` writes.

    Attributes
    ----------
    title : str
    headline : dict
        ``p50, p10, p90, mean, target, p_hit, trials, seed, currency`` (dollars; ``p_hit`` a
        fraction or None without a target).
    tables : list of Table
    charts : list of Chart
    about : dict
        Provenance: scenario, file, hash, variant, overrides, seed, trials, simcore version, date.
    notes : list of str
        Sections left out and why.
    """

    title: str
    headline: dict
    tables: list = field(default_factory=list)
    charts: list = field(default_factory=list)
    about: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def table(self, name: str) -> Table:
        """The table called ``name``."""
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)


# --------------------------------------------------------------------------------------------------
# Building


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
    from simcore.analysis.convergence import with_errors

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
        "seed": ds.attrs["seed"],
        "currency": summary["currency"],
        "scenario": summary["scenario"],
    }


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
            "Won dollars booked in each period, across trials; the Year row is the distribution "
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
            ["text"] + ["number"] * 4,
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
        )
    )
    return tables


_COMPARISON_LABELS = {
    "stage1_created": "Stage-1 created",
    "stage4_created": "Stage-4 created",
    "starting_bank": "Starting stage-4 bank",
    "ending_bank": "Ending stage-4 bank",
    "retired": "Retired at stage 4 (won + lost)",
    "retire_multiple": "Retire multiple",
    "bookings": "Bookings",
}


def funnel_tables(fun, comparison=None) -> list:
    """The deterministic funnel (and, if given, its comparison with the simulation) as tables.

    Parameters
    ----------
    fun : simcore.analysis.funnel.FunnelResult
    comparison : simcore.analysis.funnel.FunnelComparison, optional
    """
    rows = [
        ["Bookings to make", fun.bookings, "money"],
        ["Retire multiple at the decision stage, with push", fun.retire_multiple, "multiple"],
        ["Retire multiple without push", fun.retire_multiple_no_push, "multiple"],
        ["Starting stage-4 bank", fun.starting_bank, "money"],
        ["Ending stage-4 bank wanted", fun.ending_bank, "money"],
        ["Stage-4 creation needed", fun.stage4_created_needed, "money"],
        ["Stage-4 creation needed without push", fun.stage4_created_needed_no_push, "money"],
        ["Stage-1 creation needed", fun.stage1_created_needed, "money"],
        ["Stage-1 creation needed without push", fun.stage1_created_needed_no_push, "money"],
        ["Stage-1 saved by modelling push", fun.push_saving_stage1, "money"],
        ["Weekly stage-1 creation needed", fun.weekly_stage1_needed, "money"],
        ["Weekly stage-4 creation needed", fun.weekly_stage4_needed, "money"],
        ["Stage 1 -> 4 rate", fun.to_decision, "percent"],
        ["Stage 4 win rate", fun.win_rate, "percent"],
        ["Implied stack, stage 1 -> won", fun.stack, "percent"],
        ["Planned stage-1 creation", fun.planned_stage1, "money"],
        ["Planned bookings (forward funnel)", fun.planned_bookings, "money"],
    ]
    if fun.bank_gap is not None:
        rows.append(["Starting-bank gap (needed - today)", fun.bank_gap, "money"])
    if fun.weekly_run_rate is not None:
        rows.append(["Weekly run-rate to close the gap", fun.weekly_run_rate, "money"])
    tables = [
        Table(
            "funnel",
            "The deterministic funnel (the spreadsheet's arithmetic)",
            ["Figure", "value", "unit"],
            ["text", "number", "text"],
            [
                [label, float(v), {"money": fun.currency, "percent": "fraction", "multiple": "x"}[kind]]
                for label, v, kind in rows
            ],
            "Backsolved from the bookings target on the plan's base values; no randomness.",
        )
    ]
    for dim, lines in fun.by_dimension.items():
        rows = [
            [
                str(value),
                ln["bookings"],
                ln["stage4_created_needed"],
                ln["stage1_created_needed"],
                ln["planned_stage1"],
                ln["to_decision"],
                ln["win_rate"],
                ln["retire_multiple"],
            ]
            for value, ln in lines.items()
        ]
        tables.append(
            Table(
                f"funnel_by_{dim}",
                f"The funnel by {dim}",
                [
                    dim.capitalize(),
                    "bookings (target split)",
                    "stage-4 needed",
                    "stage-1 needed",
                    "stage-1 planned",
                    "stage 1 -> 4",
                    "win rate",
                    "retire multiple",
                ],
                ["text", "money", "money", "money", "money", "percent", "percent", "multiple"],
                rows,
            )
        )
    if comparison is not None:
        rows = []
        for name, r in comparison.rows.items():
            rows.append(
                [
                    _COMPARISON_LABELS.get(name, name.replace("_", " ")),
                    r["funnel"],
                    r["simulated"],
                    r["se"] if r["se"] is not None and math.isfinite(r["se"]) else math.nan,
                ]
            )
        tables.append(
            Table(
                "funnel_vs_simulation",
                "The funnel beside the simulated expectation",
                ["Figure", "funnel", "simulated mean", "MC s.e."],
                ["text", "number", "number", "number"],
                rows,
                "Dollars except the retire multiple (a ratio). Simulated figures are means over "
                f"{comparison.trials:,} trials with their Monte-Carlo standard error.",
            )
        )
        rows = [[e["name"], e["dollars"], e["se"], e["text"]] for e in comparison.effects]
        tables.append(
            Table(
                "funnel_difference",
                "Why the simulation differs from the funnel (bookings)",
                ["Effect", "dollars (funnel - simulated)", "MC s.e.", "explanation"],
                ["text", "money", "money", "text"],
                rows,
            )
        )
    return tables


def comparison_tables(result) -> list:
    """Variants side by side from :func:`simcore.analysis.compare.compare`: the year, each period, the differences.

    Parameters
    ----------
    result : simcore.analysis.compare.ComparisonResult
    """
    rows = []
    for label, v in result.variants.items():
        y = v["year"]
        rows.append(
            [
                label,
                y["mean"]["value"],
                y["p10"]["value"],
                y["p50"]["value"],
                y["p90"]["value"],
                y["p_hit"]["value"] if "p_hit" in y else math.nan,
                y["p50"]["se"],
            ]
        )
    tables = [
        Table(
            "variants",
            "Variants side by side (same seed: common random numbers)",
            ["Variant", *_DIST_COLUMNS, "P(hit)", "P50 s.e."],
            ["text"] + ["money"] * 4 + ["percent", "money"],
            rows,
            f"Annual bookings of each variant, {result.trials:,} trials each, every variant run on the "
            "same random numbers so the differences are the assumptions', not the dice's.",
        )
    ]
    rows = [
        [
            p,
            label,
            v["by_period"][p]["p10"]["value"],
            v["by_period"][p]["p50"]["value"],
            v["by_period"][p]["p90"]["value"],
        ]
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
    rows = []
    for label, d in result.differences.items():
        for key, name in (
            ("mean", "mean"),
            ("p10", "P10"),
            ("p50", "P50"),
            ("p90", "P90"),
            ("p_hit", "P(hit)"),
        ):
            if key in d["year"]:
                x = d["year"][key]
                rows.append(
                    [f"{label} - {result.baseline}", name, x["difference"], x["se"], x["se_unpaired"]]
                )
    if rows:
        tables.append(
            Table(
                "variant_differences",
                f"Differences from {result.baseline}, annual bookings",
                ["Variants", "figure", "difference", "s.e. (paired)", "s.e. if run independently"],
                ["text", "text", "number", "number", "number"],
                rows,
                "Dollars, except P(hit) (a fraction). Common random numbers make the paired "
                "standard error much smaller than independent runs would give.",
            )
        )
    return tables


def sensitivity_tables(drawn=None, swings=None, contributions=None) -> list:
    """What moves P50 and P10 bookings, from :mod:`simcore.analysis.sensitivity`.

    Parameters
    ----------
    drawn : simcore.analysis.sensitivity.DrawnSensitivity, optional
        Regression of annual bookings on each trial's drawn assumptions (no extra runs).
    swings : simcore.analysis.sensitivity.OneAtATime, optional
        Each uncertain assumption set to its low and its high, everything else as given.
    contributions : xarray.DataArray, optional
        Each cell's share of the variance of annual bookings (over the scenario's dimensions).
    """
    from simcore.report.plots import assumption_label

    tables = []
    if swings is not None and swings.rows:
        rows = [
            [
                assumption_label(r["name"]),
                _setting_text(r["low_value"]),
                _setting_text(r["high_value"]),
                r["p50"]["low"],
                r["p50"]["high"],
                r["p50"]["swing"],
                r["p10"]["low"],
                r["p10"]["high"],
                r["p10"]["swing"],
            ]
            for r in swings.rows
        ]
        tables.append(
            Table(
                "sensitivity_swings",
                "One assumption at a time: low and high settings",
                [
                    "Assumption",
                    "low setting",
                    "high setting",
                    "P50 at low",
                    "P50 at high",
                    "P50 swing",
                    "P10 at low",
                    "P10 at high",
                    "P10 swing",
                ],
                ["text", "text", "text"] + ["money"] * 6,
                rows,
                f"Annual bookings with the assumption at its low / high value in every cell and "
                f"everything else as in the scenario ({swings.trials:,} trials per run, same seed). "
                f"Base P50 {money(swings.base['p50'])}, P10 {money(swings.base['p10'])}.",
            )
        )
    if drawn is not None and drawn.rows:
        rows = [
            [
                assumption_label(r["name"]),
                r["importance"],
                r["spearman"],
                r["p50_low"],
                r["p50_high"],
                r["p10_low"],
                r["p10_high"],
            ]
            for r in drawn.rows
        ]
        tables.append(
            Table(
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
            )
        )
    if contributions is not None:
        dims = list(contributions.dims)
        if len(dims) == 2:
            rows_dim, cols_dim = dims
            table = contributions.transpose(rows_dim, cols_dim)
            rows = [
                [
                    str(r),
                    *[float(table.sel({rows_dim: r, cols_dim: c})) for c in table[cols_dim].values],
                    float(table.sel({rows_dim: r}).sum()),
                ]
                for r in table[rows_dim].values
            ]
            rows.append(
                [
                    "total",
                    *[float(table.sel({cols_dim: c}).sum()) for c in table[cols_dim].values],
                    float(table.sum()),
                ]
            )
            columns = [f"{rows_dim} \\ {cols_dim}", *[str(c) for c in table[cols_dim].values], "total"]
        else:
            flat = contributions.stack(cell=dims) if len(dims) > 1 else contributions
            rows = [
                ["/".join(map(str, v if isinstance(v, tuple) else (v,))), float(x)]
                for v, x in zip(flat[flat.dims[0]].values, flat.values)
            ]
            columns = ["Cell", "share"]
        tables.append(
            Table(
                "variance_by_cell",
                "Where the variance of annual bookings comes from",
                columns,
                ["text"] + ["percent"] * (len(columns) - 1),
                rows,
                "Each cell's cov(cell, total) / var(total): the shares add up to 100%.",
            )
        )
    return tables


def _setting_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return f"{value[0]:.3g} to {value[1]:.3g}"
    return f"{value:.3g}"


def metrics_tables(ds) -> list:
    """The sales playbook's forecast metrics by period and by each dimension (dollars), and coverage if there is a
    target: from :mod:`simcore.analysis.metrics`.
    """
    from simcore.analysis.metrics import coverage, cycle_time, forecast_metrics, period_targets

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
            ["Days", "share of won deals"],
            ["text", "percent"],
            [[str(b), float(share.sel(cycle_bin=b))] for b in share.cycle_bin.values],
            f"Mean {float(ct['mean_days']):.0f} days, median about {ct['median_days']:.0f} days "
            "(deals whose creation date is known).",
        )
    )
    return tables


def build_report(
    scenario, trials: int = 10_000, seed=0, variants=None, funnel_trials: int | None = None, progress=False
) -> Report:
    """Simulate ``scenario`` and gather the report's headline, tables and charts.

    Parameters
    ----------
    scenario : Scenario
        From :func:`simcore.load_scenario` (its variant and overrides are kept).
    trials : int
        Monte Carlo trials of the main run and of each variant.
    seed : int
        Random seed; every run uses it (common random numbers across variants).
    variants : sequence of str, optional
        Variants of the scenario file to compare; default all of them (none if the file has none).
        An empty sequence leaves the comparison out.
    funnel_trials : int, optional
        Trials of the funnel-vs-simulation and one-at-a-time sensitivity runs (default
        ``min(trials, 2000)``).
    progress : bool or None
        Progress bars (``None``: when the terminal is interactive).

    Returns
    -------
    Report

    Examples
    --------
    >>> sc = load_scenario("scenarios/fy2026.toml")          # doctest: +SKIP
    >>> write_report(build_report(sc, trials=2000), "out")    # doctest: +SKIP
    """
    from simcore.engine.simulate import simulate
    from simcore.report import plots

    names = list(scenario.variants) if variants is None else list(variants)
    unknown = [v for v in names if v not in scenario.variants]
    if unknown:  # before any simulation: a typo should cost nothing
        raise SimcoreError(
            f"unknown variant(s) {', '.join(map(repr, unknown))}; the scenario has "
            f"{', '.join(map(repr, scenario.variants)) or 'none'}"
        )
    ds = simulate(scenario, trials=trials, seed=seed, progress=progress)
    report = report_from_dataset(ds)
    name = plots.plan_title(ds)
    currency = ds.attrs["currency"]

    fun = None
    if scenario.target is not None or _has_funnel_inputs(scenario):
        from simcore.analysis.funnel import funnel

        try:
            fun = funnel(scenario)
        except ScenarioError as exc:  # e.g. a cell with a zero win rate cannot be backsolved
            report.notes.append("The deterministic funnel is left out: " + "; ".join(map(str, exc.problems)))
    else:
        report.notes.append(
            "The deterministic funnel is left out: the scenario has no target and no [funnel] "
            "table to backsolve from."
        )
    if fun is not None:
        from simcore.analysis.funnel import funnel_vs_simulation

        comparison = funnel_vs_simulation(
            scenario, trials=funnel_trials or min(trials, 2000), seed=seed, result=fun, progress=progress
        )
        report.tables.extend(funnel_tables(fun, comparison))
        by_period = [fun.stage4_needed_by_period.get(str(p)) for p in ds.period.values]
        needed = by_period if all(v is not None for v in by_period) else fun.stage4_created_needed
        report.charts.insert(
            2,
            Chart(
                "stage4_waterfall",
                f"{ds.attrs['decision_stage']} creation against what the plan needs",
                plots.creation_waterfall(ds, needed),
                "Expected creation into the decision stage, period by period, and the "
                "funnel's need spread over the periods like the creation plan.",
            ),
        )

    _add_sensitivity(
        report, scenario, ds, trials=funnel_trials or min(trials, 2000), seed=seed, progress=progress
    )

    target = ds.simcore.target
    # Peak memory: the variants' runs below need only the target, not this run's Dataset. The
    # ds.simcore accessor makes a reference cycle (xarray caches it on the Dataset), so only the
    # cycle collector frees the Dataset's arrays.
    del ds
    gc.collect()
    if names:
        from simcore.analysis.compare import compare

        result = compare(scenario, names, trials=trials, seed=seed, progress=progress)
        report.tables.extend(comparison_tables(result))
        report.charts.append(
            Chart(
                "variants",
                "Variants side by side",
                plots.scenario_comparison(
                    result.bookings, target=target, currency=currency, title=f"{name} bookings by variant"
                ),
            )
        )
    return report


def _add_sensitivity(report, scenario, ds, trials, seed, progress) -> None:
    """The tornado (one assumption at a time) and the sensitivity tables."""
    from simcore.analysis.sensitivity import drawn_sensitivity, one_at_a_time, variance_contributions
    from simcore.report import plots

    try:
        drawn = drawn_sensitivity(ds, scenario)
    except SimcoreError as exc:  # too few trials for the number of uncertain assumptions
        drawn = None
        report.notes.append(f"The drawn-assumption sensitivity is left out: {exc}.")
    swings = one_at_a_time(scenario, trials=trials, seed=seed, progress=progress)
    try:
        contributions = variance_contributions(ds)
    except SimcoreError as exc:
        contributions = None
        report.notes.append(f"The variance by cell is left out: {exc}.")
    report.tables.extend(sensitivity_tables(drawn, swings, contributions))
    if swings.rows:
        report.charts.append(
            Chart(
                "tornado",
                "What moves P50 bookings most",
                plots.tornado(swings.swings("p50"), swings.base["p50"], currency=ds.attrs["currency"]),
                "Each uncertain assumption at its low and its high value, everything else as "
                "in the scenario, on the same random numbers.",
            )
        )
    else:
        report.notes.append(
            "No tornado: every assumption in the scenario is a single number (give low/base/high "
            "to see what moves the result)."
        )


def _has_funnel_inputs(scenario) -> bool:
    table = scenario.raw.get("funnel")
    return isinstance(table, dict) and "bookings" in table


def report_from_dataset(ds) -> Report:
    """The part of the report that needs only a simulated Dataset (no re-runs).

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.

    Returns
    -------
    Report
        Headline, the Dataset's tables and the fan, distribution and bank charts.
    """
    from simcore.report import plots

    head = headline(ds)
    name = plots.plan_title(ds)
    tables = [headline_table(head)] + dataset_tables(ds) + metrics_tables(ds)
    charts = [
        Chart(
            "bookings_distribution",
            "Annual bookings: distribution and chance of hitting the target",
            plots.bookings_distribution(ds),
        ),
        Chart(
            "bookings_fan",
            "Bookings to date by period",
            plots.fan_chart(ds),
            "The median path and the ranges a plan should expect: half the simulated years fall in the "
            "dark band, eight in ten in the light one.",
        ),
        Chart("bank_by_category", "Open pipeline by forecast category", plots.bank_by_category(ds)),
    ]
    about = {
        "scenario": ds.attrs["scenario"],
        "scenario_file": ds.attrs.get("scenario_file", ""),
        "scenario_hash": ds.attrs["scenario_hash"],
        "variant": ds.attrs.get("variant", ""),
        "overrides": ds.attrs.get("overrides", "{}"),
        "seed": ds.attrs["seed"],
        "trials": int(ds.sizes["trial"]),
        "period": ds.attrs["period"],
        "start": ds.attrs.get("start", ""),
        "simcore_version": ds.attrs.get("simcore_version", __version__),
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    return Report(title=f"{name} bookings plan", headline=head, tables=tables, charts=charts, about=about)


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
    )


# --------------------------------------------------------------------------------------------------
# Rendering


def _cell_text(value, kind, currency) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "money":
        from simcore.report.plots import exact_money

        return exact_money(value, currency)  # a planned $8.65M target stays $8.65M
    if kind == "percent":
        return percent(value)
    if kind == "multiple":
        return f"{value:.2f}x"
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "decimal":
        return f"{value:.3f}"
    if kind == "number":
        return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def _row_kinds(table: Table, row) -> list:
    """Kinds per cell; ``value``/``unit`` tables say each row's unit in their last column."""
    kinds = list(table.kinds)
    if "unit" in table.columns:
        unit = row[table.columns.index("unit")]
        kind = (
            "percent"
            if unit == "fraction"
            else "multiple"
            if unit == "x"
            else "count"
            if unit == "trials"
            else "money"
        )
        kinds = [kind if k == "number" else k for k in kinds]
    if table.name == "variant_differences":
        kind = "percent" if row[1] == "P(hit)" else "money"
        kinds = ["text", "text", kind, kind, kind]
    if table.name == "funnel_vs_simulation":
        kind = "multiple" if row[0] == _COMPARISON_LABELS["retire_multiple"] else "money"
        kinds = ["text", kind, kind, "decimal" if kind == "multiple" else "money"]
    return kinds


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.headline { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0 0.5em; }
.figure-box { background: #f0f5fb; border-radius: 6px; padding: 0.8em 1.2em; min-width: 12em; }
.figure-box .value { font-size: 1.9em; font-weight: 600; color: #08306b; }
.figure-box .label { font-size: 0.9em; color: #444; }
.figure-box .se { font-size: 0.75em; color: #777; }
.sentence { font-size: 1.1em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #e4e4e4; }
th { text-align: right; background: #f6f6f6; }
th:first-child, td:first-child { text-align: left; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td.text { text-align: left; }
.note, .about { color: #555; font-size: 0.88em; }
img { max-width: 100%; height: auto; }
"""


def render_html(report: Report, images: dict) -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    report : Report
    images : dict
        Chart name -> PNG bytes (inlined as base64 ``data:`` URIs: no file or network needed).

    Returns
    -------
    str
    """
    h = report.headline
    cur = h["currency"]
    esc = html.escape
    se = h.get("se", {})

    def err(key, fmt):
        return f"MC s.e. {fmt(se[key])}" if se.get(key) is not None and math.isfinite(se[key]) else ""

    def dollars(v):
        return money(v, cur)

    boxes = [("P50 annual bookings", money(h["p50"], cur), err("p50", dollars))]
    if h["p_hit"] is not None:
        from simcore.report.plots import exact_money

        boxes.append(
            (
                f"chance of hitting {exact_money(h['target'], cur)}",
                percent(h["p_hit"], 0),
                err("p_hit", lambda v: percent(v, 1)),
            )
        )
    boxes += [
        ("P10 (a bad year)", money(h["p10"], cur), err("p10", dollars)),
        ("P90 (a good year)", money(h["p90"], cur), err("p90", dollars)),
    ]
    if h["p_hit"] is not None:
        from simcore.report.plots import exact_money

        sentence = (
            f"In {percent(h['p_hit'], 0)} of {h['trials']:,} simulated years the plan books at least "
            f"{exact_money(h['target'], cur)}; half of them book {money(h['p50'], cur)} or more, one in ten "
            f"less than {money(h['p10'], cur)}."
        )
    else:
        sentence = (
            f"Half of {h['trials']:,} simulated years book {money(h['p50'], cur)} or more; one in ten "
            f"less than {money(h['p10'], cur)}, one in ten more than {money(h['p90'], cur)}."
        )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{esc(report.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(report.title)}</h1>",
        '<div class="headline">',
    ]
    for label, value, error in boxes:
        parts.append(
            f'<div class="figure-box"><div class="value">{esc(value)}</div>'
            f'<div class="label">{esc(label)}</div><div class="se">{esc(error)}</div></div>'
        )
    parts.append("</div>")
    parts.append(f'<p class="sentence">{esc(sentence)}</p>')
    a = report.about
    parts.append(
        f'<p class="about">Scenario {esc(str(a.get("scenario", "")))} '
        f"{('(variant ' + esc(str(a['variant'])) + ') ') if a.get('variant') else ''}"
        f"hash {esc(str(a.get('scenario_hash', '')))}, seed {esc(str(a.get('seed', '')))}, "
        f"{a.get('trials', 0):,} trials, simcore {esc(str(a.get('simcore_version', '')))}, "
        f"{esc(str(a.get('created', '')))}.</p>"
    )
    if a.get("overrides") and a["overrides"] != "{}":
        parts.append(f'<p class="about">Overrides: {esc(str(a["overrides"]))}</p>')

    for chart in report.charts:
        data = base64.b64encode(images[chart.name]).decode("ascii")
        parts.append(f"<h2>{esc(chart.title)}</h2>")
        parts.append(f'<img alt="{esc(chart.title)}" src="data:image/png;base64,{data}">')
        if chart.caption:
            parts.append(f'<p class="note">{esc(chart.caption)}</p>')

    for table in report.tables:
        parts.append(f"<h2>{esc(table.title)}</h2>")
        parts.append("<table>")
        parts.append("<tr>" + "".join(f"<th>{esc(str(c))}</th>" for c in table.columns) + "</tr>")
        for row in table.rows:
            kinds = _row_kinds(table, row)
            cells = []
            for value, kind in zip(row, kinds):
                cls = ' class="text"' if kind == "text" else ""
                cells.append(f"<td{cls}>{esc(_cell_text(value, kind, cur))}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
        if table.note:
            parts.append(f'<p class="note">{esc(table.note)}</p>')
    for note in report.notes:
        parts.append(f'<p class="note">{esc(note)}</p>')
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _csv_value(value):
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def write_csv(table: Table, path) -> None:
    """``table`` as CSV: a header row, raw numbers (dollars, fractions), empty for missing."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([_csv_value(v) for v in row])


def _excel_format(kind, currency) -> str | None:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, "")
    return {
        "money": f'"{symbol}"#,##0' if symbol else "#,##0",
        "percent": "0.0%",
        "multiple": '0.00"x"',
        "count": "#,##0",
        "number": "#,##0.00",
    }.get(kind)


def _sheet_names(tables) -> list:
    """Unique sheet names of at most 31 characters (Excel's limit)."""
    names, seen = [], set()
    for t in tables:
        base = t.name[:31]
        name, i = base, 2
        while name.lower() in seen:
            suffix = f"_{i}"
            name, i = base[: 31 - len(suffix)] + suffix, i + 1
        seen.add(name.lower())
        names.append(name)
    return names


def write_xlsx(report: Report, path) -> None:
    """The report's tables as one workbook: a sheet per table plus ``About``."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font
    except ModuleNotFoundError:  # pragma: no cover - openpyxl is a dependency
        raise SimcoreError("writing .xlsx needs openpyxl: pip install openpyxl") from None
    cur = report.headline["currency"]
    wb = Workbook()
    wb.remove(wb.active)
    for table, sheet_name in zip(report.tables, _sheet_names(report.tables)):
        ws = wb.create_sheet(sheet_name)
        ws.append([table.title])
        ws["A1"].font = Font(bold=True, size=12)
        ws.append(list(table.columns))
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for row in table.rows:
            kinds = _row_kinds(table, row)
            ws.append([None if isinstance(v, float) and math.isnan(v) else _csv_value(v) for v in row])
            for cell, kind in zip(ws[ws.max_row], kinds):
                fmt = _excel_format(kind, cur)
                if fmt and isinstance(cell.value, (int, float)):
                    cell.number_format = fmt
        if table.note:
            ws.append([])
            ws.append([table.note])
        ws.column_dimensions["A"].width = (
            max(14, min(48, max(len(str(r[0])) for r in table.rows) + 2)) if table.rows else 14
        )
        for letter in "BCDEFGHIJ"[: len(table.columns) - 1]:
            ws.column_dimensions[letter].width = 16
    ws = wb.create_sheet("About")
    for key, value in report.about.items():
        ws.append([key, value if isinstance(value, (int, float)) else str(value)])
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 60
    wb.save(path)


def report_files(report: Report) -> list:
    """Names of the files :func:`write_report` writes, in writing order."""
    return (
        [f"{c.name}.png" for c in report.charts]
        + [f"{t.name}.csv" for t in report.tables]
        + ["report.xlsx", "report.html"]
    )


def check_out_dir(out_dir, names=("report.html", "report.xlsx")) -> Path:
    """``out_dir`` as a Path if a report can be written there (checked before a long run).

    Parameters
    ----------
    out_dir : str or Path
    names : iterable of str
        Files the report will put in the folder; any of them that exists must be a file (or a
        link) that can be replaced. The default, the two files every report has, is what can be
        checked before the report is built; :func:`write_report` checks all of them.

    Raises
    ------
    SimcoreError
        When the path is empty, its parent folder does not exist, it exists and is not a folder
        (or is a link to nothing), the folder cannot be written in, or one of ``names`` in it is
        a folder, a named pipe or anything else that is not a file.
    """
    if os.fspath(out_dir) in ("", b""):
        raise SimcoreError("the output path is empty")
    out = Path(out_dir)
    if out.is_symlink() and not out.exists():
        raise SimcoreError(f"{out}: is a link to {os.readlink(out)!r}, which does not exist")
    if not out.resolve().parent.is_dir():
        raise SimcoreError(f"{out}: the folder {str(out.parent)!r} does not exist")
    if out.exists() and not out.is_dir():
        raise SimcoreError(f"{out}: exists and is not a folder")
    where = out if out.exists() else out.resolve().parent
    if not os.access(where, os.W_OK | os.X_OK):
        raise SimcoreError(f"{out}: cannot write in {str(where)!r}: permission denied")
    if out.exists():
        _check_destinations(out, names)
    return out


def _check_destinations(out: Path, names) -> None:
    """Refuse, before anything is replaced, when an ``out/name`` exists and is not a file or a link."""
    bad = []
    for name in names:
        try:
            mode = os.lstat(out / name).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise SimcoreError(f"{out / name}: cannot use it: {exc.strerror or exc}") from None
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            bad.append((out / name, file_kind(mode)))
    if bad:
        path, kind = bad[0]
        more = f" (also in the way: {', '.join(p.name for p, _ in bad[1:])})" if len(bad) > 1 else ""
        raise SimcoreError(
            f"{path}: is {kind}, not a file, and the report would replace it{more}; "
            "move it away or choose another folder (nothing was changed)"
        )


def write_report(report: Report, out_dir, dpi: int = 110) -> list:
    """Write the report's PNGs, HTML, CSVs and workbook into ``out_dir``, atomically.

    Everything is first written to a temporary folder beside ``out_dir`` (inside it if it is a
    mount point: the same file system either way, so the final moves are renames). Only when every
    file is complete are they moved in: a new folder is renamed into place in one step; into an
    existing folder each file replaces its namesake in one step, the previous files being kept
    aside until all are in, and other files already there are kept. On any failure (or Ctrl-C),
    before or during those moves, the previous files are put back, the temporary folder is removed
    and ``out_dir`` is left as it was. (Only a crash of the process or the machine during the
    final renames into an existing folder can leave it holding some new and some previous files,
    each of them whole; see :func:`_publish`.)

    Parameters
    ----------
    report : Report
    out_dir : str or Path
        The output folder; its parent must exist.
    dpi : int
        Resolution of the PNGs.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    SimcoreError
        For a folder :func:`check_out_dir` refuses (checked against every file the report writes,
        before any is written), and for an OSError while writing (disk full, permissions).
    """
    from simcore.report.plots import png_bytes

    names = report_files(report)
    out = check_out_dir(out_dir, names)
    parent = out.resolve().parent
    stage_in = parent
    if out.is_dir() and os.stat(out).st_dev != os.stat(parent).st_dev:
        stage_in = out.resolve()  # a mount point: a rename from beside it would cross file systems
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=stage_in))
    except OSError as exc:
        raise SimcoreError(f"{out}: cannot write in {str(stage_in)!r}: {exc.strerror or exc}") from None
    try:
        images = {}
        for chart in report.charts:
            images[chart.name] = png_bytes(chart.figure, dpi)
            (tmp / f"{chart.name}.png").write_bytes(images[chart.name])
        for table in report.tables:
            write_csv(table, tmp / f"{table.name}.csv")
        write_xlsx(report, tmp / "report.xlsx")
        (tmp / "report.html").write_text(render_html(report, images), encoding="utf-8")
        for name in names:
            fsync_file(tmp / name)
        _publish(tmp, out, names)
    except OSError as exc:  # disk full, permissions: the user's to fix, not a traceback
        shutil.rmtree(tmp, ignore_errors=True)
        raise SimcoreError(
            f"{out}: cannot write the report: {exc.strerror or exc}; the folder was left as it was"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return [out / n for n in names]


def _publish(tmp: Path, out: Path, names) -> None:
    """Move the finished files from ``tmp`` into ``out`` (renames only): all of them or none.

    A new folder: ``tmp`` itself is renamed to ``out``, one step.

    An existing folder, in three steps:

    1. Check every destination (none is a folder, a named pipe, ...). Nothing is changed yet.
    2. Keep each file about to be replaced as a hard link (a copy where links are not possible)
       in ``tmp/.previous``. ``out`` is still unchanged.
    3. Rename each new file onto its namesake, one step each (a reader of one file sees the
       previous or the new version, never a part). If a rename fails or is interrupted (an
       OSError, Ctrl-C), the files already moved are put back from ``tmp/.previous`` (or removed
       where there was none) and the error is raised.

    Guaranteed: each file in ``out`` is always whole; after any exception ``out`` holds what it
    held before (if even putting back fails, the error says where the previous files were kept).
    Not guaranteed: the set of files is not switched in one step, so a reader during step 3 may
    see some new and some previous files, and if the process is killed (SIGKILL) or the machine
    stops during step 3, the folder is left that way (the previous versions of the replaced files
    stay in the leftover ``.<name>.*.tmp/.previous`` folder). A link in ``out`` with a report
    file's name is replaced by the new file; its target is left alone.
    """
    umask = os.umask(0)
    os.umask(umask)
    if not out.exists() and not out.is_symlink():
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; give it a normal folder's mode
        os.replace(tmp, out)
        return
    _check_destinations(out, names)  # again: the folder may have changed while the files were written
    previous = tmp / ".previous"
    previous.mkdir()
    kept = set()
    for name in names:
        if os.path.lexists(out / name):
            _keep(out / name, previous / name)
            kept.add(name)
    moved = []
    try:
        for name in names:
            os.replace(tmp / name, out / name)
            moved.append(name)
    except BaseException as exc:
        failed = _put_back(out, previous, moved, kept)
        if failed:
            rescue = Path(tempfile.mkdtemp(prefix=f"{out.name}.previous.", dir=tmp.parent))
            os.replace(previous, rescue)
            raise SimcoreError(
                f"{out}: writing the report failed ({getattr(exc, 'strerror', None) or exc!r}) "
                f"and {len(failed)} previous file(s) could not be put back, e.g. "
                f"{failed[0]}; the previous versions are in {rescue}"
            ) from None
        if isinstance(exc, OSError):
            raise SimcoreError(
                f"{out / names[len(moved)]}: cannot write: {exc.strerror or exc}; "
                "the folder was left as it was"
            ) from None
        raise


def _keep(path: Path, backup: Path) -> None:
    """Keep the file at ``path`` as ``backup`` (a hard link, else a copy), or refuse to go on."""
    try:
        os.link(path, backup, follow_symlinks=False)
        return
    except (OSError, NotImplementedError):  # no hard links on this file system (or platform)
        pass
    try:
        shutil.copy2(path, backup, follow_symlinks=False)
    except OSError as exc:
        raise SimcoreError(
            f"{path}: cannot keep the previous version while replacing it "
            f"({exc.strerror or exc}); nothing was changed"
        ) from None


def _put_back(out: Path, previous: Path, moved, kept) -> list:
    """Undo the renames of ``moved``; the names that could not be undone."""
    failed = []
    for name in reversed(moved):
        try:
            if name in kept:
                os.replace(previous / name, out / name)
            else:
                os.unlink(out / name)
        except OSError:
            failed.append(name)
    return failed


def report_json(report: Report) -> str:
    """The headline and provenance as JSON (what ``simcore report --json`` prints)."""
    return json.dumps(
        {
            "headline": report.headline,
            "about": report.about,
            "files": report_files(report),
            "notes": report.notes,
        },
        indent=2,
        default=str,
    )
