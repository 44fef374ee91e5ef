""":class:`~workbench.train.sections.WindowFeatures` in torch, on a uniform frame grid (for whole-track models).

:meth:`WindowFeatures.transform` builds a section classifier's input from a track's frames with
cumulative sums and ``searchsorted`` over the frame times. A backbone embeds a track on a
uniform grid (frame ``i`` centred at ``t_i = offset_s + i * hop_s``), so every "frames with
times in ``[t_i + a, t_i + b]``" becomes a fixed run of neighbours ``i + ka .. i + kb`` with
``ka = ceil(a / hop_s)``, ``kb = floor(b / hop_s)``, truncated at the ends of the track: a
moving average (zero padding, divided by the moving count of real frames), which is what
:class:`TorchWindowFeatures` computes, with no data-dependent shape. The track's mean, the
medians of the ``"dj"`` group and the 90th percentiles of the ``"lead"`` group (a sort, then
numpy's linear interpolation between two ranks: :func:`percentile_rows`), the position and the
``"ends"`` group need only the frame count and the track duration, so the module traces for any
number of frames (a Core ML input of flexible length).

Groups: the embedding blocks, ``"position"``, ``"dj"`` and ``"lead"`` (from the frames
themselves, which must be ``features-v1`` frames), ``"novelty"`` and ``"ends"``. The ``"bars"``
group needs the track's downbeats (an analysis the model does not run) and is refused.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from workbench.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.train.sections.features import WindowFeatures

#: Tolerance on ``span / hop_s`` so a neighbour exactly ``span`` seconds away counts (searchsorted is inclusive).
_EPS = 1e-9


def grid_span(lo_s: float, hi_s: float, hop_s: float) -> tuple[int, int]:
    """Frame offsets ``(ka, kb)`` whose times fall in ``[t + lo_s, t + hi_s]`` on a grid of ``hop_s``.

    Parameters
    ----------
    lo_s, hi_s : float
        The span around a frame in seconds, ``lo_s <= 0 <= hi_s``.
    hop_s : float > 0
        Seconds between frames.

    Returns
    -------
    tuple of int
        ``ka <= 0 <= kb``.
    """
    if not (lo_s <= 0.0 <= hi_s) or not hop_s > 0:
        raise ParameterError(f"the span must hold its frame (lo_s <= 0 <= hi_s) and hop_s > 0; "
                             f"got lo_s={lo_s}, hi_s={hi_s}, hop_s={hop_s}")
    return math.ceil(lo_s / hop_s - _EPS), math.floor(hi_s / hop_s + _EPS)


def moving_mean(x: torch.Tensor, ones: torch.Tensor, ka: int, kb: int) -> torch.Tensor:
    """Mean of ``x[:, :, i + ka .. i + kb]`` for every ``i``, over the frames that exist (truncated at the ends).

    Parameters
    ----------
    x : torch.Tensor [shape=(1, d, n)]
        Frames along the last axis.
    ones : torch.Tensor [shape=(1, 1, n)]
        Ones (the frame count of each window is their moving sum).
    ka, kb : int
        Offsets, ``ka <= 0 <= kb``.

    Returns
    -------
    torch.Tensor [shape=(1, d, n)]
    """
    width = kb - ka + 1
    sums = F.avg_pool1d(F.pad(x, (-ka, kb)), width, stride=1)
    counts = F.avg_pool1d(F.pad(ones, (-ka, kb)), width, stride=1)
    return sums / counts


def percentile_rows(x: torch.Tensor, idx: torch.Tensor, n: torch.Tensor, q: float) -> torch.Tensor:
    """``numpy.percentile(x, q, axis=0)`` (its default linear interpolation) of each column of ``x``, traceable.

    The column is sorted and its ranks ``floor(r)`` and ``floor(r) + 1`` at ``r = q (n - 1) / 100`` are
    mixed by ``r - floor(r)``: the weight of rank ``i`` is the tent ``max(0, 1 - |i - r|)`` (a sort, a
    weighted sum over the row index: no gather at a data-dependent index, no floor that rounding at an
    integral ``r`` could tip), so it converts for a flexible number of rows. ``q = 50`` is numpy's median.

    Parameters
    ----------
    x : torch.Tensor [shape=(n, k)]
        Rows (frames) to take the percentile over.
    idx : torch.Tensor [shape=(n, 1)]
        The row index 0..n-1, float.
    n : torch.Tensor [shape=()]
        The row count, float.
    q : float
        Percentile, 0..100.

    Returns
    -------
    torch.Tensor [shape=(k,)]
    """
    s = torch.sort(x, dim=0).values
    rank = (n - 1.0) * (float(q) / 100.0)
    w = torch.clamp(1.0 - torch.abs(idx - rank), min=0.0)  # (n, 1): 1 - frac at floor(r), frac at floor(r) + 1
    return (w * s).sum(dim=0)


def _standardised(x: torch.Tensor) -> torch.Tensor:
    """Each column z-scored over the track's frames (population std, floored at 1e-6), as ``track_norm`` does."""
    centred = x - x.mean(dim=0, keepdim=True)
    return centred / torch.clamp(torch.sqrt((centred * centred).mean(dim=0, keepdim=True)), min=1e-6)


