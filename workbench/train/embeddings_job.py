"""The embedding head's training as a job: the library's tracks → classes → windows → a triplet run.

:func:`train_embeddings_job` runs :func:`workbench.train.triplet.train_triplet` inside a
:class:`workbench.jobs.JobRunner` and writes the run contract's ``model``, ``baselines`` and
``held_out`` (``docs/runs.md``); :func:`held_out_invariance` (in :mod:`workbench.train.embeddings_invariance`,
re-exported here) measures the head's and the backbone's invariance to pitch, tempo and gain on held-out
windows (the invariance gate's input).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError
from workbench.jobs import Job, JobRunner, _backbone_info, _track_docs
from workbench.train.cnn_student import DISTILL_OFF, DISTILL_STUDENT_DEFAULTS, resolve_job_student
from workbench.train.embeddings_invariance import (  # noqa: F401  (re-exported)
    embedding_invariance,
    held_out_invariance,
)
from workbench.train.finetune import FINETUNE_DEFAULTS

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.library import Library, Track
    from workbench.train.datasets import EmbeddingSet

#: Data settings of :func:`train_embeddings_job` (the rest of its config is a ``TripletConfig``).
#: ``backbone`` (``auto``/``features``/``openl3``), ``size`` and ``openl3_weights`` pick the backbone
#: (:func:`workbench.train.backbones.backbone_by_name`); ``n_views`` augmented views per track are
#: positives of their own windows (:mod:`workbench.train.views`); ``invariance_clips`` held-out
#: windows measure the invariance gate; ``finetune_backbone`` trains OpenL3's last ``finetune_blocks`` blocks
#: too, at ``backbone_lr`` (:mod:`workbench.train.finetune`); ``distill="features"`` trains the CNN to reproduce
#: the feature frontend's head (:mod:`workbench.train.cnn_distill`), its student options ``distill_*`` None until
#: :func:`workbench.train.cnn_student.resolve_job_student` fills them (the distilled defaults, or off); ``blend`` (``"auto"``: picked on
#: ``blend_folds`` folds of the training tracks; ``None``: the head alone; or a backbone share in [0, 1]) keeps
#: part of the backbone's cosine in search (:mod:`workbench.train.embeddings_blend`), its backbone end z-scored as
#: ``blend_backbone`` says (``training``: the training windows' statistics; ``search``: search's own); ``early_stopping``
#: (``auto``/``validation``/``folds``) decides what stops training: on a small library the validation tracks
#: train too and the epoch count is chosen on folds (:mod:`workbench.train.embeddings_stopping`); ``learned_oof``
#: (off) fits term weights on the blend's fold heads into ``metrics.json`` (:mod:`workbench.train.embeddings_oof`).
EMBEDDING_DATA_DEFAULTS: dict[str, Any] = {"classes_from": "auto", "window_s": 8.0, "n_views": 2,
                                           "test_size": 0.2, "val_size": 0.2, "by_artist": False,
                                           "invariance_clips": 8, "backbone": "auto", "size": 512,
                                           "openl3_weights": None, **FINETUNE_DEFAULTS, "distill": None,
                                           "blend": "auto", "blend_folds": 3, "blend_backbone": "training",
                                           "learned_oof": False, "pretrain_epochs": 0, "pretrain_loss": "supcon",
                                           "early_stopping": "auto", **dict.fromkeys(DISTILL_OFF)}


def train_embeddings_job(library: Library, *, config: Mapping[str, Any] | None = None,
                         backbone: Backbone | None = None, tracks: Iterable[Track] | None = None,
                         experiments_root: str | os.PathLike[str] | None = None,
                         progress: bool = True, on_state: Callable[[Job], None] | None = None) -> tuple[Job, Path]:
    """Triplet fine-tuning of the embedding head, as a job; return the completed job and its run folder.

    Every track (or ``tracks``) is cut into windows of ``window_s`` seconds of pooled frame
    embeddings (:func:`workbench.train.datasets.section_windows`), classed by ``classes_from``
    (:func:`workbench.train.classes.resolve_classes`; default ``"auto"``: the user's crates, else
    the sub-folders, else self-supervised with each track its own class and one augmented view),
    and split by track into train / validation / test, holding out at least two tracks of every
    class that can spare them (by artist too with ``by_artist``). On a small library (``early_stopping="auto"``:
    a validation slice of fewer than two classes, or one that leaves a class fewer than eight training tracks)
    the validation tracks train too and the epoch count is chosen on folds of the training tracks
    (:mod:`workbench.train.embeddings_stopping`; ``metrics.json`` ``early_stopping`` says which rule ran).

    ``metrics.json`` holds ``model`` (test tracks' ``map_at_r``, ``precision_at_1``,
    ``precision_at_5``, ..., a query never matching its own track; ``val`` and ``test`` in full),
    ``baselines`` (``backbone``: the untrained backbone's vectors; ``random_head``: the head's
    architecture with the seed's random weights; same keys, same queries), ``held_out``
    (``track_hashes``) and ``search`` (the search gate's precision@3 by folder, head vs backbone:
    :mod:`workbench.train.embeddings_search`). ``data.json`` records ``class_source`` (source, tracks per class).

    Parameters
    ----------
    library : Library
        The library trained on; the job is recorded in it.
    config : dict, optional
        Keys of :class:`~workbench.train.triplet.TripletConfig` (``epochs`` is ``max_epochs``;
        ``batch_size`` defaults to ``m`` x the number of classes, at most 64) and of
        :data:`EMBEDDING_DATA_DEFAULTS`.
    backbone : Backbone, optional
        Default the feature frontend (``features-v1``).
    tracks : iterable of Track, optional
        Default: every track of the library.
    experiments_root : path, optional
        The ``experiments/`` folder; None uses the library's workspace's.
    progress : bool
        Bars for embedding and for the epochs.
    on_state : callable(Job), optional
        Called after each change of the job's state.

    Raises
    ------
    ParameterError
        An unknown config key (before any job is created).
    NotEnoughClassesError
        No class source gives two classes of two tracks (``self``: two tracks); the job is failed
        with the message, which names the options.
    """
    from workbench.train.triplet import TripletConfig
    from workbench.train.triplet_config import NOT_SETTINGS

    cfg = dict(config or {})
    if "epochs" in cfg:
        cfg["max_epochs"] = cfg.pop("epochs")
    data_cfg = {k: cfg.pop(k, v) for k, v in EMBEDDING_DATA_DEFAULTS.items()}
    known = sorted(f.name for f in fields(TripletConfig) if f.name not in NOT_SETTINGS)
    unknown = sorted(set(cfg) - set(known))
    if unknown:
        raise ParameterError(f"config keys must be among {sorted([*known, *EMBEDDING_DATA_DEFAULTS, 'epochs'])}; "
                             f"got unknown {unknown}")
    from workbench.similarity.blend import check_blend_backbone
    from workbench.train.embeddings_blend import check_blend, check_blend_folds

    data_cfg["blend"], data_cfg["blend_folds"] = check_blend(data_cfg["blend"]), check_blend_folds(data_cfg["blend_folds"])
    check_blend_backbone(data_cfg["blend_backbone"], "blend_backbone")
    from workbench.train.embeddings_stopping import check_early_stopping

    data_cfg["early_stopping"] = check_early_stopping(data_cfg["early_stopping"])
    student_from = resolve_job_student(data_cfg)  # distill_*: the distilled defaults or off; in range; only with distill
    b = resolve_backbone(backbone, data_cfg, seed=cfg.get("seed", 0))  # before the job: missing OpenL3 weights fail here, clearly
    from workbench.train.finetune import check_finetune

    check_finetune(data_cfg, b)  # fine-tuning the feature frontend (no weights) is refused before the job
    from workbench.train.embeddings_oof import check_learned_oof

    check_learned_oof(data_cfg["learned_oof"], blend=data_cfg["blend"], blend_folds=data_cfg["blend_folds"], backbone=b,
                      finetune=bool(data_cfg.get("finetune_backbone")))
    if data_cfg.get("distill") is not None:
        from workbench.train.cnn_distill import DISTILL_DEFAULTS, check_distill

        data_cfg["distill"] = check_distill(data_cfg["distill"], backbone=data_cfg["backbone"])
        for key, value in DISTILL_DEFAULTS.items():
            cfg.setdefault(key, value)
    from workbench.train.triplet_config import check_job_config

    check_job_config(cfg)  # a bad value is refused now, not after the embedding and augmentation
    from workbench.train.embeddings_pretrain import check_pretrain

    data_cfg["pretrain_epochs"], data_cfg["pretrain_loss"] = check_pretrain(data_cfg["pretrain_epochs"],
                                                                            data_cfg["pretrain_loss"])
    runner = JobRunner(library, "embeddings", config={**data_cfg, **cfg}, experiments_root=experiments_root,
                       progress=False, on_state=on_state)
    with runner:
        path = _embeddings_in_job(runner, library, cfg, data_cfg, backbone=b, tracks=tracks,
                                  progress=progress, student_from=student_from)
    return runner.job, path


def resolve_backbone(backbone: Backbone | None, data_cfg: dict[str, Any], *, seed: int = 0) -> Backbone:
    """The job's backbone: ``backbone`` when given, else the one ``data_cfg`` names; ``data_cfg["backbone"]``
    is set to the kind used (``features`` or ``openl3``), so runs and reports name it.

    Parameters
    ----------
    backbone : Backbone or None
        A backbone object (wins over the name).
    data_cfg : dict
        Holds ``backbone``, ``size`` and ``openl3_weights``; updated in place.
    seed : int >= 0
        The run's seed: the CNN (``cnn``) starts from its initial weights unless weights are given.

    Raises
    ------
    ParameterError, WeightsError
        See :func:`workbench.train.backbones.backbone_by_name`.
    """
    from workbench.embed.features import FeatureFrontend
    from workbench.train.backbones import backbone_by_name

    if backbone is None and data_cfg.get("backbone") == "cnn":  # trained from its seed (or the weights given)
        from workbench.train.backbones import cnn_backbone

        backbone = cnn_backbone(data_cfg.get("openl3_weights"), seed=seed, search=False,
                                stats=data_cfg.get("distill") is not None,  # distilled: with band statistics
                                rhythm_lags=int(data_cfg.get("distill_rhythm_lags") or 0),
                                tempo_bands=int(data_cfg.get("distill_tempo_bands") or 0))
    b = backbone if backbone is not None else backbone_by_name(
        data_cfg.get("backbone") or "auto", size=data_cfg.get("size", 512), weights=data_cfg.get("openl3_weights"))
    # the feature frontend by its own name (features-v1), as run.json and sections runs record it
    data_cfg["backbone"] = str(b.name) if isinstance(b, FeatureFrontend) else str(b.name).split("-")[0]
    data_cfg["size"] = int(b.dim) if data_cfg["backbone"] == "openl3" else data_cfg.get("size", 512)
    return b


def _embedding_split(data: EmbeddingSet, *, test_size: float, val_size: float, seed: int,
                     by_artist: bool) -> tuple[EmbeddingSet, EmbeddingSet, EmbeddingSet]:
    """(train, val, test): whole tracks held out, two or more per class where a class can spare them."""
    from workbench.evaluate.splits import per_class_split

    if not (0 < test_size < 1 and 0 < val_size < 1 and test_size + val_size < 1):
        raise ParameterError(f"test_size and val_size must be fractions in (0, 1) summing below 1; "
                             f"got test_size={test_size!r}, val_size={val_size!r}")

    def split(part: EmbeddingSet, size: float) -> tuple[EmbeddingSet, EmbeddingSet]:
        """Hold out whole tracks of ``part``: per class where possible, else a grouped split.

        Parameters
        ----------
        part : EmbeddingSet
            The rows to split.
        size : float in (0, 1)
            Share held out.
        """
        found = None if by_artist else per_class_split(part.track_ids, part.y, test_size=size, seed=seed)
        if found is None:
            return part.split(test_size=size, seed=seed, by_artist=by_artist,
                              stratify=len(set(part.y.tolist())) < len(set(part.track_ids.tolist())))
        return part.subset(found[0]), part.subset(found[1])

    rest, test = split(data, test_size)
    train, val = split(rest, val_size / (1 - test_size))
    return train, val, test


def _embeddings_in_job(runner: JobRunner, library: Library, cfg: dict[str, Any], data_cfg: dict[str, Any], *,
                       backbone: Backbone | None, tracks: Iterable[Track] | None, progress: bool,
                       student_from: Mapping[str, str] | None = None) -> Path:
    import numpy as np

    from workbench.embed.features import FeatureFrontend
    from workbench.train import datasets as ds
    from workbench.train.classes import resolve_classes
    from workbench.train.cnn_training import cnn_plan
    from workbench.train.finetune import finetune_plan
    from workbench.train.triplet import TripletConfig, _standardise_stats, embed, train_triplet
    from workbench.train.views import describe, training_view_settings

    blend_setting, blend = data_cfg.get("blend"), None
    b = backbone if backbone is not None else FeatureFrontend()
    runner.backbone = _backbone_info(b)
    cnn = cnn_plan(b, cfg)  # the CNN is trained itself, on its log-mel patches of 3-s windows
    rows_b = b if cnn is None else cnn.rows
    if cnn is not None:
        data_cfg["window_s"] = cnn.window_s
    seed = int(cfg.get("seed", 0))
    tune = finetune_plan(b, data_cfg, seed=seed)  # OpenL3's last blocks trained too, on audio, at their own lr
    selected = list(library.tracks() if tracks is None else tracks)
    choice = resolve_classes(library, selected, data_cfg["classes_from"])
    n_views = int(data_cfg["n_views"])
    if choice.source == "self" and n_views < 1:  # each track its own class: its augmented view is a positive
        n_views = 1
    kept = [t for t in selected if t.id in choice.classes]
    data = ds.section_windows(library, ds.whole_tracks(library, kept), backbone=rows_b, window_s=data_cfg["window_s"],
                              classes_from=choice.classes, seed=seed,
                              progress=progress and ("embed every track" if len(kept) == len(selected) else
                                                     "embed the tracks with a class"))  # 16 of 19: not every one
    if len(data) == 0:
        raise ParameterError(f"no training windows: none of the {len(kept)} tracks with a class "
                             f"({choice.summary()}) could be embedded")
    by_artist = bool(data_cfg["by_artist"])
    train, val, test = _embedding_split(data, test_size=float(data_cfg["test_size"]),
                                        val_size=float(data_cfg["val_size"]), seed=seed, by_artist=by_artist)
    stop_rule, stop_reason = _stopping(train, val, data_cfg["early_stopping"], fixed=(
        "self-supervised classes (each track its own) have no folds" if choice.source == "self" else
        "a CNN or fine-tuned backbone stops on the validation slice" if cnn is not None or tune is not None else None))
    if stop_rule == "folds":  # a small library: the validation tracks train too (the test tracks stay out)
        train = data.subset(np.isin(data.track_ids, np.concatenate([train.track_ids, val.track_ids])))
        val = data.subset(np.zeros(len(data), dtype=bool))
    # a distilled CNN reads only the originals of these rows (its teacher and student make their own views): their
    # views are not built, and the records count the rows they would add (one per original row and view)
    distilling = cnn is not None and bool(data_cfg.get("distill"))
    per_row = 1 + n_views if distilling else 1
    if n_views:  # augmented views of the training tracks only (validation and test score the original audio)
        train_tracks = [library.track(int(t)) for t in sorted(set(train.track_ids.tolist()))]
        train = ds.section_windows(library, ds.whole_tracks(library, train_tracks), backbone=rows_b,
                                   window_s=data_cfg["window_s"], classes_from=choice.classes,
                                   n_views=0 if distilling else n_views, seed=seed,
                                   progress=progress and "embed training tracks",
                                   augment_settings=None if distilling else training_view_settings())
    distill_batch = cfg.get("batch_size")  # the user's, if any (the sampler's default is the triplet path's)
    m = cfg.get("m", 4)
    if isinstance(m, int) and "batch_size" not in cfg:  # m rows of each class that has m rows, 2..16 classes
        full = int((np.bincount(train.y) * per_row >= m).sum())
        cfg["batch_size"] = m * min(64 // m, max(2, full)) if m <= 32 else m
    tcfg = TripletConfig(**cfg)
    pretrained = None
    if data_cfg["pretrain_epochs"] and cnn is None and tune is None:  # label-free, on every track search offers
        from workbench.train.embeddings_pretrain import pretrain_head

        head0, pretrained = pretrain_head(library, selected, backbone=rows_b, window_s=data_cfg["window_s"],
                                          config=tcfg, epochs=data_cfg["pretrain_epochs"], loss=data_cfg["pretrain_loss"])
        tcfg = dataclasses.replace(tcfg, init_head=head0)  # every head trained below (fold heads too) starts from it
    elif data_cfg["pretrain_epochs"]:
        pretrained = {"skipped": "a CNN or a fine-tuned backbone trains its own network; no head is pretrained"}
    chosen = None
    if stop_rule == "folds":  # the epoch count: the median best epoch of heads early-stopped on folds
        from workbench.train.embeddings_stopping import epochs_on_folds

        chosen = epochs_on_folds(train, tcfg, folds=max(2, int(data_cfg["blend_folds"]) or 3))
        tcfg = dataclasses.replace(tcfg, max_epochs=chosen["epochs"], keep_epoch="last")
    docs = _track_docs(library, data.track_ids)
    class_of_track = {int(t): data.classes[int(c)] for t, c in zip(data.track_ids, data.y, strict=True)}
    splits = {name: sorted({int(t) for t in part.track_ids}) for name, part in
              (("train", train), ("val", val), ("test", test))}
    runner.set_data({
        "tracks": [{k: d[k] for k in ("id", "content_hash", "name")} for d in docs.values()],
        "labels": [(d["content_hash"], class_of_track[tid], 0.0, d["duration_s"]) for tid, d in docs.items()],
        "label_counts": data.class_counts(), "splits": splits,
        "rows": {"train": len(train) * per_row, "val": len(val), "test": len(test)},
        "classes_from": choice.source, "class_source": choice.to_dict(),
        "window_s": data_cfg["window_s"], "n_views": n_views, "backbone": runner.backbone,
        "views": describe(tcfg, n_views), "view_settings": training_view_settings().to_dict(),
    })
    runner.training(total_epochs=tcfg.max_epochs)
    # augmented views train the head; validation and test score the original audio only
    val, test = val.originals(), test.originals()
    if tune is not None:  # rows of dB mel spectrograms: the network runs on them every step
        rows = {k: tune.rows(library, part, progress=progress) for k, part in (("train", train), ("val", val), ("test", test))}
        result = train_triplet(rows["train"], rows["val"], test=rows["test"], config=tcfg, on_epoch=runner.on_epoch,
                               progress=progress, model=tune.model(train, tcfg))
        test_embedded = embed(result.model, rows["test"].X)
        tune.finish(result, {"train": train, "val": val, "test": test})
        rows_b, runner.backbone = tune.tuned, tune.tuned.info()
    elif distilling:  # the CNN learns the feature frontend's head (teacher)
        from workbench.train.cnn_distill import distill_cnn

        result = distill_cnn(library, cnn.net, train=train, val=val, test=test, classes=choice.classes, cfg=tcfg,
                             n_views=n_views, batch_size=distill_batch, progress=progress, on_epoch=runner.on_epoch,
                             student={k: data_cfg[k] for k in DISTILL_STUDENT_DEFAULTS},
                             keep_tempo=bool(data_cfg.get("distill_keep_tempo")), student_from=student_from)
        test_embedded = embed(result.model, test.X)
    else:
        monitor = val if chosen is None else train.originals()  # folds: it only watches for collapse
        result = train_triplet(train, monitor, test=test, config=tcfg, on_epoch=runner.on_epoch, progress=progress,
                               model=None if cnn is None else cnn.net)
        if chosen is not None:
            _drop_monitor(result)
        test_embedded = embed(result.model, test.X)
        if cnn is None and blend_setting is not None:  # how much of the backbone search keeps (training tracks only)
            from workbench.similarity.blend import Blend
            from workbench.train.embeddings_blend import apply_blend, blend_backbone_stats, pick_blend

            others = [t for t in selected if t.id not in choice.classes]  # search offers them too
            other_rows = ds.section_windows(library, ds.whole_tracks(library, others), backbone=rows_b,
                                            window_s=data_cfg["window_s"], classes_from={t.id: "(no class)" for t in others},
                                            seed=seed, progress=False) if others else None
            fold_heads: list[Any] = []  # the blend's fold heads: out-of-fold vibe for learned term weights
            fixed = blend_backbone_stats(data_cfg["blend_backbone"], library=library, backbone=rows_b)  # search's
            blend = (pick_blend(train, val, result.model, tcfg, folds=int(data_cfg["blend_folds"]), others=other_rows,
                                keep=fold_heads, search_stats=fixed)
                     if blend_setting == "auto" else Blend(float(blend_setting), *(fixed or _standardise_stats(train.X)),
                                                           backbone="training" if fixed is None else "search"))
            test_embedded = apply_blend(result, blend, train=train, val=val, test=test)
            if data_cfg["learned_oof"]:  # opt-in: search does not read them (an index of the library per fold head)
                from workbench.train.embeddings_oof import oof_learned_weights

                result.metrics["learned_weights_oof"] = oof_learned_weights(
                    library, fold_heads, backbone=rows_b, window_s=data_cfg["window_s"], blend_weight=blend.weight,
                    held_out_hashes=[docs[t]["content_hash"] for t in sorted(set(test.track_ids.tolist()))])
    arrays = {"embeddings": test_embedded, "classes": np.asarray([test.classes[i] for i in test.y]),
              "track_ids": test.track_ids, "start_s": test.rows["start_s"]}
    _contract_metrics(result.metrics, sorted(docs[t]["content_hash"] for t in splits["test"]), choice.source)
    from workbench.train.embeddings_stopping import stopping_record

    result.metrics["early_stopping"] = stopping_record(stop_rule, stop_reason, chosen)
    if pretrained is not None:
        result.metrics["pretrain"] = pretrained
    if chosen is not None:
        result.metrics.setdefault("warnings", []).append(result.metrics["early_stopping"]["said"])
    if data_cfg.get("invariance_clips", 8):
        stats = _standardise_stats(train.X) if cnn is None else cnn.identity_stats()
        if blend is not None and blend.backbone == "search":  # the backbone of its baseline: as search z-scores it
            stats = (blend.mean, blend.std)
        n_clips = int(data_cfg.get("invariance_clips", 8))
        result.metrics.update(held_out_invariance(library, result.model, rows_b, test, stats=stats, n_clips=n_clips,
                                                  blend=blend))
        if tune is not None:  # the backbone's side of the gate is the frozen OpenL3's, as in the baseline
            frozen = held_out_invariance(library, result.model, b, test, stats=stats, n_clips=n_clips).get("invariance", {})
            for name, space in result.metrics.get("invariance", {}).items():
                space.update({k: v for k, v in frozen.get(name, {}).items() if k != "model"})
    if cnn is not None:  # the trained network back into the audio-in model, saved whole as model.pt
        cnn.finish(result)
        if data_cfg.get("distill"):
            b.trained = "distilled in this run from the feature frontend's triplet head (features-v1)"
        runner.backbone = {**_backbone_info(b), "trained": b.trained, "rows": cnn.rows.name}
    save = cnn.save if cnn is not None else (tune.saver(result.model) if tune is not None else None)
    if blend is not None:
        from workbench.train.embeddings_blend import blend_saver

        save = blend_saver(result.model, blend)
    from workbench.train.embeddings_search import job_search_record

    result.metrics["search"] = job_search_record(library, result.model, save, runner.backbone, data_cfg, choice.source,
                                                 result.metrics["held_out"]["track_hashes"],
                                                 baseline=b if tune is not None else None,  # tuned: the frozen one
                                                 cnn=cnn is not None)  # a CNN: against the feature frontend
    return runner.finish(result, config={**data_cfg, "n_views": n_views, **result.config}, arrays=arrays,
                         save_model=save)


def _stopping(train: EmbeddingSet, val: EmbeddingSet, setting: str, *, fixed: str | None) -> tuple[str, str]:
    """The run's early-stopping rule and why (:func:`workbench.train.embeddings_stopping.stopping_rule`); where
    ``fixed`` says why folds do not apply (a CNN, a fine-tuned backbone, self-supervised classes) it is the
    validation slice, and ``folds`` is refused."""
    from workbench.train.embeddings_stopping import stopping_rule

    if fixed is not None:
        if setting == "folds":
            raise ParameterError(f"early_stopping must be 'auto' or 'validation' here ({fixed}); got 'folds'")
        return "validation", fixed
    return stopping_rule(train, val, setting=setting)


def _drop_monitor(result: Any) -> None:
    """Remove the monitor's figures (the training tracks themselves) from a fixed-epoch run's metrics and history."""
    for who in ("model", "baseline", "untrained_head"):
        (result.metrics.get(who) or {}).pop("val", None)
    for record in result.history:
        for key in [k for k in record if k.startswith("val_")]:
            record.pop(key)


def _contract_metrics(metrics: dict[str, Any], test_hashes: list[str], source: str) -> None:
    """Flat headline keys for the test tracks under ``model`` and ``baselines`` (the run contract), in place."""
    model = metrics.setdefault("model", {})
    model.update({k: v for k, v in (model.get("test") or {}).items() if k not in model})
    metrics["baselines"] = {name: dict((metrics.get(legacy) or {}).get("test") or {})
                            for name, legacy in (("backbone", "baseline"), ("random_head", "untrained_head"))}
    metrics["held_out"] = {"track_hashes": test_hashes}
    if source == "self":
        metrics["note"] = ("self-supervised (each track its own class): no held-out query has a relevant item on "
                           "another track, so the retrieval metrics are not measurable (NaN); put tracks in "
                           "crates or sub-folders to measure them")
