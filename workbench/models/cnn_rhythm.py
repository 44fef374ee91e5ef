"""The CNN's rhythm descriptor: its patch's onset-envelope autocorrelation, and the late fusion of it.

:class:`workbench.models.cnn.MelCNN` feeds the autocorrelation to its dense layer (``rhythm_lags``) and
pools it into tempo bands (``tempo_bands``); both are trained with the network. :class:`RhythmFusion`
instead appends the fixed, untrained descriptor to the trained network's embedding (``rhythm_fusion``
of :class:`workbench.models.cnn.AudioCNN`): for each 3-s window, ``concat(e, w * a / |a|) / sqrt(1 + w^2)``
with ``e`` the network's unit embedding and ``a`` the autocorrelation at lags 1..:data:`FUSION_LAGS`
frames, so the cosine of two windows is ``(cos(e1, e2) + w^2 cos(a1, a2)) / (1 + w^2)``. Nothing in it
is learned or fitted to a library; it is computed inside the model from its own log-mel input (conv1d,
sum, divide), so the audio-in export keeps it.

Why (``benchmarks/bench_distill_draws.py``, session 17): on hold-out draw 0 the distilled student
confuses the held-out techno pair with trance and progressive (131 vs 126-140 BPM) although the
untrained autocorrelation alone finds techno for them (precision@1 1.00): the student does not learn
the tempo from three training techno tracks; the fusion keeps it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workbench.errors import ParameterError
from workbench.models.cnn_frontend import HOP_SAMPLES, SAMPLE_RATE_HZ, TEMPO_RANGE_BPM

#: Lags (frames, hop 512 at 22,050 Hz: up to 2.2 s) of the fused rhythm descriptor.
FUSION_LAGS = 96


def lag_kernels(max_lag: int) -> torch.Tensor:
    """``(max_lag + 1, 1, max_lag + 1)`` one-hot kernels: ``conv1d`` channel k picks the envelope k frames ahead.

    Parameters
    ----------
    max_lag : int >= 1
        The longest lag, in frames.
    """
    return torch.eye(max_lag + 1).unsqueeze(1)


def onset_autocorrelation(patches: torch.Tensor, kernels: torch.Tensor, *, max_lag: int, n_mels: int,
                          n_frames: int) -> torch.Tensor:
    """The onset envelope's autocorrelation at lags 1..max_lag over its value at lag 0.

    The onset strength is librosa's on a log-mel input (the mean over bands of the positive
    frame-to-frame increase; :func:`librosa.onset.onset_strength`), less its mean over the patch; its
    autocorrelation (zeros past the patch's end, as :func:`librosa.autocorrelate`) is divided by its
    value at lag 0, so it lies in [-1, 1] at any level (0 for a patch without onsets).

    Parameters
    ----------
    patches : torch.Tensor [shape=(batch, n_mels, n_frames) or (batch, n_mels * n_frames)]
        Log-mel patches.
    kernels : torch.Tensor [shape=(max_lag + 1, 1, max_lag + 1)]
        :func:`lag_kernels`.
    max_lag : int >= 1
        The longest lag, in frames (a Python int: a traced export keeps it a constant).
    n_mels, n_frames : int
        The patch's shape.

    Returns
    -------
    torch.Tensor [shape=(batch, max_lag)]
    """
    p = patches.reshape(patches.shape[0], n_mels, n_frames)
    flux = torch.mean(F.relu(p[:, :, 1:] - p[:, :, :-1]), dim=1)  # (batch, n_frames - 1)
    env = flux - torch.mean(flux, dim=1, keepdim=True)
    shifted = F.conv1d(F.pad(env, (0, max_lag)).unsqueeze(1), kernels)  # channel k: env[t + k]
    ac = torch.sum(shifted * env.unsqueeze(1), dim=2)  # (batch, max_lag + 1)
    return ac[:, 1:] / torch.clamp(ac[:, :1], min=1e-6)


def lag_bpm(lags: np.ndarray) -> np.ndarray:
    """The tempo (BPM) of an onset-envelope lag in frames (hop 512 at 22,050 Hz), as ``librosa.tempo_frequencies``.

    Parameters
    ----------
    lags : np.ndarray
        Lags in frames (> 0).
    """
    return 60.0 * SAMPLE_RATE_HZ / (HOP_SAMPLES * lags)


def tempo_max_lag() -> int:
    """The longest lag (frames) the tempo bands read: the slowest tempo's (40 BPM: 64 frames)."""
    return int(math.floor(60.0 * SAMPLE_RATE_HZ / (HOP_SAMPLES * TEMPO_RANGE_BPM[0])))


def band_mask(n_bands: int, max_lag: int) -> np.ndarray:
    """``(n_bands, max_lag)`` float32: 0 where lag k + 1 lies in band b (``[edge_b, edge_b+1)`` BPM), -4 elsewhere.

    Parameters
    ----------
    n_bands : int >= 1
        Log-spaced tempo bands over :data:`workbench.models.cnn_frontend.TEMPO_RANGE_BPM`.
    max_lag : int >= 1
        Lags 1..max_lag frames.
    """
    bpm = lag_bpm(np.arange(1, max_lag + 1, dtype=np.float64))
    edges = np.geomspace(*TEMPO_RANGE_BPM, n_bands + 1)
    inside = (bpm[None, :] >= edges[:-1, None]) & (bpm[None, :] < edges[1:, None])
    return np.where(inside, 0.0, -4.0).astype(np.float32)


def check_fusion(weight: object) -> float:
    """``rhythm_fusion`` checked: a number in [0, 10] (0: off).

    Parameters
    ----------
    weight : float
        The fused descriptor's weight against the network's embedding.

    Raises
    ------
    ParameterError
        Not a number in [0, 10].
    """
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating)) or not 0 <= weight <= 10:
        raise ParameterError(f"rhythm_fusion must be a number in [0, 10] (0: off); got {weight!r}")
    return float(weight)


