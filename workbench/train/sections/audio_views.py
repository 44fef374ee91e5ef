"""Augmented audio views of the labelled tracks as extra training windows (another rendering, same sections).

A section model trained on one generator leans on its timbre; the same arrangement rendered
another way (pitch, tempo, noise floor, gain: :mod:`workbench.augment`'s safe chain) carries
the same sections. :func:`add_audio_views` embeds ``n_views`` views of each labelled track
(cached by :func:`~workbench.augment.embed_views`), turns them into window features with the
track's own layout and grid, and keeps them on the track (:attr:`TrackFrames.views`), aligned
with its windows. :func:`view_rows` gives them to the trainer as extra training rows
(``SectionTrainer.fit(..., views=...)``): they follow their track into every fold and are
never scored, validated on, standardised on or counted by the grammar.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.validate import check_int

if TYPE_CHECKING:  # pragma: no cover
    from workbench.augment_core import AugmentSettings
    from workbench.library import Library
    from workbench.train.sections.features import SectionData


def add_audio_views(library: Library, data: SectionData, *, n_views: int, settings: AugmentSettings | None = None,
                    seed: int = 0, eq_db: float = 0.0, progress: bool = False,
                    track_ids: Iterable[int] | None = None) -> dict[str, Any]:
    """Set :attr:`TrackFrames.views` of the tracks of ``data`` to ``n_views`` augmented views' window features.

    Parameters
    ----------
    library : Library
        The library holding the tracks (found by content hash); its view cache is written.
    data : SectionData
        Labelled tracks made with the feature frontend (``data.backbone``); changed in place.
    n_views : int >= 1
        Views per track.
    settings : AugmentSettings or None
        The augmentation's ranges and probabilities (default: the safe ranges, each transform at p = 0.5).
    seed : int >= 0
        View seed (:func:`~workbench.augment.view_seed`): the same seed reads the cache.
    eq_db : float in [0, 12]
        A seeded seven-band EQ with gains in ``±eq_db`` dB before the chain (0: none; ``embed_views``).
    progress : bool
        Show a bar over the tracks.
    track_ids : iterable of int, optional
        Only these tracks get views (the run's training tracks: a held-out track's views would
        never be used); the others' views are emptied. None: every track of ``data``.

    Returns
    -------
    dict
        ``views`` (windows' views made), ``embedded`` / ``cached`` (views computed now / read),
        ``failed`` [(path, reason)] (those tracks keep no views), ``tracks`` (tracks given views).

    Raises
    ------
    ParameterError
        ``n_views`` below 1, or ``data`` made with another backbone than the feature frontend.
    """
    from workbench.augment import embed_views, time_scale
    from workbench.embed.features import FeatureFrontend

    n = check_int("n_views", n_views, min=1)
    if data.backbone != FeatureFrontend.name:
        raise ParameterError(f"audio views need window features of the feature frontend ({FeatureFrontend.name!r}); "
                             f"got {data.backbone!r}")
    wanted = None if track_ids is None else {int(i) for i in track_ids}
    by_hash = {tr.content_hash: tr for tr in data.tracks if wanted is None or tr.track_id in wanted}
    summary = embed_views(library, [library.track(h) for h in by_hash], n_views=n, settings=settings, seed=seed,
                          progress=progress, eq_db=eq_db)
    for tr in data.tracks:
        tr.views = []
    made = 0
    for v in summary.views:
        tr = by_hash[v.content_hash]
        centres = v.timestamps_s + FeatureFrontend().window_s / 2 / time_scale(v.params)  # on the track's time axis
        feats = data.features.transform(v.embeddings, centres, duration_s=tr.duration_s, downbeats_s=tr.downbeats)
        idx = np.clip(np.searchsorted(centres, tr.times_s), 0, len(centres) - 1)
        left = np.clip(idx - 1, 0, len(centres) - 1)  # the nearest view window to each of the track's
        idx = np.where(np.abs(centres[left] - tr.times_s) < np.abs(centres[idx] - tr.times_s), left, idx)
        tr.views.append(np.asarray(feats[idx], dtype=np.float32))
        made += 1
    return {"views": made, "embedded": summary.embedded, "cached": summary.cached, "failed": summary.failed,
            "tracks": len(by_hash)}


def view_rows(data: SectionData, weight: float = 1.0, *, groups: np.ndarray | None = None,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """The labelled windows of every track's views as the trainer's extra rows, or None without views.

    Parameters
    ----------
    data : SectionData
        Training tracks (:attr:`TrackFrames.views` set by :func:`add_audio_views`, else empty).
    weight : float in (0, 1]
        Loss weight of a view's window against an original's.
    groups : np.ndarray [shape=(len(data.y),)] or None
        The ``groups`` given to ``SectionTrainer.fit`` with ``data``'s windows
        (:func:`~workbench.train.sections.transfer.validation_groups`: group codes under
        ``validate_on_groups``): each view row carries its track's, so the trainer's validation
        split holds a validation track's views out too. None: ``data.groups`` (track ids).

    Returns
    -------
    (np.ndarray [shape=(p, dim)], np.ndarray [shape=(p,)], np.ndarray [shape=(p,)], float) or None
        Features, labels, each row's entry of ``groups`` and ``weight`` (``SectionTrainer.fit``'s ``views``).
    """

    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= 1:
        raise ParameterError(f"audio_view_weight must be a number in (0, 1]; got {weight!r}")
    xs, ys, ts = [], [], []
    rows_track = np.asarray(data.groups)
    group_of = dict(zip(rows_track.tolist(), (rows_track if groups is None else np.asarray(groups)).tolist(),
                        strict=True))
    for tr in data.tracks:
        lab = tr.window_labels()
        keep = lab != ""
        for v in getattr(tr, "views", ()):
            xs.append(v[keep])
            ys.append(lab[keep].astype(str))
            ts.append(np.full(int(keep.sum()), group_of.get(tr.track_id, tr.track_id), dtype=np.int64))
    if not xs:
        return None
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ts), float(weight)
