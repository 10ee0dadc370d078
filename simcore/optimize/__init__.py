"""The optimizer: the cheapest creation plan that books the target at a confidence.

Layer 4 of the house (see CONTRIBUTING.md): imports analysis, engine, scenario and base modules.
"""

from simcore.optimize.plan import Limits, OptimizeResult, optimize

__all__ = ["Limits", "OptimizeResult", "optimize"]
