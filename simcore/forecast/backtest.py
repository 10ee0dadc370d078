"""Backtests: forecasts made at past dates with only what was known then, scored against what was booked.

At each as-of date the CRM history is cut back to what was known that day (:func:`known_at`):
deals created before it, changes dated before it, and every deal that was still open then put
back in the state it was in (its stage, amount and expected close from the stage history, when
one is given; open, with no outcome, whatever happened later). The model is calibrated on that
(:func:`simcore.calibrate.calibrate`), the calibrated scenario is simulated over the horizon from
that day with the deals open then as its bank, and the simulated bookings are set against the
bookings actually won in the horizon. The baselines finance uses (:mod:`simcore.forecast.baselines`)
are made from the same known state and scored on the same scale.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simcore.analysis.mcerror import proportion_se
from simcore.calibrate.calibrate import calibrate
from simcore.calibrate.readers import require_amount
from simcore.errors import SimcoreError
from simcore.forecast import baselines as bl
from simcore.forecast import scores
from simcore.forecast.forecast import forecast as asof_forecast
from simcore.result import Result
from simcore.scenario import scenario_from_dict

STEPS = {"week": pd.DateOffset(weeks=1), "month": pd.DateOffset(months=1), "quarter": pd.DateOffset(months=3),
         "year": pd.DateOffset(years=1)}  # fmt: skip


def _timestamp(value, what):
    try:
        out = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise SimcoreError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None
    if pd.isna(out):
        raise SimcoreError(f"{what} {value!r} is not a date (YYYY-MM-DD)")
    return out.normalize()


def _last_rows(history, as_of):
    """Each deal's last stage-history row before ``as_of`` (stage, amount, close date)."""
    h = history[history["changed"] < as_of]
    last = h.groupby("opportunity_id", sort=False).tail(1).set_index("opportunity_id")
    return h, last


def known_at(opportunities, stage_history, as_of):
    """The CRM tables as they stood at ``as_of``: what a forecast made that day could have used.

    Parameters
    ----------
    opportunities : pandas.DataFrame
        The export's tidy table (:func:`simcore.calibrate.read_opportunities`).
    stage_history : pandas.DataFrame or None
        The stage history's tidy table (:func:`simcore.calibrate.read_stage_history`).
    as_of : date or str

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame or None)
        The opportunities created before ``as_of``, those closed on or after it reopened (status
        open, no close, no loss reason, no forecast category), with their stage, amount and expected
        close from their last change before ``as_of`` where the stage history has one (without it the
        expected close is blank: the export's is what it became later); and the changes before ``as_of``.

    Examples
    --------
    >>> import pandas as pd
    >>> opps = pd.DataFrame({"opportunity_id": ["a", "b"], "created": pd.to_datetime(["2025-01-05"] * 2),
    ...     "stage": ["Closed Won", "Closed Lost"], "status": ["won", "lost"], "loss_reason": ["", "other"],
    ...     "closed": pd.to_datetime(["2025-02-01", "2025-04-01"]), "close_date": pd.NaT, "amount": 1.0,
    ...     "forecast_category": "", "line": [2, 3]})
    >>> known, _ = known_at(opps, None, "2025-03-01")
    >>> known["status"].tolist(), known["stage"].tolist()
    (['won', 'open'], ['Closed Won', 'Open'])
    """
    as_of = _timestamp(as_of, "as-of date")
    opps = opportunities[opportunities["created"] < as_of].copy()
    opps.attrs = dict(opportunities.attrs)
    later = (opps["status"] != "open") & ~(opps["closed"] < as_of)
    still = (opps["status"] == "open") | later
    opps.loc[later, ["status", "loss_reason", "forecast_category"]] = ["open", "", ""]
    opps.loc[later, "closed"] = pd.NaT
    if stage_history is None:
        # One open stage (calibrate's without a history); the export's close date is what it
        # became later.
        opps.loc[still, "close_date"] = pd.NaT
        opps.loc[still, "stage"] = "Open"
        return opps, None
    hist, last = _last_rows(stage_history, as_of)
    ids = opps.loc[still, "opportunity_id"]
    row = last.reindex(ids.to_numpy())
    has = row["stage"].notna().to_numpy()
    idx = ids.index[has]
    opps.loc[idx, "stage"] = row["stage"].to_numpy()[has]
    amount = row["amount"].to_numpy()[has]
    opps.loc[idx, "amount"] = np.where(np.isfinite(amount), amount, opps.loc[idx, "amount"].to_numpy())
    opps.loc[ids.index, "close_date"] = row["close_date"].to_numpy()
    # A deal closed later with no change before as_of: its state then is unknown (the export's
    # stage is its final one), so it is left out rather than guessed.
    orphan = later & ~opps["opportunity_id"].isin(last.index)
    return opps[~orphan], hist


