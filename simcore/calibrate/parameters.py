"""Fitting each part of the model from :class:`~simcore.calibrate.events.Events`: stage rates and
dwells, the decision, push delays, deal sizes, creation. Each function returns a list of
evidence rows (dicts), one per fitted value per cell; :mod:`simcore.calibrate.calibrate` turns
them into a scenario.

An evidence row: ``cell`` (label or ``"*"`` for the whole scenario), ``stage``, ``parameter``
(the kernel's names: ``advance[Stage 1]``, ``win``, ``dwell_mean[Stage 2]``...), ``estimate``,
``low`` and ``high`` (the 90% interval), ``deals``, ``events``, ``method`` and ``note``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, special

from simcore.calibrate import events as ev
from simcore.calibrate.fit import (
    FAMILIES,
    Z90,
    aic,
    beta_interval,
    fit_counts,
    fit_dwell,
    fit_whale,
    pool_rates,
    shrink_normal,
)

FAMILY_SAMPLE = 5_000
LOSSES = (ev.OUT_LOST_COMPETITION, ev.OUT_LOST_NO_DECISION, ev.OUT_LOST_OTHER)
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.float64)


def recency_weight(end_day, half_life):
    """Weight of an event ``end_day`` days before the as-of date (<= 0): halves every ``half_life`` days."""
    if half_life is None:
        return np.ones_like(np.asarray(end_day, dtype=float))
    return np.power(0.5, -np.minimum(np.asarray(end_day, dtype=float), 0.0) / half_life)


def _row(cell, stage, parameter, estimate, low, high, deals, events, method, note=""):
    return {
        "cell": cell, "stage": stage, "parameter": parameter, "estimate": float(estimate),
        "low": float(low), "high": float(high), "deals": float(deals), "events": float(events),
        "method": method, "note": note,
    }  # fmt: skip


def hierarchical_rate(x, n, cell_values, dims):
    """Partial pooling of a rate: cells toward their dimension values' levels, those toward the scenario's.

    ``cell_values[c]`` is the tuple of dimension values of cell c. The prior mean of a cell adds
    its dimension values' pooled effects on the log-odds scale (main effects); the cell's own
    data then move it as far as its count justifies. Returns posterior ``(a, b)`` per cell.
    """
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    top = (x.sum() + 0.5) / (n.sum() + 1.0)
    logit_prior = np.full(len(x), special.logit(top))
    strength = np.full(len(x), n.sum())
    for d in range(len(dims)):
        values = sorted({cv[d] for cv in cell_values})
        if len(values) < 2:
            continue
        xv = np.array([x[[cv[d] == v for cv in cell_values]].sum() for v in values])
        nv = np.array([n[[cv[d] == v for cv in cell_values]].sum() for v in values])
        a, b, _ = pool_rates(xv, nv)
        effect = dict(zip(values, special.logit(a / (a + b)) - special.logit(top)))
        logit_prior += np.array([effect[cv[d]] for cv in cell_values])
        strength = np.minimum(strength, np.array([nv[values.index(cv[d])] for cv in cell_values]))
    a, b, _ = pool_rates(x, n, prior_mean=special.expit(logit_prior), max_strength=float(np.min(strength)))
    return a, b


def rate_rows(parameter, stage, x, n, labels, cell_values, dims, what):
    """Evidence rows of one rate per cell, pooled (:func:`hierarchical_rate`)."""
    a, b = hierarchical_rate(x, n, cell_values, dims)
    lo, hi = beta_interval(a, b)
    return [
        _row(
            labels[c],
            stage,
            parameter,
            a[c] / (a[c] + b[c]),
            lo[c],
            hi[c],
            n[c],
            x[c],
            "beta-binomial",
            f"{x[c]:.0f} of {n[c]:.0f} {what}; strength {a[c] + b[c]:.0f}",
        )  # fmt: skip
        for c in range(len(labels))
    ]


def dwell_rows(spells, parameter, stage, labels, half_life, family=None):
    """Censored-likelihood dwell fits per cell, one family for the stage (best AIC on the stage's
    spells of all cells together), log mean and log cv shrunk across cells.

    Returns ``(rows, family, aic_by_family)``.
    """
    n_cells = len(labels)
    groups = [spells[spells["cell"] == c] for c in range(n_cells)]
    data = [
        (
            g["duration"].to_numpy(),
            g["outcome"].to_numpy() != ev.OUT_CENSORED,
            recency_weight(g["end"].to_numpy(), half_life),
        )
        for g in groups
    ]
    everything = [np.concatenate([d[i] for d in data]) for i in range(3)]
    if len(everything[0]) > FAMILY_SAMPLE:
        # AIC differences grow with the number of stays: a systematic sample of 5,000 tells
        # apart families whose fits differ by 0.01 per stay, where the choice starts to matter.
        step = math.ceil(len(everything[0]) / FAMILY_SAMPLE)
        everything = [x[::step] for x in everything]
    totals = {f: aic(fit_dwell(f, *everything)) for f in ([family] if family else FAMILIES)}
    best = min(totals, key=totals.get)
    chosen = [fit_dwell(best, *d) if d[1].any() else None for d in data]
    est = np.array([r["log_mean"] if r else math.nan for r in chosen])
    se = np.array([r["se_log_mean"] if r else math.nan for r in chosen])
    mean, sd, _, _ = shrink_normal(est, se)
    cv_est = np.array([r["log_cv"] if r else math.nan for r in chosen])
    cv_se = np.array([r["se_log_cv"] if r else math.nan for r in chosen])
    cv, cv_sd, _, _ = (
        shrink_normal(cv_est, cv_se) if best != "exponential" else (np.zeros(n_cells),) * 2 + (0, 0)
    )
    rows = []
    for c in range(n_cells):
        n_ev = int(data[c][1].sum())
        n_all = len(data[c][0])
        note = f"{best} by AIC ({', '.join(f'{f} {v:.1f}' for f, v in sorted(totals.items(), key=lambda t: t[1]))}); {n_ev} ended, {n_all - n_ev} still open"
        rows.append(_row(labels[c], stage, f"{parameter}_mean" if parameter != "dwell" else f"dwell_mean[{stage}]",
                         math.exp(mean[c]), math.exp(mean[c] - Z90 * sd[c]), math.exp(mean[c] + Z90 * sd[c]),
                         n_all, n_ev, f"censored ML, {best}", note))  # fmt: skip
        rows.append(_row(labels[c], stage, f"{parameter}_cv" if parameter != "dwell" else f"dwell_cv[{stage}]",
                         math.exp(cv[c]), math.exp(cv[c] - Z90 * cv_sd[c]), math.exp(cv[c] + Z90 * cv_sd[c]),
                         n_all, n_ev, f"censored ML, {best}", note))  # fmt: skip
    return rows, best, totals


def growth_rows(spells, stage, labels):
    """Amount growth on advancing out of a stage: geometric mean per cell, shrunk on the log scale."""
    est, se, counts = [], [], []
    for c in range(len(labels)):
        g = spells.loc[(spells["cell"] == c) & (spells["outcome"] == ev.OUT_ADVANCE), "growth"].to_numpy()
        g = np.log(g[np.isfinite(g) & (g > 0)])
        counts.append(len(g))
        est.append(g.mean() if len(g) else math.nan)
        se.append(max(g.std(ddof=1) / math.sqrt(len(g)), 1e-6) if len(g) > 1 else math.nan)
    mean, sd, _, _ = shrink_normal(np.array(est), np.array(se))
    return [
        _row(
            labels[c],
            stage,
            f"growth[{stage}]",
            math.exp(mean[c]),
            math.exp(mean[c] - Z90 * sd[c]),
            math.exp(mean[c] + Z90 * sd[c]),
            counts[c],
            counts[c],
            "geometric mean, shrunk",
            f"amount after / before on {counts[c]} advances",
        )  # fmt: skip
        for c in range(len(labels))
        if np.isfinite(mean[c])
    ]


def loss_share_row(spells, stage, parameter):
    """Share of losses to competition among losses with a known reason, for the whole scenario."""
    lc = int((spells["outcome"] == ev.OUT_LOST_COMPETITION).sum())
    lnd = int((spells["outcome"] == ev.OUT_LOST_NO_DECISION).sum())
    other = int((spells["outcome"] == ev.OUT_LOST_OTHER).sum())
    if lc + lnd == 0:
        return _row("*", stage, parameter, 0.5, 0.0, 1.0, other, 0, "not fitted",
                    "no loss reasons in the export: 0.5, not fitted")  # fmt: skip
    lo, hi = beta_interval(lc + 0.5, lnd + 0.5)
    return _row("*", stage, parameter, lc / (lc + lnd), lo, hi, lc + lnd + other, lc + lnd, "share",
                f"{lc} to competition, {lnd} to no decision" + (f", {other} with another reason" if other else ""))  # fmt: skip


def win_decay_row(decisions, win_by_cell, labels):
    """Win-rate decay per push already taken: one-parameter maximum likelihood on later decisions."""
    later = decisions[decisions["pushes"] > 0]
    if len(later) < 30:
        return _row("*", "", "win_decay", 1.0, math.nan, math.nan, len(later), 0, "not fitted",
                    f"{len(later)} decisions after a push: too few to fit a decay; 1 (none), not fitted")  # fmt: skip
    won = (later["outcome"] == ev.OUT_WON).to_numpy()
    w0 = np.asarray(win_by_cell)[later["cell"].to_numpy()]
    n = later["pushes"].to_numpy()

    def nll(d):
        p = np.clip(w0 * d**n, 1e-9, 1 - 1e-9)
        return -float(np.sum(np.where(won, np.log(p), np.log1p(-p))))

    res = optimize.minimize_scalar(nll, bounds=(0.01, 1.5), method="bounded")
    d, h = float(res.x), 1e-4
    info = (nll(d + h) - 2 * nll(d) + nll(d - h)) / h**2
    se = 1.0 / math.sqrt(info) if info > 0 else math.nan
    d_fit = min(d, 1.0)
    return _row("*", "", "win_decay", d_fit, max(d - Z90 * se, 0.0), min(d + Z90 * se, 1.0), len(later), int(won.sum()),
                "maximum likelihood", f"{int(won.sum())} wins in {len(later)} decisions after a push")  # fmt: skip


def amount_rows(deals, labels, min_whale_deals=60):
    """Deal size at creation per cell: lognormal median and sigma (whale mixture where the tail says so),
    log median and log sigma shrunk across cells.
    """
    rows, whales = [], {}
    est, se, sig, sig_se, counts = [], [], [], [], []
    for c in range(len(labels)):
        a = deals.loc[(deals["cell"] == c), "amount0"].to_numpy()
        y = np.log(a[np.isfinite(a) & (a > 0)])
        counts.append(len(y))
        whale = fit_whale(y, min_whale_deals)
        if whale:
            whales[c] = whale
            mu, s = whale["mu"], whale["sigma"]
            n_base = len(y) * (1 - whale["p"])
        else:
            mu, s, n_base = (y.mean(), y.std(ddof=1), len(y)) if len(y) > 1 else (math.nan, math.nan, 0)
        est.append(mu)
        se.append(s / math.sqrt(n_base) if n_base > 1 else math.nan)
        sig.append(math.log(s) if s and s > 0 else math.nan)
        sig_se.append(1.0 / math.sqrt(2 * max(n_base - 1, 1)) if n_base > 1 else math.nan)
    mean, sd, _, _ = shrink_normal(np.array(est), np.array(se))
    ls, ls_sd, _, _ = shrink_normal(np.array(sig), np.array(sig_se))
    for c in range(len(labels)):
        method = "lognormal with whale mixture (EM, BIC)" if c in whales else "lognormal"
        rows.append(_row(labels[c], "", "median_amount", math.exp(mean[c]), math.exp(mean[c] - Z90 * sd[c]),
                         math.exp(mean[c] + Z90 * sd[c]), counts[c], counts[c], method,
                         f"{counts[c]} deals with an amount at creation"))  # fmt: skip
        rows.append(_row(labels[c], "", "sigma", math.exp(ls[c]), math.exp(ls[c] - Z90 * ls_sd[c]),
                         math.exp(ls[c] + Z90 * ls_sd[c]), counts[c], counts[c], method, "spread of log amount"))  # fmt: skip
        w = whales.get(c)
        if w:
            n_wh = w["p"] * w["n"]
            lo, hi = beta_interval(n_wh + 0.5, w["n"] - n_wh + 0.5)
            rows.append(_row(labels[c], "", "whale_probability", w["p"], lo, hi, w["n"], n_wh, method,
                             f"about {n_wh:.0f} whales; BIC better by {w['delta_bic']:.0f}"))  # fmt: skip
            rows.append(_row(labels[c], "", "whale_factor", w["factor"], math.nan, math.nan, w["n"], n_wh, method,
                             "whale size / median"))  # fmt: skip
    return rows


def seasonality(created_days, as_of_date, window_start_day):
    """Monthly indices (Jan..Dec, mean 1 over a 365-day year) from creation dates; all 1 under a year of data."""
    span = -window_start_day
    if span < 365:
        return np.ones(12), f"{span:.0f} days of history: under a year, no seasonality fitted (all 1)"
    days = pd.Timestamp(as_of_date) + pd.to_timedelta(np.arange(math.floor(window_start_day), 0), unit="D")
    exposure = np.bincount(days.month.to_numpy() - 1, minlength=12).astype(float)
    created = pd.Timestamp(as_of_date) + pd.to_timedelta(np.asarray(created_days), unit="D")
    counts = np.bincount(created.month.to_numpy() - 1, minlength=12).astype(float)
    rate = np.where(exposure > 0, counts / np.maximum(exposure, 1), np.nan)
    rate = np.where(np.isfinite(rate), rate, np.nanmean(rate))
    index = rate * 365.0 / np.dot(_MONTH_DAYS, rate)
    return index, f"created per day by calendar month over {span / 365:.1f} years, {int(counts.sum())} deals"


def creation_rows(deals, labels, as_of_date, half_life):
    """Deals created per cell and year (seasonality out), Poisson or negative binomial by AIC."""
    start = float(np.floor(deals["created"].min()))
    season, season_note = seasonality(deals["created"].to_numpy(), as_of_date, start)
    day_index = pd.Timestamp(as_of_date) + pd.to_timedelta(np.arange(math.floor(start), 0), unit="D")
    s_day = season[day_index.month.to_numpy() - 1]
    w_day = recency_weight(np.arange(math.floor(start), 0) + 0.5, half_life)
    exposure = float(np.dot(w_day, s_day)) / 365.0  # seasonally weighted years
    n_weeks = int(-start // 7)
    week_of_day = (np.arange(len(s_day)) - (len(s_day) - n_weeks * 7)) // 7
    rows = []
    for c in range(len(labels)):
        t = deals.loc[deals["cell"] == c, "created"].to_numpy()
        n = float(recency_weight(t, half_life).sum())
        per_year = n / exposure
        weeks = np.floor((t - (start + (len(s_day) - n_weeks * 7))) / 7).astype(np.int64)
        weeks = weeks[weeks >= 0]
        counts = np.bincount(weeks, minlength=n_weeks)[:n_weeks]
        expected = (
            per_year
            / 365.0
            * np.bincount(week_of_day[week_of_day >= 0], weights=s_day[week_of_day >= 0], minlength=n_weeks)[
                :n_weeks
            ]
        )
        process, size, delta = fit_counts(counts, expected) if n_weeks >= 8 else ("poisson", math.inf, 0.0)
        # Gamma posterior of a Poisson rate; a negative binomial inflates its variance by the dispersion.
        inflate = 1.0 + float(np.mean(expected)) / size if math.isfinite(size) else 1.0
        se = math.sqrt(max(n, 1.0) * inflate) / exposure
        rows.append(_row(labels[c], "", "creation_count", per_year, max(per_year - Z90 * se, 0.0), per_year + Z90 * se,
                         len(t), len(t), process, f"{len(t)} created over {-start / 365:.1f} years"))  # fmt: skip
        if process == "negative_binomial":
            rows.append(_row(labels[c], "", "dispersion", size, math.nan, math.nan, len(t), n_weeks, process,
                             f"weekly counts overdispersed: AIC better by {delta:.1f} than Poisson"))  # fmt: skip
    return rows, season, season_note
