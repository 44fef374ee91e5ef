"""Core ML export of the workbench's models: ML Program, fp16 compute, static shapes, metadata.

Three model kinds (the registry's model types):

``"head"``        the embedding head alone: pooled backbone embedding ``(1, in_dim)`` -> ``(1, 256)``.
``"dj_section"``  the section classifier: embedding ``(1, in_dim)`` (or an OpenL3 window) ->
                  ``label`` (str) and ``label_probs`` (dict of the seven labels).
``"embedding"``   the embedding model. With OpenL3 it is the whole window model: a 1-second window
                  (``samples``: 48000 floats at 48 kHz, or ``logmel``: the 128x199 dB patch) ->
                  network -> head -> ``(1, 256)``. With the feature frontend (numpy/librosa, not
                  expressible in a Core ML program) it is the head over the 202-d feature vector,
                  and the app must compute the feature frontend itself; its metadata says so.

Every model is the Neural-Engine form from :mod:`workbench.export.ane_layers` converted with
``compute_precision=FLOAT16``, an explicit deployment target, fp32 or fp16 I/O (the dtype trap:
the dtype is always set explicitly), then linted (:mod:`workbench.export.lint`) and checked for
parity with the PyTorch model by the NumPy evaluator (:mod:`workbench.export.mil_eval`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from workbench.errors import ParameterError, WorkbenchError
from workbench.validate import check_choice

if TYPE_CHECKING:
    import torch

    from workbench.embed.features import FeatureFrontend
    from workbench.embed.openl3 import OpenL3
    from workbench.export.lint import LintReport
    from workbench.export.mil_eval import ParityReport
    from workbench.models.heads import EmbeddingHead, SectionClassifier

MODEL_TYPES = ("dj_section", "embedding", "head")
IO_DTYPES = ("fp32", "fp16")
COMPRESSIONS = ("int8", "palettize6", "palettize4")
DEPLOYMENT_TARGETS = ("macOS13", "macOS14", "macOS15", "iOS16", "iOS17", "iOS18")
INPUTS = ("samples", "logmel")
#: Our reverse-DNS prefix for user-defined metadata (the converter's com.github.apple.coremltools.* stay).
METADATA_PREFIX = "com.workbench."
DEFAULT_AUTHOR = "workbench (local training)"
DEFAULT_LICENSE = "Private: trained on the owner's own music library; not for redistribution."


class ExportError(WorkbenchError, RuntimeError):
    """The conversion or its checks failed."""


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
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"model_type": self.model_type, "size_bytes": self.size_bytes, "io_dtype": self.io_dtype,
                "deployment_target": self.deployment_target, "compress": self.compress,
                "lint": self.lint.as_dict(), "parity": self.parity.as_dict() if self.parity else None,
                "seconds": round(self.seconds, 2)}

    def __str__(self) -> str:
        lines = [f"{self.model_type} -> {self.path} ({self.size_bytes / 1e6:.2f} MB, {self.io_dtype} I/O, "
                 f"{self.deployment_target}, compression {self.compress or 'none'}, {self.seconds:.1f} s)",
                 str(self.lint)]
        lines.append(str(self.parity) if self.parity else "parity: not checked (no windows given)")
        return "\n".join(lines)


# -- validation -------------------------------------------------------------------------

def _target(name: str) -> Any:
    import coremltools as ct

    check_choice("deployment_target", name, DEPLOYMENT_TARGETS)
    return getattr(ct.target, name)


def package_size(path: str | os.PathLike[str]) -> int:
    """Bytes of all files under an ``.mlpackage``.

    Parameters
    ----------
    path : str or path
        An ``.mlpackage`` folder.

    Returns
    -------
    int
        Size in bytes (0 for a path that does not exist).
    """
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def _load_head(head_or_checkpoint: Any, kind: str) -> EmbeddingHead | SectionClassifier:
    from workbench.models.heads import load_checkpoint

    head = head_or_checkpoint
    if isinstance(head, (str, os.PathLike, dict)):
        head = load_checkpoint(head)
    if getattr(head, "kind", None) != kind:
        raise ParameterError(f"expected a {kind} (model or checkpoint); got {getattr(head, 'kind', type(head).__name__)!r}")
    return head.eval()


# -- metadata ---------------------------------------------------------------------------

def describe_input(name: str, *, dim: int | None = None, backbone: dict[str, Any] | None = None) -> str:
    """A description with units for one of our inputs.

    Parameters
    ----------
    name : str
        ``"samples"``, ``"logmel"``, or any other name for a pooled vector input (``"embedding"``).
    dim : int or None
        Length of a pooled vector input.
    backbone : dict or None
        The run's backbone (``{"name": ...}``); a ``features*`` name describes the feature frontend.

    Returns
    -------
    str
    """
    if name == "samples":
        return ("One 1-second mono audio window: 48000 float samples at 48 kHz, full scale +-1.0 "
                "(resample and downmix before; windows every 0.5 s (hop) for a track).")
    if name == "logmel":
        return ("OpenL3 log-mel patch (1, 1, 128, 199): 128 Slaney mel bands 0-24 kHz x 199 frames of a 1-s "
                "window at 48 kHz (periodic Hann, n_fft 2048, hop 242 samples = 5.04 ms), 10*log10 of the "
                "magnitude relative to the window's maximum, clipped at -80 dB.")
    name_b = (backbone or {}).get("name", "backbone")
    if str(name_b).startswith("features"):
        return (f"Pooled feature vector ({dim} floats) of the workbench feature frontend {name_b} "
                "(log-mel, MFCC, spectral contrast, chroma, onset and tempogram statistics of 1-s windows at "
                "22.05 kHz, hop 0.5 s), averaged over the section. Compute it in the app exactly as "
                "workbench.embed.features does.")
    return f"Pooled {name_b} embedding ({dim} floats), averaged over the 1-s windows (hop 0.5 s) of the section."


def build_metadata(*, model_type: str, description: str, labels: tuple[str, ...] = (), metrics: dict | None = None,
                   fingerprint: str | None = None, backbone: dict[str, Any] | None = None,
                   weights_source: str | None = None, run_id: str | None = None, version: str | None = None,
                   author: str = DEFAULT_AUTHOR, license: str = DEFAULT_LICENSE,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The metadata dict stored in the package and the registry's JSON (plain JSON values).

    ``version`` is the semantic version; None lets the registry stamp ``"<N>.0.0"`` for version N.

    Parameters
    ----------
    model_type : {"dj_section", "embedding", "head"}
    description : str
        One sentence for the package's short description.
    labels : tuple of str
        Class names of a classifier; empty for an embedding model.
    metrics : dict or None
        The training run's metrics (``training_metrics``).
    fingerprint : str or None
        The training data's fingerprint.
    backbone : dict or None
        The backbone the model takes its input from (``name``, ``dim``, ...).
    weights_source : str or None
        Where pretrained weights came from (file and SHA-256).
    run_id : str or None
        The training run.
    version : str or None
        Semantic version.
    author, license : str
    extra : dict or None
        More keys, merged in last.

    Returns
    -------
    dict
        Plain JSON values, with ``workbench_version`` (the code version) added.

    Raises
    ------
    ParameterError
        ``model_type`` is not one of :data:`MODEL_TYPES`.
    """
    from workbench.runs import code_version

    check_choice("model_type", model_type, MODEL_TYPES)
    return {"model_type": model_type, "description": description, "author": author, "license": license,
            "version": version, "labels": list(labels), "training_metrics": metrics or {},
            "data_fingerprint": fingerprint, "backbone": backbone or {}, "weights_source": weights_source,
            "run_id": run_id, "workbench_version": code_version(), **(extra or {})}


