"""The scenario format, declared once.

The same declaration checks scenario files (:func:`check`), generates the published
JSON Schema (:func:`json_schema`, written to ``simcore/scenario.schema.json``) and
guides the merge of parameter blocks (``defaults`` -> ``by.<dimension>.<value>`` ->
``cell."<a>/<b>"``). Field docs here are the reference docs of the format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simcore.scenario.nodes import (  # noqa: F401  (re-exported: the format is read from spec)
    _FLOAT_MAX,
    CATEGORIES,
    EARLIEST_START,
    MAX_ATTAINMENT,
    MAX_CELLS,
    MAX_DIMENSIONS,
    MAX_DISPERSION,
    MAX_DOLLARS,
    MAX_DWELL_DAYS,
    MAX_EMPIRICAL,
    MAX_HORIZON_WEEKS,
    MAX_MULTIPLIER,
    MAX_NAME_LENGTH,
    MAX_OPPORTUNITIES_PER_CELL,
    MAX_RAMP,
    MAX_RATIO,
    MAX_STAGES,
    MAX_STRENGTH,
    MAX_TOTAL_DOLLARS,
    MIN_DISPERSION,
    MIN_DOLLARS,
    MIN_GAMMA_CV,
    MIN_STRENGTH,
    NAME_PATTERN,
    UNCERTAIN_BETA,
    UNCERTAIN_PERT,
    Anything,
    Boolean,
    Date,
    ListOf,
    MapOf,
    Node,
    Number,
    NumberOrCategories,
    NumberOrList,
    Rate,
    Table,
    Text,
    _number_text,
    _short,
    _type_name,
    did_you_mean,
    expected,
    text_problem,
)
from simcore.scenario.optimize_table import OPTIMIZE
from simcore.scenario.programs import GROUP, MAX_PROGRAMS, PROGRAM

# ---------------------------------------------------------------------------------------
# The parameter block: every docs/model.md quantity, settable per cell with inheritance.

DWELL_FAMILIES = ("lognormal", "gamma", "exponential", "fixed")


def Distribution(doc):
    return Table(
        {
            "dist": Text("family: lognormal (default), gamma, exponential or fixed", DWELL_FAMILIES),
            "mean": Number(
                "mean, in days; may be uncertain (a dwell scale)",
                0.0,
                MAX_DWELL_DAYS,
                exclusive_minimum=True,
                uncertain=True,
            ),
            "cv": Number(
                "coefficient of variation (sd / mean); ignored by exponential and fixed; "
                f"gamma needs at least {MIN_GAMMA_CV:g}",
                0.0,
                10.0,
            ),
        },
        doc,
    )


STAGE = Table(
    {
        "advance": Rate("probability of advancing to the next stage at the end of the dwell"),
        "lost_competition": Rate("probability of a loss to competition at this stage", uncertain=False),
        "lost_no_decision": Rate(
            "probability of a loss to no decision at this stage (default: the rest)", uncertain=False
        ),
        "dwell": Distribution("time spent in the stage before the outcome, in days"),
        "growth": Number(
            "amount multiplier applied on advancing out of this stage",
            0.0,
            10.0,
            exclusive_minimum=True,
            uncertain=True,
        ),
    },
    "one open stage before the decision stage",
)

DECISION = Table(
    {
        "win": Rate("probability the decision is a win"),
        "lost_competition": Rate("probability the decision is a loss to competition", uncertain=False),
        "lost_no_decision": Rate(
            "probability the decision is a loss to no decision (default: the rest)", uncertain=False
        ),
        "push": Rate("probability the buyer defers: the deal stays open and decides again later"),
        "win_loss_push": ListOf(
            Number("", 0.0, MAX_RATIO), "ratio form, e.g. [1, 2, 1]: win : loss : push", length=3
        ),
        "lost_competition_share": Rate(
            "share of losses that go to competition when losses are not split", uncertain=False
        ),
        "dwell": Distribution("time in the decision stage before the first decision, in days"),
        "push_delay": Distribution("delay to the next decision after a push, in days"),
        "win_decay": Number(
            "win probability multiplier per push already taken (lost mass goes to no decision)",
            0.0,
            1.0,
            uncertain=True,
        ),
        "max_pushes": Number(
            "pushes allowed; the next push becomes lost to no decision", 0, 1000, integer=True
        ),
    },
    "the decision stage (the last open stage)",
    two_forms=[(("win_loss_push",), ("win", "lost_competition", "lost_no_decision", "push"))],
)

AMOUNT = Table(
    {
        "median": Number(
            "median deal size at creation, in dollars",
            MIN_DOLLARS,
            MAX_DOLLARS,
            uncertain=True,
        ),
        "p90_ratio": Number("spread: 90th percentile / median of the lognormal", 1.0, 100.0),
        "sigma": Number("spread: sigma of log amount", 0.0, 3.6),
        "empirical": ListOf(
            Number("", MIN_DOLLARS, MAX_DOLLARS),
            "historical deal sizes in dollars, resampled instead of the lognormal",
            min_len=1,
            max_len=MAX_EMPIRICAL,
        ),
        "whale_probability": Rate("probability a deal is a whale"),
        "whale_factor": Number(
            "whale amount multiplier (fixed, or the low end with whale_factor_max)",
            1.0,
            1000.0,
            uncertain=True,
        ),
        "whale_factor_max": Number(
            "if given, each whale's factor is uniform in [whale_factor, this]", 1.0, 1000.0
        ),
        "floor": Number("smallest deal size, in dollars", 0.0, MAX_DOLLARS),
        "cap": Number("largest deal size, in dollars", 0.0, MAX_DOLLARS, exclusive_minimum=True),
    },
    "deal size at creation: lognormal by median and spread, or empirical; whale overlay; floor and cap",
    two_forms=[(("empirical",), ("median",)), (("p90_ratio",), ("sigma",))],
)

PERIODS = ("week", "month", "quarter", "year")

CREATION = Table(
    {
        "per": Text("the period a plan number is for: week, month, quarter or year", PERIODS),
        "dollars": NumberOrList(
            Number("", 0.0, MAX_TOTAL_DOLLARS),
            "planned pipeline dollars per period (a number, or one per period of the horizon)",
            max_len=MAX_HORIZON_WEEKS + 1,
        ),
        "count": NumberOrList(
            Number("", 0.0, MAX_OPPORTUNITIES_PER_CELL),
            "planned opportunity count per period (instead of dollars)",
            max_len=MAX_HORIZON_WEEKS + 1,
        ),
        "share": Number(
            "multiplier on dollars/count, e.g. a product's share of its source's plan", 0.0, MAX_MULTIPLIER
        ),
        "process": Text(
            "poisson (default) or negative_binomial for lumpy sources", ("poisson", "negative_binomial")
        ),
        "dispersion": Number(
            "negative binomial size (smaller is lumpier): variance = mean + mean^2 / dispersion; "
            "above the maximum it is Poisson (use poisson)",
            MIN_DISPERSION,
            MAX_DISPERSION,
        ),
        "seasonality": ListOf(
            Number("", 0.0, 1000.0),
            "12 monthly indices, Jan..Dec, relative (normalised to mean 1)",
            length=12,
        ),
        "uplift": Number("program uplift multiplier on the expected count", 0.0, MAX_MULTIPLIER),
        "attainment": Number(
            "share of the planned creation actually delivered (1 = the plan): a number, a PERT "
            "{low, base, high} or a Beta {mean, strength}, drawn once per trial and shared by every "
            "cell the declaring level covers (defaults: one draw for all cells; by.source.inbound: "
            "one for every inbound cell)",
            0.0,
            MAX_ATTAINMENT,
            uncertain=True,
            beta=True,
        ),
        "attainment_loading": Number(
            "correlation of the attainment with the market factor, in [-1, 1] (its distribution "
            "stays as declared); declare it where attainment is declared",
            -1.0,
            1.0,
        ),
    },
    "pipeline creation in the cell's entry stage",
    two_forms=[(("dollars",), ("count",))],
)

CONVERSION = Table(
    {
        "to_decision": Rate(
            "cumulative rate from the entry stage to the decision stage (e.g. stage 1->4 = "
            "50%); split geometrically over stages without an advance rate of their own"
        ),
        "lost_competition_share": Rate(
            "share of pre-decision losses that go to competition (default 0.5)", uncertain=False
        ),
    },
    "conversion as planners state it",
)

BLOCK = Table(
    {
        "entry_stage": Text("stage new opportunities enter (default: the first)", context_choices="stages"),
        "market_loading": Number(
            "loading of the cell's win rate on the market factor (log-odds per sd)", -10.0, 10.0
        ),
        "conversion": CONVERSION,
        "stages": MapOf(
            STAGE,
            "per-stage parameters, by stage name (not the decision stage)",
            keys="open_stages",
            key_doc="stage",
        ),
        "decision": DECISION,
        "amount": AMOUNT,
        "creation": CREATION,
        "cost_per_dollar": Number(
            "cost of one planned pipeline dollar (for the optimizer)", 0.0, MAX_MULTIPLIER
        ),
    },
    "parameters of a cell; the most specific level wins",
)


# Capacity: the teams that create (and carry) the pipeline (docs/model.md "Creation").
MAX_HEADS = 100_000
ROLE = Table(
    {
        "headcount": NumberOrList(
            Number("", 0.0, MAX_HEADS),
            "fully productive heads: a number (at the start), or one per capacity period (the "
            "headcount plan); attrition applies to them from the start",
            max_len=MAX_HORIZON_WEEKS + 1,
        ),
        "hires": NumberOrList(
            Number("", 0.0, MAX_HEADS),
            "heads hired at the start of each capacity period (a number: every period); they ramp",
            max_len=MAX_HORIZON_WEEKS + 1,
        ),
        "ramp_months": Number(
            "months for a hire to reach full productivity, linearly (0: productive at once)", 0.0, 120.0
        ),
        "attrition": Number("share of the role's heads lost per month (not replaced)", 0.0, 1.0),
        "creates": MapOf(
            Number("", 0.0, MAX_OPPORTUNITIES_PER_CELL),
            "opportunities one productive head creates per week, by value of the capacity "
            "dimension (e.g. outbound = 2.5 for an SDR, expansion = 0.6 for a CSM)",
            key_doc="value",
        ),
        "carries": Number(
            "open deals one productive head can carry (an AE); reported against the open deals simulated",
            0.0,
            MAX_OPPORTUNITIES_PER_CELL,
            exclusive_minimum=True,
        ),
        "cost_per_head": Number(
            "loaded cost of one head per year, for `simcore hires` (where the next heads go); "
            "a head hired mid-horizon costs its share of the year",
            0.0,
            MAX_TOTAL_DOLLARS,
        ),
    },
    "one role: its headcount, hires, ramp, attrition, productivity and cost per head",
    required=("headcount",),
)
CAPACITY = Table(
    {
        "dimension": Text(
            "the dimension whose values the roles create for (default source)",
            context_choices="dimension_names",
        ),
        "per": Text(
            "the period of headcount and hires lists: month or quarter (default quarter)",
            ("month", "quarter"),
        ),
        "role": MapOf(ROLE, "roles by name: SDR, AE, CSM or your own", key_doc="role", names=True),
    },
    "the teams that create and carry the pipeline: creation beyond their capacity is not created",
    required=("role",),
)

AGGREGATE_BANK = Table(
    {
        "stage": Text("stage the deals are in", context_choices="stages"),
        "dollars": Number("open dollars", 0.0, MAX_TOTAL_DOLLARS, exclusive_minimum=True),
        "count": Number("number of open deals", 1, MAX_OPPORTUNITIES_PER_CELL, integer=True),
    },
    "open pipeline of one cell and stage at start; add one key per dimension",
    required=("stage", "dollars", "count"),
)

SCENARIO = Table(
    {
        "name": Text("scenario name", max_len=MAX_NAME_LENGTH),
        "description": Text("what the scenario is", max_len=10_000),
        "start": Date("first day of the plan"),
        "horizon_weeks": Number(
            "length of the plan in weeks (default 52)", 1, MAX_HORIZON_WEEKS, integer=True
        ),
        "end": Date("last day of the plan (instead of horizon_weeks)"),
        "fiscal_year_start_month": Number("first month of the fiscal year", 1, 12, integer=True),
        "period": Text("reporting period of the results", PERIODS[:3]),
        "target": Number(
            "bookings target for the whole horizon, in dollars",
            0.0,
            MAX_TOTAL_DOLLARS,
            exclusive_minimum=True,
        ),
        "period_targets": ListOf(
            Number("", 0.0, MAX_TOTAL_DOLLARS),
            "bookings target per reporting period, in dollars",
            max_len=MAX_HORIZON_WEEKS + 1,
        ),
        "currency": Text("currency code of every amount", max_len=16),
        "sampling": Text(
            "how each trial's assumptions and market factor are drawn: random (plain Monte Carlo), "
            "lhs (replicated Latin hypercube) or sobol (scrambled Sobol')",
            ("random", "lhs", "sobol"),
        ),
        "dimensions": MapOf(
            ListOf(Text(name=True), min_len=1, unique=True, max_len=MAX_CELLS),
            'dimension name -> its values, e.g. source = ["inbound", ...]',
            key_doc="dimension",
            names=True,
            max_len=MAX_DIMENSIONS,
        ),
        "stage": ListOf(
            Table(
                {"name": Text("stage name", name=True), "category": Text("forecast category", CATEGORIES)},
                required=("name", "category"),
            ),
            "ordered open stages; the last is the decision stage",
            min_len=1,
            max_len=MAX_STAGES,
        ),
        "defaults": BLOCK,
        "by": MapOf(
            MapOf(BLOCK, keys=None),
            "overrides per dimension value: by.<dimension>.<value>",
            keys="dimension_names",
            key_doc="dimension",
        ),
        "cell": MapOf(BLOCK, 'overrides per cell: cell."inbound/CMP"', keys="cell_names", key_doc="cell"),
        "bank": Table(
            {
                "csv": Text(
                    "CSV of open deals (dimension columns, stage, amount, created, expected_close), "
                    "relative to the scenario's folder and inside it",
                    max_len=4096,
                ),
                "aggregate": ListOf(Anything(), "aggregate open pipeline by cell and stage"),
            },
            "the starting pipeline (the bank at start)",
        ),
        "capacity": CAPACITY,
        "funnel": Table(
            {
                "bookings": Number(
                    "bookings the funnel backsolves from, in dollars (default: target)",
                    0.0,
                    MAX_TOTAL_DOLLARS,
                    exclusive_minimum=True,
                ),
                "starting_bank": Number(
                    "stage-4 bank the plan needs at start, in dollars (default: the "
                    "decision-stage dollars of [bank])",
                    0.0,
                    MAX_TOTAL_DOLLARS,
                ),
                "ending_bank": Number(
                    "stage-4 bank wanted at the end of the horizon, in dollars", 0.0, MAX_TOTAL_DOLLARS
                ),
                "current_bank": Number(
                    "today's stage-4 bank, in dollars (for the bank gap)", 0.0, MAX_TOTAL_DOLLARS
                ),
                "current_bank_date": Date("the date of current_bank (before start)"),
            },
            "plan inputs of the deterministic funnel (simcore funnel), not used by the simulation",
        ),
        "optimize": OPTIMIZE,
        # Programs: decisions a plan may fund (simcore.scenario.programs).
        "program": ListOf(PROGRAM, "programs the plan may fund", max_len=MAX_PROGRAMS),
        "program_group": ListOf(GROUP, "groups of programs that exclude each other"),
        "variants": MapOf(
            Table(
                {
                    "description": Text("what the variant changes"),
                    "set": MapOf(Anything(), "field path -> value"),
                }
            ),
            "named overrides, e.g. Conservative / Base / Stretch",
            key_doc="variant",
            names=True,
        ),
    },
    "a simcore scenario",
    required=("name", "start", "dimensions", "stage", "defaults"),
)


def check(raw, ctx):
    """Check ``raw`` against the format; return ``[(path_parts, message), ...]``."""
    out = []
    SCENARIO.check(raw, [], ctx, out)
    return out


# ---------------------------------------------------------------------------------------
# The default of every field that has one, declared once: resolution reads the value
# (:func:`default`), the field reference prints it (:func:`default_text`). A field missing
# here has no default (the doc says what happens without it).


@dataclass(frozen=True)
class Default:
    """A default the reference states in words: ``value`` is what resolution uses
    (``None`` where it follows from other fields), ``text`` what the reference says.
    """

    value: object
    text: str


DEFAULTS = {
    "horizon_weeks": 52,
    "fiscal_year_start_month": 1,
    "period": "quarter",
    "currency": "USD",
    "sampling": "random",
    "entry_stage": Default(None, "the first stage"),
    "market_loading": 0.0,
    "conversion.lost_competition_share": 0.5,
    "stages.<stage>.lost_no_decision": Default(None, "the rest"),
    "stages.<stage>.growth": 1.0,
    "stages.<stage>.dwell.dist": "lognormal",
    "stages.<stage>.dwell.mean": 30.0,
    "stages.<stage>.dwell.cv": 0.5,
    "decision.push": 0.0,
    "decision.lost_no_decision": Default(None, "the rest"),
    "decision.lost_competition_share": Default(None, "conversion.lost_competition_share"),
    "decision.dwell.dist": "lognormal",
    "decision.dwell.mean": 30.0,
    "decision.dwell.cv": 0.5,
    "decision.push_delay.dist": "lognormal",
    "decision.push_delay.mean": 30.0,
    "decision.push_delay.cv": 0.5,
    "decision.win_decay": 1.0,
    "decision.max_pushes": 3,
    "amount.sigma": 0.0,
    "amount.whale_probability": 0.0,
    "amount.whale_factor": 1.0,
    "amount.floor": 0.0,
    "amount.cap": Default(math.inf, "none"),
    "creation.per": "year",
    "creation.share": 1.0,
    "creation.process": "poisson",
    "creation.seasonality": Default((1.0,) * 12, "all 1"),
    "creation.uplift": 1.0,
    "creation.attainment": Default(None, "none: the plan is delivered"),
    "creation.attainment_loading": 0.0,
    "capacity.dimension": "source",
    "capacity.per": "quarter",
    "capacity.role.<name>.hires": 0.0,
    "capacity.role.<name>.ramp_months": 0.0,
    "capacity.role.<name>.attrition": 0.0,
    "cost_per_dollar": 1.0,
    "optimize.confidence": 0.9,
    "optimize.objective": "creation",
}


def default(path: str):
    """The value a field takes when no level sets it.

    Parameters
    ----------
    path : str
        The field's path as the reference writes it, e.g. ``"decision.max_pushes"`` or
        ``"stages.<stage>.dwell.mean"``.

    Returns
    -------
    object
        The default value (``None`` where it follows from other fields).

    Raises
    ------
    KeyError
        When the field has no default.

    Examples
    --------
    >>> default("decision.max_pushes"), default("amount.cap")
    (3, inf)
    """
    value = DEFAULTS[path]
    return value.value if isinstance(value, Default) else value


def default_text(path: str) -> str:
    """How the field reference states a field's default (``""`` when it has none).

    Parameters
    ----------
    path : str
        The field's path as the reference writes it.

    Returns
    -------
    str

    Examples
    --------
    >>> default_text("stages.<stage>.dwell.mean"), default_text("creation.seasonality")
    ('30', 'all 1')
    """
    if path not in DEFAULTS:
        return ""
    value = DEFAULTS[path]
    if isinstance(value, Default):
        return value.text
    return value if isinstance(value, str) else f"{value:g}"
