"""Runs that outgrow one machine, on Dask (``pip install simcore[dask]``).

:func:`simulate_on` splits a run's trials into chunks of whole
:data:`simcore.engine.stream.BLOCK` s, simulates each on a worker and puts them back in trial
order: every draw is keyed by (seed, trial), so the result is the same bits as one
machine's. A streamed run's workers send back only their chunk's headline figures and
per-block moments, which the client folds in trial order (:mod:`simcore.engine.stream`).

:func:`fan_out` runs any function over many inputs on the cluster (the variants of a
comparison, the swings of a sensitivity); :func:`kernel_chunks` runs the kernel over a run's
trials chunk by chunk on the workers, for callers that reduce the raw outputs themselves (the
optimizer's re-simulations).

:func:`connect` turns ``--dask ADDRESS`` or ``--dask local:N`` into a client; see
docs/distributed.md for real clusters (dask-jobqueue, Kubernetes, Coiled).
"""

from __future__ import annotations

import os

import numba
import numpy as np
import xarray as xr

from simcore.engine.simulate import build_dataset, run_kernel, run_streamed
from simcore.engine.stream import BLOCK, StreamReducer
from simcore.errors import SimcoreError


def _distributed():
    try:
        import distributed  # lazy: an optional extra
    except ImportError:
        raise SimcoreError("running on Dask needs the dask extra: pip install 'simcore[dask]'") from None
    return distributed


def connect(address: str):
    """A Dask client for ``"local:N"`` (a new LocalCluster of N single-threaded workers) or a
    scheduler address such as ``"tcp://10.0.0.5:8786"``.

    Parameters
    ----------
    address : str

    Returns
    -------
    distributed.Client
        Close it (and its cluster, for ``local:N``) with ``client.close()``; a local cluster
        is closed with its client. It is not made dask's default scheduler: pass it as
        ``client=`` (or use it as a context manager's ``client.as_current()``).

    Raises
    ------
    SimcoreError
        When the extra is missing, ``N`` is not a whole number from 1, or the scheduler
        cannot be reached.
    """
    distributed = _distributed()
    if address.startswith("local:"):
        text = address.split(":", 1)[1]
        if not text.isdigit() or int(text) < 1:
            raise SimcoreError(f"--dask {address!r}: expected local:N with N a whole number from 1")
        # A local cluster's workers share this machine's cores: more workers than cores only
        # compete for them (and local:1000 would start a thousand processes).
        cores = os.cpu_count() or 1
        if int(text) > cores:
            raise SimcoreError(
                f"--dask {address!r}: this machine has {cores} core{'s' if cores != 1 else ''}; "
                f"use local:{cores} at most, or a cluster's scheduler address"
            )
        # One thread per worker: the workers are the parallelism (numba's threads would
        # otherwise oversubscribe the cores).
        cluster = distributed.LocalCluster(
            n_workers=int(text),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"NUMBA_NUM_THREADS": "1"},
        )
        client = distributed.Client(cluster, set_as_default=False)
        client.close = _closing_cluster(client.close, cluster)
        return client
    try:
        # Not dask's default scheduler: simcore hands the client to what it fans out, and a
        # client that fails to connect has already set the default (dask restores it only on
        # close), which left every later dask computation of the process asking for a
        # scheduler that was never there.
        return distributed.Client(address, timeout="10s", set_as_default=False)
    except ValueError as exc:  # not an address at all ("bogus": no port)
        raise SimcoreError(
            f"--dask {address!r}: expected local:N or a scheduler address such as tcp://host:8786 ({exc})"
        ) from None
    except (OSError, TimeoutError) as exc:
        raise SimcoreError(f"--dask {address!r}: cannot reach the scheduler ({exc})") from None


def _closing_cluster(close, cluster):
    def both(*args, **kwargs):
        close(*args, **kwargs)
        cluster.close()

    return both


def worker_threads() -> int:
    """Set this worker thread's numba threads from ``NUMBA_NUM_THREADS``; return them.

    A Dask worker process reads its environment (``env=`` of the cluster, the job script's
    exports) only after it has imported the module that started it, and a script that
    imports simcore has imported numba by then, with numba's default of every core. Each
    worker then ran the kernel on all the cores, and two workers on two cores fought over
    them (1.10x from 1 to 2 workers). The variable is read again here, at every task, and
    applied with :func:`numba.set_num_threads` (per calling thread, so tasks in threads do
    not disturb each other); without it numba keeps its default.

    Examples
    --------
    >>> worker_threads() >= 1
    True
    """
    text = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if text.isdigit() and int(text) >= 1:
        numba.set_num_threads(min(int(text), numba.config.NUMBA_NUM_THREADS))
    return numba.get_num_threads()


