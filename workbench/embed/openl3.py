"""OpenL3 (marl/openl3 0.4.x) in PyTorch: the model with its weights, device and precision; audio framed and embedded.

Every variant: input representation ``linear``, ``mel128`` or ``mel256``; content type
``music`` or ``env`` (the same architecture, other weights); embedding size 6144 or 512 (only
the final max-pooling differs, so one weight file serves both).

The modules themselves (the kapre-exact spectrogram frontend and the convolutional network) are
in :mod:`workbench.embed.openl3_network`, re-exported here; this module loads weights into them,
chooses the device and precision, and frames audio. Windows are framed exactly as
``openl3.get_audio_embedding`` frames them (1 s at 48 kHz, optional half-window centring, right
zero-padding).

Weights are data, not code: Keras ``.h5`` files are read with h5py as arrays.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workbench import audio
from workbench.embed.openl3_network import (  # noqa: F401  (re-exported: the network's modules moved there)
    CONTENT_TYPES,
    EMBEDDING_SIZES,
    INPUT_REPRS,
    SAMPLE_RATE_HZ,
    WINDOW_SAMPLES,
    Frontend,
    Network,
    _check_variant,
)
from workbench.embed.openl3_weights import (  # noqa: F401  (re-exported: the weight files moved there)
    _KERAS_BNS,
    _KERAS_CONVS,
    WEIGHTS_ENV,
    WeightsError,
    _check_unfolded,
    _copy,
    _parse_name,
    find_weights,
    load_keras_h5,
    load_torchopenl3,
)
from workbench.errors import ParameterError
from workbench.validate import check_int


class OpenL3(nn.Module):
    """Frontend + network: 1-second windows at 48 kHz in, embeddings out.

    Build with :meth:`from_weights`; the input representation and content type are read from
    the file name (``openl3_audio_<repr>_<content>.h5``) as the original does, or given.
    """

    def __init__(self, input_repr: str = "mel128", content_type: str = "music", embedding_size: int = 6144) -> None:
        super().__init__()
        _check_variant(input_repr, content_type, embedding_size)
        self.input_repr, self.content_type, self.embedding_size = input_repr, content_type, embedding_size
        self.frontend = Frontend(input_repr)
        self.network = Network(input_repr, embedding_size)
        self.weights_sha256: str | None = None  # set by from_weights; None means random weights
        self.weights_path: Path | None = None
        self.autocast_dtype: torch.dtype | None = None  # the network's reduced precision; None: fp32
        self.parity: dict[str, object] | None = None  # what run_on's parity check measured, if it ran
        self.eval()

    @property
    def name(self) -> str:
        return f"openl3-{self.input_repr}-{self.content_type}-{self.embedding_size}"

    @property
    def device(self) -> torch.device:
        """The device the weights are on (see :meth:`run_on`)."""
        return next(self.parameters()).device

    @property
    def precision(self) -> str:
        """``"fp32"``, ``"bf16"`` or ``"fp16"``: what the network computes in (the frontend is always fp32)."""
        from workbench.device import precision_name

        return precision_name(self.autocast_dtype)

    def run_on(self, device: str = "auto", *, precision: str = "auto") -> OpenL3:
        """Move the model to a device and choose the network's precision; returns ``self``.

        A reduced precision runs the network under ``torch.autocast`` (the frontend's dB
        spectrogram stays fp32). With ``precision="auto"`` the reduced dtype the device would use
        (:func:`workbench.device.resolve_precision`: bf16 on a CPU with native bf16) is kept only
        if it matches fp32 on probe audio with these weights (cosine >= :data:`PARITY_MIN_COSINE`
        per window, and if it runs at all: a kernel's RuntimeError is recorded as ``parity["error"]``);
        otherwise the model stays fp32. :attr:`parity` records the check. (No int8:
        static int8 convolutions (torch.ao, x86 backend, per-channel weights) ran 2.7x fp32 but
        reached only cosine 0.9986, and any single layer in int8 already falls below 0.9999.)

        Parameters
        ----------
        device : {"auto", "cpu", "cuda", "mps"} or "cuda:<index>"
            See :func:`workbench.device.resolve_device`.
        precision : {"auto", "fp32", "bf16", "fp16"}
            See :func:`workbench.device.resolve_precision`; an explicit one is used as asked.

        Raises
        ------
        ParameterError
            An unknown or unavailable device, or a precision the device cannot run.
        """
        from workbench.device import precision_name, resolve_device, resolve_precision

        dev = resolve_device(device)
        dtype = resolve_precision(precision, dev)
        self.to(dev)
        self.autocast_dtype = dtype
        self.parity = None
        if precision == "auto" and dtype is not None:
            key = (self.weights_sha256, self.name, str(dtype), dev.type)
            cos, error = _PARITY_SEEN.get(key) if self.weights_sha256 else None, None
            if cos is None:
                try:
                    cos = self.parity_min_cosine(probe_windows(), dtype)
                except RuntimeError as e:  # a kernel this device lacks in that dtype: auto stays fp32
                    cos, error = float("nan"), f"{precision_name(dtype)} failed here: {e}"
                if self.weights_sha256 and error is None:
                    _PARITY_SEEN[key] = cos
            kept = bool(cos >= PARITY_MIN_COSINE)  # False for NaN too (an fp16 overflow)
            self.parity = {"precision": precision_name(dtype), "min_cosine": cos, "kept": kept}
            if error is not None:
                self.parity["error"] = error
            if not kept:
                self.autocast_dtype = None
        return self

    def parity_min_cosine(self, windows: np.ndarray, dtype: torch.dtype) -> float:
        """Lowest per-window cosine between this model's embeddings in ``dtype`` and in fp32.

        Parameters
        ----------
        windows : np.ndarray [shape=(n, 48000), dtype=float32]
            Audio windows at 48 kHz.
        dtype : torch.dtype
            ``torch.bfloat16`` or ``torch.float16``.
        """
        keep = self.autocast_dtype
        x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)).to(self.device)
        try:
            with torch.inference_mode():
                self.autocast_dtype = None
                ref = self(x)
                self.autocast_dtype = dtype
                low = self(x)
        finally:
            self.autocast_dtype = keep
        return float(nn.functional.cosine_similarity(ref, low, dim=1).min())

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """Embeddings of windows, in fp32 whatever the network computed in.

        Parameters
        ----------
        windows : torch.Tensor [shape=(n, 48000)]
            Mono 1-second windows at 48 kHz (see :func:`frame`), on :attr:`device`.

        Returns
        -------
        torch.Tensor [shape=(n, embedding_size), dtype=float32]
        """
        kind = windows.device.type
        with torch.autocast(kind, enabled=False):  # the dB spectrogram stays fp32 under any outer autocast
            spec = self.frontend(windows.float())
        # fp32 or the reduced dtype chosen by run_on, whatever autocast the caller has on
        with torch.autocast(kind, dtype=self.autocast_dtype or torch.float32, enabled=self.autocast_dtype is not None):
            return self.network(spec).float()

    @classmethod
    def from_weights(cls, path: str | os.PathLike[str] | None = None, *, embedding_size: int = 6144,
                     input_repr: str | None = None, content_type: str | None = None) -> OpenL3:
        """Load a published Keras ``.h5`` weight file (see :func:`find_weights` for where it is looked for).

        A torchopenl3 ``.pth`` / ``.pth.tar`` file is read too; batch norms are folded afterwards.

        Parameters
        ----------
        path : str, os.PathLike or None
            The weight file; None: search as :func:`find_weights` does.
        embedding_size : {512, 6144}
            Embedding dimension.
        input_repr : {"linear", "mel128", "mel256"} or None
            None: read from the file name.
        content_type : {"music", "env"} or None
            None: read from the file name.

        Raises
        ------
        WeightsError
            No file found, a name that does not say its variant, an unsupported file type, or
            a file that does not hold this variant's weights.
        """
        p = find_weights(path, input_repr=input_repr, content_type=content_type)
        parsed = _parse_name(p.name)
        repr_ = input_repr or (parsed[0] if parsed else None)
        content = content_type or (parsed[1] if parsed else None)
        if repr_ is None or content is None:
            raise WeightsError(f"{p}: cannot tell the input representation and content type from the name "
                               "(expected openl3_audio_<linear|mel128|mel256>_<music|env>.h5); pass them explicitly")
        model = cls(repr_, content, embedding_size)
        if p.suffix == ".h5":
            load_keras_h5(model, p)
        elif p.name.endswith((".pth", ".pth.tar")):
            load_torchopenl3(model, p)
        else:
            raise WeightsError(f"{p}: unsupported weight file type {p.suffix!r} (expected .h5, .pth or .pth.tar)")
        from workbench.fileio import file_sha256

        model.weights_sha256 = file_sha256(p)
        model.weights_path = p
        model.network.fold_batch_norm()
        return model


PARITY_MIN_COSINE = 0.9999  # a reduced precision is kept only if every window's cosine to fp32 is at least this
# (weights sha256, variant, dtype, device type) -> min cosine measured by run_on in this process
_PARITY_SEEN: dict[tuple[str, str, str, str], float] = {}


def probe_windows(n: int = 3, *, seed: int = 0) -> np.ndarray:
    """Seeded music-like windows for precision checks: harmonic tones, decaying noise bursts.

    Parameters
    ----------
    n : int >= 1
        Windows.
    seed : int
        Seed of the generator.

    Returns
    -------
    np.ndarray [shape=(n, 48000), dtype=float32]
    """
    rng = np.random.default_rng(seed)
    t = np.arange(WINDOW_SAMPLES) / SAMPLE_RATE_HZ
    out = np.empty((n, WINDOW_SAMPLES), dtype=np.float32)
    for i in range(n):
        f0 = 55.0 * 2 ** rng.uniform(0, 4)
        y = sum(rng.uniform(0.2, 1) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) for k in range(1, 8))
        onsets = rng.choice(WINDOW_SAMPLES - 4800, size=4, replace=False)
        for o in onsets:  # percussive bursts: noise under a 20 ms decay
            y[o : o + 4800] += rng.standard_normal(4800) * np.exp(-np.arange(4800) / 960)
        out[i] = 0.2 * y / np.abs(y).max()
    return out


def frame(y: np.ndarray, *, sr: int, hop_s: float = 0.1, center: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mono 48 kHz windows exactly as openl3 frames them, and their timestamps in seconds.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Audio; averaged to mono and resampled to 48 kHz.
    sr : int > 0
        Sample rate of ``y`` in Hz.
    hop_s : float in (0, 10]
        Hop between windows in seconds (openl3's ``hop_size``).
    center : bool
        Prepend half a window of zeros, so window ``i`` is centred on ``i * hop_s``.

    Returns
    -------
    windows : np.ndarray [shape=(n_windows, 48000), dtype=float32]
        A read-only view into one padded copy of the signal (no per-window copies).
    timestamps_s : np.ndarray [shape=(n_windows,)]
    """
    if not isinstance(hop_s, (int, float)) or not 0 < hop_s <= 10:
        raise ParameterError(f"hop_s must be a float in (0, 10] seconds; got {hop_s!r}")
    x = audio.validate(y, sr=sr)
    x = audio.resample(audio.to_mono(x), orig_sr=sr, target_sr=SAMPLE_RATE_HZ)
    hop = int(hop_s * SAMPLE_RATE_HZ)
    if center:
        x = np.concatenate([np.zeros(WINDOW_SAMPLES // 2, dtype=np.float32), x])
    if x.size < WINDOW_SAMPLES:
        x = np.pad(x, (0, WINDOW_SAMPLES - x.size))
    remainder = (x.size - WINDOW_SAMPLES) % hop
    if remainder:
        x = np.pad(x, (0, hop - remainder))
    n = 1 + (x.size - WINDOW_SAMPLES) // hop
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float32, copy=False), WINDOW_SAMPLES)[::hop][:n]
    return windows, np.arange(n) * float(hop_s)


def embed(y: np.ndarray, *, sr: int, model: OpenL3, hop_s: float = 0.1, center: bool = True,
          batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """OpenL3 embeddings of every window and their timestamps.

    Windows are copied and embedded ``batch_size`` at a time, so memory grows with the batch,
    not with the track (a 10-minute track at hop 0.1 s has 6,000 windows: 1.15 GB if copied).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Audio.
    sr : int > 0
        Sample rate of ``y`` in Hz.
    model : OpenL3
        The network; batches go to its device and run in its precision (see :meth:`OpenL3.run_on`).
    hop_s : float in (0, 10]
        Hop between windows in seconds.
    center : bool
        Centre window ``i`` on ``i * hop_s`` (see :func:`frame`).
    batch_size : int >= 1
        Windows embedded at a time.

    Returns
    -------
    embeddings : np.ndarray [shape=(n_windows, model.embedding_size), dtype=float32]
    timestamps_s : np.ndarray [shape=(n_windows,)]
    """
    if not isinstance(model, OpenL3):
        raise ParameterError(f"model must be an OpenL3 module; got {type(model).__name__}")
    check_int("batch_size", batch_size, min=1)
    windows, ts = frame(y, sr=sr, hop_s=hop_s, center=center)
    out = np.empty((windows.shape[0], model.embedding_size), dtype=np.float32)
    device = model.device
    with torch.inference_mode():
        for a in range(0, windows.shape[0], batch_size):
            batch = torch.from_numpy(np.array(windows[a : a + batch_size], order="C")).to(device)  # a copy
            out[a : a + batch_size] = model(batch).cpu().numpy()
    return out, ts


class OpenL3Backbone:
    """OpenL3 as an embedding backbone for :func:`workbench.embed.batch.embed_library`.

    Its ``name`` and ``settings`` (hop, centring, the weight file's sha256) key the cache, so
    embeddings from other weights or hops are never mixed up. The device and precision are not in
    the key: ``precision="auto"`` keeps a reduced precision only at cosine >= 0.9999 per window to
    fp32 (:meth:`OpenL3.run_on`), so embeddings from either are interchangeable, and a cache made on
    a GPU serves a CPU run.
    """

    def __init__(self, model: OpenL3, *, hop_s: float = 0.5, batch_size: int = 16) -> None:
        if not isinstance(model, OpenL3):
            raise ParameterError(f"model must be an OpenL3 module; got {type(model).__name__}")
        if not isinstance(hop_s, (int, float)) or not 0 < hop_s <= 10:
            raise ParameterError(f"hop_s must be a float in (0, 10] seconds; got {hop_s!r}")
        self.model, self.hop_s, self.batch_size = model, float(hop_s), batch_size

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def dim(self) -> int:
        return self.model.embedding_size

    @property
    def settings(self) -> dict[str, object]:
        return {"hop_s": self.hop_s, "center": True, "weights_sha256": self.model.weights_sha256 or "random"}

    def embed(self, y: np.ndarray, *, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame embeddings of ``y`` (see :func:`embed`).

        Parameters
        ----------
        y : np.ndarray [shape=(n,) or (channels, n)]
            Audio.
        sr : int > 0
            Sample rate in Hz.
        """
        return embed(y, sr=sr, model=self.model, hop_s=self.hop_s, batch_size=self.batch_size)