@dataclass
class Backtest(Result):
    """Forecasts made at past dates, scored against what was booked (:func:`backtest`).

    Attributes
    ----------
    horizon : str
        What each forecast covers from its as-of date (``quarter``).
    trials, seed : int
    method : str
        How each forecast was made (the calibrated scenario simulated from the as-of date).
    rows : list of dict
        One per as-of date: ``as_of``, ``horizon_end`` (exclusive), ``actual`` (bookings won in
        the horizon), ``p10``, ``p50``, ``p90``, ``mean``, ``inside`` (P10 <= actual <= P90),
        ``pit``, ``crps``, ``open_deals``, ``deals_known``, and ``baselines``: ``{name: {forecast,
        crps, error, side}}`` (a point forecast's CRPS is its absolute error; its PIT is not
        defined, the side of the actual is given instead).
    overall : dict
        ``forecasts``; ``coverage`` (share inside P10-P90) with ``coverage_se``; ``mean_crps``;
        ``pit_ks`` and ``pit_p_value`` (uniformity); ``mean_abs_error`` of the P50; and per baseline
        ``mean_crps`` and ``above`` (share of actuals above it).
    samples : numpy.ndarray
        (as-of dates, trials) simulated bookings, for plots.
    warnings : list of str
    """

    _table = "rows"
    horizon: str
    trials: int
    seed: int
    method: str
    currency: str
    rows: list
    overall: dict
    samples: np.ndarray = field(default=None, repr=False)
    warnings: list = field(default_factory=list)


def as_of_dates(start, stop, every="quarter", horizon="quarter") -> list:
    """The as-of dates: ``start``, then every ``every``, as long as the horizon ends by ``stop``.

    Examples
    --------
    >>> [d.date().isoformat() for d in as_of_dates("2025-01-01", "2026-01-01")]
    ['2025-01-01', '2025-04-01', '2025-07-01', '2025-10-01']
    """
    for name, value in (("--every", every), ("--horizon", horizon)):
        if value not in STEPS:
            raise SimcoreError(f"{name} {value!r}: expected one of {', '.join(STEPS)}")
    start, stop = _timestamp(start, "--from"), _timestamp(stop, "--to")
    if not start < stop:
        raise SimcoreError(f"--from {start.date()} must be before --to {stop.date()}")
    out, k = [], 0
    while (d := start + k * STEPS[every]) + STEPS[horizon] <= stop:
        out.append(d)
        k += 1
    if not out:
        raise SimcoreError(
            f"no as-of date: a {horizon} from --from {start.date()} ends after --to {stop.date()}"
        )
    return out


def export_end(opportunities, stage_history=None):
    """The latest date in the CRM tables: where what is known stops."""
    dates = [opportunities["created"].max(), opportunities["closed"].max()]
    if stage_history is not None and len(stage_history):
        dates.append(stage_history["changed"].max())
    return max(d for d in dates if not pd.isna(d))


def _horizon_scenario(fit, as_of, end):
    """The calibrated scenario over exactly ``[as_of, end)``, its bank the deals open then."""
    doc = dict(fit.document)
    doc.pop("horizon_weeks", None)
    doc["end"] = (end - pd.Timedelta(days=1)).date()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bank.csv").write_text(fit.bank.to_csv(index=False), encoding="utf-8")
        doc["bank"] = {"csv": "bank.csv"} if len(fit.bank) else {}
        return scenario_from_dict(doc, name=f"fitted as of {as_of.date()}", base_dir=Path(tmp))


