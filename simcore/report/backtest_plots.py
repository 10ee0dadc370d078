"""Charts of a backtest (:class:`simcore.forecast.backtest.Backtest`): its forecasts against what was
booked over time, and the histogram of its PITs. In the house's style (:mod:`simcore.report.chart_kit`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from simcore.report.chart_kit import (
    AHEAD,
    BAND_INNER,
    BAND_OUTER,
    MEDIAN,
    TARGET,
    _period_ticks,
    money_axis,
    new_figure,
    plain_text,
)

_BASELINE_STYLE = {
    "stage_weighted": ("Stage-weighted pipeline", "v", "#6a51a3"),
    "category_weighted": ("Category-weighted", "s", "#807dba"),
    "funnel": ("Spreadsheet funnel", "D", "#969696"),
}


def forecasts_chart(result) -> Figure:
    """Each as-of date's P10-P90 range and P50 against the bookings actually won in its horizon,
    with the baselines' point forecasts beside them.

    Examples
    --------
    >>> from simcore.forecast.backtest import Backtest, summarise
    >>> row = {"as_of": "2025-01-01", "actual": 5.0, "p10": 3.0, "p50": 4.5, "p90": 6.0, "pit": 0.6,
    ...        "inside": True, "crps": 0.4, "baselines": {"funnel": {"forecast": 4.0, "crps": 1.0,
    ...        "error": 1.0, "side": "above"}}}
    >>> bt = Backtest("quarter", 100, 0, "", "USD", [row], summarise([row]))
    >>> len(forecasts_chart(bt).axes)
    1
    """
    rows = result.rows
    x = np.arange(len(rows))
    labels = [str(r["as_of"]) for r in rows]
    fig = new_figure(9.0, 5.0)
    ax = fig.add_subplot()
    p10, p50, p90 = (np.array([r[k] for r in rows]) for k in ("p10", "p50", "p90"))
    actual = np.array([r["actual"] for r in rows])
    ax.fill_between(x, p10, p90, color=BAND_OUTER, label="Forecast P10-P90", gid="band", step=None)
    ax.vlines(x, p10, p90, color=BAND_INNER, linewidth=6, alpha=0.8)
    ax.plot(x, p50, "_", color=MEDIAN, markersize=18, markeredgewidth=2.5, label="Forecast P50", gid="p50")
    inside = np.array([r["inside"] for r in rows], dtype=bool)
    ax.plot(x[inside], actual[inside], "o", color=AHEAD, markersize=8, label="Booked (inside P10-P90)")
    ax.plot(x[~inside], actual[~inside], "o", color=TARGET, markersize=8, label="Booked (outside)")
    for name, (label, marker, colour) in _BASELINE_STYLE.items():
        values = [r["baselines"][name]["forecast"] for r in rows if name in r["baselines"]]
        if len(values) == len(rows):
            ax.plot(x + 0.18, values, marker, color=colour, markersize=6, linestyle="none", label=label)
    money_axis(ax.yaxis, result.currency)
    _period_ticks(ax, x, labels)
    ax.set_xlabel(f"As-of date (each forecasts the next {result.horizon})")
    ax.set_ylabel("Bookings")
    share = result.overall.get("coverage")
    title = f"Backtest: forecasts against bookings, {len(rows)} as-of dates"
    if share is not None and np.isfinite(share):
        title += f"; {share:.0%} inside P10-P90 (80% expected)"
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return plain_text(fig)


def pit_chart(result, bins: int = 10) -> Figure:
    """The histogram of the PITs: flat when the forecasts' ranges are right; U-shaped when they are too
    narrow, humped when too wide, sloped when biased.

    Examples
    --------
    >>> from simcore.forecast.backtest import Backtest, summarise
    >>> rows = [{"as_of": "x", "actual": 1.0, "p10": 0, "p50": 1, "p90": 2, "pit": p, "inside": True,
    ...          "crps": 0.1, "baselines": {}} for p in (0.1, 0.5, 0.9)]
    >>> len(pit_chart(Backtest("quarter", 100, 0, "", "USD", rows, summarise(rows))).axes)
    1
    """
    pits = np.array([r["pit"] for r in result.rows], dtype=float)
    fig = new_figure(6.5, 4.0)
    ax = fig.add_subplot()
    ax.hist(pits, bins=bins, range=(0.0, 1.0), color=BAND_INNER, edgecolor="white", gid="pit")
    expected = len(pits) / bins
    ax.axhline(expected, color=TARGET, linestyle="--", linewidth=1.5, label="Uniform (calibrated)")
    p = result.overall.get("pit_p_value")
    ax.set_title(
        "PIT of the actuals in their forecasts"
        + (f" (KS p = {p:.2f})" if p is not None and np.isfinite(p) else "")
    )
    ax.set_xlabel("Where the actual fell in its forecast (0 = below all of it, 1 = above)")
    ax.set_ylabel("As-of dates")
    ax.legend(loc="best", fontsize=8, frameon=False)
    return plain_text(fig)
