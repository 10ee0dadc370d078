"""``simcore optimize``: the cheapest pipeline creation plan that books the target at a confidence.

Exit codes: 0 a plan meets the request; 1 the request cannot be met under the limits (the
message says the best confidence reachable and which limit stops it; the best plan is still
printed, marked as such); 2 bad input.
"""

from __future__ import annotations

import json

from simcore.cli import options
from simcore.cli.forecast import add_as_of_arguments
from simcore.cli.options import (
    EXIT_OK,
    add_run_arguments,
    add_scenario_arguments,
    command,
    count,
    fraction,
    load,
)
from simcore.cli.replan import add_carryover_argument, as_of_lines, as_of_state_of
from simcore.cli.scale import add_dask_argument, dask_client
from simcore.format import exact_money, money, money_pair, percent, table
from simcore.io import write_atomic

EXIT_INFEASIBLE = 1


@command("optimize", "pipeline creation by source and quarter that hits bookings at a chosen confidence")
def _setup(p):
    add_scenario_arguments(p)
    add_run_arguments(p)
    p.add_argument(
        "--confidence",
        type=fraction,
        default=None,
        help="required P(bookings >= target), e.g. 0.9 (default: [optimize] confidence, else 0.9)",
    )
    p.add_argument(
        "--objective",
        choices=["creation", "cost", "p_hit"],
        default=None,
        help="minimise total stage-1 creation (default) or total cost, or maximise P(hit) within --budget",
    )
    p.add_argument(
        "--budget", type=options.money, default=None, help="total cost in dollars for --objective p_hit"
    )
    p.add_argument(
        "--target",
        type=options.money,
        default=None,
        help="bookings target in dollars (default: the scenario's)",
    )
    p.add_argument(
        "--verify-trials",
        type=count(0),
        default=20_000,
        help="trials of the independent check (default 20000; 0 skips it)",
    )
    p.add_argument("--verify-seed", type=options.seed, default=None, help="its seed (default: --seed + 1)")
    p.add_argument(
        "--iterations",
        type=count(1),
        default=4,
        help="most re-simulations at the solution (default 4)",
    )
    p.add_argument("--free-mix", action="store_true", help="let the product mix within each source vary")
    p.add_argument("--no-spreadsheet", action="store_true", help="skip simulating the spreadsheet plan")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", help="also write the JSON result to this file")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    add_dask_argument(p, "run the plan's re-simulations on a Dask cluster")
    _add_programs_argument(p)
    add_as_of_arguments(p, required=False)
    add_carryover_argument(p)
    return _run


def _add_programs_argument(p):
    p.add_argument(
        "--programs",
        action="store_true",
        help="choose which [[program]]s to fund with the creation plan: the least total cost "
        "(creation plus programs) reaching --confidence, or (with --budget) the best P(hit) within it",
    )


def _run(args) -> int:
    from simcore.optimize.plan import optimize

    if args.programs and args.as_of is None:
        from simcore.cli.programs import run_optimize_programs

        return run_optimize_programs(args)

    if args.out is not None:
        from simcore.io import check_out_file

        check_out_file(args.out)  # before the optimisation, not after it
    sc = load(args)
    state = as_of_state_of(args, sc)
    with dask_client(args) as client:
        res = optimize(
            sc,
            args.confidence,
            objective=args.objective,
            budget=args.budget,
            target=args.target,
            trials=args.trials,
            seed=args.seed,
            verify_trials=args.verify_trials,
            verify_seed=args.verify_seed,
            iterations=args.iterations,
            free_mix=True if args.free_mix else None,
            spreadsheet=not args.no_spreadsheet,
            progress=not args.quiet,
            client=client,
            as_of=state,
            carryover=args.carryover,
        )
    data = res.to_dict()
    if args.out is not None:
        text = json.dumps(data, indent=2) + "\n"

        def write(tmp):
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)

        write_atomic(args.out, write)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(report(res))
    return EXIT_OK if res.success else EXIT_INFEASIBLE


