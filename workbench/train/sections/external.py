"""Scores on another set of tracks: the trained model on music made another way (cross-generator).

:func:`external_scores` scores the final model (its temperature and grammar included) on tracks
that were never in the labelled data: a second, independently made synthesized set (the
development set rendered with ``--sections``, :mod:`workbench.devset`) or another library. Next to
it, on the same windows: the majority-class and logistic-regression baselines fitted on the
model's training tracks, and the unsupervised novelty boundaries. ``train_sections(...,
external={name: data})`` records them under ``metrics["transfer"]["external"]``; the sections
report shows them beside the in-domain and held-out-group figures.

:func:`folder_section_data` makes such a set from a folder of audio files, each with a truth
JSON beside it (``<stem>.json`` holding ``"sections": [{"label", "start_s", "end_s"}]``, the
format :mod:`workbench.devset` and the demo write): the folder gets a library of its own (never
the user's), scanned, analysed and embedded with the model's backbone. ``workbench demo`` scores
its section model on a small devset it renders this way (the cross-generator line).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.labels.uncertain import UNCERTAIN_BELOW
from workbench.train.sections.features import SectionData, WindowFeatures

if TYPE_CHECKING:  # pragma: no cover
    from workbench.embed.batch import Backbone


def folder_section_data(folder: str | os.PathLike[str], *, library_dir: str | os.PathLike[str],
                        backbone: Backbone | None = None, features: WindowFeatures | None = None,
                        progress: bool = True) -> tuple[SectionData, dict[str, Any]]:
    """Labelled windows of a folder of tracks with truth JSON beside them, in a library of their own.

    Parameters
    ----------
    folder : path-like
        Audio files (scanned recursively); each one scored needs ``<stem>.json`` beside it with a
        non-empty ``"sections"`` list of ``{"label", "start_s", "end_s"}`` (labels from
        :data:`workbench.labels.LABELS`); files without one are left out and counted.
    library_dir : path-like
        Where the folder's own library goes (``workbench.db`` and its ``embeddings/`` cache);
        created when missing. Reused: a second call re-reads only what changed.
    backbone : Backbone, optional
        The model's backbone (default the feature frontend); frames are embedded with it.
    features : WindowFeatures, optional
        The model's window layout (default :data:`~workbench.train.sections.DEFAULT_FEATURES`).
    progress : bool
        Bars over the scan, the embeddings and the tracks.

    Returns
    -------
    data : SectionData
        One track per labelled file; each track's group is ``"style:<style>"`` when its truth
        names one, else its folder.
    info : dict
        ``folder``, ``library_dir``, ``tracks`` (scored), ``sections``, ``without_truth`` (audio
        files with no usable truth JSON), ``failed`` ([(track id, reason)]: could not be read or
        embedded), ``styles`` {style: tracks}.

    Raises
    ------
    ParameterError
        ``folder`` is not a folder, no file in it has section truth, or a truth file names an
        unknown label or an empty span.
    """
    from dataclasses import replace

    from workbench.library import Library
    from workbench.train.sections.library_data import section_dataset

    root = Path(folder)
    if not root.is_dir():
        raise ParameterError(f"folder must be a folder of audio files with truth JSON beside them; got {str(root)!r}")
    db_dir = Path(library_dir)
    db_dir.mkdir(parents=True, exist_ok=True)
    with Library(db_dir / "workbench.db") as lib:
        lib.scan(root, progress=progress)
        sections: list[dict[str, Any]] = []
        style: dict[int, str] = {}
        without = 0
        for t in lib.tracks():
            truth_path = Path(t.path).with_suffix(".json")
            try:
                truth = json.loads(truth_path.read_text())
            except (OSError, ValueError):
                truth = {}
            spans = truth.get("sections") if isinstance(truth, dict) else None
            if not spans:
                without += 1
                continue
            if truth.get("style"):
                style[t.id] = str(truth["style"])
            sections += [{"track_id": t.id, "label": s.get("label"), "start_s": s.get("start_s"),
                          "end_s": s.get("end_s")} for s in spans]
        if not sections:
            raise ParameterError(f"folder must hold audio files with section truth (<stem>.json with a \"sections\" "
                                 f"list); got none in {str(root)!r} ({without} audio files without it)")
        data = section_dataset(lib, sections, backbone=backbone, features=features, progress=progress)
    tracks = [replace(tf, group=f"style:{style[tf.track_id]}") if tf.track_id in style else tf for tf in data.tracks]
    styles: dict[str, int] = {}
    for tf in tracks:
        styles[tf.group] = styles.get(tf.group, 0) + 1
    info = {"folder": str(root), "library_dir": str(db_dir), "tracks": len(tracks), "sections": len(sections),
            "without_truth": without, "failed": [list(f) for f in data.failed], "styles": styles}
    out = SectionData(tracks, data.features, data.backbone)
    out.failed = list(data.failed)
    return out, info


def suggestion_ece(conf: np.ndarray, right: np.ndarray,
                   confidence_map: tuple[np.ndarray, np.ndarray] | None, *, track_ids: np.ndarray | None = None,
                   suggestion_index: np.ndarray | None = None, served: np.ndarray | None = None) -> dict[str, Any]:
    """ECE of the suggestions' confidences at scored windows, as stated and through the model's confidence map.

    Parameters
    ----------
    conf : np.ndarray [shape=(n,)]
        The (temperature-scaled) confidence of the suggestion holding each window.
    right : np.ndarray [shape=(n,)] of bool
        Whether that suggestion's label is the window's.
    confidence_map : (np.ndarray, np.ndarray) or None
        The trainer's ``confidence_map_`` (None: ``ece_after`` is not given).
    track_ids, suggestion_index : np.ndarray [shape=(n,)], optional
        The track of each window and the index of its suggestion there: with them ``span`` gives
        the ECE over suggestions, each counted once (:func:`~workbench.evaluate.span_calibration.span_ece`).
    served : np.ndarray [shape=(n,)], optional
        The confidence each window's suggestion is served with, where a map differs per track (the
        domain-aware map, :func:`~workbench.train.sections.domain_map.served_map`); None: ``confidence_map``'s.
        Read only with a ``confidence_map`` (the domain map serves the Platt map within its limit).

    Returns
    -------
    dict
        ``ece_before`` and ``ece_after`` (or None), and their bins ``reliability_before`` and
        ``reliability_after`` (:func:`~workbench.evaluate.calibration.confidence_reliability`, or
        None); ``span`` {before, after (what is served: the map's, or the stated one without a map)};
        empty without windows.
    """
    from workbench.evaluate.calibration import apply_confidence_map, confidence_reliability
    from workbench.evaluate.span_calibration import span_ece

    c = np.clip(np.asarray(conf, dtype=np.float64), 0.0, 1.0)
    if not len(c):
        return {}
    before = confidence_reliability(c, right)
    mapped = confidence_map is not None  # no map: nothing served but the stated confidence, no "after"
    if served is None or not mapped:
        served = c if confidence_map is None else apply_confidence_map(c, confidence_map)
    served = np.clip(np.asarray(served, dtype=np.float64), 0.0, 1.0)
    after = confidence_reliability(served, right) if mapped else None
    out = {"ece_before": before["ece"], "ece_after": None if after is None else after["ece"],
           "reliability_before": before, "reliability_after": after}
    if track_ids is not None and suggestion_index is not None:
        out["span"] = {"before": span_ece(track_ids, suggestion_index, c, right),
                       "after": span_ece(track_ids, suggestion_index, served, right)}
    return out


def external_scores(trainer: Any, train: SectionData, test: SectionData, *, cfg: Mapping[str, Any],
                    backbone: str) -> dict[str, Any]:
    """The fitted model and its baselines on another set's labelled tracks.

    Parameters
    ----------
    trainer : SectionTrainer
        Fitted, with ``temperature_``, ``grammar_``, ``novelty_weight_`` and ``uncertain_below_``
        set as :func:`~workbench.train.sections.train_sections` sets them.
    train : SectionData
        The tracks the model was trained on (the baselines are fitted on them).
    test : SectionData
        The other set; same window layout as ``train``.
    cfg : mapping
        The section config (smoothing keys, ``seed``, ``baseline_max_windows``, ``n_threads``).
    backbone : str
        The backbone's name (the novelty baseline's loudness guess reads ``features-v1``).

    Returns
    -------
    dict
        ``tracks``, ``model``, ``model_smoothed``, ``baselines`` {majority, logreg, novelty}
        (:func:`~workbench.evaluate.classification_metrics` of the pooled windows; logreg's with
        ``converged``, :func:`~workbench.train.sections.baselines.baseline_converged`),
        ``segments`` {smoothed, raw, novelty} (mean per track), ``intro_outro_confusion``,
        ``calibration`` {ece_before, ece_after, temperature, suggestions: :func:`suggestion_ece`};
        ``{"skipped": reason}`` when the
        window layouts differ or no track has labels.
    """
    from workbench.evaluate.calibration import expected_calibration_error
    from workbench.train.sections.baselines import class_names, fit_baseline, scores, scores_of
    from workbench.train.sections.novelty import novelty_sections
    from workbench.train.sections.suggestions import SMOOTHING_DEFAULTS, segments_for
    from workbench.train.sections.transfer import _smoothed, _suggestion_at, intro_outro_confusion

    if not test.tracks or not len(test.y):
        return {"skipped": "no labelled tracks in the other set"}
    if test.X.shape[1] != train.X.shape[1]:
        return {"skipped": f"window layouts differ: {test.X.shape[1]} features vs the model's {train.X.shape[1]}"}
    classes = tuple(trainer.classes_)
    smooth_opts = {k: cfg[k] for k in SMOOTHING_DEFAULTS if k in cfg}
    from workbench.evaluate.calibration import apply_confidence_map
    from workbench.train.sections.domain_map import served_map
    from workbench.train.sections.domain_route import BASE, served

    y_true, y_raw, y_smooth, y_nov, p_before, p_after, y_idx, s_conf, s_served = [], [], [], [], [], [], [], [], []
    s_tid: list[np.ndarray] = []
    s_sid: list[np.ndarray] = []
    served_base = 0  # tracks served the labels-only model (config self_training_route)
    seg: dict[str, list[dict[str, float]]] = {"smoothed": [], "raw": [], "novelty": []}
    families: dict[int, str] = {}
    for tr in test.tracks:
        lab = tr.window_labels()
        keep = lab != ""
        if not keep.any() or len(tr.beats) == 0:
            continue
        model, said = served(trainer, tr)  # self_training_route: the base model for a track like the labelled ones
        served_base += int(said == BASE)
        p = model.predict_proba(tr.features)
        pc = model.predict_proba(tr.features, calibrated=True)
        smoothed = segments_for(tr, pc, classes, grammar=getattr(trainer, "grammar_", None),
                                novelty_weight=float(getattr(trainer, "novelty_weight_", 0.0)),
                                uncertain_below=float(getattr(trainer, "uncertain_below_", UNCERTAIN_BELOW)), **smooth_opts)
        if getattr(trainer, "members_", None):
            from workbench.train.sections.ensemble import with_ensemble_confidence

            smoothed = with_ensemble_confidence(tr, smoothed, pc, trainer.members_, classes,
                                                score=getattr(trainer, "ensemble_score_", "mean"),
                                                temperature=float(getattr(trainer, "temperature_", 1.0)))
        novel = novelty_sections(tr, backbone=backbone)
        y_true.append(lab[keep].astype(str))
        y_raw.append(np.asarray(classes)[p[keep].argmax(axis=1)])
        labels_at, conf_at = _smoothed(tr, smoothed)
        if smoothed[0].family is not None:
            families[tr.track_id] = smoothed[0].family
        y_smooth.append(labels_at)
        s_conf.append(conf_at)
        cmap = served_map(trainer, tr)
        s_served.append(conf_at if cmap is None else apply_confidence_map(np.clip(conf_at, 0, 1), cmap))
        s_tid.append(np.full(len(conf_at), tr.track_id))
        s_sid.append(_suggestion_at(tr, smoothed))
        starts = np.array([n["start_s"] for n in novel])
        at = np.clip(np.searchsorted(starts, tr.times_s[keep], side="right") - 1, 0, len(novel) - 1)
        y_nov.append(np.array([novel[i]["label"] for i in at]))
        seen = np.isin(lab[keep], classes)
        p_before.append(p[keep][seen])
        p_after.append(pc[keep][seen])
        y_idx.append(np.array([classes.index(c) for c in lab[keep][seen]], dtype=np.int64))
        seg["smoothed"].append(tr.segment_eval(smoothed))
        seg["raw"].append(tr.segment_eval(segments_for(tr, p, classes, smooth=False)))
        seg["novelty"].append(tr.segment_eval(novel))
    if not y_true:
        return {"skipped": "no track of the other set has labels and a beat grid"}
    yt, yr, ys = np.concatenate(y_true), np.concatenate(y_raw), np.concatenate(y_smooth)
    names = class_names(train.y, yt)
    base = {}
    for b in ("majority", "logreg"):
        model = fit_baseline(b, train.X, train.y, seed=cfg["seed"], max_windows=cfg["baseline_max_windows"],
                             n_threads=cfg["n_threads"])
        base[b] = scores_of(model, test.y, np.asarray(model.predict(test.X)).astype(str), names)
    base["novelty"] = scores(yt, np.concatenate(y_nov), names)
    P, Pc, Y = np.vstack(p_before), np.vstack(p_after), np.concatenate(y_idx)
    return {
        "tracks": len(seg["smoothed"]), "model": scores(yt, yr, names), "model_smoothed": scores(yt, ys, names),
        "baselines": base, **({"served_base_model": served_base} if getattr(trainer, "route_", None) else {}),
        "segments": {k: {m: float(np.mean([s[m] for s in v])) for m in v[0]} for k, v in seg.items()},
        "intro_outro_confusion": {"model": intro_outro_confusion(yt, yr), "model_smoothed": intro_outro_confusion(yt, ys)},
        "calibration": {"ece_before": expected_calibration_error(P, Y) if len(Y) else None,
                        "ece_after": expected_calibration_error(Pc, Y) if len(Y) else None,
                        "temperature": float(getattr(trainer, "temperature_", 1.0)),
                        "how": "the temperature fitted on the training set's held-out predictions",
                        "suggestions": suggestion_ece(np.concatenate(s_conf), ys == yt,
                                                      getattr(trainer, "confidence_map_", None),
                                                      track_ids=np.concatenate(s_tid),
                                                      suggestion_index=np.concatenate(s_sid),
                                                      served=np.concatenate(s_served))},
        **({"label_families": families} if families else {}),
    }