class RhythmFusion(nn.Module):
    """Append the patch's fixed rhythm descriptor, weighted, to a unit embedding; unit length out.

    Parameters
    ----------
    weight : float in (0, 10]
        ``w``: the descriptor's share of the cosine is ``w^2 / (1 + w^2)`` (1: half).
    n_mels, n_frames : int
        The patch's shape.
    """

    def __init__(self, weight: float, *, n_mels: int, n_frames: int) -> None:
        super().__init__()
        self.weight = check_fusion(weight)
        if not self.weight:
            raise ParameterError("RhythmFusion needs a weight > 0; got 0 (leave the fusion out instead)")
        self.n_mels, self.n_frames = n_mels, n_frames
        self.register_buffer("lags", lag_kernels(FUSION_LAGS))
        self.scale = 1.0 / math.sqrt(1.0 + self.weight * self.weight)

    def forward(self, embedding: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
        """``concat(embedding, w * a / |a|) / sqrt(1 + w^2)``.

        Parameters
        ----------
        embedding : torch.Tensor [shape=(batch, d)]
            Unit-length embeddings of the patches.
        patches : torch.Tensor [shape=(batch, n_mels, n_frames)]
            The log-mel patches they were computed from.

        Returns
        -------
        torch.Tensor [shape=(batch, d + FUSION_LAGS)]
            Unit length (where the patch has onsets; the embedding's part alone, scaled, where it has none).
        """
        a = onset_autocorrelation(patches, self.lags, max_lag=FUSION_LAGS, n_mels=self.n_mels, n_frames=self.n_frames)
        a = a / torch.clamp(torch.sqrt(torch.sum(a * a, dim=1, keepdim=True)), min=1e-6)
        return torch.cat([embedding * self.scale, a * (self.weight * self.scale)], dim=1)
