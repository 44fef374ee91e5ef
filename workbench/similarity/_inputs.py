"""Validation of the arrays and options a similarity search takes, and the row normalisation
and cosine every path shares (private helpers of :mod:`workbench.similarity`).

Exactness rests on one rule: a track's combined score is computed by the same element-wise
operations whether it is scored alone, among FAISS candidates or in a full brute-force pass.
The cosine (:func:`cosine_rows`) is ``np.einsum("ij,j->i")`` over float32 rows, whose per-row
result does not depend on which other rows are in the batch (BLAS ``gemv`` does depend on it: a
row's last bit changes with its position), and everything else is element-wise. So ties
(duplicated tracks) are ties in both paths, broken by id.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from workbench.camelot import index_of
from workbench.errors import ParameterError
from workbench.similarity.scores import ENERGY_RANGE, _preview, camelot_index
from workbench.similarity.vectors import cosine_rows, normalize_rows  # noqa: F401  (re-exported)


def _as_vector(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a 1-D array of real numbers; got {_preview(value)}") from exc
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ParameterError(f"{name} must be a 1-D array of real numbers; got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ParameterError(f"{name} must be a non-empty 1-D vector; got shape {arr.shape}")
    return arr


def _as_bpm_scalar(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
        math.isfinite(float(value)) and float(value) > 0
    ):
        raise ParameterError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def _as_energy_scalar(value: Any, name: str) -> int:
    lo, hi = ENERGY_RANGE
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= int(value) <= hi:
        raise ParameterError(f"{name} must be an integer in {lo}..{hi}; got {value!r}")
    return int(value)



def check_k(k: Any) -> int:
    """``k`` as an int >= 1, or raise.

    Parameters
    ----------
    k : int >= 1
        How many matches; any value is checked.

    Raises
    ------
    ParameterError
        ``k`` is not an integer >= 1.
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or int(k) < 1:
        raise ParameterError(f"k must be an integer >= 1; got {k!r}")
    return int(k)


def check_min_score(min_score: Any) -> float | None:
    """``min_score`` as a float in [0, 1] or ``None``, or raise.

    Parameters
    ----------
    min_score : float in [0, 1] or None
        The least combined score; any value is checked.

    Raises
    ------
    ParameterError
        Not None and not a real number in [0, 1].
    """
    if min_score is None:
        return None
    if isinstance(min_score, bool) or not isinstance(min_score, numbers.Real) or not 0.0 <= float(min_score) <= 1.0:
        raise ParameterError(f"min_score must be None or a number in [0, 1]; got {min_score!r}")
    return float(min_score)


