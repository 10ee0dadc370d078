"""``simcore pace`` (the current period's creation against the plan) and ``simcore backtest``
(past forecasts scored against what was booked).

The handlers import simcore.forecast and simcore.calibrate lazily, as the other commands do: they
load scipy.stats and pandas' parsers, which would slow every ``simcore`` start-up.
"""

from __future__ import annotations

import json
import sys

from simcore.cli.calibrate import _date, _half_life, names_option, parse_map
from simcore.cli.options import (
    EXIT_OK,
    add_scenario_arguments,
    command,
    finite_number,
    load,
    positive_int,
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
    from simcore.calibrate.readers import read_opportunities, require_amount
    from simcore.forecast.pacing import pace

    sc = load(args)
    by = names_option(args.by, "--by", known=list(sc.dimensions))
    if not args.prior_strength > 0:
        raise SimcoreError(f"--prior-strength must be positive, got {args.prior_strength}")
    read = read_opportunities(args.opportunities, columns=parse_map(args.map), dimensions=list(sc.dimensions))
    require_amount(read.table, "pacing")  # before the reader's warnings: no amount column is an error
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


def _weights(text):
    from simcore.analysis.metrics import CATEGORIES

    out = {}
    for item in _names(text):
        if "=" not in item:
            raise SimcoreError(f"--weights {item!r}: expected category=share, e.g. commit=0.9")
        name, value = (x.strip() for x in item.split("=", 1))
        if name not in CATEGORIES:
            raise SimcoreError(f"--weights {item!r}: the categories are {', '.join(CATEGORIES)}")
        try:
            share = float(value)
        except ValueError:
            raise SimcoreError(f"--weights {item!r}: {value!r} is not a number") from None
        if not 0 <= share <= 1:
            raise SimcoreError(f"--weights {item!r}: a share must be between 0 and 1")
        out[name] = share
    return out


@command(
    "backtest",
    "score past forecasts: at each as-of date, forecast with what was known then, compare with what was booked",
)
def _setup_backtest(p):
    p.add_argument("opportunities", help="opportunity export (CSV, one row per opportunity)")
    p.add_argument(
        "--history", help="stage history (CSV, one row per change): deals' states as they were then"
    )
    p.add_argument(
        "--from", dest="start", type=_date, required=True, help="the first as-of date (YYYY-MM-DD)"
    )
    p.add_argument("--to", dest="stop", type=_date, required=True, help="the last horizon ends by this date")
    p.add_argument("--every", choices=["week", "month", "quarter", "year"], default="quarter",
                   help="step between as-of dates (default quarter)")  # fmt: skip
    p.add_argument("--horizon", choices=["week", "month", "quarter", "year"], default="quarter",
                   help="what each forecast covers from its as-of date (default quarter)")  # fmt: skip
    p.add_argument("--dimensions", default="", help="comma-separated dimension columns, e.g. source,product")
    p.add_argument(
        "--map", action="append", metavar="FIELD=COLUMN", help="read a field from a column of another name"
    )
    p.add_argument("--weights", default="",
                   help="the category-weighted baseline's shares, e.g. commit=0.9,best_case=0.6,pipeline=0.3")  # fmt: skip
    p.add_argument(
        "--trials", type=positive_int, default=1000, help="Monte Carlo trials per forecast (default 1000)"
    )
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument("--half-life", type=_half_life, help="days: each calibration weighs older history less")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", metavar="DIR",
                   help="write backtest.json, backtest.csv, forecasts.png and pit.png into this folder")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return _backtest