def apply_metadata(mlmodel: Any, meta: dict[str, Any], *, inputs: dict[str, str], outputs: dict[str, str]) -> None:
    """Write ``meta`` into the model: the standard fields and our reverse-DNS keys.

    Parameters
    ----------
    mlmodel : coremltools.models.MLModel
        Changed in place.
    meta : dict
        ``description``, ``author``, ``license``, ``version`` go to the standard fields; every other
        key but ``inputs``/``outputs`` to ``com.workbench.<key>`` (strings as they are, others as JSON).
    inputs, outputs : dict of str to str
        Feature name -> its description.
    """
    mlmodel.short_description = str(meta.get("description", ""))
    mlmodel.author = str(meta.get("author", ""))
    mlmodel.license = str(meta.get("license", ""))
    if meta.get("version"):
        mlmodel.version = str(meta["version"])
    for key, value in meta.items():
        if key in ("description", "author", "license", "version", "inputs", "outputs"):
            continue
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        mlmodel.user_defined_metadata[METADATA_PREFIX + key] = text
    for name, text in inputs.items():
        mlmodel.input_description[name] = text
    for name, text in outputs.items():
        mlmodel.output_description[name] = text


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Our metadata back from a saved package (standard fields + ``com.workbench.*`` keys).

    Parameters
    ----------
    path : str or path
        A saved ``.mlpackage``.

    Returns
    -------
    dict
        ``description``, ``author``, ``license``, ``version``, each ``com.workbench.*`` key without its
        prefix (JSON decoded where it is JSON), and ``inputs``/``outputs`` {name: description}.
    """
    import coremltools as ct

    m = ct.models.MLModel(str(path), skip_model_load=True)
    out: dict[str, Any] = {"description": m.short_description, "author": m.author, "license": m.license,
                           "version": m.version}
    for k, v in m.user_defined_metadata.items():
        if k.startswith(METADATA_PREFIX):
            try:
                out[k[len(METADATA_PREFIX):]] = json.loads(v)
            except json.JSONDecodeError:
                out[k[len(METADATA_PREFIX):]] = v
    spec = m.get_spec()
    out["inputs"] = {i.name: i.shortDescription for i in spec.description.input}
    out["outputs"] = {o.name: o.shortDescription for o in spec.description.output}
    return out


# -- conversion -------------------------------------------------------------------------

def _quiet() -> contextlib.AbstractContextManager:
    import logging
    import warnings

    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    logger = logging.getLogger("coremltools")
    old = logger.level
    logger.setLevel(logging.ERROR)
    stack.callback(logger.setLevel, old)
    _silence_converter_bars(stack)
    return stack


#: Where coremltools draws its per-pass progress bars (module, name of its tqdm); the bars of one
#: conversion, several per model, would bury the workbench's own progress in `make demo`.
_CONVERTER_BARS = (("coremltools.converters.mil.mil.passes.pass_pipeline", "tqdm"),
                   ("coremltools.converters.mil.frontend.torch.ops", "_tqdm"))


def _silence_converter_bars(stack: contextlib.ExitStack) -> None:
    """Swap coremltools' tqdm for a disabled one for the length of ``stack`` (where it has one)."""
    import functools
    import importlib

    for module_name, attr in _CONVERTER_BARS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        bar = getattr(module, attr, None)
        if bar is None:
            continue
        setattr(module, attr, functools.partial(bar, disable=True))
        stack.callback(setattr, module, attr, bar)


