"""Section suggestions: window probabilities → smoothed sections snapped to bars, for the labeler.

:func:`segments_for` turns one track's window probabilities into sections (semi-Markov
smoothing over bars, :mod:`workbench.train.smoothing`); :func:`suggest_sections` does it for a
library track with a trained model; :func:`suggester` gives the labeler's ``suggest`` callable
for a ``sections`` run.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.labels.uncertain import UNCERTAIN_BELOW
from workbench.train.sections.features import TrackFrames, WindowFeatures
from workbench.train.sections.library_data import track_frames
from workbench.train.sections.model_file import load_section_model
from workbench.train.sections.trainer import SectionTrainer

if TYPE_CHECKING:  # pragma: no cover
    from workbench.embed.batch import Backbone
    from workbench.labels import Suggestion
    from workbench.library import Library, Track
    from workbench.models.heads import SectionClassifier
    from workbench.runs import Run
    from workbench.train.sections.grammar import Grammar

SMOOTHING_DEFAULTS: dict[str, Any] = {"min_bars": 4, "switch_penalty": 2.0, "evidence_weight": 1.0,
                                      "phrase_bars": 4, "phrase_penalty": 1.0}


def segments_for(frames: TrackFrames, probs: np.ndarray, classes: tuple[str, ...], *, smooth: bool = True,
                 transitions: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                 grammar: Grammar | None = None, uncertain_below: float = UNCERTAIN_BELOW,
                 novelty_weight: float = 0.0, confidence_map: tuple[np.ndarray, np.ndarray] | None = None,
                 repeat_pool: float = 0.0, repeat_relabel: float = 0.0,
                 repeat_options: dict[str, Any] | None = None, **smoothing: Any) -> list[Suggestion]:
    """Window probabilities of one track → suggestions (smoothed, or the raw per-beat arg-max runs).

    The suggestions tile the track: the first starts at 0 s (its ``start_beat`` 0), the last ends
    at ``frames.duration_s``; smoothed, every boundary between them is a bar start.

    ``probs`` (n_windows, len(classes)); ``transitions`` a label-order prior
    ``(log_transitions, log_init, log_final)`` over ``classes``; ``smoothing`` overrides :data:`SMOOTHING_DEFAULTS`.

    Parameters
    ----------
    frames : TrackFrames
        The track's windows, frame times and beat grid.
    probs : np.ndarray [shape=(n_windows, len(classes))]
        Class probabilities of each window.
    classes : tuple of str
        The class names, in column order.
    smooth : bool
        Smooth over bars; False gives the raw per-beat arg-max runs.
    transitions : (np.ndarray [shape=(K, K)], np.ndarray [shape=(K,)], np.ndarray [shape=(K,)]), optional
        Label-order prior, as log-probabilities; None uses none.
    grammar : Grammar, optional
        A learned grammar over ``classes`` (order, position, duration); replaces ``transitions``
        and the phrase prior. With ``grammar.families`` the track is decoded in each label family
        and the best family kept; each suggestion's ``family`` names it.
    uncertain_below : float in [0, 1]
        Suggestions with a lower confidence are marked ``uncertain`` (default
        :data:`~workbench.labels.uncertain.UNCERTAIN_BELOW`: a calibrated chance of more than 1 in 5
        of being wrong); each suggestion carries it.
    novelty_weight : float >= 0
        With a grammar: a boundary at a bar start scores ``novelty_weight`` times the bar's
        Foote novelty (z-scored over the track, negatives 0): the music's changes pull the
        boundaries onto them.
        With a grammar whose ``weak_boundary_penalty`` is above 0, a boundary where neither the
        probabilities nor the novelty change (:func:`~workbench.train.sections.novelty.weak_boundaries`)
        also costs that penalty.
    confidence_map : (np.ndarray, np.ndarray), optional
        Knots of a monotone map from a suggestion's confidence (its label's mean probability)
        to the share of such suggestions that were right on held-out groups
        (:func:`workbench.evaluate.calibration.fit_platt` or ``fit_isotonic``); the confidence shown and the
        ``uncertain`` flag use the mapped value.
    repeat_pool : float in [0, 1]
        With a grammar and ``features-v1`` frames: each bar's evidence pulled this far to the mean of
        the bar and the bars that repeat it before decoding (:func:`~workbench.train.sections.repeat_decode.pool_repeats`).
    repeat_relabel : float in [0, 1]
        With a grammar and ``features-v1`` frames, above 0: decoded sections sharing at least this share of
        repeated bars take one label (:func:`~workbench.train.sections.repeat_decode.relabel_repeats`);
        0 uses the grammar's ``repeat_relabel`` (config ``repeat_relabel``, off by default).
    repeat_options : dict, optional
        None: :data:`~workbench.train.sections.repeat_decode.DECODER_TIE`. Else
        ``min_affinity``, ``min_run_bars`` (:func:`~workbench.train.sections.repeat_decode.bar_repeats`),
        ``transitive``, ``by`` (:func:`~workbench.train.sections.repeat_decode.relabel_repeats`) and ``fixed``
        (labels never relabelled nor chosen, e.g. ``("intro", "outro")``).
    **smoothing
        ``min_bars``, ``switch_penalty``, ``evidence_weight``, ``phrase_bars``, ``phrase_penalty``.

    Raises
    ------
    ParameterError
        The track has no beat grid, or an unknown smoothing option.
    """
    from workbench.labels import Suggestion
    from workbench.train import smoothing as sm

    if len(frames.beats) == 0:
        raise ParameterError(f"track {frames.track_id} has no beat grid; section suggestions need beats")
    unknown = sorted(set(smoothing) - set(SMOOTHING_DEFAULTS))
    if unknown:
        raise ParameterError(f"smoothing options must be among {sorted(SMOOTHING_DEFAULTS)}; got {unknown}")
    opts = {**SMOOTHING_DEFAULTS, **smoothing}
    beats = np.asarray(frames.beats, dtype=np.float64)
    bp = raw_bp = sm.beat_probabilities(probs, frames.times_s, beats, duration_s=frames.duration_s)
    family = None
    if smooth and grammar is not None:
        if tuple(grammar.classes) != tuple(classes):
            raise ParameterError(f"grammar classes {list(grammar.classes)} must be the model's {list(classes)}")
        mids = (beats + np.append(beats[1:], max(frames.duration_s, beats[-1]))) / 2
        bp = grammar.position_adjust(grammar.tie_evidence(bp), mids / max(frames.duration_s, 1e-9))
        prior = grammar.viterbi_options()
        starts = sm.bar_starts(beats, frames.downbeats)
        repeats = None
        repeat_relabel = repeat_relabel if repeat_relabel > 0 else float(grammar.repeat_relabel)
        if repeat_pool > 0 or repeat_relabel > 0:
            from workbench.train.sections import repeat_decode as rd

            ropts = dict(rd.DECODER_TIE if repeat_options is None else repeat_options)
            fixed = np.isin(classes, list(ropts.pop("fixed", ())))
            transitive = bool(ropts.pop("transitive", True))
            by = str(ropts.pop("by", "sum"))
            repeats = rd.bar_repeats(frames.frames, frames.times_s, beats, starts, duration_s=frames.duration_s,
                                     **ropts)
            if repeats is not None and repeat_pool > 0:
                bp = rd.pool_repeats(bp, starts, repeats, weight=repeat_pool)
        weak_penalty = float(grammar.weak_boundary_penalty)
        if novelty_weight > 0 or weak_penalty > 0:
            nov = _bar_novelty(frames, beats, starts)
            prior["boundary_bonus"] = novelty_weight * nov
            if weak_penalty > 0:  # a boundary neither the model's posterior nor the music supports (session 22)
                from workbench.train.sections.novelty import weak_boundaries

                ends = np.append(starts[1:], len(raw_bp))
                csum = np.vstack([np.zeros((1, raw_bp.shape[1])), np.cumsum(raw_bp, axis=0)])
                bar_probs = (csum[ends] - csum[starts]) / (ends - starts)[:, None]
                prior["boundary_bonus"] = prior["boundary_bonus"] - weak_penalty * weak_boundaries(bar_probs, nov)
        if grammar.outro_gate > 0:
            prior["final_bonus"] = grammar.final_bonus(_bar_level(frames, beats, starts))
        if grammar.families is not None:  # decoded once per label family, the best kept (families.py)
            segs, family, _ = grammar.families.decode(bp, starts, classes, boundary_bonus=prior.get("boundary_bonus"),
                                                      **opts)
        else:
            segs = sm.smooth_beats(bp, starts, **{**opts, **prior})
        if repeats is not None and repeat_relabel > 0:
            allowed = ~fixed if family is None else ~fixed & np.isin(
                classes, grammar.families.labels[grammar.families.names.index(family)])
            segs = rd.relabel_repeats(segs, bp, starts, repeats, min_share=repeat_relabel, allowed=allowed,
                                      transitive=transitive, by=by)
    elif smooth:
        lt, li, lf = transitions if transitions is not None else (None, None, None)
        lt = sm.ends_order(classes, lt)  # an intro only first, an outro only last
        segs = sm.smooth_beats(bp, sm.bar_starts(beats, frames.downbeats), log_transitions=lt, log_init=li,
                               log_final=lf, **opts)
    else:
        segs = sm.raw_beats(bp)
    edges = np.append(beats, max(frames.duration_s, beats[-1]))
    edges[0] = 0.0  # the first suggestion starts the track (beat 0 is "from the start", as the last beat's end is)
    out = []
    for s in segs:
        conf = min(1.0, max(0.0, s.confidence))
        if confidence_map is not None:
            from workbench.evaluate.calibration import apply_confidence_map

            conf = float(apply_confidence_map(np.array([conf]), confidence_map)[0])
        out.append(Suggestion(frames.track_id, classes[s.label], s.start_beat, s.end_beat, float(edges[s.start_beat]),
                              float(edges[s.end_beat]), conf, uncertain=bool(conf < uncertain_below), family=family,
                              uncertain_below=float(uncertain_below)))
    return out


def _bar_level(frames: TrackFrames, beats: np.ndarray, starts: np.ndarray) -> np.ndarray | None:
    """Mean loudness of each bar where the frames are ``features-v1`` (their mel bands), else None."""
    from workbench.train.sections.dj_features import FEATURES_V1_DIM
    from workbench.train.sections.novelty import bar_features, loudness

    if frames.frames is None or np.ndim(frames.frames) != 2 or np.shape(frames.frames)[1] != FEATURES_V1_DIM:
        return None
    edges = np.append(beats[starts], max(frames.duration_s, beats[-1] + 1e-3))
    edges[0] = 0.0
    level = loudness(frames.frames, "features-v1")
    return bar_features(level[:, None], frames.times_s, edges)[:, 0]


def _bar_novelty(frames: TrackFrames, beats: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Foote novelty at each bar start (z-scored over the track, negatives 0)."""
    from workbench.train.sections.novelty import bar_features, novelty_curve

    emb = frames.frames if frames.frames is not None else frames.features
    edges = np.append(beats[starts], max(frames.duration_s, beats[-1] + 1e-3))
    edges[0] = 0.0
    curve = novelty_curve(bar_features(emb, frames.times_s, edges))
    z = (curve - curve.mean()) / max(float(curve.std()), 1e-9)
    return np.maximum(z, 0.0)


