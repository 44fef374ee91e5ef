"""Scores that tell the truth about transfer: leave one group (crate, folder, style) out.

Grouped K-fold over tracks keeps a track's windows on one side, but its other side still holds
tracks of the same style, made the same way. :func:`leave_one_group_out` holds out each group
in turn (the demo's crates are its styles; a user's crates or folders are theirs), trains the
model, the grammar and the baselines on the other groups, and scores the held-out group's
tracks: the window arg-max, the smoothed sections (calibrated with a temperature fitted on the
*other* groups' held-out predictions, then the grammar), the majority-class and logistic
regression baselines, and the unsupervised novelty boundaries. Out-of-fold probabilities come
back for calibration.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from workbench.errors import ParameterError
from workbench.train.sections.audio_views import view_rows
from workbench.train.sections.features import SectionData, TrackFrames
from workbench.wording import groups_are, score_text

#: Most folds: with more groups (crates) than this, each fold holds several out (training time stays bounded).
MAX_FOLDS = 8
#: Baselines scored in every held-out group (the ensemble is left to the in-domain split: it costs 10 s a fit).
TRANSFER_BASELINES: tuple[str, ...] = ("majority", "logreg")


def intro_outro_confusion(y_true: np.ndarray, y_pred: np.ndarray) -> float | None:
    """Share of intro and outro windows called the other one (None without either).

    Parameters
    ----------
    y_true, y_pred : np.ndarray [shape=(n,)] of str
        True and predicted labels.
    """
    t, p = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)
    io = (t == "intro") | (t == "outro")
    if not io.any():
        return None
    swapped = ((t == "intro") & (p == "outro")) | ((t == "outro") & (p == "intro"))
    return float(swapped.sum() / io.sum())


def validation_groups(data: SectionData, *, by_group: bool = True) -> np.ndarray:
    """What early stopping holds out, per window: the track's group when 3+ groups, else the track.

    Holding whole groups (crates, styles) out of training for early stopping picks the epoch
    that does best on music unlike the training music, not on more of the same.

    Parameters
    ----------
    data : SectionData
        The training tracks.
    by_group : bool
        False: always by track.

    Returns
    -------
    np.ndarray [shape=(len(data.y),), dtype=int64]
    """
    names = sorted({t.group for t in data.tracks})
    if not by_group or len(names) < 3 or "" in names:
        return data.groups
    code = {t.track_id: names.index(t.group) for t in data.tracks}
    return np.array([code[int(g)] for g in data.groups], dtype=np.int64)


def _expand(p: np.ndarray, fold_classes: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Columns of ``fold_classes`` placed in ``classes`` order (0 for a class the fold never saw)."""
    out = np.zeros((p.shape[0], len(classes)))
    for j, c in enumerate(fold_classes):
        out[:, list(classes).index(c)] = p[:, j]
    return out


def _smoothed_labels(tr: TrackFrames, segs: Sequence[Any]) -> np.ndarray:
    return _smoothed(tr, segs)[0]


def _plain(segs: Sequence[Any]) -> list[dict[str, Any]]:
    """Sections (suggestions or dicts) as ``{"start_s", "end_s", "label"}`` dicts."""
    return [{k: (s[k] if isinstance(s, Mapping) else getattr(s, k)) for k in ("start_s", "end_s", "label")}
            for s in segs]


def _suggestion_at(tr: TrackFrames, segs: Sequence[Any]) -> np.ndarray:
    """Index (in ``segs``) of the suggestion holding each labelled window."""
    starts = np.array([s.start_s for s in segs])
    lab = tr.window_labels()
    return np.clip(np.searchsorted(starts, tr.times_s[lab != ""], side="right") - 1, 0, len(segs) - 1)


