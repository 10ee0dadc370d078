"""Big runs: memory estimate and refusal, streamed runs, Ctrl-C, stratified sampling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

import simcore
from simcore.analysis.convergence import headline_errors, replicate_errors
from simcore.engine import memory, sampling
from simcore.engine.kernel import PERT
from simcore.engine.rng import normal_quantile
from simcore.engine.stream import BLOCK
from simcore.errors import SimcoreError
from simcore.io import load_dataset, save_dataset

ROOT = Path(__file__).resolve().parents[1]
FY2026 = ROOT / "scenarios" / "fy2026.toml"


@pytest.fixture(scope="module")
def fy2026():
    return simcore.load_scenario(FY2026)


@pytest.fixture(scope="module")
def model(fy2026):
    return simcore.compile_scenario(fy2026)


# ---- memory -------------------------------------------------------------------------


def test_bytes_per_trial_is_what_a_full_run_keeps(fy2026, model):
    ds = simcore.simulate(fy2026, 64, 1, progress=False)
    kept = sum(v.nbytes for v in ds.data_vars.values() if "trial" in v.dims) / 64
    # The Dataset views the kernel's outputs (a few slots it does not show: within 15%).
    assert 0.85 * memory.bytes_per_trial(model) <= kept <= memory.bytes_per_trial(model)


def test_parse_bytes():
    assert memory.parse_bytes("8GB") == 8 * 10**9
    assert memory.parse_bytes("512 MiB") == 512 << 20
    for bad in ("", "lots", "-1GB", "0", "5 parsecs"):
        with pytest.raises(SimcoreError, match="expected a size"):
            memory.parse_bytes(bad)


def test_a_run_that_does_not_fit_is_refused_saying_what_fits(capsys, monkeypatch, model):
    monkeypatch.setenv(memory.CAP_VARIABLE, "200MB")
    per_trial = memory.bytes_per_trial(model)
    code, out, err = run_cli(capsys, "run", FY2026, "--trials", 100_000, "--no-stream", "--quiet")
    assert code == 2 and out == ""
    fit = int((0.9 * 200e6 - memory.WORKING_BYTES) // per_trial)
    assert f"at most {fit:,} trials fit" in err and "SIMCORE_MAX_MEMORY=200MB" in err
    assert "--stream" in err
    # The same with the option, and refused before anything runs, in Python too.
    code, _, err = run_cli(capsys, "run", FY2026, "--trials", 100_000, "--max-memory", "1MB", "--quiet")
    assert code == 2 and "not even one trial fits" in err and os.environ[memory.CAP_VARIABLE] == "200MB"
    assert "raise the cap" in err and "fewer trials" not in err  # fewer would not help
    with pytest.raises(SimcoreError, match="trials fit"):
        simcore.simulate(simcore.load_scenario(FY2026), 100_000, model=model)


def test_auto_streams_a_run_too_big_to_keep_in_full(capsys, monkeypatch):
    monkeypatch.setenv(memory.CAP_VARIABLE, "250MB")
    # 8,000 full trials need ~260 MB: refused in full, streamed by default.
    code, _, err = run_cli(capsys, "run", FY2026, "--trials", 8000, "--no-stream", "--quiet")
    assert code == 2
    code, out, err = run_cli(capsys, "run", FY2026, "--trials", 8000, "--json")
    assert code == 0, err


# ---- streamed runs ------------------------------------------------------------------


def test_streamed_summary_is_the_full_runs_bit_for_bit(capsys):
    args = ("run", FY2026, "--trials", 1300, "--seed", 5, "--json")
    code_full, full, _ = run_cli(capsys, *args, "--no-stream")
    code_stream, streamed, _ = run_cli(capsys, *args, "--stream")
    assert code_full == code_stream == 0
    assert streamed == full


def test_streamed_moments_match_the_full_result_and_any_chunking(fy2026, model):
    full = simcore.simulate(fy2026, 1300, 9, progress=False, model=model)
    a = simcore.simulate(fy2026, 1300, 9, progress=False, model=model, stream=True)
    b = simcore.simulate(fy2026, 1300, 9, progress=False, model=model, stream=True, chunk_size=BLOCK)
    for name in ("bank_amount", "lost_count", "assumption", "bookings_by_cohort"):
        mean = full[name].mean("trial").values
        np.testing.assert_allclose(a[f"{name}_mean"].values, mean, rtol=1e-12, atol=1e-9)
        sd = full[name].std("trial", ddof=1).values
        np.testing.assert_allclose(a[f"{name}_sd"].values, sd, rtol=1e-9, atol=1e-6)
    for name in a.data_vars:
        if a[name].dtype.kind in "fiub":
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert a.attrs["streamed"] == 1 and a.sizes["trial"] == 1300


def test_streamed_result_round_trips_to_netcdf(tmp_path, fy2026, model):
    ds = simcore.simulate(fy2026, 600, 2, progress=False, model=model, stream=True)
    path = tmp_path / "streamed.nc"
    save_dataset(ds, path)
    back = load_dataset(path)
    assert back.simcore.summary() == ds.simcore.summary()


# ---- Ctrl-C -------------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_stops_a_long_run_promptly_and_leaves_nothing(tmp_path):
    out = tmp_path / "big.nc"
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simcore", "run", str(FY2026), "--trials", "5000000", "--stream"]
        + ["--quiet", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait until it is simulating: past start-up, the kernel keeps it busy.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _cpu_seconds(proc.pid) < 6.0:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        time.sleep(1.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        waited = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert waited < 2.5, f"took {waited:.1f} s to stop"
    assert list(tmp_path.iterdir()) == []


def _cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- sampling -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lhs", "sobol"])
def test_points_are_a_pure_function_of_seed_and_trial(kind):
    whole = sampling.uniforms(kind, 3, 100, 1500, 5)
    parts = np.concatenate(
        [sampling.uniforms(kind, 3, lo, hi - lo, 5) for lo, hi in [(100, 101), (101, 700), (700, 1600)]]
    )
    np.testing.assert_array_equal(whole, parts)
    assert (0 < whole).all() and (whole < 1).all()
    assert not np.array_equal(whole, sampling.uniforms(kind, 4, 100, 1500, 5))


def test_a_latin_hypercube_replicate_takes_every_stratum_once():
    size = sampling.REPLICATE_SIZE["lhs"]
    u = sampling.uniforms("lhs", 1, size, size, 7)  # replicate 1, whole
    strata = np.sort(np.floor(u * size).astype(int), axis=0)
    np.testing.assert_array_equal(strata, np.tile(np.arange(size)[:, None], (1, 7)))


def _pert_slots(model):
    cells, slots = np.nonzero(model.param_kind == PERT)
    # Skip slots the kernel rewrites (a free stage's placeholder advance rate).
    keep = [(c, q) for c, q in zip(cells, slots) if model.param_low[c, q] < model.param_high[c, q]]
    return keep[:4]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lhs", "sobol"])
def test_stratified_means_are_unbiased_against_the_closed_form(fy2026, model, kind):
    """The market factor's mean is 0 and a PERT's is (low + 4 base + high) / 6; the
    replicate-based error is the yardstick, and the kernel is fed exactly the sampler's points."""
    trials = 4096
    ds = simcore.simulate(fy2026, trials, 21, progress=False, model=model, sampling=kind)
    u = sampling.kernel_uniforms(model, kind, 21, 0, trials)
    market = ds.market_factor.values
    np.testing.assert_array_equal(market, [normal_quantile(x) for x in u[:, 0]])
    replicate = sampling.replicate_of(kind, np.arange(trials))
    e = replicate_errors(market, replicate)
    assert abs(e["mean"]["value"]) <= 4 * e["mean"]["se"]
    n_cells, n_slots = model.param_kind.shape
    drawn = ds.assumption.values.reshape(trials, n_slots, n_cells).transpose(0, 2, 1)
    for c, q in _pert_slots(model):
        low, base, high = model.param_low[c, q], model.param_base[c, q], model.param_high[c, q]
        x = drawn[:, c, q]
        e = replicate_errors(x, replicate)
        assert abs(e["mean"]["value"] - (low + 4 * base + high) / 6) <= 4 * e["mean"]["se"] + 1e-9 * high
        assert low <= x.min() and x.max() <= high
    # The i.i.d. error of a standard normal's mean is 1 / sqrt(n): stratified is far below.
    assert replicate_errors(market, replicate)["mean"]["se"] < 0.5 / np.sqrt(trials)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lhs", "sobol"])
