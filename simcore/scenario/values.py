"""The small value types a resolved scenario is made of: uncertain assumptions, stages, bank deals."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Uncertain:
    """An assumption drawn once per trial and cell.

    ``kind`` is ``"pert"`` (``a, b, c`` = low, base, high) or ``"beta"`` (``a`` = mean,
    ``b`` = strength).
    """

    kind: str
    a: float
    b: float
    c: float = math.nan

    @property
    def base(self) -> float:
        """The planning value: PERT's base, Beta's mean."""
        return self.b if self.kind == "pert" else self.a

    @property
    def mean(self) -> float:
        """Expected value of the draw."""
        if self.kind == "pert":
            return (self.a + 4.0 * self.b + self.c) / 6.0
        return self.a


def base(value) -> float:
    """The planning value of a number or an :class:`Uncertain`."""
    return value.base if isinstance(value, Uncertain) else float(value)


@dataclass(frozen=True)
class Stage:
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
