"""Re-planning during the year: what is known on the as-of date, and the carryover of creation.

:func:`simcore.optimize.plan.optimize` with ``as_of`` solves for the creation still needed from
the as-of date on (the layout's :meth:`~simcore.optimize.layout.Layout.compiled` simulates the
plan from that day with the export's open deals, and the actual bookings are every trial's).
This module says what the re-plan starts from (:func:`summary`) and computes the simple rules
finance uses for the creation missed or made ahead of plan so far (:func:`carryover`), each
simulated beside the optimizer's plan (docs/optimizer.md, "Re-planning during the year").
"""

from __future__ import annotations

import numpy as np

from simcore.errors import SimcoreError
from simcore.forecast.pacing import _plans
from simcore.optimize.layout import Layout
from simcore.optimize.sample import simulate_plan

#: ``next``: the whole shortfall (or surplus) into the first period still open; ``even``: spread
#: over the days left, each remaining quarter its share of them; ``optimize``: the optimizer's plan.
RULES = ("next", "even", "optimize")


def summary(layout: Layout, target: float) -> dict:
    """What the re-plan starts from: actuals, the open pipeline and the target left.

    Parameters
    ----------
    layout : Layout
        With ``as_of`` set.
    target : float
        The year's bookings target, dollars.

    Returns
    -------
    dict
        ``as_of`` (ISO date), ``day``, ``actual_bookings``, ``actual_deals``, ``open_deals``,
        ``open_pipeline`` (dollars), ``target_left`` (never below 0), ``closed_quarters`` and
        ``current_quarter`` (labels).
    """
    a = layout.as_of
    closed = layout.closed_units()
    labels = list(layout.quarters.labels)
    shut = sorted({int(q) for q in layout.unit_quarter[closed]})
    now = int(layout.quarters.of_day(layout.scenario.horizon_days)[a.day])
    won = float(a.actuals["amount"].sum())
    return {
        "as_of": a.as_of.isoformat(),
        "day": int(a.day),
        "actual_bookings": won,
        "actual_deals": int(len(a.actuals)),
        "open_deals": int(len(a.bank)),
        "open_pipeline": float(np.nansum(a.bank["amount"].to_numpy(dtype=np.float64))),
        "target_left": max(float(target) - won, 0.0),
        "closed_quarters": [labels[q] for q in shut],
        "current_quarter": labels[now],
    }


def still_to_create(layout: Layout, x) -> dict:
    """``{source: {quarter: dollars}}`` of unit dollars ``x`` still to be created from the as-of day.

    A unit's dollars are its whole quarter's (the rate the plan runs at); the quarter that
    contains the as-of date creates only its share still to come.
    """
    x = np.asarray(x, dtype=np.float64) * layout.open_share()
    labels = list(layout.quarters.labels)
    out = {s: dict.fromkeys(labels, 0.0) for s in layout.sources}
    for j in range(layout.n_units):
        out[layout.sources[layout.unit_source[j]]][labels[layout.unit_quarter[j]]] += float(x[j])
    return out


def carryover(layout: Layout, rule: str) -> dict:
    """Creation planned to date against created to date by source, and the re-plan by ``rule``.

    Parameters
    ----------
    layout : Layout
        With ``as_of`` set (from an export: ``created`` holds the deals created so far).
    rule : {"next", "even", "optimize"}
        Where the shortfall (planned to date - created to date; negative: a surplus) goes:
        all into the first quarter still open (the rest of the current one), or spread over
        the days left (each remaining quarter in proportion to its days still to come), or,
        for ``optimize``, nowhere (the optimizer's plan is the re-plan; the figures are shown).

    Returns
    -------
    dict
        ``rule``, ``rows`` (per source: ``source, planned_to_date, created_to_date, shortfall``,
        ``remaining_plan`` and ``replan`` as ``{quarter: dollars}`` still to create), and
        ``x``, the re-plan as unit dollars (None for ``optimize``). A surplus larger than a
        quarter's plan leaves that quarter at 0 (nothing is un-created): ``unused`` says how much.

    Examples
    --------
    >>> import simcore
    >>> from simcore.forecast.asof import as_of_state
    >>> from simcore.optimize.layout import build_layout
    >>> sc = simcore.load_scenario("scenarios/smb.toml")
    >>> lay = build_layout(sc, "source", False)
    >>> lay.as_of = as_of_state(sc, None, "2026-04-01")  # no export: nothing created in Q1
    >>> r = carryover(lay, "next")["rows"][0]
    >>> r["source"], round(r["shortfall"]), round(r["replan"]["2026-Q2"] - r["remaining_plan"]["2026-Q2"])
    ('inbound', 11058385, 11058385)
    """
    if rule not in RULES:
        raise SimcoreError(f"carryover must be one of {', '.join(RULES)}, got {rule!r}")
    sc, a = layout.scenario, layout.as_of
    day, H = int(a.day), sc.horizon_days
    labels = list(layout.quarters.labels)
    of_day = layout.quarters.of_day(H)
    dollars = _plans(sc)[1]  # (C, H) the plan's entry-stage dollars per day
    d = list(sc.dimensions).index(layout.dim)
    source_of = np.array([layout.sources.index(cell[d]) for cell in sc.cells])
    f = a.created
    f = f[f["stage"].to_numpy() == np.array([sc.params[c].entry_stage for c in f["cell"]], dtype=np.int64)]
    f = f[(f["day"].to_numpy() >= 0) & (f["day"].to_numpy() < day)]
    days_left = np.bincount(of_day[day:], minlength=len(labels)).astype(np.float64)
    first = int(of_day[day])
    rows, R = [], np.zeros((len(layout.sources), len(labels)))
    unused = 0.0
    for s, name in enumerate(layout.sources):
        mine = source_of == s
        planned = float(dollars[mine, :day].sum())
        created = float(f["amount"].to_numpy()[source_of[f["cell"].to_numpy(dtype=np.int64)] == s].sum())
        short = planned - created
        rest = np.bincount(of_day[day:], weights=dollars[mine, day:].sum(axis=0), minlength=len(labels))
        share = np.zeros(len(labels))
        if rule == "next":
            share[first] = 1.0
        elif rule == "even":
            share = days_left / days_left.sum()
        wanted = rest + short * share
        R[s] = np.maximum(wanted, 0.0)
        unused += float(R[s].sum() - wanted.sum()) if rule != "optimize" else 0.0
        rows.append(
            {
                "source": name,
                "planned_to_date": planned,
                "created_to_date": created,
                "shortfall": short,
                "remaining_plan": dict(zip(labels, map(float, rest))),
                "replan": dict(zip(labels, map(float, R[s] if rule != "optimize" else rest))),
            }
        )
    x = None if rule == "optimize" else _units_for(layout, R)
    return {"rule": rule, "rows": rows, "x": x, "unused": unused}


