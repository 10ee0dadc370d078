"""The ending bank by forecast category: ``[optimize] ending_bank = {pipeline = 1e6}``.

Known answers: a requirement that binds changes the plan so that the simulated bank in that
category at the end of the horizon meets it at its confidence (checked on fresh trials of the
scenario with the plan pasted in, through ``simcore.simulate``, not the optimizer's own
reduction); a requirement the plan already meets changes nothing, bit for bit; the table form
naming the decision stage's category is the number form.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import build, se_proportion
from test_optimize import _toml, two_source_raw

import simcore
from simcore.cli.app import main
from simcore.errors import ScenarioError
from simcore.optimize.layout import build_layout
from simcore.optimize.limits import read_limits
from simcore.optimize.plan import optimize


def _raw(**optimize_table):
    raw = two_source_raw()
    raw["optimize"] = {"ramp": 0} | optimize_table
    return raw


def _ending_share(sc, res, category, dollars, trials, seed):
    """P(bank in ``category`` at the end of the horizon >= dollars) of the plan, simulated anew."""
    layout = build_layout(sc, "source", False)
    x = np.zeros(layout.n_units)
    for u in range(layout.n_units):
        s, q = layout.sources[layout.unit_source[u]], layout.quarters.labels[layout.unit_quarter[u]]
        x[u] = res.plan[s][q]
    plan_sc = layout.plan_scenario(layout.cell_dollars(x))
    ds = simcore.simulate(plan_sc, trials=trials, seed=seed, progress=False)
    end = ds["bank_amount"].isel(period=-1).sel(category=category).sum(("source",))
    return float((end.values >= dollars).mean())


def test_table_form_reads_by_category_and_bad_names_are_refused():
    raw = _raw(ending_bank={"pipeline": 1e6, "commit": 2e5}, ending_bank_confidence={"pipeline": 0.8})
    limits, _ = read_limits(build(raw))
    # commit is the decision stage's category: it is today's ending_bank, at the default 0.5.
    assert limits.ending_bank == 2e5 and limits.ending_bank_confidence == 0.5
    assert limits.ending_by_category == {"pipeline": 1e6}
    assert limits.ending_confidence_by_category == {"pipeline": 0.8}
    assert not limits.ending_bank_from_funnel
    with pytest.raises(ScenarioError, match=r"optimize\.ending_bank\.comit.*did you mean 'commit'"):
        build(_raw(ending_bank={"comit": 1e6}))
    with pytest.raises(ScenarioError, match=r"optimize\.ending_bank_confidence\.best_case"):
        read_limits(build(_raw(ending_bank={"pipeline": 1e6}, ending_bank_confidence={"best_case": 0.8})))
    with pytest.raises(ScenarioError, match=r"optimize\.ending_bank\.pipeline"):
        build(_raw(ending_bank={"pipeline": -1.0}))


def test_bad_ending_bank_table_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(_toml(_raw(ending_bank={"pipline": 1e6})))
    assert main(["optimize", str(path), "--quiet", "--trials", "200"]) == 2
    err = capsys.readouterr().err
    assert "optimize.ending_bank.pipline" in err and "Traceback" not in err
    assert sum(line.startswith("error:") for line in err.splitlines()) == 1  # one line per problem


@pytest.mark.slow  # three optimizations of the two-by-two, and a fresh simulation
def test_binding_category_requirement_is_met_and_a_slack_one_changes_nothing(tmp_path, capsys):
    kw = {"trials": 2000, "seed": 0, "verify_trials": 4000, "spreadsheet": False}
    base = optimize(build(_raw()), 0.8, **kw)
    E, alpha = 1e6, 0.8
    # Without the requirement the plan creates almost nothing late: its pipeline bank at the end
    # is far below E in most trials, so the requirement binds.
    assert _ending_share(build(_raw()), base, "pipeline", E, 4000, 11) < 0.2
    raw = _raw(ending_bank={"pipeline": E}, ending_bank_confidence={"pipeline": alpha})
    sc = build(raw)
    res = optimize(sc, 0.8, **kw)
    assert res.success, res.message
    row = res.ending_bank["by_category"][0]
    assert row["category"] == "pipeline" and row["required"] == E and row["confidence"] == alpha
    need = math.ceil(alpha * kw["trials"] - 1e-9) / kw["trials"]
    assert row["confidence_in_sample"] >= need
    assert res.confidence_in_sample >= 0.8
    assert res.total_stage1 > base.total_stage1  # the requirement costs something
    # Fresh trials of the scenario with the plan pasted in: met at the confidence (4 SE).
    share = _ending_share(sc, res, "pipeline", E, 4000, 12)
    assert share >= alpha - 4 * se_proportion(alpha, 4000)
    # The optimizer's own out-of-sample figure is the same kind of estimate.
    assert row["confidence_out_of_sample"] >= alpha - 4 * se_proportion(alpha, kw["verify_trials"])
    # A requirement below what the plan ends with: nothing changes, bit for bit.
    slack = _raw(ending_bank={"pipeline": 1.0}, ending_bank_confidence={"pipeline": 0.01})
    same = optimize(build(slack), 0.8, **kw)
    assert np.array_equal(same.x, base.x) and same.total_stage1 == base.total_stage1
    assert same.ending_bank["by_category"][0]["confidence_in_sample"] >= 0.01
    # The command prints the requirement and puts it in --json.
    path = tmp_path / "s.toml"
    path.write_text(_toml(raw))
    args = ["optimize", str(path), "--trials", "600", "--verify-trials", "600", "--quiet", "--no-spreadsheet"]
    main(args)
    assert "Ending pipeline bank $1.0M at 80%" in capsys.readouterr().out
    main(args + ["--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["ending_bank"]["by_category"][0]["category"] == "pipeline"


def test_table_naming_the_decision_category_is_the_number_form():
    kw = {"trials": 300, "seed": 0, "verify_trials": 0, "spreadsheet": False}
    number = optimize(build(_raw(ending_bank=3e5, ending_bank_confidence=0.6)), 0.8, **kw)
    table = optimize(
        build(_raw(ending_bank={"commit": 3e5}, ending_bank_confidence={"commit": 0.6})), 0.8, **kw
    )
    assert np.array_equal(number.x, table.x)
    assert number.ending_bank["required"] == table.ending_bank["required"] == 3e5


def test_shape_ramp_holds_the_scenarios_own_shape():
    """``shape_ramp``: each quarter's share of a source's creation within [1/r, r] x its share in
    the scenario's own plan. At r = 1 the plan keeps the scenario's shape exactly (the two-by-two
    plans 6M in Q2 and 6M x 91/92 in Q3 for each source, the 92nd day of Q3 being past the
    horizon); without it the optimum leaves Q3 almost empty.
    """
    kw = {"trials": 300, "seed": 0, "verify_trials": 0, "spreadsheet": False}
    free = optimize(build(_raw()), 0.8, **kw)
    assert free.plan["a"]["2026-Q3"] < 0.2 * free.plan["a"]["2026-Q2"]
    share_ref = 1.0 / (1.0 + 91 / 92)  # Q2's share of each source in the scenario's plan
    for r in (1.0, 1.25):
        res = optimize(build(_raw(shape_ramp=r)), 0.8, **kw)
        assert res.success, res.message
        for s in ("a", "b"):
            total = sum(res.plan[s].values())
            if total <= 0:
                continue
            share = res.plan[s]["2026-Q2"] / total
            assert share_ref / r - 1e-6 <= share <= min(1.0, share_ref * r) + 1e-6
            if r == 1.0:
                assert share == pytest.approx(share_ref, rel=1e-6)
    with pytest.raises(ScenarioError, match=r"optimize\.source\.a\.shape_ramp.*at least 1"):
        read_limits(build(_raw(source={"a": {"shape_ramp": 0.5}})))


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ({"ending_bank": {}}, r"optimize\.ending_bank: the table is empty"),
        ({"ending_bank": "lots"}, r"optimize\.ending_bank"),
        ({"ending_bank": {"commit": "lots"}}, r"optimize\.ending_bank\.commit"),
        ({"ending_bank": {"commit": float("nan")}}, r"optimize\.ending_bank\.commit"),
        (
            {"ending_bank": {"pipeline": 1e6}, "ending_bank_confidence": {"pipeline": 2}},
            r"ending_bank_confidence\.pipeline",
        ),
        ({"ending_bank_confidence": {"commit": -0.1}}, r"ending_bank_confidence\.commit"),
        ({"shape_ramp": -1}, r"optimize\.shape_ramp"),
        ({"shape_ramp": 0.5}, r"optimize\.shape_ramp.*at least 1"),
    ],
)
def test_hostile_ending_and_shape_input_names_the_field(table, field):
    with pytest.raises(ScenarioError, match=field):
        read_limits(build(_raw(**table)))


# Values at, just inside and just outside the bounds the format declares for the new fields.
_DOLLARS = [-1.0, -0.0, 0.0, 5e-324, 1.0, 1e15 * (1 - 1e-16), 1e15, 1e15 * (1 + 1e-15), math.inf, math.nan]
_CONFIDENCES = [-1e-16, 0.0, 5e-324, 0.5, 1 - 1e-16, 1.0, 1 + 1e-15, math.nan]
_RAMPS = [-1.0, 0.0, 5e-324, 0.999999, 1.0, 1.5, 999.999, 1000.0, 1000.0001, math.inf, math.nan]


def _number_or_categories(values):
    from hypothesis import strategies as st

    table = st.dictionaries(
        st.sampled_from(["pipeline", "best_case", "commit"]), st.sampled_from(values), min_size=1
    )
    return st.one_of(st.sampled_from(values), table)


def test_fuzzed_ending_banks_and_shape_ramps_are_refused_or_read_finite():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        bank=_number_or_categories(_DOLLARS),
        confidence=_number_or_categories(_CONFIDENCES),
        shape=st.sampled_from(_RAMPS),
        source_shape=st.sampled_from(_RAMPS),
    )
    def check(bank, confidence, shape, source_shape):
        table = {"ending_bank": bank, "ending_bank_confidence": confidence, "shape_ramp": shape}
        table["source"] = {"a": {"shape_ramp": source_shape}}
        try:
            limits, _ = read_limits(build(_raw(**table)))
        except ScenarioError as exc:
            assert all(p.path.startswith("optimize") for p in exc.problems), exc
            return
        # What validation lets through reaches the optimizer finite and in range.
        banks = [
            *limits.ending_by_category.values(),
            *([limits.ending_bank] if limits.ending_bank is not None else []),
        ]
        for value in [*banks, limits.shape_ramp_default, *limits.shape_ramp.values()]:
            assert math.isfinite(value) and value >= 0
        for value in [limits.ending_bank_confidence, *limits.ending_confidence_by_category.values()]:
            assert 0.0 <= value <= 1.0

    check()
