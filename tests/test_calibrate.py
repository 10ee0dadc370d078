"""simcore calibrate: recovery of known parameters from synthetic history, the fitted scenario runs,
and its annual bookings agree with the truth's within Monte-Carlo and parameter error.

Interval checks are statistical: a correct 90% interval misses the truth 10% of the time, so a
history's misses are counted and held to the binomial 99.9% quantile, and every estimate must
also lie within 4 of its standard errors (the 90% half-width / 1.645) of the truth.
"""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest
from conftest import build, run
from scipy import stats
from test_calibrate_history import known_raw

import simcore
from simcore.calibrate import calibrate, simulate_history, tidy_history

# Parameters of known_raw whose truth is a plain number, by the evidence table's names.
TRUTH = {
    "advance[Qualify]": 0.6,
    "lost_competition_share[Qualify]": 0.25,
    "dwell_mean[Qualify]": 20.0,
    "dwell_cv[Qualify]": 0.5,
    "win": 0.3,
    "push": 0.2,
    "push_delay_mean": 15.0,
    "push_delay_cv": 0.5,
    "dwell_mean[Decide]": 25.0,
    "dwell_cv[Decide]": 0.6,
    "lost_competition_share[decision]": 0.5,
    "median_amount": 100_000.0,
    "sigma": 0.5,
    "creation_count": 1500.0,
    "win_decay": 1.0,
}


def fitted(seed, count=1500.0, years=3, sources=("inbound", "outbound"), **kwargs):
    sc = build(known_raw(count=count, sources=sources))
    h = simulate_history(sc, f"{2026 - years}-01-01", "2026-01-01", seed=seed)
    opps, hist = tidy_history(h, ["source"])
    return calibrate(opps, "2026-01-01", ["source"], hist, **kwargs), sc


def interval_checks(evidence):
    """``(inside 90%, within 4 SE, parameter)`` for every fitted value with a known truth."""
    out = []
    for _, row in evidence.iterrows():
        truth = TRUTH.get(row["parameter"])
        if truth is None or not math.isfinite(row["low"]):
            continue
        log_scale = (
            row["parameter"] not in ("advance[Qualify]", "win", "push") and "share" not in row["parameter"]
        )
        f = np.log if log_scale else (lambda x: x)
        se_hi = (f(row["high"]) - f(row["estimate"])) / 1.6448536269514722
        se_lo = (f(row["estimate"]) - f(row["low"])) / 1.6448536269514722
        gap = f(truth) - f(row["estimate"])
        within = gap <= 4 * se_hi if gap > 0 else -gap <= 4 * se_lo
        out.append((row["low"] <= truth <= row["high"], within, f"{row['cell']} {row['parameter']}"))
    return out


@pytest.fixture(scope="module")
def fit_and_truth():
    return fitted(seed=12)


def test_recovers_the_true_parameters_within_their_intervals(fit_and_truth):
    fit, _ = fit_and_truth
    checks = interval_checks(fit.evidence)
    assert len(checks) >= 25
    far = [name for _, within, name in checks if not within]
    assert not far, f"estimates more than 4 SE from the truth: {far}"
    misses = sum(not inside for inside, _, _ in checks)
    allowed = stats.binom.ppf(0.999, len(checks), 0.10)
    assert misses <= allowed, (
        f"{misses} of {len(checks)} 90% intervals miss the truth (allowed {allowed:.0f})"
    )
    growth = fit.evidence[fit.evidence["parameter"] == "growth[Qualify]"]["estimate"]
    np.testing.assert_allclose(growth, 1.2, rtol=1e-4)  # deterministic in the model: exact up to cents


def test_dwell_family_is_chosen_by_likelihood(fit_and_truth):
    fit, _ = fit_and_truth
    # The truth is lognormal everywhere; the gamma and exponential lose on thousands of spells.
    assert fit.diagnostics["dwell_family"] == {
        "Qualify": "lognormal",
        "(push delay)": "lognormal",
        "Decide": "lognormal",
    }


