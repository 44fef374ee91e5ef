"""Analysis on every core: tracks decoded and analysed in worker processes, or on a Dask cluster.

Workers receive a file path and its settings and send back the :class:`Analysis` as JSON (or
why the file failed); only the parent process touches the library's database, so results are
stored exactly as in-process analysis stores them, one commit per result as it arrives.

Workers are *spawned* (a fresh interpreter: forking a parent that has loaded numba, OpenBLAS
or torch threads can deadlock, and would copy its SQLite connection), each capped at one
BLAS/OpenMP/numba/torch thread so that N workers use N cores. ``NUMBA_CPU_NAME`` (librosa's
beat tracker needs ``generic`` on this machine) is passed on explicitly.

A worker that dies (a decoder crash, the kernel's OOM killer) breaks the pool: the tracks
that were in flight are retried one at a time, each in a fresh single-process pool, so the
one that kills its process is reported as failed and the others are stored; the tracks not yet
started go on in a fresh pool.
"""

from __future__ import annotations

import numbers
import os
import sys
import warnings
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from workbench.errors import ParameterError, failure_reason

#: Thread-count variables set to 1 in every worker (read by OpenBLAS, MKL, OpenMP, numba, numexpr).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")
#: Less audio than this (seconds, all tracks to analyse together) is analysed in-process when the
#: number of workers is left to the machine: a spawned worker spends 1-3 s of CPU importing
#: numpy, scipy and librosa before its first track, more than half of two minutes' analysis saves.
MIN_POOL_AUDIO_S = 120.0
#: Reason reported for a track whose worker process died while analysing it, alone.
CRASH_REASON = "the analysis worker process died on this file (a crash in the decoder or a library, or out of memory)"


@dataclass(frozen=True)
class Job:
    """One track to analyse: ``key`` identifies it to the caller, ``settings`` are ``analyze``'s keywords,
    ``duration_s`` its length (longest first on a pool, so no worker is left with a long track at the end)."""

    key: int
    path: str
    settings: dict[str, Any]
    duration_s: float = 0.0


@dataclass(frozen=True)
class Outcome:
    """What became of one :class:`Job`: the analysis as stored JSON, or why it failed.

    ``parameter_error`` marks a failure caused by the settings (every track would fail the
    same way): the caller stops the run with a :class:`~workbench.errors.ParameterError`.
    """

    key: int
    result_json: str | None
    reason: str | None = None
    parameter_error: bool = False


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: object) -> int:
    """The number of worker processes ``workers`` asks for.

    Parameters
    ----------
    workers : int >= 1 or None
        None: one per available core (:func:`available_cores`).

    Returns
    -------
    int >= 1

    Raises
    ------
    ParameterError
        ``workers`` is not None or an int >= 1.
    """
    if workers is None:
        return available_cores()
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ParameterError(f"workers must be an int >= 1 (processes) or None (one per core); got {workers!r}")
    return int(workers)


def check_scheduler(scheduler: object) -> str | None:
    """``scheduler`` checked: None (no Dask), ``"local"`` or a Dask scheduler address.

    Parameters
    ----------
    scheduler : str or None
        ``"local"`` starts a local Dask cluster; ``"tcp://host:8786"`` (any ``scheme://``
        address, or ``host:port``) connects to a running scheduler.

    Returns
    -------
    str or None

    Raises
    ------
    ParameterError
        Not None, ``"local"`` or an address.
    """
    if scheduler is None or scheduler == "local":
        return scheduler  # type: ignore[return-value]
    if isinstance(scheduler, str) and ("://" in scheduler or ":" in scheduler) and not scheduler.startswith(":"):
        return scheduler
    raise ParameterError(f"scheduler must be 'local' or a Dask scheduler address like 'tcp://host:8786'; "
                         f"got {scheduler!r}")


def analyse_file(path: str, settings: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    """Decode and analyse one file (in any process): ``(result_json, failure reason, parameter_error)``.

    Parameters
    ----------
    path : str
        The audio file.
    settings : dict
        ``bpm_prior``, ``key_profile``, ``energy_hop_s`` for :func:`~workbench.analysis.core.analyze`.

    Returns
    -------
    result_json : str or None
        :meth:`Analysis.to_json`, or None when it failed.
    reason : str or None
        One line saying why it failed.
    parameter_error : bool
        The failure is a :class:`~workbench.errors.ParameterError` (the settings are wrong).
    """
    from workbench import audio
    from workbench.analysis.core import MIN_DURATION_S, analyze

    try:
        y, sr = audio.load(path, mono=False, min_duration_s=MIN_DURATION_S)
        return analyze(y, sr=sr, **settings).to_json(), None, False
    except ParameterError as exc:
        return None, str(exc), True
    except Exception as exc:  # one bad track never stops the batch (decoder, pyloudnorm, librosa, OS)
        return None, failure_reason(exc), False


def worker_environment() -> dict[str, str]:
    """What every worker's environment gets: one thread per library and the parent's ``NUMBA_CPU_NAME``."""
    env = dict.fromkeys(THREAD_VARS, "1")
    if os.environ.get("NUMBA_CPU_NAME"):
        env["NUMBA_CPU_NAME"] = os.environ["NUMBA_CPU_NAME"]
    return env


def _init_worker(env: dict[str, str]) -> None:
    """Pool initializer: one thread per numeric library, set before any of them starts its threads."""
    os.environ.update(env)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)  # for BLAS/OpenMP already loaded by the import of this module
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _on_worker(job: Job) -> Outcome:
    return Outcome(job.key, *analyse_file(job.path, job.settings))


