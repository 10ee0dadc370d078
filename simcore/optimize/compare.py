"""Like with like: the spreadsheet plan as written and scaled to the optimizer's confidence and
ending bank, and the starting bank a plan would need.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from simcore.analysis.funnel import funnel, funnel_inputs, starting_decision_bank
from simcore.errors import ScenarioError, SimcoreError
from simcore.optimize.context import Request
from simcore.optimize.sample import simulate_plan


def needed_scale(base, per_unit, need_level, confidence) -> float:
    """Smallest ``lam`` with ``base_t + lam * per_unit_t >= need_level`` in a ``confidence`` share of trials."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(
            per_unit > 0, (need_level - base) / per_unit, np.where(base >= need_level, 0.0, np.inf)
        )
    return float(np.quantile(np.maximum(lam, 0.0), confidence, method="inverted_cdf"))


def scale_to_request(req: Request, cells, trials, seed, tries=6) -> dict:
    """The plan ``cells`` scaled by one factor until it meets the target at the confidence and the
    ending bank at its confidence, in ``trials`` simulated trials (each step simulated exactly).
    """
    lam, out, best = 1.0, {}, None
    for _ in range(tries):
        sim = simulate_plan(req.layout, None, trials, seed, cells=cells * lam, ending=req.ending_yields)
        annual = sim.bookings(sim.x).sum(axis=1)
        conf = float((annual >= req.target).mean())
        plan_part = annual - sim.bank.sum(axis=1)
        step = needed_scale(sim.bank.sum(axis=1), plan_part, req.target, req.confidence)
        end_conf, lim, met_others = None, req.limits, True
        if lim.ending_bank:
            ending = sim.ending(sim.x)
            end_conf = float((ending >= lim.ending_bank).mean())
            per = sim.unit_ending.sum(axis=1)
            step = max(step, needed_scale(sim.bank_ending, per, lim.ending_bank, lim.ending_bank_confidence))
        for cat, E in lim.ending_by_category.items():  # every other category asked for, like with like
            total, unit = sim.other_endings[cat]
            alpha = lim.ending_confidence_by_category[cat]
            met_others &= float((total >= E).mean()) >= _need(alpha, trials)
            step = max(step, needed_scale(total - unit.sum(axis=1), unit.sum(axis=1), E, alpha))
        out = {
            "scale": lam,
            "total_stage1": float(cells.sum() * lam),
            "confidence": conf,
            "ending_bank_confidence": end_conf,
            "expected_ending_bank": float(sim.ending_total.mean()),
        }
        met = (
            conf >= _need(req.confidence, trials)
            and (end_conf is None or end_conf >= _need(lim.ending_bank_confidence, trials))
            and met_others
        )
        if met and (best is None or out["scale"] < best["scale"]):
            best = out
        if met and step >= 0.999:
            break
        # The linear model is exact at the plan simulated; a little over its answer converges in a step or two.
        lam *= step * (1.0 + 1e-3) if math.isfinite(step) and step > 0 else 2.0
    if best is not None:
        best["met"] = True
        return best
    out["met"] = False
    return out


def _need(alpha, trials) -> float:
    return math.ceil(alpha * trials - 1e-9) / trials


def sheet_cells(req: Request):
    """The spreadsheet plan's (cells, quarters) dollars (None when the funnel cannot backsolve)."""
    sc, layout = req.sc, req.layout
    try:
        f = funnel(sc, bookings=req.target)
    except (ScenarioError, SimcoreError):
        return None
    by_cell = np.array(
        [max(f.by_cell[label]["stage1_created_needed_no_push"], 0.0) for label in sc.cell_labels]
    )
    ref = layout.reference
    total = ref.sum(axis=1, keepdims=True)
    shape = np.where(
        total > 0,
        ref / np.maximum(total, 1e-300),
        layout.season_sum / np.maximum(layout.season_sum.sum(axis=1, keepdims=True), 1e-300),
    )
    return by_cell[:, None] * shape


def spreadsheet(req: Request, trials, seed, optimized_stage1) -> dict:
    """The spreadsheet plan (every non-win retires) as written, and scaled to equal confidence and
    ending bank; the saving at equal confidence and ending bank, and what push contributes.
    """
    sc, layout = req.sc, req.layout
    try:
        f = funnel(sc, bookings=req.target)
    except (ScenarioError, SimcoreError) as exc:
        return {"total_stage1": None, "note": f"no spreadsheet plan: {exc}"}
    cells = sheet_cells(req)
    req.say(f"simulating the spreadsheet plan (${cells.sum():,.0f}, {trials:,} trials)")
    written = scale_to_request(req, cells, trials, seed, tries=1)
    req.say("scaling the spreadsheet plan to the same confidence and ending bank")
    scaled = scale_to_request(req, cells, trials, seed)
    plan = {s: dict.fromkeys(layout.quarters.labels, 0.0) for s in layout.sources}
    d = list(sc.dimensions).index(layout.dim)
    for c, cell in enumerate(sc.cells):
        for qi, q in enumerate(layout.quarters.labels):
            plan[cell[d]][q] += float(cells[c, qi])
    saving = 1.0 - optimized_stage1 / scaled["total_stage1"] if scaled["total_stage1"] else math.nan
    return {
        "breakdown": breakdown(
            float(f.stage1_created_needed_no_push),
            float(f.stage1_created_needed),
            scaled["total_stage1"],
            optimized_stage1,
        ),
        "total_stage1": float(f.stage1_created_needed_no_push),
        "total_stage1_with_push": float(f.stage1_created_needed),
        "retire_multiple": float(f.retire_multiple_no_push),
        "retire_multiple_with_push": float(f.retire_multiple),
        "ending_bank": float(f.ending_bank),
        "confidence": written["confidence"],
        "simulated_ending_bank": written["expected_ending_bank"],
        "scaled": scaled,
        "saving_equal_confidence": saving,
        "push_share_of_sheet": 1.0 - f.stage1_created_needed / f.stage1_created_needed_no_push
        if f.stage1_created_needed_no_push
        else math.nan,
        "trials": int(trials),
        "seed": int(seed),
        "plan": plan,
        "note": "the spreadsheet's backsolve: retire multiple 1/win (every non-win retires), ending "
        "decision-stage bank from [funnel]; spread over cells and quarters like the scenario's own plan",
    }


