"""The section model's calibration, fitted on held-out predictions of its training tracks.

:func:`calibrate` fits the temperature of the window probabilities, :func:`fit_confidence_map`
the Platt map of the suggestions' confidence (both on the leave-one-group-out predictions of
the training tracks), :func:`keep_if_it_helps` goes back to the identity where either raised
the held-out groups' ECE, and :func:`ece_on` scores the held-out windows before and after the
temperature. Used by :func:`~workbench.train.sections.training.train_sections`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.wording import score_text

if TYPE_CHECKING:  # pragma: no cover
    from workbench.train.sections.features import SectionData
    from workbench.train.sections.trainer import SectionTrainer


def calibrate(trainer: SectionTrainer, train: SectionData, oof: dict[str, np.ndarray], *,
              enabled: bool) -> dict[str, Any]:
    """Fit ``trainer.temperature_`` on held-out predictions of the training tracks; say on which.

    Parameters
    ----------
    trainer : SectionTrainer
        The final model; its ``temperature_`` is set (1.0: none fitted).
    train : SectionData
        The training tracks.
    oof : dict of np.ndarray
        Out-of-fold predictions (``track_ids``, ``probs``, ``y``); empty: fit on the early-stopping
        validation tracks instead.
    enabled : bool
        False: no temperature (config ``calibrate``).

    Returns
    -------
    dict
        ``temperature`` (None: none fitted), ``n_windows``, ``fitted_on``.
    """
    from workbench.evaluate.calibration import fit_temperature

    trainer.temperature_ = 1.0
    if not enabled:
        return {"temperature": None, "fitted_on": "calibration off"}
    train_ids = {t.track_id for t in train.tracks}
    if oof:
        keep = np.isin(oof["track_ids"], list(train_ids))
        if keep.sum() >= 20:
            trainer.temperature_ = fit_temperature(oof["probs"][keep], oof["y"][keep])
            return {"temperature": trainer.temperature_, "n_windows": int(keep.sum()),
                    "fitted_on": "leave-one-group-out predictions of the training tracks (each from a model "
                                 "that never saw the track's group)"}
    val = set(trainer.early_stopping_.get("val_groups") or [])
    rows = np.isin(train.groups, list(val)) & np.isin(train.y, trainer.classes_)
    if rows.sum() >= 20:
        index = {c: i for i, c in enumerate(trainer.classes_)}
        trainer.temperature_ = fit_temperature(trainer.predict_proba(train.X[rows]),
                                               np.array([index[c] for c in train.y[rows]]))
        return {"temperature": trainer.temperature_, "n_windows": int(rows.sum()),
                "fitted_on": "the early-stopping validation tracks (no second group to hold out)"}
    return {"temperature": None, "fitted_on": "too few held-out windows to fit a temperature"}


def keep_if_it_helps(trainer: SectionTrainer, cal: dict[str, Any], loso: Mapping[str, Any] | None) -> None:
    """Go back to the identity where a fitted temperature or confidence map made held-out groups' ECE worse.

    The leave-one-group-out block scores each group with a temperature (and a Platt map of the
    suggestions' confidence) fitted on the *other* groups; when that raised the ECE over the
    groups, the fit does not carry to unseen music, and the identity is kept. What was done is
    recorded in ``cal`` (``temperature_fitted`` / ``suggestions.map_dropped``).

    Parameters
    ----------
    trainer : SectionTrainer
        The final model (its ``temperature_`` and ``confidence_map_`` may be reset).
    cal : dict
        The run's calibration record (updated).
    loso : mapping or None
        The leave-one-group-out block (its ``calibration``'s ECE before and after).
    """
    lo = (loso or {}).get("calibration") or {}
    before, after = lo.get("ece_before"), lo.get("ece_after")
    if cal.get("temperature") is not None and before is not None and after is not None and after > before:
        cal["temperature_fitted"] = cal["temperature"]
        cal["temperature"] = trainer.temperature_ = 1.0
        cal["fitted_on"] += (f"; identity kept: the temperature fitted on other groups raised their held-out "
                             f"window ECE ({score_text(before)} -> {score_text(after)})")
    sug = (lo.get("suggestions") or {}).get("guard") or lo.get("suggestions") or {}  # what the map was fitted for
    before, after = sug.get("ece_before"), sug.get("ece_after")
    if trainer.confidence_map_ is not None and before is not None and after is not None and after > before:
        trainer.confidence_map_ = None
        cal.setdefault("suggestions", {})["map_dropped"] = (
            f"identity kept: the map fitted on other groups raised their suggestion ECE ({score_text(before)} -> "
            f"{score_text(after)})")


def ece_on(arrays: dict[str, np.ndarray], temperature: float) -> dict[str, Any]:
    """ECE (15 bins) and reliability bins of the held-out windows before and after the temperature.

    Parameters
    ----------
    arrays : dict of np.ndarray
        Held-out windows: ``classes``, ``y_true``, ``probs`` (n, K).
    temperature : float > 0
        The fitted temperature.

    Returns
    -------
    dict
        ``ece_before``, ``ece_after``, ``reliability_before``, ``reliability_after`` (empty: no window of a known class).
    """
    from workbench.evaluate.calibration import apply_temperature, reliability

    classes = [str(c) for c in arrays["classes"]]
    seen = np.isin(arrays["y_true"], classes)
    y = np.array([classes.index(c) for c in arrays["y_true"][seen]], dtype=np.int64)
    if not len(y):
        return {}
    before = reliability(arrays["probs"][seen], y)
    after = reliability(apply_temperature(arrays["probs"][seen], temperature), y)
    return {"ece_before": before["ece"], "ece_after": after["ece"], "reliability_before": before,
            "reliability_after": after}


def fit_confidence_map(trainer: SectionTrainer, oof: dict[str, np.ndarray], train_ids: Sequence[int], *,
                       cfg: Mapping[str, Any], calibration: dict[str, Any]) -> None:
    """Fit ``trainer.confidence_map_`` (a Platt map of the suggestions' confidence) on the training tracks' out-of-fold suggestions.

    Parameters
    ----------
    trainer : SectionTrainer
        The final model; its ``confidence_map_`` is set (None: too few suggestions or calibration off).
    oof : dict of np.ndarray
        :func:`~workbench.train.sections.transfer.leave_one_group_out`'s out-of-fold arrays (empty: none).
    train_ids : sequence of int
        The training tracks (only their suggestions are fitted on).
    cfg : mapping
        The run's config (``calibrate``, ``confidence_map_per``).
    calibration : dict
        The run's calibration record; ``suggestions`` says what the map was fitted on.
    """
    trainer.confidence_map_ = None
    if cfg["calibrate"] and oof:
        from workbench.evaluate.span_calibration import MAP_PER, fit_suggestion_map

        mine = np.isin(oof["suggestion_track_ids"], train_ids)
        if mine.sum() >= 20:
            per = cfg["confidence_map_per"]
            trainer.confidence_map_ = fit_suggestion_map(
                np.clip(oof["suggestion_confidence"][mine], 0, 1), oof["suggestion_right"][mine], per=per,
                track_ids=oof["suggestion_track_ids"][mine], suggestion_index=oof["suggestion_index"][mine])
            calibration["suggestions"] = {"n_windows": int(mine.sum()), "fitted_on": "Platt map of the "
                f"smoothed suggestions' confidence on the leave-one-group-out predictions of the training tracks "
                f"({MAP_PER[per]})"}


def fit_domain_confidence(trainer: SectionTrainer, oof: dict[str, np.ndarray], data: SectionData,
                          train_ids: Sequence[int], *, cfg: Mapping[str, Any], calibration: dict[str, Any]) -> None:
    """Fit ``trainer.domain_map_`` (:mod:`~workbench.train.sections.domain_map`) beside the Platt map, on the same out-of-fold suggestions.

    Each held-out track's distance is measured to its fold's training tracks. What was fitted (the
    folds' share right, their farthest held-out track, the folds' ECE with either map, each fold
    served by fits on the others) is recorded in ``calibration["suggestions"]["domain"]``; the guard
    (config ``calibration_guard``) keeps the Platt map alone where the domain map raised that ECE.

    Parameters
    ----------
    trainer : SectionTrainer
        The final model; ``domain_map_`` is set (None: off, no Platt map, tracks without backbone
        frames, or dropped by the guard).
    oof : dict of np.ndarray
        :func:`~workbench.train.sections.transfer.leave_one_group_out`'s out-of-fold arrays (empty: none).
    data : SectionData
        Every track the folds were made of (with its ``group`` and backbone ``frames``).
    train_ids : sequence of int
        The final model's training tracks (only their suggestions are fitted on; they are the reference).
    cfg : mapping
        The run's config (``confidence_map_domain``, ``calibration_guard``).
    calibration : dict
        The run's calibration record.
    """
    from workbench.train.sections.domain_fit import (
        fit_domain_map,
        fold_check,
        fold_distances,
        fold_training_tracks,
        guard_ece,
    )
    from workbench.train.sections.domain_map import training_reference

    trainer.domain_map_ = None
    if not cfg.get("confidence_map_domain") or trainer.confidence_map_ is None or not oof:
        return
    record = calibration.setdefault("suggestions", {})
    if any(t.frames is None for t in data.tracks):
        record["domain"] = {"skipped": "some training tracks carry no backbone frames to measure a distance on"}
        return
    conf, right = np.clip(oof["suggestion_confidence"], 0, 1), np.asarray(oof["suggestion_right"], dtype=bool)
    tids, folds = oof["suggestion_track_ids"], oof["suggestion_folds"]
    keep = {int(i) for i in train_ids}
    few = sorted(f for f, tracks in fold_training_tracks(data, tids, folds).items() if len(tracks) < 2)
    if few or len(keep) < 2:  # a distance's unit is the spread of 2+ training tracks
        record["domain"] = {"skipped": "a track's distance needs 2+ training tracks; "
                                       + (f"fold(s) {', '.join(few)} trained on fewer" if few else
                                          f"the model was trained on {len(keep)}")}
        return
    dist = fold_distances(data, tids, folds)
    mine = np.isin(tids, list(keep))
    if not mine.any():
        return
    dm = fit_domain_map(right[mine], dist[mine], reference=training_reference(
        [t for t in data.tracks if t.track_id in keep]))
    per, sids = cfg.get("confidence_map_per", "window"), oof["suggestion_index"]
    platt, domain = fold_check(conf, right, dist, folds, margin=dm.margin, per=per, track_ids=tids,
                               suggestion_index=sids)  # the guard compares the unit the Platt map was fitted on
    ece_platt, ece_domain = (guard_ece(x, right, per=per, track_ids=tids, suggestion_index=sids)
                             for x in (platt, domain))
    record["domain"] = {"share_right": dm.share_right, "seen_max": dm.seen_max, "limit": dm.limit,
                        "folds_ece_platt": ece_platt, "folds_ece_domain": ece_domain,
                        "guard_on": "windows" if per == "window" else "suggestions",
                        "fitted_on": f"tracks farther than {dm.margin:g} x the farthest held-out track of the "
                                     f"leave-one-group-out folds are served the folds' share right"}
    if cfg["calibration_guard"] and ece_domain > ece_platt:
        record["domain"]["dropped"] = (f"Platt map kept alone: the domain map fitted on other groups raised their "
                                       f"suggestion ECE per {record['domain']['guard_on'][:-1]} ({score_text(ece_platt)} "
                                       f"-> {score_text(ece_domain)})")
        return
    trainer.domain_map_ = dm
