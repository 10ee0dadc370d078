"""The plan as tables: by source, by source and product, per week; the decision-stage creation it
implies and its expected ending bank.
"""

from __future__ import annotations

import numpy as np

from simcore.engine.compile import daily_plan
from simcore.optimize.context import Request
from simcore.optimize.sample import simulate_plan


def plan_tables(req: Request, x) -> dict:
    """The plan by source, by source and product, and per week; and the decision-stage creation."""
    sc, layout = req.sc, req.layout
    quarters, sources = list(layout.quarters.labels), list(layout.sources)
    cells = layout.cell_dollars(x)
    d = list(sc.dimensions).index(layout.dim)
    others = [i for i in range(len(sc.dimensions)) if i != d]
    plan = {s: dict.fromkeys(quarters, 0.0) for s in sources}
    by_product = {s: {} for s in sources}
    for c, cell in enumerate(sc.cells):
        row = by_product[cell[d]].setdefault(
            "/".join(cell[i] for i in others) or cell[d], dict.fromkeys(quarters, 0.0)
        )
        for qi, q in enumerate(quarters):
            plan[cell[d]][q] += float(cells[c, qi])
            row[q] += float(cells[c, qi])
    plan_sc = layout.plan_scenario(cells)
    weekly = {s: np.zeros(-(-sc.horizon_days // 7)) for s in sources}
    for c, cell in enumerate(sc.cells):
        weekly[cell[d]] += np.add.reduceat(daily_plan(plan_sc, c), np.arange(0, sc.horizon_days, 7))
    days = np.diff(np.minimum(layout.quarters.start_day, sc.horizon_days))
    stage4 = {s: dict.fromkeys(quarters, 0.0) for s in sources}
    stage4_weekly = {s: dict.fromkeys(quarters, 0.0) for s in sources}
    stage4_by_product = {s: {} for s in sources}
    # Decision-stage creation and the ending bank are expectations of the plan itself (units at 0
    # really at 0): a short exact simulation.
    exact = simulate_plan(layout, x, min(req.trials, 2000), req.seed)
    for c, cell in enumerate(sc.cells):
        key = "/".join(cell[i] for i in others) or cell[d]
        for qi, q in enumerate(quarters):
            v = float(exact.stage4[qi, c])
            stage4[cell[d]][q] += v
            stage4_weekly[cell[d]][q] += v / (days[qi] / 7.0) if days[qi] else 0.0
            stage4_by_product[cell[d]].setdefault(key, dict.fromkeys(quarters, 0.0))[q] += v
    return {
        "plan": plan,
        "plan_by_product": by_product,
        "plan_weekly": {s: [float(v) for v in weekly[s]] for s in sources},
        "stage4_targets": stage4,
        "stage4_weekly": stage4_weekly,
        "stage4_by_product": stage4_by_product,
        "ending": float(exact.ending_bank.sum()),
    }