def _chunk(model, seed, lo, n, sampling, stream):
    """One worker's part: trials ``lo .. lo + n - 1`` (absolute), full or reduced.

    A streamed part runs as a streamed run does here (one reused buffer of outputs, reduced
    chunk by chunk) and sends back its headline figures and per-block moments, unfolded:
    the client folds every block in trial order.
    """
    worker_threads()
    if not stream:
        out = run_kernel(model, n, seed, lo, progress=False, sampling=sampling)
        return build_dataset(model, out, seed, lo, sampling)
    kept, moments = [], []

    def take(k, m):
        kept.append({name: np.array(v) for name, v in k.items()})  # some view the reused buffer
        moments.extend(m)

    run_streamed(model, n, seed, lo, None, False, sampling, take)
    joined = {name: np.concatenate([k[name] for k in kept]) for name in kept[0]}
    return joined, moments


def chunk_plan(trials: int, workers: int, chunk_size: int | None = None) -> list:
    """``[(lo, n), ...]`` relative to the first trial: whole blocks, about four per worker.

    Examples
    --------
    >>> chunk_plan(5000, 2)
    [(0, 1024), (1024, 1024), (2048, 1024), (3072, 1024), (4096, 904)]
    """
    size = chunk_size or -(-trials // (4 * max(workers, 1)))
    size = max(BLOCK, -(-size // BLOCK) * BLOCK)
    return [(lo, min(size, trials - lo)) for lo in range(0, trials, size)]


def simulate_on(client, scenario, model, trials, seed, trial_start, sampling, stream, chunk_size=None):
    """:func:`simcore.engine.simulate.simulate` over a Dask client's workers (same bits).

    Called by ``simulate(..., client=client)``; the arguments are simulate's, checked.
    """
    workers = max(len(client.scheduler_info().get("workers", {})), 1)
    plan = chunk_plan(trials, workers, chunk_size)
    model_ref = client.scatter(model, broadcast=True)
    futures = [
        client.submit(_chunk, model_ref, seed, trial_start + lo, n, sampling, stream, pure=False)
        for lo, n in plan
    ]
    try:
        if not stream:
            parts = client.gather(futures)
            ds = xr.concat(
                parts, dim="trial", data_vars="minimal", coords="minimal", compat="override", join="override"
            )
            ds.attrs.update(parts[0].attrs)
            ds.attrs.update({"trials": trials, "trial_start": trial_start})
            return ds

        reducer = StreamReducer(model, trials, seed, trial_start, sampling)
        for future in futures:  # in trial order: the moments fold in the same order as one machine's
            reducer.take(*future.result())
            future.release()
        return reducer.dataset()
    finally:
        client.cancel(futures)


def fan_out(client, func, items, *args, **kwargs) -> list:
    """``[func(item, *args, **kwargs) for item in items]``, on the cluster when ``client`` is
    given (else here), results in ``items``' order.

    Parameters
    ----------
    client : distributed.Client or None
    func : callable
        A module-level function (it is pickled to the workers), e.g. ``simcore.simulate``.
    items : iterable

    Returns
    -------
    list

    Examples
    --------
    >>> fan_out(None, pow, [1, 2, 3], 2)
    [1, 4, 9]
    """
    items = list(items)
    if client is None:
        return [func(item, *args, **kwargs) for item in items]
    futures = [client.submit(_on_worker, func, item, *args, pure=False, **kwargs) for item in items]
    return client.gather(futures)


def _on_worker(func, *args, **kwargs):
    """``func(*args, **kwargs)`` on a worker, with the worker's numba threads (:func:`worker_threads`)."""
    worker_threads()
    return func(*args, **kwargs)


def _kernel_part(model, seed, lo, n):
    """One worker's raw kernel outputs for trials ``lo .. lo + n - 1`` (absolute)."""
    worker_threads()
    return run_kernel(model, n, seed, lo, progress=False)


def kernel_chunks(client, model, trials: int, seed: int, chunk: int):
    """Yield ``(lo, hi, outputs)`` of :func:`simcore.engine.simulate.run_kernel` over trials
    ``0 .. trials - 1`` in chunks of ``chunk`` trials, in trial order: on the cluster's
    workers when ``client`` is given (all chunks submitted at once), else here, one at a time.

    Each chunk is the same bits wherever it runs (draws are keyed by (seed, trial)).

    Parameters
    ----------
    client : distributed.Client or None
    model : Model
    trials, seed, chunk : int

    Yields
    ------
    (int, int, outputs)
        The chunk's first trial, one past its last, and its raw kernel outputs.

    Examples
    --------
    >>> import simcore
    >>> from simcore.engine.compile import compile_scenario
    >>> model = compile_scenario(simcore.load_scenario("scenarios/smb.toml"))
    >>> [(lo, hi, out.market.shape) for lo, hi, out in kernel_chunks(None, model, 5, 1, 2)]
    [(0, 2, (2,)), (2, 4, (2,)), (4, 5, (1,))]
    """
    spans = [(lo, min(trials, lo + chunk)) for lo in range(0, trials, chunk)]
    if client is None:
        for lo, hi in spans:
            yield lo, hi, run_kernel(model, hi - lo, seed, trial_start=lo, progress=False)
        return
    model_ref = client.scatter(model, broadcast=True)
    futures = [client.submit(_kernel_part, model_ref, seed, lo, hi - lo, pure=False) for lo, hi in spans]
    try:
        for (lo, hi), future in zip(spans, futures):
            yield lo, hi, future.result()
            future.release()
    finally:
        client.cancel(futures)
