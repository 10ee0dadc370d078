"""Scenario comparison with common random numbers.

Every variant runs with the same seed. Random numbers are keyed by (seed, trial, cell,
week, deal, draw), so trial ``t`` of two variants sees the same deals, the same dwell
draws and the same assumption draws wherever the variants agree: a difference between
two variants is computed trial by trial (a *paired* difference) and its standard error
``sd(x_v - x_b) / sqrt(n)`` is much smaller than the unpaired ``sqrt(var_v / n + var_b / n)``
one would get from independent runs. Both are reported so the gain is visible.

Differences of quantiles (P10/P50/P90) get their paired standard error from a bootstrap
that resamples trials (the same trials for both variants); the unpaired one combines
the two quantiles' own errors (:func:`simcore.analysis.mcerror.quantile_se`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simcore.analysis.mcerror import QUANTILES, mean_se, proportion_se, quantile_se, with_errors
from simcore.engine.distributed import fan_out
from simcore.engine.simulate import as_seed, simulate
from simcore.errors import SimcoreError
from simcore.format import money, percent, points, table
from simcore.result import Result
from simcore.scenario.load import Scenario

BOOTSTRAP = 200


def _differences(xv, xb, target_v, target_b, rng) -> dict:
    """Paired and unpaired errors of variant - baseline, for the mean, the quantiles and P(hit)."""
    n = len(xv)
    d = xv - xb
    out = {
        "mean": {
            "difference": float(d.mean()),
            "se": mean_se(d),
            "se_unpaired": math.sqrt(mean_se(xv) ** 2 + mean_se(xb) ** 2),
        }
    }
    idx = rng.integers(0, n, size=(BOOTSTRAP, n))
    qs = list(QUANTILES.values())
    boot = np.quantile(xv[idx], qs, axis=1) - np.quantile(xb[idx], qs, axis=1)  # (quantile, resample)
    for i, (name, q) in enumerate(QUANTILES.items()):
        out[name] = {
            "difference": float(np.quantile(xv, q) - np.quantile(xb, q)),
            "se": float(boot[i].std(ddof=1)),
            "se_unpaired": math.sqrt(quantile_se(xv, q) ** 2 + quantile_se(xb, q) ** 2),
        }
    if target_v is not None and target_b is not None:
        hv, hb = (xv >= target_v).astype(float), (xb >= target_b).astype(float)
        out["p_hit"] = {
            "difference": float(hv.mean() - hb.mean()),
            "se": mean_se(hv - hb),
            "se_unpaired": math.sqrt(proportion_se(hv.mean(), n) ** 2 + proportion_se(hb.mean(), n) ** 2),
        }
    return out


@dataclass
class ComparisonResult(Result):
    """Variants side by side (dollars), each difference vs the baseline with its error.

    Attributes
    ----------
    baseline : str
        Label of the variant differences are taken against.
    trials, seed : int
    currency : str
        The scenario's currency.
    periods : list of str
    variants : dict
        ``label -> {"description", "target", "year": figures, "by_period": {period: figures}}``
        where figures are ``{"mean", "p10", "p50", "p90", ("p_hit")}``, each ``{"value", "se"}``.
    differences : dict
        ``label -> {"year": {...}, "by_period": {period: {...}}}``, each figure
        ``{"difference", "se" (paired, common random numbers), "se_unpaired"}``.
    bookings : dict
        ``label -> per-trial annual bookings`` (numpy arrays, trial-aligned), for plots.
    """

    baseline: str
    trials: int
    seed: int
    currency: str
    periods: list
    variants: dict
    differences: dict
    bookings: dict = field(default_factory=dict, repr=False)

    _table = "variants"

    def _records(self):
        """One row per variant: its year figures' values."""
        return {
            label: {"description": v["description"], "target": v["target"]}
            | {name: f["value"] for name, f in v["year"].items() if isinstance(f, dict)}
            for label, v in self.variants.items()
        }

    def text(self) -> str:
        """Readable tables: the variants, per-quarter P50, the differences vs the baseline.

        Returns
        -------
        str
        """
        cur = self.currency
        m = lambda v: money(v, cur)  # noqa: E731
        rows = []
        for label, v in self.variants.items():
            y = v["year"]
            rows.append(
                [
                    label,
                    m(y["mean"]["value"]),
                    m(y["p10"]["value"]),
                    m(y["p50"]["value"]),
                    m(y["p90"]["value"]),
                    percent(y["p_hit"]["value"]) if "p_hit" in y else "-",
                ]
            )
        out = [
            f"{self.trials:,} trials per variant, seed {self.seed}, common random numbers",
            "",
            table(rows, ["Year bookings", "mean", "P10", "P50", "P90", "P(hit)"]),
            "",
        ]
        for q in ("p10", "p50", "p90"):
            rows = [
                [p] + [m(v["by_period"][p][q]["value"]) for v in self.variants.values()] for p in self.periods
            ]
            out += [table(rows, [f"{q.upper()} by period"] + list(self.variants)), ""]
        rows = []
        for label, d in self.differences.items():
            for q in ("mean", "p10", "p50", "p90", "p_hit"):
                if q not in d["year"]:
                    continue
                x = d["year"][q]
                # A difference of two probabilities is in points, and so are its errors.
                diff = points if q == "p_hit" else m
                err = (lambda v: points(v)[1:]) if q == "p_hit" else m
                name = {"mean": "mean", "p_hit": "P(hit)"}.get(q, q.upper())
                rows.append(
                    [
                        f"{label} - {self.baseline}" if q == "mean" else "",
                        name,
                        diff(x["difference"]),
                        err(x["se"]),
                        err(x["se_unpaired"]),
                    ]
                )
        if rows:
            out += [
                table(rows, ["Year difference", "figure", "difference", "s.e. (paired)", "s.e. if unpaired"])
            ]
        if self.differences:
            rows = [
                [p]
                + [
                    f"{m(d['by_period'][p]['p50']['difference'])} +/- {m(d['by_period'][p]['p50']['se'])}"
                    for d in self.differences.values()
                ]
                for p in self.periods
            ]
            header = [f"P50 - {self.baseline} (+/- paired s.e.)"] + list(self.differences)
            out += ["", table(rows, header)]
        return "\n".join(out).rstrip()


