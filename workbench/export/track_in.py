"""The whole-track audio-in section model: export, its Python reference and its parity check.

A section classifier over window features needs the whole track (context of ±16 s, the track's
mean, the position in the track), so its audio-in model takes a whole track:

- input ``samples`` ``(1, n)``: the track, mono float32 at the frontend's rate, full scale; ``n``
  is flexible (coremltools ``RangeDim``, from ``min_s`` to ``max_s`` seconds);
- outputs ``label_probs`` ``(n_windows, n_labels)`` (softmax; labels in the metadata's order),
  ``label_index`` ``(n_windows,)`` int32 (the argmax) and ``times_s`` ``(n_windows,)``, the centre
  of each window (``offset_s + i * hop_s``, also stated in the metadata).

Why one flexible-length input rather than a flexible batch of windows: the frames of the feature
frontend depend on their neighbours (an STFT centred across window edges, an 8.9-s tempogram),
and every window feature needs the whole track; only the whole track gives the same frames and
features as the Python path. The price: a flexible shape and the float32 feature stage run on the
GPU or CPU (the lint reports the dynamic shapes as Neural-Engine errors; the card says so).

The section grammar and smoothing (:mod:`workbench.train.sections.grammar`) stay in the app or in
Python: the model gives per-window probabilities (a calibrated run's temperature is applied inside).
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.export.audio_terms import LEVEL, MONO_MIX

if TYPE_CHECKING:
    from workbench.export.coreml_finish import ExportResult
    from workbench.export.mil_eval import ParityReport
    from workbench.export.track_model import FrontendGrid, TrackSectionModel
    from workbench.models.heads import SectionClassifier
    from workbench.train.sections.features import WindowFeatures

#: Input and outputs of a whole-track model.
TRACK_INPUT = "samples"
TRACK_OUTPUTS = ("label_probs", "label_index", "times_s")
#: Sub-modules kept in float32: the frontend, the track's length, the window features and times (means
#: over thousands of frames, times in seconds and sample counts in the millions do not fit fp16), and the
#: classifier: its inputs are z-scores within the track (``track_norm``), and a flexible-length model runs on
#: the GPU/CPU, not the Neural Engine, so fp16 would buy nothing (it flipped near-tied labels).
TRACK_FP32_SCOPES = ("frontend", "duration", "features", "times", "classifier")


def track_frontend(backbone: Any) -> tuple[Any, Callable[[np.ndarray], np.ndarray] | None]:
    """The whole-track torch frontend of a backbone and its Python twin for the parity reference.

    Parameters
    ----------
    backbone : FeatureFrontend, "features", "features-v1" or torch.nn.Module
        The feature frontend becomes its torch port
        (:func:`workbench.models.features_torch.features_module`, checked against
        ``FeatureFrontend.embed``); a module with a whole-track forward is used as it is.

    Returns
    -------
    (torch.nn.Module, callable or None)
        The frontend and ``frames_fn`` of :func:`track_reference` (None: the module itself in float64).

    Raises
    ------
    ParameterError
        A backbone with no whole-track forward (:func:`~workbench.export.track_model.frontend_grid`).
    """
    from workbench.export.track_model import frontend_grid

    name = backbone if isinstance(backbone, str) else type(backbone).__name__
    if name in ("features", "features-v1", "FeatureFrontend"):
        from workbench.embed.features import FEATURES_SR, FeatureFrontend
        from workbench.models.features_torch import features_module

        fe = backbone if isinstance(backbone, FeatureFrontend) else FeatureFrontend()
        if (fe.window_s, fe.hop_s) != (1.0, 0.5):
            raise ParameterError(f"the torch feature frontend has window_s=1.0 and hop_s=0.5; got window_s={fe.window_s}, "
                                 f"hop_s={fe.hop_s}")
        return features_module(), lambda y: fe.embed(np.asarray(y, np.float32), sr=FEATURES_SR)[0]
    frontend_grid(backbone)
    return backbone, None


def track_reference(model: TrackSectionModel, *, frames_fn: Callable[[np.ndarray], np.ndarray] | None = None
                    ) -> Callable[[np.ndarray], np.ndarray]:
    """The Python path the track model must reproduce: frames -> ``WindowFeatures.transform`` -> classifier -> softmax.

    Parameters
    ----------
    model : TrackSectionModel
        Its frontend, layout, classifier and temperature (copied to float64; the model is not changed).
    frames_fn : callable or None
        ``frames_fn(samples (n,)) -> (n_windows, d)`` frames of the Python frontend (the librosa
        feature frontend's ``embed``); None runs the model's torch frontend in float64.

    Returns
    -------
    callable
        ``run(samples (n,)) -> (n_windows, n_labels)`` float32 probabilities.
    """
    import torch

    grid = model.grid
    spec = model.features.spec
    frontend = copy.deepcopy(model.frontend).double().eval()
    clf = copy.deepcopy(model.classifier).double().eval()
    temperature = model.temperature

    def run(samples: np.ndarray) -> np.ndarray:
        """Probabilities of every window of one track.

        Parameters
        ----------
        samples : np.ndarray [shape=(n,)]
        """
        y = np.asarray(samples, dtype=np.float64).reshape(-1)
        with torch.no_grad():
            frames = (np.asarray(frames_fn(y), dtype=np.float64) if frames_fn is not None
                      else frontend(torch.from_numpy(y[None])).numpy())
            times = grid.offset_s + np.arange(len(frames)) * grid.hop_s
            x = spec.transform(frames, times, duration_s=len(y) / grid.sample_rate)
            logits = clf(torch.from_numpy(x.astype(np.float64))) / temperature
            return torch.softmax(logits, dim=1).float().numpy()

    return run


def track_parity(path: str | os.PathLike[str], reference: Callable[[np.ndarray], np.ndarray],
                 tracks: Sequence[np.ndarray]) -> ParityReport:
    """Run the saved track program on whole tracks with the NumPy evaluator and compare with ``reference``.

    Parameters
    ----------
    path : str or path
        The ``.mlpackage``.
    reference : callable
        ``reference(samples (n,)) -> (n_windows, n_labels)`` (:func:`track_reference`).
    tracks : sequence of np.ndarray [shape=(n,)]
        Mono tracks at the model's rate.

    Returns
    -------
    ParityReport
        ``n_windows`` over all tracks; PSNR of the probabilities; the share of windows with the same top label.

    Raises
    ------
    ParameterError
        No track, or the program gives another number of windows than the reference.
    """
    from workbench.export.mil_eval import (
        FP16_MAX,
        ParityReport,
        RangeFinding,
        Trace,
        load_program,
        psnr_db,
        run,
    )

    if not tracks:
        raise ParameterError("tracks must hold at least one mono track for the parity check; got none")
    program = load_program(path)
    trace = Trace()
    got, want = [], []
    for i, y in enumerate(tracks):
        x = np.asarray(y, np.float32).reshape(1, -1)
        probs = np.asarray(run(program, {TRACK_INPUT: x}, trace=trace)["label_probs"], np.float32)
        ref = np.asarray(reference(x[0]), np.float32)
        if probs.shape != ref.shape:
            raise ParameterError(f"track {i}: the program gives {probs.shape} probabilities, the reference {ref.shape}")
        got.append(probs)
        want.append(ref)
    actual, ref = np.concatenate(got), np.concatenate(want)
    stats = [s for s in trace.ops.values() if s.dtype == "float16"]
    worst = max(stats, key=lambda s: s.max_abs) if stats else None
    tops = sorted(stats, key=lambda s: -s.max_abs)[:5]
    return ParityReport(
        n_windows=len(actual), psnr_db=psnr_db(actual, ref), max_abs_error=float(np.abs(actual - ref).max()),
        label_agreement=float(np.mean(actual.argmax(axis=1) == ref.argmax(axis=1))),
        fp16_max_abs=worst.max_abs if worst else 0.0, fp16_worst_op=f"{worst.op_type} {worst.op}" if worst else "",
        fp16_overflow=tuple(s.op for s in stats if s.overflow or s.nonfinite),
        top_ranges=tuple(RangeFinding(s.op, s.op_type, s.max_abs,
                                      20 * math.log10(FP16_MAX / s.max_abs) if s.max_abs else math.inf) for s in tops))


def convert_track(model: TrackSectionModel, *, min_s: float, max_s: float, io_dtype: str = "fp32",
                  deployment_target: str = "macOS14", fp32_scopes: tuple[str, ...] | None = None) -> Any:
    """Trace the track model and convert it with a flexible input length (``RangeDim``).

    Parameters
    ----------
    model : TrackSectionModel
    min_s, max_s : float
        The shortest and longest track the input accepts, in seconds (``0 < min_s < max_s``).
    io_dtype : {"fp32", "fp16"}
    deployment_target : str
    fp32_scopes : tuple of str or None
        Sub-modules computed in float32, the rest in fp16 (e.g. :data:`TRACK_FP32_SCOPES` without
        ``"classifier"``); None (default): the whole program in float32, as a flexible-length model
        runs on the GPU/CPU anyway.

    Returns
    -------
    coremltools.models.MLModel
        Not loaded.

    Raises
    ------
    ExportError
        coremltools could not convert it.
    """
    import torch

    from workbench.export.coreml_convert import IO_DTYPES, ExportError, _quiet, _target, in_scopes
    from workbench.export.quiet import coremltools
    from workbench.validate import check_choice

    ct = coremltools()
    check_choice("io_dtype", io_dtype, IO_DTYPES)
    rate = model.grid.sample_rate
    if not (isinstance(min_s, (int, float)) and isinstance(max_s, (int, float)) and 0 < min_s < max_s):
        raise ParameterError(f"min_s and max_s must be seconds with 0 < min_s < max_s; got {min_s!r}, {max_s!r}")
    lo, hi = int(math.ceil(min_s * rate)), int(max_s * rate)
    default = min(max(lo, 30 * rate), hi)
    dtype = np.float16 if io_dtype == "fp16" else np.float32
    with torch.no_grad(), _quiet():
        traced = torch.jit.trace(model.eval(), torch.zeros(1, default), check_trace=False)
        precision = ct.precision.FLOAT32 if fp32_scopes is None else \
            ct.transform.FP16ComputePrecision(op_selector=lambda op: not in_scopes(op, fp32_scopes))
        try:
            return ct.convert(traced, inputs=[ct.TensorType(name=TRACK_INPUT, shape=(1, ct.RangeDim(lo, hi, default)),
                                                            dtype=dtype)],
                              outputs=[ct.TensorType(name="label_probs", dtype=dtype), ct.TensorType(name="label_index"),
                                       ct.TensorType(name="times_s", dtype=dtype)],
                              convert_to="mlprogram", compute_precision=precision,
                              minimum_deployment_target=_target(deployment_target), skip_model_load=True)
        except Exception as exc:  # noqa: BLE001  (the converter raises many types)
            raise ExportError(f"coremltools could not convert the track section model: {exc}") from exc


def track_metadata(grid: FrontendGrid, features: WindowFeatures, *, min_s: float, max_s: float) -> dict[str, Any]:
    """The ``com.workbench.*`` keys of a track model's input: rate, hop, window times, mono mix, level, layout.

    Parameters
    ----------
    grid : FrontendGrid
    features : WindowFeatures
    min_s, max_s : float
        Accepted track lengths in seconds.
    """
    return {"sample_rate": grid.sample_rate, "window_samples": int(round(grid.window_s * grid.sample_rate)),
            "window_s": grid.window_s, "hop_s": round(grid.hop_s, 9), "channels": MONO_MIX, "level": LEVEL,
            "input": TRACK_INPUT, "track_in": {
                "min_s": float(min_s), "max_s": float(max_s), "times_s": grid.times_formula(),
                "window_features": features.to_dict(), "feature_groups": features.group_names(),
                "smoothing": "none inside: per-window probabilities; the section grammar and smoothing "
                             "(workbench.train.sections.grammar) run in the app or in Python"},
            "frontend": f"included: {grid.name} frames computed inside the model from the whole track's samples"}


def describe_input(grid: FrontendGrid, *, min_s: float, max_s: float) -> str:
    """The ``samples`` input description stored in the package.

    Parameters
    ----------
    grid : FrontendGrid
    min_s, max_s : float
        Accepted track lengths in seconds.
    """
    return (f"a whole track, {MONO_MIX}, {LEVEL}, at {grid.sample_rate} Hz. Shape (1, n), n flexible from "
            f"{int(math.ceil(min_s * grid.sample_rate))} to {int(max_s * grid.sample_rate)} samples "
            f"({min_s:g} s to {max_s:g} s).")


def describe_outputs(grid: FrontendGrid, labels: Sequence[str]) -> dict[str, str]:
    """The output descriptions stored in the package.

    Parameters
    ----------
    grid : FrontendGrid
    labels : sequence of str
        The classifier's labels, in output order.
    """
    names = ", ".join(labels)
    return {"label_probs": f"(n_windows, {len(labels)}) probability of each section label per window (softmax, rows "
                           f"sum to 1), columns in the order {names}",
            "label_index": f"(n_windows,) int32 index of each window's top label into ({names})",
            "times_s": f"(n_windows,) centre of each window in seconds: {grid.times_formula()}; "
                       f"windows every {grid.hop_s:.6g} s"}


def export_track_classifier(classifier: SectionClassifier, path: str | os.PathLike[str], *, frontend: Any,
                            features: WindowFeatures, tracks: Sequence[np.ndarray] | None = None,
                            metadata: dict[str, Any] | None = None, temperature: float = 1.0, min_s: float = 10.0,
                            max_s: float = 1800.0, frames_fn: Callable[[np.ndarray], np.ndarray] | None = None,
                            io_dtype: str = "fp32", deployment_target: str = "macOS14", compress: str | None = None,
                            overwrite: bool = False, strict: bool = False) -> ExportResult:
    """Export a window-feature section classifier as one whole-track audio-in model.

    Parameters
    ----------
    classifier : SectionClassifier
        Trained on ``features`` over ``frontend``'s frames.
    path : str or path
        Where the ``.mlpackage`` goes.
    frontend : torch.nn.Module
        Whole-track frontend ``samples (1, n) -> (n_windows, d)`` (:func:`~workbench.export.track_model.frontend_grid`).
    features : WindowFeatures
        The classifier's window layout (its ``"bars"`` group is refused: it needs downbeats).
    tracks : sequence of np.ndarray [shape=(n,)] or None
        Mono tracks at the frontend's rate for the parity check; None skips it.
    metadata : dict or None
        Keys of :func:`~workbench.export.coreml_meta.build_metadata` and extras.
    temperature : float > 0
        A calibrated run's temperature, applied to the logits inside the model.
    min_s, max_s : float
        Accepted track lengths in seconds.
    frames_fn : callable or None
        The Python frontend for the parity reference (:func:`track_reference`).
    io_dtype, deployment_target, compress, overwrite, strict
        As :func:`workbench.export.coreml.export_classifier`; ``strict`` leaves out the lint's
        dynamic-shape errors, which a flexible-length model has by design.

    Returns
    -------
    ExportResult
        Model type ``"dj_section"``.

    Raises
    ------
    ParameterError
        The layout cannot be computed from audio, or does not match the classifier.
    ExportError
        ``strict`` and a check failed.
    """
    from workbench.export.coreml_convert import (
        COMPRESSIONS,
        ExportError,
        compress_model,
        package_size,
        save_package,
    )
    from workbench.export.coreml_finish import ExportResult, _head_metadata
    from workbench.export.coreml_meta import apply_metadata
    from workbench.export.lint import lint
    from workbench.export.track_model import TrackSectionModel
    from workbench.validate import check_choice

    if compress is not None:
        check_choice("compress", compress, COMPRESSIONS)
    model = TrackSectionModel(frontend, features, classifier, temperature=temperature)
    grid = model.grid
    t0 = time.perf_counter()
    mlmodel = convert_track(model, min_s=min_s, max_s=max_s, io_dtype=io_dtype, deployment_target=deployment_target)
    if compress:
        mlmodel = compress_model(mlmodel, compress)
    meta = _head_metadata(classifier, "dj_section", metadata, "DJ section classifier from a whole track's audio: "
                          "probabilities of intro, build, drop, break, outro, verse and chorus for every window.")
    meta.update(track_metadata(grid, features, min_s=min_s, max_s=max_s))
    meta["temperature"] = float(temperature)
    meta["fp32_island"] = (f"the whole model ({', '.join(TRACK_FP32_SCOPES)}) computes in float32: a "
                          "flexible-length model runs on the GPU/CPU")
    meta["compute_precision"] = "ML Program, float32 throughout (a flexible-length model runs on the GPU/CPU)"
    inputs = {TRACK_INPUT: describe_input(grid, min_s=min_s, max_s=max_s)}
    outputs = describe_outputs(grid, classifier.labels)
    lo_n, hi_n = int(math.ceil(min_s * grid.sample_rate)), int(max_s * grid.sample_rate)
    meta["input_range"] = {"1": [lo_n, hi_n]}  # declared: the lint reads dynamic shapes as one warning, not errors
    meta.update({"io_dtype": io_dtype, "deployment_target": deployment_target, "compression": compress or "none",
                 "input_shape": [1, f"{lo_n}..{hi_n}"],
                 "inputs": inputs, "outputs": outputs})
    apply_metadata(mlmodel, meta, inputs=inputs, outputs=outputs)
    p = save_package(mlmodel, path, overwrite=overwrite)
    report = lint(p)
    t1 = time.perf_counter()
    par = track_parity(p, track_reference(model, frames_fn=frames_fn), tracks) if tracks else None
    result = ExportResult(path=p, model_type="dj_section", size_bytes=package_size(p), io_dtype=io_dtype,
                          deployment_target=deployment_target, compress=compress, lint=report, parity=par, metadata=meta,
                          seconds=time.perf_counter() - t0, parity_s=time.perf_counter() - t1)
    if strict:
        if report.errors or (par is not None and not par.passed()):
            raise ExportError(f"export checks failed (strict=True):\n{result}")
    return result


def track_job(run: Any, library: Any, model_path: Any, meta: dict[str, Any], kw: dict[str, Any], *,
              n_tracks: int = 2) -> Callable[[Any], ExportResult] | None:
    """The whole-track export of a sections run on the feature frontend, or None where it has none.

    None for another backbone, a classifier without a saved window layout, a layout the whole-track
    features cannot compute from audio (the ``"bars"`` group, context in bars, a ``norm="rank"``
    track normalisation: :class:`~workbench.train.sections.features_torch.TorchWindowFeatures`
    refuses them) or one that does not match the classifier: the caller keeps the vector-in model then. The run's calibrated temperature goes inside; the parity check uses the
    first ``n_tracks`` readable library tracks of 10 s to 30 min, whole.

    Parameters
    ----------
    run : Run
        A sections run (``info["backbone"]["name"]`` says its backbone).
    library : Library
        Its library (tracks for the parity check).
    model_path : path
        The run's section-model file (:func:`~workbench.train.sections.trainer.save_section_model`).
    meta : dict
        Metadata for the package.
    kw : dict
        ``io_dtype``, ``deployment_target``, ``compress``.
    n_tracks : int
        Whole tracks for the parity check.

    Returns
    -------
    callable or None
        ``job(path) -> ExportResult``.
    """
    from workbench.audio import load
    from workbench.errors import WorkbenchError
    from workbench.train.sections.model_file import load_section_model

    if (run.info.get("backbone") or {}).get("name") != "features-v1":
        return None
    try:
        trainer, features, _ = load_section_model(model_path)
    except (ParameterError, OSError, RuntimeError):
        return None
    from workbench.train.sections.features_torch import TorchWindowFeatures

    clf = trainer.model_
    if clf.in_dim != features.dim(202):
        return None
    try:  # the same checks the export would fail on, asked before a job is promised
        TorchWindowFeatures(features, hop_s=0.5, offset_s=0.5, frame_dim=202)
    except ParameterError:
        return None
    tracks: list[np.ndarray] = []
    for t in library.tracks():
        if len(tracks) >= n_tracks:
            break
        try:
            y, _ = load(t.path, sr=22050, mono=True)
        except WorkbenchError:
            continue
        if 10 * 22050 <= len(y) <= 1800 * 22050:
            tracks.append(y)
    meta = {**meta, "audio_in": "whole track: samples (1, n) -> label_probs, label_index, times_s of every window"}
    temperature = float(getattr(trainer, "temperature_", 1.0))

    def job(path: Any) -> ExportResult:
        """Export the whole-track model to ``path``.

        Parameters
        ----------
        path : str or path
        """
        frontend, frames_fn = track_frontend("features")
        return export_track_classifier(clf, path, frontend=frontend, features=features, tracks=tracks or None,
                                       metadata=meta, temperature=temperature, frames_fn=frames_fn, **kw)

    return job
