"""Repetition in the decoder: bars whose material repeats should carry one label.

A chorus that comes back is still a chorus, whatever the window classifier says the second time.
Two decode-time uses of the bar-level recurrence (:func:`~workbench.train.sections.repetition.repeat_affinity`
on ``features-v1``'s mel and MFCC means per bar, standardised over the track):

- :func:`pool_repeats` (before the semi-Markov decoding): each bar's beat probabilities are pulled
  ``weight`` of the way to the mean over the bar and its repeats (a pairwise tie of the evidence);
- :func:`relabel_repeats` (after it): decoded sections whose bars repeat each other (at least
  ``min_share`` of one's bars repeat in the other) form a group; every section of a group takes
  the label with the largest probability summed over all the group's beats, or the label its
  earliest section was decoded with (``by="first"``).

Measured (session 18, ``bench_sections_devset_history.md``): pooling and the summed label lose
(the copies' evidence repeats the training demo's "the second time is the drop"); the first
occurrence's label with strong repeats (:data:`DECODER_TIE`) lifts the cross-generator sets and
is the grammar's ``repeat_relabel`` option (config, off by default).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.errors import ParameterError

#: The tie a grammar's ``repeat_relabel`` decodes with (session 18's choice on the 24 numpy-rendered tracks and the
#: devset's dev tracks): only strong repeats (affinity >= 0.85) on runs of 8+ bars, groups joined transitively, each
#: group labelled as its first occurrence was decoded.
DECODER_TIE: dict[str, Any] = {"min_affinity": 0.85, "min_run_bars": 8, "transitive": True, "by": "first"}


def bar_repeats(frames_v1: np.ndarray | None, times_s: np.ndarray, beats: np.ndarray, starts: np.ndarray, *,
                duration_s: float, min_affinity: float | None = None, min_run_bars: int = 1) -> np.ndarray | None:
    """Which bars repeat which (bool, symmetric), or None without ``features-v1`` frames or repeats.

    Parameters
    ----------
    frames_v1 : np.ndarray [shape=(n_frames, 202)] or None
        The track's ``features-v1`` frames at ``times_s`` (s); anything else gives None.
    times_s : np.ndarray [shape=(n_frames,)]
        Frame centres in seconds.
    beats : np.ndarray [shape=(n_beats,)]
        Beat times in seconds.
    starts : np.ndarray [shape=(n_bars,)]
        Beat index of each bar start.
    duration_s : float
        The track's length in seconds.
    min_affinity : float in (0, 1], optional
        Affinity from which a pair is a repeat (default
        :data:`~workbench.train.sections.repetition.STRONG_AFFINITY`).
    min_run_bars : int >= 1
        Only pairs on a run of at least this many consecutive repeated bars at one lag (a repeated passage,
        not a lone similar bar).

    Returns
    -------
    np.ndarray [shape=(n_bars, n_bars)] of bool, or None
        True where two bars at least :data:`~workbench.train.sections.repetition.MIN_LAG_BARS` apart
        repeat each other (affinity >= :data:`~workbench.train.sections.repetition.STRONG_AFFINITY`);
        None for a track too short to hold a repeat.
    """
    from workbench.train.sections import repetition as rep
    from workbench.train.sections.dj_features import FEATURES_V1_DIM
    from workbench.train.sections.novelty import bar_features

    if frames_v1 is None or np.ndim(frames_v1) != 2 or np.shape(frames_v1)[1] != FEATURES_V1_DIM:
        return None
    if len(starts) < 2 * rep.MIN_LAG_BARS + 2:
        return None
    desc = rep.timbre_descriptors(frames_v1)
    edges = np.append(np.asarray(beats, dtype=np.float64)[starts], max(duration_s, float(beats[-1]) + 1e-3))
    edges[0] = 0.0
    thr = rep.STRONG_AFFINITY if min_affinity is None else float(min_affinity)
    conn = rep.repeat_affinity(bar_features(desc, np.asarray(times_s, dtype=np.float64), edges)) >= thr
    if min_run_bars > 1:
        conn = _on_runs(conn, int(min_run_bars))
    return conn if conn.any() else None


def _on_runs(conn: np.ndarray, min_run: int) -> np.ndarray:
    """``conn`` (n, n) symmetric, kept only on diagonal runs of at least ``min_run`` consecutive True."""
    n = conn.shape[0]
    keep = np.zeros_like(conn)
    for lag in range(1, n):
        d = conn.diagonal(lag)
        if not d.any():
            continue
        edges = np.diff(np.concatenate([[0], d.astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            if b - a >= min_run:
                i = np.arange(a, b)
                keep[i, i + lag] = keep[i + lag, i] = True
    return keep


def _beat_bar(starts: np.ndarray, n_beats: int) -> np.ndarray:
    """Bar index of every beat (n_beats,)."""
    return np.searchsorted(np.asarray(starts), np.arange(n_beats), side="right") - 1


def pool_repeats(beat_probs: np.ndarray, starts: np.ndarray, repeats: np.ndarray, *, weight: float) -> np.ndarray:
    """Beat probabilities with each bar's pulled ``weight`` of the way to the mean of the bar and its repeats.

    Parameters
    ----------
    beat_probs : np.ndarray [shape=(n_beats, K)]
        Label probabilities of each beat.
    starts : np.ndarray [shape=(n_bars,)]
        Beat index of each bar start (the first 0).
    repeats : np.ndarray [shape=(n_bars, n_bars)] of bool
        :func:`bar_repeats`.
    weight : float in [0, 1]
        0 leaves the probabilities as they are; 1 gives every repeated bar the group mean.

    Returns
    -------
    np.ndarray [shape=(n_beats, K)]
        Rows still sum to 1.

    Raises
    ------
    ParameterError
        ``weight`` outside [0, 1] or ``repeats`` not (n_bars, n_bars).
    """
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise ParameterError(f"weight must be a float in [0, 1]; got {weight!r}")
    p = np.asarray(beat_probs, dtype=np.float64)
    n_bars = len(starts)
    if np.shape(repeats) != (n_bars, n_bars):
        raise ParameterError(f"repeats must be ({n_bars}, {n_bars}) for {n_bars} bars; got {np.shape(repeats)}")
    bar = _beat_bar(starts, p.shape[0])
    bar_mean = np.zeros((n_bars, p.shape[1]))
    np.add.at(bar_mean, bar, p)
    bar_mean /= np.maximum(np.bincount(bar, minlength=n_bars), 1)[:, None]
    group = np.asarray(repeats, dtype=bool) | np.eye(n_bars, dtype=bool)  # each bar with its repeats
    pooled = group.astype(np.float64) @ bar_mean / group.sum(axis=1, keepdims=True)
    has = group.sum(axis=1) > 1
    out = p.copy()
    rows = has[bar]
    out[rows] = (1 - weight) * p[rows] + weight * pooled[bar[rows]]
    return out


def relabel_repeats(segments: list[Any], beat_probs: np.ndarray, starts: np.ndarray, repeats: np.ndarray, *,
                    min_share: float = 0.5, allowed: np.ndarray | None = None, transitive: bool = True,
                    by: str = "sum") -> list[Any]:
    """Decoded sections whose bars repeat each other, relabelled with their group's strongest label.

    Parameters
    ----------
    segments : list of BeatSegment
        The decoded sections (``start_beat``, ``end_beat``, ``label`` index, ``confidence``), tiling the beats.
    beat_probs : np.ndarray [shape=(n_beats, K)]
        The probabilities they were decoded from.
    starts : np.ndarray [shape=(n_bars,)]
        Beat index of each bar start.
    repeats : np.ndarray [shape=(n_bars, n_bars)] of bool
        :func:`bar_repeats`.
    min_share : float in (0, 1]
        Two sections join one group when at least this share of the shorter one's bars repeat in the other.
    allowed : np.ndarray [shape=(K,)] of bool, optional
        Labels a group may take (e.g. the decoded family's); None any. A section decoded with a label
        outside it is left alone and joins no group.
    transitive : bool
        True: groups are the connected sets of the "repeats" relation; False: each section pools only with
        the sections that repeat it directly.
    by : {"sum", "first"}
        ``"sum"``: the label with the largest probability summed over the group's beats; ``"first"``: the
        label decoded on the group's earliest section (a later copy follows its first occurrence).

    Returns
    -------
    list of BeatSegment
        The same spans; a grouped section's label the argmax over ``allowed`` of the probability summed over
        all its group's beats, its confidence that label's mean probability over its own beats.

    Raises
    ------
    ParameterError
        ``min_share`` outside (0, 1], or an unknown ``by``.
    """
    import dataclasses

    if isinstance(min_share, bool) or not isinstance(min_share, (int, float)) or not 0 < min_share <= 1:
        raise ParameterError(f"min_share must be a float in (0, 1]; got {min_share!r}")
    if by not in ("sum", "first"):
        raise ParameterError(f"by must be 'sum' or 'first'; got {by!r}")
    p = np.asarray(beat_probs, dtype=np.float64)
    bar = _beat_bar(starts, p.shape[0])
    spans = [np.unique(bar[s.start_beat:s.end_beat]) for s in segments]
    parent = list(range(len(segments)))

    def _root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    mask = np.ones(p.shape[1], bool) if allowed is None else np.asarray(allowed, bool)
    free = [i for i, s in enumerate(segments) if mask[s.label]]
    direct: dict[int, list[int]] = {i: [i] for i in free}
    for a, i in enumerate(free):
        for j in free[a + 1:]:
            hit = repeats[np.ix_(spans[i], spans[j])]
            if min(hit.any(axis=1).mean(), hit.any(axis=0).mean()) >= min_share:
                parent[_root(j)] = _root(i)
                direct[i].append(j)
                direct[j].append(i)
    groups: dict[int, list[int]] = {}
    for i in free:
        groups.setdefault(_root(i), []).append(i)
    pools = [(m, m) for m in groups.values()] if transitive else [([i], direct[i]) for i in free]
    out = list(segments)
    for members, pooled in pools:
        if len(pooled) < 2:
            continue
        if by == "first":
            label = int(segments[min(pooled)].label)
        else:
            total = sum(p[segments[i].start_beat:segments[i].end_beat].sum(axis=0) for i in pooled)
            label = int(np.flatnonzero(mask)[np.argmax(total[mask])])
        for i in members:
            s = segments[i]
            out[i] = dataclasses.replace(s, label=label, confidence=float(p[s.start_beat:s.end_beat, label].mean()))
    return out
