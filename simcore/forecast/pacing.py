"""Pacing: where the current period's creation stands against the plan, and whether it will be made.

For the reporting period that contains the as-of date, per group of cells (the total, and each
combination of the dimensions asked for): the opportunities created so far (created before the
as-of date, in the period) against the plan's creation to date (the plan's daily creation with
its seasonality, as :func:`simcore.engine.compile.daily_plan` compiles it), what is still needed
per day and per week for the days left, and the probability that the period's plan is made.

The probability's model (``docs/pacing.md``): creation is a Poisson process whose rate is the
plan's daily rate times an unknown attainment factor ``theta`` (the share of the plan this group
is actually delivering). ``theta`` has a Gamma(``a``, ``a``) prior (mean 1: the plan; ``a`` =
``prior_strength``, the plan's weight in deals, 1 by default) and after ``n`` deals created against
``L_done`` planned to date its posterior is Gamma(``a + n``, ``a + L_done``). The deals still to
come, given ``L_rest`` planned for the rest of the period, are then negative binomial (the
gamma-Poisson mixture), so ``P(n + M >= plan)`` is a closed form. In dollars the same count is
drawn and each deal's size is resampled from the group's own deals of the last year (a compound
negative binomial, by Monte Carlo with a fixed seed).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from simcore.calendar import as_date
from simcore.calendar import periods as make_periods
from simcore.calibrate.readers import require_amount
from simcore.engine.compile import daily_plan
from simcore.errors import SimcoreError
from simcore.result import Result
from simcore.scenario.amounts import expected_amount
from simcore.scenario.load import check_scenario

#: An export whose latest date is this many days before the as-of date has stopped: its "no
#: creation since" would be read as a collapse of the run-rate, so it is refused.
STALE_DAYS = 14
_DOLLAR_DRAWS = 4000


def made_probability(
    done: float, planned_to_date: float, planned_rest: float, planned: float, prior_strength=1.0
):
    """P(the period's count plan is made) under the gamma-Poisson model of the module docstring.

    Parameters
    ----------
    done : float
        Deals created so far in the period.
    planned_to_date, planned_rest : float
        The plan's expected count for the days gone and the days left.
    planned : float
        The period's plan (normally ``planned_to_date + planned_rest``).
    prior_strength : float
        ``a``: the plan's weight, in deals, against the run-rate so far.

    Returns
    -------
    (float, float)
        The probability and the expected count at the period's end.

    Examples
    --------
    Forty planned over a 30-day month, fifteen created by day 15 (twenty were planned by then):

    >>> p, projected = made_probability(15, 20, 20, 40)
    >>> round(p, 3), round(projected, 1)
    (0.057, 30.2)
    """
    a = float(prior_strength)
    if not a > 0:
        raise SimcoreError(f"pacing: prior_strength must be positive, got {prior_strength!r}")
    r, rate = a + done, a + planned_to_date
    projected = done + r * planned_rest / rate
    need = planned - done
    if need <= 1e-9:
        return 1.0, projected
    if planned_rest <= 0:
        return 0.0, projected
    k = math.ceil(need - 1e-9)
    p = rate / (rate + planned_rest)
    return float(stats.nbinom.sf(k - 1, r, p)), projected


def _dollar_probability(done, need, r, p, sizes, rng):
    """P(dollars still to come >= need): M ~ NB(r, p), sizes resampled from ``sizes``."""
    if need <= 0:
        return 1.0
    m = rng.negative_binomial(r, p, size=_DOLLAR_DRAWS)
    total = int(m.sum())
    if total == 0:
        return 0.0
    draws = rng.choice(sizes, size=total, replace=True)
    ends = np.cumsum(m)
    sums = np.diff(np.r_[0.0, np.cumsum(draws)[ends - 1]]) if total else np.zeros(len(m))
    sums = np.where(m > 0, sums, 0.0)
    return float(np.mean(sums >= need))


@dataclass
class Pacing(Result):
    """Pacing of the current period (:func:`pace`).

    Attributes
    ----------
    scenario, currency : str
    as_of : datetime.date
        Deals created before this day count as done.
    period : str
        The period's label (``2026-04``); ``period_start`` and ``period_end`` (inclusive) its days.
    days_elapsed, days_left : int
    prior_strength : float
        The plan's weight, in deals, in the rate's prior (module docstring).
    rows : list of dict
        One per group: ``group`` (``{dimension: value}``, empty for the total), and for
        ``count`` and ``dollars`` each: ``planned`` (the period), ``planned_to_date``,
        ``created``, ``behind`` (planned to date - created; negative when ahead),
        ``remaining`` (planned - created, never below 0), ``per_day_needed``,
        ``per_week_needed``, ``per_day_planned_rest`` (the plan's own average for the days
        left), ``run_rate_per_day``, ``projected`` (expected at the period's end),
        ``probability`` (of making the period's plan).
    warnings : list of str
    """

    _table = "rows"
    scenario: str
    currency: str
    as_of: _dt.date
    period: str
    period_start: _dt.date
    period_end: _dt.date
    days_elapsed: int
    days_left: int
    prior_strength: float
    rows: list
    warnings: list = field(default_factory=list)


def _check_export(opps, as_of, stale_days):
    file = opps.attrs.get("file", "the opportunity table")
    latest = pd.concat([opps["created"], opps["closed"]]).max()
    if pd.isna(latest):
        raise SimcoreError(f"{file}: no dated opportunity in the export")
    if latest < pd.Timestamp(as_of) - pd.Timedelta(days=stale_days):
        raise SimcoreError(
            f"{file}: the export ends on {latest.date()}, more than {stale_days} days before the as-of "
            f"date {as_of}: export it again, or give an earlier --as-of"
        )


def _groups(sc, by):
    dims = list(sc.dimensions)
    if len(set(by)) < len(by):
        twice = next(d for d in by if list(by).count(d) > 1)
        raise SimcoreError(f"--by: the dimension {twice!r} is given twice; name each dimension once")
    for d in by:
        if d not in dims:
            raise SimcoreError(
                f"--by {d}: the scenario has no dimension {d!r}; it has {', '.join(dims) or 'none'}"
            )
    out = [({}, list(range(len(sc.cells))))]
    if by:
        idx = [dims.index(d) for d in by]
        for values in itertools.product(*(sc.dimensions[d] for d in by)):
            cells = [i for i, c in enumerate(sc.cells) if all(c[j] == v for j, v in zip(idx, values))]
            out.append((dict(zip(by, values)), cells))
    return out


def _plans(sc):
    """(count per day, dollars per day, mean size) per cell over the horizon."""
    count, dollars, mean = [], [], []
    for c, p in enumerate(sc.params):
        daily = daily_plan(sc, c)
        m = expected_amount(p.amount)
        mean.append(m)
        if p.creation.kind == "dollars":
            count.append(daily / m)
            dollars.append(daily)
        else:
            count.append(daily)
            dollars.append(daily * m)
    return np.array(count), np.array(dollars), np.array(mean)


def _cell_of(sc, opps):
    """Each opportunity's cell index (-1 where its dimension values are not in the plan)."""
    dims = list(sc.dimensions)
    index = {c: i for i, c in enumerate(sc.cells)}
    if not dims:
        return np.zeros(len(opps), dtype=np.int64)
    keys = zip(*(opps[d].astype(str) for d in dims))
    return np.array([index.get(k, -1) for k in keys], dtype=np.int64)


def pace(
    scenario, opportunities, as_of, *, by=("source",), period=None, prior_strength=1.0, seed=0,
    stale_days=STALE_DAYS,
) -> Pacing:  # fmt: skip
    """Pace the current period's creation against the plan, by group, in count and in dollars.

    Parameters
    ----------
    scenario : Scenario
        The plan (:func:`simcore.load_scenario`).
    opportunities : pandas.DataFrame
        The export's tidy table (:func:`simcore.calibrate.read_opportunities`), with a column
        for each of the scenario's dimensions.
    as_of : date or str
        Deals created before this day are done; the period is the one containing it.
    by : sequence of str
        Dimensions to break the total down by (combinations of their values).
    period : str, optional
        ``week``, ``month`` or ``quarter`` (default: the scenario's reporting period).
    prior_strength : float
        The plan's weight in deals in the rate's prior (see the module docstring).
    seed : int
        Seed of the dollar probability's Monte Carlo.
    stale_days : int
        An export whose latest date is more than this many days before ``as_of`` is refused.

    Returns
    -------
    Pacing

    Examples
    --------
    >>> import simcore, pandas as pd
    >>> sc = simcore.load_scenario("scenarios/smb.toml")
    >>> opps = pd.DataFrame({"created": pd.to_datetime(["2026-04-02"] * 30), "closed": pd.NaT,
    ...                      "amount": 9000.0, "source": "inbound", "product": "Starter"})
    >>> r = pace(sc, opps, "2026-04-16")
    >>> r.period, r.days_elapsed, r.days_left, r.rows[0]["count"]["created"]
    ('2026-04', 15, 15, 30.0)
    """
    sc = check_scenario(scenario)
    as_of = as_date(as_of, "as_of")
    day = (as_of - sc.start).days
    if not 0 <= day < sc.horizon_days:
        end = sc.start + _dt.timedelta(days=sc.horizon_days - 1)
        raise SimcoreError(f"as-of date {as_of} is outside the plan's year ({sc.start} to {end})")
    missing = [d for d in sc.dimensions if d not in opportunities.columns]
    if missing:
        raise SimcoreError(f"the opportunity table has no column for the dimension {missing[0]!r}")
    require_amount(opportunities, "pacing")
    _check_export(opportunities, as_of, stale_days)
    kind = period or sc.period
    per = make_periods(sc.start, sc.horizon_days, kind, sc.fiscal_year_start_month)
    i = int(np.searchsorted(per.start_day, day, side="right") - 1)
    p0, p1 = int(per.start_day[i]), int(per.start_day[i + 1])
    count_plan, dollar_plan, mean = _plans(sc)
    opps = opportunities
    created = opps["created"]
    in_period = (created >= pd.Timestamp(sc.start + _dt.timedelta(days=p0))) & (created < pd.Timestamp(as_of))
    last_year = (created >= pd.Timestamp(as_of) - pd.Timedelta(days=365)) & (created < pd.Timestamp(as_of))
    cell = _cell_of(sc, opps)
    warnings = []
    outside = int((in_period.to_numpy() & (cell < 0)).sum())
    if outside:
        warnings.append(f"{outside} opportunities created in the period are in no cell of the plan: left out")
    amount = opps["amount"].to_numpy(dtype=float)
    blank = ~np.isfinite(amount)
    if (in_period.to_numpy() & blank & (cell >= 0)).any():
        warnings.append("opportunities without an amount count at their cell's planned mean deal size")
    amount = np.where(blank, mean[np.maximum(cell, 0)], amount)
    rng = np.random.default_rng(seed)
    rows = []
    for group, cells in _groups(sc, by):
        mine = np.isin(cell, cells)
        sel = in_period.to_numpy() & mine
        sizes = amount[last_year.to_numpy() & mine]
        if len(sizes) < 20:  # too few of its own deals: the plan's mean size for every deal
            sizes = np.array(
                [float(np.average(mean[cells], weights=count_plan[cells, p0:p1].sum(1) + 1e-12))]
            )
        row = {"group": group}
        for measure, plan, done in (
            ("count", count_plan, float(sel.sum())),
            ("dollars", dollar_plan, float(amount[sel].sum())),
        ):
            row[measure] = _figures(plan[cells], done, p0, day, p1)
        c = row["count"]
        c["probability"], c["projected"] = made_probability(
            c["created"],
            c["planned_to_date"],
            c["planned"] - c["planned_to_date"],
            c["planned"],
            prior_strength,
        )
        r, rate = prior_strength + c["created"], prior_strength + c["planned_to_date"]
        rest = c["planned"] - c["planned_to_date"]
        row["dollars"]["probability"] = (
            _dollar_probability(
                row["dollars"]["created"],
                row["dollars"]["planned"] - row["dollars"]["created"],
                r,
                rate / (rate + rest) if rest > 0 else 1.0,
                sizes,
                rng,
            )
            if rest > 0 or row["dollars"]["created"] >= row["dollars"]["planned"]
            else 0.0
        )
        row["dollars"]["projected"] = row["dollars"]["created"] + r * rest / rate * float(np.mean(sizes))
        rows.append(row)
    return Pacing(
        sc.name, sc.currency, as_of, per.labels[i], sc.start + _dt.timedelta(days=p0),
        sc.start + _dt.timedelta(days=p1 - 1), day - p0, p1 - day, float(prior_strength), rows, warnings,
    )  # fmt: skip


def _figures(plan, done, p0, day, p1):
    """The pacing figures of one group and measure; ``plan`` is (cells, days) per day."""
    planned = float(plan[:, p0:p1].sum())
    to_date = float(plan[:, p0:day].sum())
    rest = planned - to_date
    remaining = max(planned - done, 0.0)
    days_left, elapsed = p1 - day, day - p0
    return {
        "planned": planned,
        "planned_to_date": to_date,
        "created": done,
        "behind": to_date - done,
        "remaining": remaining,
        "per_day_needed": remaining / days_left,
        "per_week_needed": 7.0 * remaining / days_left,
        "per_day_planned_rest": rest / days_left,
        "run_rate_per_day": done / elapsed if elapsed else math.nan,
    }
