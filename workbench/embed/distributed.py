"""Embedding extraction in worker processes: a local pool (one torch thread per worker, a worker
per core) or a Dask cluster (a local one by default, or a scheduler's address).

Each worker builds the backbone once (from a small picklable spec, never a pickled model)
and keeps it; tracks are decoded and embedded on the workers; the results land in the same
content-hashed cache as in-process extraction, written by the client.

Why processes of one thread: on the 2-core development machine (load average 10-14), OpenL3
embedded 3.88 windows/s (bf16) and 2.16 (fp32) as 2 processes x 1 thread against 3.11 and 1.62 as
one process x 2 threads (median of 3 rounds, ``benchmarks/bench_openl3.py``, processes x
threads); convolutions on two threads wait on each other when a core is busy, processes do not.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from workbench.embed.batch import Backbone, EmbedSummary, cache_for
from workbench.embed.cache import EmbeddingCache
from workbench.embed.features import FeatureFrontend
from workbench.errors import AudioError, ParameterError
from workbench.library import Library, Track
from workbench.validate import check_int

# per worker process: backbone spec -> (backbone, times built)
_WORKER_BACKBONES: dict[tuple, Any] = {}


def _split_cached(library: Library, cache: EmbeddingCache, tracks: list[Track] | None, *,
                  backbone_name: str) -> tuple[EmbedSummary, list[Track]]:
    """A summary listing the tracks already cached, and the tracks still to embed.

    Parameters
    ----------
    library : Library
    cache : EmbeddingCache
        The backbone's cache.
    tracks : list of Track or None
        None: every present track.
    backbone_name : str
        For the summary.

    Returns
    -------
    summary : EmbedSummary
    todo : list of Track
    """
    summary = EmbedSummary(backbone=backbone_name)
    todo = []
    for t in library.tracks() if tracks is None else tracks:
        if cache.get(t.content_hash) is not None:
            summary.cached.append(t.id)
        else:
            todo.append(t)
    return summary, todo


def backbone_spec(backbone: Backbone) -> tuple:
    """A small, hashable recipe that rebuilds ``backbone`` on a worker.

    Parameters
    ----------
    backbone : Backbone
        A :class:`FeatureFrontend`, or an :class:`OpenL3Backbone` loaded from a weights file.

    Raises
    ------
    ParameterError
        Any other backbone, or an OpenL3 model that was not loaded from a file.
    """
    if isinstance(backbone, FeatureFrontend):
        return ("features", backbone.window_s, backbone.hop_s)
    from workbench.embed.openl3 import OpenL3Backbone

    if isinstance(backbone, OpenL3Backbone):
        path = getattr(backbone.model, "weights_path", None)
        if path is None:
            raise ParameterError("an OpenL3 backbone must come from OpenL3.from_weights to run on a cluster")
        model = backbone.model
        return ("openl3", str(path), model.embedding_size, backbone.hop_s, backbone.batch_size, str(model.device),
                model.precision)
    raise ParameterError(f"backbone must be a FeatureFrontend or an OpenL3Backbone; got {type(backbone).__name__}")


def _build(spec: tuple) -> Backbone:
    if spec[0] == "features":
        return FeatureFrontend(window_s=spec[1], hop_s=spec[2])
    from workbench.embed.openl3 import OpenL3, OpenL3Backbone

    _, path, size, hop_s, batch_size, device, precision = spec
    model = OpenL3.from_weights(path, embedding_size=size).run_on(device, precision=precision)
    return OpenL3Backbone(model, hop_s=hop_s, batch_size=batch_size)


def _one_thread() -> None:
    """A worker computes on one torch thread (its siblings have the other cores)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


def _embed_on_worker(path: str, spec: tuple) -> tuple[str, np.ndarray | None, np.ndarray | None, str | None, int, int]:
    """Runs on a worker: (path, embeddings, timestamps, error, worker pid, times this worker built the backbone)."""
    from workbench import audio

    entry = _WORKER_BACKBONES.get(spec)
    if entry is None:
        _one_thread()
        entry = _WORKER_BACKBONES[spec] = [_build(spec), 0]
        entry[1] += 1
    backbone = entry[0]
    try:
        y, sr = audio.load(path, mono=False)
        emb, ts = backbone.embed(y, sr=sr)
    except AudioError as exc:
        return path, None, None, exc.reason, os.getpid(), entry[1]
    return path, emb, ts, None, os.getpid(), entry[1]


