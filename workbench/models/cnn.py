"""A compact CNN on log-mel patches that takes audio samples: the trainable backbone (``--backbone cnn``).

:class:`AudioCNN` is a plain ``torch.nn.Module``: ``forward(samples)`` takes mono float32 samples
of shape ``(batch, WINDOW_SAMPLES)`` at :data:`SAMPLE_RATE_HZ` (22,050 Hz; 66,150 samples = 3.0 s)
and returns L2-normalised embeddings ``(batch, embedding_dim)``. Its frontend (:class:`LogMel`)
is made of ops that coremltools converts and that keep their range in float16:

1. per-window gain normalisation: the window is divided by its peak (``max |x|``, at least
   :data:`PEAK_FLOOR`), so every window reaches full scale before the DFT (the level of the
   input does not matter; quiet bins keep their resolution);
2. the STFT as a ``conv1d`` with fixed DFT kernels (periodic Hann, ``n_fft`` 1024, hop 512, no
   centring: 128 frames), scaled by ``64 / sum(window)``: a full-scale sinusoid's bin has power
   1,024 and, by Parseval, a window's whole spectrum at most ~3,100 (float16 holds 65,504);
3. power -> 128 mel bands by a fixed matrix (``librosa.filters.mel``, Slaney scale, triangles of
   peak 1, built once and stored as a buffer) as a ``matmul``;
4. ``log(max(mel, POWER_FLOOR))``: a floor 70 dB below a full-scale sinusoid, a float16 normal
   number, so the log never sees a denormal or a zero. On six real-music windows 80 % of the
   bins lie above it, and the frontend in float16 (PyTorch, CPU) is at 73.8 dB PSNR to float32
   (at 15 % / 68.8 dB with Slaney-area filters and a gain of 16, the first design).

The network (:class:`MelCNN`, seed 004's starting point): input BatchNorm, three blocks of
Conv3x3 (32, 64, 128 channels) + BatchNorm + ReLU + MaxPool 2x2 over the 128 x 128 patch, the
mean over time of the last block (128 channels x 16 mel rows = 2,048 values, so the spectral
shape is kept), Linear(2048, 256) + ReLU, Dropout 0.5, Linear(256, ``embedding_dim``), L2
normalisation. It also takes flattened patches ``(batch, 128 * 128)``, the rows of a training
set (:class:`workbench.models.cnn_backbone.MelPatches` makes them).

Initial weights and dropout masks come from a seed (no global seeding). A checkpoint is plain
data (config + tensors) read back with ``torch.load(weights_only=True)``.

Converted whole by coremltools 9 (``torch.jit.trace``, ML Program, float16 compute), the model
uses conv, matmul, log, reduce_max, clip, batch_norm, max_pool, linear, ...; on the NumPy MIL
evaluator (:mod:`workbench.export.mil_eval`) it is at 72.8 dB PSNR to PyTorch on four real-music
windows (float32: 137 dB), largest float16 activation 433.
"""

from __future__ import annotations

import hashlib
import math
import os
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from workbench.errors import ParameterError
from workbench.models.cnn_frontend import (  # noqa: F401 - the CNN's input contract, re-exported
    HOP_SAMPLES,
    MAX_TEMPO_BANDS,
    N_FFT,
    N_FRAMES,
    N_MELS,
    PEAK_FLOOR,
    POWER_FLOOR,
    SAMPLE_RATE_HZ,
    SPECTRUM_GAIN,
    TEMPO_RANGE_BPM,
    WINDOW_S,
    WINDOW_SAMPLES,
    LogMel,
)
from workbench.models.cnn_rhythm import (
    FUSION_LAGS,
    RhythmFusion,
    band_mask,
    check_fusion,
    lag_kernels,
    onset_autocorrelation,
    tempo_max_lag,
)
from workbench.models.heads import CheckpointError, SeededDropout, read_weights
from workbench.validate import check_int

#: The kind written in checkpoints.
KIND = "audio_cnn"


