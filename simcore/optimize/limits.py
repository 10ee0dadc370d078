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
    ending_bank : float or None
        Decision-stage dollars the horizon must end with (0 or None: none).
    ending_bank_from_funnel : bool
        ``ending_bank`` is the default: replaced by the spreadsheet plan's simulated median.
    ending_bank_confidence : float
        P(ending decision-stage bank >= ending_bank) required (default 0.5).
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
    ending_bank: float | None = None
    ending_bank_confidence: float = DEFAULT_ENDING_BANK_CONFIDENCE
    ending_bank_from_funnel: bool = False
    defaults_used: list = field(default_factory=list)

    def ramp_of(self, source: str) -> float:
        """The ramp limit of ``source`` (0: none)."""
        return float(self.ramp.get(source, self.ramp_default))


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
        if 0 < limits.ramp.get(name, 0.0) < 1:
            bad(f"{path}.ramp", f"must be 0 (no limit) or at least 1, got {limits.ramp[name]:g}")
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
    if "ending_bank_confidence" in table:
        limits.ending_bank_confidence = float(table["ending_bank_confidence"])
    if "ending_bank" in table:
        limits.ending_bank = float(table["ending_bank"])
    else:
        # Default: the ending bank the spreadsheet plan really leaves (its simulated median, set by
        # the optimizer once it has simulated that plan), when the funnel plans one.
        limits.ending_bank = _funnel_ending_bank(sc)
        limits.ending_bank_from_funnel = limits.ending_bank > 0
