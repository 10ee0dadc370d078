"""``simcore run``'s options for big runs: sampling, streaming, memory, Dask (``--dask`` also
for ``compare``, ``sensitivity`` and ``optimize``: :func:`add_dask_argument`, :func:`dask_client`).

Kept in one place so that ``simcore run``'s setup adds them with one call
(:func:`add_scale_arguments`) and its handler uses them with one context manager
(:func:`scale_options`).
"""

from __future__ import annotations

import contextlib
import os
import sys

from simcore.errors import SimcoreError


def add_scale_arguments(p) -> None:
    """Add ``--sampling``, ``--stream/--no-stream``, ``--max-memory`` and ``--dask`` to ``p``."""
    p.add_argument(
        "--sampling",
        choices=["random", "lhs", "sobol"],
        help="how each trial's assumptions and market factor are drawn: plain Monte Carlo, "
        "replicated Latin hypercube or scrambled Sobol' (default: the scenario's sampling, else random)",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--stream",
        dest="stream",
        action="store_const",
        const=True,
        default="auto",
        help="keep per trial only the headline figures (bookings and deals won by period, "
        "pipeline created by stage) and every other output as its mean and sd over trials "
        "(default: when the full result would pass 1 GB)",
    )
    group.add_argument(
        "--no-stream",
        dest="stream",
        action="store_const",
        const=False,
        help="keep every output of every trial",
    )
    p.add_argument(
        "--max-memory",
        metavar="SIZE",
        help="refuse a run that would need more memory than this, e.g. 4GB "
        "(default: the machine's available memory, or $SIMCORE_MAX_MEMORY)",
    )
    add_dask_argument(p, "run the trials on a Dask cluster")


def add_dask_argument(p, what: str) -> None:
    """Add ``--dask ADDRESS|local:N`` to ``p``; ``what`` says what runs there."""
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        type=_dask_address,
        help=f"{what}: a scheduler address (tcp://host:8786) or local:N "
        "for N local worker processes (needs pip install 'simcore[dask]'); the same results",
    )


@contextlib.contextmanager
def dask_client(args):
    """The Dask client ``--dask`` asks for (None without it), closed (with its local cluster) after."""
    if not getattr(args, "dask", None):
        yield None
        return
    # Lazy: Dask is an optional extra, slow to import; only --dask needs it.
    from simcore.engine.distributed import connect

    client = connect(args.dask)
    try:
        yield client
    finally:
        client.close()


def _dask_address(text: str) -> str:
    import argparse

    if text.startswith("local:"):
        if not text[6:].isdigit() or not 1 <= int(text[6:]) <= 1024:
            raise argparse.ArgumentTypeError(f"expected local:N with N a whole number from 1, got {text!r}")
    elif not text.strip() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(
            f"expected a scheduler address such as tcp://host:8786, got {text!r}"
        )
    return text


def apply_sampling(args) -> None:
    """``--sampling X`` as the override ``--set sampling="X"``, so every path (``--precision``
    included) samples that way and the result's scenario hash says so.
    """
    if getattr(args, "sampling", None):
        args.set = [*(args.set or []), f'sampling="{args.sampling}"']


@contextlib.contextmanager
def scale_options(args, scenario, quiet: bool):
    """The keyword arguments of :func:`simcore.engine.simulate.simulate` from the options,
    with a Dask client open for the run's duration and a word on stderr when the run will
    be long.
    """
    from simcore.engine.compile import compile_scenario
    from simcore.engine.memory import CAP_VARIABLE, parse_bytes

    previous = os.environ.get(CAP_VARIABLE)
    if args.max_memory is not None:
        try:
            parse_bytes(args.max_memory)  # a clear error now, naming the option given
        except SimcoreError:
            raise SimcoreError(
                f"--max-memory {args.max_memory!r}: expected a size such as 8GB or 512MiB"
            ) from None
        os.environ[CAP_VARIABLE] = args.max_memory  # for this run only: restored below
    client = None
    try:
        model = compile_scenario(scenario, args.period)
        if not quiet:
            _say_how_long(model, args)
        if args.dask:
            from simcore.engine.distributed import connect

            client = connect(args.dask)
        yield {"stream": args.stream, "client": client, "model": model}
    finally:
        if client is not None:
            client.close()
        if args.max_memory is not None:
            if previous is None:
                os.environ.pop(CAP_VARIABLE, None)
            else:
                os.environ[CAP_VARIABLE] = previous


def _say_how_long(model, args) -> None:
    from simcore.engine.simulate import memory_estimate, resolve_stream

    stream = resolve_stream(model, args.trials, args.stream)
    e = memory_estimate(model, args.trials, stream)
    if e.seconds > 30 and e.fits:
        print(
            f"{args.trials:,} trials: roughly {e.seconds / 60:.1f} min on a free machine, "
            f"{e.total / 1e9:.2g} GB of memory" + (" (streamed)" if stream else ""),
            file=sys.stderr,
        )
