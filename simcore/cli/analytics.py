"""Commands ``simcore funnel``, ``metrics``, ``compare``, ``sensitivity`` and ``converge``.

Each prints a readable table (dollars as ``$1.2M``) or, with ``--json``, one JSON
document for machines. Bad input raises :class:`~simcore.errors.SimcoreError` or
:class:`~simcore.errors.ScenarioError`, which ``simcore`` turns into a clear message and
exit code 2.
"""

from __future__ import annotations

import json
import math

from simcore import format as fmt
from simcore.cli.options import EXIT_ERROR, EXIT_OK, add_run_arguments, add_scenario_arguments, command, load
from simcore.cli.scale import add_dask_argument, dask_client
from simcore.format import money, percent, table
from simcore.report.labels import assumption_kind


def _print_json(obj) -> None:
    from simcore.format import json_safe

    print(json.dumps(json_safe(obj), indent=2, default=str, allow_nan=False))


# ---------------------------------------------------------------------------------------
# simcore funnel


@command(
    "funnel",
    "the planning spreadsheet's funnel: backsolve creation needs from the target, "
    "beside the simulated expectation",
)
def _setup_funnel(p):
    add_scenario_arguments(p)
    p.add_argument(
        "--trials",
        type=int,
        default=None,
        help="also simulate this many trials and explain the difference (default: funnel only "
        "with --json, 2000 otherwise)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the simulated side (default 0)")
    p.add_argument("--json", action="store_true", help="print the funnel as JSON")
    p.add_argument(
        "--pacing",
        metavar="PLANNED,DONE,DAY,DAYS",
        help="pacing check (the Programs method): e.g. 40,15,15,30 = 40 planned this month, 15 done by day 15 of 30",
    )
    return _funnel


def _funnel_text(f) -> str:
    cur = f.currency
    first, decision = f.first_stage, f.decision_stage
    m = lambda v: money(v, cur)  # noqa: E731
    lines = [
        f"Funnel for {f.scenario}: bookings {fmt.exact_money(f.bookings, cur)} over {f.horizon_weeks:.0f} weeks",
        "",
    ]
    rows = [
        ["Retire multiple at the decision stage", f.retire_multiple, f.retire_multiple_no_push],
        [f"{decision} creation needed", f.stage4_created_needed, f.stage4_created_needed_no_push],
        [f"{first} creation needed", f.stage1_created_needed, f.stage1_created_needed_no_push],
        ["  per week", f.weekly_stage1_needed, f.stage1_created_needed_no_push / f.horizon_weeks],
    ]
    kinds = [["text", "multiple", "multiple"]] + [["text", "money", "money"]] * 3
    cols = [fmt.column([r[j] for r in rows], [k[j] for k in kinds], cur) for j in range(3)]
    lines.append(
        table([list(r) for r in zip(*cols)], ["", f"with push ({percent(f.push_rate, 0)})", "no push"])
    )
    lines.append(f"Modelling push takes {m(f.push_saving_stage1)} off the {first} requirement.")
    lines.append(f"{decision} bank: {m(f.starting_bank)} at start, {m(f.ending_bank)} wanted at the end.")
    lines.append(
        "Implied stack: "
        + " x ".join(f"{percent(r, 0)}" for _, r in f.stack_steps)
        + f" = {percent(f.stack)} {first} -> won ({percent(f.stack_with_push)} counting pushed deals "
        "that decide again)"
    )
    if f.bank_gap is not None:
        text = f"Bank gap: need {m(f.starting_bank)} at start, have {m(f.current_bank)}"
        if f.current_bank_date is not None:
            text += f" on {f.current_bank_date}"
        text += f" -> gap {m(f.bank_gap)}"
        if f.weekly_run_rate is not None:
            text += (
                f" in {f.weeks_to_start:.1f} weeks: {m(f.weekly_run_rate)}/week net "
                f"({m(f.weekly_run_rate_gross)}/week of {decision} creation while the bank keeps retiring)"
            )
        lines.append(text)
    lines.append(
        f"The plan's own creation ({m(f.planned_stage1)} {first}) books {m(f.planned_bookings)} "
        "by this arithmetic."
    )
    keys = [
        ("bookings", "money"),
        ("retire_multiple", "multiple"),
        ("starting_bank", "money"),
        ("ending_bank", "money"),
        ("stage4_created_needed", "money"),
        ("stage1_created_needed", "money"),
        ("planned_stage1", "money"),
        ("share_of_stage1", "percent"),
    ]
    for dim, groups in f.by_dimension.items():
        rows = [[v, *[g[k] for k, _ in keys]] for v, g in groups.items()]
        header = [f"By {dim}", "bookings", "retire", "bank start", "bank end"]
        header += [f"{decision} need", f"{first} need", f"{first} plan", "share"]
        lines += ["", fmt.text_table(rows, header, ["text", *[k for _, k in keys]], cur)]
    return "\n".join(lines)


