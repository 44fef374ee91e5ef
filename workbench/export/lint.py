"""A static Neural Engine lint of a saved ML Program.

Core ML decides at load time, on the device, which ops run on the Neural Engine
(``MLComputePlan`` on a Mac is the only authoritative answer). What *can* be checked on Linux
is whether the program breaks Apple's published rules (see docs/guides: fp16 throughout,
static shapes, rank <= 5, no ops known to fall off the Neural Engine, conv dilation and pooling
limits, epsilons fp16 can hold). Findings come as errors (breaks a rule: that part will not
run on the Neural Engine, or computes wrongly in fp16), warnings (reported to fall off, or
precision at risk) and notes (facts worth knowing: casts at the I/O, memory copies, weight size).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LEVELS = ("error", "warning", "note")
FP16_TINY = 6.103515625e-05

#: Ops known or reported to run off the Neural Engine (Apple's guidance; ml-ane-transformers).
DENY_OPS: frozenset[str] = frozenset({
    "gather", "gather_nd", "gather_along_axis", "scatter", "scatter_nd", "scatter_along_axis",
    "while_loop", "cond", "lstm", "gru", "rnn", "non_maximum_suppression", "band_part", "topk",
    "argsort", "random_bernoulli", "random_categorical", "random_normal", "random_uniform",
    "stft", "istft", "einsum", "cumsum", "make_list", "list_read", "list_write",
})
#: Ops our models use that the Neural Engine runs (besides ``const``/``constexpr_*``).
ALLOW_OPS: frozenset[str] = frozenset({
    "conv", "linear", "matmul", "add", "sub", "mul", "real_div", "maximum", "minimum", "pow", "abs",
    "square", "sqrt", "rsqrt", "inverse", "exp", "log", "clip", "relu", "sigmoid", "tanh", "gelu", "silu",
    "softmax", "reduce_mean", "reduce_max", "reduce_min", "reduce_sum", "reduce_sum_square",
    "reduce_l2_norm", "reshape", "transpose", "squeeze", "expand_dims", "concat", "slice_by_index", "split",
    "max_pool", "avg_pool", "pad", "layer_norm", "batch_norm", "instance_norm", "cast", "identity",
    "classify", "leaky_relu", "upsample_nearest_neighbor", "tile",
})
_EPSILON_OPS = ("rsqrt", "inverse", "log", "layer_norm", "batch_norm", "instance_norm", "l2_norm", "local_response_norm")
#: Pooling limits beyond which pooling is reported to fall off the Neural Engine.
MAX_POOL_KERNEL = 13
MAX_POOL_STRIDE = 2
#: Weight budget per model on iPhone (bytes).
MAX_WEIGHT_BYTES = 1 << 30


@dataclass(frozen=True)
class Finding:
    """One lint finding: ``level`` in :data:`LEVELS`, the op (``"<type> <name>"`` or ``"program"``), what."""

    level: str
    op: str
    message: str

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}; got {self.level!r}")

    def __str__(self) -> str:
        return f"{self.level:7} {self.op}: {self.message}"


@dataclass(frozen=True)
class LintReport:
    """The lint of one program: findings, and the op histogram."""

    path: str
    findings: tuple[Finding, ...]
    op_counts: dict[str, int] = field(default_factory=dict)
    #: compute ops (every op but ``const``, ``constexpr_*`` and ``cast``) and how many of them are
    #: Neural-Engine eligible by the static rules: fp16, on the allow list, static shapes, no finding.
    n_compute_ops: int = 0
    n_ane_eligible: int = 0

    @property
    def ane_eligible_share(self) -> float:
        """The share of compute ops that are Neural-Engine eligible (1.0 for a program without any).

        A static estimate: Core ML decides on the device (``MLComputePlan`` on a Mac says).
        """
        return self.n_ane_eligible / self.n_compute_ops if self.n_compute_ops else 1.0

    def _of(self, level: str) -> list[Finding]:
        return [f for f in self.findings if f.level == level]

    @property
    def errors(self) -> list[Finding]:
        return self._of("error")

    @property
    def warnings(self) -> list[Finding]:
        return self._of("warning")

    @property
    def notes(self) -> list[Finding]:
        return self._of("note")

    @property
    def ok(self) -> bool:
        """No errors (warnings and notes allowed)."""
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": len(self.errors), "warnings": len(self.warnings), "notes": len(self.notes),
                "findings": [{"level": f.level, "op": f.op, "message": f.message} for f in self.findings],
                "op_counts": dict(self.op_counts), "compute_ops": self.n_compute_ops,
                "ane_eligible_ops": self.n_ane_eligible, "ane_eligible_share": round(self.ane_eligible_share, 4)}

    def __str__(self) -> str:
        head = (f"Neural Engine lint of {Path(self.path).name}: {len(self.errors)} errors, "
                f"{len(self.warnings)} warnings, {len(self.notes)} notes; Neural-Engine eligible "
                f"{self.n_ane_eligible}/{self.n_compute_ops} compute ops ({100 * self.ane_eligible_share:.0f}%)")
        return "\n".join([head, *(f"  {line}" for line in _grouped(self.findings))])


#: More findings than this with one level and message are said on one line (the ops named, the count).
GROUP_FROM = 4


def _grouped(findings: tuple[Finding, ...]) -> list[str]:
    """Findings as lines, in order; :data:`GROUP_FROM` or more with the same level and message on one line.

    ``warning topk op_80, topk op_85, topk op_92 and 12 more (15 ops): op is known to run off ...``
    instead of fifteen lines that differ only in the op's name.
    """
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.level, f.message), []).append(f)
    lines = []
    for (level, message), same in groups.items():
        if len(same) < GROUP_FROM:
            lines += [str(f) for f in same]
        else:
            ops = ", ".join(f.op for f in same[:3])
            lines.append(f"{level:7} {ops} and {len(same) - 3} more ({len(same)} ops): {message}")
    return lines


def _dtype_name(var: Any) -> str:
    from coremltools.converters.mil.mil import types

    t = var.sym_type
    if types.is_tensor(t):
        t = t.get_primitive()
    return types.builtin_to_string(t) if not (types.is_list(t) or types.is_dict(t)) else "other"


def _is_symbolic(shape: Any) -> bool:
    return shape is None or any(not isinstance(d, (int, np.integer)) for d in shape)


def _shape_text(shape: Any, flexible: str | None) -> str:
    """A shape as a reader takes it: a flexible axis as its declared range ("(1, 220500..39690000)"),
    not coremltools' symbol ("is432"); any other unknown axis as "?"."""
    import json

    try:
        ranges = json.loads(flexible) if flexible else {}
    except ValueError:
        ranges = {}
    if shape is None:
        return "(unknown shape)"
    dims = []
    for axis, d in enumerate(shape):
        bounds = ranges.get(str(axis)) if isinstance(ranges, dict) else None
        if isinstance(d, (int, np.integer)):
            dims.append(str(int(d)))
        elif isinstance(bounds, (list, tuple)) and len(bounds) == 2:
            dims.append(f"{bounds[0]}..{bounds[1]}")
        else:
            dims.append("?")
    return "(" + ", ".join(dims) + ")"


