"""A library track as a window set: at most ``max_windows`` unit vectors with weights, and what the index row came from."""

from __future__ import annotations

import numpy as np

from workbench.library import Track

__all__ = ["reduce_windows", "track_signature"]


def track_signature(track: Track, meta: tuple[float | None, str | None, int, bool]) -> str:
    """What an index row was built from: file contents and the analysis used.

    Parameters
    ----------
    track : Track
        The library track.
    meta : tuple
        Its (BPM or None, Camelot or None, energy, tempo rough).
    """
    bpm, camelot, energy, rough = meta
    tempo = "none" if bpm is None else f"{bpm:.3f}" + ("~" if rough else "")
    return f"{track.content_hash}|{tempo}|{camelot}|{energy}"


def reduce_windows(windows: np.ndarray, *, max_windows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_windows`` unit vectors standing for a track's windows, and how many each stands for.

    Parameters
    ----------
    windows : np.ndarray [shape=(n, d)]
        The track's window vectors.
    max_windows : int >= 1
        How many to keep; more are merged by k-means (seeded) on the unit vectors.
    seed : int
        Seeds k-means.

    Returns
    -------
    vectors : np.ndarray [shape=(m, d), dtype=float32]
        ``m = min(n, max_windows)`` unit vectors.
    weights : np.ndarray [shape=(m,), dtype=float32]
        Windows per vector (sum ``n``).
    """
    from workbench.similarity.vectors import normalize_rows

    unit = normalize_rows(np.asarray(windows, dtype=np.float32), name="window vectors")
    if unit.shape[0] <= max_windows:
        return unit, np.ones(unit.shape[0], dtype=np.float32)
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=max_windows, n_init=1, random_state=seed).fit(unit)
    counts = np.bincount(km.labels_, minlength=max_windows)
    used = counts > 0
    return (normalize_rows(km.cluster_centers_[used].astype(np.float32), name="window centroids"),
            counts[used].astype(np.float32))
