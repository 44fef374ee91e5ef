"""Train the section model and score it next to its baselines on the same held-out tracks.

:func:`train_sections`: readiness → a grouped split of the labelled tracks (held-out tracks
never seen in training) → optional grouped cross-validation on the training tracks → the MLP
with early stopping (validation tracks taken from the training tracks) → the baselines
(:data:`~workbench.train.sections.baselines.BASELINES`) fitted on the training tracks →
everything scored on the held-out windows with :mod:`workbench.evaluate`, plus the smoothed
sections' boundary and label agreement per held-out track.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.labels.uncertain import uncertain_rule
from workbench.train.sections import audio_views, self_training
from workbench.train.sections.baselines import (
    BASELINES,
    MODELS,
    convergence_warnings,
    cross_validate,
    grouped_folds,
)
from workbench.train.sections.calibration_fit import (
    calibrate,
    fit_confidence_map,
    fit_domain_confidence,
    keep_if_it_helps,
)
from workbench.train.sections.features import (
    NotReadyError,
    SectionData,
    TrackFrames,
    WindowFeatures,
    check_readiness,
)
from workbench.train.sections.grammar import learn_grammar, track_sequences
from workbench.train.sections.held_out import score_held_out
from workbench.train.sections.suggestions import SMOOTHING_DEFAULTS, UNCERTAIN_BELOW
from workbench.train.sections.trainer import EpochCallback, SectionTrainer
from workbench.train.sections.transfer import leave_one_group_out, transfer_warnings, validation_groups
from workbench.validate import check_float
from workbench.wording import score_text

if TYPE_CHECKING:  # pragma: no cover
    from workbench.models.heads import SectionClassifier

CONFIG_DEFAULTS: dict[str, Any] = {
    "seed": 0, "holdout": 0.25, "holdout_fold": 0, "n_splits": 3, "models": [],
    "baselines": list(BASELINES), "baseline_max_windows": 3000, "n_threads": 1,
    "hidden_dim": 256, "dropout": 0.2, "epochs": 40, "batch_size": 256, "lr": 1e-3, "weight_decay": 1e-4,
    "class_weight": "balanced", "max_samples_per_epoch": 4096, "early_stopping": True, "validation_fraction": 0.2, "patience": 8,
    "checkpoint_on": "loss",
    "transitions": True, "min_per_class": 10, "min_classes": 2, "timeline_tracks": 3,
    "transfer": True, "transfer_epochs": 12, "transfer_samples_per_epoch": 2048, "transfer_max_folds": 8,
    "validate_on_groups": False,
    "grammar": True, "grammar_weight": 2.0, "grammar_alpha": 1.0, "duration_alpha": 1.0, "tie_weight": 0.5,
    "order_weight": 1.0, "ends_weight": 1.0, "outro_gate": 0.0, "repeat_relabel": 0.0, "weak_boundary_penalty": 0.0, "position_weight": 1.5, "novelty_weight": 8.0, "position_free": [],
    "calibrate": True, "calibration_guard": True, "confidence_map_per": "window", "confidence_map_domain": False,
    "uncertain_below": UNCERTAIN_BELOW, "not_weight": 1.0, "input_noise": 0.0, "track_jitter": 0.0,
    "label_smoothing": 0.0,
    "confidence": "stated", "ensemble_members": 4, "ensemble_score": "mean", "ensemble_split": "groups",
    "label_families": "off", "audio_views": 0, "audio_view_eq_db": 0.0, "audio_view_weight": 1.0,
    **SMOOTHING_DEFAULTS, **self_training.SELF_TRAINING_DEFAULTS,
}
_TRAINER_KEYS = ("hidden_dim", "dropout", "epochs", "batch_size", "lr", "weight_decay", "class_weight",
                 "max_samples_per_epoch", "early_stopping", "validation_fraction", "patience", "not_weight",
                 "input_noise", "track_jitter", "label_smoothing", "checkpoint_on")


@dataclass
class SectionResult:
    """What :func:`train_sections` returns to the job runner and the report.

    Attributes
    ----------
    model : SectionClassifier
        Trained on the training tracks, eval mode, takes raw window features.
    trainer : SectionTrainer
        The fitted trainer around ``model`` (``predict``, ``predict_proba``, ``classes_``).
    history : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``val_accuracy`` (the early-stopping
        validation tracks), ``seconds``, ``samples_per_s``.
    metrics : dict
        On the held-out tracks' windows, each from
        :func:`workbench.evaluate.classification_metrics` (``accuracy``, ``macro_f1``,
        ``per_class`` {label: {precision, recall, f1, support}}, ``confusion``, ``classes``):
        ``model`` (the window arg-max), ``model_smoothed`` (the smoothed sections' label at
        each window) and ``baselines`` {name: same keys}. ``held_out`` {``track_hashes``,
        ``track_ids``}; ``segments`` {``smoothed``, ``raw``, ``novelty``}: mean over held-out tracks of
        :func:`~workbench.evaluate.segmentation.segment_eval`, and ``segments.per_track`` (``track_ids``; boundary F
        @3 s per track of ``smoothed`` and ``novelty``, paired: the boundary gate's test); ``early_stopping``
        (:attr:`SectionTrainer.early_stopping_`); ``warnings`` (list of str); ``seconds``
        {``mlp``, ``cv``, each baseline, ``total``}; ``cv`` (:func:`cross_validate` on the
        training tracks, when ``models`` is not empty); ``intro_outro_confusion`` {model,
        model_smoothed} (share of intro and outro windows called the other); ``rejections`` (rejected suggestions
        used: ``spans``, ``not_windows``, ``positives_dropped``, ``unused``,
        ``not_windows_trained``, ``not_weight``); ``n_windows``, ``n_sections``,
        ``train_tracks``, ``test_tracks``.
    config : dict
        :data:`CONFIG_DEFAULTS` updated with the caller's config, plus ``features`` and ``backbone``.
    arrays : dict of np.ndarray
        Held-out windows: ``y_true``, ``y_pred``, ``y_smoothed`` (str), ``probs`` (n, K in
        ``classes``), ``track_ids``, ``times_s``, ``classes``.
    timeline : list of dict
        A few held-out tracks: ``{track_id, name, duration_s, truth: [{start_s, end_s, label}],
        predicted: [{start_s, end_s, label, confidence}], raw: [...]}``.
    transitions : (log_transitions, log_init, log_final)
        The label-order prior learned from the training tracks (over ``trainer.classes_``).
    features : WindowFeatures
    """

    model: SectionClassifier
    trainer: SectionTrainer
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    config: dict[str, Any]
    arrays: dict[str, np.ndarray]
    timeline: list[dict[str, Any]]
    transitions: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    features: WindowFeatures


def holdout_split(data: SectionData, *, holdout: float, seed: int, fold: int = 0) -> tuple[list[int], list[int]]:
    """The run's training and held-out track ids: a stratified grouped split into ``round(1 / holdout)`` folds.

    Parameters
    ----------
    data : SectionData
        The labelled tracks.
    holdout : float in (0, 1)
        Share of the tracks held out (config ``holdout``).
    seed : int
        The split's seed (config ``seed``).
    fold : int
        Which fold is held out (config ``holdout_fold``).

    Returns
    -------
    (list of int, list of int)
        Training and held-out track ids, sorted.

    Raises
    ------
    ParameterError
        ``holdout`` outside (0, 1) or ``fold`` not a fold.
    NotReadyError
        Fewer than 2 tracks.
    """
    ids = np.array([t.track_id for t in data.tracks])
    if not 0 < holdout < 1:
        raise ParameterError(f"config holdout must be a fraction in (0, 1) of the tracks; got {holdout!r}")
    if len(ids) < 2:
        raise NotReadyError(f"Need 2+ labelled tracks to hold one out; have {len(ids)}")
    n_splits = int(np.clip(round(1 / holdout), 2, len(ids)))
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < n_splits:
        raise ParameterError(f"config holdout_fold must be an int in 0..{n_splits - 1}; got {fold!r}")
    tr, te = grouped_folds(data.y, data.groups, n_splits=n_splits, seed=seed)[fold]
    return sorted(set(data.groups[tr].tolist())), sorted(set(data.groups[te].tolist()))


def _beats_majority(model: Mapping[str, Any], majority: Mapping[str, Any] | None) -> str | None:
    if not majority:
        return None
    if model["macro_f1"] > majority["macro_f1"] and model["accuracy"] >= majority["accuracy"]:
        return None
    # the one that fails is named as failing, the one that passes as passing: the real-music run read "does not
    # beat ...: accuracy 0.4296 vs 0.4319, macro F1 0.2893 vs 0.1508", the second well above the majority's
    acc, f1 = (score_text(model["accuracy"]), score_text(majority["accuracy"])), (
        score_text(model["macro_f1"]), score_text(majority["macro_f1"]))
    parts = [(model["accuracy"] >= majority["accuracy"], f"accuracy {acc[0]} is below the majority's {acc[1]}",
              f"accuracy {acc[0]} is not below the majority's {acc[1]}"),
             (model["macro_f1"] > majority["macro_f1"], f"macro F1 {f1[0]} is not above the majority's {f1[1]}",
              f"macro F1 {f1[0]} is above the majority's {f1[1]}")]
    failed = [bad for ok, bad, _ in parts if not ok]
    passed = [good for ok, _, good in parts if ok]
    return ("the model does not beat always saying the most frequent class on the held-out tracks: its "
            + " and its ".join(failed) + (f" (its {passed[0]})" if passed else ""))


def train_sections(dataset: SectionData, *, config: Mapping[str, Any] | None = None,
                   on_epoch: EpochCallback | None = None, progress: bool = True,
                   external: Mapping[str, SectionData] | None = None,
                   unlabelled: Sequence[TrackFrames] | None = None,
                   split: tuple[Sequence[int], Sequence[int]] | None = None) -> SectionResult:
    """Check readiness, train with early stopping, and score the model and its baselines on held-out tracks.

    Parameters
    ----------
    dataset : SectionData
        From :func:`~workbench.train.sections.section_dataset`.
    config : mapping or None
        Overrides of :data:`CONFIG_DEFAULTS` (unknown keys are refused). ``holdout`` is the
        fraction of tracks held out (a stratified grouped split into ``round(1 / holdout)``
        folds; ``holdout_fold`` picks which is held out). ``baselines`` lists the baselines
        scored on the held-out windows; ``models`` the models cross-validated on the training
        tracks (``[]`` skips cross-validation). ``transfer``: score each group of tracks (crate or
        folder) held out in turn (:func:`~workbench.train.sections.leave_one_group_out`; its
        models train ``transfer_epochs`` epochs of at most ``transfer_samples_per_epoch``
        windows; more than ``transfer_max_folds`` groups are held out several at a time).
        ``validate_on_groups``: early stopping holds whole groups out (3+ groups).
        ``grammar``: smooth with a grammar learned from the training tracks
        (:func:`~workbench.train.sections.learn_grammar`, ``grammar_weight`` on its order and
        duration priors, ``position_weight`` on its position factor, ``novelty_weight`` on the
        bars' novelty as a boundary bonus, ``grammar_alpha`` its additive smoothing count, ``duration_alpha`` that of
        its duration prior, ``tie_weight`` how far the chorus and drop evidence is pulled together so the section
        before decides, ``order_weight`` (``ends_weight``) a scale of the order (first/last) prior alone, ``outro_gate`` the weight of a last outro's
        level fall at its start (0: off), ``weak_boundary_penalty`` the cost of a boundary where neither the
        probabilities nor the novelty change (0: off; :func:`~workbench.train.sections.novelty.weak_boundaries`), ``repeat_relabel`` the share of repeated bars from which decoded sections
        take their first occurrence's label (0: off), ``position_free`` labels without a position factor:
        :class:`~workbench.train.sections.grammar.Grammar`); else ``transitions``.
        ``calibrate``: fit a temperature on held-out predictions (and a Platt map of the
        suggestions' confidence); ``calibration_guard``: keep the identity instead of either where,
        fitted on the other groups, it raised the held-out groups' ECE; ``confidence_map_per``:
        ``"window"`` (the default: each scored window once in the Platt fit), ``"suggestion"`` (each
        out-of-fold suggestion once, as its share right) or ``"span"`` (one outcome per suggestion, right
        when half its windows are, as the labeler judges it; figures in the bench docstrings);
        ``confidence_map_domain`` (default False, an option: on ``make demo``'s cross-generator line it raised the
        suggestion ECE 0.0729 -> 0.0938): a track farther from the training tracks than the folds ever
        held out is served the folds' share right instead of the Platt map, and said to be unlike the labelled
        tracks (:mod:`~workbench.train.sections.domain_map`; the guard keeps the Platt map alone where this
        raised the held-out groups' ECE, counted per suggestion unless ``confidence_map_per="window"``); ``uncertain_below``: the
        calibrated confidence under which a suggestion is marked uncertain (0.8: a chance of more than 1 in 5 that it
        is wrong; :mod:`workbench.labels.uncertain`). ``not_weight``: weight of the
        "not this label" loss on windows of rejected suggestions (:attr:`SectionData.X_not`;
        0 only keeps a rejected label from being a positive there); ``metrics["rejections"]``
        records how many were used (:meth:`SectionData.rejection_counts`, ``not_windows_trained``).
        ``track_jitter`` and ``input_noise``: training-time augmentation in feature space (a gain and
        offset per track and column, Gaussian noise per window; :class:`SectionTrainer`; 0 = off).
        ``label_smoothing``: the training loss's label smoothing in [0, 1) (:class:`SectionTrainer`; 0 = off).
        ``checkpoint_on``: what early stopping keeps, ``"loss"`` (the default: the lowest validation loss) or
        ``"macro_f1"`` (the highest validation macro F1, the loss breaking ties; an option: it held on the dev sets
        and missed on the fresh set s22, ``docs/experiments/sections.md``; :class:`SectionTrainer`).
        ``confidence``: ``"stated"`` (the suggestion's label's mean probability) or ``"ensemble"``
        (its support among ``ensemble_members`` small models each trained without a share of the
        groups, :mod:`~workbench.train.sections.ensemble`, scored as ``ensemble_score``: ``"mean"``,
        ``"agreement"`` or ``"stated_agreement"``; ``ensemble_split`` ``"groups"``: each member
        without a share of the groups, ``"features"``: without a share of the feature groups);
        the Platt map is fitted on whichever confidence is used. ``label_families``: ``"off"`` or
        ``"learned"`` (each track decoded within one family of labels learned from the training tracks'
        co-occurrence, the best-scoring family kept: :mod:`~workbench.train.sections.families`;
        ``metrics["label_families"]`` names the families and each held-out track's).
    on_epoch : callable or None
        ``on_epoch(epoch, max_epochs, record)`` after each epoch of the final training.
    progress : bool
        Bars for the epochs and the held-out groups.
    external : mapping of str to SectionData, optional
        Other labelled sets (a second generator, another library) scored by the final model and
        its baselines (:func:`~workbench.train.sections.external.external_scores`), recorded
        under ``metrics["transfer"]["external"][name]``.
    unlabelled : sequence of TrackFrames, optional
        The user's unlabelled tracks (their sections, if any, are never read; tracks of
        ``dataset`` are left out). With ``self_training_rounds`` > 0 the final model and every
        leave-one-group-out fold model are retrained on their confident suggestions
        (:mod:`~workbench.train.sections.self_training`: ``self_training_threshold``,
        ``self_training_weight``, ``self_training_cap``); ``metrics["self_training"]`` says how
        many pseudo-labelled windows and tracks were used. Pseudo-labels are never scored as truth.
    split : (sequence of int, sequence of int) or None
        The run's training and held-out track ids when the caller made them already with :func:`holdout_split` and
        this ``config`` (the sections job, which gives only the training tracks audio views); None makes them here.

    Raises
    ------
    NotReadyError
        Too few labelled sections (see :func:`check_readiness`) or tracks.
    """
    from tqdm.auto import tqdm

    from workbench.train import smoothing as sm
    from workbench.train.progress import close_stopped

    started = time.perf_counter()
    unknown = sorted(set(config or {}) - set(CONFIG_DEFAULTS))
    if unknown:
        raise ParameterError(f"config keys must be among {sorted(CONFIG_DEFAULTS)}; got unknown {unknown}")
    cfg = {**CONFIG_DEFAULTS, **dict(config or {})}
    bad = [m for m in cfg["models"] if m not in MODELS] + [b for b in cfg["baselines"] if b not in BASELINES]
    if bad:
        raise ParameterError(f"config models must be among {MODELS} and baselines among {BASELINES}; got {bad}")
    if cfg["confidence_map_per"] not in ("suggestion", "window", "span"):
        raise ParameterError(f"config confidence_map_per must be 'span', 'suggestion' or 'window'; "
                             f"got {cfg['confidence_map_per']!r}")
    from workbench.train.sections.ensemble import (
        check_confidence_config,
        fit_members,
    )

    check_confidence_config(cfg)
    # before any training: a bad one stopped the run at its end (the rule said in the run) or at a suggestion
    check_float("config uncertain_below", cfg["uncertain_below"], min=0, max=1)
    if not isinstance(cfg["confidence_map_domain"], bool):
        raise ParameterError(f"config confidence_map_domain must be True or False; got {cfg['confidence_map_domain']!r}")
    from workbench.train.sections.families import check_families_config, with_families

    check_families_config(cfg)
    self_training.check_self_training_config(cfg)
    check_readiness(dataset.section_counts(), min_per_class=cfg["min_per_class"], min_classes=cfg["min_classes"])
    if split is None:
        train_ids, test_ids = holdout_split(dataset, holdout=cfg["holdout"], seed=cfg["seed"], fold=cfg["holdout_fold"])
    else:  # the caller's, made with this config: every id one of the dataset's tracks, in one part only
        train_ids, test_ids = [int(i) for i in split[0]], [int(i) for i in split[1]]
        known = {t.track_id for t in dataset.tracks}
        if not set(train_ids) | set(test_ids) <= known or set(train_ids) & set(test_ids):
            raise ParameterError(f"split must be two disjoint lists of the dataset's track ids; got {split!r}")
    train, test = dataset.subset(train_ids), dataset.subset(test_ids)
    trainer_params = {k: cfg[k] for k in _TRAINER_KEYS}
    seconds: dict[str, float] = {}
    metrics: dict[str, Any] = {"n_windows": len(dataset.y), "n_sections": sum(dataset.section_counts().values()),
                               "train_tracks": train_ids, "test_tracks": test_ids,
                               "held_out": {"track_hashes": sorted(t.content_hash for t in test.tracks),
                                            "track_ids": test_ids}}
    if cfg["models"] and len(train_ids) >= 2:
        t0 = time.perf_counter()
        metrics["cv"] = cross_validate(train.X, train.y, train.groups, n_splits=min(cfg["n_splits"], len(train_ids)),
                                       seed=cfg["seed"], models=cfg["models"], trainer_params=trainer_params,
                                       max_windows=cfg["baseline_max_windows"], n_threads=cfg["n_threads"],
                                       progress=progress)
        seconds["cv"] = time.perf_counter() - t0
    bar = tqdm(total=cfg["epochs"], desc="train sections", unit="epoch", disable=not progress)

    def epoch_done(epoch: int, total: int, record: Mapping[str, Any]) -> None:
        """Advance the bar and pass the epoch on to ``on_epoch``.

        Parameters
        ----------
        epoch : int >= 1
            The epoch just done.
        total : int
            Epochs planned.
        record : mapping
            The epoch's history record.
        """
        bar.update(1)
        if on_epoch is not None:
            on_epoch(epoch, total, record)

    t0, groups = time.perf_counter(), validation_groups(train, by_group=cfg["validate_on_groups"])
    views = audio_views.view_rows(train, cfg["audio_view_weight"], groups=groups)
    try:
        trainer = SectionTrainer(seed=cfg["seed"], **trainer_params).fit(
            train.X, train.y, groups, on_epoch=epoch_done,
            not_X=train.X_not, not_y=train.y_not, views=views)
        close_stopped(bar, "early stop")  # full and green: early stopping is no failure
    finally:
        bar.close()  # after an error: red in a notebook
    seconds["mlp"] = time.perf_counter() - t0
    metrics["rejections"] = {**dataset.rejection_counts(), "not_windows_trained": int(trainer.n_not_windows_),
                             "not_weight": float(cfg["not_weight"])}
    classes = trainer.classes_
    transitions = None
    if cfg["transitions"]:
        index = {c: i for i, c in enumerate(classes)}
        seqs = [[index[s["label"]] for s in t.sections if s["label"] in index] for t in train.tracks]
        transitions = sm.learn_transitions(seqs, len(classes))
    trainer.grammar_ = (learn_grammar(track_sequences(train.tracks), classes, weight=cfg["grammar_weight"],
                                      position_weight=cfg["position_weight"], alpha=cfg.get("grammar_alpha", 1.0),
                                      duration_alpha=cfg.get("duration_alpha", 1.0),
                                      tie_weight=cfg.get("tie_weight", 0.0), order_weight=cfg.get("order_weight", 1.0),
                                      position_free=cfg.get("position_free", ()), ends_weight=cfg.get("ends_weight", 1.0),
                                      outro_gate=cfg.get("outro_gate", 0.0),
                                      repeat_relabel=cfg.get("repeat_relabel", 0.0),
                                      weak_boundary_penalty=cfg.get("weak_boundary_penalty", 0.0)) if cfg["grammar"] else None)
    trainer.grammar_ = with_families(trainer.grammar_, train.tracks, mode=cfg["label_families"],
                                     alpha=cfg["grammar_alpha"], duration_alpha=cfg["duration_alpha"])
    if getattr(trainer.grammar_, "families", None) is not None:
        metrics["label_families"] = {"families": trainer.grammar_.families.summary(), "held_out": {}}
    trainer.uncertain_below_ = float(cfg["uncertain_below"])
    trainer.novelty_weight_ = float(cfg["novelty_weight"]) if cfg["grammar"] else 0.0
    labelled_ids = {t.track_id for t in dataset.tracks}
    pool = [t for t in (unlabelled or ()) if t.track_id not in labelled_ids] if cfg["self_training_rounds"] else []
    if cfg["self_training_rounds"]:
        t0 = time.perf_counter()
        kept = (trainer.grammar_, trainer.uncertain_below_, trainer.novelty_weight_)
        trainer, metrics["self_training"] = self_training.self_train(trainer, train, pool, cfg=cfg, grammar=trainer.grammar_, fit=(
            lambda ps: SectionTrainer(seed=cfg["seed"], **trainer_params).fit(
                train.X, train.y, groups, not_X=train.X_not, not_y=train.y_not, pseudo=ps, views=views)))
        trainer.grammar_, trainer.uncertain_below_, trainer.novelty_weight_ = kept
        metrics["self_training"]["left_out_labelled"] = len(unlabelled or ()) - len(pool)
        if metrics["self_training"]["stopped"]:
            metrics["self_training"]["stopped"] = f"self-training stopped: {metrics['self_training']['stopped']}"
        seconds["self_training"] = time.perf_counter() - t0
    oof: dict[str, np.ndarray] = {}
    fold_params = {**trainer_params, "epochs": min(cfg["epochs"], cfg["transfer_epochs"]),
                   "max_samples_per_epoch": cfg["transfer_samples_per_epoch"], "patience": min(cfg["patience"], 4)}
    trainer.members_, trainer.ensemble_score_ = [], str(cfg["ensemble_score"])
    if cfg["confidence"] == "ensemble":
        t0 = time.perf_counter()
        trainer.members_ = fit_members(train, cfg=cfg, trainer_params=fold_params, groups_of=lambda d: validation_groups(
            d, by_group=cfg["validate_on_groups"]))
        seconds["ensemble_members"] = time.perf_counter() - t0
    if cfg["transfer"]:
        t0 = time.perf_counter()
        loso, oof = leave_one_group_out(dataset, cfg=cfg, trainer_params=fold_params, progress=progress,
                                        unlabelled=pool or None)
        metrics["transfer"] = {"leave_one_group_out": loso}
        seconds["transfer"] = time.perf_counter() - t0
    metrics["calibration"] = calibrate(trainer, train, oof, enabled=cfg["calibrate"])
    fit_confidence_map(trainer, oof, train_ids, cfg=cfg, calibration=metrics["calibration"])
    if cfg["calibration_guard"]:
        keep_if_it_helps(trainer, metrics["calibration"], (metrics.get("transfer") or {}).get("leave_one_group_out"))
    from workbench.train.sections.domain_route import head_temperatures

    head_temperatures(trainer, oof, train_ids, cal=metrics["calibration"])  # self_training_route: one per head
    fit_domain_confidence(trainer, oof, dataset, train_ids, cfg=cfg, calibration=metrics["calibration"])
    metrics["calibration"]["uncertain_rule"] = uncertain_rule(  # what the labeler marks
        trainer.uncertain_below_, mapped=getattr(trainer, "confidence_map_", None) is not None)
    if external:
        from workbench.train.sections.external import external_scores

        t0 = time.perf_counter()
        metrics.setdefault("transfer", {})["external"] = {
            str(name): external_scores(trainer, train, other, cfg=cfg, backbone=dataset.backbone)
            for name, other in external.items()}
        seconds["external"] = time.perf_counter() - t0
    arrays, timeline, base_seconds = score_held_out(trainer, train, test, cfg=cfg, transitions=transitions,
                                                    backbone=dataset.backbone, metrics=metrics)
    seconds.update(base_seconds)
    metrics["early_stopping"] = dict(trainer.early_stopping_)
    metrics["warnings"] = [w for w in (trainer.early_stopping_.get("warning"),
                                       _beats_majority(metrics["model"], metrics["baselines"].get("majority")),
                                       *convergence_warnings(metrics["baselines"]),
                                       *transfer_warnings(metrics.get("transfer")),
                                       (metrics.get("self_training") or {}).get("stopped")) if w]
    seconds["total"] = time.perf_counter() - started
    metrics["seconds"] = seconds
    metrics["feature_groups"] = dataset.features.group_names()
    cfg_out = {**cfg, "models": list(cfg["models"]), "baselines": list(cfg["baselines"]),
               "features": dataset.features.to_dict(), "backbone": dataset.backbone}
    return SectionResult(trainer.model_, trainer, trainer.history_, metrics, cfg_out, arrays, timeline,
                         transitions, dataset.features)
