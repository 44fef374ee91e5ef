"""Self-training on the user's unlabelled tracks: the model's confident suggestions as weighted pseudo-labels.

A user labels a few tracks and has many more unlabelled ones, the music the suggestions must hold
on. With ``self_training_rounds`` > 0, :func:`self_train` decodes each unlabelled track of the
pool with the trained model and the grammar (:func:`~workbench.train.sections.suggestions.segments_for`),
keeps the whole suggestions whose confidence is at least ``self_training_threshold`` (or, with
``self_training_select``, whose confidence before the grammar's chorus/drop tie is, or each label's most
confident ``self_training_quantile`` share: :func:`pick_pseudo_labels`), at most
``self_training_cap`` times as many windows of a label as the user labelled (the most confident
suggestions first, so one label does not flood the training set), and retrains the model on the
labelled windows plus these pseudo-labelled ones at loss weight ``self_training_weight`` (< 1: a
pseudo-label never outweighs a user's label; the validation tracks, the standardisation, the class
weights and the grammar stay the user's labels only). Each round decodes with the previous
round's model.

Pseudo-labels are never truth: nothing here reads a pool track's sections, and no score counts them.
The confidence thresholded is the suggestion's stated confidence (its label's mean probability over
its beats) through the model's temperature and confidence map where it has them; in
:func:`~workbench.train.sections.train_sections` self-training runs before those are fitted, in the
final model and in every leave-one-group-out fold alike, so the calibration is fitted on
self-trained models' held-out predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.train.sections.domain_gate import check_gate, domain_gate

if TYPE_CHECKING:  # pragma: no cover
    from workbench.embed.batch import Backbone
    from workbench.library import Library
    from workbench.train.sections.features import SectionData, TrackFrames, WindowFeatures
    from workbench.train.sections.grammar import Grammar
    from workbench.train.sections.trainer import SectionTrainer

#: Config keys of self-training (``train_sections``' config; 0 rounds = off, the default).
SELF_TRAINING_DEFAULTS: dict[str, Any] = {"self_training_rounds": 0, "self_training_threshold": 0.8,
                                          "self_training_weight": 0.5, "self_training_cap": 1.0,
                                          "self_training_max_tracks": 200, "self_training_select": "stated",
                                          "self_training_quantile": 0.5, "self_training_tied_threshold": None,
                                          "self_training_gate": None, "self_training_route": False}
#: How pseudo-labels are picked (``self_training_select``): see :func:`pick_pseudo_labels`.
SELECT_MODES: tuple[str, ...] = ("stated", "untied", "label_quantile")


def check_self_training_config(cfg: Mapping[str, Any]) -> None:
    """Refuse bad self-training settings with a clear error.

    Parameters
    ----------
    cfg : mapping
        The section config (:data:`SELF_TRAINING_DEFAULTS` keys; missing ones take their defaults).

    Raises
    ------
    ParameterError
        A value out of its range.
    """
    c = {**SELF_TRAINING_DEFAULTS, **{k: v for k, v in cfg.items() if k in SELF_TRAINING_DEFAULTS}}
    for name, lo, hi in (("self_training_rounds", 0, 5), ("self_training_max_tracks", 1, 100_000)):
        v = c[name]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ParameterError(f"config {name} must be an int in {lo}..{hi}; got {v!r}")
    checks = (("self_training_threshold", lambda v: 0 <= v <= 1, "a float in [0, 1]"),
              ("self_training_weight", lambda v: 0 < v <= 1, "a float in (0, 1] (a pseudo-label never outweighs "
                                                              "a user's label)"),
              ("self_training_cap", lambda v: v > 0, "a float > 0 (pseudo windows per labelled window of a label)"))
    checks += (("self_training_quantile", lambda v: 0 < v <= 1, "a float in (0, 1] (the share of each label's "
                                                                 "suggested windows kept)"),)
    for name, ok, what in checks:
        v = c[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(float(v)):
            raise ParameterError(f"config {name} must be {what}; got {v!r}")
    v = c["self_training_tied_threshold"]
    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1):
        raise ParameterError(f"config self_training_tied_threshold must be None (the threshold) or a float in [0, 1]; "
                             f"got {v!r}")
    check_gate(c["self_training_gate"])
    from workbench.train.sections.domain_route import check_route

    if check_route(c["self_training_route"]) and c["self_training_gate"] is None:
        raise ParameterError("config self_training_route needs self_training_gate (the distance that routes a track); "
                             "got self_training_gate None")
    if c["self_training_select"] not in SELECT_MODES:
        raise ParameterError(f"config self_training_select must be one of {list(SELECT_MODES)}; "
                             f"got {c['self_training_select']!r}")


def pick_pseudo_labels(trainer: SectionTrainer, pool: Sequence[TrackFrames], *, grammar: Grammar | None,
                       cfg: Mapping[str, Any], labelled_counts: Mapping[str, int],
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Windows of the pool tracks inside suggestions confident enough to be trained on.

    Which suggestions are candidates (``self_training_select``):

    - ``"stated"``: the suggestion's stated confidence is at least ``self_training_threshold``.
      With a grammar that ties chorus and drop (``tie_weight`` > 0) their stated confidence is
      pulled towards the pair's mean, so at 0.9 neither ever passes;
    - ``"untied"``: the same threshold on the confidence before the tie (the label's mean
      position-adjusted probability over the suggestion's beats, through the confidence map):
      the decoded path is the same, only the chorus/drop evidence is not pulled together; the
      labels of a tied pair (:data:`~workbench.train.sections.grammar.TIED_PAIRS`) need
      ``self_training_tied_threshold`` instead where it is set;
    - ``"label_quantile"``: per label, the most confident suggestions (stated confidence) up to
      ``self_training_quantile`` of that label's suggested windows in the pool; no threshold, so
      every label the model suggests can enter.

    Then the cap: at most ``self_training_cap`` times the labelled windows of a label, the most
    confident candidates first.

    Parameters
    ----------
    trainer : SectionTrainer
        The fitted model (its ``temperature_`` and ``confidence_map_`` are used when set).
    pool : sequence of TrackFrames
        Unlabelled tracks (their ``sections`` are never read); tracks without beats are skipped.
    grammar : Grammar or None
        The grammar learned from the labelled tracks.
    cfg : mapping
        The section config: ``self_training_threshold``, ``self_training_cap``,
        ``self_training_select``, ``self_training_quantile``, ``self_training_tied_threshold``,
        ``novelty_weight`` and the smoothing options.
    labelled_counts : mapping of str to int
        Labelled training windows per label (the cap is ``self_training_cap`` times it).

    Returns
    -------
    X : np.ndarray [shape=(p, dim)]
    y : np.ndarray [shape=(p,)] of str
    track_ids : np.ndarray [shape=(p,)] of int
    info : dict
        ``pool_tracks``, ``tracks`` (with a pseudo-label), ``windows``, ``suggestions`` (kept),
        ``suggestions_seen``, ``above_threshold`` (candidates), ``capped`` (candidates left out by
        the cap), ``per_label`` {label: windows}, ``skipped_no_beats``, ``select``.
    """
    from workbench.train.sections.suggestions import SMOOTHING_DEFAULTS, segments_for

    thr, cap = float(cfg["self_training_threshold"]), float(cfg["self_training_cap"])
    select = str(cfg.get("self_training_select", "stated"))
    smooth = {k: cfg[k] for k in SMOOTHING_DEFAULTS if k in cfg}
    classes = tuple(trainer.classes_)
    from workbench.train.sections.domain_map import served_map

    seen_segs: list[tuple[float, int, str, np.ndarray]] = []  # (confidence, pool index, label, window rows)
    skipped = 0
    for i, tr in enumerate(pool):
        if len(tr.beats) == 0:
            skipped += 1
            continue
        p = trainer.predict_proba(tr.features, calibrated=True)
        cmap = served_map(trainer, tr)
        segs = segments_for(tr, p, classes, grammar=grammar, confidence_map=cmap,
                            novelty_weight=float(cfg.get("novelty_weight", 0.0)) if grammar is not None else 0.0,
                            **smooth)
        confs = ([float(s.confidence) for s in segs] if select != "untied"
                 else untied_confidence(tr, p, segs, classes, grammar=grammar, confidence_map=cmap))
        for s, conf in zip(segs, confs, strict=True):
            rows = np.flatnonzero((tr.times_s >= s.start_s) & (tr.times_s < s.end_s))
            if len(rows):
                seen_segs.append((conf, i, s.label, rows))
    order = sorted(seen_segs, key=lambda c: (-c[0], c[1], float(pool[c[1]].times_s[c[3][0]])))
    if select == "label_quantile":
        q, total = float(cfg.get("self_training_quantile", 0.5)), {c: 0 for c in classes}
        for _, _, label, rows in order:
            total[label] += len(rows)
        taken, candidates = {c: 0 for c in classes}, []
        for cand in order:  # most confident first, per label up to q of its suggested windows
            if taken[cand[2]] + len(cand[3]) <= q * total[cand[2]]:
                taken[cand[2]] += len(cand[3])
                candidates.append(cand)
    else:
        from workbench.train.sections.grammar import TIED_PAIRS

        tied_thr = cfg.get("self_training_tied_threshold")
        tied = {c for pair in TIED_PAIRS for c in pair} if select == "untied" and tied_thr is not None else set()
        candidates = [c for c in order if c[0] >= (float(tied_thr) if c[2] in tied else thr)]
    room = {c: cap * float(labelled_counts.get(c, 0)) for c in classes}
    kept, capped = [], 0
    for _conf, i, label, rows in candidates:
        if len(rows) > room[label]:
            capped += 1
            continue
        room[label] -= len(rows)
        kept.append((i, label, rows))
    dim = pool[0].features.shape[1] if len(pool) else 0
    X = np.vstack([pool[i].features[rows] for i, _, rows in kept]) if kept else np.zeros((0, dim), np.float32)
    y = np.concatenate([np.full(len(rows), label) for _, label, rows in kept]) if kept else np.zeros(0, str)
    t = (np.concatenate([np.full(len(rows), pool[i].track_id, dtype=np.int64) for i, _, rows in kept]) if kept
         else np.zeros(0, np.int64))
    info = {"pool_tracks": len(pool), "tracks": len({i for i, _, _ in kept}), "windows": int(len(y)),
            "suggestions": len(kept), "suggestions_seen": len(seen_segs), "above_threshold": len(candidates),
            "capped": capped, "per_label": {c: int((y == c).sum()) for c in classes if (y == c).any()},
            "skipped_no_beats": skipped, "select": select}
    return X, y, t, info


