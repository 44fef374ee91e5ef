"""Fitting the domain-aware confidence map on the leave-one-group-out folds (:mod:`~workbench.train.sections.domain_map`).

Each held-out track's distance is measured against *its fold's* training tracks
(:func:`fold_distances`); :func:`fit_domain_map` keeps the folds' share right and their farthest
held-out track; :func:`fold_check` serves each fold by maps fitted on the others (what the
calibration guard compares).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from workbench.errors import ParameterError
from workbench.train.sections.domain_map import (
    K_NEAREST,
    MARGIN,
    DomainMap,
    TrackDistance,
    track_descriptor,
)

if TYPE_CHECKING:  # pragma: no cover
    from workbench.train.sections.features import SectionData, TrackFrames


def fold_check(confidence: np.ndarray, right: np.ndarray, distance: np.ndarray, folds: np.ndarray, *,
               margin: float = MARGIN, per: str = "window", track_ids: np.ndarray | None = None,
               suggestion_index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each fold's confidences served by the Platt map and by the domain map, both fitted on the other folds.

    The Platt map is fitted as the model's is (``per``, config ``confidence_map_per``); the share
    right beyond the limit is always the other folds' share of windows right (fitted per suggestion
    it raised the ECE across generators at every seed, session 20).

    Parameters
    ----------
    confidence : np.ndarray [shape=(n,)]
        Out-of-fold suggestions' stated confidence at each scored window, in [0, 1].
    right : np.ndarray [shape=(n,)] of bool
        Whether each was right.
    distance : np.ndarray [shape=(n,)]
        Each window's track distance to its fold's training tracks (:func:`fold_distances`).
    folds : np.ndarray [shape=(n,)]
        The held-out fold of each window.
    margin : float >= 1
        As :attr:`DomainMap.margin`.
    per : {"window", "suggestion", "span"}
        How the Platt map counts the other folds' windows
        (:func:`~workbench.evaluate.span_calibration.fit_suggestion_map`).
    track_ids, suggestion_index : np.ndarray [shape=(n,)], optional
        Each window's track and suggestion (needed unless ``per="window"``).

    Returns
    -------
    (np.ndarray, np.ndarray) [shape=(n,)]
        Served by the Platt map, and by the domain map (the other folds' share right where a track
        lies beyond ``margin`` times their largest distance).
    """
    from workbench.evaluate.calibration import apply_confidence_map
    from workbench.evaluate.span_calibration import fit_suggestion_map

    c, r, d, f = (np.asarray(v) for v in (confidence, right, distance, folds))
    if per != "window" and (track_ids is None or suggestion_index is None):
        raise ParameterError(f"per={per!r} needs track_ids and suggestion_index")
    t, s = (np.zeros(len(c), dtype=np.int64) if v is None else np.asarray(v) for v in (track_ids, suggestion_index))
    platt, domain = c.astype(np.float64).copy(), c.astype(np.float64).copy()
    for name in np.unique(f):
        other = f != name
        if not other.any():
            continue
        knots = fit_suggestion_map(c[other], r[other], per=per, track_ids=t[other], suggestion_index=s[other])
        platt[~other] = apply_confidence_map(c[~other], knots)
        far = d[~other] > margin * float(d[other].max())
        domain[~other] = np.where(far, float(np.mean(r[other])), platt[~other])
    return platt, domain


def guard_ece(served: np.ndarray, right: np.ndarray, *, per: str, track_ids: np.ndarray,
              suggestion_index: np.ndarray) -> float:
    """The ECE the calibration guard compares: per window for a map fitted per window, else per suggestion.

    Parameters
    ----------
    served : np.ndarray [shape=(n,)]
        The confidence each out-of-fold window's suggestion is served with, in [0, 1].
    right : np.ndarray [shape=(n,)] of bool
        Whether each was right.
    per : {"window", "suggestion", "span"}
        How the model's Platt map was fitted (config ``confidence_map_per``).
    track_ids, suggestion_index : np.ndarray [shape=(n,)]
        Each window's track and suggestion.

    Returns
    -------
    float
        :func:`~workbench.evaluate.calibration.confidence_ece` of the windows (``per="window"``),
        else :func:`~workbench.evaluate.span_calibration.span_ece` (each suggestion counted once).
    """
    from workbench.evaluate.calibration import confidence_ece
    from workbench.evaluate.span_calibration import span_ece

    if per == "window":
        return confidence_ece(served, right)
    return float(span_ece(track_ids, suggestion_index, served, right)["ece"])


