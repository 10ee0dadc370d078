"""simcore: Monte Carlo planning of B2B bookings under uncertainty.

>>> import simcore
>>> sc = simcore.load_scenario("scenarios/smb.toml")
>>> sc
<Scenario 'smb_inside_sales': 6 cells (source x product), 3 stages (decision: 'Negotiation'), 365 days from 2026-01-01, target $14.5M, bank 81 deals $1.0M>
>>> ds = simcore.simulate(sc, trials=500, seed=7, progress=False)
>>> year = ds.simcore.summary()["bookings"]["year"]
>>> list(year), year["p10"] < year["p50"] < year["p90"]
(['mean', 'p10', 'p50', 'p90'], True)
"""

from simcore import accessor  # noqa: F401  (registers ds.simcore)
from simcore._version import __version__
from simcore.analysis.compare import ComparisonResult, compare
from simcore.analysis.convergence import headline_errors, simulate_to_precision
from simcore.analysis.funnel import FunnelResult, funnel, pacing
from simcore.analysis.metrics import category_weighted_forecast, coverage, cycle_time, forecast_metrics
from simcore.analysis.sensitivity import drawn_sensitivity, one_at_a_time, variance_contributions
from simcore.engine.compile import compile_scenario
from simcore.engine.simulate import simulate
from simcore.errors import Problem, ScenarioError, SimcoreError
from simcore.optimize import Limits, OptimizeResult, optimize
from simcore.scenario import Scenario, load_scenario, scenario_from_dict

__all__ = [
    "ComparisonResult",
    "FunnelResult",
    "Limits",
    "OptimizeResult",
    "Problem",
    "Scenario",
    "ScenarioError",
    "SimcoreError",
    "__version__",
    "category_weighted_forecast",
    "compare",
    "compile_scenario",
    "coverage",
    "cycle_time",
    "drawn_sensitivity",
    "forecast_metrics",
    "funnel",
    "headline_errors",
    "load_scenario",
    "one_at_a_time",
    "optimize",
    "pacing",
    "scenario_from_dict",
    "simulate",
    "simulate_to_precision",
    "variance_contributions",
]


def __getattr__(name):
    # simcore.calibrate (callable: simcore.calibrate(opportunities, as_of=...)) is imported on
    # first use: it loads scipy.stats, which costs about a second at start-up.
    if name == "calibrate":
        import importlib

        return importlib.import_module("simcore.calibrate")
    raise AttributeError(f"module 'simcore' has no attribute {name!r}")
