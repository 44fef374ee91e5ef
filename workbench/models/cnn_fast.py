"""How the distilled student's network runs fast on a CPU: channels-last layout, optional bfloat16 (issue 19).

The student (:class:`~workbench.models.cnn.MelCNN`, conv 32/64/128 over 128 x 128 log-mel patches) spends
most of a distillation run in its convolutions and in the memory-bound ops around them (batch norm, ReLU,
max pooling over 32 x 128 x 128 activations). In PyTorch's default NCHW layout on a CPU, oneDNN reorders
every activation before and after each convolution and max pooling runs unvectorised; with the weights in
channels-last (NHWC) layout the whole stack stays NHWC (:func:`student_layout`): the same arithmetic up to
the order of float32 sums (outputs within ~1e-7), used where the network only embeds (a run's evaluation,
:class:`~workbench.models.cnn_backbone.CNNBackbone`). ``precision="bfloat16"`` (:func:`autocast`, the job's
``distill_precision``) trains in channels-last and runs the convolutions and linear layers in bfloat16 under
:func:`torch.autocast` (weights, optimizer and loss stay float32): 3.97x per training step
(``benchmarks/bench_distill_speed.py``). Both change the rounding and so the student's trajectory, so a float32
student trains in the default layout (:data:`CHANNELS_LAST`) and bfloat16 is off by default.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The student's compute precisions (``fit_student(precision=...)``, the job's ``distill_precision``).
PRECISIONS = ("float32", "bfloat16")
#: A float32 student trains in channels-last layout too (False, the default: the old path, bit for bit; on the
#: demo's draws 2 / 0 channels-last float32 gave held-out MAP@R 0.994 / 0.800 for the old path's 0.985 / 0.847:
#: any change of rounding moves draw 0's trajectory). Inference and bfloat16 training always use channels-last.
CHANNELS_LAST = False


def check_precision(value: object) -> str:
    """``value`` when it names one of :data:`PRECISIONS`.

    Parameters
    ----------
    value : str
        ``"float32"`` or ``"bfloat16"``.

    Raises
    ------
    ParameterError
        Any other value.
    """
    if value not in PRECISIONS:
        raise ParameterError(f"precision must be one of {list(PRECISIONS)}; got {value!r}")
    return str(value)


@contextlib.contextmanager
def student_layout(*nets: Any) -> Iterator[None]:
    """Inside: ``nets``' weights in channels-last layout (fast on a CPU); after: back to the default layout.

    Parameters
    ----------
    *nets : torch.nn.Module
        Networks changed in place (their values unchanged; a saved or exported network has the default layout).
    """
    import torch

    for net in nets:
        net.to(memory_format=torch.channels_last)
    try:
        yield
    finally:
        for net in nets:
            net.to(memory_format=torch.contiguous_format)


def autocast(precision: str) -> Any:
    """The context the student's forward pass runs in: bfloat16 autocast, or nothing for ``"float32"``.

    Parameters
    ----------
    precision : str
        One of :data:`PRECISIONS`.
    """
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=check_precision(precision) == "bfloat16")


def embed_patches(net: Any, patches: np.ndarray, *, precision: str = "float32", batch_size: int = 64) -> np.ndarray:
    """Unit embeddings of log-mel patches by ``net`` (eval mode, no gradients; its mode restored).

    Parameters
    ----------
    net : MelCNN
        The student.
    patches : np.ndarray [shape=(n, 128 * 128)]
        Log-mel patches (float16 or float32).
    precision : str
        One of :data:`PRECISIONS`.
    batch_size : int >= 1
        Rows per forward pass.

    Returns
    -------
    np.ndarray [shape=(n, embedding_dim), dtype=float32]
    """
    import torch

    was_training = net.training
    net.eval()
    out = []
    try:
        with torch.no_grad(), autocast(precision):
            for a in range(0, len(patches), batch_size):
                x = torch.from_numpy(np.asarray(patches[a:a + batch_size], dtype=np.float32))
                out.append(net(x).float().numpy())
    finally:
        net.train(was_training)
    if not out:
        return np.zeros((0, int(net.embedding_dim)), np.float32)
    return np.concatenate(out)