def convert(module: torch.nn.Module, *, input_name: str, input_shape: tuple[int, ...], output_name: str, io_dtype: str = "fp32",
            deployment_target: str = "macOS14", labels: tuple[str, ...] | None = None) -> Any:
    """Trace ``module`` and convert it to an fp16 ML Program with static shapes.

    ``labels`` makes a classifier (``ClassifierConfig``): outputs ``label`` and ``label_probs``.
    The I/O dtype is always explicit (fp16 I/O needs iOS16/macOS13 or later, which every
    allowed target is).

    Parameters
    ----------
    module : torch.nn.Module
        Traced in eval mode on zeros of ``input_shape``.
    input_name, output_name : str
        Feature names of the input and (unless ``labels``) the output.
    input_shape : tuple of int
        The static input shape.
    io_dtype : {"fp32", "fp16"}
    deployment_target : str
        One of :data:`DEPLOYMENT_TARGETS`.
    labels : tuple of str or None
        Class names; makes a classifier.

    Returns
    -------
    coremltools.models.MLModel
        An ML Program, not loaded (``skip_model_load=True``).

    Raises
    ------
    ExportError
        coremltools could not convert the module.
    ParameterError
        ``io_dtype`` or ``deployment_target`` is not allowed.
    """
    import coremltools as ct
    import torch

    check_choice("io_dtype", io_dtype, IO_DTYPES)
    target = _target(deployment_target)
    dtype = np.float16 if io_dtype == "fp16" else np.float32
    example = torch.zeros(input_shape)
    with torch.no_grad(), _quiet():
        traced = torch.jit.trace(module.eval(), example)
        kwargs: dict[str, Any] = {}
        if labels:
            kwargs["classifier_config"] = ct.ClassifierConfig(list(labels), predicted_feature_name="label")
            outputs = None
        else:
            outputs = [ct.TensorType(name=output_name, dtype=dtype)]
        try:
            return ct.convert(traced, inputs=[ct.TensorType(name=input_name, shape=input_shape, dtype=dtype)],
                              outputs=outputs, convert_to="mlprogram", compute_precision=ct.precision.FLOAT16,
                              minimum_deployment_target=target, skip_model_load=True, **kwargs)
        except Exception as exc:  # noqa: BLE001  (the converter raises many types)
            raise ExportError(f"coremltools could not convert the {type(module).__name__}: {exc}") from exc


