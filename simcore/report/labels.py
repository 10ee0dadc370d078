"""Words of the report: assumptions in the planners' words, what unit each one is in, stage names.

The decision stage and the first stage are named as the scenario names them (``Stage 4`` in the
FY2026 plan, ``Redlines`` in the enterprise one); nothing here says "stage 4" for every plan.
"""

from __future__ import annotations

_ASSUMPTION_WORDS = {
    "to_decision": "conversion to the decision stage",
    "win": "decision-stage win rate",
    "push": "push rate",
    "push_delay_mean": "push delay (days)",
    "win_decay": "win decay per push",
    "median_amount": "median deal size",
    "whale_probability": "whale probability",
    "whale_factor": "whale factor",
    "market_factor": "market factor (a good or bad year everywhere)",
    "advance": "advance rate",
    "dwell_mean": "days in",
    "growth": "amount growth",
}

# The unit of each assumption's settings, as a column kind of :mod:`simcore.format`.
_ASSUMPTION_KINDS = {
    "to_decision": "percent",
    "win": "percent",
    "push": "percent",
    "push_delay_mean": "days",
    "win_decay": "multiple",
    "median_amount": "money",
    "whale_probability": "percent",
    "whale_factor": "multiple",
    "market_factor": "number",
    "advance": "percent",
    "dwell_mean": "days",
    "growth": "multiple",
}


def _key(name: str) -> str:
    base = str(name).partition(" [")[0]
    return base.split("[", 1)[0]


def assumption_label(name: str) -> str:
    """An assumption's internal name in the planners' words.

    Examples
    --------
    >>> assumption_label("to_decision [outbound]")
    'conversion to the decision stage [outbound]'
    >>> assumption_label("dwell_mean[Stage 2]")
    'days in Stage 2'
    >>> assumption_label("something new")
    'something new'
    """
    base, sep, cell = str(name).partition(" [")
    suffix = f" [{cell}" if sep else ""
    if "[" in base and base.endswith("]"):
        key, stage = base[:-1].split("[", 1)
        if key in _ASSUMPTION_WORDS:
            word = _ASSUMPTION_WORDS[key]
            return (f"{word} {stage}" if key == "dwell_mean" else f"{word}, {stage}") + suffix
        return str(name)
    return _ASSUMPTION_WORDS.get(base, base) + suffix


def assumption_kind(name: str) -> str:
    """The column kind (:data:`simcore.format.KINDS`) of an assumption's settings.

    Examples
    --------
    >>> assumption_kind("win [expansion]"), assumption_kind("median_amount"), assumption_kind("x")
    ('percent', 'money', 'number')
    """
    return _ASSUMPTION_KINDS.get(_key(name), "number")


def stage_names(ds) -> tuple:
    """``(first stage, decision stage)`` of a simulated Dataset, as the scenario names them."""
    stages = [str(s) for s in ds.stage.values]
    return stages[0], str(ds.attrs.get("decision_stage", stages[-1]))
