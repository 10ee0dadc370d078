"""The as-of forecast: the plan's year with what already happened, simulated from a date on.

:func:`forecast` splits the year at the as-of date (:func:`simcore.forecast.asof.as_of_state`),
simulates the open bank and the plan's remaining creation from that date with the plan's
own kernel, and adds the actuals back: every period's bookings are ``actual + simulated``,
closed periods have no spread, the current one is actual-to-date plus the rest of it. The
plan's own run with the same seed (common random numbers) gives the change since the plan;
a previous forecast's summary (``simcore forecast --out f.json``) gives the change since it.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from simcore import checks
from simcore.analysis.mcerror import distribution, mean_se
from simcore.engine.compile import Model, compile_scenario
from simcore.engine.simulate import simulate
from simcore.errors import SimcoreError
from simcore.forecast.asof import AsOf, as_of_state
from simcore.result import Result
from simcore.scenario.load import check_scenario

__all__ = ["Forecast", "forecast", "forecast_dataset", "period_status"]

CLOSED, CURRENT, OPEN = "closed", "current", "open"


@dataclass
class Forecast(Result):
    """An as-of forecast of the plan's year (from :func:`forecast`).

    Attributes
    ----------
    scenario : str
    as_of : datetime.date
    trials, seed : int
    currency, period : str
    target : float or None
        The scenario's bookings target for the year.
    p_hit : float or None
        P(year bookings >= target) now, actuals included.
    p_hit_se : float or None
        Its Monte-Carlo standard error.
    year : dict
        ``actual`` (dollars won so far), ``actual_count``, ``simulated`` and ``total``
        (``{"mean", "p10", "p50", "p90"}`` of the rest of the year and of the whole year).
    by_period : list of dict
        One record per period: ``period, status`` (``closed``, ``current``, ``open``),
        ``actual, actual_count, simulated`` and ``total`` (distributions as above).
    change : dict or None
        Against the plan's own run (``since = "plan"``) or a previous forecast (``since =
        "forecast as of DATE"``): ``p_hit_before, p_hit_change, p50_before, p50_change,
        mean_before, mean_change`` and, against the plan (paired by trial), ``mean_change_se``.
    bank_deals, actual_deals : int
        Deals open on the as-of date (simulated from it) and deals won before it this year.
    warnings : list of str
    dataset : xarray.Dataset
        See :func:`forecast_dataset` (not in :meth:`to_dict`).
    summary : dict
        The ``simcore run --json`` summary of the whole year (not in :meth:`to_dict`).
    """

    _table = "by_period"

    scenario: str
    as_of: _dt.date
    trials: int
    seed: int
    currency: str
    period: str
    target: float | None
    p_hit: float | None
    p_hit_se: float | None
    year: dict
    by_period: list
    change: dict | None
    bank_deals: int
    actual_deals: int
    warnings: list
    dataset: xr.Dataset = field(repr=False)
    summary: dict = field(repr=False)


def period_status(model: Model, day: int) -> list:
    """``closed``, ``current`` or ``open`` for each reporting period, as of day ``day``.

    A period is closed when it ends on or before the as-of day (everything in it happened
    before the as-of date), current when it contains the as-of day.

    Parameters
    ----------
    model : Model
    day : int
        Days from the scenario's start.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import simcore
    >>> m = simcore.compile_scenario(simcore.load_scenario("scenarios/smb.toml"), "quarter")
    >>> period_status(m, 134)
    ['closed', 'current', 'open', 'open']
    """
    edges = model.periods.start_day
    return [
        CLOSED if edges[i + 1] <= day else CURRENT if edges[i] <= day else OPEN for i in range(len(edges) - 1)
    ]


def forecast_dataset(ds: xr.Dataset, state: AsOf, model: Model) -> xr.Dataset:
    """A simulation from the as-of date with the actuals added back (a new Dataset).

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`simcore.simulate` of ``state.model(model)``.
    state : AsOf
    model : Model
        The plan's model (its periods label ``ds``).

    Returns
    -------
    xarray.Dataset
        ``ds``'s variables, with ``bookings_amount``, ``bookings_count`` the whole year
        (actual + simulated) and ``created_amount``, ``created_count`` including the deals
        that entered each stage before the as-of date; and
        ``actual_bookings_amount``, ``actual_bookings_count`` (period, dims): won before the
        as-of date; ``simulated_bookings_amount``, ``simulated_bookings_count`` (trial,
        period, dims): booked from the as-of date on; ``actual_created_amount``,
        ``actual_created_count`` (period, dims, stage): entered each stage before it (the
        entry stage from the export's created dates, later stages from a stage history); ``period_status``
        (period). ``attrs`` add ``as_of``, ``as_of_day``, ``bank_deals``, ``actual_deals``.
    """
    sc = state.scenario
    dims = list(sc.dimensions)
    shape = [len(v) for v in sc.dimensions.values()]
    coords = {"period": ds["period"].values, **{d: ds[d].values for d in dims}}
    out = ds.copy()

    def per_cell(values, name, units, description):
        return xr.DataArray(
            values.reshape([values.shape[0], *shape]),
            dims=("period", *dims),
            coords=coords,
            attrs={"units": units, "description": description},
        )

    amount, count = state.by_period(state.actuals, model)
    c_amount, c_count = state.created_by_period(model)
    cur = sc.currency

    def per_stage(values, units, description):
        return xr.DataArray(
            values.reshape([values.shape[0], *shape, values.shape[-1]]),
            dims=("period", *dims, "stage"),
            coords={**coords, "stage": ds["stage"].values},
            attrs={"units": units, "description": description},
        )

    actual = {
        "actual_bookings_amount": per_cell(amount, "a", cur, "won dollars booked before the as-of date"),
        "actual_bookings_count": per_cell(count, "a", "deals", "deals won before the as-of date"),
        "actual_created_amount": per_stage(
            c_amount, cur, "pipeline dollars entering each stage before the as-of date"
        ),
        "actual_created_count": per_stage(
            c_count, "deals", "opportunities entering each stage before the as-of date"
        ),
    }
    for kind in ("amount", "count"):
        # Plain numpy sums: the actual arrays are laid out as the simulated ones without
        # ``trial`` (xarray's aligned arithmetic costs more than the run's own Dataset).
        sim = ds[f"bookings_{kind}"]
        out[f"simulated_bookings_{kind}"] = sim.assign_attrs(
            description=f"bookings ({kind}) simulated from the as-of date on"
        )
        before = actual[f"actual_bookings_{kind}"].values.astype(sim.dtype)
        out[f"bookings_{kind}"] = (sim.dims, sim.values + before[None], sim.attrs)
        created = ds[f"created_{kind}"]
        before = actual[f"actual_created_{kind}"].values.astype(created.dtype)
        out[f"created_{kind}"] = (created.dims, created.values + before[None], created.attrs)
    for name, value in actual.items():
        out[name] = value
    out["period_status"] = ("period", period_status(model, state.day))
    out.attrs.update(
        as_of=state.as_of.isoformat(),
        as_of_day=int(state.day),
        bank_deals=len(state.bank),
        actual_deals=len(state.actuals),
    )
    return out


def forecast(
    scenario,
    opportunities=None,
    as_of=None,
    *,
    history=None,
    columns=None,
    stages=None,
    trials: int = 10_000,
    seed=0,
    period: str | None = None,
    baseline="plan",
    progress=None,
    sampling: str | None = None,
) -> Forecast:
    """Forecast the plan's year as of a date: actuals so far, and the rest simulated.

    Parameters
    ----------
    scenario : Scenario
        The plan (:func:`simcore.load_scenario`).
    opportunities : str, Path, pandas.DataFrame or AsOf, optional
        The opportunity export (CSV path, or the table of
        :func:`simcore.calibrate.read_opportunities` read with the scenario's dimensions),
        or a state already split (:func:`simcore.forecast.asof.as_of_state`; then
        ``as_of``, ``history``, ``columns`` and ``stages`` are not used). None: no actuals,
        and the scenario's own bank starts at the as-of date.
    as_of : datetime.date or str
        A day inside the plan's horizon.
    history : str, Path or pandas.DataFrame, optional
        The stage history: the open deals' stages, ages and close dates on the as-of date.
    columns : dict, optional
        ``{field: column}``, as ``simcore calibrate --map``.
    stages : str or list, optional
        CRM stage names mapped to the scenario's (``"Proposal=Trial"``).
    trials : int
    seed : int
        The same seed gives the same bits; the plan's run for ``change`` uses it too.
    period : {"week", "month", "quarter"}, optional
        Reporting period (default: the scenario's).
    baseline : "plan", None, str, Path or dict
        What ``change`` compares with: the plan's own run (``"plan"``, the default; one more
        simulation of ``trials``), nothing (None), or a previous forecast's summary: the path
        of a ``.json`` written by ``simcore forecast --out``, or its dict.
    progress : bool, optional
        Progress bar (default: when a terminal).
    sampling : {"random", "lhs", "sobol"}, optional
        As for :func:`simcore.simulate`.

    Returns
    -------
    Forecast

    Raises
    ------
    SimcoreError, ScenarioError
        Bad arguments or bad input files (see :func:`simcore.forecast.asof.as_of_state`).

    Examples
    --------
    The plan's start with no export is the plan's own run:

    >>> import simcore
    >>> sc = simcore.load_scenario("scenarios/smb.toml")
    >>> f = forecast(sc, None, "2026-01-01", trials=300, seed=4, progress=False)
    >>> run = simcore.simulate(sc, trials=300, seed=4, progress=False)
    >>> bool((f.dataset.bookings_amount == run.bookings_amount).all()), f.change["p_hit_change"]
    (True, 0.0)
    """
    sc = check_scenario(scenario)
    trials = checks.whole("trials", trials, 1)
    state = (
        opportunities
        if isinstance(opportunities, AsOf)
        else as_of_state(sc, opportunities, as_of, history=history, columns=columns, stages=stages)
    )
    if state.scenario is not sc and state.scenario.hash != sc.hash:
        raise SimcoreError("forecast: the as-of state was split for another scenario")
    before = None
    if baseline is not None and not (isinstance(baseline, str) and baseline == "plan"):
        # Read and checked before the simulation: a baseline of another plan is refused at once.
        before = _previous(baseline)
        _check_since(sc, state.as_of, before, baseline)
    model = compile_scenario(sc, period)
    ds = simulate(sc, trials, seed, model=state.model(model), progress=progress, sampling=sampling)
    ds = forecast_dataset(ds, state, model)
    year = ds["bookings_amount"].values.reshape(trials, -1).sum(axis=1)
    target = sc.target
    plan_year = None
    if isinstance(baseline, str) and baseline == "plan":
        plan = simulate(sc, trials, seed, model=model, progress=progress, sampling=sampling)
        plan_year = (
            plan["bookings_amount"].sum([d for d in plan["bookings_amount"].dims if d != "trial"]).values
        )
        change = _change_since_plan(year, plan_year, target)
    elif baseline is None:
        change = None
    else:
        change = _change_since(year, target, before)
    return _result(sc, state, ds, year, target, trials, seed, change)


def _p_hit(year, target):
    return None if target is None else float((year >= target).mean())


def _result(sc, state, ds, year, target, trials, seed, change):
    status = list(ds["period_status"].values)
    n_trials, n_periods = ds.sizes["trial"], ds.sizes["period"]
    actual = ds["actual_bookings_amount"].values.reshape(n_periods, -1).sum(axis=1)
    actual_n = ds["actual_bookings_count"].values.reshape(n_periods, -1).sum(axis=1)
    sim = ds["simulated_bookings_amount"].values.reshape(n_trials, n_periods, -1).sum(axis=2)
    total = ds["bookings_amount"].values.reshape(n_trials, n_periods, -1).sum(axis=2)
    by_period = [
        {
            "period": str(p),
            "status": status[i],
            "actual": float(actual[i]),
            "actual_count": int(actual_n[i]),
            "simulated": distribution(sim[:, i]),
            "total": distribution(total[:, i]),
        }
        for i, p in enumerate(ds["period"].values)
    ]
    p_hit = _p_hit(year, target)
    return Forecast(
        scenario=sc.name,
        as_of=state.as_of,
        trials=trials,
        seed=int(ds.attrs["seed"]),
        currency=sc.currency,
        period=ds.attrs["period"],
        target=float(target) if target is not None else None,
        p_hit=p_hit,
        p_hit_se=None if p_hit is None else float(np.sqrt(p_hit * (1 - p_hit) / len(year))),
        year={
            "actual": float(actual.sum()),
            "actual_count": int(actual_n.sum()),
            "simulated": distribution(sim.sum(axis=1)),
            "total": distribution(year),
        },
        by_period=by_period,
        change=change,
        bank_deals=len(state.bank),
        actual_deals=len(state.actuals),
        warnings=list(state.warnings),
        dataset=ds,
        summary=_summary(ds, year, target),
    )


def _summary(ds, year, target):
    """The ``simcore run --json`` summary of the whole year (see ``SimcoreAccessor.summary``)."""
    labels = [str(p) for p in ds["period"].values]
    n_trials, n_periods = ds.sizes["trial"], ds.sizes["period"]

    def shape(per_period):
        return {
            "year": distribution(per_period.sum(axis=1)),
            "by_period": {p: distribution(per_period[:, i]) for i, p in enumerate(labels)},
        }

    created = ds["created_amount"].values
    created = created.reshape(n_trials, n_periods, -1, created.shape[-1]).sum(axis=2)
    bookings = ds["bookings_amount"].values.reshape(n_trials, n_periods, -1).sum(axis=2)
    return {
        "scenario": ds.attrs["scenario"],
        "scenario_hash": ds.attrs["scenario_hash"],
        "trials": int(ds.sizes["trial"]),
        "seed": int(ds.attrs["seed"]),
        "version": ds.attrs["simcore_version"],
        "period": ds.attrs["period"],
        "currency": ds.attrs["currency"],
        "target": float(target) if target is not None else None,
        "p_hit": _p_hit(year, target),
        "deals_per_trial": float(ds["opportunities"].mean()),
        "bookings": shape(bookings),
        "stage1_created": shape(created[:, :, 0]),
        "stage4_created": shape(created[:, :, -1]),
    }


def _change_since_plan(year, plan_year, target):
    p_now, p_plan = _p_hit(year, target), _p_hit(plan_year, target)
    diff = year - plan_year  # paired trial by trial: the same seed, common random numbers
    return {
        "since": "plan",
        "p_hit_before": p_plan,
        "p_hit_change": None if p_now is None else p_now - p_plan,
        "p50_before": float(np.quantile(plan_year, 0.5)),
        "p50_change": float(np.quantile(year, 0.5) - np.quantile(plan_year, 0.5)),
        "mean_before": float(plan_year.mean()),
        "mean_change": float(diff.mean()),
        "mean_change_se": mean_se(diff) if len(diff) > 1 else None,
    }


def _previous(baseline) -> dict:
    """A previous forecast's summary: a dict, or the ``.json`` file ``simcore forecast --out`` wrote."""
    if isinstance(baseline, Forecast):
        return baseline.to_dict()
    if isinstance(baseline, dict):
        return baseline
    if isinstance(baseline, (str, Path)) and Path(baseline).suffix.lower() == ".nc":
        return _previous_netcdf(Path(baseline))
    if isinstance(baseline, (str, Path)):
        path = Path(baseline)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SimcoreError(f"{path}: no such previous forecast file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SimcoreError(f"{path}: not a forecast written by simcore forecast --out ({exc})") from None
        doc = doc.get("forecast", doc) if isinstance(doc, dict) else doc
        if not isinstance(doc, dict) or not isinstance(doc.get("year"), dict) or "as_of" not in doc:
            raise SimcoreError(
                f"{path}: not a forecast written by simcore forecast --out (no as_of and year)"
            )
        return doc
    raise SimcoreError(
        f"baseline must be 'plan', None, a previous forecast or its .json file, got {baseline!r}"
    )


def _check_since(sc, as_of, before: dict, baseline) -> None:
    """Refuse a previous forecast that is not an earlier forecast of this plan.

    A change since another scenario's forecast (another target, another year) or since one
    made after today's as-of date would be a figure that means nothing.
    """
    where = f"--since {baseline}" if isinstance(baseline, (str, Path)) else "previous forecast"
    name = before.get("scenario")
    if name is not None and str(name) != sc.name:
        raise SimcoreError(
            f"{where}: is a forecast of the scenario {str(name)!r}, not {sc.name!r}: the change since it "
            f"would compare two plans; give an earlier forecast of {sc.name!r}"
        )
    target, before_target = sc.target, before.get("target")
    if (
        isinstance(before_target, (int, float))
        and target is not None
        and not math.isclose(float(before_target), float(target), rel_tol=1e-9)
    ):
        raise SimcoreError(
            f"{where}: was made against the target {before_target:,.0f}, not this plan's {target:,.0f}: "
            f"its P(hit) is not comparable; give an earlier forecast of this plan"
        )
    try:
        then = _dt.date.fromisoformat(str(before["as_of"])[:10])
    except ValueError:
        raise SimcoreError(f"{where}: its as_of {before['as_of']!r} is not a date YYYY-MM-DD") from None
    end = sc.start + _dt.timedelta(days=sc.horizon_days - 1)
    if not sc.start <= then <= end:
        raise SimcoreError(
            f"{where}: was made as of {then}, outside this plan's year ({sc.start} to {end}); give a "
            f"forecast of this year"
        )
    if then > as_of:
        raise SimcoreError(
            f"{where}: was made as of {then}, after this forecast's as-of date {as_of}; the change is "
            f"shown since an earlier forecast"
        )


def _previous_netcdf(path: Path) -> dict:
    """The summary of a forecast written as netCDF (``simcore forecast --out f.nc``)."""
    try:
        with xr.open_dataset(path) as ds:
            if "as_of" not in ds.attrs or "bookings_amount" not in ds:
                raise SimcoreError(f"{path}: not a forecast written by simcore forecast --out (no as_of)")
            b = ds["bookings_amount"]
            year = b.sum([d for d in b.dims if d != "trial"]).values
            target = ds.attrs.get("target")
            as_of = ds.attrs["as_of"]
            name = ds.attrs.get("scenario")
    except FileNotFoundError:
        raise SimcoreError(f"{path}: no such previous forecast file") from None
    except (OSError, ValueError) as exc:
        raise SimcoreError(f"{path}: not a readable netCDF forecast ({exc})") from None
    return {
        "as_of": as_of,
        "scenario": name,
        "target": float(target) if isinstance(target, (int, float, np.number)) else None,
        "p_hit": _p_hit(year, target),
        "year": {"total": distribution(year)},
    }


def _change_since(year, target, before: dict):
    total = before["year"].get("total") if isinstance(before["year"], dict) else None
    if not isinstance(total, dict) or not all(
        isinstance(total.get(k), (int, float)) for k in ("p50", "mean")
    ):
        raise SimcoreError("previous forecast: its year.total has no p50 and mean")
    p_now, p_before = _p_hit(year, target), before.get("p_hit")
    return {
        "since": f"forecast as of {before['as_of']}",
        "p_hit_before": p_before,
        "p_hit_change": None if p_now is None or not isinstance(p_before, (int, float)) else p_now - p_before,
        "p50_before": float(total["p50"]),
        "p50_change": float(np.quantile(year, 0.5)) - float(total["p50"]),
        "mean_before": float(total["mean"]),
        "mean_change": float(year.mean()) - float(total["mean"]),
    }
