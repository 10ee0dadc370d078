"""The command line end to end, in process through :func:`simcore.cli.app.main` (and once as a
real process): ``run`` (table, ``--json`` contract, ``--out``, ``--set``, ``--variant``),
``validate``, and every kind of bad input giving exit code 2, a message and no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from helpers import run_cli

from simcore import load_scenario, simulate
from simcore.cli.app import main
from simcore.io import load_dataset

ROOT = Path(__file__).resolve().parent.parent
TRIALS = "400"

# Small and fast: one source x two products, three stages, a year by quarter.
TINY = """
name = "tiny"
start = 2026-01-01
end = 2026-12-31
period = "quarter"
target = 2_000_000

[dimensions]
source = ["inbound"]
product = ["CMP", "FinOps"]

[[stage]]
name = "Stage 1"
category = "pipeline"

[[stage]]
name = "Stage 2"
category = "best_case"

[[stage]]
name = "Stage 3"
category = "commit"

[defaults]
conversion.to_decision = 0.5
stages."Stage 1".dwell = { mean = 15 }
stages."Stage 2".dwell = { mean = 15 }
decision = { win_loss_push = [1, 2, 1], dwell = { mean = 20 }, push_delay = { mean = 20 } }
amount = { median = 40_000, p90_ratio = 2.0 }
creation = { per = "year", dollars = 12_000_000 }

[by.product.FinOps]
amount.median = 20_000
creation.share = 0.5

[[bank.aggregate]]
source = "inbound"
product = "CMP"
stage = "Stage 3"
dollars = 400_000
count = 8

[variants.Low]
description = "a quarter less pipeline"
set = { "defaults.creation.dollars" = 9_000_000 }
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


