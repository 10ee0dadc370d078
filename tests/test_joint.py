"""Programs chosen jointly with the creation plan (simcore.optimize.joint): the hook is exact, the
search finds what exhaustive enumeration finds, and the joint answer differs from programs on top
of the plan as written where it should."""

from __future__ import annotations

import itertools
import tomllib

import numpy as np
import pytest
from helpers import build, run_cli

from simcore.analysis.programs import quarter_bookings
from simcore.engine.compile import compile_scenario
from simcore.engine.programs import with_programs
from simcore.errors import SimcoreError
from simcore.optimize.joint import Funded, optimize_with_programs
from simcore.optimize.layout import build_layout
from simcore.optimize.plan import optimize
from simcore.optimize.sample import simulate_plan
from simcore.report.program_tables import choice_tables

# Two sources x two quarters; outbound creation is three times inbound's cost per dollar and
# inbound is capped, so a cheap outbound program can replace expensive creation.
SMALL = """
name = "joint_small"
start = 2026-01-01
end = 2026-06-30
period = "quarter"
target = 2_600_000

[dimensions]
source = ["inbound", "outbound"]

[[stage]]
name = "Discovery"
category = "pipeline"

[[stage]]
name = "Decision"
category = "commit"

[defaults]
market_loading = 0.25
amount = { median = 30_000, p90_ratio = 2.0, cap = 300_000 }

[defaults.stages.Discovery]
advance = { low = 0.5, base = 0.6, high = 0.66 }
lost_competition = 0.15
dwell = { mean = 14, cv = 0.5 }

[defaults.decision]
win = { low = 0.32, base = 0.4, high = 0.46 }
lost_competition = 0.3
lost_no_decision = 0.2
push = 0.1
dwell = { mean = 14, cv = 0.5 }
push_delay = { mean = 20, cv = 0.5 }

[defaults.creation]
per = "month"

[by.source.inbound]
creation.dollars = 1_200_000
cost_per_dollar = 0.05

[by.source.outbound]
creation.dollars = 900_000
cost_per_dollar = 0.15

[optimize.source.inbound]
max = 8_400_000

[[program]]
name = "Outbound pod"
feeds = { source = "outbound" }
cost = { fixed = 40_000, per_month = 10_000 }
creation = { dollars = 400_000, per = "month" }

[[program]]
name = "Outbound pod (offshore)"
feeds = { source = "outbound" }
cost = { fixed = 20_000, per_month = 6_000 }
creation = { dollars = 220_000, per = "month", attainment = { low = 0.6, base = 0.85, high = 1.0 } }

[[program]]
name = "Inbound boost"
feeds = { source = "inbound" }
cost = { fixed = 120_000, per_month = 20_000 }
creation = { dollars = 300_000, per = "month" }

[[program]]
name = "Deal desk"
cost = { fixed = 30_000, per_month = 8_000 }
effects = [{ parameter = "win", lift = 0.03 }]

[[program_group]]
name = "one outbound pod"
exclusive = ["Outbound pod", "Outbound pod (offshore)"]
"""

TRIALS = 2000


@pytest.fixture(scope="module")
def small():
    return build(tomllib.loads(SMALL))


def _optimized_total(sc, names, confidence):
    """The creation plan optimized with ``names`` funded (the same call the search makes)."""
    funded = Funded(sc, [p for p in sc.programs if p.name in names]) if names else None
    r = optimize(sc, confidence, objective="cost", trials=TRIALS, seed=0, verify_trials=0,
                 spreadsheet=False, resolve=False, programs=funded)  # fmt: skip
    cost = sum(p.cost(sc.horizon_days) for p in sc.programs if p.name in names)
    return r.total_cost + cost, bool(r.feasible and r.confidence_in_sample >= confidence)


def test_funded_programs_join_the_optimizers_simulation_exactly(small):
    """The hook: a plan simulated with programs funded (linear model at the plan simulated) books,
    trial by trial, what the full model with the plan and the programs books."""
    funded_programs = [p for p in small.programs if p.name in ("Outbound pod", "Deal desk")]
    layout = build_layout(small, "source", False)
    x = layout.unit_dollars(layout.reference) * np.array([0.7, 1.2, 1.1, 0.4])
    layout.programs = Funded(small, funded_programs)
    sim = simulate_plan(layout, x, 400, 3)
    model = compile_scenario(small, "quarter")
    full = with_programs(
        compile_scenario(layout.plan_scenario(layout.cell_dollars(x)), "quarter"), funded_programs, plan=model
    )
    expected = quarter_bookings(full, 400, 3, "random")
    np.testing.assert_allclose(sim.bookings(x), expected, rtol=1e-9, atol=1e-6)
    # Without the programs the same plan books less in some trials and never more.
    layout.programs = None
    bare = simulate_plan(layout, x, 400, 3).bookings(x).sum(axis=1)
    assert np.all(bare <= expected.sum(axis=1) + 1e-6) and np.any(bare < expected.sum(axis=1))


