"""From CRM tables to the model's events: deals, stage spells, decisions and push delays, as of a date.

Only what was known at ``as_of`` is used: deals created before it, changes dated before it.
A stage a deal is still in at ``as_of`` is a right-censored spell (it has lasted at least
this long), never a loss and never dropped.

A *spell* is one stay of one deal in one stage: from the change that put it there to the
change that took it out (or ``as_of``). Its outcome (``OUT_*``) is what ended it. At the
decision stage the first spell ends in the first decision; a push (the close date moved
later while the deal stays in the decision stage) starts a *push-delay* spell that ends in
the next decision. A move to a later open stage counts as an advance out of the stage left
(skipped stages are not visited); a move back to an earlier stage ends the spell without an
outcome (censored at that time), since the model has no way back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simcore.calibrate.stages import LOST, WON, StageMap

OUT_CENSORED, OUT_ADVANCE, OUT_LOST_COMPETITION, OUT_LOST_NO_DECISION, OUT_LOST_OTHER, OUT_WON, OUT_PUSH = (
    range(7)
)
KIND_DWELL, KIND_PUSH_DELAY = 0, 1
_LOSS_OUT = {"competition": OUT_LOST_COMPETITION, "no_decision": OUT_LOST_NO_DECISION}
_DAY = 86400.0


@dataclass
class Events:
    """The model's view of a CRM history as of a date. Times are days relative to ``as_of`` (negative).

    Attributes
    ----------
    deals : pandas.DataFrame
        One row per opportunity created before ``as_of``: ``cell``, ``created``, ``status`` at
        ``as_of`` (open, won, lost), ``closed``, ``stage`` (index, while open), ``amount0``
        (at creation), ``amount`` (latest), ``close_date`` (days), ``has_history``, the
        dimensions, ``opportunity_id``.
    spells : pandas.DataFrame
        ``cell, stage, kind (KIND_*), start, duration, outcome (OUT_*), pushes (taken before
        this decision), growth (amount ratio on advance, NaN otherwise), end``.
    with_history : bool
        Whether a stage history was given (without it: one open stage, created to closed).
    """

    deals: pd.DataFrame
    spells: pd.DataFrame
    with_history: bool


def _days(values, as_of):
    return (values - as_of).dt.total_seconds().to_numpy() / _DAY


def _source(frame):
    """The file and stage column a reader's table came from (for problem messages)."""
    return frame.attrs.get("file", "(table)"), frame.attrs.get("columns", {}).get("stage", "stage")


def build_events(opps, history, stage_map: StageMap, as_of, dimensions, cells):
    """Deals and spells as of ``as_of`` (see :class:`Events`).

    ``cells`` maps a tuple of dimension values to the cell index. Returns ``(events, warnings)``.
    """
    as_of = pd.Timestamp(as_of)
    warnings = []
    opps = opps[opps["created"] < as_of].reset_index(drop=True)
    key = list(zip(*(opps[d] for d in dimensions))) if dimensions else [()] * len(opps)
    deals = pd.DataFrame(
        {
            "opportunity_id": opps["opportunity_id"],
            "cell": np.array([cells[k] for k in key], dtype=np.int64),
            "created": _days(opps["created"], as_of),
            "amount": opps["amount"].to_numpy(),
            "close_date": _days(opps["close_date"], as_of),
        }
    )
    for d in dimensions:
        deals[d] = opps[d].to_numpy()
    closed_before = (opps["status"] != "open") & (opps["closed"] < as_of)
    deals["status"] = np.where(closed_before, opps["status"], "open")
    deals["closed"] = np.where(closed_before, _days(opps["closed"], as_of), np.nan)
    deals["loss_reason"] = opps["loss_reason"].to_numpy()
    deals["amount0"] = deals["amount"]
    deals["has_history"] = False
    if history is None:
        deals["stage"] = 0
        spells = _export_spells(deals)
        return Events(deals, spells, False), warnings
    file, column = _source(opps)
    export_stage = stage_map.codes(opps["stage"], file, opps["line"], column)
    deals["stage"] = np.where(export_stage >= 0, export_stage, 0).astype(np.int64)
    spells = _history_spells(deals, history, stage_map, as_of, warnings)
    missing = ~deals["has_history"]
    if missing.any():
        warnings.append(
            f"{int(missing.sum())} opportunities have no stage history: used for deal sizes and "
            f"creation, not for stage rates or dwells"
        )
    return Events(deals, spells, True), warnings


def _export_spells(deals):
    """Without a stage history: one spell per deal, created to closed (or to ``as_of``)."""
    closed = deals["status"] != "open"
    end = np.where(closed, deals["closed"], 0.0)
    outcome = np.where(
        deals["status"] == "won",
        OUT_WON,
        np.where(closed, deals["loss_reason"].map(_LOSS_OUT).fillna(OUT_LOST_OTHER), OUT_CENSORED),
    ).astype(np.int64)
    ok = np.isfinite(end)
    return pd.DataFrame(
        {
            "cell": deals["cell"][ok].to_numpy(),
            "stage": 0,
            "kind": KIND_DWELL,
            "start": deals["created"][ok].to_numpy(),
            "duration": np.maximum(end[ok] - deals["created"][ok].to_numpy(), 1e-3),
            "outcome": outcome[ok],
            "pushes": 0,
            "growth": np.nan,
            "end": end[ok],
        }
    )