def novelty_suggestions(frames: TrackFrames, *, backbone: str = "") -> list[Suggestion]:
    """Suggestions without a model: novelty boundaries with guessed labels, all ``uncertain``, confidence 0.

    The fallback when no section model is trained yet (see
    :func:`~workbench.train.sections.novelty.novelty_sections`): the boundaries are worth a
    look, the labels are a guess from position and loudness.

    Parameters
    ----------
    frames : TrackFrames
        The track (:func:`~workbench.train.sections.track_frames`).
    backbone : str
        The backbone's name (``features-v1`` gives loudness for the label guess).

    Raises
    ------
    ParameterError
        The track has no beat grid.
    """
    from workbench.labels import Suggestion
    from workbench.train.sections.novelty import novelty_sections
    from workbench.train.smoothing import bar_starts

    beats = np.asarray(frames.beats, dtype=np.float64)
    secs = novelty_sections(frames, backbone=backbone)
    bar_beat = np.append(bar_starts(beats, frames.downbeats), len(beats))
    return long_enough([Suggestion(frames.track_id, s["label"], int(bar_beat[s["start_bar"]]),
                                   int(bar_beat[s["end_bar"]]), s["start_s"], s["end_s"], 0.0, uncertain=True)
                        for s in secs if bar_beat[s["end_bar"]] > bar_beat[s["start_bar"]]])