def _funnel(args):
    from simcore.analysis.funnel import funnel, funnel_vs_simulation

    pace = _parse_pacing(args.pacing) if args.pacing else None
    sc = load(args)
    f = funnel(sc)
    trials = args.trials if args.trials is not None else (None if args.json else 2000)
    if trials is not None and trials < 1:
        from simcore.errors import SimcoreError

        raise SimcoreError(f"--trials must be at least 1, got {trials}")
    comparison = funnel_vs_simulation(sc, trials, args.seed, result=f) if trials else None
    if args.json:
        out = f.to_dict()
        if comparison is not None:
            out["simulated"] = comparison.to_dict()
        if pace is not None:
            out["pacing"] = pace
        _print_json(out)
    else:
        print(_funnel_text(f))
        if pace is not None:
            side = "behind" if pace["behind"] > 0 else "ahead of"
            rate = (
                f"{pace['per_day_needed']:.2f} per day"
                if math.isfinite(pace["per_day_needed"])
                else "no days left to make it up"
            )
            print(
                f"Pacing: {pace['done']:g} of {pace['planned']:g} done, {pace['days_left']:g} days left -> "
                f"{pace['remaining']:g} more needed ({rate}; "
                f"{side} a straight line by {abs(pace['behind']):g})"
            )
        if comparison is not None:
            print()
            print(comparison.text())
    return EXIT_OK


def _parse_pacing(text) -> dict:
    from simcore.analysis.funnel import pacing
    from simcore.errors import SimcoreError

    try:
        planned, done, day, days = (float(x) for x in text.split(","))
    except ValueError:
        raise SimcoreError(
            f"--pacing {text!r}: expected four numbers PLANNED,DONE,DAY,DAYS, e.g. 40,15,15,30"
        ) from None
    return pacing(planned, done, day, days)


# ---------------------------------------------------------------------------------------
# simcore metrics


@command(
    "metrics",
    "forecast metrics of the simulated deals: close / win / slippage-adjusted close rate, "
    "coverage, pushes per won deal, cycle time",
)
def _setup_metrics(p):
    add_scenario_arguments(p)
    add_run_arguments(p)
    p.add_argument(
        "--by",
        action="append",
        metavar="DIM",
        help="also show the rates by period x this dimension (e.g. --by source); repeatable",
    )
    p.add_argument("--json", action="store_true", help="print every metric by amount and by count as JSON")
    return _metrics


_RATE_KEYS = (
    ("close_rate", "percent"),
    ("win_rate", "percent"),
    ("slippage_adjusted_close_rate", "percent"),
    ("coverage_needed", "multiple"),
    ("pushes_per_won", "decimal"),
    ("won_per_trial", "money"),
)


def _rate_rows(rows: dict) -> list:
    """Raw values of the rate tables, one row per label (formatted by column in :func:`text_table`)."""
    return [[label, *[r[k] for k, _ in _RATE_KEYS]] for label, r in rows.items()]


