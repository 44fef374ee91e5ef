"""Embed every track of a library into the cache, continuing past bad files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench import audio
from workbench.embed.cache import EmbeddingCache
from workbench.embed.features import FeatureFrontend
from workbench.errors import AudioError
from workbench.library import Library, Track


@dataclass
class EmbedSummary:
    """Track ids embedded now, ids found in the cache, and failures by path."""

    backbone: str
    embedded: list[int] = field(default_factory=list)
    cached: list[int] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"embeddings ({self.backbone}): {len(self.embedded)} embedded, {len(self.cached)} cached, "
                 f"{len(self.failed)} failed"]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def cache_for(library: Library, backbone: FeatureFrontend | None = None) -> EmbeddingCache:
    """The cache beside the library's database: ``<db folder>/embeddings``."""
    b = backbone if backbone is not None else FeatureFrontend()
    return EmbeddingCache(Path(library.path).parent / "embeddings", backbone=b.name, settings=b.settings)


def embed_library(
    library: Library,
    *,
    backbone: FeatureFrontend | None = None,
    tracks: list[Track] | None = None,
    progress: bool = True,
) -> EmbedSummary:
    """Frame embeddings of every track (or ``tracks``), computed once and cached by content hash."""
    from tqdm.auto import tqdm

    b = backbone if backbone is not None else FeatureFrontend()
    cache = cache_for(library, b)
    summary = EmbedSummary(backbone=b.name)
    for t in tqdm(library.tracks() if tracks is None else tracks, desc="embed", unit="track", disable=not progress):
        if cache.get(t.content_hash) is not None:
            summary.cached.append(t.id)
            continue
        try:
            y, sr = audio.load(t.path, mono=False)
            emb, ts = b.embed(y, sr=sr)
        except AudioError as exc:
            summary.failed.append((t.path, str(exc).removeprefix(f"{t.path}: ")))
            continue
        cache.put(t.content_hash, emb, ts)
        summary.embedded.append(t.id)
    return summary


def track_vectors(
    library: Library, *, backbone: FeatureFrontend | None = None, with_std: bool = True
) -> tuple[list[Track], np.ndarray]:
    """Pooled vectors of every track that has cached embeddings, in library order."""
    from workbench.embed.features import pool

    cache = cache_for(library, backbone)
    tracks, vectors = [], []
    for t in library.tracks():
        hit = cache.get(t.content_hash)
        if hit is not None:
            tracks.append(t)
            vectors.append(pool(hit[0], with_std=with_std))
    dim = 2 * (backbone or FeatureFrontend()).dim if with_std else (backbone or FeatureFrontend()).dim
    return tracks, (np.stack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32))
