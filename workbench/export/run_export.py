"""Export a training run: its model(s) -> checked Core ML packages -> :class:`workbench.registry.Registry`.

- :func:`export_run`: the whole export of one run. Only runs whose training job completed
  (:func:`not_exportable_reason`), and only models that pass their blocking gates
  (:mod:`workbench.evaluate.gates`) unless ``force=True``.
- :func:`exportable_runs`: the runs of a library that may be exported.
- :func:`run_windows`: real backbone windows of the library's tracks for the parity check.

Re-exported by :mod:`workbench.export`. Nothing heavy is imported here until used (coremltools and
torch load inside functions).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.export.coreml import ExportResult
    from workbench.library import Library
    from workbench.registry import Registry
    from workbench.registry_types import Version
    from workbench.runs import Run
    from workbench.train.sections.features import WindowFeatures

__all__ = ["export_run", "exportable_runs", "not_exportable_reason", "run_windows", "track_norm_metadata"]

#: Model types a run of each kind exports.
_TYPES_OF_KIND = {"sections": ("dj_section",), "embeddings": ("head", "embedding")}


def not_exportable_reason(run: Run, library: Library) -> str | None:
    """Why a run may not be exported, or None when it may.

    A run is exportable when it has a ``model.pt`` and the job that wrote it is recorded in this
    library as completed with this run id. A run folder whose job is not completed (the process
    was killed between writing the folder and recording the job, or the job failed) is not.

    Parameters
    ----------
    run : Run
        A training run (:func:`workbench.runs.load_run`).
    library : Library
        The library whose ``jobs`` table should record the run's job.

    Returns
    -------
    str or None
        The reason, naming the run and its job; None when the run may be exported.
    """
    if run.model_path is None:
        return f"run {run.run_id} has no model.pt checkpoint to export"
    job_id = run.info.get("job_id")
    if not isinstance(job_id, int) or isinstance(job_id, bool):
        return (f"run {run.run_id} names no training job (run.json job_id is {job_id!r}); only runs written "
                "by a completed training job are exported")
    row = library.conn.execute("SELECT state, run_id FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return f"run {run.run_id}: its job {job_id} is not in this library ({library.path})"
    if row["state"] != "completed" or row["run_id"] != run.run_id:
        return (f"run {run.run_id}: its job {job_id} is {row['state']!r}"
                + (f" with run {row['run_id']!r}" if row["run_id"] and row["run_id"] != run.run_id else "")
                + ", not completed with this run (was the training process killed?); train again")
    return None


def exportable_runs(library: Library) -> list[Run]:
    """The runs under the library's ``experiments/`` that may be exported, oldest first.

    Parameters
    ----------
    library : Library
        Its workspace's ``experiments/`` is listed and its ``jobs`` table checked.

    Returns
    -------
    list of Run
        Every run for which :func:`not_exportable_reason` is None.
    """
    from workbench.runs import list_runs

    return [r for r in list_runs(library.workspace.experiments) if not_exportable_reason(r, library) is None]


def run_windows(library: Library, run: Run, *, n_windows: int = 64, seed: int = 0,
                features: WindowFeatures | None = None) -> np.ndarray | None:
    """Up to ``n_windows`` real backbone vectors (one per 1-s window) of the library's tracks, for parity.

    Reads the embedding cache of the run's backbone (the feature frontend unless the run used
    OpenL3); for a ``sections`` run, the window features its classifier takes
    (:class:`~workbench.train.sections.WindowFeatures`). None when nothing is cached (run
    ``workbench embed``).

    Parameters
    ----------
    library : Library
        Whose tracks and embedding cache are read.
    run : Run
        The run being exported; its ``run.json`` ``backbone.name`` picks the cache.
    n_windows : int > 0
        At most this many windows are returned.
    seed : int
        Seeds the order tracks are read in and the windows picked.
    features : WindowFeatures or None
        The window features a sections classifier takes; None reads them from the run's checkpoint
        (None again for an embeddings run: bare backbone frames).

    Returns
    -------
    np.ndarray [shape=(n, d), dtype=float32] or None
        ``n <= n_windows`` windows, a seeded sample without repeats; None when the run's
        backbone is not the feature frontend, or nothing is cached.
    """
    from workbench.embed.batch import cache_for
    from workbench.embed.features import FeatureFrontend

    name = str((run.info.get("backbone") or {}).get("name", "features-v1"))
    if not name.startswith("features"):
        return None
    cache = cache_for(library, FeatureFrontend())
    # a section classifier takes window features (frame + context + position), not bare frames
    features = features if features is not None else _window_features(run)
    rng = np.random.default_rng(seed)
    tracks = library.tracks()
    frames, have = [], 0
    # tracks in a seeded order, read until four times the windows wanted: a large library is not
    # read whole for 64 windows
    for i in rng.permutation(len(tracks)):
        t = tracks[int(i)]
        got = cache.get(t.content_hash)
        if got is None:
            continue
        if features is None:
            frames.append(got[0])
        else:
            from workbench.train.sections import track_frames

            frames.append(track_frames(library, t, features=features).features)
        have += len(frames[-1])
        if have >= 4 * n_windows and len(frames) >= 2:
            break
    if not frames:
        return None
    allf = np.concatenate(frames).astype(np.float32)
    pick = rng.choice(allf.shape[0], size=min(n_windows, allf.shape[0]), replace=False)
    return allf[np.sort(pick)]


def track_norm_metadata(features: WindowFeatures, base_dim: int) -> dict[str, Any] | None:
    """What an app must do to a vector-in section model's input when its layout z-scores within the track.

    ``WindowFeatures(track_norm=True)`` (the default layout) standardises every column over the
    track's windows (population std, floored at 1e-6) except the position and ``"ends"`` columns.

    Parameters
    ----------
    features : WindowFeatures
        The classifier's window layout.
    base_dim : int
        The backbone frame's size (202 for features-v1).

    Returns
    -------
    dict or None
        ``{"how": str, "raw_columns": [int, ...], "dim": int}``; None when the layout does not z-score.
    """
    from workbench.train.sections.dj_features import EXTRA_GROUPS
    from workbench.train.sections.features import RAW_GROUPS

    if not features.track_norm:
        return None
    n_ctx = len(features.context_s)
    col = base_dim * (1 + n_ctx + (n_ctx if features.track_relative else 0)) if features.embedding else 0
    raw: list[int] = []
    if features.position:
        raw, col = [col, col + 1], col + 2
    for g in features.extra:
        if g in RAW_GROUPS:
            raw += list(range(col, col + EXTRA_GROUPS[g]))
        col += EXTRA_GROUPS[g]
    how = ("z-score every column over the track's windows, (x - mean) / max(std, 1e-6) with the population std (ddof 0)"
           if features.norm == "z" else "map every column to the standard normal quantile of its rank over the track's "
           "windows, ndtri((rank - 0.5) / n) with tied ranks averaged")
    return {"how": how + ", except the raw_columns (position, distance to the ends, the lead group), before the model",
            "raw_columns": raw, "dim": int(features.dim(base_dim))}


def _vector_in_norm(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with ``track_norm`` (:func:`track_norm_metadata`) when a vector-in section model's layout z-scores."""
    from workbench.train.sections.features import WindowFeatures

    if not meta.get("window_features"):
        return meta
    features = WindowFeatures.from_dict(meta["window_features"])
    norm = track_norm_metadata(features, int((meta.get("backbone") or {}).get("dim") or 202))
    return {**meta, "track_norm": norm} if norm else meta


