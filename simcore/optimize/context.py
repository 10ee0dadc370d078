"""What every step of :func:`simcore.optimize.plan.optimize` shares: the request, checked."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from simcore.optimize.layout import Layout
from simcore.optimize.limits import Limits
from simcore.scenario.load import Scenario


def say(progress, message):
    """A progress message on stderr (or to the callable ``progress``)."""
    if progress:
        if callable(progress):
            progress(message)
        else:
            print(f"optimize: {message}", file=sys.stderr, flush=True)


@dataclass
class Request:
    """The checked request and the layout of its plan."""

    sc: Scenario
    layout: Layout
    limits: Limits
    settings: dict
    objective: str
    confidence: float
    target: float
    budget: float | None
    trials: int
    seed: int
    verify_trials: int
    verify_seed: int
    iterations: int
    free_mix: bool
    progress: object = False
    scale: float = 1.0
    floor: float = 1.0
    ub_dollars: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ending_yields: dict | None = None  # from simcore.optimize.sample.quarter_yields
    client: object = None  # a Dask client for the plan's re-simulations (None: here)
    # The other forecast categories' ending-bank rows are in the sample problem (plan.optimize
    # adds them only when the plan found without them misses one: then they can change it).
    category_rows: bool = False

    @property
    def ending(self) -> bool:
        """An ending-bank requirement applies (the decision stage's category, or another)."""
        return bool(self.limits.ending_bank) or bool(self.limits.ending_by_category)

    @property
    def decision_stage(self) -> str:
        """The decision stage's name, as the scenario names it."""
        return self.sc.stages[self.sc.decision_stage].name

    def say(self, message):
        say(self.progress, message)

    def reference(self, x) -> np.ndarray:
        """The plan to simulate for unit dollars ``x``: units at 0 are simulated at the floor (so
        their yield stays measured) and priced at 0; the others at their own dollars, so that the
        linear model is exact in every trial at ``x`` (a unit simulated at more than it plans
        would have its deal noise scaled down, not drawn: the plan's confidence would be a model's).
        """
        cap = np.where(np.isfinite(self.ub_dollars), np.maximum(self.ub_dollars, 0), np.inf)
        x = np.asarray(x, dtype=np.float64)
        return np.minimum(np.where(x > 0, x, self.floor), cap)
