"""Programs: the format and its checks, what a program adds (closed forms), and the choice of them."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from helpers import assert_close_se, build, run_cli, two_stage_raw

from simcore import ScenarioError
from simcore.analysis.programs import evaluate_programs, quarter_bookings
from simcore.engine.compile import compile_scenario
from simcore.engine.kernel import FIXED, PERT, flow_layout
from simcore.engine.programs import program_creation, with_programs
from simcore.engine.simulate import run_kernel
from simcore.optimize.programs import _constraints, choose_programs, solve_choice
from simcore.scenario.programs import MONTH_DAYS
from simcore.scenario.values import Pert


def with_programs_raw(*programs, groups=()):
    raw = two_stage_raw()
    raw["program"] = [copy.deepcopy(p) for p in programs]
    if groups:
        raw["program_group"] = [copy.deepcopy(g) for g in groups]
    return raw


OUTBOUND = {
    "name": "Outbound pod",
    "feeds": {"source": "outbound"},
    "creation": {"count": 150, "per": "year"},
}


def problems(raw):
    with pytest.raises(ScenarioError) as exc:
        build(raw)
    return str(exc.value)


# ---- the format ------------------------------------------------------------------------------


def test_a_program_resolves():
    sc = build(with_programs_raw(OUTBOUND | {"cost": {"fixed": 1000, "per_month": 100}, "ramp_months": 3}))
    (p,) = sc.programs
    assert p.cells == (1,)
    assert p.creation_kind == "count"
    assert p.creation_per_day == pytest.approx(150 / 365.25)
    assert p.ramp_days == pytest.approx(3 * MONTH_DAYS)
    assert p.cost(sc.horizon_days) == pytest.approx(1000 + 100 * 365 / MONTH_DAYS)


@pytest.mark.parametrize(
    ("program", "groups", "expected"),
    [
        (
            OUTBOUND | {"feeds": {"source": "webinar"}},
            (),
            "program[0].feeds.source: unknown source 'webinar'",
        ),
        (OUTBOUND | {"feeds": {"region": "emea"}}, (), "unknown dimension 'region'"),
        (OUTBOUND | {"ramp_months": 13}, (), "longer than the horizon"),
        (OUTBOUND | {"cost": {"fixed": -5}}, (), "program[0].cost.fixed: value -5 is out of range"),
        (
            OUTBOUND | {"cost": {"per_month": -1.0}},
            (),
            "program[0].cost.per_month: value -1.0 is out of range",
        ),
        (OUTBOUND | {"start": __import__("datetime").date(2027, 3, 1)}, (), "after the plan's last day"),
        (OUTBOUND | {"requires": ["Nope"]}, (), "unknown program 'Nope'"),
        ({"name": "Idle", "feeds": {"source": "inbound"}}, (), "adds no creation and lifts no rate"),
        (
            OUTBOUND | {"effects": [{"parameter": "win", "lift": 0.9}]},
            (),
            "lifts the win rate to 1.15, above 1",
        ),
        (
            OUTBOUND | {"effects": [{"parameter": "advance", "lift": 0.1}]},
            (),
            "an advance lift names its stage",
        ),
        (
            OUTBOUND | {"effects": [{"parameter": "advance", "stage": "Qualify", "lift": 0.1}]},
            (),
            "set by conversion.to_decision",
        ),
        (OUTBOUND, ({"name": "g", "exclusive": ["Outbound pod", "Ghost"]},), "unknown program 'Ghost'"),
        (OUTBOUND, ({"name": "g", "exclusive": ["Outbound pod"]},), "must have at least 2 entries"),
    ],
)
def test_bad_programs_are_refused_with_a_clear_line(program, groups, expected):
    assert expected in problems(with_programs_raw(program, groups=groups))


def test_a_requires_cycle_is_refused():
    a = OUTBOUND | {"name": "A", "requires": ["B"]}
    b = OUTBOUND | {"name": "B", "requires": ["C"]}
    c = OUTBOUND | {"name": "C", "requires": ["A"]}
    assert "require each other in a cycle: A -> B -> C -> A" in problems(with_programs_raw(a, b, c))


def test_duplicate_names_and_a_group_against_requires():
    assert "declared twice" in problems(with_programs_raw(OUTBOUND, OUTBOUND))
    a, b = OUTBOUND | {"name": "A", "requires": ["B"]}, OUTBOUND | {"name": "B"}
    text = problems(with_programs_raw(a, b, groups=[{"name": "g", "exclusive": ["A", "B"]}]))
    assert "exclude each other" in text


def test_an_uncertain_lift_on_a_beta_rate_is_refused():
    raw = with_programs_raw(
        OUTBOUND | {"effects": [{"parameter": "win", "lift": {"low": 0, "base": 0.02, "high": 0.04}}]}
    )
    raw["defaults"]["decision"]["win"] = {"mean": 0.25, "strength": 50}
    assert "an uncertain lift needs the rate as {low, base, high}" in problems(raw)


def test_the_cli_exits_2_on_a_bad_program(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(
        'name = "x"\nstart = 2026-01-01\ntarget = 1000000\n[dimensions]\nsource = ["inbound"]\n'
        '[[stage]]\nname = "Decide"\ncategory = "commit"\n[defaults]\ncreation.count = 100\n'
        'amount.median = 10000\n[[program]]\nname = "P"\nfeeds = {source = "outbond"}\n'
        "creation.count = 10\ncost.fixed = -1\n",
        encoding="utf-8",
    )
    code, out, err = run_cli(capsys, "programs", path, "--trials", "50")
    assert code == 2
    assert "program[0].cost.fixed" in err
    code, _, err = run_cli(capsys, "optimize", path, "--programs", "--trials", "50")
    assert code == 2 and "program[0]" in err


def test_a_scenario_without_programs_has_none():
    sc = build(two_stage_raw())
    assert sc.programs == () and sc.program_groups == ()
    model = compile_scenario(sc)
    assert with_programs(model, []) is model


# ---- what a program adds: closed forms ------------------------------------------------------


def test_ramp_reduces_the_in_year_creation_by_the_ramps_integral():
    """A linear ramp of m months from day 0 loses half of m months of full-effect creation."""
    for months in (0, 3, 6):
        sc = build(with_programs_raw(OUTBOUND | {"ramp_months": months}))
        model = compile_scenario(sc)
        added = program_creation(model, sc.programs[0]).sum()
        full = 150 / 365.25
        ramp = months * MONTH_DAYS
        assert added == pytest.approx(full * (sc.horizon_days - ramp / 2), rel=1e-3)


def test_a_late_start_adds_only_what_is_left_of_the_year():
    start = __import__("datetime").date(2026, 7, 1)
    sc = build(with_programs_raw(OUTBOUND | {"start": start}))
    model = compile_scenario(sc)
    added = program_creation(model, sc.programs[0]).sum()
    assert added == pytest.approx(150 / 365.25 * (sc.horizon_days - (start - sc.start).days), rel=1e-3)


def test_program_creation_is_simulated_at_its_expected_count():
    sc = build(with_programs_raw(OUTBOUND | {"ramp_months": 4}))
    base = compile_scenario(sc, "quarter")
    funded = with_programs(base, sc.programs)
    created0 = flow_layout(base.n_stages)[1]
    trials = 2000
    a = run_kernel(base, trials, 5, progress=False).flow_cnt[:, :, 1, created0].sum(axis=1)
    b = run_kernel(funded, trials, 5, progress=False).flow_cnt[:, :, 1, created0].sum(axis=1)
    d = b - a
    expected = program_creation(base, sc.programs[0]).sum()
    assert (d >= 0).all()  # common random numbers: the plan's own deals are all still there
    assert_close_se(d.mean(), expected, d.std(ddof=1) / np.sqrt(trials), what="deals added")


def test_a_program_equal_to_a_cells_plan_books_what_that_cell_books():
    """Creation equal to outbound's plan adds, in expectation, outbound's own bookings."""
    sc = build(with_programs_raw(OUTBOUND))
    base = compile_scenario(sc, "quarter").without_bank()
    trials = 4000
    base_out = run_kernel(base, trials, 3, progress=False, boundaries=False).flow_amt[..., 0]
    cell_bookings = base_out[:, :, 1].sum(axis=1)
    added = quarter_bookings(with_programs(base, sc.programs), trials, 3).sum(axis=1) - base_out.sum(
        axis=(1, 2)
    )
    diff = added - cell_bookings * (365 / 365.25)  # the program's year is 365.25 days
    assert_close_se(diff.mean(), 0.0, diff.std(ddof=1) / np.sqrt(trials), what="bookings added")


def test_cells_a_program_does_not_feed_keep_their_bits():
    sc = build(with_programs_raw(OUTBOUND))
    base = compile_scenario(sc, "quarter")
    a = run_kernel(base, 300, 9, progress=False).flow_amt
    b = run_kernel(with_programs(base, sc.programs), 300, 9, progress=False).flow_amt
    assert np.array_equal(a[:, :, 0], b[:, :, 0])  # inbound: bit for bit
    assert not np.array_equal(a[:, :, 1], b[:, :, 1])


def test_a_win_lift_scales_bookings_as_the_win_rate():
    """No push: bookings are proportional to the win rate, so a lift of 0.05 on 0.25 adds 20%."""
    raw = with_programs_raw({"name": "Enable", "feeds": {}, "effects": [{"parameter": "win", "lift": 0.05}]})
    raw["defaults"]["decision"]["push"] = 0.0
    sc = build(raw)
    base = compile_scenario(sc, "quarter").without_bank()
    trials = 3000
    a = quarter_bookings(base, trials, 4).sum(axis=1)
    b = quarter_bookings(with_programs(base, sc.programs), trials, 4).sum(axis=1)
    diff = b - a * 0.30 / 0.25
    assert_close_se(diff.mean(), 0.0, diff.std(ddof=1) / np.sqrt(trials), what="lifted bookings")


def test_an_uncertain_lift_is_comonotone_with_the_rate():
    raw = with_programs_raw(
        {
            "name": "Enable",
            "effects": [{"parameter": "win", "lift": {"low": 0.0, "base": 0.02, "high": 0.05}}],
        }
    )
    raw["defaults"]["decision"]["win"] = {"low": 0.2, "base": 0.25, "high": 0.3}
    sc = build(raw)
    model = compile_scenario(sc)
    funded = with_programs(model, sc.programs)
    q = model.param_names.index("win")
    assert (funded.param_kind[:, q] == PERT).all()
    assert funded.param_low[:, q] == pytest.approx(0.2)
    assert funded.param_base[:, q] == pytest.approx(0.27)
    assert funded.param_high[:, q] == pytest.approx(0.35)
    # On a fixed rate, the lift's PERT becomes the rate's.
    raw["defaults"]["decision"]["win"] = 0.25
    model = compile_scenario(build(raw))
    assert (model.param_kind[:, q] == FIXED).all()
    funded = with_programs(model, build(raw).programs)
    assert funded.param_low[0, q] == pytest.approx(0.25) and funded.param_high[0, q] == pytest.approx(0.30)


def test_a_late_lift_is_scaled_by_its_mean_effect_over_the_horizon():
    start = __import__("datetime").date(2026, 7, 2)
    sc = build(
        with_programs_raw({"name": "Enable", "start": start, "effects": [{"parameter": "win", "lift": 0.1}]})
    )
    model = compile_scenario(sc)
    q = model.param_names.index("win")
    funded = with_programs(model, sc.programs)
    share = (sc.horizon_days - (start - sc.start).days) / sc.horizon_days
    assert funded.param_base[0, q] - model.param_base[0, q] == pytest.approx(0.1 * share, rel=1e-2)


# ---- evaluation and choice ------------------------------------------------------------------


def test_evaluation_is_reproducible_and_paired():
    sc = build(with_programs_raw(OUTBOUND | {"cost": {"fixed": 100_000}}))
    a = evaluate_programs(sc, trials=400, seed=2)
    b = evaluate_programs(sc, trials=400, seed=2)
    assert a.to_dict() == b.to_dict()
    (r,) = a.programs
    assert r["added_p10"] <= r["added_p50"] <= r["added_p90"]
    assert r["bookings_per_dollar"] == pytest.approx(r["added_mean"] / 100_000)
    assert sum(r["added_by_period"]) == pytest.approx(r["added_mean"])
    assert a.to_dataframe().shape[0] == 1


def disjoint_raw(n=6):
    """Six sources, one program each (disjoint cells, no rate lifts): a set's bookings are the
    sum of its programs' in every trial, so the choice can be checked against simulating every set."""
    raw = two_stage_raw()
    sources = [f"s{i}" for i in range(n)]
    raw["dimensions"] = {"source": sources}
    raw["by"] = {"source": {s: {"creation": {"count": 40}} for s in sources}}
    raw["target"] = 3_000_000
    raw["program"] = [
        {
            "name": f"P{i}",
            "feeds": {"source": s},
            "creation": {"count": 10 + 6 * i, "per": "year"},
            "cost": {"fixed": 50_000 + 23_000 * ((i * 7) % 5)},
            **({"requires": ["P0"]} if i == 4 else {}),
        }
        for i, s in enumerate(sources)
    ]
    raw["program_group"] = [{"name": "one of", "exclusive": ["P1", "P2"]}]
    return raw