def _param(op: Any, name: str) -> Any:
    var = op.inputs.get(name)
    return None if var is None else var.val


def _declared_island(path: str | os.PathLike[str]) -> str | None:
    """The float32 island the package declares (``com.workbench.fp32_island``), or None."""
    import coremltools as ct

    meta = ct.models.MLModel(str(path), skip_model_load=True).user_defined_metadata
    return meta.get("com.workbench.fp32_island") or None


def _input_vars(op: Any) -> list[Any]:
    """The variables an op reads (its inputs may be single variables or tuples of them)."""
    out: list[Any] = []
    for v in op.inputs.values():
        out.extend(v if isinstance(v, (list, tuple)) else [v])
    return out


def _declared_range(path: str | os.PathLike[str]) -> str | None:
    """The flexible input the package declares (``com.workbench.input_range``: a whole-track model), or None."""
    import coremltools as ct

    return ct.models.MLModel(str(path), skip_model_load=True).user_defined_metadata.get("com.workbench.input_range")


def lint(path: str | os.PathLike[str]) -> LintReport:
    """Lint a saved ``.mlpackage`` (read back with coremltools' milproto loader).

    An fp32 compute op is an error, unless the package declares a float32 island
    (``com.workbench.fp32_island``, written by an export that keeps its spectrogram frontend in
    float32 on purpose): then it is a warning (that island runs on the GPU or CPU) and counts as
    not Neural-Engine eligible, as does an op the Neural Engine does not run (``topk``) inside
    it. A dynamic shape is an error, unless the package declares its flexible input
    (``com.workbench.input_range``, a whole-track model): then one warning says that Core ML runs
    the model on the GPU or CPU, and no op of it counts as eligible.

    Parameters
    ----------
    path : str or path
        A saved ``.mlpackage`` (an ML Program).

    Returns
    -------
    LintReport

    Raises
    ------
    ModelFileError
        ``path`` is not an ML Program ``.mlpackage``.
    """
    from workbench.export.mil_eval import load_program, main_function

    program = load_program(path)
    fn = main_function(program)
    findings: list[Finding] = []
    counts: Counter[str] = Counter()
    weight_bytes = 0
    input_names = set(fn.inputs)
    output_names = {v.name for v in fn.outputs}
    n_compute = n_eligible = n_island = 0

    island, flexible = _declared_island(path), _declared_range(path)
    n_dynamic = 0
    for name, var in fn.inputs.items():
        if _is_symbolic(var.shape) and not flexible:
            findings.append(Finding("error", "program", f"input {name!r} has a dynamic shape {var.shape}"))
        dt = _dtype_name(var)
        findings.append(Finding("note", "program", f"input {name!r}: {dt} {_shape_text(var.shape, flexible)}"
                                + (" (cast to fp16 inside the model)" if dt == "fp32" and not island else "")))

    for op in fn.operations:
        counts[op.op_type] += 1
        label = f"{op.op_type} {op.name}"
        if op.op_type in ("const",) or op.op_type.startswith("constexpr_"):
            for v in op.outputs:
                val = v.val
                if isinstance(val, np.ndarray) and val.size > 16:
                    weight_bytes += val.nbytes
            continue
        before = len(findings)
        fp32_compute = dynamic = False
        in_island = bool(island) and op.op_type != "cast" and (
            any(_dtype_name(v) == "fp32" for v in op.outputs)  # or an index op (argsort, topk) over fp32 values
            or any(_dtype_name(v) == "fp32" for v in _input_vars(op)))
        if op.op_type in DENY_OPS:
            findings.append(Finding("warning" if in_island else "error", label, "op is known to run off the Neural "
                                    "Engine" + (" (inside the declared float32 island)" if in_island else "")))
        elif op.op_type not in ALLOW_OPS:
            findings.append(Finding("warning", label, "op is not on the allow list; check MLComputePlan on a Mac"))
        if op.blocks:
            findings.append(Finding("error", label, "control flow (nested blocks) runs off the Neural Engine"))
        for v in op.outputs:
            dt = _dtype_name(v)
            if v.shape is not None and not _is_symbolic(v.shape) and len(v.shape) > 5:
                findings.append(Finding("error", label, f"output rank {len(v.shape)} > 5"))
            if _is_symbolic(v.shape) and dt not in ("str", "other") and flexible:
                dynamic = True
            elif _is_symbolic(v.shape) and dt not in ("str", "other"):
                findings.append(Finding("error", label, f"output {v.name!r} has a dynamic shape {v.shape}"))
            if dt == "fp32":
                x = op.inputs.get("x")
                at_io = op.op_type == "cast" and (v.name in output_names or (x is not None and x.name in input_names)
                                                  or op.outputs[0].child_ops and all(c.op_type == "classify" for c in op.outputs[0].child_ops))
                if at_io:
                    findings.append(Finding("note", label, "cast to fp32 at the model's output"))
                elif island and op.op_type != "cast":
                    fp32_compute = True
                elif not island:
                    findings.append(Finding("error", label, "computes in fp32: an fp32 op never runs on the "
                                                            "Neural Engine (convert with compute_precision=FLOAT16)"))
        if op.op_type == "conv" and not fp32_compute:
            dil = _param(op, "dilations")
            if dil is not None and any(int(d) > 1 for d in np.atleast_1d(dil)):
                findings.append(Finding("warning", label, f"dilated convolution (dilations={list(map(int, dil))}) "
                                                          "is reported to run off the Neural Engine"))
            w = op.inputs.get("weight")
            if w is not None and w.shape is not None and len(w.shape) >= 3 and max(w.shape[2:]) > 16:
                findings.append(Finding("warning", label, f"large kernel {tuple(w.shape[2:])}: may run off the "
                                                          "Neural Engine; check MLComputePlan on a Mac"))
        if op.op_type in ("max_pool", "avg_pool", "l2_pool"):
            k = [int(v) for v in np.atleast_1d(_param(op, "kernel_sizes"))]
            s = [int(v) for v in np.atleast_1d(_param(op, "strides"))] if _param(op, "strides") is not None else k
            if max(k) > MAX_POOL_KERNEL or max(s) > MAX_POOL_STRIDE:
                findings.append(Finding("warning", label, f"pooling kernel {k} stride {s} beyond kernel "
                                                          f"{MAX_POOL_KERNEL} / stride {MAX_POOL_STRIDE}: reported "
                                                          "to run off the Neural Engine"))
        if op.op_type in _EPSILON_OPS and not fp32_compute:
            eps = _param(op, "epsilon")
            if eps is not None:
                x = op.inputs.get("x")
                src = x.op if x is not None else None
                floor = _param(src, "alpha") if src is not None and src.op_type == "clip" else None
                if floor is not None and float(np.float16(float(floor))) > 0 and float(np.float16(float(eps))) == 0:
                    findings.append(Finding("note", label, f"epsilon {float(eps):.3g} rounds to 0 in fp16, harmless: "
                                                           f"the input is clipped at {float(floor):.3g} first"))
                else:
                    _check_small(findings, label, "epsilon", float(eps))
        if op.op_type == "clip":
            alpha = _param(op, "alpha")
            if alpha is not None and 0 < float(alpha) < FP16_TINY and not fp32_compute:
                _check_small(findings, label, "lower bound", float(alpha))
        if op.op_type != "cast":
            n_compute += 1
            flagged = any(f.level in ("error", "warning") for f in findings[before:])
            n_eligible += int(not (flagged or fp32_compute or dynamic))
            n_island += int(fp32_compute)
            n_dynamic += int(dynamic)

    if flexible:
        findings.append(Finding("warning", "program", f"declared flexible input (axis: [lowest, highest] = {flexible}): "
                                                      f"{n_dynamic} ops have dynamic shapes; Core ML runs them on the "
                                                      "GPU or CPU, not the Neural Engine"))
    if island:
        findings.append(Finding("warning", "program", f"declared float32 island ({island}): {n_island} fp32 ops "
                                                      "run on the GPU or CPU, not the Neural Engine"))
    copies = counts["reshape"] + counts["transpose"]
    if copies:
        findings.append(Finding("note", "program", f"{counts['reshape']} reshape and {counts['transpose']} transpose "
                                                   "ops (each may be a memory copy on the Neural Engine)"))
    level = "error" if weight_bytes > MAX_WEIGHT_BYTES else "note"
    findings.append(Finding(level, "program", f"weights {weight_bytes / 1e6:.2f} MB as stored"
                                              + (" > 1 GB: too large for iPhone" if level == "error" else "")))
    order = {lvl: i for i, lvl in enumerate(LEVELS)}
    findings.sort(key=lambda f: order[f.level])
    return LintReport(path=str(path), findings=tuple(findings), op_counts=dict(sorted(counts.items())),
                      n_compute_ops=n_compute, n_ane_eligible=n_eligible)


def _check_small(findings: list[Finding], label: str, what: str, value: float) -> None:
    as16 = float(np.float16(value))
    if value > 0 and as16 == 0.0:
        findings.append(Finding("error", label, f"{what} {value:.3g} rounds to 0 in fp16 (smallest subnormal 6e-8)"))
    elif 0 < value < FP16_TINY:
        findings.append(Finding("warning", label, f"{what} {value:.3g} is an fp16 subnormal (< {FP16_TINY:.3g}): "
                                                  "imprecise, and flushed to 0 where subnormals are not kept"))
