"""The forecasts finance makes today from the open pipeline, as of a date: the backtest's baselines.

Each is a point forecast of the bookings of a window ``[as_of, end)``, made from the CRM state
known at ``as_of`` (:func:`simcore.forecast.backtest.known_at`) and the scenario calibrated on it:

- **stage-weighted pipeline**: each open deal expected to close in the window (its expected close
  before ``end``, overdue ones included, or no close date) times its stage's historical win rate:
  the share won of the deals that were ever in that stage and were decided before ``as_of``
  (without a stage history: the share won of all deals decided before ``as_of``);
- **category-weighted**: the same deals' dollars by forecast category (their stage's) times 90%
  commit, 60% best case, 30% pipeline (the enterprise sales playbook's; configurable), as
  :func:`simcore.analysis.metrics.category_weighted_forecast` computes it;
- **spreadsheet funnel**: the planning spreadsheet's bookings for the window
  (:func:`simcore.analysis.funnel.funnel` of the calibrated scenario: the decision-stage bank and the
  decision-stage creation the calibrated rates imply, over the retire multiple), which knows no
  dwell times.

None of them adds the deals still to be created that close inside the window, as finance's own
do not; that is part of what the backtest shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simcore.analysis.funnel import funnel
from simcore.analysis.metrics import category_weighted_forecast

#: The enterprise sales playbook's conversion per forecast category.
DEFAULT_WEIGHTS = {"commit": 0.9, "best_case": 0.6, "pipeline": 0.3}


def stage_win_rates(opportunities, stage_history, names) -> np.ndarray:
    """Each open stage's historical win rate: won / decided among the deals ever in it.

    Parameters
    ----------
    opportunities : pandas.DataFrame
        The known table (statuses as of the date).
    stage_history : pandas.DataFrame or None
        The known changes; without them every stage gets the overall rate.
    names : list of str
        The open stages, in order.

    Returns
    -------
    numpy.ndarray
        One rate per stage (the overall rate where a stage has no decided deal).

    Examples
    --------
    >>> import pandas as pd
    >>> opps = pd.DataFrame({"opportunity_id": list("abc"), "status": ["won", "lost", "open"]})
    >>> stage_win_rates(opps, None, ["Open"]).tolist()
    [0.5]
    """
    decided = opportunities[opportunities["status"] != "open"]
    won = decided["status"] == "won"
    overall = float(won.mean()) if len(decided) else 0.0
    rates = np.full(len(names), overall)
    if stage_history is None or stage_history.empty or len(decided) == 0:
        return rates
    code = {n.lower(): i for i, n in enumerate(names)}
    visits = pd.DataFrame(
        {
            "opportunity_id": stage_history["opportunity_id"],
            "stage": stage_history["stage"].str.lower().map(code),
        }
    ).dropna()
    visits = visits.drop_duplicates()
    status = decided.set_index("opportunity_id")["status"]
    visits = visits[visits["opportunity_id"].isin(status.index)]
    visits["won"] = (visits["opportunity_id"].map(status) == "won").to_numpy()
    by = visits.groupby("stage")["won"].agg(["sum", "count"])
    for s, r in by.iterrows():
        if r["count"] > 0:
            rates[int(s)] = r["sum"] / r["count"]
    return rates


def _in_window(bank, end):
    close = pd.to_datetime(bank["expected_close"].replace("", None), errors="coerce")
    return (close.isna() | (close < end)).to_numpy()


def baselines(opportunities, stage_history, fit, as_of, end, weights=None) -> dict:
    """The three baselines' forecasts (dollars) of the bookings in ``[as_of, end)``.

    Parameters
    ----------
    opportunities, stage_history : pandas.DataFrame
        The tables as known at ``as_of``.
    fit : CalibrationResult
        The calibration on them (its bank is the deals open at ``as_of``).
    as_of, end : pandas.Timestamp
    weights : dict, optional
        Conversion per forecast category (default :data:`DEFAULT_WEIGHTS`).

    Returns
    -------
    dict
        ``{"stage_weighted": ..., "category_weighted": ..., "funnel": ...}``.
    """
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    sc = fit.scenario
    names = [s.name for s in sc.stages]
    bank = fit.bank
    rates = stage_win_rates(opportunities, stage_history, names)
    index = {n: i for i, n in enumerate(names)}
    if len(bank):
        keep = _in_window(bank, end)
        stage = bank["stage"].map(index).to_numpy()
        amount = bank["amount"].to_numpy(dtype=float)
        stage_weighted = float((amount * rates[stage])[keep].sum())
        category = np.array([sc.stages[int(s)].category for s in stage])
        by_category = {c: float(amount[keep & (category == c)].sum()) for c in weights}
    else:
        stage_weighted, by_category = 0.0, dict.fromkeys(weights, 0.0)
    category_weighted = category_weighted_forecast(by_category, weights)["forecast"]
    days = (end - as_of).days
    spreadsheet = funnel(sc, bookings=1.0, ending_bank=0.0).planned_bookings * days / sc.horizon_days
    return {
        "stage_weighted": stage_weighted,
        "category_weighted": float(category_weighted),
        "funnel": float(spreadsheet),
    }