def run_json(capsys, *argv):
    code, out, err = run_cli(capsys, "run", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


# ---- run ----------------------------------------------------------------------------------


def test_run_default_scenario_prints_the_table(capsys):
    code, out, _ = run_cli(capsys, "run", "--trials", TRIALS, "--seed", "0", "--quiet")
    assert code == 0
    assert out.startswith("fy2026: 400 trials, seed 0")
    for words in (
        "Bookings",
        "Stage-1 created",
        "Stage-4 created",
        "2026-Q1",
        "2026-Q4",
        "Year",
        "P10",
        "P50",
        "P90",
        "Target $8.65M: P(year bookings >= target) =",
        "Opportunities simulated per trial",
    ):
        assert words in out


DIST = {"mean", "p10", "p50", "p90"}


def test_run_json_matches_the_contract(tiny, capsys):
    summary = run_json(capsys, tiny, "--trials", TRIALS, "--seed", "7")
    assert isinstance(summary["scenario"], str) and summary["scenario"] == "tiny"
    assert summary["trials"] == 400 and summary["seed"] == 7
    assert isinstance(summary["version"], str)
    assert summary["target"] == 2_000_000.0
    assert 0.0 <= summary["p_hit"] <= 1.0
    assert isinstance(summary["deals_per_trial"], float) and summary["deals_per_trial"] > 0
    for key in ("bookings", "stage1_created", "stage4_created"):
        shape = summary[key]
        assert set(shape["year"]) == DIST
        assert list(shape["by_period"]) == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
        for dist in [shape["year"], *shape["by_period"].values()]:
            assert set(dist) == DIST and all(isinstance(v, float) for v in dist.values())
            assert dist["p10"] <= dist["p50"] <= dist["p90"]
        # "year" is the whole horizon: the mean of the sum is the sum of the period means.
        assert shape["year"]["mean"] == pytest.approx(sum(d["mean"] for d in shape["by_period"].values()))


def test_run_json_without_target_gives_nulls(tiny, capsys):
    text = tiny.read_text(encoding="utf-8").replace("target = 2_000_000\n", "")
    tiny.write_text(text, encoding="utf-8")
    summary = run_json(capsys, tiny, "--trials", "100")
    assert summary["target"] is None and summary["p_hit"] is None


def test_out_writes_netcdf_that_reads_back_identical(tiny, tmp_path, capsys):
    out = tmp_path / "run.nc"
    summary = run_json(capsys, tiny, "--trials", TRIALS, "--seed", "3", "--out", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc", "tiny.toml"]  # no temporaries left
    ds = load_dataset(out)
    expected = simulate(load_scenario(tiny), trials=400, seed=3, progress=False)
    xr.testing.assert_identical(ds, expected)
    # p_hit is P(year bookings >= target) of exactly these trials.
    year = ds["bookings_amount"].sum([d for d in ds["bookings_amount"].dims if d != "trial"]).values
    assert summary["p_hit"] == pytest.approx(float(np.mean(year >= 2_000_000)), abs=0)
    assert summary["bookings"]["year"]["mean"] == pytest.approx(float(year.mean()), rel=1e-12)
    assert summary["bookings"]["year"]["p50"] == pytest.approx(float(np.quantile(year, 0.5)), rel=1e-12)
    # The table run names the file it wrote.
    code, text, _ = run_cli(capsys, "run", tiny, "--trials", "50", "--out", tmp_path / "b.nc", "--quiet")
    assert code == 0 and f"Full result written to {tmp_path / 'b.nc'}" in text


def test_same_seed_same_json_and_seed_zero_is_a_seed(tiny, capsys):
    a = run_json(capsys, tiny, "--trials", "200", "--seed", "0")
    b = run_json(capsys, tiny, "--trials", "200")  # the default seed is 0
    c = run_json(capsys, tiny, "--trials", "200", "--seed", "1")
    assert a == b
    assert a["bookings"] != c["bookings"]


def test_set_overrides_change_the_result(tiny, capsys):
    base = run_json(capsys, tiny, "--trials", TRIALS)
    more = run_json(capsys, tiny, "--trials", TRIALS, "--set", "defaults.decision.win_loss_push=[2, 1, 1]")
    assert more["bookings"]["year"]["mean"] > base["bookings"]["year"]["mean"]
    assert more["stage1_created"] == base["stage1_created"]  # creation untouched: same deals
    # Repeatable, and TOML values: a number and a PERT table.
    both = run_json(
        capsys,
        tiny,
        "--trials",
        TRIALS,
        "--set",
        "defaults.decision.win_loss_push=[2, 1, 1]",
        "--set",
        "defaults.creation.dollars=6e6",
        "--set",
        "by.product.FinOps.amount.median={low=10000, base=20000, high=40000}",
    )
    assert both["stage1_created"]["year"]["mean"] < 0.6 * base["stage1_created"]["year"]["mean"]


def test_variant(tiny, capsys):
    base = run_json(capsys, tiny, "--trials", TRIALS)
    low = run_json(capsys, tiny, "--trials", TRIALS, "--variant", "Low")
    assert low["scenario"] == "tiny [Low]"
    # Expected stage-1 dollars scale with the plan: 9/12 of the base plan's.
    assert low["stage1_created"]["year"]["mean"] == pytest.approx(
        0.75 * base["stage1_created"]["year"]["mean"], rel=0.05
    )


def test_variant_of_the_default_scenario(capsys):
    base = run_json(capsys, "--trials", "300", "--variant", "Base")
    conservative = run_json(capsys, "--trials", "300", "--variant", "Conservative")
    assert conservative["bookings"]["year"]["mean"] < base["bookings"]["year"]["mean"]


# ---- validate -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "scenarios").glob("*.toml")))
def test_validate_bundled_scenarios(name, capsys):
    code, out, err = run_cli(capsys, "validate", ROOT / "scenarios" / name)
    assert code == 0 and ": OK: scenario" in out and err == ""


def test_validate_reports_every_problem_and_exits_2(tiny, capsys):
    text = tiny.read_text(encoding="utf-8")
    text = text.replace("conversion.to_decision = 0.5", "conversion.to_decision = 1.5")
    text = text.replace("[by.product.FinOps]", "[by.product.FinOp]")
    text = text.replace('stage = "Stage 3"', 'stage = "Stage 9"')
    tiny.write_text(text, encoding="utf-8")
    code, out, err = run_cli(capsys, "validate", tiny)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[-1] == "3 problems found; nothing was run."
    assert f"error: {tiny}: defaults.conversion.to_decision: probability 1.5 is out of range" in err
    assert f"error: {tiny}: by.product.FinOp: unknown product 'FinOp' (did you mean 'FinOps'?)" in err
    assert f"error: {tiny}: bank.aggregate[0].stage: unknown value 'Stage 9'" in err
    # run refuses the same file the same way.
    code, out, err2 = run_cli(capsys, "run", tiny, "--trials", "10")
    assert code == 2 and err2 == err


def test_validate_toml_syntax_error(tmp_path, capsys):
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n[dimensions\n', encoding="utf-8")
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 2 and f"{path}: (syntax): not valid TOML" in err


def test_validate_missing_file(tmp_path, capsys):
    code, _, err = run_cli(capsys, "validate", tmp_path / "nope.toml")
    assert code == 2 and "nope.toml: (file): no such file" in err


def test_validate_needs_a_file(capsys):
    code, _, err = run_cli(capsys, "validate")
    assert code == 2
    assert err == (
        "simcore validate: error: the following arguments are required: scenario "
        "(see simcore validate --help)\n"
    )


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--variant", "Lo"], "no variant 'Lo' (did you mean 'Low'?)"),
        (
            ["--set", "defaults.decision.wn=0.3"],
            "defaults.decision.wn: unknown key 'wn' (did you mean 'win'?)",
        ),
        (["--set", "defaults.decision.win_loss_push=[1, 2]"], "must have exactly 3 entries"),
        (["--set", "defaults.amount.median=big"], "must be a number, got the text 'big'"),
        (["--set", "novalue"], "--set 'novalue': expected path.to.field=value"),
        (["--set", "=3"], "the field path is empty"),
        (["--set", "name.x=1"], "name is a value, not a table"),
    ],
)
def test_bad_variant_or_set(tiny, capsys, argv, words):
    code, out, err = run_cli(capsys, "validate", tiny, *argv)
    assert code == 2 and out == "" and words in err


# ---- bad arguments and outputs ------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--trials", "0"], "must be at least 1"),
        (["--trials", "-5"], "must be at least 1"),
        (["--trials", "many"], "expected a whole number"),
        (["--trials", "1.5"], "expected a whole number"),
        (["--seed", "-1"], "must be in [0, 2**63)"),
        (["--seed", "x"], "expected a whole number"),
        (["--seed", str(2**63)], "must be in [0, 2**63)"),
        (
            ["--trials", "1" * 30],
            "must be at most 9,223,372,036,854,775,807, got '111111111111111111111111111111'",
        ),
        (["--trials", "9" * 5000], "(5,000 characters)"),
        (["--trials", "1e400"], "expected a whole number (no decimals or exponents), got '1e400'"),
        (["--period", "fortnight"], "invalid choice"),
        (["--bogus"], "simcore run: error: unrecognized arguments: --bogus"),
    ],
)
def test_bad_run_arguments_exit_2(tiny, capsys, argv, words):
    code, out, err = run_cli(capsys, "run", tiny, *argv)
    assert code == 2 and words in err and err.count("\n") == 1


