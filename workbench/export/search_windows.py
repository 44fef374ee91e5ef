"""Search's windows inside the whole-track embedding model: one row per ``window_s`` window, as search ranks.

Search does not score the backbone's frames: it scores *windows*, the mean of the frames whose start lies
in ``[start, start + window_s)`` for a window every ``hop_s`` seconds (``window_s`` 8 s by default, the
run's ``model.pt`` ``"window_s"``; ``hop_s = window_s / 4``), through the head (and search's blend)
(:meth:`workbench.similarity.model.EmbeddingModel.windows`, :func:`~workbench.similarity.model.window_means`).
A whole-track model exported with ``search_windows=True`` does the same inside: its rows are those
windows, so an app's cosine between two rows (and the best pairs over two tracks) is search's window score.

The pooling (:class:`SearchWindows`) is exact integer arithmetic carried in float32: frame starts, window
starts and lengths in units of ``g`` samples (``g`` their greatest common divisor: 4 for the feature frontend
at 8 s / 2 s), below 2**24 for the longest input, so every frame falls in the same windows as in search's
float64 code; the number of windows comes from the input's shape (``range_1d``), so the length stays
flexible. It runs in float32 (its scope is part of the package's ``com.workbench.fp32_island``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.errors import ParameterError

#: Submodule (and float32 scope) of the pooling.
SEARCH_WINDOWS_SCOPE = "search_windows"
#: float32 holds every integer below this exactly.
_EXACT = 2 ** 24


def _samples(name: str, seconds: float, rate: int) -> int:
    """``seconds`` as a whole number of samples at ``rate`` (ParameterError when it is not one)."""
    n = round(float(seconds) * rate)
    if n <= 0 or abs(n - float(seconds) * rate) > 1e-6:
        raise ParameterError(f"{name} must be a positive whole number of samples at {rate} Hz; got {seconds!r} s")
    return int(n)


class SearchWindows(nn.Module):
    """Frame rows ``(n, d)`` -> search's window means ``(n_windows, d)``, as :func:`~workbench.similarity.model.window_means`.

    Frame ``i`` starts at ``i * frame_hop_samples``; window ``k`` holds the frames starting in
    ``[k * hop, k * hop + window)``; there are ``1 + floor((span - window) / hop)`` windows when the
    frames span more than a window (``span``: first to last frame start), else one.

    Parameters
    ----------
    frame_hop_samples : int > 0
        Samples between two frames' starts.
    sample_rate : int > 0
        Hz.
    window_s, hop_s : float > 0
        Search's window length and hop, whole numbers of samples at ``sample_rate``.
    max_samples : int > 0
        The longest input: every value of the pooling stays an exact float32 integer up to it.

    Raises
    ------
    ParameterError
        A length is not a whole number of samples, or the longest input would pass float32's exact integers.
    """

    def __init__(self, *, frame_hop_samples: int, sample_rate: int, window_s: float, hop_s: float,
                 max_samples: int) -> None:
        super().__init__()
        frame = int(frame_hop_samples)
        window, hop = _samples("window_s", window_s, sample_rate), _samples("hop_s", hop_s, sample_rate)
        g = math.gcd(math.gcd(frame, window), hop)
        self.frame, self.window, self.hop = frame // g, window // g, hop // g
        if (int(max_samples) // g) + self.window >= _EXACT:
            raise ParameterError(f"inputs up to {max_samples} samples with window_s={window_s} and hop_s={hop_s} "
                                 "pass float32's exact integers; use a shorter maximum input")
        self.window_s, self.hop_s = float(window_s), float(hop_s)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """The mean frame of each of search's windows.

        Parameters
        ----------
        frames : torch.Tensor [shape=(n, d)]

        Returns
        -------
        torch.Tensor [shape=(n_windows, d)]
        """
        start = (torch.cumsum(frames[:, 0] * 0.0 + 1.0, dim=0) - 1.0) * float(self.frame)  # (n,), exact integers
        n = torch._shape_as_tensor(frames)[0:1]
        n_windows = torch.clamp((n - 1) * self.frame - self.window, min=0) // self.hop + 1
        k0 = torch.arange(n_windows[0]).to(torch.float32) * float(self.hop)  # (n_windows,) window starts
        d = start.unsqueeze(0) - k0.unsqueeze(1)  # (n_windows, n): integers
        member = torch.clamp(d + 1.0, 0.0, 1.0) * torch.clamp(float(self.window) - d, 0.0, 1.0)  # start <= d < window
        return (member @ frames) / member.sum(dim=1, keepdim=True)


def checkpoint_window_s(head_or_checkpoint: Any) -> float:
    """Search's window length for a head: its checkpoint's ``"window_s"`` (``model.pt``), else search's default (8 s).

    Parameters
    ----------
    head_or_checkpoint : EmbeddingHead, str, path or dict
    """
    import os

    from workbench.similarity.model import DEFAULT_WINDOW_S

    data = head_or_checkpoint
    if isinstance(data, (str, os.PathLike)):
        from workbench.models.heads import read_weights

        data = read_weights(data)
    return float(data.get("window_s", DEFAULT_WINDOW_S)) if isinstance(data, dict) else float(DEFAULT_WINDOW_S)


def search_windows_module(spec: Any, window_s: float) -> SearchWindows:
    """The pooling of a whole-track model (:class:`SearchWindows`) at search's ``window_s`` and hop ``window_s / 4``.

    Parameters
    ----------
    spec : AudioSpec
        A whole-track spec (``track_range``).
    window_s : float > 0

    Raises
    ------
    ParameterError
        ``spec`` is a fixed-window model (OpenL3, the CNN): search's windows pool the frames of a whole track.
    """
    if not spec.track_range:
        raise ParameterError(f"search_windows needs a whole-track model (the feature frontend); {spec.name} takes "
                             f"{spec.window_s:g}-s windows: export it with the vector-in head model and feed it "
                             "the mean of each window's frame embeddings")
    return SearchWindows(frame_hop_samples=round(spec.hop_s * spec.sample_rate), sample_rate=spec.sample_rate,
                         window_s=window_s, hop_s=window_s / 4, max_samples=spec.track_range[1])


def pooled_reference(frames_ref: Any, *, dim: int, spec: Any, window_s: float) -> Any:
    """The float64 reference's frames pooled into search's windows: ``(k, n_samples)`` -> ``(k, n_windows * dim)``.

    Parameters
    ----------
    frames_ref : callable
        ``(k, n_samples)`` -> ``(k, n_frames * dim)`` (:func:`workbench.export.audio_track.track_reference`).
    dim : int
        The frame size.
    spec : AudioSpec
        The frame hop and rate.
    window_s : float
    """
    from workbench.similarity.model import window_means

    def run(x: np.ndarray) -> np.ndarray:
        """Search's window means of each track's frames.

        Parameters
        ----------
        x : np.ndarray [shape=(k, n_samples)]
        """
        rows = []
        for frames in np.asarray(frames_ref(x), np.float64):
            frames = frames.reshape(-1, dim)
            times = np.arange(frames.shape[0]) * (round(spec.hop_s * spec.sample_rate) / spec.sample_rate)
            rows.append(window_means(frames, times, window_s=window_s, hop_s=window_s / 4).ravel())
        return np.stack(rows)

    return run


def head_reference(rows_ref: Any, head: Any, *, dim: int) -> Any:
    """A head (float64) over the rows of ``rows_ref``: ``(k, n_samples)`` -> ``(k, n_rows * head.out_dim)``.

    Parameters
    ----------
    rows_ref : callable
        ``(k, n_samples)`` -> ``(k, n_rows * dim)``.
    head : EmbeddingHead
    dim : int
        The rows' size.
    """
    import copy

    h64 = copy.deepcopy(head).double().eval()

    def run(x: np.ndarray) -> np.ndarray:
        """The head over each track's rows.

        Parameters
        ----------
        x : np.ndarray [shape=(k, n_samples)]
        """
        out = []
        with torch.no_grad():
            for r in np.asarray(rows_ref(x), np.float64):
                out.append(h64(torch.from_numpy(r.reshape(-1, dim))).numpy().ravel())
        return np.stack(out).astype(np.float32)

    return run


def search_windows_metadata(window_s: float) -> dict[str, Any]:
    """The ``com.workbench.search_windows`` key: the windows the rows are.

    Parameters
    ----------
    window_s : float
    """
    hop = window_s / 4
    return {"window_s": float(window_s), "hop_s": float(hop), "pooling": "mean of the frames starting in the window",
            "rows": f"one per {window_s:g}-s window every {hop:g} s from the first frame (at least one), "
                    "as workbench search scores a track"}


def export_pooled(head: Any, path: Any, *, backbone: Any, window_s: float, blend: Any = None, batch: int = 1,
                  metadata: dict[str, Any] | None = None, windows: np.ndarray | None = None, **kw: Any) -> Any:
    """The whole-track embedding model whose rows are search's windows (``samples (1, n)`` -> ``(n_windows, out)``).

    As :func:`workbench.export.audio_in.export_audio_embedding` (output ``embedding_256``, or
    ``embedding_blend`` with search's blend), with :class:`SearchWindows` between the frames and the head.

    Parameters
    ----------
    head : EmbeddingHead
    path : str or path
    backbone : str, FeatureFrontend or FeaturesModule
        A whole-track backbone.
    window_s : float > 0
        Search's window (the run's ``window_s``); the hop is ``window_s / 4``.
    blend : Blend or None
    batch : int
        Must be 1 (one whole track per prediction).
    metadata : dict or None
    windows : np.ndarray [shape=(k, n_samples)] or None
        Whole-track excerpts for the parity check.
    **kw
        See :func:`workbench.export.audio_in.export_backbone`.

    Returns
    -------
    ExportResult

    Raises
    ------
    ParameterError
        ``backbone`` takes fixed windows, ``batch`` is not 1, or ``window_s`` is not a whole number of samples.
    """
    from workbench.export import audio_in, audio_track
    from workbench.export.ane_audio import TrackAudio
    from workbench.export.ane_layers import ANEHead
    from workbench.export.coreml_finish import _head_metadata
    from workbench.export.search_blend import BLEND_OUTPUT, BLEND_SCOPES, blended_parts, maybe_blended

    spec = audio_in.audio_spec(backbone)
    pool = search_windows_module(spec, window_s)
    if batch != 1:
        raise ParameterError(f"batch must be 1 for the whole-track model of {spec.name}; got {batch!r}")
    said = search_windows_metadata(window_s)
    meta = _head_metadata(head, "embedding", metadata, f"Embedding model: {spec.name} and the trained head, from a "
                          f"whole mono track to one {head.out_dim}-d L2-normalised embedding per search window "
                          f"({said['rows']}).")
    meta.update(audio_in.backbone_metadata(backbone), standardisation=audio_track.STANDARDISATION, search_windows=said)
    pooled = pooled_reference(audio_in.reference(backbone), dim=spec.dim, spec=spec, window_s=window_s)
    module = TrackAudio(audio_in.audio_module(backbone), maybe_blended(ANEHead(head), blend), pool=pool).eval()
    rows = f"one row per search window ({said['rows']})"
    if blend is None:
        out, scopes = "embedding_256", (SEARCH_WINDOWS_SCOPE,)
        desc = {out: f"{head.out_dim}-d embedding of each search window, unit L2 norm; {rows}"}
        ref = head_reference(pooled, head, dim=spec.dim)
    else:
        parts = blended_parts(backbone, head, blend, pooled, meta=meta, what=f"{spec.name} and the trained head",
                              row=f"a whole mono track ({rows})")
        out, scopes, ref = BLEND_OUTPUT, (SEARCH_WINDOWS_SCOPE, *BLEND_SCOPES), parts["reference"]
        desc = {out: f"{parts['output_desc'][out]}; {rows}"}
    return audio_in._export(module, spec, path, model_type="embedding", batch=1, output_name=out, output_desc=desc,
                            labels=None, meta=meta, reference_fn=ref, windows=windows, extra_fp32_scopes=scopes, **kw)
