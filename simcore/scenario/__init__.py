"""Scenario files: the spec of every field, loading and validation, resolution per cell, the bank.

Layer 1 of the house (see CONTRIBUTING.md): imports only the base modules (errors, checks,
calendar, variables).
"""

from simcore.scenario.load import Scenario, load_scenario, scenario_from_dict, write_json_schema
from simcore.scenario.overrides import parse_value
from simcore.scenario.params import (
    AmountParams,
    CellParams,
    CreationParams,
    DecisionParams,
    Duration,
    StageParams,
)
from simcore.scenario.values import BetaRate, Pert

__all__ = [
    "AmountParams",
    "BetaRate",
    "CellParams",
    "CreationParams",
    "DecisionParams",
    "Duration",
    "Pert",
    "Scenario",
    "StageParams",
    "load_scenario",
    "parse_value",
    "scenario_from_dict",
    "write_json_schema",
]
