"""Key estimation for electronic music: tuned pitch classes, published key profiles, an opening
chord, and "no key" for drums.

1. Sustained spectral peaks and the track's tuning (:mod:`workbench.analysis.key_chroma`): a
   track tuned to 432 Hz is read on a 432 Hz grid, not smeared across two pitch classes.
2. A 12-class profile of the peaks between :data:`TREBLE_FMIN_HZ` and :data:`TREBLE_FMAX_HZ`
   (the bass and kick register is left out: kick drums and sub-bass slides blur it; fifth
   harmonics of louder peaks are dropped, as they add a major third to every note), each frame
   scaled to its own maximum and averaged, correlated with the 24 rotations of a key profile
   (:data:`PROFILES`).
3. Loop-based music often holds the same chords in a minor key and its relative major (i-bVI-
   bIII-bVII and I-V-vi-IV are one chord set); what tells them apart is where the loop starts.
   The first :data:`OPENING_S` seconds of pitched sound are matched to the triads on each root,
   and :data:`OPENING_WEIGHT` times the better match on a key's tonic is added to the key's
   score, for both modes alike (the profile decides the mode): enough to settle a near tie
   between relative keys, too little to overturn a clear profile match. An opening that names
   no chord (a riser, noise: best triad under :data:`OPENING_MIN_CLARITY`) is not counted.
4. ``has_key``: pitched music shows both peaks coherent about one tuning and a pitch-class
   profile that looks like a key; drum loops miss at least one. ``confidence`` falls towards 1/24
   as that evidence fades.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.analysis.key_chroma import (
    drop_harmonics,
    pitch_class_frames,
    sustained_peaks,
    tuning_from_peaks,
)
from workbench.analysis.key_profiles import PROFILES
from workbench.camelot import key_name, to_camelot
from workbench.errors import ParameterError

__all__ = ["DEFAULT_PROFILE", "PROFILES", "KeyEstimate", "estimate_key", "key_from_scores", "key_scores",
           "with_opening"]

#: The profile used unless another is asked for (chosen on the dev split of the development set).
DEFAULT_PROFILE = "shaath"
#: Band of the pitch-class profile, in Hz (MIREX score on the dev split with ``shaath``, before
#: fifth harmonics were dropped: 150-2500 Hz 0.88, 150-5000 Hz 0.84, 30-2500 Hz 0.82, 30-5000 Hz
#: 0.80; above 2.5 kHz mostly upper partials and metal percussion remain).
TREBLE_FMIN_HZ = 150.0
TREBLE_FMAX_HZ = 2500.0
#: Seconds of the first pitched sound matched to the tonic triads.
OPENING_S = 3.0
#: Weight of the opening's tonic match added to the profile correlation. Not chosen on the dev
#: split: there every loop starts on its tonic, so the dev score rises with this weight (``shaath``:
#: 0.80 at 0, 0.81 at 0.2, 0.84 at 0.3, 0.87 at 0.5) while real tracks may open elsewhere. 0.3
#: moves a score by at most about 0.15, the gap between relative keys that share their chords, and
#: leaves a clear profile match alone. (Matching the opening's mode as well read two of the four
#: demo-library techno tracks, which open on a lone note, in the parallel key.)
OPENING_WEIGHT = 0.3
#: Best tonic-triad correlation of the opening below which it names no chord and is not counted.
#: The demo library's tracks open on risers and noise sweeps (best triad 0.22-0.36 there, against
#: 0.58-0.97 for the middle 80 % of the development set's dev split): counted, such an opening
#: turned 2 of 30 demo tracks into their relative major (key exact 0.900 -> 0.967; dev and
#: held-out MIREX unchanged at 0.843 / 0.865, any threshold in 0.4-0.5).
OPENING_MIN_CLARITY = 0.4
#: Tuning coherence (:func:`~workbench.analysis.key_chroma.tuning_from_peaks`) below which audio
#: reads as unpitched: drum loops on the dev split reach 0.36, pitched tracks start at 0.37.
COHERENCE_THRESHOLD = 0.28
#: Best correlation with the :data:`_TONALITY_PROFILE` (of the energy-weighted pitch classes of
#: 150-5000 Hz) below which a profile does not look like a key: drum loops on the dev split reach
#: 0.55, pitched tracks start at 0.72.
KEYNESS_THRESHOLD = 0.63
#: Length of the stretches whose key-likeness is measured, in seconds.
KEYNESS_WINDOW_S = 20.0
# has_key does not depend on the profile asked for: its thresholds were set with this one
_TONALITY_PROFILE = "shaath"
# width of the two logistics around the thresholds
_TONAL_SCALE = 0.03
# softmax temperature over the 24 scores, for a confidence in [1/24, 1]
_CONFIDENCE_TEMPERATURE = 0.05


@dataclass(frozen=True)
class KeyEstimate:
    """A key with its Camelot code.

    ``confidence`` is the softmax weight of the best key among all 24, scaled by how tonal the
    audio is (1/24 = no idea, 1.0 = no other key fits); ``scores`` are the 24 scores, majors
    C..B then minors C..B. ``has_key`` is False for drum-only or atonal audio (then the key is a
    best guess and ``confidence`` is near 1/24). ``tuning_cents`` is the estimated deviation of
    the tuning from A440 in cents (432 Hz: about -32).
    """

    tonic_pc: int
    mode: str
    name: str
    camelot: str
    confidence: float
    scores: tuple[float, ...]
    has_key: bool = True
    tuning_cents: float = 0.0


def _check_profile(profile: object) -> str:
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ParameterError(f"profile must be one of {sorted(PROFILES)}; got {profile!r}")
    return profile


def _zscore_rows(m: np.ndarray) -> np.ndarray:
    return (m - m.mean(axis=1, keepdims=True)) / m.std(axis=1, keepdims=True)


def key_scores(chroma_mean: np.ndarray, *, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """Pearson correlation of a 12-bin chroma vector with every key's profile.

    Parameters
    ----------
    chroma_mean : np.ndarray [shape=(12,)]
        Mean chroma, C first.
    profile : str
        A name in :data:`PROFILES` (``"krumhansl"``, ``"temperley"``, ``"shaath"``, ``"edma"``,
        ``"bgate"``, ``"braw"``).

    Returns
    -------
    np.ndarray [shape=(24,)]
        Majors with tonic C, C#, ..., B, then minors in the same order.

    Raises
    ------
    ParameterError
        If ``profile`` is unknown or ``chroma_mean`` is not 12 values.
    """
    _check_profile(profile)
    c = np.asarray(chroma_mean, dtype=np.float64)
    if c.shape != (12,):
        raise ParameterError(f"chroma_mean must have shape (12,); got {c.shape}")
    major, minor = (np.asarray(p, dtype=np.float64) for p in PROFILES[profile])
    templates = np.stack([np.roll(major, k) for k in range(12)] + [np.roll(minor, k) for k in range(12)])
    std = c.std()
    if std == 0:
        return np.zeros(24)
    return _zscore_rows(templates) @ ((c - c.mean()) / std) / 12.0


def _triad_scores(chroma: np.ndarray) -> np.ndarray:
    """Correlation of a 12-bin chroma with the 24 tonic triads (majors then minors)."""
    triads = np.zeros((24, 12))
    for r in range(12):
        triads[r, [r, (r + 4) % 12, (r + 7) % 12]] = 1.0
        triads[12 + r, [r, (r + 3) % 12, (r + 7) % 12]] = 1.0
    std = chroma.std()
    if std == 0:
        return np.zeros(24)
    return _zscore_rows(triads) @ ((chroma - chroma.mean()) / std) / 12.0


def _frame_mean(frames: np.ndarray) -> np.ndarray:
    """Mean of the frames scaled to their own maximum, near-silent frames left out."""
    energy = frames.sum(axis=0)
    if frames.shape[1] == 0 or energy.max() <= 0:
        return np.zeros(12)
    keep = energy > 0.01 * np.percentile(energy, 90)
    f = frames[:, keep]
    return (f / f.max(axis=0, keepdims=True)).mean(axis=1)


def estimate_key(y: np.ndarray, *, sr: int, profile: str = DEFAULT_PROFILE, hop_length: int = 4096,
                 spec: np.ndarray | None = None) -> KeyEstimate:
    """Estimate the key of mono audio, its tuning, and whether it has a key at all.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate in Hz.
    profile : str
        Key profile, a name in :data:`PROFILES`.
    hop_length : int > 0
        Frame hop in samples (the analysis window is twice as long: 0.37 s at 22.05 kHz).
    spec : np.ndarray [shape=(1 + n_fft/2, t)] or None
        A magnitude STFT computed elsewhere (``n_fft=2048``); accepted for a shared front end but
        not used: its 10.8 Hz bins (at 22.05 kHz) are too coarse for bass-register pitch classes,
        so the key reads its own longer-window spectrum.

    Returns
    -------
    KeyEstimate

    Raises
    ------
    ParameterError
        Unknown ``profile``, or ``hop_length`` not a positive int.
    """
    del spec  # see the docstring
    _check_profile(profile)
    if not isinstance(hop_length, (int, np.integer)) or isinstance(hop_length, bool) or hop_length <= 0:
        raise ParameterError(f"hop_length must be a positive int (samples); got {hop_length!r}")
    peaks = sustained_peaks(y, sr=sr, hop_length=int(hop_length))
    tuning, coherence = tuning_from_peaks(peaks)
    frames = pitch_class_frames(drop_harmonics(peaks), tuning_cents=tuning, fmin_hz=TREBLE_FMIN_HZ,
                                fmax_hz=TREBLE_FMAX_HZ)
    profile_scores = key_scores(_frame_mean(frames), profile=profile)
    scores = with_opening(profile_scores, _triad_scores(_opening(frames, hop_s=peaks.hop_s)))
    # has_key reads energy-weighted classes over the whole band: there drum loops on the dev split
    # stay at or below 0.55 and pitched tracks at or above 0.72
    keyness = _keyness(pitch_class_frames(peaks, tuning_cents=tuning, fmin_hz=TREBLE_FMIN_HZ, power=2.0),
                       hop_s=peaks.hop_s)
    return key_from_scores(scores, tonality=_tonality(coherence, keyness), tuning_cents=tuning)


def with_opening(profile_scores: np.ndarray, triads: np.ndarray) -> np.ndarray:
    """Add the opening's tonic match to the profile's key scores, when the opening names a chord.

    The opening names the tonic, not the mode: a lone bass or riff note reads as a major triad
    (its fifth harmonic is a major third), so each root counts its better triad for both modes.
    An opening whose best triad correlation is under :data:`OPENING_MIN_CLARITY` (noise, a riser,
    a cluster) adds nothing.

    Parameters
    ----------
    profile_scores : np.ndarray [shape=(24,)]
        Key scores as :func:`key_scores` returns them (majors C..B, then minors C..B).
    triads : np.ndarray [shape=(24,)]
        Correlation of the opening's pitch classes with the 24 triads, same order.

    Returns
    -------
    np.ndarray [shape=(24,)]
        ``profile_scores`` plus :data:`OPENING_WEIGHT` times each key's tonic match, or
        ``profile_scores`` unchanged when the opening is unclear.
    """
    triads = np.asarray(triads, dtype=np.float64)
    if triads.max() < OPENING_MIN_CLARITY:
        return np.asarray(profile_scores, dtype=np.float64)
    return profile_scores + OPENING_WEIGHT * np.tile(np.maximum(triads[:12], triads[12:]), 2)


def _keyness(frames: np.ndarray, *, hop_s: float) -> float:
    """Best profile correlation of any :data:`KEYNESS_WINDOW_S` stretch (half-overlapping), so a
    long track that changes key still reads as tonal."""
    n = max(1, int(round(KEYNESS_WINDOW_S / hop_s)))
    starts = range(0, max(1, frames.shape[1] - n // 2), max(1, n // 2))
    return max(float(key_scores(_frame_mean(frames[:, s:s + n]), profile=_TONALITY_PROFILE).max())
               for s in starts)


def _tonality(coherence: float, keyness: float) -> float:
    """Probability-like evidence in [0, 1] that audio is pitched music: both the tuning
    coherence and the key-likeness must clear their thresholds."""
    z = np.clip([(coherence - COHERENCE_THRESHOLD) / _TONAL_SCALE, (keyness - KEYNESS_THRESHOLD) / _TONAL_SCALE],
                -50.0, 50.0)
    return float(np.prod(1.0 / (1.0 + np.exp(-z))))


def _opening(frames: np.ndarray, *, hop_s: float) -> np.ndarray:
    """Pitch-class profile of the first :data:`OPENING_S` seconds of pitched sound."""
    energy = frames.sum(axis=0)
    if energy.size == 0 or energy.max() <= 0:
        return np.zeros(12)
    start = int(np.argmax(energy > 0.1 * np.percentile(energy, 90)))
    n = max(1, int(round(OPENING_S / hop_s)))
    return _frame_mean(frames[:, start:start + n])


def key_from_scores(scores: np.ndarray, *, tonality: float = 1.0, tuning_cents: float = 0.0) -> KeyEstimate:
    """The best of 24 key scores as a :class:`KeyEstimate`.

    Parameters
    ----------
    scores : np.ndarray [shape=(24,)]
        As :func:`key_scores` returns them (majors C..B, then minors C..B).
    tonality : float in [0, 1]
        How surely the audio is pitched music; below 0.5 ``has_key`` is False, and the
        confidence is pulled towards 1/24 in proportion.
    tuning_cents : float
        Stored in the estimate as is.

    Returns
    -------
    KeyEstimate
        Confidence is the softmax weight of the best key, blended with 1/24 by ``tonality``.

    Raises
    ------
    ParameterError
        If ``scores`` is not 24 finite values or ``tonality`` is outside [0, 1].
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != (24,) or not np.all(np.isfinite(s)):
        raise ParameterError(f"scores must be 24 finite values; got shape {s.shape}")
    if not (isinstance(tonality, (int, float)) and 0.0 <= tonality <= 1.0):
        raise ParameterError(f"tonality must be a float in [0, 1]; got {tonality!r}")
    best = int(np.argmax(s))
    tonic, mode = best % 12, ("major" if best < 12 else "minor")
    weights = np.exp((s - s.max()) / _CONFIDENCE_TEMPERATURE)
    sharpness = float(weights[best] / weights.sum())
    return KeyEstimate(
        tonic_pc=tonic,
        mode=mode,
        name=key_name(tonic, mode),
        camelot=to_camelot(tonic, mode),
        confidence=tonality * sharpness + (1.0 - tonality) / 24.0,
        scores=tuple(float(v) for v in s),
        has_key=bool(tonality >= 0.5),
        tuning_cents=float(tuning_cents),
    )
