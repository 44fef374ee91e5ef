"""Shared input checks for the metric functions (arrays in, clear errors out)."""

from __future__ import annotations

import numpy as np

from workbench.errors import ParameterError


def embeddings_and_labels(embeddings: object, labels: object) -> tuple[np.ndarray, np.ndarray]:
    """``embeddings`` as a finite float (n, d) array and ``labels`` as an (n,) array.

    Parameters
    ----------
    embeddings : array-like [shape=(n, d)]
        Item embeddings; must be finite.
    labels : array-like [shape=(n,)]
        One label per item (any hashable dtype).

    Returns
    -------
    emb : np.ndarray [shape=(n, d), dtype=float64]
    lab : np.ndarray [shape=(n,)]

    Raises
    ------
    ParameterError
        On a wrong shape, mismatched lengths, fewer than 2 items, or NaN/infinity.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    lab = np.asarray(labels)
    if emb.ndim != 2:
        raise ParameterError(f"embeddings must be a 2-D array (n, d); got shape {emb.shape}")
    if lab.ndim != 1:
        raise ParameterError(f"labels must be a 1-D array (n,); got shape {lab.shape}")
    if emb.shape[0] != lab.shape[0]:
        raise ParameterError(
            f"embeddings and labels must have the same length; got {emb.shape[0]} and {lab.shape[0]}")
    if emb.shape[0] < 2:
        raise ParameterError(f"need at least 2 items; got {emb.shape[0]}")
    if not np.all(np.isfinite(emb)):
        raise ParameterError("embeddings contain NaN or infinity")
    return emb, lab


def normalize(emb: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), for cosine similarity.

    Parameters
    ----------
    emb : np.ndarray [shape=(n, d)]

    Returns
    -------
    np.ndarray [shape=(n, d)]
    """
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.where(norms > 0, norms, 1.0)