def _backtest(args):
    from simcore.calibrate.readers import read_opportunities, read_stage_history, require_amount
    from simcore.forecast.backtest import backtest
    from simcore.forecast.baselines import DEFAULT_WEIGHTS

    columns = parse_map(args.map)
    dims = names_option(args.dimensions, "--dimensions")
    weights = {**DEFAULT_WEIGHTS, **_weights(args.weights)}
    if args.out is not None:
        _check_out_dir(args.out)
    if not args.start < args.stop:
        raise SimcoreError(f"--from {args.start} must be before --to {args.stop}")
    opps = read_opportunities(args.opportunities, columns=columns, dimensions=dims)
    require_amount(opps.table, "a backtest")  # before the reader's warnings: no amount column is an error
    hist = read_stage_history(args.history, columns=columns) if args.history else None
    for w in opps.warnings + (hist.warnings if hist else []):
        print(f"warning: {w}", file=sys.stderr)
    quiet = args.quiet or args.json

    def progress(k, n, as_of):
        if not quiet:
            print(
                f"[{k + 1}/{n}] as of {as_of.date()}: calibrating and forecasting",
                file=sys.stderr,
                flush=True,
            )

    result = backtest(
        opps.table, hist.table if hist else None, start=args.start, stop=args.stop, every=args.every,
        horizon=args.horizon, dimensions=dims, trials=args.trials, seed=args.seed, weights=weights,
        half_life=args.half_life,
        progress=progress,
    )  # fmt: skip
    if args.out is not None:
        _write_backtest(result, args.out)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(backtest_text(result))
        if args.out is not None:
            print(f"\nWritten to {args.out}: backtest.json, backtest.csv, forecasts.png, pit.png")
    return EXIT_OK


def _check_out_dir(path):
    from pathlib import Path

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise SimcoreError(f"--out {path}: exists and is not a folder")
    if not p.exists() and not p.parent.exists():
        raise SimcoreError(f"--out {path}: its parent folder {p.parent} does not exist")


def _write_backtest(result, path):
    from pathlib import Path

    from simcore.io import write_atomic
    from simcore.report.backtest_plots import forecasts_chart, pit_chart
    from simcore.report.chart_kit import save_png

    out = Path(path)
    out.mkdir(exist_ok=True)
    text = json.dumps(result.to_dict(), indent=2)
    write_atomic(out / "backtest.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    frame = result.to_dataframe()
    write_atomic(out / "backtest.csv", lambda tmp: frame.to_csv(tmp, index=False))
    save_png(forecasts_chart(result), out / "forecasts.png")
    save_png(pit_chart(result), out / "pit.png")


def backtest_text(result) -> str:
    """The backtest as the command prints it: one line per as-of date, then the overall scores."""
    from simcore.format import money, table

    cur = result.currency
    names = {"stage_weighted": "stage-wtd", "category_weighted": "category-wtd", "funnel": "funnel"}
    rows = []
    for r in result.rows:
        rows.append(
            [str(r["as_of"]), money(r["actual"], cur), money(r["p10"], cur), money(r["p50"], cur),
             money(r["p90"], cur), "yes" if r["inside"] else "no", f"{r['pit']:.2f}", money(r["crps"], cur)]
            + [money(r["baselines"][k]["forecast"], cur) for k in names if k in r["baselines"]]
        )  # fmt: skip
    header = ["as of", "booked", "P10", "P50", "P90", "inside", "PIT", "CRPS"] + list(names.values())
    o = result.overall
    lines = [
        f"Backtest: {o['forecasts']} forecasts of the next {result.horizon}, {result.trials:,} trials each.",
        "",
        table(rows, header),
        "",
        f"Inside P10-P90: {o['coverage']:.0%} of {o['forecasts']} (80% expected, +/- {o['coverage_se']:.0%} "
        "binomial SE)",
        f"PIT uniformity: KS {o['pit_ks']:.2f}, p = {o['pit_p_value']:.2f}"
        if o["pit_p_value"] == o["pit_p_value"]
        else "PIT uniformity: too few forecasts to test",
        f"Mean CRPS: simcore {money(o['mean_crps'], cur)}"
        + "".join(f"; {names[k]} {money(v['mean_crps'], cur)}" for k, v in o["baselines"].items()),
        "A point forecast's CRPS is its absolute error; lower is better.",
    ]
    for k, v in o["baselines"].items():
        lines.append(f"  {names[k]}: booked more than it forecast {v['above']:.0%} of the time")
    return "\n".join(lines)
