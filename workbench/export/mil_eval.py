"""A NumPy evaluator for the MIL ops our exported models use: numerical parity without a Mac.

No Core ML runtime exists for Linux. This module reads a saved ``.mlpackage`` back into a MIL
program (coremltools' milproto loader, internal API: coremltools is pinned to <10), walks its
operations in order, computes each op in float32 and rounds every output to its declared dtype
(fp16 where the program computes in fp16), as an fp16 device would store it. It cannot
reproduce the Neural Engine's internal accumulation, so compare with tolerances (PSNR), and
keep the on-device check for a Mac.

Compressed weights (``constexpr_*`` ops) are decompressed by coremltools' own value inference.
An op this evaluator does not know raises :class:`UnsupportedOpError` naming it.

>>> out = run("models/dj_section_v1.mlpackage", {"embedding": x})   # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ParameterError, WorkbenchError

FP16_MAX = 65504.0


class UnsupportedOpError(WorkbenchError, NotImplementedError):
    """The program uses a MIL op the NumPy evaluator does not implement."""


class ModelFileError(WorkbenchError, ValueError):
    """A path is not a readable ML Program ``.mlpackage``."""


# -- loading --------------------------------------------------------------------------------

def load_program(path: str | os.PathLike[str]) -> Any:
    """The MIL program of a saved ML Program ``.mlpackage`` (coremltools' internal milproto loader)."""
    import coremltools as ct
    from coremltools.converters.mil.frontend.milproto.load import load

    p = Path(path)
    if not (p / "Manifest.json").is_file():
        raise ModelFileError(f"{p}: not an .mlpackage (no Manifest.json)")
    model = ct.models.MLModel(str(p), skip_model_load=True)
    spec = model.get_spec()
    if spec.WhichOneof("Type") != "mlProgram":
        raise ModelFileError(f"{p}: not an ML Program (type {spec.WhichOneof('Type')!r}); export with "
                             "convert_to='mlprogram'")
    weights = Path(model.weights_dir) if getattr(model, "weights_dir", None) else p / "Data" / "com.apple.CoreML" / "weights"
    return load(spec, spec.specificationVersion, file_weights_dir=str(weights))


def main_function(program: Any) -> Any:
    try:
        return program.functions["main"]
    except KeyError as exc:
        raise ModelFileError(f"the program has no 'main' function (functions: {list(program.functions)})") from exc


def np_dtype(mil_type: Any) -> np.dtype | None:
    """The NumPy dtype of a MIL scalar/tensor type, or None for strings, lists and dicts."""
    from coremltools.converters.mil.mil import types

    t = mil_type
    if types.is_tensor(t):
        t = t.get_primitive()
    if t is types.str or types.is_list(t) or types.is_dict(t):
        return None
    try:
        return np.dtype(types.nptype_from_builtin(t))
    except Exception:  # noqa: BLE001  (a type without a NumPy twin)
        return None


# -- ops ------------------------------------------------------------------------------------

def _f(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _axes(a: Any, rank: int) -> tuple[int, ...] | None:
    if a is None:
        return None
    return tuple(int(v) % rank for v in np.atleast_1d(a))


def _reduce(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def op(x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> np.ndarray:
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

#: The MIL op types this evaluator implements (besides ``const`` and ``constexpr_*``).
SUPPORTED_OPS: frozenset[str] = frozenset(_OPS) | {"const"}


# -- running --------------------------------------------------------------------------------

@dataclass
class OpStat:
    """Range of one op's output over the evaluated inputs (for the fp16 audit)."""

    op: str
    op_type: str
    dtype: str
    max_abs: float = 0.0
    overflow: bool = False  # a float32 value beyond fp16's range before rounding
    nonfinite: bool = False


@dataclass
class Trace:
    """Per-op statistics collected by :func:`run` when given one (accumulates over calls)."""

    ops: dict[str, OpStat] = field(default_factory=dict)

    def record(self, op: Any, value: np.ndarray, dtype: np.dtype | None, raw: np.ndarray) -> None:
        if dtype is None or not np.issubdtype(dtype, np.floating):
            return
        stat = self.ops.setdefault(op.name, OpStat(op.name, op.op_type, str(dtype)))
        finite = raw[np.isfinite(raw)] if raw.size else raw
        if finite.size:
            stat.max_abs = max(stat.max_abs, float(np.abs(finite).max()))
        stat.nonfinite |= bool(not np.isfinite(value).all())
        stat.overflow |= dtype == np.float16 and bool(finite.size) and float(np.abs(finite).max()) > FP16_MAX


def _value(var: Any, env: dict[str, Any]) -> Any:
    if isinstance(var, (tuple, list)):
        return [_value(v, env) for v in var]
    if var.name in env:
        return env[var.name]
    if var.val is not None:
        return var.val
    raise ModelFileError(f"variable {var.name!r} is used before it is computed")


def _constexpr_value(op: Any) -> np.ndarray:
    val = op.outputs[0].val
    if val is None:
        try:
            val = op.materialized_val_inference()
        except Exception as exc:  # noqa: BLE001
            raise UnsupportedOpError(f"{op.op_type} {op.name!r}: coremltools could not decompress it ({exc})") from exc
    return np.asarray(val)


def run(path_or_program: str | os.PathLike[str] | Any, inputs: dict[str, np.ndarray], *,
        trace: Trace | None = None) -> dict[str, Any]:
    """Evaluate a saved ML Program on ``inputs`` (name -> array), returning its outputs by name.

    Each op is computed in float32 and rounded to its declared output dtype. A classifier's
    label output is a ``str`` and its probability output a ``dict``. Pass a :class:`Trace` to
    collect every op's output range (the fp16 audit).

    Raises
    ------
    UnsupportedOpError
        The program uses an op this evaluator does not implement (the message names it).
    ParameterError
        An input is missing, unexpected, or of the wrong shape.
    """
    program = load_program(path_or_program) if isinstance(path_or_program, (str, os.PathLike)) else path_or_program
    fn = main_function(program)
    env: dict[str, Any] = {}
    expected = dict(fn.inputs)
    missing, extra = set(expected) - set(inputs), set(inputs) - set(expected)
    if missing or extra:
        raise ParameterError(f"inputs must be exactly {sorted(expected)}; missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)}")
    for name, var in expected.items():
        x = np.asarray(inputs[name])
        if tuple(x.shape) != tuple(var.shape):
            raise ParameterError(f"input {name!r} must have shape {tuple(var.shape)}; got {tuple(x.shape)}")
        env[name] = x.astype(np_dtype(var.sym_type) or x.dtype)
    for op in fn.operations:
        if op.blocks:
            raise UnsupportedOpError(f"op {op.op_type!r} ({op.name}) has nested blocks (control flow), "
                                     "which the evaluator does not run")
        if op.op_type == "const":
            env[op.outputs[0].name] = op.outputs[0].val
            continue
        if op.op_type.startswith("constexpr_"):
            env[op.outputs[0].name] = _constexpr_value(op)
            continue
        impl = _OPS.get(op.op_type)
        if impl is None:
            raise UnsupportedOpError(f"MIL op {op.op_type!r} ({op.name}) is not implemented by the NumPy evaluator; "
                                     f"supported: {sorted(SUPPORTED_OPS)}")
        kwargs = {k: _value(v, env) for k, v in op.inputs.items()}
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            result = impl(**kwargs)
        results = result if isinstance(result, tuple) else (result,)
        for var, raw in zip(op.outputs, results, strict=True):
            dtype = np_dtype(var.sym_type)
            if dtype is None:
                env[var.name] = raw
                continue
            raw = np.asarray(raw)
            with np.errstate(over="ignore", invalid="ignore"):
                value = raw.astype(dtype)
            if var.shape is not None and value.shape != tuple(var.shape) and all(isinstance(d, int) for d in var.shape):
                value = value.reshape(var.shape)
            if trace is not None:
                trace.record(op, value, dtype, raw)
            env[var.name] = value
    return {v.name: env[v.name] for v in fn.outputs}


# -- parity ---------------------------------------------------------------------------------

def psnr_db(actual: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio of ``actual`` against ``reference`` in dB (coremltools' definition).

    ``10 log10(max(reference**2) / mean((actual - reference)**2))``; ``inf`` when equal.
    """
    a, r = np.asarray(actual, np.float64).ravel(), np.asarray(reference, np.float64).ravel()
    if a.shape != r.shape or a.size == 0:
        raise ParameterError(f"actual and reference must have the same non-empty size; got {a.size} and {r.size}")
    noise = float(np.mean((a - r) ** 2))
    peak = float(np.max(r**2))
    if noise == 0.0:
        return math.inf
    if peak == 0.0:
        return -math.inf
    return 10.0 * math.log10(peak / noise)


@dataclass(frozen=True)
class RangeFinding:
    op: str
    op_type: str
    max_abs: float
    headroom_db: float  # 20 log10(65504 / max_abs)


@dataclass(frozen=True)
class ParityReport:
    """How a saved program's outputs compare with the PyTorch model on real windows.

    ``psnr_db`` over all windows' main numeric output; ``label_agreement`` the fraction of
    windows whose predicted class agrees (classifiers; None otherwise); ``fp16_max_abs`` the
    largest fp16 activation and ``fp16_overflow`` the ops that exceeded 65504.
    """

    n_windows: int
    psnr_db: float
    max_abs_error: float
    label_agreement: float | None
    fp16_max_abs: float
    fp16_worst_op: str
    fp16_overflow: tuple[str, ...]
    top_ranges: tuple[RangeFinding, ...]
    evaluator: str = "numpy-mil"

    def passed(self, *, min_psnr_db: float = 60.0, min_agreement: float = 0.99) -> bool:
        ok = self.psnr_db >= min_psnr_db and not self.fp16_overflow
        return ok and (self.label_agreement is None or self.label_agreement >= min_agreement)

    def as_dict(self) -> dict[str, Any]:
        return {"n_windows": self.n_windows, "psnr_db": _finite(self.psnr_db), "max_abs_error": self.max_abs_error,
                "label_agreement": self.label_agreement, "fp16_max_abs": self.fp16_max_abs,
                "fp16_worst_op": self.fp16_worst_op, "fp16_overflow": list(self.fp16_overflow),
                "evaluator": self.evaluator}

    def __str__(self) -> str:
        agree = "" if self.label_agreement is None else f", same label on {100 * self.label_agreement:.1f}%"
        over = f"; fp16 OVERFLOW in {list(self.fp16_overflow)}" if self.fp16_overflow else ""
        return (f"parity on {self.n_windows} windows: PSNR {self.psnr_db:.1f} dB, max |err| {self.max_abs_error:.2e}"
                f"{agree}; largest fp16 activation {self.fp16_max_abs:.4g} ({self.fp16_worst_op}){over}")


def _finite(v: float) -> float | str:
    return v if math.isfinite(v) else str(v)


def parity(path: str | os.PathLike[str], reference: Callable[[np.ndarray], np.ndarray], windows: np.ndarray, *,
           input_name: str | None = None, probs_key: str | None = None) -> ParityReport:
    """Run the saved program on each window with :func:`run` and compare with ``reference``.

    Parameters
    ----------
    path : the ``.mlpackage``.
    reference : callable
        ``reference(batch) -> (n, out)`` float array: the PyTorch model (probabilities for a
        classifier).
    windows : np.ndarray [shape=(n, *input_shape_without_batch)]
        Real inputs (embeddings, samples or log-mel patches), one per window.
    input_name : the program's input (default: its only input).
    probs_key : the output holding the probabilities dict (classifiers; found when None).
    """
    program = load_program(path)
    fn = main_function(program)
    names = list(fn.inputs)
    name = input_name or (names[0] if len(names) == 1 else None)
    if name not in fn.inputs:
        raise ParameterError(f"input_name must be one of {names}; got {input_name!r}")
    shape = tuple(fn.inputs[name].shape)
    windows = np.asarray(windows, np.float32)
    if windows.ndim < 1 or windows.shape[0] < 1 or tuple(windows.shape[1:]) != shape[1:]:
        raise ParameterError(f"windows must have shape (n, {', '.join(map(str, shape[1:]))}); got {windows.shape}")
    trace = Trace()
    got, labels_got = [], []
    for w in windows:
        out = run(program, {name: w.reshape(shape)}, trace=trace)
        dicts = {k: v for k, v in out.items() if isinstance(v, dict)}
        if dicts:
            probs = dicts[probs_key] if probs_key else next(iter(dicts.values()))
            got.append(np.array(list(probs.values()), np.float32))
            labels_got.append(int(np.argmax(got[-1])))
        else:
            arr = next(np.asarray(v, np.float32) for v in out.values() if isinstance(v, np.ndarray))
            got.append(arr.reshape(-1))
    actual = np.stack(got)
    ref = np.asarray(reference(windows), np.float32).reshape(actual.shape)
    agreement = None
    if labels_got:
        agreement = float(np.mean(np.array(labels_got) == ref.argmax(axis=1)))
    stats = [s for s in trace.ops.values() if s.dtype == "float16"]
    worst = max(stats, key=lambda s: s.max_abs) if stats else None
    tops = sorted(stats, key=lambda s: -s.max_abs)[:5]
    return ParityReport(
        n_windows=len(windows), psnr_db=psnr_db(actual, ref), max_abs_error=float(np.abs(actual - ref).max()),
        label_agreement=agreement, fp16_max_abs=worst.max_abs if worst else 0.0,
        fp16_worst_op=f"{worst.op_type} {worst.op}" if worst else "",
        fp16_overflow=tuple(s.op for s in stats if s.overflow or s.nonfinite),
        top_ranges=tuple(RangeFinding(s.op, s.op_type, s.max_abs,
                                      20 * math.log10(FP16_MAX / s.max_abs) if s.max_abs else math.inf) for s in tops),
    )