def untied_confidence(frames: TrackFrames, probs: np.ndarray, segs: Sequence[Any], classes: tuple[str, ...], *,
                      grammar: Grammar | None, confidence_map: tuple[np.ndarray, np.ndarray] | None = None,
                      ) -> list[float]:
    """Each suggestion's confidence before the grammar's chorus/drop tie.

    The label's mean probability over the suggestion's beats, with the grammar's position factor
    but without :meth:`~workbench.train.sections.grammar.Grammar.tie_evidence`, clipped to [0, 1]
    and mapped through ``confidence_map``; with no tie (``tie_weight`` 0) it is the stated confidence.

    Parameters
    ----------
    frames : TrackFrames
        The track (its beats, window times and duration).
    probs : np.ndarray [shape=(n_windows, len(classes))]
        Its window probabilities (as decoded).
    segs : sequence of Suggestion
        Its suggestions (``start_beat``, ``end_beat``, ``label``).
    classes : tuple of str
        The class names, in column order.
    grammar : Grammar or None
        The grammar that decoded them (None: no position factor).
    confidence_map : (np.ndarray, np.ndarray), optional
        The model's confidence map, applied as to the stated confidence.

    Returns
    -------
    list of float
        One confidence in [0, 1] per suggestion.
    """
    from workbench.train import smoothing as sm

    beats = np.asarray(frames.beats, dtype=np.float64)
    bp = sm.beat_probabilities(probs, frames.times_s, beats, duration_s=frames.duration_s)
    if grammar is not None:
        mids = (beats + np.append(beats[1:], max(frames.duration_s, beats[-1]))) / 2
        bp = grammar.position_adjust(bp, mids / max(frames.duration_s, 1e-9))
    conf = np.array([float(np.clip(bp[s.start_beat:s.end_beat, classes.index(s.label)].mean(), 0, 1)) for s in segs])
    if confidence_map is not None and len(conf):
        from workbench.evaluate.calibration import apply_confidence_map

        conf = np.asarray(apply_confidence_map(conf, confidence_map), dtype=np.float64)
    return [float(c) for c in conf]


