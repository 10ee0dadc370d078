"""simcore: Monte Carlo planning of B2B bookings under uncertainty.

>>> import simcore
>>> sc = simcore.load_scenario("scenarios/smb.toml")
>>> sc
<Scenario 'smb_inside_sales': 6 cells (source x product), 3 stages (decision: 'Negotiation'), 365 days from 2026-01-01, target $14.5M, bank 81 deals $1.0M>
>>> ds = simcore.simulate(sc, trials=500, seed=7, progress=False)
>>> year = ds.simcore.summary()["bookings"]["year"]
>>> list(year), year["p10"] < year["p50"] < year["p90"]
(['mean', 'p10', 'p50', 'p90'], True)

The names below are imported when first used (module ``__getattr__``, PEP 562): ``import
simcore`` and ``simcore validate`` stay fast, without numba, xarray or scipy. A subpackage
is imported the same way on first use: ``simcore.calibrate(opportunities, as_of=...)``.
"""

import sys as _sys
import types as _types

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

# Subpackages that hand back results (``simcore.io.load_dataset`` reads one back): reached
# as ``simcore.<name>``, they register ``ds.simcore`` too.
_RESULT_MODULES = {"analysis", "calibrate", "engine", "forecast", "io", "optimize", "report"}

__all__ = ["Problem", "ScenarioError", "SimcoreError", "__version__", *_LAZY]


def __getattr__(name):
    import importlib

    if name == "__version__":
        # Read when asked: importlib.metadata takes ~30-70 ms, a fifth of `simcore validate`.
        from simcore._version import __version__

        globals()["__version__"] = __version__
        return __version__
    if name == "accessor" or name in _LAZY or name in _RESULT_MODULES:
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
