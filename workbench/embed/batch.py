"""Embed every track of a library into the cache, continuing past bad files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from workbench import audio
from workbench.embed.cache import EmbeddingCache
from workbench.embed.features import FeatureFrontend
from workbench.errors import AudioError
from workbench.library import Library, Track


class Backbone(Protocol):
    """What batch extraction needs of a backbone: a name, settings, a size and ``embed``."""

    @property
    def name(self) -> str: ...

    @property
    def settings(self) -> dict: ...

    @property
    def dim(self) -> int: ...

    def embed(self, y: np.ndarray, *, sr: int) -> tuple[np.ndarray, np.ndarray]: ...


def default_backbone() -> tuple[Backbone, str]:
    """OpenL3 (mel128, music, 512-d, hop 0.5 s) when its weights are found, else the feature frontend.

    Returns the backbone and a sentence saying which it is and why.
    """
    try:
        from workbench.embed.openl3 import OpenL3, OpenL3Backbone, WeightsError
    except ImportError:  # torch or h5py not installed
        return FeatureFrontend(), "feature frontend (torch is not installed, so OpenL3 cannot run)"
    try:
        model = OpenL3.from_weights(embedding_size=512)
    except WeightsError as exc:
        return FeatureFrontend(), f"feature frontend, not OpenL3: {exc}"
    return OpenL3Backbone(model, hop_s=0.5), f"OpenL3 {model.name} (weights sha256 {model.weights_sha256[:12]})"


def describe_backbone(backbone: Backbone) -> str:
    """One line saying which backbone this is, so results are never mistaken for OpenL3's."""
    if isinstance(backbone, FeatureFrontend):
        return f"feature frontend {backbone.name} (weight-free; not OpenL3)"
    model = getattr(backbone, "model", None)
    sha = getattr(model, "weights_sha256", None)
    return f"{backbone.name}" + (f" (weights sha256 {sha[:12]})" if sha else "")


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


def cache_for(library: Library, backbone: Backbone | None = None) -> EmbeddingCache:
    """The cache beside the library's database: ``<db folder>/embeddings``."""
    b = backbone if backbone is not None else FeatureFrontend()
    return EmbeddingCache(Path(library.path).parent / "embeddings", backbone=b.name, settings=b.settings)


def embed_library(
    library: Library,
    *,
    backbone: Backbone | None = None,
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
            summary.failed.append((t.path, exc.reason))
            continue
        cache.put(t.content_hash, emb, ts)
        summary.embedded.append(t.id)
    return summary


def track_vectors(
    library: Library, *, backbone: Backbone | None = None, with_std: bool = True
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
    b = backbone if backbone is not None else FeatureFrontend()
    dim = 2 * b.dim if with_std else b.dim
    return tracks, (np.stack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32))
