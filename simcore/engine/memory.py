"""How much memory (and time) a run needs, known before it starts, and how much there is.

A run that keeps every trial's outputs needs :func:`bytes_per_trial` per trial (the kernel's
output arrays, which the Dataset views without copying) plus working room; a streamed run
keeps only the headline figures per trial (:data:`simcore.engine.stream.KEPT`) and a chunk
of full outputs at a time. The memory a run may use is the smallest of

- ``MemAvailable`` in ``/proc/meminfo`` (what the machine can give without swapping),
- the room left under the process's cgroup limit (``memory.max`` minus ``memory.current``
  in cgroup v2, ``memory.limit_in_bytes`` minus ``memory.usage_in_bytes`` in v1),
- the cap ``SIMCORE_MAX_MEMORY`` (bytes, or with a unit: ``8GB``, ``512MiB``), when set,

of which a run plans to use at most :data:`USABLE_SHARE`. A run that would need more is
refused before it starts, saying how many trials would fit.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import re
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simcore.engine.kernel import flow_layout
from simcore.errors import SimcoreError

USABLE_SHARE = 0.9
# Working room of any run beyond its per-trial arrays: a chunk's scratch, the summary's
# copies, the netCDF writer's buffers.
WORKING_BYTES = 64 << 20
CAP_VARIABLE = "SIMCORE_MAX_MEMORY"
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS.update({"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40, "K": 1 << 10, "M": 1 << 20})
_UNITS.update({"G": 1 << 30, "T": 1 << 40})
# Lifecycles per second per thread of today's kernel on a free core, for the time estimate.
LIFECYCLES_PER_SECOND = 8e6


def parse_bytes(text: str) -> int:
    """``"8GB"`` -> 8_000_000_000, ``"512MiB"`` -> 536_870_912, ``"1000"`` -> 1000.

    Examples
    --------
    >>> parse_bytes("1.5GiB")
    1610612736
    """
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*", str(text))
    if not m or m.group(2).upper() not in _UNITS or float(m.group(1)) <= 0:
        raise SimcoreError(f"{CAP_VARIABLE}={text!r}: expected a size such as 8GB or 512MiB")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def _read_int(path: Path):
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_room():
    """Bytes left under this process's cgroup memory limit, or None without a limit."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        base = Path("/sys/fs/cgroup")
        if controllers == "":  # v2
            limit, used = base / rel.lstrip("/") / "memory.max", base / rel.lstrip("/") / "memory.current"
        elif "memory" in controllers.split(","):
            d = base / "memory" / rel.lstrip("/")
            limit, used = d / "memory.limit_in_bytes", d / "memory.usage_in_bytes"
        else:
            continue
        lim, cur = _read_int(limit), _read_int(used)
        if lim is not None and lim < 1 << 60:
            return max(lim - (cur or 0), 0)
    return None


def available_memory() -> tuple:
    """``(bytes, where)``: the memory a run may plan on, and what limits it.

    Examples
    --------
    >>> size, where = available_memory()
    >>> size > 0
    True
    """
    candidates = []
    idle = idle_bytes()  # given back before a run of another size allocates
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                candidates.append((int(line.split()[1]) * 1024 + idle, "available memory"))
    except (OSError, ValueError, IndexError):
        pass
    room = _cgroup_room()
    if room is not None:
        candidates.append((room + idle, "the container's memory limit"))
    cap = os.environ.get(CAP_VARIABLE)
    if cap:
        candidates.append((parse_bytes(cap), f"{CAP_VARIABLE}={cap}"))
    if not candidates:  # not Linux: trust the cap alone, else do not refuse
        return 1 << 62, "no known limit"
    return min(candidates)


def bytes_per_trial(model, kept=None) -> int:
    """Bytes a trial of ``model`` keeps: every output (``kept=None``) or the streamed headline.

    Parameters
    ----------
    model : Model
    kept : int, optional
        Per-trial bytes of a streamed run (from :func:`simcore.engine.stream.kept_bytes`).
    """
    if kept is not None:
        return kept

    n, c, k = len(model.periods), len(model.scenario.cells), model.n_stages
    slots = flow_layout(k)[-1]
    return (
        n * c * slots * 12  # flow amounts (8 bytes) and counts (4)
        + (n + 1) * c * 3 * 12  # bank by category at each boundary
        + n * (len(model.cohorts) + 1) * c * 8
        + c * (len(model.cycle_edges) - 1) * 4
        + c * model.param_kind.shape[1] * 8
        + 16  # market factor, opportunities
        + len(model.attain_names) * 8  # the creation attainment drawn per group
    )


def lifecycles_per_trial(model) -> float:
    """Expected opportunities a trial simulates: those created (the plan's expected counts)
    plus the starting bank. The created ones multiply as they advance through stages, which
    the time estimate ignores: it is a rough guide, not a promise.
    """
    return float(np.sum(model.creation_rate)) + len(model.bank_cell)


