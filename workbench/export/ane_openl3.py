"""The OpenL3 layers of the Neural-Engine export: the mel frontend, the convolution network, Keras' order.

Split out of :mod:`workbench.export.ane_layers` (which re-exports every name here); the fp16
care of the STFT and the final pool is described there.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.embed.openl3 import OpenL3

#: Scale of the STFT basis: |X| <= 1024 / 32 = 32 for a full-scale window.
_STFT_SCALE = 1.0 / 32.0
#: Gain of the mel filterbank: the mel spectrogram comes out 256x (48 dB) larger than openl3's,
#: at most 32 * 0.063 * 8192 = 16.3e3 (mel256), so quiet bins stay above fp16's floor. The
#: gain cancels when the dB spectrogram is made relative to its maximum.
_MEL_GAIN = 8192.0
#: Floor of the (gained) mel spectrogram before the logarithm: fp16's smallest subnormal.
SPEC_FLOOR = 2.0 ** -24
#: openl3's own floor (1e-10) on the gained spectrogram: exact, where the frontend computes in
#: float32 (the audio-in export's float32 island); below fp16's range otherwise.
EXACT_FLOOR = 1e-10 * _STFT_SCALE * _MEL_GAIN


class ANEOpenL3Frontend(nn.Module):
    """OpenL3's kapre frontend for the mel representations: ``(B, 1, 1, 48000)`` -> dB ``(B, 1, n_mels, 199)``.

    The periodic-Hann STFT (n_fft 2048, hop 242, end padding) is two strided 1xN convolutions
    (real and imaginary DFT basis, scaled by 1/32), the magnitude a square root, the mel
    filterbank a 1x1 convolution (gain :data:`_MEL_GAIN`), then ``10*log10`` relative to the
    window's maximum, clipped at -80 dB.
    """

    def __init__(self, frontend: nn.Module) -> None:
        super().__init__()
        if getattr(frontend, "mel", None) is None:
            raise ParameterError(f"only the mel frontends export; got input_repr={frontend.input_repr!r}")
        n_fft, hop, n_frames = frontend.n_fft, 242, frontend.n_frames
        self.pad = (n_frames - 1) * hop + n_fft - 48000
        n = np.arange(n_fft)
        k = np.arange(n_fft // 2 + 1)
        window = frontend.window.double().numpy()
        angle = 2 * np.pi * np.outer(k, n) / n_fft
        re = (np.cos(angle) * window * _STFT_SCALE).astype(np.float32)
        im = (-np.sin(angle) * window * _STFT_SCALE).astype(np.float32)
        self.stft_re = nn.Conv2d(1, k.size, kernel_size=(1, n_fft), stride=(1, hop), bias=False)
        self.stft_im = nn.Conv2d(1, k.size, kernel_size=(1, n_fft), stride=(1, hop), bias=False)
        mel = frontend.mel.detach().double() * _MEL_GAIN
        self.mel = nn.Conv2d(k.size, mel.shape[0], kernel_size=1, bias=False)
        with torch.no_grad():
            self.stft_re.weight.copy_(torch.from_numpy(re)[:, None, None, :])
            self.stft_im.weight.copy_(torch.from_numpy(im)[:, None, None, :])
            self.mel.weight.copy_(mel.float()[:, :, None, None])
        self.n_mels = int(mel.shape[0])
        self.n_frames = int(n_frames)
        #: the log's floor: :data:`SPEC_FLOOR` in fp16, :data:`EXACT_FLOOR` in a float32 island
        self.floor = SPEC_FLOOR

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The log-mel patch of each window, in dB.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, 48000)]
            1-second mono windows at 48 kHz, full scale +-1 (reshaped here to (B, 1, 1, 48000), so the
            reshape belongs to the frontend's float32 island).

        Returns
        -------
        torch.Tensor [shape=(B, 1, n_mels, 199)]
        """
        x = F.pad(x.reshape(_batch(self, x), 1, 1, 48000), (0, self.pad))
        re, im = self.stft_re(x), self.stft_im(x)
        mag = torch.sqrt(re * re + im * im)  # (B, bins, 1, T), scaled by 1/32
        spec = self.mel(mag)  # (B, n_mels, 1, T), 256x openl3's
        # 10*log10(max(S, floor)): openl3's floor 1e-10 is 2.6e-8 here (EXACT_FLOOR), below fp16's
        # smallest subnormal, so fp16 uses SPEC_FLOOR: quiet windows (peak below ~0.3) see the difference.
        db = (10.0 / math.log(10.0)) * torch.log(torch.clamp(spec, min=self.floor))
        db = db - db.amax(dim=(1, 3), keepdim=True)
        db = torch.clamp(db, min=-80.0)
        return db.reshape(_batch(self, x), 1, self.n_mels, self.n_frames)


class OpenL3Stem(nn.Module):
    """The network's input batch norm and first convolution + ReLU: ``(B, 1, n_mels, 199)`` dB -> ``(B, C, n_mels, 199)``.

    A submodule of its own (scope :data:`STEM_SCOPE`), so an export can keep it in float32 beside the
    frontend: there the dB patch (-80..0) reaches the first convolution unrounded; in fp16 its rounding
    (up to 0.03 dB) is the largest single error of the network's output.

    Parameters
    ----------
    scale, shift : torch.Tensor [shape=(1, 1, 1, 1)]
        The folded input batch norm.
    conv : torch.nn.Conv2d
        The first convolution (its batch norm folded).
    """

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor, conv: nn.Conv2d) -> None:
        super().__init__()
        self.register_buffer("in_scale", scale)
        self.register_buffer("in_shift", shift)
        self.conv = conv

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """The first layer's activations.

        Parameters
        ----------
        spec : torch.Tensor [shape=(B, 1, n_mels, 199)]

        Returns
        -------
        torch.Tensor [shape=(B, C, n_mels, 199)]
        """
        return torch.relu(self.conv(spec * self.in_scale + self.in_shift))


