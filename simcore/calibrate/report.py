"""The calibration report: what the history says, beside the fitted model and, optionally, a plan.

``simcore calibrate ... --report DIR`` writes matplotlib PNGs and one ``index.html``:

- per stage, for each cell, the fitted dwell survival curve over the Kaplan-Meier curve of the
  stays (``scipy.stats.ecdf`` on ``CensoredData``: open stays are censored);
- win and stage advance rates per cell with their 90% intervals, beside the plan's
  (``--compare plan.toml``), with one sentence per difference a planner can act on;
- deal sizes at creation on a log axis with the fitted lognormal (and whale overlay);
- deals created by month, per cell.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from simcore.analysis.funnel_rates import stage_advance
from simcore.calibrate import events as ev
from simcore.calibrate.fit import frozen
from simcore.format import money, percent
from simcore.scenario.values import base


def _grid(n):
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def _value(evidence, cell, parameter):
    rows = evidence[(evidence["cell"] == cell) & (evidence["parameter"] == parameter)]
    return None if rows.empty else rows.iloc[0]


def dwell_figure(result, stage, kind, path):
    """Kaplan-Meier survival of the stays in ``stage`` per cell, with the fitted curve over it."""
    spells = result.events.spells
    s = [x.name for x in result.scenario.stages].index(stage)
    sp = spells[(spells["stage"] == s) & (spells["kind"] == kind)]
    labels = result.scenario.cell_labels
    family = result.diagnostics["dwell_family"].get(
        stage if kind == ev.KIND_DWELL else "(push delay)", "lognormal"
    )
    names = (
        (f"dwell_mean[{stage}]", f"dwell_cv[{stage}]")
        if kind == ev.KIND_DWELL
        else ("push_delay_mean", "push_delay_cv")
    )
    fig, axes = _grid(len(labels))
    for c, ax in enumerate(axes[: len(labels)]):
        d = sp[sp["cell"] == c]
        ended = d["outcome"] != ev.OUT_CENSORED
        if ended.sum() >= 2:
            data = stats.CensoredData(
                uncensored=d["duration"][ended].to_numpy(), right=d["duration"][~ended].to_numpy()
            )
            km = stats.ecdf(data).sf
            ax.step(
                km.quantiles,
                km.probabilities,
                where="post",
                color="0.3",
                lw=1,
                label="history (Kaplan-Meier)",
            )
            mean, cv = (
                _value(result.evidence, labels[c], names[0]),
                _value(result.evidence, labels[c], names[1]),
            )
            if mean is not None:
                x = np.linspace(0, float(np.quantile(d["duration"], 0.99)), 200)
                dist = frozen(
                    family, math.log(mean["estimate"]), math.log(cv["estimate"]) if cv is not None else 0.0
                )
                ax.plot(x, dist.sf(x), color="C0", lw=1.5, label=f"fitted {family}")
        ax.set_title(f"{labels[c]} ({len(d)} stays)", fontsize=8)
        ax.set_xlabel("days", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=6)
    fig.suptitle(f"Time in {stage}" + (" (push delay)" if kind == ev.KIND_PUSH_DELAY else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plan_rate(plan, label, parameter):
    """The plan's base rate for a cell (None when the plan has no such cell or stage)."""
    if plan is None or label not in plan.cell_labels:
        return None
    p = plan.params[plan.cell_labels.index(label)]
    if parameter == "win":
        return base(p.decision.win)
    names = [s.name for s in plan.stages]
    stage = parameter[len("advance[") : -1]
    if stage not in names[:-1]:
        return None
    s = names.index(stage)
    if p.stages[s].advance is None and p.to_decision is None:
        return None
    # The rate in effect, as the kernel sets it (a cumulative conversion split over free stages).
    return stage_advance(p, len(names))[s]


