"""Where the next heads go: hires of ``[capacity]`` roles placed one at a time, greedily.

A candidate is one head of a role, working one value of the capacity dimension (usually a
source; a segment when ``[capacity] dimension = "segment"``) at the role's productivity for it,
hired at the start of one capacity period, with the role's ramp and attrition. Each candidate is
simulated on top of the current plan with the same seed (common random numbers) and scored by
the **bookings added at the confidence**: the shift of the ``1 - confidence`` quantile of the
horizon's bookings (the figure the plan reaches with probability ``confidence``; its P10 at a
confidence of 0.9), ties broken by the mean added. The best is placed, the plan with it becomes
the new base, and every candidate is scored again, until ``heads`` are placed.

A head only adds where capacity binds: where the plan asks no more than the roles can create,
the capped creation is the same array, the run the same bits, and the head adds exactly 0 (such
a candidate is not simulated at all). When no candidate adds anything the placement stops and
says so.

A head's cost is its role's ``cost_per_head`` (a year's loaded cost), or the one given, times
the share of a year from its start to the end of the horizon.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field

import numpy as np

from simcore import checks
from simcore.analysis.programs import paired_change, quarter_bookings
from simcore.calendar import periods as make_periods
from simcore.engine.compile import compile_scenario
from simcore.engine.simulate import as_seed
from simcore.errors import SimcoreError
from simcore.format import money, percent, points, table
from simcore.result import Result
from simcore.scenario.capacity import Role
from simcore.scenario.load import Scenario, check_scenario

__all__ = ["HiresResult", "hire_candidates", "place_hires", "with_hires"]

YEAR_DAYS = 365.25


def hire_candidates(scenario: Scenario, role=None, start=None) -> list:
    """The places one head can go: ``(role, value, period)`` for every role that creates, every
    value it creates for and every capacity period (or the one holding ``start``).

    Parameters
    ----------
    scenario : Scenario
        With a ``[capacity]`` table.
    role : str, optional
        Only this role.
    start : datetime.date, optional
        Only hires at the start of the capacity period holding this date.

    Returns
    -------
    list of (str, str, int)

    Raises
    ------
    SimcoreError
        Without ``[capacity]``, with an unknown role, or a start outside the horizon.

    Examples
    --------
    >>> from simcore import load_scenario
    >>> sdr = {"headcount": 2, "creates": {"outbound": 2.0}, "ramp_months": 3, "cost_per_head": 120_000}
    >>> sc = load_scenario("scenarios/programs.toml").with_overrides({"capacity.role.SDR": sdr})
    >>> hire_candidates(sc)  # one SDR on outbound, hired at the start of each quarter
    [('SDR', 'outbound', 0), ('SDR', 'outbound', 1), ('SDR', 'outbound', 2), ('SDR', 'outbound', 3)]
    """
    cap = scenario.capacity
    if cap is None:
        raise SimcoreError(
            f"{scenario.file}: the scenario has no [capacity] table: there is no role to hire for"
        )
    roles = {r.name: r for r in cap.roles if r.creates}
    if role is not None and role not in roles:
        raise SimcoreError(
            f"unknown role {role!r}: the roles that create are {', '.join(map(repr, roles)) or 'none'}"
        )
    cal = make_periods(scenario.start, scenario.horizon_days, cap.per, scenario.fiscal_year_start_month)
    ks = range(len(cal.labels))
    if start is not None:
        day = (start - scenario.start).days
        if not 0 <= day < scenario.horizon_days:
            raise SimcoreError(
                f"start {start.isoformat()} is outside the plan ({scenario.start.isoformat()} "
                f"for {scenario.horizon_days} days)"
            )
        ks = [int(np.flatnonzero(np.asarray(cal.start_day) <= day)[-1])]
    return [
        (r.name, v, k)
        for r in roles.values()
        if role is None or r.name == role
        for v, rate in r.creates.items()
        if rate > 0
        for k in ks
    ]


def with_hires(scenario: Scenario, placed) -> Scenario:
    """The scenario with one more head per ``(role, value, period)`` of ``placed``.

    Each head is a role of its own in ``[capacity]``: no headcount, one hire at the start of the
    period, the role's ramp and attrition, creating the role's rate for that value only.

    Parameters
    ----------
    scenario : Scenario
    placed : list of (str, str, int)

    Returns
    -------
    Scenario
    """
    cap = scenario.capacity
    by_name = {r.name: r for r in cap.roles}
    n = len(cap.roles[0].headcount)
    extra = []
    for i, (name, value, k) in enumerate(placed):
        r = by_name[name]
        hires = [0.0] * n
        hires[k] = 1.0
        extra.append(
            Role(
                name=f"{name} hire {i + 1}",
                headcount=(0.0,) * n,
                hires=tuple(hires),
                ramp_months=r.ramp_months,
                attrition=r.attrition,
                creates={value: r.creates[value]},
                carries=None,
                cost_per_head=r.cost_per_head,
            )
        )
    return dataclasses.replace(scenario, capacity=dataclasses.replace(cap, roles=cap.roles + tuple(extra)))


def _figures(d, base_year, target, confidence, cost, created) -> dict:
    """What one head adds, from the per-trial paired difference ``d`` of the horizon's bookings."""
    q = 1.0 - confidence
    with_year = base_year + d
    out = {
        "cost": cost,
        "opportunities_added": created,
        "added_p50": float(np.quantile(with_year, 0.5) - np.quantile(base_year, 0.5)),
        "added_at_confidence": float(np.quantile(with_year, q) - np.quantile(base_year, q)),
    }
    out.update(paired_change(d, base_year, target, cost))
    return out


