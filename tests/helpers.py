"""Shared builders of small purpose-built scenarios and Monte-Carlo error helpers.

Test modules import these directly (``from helpers import small_raw, build``): pytest puts
``tests/`` on ``sys.path``. ``conftest.py`` re-exports every name, so ``from conftest import
...`` works too. Keep the signatures stable; add, don't change.

Scenarios are built as plain dicts (the parsed form of a TOML file) so that a test
states exactly the parameters its known answer depends on, then loaded through the
real loader with :func:`build` (validation included).

Tolerances in tests come from the Monte-Carlo standard error of the estimate, never
from tuning: :func:`assert_close_se` checks ``|estimate - expected| <= n_se * se``.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import math
from pathlib import Path

import numpy as np

import simcore

START = dt.date(2026, 1, 1)


def stage_names(n_stages: int) -> list:
    """``["Stage 1", ..., "Stage n"]``: the last is the decision stage."""
    return [f"Stage {i + 1}" for i in range(n_stages)]


def small_raw(
    n_stages: int = 4,
    horizon_weeks: int = 104,
    period: str = "quarter",
    sources=("inbound",),
    count_per_year: float = 500.0,
) -> dict:
    """A small valid scenario document with no randomness beyond deal-level noise.

    One dimension ``source`` (values ``sources``), ``n_stages`` stages (the first in
    ``pipeline``, the second-last in ``best_case`` when there are three or more, the
    last in ``commit``), every stage advancing with probability 1 after a fixed
    10-day dwell, a decision with ``win = 0.25`` and no push after a fixed 10-day
    dwell, lognormal amounts with median $100k and sigma 0.5, no market loading, and
    ``count_per_year`` opportunities created in the first year only (Poisson), so a
    ``horizon_weeks`` of two years leaves no horizon truncation for short dwells.

    Mutate the returned dict (it is a fresh copy) and load it with :func:`build`.

    Parameters
    ----------
    n_stages : int
        Open stages, including the decision stage (>= 2).
    horizon_weeks : int
        Plan length in weeks (>= 53, so that the first year is whole).
    period : str
        Reporting period: week, month or quarter.
    sources : sequence of str
        Values of the ``source`` dimension (one cell each).
    count_per_year : float
        Expected opportunities created per cell in the first year.
    """
    names = stage_names(n_stages)
    categories = ["pipeline"] * n_stages
    if n_stages >= 3:
        categories[-2] = "best_case"
    categories[-1] = "commit"
    n_years = len(_year_labels(horizon_weeks))
    raw = {
        "name": "small",
        "start": START,
        "horizon_weeks": horizon_weeks,
        "period": period,
        "currency": "USD",
        "dimensions": {"source": list(sources)},
        "stage": [{"name": n, "category": c} for n, c in zip(names, categories)],
        "defaults": {
            "market_loading": 0.0,
            "stages": {n: {"advance": 1.0, "dwell": {"dist": "fixed", "mean": 10.0}} for n in names[:-1]},
            "decision": {
                "win": 0.25,
                "push": 0.0,
                "lost_competition_share": 0.5,
                "dwell": {"dist": "fixed", "mean": 10.0},
                "push_delay": {"dist": "fixed", "mean": 10.0},
                "win_decay": 1.0,
                "max_pushes": 3,
            },
            "amount": {"median": 100_000.0, "sigma": 0.5},
            "creation": {
                "per": "year",
                "count": [count_per_year] + [0.0] * (n_years - 1),
                "process": "poisson",
            },
        },
    }
    return copy.deepcopy(raw)


def two_stage_raw(name: str = "two-stage", win=0.25, to_decision=0.6, push=None, counts=(150, 150)) -> dict:
    """A one-year plan with two stages and two sources (``inbound``, ``outbound``), fast to
    simulate: ``counts`` deals a year from each source, $100k median deals."""
    decision = {"win": win, "dwell": {"mean": 30, "cv": 0.5}}
    if push is not None:
        decision["push"] = push
    return {
        "name": name,
        "start": START,
        "end": dt.date(2026, 12, 31),
        "target": 5_000_000,
        "dimensions": {"source": ["inbound", "outbound"]},
        "stage": [{"name": "Qualify", "category": "pipeline"}, {"name": "Decide", "category": "commit"}],
        "defaults": {
            "conversion": {"to_decision": to_decision},
            "stages": {"Qualify": {"dwell": {"mean": 20, "cv": 0.5}}},
            "decision": decision,
            "amount": {"median": 100_000, "p90_ratio": 2.0},
        },
        "by": {
            "source": {
                "inbound": {"creation": {"count": counts[0]}},
                "outbound": {"creation": {"count": counts[1]}},
            }
        },
    }


def _year_labels(horizon_weeks):
    from simcore.calendar import periods

    return periods(START, 7 * horizon_weeks, "year").labels


def build(raw: dict, base_dir=None) -> simcore.Scenario:
    """Load a scenario dict through the real loader (``base_dir`` resolves ``bank.csv``)."""
    return simcore.scenario_from_dict(raw, name="<test>", base_dir=base_dir)


def day(date_text: str) -> float:
    """Days from :data:`START` to an ISO date (``"2026-02-15"`` -> 45.0)."""
    return float((dt.date.fromisoformat(date_text) - START).days)


def write_bank_csv(directory, rows, name: str = "bank.csv") -> str:
    """Write open deals to ``directory/name`` and return ``name`` (for ``raw["bank"]["csv"]``).

    ``rows`` are dicts with the dimension columns, ``stage``, ``amount`` and optional
    ``created`` / ``expected_close`` (ISO dates or "").
    """
    columns = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    for k in ("created", "expected_close"):
        if k not in columns:
            columns.append(k)
    with open(Path(directory) / name, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in columns})
    return name


def run(scenario, trials: int, seed=0, **kwargs):
    """``simcore.engine.simulate`` without a progress bar."""
    return simcore.simulate(scenario, trials=trials, seed=seed, progress=False, **kwargs)


# ---------------------------------------------------------------------------------------
# Monte-Carlo standard errors


def se_mean(x) -> float:
    """Standard error of the mean of independent draws ``x``."""
    x = np.asarray(x, dtype=np.float64).ravel()
    return float(x.std(ddof=1) / math.sqrt(x.size))


def se_ratio(num, den) -> float:
    """Delta-method standard error of ``sum(num) / sum(den)`` over independent trials.

    ``num[t]`` and ``den[t]`` are per-trial totals (e.g. dollars and deals); the
    trials are independent, the deals inside one trial need not be.
    """
    num = np.asarray(num, dtype=np.float64).ravel()
    den = np.asarray(den, dtype=np.float64).ravel()
    r = num.sum() / den.sum()
    resid = num - r * den
    n = num.size
    return float(math.sqrt((resid**2).sum() / (n * (n - 1))) / den.mean())


def se_variance_of(dist, n: int) -> float:
    """Standard error of the sample variance of ``n`` draws from the frozen SciPy ``dist``:
    ``sqrt((mu4 - sigma^4) / n)`` with the distribution's own fourth central moment.

    Prefer this to :func:`se_variance` when the distribution is known: the sample-moment
    version is correlated with the estimate it scales (a low sample variance comes with a
    low sample m4), which fattens the tails of the standardised error.
    """
    var, kurt = (float(v) for v in dist.stats(moments="vk"))
    mu4 = (kurt + 3.0) * var * var
    return math.sqrt((mu4 - var * var) / n)


def se_variance(x) -> float:
    """Standard error of the sample variance: ``sqrt((m4 - s^4) / n)`` from the sample moments
    (see :func:`se_variance_of` for a known distribution)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    d = x - x.mean()
    m2 = (d**2).mean()
    m4 = (d**4).mean()
    return float(math.sqrt(max(m4 - m2 * m2, 0.0) / x.size))


