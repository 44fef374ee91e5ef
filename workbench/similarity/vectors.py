"""Row vectors for cosine similarity: L2 normalisation and clipped cosine, bit-stable across batches.

The lowest module of :mod:`workbench.similarity`: it imports nothing from the package, so the
scores, the index and the exact search all build on it without a cycle.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import ParameterError

#: Rows normalised per block (bounds the float64 working copy).
_NORMALIZE_CHUNK_ROWS = 65536


def normalize_rows(x: np.ndarray, *, name: str = "embeddings", ids: np.ndarray | None = None) -> np.ndarray:
    """L2-normalise rows into a new C-contiguous float32 array (computed in float64, row by row).

    The result of a row depends only on that row, so normalising a library at once or in
    batches gives the same bits.

    Parameters
    ----------
    x : np.ndarray [shape=(n, d)]
        The rows.
    name : str
        How the message names the array.
    ids : np.ndarray [shape=(n,)] or None
        Row ids, named in messages.

    Raises
    ------
    ParameterError
        A row has NaN/inf, or is all zeros (naming its id when ``ids`` is given).
    """
    x = np.asarray(x)
    n, d = x.shape
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, _NORMALIZE_CHUNK_ROWS):
        block = np.asarray(x[start : start + _NORMALIZE_CHUNK_ROWS], dtype=np.float64)
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            i = start + int(np.argmin(finite))
            raise ParameterError(f"{name} must be finite; row {i}{_id_text(ids, i)} contains NaN or inf")
        norms = np.sqrt(np.add.reduce(block * block, axis=1))
        ok = (norms > 0) & np.isfinite(norms)
        if not ok.all():
            i = start + int(np.argmin(ok))
            what = "is a zero vector" if norms[i - start] == 0 else "is too large to normalise"
            raise ParameterError(
                f"{name} row {i}{_id_text(ids, i)} {what}; cosine similarity needs a finite nonzero vector"
            )
        out[start : start + block.shape[0]] = block / norms[:, None]
    return out


def _id_text(ids: np.ndarray | None, i: int) -> str:
    return f" (id {int(ids[i])})" if ids is not None else ""


def cosine_rows(vectors: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``clip(vectors @ q, 0, 1)`` as float64, for L2-normalised float32 rows and query.

    ``einsum`` (not BLAS): each row's value is independent of the batch it is computed in.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, d)]
        L2-normalised rows.
    q : np.ndarray [shape=(d,), dtype=float32]
        The L2-normalised query.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float64]
        Cosine similarities clipped to [0, 1].
    """
    raw = np.einsum("ij,j->i", np.ascontiguousarray(vectors, dtype=np.float32), q)
    return np.clip(raw.astype(np.float64), 0.0, 1.0)