def _window_features(run: Run) -> WindowFeatures | None:
    """The :class:`~workbench.train.sections.WindowFeatures` a sections run's classifier takes, or None
    (an embeddings run, or a plain head checkpoint that takes the backbone vector itself)."""
    if run.kind != "sections" or run.model_path is None:
        return None
    from workbench.train.sections import load_section_model

    try:
        return load_section_model(run.model_path)[1]
    except ParameterError:
        return None


def export_run(run: Run | str | os.PathLike[str], *, library: Library | str | os.PathLike[str] | None = None,
               registry: Registry | None = None, io_dtype: str = "fp32",
               deployment_target: str = "macOS14", compress: str | None = None, activate: bool | None = None,
               openl3_weights: str | os.PathLike[str] | None = None, input: str = "samples",
               n_windows: int = 64, version: str | None = None, force: bool = False,
               search_windows: bool = False, progress: bool = False) -> list[tuple[ExportResult, Version]]:
    """Export a training run's model(s), check them, and register each as a new version.

    A ``sections`` run gives a ``dj_section`` model; an ``embeddings`` run gives the ``head`` and
    the ``embedding`` model. Audio in wherever the run's backbone runs inside a model (OpenL3, the
    CNN): the embedding model takes mono samples, and so does a section classifier over bare frames;
    a CNN trained end to end (its ``model.pt`` is the CNN) gives the ``embedding`` model alone.
    Returns ``[(ExportResult, Version)]``.

    Parameters
    ----------
    run : Run, str or path
        The run, its folder, or its run id (looked up under the library's ``experiments/``).
    library : Library, str, path or None
        The library (or its database path) whose jobs table and tracks are used; None opens the
        default workspace's library.
    registry : Registry or None
        Where versions are registered; None uses ``Registry(library)``.
    io_dtype : {"fp32", "fp16"}
        The packages' input/output dtype.
    deployment_target : str
        Minimum OS, one of :data:`workbench.export.coreml.DEPLOYMENT_TARGETS` (``"macOS14"`` ...).
    compress : {"int8", "palettize6", "palettize4"} or None
        Weight compression; None keeps fp16 weights.
    activate : bool or None
        True: make each new version the active one of its type, even one forced past a failing gate;
        False: never; None: each one that passes its blocking gates (a forced one stays inactive).
    openl3_weights : str, path or None
        OpenL3 weights for an OpenL3 run's embedding model; None looks in the usual places.
    input : {"samples", "logmel"}
        The audio-in models' input: mono samples (the default; the spectrogram runs inside), or
        OpenL3's log-mel patch. A run on the librosa feature frontend has no audio-in model: its
        embedding and section models take the feature vectors, and their metadata
        (``com.workbench.audio_in``) says why and which backbones give one.
    n_windows : int > 0
        Real windows used for the parity check (:func:`run_windows`).
    version : str or None
        The version string stamped in the packages; None gives ``"<N>.0.0"``.
    force : bool
        Export (and record) a model that fails a blocking gate instead of refusing it.
    search_windows : bool
        The whole-track embedding model (an embeddings run on the feature frontend) returns one row
        per window search indexes (the run's ``window_s``, hop a quarter of it) instead of one per
        frame, so an app's cosines are ``workbench similar``'s window scores
        (:mod:`workbench.export.search_windows`). Refused for other runs.
    progress : bool
        A ``tqdm.auto`` bar of the steps (the parity windows, then each model's conversion, lint and
        parity check), naming the step running: an export takes tens of seconds.

    Returns
    -------
    list of (ExportResult, Version)
        One pair per exported model, the result's path being the registered package.

    Raises
    ------
    ParameterError
        The run has no checkpoint, or its job is not recorded as completed in this library
        (:func:`not_exportable_reason`); or ``search_windows`` for a run without a whole-track
        embedding model.
    workbench.export.reexport.AlreadyExportedError
        Every model of the run is registered already with the same options (its ``versions``
        say which); a model type missing from the registry is exported alone.
    workbench.evaluate.gates.GateFailedError
        A model fails a blocking gate (worse than its baseline, or than the active version on the
        same held-out tracks; or its run recorded no baselines) and ``force`` is False. With
        ``force=True`` it is exported, and its metadata (``com.workbench.forced``, the JSON's
        ``"forced"``) and model card say so with the failing gates.
    """
    from workbench.library import Library
    from workbench.registry import Registry
    from workbench.runs import Run, load_run

    lib = library if isinstance(library, Library) else Library(library)
    run = run if isinstance(run, Run) else load_run(run, root=lib.workspace.experiments)
    reason = not_exportable_reason(run, lib)
    if reason is not None:
        raise ParameterError(reason)
    from workbench.models.heads import read_weights

    model_path = run.model_path
    if model_path is None:  # not_exportable_reason refuses such a run; said again for the type checker
        raise ParameterError(f"run {run.run_id} has no model file to export")
    read_weights(model_path)  # a poisoned or foreign model.pt: CheckpointError, before anything else
    reg = registry if registry is not None else Registry(lib)
    from workbench.export import reexport

    options = reexport.export_options(io_dtype=io_dtype, deployment_target=deployment_target, compress=compress,
                             input=input, search_windows=search_windows)
    done = reexport.exported_versions(reg, run.run_id, options)
    made = ("embedding",) if run.kind != "sections" and _end_to_end_cnn(model_path, run) is not None \
        else _TYPES_OF_KIND.get(run.kind, ())
    if made and all(t in done for t in made):
        versions = [done[t] for t in made]
        raise reexport.AlreadyExportedError(reexport.already_exported_message(run.run_id, versions),
                                            versions=versions)
    for model_type in _TYPES_OF_KIND.get(run.kind, ()):  # refuse before the (slow) conversion
        reg.check_gates(model_type, run.metrics, what=f"run {run.run_id} ({model_type})", force=force,
                        forcing="export it anyway, registered inactive (with --activate, activate=True, too: active)")
    backbone = dict(run.info.get("backbone") or {})
    meta = {"metrics": run.metrics, "fingerprint": (run.data or {}).get("fingerprint"), "backbone": backbone,
            "run_id": run.run_id, "version": version}
    features = _window_features(run)
    if features is not None:
        meta["window_features"] = features.to_dict()
    from tqdm.auto import tqdm

    bar = tqdm(total=1 + len(_TYPES_OF_KIND.get(run.kind, ())), desc=f"export {run.run_id}", unit="step",
               disable=not progress)
    bar.set_postfix_str("parity windows from the library")
    staging = reg.root / f".export.{os.getpid()}.tmp"
    out = []
    try:
        windows = run_windows(lib, run, n_windows=n_windows, features=features)
        bar.update(1)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        kw: dict[str, Any] = {"io_dtype": io_dtype, "deployment_target": deployment_target, "compress": compress}
        jobs = _jobs(run, lib, model_path, meta, windows, kw, input=input, openl3_weights=openl3_weights,
                     n_windows=n_windows, search_windows=search_windows)
        jobs = [(model_type, job) for model_type, job in jobs if model_type not in done]
        bar.total = 1 + len(jobs)
        for model_type, job in jobs:
            bar.set_postfix_str(f"{model_type}: convert, lint, parity")
            result = job(staging / f"{model_type}.mlpackage")
            registered = reg.register(model_type, result.path, metadata=result.metadata, metrics=run.metrics,
                                      export={**result.as_dict(), "size_bytes": result.size_bytes, "options": options},
                                      job_id=run.info.get("job_id"), run_id=run.run_id, activate=activate,
                                      move=True, force=force)
            out.append((dataclasses.replace(result, path=registered.path), registered))
            bar.update(1)
    finally:
        bar.close()
        shutil.rmtree(staging, ignore_errors=True)
    return out


