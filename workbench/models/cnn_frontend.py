"""The CNN's fixed frontend: mono samples -> log-mel patches, in ops that export and keep their range in float16.

:class:`LogMel` (used by :class:`workbench.models.cnn.AudioCNN`, which describes the design and its
float16 parity) and the input contract's constants: 22,050 Hz, 3.0-s windows, 1024-point STFT every
512 samples, 128 mel bands x 128 frames.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workbench.errors import ParameterError

#: The CNN's input sample rate (Hz).
SAMPLE_RATE_HZ = 22050
#: STFT size and hop (samples).
N_FFT = 1024
HOP_SAMPLES = 512
#: Mel bands and frames of one patch.
N_MELS = 128
N_FRAMES = 128
#: Samples of one input window: 3.0 s (its 128 frames use the first 1024 + 127 * 512 = 66,048).
WINDOW_SAMPLES = 66150
#: Seconds of one input window.
WINDOW_S = WINDOW_SAMPLES / SAMPLE_RATE_HZ
#: The DFT kernels' gain over ``1 / sum(window)``: a full-scale sinusoid's bin has power ``(SPECTRUM_GAIN / 2) ** 2``.
SPECTRUM_GAIN = 64.0
#: ``log`` floor of the mel power: 70 dB below a full-scale sinusoid (1,024), a float16 normal number.
POWER_FLOOR = 1e-4
#: Smallest peak a window is normalised by (quieter windows are not raised further).
PEAK_FLOOR = 1e-4
#: The tempo range the tempo bands cover (BPM), as the feature frontend's pooled tempogram.
TEMPO_RANGE_BPM = (40.0, 320.0)
#: Most tempo bands (12: the feature frontend's; up to 12 every band holds at least one whole-frame lag).
MAX_TEMPO_BANDS = 12


class LogMel(nn.Module):
    """Mono samples ``(batch, WINDOW_SAMPLES)`` -> log-mel patches ``(batch, N_MELS, N_FRAMES)``.

    Parameters
    ----------
    power_floor : float > 0
        Floor of the mel power before the log (default :data:`POWER_FLOOR`, 70 dB below a full-scale sinusoid).
    """

    def __init__(self, *, power_floor: float = POWER_FLOOR) -> None:
        super().__init__()
        import librosa

        if isinstance(power_floor, bool) or not isinstance(power_floor, (int, float)) or not power_floor > 0:
            raise ParameterError(f"power_floor must be a number > 0; got {power_floor!r}")
        self.power_floor = float(power_floor)
        n = np.arange(N_FFT)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)  # periodic Hann, as librosa's default
        k = np.arange(N_FFT // 2 + 1)[:, None]
        phase = 2 * np.pi * k * n[None, :] / N_FFT
        scale = SPECTRUM_GAIN / window.sum()
        kernels = np.concatenate([np.cos(phase), -np.sin(phase)]) * window[None, :] * scale
        self.register_buffer("dft", torch.from_numpy(kernels[:, None, :].astype(np.float32)))
        fb = librosa.filters.mel(sr=SAMPLE_RATE_HZ, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0, fmax=None, htk=False,
                                 norm=None)
        self.register_buffer("mel", torch.from_numpy(fb.astype(np.float32)))

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        """Log-mel patches of gain-normalised windows.

        Parameters
        ----------
        samples : torch.Tensor [shape=(batch, WINDOW_SAMPLES), dtype=float32]
            Mono samples at :data:`SAMPLE_RATE_HZ`, nominally in [-1, 1] (any level: each window is
            divided by its peak).

        Returns
        -------
        torch.Tensor [shape=(batch, N_MELS, N_FRAMES)]
            ``log`` of the mel power, at least ``log(power_floor)``.
        """
        peak = torch.clamp(torch.amax(torch.abs(samples), dim=1, keepdim=True), min=PEAK_FLOOR)
        x = (samples / peak).unsqueeze(1)
        spec = F.conv1d(x, self.dft, stride=HOP_SAMPLES)[:, :, :N_FRAMES]
        bins = N_FFT // 2 + 1
        re, im = spec[:, :bins], spec[:, bins:]
        power = re * re + im * im
        mel = torch.matmul(self.mel, power)
        return torch.log(torch.clamp(mel, min=self.power_floor))
