"""Temporal smoothing of section probabilities: frames → beats → bars → segments.

The classifier's per-window (0.5 s) arg-max flickers and puts boundaries anywhere; sections in DJ
music are runs of whole bars (mostly 4- or 8-bar phrases) in a typical order: this module makes them.

The model (a hidden semi-Markov model over bars, decoded exactly by dynamic programming):

- **Units.** Frame probabilities are averaged per beat (:func:`beat_probabilities`), beats grouped into
  bars at the downbeats (:func:`bar_starts`); a segment is whole bars, so every boundary is a downbeat.
- **Evidence.** The score of label ``k`` on bar ``j`` is ``evidence_weight`` times the mean
  over the bar's beats of ``log p(k | beat)``: one bar, one unit of evidence, whatever the tempo.
- **Segments.** A segment of ``L`` bars with label ``k`` scores the sum of its bars' evidence
  plus ``length_logprior(L)`` (e.g. :func:`phrase_prior`: a penalty for lengths that are not
  whole phrases). Segments are at least ``min_bars`` long (the track's length if shorter).
- **Switches.** Each boundary costs ``switch_penalty`` plus ``-log_transitions[k_prev, k]`` (label-order
  prior, e.g. :func:`learn_transitions`); the first segment adds ``log_init[k]``, the last ``log_final[k]``,
  others ``log_middle[k]`` (learned: :mod:`workbench.train.sections.grammar`); no two in a row share a label.
- **Ends.** :func:`ends_order` forbids what no learned (smoothed) order may allow: an intro after any other
  section, anything after an outro; an intro can only open a track, an outro only close it.

:func:`segment_viterbi` returns the best segmentation (exact semi-Markov Viterbi, ``O(n_bars² · K²)``,
about 0.1 s for a 10-minute track); :func:`runs` is the unsmoothed baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from workbench.errors import ParameterError
from workbench.validate import check_int

_EPS = 1e-6


@dataclass(frozen=True)
class Segment:
    """A run of units ``[start, end)`` (bars or beats) with class index ``label``."""

    start: int
    end: int
    label: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ParameterError(f"Segment needs 0 <= start < end; got start={self.start}, end={self.end}")


def beat_probabilities(frame_probs: np.ndarray, frame_times_s: np.ndarray, beats_s: Sequence[float] | np.ndarray,
                       *, duration_s: float) -> np.ndarray:
    """Mean frame probability over each beat ``[beats[b], beats[b+1])`` (the last beat to ``duration_s``).

    Parameters
    ----------
    frame_probs : np.ndarray [shape=(n_frames, K)]
    frame_times_s : np.ndarray [shape=(n_frames,)]
        Centre of each frame's window in seconds.
    beats_s : sequence of float
        Beat times in seconds, increasing.
    duration_s : float
        Track length in seconds.

    Returns
    -------
    np.ndarray [shape=(n_beats, K)]
        Rows sum to 1. A beat with no frame centre inside takes the nearest frame's row.
    """
    p = np.asarray(frame_probs, dtype=np.float64)
    t = np.asarray(frame_times_s, dtype=np.float64)
    b = np.asarray(beats_s, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or t.shape != (p.shape[0],):
        raise ParameterError(f"frame_probs must be (n_frames >= 1, K) with one time per frame; got {p.shape} and {t.shape}")
    if b.ndim != 1 or b.size == 0 or np.any(np.diff(b) <= 0):
        raise ParameterError(f"beats_s must be a non-empty increasing sequence of seconds; got {b.size} values")
    order = np.argsort(t, kind="stable")
    t, p = t[order], p[order]
    edges = np.append(b, max(float(duration_s), b[-1] + _EPS))
    lo = np.searchsorted(t, edges[:-1], side="left")
    hi = np.searchsorted(t, edges[1:], side="left")
    csum = np.vstack([np.zeros((1, p.shape[1])), np.cumsum(p, axis=0)])
    count = (hi - lo)[:, None]
    out = np.empty((b.size, p.shape[1]))
    has = count[:, 0] > 0
    out[has] = (csum[hi[has]] - csum[lo[has]]) / count[has]
    if not has.all():
        mids = (edges[:-1] + edges[1:])[~has] / 2
        nearest = np.clip(np.searchsorted(t, mids), 1, t.size - 1) if t.size > 1 else np.zeros(mids.size, dtype=int)
        if t.size > 1:
            left = nearest - 1
            nearest = np.where(np.abs(t[left] - mids) <= np.abs(t[nearest] - mids), left, nearest)
        out[~has] = p[nearest]
    return out / np.maximum(out.sum(axis=1, keepdims=True), _EPS)


def bar_starts(beats_s: Sequence[float] | np.ndarray, downbeats_s: Sequence[float] | np.ndarray, *,
               beats_per_bar: int = 4) -> np.ndarray:
    """Beat indices where bars start (always including 0); the beat nearest each downbeat.

    Without downbeats, every ``beats_per_bar``-th beat from the first. Beats before the first downbeat
    are a pickup (anacrusis) that joins the first bar when that bar, a whole bar before the first
    downbeat, would start more than half a beat before 0 s; otherwise they are the tail of a first bar
    whose opening beats the tracker missed, a bar of their own. So a pickup never counts as a bar.

    Parameters
    ----------
    beats_s : np.ndarray [shape=(n_beats,)]
        Beat times in seconds, ascending.
    downbeats_s : np.ndarray [shape=(n_downbeats,)]
        Downbeat times in seconds; empty to count bars from the first beat.
    beats_per_bar : int > 0
        Beats in a bar when there are no downbeats.

    Returns
    -------
    np.ndarray [shape=(n_bars,), dtype=int64]
        Sorted beat indices, the first 0.

    Raises
    ------
    ParameterError
        ``beats_s`` is empty.
    """
    b = np.asarray(beats_s, dtype=np.float64)
    if b.size == 0:
        raise ParameterError("beats_s must hold at least one beat; the track has no beat grid")
    d = np.asarray(downbeats_s, dtype=np.float64)
    if d.size == 0:
        starts = np.arange(0, b.size, beats_per_bar)
    else:
        idx = np.clip(np.searchsorted(b, d), 0, b.size - 1)
        left = np.clip(idx - 1, 0, b.size - 1)
        idx = np.where(np.abs(b[left] - d) < np.abs(b[idx] - d), left, idx)
        starts, period_s = np.unique(idx), (float(np.median(np.diff(b))) if b.size > 1 else 0.0)
        if starts[0] > 0 and b[starts[0]] - beats_per_bar * period_s < -period_s / 2:
            starts = starts[1:]  # a pickup: it joins the first bar
        starts = np.unique(np.concatenate([[0], starts[starts > 0]]))
    return starts.astype(np.int64)


def bar_evidence(beat_probs: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Mean log-probability of each label over each bar's beats; shape ``(n_bars, K)``.

    Parameters
    ----------
    beat_probs : np.ndarray [shape=(n_beats, K)]
        Label probabilities of each beat (clipped to ``[1e-6, 1]`` before the log).
    starts : np.ndarray [shape=(n_bars,), dtype=int]
        Beat index where each bar starts (:func:`bar_starts`).
    """
    logp = np.log(np.clip(np.asarray(beat_probs, dtype=np.float64), _EPS, 1.0))
    ends = np.append(starts[1:], logp.shape[0])
    csum = np.vstack([np.zeros((1, logp.shape[1])), np.cumsum(logp, axis=0)])
    return (csum[ends] - csum[starts]) / (ends - starts)[:, None]


