"""The engine: a validated scenario compiled to plain arrays, the numba kernel, the labelled result.

Layer 2 of the house (see CONTRIBUTING.md): imports ``simcore.scenario`` and the base modules,
never an analysis, report or command-line module.
"""