@dataclass
class Estimate:
    """What a run will need, before it starts."""

    trials: int
    per_trial: int
    fixed: int
    available: int
    limited_by: str
    seconds: float

    @property
    def total(self) -> int:
        return self.trials * self.per_trial + self.fixed

    @property
    def fits(self) -> bool:
        return self.total <= USABLE_SHARE * self.available

    @property
    def trials_that_fit(self) -> int:
        return max(int((USABLE_SHARE * self.available - self.fixed) // self.per_trial), 0)


def estimate(model, trials: int, per_trial: int, fixed: int = WORKING_BYTES, threads: int = 1) -> Estimate:
    """The memory and time of ``trials`` trials of ``model`` at ``per_trial`` bytes each.

    Examples
    --------
    >>> import simcore
    >>> sc = simcore.load_scenario("scenarios/fy2026.toml")
    >>> model = simcore.compile_scenario(sc)
    >>> e = estimate(model, 1000, bytes_per_trial(model))
    >>> 20_000 < e.per_trial < 30_000
    True
    """
    available, where = available_memory()
    seconds = trials * lifecycles_per_trial(model) / (LIFECYCLES_PER_SECOND * max(threads, 1))
    return Estimate(trials, per_trial, fixed, available, where, seconds)


def size_text(n: float) -> str:
    """``1.2 GB``, ``350 MB``: a size in decimal units, to two or three figures."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def refuse(e: Estimate, what: str, hint: str = "") -> None:
    """Raise a clear :class:`SimcoreError` when ``e`` does not fit; else return None."""
    if e.fits:
        return
    if not e.trials_that_fit:  # fewer trials would not help: say what would
        hint = f"the run needs about {size_text(e.fixed)} before its first trial; " + (
            f"raise the cap ({CAP_VARIABLE}, --max-memory)"
            if CAP_VARIABLE in e.limited_by
            else "free some memory"
        )
    raise SimcoreError(
        f"{e.trials:,} trials {what} would need about {size_text(e.total)} of memory, but "
        f"{size_text(USABLE_SHARE * e.available)} can be used ({USABLE_SHARE:.0%} of "
        f"{size_text(e.available)}, set by {e.limited_by}): "
        + (f"at most {e.trials_that_fit:,} trials fit" if e.trials_that_fit else "not even one trial fits")
        + (f"; {hint}" if hint else "")
    )


# Output memory: anonymous maps, and the maps of results no longer referenced kept (up to
# IDLE_BYTES) for the next run of about the same size, zeroed in parallel. The first touch of
# fresh memory costs ~2 us a 4 KB page (about 0.12 s of CPU for the 240 MB of 10,000 fy2026
# trials), paid inside the kernel; zeroing a reused map costs about a quarter of that.
# (Pre-faulting a fresh map, MADV_POPULATE_WRITE in parallel, was measured at the same CPU
# as faulting it in the kernel: the cost is the kernel's page allocation and zeroing, not the
# traps, so it is not done.)
IDLE_BYTES = 1 << 30
_idle: list = []
_idle_lock = threading.RLock()  # a finalizer may run (from the GC) while it is held


def _in_parallel(func, size: int, threads: int) -> None:
    """``func(lo, hi)`` over ``[0, size)`` in ``threads`` page-aligned parts, one per thread
    (numpy's fill of a large array releases the GIL).
    """
    step = -(-size // max(threads, 1) // mmap.PAGESIZE) * mmap.PAGESIZE
    parts = [(lo, min(size, lo + step)) for lo in range(0, size, step)]
    workers = [threading.Thread(target=func, args=part) for part in parts[1:]]
    for w in workers:
        w.start()
    func(*parts[0])
    for w in workers:
        w.join()


def idle_bytes() -> int:
    """Bytes of output memory kept for reuse (see :func:`output_buffer`)."""
    with _idle_lock:
        return sum(len(m) for m in _idle)


def _take_idle(size: int):
    with _idle_lock:
        fits = [m for m in _idle if size <= len(m) <= 2 * size]
        if not fits:
            _idle.clear()  # a run of another size: give the memory back before taking more
            return None
        best = min(fits, key=len)
        _idle.remove(best)
        return best


def _give_back(m) -> None:
    # Called as the last array viewing ``m`` goes; not kept, ``m`` is unmapped once the
    # departing view has released it (it cannot be closed from here: the view still holds it).
    with _idle_lock:
        if len(m) + sum(len(x) for x in _idle) <= IDLE_BYTES:
            _idle.append(m)


def output_buffer(size: int, threads: int = 1):
    """A zeroed, writable buffer of ``size`` bytes for kernel outputs.

    Its memory is an anonymous map (not numpy's allocator, which asks for transparent huge
    pages and can stall on compaction). When the last array viewing the buffer goes, the
    map is kept for a later buffer of about the same size (at most :data:`IDLE_BYTES` kept
    in all) rather than unmapped: reusing it costs a zeroing on ``threads`` threads, not a
    page fault per 4 KB.

    Parameters
    ----------
    size : int
        Bytes.
    threads : int
        Threads that zero a reused map.

    Returns
    -------
    ctypes array
        Give it to :func:`numpy.frombuffer`; arrays made from it keep it alive.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.frombuffer(output_buffer(3 << 20, threads=2), np.float64)
    >>> a.size, bool(a.any())
    (393216, False)
    """
    size = max(int(size), 1)
    m = _take_idle(size)
    if m is None:
        m = mmap.mmap(-1, size)
    else:
        zeros = np.frombuffer(m, np.uint8)

        def clear(lo, hi):
            zeros[lo:hi] = 0

        _in_parallel(clear, len(m), threads)
        del zeros
    owner = (ctypes.c_char * len(m)).from_buffer(m)
    weakref.finalize(owner, _give_back, m)
    return owner
