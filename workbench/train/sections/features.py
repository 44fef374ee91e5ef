"""Section data: the readiness rule, window features and the labelled-window dataset.

:func:`check_readiness` refuses to train on too few labelled *sections* (10 per class, 2
classes). :class:`WindowFeatures` turns a track's frame embeddings into one feature vector per
frame ("window"): the frame, mean-pooled context around it, the context relative to the
track's mean, and the position in the track. :func:`section_dataset` gives every labelled
track's windows (:class:`TrackFrames`) and the labelled ones stacked (:class:`SectionData`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError, StoreError, WorkbenchError, WriteError, failure_reason
from workbench.labels import LABELS

if TYPE_CHECKING:  # pragma: no cover
    from workbench.embed.batch import Backbone
    from workbench.library import Library, Track


class NotReadyError(WorkbenchError, ValueError):
    """Too few labelled sections to train (the message says which classes lack how many)."""


# ------------------------------------------------------------------------------- readiness


def check_readiness(counts: Mapping[str, int], *, min_per_class: int = 10, min_classes: int = 2) -> None:
    """Refuse to train on too few labels.

    Parameters
    ----------
    counts : mapping of label → int
        Number of labelled *sections* per label (not windows).
    min_per_class : int
        Sections every labelled class needs.
    min_classes : int
        Classes that need labels.

    Raises
    ------
    NotReadyError
        ``"Need 2+ classes: have 1 (drop)"`` or ``"Need more labels: drop 3/10, intro 5/10
        (labelled sections per class)"``.
    """
    present = {k: int(v) for k, v in counts.items() if int(v) > 0}
    unknown = sorted(set(present) - set(LABELS))
    if unknown:
        raise ParameterError(f"counts must use the labels {LABELS}; got unknown {unknown}")
    if len(present) < min_classes:
        names = ", ".join(present) or "none"
        raise NotReadyError(f"Need {min_classes}+ classes: have {len(present)} ({names})")
    short = [f"{k} {present[k]}/{min_per_class}" for k in LABELS if k in present and present[k] < min_per_class]
    if short:
        raise NotReadyError(f"Need more labels: {', '.join(short)} (labelled sections per class)")


# -------------------------------------------------------------------------------- features


@dataclass(frozen=True)
class WindowFeatures:
    """How a track's frame embeddings become one feature vector per frame ("window").

    Parameters
    ----------
    context_s : tuple of float
        Half-widths in seconds of mean-pooled context around each frame (one block each).
    track_relative : bool
        Append each context block minus the track's mean frame (relative level: a drop is
        louder and denser than the rest of *its* track).
    position : bool
        Append the relative position in the track, ``t / duration`` and ``4 r (1 - r)``.
    extra : tuple of str
        Feature groups of :mod:`~workbench.train.sections.dj_features` appended in this order:
        ``"dj"`` (level, slope, low end, onsets, brightness and rise: needs ``features-v1``
        frames), ``"novelty"`` (change against the neighbouring seconds), ``"ends"`` (distance
        to the start and the end).

    embedding : bool
        False leaves the backbone's frames and contexts out (only position and ``extra``: the
        DJ descriptors alone, which do not depend on how a generator or a mix sounds).

    The layout is ``[frame, context..., (context - track mean)..., position, extra...]``;
    :meth:`dim` gives its length for a backbone size, :meth:`group_names` names the groups.
    Training uses :data:`DEFAULT_FEATURES` (every extra group) unless told otherwise.
    """

    context_s: tuple[float, ...] = (4.0, 16.0)
    track_relative: bool = True
    position: bool = True
    extra: tuple[str, ...] = ()
    embedding: bool = True

    def __post_init__(self) -> None:
        from workbench.train.sections.dj_features import EXTRA_GROUPS

        if not isinstance(self.context_s, tuple) or any(not (isinstance(c, (int, float)) and c > 0) for c in self.context_s):
            raise ParameterError(f"context_s must be a tuple of seconds > 0; got {self.context_s!r}")
        if not isinstance(self.extra, tuple) or any(g not in EXTRA_GROUPS for g in self.extra) \
                or len(set(self.extra)) != len(self.extra):
            raise ParameterError(f"extra must be a tuple of distinct groups from {tuple(EXTRA_GROUPS)}; got {self.extra!r}")
        if not (self.embedding or self.position or self.extra):
            raise ParameterError("a window layout needs the embedding, the position or an extra group; got none")

    def group_names(self) -> list[str]:
        """The feature groups of this layout, in order (what a run records as ``feature_groups``)."""
        names = (["embedding (frame)"] + [f"embedding context ±{c:g} s" for c in self.context_s]
                 if self.embedding else [])
        if self.track_relative and self.embedding:
            names.append("embedding context − track mean")
        if self.position:
            names.append("position in track")
        return names + list(self.extra)

    def dim(self, base_dim: int) -> int:
        """Length of a window's feature vector.

        Parameters
        ----------
        base_dim : int > 0
            Size of the backbone's frame embedding.
        """
        from workbench.train.sections.dj_features import EXTRA_GROUPS

        n_ctx = len(self.context_s)
        return (base_dim * (1 + n_ctx + (n_ctx if self.track_relative else 0)) * int(self.embedding)
                + (2 if self.position else 0)
                + sum(EXTRA_GROUPS[g] for g in self.extra))

    def to_dict(self) -> dict[str, Any]:
        return {"context_s": list(self.context_s), "track_relative": self.track_relative, "position": self.position,
                "extra": list(self.extra), "embedding": self.embedding}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WindowFeatures:
        """The layout :meth:`to_dict` wrote.

        Parameters
        ----------
        d : mapping
            ``{"context_s": [...], "track_relative": bool, "position": bool, "extra": [...]}``
            (a layout saved without ``extra`` has none).
        """
        return cls(tuple(float(c) for c in d["context_s"]), bool(d["track_relative"]), bool(d["position"]),
                   tuple(d.get("extra") or ()), bool(d.get("embedding", True)))

    def transform(self, frames: np.ndarray, times_s: np.ndarray, *, duration_s: float,
                  dj_frames: np.ndarray | None = None, downbeats_s: np.ndarray | None = None) -> np.ndarray:
        """Features of every frame; ``frames`` (n, d), ``times_s`` frame centres; returns (n, dim(d)) float32.

        Parameters
        ----------
        frames : np.ndarray [shape=(n, d)]
            Frame embeddings, n >= 1.
        times_s : np.ndarray [shape=(n,)]
            Frame centres in seconds.
        duration_s : float > 0
            Track length in seconds (for the position features).
        dj_frames : np.ndarray [shape=(n, 202)], optional
            ``features-v1`` frames at ``times_s`` for the ``"dj"`` group; default ``frames``
            when they are ``features-v1`` frames (202 columns). The ``"bars"`` group needs them too.
        downbeats_s : np.ndarray [shape=(m,)], optional
            The track's downbeats in seconds, for the ``"bars"`` group (none: 2-s pseudo-bars).

        Raises
        ------
        ParameterError
            ``frames`` not 2-d and non-empty, or ``times_s`` of another length; the ``"dj"``
            group without ``features-v1`` frames.
        """
        from workbench.train.sections import dj_features as dj

        f = np.asarray(frames, dtype=np.float64)
        t = np.asarray(times_s, dtype=np.float64)
        if f.ndim != 2 or f.shape[0] == 0 or t.shape != (f.shape[0],):
            raise ParameterError(f"frames must be (n >= 1, d) with one time each; got {f.shape} and {t.shape}")
        csum = np.vstack([np.zeros((1, f.shape[1])), np.cumsum(f, axis=0)])
        blocks = [f]
        contexts = []
        for c in self.context_s:
            lo = np.searchsorted(t, t - c, side="left")
            hi = np.searchsorted(t, t + c, side="right")
            contexts.append((csum[hi] - csum[lo]) / (hi - lo)[:, None])
        blocks += contexts
        if self.track_relative:
            mean = f.mean(axis=0)
            blocks += [ctx - mean for ctx in contexts]
        if not self.embedding:
            blocks = []
        if self.position:
            r = np.clip(t / max(float(duration_s), 1e-9), 0.0, 1.0)[:, None]
            blocks += [r, 4 * r * (1 - r)]
        for g in self.extra:
            if g in ("dj", "bars"):
                src = dj_frames if dj_frames is not None else f
                if np.shape(src)[1] != dj.FEATURES_V1_DIM:
                    raise ParameterError(f"the {g!r} feature group needs features-v1 frames ({dj.FEATURES_V1_DIM} "
                                         f"columns); got {np.shape(src)[1]}: pass dj_frames or drop {g!r} from extra")
                blocks.append(dj.dj_block(src, t) if g == "dj" else
                              dj.bars_block(src, t, downbeats_s, duration_s=duration_s))
            elif g == "novelty":
                blocks.append(dj.novelty_block(f, t))
            else:
                blocks.append(dj.ends_block(t, duration_s))
        return np.hstack(blocks).astype(np.float32)


#: The window layout section training uses by default: the embedding with context, position, and every extra group.
DEFAULT_FEATURES = WindowFeatures(extra=("dj", "novelty", "ends"))


# ---------------------------------------------------------------------------------- dataset


@dataclass
class TrackFrames:
    """One track's window features and grid. Times in seconds.

    ``features`` (n, dim) and ``times_s`` (n,) (window centres) cover the whole track;
    ``beats``/``downbeats`` its grid; ``sections`` its labelled spans ``[{start_s, end_s, label}]``;
    ``content_hash`` the audio's content hash (what ``metrics["held_out"]["track_hashes"]`` lists);
    ``frames`` (n, d) the backbone's frame embeddings the features were made from (None when not
    kept); ``group`` the track's crate (or folder) for leave-one-group-out scores ("" unknown).
    """

    track_id: int
    name: str
    duration_s: float
    features: np.ndarray
    times_s: np.ndarray
    beats: np.ndarray
    downbeats: np.ndarray
    sections: list[dict[str, Any]]
    content_hash: str = ""
    frames: np.ndarray | None = field(default=None, repr=False)
    group: str = ""

    def window_labels(self) -> np.ndarray:
        """Label of each window ('' where no labelled span holds its centre)."""
        out = np.full(self.times_s.shape, "", dtype=object)
        for s in self.sections:
            out[(self.times_s >= s["start_s"]) & (self.times_s < s["end_s"])] = s["label"]
        return out


@dataclass
class SectionData:
    """Labelled windows of a set of tracks, with each track kept whole for smoothing and timelines.

    ``X`` (n, dim) float32, ``y`` (n,) label strings, ``groups`` (n,) track ids and ``times_s``
    (n,) window centres hold only windows inside labelled spans.
    """

    tracks: list[TrackFrames]
    features: WindowFeatures
    backbone: str
    X: np.ndarray = field(init=False, repr=False)
    y: np.ndarray = field(init=False, repr=False)
    groups: np.ndarray = field(init=False, repr=False)
    times_s: np.ndarray = field(init=False, repr=False)
    #: ``(track id, reason)`` of labelled tracks left out because they could not be read or embedded.
    failed: list[tuple[int, str]] = field(init=False, repr=False, default_factory=list)

    def __post_init__(self) -> None:
        xs, ys, gs, ts = [], [], [], []
        for tr in self.tracks:
            lab = tr.window_labels()
            keep = lab != ""
            xs.append(tr.features[keep])
            ys.append(lab[keep].astype(str))
            gs.append(np.full(int(keep.sum()), tr.track_id, dtype=np.int64))
            ts.append(tr.times_s[keep])
        dim = self.tracks[0].features.shape[1] if self.tracks else 0
        self.X = np.vstack(xs) if xs else np.zeros((0, dim), dtype=np.float32)
        self.y = np.concatenate(ys) if ys else np.zeros(0, dtype=str)
        self.groups = np.concatenate(gs) if gs else np.zeros(0, dtype=np.int64)
        self.times_s = np.concatenate(ts) if ts else np.zeros(0)

    def section_counts(self) -> dict[str, int]:
        """Labelled sections per label (what :func:`check_readiness` counts)."""
        counts = dict.fromkeys(LABELS, 0)
        for tr in self.tracks:
            for s in tr.sections:
                counts[s["label"]] += 1
        return counts

    def subset(self, track_ids: Iterable[int]) -> SectionData:
        """Only the tracks ``track_ids`` (same features and backbone).

        Parameters
        ----------
        track_ids : iterable of int
            Library track ids kept.
        """
        keep = set(int(i) for i in track_ids)
        return SectionData([t for t in self.tracks if t.track_id in keep], self.features, self.backbone)


def _record(r: Any) -> dict[str, Any]:
    get = r.get if isinstance(r, Mapping) else lambda k: getattr(r, k, None)
    rec = {"track_id": get("track_id"), "label": get("label"), "start_s": get("start_s"), "end_s": get("end_s")}
    if rec["label"] not in LABELS:
        raise ParameterError(f"section label must be one of {LABELS}; got {rec['label']!r} in {rec}")
    if not (isinstance(rec["track_id"], int) and rec["start_s"] is not None and rec["end_s"] is not None
            and float(rec["end_s"]) > float(rec["start_s"])):
        raise ParameterError(f"sections need an int track_id and end_s > start_s; got {rec}")
    return {"track_id": rec["track_id"], "label": rec["label"], "start_s": float(rec["start_s"]),
            "end_s": float(rec["end_s"])}


def track_frames(library: Library, track: Track | int | str, *, backbone: Backbone | None = None,
                 features: WindowFeatures | None = None) -> TrackFrames:
    """A track's window features (embedding and analysing it first if needed) and beat grid.

    Parameters
    ----------
    library : Library
        Where the track is.
    track : Track, int or str
        The track, or its id or content hash (``library.track``).
    backbone : Backbone, optional
        Frame embeddings to use (default the feature frontend); missing ones are computed.
    features : WindowFeatures, optional
        Window feature layout (default :data:`DEFAULT_FEATURES`).

    Returns
    -------
    TrackFrames
        With no sections.

    Raises
    ------
    ParameterError
        The track cannot be embedded.
    """
    from workbench.analysis import track_analysis
    from workbench.embed.batch import cache_for, embed_library
    from workbench.embed.features import FeatureFrontend

    t = track if not isinstance(track, (int, str)) else library.track(track)
    b = backbone if backbone is not None else FeatureFrontend()
    spec = features if features is not None else DEFAULT_FEATURES
    cache = cache_for(library, b)
    hit = cache.get(t.content_hash)
    if hit is None:
        summary = embed_library(library, backbone=b, tracks=[t], progress=False)
        if summary.failed:
            raise ParameterError(f"track {t.id} cannot be embedded: {summary.failed[0][1]}")
        hit = cache.get(t.content_hash)
        if hit is None:  # pragma: no cover - stored just above
            raise ParameterError(f"track {t.id}: embeddings were not cached in {cache.folder}")
    frames, starts = hit
    times = np.asarray(starts, dtype=np.float64) + float(getattr(b, "window_s", 1.0)) / 2
    analysis = track_analysis(library, t)
    dj_frames = None
    if {"dj", "bars"} & set(spec.extra) and b.name != FeatureFrontend.name:  # level, low end, ... from features-v1
        dj_frames = _frontend_frames(library, t, times)
    return TrackFrames(t.id, t.name, float(t.duration_s),
                       spec.transform(frames, times, duration_s=t.duration_s, dj_frames=dj_frames,
                                      downbeats_s=np.asarray(analysis.downbeats)),
                       times, np.asarray(analysis.beats), np.asarray(analysis.downbeats), [],
                       content_hash=str(t.content_hash), frames=np.asarray(frames, dtype=np.float32))


def _frontend_frames(library: Library, track: Track, times_s: np.ndarray) -> np.ndarray:
    """``features-v1`` frames of a track (embedded and cached if missing), the nearest one at each time."""
    from workbench.embed.batch import cache_for, embed_library
    from workbench.embed.features import FeatureFrontend

    fe = FeatureFrontend()
    cache = cache_for(library, fe)
    hit = cache.get(track.content_hash)
    if hit is None:
        summary = embed_library(library, backbone=fe, tracks=[track], progress=False)
        hit = cache.get(track.content_hash)
        if summary.failed or hit is None:
            raise ParameterError(f"track {track.id}: no features-v1 frames for the 'dj' feature group")
    frames, starts = hit
    centres = np.asarray(starts, dtype=np.float64) + fe.window_s / 2
    idx = np.clip(np.searchsorted(centres, times_s), 0, len(centres) - 1)
    return np.asarray(frames)[idx]


def track_groups(library: Library, track_ids: Iterable[int]) -> dict[int, str]:
    """The group of each track for leave-one-group-out scores: its first crate, else its folder.

    A user's crates (or the folders the library was scanned from) are the closest thing to
    "another style" a library knows: the demo makes one crate per style.

    Parameters
    ----------
    library : Library
        Where the tracks are.
    track_ids : iterable of int
        Library track ids.

    Returns
    -------
    dict of int to str
        ``"crate:<name>"`` (the first of its crates by name) or ``"folder:<folder>"`` per track.
    """
    from workbench.crates import Crates

    membership = Crates(library).membership()
    out: dict[int, str] = {}
    for tid in track_ids:
        crates = membership.get(int(tid))
        if crates:
            out[int(tid)] = f"crate:{crates[0]}"
            continue
        try:
            t = library.track(int(tid))
            out[int(tid)] = f"folder:{getattr(t, 'folder', '') or Path(t.path).parent.name}"
        except Exception:  # noqa: BLE001 - a track that cannot be looked up joins no group
            out[int(tid)] = ""
    return out


def section_dataset(library: Library, sections: Iterable[Any], *, backbone: Backbone | None = None,
                    features: WindowFeatures | None = None, progress: bool = True) -> SectionData:
    """Labelled windows of every track that has sections.

    Parameters
    ----------
    library : Library
    sections : iterable of records
        Dicts or objects with ``track_id``, ``label``, ``start_s``, ``end_s`` (label-store
        records, :class:`workbench.labels.Label`, or :func:`demo_sections`).
    backbone : Backbone or None
        Frame embeddings to use (default the feature frontend); missing ones are computed.
    features : WindowFeatures or None
        Window feature layout (default :data:`DEFAULT_FEATURES`).
    progress : bool
        Show a bar over the tracks.
    """
    from tqdm.auto import tqdm

    from workbench.embed.features import FeatureFrontend

    b = backbone if backbone is not None else FeatureFrontend()
    spec = features if features is not None else DEFAULT_FEATURES
    by_track: dict[int, list[dict[str, Any]]] = {}
    for r in sections:
        rec = _record(r)
        by_track.setdefault(rec.pop("track_id"), []).append(rec)
    tracks, failed = [], []
    for tid in tqdm(sorted(by_track), desc="section data", unit="track", disable=not progress):
        try:
            tr = track_frames(library, tid, backbone=b, features=spec)
        except (StoreError, WriteError):  # the library or the cache cannot be written: every track would fail
            raise
        except Exception as exc:  # one labelled track that cannot be read or embedded never stops training
            failed.append((tid, failure_reason(exc)))
            continue
        tr.sections = sorted(by_track[tid], key=lambda s: s["start_s"])
        tracks.append(tr)
    groups = track_groups(library, [t.track_id for t in tracks])
    for tr in tracks:
        tr.group = groups.get(tr.track_id, "")
    data = SectionData(tracks, spec, b.name)
    data.failed = failed
    return data
