"""Every way a scenario can be wrong gives one clear problem per mistake, naming the file,
the field path and what is wrong -- never a KeyError or a traceback.

Each case starts from a small valid scenario, breaks one thing, and checks the problem's
path and the words of its message. The CLI side (exit code 2, stderr) is in test_cli.py.
"""

from __future__ import annotations

import copy
import datetime as dt
import textwrap

import pytest
from helpers import edited

from simcore import ScenarioError, load_scenario, scenario_from_dict
from simcore.scenario.values import BetaRate, Pert

FILE = "plan.toml"

BASE = {
    "name": "tiny",
    "start": dt.date(2026, 1, 1),
    "end": dt.date(2026, 12, 31),
    "target": 1_000_000,
    "dimensions": {"source": ["inbound", "outbound"], "product": ["CMP", "FinOps"]},
    "stage": [
        {"name": "Stage 1", "category": "pipeline"},
        {"name": "Stage 2", "category": "best_case"},
        {"name": "Stage 3", "category": "commit"},
    ],
    "defaults": {
        "conversion": {"to_decision": 0.5},
        "stages": {"Stage 1": {"dwell": {"mean": 20}}},
        "decision": {"win": 0.25, "push": 0.25, "dwell": {"mean": 30}},
        "amount": {"median": 50_000, "p90_ratio": 2.0},
        "creation": {"per": "quarter", "dollars": 1_000_000},
    },
    "by": {"source": {"inbound": {"creation": {"share": 1.5}}}},
    "cell": {"outbound/FinOps": {"amount": {"median": 20_000}}},
    "bank": {
        "aggregate": [
            {"source": "inbound", "product": "CMP", "stage": "Stage 3", "dollars": 200_000, "count": 4}
        ]
    },
    "variants": {"Low": {"set": {"defaults.decision.win": 0.2}}},
}


def edit(**changes):
    """BASE with ``{"a.b.c": value}`` edits (``None`` deletes); keys use ``__`` for dots."""
    return edited(BASE, **changes)


def problems(raw=None, **kwargs):
    """The problems of loading ``raw``, as ``[(path, message), ...]``; fails if it loads."""
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(BASE if raw is None else raw, name=FILE, **kwargs)
    out = []
    for p in info.value.problems:
        assert p.file == FILE
        assert str(p) == f"{FILE}: {p.path}: {p.message}"
        out.append((p.path, p.message))
    return out


def only(raw=None, **kwargs):
    """The single problem of ``raw`` (several would mean one mistake reported many times)."""
    found = problems(raw, **kwargs)
    assert len(found) == 1, found
    return found[0]


def test_base_scenario_loads():
    sc = scenario_from_dict(BASE, name=FILE)
    assert len(sc.cells) == 4
    assert sc.params[0].decision.win == 0.25
    assert len(sc.bank) == 4 and sc.bank[0].amount == pytest.approx(50_000)


# ---- unknown keys, with a did-you-mean, at every level ----------------------------------


@pytest.mark.parametrize(
    "raw, path, suggestion",
    [
        (edit(nmae="x"), "nmae", "'name'"),
        (edit(defaults__decison={}), "defaults.decison", "'decision'"),
        (edit(defaults__amount__medain=5), "defaults.amount.medain", "'median'"),
        (edit(by__source__inbound__creaton={}), "by.source.inbound.creaton", "'creation'"),
        (
            edit(defaults__stages={"Stage 1": {"advnce": 0.5}}),
            'defaults.stages."Stage 1".advnce',
            "'advance'",
        ),
        (
            edit(cell={"outbound/FinOps": {"amount": {"whale_prob": 0.1}}}),
            'cell."outbound/FinOps".amount.whale_prob',
            "'whale_probability'",
        ),
    ],
    ids=["top", "defaults", "amount", "by", "stage-table", "cell"],
)
def test_unknown_key_names_the_path_and_suggests(raw, path, suggestion):
    where, message = only(raw)
    assert where == path
    assert "unknown key" in message and f"did you mean {suggestion}" in message


# ---- wrong types and out-of-range values ------------------------------------------------


