"""Neural-Engine-friendly re-implementations of the workbench's models, for Core ML export.

Every module here works on the channels-first layout ``(B, C, 1, S)`` that Apple's guidance
for the Neural Engine asks for (apple/ml-ane-transformers): ``nn.Linear`` becomes a 1x1
``nn.Conv2d``, LayerNorm runs over axis 1, and nothing needs more than rank 4. They are built
*from* the trained PyTorch modules (:mod:`workbench.models.heads`, :mod:`workbench.embed.openl3`)
by copying weights; :func:`build_head` and friends return modules whose outputs equal the
originals' (to float32 round-off; ``tests/test_export.py`` proves it).

fp16 care, by construction:

- :class:`ANELayerNorm` and :class:`ANEL2Norm` divide by the largest magnitude before squaring,
  so a sum of squares never exceeds the channel count (fp16 tops out at 65504), and every
  epsilon is one fp16 holds as a normal number (>= 6.1e-5) or is scaled to stay exact.
- The OpenL3 STFT is a strided convolution whose DFT basis is scaled by 1/32 (|X| <= 32 for a
  full-scale signal), so magnitudes and their squares stay in range.
- OpenL3's final max-pool (kernel up to 16x24, stride > 2: off the Neural Engine) is two
  reshapes and two ``reduce_max``; Keras' (H, W, C) flatten order is folded into the head's
  first weights, so no transpose is needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workbench.errors import ParameterError
from workbench.validate import check_int

if TYPE_CHECKING:
    from workbench.embed.openl3 import OpenL3
    from workbench.models.heads import EmbeddingHead, SectionClassifier

#: Smallest positive normal fp16 number; epsilons below it lose precision in fp16.
FP16_TINY = 6.103515625e-05
#: Largest finite fp16 number.
FP16_MAX = 65504.0
#: Epsilon of the L2 normalisation (fp16 normal).
L2_EPS = 1e-4
#: Lower bound of the LayerNorm pre-scale (keeps 1/scale**2 below fp16's maximum).
_LN_MIN_SCALE = 1e-2
#: Scale of the STFT basis: |X| <= 1024 / 32 = 32 for a full-scale window.
_STFT_SCALE = 1.0 / 32.0
#: Gain of the mel filterbank: the mel spectrogram comes out 256x (48 dB) larger than openl3's,
#: at most 32 * 0.063 * 8192 = 16.3e3 (mel256), so quiet bins stay above fp16's floor. The
#: gain cancels when the dB spectrogram is made relative to its maximum.
_MEL_GAIN = 8192.0
#: Floor of the (gained) mel spectrogram before the logarithm: fp16's smallest subnormal.
SPEC_FLOOR = 2.0 ** -24


class ANELinear(nn.Module):
    """``nn.Linear`` as a 1x1 convolution over ``(B, C_in, 1, S)`` -> ``(B, C_out, 1, S)``."""

    def __init__(self, linear: nn.Linear, *, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        w = (linear.weight if weight is None else weight).detach().clone()
        self.conv = nn.Conv2d(w.shape[1], w.shape[0], kernel_size=1, bias=linear.bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(w[:, :, None, None])
            if linear.bias is not None:
                self.conv.bias.copy_(linear.bias.detach())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The 1x1 convolution.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, C_in, 1, S)]

        Returns
        -------
        torch.Tensor [shape=(B, C_out, 1, S)]
        """
        return self.conv(x)


class ANELayerNorm(nn.Module):
    """LayerNorm over axis 1 of ``(B, C, 1, S)``, overflow-safe in fp16.

    Equal to ``nn.LayerNorm(C)`` applied per position: with ``xc = x - mean`` and any scale
    ``c > 0``, ``xc / sqrt(var + eps) == (xc/c) / sqrt(var/c**2 + eps/c**2)``. Taking
    ``c = max(max|xc|, 0.01)`` keeps every square below 1 and ``eps/c**2`` representable
    (computed as ``(sqrt(eps)/c)**2``, so no constant is an fp16 subnormal).
    """

    def __init__(self, norm: nn.LayerNorm) -> None:
        super().__init__()
        if len(norm.normalized_shape) != 1:
            raise ParameterError(f"only 1-D LayerNorm is supported; got normalized_shape={norm.normalized_shape}")
        self.eps = float(norm.eps)
        self.sqrt_eps = math.sqrt(self.eps)  # 1e-5 is an fp16 subnormal; its root (3.2e-3) is not
        c = norm.normalized_shape[0]
        w = norm.weight.detach() if norm.weight is not None else torch.ones(c)
        b = norm.bias.detach() if norm.bias is not None else torch.zeros(c)
        self.register_buffer("weight", w.clone().reshape(1, c, 1, 1))
        self.register_buffer("bias", b.clone().reshape(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise over axis 1.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, C, 1, S)]

        Returns
        -------
        torch.Tensor [shape=(B, C, 1, S)]
        """
        xc = x - x.mean(dim=1, keepdim=True)
        scale = torch.clamp(xc.abs().amax(dim=1, keepdim=True), min=_LN_MIN_SCALE)
        z = xc / scale
        e = self.sqrt_eps / scale  # <= 0.32: e*e == eps / scale**2 stays in range
        var = (z * z).mean(dim=1, keepdim=True)
        # scale before the division: a mul then add of per-channel constants would be fused by the
        # converter into a batch_norm with epsilon 1e-5 (an fp16 subnormal)
        return (z * self.weight) / torch.sqrt(var + e * e) + self.bias


class ANEL2Norm(nn.Module):
    """L2 normalisation over axis 1, fp16-safe: ``x / ||x||`` computed as ``y / ||y||`` with ``y = x / max|x|``.

    Equal to ``F.normalize(x, dim=1, eps=1e-6)`` whenever ``max|x| >= 1e-4`` (the epsilon
    :data:`L2_EPS`, an fp16 normal); the sum of squares of ``y`` is at most the channel count.
    """

    def __init__(self, eps: float = L2_EPS) -> None:
        super().__init__()
        if not FP16_TINY <= eps < 1:
            raise ParameterError(f"eps must be in [{FP16_TINY}, 1) so fp16 holds it; got {eps!r}")
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Unit L2 norm over axis 1.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, C, ...)]

        Returns
        -------
        torch.Tensor [shape=(B, C, ...)]
        """
        y = x / torch.clamp(x.abs().amax(dim=1, keepdim=True), min=self.eps)
        return y / torch.sqrt(torch.clamp((y * y).sum(dim=1, keepdim=True), min=self.eps))