def test_our_censored_fit_is_scipys(fit_and_truth):
    # scipy.stats' own fit on CensoredData (unweighted) finds the same lognormal.
    from simcore.calibrate.fit import fit_dwell

    rng = np.random.default_rng(3)
    x = rng.lognormal(math.log(20) - 0.5 * math.log1p(0.25), math.sqrt(math.log1p(0.25)), 3000)
    c = rng.uniform(0, 60, 3000)
    duration, event = np.minimum(x, c), x <= c
    data = stats.CensoredData(uncensored=duration[event], right=duration[~event])
    s, _, scale = stats.lognorm.fit(data, floc=0)
    ours = fit_dwell("lognormal", duration, event)
    np.testing.assert_allclose(math.exp(ours["log_mean"]), scale * math.exp(0.5 * s * s), rtol=2e-3)
    np.testing.assert_allclose(math.exp(ours["log_cv"]), math.sqrt(math.expm1(s * s)), rtol=5e-3)


def test_the_fitted_scenario_is_valid_and_complete(fit_and_truth, tmp_path):
    fit, _ = fit_and_truth
    path, bank = fit.write(tmp_path / "fitted.toml")
    doc = tomllib.loads(path.read_text())
    assert doc["bank"]["csv"] == "fitted_bank.csv" and bank.exists()
    sc = simcore.load_scenario(path)
    assert [s.name for s in sc.stages] == ["Qualify", "Decide"]
    assert len(sc.bank) == fit.diagnostics["open_deals"] > 0
    text = path.read_text()
    # Every fitted rate and dwell carries its evidence.
    for line in text.splitlines():
        if line.startswith(("advance", "win", "push", "mean", "median", "count")):
            assert "#" in line and ("90%" in line or "not fitted" in line), line
    assert isinstance(fit.to_dict()["evidence"], list)
    assert set(fit.to_dataframe().columns) >= {"cell", "parameter", "estimate", "low", "high", "deals"}


def test_fitted_scenario_books_what_the_truth_books(fit_and_truth):
    # Both from an empty pipeline on 2026-01-01 (the fitted bank left out), the same year.
    fit, truth = fit_and_truth
    doc = {k: v for k, v in fit.document.items() if k != "bank"}
    fitted_sc = simcore.scenario_from_dict(doc)
    trials = 400
    a = run(truth, trials=trials, seed=1).simcore.year_bookings().values
    b = run(fitted_sc, trials=trials, seed=2).simcore.year_bookings().values
    # The fitted scenario draws its parameters per trial, so its spread holds the parameter error
    # on top of the deal-level noise the truth alone has.
    parameter_var = max(b.var(ddof=1) - a.var(ddof=1), 0.0)
    se = math.sqrt(a.var(ddof=1) / trials + b.var(ddof=1) / trials + parameter_var)
    assert abs(b.mean() - a.mean()) <= 4 * se, (a.mean(), b.mean(), se)


def test_without_a_stage_history_says_what_is_not_fitted():
    sc = build(known_raw(count=800))
    h = simulate_history(sc, "2024-01-01", "2026-01-01", seed=2)
    opps, _ = tidy_history(h, ["source"])
    fit = calibrate(opps, "2026-01-01", ["source"])
    assert not fit.diagnostics["with_history"]
    assert [s.name for s in fit.scenario.stages] == ["Open"]
    assert "push = 0  # not fitted" in fit.toml
    assert "No stage history was given" in fit.toml
    # The close rate of the one open stage is the model's created-to-won probability: 0.6 x
    # (0.3 + 0.2 x later wins) with pushes re-deciding: w / (1 - p) for p below max_pushes,
    # here 0.6 * 0.3 * (1 + 0.2 + 0.04 + 0.008) = 0.2246.
    # One open stage treats a deal's outcome as independent of its age, which it is not (wins
    # take longer than early losses); the bias that leaves is at most the share of deals still
    # open, which the tolerance adds to the interval.
    expected = 0.6 * 0.3 * (1 + 0.2 + 0.2**2 + 0.2**3)
    bias = fit.diagnostics["open_deals"] / fit.diagnostics["deals"]
    for _, row in fit.evidence[fit.evidence["parameter"] == "win"].iterrows():
        assert row["low"] - bias <= expected <= row["high"] + bias, row.to_dict()