def booked(opportunities, start, end) -> float:
    """Dollars won with a close in ``[start, end)``: the actual a forecast of that window is scored on."""
    won = (
        (opportunities["status"] == "won")
        & (opportunities["closed"] >= start)
        & (opportunities["closed"] < end)
    )
    return float(opportunities.loc[won, "amount"].fillna(0.0).sum())


def forecast_at(opportunities, stage_history, as_of, horizon="quarter", *, dimensions=(), trials=1000,
                seed=0, weights=None, half_life=None):  # fmt: skip
    """One as-of forecast of the bookings over the next ``horizon``, and the baselines, from what was known.

    Returns
    -------
    dict
        ``samples`` (one per trial), ``baselines`` (``{name: dollars}``), ``open_deals``,
        ``deals_known``, ``horizon_end``, ``warnings``.
    """
    as_of = _timestamp(as_of, "as-of date")
    end = as_of + STEPS[horizon]
    opps, hist = known_at(opportunities, stage_history, as_of)
    if opps.empty:
        raise SimcoreError(f"backtest: no opportunity was created before the as-of date {as_of.date()}")
    fit = calibrate(opps, as_of, list(dimensions), stage_history=hist, half_life=half_life, name="backtest")
    sc = _horizon_scenario(fit, as_of, end)
    # The as-of forecast of the calibrated scenario: its bank is the deals open on the day, each
    # from its stage with its age in it and its expected close (rebuilt from the known history).
    table = opps if dimensions else opps.assign(segment="all")
    table.attrs = dict(opps.attrs)
    f = asof_forecast(
        sc, table, as_of.date(), history=hist, trials=trials, seed=seed, baseline=None, progress=False
    )
    ds = f.dataset
    total = ds["bookings_amount"].sum([d for d in ds["bookings_amount"].dims if d != "trial"]).to_numpy()
    base = bl.baselines(opps, hist, fit, as_of, end, weights=weights)
    return {
        "samples": np.asarray(total, dtype=np.float64),
        "baselines": base,
        "open_deals": int(len(fit.bank)),
        "deals_known": int(len(opps)),
        "horizon_end": end,
        "warnings": list(fit.warnings),
    }


