"""Calibration from CRM history, and synthetic CRM history to test it on.

The module is callable: ``simcore.calibrate(opportunities, as_of=...)`` is
:func:`simcore.calibrate.calibrate.calibrate`, and ``simcore.calibrate.read_opportunities``
and the rest stay reachable as attributes.

- :func:`read_opportunities`, :func:`read_stage_history`: the readers (tidy DataFrames);
- :func:`calibrate`: the fitted scenario with its evidence (:class:`CalibrationResult`);
- :func:`simulate_history`: a company's history simulated from a scenario (:class:`History`).
"""

from __future__ import annotations

import io
import sys
import types

from simcore.calibrate.calibrate import CalibrationResult, calibrate
from simcore.calibrate.history import History, simulate_history
from simcore.calibrate.readers import read_opportunities, read_stage_history


def tidy_history(history: History, dimensions=()):
    """A simulated :class:`History` read back through the readers, as a user's files would be.

    Returns ``(opportunities, stage_history)`` tidy tables.
    """
    opps = read_opportunities(io.StringIO(history.opportunities.to_csv(index=False)), dimensions=dimensions)
    hist = read_stage_history(io.StringIO(history.stage_history.to_csv(index=False)))
    return opps.table, hist.table


class _CallableModule(types.ModuleType):
    # A package and a function both named simcore.calibrate: the package answers the call.
    def __call__(self, *args, **kwargs):
        return calibrate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = [
    "CalibrationResult",
    "History",
    "calibrate",
    "read_opportunities",
    "read_stage_history",
    "simulate_history",
    "tidy_history",
]
