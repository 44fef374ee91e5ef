"""The one spectrogram every production feature reads: mid signal at 22.05 kHz, 93 ms window, 11.6 ms hop."""

from __future__ import annotations

import numpy as np

SR = 22050
_N_FFT, _HOP = 2048, 256  # 93 ms window, 11.6 ms hop


def _stft(x: np.ndarray) -> np.ndarray:
    import librosa

    return np.abs(librosa.stft(np.ascontiguousarray(x, dtype=np.float32), n_fft=_N_FFT, hop_length=_HOP))


def _band(spec: np.ndarray, lo: float, hi: float) -> np.ndarray:
    freqs = np.fft.rfftfreq(_N_FFT, 1 / SR)
    return spec[(freqs >= lo) & (freqs < hi)]


def _frames_at(times: np.ndarray, n_frames: int) -> np.ndarray:
    return np.clip(np.round(np.asarray(times) * SR / _HOP).astype(int), 0, n_frames - 1)
