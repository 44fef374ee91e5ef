"""Embed every track of a library into the cache, continuing past bad files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from workbench import audio
from workbench.embed.cache import EmbeddingCache
from workbench.embed.features import FeatureFrontend
from workbench.errors import AudioError, ParameterError, failure_reason
from workbench.library import Library, Track


class Backbone(Protocol):
    """What batch extraction needs of a backbone: a name, settings, a size and ``embed``."""

    @property
    def name(self) -> str: ...

    @property
    def settings(self) -> dict: ...

    @property
    def dim(self) -> int: ...

    def embed(self, y: np.ndarray, *, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame embeddings of one clip.

        Parameters
        ----------
        y : np.ndarray [shape=(n,) or (channels, n)]
            Audio samples.
        sr : int > 0
            Sample rate in Hz.

        Returns
        -------
        embeddings : np.ndarray [shape=(frames, dim)]
        timestamps_s : np.ndarray [shape=(frames,)]
            Each frame's time in seconds.
        """
        ...


#: How :func:`default_backbone`'s sentence starts when it fell back for want of OpenL3 weights.
NO_OPENL3_WEIGHTS = "feature frontend, not OpenL3"


def brief_backbone_said(said: str) -> str:
    """:func:`default_backbone`'s sentence in one short line, for a command run again and again.

    The fallback for want of OpenL3 weights (four lines in a terminal: every place looked, how to
    copy the file) becomes ``"feature frontend, not OpenL3 (no OpenL3 weights: README, 'Embeddings,
    and adding OpenL3 weights'; `workbench embed` says where it looked)"``; any other sentence is
    returned as is.

    Parameters
    ----------
    said : str
        What :func:`default_backbone` (or a model built on it) said.
    """
    if not said.startswith(f"{NO_OPENL3_WEIGHTS}: no OpenL3 weights found"):
        return said
    return (f"{NO_OPENL3_WEIGHTS} (no OpenL3 weights: README, 'Embeddings, and adding OpenL3 weights'; "
            "`workbench embed` says where it looked)")


def default_backbone(*, device: str = "auto", precision: str = "auto") -> tuple[Backbone, str]:
    """OpenL3 (mel128, music, 512-d, hop 0.5 s) when its weights are found, else the feature frontend.

    Returns the backbone and a sentence saying which it is and why.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "mps"}
        Where OpenL3 runs (:func:`workbench.device.resolve_device`; auto: a GPU when present).
    precision : {"auto", "fp32", "bf16", "fp16"}
        OpenL3's network precision (:meth:`workbench.embed.openl3.OpenL3.run_on`; auto: bf16 on a
        CPU with native bf16 or on a GPU, kept only at parity with fp32).

    Raises
    ------
    ParameterError
        An unknown or unavailable device or precision (checked even when the weights are missing).
    """
    import importlib.util

    from workbench.device import resolve_device, resolve_precision

    if device != "auto" or precision != "auto":  # "auto" is always valid: no torch import to check it
        resolve_precision(precision, resolve_device(device))
    missing = [m for m in ("torch", "h5py") if importlib.util.find_spec(m) is None]
    if missing:
        return FeatureFrontend(), f"feature frontend ({' and '.join(missing)} not installed, so OpenL3 cannot run)"
    from workbench.embed.openl3_weights import WeightsError, find_weights

    try:  # looked for before torch is imported (about 1.5 s): without weights nothing needs it
        find_weights()
    except WeightsError as exc:
        return FeatureFrontend(), f"{NO_OPENL3_WEIGHTS}: {exc}"
    try:
        from workbench.embed.openl3 import OpenL3, OpenL3Backbone
    except ImportError as exc:  # torch installed but broken
        return FeatureFrontend(), f"feature frontend (torch cannot be imported: {exc}; so OpenL3 cannot run)"
    try:
        model = OpenL3.from_weights(embedding_size=512)
    except WeightsError as exc:
        return FeatureFrontend(), f"{NO_OPENL3_WEIGHTS}: {exc}"
    model.run_on(device, precision=precision)
    return OpenL3Backbone(model, hop_s=0.5), f"OpenL3 {model.name} (weights sha256 {model.weights_sha256[:12]}; " \
        f"{model.device.type}, {model.precision})"


def describe_backbone(backbone: Backbone) -> str:
    """One line saying which backbone this is, so results are never mistaken for OpenL3's.

    Parameters
    ----------
    backbone : Backbone
        The backbone (its weights' sha256 is shown when it has a model that knows it).
    """
    if isinstance(backbone, FeatureFrontend):
        return f"feature frontend {backbone.name} (weight-free; not OpenL3)"
    model = getattr(backbone, "model", None)
    sha = getattr(model, "weights_sha256", None)
    sha = sha() if callable(sha) else sha  # the CNN's AudioCNN computes it (a method); OpenL3 keeps it
    where = f"{model.device.type}, {model.precision}" if hasattr(model, "precision") else ""
    said = "; ".join(x for x in (f"weights sha256 {sha[:12]}" if sha else "", where) if x)
    return f"{backbone.name}" + (f" ({said})" if said else "")


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
    """The cache beside the library's database: ``<db folder>/embeddings``.

    Parameters
    ----------
    library : Library
        The library; its cache sits in ``<db folder>/embeddings``.
    backbone : Backbone or None
        Its name and settings select the cache; None: the feature frontend.
    """
    b = backbone if backbone is not None else FeatureFrontend()
    return EmbeddingCache(Path(library.path).parent / "embeddings", backbone=b.name, settings=b.settings)


