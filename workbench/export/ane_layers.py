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

import torch
from torch import nn
from torch.nn import functional as F

from workbench.errors import ParameterError
from workbench.export.ane_openl3 import (  # noqa: F401  (re-exported)
    _MEL_GAIN,
    _STFT_SCALE,
    SPEC_FLOOR,
    ANEOpenL3Frontend,
    ANEOpenL3Network,
    _batch,
    keras_to_chw_columns,
    openl3_map_hw,
)
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
            x = self.frontend(x)
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
