"""Command ``simcore report SCENARIO --out DIR``: PNGs, a self-contained HTML page, CSV and .xlsx.

The report is written atomically (see :func:`simcore.report.document.write_report`): an interrupted or failed
run leaves no half-written file in ``DIR`` and keeps the files already there.
"""

from __future__ import annotations

from simcore.cli.options import EXIT_OK, add_run_arguments, add_scenario_arguments, command, load
from simcore.errors import SimcoreError


@command(
    "report", "write the plan report: charts (PNG), one self-contained HTML page, tables as CSV and .xlsx"
)
def _setup_report(p):
    add_scenario_arguments(p)
    add_run_arguments(p)
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder (created if missing; its parent must exist)",
    )
    p.add_argument(
        "--variants",
        metavar="NAMES",
        help="comma-separated variants to compare side by side (default: all the file's variants; "
        "'none' to leave the comparison out)",
    )
    p.add_argument(
        "--funnel-trials",
        type=int,
        default=None,
        metavar="N",
        help="trials of the funnel-vs-simulation and one-at-a-time sensitivity runs (default: min(trials, 2000))",
    )
    p.add_argument("--json", action="store_true", help="print the headline and the files written as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return _report


def _variants(text):
    if text is None:
        return None
    if text.strip().lower() == "none":
        return []
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise SimcoreError("--variants: give comma-separated variant names or 'none'")
    return names


def _report(args) -> int:
    from simcore.format import money, percent
    from simcore.report.document import build_report, check_out_dir, report_json, write_report
    from simcore.report.plots import exact_money

    check_out_dir(args.out)
    if args.funnel_trials is not None and args.funnel_trials < 2:
        raise SimcoreError(f"--funnel-trials must be at least 2, got {args.funnel_trials}")
    sc = load(args)
    report = build_report(
        sc,
        trials=args.trials,
        seed=args.seed,
        variants=_variants(args.variants),
        funnel_trials=args.funnel_trials,
        progress=False if args.quiet or args.json else None,
    )
    files = write_report(report, args.out)
    if args.json:
        print(report_json(report))
        return EXIT_OK
    h = report.headline
    cur = h["currency"]
    line = (
        f"{report.title}: P50 {money(h['p50'], cur)} (P10 {money(h['p10'], cur)}, P90 {money(h['p90'], cur)})"
    )
    if h["p_hit"] is not None:
        line += f", {percent(h['p_hit'], 0)} chance of hitting {exact_money(h['target'], cur)}"
    print(line)
    for note in report.notes:
        print(f"note: {note}")
    html = [f for f in files if f.name == "report.html"][0]
    print(f"Report written to {html} ({len(files)} files in {args.out})")
    return EXIT_OK
