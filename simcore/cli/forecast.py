"""``simcore forecast``: the plan's year as of a date, with actuals and the open bank from a CRM export.

It prints what ``simcore run`` prints (bookings and creation by period, P(year >= target),
the Monte-Carlo errors) for the whole year, then the same periods with the actual and the
simulated parts apart, and the change since the plan (or since a previous forecast). The
handler imports simcore.forecast lazily, as the other commands do their layers.
"""

from __future__ import annotations

import json
import sys

from simcore.cli.calibrate import _date, parse_map
from simcore.cli.options import (
    EXIT_OK,
    add_run_arguments,
    add_scenario_arguments,
    command,
    load,
    scenario_inputs,
)
from simcore.errors import SimcoreError
from simcore.format import exact_money, money, percent, points, text_table


def add_as_of_arguments(p, required):
    """``--as-of``, ``--opportunities``, ``--history``, ``--map``, ``--stages``: what is known on a date
    (shared by ``simcore forecast`` and ``simcore optimize``).
    """
    p.add_argument(
        "--as-of",
        type=_date,
        required=required,
        help="the as-of date (YYYY-MM-DD), inside the plan's year",
    )
    p.add_argument(
        "--opportunities",
        metavar="CSV",
        help="opportunity export (one row per opportunity; read as simcore calibrate reads it); without it, "
        "no actuals and the scenario's own bank from the as-of date",
    )
    p.add_argument(
        "--history",
        metavar="CSV",
        help="stage history (one row per change): the open deals' stages, ages and close dates as of the date",
    )
    p.add_argument(
        "--map",
        action="append",
        metavar="FIELD=COLUMN",
        help="read a field from a column of another name (repeatable), as simcore calibrate",
    )
    p.add_argument(
        "--stages", help="CRM stage names mapped to the scenario's: 'Proposal=Trial, Contract=Negotiation'"
    )


def require_export_after_start(args, sc) -> None:
    """Refuse an as-of date after the plan's start without ``--opportunities``.

    Without the export there are no actuals, and the scenario's own starting bank would stand
    for the deals open on that date: a mid-year re-plan or forecast would read as confident and
    be wrong. (The Python API keeps that case, for plans made before the year starts.)
    """
    days = (args.as_of - sc.start).days if args.as_of is not None else 0
    # A date outside the plan is as_of_state's to refuse, with its own words.
    if 0 < days < sc.horizon_days and not args.opportunities:
        raise SimcoreError(
            f"--as-of {args.as_of} is after the plan's start ({sc.start}): give --opportunities (the CRM "
            "export), so that what is won and what is open on that date are known"
        )


@command(
    "forecast", "forecast the plan's year as of a date: actuals so far, the open bank, the rest simulated"
)
def _setup_forecast(p):
    add_scenario_arguments(p)
    add_as_of_arguments(p, required=True)
    add_run_arguments(p)
    p.add_argument(
        "--period", choices=["week", "month", "quarter"], help="reporting period (default: the scenario's)"
    )
    p.add_argument(
        "--since",
        metavar="FILE",
        help="show the change since this earlier forecast (a .json or .nc written by simcore forecast --out) "
        "instead of since the plan",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="also write the forecast: .json (the summary, readable by --since), .nc (the full result), "
        ".csv or .parquet (one row per trial)",
    )
    p.add_argument("--json", action="store_true", help="print the forecast as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return _forecast


def _forecast(args):
    # Lazily, as every command: numba, xarray and pandas' parsers load only for a forecast.
    from simcore.analysis.convergence import headline_errors
    from simcore.cli.analytics import errors_table
    from simcore.forecast.forecast import forecast
    from simcore.format import json_safe
    from simcore.io import check_not_an_input, check_result_file, save_dataset
    from simcore.report.text import summary_table

    if args.history and not args.opportunities:
        raise SimcoreError(
            "--history needs --opportunities: the stage history rebuilds the export's open deals"
        )
    inputs = [x for x in (args.opportunities, args.history) if x]
    if args.out is not None:
        check_result_file(args.out, scenario_inputs(args) + inputs)
    sc = load(args)
    require_export_after_start(args, sc)
    if args.out is not None:
        check_not_an_input(args.out, scenario_inputs(args, sc) + inputs)
    f = forecast(
        sc,
        args.opportunities,
        args.as_of,
        history=args.history,
        columns=parse_map(args.map),
        stages=args.stages,
        trials=args.trials,
        seed=args.seed,
        period=args.period,
        baseline=args.since if args.since else "plan",
        progress=False if args.quiet or args.json else None,
    )
    for w in f.warnings:
        print(f"warning: {w}", file=sys.stderr)
    errors = headline_errors(f.dataset)
    document = {**f.summary, "mc_errors": json_safe(errors), "forecast": f.to_dict()}
    if args.out is not None:
        save_dataset(f.dataset, args.out, summary=document)
    if args.json:
        print(json.dumps(json_safe(document), indent=2))
        return EXIT_OK
    stages = (sc.stages[0].name, sc.stages[-1].name)
    print(forecast_text(f, summary_table(f.summary, stages), errors_table(errors, sc.currency)))
    if args.out is not None:
        print(f"\nForecast written to {args.out}")
    return EXIT_OK


def forecast_text(f, run_table: str, errors: str) -> str:
    """The forecast as text: ``simcore run``'s tables, then actual and simulated apart, then the change."""
    cur = f.currency
    m = lambda v: money(v, cur)  # noqa: E731
    lines = [
        f"As of {f.as_of}: {f.actual_deals:,} deals won so far this year ({m(f.year['actual'])}), "
        f"{f.bank_deals:,} open deals simulated from that date, with the plan's creation for the rest of the year.",
        "",
        run_table,
        "",
        errors,
        "",
    ]
    rows = [
        [
            r["period"],
            r["status"],
            r["actual"],
            r["simulated"]["p10"],
            r["simulated"]["p50"],
            r["simulated"]["p90"],
            r["total"]["p10"],
            r["total"]["p50"],
            r["total"]["p90"],
        ]
        for r in f.by_period
    ]
    y = f.year
    rows.append(
        ["Year", "", y["actual"], y["simulated"]["p10"], y["simulated"]["p50"], y["simulated"]["p90"]]
        + [y["total"]["p10"], y["total"]["p50"], y["total"]["p90"]]
    )
    header = ["Bookings", "", "actual", "sim P10", "sim P50", "sim P90", "P10", "P50", "P90"]
    lines.append(text_table(rows, header, ["text", "text"] + ["money"] * 7, cur))
    lines.append(
        "Closed periods are actuals (no spread); the current one is actual to date plus the rest of it."
    )
    if f.p_hit is not None:
        lines.append(
            f"P(year bookings >= target {exact_money(f.target, f.currency)}) now = {percent(f.p_hit)} (+/- {points(f.p_hit_se)[1:]} MC error)"
        )
    c = f.change
    if c is not None:
        since = "the plan" if c["since"] == "plan" else f"the {c['since']}"
        parts = []
        if c.get("p_hit_change") is not None:
            parts.append(
                f"P(hit) {percent(c['p_hit_before'])} -> {percent(f.p_hit)} ({c['p_hit_change'] * 100:+.1f} pts)"
            )
        parts.append(f"P50 {m(c['p50_before'])} -> {m(y['total']['p50'])} ({_signed(c['p50_change'], cur)})")
        lines.append(f"Change since {since}: " + "; ".join(parts))
    return "\n".join(lines)


def _signed(value, cur):
    return ("+" if value >= 0 else "-") + money(abs(value), cur)
