"""The optimizer's plan checked: in-sample figures and the independent out-of-sample simulation
(:func:`simcore.optimize.plan.optimize`, step 6), and the ending banks by forecast category.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simcore.optimize.context import Request
from simcore.optimize.rows import period_hits
from simcore.optimize.sample import simulate_plan


@dataclass
class Check:
    """The plan's confidences: in-sample, out of sample, and whether it falls short."""

    conf_in: float
    conf_out: float = math.nan
    se_out: float = math.nan
    short: bool = False
    period_in: list = field(default_factory=list)
    period_out: list = field(default_factory=list)
    ending_in: float | None = None
    ending_out: float | None = None
    categories_in: dict = field(default_factory=dict)  # other forecast categories' ending banks
    categories_out: dict = field(default_factory=dict)
    trials_needed: int | None = None
    resolved_from: int | None = None


def verify(req: Request, state) -> Check:
    """In-sample figures, and the independent simulation (``verify_trials``, ``verify_seed``)."""
    x, lim = state.x, req.limits
    bookings = state.sim.bookings(x)
    check = Check(float((bookings.sum(axis=1) >= req.target).mean()))
    check.period_in = [float(h.mean()) for h in period_hits(bookings, req.layout, lim)]
    if lim.ending_bank:
        check.ending_in = float((state.sim.ending(x) >= lim.ending_bank).mean())
    check.categories_in = category_hits(state.sim, x, lim)
    if not req.verify_trials:
        return check
    req.say(f"verifying: {req.verify_trials:,} new trials (seed {req.verify_seed})")
    vsim = simulate_plan(
        req.layout,
        req.reference(x),
        req.verify_trials,
        req.verify_seed,
        ending=req.ending_yields,
        client=req.client,
    )
    vbook = vsim.bookings(x)
    check.conf_out = float((vbook.sum(axis=1) >= req.target).mean())
    se = math.sqrt(req.confidence * (1 - req.confidence) / req.verify_trials)
    check.se_out = math.sqrt(max(check.conf_out * (1 - check.conf_out), 1e-12) / req.verify_trials)
    check.period_out = [float(h.mean()) for h in period_hits(vbook, req.layout, lim)]
    if lim.ending_bank:
        check.ending_out = float((vsim.ending(x) >= lim.ending_bank).mean())
    check.categories_out = category_hits(vsim, x, lim)
    shortfall = req.confidence - check.conf_out
    if req.objective != "p_hit" and shortfall > 2 * se:
        check.short = True
        # The sample problem's optimism shrinks like 1 / sqrt(trials): trials that bring it under 2 SE.
        check.trials_needed = int(math.ceil(req.trials * (shortfall / (2 * se)) ** 2 / 1000.0) * 1000)
    return check


def categories_met(req: Request, state) -> bool:
    """Every other category's ending bank met in the plan's own simulation (at its confidence)."""
    lim, T = req.limits, req.trials
    hits = category_hits(state.sim, state.x, lim)
    return all(
        round(hits[cat] * T) >= math.ceil(lim.ending_confidence_by_category[cat] * T - 1e-9) for cat in hits
    )


def category_hits(sim, x, lim) -> dict:
    """Per other forecast category asked for: the share of trials ending with its requirement."""
    return {
        cat: float((sim.category_ending(cat, x) >= E).mean()) for cat, E in lim.ending_by_category.items()
    }