def backtest(opportunities, stage_history=None, *, start, stop, every="quarter", horizon="quarter",
             dimensions=(), trials=1000, seed=0, weights=None, half_life=None, progress=None) -> Backtest:  # fmt: skip
    """Forecast at each as-of date from ``start`` to ``stop`` with what was known then, and score it.

    Parameters
    ----------
    opportunities : pandas.DataFrame
        The export's tidy table (:func:`simcore.calibrate.read_opportunities`), with the
        ``dimensions`` columns.
    stage_history : pandas.DataFrame, optional
        The stage history's tidy table; without it the calibration has one open stage.
    start, stop : date or str
        The first as-of date, and the date by which the last horizon must end.
    every, horizon : str
        ``week``, ``month``, ``quarter`` or ``year``: the step between as-of dates and what each
        forecast covers.
    dimensions : sequence of str
        Cells of the calibration (e.g. ``["source"]``).
    trials, seed : int
        Monte-Carlo trials per forecast; forecast ``k`` uses ``seed + k``.
    weights : dict, optional
        The category-weighted forecast's weights (default 90% commit, 60% best case, 30% pipeline).
    half_life : float, optional
        Days: each calibration weighs older history less (as ``simcore calibrate --half-life``).
    progress : callable, optional
        Called with ``(k, n, as_of)`` before each forecast.

    Returns
    -------
    Backtest

    Raises
    ------
    SimcoreError
        When ``start`` is not before ``stop``, no horizon fits, or the export ends before ``stop``
        (the last horizons' bookings would not be known).

    Examples
    --------
    >>> import simcore
    >>> from simcore.calibrate import simulate_history, tidy_history
    >>> sc = simcore.load_scenario("scenarios/smb.toml")
    >>> opps, hist = tidy_history(simulate_history(sc, "2024-07-01", "2025-07-01", seed=1), ["source"])
    >>> bt = backtest(opps, hist, start="2025-04-01", stop="2025-07-01", dimensions=["source"], trials=100)
    >>> [r["as_of"].isoformat() for r in bt.rows], bt.rows[0]["p10"] <= bt.rows[0]["p90"]
    (['2025-04-01'], True)
    """
    dates = as_of_dates(start, stop, every, horizon)
    stop = _timestamp(stop, "--to")
    require_amount(opportunities, "a backtest")  # scores dollars booked: $0 everywhere scores nothing
    end = export_end(opportunities, stage_history)
    if end < stop - pd.Timedelta(days=1):
        file = opportunities.attrs.get("file", "the opportunity export")
        raise SimcoreError(
            f"{file}: the export ends on {end.date()}, before --to {stop.date()}: the bookings of the "
            f"last horizons are not known; give an earlier --to"
        )
    currency = "USD"
    rows, samples, warnings = [], [], []
    for k, as_of in enumerate(dates):
        if progress is not None:
            progress(k, len(dates), as_of)
        f = forecast_at(opportunities, stage_history, as_of, horizon, dimensions=dimensions, trials=trials,
                        seed=seed + k, weights=weights, half_life=half_life)  # fmt: skip
        actual = booked(opportunities, as_of, f["horizon_end"])
        x = f["samples"]
        p10, p50, p90 = np.quantile(x, [0.1, 0.5, 0.9])
        rows.append(
            {
                "as_of": as_of.date(),
                "horizon_end": f["horizon_end"].date(),
                "actual": actual,
                "p10": float(p10),
                "p50": float(p50),
                "p90": float(p90),
                "mean": float(x.mean()),
                "inside": bool(p10 <= actual <= p90),
                "pit": float(scores.pit(x, actual, rng=np.random.default_rng([seed, k]))[0]),
                "crps": float(scores.crps(x, actual)[0]),
                "open_deals": f["open_deals"],
                "deals_known": f["deals_known"],
                "baselines": {
                    name: {"forecast": value, **scores.point_scores(value, actual)}
                    for name, value in f["baselines"].items()
                },
            }
        )
        samples.append(x)
        warnings += [f"as of {as_of.date()}: {w}" for w in f["warnings"]]
    method = (
        "each as-of date: calibrated on what was known then; the calibrated scenario forecast as of that "
        "date over the horizon, its bank the deals open then, each from its stage, its age in the stage "
        "(remaining dwell conditioned on it) and its expected close"
    )
    return Backtest(horizon, int(trials), int(seed), method, currency, rows, summarise(rows),
                    np.array(samples), warnings)  # fmt: skip


def summarise(rows) -> dict:
    """The overall scores of a backtest's rows (see :class:`Backtest`)."""
    n = len(rows)
    inside = np.array([r["inside"] for r in rows], dtype=float)
    pits = np.array([r["pit"] for r in rows])
    u = scores.uniformity(pits)
    coverage = float(inside.mean()) if n else math.nan
    out = {
        "forecasts": n,
        "coverage": coverage,
        "coverage_se": proportion_se(0.8, n) if n else math.nan,
        "mean_crps": float(np.mean([r["crps"] for r in rows])) if n else math.nan,
        "mean_abs_error": float(np.mean([abs(r["actual"] - r["p50"]) for r in rows])) if n else math.nan,
        "pit_ks": u["ks"],
        "pit_p_value": u["p_value"],
        "baselines": {},
    }
    for name in rows[0]["baselines"] if n else []:
        b = [r["baselines"][name] for r in rows]
        out["baselines"][name] = {
            "mean_crps": float(np.mean([x["crps"] for x in b])),
            "above": float(np.mean([x["side"] == "above" for x in b])),
        }
    return out