def _allowed(names, sc):
    for _, members in sc.program_groups:
        if len(set(members) & set(names)) > 1:
            return False
    by = {p.name: p for p in sc.programs}
    return all(set(by[n].requires) <= set(names) for n in names)


@pytest.mark.slow
def test_the_choice_is_the_best_set_of_every_set_simulated():
    sc = build(disjoint_raw())
    trials, seed = 300, 4
    model = compile_scenario(sc, "quarter")
    names = [p.name for p in sc.programs]
    results = {}
    for k in range(len(names) + 1):
        for subset in itertools.combinations(names, k):
            if _allowed(subset, sc):
                funded = [p for p in sc.programs if p.name in subset]
                year = quarter_bookings(with_programs(model, funded), trials, seed).sum(axis=1)
                cost = sum(p.cost(sc.horizon_days) for p in funded)
                results[subset] = (cost, float((year >= sc.target).mean()))
    for confidence in (0.3, 0.5):
        ok = [v for v in results.values() if v[1] >= confidence]
        best = min(c for c, _ in ok)
        choice = choose_programs(sc, trials, seed, confidence=confidence)
        assert choice.cost == pytest.approx(best)
        assert choice.p_hit_simulated >= confidence
        assert choice.p_hit_simulated == pytest.approx(choice.p_hit_model)
    for budget in (150_000, 260_000):
        best = max(p for c, p in results.values() if c <= budget)
        choice = choose_programs(sc, trials, seed, budget=budget)
        assert choice.cost <= budget
        assert choice.p_hit_simulated == pytest.approx(best)


