"""A NumPy evaluator for the MIL ops our exported models use: numerical parity without a Mac.

No Core ML runtime exists for Linux. This module reads a saved ``.mlpackage`` back into a MIL
program (coremltools' milproto loader, internal API: coremltools is pinned to <10), walks its
operations in order, computes each op in float64 and rounds every output to its declared dtype
(fp16 where the program computes in fp16), as an fp16 device would store it. (Float64, not float32: a float32
sum's order follows the CPU's BLAS kernel and flips fp16 roundings; see :data:`~workbench.export.mil_ops.COMPUTE_DTYPE`.) It cannot
reproduce the Neural Engine's internal accumulation, so compare with tolerances (PSNR), and
keep the on-device check for a Mac.

Compressed weights (``constexpr_*`` ops) are decompressed by coremltools' own value inference.
An op this evaluator does not know raises :class:`UnsupportedOpError` naming it. The ops themselves
are in :mod:`~workbench.export.mil_ops`; this module loads, walks and compares (parity).

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
from workbench.export.mil_ops import (  # noqa: F401  (SUPPORTED_OPS, UnsupportedOpError re-exported)
    _OPS,
    SUPPORTED_OPS,
    UnsupportedOpError,
)

FP16_MAX = 65504.0


class ModelFileError(WorkbenchError, ValueError):
    """A path is not a readable ML Program ``.mlpackage``."""


# -- loading --------------------------------------------------------------------------------

def load_program(path: str | os.PathLike[str]) -> Any:
    """The MIL program of a saved ML Program ``.mlpackage`` (coremltools' internal milproto loader).

    Parameters
    ----------
    path : str or path
        A saved ``.mlpackage``.

    Returns
    -------
    coremltools MIL Program
        Its functions by name (``program.functions["main"]``).

    Raises
    ------
    ModelFileError
        ``path`` is not an ``.mlpackage``, or its model is not an ML Program.
    """
    from workbench.export.quiet import coremltools

    ct = coremltools()
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
    """The program's ``main`` function.

    Parameters
    ----------
    program : coremltools MIL Program
        As :func:`load_program` returns it.

    Returns
    -------
    coremltools MIL Function

    Raises
    ------
    ModelFileError
        The program has no ``main`` function.
    """
    try:
        return program.functions["main"]
    except KeyError as exc:
        raise ModelFileError(f"the program has no 'main' function (functions: {list(program.functions)})") from exc


def np_dtype(mil_type: Any) -> np.dtype | None:
    """The NumPy dtype of a MIL scalar/tensor type, or None for strings, lists and dicts.

    Parameters
    ----------
    mil_type : coremltools MIL type
        A builtin scalar or tensor type (``types.tensor(types.fp16, ...)``).
    """
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
        """Add one op's output to its :class:`OpStat` (float outputs only).

        Parameters
        ----------
        op : coremltools MIL Operation
            The op (its ``name`` and ``op_type``).
        value : np.ndarray
            The output after rounding to ``dtype``.
        dtype : np.dtype or None
            The declared output dtype; None or a non-float dtype records nothing.
        raw : np.ndarray
            The output as computed (float64), before rounding (for the fp16 overflow check).
        """
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

    Each op is computed in float64 and rounded to its declared output dtype. A classifier's
    label output is a ``str`` and its probability output a ``dict``. Pass a :class:`Trace` to
    collect every op's output range (the fp16 audit).

    Parameters
    ----------
    path_or_program : str, path or coremltools MIL Program
        A saved ``.mlpackage`` or a program from :func:`load_program`.
    inputs : dict of str to np.ndarray
        Exactly the program's inputs, each of its declared shape.
    trace : Trace or None
        Collects each op's output range; None collects nothing.

    Returns
    -------
    dict of str to value
        Output name -> np.ndarray (or ``str``/``dict`` for a classifier's label and probabilities).

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
        if x.ndim != len(var.shape) or any(isinstance(d, int) and d != s for d, s in zip(var.shape, x.shape, strict=True)):
            # a flexible dimension (RangeDim: a symbol, not an int) takes any size
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


def _shape_fits(shape: tuple[int, ...], declared: Any) -> bool:
    """Whether ``shape`` matches a declared input shape; a flexible (symbolic) dimension takes any size."""
    declared = tuple(declared)
    return len(shape) == len(declared) and all(
        not isinstance(d, (int, np.integer)) or int(d) == s for s, d in zip(shape, declared, strict=True))


# -- parity ---------------------------------------------------------------------------------

def psnr_db(actual: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio of ``actual`` against ``reference`` in dB (coremltools' definition).

    ``10 log10(max(reference**2) / mean((actual - reference)**2))``; ``inf`` when equal.

    Parameters
    ----------
    actual, reference : np.ndarray
        Same size (compared flattened), not empty.

    Returns
    -------
    float
        PSNR in dB; ``inf`` when equal, ``-inf`` when ``reference`` is all zero and they differ, or
        when ``actual`` holds an infinity or NaN (an fp16 overflow).

    Raises
    ------
    ParameterError
        The sizes differ or are 0.
    """
    a, r = np.asarray(actual, np.float64).ravel(), np.asarray(reference, np.float64).ravel()
    if a.shape != r.shape or a.size == 0:
        raise ParameterError(f"actual and reference must have the same non-empty size; got {a.size} and {r.size}")
    noise = float(np.mean((a - r) ** 2))
    peak = float(np.max(r**2))
    if noise == 0.0:
        return math.inf
    if peak == 0.0 or not math.isfinite(noise) or peak / noise == 0.0:  # an overflow (inf, NaN) in ``actual``
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

    def passed(self, *, min_psnr_db: float = 60.0, min_agreement: float = 0.995) -> bool:
        """Whether the export is faithful: PSNR, no fp16 overflow and (classifiers) label agreement.

        Parameters
        ----------
        min_psnr_db : float
            Lowest PSNR accepted, in dB.
        min_agreement : float in [0, 1]
            Lowest fraction of windows with the same predicted label.
        """
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
        fp16 = (f"largest fp16 activation {self.fp16_max_abs:.4g} ({self.fp16_worst_op})" if self.fp16_worst_op
                else "no fp16 activation (the program computes in float32)")  # not "largest ... 0 ()"
        return (f"parity on {self.n_windows} windows: PSNR {self.psnr_db:.1f} dB, max |err| {self.max_abs_error:.2e}"
                f"{agree}; {fp16}{over}")


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
        Real inputs (embeddings, samples or log-mel patches), one per window; a program with a
        batch of B windows is run on B at a time (``n`` a multiple of B); a flexible dimension (a
        whole-track model: ``samples (1, n_samples)``) takes any length, one row per run, and its
        output is compared flattened.
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
    if windows.ndim < 1 or windows.shape[0] < 1 or not _shape_fits(windows.shape[1:], shape[1:]):
        raise ParameterError(f"windows must have shape (n, {', '.join(map(str, shape[1:]))}); got {windows.shape}")
    batch = int(shape[0]) if isinstance(shape[0], (int, np.integer)) else 1
    if windows.shape[0] % batch:
        raise ParameterError(f"the program takes {batch} windows at a time; got {windows.shape[0]} windows, "
                             f"not a multiple of {batch}")
    trace = Trace()
    got, labels_got = [], []
    for i in range(0, windows.shape[0], batch):
        w = windows[i:i + batch]
        out = run(program, {name: w.reshape((batch, *w.shape[1:]))}, trace=trace)
        dicts = {k: v for k, v in out.items() if isinstance(v, dict)}
        if dicts:
            probs = dicts[probs_key] if probs_key else next(iter(dicts.values()))
            got.append(np.array(list(probs.values()), np.float32))
            labels_got.append(int(np.argmax(got[-1])))
        else:
            arr = next(np.asarray(v, np.float32) for v in out.values() if isinstance(v, np.ndarray))
            got.extend(arr.reshape(batch, -1))
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