class TorchWindowFeatures(nn.Module):
    """Window features of a whole track's frames, as :meth:`WindowFeatures.transform` on a uniform grid.

    Parameters
    ----------
    spec : WindowFeatures
        The layout (its ``"bars"`` group is refused: it needs the track's downbeats).
    hop_s : float > 0
        Seconds between frames.
    offset_s : float >= 0
        Time of frame 0 (its centre): frame ``i`` is at ``offset_s + i * hop_s``.
    frame_dim : int > 0
        Size of a frame; the ``"dj"`` and ``"lead"`` groups need 202 (``features-v1`` frames).

    Raises
    ------
    ParameterError
        ``"bars"`` in the layout, ``"dj"`` or ``"lead"`` without ``features-v1`` frames, or a bad grid.
    """

    def __init__(self, spec: WindowFeatures, *, hop_s: float, offset_s: float, frame_dim: int) -> None:
        from workbench.train.sections.dj_features import FEATURES_V1_DIM

        super().__init__()
        for g in ("bars", "repeat"):
            if g in spec.extra:
                raise ParameterError(
                    f"the {g!r} feature group needs the track's downbeats (a beat analysis the model does not run), so a "
                    f"classifier over {spec.group_names()} has no audio-in track model; train it without {g!r} "
                    "(extra=('dj', 'novelty', 'ends'), the default) or export the vector-in model")
        if spec.context_bars:
            raise ParameterError(
                "context in bars (context_bars=True) needs the track's downbeats (a beat analysis the model does not "
                "run), so this layout has no audio-in track model; train with context in seconds (the default) or "
                "export the vector-in model")
        if spec.track_norm and spec.norm != "z":
            raise ParameterError(
                f"a track normalisation by {spec.norm!r} (norm={spec.norm!r}) has no audio-in track model (it sorts each "
                "column over the track); train with norm='z' (the default) or export the vector-in model")
        for g in ("dj", "lead"):
            if g in spec.extra and frame_dim != FEATURES_V1_DIM:
                raise ParameterError(f"the {g!r} feature group needs features-v1 frames ({FEATURES_V1_DIM} columns); "
                                     f"got frame_dim={frame_dim}: use the feature frontend or drop {g!r} from extra")
        if not (isinstance(hop_s, (int, float)) and hop_s > 0 and isinstance(offset_s, (int, float)) and offset_s >= 0):
            raise ParameterError(f"hop_s must be > 0 and offset_s >= 0 seconds; got hop_s={hop_s!r}, offset_s={offset_s!r}")
        self.spec, self.hop_s, self.offset_s, self.frame_dim = spec, float(hop_s), float(offset_s), int(frame_dim)
        self.context_k = [grid_span(-c, c, self.hop_s) for c in spec.context_s]

    @property
    def dim(self) -> int:
        """Length of a window's feature vector."""
        return self.spec.dim(self.frame_dim)

    def forward(self, frames: torch.Tensor, duration_s: torch.Tensor) -> torch.Tensor:
        """The features of every frame.

        Parameters
        ----------
        frames : torch.Tensor [shape=(n, frame_dim)]
            The track's frames on the grid, n >= 1.
        duration_s : torch.Tensor [shape=() or (1,)]
            Track length in seconds (position and ``"ends"``).

        Returns
        -------
        torch.Tensor [shape=(n, dim)]
            The layout of :meth:`WindowFeatures.transform`.
        """
        from workbench.train.sections.features import RAW_GROUPS

        ones = frames[:, :1] * 0.0 + 1.0  # (n, 1)
        idx = torch.cumsum(ones, dim=0) - 1.0  # (n, 1) frame index
        n = ones.sum()
        t = self.offset_s + idx * self.hop_s  # (n, 1)
        dur = torch.clamp(duration_s.reshape(1, 1), min=1e-9)
        x = frames.transpose(0, 1).unsqueeze(0)  # (1, d, n)
        ones_row = ones.transpose(0, 1).unsqueeze(0)
        blocks: list[torch.Tensor] = []
        raw: list[bool] = []  # columns already relative to the track (position, ends, lead): never standardised
        if self.spec.embedding:
            contexts = [moving_mean(x, ones_row, ka, kb)[0].transpose(0, 1) for ka, kb in self.context_k]
            blocks += [frames, *contexts]
            if self.spec.track_relative:
                mean = frames.mean(dim=0, keepdim=True)
                blocks += [c - mean for c in contexts]
            raw += [False] * len(blocks)
        if self.spec.position:
            r = torch.clamp(t / dur, 0.0, 1.0)
            blocks += [r, 4.0 * r * (1.0 - r)]
            raw += [True, True]
        for g in self.spec.extra:
            if g == "dj":
                blocks.append(self._dj(frames, ones_row, idx, n))
            elif g == "novelty":
                blocks.append(self._novelty(frames, ones_row))
            elif g == "lead":
                blocks.append(self._lead(frames, ones_row, idx, n))
            else:
                to_end = torch.clamp(dur - t, min=0.0)
                blocks.append(torch.cat([torch.clamp(t / 60.0, max=4.0), torch.clamp(to_end / 60.0, max=4.0),
                                         torch.exp(-t / 30.0), torch.exp(-to_end / 30.0)], dim=1))
            raw.append(g in RAW_GROUPS)
        if not self.spec.track_norm:
            return torch.cat(blocks, dim=1)
        return torch.cat([b if keep else _standardised(b) for b, keep in zip(blocks, raw, strict=True)], dim=1)

    def _mean(self, x: torch.Tensor, ones_row: torch.Tensor, lo_s: float, hi_s: float) -> torch.Tensor:
        ka, kb = grid_span(lo_s, hi_s, self.hop_s)
        return moving_mean(x.transpose(0, 1).unsqueeze(0), ones_row, ka, kb)[0].transpose(0, 1)

    def _dj(self, frames: torch.Tensor, ones_row: torch.Tensor, idx: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        """The ``"dj"`` group (:func:`~workbench.train.sections.dj_features.dj_block`), (n, 9)."""
        from workbench.train.sections.dj_features import _LOW_BANDS, _ONSET

        mel = frames[:, :64]
        level = mel.mean(dim=1, keepdim=True)
        low = mel[:, :_LOW_BANDS].mean(dim=1, keepdim=True) - level
        power = torch.pow(10.0, torch.clamp(mel - mel.max(dim=1, keepdim=True).values, -12.0, 0.0))
        bands = torch.arange(64, dtype=frames.dtype).reshape(1, 64)
        bright = (power * bands).sum(dim=1, keepdim=True) / power.sum(dim=1, keepdim=True) / 63.0
        raw = torch.cat([level, low, frames[:, _ONSET:_ONSET + 1], bright], dim=1)  # (n, 4)
        s = self._mean(raw, ones_row, -2.0, 2.0)
        after, before = self._mean(raw, ones_row, 0.0, 8.0), self._mean(raw, ones_row, -8.0, 0.0)
        rel = s - percentile_rows(s, idx, n, 50.0).reshape(1, 4)
        return torch.cat([s[:, 0:1], after[:, 0:1] - before[:, 0:1], rel[:, 0:1], s[:, 1:2], rel[:, 1:2],
                          s[:, 2:3], rel[:, 2:3], s[:, 3:4], after[:, 3:4] - before[:, 3:4]], dim=1)

    def _lead(self, frames: torch.Tensor, ones_row: torch.Tensor, idx: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        """The ``"lead"`` group (:func:`~workbench.train.sections.dj_features.lead_block`), (n, 1)."""
        from workbench.train.sections.dj_features import FULL_PERCENTILE, LEAD_BANDS

        mel = self._mean(frames[:, LEAD_BANDS[0]:LEAD_BANDS[1]], ones_row, -2.0, 2.0)
        full = percentile_rows(mel, idx, n, FULL_PERCENTILE).reshape(1, -1)
        return torch.clamp(full - mel, min=0.0).mean(dim=1, keepdim=True)

    def _novelty(self, frames: torch.Tensor, ones_row: torch.Tensor) -> torch.Tensor:
        """The ``"novelty"`` group (:func:`~workbench.train.sections.dj_features.novelty_block`), (n, 2)."""
        mean = frames.mean(dim=0, keepdim=True)
        std = torch.sqrt(((frames - mean) ** 2).mean(dim=0, keepdim=True))
        z = (frames - mean) / torch.clamp(std, min=1e-9)
        cols = []
        for w in (4.0, 8.0):
            a, b = self._mean(z, ones_row, -w, 0.0), self._mean(z, ones_row, 0.0, w)
            norms = torch.sqrt((a * a).sum(dim=1, keepdim=True)) * torch.sqrt((b * b).sum(dim=1, keepdim=True))
            cols.append(1.0 - (a * b).sum(dim=1, keepdim=True) / torch.clamp(norms, min=1e-9))
        return torch.cat(cols, dim=1)
