"""Programs evaluated one by one and together, with common random numbers.

The base plan and each program added to it run with one seed: trial ``t`` of every run sees
the same deals of the base plan, the same assumption draws and the same market factor, so
what a program adds is the per-trial (paired) difference of bookings, and its spread is the
spread of that difference, not of two independent runs. A program that requires others is
evaluated with them (its cost and returns are the bundle's); "all together" funds every
program except the later members of an exclusive group (the first declared is kept).

Figures per program: its cost inside the horizon, the pipeline it adds (expected dollars
created inside the horizon), the bookings it adds (mean, P10, P50, P90 of the paired
difference), the shift of the plan's P50, the change in P(hit), bookings per dollar of cost
(mean added bookings / cost) and its timing: mean added bookings by quarter of the horizon
(a program starting in Q3 adds little to this year).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simcore import checks
from simcore.analysis.mcerror import mean_se
from simcore.engine.compile import compile_scenario
from simcore.engine.programs import program_creation, with_programs
from simcore.engine.simulate import as_seed, run_kernel
from simcore.errors import SimcoreError
from simcore.format import money, percent, points, table
from simcore.result import Result
from simcore.scenario.load import Scenario, check_scenario

__all__ = ["ProgramsResult", "bundle", "evaluate_programs", "quarter_bookings"]


def bundle(scenario: Scenario, names) -> list:
    """The programs named and every program they require (transitively), in file order.

    Parameters
    ----------
    scenario : Scenario
    names : iterable of str

    Returns
    -------
    list of simcore.scenario.programs.Program
    """
    by_name = {p.name: p for p in scenario.programs}
    todo, chosen = list(names), set()
    while todo:
        name = todo.pop()
        if name not in chosen:
            chosen.add(name)
            todo.extend(by_name[name].requires)
    return [p for p in scenario.programs if p.name in chosen]


def quarter_bookings(model, trials: int, seed: int, sampling: str = "random", progress=False) -> np.ndarray:
    """Bookings per trial and reporting period of a compiled model, (trials, periods).

    Parameters
    ----------
    model : simcore.engine.compile.Model
    trials, seed : int
    sampling : str
        As in :func:`simcore.engine.simulate`.
    progress : bool or None

    Returns
    -------
    numpy.ndarray
    """
    out = run_kernel(model, trials, seed, progress=progress, sampling=sampling, boundaries=False)
    return out.flow_amt[..., 0].sum(axis=2)


def _pipeline_added(model, programs) -> float:
    """Expected pipeline dollars the programs create inside the horizon."""
    added = sum(program_creation(model, p) for p in programs)
    return float((np.asarray(added).sum(axis=1) * model.mean_amount).sum()) if programs else 0.0


class _Runs:
    """What sets of programs add to the base plan, per trial and quarter.

    Programs that only add creation are simulated without the plan: with no starting bank and
    no planned creation, only their own deals (each program's streams are its own, and a deal's
    fate depends only on its own random numbers and the trial's drawn assumptions, which are
    the same in every run of one seed), so their bookings are exactly what they add, at a
    fraction of a full run's cost. Programs that lift a rate change the plan's own deals: those
    run in full, minus the base plan.
    """

    def __init__(self, model, base_q, trials, seed, sampling, progress):
        self.model, self.base_q = model, base_q
        self.bare = model.with_creation_scale(0.0).without_bank()
        self.args = (trials, seed, sampling, progress)

    def added(self, programs) -> np.ndarray:
        if any(p.effects for p in programs):
            return quarter_bookings(with_programs(self.model, programs), *self.args) - self.base_q
        if not programs:
            return np.zeros_like(self.base_q)
        return quarter_bookings(with_programs(self.bare, programs, plan=self.model), *self.args)


def _base_figures(year, target) -> dict:
    """P10, P50, P90, mean and P(hit) of the base plan's bookings over the horizon."""
    base = {q: float(np.quantile(year, v)) for q, v in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9))}
    base["mean"] = float(year.mean())
    base["p_hit"] = float((year >= target).mean()) if target is not None else None
    return base