#: Scope of :class:`OpenL3Stem` inside the exported network.
STEM_SCOPE = "stem"


class ANEOpenL3Network(nn.Module):
    """OpenL3's convolutional network with batch norms folded, final pooling as reshapes + reduce_max.

    Returns the embedding in (C, H, W) flatten order as ``(B, D, 1, 1)``; use
    :func:`keras_to_chw_columns` on the next layer's weights to match Keras' (H, W, C) order.
    The input batch norm and first convolution are the submodule ``stem`` (:class:`OpenL3Stem`),
    the other seven convolutions ``convs``.
    """

    def __init__(self, network: nn.Module, *, map_hw: tuple[int, int]) -> None:
        super().__init__()
        bn0 = network.bn0
        scale0 = (bn0.weight / torch.sqrt(bn0.running_var + bn0.eps)).detach()
        convs = []
        for i, conv in enumerate(network.convs):
            new = nn.Conv2d(conv.in_channels, conv.out_channels, kernel_size=3, padding=1)
            w, b = conv.weight.detach().clone(), conv.bias.detach().clone()
            if i < 7 and not network.folded:
                bn = network.bns[i]
                s = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
                w = w * s[:, None, None, None]
                b = (b - bn.running_mean) * s + bn.bias.detach()
            with torch.no_grad():
                new.weight.copy_(w.contiguous())
                new.bias.copy_(b)
            convs.append(new)
        self.stem = OpenL3Stem(scale0.reshape(1, 1, 1, 1).clone(),
                               (bn0.bias - bn0.running_mean * scale0).detach().reshape(1, 1, 1, 1).clone(), convs[0])
        self.convs = nn.ModuleList(convs[1:])
        self.final_pool = tuple(network.final_pool)
        self.map_hw = map_hw
        ph, pw = self.final_pool
        h, w_ = map_hw
        if h % ph or w_ % pw:
            raise ParameterError(f"final pool {self.final_pool} does not divide the map {map_hw}")
        self.out_hw = (h // ph, w_ // pw)
        self.channels = convs[-1].out_channels

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """The OpenL3 embedding of each log-mel patch, as channels.

        Parameters
        ----------
        spec : torch.Tensor [shape=(B, 1, n_mels, 199)]
            Log-mel patches in dB.

        Returns
        -------
        torch.Tensor [shape=(B, embedding_size, 1, 1)]
        """
        x = self.stem(spec)
        for i, conv in enumerate(self.convs, start=1):
            x = conv(x)
            if i < 7:
                x = torch.relu(x)
            if i in (1, 3, 5):
                x = F.max_pool2d(x, 2)
        b, c = _batch(self, x), self.channels
        (ph, pw), (_, w) = self.final_pool, self.map_hw
        nh, nw = self.out_hw
        x = x.reshape(b, c * nh, ph, w).amax(dim=2, keepdim=True)  # pool rows
        x = x.reshape(b, c * nh, nw, pw).amax(dim=3, keepdim=True)  # pool columns
        return x.reshape(b, c * nh * nw, 1, 1)


def _batch(module: nn.Module, x: torch.Tensor) -> int:
    """The batch size as a Python int: the module's static ``batch`` while tracing (so the traced
    program has constant shapes), else the tensor's."""
    return int(getattr(module, "batch", 1)) if torch.jit.is_tracing() else int(x.shape[0])


def keras_to_chw_columns(weight: torch.Tensor, *, channels: int, hw: tuple[int, int]) -> torch.Tensor:
    """Reorder a layer's input columns from Keras' (H, W, C) flatten order to (C, H, W).

    Parameters
    ----------
    weight : torch.Tensor [shape=(out, channels * h * w)]
        A linear layer's weight whose inputs were flattened by Keras.
    channels : int > 0
    hw : (int, int)
        Height and width of the flattened map.

    Returns
    -------
    torch.Tensor [shape=(out, channels * h * w)]

    Raises
    ------
    ParameterError
        ``weight`` does not have ``channels * h * w`` columns.
    """
    h, w = hw
    out = weight.shape[0]
    if weight.shape[1] != channels * h * w:
        raise ParameterError(f"weight has {weight.shape[1]} input columns; expected {channels}x{h}x{w}")
    return weight.detach().reshape(out, h, w, channels).permute(0, 3, 1, 2).reshape(out, -1).contiguous()


def openl3_map_hw(openl3: OpenL3) -> tuple[int, int]:
    """Height and width of OpenL3's last convolution map (before the final pool).

    Parameters
    ----------
    openl3 : OpenL3

    Returns
    -------
    (int, int)
        The frequency and time sizes after three halvings.
    """
    n_freq = int(openl3.input_repr[3:]) if openl3.input_repr != "linear" else 257
    n_time = openl3.frontend.n_frames
    for _ in range(3):
        n_freq, n_time = n_freq // 2, n_time // 2
    return n_freq, n_time