def _history_spells(deals, history, stage_map, as_of, warnings):
    history_file, column = _source(history)
    index = pd.Series(np.arange(len(deals)), index=deals["opportunity_id"])
    h = history[(history["changed"] < as_of) & history["opportunity_id"].isin(index.index)]
    unknown = ~history["opportunity_id"].isin(index.index) & (history["changed"] < as_of)
    if unknown.any():
        warnings.append(
            f"{history_file}: {int(unknown.sum())} stage-history rows belong to no opportunity of the "
            f"export created before the as-of date: left out"
        )
    deal = index[h["opportunity_id"]].to_numpy()
    code = stage_map.codes(h["stage"], history_file, h["line"], column)
    t = _days(h["changed"], as_of)
    close = _days(h["close_date"], as_of)
    amount = h["amount"].to_numpy()
    decision = len(stage_map.names) - 1
    first = np.r_[True, deal[1:] != deal[:-1]]
    prev_code = np.r_[-9, code[:-1]]
    prev_close = np.r_[np.nan, close[:-1]]
    push = ~first & (code == decision) & (prev_code == decision) & (close > prev_close)
    keep = first | (code != prev_code) | push
    deal, code, t, amount, push, first = (
        deal[keep],
        code[keep],
        t[keep],
        amount[keep],
        push[keep],
        first[keep],
    )
    # A closed deal stays closed: rows after the first closing row are edits, not events.
    closed_row = code < 0
    closed_before = pd.Series(closed_row).groupby(deal).cumsum().to_numpy() - closed_row
    live = closed_before == 0
    deal, code, t, amount, push, first = (
        deal[live],
        code[live],
        t[live],
        amount[live],
        push[live],
        first[live],
    )
    last = np.r_[deal[1:] != deal[:-1], True]
    pushes = pd.Series(push.astype(np.int64)).groupby(deal).cumsum().to_numpy()
    has = np.unique(deal)
    deals.loc[has, "has_history"] = True
    first_amount = pd.Series(amount[first], index=deal[first])
    ok = first_amount.notna() & (first_amount > 0)
    deals.loc[first_amount.index[ok], "amount0"] = first_amount[ok].to_numpy()
    # State at as_of from the last row of each deal.
    end_deal, end_code, end_t = deal[last], code[last], t[last]
    deals.loc[end_deal, "stage"] = np.where(end_code >= 0, end_code, deals.loc[end_deal, "stage"])
    closed_at, won_export = _state_at_as_of(deals, end_deal, end_code, end_t, history_file, warnings)
    # Spells: every open row, to the next row of its deal or to as_of.
    start_rows = np.nonzero(code >= 0)[0]
    nxt = start_rows + 1
    ends_open = last[start_rows]
    nxt_safe = np.where(ends_open, start_rows, nxt)
    n_code = code[nxt_safe]
    n_push = push[nxt_safe]
    s_code = code[start_rows]
    reason = deals["loss_reason"].to_numpy()[deal[start_rows]]
    loss = np.where(
        reason == "competition",
        OUT_LOST_COMPETITION,
        np.where(reason == "no_decision", OUT_LOST_NO_DECISION, OUT_LOST_OTHER),
    )
    outcome = np.select(
        [ends_open, n_code == LOST, n_code == WON, n_push, n_code > s_code],
        [OUT_CENSORED, loss, np.where(s_code == decision, OUT_WON, OUT_ADVANCE), OUT_PUSH, OUT_ADVANCE],
        OUT_CENSORED,
    )
    end = np.where(ends_open, 0.0, t[nxt_safe])
    # A deal the export closed (see above): its last spell ends at the export's close, won when
    # the export says won from the decision stage, else censored there.
    shut = closed_at.reindex(deal[start_rows]).to_numpy()
    cut = ends_open & np.isfinite(shut)
    end = np.where(cut, np.maximum(shut, t[start_rows]), end)
    won_here = cut & won_export.reindex(deal[start_rows]).fillna(False).to_numpy(dtype=bool)
    outcome = np.where(won_here & (s_code == decision), OUT_WON, outcome)
    growth = np.where(outcome == OUT_ADVANCE, amount[nxt_safe] / amount[start_rows], np.nan)
    return pd.DataFrame(
        {
            "cell": deals["cell"].to_numpy()[deal[start_rows]],
            "stage": s_code,
            "kind": np.where(push[start_rows], KIND_PUSH_DELAY, KIND_DWELL),
            "start": t[start_rows],
            "duration": np.maximum(end - t[start_rows], 1e-3),
            "outcome": outcome,
            "pushes": pushes[start_rows],
            "growth": growth,
            "end": end,
        }
    )


def _state_at_as_of(deals, end_deal, end_code, end_t, history_file, warnings):
    """Each deal's status and close on the as-of date from its last history row, in ``deals``.

    Returns the export's close (days) and whether it says won, by deal, for the deals the
    history leaves open but the export closed (NaN and False elsewhere).
    """
    # The export's IsClosed/IsWon win over a history that has no closing row for the deal (a
    # row lost or re-keyed): such a deal would otherwise go back into the open bank.
    export_status = deals["status"].to_numpy()[end_deal]
    export_closed = deals["closed"].to_numpy()[end_deal]
    overruled = (export_status != "open") & (end_code >= 0)
    if overruled.any():
        ids = deals["opportunity_id"].to_numpy()[end_deal[overruled]]
        warnings.append(
            f"{history_file}: {int(overruled.sum())} deals the export shows closed before the as-of date "
            f"are still open in the stage history (no closing row): the export's outcome is used "
            f"({', '.join(map(str, ids[:5]))}{', ...' if len(ids) > 5 else ''})"
        )
    status = np.where(end_code == WON, "won", np.where(end_code == LOST, "lost", "open"))
    deals.loc[end_deal, "status"] = np.where(overruled, export_status, status)
    deals.loc[end_deal, "closed"] = np.where(overruled, export_closed, np.where(end_code < 0, end_t, np.nan))
    closed_at = pd.Series(np.where(overruled, export_closed, np.nan), index=end_deal)
    won_export = pd.Series(overruled & (export_status == "won"), index=end_deal)
    return closed_at, won_export
