"""The section model and its baselines scored on the held-out tracks of a run.

:func:`score_held_out` smooths each held-out track's suggestions (grammar, calibrated
probabilities, the confidence served), scores the window arg-max, the smoothed sections, the
baselines (fitted on the training tracks) and the unsupervised novelty sections on the same
windows, with the boundaries' agreement per track, the suggestions' ECE and the intro/outro
confusion. Used by :func:`~workbench.train.sections.training.train_sections`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.train.sections.baselines import class_names, held_out_baselines, scores
from workbench.train.sections.calibration_fit import ece_on
from workbench.train.sections.novelty import novelty_sections
from workbench.train.sections.suggestions import SMOOTHING_DEFAULTS, segments_for
from workbench.train.sections.transfer import intro_outro_confusion

if TYPE_CHECKING:  # pragma: no cover
    from workbench.train.sections.features import SectionData
    from workbench.train.sections.trainer import SectionTrainer


def score_held_out(trainer: SectionTrainer, train: SectionData, test: SectionData, *, cfg: Mapping[str, Any],
                   transitions: tuple[np.ndarray, np.ndarray, np.ndarray] | None, backbone: str,
                   metrics: dict[str, Any]) -> tuple[dict[str, np.ndarray], list[dict[str, Any]], dict[str, float]]:
    """Score the trained model, its smoothed suggestions and the baselines on the held-out tracks.

    Parameters
    ----------
    trainer : SectionTrainer
        The final model (grammar, temperature, confidence map and members set).
    train, test : SectionData
        The training tracks (the baselines are fitted on them) and the held-out tracks.
    cfg : mapping
        The run's config (smoothing options, ``baselines``, ``baseline_max_windows``, ``seed``,
        ``n_threads``, ``timeline_tracks``).
    transitions : (log_transitions, log_init, log_final) or None
        The label-order prior when there is no grammar.
    backbone : str
        The dataset's backbone (for the novelty sections).
    metrics : dict
        The run's metrics: ``model``, ``model_smoothed``, ``baselines``, ``segments`` (means over the held-out
        tracks; ``segments.per_track``: ``track_ids`` and, for ``smoothed`` and ``novelty``, ``boundary_f_3s`` per
        track in that order), ``intro_outro_confusion`` and the calibration's ECE are set (see
        :class:`~workbench.train.sections.training.SectionResult`).

    Returns
    -------
    arrays : dict of np.ndarray
        Held-out windows (:attr:`SectionResult.arrays`).
    timeline : list of dict
        A few held-out tracks (:attr:`SectionResult.timeline`).
    seconds : dict
        Seconds each baseline took.
    """
    # lazy: not loaded by `import workbench.train.sections`
    from workbench.evaluate.calibration import apply_confidence_map
    from workbench.train.sections.domain_map import served_map
    from workbench.train.sections.ensemble import with_ensemble_confidence
    from workbench.train.sections.external import suggestion_ece

    classes = trainer.classes_
    smooth_opts = {k: cfg[k] for k in SMOOTHING_DEFAULTS}
    y_true, y_pred, y_smooth, probs, tids, times = [], [], [], [], [], []
    seg_scores: dict[str, list[dict[str, float]]] = {"smoothed": [], "raw": [], "novelty": []}
    y_novelty: list[np.ndarray] = []
    s_conf: list[tuple[np.ndarray, np.ndarray]] = []  # per track: confidence, suggestion index of each window
    s_served: list[np.ndarray] = []  # per track: the confidence served (the domain-aware map's differs per track)
    timeline: list[dict[str, Any]] = []
    from workbench.train.sections.domain_route import served

    for tr in test.tracks:
        model = served(trainer, tr)[0]  # self_training_route: the base model for a track like the labelled ones
        p_all = model.predict_proba(tr.features)
        p_cal = model.predict_proba(tr.features, calibrated=True)
        smoothed = segments_for(tr, p_cal, classes, transitions=transitions, grammar=trainer.grammar_,
                                uncertain_below=trainer.uncertain_below_, novelty_weight=trainer.novelty_weight_,
                                **smooth_opts)
        smoothed = with_ensemble_confidence(tr, smoothed, p_cal, trainer.members_, classes,
                                            score=trainer.ensemble_score_, temperature=trainer.temperature_,
                                            uncertain_below=trainer.uncertain_below_)
        if "label_families" in metrics:
            metrics["label_families"]["held_out"][tr.track_id] = smoothed[0].family
        raw = segments_for(tr, p_all, classes, smooth=False)
        novel = novelty_sections(tr, backbone=backbone)
        seg_scores["novelty"].append(tr.segment_eval(novel))
        lab = tr.window_labels()
        keep = lab != ""
        starts = np.array([s.start_s for s in smoothed])
        at = np.clip(np.searchsorted(starts, tr.times_s[keep], side="right") - 1, 0, len(smoothed) - 1)
        y_true.append(lab[keep].astype(str))
        y_pred.append(np.asarray(classes)[p_all[keep].argmax(axis=1)])
        y_smooth.append(np.array([smoothed[i].label for i in at]))
        s_conf.append((np.array([smoothed[i].confidence for i in at], dtype=np.float64), at))
        cmap = served_map(trainer, tr)
        s_served.append(s_conf[-1][0] if cmap is None else apply_confidence_map(np.clip(s_conf[-1][0], 0, 1), cmap))
        n_at = np.clip(np.searchsorted([n["start_s"] for n in novel], tr.times_s[keep], side="right") - 1, 0,
                       len(novel) - 1)
        y_novelty.append(np.array([novel[i]["label"] for i in n_at]))
        probs.append(p_all[keep])
        tids.append(np.full(int(keep.sum()), tr.track_id))
        times.append(tr.times_s[keep])
        seg_scores["smoothed"].append(tr.segment_eval(smoothed))
        seg_scores["raw"].append(tr.segment_eval(raw))
        if len(timeline) < cfg["timeline_tracks"]:
            timeline.append({
                "track_id": tr.track_id, "name": tr.name, "duration_s": tr.duration_s,
                "truth": [dict(s) for s in tr.sections],
                "predicted": [{"start_s": s.start_s, "end_s": s.end_s, "label": s.label, "confidence": s.confidence,
                               "uncertain": s.uncertain} for s in smoothed], "family": smoothed[0].family,
                "novelty": [{k: n[k] for k in ("start_s", "end_s", "label")} for n in novel],
                "raw": [{"start_s": s.start_s, "end_s": s.end_s, "label": s.label, "confidence": s.confidence}
                        for s in raw],
            })
    arrays = {"y_true": np.concatenate(y_true), "y_pred": np.concatenate(y_pred),
              "y_smoothed": np.concatenate(y_smooth), "probs": np.vstack(probs),
              "track_ids": np.concatenate(tids), "times_s": np.concatenate(times), "classes": np.asarray(classes)}
    names = class_names(train.y, test.y)
    metrics["model"] = scores(arrays["y_true"], arrays["y_pred"], names)
    metrics["model_smoothed"] = scores(arrays["y_true"], arrays["y_smoothed"], names)
    metrics["baselines"], base_seconds = held_out_baselines(
        train.X, train.y, test.X, test.y, names=cfg["baselines"], class_labels=names, seed=cfg["seed"],
        max_windows=cfg["baseline_max_windows"], n_threads=cfg["n_threads"])
    metrics["baselines"]["novelty"] = scores(arrays["y_true"], np.concatenate(y_novelty), names)
    if metrics["calibration"].get("temperature") is not None:
        metrics["calibration"].update(ece_on(arrays, metrics["calibration"]["temperature"]))
    metrics["calibration"].setdefault("suggestions", {}).update(
        suggestion_ece(np.concatenate([c for c, _ in s_conf]), arrays["y_smoothed"] == arrays["y_true"],
                       trainer.confidence_map_, track_ids=arrays["track_ids"],
                       suggestion_index=np.concatenate([a for _, a in s_conf]), served=np.concatenate(s_served)))
    metrics["segments"] = {k: {m: float(np.mean([s[m] for s in v])) for m in v[0]} for k, v in seg_scores.items()}
    # per track, paired, for the boundary gate's test over tracks (workbench.evaluate.gates_sections.boundary_test)
    metrics["segments"]["per_track"] = {"track_ids": [int(tr.track_id) for tr in test.tracks],
                                        **{k: {"boundary_f_3s": [float(s["boundary_f_3s"]) for s in seg_scores[k]]}
                                           for k in ("smoothed", "novelty")}}
    metrics["intro_outro_confusion"] = {"model": intro_outro_confusion(arrays["y_true"], arrays["y_pred"]),
                                        "model_smoothed": intro_outro_confusion(arrays["y_true"], arrays["y_smoothed"])}
    return arrays, timeline, base_seconds