def test_unknown_command_exits_2(capsys):
    code, _, err = run_cli(capsys, "runn")
    assert code == 2 and "invalid choice: 'runn'" in err


def test_help_lists_every_command(capsys):
    from simcore.cli.app import COMMANDS

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for name, (help_text, _) in COMMANDS.items():
        assert name in out and help_text.split()[0] in out
    assert "95%" in out and "%%" not in out  # converge's help: a literal percent sign, shown once


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 2 and "COMMAND" in out and "optimize" in out


@pytest.mark.parametrize(
    "name",
    [
        "run",
        "validate",
        "schema",
        "examples",
        "init",
        "completion",
        "funnel",
        "metrics",
        "converge",
        "compare",
        "sensitivity",
        "report",
        "optimize",
    ],
)
def test_each_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0 and f"usage: simcore {name}" in capsys.readouterr().out


def test_writing_to_a_missing_folder(tiny, tmp_path, capsys):
    before = sorted(os.listdir(tmp_path))
    code, _, err = run_cli(capsys, "run", tiny, "--trials", "20", "--out", tmp_path / "no" / "run.nc")
    assert code == 2 and "does not exist" in err
    assert sorted(os.listdir(tmp_path)) == before


def test_writing_onto_a_folder(tiny, tmp_path, capsys):
    (tmp_path / "results").mkdir()
    code, _, err = run_cli(capsys, "run", tiny, "--trials", "20", "--out", tmp_path / "results")
    assert code == 2 and "is a folder" in err
    assert os.listdir(tmp_path / "results") == []
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_no_temporary_left_when_writing_fails(tmp_path, monkeypatch):
    from simcore.errors import SimcoreError
    from simcore.io import write_atomic

    def fail(tmp):
        Path(tmp).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(SimcoreError) as exc:
        write_atomic(tmp_path / "run.nc", fail)
    assert str(exc.value) == (
        f"{tmp_path / 'run.nc'}: cannot write: the disk is full (no space left on device); nothing was written"
    )
    assert os.listdir(tmp_path) == []


# ---- the installed command, as a real process ------------------------------------------------


