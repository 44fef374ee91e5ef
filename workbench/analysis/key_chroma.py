"""Tuning and pitch-class profiles from the sustained spectral peaks of a track.

An HPCP-like front end (after Gómez 2006, "Tonal description of polyphonic audio for music
content processing") written for key estimation on electronic music:

1. a magnitude STFT (window twice the hop) cut at 5 kHz;
2. a soft mask that keeps what lasts: each bin's minimum over two frames against its mean
   over 15 neighbouring bins, so drum hits (short in time, wide in frequency) fade and held
   notes stay;
3. the local maxima of each frame, with parabolic interpolation of frequency and level;
4. the tuning: the magnitude-weighted circular mean of every peak's deviation from the
   equal-tempered A440 grid (cents modulo 100), with its resultant length as coherence
   (near 1: every partial sits at the same offset from the grid, as in pitched music; near 0:
   peaks scattered, as in drum loops);
5. a 36-bin pitch-class profile per frame on the tuned grid (each peak's magnitude spreads over
   the bins within half a semitone with a squared-cosine weight), folded to 12 classes.

Importing does no work; numpy, scipy and librosa load inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Highest frequency analysed, in Hz.
FMAX_HZ = 5000.0
#: Lowest frequency whose peaks are kept, in Hz.
FMIN_HZ = 30.0
#: Band whose peaks estimate the tuning, in Hz (low partials are too coarsely resolved, high
#: ones are inharmonic).
TUNING_BAND_HZ = (80.0, 2000.0)
#: Bins per semitone of the pitch-class profile before folding.
_PER_SEMITONE = 3


@dataclass(frozen=True)
class SpectralPeaks:
    """Sustained spectral peaks of a track.

    ``frame`` (int), ``freq_hz`` and ``magnitude`` are parallel arrays, one entry per peak;
    ``n_frames`` frames of ``hop_s`` seconds each.
    """

    frame: np.ndarray
    freq_hz: np.ndarray
    magnitude: np.ndarray
    n_frames: int
    hop_s: float


def sustained_peaks(y: np.ndarray, *, sr: int, hop_length: int) -> SpectralPeaks:
    """Spectral peaks of the sustained (held, pitched) part of mono audio.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate in Hz.
    hop_length : int > 0
        Frame hop in samples; the window is twice as long.

    Returns
    -------
    SpectralPeaks
        Peaks between :data:`FMIN_HZ` and :data:`FMAX_HZ`, frequency and magnitude refined by
        parabolic interpolation of the log magnitude.
    """
    import librosa
    import scipy.ndimage as ndi

    n_fft = 2 * hop_length
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    top = int(np.searchsorted(freqs, min(FMAX_HZ, sr / 2 * 0.95)))
    mag = np.abs(librosa.stft(np.asarray(y, dtype=np.float32), n_fft=n_fft, hop_length=hop_length))[:top]
    n_frames = mag.shape[1]
    # soft harmonic mask: what persists over two frames against the local spectral average
    held = ndi.minimum_filter1d(mag, 2, axis=1, mode="nearest")
    wide = ndi.uniform_filter1d(mag, 15, axis=0, mode="nearest")
    mag = mag * held**2 / (held**2 + wide**2 + 1e-20)
    lo = max(1, int(np.searchsorted(freqs, FMIN_HZ)))
    c, left, right = mag[lo:-1], mag[lo - 1:-2], mag[lo + 1:]
    floor = mag.max(axis=0, keepdims=True) * 1e-3 + 1e-10  # -60 dB under the frame's loudest bin
    b, f = np.nonzero((c > left) & (c >= right) & (c > floor))
    a_, b_, g_ = (np.log(x[b, f] + 1e-12) for x in (left, c, right))
    den = a_ - 2 * b_ + g_
    p = np.clip(np.where(den < -1e-12, 0.5 * (a_ - g_) / np.where(den < -1e-12, den, -1.0), 0.0), -0.5, 0.5)
    return SpectralPeaks(
        frame=f.astype(np.int64),
        freq_hz=(b + lo + p) * (sr / n_fft),
        magnitude=np.exp(b_ - 0.25 * (a_ - g_) * p),
        n_frames=int(n_frames),
        hop_s=hop_length / sr,
    )


def tuning_from_peaks(peaks: SpectralPeaks) -> tuple[float, float]:
    """Deviation of the track's tuning from A440, and how coherent the peaks are about it.

    Parameters
    ----------
    peaks : SpectralPeaks
        As :func:`sustained_peaks` returns them.

    Returns
    -------
    cents : float in [-50, 50)
        Magnitude-weighted circular mean of each peak's offset from the equal-tempered grid
        (A4 = 440 Hz), in cents; a track tuned to 432 Hz reads about -32.
    coherence : float in [0, 1]
        The mean resultant length: 1 when every peak sits at the same offset, near 0 for
        peaks scattered at random (drums, noise).
    """
    lo, hi = TUNING_BAND_HZ
    sel = (peaks.freq_hz >= lo) & (peaks.freq_hz <= hi)
    if not sel.any():
        return 0.0, 0.0
    cents = 1200.0 * np.log2(peaks.freq_hz[sel] / 440.0)
    w = peaks.magnitude[sel] ** 2
    z = complex(np.sum(w * np.exp(2j * np.pi * cents / 100.0)))
    total = float(w.sum())
    if total <= 0 or abs(z) == 0:
        return 0.0, 0.0
    offset = float(np.angle(z) / (2 * np.pi) * 100.0)
    offset = ((offset + 50.0) % 100.0) - 50.0
    return offset, float(abs(z) / total)


def pitch_class_frames(peaks: SpectralPeaks, *, tuning_cents: float, fmin_hz: float,
                       fmax_hz: float = FMAX_HZ, power: float = 1.0) -> np.ndarray:
    """Pitch-class energy per frame from the peaks between two frequencies.

    Parameters
    ----------
    peaks : SpectralPeaks
        As :func:`sustained_peaks` returns them.
    tuning_cents : float
        The reference's offset from A440 in cents (:func:`tuning_from_peaks`).
    fmin_hz, fmax_hz : float
        Band of the peaks used, in Hz.
    power : float > 0
        Each peak weighs its magnitude to this power (1: magnitude, 2: energy).

    Returns
    -------
    np.ndarray [shape=(12, n_frames)]
        Peak magnitudes (to ``power``) gathered per pitch class, C first.
    """
    sel = (peaks.freq_hz >= fmin_hz) & (peaks.freq_hz <= fmax_hz)
    frame, freq, mag = peaks.frame[sel], peaks.freq_hz[sel], peaks.magnitude[sel]
    n_bins = 12 * _PER_SEMITONE
    out = np.zeros(n_bins * peaks.n_frames)
    if freq.size:
        ref_hz = 440.0 * 2.0 ** (tuning_cents / 1200.0)
        centre = (12.0 * np.log2(freq / ref_hz) + 9.0) * _PER_SEMITONE  # bins above C
        weight = mag**power
        k0 = np.floor(centre - _PER_SEMITONE / 2).astype(np.int64)
        for dk in range(_PER_SEMITONE + 2):
            k = k0 + dk
            d = (k - centre) / _PER_SEMITONE  # semitones from the peak
            ok = np.abs(d) < 0.5
            w = np.cos(np.pi * d[ok]) ** 2 * weight[ok]
            out += np.bincount((k[ok] % n_bins) * peaks.n_frames + frame[ok], weights=w,
                               minlength=out.size)
    fine = out.reshape(n_bins, peaks.n_frames)
    # fold: class c gathers the bins centred on c (bin 3c) and one third of a semitone either side
    return np.roll(fine, 1, axis=0).reshape(12, _PER_SEMITONE, peaks.n_frames).sum(axis=1)


def drop_harmonics(peaks: SpectralPeaks, *, harmonics: tuple[int, ...] = (5,),
                   tolerance_cents: float = 35.0) -> SpectralPeaks:
    """Peaks without those that are a louder peak's harmonic of the given orders, same frame.

    The fifth harmonic of a note is two octaves and a major third above it: a loud tonic in
    a minor key would otherwise add the major third and pull the estimate to the parallel major.

    Parameters
    ----------
    peaks : SpectralPeaks
        As :func:`sustained_peaks` returns them.
    harmonics : tuple of int > 1
        Orders checked: a peak is dropped when a peak at least as loud sits at ``freq / h``
        (within ``tolerance_cents``) in the same frame.
    tolerance_cents : float > 0
        How far from the exact ratio a fundamental may lie.

    Returns
    -------
    SpectralPeaks
        The peaks kept, in their original order.
    """
    cents = 1200.0 * np.log2(peaks.freq_hz / 10.0)
    key = peaks.frame * 20000.0 + cents  # frames far apart on one axis (20000 cents > any band)
    order = np.argsort(key)
    sorted_key, sorted_mag = key[order], peaks.magnitude[order]
    keep = np.ones(key.size, dtype=bool)
    if key.size < 2:
        return peaks
    for h in harmonics:
        target = key - 1200.0 * np.log2(h)
        i = np.clip(np.searchsorted(sorted_key, target), 1, key.size - 1)
        near = np.where(np.abs(sorted_key[i] - target) < np.abs(sorted_key[i - 1] - target), i, i - 1)
        keep &= ~((np.abs(sorted_key[near] - target) < tolerance_cents) & (sorted_mag[near] >= peaks.magnitude))
    return SpectralPeaks(frame=peaks.frame[keep], freq_hz=peaks.freq_hz[keep], magnitude=peaks.magnitude[keep],
                         n_frames=peaks.n_frames, hop_s=peaks.hop_s)
