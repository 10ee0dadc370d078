"""The ``simcore`` command line: the ``run``, ``validate`` and ``schema`` commands, and :func:`main`.

Every command reports bad input as one clear line per problem on stderr and exits
with code 2; it never shows a traceback for a user's mistake. Ctrl-C anywhere prints
``interrupted`` and exits with code 130. Files are written atomically (a temporary file in the
same folder, then renamed), so an interrupted run leaves nothing half-written.

The other commands live in their own modules (``simcore.cli.analytics``, ``report``,
``optimize``, ``examples``), which register themselves with :func:`simcore.cli.options.command`;
this module imports them, never the other way round.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys

from simcore.cli.options import (
    COMMANDS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    add_run_arguments,
    add_scenario_arguments,
    command,
    default_scenario,
    load,
    parse_set,
    scenario_inputs,
)
from simcore.cli.scale import add_scale_arguments, apply_sampling, scale_options
from simcore.errors import ScenarioError, SimcoreError

# Re-exported: tests and scripts written against the single-module command line import these here.
__all__ = ["COMMANDS", "default_scenario", "entry", "main", "parse_set"]

# The modules that register the other commands, in the order ``simcore --help`` lists them.
COMMAND_MODULES = (
    "simcore.cli.analytics",
    "simcore.cli.report",
    "simcore.cli.optimize",
    "simcore.cli.programs",
    "simcore.cli.examples",
    "simcore.cli.calibrate",
    "simcore.cli.forecast",
    "simcore.cli.backtest",
)


_WRITTEN = {
    "netcdf": "Full result",
    "csv": "Per-trial figures",
    "parquet": "Per-trial figures",
    "json": "Summary",
}


@command("run", "simulate a scenario and print bookings P10/P50/P90")
def _setup_run(p):
    add_scenario_arguments(p)
    add_run_arguments(p, trials_optional=True)
    p.add_argument(
        "--period", choices=["week", "month", "quarter"], help="reporting period (default: the scenario's)"
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="also write the result; the extension names the format: .nc (netCDF, the full result), "
        ".csv or .parquet (one row per trial: bookings by period, creation, target hit), "
        ".json (the summary)",
    )
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
    from simcore.engine.simulate import preload_xarray, simulate
    from simcore.io import check_not_an_input, check_result_file, output_format, save_dataset

    if args.out is not None:
        check_result_file(args.out, scenario_inputs(args))  # before the run, not after it
    apply_sampling(args)
    if args.precision:
        import simcore.accessor  # registers ds.simcore, which the convergence loop reads
        from simcore.cli.analytics import run_to_precision

        if args.trials is not None:
            raise SimcoreError(
                "give --trials or --precision, not both: --precision adds trials until the "
                "precision is reached"
            )
        return run_to_precision(args)
    args.trials = 10_000 if args.trials is None else args.trials
    sc = load(args)
    if args.out is not None:
        check_not_an_input(args.out, scenario_inputs(args, sc))  # the bank CSV is known now
    progress = False if args.quiet or args.json else None
    with scale_options(args, sc, quiet=args.quiet or args.json) as options:
        _CtrlC.check()  # a Ctrl-C lost in numba's compiler callbacks: stop before the kernel
        if _printed_only(args, options):
            return _print_run(args, sc, options["model"], progress)
        # Imported in a thread while the kernel runs (the summary needs it after); started once
        # the model is compiled, so that it does not contend for the GIL with numba's cache load.
        preload_xarray()
        ds = simulate(
            sc, trials=args.trials, seed=args.seed, period=args.period, progress=progress, **options
        )
    _CtrlC.check()  # a Ctrl-C the import thread's module locks swallowed: nothing printed or written
    # Registers ds.simcore. Only now: main() leaves it to this point so that xarray and pandas
    # (~0.4 s of one core) load in preload_xarray's thread beside the kernel, not before it.
    import simcore.accessor  # noqa: F401
    from simcore.analysis.convergence import headline_errors

    summary, errors = ds.simcore.summary(), headline_errors(ds)
    if args.out is not None:
        save_dataset(ds, args.out, summary=_document(summary, errors))
    _print_summary(args, summary, errors, sc.currency)
    if args.out is not None and not args.json:
        print(f"\n{_WRITTEN[output_format(args.out)]} written to {args.out}")
    return EXIT_OK


def _printed_only(args, options) -> bool:
    """Whether the run is only printed, here: no ``--out``, no Dask, no ``--no-stream`` (which
    asks for every output kept), no capacity to report (its open deals need the bank at
    period boundaries).
    """
    if args.out is not None or options["client"] is not None or options["stream"] is False:
        return False
    return options["model"].capacity is None


def _print_run(args, sc, model, progress) -> int:
    """A run that is only printed: its headline figures straight from the kernel's outputs
    (:func:`simcore.engine.simulate.simulate_headline`), the same bits as a run with ``--out``
    prints, without building the Dataset: xarray and pandas (~0.4 s of one core) are never
    imported, and the kernel skips the bank, due and slip bookkeeping at period boundaries
    (~20% of it) that nothing printed needs.
    """
    from simcore.analysis import headline
    from simcore.engine.simulate import simulate_headline

    figures = simulate_headline(
        sc, args.trials, args.seed, period=args.period, progress=progress, model=model
    )
    run = figures.pop("run")
    _CtrlC.check()
    errors = headline.errors(
        figures["bookings_amount"], run["periods"], run["target"], run["sampling"], run["trial"]
    )
    _print_summary(args, headline.summary(figures, run, run["target"]), errors, sc.currency)
    return EXIT_OK


def _document(summary: dict, errors: dict) -> dict:
    """``simcore run --json``: the summary, and every headline figure's Monte-Carlo error."""
    from simcore.format import json_safe

    return {**summary, "mc_errors": json_safe(errors)}