def _smoothed(tr: TrackFrames, segs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Label and stated confidence of the suggestion holding each labelled window."""
    at = _suggestion_at(tr, segs)
    return np.array([segs[i].label for i in at]), np.array([float(segs[i].confidence) for i in at])


def suggestion_calibration(conf: np.ndarray, right: np.ndarray, folds: np.ndarray, *,
                           track_ids: np.ndarray | None = None, suggestion_index: np.ndarray | None = None,
                           per: str = "window") -> dict[str, Any]:
    """ECE of the suggestions' confidences, as stated and after a Platt map fitted on the other folds.

    Parameters
    ----------
    conf : np.ndarray [shape=(n,)]
        The confidence of the suggestion holding each held-out window.
    right : np.ndarray [shape=(n,)] of bool
        Whether that suggestion's label is the window's.
    folds : np.ndarray [shape=(n,)]
        The held-out fold (group) of each window.
    track_ids, suggestion_index : np.ndarray [shape=(n,)], optional
        The track of each window and the index of its suggestion there: with them ``span``
        gives the ECE over suggestions (:func:`~workbench.evaluate.span_calibration.span_ece`).
    per : {"window", "suggestion", "span"}
        How the map counts the other folds' data
        (:func:`~workbench.evaluate.span_calibration.fit_suggestion_map`; other than ``"window"``
        needs ``track_ids`` and ``suggestion_index``).

    Returns
    -------
    dict
        ``ece_before``, ``ece_after`` (each fold mapped by :func:`~workbench.evaluate.calibration.fit_platt`
        on the other folds; both count windows), their bins ``reliability_before`` and ``reliability_after``
        (:func:`~workbench.evaluate.calibration.confidence_reliability`), ``how``; ``span`` {before, after}
        with ``track_ids``; ``guard`` {ece_before, ece_after} (the span ECE) with ``per="span"``; empty
        without windows.
    """
    from workbench.evaluate.calibration import apply_confidence_map, confidence_reliability, fit_platt
    from workbench.evaluate.span_calibration import MAP_PER, fit_suggestion_map, span_ece

    if not len(conf):
        return {}
    if per not in MAP_PER:
        raise ParameterError(f"per must be one of {list(MAP_PER)}; got {per!r}")
    if per != "window" and (track_ids is None or suggestion_index is None):
        raise ParameterError(f"per={per!r} needs track_ids and suggestion_index")
    after = np.array(conf, dtype=np.float64)
    for f in np.unique(folds):
        other = folds != f
        if not other.any():
            continue
        if per == "window":
            knots = fit_platt(conf[other], right[other])
        else:
            knots = fit_suggestion_map(conf[other], right[other], per=per, track_ids=track_ids[other],
                                       suggestion_index=suggestion_index[other])
        after[~other] = apply_confidence_map(conf[~other], knots)
    before, mapped = confidence_reliability(conf, right), confidence_reliability(after, right)
    counted = {"window": "windows", "suggestion": "suggestions (each counted once)",
               "span": "suggestions (one outcome each: right when half its windows are)"}[per]
    out = {"ece_before": before["ece"], "ece_after": mapped["ece"], "reliability_before": before,
           "reliability_after": mapped,
           "how": "Platt map of the suggestions' confidence fitted on the other groups' held-out " + counted}
    if track_ids is not None and suggestion_index is not None:
        out["span"] = {"before": span_ece(track_ids, suggestion_index, conf, right),
                       "after": span_ece(track_ids, suggestion_index, after, right)}
        if per == "span":  # the calibration guard compares what the map was fitted for
            out["guard"] = {"ece_before": out["span"]["before"]["ece"], "ece_after": out["span"]["after"]["ece"]}
    return out


def leave_one_group_out(data: SectionData, *, cfg: Mapping[str, Any], trainer_params: Mapping[str, Any],
                        progress: bool = False, test_tracks: Collection[int] | None = None,
                        unlabelled: Sequence[TrackFrames] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Hold out each group of tracks in turn; score the model, the grammar and the baselines on it.

    Parameters
    ----------
    data : SectionData
        Labelled tracks; each :attr:`TrackFrames.group` names its group.
    cfg : mapping
        The section config (:data:`~workbench.train.sections.CONFIG_DEFAULTS` keys: ``seed``,
        ``grammar_weight``, ``baseline_max_windows``, ``n_threads``, ``uncertain_below``, smoothing).
    trainer_params : mapping
        Keyword arguments of :class:`~workbench.train.sections.SectionTrainer`.
    progress : bool
        A bar over the groups.
    test_tracks : collection of int, optional
        Only these track ids are scored, and none of them is ever trained on (a development
        set's held-out part; or a second generator's tracks, grouped apart from the first's:
        train on one generator, score on the other). Groups with none of them are not held out.
    unlabelled : sequence of TrackFrames, optional
        Unlabelled tracks (never scored here; their sections are never read): with
        ``self_training_rounds`` > 0 each fold's model is self-trained on them
        (:func:`~workbench.train.sections.self_training.self_train`); ``self_training`` {group:
        pseudo-labelled windows} says how many.

    Returns
    -------
    metrics : dict
        ``{"skipped": reason}`` with fewer than 2 groups; else ``groups`` {name: tracks}
        (with more than ``transfer_max_folds`` groups, default :data:`MAX_FOLDS`, each fold holds
        several out, largest first, in turn; ``per_group`` is then per fold),
        ``model``, ``model_smoothed`` and ``baselines`` {majority, logreg} (each
        :func:`~workbench.evaluate.classification_metrics` of the pooled held-out windows),
        ``segments`` {smoothed, raw, novelty} (mean :func:`~workbench.evaluate.segmentation.segment_eval`
        per held-out track: boundary F @0.5 s and @3 s, pairwise F, label accuracy),
        ``intro_outro_confusion`` {model, model_smoothed}, ``per_group`` {name: accuracy,
        smoothed accuracy, boundary F @3 s}, ``calibration`` {ece_before, ece_after,
        temperatures, suggestions: :func:`suggestion_calibration`}, ``seconds``.
    oof : dict of np.ndarray
        Out-of-fold window probabilities ``probs`` (n, K in ``classes``), ``y`` (class index),
        ``track_ids``, ``classes``; ``suggestion_confidence`` and ``suggestion_right`` (the
        smoothed suggestion at each scored window: its confidence, whether it is right) and
        ``suggestion_track_ids``,
        ``suggestion_index`` (the suggestion's index in its track), ``suggestion_labels``,
        ``suggestion_folds`` (the held-out fold of each window); ``sections`` {track id: {"smoothed",
        "novelty"}}: each scored track's suggestions and novelty-baseline sections as
        ``{"start_s", "end_s", "label"}`` dicts (what an outside segmenter is scored beside).
    """
    from tqdm.auto import tqdm

    from workbench.evaluate.calibration import apply_temperature, expected_calibration_error, fit_temperature
    from workbench.train.sections.baselines import baseline_converged, class_names, fit_baseline, scores
    from workbench.train.sections.families import with_families
    from workbench.train.sections.grammar import learn_grammar, track_sequences
    from workbench.train.sections.novelty import novelty_sections
    from workbench.train.sections.suggestions import segments_for
    from workbench.train.sections.trainer import SectionTrainer

    t_start = time.perf_counter()
    names = sorted({t.group for t in data.tracks})
    if len(names) < 2 or "" in names:
        why = ("some tracks are in no crate or folder" if "" in names else
               f"the labelled tracks are all in one group ({names[0] if names else 'none'})")
        return {"skipped": f"leave-one-group-out needs 2+ groups (crates or folders) of labelled tracks; {why}"}, {}
    classes = class_names(data.y)
    index = {c: i for i, c in enumerate(classes)}
    smooth_opts = {k: cfg[k] for k in ("min_bars", "switch_penalty", "evidence_weight", "phrase_bars",
                                       "phrase_penalty")}
    folds: list[dict[str, Any]] = []
    base_pred: dict[str, list[np.ndarray]] = {b: [] for b in TRANSFER_BASELINES}
    base_converged: dict[str, list[bool | None]] = {b: [] for b in TRANSFER_BASELINES}
    skipped: list[str] = []
    size = {g: sum(1 for t in data.tracks if t.group == g) for g in names}
    n_folds = min(len(names), int(cfg.get("transfer_max_folds", MAX_FOLDS)))
    by_size = sorted(names, key=lambda g: (-size[g], g))
    fold_groups = [sorted(by_size[i::n_folds]) for i in range(n_folds)]  # many crates: several per fold
    pseudo_of: dict[str, int] = {}
    served_base: dict[str, int] = {}  # self_training_route: held-out tracks each fold served its base model
    only = None if test_tracks is None else {int(i) for i in test_tracks}
    if only is not None:
        fold_groups = [h for h in fold_groups if any(t.group in h and t.track_id in only for t in data.tracks)]
    for held in tqdm(fold_groups, desc="leave one group out", disable=not progress):
        g = " + ".join(held)
        train = data.subset(t.track_id for t in data.tracks
                            if t.group not in held and (only is None or t.track_id not in only))
        test = data.subset(t.track_id for t in data.tracks if t.group in held and (only is None or t.track_id in only))
        if len(set(train.y.tolist())) < 2:
            skipped.append(g)
            continue
        groups = validation_groups(train, by_group=cfg["validate_on_groups"])
        views = view_rows(train, cfg.get("audio_view_weight", 1.0), groups=groups)
        trainer = SectionTrainer(**{"seed": cfg["seed"], **dict(trainer_params)}).fit(
            train.X, train.y, groups, not_X=train.X_not, not_y=train.y_not, views=views)
        grammar = learn_grammar(track_sequences(train.tracks), trainer.classes_, weight=cfg["grammar_weight"],
                                position_weight=cfg["position_weight"], alpha=cfg.get("grammar_alpha", 1.0),
                                duration_alpha=cfg.get("duration_alpha", 1.0),
                                tie_weight=cfg.get("tie_weight", 0.0), order_weight=cfg.get("order_weight", 1.0),
                                position_free=cfg.get("position_free", ()), ends_weight=cfg.get("ends_weight", 1.0),
                                outro_gate=cfg.get("outro_gate", 0.0),
                                repeat_relabel=cfg.get("repeat_relabel", 0.0),
                                weak_boundary_penalty=cfg.get("weak_boundary_penalty", 0.0))
        grammar = with_families(grammar, train.tracks, mode=cfg.get("label_families", "off"),
                                alpha=cfg.get("grammar_alpha", 1.0), duration_alpha=cfg.get("duration_alpha", 1.0))
        if unlabelled and cfg.get("self_training_rounds", 0):
            from workbench.train.sections.self_training import self_train

            trainer, st_metrics = self_train(trainer, train, unlabelled, cfg=cfg, grammar=grammar, fit=(
                lambda ps, train=train, groups=groups, views=views: SectionTrainer(
                    **{"seed": cfg["seed"], **dict(trainer_params)}).fit(
                    train.X, train.y, groups, not_X=train.X_not, not_y=train.y_not, pseudo=ps, views=views)))
            pseudo_of[g] = st_metrics["pseudo_windows"]
        from workbench.train.sections.domain_route import BASE, base_head, served

        heads = [served(trainer, tr)[1] for tr in test.tracks]  # this fold's route: its own training tracks
        by_head = {"self": [trainer.predict_proba(tr.features) for tr in test.tracks]}  # each head's, per track
        by_head["base"] = by_head["self"]
        if getattr(trainer, "route_", None) is not None:
            served_base[g] = sum(w == BASE for w in heads)
            base = base_head(trainer)
            by_head["base"] = [base.predict_proba(tr.features) for tr in test.tracks]
        probs = [by_head["base" if w == BASE else "self"][i] for i, w in enumerate(heads)]
        members = []
        if cfg.get("confidence", "stated") == "ensemble":  # trained on this fold's training tracks only
            from workbench.train.sections.ensemble import fit_members

            members = fit_members(train, cfg=cfg, trainer_params=trainer_params, groups_of=lambda d: validation_groups(
                d, by_group=cfg["validate_on_groups"]))
        for b in TRANSFER_BASELINES:
            model = fit_baseline(b, train.X, train.y, seed=cfg["seed"], max_windows=cfg["baseline_max_windows"],
                                 n_threads=cfg["n_threads"])
            base_pred[b].append(np.asarray(model.predict(test.X)).astype(str))
            base_converged[b].append(baseline_converged(model))
        folds.append({"group": g, "test": test, "trainer": trainer, "grammar": grammar, "probs": probs,
                      "members": members, "heads": heads, "by_head": by_head})
    if not folds:
        return {"skipped": "no group left 2+ classes to train on when held out"}, {}
    oof_p, oof_y, oof_t, oof_g = [], [], [], []
    oof_head: dict[str, list[np.ndarray]] = {"base": [], "self": []}  # each head's out-of-fold probabilities
    for f in folds:
        for i, (tr, p) in enumerate(zip(f["test"].tracks, f["probs"], strict=True)):
            lab = tr.window_labels()
            keep = lab != ""
            oof_p.append(_expand(p[keep], f["trainer"].classes_, classes))
            for h in oof_head:
                oof_head[h].append(_expand(f["by_head"][h][i][keep], f["trainer"].classes_, classes))
            oof_y.append(np.array([index[c] for c in lab[keep]], dtype=np.int64))
            oof_t.append(np.full(int(keep.sum()), tr.track_id))
            oof_g.append(np.full(int(keep.sum()), f["group"], dtype=object))
    P, Y, T, G = np.vstack(oof_p), np.concatenate(oof_y), np.concatenate(oof_t), np.concatenate(oof_g)
    y_true, y_raw, y_smooth, per_group, temps = [], [], [], {}, {}
    s_conf: list[np.ndarray] = []
    s_fold: list[np.ndarray] = []
    s_tid: list[np.ndarray] = []
    s_sid: list[np.ndarray] = []
    seg: dict[str, list[dict[str, float]]] = {"smoothed": [], "raw": [], "novelty": []}
    by_track: dict[int, dict[str, list[dict[str, Any]]]] = {}
    after = np.empty_like(P)
    families: dict[int, str] = {}
    PH = {h: np.vstack(v) for h, v in oof_head.items()}
    two_heads = bool(served_base)  # self_training_route: each head decodes with a temperature fitted on its own oof
    for f in folds:
        other = G != f["group"]
        temp = fit_temperature(P[other], Y[other]) if other.any() else 1.0
        head_temp = {h: fit_temperature(PH[h][other], Y[other]) if other.any() else 1.0 for h in PH} if two_heads else {}
        temps[f["group"]] = temp
        after[~other] = apply_temperature(P[~other], temp)
        g_true, g_raw, g_smooth, g_seg, g_conf, g_tid, g_sid = [], [], [], [], [], [], []
        for tr, p, w in zip(f["test"].tracks, f["probs"], f["heads"], strict=True):
            keep = tr.window_labels() != ""
            if two_heads:
                temp = head_temp["base" if w == BASE else "self"]
                after[(T == tr.track_id) & ~other] = apply_temperature(P[(T == tr.track_id) & ~other], temp)
            if len(tr.beats) == 0:
                continue
            smoothed = segments_for(tr, apply_temperature(p, temp), f["trainer"].classes_, grammar=f["grammar"],
                                    novelty_weight=float(cfg["novelty_weight"]), **smooth_opts)
            if f["members"]:
                from workbench.train.sections.ensemble import with_ensemble_confidence

                smoothed = with_ensemble_confidence(tr, smoothed, apply_temperature(p, temp), f["members"],
                                                    f["trainer"].classes_, score=cfg.get("ensemble_score", "mean"),
                                                    temperature=temp)
            raw = segments_for(tr, p, f["trainer"].classes_, smooth=False)
            g_true.append(tr.window_labels()[keep].astype(str))
            g_raw.append(np.asarray(f["trainer"].classes_)[p[keep].argmax(axis=1)])
            labels_at, conf_at = _smoothed(tr, smoothed)
            g_smooth.append(labels_at)
            g_conf.append(conf_at)
            g_tid.append(np.full(len(conf_at), tr.track_id))
            g_sid.append(_suggestion_at(tr, smoothed))
            if smoothed[0].family is not None:
                families[tr.track_id] = smoothed[0].family
            s_eval = tr.segment_eval(smoothed)
            g_seg.append(s_eval)
            seg["smoothed"].append(s_eval)
            seg["raw"].append(tr.segment_eval(raw))
            nov = novelty_sections(tr, backbone=data.backbone)
            seg["novelty"].append(tr.segment_eval(nov))
            by_track[tr.track_id] = {"smoothed": _plain(smoothed), "novelty": _plain(nov)}
        if not g_true:
            continue
        gt, gr, gs = np.concatenate(g_true), np.concatenate(g_raw), np.concatenate(g_smooth)
        y_true.append(gt)
        y_raw.append(gr)
        y_smooth.append(gs)
        s_conf.append(np.concatenate(g_conf))
        s_fold.append(np.full(len(gs), f["group"], dtype=object))
        s_tid.append(np.concatenate(g_tid))
        s_sid.append(np.concatenate(g_sid))
        per_group[f["group"]] = {"tracks": len(f["test"].tracks), "accuracy": float(np.mean(gr == gt)),
                                 "smoothed_accuracy": float(np.mean(gs == gt)),
                                 "boundary_f_3s": float(np.mean([s["boundary_f_3s"] for s in g_seg])),
                                 "temperature": temps[f["group"]]}
    yt, yr, ys = np.concatenate(y_true), np.concatenate(y_raw), np.concatenate(y_smooth)
    sc, sf, st = np.concatenate(s_conf), np.concatenate(s_fold), np.concatenate(s_tid)
    ss = np.concatenate(s_sid)
    labels = class_names(data.y)
    base_true = np.concatenate([f["test"].y for f in folds])
    out: dict[str, Any] = {
        "groups": {g: sum(1 for t in data.tracks if t.group == g) for g in names},
        "skipped_groups": skipped,
        "model": scores(yt, yr, labels), "model_smoothed": scores(yt, ys, labels),
        "baselines": {b: {**scores(base_true, np.concatenate(v), labels),  # converged: every fold's solver did
                          **({"converged": all(c is not False for c in base_converged[b])}
                             if any(c is not None for c in base_converged[b]) else {})}
                      for b, v in base_pred.items()},
        "segments": {k: {m: float(np.mean([s[m] for s in v])) for m in v[0]} for k, v in seg.items() if v},
        "intro_outro_confusion": {"model": intro_outro_confusion(yt, yr),
                                  "model_smoothed": intro_outro_confusion(yt, ys),
                                  **{b: intro_outro_confusion(base_true, np.concatenate(v))
                                     for b, v in base_pred.items()}},
        "per_group": per_group,
        "calibration": {"ece_before": expected_calibration_error(P, Y), "ece_after": expected_calibration_error(after, Y),
                        "temperatures": temps, "how": "temperature fitted on the other groups' held-out windows",
                        "suggestions": suggestion_calibration(
                            sc, ys == yt, sf, track_ids=st, suggestion_index=ss,
                            per=cfg.get("confidence_map_per", "window"))},
    }
    if families:
        out["label_families"] = families
    if pseudo_of:
        out["self_training"] = pseudo_of
    if served_base:
        out["served_base_model"] = served_base
    out["seconds"] = time.perf_counter() - t_start
    heads_oof = {"probs_base": PH["base"], "probs_self": PH["self"]} if two_heads else {}
    return out, {**heads_oof, "probs": P, "y": Y, "track_ids": T, "classes": np.asarray(classes), "suggestion_confidence": sc,
                 "suggestion_right": ys == yt, "suggestion_track_ids": st,
                 "suggestion_index": ss, "suggestion_labels": ys, "suggestion_folds": sf, "sections": by_track}


def transfer_warnings(transfer: Mapping[str, Any] | None) -> list[str]:
    """Warnings when the held-out-group scores fall below a baseline (or could not be made).

    A baseline whose solver stopped short, on the held-out groups or on another set
    (``external``), is said once per set (:func:`~.baselines.convergence_warnings`).

    Parameters
    ----------
    transfer : mapping or None
        ``metrics["transfer"]`` (``{"leave_one_group_out": ..., "external": {name: ...}}``).

    Returns
    -------
    list of str
    """
    from workbench.train.sections.baselines import convergence_warnings

    other_sets = [w for name, e in ((transfer or {}).get("external") or {}).items() if "baselines" in e
                  for w in convergence_warnings(e["baselines"], where=f" on {name}")]
    loso = (transfer or {}).get("leave_one_group_out") or {}
    if not loso or "skipped" in loso:
        return ([f"no cross-style score: {loso['skipped']}"] if loso.get("skipped") else []) + other_sets
    where = f"on held-out groups ({groups_are(loso.get('groups') or {})})"
    out = convergence_warnings(loso["baselines"], where=f" {where}") + other_sets
    model = loso["model_smoothed"]
    said = {"accuracy": "accuracy", "macro_f1": "macro F1"}
    for name, base in loso["baselines"].items():  # each metric below the baseline named; one not below said so
        below = [k for k in said if model[k] < base[k]]
        if not below:
            continue
        mine = " and ".join(f"{said[k]} {score_text(model[k])}" for k in below)
        theirs = " and ".join(score_text(base[k]) for k in below)
        rest = [f"{said[k]} {score_text(model[k])} is not below the baseline's {score_text(base[k])}" for k in said
                if k not in below]
        out.append(f"{where} the smoothed model's {mine} {'is' if len(below) == 1 else 'are'} "
                   f"below the {name} baseline's {theirs}" + (f" (its {rest[0]})" if rest else "")
                   + ": expect its suggestions to transfer badly to other music")
    seg = loso.get("segments", {})
    if "novelty" in seg and "smoothed" in seg and seg["smoothed"]["boundary_f_3s"] < seg["novelty"]["boundary_f_3s"]:
        out.append(f"on held-out groups the model's boundaries (F @3 s {score_text(seg['smoothed']['boundary_f_3s'])}) "
                   f"are worse than unsupervised novelty boundaries ({score_text(seg['novelty']['boundary_f_3s'])})")
    return out