def test_exact_search_and_milp_find_the_best_of_every_subset():
    """Seven programs of the example (one exclusive group) on the same trials: the search, the MILP
    and a plain enumeration of every subset agree."""
    from simcore import load_scenario

    sc = load_scenario("scenarios/programs.toml")
    rng = np.random.default_rng(0)
    T = 150
    base = rng.normal(8.0e6, 1.2e6, T)
    d = np.abs(rng.normal(1.0, 0.6, (T, 7))) * np.array([6, 7, 6, 4, 2.5, 2, 0.7])[None, :] * 1e5
    names = [p.name for p in sc.programs]
    cost = np.array([p.cost(sc.horizon_days) for p in sc.programs])
    rows = _constraints(7, sc, names)
    subsets = [s for k in range(8) for s in itertools.combinations(range(7), k)]
    subsets = [s for s in subsets if _allowed([names[j] for j in s], sc)]

    def hits(s):
        return int((base + d[:, list(s)].sum(axis=1) >= sc.target).sum())

    for confidence in (0.3, 0.6):
        best = min(cost[list(s)].sum() for s in subsets if hits(s) >= np.ceil(confidence * T))
        for method in ("exact", "milp"):
            x, _ = solve_choice(base, d, cost, sc.target, confidence=confidence, rows=rows, method=method)
            assert cost @ x == pytest.approx(best), method
    for budget in (6e5, 1.2e6):
        best = max(hits(s) for s in subsets if cost[list(s)].sum() <= budget)
        for method in ("exact", "milp"):
            x, _ = solve_choice(base, d, cost, sc.target, budget=budget, rows=rows, method=method)
            chosen = tuple(np.flatnonzero(x))
            assert hits(chosen) == best and cost @ x <= budget, method
    x, _ = solve_choice(base, d * 0.01, cost, sc.target, confidence=0.99, rows=rows)
    assert x is None


