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

import io
import re

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter

from simcore.errors import SimcoreError
from simcore.format import exact_money, money, money_pair, percent
from simcore.report.labels import assumption_label

# Colours chosen to stay distinguishable in greyscale print-outs and for red-green colour blindness.
BAND_OUTER = "#c6dbef"
BAND_INNER = "#6baed6"
MEDIAN = "#08306b"
TARGET = "#d94801"
CATEGORY_COLOURS = {"pipeline": "#c6dbef", "best_case": "#6baed6", "commit": "#08519c"}
CATEGORY_LABELS = {"pipeline": "Pipeline", "best_case": "Best case", "commit": "Commit"}
QUANTILE_COLOURS = {"P10": "#9ecae1", "P50": "#3182bd", "P90": "#08519c"}
SHORT = "#d94801"
AHEAD = "#238b45"


def new_figure(width: float = 9.0, height: float = 5.0) -> Figure:
    """A Figure with its own Agg canvas (headless-safe, independent of pyplot's backend)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plain_text(fig: Figure) -> Figure:
    """Turn off mathtext on every text of ``fig``: two dollar amounts in one title are not maths."""
    for text in fig.findobj(Text):
        text.set_parse_math(False)
    return fig


def png_bytes(fig: Figure, dpi: int = 120) -> bytes:
    """The figure rendered as PNG bytes (for embedding in HTML or writing atomically)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_png(fig: Figure, path, dpi: int = 120) -> None:
    """Write the figure as a PNG file; the file appears only once it is complete."""
    from simcore.io import write_atomic

    data = png_bytes(fig, dpi)

    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(data)

    write_atomic(path, write)


def money_axis(axis, currency: str = "USD") -> None:
    """Format ``axis`` (``ax.yaxis`` or ``ax.xaxis``) in dollars: ``$1.2M``, ``$850k``."""
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: money(x, currency)))


def plan_title(ds) -> str:
    """The plan's name as a title starts: ``FY2026``, ``FY2026 (Conservative)``."""
    name = str(ds.attrs.get("scenario", "Plan"))
    variant = ds.attrs.get("variant") or ""
    name = name.removesuffix(f" [{variant}]") if variant else name  # a variant's scenario name ends so
    if re.fullmatch(r"fy\d{2,4}", name, flags=re.IGNORECASE):
        name = name.upper()
    return f"{name} ({variant})" if variant else name


def _currency(ds) -> str:
    return str(ds.attrs.get("currency", "USD"))


def _target(ds, target):
    if target is not None:
        return float(target)
    value = ds.attrs.get("target")
    return None if value is None else float(value)


def _per_trial_period(ds, name: str) -> np.ndarray:
    """Variable ``name`` summed over every dim but trial and period: array (trial, period)."""
    da = ds[name]
    return da.sum([d for d in da.dims if d not in ("trial", "period")]).transpose("trial", "period").values


def _by_category(da, categories) -> np.ndarray:
    """Mean across trials of ``da`` summed over everything but category (and period if present)."""
    keep = [d for d in ("period", "category") if d in da.dims]
    mean = da.sum([d for d in da.dims if d not in keep + ["trial"]]).mean("trial")
    return mean.transpose(*keep).sel(category=categories).values


# Beyond this many points, value labels on every point overlap: only the last one is labelled.
MAX_LABELLED = 8


