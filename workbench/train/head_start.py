"""Where a head starts: the seed's random weights, or a pretrained head while :func:`starting_from` says so.

:func:`workbench.train.triplet.train_triplet` asks :func:`initial_head` for every head it creates; the embeddings
job's label-free first stage (:mod:`workbench.train.embeddings_pretrain`, ``pretrain_epochs``) sets one with
:func:`use_head` inside the job's :func:`starting_from` scope, so its supervised head and every fold head start
from it, and nothing outside the job does.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from workbench.models.heads import EmbeddingHead

_START: contextvars.ContextVar[Any] = contextvars.ContextVar("workbench_pretrained_head", default=None)


def initial_head(mean: np.ndarray, std: np.ndarray) -> EmbeddingHead | None:
    """A copy of the pretrained head taking rows z-scored with ``mean`` and ``std``, or None outside :func:`starting_from`.

    Parameters
    ----------
    mean, std : ndarray, shape (dim,)
        The z-scoring the supervised stage applies to its rows.

    Returns
    -------
    EmbeddingHead or None
        Its output on ``(x - mean) / std`` equals the pretrained head's on ``x``.
    """
    import torch

    start = _START.get()
    if start is None:
        return None
    head = copy.deepcopy(start)
    with torch.no_grad():  # raw x = z * std + mean: fc1(x) = (W * std) z + (b + W mean)
        w = head.fc1.weight.clone()
        head.fc1.bias.add_(w @ torch.from_numpy(np.asarray(mean, np.float32)))
        head.fc1.weight.mul_(torch.from_numpy(np.asarray(std, np.float32))[None, :])
    return head


def use_head(head: EmbeddingHead | None) -> None:
    """Make ``head`` the start of every head trained from now until the enclosing :func:`starting_from` ends.

    Parameters
    ----------
    head : EmbeddingHead or None
        The pretrained head (raw rows in); None: the seed's random weights.
    """
    _START.set(head)


@contextlib.contextmanager
def starting_from(head: EmbeddingHead | None) -> Iterator[None]:
    """Within this block every head :func:`~workbench.train.triplet.train_triplet` creates starts from ``head``.

    Parameters
    ----------
    head : EmbeddingHead or None
        The pretrained head (raw rows in); None changes nothing.
    """
    token = _START.set(head)
    try:
        yield
    finally:
        _START.reset(token)