def test_programs_choose_on_the_command_line(capsys):
    # On top of the plan as written (the creation plan held): `simcore programs --choose`.
    code, out, _ = run_cli(
        capsys, "programs", "scenarios/programs.toml", "--choose", "--budget", "900000", "--trials", "300"
    )
    assert code == 0
    assert "7 programs evaluated," in out and "selected" in out
    code, out, _ = run_cli(capsys, "programs", "scenarios/programs.toml", "--trials", "200", "--json")
    assert code == 0 and '"programs"' in out
    # A target the base plan already books: nothing needs funding.
    code, out, _ = run_cli(
        capsys, "programs", "scenarios/programs.toml", "--choose", "--confidence", "0.01", "--trials", "200"
    )
    assert code == 0 and "7 programs evaluated, 0 selected" in out
    code, _, err = run_cli(capsys, "programs", "scenarios/programs.toml", "--budget", "5", "--trials", "50")
    assert code == 2 and "--choose" in err


# ---- attainment of a program's creation, and programs sharing a cell -------------------------


@pytest.mark.parametrize("attainment", [0.5, {"low": 0.3, "base": 0.6, "high": 0.8}])
def test_a_programs_attainment_scales_what_it_adds(attainment):
    """Attainment a (fixed, or a PERT with mean a) scales a program's added bookings by a."""
    sc = build(
        with_programs_raw(
            OUTBOUND,
            OUTBOUND | {"name": "Half", "creation": OUTBOUND["creation"] | {"attainment": attainment}},
        )
    )
    base = compile_scenario(sc, "quarter").without_bank()
    trials = 3000
    b0 = quarter_bookings(base, trials, 6).sum(axis=1)
    full = quarter_bookings(with_programs(base, sc.programs[:1]), trials, 6).sum(axis=1) - b0
    part = quarter_bookings(with_programs(base, sc.programs[1:]), trials, 6).sum(axis=1) - b0
    share = attainment if isinstance(attainment, float) else Pert(**attainment).mean
    diff = part - share * full
    assert_close_se(diff.mean(), 0.0, diff.std(ddof=1) / np.sqrt(trials), what="attained bookings")


