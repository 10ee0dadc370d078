"""Resolution of one cell: every parameter from defaults, ``by.<dimension>.<value>`` and ``cell``.

:func:`resolve_cell` merges the levels field by field (the most specific wins), reads each
part of the cell (stages, decision, amount, creation) into its
:mod:`simcore.scenario.params` dataclass, and returns the problems it finds on the way, each
with the path of the field that set the offending value. Every default comes from
:func:`simcore.scenario.spec.default`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simcore.calendar import period_count
from simcore.errors import format_path
from simcore.scenario import spec
from simcore.scenario.amounts import expected_amount
from simcore.scenario.params import (
    AmountParams,
    CellParams,
    CreationParams,
    DecisionParams,
    Duration,
    StageParams,
)
from simcore.scenario.values import BetaRate, Pert, base

_TOL = 1e-6
# conversion.to_decision and advance rates that leave it nothing to set must agree this closely
# (a rate rounded to a tenth of a percent, on each of a few stages, still agrees).
_AGREE_TOL = 0.005
# The share of losses that go to competition where a stage gives losses that are both zero:
# it multiplies nothing, any value would do.
_NO_LOSS_SHARE = 0.5
# The 90th percentile of the standard normal: p90_ratio = exp(sigma x this).
_Z90 = 1.2815515655446004


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
            return Pert(float(v["low"]), float(v["base"]), float(v["high"]))
        return BetaRate(float(v["mean"]), float(v["strength"]))
    return v


class _Fields:
    """One table of the merged cell: each value with the level and the path that set it."""

    def __init__(self, table):
        self.table = table if isinstance(table, dict) else {}

    def __contains__(self, key):
        return key in self.table

    def sub(self, key) -> _Fields:
        return _Fields(self.table.get(key))

    def get(self, key, default=None):
        leaf = self.table.get(key)
        return _value(leaf.value) if isinstance(leaf, _Leaf) else default

    def where(self, key, fallback):
        """The path of the field that set ``key``, for a problem message."""
        leaf = self.table.get(key)
        return format_path(leaf.path) if isinstance(leaf, _Leaf) else fallback

    def level(self, *keys):
        """The most specific level that set any of ``keys`` (-1: none)."""
        return max((self.table[k].level for k in keys if isinstance(self.table.get(k), _Leaf)), default=-1)


def resolve_cell(raw, cell, dims, stages, start, horizon_days, fy_month):
    """Resolve one cell's parameters.

    Parameters
    ----------
    raw : dict
        The scenario document, already checked against :data:`simcore.scenario.spec.SCENARIO`.
    cell : tuple of str
        The cell's dimension values.
    dims : dict
        Dimension name -> values.
    stages : tuple of Stage
    start : datetime.date
    horizon_days : int
    fy_month : int
        First month of the fiscal year.

    Returns
    -------
    params : CellParams
    problems : list of (str, str)
        ``(field path, message)`` of each thing wrong.
    """
    merged = {}
    for level, (path, block) in enumerate(_levels(raw, cell, dims)):
        _merge(spec.BLOCK, merged, block, level, path)
    fields = _Fields(merged)
    problems = []
    names = [s.name for s in stages]
    entry_name = fields.get("entry_stage", names[0])  # the default: the first stage
    entry = names.index(entry_name)
    conv = fields.sub("conversion")
    loss_share = conv.get("lost_competition_share", spec.default("conversion.lost_competition_share"))
    stage_params = _stages(fields, conv, names, entry, loss_share, problems)
    decision = _decision(fields.sub("decision"), loss_share, problems)
    amount = _amount(fields.sub("amount"), problems)
    creation = _creation(fields.sub("creation"), start, horizon_days, fy_month, problems)
    no_size = amount.kind == "lognormal" and fields.sub("amount").get("median") is None
    _check_plan_size(fields.sub("creation"), creation, amount, no_size, problems)
    params = CellParams(
        entry_stage=entry,
        market_loading=float(fields.get("market_loading", spec.default("market_loading"))),
        to_decision=conv.get("to_decision"),
        stages=stage_params,
        decision=decision,
        amount=amount,
        creation=creation,
        cost_per_dollar=float(fields.get("cost_per_dollar", spec.default("cost_per_dollar"))),
    )
    return params, problems


def _duration(table: _Fields, path: str) -> Duration:
    return Duration(
        dist=table.get("dist", spec.default(f"{path}.dist")),
        mean=table.get("mean", spec.default(f"{path}.mean")),
        cv=float(table.get("cv", spec.default(f"{path}.cv"))),
    )


def _loss_share(name, adv, lc, lnd, at, default, problems):
    """Share of a stage's losses that go to competition, from the losses it gives."""
    if lc is None and lnd is None:
        return default
    a = base(adv) if adv is not None else None
    if lc is not None and lnd is not None:
        if a is not None and abs(a + lc + lnd - 1.0) > _TOL:
            problems.append(
                (
                    at,
                    f"stage {name!r}: advance + lost_competition + lost_no_decision = "
                    f"{a + lc + lnd:g}, must sum to 1",
                )
            )
        return lc / (lc + lnd) if lc + lnd > 0 else _NO_LOSS_SHARE
    if a is not None:
        rest = 1.0 - a
        given = lc if lc is not None else lnd
        if given > rest + _TOL:
            problems.append((at, f"stage {name!r}: advance {a:g} + losses {given:g} exceed 1"))
        other = max(rest - given, 0.0)
        # Within the tolerance a loss may pass what advance leaves (1e-9 beside 1e-16): it
        # is then all of it, so the share stays a share.
        lc_v = min(given, rest) if lc is not None else other
        return lc_v / rest if rest > 0 else _NO_LOSS_SHARE
    return 1.0 if lc is not None and lc > 0 else 0.0


