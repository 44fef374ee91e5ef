"""Energy: a 0..1 curve over time and a 1..10 level per track or section.

Energy here is what a DJ means: loud, dense, bright and driving. Each window of
``hop_s`` seconds combines its RMS level (dBFS relative to the track's loudest window, so a
quiet master is not "low energy" by its gain alone), onset density and spectral brightness.
"""

from __future__ import annotations

import numpy as np

DEFAULT_HOP_S = 0.5

# weights of the three descriptors in the curve
_W_LEVEL, _W_ONSETS, _W_BRIGHT = 0.55, 0.25, 0.20
_LEVEL_RANGE_DB = 30.0  # a window 30 dB below the loudest counts as silence


def energy_curve(y: np.ndarray, *, sr: int, hop_s: float = DEFAULT_HOP_S) -> np.ndarray:
    """Energy in [0, 1] per window of ``hop_s`` seconds.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate in Hz.
    hop_s : float > 0
        Window length and hop in seconds.

    Returns
    -------
    np.ndarray [shape=(ceil(n / (hop_s * sr)),)]
    """
    import librosa

    hop = max(1, int(round(hop_s * sr)))
    n_win = int(np.ceil(y.size / hop))
    padded = np.zeros(n_win * hop, dtype=np.float32)
    padded[: y.size] = y
    frames = padded.reshape(n_win, hop)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
    level_db = 20 * np.log10(rms + 1e-10)
    level = np.clip((level_db - (level_db.max() - _LEVEL_RANGE_DB)) / _LEVEL_RANGE_DB, 0.0, 1.0)

    sub_hop = 512
    oenv = librosa.onset.onset_strength(y=y, sr=sr, hop_length=sub_hop)
    onset_times = librosa.onset.onset_detect(onset_envelope=oenv, sr=sr, hop_length=sub_hop, units="time")
    density = np.bincount((onset_times / hop_s).astype(int), minlength=n_win)[:n_win] / hop_s  # onsets/s
    onsets = np.clip(density / 8.0, 0.0, 1.0)

    centroid = librosa.feature.spectral_centroid(y=y, sr=sr, hop_length=sub_hop)[0]
    per_win = max(1, int(round(hop / sub_hop)))
    centroid = np.pad(centroid, (0, max(0, n_win * per_win - centroid.size)), mode="edge")[: n_win * per_win]
    bright = np.clip(centroid.reshape(n_win, per_win).mean(axis=1) / 4000.0, 0.0, 1.0)
    bright = bright * (level > 0)  # silence has no brightness
    return (_W_LEVEL * level + _W_ONSETS * onsets + _W_BRIGHT * bright).astype(np.float32)


def energy_level(curve: np.ndarray) -> int:
    """A 1..10 level from (a part of) an energy curve: its upper-quartile value, scaled."""
    if curve.size == 0:
        return 1
    value = float(np.quantile(curve, 0.75))
    return int(np.clip(1 + round(9 * value), 1, 10))
