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
from typing import Any

import numpy as np

from workbench.errors import ParameterError

__all__ = ["export_run", "exportable_runs", "not_exportable_reason", "run_windows"]

#: Model types a run of each kind exports.
_TYPES_OF_KIND = {"sections": ("dj_section",), "embeddings": ("head", "embedding")}


def not_exportable_reason(run: Any, library: Any) -> str | None:
    """Why a run may not be exported, or None when it may.

    A run is exportable when it has a ``model.pt`` and the job that wrote it is recorded in this
    library as completed with this run id. A run folder whose job is not completed (the process
    was killed between writing the folder and recording the job, or the job failed) is not.
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


def exportable_runs(library: Any) -> list[Any]:
    """The runs under the library's ``experiments/`` that may be exported, oldest first."""
    from workbench.runs import list_runs

    return [r for r in list_runs(library.workspace.experiments) if not_exportable_reason(r, library) is None]


def run_windows(library: Any, run: Any, *, n_windows: int = 64, seed: int = 0,
                features: Any = None) -> np.ndarray | None:
    """Up to ``n_windows`` real backbone vectors (one per 1-s window) of the library's tracks, for parity.

    Reads the embedding cache of the run's backbone (the feature frontend unless the run used
    OpenL3); for a ``sections`` run, the window features its classifier takes
    (:class:`~workbench.train.sections.WindowFeatures`). None when nothing is cached (run
    ``workbench embed``).
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


def _window_features(run: Any) -> Any:
    """The :class:`~workbench.train.sections.WindowFeatures` a sections run's classifier takes, or None
    (an embeddings run, or a plain head checkpoint that takes the backbone vector itself)."""
    if run.kind != "sections" or run.model_path is None:
        return None
    from workbench.train.sections import load_section_model

    try:
        return load_section_model(run.model_path)[1]
    except ParameterError:
        return None


def export_run(run: Any, *, library: Any = None, registry: Any = None, io_dtype: str = "fp32",
               deployment_target: str = "macOS14", compress: str | None = None, activate: bool = True,
               openl3_weights: str | os.PathLike[str] | None = None, input: str = "logmel",
               n_windows: int = 64, version: str | None = None, force: bool = False) -> list[tuple[Any, Any]]:
    """Export a training run's model(s), check them, and register each as a new version.

    A ``sections`` run gives a ``dj_section`` model; an ``embeddings`` run gives the ``head`` and
    the ``embedding`` model (OpenL3 window model when the run's backbone is OpenL3 and its
    weights are found, else the head over the feature vector). Returns ``[(ExportResult, Version)]``.

    Raises
    ------
    ParameterError
        The run has no checkpoint, or its job is not recorded as completed in this library
        (:func:`not_exportable_reason`).
    workbench.evaluate.gates.GateFailedError
        A model fails a blocking gate (worse than its baseline, or than the active version on the
        same held-out tracks; or its run recorded no baselines) and ``force`` is False. With
        ``force=True`` it is exported, and its metadata (``com.workbench.forced``, the JSON's
        ``"forced"``) and model card say so with the failing gates.
    """
    from workbench.export import coreml
    from workbench.library import Library
    from workbench.registry import Registry
    from workbench.runs import Run, load_run

    lib = library if isinstance(library, Library) else Library(library)
    run = run if isinstance(run, Run) else load_run(run, root=lib.workspace.experiments)
    reason = not_exportable_reason(run, lib)
    if reason is not None:
        raise ParameterError(reason)
    from workbench.models.heads import read_weights

    read_weights(run.model_path)  # a poisoned or foreign model.pt: CheckpointError, before anything else
    reg = registry if registry is not None else Registry(lib)
    for model_type in _TYPES_OF_KIND.get(run.kind, ()):  # refuse before the (slow) conversion
        reg.check_gates(model_type, run.metrics, what=f"run {run.run_id} ({model_type})", force=force)
    backbone = dict(run.info.get("backbone") or {})
    meta = {"metrics": run.metrics, "fingerprint": (run.data or {}).get("fingerprint"), "backbone": backbone,
            "run_id": run.run_id, "version": version}
    features = _window_features(run)
    if features is not None:
        meta["window_features"] = features.to_dict()
    windows = run_windows(lib, run, n_windows=n_windows, features=features)
    staging = reg.root / f".export.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    kw = {"io_dtype": io_dtype, "deployment_target": deployment_target, "compress": compress}
    out = []
    try:
        jobs: list[tuple[str, Any]] = []
        if run.kind == "sections":
            jobs.append(("dj_section", lambda p: coreml.export_classifier(run.model_path, p, metadata=meta,
                                                                          windows=windows, **kw)))
        else:
            jobs.append(("head", lambda p: coreml.export_head(run.model_path, p, metadata=meta, windows=windows, **kw)))
            if str(backbone.get("name", "")).startswith("openl3"):
                from workbench.embed.openl3 import OpenL3

                o = OpenL3.from_weights(openl3_weights, embedding_size=int(backbone.get("dim", 6144)))
                jobs.append(("embedding", lambda p: coreml.export_embedding_model(
                    run.model_path, p, backbone=o, input=input, metadata=meta, **kw)))
            else:
                jobs.append(("embedding", lambda p: coreml.export_embedding_model(
                    run.model_path, p, backbone="features", metadata=meta, windows=windows, **kw)))
        for model_type, job in jobs:
            result = job(staging / f"{model_type}.mlpackage")
            registered = reg.register(model_type, result.path, metadata=result.metadata, metrics=run.metrics,
                                      export={**result.as_dict(), "size_bytes": result.size_bytes},
                                      job_id=run.info.get("job_id"), run_id=run.run_id, activate=activate,
                                      move=True, force=force)
            out.append((dataclasses.replace(result, path=registered.path), registered))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
