"""Monte-Carlo errors: interval coverage against known distributions, the standard error
against brute-force repetition, and the precision loop's stopping rule."""

import json
import math

import numpy as np
import pytest
from helpers import two_stage_raw
from scipy import stats
from scipy.special import ndtri

import simcore
from simcore.analysis.convergence import (
    headline_errors,
    mean_se,
    proportion_se,
    quantile_interval,
    quantile_se,
    simulate_to_precision,
)
from simcore.cli.app import main


@pytest.mark.parametrize("q", [0.1, 0.5])
def test_order_statistic_interval_and_se_cover_a_known_quantile(q):
    rng = np.random.default_rng(0)
    reps, n = 400, 1000
    truth = math.exp(ndtri(q))  # lognormal(0, 1): skewed, like bookings with whales
    hits_interval = hits_se = 0
    for _ in range(reps):
        x = rng.lognormal(0.0, 1.0, n)
        lo, hi = quantile_interval(x, q, 0.95)
        hits_interval += lo <= truth < hi
        hits_se += abs(np.quantile(x, q) - truth) <= 1.96 * quantile_se(x, q)
    # The interval's exact coverage is a Binomial sum: B(k-1) - B(j-1).
    j = int(stats.binom.ppf(0.025, n, q))
    k = int(stats.binom.ppf(0.975, n, q)) + 1
    exact = stats.binom.cdf(k - 1, n, q) - stats.binom.cdf(j - 1, n, q)
    assert exact >= 0.95
    assert abs(hits_interval / reps - exact) < 4 * math.sqrt(exact * (1 - exact) / reps)
    # +/-1.96 standard errors cover about 95%.
    assert abs(hits_se / reps - 0.95) < 4 * math.sqrt(0.95 * 0.05 / reps)


@pytest.mark.parametrize("q", [0.1, 0.5])
def test_kde_se_covers_a_normal_quantile(q):
    rng = np.random.default_rng(0)
    reps, n = 400, 1000
    hits = sum(
        abs(np.quantile(x, q) - ndtri(q)) <= 1.96 * quantile_se(x, q, method="kde")
        for x in (rng.normal(0.0, 1.0, n) for _ in range(reps))
    )
    assert abs(hits / reps - 0.95) < 4 * math.sqrt(0.95 * 0.05 / reps)


def test_too_few_values_leave_the_interval_open():
    lo, hi = quantile_interval(np.arange(20.0), 0.1, 0.95)
    assert lo == -math.inf and math.isfinite(hi)  # P(all 20 above the P10) = 0.9^20 > 2.5%
    lo, hi = quantile_interval(np.arange(1000.0), 0.1, 0.95)
    assert math.isfinite(lo) and math.isfinite(hi)


def test_simple_errors():
    assert mean_se([1.0, 3.0]) == pytest.approx(math.sqrt(2) / math.sqrt(2))
    assert proportion_se(0.5, 100) == pytest.approx(0.05)
    assert quantile_se(np.ones(10), 0.5) == 0.0


def small(uncertain=True):
    win = {"low": 0.15, "base": 0.25, "high": 0.35} if uncertain else 0.25
    return two_stage_raw("small", win=win, push=0.1, counts=(120, 120))


def test_reported_se_matches_brute_force_repetition():
    # 80 independent runs of 400 trials = 80 disjoint trial ranges of one 32,000-trial run.
    runs, n = 80, 400
    sc = simcore.scenario_from_dict(small())
    year = (
        simcore.simulate(sc, runs * n, seed=0, progress=False).simcore.year_bookings().values.reshape(runs, n)
    )
    tol = 4 / math.sqrt(2 * (runs - 1))  # relative s.e. of a standard deviation from `runs` values
    for q in (0.5, 0.1):
        brute = np.quantile(year, q, axis=1).std(ddof=1)
        reported = np.mean([quantile_se(r, q) for r in year])
        assert abs(reported / brute - 1) < tol, (q, reported, brute)
    brute = year.mean(axis=1).std(ddof=1)
    assert abs(np.mean([mean_se(r) for r in year]) / brute - 1) < tol


def test_precision_loop_stops_and_is_one_run():
    sc = simcore.scenario_from_dict(small())
    messages = []
    ds, report = simulate_to_precision(sc, precision=0.03, seed=0, chunk=500, progress=messages.append)
    assert report.converged
    assert report.trials % 500 == 0 and report.trials == ds.sizes["trial"]
    assert max(report.achieved.values()) <= 0.03
    # It stopped at the first chunk that met the precision.
    assert all(max(h["p50"], h["p10"]) > 0.03 for h in report.history[:-1])
    assert len(messages) == len(report.history) and "P10" in messages[-1]
    one = simcore.simulate(sc, report.trials, seed=0, progress=False)
    assert np.array_equal(one.bookings_amount.values, ds.bookings_amount.values)
    assert report.errors["year"]["p_hit"]["se"] == pytest.approx(
        proportion_se(report.errors["year"]["p_hit"]["value"], report.trials)
    )


def test_precision_loop_reports_when_it_gives_up():
    sc = simcore.scenario_from_dict(small())
    ds, report = simulate_to_precision(sc, precision=0.0001, seed=0, chunk=300, max_trials=600)
    assert not report.converged and report.trials == 600
    assert "NOT reached" in report.message()


def test_headline_errors_shape():
    sc = simcore.scenario_from_dict(small(uncertain=False))
    ds = simcore.simulate(sc, 500, seed=0, progress=False)
    h = headline_errors(ds)
    assert set(h["year"]) >= {"mean", "p10", "p50", "p90", "p_hit", "trials"}
    assert h["year"]["p50"]["low"] <= h["year"]["p50"]["value"] <= h["year"]["p50"]["high"]
    assert list(h["by_period"]) == list(ds.period.values)


def test_cli_precision(capsys, tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(
        'name = "small"\nstart = 2026-01-01\nend = 2026-12-31\ntarget = 5_000_000\n'
        '[dimensions]\nsource = ["inbound"]\n[[stage]]\nname = "Decide"\ncategory = "commit"\n'
        "[defaults.decision]\nwin = 0.3\n[defaults.amount]\nmedian = 100_000\np90_ratio = 2.0\n"
        "[defaults.creation]\ncount = 200\n"
    )
    assert main(["converge", str(path), "--precision", "3%", "--chunk", "500", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["convergence"]["converged"] and out["convergence"]["trials"] >= 500
    assert "se" in out["convergence"]["errors"]["year"]["p50"]
    assert main(["converge", str(path), "--precision", "abc"]) == 2
    assert "precision" in capsys.readouterr().err
    # Giving up at --max-trials is not success: a script sees exit 1.
    assert (
        main(["converge", str(path), "--precision", "0.01%", "--chunk", "500", "--max-trials", "1000"]) == 1
    )
    assert "NOT reached" in capsys.readouterr().out


def test_run_precision_flag(capsys, tmp_path):
    out = tmp_path / "r.nc"
    assert main(["run", "--precision", "2%", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "Precision 2% at 95% reached" in text and "+/-" in text
    assert out.exists()
    # --json keeps run's contract (the summary's keys at the top) and adds how it converged.
    assert main(["run", "--precision", "5%", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"scenario", "trials", "seed", "p_hit", "bookings", "stage1_created"} <= set(data)
    assert data["trials"] == data["convergence"]["trials"]
    # --trials would be silently ignored: refused.
    assert main(["run", "--precision", "5%", "--trials", "200"]) == 2
    assert "give --trials or --precision, not both" in capsys.readouterr().err