def self_train(trainer: SectionTrainer, train: SectionData, pool: Sequence[TrackFrames], *, cfg: Mapping[str, Any],
               grammar: Grammar | None, fit: Callable[[tuple[np.ndarray, np.ndarray, np.ndarray, float]], SectionTrainer],
               ) -> tuple[SectionTrainer, dict[str, Any]]:
    """``self_training_rounds`` rounds of pseudo-labelling the pool and retraining.

    Parameters
    ----------
    trainer : SectionTrainer
        The model trained on the labelled tracks only.
    train : SectionData
        Its labelled training tracks (for the per-label cap).
    pool : sequence of TrackFrames
        Unlabelled tracks, none of them in ``train`` (their sections are never read).
    cfg : mapping
        The section config (:data:`SELF_TRAINING_DEFAULTS` keys and the smoothing options).
    grammar : Grammar or None
        The grammar learned from the labelled tracks (decodes the pool; not relearned).
    fit : callable
        ``fit(pseudo)`` trains a fresh model on the labelled windows plus ``pseudo``
        (``SectionTrainer.fit(..., pseudo=pseudo)`` with the caller's settings).

    Returns
    -------
    trainer : SectionTrainer
        The last round's model (``trainer`` itself when no round found a pseudo-label).
    info : dict
        ``rounds`` (one :func:`pick_pseudo_labels` info per round run), ``threshold``, ``weight``,
        ``cap``, ``select``, ``quantile``, ``tied_threshold``, ``pool_tracks`` (after the gate), ``pseudo_windows``
        and ``pseudo_tracks`` (of the last model's training), ``stopped`` (why fewer rounds ran, or None);
        with ``self_training_gate``, ``gate`` (:func:`~workbench.train.sections.domain_gate.domain_gate`'s info);
        with ``self_training_route`` too, ``route`` (the returned model's ``route_``:
        :func:`~workbench.train.sections.domain_route.attach_route`).
    """
    labelled = {c: int((train.y == c).sum()) for c in trainer.classes_}
    w = float(cfg["self_training_weight"])
    info: dict[str, Any] = {"threshold": float(cfg["self_training_threshold"]), "weight": w,
                            "cap": float(cfg["self_training_cap"]),
                            "select": str(cfg.get("self_training_select", "stated")),
                            "quantile": float(cfg.get("self_training_quantile", 0.5)),
                            "tied_threshold": cfg.get("self_training_tied_threshold"), "pool_tracks": len(pool),
                            "rounds": [], "pseudo_windows": 0, "pseudo_tracks": 0, "stopped": None}
    gate = check_gate(cfg.get("self_training_gate"))
    if gate is not None and pool and len(train.tracks) < 2:  # a fold of one track: no spread to measure against
        info["gate"] = {"gate": gate, "skipped": f"the domain gate needs 2+ labelled tracks; got {len(train.tracks)}"}
        pool, info["pool_tracks"] = [], 0
    elif gate is not None and pool:  # only the pool tracks out of the labelled tracks' domain
        keep, info["gate"] = domain_gate(pool, train.tracks, gate=gate)
        pool = [t for t, k in zip(pool, keep, strict=True) if k]
        info["pool_tracks"] = len(pool)
    if not pool:
        said = info.get("gate", {})
        info["stopped"] = (f"{said['skipped']} (self_training_gate): no unlabelled track used" if "skipped" in said else
                           "no unlabelled track out of the labelled tracks' domain (self_training_gate)"
                           if said.get("in_domain") else "no unlabelled tracks in the pool")
        return trainer, info
    base = trainer
    for _ in range(int(cfg["self_training_rounds"])):
        X, y, t, picked = pick_pseudo_labels(trainer, pool, grammar=grammar, cfg=cfg, labelled_counts=labelled)
        info["rounds"].append(picked)
        if not len(y):
            info["stopped"] = (f"no suggestion reached the threshold {info['threshold']:.2f}"
                               if info["select"] != "label_quantile" else "the model suggested nothing to pick from")
            break
        trainer = fit((X, y, t, w))
        info["pseudo_windows"], info["pseudo_tracks"] = picked["windows"], picked["tracks"]
    if gate is not None and cfg.get("self_training_route", False):  # both models kept, each track served by its distance
        from workbench.train.sections.domain_route import attach_route

        trainer = attach_route(trainer, base, train.tracks, gate=gate, info=info)
    return trainer, info


