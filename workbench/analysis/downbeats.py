"""Downbeats: which beat of four starts the bar."""

from __future__ import annotations

import numpy as np

from workbench.analysis.onsets import HOP_LENGTH, N_FFT, Onsets, levels_at

_HARMONY = 2.0  # weight of the chord change from the beat before (the clearest cue for the one where there are chords)
_HALF_BAR_HARMONY = 2.0  # weight of the chord change between the half bars either side of the beat
_TIMBRE = 1.0  # weight of the change in sound between the half bars either side of the beat
_HATS = 0.5  # weight of the high band (claps and open hats land on 2 and 4 or between the beats, not on the one)
_TIMBRE_BANDS = 24  # mel bands of the per-beat sound


def _standardise(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / (v.std() + 1e-9)


def _scaled(v: np.ndarray) -> np.ndarray:
    return v / (v.std() + 1e-9)


def _per_beat_mean(frames: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mean of ``frames`` (features x frames) over each beat, shape ``(features, n_beats)``."""
    csum = np.concatenate([np.zeros((frames.shape[0], 1)), np.cumsum(frames, axis=1)], axis=1)
    return (csum[:, ends] - csum[:, starts]) / (ends - starts).astype(np.float64)


def _half_bar_change(per_beat: np.ndarray, *, cosine: bool) -> np.ndarray:
    """How much a per-beat feature changes at each beat: the two beats after it against the two before.

    Parts enter and leave, fills end and chords change at the bar line, so the distance
    between the half bars either side of a beat peaks at the one more than at 3 (where the
    same bar goes on).

    Parameters
    ----------
    per_beat : np.ndarray [shape=(features, n_beats)]
        One feature vector per beat.
    cosine : bool
        Cosine distance (chroma) instead of Euclidean (log-mel).

    Returns
    -------
    np.ndarray [shape=(n_beats,)]
        0 at the first two beats and the last one.
    """
    n = per_beat.shape[1]
    change = np.zeros(n)
    if n < 4:
        return change
    run = np.concatenate([np.zeros((per_beat.shape[0], 1)), np.cumsum(per_beat, axis=1)], axis=1)
    i = np.arange(2, n - 1)
    stop = np.minimum(i + 2, n)
    after = (run[:, stop] - run[:, i]) / (stop - i)
    before = (run[:, i] - run[:, i - 2]) / 2.0
    if cosine:
        norms = np.linalg.norm(after, axis=0) * np.linalg.norm(before, axis=0) + 1e-9
        change[i] = 1.0 - (after * before).sum(axis=0) / norms
    else:
        change[i] = np.linalg.norm(after - before, axis=0)
    return change


def downbeat_phase(spec: np.ndarray, *, sr: int, beats: np.ndarray, onsets: Onsets,
                   half_time: bool = False) -> int:
    """Which of four beat phases starts the bar.

    The one is where the harmony changes (from the beat before and between the half bars
    either side; weighted double: the clearest cue where there are chords), where the sound of
    the two beats after differs most from the two before (parts enter and leave at the bar
    line), where the kick is struck and where the snare and the high band are not (snares and
    claps mark 2 and 4). A rise in bass level is not used: bass lines move on 3 as often as
    on 1. In half-time the snare marks beat 3 alone, so a snare two beats later also votes
    for the one.

    Parameters
    ----------
    spec : np.ndarray [shape=(1025, frames)]
        Magnitude STFT (``n_fft=2048``, ``hop_length=512``).
    sr : int > 0
        Sample rate in Hz.
    beats : np.ndarray [shape=(n_beats,)]
        Beat times in seconds.
    onsets : Onsets
        Band envelopes of the same audio.
    half_time : bool
        The grid is half-time (snare on 3; see :class:`~workbench.analysis.beats.BeatGrid`).

    Returns
    -------
    int in 0..3
        Index of the first downbeat in ``beats``.
    """
    import librosa

    if beats.size < 2:
        return 0
    power = np.asarray(spec) ** 2  # float32 as it comes: chroma_stft is several times slower on float64
    # tuning=0: chord changes between beats do not need the track's tuning, and estimating it here
    # (piptrack over the whole track) was a fifth of the analysis time
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH, tuning=0.0)
    n = spec.shape[1]
    starts = np.clip(librosa.time_to_frames(beats, sr=sr, hop_length=HOP_LENGTH), 0, n - 1)
    ends = np.maximum(np.append(starts[1:], n), starts + 1)
    seg_chroma = _per_beat_mean(chroma, starts, ends)
    seg_chroma = seg_chroma / (np.linalg.norm(seg_chroma, axis=0, keepdims=True) + 1e-9)
    change = np.zeros(beats.size)
    change[1:] = 1.0 - (seg_chroma[:, 1:] * seg_chroma[:, :-1]).sum(axis=0)
    mel = librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=_TIMBRE_BANDS) @ power
    timbre = _half_bar_change(np.log(_per_beat_mean(mel, starts, ends) + 1e-10), cosine=False)
    per_beat = (_HARMONY * _scaled(change) + _HALF_BAR_HARMONY * _scaled(_half_bar_change(seg_chroma, cosine=True))
                + _TIMBRE * _scaled(timbre))
    fr = onsets.frame_rate
    snare = _standardise(levels_at(onsets.snare, beats, frame_rate=fr))
    per_beat = (per_beat + _standardise(levels_at(onsets.kick, beats, frame_rate=fr)) - snare
                - _HATS * _standardise(levels_at(onsets.hat, beats, frame_rate=fr)))
    scores = [per_beat[p::4].mean() if per_beat[p::4].size else 0.0 for p in range(4)]
    if half_time:
        scores = [sc + (snare[(p + 2) % 4::4].mean() if snare[(p + 2) % 4::4].size else 0.0)
                  for p, sc in enumerate(scores)]
    return int(np.argmax(scores))
