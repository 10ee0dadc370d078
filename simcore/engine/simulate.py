"""The public simulation API: validate, allocate, run the kernel in chunks, build the Dataset."""

from __future__ import annotations

import json
import mmap
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

import numba
import numpy as np

if TYPE_CHECKING:  # xarray is imported when a Dataset is built (start-up speed)
    import xarray as xr

from simcore import checks
from simcore._version import __version__
from simcore.engine.compile import Model, compile_scenario
from simcore.engine.kernel import FIXED, N_CATEGORIES, flow_layout, simulate_trials, trial_columns
from simcore.engine.memory import WORKING_BYTES, bytes_per_trial, estimate, output_buffer, refuse
from simcore.engine.sampling import check_sampling, kernel_uniforms
from simcore.engine.stream import BLOCK, StreamReducer, cell_totals, kept_bytes, reduce_chunk
from simcore.errors import SimcoreError
from simcore.format import json_safe
from simcore.scenario.load import Scenario, check_scenario
from simcore.scenario.spec import CATEGORIES
from simcore.variables import attrs_of, dims_of

REASONS = ["competition", "no_decision"]
# What the kernel records at period boundaries, left out of a run with boundaries=False.
BOUNDARY_VARIABLES = (
    "slipped_amount",
    "slipped_count",
    "due_amount",
    "due_count",
    "bank_amount",
    "bank_count",
    "starting_bank_amount",
    "starting_bank_count",
)


_xarray_loading = None


def load_xarray():
    """xarray, with :mod:`simcore.lazydask`'s checks in place (imported here, when a Dataset is
    built: see :func:`preload_xarray`).
    """
    if _xarray_loading is not None:
        _xarray_loading.join()
    import xarray as xr  # here, not at the top: a run's kernel starts before xarray is loaded

    import simcore.lazydask  # noqa: F401  (before any Dataset: xarray need not import dask.array)

    return xr


def preload_xarray() -> None:
    """Start importing xarray and pandas (~0.4 s of one core) in a thread, to overlap a run's
    kernel, which releases the GIL: ``simcore run`` calls this before it simulates. Only
    third-party modules are imported there, so the thread cannot deadlock with simcore's.
    """
    global _xarray_loading
    if _xarray_loading is not None or "xarray" in sys.modules:
        return

    def load():
        import xarray  # noqa: F401  (start-up speed: in a thread, beside the kernel)

    _xarray_loading = threading.Thread(target=load, name="simcore-import-xarray", daemon=True)
    _xarray_loading.start()


def as_seed(seed) -> int:
    """An int in [0, 2**64) from an int or a :class:`numpy.random.SeedSequence`."""
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(1, np.uint64)[0])
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise SimcoreError(f"seed must be a whole number or a numpy SeedSequence, got {seed!r}")
    if not 0 <= int(seed) < 2**64:
        raise SimcoreError(f"seed must be in [0, 2**64), got {seed}")
    return int(seed)