def _stages(fields, conv, names, entry, loss_share, problems):
    """The stages before the decision stage, and the check of ``to_decision`` against them."""
    to_decision = conv.get("to_decision")
    out = []
    fixed_product = 1.0
    n_free = 0
    for s in range(len(names) - 1):
        st = fields.sub("stages").sub(names[s])
        adv = st.get("advance")
        if adv is None and to_decision is None and s >= entry:
            problems.append(
                (
                    f'defaults.stages."{names[s]}".advance',
                    f'no advance rate for stage {names[s]!r}: give stages."{names[s]}".advance '
                    f"or conversion.to_decision",
                )
            )
        at = st.where("advance", f"stages.{names[s]!r}")
        share = _loss_share(
            names[s], adv, st.get("lost_competition"), st.get("lost_no_decision"), at, loss_share, problems
        )
        if adv is not None and s >= entry:
            fixed_product *= base(adv)
        elif s >= entry:
            n_free += 1
        out.append(
            StageParams(
                advance=adv,
                lost_competition_share=share,
                dwell=_duration(st.sub("dwell"), "stages.<stage>.dwell"),
                growth=st.get("growth", spec.default("stages.<stage>.growth")),
            )
        )
    if to_decision is not None:
        _check_to_decision(conv, base(to_decision), fixed_product, n_free, names, entry, problems)
    return tuple(out)


def _check_to_decision(conv, to_decision, fixed_product, n_free, names, entry, problems):
    k = len(names)
    at = conv.where("to_decision", "conversion.to_decision")
    if n_free > 0 and to_decision > fixed_product + _TOL:
        problems.append(
            (
                at,
                f"conversion.to_decision {to_decision:g} cannot be reached: stages with their "
                f"own advance rates already multiply to {fixed_product:g}",
            )
        )
    elif n_free == 0 and entry < k - 1 and abs(to_decision - fixed_product) > _AGREE_TOL:
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
                at,
                f"conversion.to_decision {to_decision:g} disagrees with the advance rates: "
                f"{rates}, and no stage is left for to_decision to set; change "
                f"conversion.to_decision to {fixed_product:g}, or {fields}, or give one of "
                f"the two only",
            )
        )