def breakdown(as_written, with_push, scaled, optimized) -> dict:
    """From the spreadsheet's stage-1 requirement to the optimized plan's: each step's saving (dollars).

    - ``push``: what the spreadsheet's own backsolve drops when pushes slip instead of retiring
      (deterministic: the funnel with and without push);
    - ``confidence_and_ending_bank``: the push-aware figure against the spreadsheet's shape sized
      by simulation (pushes, timing and uncertainty counted) to meet the requested confidence and
      ending bank: negative when they need more than the push-aware backsolve asks;
    - ``timing_and_mix``: what choosing when and from which source to create saves at equal
      confidence and ending bank (the spreadsheet's shape scaled, against the optimized plan).

    The per-cell rates are a property of the scenario, not of the plan: their worth is the
    difference between two scenarios' optimized plans (docs/optimizer.md, "Like with like").
    ``push + confidence_and_ending_bank + timing_and_mix == as_written - optimized``.

    Examples
    --------
    >>> b = breakdown(100.0, 80.0, 90.0, 75.0)
    >>> b["push"], b["confidence_and_ending_bank"], b["timing_and_mix"]
    (20.0, -10.0, 15.0)
    """
    return {
        "as_written": as_written,
        "push": as_written - with_push,
        "confidence_and_ending_bank": with_push - scaled,
        "timing_and_mix": scaled - optimized,
        "optimized": optimized,
    }


def required_bank(req: Request, x, sim, file_plan, file_sim) -> dict:
    """Smallest decision-stage bank on day one at which a plan hits the target at the confidence.

    Scaling the decision-stage bank deals' amounts by ``beta`` scales their bookings exactly
    (a deal's fate does not depend on its amount), so trial t hits when
    ``other_t + beta * bank4_t >= target``: the required ``beta`` is a quantile.
    """
    sc, target, confidence = req.sc, req.target, req.confidence
    bank4_now = float(starting_decision_bank(sc).sum())
    out = {"current_stage4_bank": bank4_now}
    if bank4_now <= 0:
        out["note"] = "the scenario has no decision-stage bank to scale"
        return out
    req.say("required starting bank")
    b4 = simulate_plan(req.layout, req.reference(x), req.trials, req.seed, only_bank4=True).bank.sum(axis=1)

    def needed(total):
        return needed_scale(total - b4, b4, target, confidence) * bank4_now

    out["for_optimized_plan"] = needed(sim.bookings(x).sum(axis=1))
    if file_sim is None:
        req.say("simulating the scenario's own plan")
        file_sim = simulate_plan(req.layout, req.reference(file_plan), req.trials, req.seed)
    out["for_scenario_plan"] = needed(file_sim.bookings(file_plan).sum(axis=1))
    out["scenario_plan_total_stage1"] = float(file_plan.sum())
    out["scenario_plan_confidence"] = float((file_sim.bookings(file_plan).sum(axis=1) >= target).mean())
    f_in = funnel_inputs(sc)
    today = f_in.get("current_bank", bank4_now)
    weeks = req.settings.get("bank_build_weeks")
    if weeks is None and f_in.get("current_bank_date") is not None:
        weeks = (sc.start - f_in["current_bank_date"]).days / 7.0
    out["today_stage4_bank"] = float(today)
    out["weeks_to_build"] = float(weeks) if weeks else None
    for key in ("for_scenario_plan", "for_optimized_plan"):
        gap = out[key] - float(today)
        out[key.replace("for_", "gap_")] = gap
        out[key.replace("for_", "weekly_run_rate_")] = gap / weeks if weeks and math.isfinite(gap) else None
    return out


def default_ending_bank(req: Request):
    """The spreadsheet plan's simulated median ending bank becomes the requirement (said in words)."""
    cells = sheet_cells(req)
    planned = req.limits.ending_bank
    if cells is None:
        req.limits.ending_bank = 0.0
        return
    sim = simulate_plan(
        req.layout, None, min(req.trials, 2000), req.seed, cells=cells, ending=req.ending_yields
    )
    value = float(np.median(sim.ending_total))
    req.limits = replace(req.limits, ending_bank=value, ending_bank_from_funnel=False,
                         defaults_used=list(req.limits.defaults_used))  # fmt: skip
    req.limits.defaults_used.append(
        f"ending {req.decision_stage} bank ${value:,.0f} at {req.limits.ending_bank_confidence:.0%} "
        f"confidence: what the spreadsheet plan, simulated, ends with (its funnel plans ${planned:,.0f}); "
        "[optimize] ending_bank sets it, 0 lifts it"
    )