class ANEHead(nn.Module):
    """An :class:`~workbench.models.heads.EmbeddingHead` or ``SectionClassifier`` in (B, C, 1, S) layout.

    Takes ``(B, C_in, 1, S)``; returns ``(B, C_out, 1, S)``: the L2-normalised embedding, or the
    class probabilities (softmax over axis 1) when ``probabilities`` is true for a classifier.
    Dropout is dropped (inference). ``fc1_weight`` replaces the first layer's weights (used to
    fold a permutation of the input features in).
    """

    def __init__(self, head: nn.Module, *, probabilities: bool = True,
                 fc1_weight: torch.Tensor | None = None) -> None:
        super().__init__()
        from workbench.models.heads import EmbeddingHead, SectionClassifier

        if not isinstance(head, (EmbeddingHead, SectionClassifier)):
            raise ParameterError(f"head must be an EmbeddingHead or SectionClassifier; got {type(head).__name__}")
        self.kind = head.kind
        self.in_dim = head.in_dim
        self.labels: tuple[str, ...] = tuple(getattr(head, "labels", ()))
        self.out_dim = len(self.labels) if self.labels else head.out_dim
        self.fc1 = ANELinear(head.fc1, weight=fc1_weight)
        self.norm = ANELayerNorm(head.norm)
        self.fc2 = ANELinear(head.fc2)
        self.l2 = ANEL2Norm() if self.kind == "embedding_head" else None
        self.probabilities = bool(probabilities) and self.kind == "section_classifier"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The head's output in the same layout.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, in_dim, 1, S)]

        Returns
        -------
        torch.Tensor [shape=(B, out_dim, 1, S)]
        """
        h = F.gelu(self.norm(self.fc1(x)))
        out = self.fc2(h)
        if self.l2 is not None:
            return self.l2(out)
        return torch.softmax(out, dim=1) if self.probabilities else out


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The log-mel patch of each window, in dB.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, 1, 1, 48000)]
            1-second mono windows at 48 kHz, full scale +-1.

        Returns
        -------
        torch.Tensor [shape=(B, 1, n_mels, 199)]
        """
        x = F.pad(x, (0, self.pad))
        re, im = self.stft_re(x), self.stft_im(x)
        mag = torch.sqrt(re * re + im * im)  # (B, bins, 1, T), scaled by 1/32
        spec = self.mel(mag)  # (B, n_mels, 1, T), 256x openl3's
        # 10*log10(max(S, floor)): openl3's floor 1e-10 is 2.6e-8 here, below fp16's smallest
        # subnormal; only windows whose peak is 80 dB below ~0.02 see the difference.
        db = (10.0 / math.log(10.0)) * torch.log(torch.clamp(spec, min=SPEC_FLOOR))
        db = db - db.amax(dim=(1, 3), keepdim=True)
        db = torch.clamp(db, min=-80.0)
        return db.reshape(_batch(self, x), 1, self.n_mels, self.n_frames)


class ANEOpenL3Network(nn.Module):
    """OpenL3's convolutional network with batch norms folded, final pooling as reshapes + reduce_max.

    Returns the embedding in (C, H, W) flatten order as ``(B, D, 1, 1)``; use
    :func:`keras_to_chw_columns` on the next layer's weights to match Keras' (H, W, C) order.
    """

    def __init__(self, network: nn.Module, *, map_hw: tuple[int, int]) -> None:
        super().__init__()
        bn0 = network.bn0
        scale0 = (bn0.weight / torch.sqrt(bn0.running_var + bn0.eps)).detach()
        self.register_buffer("in_scale", scale0.reshape(1, 1, 1, 1).clone())
        self.register_buffer("in_shift", (bn0.bias - bn0.running_mean * scale0).detach().reshape(1, 1, 1, 1).clone())
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
        self.convs = nn.ModuleList(convs)
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
        x = spec * self.in_scale + self.in_shift
        for i, conv in enumerate(self.convs):
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


