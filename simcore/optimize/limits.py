"""What a plan must respect: the scenario's ``[optimize]`` table, read into :class:`Limits`.

Defaults that shape the plan (each one is said in the optimizer's output):

- **ramp 1.5**: a source's weekly creation in a quarter is at most 1.5 times, and at least
  1/1.5 of, its rate in the quarter before. A team that creates $4M this quarter does not create
  $12M or nothing the next; a source the plan does not use stays at zero. ``ramp = 0`` lifts it.
- **ending bank**: the decision-stage bank the horizon must end with, at ``ending_bank_confidence``
  (default 0.5, the median): next year's starting pipeline. Default, when the ``[funnel]`` table
  plans an ending bank: what the spreadsheet plan, simulated, really ends with (its median), so
  that the two plans are compared at the same ending bank; else none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simcore.calendar import periods
from simcore.errors import Problem as ScenarioProblem
from simcore.errors import ScenarioError
from simcore.scenario.load import Scenario
from simcore.scenario.spec import CATEGORIES

DEFAULT_RAMP = 1.5
DEFAULT_ENDING_BANK_CONFIDENCE = 0.5
_PER_SOURCE = (
    "min",
    "max",
    "min_per_quarter",
    "max_per_quarter",
    "capacity_per_week",
    "capacity_dollars_per_week",
    "ramp",
    "shape_ramp",
)


@dataclass
class Limits:
    """What each team can really produce, and the other conditions a plan must meet.

    All money in dollars of planned stage-1 (entry-stage) pipeline, per source.

    Attributes
    ----------
    min, max : dict
        Source -> total over the horizon.
    min_per_quarter, max_per_quarter : dict
        Source -> per quarter.
    capacity_per_week : dict
        Source -> opportunities the team can create per week (e.g. SDRs x meetings x
        conversion); becomes ``x[s, q] <= capacity x weeks in q x mean deal size``.
    capacity_dollars_per_week : dict
        Source -> pipeline dollars per week.
    mix : list of dict
        ``{"sources": [...], "min_share": 0.4}``: at least that share of the (expected)
        decision-stage creation comes from those sources.
    period_targets : list of dict
        ``{"period": "2026-Q2", "target": dollars, "confidence": 0.8, "cumulative": False}``:
        bookings in that quarter (or year to date) at their own confidence.
    budget : float or None
        Total cost (sum of cost_per_dollar x planned dollars) for the ``p_hit`` objective.
    ramp : dict
        Source -> largest quarter-over-quarter ratio of weekly creation, both ways (0: none).
        Sources not named take ``ramp_default``.
    ramp_default : float
        The ramp of sources not in ``ramp`` (default 1.5; 0 lifts it).
    shape_ramp : dict
        Source -> largest ratio, both ways, of a quarter's share of the source's creation to its
        share in the scenario's own plan (0: none; 1: the plan's shape exactly). Sources not
        named take ``shape_ramp_default`` (default 0: no limit).
    ending_bank : float or None
        Decision-stage dollars the horizon must end with (0 or None: none).
    ending_bank_from_funnel : bool
        ``ending_bank`` is the default: replaced by the spreadsheet plan's simulated median.
    ending_bank_confidence : float
        P(ending decision-stage bank >= ending_bank) required (default 0.5).
    ending_by_category : dict
        Forecast category (other than the decision stage's) -> dollars the horizon must end with
        in it, from ``ending_bank = {commit = 5e6, best_case = 8e6}``; the decision stage's
        category, when named there, is ``ending_bank``.
    ending_confidence_by_category : dict
        Category -> P(ending bank in it >= its requirement), for ``ending_by_category``
        (``ending_bank_confidence``, or its entry for the category when it is a table).
    """

    min: dict = field(default_factory=dict)
    max: dict = field(default_factory=dict)
    min_per_quarter: dict = field(default_factory=dict)
    max_per_quarter: dict = field(default_factory=dict)
    capacity_per_week: dict = field(default_factory=dict)
    capacity_dollars_per_week: dict = field(default_factory=dict)
    mix: list = field(default_factory=list)
    period_targets: list = field(default_factory=list)
    budget: float | None = None
    ramp: dict = field(default_factory=dict)
    ramp_default: float = DEFAULT_RAMP
    shape_ramp: dict = field(default_factory=dict)
    shape_ramp_default: float = 0.0
    ending_bank: float | None = None
    ending_bank_confidence: float = DEFAULT_ENDING_BANK_CONFIDENCE
    ending_bank_from_funnel: bool = False
    ending_by_category: dict = field(default_factory=dict)
    ending_confidence_by_category: dict = field(default_factory=dict)
    defaults_used: list = field(default_factory=list)

    def ramp_of(self, source: str) -> float:
        """The ramp limit of ``source`` (0: none)."""
        return float(self.ramp.get(source, self.ramp_default))

    def shape_ramp_of(self, source: str) -> float:
        """The limit of ``source`` against the scenario's own shape (0: none)."""
        return float(self.shape_ramp.get(source, self.shape_ramp_default))


def _funnel_ending_bank(sc: Scenario) -> float:
    table = sc.raw.get("funnel") or {}
    return float(table.get("ending_bank", 0.0)) if isinstance(table, dict) else 0.0


def read_limits(sc: Scenario, dim: str = "source") -> tuple:
    """The scenario's ``[optimize]`` table as ``(Limits, settings)``; every problem names its field.

    ``settings`` holds ``confidence``, ``objective``, ``free_mix`` and ``bank_build_weeks``
    when the table gives them. ``Limits.defaults_used`` lists, in words, the defaults that
    were applied because the table is silent (ramp, ending bank).

    Examples
    --------
    >>> import simcore
    >>> limits, settings = read_limits(simcore.load_scenario("scenarios/fy2026.toml"))
    >>> limits.max["inbound"], settings["confidence"], limits.ramp_of("inbound")
    (20000000.0, 0.9, 1.5)
    """
    table = sc.raw.get("optimize") or {}
    problems = []
    limits = Limits()
    sources = sc.dimensions.get(dim, [])
    where = "optimize"

    def bad(path, msg):
        problems.append(ScenarioProblem(sc.file, path, msg))

    def one_of(name):
        return f"unknown {dim} {name!r}; expected one of {', '.join(map(repr, sources))}"

    for name, spec in (table.get("source") or {}).items():
        path = f"{where}.source.{name}"
        if name not in sources:
            bad(path, one_of(name))
            continue
        for key in _PER_SOURCE:
            if key in spec:
                getattr(limits, key)[name] = float(spec[key])
        if name in limits.min and name in limits.max and limits.min[name] > limits.max[name]:
            bad(f"{path}.min", f"min {limits.min[name]:g} is above max {limits.max[name]:g}")
        for key in ("ramp", "shape_ramp"):
            value = getattr(limits, key).get(name, 0.0)
            if 0 < value < 1:
                bad(f"{path}.{key}", f"must be 0 (no limit) or at least 1, got {value:g}")
    for i, m in enumerate(table.get("mix") or []):
        unknown = [s for s in m.get("sources", []) if s not in sources]
        if unknown:
            bad(f"{where}.mix[{i}].sources", one_of(unknown[0]))
            continue
        limits.mix.append({"sources": list(m["sources"]), "min_share": float(m["min_share"])})
    _read_period_targets(sc, table, limits, bad)
    if "budget" in table:
        limits.budget = float(table["budget"])
    _read_shape(sc, table, limits, bad)
    if problems:
        raise ScenarioError(problems)
    settings = {
        k: table[k] for k in ("confidence", "objective", "free_mix", "bank_build_weeks") if k in table
    }
    return limits, settings


def _read_period_targets(sc, table, limits, bad):
    labels = periods(sc.start, sc.horizon_days, "quarter", sc.fiscal_year_start_month).labels
    for i, t in enumerate(table.get("period_target") or []):
        path = f"optimize.period_target[{i}]"
        if t.get("period") not in labels:
            bad(
                f"{path}.period",
                f"unknown quarter {t.get('period')!r}; the horizon's quarters are {', '.join(labels)}",
            )
            continue
        if not isinstance(t.get("cumulative", False), bool):
            bad(f"{path}.cumulative", f"must be true or false, got {t['cumulative']!r}")
            continue
        limits.period_targets.append(
            {
                "period": t["period"],
                "target": float(t["target"]),
                "confidence": float(t.get("confidence", table.get("confidence", 0.9))),
                "cumulative": bool(t.get("cumulative", False)),
            }
        )


def _read_shape(sc, table, limits, bad):
    """Ramp and ending bank, with their defaults recorded in words."""
    if "ramp" in table:
        limits.ramp_default = float(table["ramp"])
        if 0 < limits.ramp_default < 1:
            bad("optimize.ramp", f"must be 0 (no limit) or at least 1, got {limits.ramp_default:g}")
    else:
        limits.defaults_used.append(
            f"ramp {DEFAULT_RAMP:g}x: no source's weekly creation moves more than {DEFAULT_RAMP:g}x "
            "quarter over quarter (default; [optimize] ramp = 0 lifts it)"
        )
    if "shape_ramp" in table:
        limits.shape_ramp_default = float(table["shape_ramp"])
        if 0 < limits.shape_ramp_default < 1:
            bad(
                "optimize.shape_ramp",
                f"must be 0 (no limit) or at least 1, got {limits.shape_ramp_default:g}",
            )
    if isinstance(table.get("ending_bank"), dict) or isinstance(table.get("ending_bank_confidence"), dict):
        _read_ending_by_category(sc, table, limits, bad)
        return
    if "ending_bank_confidence" in table:
        limits.ending_bank_confidence = float(table["ending_bank_confidence"])
    if "ending_bank" in table:
        limits.ending_bank = float(table["ending_bank"])
    else:
        # Default: the ending bank the spreadsheet plan really leaves (its simulated median, set by
        # the optimizer once it has simulated that plan), when the funnel plans one.
        limits.ending_bank = _funnel_ending_bank(sc)
        limits.ending_bank_from_funnel = limits.ending_bank > 0


def _read_ending_by_category(sc, table, limits, bad):
    """``ending_bank = {commit = 5e6, best_case = 8e6}``: dollars by forecast category at the end of
    the horizon, each at ``ending_bank_confidence`` (a number, or a table by category). The
    decision stage's category, when named, is ``ending_bank``; the others ``ending_by_category``.
    A table replaces the default (no funnel-derived decision-stage requirement).
    """
    decision = sc.stages[sc.decision_stage].category
    banks = table.get("ending_bank", {})
    if not isinstance(banks, dict):  # a number, with confidences by category
        banks = {decision: float(banks)}
    conf = table.get("ending_bank_confidence", DEFAULT_ENDING_BANK_CONFIDENCE)
    for cat in banks:
        if cat not in CATEGORIES:
            bad(f"optimize.ending_bank.{cat}", f"unknown forecast category {cat!r}; expected one of "
                f"{', '.join(map(repr, CATEGORIES))}")  # fmt: skip
    if isinstance(conf, dict):
        for cat in conf:
            if cat not in banks:
                bad(
                    f"optimize.ending_bank_confidence.{cat}",
                    f"no ending_bank requirement for {cat!r} to be confident of; ending_bank names "
                    f"{', '.join(map(repr, banks)) or 'none'}",
                )
    limits.ending_bank = 0.0
    for cat, value in banks.items():
        if cat not in CATEGORIES:
            continue
        c = float(conf.get(cat, DEFAULT_ENDING_BANK_CONFIDENCE) if isinstance(conf, dict) else conf)
        if cat == decision:
            limits.ending_bank, limits.ending_bank_confidence = float(value), c
        elif float(value) > 0:
            limits.ending_by_category[cat] = float(value)
            limits.ending_confidence_by_category[cat] = c