def unlabelled_pool(library: Library, labelled: SectionData, *, backbone: Backbone | None = None,
                    features: WindowFeatures | None = None, max_tracks: int = 200, seed: int = 0,
                    exclude: Sequence[int] = ()) -> tuple[list[TrackFrames], dict[str, Any]]:
    """The library's tracks with no section label, as unlabelled tracks to self-train on.

    Parameters
    ----------
    library : Library
        The user's library.
    labelled : SectionData
        The labelled tracks (left out of the pool).
    backbone : Backbone, optional
        The model's backbone (default the feature frontend).
    features : WindowFeatures, optional
        The model's window layout (default ``labelled.features``).
    max_tracks : int >= 1
        At most this many tracks (a seeded sample when the library has more).
    seed : int
        The sample's seed.
    exclude : sequence of int
        Track ids also left out (e.g. QA-flagged ones).

    Returns
    -------
    pool : list of TrackFrames
    info : dict
        ``candidates`` (unlabelled tracks), ``used``, ``failed`` [(track id, reason)].
    """
    from workbench.errors import failure_reason
    from workbench.train.sections.library_data import track_frames

    skip = {t.track_id for t in labelled.tracks} | {int(i) for i in exclude}
    ids = sorted(t.id for t in library.tracks() if t.id not in skip)
    chosen = ids if len(ids) <= max_tracks else sorted(np.random.default_rng(seed).choice(ids, max_tracks,
                                                                                        replace=False).tolist())
    pool, failed = [], []
    for tid in chosen:
        try:
            pool.append(track_frames(library, int(tid), backbone=backbone, features=features or labelled.features))
        except Exception as exc:  # noqa: BLE001 - one track that cannot be read never stops training
            failed.append((int(tid), failure_reason(exc)))
    return pool, {"candidates": len(ids), "used": len(pool), "failed": failed}