class ANEModel(nn.Module):
    """An exportable model: flat input -> [frontend] -> [network] -> head -> flat output.

    Inputs: ``(B, D)`` vectors (head only), ``(B, 48000)`` samples, or ``(B, 1, n_mels, 199)``
    log-mel patches. Output ``(B, out_dim)``. The only reshapes are at the two ends.
    """

    def __init__(self, head: ANEHead, *, network: ANEOpenL3Network | None = None,
                 frontend: ANEOpenL3Frontend | None = None) -> None:
        super().__init__()
        self.head, self.network, self.frontend = head, network, frontend
        self.set_batch(1)

    def set_batch(self, batch: int) -> ANEModel:
        """The static batch size a traced (exported) program gets.

        Parameters
        ----------
        batch : int >= 1

        Returns
        -------
        ANEModel
            ``self``.
        """
        check_int("batch", batch, min=1)
        for m in (self, self.network, self.frontend):
            if m is not None:
                m.batch = batch
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model on a batch of flat inputs.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, D), (B, 48000) or (B, 1, n_mels, 199)]
            Pooled vectors (head only), samples (with the frontend), or log-mel patches.

        Returns
        -------
        torch.Tensor [shape=(B, out_dim)]
        """
        b = _batch(self, x)
        if self.frontend is not None:
            x = self.frontend(x.reshape(b, 1, 1, 48000))
        if self.network is not None:
            x = self.network(x)
        else:
            x = x.reshape(b, self.head.in_dim, 1, 1)
        return self.head(x).reshape(b, self.head.out_dim)


def build_head(head: EmbeddingHead | SectionClassifier, *, probabilities: bool = True) -> ANEModel:
    """The Neural-Engine form of a trained head: ``(B, in_dim)`` -> ``(B, out_dim)``.

    Parameters
    ----------
    head : EmbeddingHead or SectionClassifier
    probabilities : bool
        For a classifier, output softmax probabilities instead of logits.

    Returns
    -------
    ANEModel
        In eval mode.
    """
    return ANEModel(ANEHead(head, probabilities=probabilities)).eval()


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


def build_openl3(openl3: OpenL3, head: EmbeddingHead | SectionClassifier, *, input: str = "logmel", probabilities: bool = True) -> ANEModel:
    """OpenL3 (+ its frontend when ``input="samples"``) followed by ``head``, in Neural-Engine form.

    ``head.in_dim`` must equal ``openl3.embedding_size``; the head's first weights are reordered
    so the network's (C, H, W) output feeds it exactly as Keras' flatten fed the original.

    Parameters
    ----------
    openl3 : OpenL3
        A mel128 or mel256 model.
    head : EmbeddingHead or SectionClassifier
    input : {"logmel", "samples"}
        The model's input: log-mel patches, or samples with the frontend included.
    probabilities : bool
        For a classifier, output softmax probabilities instead of logits.

    Returns
    -------
    ANEModel
        In eval mode.

    Raises
    ------
    ParameterError
        ``input`` is not allowed, the sizes disagree, or ``openl3`` is the linear variant.
    """
    if input not in ("logmel", "samples"):
        raise ParameterError(f"input must be 'logmel' or 'samples'; got {input!r}")
    if head.in_dim != openl3.embedding_size:
        raise ParameterError(f"head.in_dim ({head.in_dim}) must equal the OpenL3 embedding size "
                             f"({openl3.embedding_size})")
    if openl3.input_repr == "linear":
        raise ParameterError("only the mel128/mel256 OpenL3 variants export; got input_repr='linear'")
    network = ANEOpenL3Network(openl3.network, map_hw=openl3_map_hw(openl3))
    fc1 = keras_to_chw_columns(head.fc1.weight, channels=network.channels, hw=network.out_hw)
    ane_head = ANEHead(head, probabilities=probabilities, fc1_weight=fc1)
    frontend = ANEOpenL3Frontend(openl3.frontend) if input == "samples" else None
    return ANEModel(ane_head, network=network, frontend=frontend).eval()


def reference(model: EmbeddingHead | SectionClassifier, *, probabilities: bool = True
              ) -> Callable[[torch.Tensor], torch.Tensor]:
    """The original PyTorch computation the Neural-Engine form must reproduce (for parity checks).

    ``model`` is a head; returns a callable ``(B, in_dim) -> (B, out)`` that applies softmax
    for a classifier when ``probabilities``.

    Parameters
    ----------
    model : EmbeddingHead or SectionClassifier
    probabilities : bool
        Apply softmax to a classifier's output.
    """
    def run(x: torch.Tensor) -> torch.Tensor:
        """``model`` on ``x`` (softmax for a classifier when ``probabilities``).

        Parameters
        ----------
        x : torch.Tensor [shape=(B, in_dim)]
        """
        out = model(x)
        if getattr(model, "kind", "") == "section_classifier" and probabilities:
            out = torch.softmax(out, dim=1)
        return out

    return run
