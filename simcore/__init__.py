"""simcore: Monte Carlo planning of B2B bookings under uncertainty.

>>> import simcore
>>> sc = simcore.load_scenario("scenarios/fy2026.toml")
>>> ds = simcore.simulate(sc, trials=10_000, seed=7)
>>> ds.simcore.summary()["bookings"]["year"]
"""

from simcore import accessor  # noqa: F401  (registers ds.simcore)
from simcore._version import __version__
from simcore.engine.compile import compile_scenario
from simcore.engine.simulate import simulate
from simcore.errors import Problem, ScenarioError, SimcoreError
from simcore.scenario import Scenario, load_scenario, scenario_from_dict

__all__ = [
    "Problem",
    "Scenario",
    "ScenarioError",
    "SimcoreError",
    "compile_scenario",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
    "__version__",
]

from simcore.analysis.funnel import FunnelResult, funnel, pacing

__all__ += ["FunnelResult", "funnel", "pacing"]
from simcore.analysis.metrics import category_weighted_forecast, coverage, cycle_time, forecast_metrics  # noqa: E402

__all__ += ["category_weighted_forecast", "coverage", "cycle_time", "forecast_metrics"]
from simcore.analysis.compare import ComparisonResult, compare  # noqa: E402
from simcore.analysis.convergence import headline_errors, simulate_to_precision  # noqa: E402

__all__ += ["ComparisonResult", "compare", "headline_errors", "simulate_to_precision"]
from simcore.analysis.sensitivity import drawn_sensitivity, one_at_a_time, variance_contributions  # noqa: E402

__all__ += ["drawn_sensitivity", "one_at_a_time", "variance_contributions"]

from simcore.optimize import Limits, OptimizeResult, optimize  # noqa: E402

__all__ += ["Limits", "OptimizeResult", "optimize"]


def __getattr__(name):
    # simcore.calibrate (callable: simcore.calibrate(opportunities, as_of=...)) is imported on
    # first use: it loads scipy.stats, which costs about a second at start-up.
    if name == "calibrate":
        import importlib

        return importlib.import_module("simcore.calibrate")
    raise AttributeError(f"module 'simcore' has no attribute {name!r}")