def paired_change(d, base_year, target, cost) -> dict:
    """What a lever adds, from the per-trial paired difference ``d`` of the horizon's bookings
    (common random numbers): its mean and error, bookings per dollar, the change in P(hit).

    Parameters
    ----------
    d, base_year : numpy.ndarray
        Per trial: the bookings the lever adds, and the base plan's bookings.
    target : float or None
    cost : float

    Returns
    -------
    dict
        ``added_mean``, ``added_mean_se``, ``bookings_per_dollar`` (None at no cost) and, with a
        target, ``p_hit`` (with the lever), ``p_hit_change`` and ``p_hit_change_se``.

    Examples
    --------
    >>> import numpy as np
    >>> out = paired_change(np.array([1.0, 1.0]), np.array([0.5, 2.0]), 1.0, 4.0)
    >>> out["added_mean"], out["bookings_per_dollar"], out["p_hit_change"]
    (1.0, 0.25, 0.5)
    """
    out = {
        "added_mean": float(d.mean()),
        "added_mean_se": mean_se(d),
        "bookings_per_dollar": float(d.mean() / cost) if cost > 0 else None,
    }
    if target is not None:
        with_year = base_year + d
        hw, hb = (with_year >= target).astype(float), (base_year >= target).astype(float)
        out["p_hit"] = float(hw.mean())
        out["p_hit_change"] = float(hw.mean() - hb.mean())
        out["p_hit_change_se"] = mean_se(hw - hb)
    return out


def _figures(added_q, base_q, target, cost, pipeline) -> dict:
    """The per-program figures, from (trials, quarters) bookings it adds and the base plan's."""
    d = added_q.sum(axis=1)
    year_base = base_q.sum(axis=1)
    year_with = year_base + d
    out = {
        "cost": cost,
        "pipeline_added": pipeline,
        "added_p10": float(np.quantile(d, 0.1)),
        "added_p50": float(np.quantile(d, 0.5)),
        "added_p90": float(np.quantile(d, 0.9)),
        "p50_shift": float(np.quantile(year_with, 0.5) - np.quantile(year_base, 0.5)),
        "added_by_period": added_q.mean(axis=0).tolist(),
    }
    out.update(paired_change(d, year_base, target, cost))
    return out


@dataclass
class ProgramsResult(Result):
    """Each program alone and all together, against the base plan (common random numbers).

    Attributes
    ----------
    scenario : str
    trials, seed : int
    currency : str
    target : float or None
    periods : list of str
        The quarters of ``added_by_period``.
    base : dict
        The base plan: ``mean``, ``p10``, ``p50``, ``p90`` of bookings, ``p_hit``.
    programs : list of dict
        One record per program: ``name``, ``with`` (programs it required), ``start``, ``ramp_months``
        and the figures (``cost``, ``pipeline_added``, ``added_mean`` (+ ``_se``), ``added_p10``,
        ``added_p50``, ``added_p90``, ``p50_shift``, ``p_hit``, ``p_hit_change`` (+ ``_se``),
        ``bookings_per_dollar``, ``added_by_period``).
    together : dict
        The same figures for every program funded at once (``names``: which).
    base_bookings : numpy.ndarray
        (trials, periods) of the base plan, kept for the optimizer (not in ``to_dict``).
    added : numpy.ndarray
        (trials, programs, periods): what each program (with what it requires) adds per trial.
    own : numpy.ndarray
        (trials, programs): what each program adds over the horizon on its own (without what it
        requires), per trial: the optimizer's per-program returns.
    """

    scenario: str
    trials: int
    seed: int
    currency: str
    target: float | None
    periods: list
    base: dict
    programs: list
    together: dict
    base_bookings: np.ndarray = field(default=None, repr=False)
    added: np.ndarray = field(default=None, repr=False)
    own: np.ndarray = field(default=None, repr=False)

    _table = "programs"

    def text(self) -> str:
        """The programs as a table, with the base plan and all together.

        Returns
        -------
        str
        """
        m = lambda v: money(v, self.currency)  # noqa: E731
        rows = []
        for r in [*self.programs, {"name": "All together", **self.together}]:
            rows.append(
                [
                    r["name"],
                    m(r["cost"]),
                    m(r["pipeline_added"]),
                    m(r["added_p50"]),
                    f"{m(r['added_p10'])} to {m(r['added_p90'])}",
                    points(r["p_hit_change"]) if "p_hit_change" in r else "-",
                    f"{r['bookings_per_dollar']:.2f}" if r["bookings_per_dollar"] is not None else "-",
                    " / ".join(m(x) for x in r["added_by_period"]),
                ]
            )
        b = self.base
        head = [
            f"{self.scenario}: {len(self.programs)} programs evaluated, {self.trials:,} trials, "
            f"seed {self.seed}, common random numbers",
            f"Base plan: P50 {m(b['p50'])} (P10 {m(b['p10'])}, P90 {m(b['p90'])})"
            + (f", P(hit {m(self.target)}) {percent(b['p_hit'])}" if self.target is not None else ""),
            "",
        ]
        header = [
            "Program",
            "cost",
            "pipeline added",
            "bookings added P50",
            "P10 to P90",
            "P(hit) change",
            "bookings / $",
            "added by quarter (" + " / ".join(self.periods) + ")",
        ]
        return "\n".join(head) + table(rows, header)