def long_enough(suggestions: list[Suggestion]) -> list[Suggestion]:
    """Contiguous suggestions with none under ``WARN_BEATS`` beats, the length the labeler warns about.

    A short one joins its neighbour (the one before; the first, the one after), which keeps its label, confidence
    and ``uncertain``; a track too short for one such span gets none (:func:`~workbench.labels.too_short_note`
    says why).

    Parameters
    ----------
    suggestions : list of Suggestion
        One track's, in order, each ending where the next starts.
    """
    from workbench.labels import WARN_BEATS

    out = list(suggestions)
    while len(out) > 1 and (short := next((i for i, s in enumerate(out)
                                           if s.end_beat - s.start_beat < WARN_BEATS), None)) is not None:
        into = short - 1 if short > 0 else 1
        a, b = sorted((short, into))
        out[a:b + 1] = [dataclasses.replace(out[into], start_beat=out[a].start_beat, end_beat=out[b].end_beat,
                                            start_s=out[a].start_s, end_s=out[b].end_s)]
    return [s for s in out if s.end_beat - s.start_beat >= WARN_BEATS]


def suggest_sections(library: Library, track: Track | int | str, *, model: SectionTrainer | SectionClassifier,
                     backbone: Backbone | None = None, features: WindowFeatures | None = None,
                     transitions: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                     **smoothing: Any) -> list[Suggestion]:
    """Section suggestions for a whole track: what the labeler shows.

    Sliding windows (the cached frame embeddings) → window probabilities → per-beat
    probabilities → semi-Markov smoothing over bars (:mod:`workbench.train.smoothing`) →
    sections snapped to downbeats, each with the mean probability of its label as confidence.

    Parameters
    ----------
    library : Library
        Where the track is.
    track : Track, int or str
        The track, or its id or content hash.
    model : SectionTrainer (fitted) or SectionClassifier
        A head takes the raw window features of ``features`` (it must match their size).
    backbone : Backbone or None
        The backbone the model was trained on (default the feature frontend).
    features : WindowFeatures or None
        The window layout used in training (default :data:`~workbench.train.sections.features.DEFAULT_FEATURES`).
    transitions : (log_transitions, log_init, log_final) or None
        Label-order prior over the model's classes (:attr:`SectionResult.transitions`).
    **smoothing
        ``min_bars``, ``switch_penalty``, ``evidence_weight``, ``phrase_bars``, ``phrase_penalty``.

    Returns
    -------
    list of Suggestion
        Contiguous, covering the track from beat 0 to ``len(beats)``: from 0 s to its duration
        (the first starts at 0 s, not at the first beat), every inner boundary on a bar start; none
        under ``WARN_BEATS`` beats (:func:`long_enough`): none at all on a track shorter than that.
    """
    trainer = model if isinstance(model, SectionTrainer) else SectionTrainer.from_model(model)
    trainer._check_fitted()
    frames = track_frames(library, track, backbone=backbone, features=features)
    from workbench.train.sections.domain_route import served

    model, served_by = served(trainer, frames)  # self_training_route: which of the model file's two heads
    probs = model.predict_proba(frames.features, calibrated=True)
    members = getattr(trainer, "members_", None) or []
    below = getattr(trainer, "uncertain_below_", UNCERTAIN_BELOW)
    from workbench.train.sections.domain_map import served_map_and_unlike

    cmap, unlike = served_map_and_unlike(trainer, frames)  # the domain-aware map at this track's distance, else Platt's
    segs = segments_for(frames, probs, trainer.classes_, transitions=transitions,
                        grammar=getattr(trainer, "grammar_", None), uncertain_below=below,
                        confidence_map=None if members else cmap,
                        novelty_weight=getattr(trainer, "novelty_weight_", 0.0), **smoothing)
    if members:
        from workbench.train.sections.ensemble import with_ensemble_confidence

        segs = with_ensemble_confidence(frames, segs, probs, members, trainer.classes_,
                                        score=getattr(trainer, "ensemble_score_", "mean"),
                                        temperature=float(getattr(trainer, "temperature_", 1.0)),
                                        uncertain_below=below, confidence_map=cmap)
    mapped = getattr(trainer, "confidence_map_", None) is not None  # else only temperature-scaled: the rule says so
    return long_enough([dataclasses.replace(s, confidence_mapped=mapped, unlike_labelled=unlike, served_by=served_by)
                        for s in segs])