def report(res) -> str:
    """The optimizer's answer as text: plan, stage-4 targets, confidence, limits, comparison."""
    cur = res.currency
    ds = res.decision_stage

    def m(v):
        return money(v, cur)

    lines = [
        (
            f"{res.scenario}: plan for {exact_money(res.target, cur)} bookings at {percent(res.confidence_target, 0)} confidence "
            f"({res.objective}; {res.trials:,} trials, seed {res.seed})"
        ),
        "",
    ]
    if res.as_of:
        lines += as_of_lines(res)
    if not res.feasible:
        lines += [f"NOT FEASIBLE: {res.message}", ""]
    elif not res.success:
        lines += [f"NOT MET: {res.message}", ""]
    q = res.quarters
    rows = [[s] + [m(res.plan[s][k]) for k in q] + [m(sum(res.plan[s].values()))] for s in res.sources]
    rows.append(["Total"] + [m(sum(res.plan[s][k] for s in res.sources)) for k in q] + [m(res.total_stage1)])
    title = "Stage-1 creation to plan"
    if res.as_of:
        title += " (each quarter at the rate it runs; the one under way creates only its days to come)"
    lines += [title, table(rows, ["source"] + q + ["total"]), ""]
    weeks = [m(sum(res.plan_weekly[s]) / max(len(res.plan_weekly[s]), 1)) for s in res.sources]
    rows = [
        [s] + [m(res.stage4_targets[s][k]) for k in q] + [m(sum(res.stage4_targets[s].values()))]
        for s in res.sources
    ]
    lines += [
        f"{ds} creation it implies (expected, by the quarter it happens)",
        table(rows, ["source"] + q + ["total"]),
        "",
    ]
    rows = [[s] + [m(res.stage4_weekly[s][k]) for k in q] for s in res.sources]
    lines += [f"{ds} creation per week", table(rows, ["source"] + q), ""]
    lines.append(
        "Average stage-1 creation per week: " + ", ".join(f"{s} {w}" for s, w in zip(res.sources, weeks))
    )
    lines.append("")
    lines += _confidence_lines(res, m, ds)
    lines += _sheet_lines(res, m, ds)
    lines += _bank_lines(res, m, ds)
    lines += ["", res.message]
    return "\n".join(lines)


def _confidence_lines(res, m, ds) -> list:
    """Confidence, certificate, ending bank, defaults, what binds, marginal bookings."""
    q = res.quarters
    lines = []
    conf = (
        f"Confidence: in-sample {percent(res.confidence_in_sample)} ({res.trials:,} trials); "
        f"out-of-sample {percent(res.confidence_out_of_sample)}"
    )
    if res.verify_trials:
        conf += f" +/- {100 * res.confidence_out_of_sample_se:.1f} pts ({res.verify_trials:,} new trials, seed {res.verify_seed})"
    lines += [
        conf,
        (
            f"Bookings at that confidence (P{round(100 * (1 - res.confidence_target))}): "
            f"{money_pair(res.bookings_at_confidence, res.target, res.currency)[0]} against the target "
            f"{money_pair(res.bookings_at_confidence, res.target, res.currency)[1]}; "
            f"total cost {m(res.total_cost)}"
        ),
    ]
    if res.gap == res.gap:  # not NaN
        lines.append(
            f"Certificate: lower bound {m(res.bound) if res.objective != 'p_hit' else res.bound} on the "
            f"{res.trials:,}-trial sample problem, gap {percent(res.gap, 2)} ({res.certificate})"
        )
    eb = res.ending_bank
    if eb.get("confidence") is not None:
        lines.append(
            f"Ending {ds} bank {m(eb['required'])} at {percent(eb['confidence'], 0)}: in-sample "
            f"{percent(eb['confidence_in_sample'])}, out-of-sample {percent(eb['confidence_out_of_sample'])}; "
            f"expected {m(eb['expected'])}"
        )
    for c in eb.get("by_category", []):
        lines.append(
            f"Ending {c['category']} bank {m(c['required'])} at {percent(c['confidence'], 0)}: in-sample "
            f"{percent(c['confidence_in_sample'])}, out-of-sample {percent(c['confidence_out_of_sample'])}; "
            f"expected {m(c['expected'])}"
        )
    for d in res.defaults_used:
        lines.append(f"Default: {d}")
    for t in res.period_targets:
        lines.append(
            f"  {t['period']} target {m(t['target'])} at {percent(t['confidence'], 0)}: in-sample "
            f"{percent(t['confidence_in_sample'])}, out-of-sample {percent(t['confidence_out_of_sample'])}"
        )
    lines.append("")
    if res.binding:
        rows = []
        for b in res.binding:
            limit = b.get("limit")
            shown = "" if limit is None else (m(limit) if "dollar" in b.get("unit", "") else f"{limit:,.0f}")
            # A limit at its bound whose relaxation changes nothing (a degenerate vertex) shows 0, not -0.
            price = b["shadow_price"] if abs(b["shadow_price"]) > 1e-9 else 0.0
            rows.append([b["constraint"], shown, f"{price:.3g}", b.get("unit", "")])
        lines += [
            "What binds (shadow price: the objective's change when the limit is relaxed)",
            table(rows, ["constraint", "limit", "shadow price", "per"]),
            "",
        ]
    rows = [[s] + [f"{res.marginal_bookings[s][k]:.3f}" for k in q] for s in res.sources]
    lines += [
        "Bookings at the confidence per extra dollar of stage-1 creation",
        table(rows, ["source"] + q),
        "",
    ]
    return lines


