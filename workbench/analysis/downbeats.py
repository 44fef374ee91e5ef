"""Downbeats: which beat of four starts the bar."""

from __future__ import annotations

import numpy as np

from workbench.analysis.onsets import HOP_LENGTH, N_FFT, Onsets, levels_at


def _standardise(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / (v.std() + 1e-9)


def downbeat_phase(spec: np.ndarray, *, sr: int, beats: np.ndarray, onsets: Onsets) -> int:
    """Which of four beat phases starts the bar.

    The one is where harmony and bass change most, where the kick is struck and where the
    snare is not (snares and claps mark 2 and 4).

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

    Returns
    -------
    int in 0..3
        Index of the first downbeat in ``beats``.
    """
    import librosa

    if beats.size < 2:
        return 0
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    chroma = librosa.feature.chroma_stft(S=spec**2, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH)
    low = np.log1p(spec[freqs < 200].sum(axis=0))
    n = spec.shape[1]
    starts = np.clip(librosa.time_to_frames(beats, sr=sr, hop_length=HOP_LENGTH), 0, n - 1)
    ends = np.maximum(np.append(starts[1:], n), starts + 1)
    # per beat: mean chroma and low-band level over the beat, and their change from the beat before
    csum = np.concatenate([np.zeros((chroma.shape[0], 1)), np.cumsum(chroma, axis=1)], axis=1)
    lsum = np.concatenate([[0.0], np.cumsum(low)])
    width = (ends - starts).astype(np.float64)
    seg_chroma = (csum[:, ends] - csum[:, starts]) / width
    seg_low = (lsum[ends] - lsum[starts]) / width
    seg_chroma = seg_chroma / (np.linalg.norm(seg_chroma, axis=0, keepdims=True) + 1e-9)
    change = np.zeros(beats.size)
    change[1:] = 1.0 - (seg_chroma[:, 1:] * seg_chroma[:, :-1]).sum(axis=0)
    low_change = np.zeros_like(change)
    low_change[1:] = np.clip(np.diff(seg_low), 0.0, None)  # the bass comes in harder on the one
    per_beat = change / (change.std() + 1e-9) + low_change / (low_change.std() + 1e-9)
    fr = onsets.frame_rate
    per_beat = per_beat + _standardise(levels_at(onsets.kick, beats, frame_rate=fr)) \
        - _standardise(levels_at(onsets.snare, beats, frame_rate=fr))
    scores = [per_beat[p::4].mean() if per_beat[p::4].size else 0.0 for p in range(4)]
    return int(np.argmax(scores))

