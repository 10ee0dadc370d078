"""``simcore optimize --as-of``: re-plan what is left of the year, as text.

The options are ``simcore forecast``'s (:func:`simcore.cli.forecast.add_as_of_arguments`) and
``--carryover``; :func:`as_of_lines` is what the report says before and after the plan.
"""

from __future__ import annotations

import sys

from simcore.cli.calibrate import parse_map
from simcore.cli.forecast import require_export_after_start
from simcore.errors import SimcoreError
from simcore.format import money, percent, table


def add_carryover_argument(p):
    p.add_argument(
        "--carryover",
        choices=["next", "even", "optimize"],
        default=None,
        help="with --as-of and --opportunities: show creation planned to date vs created by source, and "
        "spread the shortfall (or surplus) over what remains: all into the next period, evenly over the "
        "days left, or as the optimizer chooses",
    )


def as_of_state_of(args, sc):
    """The :class:`~simcore.forecast.asof.AsOf` the options ask for (None without ``--as-of``)."""
    carry = getattr(args, "carryover", None)
    if args.as_of is None:
        for flag, value in (
            ("--opportunities", args.opportunities),
            ("--history", args.history),
            ("--map", args.map),
            ("--stages", args.stages),
            ("--carryover", carry),
        ):
            if value:
                raise SimcoreError(f"{flag} needs --as-of: the date the year is re-planned from")
        return None
    if carry and not args.opportunities:
        raise SimcoreError(
            "--carryover needs --opportunities: the creation so far is read from the opportunity export"
        )
    if args.history and not args.opportunities:
        raise SimcoreError(
            "--history needs --opportunities: the stage history rebuilds the export's open deals"
        )
    if getattr(args, "programs", False):
        raise SimcoreError("--as-of re-plans the creation plan; it does not combine with --programs")
    require_export_after_start(args, sc)
    # Lazily, as every command: pandas' parsers load only for an as-of re-plan.
    from simcore.forecast.asof import as_of_state

    state = as_of_state(
        sc,
        args.opportunities,
        args.as_of,
        history=args.history,
        columns=parse_map(args.map),
        stages=args.stages,
    )
    for w in state.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return state


def as_of_lines(res) -> list:
    """The re-plan's header: what is known on the date, and the creation still to come."""
    a, cur = res.as_of, res.currency

    def m(v):
        return money(v, cur)

    q = res.quarters
    lines = [
        f"As of {a['as_of']}: actual bookings {m(a['actual_bookings'])} ({a['actual_deals']:,} deals won), "
        f"open pipeline {a['open_deals']:,} deals {m(a['open_pipeline'])}, target left {m(a['target_left'])}.",
        f"Quarters over: {', '.join(a['closed_quarters']) or 'none'} (no creation planned in them); "
        f"{a['current_quarter']} is under way (only its days still to come create).",
    ]
    lines += [f"Relaxed: {r}" for r in a["relaxed"]]
    rows = [
        [s] + [m(a["still_to_create"][s][k]) for k in q] + [m(sum(a["still_to_create"][s].values()))]
        for s in res.sources
    ]
    lines += [
        "",
        "Stage-1 creation still to come (the optimizer's re-plan)",
        table(rows, ["source"] + q + ["total"]),
    ]
    c = a.get("carryover")
    if c:
        rows = [
            [r["source"], m(r["planned_to_date"]), m(r["created_to_date"]), _signed(r["shortfall"], cur)]
            for r in c["rows"]
        ]
        lines += [
            "",
            "Creation so far against the plan (shortfall: planned to date - created; negative: ahead)",
            table(rows, ["source", "planned to date", "created to date", "shortfall"]),
        ]
        if c["rule"] != "optimize":
            rows = [
                [r["source"]] + [m(r["replan"][k]) for k in q] + [m(sum(r["replan"].values()))]
                for r in c["rows"]
            ]
            how = "all into the next period" if c["rule"] == "next" else "spread evenly over the days left"
            lines += [
                f"Re-plan by the carryover rule '{c['rule']}' (the plan's remaining creation + the shortfall, {how})",
                table(rows, ["source"] + q + ["total"]),
                f"Simulated, the rule's re-plan ({m(c['total'])}) reaches {percent(c['confidence_in_sample'])}; "
                f"the optimizer's ({m(a['optimizer']['total'])}) {percent(a['optimizer']['confidence_in_sample'])} "
                f"(same {res.trials:,} trials), against {percent(res.confidence_target, 0)} asked.",
            ]
            if c["unused"] > 0:
                lines.append(
                    f"A surplus of {m(c['unused'])} was larger than the quarter it went to: left unused."
                )
        else:
            lines.append("Carryover 'optimize': the optimizer's re-plan above is the re-plan.")
    lines += [
        "Spreadsheet comparison and day-one bank: not computed as of a date (the year is under way).",
        "",
    ]
    return lines


def _signed(value, cur):
    return ("+" if value >= 0 else "-") + money(abs(value), cur)