@pytest.mark.parametrize(
    "raw, path, words",
    [
        (edit(target="lots"), "target", "must be a number, got the text 'lots'"),
        (edit(target=True), "target", "must be a number, got a boolean"),
        (edit(target=float("nan")), "target", "finite"),
        (edit(start="2026-01-01"), "start", "must be a date"),
        (edit(defaults__decision__max_pushes=1.5), "defaults.decision.max_pushes", "whole number"),
        (edit(defaults__stages=[1]), "defaults.stages", "must be a table, got a list"),
        (edit(dimensions__source="inbound"), "dimensions.source", "must be a list"),
        (edit(defaults__decision__win=1.2), "defaults.decision.win", "probability 1.2 is out of range"),
        (edit(defaults__decision__push=-0.1), "defaults.decision.push", "probability -0.1 is out of range"),
        (edit(defaults__conversion__to_decision=1.5), "defaults.conversion.to_decision", "in [0, 1]"),
        (
            edit(by__source__inbound__amount={"whale_probability": 2}),
            "by.source.inbound.amount.whale_probability",
            "out of range",
        ),
        (
            edit(defaults__amount__median=-5),
            "defaults.amount.median",
            "value -5 is out of range: must be in [0.01, 1,000,000,000,000]",
        ),
        (edit(defaults__amount__median=0), "defaults.amount.median", "must be in [0.01, "),
        (edit(defaults__amount__cap=0), "defaults.amount.cap", "must be in (0, "),
        (edit(defaults__creation__dollars=-1), "defaults.creation.dollars", "must be in [0, "),
        (
            edit(defaults__amount={"empirical": [10, -3]}),
            "defaults.amount.empirical[1]",
            "must be in [0.01, ",
        ),
        (edit(bank__aggregate__0__dollars=0), "bank.aggregate[0].dollars", "must be in (0, "),
        (edit(bank__aggregate__0__count=0), "bank.aggregate[0].count", "must be in [1, 2,000,000]"),
        (
            edit(defaults__stages={"Stage 1": {"dwell": {"mean": 0}}}),
            'defaults.stages."Stage 1".dwell.mean',
            "must be in (0, 36,500]",
        ),
        (edit(horizon_weeks=0, end=None), "horizon_weeks", "must be in [1, 1040]"),
        (edit(fiscal_year_start_month=13), "fiscal_year_start_month", "in [1, 12]"),
        (edit(period="fortnight"), "period", "unknown value 'fortnight'"),
        (
            edit(defaults__stages={"Stage 1": {"dwell": {"dist": "weibul"}}}),
            'defaults.stages."Stage 1".dwell.dist',
            "expected one of 'lognormal', 'gamma', 'exponential', 'fixed'",
        ),
        (
            edit(defaults__decision={"win_loss_push": [1, 2]}),
            "defaults.decision.win_loss_push",
            "exactly 3 entries",
        ),
        (
            edit(defaults__creation__seasonality=[1] * 11),
            "defaults.creation.seasonality",
            "exactly 12 entries",
        ),
    ],
)
def test_wrong_type_or_range(raw, path, words):
    where, message = only(raw)
    assert where == path
    assert words in message


# ---- outcome probabilities that do not add up -------------------------------------------


def test_open_stage_outcomes_must_sum_to_one():
    raw = edit(
        defaults__stages={"Stage 1": {"advance": 0.5, "lost_competition": 0.3, "lost_no_decision": 0.3}}
    )
    where, message = only(raw)
    assert where == 'defaults.stages."Stage 1".advance'
    assert "advance + lost_competition + lost_no_decision = 1.1, must sum to 1" in message
    # Reported once for the shared level, saying which cells it reaches.
    assert "(all 4 cells)" in message


def test_open_stage_advance_plus_one_loss_above_one():
    where, message = only(edit(defaults__stages={"Stage 2": {"advance": 0.8, "lost_no_decision": 0.3}}))
    assert where == 'defaults.stages."Stage 2".advance'
    assert "exceed 1" in message


def test_a_loss_past_what_advance_leaves_within_the_tolerance_is_all_of_it():
    # advance leaves 1e-7 and the loss is 1e-6: accepted (the sum is within 1e-6 of 1), and
    # the share of losses to competition is 1, not 10 (random fuzzing found 9e6).
    raw = edit(defaults__stages={"Stage 2": {"advance": 1 - 1e-7, "lost_competition": 1e-6}})
    sc = scenario_from_dict(raw, name=FILE)
    assert {p.stages[1].lost_competition_share for p in sc.params} == {1.0}


def test_decision_outcomes_must_sum_to_one():
    raw = edit(defaults__decision__lost_competition=0.3, defaults__decision__lost_no_decision=0.3)
    where, message = only(raw)
    assert where == "defaults.decision.win"
    assert "win + lost_competition + lost_no_decision + push = 1.1, must sum to 1" in message


def test_win_plus_push_above_one():
    where, message = only(edit(defaults__decision__win=0.7, defaults__decision__push=0.5))
    assert where == "defaults.decision.win"
    assert "win 0.7 + push 0.5 exceed 1" in message


def test_problem_in_one_dimension_value_lists_its_cells():
    where, message = only(edit(by__source__outbound={"decision": {"win": 0.9}}))
    assert where == "by.source.outbound.decision.win"
    assert "exceed 1" in message and "2 cells: 'outbound/CMP', 'outbound/FinOps'" in message


def test_all_zero_win_loss_push():
    raw = edit(defaults__decision={"win_loss_push": [0, 0, 0]})
    where, message = only(raw)
    assert where == "defaults.decision.win_loss_push" and "all zero" in message


