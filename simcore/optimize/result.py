"""The optimizer's answer, :class:`OptimizeResult`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simcore.format import json_safe


@dataclass
class OptimizeResult:
    """The optimizer's answer, read like :class:`scipy.optimize.OptimizeResult`.

    Money is in dollars; plans are planned stage-1 (entry-stage) pipeline created.

    Attributes
    ----------
    x : numpy.ndarray
        The plan, sources x quarters (dollars); ``plan`` is the same as a dict.
    fun : float
        The objective at the plan: total stage-1 dollars (``creation``), total cost (``cost``),
        or the in-sample confidence (``p_hit``).
    success, feasible : bool
        ``feasible``: a plan meets every constraint at the requested confidence in-sample.
        ``success``: the confidence is met: in-sample at least the request (the plan itself,
        simulated), and out of sample no more than 2 standard errors short.
    message : str
        What happened, in words; for an infeasible request, the best confidence reachable and
        the limit that stops it.
    confidence_target, confidence_in_sample, confidence_out_of_sample : float
        Requested; reached in the ``trials`` simulated (the plan itself, simulated); reached in
        an independent simulation (``verify_trials`` trials, ``verify_seed``).
    plan, plan_by_product, plan_weekly : dict
        ``{source: {quarter: dollars}}``, ``{source: {product: {quarter: dollars}}}`` and
        ``{source: [dollars per week]}`` (weeks from the start, 7 days each).
    stage4_targets, stage4_weekly, stage4_by_product : dict
        Expected decision-stage creation the plan implies, by source and the quarter it happens
        in, per week, and by source, product and quarter.
    expected_ending_stage4_bank : float
        Expected bank in the decision stage's forecast category at the end of the horizon (the
        spreadsheet plans for one; this plan does not, unless its limits ask for creation late).
    binding : list of dict
        Constraints at their limit with their shadow price: the change in the objective per
        dollar of relaxation (and per dollar of target for a confidence constraint).
    marginal_bookings : dict
        ``{source: {quarter: d bookings-at-the-confidence / d dollar of creation}}``: the
        bookings the plan's (1 - confidence) quantile gains per extra planned dollar.
    spreadsheet : dict
        The uniform spreadsheet plan for the same target: its stage-1 requirement (simcore.funnel)
        and the confidence it actually reaches when simulated; ``scaled``, the same plan scaled
        to the requested confidence and ending bank; ``breakdown``, the saving from the
        spreadsheet's figure to this plan's in dollars by step (push, sizing to the confidence
        and ending bank, timing and source mix; see :func:`simcore.optimize.compare.breakdown`).
    required_bank : dict
        The smallest stage-4 bank on day one that makes a plan hit the target at the confidence
        (the scenario's own plan, and this plan), the gap from today's bank and the weekly
        run-rate that builds it.
    period_targets : list of dict
        Each per-quarter target with its confidence in-sample and out-of-sample.
    history : list of dict
        Each re-simulation: total planned dollars, objective, in-sample confidence.
    bound, gap : float
        A lower bound on the objective of the sample problem (the plan's own linearisation,
        ``trials`` trials) and the relative gap ``(fun - bound) / fun``, as a MILP solver reports
        them; ``certificate`` says how the bound was obtained.
    ending_bank : dict
        The ending decision-stage bank asked for (dollars, confidence) and reached (in-sample,
        out-of-sample, expected).
    defaults_used : list of str
        Limits applied by default (ramp, ending bank), in words.
    decision_stage : str
        The decision stage's name, as the scenario names it.
    trials_needed : int or None
        When the out-of-sample check falls short: about how many in-sample trials would close it.
    best_confidence : float or None
        When the request is infeasible: the highest confidence of the annual target the limits
        allow (the plan shown reaches it); None otherwise.
    as_of : dict or None
        A re-plan as of a date (:func:`simcore.optimize.replan.report`): actuals, open pipeline,
        target left, the creation still to come, and the carryover rule's plan simulated.
    """

    x: np.ndarray
    fun: float
    success: bool
    feasible: bool
    message: str
    objective: str
    confidence_target: float
    confidence_in_sample: float
    confidence_out_of_sample: float
    confidence_out_of_sample_se: float
    target: float
    plan: dict
    plan_by_product: dict
    plan_weekly: dict
    stage4_targets: dict
    stage4_weekly: dict
    stage4_by_product: dict
    total_stage1: float
    total_cost: float
    bookings_at_confidence: float
    expected_ending_stage4_bank: float
    binding: list
    marginal_bookings: dict
    spreadsheet: dict
    required_bank: dict
    period_targets: list
    history: list
    nit: int
    trials: int
    seed: int
    verify_trials: int
    verify_seed: int
    elapsed_seconds: float
    scenario: str = ""
    currency: str = "USD"
    quarters: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    budget: float | None = None
    bound: float = float("nan")
    gap: float = float("nan")
    certificate: str = ""
    ending_bank: dict = field(default_factory=dict)
    defaults_used: list = field(default_factory=list)
    decision_stage: str = "Stage 4"
    trials_needed: int | None = None
    as_of: dict | None = None
    best_confidence: float | None = None

    def __repr__(self):
        return (
            f"OptimizeResult(feasible={self.feasible}, success={self.success}, fun={self.fun:.6g}, "
            f"confidence_in_sample={self.confidence_in_sample:.4f}, "
            f"confidence_out_of_sample={self.confidence_out_of_sample:.4f}, gap={self.gap:.4f}, message={self.message!r})"
        )

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (what ``simcore optimize --json`` prints)."""
        out = {
            "scenario": self.scenario,
            "currency": self.currency,
            "objective": self.objective,
            "target": self.target,
            "budget": self.budget,
            "confidence_target": self.confidence_target,
            "confidence_in_sample": self.confidence_in_sample,
            "confidence_out_of_sample": self.confidence_out_of_sample,
            "confidence_out_of_sample_se": self.confidence_out_of_sample_se,
            "feasible": self.feasible,
            "success": self.success,
            "message": self.message,
            "fun": self.fun,
            "plan": self.plan,
            "plan_by_product": self.plan_by_product,
            "plan_weekly": self.plan_weekly,
            "stage4_targets": self.stage4_targets,
            "stage4_weekly": self.stage4_weekly,
            "stage4_by_product": self.stage4_by_product,
            "total_stage1": self.total_stage1,
            "total_cost": self.total_cost,
            "total_stage4": float(sum(sum(v.values()) for v in self.stage4_targets.values())),
            "bookings_at_confidence": self.bookings_at_confidence,
            "expected_ending_stage4_bank": self.expected_ending_stage4_bank,
            "spreadsheet_total_stage1": self.spreadsheet.get("total_stage1"),
            "spreadsheet": self.spreadsheet,
            "required_bank": self.required_bank,
            "binding": self.binding,
            "marginal_bookings": self.marginal_bookings,
            "period_targets": self.period_targets,
            "history": self.history,
            "nit": self.nit,
            "trials": self.trials,
            "seed": self.seed,
            "verify_trials": self.verify_trials,
            "verify_seed": self.verify_seed,
            "elapsed_seconds": self.elapsed_seconds,
            "bound": self.bound,
            "gap": self.gap,
            "certificate": self.certificate,
            "ending_bank": self.ending_bank,
            "defaults_used": self.defaults_used,
            "decision_stage": self.decision_stage,
            "trials_needed": self.trials_needed,
            "as_of": self.as_of,
            "best_confidence": self.best_confidence,
        }
        return json_safe(out)