def rates_figure(result, plan, path):
    """Each cell's fitted rates with 90% intervals, the plan's as crosses."""
    ev_ = result.evidence
    params = [p for p in ev_["parameter"].unique() if p.startswith("advance[") or p == "win"]
    fig, axes = _grid(len(params))
    sentences = []
    labels = result.scenario.cell_labels
    for ax, parameter in zip(axes, params):
        y = np.arange(len(labels))
        rows = [_value(ev_, lab, parameter) for lab in labels]
        est = np.array([r["estimate"] for r in rows])
        lo, hi = np.array([r["low"] for r in rows]), np.array([r["high"] for r in rows])
        ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", ms=3, color="C0", label="history (90%)")
        planned = [plan_rate(plan, lab, parameter) for lab in labels]
        for i, v in enumerate(planned):
            if v is None:
                continue
            ax.plot(v, i, "x", color="C3", label="plan" if i == 0 else None)
            if not lo[i] <= v <= hi[i]:
                where = "the decision" if parameter == "win" else parameter[len("advance[") : -1]
                sentences.append(
                    f"Your plan says {percent(v, 0)} at {where} for {labels[i]}; your history says "
                    f"{percent(est[i], 0)} ({percent(lo[i], 0)}-{percent(hi[i], 0)})."
                )
        ax.set_yticks(y, labels, fontsize=7)
        ax.set_title(parameter, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return sentences


def amounts_figure(result, path):
    """Deal sizes at creation per cell on a log axis, with the fitted lognormal density."""
    deals = result.events.deals
    labels = result.scenario.cell_labels
    fig, axes = _grid(len(labels))
    for c, ax in enumerate(axes[: len(labels)]):
        a = deals.loc[deals["cell"] == c, "amount0"].to_numpy()
        a = a[np.isfinite(a) & (a > 0)]
        if len(a) < 2:
            continue
        bins = np.logspace(np.log10(a.min()), np.log10(a.max()), 30)
        ax.hist(a, bins=bins, density=True, color="0.75")
        median, sigma = (
            _value(result.evidence, labels[c], "median_amount"),
            _value(result.evidence, labels[c], "sigma"),
        )
        x = np.logspace(np.log10(a.min()), np.log10(a.max()), 200)
        dens = stats.lognorm(sigma["estimate"], scale=median["estimate"]).pdf(x)
        whale = _value(result.evidence, labels[c], "whale_probability")
        if whale is not None:
            f = _value(result.evidence, labels[c], "whale_factor")["estimate"]
            p = whale["estimate"]
            dens = (1 - p) * dens + p * stats.lognorm(sigma["estimate"], scale=median["estimate"] * f).pdf(x)
        ax.plot(x, dens, color="C0")
        ax.set_xscale("log")
        ax.set_title(f"{labels[c]}: median {money(median['estimate'])}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def creation_figure(result, path):
    """Deals created per month and cell."""
    deals = result.events.deals
    as_of = pd.Timestamp(result.diagnostics["as_of"])
    month = (as_of + pd.to_timedelta(deals["created"], unit="D")).dt.to_period("M")
    table = pd.crosstab(month, deals["cell"])
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for c in table.columns:
        ax.plot(table.index.to_timestamp(), table[c], lw=1, label=result.scenario.cell_labels[c])
    ax.set_ylabel("deals created")
    ax.legend(fontsize=6, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(result, directory, plan=None) -> Path:
    """Write the report's PNGs and ``index.html`` into ``directory``; returns the page's path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    images = []
    for i, st in enumerate(result.scenario.stages):
        dwell_figure(result, st.name, ev.KIND_DWELL, out / f"dwell_{i + 1}.png")
        images.append((f"Time in {st.name}", f"dwell_{i + 1}.png"))
    if "(push delay)" in result.diagnostics["dwell_family"]:
        dwell_figure(result, result.scenario.stages[-1].name, ev.KIND_PUSH_DELAY, out / "push_delay.png")
        images.append(("Push delay", "push_delay.png"))
    sentences = rates_figure(result, plan, out / "rates.png")
    images.append(("Rates, with 90% intervals" + (" and the plan's" if plan else ""), "rates.png"))
    amounts_figure(result, out / "amounts.png")
    images.append(("Deal sizes at creation", "amounts.png"))
    creation_figure(result, out / "creation.png")
    images.append(("Deals created by month", "creation.png"))
    page = out / "index.html"
    page.write_text(_html(result, images, sentences), encoding="utf-8")
    return page


def _html(result, images, sentences):
    d = result.diagnostics
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Calibration report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td,th{padding:2px 8px;font-size:13px}</style>",
        "</head><body>",
        f"<h1>Calibration as of {html.escape(d['as_of'])}</h1>",
        f"<p>{d['deals']:,} opportunities, {d['open_deals']:,} open on that date. {html.escape(result.message)}.</p>",
    ]
    if sentences:
        parts.append("<h2>Where the plan and the history disagree</h2><ul>")
        parts += [f"<li>{html.escape(s)}</li>" for s in sentences]
        parts.append("</ul>")
    if d["warnings"]:
        parts.append(
            "<h2>Warnings</h2><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in d["warnings"]) + "</ul>"
        )
    for title, image in images:
        parts.append(f"<h2>{html.escape(title)}</h2><img src='{image}' style='max-width:100%'>")
    table = result.evidence[["cell", "stage", "parameter", "estimate", "low", "high", "deals", "method"]]
    parts.append(
        "<h2>Every fitted value</h2>" + table.to_html(index=False, float_format=lambda x: f"{x:.4g}")
    )
    parts.append("</body></html>")
    return "\n".join(parts)