@pytest.mark.parametrize(
    "table, extra, words",
    [
        ("defaults.decision", {"win_loss_push": [1, 2, 1]}, "gives both win_loss_push and win and push"),
        ("defaults.amount", {"empirical": [1e4, 2e4]}, "gives both empirical and median"),
        ("defaults.amount", {"sigma": 0.5}, "gives both p90_ratio and sigma"),
        ("defaults.creation", {"count": 5}, "gives both dollars and count"),
    ],
)
def test_two_forms_of_one_field_in_one_table(table, extra, words):
    raw = copy.deepcopy(BASE)
    raw["defaults"][table.split(".")[1]].update(extra)
    where, message = only(raw)
    assert where == table and words in message


def test_the_more_specific_level_picks_the_form():
    sc = scenario_from_dict(edit(by__source__outbound__decision={"win_loss_push": [1, 2, 1]}), name=FILE)
    outbound = sc.cell_index(source="outbound")[0]
    assert sc.params[outbound].decision.win == 0.25 and sc.params[outbound].decision.push == 0.25


def test_override_in_the_other_form_replaces_it():
    raw = edit(defaults__decision={"win_loss_push": [1, 2, 1], "dwell": {"mean": 30}})
    sc = scenario_from_dict(raw, name=FILE, overrides={"defaults.decision.win": 0.3})
    # The push rate the ratio gave is kept; losses take the rest.
    assert sc.params[0].decision.win == 0.3 and sc.params[0].decision.push == 0.25
    sc = scenario_from_dict(BASE, name=FILE, overrides={"defaults.decision.win_loss_push": [1, 1, 2]})
    assert sc.params[0].decision.win == 0.25 and sc.params[0].decision.push == 0.5
    sc = scenario_from_dict(BASE, name=FILE, overrides={"defaults.amount.sigma": 0.0})
    assert sc.params[0].amount.sigma == 0.0


def test_cumulative_conversion_that_cannot_be_reached():
    raw = edit(defaults__stages={"Stage 1": {"advance": 0.3}})
    where, message = only(raw)
    assert where == "defaults.conversion.to_decision"
    assert "cannot be reached" in message and "0.3" in message


def test_cumulative_conversion_with_no_stage_left_to_set():
    # One open stage before the decision, with its own advance: to_decision has nothing to
    # split over, and the simulation would silently use 0.3.
    raw = edit(
        stage=[{"name": "Stage 1", "category": "pipeline"}, {"name": "Stage 3", "category": "commit"}],
        defaults__stages={"Stage 1": {"advance": 0.3}},
    )
    assert only(raw) == (
        "defaults.conversion.to_decision",
        "conversion.to_decision 0.5 disagrees with the advance rates: stage 'Stage 1' has its own advance "
        "rate 0.3, and no stage is left for to_decision to set; change conversion.to_decision to 0.3, or "
        'stages."Stage 1".advance, or give one of the two only (all 4 cells)',
    )
    # Every stage with its own advance: their product is what the simulation uses.
    where, message = only(edit(defaults__stages={"Stage 1": {"advance": 0.3}, "Stage 2": {"advance": 0.9}}))
    assert where == "defaults.conversion.to_decision"
    assert "stages 'Stage 1', 'Stage 2' all have their own advance rates, which multiply to 0.27" in message
    assert "change conversion.to_decision to 0.27" in message
    # Only the stages from the entry stage count.
    where, message = only(
        edit(
            defaults__stages={"Stage 1": {"advance": 0.3}, "Stage 2": {"advance": 0.9}},
            defaults__entry_stage="Stage 2",
        )
    )
    assert "stage 'Stage 2' has its own advance rate 0.9" in message


def test_cumulative_conversion_that_agrees_with_every_stage_rate():
    # Rates rounded to a tenth of a percent still agree; so do rates set without to_decision.
    sc = scenario_from_dict(
        edit(defaults__stages={"Stage 1": {"advance": 0.707}, "Stage 2": {"advance": 0.707}}), name=FILE
    )
    assert sc.params[0].stages[0].advance == 0.707
    scenario_from_dict(
        edit(
            defaults__stages={"Stage 1": {"advance": 0.3}, "Stage 2": {"advance": 0.9}},
            defaults__conversion=None,
        ),
        name=FILE,
    )


def test_floor_above_cap():
    where, message = only(edit(defaults__amount__floor=5_000, defaults__amount__cap=1_000))
    assert where == "defaults.amount.floor"
    assert "floor 5000 is above the cap 1000" in message


def test_whale_factor_max_below_whale_factor():
    where, message = only(edit(defaults__amount__whale_factor=3, defaults__amount__whale_factor_max=2))
    assert where == "defaults.amount.whale_factor_max" and "below whale_factor" in message


# ---- unknown stage / dimension names ----------------------------------------------------


