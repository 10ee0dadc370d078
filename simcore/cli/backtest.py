"""``simcore pace`` (the current period's creation against the plan) and ``simcore backtest``
(past forecasts scored against what was booked).

The handlers import simcore.forecast and simcore.calibrate lazily, as the other commands do: they
load scipy.stats and pandas' parsers, which would slow every ``simcore`` start-up.
"""

from __future__ import annotations

import json
import sys

from simcore.cli.calibrate import _date, parse_map
from simcore.cli.options import (
    EXIT_OK,
    add_scenario_arguments,
    command,
    finite_number,
    load,
    seed,
)
from simcore.errors import SimcoreError


def _names(text):
    return [d.strip() for d in (text or "").split(",") if d.strip()]


@command("pace", "pacing: the current period's creation so far against the plan, and what is still needed")
def _setup_pace(p):
    add_scenario_arguments(p, optional=False)
    p.add_argument("--as-of", type=_date, required=True, help="deals created before this day are done")
    p.add_argument("--opportunities", required=True, help="opportunity export (CSV, one row per opportunity)")
    p.add_argument("--by", default="source", help="dimensions to break the total down by (default source)")
    p.add_argument(
        "--period", choices=["week", "month", "quarter"], help="the period (default: the scenario's)"
    )
    p.add_argument(
        "--map", action="append", metavar="FIELD=COLUMN", help="read a field from a column of another name"
    )
    p.add_argument(
        "--prior-strength",
        type=finite_number,
        default=1.0,
        help="the plan's weight, in deals, against the run-rate so far (default 1)",
    )
    p.add_argument("--seed", type=seed, default=0, help="seed of the dollar probability (default 0)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return _pace


def _pace(args):
    from simcore.calibrate.readers import read_opportunities
    from simcore.forecast.pacing import pace

    sc = load(args)
    by = _names(args.by)
    unknown = [d for d in by if d not in sc.dimensions]
    if unknown:
        raise SimcoreError(
            f"--by {unknown[0]}: the scenario has no dimension {unknown[0]!r}; "
            f"it has {', '.join(sc.dimensions) or 'none'}"
        )
    if not args.prior_strength > 0:
        raise SimcoreError(f"--prior-strength must be positive, got {args.prior_strength}")
    read = read_opportunities(args.opportunities, columns=parse_map(args.map), dimensions=list(sc.dimensions))
    for w in read.warnings:
        print(f"warning: {w}", file=sys.stderr)
    result = pace(
        sc,
        read.table,
        args.as_of,
        by=by,
        period=args.period,
        prior_strength=args.prior_strength,
        seed=args.seed,
    )
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(pacing_text(result))
    return EXIT_OK


def pacing_text(result) -> str:
    """The pacing table as the command prints it: one block for counts, one for dollars."""
    from simcore.format import money, table

    lines = [
        f"Pacing of {result.period} ({result.period_start} to {result.period_end}) as of {result.as_of}: "
        f"{result.days_elapsed} days gone, {result.days_left} left."
    ]
    for measure in ("count", "dollars"):
        fmt = (lambda x: f"{x:,.1f}") if measure == "count" else (lambda x: money(x, result.currency))
        rows = []
        for r in result.rows:
            f = r[measure]
            rows.append(
                [
                    " / ".join(r["group"].values()) or "total",
                    fmt(f["planned"]),
                    fmt(f["planned_to_date"]),
                    fmt(f["created"]),
                    fmt(f["remaining"]),
                    fmt(f["per_day_needed"]),
                    fmt(f["per_week_needed"]),
                    fmt(f["projected"]),
                    f"{f['probability']:.0%}",
                ]
            )
        header = ["", "plan", "plan to date", "created", "still needed", "per day", "per week", "projected"]
        lines += [
            "",
            f"Created ({'deals' if measure == 'count' else 'dollars'})",
            table(rows, header + ["P(plan)"]),
        ]
    lines.append(
        "\nP(plan): the chance the period's plan is made at the run-rate so far (gamma-Poisson: "
        f"the plan weighs {result.prior_strength:g} deal{'s' if result.prior_strength != 1 else ''} "
        "against the days gone)."
    )
    return "\n".join(lines)
