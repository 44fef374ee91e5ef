"""The section model as a training job: stored labels → :func:`train_sections` → a run folder.

:func:`train_sections_job` trains on the library's stored section labels (what the labeler
notebook and ``workbench labels import`` write); with none it refuses and says how to label.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError
from workbench.train.sections.features import NotReadyError, section_dataset
from workbench.train.sections.trainer import save_section_model
from workbench.train.sections.training import CONFIG_DEFAULTS, train_sections

if TYPE_CHECKING:  # pragma: no cover
    from workbench.embed.batch import Backbone
    from workbench.jobs import Job, JobRunner
    from workbench.library import Library

#: What :func:`train_sections_job` says when a library has no section labels.
HOW_TO_LABEL = ("label sections first: in the labeler notebook (notebooks/02_label_sections.ipynb, "
                "workbench.labels.Labels) or with `workbench labels import` (sections from a file); "
                "training needs 10 labelled sections per class for 2+ classes")


def train_sections_job(library: Library, *, config: Mapping[str, Any] | None = None,
                       sections: Iterable[Any] | None = None, backbone: Backbone | None = None,
                       experiments_root: str | os.PathLike[str] | None = None,
                       progress: bool = True, on_state: Callable[[Job], None] | None = None) -> tuple[Job, Path]:
    """Train the DJ-section classifier as a job; return the completed job and its run folder.

    Parameters
    ----------
    library : Library
        The library trained on; the job is recorded in it.
    config : dict, optional
        Overrides of :data:`workbench.train.sections.CONFIG_DEFAULTS`.
    sections : iterable, optional
        ``{track_id, label, start_s, end_s}`` records; default the library's stored labels
        (:class:`workbench.labels.Labels`).
    backbone : Backbone, optional
        Default the feature frontend (``features-v1``).
    experiments_root : path, optional
        The ``experiments/`` folder; None uses the library's workspace's.
    progress : bool
        Bars for the section data and the epochs.
    on_state : callable(Job), optional
        Called after each change of the job's state.

    ``model.pt`` is :func:`~workbench.train.sections.save_section_model`'s file (a head
    checkpoint with the window-feature layout and the label-order prior). ``metrics.json``
    holds ``model``, ``baselines``, ``held_out`` and ``early_stopping`` (see
    :class:`~workbench.train.sections.SectionResult`).

    Raises
    ------
    ParameterError
        An unknown config key (before any job is created).
    NotReadyError
        No stored labels (the message says how to label), or too few labelled sections (the
        job is failed with the reason).
    """
    from workbench.jobs import JobRunner

    cfg = dict(config or {})
    named = {k: cfg.pop(k) for k in ("backbone", "size", "openl3_weights") if k in cfg}  # any backbone by name
    if backbone is None and named:
        from workbench.train.backbones import backbone_by_name

        backbone = backbone_by_name(named.get("backbone") or "auto", size=named.get("size", 512),
                                    weights=named.get("openl3_weights"))
    unknown = sorted(set(cfg) - set(CONFIG_DEFAULTS))
    if unknown:
        raise ParameterError(f"config keys must be among {sorted(CONFIG_DEFAULTS)}; got unknown {unknown}")
    runner = JobRunner(library, "sections", config=cfg, experiments_root=experiments_root, progress=False,
                       on_state=on_state)
    with runner:
        path = _sections_in_job(runner, library, cfg, sections=sections, backbone=backbone, progress=progress)
    return runner.job, path


def _sections_in_job(runner: JobRunner, library: Library, cfg: dict[str, Any], *, sections: Iterable[Any] | None,
                     backbone: Backbone | None, progress: bool) -> Path:
    from workbench.embed.features import FeatureFrontend
    from workbench.jobs import _backbone_info, _track_docs
    from workbench.train import datasets as ds

    b = backbone if backbone is not None else FeatureFrontend()
    runner.backbone = _backbone_info(b)
    source = "given"
    if sections is None:
        sections, source = ds.library_sections(library), "labels"
    sections = list(sections)
    if not sections:
        raise NotReadyError(f"no labelled sections in this library: {HOW_TO_LABEL}")
    dataset = section_dataset(library, sections, backbone=b, progress=progress)
    docs = _track_docs(library, [t.track_id for t in dataset.tracks])
    counts = {k: v for k, v in dataset.section_counts().items() if v}
    runner.set_data({
        "tracks": [{k: d[k] for k in ("id", "content_hash", "name")} for d in docs.values()],
        "labels": [(docs[t.track_id]["content_hash"], s["label"], s["start_s"], s["end_s"])
                   for t in dataset.tracks for s in t.sections],
        "label_counts": counts, "source": source, "n_windows": int(len(dataset.y)),
        "failed": [{"track_id": tid, "reason": why} for tid, why in dataset.failed],
    })
    runner.training(total_epochs=int(cfg.get("epochs", CONFIG_DEFAULTS["epochs"])))
    result = train_sections(dataset, config=cfg, on_epoch=runner.on_epoch, progress=progress)
    runner._data["splits"] = {"train": list(result.metrics.get("train_tracks", [])),
                              "test": list(result.metrics.get("test_tracks", []))}

    def save(path: Path) -> None:
        """Write the section model file (:func:`save_section_model`).

        Parameters
        ----------
        path : Path
            The ``model.pt`` to write.
        """
        save_section_model(result.trainer, path, features=result.features, backbone=dataset.backbone,
                           transitions=result.transitions)

    return runner.finish(result, save_model=save)