def embed_library(
    library: Library,
    *,
    backbone: Backbone | None = None,
    tracks: list[Track] | None = None,
    hop_s: float | None = None,
    progress: bool | str = True,
) -> EmbedSummary:
    """Frame embeddings of every track (or ``tracks``), computed once and cached by content hash.

    A track that cannot be decoded or embedded (any error: the decoder's, librosa's, an OS
    error) is listed in :attr:`EmbedSummary.failed` with its cause and the batch goes on.

    Parameters
    ----------
    library : Library
        The library; its cache sits in ``<db folder>/embeddings``.
    backbone : Backbone or None
        None: the weight-free feature frontend.
    tracks : list of Track or None
        None: every present track of the library.
    hop_s : float > 0 or None
        Hop between embedding windows in seconds; ``None`` keeps the backbone's own.
    progress : bool or str
        Show a progress bar; a str is its name (what these tracks are: ``"embed training tracks"``),
        else it is called ``"embed"``.

    Returns
    -------
    EmbedSummary

    Raises
    ------
    ParameterError
        ``hop_s`` is not a positive number (or outside what the backbone allows).
    WriteError
        The cache cannot be written (disk full, permission denied, ...).
    """
    from tqdm.auto import tqdm

    b = backbone if backbone is not None else FeatureFrontend()
    if hop_s is not None:
        b = with_hop(b, hop_s)
    cache = cache_for(library, b)
    summary = EmbedSummary(backbone=b.name)
    for t in tqdm(library.tracks() if tracks is None else tracks, unit="track", disable=not progress,
                  desc=progress if isinstance(progress, str) else "embed"):
        if cache.get(t.content_hash) is not None:
            summary.cached.append(t.id)
            continue
        try:
            y, sr = audio.load(t.path, mono=False)
            emb, ts = b.embed(y, sr=sr)
            emb, ts = _checked(emb, ts, dim=b.dim)
        except ParameterError:  # the settings are wrong: every track would fail the same way
            raise
        except Exception as exc:  # one bad track never stops the batch (decoder, librosa, OS)
            summary.failed.append((t.path, failure_reason(exc)))
            continue
        cache.put(t.content_hash, emb, ts)  # WriteError (disk full, ...) stops the run: every track would fail
        summary.embedded.append(t.id)
    return summary


def with_hop(backbone: Backbone, hop_s: float) -> Backbone:
    """The backbone with another hop between windows (seconds).

    Parameters
    ----------
    backbone : Backbone
        A backbone with a ``hop_s`` setting; it is not changed (a copy is returned).
    hop_s : float > 0
        Seconds between embedding windows.

    Returns
    -------
    Backbone

    Raises
    ------
    ParameterError
        ``hop_s`` is not a finite number > 0, is outside the backbone's range, or the backbone
        has no hop.
    """
    import copy
    import dataclasses
    import math

    if isinstance(hop_s, bool) or not isinstance(hop_s, (int, float)) or not math.isfinite(hop_s) or hop_s <= 0:
        raise ParameterError(f"hop_s must be a number > 0 (seconds between embedding windows); got {hop_s!r}")
    if dataclasses.is_dataclass(backbone) and any(f.name == "hop_s" for f in dataclasses.fields(backbone)):
        return dataclasses.replace(backbone, hop_s=float(hop_s))  # type: ignore[type-var]
    if hasattr(backbone, "hop_s"):
        if type(backbone).__name__ == "OpenL3Backbone":
            return type(backbone)(backbone.model, hop_s=float(hop_s), batch_size=backbone.batch_size)  # type: ignore[attr-defined,call-arg]
        other = copy.copy(backbone)
        other.hop_s = float(hop_s)  # type: ignore[attr-defined]
        return other
    raise ParameterError(f"backbone {backbone.name} has no hop_s setting; got hop_s={hop_s!r}")


def _checked(emb: np.ndarray, ts: np.ndarray, *, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """A backbone's output, refused by name when it is not finite (n, dim) with n timestamps."""
    e, t = np.asarray(emb), np.asarray(ts)
    if e.ndim != 2 or e.shape[1] != dim or e.shape[0] == 0 or t.shape != (e.shape[0],):
        raise AudioError(f"the backbone returned embeddings of shape {e.shape} with {t.shape} timestamps; "
                         f"expected (n >= 1, {dim}) and (n,)")
    if not (np.isfinite(e).all() and np.isfinite(t).all()):
        raise AudioError("the backbone returned NaN or infinite embeddings for this audio")
    return e, t


def track_vectors(
    library: Library, *, backbone: Backbone | None = None, with_std: bool = True
) -> tuple[list[Track], np.ndarray]:
    """Pooled vectors of every track that has cached embeddings, in library order.

    Parameters
    ----------
    library : Library
        The library; its cache sits in ``<db folder>/embeddings``.
    backbone : Backbone or None
        Selects the cache; None: the feature frontend.
    with_std : bool
        Pool the frames' standard deviation beside their mean.

    Returns
    -------
    tracks : list of Track
        The tracks that have embeddings (others are left out).
    vectors : np.ndarray [shape=(len(tracks), dim) or (len(tracks), 2 * dim) with ``with_std``]
    """
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
