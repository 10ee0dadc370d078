"""Hostile and extreme input: each value that once hung the kernel, gave a silently wrong
number, raised a traceback or exhausted memory is now one problem naming the file and the
field (or line), and nothing is read or echoed that a scenario should not reach.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import numpy as np
import pytest
from helpers import edited

from simcore import ScenarioError, compile_scenario, load_scenario, scenario_from_dict
from simcore.cli.app import main
from simcore.engine import safety
from simcore.scenario import bank, files, reference, spec

FILE = "plan.toml"

BASE = {
    "name": "tiny",
    "start": dt.date(2026, 1, 1),
    "end": dt.date(2026, 12, 31),
    "dimensions": {"source": ["inbound", "outbound"], "product": ["CMP"]},
    "stage": [
        {"name": "Stage 1", "category": "pipeline"},
        {"name": "Stage 2", "category": "commit"},
    ],
    "defaults": {
        "conversion": {"to_decision": 0.5},
        "decision": {"win": 0.25, "push": 0.25, "dwell": {"mean": 30}},
        "amount": {"median": 50_000, "p90_ratio": 2.0},
        "creation": {"per": "quarter", "dollars": 1_000_000},
    },
    "bank": {
        "aggregate": [{"source": "inbound", "product": "CMP", "stage": "Stage 2", "dollars": 2e5, "count": 4}]
    },
    "variants": {"Low": {"set": {"defaults.decision.win": 0.2}}},
}


def edit(**changes):
    """BASE with ``a__b__c=value`` edits (``None`` deletes)."""
    return edited(BASE, **changes)


def problems(raw, **kwargs):
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(raw, name=FILE, **kwargs)
    for p in info.value.problems:
        assert p.file == FILE and p.path.strip() and p.message.strip()
    return [(p.path, p.message) for p in info.value.problems]


def one(raw, **kwargs):
    found = problems(raw, **kwargs)
    assert len(found) == 1, found
    return found[0]


def test_base_loads():
    scenario_from_dict(BASE, name=FILE)


# ---- values that hung the kernel ---------------------------------------------------------


@pytest.mark.parametrize("cv", [0, 1e-200, 0.0009])
@pytest.mark.parametrize("field", ["dwell", "push_delay"])
def test_gamma_dwell_needs_a_cv(cv, field):
    # Shape 1 / cv^2 is infinite at cv = 0: the Marsaglia-Tsang loop never accepted.
    where, message = one(edit(**{f"defaults__decision__{field}": {"dist": "gamma", "mean": 20, "cv": cv}}))
    assert where == f"decision.{field}.cv" and "cv >= 0.001" in message and 'dist = "fixed"' in message


def test_gamma_cv_set_at_another_level_than_its_family():
    raw = edit(defaults__stages={"Stage 1": {"dwell": {"dist": "gamma", "mean": 10}}})
    raw["cell"] = {"outbound/CMP": {"stages": {"Stage 1": {"dwell": {"cv": 0}}}}}
    where, message = one(raw)
    assert where == 'stages."Stage 1".dwell.cv' and "cell 'outbound/CMP'" in message


@pytest.mark.parametrize("dist", ["lognormal", "fixed", "exponential"])
def test_cv_zero_is_fine_for_other_families(dist):
    scenario_from_dict(edit(defaults__decision__dwell={"dist": dist, "mean": 20, "cv": 0}), name=FILE)


def test_pert_dwell_near_the_float_maximum():
    # 4 * (base - low) overflowed to an infinite Beta parameter: the gamma draw never returned.
    mean = {"low": 1e300, "base": 1.5e308, "high": 1.7e308}
    found = problems(edit(defaults__decision__dwell={"dist": "gamma", "mean": mean}))
    assert {p for p, _ in found} == {f"defaults.decision.dwell.mean.{k}" for k in ("low", "base", "high")}
    assert all("(0, 36,500]" in m for _, m in found)


def test_dwell_mean_has_a_documented_maximum():
    # A mean of 1e20 days divided by zero in the funnel.
    where, message = one(edit(defaults__decision__dwell={"mean": 1e20}))
    assert where == "defaults.decision.dwell.mean" and "36,500" in message


# ---- values that gave silently wrong results ---------------------------------------------


def test_beta_strength_below_one():
    # At strength 1e-3 both gamma draws underflowed in half the trials: 0 / 0 = NaN.
    where, message = one(edit(defaults__decision__win={"mean": 0.3, "strength": 1e-3}))
    assert where == "defaults.decision.win.strength" and "[1, 1,000,000]" in message


@pytest.mark.parametrize("dispersion", [1e300, 1e7, 0.05])
def test_dispersion_range(dispersion):
    raw = edit(defaults__creation__process="negative_binomial", defaults__creation__dispersion=dispersion)
    where, message = one(raw)
    assert where == "defaults.creation.dispersion" and "[0.1, 1,000,000]" in message


def test_win_loss_push_ratios_beyond_any_count():
    raw = edit(defaults__decision={"win_loss_push": [1e308, 1e308, 1], "dwell": {"mean": 30}})
    found = problems(raw)
    assert [p for p, _ in found] == [
        "defaults.decision.win_loss_push[0]",
        "defaults.decision.win_loss_push[1]",
    ]


def test_aggregate_dollars_per_deal_below_a_cent():
    raw = edit(bank__aggregate__0__dollars=5e-324, bank__aggregate__0__count=3)
    where, message = one(raw)
    assert where == "bank.aggregate[0].dollars" and "below the smallest deal size" in message


@pytest.mark.parametrize(
    "key, value",
    [
        ("target", 1e300),
        ("defaults__creation__share", 1e308),
        ("defaults__creation__uplift", 1e308),
        ("defaults__amount__cap", 1e300),
        ("defaults__cost_per_dollar", 1e308),
        ("funnel__ending_bank", 1e308),
        ("optimize__budget", 1e308),
    ],
)
def test_every_number_field_is_bounded(key, value):
    where, message = one(edit(**{key: value}))
    assert where == key.replace("__", ".") and "out of range" in message


def test_every_number_in_the_spec_has_a_finite_maximum():
    unbounded = [
        path
        for path, node in [*reference.reference_rows(), *reference.reference_rows(spec.BLOCK, "block")]
        for node in [node.number if isinstance(node, spec.NumberOrList) else node]
        for node in [node.item if isinstance(node, spec.ListOf) else node]
        if isinstance(node, spec.Number) and node.maximum is None
    ]
    assert unbounded == []


def test_every_number_reaching_the_kernel_is_finite():
    model = compile_scenario(scenario_from_dict(BASE, name=FILE))
    safety.check_model(model)


def test_an_empty_bank_csv_name_is_refused():
    where, message = one(edit(bank={"csv": ""}))
    assert where == "bank.csv" and "empty" in message


# ---- the compiled-model safety net --------------------------------------------------------


@pytest.mark.parametrize(
    "field, change, words",
    [
        ("dwell_cv", lambda m: m.dwell_kind.fill(3) or m.dwell_cv.fill(0.0), "gamma"),
        ("creation_rate", lambda m: m.creation_rate.__setitem__((1, 3), np.nan), "creation"),
        ("param_base", lambda m: m.param_base.__setitem__((0, 0), np.inf), "advance"),
        ("bank_amount", lambda m: m.bank_amount.__setitem__(0, 0.0), "bank"),
    ],
)
def test_safety_net_names_the_cell_and_field(field, change, words):
    model = compile_scenario(scenario_from_dict(BASE, name=FILE))
    change(model)
    with pytest.raises(ScenarioError) as info:
        safety.check_model(model)
    (p,) = info.value.problems[:1]
    assert p.file == FILE and words in p.path + p.message


def test_count_tables_beyond_the_limit_are_refused(monkeypatch):
    monkeypatch.setattr(safety, "MAX_COUNT_TABLE", 1000)
    raw = edit(defaults__creation__process="negative_binomial", defaults__creation__dispersion=0.1)
    with pytest.raises(ScenarioError) as info:
        compile_scenario(scenario_from_dict(raw, name=FILE))
    (p,) = info.value.problems
    assert p.path.startswith("cell.") and "count tables" in p.message and "dispersion" in p.message


# ---- tracebacks ---------------------------------------------------------------------------


def _toml(tmp_path, text):
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return [(p.path, p.message) for p in info.value.problems]


GOOD_TOML = """\
name = "t"
start = 2026-01-01
dimensions = { source = ["inbound"] }
stage = [{ name = "S1", category = "pipeline" }, { name = "S2", category = "commit" }]
[defaults]
conversion = { to_decision = 0.5 }
decision = { win = 0.3 }
amount = { median = 1000 }
creation = { dollars = 100000 }
"""


def test_integer_beyond_float_range(tmp_path):
    found = _toml(tmp_path, GOOD_TOML.replace('name = "t"', 'name = "t"\ntarget = 1' + "0" * 400))
    assert found == [("target", "must be a number of at most 308 digits, got one of about 401 digits")]


def test_integer_of_over_4300_digits_names_its_line(tmp_path):
    found = _toml(tmp_path, GOOD_TOML + "[funnel]\nbookings = 1" + "0" * 5000 + "\n")
    assert found == [("line 11, column 12", "a number with over 4,300 digits")]


@pytest.mark.parametrize("depth", [40, 5000])
def test_deeply_nested_arrays(tmp_path, depth):
    found = _toml(tmp_path, GOOD_TOML.replace('name = "t"', 'name = "t"\nx = ' + "[" * depth + "]" * depth))
    assert found == [("(syntax)", "tables or lists nested too deep (at most 32)")]


def test_deep_nesting_from_python():
    deep = []
    for _ in range(2000):
        deep = [deep]
    ((where, message),) = problems(edit(description=deep))
    assert "nested too deep" in message


def test_dates_the_calendar_cannot_hold():
    where, message = one(edit(start=dt.date(1, 1, 1), end=None, fiscal_year_start_month=2))
    assert where == "start" and "before 1900-01-01" in message
    where, message = one(edit(start=dt.date(9990, 1, 1), end=None))
    assert where == "start" and "too far in the future" in message


@pytest.mark.parametrize(
    "raw, path",
    [
        (edit(dimensions={"": ["a"]}), 'dimensions.""'),
        (edit(dimensions={"a/b": ["a"]}), 'dimensions."a/b"'),
        (edit(dimensions__source=["in/bound", "outbound"]), "dimensions.source[0]"),
        (edit(dimensions__source=["in\0bound", "outbound"]), "dimensions.source[0]"),
        (edit(dimensions__source=["", "outbound"]), "dimensions.source[0]"),
        (edit(stage__0__name="Stage\x001"), "stage[0].name"),
        (edit(stage__0__name="Stage/1"), "stage[0].name"),
        (edit(variants={"Lo/w": {}}), 'variants."Lo/w"'),
        (edit(name="x\0y"), "name"),
    ],
)
def test_names_netcdf_cannot_store_are_refused_at_load(raw, path):
    found = problems(raw)
    assert path in [p for p, _ in found], found


def test_text_may_hold_tabs_and_newlines():
    scenario_from_dict(edit(description="line one\n\tline two"), name=FILE)


# ---- memory ---------------------------------------------------------------------------------


def test_cells_beyond_the_limit_are_refused_before_they_are_built():
    dims = {f"d{i}": [f"v{j}" for j in range(100)] for i in range(8)}  # 10**16 cells
    t0 = time.perf_counter()
    found = problems(edit(dimensions=dims))
    assert time.perf_counter() - t0 < 5
    assert ("dimensions", next(m for p, m in found if p == "dimensions")) in found
    assert any("more than the limit of 2,000" in m for _, m in found)


def test_aggregate_bank_beyond_the_limit_is_refused_before_it_is_made():
    rows = [
        {"source": "inbound", "product": "CMP", "stage": "Stage 2", "dollars": 1e12, "count": 2_000_000}
    ] * 3
    t0 = time.perf_counter()
    where, message = one(edit(bank={"aggregate": rows}))
    assert time.perf_counter() - t0 < 5
    assert where == "bank.aggregate" and "6,000,000 open deals" in message and "250,000" in message


def test_long_lists_are_refused_without_checking_each_entry():
    where, message = one(edit(defaults__amount={"empirical": [1000.0] * (spec.MAX_EMPIRICAL + 1)}))
    assert where == "defaults.amount.empirical" and "at most 100,000 entries" in message


# ---- files: the bank CSV is untrusted input -------------------------------------------------

SCENARIO_WITH_CSV = GOOD_TOML + '[bank]\ncsv = "{csv}"\n'


def _with_csv(tmp_path, csv, **kwargs):
    (tmp_path / "plan.toml").write_text(SCENARIO_WITH_CSV.replace("{csv}", csv), encoding="utf-8")
    return load_scenario(tmp_path / "plan.toml", **kwargs)


def _csv_problem(tmp_path, csv, **kwargs):
    with pytest.raises(ScenarioError) as info:
        _with_csv(tmp_path, csv, **kwargs)
    (p,) = info.value.problems
    return p.path, p.message


DEALS = "source,stage,amount\ninbound,S2,5000\n"


def test_a_bank_csv_beside_the_scenario_loads(tmp_path):
    (tmp_path / "deals.csv").write_text(DEALS, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deals.csv").write_text(DEALS, encoding="utf-8")
    assert len(_with_csv(tmp_path, "deals.csv").bank) == 1
    assert len(_with_csv(tmp_path, "sub/deals.csv").bank) == 1


@pytest.mark.parametrize("csv", ["/etc/passwd", "../outside.csv", "sub/../../outside.csv"])
def test_a_bank_csv_outside_the_scenario_folder_is_refused(tmp_path, csv):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "outside.csv").write_text(DEALS, encoding="utf-8")
    where, message = _csv_problem(inner, csv)
    assert (
        where == "bank.csv"
        and "outside the scenario's folder" in message
        and "--allow-bank-outside" in message
    )
    assert "inbound" not in message  # nothing of the file is read, let alone shown


def test_a_symbolic_link_out_of_the_folder_is_outside(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "outside.csv").write_text(DEALS, encoding="utf-8")
    (inner / "deals.csv").symlink_to(tmp_path / "outside.csv")
    where, message = _csv_problem(inner, "deals.csv")
    assert "outside the scenario's folder" in message


def test_outside_is_allowed_when_asked(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "outside.csv").write_text(DEALS, encoding="utf-8")
    sc = _with_csv(inner, "../outside.csv", allow_bank_outside=True)
    assert len(sc.bank) == 1
    assert len(sc.with_overrides({"defaults.decision.win": 0.2}).bank) == 1  # kept by with_overrides


def test_cli_option_allows_outside(tmp_path, capsys):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "outside.csv").write_text(DEALS, encoding="utf-8")
    (inner / "plan.toml").write_text(SCENARIO_WITH_CSV.replace("{csv}", "../outside.csv"), encoding="utf-8")
    assert main(["validate", str(inner / "plan.toml")]) == 2
    assert "outside the scenario's folder" in capsys.readouterr().err
    assert main(["validate", str(inner / "plan.toml"), "--allow-bank-outside"]) == 0


def test_a_file_that_is_not_a_bank_csv_is_not_echoed(tmp_path):
    (tmp_path / "secret.csv").write_text("root:$6$secrethash:19000:0:99999:7:::\n", encoding="utf-8")
    where, message = _csv_problem(tmp_path, "secret.csv")
    assert where == "line 1" and "not a bank CSV" in message and "secrethash" not in message


def test_a_bank_csv_saved_with_semicolons_says_so(tmp_path):
    (tmp_path / "semi.csv").write_text(DEALS.replace(",", ";"), encoding="utf-8")
    where, message = _csv_problem(tmp_path, "semi.csv")
    assert where == "line 1" and "separated by ';': save it with commas" in message


def test_a_nul_in_the_bank_path(tmp_path):
    raw = edit(bank={"csv": "deals\0.csv"})
    where, message = one(raw, base_dir=tmp_path)
    assert where == "bank.csv" and "U+0000" in message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "deals.csv")
    t0 = time.perf_counter()
    where, message = _csv_problem(tmp_path, "deals.csv")
    assert time.perf_counter() - t0 < 5 and "named pipe" in message


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_device_is_refused(tmp_path):
    where, message = _csv_problem(tmp_path, "/dev/zero", allow_bank_outside=True)
    assert "character device" in message


def test_a_folder_is_refused(tmp_path):
    (tmp_path / "deals.csv").mkdir()
    assert "a folder" in _csv_problem(tmp_path, "deals.csv")[1]


def test_a_bank_csv_over_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_BANK_CSV_BYTES", 100)
    (tmp_path / "deals.csv").write_text(DEALS * 10, encoding="utf-8")
    assert "larger than the limit of 100 bytes" in _csv_problem(tmp_path, "deals.csv")[1]


def test_a_bank_csv_over_the_row_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(bank, "MAX_BANK_DEALS", 3)
    (tmp_path / "deals.csv").write_text(DEALS + "inbound,S2,5000\n" * 3, encoding="utf-8")
    where, message = _csv_problem(tmp_path, "deals.csv")
    assert where == "line 5" and "more than 3 open deals" in message


def test_a_scenario_that_is_not_a_file(tmp_path):
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path)
    assert info.value.problems[0].message == "is a folder, not a file"
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(tmp_path / "a\0b.toml"))
    assert "NUL" in info.value.problems[0].message


def test_a_scenario_over_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_SCENARIO_BYTES", 50)
    assert "larger than the limit" in _toml(tmp_path, GOOD_TOML)[0][1]


def test_a_name_that_is_not_text_from_python():
    where, message = problems(edit(dimensions={1: ["a"]}))[0]
    assert where == "dimensions.1" and "must be text" in message
