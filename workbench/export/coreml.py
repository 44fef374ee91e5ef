"""Core ML export of the workbench's models: ML Program, fp16 compute, static shapes, metadata.

Model kinds (the registry's model types, and the audio-in backbone of :mod:`~workbench.export.audio_in`):

``"head"``        the embedding head alone: pooled backbone embedding ``(1, in_dim)`` -> ``(1, 256)``.
``"embedding"``   the embedding model, audio in by default: mono ``samples`` ``(batch, n_samples)``
                  at the backbone's rate -> spectrogram -> backbone (OpenL3 or the CNN) -> head ->
                  ``embedding_256``. OpenL3 also exports from its ``logmel`` patch; the feature
                  frontend's model takes the whole track (``(1, n_samples)`` -> one row per
                  window), or the 202-d vector (``input="features"``).
``"dj_section"``  the section classifier: audio ``samples`` over a backbone (a frame classifier),
                  or its vector input (window features) -> ``label`` (str) and ``label_probs``.
``"backbone"``    the backbone alone from audio (:func:`workbench.export.audio_in.export_backbone`).

Every model is the Neural-Engine form from :mod:`workbench.export.ane_layers` converted with
``compute_precision=FLOAT16``, an explicit deployment target, fp32 or fp16 I/O (the dtype trap:
the dtype is always set explicitly), then linted (:mod:`workbench.export.lint`) and checked for
parity with the PyTorch model by the NumPy evaluator (:mod:`workbench.export.mil_eval`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from workbench.errors import ParameterError
from workbench.export.coreml_convert import (  # noqa: F401  (re-exported)
    _CONVERTER_BARS,
    COMPRESSIONS,
    DEPLOYMENT_TARGETS,
    IO_DTYPES,
    ExportError,
    _quiet,
    _silence_converter_bars,
    _target,
    compress_model,
    convert,
    package_size,
    save_package,
)
from workbench.export.coreml_finish import (  # noqa: F401  (re-exported)
    ExportResult,
    _finish,
    _head_metadata,
    _load_head,
    _openl3_meta,
    _torch_ref,
)
from workbench.export.coreml_meta import (  # noqa: F401  (re-exported)
    DEFAULT_AUTHOR,
    DEFAULT_LICENSE,
    METADATA_PREFIX,
    MODEL_TYPES,
    apply_metadata,
    build_metadata,
    describe_input,
    read_metadata,
)
from workbench.validate import check_choice

if TYPE_CHECKING:
    import torch

    from workbench.embed.features import FeatureFrontend
    from workbench.embed.openl3 import OpenL3
    from workbench.models.heads import EmbeddingHead, SectionClassifier
    from workbench.similarity.blend import Blend

INPUTS = ("samples", "logmel")
#: Inputs of the embedding model: audio (the default), OpenL3's log-mel patch, the feature vector.
EMBEDDING_INPUTS = ("samples", "logmel", "features")


def export_head(head_or_checkpoint: EmbeddingHead | str | os.PathLike[str] | dict[str, Any], path: str | os.PathLike[str], *, io_dtype: str = "fp32",
                deployment_target: str = "macOS14", compress: str | None = None,
                metadata: dict[str, Any] | None = None, windows: np.ndarray | None = None,
                model_type: str = "head", overwrite: bool = False, strict: bool = False,
                blend: Blend | None = None) -> ExportResult:
    """Export the embedding head alone: ``embedding`` (1, in_dim) -> ``embedding_256`` (1, 256), L2-normalised.

    The ``head`` model is the head alone (its card says what search adds); the vector-in ``embedding``
    model of the feature frontend carries search's ``blend`` when one is given (output ``embedding_blend``,
    :mod:`workbench.export.search_blend`).

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
    blend : Blend or None
        Search's blend (backbone share > 0) for the ``embedding`` model; refused for the ``head`` model.
    """
    from workbench.export.ane_layers import build_head

    check_choice("model_type", model_type, ("head", "embedding"))
    if blend is not None and model_type == "head":
        raise ParameterError("the head model is the head alone (its card says what search adds); a blend goes "
                             "with model_type='embedding'")
    head = cast("EmbeddingHead", _load_head(head_or_checkpoint, "embedding_head"))
    meta = _head_metadata(head, model_type, metadata,
                          "Triplet embedding head: a pooled backbone embedding to a 256-d L2-normalised "
                          "embedding for similarity search.")
    backbone = meta.get("backbone") or {}
    module, out_name, ref = build_head(head), "embedding_256", _torch_ref(head)
    out_desc = {"embedding_256": f"{head.out_dim}-d embedding, unit L2 norm (compare with the dot product = cosine "
                                 "similarity)"}
    scopes: tuple[str, ...] = ()
    if blend is not None:
        from workbench.export.search_blend import (
            BLEND_OUTPUT,
            BLEND_SCOPES,
            ANEBlendHead,
            VectorBlend,
            blend_metadata,
            blended_reference,
        )

        module = VectorBlend(ANEBlendHead(module.head, blend)).eval()
        said = blend_metadata(blend, head.out_dim)
        meta["search_blend"], out_name, out_desc = said["search_blend"], BLEND_OUTPUT, {BLEND_OUTPUT: said["output_desc"]}
        ref, scopes = blended_reference(lambda x: x, head, blend), BLEND_SCOPES
        meta["fp32_island"] = "search's blend (the backbone's z-score and its normalisation) kept in float32"
    return _finish(module, path, model_type=model_type, input_name="embedding" if model_type == "head"
                   else "features", input_shape=(1, head.in_dim), output_name=out_name, io_dtype=io_dtype,
                   deployment_target=deployment_target, compress=compress, meta=meta,
                   input_desc=describe_input("embedding", dim=head.in_dim, backbone=backbone),
                   output_desc=out_desc, labels=None, reference=ref, windows=windows, overwrite=overwrite,
                   strict=strict, fp32_scopes=scopes)


def export_classifier(classifier_or_checkpoint: SectionClassifier | str | os.PathLike[str] | dict[str, Any],
                      path: str | os.PathLike[str], *, backbone: OpenL3 | torch.nn.Module | None = None,
                      input: str = "samples", io_dtype: str = "fp32", deployment_target: str = "macOS14",
                      compress: str | None = None, metadata: dict[str, Any] | None = None,
                      windows: np.ndarray | None = None, overwrite: bool = False, strict: bool = False,
                      features: Any = None, tracks: list[np.ndarray] | None = None) -> ExportResult:
    """Export the DJ-section classifier: ``label`` (str) and ``label_probs`` (dict over the seven labels).

    Without ``backbone`` the input is the pooled ``embedding`` (1, in_dim); with an audio
    ``backbone`` (OpenL3 or the CNN) it is an audio window (``input="samples"``,
    :func:`workbench.export.audio_in.export_audio_classifier`) or OpenL3's log-mel patch
    (``input="logmel"``) and the network runs inside.
    ``windows`` (matching the input) enables the parity check (PSNR of the probabilities and
    label agreement).

    Parameters
    ----------
    classifier_or_checkpoint : SectionClassifier, or a checkpoint path or dict
    path : str or path
        Where the ``.mlpackage`` goes.
    backbone : OpenL3, torch.nn.Module or None
        An audio backbone to run inside the model; None takes the pooled (or window-feature) vector.
    input : {"samples", "logmel"}
        The window input with a ``backbone``: audio samples, or (OpenL3 only) the log-mel patch.
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
    features : WindowFeatures or None
        With an audio ``backbone``: the classifier's window layout, for the whole-track model
        (:func:`workbench.export.track_in.export_track_classifier`).
    tracks : list of np.ndarray or None
        Whole mono tracks for that model's parity check.

    Returns
    -------
    ExportResult
    """
    import torch

    from workbench.export.ane_layers import build_head, build_openl3

    clf = cast("SectionClassifier", _load_head(classifier_or_checkpoint, "section_classifier"))
    if backbone is not None:
        check_choice("input", input, INPUTS)
    if backbone is not None and input == "samples":
        from workbench.export.audio_in import export_audio_classifier

        return export_audio_classifier(clf, path, backbone=backbone, metadata=metadata, windows=windows,
                                       io_dtype=io_dtype, deployment_target=deployment_target, compress=compress,
                                       overwrite=overwrite, strict=strict, features=features, tracks=tracks)
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
        if not hasattr(backbone, "input_repr"):
            raise ParameterError(f"input='logmel' is OpenL3's log-mel patch; the backbone is "
                                 f"{getattr(backbone, 'name', type(backbone).__name__)!r} (use input='samples')")
        backbone = cast("OpenL3", backbone)
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


def export_embedding_model(head_or_checkpoint: EmbeddingHead | str | os.PathLike[str] | dict[str, Any],
                           path: str | os.PathLike[str], *,
                           backbone: OpenL3 | FeatureFrontend | torch.nn.Module | str = "features",
                           input: str = "samples", batch: int = 1, io_dtype: str = "fp32",
                           deployment_target: str = "macOS14", compress: str | None = None,
                           metadata: dict[str, Any] | None = None, windows: np.ndarray | None = None,
                           overwrite: bool = False, strict: bool = False,
                           blend: Blend | bool | None = None, search_windows: bool = False) -> ExportResult:
    """Export the embedding model (model type ``"embedding"``).

    Where search blends the head with its backbone (the run's ``model.pt`` holds a ``"blend"`` with a
    backbone share ``w > 0``), the model outputs ``embedding_blend`` instead of ``embedding_256``: per
    window ``concat(sqrt(w) * unit(z-scored backbone), sqrt(1 - w) * head)``, whose plain cosine is
    search's window score (:mod:`workbench.export.search_blend`). With ``w = 0`` it is the head alone.

    ``input="samples"`` (the default): audio in, the backbone (OpenL3 or the trainable CNN) and
    its spectrogram inside (:func:`workbench.export.audio_in.export_audio_embedding`); for the
    feature frontend the whole track goes in and each 0.5-s window gets a row
    (:mod:`workbench.export.audio_track`). ``input="features"``: the head over the 202-d feature vector of the
    feature frontend (the app computes the frontend; the old vector-in model). ``input="logmel"``:
    OpenL3 from its log-mel patch (1, 1, 128, 199).

    Parameters
    ----------
    head_or_checkpoint : EmbeddingHead, or a checkpoint path or dict
    path : str or path
        Where the ``.mlpackage`` goes.
    backbone : "features", FeatureFrontend, OpenL3 or torch.nn.Module
        The backbone the head was trained on.
    input : {"samples", "logmel", "features"}
        The model's input (see above).
    batch : int >= 1
        Windows per prediction of an audio-in model.
    io_dtype : {"fp32", "fp16"}
    deployment_target : str
        One of :data:`DEPLOYMENT_TARGETS`.
    compress : {"int8", "palettize6", "palettize4"} or None
    metadata : dict or None
        Keys of :func:`build_metadata` and extras.
    windows : np.ndarray or None
        Real inputs for the parity check, shaped like one row of the input (audio:
        ``(n, n_samples)``; feature frontend: ``(n, 202)``); None skips it.
    overwrite : bool
        Replace an existing package.
    strict : bool
        Raise :class:`ExportError` when the lint has errors or parity fails.
    blend : Blend, bool or None
        Search's blend: None reads the checkpoint's (a path or dict; a head object has none), a
        :class:`~workbench.similarity.blend.Blend` is used as given, False exports the head alone.
    search_windows : bool
        The whole-track model's rows are search's windows (the checkpoint's ``window_s``, else 8 s; hop a
        quarter of it) instead of the frontend's frames (:mod:`workbench.export.search_windows`).

    Returns
    -------
    ExportResult

    Raises
    ------
    ParameterError
        ``input`` is not allowed for the backbone (audio from the feature frontend, the feature
        vector from another backbone, the log-mel patch from anything but OpenL3).
    """
    from workbench.export.ane_layers import build_openl3
    from workbench.export.search_blend import resolve_blend

    check_choice("input", input, EMBEDDING_INPUTS)
    found = resolve_blend(head_or_checkpoint, blend)
    head = cast("EmbeddingHead", _load_head(head_or_checkpoint, "embedding_head"))
    is_features = (isinstance(backbone, str) and backbone.startswith("features")) \
        or type(backbone).__name__ == "FeatureFrontend"
    if search_windows and input != "samples":
        raise ParameterError(f"search_windows pools a whole track's frames inside the model: input must be "
                             f"'samples'; got {input!r}")
    if input == "samples":
        from workbench.export.audio_in import export_audio_embedding
        from workbench.export.search_windows import checkpoint_window_s, export_pooled

        kw = {"backbone": backbone, "batch": batch, "metadata": metadata, "windows": windows, "io_dtype": io_dtype,
              "deployment_target": deployment_target, "compress": compress, "overwrite": overwrite, "strict": strict,
              "blend": found}
        if search_windows:
            return export_pooled(head, path, window_s=checkpoint_window_s(head_or_checkpoint), **kw)
        return export_audio_embedding(head, path, **kw)
    if input == "features":
        if not is_features:
            raise ParameterError(f"input='features' is the feature frontend's vector; the backbone is "
                                 f"{getattr(backbone, 'name', type(backbone).__name__)!r} (use input='samples')")
        meta = dict(metadata or {})
        meta.setdefault("frontend", "not included: compute workbench.embed.features (features-v1) in the app")
        meta.setdefault("description", "Embedding model (feature frontend): the 202-d feature vector of a window "
                                       "or section to a 256-d L2-normalised embedding. The feature frontend is "
                                       "computed by the app.")
        return export_head(head, path, io_dtype=io_dtype, deployment_target=deployment_target, compress=compress,
                           metadata=meta, windows=windows, model_type="embedding", overwrite=overwrite, strict=strict,
                           blend=found)
    if not hasattr(backbone, "network") or not hasattr(backbone, "input_repr"):
        raise ParameterError(f"input='logmel' is OpenL3's log-mel patch; the backbone is "
                             f"{getattr(backbone, 'name', backbone if isinstance(backbone, str) else type(backbone).__name__)!r}")
    openl3 = cast("OpenL3", backbone)
    meta = _head_metadata(head, "embedding", metadata,
                          "Embedding model: OpenL3 network and the fine-tuned head, from a 1-second window's log-mel "
                          "patch to a 256-d L2-normalised embedding.")
    meta.update(_openl3_meta(openl3))
    meta["frontend"] = "not included: feed the log-mel patch"
    name, shape = _window_io(openl3, input)
    module, out_name = build_openl3(openl3, head, input=input), "embedding_256"
    ref = _torch_ref(_openl3_ref(openl3, head, input))
    out_desc = {"embedding_256": f"{head.out_dim}-d embedding of the window, unit L2 norm"}
    scopes: tuple[str, ...] = ()
    if found is not None:  # search's blend around the head (OpenL3's map reaches it in (C, H, W) order)
        from workbench.export.search_blend import (
            BLEND_OUTPUT,
            BLEND_SCOPE,
            blend_metadata,
            blend_openl3,
            blended_reference,
            openl3_order,
        )

        order = openl3_order(openl3)
        module = blend_openl3(module, openl3, found)
        said = blend_metadata(found, head.out_dim, order="" if order is None else "in the network's (C, H, W) order")
        meta["search_blend"], out_name, out_desc = said["search_blend"], BLEND_OUTPUT, {BLEND_OUTPUT: said["output_desc"]}
        ref = blended_reference(_torch_ref(_openl3_ref(openl3, lambda e: e, input)), head, found, order=order)
        scopes = (BLEND_SCOPE,)
        meta["fp32_island"] = "search's blend (the backbone's z-score and its normalisation) kept in float32"
    return _finish(module, path, model_type="embedding", input_name=name, input_shape=shape, output_name=out_name,
                   io_dtype=io_dtype, deployment_target=deployment_target, compress=compress, meta=meta,
                   input_desc=describe_input(input), output_desc=out_desc, labels=None, reference=ref,
                   windows=windows, overwrite=overwrite, strict=strict, fp32_scopes=scopes)


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
    from workbench.export.quiet import coremltools

    ct = coremltools()

    return ct.models.MLModel(str(path), compute_units=ct.ComputeUnit.ALL).predict(inputs)