#: Why a model over the feature frontend has no audio-in form here (stored as ``com.workbench.audio_in``): a
#: section run whose window layout needs downbeats (the ``bars`` group, context in bars), or a frontend with
#: other than the default settings (features-v1, 1-s windows every 0.5 s).
NO_AUDIO_IN = ("not available: this model's input (window features that need the track's downbeats: the 'bars' "
               "group or context in bars; or a feature frontend with other than its default settings) is not "
               "computed inside Core ML; a features-v1 section run's whole-track dj_section model, and the "
               "embedding model of a features-v1 run (default settings) or of a --backbone cnn or openl3 run, take audio")


def _audio_backbone(run: Run, openl3_weights: str | os.PathLike[str] | None) -> Any:
    """The run's backbone as a module that runs inside a model (OpenL3, the CNN, the default feature frontend), or None."""
    backbone = dict(run.info.get("backbone") or {})
    name = str(backbone.get("name", "features-v1"))
    if backbone.get("finetuned") and run.model_path is not None:  # the run's own tuned OpenL3 (backbone.pt)
        from workbench.embed.openl3_tuned import load_tuned

        return load_tuned(run.model_path.parent / str(backbone["finetuned"].get("file", "backbone.pt")))[0]
    if name.startswith("features") and run.kind != "sections":  # section runs: window features, not the frontend
        from workbench.embed.features import FeatureFrontend

        settings = dict(backbone.get("settings") or {})
        return FeatureFrontend() if settings in ({}, FeatureFrontend().settings) else None
    if name.startswith("openl3"):
        from workbench.embed.openl3 import OpenL3

        return OpenL3.from_weights(openl3_weights, embedding_size=int(backbone.get("dim", 6144)))
    if name.startswith("cnn"):
        from workbench.models.cnn_backbone import recorded_hop_s
        from workbench.train.backbones import cnn_backbone

        found = cnn_backbone(backbone.get("weights"), hop_s=recorded_hop_s(backbone))
        if getattr(found, "name", name) != name:
            raise ParameterError(f"run {run.run_id} was trained on the CNN backbone {name!r}; the CNN weights found "
                                 f"are {getattr(found, 'name', '?')!r} (pass them, or set $WORKBENCH_CNN_WEIGHTS)")
        return found
    return None


