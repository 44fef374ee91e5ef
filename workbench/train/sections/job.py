"""The section model as a training job: stored labels → :func:`train_sections` → a run folder.

:func:`train_sections_job` trains on the library's stored section labels (what the labeler
notebook and ``workbench labels import`` write); with none it refuses and says how to label.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError, WorkbenchError
from workbench.train.sections.features import NotReadyError, SectionData
from workbench.train.sections.library_data import section_dataset
from workbench.train.sections.model_file import save_section_model
from workbench.train.sections.training import CONFIG_DEFAULTS, holdout_split, train_sections

if TYPE_CHECKING:  # pragma: no cover
    from workbench.embed.batch import Backbone
    from workbench.jobs import Job, JobRunner
    from workbench.library import Library

#: What :func:`train_sections_job` says when a library has no section labels (the rule's numbers: the job's config).
HOW_TO_LABEL_RULE = ("label sections first: in the labeler notebook (notebooks/02_label_sections.ipynb, "
                     "workbench.labels.Labels) or with `workbench labels import` (sections from a file); "
                     "training needs {min_per_class} labelled sections per class for {min_classes}+ classes")
#: :data:`HOW_TO_LABEL_RULE` with the default rule.
HOW_TO_LABEL = HOW_TO_LABEL_RULE.format(min_per_class=CONFIG_DEFAULTS["min_per_class"],
                                        min_classes=CONFIG_DEFAULTS["min_classes"])


#: Columns of the schema-v5 ``labels`` table; any other column is a newer provenance column, recorded by name.
_V5_LABEL_COLUMNS = frozenset({"id", "track_id", "label", "start_beat", "end_beat", "start_s", "end_s", "source",
                               "confidence", "created_at", "updated_at"})


def label_provenance(library: Library) -> dict[str, Any]:
    """Where the stored section labels came from, for the run's data record (read defensively).

    Accepted suggestions are trained on like every label (:meth:`workbench.labels.Labels.accept`
    stores them as ``source='model'`` with ``accepted_at``, the model's name and version); labels a
    model stored that nobody accepted are left out (:func:`workbench.train.datasets.library_sections`).
    Rejected suggestions (schema v6 ``label_rejections``) are trained on as "not this label here"
    (:func:`library_rejections`; the run's data says how many under ``rejections``).

    Parameters
    ----------
    library : Library
        The library whose ``labels`` table is read.

    Returns
    -------
    dict
        ``labels_by_source`` {source: count}, ``accepted_suggestions`` (count),
        ``unaccepted_model_labels`` (count, not trained on), ``provenance_columns`` (``labels``
        columns beyond schema v5), ``rejected_suggestions`` ({table, rows, used_in_training:
        True} or None).
    """
    import sqlite3

    try:
        conn = library.store.conn
        by_source = {str(k): int(v) for k, v in conn.execute("SELECT source, COUNT(*) FROM labels GROUP BY source")}
        all_columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(labels)")}
        columns = sorted(all_columns - _V5_LABEL_COLUMNS)
        accepted = unaccepted = 0
        if "accepted_at" in all_columns:
            accepted, unaccepted = (int(v or 0) for v in conn.execute(
                "SELECT SUM(accepted_at IS NOT NULL), SUM(source = 'model' AND accepted_at IS NULL) FROM labels"
            ).fetchone())
        has_rejections = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                      "AND name = 'label_rejections'").fetchone() is not None
        rejected = None
        if has_rejections:
            rows = int(conn.execute("SELECT COUNT(*) FROM label_rejections").fetchone()[0])
            rejected = {"table": "label_rejections", "rows": rows, "used_in_training": True}
    except (sqlite3.Error, AttributeError) as exc:  # another store layout: say so, never stop training
        return {"error": f"label provenance could not be read: {exc}"}
    return {"labels_by_source": by_source, "accepted_suggestions": accepted, "unaccepted_model_labels": unaccepted,
            "provenance_columns": columns, "rejected_suggestions": rejected}


def library_rejections(library: Library) -> list[dict[str, Any]]:
    """Every stored rejected suggestion as ``{track_id, label, start_s, end_s}`` (none without the table).

    Parameters
    ----------
    library : Library
        The library whose ``label_rejections`` table is read (:meth:`workbench.labels.Labels.rejections`).
    """
    from workbench.labels import Labels

    try:
        found = Labels(library).rejections()
    except Exception:  # noqa: BLE001 - an older store without rejections: train on the labels alone
        return []
    return [{"track_id": r.track_id, "label": r.label, "start_s": r.start_s, "end_s": r.end_s} for r in found]


def train_sections_job(library: Library, *, config: Mapping[str, Any] | None = None,
                       sections: Iterable[Any] | None = None, backbone: Backbone | None = None,
                       experiments_root: str | os.PathLike[str] | None = None,
                       progress: bool = True, on_state: Callable[[Job], None] | None = None,
                       external: Mapping[str, SectionData | str | os.PathLike[str]] | None = None) -> tuple[Job, Path]:
    """Train the DJ-section classifier as a job; return the completed job and its run folder.

    Parameters
    ----------
    library : Library
        The library trained on; the job is recorded in it.
    config : dict, optional
        Overrides of :data:`workbench.train.sections.CONFIG_DEFAULTS`; also ``backbone``/``size``/
        ``openl3_weights`` (the backbone by name) and ``keep_flagged`` (default False: sections of
        tracks whose QA flags exclude them from training are left out, listed in the run's data
        as ``qa_excluded``; tracks kept with ``workbench qa keep`` stay). ``audio_views`` N (default
        0) trains on N augmented audio views of every labelled track as well
        (:mod:`~workbench.train.sections.audio_views`; ``audio_view_eq_db`` adds a seeded EQ,
        ``audio_view_weight`` their loss weight; the run's data says how many); feature frontend only.
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
    external : mapping of str to SectionData or path-like, optional
        Other labelled sets to score the final model and its baselines on (the cross-generator
        figures, ``metrics["transfer"]["external"][name]``): section data with the model's
        window layout, or a folder of tracks with truth JSON beside them
        (:func:`~workbench.train.sections.external.folder_section_data`, given a library of its
        own in ``<db folder>/external/<folder name>-<hash>``, embedded with this job's backbone).

    With the library's stored labels, its rejected suggestions are trained on too
    (:func:`library_rejections`; counts in the run's data under ``rejections``).

    ``model.pt`` is :func:`~workbench.train.sections.save_section_model`'s file (a head
    checkpoint with the window-feature layout and the label-order prior). ``metrics.json``
    holds ``model``, ``baselines``, ``held_out`` and ``early_stopping`` (see
    :class:`~workbench.train.sections.SectionResult`).

    Raises
    ------
    ParameterError
        An unknown config key, a value of the wrong kind or out of range
        (:func:`~workbench.train.sections.config_check.check_sections_config`), or an ``external``
        folder that is not one (before any job is created).
    NotReadyError
        No stored labels (the message says how to label), or too few labelled sections: refused
        before any job is created (:func:`~workbench.train.sections.config_check.check_label_counts`),
        so ``workbench jobs`` shows no failed job; only sections lost in the job (a track that cannot
        be read or embedded) leave too few there, and that job is failed with the reason.
    """
    from workbench.jobs import JobRunner

    cfg = dict(config or {})
    named = {k: cfg.pop(k) for k in ("backbone", "size", "openl3_weights") if k in cfg}  # any backbone by name
    keep_flagged = _keep_flagged(cfg)
    if backbone is None and named:
        from workbench.train.backbones import backbone_by_name

        backbone = backbone_by_name(named.get("backbone") or "auto", size=named.get("size", 512),
                                    weights=named.get("openl3_weights"))
    unknown = sorted(set(cfg) - set(CONFIG_DEFAULTS))
    if unknown:
        raise ParameterError(f"config keys must be among {sorted(CONFIG_DEFAULTS)}; got unknown {unknown}")
    from workbench.train.sections.config_check import check_sections_config
    from workbench.train.sections.self_training import check_self_training_config

    check_sections_config(cfg)  # a bad value is refused now, not in the job
    check_self_training_config(cfg)
    for name, other in (external or {}).items():
        if not isinstance(other, SectionData) and not Path(other).is_dir():
            raise ParameterError(f"external set {name!r} must be SectionData or a folder of tracks with truth JSON; "
                                 f"got {str(other)!r}")
    picked = _training_sections(library, sections, cfg, keep_flagged=keep_flagged)  # too few: refused, no job
    runner = JobRunner(library, "sections", config=cfg, experiments_root=experiments_root, progress=False,
                       on_state=on_state)
    with runner:
        path = _sections_in_job(runner, library, cfg, picked, backbone=backbone, progress=progress,
                                keep_flagged=keep_flagged, external=external)
    return runner.job, path


def sections_not_ready(library: Library, *, config: Mapping[str, Any] | None = None) -> str | None:
    """What :func:`train_sections_job` would refuse for, said as a sentence; ``None`` when it can train.

    A notebook asks this first, so "Run All" on a library without enough section labels shows what
    is missing and how to get it (the labeler notebook, ``workbench labels import``) in the
    training cell and the cells after it, in place of stopping at a :class:`NotReadyError`.

    Parameters
    ----------
    library : Library
        The library whose stored labels are counted (QA-flagged tracks left out, as the job does).
    config : dict, optional
        The config the job will be given (its ``min_per_class``, ``min_classes`` and
        ``keep_flagged`` are the rule; other keys are left to the job to check).

    Returns
    -------
    str or None
        ``"not trained: <the job's refusal>"``, or ``None`` when the labels meet the rule.

    Raises
    ------
    ParameterError
        ``min_per_class`` or ``min_classes`` is not an int, or ``keep_flagged`` not a bool (as the job refuses them).
    """
    from workbench.train.sections.config_check import check_sections_config

    cfg = dict(config or {})
    keep_flagged = _keep_flagged(cfg)  # as the job refuses it: "yes" is not True
    check_sections_config({k: cfg[k] for k in ("min_per_class", "min_classes") if k in cfg})  # the rule's kind
    try:
        _training_sections(library, None, cfg, keep_flagged=keep_flagged)
    except NotReadyError as exc:
        return f"not trained: {exc}"
    return None


def _keep_flagged(cfg: dict[str, Any]) -> bool:
    """Pop and check config ``keep_flagged`` (default False), as the job and :func:`sections_not_ready` read it."""
    keep_flagged = cfg.pop("keep_flagged", False)
    if not isinstance(keep_flagged, bool):
        raise ParameterError(f"keep_flagged must be true or false; got {keep_flagged!r}")
    return keep_flagged


def _training_sections(library: Library, sections: Iterable[Any] | None, cfg: dict[str, Any], *,
                       keep_flagged: bool) -> dict[str, Any]:
    """The sections a job trains on (QA-flagged tracks left out), refused before the job when too few.

    Returns ``sections``, ``source`` ("labels" or "given"), ``rejections``, ``qa_excluded`` (labelled
    tracks left out) and ``flagged`` (every track QA leaves out).
    """
    from workbench.train import datasets as ds
    from workbench.train.sections.config_check import check_label_counts

    source = "given"
    rejections: list[dict[str, Any]] = []
    if sections is None:
        sections, source = ds.library_sections(library), "labels"
        rejections = library_rejections(library)
    sections = list(sections)
    qa_excluded: list[int] = []
    flagged: set[int] = set()
    if not keep_flagged:
        from workbench.qa import excluded_track_ids

        flagged = set(excluded_track_ids(library))
        qa_excluded = sorted({_track_of(s) for s in sections} & flagged)
        sections = [s for s in sections if _track_of(s) not in flagged]
        rejections = [r for r in rejections if r["track_id"] not in flagged]
    if not sections:
        rule = HOW_TO_LABEL_RULE.format_map({**CONFIG_DEFAULTS, **cfg})  # the rule this job was given
        raise NotReadyError(f"no labelled sections in this library: {rule}"
                            + (f" ({len(qa_excluded)} labelled tracks are left out by QA flags: `workbench qa` "
                               "lists them, `workbench qa keep TRACK` keeps one)" if qa_excluded else ""))
    try:
        check_label_counts(sections, cfg)
    except NotReadyError as exc:
        raise _with_qa_note(exc, qa_excluded) from exc
    return {"sections": sections, "source": source, "rejections": rejections, "qa_excluded": qa_excluded,
            "flagged": flagged}


def _with_qa_note(exc: NotReadyError, qa_excluded: list[int]) -> NotReadyError:
    """The refusal, saying how many labelled tracks QA flags left out and how to keep them (as is without)."""
    if not qa_excluded:
        return exc
    from workbench.wording import agree, count_of

    n = len(qa_excluded)
    return NotReadyError(f"{exc}; {count_of(n, 'labelled track')} {agree(n, 'is', 'are')} left out by QA flags "
                         "(`workbench qa` lists them, `workbench qa keep TRACK` keeps one, `--set keep_flagged=true` "
                         "keeps them all)")


def _external_sets(library: Library, external: Mapping[str, Any] | None, *, backbone: Backbone,
                   dataset: SectionData, progress: bool) -> dict[str, SectionData]:
    """Each ``external`` entry as section data; a folder in a library of its own beside the database."""
    import hashlib

    from workbench.train.sections.external import folder_section_data

    out: dict[str, SectionData] = {}
    for name, other in (external or {}).items():
        if isinstance(other, SectionData):
            out[str(name)] = other
            continue
        folder = Path(other).resolve()
        tag = hashlib.sha256(str(folder).encode()).hexdigest()[:8]
        out[str(name)], _ = folder_section_data(folder, library_dir=Path(library.path).parent / "external"
                                                / f"{folder.name}-{tag}", backbone=backbone,
                                                features=dataset.features, progress=progress)
    return out


def _track_of(section: Any) -> Any:
    """The ``track_id`` of a section record (a dict or an object)."""
    return section.get("track_id") if isinstance(section, Mapping) else getattr(section, "track_id", None)


def _sections_in_job(runner: JobRunner, library: Library, cfg: dict[str, Any], picked: dict[str, Any], *,
                     backbone: Backbone | None, progress: bool, keep_flagged: bool = False,
                     external: Mapping[str, Any] | None = None) -> Path:
    from workbench.embed.features import FeatureFrontend
    from workbench.jobs import _backbone_info, _track_docs

    b = backbone if backbone is not None else FeatureFrontend()
    runner.backbone = _backbone_info(b)
    sections, source, rejections = picked["sections"], picked["source"], picked["rejections"]
    qa_excluded, flagged = picked["qa_excluded"], picked["flagged"]
    dataset = section_dataset(library, sections, backbone=b, progress=progress, rejections=rejections)
    docs = _track_docs(library, [t.track_id for t in dataset.tracks])
    counts = {k: v for k, v in dataset.section_counts().items() if v}
    runner.set_data({
        "tracks": [{k: d[k] for k in ("id", "content_hash", "name")} for d in docs.values()],
        "labels": [(docs[t.track_id]["content_hash"], s["label"], s["start_s"], s["end_s"])
                   for t in dataset.tracks for s in t.sections],
        "label_counts": counts, "source": source, "n_windows": int(len(dataset.y)),
        "failed": [{"track_id": tid, "reason": why} for tid, why in dataset.failed],
        "qa_excluded": qa_excluded, "rejections": dataset.rejection_counts(),
        **({"label_provenance": label_provenance(library)} if source == "labels" else {}),
    })
    split = None  # the run's (training, held-out) track ids, when made here: train_sections uses them, not a second split
    if cfg.get("audio_views"):  # augmented audio views of the labelled tracks, extra training rows (audio_views)
        from workbench.train.sections.audio_views import add_audio_views

        full = {**CONFIG_DEFAULTS, **cfg}
        try:  # the run's split, made once here and given to train_sections: only its training tracks get views
            split = holdout_split(dataset, holdout=full["holdout"], seed=full["seed"], fold=full["holdout_fold"])
        except WorkbenchError:  # train_sections refuses the same split below, in the job's record
            split = None
        views = add_audio_views(library, dataset, n_views=int(cfg["audio_views"]), progress=progress,
                                eq_db=float(cfg.get("audio_view_eq_db", 0.0)), seed=int(cfg.get("seed", 0)),
                                track_ids=[] if split is None else split[0])
        runner._data["audio_views"] = {**views, "failed": [list(f) for f in views["failed"]]}
    others = _external_sets(library, external, backbone=b, dataset=dataset, progress=progress)
    if others:
        runner._data["external"] = {k: {"tracks": len(v.tracks), "sections": sum(v.section_counts().values()),
                                        "failed": [list(f) for f in v.failed]} for k, v in others.items()}
    runner.training(total_epochs=int(cfg.get("epochs", CONFIG_DEFAULTS["epochs"])))
    pool = None
    if cfg.get("self_training_rounds"):  # the library's unlabelled tracks (QA-flagged ones left out)
        from workbench.train.sections.self_training import unlabelled_pool

        pool, info = unlabelled_pool(library, dataset, backbone=b, seed=int(cfg.get("seed", 0)), exclude=(
            [] if keep_flagged else sorted(flagged)), max_tracks=int(cfg.get("self_training_max_tracks", 200)))
        runner._data["self_training_pool"] = {**info, "failed": [list(f) for f in info["failed"]]}
    try:
        result = train_sections(dataset, config=cfg, on_epoch=runner.on_epoch, progress=progress,
                                external=others or None, unlabelled=pool, split=split)
    except NotReadyError as exc:  # fewer sections than counted up front (a track could not be read or embedded)
        if not qa_excluded:
            raise
        raise _with_qa_note(exc, qa_excluded) from exc
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
