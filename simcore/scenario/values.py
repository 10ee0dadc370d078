"""The small value types a resolved scenario is made of: uncertain assumptions, stages, bank deals."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Pert:
    """An assumption drawn once per trial and cell from a PERT by its low, base and high values.

    Examples
    --------
    >>> Pert(1.0, 2.0, 9.0).mean
    3.0
    """

    low: float
    base: float
    high: float

    @property
    def mean(self) -> float:
        """Expected value of the draw: (low + 4 base + high) / 6."""
        return (self.low + 4.0 * self.base + self.high) / 6.0


@dataclass(frozen=True)
class BetaRate:
    """A rate drawn once per trial and cell from a Beta by its mean and strength (a + b).

    The strength is like a number of past deals observed: the larger, the tighter.

    Examples
    --------
    >>> BetaRate(0.25, 40.0).base
    0.25
    """

    mean: float
    strength: float

    @property
    def base(self) -> float:
        """The planning value: the mean."""
        return self.mean


#: An uncertain assumption: drawn once per trial and cell.
UNCERTAIN = (Pert, BetaRate)


def base(value) -> float:
    """The planning value of a number, a :class:`Pert` (its base) or a :class:`BetaRate` (its mean).

    Parameters
    ----------
    value : float, Pert or BetaRate

    Returns
    -------
    float

    Examples
    --------
    >>> base(Pert(1.0, 2.0, 5.0)), base(0.3)
    (2.0, 0.3)
    """
    return value.base if isinstance(value, UNCERTAIN) else float(value)


@dataclass(frozen=True)
class Stage:
    """One open stage of the funnel: its name and forecast category."""

    name: str
    category: str


@dataclass(frozen=True)
class BankDeal:
    """One open opportunity at start (days are relative to the plan start; NaN if unknown)."""

    cell: int
    stage: int
    amount: float
    created: float = math.nan
    expected_close: float = math.nan
