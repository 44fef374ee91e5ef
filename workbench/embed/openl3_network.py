"""OpenL3's audio network (marl/openl3 0.4.x) as PyTorch modules: the spectrogram frontend and the convolutions.

:class:`Frontend` reproduces the original's kapre layers: periodic-Hann STFT (hop 242 samples at
48 kHz), magnitude, Slaney mel filterbank (librosa), ``10*log10`` of the magnitude relative to
each window's maximum, clipped at -80 dB. :class:`Network` is the convolutional stack from that
dB spectrogram to the embedding (6144 or 512 floats: only the final max-pooling differs), with its
batch norms folded for inference. Both are plain modules with random weights;
:class:`workbench.embed.openl3.OpenL3` puts them together, loads the published weights and runs them
(device, precision, framing), and re-exports every name here.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workbench.validate import check_choice

SAMPLE_RATE_HZ = 48000
WINDOW_SAMPLES = 48000
INPUT_REPRS = ("linear", "mel128", "mel256")
CONTENT_TYPES = ("music", "env")
EMBEDDING_SIZES = (512, 6144)
_HOP = 242
_CHANNELS = (64, 64, 128, 128, 256, 256, 512, 512)
_BN_EPS = 1e-3
# final max-pool (height, width) per input representation and embedding size
_FINAL_POOL = {
    "mel128": {6144: (4, 8), 512: (16, 24)},
    "mel256": {6144: (8, 8), 512: (32, 24)},
    "linear": {6144: (8, 8), 512: (32, 24)},
}


def _check_variant(input_repr: str, content_type: str, embedding_size: int) -> None:
    check_choice("input_repr", input_repr, INPUT_REPRS)
    check_choice("content_type", content_type, CONTENT_TYPES)
    check_choice("embedding_size", embedding_size, EMBEDDING_SIZES)


class Frontend(nn.Module):
    """Audio windows (n, 48000) at 48 kHz -> dB spectrograms (n, 1, freq, time), as kapre made them."""

    def __init__(self, input_repr: str = "mel128") -> None:
        super().__init__()
        import librosa

        _check_variant(input_repr, "music", 6144)
        self.input_repr = input_repr
        self.n_fft = 512 if input_repr == "linear" else 2048
        # mel: pad_end=True (199 frames); linear: pad_end=False (197 frames)
        self.n_frames = 199 if input_repr != "linear" else 1 + (WINDOW_SAMPLES - self.n_fft) // _HOP
        n = torch.arange(self.n_fft, dtype=torch.float64)
        self.register_buffer("window", (0.5 - 0.5 * torch.cos(2 * torch.pi * n / self.n_fft)).float())  # periodic
        if input_repr == "linear":
            self.mel = None
        else:
            n_mels = int(input_repr[3:])
            fb = librosa.filters.mel(sr=SAMPLE_RATE_HZ, n_fft=2048, n_mels=n_mels, fmin=0.0, fmax=None, htk=False,
                                     norm="slaney")
            self.register_buffer("mel", torch.from_numpy(fb.astype(np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spectrograms in dB (peak 0 dB, floor -80 dB) of 1-second windows.

        Parameters
        ----------
        x : torch.Tensor [shape=(n, samples)]
            Mono windows at 48 kHz; short ones are zero-padded.

        Returns
        -------
        torch.Tensor [shape=(n, 1, freq, time)]
        """
        needed = (self.n_frames - 1) * _HOP + self.n_fft
        if x.shape[-1] < needed:
            x = nn.functional.pad(x, (0, needed - x.shape[-1]))
        frames = x.unfold(-1, self.n_fft, _HOP)[:, : self.n_frames]  # (n, time, n_fft)
        z = torch.view_as_real(torch.fft.rfft(frames * self.window, dim=-1))  # (n, time, bins, 2)
        re, im = z[..., 0], z[..., 1]
        mag = torch.addcmul(re * re, im, im).sqrt_()  # |z|: 2-3x faster than complex abs() on the CPU
        spec = mag @ self.mel.T if self.mel is not None else mag  # (n, time, freq)
        db = 10.0 * torch.log10(torch.clamp(spec, min=1e-10))
        db = db - db.amax(dim=(1, 2), keepdim=True)
        db = torch.clamp(db, min=-80.0)
        return db.transpose(1, 2).unsqueeze(1)  # (n, 1, freq, time)


class Network(nn.Module):
    """The OpenL3 audio convolutional network, from a dB spectrogram to the embedding."""

    def __init__(self, input_repr: str = "mel128", embedding_size: int = 6144) -> None:
        super().__init__()
        _check_variant(input_repr, "music", embedding_size)
        self.bn0 = nn.BatchNorm2d(1, eps=_BN_EPS)
        convs, bns = [], []
        in_ch = 1
        for i, out_ch in enumerate(_CHANNELS):
            convs.append(nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
            if i < 7:
                bns.append(nn.BatchNorm2d(out_ch, eps=_BN_EPS))
            in_ch = out_ch
        self.convs = nn.ModuleList(convs)
        self.bns = nn.ModuleList(bns)
        self.final_pool = _FINAL_POOL[input_repr][embedding_size]
        self.folded = False
        self.fused_cpu = True  # once folded, CPU inference runs oneDNN's fused conv + ReLU (embed.openl3_fast)

    def fold_batch_norm(self) -> Network:
        """Fold each convolution's batch norm into its weights (inference only), and switch to
        channels-last memory, which this CPU's convolutions run about a third faster in.

        The input batch norm stays: 'same' padding adds zeros *after* it, so it cannot be folded
        into the first convolution. Irreversible; build a new network to train or load weights.
        """
        if self.folded:
            return self
        with torch.no_grad():
            for conv, bn in zip(self.convs[:7], self.bns, strict=True):
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                conv.weight.mul_(scale[:, None, None, None])
                conv.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
        self.bns = nn.ModuleList([nn.Identity() for _ in self.bns])
        self.to(memory_format=torch.channels_last)
        self.folded = True
        return self

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """Embeddings of spectrograms.

        Parameters
        ----------
        spec : torch.Tensor [shape=(n, 1, freq, time)]
            The :class:`Frontend`'s output.

        Returns
        -------
        torch.Tensor [shape=(n, embedding_size)]
            In the compute dtype (that of an enabled autocast, else fp32).
        """
        from workbench.embed import openl3_fast

        fused_dtype = openl3_fast.applies(self, spec)
        if fused_dtype is not None:
            return openl3_fast.forward(self, spec, fused_dtype)
        if self.folded:
            spec = spec.contiguous(memory_format=torch.channels_last)
        x = self.bn0(spec)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < 7:
                x = torch.relu(self.bns[i](x))
            if i in (1, 3, 5):
                x = nn.functional.max_pool2d(x, 2)
        x = nn.functional.max_pool2d(x, self.final_pool)
        return x.permute(0, 2, 3, 1).flatten(1)  # Keras Flatten order: (H, W, C), channel fastest