def _decision(dec: _Fields, loss_share, problems) -> DecisionParams:
    share = dec.get("lost_competition_share", loss_share)  # the default: conversion's
    if dec.level("win_loss_push") > dec.level("win", "lost_competition", "lost_no_decision", "push"):
        w, loss, p = dec.get("win_loss_push")
        total = w + loss + p
        if total <= 0:
            problems.append((dec.where("win_loss_push", "decision"), "win_loss_push must not be all zero"))
            total = 1.0
        win, push = w / total, p / total
    else:
        win = dec.get("win")
        push = dec.get("push", spec.default("decision.push"))
        if win is None:
            problems.append(
                (
                    "defaults.decision.win",
                    "no win rate at the decision stage: give decision.win or decision.win_loss_push",
                )
            )
        else:
            share = _decision_loss_share(dec, win, push, share, problems)
    return DecisionParams(
        win=win if win is not None else 0.0,
        push=push if push is not None else 0.0,
        lost_competition_share=share,
        dwell=_duration(dec.sub("dwell"), "decision.dwell"),
        push_delay=_duration(dec.sub("push_delay"), "decision.push_delay"),
        win_decay=dec.get("win_decay", spec.default("decision.win_decay")),
        max_pushes=dec.get("max_pushes", spec.default("decision.max_pushes")),
    )


def _decision_loss_share(dec, win, push, share, problems):
    lc, lnd = dec.get("lost_competition"), dec.get("lost_no_decision")
    rest = 1.0 - base(win) - base(push)
    at = dec.where("win", "decision")
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
        share = lc / (lc + lnd) if lc + lnd > 0 else _NO_LOSS_SHARE
    elif lc is not None or lnd is not None:
        given = lc if lc is not None else lnd
        if given > rest + _TOL:
            problems.append((at, "decision: win + push + losses exceed 1"))
        lc_v = given if lc is not None else max(rest - given, 0.0)
        share = lc_v / rest if rest > 0 else _NO_LOSS_SHARE
    return share


def _amount(am: _Fields, problems) -> AmountParams:
    empirical = am.get("empirical")
    use_empirical = empirical is not None and am.level("empirical") >= am.level("median")
    median = am.get("median")
    if not use_empirical and median is None:
        problems.append(
            (
                "defaults.amount.median",
                "no deal size: give amount.median (with p90_ratio or sigma) or amount.empirical",
            )
        )
    if am.level("p90_ratio") > am.level("sigma"):
        sigma = math.log(am.get("p90_ratio")) / _Z90
    else:
        sigma = float(am.get("sigma", spec.default("amount.sigma")))
    floor = float(am.get("floor", spec.default("amount.floor")))
    cap = float(am.get("cap", spec.default("amount.cap")))
    if floor > cap:
        problems.append(
            (am.where("floor", "amount.floor"), f"amount floor {floor:g} is above the cap {cap:g}")
        )
    whale_factor = am.get("whale_factor", spec.default("amount.whale_factor"))
    whale_max = am.get("whale_factor_max")
    if whale_max is not None and whale_max < base(whale_factor):
        problems.append(
            (
                am.where("whale_factor_max", "amount.whale_factor_max"),
                f"whale_factor_max {whale_max:g} is below whale_factor {base(whale_factor):g}",
            )
        )
    return AmountParams(
        kind="empirical" if use_empirical else "lognormal",
        # Empirical sizes are resampled as given: the median multiplies them by one.
        median=1.0 if use_empirical else (median if median is not None else 1.0),
        sigma=sigma,
        empirical=tuple(float(x) for x in empirical) if use_empirical else (),
        whale_probability=am.get("whale_probability", spec.default("amount.whale_probability")),
        whale_factor=whale_factor,
        whale_factor_max=float(whale_max) if whale_max is not None else math.nan,
        floor=floor,
        cap=cap,
    )


