"""Onset envelopes per drum band, from one shared magnitude spectrogram.

Every part of the beat tracker (tempo, octave, beats, downbeats, stability) reads these
envelopes, so the short-time Fourier transform is computed once per track: by
:func:`workbench.analysis.beats.track_beats` itself, or by its caller (``spec=``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.errors import ParameterError

#: STFT hop and window the envelopes assume (frames of ``HOP_LENGTH / sr`` seconds).
HOP_LENGTH = 512
N_FFT = 2048
N_MELS = 96
KICK_MAX_HZ = 150.0  # kick and sub bass below this
SNARE_BODY_MAX_HZ = 1000.0  # a snare's body (150 Hz-1 kHz), where hats have little energy
HAT_MIN_HZ = 4000.0  # hats, shakers and rides above this; snares and claps in between


@dataclass(frozen=True)
class Onsets:
    """Onset strength envelopes at ``sr / HOP_LENGTH`` frames per second.

    ``kick`` is the spectral flux (log-mel, positive differences) below 150 Hz, ``snare`` the
    flux of 150 Hz-4 kHz (snares, claps, most tonal attacks), ``hat`` the flux above 4 kHz,
    ``snare_body`` the flux of 150 Hz-1 kHz alone (a snare's body; hats barely reach it).
    ``beat`` is the kick flux plus half the all-band flux, each at unit standard deviation: a
    DJ counts the kick, and bright off-beat hats must not pull the grid onto the off-beat.
    ``sharpness_db`` is the 95th percentile of the all-band flux (dB per band): a sustained
    pad stays below 1 dB, any drum part is far above. ``frame_rate`` is frames per second.
    """

    beat: np.ndarray
    kick: np.ndarray
    snare: np.ndarray
    hat: np.ndarray
    sharpness_db: float
    frame_rate: float
    snare_body: np.ndarray | None = None

    @property
    def backbeat(self) -> np.ndarray:
        """The snare-band envelope (its older name)."""
        return self.snare


def magnitude_spectrogram(y: np.ndarray) -> np.ndarray:
    """``|librosa.stft(y, n_fft=2048, hop_length=512)|``: the spectrogram the beat tracker reads.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.

    Returns
    -------
    np.ndarray [shape=(1025, frames), dtype=float32]
    """
    import librosa

    return np.abs(librosa.stft(np.asarray(y, dtype=np.float32), n_fft=N_FFT, hop_length=HOP_LENGTH))


def check_spectrogram(spec: object, *, n_samples: int) -> np.ndarray:
    """``spec`` as a float array after checking that it is the STFT of ``n_samples`` samples.

    Parameters
    ----------
    spec : array-like [shape=(1025, frames)]
        Magnitude STFT (``n_fft=2048``, ``hop_length=512``, centred).
    n_samples : int
        Length of the audio it should come from.

    Returns
    -------
    np.ndarray [shape=(1025, frames)]

    Raises
    ------
    ParameterError
        If the shape does not match.
    """
    arr = np.asarray(spec)
    frames = 1 + n_samples // HOP_LENGTH
    if arr.ndim != 2 or arr.shape[0] != N_FFT // 2 + 1 or abs(arr.shape[1] - frames) > 1:
        raise ParameterError(f"spec must be |stft(y, n_fft={N_FFT}, hop_length={HOP_LENGTH})| of shape "
                             f"({N_FFT // 2 + 1}, {frames}); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ParameterError("spec must hold finite magnitudes; got NaN or inf")
    return arr


def onset_envelopes(spec: np.ndarray, *, sr: int) -> Onsets:
    """The :class:`Onsets` of a magnitude spectrogram.

    Parameters
    ----------
    spec : np.ndarray [shape=(1025, frames)]
        From :func:`magnitude_spectrogram`.
    sr : int > 0
        Sample rate of the audio in Hz.

    Returns
    -------
    Onsets
        Envelopes at ``sr / 512`` frames per second.
    """
    import librosa

    fmax = min(11025.0, sr / 2)
    basis = librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=N_MELS, fmax=fmax)
    log_mel = librosa.power_to_db(basis @ (np.asarray(spec, dtype=np.float32) ** 2), ref=np.max)
    freqs = librosa.mel_frequencies(n_mels=N_MELS, fmax=fmax)
    n_low = max(2, int(np.searchsorted(freqs, KICK_MAX_HZ)))
    n_mid = int(np.searchsorted(freqs, HAT_MIN_HZ))
    n_body = int(np.searchsorted(freqs, SNARE_BODY_MAX_HZ))
    low, body, upper, high = librosa.onset.onset_strength_multi(
        S=log_mel, sr=sr, hop_length=HOP_LENGTH, channels=[0, n_low, n_body, n_mid, N_MELS], aggregate=np.mean,
        center=False)
    mid = (body * (n_body - n_low) + upper * (n_mid - n_body)) / (n_mid - n_low)
    full = (low * n_low + mid * (n_mid - n_low) + high * (N_MELS - n_mid)) / N_MELS
    beat = low / (low.std() + 1e-9) + 0.5 * full / (full.std() + 1e-9) + 0.5 * mid / (mid.std() + 1e-9)
    return Onsets(beat=beat, kick=low, snare=mid, hat=high, sharpness_db=float(np.percentile(full, 95)),
                  frame_rate=sr / HOP_LENGTH, snare_body=body)


def levels_at(env: np.ndarray, times_s: np.ndarray, *, frame_rate: float, reach: int = 2) -> np.ndarray:
    """The envelope's peak within ``reach`` frames of each time.

    Parameters
    ----------
    env : np.ndarray [shape=(frames,)]
        Onset envelope.
    times_s : np.ndarray [shape=(n,)]
        Times in seconds.
    frame_rate : float > 0
        Envelope frames per second.
    reach : int >= 0
        Frames either side searched (2 = 46 ms at 22.05 kHz).

    Returns
    -------
    np.ndarray [shape=(n,)]
    """
    from scipy.ndimage import maximum_filter1d

    peaks = maximum_filter1d(env, size=2 * reach + 1) if reach > 0 else env
    return np.interp(np.asarray(times_s) * frame_rate, np.arange(env.size, dtype=np.float64), peaks, right=0.0)


def subdivide(beats: np.ndarray, n: int) -> np.ndarray:
    """Times at ``k / n`` of each beat interval, shape ``(n_beats - 1, n)`` (column 0 = the beats).

    Parameters
    ----------
    beats : np.ndarray [shape=(n_beats,)]
        Beat times in seconds, increasing.
    n : int >= 1
        Subdivisions per beat.

    Returns
    -------
    np.ndarray [shape=(n_beats - 1, n)]
    """
    return beats[:-1, None] + np.diff(beats)[:, None] * (np.arange(n) / n)[None, :]


def metrical_profile(env: np.ndarray, beats: np.ndarray, n: int, *, frame_rate: float,
                     reach: int = 1) -> np.ndarray:
    """Mean envelope peak at each of ``n`` subdivisions of the beat, shape ``(n,)``.

    Parameters
    ----------
    env : np.ndarray [shape=(frames,)]
        Onset envelope.
    beats : np.ndarray [shape=(n_beats,)]
        Beat times in seconds (at least two).
    n : int >= 1
        Subdivisions per beat (4 = sixteenths of a quarter-note beat).
    frame_rate : float > 0
        Envelope frames per second.
    reach : int >= 0
        Frames either side searched for the peak.

    Returns
    -------
    np.ndarray [shape=(n,)]
        Entry 0 is the level on the beat, ``n // 2`` on the "and".
    """
    pos = subdivide(beats, n)
    return levels_at(env, pos.ravel(), frame_rate=frame_rate, reach=reach).reshape(pos.shape).mean(axis=0) + 1e-9