def test_replicate_errors_agree_with_brute_force_repetition(model, kind):
    """Over 60 independent seeds, the replicate-based SE of a nonlinear per-trial figure
    (a market-loaded sum of transformed assumption uniforms) matches the spread of the estimates."""
    from scipy.special import ndtri

    size = sampling.REPLICATE_SIZE[kind]
    trials = 8 * size
    cells, slots = sampling.sampled_slots(model)
    cols = 1 + cells * model.param_kind.shape[1] + slots
    estimates, ses = [], []
    for seed in range(60):
        u = sampling.kernel_uniforms(model, kind, seed, 0, trials)
        y = np.exp(0.3 * ndtri(u[:, 0])) * (u[:, cols[:6]] ** 2).sum(axis=1)
        e = replicate_errors(y, sampling.replicate_of(kind, np.arange(trials)))
        estimates.append(e["mean"]["value"])
        ses.append(e["mean"]["se"])
    ratio = np.mean(ses) / np.std(estimates, ddof=1)
    # sd of 60 estimates: +/-9% (1 sd); the mean of 60 SEs from 8 replicates each: +/-4%.
    assert 0.7 < ratio < 1.35, ratio


def test_headline_errors_use_replicates_under_stratified_sampling(fy2026, model):
    ds = simcore.simulate(fy2026, 1024, 3, progress=False, model=model, sampling="lhs")
    e = headline_errors(ds)["year"]
    assert e["replicates"] == 4
    random = headline_errors(simcore.simulate(fy2026, 1024, 3, progress=False, model=model))["year"]
    assert "replicates" not in random


