"""NumPy implementations of the MIL ops our exported models use (computed in float64, see :data:`COMPUTE_DTYPE`).

The op functions of :mod:`~workbench.export.mil_eval`'s evaluator; an op or mode not covered
raises :class:`UnsupportedOpError` naming it.

:data:`_OPS` maps a MIL op type to a function of the op's inputs by name; the program walker,
:func:`workbench.export.mil_eval.run`, rounds each output to its declared dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from workbench.errors import ParameterError, WorkbenchError


class UnsupportedOpError(WorkbenchError, NotImplementedError):
    """The program uses a MIL op the NumPy evaluator does not implement."""


# -- ops ------------------------------------------------------------------------------------

#: What every float op computes in before the walker rounds its output to the declared dtype (fp16 or fp32).
#: Float64, so the rounded result does not depend on the CPU: in float32 the sums of a convolution or matmul
#: follow the BLAS kernel's order (OpenBLAS picks it per CPU), a last-bit difference that flips fp16 roundings
#: the blend's z-score amplifies. OpenL3 512 + blended head on 4 real windows measured 48.1 dB PSNR with
#: OpenBLAS's Haswell (AVX2) kernel and 61.9 dB with its Sandybridge one, on the same machine; in float64 both
#: gave 62.2 dB, bit for bit (session 19, tests/test_export_blend.py).
COMPUTE_DTYPE = np.float64


def _f(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=COMPUTE_DTYPE)


def _axes(a: Any, rank: int) -> tuple[int, ...] | None:
    if a is None:
        return None
    return tuple(int(v) % rank for v in np.atleast_1d(a))


def _reduce(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def op(x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> np.ndarray:
        """The reduction over ``axes`` (all axes when None), in :data:`COMPUTE_DTYPE`.

        Parameters
        ----------
        x : np.ndarray
        axes : sequence of int or None
            Axes to reduce (negative ones count from the end).
        keep_dims : bool
            Keep the reduced axes with length 1.
        """
        x = _f(x)
        return fn(x, axis=_axes(axes, x.ndim), keepdims=bool(keep_dims))

    return op


def _gelu(x: np.ndarray, mode: Any = "EXACT") -> np.ndarray:
    x = _f(x).astype(np.float64)
    if mode == "EXACT":
        from scipy.special import erf

        y = 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    elif mode == "TANH_APPROXIMATION":
        y = 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    elif mode == "SIGMOID_APPROXIMATION":
        y = x / (1.0 + np.exp(-1.702 * x))
    else:
        raise UnsupportedOpError(f"gelu mode {mode!r} is not supported")
    return y.astype(np.float32)


def _softmax(x: np.ndarray, axis: Any = -1) -> np.ndarray:
    x = _f(x)
    e = np.exp(x - x.max(axis=int(axis), keepdims=True))
    return e / e.sum(axis=int(axis), keepdims=True)


def _pads(pad_type: str, pad: Any, spatial: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...],
          dilations: tuple[int, ...]) -> list[tuple[int, int]]:
    n = len(spatial)
    if pad_type == "valid":
        return [(0, 0)] * n
    if pad_type == "custom":
        p = [int(v) for v in np.atleast_1d(pad)]
        return [(p[2 * i], p[2 * i + 1]) for i in range(n)]
    if pad_type in ("same", "same_lower"):
        out = []
        for size, k, s, d in zip(spatial, kernel, strides, dilations, strict=True):
            eff = (k - 1) * d + 1
            total = max((math.ceil(size / s) - 1) * s + eff - size, 0)
            lo = total // 2 if pad_type == "same" else total - total // 2
            out.append((lo, total - lo))
        return out
    raise UnsupportedOpError(f"pad_type {pad_type!r} is not supported")


def _windows(x: np.ndarray, kernel: tuple[int, ...], strides: tuple[int, ...], dilations: tuple[int, ...]) -> np.ndarray:
    """(B, C, *spatial) -> (B, C, *out, *kernel) strided view."""
    n = len(kernel)
    eff = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True))
    v = np.lib.stride_tricks.sliding_window_view(x, eff, axis=tuple(range(2, 2 + n)))
    idx = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides) \
        + tuple(slice(None, None, d) for d in dilations)
    return v[idx]


def _conv(x: np.ndarray, weight: np.ndarray, bias: Any = None, strides: Any = None, pad_type: Any = "valid",
          pad: Any = None, dilations: Any = None, groups: Any = 1) -> np.ndarray:
    x, w = _f(x), _f(weight)
    n = x.ndim - 2
    kernel = tuple(w.shape[2:])
    strides = tuple(int(s) for s in (strides if strides is not None else [1] * n))
    dilations = tuple(int(d) for d in (dilations if dilations is not None else [1] * n))
    pads = _pads(str(pad_type), pad, x.shape[2:], kernel, strides, dilations)
    x = np.pad(x, [(0, 0), (0, 0), *pads])
    g = int(groups)
    cin_g, cout_g = w.shape[1], w.shape[0] // g
    outs = []
    for i in range(g):
        v = _windows(x[:, i * cin_g:(i + 1) * cin_g], kernel, strides, dilations)  # (B, Cg, *out, *k)
        wi = w[i * cout_g:(i + 1) * cout_g]  # (Co, Cg, *k)
        axes_v = [1, *range(2 + n, 2 + 2 * n)]
        axes_w = [1, *range(2, 2 + n)]
        o = np.tensordot(v, wi, axes=(axes_v, axes_w))  # (B, *out, Co)
        outs.append(np.moveaxis(o, -1, 1))
    y = np.concatenate(outs, axis=1) if g > 1 else outs[0]
    if bias is not None:
        y = y + _f(bias).reshape(1, -1, *([1] * n))
    return y


def _pool(reduce: str) -> Callable[..., np.ndarray]:
    def op(x: np.ndarray, kernel_sizes: Any, strides: Any = None, pad_type: Any = "valid", pad: Any = None,
           ceil_mode: Any = False, exclude_padding_from_average: Any = False) -> np.ndarray:
        """Max or average pooling over the spatial axes of ``x`` (N, C, *spatial), in :data:`COMPUTE_DTYPE`.

        Parameters
        ----------
        x : np.ndarray [shape=(n, c, ...)]
        kernel_sizes : sequence of int
            One per spatial axis.
        strides : sequence of int or None
            None uses the kernel sizes.
        pad_type : {"valid", "custom", "same", "same_lower"}
            The MIL padding mode.
        pad : sequence of int or None
            Explicit begin/end padding for ``pad_type="custom"``.
        ceil_mode : bool
            Must be False (True raises :class:`UnsupportedOpError`).
        exclude_padding_from_average : bool
            Accepted but not applied: the average counts padded places as zeros.
        """
        x = _f(x)
        n = x.ndim - 2
        kernel = tuple(int(k) for k in kernel_sizes)
        strides = tuple(int(s) for s in (strides if strides is not None else kernel))
        if bool(ceil_mode):
            raise UnsupportedOpError("pooling with ceil_mode=True is not supported")
        pads = _pads(str(pad_type), pad, x.shape[2:], kernel, strides, (1,) * n)
        fill = -np.inf if reduce == "max" else 0.0
        x = np.pad(x, [(0, 0), (0, 0), *pads], constant_values=fill)
        v = _windows(x, kernel, strides, (1,) * n)
        axes = tuple(range(2 + n, 2 + 2 * n))
        return v.max(axis=axes) if reduce == "max" else v.mean(axis=axes)

    return op


def _pad(x: np.ndarray, pad: Any, mode: Any = "constant", constant_val: Any = 0.0) -> np.ndarray:
    x = np.asarray(x)
    p = [int(v) for v in np.atleast_1d(pad)]
    k = len(p) // 2
    widths = [(0, 0)] * (x.ndim - k) + [(p[2 * i], p[2 * i + 1]) for i in range(k)]
    if mode == "constant":
        return np.pad(x, widths, constant_values=float(constant_val))
    if mode in ("reflect", "replicate"):
        return np.pad(x, widths, mode="reflect" if mode == "reflect" else "edge")
    raise UnsupportedOpError(f"pad mode {mode!r} is not supported")


def _layer_norm(x: np.ndarray, axes: Any = None, gamma: Any = None, beta: Any = None, epsilon: Any = 1e-5) -> np.ndarray:
    x = _f(x).astype(np.float64)
    ax = _axes(axes, x.ndim)
    m = x.mean(axis=ax, keepdims=True)
    v = ((x - m) ** 2).mean(axis=ax, keepdims=True)
    y = (x - m) / np.sqrt(v + float(epsilon))
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64)
    if beta is not None:
        y = y + np.asarray(beta, np.float64)
    return y.astype(np.float32)


def _batch_norm(x: np.ndarray, mean: Any, variance: Any, gamma: Any = None, beta: Any = None,
                epsilon: Any = 1e-5) -> np.ndarray:
    x = _f(x).astype(np.float64)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - np.asarray(mean, np.float64).reshape(shape)) / np.sqrt(
        np.asarray(variance, np.float64).reshape(shape) + float(epsilon))
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64).reshape(shape)
    if beta is not None:
        y = y + np.asarray(beta, np.float64).reshape(shape)
    return y.astype(np.float32)


def _instance_norm(x: np.ndarray, gamma: Any = None, beta: Any = None, epsilon: Any = 1e-5) -> np.ndarray:
    x = _f(x).astype(np.float64)
    ax = tuple(range(2, x.ndim))
    m = x.mean(axis=ax, keepdims=True)
    v = ((x - m) ** 2).mean(axis=ax, keepdims=True)
    y = (x - m) / np.sqrt(v + float(epsilon))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64).reshape(shape)
    if beta is not None:
        y = y + np.asarray(beta, np.float64).reshape(shape)
    return y.astype(np.float32)


def _slice_by_index(x: np.ndarray, begin: Any, end: Any, stride: Any = None, begin_mask: Any = None,
                    end_mask: Any = None, squeeze_mask: Any = None) -> np.ndarray:
    x = np.asarray(x)
    idx = []
    for i in range(x.ndim):
        b = None if begin_mask is not None and begin_mask[i] else int(begin[i])
        e = None if end_mask is not None and end_mask[i] else int(end[i])
        s = 1 if stride is None else int(stride[i])
        idx.append(int(begin[i]) if squeeze_mask is not None and squeeze_mask[i] else slice(b, e, s))
    return x[tuple(idx)]


def _topk(x: np.ndarray, k: Any = 1, axis: Any = -1, ascending: Any = False, sort: Any = True,
          return_indices: Any = True, output_indices_dtype: Any = "int32") -> tuple[np.ndarray, np.ndarray]:
    a = _f(x)
    ax = int(axis) % a.ndim
    order = np.argsort(a if bool(ascending) else -a, axis=ax, kind="stable")
    idx = np.take(order, np.arange(int(k)), axis=ax)
    return np.take_along_axis(a, idx, axis=ax), idx.astype(np.int32)


def _classify(probabilities: np.ndarray, classes: Any) -> tuple[str, dict[str, float]]:
    p = np.asarray(probabilities, np.float32).reshape(-1)
    labels = [str(c) for c in classes]
    if p.size != len(labels):
        raise ParameterError(f"classify: {p.size} probabilities for {len(labels)} classes")
    return labels[int(np.argmax(p))], {c: float(v) for c, v in zip(labels, p, strict=True)}


_OPS: dict[str, Callable[..., Any]] = {
    "identity": lambda x: np.asarray(x),
    "cast": lambda x, dtype: np.asarray(x),  # rounding to the output dtype happens for every op
    "reshape": lambda x, shape: np.reshape(x, [int(s) for s in shape]),
    "transpose": lambda x, perm: np.transpose(x, [int(p) for p in perm]),
    "squeeze": lambda x, axes=None: np.squeeze(x, axis=_axes(axes, np.ndim(x))),
    "expand_dims": lambda x, axes: np.expand_dims(x, axis=tuple(int(a) for a in axes)),
    "concat": lambda values, axis, interleave=False: np.concatenate([np.asarray(v) for v in values], axis=int(axis)),
    "slice_by_index": _slice_by_index,
    "tile": lambda x, reps: np.tile(np.asarray(x), [int(r) for r in reps]),
    "add": lambda x, y: _f(x) + _f(y),
    "sub": lambda x, y: _f(x) - _f(y),
    "mul": lambda x, y: _f(x) * _f(y),
    "real_div": lambda x, y: _f(x) / _f(y),
    "maximum": lambda x, y: np.maximum(_f(x), _f(y)),
    "minimum": lambda x, y: np.minimum(_f(x), _f(y)),
    "pow": lambda x, y: np.power(_f(x), _f(y)),
    "abs": lambda x: np.abs(_f(x)),
    "square": lambda x: _f(x) ** 2,
    "sqrt": lambda x: np.sqrt(_f(x)),
    "rsqrt": lambda x, epsilon=1e-12: 1.0 / np.sqrt(_f(x) + np.float32(epsilon)),
    "inverse": lambda x, epsilon=1e-4: 1.0 / (_f(x) + np.float32(epsilon)),
    "exp": lambda x: np.exp(_f(x)),
    "log": lambda x, epsilon=1e-45: np.log(_f(x) + np.float32(epsilon)),
    "clip": lambda x, alpha, beta: np.clip(_f(x), np.float32(alpha), np.float32(beta)),
    "relu": lambda x: np.maximum(_f(x), 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-_f(x))),
    "tanh": lambda x: np.tanh(_f(x)),
    "gelu": _gelu,
    "softmax": _softmax,
    "reduce_mean": _reduce(np.mean),
    "reduce_max": _reduce(np.max),
    "reduce_min": _reduce(np.min),
    "reduce_sum": _reduce(np.sum),
    "reduce_sum_square": _reduce(lambda x, axis, keepdims: np.sum(x * x, axis=axis, keepdims=keepdims)),
    "reduce_l2_norm": _reduce(lambda x, axis, keepdims: np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))),
    "conv": _conv,
    "topk": _topk,
    "linear": lambda x, weight, bias=None: _f(x) @ _f(weight).T + (0 if bias is None else _f(bias)),
    "matmul": lambda x, y, transpose_x=False, transpose_y=False: np.matmul(
        np.swapaxes(_f(x), -1, -2) if transpose_x else _f(x), np.swapaxes(_f(y), -1, -2) if transpose_y else _f(y)),
    "max_pool": _pool("max"),
    "avg_pool": _pool("avg"),
    "pad": _pad,
    "layer_norm": _layer_norm,
    "batch_norm": _batch_norm,
    "instance_norm": _instance_norm,
    "classify": _classify,
}

# the ops of flexible-length (whole-track) programs: shapes, sorting, indices, scans
from workbench.export.mil_ops_shape import SHAPE_OPS  # noqa: E402

_OPS.update(SHAPE_OPS)

#: The MIL op types this evaluator implements (besides ``const`` and ``constexpr_*``).
SUPPORTED_OPS: frozenset[str] = frozenset(_OPS) | {"const"}