def fit_domain_map(right: np.ndarray, distance: np.ndarray, *, reference: TrackDistance,
                   margin: float = MARGIN) -> DomainMap:
    """The domain map of out-of-fold outcomes: their share right and the farthest held-out track.

    Parameters
    ----------
    right : np.ndarray [shape=(n,)] of bool
        Whether each out-of-fold window's suggestion was right (the training tracks' windows).
    distance : np.ndarray [shape=(n,)]
        Each one's track distance to its fold's training tracks (:func:`fold_distances`).
    reference : TrackDistance
        The final model's training tracks (what a served track is measured against).
    margin : float >= 1
        As :attr:`DomainMap.margin`.

    Returns
    -------
    DomainMap

    Raises
    ------
    ParameterError
        Empty arrays of different lengths, distances not > 0, or ``margin`` < 1.
    """
    r, d = np.asarray(right), np.asarray(distance, dtype=np.float64)
    if not (r.ndim == 1 and r.shape == d.shape and len(r)):
        raise ParameterError(f"right and distance must be (n >= 1,) arrays of one length; got {r.shape}, {d.shape}")
    if not np.all(d > 0):
        raise ParameterError(f"distance must be > 0; got values from {d.min():.3g}")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 1:
        raise ParameterError(f"margin must be a number >= 1; got {margin!r}")
    return DomainMap(float(np.mean(r.astype(bool))), float(d.max()), reference, float(margin))


def fold_distances(data: SectionData, track_ids: np.ndarray, folds: np.ndarray, *, k: int = K_NEAREST) -> np.ndarray:
    """Each held-out window's track distance to the tracks its fold's model was trained on.

    Parameters
    ----------
    data : SectionData
        The tracks the folds were made of (each with its ``group`` and backbone ``frames``).
    track_ids : np.ndarray [shape=(n,)] of int
        The track of each out-of-fold window (``suggestion_track_ids``).
    folds : np.ndarray [shape=(n,)] of str
        Its fold: the held-out groups joined by ``" + "`` (``suggestion_folds``).
    k : int >= 1
        Nearest training tracks averaged over.

    Returns
    -------
    np.ndarray [shape=(n,)]
        :meth:`TrackDistance.distance` of each window's track against its fold's training tracks.

    Raises
    ------
    ParameterError
        A fold trained on fewer than 2 tracks (:func:`fold_training_tracks`).
    """
    desc = {t.track_id: track_descriptor(t.frames) for t in data.tracks}
    out = np.empty(len(track_ids), dtype=np.float64)
    for f, train in fold_training_tracks(data, track_ids, folds).items():
        if len(train) < 2:
            raise ParameterError(f"fold {f!r} was trained on {len(train)} track(s); a distance needs 2 or more "
                                 f"training tracks (its unit is their spread)")
        ref = TrackDistance.fit(np.array([desc[t.track_id] for t in train]), k=k)
        rows = np.asarray(folds) == f
        ids = sorted({int(t) for t in np.asarray(track_ids)[rows]})
        by_id = dict(zip(ids, ref.distance(np.array([desc[t] for t in ids])), strict=True))
        out[rows] = [by_id[int(t)] for t in np.asarray(track_ids)[rows]]
    return out


def fold_training_tracks(data: SectionData, track_ids: np.ndarray, folds: np.ndarray) -> dict[str, list[TrackFrames]]:
    """Each fold's training tracks: every track but those of the groups its held-out windows' tracks are in.

    The held-out groups are read from the tracks, not from the fold's name (a crate may be called
    "house + techno", and :func:`~workbench.train.sections.transfer.leave_one_group_out` joins the
    names of a fold's groups with ``" + "``).

    Parameters
    ----------
    data : SectionData
        The tracks the folds were made of (each with its ``group``).
    track_ids : np.ndarray [shape=(n,)] of int
        The track of each out-of-fold window.
    folds : np.ndarray [shape=(n,)] of str
        Its fold.

    Returns
    -------
    dict of str to list of TrackFrames
        Per fold name, the tracks of every other group.
    """
    group_of = {t.track_id: t.group for t in data.tracks}
    tids, f_all = np.asarray(track_ids), np.asarray(folds)
    out: dict[str, list[TrackFrames]] = {}
    for f in np.unique(f_all):
        held = {group_of[int(t)] for t in tids[f_all == f]}
        out[str(f)] = [t for t in data.tracks if t.group not in held]
    return out