def _metrics(args):
    from simcore.analysis.metrics import forecast_metrics, metrics_summary
    from simcore.engine.simulate import simulate
    from simcore.errors import SimcoreError

    sc = load(args)
    for dim in args.by or []:
        if dim not in sc.dimensions:
            # By period is always shown; --by adds period x a dimension of the scenario.
            raise SimcoreError(
                f"--by {dim!r}: choose a dimension of the scenario ({', '.join(sc.dimensions)}); "
                "the rates by period are always shown"
            )
    ds = simulate(sc, trials=args.trials, seed=args.seed, progress=False if args.json else None)
    by_amount = metrics_summary(ds, "amount")
    by_count = metrics_summary(ds, "count")
    if args.json:
        out = {
            "scenario": sc.name,
            "trials": args.trials,
            "seed": args.seed,
            "amount": by_amount,
            "count": by_count,
        }
        if args.by:
            out["grouped"] = {}
            for dim in args.by:
                m = forecast_metrics(ds, by=("period", dim))
                out["grouped"][dim] = {
                    f"{p}/{v}": float(m.close_rate.sel(period=p, **{dim: v}))
                    for p in m.period.values
                    for v in m[dim].values
                }
        _print_json(out)
        return EXIT_OK
    cur = sc.currency
    header = ["close rate", "win rate", "slip-adj close", "coverage needed", "pushes/won", "won/trial"]
    print(
        f"{sc.name}: forecast metrics over {args.trials:,} trials (seed {args.seed}); "
        "rates pooled over trials, losses at every stage"
    )
    for measure, summary in (("amount", by_amount), ("deals", by_count)):
        rows = _rate_rows({"Year": summary["year"]}) + _rate_rows(summary["by_period"])
        for dim in sc.dimensions:
            rows += _rate_rows(summary[f"by_{dim}"])
        kinds = ["text", *[k for _, k in _RATE_KEYS]]
        if measure == "deals":
            kinds[-1] = "count"  # deals won per trial: 1,153, not "$1k"
        print()
        print(fmt.text_table(rows, [f"By {measure}", header[0].capitalize(), *header[1:]], kinds, cur))
    for dim in args.by or []:
        m = forecast_metrics(ds, by=("period", dim))
        rows = [
            [str(p)] + [float(m.close_rate.sel(period=p, **{dim: v})) for v in m[dim].values]
            for p in m.period.values
        ]
        print()
        kinds = ["text"] + ["percent"] * len(m[dim].values)
        print(fmt.text_table(rows, [f"Close rate by {dim}"] + [str(v) for v in m[dim].values], kinds, cur))
    if "coverage" in by_amount:
        keys = ("best_case", "commit", "won", "target", "coverage", "coverage_needed")
        rows = [[p, *[c[k] for k in keys]] for p, c in by_amount["coverage"].items()]
        print()
        header = ["Coverage", "best case due", "commit due", "won", "target", "coverage", "needed"]
        print(fmt.text_table(rows, header, ["text"] + ["money"] * 4 + ["multiple"] * 2, cur))
    ct = by_amount["cycle_time"]
    print()
    print(
        f"Cycle time of won deals: mean {ct['mean_days'] or float('nan'):.0f} days, "
        f"median {ct['median_days']:.0f} days; "
        + ", ".join(f"{b} {percent(s, 0)}" for b, s in ct["distribution"].items() if s)
    )
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# simcore converge (and simcore run --precision)


def parse_precision(text) -> float:
    """``"0.5%"`` -> 0.005; ``"0.005"`` -> 0.005."""
    from simcore.errors import SimcoreError

    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise SimcoreError(f"--precision {text!r}: expected a relative error like 0.5% or 0.005") from None
    if not 0 < value < 1:
        raise SimcoreError(f"--precision {text!r}: must be between 0% and 100%")
    return value


