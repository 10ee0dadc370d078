"""The linear rows of the sample problem: the limits as ``A x <= b`` and the chance
constraints as one row per trial, in scaled units (plan in ``scale`` dollars, bookings / target).
"""

from __future__ import annotations

import numpy as np

from simcore.optimize.layout import Layout
from simcore.optimize.limits import Limits
from simcore.optimize.lp import Chance, Problem
from simcore.optimize.sample import Sim


class Rows:
    """Linear rows and bounds of the limits, in scaled units."""

    def __init__(self, layout: Layout, limits: Limits, objective: str, yields, scale):
        self.layout, self.limits, self.scale, self.yields = layout, limits, scale, yields
        sc = layout.scenario
        J, Q = layout.n_units, len(layout.quarters)
        self.weeks = np.diff(np.minimum(layout.quarters.start_day, sc.horizon_days)) / 7.0
        # Per unit: cost and deals per planned dollar (mix-weighted over its cells).
        self.cost, self.deals = np.zeros(J), np.zeros(J)
        for c in range(len(sc.cells)):
            for q in range(Q):
                u = layout.cell_unit[c, q]
                self.cost[u] += layout.weight[c, q] * layout.cost[c]
                self.deals[u] += layout.weight[c, q] / layout.mean_amount[c]
        self.c = (self.cost if objective == "cost" else np.ones(J)) * scale
        # A unit whose cells have no day with seasonality > 0 in the quarter cannot create.
        ub = np.full(J, np.inf)
        for u in range(J):
            if layout.weight[layout.cell_unit == u].sum() <= 0:
                ub[u] = 0.0
        # Re-planning as of a date: nothing can be created in a quarter already over, and its
        # per-quarter minimum and ramp are not asked of it (they are said in ``relaxed``).
        self.closed = layout.closed_units()
        ub[self.closed] = 0.0
        self.relaxed = []
        self.lb, self.ub = np.zeros(J), ub / scale
        self.rows, self.rhs, self.names = [], [], []
        self.reference = layout.unit_dollars(layout.reference)  # the scenario's own plan
        for s in layout.sources:
            self._per_quarter(s)
            self._ramp(s)
            self._shape_ramp(s)
        self._totals()
        self._mix()

    def add(self, row, value, kind, name, per="dollar"):
        """One row ``row . x_dollars <= value`` (stored scaled in :meth:`problem`)."""
        self.rows.append(np.asarray(row, dtype=np.float64) * self.scale)
        self.rhs.append(float(value))
        self.names.append({"kind": kind, "name": name, "limit": abs(float(value)), "per": per})

    def units_of(self, s_name, q=None) -> np.ndarray:
        """0/1 row of the units of source ``s_name`` (in quarter ``q``, or all)."""
        lay = self.layout
        sel = lay.unit_source == lay.sources.index(s_name)
        if q is not None:
            sel &= lay.unit_quarter == q
        return sel.astype(float)

    def _per_quarter(self, s):
        lim, labels = self.limits, self.layout.quarters.labels
        for q in range(len(labels)):
            units, where = self.units_of(s, q), f"{s} in {labels[q]}"
            if np.any(self.closed[units > 0]):
                if s in lim.min_per_quarter or lim.ramp_of(s) > 0:
                    self.relaxed.append(
                        f"{where}: over before the as-of date, no minimum or ramp asked of it"
                    )
                continue
            if s in lim.max_per_quarter:
                self.add(units, lim.max_per_quarter[s], "max", f"{s} max per quarter in {labels[q]}")
            if s in lim.min_per_quarter:
                self.add(-units, -lim.min_per_quarter[s], "min", f"{s} min per quarter in {labels[q]}")
            if s in lim.capacity_per_week:
                cap = lim.capacity_per_week[s]
                self.add(
                    units * self.deals,
                    cap * self.weeks[q],
                    "capacity",
                    f"{where}: capacity {cap:g} opportunities/week",
                    "opportunity",
                )
            if s in lim.capacity_dollars_per_week:
                cap = lim.capacity_dollars_per_week[s]
                self.add(units, cap * self.weeks[q], "capacity", f"{where}: capacity ${cap:,.0f}/week")

    def _ramp(self, s):
        """Weekly creation within [1/r, r] x the quarter before's, for quarters that can create."""
        r = self.limits.ramp_of(s)
        if not r > 0:
            return
        labels = self.layout.quarters.labels
        open_q = [
            q
            for q in range(len(labels))
            if self.weeks[q] > 0 and np.any(self.units_of(s, q) * (self.ub > 0) > 0)
        ]
        for a, b in zip(open_q, open_q[1:]):
            rate_a = self.units_of(s, a) / self.weeks[a]
            rate_b = self.units_of(s, b) / self.weeks[b]
            name = f"{s} ramp {r:g}x, {labels[b]} vs {labels[a]}"
            self.add(rate_b - r * rate_a, 0.0, "ramp", name + " (up)", "unit of ramp")
            self.add(rate_a - r * rate_b, 0.0, "ramp", name + " (down)", "unit of ramp")

    def _shape_ramp(self, s):
        """Each open quarter's share of the source's creation within [1/r, r] x its share in the
        scenario's own plan (over the same quarters): ``x_q <= r w_q X`` and ``w_q X <= r x_q``,
        with ``X`` the source's total. A quarter the scenario's plan leaves empty stays empty.
        """
        r = self.limits.shape_ramp_of(s)
        if not r > 0:
            return
        labels = self.layout.quarters.labels
        open_q = [
            q
            for q in range(len(labels))
            if self.weeks[q] > 0 and np.any(self.units_of(s, q) * (self.ub > 0) > 0)
        ]
        ref = np.array([float(self.units_of(s, q) @ self.reference) for q in open_q])
        if not ref.sum() > 0:
            return
        share = ref / ref.sum()
        total = sum(self.units_of(s, q) for q in open_q)
        for q, w in zip(open_q, share):
            units, name = self.units_of(s, q), f"{s} shape {r:g}x in {labels[q]}"
            self.add(units - r * w * total, 0.0, "ramp", name + " (up)", "unit of ramp")
            self.add(w * total - r * units, 0.0, "ramp", name + " (down)", "unit of ramp")

    def _totals(self):
        for s, value in self.limits.max.items():
            self.add(self.units_of(s), value, "max", f"{s} max over the horizon")
        for s, value in self.limits.min.items():
            self.add(-self.units_of(s), -value, "min", f"{s} min over the horizon")

    def _mix(self):
        src = np.array(self.layout.sources)
        for m in self.limits.mix:
            inside = np.isin(src[self.layout.unit_source], m["sources"])
            self.add(
                (m["min_share"] - inside) * self.yields,
                0.0,
                "mix",
                f"at least {m['min_share']:.0%} of decision-stage creation from {' + '.join(m['sources'])}",
                "point of share",
            )

    def problem(self, chances, budget=None, extra=()) -> Problem:
        """The sample problem with these chance constraints (and a budget row, and extra rows)."""
        rows, rhs, names = list(self.rows), list(self.rhs), list(self.names)
        if budget is not None:
            rows.append(self.cost * self.scale)
            rhs.append(budget)
            names.append(
                {"kind": "budget", "name": "budget (total cost)", "limit": float(budget), "per": "dollar"}
            )
        for row, value, name in extra:
            rows.append(np.asarray(row, dtype=np.float64) * self.scale)
            rhs.append(float(value))
            names.append({"kind": "fixed", "name": name, "limit": abs(float(value)), "per": "dollar"})
        A = np.array(rows, dtype=np.float64).reshape(len(rows), len(self.c)) / self.scale
        b = np.array(rhs, dtype=np.float64) / self.scale
        return Problem(self.c, self.lb, self.ub, A, b, names, chances)


