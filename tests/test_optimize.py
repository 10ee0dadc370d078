"""The optimizer: known answers, a brute-force check, the out-of-sample confidence, bad input.

Tolerances come from the Monte-Carlo standard error (binomial SE of a proportion) or from a
grid's own resolution, never tuned until a test passes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys

import numpy as np
import pytest
from helpers import build, se_proportion

import simcore
from simcore.cli.app import main
from simcore.optimize.layout import build_layout as _layout
from simcore.optimize.limits import read_limits
from simcore.optimize.plan import optimize
from simcore.optimize.sample import simulate_plan as _simulate_plan

FY2026 = "scenarios/fy2026.toml"


def two_source_raw(bank=True):
    """2 sources x 2 quarters, aligned to weeks (start 2026-04-01, 26 weeks: Q2 has 91 days).

    Each source's deals are independent of the other's (counter-based RNG), and each quarter's
    creation falls in whole weeks, so a trial's bookings are exactly additive over the four
    (source, quarter) units: the brute force below can simulate all units at once per grid value.
    The sources differ in conversion and in how uncertain their win rate is (drawn per trial),
    so the cheapest plan at 80% is a real mix.
    """
    raw = {
        "name": "two-by-two",
        "start": dt.date(2026, 4, 1),
        "horizon_weeks": 26,
        "period": "quarter",
        "target": 2_000_000,
        "currency": "USD",
        "dimensions": {"source": ["a", "b"]},
        "stage": [{"name": "S1", "category": "pipeline"}, {"name": "S2", "category": "commit"}],
        "defaults": {
            "market_loading": 0.0,
            "stages": {"S1": {"advance": 0.5, "dwell": {"dist": "fixed", "mean": 14.0}}},
            "decision": {
                "win": 0.3,
                "push": 0.0,
                "dwell": {"dist": "fixed", "mean": 21.0},
                "push_delay": {"dist": "fixed", "mean": 10.0},
                "win_decay": 1.0,
                "max_pushes": 1,
            },
            "amount": {"median": 100_000.0, "sigma": 0.4},
            "creation": {"per": "quarter", "dollars": [6_000_000.0, 6_000_000.0]},
        },
        "by": {
            "source": {
                "a": {"decision": {"win": {"low": 0.15, "base": 0.30, "high": 0.45}}},
                "b": {
                    "decision": {"win": {"low": 0.24, "base": 0.27, "high": 0.30}},
                    "stages": {"S1": {"advance": 0.45}},
                },
            }
        },
    }
    if bank:
        raw["bank"] = {"aggregate": [{"source": "a", "stage": "S2", "dollars": 600_000, "count": 6}]}
    # These tests check known answers of the unshaped problem: no ramp limit.
    raw["optimize"] = {"ramp": 0}
    return raw


def test_plan_is_the_scenario_when_unchanged():
    """The plan -> overrides mapping reproduces the scenario's own creation exactly (seed=0)."""
    sc = build(two_source_raw())
    layout = _layout(sc, "source", False)
    x = layout.unit_dollars(layout.reference)
    # Q3 has 92 days, 91 of them inside the horizon: the plan counts what is created inside it.
    assert np.allclose(x, [6e6, 6e6 * 91 / 92, 6e6, 6e6 * 91 / 92])
    model_plan = simcore.compile_scenario(layout.plan_scenario(layout.cell_dollars(x)), "quarter")
    model_file = simcore.compile_scenario(sc, "quarter")
    assert np.allclose(model_plan.creation_rate, model_file.creation_rate, rtol=1e-12)
    sim = _simulate_plan(layout, x, 500, 0)
    ds = simcore.simulate(sc, trials=500, seed=0, progress=False)
    assert np.allclose(sim.bookings(x).sum(axis=1), ds.simcore.year_bookings().values)


