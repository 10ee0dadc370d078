"""Commands ``simcore examples``, ``simcore init`` and ``simcore completion``: getting started.

``examples`` lists the scenarios that ship with simcore; ``init`` copies one into the current
folder to edit (never replacing a file); ``completion`` prints the shell code that makes the
shell complete simcore's commands and options (with the optional ``simcore[completion]``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from simcore.cli.options import EXIT_OK, command
from simcore.errors import SimcoreError
from simcore.examples import DEFAULT, EXAMPLES


@command("examples", "list the example scenarios that ship with simcore (copy one with simcore init)")
def _setup_examples(p):
    return _examples


def _examples(args) -> int:
    from simcore.examples import examples

    found = examples()
    width = max(len(e.name) for e in found)
    print("Example scenarios (run one as it is with simcore run, or copy it to edit: simcore init):")
    print()
    for e in found:
        notes = [
            n
            for n in (
                "the default" if e.name == DEFAULT else "",
                "with a bank CSV of open deals" if e.bank_csv else "",
            )
            if n
        ]
        print(f"  {e.name:<{width}}  {e.description}" + (f" ({', '.join(notes)})" if notes else ""))
    print()
    print(f"  e.g. simcore init myplan --from {found[-1].name}   then   simcore run myplan.toml")
    print(f"Installed in {found[0].path.parent}")
    return EXIT_OK


@command("init", "write an editable copy of an example scenario (and its bank CSV) into this folder")
def _setup_init(p):
    p.add_argument(
        "name",
        nargs="?",
        help="the new scenario file (NAME.toml, also the scenario's name; default: the example's own file name)",
    )
    p.add_argument(
        "--from",
        dest="example",
        choices=list(EXAMPLES),
        default=DEFAULT,
        help=f"the example to copy (default {DEFAULT}; simcore examples lists them)",
    )
    return _init


def _init(args) -> int:
    from simcore.examples import copy_example, example

    source = example(args.example)
    if args.name is None:
        target = Path(source.path.name)
    elif not args.name.strip():
        raise SimcoreError("the scenario name is empty; give one, e.g. simcore init myplan")
    else:
        target = Path(args.name if args.name.lower().endswith(".toml") else args.name + ".toml")
    written = copy_example(args.example, target)
    also = f" and {', '.join(str(p) for p in written[1:])} (its starting bank)" if written[1:] else ""
    print(f"Wrote {written[0]}{also}: a copy of the example {args.example!r} ({source.description}).")
    print(f"Edit it, then: simcore validate {written[0]} && simcore run {written[0]}")
    return EXIT_OK


SHELLS = ("bash", "zsh", "fish", "tcsh")


@command(
    "completion",
    "print the shell code that completes simcore's commands and options "
    "(needs pip install 'simcore[completion]')",
)
def _setup_completion(p):
    p.add_argument("shell", choices=SHELLS, help="your shell")
    p.epilog = (
        'Add to ~/.bashrc: eval "$(simcore completion bash)"; to ~/.zshrc: eval "$(simcore completion zsh)"; '
        "fish: simcore completion fish > ~/.config/fish/completions/simcore.fish"
    )
    return _completion


def _completion(args) -> int:
    try:
        import argcomplete  # lazy: an optional dependency, needed only here and at a completion request
    except ImportError:
        raise SimcoreError(
            "shell completion needs argcomplete, which is not installed: pip install 'simcore[completion]'"
        ) from None
    sys.stdout.write(argcomplete.shellcode(["simcore"], shell=args.shell))
    return EXIT_OK
