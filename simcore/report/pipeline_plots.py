"""Pipeline charts: creation into a stage against what the plan needs, the bank by forecast category.

Re-exported by :mod:`simcore.report.plots`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from simcore.errors import SimcoreError
from simcore.format import money
from simcore.report.chart_kit import (
    AHEAD,
    BAND_INNER,
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
    LABEL_BOX,
    MAX_LABELLED,
    MEDIAN,
    SHORT,
    TARGET,
    _by_category,
    _currency,
    _per_trial_period,
    _period_ticks,
    _period_word,
    _range_whiskers,
    level_line,
    money_axis,
    new_figure,
    plain_text,
    plan_title,
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
                bbox=LABEL_BOX,
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
        bbox=LABEL_BOX,
    )
    _need_lines(ax, needed_arr, len(periods), target_label, currency)
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


def _need_lines(ax, needed, n_periods, label, currency) -> None:
    """The plan's need: its total as a line and, given per period, its cumulative steps."""
    total = float(needed.sum())
    if needed.size == n_periods and n_periods > 1:
        ax.step(
            np.arange(n_periods + 1) - 0.5,
            np.concatenate([np.cumsum(needed), [total]]),
            where="post",
            color=TARGET,
            linestyle=":",
            label=f"{label} (cumulative)",
        )
    level_line(ax, total, f"{label} {money(total, currency)}", "needed")


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
            bbox=LABEL_BOX,
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