@pytest.mark.slow
def test_brute_force_two_by_two(monkeypatch):
    """The optimum is within 1% of an exhaustive grid search over the simulated plans (same SAA).

    From the scenario's own plan (6M per unit) the linear model alone ends in a basin 3% above the
    optimum (a-heavy plans look too risky when a's deal noise is scaled with its dollars): the
    optimizer must find the other basin.
    """
    sc = build(two_source_raw())
    trials, seed, alpha, target = 2000, 0, 0.8, 2_000_000
    res = optimize(sc, alpha, trials=trials, seed=seed, verify_trials=0, spreadsheet=False, iterations=6)
    assert res.feasible and res.success
    layout = _layout(sc, "source", False)

    need = math.ceil(alpha * trials - 1e-9)

    def grid_search(grids, keep=1):
        """The ``keep`` cheapest grid plans hitting the target in >= need trials (grids[u]: unit u's values)."""
        g = unit_bookings(grids)
        n = grids.shape[1]
        found = []
        for i in range(n):
            for j in range(n):
                for k in range(n):
                    partial = bank + g[i, :, 0] + g[j, :, 1] + g[k, :, 2]
                    ok = ((partial[None, :] + g[:, :, 3]) >= target).sum(axis=1) >= need
                    if ok.any():
                        m = int(np.argmax(ok))  # the 4th unit's bookings grow with its value
                        plan = np.array([grids[0, i], grids[1, j], grids[2, k], grids[3, m]])
                        found.append((float(plan.sum()), plan))
        found.sort(key=lambda f: f[0])
        return found[:keep]

    def unit_bookings(grids):
        # Per-trial bookings of each unit at each grid value: one simulation per grid index (unit
        # u at grids[u, i]); the units' bookings are separable (see two_source_raw).
        out = np.zeros((grids.shape[1], trials, 4))
        for i in range(grids.shape[1]):
            sim = _simulate_plan(layout, grids[:, i], trials, seed)
            out[i] = sim.unit_bookings.sum(axis=2)
        return out

    bank = _simulate_plan(layout, np.zeros(4) + 1.0, trials, seed).bank.sum(axis=1)
    # A 1M grid over [0, 24M] (every unit alone can meet the target inside it), then, from each of
    # the five cheapest coarse plans, +/- 4 steps at a quarter of the step, three times (final
    # resolution $15.6k, under 0.1% of the plan).
    best = (math.inf, None)
    for cost, plan in grid_search(np.tile(np.arange(25) * 1e6, (4, 1)), keep=5):
        step = 1e6
        for _ in range(3):
            step /= 4
            grids = np.clip(plan[:, None] + np.arange(-4, 5)[None, :] * step, 0.0, None)
            ((new_cost, new_plan),) = grid_search(grids)
            assert new_cost <= cost  # the previous best is on the finer grid
            cost, plan = new_cost, new_plan
        best = min(best, (cost, plan), key=lambda b: b[0])
    cost1, plan1 = best
    # The optimizer's plan, simulated exactly at the same seed, meets the confidence.
    sim = _simulate_plan(layout, res.x.ravel(), trials, seed)  # res.x is sources x quarters = unit order
    conf = float((sim.bookings(res.x.ravel()).sum(axis=1) >= target).mean())
    assert conf >= alpha
    assert res.total_stage1 <= 1.01 * cost1, (res.total_stage1, cost1, plan1, res.plan)
    assert res.bound <= cost1 * (1 + 1e-6)
    local = _from_the_default_start_only(
        monkeypatch, sc, alpha, trials=trials, seed=seed, verify_trials=0, spreadsheet=False, iterations=6
    )
    assert local.total_stage1 > 1.01 * cost1


def _from_the_default_start_only(monkeypatch, *args, **kwargs):
    """The optimizer without re-simulating the first linearisation's other local optima."""
    monkeypatch.setattr(sys.modules["simcore.optimize.screen"], "_SCREEN_PLANS", 1)
    return optimize(*args, **kwargs)


def long_cycle_raw():
    """One year, fixed dwells of 90 + 60 days: creation after day 215 can never close in the year."""
    raw = two_source_raw(bank=False)
    raw.update({"start": dt.date(2026, 1, 1), "horizon_weeks": 52, "target": 3_000_000})
    raw.pop("horizon_weeks")
    raw["end"] = dt.date(2026, 12, 31)
    raw["defaults"]["stages"]["S1"]["dwell"]["mean"] = 90.0
    raw["defaults"]["decision"]["dwell"]["mean"] = 60.0
    raw["defaults"]["creation"]["dollars"] = [5e6] * 4
    return raw


