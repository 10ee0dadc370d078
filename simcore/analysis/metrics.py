"""Forecast metrics from simulated deals (the sales playbook's definitions, docs/model.md "Standard metrics").

Every rate is given by amount (dollars) and by count (deals), per period and per value of
the scenario's dimensions (source, product, ...), or summed over any of them. Rates
are *pooled* over trials: won dollars over all trials / closed dollars over all
trials, the expected rate of the simulated plan (a per-trial ratio is undefined in a
quarter where a small cell closes nothing). Definitions:

- close rate = W / (W + LC + LND)
- win rate = W / (W + LC)
- slippage-adjusted close rate = W / (W + LC + LND + slipped)
- coverage needed = 1 / close rate (33% -> 3x, 25% -> 4x)
- coverage of a period = (best case + commit due in the period + won in the period) / target
- pushes per won deal = pushes taken before the win / won deals

W is closed won in the period, LC / LND lost to competition / no decision in the
period at any stage from ``from_stage`` on (default: every stage, i.e. every opportunity
that closed), "slipped" is what was open at the period's start with an expected close
in the period and still open at its end.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from simcore import checks
from simcore.errors import SimcoreError
from simcore.scenario.spec import CATEGORIES

MEASURES = ("amount", "count")


def _dims(ds) -> list:
    return ds.simcore.dimensions


def _keep(da: xr.DataArray, by) -> xr.DataArray:
    """Sum ``da`` over every dim except those in ``by``, pooling trials."""
    return da.sum([d for d in da.dims if d not in by])


def _check_by(ds, by):
    allowed = ["period", *_dims(ds)]
    by = [by] if isinstance(by, str) else list(by)
    bad = [b for b in by if b not in allowed]
    if bad:
        raise SimcoreError(f"cannot group metrics by {bad[0]!r}; choose from {', '.join(allowed)}")
    return by


def _ratio(num, den):
    return xr.where(den > 0, num / den.where(den > 0), np.nan)


def forecast_metrics(ds: xr.Dataset, by=("period",), measure: str = "amount", from_stage=None) -> xr.Dataset:
    """Close rate, win rate, slippage-adjusted close rate, coverage needed and pushes per won deal.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.
    by : sequence of str
        Dims to keep: any of ``"period"`` and the scenario's dimensions (``()`` for the
        whole horizon and every cell).
    measure : {"amount", "count"}
        Dollars or deals.
    from_stage : str or int, optional
        Count losses only from this stage on (e.g. the decision stage for a stage-4 close
        rate), by name or index (``-1`` is the decision stage); default every stage.

    Returns
    -------
    xarray.Dataset
        ``won, lost_competition, lost_no_decision, slipped`` (pooled over trials: divide by
        the trial count for a per-trial mean) and ``close_rate, win_rate,
        slippage_adjusted_close_rate, coverage_needed, pushes_per_won`` over the ``by`` dims.
        ``slipped`` is per period, so over several periods it is the sum of each period's
        slipped pipeline.

    Examples
    --------
    >>> import simcore
    >>> ds = simcore.simulate(simcore.load_scenario("scenarios/smb.toml"), 500, seed=7, progress=False)
    >>> m = forecast_metrics(ds, by=("period", "source"))
    >>> 0 < float(m.close_rate.sel(period="2026-03", source="inbound")) < 1
    True
    """
    checks.dataset(ds)
    if measure not in MEASURES:
        raise SimcoreError(f"measure must be 'amount' or 'count', got {measure!r}")
    by = _check_by(ds, by)
    lost = ds[f"lost_{measure}"]
    if from_stage is not None:
        lost = lost.isel(stage=slice(checks.stage_index(ds.stage.values, from_stage), None))
    won = _keep(ds[f"bookings_{measure}"], by).astype(np.float64)
    lc = _keep(lost.sel(reason="competition", drop=True), by).astype(np.float64)
    lnd = _keep(lost.sel(reason="no_decision", drop=True), by).astype(np.float64)
    slipped = _keep(ds[f"slipped_{measure}"], by).astype(np.float64)
    won_deals = _keep(ds["bookings_count"], by).astype(np.float64)
    pushes = _keep(ds["won_pushes"], by).astype(np.float64)
    close = _ratio(won, won + lc + lnd)
    out = xr.Dataset(
        {
            "won": won,
            "lost_competition": lc,
            "lost_no_decision": lnd,
            "slipped": slipped,
            "close_rate": close,
            "win_rate": _ratio(won, won + lc),
            "slippage_adjusted_close_rate": _ratio(won, won + lc + lnd + slipped),
            "coverage_needed": _ratio(xr.ones_like(close), close),
            "pushes_per_won": _ratio(pushes, won_deals),
        }
    )
    out.attrs.update(
        {
            "measure": measure,
            "trials": int(ds.sizes["trial"]),
            "losses_from_stage": str(from_stage) if from_stage is not None else "all stages",
        }
    )
    return out


def period_targets(ds: xr.Dataset) -> xr.DataArray | None:
    """The bookings target of each period: ``period_target`` if the scenario gives one, else the
    horizon's target split in proportion to each period's days. None without a target.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.

    Returns
    -------
    xarray.DataArray or None
        Over ``period``, in dollars.
    """
    if "period_target" in ds:
        return ds["period_target"]
    target = ds.attrs.get("target")
    if target is None:
        return None
    start = np.array(ds["period_start"].values, dtype="datetime64[D]")
    end = np.array(ds["period_end"].values, dtype="datetime64[D]")
    days = (end - start).astype(np.int64) + 1
    return xr.DataArray(float(target) * days / days.sum(), dims="period", coords={"period": ds.period})


def coverage(ds: xr.Dataset, measure: str = "amount") -> xr.Dataset:
    """Pipeline coverage of each period against its target (the enterprise sales playbook).

    coverage = (best case + commit open at the period's start with an expected close in the
    period + closed won in the period) / the period's target, per trial; the result holds
    its mean over trials and the components' means.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate` whose scenario has a target (``period_target``
        per period, or an annual ``target`` split over the periods by their days).
    measure : {"amount"}, default "amount"
        Dollars: the target is in dollars, so coverage is too.

    Returns
    -------
    xarray.Dataset
        Over ``period``: ``best_case, commit, won, target, coverage`` (trial means) and
        ``coverage_needed`` (1 / the period's pooled close rate) for comparison.

    Raises
    ------
    SimcoreError
        When ``measure`` is not ``"amount"``, or the scenario has no target.
    """
    checks.dataset(ds)
    if measure != "amount":
        raise SimcoreError(
            f"coverage is of dollars against a dollar target: measure must be 'amount', got {measure!r}"
        )
    target = period_targets(ds)
    if target is None:
        raise SimcoreError("coverage needs a target: the scenario has none")
    due = _keep(ds[f"due_{measure}"], ("trial", "period", "category")).astype(np.float64)
    won = _keep(ds[f"bookings_{measure}"], ("trial", "period")).astype(np.float64)
    best, commit = due.sel(category="best_case", drop=True), due.sel(category="commit", drop=True)
    per_trial = (best + commit + won) / target
    rates = forecast_metrics(ds, by=("period",), measure=measure)
    return xr.Dataset(
        {
            "best_case": best.mean("trial"),
            "commit": commit.mean("trial"),
            "won": won.mean("trial"),
            "target": target,
            "coverage": per_trial.mean("trial"),
            "coverage_needed": rates.coverage_needed,
        }
    )


def category_weighted_forecast(
    bank: dict, conversions: dict, to_be_created: float = 0.0, created_conversion: float | None = None
) -> dict:
    """The sales playbook's SMB forecast: dollars in each forecast category x that category's conversion,
    plus in-period pipeline still to be created x its conversion.

    Parameters
    ----------
    bank : dict
        Dollars per category, e.g. ``{"commit": 1e6, "best_case": 2e6, "pipeline": 2e6}``.
    conversions : dict
        Historical conversion per category, e.g. ``{"commit": .9, "best_case": .6, "pipeline": .3}``.
    to_be_created : float
        Pipeline dollars usually created within the period that close within it.
    created_conversion : float, optional
        Its conversion (default: the pipeline category's).

    Returns
    -------
    dict
        ``{"by_category": {category: dollars}, "to_be_created": dollars, "forecast": total}``.

    Examples
    --------
    >>> category_weighted_forecast({"commit": 1e6, "best_case": 2e6, "pipeline": 2e6},
    ...                            {"commit": .9, "best_case": .6, "pipeline": .3}, 1e6)["forecast"]
    3000000.0
    """
    for c in list(bank) + list(conversions):
        if c not in CATEGORIES:
            raise SimcoreError(f"unknown forecast category {c!r}; the categories are {', '.join(CATEGORIES)}")
    missing = [c for c in bank if c not in conversions]
    if missing:
        raise SimcoreError(f"no conversion given for category {missing[0]!r}")
    bank = {c: checks.number(f"bank[{c!r}]", x, minimum=0) for c, x in bank.items()}
    conversions = {c: checks.number(f"conversion of {c!r}", r, 0, 1) for c, r in conversions.items()}
    to_be_created = checks.number("to_be_created", to_be_created, minimum=0)
    by_category = {c: bank[c] * conversions[c] for c in bank}
    if created_conversion is None:
        created_conversion = conversions.get("pipeline", 0.0) if to_be_created else 0.0
    created = to_be_created * checks.number("created_conversion", created_conversion, 0, 1)
    return {
        "by_category": by_category,
        "to_be_created": created,
        "forecast": sum(by_category.values()) + created,
    }


def bank_at_period_start(ds: xr.Dataset, measure: str = "amount") -> xr.DataArray:
    """Open pipeline by forecast category at the start of each period (trial, period, dims, category).

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.
    measure : {"amount", "count"}, default "amount"

    Returns
    -------
    xarray.DataArray
    """
    first = ds[f"starting_bank_{measure}"].expand_dims(period=[ds.period.values[0]])
    rest = ds[f"bank_{measure}"].isel(period=slice(None, -1))
    rest = rest.assign_coords(period=ds.period.values[1:])
    return xr.concat([first.transpose(*rest.dims), rest], dim="period")


def cycle_time(ds: xr.Dataset, by=()) -> dict:
    """Creation-to-close time of won deals (days).

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.
    by : str or sequence of str, default ()
        Dims to keep in ``mean_days``: any of ``"period"`` and the scenario's dimensions
        (``()`` for the whole horizon and every cell). The other entries are always over
        everything.

    Returns
    -------
    dict
        ``mean_days`` (pooled: summed cycle days / deals with a known creation date, grouped
        by ``by`` if given, as a DataArray), ``distribution`` (share of won deals per
        ``cycle_bin``, a DataArray), ``median_days`` (interpolated inside its bin) and
        ``deals`` (won deals with a known creation date, summed over all trials).

    Raises
    ------
    SimcoreError
        When ``by`` names a dim other than ``"period"`` or a scenario dimension.
    """
    checks.dataset(ds)
    by = _check_by(ds, by)
    days = _keep(ds["won_cycle_days"], by)
    n = _keep(ds["won_cycle_count"], by).astype(np.float64)
    mean = _ratio(days, n)
    hist = (
        ds["cycle_time_count"].sum([d for d in ds["cycle_time_count"].dims if d != "cycle_bin"]).astype(float)
    )
    total = float(hist.sum())
    share = hist / total if total > 0 else hist * np.nan
    edges = _bin_edges(list(ds.cycle_bin.values))
    cum = np.cumsum(share.values) if total > 0 else None
    median = math.nan
    if cum is not None:
        i = int(np.searchsorted(cum, 0.5))
        lo, hi = edges[i], edges[i + 1]
        before = cum[i - 1] if i > 0 else 0.0
        frac = (0.5 - before) / share.values[i] if share.values[i] > 0 else 0.0
        median = lo + frac * (hi - lo) if math.isfinite(hi) else lo
    return {"mean_days": mean, "distribution": share, "median_days": float(median), "deals": total}


def _bin_edges(labels) -> list:
    """``["0-15d", ..., "540d+"]`` -> ``[0, 15, ..., 540, inf]``."""
    edges = []
    for label in labels:
        text = label.rstrip("d+")
        edges.append(float(text.split("-")[0]))
    return edges + [math.inf]


def metrics_summary(ds: xr.Dataset, measure: str = "amount") -> dict:
    """The metrics as plain dicts (what ``simcore metrics --json`` prints): per period, per value of
    each dimension (whole horizon), and for the whole horizon; plus coverage and cycle time.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`simcore.engine.simulate`.
    measure : {"amount", "count"}, default "amount"

    Returns
    -------
    dict
        JSON-ready.
    """

    def rows(m):
        names = [
            "close_rate",
            "win_rate",
            "slippage_adjusted_close_rate",
            "coverage_needed",
            "pushes_per_won",
        ]
        trials = m.attrs["trials"]
        if not m.close_rate.dims:
            return {**{k: _num(m[k]) for k in names}, "won_per_trial": _num(m.won) / trials}
        dim = m.close_rate.dims[0]
        return {
            str(v): {
                **{k: _num(m[k].sel({dim: v})) for k in names},
                "won_per_trial": _num(m.won.sel({dim: v})) / trials,
            }
            for v in m[dim].values
        }

    out = {
        "measure": measure,
        "trials": int(ds.sizes["trial"]),
        "year": rows(forecast_metrics(ds, by=(), measure=measure)),
        "by_period": rows(forecast_metrics(ds, by=("period",), measure=measure)),
    }
    for dim in _dims(ds):
        out[f"by_{dim}"] = rows(forecast_metrics(ds, by=(dim,), measure=measure))
    if measure == "amount" and period_targets(ds) is not None:  # coverage is of dollars against dollars
        cov = coverage(ds)
        out["coverage"] = {
            str(p): {k: _num(cov[k].sel(period=p)) for k in cov.data_vars} for p in cov.period.values
        }
    ct = cycle_time(ds)
    out["cycle_time"] = {
        "mean_days": _num(ct["mean_days"]),
        "median_days": ct["median_days"],
        "distribution": {
            str(b): _num(ct["distribution"].sel(cycle_bin=b)) for b in ct["distribution"].cycle_bin.values
        },
    }
    return out


def _num(x):
    v = float(x)
    return v if math.isfinite(v) else None