def is_track_id(value: Any) -> bool:
    """Whether ``value`` is an integer (Python or numpy, not bool), so a track id rather than a vector.

    Parameters
    ----------
    value : object
        Any value.
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def validate_ids(ids: Any, *, name: str = "ids") -> np.ndarray:
    """1-D int64 array of unique ids, or raise.

    Parameters
    ----------
    ids : sequence of int
        The ids; any value is checked.
    name : str
        How the message names the value.

    Raises
    ------
    ParameterError
        Not 1-D integers that fit in int64, or not unique.
    """
    try:
        arr = np.asarray(ids)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ParameterError(f"{name} must be a 1-D sequence of integers; got {_preview(ids)}") from exc
    if arr.ndim != 1:
        raise ParameterError(f"{name} must be a 1-D sequence of integers; got shape {arr.shape}")
    if arr.size and (arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer)):
        raise ParameterError(f"{name} must be integers; got dtype {arr.dtype} ({_preview(ids)})")
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ParameterError(f"{name} must fit in int64; got {int(arr.max())}")
    out = arr.astype(np.int64)
    if out.size > 1:
        uniq, counts = np.unique(out, return_counts=True)
        if (counts > 1).any():
            first = int(np.argmax(counts > 1))
            raise ParameterError(f"{name} must be unique; id {int(uniq[first])} appears {int(counts[first])} times")
    return out


def validate_tracks(
    ids: Any, embeddings: Any, bpm: Any, camelot: Any, energy: Any, *, dim: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check track arrays and bring them to storage form.

    Parameters
    ----------
    ids : array-like of int, shape (n,)
    embeddings : array-like of float, shape (n, d)
    bpm : array-like of float > 0, shape (n,)
    camelot : sequence of str, length n
    energy : array-like of int in 1..10, shape (n,)
    dim : int or None
        Required ``d`` (an existing index's dimension).

    Returns
    -------
    (ids int64 (n,), vectors float32 (n, d) L2-normalised, bpm float64 (n,), key int8 (n,)
    (compact key indices, :func:`workbench.camelot.index_of`), energy int8 (n,))
    """
    id_arr = validate_ids(ids)
    n = id_arr.shape[0]
    try:
        emb = np.asarray(embeddings)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"embeddings must be a 2-D array of real numbers; got {_preview(embeddings)}") from exc
    if emb.dtype == np.bool_ or not (np.issubdtype(emb.dtype, np.floating) or np.issubdtype(emb.dtype, np.integer)):
        raise ParameterError(f"embeddings must be real numbers (float32 preferred); got dtype {emb.dtype}")
    if emb.ndim != 2:
        raise ParameterError(f"embeddings must be 2-D, shape (n, d); got shape {emb.shape}")
    if emb.shape[1] < 1:
        raise ParameterError(f"embeddings must have d >= 1 columns; got shape {emb.shape}")
    if dim is not None and emb.shape[1] != dim:
        raise ParameterError(f"embeddings must have {dim} columns (the index's dimension); got shape {emb.shape}")
    if isinstance(camelot, str):
        raise ParameterError(f"camelot must be a sequence of Camelot codes, one per track; got the string {camelot!r}")
    lengths = {"ids": n, "embeddings": emb.shape[0]}
    for name, value in (("bpm", bpm), ("camelot", camelot), ("energy", energy)):
        if np.ndim(value) != 1:
            raise ParameterError(f"{name} must be 1-D, one value per track; got {_preview(value)}")
        lengths[name] = len(value)
    if len(set(lengths.values())) != 1:
        text = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ParameterError(f"lengths must match (one row per track); got {text}")
    bpm_arr = _as_real_1d(bpm, "bpm")
    bad = ~(np.isfinite(bpm_arr) & (bpm_arr > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ParameterError(f"bpm must be finite and > 0; got {bpm_arr[i].item()!r} for id {int(id_arr[i])}")
    key_arr = _camelot_1d(camelot, id_arr)
    energy_arr = np.asarray(energy)
    lo, hi = ENERGY_RANGE
    if energy_arr.size and (energy_arr.dtype == np.bool_ or not np.issubdtype(energy_arr.dtype, np.integer)):
        raise ParameterError(f"energy must be integers in {lo}..{hi}; got dtype {energy_arr.dtype}")
    bad = (energy_arr < lo) | (energy_arr > hi)
    if bad.any():
        i = int(np.argmax(bad))
        raise ParameterError(f"energy must be integers in {lo}..{hi}; got {energy_arr[i].item()!r} for id {int(id_arr[i])}")
    vectors = normalize_rows(emb, name="embeddings", ids=id_arr)
    return id_arr, vectors, bpm_arr, key_arr, energy_arr.astype(np.int8)


def _as_real_1d(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.size and (arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer))):
        raise ParameterError(f"{name} must be real numbers; got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _camelot_1d(camelot: Any, ids: np.ndarray) -> np.ndarray:
    """Camelot indices of a sequence of codes; a bad code's error names its track id."""
    codes = list(camelot)
    try:
        return camelot_index(np.array(codes, dtype=object))
    except ParameterError:
        for i, code in enumerate(codes):
            try:
                index_of(code)
            except ParameterError:
                raise ParameterError(
                    f"camelot must be Camelot codes 1A..12A or 1B..12B; got {code!r} for id {int(ids[i])}"
                ) from None
        raise