def variant_scenarios(scenario: Scenario, variants=None, sets=None) -> dict:
    """``label -> Scenario`` for named variants of the file and ``--set`` override sets.

    ``variants``: names from the file's ``[variants]`` (``None``: every variant of the file
    that ``sets`` does not name, or the scenario as given if there are neither). ``sets``:
    ``{label: {"path.to.field": value}}`` applied to the file's variant of that name if it
    has one, else to the scenario as given.

    Parameters
    ----------
    scenario : Scenario
    variants : list of str, optional
        Variant names of the file.
    sets : dict, optional
        ``{label: {"path.to.field": value}}``.

    Returns
    -------
    dict
        ``label -> Scenario``, in the order given.
    """
    out = {}
    if variants is None:
        variants = [v for v in scenario.variants if v not in (sets or {})]
        if not variants and not sets:
            out["as given"] = scenario
    for name in variants or []:
        if name in out:
            raise SimcoreError(f"variant {name!r} is listed twice")
        out[name] = scenario.with_variant(name)
    for label, overrides in (sets or {}).items():
        if label in out:
            raise SimcoreError(f"{label!r} names both a variant of the file and a --set-variant; rename one")
        base = scenario.with_variant(label) if label in scenario.variants else scenario
        out[label] = base.with_overrides(overrides)
    return out