def chances(sim: Sim, layout: Layout, target, confidence, limits: Limits, scale, categories=True) -> list:
    """The chance constraints in scaled units: ``G x >= h``, one row per trial.

    The annual target first, then each period target, then the ending decision-stage bank, then
    the ending bank of each other forecast category asked for (unless ``categories=False``).
    """
    per_dollar = sim.per_dollar()  # (T, J, P)
    G = per_dollar.sum(axis=2) * scale / target
    h = (target - sim.bank.sum(axis=1)) / target
    out = [Chance(G, h, confidence, "annual target", target)]
    labels = layout.quarters.labels
    for t in limits.period_targets:
        q = labels.index(t["period"])
        sel = slice(0, q + 1) if t["cumulative"] else slice(q, q + 1)
        Gq = per_dollar[:, :, sel].sum(axis=2) * scale / t["target"]
        hq = (t["target"] - sim.bank[:, sel].sum(axis=1)) / t["target"]
        name = f"{t['period']} {'year-to-date ' if t['cumulative'] else ''}target"
        out.append(Chance(Gq, hq, t["confidence"], name, t["target"]))
    if limits.ending_bank and sim.unit_ending is not None:
        E = limits.ending_bank
        Ge = sim.ending_per_dollar() * scale / E
        he = (E - sim.bank_ending) / E
        out.append(Chance(Ge, he, limits.ending_bank_confidence, "ending decision-stage bank", E))
    for cat, E in limits.ending_by_category.items() if categories else ():
        if sim.other_endings is None or cat not in sim.other_endings:
            continue
        bank, per = sim.category_ending_per_dollar(cat)
        conf = limits.ending_confidence_by_category[cat]
        out.append(Chance(per * scale / E, (E - bank) / E, conf, f"ending {cat} bank", E))
    return out


def period_hits(bookings, layout: Layout, limits: Limits) -> list:
    """Per period target, the trials (rows of ``bookings``, (T, P)) that meet it."""
    out = []
    labels = layout.quarters.labels
    for t in limits.period_targets:
        q = labels.index(t["period"])
        sel = slice(0, q + 1) if t["cumulative"] else slice(q, q + 1)
        out.append(bookings[:, sel].sum(axis=1) >= t["target"])
    return out
