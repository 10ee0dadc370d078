"""Resolution of one cell: every parameter from defaults, ``by.<dimension>.<value>`` and ``cell``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from simcore.calendar import periods as make_periods
from simcore.errors import format_path
from simcore.scenario import spec
from simcore.scenario.amounts import expected_amount
from simcore.scenario.values import Uncertain, base

_TOL = 1e-6
# conversion.to_decision and advance rates that leave it nothing to set must agree this closely
# (a rate rounded to a tenth of a percent, on each of a few stages, still agrees).
_AGREE_TOL = 0.005

# ---------------------------------------------------------------------------------------
# Resolution of one cell


@dataclass
class _Leaf:
    value: object
    level: int
    path: list


def _merge(node, dst, src, level, path):
    for key, value in src.items():
        child = node.fields.get(key) if isinstance(node, spec.Table) else node.value
        if isinstance(child, (spec.Table, spec.MapOf)) and isinstance(value, dict):
            _merge(child, dst.setdefault(key, {}), value, level, path + [key])
        else:
            dst[key] = _Leaf(value, level, path + [key])


def _levels(raw, cell, dims):
    levels = [(["defaults"], raw.get("defaults", {}))]
    for dim, value in zip(dims, cell):
        block = (raw.get("by") or {}).get(dim, {}).get(value)
        if block:
            levels.append((["by", dim, value], block))
    block = (raw.get("cell") or {}).get("/".join(cell))
    if block:
        levels.append((["cell", "/".join(cell)], block))
    return levels


def _value(v):
    if isinstance(v, dict):
        if set(v) == set(spec.UNCERTAIN_PERT):
            return Uncertain("pert", float(v["low"]), float(v["base"]), float(v["high"]))
        return Uncertain("beta", float(v["mean"]), float(v["strength"]))
    return v


def _resolve_cell(raw, cell, dims, stages, start, horizon_days, fy_month):
    """Resolve one cell's parameters; returns ``(params, [(path, message), ...])``."""
    merged = {}
    for level, (path, block) in enumerate(_levels(raw, cell, dims)):
        _merge(spec.BLOCK, merged, block, level, path)
    problems = []

    def get(table, key, default=None):
        leaf = (table or {}).get(key)
        return _value(leaf.value) if isinstance(leaf, _Leaf) else default

    def where(table, key, fallback):
        leaf = (table or {}).get(key)
        return format_path(leaf.path) if isinstance(leaf, _Leaf) else fallback

    def level(table, *keys):
        return max((table[k].level for k in keys if isinstance((table or {}).get(k), _Leaf)), default=-1)

    names = [s.name for s in stages]
    k = len(stages)
    entry_name = get(merged, "entry_stage", names[0])
    entry = names.index(entry_name)
    conv = merged.get("conversion", {})
    to_decision = get(conv, "to_decision")
    loss_share_default = get(conv, "lost_competition_share", 0.5)

    stage_params = []
    fixed_product = 1.0
    n_free = 0
    for s in range(k - 1):
        st = merged.get("stages", {}).get(names[s], {})
        adv = get(st, "advance")
        lc, lnd = get(st, "lost_competition"), get(st, "lost_no_decision")
        at = where(st, "advance", f"stages.{names[s]!r}")
        if adv is None and to_decision is None and s >= entry:
            problems.append(
                (
                    f'defaults.stages."{names[s]}".advance',
                    f'no advance rate for stage {names[s]!r}: give stages."{names[s]}".advance '
                    f"or conversion.to_decision",
                )
            )
        share = loss_share_default
        if lc is not None or lnd is not None:
            a = base(adv) if adv is not None else None
            if lc is not None and lnd is not None:
                if a is not None and abs(a + lc + lnd - 1.0) > _TOL:
                    problems.append(
                        (
                            at,
                            f"stage {names[s]!r}: advance + lost_competition + lost_no_decision = "
                            f"{a + lc + lnd:g}, must sum to 1",
                        )
                    )
                share = lc / (lc + lnd) if lc + lnd > 0 else 0.5
            elif a is not None:
                rest = 1.0 - a
                given = lc if lc is not None else lnd
                if given > rest + _TOL:
                    problems.append((at, f"stage {names[s]!r}: advance {a:g} + losses {given:g} exceed 1"))
                other = max(rest - given, 0.0)
                lc_v = given if lc is not None else other
                share = lc_v / rest if rest > 0 else 0.5
            else:
                share = 1.0 if lc is not None and lc > 0 else 0.0
        if adv is not None and s >= entry:
            fixed_product *= base(adv)
        elif s >= entry:
            n_free += 1
        stage_params.append(
            {
                "advance": adv,
                "lost_competition_share": share,
                "dwell": _dist(st.get("dwell", {}), get),
                "growth": get(st, "growth", 1.0),
            }
        )
    if to_decision is not None and n_free > 0 and base(to_decision) > fixed_product + _TOL:
        problems.append(
            (
                where(conv, "to_decision", "conversion.to_decision"),
                f"conversion.to_decision {base(to_decision):g} cannot be reached: stages with their "
                f"own advance rates already multiply to {fixed_product:g}",
            )
        )
    elif (
        to_decision is not None
        and n_free == 0
        and entry < k - 1
        and abs(base(to_decision) - fixed_product) > _AGREE_TOL
    ):
        # Every stage has its own advance: the simulation uses them and to_decision is unused.
        fixed = [names[s] for s in range(entry, k - 1)]
        if len(fixed) == 1:
            rates = f"stage {fixed[0]!r} has its own advance rate {fixed_product:g}"
            fields = f'stages."{fixed[0]}".advance'
        else:
            rates = (
                f"stages {', '.join(map(repr, fixed))} all have their own advance rates, which "
                f"multiply to {fixed_product:g}"
            )
            fields = "the stages' advance rates"
        problems.append(
            (
                where(conv, "to_decision", "conversion.to_decision"),
                f"conversion.to_decision {base(to_decision):g} disagrees with the advance rates: "
                f"{rates}, and no stage is left for to_decision to set; change "
                f"conversion.to_decision to {fixed_product:g}, or {fields}, or give one of "
                f"the two only",
            )
        )

    # Decision stage.
    dec = merged.get("decision", {})
    ratio_level = level(dec, "win_loss_push")
    explicit_level = level(dec, "win", "lost_competition", "lost_no_decision", "push")
    dec_share = get(dec, "lost_competition_share", loss_share_default)
    win = push = None
    if ratio_level > explicit_level:
        w, loss, p = get(dec, "win_loss_push")
        total = w + loss + p
        if total <= 0:
            problems.append((where(dec, "win_loss_push", "decision"), "win_loss_push must not be all zero"))
            total = 1.0
        win, push = w / total, p / total
    else:
        win = get(dec, "win")
        push = get(dec, "push", 0.0)
        if win is None:
            problems.append(
                (
                    "defaults.decision.win",
                    "no win rate at the decision stage: give decision.win or decision.win_loss_push",
                )
            )
        else:
            lc, lnd = get(dec, "lost_competition"), get(dec, "lost_no_decision")
            rest = 1.0 - base(win) - base(push)
            at = where(dec, "win", "decision")
            if rest < -_TOL:
                problems.append((at, f"decision: win {base(win):g} + push {base(push):g} exceed 1"))
            elif lc is not None and lnd is not None:
                if abs(rest - lc - lnd) > _TOL:
                    problems.append(
                        (
                            at,
                            f"decision: win + lost_competition + lost_no_decision + push = "
                            f"{1.0 - rest + lc + lnd:g}, must sum to 1",
                        )
                    )
                dec_share = lc / (lc + lnd) if lc + lnd > 0 else 0.5
            elif lc is not None or lnd is not None:
                given = lc if lc is not None else lnd
                if given > rest + _TOL:
                    problems.append((at, "decision: win + push + losses exceed 1"))
                lc_v = given if lc is not None else max(rest - given, 0.0)
                dec_share = lc_v / rest if rest > 0 else 0.5
    decision = {
        "win": win if win is not None else 0.0,
        "push": push if push is not None else 0.0,
        "lost_competition_share": dec_share,
        "dwell": _dist(dec.get("dwell", {}), get),
        "push_delay": _dist(dec.get("push_delay", {}), get),
        "win_decay": get(dec, "win_decay", 1.0),
        "max_pushes": get(dec, "max_pushes", 3),
    }

    # Amount.
    am = merged.get("amount", {})
    empirical = get(am, "empirical")
    use_empirical = empirical is not None and level(am, "empirical") >= level(am, "median")
    median = get(am, "median")
    if not use_empirical and median is None:
        problems.append(
            (
                "defaults.amount.median",
                "no deal size: give amount.median (with p90_ratio or sigma) or amount.empirical",
            )
        )
    if level(am, "p90_ratio") > level(am, "sigma"):
        sigma = math.log(get(am, "p90_ratio")) / 1.2815515655446004
    else:
        sigma = float(get(am, "sigma", 0.0))
    floor = float(get(am, "floor", 0.0))
    cap = float(get(am, "cap", math.inf))
    if floor > cap:
        problems.append(
            (where(am, "floor", "amount.floor"), f"amount floor {floor:g} is above the cap {cap:g}")
        )
    whale_factor = get(am, "whale_factor", 1.0)
    whale_max = get(am, "whale_factor_max")
    if whale_max is not None and whale_max < base(whale_factor):
        problems.append(
            (
                where(am, "whale_factor_max", "amount.whale_factor_max"),
                f"whale_factor_max {whale_max:g} is below whale_factor {base(whale_factor):g}",
            )
        )
    amount = {
        "kind": "empirical" if use_empirical else "lognormal",
        "median": 1.0 if use_empirical else (median if median is not None else 1.0),
        "sigma": sigma,
        "empirical": [float(x) for x in empirical] if use_empirical else [],
        "whale_probability": get(am, "whale_probability", 0.0),
        "whale_factor": whale_factor,
        "whale_factor_max": float(whale_max) if whale_max is not None else math.nan,
        "floor": floor,
        "cap": cap,
    }

    # Creation.
    cr = merged.get("creation", {})
    per = get(cr, "per", "year")
    if level(cr, "count") > level(cr, "dollars"):
        kind, values = "count", get(cr, "count")
    elif "dollars" in cr:
        kind, values = "dollars", get(cr, "dollars")
    else:
        kind, values = "dollars", []
    n_per = len(make_periods(start, horizon_days, per, fy_month))
    if isinstance(values, list):
        if values and len(values) != n_per:
            problems.append(
                (
                    where(cr, kind, f"creation.{kind}"),
                    f"creation.{kind} has {len(values)} values but the horizon has {n_per} "
                    f"{per}{'s' if n_per != 1 else ''}: give one per {per}, or a single number",
                )
            )
        values = [float(x) for x in values]
    else:
        values = [float(values)] * n_per
    process = get(cr, "process", "poisson")
    dispersion = get(cr, "dispersion")
    if process == "negative_binomial" and dispersion is None:
        problems.append(
            (where(cr, "process", "creation.process"), "negative_binomial creation needs creation.dispersion")
        )
    seasonality = [float(x) for x in get(cr, "seasonality", [1.0] * 12)]
    if sum(seasonality) <= 0:
        problems.append(
            (where(cr, "seasonality", "creation.seasonality"), "seasonality must not be all zero")
        )
        seasonality = [1.0] * 12
    creation = {
        "per": per,
        "kind": kind,
        "values": values,
        "share": float(get(cr, "share", 1.0)),
        "process": process,
        "dispersion": float(dispersion) if dispersion is not None else math.inf,
        "seasonality": seasonality,
        "uplift": float(get(cr, "uplift", 1.0)),
    }
    planned = sum(values) * creation["share"] * creation["uplift"]
    if kind == "dollars" and planned > 0 and not use_empirical and median is None:
        planned = 0.0  # no deal size to count by: reported above, and not again as a units mistake
    elif kind == "dollars" and planned > 0:
        planned /= max(expected_amount(amount), 1e-300)
    if planned > spec.MAX_OPPORTUNITIES_PER_CELL:
        problems.append(
            (
                where(cr, kind, f"creation.{kind}"),
                f"the plan creates more than {spec.MAX_OPPORTUNITIES_PER_CELL:,} opportunities over "
                f"the horizon: check the units (creation.{kind} is per {per})",
            )
        )
    params = {
        "entry_stage": entry,
        "market_loading": float(get(merged, "market_loading", 0.0)),
        "to_decision": to_decision,
        "stages": stage_params,
        "decision": decision,
        "amount": amount,
        "creation": creation,
        "cost_per_dollar": float(get(merged, "cost_per_dollar", 1.0)),
    }
    return params, problems


def _dist(table, get):
    return {
        "dist": get(table, "dist", "lognormal"),
        "mean": get(table, "mean", 30.0),
        "cv": float(get(table, "cv", 0.5)),
    }
