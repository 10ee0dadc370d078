"""``simcore report``: the files, the self-contained HTML, CSV / xlsx equal to the summary, atomic writes."""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess

import numpy as np
import pytest
from helpers import assert_close_se, build, se_mean, small_raw

import simcore
import simcore.report
from simcore.cli.app import main
from simcore.report import publish as rpt

SCENARIO = "scenarios/fy2026.toml"
TRIALS = 300
SEED = 0


@pytest.fixture(scope="module")
def scenario():
    return simcore.load_scenario(SCENARIO)


@pytest.fixture(scope="module")
def ds(scenario):
    return simcore.simulate(scenario, trials=TRIALS, seed=SEED, progress=False)


@pytest.fixture(scope="module")
def built(scenario):
    return simcore.report.build_report(scenario, trials=TRIALS, seed=SEED, funnel_trials=100)


@pytest.fixture(scope="module")
def written(built, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "fy2026"
    files = rpt.write_report(built, out)
    return out, files


def _csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_every_file_is_written(built, written):
    out, files = written
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(rpt.report_files(built))
    assert sorted(p.name for p in files) == names
    for chart in (
        "bookings_distribution",
        "bookings_fan",
        "stage4_waterfall",
        "bank_by_category",
        "variants",
    ):
        assert (out / f"{chart}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for table in (
        "headline",
        "bookings_by_period",
        "created_by_period",
        "bookings_by_source",
        "bookings_by_product",
        "bank_by_category",
        "funnel",
        "funnel_by_source",
        "funnel_vs_simulation",
        "variants",
    ):
        assert (out / f"{table}.csv").exists(), table
    assert not built.notes


def test_html_is_self_contained_with_the_headline_on_top(built, written):
    out, _ = written
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == len(built.charts)
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    h = built.headline
    headline = page[page.index('<div class="headline">') : page.index("<h2>")]
    assert simcore.format.money(h["p50"]) in headline
    assert f"{round(100 * h['p_hit'])}%" in headline and "$8.65M" in headline
    # The P10 sits beside the target: shown with the digits that tell the two apart.
    assert simcore.format.money_pair(h["p10"], h["target"])[0] in headline
    assert simcore.format.money(h["p90"]) in headline
    # Page one is the summary (headline, fan, what drives the risk, what to do), then the contents;
    # printing breaks before each section and never cuts a chart or a table.
    summary = page[page.index('<section class="summary"') : page.index('<nav id="contents">')]
    assert summary.count("<img") == 1 and "What drives the risk" in summary and "What to do" in summary
    assert built.summary["drivers"] and built.summary["actions"]
    assert all(sentence.replace("'", "&#x27;") in summary for sentence in built.summary["actions"])
    contents = page[page.index('<nav id="contents">') : page.index("</nav>")]
    for anchor in re.findall(r'href="#([^"]+)"', contents):
        assert f'id="{anchor}"' in page
    assert "@media print" in page and "section.part { break-before: page; }" in page
    assert "figure, table, .headline, .figure-box { break-inside: avoid; }" in page


def test_csv_equals_the_summary(ds, written):
    # Same scenario, trials and seed: the simulation is bit-identical, so the report's numbers must be
    # exactly the summary's, to the CSV's 12 significant digits.
    from simcore.format import csv_value

    out, _ = written
    summary = ds.simcore.summary()
    year = summary["bookings"]["year"]
    head = {row[0]: row[1] for row in _csv(out / "headline.csv")[1:]}
    assert float(head["P50 annual bookings"]) == csv_value(year["p50"])
    assert float(head["P10 annual bookings"]) == csv_value(year["p10"])
    assert float(head["P90 annual bookings"]) == csv_value(year["p90"])
    assert float(head["Mean annual bookings"]) == csv_value(year["mean"])
    assert float(head["Target"]) == 8_650_000
    assert float(head["P(bookings >= target)"]) == csv_value(summary["p_hit"])
    assert int(head["Trials"]) == TRIALS
    rows = _csv(out / "bookings_by_period.csv")
    assert rows[0] == ["Quarter", "mean", "P10", "P50", "P90"]
    by_period = {r[0]: [float(x) for x in r[1:]] for r in rows[1:]}
    for period, d in [*summary["bookings"]["by_period"].items(), ("Year", year)]:
        assert by_period[period] == [csv_value(d[k]) for k in ("mean", "p10", "p50", "p90")]
    created = {(r[0], r[1]): float(r[4]) for r in _csv(out / "created_by_period.csv")[1:]}
    assert created[("Stage 1", "Year")] == csv_value(summary["stage1_created"]["year"]["p50"])
    assert created[("Stage 4", "Year")] == csv_value(summary["stage4_created"]["year"]["p50"])


def test_xlsx_equals_the_csv(built, written):
    import openpyxl

    from simcore.report.workbook import sheet_names

    out, _ = written
    wb = openpyxl.load_workbook(out / "report.xlsx")
    names = sheet_names(built.tables)
    assert wb.sheetnames == [*names, "About"]
    assert wb.sheetnames[0] == "Headline" and wb.active.title == "Headline"  # opens on the headline
    for table, name in zip(built.tables, names):
        ws = wb[name]
        assert len(name) <= 31 and "_" not in name  # in words, not file stems
        assert ws["A1"].value == table.title
        assert [c.value for c in ws[2]][: len(table.columns)] == table.columns
        assert ws.freeze_panes == "B3"
        if table.rows:
            assert (
                ws.auto_filter.ref
                == f"A2:{openpyxl.utils.get_column_letter(len(table.columns))}{2 + len(table.rows)}"
            )
        sheet_rows = [
            [c.value for c in row][: len(table.columns)]
            for row in ws.iter_rows(min_row=3, max_row=2 + len(table.rows))
        ]
        csv_rows = _csv(out / f"{table.name}.csv")[1:]
        assert len(sheet_rows) == len(csv_rows)
        for i, (sheet_row, csv_row) in enumerate(zip(sheet_rows, csv_rows)):
            for value, text, kind in zip(sheet_row, csv_row, table.row_kinds(i)):
                if isinstance(value, (int, float)):
                    # The CSV keeps 12 significant digits; a difference of probabilities is
                    # written in points in the workbook (a fraction in the CSV).
                    scale = 100.0 if kind == "points" else 1.0
                    assert math.isclose(value, scale * float(text), rel_tol=1e-11, abs_tol=1e-300)
                else:
                    assert (value or "") == text
    ws = wb["Headline"]
    assert ws["B3"].number_format.startswith('"$"#,##0')  # P50 in dollars, a number
    assert isinstance(ws["B3"].value, float)
    assert ws["B8"].number_format == "0.0%"  # P(hit) as a percentage
    about = {r[0].value: r[1].value for r in wb["About"].iter_rows(min_row=2)}
    assert about["seed"] == 0 and about["trials"] == TRIALS and about["scenario"] == "fy2026"


def test_xlsx_draws_the_fan_and_the_distribution_as_excel_charts(built, written):
    import openpyxl

    out, _ = written
    wb = openpyxl.load_workbook(out / "report.xlsx")
    # openpyxl reads charts back into ws._charts: one line chart (fan), one bar chart (histogram).
    kinds = {name: [type(c).__name__ for c in wb[name]._charts] for name in wb.sheetnames}
    assert kinds["Bookings to date"] == ["LineChart"]
    assert kinds["Distribution"] == ["BarChart"]
    hist = built.table("bookings_histogram")
    assert sum(r[2] for r in hist.rows) == TRIALS
    fan = built.table("bookings_to_date")
    assert fan.rows[-1][3] == built.headline["p50"]  # P50 to the end of the year is the headline


def test_csv_has_no_float_noise(written):
    out, _ = written
    for path in out.glob("*.csv"):
        for row in _csv(path)[1:]:
            for text in row:
                # 2.9999999999999996 would be 17 significant digits; the tables keep 12.
                digits = re.sub(r"[^0-9]", "", text.split("e")[0]).lstrip("0")
                if re.fullmatch(r"-?[0-9.]+(e[-+]?[0-9]+)?", text):
                    assert len(digits) <= 12, (path.name, text)


def test_variants_are_run_on_common_random_numbers(scenario, built):
    rows = {r[0]: r for r in built.table("variants").rows}
    assert list(rows) == ["Base", "Conservative", "Stretch"]
    conservative = simcore.simulate(
        scenario.with_variant("Conservative"), trials=TRIALS, seed=SEED, progress=False
    )
    year = conservative.simcore.year_bookings().values
    # The same trials, summed in another order (by period, then over the year): equal to the
    # last bits of a float, where another seed would differ by thousands of dollars.
    assert rows["Conservative"][3] == pytest.approx(np.quantile(year, 0.5), rel=1e-12)
    assert rows["Conservative"][5] == float((year >= 8_650_000).mean())
    # Base is the file as written: identical to the main run.
    assert rows["Base"][3] == built.headline["p50"]


def test_funnel_section_holds_seed_000s_figures(built):
    funnel = {r[0]: r[1] for r in built.table("funnel").rows}
    # The stages are named as the scenario names them (fy2026: "Stage 1" ... "Stage 4").
    assert funnel["Retire multiple at Stage 4, with push"] == pytest.approx(3.0)
    assert funnel["Retire multiple without push"] == pytest.approx(4.0)
    assert funnel["Stage 4 creation needed without push"] == pytest.approx(43_500_000)
    assert funnel["Implied stack, Stage 1 -> won"] == pytest.approx(0.125)


def test_bookings_table_matches_the_closed_form():
    # 500 deals a year, every one reaching the decision in 40 days, 25% won, lognormal amounts with
    # median $100k and sigma 0.5: expected bookings 500 x 0.25 x $100k x exp(0.125), all inside the
    # two-year horizon.
    sc = build(small_raw())
    ds = simcore.simulate(sc, trials=400, seed=0, progress=False)
    report = simcore.report.report_from_dataset(ds)
    year_row = [r for r in report.table("bookings_by_period").rows if r[0] == "Year"][0]
    expected = 500 * 0.25 * 100_000 * math.exp(0.5**2 / 2)
    assert_close_se(year_row[1], expected, se_mean(ds.simcore.year_bookings().values), what="mean bookings")
    assert report.headline["p_hit"] is None
    assert [r[0] for r in report.table("headline").rows] == [
        "P50 annual bookings",
        "P10 annual bookings",
        "P90 annual bookings",
        "Mean annual bookings",
        "Trials",
    ]


def test_a_scenario_without_target_or_variants_leaves_those_sections_out(tmp_path):
    sc = build(small_raw())
    report = simcore.report.build_report(sc, trials=50, seed=0)
    assert [c.name for c in report.charts] == ["bookings_distribution", "bookings_fan", "bank_by_category"]
    assert any("funnel is left out" in n for n in report.notes)
    rpt.write_report(report, tmp_path / "small")
    assert "funnel is left out" in (tmp_path / "small" / "report.html").read_text(encoding="utf-8")


def test_names_that_open_like_formulas_reach_spreadsheets_as_text(tmp_path):
    # A dimension value comes from someone's scenario or export: "=1+2" must not run in Excel.
    import openpyxl

    sc = build(small_raw(sources=("=1+2", "+cmd", "inbound")))
    rpt.write_report(simcore.report.build_report(sc, trials=50, seed=0), tmp_path / "r")
    wb = openpyxl.load_workbook(tmp_path / "r" / "report.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(c.value == "=1+2" for c in cells)  # kept as written, as text
    texts = [
        (tmp_path / "r" / f).read_text(encoding="utf-8")
        for f in os.listdir(tmp_path / "r")
        if f.endswith(".csv")
    ]
    rows = [r for t in texts for r in csv.reader(io.StringIO(t))]
    values = {v for r in rows for v in r}
    assert "'=1+2" in values and "'+cmd" in values and "=1+2" not in values


# --------------------------------------------------------------------------------------------------
# Atomic writes


@pytest.fixture(scope="module")
def small_report():
    ds = simcore.simulate(build(small_raw()), trials=50, seed=0, progress=False)
    return simcore.report.report_from_dataset(ds)


def _fail_in_xlsx(monkeypatch, exc=None):
    """Make the run fail after the PNGs and CSVs are written, before the workbook and HTML."""

    def boom(report, path):
        raise exc or RuntimeError("disk full")

    monkeypatch.setattr(rpt, "write_xlsx", boom)


def test_failure_mid_way_keeps_an_existing_folder_as_it_was(small_report, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report.html").write_text("last week's report")
    _fail_in_xlsx(monkeypatch)
    with pytest.raises(RuntimeError, match="disk full"):
        rpt.write_report(small_report, out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.html"]
    assert (out / "report.html").read_text() == "last week's report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left behind


def test_interrupt_mid_way_leaves_no_new_folder(small_report, tmp_path, monkeypatch):
    _fail_in_xlsx(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        rpt.write_report(small_report, tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_success_replaces_the_report_and_keeps_other_files(small_report, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report.html").write_text("last week's report")
    rpt.write_report(small_report, out)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in out.iterdir()) == sorted(rpt.report_files(small_report) + ["notes.txt"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_report_refuses_a_missing_parent_or_a_file(small_report, tmp_path):
    with pytest.raises(simcore.SimcoreError, match="does not exist"):
        rpt.write_report(small_report, tmp_path / "missing" / "out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(simcore.SimcoreError, match="not a folder"):
        rpt.write_report(small_report, tmp_path / "file")


def _snapshot(folder):
    """Every entry of ``folder``: name -> bytes (a file), "folder" or "fifo"."""
    snap = {}
    for p in sorted(folder.iterdir()):
        snap[p.name] = "fifo" if p.is_fifo() else "folder" if p.is_dir() else p.read_bytes()
    return snap


@pytest.fixture
def last_weeks(small_report, tmp_path):
    """A folder holding a previous report (each file's content marked) and a file of the user's."""
    out = tmp_path / "out"
    rpt.write_report(small_report, out)
    for name in rpt.report_files(small_report)[::2]:
        (out / name).write_bytes(b"last week's " + name.encode())
    (out / "notes.txt").write_text("mine")
    return out


@pytest.mark.parametrize(
    "name, make, words",
    [
        ("report.html", lambda p: p.mkdir(), "is a folder, not a file"),
        ("bookings_by_period.csv", lambda p: p.mkdir(), "is a folder, not a file"),
        ("bookings_by_period.csv", os.mkfifo, r"is a named pipe \(FIFO\), not a file"),
    ],
)
def test_a_destination_that_is_not_a_file_leaves_the_folder_unchanged(
    small_report, last_weeks, name, make, words
):
    out = last_weeks
    (out / name).unlink()
    make(out / name)
    before = _snapshot(out)
    with pytest.raises(simcore.SimcoreError, match=f"^{re.escape(str(out / name))}: {words}"):
        rpt.write_report(small_report, out)
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # no temporary folder left behind


def test_cli_report_onto_a_folder_in_the_way_exits_2_and_changes_nothing(small_report, last_weeks, capsys):
    out = last_weeks
    (out / "report.html").unlink()
    (out / "report.html").mkdir()
    before = _snapshot(out)
    code = main(
        [
            "report",
            SCENARIO,
            "--out",
            str(out),
            "--trials",
            "20",
            "--quiet",
            "--variants",
            "none",
            "--funnel-trials",
            "20",
        ]
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert (
        captured.err.startswith(f"error: {out / 'report.html'}: is a folder")
        and captured.err.count("\n") == 1
    )
    assert _snapshot(out) == before


def _fail_on_the_nth_move(monkeypatch, n, exc):
    """Make the ``n``-th rename of a finished file into the output folder raise ``exc``."""
    real = os.replace
    moves = []

    def flaky(src, dst):
        if str(src).endswith(".tmp/" + os.path.basename(dst)):  # a new file, not a previous one put back
            if len(moves) == n - 1:
                raise exc
            moves.append(dst)
        return real(src, dst)

    monkeypatch.setattr(rpt.os, "replace", flaky)
    return moves


@pytest.mark.parametrize(
    "exc, raised",
    [
        (OSError(28, "No space left on device"), simcore.SimcoreError),
        (KeyboardInterrupt(), KeyboardInterrupt),
    ],
)
def test_a_failure_while_publishing_puts_the_previous_files_back(
    small_report, last_weeks, monkeypatch, exc, raised
):
    out = last_weeks
    names = rpt.report_files(small_report)
    (out / names[1]).unlink()  # a file the new report adds: removed again
    before = _snapshot(out)
    moves = _fail_on_the_nth_move(monkeypatch, len(names) - 1, exc)
    with pytest.raises(raised):
        rpt.write_report(small_report, out)
    assert len(moves) == len(names) - 2  # the failure came late: most files had been replaced
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_a_failure_while_publishing_is_one_clear_line(small_report, last_weeks, monkeypatch):
    _fail_on_the_nth_move(monkeypatch, 3, OSError(28, "No space left on device"))
    with pytest.raises(simcore.SimcoreError, match="No space left on device; the folder was left as it was"):
        rpt.write_report(small_report, last_weeks)


def test_when_putting_back_fails_too_the_error_says_where_the_previous_files_are(
    small_report, last_weeks, monkeypatch
):
    out = last_weeks
    before = _snapshot(out)
    real = os.replace
    _fail_on_the_nth_move(monkeypatch, 3, OSError(5, "Input/output error"))
    flaky = rpt.os.replace

    def no_way_back(src, dst):
        if "/.previous/" in str(src):
            raise OSError(5, "Input/output error")
        return flaky(src, dst)

    monkeypatch.setattr(rpt.os, "replace", no_way_back)
    with pytest.raises(simcore.SimcoreError, match="2 previous file.s. could not be put back") as err:
        rpt.write_report(small_report, out)
    monkeypatch.setattr(rpt.os, "replace", real)
    rescue = out.parent / re.search(r"previous versions are in \S*/([^/\s]+)$", str(err.value)).group(1)
    for name in rpt.report_files(small_report)[:2]:
        assert (rescue / name).read_bytes() == before[name]
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(["out", rescue.name])


def test_a_link_in_the_folder_is_replaced_and_its_target_kept(small_report, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere.html").write_text("not the report's")
    (out / "report.html").symlink_to(tmp_path / "elsewhere.html")
    rpt.write_report(small_report, out)
    assert not (out / "report.html").is_symlink()
    assert (tmp_path / "elsewhere.html").read_text() == "not the report's"


@pytest.mark.parametrize("path", ["", b""])
def test_write_report_refuses_an_empty_path(small_report, tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(simcore.SimcoreError, match="^the output path is empty$"):
        rpt.write_report(small_report, path)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------------
# Command line


def test_cli_report_writes_the_folder_and_prints_the_headline(tmp_path, capsys):
    out = tmp_path / "rep"
    code = main(
        [
            "report",
            SCENARIO,
            "--out",
            str(out),
            "--trials",
            "200",
            "--seed",
            "0",
            "--quiet",
            "--variants",
            "Conservative",
            "--funnel-trials",
            "50",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "chance of hitting $8.65M" in printed and "report.html" in printed
    assert (out / "report.html").exists() and (out / "variants.csv").exists()
    assert [r[0] for r in _csv(out / "variants.csv")[1:]] == ["Conservative"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--variants", "Optimistic"], "unknown variant"),
        (["--set", "defaults.decision.win=2"], "error"),
    ],
)
def test_cli_report_bad_input_exits_2_without_traceback(tmp_path, capsys, argv, message):
    out = tmp_path / "rep"
    code = main(["report", SCENARIO, "--out", str(out), "--trials", "20", "--quiet", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_cli_report_missing_parent_exits_2(tmp_path, capsys):
    code = main(
        [
            "report",
            SCENARIO,
            "--out",
            str(tmp_path / "no" / "rep"),
            "--trials",
            "20",
            "--quiet",
            "--variants",
            "none",
        ]
    )
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# Sections from the analytics modules


def test_headline_carries_monte_carlo_errors(ds, built):
    from simcore.analysis.convergence import quantile_se

    year = ds.simcore.total("bookings_amount", ("trial", "period")).sum("period").values
    se = built.headline["se"]
    assert se["p50"] == quantile_se(year, 0.5)
    p = built.headline["p_hit"]
    assert se["p_hit"] == pytest.approx(math.sqrt(p * (1 - p) / TRIALS))  # binomial, closed form
    rows = {r[0]: r for r in built.table("headline").rows}
    assert rows["P50 annual bookings"][2] == se["p50"]
    assert math.isnan(rows["Target"][2])


def test_variant_differences_are_paired(built):
    rows = [r for r in built.table("variant_differences").rows if r[1] == "mean"]
    assert [r[0] for r in rows] == ["Conservative - Base", "Stretch - Base"]
    table = {r[0]: r for r in built.table("variants").rows}
    for r in rows:
        variant = r[0].split(" - ")[0]
        assert r[2] == pytest.approx(table[variant][1] - table["Base"][1])
        # Common random numbers: the paired error is smaller than independent runs' would be.
        assert r[3] < r[4]


def test_metrics_close_rate_matches_the_closed_form():
    # Every deal reaches the decision (advance 1) and is won with probability 0.25 or lost, whatever its
    # amount, so the pooled close rate by amount is 0.25 and coverage needed 4x (the sales playbook: 25% -> 4x).
    from conftest import se_ratio

    sc = build(small_raw())
    ds = simcore.simulate(sc, trials=400, seed=0, progress=False)
    report = simcore.report.report_from_dataset(ds)
    year = [r for r in report.table("forecast_metrics").rows if r[0] == "Year"][0]
    won = ds["bookings_amount"].sum(["period", "source"]).values
    lost = ds["lost_amount"].sum(["period", "source", "stage", "reason"]).values
    assert_close_se(year[1], 0.25, se_ratio(won, won + lost), what="close rate")
    assert year[4] == pytest.approx(1 / year[1])
    assert year[5] == 0.0  # no pushes in this scenario


def test_sensitivity_section_shows_the_swings_and_the_variance_split(scenario, built):
    from simcore.analysis.sensitivity import one_at_a_time

    assert "tornado" in [c.name for c in built.charts]
    swings = one_at_a_time(scenario, trials=100, seed=SEED)  # the fixture's funnel_trials, same seed
    rows = built.table("sensitivity_swings").rows
    assert [r[0] for r in rows] == [simcore.report.plots.assumption_label(r["name"]) for r in swings.rows]
    assert rows[0][3] == swings.rows[0]["p50"]["low"] and rows[0][4] == swings.rows[0]["p50"]["high"]
    # Covariances with the total are additive: the cells' shares of the variance add up to exactly 1.
    variance = built.table("variance_by_cell").rows
    assert variance[-1][0] == "total"
    assert variance[-1][-1] == pytest.approx(1.0, abs=1e-12)
    assert sum(r[-1] for r in variance[:-1]) == pytest.approx(1.0, abs=1e-12)


def test_the_tornado_starts_from_the_headline_and_shows_the_market_beside_the_variance_shares(
    scenario, ds, built
):
    from simcore.analysis.sensitivity import drawn_sensitivity, one_at_a_time
    from simcore.report.build import market_swing

    fig = built.chart("tornado").figure
    tornado_ax, share_ax = fig.axes[:2]
    base = built.headline["p50"]
    # One base: the bars start at the headline P50 (the vertical line), not at the rerun's own base.
    assert [line.get_xdata()[0] for line in tornado_ax.get_lines()] == [base]
    labels = [t.get_text() for t in tornado_ax.get_yticklabels()]
    assert "market factor *" in labels  # 58% of the variance in the full plan: it must be on the chart
    # Each rerun's paired change from its own base run, added to the headline P50.
    swings = one_at_a_time(scenario, trials=100, seed=SEED)
    top = swings.rows[0]
    low_bars = [c for c in tornado_ax.containers if c.get_label() == "Assumption at its low"][0]
    widths = {lab: bar.get_width() for lab, bar in zip(labels, low_bars)}
    label = simcore.report.plots.assumption_label(top["name"])
    assert widths[label] == pytest.approx(top["p50"]["low"] - swings.base["p50"], rel=1e-12)
    # The market's bars: P50 of the trials whose draw sat near its P10 / P90, from the main run.
    market = market_swing(ds)
    assert widths["market factor *"] == pytest.approx(market["low"] - base, rel=1e-12)
    assert market["low"] < base < market["high"]
    # The right-hand panel: the regression's share of the variance of the same assumptions.
    drawn = {r["name"]: r["importance"] for r in drawn_sensitivity(ds, scenario).rows}
    shares = [c for c in share_ax.containers if c.get_label() == "Share of variance"][0]
    names = {simcore.report.plots.assumption_label(n): n for n in drawn}
    names["market factor *"] = "market_factor"
    for lab, bar in zip(labels, shares):
        assert bar.get_width() == pytest.approx(drawn.get(names.get(lab), 0.0), abs=1e-12)
    caption = built.chart("tornado").caption
    assert "answer different questions" in caption and "market factor" in caption


@pytest.mark.parametrize("name", ["smb", "enterprise"])
def test_every_bundled_scenario_reports(name, tmp_path):
    # Months (smb), six buyer stages and a fiscal year from February (enterprise): the same report.
    sc = simcore.load_scenario(f"scenarios/{name}.toml")
    report = simcore.report.build_report(sc, trials=100, seed=0, variants=[], funnel_trials=50)
    files = rpt.write_report(report, tmp_path / name)
    assert sorted(f.name for f in files) == sorted(p.name for p in (tmp_path / name).iterdir())
    periods = [r[0] for r in report.table("bookings_by_period").rows]
    ds = simcore.simulate(sc, trials=100, seed=0, progress=False)
    assert periods == [str(p) for p in ds.period.values] + ["Year"]
    assert report.headline["p50"] == ds.simcore.summary()["bookings"]["year"]["p50"]
    _labels_name_the_stages(report, sc)


def _labels_name_the_stages(report, sc):
    """Every label the report writes names the decision stage as the scenario does, never "Stage 4"."""
    first, decision = sc.stages[0].name, sc.stages[-1].name
    words = [
        report.title,
        *report.notes,
        *report.summary.get("drivers", []),
        *report.summary.get("actions", []),
    ]
    words += [t for c in report.charts for t in (c.title, c.caption)]
    for t in report.tables:
        words += [t.title, t.note, *t.columns]
        # The first column holds the rows' labels. The funnel_difference rows are the analysis's own
        # words (simcore.analysis.funnel), not the report's.
        if t.name != "funnel_difference":
            words += [str(r[0]) for r in t.rows]
    text = "\n".join(words)
    if decision != "Stage 4":
        assert not re.search(r"stage[- ]?4", text, flags=re.IGNORECASE), re.findall(
            r".{30}stage[- ]?4.{10}", text, re.I
        )
        assert (
            decision in report.table("funnel").rows[1][0]
            if any(t.name == "funnel" for t in report.tables)
            else True
        )
    if first != "Stage 1":
        assert not re.search(r"stage[- ]?1\b", text, flags=re.IGNORECASE)


def test_a_funnel_that_cannot_be_backsolved_is_left_out_with_the_reason():
    raw = small_raw()
    raw["target"] = 1_000_000.0
    raw["defaults"]["decision"]["win"] = 0.0  # nothing is ever won: no retire multiple to backsolve with
    report = simcore.report.build_report(build(raw), trials=30, seed=0, variants=[])
    (note,) = [n for n in report.notes if "funnel is left out" in n]
    assert "win rate or conversion is zero" in note
    assert report.headline["p50"] == 0.0 and report.headline["p_hit"] == 0.0


def test_cli_report_json_prints_the_headline_and_the_files(tmp_path, capsys):
    import json

    out = tmp_path / "rep"
    code = main(
        [
            "report",
            SCENARIO,
            "--out",
            str(out),
            "--trials",
            "50",
            "--seed",
            "0",
            "--variants",
            "none",
            "--funnel-trials",
            "20",
            "--json",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["headline"]["trials"] == 50 and printed["headline"]["target"] == 8_650_000
    assert sorted(printed["files"]) == sorted(p.name for p in out.iterdir())
    head = {r[0]: r[1] for r in _csv(out / "headline.csv")[1:]}
    assert float(head["P50 annual bookings"]) == simcore.format.csv_value(printed["headline"]["p50"])


# --------------------------------------------------------------------------------------------------
# Ctrl-C at every step of writing and publishing

_STEPS = ("png_bytes", "write_csv", "write_xlsx", "render_html", "fsync_file")


def _interrupt_at(monkeypatch, k, how):
    """Make the ``k``-th call of any write or publish step see Ctrl-C (raised, or a real SIGINT)."""
    calls = []

    def wrap(fn):
        def step(*args, **kwargs):
            calls.append(fn)
            if len(calls) == k:
                if how == "raise":
                    raise KeyboardInterrupt
                os.kill(os.getpid(), signal.SIGINT)
            return fn(*args, **kwargs)

        return step

    for name in _STEPS:
        monkeypatch.setattr(rpt, name, wrap(getattr(rpt, name)))
    monkeypatch.setattr(rpt.os, "replace", wrap(os.replace))
    monkeypatch.setattr(rpt.os, "link", wrap(os.link))
    monkeypatch.setattr(rpt.shutil, "rmtree", wrap(shutil.rmtree))
    return calls


def _is_new(out, names):
    return all((out / n).exists() and not (out / n).read_bytes().startswith(b"last week's") for n in names)


@pytest.fixture
def tiny_report(small_report):
    """One chart, three tables: every step of a report, few of each (the tests below run it ~30 times)."""
    return dataclasses.replace(small_report, charts=small_report.charts[:1], tables=small_report.tables[:3])


@pytest.fixture
def tiny_last_weeks(tiny_report, tmp_path):
    out = tmp_path / "out"
    rpt.write_report(tiny_report, out, dpi=20)
    for name in rpt.report_files(tiny_report)[::2]:
        (out / name).write_bytes(b"last week's " + name.encode())
    (out / "notes.txt").write_text("mine")
    return out


@pytest.mark.parametrize("how", ["raise", pytest.param("signal", marks=pytest.mark.slow)])
def test_ctrl_c_at_any_step_leaves_the_old_folder_or_the_new_one_and_no_debris(
    tiny_report, tiny_last_weeks, monkeypatch, how
):
    small_report, out = tiny_report, tiny_last_weeks
    names = rpt.report_files(small_report)
    before = _snapshot(out)
    outcomes = set()
    for k in range(1, 500):
        with monkeypatch.context() as m:
            calls = _interrupt_at(m, k, how)
            try:
                rpt.write_report(small_report, out, dpi=20)
                interrupted = False
            except KeyboardInterrupt:
                interrupted = True
        assert sorted(p.name for p in out.parent.iterdir()) == ["out"], k  # no temporary left
        assert (out / "notes.txt").read_text() == "mine"
        if not interrupted:
            assert len(calls) < k and _is_new(out, names)
            break
        if _snapshot(out) == before:
            outcomes.add("old")
        else:
            assert _is_new(out, names), k
            outcomes.add("new")
        # Back to last week's folder for the next step.
        for name, data in before.items():
            (out / name).write_bytes(data)
    else:
        pytest.fail("the report never completed")
    assert k > 2 * len(names)  # every write, every fsync, every move was interrupted once
    assert outcomes == {"old", "new"}  # interrupted early: old folder; during the last steps: new one


@pytest.mark.slow
def test_ctrl_c_into_a_new_folder_leaves_nothing_or_the_whole_report(tiny_report, tmp_path, monkeypatch):
    small_report = tiny_report
    names = rpt.report_files(small_report)
    for k in range(1, 500):
        out = tmp_path / f"new{k}"
        with monkeypatch.context() as m:
            calls = _interrupt_at(m, k, "signal")
            try:
                rpt.write_report(small_report, out, dpi=20)
            except KeyboardInterrupt:
                pass
        assert not out.exists() or sorted(p.name for p in out.iterdir()) == sorted(names), k
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], k
        if len(calls) < k:
            break


def test_a_killed_publish_is_undone_by_the_next_run(small_report, last_weeks):
    out = last_weeks
    before = _snapshot(out)
    names = rpt.report_files(small_report)
    dead = subprocess.Popen(["true"])
    dead.wait()
    # What a run killed half-way through its moves leaves: the journal, the previous versions, some
    # files already moved into the folder and the rest still in its temporary folder.
    tmp = out.parent / f".out.{rpt.TAG}-{dead.pid}-abc.tmp"
    (tmp / ".previous").mkdir(parents=True)
    kept = [n for n in names if (out / n).exists()]
    for n in kept:
        os.link(out / n, tmp / ".previous" / n)
    (tmp / ".previous" / rpt.JOURNAL).write_text(json.dumps({"names": names, "kept": kept}))
    for i, n in enumerate(names):
        (tmp / n).write_bytes(b"new " + n.encode())
        if i < len(names) // 2:
            os.replace(tmp / n, out / n)
    assert _snapshot(out) != before
    assert rpt.clean_stale(out.parent, out) == [tmp]
    assert _snapshot(out) == before and sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_a_running_report_s_temporary_folder_is_left_alone(small_report, last_weeks):
    mine = last_weeks.parent / f".out.{rpt.TAG}-{os.getpid()}-xyz.tmp"
    mine.mkdir()
    assert rpt.clean_stale(last_weeks.parent, last_weeks) == []
    assert mine.exists()


def test_a_euro_plan_prints_euros_everywhere():
    from types import SimpleNamespace

    from simcore.report.html import render_html
    from simcore.report.plan_tables import sensitivity_tables

    raw = small_raw()
    raw["currency"] = "EUR"
    raw["target"] = 11_700_000
    ds = simcore.simulate(build(raw), trials=50, seed=0, progress=False)
    report = simcore.report.report_from_dataset(ds)
    swings = SimpleNamespace(
        trials=50,
        base={"p50": 11.7e6, "p10": 9.1e6},
        rows=[
            {
                "name": "median_amount",
                "low_value": 170000.0,
                "high_value": 230000.0,
                "p50": {"low": 11.2e6, "high": 12.1e6, "swing": 0.9e6},
                "p10": {"low": 8.0e6, "high": 8.5e6, "swing": 0.5e6},
            },
            {
                "name": "win",
                "low_value": [0.467558, 0.467558],
                "high_value": 0.631711,
                "p50": {"low": 9.3e6, "high": 14.0e6, "swing": 4.7e6},
                "p10": {"low": 6.5e6, "high": 10.3e6, "swing": 3.8e6},
            },
        ],
    )
    report.tables += sensitivity_tables(swings=swings, currency="EUR")
    page = render_html(report, {c.name: b"" for c in report.charts})
    assert "$" not in page and "€11.7M" in page
    # Settings in their own units: a deal size in euros, a rate as a percentage, never 1.7e+05.
    assert "€170k" in page and "46.8%" in page and "63.2%" in page
    assert "e+05" not in page and "170000" not in page and "0.467558" not in page