def _end_to_end_cnn(model_path: Any, run: Run) -> Any:
    """The CNN backbone (named by its weights) a run's ``model.pt`` holds whole, or None (a head)."""
    try:
        from workbench.models.cnn import load_cnn
        from workbench.models.cnn_backbone import CNNBackbone, recorded_hop_s
        from workbench.models.heads import CheckpointError
    except ImportError:
        return None
    try:
        model = load_cnn(model_path)
    except (CheckpointError, ParameterError):
        return None
    distill = (getattr(run, "config", None) or {}).get("distill")  # --distill features: say so in the card
    trained = f"trained in run {run.run_id}"
    if distill:
        from workbench.train.cnn_student import describe_student

        student = describe_student(((getattr(run, "metrics", None) or {}).get("distill") or {}).get("student_options"))
        trained = f"distilled from the feature frontend's head ({distill}) in run {run.run_id}" + (
            f"; {student}" if student else "")
    return CNNBackbone(model, hop_s=recorded_hop_s(run.info.get("backbone")), trained=trained)


def _audio_windows(lib: Library, backbone: Any, n_windows: int) -> np.ndarray | None:
    """Real audio windows of the library's tracks at the backbone's rate, for parity (None: none readable)."""
    from workbench.export.audio_in import audio_spec, file_windows

    paths = [t.path for t in lib.tracks()[:8]]
    try:
        return file_windows(paths, audio_spec(backbone), n_windows=n_windows) if paths else None
    except ParameterError:
        return None