def evaluate_programs(
    scenario: Scenario, trials: int = 10_000, seed=0, *, names=None, progress=False
) -> ProgramsResult:
    """Evaluate each program alone and all together against the base plan.

    Parameters
    ----------
    scenario : Scenario
        With ``[[program]]`` tables.
    trials : int, default 10000
    seed : int
        One seed for every run: that is what pairs the trials.
    names : list of str, optional
        Only these programs (default: all).
    progress : bool or None, default False

    Returns
    -------
    ProgramsResult

    Raises
    ------
    SimcoreError
        When the scenario has no programs, or ``names`` names one it does not have.

    Examples
    --------
    >>> from simcore import load_scenario
    >>> r = evaluate_programs(load_scenario("scenarios/programs.toml"), trials=300, seed=1)
    >>> len(r.programs), r.programs[0]["name"], r.programs[0]["added_mean"] > 0
    (7, 'Paid search expansion', True)
    """
    sc = check_scenario(scenario)
    trials = checks.whole("trials", trials, 1)
    seed = as_seed(seed)
    if not sc.programs:
        raise SimcoreError(f"{sc.file}: the scenario declares no [[program]] to evaluate")
    known = [p.name for p in sc.programs]
    names = known if names is None else list(names)
    for n in names:
        if n not in known:
            raise SimcoreError(
                f"unknown program {n!r}; the scenario's programs are {', '.join(map(repr, known))}"
            )
    sampling = sc.raw.get("sampling", "random")
    model = compile_scenario(sc, "quarter")
    horizon = sc.horizon_days
    base_q = quarter_bookings(model, trials, seed, sampling, progress)
    base = _base_figures(base_q.sum(axis=1), sc.target)
    run = _Runs(model, base_q, trials, seed, sampling, progress)
    records, added = [], np.zeros((trials, len(names), len(model.periods)))
    own = np.zeros((trials, len(names)))
    for j, name in enumerate(names):
        funded = bundle(sc, [name])
        p = funded[[f.name for f in funded].index(name)]
        added[:, j] = run.added(funded)
        # Its own effect (without what it requires), for the optimizer's sum of programs.
        own[:, j] = (run.added([p]) if len(funded) > 1 else added[:, j]).sum(axis=1)
        figures = _figures(
            added[:, j],
            base_q,
            sc.target,
            sum(f.cost(horizon) for f in funded),
            _pipeline_added(model, funded),
        )
        records.append(
            {
                "name": name,
                "description": p.description,
                "with": [f.name for f in funded if f.name != name],
                "start_day": p.start_day,
                "ramp_months": round(p.ramp_days / 30.4375, 3),
                **figures,
            }
        )
    excluded = {m for _, members in sc.program_groups for m in members[1:]}
    together = [f.name for f in bundle(sc, [n for n in names if n not in excluded])]
    together = [n for n in together if n not in excluded]
    funded = [p for p in sc.programs if p.name in together]
    all_figures = _figures(
        run.added(funded),
        base_q,
        sc.target,
        sum(p.cost(horizon) for p in funded),
        _pipeline_added(model, funded),
    )
    return ProgramsResult(
        scenario=sc.name,
        trials=trials,
        seed=seed,
        currency=sc.currency,
        target=sc.target,
        periods=list(model.periods.labels),
        base=base,
        programs=records,
        together={"names": together, **all_figures},
        base_bookings=base_q,
        added=added,
        own=own,
    )