def test_lead_time_front_loads():
    """Known answer: Q4 creation (days 273+) needs 150 days to close, so it earns nothing: the plan
    puts nothing there, and more in the first half than in Q3 (which only partly closes)."""
    sc = build(long_cycle_raw())
    res = optimize(sc, 0.8, trials=1000, seed=0, verify_trials=0, spreadsheet=False)
    assert res.feasible
    q = res.quarters
    for s in res.sources:
        assert res.plan[s][q[3]] == pytest.approx(0.0, abs=1e-6 * res.total_stage1)
    first_half = sum(res.plan[s][q[0]] + res.plan[s][q[1]] for s in res.sources)
    third = sum(res.plan[s][q[2]] for s in res.sources)
    assert first_half > third
    # And the marginal value of Q4 creation is exactly zero: none of it can close.
    assert all(res.marginal_bookings[s][q[3]] == 0.0 for s in res.sources)


def test_infeasible_request_says_why(tmp_path, capsys):
    raw = two_source_raw()
    raw["optimize"] |= {"source": {"a": {"max": 8_000_000}, "b": {"max_per_quarter": 3_000_000}}}
    sc = build(raw)
    res = optimize(sc, 0.9, trials=1000, seed=0, verify_trials=0, spreadsheet=False)
    assert not res.feasible and not res.success
    assert "best reachable" in res.message
    assert "a max over the horizon" in res.message and "b max per quarter" in res.message
    assert 0.0 < res.confidence_in_sample < 0.9
    # The best plan uses what the limits allow where it can still close.
    assert sum(res.plan["a"].values()) == pytest.approx(8e6, rel=1e-6)
    # The CLI: exit code 1, the message on stdout with the best plan.
    path = tmp_path / "s.toml"
    path.write_text(_toml(raw))
    code = main(
        ["optimize", str(path), "--trials", "500", "--verify-trials", "0", "--quiet", "--no-spreadsheet"]
    )
    assert code == 1
    assert "NOT FEASIBLE" in capsys.readouterr().out


