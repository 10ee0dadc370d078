"""``simcore programs``: every program evaluated alone and all together (``--choose``: which to
fund on top of the plan as written); the programs part of ``simcore optimize --programs``
(which programs to fund, chosen with the creation plan); and ``simcore hires`` (where the next
heads of ``[capacity]`` go).

Exit codes: 0 done (for a choice: the request is met); 1 no choice meets the confidence (the
best found is still printed, marked as such); 2 bad input.
"""

from __future__ import annotations

import argparse
import datetime
import json

from simcore.cli.options import (
    EXIT_OK,
    add_run_arguments,
    add_scenario_arguments,
    command,
    finite_number,
    fraction,
    load,
    positive_int,
)
from simcore.errors import SimcoreError
from simcore.io import write_atomic

EXIT_INFEASIBLE = 1


@command(
    "programs",
    "evaluate each [[program]] alone and all together against the base plan: cost, bookings added "
    "(P10/P50/P90), change in P(hit), bookings per dollar, timing by quarter",
)
def _setup(p):
    add_scenario_arguments(p)
    add_run_arguments(p)
    p.add_argument(
        "--choose",
        action="store_true",
        help="also choose which to fund on top of the plan as written (the creation plan held): "
        "the least cost reaching --confidence, or the best P(hit) within --budget",
    )
    p.add_argument(
        "--confidence", type=fraction, default=None, help="with --choose: required P(hit) (default 0.9)"
    )
    p.add_argument("--budget", type=_cost, default=None, help="with --choose: the most to spend on programs")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", help="also write the JSON result to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return _run


def _write(path, data) -> None:
    text = json.dumps(data, indent=2) + "\n"

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    write_atomic(path, write)


def _run(args) -> int:
    from simcore.analysis.programs import evaluate_programs

    if args.out is not None:
        from simcore.io import check_out_file

        check_out_file(args.out)  # before the simulations, not after them
    if (args.confidence is not None or args.budget is not None) and not args.choose:
        raise SimcoreError("--confidence and --budget apply to --choose")
    sc = load(args)
    result = evaluate_programs(
        sc, args.trials, args.seed, progress=False if args.json or args.quiet else None
    )
    code = EXIT_OK
    if args.choose:
        from simcore.optimize.programs import choose_programs

        result = choose_programs(
            sc, args.trials, args.seed, confidence=args.confidence, budget=args.budget, evaluation=result
        )
        code = EXIT_OK if result.feasible else EXIT_INFEASIBLE
    data = result.to_dict()
    if args.out is not None:
        _write(args.out, data)
    print(json.dumps(data, indent=2) if args.json else result.text())
    return code


def run_optimize_programs(args) -> int:
    """``simcore optimize --programs``: the programs to fund and the creation plan, chosen
    together (see :func:`simcore.optimize.joint.optimize_with_programs`).
    """
    from simcore.optimize.joint import optimize_with_programs

    if args.out is not None:
        from simcore.io import check_out_file

        check_out_file(args.out)
    sc = load(args)
    if args.target is not None:
        sc = sc.with_overrides({"target": args.target})
    budget = args.budget if args.objective == "p_hit" or (args.budget and args.confidence is None) else None
    if args.objective == "creation":
        raise SimcoreError(
            "--programs weighs programs against creation by cost: use --objective cost (the default "
            "with --programs) or p_hit with a --budget"
        )
    result = optimize_with_programs(
        sc,
        None if budget is not None else args.confidence,
        budget=budget,
        trials=args.trials,
        seed=args.seed,
        verify_trials=args.verify_trials,
        progress=not (args.json or args.quiet),
    )
    data = result.to_dict()
    if args.out is not None:
        _write(args.out, data)
    print(json.dumps(data, indent=2) if args.json else result.text())
    return EXIT_OK if result.success else EXIT_INFEASIBLE


def _cost(text) -> float:
    """A year's cost of a head: a number >= 0, commas allowed."""
    value = finite_number(str(text).replace(",", ""))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _date(text) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-04-01, got {text!r}") from None


@command(
    "hires",
    "where the next heads of [capacity] go: place N hires one at a time by the bookings each adds "
    "at the confidence (role x source or segment x start), with P(hit) change, cost, bookings per dollar",
)
def _setup_hires(p):
    add_scenario_arguments(p)
    add_run_arguments(p)
    p.add_argument("--heads", type=positive_int, default=5, help="heads to place (default 5)")
    p.add_argument("--role", help="hire only this role (default: every role that creates)")
    p.add_argument(
        "--start",
        type=_date,
        help="hire at the start of the capacity period holding this date (default: try every period)",
    )
    p.add_argument(
        "--confidence",
        type=fraction,
        default=0.9,
        help="rank heads by the bookings reached with this probability (default 0.9)",
    )
    p.add_argument(
        "--cost-per-head",
        type=_cost,
        help="a year's loaded cost of a head (default: the role's cost_per_head, else 0)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", help="also write the JSON result to this file")
    return _run_hires


def _run_hires(args) -> int:
    from simcore.optimize.hires import place_hires  # lazy: numba and xarray only when run

    if args.out is not None:
        from simcore.io import check_out_file

        check_out_file(args.out)
    result = place_hires(
        load(args),
        args.heads,
        args.trials,
        args.seed,
        role=args.role,
        start=args.start,
        confidence=args.confidence,
        cost_per_head=args.cost_per_head,
        progress=False,
    )
    data = result.to_dict()
    if args.out is not None:
        _write(args.out, data)
    print(json.dumps(data, indent=2) if args.json else result.text())
    return EXIT_OK
