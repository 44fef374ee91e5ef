"""The CNN as a backbone (:class:`CNNBackbone`) and its frontend as a training set's rows (:class:`MelPatches`).

Both follow :class:`workbench.embed.batch.Backbone` (``name``, ``settings``, ``dim``, ``embed``),
so the embedding cache, search, section windows and augmented views work with them unchanged.
Audio is mixed to mono and resampled to 22,050 Hz; windows of 3.0 s start every ``hop_s``
seconds (a clip shorter than a window is zero-padded to one window).

- :class:`CNNBackbone` embeds each window with an :class:`~workbench.models.cnn.AudioCNN`; its
  name carries the weights' fingerprint, so embeddings of other weights are never mixed up.
- :class:`MelPatches` returns each window's log-mel patch, flattened (128 x 128 = 16,384 values),
  with a hop of one window: the rows the CNN is trained on end-to-end (the frontend is fixed,
  so each window's patch is computed once and cached; augmented views are patches of augmented audio).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from workbench import audio
from workbench.errors import ParameterError
from workbench.models.cnn import N_FRAMES, N_MELS, SAMPLE_RATE_HZ, WINDOW_S, WINDOW_SAMPLES, AudioCNN, LogMel


def _check_hop(hop_s: object) -> float:
    if isinstance(hop_s, bool) or not isinstance(hop_s, (int, float)) or not 0.1 <= hop_s <= 10:
        raise ParameterError(f"hop_s must be a number of seconds in [0.1, 10]; got {hop_s!r}")
    return float(hop_s)


def recorded_hop_s(backbone_info: object) -> float:
    """The CNN's hop in seconds as a run records its backbone (``run.json``: ``settings.hop_s``; 0.5 when not said).

    Parameters
    ----------
    backbone_info : mapping or None
        ``run.json``'s ``backbone`` (``{"name": ..., "settings": {"hop_s": ...}, ...}``, as
        :func:`workbench.job_records` writes it), or a registry version's copy of it.

    Returns
    -------
    float
        Seconds between window starts.
    """
    info = backbone_info if isinstance(backbone_info, Mapping) else {}
    settings = info.get("settings") if isinstance(info.get("settings"), Mapping) else {}
    return float(settings.get("hop_s", info.get("hop_s", 0.5)))


def audio_windows(y: np.ndarray, *, sr: int, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Mono 22,050 Hz windows of 3.0 s every ``hop_s`` seconds, and their start times.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Audio samples.
    sr : int > 0
        Their sample rate in Hz.
    hop_s : float in [0.1, 10]
        Seconds between window starts.

    Returns
    -------
    windows : np.ndarray [shape=(n_windows, WINDOW_SAMPLES), dtype=float32]
        Whole windows only; audio shorter than one window gives one zero-padded window.
    starts_s : np.ndarray [shape=(n_windows,)]
        Start of each window in seconds.
    """
    hop = _check_hop(hop_s)
    x = audio.validate(y, sr=sr)
    mono = np.asarray(audio.resample(audio.to_mono(x), orig_sr=sr, target_sr=SAMPLE_RATE_HZ), dtype=np.float32)
    if mono.size < WINDOW_SAMPLES:
        mono = np.pad(mono, (0, WINDOW_SAMPLES - mono.size))
    step = max(1, int(round(hop * SAMPLE_RATE_HZ)))
    starts = np.arange(0, mono.size - WINDOW_SAMPLES + 1, step)
    frames = np.lib.stride_tricks.sliding_window_view(mono, WINDOW_SAMPLES)[starts]
    return np.ascontiguousarray(frames, dtype=np.float32), starts / SAMPLE_RATE_HZ


def _batched(fn, windows: np.ndarray, *, batch_size: int, width: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    import torch

    out = []
    with torch.no_grad():
        for a in range(0, len(windows), batch_size):
            out.append(fn(torch.from_numpy(windows[a:a + batch_size])).reshape(-1, width).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, width), np.float32)


