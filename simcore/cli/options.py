"""What every ``simcore`` command shares: the command registry, the argument parser and its
number parsers, the scenario and run arguments, loading the scenario, and the exit codes.

Command modules (``simcore.cli.analytics``, ``report``, ``optimize``, ``examples``) import this
module and register their commands with :func:`command`; ``simcore.cli.app`` imports them and
runs the command line. Nothing here imports a command module.

Every number on the command line goes through one parser here. argparse's ``type=int`` and
``type=float`` are routed to :func:`whole_number` and :func:`finite_number` as well
(:class:`Parser` registers them), so a command that asks for a plain ``int`` still refuses
``--trials 1e400`` or a 5,000-digit number with one clear line and exit code 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from simcore.errors import SimcoreError

EXIT_OK = 0
EXIT_ERROR = 1  # the command ran and the answer is "no" (e.g. optimize: the target cannot be met)
EXIT_USAGE = 2  # bad input: the command line, a scenario file, an output path
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports a process stopped by SIGINT (128 + 2)

MAX_WHOLE = 2**63 - 1  # what a 64-bit count holds; every whole-number option stays within it


def _shown(text: str) -> str:
    """``text`` quoted for a message, cut short if someone pasted a novel."""
    return repr(text) if len(text) <= 40 else repr(text[:30] + "...") + f" ({len(text):,} characters)"


def whole_number(text, minimum: int = 0, maximum: int = MAX_WHOLE, what: str = "a whole number") -> int:
    """A whole number from the command line: ``"10000"``, ``"10_000"`` or ``"10,000"``.

    Parameters
    ----------
    text : str
    minimum, maximum : int
        The range allowed, both included.
    what : str
        What is expected, for the message.

    Returns
    -------
    int

    Raises
    ------
    argparse.ArgumentTypeError
        One line saying what is wrong (argparse prefixes the option's name).

    Examples
    --------
    >>> whole_number("10_000"), whole_number("2,000", minimum=1)
    (10000, 2000)
    """
    raw = str(text).strip()
    digits = raw.replace("_", "").replace(",", "")
    body = digits[1:] if digits[:1] in "+-" else digits
    if not body.isdigit() or not body.isascii():
        hint = " (no decimals or exponents)" if _is_number(digits) else ""
        raise argparse.ArgumentTypeError(f"expected {what}{hint}, got {_shown(raw)}")
    if len(body.lstrip("0")) > 19:  # before int(): Python refuses to convert over 4,300 digits
        raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {_shown(raw)}")
    value = int(digits)
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum:,}, got {value:,}")
    if value > maximum:
        raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {_shown(raw)}")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def finite_number(text) -> float:
    """A finite number from the command line (``inf``, ``nan`` and ``1e400`` are refused).

    Examples
    --------
    >>> finite_number("2.5e6")
    2500000.0
    """
    raw = str(text).strip()
    try:
        value = float(raw.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {_shown(raw)}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {_shown(raw)}")
    return value


def positive_int(text) -> int:
    """A whole number of at least 1 (trials, chunks)."""
    return whole_number(text, minimum=1)


def count(minimum: int = 0):
    """A parser of whole numbers of at least ``minimum``, for ``type=``."""

    def parse(text):
        return whole_number(text, minimum=minimum)

    parse.__name__ = f"count_from_{minimum}"
    return parse


def seed(text) -> int:
    """A random seed: a whole number in [0, 2**63)."""
    try:
        return whole_number(text, 0, 2**63 - 1)
    except argparse.ArgumentTypeError as exc:
        if "expected" in str(exc):
            raise
        raise argparse.ArgumentTypeError(f"must be in [0, 2**63), got {_shown(str(text).strip())}") from None


def fraction(text) -> float:
    """A number strictly between 0 and 1, e.g. a confidence of ``0.9``."""
    try:
        value = finite_number(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a number like 0.9, got {_shown(str(text))}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1 (e.g. 0.9), got {_shown(text)}")
    return value


def money(text) -> float:
    """An amount in the scenario's currency, above 0: ``"8650000"``, ``"8,650,000"``, ``"8.65e6"``."""
    try:
        value = finite_number(str(text).replace(",", ""))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected an amount in dollars, got {_shown(str(text))}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {_shown(text)}")
    return value


def names(text) -> list:
    """Comma-separated names (``"Conservative,Base"``); at least one, none empty."""
    items = [v.strip() for v in str(text).split(",")]
    if not any(items):
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {_shown(str(text))}")
    if not all(items):
        raise argparse.ArgumentTypeError(f"a name between the commas is empty in {_shown(str(text))}")
    return items


class Parser(argparse.ArgumentParser):
    """argparse, with one-line errors (exit code 2) and every number through this module's parsers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commands = {}  # the top parser's subcommand parsers, by name (for their own errors)
        # argparse looks a ``type=`` up in this registry before calling it: a plain int or float
        # option of any command gets the bounded parsers, with their messages.
        self.register("type", int, whole_number_any_sign)
        self.register("type", float, finite_number)

    def error(self, message):
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def whole_number_any_sign(text) -> int:
    """What ``type=int`` means here: a whole number within 64 bits, of either sign."""
    return whole_number(text, minimum=-MAX_WHOLE - 1)


# ---- the command registry ---------------------------------------------------------------------

COMMANDS = {}
"""``name -> (help text, setup)``; ``setup(parser)`` adds the arguments and returns the handler."""


def command(name, help_text):
    """Register ``simcore NAME``: the decorated function gets the parser, returns the handler."""

    def register(setup):
        COMMANDS[name] = (help_text, setup)
        return setup

    return register


# ---- the scenario a command reads -------------------------------------------------------------


def default_scenario():
    """The bundled default scenario (the fy2026 example), wherever simcore is installed."""
    from simcore.examples import example_path

    return example_path()


def add_scenario_arguments(p, optional=True):
    """The arguments every command that reads a scenario shares."""
    p.add_argument(
        "scenario",
        nargs="?" if optional else None,
        default=None,
        help="scenario TOML file"
        + (" (default: the bundled example fy2026; see simcore examples)" if optional else ""),
    )
    p.add_argument("--variant", help="apply a named variant from the file's [variants]")
    p.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="override a scenario value, e.g. --set defaults.decision.win=0.3 (repeatable)",
    )
    p.add_argument(
        "--allow-bank-outside",
        action="store_true",
        help="let the scenario's bank.csv name a file outside the scenario's folder "
        "(refused by default: a scenario from someone else must not read your other files)",
    )


def add_run_arguments(p, trials_optional=False):
    """``--trials`` and ``--seed``. With ``trials_optional`` an omitted ``--trials`` is None
    (the command then tells "not given" from the default 10,000).
    """
    p.add_argument(
        "--trials",
        type=positive_int,
        default=None if trials_optional else 10_000,
        help="Monte Carlo trials (default 10000)",
    )
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")


def scenario_path(args):
    """The scenario file a command reads: the one given, else the bundled default.

    Raises
    ------
    SimcoreError
        For an empty path (``simcore run ''`` is a mistake, not a request for the default) or
        one with a NUL character.
    """
    given = getattr(args, "scenario", None)
    if given is None:
        return default_scenario()
    if given == "":
        raise SimcoreError(
            "the scenario path is empty; give a scenario file, or leave it out to run the bundled example fy2026"
        )
    if "\0" in given:
        raise SimcoreError(f"the scenario path {given!r} contains a NUL character")
    return given


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

    return load_scenario(
        scenario_path(args),
        variant=getattr(args, "variant", None),
        overrides=parse_set(getattr(args, "set", None)),
        allow_bank_outside=getattr(args, "allow_bank_outside", False),
    )


def scenario_inputs(args, sc=None) -> list:
    """The files a run reads: the scenario, and once it is loaded, its bank CSV.

    An output that is one of these is refused (:func:`simcore.io.check_not_an_input`).
    """
    inputs = [scenario_path(args)]
    raw_bank = getattr(sc, "raw", {}).get("bank") if sc is not None else None
    csv = raw_bank.get("csv") if isinstance(raw_bank, dict) else None
    if isinstance(csv, str) and csv:
        inputs.append(Path(sc.base_dir or ".") / csv)
    return inputs