def compress_model(mlmodel: Any, mode: str) -> Any:
    """Compress the weights: ``"int8"`` (linear symmetric, per channel), ``"palettize6"``/``"palettize4"`` (k-means LUT).

    Parameters
    ----------
    mlmodel : coremltools.models.MLModel
    mode : {"int8", "palettize6", "palettize4"}

    Returns
    -------
    coremltools.models.MLModel
        The compressed model.
    """
    import coremltools.optimize.coreml as cto

    check_choice("compress", mode, COMPRESSIONS)
    with _quiet():
        if mode == "int8":
            cfg = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8"))
            return cto.linear_quantize_weights(mlmodel, cfg)
        nbits = 6 if mode == "palettize6" else 4
        cfg = cto.OptimizationConfig(global_config=cto.OpPalettizerConfig(mode="kmeans", nbits=nbits))
        return cto.palettize_weights(mlmodel, cfg)


def save_package(mlmodel: Any, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Save to ``<path>`` via a temporary sibling and a rename (never a half-written package).

    Parameters
    ----------
    mlmodel : coremltools.models.MLModel
    path : str or path
        Must end in ``.mlpackage``.
    overwrite : bool
        Replace an existing package.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ParameterError
        ``path`` does not end in ``.mlpackage``, or exists and ``overwrite`` is False.
    """
    p = Path(path)
    if p.suffix != ".mlpackage":
        raise ParameterError(f"path must end in .mlpackage; got {os.fspath(path)!r}")
    if p.exists() and not overwrite:
        raise ParameterError(f"{p} exists; pass overwrite=True to replace it")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.stem}.{os.getpid()}.tmp.mlpackage")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with _quiet():
            mlmodel.save(str(tmp))
        if p.exists():
            shutil.rmtree(p)
        os.replace(tmp, p)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return p


def _finish(module: torch.nn.Module, path: str | os.PathLike[str], *, model_type: str, input_name: str,
            input_shape: tuple[int, ...], output_name: str, io_dtype: str, deployment_target: str,
            compress: str | None, meta: dict[str, Any], input_desc: str, output_desc: dict[str, str],
            labels: tuple[str, ...] | None, reference: Callable[[np.ndarray], np.ndarray] | None,
            windows: np.ndarray | None, overwrite: bool, strict: bool) -> ExportResult:
    from workbench.export.lint import lint
    from workbench.export.mil_eval import parity

    if compress is not None:
        check_choice("compress", compress, COMPRESSIONS)
    t0 = time.perf_counter()
    mlmodel = convert(module, input_name=input_name, input_shape=input_shape, output_name=output_name,
                      io_dtype=io_dtype, deployment_target=deployment_target, labels=labels)
    if compress:
        mlmodel = compress_model(mlmodel, compress)
    meta = {**meta, "io_dtype": io_dtype, "deployment_target": deployment_target, "compression": compress or "none",
            "input_shape": list(input_shape), "inputs": {input_name: input_desc}, "outputs": dict(output_desc)}
    apply_metadata(mlmodel, meta, inputs={input_name: input_desc}, outputs=output_desc)
    p = save_package(mlmodel, path, overwrite=overwrite)
    report = lint(p)
    par = None
    if windows is not None and reference is not None:
        par = parity(p, reference, windows, input_name=input_name)
    result = ExportResult(path=p, model_type=model_type, size_bytes=package_size(p), io_dtype=io_dtype,
                          deployment_target=deployment_target, compress=compress, lint=report, parity=par,
                          metadata=meta, seconds=time.perf_counter() - t0)
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


def export_head(head_or_checkpoint: EmbeddingHead | str | os.PathLike[str] | dict[str, Any], path: str | os.PathLike[str], *, io_dtype: str = "fp32",
                deployment_target: str = "macOS14", compress: str | None = None,
                metadata: dict[str, Any] | None = None, windows: np.ndarray | None = None,
                model_type: str = "head", overwrite: bool = False, strict: bool = False) -> ExportResult:
    """Export the embedding head alone: ``embedding`` (1, in_dim) -> ``embedding_256`` (1, 256), L2-normalised.

    Parameters
    ----------
    head_or_checkpoint : EmbeddingHead, or a checkpoint path/dict
    path : where the ``.mlpackage`` goes.
    io_dtype : "fp32" | "fp16"
    deployment_target : one of :data:`DEPLOYMENT_TARGETS`
    compress : None | "int8" | "palettize6" | "palettize4"
    metadata : keys of :func:`build_metadata` (``metrics``, ``fingerprint``, ``backbone``, ...) and extras.
    windows : np.ndarray [shape=(n, in_dim)], optional
        Real pooled embeddings for the parity check (skipped when None).
    model_type : "head", or "embedding" for the feature-frontend embedding model.
    strict : raise :class:`ExportError` when the lint has errors or parity fails.
    """
    from workbench.export.ane_layers import build_head

    check_choice("model_type", model_type, ("head", "embedding"))
    head = cast("EmbeddingHead", _load_head(head_or_checkpoint, "embedding_head"))
    meta = _head_metadata(head, model_type, metadata,
                          "Triplet embedding head: a pooled backbone embedding to a 256-d L2-normalised "
                          "embedding for similarity search.")
    backbone = meta.get("backbone") or {}
    return _finish(build_head(head), path, model_type=model_type, input_name="embedding" if model_type == "head"
                   else "features", input_shape=(1, head.in_dim), output_name="embedding_256", io_dtype=io_dtype,
                   deployment_target=deployment_target, compress=compress, meta=meta,
                   input_desc=describe_input("embedding", dim=head.in_dim, backbone=backbone),
                   output_desc={"embedding_256": f"{head.out_dim}-d embedding, unit L2 norm (compare with the dot "
                                                 "product = cosine similarity)"},
                   labels=None, reference=_torch_ref(head), windows=windows, overwrite=overwrite, strict=strict)


def export_classifier(classifier_or_checkpoint: SectionClassifier | str | os.PathLike[str] | dict[str, Any],
                      path: str | os.PathLike[str], *, backbone: OpenL3 | None = None,
                      input: str = "logmel", io_dtype: str = "fp32", deployment_target: str = "macOS14",
                      compress: str | None = None, metadata: dict[str, Any] | None = None,
                      windows: np.ndarray | None = None, overwrite: bool = False, strict: bool = False) -> ExportResult:
    """Export the DJ-section classifier: ``label`` (str) and ``label_probs`` (dict over the seven labels).

    Without ``backbone`` the input is the pooled ``embedding`` (1, in_dim); with an OpenL3
    ``backbone`` it is a window (``input="logmel"`` or ``"samples"``) and the network runs inside.
    ``windows`` (matching the input) enables the parity check (PSNR of the probabilities and
    label agreement).

    Parameters
    ----------
    classifier_or_checkpoint : SectionClassifier, or a checkpoint path or dict
    path : str or path
        Where the ``.mlpackage`` goes.
    backbone : OpenL3 or None
        An OpenL3 module to run inside the model; None takes the pooled (or window-feature) vector.
    input : {"logmel", "samples"}
        The window input, with an OpenL3 ``backbone`` only.
    io_dtype : {"fp32", "fp16"}
    deployment_target : str
        One of :data:`DEPLOYMENT_TARGETS`.
    compress : {"int8", "palettize6", "palettize4"} or None
    metadata : dict or None
        Keys of :func:`build_metadata` and extras (``window_features`` describes the input).
    windows : np.ndarray or None
        Real inputs for the parity check, shaped like the model's input without its batch axis
        (``(n, in_dim)``); None skips it.
    overwrite : bool
        Replace an existing package.
    strict : bool
        Raise :class:`ExportError` when the lint has errors or parity fails.

    Returns
    -------
    ExportResult
    """
    import torch

    from workbench.export.ane_layers import build_head, build_openl3

    clf = cast("SectionClassifier", _load_head(classifier_or_checkpoint, "section_classifier"))
    meta = _head_metadata(clf, "dj_section", metadata,
                          "DJ section classifier: predicts intro, build, drop, break, outro, verse or chorus "
                          "for a section of a track.")
    outputs = {"label": "Predicted DJ section label (one of: " + ", ".join(clf.labels) + ")",
               "label_probs": "Probability of each section label (softmax, sums to 1)"}
    shape: tuple[int, ...]
    if backbone is None:
        module = build_head(clf)
        name, shape = "embedding", (1, clf.in_dim)
        ref = _torch_ref(lambda x: torch.softmax(clf(x), dim=1))
        desc = describe_input("embedding", dim=clf.in_dim, backbone=meta.get("backbone"))
        if meta.get("window_features"):
            desc = (f"Window features ({clf.in_dim} floats) of workbench.train.sections.WindowFeatures"
                    f"({json.dumps(meta['window_features'], sort_keys=True)}) over the backbone's 1-s frames "
                    f"(hop 0.5 s): the frame, mean context before/after, the same minus the track mean, and the "
                    f"relative position in the track. Backbone frame: " + desc)
    else:
        check_choice("input", input, INPUTS)
        module = build_openl3(backbone, clf, input=input)
        name, shape = _window_io(backbone, input)
        ref = _torch_ref(_openl3_ref(backbone, lambda e: torch.softmax(clf(e), dim=1), input))
        desc = describe_input(input)
        meta.update(_openl3_meta(backbone))
    return _finish(module, path, model_type="dj_section", input_name=name, input_shape=shape, output_name="label",
                   io_dtype=io_dtype, deployment_target=deployment_target, compress=compress, meta=meta,
                   input_desc=desc, output_desc=outputs, labels=clf.labels, reference=ref, windows=windows,
                   overwrite=overwrite, strict=strict)


def _window_io(openl3: OpenL3, input: str) -> tuple[str, tuple[int, ...]]:
    if input == "samples":
        return "samples", (1, 48000)
    return "logmel", (1, 1, int(openl3.input_repr[3:]), int(openl3.frontend.n_frames))


def _openl3_ref(openl3: OpenL3, head: Callable[[torch.Tensor], torch.Tensor], input: str
                ) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(x: torch.Tensor) -> torch.Tensor:
        """``head`` over OpenL3 of ``x`` (samples, or a log-mel patch fed to the network).

        Parameters
        ----------
        x : torch.Tensor [shape=(n, ...)]
            A batch of sample windows or log-mel patches.
        """
        if input == "samples":
            return head(openl3(x.reshape(x.shape[0], -1)))
        return head(openl3.network(x.reshape(x.shape[0], *x.shape[-3:])))

    return run


def _openl3_meta(openl3: OpenL3) -> dict[str, Any]:
    return {"backbone": {"name": openl3.name, "input_repr": openl3.input_repr, "content_type": openl3.content_type,
                         "dim": openl3.embedding_size, "sample_rate_hz": 48000, "window_s": 1.0, "hop_s": 0.5,
                         "mel": {"n_fft": 2048, "hop_samples": 242, "n_mels": int(openl3.input_repr[3:]),
                                 "fmin_hz": 0, "fmax_hz": 24000, "norm": "slaney", "db_floor": -80}},
            "weights_source": (f"OpenL3 weights {openl3.weights_path.name if openl3.weights_path else '?'} "
                               f"sha256 {openl3.weights_sha256}" if openl3.weights_sha256 else "random weights")}


def export_embedding_model(head_or_checkpoint: EmbeddingHead | str | os.PathLike[str] | dict[str, Any],
                           path: str | os.PathLike[str], *,
                           backbone: OpenL3 | FeatureFrontend | str = "features",
                           input: str = "logmel", io_dtype: str = "fp32", deployment_target: str = "macOS14",
                           compress: str | None = None, metadata: dict[str, Any] | None = None,
                           windows: np.ndarray | None = None, overwrite: bool = False,
                           strict: bool = False) -> ExportResult:
    """Export the embedding model (model type ``"embedding"``).

    ``backbone="features"`` (or a ``FeatureFrontend``): the feature frontend is numpy/librosa
    and cannot run inside Core ML, so the model is the head over the 202-d feature vector
    (input ``features``); the app computes the frontend. An OpenL3 module: the full window
    model, ``input="logmel"`` (1, 1, 128, 199) or ``"samples"`` (1, 48000) -> ``embedding_256``.

    Parameters
    ----------
    head_or_checkpoint : EmbeddingHead, or a checkpoint path or dict
    path : str or path
        Where the ``.mlpackage`` goes.
    backbone : "features", FeatureFrontend or OpenL3
        What the model's input is (see above).
    input : {"logmel", "samples"}
        The window input of an OpenL3 model.
    io_dtype : {"fp32", "fp16"}
    deployment_target : str
        One of :data:`DEPLOYMENT_TARGETS`.
    compress : {"int8", "palettize6", "palettize4"} or None
    metadata : dict or None
        Keys of :func:`build_metadata` and extras.
    windows : np.ndarray or None
        Real inputs for the parity check (feature frontend: ``(n, 202)``); None skips it.
    overwrite : bool
        Replace an existing package.
    strict : bool
        Raise :class:`ExportError` when the lint has errors or parity fails.

    Returns
    -------
    ExportResult

    Raises
    ------
    ParameterError
        ``backbone`` is neither ``"features"``/a ``FeatureFrontend`` nor an OpenL3 module.
    """
    from workbench.export.ane_layers import build_openl3

    head = cast("EmbeddingHead", _load_head(head_or_checkpoint, "embedding_head"))
    if backbone == "features" or type(backbone).__name__ == "FeatureFrontend":
        meta = dict(metadata or {})
        meta.setdefault("frontend", "not included: compute workbench.embed.features (features-v1) in the app")
        meta.setdefault("description", "Embedding model (feature frontend): the 202-d feature vector of a window "
                                       "or section to a 256-d L2-normalised embedding. The feature frontend is "
                                       "computed by the app.")
        return export_head(head, path, io_dtype=io_dtype, deployment_target=deployment_target, compress=compress,
                           metadata=meta, windows=windows, model_type="embedding", overwrite=overwrite, strict=strict)
    check_choice("input", input, INPUTS)
    if not hasattr(backbone, "network"):
        raise ParameterError(f"backbone must be 'features' or an OpenL3 module; got {type(backbone).__name__}")
    openl3 = cast("OpenL3", backbone)
    meta = _head_metadata(head, "embedding", metadata,
                          "Embedding model: OpenL3 network and the fine-tuned head, from a 1-second window to a "
                          "256-d L2-normalised embedding.")
    meta.update(_openl3_meta(openl3))
    meta["frontend"] = "included (samples input)" if input == "samples" else "not included: feed the log-mel patch"
    name, shape = _window_io(openl3, input)
    return _finish(build_openl3(openl3, head, input=input), path, model_type="embedding", input_name=name,
                   input_shape=shape, output_name="embedding_256", io_dtype=io_dtype,
                   deployment_target=deployment_target, compress=compress, meta=meta, input_desc=describe_input(input),
                   output_desc={"embedding_256": f"{head.out_dim}-d embedding of the window, unit L2 norm"},
                   labels=None, reference=_torch_ref(_openl3_ref(openl3, head, input)), windows=windows,
                   overwrite=overwrite, strict=strict)


def macos_predict(path: str | os.PathLike[str], inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Core ML's own prediction (macOS only; raises :class:`ExportError` elsewhere).

    Parameters
    ----------
    path : str or path
        A saved ``.mlpackage``.
    inputs : dict of str to np.ndarray
        Feature name -> value, shaped as the model's input.

    Returns
    -------
    dict
        Output name -> value, as Core ML returns them.
    """
    import platform

    if platform.system() != "Darwin":
        raise ExportError("Core ML prediction needs macOS (no Core ML runtime exists for Linux); "
                          "use workbench.export.mil_eval.run for a NumPy evaluation")
    import coremltools as ct

    return ct.models.MLModel(str(path), compute_units=ct.ComputeUnit.ALL).predict(inputs)
