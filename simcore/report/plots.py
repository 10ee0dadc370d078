"""Charts a CFO can read: bookings fan, distribution, tornado, creation waterfall, bank, scenarios.

Every function takes data (a Dataset from :func:`simcore.engine.simulate`, or plain numbers) and returns a
:class:`matplotlib.figure.Figure`; nothing touches pyplot's global state. Each figure gets its own
Agg canvas, so the module works headless (CI, servers, ``simcore report``) without changing the
process-wide backend, and a notebook that uses ``%matplotlib inline`` still shows the figures.

Conventions
-----------
- Money axes are formatted as finance reads them (``$1.2M``) in the scenario's currency.
- Quantiles are across trials (numpy's default linear interpolation), as in ``ds.simcore.summary()``.
- Where bars are stacked or chained (bank by category, creation waterfall) they show *expected*
  values (means across trials): means add up, medians do not. Ranges (P10-P90) are drawn as
  whiskers on the totals.
- Artists carry labels (``"Median"``, ``"P10-P90"``, ``"Target"``...) so tests and notebooks can
  find what was drawn.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from simcore.errors import SimcoreError
from simcore.format import exact_money, money, money_pair, percent
from simcore.report.chart_kit import (
    AHEAD,
    BAND_INNER,
    BAND_OUTER,
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
    LABEL_BOX,
    MAX_LABELLED,
    MEDIAN,
    QUANTILE_COLOURS,
    SHORT,
    TARGET,
    _currency,
    _per_trial_period,
    _period_ticks,
    _period_word,
    _target,
    level_line,
    money_axis,
    new_figure,
    plain_text,
    plan_title,
    png_bytes,
    save_png,
)
from simcore.report.labels import assumption_label
from simcore.report.pipeline_plots import bank_by_category, creation_waterfall

# The charts and their helpers, wherever they live (chart_kit, pipeline_plots): one place to import.
__all__ = [
    "AHEAD",
    "BAND_INNER",
    "BAND_OUTER",
    "CATEGORY_COLOURS",
    "CATEGORY_LABELS",
    "MEDIAN",
    "QUANTILE_COLOURS",
    "SHORT",
    "TARGET",
    "assumption_label",
    "bank_by_category",
    "bookings_distribution",
    "creation_waterfall",
    "fan_chart",
    "money_axis",
    "new_figure",
    "plain_text",
    "plan_title",
    "png_bytes",
    "save_png",
    "scenario_comparison",
    "tornado",
]

# --------------------------------------------------------------------------------------------------
# Bookings


def fan_chart(ds, cumulative: bool = True, target=None) -> Figure:
    """Bookings by period as a fan: P10-P90 and P25-P75 bands around the median.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.
    cumulative : bool, default True
        Plot bookings to date at each period's end (the way a target is tracked) rather than each
        period's own bookings.
    target : float, optional
        Annual bookings target in dollars; defaults to the scenario's ``target``. Drawn on the
        cumulative chart only (an annual target is not a per-period figure). Per-period targets
        (``period_target`` in the Dataset) are drawn on both, cumulated on the cumulative chart.

    Returns
    -------
    matplotlib.figure.Figure
        Lines labelled ``"Median"``, ``"Target"``, ``"Period targets"``; bands ``"P10-P90"``,
        ``"P25-P75"``.

    Examples
    --------
    >>> fig = fan_chart(ds)                       # doctest: +SKIP
    >>> fig.savefig("fan.png")                    # doctest: +SKIP
    """
    values = _per_trial_period(ds, "bookings_amount")
    if cumulative:
        values = np.cumsum(values, axis=1)
    periods = [str(p) for p in ds.period.values]
    x = np.arange(len(periods))
    p10, p25, p50, p75, p90 = np.quantile(values, [0.10, 0.25, 0.50, 0.75, 0.90], axis=0)
    currency = _currency(ds)
    fig = new_figure()
    ax = fig.add_subplot()
    ax.fill_between(x, p10, p90, color=BAND_OUTER, label="P10-P90")
    ax.fill_between(x, p25, p75, color=BAND_INNER, label="P25-P75")
    ax.plot(x, p50, color=MEDIAN, marker="o", linewidth=2.2, label="Median")
    labelled = range(len(x)) if len(x) <= MAX_LABELLED else [len(x) - 1]
    for xi, yi in zip(x[labelled], p50[labelled]):
        ax.annotate(
            money(yi, currency),
            (xi, yi),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=9,
            color=MEDIAN,
            bbox=LABEL_BOX,
        )
    if "period_target" in ds:
        planned = np.asarray(ds["period_target"].values, dtype=float)
        planned = np.cumsum(planned) if cumulative else planned
        ax.plot(x, planned, color=TARGET, marker="D", linestyle=":", label="Period targets")
    target = _target(ds, target)
    name = plan_title(ds)
    word = _period_word(ds)
    if cumulative:
        if target is not None:
            level_line(ax, target, f"Target {exact_money(target, currency)}", "target")
        # The P10 with the digits that tell it from the target drawn beside it.
        p10_text = (
            money_pair(p10[-1], target, currency)[0] if target is not None else money(p10[-1], currency)
        )
        title = (
            f"{name} bookings to date by {word}: median {money(p50[-1], currency)} by {periods[-1]} "
            f"(P10 {p10_text}, P90 {money(p90[-1], currency)})"
        )
    else:
        title = f"{name} bookings per {word}: median and P10-P90 range"
    ax.set_title(title, fontsize=11)
    _period_ticks(ax, x, periods)
    ax.set_xlabel(f"End of {word}" if cumulative else word.capitalize())
    ax.set_ylabel(f"{'Bookings to date' if cumulative else 'Bookings in the ' + word} ({currency})")
    money_axis(ax.yaxis, currency)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    return plain_text(fig)


def bookings_distribution(ds, target=None, bins: int = 50) -> Figure:
    """Histogram and CDF of bookings over the whole horizon, with the target and P(hit).

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.
    target : float, optional
        Bookings target in dollars; defaults to the scenario's ``target``.
    bins : int
        Histogram bins.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the histogram (left) and the empirical CDF (right, line labelled ``"CDF"``), each
        with vertical lines ``"Target"`` and ``"P10"``/``"P50"``/``"P90"``. The title states P(hit),
        e.g. ``"FY2026 bookings: 78% chance of hitting $8.65M"``.
    """
    year = np.asarray(ds.simcore.year_bookings().values, dtype=float)
    currency = _currency(ds)
    target = _target(ds, target)
    quantiles = dict(zip(("P10", "P50", "P90"), np.quantile(year, [0.10, 0.50, 0.90])))
    name = plan_title(ds)
    if target is not None:
        p_hit = float((year >= target).mean())
        title = f"{name} bookings: {p_hit:.0%} chance of hitting {exact_money(target, currency)}"
    else:
        title = f"{name} bookings: median {money(quantiles['P50'], currency)}"
    fig = new_figure(11.0, 4.8)
    fig.suptitle(title, fontsize=12)
    hist_ax, cdf_ax = fig.subplots(1, 2)
    hist_ax.hist(year, bins=bins, color=BAND_INNER, edgecolor="white", label="Trials")
    sorted_year = np.sort(year)
    cdf_ax.step(sorted_year, np.arange(1, len(year) + 1) / len(year), where="post", color=MEDIAN, label="CDF")
    for ax in (hist_ax, cdf_ax):
        for key, value in quantiles.items():
            ax.axvline(
                value,
                color=MEDIAN,
                linestyle=":",
                linewidth=1,
                label=f"{key} {money(value, currency)}",
                gid=key,
            )
        if target is not None:
            ax.axvline(
                target,
                color=TARGET,
                linestyle="--",
                linewidth=1.8,
                label=f"Target {exact_money(target, currency)}",
                gid="target",
            )
        money_axis(ax.xaxis, currency)
        ax.set_xlabel(f"Bookings over the plan ({currency})")
        ax.grid(alpha=0.3)
    hist_ax.set_ylabel("Trials")
    hist_ax.set_title(f"Distribution of {len(year):,} simulated years", fontsize=10)
    cdf_ax.set_ylabel("Chance bookings are at most this")
    cdf_ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:.0%}"))
    cdf_ax.set_ylim(0, 1)
    if target is not None:
        cdf_ax.set_title(f"P(bookings >= target) = {percent(p_hit)}", fontsize=10)
    else:
        cdf_ax.set_title("Cumulative distribution", fontsize=10)
    # Below the charts: inside, five entries cover the histogram's bars.
    fig.legend(*hist_ax.get_legend_handles_labels(), loc="outside lower center", ncol=5, fontsize=9)
    return plain_text(fig)


# --------------------------------------------------------------------------------------------------
# Sensitivity


def tornado(
    swings,
    base: float,
    metric: str = "P50 annual bookings",
    title: str | None = None,
    currency: str = "USD",
    top: int = 12,
    shares=None,
) -> Figure:
    """Tornado chart: how far each assumption moves a metric between its low and high value.

    Parameters
    ----------
    swings : sequence
        One entry per assumption: ``(name, value_at_low, value_at_high)`` tuples or mappings with
        keys ``name``, ``low``, ``high`` (metric values in the currency when the assumption is at
        its low and at its high setting) and optionally ``estimated`` (True: drawn hatched, for a
        swing read from the draws rather than rerun).
    base : float
        The metric at the base setting: the bars' common origin.
    metric : str
        What the values are, for the axis label and default title.
    title : str, optional
        Defaults to ``"What moves {metric} most"``.
    currency : str
        For the axis formatting.
    top : int
        Show the ``top`` widest swings (widest at the top).
    shares : mapping, optional
        Assumption name -> its share of the variance of the drawn assumptions (a fraction); when
        given, a second panel beside the tornado shows it for the same assumptions, so the two
        views are read together.

    Returns
    -------
    matplotlib.figure.Figure
        Bar containers labelled ``"Assumption at its low"`` / ``"... high"`` (and ``"Share of
        variance"`` on the second panel), bars ordered widest first from the top; the y tick
        labels are the assumptions in the planners' words (:func:`assumption_label`).
    """
    rows = _tornado_rows(swings)
    if not rows:
        raise SimcoreError("tornado: no assumptions to show")
    rows.sort(key=lambda r: abs(r["high"] - r["low"]), reverse=True)
    rows = rows[:top][::-1]  # barh draws bottom-up: widest last so it sits on top
    lows = np.array([r["low"] for r in rows]) - base
    highs = np.array([r["high"] for r in rows]) - base
    y = np.arange(len(rows))
    fig = new_figure(11.0 if shares is not None else 10.0, max(3.4, 1.8 + 0.5 * len(rows)))
    if shares is not None:
        ax, share_ax = fig.subplots(1, 2, sharey=True, width_ratios=[3, 1])
    else:
        ax, share_ax = fig.add_subplot(), None
    for values, colour, label in (
        (lows, SHORT, "Assumption at its low"),
        (highs, AHEAD, "Assumption at its high"),
    ):
        bars = ax.barh(y, values, left=base, color=colour, alpha=0.85, label=label)
        for bar, row in zip(bars, rows):
            if row["estimated"]:  # read from the draws, not rerun: drawn hatched
                bar.set_hatch("//")
    for yi, lo, hi in zip(y, lows, highs):
        for value in (lo, hi):
            ax.annotate(
                money(base + value, currency),
                (base + value, yi),
                textcoords="offset points",
                xytext=(4 if value >= 0 else -4, 0),
                ha="left" if value >= 0 else "right",
                va="center",
                fontsize=9,
                bbox=LABEL_BOX,
            )
    ax.margins(x=0.3)  # room for the value labels at the bar ends
    ax.axvline(base, color="black", linewidth=1)
    ax.set_yticks(y, [r["label"] for r in rows])
    money_axis(ax.xaxis, currency)
    ax.set_xlabel(f"{metric} ({currency}), from a base of {money(base, currency)}")
    ax.grid(axis="x", alpha=0.3)
    if share_ax is not None:
        _share_panel(share_ax, y, [shares.get(r["name"]) for r in rows])
    ax.set_title(title or f"What moves {metric} most (assumption at its low / high value)", fontsize=11)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=9)
    return plain_text(fig)


def _tornado_rows(swings) -> list:
    rows = []
    for item in swings:
        if isinstance(item, dict):
            name, low, high = item["name"], item["low"], item["high"]
            estimated = bool(item.get("estimated", False))
        else:
            name, low, high = item
            estimated = False
        label = assumption_label(name)
        if estimated:  # the parenthesis is in the caption; the star says "read from the draws"
            label = label.split(" (", 1)[0] + " *"
        rows.append(
            {"name": name, "label": label, "low": float(low), "high": float(high), "estimated": estimated}
        )
    return rows


def _share_panel(ax, y, shares) -> None:
    """Each assumption's share of the variance, beside its tornado bar ("-" where not drawn)."""
    values = np.array([np.nan if s is None else float(s) for s in shares])
    ax.barh(y, np.nan_to_num(values), color=BAND_INNER, label="Share of variance")
    for yi, v in zip(y, values):
        ax.annotate(
            "-" if np.isnan(v) else percent(v, 0 if v >= 0.1 else 1),
            (0 if np.isnan(v) else v, yi),
            textcoords="offset points",
            xytext=(4, 0),
            va="center",
            fontsize=9,
            bbox=LABEL_BOX,
        )
    ax.set_xlim(0, max(0.2, float(np.nanmax(values)) * 1.35) if np.isfinite(values).any() else 1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0%}"))
    ax.set_xlabel("share of the variance\nof the drawn assumptions")
    ax.tick_params(axis="y", left=False)
    ax.grid(axis="x", alpha=0.3)


# --------------------------------------------------------------------------------------------------
# Pipeline


# --------------------------------------------------------------------------------------------------
# Scenarios


def _annual(values) -> np.ndarray:
    if hasattr(values, "simcore") and hasattr(values, "data_vars"):
        return np.asarray(values.simcore.year_bookings().values, dtype=float)
    return np.asarray(values, dtype=float).ravel()


def scenario_comparison(results, target=None, currency: str = "USD", title: str | None = None) -> Figure:
    """Side-by-side P10 / P50 / P90 of annual bookings for several scenarios or variants.

    Parameters
    ----------
    results : mapping
        Scenario name -> a simulated Dataset or the per-trial annual bookings (dollars). Order is kept.
    target : float, optional
        Bookings target in dollars, drawn as a line; each scenario's P(hit) is written under its name.
    currency : str
        For the axis formatting.
    title : str, optional
        Defaults to the P50 range across the scenarios.

    Returns
    -------
    matplotlib.figure.Figure
        Bar containers labelled ``"P10"``, ``"P50"``, ``"P90"`` (one bar per scenario each) and a
        line ``"Target"``.
    """
    if not results:
        raise SimcoreError("scenario_comparison: no scenarios to compare")
    names = [str(n) for n in results]
    annual = [_annual(v) for v in results.values()]
    q = np.array([np.quantile(a, [0.10, 0.50, 0.90]) for a in annual])  # (scenario, 3)
    x = np.arange(len(names))
    width = 0.26
    fig = new_figure(max(7.0, 2.2 * len(names) + 3), 5.0)
    ax = fig.add_subplot()
    for j, key in enumerate(("P10", "P50", "P90")):
        bars = ax.bar(x + (j - 1) * width, q[:, j], width, color=QUANTILE_COLOURS[key], label=key)
        for bar, value in zip(bars, q[:, j]):
            ax.annotate(
                money(value, currency),
                (bar.get_x() + bar.get_width() / 2, value),
                textcoords="offset points",
                xytext=(0, 2),
                ha="center",
                fontsize=8,
                bbox=LABEL_BOX,
            )
    ticks = names
    if target is not None:
        target = float(target)
        level_line(ax, target, f"Target {exact_money(target, currency)}", "target")
        ticks = [f"{n}\nP(hit) {percent(float((a >= target).mean()), 0)}" for n, a in zip(names, annual)]
    ax.set_xticks(x, ticks)
    money_axis(ax.yaxis, currency)
    ax.set_ylabel(f"Annual bookings ({currency})")
    lo, hi = int(np.argmin(q[:, 1])), int(np.argmax(q[:, 1]))
    default = (
        (
            f"Bookings by scenario: P50 from {money(q[lo, 1], currency)} ({names[lo]}) to "
            f"{money(q[hi, 1], currency)} ({names[hi]})"
        )
        if len(names) > 1
        else f"Bookings, {names[0]}: P50 {money(q[0, 1], currency)}"
    )
    ax.set_title(title or default, fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left")
    return plain_text(fig)