def add_precision_arguments(p, with_flag=True):
    if with_flag:
        p.add_argument(
            "--precision",
            required=True,
            metavar="REL",
            help="keep adding trials until P50 and P10 annual bookings are known to within this "
            "relative error at 95%%, e.g. 0.5%%",
        )
    p.add_argument("--chunk", type=int, default=5000, help="trials added per step (default 5000)")
    p.add_argument(
        "--max-trials", type=int, default=1_000_000, help="give up after this many (default 1,000,000)"
    )


@command(
    "converge",
    "simulate until P50 and P10 annual bookings are within a relative error at 95% "
    "(same as simcore run --precision)",
)
def _setup_converge(p):
    add_scenario_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_precision_arguments(p)
    p.add_argument(
        "--out",
        metavar="FILE",
        help="also write the result, as simcore run --out: .nc (netCDF), .csv or .parquet (one row per "
        "trial), .json (the summary)",
    )
    p.add_argument("--json", action="store_true", help="print the summary and the convergence report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    return run_to_precision


def errors_table(errors: dict, currency: str) -> str:
    """Headline figures with their Monte-Carlo standard errors, as a table."""
    lines = [("Year", errors["year"]), *errors["by_period"].items()]
    keys = ("mean", "p10", "p50", "p90")
    values = {k: fmt.money_column([e[k]["value"] for _, e in lines], currency) for k in keys}
    ses = {k: fmt.money_column([e[k]["se"] for _, e in lines], currency) for k in keys}
    rows = [[label, *[f"{values[k][i]} +/- {ses[k][i]}" for k in keys]] for i, (label, _) in enumerate(lines)]
    text = table(rows, ["Bookings (+/- 1 MC s.e.)", "mean", "P10", "P50", "P90"])
    hit = errors["year"].get("p_hit")
    if hit:
        text += f"\nP(hit) {percent(hit['value'])} +/- {100 * hit['se']:.2f} pts"
    return text


def run_to_precision(args):
    """The handler of ``simcore converge`` and ``simcore run --precision``."""
    import sys

    from simcore.analysis.convergence import simulate_to_precision
    from simcore.errors import SimcoreError
    from simcore.report.text import summary_table

    precision = parse_precision(args.precision)
    chunk = getattr(args, "chunk", 5000)
    max_trials = getattr(args, "max_trials", 1_000_000)
    if chunk < 1 or max_trials < 1:
        raise SimcoreError("--chunk and --max-trials must be at least 1")
    if getattr(args, "out", None) is not None:
        from simcore.io import check_out_file

        check_out_file(args.out)  # before the run, not after it
    sc = load(args)
    quiet = getattr(args, "quiet", False) or getattr(args, "json", False)
    progress = None if quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    ds, report = simulate_to_precision(
        sc,
        precision,
        args.seed,
        chunk=chunk,
        max_trials=max_trials,
        period=getattr(args, "period", None),
        progress=progress,
    )
    if getattr(args, "out", None) is not None:
        from simcore.io import save_dataset

        save_dataset(ds, args.out)
    summary = ds.simcore.summary()
    if getattr(args, "json", False):
        # The summary's keys at the top, as `simcore run --json` prints them, and how it got there.
        _print_json({**summary, "convergence": report.to_dict()})
    else:
        print(summary_table(summary, (sc.stages[0].name, sc.stages[-1].name)))
        print()
        print(errors_table(report.errors, sc.currency))
        print()
        print(report.message())
    # A script must be able to tell "reached" from "gave up at --max-trials" (exit 1: the answer is no).
    return EXIT_OK if report.converged else EXIT_ERROR


# ---------------------------------------------------------------------------------------
# simcore compare


@command(
    "compare",
    "run variants side by side with common random numbers: P10/P50/P90 by year and period, "
    "P(hit), differences and their standard errors",
)
def _setup_compare(p):
    add_scenario_arguments(p)
    add_run_arguments(p)
    p.add_argument(
        "--variants",
        help="comma-separated variant names from the file, e.g. Conservative,Base,Stretch "
        "(default: every variant of the file)",
    )
    p.add_argument(
        "--set-variant",
        action="append",
        metavar="NAME:PATH=VALUE",
        help="a variant made of overrides, e.g. 'Upsell 40%%:by.source.expansion.decision.win=0.4' "
        "(repeat with the same NAME to add more overrides)",
    )
    p.add_argument(
        "--baseline", help="variant the differences are taken against (default: Base, else the first)"
    )
    p.add_argument(
        "--period", choices=["week", "month", "quarter"], help="reporting period (default: the scenario's)"
    )
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    add_dask_argument(p, "run the variants on a Dask cluster")
    return _compare


def parse_set_variants(items) -> dict:
    """``["Upsell:a.b=1", "Upsell:c=2"]`` -> ``{"Upsell": {"a.b": 1, "c": 2}}``."""
    from simcore.cli.options import parse_set
    from simcore.errors import SimcoreError

    out = {}
    for item in items or []:
        name, sep, rest = item.partition(":")
        if not sep or not name.strip() or "=" not in rest:
            raise SimcoreError(f"--set-variant {item!r}: expected NAME:path.to.field=value")
        out.setdefault(name.strip(), {}).update(parse_set([rest]))
    return out


def _compare(args):
    from simcore.analysis.compare import compare
    from simcore.errors import SimcoreError

    if args.variant:
        # Each compared variant is applied to the file as written: one more on top would be
        # silently replaced, so say how to get what was meant.
        raise SimcoreError(
            f"compare takes the variants to run from --variants (e.g. --variants "
            f"{args.variant},Base), not --variant"
        )
    sc = load(args)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
    sets = parse_set_variants(args.set_variant)
    with dask_client(args) as client:
        result = compare(
            sc,
            variants,
            sets,
            trials=args.trials,
            seed=args.seed,
            baseline=args.baseline,
            period=args.period,
            progress=False if args.json else None,
            client=client,
        )
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.text())
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# simcore sensitivity


