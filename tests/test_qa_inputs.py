"""Hostile input a new user met in forecast, pace, calibrate, backtest and history: each is one
clear line naming the option, the file or the column, exit 2, no traceback, nothing written."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from helpers import run_cli

import simcore
from simcore.calibrate import read_opportunities, simulate_history
from simcore.errors import ScenarioError, SimcoreError
from simcore.forecast.forecast import forecast
from simcore.forecast.pacing import pace

SMB = "scenarios/smb.toml"


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qa_crm")
    h = simulate_history(simcore.load_scenario(SMB), "2025-01-01", "2026-06-01", seed=5)
    opps, hist = h.write(folder)
    return opps, hist


# 1. A dimension named twice (or not at all in the scenario) -------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["pace", SMB, "--as-of", "2026-04-16", "--by", "source,source"], "--by source,source: 'source' is given twice"),
        (["pace", SMB, "--as-of", "2026-04-16", "--by", "source,region"], "--by region: the scenario has no dimension"),
        (["calibrate", "{opps}", "--as-of", "2026-01-01", "--dimensions", "source,source"], "--dimensions source,source: 'source' is given twice"),
        (["backtest", "{opps}", "--from", "2025-06-01", "--to", "2025-09-01", "--dimensions", "source, source"], "'source' is given twice"),
    ],
)  # fmt: skip
def test_a_dimension_given_twice_is_refused(capsys, export, tmp_path, argv, message):
    opps, _ = export
    argv = [opps if a == "{opps}" else a for a in argv]
    if argv[0] == "pace":
        argv += ["--opportunities", opps]
    out = tmp_path / "x.toml"
    if argv[0] == "calibrate":
        argv += ["--out", out]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_the_library_refuses_a_repeated_dimension_too(export):
    sc = simcore.load_scenario(SMB)
    table = read_opportunities(export[0], dimensions=["source", "product"]).table
    with pytest.raises(SimcoreError, match="'source' is given twice"):
        pace(sc, table, "2026-04-16", by=["source", "source"])
    with pytest.raises(SimcoreError, match="'product' is given twice"):
        simcore.calibrate.calibrate(table, "2026-01-01", ["product", "product"])


# 2. simcore history --out naming a file ----------------------------------------------------------


def test_history_out_naming_an_existing_file_is_refused_and_kept(capsys, tmp_path):
    plan = tmp_path / "myplan.toml"
    plan.write_text("# mine\n", encoding="utf-8")
    code, out, err = run_cli(
        capsys, "history", SMB, "--start", "2025-01-01", "--end", "2025-01-02", "--out", plan
    )
    assert code == 2 and f"--out {plan}: exists and is not a folder" in err, err
    assert plan.read_text(encoding="utf-8") == "# mine\n"


def test_history_into_an_existing_folder_says_what_it_replaced(capsys, tmp_path):
    argv = ["history", SMB, "--start", "2025-01-01", "--end", "2025-01-15", "--out", tmp_path]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0 and "replaced" not in out, err
    code, out, err = run_cli(capsys, *argv)
    assert code == 0 and "replaced the opportunities.csv and stage_history.csv" in out, err


# 3. An export without amounts --------------------------------------------------------------------


@pytest.fixture(scope="module")
def no_amount(export, tmp_path_factory):
    frame = pd.read_csv(export[0], dtype=str, keep_default_na=False).drop(columns=["Amount"])
    path = tmp_path_factory.mktemp("noamount") / "crm_noamount.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "argv, what",
    [
        (
            ["forecast", SMB, "--as-of", "2026-05-15", "--trials", "20"],
            "a forecast needs each deal's dollars",
        ),
        (["pace", SMB, "--as-of", "2026-04-16"], "pacing needs each deal's dollars"),
    ],
)
def test_an_export_without_an_amount_column_is_an_error(capsys, no_amount, tmp_path, argv, what):
    out = tmp_path / "f.json"
    extra = ["--out", out] if argv[0] == "forecast" else []
    code, stdout, err = run_cli(capsys, *argv, "--opportunities", no_amount, *extra)
    assert code == 2, err
    assert f"{no_amount}: (header): no column for 'amount'" in err and what in err
    assert "--map amount=COLUMN" in err and "warning" not in err and not out.exists()


def test_a_backtest_without_amounts_is_an_error(capsys, no_amount):
    code, _, err = run_cli(capsys, "backtest", no_amount, "--from", "2025-06-01", "--to", "2025-09-01")
    assert code == 2 and "a backtest needs each deal's dollars" in err, err


def test_an_amount_column_with_every_value_blank_is_an_error(export, tmp_path):
    frame = pd.read_csv(export[0], dtype=str, keep_default_na=False)
    frame["Amount"] = ""
    path = tmp_path / "blank.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ScenarioError, match="column 'Amount': every amount is blank"):
        forecast(simcore.load_scenario(SMB), path, "2026-05-15", trials=20, progress=False)


# 4. The export given as the stage history --------------------------------------------------------


def test_the_export_given_as_the_stage_history_is_refused(capsys, export):
    opps, _ = export
    code, _, err = run_cli(
        capsys, "forecast", SMB, "--as-of", "2026-05-15", "--opportunities", opps, "--history", opps,
        "--trials", "20",
    )  # fmt: skip
    assert code == 2, err
    assert f"{opps}: (header): no column for 'opportunity_id'" in err
    assert "looks like an opportunity export" in err


# 5. --since from another scenario, or from after the as-of date ----------------------------------


@pytest.fixture(scope="module")
def may_forecasts(export, tmp_path_factory):
    """A forecast as of 2026-05-15 of smb and one of fy2026 (another scenario and target)."""
    folder = tmp_path_factory.mktemp("since")
    opps, _ = export
    out = {}
    for name, scenario in (("smb", SMB), ("fy2026", "scenarios/fy2026.toml")):
        sc = simcore.load_scenario(scenario)
        f = forecast(sc, None, "2026-05-15", trials=50, progress=False)
        path = folder / f"{name}.json"
        path.write_text(json.dumps({"forecast": f.to_dict()}, default=str), encoding="utf-8")
        out[name] = path
    return out


@pytest.mark.parametrize(
    "which, as_of, message",
    [
        ("fy2026", "2026-05-25", "is a forecast of the scenario 'fy2026', not 'smb_inside_sales'"),
        ("smb", "2026-05-01", "was made as of 2026-05-15, after this forecast's as-of date 2026-05-01"),
    ],
)
def test_since_must_be_an_earlier_forecast_of_this_plan(capsys, export, may_forecasts, which, as_of, message):
    code, _, err = run_cli(
        capsys, "forecast", SMB, "--as-of", as_of, "--opportunities", export[0], "--since", may_forecasts[which],
        "--trials", "20",
    )  # fmt: skip
    assert code == 2 and message in err, err


def test_since_with_another_target_is_refused(may_forecasts, tmp_path):
    doc = json.loads(may_forecasts["smb"].read_text(encoding="utf-8"))
    doc["forecast"]["target"] = doc["forecast"]["target"] * 2
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(SimcoreError, match="was made against the target"):
        forecast(
            simcore.load_scenario(SMB), None, "2026-06-15", trials=20, baseline=str(path), progress=False
        )


def test_since_an_earlier_forecast_of_this_plan_is_accepted(capsys, export, may_forecasts):
    code, out, err = run_cli(
        capsys, "forecast", SMB, "--as-of", "2026-05-25", "--opportunities", export[0],
        "--since", may_forecasts["smb"], "--trials", "20",
    )  # fmt: skip
    assert code == 0 and "Change since the forecast as of 2026-05-15" in out, err


# 6. Stage names that end up unused ---------------------------------------------------------------


def test_an_unknown_history_stage_and_an_unused_mapping_are_warned_with_counts(capsys, export, tmp_path):
    opps, hist = export
    frame = pd.read_csv(hist, dtype=str, keep_default_na=False)
    later = frame.index[frame["CreatedDate"] >= "2026-05-20"][:3]
    assert len(later) == 3
    frame.loc[later, "StageName"] = "Stage 9"
    path = tmp_path / "hist9.csv"
    frame.to_csv(path, index=False)
    argv = ["forecast", SMB, "--as-of", "2026-05-15", "--opportunities", opps, "--history", path]
    code, _, err = run_cli(capsys, *argv, "--stages", "Foo=Trial", "--trials", "20")
    assert code == 0, err
    assert f"{path}: 3 rows have the stage 'Stage 9', which is not a stage of the scenario" in err
    assert "--stages Foo=Trial: no row of the export or the stage history has the stage 'Foo'" in err


def test_an_unknown_history_stage_the_as_of_state_needs_is_an_error(capsys, export, tmp_path):
    opps, hist = export
    export_frame = pd.read_csv(opps, dtype=str, keep_default_na=False)
    still_open = set(export_frame.loc[export_frame["IsClosed"] == "False", "Id"])
    frame = pd.read_csv(hist, dtype=str, keep_default_na=False)
    rows = frame.index[frame["OpportunityId"].isin(still_open) & (frame["CreatedDate"] < "2026-05-15")]
    frame.loc[rows[0], "StageName"] = "Stage 9"  # a change of a deal open on the as-of date
    path = tmp_path / "hist9.csv"
    frame.to_csv(path, index=False)
    argv = ["forecast", SMB, "--as-of", "2026-05-15", "--opportunities", opps, "--history", path]
    code, _, err = run_cli(capsys, *argv, "--trials", "20")
    assert code == 2 and f"{path}: line {rows[0] + 2}, column 'StageName': unknown stage 'Stage 9'" in err, (
        err
    )


# 8. The export's outcome wins over a history that lost the closing row ---------------------------


def test_a_deal_the_export_closed_stays_closed_when_its_closing_row_is_rekeyed(export):
    from simcore.calibrate import read_stage_history

    opps, hist = export
    table = read_opportunities(opps, dimensions=["source"]).table
    frame = pd.read_csv(hist, dtype=str, keep_default_na=False)
    won = frame.index[
        (frame["StageName"] == "Closed Won") & (frame["CreatedDate"].between("2026-02", "2026-05"))
    ]
    deal = frame.at[won[0], "OpportunityId"]
    before = simcore.calibrate.calibrate(table, "2026-05-15", ["source"], read_stage_history(hist).table)
    frame.at[won[0], "OpportunityId"] = "not-a-deal"
    edited = read_stage_history(io.StringIO(frame.to_csv(index=False))).table
    after = simcore.calibrate.calibrate(table, "2026-05-15", ["source"], edited)
    assert len(after.bank) == len(before.bank)
    assert any("the export's outcome is used" in w and deal in w for w in after.warnings), after.warnings


def test_calibrate_writes_its_scenario_only_to_a_toml_file(capsys, export, tmp_path):
    code, _, err = run_cli(
        capsys, "calibrate", export[0], "--as-of", "2026-01-01", "--out", tmp_path / "fit.csv"
    )
    assert code == 2 and "name a .toml file" in err and not (tmp_path / "fit.csv").exists()