def compare(
    scenario: Scenario,
    variants=None,
    sets=None,
    *,
    trials: int = 10_000,
    seed=0,
    baseline: str | None = None,
    period: str | None = None,
    progress=False,
    client=None,
) -> ComparisonResult:
    """Run variants with common random numbers and compare them.

    Parameters
    ----------
    scenario : Scenario
    variants : list of str, optional
        Variant names from the file (e.g. ``["Conservative", "Base", "Stretch"]``). Default:
        every variant of the file that ``sets`` does not name, or the scenario as given
        (labelled ``"as given"``) if there are neither.
    sets : dict, optional
        More variants as override sets: ``{"Upsell 40%": {"by.source.expansion.decision.win": 0.4}}``,
        applied to the scenario as given (or to the file's variant of the same label).
    trials : int, default 10000
        Trials per variant.
    seed : int
        The same for every variant (that is what pairs the trials).
    baseline : str, optional
        Label to take differences against (default: ``"Base"`` if present, else the first).
    period : {"week", "month", "quarter"}, optional
        Reporting period (default: the scenario's).
    progress : bool or None, default False
        Show a progress bar on stderr for each variant's run lasting over a second (``None``:
        when stderr is a terminal), as in :func:`simcore.engine.simulate`.
    client : distributed.Client, optional
        Run the variants on this Dask client's workers, one task each (``pip install
        simcore[dask]``): the same bits as here, for the same seed.

    Returns
    -------
    ComparisonResult

    Raises
    ------
    SimcoreError
        When ``variants`` is a string, a label is given twice, ``baseline`` is not one of the
        compared labels, or the variants have different reporting periods.
    ScenarioError
        When a variant does not exist or its overrides do not validate.

    Examples
    --------
    >>> from simcore import load_scenario
    >>> r = compare(load_scenario("scenarios/smb.toml"), ["Conservative", "Base", "Stretch"], trials=500)
    >>> list(r.differences), r.differences["Stretch"]["year"]["mean"]["difference"] > 0
    (['Conservative', 'Stretch'], True)
    """
    if isinstance(variants, str):
        raise SimcoreError(
            f"variants must be a list of names, e.g. {variants.split(',')!r}, not the string {variants!r}"
        )
    scenarios = variant_scenarios(scenario, variants, sets)
    labels = list(scenarios)
    if not labels:  # `--variants ,`: an empty list is a mistake, not "compare nothing"
        raise SimcoreError(
            "no variants to compare: name at least one"
            + (f" (the file has {', '.join(scenario.variants)})" if scenario.variants else "")
        )
    if baseline is None:
        baseline = "Base" if "Base" in scenarios else labels[0]
    if baseline not in scenarios:
        raise SimcoreError(f"baseline {baseline!r} is not one of the compared variants: {', '.join(labels)}")
    per_period, info, periods = _run(scenarios, trials, seed, period, progress, client)
    year = {label: values.sum(axis=1) for label, values in per_period.items()}
    results = {}
    for label in labels:
        target = info[label]["target"]
        results[label] = {
            **info[label],
            "year": with_errors(year[label], target, level=None),
            "by_period": {p: with_errors(per_period[label][:, i], level=None) for i, p in enumerate(periods)},
        }
    rng = np.random.default_rng(np.random.SeedSequence([as_seed(seed), 7]))
    differences = {}
    tb = info[baseline]["target"]
    for label in labels:
        if label == baseline:
            continue
        tv = info[label]["target"]
        differences[label] = {
            "year": _differences(year[label], year[baseline], tv, tb, rng),
            "by_period": {
                p: _differences(per_period[label][:, i], per_period[baseline][:, i], None, None, rng)
                for i, p in enumerate(periods)
            },
        }
    return ComparisonResult(
        baseline, int(trials), as_seed(seed), scenario.currency, periods, results, differences, bookings=year
    )


def _variant_bookings(scenario, trials, seed, period=None, progress=False) -> tuple:
    """One variant's bookings per trial and period, and the period labels (a task of :func:`compare`).

    Returns
    -------
    (numpy.ndarray, list of str)
        ``(trials, periods)`` dollars, and the periods' labels.
    """
    ds = simulate(scenario, trials, seed, period=period, progress=progress)
    # What ds.simcore.total("bookings_amount", ("trial", "period")) computes: a worker need not
    # have registered the accessor.
    da = ds["bookings_amount"]
    pp = da.sum([d for d in da.dims if d not in ("trial", "period")])
    return np.asarray(pp.transpose("trial", "period").values, dtype=np.float64), [
        str(p) for p in pp.period.values
    ]


def _run(scenarios, trials, seed, period, progress, client=None):
    """Each variant's bookings per trial and period, its description and target, the periods."""
    per_period, info = {}, {}
    periods = None
    runs = fan_out(
        client,
        _variant_bookings,
        scenarios.values(),
        trials,
        seed,
        period,
        progress if client is None else False,
    )
    for (label, sc), (values, labels) in zip(scenarios.items(), runs):
        if periods is None:
            periods = labels
        elif labels != periods:
            raise SimcoreError(
                f"variant {label!r} has different reporting periods; compare variants of one plan"
            )
        per_period[label] = values
        description = sc.variants.get(label, {}).get("description", "") if label in sc.variants else ""
        info[label] = {"description": description, "target": sc.target}
    return per_period, info, periods
