"""The labeler's audio: a track decoded for display and playback, its mel spectrogram, WAV bytes.

Written out with numpy, soundfile and soxr (no librosa) so that a widget opens a track in under a
second: librosa's first call compiles for seconds. :mod:`workbench.widgets.trackview` draws with
these and re-exports them.
"""

from __future__ import annotations

import io
import os

import numpy as np

#: Sample rate (Hz) the labeler decodes tracks at, for the picture and for playback.
DISPLAY_SR = 22050


def load_display_audio(path: str | os.PathLike[str], *, sr: int = DISPLAY_SR) -> tuple[np.ndarray, int]:
    """Decode a track to mono float32 at ``sr`` Hz (for the picture and for playback).

    A lighter path than :func:`workbench.audio.load` (no validation pass, channels mixed in
    place, soxr's medium quality): the track was checked when it was scanned and analysed, and
    this runs each time a track is shown. Anything unusual falls back to ``audio.load``, which
    raises the library's errors.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    sr : int > 0
        Sample rate to decode at, in Hz.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
    sr : int
        The sample rate of ``y`` in Hz.

    Raises
    ------
    AudioError
        From :func:`workbench.audio.load`, when the file cannot be decoded.
    """
    import soundfile as sf
    import soxr

    from workbench import audio

    try:
        data, native_sr = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    except Exception:  # noqa: BLE001 - audio.load raises the proper AudioError below
        return audio.load(path, sr=sr, mono=True)
    if data.shape[0] == 0:
        return audio.load(path, sr=sr, mono=True)
    y = data[:, 0].copy()
    for c in range(1, data.shape[1]):
        y += data[:, c]
    y *= 1.0 / data.shape[1]
    if native_sr != sr:
        y = soxr.resample(y, native_sr, sr, quality="MQ").astype(np.float32, copy=False)
    return y, sr


def mel_filterbank(*, sr: int, n_fft: int, n_mels: int = 80, fmin_hz: float = 30.0,
                   fmax_hz: float | None = None) -> np.ndarray:
    """Triangular mel filters (HTK mel scale), shape (n_mels, n_fft // 2 + 1), float32.

    Written out here (a few lines) because librosa's first call compiles for seconds, which a
    widget that must open a track in under a second cannot afford.

    Parameters
    ----------
    sr : int > 0
        Sample rate in Hz.
    n_fft : int > 0
        FFT size in samples.
    n_mels : int > 0
        Number of mel bands.
    fmin_hz : float >= 0
        Lowest band edge in Hz.
    fmax_hz : float or None
        Highest band edge in Hz (capped at ``sr / 2``); None means ``sr / 2``.

    Returns
    -------
    np.ndarray [shape=(n_mels, n_fft // 2 + 1), dtype=float32]
    """
    fmax = sr / 2 if fmax_hz is None else min(fmax_hz, sr / 2)
    pts = 700.0 * (10 ** (np.linspace(_hz_to_mel(fmin_hz), _hz_to_mel(fmax), n_mels + 2) / 2595.0) - 1)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    lo, mid, hi = pts[:-2, None], pts[1:-1, None], pts[2:, None]
    return np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid))).astype(np.float32)


def mel_band_position(f_hz: float, *, sr: int, n_mels: int = 80, fmin_hz: float = 30.0) -> float:
    """Where frequency ``f_hz`` sits on the band axis of :func:`mel_db` drawn with bands 0..n_mels
    (band ``b`` spans ``b`` to ``b + 1``): for frequency ticks in Hz on a mel spectrogram.

    Parameters
    ----------
    f_hz : float >= 0
        A frequency in Hz.
    sr : int > 0
        Sample rate in Hz (the top band ends at ``sr / 2``).
    n_mels : int > 0
        Number of mel bands, as given to :func:`mel_db`.
    fmin_hz : float >= 0
        Lowest band edge in Hz, as :func:`mel_filterbank`'s.

    Returns
    -------
    float
        The position on the band axis (band centres at ``b + 0.5``).
    """
    lo, hi = _hz_to_mel(fmin_hz), _hz_to_mel(sr / 2)
    return (_hz_to_mel(f_hz) - lo) / (hi - lo) * (n_mels + 1) - 0.5


def _hz_to_mel(f_hz: float) -> float:
    return float(2595.0 * np.log10(1.0 + f_hz / 700.0))


def mel_db(y: np.ndarray, *, sr: int, hop: int, n_fft: int = 2048, n_mels: int = 80,
           top_db: float = 80.0) -> np.ndarray:
    """Mel power spectrogram in dB, shape (n_frames, n_mels), frames every
    ``hop`` samples (centred), floored ``top_db`` below the peak.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate in Hz.
    hop : int > 0
        Hop between frames in samples.
    n_fft : int > 0
        Frame (FFT) size in samples.
    n_mels : int > 0
        Number of mel bands.
    top_db : float > 0
        Dynamic range kept below the peak, in dB.

    Returns
    -------
    np.ndarray [shape=(n_frames, n_mels)]
        Mel power in dB (``10 log10``), floored ``top_db`` below its maximum.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    padded = np.pad(np.asarray(y, dtype=np.float32), (n_fft // 2, n_fft // 2))
    frames = sliding_window_view(padded, n_fft)[::hop]
    spec = np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    mel = power.astype(np.float32) @ mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels).T
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    return np.maximum(db, db.max() - top_db)


def wav_bytes(y: np.ndarray, *, sr: int) -> bytes:
    """Mono float samples as 16-bit PCM WAV bytes (for an ``ipywidgets.Audio``).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono float samples; clipped to [-1, 1].
    sr : int > 0
        Sample rate in Hz.

    Returns
    -------
    bytes
    """
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0), int(sr), format="WAV", subtype="PCM_16")
    return buf.getvalue()