def zeros(shape, dtype=np.float64) -> np.ndarray:
    """``np.zeros``, with large arrays in their own anonymous memory map.

    numpy asks the kernel for transparent huge pages on every large allocation; where
    the kernel must compact memory to find them (Linux's default ``defrag=madvise``),
    the first write into a fresh 240 MB of outputs stalled for 0.1-0.5 s, a quarter of a
    warm ``simcore run``. An anonymous map is zero-filled, skips that request and pays
    ordinary page faults. It is unmapped when the last array viewing it goes.
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    if count * dtype.itemsize < 1 << 20:
        return np.zeros(shape, dtype)
    return np.frombuffer(mmap.mmap(-1, count * dtype.itemsize), dtype=dtype, count=count).reshape(shape)


def _carve(specs: dict) -> dict:
    """Zeroed arrays ``{name: (shape, dtype)}`` side by side in one output buffer
    (:func:`simcore.engine.memory.output_buffer`: pre-faulted, or reused from a result no
    longer referenced), each aligned to 64 bytes; small sets come from numpy.
    """
    offsets, size = {}, 0
    for name, (shape, dtype) in specs.items():
        offsets[name] = size
        size += -(-int(np.prod(shape)) * np.dtype(dtype).itemsize // 64) * 64
    if size < 1 << 20:
        return {name: np.zeros(shape, dtype) for name, (shape, dtype) in specs.items()}
    buffer = output_buffer(size, numba.get_num_threads())
    return {
        name: np.frombuffer(buffer, dtype, int(np.prod(shape)), offsets[name]).reshape(shape)
        for name, (shape, dtype) in specs.items()
    }


class _Outputs:
    """Preallocated kernel outputs for ``trials`` trials of a model."""

    def __init__(self, model: Model, trials: int):
        n = len(model.periods)
        c = len(model.scenario.cells)
        k = model.n_stages
        f8, i4 = np.float64, np.int32
        specs = {
            "flow_amt": ((trials, n, c, flow_layout(k)[-1]), f8),
            "flow_cnt": ((trials, n, c, flow_layout(k)[-1]), i4),
            "bank_amt": ((trials, n + 1, c, N_CATEGORIES), f8),
            "bank_cnt": ((trials, n + 1, c, N_CATEGORIES), i4),
            "cohort_amt": ((trials, n, len(model.cohorts) + 1, c), f8),
            "cycle_hist": ((trials, c, len(model.cycle_edges) - 1), i4),
            "drawn": ((trials, c, model.param_kind.shape[1]), f8),
            "market": ((trials,), f8),
            "attained": ((trials, len(model.attain_names)), f8),
        }
        for name, array in _carve(specs).items():
            setattr(self, name, array)
        self.boundaries = True  # whether the kernel recorded the period-boundary outputs

    def arrays(self, lo, hi):
        return (
            self.flow_amt[lo:hi],
            self.flow_cnt[lo:hi],
            self.bank_amt[lo:hi],
            self.bank_cnt[lo:hi],
            self.cohort_amt[lo:hi],
            self.cycle_hist[lo:hi],
            self.drawn[lo:hi],
            self.market[lo:hi],
            self.attained[lo:hi],
        )


# Trials per kernel call are sized so that a call lasts about this long: short enough
# that Ctrl-C (checked between calls) stops a run within a second, long enough that the
# per-call cost stays small. That cost is the second thread's wake-up at every call: about
# 0.1 ms on a free machine, but 10-25 ms when the cores are shared with other work (the
# woken thread waits for a core), measured at 0.94 s of CPU for 10,000 fy2026 trials in one
# call against 1.06 s in calls of 0.25 s at load 5.
CHUNK_SECONDS = 0.5
# The first call, which measures the speed: a few hundredths of a second.
FIRST_CHUNK = 256
MAX_CHUNK = 8192
# A streamed run's reused buffer of full outputs (one chunk): about 2,500 quarterly fy2026
# trials, one block (512) of weekly ones.
STREAM_CHUNK_BYTES = 64 << 20
# No uniforms given: the kernel draws each trial's own (simcore.engine.kernel.trial_uniforms).
_KERNEL_DRAWS = np.empty((0, 1))
_threads_started = False


def _start_threads_without_sigint():
    """Start numba's worker threads with SIGINT blocked in them, once.

    A thread inherits its creator's signal mask: with SIGINT blocked while the pool starts,
    Ctrl-C is always delivered to the main thread, which Python checks between kernel calls,
    rather than to a worker busy inside the kernel.
    """
    global _threads_started
    if _threads_started or threading.current_thread() is not threading.main_thread():
        return
    from numba.np.ufunc import parallel

    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        parallel._launch_threads()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    _threads_started = True


def chunks(trials: int, chunk_size: int | None, unit: int = 1, largest: int = MAX_CHUNK):
    """Yield ``(lo, hi)`` kernel calls over ``trials``; send back each call's seconds.

    With ``chunk_size`` the calls are that long (in trials); without, they are sized from
    the last call's speed to last about :data:`CHUNK_SECONDS`. Calls are whole multiples of
    ``unit`` trials (the last excepted), at most ``largest``. Results never depend on the chunking.
    """
    size = chunk_size or unit * max(1, FIRST_CHUNK // unit)
    lo = 0
    while lo < trials:
        hi = min(trials, lo + size)
        seconds = yield lo, hi
        if chunk_size is None and seconds:
            rate = (hi - lo) / max(seconds, 1e-6)
            size = int(min(max(rate * CHUNK_SECONDS, 8), largest))
            size = max(unit, size // unit * unit)
        lo = hi


def run_kernel(
    model: Model,
    trials: int,
    seed: int,
    trial_start: int = 0,
    chunk_size: int | None = None,
    progress=None,
    sampling: str = "random",
    on_chunk=None,
    *,
    boundaries: bool = True,
    trial_u: np.ndarray | None = None,
) -> _Outputs | None:
    """Run the kernel over ``trials`` trials in chunks; returns the raw outputs.

    With ``on_chunk``, outputs are kept for one chunk at a time only (a buffer reused from
    chunk to chunk, in whole :data:`simcore.engine.stream.BLOCK` s), each chunk is handed to
    ``on_chunk(outputs, lo, hi)`` and None is returned. Ctrl-C stops the run between two
    kernel calls (a fraction of a second) with :class:`KeyboardInterrupt`.

    ``boundaries=False`` skips the bank, due and slipped bookkeeping at period boundaries
    (those outputs stay zero). Each trial's assumptions and market factor are inverse-CDF
    transforms of the trial's uniforms: drawn by the kernel for ``sampling="random"``
    (:func:`simcore.engine.kernel.trial_uniforms`), from the stratified points of
    :func:`simcore.engine.sampling.kernel_uniforms` for ``"lhs"`` and ``"sobol"``, or given
    as ``trial_u`` (trials, :func:`simcore.engine.kernel.trial_columns`), row 0 for trial
    ``trial_start``.
    """
    if trial_u is not None:
        # The kernel reads these unchecked: a wrong shape must not get that far.
        want = (trials, trial_columns(*model.param_kind.shape, len(model.attain_names)))
        trial_u = np.ascontiguousarray(trial_u, dtype=np.float64)
        if trial_u.shape != want or not ((trial_u > 0.0) & (trial_u < 1.0)).all():
            raise SimcoreError(f"trial_u must be {want} uniforms in (0, 1), got shape {trial_u.shape}")
    if on_chunk is None:
        out, unit, largest = _Outputs(model, trials), 1, MAX_CHUNK
    else:
        unit = BLOCK
        largest = stream_chunk(model)
        if chunk_size is not None:
            chunk_size = min(max(BLOCK, chunk_size // BLOCK * BLOCK), largest)
        out = _Outputs(model, min(trials, largest))
    out.boundaries = boundaries
    args = model.kernel_args()
    bar = _progress(trials, progress)
    _start_threads_without_sigint()
    # Threads take a block of trials (kernel.TRIAL_BLOCK, 8) at a time as they finish, rather
    # than one equal share each up front: on a machine shared with other work, a descheduled
    # thread would otherwise leave the others idle at the end of every chunk. (Set here, not
    # in the kernel: calling it inside jitted code stops numba from caching the kernel.)
    # Results do not depend on the schedule.
    previous = numba.set_parallel_chunksize(1)
    dirty = 0  # rows of a reused chunk buffer that a chunk has written
    try:
        plan = chunks(trials, chunk_size, unit, largest)
        lo, hi = next(plan)
        while True:
            started = time.perf_counter()
            a, b = (lo, hi) if on_chunk is None else (0, hi - lo)
            if on_chunk is not None:
                # The buffer comes zeroed: only the rows an earlier chunk wrote are cleared
                # (clearing fresh rows here would fault their pages in on one thread, not the
                # kernel's two).
                for array in out.arrays(0, min(dirty, b)):
                    array.fill(0)
                dirty = max(dirty, b)
            if trial_u is not None:
                u = trial_u[lo:hi]
            elif sampling == "random":
                u = _KERNEL_DRAWS
            else:
                u = kernel_uniforms(model, sampling, seed, trial_start + lo, hi - lo)
            simulate_trials(
                np.uint64(seed), np.int64(trial_start + lo), *args, boundaries, u, *out.arrays(a, b)
            )
            if on_chunk is not None:
                on_chunk(out, lo, hi)
            if bar is not None:
                bar.update(hi - lo)
            try:
                lo, hi = plan.send(time.perf_counter() - started)
            except StopIteration:
                break
    finally:
        numba.set_parallel_chunksize(previous)
        if bar is not None:
            bar.close()
    return out if on_chunk is None else None


def _progress(total, progress):
    if progress is False:
        return None
    from tqdm.auto import tqdm

    # Shown only once a run has lasted a second; hidden when stderr is not a terminal unless asked.
    disable = None if progress else not sys.stderr.isatty()
    return tqdm(total=total, unit="trial", delay=1.0, disable=disable, file=sys.stderr, leave=False)


def stream_chunk(model: Model) -> int:
    """Trials per chunk of a streamed run: whole blocks, at most :data:`STREAM_CHUNK_BYTES` of outputs."""
    blocks = STREAM_CHUNK_BYTES // (BLOCK * bytes_per_trial(model))
    return BLOCK * int(min(max(blocks, 1), MAX_CHUNK // BLOCK))


def memory_estimate(model: Model, trials: int, stream: bool):
    """What ``trials`` trials of ``model`` need, kept in full or streamed (see :mod:`simcore.engine.memory`)."""
    full = bytes_per_trial(model)
    if not stream:
        return estimate(model, trials, full, threads=numba.get_num_threads())
    # One chunk of full outputs, and the moments' copies of a block.
    fixed = WORKING_BYTES + min(trials, stream_chunk(model)) * full + BLOCK * full
    return estimate(model, trials, kept_bytes(model), fixed, threads=numba.get_num_threads())


def resolve_stream(model: Model, trials: int, stream) -> bool:
    """``stream`` as asked, or for ``"auto"``: stream when the full result would pass
    :data:`STREAM_ABOVE` bytes or not fit in memory.
    """
    if stream != "auto":
        return bool(stream)
    e = memory_estimate(model, trials, False)
    return e.total > STREAM_ABOVE or not e.fits


# ``stream="auto"`` (``simcore run``'s default) streams runs whose full result would pass
# 1 GB: about 40,000 quarterly fy2026 trials, 3,500 weekly ones.
STREAM_ABOVE = 1 << 30


def simulate(
    scenario: Scenario,
    trials: int = 10_000,
    seed=0,
    *,
    period: str | None = None,
    trial_start: int = 0,
    chunk_size: int | None = None,
    progress=None,
    model: Model | None = None,
    sampling: str | None = None,
    stream=False,
    client=None,
    boundaries: bool = True,
) -> xr.Dataset:
    """Simulate a scenario's plan: every opportunity's life, in ``trials`` trials.

    Parameters
    ----------
    scenario : Scenario
        From :func:`simcore.load_scenario`.
    trials : int
        Number of Monte Carlo trials.
    seed : int or numpy.random.SeedSequence
        The same seed gives the same bits for any thread count and any chunking.
    period : {"week", "month", "quarter"}, optional
        Reporting period of the result (default: the scenario's ``period``).
    trial_start : int
        Index of the first trial: simulating trials 0-4999 and 5000-9999 separately
        and concatenating along ``trial`` equals simulating 0-9999.
    chunk_size : int, optional
        Trials per kernel call (default: sized to last about a quarter of a second, so that
        Ctrl-C stops a run promptly); affects progress updates, never results.
    progress : bool, optional
        Show a progress bar on stderr for runs over a second (default: when a terminal).
    model : Model, optional
        A precompiled model (see :func:`simcore.engine.compile.compile_scenario`), e.g. with a
        scaled creation plan.
    sampling : {"random", "lhs", "sobol"}, optional
        How each trial's assumptions and market factor are drawn (default: the scenario's
        ``sampling``, else ``"random"``); see :mod:`simcore.engine.sampling`.
    stream : bool or "auto", default False
        Keep per trial only the headline figures and reduce every other output to its mean
        and sd over trials (see :mod:`simcore.engine.stream`); ``"auto"`` streams runs
        whose full result would pass 1 GB.
    client : dask.distributed.Client, optional
        Split the trials into chunks over its workers (``pip install simcore[dask]``); the
        result is the same bits (see :mod:`simcore.engine.distributed`).
    boundaries : bool
        Record the bank, due and slipped deals at every period boundary (default). ``False``
        leaves those variables out (``BOUNDARY_VARIABLES``) and runs the kernel ~20% faster;
        every other variable keeps its bits.

    Returns
    -------
    xarray.Dataset
        Dims ``trial``, ``period``, the scenario's dimensions and, per variable,
        ``stage``, ``category``, ``reason``, ``cohort``, ``cycle_bin``, ``parameter``.
        Variables and their units are listed in :mod:`simcore.variables`.

    Raises
    ------
    SimcoreError
        On a bad argument, or when the run would not fit in memory (saying how many trials
        would), before anything is simulated.

    Examples
    --------
    >>> import simcore
    >>> sc = simcore.load_scenario("scenarios/smb.toml")
    >>> ds = simcore.simulate(sc, trials=500, seed=7, progress=False)
    >>> year = ds.bookings_amount.sum(["period", "source", "product"])
    >>> year.sizes["trial"], bool(year.quantile(0.1) < year.quantile(0.9))
    (500, True)
    """
    trials, seed, trial_start, chunk_size, sampling, model, stream = _checked(
        scenario, trials, seed, period, trial_start, chunk_size, model, sampling, stream
    )
    if not boundaries and (stream or client is not None):
        raise SimcoreError("boundaries=False is for a plain run: not with stream or client")
    if client is not None:
        # Lazy: Dask is an optional extra, and slow to import; only a run on a client needs it.
        from simcore.engine.distributed import simulate_on

        return simulate_on(client, scenario, model, trials, seed, trial_start, sampling, stream, chunk_size)
    if not stream:
        out = run_kernel(
            model, trials, seed, trial_start, chunk_size, progress, sampling, boundaries=bool(boundaries)
        )
        return build_dataset(model, out, seed, trial_start, sampling)

    reducer = StreamReducer(model, trials, seed, trial_start, sampling)
    run_streamed(model, trials, seed, trial_start, chunk_size, progress, sampling, reducer.take)
    return reducer.dataset()


def _checked(scenario, trials, seed, period, trial_start, chunk_size, model, sampling, stream) -> tuple:
    """:func:`simulate`'s arguments checked, its model compiled, its memory estimated (a run
    that would not fit is refused here, before anything is simulated).
    """
    check_scenario(scenario)
    trials = checks.whole("trials", trials, 1)
    trial_start = checks.whole("trial_start", trial_start, 0)
    if chunk_size is not None:
        chunk_size = checks.whole("chunk_size", chunk_size, 1)
    seed = as_seed(seed)
    checks.reporting_period(period)
    sampling = check_sampling(scenario.raw.get("sampling", "random") if sampling is None else sampling)
    if stream not in (True, False, "auto"):
        raise SimcoreError(f"stream must be True, False or 'auto', got {stream!r}")
    if model is not None and period is not None and period != model.periods.kind:
        raise SimcoreError(
            f"period {period!r} differs from the model's ({model.periods.kind!r}): "
            f"compile the model with compile_scenario(scenario, {period!r})"
        )
    if model is None:
        model = compile_scenario(scenario, period)
    stream = resolve_stream(model, trials, stream)
    hint = (
        "simulate fewer trials, or in parts (trial_start)"
        if stream
        else "stream the run (simcore run --stream; in Python stream=True)"
    )
    refuse(
        memory_estimate(model, trials, stream),
        "kept " + ("as headline figures" if stream else "in full"),
        hint,
    )
    return trials, seed, trial_start, chunk_size, sampling, model, stream


def simulate_headline(
    scenario: Scenario,
    trials: int = 10_000,
    seed=0,
    *,
    period: str | None = None,
    trial_start: int = 0,
    chunk_size: int | None = None,
    progress=None,
    model: Model | None = None,
    sampling: str | None = None,
) -> dict:
    """:func:`simulate`'s headline figures per trial, without building the Dataset.

    What ``simcore run`` prints is made of these (:mod:`simcore.analysis.headline`), and
    nothing else of a run: without xarray and pandas to import (~0.4 s of one core) and
    without the period-boundary bookkeeping (``boundaries=False``), a printed run starts and
    ends sooner. Each figure is the same bits as :func:`simcore.engine.stream.headline` of
    the same trials' Dataset.

    Parameters
    ----------
    scenario, trials, seed, period, trial_start, chunk_size, progress, model, sampling
        As :func:`simulate` (a run on this machine; its memory is a streamed run's: the
        figures per trial and one chunk of full outputs).

    Returns
    -------
    dict
        ``bookings_amount`` (trial, period) and ``created_amount`` (trial, period, stage) in
        dollars, summed over cells; ``opportunities`` (trial,); ``attainment`` (trial,
        group) when the scenario declares creation attainment; ``run``: what the summary
        says of the run (``scenario``, ``scenario_hash``, ``trials``, ``seed``, ``version``,
        ``period``, ``currency``, ``target``, ``periods``, ``trial`` (indices), ``sampling``,
        ``attainment_groups``).

    Raises
    ------
    SimcoreError
        As :func:`simulate`.

    Examples
    --------
    >>> import simcore
    >>> sc = simcore.load_scenario("scenarios/smb.toml")
    >>> h = simulate_headline(sc, trials=200, seed=7, period="quarter", progress=False)
    >>> h["bookings_amount"].shape, h["created_amount"].shape, h["run"]["periods"]
    ((200, 4), (200, 4, 3), ['2026-Q1', '2026-Q2', '2026-Q3', '2026-Q4'])
    """
    # Its memory is a streamed run's: the figures per trial, and one chunk of full outputs.
    trials, seed, trial_start, chunk_size, sampling, model, _ = _checked(
        scenario, trials, seed, period, trial_start, chunk_size, model, sampling, True
    )
    kept = {}

    def take(out, lo, hi):
        for name, value in kept_figures(model, out, hi - lo).items():
            if name not in kept:
                kept[name] = np.empty((trials, *value.shape[1:]), value.dtype)
            kept[name][lo:hi] = value

    # One reused buffer of a few thousand trials' outputs, not every trial's (~24 KB each for
    # quarterly fy2026): 64 MB to fault in rather than 240 MB at 10,000 trials, and a million
    # trials fit in a few hundred MB.
    run_kernel(
        model, trials, seed, trial_start, chunk_size, progress, sampling, on_chunk=take, boundaries=False
    )
    sc = model.scenario
    run = {
        "scenario": sc.name,
        "scenario_hash": sc.hash,
        "trials": trials,
        "seed": seed,
        "version": __version__,
        "period": model.periods.kind,
        "currency": sc.currency,
        "target": sc.target,
        "periods": list(model.periods.labels),
        "trial": np.arange(trial_start, trial_start + trials),
        "sampling": sampling,
        "attainment_groups": list(model.attain_names),
    }
    return {**kept, "run": run}


def kept_figures(model: Model, out: _Outputs, n: int | None = None) -> dict:
    """The headline figures per trial of the kernel's outputs ``out`` (its first ``n``
    trials): the sums :func:`simcore.engine.stream.headline` makes of their Dataset, in the
    same order.
    """
    k = model.n_stages
    booked, created0 = flow_layout(k)[:2]
    flow_amt, flow_cnt = out.flow_amt[:n], out.flow_cnt[:n]
    created = flow_amt[..., created0 : created0 + k]
    figures = {
        "bookings_amount": cell_totals(flow_amt[..., booked]),
        # (trial, period, cell, stage) to the Dataset's order, the cells last, then summed.
        "created_amount": cell_totals(np.moveaxis(created, 3, 2), 3),
        "opportunities": _opportunities(model, flow_cnt[..., created0 : created0 + k]),
    }
    if model.attain_names:
        figures["attainment"] = out.attained[:n].copy()
    return figures


def run_streamed(model, trials, seed, trial_start, chunk_size, progress, sampling, take) -> None:
    """Run the kernel over ``trials`` trials into one reused chunk buffer and hand each
    chunk's :func:`simcore.engine.stream.reduce_chunk` to ``take(kept, moments)``, in trial
    order: a streamed run, here or on a Dask worker.
    """
    labelled = {}
    created0, k = flow_layout(model.n_stages)[1], model.n_stages

    def reduce(out, lo, hi):
        # The Dataset views the reused buffer: label it once, refresh what is computed.
        if "ds" not in labelled:
            labelled["ds"] = build_dataset(model, out, seed, trial_start, sampling)
        ds = labelled["ds"]
        ds["opportunities"].values[:] = _opportunities(model, out.flow_cnt[..., created0 : created0 + k])
        n = hi - lo
        take(*reduce_chunk(out, n, ds if n == ds.sizes["trial"] else ds.isel(trial=slice(0, n))))

    run_kernel(model, trials, seed, trial_start, chunk_size, progress, sampling, on_chunk=reduce)


def _opportunities(model, created_count):
    """Opportunities simulated per trial: those created in each cell's entry stage, plus the bank."""
    # Only each cell's entry stage is read: one int32 per cache line of the flow counts, so
    # gathered in one pass over (trial, period) rows, not summed over every stage first.
    t, n, c, k = created_count.shape
    s0, s1, s2, s3 = created_count.strides
    cells = np.arange(c)
    if s3 == created_count.itemsize and s2 % s3 == 0 and s2 >= k * s3:
        # The row of a (trial, period) as one run of slots: cell j's stage e is slot j * s2/s3 + e.
        rows = np.lib.stride_tricks.as_strided(
            created_count, (t, n, (c - 1) * (s2 // s3) + k), (s0, s1, s3), writeable=False
        )
        entered = rows[:, :, cells * (s2 // s3) + model.entry_stage]
    else:
        entered = created_count[:, :, cells, model.entry_stage]
    return entered.sum(axis=(1, 2), dtype=np.int64) + len(model.bank_cell)


def _attainment(model, out) -> dict:
    """The attainment drawn per trial and group, when the model has any group (a streamed
    run's moments do not keep it).
    """
    if not model.attain_names or not hasattr(out, "attained"):
        return {}
    return {"attainment": out.attained, "attainment_drawn": model.attain_kind != FIXED}


def build_dataset(
    model: Model, out: _Outputs, seed: int, trial_start: int, sampling: str = "random"
) -> xr.Dataset:
    """Label the raw kernel outputs: dims and coords in the user's words, attrs from the registry."""
    xr = load_xarray()
    sc = model.scenario
    dims = list(sc.dimensions)
    shape = [len(v) for v in sc.dimensions.values()]
    k = model.n_stages
    trials = out.flow_amt.shape[0]
    booked, created0, lc0, lnd0, pushes, slipped, due0, won_pushes, won_cycle, _ = flow_layout(k)

    def cells(a, cell_axis):
        return a.reshape(a.shape[:cell_axis] + tuple(shape) + a.shape[cell_axis + 1 :])

    fa, fc = out.flow_amt, out.flow_cnt
    # The lost slots are (reason, stage) side by side: a view as (stage, reason), no copy.
    assert lnd0 == lc0 + k

    def lost(a):
        return np.swapaxes(a[..., lc0 : lc0 + 2 * k].reshape(a.shape[:-1] + (2, k)), -1, -2)

    lost_amt, lost_cnt = lost(fa), lost(fc)
    data = {
        "bookings_amount": cells(fa[..., booked], 2),
        "bookings_count": cells(fc[..., booked], 2),
        "created_amount": cells(fa[..., created0 : created0 + k], 2),
        "created_count": cells(fc[..., created0 : created0 + k], 2),
        "lost_amount": cells(lost_amt, 2),
        "lost_count": cells(lost_cnt, 2),
        "pushes_amount": cells(fa[..., pushes], 2),
        "pushes_count": cells(fc[..., pushes], 2),
        "slipped_amount": cells(fa[..., slipped], 2),
        "slipped_count": cells(fc[..., slipped], 2),
        "due_amount": cells(fa[..., due0 : due0 + N_CATEGORIES], 2),
        "due_count": cells(fc[..., due0 : due0 + N_CATEGORIES], 2),
        "bank_amount": cells(out.bank_amt[:, 1:], 2),
        "bank_count": cells(out.bank_cnt[:, 1:], 2),
        "starting_bank_amount": cells(out.bank_amt[:, 0], 1),
        "starting_bank_count": cells(out.bank_cnt[:, 0], 1),
        "won_pushes": cells(fc[..., won_pushes], 2),
        "won_cycle_days": cells(fa[..., won_cycle], 2),
        "won_cycle_count": cells(fc[..., won_cycle], 2),
        "bookings_by_cohort": cells(out.cohort_amt, 3),
        "cycle_time_count": cells(out.cycle_hist, 1),
        "assumption": cells(np.moveaxis(out.drawn, 2, 1), 2),
        "assumption_drawn": cells(np.ascontiguousarray(model.param_kind.T != FIXED), 1),
        "market_factor": out.market,
        **_attainment(model, out),
        "opportunities": _opportunities(model, fc[..., created0 : created0 + k]),
    }
    if not getattr(out, "boundaries", True):  # a streamed run's moments keep every output
        for name in BOUNDARY_VARIABLES:
            del data[name]
    edges = model.cycle_edges
    cycle_labels = [
        f"{int(a)}-{int(b)}d" if np.isfinite(b) else f"{int(a)}d+" for a, b in zip(edges[:-1], edges[1:])
    ]
    coords = {
        "trial": np.arange(trial_start, trial_start + trials),
        "period": list(model.periods.labels),
        "stage": [s.name for s in sc.stages],
        "category": list(CATEGORIES),
        "reason": REASONS,
        "cohort": list(model.cohorts.labels) + ["bank"],
        "cycle_bin": cycle_labels,
        "parameter": model.param_names,
        **({"attainment_group": list(model.attain_names)} if model.attain_names else {}),
        **{d: list(v) for d, v in sc.dimensions.items()},
    }
    variables = {
        name: (dims_of(name, dims), value, attrs_of(name, sc.currency)) for name, value in data.items()
    }
    ds = xr.Dataset(variables, coords=coords)
    ds["period_start"] = (
        "period",
        [str(np.datetime64(sc.start) + int(d)) for d in model.periods.start_day[:-1]],
        attrs_of("period_start", sc.currency),
    )
    ds["period_end"] = (
        "period",
        [str(np.datetime64(sc.start) + int(d) - 1) for d in model.periods.start_day[1:]],
        attrs_of("period_end", sc.currency),
    )
    ds.attrs.update(
        {
            "scenario": sc.name,
            "scenario_file": sc.file,
            "scenario_hash": sc.hash,
            "seed": str(seed),
            "trials": trials,
            "trial_start": trial_start,
            "sampling": sampling,
            "simcore_version": __version__,
            "period": model.periods.kind,
            "start": sc.start.isoformat(),
            "horizon_days": sc.horizon_days,
            "currency": sc.currency,
            "dimensions": json.dumps(dims),
            "decision_stage": sc.stages[-1].name,
            "overrides": json.dumps(sc.overrides, default=str),
            "variant": sc.variant or "",
        }
    )
    if model.capacity is not None:
        # What the plan needs of its roles against what they can do (docs/model.md "Capacity").
        ds.attrs["capacity"] = json.dumps(json_safe(model.capacity.rows(model.periods)))
    if sc.target is not None:
        ds.attrs["target"] = sc.target
    if sc.period_targets is not None and model.periods.kind == sc.period:
        ds["period_target"] = (
            "period",
            np.asarray(sc.period_targets),
            attrs_of("period_target", sc.currency),
        )
    return ds