def _print_summary(args, summary: dict, errors: dict, currency: str) -> None:
    """The run's summary and errors on stdout: as JSON with ``--json``, else as tables."""
    from simcore.cli.analytics import errors_table
    from simcore.report.text import summary_table

    if args.json:
        print(json.dumps(_document(summary, errors), indent=2))
        return
    print(summary_table(summary))
    print("\n" + errors_table(errors, currency))


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
    from simcore.scenario.reference import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


class _Version(argparse.Action):
    """``--version``, reading the version only when asked (importlib.metadata is slow to import)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        # lazy: importlib.metadata costs ~30-70 ms, a fifth of `simcore validate`
        from simcore._version import __version__

        print(f"simcore {__version__}")  # on stdout, as argparse's own version action does
        parser.exit()


def build_parser():
    parser = Parser(prog="simcore", description="Monte Carlo planning of B2B bookings under uncertainty.")
    parser.add_argument("--version", action=_Version, help="show program's version number and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    handlers = {}
    _load_command_modules()
    for name, (help_text, setup) in COMMANDS.items():
        # argparse %-formats ``help`` (for %(default)s), not ``description``: a literal
        # percent sign, as in "95% confidence", must be doubled in the one and not the other.
        p = sub.add_parser(name, help=help_text.replace("%", "%%"), description=help_text)
        handlers[name] = setup(p)
        parser.commands[name] = p
    return parser, handlers


def _load_command_modules():
    """Import the modules that register the other commands (a module left out of an install is skipped)."""
    import importlib

    for module in COMMAND_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def _complete(parser) -> None:
    """Answer the shell's completion request, if this is one (``simcore completion`` sets it up).

    argcomplete is imported only when the shell asks, so that it costs nothing otherwise.
    """
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete  # lazy: optional (simcore[completion]), and only for completion requests
    except ImportError:
        return
    argcomplete.autocomplete(parser)  # prints the candidates and exits


class _CtrlC:
    """SIGINT raises :class:`KeyboardInterrupt` as Python's own handler does, and remembers it.

    Python runs a signal's handler between bytecodes of the main thread, and an exception it
    raises inside a weakref callback or a ``__del__`` is printed ("Exception ignored in ...")
    and lost. While the run's import thread loads xarray, the import system's module-lock
    callbacks run often enough in the main thread that a Ctrl-C landed there, and the run went
    on to the end with exit 0. :meth:`check` raises it again at the next safe point. Such a lost
    Ctrl-C is not printed either (a ctypes callback of numba's compiler printed its traceback
    above "interrupted"): :func:`sys.unraisablehook` passes over it while the handler is in place.
    """

    pressed = False

    @classmethod
    def install(cls):
        """Install the handler in place of Python's own; returns a callable that puts it back."""
        import signal
        import threading

        cls.pressed = False
        if threading.current_thread() is not threading.main_thread() or (
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            return lambda: None
        signal.signal(signal.SIGINT, cls._handler)
        hook = sys.unraisablehook

        def unraisable(info):
            if not (cls.pressed and isinstance(info.exc_value, KeyboardInterrupt)):
                hook(info)

        sys.unraisablehook = unraisable

        def restore():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            sys.unraisablehook = hook

        return restore

    @classmethod
    def _handler(cls, signum, frame):
        cls.pressed = True
        raise KeyboardInterrupt

    @classmethod
    def check(cls) -> None:
        if cls.pressed:
            raise KeyboardInterrupt


def main(argv=None) -> int:
    """Run ``simcore ARGV`` (default: ``sys.argv[1:]``); returns the exit code.

    Exit codes: 0 done; 1 the command's answer is no (``optimize``: the target cannot be met);
    2 bad input (one line per problem on stderr); 130 interrupted (Ctrl-C).
    """
    restore = _CtrlC.install()
    try:
        return _main(argv)
    finally:
        restore()


def _main(argv) -> int:
    args = None
    try:
        parser, handlers = build_parser()
        if argv is None:
            _complete(parser)
        args, extra = parser.parse_known_args(argv)
        if extra:
            # Said by the command's own parser: "simcore run: error: ...", with its usage line.
            parser.commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(extra)}")
        if not args.command:
            parser.print_help()
            return EXIT_USAGE
        if args.command not in ("run", "validate", "schema", "examples", "init", "completion"):
            # Registers ds.simcore. Lazy: validate needs no xarray, and run imports it in a
            # thread beside its kernel (see _run).
            import simcore.accessor  # noqa: F401
        code = handlers[args.command](args)
        _CtrlC.check()
        return code
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
        return EXIT_INTERRUPTED
    except (MemoryError, OSError) as exc:
        # The last net under the commands' own checks: what the machine or the file system
        # refuses is the user's to fix (fewer trials, another name), not a bug to trace.
        if isinstance(exc, BrokenPipeError):
            raise  # entry() knows the reader has gone
        print(f"error: {_system_refusal(exc, args)}", file=sys.stderr)
        return EXIT_USAGE


def _system_refusal(exc, args) -> str:
    """One line for a refusal by the machine: out of memory, or a file that cannot be written."""
    if isinstance(exc, MemoryError) or getattr(exc, "errno", None) == errno.ENOMEM:
        trials = getattr(args, "trials", None)
        what = f"{trials:,} trials" if isinstance(trials, int) else "this command"
        return f"not enough memory for {what}: run fewer trials (--trials)"
    where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    return f"{where}{exc.strerror or exc}"


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
    except KeyboardInterrupt:  # a second Ctrl-C while the first was being reported
        code = EXIT_INTERRUPTED
    os._exit(code)
