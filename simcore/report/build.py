"""Assemble the report: run the scenario (and its variants), gather tables, charts and the summary.

:func:`build_report` runs everything; :func:`report_from_dataset` is the part that needs only a
simulated Dataset. The first page's sentences (what drives the risk, what to do) are written here
from the analyses' numbers (:func:`summary_sentences`).
"""

from __future__ import annotations

import datetime as _dt
import gc

import numpy as np

from simcore._version import __version__
from simcore.analysis.compare import compare
from simcore.analysis.funnel import funnel, funnel_vs_simulation
from simcore.analysis.programs import evaluate_programs
from simcore.analysis.sensitivity import drawn_sensitivity, one_at_a_time, variance_contributions
from simcore.engine.simulate import simulate
from simcore.errors import ScenarioError, SimcoreError
from simcore.format import exact_money, money, money_pair, percent
from simcore.report import plots
from simcore.report.content import Chart, Report
from simcore.report.labels import assumption_label, stage_names
from simcore.report.plan_tables import comparison_tables, funnel_tables, sensitivity_tables
from simcore.report.program_tables import choice_tables, hires_tables, program_tables
from simcore.report.tables import chart_data_tables, dataset_tables, headline, headline_table, metrics_tables

# The confidence the first page's "what to do" is written at, when the scenario's [optimize] table
# does not say (the optimizer's own default).
DEFAULT_CONFIDENCE = 0.9


def build_report(
    scenario,
    trials: int = 10_000,
    seed=0,
    variants=None,
    funnel_trials: int | None = None,
    progress=False,
    levers=(),
) -> Report:
    """Simulate ``scenario`` and gather the report's headline, tables, charts and summary.

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
    levers : sequence, optional
        Answers to put on the programs page: a :class:`~simcore.optimize.joint.JointChoice`
        (programs chosen with the creation plan) and/or a
        :class:`~simcore.optimize.hires.HiresResult` (where the next heads go).

    Returns
    -------
    Report

    Examples
    --------
    >>> sc = load_scenario("scenarios/fy2026.toml")          # doctest: +SKIP
    >>> write_report(build_report(sc, trials=2000), "out")    # doctest: +SKIP
    """
    names = list(scenario.variants) if variants is None else list(variants)
    unknown = [v for v in names if v not in scenario.variants]
    if unknown:  # before any simulation: a typo should cost nothing
        raise SimcoreError(
            f"unknown variant(s) {', '.join(map(repr, unknown))}; the scenario has "
            f"{', '.join(map(repr, scenario.variants)) or 'none'}"
        )
    side_trials = funnel_trials or min(trials, 2000)
    ds = simulate(scenario, trials=trials, seed=seed, progress=progress)
    report = report_from_dataset(ds)
    fun = _add_funnel(report, scenario, ds, side_trials, seed, progress)
    sens = _add_sensitivity(report, scenario, ds, side_trials, seed, progress)
    _add_programs(report, scenario, side_trials, seed, progress, levers)
    year = np.asarray(ds.simcore.year_bookings().values, dtype=float)
    report.summary = summary_sentences(report, sens, fun, year, _confidence(scenario), stage_names(ds))
    target, currency, name = ds.simcore.target, ds.attrs["currency"], plots.plan_title(ds)
    # Peak memory: the variants' runs below need only the target, not this run's Dataset. The
    # ds.simcore accessor makes a reference cycle (xarray caches it on the Dataset), so only the
    # cycle collector frees the Dataset's arrays.
    del ds
    gc.collect()
    if names:
        result = compare(scenario, names, trials=trials, seed=seed, progress=progress)
        report.tables.extend(comparison_tables(result))
        figure = plots.scenario_comparison(
            result.bookings, target=target, currency=currency, title=f"{name} bookings by variant"
        )
        report.charts.append(Chart("variants", "Variants side by side", figure))
    return report


def _add_programs(report, scenario, trials, seed, progress, levers=()) -> None:
    """The programs page, when the scenario declares programs; the levers' answers given."""
    if scenario.programs:
        result = evaluate_programs(scenario, trials, seed, progress=progress)
        report.tables.extend(program_tables(result))
    for lever in levers:
        if hasattr(lever, "on_top"):  # a JointChoice
            report.tables.extend(choice_tables(lever))
        elif hasattr(lever, "placements"):  # a HiresResult
            report.tables.extend(hires_tables(lever))
        else:
            raise SimcoreError(
                f"a report lever is a JointChoice or a HiresResult, got {type(lever).__name__}"
            )


def _confidence(scenario) -> float:
    table = scenario.raw.get("optimize")
    value = table.get("confidence") if isinstance(table, dict) else None
    return float(value) if isinstance(value, (int, float)) and 0 < value < 1 else DEFAULT_CONFIDENCE


def _has_funnel_inputs(scenario) -> bool:
    table = scenario.raw.get("funnel")
    return isinstance(table, dict) and "bookings" in table


