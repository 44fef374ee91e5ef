"""Pseudo-labelled rows appended to a trainer's labelled rows, with their loss weight.

Used by :meth:`~workbench.train.sections.trainer.SectionTrainer.fit` (``pseudo=``) for
:mod:`~workbench.train.sections.self_training`; kept apart so the trainer imports nothing that imports it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from workbench.errors import ParameterError


def pseudo_rows(X: np.ndarray, y_idx: np.ndarray, rows_track: np.ndarray | None,
                pseudo: tuple[np.ndarray, np.ndarray, np.ndarray, float], index: Mapping[str, int],
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Labelled training rows with the pseudo-labelled rows appended, and each row's loss weight.

    Parameters
    ----------
    X : np.ndarray [shape=(n, dim)]
        Labelled training windows (after the validation split).
    y_idx : np.ndarray [shape=(n,)] of int
        Their class indices.
    rows_track : np.ndarray [shape=(n,)] or None
        Their track ids.
    pseudo : (np.ndarray [shape=(p, dim)], np.ndarray [shape=(p,)] of str, np.ndarray [shape=(p,)] of int, float)
        Pseudo-labelled windows, their labels, track ids and loss weight in (0, 1].
    index : mapping of str to int
        Class index of each label.

    Returns
    -------
    X, y_idx, rows_track, sample_weight
        ``(n + p, dim)``, ``(n + p,)``, ``(n + p,)`` (None when ``rows_track`` was None), ``(n + p,)``
        float32 (1 for labelled rows, the weight for pseudo rows).

    Raises
    ------
    ParameterError
        Shapes that do not match, non-finite features, a label the labelled rows lack, or a bad weight.
    """
    px, py, pt, w = np.asarray(pseudo[0], dtype=np.float32), np.asarray(pseudo[1]).astype(str), \
        np.asarray(pseudo[2]), pseudo[3]
    if px.ndim != 2 or px.shape != (py.shape[0], X.shape[1]) or pt.shape != py.shape or not np.all(np.isfinite(px)):
        raise ParameterError(f"pseudo windows must be a finite (p, {X.shape[1]}) array with one label and track per "
                             f"row; got {px.shape}, {py.shape}, {pt.shape}")
    unknown = sorted(set(py.tolist()) - set(index))
    if unknown:
        raise ParameterError(f"pseudo labels must be among the labelled classes {sorted(index)}; got {unknown}")
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 < w <= 1:
        raise ParameterError(f"pseudo weight must be a float in (0, 1]; got {w!r}")
    weight = np.concatenate([np.ones(len(y_idx)), np.full(len(py), float(w))]).astype(np.float32)
    tracks = None if rows_track is None else np.concatenate([rows_track, pt.astype(rows_track.dtype)])
    return (np.vstack([X, px]), np.concatenate([y_idx, np.array([index[c] for c in py], dtype=np.int64)]), tracks,
            weight)
