"""A confidence that falls under shift: the suggestion's support among models trained on parts of the data.

The smoothed suggestion's stated confidence (its label's mean probability) is the model's own
view; on music unlike its training music the model is wrong as confidently as it is right. A few
small *member* models, each trained on the training tracks without one share of their groups
(crates, folders, styles: a leave-groups-out bag, seeded), disagree where the answer depends on
which music was seen: on unseen styles and generators more than in-domain (Lakshminarayanan et
al. 2017; Ovadia et al. 2019, "Can you trust your model's uncertainty?": ensembles held best
under dataset shift). :func:`fit_members` trains them; :func:`ensemble_confidence` gives each
suggestion the members' (and the main model's) support for its label:

- ``"mean"``: the mean over the models of the label's mean probability over the suggestion's beats;
- ``"agreement"``: the share of the models whose arg-max over the suggestion's beats is its label;
- ``"stated_agreement"``: the stated confidence times that share.

``train_sections(config={"confidence": "ensemble"})`` uses it in every score (in each
leave-one-group-out fold the members are trained on that fold's training tracks only), fits the
Platt map on it, and stores the members in the model file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.labels import Suggestion
    from workbench.train.sections.features import SectionData, TrackFrames
    from workbench.train.sections.trainer import SectionTrainer

#: How a suggestion's ensemble confidence is made (see the module doc).
ENSEMBLE_SCORES: tuple[str, ...] = ("mean", "agreement", "stated_agreement")
#: Values of the ``confidence`` config key.
CONFIDENCES: tuple[str, ...] = ("stated", "ensemble")


def check_confidence_config(cfg: Mapping[str, Any]) -> None:
    """Refuse unknown ``confidence``, ``ensemble_score`` or a bad ``ensemble_members``.

    Parameters
    ----------
    cfg : mapping
        The section config.

    Raises
    ------
    ParameterError
        A value outside what is allowed.
    """
    if cfg.get("confidence", "stated") not in CONFIDENCES:
        raise ParameterError(f"config confidence must be one of {CONFIDENCES}; got {cfg.get('confidence')!r}")
    if cfg.get("ensemble_score", "mean") not in ENSEMBLE_SCORES:
        raise ParameterError(f"config ensemble_score must be one of {ENSEMBLE_SCORES}; got {cfg.get('ensemble_score')!r}")
    if cfg.get("ensemble_split", "groups") not in ("groups", "features"):
        raise ParameterError(f"config ensemble_split must be 'groups' or 'features'; got {cfg.get('ensemble_split')!r}")
    n = cfg.get("ensemble_members", 4)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ParameterError(f"config ensemble_members must be an int >= 2; got {n!r}")


def member_splits(data: SectionData, *, n_members: int, seed: int) -> list[list[int]]:
    """Track ids each member leaves out: a seeded split of the groups (of the tracks with fewer groups).

    Parameters
    ----------
    data : SectionData
        The training tracks.
    n_members : int >= 2
        Members wanted; fewer come back when there are fewer groups (or tracks) than that.
    seed : int
        Seeds the shuffle.

    Returns
    -------
    list of list of int
        One list of left-out track ids per member (disjoint, together all tracks).
    """
    groups = sorted({t.group for t in data.tracks})
    by_group = len(groups) >= n_members and "" not in groups
    keys = groups if by_group else sorted(t.track_id for t in data.tracks)
    order = np.random.default_rng(seed).permutation(len(keys))
    parts = [[keys[i] for i in order[m::n_members]] for m in range(min(n_members, len(keys)))]
    return [[t.track_id for t in data.tracks if (t.group if by_group else t.track_id) in part] for part in parts]


def feature_blocks(features: Any, n_columns: int) -> list[np.ndarray]:
    """Column indices of each feature group of a window layout, in :meth:`WindowFeatures.group_names` order.

    Parameters
    ----------
    features : WindowFeatures
        The layout.
    n_columns : int
        Its width for the backbone in use (``X.shape[1]``).

    Returns
    -------
    list of np.ndarray of int
    """
    from workbench.train.sections.dj_features import EXTRA_GROUPS

    n_ctx = len(features.context_s)
    emb_blocks = (1 + n_ctx + (n_ctx if features.track_relative else 0)) if features.embedding else 0
    sizes = [EXTRA_GROUPS[g] for g in features.extra]
    rest = n_columns - (2 if features.position else 0) - sum(sizes)
    base = rest // emb_blocks if emb_blocks else 0
    widths = [base] * emb_blocks + ([2] if features.position else []) + sizes
    if sum(widths) != n_columns:
        raise ParameterError(f"n_columns must match the layout's width; got {n_columns} for groups {widths}")
    edges = np.cumsum([0, *widths])
    return [np.arange(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def fit_members(data: SectionData, *, cfg: Mapping[str, Any], trainer_params: Mapping[str, Any],
                groups_of: Callable[[SectionData], np.ndarray] | None = None) -> list[SectionTrainer]:
    """Train the members: each on ``data`` without one part of :func:`member_splits`.

    With ``cfg["ensemble_split"] == "features"`` each member sees every track but not a share of
    the feature groups instead (a random-subspace bag, Ho 1998: the dropped columns are zero in
    training and their first-layer weights zero after, so the member ignores them): under a shift
    that moves some groups more than others, the members part ways.

    Parameters
    ----------
    data : SectionData
        The training tracks (never anything scored later).
    cfg : mapping
        The section config: ``seed``, ``ensemble_members``, ``ensemble_split``.
    trainer_params : mapping
        Keyword arguments of :class:`~workbench.train.sections.trainer.SectionTrainer` (the
        leave-one-group-out folds' short schedule); member ``i`` gets seed ``seed + 1 + i``.
    groups_of : callable, optional
        What early stopping holds out, per window of a member's tracks
        (:func:`~workbench.train.sections.transfer.validation_groups`); default the track.

    Returns
    -------
    list of SectionTrainer
        Fitted; a part whose removal leaves fewer than 2 classes is skipped.
    """
    from workbench.train.sections.trainer import SectionTrainer

    def _by(d: SectionData) -> np.ndarray:
        return d.groups if groups_of is None else groups_of(d)

    seed = int(cfg["seed"])
    n = int(cfg.get("ensemble_members", 4))
    if cfg.get("ensemble_split", "groups") == "features":
        return [_feature_member(data, blocks, {**dict(trainer_params), "seed": seed + 1 + i}, _by(data))
                for i, blocks in enumerate(_dropped_blocks(data, n, seed))]
    members = []
    for i, out in enumerate(member_splits(data, n_members=n, seed=seed)):
        left = set(out)
        sub = data.subset(t.track_id for t in data.tracks if t.track_id not in left)
        if not sub.tracks or len(set(sub.y.tolist())) < 2:
            continue
        params = {**dict(trainer_params), "seed": seed + 1 + i}
        members.append(SectionTrainer(**params).fit(
            sub.X, sub.y, _by(sub),
            not_X=sub.X_not, not_y=sub.y_not))
    return members


def _dropped_blocks(data: SectionData, n: int, seed: int) -> list[np.ndarray]:
    blocks = feature_blocks(data.features, data.X.shape[1])
    order = np.random.default_rng(seed).permutation(len(blocks))
    return [np.concatenate([blocks[j] for j in order[m::n]]) for m in range(min(n, len(blocks) - 1))]


def _feature_member(data: SectionData, cols: np.ndarray, params: Mapping[str, Any],
                    groups: np.ndarray) -> SectionTrainer:
    import torch

    from workbench.train.sections.trainer import SectionTrainer

    X = np.array(data.X, dtype=np.float32, copy=True)
    X[:, cols] = 0.0
    X_not = None if data.X_not is None else np.array(data.X_not, dtype=np.float32, copy=True)
    if X_not is not None and len(X_not):
        X_not[:, cols] = 0.0
    m = SectionTrainer(**dict(params)).fit(X, data.y, groups, not_X=X_not, not_y=data.y_not)
    with torch.no_grad():  # zero in training (mean 0, scale 1): zero weights leave the bias as it is
        m.model_.fc1.weight[:, torch.from_numpy(cols)] = 0.0
    return m


def _in_order(p: np.ndarray, have: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    out = np.zeros((p.shape[0], len(classes)))
    for j, c in enumerate(have):
        if c in classes:
            out[:, list(classes).index(c)] = p[:, j]
    return out


def ensemble_confidence(frames: TrackFrames, segs: Sequence[Suggestion], probs: Sequence[np.ndarray],
                        classes: Sequence[str], *, score: str = "mean") -> np.ndarray:
    """Each suggestion's support among several models' window probabilities.

    Parameters
    ----------
    frames : TrackFrames
        The track (frame times, beats, duration).
    segs : sequence of Suggestion
        The suggestions (``start_beat``, ``end_beat``, ``label``, stated ``confidence``).
    probs : sequence of np.ndarray [shape=(n_windows, len(classes))]
        One array of window probabilities per model (the main model and the members), columns
        in ``classes`` order.
    classes : sequence of str
        The class names.
    score : str
        One of :data:`ENSEMBLE_SCORES`.

    Returns
    -------
    np.ndarray [shape=(len(segs),)]
        In [0, 1].

    Raises
    ------
    ParameterError
        An unknown ``score`` or no models.
    """
    from workbench.train import smoothing as sm

    if score not in ENSEMBLE_SCORES:
        raise ParameterError(f"score must be one of {ENSEMBLE_SCORES}; got {score!r}")
    if not len(probs):
        raise ParameterError("probs must hold the window probabilities of 1+ models; got none")
    beats = np.asarray(frames.beats, dtype=np.float64)
    bp = np.stack([sm.beat_probabilities(p, frames.times_s, beats, duration_s=frames.duration_s) for p in probs])
    cs = np.concatenate([np.zeros((bp.shape[0], 1, bp.shape[2])), np.cumsum(bp, axis=1)], axis=1)
    out = np.empty(len(segs))
    for i, s in enumerate(segs):
        a, b = int(s.start_beat), max(int(s.end_beat), int(s.start_beat) + 1)
        span = (cs[:, min(b, bp.shape[1])] - cs[:, min(a, bp.shape[1] - 1)]) / max(min(b, bp.shape[1]) - a, 1)
        k = list(classes).index(s.label)
        agree = float(np.mean(span.argmax(axis=1) == k))
        out[i] = (float(span[:, k].mean()) if score == "mean" else agree if score == "agreement"
                  else float(s.confidence) * agree)
    return np.clip(out, 0.0, 1.0)


def member_probabilities(members: Sequence[SectionTrainer], features: np.ndarray, classes: Sequence[str], *,
                         temperature: float = 1.0) -> list[np.ndarray]:
    """Window probabilities of each member, in ``classes`` order (0 for a class a member never saw).

    Parameters
    ----------
    members : sequence of SectionTrainer
        Fitted members.
    features : np.ndarray [shape=(n, dim)]
        The track's window features.
    classes : sequence of str
        The main model's classes.
    temperature : float > 0
        Divides the log-probabilities (the main model's fitted temperature).

    Returns
    -------
    list of np.ndarray [shape=(n, len(classes))]
    """
    from workbench.evaluate.calibration import apply_temperature

    out = []
    for m in members:
        p = m.predict_proba(features)
        if temperature != 1.0:
            p = apply_temperature(p, temperature)
        out.append(_in_order(p, m.classes_, classes))
    return out


def with_ensemble_confidence(frames: TrackFrames, segs: Sequence[Suggestion], main_probs: np.ndarray,
                             members: Sequence[SectionTrainer], classes: Sequence[str], *, score: str = "mean",
                             temperature: float = 1.0, uncertain_below: float | None = None,
                             confidence_map: tuple[np.ndarray, np.ndarray] | None = None) -> list[Suggestion]:
    """The suggestions with their confidence replaced by :func:`ensemble_confidence` (main model + members).

    Parameters
    ----------
    frames : TrackFrames
        The track.
    segs : sequence of Suggestion
        The main model's smoothed suggestions.
    main_probs : np.ndarray [shape=(n_windows, len(classes))]
        The main model's window probabilities (temperature applied).
    members : sequence of SectionTrainer
        The members; none leaves ``segs`` as they are.
    classes : sequence of str
        The main model's classes.
    score : str
        One of :data:`ENSEMBLE_SCORES`.
    temperature : float > 0
        Applied to the members' probabilities.
    uncertain_below : float, optional
        Re-marks ``uncertain`` with the new confidence (None keeps the flags).
    confidence_map : (np.ndarray, np.ndarray), optional
        Knots of the map fitted on the ensemble confidence
        (:func:`~workbench.evaluate.calibration.apply_confidence_map`), applied to it.

    Returns
    -------
    list of Suggestion
    """
    if not members or not segs:
        return list(segs)
    probs = [np.asarray(main_probs, dtype=np.float64),
             *member_probabilities(members, frames.features, classes, temperature=temperature)]
    conf = ensemble_confidence(frames, segs, probs, classes, score=score)
    if confidence_map is not None:
        from workbench.evaluate.calibration import apply_confidence_map

        conf = apply_confidence_map(conf, confidence_map)
    return [replace(s, confidence=float(c), uncertain=s.uncertain if uncertain_below is None
                    else bool(c < uncertain_below),
                    uncertain_below=s.uncertain_below if uncertain_below is None else float(uncertain_below))
            for s, c in zip(segs, conf, strict=True)]