@pytest.mark.parametrize("kind", ["lhs", "sobol"])
def test_stratified_runs_are_the_same_bits_for_any_chunking(fy2026, model, kind):
    a = simcore.simulate(fy2026, 700, 4, progress=False, model=model, sampling=kind)
    b = simcore.simulate(fy2026, 700, 4, progress=False, model=model, sampling=kind, chunk_size=97)
    c = simcore.simulate(fy2026, 300, 4, progress=False, model=model, sampling=kind, trial_start=400)
    for name in ("bookings_amount", "assumption", "market_factor"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
        np.testing.assert_array_equal(a[name].values[400:], c[name].values)


def test_sampling_in_the_scenario_and_on_the_command_line(capsys, tmp_path):
    text = FY2026.read_text()
    path = tmp_path / "s.toml"
    path.write_text('sampling = "sobol"\n' + text)
    code, out, err = run_cli(capsys, "run", path, "--trials", 600, "--json")
    assert code == 0, err
    code, out2, err = run_cli(capsys, "run", FY2026, "--trials", 600, "--json", "--sampling", "sobol")
    assert code == 0, err
    year = lambda text: __import__("json").loads(text)["bookings"]["year"]  # noqa: E731
    assert year(out) == year(out2)
    path.write_text('sampling = "halton"\n' + text)
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 2 and "sampling" in err and "halton" in err


def test_an_incomplete_replicate_keeps_the_errors_honest():
    # Twelve stratified replicates of 64 uniforms and the first 20 of a thirteenth (a run that
    # stopped inside it), cubed: the reported errors against the spread over 400 repetitions.
    # Taken over all thirteen replicates alike, the errors were 1.9-4.0x too large.
    from simcore.analysis.convergence import replicate_errors

    rng = np.random.default_rng(20261202)
    values, errors = {k: [] for k in ("mean", "p10", "p50")}, {k: [] for k in ("mean", "p10", "p50")}
    labels = np.repeat(np.arange(13), [64] * 12 + [20])
    for _ in range(400):
        reps = [(rng.permutation(64) + rng.random(64)) / 64 for _ in range(13)]
        y = np.concatenate(reps[:12] + [reps[12][:20]]) ** 3
        e = replicate_errors(y, labels)
        assert e["replicates"] == 12
        for k in values:
            values[k].append(e[k]["value"])
            errors[k].append(e[k]["se"])
    for k in values:
        ratio = np.mean(errors[k]) / np.std(values[k], ddof=1)
        assert 0.75 < ratio < 1.35, (k, ratio)


def test_converge_adds_whole_replicates(fy2026):
    from simcore.analysis.convergence import simulate_to_precision

    sc = fy2026.with_overrides({"sampling": "lhs"})
    ds, report = simulate_to_precision(sc, 1e-9, seed=3, chunk=300, max_trials=1100)
    assert [h["trials"] for h in report.history] == [512, 1024, 1100]
