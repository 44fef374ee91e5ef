"""The ``"repeat"`` feature group: how each bar's material recurs elsewhere in its track.

The classic chorus cue (Goto's RefraiD; Serra et al.'s structure features): a chorus or a
second verse repeats material heard before, far from itself, in a run of bars, whatever the
generator's sound. Per bar of the track's grid (:func:`~workbench.train.sections.dj_features.bar_index`;
2-s pseudo-bars without one), the bar's timbre (``features-v1``'s 64 log-mel band means and 20
MFCC means, standardised over the track, averaged over the bar and stacked with the previous
bar's: two-bar shingles) is compared with every other bar's by
:func:`librosa.segment.recurrence_matrix` (cosine, mutual nearest neighbours, affinity), only
bars at least ``min_lag_bars`` away counted (not the bar's own section's neighbours); a
neighbour with affinity of at least :data:`STRONG_AFFINITY` is a repeat. Five
columns per window, those of its bar, each already on a track-relative scale (kept raw under
``track_norm``):

- ``share``: the share of the track's bars that repeat it (0..1);
- ``strength``: the affinity of its best repeat (0..1; 0 none);
- ``run``: the longest run of consecutive bars repeated together with it at one lag (a diagonal
  of the recurrence matrix), over 16 bars, capped at 2;
- ``first``: the share of its repeats that come after it (1: the first occurrence of its
  material, 0: the last; 0.5 without repeats);
- ``distance``: the mean distance to its repeats over the track's bars (0 without repeats).
"""

from __future__ import annotations

import numpy as np

from workbench.errors import ParameterError

#: Columns of the ``"repeat"`` group, in order.
REPEAT_COLUMNS = ("share", "strength", "run", "first", "distance")
#: Bars a repeat must lie away from the bar itself (a phrase: the bar's own section's neighbours do not count).
MIN_LAG_BARS = 8
#: Affinity (``exp(-distance / bandwidth)``, the bandwidth the median neighbour distance) from which a neighbour is a repeat.
STRONG_AFFINITY = 0.5
#: Run length (bars) that maps to 1 in the ``run`` column.
RUN_UNIT_BARS = 16.0
_MEL = slice(0, 64)
_MFCC_MEAN = slice(128, 148)