def test_programs_feeding_one_cell_add_up_trial_by_trial():
    """Each program's deals come from streams of its own: two in one cell add up exactly."""
    sc = build(with_programs_raw(OUTBOUND, OUTBOUND | {"name": "Second pod", "ramp_months": 2}))
    base = compile_scenario(sc, "quarter")
    b0 = quarter_bookings(base, 500, 8)
    a = quarter_bookings(with_programs(base, sc.programs[:1]), 500, 8) - b0
    b = quarter_bookings(with_programs(base, sc.programs[1:]), 500, 8) - b0
    both = quarter_bookings(with_programs(base, sc.programs), 500, 8) - b0
    np.testing.assert_allclose(both, a + b, rtol=1e-9, atol=1e-3)


def test_what_a_program_adds_is_simulated_without_the_plan_exactly():
    """The evaluation simulates creation-only programs without the plan: the same bits as the
    full run minus the base plan, for a program feeding several cells."""
    from simcore import load_scenario

    sc = load_scenario("scenarios/programs.toml")
    ev = evaluate_programs(sc, trials=300, seed=5, names=["Enterprise ABM", "Trade shows (Q3)"])
    model = compile_scenario(sc, "quarter")
    base = quarter_bookings(model, 300, 5)
    for j, name in enumerate(["Enterprise ABM", "Trade shows (Q3)"]):
        full = quarter_bookings(with_programs(model, [p for p in sc.programs if p.name == name]), 300, 5)
        np.testing.assert_allclose(ev.added[:, j], full - base, rtol=1e-9, atol=1e-3)


@pytest.mark.parametrize("seed", range(4))
def test_the_search_matches_plain_enumeration_on_random_problems(seed):
    from simcore.optimize.program_search import search

    rng = np.random.default_rng(seed)
    J, T = 8, 200
    d = rng.integers(-50, 400, (J, T))
    need = rng.integers(-200, 1500, T)
    cost = rng.integers(1, 100, J)
    groups = [0b00000110, 0b11000000]
    requires = [0] * J
    requires[5] = 0b00001001  # program 5 needs 0 and 3
    sets = [m for m in range(1 << J) if all(bin(m & g).count("1") <= 1 for g in groups)]
    sets = [m for m in sets if not (m >> 5) & 1 or (m & requires[5]) == requires[5]]

    def score(m):
        chosen = [j for j in range(J) if (m >> j) & 1]
        return int((d[chosen].sum(axis=0) >= need).sum()), int(cost[chosen].sum())

    scores = {m: score(m) for m in sets}
    for level in (40, 90, 150):
        ok = [(c, -h) for h, c in scores.values() if h >= level]
        mask, hits = search(d, need, cost, groups, requires, hits_needed=level)
        if not ok:
            assert mask is None
            continue
        assert (scores[mask][1], -scores[mask][0]) == min(ok)
    for budget in (50, 150, 300):
        best = max((h, -c) for h, c in scores.values() if c <= budget)
        mask, hits = search(d, need, cost, groups, requires, budget=budget)
        assert (scores[mask][0], -scores[mask][1]) == best and hits == best[0]