@pytest.mark.parametrize(
    "raw, path, words",
    [
        (
            edit(by__source__inbund={}),
            "by.source.inbund",
            "unknown source 'inbund' (did you mean 'inbound'?)",
        ),
        (edit(by__product__CPM={}), "by.product.CPM", "unknown product 'CPM' (did you mean 'CMP'?)"),
        (edit(by__sorce={}), "by.sorce", "unknown dimension 'sorce' (did you mean 'source'?)"),
        (
            edit(cell={"inbound/CPM": {}}),
            'cell."inbound/CPM"',
            "unknown cell 'inbound/CPM' (did you mean 'inbound/CMP'?)",
        ),
        (edit(defaults__stages={"Stage 9": {}}), 'defaults.stages."Stage 9"', "unknown stage 'Stage 9'"),
        (edit(defaults__stages={"Stage 3": {}}), 'defaults.stages."Stage 3"', "is the decision stage"),
        (
            edit(by__source__inbound__stages={"Stage1": {}}),
            "by.source.inbound.stages.Stage1",
            "did you mean 'Stage 1'?",
        ),
        (edit(defaults__entry_stage="Stage 7"), "defaults.entry_stage", "unknown value 'Stage 7'"),
        (edit(bank__aggregate__0__stage="Stage 0"), "bank.aggregate[0].stage", "unknown value 'Stage 0'"),
        (
            edit(bank__aggregate__0__source="inbond"),
            "bank.aggregate[0].source",
            "unknown source 'inbond' (did you mean 'inbound'?)",
        ),
        (
            edit(bank__aggregate__0__product=None),
            "bank.aggregate[0].product",
            "each aggregate row names its product",
        ),
        (edit(bank__aggregate__0__colour="red"), "bank.aggregate[0].colour", "unknown key 'colour'"),
        # Aggregate rows carry no dates (a CSV does).
        (
            edit(bank__aggregate__0__created=dt.date(2026, 2, 1)),
            "bank.aggregate[0].created",
            "unknown key 'created'",
        ),
        (
            edit(stage__1__category="maybe"),
            "stage[1].category",
            "expected one of 'pipeline', 'best_case', 'commit'",
        ),
    ],
)
def test_unknown_names(raw, path, words):
    where, message = only(raw)
    assert where == path
    assert words in message


def test_stage_declared_twice():
    raw = edit(
        stage=[{"name": "A", "category": "pipeline"}, {"name": "A", "category": "commit"}],
        defaults__stages={},
        bank=None,
    )
    assert only(raw) == ("stage[1].name", "stage 'A' is declared twice")


# ---- empty plans and plan lists -----------------------------------------------------------


def test_empty_plan_without_bank():
    raw = edit(bank=None, defaults__creation__dollars=0)
    where, message = only(raw)
    assert where == "defaults.creation" and "the plan is empty" in message


def test_empty_plan_list():
    where, message = only(edit(defaults__creation__dollars=[]))
    assert where == "defaults.creation.dollars" and "the plan is empty" in message


def test_a_bank_alone_is_a_plan():
    sc = scenario_from_dict(edit(defaults__creation__dollars=0), name=FILE)
    assert len(sc.bank) == 4


def test_plan_list_with_the_wrong_number_of_periods():
    where, message = only(edit(defaults__creation__dollars=[1e6, 1e6, 1e6]))
    assert where == "defaults.creation.dollars"
    assert "has 3 values but the horizon has 4 quarters" in message


def test_plan_list_per_month_counts_months():
    sc = scenario_from_dict(edit(defaults__creation={"per": "month", "count": [10] * 12}), name=FILE)
    assert sc.params[0].creation.kind == "count"
    where, message = only(edit(defaults__creation={"per": "month", "count": [10] * 4}))
    assert "has 4 values but the horizon has 12 months" in message


def test_period_targets_length():
    where, message = only(edit(period_targets=[1, 2]))
    assert where == "period_targets" and "one target per quarter of the horizon (4), got 2" in message


# ---- required fields, dates, horizon ------------------------------------------------------


@pytest.mark.parametrize("key", ["name", "start", "dimensions", "stage", "defaults"])
def test_missing_required_field(key):
    assert only(edit(**{key: None})) == (key, "is required but missing")


def test_missing_required_fields_in_a_bank_row():
    found = problems(edit(bank__aggregate__0__dollars=None, bank__aggregate__0__stage=None))
    assert ("bank.aggregate[0].stage", "is required but missing") in found
    assert ("bank.aggregate[0].dollars", "is required but missing") in found


def test_end_before_start():
    assert only(edit(end=dt.date(2025, 6, 30))) == ("end", "end 2025-06-30 is before start 2026-01-01")


def test_end_and_horizon_both_given():
    assert only(edit(horizon_weeks=52))[0] == "end"


def test_horizon_too_long():
    where, message = only(edit(end=dt.date(2090, 1, 1)))
    assert where == "end" and "longer than 1,040 weeks (about 20 years)" in message


