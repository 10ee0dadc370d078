"""``simcore history`` (synthetic CRM history from a scenario) and ``simcore calibrate`` (a scenario from CRM history).

The handlers import simcore.calibrate lazily, as the other commands do: it loads scipy.stats and
pandas' parsers, which would slow every ``simcore`` start-up.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path

# command, add_scenario_arguments, load and the exit codes are moving to simcore.cli.options;
# imported from app until then.
from simcore.cli.options import EXIT_OK, add_scenario_arguments, command, load
from simcore.errors import SimcoreError


def _date(text):
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _half_life(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of days, got {text!r}")
    return value


def parse_map(items) -> dict:
    """``["amount=ARR", "source=Lead Source"]`` -> ``{"amount": "ARR", "source": "Lead Source"}``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SimcoreError(f"--map {item!r}: expected field=Column")
        name, column = (x.strip() for x in item.split("=", 1))
        if not name or not column:
            raise SimcoreError(f"--map {item!r}: a name is empty")
        out[name] = column
    return out


def names_option(text, option, known=None) -> list:
    """``"source, product"`` -> ``["source", "product"]``; a name given twice (or not in ``known``) is refused.

    ``--dimensions source,source`` or ``--by source,source`` would make two cells of every deal
    (a division by zero in pacing, a missing key in calibration): one clear line instead.
    """
    names = [d.strip() for d in (text or "").split(",") if d.strip()]
    seen = set()
    for d in names:
        if d in seen:
            raise SimcoreError(f"{option} {text}: {d!r} is given twice; name each dimension once")
        seen.add(d)
        if known is not None and d not in known:
            raise SimcoreError(
                f"{option} {d}: the scenario has no dimension {d!r}; it has {', '.join(known) or 'none'}"
            )
    return names


@command(
    "history", "simulate a company's CRM history from a scenario: an opportunity export and a stage history"
)
def _setup_history(p):
    add_scenario_arguments(p, optional=False)
    p.add_argument("--start", type=_date, required=True, help="first day deals are created (YYYY-MM-DD)")
    p.add_argument(
        "--end", type=_date, required=True, help="the day the history stops (exclusive); open deals stay open"
    )
    p.add_argument("--out", required=True, help="folder for opportunities.csv and stage_history.csv")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--trial", type=int, default=0, help="which trial's assumptions the company lives under (default 0)"
    )
    return _history


def _history(args):
    from simcore.calibrate.history import simulate_history

    if args.seed < 0 or args.trial < 0:
        raise SimcoreError("--seed and --trial must be non-negative")
    out = Path(args.out)
    # Checked before the simulation, as backtest --out: a file there is never replaced by a folder.
    if out.exists() and not out.is_dir():
        raise SimcoreError(
            f"--out {args.out}: exists and is not a folder; --out names the folder for "
            f"opportunities.csv and stage_history.csv"
        )
    replaced = [p.name for p in (out / "opportunities.csv", out / "stage_history.csv") if p.exists()]
    h = simulate_history(load(args), args.start, args.end, seed=args.seed, trial=args.trial)
    opps, hist = h.write(args.out)
    n_open = int((~h.opportunities["IsClosed"]).sum())
    print(f"{len(h.opportunities):,} opportunities ({n_open:,} open on {args.end}) -> {opps}")
    print(f"{len(h.stage_history):,} stage changes -> {hist}")
    if replaced:
        print(f"(replaced the {' and '.join(replaced)} that were in {args.out})")
    return EXIT_OK


@command(
    "calibrate", "fit a scenario to CRM history: rates, dwells, pushes, deal sizes, creation, the open bank"
)
def _setup_calibrate(p):
    p.add_argument("opportunities", help="opportunity export (CSV, one row per opportunity)")
    p.add_argument(
        "--as-of",
        type=_date,
        required=True,
        help="use only what was known before this date; the fitted plan starts here",
    )
    p.add_argument(
        "--out", help="write the fitted scenario here (.toml), its open deals beside it (_bank.csv)"
    )
    p.add_argument(
        "--history", help="stage history (CSV, one row per change): per-stage rates, dwells and pushes"
    )
    p.add_argument(
        "--map",
        action="append",
        metavar="FIELD=COLUMN",
        help="read a field from a column of another name (repeatable)",
    )
    p.add_argument("--dimensions", default="", help="comma-separated dimension columns, e.g. source,product")
    p.add_argument("--stages", help="stage mapping 'CRM=Stage[:category],...' or a file of such lines")
    p.add_argument(
        "--half-life", type=_half_life, help="days: older history weighs less, halving every this many days"
    )
    p.add_argument("--name", default="fitted", help="name of the fitted scenario")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.add_argument("--report", metavar="DIR", help="write the calibration report (PNGs and index.html) here")
    p.add_argument(
        "--compare", metavar="PLAN", help="a plan scenario to set the fitted rates beside, in the report"
    )
    return _calibrate


def _calibrate(args):
    from simcore.calibrate import calibrate, read_opportunities, read_stage_history

    if args.out is not None:
        from simcore.io import check_out_file

        if not str(args.out).lower().endswith(".toml"):
            # A scenario is TOML: plan.csv would hold TOML that a spreadsheet opens as garbage.
            raise SimcoreError(f"--out {args.out}: the fitted scenario is written as TOML; name a .toml file")
        check_out_file(args.out)
    columns = parse_map(args.map)
    dims = names_option(args.dimensions, "--dimensions")
    opps = read_opportunities(args.opportunities, columns=columns, dimensions=dims)
    hist = read_stage_history(args.history, columns=columns) if args.history else None
    result = calibrate(
        opps.table,
        args.as_of,
        dims,
        stage_history=hist.table if hist else None,
        stages=args.stages,
        half_life=args.half_life,
        name=args.name,
    )
    warnings = opps.warnings + (hist.warnings if hist else []) + result.warnings
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.out is not None:
        result.write(args.out)
    if args.report is not None:
        from simcore.calibrate.report import write_report

        plan = None
        if args.compare:
            from simcore.scenario import load_scenario

            plan = load_scenario(args.compare)
        write_report(result, args.report, plan=plan)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(_summary(result, args))
    return EXIT_OK


def _summary(result, args):
    d = result.diagnostics
    lines = [
        f"Calibrated as of {d['as_of']}: {d['deals']:,} opportunities, {d['open_deals']:,} open (the bank).",
        result.message + ".",
        "Dwell families by AIC: " + ", ".join(f"{k}: {v}" for k, v in d["dwell_family"].items()),
    ]
    if args.out:
        lines.append(f"Fitted scenario written to {args.out}; run it with: simcore run {args.out}")
    if args.report:
        lines.append(f"Report written to {args.report}/index.html")
    return "\n".join(lines)