def _sheet_lines(res, m, ds) -> list:
    """The spreadsheet side by side, as written and scaled."""
    lines = []
    sh = res.spreadsheet
    if sh and sh.get("total_stage1") is not None:
        sc_ = sh["scaled"]
        end_note = (
            f" and a {m(res.ending_bank['required'])} ending {ds} bank"
            if res.ending_bank.get("confidence")
            else ""
        )
        lines += [
            "Side by side with the spreadsheet (its backsolve: every non-win retires)",
            table(
                [
                    [
                        "spreadsheet as written",
                        m(sh["total_stage1"]),
                        percent(sh["confidence"]),
                        m(sh["simulated_ending_bank"]),
                    ],
                    [
                        f"spreadsheet scaled x{sc_['scale']:.3f} to the same request",
                        m(sc_["total_stage1"]),
                        percent(sc_["confidence"]),
                        m(sc_["expected_ending_bank"]),
                    ],
                    [
                        "this plan",
                        m(res.total_stage1),
                        percent(res.confidence_in_sample),
                        m(res.expected_ending_stage4_bank),
                    ],
                ],
                ["plan", "stage-1 creation", "confidence (in-sample)", f"ending {ds} bank (expected)"],
            ),
            (
                f"At equal confidence ({percent(res.confidence_target, 0)}){end_note}, this plan needs "
                f"{percent(abs(sh['saving_equal_confidence']))} {'less' if sh['saving_equal_confidence'] >= 0 else 'more'} "
                f"stage-1 pipeline than the spreadsheet's shape scaled to the same request. As written, the "
                f"spreadsheet asks {m(sh['total_stage1'])} and reaches {percent(sh['confidence'])}; its push-aware "
                f"version asks {m(sh['total_stage1_with_push'])} ({percent(sh['push_share_of_sheet'])} less: what "
                f"counting pushes as slips, not losses, is worth). It plans a {m(sh['ending_bank'])} ending {ds} "
                f"bank; simulated, it ends with {m(sh['simulated_ending_bank'])}."
            ),
        ]
        b = sh.get("breakdown")
        if b:

            def step(v):  # a step's saving as words: a negative saving is pipeline added
                return f"saves {m(v)}" if v >= 0 else f"adds {m(-v)}"

            lines.append(
                f"From the spreadsheet's {m(b['as_written'])} to this plan's {m(b['optimized'])}: push "
                f"{step(b['push'])}, sizing by simulation to the same confidence and ending bank "
                f"{step(b['confidence_and_ending_bank'])}, timing and source mix {step(b['timing_and_mix'])}."
            )
        lines.append("")
    return lines


def _bank_lines(res, m, ds) -> list:
    """The decision-stage bank needed on day one."""
    lines = []
    rb = res.required_bank
    if rb.get("for_scenario_plan") is not None:
        lines.append(
            f"Required {ds} bank on day one at {percent(res.confidence_target, 0)}: "
            f"{m(rb['for_scenario_plan'])} with the scenario's own plan ({m(rb['scenario_plan_total_stage1'])} "
            f"stage 1, which alone reaches {percent(rb['scenario_plan_confidence'])}); "
            f"{m(rb['for_optimized_plan'])} with this plan."
        )
        if rb.get("weeks_to_build"):
            lines.append(
                f"From today's {m(rb['today_stage4_bank'])}: gap {m(rb['gap_scenario_plan'])}, "
                f"{m(rb['weekly_run_rate_scenario_plan'])}/week over {rb['weeks_to_build']:.0f} weeks "
                f"(this plan: gap {m(rb['gap_optimized_plan'])}, {m(rb['weekly_run_rate_optimized_plan'])}/week)."
            )
    elif rb.get("note"):
        lines.append(f"Required bank: {rb['note']}")
    return lines