def test_plan_short_out_of_sample_is_not_a_success(tmp_path, capsys):
    """200 in-sample trials are too few for a 90% plan: it meets 90% in its own simulation (always:
    in-sample confidence is never below the request), but 2,000 new trials find it more than 2 SE
    short, even after one re-solve with twice the trials. That is reported as not met (exit 1), with
    about how many trials are needed, never as 'optimal plan found'."""
    raw = two_source_raw()
    path = tmp_path / "s.toml"
    path.write_text(_toml(raw))
    argv = ["optimize", str(path), "--confidence", "0.9", "--trials", "100", "--verify-trials", "4000",
            "--no-spreadsheet", "--quiet"]  # fmt: skip
    code = main(argv + ["--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["feasible"] and data["confidence_in_sample"] >= 0.9
    se = math.sqrt(0.9 * 0.1 / 4000)
    if data["confidence_out_of_sample"] < 0.9 - 2 * se:
        assert code == 1 and not data["success"]
        assert (
            "more than 2 standard errors short" in data["message"] and data["trials_needed"] > data["trials"]
        )
    else:  # the re-solve with twice the trials closed the gap: then it is a success
        assert code == 0 and data["success"] and data["trials"] == 200


def test_budget_without_objective_p_hit_is_refused(capsys):
    assert main(["optimize", FY2026, "--trials", "200", "--budget", "1000000"]) == 2
    assert "a budget applies to objective p_hit" in capsys.readouterr().err


def test_cli_json_and_bad_input(tmp_path, capsys):
    raw = two_source_raw()
    path = tmp_path / "s.toml"
    path.write_text(_toml(raw))
    code = main(
        [
            "optimize",
            str(path),
            "--confidence",
            "0.8",
            "--trials",
            "600",
            "--verify-trials",
            "600",
            "--seed",
            "0",
            "--json",
            "--quiet",
            "--out",
            str(tmp_path / "plan.json"),
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    for key in (
        "confidence_target",
        "confidence_in_sample",
        "confidence_out_of_sample",
        "plan",
        "total_stage1",
        "spreadsheet_total_stage1",
        "feasible",
    ):
        assert key in data
    assert set(data["plan"]) == {"a", "b"} and set(data["plan"]["a"]) == {"2026-Q2", "2026-Q3"}
    assert data["total_stage1"] == pytest.approx(sum(sum(v.values()) for v in data["plan"].values()))
    assert json.loads((tmp_path / "plan.json").read_text()) == data
    # The saving broken down by step adds up, and its last step is the like-with-like one.
    sheet = data["spreadsheet"]
    b = sheet["breakdown"]
    assert b["as_written"] == pytest.approx(sheet["total_stage1"])
    assert b["optimized"] == pytest.approx(data["total_stage1"])
    steps = b["push"] + b["confidence_and_ending_bank"] + b["timing_and_mix"]
    assert steps == pytest.approx(b["as_written"] - b["optimized"])
    assert b["timing_and_mix"] == pytest.approx(sheet["scaled"]["total_stage1"] - data["total_stage1"])
    for s in ("a", "b"):
        for q in ("2026-Q2", "2026-Q3"):
            by_product = sum(v[q] for v in data["stage4_by_product"][s].values())
            assert by_product == pytest.approx(data["stage4_targets"][s][q])
            assert data["plan_by_product"][s][s][q] == pytest.approx(data["plan"][s][q])
    assert len(data["plan_weekly"]["a"]) == 26
    assert sum(data["plan_weekly"]["a"]) == pytest.approx(sum(data["plan"]["a"].values()))
    # Bad input: exit code 2 and one clear line, never a traceback.
    with pytest.raises(SystemExit) as exit_:  # argparse's own usage error
        main(["optimize", str(path), "--confidence", "1.5", "--quiet"])
    assert exit_.value.code == 2
    assert main(["optimize", str(path), "--objective", "p_hit", "--quiet", "--trials", "200"]) == 2
    err = capsys.readouterr().err
    assert "budget" in err and "Traceback" not in err
    raw["optimize"] |= {"source": {"c": {"max": 1.0}}}
    bad = tmp_path / "bad.toml"
    bad.write_text(_toml(raw))
    assert main(["optimize", str(bad), "--quiet", "--trials", "200"]) == 2
    assert "optimize.source.c" in capsys.readouterr().err


def test_required_bank_is_exact():
    """Scaling the stage-4 bank to the reported requirement makes the scenario's own plan hit the
    target at the confidence in the same trials; 2% less does not (the bank books exactly
    linearly in its amounts)."""
    raw = two_source_raw()
    raw["defaults"]["creation"]["dollars"] = [3e6, 3e6]
    sc = build(raw)
    res = optimize(sc, 0.8, trials=1000, seed=0, verify_trials=0, spreadsheet=False, iterations=1)
    need = res.required_bank["for_scenario_plan"]
    assert need > res.required_bank["current_stage4_bank"]

    def p_hit(bank_dollars):
        sc2 = sc.with_overrides({"bank.aggregate.0.dollars": bank_dollars})
        ds = simcore.simulate(sc2, trials=1000, seed=0, progress=False)
        return ds.simcore.p_hit(2_000_000)

    assert p_hit(need * 1.000001) >= 0.8
    assert p_hit(need * 0.98) < 0.8


def test_p_hit_within_the_cost_of_the_optimum():
    """Duality check: with the budget the cost-optimal 75% plan needs, the best confidence is 75%
    (up to the solvers' granularity of a few trials)."""
    sc = build(two_source_raw())
    kw = {"trials": 1000, "seed": 0, "verify_trials": 0, "spreadsheet": False, "iterations": 1}
    cheapest = optimize(sc, 0.75, objective="cost", **kw)
    best = optimize(sc, 0.75, objective="p_hit", budget=cheapest.total_cost * (1 + 1e-6), **kw)
    assert best.total_cost <= cheapest.total_cost * (1 + 1e-6)
    assert best.confidence_in_sample >= 0.75 - 2 * se_proportion(0.75, 1000)


@pytest.mark.slow  # optimizes fy2026 and checks it on fresh trials
def test_out_of_sample_confidence_fy2026():
    """Quality bar: at 10,000 in-sample trials the plan meets 90% in-sample, is within 1.5 points of
    it in 20,000 new trials, and needs less stage-1 pipeline than the spreadsheet's plan scaled to
    the same confidence and ending bank. On fy2026 with its inbound delivered in full
    (attainment 1: bit for bit the plan this bar was set on); with the file's attainment the
    90% plan is a different question (docs/optimizer.md)."""
    sc = simcore.load_scenario(FY2026, overrides={"by.source.inbound.creation.attainment": 1})
    res = optimize(sc, 0.9, trials=10_000, seed=0, verify_trials=20_000)
    assert res.feasible
    assert res.confidence_in_sample >= 0.9
    assert abs(res.confidence_out_of_sample - 0.9) <= 0.015
    # A plan sized on 10,000 trials is optimistic in sample by a few tenths of a point (the
    # sample-average approximation's bias): whether the 20,000-trial check lands within its 2
    # standard errors (0.4 points) is luck of the draws, and when it does not the result says
    # so, with the trials the check would need.
    if not res.success:
        assert "standard errors short" in res.message and "trials are needed" in res.message
    limits, _ = read_limits(sc)
    assert sum(res.plan["inbound"].values()) <= limits.max["inbound"] * (1 + 1e-9)
    # Like with like: the spreadsheet's plan scaled to the same confidence and ending bank.
    scaled = res.spreadsheet["scaled"]
    assert scaled["met"] and scaled["confidence"] >= 0.9
    assert res.total_stage1 < scaled["total_stage1"]


def _toml(raw) -> str:
    """A minimal TOML writer for the test documents (dates, numbers, strings, lists, tables)."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (dt.date, int, float)):
            return str(v) if not isinstance(v, float) else repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"
        raise TypeError(v)

    return "\n".join(f"{json.dumps(k)} = {value(v)}" for k, v in raw.items()) + "\n"


def test_mix_rule_binds_and_holds():
    """At least 70% of stage-4 creation from source b (the weaker converter) binds, and holds in the
    closed form: a deal reaches stage 4 after a fixed 14 days with probability 0.5 (a) or 0.45 (b),
    inside the horizon when created before day 168. Tolerance 0.01: about 4 standard errors of the yields the optimizer
    estimates from its 2,000-trial yield simulation (per-trial stage-4 dollars have a CV of ~0.15)."""
    raw = two_source_raw()
    raw["optimize"] |= {"mix": [{"sources": ["b"], "min_share": 0.7}]}
    sc = build(raw)
    res = optimize(sc, 0.8, trials=1000, seed=0, verify_trials=0, spreadsheet=False)
    assert res.feasible
    assert any(b["kind"] == "mix" for b in res.binding)
    # Q3 (days 91-181, creation uniform) reaches stage 4 inside the horizon only before day 168.
    reach = {"2026-Q2": 1.0, "2026-Q3": 77 / 91}
    s4_a = sum(0.5 * reach[q] * v for q, v in res.plan["a"].items())
    s4_b = sum(0.45 * reach[q] * v for q, v in res.plan["b"].items())
    share_b = s4_b / (s4_a + s4_b)
    assert share_b >= 0.7 - 0.01


def test_quarter_target_with_its_own_confidence():
    raw = two_source_raw()
    raw["optimize"] |= {"period_target": [{"period": "2026-Q2", "target": 900_000, "confidence": 0.7}]}
    sc = build(raw)
    free = optimize(build(two_source_raw()), 0.8, trials=1000, seed=0, verify_trials=0, spreadsheet=False)
    res = optimize(sc, 0.8, trials=1000, seed=0, verify_trials=1000, spreadsheet=False)
    assert res.feasible
    (row,) = res.period_targets
    slack = max(0.002, 0.25 / math.sqrt(1000))
    assert row["confidence_in_sample"] >= 0.7 - slack - 2 * se_proportion(0.7, 1000)
    assert row["confidence_out_of_sample"] is not None
    # A Q2 target can only be met by Q2 creation: the plan puts more there than without it.
    q2 = sum(res.plan[s]["2026-Q2"] for s in res.sources)
    assert q2 >= sum(free.plan[s]["2026-Q2"] for s in free.sources)


def test_cost_objective_moves_to_the_cheaper_source():
    raw = two_source_raw()
    raw["by"]["source"]["b"]["cost_per_dollar"] = 0.2
    raw["by"]["source"]["a"]["cost_per_dollar"] = 1.0
    sc = build(raw)
    kw = {"trials": 1000, "seed": 0, "verify_trials": 0, "spreadsheet": False}
    by_creation = optimize(sc, 0.8, objective="creation", **kw)
    by_cost = optimize(sc, 0.8, objective="cost", **kw)
    assert sum(by_cost.plan["b"].values()) > sum(by_creation.plan["b"].values())
    assert by_cost.total_cost <= by_creation.total_cost
    assert by_cost.fun == pytest.approx(by_cost.total_cost)


def test_free_mix_moves_to_the_better_product():
    """With the product mix free, creation moves to the product that wins more (same deal size,
    same cost), and the plan is cheaper; with the scenario's mix it stays at the given shares."""
    raw = two_source_raw(bank=False)
    raw["dimensions"]["product"] = ["p", "q"]
    raw["by"]["product"] = {
        "p": {"creation": {"share": 0.5}},
        "q": {"creation": {"share": 0.5}, "decision": {"win": 0.45}},
    }
    sc = build(raw)
    kw = {"trials": 1000, "seed": 0, "verify_trials": 0, "spreadsheet": False}
    fixed = optimize(sc, 0.8, **kw)
    free = optimize(sc, 0.8, free_mix=True, **kw)
    assert free.feasible and fixed.feasible
    for s in ("a", "b"):
        p, q = (sum(fixed.plan_by_product[s][k].values()) for k in ("p", "q"))
        assert p == pytest.approx(q, rel=1e-9)
    q_share = sum(sum(free.plan_by_product[s]["q"].values()) for s in ("a", "b")) / free.total_stage1
    # q dominates p in expectation in every trial (win 0.45 vs at most 0.45); at 1,000 trials the
    # sample average still lets deal-level noise buy a little p, so the check is directional
    # against the scenario's 50%: most of the plan moves to q.
    assert q_share > 0.75
    assert free.total_stage1 < fixed.total_stage1


def test_source_minimum_and_weekly_capacity():
    """Capacity in opportunities per week caps a quarter's dollars at capacity x weeks x mean deal
    size (lognormal median $100k, sigma 0.4: mean 100k x exp(0.08)). A minimum above what the target needs binds with
    a shadow price of exactly 1 (each dollar of minimum is a dollar of plan) and nothing else is
    bought."""
    kw = {"trials": 1000, "seed": 0, "verify_trials": 0, "spreadsheet": False}
    raw = two_source_raw()
    raw["optimize"] |= {"source": {"a": {"capacity_per_week": 2}}}
    res = optimize(build(raw), 0.8, **kw)
    assert res.feasible
    cap = 2 * 13 * 100_000 * math.exp(0.5 * 0.4**2)
    assert res.plan["a"]["2026-Q2"] <= cap * (1 + 1e-9)
    assert res.plan["a"]["2026-Q3"] <= cap * (1 + 1e-9)

    raw = two_source_raw()
    raw["optimize"] |= {"source": {"b": {"min": 20_000_000}}}
    res = optimize(build(raw), 0.8, **kw)
    assert sum(res.plan["b"].values()) == pytest.approx(20_000_000, rel=1e-9)
    assert sum(res.plan["a"].values()) == pytest.approx(0.0, abs=1e-3)
    (row,) = [b for b in res.binding if b["constraint"] == "b min over the horizon"]
    assert row["shadow_price"] == pytest.approx(1.0, rel=1e-6)


def test_same_seed_same_plan_other_seed_other_sample():
    sc = build(two_source_raw())
    kw = {"trials": 500, "verify_trials": 0, "spreadsheet": False, "iterations": 2}
    one, two = optimize(sc, 0.8, seed=0, **kw), optimize(sc, 0.8, seed=0, **kw)
    assert np.array_equal(one.x, two.x) and one.confidence_in_sample == two.confidence_in_sample
    other = optimize(sc, 0.8, seed=7, **kw)
    assert not np.array_equal(one.x, other.x)


def three_source_raw():
    """One quarter (13 weeks from 2026-04-01), three sources that differ in cost, cap, conversion,
    cycle time and uncertainty: a cheap but uncertain source (a), a dear but steady one (b), and a
    mid-priced one with a long cycle (c) whose late deals do not close inside the quarter."""
    raw = two_source_raw(bank=False)
    raw.update({"horizon_weeks": 13, "target": 1_500_000})
    raw["dimensions"] = {"source": ["a", "b", "c"]}
    raw["defaults"]["creation"]["dollars"] = [6_000_000.0]
    raw["by"]["source"] = {
        "a": {"cost_per_dollar": 0.3, "decision": {"win": {"low": 0.10, "base": 0.30, "high": 0.50}}},
        "b": {
            "cost_per_dollar": 1.0,
            "decision": {"win": {"low": 0.30, "base": 0.33, "high": 0.36}},
            "stages": {"S1": {"advance": 0.55}},
        },
        "c": {
            "cost_per_dollar": 0.6,
            "decision": {
                "win": {"low": 0.25, "base": 0.35, "high": 0.45},
                "dwell": {"dist": "fixed", "mean": 35.0},
            },
            "stages": {"S1": {"advance": 0.5, "dwell": {"dist": "fixed", "mean": 21.0}}},
        },
    }
    raw["optimize"] = {"ramp": 0, "source": {"a": {"max": 6_000_000}, "c": {"max": 8_000_000}}}
    return raw


def _grid_optimum(layout, trials, seed, target, alpha, cost, caps, steps=3):
    """Cheapest plan on a zooming grid, each grid value simulated exactly (same trials): for the
    first two units every pair, for the third the smallest value that meets the confidence (a
    trial's bookings never fall when a unit creates more: a larger plan keeps a smaller one's deals)."""
    n_units = len(cost)
    need = math.ceil(alpha * trials - 1e-9)

    def per_unit(grids):
        out = np.zeros((grids.shape[1], trials, n_units))
        for i in range(grids.shape[1]):
            out[i] = _simulate_plan(layout, grids[:, i], trials, seed).unit_bookings.sum(axis=2)
        return out

    def search(grids):
        g = per_unit(grids)
        best = (math.inf, None)
        for i in range(grids.shape[1]):
            for j in range(grids.shape[1]):
                partial = g[i, :, 0] + g[j, :, 1]
                ok = ((partial[None, :] + g[:, :, 2]) >= target).sum(axis=1) >= need
                if ok.any():
                    m = int(np.argmax(ok))
                    plan = np.array([grids[0, i], grids[1, j], grids[2, m]])
                    if cost @ plan < best[0]:
                        best = (float(cost @ plan), plan)
        return best

    top = np.array([caps.get(u, 16e6) for u in range(n_units)])
    # $1, not $0, at the bottom of the grid: a plan with no creation and no bank is refused.
    best = search(np.maximum(np.linspace(0.0, 1.0, 17)[None, :] * top[:, None], 1.0))
    step = top / 16
    for _ in range(steps):
        step = step / 4
        grids = np.clip(best[1][:, None] + np.arange(-4, 5)[None, :] * step[:, None], 1.0, top[:, None])
        new = search(grids)
        assert new[0] <= best[0] + 1e-6  # the previous best is on the finer grid
        best = new
    return best


@pytest.mark.slow
def test_three_sources_cost_optimum_against_exhaustive_search(monkeypatch):
    """Within 1% of an exhaustive (zooming grid) search over the same trials, at 85% on cost; the
    plan meets 85% in its own simulation, and the lower bound is below the grid's optimum. From
    the scenario's own plan alone the search ends more than 1% above it: a problem where the
    default start leads elsewhere."""
    sc = build(three_source_raw())
    trials, seed, alpha, target = 2000, 0, 0.85, 1_500_000
    res = optimize(sc, alpha, objective="cost", trials=trials, seed=seed, verify_trials=0, spreadsheet=False)
    assert res.feasible and res.success
    layout = _layout(sc, "source", False)
    cost = np.array([0.3, 1.0, 0.6])
    best_cost, best_plan = _grid_optimum(layout, trials, seed, target, alpha, cost, {0: 6e6, 2: 8e6})
    sim = _simulate_plan(layout, res.x.ravel(), trials, seed)
    assert (sim.bookings(res.x.ravel()).sum(axis=1) >= target).mean() >= alpha
    assert res.total_cost <= best_cost * 1.01, (res.total_cost, best_cost, best_plan, res.plan)
    assert res.bound <= best_cost * (1 + 1e-6)
    local = _from_the_default_start_only(
        monkeypatch, sc, alpha, objective="cost", trials=trials, seed=seed, verify_trials=0, spreadsheet=False
    )
    assert local.total_cost > best_cost * 1.01