def _units_for(layout: Layout, R) -> np.ndarray:
    """Unit dollars whose creation still to come is ``R`` (sources x quarters)."""
    open_share = layout.open_share()
    x = np.zeros(layout.n_units)
    for j in range(layout.n_units):
        s, q = layout.unit_source[j], layout.unit_quarter[j]
        if open_share[j] > 0:
            x[j] = R[s, q] / open_share[j]
    return x


SKIPPED = (
    "not computed as of a date: the day-one bank and the spreadsheet's year do not apply to a year "
    "already under way"
)


def attach(req, as_of, carryover_rule) -> None:
    """Check ``as_of`` and ``carryover`` against the request and put the date on its layout."""
    if as_of is None:
        raise SimcoreError("carryover needs as_of: the creation so far is measured as of a date")
    if not (hasattr(as_of, "model") and hasattr(as_of, "actuals") and hasattr(as_of, "day")):
        raise SimcoreError(
            f"as_of must be simcore.forecast.asof.as_of_state(...)'s AsOf, got {type(as_of).__name__}"
        )
    sc = as_of.scenario
    same = (
        sc.name == req.sc.name
        and list(sc.cell_labels) == list(req.sc.cell_labels)
        and sc.start == req.sc.start
        and sc.horizon_days == req.sc.horizon_days
        and [s.name for s in sc.stages] == [s.name for s in req.sc.stages]
    )
    if not same:
        raise SimcoreError("as_of was read for another scenario: read the export with this plan's scenario")
    if carryover_rule is not None:
        if carryover_rule not in RULES:
            raise SimcoreError(f"carryover must be one of {', '.join(RULES)}, got {carryover_rule!r}")
        if req.free_mix and carryover_rule != "optimize":
            raise SimcoreError("carryover next/even is by source: it does not combine with free_mix")
    req.layout.as_of = as_of
    _check_closed_targets(req)


def _check_closed_targets(req) -> None:
    """A per-quarter target of a quarter already over is its actuals: missed, it cannot be met
    by any plan, and saying so beats an infeasible search that blames something else.
    """
    layout = req.layout
    labels = list(layout.quarters.labels)
    closed = {labels[int(q)] for q in layout.unit_quarter[layout.closed_units()]}
    a = layout.as_of
    quarter = layout.quarters.of_day(layout.scenario.horizon_days)[a.actuals["day"].to_numpy(dtype=np.int64)]
    amount = a.actuals["amount"].to_numpy(dtype=np.float64)
    for t in req.limits.period_targets:
        if t["period"] not in closed:
            continue
        q = labels.index(t["period"])
        won = float(amount[(quarter <= q) if t["cumulative"] else (quarter == q)].sum())
        if won < t["target"]:
            raise SimcoreError(
                f"[optimize] period_target {t['period']}: the quarter is over and booked ${won:,.0f} against "
                f"its ${t['target']:,.0f} target: no plan can change that; drop or lower that target to re-plan"
            )


def report(req, rows, x, confidence, carryover_rule) -> dict:
    """``result.as_of``: the summary, the plan's creation still to come, what was relaxed, and the
    carryover rule's re-plan simulated on the optimizer's own trials (so they compare).
    """
    layout = req.layout
    out = summary(layout, req.target)
    out["still_to_create"] = still_to_create(layout, x)
    out["relaxed"] = list(rows.relaxed)
    out["optimizer"] = {"total": float(np.sum(layout.open_share() * x)), "confidence_in_sample": confidence}
    if carryover_rule is not None:
        c = carryover(layout, carryover_rule)
        if c["x"] is not None:
            sim = simulate_plan(layout, c["x"], req.trials, req.seed)
            c["confidence_in_sample"] = float((sim.bookings(c["x"]).sum(axis=1) >= req.target).mean())
            c["total"] = float(sum(sum(r["replan"].values()) for r in c["rows"]))
        c.pop("x")
        out["carryover"] = c
    return out
