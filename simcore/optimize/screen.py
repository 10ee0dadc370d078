"""Screening: the first linearisation's local optima, each simulated at its own dollars.

The linear model at one plan (:mod:`simcore.optimize.sample`) is exact there but scales each
unit's deal noise with its dollars, so plans shaped unlike it look riskier than they are; the
search started from the scenario's own plan stays in that plan's basin. Screening re-simulates
the distinct local optima the several starts find and lets the cheapest (or, for ``p_hit``, the
surest) start the re-linearisation.
"""

from __future__ import annotations

import math

import numpy as np

from simcore.optimize import compare
from simcore.optimize.context import Request
from simcore.optimize.lp import corner_starts, selection_lp
from simcore.optimize.rows import Rows, chances
from simcore.optimize.sample import simulate_plan


def sample_problem(req: Request, rows: Rows, sim):
    """The sample problem on the trials of ``sim``: the limits' rows and one chance row per trial."""
    ch = chances(sim, req.layout, req.target, req.confidence, req.limits, req.scale, req.category_rows)
    return rows.problem(ch, req.budget if req.objective == "p_hit" else None)


# Local optima of the first linearisation re-simulated (each on the first trials of the same sample).
_SCREEN_PLANS = 12
_SCREEN_TRIALS = 2000


def screen(req: Request, rows: Rows, sol, x_best):
    """The cheapest of the first linearisation's distinct local optima, each simulated anew.

    The linear model at a plan scales every trial's bookings of a unit with its dollars, deal
    noise included, so it judges plans shaped unlike the plan simulated too risky (deal noise
    really grows like the square root of the dollars): started from the scenario's own plan, the
    search stays in that plan's basin. Each candidate is simulated at its own dollars on the
    first ``_SCREEN_TRIALS`` trials of the same sample, scaled by the factor that makes it meet
    every chance constraint there, and priced; the cheapest one starts the re-linearisation.
    """
    s = req.scale
    candidates = [x_best / s] + [x for _, x in sol.others[: _SCREEN_PLANS - 1]]
    trials = min(req.trials, _SCREEN_TRIALS)
    best, best_fun = x_best, math.inf
    for x in candidates:
        sim = simulate_plan(req.layout, req.reference(x * s), trials, req.seed, ending=req.ending_yields)
        problem = sample_problem(req, rows, sim)
        lam = max(
            compare.needed_scale(np.zeros(len(ch.h)), ch.G @ x, ch.h, ch.need / len(ch.h))
            for ch in problem.chances
        )
        scaled = x * lam
        if not (math.isfinite(lam) and _within(problem, scaled)):
            # Scaling up breaks a limit: the trial selection on the candidate's own simulation.
            scaled = selection_lp(problem, x).x
            if scaled is None:
                continue
        fun = float(rows.c @ scaled)
        if fun < best_fun:
            best, best_fun = scaled * s, fun
    if best is not x_best:
        req.say(
            f"screened {len(candidates)} local optima on {trials:,} trials: starting from ${best.sum():,.0f}"
        )
    return best


def _within(problem, x) -> bool:
    """``x`` (scaled units) within the bounds and the linear limits of ``problem``."""
    if np.any(x > problem.ub * (1 + 1e-9) + 1e-12) or np.any(x < problem.lb - 1e-12):
        return False
    return not (
        len(problem.b_ub) and np.any(problem.A_ub @ x > problem.b_ub + 1e-9 * np.abs(problem.b_ub) + 1e-12)
    )


def screen_p_hit(req: Request, rows: Rows, problem, x_best, conf_best):
    """:func:`screen` for the ``p_hit`` objective: the plan found and the corner plans (all on one
    unit, or spread over a few), each scaled to spend the budget and simulated at its own dollars;
    the one with the highest confidence there starts the re-linearisation.
    """
    s = req.scale
    cost = rows.cost * s
    trials = min(req.trials, _SCREEN_TRIALS)
    best, best_conf = x_best, -1.0
    for x in [x_best / s] + corner_starts(problem)[: 3 * _SCREEN_PLANS]:
        spend = float(cost @ x)
        if not spend > 0:
            continue
        x = x * req.budget / spend
        if not _within(problem, x):
            continue
        sim = simulate_plan(req.layout, req.reference(x * s), trials, req.seed, ending=req.ending_yields)
        conf = float((sim.bookings(x * s).sum(axis=1) >= req.target).mean())
        if conf > best_conf:
            best, best_conf = x * s, conf
    return best, (conf_best if best is x_best else best_conf)
