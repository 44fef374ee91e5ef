"""Where a head starts: the seed's random weights, or a given head (``TripletConfig.init_head``) adapted to the run's z-scoring.

:func:`workbench.train.triplet.train_triplet` calls :func:`initial_head` with its config's ``init_head``; the
embeddings job's label-free first stage (:mod:`workbench.train.embeddings_pretrain`, ``pretrain_epochs``) puts
its head there on the config of every head the job trains (its supervised head and every fold head), so nothing
trained outside the job, or after it, starts from it: the start is an argument, not a state.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from workbench.models.heads import EmbeddingHead


def initial_head(start: EmbeddingHead | None, mean: np.ndarray, std: np.ndarray) -> EmbeddingHead | None:
    """A copy of ``start`` taking rows z-scored with ``mean`` and ``std`` (None when ``start`` is None).

    Parameters
    ----------
    start : EmbeddingHead or None
        The head to start from, taking raw rows (``TripletConfig.init_head``); None: the seed's random weights.
    mean, std : ndarray, shape (dim,)
        The z-scoring the supervised stage applies to its rows.

    Returns
    -------
    EmbeddingHead or None
        Its output on ``(x - mean) / std`` equals ``start``'s on ``x``; ``start`` itself is left unchanged.
    """
    import torch

    if start is None:
        return None
    head = copy.deepcopy(start)
    with torch.no_grad():  # raw x = z * std + mean: fc1(x) = (W * std) z + (b + W mean)
        w = head.fc1.weight.clone()
        head.fc1.bias.add_(w @ torch.from_numpy(np.asarray(mean, np.float32)))
        head.fc1.weight.mul_(torch.from_numpy(np.asarray(std, np.float32))[None, :])
    return head