@command(
    "sensitivity",
    "which assumptions move P50 and P10 bookings most (from the draws, and one at a time), "
    "and each cell's share of the variance",
)
def _setup_sensitivity(p):
    add_scenario_arguments(p)
    add_run_arguments(p)
    p.add_argument(
        "--oat-trials",
        type=int,
        default=2000,
        help="trials per one-at-a-time run (default 2000; 0 skips the swings)",
    )
    p.add_argument(
        "--by",
        metavar="DIM",
        help="swing each assumption separately per value of this dimension (e.g. source)",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_dask_argument(p, "run the trials and the one-at-a-time runs on a Dask cluster")
    return _sensitivity


def _sensitivity(args):
    from simcore.analysis.sensitivity import drawn_sensitivity, one_at_a_time, variance_contributions
    from simcore.engine.simulate import simulate
    from simcore.errors import SimcoreError

    sc = load(args)
    if args.by is not None and args.by not in sc.dimensions:
        raise SimcoreError(f"--by {args.by!r}: the scenario's dimensions are {', '.join(sc.dimensions)}")
    if args.oat_trials < 0:
        raise SimcoreError("--oat-trials must be 0 or more")
    with dask_client(args) as client:
        ds = simulate(
            sc, trials=args.trials, seed=args.seed, progress=False if args.json else None, client=client
        )
        drawn = drawn_sensitivity(ds, sc)
        oat = (
            one_at_a_time(sc, args.oat_trials, args.seed, by=args.by, client=client)
            if args.oat_trials
            else None
        )
    shares = variance_contributions(ds)
    dims = list(sc.dimensions)
    by_cell = {
        "/".join(map(str, idx)): float(shares.sel(dict(zip(dims, idx))))
        for idx in __import__("itertools").product(*[list(shares[d].values) for d in dims])
    }
    by_dim = {
        d: {str(v): float(shares.sum([x for x in dims if x != d]).sel({d: v})) for v in shares[d].values}
        for d in dims
    }
    if args.json:
        out = {
            "trials": args.trials,
            "seed": args.seed,
            "drawn": drawn.to_dict(),
            "one_at_a_time": oat.to_dict() if oat else None,
            "variance_by_cell": by_cell,
        }
        out.update({f"variance_by_{d}": v for d, v in by_dim.items()})
        _print_json(out)
        return EXIT_OK
    cur = sc.currency
    print(f"{sc.name}: sensitivity of annual bookings ({args.trials:,} trials, seed {args.seed})")
    print()
    print(_drawn_text(drawn, cur))
    if oat and oat.rows:
        print()
        print(_swings_text(oat, cur))
    print()
    for d in dims:
        rows = [[v, s] for v, s in sorted(by_dim[d].items(), key=lambda kv: -kv[1])]
        print(
            fmt.text_table(
                rows, [f"Variance share by {d}", "cov(x, total) / var(total)"], ["text", "percent"]
            )
        )
        print()
    top = sorted(by_cell.items(), key=lambda kv: -kv[1])[:5]
    print("Largest cells: " + ", ".join(f"{c} {percent(s)}" for c, s in top))
    return EXIT_OK


def _pairs(lows, highs, kind, cur, sep) -> list:
    """``low sep high`` per row, lows and highs each one column of one precision."""
    lo, hi = fmt.column(lows, kind, cur), fmt.column(highs, kind, cur)
    return [f"{a}{sep}{b}" for a, b in zip(lo, hi)]


def _drawn_text(drawn, cur) -> str:
    """The regression-on-the-draws table, in words and the scenario's currency."""
    if not drawn.rows:
        return "No assumption is uncertain in this scenario: the spread is deal-level noise only."
    rs = drawn.rows
    cols = [
        [r["name"] for r in rs],  # the name a --set override takes
        [str(r["columns"]) for r in rs],
        fmt.column([r["importance"] for r in rs], "percent"),
        [f"{r['spearman']:+.2f}" for r in rs],
        _pairs([r["p50_low"] for r in rs], [r["p50_high"] for r in rs], "money", cur, " -> "),
        _pairs([r["p10_low"] for r in rs], [r["p10_high"] for r in rs], "money", cur, " -> "),
    ]
    header = [
        "From the draws (rank regression)",
        "cells",
        "variance share",
        "max rho",
        "P50 low -> high half",
        "P10 low -> high half",
    ]
    return (
        table([list(r) for r in zip(*cols)], header)
        + f"\nThe assumptions explain {percent(drawn.r_squared)} of the (ranked) variance; the rest is "
        "deal-level noise. Per-cell draws are independent, so a parameter drawn in many cells partly "
        "averages out."
    )


def _setting_text(value, kind, cur) -> str:
    values = value if isinstance(value, list) else [value]
    return "..".join(dict.fromkeys(fmt.column(values, kind, cur)))


def _swings_text(oat, cur) -> str:
    """The one-at-a-time table: settings in their units, P50 / P10 in one precision per column."""
    rs = oat.rows
    settings = [
        f"{_setting_text(r['low_value'], assumption_kind(r['name']), cur)} / "
        f"{_setting_text(r['high_value'], assumption_kind(r['name']), cur)}"
        for r in rs
    ]
    cols = [
        [r["name"] for r in rs],  # the name a --set override takes
        settings,
        _pairs([r["p50"]["low"] for r in rs], [r["p50"]["high"] for r in rs], "money", cur, " .. "),
        fmt.column([r["p50"]["swing"] for r in rs], "money", cur),
        _pairs([r["p10"]["low"] for r in rs], [r["p10"]["high"] for r in rs], "money", cur, " .. "),
        fmt.column([r["p10"]["swing"] for r in rs], "money", cur),
    ]
    header = ["One at a time (a row's cells together)", "low / high", "P50", "P50 swing", "P10", "P10 swing"]
    base50, base10 = fmt.exact_money(oat.base["p50"], cur), fmt.exact_money(oat.base["p10"], cur)
    return (
        table([list(r) for r in zip(*cols)], header)
        + f"\nBase: P50 {base50}, P10 {base10} ({oat.trials:,} trials per run, same seed: swings are paired)."
    )