def test_console_script_in_a_real_process(tiny):
    exe = shutil.which("simcore", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "simcore"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [*cmd, "run", str(tiny), "--trials", "200", "--seed", "5", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["trials"] == 200 and summary["seed"] == 5 and summary["scenario"] == "tiny"
    assert "Traceback" not in proc.stderr


def test_reader_gone_is_not_a_traceback(tiny):
    # `simcore run | head`: the pipe closes before the table is printed.
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simcore", "run", str(tiny), "--trials", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    proc.stdout.close()
    with proc.stderr:
        stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 1
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_validate_checks_every_variant(tiny, capsys):
    code, out, _ = run_cli(capsys, "validate", tiny)
    assert code == 0 and "variants Low OK" in out
    text = tiny.read_text(encoding="utf-8").replace(
        '"defaults.creation.dollars" = 9_000_000', '"defaults.creation.dollrs" = 9_000_000'
    )
    tiny.write_text(text, encoding="utf-8")
    code, out, err = run_cli(capsys, "validate", tiny)
    assert code == 2 and out == ""
    assert (
        f"error: {tiny}: defaults.creation.dollrs: unknown key 'dollrs' (did you mean 'dollars'?) "
        f"(with variant 'Low')"
    ) in err
    # The file itself still runs; only the variant is broken.
    assert run_cli(capsys, "run", tiny, "--trials", "20", "--quiet")[0] == 0


# ---- argument nonsense, in any command: one line, exit 2 ----------------------------------------


@pytest.mark.parametrize(
    "argv, words",
    [
        (["funnel", "--trials", "9" * 40], "argument --trials: must be at most 9,223,372,036,854,775,807"),
        (["funnel", "--trials", "2.5"], "argument --trials: expected a whole number (no decimals"),
        (["sensitivity", "--oat-trials", "1e9"], "argument --oat-trials: expected a whole number"),
        (["converge", "--precision", "1%", "--chunk", "1" * 25], "argument --chunk: must be at most"),
        (
            ["report", "--out", "r", "--funnel-trials", "x"],
            "argument --funnel-trials: expected a whole number",
        ),
        (["optimize", "--confidence", "nan"], "argument --confidence: expected a number like 0.9, got 'nan'"),
        (["optimize", "--confidence", "1.5"], "must be strictly between 0 and 1"),
        (["run", "--period", "year"], "argument --period: invalid choice: 'year'"),
        (["compare", "--trials", "20", "--variants", ","], "no variants to compare: name at least one"),
        (["run", ""], "the scenario path is empty"),
        (["funnel", ""], "the scenario path is empty"),
        (["report", "", "--out", "r"], "the scenario path is empty"),
        (["validate", ""], "the scenario path is empty"),
        (["run", "plan\0.toml"], "contains a NUL character"),
    ],
)
def test_argument_nonsense_is_one_line_and_exit_2(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (2, ""), err
    assert words in err and err.count("\n") == 1, err
    assert os.listdir(tmp_path) == []


def test_ctrl_c_anywhere_in_a_command_is_interrupted_130(capsys, monkeypatch):
    import simcore.scenario.load

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(simcore.scenario.load, "load_scenario", interrupt)
    for argv in (["run", "--trials", "10"], ["funnel"], ["validate", "x.toml"]):
        assert run_cli(capsys, *argv) == (130, "", "interrupted\n")
    monkeypatch.setattr(sys.modules["simcore.cli.app"], "build_parser", interrupt)
    assert run_cli(capsys, "run") == (130, "", "interrupted\n")


def _console_script():
    exe = shutil.which("simcore", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("the simcore console script is not installed in this environment")
    return exe


@pytest.mark.slow
def test_ctrl_c_while_simcore_imports_is_interrupted_130(tmp_path):
    import signal
    import time

    exe = _console_script()
    for delay in (0.3, 1.0):
        proc = subprocess.Popen(
            [exe, "run", "--trials", "200"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert (proc.returncode, err) == (130, "interrupted\n"), err
        assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_ctrl_c_while_the_netcdf_is_written_keeps_the_old_file(tmp_path):
    import signal
    import time

    exe = _console_script()
    (tmp_path / "run.nc").write_text("last week's")
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [exe, "run", "--trials", "3000", "--out", "run.nc", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    deadline = time.monotonic() + 300
    while not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]:  # the write has begun
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before writing"
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert (proc.returncode, err) == (130, "interrupted\n"), err
    assert os.listdir(tmp_path) == ["run.nc"] and (tmp_path / "run.nc").read_text() == "last week's"


def test_version_agrees_with_the_package(capsys):
    from importlib.metadata import version

    import simcore

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"simcore {version('simcore')}\n"
    assert simcore.__version__ == version("simcore")


def test_the_command_line_has_no_import_cycle():
    # options is the bottom of the command line: it imports no command module, and none imports app.
    import re

    def imports(module):
        text = (ROOT / "simcore" / "cli" / f"{module}.py").read_text(encoding="utf-8")
        return re.findall(r"(?m)^\s*(?:from|import) (simcore\.cli\.\w+)", text)

    for module in ("options", "analytics", "optimize", "report", "examples"):
        assert "simcore.cli.app" not in imports(module), module
    assert imports("options") == []


# --------------------------------------------------------------------------------------------------
# What the machine or the file system refuses: one line, exit 2, never a traceback


def test_a_name_the_file_system_refuses_is_one_line(tiny, tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", tiny, "--trials", 20, "--out", tmp_path / ("b" * 300 + ".nc"))
    assert code == 2 and "File name too long" in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.toml"]  # no temporary left behind


def test_a_long_name_the_file_system_takes_is_written(tmp_path, capsys, monkeypatch):
    # The temporary beside it once carried the whole name and was itself too long.
    monkeypatch.chdir(tmp_path)
    name = "a" * 245
    code, out, err = run_cli(capsys, "init", name)
    assert code == 0, err
    assert (tmp_path / f"{name}.toml").exists()


def test_out_of_memory_in_a_command_says_so_and_exits_2(tiny, capsys, monkeypatch):
    import simcore.cli.app as app

    parser, handlers = app.build_parser()

    def boom(args):
        raise MemoryError

    monkeypatch.setattr(app, "build_parser", lambda: (parser, {**handlers, "run": boom}))
    code, out, err = run_cli(capsys, "run", tiny, "--trials", 123456)
    assert (
        code == 2
        and err.strip() == "error: not enough memory for 123,456 trials: run fewer trials (--trials)"
    )


def test_a_result_read_back_has_its_accessor_in_a_fresh_process(tiny, tmp_path, capsys):
    path = tmp_path / "r.nc"
    assert run_cli(capsys, "run", tiny, "--trials", 20, "--out", path)[0] == 0
    code = f"import simcore; ds = simcore.io.load_dataset({str(path)!r}); print(sorted(ds.simcore.summary()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "bookings" in done.stdout


@pytest.mark.parametrize("out", [False, True], ids=["printed", "with --out"])
def test_a_ctrl_c_lost_in_a_callback_still_interrupts(capsys, monkeypatch, tmp_path, out):
    # Python's handler raises KeyboardInterrupt wherever the main thread is; inside a weakref
    # callback (the import system's module locks, busy while the run's thread imports xarray)
    # it is printed and lost, and the run used to finish with exit 0. simcore's handler
    # remembers it, and the run stops before printing or writing anything.
    import signal

    import simcore.engine.simulate as engine
    from simcore.cli import app

    real = engine.run_kernel

    def swallowed(*args, **kwargs):
        result = real(*args, **kwargs)
        handler = signal.getsignal(signal.SIGINT)
        assert handler is not signal.default_int_handler  # simcore's, while a command runs
        try:
            handler(signal.SIGINT, None)
        except KeyboardInterrupt:
            pass  # as a callback swallows it
        return result

    monkeypatch.setattr(engine, "run_kernel", swallowed)
    fy2026 = ROOT / "scenarios" / "fy2026.toml"
    written = tmp_path / "run.nc"
    code, printed, err = run_cli(capsys, "run", fy2026, "--trials", 20, *(["--out", written] if out else []))
    assert (code, printed, err) == (130, "", "interrupted\n")
    assert not written.exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    assert app.main(["validate", str(fy2026)]) == 0  # and forgotten by the next command
    capsys.readouterr()


def test_a_ctrl_c_raised_in_a_callback_is_not_printed(capsys, monkeypatch):
    # A Ctrl-C that lands in a ctypes callback of numba's compiler (or any __del__) is printed by
    # Python as "Exception ignored ... KeyboardInterrupt" and lost: the run stops with exit 130
    # all the same, and says only "interrupted".
    import signal
    import sys

    import simcore.engine.simulate as engine

    real = engine.run_kernel

    class Callback:
        def __del__(self):
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)  # raises inside __del__

    def interrupted_in_a_callback(*args, **kwargs):
        Callback()
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "run_kernel", interrupted_in_a_callback)
    hook = sys.unraisablehook
    code, printed, err = run_cli(capsys, "run", ROOT / "scenarios" / "fy2026.toml", "--trials", 20)
    assert (code, printed, err) == (130, "", "interrupted\n")
    assert sys.unraisablehook is hook  # put back