def phrase_prior(*, phrase_bars: int = 4, penalty: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    """A section-length log-prior: 0 for whole phrases of ``phrase_bars`` bars, ``-penalty`` otherwise.

    Parameters
    ----------
    phrase_bars : int > 0
        Bars in a phrase.
    penalty : float >= 0
        Log-prior cost of a section that is not a whole number of phrases.

    Returns
    -------
    callable(np.ndarray) -> np.ndarray
        Section lengths in bars to their log-prior.

    Raises
    ------
    ParameterError
        ``phrase_bars`` < 1 or ``penalty`` < 0.
    """
    check_int("phrase_bars", phrase_bars, min=1)
    if not penalty >= 0:
        raise ParameterError(f"penalty must be >= 0; got {penalty!r}")

    def prior(lengths: np.ndarray) -> np.ndarray:
        """Log-prior of each length.

        Parameters
        ----------
        lengths : np.ndarray of int
            Section lengths in bars.
        """
        return np.where(np.asarray(lengths) % phrase_bars == 0, 0.0, -float(penalty))

    return prior


def learn_transitions(sequences: Sequence[Sequence[int]], n_labels: int, *,
                      alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label-order prior from labelled tracks: log P(next | previous), log P(first), log P(last).

    Parameters
    ----------
    sequences : sequence of sequences of int
        Per track, the class indices of its sections in time order (repeats are merged).
    n_labels : int
    alpha : float > 0
        Additive (Laplace) smoothing count, so an unseen order is unlikely, not impossible.

    Returns
    -------
    log_transitions : np.ndarray [shape=(K, K)]
        Rows sum to 1 off the diagonal (the diagonal is ``-inf``: a switch changes label).
    log_init, log_final : np.ndarray [shape=(K,)]
        Log-probability of each label opening / closing a track.
    """
    if not alpha > 0:
        raise ParameterError(f"alpha must be > 0; got {alpha!r}")
    counts = np.full((n_labels, n_labels), float(alpha))
    np.fill_diagonal(counts, 0.0)
    first = np.full(n_labels, float(alpha))
    last = np.full(n_labels, float(alpha))
    for seq in sequences:
        merged = [int(s) for i, s in enumerate(seq) if i == 0 or s != seq[i - 1]]
        if not merged:
            continue
        first[merged[0]] += 1
        last[merged[-1]] += 1
        for a, b in zip(merged[:-1], merged[1:], strict=True):
            counts[a, b] += 1
    with np.errstate(divide="ignore"):
        log_t = np.log(counts / counts.sum(axis=1, keepdims=True))
    return log_t, np.log(first / first.sum()), np.log(last / last.sum())


def ends_order(classes: Sequence[str], log_transitions: np.ndarray | None = None) -> np.ndarray:
    """A label-order log-prior with an intro after another label and any label after an outro impossible.

    Add-one smoothing (:func:`learn_transitions`) leaves every order possible, so a few labelled tracks
    let a strong middle section of intro evidence decode as intro -> build -> intro; this makes those
    orders ``-inf``.

    Parameters
    ----------
    classes : sequence of str
        The labels in the prior's order (K); without ``intro`` or ``outro`` nothing is forbidden.
    log_transitions : np.ndarray [shape=(K, K)] or None
        log P(next | previous) (None: uniform, zeros).

    Returns
    -------
    np.ndarray [shape=(K, K)]
        ``log_transitions`` with the rows into ``intro`` from another label and out of ``outro`` to
        another label ``-inf`` (the diagonal as given).
    """
    names = list(classes)
    k = len(names)
    t = np.zeros((k, k)) if log_transitions is None else np.array(log_transitions, dtype=np.float64)
    if t.shape != (k, k):
        raise ParameterError(f"log_transitions must be ({k}, {k}) for classes {names}; got {t.shape}")
    off = ~np.eye(k, dtype=bool)
    if "intro" in names:
        t[off[:, names.index("intro")], names.index("intro")] = -np.inf
    if "outro" in names:
        t[names.index("outro"), off[names.index("outro")]] = -np.inf
    return t


def segment_viterbi(
    evidence: np.ndarray,
    *,
    min_len: int = 4,
    max_len: int | None = None,
    switch_penalty: float = 2.0,
    evidence_weight: float = 1.0,
    log_transitions: np.ndarray | None = None,
    log_init: np.ndarray | None = None,
    log_final: np.ndarray | None = None,
    length_logprior: Callable[[np.ndarray], np.ndarray] | None = None,
    log_middle: np.ndarray | None = None,
    boundary_bonus: np.ndarray | None = None,
    final_bonus: np.ndarray | None = None,
) -> list[Segment]:
    """The best segmentation of a unit sequence (bars) under the semi-Markov model in the module doc.

    Parameters
    ----------
    evidence : np.ndarray [shape=(n_units, K)]
        Log-evidence of each label per unit (e.g. :func:`bar_evidence`).
    min_len : int >= 1
        Shortest segment in units (bars); lowered to ``n_units`` for a shorter sequence.
    max_len : int or None
        Longest segment in units (``None``: no limit).
    switch_penalty : float >= 0
        Cost of each boundary, in units of one bar's evidence.
    evidence_weight : float > 0
        Scale of the evidence against the priors.
    log_transitions : np.ndarray [shape=(K, K)] or None
        Label-order log-prior (diagonal ignored); ``None`` = uniform.
    log_init, log_final : np.ndarray [shape=(K,)] or None
        Log-prior of the first / last label; ``None`` = uniform.
    length_logprior : callable or None
        Maps an array of lengths (units) to log-prior values, shape ``(L,)`` (every label) or
        ``(L, K)`` (per label, e.g. :meth:`workbench.train.sections.grammar.Grammar.length_logprior`).
    log_middle : np.ndarray [shape=(K,)] or None
        Log-prior of a segment that is neither the first nor the last; ``None`` = 0.
    boundary_bonus : np.ndarray [shape=(n_units,)] or None
        Added to the score of a boundary at the start of each unit (e.g. scaled novelty).
    final_bonus : np.ndarray [shape=(n_units, K)] or None
        Added to the score of the last segment (the one ending at the last unit) by the unit it
        starts at and its label: where a closing section may start (e.g. where the music thins out).

    Returns
    -------
    list of Segment
        Contiguous, covering ``[0, n_units)``, consecutive labels different.
    """
    e = np.asarray(evidence, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] == 0 or e.shape[1] == 0 or not np.all(np.isfinite(e)):
        raise ParameterError(f"evidence must be a finite (n_units >= 1, K >= 1) array; got shape {e.shape}")
    if isinstance(min_len, bool) or not isinstance(min_len, int) or min_len < 1:
        raise ParameterError(f"min_len must be an int >= 1 (units); got {min_len!r}")
    if max_len is not None and (not isinstance(max_len, int) or max_len < min_len):
        raise ParameterError(f"max_len must be None or an int >= min_len ({min_len}); got {max_len!r}")
    if not switch_penalty >= 0:
        raise ParameterError(f"switch_penalty must be >= 0; got {switch_penalty!r}")
    if not evidence_weight > 0:
        raise ParameterError(f"evidence_weight must be > 0; got {evidence_weight!r}")
    n, k = e.shape
    lo = min(min_len, n)
    hi = n if max_len is None else max(lo, min(max_len, n))
    trans = np.zeros((k, k)) if log_transitions is None else np.array(log_transitions, dtype=np.float64)
    init = np.zeros(k) if log_init is None else np.asarray(log_init, dtype=np.float64)
    final = np.zeros(k) if log_final is None else np.asarray(log_final, dtype=np.float64)
    middle = np.zeros(k) if log_middle is None else np.asarray(log_middle, dtype=np.float64)
    bonus = np.zeros(n) if boundary_bonus is None else np.asarray(boundary_bonus, dtype=np.float64)
    last = None if final_bonus is None else np.asarray(final_bonus, dtype=np.float64)
    if last is not None and (last.shape != (n, k) or not np.all(np.isfinite(last))):
        raise ParameterError(f"final_bonus must be a finite ({n}, {k}) array; got shape {last.shape}")
    if trans.shape != (k, k) or init.shape != (k,) or final.shape != (k,) or middle.shape != (k,):
        raise ParameterError(f"log_transitions must be ({k}, {k}), log_init and log_final ({k},); "
                             f"got {trans.shape}, {init.shape}, {final.shape}")
    trans = trans - switch_penalty
    np.fill_diagonal(trans, -np.inf)  # a boundary always changes label
    csum = np.vstack([np.zeros((1, k)), np.cumsum(evidence_weight * e, axis=0)])

    best = np.full((n + 1, k), -np.inf)  # best[t, k]: units [0, t) segmented, last label k
    back_len = np.zeros((n + 1, k), dtype=np.int64)
    back_prev = np.full((n + 1, k), -1, dtype=np.int64)
    for t in range(lo, n + 1):
        lengths = np.arange(lo, min(hi, t) + 1)
        starts = t - lengths
        seg = csum[t] - csum[starts]  # (L, K)
        if length_logprior is not None:
            lp = np.asarray(length_logprior(lengths), dtype=np.float64)
            seg = seg + (lp[:, None] if lp.ndim == 1 else lp)
        if t < n:  # a segment ending before the last unit is not the last; one not starting at 0 not the first
            seg = seg + np.where((starts > 0)[:, None], middle[None, :], 0.0)
        seg = seg + np.where(starts > 0, bonus[starts], 0.0)[:, None]
        if t == n and last is not None:  # the last segment, by where it starts
            seg = seg + last[starts]
        # entering label j at `start` from label i: best[start, i] + trans[i, j]; from the start: init[j]
        from_prev = best[starts][:, :, None] + trans[None, :, :]  # (L, K_prev, K)
        prev_arg = np.argmax(from_prev, axis=1)  # (L, K)
        prev_val = np.take_along_axis(from_prev, prev_arg[:, None, :], axis=1)[:, 0, :]
        at_zero = starts == 0
        prev_val[at_zero] = init[None, :]
        prev_arg[at_zero] = -1
        total = prev_val + seg
        pick = np.argmax(total, axis=0)  # (K,)
        best[t] = total[pick, np.arange(k)]
        back_len[t] = lengths[pick]
        back_prev[t] = prev_arg[pick, np.arange(k)]
    segments: list[Segment] = []
    t, label = n, int(np.argmax(best[n] + final))
    while t > 0:
        length, prev = int(back_len[t, label]), int(back_prev[t, label])
        segments.append(Segment(t - length, t, label))
        t, label = t - length, prev
    return segments[::-1]


def runs(labels: Sequence[int]) -> list[Segment]:
    """Consecutive runs of equal labels (the unsmoothed segmentation).

    Parameters
    ----------
    labels : sequence of int [shape=(n,)]
        A label per step (beat or bar).

    Raises
    ------
    ParameterError
        ``labels`` is empty or not 1-d.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size == 0:
        raise ParameterError(f"labels must be a non-empty 1-d sequence; got shape {lab.shape}")
    cuts = np.flatnonzero(lab[1:] != lab[:-1]) + 1
    bounds = np.concatenate([[0], cuts, [lab.size]])
    return [Segment(int(a), int(b), int(lab[a])) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


@dataclass(frozen=True)
class BeatSegment:
    """A smoothed section on a beat grid: beats ``[start_beat, end_beat)``, class index, confidence in [0, 1]."""

    start_beat: int
    end_beat: int
    label: int
    confidence: float


def smooth_beats(
    beat_probs: np.ndarray,
    starts: np.ndarray,
    *,
    min_bars: int = 4,
    switch_penalty: float = 2.0,
    evidence_weight: float = 1.0,
    phrase_bars: int | None = 4,
    phrase_penalty: float = 1.0,
    log_transitions: np.ndarray | None = None,
    log_init: np.ndarray | None = None,
    log_final: np.ndarray | None = None,
    log_middle: np.ndarray | None = None,
    length_logprior: Callable[[np.ndarray], np.ndarray] | None = None,
    boundary_bonus: np.ndarray | None = None,
    final_bonus: np.ndarray | None = None,
) -> list[BeatSegment]:
    """Per-beat probabilities → smoothed sections snapped to bars (see the module doc for the model).

    Parameters
    ----------
    beat_probs : np.ndarray [shape=(n_beats, K)]
    starts : np.ndarray
        Beat index of each bar start (:func:`bar_starts`).
    min_bars : int
        Shortest section in bars.
    phrase_bars, phrase_penalty
        Length prior (:func:`phrase_prior`); ``phrase_bars=None`` turns it off.
    log_middle, length_logprior, boundary_bonus, final_bonus
        A grammar's priors (:func:`segment_viterbi`, per bar); ``length_logprior`` replaces the phrase prior.

    Returns
    -------
    list of BeatSegment
        Covering every beat; confidence = mean probability of the chosen label over its beats.
    """
    p = np.asarray(beat_probs, dtype=np.float64)
    prior = None if phrase_bars is None else phrase_prior(phrase_bars=phrase_bars, penalty=phrase_penalty)
    segs = segment_viterbi(bar_evidence(p, starts), min_len=min_bars, switch_penalty=switch_penalty,
                           evidence_weight=evidence_weight, log_transitions=log_transitions, log_init=log_init,
                           log_final=log_final, length_logprior=length_logprior or prior, log_middle=log_middle,
                           boundary_bonus=boundary_bonus, final_bonus=final_bonus)
    bar_edges = np.append(starts, p.shape[0])
    out = []
    for s in segs:
        a, b = int(bar_edges[s.start]), int(bar_edges[s.end])
        out.append(BeatSegment(a, b, s.label, float(p[a:b, s.label].mean())))
    return out


def raw_beats(beat_probs: np.ndarray) -> list[BeatSegment]:
    """The unsmoothed baseline: runs of the per-beat arg-max (not snapped to bars).

    Parameters
    ----------
    beat_probs : np.ndarray [shape=(n_beats, K)]
        Label probabilities of each beat.

    Returns
    -------
    list of BeatSegment
        Each with the mean probability of its label as confidence.
    """
    p = np.asarray(beat_probs, dtype=np.float64)
    return [BeatSegment(s.start, s.end, s.label, float(p[s.start:s.end, s.label].mean()))
            for s in runs(p.argmax(axis=1))]


__all__ = ["BeatSegment", "Segment", "bar_evidence", "bar_starts", "beat_probabilities", "ends_order", "learn_transitions",
           "phrase_prior", "raw_beats", "runs", "segment_viterbi", "smooth_beats"]
