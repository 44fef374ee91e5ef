"""The Core ML conversion steps: PyTorch -> ML Program, weight compression, saving a package.

Split out of :mod:`workbench.export.coreml`, which re-exports every name here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError, WorkbenchError
from workbench.validate import check_choice

if TYPE_CHECKING:
    import torch

IO_DTYPES = ("fp32", "fp16")
COMPRESSIONS = ("int8", "palettize6", "palettize4")
DEPLOYMENT_TARGETS = ("macOS13", "macOS14", "macOS15", "iOS16", "iOS17", "iOS18")


class ExportError(WorkbenchError, RuntimeError):
    """The conversion or its checks failed."""


# -- validation -------------------------------------------------------------------------

def _target(name: str) -> Any:
    from workbench.export.quiet import coremltools

    ct = coremltools()

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
            deployment_target: str = "macOS14", labels: tuple[str, ...] | None = None,
            fp32_scopes: tuple[str, ...] = (), input_range: dict[int, tuple[int, int]] | None = None) -> Any:
    """Trace ``module`` and convert it to an fp16 ML Program with static shapes (or the flexible ``input_range``).

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
    fp32_scopes : tuple of str
        Names of submodules (``"frontend"``) whose ops stay in float32 (coremltools'
        op-selective compute precision): the float32 island of a spectrogram frontend that half
        precision would lose. Those ops run on the GPU or CPU, the rest in fp16.
    input_range : dict of int to (int, int), or None
        Flexible input axes (``{1: (lower, upper)}``, coremltools ``RangeDim``; the traced example
        has ``input_shape``): a whole-track model. None: every axis static.

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
    from workbench.export.quiet import coremltools

    ct = coremltools()
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
        precision: Any = ct.precision.FLOAT16
        if fp32_scopes:
            precision = ct.transform.FP16ComputePrecision(op_selector=lambda op: not in_scopes(op, fp32_scopes))
        try:
            shape: Any = input_shape
            if input_range:
                shape = ct.Shape(shape=tuple(ct.RangeDim(lower_bound=int(input_range[i][0]),
                                                         upper_bound=int(input_range[i][1]), default=int(d))
                                             if i in input_range else int(d) for i, d in enumerate(input_shape)))
            return ct.convert(traced, inputs=[ct.TensorType(name=input_name, shape=shape, dtype=dtype)],
                              outputs=outputs, convert_to="mlprogram", compute_precision=precision,
                              minimum_deployment_target=target, skip_model_load=True, **kwargs)
        except Exception as exc:  # noqa: BLE001  (the converter raises many types)
            raise ExportError(f"coremltools could not convert the {type(module).__name__}: {exc}") from exc


def in_scopes(op: Any, scopes: tuple[str, ...]) -> bool:
    """Whether a MIL op was converted from one of the named submodules (its TorchScript module path).

    Parameters
    ----------
    op : coremltools MIL Operation
        An op of a program converted from a traced module (it carries ``op.scopes``).
    scopes : tuple of str
        Submodule names (``"frontend"``); an op whose module path contains one matches.

    Returns
    -------
    bool
    """
    from coremltools.converters.mil.mil.scope import ScopeSource

    names = op.scopes.get(ScopeSource.TORCHSCRIPT_MODULE_NAME, []) if getattr(op, "scopes", None) else []
    return any(str(n) in scopes for n in names)


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
    from workbench.export.quiet import coremltools

    coremltools()  # its import-time noise left out
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
