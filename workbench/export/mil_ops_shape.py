"""NumPy implementations of the MIL ops of flexible-length programs (shapes, sorting, indices, scans).

A whole-track model (:mod:`workbench.export.track_in`) takes a track of any length: its program
reads the input's ``shape``, sorts (the numpy median of a feature), scans (``cumsum`` gives the
frame index) and compares indices; :mod:`~workbench.export.mil_ops` adds these to the
evaluator's table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from workbench.errors import ParameterError


def _argsort(x: np.ndarray, axis: Any = -1, ascending: Any = False) -> np.ndarray:
    a = np.asarray(x)
    key = a if bool(ascending) else -a
    return np.argsort(key, axis=int(axis), kind="stable").astype(np.int32)


def _topk(x: np.ndarray, k: Any = 1, axis: Any = -1, ascending: Any = False, sort: Any = True,
          return_indices: Any = True, output_indices_dtype: Any = "int32") -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(x)
    ax = int(axis) % a.ndim
    order = _argsort(a, axis=ax, ascending=ascending)
    idx = np.take(order, np.arange(int(k)), axis=ax)
    return np.take_along_axis(a, idx.astype(np.int64), axis=ax), idx


def _cumsum(x: np.ndarray, axis: Any = 0, exclusive: Any = False, reverse: Any = False) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32) if np.issubdtype(np.asarray(x).dtype, np.floating) else np.asarray(x)
    ax = int(axis)
    if bool(reverse):
        a = np.flip(a, axis=ax)
    out = np.cumsum(a, axis=ax, dtype=a.dtype)
    if bool(exclusive):
        out = out - a
    return np.flip(out, axis=ax) if bool(reverse) else out


def _reduce_arg(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def op(x: np.ndarray, axis: Any = -1, keep_dims: Any = False, output_dtype: Any = "int32") -> np.ndarray:
        """Index of the extreme value along ``axis`` (the first one on ties, as Core ML).

        Parameters
        ----------
        x : np.ndarray
        axis : int
        keep_dims : bool
        output_dtype : str
            ``"int32"`` (the walker rounds to the declared dtype).
        """
        out = fn(np.asarray(x, dtype=np.float32), axis=int(axis))
        return np.expand_dims(out, int(axis)) if bool(keep_dims) else out

    return op


def _gather(x: np.ndarray, indices: Any, axis: Any = 0, batch_dims: Any = 0, validate_indices: Any = False) -> np.ndarray:
    if int(batch_dims):
        raise ParameterError(f"gather: batch_dims must be 0 for the NumPy evaluator; got {batch_dims}")
    return np.take(np.asarray(x), np.asarray(indices, dtype=np.int64), axis=int(axis))


SHAPE_OPS: dict[str, Callable[..., Any]] = {
    "shape": lambda x: np.asarray(np.shape(x), dtype=np.int32),
    "argsort": _argsort,
    "topk": _topk,
    "gather_along_axis": lambda x, indices, axis=0, validate_indices=False: np.take_along_axis(
        np.asarray(x), np.asarray(indices, dtype=np.int64), axis=int(axis)),
    "gather": _gather,
    "cumsum": _cumsum,
    "equal": lambda x, y: np.equal(np.asarray(x), np.asarray(y)),
    "floor": lambda x: np.floor(np.asarray(x, dtype=np.float32)),
    "floor_div": lambda x, y: np.floor_divide(np.asarray(x), np.asarray(y)),
    "range_1d": lambda end, start, step: np.arange(np.asarray(start).item(), np.asarray(end).item(),
                                                   np.asarray(step).item()),
    "reduce_argmax": _reduce_arg(np.argmax),
    "reduce_argmin": _reduce_arg(np.argmin),
}
