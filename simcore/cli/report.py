"""Command ``simcore report SCENARIO --out DIR``: PNGs, a self-contained HTML page, CSV and .xlsx.

The report is written atomically (see :func:`simcore.report.write_report`): an interrupted or failed
run leaves no half-written file in ``DIR`` and keeps the files already there.
"""

from __future__ import annotations

from simcore.cli.options import EXIT_OK, add_run_arguments, add_scenario_arguments, command, load
from simcore.errors import SimcoreError
from simcore.format import money, money_pair, percent


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


def headline_line(report) -> str:
    """The report's headline in one line, the P10 with the digits it needs beside the target."""
    h = report.headline
    cur = h["currency"]
    p10 = money(h["p10"], cur)
    line = f"{report.title}: P50 {money(h['p50'], cur)} (P10 {p10}, P90 {money(h['p90'], cur)})"
    if h["p_hit"] is not None:
        p10, target = money_pair(h["p10"], h["target"], cur)
        line = f"{report.title}: P50 {money(h['p50'], cur)} (P10 {p10}, P90 {money(h['p90'], cur)})"
        line += f", {percent(h['p_hit'], 0)} chance of hitting {target}"
    return line


def _report(args) -> int:
    # Lazily: the report pulls in matplotlib and openpyxl, which every other command can do without.
    from simcore.report import build_report, check_out_dir, report_json, write_report

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
    print(headline_line(report))
    for note in report.notes:
        print(f"note: {note}")
    html = [f for f in files if f.name == "report.html"][0]
    print(f"Report written to {html} ({len(files)} files in {args.out})")
    return EXIT_OK