def test_no_dimensions():
    where, message = only(edit(dimensions={}, by=None, cell=None, bank=None))
    assert where == "dimensions" and "declare at least one dimension" in message


def test_no_deal_size_is_not_also_reported_as_a_units_mistake():
    # Dollars cannot be counted without a deal size; that is the one problem to fix.
    where, message = only(edit(defaults__amount=None))
    assert where == "defaults.amount.median" and message.startswith("no deal size")


@pytest.mark.parametrize("dim", ["stage", "period", "trial", "reason", "bookings_amount"])
def test_dimension_named_like_a_result_dimension_or_variable(dim):
    # xarray would refuse the Dataset, or silently merge the two dimensions into one.
    found = problems(edit(**{f"dimensions__{dim}": ["x", "y"]}))
    assert (
        f"dimensions.{dim}",
        f"{dim!r} is already a dimension or variable of the results; give this dimension another name",
    ) in found


def test_a_broken_declaration_is_reported_once():
    # Not again as "unknown source" at every by.source.<value> or bank row that uses the names.
    found = problems(edit(dimensions__source=[1, 2]))
    assert [p for p, _ in found] == ["dimensions.source[0]", "dimensions.source[1]"]
    assert only(edit(stage=[]))[0] == "stage"


def test_negative_binomial_without_dispersion():
    where, message = only(edit(defaults__creation__process="negative_binomial"))
    assert where == "defaults.creation.process"
    assert "needs creation.dispersion" in message


def test_missing_rates():
    found = problems(edit(defaults__decision={"dwell": {"mean": 30}}, defaults__conversion=None))
    paths = {p for p, _ in found}
    assert "defaults.decision.win" in paths
    assert 'defaults.stages."Stage 1".advance' in paths
    assert all("cells" in m for _, m in found)


# ---- uncertainty --------------------------------------------------------------------------


def test_uncertain_values_load_in_both_forms():
    sc = scenario_from_dict(
        edit(
            defaults__decision__win={"mean": 0.25, "strength": 40},
            defaults__amount__median={"low": 40_000, "base": 50_000, "high": 90_000},
        ),
        name=FILE,
    )
    assert sc.params[0].decision.win == BetaRate(0.25, 40.0)
    assert sc.params[0].amount.median == Pert(40_000.0, 50_000.0, 90_000.0)


@pytest.mark.parametrize(
    "raw, path, words",
    [
        (
            edit(defaults__decision__win={"low": 0.3, "base": 0.2, "high": 0.4}),
            "defaults.decision.win",
            "low <= base <= high",
        ),
        (
            edit(defaults__decision__win={"low": 0.1, "base": 0.2, "high": 1.4}),
            "defaults.decision.win.high",
            "out of range",
        ),
        (
            edit(defaults__decision__win={"mean": 1.5, "strength": 10}),
            "defaults.decision.win.mean",
            "in (0, 1)",
        ),
        (
            edit(defaults__decision__win={"mean": 0.5, "strength": 0}),
            "defaults.decision.win.strength",
            "in [1, 1,000,000]",
        ),
        (
            edit(defaults__decision__win={"low": 0.1, "high": 0.4}),
            "defaults.decision.win",
            "{low, base, high} or {mean, strength}",
        ),
        (
            edit(defaults__amount__median={"mean": 5, "strength": 2}),
            "defaults.amount.median",
            "{low, base, high}",
        ),
        (
            edit(defaults__decision__max_pushes={"low": 1, "base": 2, "high": 3}),
            "defaults.decision.max_pushes",
            "cannot be uncertain",
        ),
        (
            edit(defaults__decision__lost_competition={"low": 0.1, "base": 0.2, "high": 0.3}),
            "defaults.decision.lost_competition",
            "cannot be uncertain",
        ),
        (
            edit(defaults__creation__dollars={"low": 1, "base": 2, "high": 3}),
            "defaults.creation.dollars",
            "cannot be uncertain",
        ),
    ],
)
def test_bad_uncertain_values(raw, path, words):
    where, message = only(raw)
    assert where == path
    assert words in message


# ---- all problems together ------------------------------------------------------------------


def test_every_problem_in_a_file_is_reported_together():
    raw = edit(
        nmae="x",
        target=-1,
        defaults__decision__win=1.5,
        by__source__inbund={},
        bank__aggregate__0__stage="Stage 9",
        defaults__amount__medain=1,
    )
    paths = {p for p, _ in problems(raw)}
    assert paths == {
        "nmae",
        "target",
        "defaults.decision.win",
        "by.source.inbund",
        "bank.aggregate[0].stage",
        "defaults.amount.medain",
    }


def test_cell_level_problems_and_bank_problems_come_together():
    raw = edit(defaults__amount__floor=5_000, defaults__amount__cap=1_000, bank__aggregate__0__source="x")
    paths = {p for p, _ in problems(raw)}
    assert paths == {"defaults.amount.floor", "bank.aggregate[0].source"}


