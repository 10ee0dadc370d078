"""Creation capacity: what the roles of ``[capacity]`` can create, and the plan capped at it.

A role's productive heads on day ``d`` (days from the plan's start, each day at its midpoint):

    heads(d) = headcount[period of d] x (1 - attrition) ** (d / month)
             + sum over hiring periods k of hires[k] x ramp(d - s_k) x (1 - attrition) ** ((d - s_k) / month)

with ``s_k`` the first day of period ``k`` and ``ramp(t) = min(1, t / (ramp_months x month))``
(0 before the hire starts, averaged exactly over each day): a hire is productive in proportion to how far along the ramp they
are, so a hire's capacity in a period is reduced by the ramp's integral over it. The creation
capacity of value ``v`` of the capacity dimension in week ``w`` is the sum over roles of
``creates[v] x heads(d) / 7`` over the days of ``w``; the plan's expected count in the cells of
``v`` is capped at it, week by week (each cell in proportion), and where the plan asks no more
than the capacity it is left as it is, to the bit. Attainment applies after the cap: what a team
can create caps the plan, and the share of that plan delivered is drawn as declared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simcore.calendar import periods as make_periods
from simcore.scenario.capacity import MONTH_DAYS

# The plan is capped only where it asks for more than this much above the capacity: a capacity
# computed equal to the need (in floating point) changes nothing.
_REL_TOL = 1e-9


def _ramp_mean(t, ramp_days):
    """The mean of the linear ramp ``min(1, x / R)`` (0 before 0) over each day ``[t, t + 1)``:
    exact, so a period's head-days are exactly the ramp's integral.
    """
    if ramp_days <= 0:
        return (t >= 0).astype(np.float64)

    def integral(x):  # of the ramp from 0 to x
        x = np.maximum(x, 0.0)
        # x*x / 2R only where x <= R: past the ramp, a ramp of 1e-300 days would overflow it.
        inside = np.minimum(x, ramp_days)
        return inside * (inside / (2.0 * ramp_days)) + np.maximum(x - ramp_days, 0.0)

    return integral(t + 1.0) - integral(t.astype(np.float64))


def role_heads(role, start, horizon_days, per, fy_month) -> np.ndarray:
    """Productive heads of ``role`` on each day of the horizon (see the module docstring).

    Parameters
    ----------
    role : simcore.scenario.capacity.Role
    start : datetime.date
    horizon_days : int
    per : {"month", "quarter"}
        The period of the role's headcount and hires.
    fy_month : int

    Returns
    -------
    numpy.ndarray
        ``horizon_days`` floats.

    Examples
    --------
    >>> import datetime
    >>> from simcore.scenario.capacity import Role
    >>> r = Role("SDR", (0.0,) * 4, (4.0, 0, 0, 0), 3.0, 0.0, {"outbound": 2.0}, None)
    >>> h = role_heads(r, datetime.date(2026, 1, 1), 364, "quarter", 1)
    >>> round(float(h[:90].mean()), 2), float(h[200])  # half-way up a 3-month ramp, then all 4
    (1.97, 4.0)
    """
    cal = make_periods(start, horizon_days, per, fy_month)
    day = np.arange(horizon_days) + 0.5
    of_day = cal.of_day(horizon_days)
    survive = (1.0 - role.attrition) ** (day / MONTH_DAYS)
    heads = np.asarray(role.headcount, dtype=np.float64)[of_day] * survive
    ramp_days = role.ramp_months * MONTH_DAYS
    for k, n in enumerate(role.hires):
        if n <= 0:
            continue
        t = np.arange(horizon_days) - cal.start_day[k]  # each day [t, t + 1) since the hire
        ramp = _ramp_mean(t, ramp_days)
        heads = heads + n * ramp * (1.0 - role.attrition) ** (np.maximum(t + 0.5, 0.0) / MONTH_DAYS)
    return heads


@dataclass
class CapacityCheck:
    """The plan's creation against the capacity of its roles, and the capped rate.

    Attributes
    ----------
    dimension : str
        The capacity dimension (usually ``source``).
    values : list of str
        Its values that some role creates for (the others are not limited).
    need, capacity : numpy.ndarray
        (values, weeks) the plan's expected opportunities and the roles' capacity.
    factor : numpy.ndarray
        (values, weeks) the share of the plan created (1 where the capacity is enough).
    heads : dict
        Role -> productive heads per day.
    roles : tuple
        The resolved roles.
    """

    dimension: str
    values: list
    need: np.ndarray
    capacity: np.ndarray
    factor: np.ndarray
    heads: dict
    roles: tuple
    week_start: np.ndarray = field(repr=False)
    week_length: np.ndarray = field(repr=False)

    @property
    def limited(self) -> bool:
        """True when capacity caps the plan in some week."""
        return bool((self.factor < 1.0).any())

    def rows(self, periods) -> dict:
        """The report by reporting period: ``{"limited", "creation", "carrying"}``.

        ``creation`` has one row per (period, role that creates): the opportunities the plan
        needs from the role (its share of each value's need, in proportion to its capacity),
        the opportunities it can create, the productive heads it has and would need, and
        whether capacity binds. ``carrying`` has one row per (period, role that carries): the
        open deals its productive heads can carry at the period's end.
        """
        n_days = len(next(iter(self.heads.values()))) if self.heads else 0
        day_week = np.minimum(np.arange(n_days) // 7, len(self.week_start) - 1)
        of_day = periods.of_day(n_days)
        per_day = lambda a: a[:, day_week] / self.week_length[day_week]  # noqa: E731 (weekly to daily)
        need_d, cap_d = per_day(self.need), per_day(self.capacity)
        bind_d = self.factor[:, day_week] < 1.0
        creation, carrying = [], []
        for role in self.roles:
            heads = self.heads[role.name]
            for p, label in enumerate(periods.labels):
                days = of_day == p
                if not days.any():
                    continue
                row = {"period": str(label), "role": role.name}
                if role.creates:
                    available = needed = 0.0
                    binding = False
                    for v, value in enumerate(self.values):
                        rate = role.creates.get(value, 0.0)
                        mine = rate * heads[days] / 7.0  # this role's capacity per day for value
                        available += float(mine.sum())
                        with np.errstate(divide="ignore", invalid="ignore"):
                            share = np.where(cap_d[v, days] > 0, mine / cap_d[v, days], 0.0)
                        needed += float((need_d[v, days] * share).sum())
                        binding |= bool(bind_d[v, days].any() and rate > 0)
                    fte = float(heads[days].mean())
                    creation.append(
                        {
                            **row,
                            "needed": needed,
                            "available": available,
                            "heads": fte,
                            "heads_needed": fte * needed / available if available > 0 else math.inf,
                            "binding": binding,
                        }
                    )
                if role.carries is not None:
                    last = int(np.flatnonzero(days)[-1])
                    carrying.append(
                        {**row, "available": role.carries * float(heads[last]), "heads": float(heads[last])}
                    )
        return {
            "limited": self.limited,
            "dimension": self.dimension,
            "creation": creation,
            "carrying": carrying,
        }


def check_capacity(scenario, rate, week_start, week_length) -> CapacityCheck | None:
    """The capacity check of a scenario's plan (None without ``[capacity]``).

    Parameters
    ----------
    scenario : Scenario
    rate : numpy.ndarray
        (cells, weeks) the plan's expected new opportunities per week.
    week_start, week_length : numpy.ndarray
        The creation weeks (days from the start, and their lengths in days).

    Returns
    -------
    CapacityCheck or None
    """
    cap = scenario.capacity
    if cap is None:
        return None
    sc = scenario
    dim = list(sc.dimensions).index(cap.dimension)
    values = [v for v in sc.dimensions[cap.dimension] if any(v in r.creates for r in cap.roles)]
    heads = {
        r.name: role_heads(r, sc.start, sc.horizon_days, cap.per, sc.fiscal_year_start_month)
        for r in cap.roles
    }
    n_weeks = len(week_start)
    day_week = np.minimum(np.arange(sc.horizon_days) // 7, n_weeks - 1)
    need = np.zeros((len(values), n_weeks))
    capacity = np.zeros((len(values), n_weeks))
    for v, value in enumerate(values):
        cells = [c for c, cell in enumerate(sc.cells) if cell[dim] == value]
        need[v] = rate[cells].sum(axis=0)
        for r in cap.roles:
            if value in r.creates:
                capacity[v] += np.bincount(
                    day_week, heads[r.name] * r.creates[value] / 7.0, minlength=n_weeks
                )
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(need > capacity * (1.0 + _REL_TOL), capacity / need, 1.0)
    return CapacityCheck(
        cap.dimension, values, need, capacity, factor, heads, cap.roles, week_start, week_length
    )


def capped_rate(check: CapacityCheck | None, scenario, rate) -> np.ndarray:
    """``rate`` with each cell's weeks scaled by its value's capacity factor (``rate`` itself,
    the same array, where nothing binds).
    """
    if check is None or not check.limited:
        return rate
    dim = list(scenario.dimensions).index(check.dimension)
    out = rate.copy()
    for v, value in enumerate(check.values):
        cells = [c for c, cell in enumerate(scenario.cells) if cell[dim] == value]
        binds = check.factor[v] < 1.0
        out[np.ix_(cells, np.flatnonzero(binds))] = (
            rate[np.ix_(cells, np.flatnonzero(binds))] * check.factor[v, binds]
        )
    return out