def _creation(cr: _Fields, start, horizon_days, fy_month, problems) -> CreationParams:
    per = cr.get("per", spec.default("creation.per"))
    if cr.level("count") > cr.level("dollars"):
        kind, values = "count", cr.get("count")
    elif "dollars" in cr:
        kind, values = "dollars", cr.get("dollars")
    else:
        kind, values = "dollars", []
    n_per = period_count(start, horizon_days, per, fy_month)
    if isinstance(values, list):
        if values and len(values) != n_per:
            problems.append(
                (
                    cr.where(kind, f"creation.{kind}"),
                    f"creation.{kind} has {len(values)} values but the horizon has {n_per} "
                    f"{per}{'s' if n_per != 1 else ''}: give one per {per}, or a single number",
                )
            )
        values = [float(x) for x in values]
    else:
        values = [float(values)] * n_per
    process = cr.get("process", spec.default("creation.process"))
    dispersion = cr.get("dispersion")
    if process == "negative_binomial" and dispersion is None:
        problems.append(
            (cr.where("process", "creation.process"), "negative_binomial creation needs creation.dispersion")
        )
    _check_attainment_loading(cr, problems)
    seasonality = [float(x) for x in cr.get("seasonality", spec.default("creation.seasonality"))]
    if sum(seasonality) <= 0:
        problems.append((cr.where("seasonality", "creation.seasonality"), "seasonality must not be all zero"))
        seasonality = [1.0] * 12
    return CreationParams(
        per=per,
        kind=kind,
        values=tuple(values),
        share=float(cr.get("share", spec.default("creation.share"))),
        process=process,
        dispersion=float(dispersion) if dispersion is not None else math.inf,
        seasonality=tuple(seasonality),
        uplift=float(cr.get("uplift", spec.default("creation.uplift"))),
        attainment=cr.get("attainment"),
        attainment_at=cr.where("attainment", ""),
        attainment_loading=float(cr.get("attainment_loading", spec.default("creation.attainment_loading"))),
    )


def _check_attainment_loading(cr: _Fields, problems):
    """A loading belongs to one attainment draw: it must be declared beside it.

    The cells one ``creation.attainment`` declaration covers share one draw, so they must
    share its loading too; a loading declared elsewhere could differ between them.
    """
    if "attainment_loading" not in cr:
        return
    at = cr.where("attainment_loading", "creation.attainment_loading")
    if "attainment" not in cr:
        problems.append((at, "creation.attainment_loading without a creation.attainment to load"))
    elif at.rsplit(".", 1)[0] != cr.where("attainment", "").rsplit(".", 1)[0]:
        problems.append(
            (
                at,
                f"creation.attainment_loading must be declared beside the attainment it loads "
                f"({cr.where('attainment', '')}), so that every cell sharing that draw shares its loading",
            )
        )


def _check_plan_size(cr: _Fields, creation: CreationParams, amount: AmountParams, no_size, problems):
    """A plan of more opportunities than any B2B plan is a units mistake: say so."""
    planned = sum(creation.values) * creation.share * creation.uplift
    if creation.kind == "dollars" and planned > 0 and no_size:
        planned = 0.0  # no deal size to count by: reported already, and not again as a units mistake
    elif creation.kind == "dollars" and planned > 0:
        # rough: a units check needs no last digits, and validate no scipy (start-up time)
        planned /= max(expected_amount(amount, rough=True), 1e-300)
    if planned > spec.MAX_OPPORTUNITIES_PER_CELL:
        problems.append(
            (
                cr.where(creation.kind, f"creation.{creation.kind}"),
                f"the plan creates more than {spec.MAX_OPPORTUNITIES_PER_CELL:,} opportunities over "
                f"the horizon: check the units (creation.{creation.kind} is per {creation.per})",
            )
        )
