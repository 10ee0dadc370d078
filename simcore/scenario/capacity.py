"""The ``[capacity]`` table, resolved: roles, their headcount over time and what they produce.

:func:`resolve_capacity` checks what the field declarations cannot (a value of the capacity
dimension a role creates for, list lengths against the horizon, a ramp longer than the
horizon, a role that neither creates nor carries) and returns the roles as frozen
dataclasses; :mod:`simcore.engine.capacity` turns them into creation capacity per week.
"""

from __future__ import annotations

from dataclasses import dataclass

from simcore.calendar import period_count
from simcore.scenario import spec

# Days in a month, on average: ramps and attrition are stated per month.
MONTH_DAYS = 365.25 / 12


@dataclass(frozen=True)
class Role:
    """One role of ``[capacity]``.

    Attributes
    ----------
    name : str
    headcount, hires : tuple of float
        Per capacity period: the fully productive heads, and the heads hired at its start.
    ramp_months, attrition : float
        Months to full productivity (linear), share of heads lost per month.
    creates : dict
        Value of the capacity dimension -> opportunities one productive head creates per week.
    carries : float or None
        Open deals one productive head can carry.
    cost_per_head : float or None
        Loaded cost of one head per year (what ``simcore hires`` charges a hire).
    """

    name: str
    headcount: tuple
    hires: tuple
    ramp_months: float
    attrition: float
    creates: dict
    carries: float | None
    cost_per_head: float | None = None


@dataclass(frozen=True)
class Capacity:
    """The resolved ``[capacity]`` table: ``dimension``, ``per`` (month or quarter) and ``roles``."""

    dimension: str
    per: str
    roles: tuple


def _per_period(value, n):
    return tuple(float(x) for x in value) if isinstance(value, list) else (float(value),) * n


def resolve_capacity(raw, dims, start, horizon_days, fy_month) -> tuple:
    """``(Capacity or None, problems)`` of a scenario document already checked field by field.

    Parameters
    ----------
    raw : dict
    dims : dict
        Dimension name -> values.
    start : datetime.date
    horizon_days, fy_month : int

    Returns
    -------
    (Capacity or None, list of (str, str))
        ``(field path, message)`` of each thing wrong.
    """
    table = raw.get("capacity")
    if table is None:
        return None, []
    problems = []
    dim = table.get("dimension", spec.default("capacity.dimension"))
    per = table.get("per", spec.default("capacity.per"))
    if dim not in dims:
        problems.append(("capacity.dimension", f"unknown dimension {dim!r}{spec.expected(dim, list(dims))}"))
        return None, problems
    n = period_count(start, horizon_days, per, fy_month)
    roles = []
    for name, role in table["role"].items():
        at = f"capacity.role.{name}"
        for key in ("headcount", "hires"):
            value = role.get(key)
            if isinstance(value, list) and len(value) != n:
                problems.append(
                    (
                        f"{at}.{key}",
                        f"has {len(value)} values but the horizon has {n} {per}s: give one per {per}",
                    )
                )
        ramp = float(role.get("ramp_months", spec.default("capacity.role.<name>.ramp_months")))
        if ramp * MONTH_DAYS > horizon_days:
            problems.append(
                (
                    f"{at}.ramp_months",
                    f"a ramp of {ramp:g} months is longer than the horizon ({horizon_days} days): "
                    f"no hire would reach full productivity",
                )
            )
        creates = role.get("creates", {})
        for value in creates:
            if value not in dims[dim]:
                problems.append(
                    (f"{at}.creates.{value}", f"unknown {dim} {value!r}{spec.expected(value, dims[dim])}")
                )
        if not creates and "carries" not in role:
            problems.append((at, f"role {name!r} neither creates (creates) nor carries (carries) anything"))
        roles.append(
            Role(
                name=name,
                headcount=_per_period(role["headcount"], n),
                hires=_per_period(role.get("hires", spec.default("capacity.role.<name>.hires")), n),
                ramp_months=ramp,
                attrition=float(role.get("attrition", spec.default("capacity.role.<name>.attrition"))),
                creates={k: float(v) for k, v in creates.items()},
                carries=float(role["carries"]) if "carries" in role else None,
                cost_per_head=float(role["cost_per_head"]) if "cost_per_head" in role else None,
            )
        )
    if problems:
        return None, problems
    return Capacity(dimension=dim, per=per, roles=tuple(roles)), []
