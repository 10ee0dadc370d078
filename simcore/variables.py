"""The registry of output variables: one place for every variable's dims, units and meaning.

``{dims}`` stands for the scenario's own dimensions (e.g. ``source, product``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    name: str
    dims: tuple
    units: str
    description: str


_D = "{dims}"
_VARIABLES = [
    Variable(
        "bookings_amount",
        ("trial", "period", _D),
        "{currency}",
        "won dollars booked in the period (deals closed won inside the horizon)",
    ),
    Variable("bookings_count", ("trial", "period", _D), "deals", "deals closed won in the period"),
    Variable(
        "created_amount",
        ("trial", "period", _D, "stage"),
        "{currency}",
        "pipeline dollars entering each stage in the period (stage-1 creation, stage-4 creation)",
    ),
    Variable(
        "created_count", ("trial", "period", _D, "stage"), "deals", "deals entering each stage in the period"
    ),
    Variable(
        "lost_amount",
        ("trial", "period", _D, "stage", "reason"),
        "{currency}",
        "dollars lost in the period, by the stage they were lost at and the reason",
    ),
    Variable(
        "lost_count",
        ("trial", "period", _D, "stage", "reason"),
        "deals",
        "deals lost in the period, by stage and reason",
    ),
    Variable(
        "pushes_amount",
        ("trial", "period", _D),
        "{currency}",
        "dollars of decisions pushed (deferred by the buyer) in the period",
    ),
    Variable("pushes_count", ("trial", "period", _D), "pushes", "decisions pushed in the period"),
    Variable(
        "slipped_amount",
        ("trial", "period", _D),
        "{currency}",
        "dollars open at the period's start with an expected close date in the period, "
        "still open at its end (slipped out of the period)",
    ),
    Variable("slipped_count", ("trial", "period", _D), "deals", "deals that slipped out of the period"),
    Variable(
        "due_amount",
        ("trial", "period", _D, "category"),
        "{currency}",
        "open dollars at the period's start whose expected close date falls in the period, "
        "by forecast category",
    ),
    Variable(
        "due_count",
        ("trial", "period", _D, "category"),
        "deals",
        "open deals at the period's start expected to close in the period",
    ),
    Variable(
        "bank_amount",
        ("trial", "period", _D, "category"),
        "{currency}",
        "open pipeline dollars at the period's end, by forecast category",
    ),
    Variable(
        "bank_count",
        ("trial", "period", _D, "category"),
        "deals",
        "open deals at the period's end, by forecast category",
    ),
    Variable(
        "starting_bank_amount",
        ("trial", _D, "category"),
        "{currency}",
        "open pipeline dollars at the plan's start, by forecast category",
    ),
    Variable("starting_bank_count", ("trial", _D, "category"), "deals", "open deals at the plan's start"),
    Variable(
        "won_pushes",
        ("trial", "period", _D),
        "pushes",
        "pushes taken before the win by deals won in the period",
    ),
    Variable(
        "won_cycle_days",
        ("trial", "period", _D),
        "days",
        "summed creation-to-close days of deals won in the period whose creation date is known",
    ),
    Variable(
        "won_cycle_count",
        ("trial", "period", _D),
        "deals",
        "deals won in the period whose creation date is known (divides won_cycle_days)",
    ),
    Variable(
        "bookings_by_cohort",
        ("trial", "period", "cohort", _D),
        "{currency}",
        "won dollars by close period and the (fiscal) quarter the deal was created in ('bank': the "
        "starting pipeline)",
    ),
    Variable(
        "cycle_time_count",
        ("trial", _D, "cycle_bin"),
        "deals",
        "won deals by creation-to-close time, in days",
    ),
    Variable(
        "assumption",
        ("trial", "parameter", _D),
        "various",
        "each trial's drawn assumptions per cell (constant across trials where the scenario gives a "
        "number rather than a distribution; for a stage whose rate comes from a cumulative "
        "conversion, the per-stage rate that conversion gives in the trial)",
    ),
    Variable(
        "assumption_drawn",
        ("parameter", _D),
        "1",
        "True where the assumption is drawn per trial (a PERT or a Beta); False where the scenario "
        "gives a number or the value follows from others (a per-stage rate from a cumulative conversion)",
    ),
    Variable(
        "opportunities",
        ("trial",),
        "deals",
        "opportunities simulated in the trial: created during the horizon plus the starting bank",
    ),
    Variable("market_factor", ("trial",), "sd", "the trial's market factor (standard normal)"),
    Variable(
        "attainment",
        ("trial", "attainment_group"),
        "share",
        "each trial's creation attainment per declaration (the share of the planned creation "
        "delivered; present when the scenario declares creation.attainment)",
    ),
    Variable(
        "attainment_drawn",
        ("attainment_group",),
        "",
        "True where the attainment is drawn per trial (a PERT or a Beta); False for a number",
    ),
    Variable("period_start", ("period",), "date", "first day of the period (ISO 8601)"),
    Variable("period_end", ("period",), "date", "last day of the period inside the horizon (ISO 8601)"),
    Variable(
        "period_target",
        ("period",),
        "{currency}",
        "bookings target of the period (when the scenario gives one per period)",
    ),
]

VARIABLES = {v.name: v for v in _VARIABLES}

# The results' own dimensions and variables: a scenario dimension may not take one of these
# names (xarray would merge the two, or refuse the Dataset).
RESERVED_NAMES = tuple(
    dict.fromkeys([d for v in _VARIABLES for d in v.dims if d != _D] + [v.name for v in _VARIABLES])
)


def dims_of(name: str, scenario_dims) -> tuple:
    """The dims of variable ``name`` with ``{dims}`` expanded."""
    out = []
    for d in VARIABLES[name].dims:
        out.extend(scenario_dims if d == _D else [d])
    return tuple(out)


def attrs_of(name: str, currency: str) -> dict:
    v = VARIABLES[name]
    return {"units": v.units.replace("{currency}", currency), "description": v.description}