def _add_funnel(report, scenario, ds, trials, seed, progress):
    """The funnel tables and the decision-stage creation waterfall; the funnel, or None."""
    if scenario.target is None and not _has_funnel_inputs(scenario):
        report.notes.append(
            "The deterministic funnel is left out: the scenario has no target and no [funnel] "
            "table to backsolve from."
        )
        return None
    try:
        fun = funnel(scenario)
    except ScenarioError as exc:  # e.g. a cell with a zero win rate cannot be backsolved
        report.notes.append("The deterministic funnel is left out: " + "; ".join(map(str, exc.problems)))
        return None
    comparison = funnel_vs_simulation(scenario, trials=trials, seed=seed, result=fun, progress=progress)
    report.tables.extend(funnel_tables(fun, comparison, stages=stage_names(ds)))
    by_period = [fun.stage4_needed_by_period.get(str(p)) for p in ds.period.values]
    needed = by_period if all(v is not None for v in by_period) else fun.stage4_created_needed
    decision = stage_names(ds)[1]
    report.charts.insert(
        2,
        Chart(
            "stage4_waterfall",
            f"{decision} creation against what the plan needs",
            plots.creation_waterfall(ds, needed),
            f"Expected creation into {decision} (the decision stage), period by period, and the "
            "funnel's need spread over the periods like the creation plan.",
        ),
    )
    return fun


def market_swing(ds, base_p50=None, low=0.10, high=0.90, width=0.05) -> dict | None:
    """P50 annual bookings in the trials whose market factor was near its ``low`` / ``high`` quantile.

    The market factor is drawn once per trial and is not a parameter the one-at-a-time runs can set,
    so its swing is read from the main run: the P50 of the trials whose draw lies within ``width``
    (in probability) of the market factor's ``low`` and ``high`` quantiles. Returns None when the
    scenario has no market factor (or none varies).

    Returns
    -------
    dict or None
        ``name`` ("market_factor"), ``low``, ``high`` (P50 of the two groups, in the currency),
        ``estimated`` (True), ``trials`` (per group).
    """
    if "market_factor" not in ds or np.ptp(ds["market_factor"].values) == 0:
        return None
    z = np.asarray(ds["market_factor"].values, dtype=float)
    year = np.asarray(ds.simcore.year_bookings().values, dtype=float)
    edges = np.quantile(z, [low - width, low + width, high - width, high + width])
    lo = year[(z >= edges[0]) & (z <= edges[1])]
    hi = year[(z >= edges[2]) & (z <= edges[3])]
    if len(lo) < 10 or len(hi) < 10:
        return None
    return {
        "name": "market_factor",
        "low": float(np.quantile(lo, 0.5)),
        "high": float(np.quantile(hi, 0.5)),
        "estimated": True,
        "trials": int(min(len(lo), len(hi))),
    }


def _add_sensitivity(report, scenario, ds, trials, seed, progress) -> dict:
    """The tornado beside the variance shares, and the sensitivity tables; what the summary needs."""
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
    currency = ds.attrs["currency"]
    report.tables.extend(sensitivity_tables(drawn, swings, contributions, currency))
    base = report.headline["p50"]
    # One base for every bar, the headline P50: each rerun's change from its own base run (same
    # trials, same seed, so the change is paired) is added to it.
    bars = [
        {
            "name": s["name"],
            "low": base + s["low"] - swings.base["p50"],
            "high": base + s["high"] - swings.base["p50"],
        }
        for s in swings.swings("p50")
    ]
    market = market_swing(ds)
    if market is not None:
        bars.append(market)
    shares = {r["name"]: r["importance"] for r in drawn.rows} if drawn is not None else None
    if bars:
        report.charts.append(
            Chart(
                "tornado",
                "What moves P50 bookings: one at a time, and share of the variance",
                plots.tornado(bars, base, currency=currency, shares=shares),
                _tornado_caption(swings, market, drawn, base, currency),
            )
        )
    else:
        report.notes.append(
            "No tornado: every assumption in the scenario is a single number (give low/base/high "
            "to see what moves the result)."
        )
    return {"bars": bars, "drawn": drawn, "swings": swings, "base": base}


def _tornado_caption(swings, market, drawn, base, currency) -> str:
    text = (
        f"Left: each uncertain assumption at its low and its high value in every cell, everything else as "
        f"in the scenario ({swings.trials:,} trials per run on the same random numbers), drawn from the "
        f"headline P50 of {exact_money(base, currency)}: each run's change from its own base run is "
        "added to it."
    )
    if market is not None:
        text += (
            " The market factor (hatched, *) cannot be set by a rerun: its bars are the P50 of the "
            f"trials whose market draw was near its P10 and its P90 (about {market['trials']:,} trials each)."
        )
    if drawn is not None and drawn.rows:
        text += (
            " Right: each assumption's share of the variance of annual bookings explained by the drawn "
            f"assumptions (R² {drawn.r_squared:.2f}). The two answer different questions: a swing moves one "
            "assumption across its whole range at once, in every cell together; the share weighs how much "
            "each assumption actually varies from trial to trial. A rate drawn independently in many cells "
            "averages out across them, and the market factor moves every cell together, so an assumption "
            "can be the biggest lever (left) and still explain little of the spread (right)."
        )
    return text


