"""Words and prices for a plan: which limits bind (LP duals), what stops an infeasible request,
and the bookings at the confidence an extra dollar of each unit buys.
"""

from __future__ import annotations

import numpy as np

from simcore.optimize.lp import shortfall_lp


def binding(rows, problem, sol, x_dollars) -> list:
    """Limits at their bound, with the objective's change per unit of relaxation (LP duals)."""
    out = []
    if sol is None or getattr(sol, "row_duals", None) is None:
        return out
    scale = rows.scale
    x = x_dollars / scale
    slack = problem.A_ub @ x - problem.b_ub if len(problem.b_ub) else np.zeros(0)
    for i, row in enumerate(problem.row_names):
        dual = float(sol.row_duals[i]) if i < len(sol.row_duals) else 0.0
        if dual < -1e-12 or abs(slack[i]) <= 1e-7 * max(1.0, abs(problem.b_ub[i])):
            if row["kind"] == "mix":
                # One point of share moves the row by 0.01 x expected stage-4 creation.
                price = -dual * 0.01 * float(rows.yields @ x)
            else:
                price = -dual / scale
            out.append(
                {
                    "constraint": row["name"],
                    "kind": row["kind"],
                    "limit": row["limit"] if row["kind"] not in ("mix", "ramp") else None,
                    "shadow_price": price,
                    "unit": f"objective saved per {row['per']} of relaxation",
                }
            )
    for ch, dual in zip(problem.chances, sol.chance_duals):
        # Trial rows are (target - bank) / target: one more dollar of target moves them by 1 / target.
        price = float(-dual / ch.target)
        what = "required bank" if "bank" in ch.name else "target"
        out.append(
            {
                "constraint": f"{ch.name} at {ch.alpha:.0%} confidence",
                "kind": "confidence",
                "limit": ch.target,
                "shadow_price": price,
                "unit": f"objective added per dollar of {what}",
            }
        )
    return out


def limiting(rows, problem, x) -> str:
    """Words for the limits that stop an infeasible request (duals of the least-shortfall LP)."""
    res = shortfall_lp(problem, x)
    if res is None:
        return "the linear limits themselves are infeasible"
    _z, row_duals, upper_duals = res
    items = []
    for i, row in enumerate(problem.row_names):
        if row_duals[i] < -1e-12:
            items.append((-row_duals[i] * max(abs(problem.b_ub[i]), 1e-9), row["name"]))
    for u, dual in enumerate(upper_duals):
        if dual < -1e-12 and np.isfinite(problem.ub[u]):
            items.append((-dual * problem.ub[u], rows.layout.unit_label[u]))
    if not items:
        return "lead time: creation late in the horizon cannot close inside it"
    items.sort(reverse=True)
    names = []
    for _, n in items:
        if n not in names:
            names.append(n)
    return "limited by " + "; ".join(names[:4])


def marginal_bookings(sim, x, confidence) -> tuple:
    """``(quantile, per-unit marginal)``: bookings at the confidence, and E[dB/dx | B = quantile]
    per extra dollar of each unit (a kernel-weighted average around the quantile).
    """
    annual = sim.bookings(x).sum(axis=1)
    q_level = float(np.quantile(annual, 1.0 - confidence))
    per_dollar = sim.per_dollar().sum(axis=2)
    bw = 1.06 * annual.std() * len(annual) ** -0.2 if annual.std() > 0 else 1.0
    w = np.exp(-0.5 * ((annual - q_level) / bw) ** 2)
    marginal = (w @ per_dollar) / w.sum() if w.sum() > 0 else np.zeros(per_dollar.shape[1])
    return q_level, marginal


def marginal_by_source(layout, marginal, x, free_mix) -> dict:
    """``{source: {quarter: marginal}}`` (free mix: the plan-weighted mean over products)."""
    quarters, sources = list(layout.quarters.labels), list(layout.sources)
    out = {s: dict.fromkeys(quarters, 0.0) for s in sources}
    for si, s in enumerate(sources):
        for qi, q in enumerate(quarters):
            us = np.flatnonzero((layout.unit_source == si) & (layout.unit_quarter == qi))
            if len(us) == 0:
                continue
            if not free_mix:
                out[s][q] = float(marginal[us[0]])
            else:
                wts = x[us] + 1e-9
                out[s][q] = float((marginal[us] * wts).sum() / wts.sum())
    return out
