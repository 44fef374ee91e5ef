"""Energy: a 0..1 curve over time, a 1..10 level per section, and a 1..10 level per track.

Energy here is what a DJ means: loud, dense, bright and driving. Within a track, each window
of ``hop_s`` seconds combines its RMS level (relative to the track's loudest window, so the
curve shows the arrangement, not the master's gain), onset density and spectral brightness.
Between tracks, :func:`track_energy` uses absolute measures: integrated loudness, onsets per
second, brightness and how much of the track runs near full power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.errors import ParameterError

DEFAULT_HOP_S = 0.5

# weights of the three descriptors in the curve
_W_LEVEL, _W_ONSETS, _W_BRIGHT = 0.55, 0.25, 0.20
_LEVEL_RANGE_DB = 30.0  # a window 30 dB below the loudest counts as silence


@dataclass(frozen=True)
class EnergyProfile:
    """The energy curve (0..1 per window) and the whole-track descriptors behind it."""

    curve: np.ndarray
    onset_rate_hz: float
    centroid_hz: float


def energy_curve(
    y: np.ndarray, *, sr: int, hop_s: float = DEFAULT_HOP_S, spec: np.ndarray | None = None
) -> EnergyProfile:
    """Energy in [0, 1] per window of ``hop_s`` seconds, with onset rate and brightness.

    Onsets and the spectral centroid come from one magnitude STFT (2048-point Hann window,
    hop 512): ``spec`` when the caller has it (:func:`workbench.analysis.core.analyze` shares
    one with beats and key), else computed here; the results are the same either way.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate in Hz.
    hop_s : float > 0
        Window length and hop in seconds.
    spec : np.ndarray [shape=(1025, 1 + n // 512)] or None
        ``np.abs(librosa.stft(y, n_fft=2048, hop_length=512))``; None computes it.

    Returns
    -------
    EnergyProfile
        ``curve`` has shape ``(ceil(n / (hop_s * sr)),)``; ``onset_rate_hz`` is onsets per
        second over the track, ``centroid_hz`` the mean spectral centroid of its sounding part.

    Raises
    ------
    ParameterError
        ``spec`` does not have the shape of that STFT of ``y``.
    """
    import librosa

    sub_hop, n_fft = 512, 2048
    want = (1 + n_fft // 2, 1 + y.size // sub_hop)
    if spec is None:
        spec = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=sub_hop))
    elif getattr(spec, "shape", None) != want:
        raise ParameterError(f"spec must be the magnitude STFT of y (n_fft={n_fft}, hop {sub_hop}) of shape {want}; "
                             f"got shape {getattr(spec, 'shape', type(spec).__name__)}")

    hop = max(1, int(round(hop_s * sr)))
    n_win = int(np.ceil(y.size / hop))
    padded = np.zeros(n_win * hop, dtype=np.float32)
    padded[: y.size] = y
    frames = padded.reshape(n_win, hop)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
    level_db = 20 * np.log10(rms + 1e-10)
    level = np.clip((level_db - (level_db.max() - _LEVEL_RANGE_DB)) / _LEVEL_RANGE_DB, 0.0, 1.0)

    # what onset_strength(y=...) computes: the log-power mel spectrogram of the same STFT
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(S=spec**2, sr=sr, n_fft=n_fft))
    oenv = librosa.onset.onset_strength(S=log_mel, sr=sr, hop_length=sub_hop)
    onset_times = librosa.onset.onset_detect(onset_envelope=oenv, sr=sr, hop_length=sub_hop, units="time")
    density = np.bincount((onset_times / hop_s).astype(int), minlength=n_win)[:n_win] / hop_s  # onsets/s
    onsets = np.clip(density / 8.0, 0.0, 1.0)

    centroid = librosa.feature.spectral_centroid(S=spec, sr=sr, n_fft=n_fft, hop_length=sub_hop)[0]
    per_win = max(1, int(round(hop / sub_hop)))
    centroid = np.pad(centroid, (0, max(0, n_win * per_win - centroid.size)), mode="edge")[: n_win * per_win]
    bright = np.clip(centroid.reshape(n_win, per_win).mean(axis=1) / 4000.0, 0.0, 1.0)
    bright = bright * (level > 0)  # silence has no brightness
    curve = (_W_LEVEL * level + _W_ONSETS * onsets + _W_BRIGHT * bright).astype(np.float32)
    sounding = level > 0
    centroid_hz = float(centroid.reshape(n_win, per_win).mean(axis=1)[sounding].mean()) if sounding.any() else 0.0
    return EnergyProfile(curve=curve, onset_rate_hz=float(onset_times.size / (y.size / sr)), centroid_hz=centroid_hz)


def track_energy(profile: EnergyProfile, *, loudness_lufs: float) -> int:
    """A 1..10 track energy from absolute descriptors, comparable across tracks.

    Loudness counts from -24 LUFS (0) to -6 LUFS (1), onsets from 0 to 6 per second,
    brightness from 500 to 3500 Hz, drive is the share of windows above 0.6 on the curve.

    Parameters
    ----------
    profile : EnergyProfile
        The track's energy curve, onset rate (Hz) and spectral centroid (Hz).
    loudness_lufs : float
        Integrated loudness in LUFS; non-finite counts as silent.

    Returns
    -------
    int in 1..10
    """
    def unit(x: float, lo: float, hi: float) -> float:
        """``x`` scaled from ``[lo, hi]`` to ``[0, 1]`` and clipped.

        Parameters
        ----------
        x : float
            The value; non-finite gives 0.
        lo, hi : float
            The values mapped to 0 and 1.

        Returns
        -------
        float in [0, 1]
        """
        return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0)) if np.isfinite(x) else 0.0

    drive = float((profile.curve > 0.6).mean()) if profile.curve.size else 0.0
    score = (0.4 * unit(loudness_lufs, -24.0, -6.0) + 0.3 * unit(profile.onset_rate_hz, 0.0, 6.0)
             + 0.15 * unit(profile.centroid_hz, 500.0, 3500.0) + 0.15 * drive)
    return int(np.clip(1 + round(9 * score), 1, 10))


def energy_level(curve: np.ndarray) -> int:
    """A 1..10 level of (a part of) one track's energy curve: its upper-quartile value, scaled.

    Relative to the track's own loudest moment: use it to compare sections of one track.

    Parameters
    ----------
    curve : np.ndarray [shape=(n,)]
        Energy values in [0, 1]; empty gives 1.

    Returns
    -------
    int in 1..10
    """
    if curve.size == 0:
        return 1
    value = float(np.quantile(curve, 0.75))
    return int(np.clip(1 + round(9 * value), 1, 10))
