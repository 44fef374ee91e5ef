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
               margin: float = MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """Each fold's confidences served by the Platt map and by the domain map, both fitted on the other folds.

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

    Returns
    -------
    (np.ndarray, np.ndarray) [shape=(n,)]
        Served by the Platt map, and by the domain map (the other folds' share right where a track
        lies beyond ``margin`` times their largest distance).
    """
    from workbench.evaluate.calibration import apply_confidence_map, fit_platt

    c, r, d, f = (np.asarray(v) for v in (confidence, right, distance, folds))
    platt, domain = c.astype(np.float64).copy(), c.astype(np.float64).copy()
    for name in np.unique(f):
        other = f != name
        if not other.any():
            continue
        platt[~other] = apply_confidence_map(c[~other], fit_platt(c[other], r[other]))
        far = d[~other] > margin * float(d[other].max())
        domain[~other] = np.where(far, float(np.mean(r[other])), platt[~other])
    return platt, domain


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