def test_half_life_weights_recent_history():
    fit, _ = fitted(seed=3, count=600, years=2, half_life=180.0)
    assert math.isfinite(fit.evidence.set_index(["cell", "parameter"]).loc[("inbound", "win"), "estimate"])
    with pytest.raises(simcore.SimcoreError, match="half_life"):
        fitted(seed=3, count=100, years=1, half_life=-1)


def test_sparse_cells_borrow_strength():
    # A cell with a handful of deals gets a rate near the pool's and a wide interval.
    sc = build(known_raw(count=1500, sources=("big", "tiny")))
    sc = sc.with_overrides({"by.source.tiny.creation.count": 8})
    h = simulate_history(sc, "2024-01-01", "2026-01-01", seed=5)
    opps, hist = tidy_history(h, ["source"])
    ev = calibrate(opps, "2026-01-01", ["source"], hist).evidence.set_index(["cell", "parameter"])
    big, tiny = ev.loc[("big", "win")], ev.loc[("tiny", "win")]
    assert tiny["high"] - tiny["low"] > 2 * (big["high"] - big["low"])
    assert abs(tiny["estimate"] - 0.3) < 0.1


@pytest.mark.slow
def test_intervals_cover_the_truth_about_90_percent():
    # 24 histories of one cell, each giving about 14 parameters with a truth: about 330
    # intervals. Coverage 0.9 has a binomial SE of sqrt(0.09 / 330) = 1.7%; allow 4 SE
    # (intervals within a history share its deals, so they are close to, not exactly,
    # independent).
    inside = []
    for seed in range(100, 124):
        fit, _ = fitted(seed, count=500, years=2, sources=("all",))
        inside += [ok for ok, _, _ in interval_checks(fit.evidence)]
    share = float(np.mean(inside))
    se = math.sqrt(0.9 * 0.1 / len(inside))
    assert abs(share - 0.9) <= 4 * se, f"coverage {share:.3f} over {len(inside)} intervals"


def test_simcore_calibrate_is_callable(fit_and_truth):
    _, truth = fit_and_truth
    h = simulate_history(truth, "2025-01-01", "2026-01-01", seed=8)
    opps, hist = tidy_history(h, ["source"])
    fit = simcore.calibrate(opps, as_of="2026-01-01", dimensions=["source"], stage_history=hist)
    assert isinstance(fit, simcore.calibrate.CalibrationResult)


def test_report_compares_with_the_plan(fit_and_truth, tmp_path):
    from simcore.calibrate.report import write_report

    fit, truth = fit_and_truth
    plan = truth.with_overrides({"defaults.decision.win": 0.5})
    page = write_report(fit, tmp_path, plan=plan)
    text = page.read_text()
    for image in ("dwell_1.png", "dwell_2.png", "push_delay.png", "rates.png", "amounts.png", "creation.png"):
        assert (tmp_path / image).stat().st_size > 1000
        assert image in text
    # The plan's 50% win rate is far outside the history's interval around 30%: said in words.
    assert "Your plan says 50% at the decision for inbound; your history says 3" in text
    # Where plan and history agree (advance 60% at Qualify), nothing is said.
    assert "at Qualify" not in text


@pytest.mark.slow
def test_benchmark_runs_small(capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import bench_calibrate

    bench_calibrate.main(["--opportunities", "3000", "--years", "1"])
    out = capsys.readouterr().out
    assert "calibrate:" in out and "read both files:" in out


def test_a_history_without_pushes_fits_no_push(tmp_path):
    # No push in ~2,700 decisions of one cell: the posterior mean (a flat prior of strength 2)
    # is under a millionth, which a Beta cannot be written with; the fitted scenario says
    # push = 0 and loads.
    sc = build(known_raw(count=1500, push=0.0, sources=("inbound",)))
    h = simulate_history(sc, "2023-01-01", "2026-01-01", seed=5)
    opps, hist = tidy_history(h)
    fit = calibrate(opps, "2026-01-01", (), hist)
    path, _ = fit.write(tmp_path / "fitted.toml")
    doc = tomllib.loads(path.read_text())
    push = doc["cell"]["all"]["decision"]["push"]
    assert push == 0 or push["mean"] <= 1e-5
    assert simcore.load_scenario(path).params[0].decision.push == 0.0