def _jobs(run: Run, lib: Library, model_path: Any, meta: dict[str, Any], windows: np.ndarray | None,
          kw: dict[str, Any], *, input: str, openl3_weights: Any, n_windows: int,
          search_windows: bool = False) -> list[tuple[str, Any]]:
    """The (model type, export callable) pairs of a run, audio in where its backbone allows."""
    from workbench.export import coreml

    cnn = _end_to_end_cnn(model_path, run) if run.kind != "sections" else None
    backbone = cnn if cnn is not None else _audio_backbone(run, openl3_weights)
    if input != "samples" and type(backbone).__name__ == "FeatureFrontend":  # no log-mel input: vector-in
        backbone = None
    if search_windows and not (run.kind != "sections" and type(backbone).__name__ == "FeatureFrontend"):
        raise ParameterError(f"search_windows pools a whole track into search's windows inside the embedding model: "
                             f"it needs an embeddings run on the feature frontend exported with input='samples'; "
                             f"run {run.run_id} is a {run.kind} run on "
                             f"{(run.info.get('backbone') or {}).get('name', 'an unknown backbone')} "
                             f"(input={input!r}): an app averages that backbone model's rows over each window "
                             "and feeds the means to the head model")
    if backbone is None:
        meta = {**meta, "audio_in": NO_AUDIO_IN}
        if run.kind == "sections":
            from workbench.export.track_in import track_job

            track = track_job(run, lib, model_path, meta, kw) if input == "samples" else None
            if track is not None:  # window features over the feature frontend: the whole-track model
                return [("dj_section", track)]
            meta = _vector_in_norm(meta)
            return [("dj_section", lambda p: coreml.export_classifier(model_path, p, metadata=meta, windows=windows,
                                                                      **kw))]
        return [("head", lambda p: coreml.export_head(model_path, p, metadata=meta, windows=windows, **kw)),
                ("embedding", lambda p: coreml.export_embedding_model(model_path, p, backbone="features",
                                                                      input="features", metadata=meta,
                                                                      windows=windows, **kw))]
    from workbench.export.audio_in import audio_spec, export_backbone

    n_audio = min(n_windows, 16)  # the evaluator runs a whole backbone per window
    audio = _audio_windows(lib, backbone, n_audio) if input == "samples" else None
    dim = audio_spec(backbone).dim
    if cnn is not None:
        return [("embedding", lambda p: export_backbone(cnn, p, model_type="embedding", metadata=meta,
                                                        windows=audio, **kw))]
    if run.kind == "sections":
        from workbench.models.heads import load_checkpoint

        clf = load_checkpoint(model_path)
        if clf.in_dim != dim:  # window features with context: the whole track is needed
            meta = {**_vector_in_norm(meta), "audio_in": f"not available: the classifier takes {clf.in_dim}-d window features "
                                        "(context and track-relative blocks need the whole track); export "
                                        "the backbone model and compute the window features in the app"}
            return [("dj_section", lambda p: coreml.export_classifier(clf, p, metadata=meta, windows=windows, **kw))]
        return [("dj_section", lambda p: coreml.export_classifier(clf, p, backbone=backbone, input=input,
                                                                  metadata=meta, windows=audio, **kw))]
    return [("head", lambda p: coreml.export_head(model_path, p, metadata=meta, windows=windows, **kw)),
            ("embedding", lambda p: coreml.export_embedding_model(model_path, p, backbone=backbone, input=input,
                                                                  metadata=meta, windows=audio,
                                                                  search_windows=search_windows, **kw))]