def se_proportion(p: float, n: float) -> float:
    """Binomial standard error of a proportion ``p`` estimated from ``n`` independent trials."""
    return math.sqrt(p * (1.0 - p) / n)


def assert_close_se(estimate, expected, se, n_se: float = 4.0, what: str = "estimate"):
    """Fail unless ``|estimate - expected| <= n_se * se`` (se > 0 required)."""
    assert se > 0, f"{what}: standard error must be positive, got {se}"
    gap = abs(float(estimate) - float(expected))
    assert gap <= n_se * se, (
        f"{what}: {estimate!r} vs expected {expected!r}: off by {gap / se:.2f} SE "
        f"(SE {se:.3g}, allowed {n_se} SE)"
    )


def retry_test(check, seeds=(0, 1)):
    """Run ``check(seed) -> p_value`` at alpha = 0.01, once more with a fresh seed if it fails.

    SciPy's practice for distribution tests: a correct generator fails a single
    test at 1% by chance, so a failure is repeated once; two failures in a row is a
    real failure (probability 1e-4 if correct).
    """
    p = check(seeds[0])
    if p >= 0.01:
        return p
    p = check(seeds[1])
    assert p >= 0.01, f"distribution test failed twice (last p = {p:.3g})"
    return p


def run_cli(capsys, *argv):
    """``(exit code, stdout, stderr)`` of ``simcore ARGV``; argparse's exits count too, and a
    traceback in either stream fails the test."""
    from simcore.cli.app import main  # lazily: only the command-line tests need the CLI

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def edited(base: dict, **changes) -> dict:
    """A deep copy of ``base`` with ``a__b__c=value`` edits: ``__`` separates the parts of a
    field path, a number indexes a list, and ``None`` deletes the field."""
    raw = copy.deepcopy(base)
    for key, value in changes.items():
        *parents, last = key.split("__")
        node = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            last = int(last)
        if value is None:
            del node[last]
        else:
            node[last] = value
    return raw