# ---- variants and --set overrides -------------------------------------------------------------


def test_unknown_variant():
    where, message = only(variant="low")
    assert where == "variants"
    assert "no variant 'low' (did you mean 'Low'?); the file has: Low" in message


def test_variant_that_breaks_the_scenario_names_the_field():
    raw = edit(variants__Low__set={"defaults.decision.win": 1.5})
    where, message = only(raw, variant="Low")
    assert where == "defaults.decision.win" and "out of range" in message


@pytest.mark.parametrize(
    "overrides, path, words",
    [
        ({"defaults.decision.wn": 0.3}, "defaults.decision.wn", "did you mean 'win'?"),
        ({"defaults.decision.win": "high"}, "defaults.decision.win", "must be a number, got the text 'high'"),
        ({"defaults.decision.win": 3}, "defaults.decision.win", "out of range"),
        ({"name.first": 1}, "--set", "name is a value, not a table"),
        ({"bank.aggregate.5.count": 1}, "--set", "no entry 5 in the list"),
        ({"defaults..win": 1}, "--set", "empty part"),
    ],
)
def test_bad_override(overrides, path, words):
    where, message = only(overrides=overrides)
    assert where == path
    assert words in message


def test_overrides_apply():
    sc = scenario_from_dict(
        BASE, name=FILE, overrides={"defaults.decision.win": 0.3, 'defaults.stages."Stage 1".dwell.mean': 9}
    )
    assert sc.params[0].decision.win == 0.3
    assert sc.params[0].stages[0].dwell.mean == 9


# ---- files: missing, unreadable, not TOML ------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "nope.toml")
    (p,) = info.value.problems
    assert p.file.endswith("nope.toml") and p.message == "no such file"


def test_toml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\nstart = 2026-01-01\ntarget = = 5\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    (p,) = info.value.problems
    assert p.path == "(syntax)" and "not valid TOML" in p.message and "line 3" in p.message


