"""Embedding extraction on a Dask cluster: a local one by default, or a scheduler's address.

Each worker builds the backbone once (from a small picklable spec, never a pickled model)
and keeps it; tracks are decoded and embedded on the workers; the results land in the same
content-hashed cache as in-process extraction, written by the client.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from workbench.embed.batch import Backbone, EmbedSummary, cache_for
from workbench.embed.features import FeatureFrontend
from workbench.errors import AudioError, ParameterError
from workbench.library import Library, Track
from workbench.validate import check_int

# per worker process: backbone spec -> (backbone, times built)
_WORKER_BACKBONES: dict[tuple, Any] = {}


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
        return ("openl3", str(path), backbone.model.embedding_size, backbone.hop_s, backbone.batch_size)
    raise ParameterError(f"backbone must be a FeatureFrontend or an OpenL3Backbone; got {type(backbone).__name__}")


def _build(spec: tuple) -> Backbone:
    if spec[0] == "features":
        return FeatureFrontend(window_s=spec[1], hop_s=spec[2])
    from workbench.embed.openl3 import OpenL3, OpenL3Backbone

    _, path, size, hop_s, batch_size = spec
    return OpenL3Backbone(OpenL3.from_weights(path, embedding_size=size), hop_s=hop_s, batch_size=batch_size)


def _embed_on_worker(path: str, spec: tuple) -> tuple[str, np.ndarray | None, np.ndarray | None, str | None, int, int]:
    """Runs on a worker: (path, embeddings, timestamps, error, worker pid, times this worker built the backbone)."""
    from workbench import audio

    entry = _WORKER_BACKBONES.get(spec)
    if entry is None:
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
    summary = EmbedSummary(backbone=b.name)
    todo = []
    for t in library.tracks() if tracks is None else tracks:
        if cache.get(t.content_hash) is not None:
            summary.cached.append(t.id)
        else:
            todo.append(t)
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