def fallback_suggestions(library: Library, track: Track | int | str, *,
                         backbone: Backbone | None = None) -> list[Suggestion]:
    """Section suggestions for a track before any model is trained: :func:`novelty_suggestions`.

    Parameters
    ----------
    library : Library
        Where the track is.
    track : Track, int or str
        The track, or its id or content hash.
    backbone : Backbone, optional
        Frame embeddings to use (default the feature frontend).

    Returns
    -------
    list of Suggestion
        All ``uncertain``, confidence 0.
    """
    from workbench.embed.features import FeatureFrontend

    b = backbone if backbone is not None else FeatureFrontend()
    return novelty_suggestions(track_frames(library, track, backbone=b), backbone=b.name)


def suggester(library: Library, run: Run | str | os.PathLike[str] | None, *, backbone: Backbone | None = None,
              **smoothing: Any) -> Callable[..., list[Suggestion]]:
    """The labeler's ``suggest`` callable (``track -> list[Suggestion]``) for a ``sections`` run.

    ``run`` is a :class:`~workbench.runs.Run`, its folder or its id; the model, its window
    features, its grammar and temperature are read once from the run's ``model.pt``. With
    ``run=None`` (no model trained yet) the callable gives :func:`fallback_suggestions`:
    novelty boundaries, every one ``uncertain``.

    Parameters
    ----------
    library : Library
        Where the tracks are.
    run : Run, str, path or None
        A ``sections`` run; None for the fallback without a model.
    backbone : Backbone, optional
        The backbone the model was trained on (default the feature frontend).
    **smoothing
        Overrides of :data:`SMOOTHING_DEFAULTS`.

    Raises
    ------
    ParameterError
        The run is not a ``sections`` run with a ``model.pt``.
    """
    from functools import partial

    from workbench.runs import Run, load_run

    if run is None:
        return partial(fallback_suggestions, library, backbone=backbone)
    r = run if isinstance(run, Run) else load_run(run)
    if r.kind != "sections" or r.model_path is None:
        raise ParameterError(f"run {r.run_id} is not a sections run with a model.pt (kind {r.kind!r})")
    trainer, features, transitions = load_section_model(r.model_path)
    return partial(suggest_sections, library, model=trainer, backbone=backbone, features=features,
                   transitions=transitions, **smoothing)
