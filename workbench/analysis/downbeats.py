"""Downbeats: which beat of four starts the bar."""

from __future__ import annotations

import numpy as np

from workbench.analysis.onsets import HOP_LENGTH, N_FFT, Onsets, levels_at

_HARMONY = 2.0  # weight of the chord change (the clearest cue for the one where there are chords)


def _standardise(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / (v.std() + 1e-9)


def downbeat_phase(spec: np.ndarray, *, sr: int, beats: np.ndarray, onsets: Onsets,
                   half_time: bool = False) -> int:
    """Which of four beat phases starts the bar.

    The one is where the harmony changes (weighted double: the clearest cue where there are
    chords), where the kick is struck and where the snare is not (snares and claps mark 2 and
    4). A rise in bass level is not used: bass lines move on 3 as often as on 1. In half-time
    the snare marks beat 3 alone, so a snare two beats later also votes for the one.

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
    chroma = librosa.feature.chroma_stft(S=spec**2, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH)
    n = spec.shape[1]
    starts = np.clip(librosa.time_to_frames(beats, sr=sr, hop_length=HOP_LENGTH), 0, n - 1)
    ends = np.maximum(np.append(starts[1:], n), starts + 1)
    # per beat: mean chroma over the beat, and its change from the beat before
    csum = np.concatenate([np.zeros((chroma.shape[0], 1)), np.cumsum(chroma, axis=1)], axis=1)
    width = (ends - starts).astype(np.float64)
    seg_chroma = (csum[:, ends] - csum[:, starts]) / width
    seg_chroma = seg_chroma / (np.linalg.norm(seg_chroma, axis=0, keepdims=True) + 1e-9)
    change = np.zeros(beats.size)
    change[1:] = 1.0 - (seg_chroma[:, 1:] * seg_chroma[:, :-1]).sum(axis=0)
    per_beat = _HARMONY * change / (change.std() + 1e-9)
    fr = onsets.frame_rate
    snare = _standardise(levels_at(onsets.snare, beats, frame_rate=fr))
    per_beat = per_beat + _standardise(levels_at(onsets.kick, beats, frame_rate=fr)) - snare
    scores = [per_beat[p::4].mean() if per_beat[p::4].size else 0.0 for p in range(4)]
    if half_time:
        scores = [sc + (snare[(p + 2) % 4::4].mean() if snare[(p + 2) % 4::4].size else 0.0)
                  for p, sc in enumerate(scores)]
    return int(np.argmax(scores))

