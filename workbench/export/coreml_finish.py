"""The shared last step of every Core ML export: convert, stamp metadata, save, lint, parity -> :class:`ExportResult`.

Split out of :mod:`workbench.export.coreml` (which re-exports every name here) so the audio-in
exports (:mod:`workbench.export.audio_in`) share it without an import cycle.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.export.coreml_convert import (
    COMPRESSIONS,
    ExportError,
    compress_model,
    convert,
    package_size,
    save_package,
)
from workbench.export.coreml_meta import apply_metadata, build_metadata
from workbench.validate import check_choice

if TYPE_CHECKING:
    import torch

    from workbench.embed.openl3 import OpenL3
    from workbench.export.lint import LintReport
    from workbench.export.mil_eval import ParityReport
    from workbench.models.heads import EmbeddingHead, SectionClassifier


@dataclass(frozen=True)
class ExportResult:
    """What one export produced: the package, its size, the lint and the parity check."""

    path: Path
    model_type: str
    size_bytes: int
    io_dtype: str
    deployment_target: str
    compress: str | None
    lint: LintReport
    parity: ParityReport | None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: wall seconds of the whole export: conversion, save, lint and the parity check
    seconds: float = 0.0
    #: of which the parity check on the NumPy evaluator
    parity_s: float = 0.0

    @property
    def export_s(self) -> float:
        """Seconds of the export itself (conversion, save and lint; without the parity check)."""
        return self.seconds - self.parity_s

    def as_dict(self) -> dict[str, Any]:
        return {"model_type": self.model_type, "size_bytes": self.size_bytes, "io_dtype": self.io_dtype,
                "deployment_target": self.deployment_target, "compress": self.compress,
                "lint": self.lint.as_dict(), "parity": self.parity.as_dict() if self.parity else None,
                "seconds": round(self.seconds, 2), "parity_s": round(self.parity_s, 2),
                "ane_eligible_share": round(self.lint.ane_eligible_share, 4)}

    def __str__(self) -> str:
        lines = [f"{self.model_type} -> {self.path} ({self.size_bytes / 1e6:.2f} MB, {self.io_dtype} I/O, "
                 f"{self.deployment_target}, compression {self.compress or 'none'}, {self.seconds:.1f} s)",
                 str(self.lint)]
        lines.append(str(self.parity) if self.parity else "parity: not checked (no windows given)")
        return "\n".join(lines)




def _load_head(head_or_checkpoint: Any, kind: str) -> EmbeddingHead | SectionClassifier:
    from workbench.models.heads import load_checkpoint

    head = head_or_checkpoint
    if isinstance(head, (str, os.PathLike, dict)):
        head = load_checkpoint(head)
    if getattr(head, "kind", None) != kind:
        raise ParameterError(f"expected a {kind} (model or checkpoint); got {getattr(head, 'kind', type(head).__name__)!r}")
    return head.eval()






def _finish(module: torch.nn.Module, path: str | os.PathLike[str], *, model_type: str, input_name: str,
            input_shape: tuple[int, ...], output_name: str, io_dtype: str, deployment_target: str,
            compress: str | None, meta: dict[str, Any], input_desc: str, output_desc: dict[str, str],
            labels: tuple[str, ...] | None, reference: Callable[[np.ndarray], np.ndarray] | None,
            windows: np.ndarray | None, overwrite: bool, strict: bool, fp32_scopes: tuple[str, ...] = (),
            input_range: dict[int, tuple[int, int]] | None = None) -> ExportResult:
    from workbench.export.lint import lint
    from workbench.export.mil_eval import parity

    if compress is not None:
        check_choice("compress", compress, COMPRESSIONS)
    t0 = time.perf_counter()
    mlmodel = convert(module, input_name=input_name, input_shape=input_shape, output_name=output_name,
                      io_dtype=io_dtype, deployment_target=deployment_target, labels=labels, fp32_scopes=fp32_scopes,
                      input_range=input_range)
    if compress:
        mlmodel = compress_model(mlmodel, compress)
    meta = {**meta, "io_dtype": io_dtype, "deployment_target": deployment_target, "compression": compress or "none",
            "input_shape": list(input_shape), "inputs": {input_name: input_desc}, "outputs": dict(output_desc)}
    if input_range:  # a flexible axis: input_shape is the traced example
        meta["input_range"] = {str(axis): [int(lo), int(hi)] for axis, (lo, hi) in input_range.items()}
    apply_metadata(mlmodel, meta, inputs={input_name: input_desc}, outputs=output_desc)
    p = save_package(mlmodel, path, overwrite=overwrite)
    report = lint(p)
    par = None
    t1 = time.perf_counter()
    if windows is not None and reference is not None:
        par = parity(p, reference, windows, input_name=input_name)
    parity_s = time.perf_counter() - t1
    result = ExportResult(path=p, model_type=model_type, size_bytes=package_size(p), io_dtype=io_dtype,
                          deployment_target=deployment_target, compress=compress, lint=report, parity=par,
                          metadata=meta, seconds=time.perf_counter() - t0, parity_s=parity_s)
    if strict and (not report.ok or (par is not None and not par.passed())):
        raise ExportError(f"export checks failed (strict=True):\n{result}")
    return result


def _torch_ref(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[np.ndarray], np.ndarray]:
    def run(x: np.ndarray) -> np.ndarray:
        """``fn`` on ``x`` as float32, without gradients, back to NumPy.

        Parameters
        ----------
        x : np.ndarray
        """
        import torch

        with torch.no_grad():
            return fn(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()

    return run


def _head_metadata(head: EmbeddingHead | SectionClassifier, model_type: str, metadata: dict[str, Any] | None, description: str) -> dict[str, Any]:
    meta = dict(metadata or {})
    meta.setdefault("description", description)
    base = build_metadata(model_type=model_type, description=meta.pop("description"),
                          labels=tuple(getattr(head, "labels", ())),
                          **{k: meta.pop(k) for k in ("metrics", "fingerprint", "backbone", "weights_source", "run_id",
                                                      "version", "author", "license") if k in meta})
    base.update(meta)
    base["head_config"] = head.config()
    return base


def _openl3_meta(openl3: OpenL3) -> dict[str, Any]:
    return {"backbone": {"name": openl3.name, "input_repr": openl3.input_repr, "content_type": openl3.content_type,
                         "dim": openl3.embedding_size, "sample_rate_hz": 48000, "window_s": 1.0, "hop_s": 0.5,
                         "mel": {"n_fft": 2048, "hop_samples": 242, "n_mels": int(openl3.input_repr[3:]),
                                 "fmin_hz": 0, "fmax_hz": 24000, "norm": "slaney", "db_floor": -80}},
            "weights_source": (f"{'fine-tuned ' if getattr(openl3, 'base_weights_sha256', None) else ''}OpenL3 weights "
                               f"{openl3.weights_path.name if openl3.weights_path else '?'} "
                               f"sha256 {openl3.weights_sha256}" if openl3.weights_sha256 else "random weights")}