def make_executor(workers: int) -> Any:
    """A :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers`` spawned, one-thread processes.

    Parameters
    ----------
    workers : int >= 1
        Processes.

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(worker_environment(),))


def run_in_process(jobs: list[Job]) -> Generator[Outcome, None, None]:
    """Analyse ``jobs`` one after the other in this process (one BLAS/OpenMP thread), yielding each outcome.

    Parameters
    ----------
    jobs : list of Job
        The tracks to analyse.

    Yields
    ------
    Outcome
    """
    from contextlib import nullcontext

    try:
        from threadpoolctl import threadpool_limits

        one_thread: Any = threadpool_limits(limits=1)  # BLAS threads only spin on these small products
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        one_thread = nullcontext()
    with one_thread:
        for job in jobs:
            yield _on_worker(job)


def run_pool(jobs: list[Job], *, workers: int) -> Generator[Outcome, None, None]:
    """Analyse ``jobs`` on ``workers`` processes, yielding each outcome as it arrives.

    At most ``workers`` jobs are in flight, so when a worker dies the suspects are known: they
    are retried alone (:data:`CRASH_REASON` for the one that dies again), the rest go on in a
    fresh pool. When no worker can start at all (an initializer that fails; a script without
    a ``__main__`` guard, which every spawned process re-runs), the jobs are analysed in this
    process with a :class:`RuntimeWarning`.

    Parameters
    ----------
    jobs : list of Job
        The tracks to analyse.
    workers : int >= 1
        Processes.

    Yields
    ------
    Outcome
        In completion order (the longest tracks are started first).
    """
    from concurrent.futures.process import BrokenProcessPool

    queue, suspects = deque(sorted(jobs, key=lambda j: -j.duration_s)), deque[Job]()
    checked = False
    while queue or suspects:
        if suspects and not checked:  # can a worker start here at all? (a script without a main guard)
            checked = True
            if not _pool_starts():
                warnings.warn("analysis worker processes could not start here (a script that calls "
                              "analyze_library needs `if __name__ == \"__main__\":`); analysing in this "
                              "process instead", RuntimeWarning, stacklevel=3)
                yield from run_in_process([*suspects, *queue])
                return
        if suspects:  # one at a time, alone in a fresh process: a crash names its file
            job = suspects.popleft()
            with make_executor(1) as ex:
                try:
                    yield ex.submit(_on_worker, job).result()
                except BrokenProcessPool:
                    yield Outcome(job.key, None, CRASH_REASON)
            continue
        broken = yield from _pool_round(queue, suspects, workers=workers)
        if not broken:
            break


def _pool_starts() -> bool:
    """Whether a spawned worker starts and runs a trivial task (no audio involved)."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        with make_executor(1) as ex:
            ex.submit(os.getpid).result()
        return True
    except BrokenProcessPool:
        return False


def _pool_round(queue: deque[Job], suspects: deque[Job], *, workers: int) -> Generator[Outcome, None, bool]:
    """One pool over ``queue`` until it is empty (returns False) or the pool breaks (in-flight jobs
    moved to ``suspects``; returns True)."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    ex = make_executor(min(workers, len(queue)))
    in_flight: dict[Any, Job] = {}
    try:
        while queue or in_flight:
            while queue and len(in_flight) < workers:
                job = queue.popleft()
                in_flight[ex.submit(_on_worker, job)] = job
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            outcomes, broken = [], False
            for future in done:
                job = in_flight.pop(future)
                try:
                    outcomes.append(future.result())
                except BrokenProcessPool:
                    suspects.append(job)
                    broken = True
            if broken:  # every job still in flight is lost with the pool
                suspects.extend(in_flight.values())
                in_flight.clear()
                yield from outcomes
                return True
            while queue and len(in_flight) < workers:  # keep the workers busy while the caller stores
                job = queue.popleft()
                in_flight[ex.submit(_on_worker, job)] = job
            yield from outcomes
        return False
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def run_dask(jobs: list[Job], *, scheduler: str, workers: int) -> Generator[Outcome, None, None]:
    """Analyse ``jobs`` on a Dask cluster, yielding each outcome as it arrives.

    Parameters
    ----------
    jobs : list of Job
        The tracks to analyse.
    scheduler : str
        ``"local"``: a local cluster of ``workers`` processes (one thread each) for this call;
        else a scheduler's address.
    workers : int >= 1
        Processes of the local cluster (ignored with an address).

    Yields
    ------
    Outcome
        In completion order; a task Dask gave up on (its worker died repeatedly) is a failure.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               env=worker_environment())
    client = Client(cluster if cluster is not None else scheduler)
    try:
        futures = {client.submit(_dask_task, job, pure=False): job
                   for job in sorted(jobs, key=lambda j: -j.duration_s)}
        for future in as_completed(futures):
            job = futures[future]
            try:
                yield future.result()
            except Exception as exc:  # KilledWorker, a lost connection: this track failed, the rest go on
                yield Outcome(job.key, None, failure_reason(exc))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_task(job: Job) -> Outcome:
    """Runs on a Dask worker: one thread per library, then :func:`analyse_file`."""
    for name in THREAD_VARS:
        os.environ.setdefault(name, "1")
    return _on_worker(job)