class MelCNN(nn.Module):
    """The trainable network over log-mel patches (seed 004): conv 32/64/128, dense 256, dropout 0.5.

    Parameters
    ----------
    embedding_dim : int >= 1
        Size of the L2-normalised output (default 128).
    dropout : float in [0, 1)
        Before the last linear layer (default 0.5).
    stats : bool
        Also feed each mel band's mean and standard deviation over the patch's time (of the
        normalised input: 2 x 128 values) to the dense layer beside the convolutions' 2,048: the
        spectral statistics the feature frontend describes windows with, exact for any track
        (default False: the seed-004 network alone; the distilled CNN uses True).
    rhythm_lags : int in [0, N_FRAMES - 2]
        k >= 1: also feed the patch's rhythm to the dense layer (:meth:`rhythm`): the
        autocorrelation of its onset-strength envelope at lags 1..k frames (k = 96: up to 2.2 s,
        one 4/4 bar at 108 BPM or faster), the tempo and beat pattern a 3-s patch holds, which the
        convolutions' mean over time cannot measure (default 0: off).
    tempo_bands : int in [0, MAX_TEMPO_BANDS]
        k >= 1: also feed the maxima of that autocorrelation over k log-spaced tempo bands between
        40 and 320 BPM (:meth:`tempo`): the feature frontend's pooled tempogram (its 12 bands),
        the teacher's tempo description, on the patch's 3 s instead of its 8.9 s (default 0: off).
    """

    #: Rows per forward pass when embedding without gradients (activations of 64 patches: ~0.2 GB).
    eval_batch_size = 64

    def __init__(self, *, embedding_dim: int = 128, dropout: float = 0.5, stats: bool = False,
                 rhythm_lags: int = 0, tempo_bands: int = 0) -> None:
        super().__init__()
        self.embedding_dim = check_int("embedding_dim", embedding_dim, min=1)
        self.rhythm_lags = check_int("rhythm_lags", rhythm_lags, min=0, max=N_FRAMES - 2)
        self.tempo_bands = check_int("tempo_bands", tempo_bands, min=0, max=MAX_TEMPO_BANDS)
        self.max_lag = max(self.rhythm_lags, tempo_max_lag() if self.tempo_bands else 0)
        if self.max_lag:  # kernel k picks the envelope k frames ahead: conv1d makes the lagged copies
            self.register_buffer("lags", lag_kernels(self.max_lag))
        if self.tempo_bands:  # 0 on a band's lags, -4 elsewhere: the masked maximum (autocorrelation in [-1, 1])
            self.register_buffer("band_mask", torch.from_numpy(band_mask(self.tempo_bands, self.max_lag)))
        if not isinstance(stats, bool):
            raise ParameterError(f"stats must be True or False; got {stats!r}")
        self.stats = stats
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ParameterError(f"dropout must be a float in [0, 1); got {dropout!r}")
        self.dropout = float(dropout)
        self.input_norm = nn.BatchNorm2d(1)
        blocks: list[nn.Module] = []
        for c_in, c_out in ((1, 32), (32, 64), (64, 128)):
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                       nn.MaxPool2d(2)]
        self.blocks = nn.Sequential(*blocks)
        self.fc1 = nn.Linear(128 * (N_MELS // 8) + (2 * N_MELS if stats else 0) + self.rhythm_lags
                             + self.tempo_bands, 256)
        self.drop = SeededDropout(self.dropout)
        self.fc2 = nn.Linear(256, self.embedding_dim)

    @property
    def out_dim(self) -> int:
        """Size of the embedding."""
        return self.embedding_dim

    def hidden(self, patches: torch.Tensor) -> torch.Tensor:
        """The dense layer's activations (before dropout): what the embedding is read from.

        Parameters
        ----------
        patches : torch.Tensor [shape=(batch, N_MELS, N_FRAMES) or (batch, N_MELS * N_FRAMES)]
            Log-mel patches, flattened or not.

        Returns
        -------
        torch.Tensor [shape=(batch, 256)]
            ``relu(fc1(...))``; distillation reads the frontend's features from it (a probe used in training only).
        """
        x = self.input_norm(patches.reshape(patches.shape[0], 1, N_MELS, N_FRAMES))
        z = x
        x = self.blocks(x)
        x = torch.mean(x, dim=3).flatten(1)  # mean over time: (batch, 128 channels x 16 mel rows)
        if self.stats:  # each band's mean and standard deviation over time, beside the convolutions
            mean = torch.mean(z, dim=3, keepdim=True)
            std = torch.sqrt(torch.mean((z - mean) * (z - mean), dim=3) + 1e-6)
            x = torch.cat([x, mean.flatten(1), std.flatten(1)], dim=1)
        if self.max_lag:
            ac = self._autocorrelation(patches)
            if self.rhythm_lags:
                x = torch.cat([x, ac[:, :self.rhythm_lags]], dim=1)
            if self.tempo_bands:
                x = torch.cat([x, self._bands(ac)], dim=1)
        return F.relu(self.fc1(x))

    def rhythm(self, patches: torch.Tensor) -> torch.Tensor:
        """The patches' onset-envelope autocorrelation at lags 1..``rhythm_lags`` frames, over lag 0.

        The onset strength is librosa's on a log-mel input (the mean over bands of the positive
        frame-to-frame increase; :func:`librosa.onset.onset_strength`), less its mean over the
        patch; its autocorrelation (zeros past the patch's end, as :func:`librosa.autocorrelate`)
        is divided by its value at lag 0, so it lies in [-1, 1] at any level.

        Parameters
        ----------
        patches : torch.Tensor [shape=(batch, N_MELS, N_FRAMES) or (batch, N_MELS * N_FRAMES)]
            Log-mel patches.

        Returns
        -------
        torch.Tensor [shape=(batch, rhythm_lags)]
            Autocorrelation at lags 1, 2, ..., ``rhythm_lags`` frames (hop 512 / 22,050 Hz = 23.2 ms).
        """
        if not self.rhythm_lags:
            raise ParameterError("rhythm needs a network built with rhythm_lags >= 1; got rhythm_lags=0")
        return self._autocorrelation(patches)[:, :self.rhythm_lags]

    def tempo(self, patches: torch.Tensor) -> torch.Tensor:
        """The patches' tempo bands: the autocorrelation's maximum over each band's lags.

        As the feature frontend pools its tempogram (``workbench.embed.features._pool_tempogram``):
        ``tempo_bands`` log-spaced bands between 40 and 320 BPM, lag k frames being
        ``60 * 22050 / (512 * k)`` BPM, each band the largest value at its lags (autocorrelation of
        :meth:`rhythm`, lags up to 64 frames, 1.5 s).

        Parameters
        ----------
        patches : torch.Tensor [shape=(batch, N_MELS, N_FRAMES) or (batch, N_MELS * N_FRAMES)]
            Log-mel patches.

        Returns
        -------
        torch.Tensor [shape=(batch, tempo_bands)]
            In [-1, 1], slowest band first.
        """
        if not self.tempo_bands:
            raise ParameterError("tempo needs a network built with tempo_bands >= 1; got tempo_bands=0")
        return self._bands(self._autocorrelation(patches))

    def _bands(self, ac: torch.Tensor) -> torch.Tensor:
        """Each tempo band's maximum of ``ac`` ``(batch, max_lag)``: a masked ``reduce_max`` (exports)."""
        return torch.amax(ac.unsqueeze(1) + self.band_mask.unsqueeze(0), dim=2)

    def _autocorrelation(self, patches: torch.Tensor) -> torch.Tensor:
        """The onset envelope's autocorrelation at lags 1..``max_lag`` over lag 0 ``(batch, max_lag)``."""
        return onset_autocorrelation(patches, self.lags, max_lag=self.max_lag, n_mels=N_MELS, n_frames=N_FRAMES)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """Unit-length embeddings of log-mel patches.

        Parameters
        ----------
        patches : torch.Tensor [shape=(batch, N_MELS, N_FRAMES) or (batch, N_MELS * N_FRAMES)]
            Log-mel patches (:class:`LogMel`'s output), flattened or not.

        Returns
        -------
        torch.Tensor [shape=(batch, embedding_dim)]
        """
        x = self.fc2(self.drop(self.hidden(patches)))
        # x / |x| with a broadcast divide (F.normalize converts to a `tile` that evaluators lack)
        return x / torch.clamp(torch.sqrt(torch.sum(x * x, dim=1, keepdim=True)), min=1e-6)


class AudioCNN(nn.Module):
    """Audio in, embedding out: :class:`LogMel` then :class:`MelCNN`, one module (exports whole).

    Parameters
    ----------
    embedding_dim : int >= 1
        Size of the embedding (default 128).
    dropout : float in [0, 1)
        The network's dropout (default 0.5).
    power_floor : float > 0
        The frontend's mel power floor.
    stats : bool
        The network's band-statistics branch (:class:`MelCNN`).
    rhythm_lags : int >= 0
        The network's rhythm branch (:class:`MelCNN`; 0: off).
    tempo_bands : int >= 0
        The network's tempo bands (:class:`MelCNN`; 0: off).
    rhythm_fusion : float in [0, 10]
        w > 0: the embedding is the network's with the patch's fixed rhythm descriptor appended
        (:class:`~workbench.models.cnn_rhythm.RhythmFusion`, weight w, :data:`FUSION_LAGS` more
        values; not trained: set after training); 0: the network's alone (default).

    Attributes
    ----------
    sample_rate_hz, window_samples, window_s, hop_samples, n_mels, n_frames
        The input contract: mono float32 at 22,050 Hz, 66,150 samples (3.0 s) per window; the
        STFT hop (512 samples) and the patch size (128 mel bands x 128 frames).
    """

    kind = KIND
    sample_rate_hz = SAMPLE_RATE_HZ
    window_samples = WINDOW_SAMPLES
    window_s = WINDOW_S
    hop_samples = HOP_SAMPLES
    n_fft = N_FFT
    n_mels = N_MELS
    n_frames = N_FRAMES

    def __init__(self, *, embedding_dim: int = 128, dropout: float = 0.5, power_floor: float = POWER_FLOOR,
                 stats: bool = False, rhythm_lags: int = 0, tempo_bands: int = 0, rhythm_fusion: float = 0.0) -> None:
        super().__init__()
        self.frontend = LogMel(power_floor=power_floor)
        self.net = MelCNN(embedding_dim=embedding_dim, dropout=dropout, stats=stats, rhythm_lags=rhythm_lags,
                          tempo_bands=tempo_bands)
        self.set_rhythm_fusion(rhythm_fusion)

    def set_rhythm_fusion(self, weight: float) -> None:
        """Append the fixed rhythm descriptor with weight ``weight`` to the embedding (0: the network's alone).

        Parameters
        ----------
        weight : float in [0, 10]
            :class:`~workbench.models.cnn_rhythm.RhythmFusion`'s weight; the network is unchanged.
        """
        self.rhythm_fusion = check_fusion(weight)
        self.fusion = RhythmFusion(self.rhythm_fusion, n_mels=N_MELS, n_frames=N_FRAMES) if self.rhythm_fusion else None

    @property
    def embedding_dim(self) -> int:
        """Size of the embedding (the network's, plus :data:`FUSION_LAGS` with the rhythm fusion)."""
        return self.net.embedding_dim + (FUSION_LAGS if self.rhythm_fusion else 0)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (with ``kind``) for a checkpoint."""
        config = {"kind": KIND, "embedding_dim": self.net.embedding_dim, "dropout": self.net.dropout,
                  "power_floor": self.frontend.power_floor}
        if self.net.stats:  # older checkpoints lack the key
            config["stats"] = True
        if self.net.rhythm_lags:  # likewise
            config["rhythm_lags"] = self.net.rhythm_lags
        if self.net.tempo_bands:
            config["tempo_bands"] = self.net.tempo_bands
        if self.rhythm_fusion:
            config["rhythm_fusion"] = self.rhythm_fusion
        return config

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        """Embeddings of audio windows.

        Parameters
        ----------
        samples : torch.Tensor [shape=(batch, WINDOW_SAMPLES), dtype=float32]
            Mono samples at 22,050 Hz.

        Returns
        -------
        torch.Tensor [shape=(batch, embedding_dim)]
            Unit length; with the rhythm fusion on, a window without onsets (silence, a held tone) has length
            ``1 / sqrt(1 + w^2)`` (its rhythm part is 0: :class:`~workbench.models.cnn_rhythm.RhythmFusion`).
        """
        patches = self.frontend(samples)
        embedding = self.net(patches)
        return embedding if self.fusion is None else self.fusion(embedding, patches)

    def weights_sha256(self) -> str:
        """sha256 of the network's tensors (names and bytes, sorted) and of the rhythm fusion's weight when on."""
        h = hashlib.sha256()
        for name, t in sorted(self.net.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        if self.rhythm_fusion:  # other embeddings from the same network: another cache key (off: the old fingerprint)
            h.update(f"rhythm_fusion={self.rhythm_fusion!r}".encode())
        return h.hexdigest()


def build_cnn(*, seed: int = 0, embedding_dim: int = 128, dropout: float = 0.5, stats: bool = False,
              rhythm_lags: int = 0, tempo_bands: int = 0) -> AudioCNN:
    """A new :class:`AudioCNN` with initial weights (and dropout masks) drawn from ``seed``.

    Parameters
    ----------
    seed : int >= 0
        Seed of the initial weights; the global RNGs are not used.
    embedding_dim : int >= 1
        Size of the embedding.
    dropout : float in [0, 1)
        The network's dropout.
    stats : bool
        The band-statistics branch (:class:`MelCNN`).
    rhythm_lags : int >= 0
        The rhythm branch (:class:`MelCNN`; 0: off).
    tempo_bands : int >= 0
        The tempo bands (:class:`MelCNN`; 0: off).

    Returns
    -------
    AudioCNN
        In eval mode.
    """
    check_int("seed", seed, min=0)
    generator = torch.Generator().manual_seed(int(seed))
    model = AudioCNN(embedding_dim=embedding_dim, dropout=dropout, stats=stats, rhythm_lags=rhythm_lags,
                     tempo_bands=tempo_bands)
    for module in model.net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                fan_in = module.weight[0].numel()
                nn.init.uniform_(module.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=generator)
        elif isinstance(module, SeededDropout):
            module.generator = generator
    return model.eval()


def cnn_checkpoint(model: AudioCNN) -> dict[str, Any]:
    """Plain data (config + the network's tensors) that :func:`load_cnn` rebuilds.

    Parameters
    ----------
    model : AudioCNN
        The model (its fixed frontend is rebuilt from the config, not stored).
    """
    if not isinstance(model, AudioCNN):
        raise ParameterError(f"model must be an AudioCNN; got {type(model).__name__}")
    return {"config": model.config(), "state_dict": {k: v.detach().cpu() for k, v in model.net.state_dict().items()}}


def save_cnn(model: AudioCNN, path: str | os.PathLike[str]) -> None:
    """Write :func:`cnn_checkpoint` atomically to ``path`` (``.pt``).

    Parameters
    ----------
    model : AudioCNN
        The model.
    path : str or path
        The ``.pt`` file written.
    """
    from workbench.fileio import atomic_write

    data = cnn_checkpoint(model)
    atomic_write(path, lambda tmp: torch.save(data, tmp))


def load_cnn(path_or_data: str | os.PathLike[str] | dict[str, Any]) -> AudioCNN:
    """Rebuild an :class:`AudioCNN` from a checkpoint file (read with ``weights_only=True``) or dict.

    Parameters
    ----------
    path_or_data : str, path or dict
        A ``.pt`` file written by :func:`save_cnn`, or :func:`cnn_checkpoint`'s dict.

    Returns
    -------
    AudioCNN
        In eval mode.

    Raises
    ------
    CheckpointError
        Not a plain weights file, or not an ``audio_cnn`` checkpoint.
    """
    data = path_or_data if isinstance(path_or_data, dict) else read_weights(path_or_data)
    try:
        config = dict(data["config"])
        kind = config.pop("kind")
        state = data["state_dict"]
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"not a workbench CNN checkpoint (needs config and state_dict): {exc!r}") from exc
    if kind != KIND:
        raise CheckpointError(f"not a workbench CNN checkpoint: config.kind must be {KIND!r}; got {kind!r}")
    model = AudioCNN(**config)
    try:
        model.net.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"the CNN checkpoint's tensors do not fit its config: {str(exc).splitlines()[0]}") from exc
    return model.eval()
