"""The ``simcore`` command line.

Every command reports bad input as one clear line per problem on stderr and exits
with code 2; it never shows a traceback for a user's mistake. Files are written
atomically (a temporary file in the same folder, then renamed), so an interrupted
run leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from simcore.cli.scale import add_scale_arguments, apply_sampling, scale_options
from simcore.errors import ScenarioError, SimcoreError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def default_scenario() -> Path:
    """The bundled default scenario (``scenarios/fy2026.toml``)."""
    here = Path(__file__).resolve().parents[2] / "scenarios" / "fy2026.toml"
    if here.exists():
        return here
    return Path.cwd() / "scenarios" / "fy2026.toml"


def parse_set(items) -> dict:
    """``["a.b=1", "c=text"]`` -> ``{"a.b": 1, "c": "text"}`` (values in TOML syntax)."""
    from simcore.scenario.overrides import parse_value

    out = {}
    for item in items or []:
        if "=" not in item:
            raise SimcoreError(f"--set {item!r}: expected path.to.field=value")
        path, value = item.split("=", 1)
        if not path.strip():
            raise SimcoreError(f"--set {item!r}: the field path is empty")
        out[path.strip()] = parse_value(value.strip())
    return out


def load(args):
    """The scenario named by ``args`` with its variant and ``--set`` overrides."""
    from simcore.scenario.load import load_scenario

    path = args.scenario or default_scenario()
    return load_scenario(
        path, variant=getattr(args, "variant", None), overrides=parse_set(getattr(args, "set", None))
    )


def _positive_int(text):
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**63), got {value}")
    return value


def add_scenario_arguments(p, optional=True):
    """The arguments every command that reads a scenario shares."""
    p.add_argument(
        "scenario",
        nargs="?" if optional else None,
        default=None,
        help="scenario TOML file" + (" (default: the bundled scenarios/fy2026.toml)" if optional else ""),
    )
    p.add_argument("--variant", help="apply a named variant from the file's [variants]")
    p.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="override a scenario value, e.g. --set defaults.decision.win=0.3 (repeatable)",
    )


def add_run_arguments(p, trials_optional=False):
    """``--trials`` and ``--seed``. With ``trials_optional`` an omitted ``--trials`` is None
    (the command then tells "not given" from the default 10,000).
    """
    p.add_argument(
        "--trials",
        type=_positive_int,
        default=None if trials_optional else 10_000,
        help="Monte Carlo trials (default 10000)",
    )
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"simcore: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


COMMANDS = {}


def command(name, help_text):
    """Register ``simcore NAME``: the decorated function gets the parser, returns the handler."""

    def register(setup):
        COMMANDS[name] = (help_text, setup)
        return setup

    return register


@command("run", "simulate a scenario and print bookings P10/P50/P90")
def _setup_run(p):
    add_scenario_arguments(p)
    add_run_arguments(p, trials_optional=True)
    p.add_argument(
        "--period", choices=["week", "month", "quarter"], help="reporting period (default: the scenario's)"
    )
    p.add_argument("--out", help="write the full result as netCDF (.nc)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--precision",
        metavar="REL",
        help="instead of --trials: add trials until P50 and P10 annual "
        "bookings are within this relative error at 95%%, e.g. 0.5%% (see simcore converge)",
    )
    add_scale_arguments(p)
    return _run


def _run(args):
    from simcore.engine.simulate import simulate
    from simcore.report.text import summary_table

    if args.out is not None:
        from simcore.io import check_out_file

        check_out_file(args.out)  # before the run, not after it
    apply_sampling(args)
    if args.precision:
        from simcore.cli.analytics import run_to_precision

        if args.trials is not None:
            raise SimcoreError(
                "give --trials or --precision, not both: --precision adds trials until the "
                "precision is reached"
            )
        return run_to_precision(args)
    args.trials = 10_000 if args.trials is None else args.trials
    sc = load(args)
    with scale_options(args, sc, quiet=args.quiet or args.json) as options:
        ds = simulate(
            sc,
            trials=args.trials,
            seed=args.seed,
            period=args.period,
            progress=False if args.quiet or args.json else None,
            **options,
        )
    if args.out is not None:
        from simcore.io import save_dataset

        save_dataset(ds, args.out)
    summary = ds.simcore.summary()
    from simcore.analysis.convergence import headline_errors
    from simcore.cli.analytics import errors_table
    from simcore.format import json_safe

    errors = headline_errors(ds)  # every headline figure with its Monte-Carlo standard error
    if args.json:
        print(json.dumps({**summary, "mc_errors": json_safe(errors)}, indent=2))
    else:
        print(summary_table(summary))
        print("\n" + errors_table(errors, sc.currency))
        if args.out is not None:
            print(f"\nFull result written to {args.out}")
    return EXIT_OK


@command("validate", "check a scenario file and say exactly what is wrong")
def _setup_validate(p):
    add_scenario_arguments(p, optional=False)
    return _validate


def _validate(args):
    from simcore.errors import Problem

    sc = load(args)
    # A variant is only applied when asked for: check each one too, so a broken Conservative
    # is found now rather than on the day someone runs it.
    problems = []
    for name in [] if args.variant else sc.variants:
        try:
            sc.with_variant(name)
        except ScenarioError as exc:
            problems.extend(
                Problem(p.file, p.path, f"{p.message} (with variant {name!r})") for p in exc.problems
            )
    if problems:
        raise ScenarioError(problems)
    n_bank = len(sc.bank)
    print(
        f"{args.scenario}: OK: scenario {sc.name!r}, {len(sc.cells)} cells "
        f"({' x '.join(f'{len(v)} {k}' for k, v in sc.dimensions.items())}), {len(sc.stages)} stages, "
        f"{n_bank} open deal{'s' if n_bank != 1 else ''} in the starting bank"
        + (f"; variants {', '.join(sc.variants)} OK" if sc.variants and not args.variant else "")
    )
    return EXIT_OK


@command("schema", "print the JSON Schema of scenario files")
def _setup_schema(p):
    return _schema


def _schema(args):
    from simcore.scenario.spec import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def build_parser():
    from simcore._version import __version__

    parser = _Parser(prog="simcore", description="Monte Carlo planning of B2B bookings under uncertainty.")
    parser.add_argument("--version", action="version", version=f"simcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    handlers = {}
    _load_plugins()
    for name, (help_text, setup) in COMMANDS.items():
        # argparse %-formats ``help`` (for %(default)s), not ``description``: a literal
        # percent sign, as in "95% confidence", must be doubled in the one and not the other.
        p = sub.add_parser(name, help=help_text.replace("%", "%%"), description=help_text)
        handlers[name] = setup(p)
    return parser, handlers


def _load_plugins():
    """Import the modules that register more commands (analytics, optimizer)."""
    import importlib

    for module in ("simcore.cli.analytics", "simcore.cli.report", "simcore.cli.optimize"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def main(argv=None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command not in ("validate", "schema"):
            import simcore.accessor  # noqa: F401  (registers ds.simcore; lazy: validate needs no xarray)
        return handlers[args.command](args)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        n = len(exc.problems)
        print(f"{n} problem{'s' if n != 1 else ''} found; nothing was run.", file=sys.stderr)
        return EXIT_USAGE
    except SimcoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """Console-script entry point.

    Leaves with :func:`os._exit` once the command has returned: tearing the interpreter
    down after numba's compiler has been loaded (tens of thousands of objects) and a run's
    arrays freed takes about 0.3 s, more than some runs themselves. By then every file is
    written and closed (:func:`simcore.io.write_atomic`), so only the standard streams need a flush.
    An exception still leaves the normal way, with its traceback.
    """
    try:
        code = main()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        # `simcore run | head`: the reader has gone. Not an error worth a traceback
        # (the recipe of the Python docs, "Note on SIGPIPE").
        code = 1
    os._exit(code)