@dataclass
class HiresResult(Result):
    """Heads placed one at a time where they add most bookings at the confidence.

    Attributes
    ----------
    scenario : str
    trials, seed : int
    currency : str
    target : float or None
    confidence : float
    dimension : str
        The capacity dimension (what ``value`` of a placement is).
    candidates : int
        Places evaluated at each step.
    binding : bool
        Whether capacity binds anywhere in the base plan (if not, no head adds anything).
    note : str
        Why fewer heads than asked were placed, if so.
    base : dict
        The base plan's ``p50``, ``at_confidence`` and ``p_hit``.
    placements : list of dict
        In order: ``role``, ``value``, ``start`` and the figures of the head over the plan with
        the heads before it (``cost``, ``opportunities_added``, ``added_mean`` (+ ``_se``),
        ``added_p50``, ``added_at_confidence``, ``bookings_per_dollar``, ``p_hit_change`` (+ ``_se``)).
        ``added_p50`` and ``added_at_confidence`` are shifts of the plan's quantiles (P50 and the
        ``1 - confidence`` quantile of the horizon's bookings), not quantiles of the difference.
    total : dict
        The same figures for all the heads placed, against the base plan.
    """

    scenario: str
    trials: int
    seed: int
    currency: str
    target: float | None
    confidence: float
    dimension: str
    candidates: int
    binding: bool
    note: str
    base: dict
    placements: list
    total: dict
    base_bookings: np.ndarray = field(default=None, repr=False)

    _table = "placements"

    def text(self) -> str:
        """The placements as a table.

        Returns
        -------
        str
        """
        m = lambda v: money(v, self.currency)  # noqa: E731
        conf = percent(self.confidence, 0)
        rows = [
            [
                str(i + 1),
                p["role"],
                p["value"],
                p["start"],
                m(p["added_p50"]),
                m(p["added_at_confidence"]),
                points(p["p_hit_change"]) if "p_hit_change" in p else "-",
                m(p["cost"]),
                f"{p['bookings_per_dollar']:.2f}" if p["bookings_per_dollar"] is not None else "-",
            ]
            for i, p in enumerate(self.placements)
        ]
        b = self.base
        head = [
            f"{self.scenario}: {len(self.placements)} heads placed from {self.candidates} places "
            f"(role x {self.dimension} x start), {self.trials:,} trials, seed {self.seed}, common random numbers",
            f"Base plan: P50 {m(b['p50'])}, at {conf} confidence {m(b['at_confidence'])}"
            + (f", P(hit {m(self.target)}) {percent(b['p_hit'])}" if self.target is not None else ""),
        ]
        if self.placements:
            t = self.total
            head.append(
                f"All {len(self.placements)} together: {m(t['added_p50'])} at P50, "
                f"{m(t['added_at_confidence'])} at {conf} confidence"
                + (f", P(hit) {points(t['p_hit_change'])}" if "p_hit_change" in t else "")
                + f", cost {m(t['cost'])}"
            )
        if self.note:
            head.append(self.note)
        header = ["#", "role", self.dimension, "start", "added P50", f"added at {conf}", "P(hit) change"]
        return "\n".join([*head, ""]) + table(rows, [*header, "cost", "bookings / $"])


def _cost(scenario, cal, k, cost_per_head) -> float:
    return cost_per_head * (scenario.horizon_days - cal.start_day[k]) / YEAR_DAYS


