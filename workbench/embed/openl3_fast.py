"""OpenL3's folded network on the CPU through oneDNN's fused convolution + ReLU, in fp32 or bf16.

:class:`workbench.embed.openl3_network.Network` runs this path for inference on the CPU once its batch
norms are folded (``Network.fused_cpu``, on by default): each convolution is one oneDNN call
(``torch.ops.mkldnn._convolution_pointwise``, the kernel torch's own compiler emits for
convolution + activation) with the ReLU applied as it writes its output (no separate pass over
the activations), on channels-last activations, with the weights cast to the compute dtype once
and kept until they change (their tensor versions are checked on every call, so
``load_state_dict`` after folding is seen). Same arithmetic as the eager path (the same oneDNN
convolution), so the results match it to rounding. The 2 x 2 max-poolings are elementwise
maxima of strided views (:func:`max_pool_2x2`).

Used only where it applies: an fp32 network and input on the CPU, no gradient (``torch.inference_mode`` or
``torch.no_grad``), fp32 or bf16 (the dtype of an enabled CPU autocast), and an op that runs in
that dtype in this torch build on this CPU (probed once per process and dtype: oneDNN's bf16 convolution
needs AVX-512 BW/VL/DQ or AVX-NE-CONVERT, so an AVX2-only CPU runs bf16 on the eager path); anything else
takes the eager path.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, cast

import torch

if TYPE_CHECKING:
    from workbench.embed.openl3_network import Network

_POOLED = (1, 3, 5)  # convolutions followed by a 2 x 2 max-pool


@functools.cache
def available(dtype: torch.dtype = torch.float32) -> bool:
    """Whether oneDNN's fused convolution runs in ``dtype`` on this CPU with this torch build (tried once
    per dtype on a tiny input).

    Parameters
    ----------
    dtype : torch.dtype
        ``torch.float32`` or ``torch.bfloat16``. bf16 fails on a CPU without AVX-512 BW/VL/DQ or
        AVX-NE-CONVERT (e.g. an AVX2-only AMD EPYC): oneDNN raises there, where the eager convolution runs.

    Returns
    -------
    bool
    """
    if not torch.backends.mkldnn.is_available():
        return False
    op = getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None)
    if op is None:
        return False
    try:
        with torch.inference_mode():
            x = torch.ones(1, 2, 4, 4, dtype=dtype).contiguous(memory_format=torch.channels_last)
            w = torch.ones(3, 2, 3, 3, dtype=dtype).contiguous(memory_format=torch.channels_last)
            out = op(x, w, torch.zeros(3, dtype=dtype), [1, 1], [1, 1], [1, 1], 1, "relu", [], "")
        return bool(out.shape == (1, 3, 4, 4) and float(out[0, 0, 1, 1]) == 18.0)
    except (RuntimeError, TypeError, NotImplementedError):
        return False


def cpu_autocast_dtype() -> torch.dtype:
    """The dtype CPU autocast computes convolutions in here, ``torch.float32`` when it is off.

    Returns
    -------
    torch.dtype
    """
    try:
        on = torch.is_autocast_enabled("cpu")
        return torch.get_autocast_dtype("cpu") if on else torch.float32
    except TypeError:  # torch < 2.4
        return torch.get_autocast_cpu_dtype() if torch.is_autocast_cpu_enabled() else torch.float32


def applies(net: Network, spec: torch.Tensor) -> torch.dtype | None:
    """The dtype the fused path would compute ``spec`` in, or None where the eager path must run.

    Parameters
    ----------
    net : Network
        OpenL3's network.
    spec : torch.Tensor [shape=(n, 1, freq, time)]
        Its input.

    Returns
    -------
    torch.dtype or None
    """
    if not (net.fused_cpu and net.folded and spec.device.type == "cpu" and not torch.is_grad_enabled()):
        return None
    weight = net.convs[0].weight
    if weight.device.type != "cpu" or weight.dtype != torch.float32 or spec.dtype != torch.float32:
        return None  # a network moved to a GPU, or cast (e.g. to float64 or float16 by an export check)
    dtype = cpu_autocast_dtype()
    if dtype not in (torch.float32, torch.bfloat16) or not available(dtype):
        return None
    return dtype


def _weights(net: Network, dtype: torch.dtype) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The convolutions' weights and biases in ``dtype``, channels-last, cached on the network by version."""
    convs = cast("list[torch.nn.Conv2d]", list(net.convs))
    params = [p for conv in convs for p in (conv.weight, cast(torch.Tensor, conv.bias))]
    key = (dtype, tuple((p.data_ptr(), p._version) for p in params))
    cache = net.__dict__.setdefault("_fused_weights", {})
    if cache.get("key") != key:
        with torch.no_grad():
            cache["value"] = [(conv.weight.detach().to(dtype).contiguous(memory_format=torch.channels_last),
                               cast(torch.Tensor, conv.bias).detach().to(dtype)) for conv in convs]
        cache["key"] = key
    return cache["value"]


def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """``max_pool2d(x, 2)`` of a channels-last tensor as two elementwise maxima of strided views
    (several times faster than ``max_pool2d`` on channels-last bf16 here; odd edges dropped, as it does).

    Parameters
    ----------
    x : torch.Tensor [shape=(n, c, h, w)]
        Channels-last activations.

    Returns
    -------
    torch.Tensor [shape=(n, c, h // 2, w // 2)]
        Channels-last.
    """
    _, _, h, w = x.shape
    y = x.permute(0, 2, 3, 1)[:, : h // 2 * 2, : w // 2 * 2]  # (n, h, w, c), a view
    rows = torch.maximum(y[:, 0::2], y[:, 1::2])
    return torch.maximum(rows[:, :, 0::2], rows[:, :, 1::2]).permute(0, 3, 1, 2)


def forward(net: Network, spec: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The network's output through the fused convolutions (see the module docstring).

    Parameters
    ----------
    net : Network
        OpenL3's network with its batch norms folded.
    spec : torch.Tensor [shape=(n, 1, freq, time)]
        Its input, on the CPU.
    dtype : torch.dtype
        ``torch.float32`` or ``torch.bfloat16`` (from :func:`applies`).

    Returns
    -------
    torch.Tensor [shape=(n, embedding_size), dtype=dtype]
    """
    op = torch.ops.mkldnn._convolution_pointwise
    one = [1, 1]
    x = net.bn0(spec).to(dtype).contiguous(memory_format=torch.channels_last)  # bn0 in fp32, as autocast does
    for i, (w, b) in enumerate(_weights(net, dtype)):
        last = i == len(net.convs) - 1  # the last convolution has no ReLU
        x = op(x, w, b, one, one, one, 1, "none" if last else "relu", [], "")
        if i in _POOLED:
            x = max_pool_2x2(x)
    x = torch.nn.functional.max_pool2d(x, net.final_pool)
    return x.permute(0, 2, 3, 1).flatten(1)  # Keras Flatten order: (H, W, C), channel fastest