def summary_sentences(report, sens, fun, year, confidence, stages) -> dict:
    """The first page's words: what drives the risk (one sentence) and what to do.

    Parameters
    ----------
    report : Report
    sens : dict
        From the sensitivity step: ``bars`` (tornado bars), ``drawn``, ``base``.
    fun : FunnelResult or None
    year : numpy.ndarray
        Per-trial annual bookings.
    confidence : float
        The confidence the plan is judged at (the scenario's ``[optimize] confidence``).
    stages : tuple of str
        The first stage and the decision stage, as the scenario names them.

    Returns
    -------
    dict
        ``drivers`` and ``actions``: lists of sentences.
    """
    cur = report.headline["currency"]
    return {
        "drivers": _driver_sentences(sens, cur),
        "actions": _action_sentences(report.headline, fun, year, confidence, stages, cur),
    }


def _short(name: str) -> str:
    """An assumption's label without its parenthesis, to sit inside a sentence."""
    label = assumption_label(name)
    return label.split(" (", 1)[0] if label.endswith(")") else label


def _driver_sentences(sens, cur) -> list:
    drawn, bars = sens["drawn"], sens["bars"]
    if not bars and (drawn is None or not drawn.rows):
        return ["Every assumption is a single number: the spread is deal-level luck only."]
    parts = []
    if drawn is not None and drawn.rows:
        top = drawn.rows[0]
        parts.append(
            f"Most of the spread of annual bookings comes from the {_short(top['name'])} "
            f"({percent(top['importance'], 0)} of the variance the drawn assumptions explain)"
        )
    levers = [b for b in bars if b["name"] != "market_factor"]  # the market is not the plan's to set
    if levers:
        lever = max(levers, key=lambda b: abs(b["high"] - b["low"]))
        parts.append(
            f"of the plan's own assumptions the biggest lever is the {_short(lever['name'])}: from its low to "
            f"its high it moves P50 from {money(lever['low'], cur)} to {money(lever['high'], cur)}"
        )
    return ["; ".join(parts) + "."] if parts else []


def _action_sentences(h, fun, year, confidence, stages, cur) -> list:
    first, decision = stages
    target = h["target"]
    if target is None:
        return ["The scenario has no target: give one to see the chance of hitting it and what it takes."]
    q_label = f"P{round(100 * (1 - confidence))}"
    q = float(np.quantile(year, 1 - confidence))
    q_text, t_text = money_pair(q, target, cur)
    if q >= target:
        out = [
            f"The plan hits {t_text} with at least {percent(confidence, 0)} confidence: its {q_label} is "
            f"{q_text}, {money(q - target, cur)} above the target."
        ]
    else:
        out = [
            f"At {percent(confidence, 0)} confidence the plan books {q_text} ({q_label}), "
            f"{money(target - q, cur)} short of the {t_text} target."
        ]
        if fun is not None and fun.to_decision > 0:
            # At the margin a booked dollar needs retire_multiple dollars into the decision stage, and
            # each of those 1 / to_decision dollars of first-stage creation (the funnel's arithmetic).
            extra = (target - q) * fun.retire_multiple / fun.to_decision
            out.append(
                f"On the funnel's arithmetic that is about {money(extra, cur)} more {first} creation "
                f"(or a higher {decision} win rate); `simcore optimize` finds the cheapest mix by source and quarter."
            )
    if fun is not None:
        gap = fun.stage1_created_needed - fun.planned_stage1
        needed, planned = money_pair(fun.stage1_created_needed, fun.planned_stage1, cur)
        out.append(
            f"On the plan's base values the target needs {needed} of {first} creation "
            f"({money(fun.weekly_stage1_needed, cur)} a week); the plan has {planned}, "
            + (f"a gap of {money(gap, cur)}." if gap > 0 else f"{money(-gap, cur)} more than it needs.")
        )
        if gap <= 0 and q < target:
            out.append(
                "The spreadsheet's arithmetic and the simulation disagree: the funnel section shows "
                "where the simulated plan loses the difference (deals still open at the end, pushes)."
            )
    return out


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
    head = headline(ds)
    name = plots.plan_title(ds)
    tables = [headline_table(head)] + dataset_tables(ds) + chart_data_tables(ds) + metrics_tables(ds)
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
    first, decision = stage_names(ds)
    about = {
        "scenario": ds.attrs["scenario"],
        "scenario_file": ds.attrs.get("scenario_file", ""),
        "scenario_hash": ds.attrs["scenario_hash"],
        "variant": ds.attrs.get("variant", ""),
        "overrides": ds.attrs.get("overrides", "{}"),
        "seed": int(ds.attrs["seed"]),
        "trials": int(ds.sizes["trial"]),
        "period": ds.attrs["period"],
        "start": ds.attrs.get("start", ""),
        "first_stage": first,
        "decision_stage": decision,
        "simcore_version": ds.attrs.get("simcore_version", __version__),
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    return Report(title=f"{name} bookings plan", headline=head, tables=tables, charts=charts, about=about)