def _head_costs(sc, cands, cost_per_head) -> dict:
    """Cost per head of each candidate's role (the argument, else the role's, else 0)."""
    if cost_per_head is not None:
        return {c[0]: checks.number("cost_per_head", cost_per_head, 0.0) for c in cands}
    by_name = {r.name: r for r in sc.capacity.roles}
    return {c[0]: by_name[c[0]].cost_per_head or 0.0 for c in cands}


def place_hires(
    scenario: Scenario,
    heads: int = 5,
    trials: int = 2_000,
    seed=0,
    *,
    role=None,
    start=None,
    confidence: float = 0.9,
    cost_per_head=None,
    progress=False,
) -> HiresResult:
    """Place ``heads`` hires one at a time where each adds most bookings at the confidence.

    Parameters
    ----------
    scenario : Scenario
        With a ``[capacity]`` table.
    heads : int, default 5
    trials : int, default 2000
    seed : int
        One seed for every run: that is what pairs the trials.
    role : str, optional
        Hire only this role.
    start : datetime.date, optional
        Hire at the start of the capacity period holding this date (default: evaluate every period).
    confidence : float, default 0.9
        Heads are ranked by the shift of the ``1 - confidence`` quantile of bookings.
    cost_per_head : float, optional
        A year's loaded cost of a head (default: the role's ``cost_per_head``, else 0).
    progress : bool or None, default False

    Returns
    -------
    HiresResult

    Examples
    --------
    >>> from simcore import load_scenario
    >>> sdr = {"headcount": 2, "creates": {"outbound": 2.0}, "ramp_months": 3, "cost_per_head": 120_000}
    >>> sc = load_scenario("scenarios/programs.toml").with_overrides({"capacity.role.SDR": sdr})
    >>> r = place_hires(sc, heads=2, trials=200, seed=1)
    >>> [(p["role"], p["start"]) for p in r.placements], r.placements[0]["added_mean"] > 0
    ([('SDR', '2026-01-01'), ('SDR', '2026-01-01')], True)
    """
    sc = check_scenario(scenario)
    heads = checks.whole("heads", heads, 1)
    trials = checks.whole("trials", trials, 1)
    confidence = checks.number("confidence", confidence, 0.0, 1.0)
    seed = as_seed(seed)
    cands = hire_candidates(sc, role, start)
    costs = _head_costs(sc, cands, cost_per_head)
    cal = make_periods(sc.start, sc.horizon_days, sc.capacity.per, sc.fiscal_year_start_month)
    sampling = sc.raw.get("sampling", "random")
    args = (trials, seed, sampling, progress)
    model = compile_scenario(sc, "quarter")
    base_year = quarter_bookings(model, *args).sum(axis=1)
    base = _base(base_year, sc.target, confidence)
    first_year, binding = base_year, model.capacity.limited
    placed, records, note = [], [], ""
    while len(placed) < heads:
        best = None
        for c in cands:
            m = compile_scenario(with_hires(sc, [*placed, c]), "quarter")
            created = float((m.creation_rate - model.creation_rate).sum())
            if np.array_equal(m.creation_rate, model.creation_rate):
                continue  # capacity does not bind where and when this head works: it adds exactly 0
            d = quarter_bookings(m, *args).sum(axis=1) - base_year
            fig = _figures(d, base_year, sc.target, confidence, _cost(sc, cal, c[2], costs[c[0]]), created)
            key = (fig["added_at_confidence"], fig["added_mean"])
            if best is None or key > best[0]:
                best = (key, c, fig, m, d)
        if best is None:
            note = (
                "Capacity binds nowhere a head could work"
                + (" after the heads placed" if placed else "")
                + ": the plan asks no more than the roles can create, so another head adds no bookings."
            )
            break
        _, c, fig, model, d = best
        placed.append(c)
        base_year = base_year + d
        first = sc.start + datetime.timedelta(days=int(cal.start_day[c[2]]))
        records.append({"role": c[0], "value": c[1], "start": first.isoformat(), **fig})
    return HiresResult(
        scenario=sc.name,
        trials=trials,
        seed=seed,
        currency=sc.currency,
        target=sc.target,
        confidence=confidence,
        dimension=sc.capacity.dimension,
        candidates=len(cands),
        binding=binding,
        note=note,
        base=base,
        placements=records,
        total=_figures(
            base_year - first_year,
            first_year,
            sc.target,
            confidence,
            sum(p["cost"] for p in records),
            sum(p["opportunities_added"] for p in records),
        ),
        base_bookings=first_year,
    )


def _base(year, target, confidence) -> dict:
    return {
        "p50": float(np.quantile(year, 0.5)),
        "at_confidence": float(np.quantile(year, 1.0 - confidence)),
        "mean": float(year.mean()),
        "p_hit": float((year >= target).mean()) if target is not None else None,
    }
