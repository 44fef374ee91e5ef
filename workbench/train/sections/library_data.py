"""A library's labelled tracks as section data: window features, beat grid, groups, rejections.

:func:`track_frames` gives one library track's windows (:class:`~workbench.train.sections.features.TrackFrames`),
:func:`track_groups` each track's crate or folder (for leave-one-group-out scores) and
:func:`section_dataset` every labelled track's windows, with the rejected suggestions on them
(:class:`~workbench.train.sections.features.SectionData`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError, StoreError, WriteError, failure_reason
from workbench.labels import LABELS
from workbench.train.sections.features import DEFAULT_FEATURES, SectionData, TrackFrames, WindowFeatures

if TYPE_CHECKING:  # pragma: no cover
    from workbench.embed.batch import Backbone
    from workbench.library import Library, Track


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
    if {"dj", "bars", "lead", "repeat"} & set(spec.extra) and b.name != FeatureFrontend.name:  # level, low end, ... from features-v1
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
                    features: WindowFeatures | None = None, progress: bool = True,
                    rejections: Iterable[Any] | None = None) -> SectionData:
    """Labelled windows of every track that has sections (and the rejected suggestions on them).

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
    rejections : iterable of records, optional
        Rejected suggestions (:meth:`workbench.labels.Labels.rejections`, or dicts with the
        same keys as ``sections``): on a labelled track, a rejected label is never a positive
        inside its span and the span's unlabelled windows are trained as "not that label"
        (:attr:`SectionData.X_not`); on a track without labels they are counted as unused.
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
    rejected: dict[int, list[dict[str, Any]]] = {}
    for r in rejections or ():
        rec = _record(r)
        rejected.setdefault(rec.pop("track_id"), []).append(rec)
    for tr in tracks:
        tr.group = groups.get(tr.track_id, "")
        tr.rejected = rejected.pop(tr.track_id, [])
    data = SectionData(tracks, spec, b.name)
    data.failed = failed
    data.rejections_unused = sum(len(v) for v in rejected.values())
    return data