def _period_ticks(ax, x, labels, extra=()) -> None:
    """Period labels on the x axis, slanted when there are many and thinned to at most 13 (weeks);
    ``extra`` ``(x, label)`` ticks (a total, a gap) are always kept.
    """
    x, labels = list(x), [str(v) for v in labels]
    step = max(1, -(-len(labels) // 13))
    ticks, texts = x[::step], labels[::step]
    ax.set_xticks(ticks + [t for t, _ in extra], texts + [label for _, label in extra])
    if len(labels) + len(extra) > 6:
        for text in ax.get_xticklabels():
            text.set_rotation(45)
            text.set_horizontalalignment("right")


def _period_word(ds) -> str:
    return str(ds.attrs.get("period", "period"))


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
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
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
            ax.axhline(
                target,
                color=TARGET,
                linestyle="--",
                linewidth=1.5,
                label=f"Target {exact_money(target, currency)}",
                gid="target",
            )
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
        )
    ax.set_xlim(0, max(0.2, float(np.nanmax(values)) * 1.35) if np.isfinite(values).any() else 1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0%}"))
    ax.set_xlabel("share of the variance\nof the drawn assumptions")
    ax.tick_params(axis="y", left=False)
    ax.grid(axis="x", alpha=0.3)


# --------------------------------------------------------------------------------------------------
# Pipeline


def _range_whiskers(ax, x, lo, hi, capsize, label):
    """Whiskers from ``lo`` to ``hi`` (P10 to P90). Drawn around the range's midpoint, not the bar's
    top: a skewed total's mean (the bar) can lie outside its own P10-P90.
    """
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    ax.errorbar(
        x,
        (lo + hi) / 2,
        yerr=(hi - lo) / 2,
        fmt="none",
        ecolor="#555555",
        capsize=capsize,
        label=label,
        gid=label,
    )


def creation_waterfall(ds, needed, stage=None, target_label: str = "Plan needs") -> Figure:
    """Expected creation into ``stage`` (default the decision stage) by period, chained, against need.

    Each period's bar starts where the previous one ended, so the last one reaches the expected
    total; the total is compared with what the plan needs (for the decision stage the deterministic funnel's
    ``stage4_created_needed``) and the gap is drawn as its own bar.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.
    needed : float or sequence of float
        Dollars the plan needs created over the horizon, or per period (then the cumulative need
        is drawn as a step line and the total is its sum).
    stage : str or int, optional
        Stage name or index; defaults to the decision stage.
    target_label : str
        Label of the need line.

    Returns
    -------
    matplotlib.figure.Figure
        Bar containers labelled ``"Created"`` (one bar per period, heights = mean creation in the
        period), ``"Total"``, ``"Gap"``; a line labelled ``target_label``.
    """
    stage = ds.attrs.get("decision_stage", -1) if stage is None else stage
    created = ds.simcore.stage_created(stage).transpose("trial", "period").values
    stage_name = str(ds.stage.values[stage]) if isinstance(stage, int) else str(stage)
    periods = [str(p) for p in ds.period.values]
    mean = created.mean(axis=0)
    total = created.sum(axis=1)
    needed_arr = np.atleast_1d(np.asarray(needed, dtype=float))
    if needed_arr.size not in (1, len(periods)):
        raise SimcoreError(
            f"creation_waterfall: needed has {needed_arr.size} values; expected 1 or one per "
            f"period ({len(periods)})"
        )
    need_total = float(needed_arr.sum())
    currency = _currency(ds)
    starts = np.concatenate([[0.0], np.cumsum(mean)[:-1]])
    x = np.arange(len(periods))
    fig = new_figure()
    ax = fig.add_subplot()
    ax.bar(x, mean, bottom=starts, color=BAND_INNER, label="Created")
    if len(x) <= MAX_LABELLED:
        for xi, s, m in zip(x, starts, mean):
            ax.annotate(
                money(m, currency),
                (xi, s + m),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=9,
            )
    total_x = len(periods)
    expected_total = float(mean.sum())
    lo, hi = np.quantile(total, [0.10, 0.90])
    ax.bar([total_x], [expected_total], color=MEDIAN, label="Total")
    _range_whiskers(ax, [total_x], [lo], [hi], capsize=6, label="Total P10-P90")
    gap = need_total - expected_total
    gap_x = total_x + 1
    ax.bar([gap_x], [gap], bottom=[expected_total], color=SHORT if gap > 0 else AHEAD, label="Gap")
    ax.annotate(
        ("short " if gap > 0 else "ahead ") + money(abs(gap), currency),
        (gap_x, max(expected_total, need_total)),
        textcoords="offset points",
        xytext=(0, 3),
        ha="center",
        fontsize=9,
    )
    if needed_arr.size == len(periods) and len(periods) > 1:
        steps = np.cumsum(needed_arr)
        ax.step(
            np.arange(len(periods) + 1) - 0.5,
            np.concatenate([steps, [need_total]]),
            where="post",
            color=TARGET,
            linestyle=":",
            label=f"{target_label} (cumulative)",
        )
    ax.axhline(
        need_total,
        color=TARGET,
        linestyle="--",
        linewidth=1.5,
        label=f"{target_label} {money(need_total, currency)}",
        gid="needed",
    )
    _period_ticks(
        ax,
        x,
        periods,
        extra=[(total_x, "Year\n(P10-P90)" if len(periods) <= 6 else "Year (P10-P90)"), (gap_x, "Gap")],
    )
    money_axis(ax.yaxis, currency)
    ax.set_ylabel(f"{stage_name} creation ({currency}, expected)")
    ax.set_title(
        f"{plan_title(ds)} {stage_name} creation: {money(expected_total, currency)} expected vs "
        f"{money(need_total, currency)} the plan needs",
        fontsize=11,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left")
    return plain_text(fig)


def bank_by_category(ds, measure: str = "amount") -> Figure:
    """Open pipeline (the bank) at the start and at each period's end, stacked by forecast category.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.
    measure : {"amount", "count"}
        Dollars or deals.

    Returns
    -------
    matplotlib.figure.Figure
        One bar container per category labelled ``"Pipeline"``, ``"Best case"``, ``"Commit"`` with
        the expected (mean) bank at ``"Start"`` and at each period's end (ticks: ``"Start"`` and the
        period labels); whiskers on the total show P10-P90.
    """
    if measure not in ("amount", "count"):
        raise SimcoreError(f"bank_by_category: measure must be 'amount' or 'count', got {measure!r}")
    categories = [str(c) for c in ds.category.values]
    start = _by_category(ds[f"starting_bank_{measure}"], categories)  # (category,)
    ends = _by_category(ds[f"bank_{measure}"], categories)  # (period, category)
    stacked = np.vstack([start[None, :], ends])  # (1 + period, category)
    totals = np.concatenate(
        [
            ds[f"starting_bank_{measure}"]
            .sum([d for d in ds[f"starting_bank_{measure}"].dims if d != "trial"])
            .values[:, None],
            _per_trial_period(ds, f"bank_{measure}"),
        ],
        axis=1,
    )
    labels = ["Start"] + [str(p) for p in ds.period.values]
    x = np.arange(len(labels))
    currency = _currency(ds)
    fig = new_figure()
    ax = fig.add_subplot()
    bottom = np.zeros(len(labels))
    for j, cat in enumerate(categories):
        ax.bar(
            x,
            stacked[:, j],
            bottom=bottom,
            color=CATEGORY_COLOURS.get(cat),
            edgecolor="white",
            label=CATEGORY_LABELS.get(cat, cat),
        )
        bottom += stacked[:, j]
    lo, hi = np.quantile(totals, [0.10, 0.90], axis=0)
    _range_whiskers(ax, x, lo, hi, capsize=5, label="Total P10-P90")
    fmt = (lambda v: money(v, currency)) if measure == "amount" else (lambda v: f"{v:,.0f}")
    tops = np.maximum(bottom, hi)
    labelled = range(len(x)) if len(x) <= MAX_LABELLED else [0, len(x) - 1]
    for i in labelled:
        ax.annotate(
            fmt(bottom[i]),
            (x[i], tops[i]),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            fontsize=9,
        )
    _period_ticks(ax, x, labels)
    ax.set_xlabel(f"at the start of the plan and at the end of each {_period_word(ds)}")
    if measure == "amount":
        money_axis(ax.yaxis, currency)
        ax.set_ylabel(f"Open pipeline ({currency}, expected)")
        what = f"{money(bottom[0], currency)} at the start, {money(bottom[-1], currency)} at the end"
    else:
        ax.set_ylabel("Open deals (expected)")
        what = f"{bottom[0]:,.0f} deals at the start, {bottom[-1]:,.0f} at the end"
    ax.set_title(f"{plan_title(ds)} open pipeline by forecast category: {what}", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left")
    return plain_text(fig)


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
            )
    ticks = names
    if target is not None:
        target = float(target)
        ax.axhline(
            target,
            color=TARGET,
            linestyle="--",
            linewidth=1.5,
            label=f"Target {exact_money(target, currency)}",
            gid="target",
        )
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