@pytest.mark.slow
def test_the_joint_choice_is_the_best_of_every_set_each_with_its_plan_optimized(small):
    """Exhaustive enumeration: every allowed set, its creation plan optimized on the same trials.
    The joint answer's total cost is within 1% of the best (it is usually the best)."""
    r = optimize_with_programs(small, 0.8, trials=TRIALS, verify_trials=0)
    scored = {tuple(s["programs"]): (s["total_cost"], s["met"]) for s in r.sets_scored}
    names = [p.name for p in small.programs]
    # One set the search scored, scored again here: the same plan, the same bits.
    again = _optimized_total(small, tuple(r.chosen), 0.8)
    assert again[0] == pytest.approx(r.total_cost, rel=1e-12) and again[1]
    totals = {}
    for k in range(len(names) + 1):
        for s in itertools.combinations(names, k):
            if {"Outbound pod", "Outbound pod (offshore)"} <= set(s):
                continue
            totals[s] = scored[s] if s in scored else _optimized_total(small, s, 0.8)
    best = min(t for t, met in totals.values() if met)
    assert r.success and r.total_cost <= 1.01 * best
    assert r.total_cost == pytest.approx(r.program_cost + r.creation_cost)
    assert r.confidence_in_sample >= 0.8
    assert len(totals) == 12 and len(r.sets_scored) < len(totals)


@pytest.mark.slow
def test_a_cheap_program_replaces_expensive_creation(small):
    """The plan as written already books the target at 50%: on top of it no program is worth
    funding. Jointly, the outbound pod ($99k for $2.4M of outbound pipeline, which as creation
    would cost $360k) replaces the plan's outbound creation, at a lower total cost."""
    r = optimize_with_programs(small, 0.5, trials=TRIALS, verify_trials=2000, polish=0)
    assert r.on_top["chosen"] == []
    assert "Outbound pod" in r.chosen
    assert r.total_cost < r.on_top["total_cost"]
    no_program = _optimized_total(small, (), 0.5)[0]
    assert r.total_cost < no_program
    assert sum(r.plan["outbound"].values()) < 0.5 * 900_000 * 6
    assert r.confidence_in_sample >= 0.5
    # Out of sample within 4 standard errors of the request (never far short).
    assert r.confidence_out_of_sample >= 0.5 - 4 * r.confidence_out_of_sample_se
    text = r.text()
    assert "4 programs evaluated" in text and "Creation plan" in text and "on top of the plan" in text
    d = r.to_dict()
    assert d["chosen"] == r.chosen and "plan" in d and len(d["programs"]) == 4
    # The report's programs page: the choice, and the plan beside it.
    tables = choice_tables(r)
    assert [t.sheet for t in tables] == ["Programs chosen", "Plan with programs"]
    assert [row[1] for row in tables[0].rows if row[0] == "yes"] == r.chosen
    assert sum(row[2] for row in tables[1].rows) == pytest.approx(
        sum(sum(q.values()) for q in r.plan.values())
    )


def test_bad_requests_are_refused(small):
    with pytest.raises(SimcoreError, match="not both"):
        optimize_with_programs(small, 0.5, budget=1e6, trials=200)
    no_programs = build(
        {k: v for k, v in tomllib.loads(SMALL).items() if k not in ("program", "program_group")}
    )
    with pytest.raises(SimcoreError, match="no \\[\\[program\\]\\]"):
        optimize_with_programs(no_programs, 0.5, trials=200)
    raw = tomllib.loads(SMALL)
    del raw["target"]
    with pytest.raises(SimcoreError, match="target"):
        optimize_with_programs(build(raw), 0.5, trials=200)


def test_optimize_programs_bad_input_exits_2(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SMALL.replace("per_month = 10_000", "per_month = -10_000"), encoding="utf-8")
    code, _, err = run_cli(capsys, "optimize", path, "--programs", "--trials", "200")
    assert code == 2 and "program[0].cost" in err


@pytest.mark.slow
def test_best_p_hit_for_a_total_budget(small):
    """Within a total budget (creation plus programs) the joint answer spends no more than it, and
    is at least as sure as the creation plan alone optimized for the same budget."""
    budget = 700_000.0
    r = optimize_with_programs(small, budget=budget, trials=300, verify_trials=0, polish=0, iterations=1)
    assert r.objective == "p_hit" and r.total_cost <= budget * (1 + 1e-9)
    alone = optimize(small, objective="p_hit", budget=budget, trials=300, seed=0, verify_trials=0,
                     spreadsheet=False, resolve=False)  # fmt: skip
    assert r.confidence_in_sample >= alone.confidence_in_sample
    assert "best P(hit) for a total budget" in r.text()


def test_optimize_programs_refuses_the_creation_objective(capsys, tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    code, _, err = run_cli(
        capsys, "optimize", path, "--programs", "--objective", "creation", "--trials", "200"
    )
    assert code == 2 and "--objective cost" in err


@pytest.mark.slow
def test_optimize_programs_on_the_command_line(capsys, tmp_path):
    import json

    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    out_file = tmp_path / "choice.json"
    code, out, _ = run_cli(
        capsys, "optimize", path, "--programs", "--confidence", "0.5", "--trials", "300",
        "--verify-trials", "0", "--json", "--out", out_file,
    )  # fmt: skip
    data = json.loads(out)
    assert code == (0 if data["success"] else 1)
    assert data["evaluated"] == 4 and data["selected"] == len(data["chosen"])
    assert data["total_cost"] == pytest.approx(data["program_cost"] + data["creation_cost"])
    assert set(data["plan"]) == {"inbound", "outbound"} and "on_top" in data
    assert json.loads(out_file.read_text(encoding="utf-8")) == data
