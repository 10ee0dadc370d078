"""The CRM readers: a messy, realistic export calibrates with clear warnings; bad input is one clear
line per problem naming file, line and column, exit 2."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli

import simcore
from simcore.calibrate import read_opportunities, read_stage_history
from simcore.calibrate.readers import parse_dates
from simcore.errors import ScenarioError

MESSY = Path(__file__).parent / "data" / "crm_messy"


def test_dates_in_several_formats_in_one_column():
    got = parse_dates(
        pd.Series(
            ["2026-01-05", "1/7/2026", "08-Jan-2026", "Jan 9, 2026", "2026-01-10T10:30:00.000+0000", ""]
        )
    )
    assert [d.day if pd.notna(d) else None for d in got] == [5, 7, 8, 9, 10, None]
    assert got.iloc[4].hour == 10
    # A first number above 12 makes the column day-first.
    assert parse_dates(pd.Series(["13/02/2026", "01/03/2026"])).dt.month.tolist() == [2, 3]


def test_messy_export_reads_with_warnings():
    r = read_opportunities(MESSY / "opportunities.csv", dimensions=["source", "product"])
    t = r.table
    assert {
        "opportunity_id",
        "created",
        "stage",
        "status",
        "loss_reason",
        "closed",
        "amount",
        "source",
        "product",
    } <= set(t.columns)
    assert t["created"].notna().all() and set(t["status"]) == {"open", "won", "lost"}
    assert set(t.loc[t["status"] == "lost", "loss_reason"]) == {"competition", "no_decision"}
    assert t["amount"].isna().any() and (t["amount"].dropna() > 0).all()
    text = " ".join(r.warnings)
    assert "3 rows have no created date: leads" in text and "have no amount" in text


def test_messy_export_calibrates_and_runs(tmp_path, capsys):
    out = tmp_path / "fitted.toml"
    code, stdout, err = run_cli(
        capsys, "calibrate", MESSY / "opportunities.csv", "--history", MESSY / "stage_history.csv",
        "--as-of", "2026-01-01", "--dimensions", "source,product", "--stages", MESSY / "stages.txt", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    assert "warning:" in err and "no stage history" in err and "leads" in err
    sc = simcore.load_scenario(out)
    assert [s.name for s in sc.stages] == ["Discovery", "Trial", "Negotiation"]
    assert [s.category for s in sc.stages] == ["pipeline", "best_case", "commit"]
    code, stdout, err = run_cli(capsys, "run", out, "--trials", "200", "--json")
    assert code == 0, err


def test_map_reads_columns_of_other_names(tmp_path, capsys):
    frame = pd.read_csv(MESSY / "opportunities.csv", dtype=str, keep_default_na=False)
    frame = frame.rename(columns={"Amount": "ARR", "Lead Source": "Channel"})
    path = tmp_path / "opps.csv"
    frame.to_csv(path, index=False)
    code, out, err = run_cli(
        capsys, "calibrate", path, "--as-of", "2026-01-01", "--dimensions", "source", "--json"
    )
    assert code == 2 and "no column for 'source'" in err and "--map source=COLUMN" in err
    code, out, err = run_cli(
        capsys, "calibrate", path, "--as-of", "2026-01-01", "--dimensions", "source", "--json",
        "--map", "amount=ARR", "--map", "source=Channel",
    )  # fmt: skip
    assert code == 0, err
    assert '"with_history": false' in out


def _bad(tmp_path, capsys, text, *extra, name="opps.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(capsys, "calibrate", path, "--as-of", "2026-01-01", *extra)
    assert code == 2, (out, err)
    return err


HEADER = "Id,CreatedDate,StageName,Amount,CloseDate\n"


def test_bad_inputs_name_file_line_and_column(tmp_path, capsys):
    err = _bad(tmp_path, capsys, "Id,CreatedDate,Amount\n1,2025-01-01,10\n")
    assert "opps.csv: (header): no column for 'stage'" in err
    err = _bad(
        tmp_path,
        capsys,
        HEADER + "1,2025-01-01,Closed Won,10,2025-02-01\n2,someday,Closed Won,10,2025-02-01\n",
    )
    assert "opps.csv: line 3, column 'CreatedDate': not a date: 'someday'" in err
    err = _bad(tmp_path, capsys, HEADER + "1,2025-01-01,Closed Won,ten,2025-02-01\n")
    assert "line 2, column 'Amount': not an amount: 'ten'" in err
    err = _bad(tmp_path, capsys, HEADER + "1,2025-01-01,Closed Won,-5,2025-02-01\n")
    assert "negative amount" in err
    for huge in ("1.7e308", "inf", "2e12"):  # no deal's amount: every sum of them would overflow
        err = _bad(tmp_path, capsys, HEADER + f"1,2025-01-01,Closed Won,{huge},2025-02-01\n")
        assert "line 2, column 'Amount': above the largest deal size of 1,000,000,000,000" in err, err
    err = _bad(
        tmp_path,
        capsys,
        HEADER + "1,2025-01-01,Closed Won,5,2025-02-01\n1,2025-01-01,Closed Won,5,2025-02-01\n",
    )
    assert "line 3, column 'Id': opportunity id given twice" in err
    err = _bad(tmp_path, capsys, HEADER + "1,2025-03-01,Closed Won,5,2025-02-01\n")
    assert "line 2" in err and "before it was created" in err
    err = _bad(tmp_path, capsys, HEADER + "1,2025-03-01,Closed Won,5,2025-04-01\n", "--map", "colour=X")
    assert "--map colour: unknown field" in err
    code, out, err = run_cli(capsys, "calibrate", tmp_path / "missing.csv", "--as-of", "2026-01-01")
    assert code == 2 and "missing.csv: (file): no such opportunity file" in err


def test_unknown_stage_in_history_is_named(tmp_path, capsys):
    shutil.copy(MESSY / "opportunities.csv", tmp_path / "opps.csv")
    hist = pd.read_csv(MESSY / "stage_history.csv", dtype=str, keep_default_na=False)
    hist.loc[5, "To Stage"] = "Legal Review"
    hist.to_csv(tmp_path / "hist.csv", index=False)
    code, out, err = run_cli(
        capsys, "calibrate", tmp_path / "opps.csv", "--history", tmp_path / "hist.csv", "--as-of", "2026-01-01",
        "--stages", MESSY / "stages.txt",
    )  # fmt: skip
    assert code == 2 and "unknown stage 'Legal Review'" in err and "hist.csv: line" in err


def test_python_readers_raise_scenario_errors():
    with pytest.raises(ScenarioError, match="no column for 'opportunity_id'"):
        read_stage_history(io.StringIO("Foo,Bar\n1,2\n"))
    with pytest.raises(ScenarioError, match="not a date"):
        read_stage_history(io.StringIO("OpportunityId,CreatedDate,StageName\n1,nope,Open\n"))
