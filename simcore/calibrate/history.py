"""Synthetic CRM history: a company's opportunity export and stage history, simulated from a scenario.

One history is one trial of the scenario's model (``docs/model.md``): its uncertain assumptions
are drawn once, exactly as :func:`simcore.simulate` draws them for the same seed and trial, and
then every deal created between ``start`` and ``end`` lives its life (stages, dwells, advance or
loss, decision with win, loss or push) until ``end``, where whatever is still open stays open.
The two tables come out in the formats :mod:`simcore.calibrate.readers` takes, with Salesforce's
column names, so that calibrating a history recovers the scenario it came from.

Creation: the scenario's plan is taken as a rate per day (its average over the scenario's
horizon, seasonality removed) and repeated over the history's window with the scenario's
monthly seasonality, so a history may be longer or shorter than the plan. It is delivered as
:func:`simcore.simulate` delivers it: times the trial's ``creation.attainment`` (drawn once, as
the kernel draws trial ``t``'s, and kept for the whole window however many years it spans: one
company, one delivered share), and, with a ``[capacity]`` table, times each cell's share of its
plan that the plan year's capacity lets through.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simcore.calendar import as_date, month_of_day
from simcore.calibrate import _history_kernel as hk
from simcore.engine._jit import jit
from simcore.engine.compile import compile_scenario, count_tables, daily_plan
from simcore.engine.creation import kernel_creation_args
from simcore.engine.kernel import _draw_assumptions, _draw_attainment, assumption_tables
from simcore.engine.rng import normal_quantile, trial_key
from simcore.errors import SimcoreError
from simcore.scenario.amounts import expected_amount
from simcore.scenario.load import check_scenario

CLOSED_WON, CLOSED_LOST = "Closed Won", "Closed Lost"
_CATEGORY_LABEL = {"pipeline": "Pipeline", "best_case": "Best Case", "commit": "Commit"}
_LOSS_REASON = {hk.OUT_LOST_COMPETITION: "Competition", hk.OUT_LOST_NO_DECISION: "No Decision"}
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.float64)


def dimension_column(dimension: str) -> str:
    """The export column a dimension is written to: ``LeadSource`` for ``source`` (Salesforce's
    standard field), ``Product__c`` style custom fields for the others.
    """
    return "LeadSource" if dimension == "source" else f"{dimension[:1].upper()}{dimension[1:]}__c"


@dataclass
class History:
    """A simulated CRM history.

    Attributes
    ----------
    opportunities : pandas.DataFrame
        The opportunity export, one row per deal: ``Id, CreatedDate, StageName, Amount,
        CloseDate, IsClosed, IsWon, ForecastCategoryName, Loss_Reason__c`` and one column per
        dimension (:func:`dimension_column`).
    stage_history : pandas.DataFrame
        One row per change: ``OpportunityId, CreatedDate, StageName, Amount, CloseDate,
        PrevAmount, PrevCloseDate, ForecastCategory``.
    truth : pandas.DataFrame
        The assumptions in effect for this trial, by cell (rows) and parameter (columns), in
        the kernel's parameter names (``advance[Stage 1]``, ``win``, ``median_amount``...).
    start, end : datetime.date
        The window: deals are created from ``start`` and the history stops at ``end``.
    """

    opportunities: pd.DataFrame
    stage_history: pd.DataFrame
    truth: pd.DataFrame
    start: _dt.date
    end: _dt.date

    def write(self, directory) -> tuple:
        """Write ``opportunities.csv`` and ``stage_history.csv`` into ``directory``; returns the paths."""
        from pathlib import Path

        from simcore.io import write_atomic

        out = Path(directory)
        if out.exists() and not out.is_dir():
            # mkdir would raise FileExistsError: say what the path is for instead.
            raise SimcoreError(
                f"--out {directory}: exists and is not a folder; --out names the folder for "
                f"opportunities.csv and stage_history.csv"
            )
        out.mkdir(parents=True, exist_ok=True)
        paths = (out / "opportunities.csv", out / "stage_history.csv")
        for frame, path in zip((self.opportunities, self.stage_history), paths):
            write_atomic(path, lambda tmp, frame=frame: frame.to_csv(tmp, index=False))
        return paths


@jit
def _kernel_attainment(seed, trial, z, kind, p_a, p_b, p_c, row, tab, loading, key, out):
    # The kernel's own attainment draw of trial ``trial`` (no sampler's uniforms).
    no_u = np.empty((0, 1))
    _draw_attainment(trial_key(seed, trial), no_u, 0, 0, z, kind, p_a, p_b, p_c, row, tab, loading, key, out)


def delivered_share(model, seed: int, trial: int, z: float) -> np.ndarray:
    """Each cell's share of its planned creation delivered in trial ``trial``: its attainment.

    The attainment group's draw exactly as :func:`simcore.simulate` makes it for the trial
    (the same stream, market factor ``z`` and copula); 1 for a cell no declaration covers.

    Examples
    --------
    >>> import simcore
    >>> from simcore.engine.compile import compile_scenario
    >>> model = compile_scenario(simcore.load_scenario("scenarios/smb.toml"))
    >>> delivered_share(model, 1, 0, 0.0).tolist() == [1.0] * len(model.creation_rate)
    True
    """
    groups = np.asarray(model.attain_group, dtype=np.int64)
    if not (groups >= 0).any():
        return np.ones(len(groups))
    _, _, kind, a, b, c, row, tables, loading, key, _ = kernel_creation_args(model)
    out = np.empty(len(kind))
    _kernel_attainment(
        np.uint64(seed), int(trial), float(z), kind, a, b, c, row, tables.reshape(tables.size), loading,
        key, out,
    )  # fmt: skip
    return np.where(groups >= 0, out[np.maximum(groups, 0)], 1.0)


def capacity_share(scenario, model) -> np.ndarray:
    """Each cell's share of its plan year's creation that ``[capacity]`` lets through (1 without one)."""
    if model.capacity is None:
        return np.ones(len(scenario.cells))
    uncapped = creation_rate(scenario, scenario.start, scenario.horizon_days).sum(axis=1)
    capped = np.asarray(model.creation_rate).sum(axis=1)
    return np.where(uncapped > 0, np.minimum(capped / np.where(uncapped > 0, uncapped, 1.0), 1.0), 1.0)


@jit
def _kernel_draws(seed, trial, kind, p_a, p_b, p_c, row, tab, out):
    # The kernel's own per-trial draw (no sampler's uniforms: an empty ``trial_u``), so a
    # history cannot drift from ``simcore run`` when the kernel changes how it draws.
    no_u = np.empty((0, 1 + row.shape[0] * row.shape[1]))
    return _draw_assumptions(trial_key(seed, trial), no_u, 0, kind, p_a, p_b, p_c, row, tab, out)


def trial_draws(model, seed: int, trial: int) -> tuple:
    """Each cell's assumptions of one trial and its market factor, as the kernel draws them.

    The kernel's quantile tables (:func:`simcore.engine.kernel.assumption_tables`) and its
    own draw routine, so history trial ``t`` lives under the assumptions of
    :func:`simcore.simulate`'s trial ``t``, bit for bit.

    Parameters
    ----------
    model : Model
        From :func:`simcore.engine.compile.compile_scenario`.
    seed, trial : int

    Returns
    -------
    (numpy.ndarray, float)
        The assumptions, (cells, slots), and the market factor ``z``.

    Examples
    --------
    >>> import simcore
    >>> from simcore.engine.compile import compile_scenario
    >>> model = compile_scenario(simcore.load_scenario("scenarios/smb.toml"))
    >>> drawn, z = trial_draws(model, seed=1, trial=0)
    >>> drawn.shape == model.param_kind.shape, bool(np.isfinite(z))
    (True, True)
    """
    kind, a, b, c = model.kernel_params()
    row, tables = assumption_tables(kind, a, b, c)
    out = np.empty(row.shape)
    u = _kernel_draws(np.uint64(seed), int(trial), kind, a, b, c, row, tables.reshape(tables.size), out)
    return out, float(normal_quantile(u))


def drawn_assumptions(model, seed: int, trial: int) -> np.ndarray:
    """Each cell's assumptions of one trial, (cells, slots): what the kernel draws for it.

    :func:`trial_draws` without the market factor.

    Examples
    --------
    >>> import simcore
    >>> from simcore.engine.compile import compile_scenario
    >>> model = compile_scenario(simcore.load_scenario("scenarios/smb.toml"))
    >>> bool((drawn_assumptions(model, 1, 0) == trial_draws(model, 1, 0)[0]).all())
    True
    """
    return trial_draws(model, seed, trial)[0]


def _trial_parameters(model, drawn, z):
    """Per-cell rates in effect: free stages split geometrically, the market factor on the win."""
    k = model.n_stages
    # Slots by name (the Model's own list), not by the kernel's layout arithmetic.
    slot = {name: i for i, name in enumerate(model.param_names)}
    stages = [s.name for s in model.scenario.stages]
    adv = [slot[f"advance[{n}]"] for n in stages[:-1]]
    growth_s = [slot[f"growth[{n}]"] for n in stages[:-1]]
    dwell_s = [slot[f"dwell_mean[{n}]"] for n in stages]
    win_s, push_s, delay_s, decay_s = slot["win"], slot["push"], slot["push_delay_mean"], slot["win_decay"]
    conv_s, median_s, wp_s, wf_s = (
        slot["to_decision"],
        slot["median_amount"],
        slot["whale_probability"],
        slot["whale_factor"],
    )
    n_cells = drawn.shape[0]
    advance = np.zeros((n_cells, max(k - 1, 1)))
    for c in range(n_cells):
        free = [s for s in range(model.entry_stage[c], k - 1) if model.free_stage[c, s]]
        fixed = [s for s in range(model.entry_stage[c], k - 1) if not model.free_stage[c, s]]
        product = float(np.prod([drawn[c, adv[s]] for s in fixed])) if fixed else 1.0
        for s in range(k - 1):
            if model.free_stage[c, s]:
                ratio = drawn[c, conv_s] / product if product > 0 else 1.0
                a = min(max(ratio ** (1.0 / len(free)), 0.0), 1.0)
                drawn[c, adv[s]] = a
            advance[c, s] = min(max(drawn[c, adv[s]], 0.0), 1.0)
    win = np.clip(drawn[:, win_s], 0.0, 1.0)
    shift = (model.market_loading != 0.0) & (win > 0.0) & (win < 1.0)
    with np.errstate(divide="ignore"):
        logit = np.log(win) - np.log1p(-win)
    win = np.where(shift, 1.0 / (1.0 + np.exp(-(logit + model.market_loading * z))), win)
    drawn[:, win_s] = win  # the truth is the rate in effect, after the market factor
    decision = np.column_stack(
        [
            win,
            np.minimum(np.clip(drawn[:, push_s], 0.0, 1.0), 1.0 - win),
            drawn[:, decay_s],
            np.maximum(drawn[:, delay_s], 1e-9),
            model.decision_lost_comp_share,
        ]
    )
    growth = np.ones((n_cells, max(k - 1, 1)))
    for s in range(k - 1):
        growth[:, s] = drawn[:, growth_s[s]]
    dwell_mean = np.maximum(drawn[:, dwell_s], 1e-9)
    whale = np.column_stack([drawn[:, wp_s], drawn[:, wf_s], model.whale_factor_max])
    return advance, growth, decision, dwell_mean, whale, drawn[:, median_s].copy()


def creation_rate(scenario, start: _dt.date, n_days: int) -> np.ndarray:
    """Expected deals created per cell and week over ``n_days`` from ``start``.

    The scenario's plan per day, with its seasonality taken out and averaged over the
    scenario's horizon, then put back by the calendar month of each day of the window.
    """
    model_days = scenario.horizon_days
    months = month_of_day(scenario.start, model_days)
    window_months = month_of_day(start, n_days)
    rate = np.zeros((len(scenario.cells), -(-n_days // 7)))
    for c, p in enumerate(scenario.params):
        daily = daily_plan(scenario, c)
        if p.creation.kind == "dollars":
            daily = daily / expected_amount(p.amount)
        season = np.asarray(p.creation.seasonality, dtype=np.float64)
        season = season * 365.0 / np.dot(_MONTH_DAYS, season)
        on = season[months] > 0
        base = float(np.mean(daily[on] / season[months][on])) if on.any() else 0.0
        rate[c] = np.add.reduceat(base * season[window_months], np.arange(0, n_days, 7))
    return rate


def simulate_history(scenario, start, end, seed: int = 0, trial: int = 0) -> History:
    """Simulate a company's CRM history from ``scenario``: deals created from ``start``, lived until ``end``.

    Parameters
    ----------
    scenario : Scenario
        From :func:`simcore.load_scenario`; its starting bank is not used (the history starts
        empty and builds its own pipeline).
    start, end : datetime.date or str
        The window (``end`` exclusive). At most 20 years.
    seed : int
        Random seed, as for :func:`simcore.simulate`.
    trial : int
        Which trial's assumptions the company lives under (one history is one trial).

    Returns
    -------
    History
        The opportunity export, the stage history and the true assumptions.

    Examples
    --------
    >>> import simcore
    >>> from simcore.calibrate import simulate_history
    >>> sc = simcore.load_scenario("scenarios/smb.toml")
    >>> h = simulate_history(sc, "2024-01-01", "2026-01-01", seed=1)
    >>> bool(h.opportunities["IsClosed"].any() and (~h.opportunities["IsClosed"]).any())
    True
    """
    sc = check_scenario(scenario)
    start, end = as_date(start, "history: start"), as_date(end, "history: end")
    n_days = (end - start).days
    if not 1 <= n_days <= 20 * 366:
        raise SimcoreError(f"history: end {end} must be after start {start}, by at most 20 years")
    seed = int(seed)
    model = compile_scenario(sc)
    drawn, z = trial_draws(model, seed, trial)
    advance, growth, decision, dwell_mean, whale, median = _trial_parameters(model, drawn, z)
    # Delivered as simulate delivers the plan: at the trial's attainment, under the capacity.
    share = delivered_share(model, seed, trial, z) * capacity_share(sc, model)
    rate = creation_rate(sc, start, n_days) * share[:, None]
    cdf, offsets = count_tables(rate, model.process, model.dispersion)
    counts = np.zeros(rate.shape, dtype=np.int64)
    hk.creation_counts(seed, trial, cdf, offsets, rate.shape[0], rate.shape[1], counts)
    n_deals = int(counts.sum())
    max_events = n_deals * (model.n_stages + int(model.max_pushes.max(initial=0)) + 2)
    opp = np.zeros((n_deals, 7))
    status = np.zeros(n_deals, dtype=np.int64)
    ev = np.zeros((max_events, 5))
    ev_kind = np.zeros(max_events, dtype=np.int64)
    week_start = np.arange(rate.shape[1], dtype=np.float64) * 7.0
    week_length = np.minimum(7.0, n_days - week_start)
    lc_share = np.ascontiguousarray(model.lost_comp_share[:, : max(model.n_stages - 1, 1)])
    n_d, n_e = hk.record_history(
        seed, trial, counts, week_start, week_length, float(n_days), model.entry_stage,
        model.dwell_kind, np.ascontiguousarray(dwell_mean), model.dwell_cv, advance, lc_share, growth,
        decision, model.push_kind, model.push_cv, model.max_pushes, model.amount_kind, model.amount_sigma,
        median, model.empirical, model.empirical_offset, whale, model.amount_floor, model.amount_cap,
        opp, status, ev, ev_kind,
    )  # fmt: skip
    truth = pd.DataFrame(drawn, index=pd.Index(sc.cell_labels, name="cell"), columns=model.param_names)
    truth = truth.loc[:, ~truth.columns.duplicated()]
    opportunities = _export_table(sc, start, opp[:n_d], status[:n_d])
    stage_history = _history_table(sc, start, ev[:n_e], ev_kind[:n_e])
    return History(opportunities, stage_history, truth, start, end)


def _timestamps(start, days):
    # Whole seconds: what a CRM stores.
    return pd.Timestamp(start) + pd.to_timedelta(np.round(np.asarray(days) * 86400.0), unit="s")


def _dates(start, days):
    days = np.asarray(days)
    out = pd.Timestamp(start) + pd.to_timedelta(np.floor(np.where(np.isfinite(days), days, 0)), unit="D")
    return pd.Series(out).where(np.isfinite(days)).dt.strftime("%Y-%m-%d").fillna("")


def _ids(n, prefix="006"):
    # Salesforce-looking 18-character ids, in creation order.
    return pd.Series(np.arange(n)).map(lambda i: f"{prefix}{i:015d}")


def _stage_labels(sc, stage_index, status):
    names = np.array([s.name for s in sc.stages] + [CLOSED_WON, CLOSED_LOST], dtype=object)
    idx = np.where(
        status == hk.OUT_OPEN, stage_index, np.where(status == hk.OUT_WON, len(sc.stages), len(sc.stages) + 1)
    )
    return names[idx.astype(np.int64)]


def _category_labels(sc, stage_index, status):
    labels = np.array([_CATEGORY_LABEL[s.category] for s in sc.stages] + ["Closed", "Omitted"], dtype=object)
    idx = np.where(
        status == hk.OUT_OPEN, stage_index, np.where(status == hk.OUT_WON, len(sc.stages), len(sc.stages) + 1)
    )
    return labels[idx.astype(np.int64)]


def _export_table(sc, start, opp, status):
    cell = opp[:, 0].astype(np.int64)
    order = np.lexsort((cell, opp[:, 1]))  # by creation time, as an export sorted by CreatedDate
    opp, status, cell = opp[order], status[order], cell[order]
    closed = status != hk.OUT_OPEN
    frame = {
        "Id": _ids(len(opp)),
        "CreatedDate": pd.Series(_timestamps(start, opp[:, 1])).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "StageName": _stage_labels(sc, opp[:, 4], status),
        "Amount": np.round(opp[:, 2], 2),
        "CloseDate": _dates(start, np.where(closed, opp[:, 3], opp[:, 5])).to_numpy(),
        "IsClosed": closed,
        "IsWon": status == hk.OUT_WON,
        "ForecastCategoryName": _category_labels(sc, opp[:, 4], status),
        "Loss_Reason__c": pd.Series(status).map(_LOSS_REASON).fillna("").to_numpy(),
    }
    for i, dim in enumerate(sc.dimensions):
        values = np.array([c[i] for c in sc.cells], dtype=object)
        frame[dimension_column(dim)] = values[cell]
    return pd.DataFrame(frame)


def _history_table(sc, start, ev, kind):
    deal = ev[:, 0].astype(np.int64)
    # Renumber deals as the export does (by creation time), then sort rows by deal and time.
    created = ev[kind == hk.EV_CREATED]
    order = np.lexsort((created[:, 0], created[:, 1]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[created[order, 0].astype(np.int64)] = np.arange(len(order))
    deal = rank[deal]
    rows = np.lexsort((np.arange(len(ev)), deal))
    ev, kind, deal = ev[rows], kind[rows], deal[rows]
    status = np.select(
        [kind == hk.EV_WON, kind == hk.EV_LOST_COMPETITION, kind == hk.EV_LOST_NO_DECISION],
        [hk.OUT_WON, hk.OUT_LOST_COMPETITION, hk.OUT_LOST_NO_DECISION],
        hk.OUT_OPEN,
    )
    stage = ev[:, 2].astype(np.int64)
    first = np.r_[True, deal[1:] != deal[:-1]]
    amount = np.round(ev[:, 3], 2)
    close = _dates(start, ev[:, 4])
    prev_amount = pd.Series(np.r_[np.nan, amount[:-1]]).where(~first)
    prev_close = pd.Series(np.r_[[""], close.to_numpy()[:-1]]).where(~first, "")
    return pd.DataFrame(
        {
            "OpportunityId": _ids(int(deal.max(initial=-1)) + 1).to_numpy()[deal],
            "CreatedDate": pd.Series(_timestamps(start, ev[:, 1])).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "StageName": _stage_labels(sc, stage, status),
            "Amount": amount,
            "CloseDate": close.to_numpy(),
            "PrevAmount": prev_amount.to_numpy(),
            "PrevCloseDate": prev_close.to_numpy(),
            "ForecastCategory": _category_labels(sc, stage, status),
        }
    )
