"""Search's blend inside the exported embedding model: the app's plain cosine is search's window score.

When a run's head is blended with its backbone in search (:mod:`workbench.similarity.blend`, backbone
share ``w > 0``), search ranks windows by ``w * cos(b) + (1 - w) * cos(h)``: ``b`` the backbone vector
z-scored with the blend's ``mean`` and ``std`` (the training windows', or with ``blend.backbone == "search"`` the
ones search z-scores the bare backbone with, fixed when the run was trained), ``h`` the head's output. The exported
``embedding`` model then outputs, per window, the unit vector search indexes::

    concat(sqrt(w) * unit((x - mean) / std), sqrt(1 - w) * head(x))

(``x``: the raw backbone vector of the window), whose plain cosine (dot product) with another
window's is exactly that blended score. ``w = 0`` (or no blend) keeps the head alone, as before.

The standardisation and its per-window normalisation run in float32 (the scopes
:data:`BLEND_SCOPES`, declared as part of the package's ``com.workbench.fp32_island``): a backbone
dimension whose ``|mean| / std`` is large loses its z-score to fp16's rounding of ``x - mean``. That
keeps the feature frontend's models (its frontend is float32 too) at 77-79 dB PSNR. A backbone that
itself computes in fp16 (OpenL3's network, the CNN) hands over an activation already rounded, and the
z-score multiplies that error by ``|mean| / std`` (median 4.7, up to 9.4 for OpenL3 512 on the real files):
OpenL3 512 + head with share 0.35 reached 57.8 dB (its head alone 72.6 dB; random weights,
``benchmarks/bench_export_audio.py --blend 0.35``). The largest single error was fp16's rounding of the
network's input, the dB patch (-80..0, steps up to 0.03 dB): a blended OpenL3 export keeps OpenL3's
``stem`` (input batch norm, first convolution and ReLU; 1 -> 64 channels, cheap) in float32 too, 61.3 dB
on the same 8 windows. (Measured per float32 prefix: the input batch norm alone 60.6 dB, + the second
convolution 62.0, the whole network 64.8 with 31 of 81 ops Neural-Engine eligible; the last one or two
convolutions alone changed nothing, 57.8.)
OpenL3's flattened map reaches the head in the network's (C, H, W) order (Keras flattens (H, W, C));
the backbone part keeps that order (``mean`` and ``std`` are permuted to it), a fixed permutation of
the dimensions that leaves every cosine unchanged.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from workbench.errors import ParameterError
from workbench.export.ane_layers import ANEL2Norm
from workbench.export.ane_openl3 import STEM_SCOPE

if TYPE_CHECKING:
    from workbench.similarity.blend import Blend

#: Output name of an embedding model that carries search's blend (its length is not 256).
BLEND_OUTPUT = "embedding_blend"
#: Submodule kept in float32: the backbone's standardisation and its unit normalisation.
BLEND_SCOPE = "blend_stats"
#: Submodules kept in float32 with a blend: :data:`BLEND_SCOPE` and the layout ops that bring a float32
#: backbone vector to it (``columns``: the whole-track rows, the vector input), so it is never rounded to
#: fp16 before its z-score (a dimension with ``|mean| / std`` of 100 would lose 40 dB there); and OpenL3's
#: ``stem`` (:class:`~workbench.export.ane_openl3.OpenL3Stem`: input batch norm, first convolution), whose
#: fp16 input rounding the z-score amplifies (absent from other backbones: no op matches it there).
BLEND_SCOPES = (BLEND_SCOPE, "columns", STEM_SCOPE)


def checkpoint_blend(head_or_checkpoint: Any) -> Blend | None:
    """The blend stored beside a head in its checkpoint (``model.pt``'s ``"blend"``), when it has a backbone share.

    Parameters
    ----------
    head_or_checkpoint : EmbeddingHead, str, path or dict
        A checkpoint path or dict is read (``weights_only=True``); a head object has no blend.

    Returns
    -------
    Blend or None
        None for a head object, no stored blend, or a stored share of 0 (the head alone, as search uses it).

    Raises
    ------
    ParameterError
        The stored blend is malformed.
    """
    import os

    from workbench.similarity.blend import Blend

    data = head_or_checkpoint
    if isinstance(data, (str, os.PathLike)):
        from workbench.models.heads import read_weights

        data = read_weights(data)
    found = Blend.from_checkpoint(data) if isinstance(data, dict) else None
    return found if found is not None and found.weight > 0 else None


def resolve_blend(head_or_checkpoint: Any, blend: Blend | bool | None) -> Blend | None:
    """The blend an embedding export carries: the one given, the checkpoint's (``None``), or none (``False``).

    Parameters
    ----------
    head_or_checkpoint : EmbeddingHead, str, path or dict
    blend : Blend, bool or None
        A :class:`~workbench.similarity.blend.Blend`; None reads the checkpoint's; False exports the head alone.

    Returns
    -------
    Blend or None
        None when there is no backbone share (``weight == 0``).
    """
    if blend is None or blend is True:
        return checkpoint_blend(head_or_checkpoint)
    if blend is False:
        return None
    if not hasattr(blend, "weight") or not hasattr(blend, "mean"):
        raise ParameterError(f"blend must be a workbench.similarity.blend.Blend, None or False; got {blend!r}")
    return blend if float(blend.weight) > 0 else None


def chw_permutation(dim: int, *, channels: int, hw: tuple[int, int]) -> np.ndarray:
    """Index ``p`` with ``keras[p] == chw``: Keras' (H, W, C) flatten order to the network's (C, H, W).

    Parameters
    ----------
    dim : int
        ``channels * h * w``.
    channels : int
    hw : (int, int)
        The final map's height and width.
    """
    h, w = hw
    if dim != channels * h * w:
        raise ParameterError(f"dim must be channels*h*w = {channels * h * w}; got {dim}")
    return np.arange(dim).reshape(h, w, channels).transpose(2, 0, 1).ravel()


class VectorBlend(nn.Module):
    """The vector-in embedding model with search's blend: ``(1, in_dim)`` -> ``(1, in_dim + head_dim)``.

    Parameters
    ----------
    head : ANEBlendHead
    """

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head, self.columns = head, _VectorColumns()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The blended vector.

        Parameters
        ----------
        x : torch.Tensor [shape=(1, in_dim)]

        Returns
        -------
        torch.Tensor [shape=(1, in_dim + head_dim)]
        """
        return self.head(self.columns(x)).reshape(1, int(self.head.out_dim))


class _VectorColumns(nn.Module):
    """``(1, d)`` -> ``(1, d, 1, 1)`` (its own scope, kept in float32)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The Neural-Engine layout.

        Parameters
        ----------
        x : torch.Tensor [shape=(1, d)]
        """
        return x.reshape(1, x.shape[-1], 1, 1)


class BlendStats(nn.Module):
    """``sqrt(w) * unit((x - mean) / std)`` over axis 1 of ``(B, d, 1, S)``: the backbone part of the blend.

    Parameters
    ----------
    weight : float in (0, 1]
        The backbone's share.
    mean, std : np.ndarray [shape=(d,)]
        The blend's standardisation, in the order ``x`` arrives.
    """

    def __init__(self, weight: float, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        d = int(np.asarray(mean).shape[0])
        self.register_buffer("mean", torch.from_numpy(np.asarray(mean, np.float32).reshape(1, d, 1, 1).copy()))
        self.register_buffer("inv_std", torch.from_numpy((1.0 / np.asarray(std, np.float64)).astype(np.float32)
                                                         .reshape(1, d, 1, 1)))
        self.l2 = ANEL2Norm()
        self.scale = math.sqrt(float(weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The scaled unit z-score of each window.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, d, 1, S)]
            Raw backbone vectors.

        Returns
        -------
        torch.Tensor [shape=(B, d, 1, S)]
        """
        return self.l2((x - self.mean) * self.inv_std) * self.scale


class ANEBlendHead(nn.Module):
    """A Neural-Engine embedding head (:class:`~workbench.export.ane_layers.ANEHead`) and search's blend around it.

    Takes the backbone ``(B, in_dim, 1, S)``; returns ``(B, in_dim + head_dim, 1, S)``:
    ``concat(sqrt(w) * unit(z), sqrt(1 - w) * head(x))``, a unit vector per window.

    Parameters
    ----------
    head : torch.nn.Module
        The ANE head (its output unit length), with ``in_dim`` and ``out_dim``.
    blend : Blend
        The weight ``w > 0`` and the standardisation.
    order : np.ndarray [shape=(in_dim,)] or None
        ``x``'s dimension ``i`` is the backbone's dimension ``order[i]`` (OpenL3's (C, H, W) order); None: as is.
    """

    def __init__(self, head: nn.Module, blend: Blend, *, order: np.ndarray | None = None) -> None:
        super().__init__()
        if not 0.0 < float(blend.weight) <= 1.0:
            raise ParameterError(f"a blended export needs a backbone share in (0, 1]; got {blend.weight!r}")
        if int(head.in_dim) != blend.in_dim:
            raise ParameterError(f"the blend's backbone size ({blend.in_dim}) must equal the head's input "
                                 f"({head.in_dim})")
        mean, std = np.asarray(blend.mean), np.asarray(blend.std)
        if order is not None:
            mean, std = mean[order], std[order]
        self.head, self.kind, self.labels = head, "embedding_head", ()
        self.in_dim, self.head_dim = int(head.in_dim), int(head.out_dim)
        self.out_dim = self.in_dim + self.head_dim
        self.blend_stats = BlendStats(float(blend.weight), mean, std)
        self.head_scale = math.sqrt(1.0 - float(blend.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The blended unit vector of each window.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, in_dim, 1, S)]

        Returns
        -------
        torch.Tensor [shape=(B, in_dim + head_dim, 1, S)]
        """
        return torch.cat([self.blend_stats(x), self.head(x) * self.head_scale], dim=1)


def maybe_blended(ane_head: nn.Module, blend: Blend | None) -> nn.Module:
    """``ane_head`` inside search's blend (:class:`ANEBlendHead`) when there is one, else itself.

    Parameters
    ----------
    ane_head : ANEHead
    blend : Blend or None
    """
    return ane_head if blend is None else ANEBlendHead(ane_head, blend)


def blended_reference(backbone_fn: Any, head: Any, blend: Blend, *, order: np.ndarray | None = None) -> Any:
    """Search's own blended vectors (:meth:`Blend.vectors`) of what ``backbone_fn`` gives, for the parity check.

    Parameters
    ----------
    backbone_fn : callable
        ``(n, ...)`` inputs -> ``(n, in_dim)`` (or ``(k, n_windows * in_dim)``: whole tracks, flattened) raw
        backbone vectors, float64 where the export's reference is.
    head : EmbeddingHead
        The trained head (copied to float64).
    blend : Blend
    order : np.ndarray or None
        The backbone part's order in the model (:class:`ANEBlendHead`).

    Returns
    -------
    callable
        ``x -> (n, out)`` (whole tracks: ``(k, n_windows * out)``), float32.
    """
    import copy

    h64 = copy.deepcopy(head).double().eval()
    d = blend.in_dim

    def run(x: np.ndarray) -> np.ndarray:
        """Blended vectors of ``x``.

        Parameters
        ----------
        x : np.ndarray
            What the model takes (one row per window, or one per whole track).
        """
        e = np.asarray(backbone_fn(x), np.float64)
        k = e.shape[0]
        rows = e.reshape(-1, d)
        with torch.no_grad():
            hv = h64(torch.from_numpy(rows)).numpy()
        out = blend.vectors(rows, hv).astype(np.float64)
        if order is not None:
            out[:, :d] = out[:, :d][:, order]
        return out.reshape(k, -1).astype(np.float32)

    return run


def blend_metadata(blend: Blend, head_dim: int, *, order: str = "") -> dict[str, Any]:
    """The ``com.workbench.search_blend`` key and the output description of a blended embedding model.

    Parameters
    ----------
    blend : Blend
    head_dim : int
        The head's output size.
    order : str
        How the backbone part's dimensions are ordered, when not as the backbone's vector ("" otherwise).

    Returns
    -------
    dict
        ``{"search_blend": {...}, "output_desc": str}``.
    """
    w, d = float(blend.weight), blend.in_dim
    dim = d + int(head_dim)
    whose = "search's (the library's windows when the run was trained)" if blend.backbone == "search" else "the training windows'"
    said = (f"{dim}-d unit vector of each window carrying search's blend (backbone share {w:g}): "
            f"[sqrt({w:g}) * unit((backbone - mean) / std) ({d} floats{', ' + order if order else ''}), "
            f"sqrt({1 - w:g}) * head ({head_dim} floats)]; its plain cosine (dot product) with another window's "
            f"equals workbench search's window score {w:g} x cos(backbone z-scores) + {1 - w:g} x cos(head); "
            f"mean and std: {whose} statistics")
    return {"search_blend": {"weight": w, "dim": dim, "backbone_dim": d, "head_dim": int(head_dim),
                             "output": BLEND_OUTPUT, "formula": "w*cos(zscored backbone) + (1-w)*cos(head)",
                             "backbone_stats": blend.backbone,
                             **({"backbone_order": order} if order else {})},
            "output_desc": said}


def openl3_order(openl3: Any) -> np.ndarray | None:
    """The order OpenL3's flattened map reaches a head in the exported network ((C, H, W); Keras flattens
    (H, W, C)) as indices into the backbone's vector; None when the map is 1x1 (the 512-d model) or
    ``openl3`` is not OpenL3.

    Parameters
    ----------
    openl3 : OpenL3 or any backbone
    """
    if not (hasattr(openl3, "network") and hasattr(openl3, "input_repr")):
        return None
    from workbench.export.ane_openl3 import ANEOpenL3Network, openl3_map_hw

    net = ANEOpenL3Network(openl3.network, map_hw=openl3_map_hw(openl3))
    if net.out_hw[0] * net.out_hw[1] == 1:
        return None
    return chw_permutation(int(openl3.embedding_size), channels=net.channels, hw=net.out_hw)


def blended_parts(backbone: Any, head: Any, blend: Blend, backbone_ref: Any, *, meta: dict[str, Any], what: str,
                  row: str) -> dict[str, Any]:
    """What a blended audio-in embedding export needs: its output description and reference; ``meta`` updated.

    Parameters
    ----------
    backbone : Any
        The audio backbone (OpenL3's order is read from it).
    head : EmbeddingHead
    blend : Blend
    backbone_ref : callable
        The backbone's own reference (:func:`workbench.export.audio_in.reference` without a head).
    meta : dict
        The package metadata: gets ``search_blend`` and its description.
    what, row : str
        The model in words, and what one output row describes.

    Returns
    -------
    dict
        ``output_desc`` (name -> text), ``reference`` (callable), ``order`` (or None).
    """
    order = openl3_order(backbone)
    said = blend_metadata(blend, head.out_dim, order="" if order is None else "in the network's (C, H, W) order")
    meta["search_blend"] = said["search_blend"]
    meta["description"] = (f"Embedding model: {what} blended as workbench search ranks (backbone share "
                           f"{blend.weight:g}), from {row} to a {said['search_blend']['dim']}-d unit vector whose "
                           "cosine is search's window score.")
    return {"output_desc": {BLEND_OUTPUT: said["output_desc"]}, "order": order,
            "reference": blended_reference(backbone_ref, head, blend, order=order)}



def blend_openl3(model: nn.Module, openl3: Any, blend: Blend) -> nn.Module:
    """Search's blend around an OpenL3 model's head (:func:`~workbench.export.ane_layers.build_openl3`), in place.

    The network's map reaches the head in (C, H, W) order; the blend's ``mean`` and ``std`` are
    permuted to it (:func:`openl3_order`). (Folding the standardisation into the network's last
    convolution was tried: the z-score's error comes from the fp16 activations of the whole
    network, not the output's rounding, and the PSNR did not change: 58.1 vs 58.2 dB.)

    Parameters
    ----------
    model : ANEModel
        With ``network`` and ``head`` (an ANE head).
    openl3 : OpenL3
        The backbone (its map order).
    blend : Blend
        Backbone share > 0.

    Returns
    -------
    ANEModel
        ``model``, its head now an :class:`ANEBlendHead`.
    """
    model.head = ANEBlendHead(model.head, blend, order=openl3_order(openl3))
    return model
