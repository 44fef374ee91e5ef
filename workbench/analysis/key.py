"""Key estimation: mean chroma correlated with 24 rotated key profiles.

Profiles are the classic Krumhansl-Kessler probe-tone ratings and Temperley's (2005) corpus
profile, which weights the leading tone less and suits modal electronic music better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.camelot import key_name, to_camelot
from workbench.errors import ParameterError

PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    "temperley": (
        (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
        (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0),
    ),
}
DEFAULT_PROFILE = "krumhansl"

# softmax temperature over the 24 correlations, for a confidence in [1/24, 1]
_CONFIDENCE_TEMPERATURE = 0.05


@dataclass(frozen=True)
class KeyEstimate:
    """A key with its Camelot code.

    ``confidence`` is the softmax weight of the best key among all 24 (0.04 = no idea,
    1.0 = no other key fits); ``scores`` are the 24 correlations, majors C..B then minors C..B.
    """

    tonic_pc: int
    mode: str
    name: str
    camelot: str
    confidence: float
    scores: tuple[float, ...]


def key_scores(chroma_mean: np.ndarray, *, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """Pearson correlation of a 12-bin chroma vector with every key's profile.

    Parameters
    ----------
    chroma_mean : np.ndarray [shape=(12,)]
        Mean chroma, C first.
    profile : {"krumhansl", "temperley"}
        The key profiles to correlate with.

    Returns
    -------
    np.ndarray [shape=(24,)]
        Majors with tonic C, C#, ..., B, then minors in the same order.

    Raises
    ------
    ParameterError
        If ``profile`` is unknown or ``chroma_mean`` is not 12 values.
    """
    if profile not in PROFILES:
        raise ParameterError(f"profile must be one of {sorted(PROFILES)}; got {profile!r}")
    c = np.asarray(chroma_mean, dtype=np.float64)
    if c.shape != (12,):
        raise ParameterError(f"chroma_mean must have shape (12,); got {c.shape}")
    major, minor = (np.asarray(p, dtype=np.float64) for p in PROFILES[profile])
    templates = np.stack([np.roll(major, k) for k in range(12)] + [np.roll(minor, k) for k in range(12)])
    tz = (templates - templates.mean(axis=1, keepdims=True)) / templates.std(axis=1, keepdims=True)
    std = c.std()
    if std == 0:
        return np.zeros(24)
    cz = (c - c.mean()) / std
    return tz @ cz / 12.0


def estimate_key(y: np.ndarray, *, sr: int, profile: str = DEFAULT_PROFILE, hop_length: int = 4096) -> KeyEstimate:
    """Estimate the key of mono audio from its CQT chroma.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate in Hz.
    profile : {"temperley", "krumhansl"}
        Key profile to correlate with.
    hop_length : int > 0
        Chroma hop in samples.
    """
    import librosa

    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=hop_length, n_chroma=12, bins_per_octave=36)
    # weight frames by their loudness so quiet passages do not dilute the tonal centre
    frame_energy = chroma.sum(axis=0)
    chroma_mean = (chroma * frame_energy).sum(axis=1) / max(float(frame_energy.sum()), 1e-12)
    return key_from_scores(key_scores(chroma_mean, profile=profile))


def key_from_scores(scores: np.ndarray) -> KeyEstimate:
    """The best of 24 key scores as a :class:`KeyEstimate`.

    Parameters
    ----------
    scores : np.ndarray [shape=(24,)]
        As :func:`key_scores` returns them.

    Returns
    -------
    KeyEstimate
        Confidence is the softmax weight of the best key.
    """
    best = int(np.argmax(scores))
    tonic, mode = best % 12, ("major" if best < 12 else "minor")
    z = (scores - scores.max()) / _CONFIDENCE_TEMPERATURE
    weights = np.exp(z)
    confidence = float(weights[best] / weights.sum())
    return KeyEstimate(
        tonic_pc=tonic,
        mode=mode,
        name=key_name(tonic, mode),
        camelot=to_camelot(tonic, mode),
        confidence=confidence,
        scores=tuple(float(s) for s in scores),
    )