def test_not_utf8(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b'name = "\xff\xfe"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "not UTF-8" in info.value.problems[0].message


# ---- the CSV bank ------------------------------------------------------------------------------

SCENARIO_WITH_CSV = """
name = "csv bank"
start = 2026-01-01
end = 2026-12-31

[dimensions]
source = ["inbound", "outbound"]
product = ["CMP"]

[[stage]]
name = "Stage 1"
category = "pipeline"

[[stage]]
name = "Stage 2"
category = "commit"

[defaults]
stages."Stage 1".advance = 0.5
decision = { win = 0.3 }
amount = { median = 10000 }

[bank]
csv = "deals.csv"
"""


def _csv_scenario(tmp_path, csv_text):
    (tmp_path / "plan.toml").write_text(textwrap.dedent(SCENARIO_WITH_CSV), encoding="utf-8")
    if csv_text is not None:
        (tmp_path / "deals.csv").write_text(textwrap.dedent(csv_text).lstrip(), encoding="utf-8")
    return tmp_path / "plan.toml"


def _csv_problems(tmp_path, csv_text):
    with pytest.raises(ScenarioError) as info:
        load_scenario(_csv_scenario(tmp_path, csv_text))
    return [(p.file, p.path, p.message) for p in info.value.problems]


def test_csv_bank_loads(tmp_path):
    sc = load_scenario(
        _csv_scenario(
            tmp_path,
            """
        source,product,stage,amount,created,expected_close
        inbound,CMP,Stage 1,12000,2025-11-01,2026-03-15
        outbound,CMP,Stage 2,30000,,
    """,
        )
    )
    assert len(sc.bank) == 2
    assert sc.bank[0].created == -61 and sc.bank[0].expected_close == 73
    assert sc.bank[1].stage == 1 and sc.bank[1].amount == 30000


def test_csv_rows_that_do_not_parse_name_their_lines(tmp_path):
    found = _csv_problems(
        tmp_path,
        """
        source,product,stage,amount,created,expected_close
        inbound,CMP,Stage 1,12000,2025-11-01,2026-03-15
        inbound,CMP,Stage 1,twelve,,
        inbound,CMP,Stage 1,12000,2025-13-01,
        inbound,CMP,Stage 7,12000,,
        inbund,CMP,Stage 1,12000,,
        inbound,CMP,Stage 1,-5,,
    """,
    )
    assert all(f.endswith("deals.csv") for f, _, _ in found)
    by_line = {path: message for _, path, message in found}
    assert by_line == {
        "line 3": "amount is not a number: 'twelve'",
        "line 4": "created is not a date (YYYY-MM-DD): '2025-13-01'",
        "line 5": "unknown stage 'Stage 7' (did you mean 'Stage 2'?)",
        "line 6": "unknown source 'inbund' (did you mean 'inbound'?)",
        "line 7": "amount must be at least 0.01, got '-5'",
    }


def test_csv_deal_created_after_start_or_after_its_close(tmp_path):
    # A deal created after start is not open at start (it gave negative cycle times).
    found = _csv_problems(
        tmp_path,
        """
        source,product,stage,amount,created,expected_close
        inbound,CMP,Stage 1,12000,2025-12-01,2025-12-15
        inbound,CMP,Stage 1,12000,2026-02-01,2026-03-15
        inbound,CMP,Stage 1,12000,2025-12-01,2025-11-15
        inbound,CMP,Stage 1,12000,2026-02-01,2026-01-15
        inbound,CMP,Stage 1,12000,2026-02-01,
    """,
    )
    assert [(path, message) for _, path, message in found] == [
        (
            "line 3",
            "created 2026-02-01 is after start 2026-01-01: a deal in the starting bank must exist at "
            "start (add it to the plan's creation instead, or fix the date)",
        ),
        ("line 4", "expected_close 2025-11-15 is before created 2025-12-01"),
        # One mistake (the created date), reported once.
        (
            "line 5",
            "created 2026-02-01 is after start 2026-01-01: a deal in the starting bank must exist at "
            "start (add it to the plan's creation instead, or fix the date)",
        ),
        (
            "line 6",
            "created 2026-02-01 is after start 2026-01-01: a deal in the starting bank must exist at "
            "start (add it to the plan's creation instead, or fix the date)",
        ),
    ]


def test_csv_deal_created_on_start_with_a_past_close_loads(tmp_path):
    sc = load_scenario(
        _csv_scenario(
            tmp_path,
            """
        source,product,stage,amount,created,expected_close
        inbound,CMP,Stage 1,12000,2026-01-01,2026-01-01
        inbound,CMP,Stage 2,12000,2025-10-01,2025-12-15
    """,
        )
    )
    assert [(d.created, d.expected_close) for d in sc.bank] == [(0, 0), (-92, -17)]


def test_csv_amount_above_the_largest_deal(tmp_path):
    found = _csv_problems(
        tmp_path,
        """
        source,product,stage,amount
        inbound,CMP,Stage 1,1e300
        inbound,CMP,Stage 1,inf
        inbound,CMP,Stage 1,1e12
        inbound,CMP,Stage 1,0
    """,
    )
    limit = "amount must be at most 1,000,000,000,000 (larger is a units mistake), got "
    assert [(path, message) for _, path, message in found] == [
        ("line 2", limit + "'1e300'"),
        ("line 3", limit + "'inf'"),
        ("line 5", "amount must be at least 0.01, got '0'"),
    ]


def test_csv_utf8_with_a_byte_order_mark(tmp_path):
    # Excel's "CSV UTF-8".
    scenario = _csv_scenario(tmp_path, None)
    (tmp_path / "deals.csv").write_bytes(
        "source,product,stage,amount\ninbound,CMP,Stage 1,5\n".encode("utf-8-sig")
    )
    sc = load_scenario(scenario)
    assert [(d.cell, d.amount) for d in sc.bank] == [(0, 5.0)]


def test_csv_row_with_more_fields_than_the_header(tmp_path):
    found = _csv_problems(
        tmp_path,
        """
        source,product,stage,amount,created
        inbound,CMP,Stage 1,12,000,2025-11-01
        inbound,CMP,Stage 1,12000,2025-11-01
        inbound,CMP,Stage 1,12000,2025-11-01,
    """,
    )
    assert [(path, message) for _, path, message in found] == [
        ("line 2", "6 fields but the header (line 1) has 5 columns"),
        ("line 4", "6 fields but the header (line 1) has 5 columns"),
    ]


def test_csv_column_given_twice(tmp_path):
    ((_, path, message),) = _csv_problems(
        tmp_path, "source,product,stage,amount,source\ninbound,CMP,Stage 1,5,outbound\n"
    )
    assert (path, message) == ("line 1", "column 'source' appears more than once")


def test_csv_missing_column(tmp_path):
    ((_, path, message),) = _csv_problems(tmp_path, "source,stage,amount\ninbound,Stage 1,5\n")
    assert path == "line 1" and "missing column product" in message


def test_csv_unknown_column(tmp_path):
    ((_, path, message),) = _csv_problems(tmp_path, "source,product,stage,amount,clsoe\n")
    assert path == "line 1" and "unknown column 'clsoe'" in message


def test_csv_missing_file(tmp_path):
    ((file, path, message),) = _csv_problems(tmp_path, None)
    assert file.endswith("plan.toml") and path == "bank.csv"
    assert "no such file" in message and "deals.csv" in message


def test_csv_not_utf8(tmp_path):
    scenario = _csv_scenario(tmp_path, None)
    (tmp_path / "deals.csv").write_bytes(b"source,product,stage,amount\n\xff,CMP,Stage 1,5\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    (p,) = info.value.problems
    assert p.path == "bank.csv" and "not UTF-8" in p.message


def test_csv_and_cell_problems_come_together(tmp_path):
    # (A file whose structure is broken stops before the CSV is read: the CSV's rows are
    # checked against the stages and dimensions the file declares.)
    path = _csv_scenario(tmp_path, "source,product,stage,amount\ninbound,CMP,Stage 1,x\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides={"defaults.amount.floor": 10, "defaults.amount.cap": 5})
    assert {p.path for p in info.value.problems} == {"defaults.amount.floor", "line 2"}


# ---- plans too big to be meant ----------------------------------------------------------------


def test_a_plan_in_the_wrong_units_is_caught():
    where, message = only(edit(defaults__creation__dollars=1e14))
    assert where == "defaults.creation.dollars"
    assert "more than 2,000,000 opportunities over the horizon: check the units" in message
    assert "(all 4 cells)" in message


def test_negative_binomial_dispersion_floor():
    raw = edit(defaults__creation__process="negative_binomial", defaults__creation__dispersion=0.001)
    where, message = only(raw)
    assert where == "defaults.creation.dispersion" and "in [0.1, 1,000,000]" in message


@pytest.mark.parametrize(
    "raw, path, words",
    [
        (
            edit(defaults__amount__median=5e12),
            "defaults.amount.median",
            "must be in [0.01, 1,000,000,000,000]",
        ),
        (
            edit(defaults__amount__sigma=9, defaults__amount__p90_ratio=None),
            "defaults.amount.sigma",
            "in [0, 3.6]",
        ),
        (edit(defaults__amount__p90_ratio=500), "defaults.amount.p90_ratio", "in [1, 100]"),
        (edit(defaults__amount__whale_factor=1e6), "defaults.amount.whale_factor", "in [1, 1000]"),
        (
            edit(defaults__stages={"Stage 1": {"growth": 50}}),
            'defaults.stages."Stage 1".growth',
            "in (0, 10]",
        ),
        (
            edit(defaults__stages={"Stage 1": {"dwell": {"cv": 1e9}}}),
            'defaults.stages."Stage 1".dwell.cv',
            "in [0, 10]",
        ),
        (edit(defaults__decision__max_pushes=10**30), "defaults.decision.max_pushes", "in [0, 1000]"),
        (edit(defaults__market_loading=1e300), "defaults.market_loading", "in [-10, 10]"),
        (edit(bank__aggregate__0__count=10**12), "bank.aggregate[0].count", "in [1, 2,000,000]"),
        (
            edit(bank__aggregate__0__dollars=8e14),
            "bank.aggregate[0].dollars",
            "dollars / count = 200,000,000,000,000 per deal is above the largest deal size of 1,000,000,000,000",
        ),
    ],
)
def test_magnitudes_beyond_any_plan(raw, path, words):
    # Bounds that keep every sum finite and every table small; each is far beyond a real plan.
    where, message = only(raw)
    assert where == path and words in message


def test_with_overrides_reports_problems_like_a_load():
    sc = scenario_from_dict(BASE, name=FILE)
    with pytest.raises(ScenarioError) as info:
        sc.with_overrides({"name.first": 1})
    (p,) = info.value.problems
    assert (p.file, p.path) == (FILE, "--set") and "name is a value, not a table" in p.message
    with pytest.raises(ScenarioError) as info:
        sc.with_overrides({"defaults.decision.win": 2})
    assert [(p.file, p.path) for p in info.value.problems] == [(FILE, "defaults.decision.win")]
    assert sc.with_overrides({"defaults.decision.win": 0.3}).params[0].decision.win == 0.3


def test_a_date_time_is_not_a_date():
    found = problems(edit(start=dt.datetime(2026, 1, 1, 12, 0)))
    assert found == [("start", "must be a date like 2026-01-01 (no quotes), got a date-time")]


def test_seasonality_index_bound():
    where, message = only(edit(defaults__creation__seasonality=[5e305] + [1] * 11))
    assert where == "defaults.creation.seasonality[0]" and "in [0, 1000]" in message


@pytest.mark.parametrize(
    "shares, ok",
    [
        ((0.9, 0.38), False),  # a typo: the plan would be scaled by 1.28
        ((0.5, 0.4), False),
        ((0.6, 0.4), True),
        ((0.334, 0.667), True),  # within rounding
    ],
)
def test_shares_given_for_every_value_of_a_dimension_add_to_one(shares, ok):
    raw = edit(
        by__product__CMP__creation__share=shares[0],
        by__product__FinOps__creation__share=shares[1],
    )
    if ok:
        scenario_from_dict(raw, name=FILE)
        return
    (path, message), *_ = problems(raw)
    assert path == "by.product" and "adds to" in message and "creation.uplift" in message


def test_a_share_given_for_some_values_only_is_a_multiplier():
    # BASE's inbound share of 1.5 (outbound has none): a multiplier, as documented.
    assert scenario_from_dict(BASE, name=FILE).params[0].creation.share == 1.5