class CNNBackbone:
    """An :class:`~workbench.models.cnn.AudioCNN` as an embedding backbone.

    Parameters
    ----------
    model : AudioCNN
        The network (used in eval mode).
    hop_s : float in [0.1, 10]
        Seconds between windows (default 0.5).
    batch_size : int
        Windows per forward pass.
    trained : str
        Where the weights come from, for the run's record (e.g. ``"run <id>"`` or ``"untrained (seed 0)"``).
    """

    def __init__(self, model: AudioCNN, *, hop_s: float = 0.5, batch_size: int = 16, trained: str = "") -> None:
        if not isinstance(model, AudioCNN):
            raise ParameterError(f"model must be an AudioCNN; got {type(model).__name__}")
        self.model, self.hop_s, self.batch_size, self.trained = model.eval(), _check_hop(hop_s), batch_size, trained
        self._sha = model.weights_sha256()

    @property
    def name(self) -> str:
        """``cnn-v1-<12 hex digits of the weights' sha256>``."""
        return f"cnn-v1-{self._sha[:12]}"

    @property
    def weights_sha256(self) -> str:
        """The fingerprint of the network's weights."""
        return self._sha

    @property
    def dim(self) -> int:
        """Size of the embedding."""
        return self.model.embedding_dim

    @property
    def settings(self) -> dict[str, object]:
        """The cache key's settings: hop, window, sample rate and the weights' sha256."""
        return {"hop_s": self.hop_s, "window_s": WINDOW_S, "sample_rate_hz": SAMPLE_RATE_HZ,
                "weights_sha256": self._sha}

    def refresh(self) -> None:
        """Recompute the weights' fingerprint after the model's weights changed (training)."""
        self.model.eval()
        self._sha = self.model.weights_sha256()

    def embed(self, y: np.ndarray, *, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of every window.

        Parameters
        ----------
        y : np.ndarray [shape=(n,) or (channels, n)]
            Audio samples.
        sr : int > 0
            Sample rate in Hz.

        Returns
        -------
        embeddings : np.ndarray [shape=(n_windows, dim), dtype=float32]
            Unit length.
        timestamps_s : np.ndarray [shape=(n_windows,)]
            Start of each window in seconds.
        """
        from workbench.models.cnn_fast import student_layout

        windows, starts = audio_windows(y, sr=sr, hop_s=self.hop_s)
        self.model.eval()
        with student_layout(self.model.net):  # channels-last while it runs (~1.9x on a CPU), the default layout after
            return _batched(self.model, windows, batch_size=self.batch_size, width=self.dim), starts


class MelPatches:
    """The CNN's fixed frontend as a backbone: one flattened log-mel patch per 3.0-s window.

    Parameters
    ----------
    hop_s : float in [0.1, 10]
        Seconds between windows (default 3.0: adjacent windows, one patch per training window).
    """

    name = "cnn-logmel-v1"

    def __init__(self, *, hop_s: float = 3.0) -> None:
        self.hop_s = _check_hop(hop_s)
        self._frontend: LogMel | None = None

    @property
    def dim(self) -> int:
        """128 mel bands x 128 frames."""
        return N_MELS * N_FRAMES

    @property
    def settings(self) -> dict[str, object]:
        """The cache key's settings."""
        frontend = self._frontend if self._frontend is not None else LogMel()
        return {"hop_s": self.hop_s, "window_s": WINDOW_S, "sample_rate_hz": SAMPLE_RATE_HZ,
                "power_floor": frontend.power_floor}

    def embed(self, y: np.ndarray, *, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """Flattened log-mel patches of every window.

        Parameters
        ----------
        y : np.ndarray [shape=(n,) or (channels, n)]
            Audio samples.
        sr : int > 0
            Sample rate in Hz.

        Returns
        -------
        patches : np.ndarray [shape=(n_windows, 16384), dtype=float32]
        timestamps_s : np.ndarray [shape=(n_windows,)]
            Start of each window in seconds.
        """
        if self._frontend is None:
            self._frontend = LogMel()
        windows, starts = audio_windows(y, sr=sr, hop_s=self.hop_s)
        return _batched(self._frontend, windows, batch_size=32, width=self.dim), starts