@pytest.mark.parametrize(
    "program",
    [
        "not a table",
        1,
        {"feeds": {"source": "outbound"}, "creation": {"count": 1}},  # no name
        OUTBOUND | {"feeds": 3},
        OUTBOUND | {"feeds": {"source": []}},
        OUTBOUND | {"feeds": {"source": [1, None]}},
        OUTBOUND | {"feeds": {"source": "out\x00bound"}},
        OUTBOUND | {"creation": {"count": 1, "dollars": 5}},
        OUTBOUND | {"creation": {"count": float("nan")}},
        OUTBOUND | {"creation": {"count": 1, "attainment": {"low": 0.9, "base": 0.5, "high": 1}}},
        OUTBOUND | {"creation": {"count": 1, "attainment_loading": 0.5}},
        OUTBOUND | {"cost": {"fixed": float("inf")}},
        OUTBOUND | {"cost": "lots"},
        OUTBOUND | {"ramp_months": -1},
        OUTBOUND | {"start": "2026-01-01"},
        OUTBOUND | {"effects": [{"parameter": "growth", "lift": 0.1}]},
        OUTBOUND | {"effects": [{"parameter": "win", "lift": {"low": 0.1}}]},
        OUTBOUND | {"effects": [{"parameter": "win", "stage": "Qualify", "lift": 0.1}]},
        OUTBOUND | {"effects": [{"parameter": "advance", "stage": "Decide", "lift": 0.1}]},
        OUTBOUND | {"requires": "Other"},
        OUTBOUND | {"requires": ["Outbound pod"]},
        OUTBOUND | {"surprise": True},
    ],
)
def test_hostile_programs_give_problems_not_tracebacks(program):
    raw = two_stage_raw()
    raw["program"] = [program]
    with pytest.raises(ScenarioError) as exc:
        build(raw)
    assert all(p.path.startswith("program") for p in exc.value.problems), str(exc.value)


@pytest.mark.parametrize("groups", ["x", [{"name": "g"}], [{"name": "g", "exclusive": "Outbound pod"}]])
def test_hostile_groups_give_problems(groups):
    raw = with_programs_raw(OUTBOUND)
    raw["program_group"] = groups
    with pytest.raises(ScenarioError) as exc:
        build(raw)
    assert all(p.path.startswith("program_group") for p in exc.value.problems), str(exc.value)


@pytest.mark.parametrize(
    ("advance", "lift", "ratio"),
    [
        (0.6, 0.06, 0.66 / 0.6),
        # PERT means (low + 4 base + high) / 6: the lifted PERT is {0.5, 0.63, 0.72}.
        ({"low": 0.5, "base": 0.6, "high": 0.66}, {"low": 0.0, "base": 0.03, "high": 0.06}, 3.74 / 3.56),
    ],
)
def test_an_advance_lift_scales_bookings_as_the_stages_advance_rate(advance, lift, ratio):
    """An enablement program lifting a stage's advance rate (fixed or {low, base, high}): with no
    market factor, bookings are proportional to the advance rate's mean, so they scale by the
    lifted mean over the mean (paired trials, 4 standard errors)."""
    raw = with_programs_raw(
        {"name": "Enablement", "effects": [{"parameter": "advance", "stage": "Qualify", "lift": lift}]}
    )
    del raw["defaults"]["conversion"]
    raw["defaults"]["stages"]["Qualify"].update({"advance": advance, "lost_competition": 0.1})
    raw["defaults"]["market_loading"] = 0.0
    sc = build(raw)
    base = compile_scenario(sc, "quarter").without_bank()
    trials = 3000
    a = quarter_bookings(base, trials, 5).sum(axis=1)
    b = quarter_bookings(with_programs(base, sc.programs), trials, 5).sum(axis=1)
    assert np.all(b >= a - 1e-6)  # the same deals; more of them advance
    diff = b - a * ratio
    assert_close_se(diff.mean(), 0.0, diff.std(ddof=1) / np.sqrt(trials), what="lifted bookings")
