"""What every chart of the report shares: figures with their own canvas, colours, money axes,
period ticks, the plan's title. Split from :mod:`simcore.report.plots`, which re-exports the public
names.
"""

from __future__ import annotations

import io
import re

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter

from simcore.format import money

# Colours chosen to stay distinguishable in greyscale print-outs and for red-green colour blindness.
BAND_OUTER = "#c6dbef"
BAND_INNER = "#6baed6"
MEDIAN = "#08306b"
TARGET = "#d94801"
CATEGORY_COLOURS = {"pipeline": "#c6dbef", "best_case": "#6baed6", "commit": "#08519c"}
CATEGORY_LABELS = {"pipeline": "Pipeline", "best_case": "Best case", "commit": "Commit"}
QUANTILE_COLOURS = {"P10": "#9ecae1", "P50": "#3182bd", "P90": "#08519c"}
SHORT = "#d94801"
# Value labels sit on a white box, so a line (a target, a whisker) behind them never hides a digit.
LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
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


def level_line(ax, value: float, label: str, gid: str) -> None:
    """The dashed horizontal line of a level a chart is read against (the target, what is needed)."""
    ax.axhline(value, color=TARGET, linestyle="--", linewidth=1.5, label=label, gid=gid)


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
