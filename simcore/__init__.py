"""simcore: Monte Carlo planning of B2B bookings under uncertainty.

>>> import simcore
>>> sc = simcore.load_scenario("scenarios/fy2026.toml")
>>> ds = simcore.simulate(sc, trials=10_000, seed=7)
>>> ds.simcore.summary()["bookings"]["year"]

The names below are imported when first used (module ``__getattr__``, PEP 562): ``import
simcore`` and ``simcore validate`` stay fast, without numba, xarray or scipy.
"""

import sys as _sys
import types as _types

from simcore._version import __version__
from simcore.errors import Problem, ScenarioError, SimcoreError

# name -> the module that defines it
_LAZY = {
    "Scenario": "simcore.scenario",
    "load_scenario": "simcore.scenario",
    "scenario_from_dict": "simcore.scenario",
    "compile_scenario": "simcore.engine.compile",
    "simulate": "simcore.engine.simulate",
    "FunnelResult": "simcore.analysis.funnel",
    "funnel": "simcore.analysis.funnel",
    "pacing": "simcore.analysis.funnel",
    "category_weighted_forecast": "simcore.analysis.metrics",
    "coverage": "simcore.analysis.metrics",
    "cycle_time": "simcore.analysis.metrics",
    "forecast_metrics": "simcore.analysis.metrics",
    "ComparisonResult": "simcore.analysis.compare",
    "compare": "simcore.analysis.compare",
    "headline_errors": "simcore.analysis.convergence",
    "simulate_to_precision": "simcore.analysis.convergence",
    "drawn_sensitivity": "simcore.analysis.sensitivity",
    "one_at_a_time": "simcore.analysis.sensitivity",
    "variance_contributions": "simcore.analysis.sensitivity",
    "Limits": "simcore.optimize",
    "OptimizeResult": "simcore.optimize",
    "optimize": "simcore.optimize",
}

__all__ = ["Problem", "ScenarioError", "SimcoreError", "__version__", *_LAZY]


def __getattr__(name):
    import importlib

    if name == "accessor" or name in _LAZY:
        # Any result a user can get is an xarray Dataset: register ds.simcore with it.
        importlib.import_module("simcore.accessor")
    if name not in _LAZY:
        try:
            return importlib.import_module(f"simcore.{name}")  # a submodule, e.g. simcore.io
        except ModuleNotFoundError as exc:
            if exc.name != f"simcore.{name}":
                raise
            raise AttributeError(f"module 'simcore' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


class _Package(_types.ModuleType):
    def __setattr__(self, name, value):
        # Importing the subpackage simcore.optimize binds it here as ``optimize``; the name
        # is the function, as it was when this module imported everything up front.
        if name in _LAZY and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