def bar_repetition(per_bar: np.ndarray, *, min_lag_bars: int = MIN_LAG_BARS) -> np.ndarray:
    """The five repetition columns of every bar from its bar-level descriptors.

    Parameters
    ----------
    per_bar : np.ndarray [shape=(n_bars, d)]
        One descriptor per bar, in time order.
    min_lag_bars : int >= 1
        Repeats closer than this many bars are not counted.

    Returns
    -------
    np.ndarray [shape=(n_bars, 5)]
        ``share, strength, run, first, distance`` (:data:`REPEAT_COLUMNS`); a track too short to
        hold a repeat that far (fewer than ``2 * min_lag_bars + 2`` bars) gets no repeats.

    Raises
    ------
    ParameterError
        ``per_bar`` not 2-d, or ``min_lag_bars`` below 1.
    """
    x = np.asarray(per_bar, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ParameterError(f"per_bar must be (n_bars >= 1, d); got shape {x.shape}")
    if isinstance(min_lag_bars, bool) or not isinstance(min_lag_bars, (int, np.integer)) or min_lag_bars < 1:
        raise ParameterError(f"min_lag_bars must be an int >= 1; got {min_lag_bars!r}")
    n = x.shape[0]
    out = np.zeros((n, len(REPEAT_COLUMNS)))
    out[:, 3] = 0.5
    if n < 2 * min_lag_bars + 2:
        return out
    rec = repeat_affinity(x, min_lag_bars=int(min_lag_bars))
    conn = rec >= STRONG_AFFINITY  # a repeat, not only a nearest neighbour
    count = conn.sum(axis=1)
    idx = np.arange(n)
    later = np.triu(conn, k=1).sum(axis=1)
    dist = np.abs(idx[:, None] - idx[None, :]) * conn
    out[:, 0] = count / n
    out[:, 1] = rec.max(axis=1)
    out[:, 2] = np.minimum(_longest_runs(conn) / RUN_UNIT_BARS, 2.0)
    has = count > 0
    out[has, 3] = later[has] / count[has]
    out[has, 4] = dist.sum(axis=1)[has] / count[has] / n
    return out


def repeat_affinity(per_bar: np.ndarray, *, min_lag_bars: int = MIN_LAG_BARS) -> np.ndarray:
    """Affinity of every pair of bars at least ``min_lag_bars`` apart (two-bar shingles, mutual nearest neighbours).

    Parameters
    ----------
    per_bar : np.ndarray [shape=(n_bars, d)]
        One descriptor per bar, in time order; ``n_bars >= 2 * min_lag_bars + 2``.
    min_lag_bars : int >= 1
        Pairs closer than this many bars get 0.

    Returns
    -------
    np.ndarray [shape=(n_bars, n_bars)]
        Symmetric, in [0, 1] (``exp(-distance / bandwidth)``, 0 where not mutual neighbours); a pair with at
        least :data:`STRONG_AFFINITY` is a repeat.
    """
    import librosa

    x = np.asarray(per_bar, dtype=np.float64)
    shingles = librosa.feature.stack_memory(x.T, n_steps=2, delay=1, mode="edge")  # (2 d, n): the bar and the one before
    rec = librosa.segment.recurrence_matrix(shingles, width=int(min_lag_bars), metric="cosine", mode="affinity",
                                            sym=True)
    return np.nan_to_num(np.asarray(rec, dtype=np.float64))


def _longest_runs(conn: np.ndarray) -> np.ndarray:
    """Per bar, the longest run of consecutive ``True`` along any diagonal of ``conn`` (n, n) that passes through it."""
    n = conn.shape[0]
    best = np.zeros(n)
    for lag in range(1, n):
        d = conn.diagonal(lag)  # pairs (i, i + lag)
        if not d.any():
            continue
        edges = np.diff(np.concatenate([[0], d.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        run = np.zeros(d.size)
        for a, b in zip(starts, ends, strict=True):
            run[a:b] = b - a
        best[:d.size] = np.maximum(best[:d.size], run)  # the earlier bar of each pair
        best[lag:] = np.maximum(best[lag:], run)  # the later one
    return best


def timbre_descriptors(frames_v1: np.ndarray) -> np.ndarray:
    """``features-v1``'s 64 log-mel band means and 20 MFCC means of each frame, standardised over the track.

    Parameters
    ----------
    frames_v1 : np.ndarray [shape=(n, 202)]
        ``features-v1`` frames of one track.

    Returns
    -------
    np.ndarray [shape=(n, 84)]
    """
    f = np.asarray(frames_v1, dtype=np.float64)
    desc = np.hstack([f[:, _MEL], f[:, _MFCC_MEAN]])
    return (desc - desc.mean(axis=0)) / np.maximum(desc.std(axis=0), 1e-6)


def repeat_block(frames_v1: np.ndarray, times_s: np.ndarray, downbeats_s: np.ndarray | None, *, duration_s: float,
                 min_lag_bars: int = MIN_LAG_BARS) -> np.ndarray:
    """The ``"repeat"`` group of every window (see the module doc), shape ``(n, 5)``.

    Parameters
    ----------
    frames_v1, times_s, downbeats_s, duration_s
        ``features-v1`` frames (n, 202) at window centres ``times_s`` (n,) in seconds, the
        track's downbeats (s, or None) and its length (s), as
        :func:`~workbench.train.sections.dj_features.bars_block` takes them.
    min_lag_bars : int >= 1
        Repeats closer than this many bars are not counted.

    Raises
    ------
    ParameterError
        Frames of another shape than (n, 202), or a bad ``min_lag_bars``.
    """
    from workbench.train.sections.dj_features import _checked, _span_means, bar_index

    f, t = _checked(frames_v1, times_s)
    desc = timbre_descriptors(f)
    bar = bar_index(t, downbeats_s, duration_s=duration_s)[0]
    bar = bar - bar.min()
    return bar_repetition(_span_means(desc, bar, int(bar.max()) + 1), min_lag_bars=min_lag_bars)[bar]
