"""The resolved parameters of one cell, as frozen dataclasses.

:func:`simcore.scenario.resolve.resolve_cell` builds them from the scenario file (every
default from :data:`simcore.scenario.spec.DEFAULTS`); :mod:`simcore.engine.compile` turns
them into the kernel's arrays; the funnel and the optimizer read their base values. A
value that may be uncertain is a number, a :class:`~simcore.scenario.values.Pert` or a
:class:`~simcore.scenario.values.BetaRate` (rates only); :func:`~simcore.scenario.values.base`
gives its planning value.
"""

from __future__ import annotations

from dataclasses import dataclass

from simcore.scenario.values import BetaRate, Pert

#: A number, or an assumption drawn once per trial and cell.
Assumption = float | Pert | BetaRate


@dataclass(frozen=True)
class Duration:
    """A time in a stage or a delay after a push, in days.

    Attributes
    ----------
    dist : str
        Family: ``"lognormal"``, ``"gamma"``, ``"exponential"`` or ``"fixed"``.
    mean : float or Pert
        Mean, in days (uncertain: a scale drawn per trial).
    cv : float
        Coefficient of variation (sd / mean); unused by exponential and fixed.
    """

    dist: str
    mean: float | Pert
    cv: float


@dataclass(frozen=True)
class StageParams:
    """One open stage before the decision stage.

    Attributes
    ----------
    advance : float, Pert, BetaRate or None
        Probability of advancing at the end of the dwell; ``None``: set by
        ``conversion.to_decision`` (split geometrically over such stages).
    lost_competition_share : float
        Share of this stage's losses that go to competition.
    dwell : Duration
    growth : float or Pert
        Amount multiplier on advancing out of the stage.
    """

    advance: Assumption | None
    lost_competition_share: float
    dwell: Duration
    growth: float | Pert


@dataclass(frozen=True)
class DecisionParams:
    """The decision stage (the last open stage).

    Attributes
    ----------
    win, push : float, Pert or BetaRate
        Probabilities per decision; the rest is lost.
    lost_competition_share : float
        Share of decision-stage losses that go to competition.
    dwell : Duration
        Time before the first decision.
    push_delay : Duration
        Delay to the next decision after a push.
    win_decay : float or Pert
        Win multiplier per push already taken.
    max_pushes : int
        Pushes allowed; the next becomes lost to no decision.
    """

    win: Assumption
    push: Assumption
    lost_competition_share: float
    dwell: Duration
    push_delay: Duration
    win_decay: float | Pert
    max_pushes: int


@dataclass(frozen=True)
class AmountParams:
    """Deal size at creation, in dollars.

    Attributes
    ----------
    kind : str
        ``"lognormal"`` (by ``median`` and ``sigma``) or ``"empirical"`` (``empirical``
        resampled, times ``median``, which is then 1).
    median : float or Pert
    sigma : float
        Sigma of log amount.
    empirical : tuple of float
        Historical deal sizes (empty for the lognormal).
    whale_probability : float, Pert or BetaRate
    whale_factor : float or Pert
        Whale multiplier (the low end when ``whale_factor_max`` is given).
    whale_factor_max : float
        NaN: the factor is fixed; else each whale's factor is uniform up to this.
    floor, cap : float
        Smallest and largest deal size (cap ``inf``: none).
    """

    kind: str
    median: float | Pert
    sigma: float
    empirical: tuple
    whale_probability: Assumption
    whale_factor: float | Pert
    whale_factor_max: float
    floor: float
    cap: float


@dataclass(frozen=True)
class CreationParams:
    """Planned pipeline creation in the cell's entry stage.

    Attributes
    ----------
    per : str
        The period a plan number is for: ``"week"``, ``"month"``, ``"quarter"`` or ``"year"``.
    kind : str
        ``"dollars"`` or ``"count"``.
    values : tuple of float
        One plan number per period of the horizon (empty: no plan).
    share, uplift : float
        Multipliers on the plan.
    process : str
        ``"poisson"`` or ``"negative_binomial"``.
    dispersion : float
        Negative binomial size (``inf`` for Poisson).
    seasonality : tuple of float
        Twelve monthly indices, January first.
    attainment : float, Pert, BetaRate or None
        Share of the plan delivered, drawn once per trial for every cell its declaration
        covers (None: the plan is delivered).
    attainment_at : str
        The field that declared it (e.g. ``by.source.inbound.creation.attainment``): the
        cells with one ``attainment_at`` share one draw.
    attainment_loading : float
        Correlation of the attainment with the market factor (a Gaussian copula).
    """

    per: str
    kind: str
    values: tuple
    share: float
    process: str
    dispersion: float
    seasonality: tuple
    uplift: float
    attainment: Assumption | None = None
    attainment_at: str = ""
    attainment_loading: float = 0.0

    @property
    def is_empty(self) -> bool:
        """True when the plan creates nothing."""
        return not self.values or sum(self.values) * self.share <= 0


@dataclass(frozen=True)
class CellParams:
    """Every parameter of one cell, resolved (``Scenario.params[i]`` for ``Scenario.cells[i]``).

    Attributes
    ----------
    entry_stage : int
        Index of the stage new opportunities enter.
    market_loading : float
        Loading of the win rate on the market factor (log-odds per sd).
    to_decision : float, Pert, BetaRate or None
        Cumulative rate from the entry stage to the decision stage, if given.
    stages : tuple of StageParams
        One per stage before the decision stage.
    decision : DecisionParams
    amount : AmountParams
    creation : CreationParams
    cost_per_dollar : float
        Cost of one planned pipeline dollar (for the optimizer).
    """

    entry_stage: int
    market_loading: float
    to_decision: Assumption | None
    stages: tuple
    decision: DecisionParams
    amount: AmountParams
    creation: CreationParams
    cost_per_dollar: float