def embed_library_distributed(
    library: Library,
    *,
    backbone: Backbone | None = None,
    scheduler: str | None = None,
    n_workers: int = 2,
    tracks: list[Track] | None = None,
    progress: bool = True,
) -> EmbedSummary:
    """:func:`workbench.embed.batch.embed_library` on a Dask cluster.

    Parameters
    ----------
    scheduler : str or None
        A scheduler address (``"tcp://host:8786"``); ``None`` starts a local cluster of
        ``n_workers`` processes (one thread each) for this call.
    """
    from dask.distributed import Client, LocalCluster, as_completed
    from tqdm.auto import tqdm

    b = backbone if backbone is not None else FeatureFrontend()
    spec = backbone_spec(b)
    check_int("n_workers", n_workers, min=1)
    cache = cache_for(library, b)
    summary, todo = _split_cached(library, cache, tracks, backbone_name=b.name)
    if not todo:
        return summary
    cluster = None if scheduler else LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                                  dashboard_address=None)
    client = Client(scheduler or cluster)
    try:
        by_path = {t.path: t for t in todo}
        futures = client.map(_embed_on_worker, list(by_path), spec=spec, pure=False)
        summary.worker_builds = {}  # type: ignore[attr-defined]
        for future in tqdm(as_completed(futures), total=len(futures), desc="embed (dask)", unit="track",
                           disable=not progress):
            path, emb, ts, error, pid, builds = future.result()
            summary.worker_builds[pid] = builds  # type: ignore[attr-defined]
            if error is not None:
                summary.failed.append((path, error))
                continue
            cache.put(by_path[path].content_hash, emb, ts)
            summary.embedded.append(by_path[path].id)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return summary


def default_workers(backbone: Backbone | None = None) -> int:
    """Worker processes for a library run: one per CPU core, or 1 when the backbone runs on a GPU.

    Parameters
    ----------
    backbone : Backbone or None
        A backbone whose ``model`` is on a GPU gets one worker (the GPU is the parallelism).
    """
    from workbench.device import cpu_features

    model = getattr(backbone, "model", None)
    device = getattr(model, "device", None)
    if device is not None and device.type != "cpu":
        return 1
    return max(1, cpu_features().cores)


_POOL_BACKBONE: list[Backbone] = []  # the backbone of this pool worker process


def _init_pool_worker(spec: tuple) -> None:
    _one_thread()
    _POOL_BACKBONE[:] = [_build(spec)]


def _embed_in_pool(path: str) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """Runs in a pool worker: (embeddings, timestamps, None) or (None, None, why it failed)."""
    from workbench import audio
    from workbench.embed.batch import _checked
    from workbench.errors import failure_reason

    backbone = _POOL_BACKBONE[0]
    try:
        y, sr = audio.load(path, mono=False)
        emb, ts = _checked(*backbone.embed(y, sr=sr), dim=backbone.dim)
    except ParameterError:  # the settings are wrong: every track would fail the same way
        raise
    except Exception as exc:  # one bad track never stops the batch (decoder, librosa, OS)
        return None, None, failure_reason(exc)
    return emb, ts, None


def embed_library_parallel(
    library: Library,
    *,
    backbone: Backbone | None = None,
    workers: int | None = None,
    tracks: list[Track] | None = None,
    progress: bool = True,
) -> EmbedSummary:
    """:func:`workbench.embed.batch.embed_library` in a pool of local worker processes of one thread each.

    With one worker (or one track to do) it runs in this process, as ``embed_library`` does.

    Parameters
    ----------
    library : Library
        The library; its cache sits in ``<db folder>/embeddings``.
    backbone : Backbone or None
        None: the weight-free feature frontend. Rebuilt in each worker from :func:`backbone_spec`.
    workers : int >= 1 or None
        Worker processes; None: :func:`default_workers` (one per core on the CPU, 1 on a GPU).
    tracks : list of Track or None
        None: every present track of the library.
    progress : bool
        Show a progress bar.

    Returns
    -------
    EmbedSummary

    Raises
    ------
    ParameterError
        ``workers`` is not an int >= 1, or the backbone cannot be rebuilt in a worker.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    from workbench.embed.batch import embed_library

    b = backbone if backbone is not None else FeatureFrontend()
    n = default_workers(b) if workers is None else workers
    check_int("workers", n, min=1)
    cache = cache_for(library, b)
    summary, todo = _split_cached(library, cache, tracks, backbone_name=b.name)
    n = min(n, len(todo))
    if not todo:
        return summary
    if n <= 1:
        done = embed_library(library, backbone=b, tracks=todo, progress=progress)
        done.cached[:0] = summary.cached
        return done
    spec = backbone_spec(b)
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds torch's thread pools
    pool = ProcessPoolExecutor(n, mp_context=ctx, initializer=_init_pool_worker, initargs=(spec,))
    try:
        futures = {pool.submit(_embed_in_pool, t.path): t for t in todo}
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"embed ({n} workers)", unit="track",
                           disable=not progress):
            t = futures[future]
            emb, ts, error = future.result()  # a ParameterError or a worker that could not start stops the run
            if error is not None:
                summary.failed.append((t.path, error))
                continue
            cache.put(t.content_hash, emb, ts)  # WriteError stops the run: every track would fail
            summary.embedded.append(t.id)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return summary
