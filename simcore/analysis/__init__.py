"""Analytics over simulated results: the spreadsheet funnel, forecast metrics, variant comparison,
sensitivity, Monte-Carlo errors and convergence.

Layer 3 of the house (see CONTRIBUTING.md): imports the engine, the scenario layer and the base
modules, never the optimizer, the report or the command line.
"""
