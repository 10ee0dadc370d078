"""The synthetic company the calibration and backtest benchmarks simulate a CRM history of.

Both benchmarks need the same thing, a year-long scenario whose creation is sized to about
``opportunities`` deals over ``years`` years of history, seasonal, with pushes and whales.
They differ only in the funnel's shape (how many stages, how often a deal advances and
pushes), which the caller passes.
"""

from __future__ import annotations

import datetime as dt

import simcore

SOURCES = ["inbound", "outbound", "expansion", "partner"]
SEASONALITY = [1.1, 1, 1.1, 1, 1, 0.9, 0.8, 0.8, 1, 1.1, 1.1, 1]


def history_scenario(
    name, opportunities, years, *, products, stages, categories, stage, decision, median
) -> simcore.Scenario:
    """A 2026 scenario of 4 sources x ``products``, creating ``opportunities / years`` a year.

    Parameters
    ----------
    name : str
    opportunities : float
        Deals created over the whole history.
    years : int
        Years of history the creation is spread over.
    products : list of str
    stages, categories : list of str
        The open stages and their forecast categories, in order.
    stage : dict
        Each stage's fields but the decision stage's (advance, dwell, ...).
    decision : dict
        The decision stage's fields.
    median : float
        Median deal amount in dollars.

    Examples
    --------
    >>> sc = history_scenario("x", 800, 1, products=["A"], stages=["S1", "S2"],
    ...     categories=["pipeline", "commit"], stage={"advance": 0.5},
    ...     decision={"win": 0.3}, median=10_000)
    >>> len(sc.cells)
    4
    """
    cells = len(SOURCES) * len(products)
    raw = {
        "name": name,
        "start": dt.date(2026, 1, 1),
        "end": dt.date(2026, 12, 31),
        "dimensions": {"source": SOURCES, "product": products},
        "stage": [{"name": n, "category": c} for n, c in zip(stages, categories)],
        "defaults": {
            "stages": {n: dict(stage) for n in stages[:-1]},
            "decision": decision,
            "amount": {"median": median, "sigma": 0.8, "whale_probability": 0.03, "whale_factor": 5.0},
            "creation": {"per": "year", "count": opportunities / cells / years, "seasonality": SEASONALITY},
        },
    }
    return simcore.scenario_from_dict(raw)
