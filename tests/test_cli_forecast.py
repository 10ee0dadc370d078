"""``simcore forecast``: what ``simcore run`` prints, with actual and simulated apart; bad input exits 2."""

from __future__ import annotations

import json

import pytest
from helpers import run_cli

import simcore
from simcore.calibrate import simulate_history

SMB = "scenarios/smb.toml"


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crm")
    h = simulate_history(simcore.load_scenario(SMB), "2025-01-01", "2026-07-01", seed=8)
    return h.write(folder)


def test_as_of_the_start_with_no_export_prints_what_run_prints(capsys):
    code, out, err = run_cli(
        capsys, "forecast", SMB, "--as-of", "2026-01-01", "--trials", 300, "--seed", 4, "--json"
    )
    assert code == 0, err
    code, run_out, err = run_cli(capsys, "run", SMB, "--trials", 300, "--seed", 4, "--json")
    assert code == 0, err
    forecast, run = json.loads(out), json.loads(run_out)
    for key in ("bookings", "stage1_created", "stage4_created", "p_hit", "mc_errors", "deals_per_trial"):
        assert forecast[key] == run[key], key
    assert forecast["forecast"]["change"]["p_hit_change"] == 0.0


def test_text_shows_actual_and_simulated_apart_and_writes_a_baseline(capsys, export, tmp_path):
    opps, hist = export
    out_file = tmp_path / "may.json"
    argv = ["forecast", SMB, "--as-of", "2026-05-15", "--opportunities", opps, "--history", hist]
    code, out, err = run_cli(capsys, *argv, "--trials", 300, "--out", out_file)
    assert code == 0, err
    assert "P(year bookings >= target" in out and "Change since the plan" in out
    assert "closed" in out and "current" in out and "sim P50" in out
    code, out, err = run_cli(capsys, *argv[:3], "2026-06-15", *argv[4:], "--trials", 300, "--since", out_file)
    assert code == 0, err
    assert "Change since the forecast as of 2026-05-15" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--as-of", "2027-05-01"], "outside the plan's year"),
        (["--as-of", "2026-13-01"], "expected a date"),
        (["--as-of", "2026-05-01", "--stages", "X=Nowhere"], "no stage 'Nowhere'"),
        (["--as-of", "2026-05-01", "--since", "missing.json"], "no such previous forecast"),
    ],
)
def test_bad_arguments_exit_2(capsys, export, argv, message):
    opps, _ = export
    code, out, err = run_cli(capsys, "forecast", SMB, "--opportunities", opps, "--trials", 50, *argv)
    assert code == 2 and message in err, err


def test_a_bad_export_is_one_line_naming_file_line_and_column(capsys, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(
        "Id,CreatedDate,StageName,Amount,CloseDate,LeadSource,Product__c\n"
        "A,2026-02-01,Discovery,20000,2026-06-01,inbound,Pro\n"
        "B,2026-02-03,Contracting,20000,2026-06-01,inbound,Pro\n",
        encoding="utf-8",
    )
    code, out, err = run_cli(capsys, "forecast", SMB, "--as-of", "2026-02-05", "--opportunities", path)
    assert code == 2
    assert f"{path}: line 3, column 'StageName': unknown stage 'Contracting'" in err
    code, out, err = run_cli(
        capsys, "forecast", SMB, "--as-of", "2026-02-05", "--opportunities", tmp_path / "no.csv"
    )
    assert code == 2 and "no such opportunity file" in err


def test_an_unquoted_comma_is_a_line_not_a_shifted_table(capsys, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(
        "Id,CreatedDate,StageName,Amount,CloseDate,LeadSource,Product__c\n"
        "A,2026-02-01,Discovery,$1,000.50,2026-06-01,inbound,Pro\n",
        encoding="utf-8",
    )
    code, out, err = run_cli(capsys, "forecast", SMB, "--as-of", "2026-02-05", "--opportunities", path)
    assert code == 2 and f"{path}: line 2: 8 fields but the header (line 1) has 7 columns" in err, err
