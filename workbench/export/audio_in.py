"""Audio in, answers out: the exported models take mono float32 samples, the spectrogram inside.

A Mac app has samples (``AVAudioFile`` gives float32 at full scale +-1.0), not the workbench's
feature vectors. Every audio-in model here takes ``samples`` ``(batch, n_samples)``: mono
windows at the backbone's sample rate, and returns

- ``embedding``: the backbone's own embedding of each window (:func:`export_backbone`),
- ``embedding_256``: the trained head over the backbone (:func:`export_audio_embedding`),
- ``label`` / ``label_probs``: the section classifier over the backbone (:func:`export_audio_classifier`).

Where half precision loses the spectrogram, it stays in float32 (coremltools' op-selective
compute precision: the ops of the submodule named ``frontend``): OpenL3's DFT-by-convolution and
log-mel over 80 dB lose the quiet bins in fp16 (29 dB PSNR all-fp16, 63-67 dB with the float32
island); the package declares the island (``com.workbench.fp32_island``) and the lint counts its
ops as off the Neural Engine. The trainable CNN's frontend is reformulated for fp16 instead (peak
normalisation before the DFT, a power floor 60 dB down before the log: 73 dB all-fp16), so its
whole model computes in fp16.

The weight-free feature frontend (``features-v1``: log-mel, MFCC, contrast, chroma, onsets,
tempogram) runs inside as a *whole-track* model (:mod:`workbench.export.audio_track`, the module
:mod:`workbench.models.features_torch`): ``samples (1, n_samples)`` of any length from 1 s to
20 min -> one row per 0.5-s window, all of the frontend in float32.

What an audio-in model takes (:class:`AudioSpec`) and the torch module it converts
(:func:`audio_model`, :func:`reference`) live in :mod:`workbench.export.audio_modules`, re-exported here;
this module converts, checks and writes the packages.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.export import audio_track
from workbench.export.audio_modules import (  # noqa: F401  (re-exported: what an audio-in model is moved there)
    AUDIO_BACKBONES,
    AUDIO_INPUT,
    AudioSpec,
    audio_model,
    audio_module,
    audio_spec,
    backbone_metadata,
    reference,
)
from workbench.export.audio_terms import LEVEL, MONO_MIX  # noqa: F401  (how the app mixes and scales its audio)

if TYPE_CHECKING:
    from workbench.export.coreml_finish import ExportResult
    from workbench.models.heads import EmbeddingHead, SectionClassifier
    from workbench.similarity.blend import Blend


def _export(module: Any, spec: AudioSpec, path: str | os.PathLike[str], *, model_type: str, batch: int,
            output_name: str, output_desc: dict[str, str], labels: tuple[str, ...] | None, meta: dict[str, Any],
            reference_fn: Any, windows: np.ndarray | None, fp32_frontend: bool | None = None,
            extra_fp32_scopes: tuple[str, ...] = (), **kw: Any) -> ExportResult:
    from workbench.export.coreml_finish import _finish

    kw = {"io_dtype": "fp32", "deployment_target": "macOS14", "compress": None, "overwrite": False, "strict": False,
          **kw}
    if fp32_frontend is not None:
        spec = replace(spec, fp32_scopes=("frontend",) if fp32_frontend else ())
    frontend = getattr(module, "frontend", None)
    if frontend is not None and hasattr(frontend, "floor"):  # OpenL3's: its own floor where fp32 holds it
        from workbench.export.ane_openl3 import EXACT_FLOOR, SPEC_FLOOR

        frontend.floor = EXACT_FLOOR if spec.fp32_scopes else SPEC_FLOOR
    if extra_fp32_scopes:  # e.g. search's blend (its standardisation of the backbone vector)
        spec = replace(spec, fp32_scopes=spec.fp32_scopes + tuple(extra_fp32_scopes))
    meta = {**meta, **spec.metadata(), "batch": batch,
            "frontend": "included: the spectrogram is computed inside the model from the samples"}
    if spec.fp32_scopes:
        own = len(spec.fp32_scopes) > len(extra_fp32_scopes)  # the frontend's island, and/or search's blend's
        said = (["the spectrogram frontend"] if own else []) + (
            ["what search's blend or windows need exact"] if extra_fp32_scopes else [])
        meta["fp32_island"] = f"{' and '.join(said)} kept in float32 (submodules: {', '.join(spec.fp32_scopes)})"
    if spec.track_range:
        kw["input_range"] = {1: spec.track_range}
    return _finish(module, path, model_type=model_type, input_name=AUDIO_INPUT, input_shape=(batch, spec.n_samples),
                   output_name=output_name, meta=meta, input_desc=spec.describe(batch), output_desc=output_desc,
                   labels=labels, reference=reference_fn, windows=windows, fp32_scopes=spec.fp32_scopes, **kw)


def export_backbone(backbone: Any, path: str | os.PathLike[str], *, batch: int = 1, model_type: str = "backbone",
                    metadata: dict[str, Any] | None = None, windows: np.ndarray | None = None,
                    **kw: Any) -> ExportResult:
    """Export the backbone alone: ``samples`` ``(batch, n_samples)`` -> ``embedding`` ``(batch, dim)``.

    Parameters
    ----------
    backbone : OpenL3 or torch.nn.Module
        An audio backbone (:func:`audio_spec`); the feature frontend raises.
    path : str or path
        Where the ``.mlpackage`` goes.
    batch : int >= 1
        Windows per prediction.
    model_type : {"backbone", "embedding"}
        ``"embedding"`` for a backbone trained end to end as the embedding model (the CNN run's).
    metadata : dict or None
        Extra metadata keys (a run's ``metrics``, ``run_id``, ``version``... go to their fields).
    windows : np.ndarray [shape=(n, n_samples)] or None
        Real audio windows for the parity check (n a multiple of ``batch``); None skips it.
    **kw
        ``io_dtype``, ``deployment_target``, ``compress``, ``overwrite``, ``strict`` of
        :func:`workbench.export.coreml.export_head`, and ``fp32_frontend`` (bool: keep the
        spectrogram frontend in float32 or not; None: OpenL3 yes, the CNN no).

    Returns
    -------
    ExportResult
        Model type ``"backbone"`` (not a registry type: the app's frame embedder).
    """
    from workbench.export.coreml_meta import build_metadata
    from workbench.validate import check_choice

    check_choice("model_type", model_type, ("backbone", "embedding"))
    spec = audio_spec(backbone)
    extra = backbone_metadata(backbone)
    given = dict(metadata or {})
    fields = {k: given.pop(k) for k in ("metrics", "fingerprint", "run_id", "version", "author", "license") if k in given}
    given.pop("backbone", None)
    meta = build_metadata(model_type=model_type, description=f"{spec.name} embedding of {audio_track.what_in(spec)} "
                          f"({spec.dim} floats), from mono samples at {spec.sample_rate} Hz.",
                          backbone=extra.get("backbone"), weights_source=extra.get("weights_source"),
                          extra=given, **fields)
    return _export(audio_model(backbone, batch=batch), spec, path, model_type=model_type, batch=batch,
                   output_name="embedding", output_desc={"embedding": f"{spec.dim}-d {spec.name} embedding of each "
                                                                      "window (one row per window)"},
                   labels=None, meta=meta, reference_fn=reference(backbone), windows=windows, **kw)


def export_audio_embedding(head: EmbeddingHead, path: str | os.PathLike[str], *, backbone: Any, batch: int = 1,
                           metadata: dict[str, Any] | None = None, windows: np.ndarray | None = None,
                           blend: Blend | None = None, **kw: Any) -> ExportResult:
    """Export the embedding model from audio: ``samples`` -> backbone -> head -> ``embedding_256``.

    With search's ``blend`` (backbone share > 0) the output is ``embedding_blend``, the blended unit
    vector of :mod:`workbench.export.search_blend`, whose plain cosine is search's window score.

    Parameters
    ----------
    head : EmbeddingHead
        The trained head (its ``in_dim`` is the backbone's size).
    path : str or path
    backbone : OpenL3 or torch.nn.Module
    batch : int >= 1
    metadata : dict or None
        Keys of :func:`~workbench.export.coreml_meta.build_metadata` and extras.
    windows : np.ndarray [shape=(n, n_samples)] or None
    blend : Blend or None
        Search's blend of the head with the backbone (``weight > 0``); None: the head alone.
    **kw
        See :func:`export_backbone`.

    Returns
    -------
    ExportResult
    """
    from workbench.export.coreml_finish import _head_metadata

    spec = audio_spec(backbone)
    meta = _head_metadata(head, "embedding", metadata, f"Embedding model: {spec.name} and the trained head, from "
                          f"{audio_track.what_in(spec)} to a {head.out_dim}-d L2-normalised embedding.")
    meta.update(backbone_metadata(backbone),
                **({"standardisation": audio_track.STANDARDISATION} if spec.track_range else {}))
    if blend is None:
        return _export(audio_model(backbone, head, batch=batch), spec, path, model_type="embedding", batch=batch,
                       output_name="embedding_256",
                       output_desc={"embedding_256": f"{head.out_dim}-d embedding of each window, unit L2 norm (dot "
                                                     "product = cosine similarity)"},
                       labels=None, meta=meta, reference_fn=reference(backbone, head), windows=windows, **kw)
    from workbench.export.search_blend import BLEND_OUTPUT, BLEND_SCOPES, blended_parts

    parts = blended_parts(backbone, head, blend, reference(backbone), meta=meta,
                          what=f"{spec.name} and the trained head", row=audio_track.what_in(spec))
    return _export(audio_model(backbone, head, batch=batch, blend=blend), spec, path, model_type="embedding",
                   batch=batch, output_name=BLEND_OUTPUT, output_desc=parts["output_desc"], labels=None, meta=meta,
                   reference_fn=parts["reference"], windows=windows, extra_fp32_scopes=BLEND_SCOPES, **kw)


def export_audio_classifier(classifier: SectionClassifier, path: str | os.PathLike[str], *, backbone: Any,
                            metadata: dict[str, Any] | None = None, windows: np.ndarray | None = None,
                            features: Any = None, tracks: list[np.ndarray] | None = None,
                            **kw: Any) -> ExportResult:
    """Export the section classifier from audio: ``samples`` ``(1, n_samples)`` -> ``label``, ``label_probs``.

    A classifier over the backbone's frame embedding itself (``in_dim`` = the backbone's size)
    gets a one-window model. A classifier over window features with context or track-relative
    blocks (:class:`~workbench.train.sections.WindowFeatures`) needs the whole track: pass its
    layout as ``features`` for the whole-track model of
    :func:`workbench.export.track_in.export_track_classifier` (``samples (1, n)`` -> per-window
    ``label_probs``, ``label_index``, ``times_s``; the feature frontend ``"features"`` runs as
    its torch port); without ``features`` it is refused.

    Parameters
    ----------
    classifier : SectionClassifier
    path : str or path
    backbone : OpenL3 or torch.nn.Module
    metadata : dict or None
    windows : np.ndarray [shape=(n, n_samples)] or None
    features : WindowFeatures or None
        The classifier's window layout: exports the whole-track model.
    tracks : list of np.ndarray [shape=(n,)] or None
        Whole mono tracks at the frontend's rate for the whole-track model's parity check.
    **kw
        See :func:`export_backbone` (and ``temperature``, ``min_s``, ``max_s`` of the whole-track export).

    Returns
    -------
    ExportResult

    Raises
    ------
    ParameterError
        The classifier's input is not the backbone's frame embedding and no ``features`` layout is given.
    """
    from workbench.export.coreml_finish import _head_metadata

    if features is not None:
        from workbench.export.track_in import export_track_classifier, track_frontend

        frontend, frames_fn = track_frontend(backbone)
        return export_track_classifier(classifier, path, frontend=frontend, features=features, tracks=tracks,
                                       metadata=metadata, frames_fn=frames_fn, **kw)
    spec = audio_spec(backbone)
    if spec.track_range:
        raise ParameterError(f"{spec.name} takes the whole track (one row per window) and a Core ML classifier "
                             "returns one label: export the backbone model and the vector-in section model")
    if classifier.in_dim != spec.dim:
        raise ParameterError(
            f"the section classifier takes {classifier.in_dim} floats, not the {spec.dim}-d frame embedding of "
            f"{spec.name}: window features with context and track-relative blocks need the whole track; pass "
            "features=<its WindowFeatures layout> for the whole-track model (samples (1, n) -> per-window labels), "
            "or export the backbone model and the vector-in section model")
    meta = _head_metadata(classifier, "dj_section", metadata, "DJ section classifier from audio: predicts intro, build, "
                          "drop, break, outro, verse or chorus for a window of a track.")
    meta.update(backbone_metadata(backbone))
    outputs = {"label": "Predicted DJ section label (one of: " + ", ".join(classifier.labels) + ")",
               "label_probs": "Probability of each section label (softmax, sums to 1)"}
    return _export(audio_model(backbone, classifier), spec, path, model_type="dj_section", batch=1,
                   output_name="label", output_desc=outputs, labels=tuple(classifier.labels), meta=meta,
                   reference_fn=reference(backbone, classifier), windows=windows, **kw)


#: Real audio windows (whole-track excerpts for the feature frontend) for the parity checks.
file_windows = audio_track.file_windows
