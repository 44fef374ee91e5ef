"""Label families: decode each track within one family of labels (EDM's build/drop, a song's verse/chorus).

A DJ's library names sections in more than one vocabulary: an EDM track is intro, build, drop,
break, outro; a hip-hop or pop track intro, verse, chorus, outro. A track mostly uses one. Across
generators a model names an EDM outro "chorus" or a song's chorus "drop": a naming error across
families, which no prior inside one grammar stops.

The rule (:func:`learn_families`), from the user's own labels only:

- two labels are **apart** when each is on ``min_tracks``+ labelled tracks and at most ``apart_at``
  (half) of the tracks with the rarer one also have the other (the overlap coefficient of their
  track sets: a label every track has, intro, is apart from none);
- a **family** is a largest set of labels no two of which are apart (so the labels every track
  uses, intro and outro, are in every family); labels on fewer tracks join every family;
- no two labels apart: one family, and nothing changes.

Each labelled track counts for the family holding all its labels; where ``min_tracks``+ tracks use
labels of two families (the demo's house tracks: verse, chorus, build and drop), they form one more
family, of every label (a form the user labelled is never ruled out); a lone such track counts for the
family holding most of its labels. A family's grammar (:func:`~workbench.train.sections.grammar.learn_grammar`:
order, duration, first/last/middle) is learned from its own tracks, and its prior is its share of
the tracks. :meth:`LabelFamilies.decode` runs the semi-Markov Viterbi once per family over that
family's labels, on the *same* evidence (the window model's log-probabilities, not renormalised
within a family, after the track-wide grammar's tie and position factors) and keeps the family whose
best path scores highest: evidence + weighted priors + ``weight · log P(family)``. Every family
scores the same bars, so the totals compare as they are (no length normalisation); each family's
priors are normalised over its own labels (a joint log-probability of labels and segmentation under
that family's grammar).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any

import numpy as np

from workbench.errors import ParameterError
from workbench.train.sections.grammar import Grammar, learn_grammar, track_sequences

#: Values of the ``label_families`` config key.
FAMILY_MODES: tuple[str, ...] = ("off", "learned")
#: Two labels are apart when at most this share of the tracks with the rarer one also have the other.
APART_AT = 0.5
#: A label is judged apart from another only when each is on at least this many labelled tracks.
MIN_TRACKS = 2


def check_families_config(cfg: Mapping[str, Any]) -> str:
    """The ``label_families`` value of a section config, checked.

    Parameters
    ----------
    cfg : mapping
        A section config (``label_families`` missing reads as ``"off"``).

    Returns
    -------
    str
        One of :data:`FAMILY_MODES`.

    Raises
    ------
    ParameterError
        Any other value.
    """
    mode = cfg.get("label_families", "off")
    if not isinstance(mode, str) or mode not in FAMILY_MODES:
        raise ParameterError(f"config label_families must be one of {list(FAMILY_MODES)}; got {mode!r}")
    return mode


def learn_families(label_sets: Sequence[Collection[str]], *, min_tracks: int = MIN_TRACKS,
                   apart_at: float = APART_AT) -> list[tuple[str, ...]]:
    """Families of labels from the labels each track uses (the rule in the module doc).

    Parameters
    ----------
    label_sets : sequence of collections of str
        The labels of each labelled track.
    min_tracks : int >= 1
        Tracks a label needs before it can be apart from another.
    apart_at : float in [0, 1)
        Overlap coefficient of two labels' track sets (tracks with both over tracks with the rarer)
        at or under which they are apart.

    Returns
    -------
    list of tuple of str
        Each family's labels (sorted by :data:`workbench.labels.LABELS` order), the family used by
        most tracks first; one family (every label) when no two labels are apart.

    Raises
    ------
    ParameterError
        ``min_tracks`` or ``apart_at`` out of range.
    """
    from workbench.labels import LABELS

    if isinstance(min_tracks, bool) or not isinstance(min_tracks, int) or min_tracks < 1:
        raise ParameterError(f"min_tracks must be an int >= 1; got {min_tracks!r}")
    if isinstance(apart_at, bool) or not isinstance(apart_at, (int, float)) or not 0 <= apart_at < 1:
        raise ParameterError(f"apart_at must be a float in [0, 1); got {apart_at!r}")
    sets = [frozenset(s) for s in label_sets if len(s)]
    order = {lab: i for i, lab in enumerate(LABELS)}
    labels = sorted({lab for s in sets for lab in s}, key=lambda lab: (order.get(lab, len(order)), lab))
    n = {lab: sum(lab in s for s in sets) for lab in labels}
    judged = [lab for lab in labels if n[lab] >= min_tracks]

    def apart(a: str, b: str) -> bool:
        """Whether at most ``apart_at`` of the tracks with the rarer of the two labels also have the other.

        Parameters
        ----------
        a, b : str
            Two labels, each on ``min_tracks``+ tracks.
        """
        both = sum(a in s and b in s for s in sets)
        return both / min(n[a], n[b]) <= apart_at

    pairs = {(a, b) for a, b in combinations(judged, 2) if apart(a, b)}
    if not pairs:
        return [tuple(labels)]
    cliques: list[frozenset[str]] = []  # largest sets with no pair apart (at most 2^7 subsets of the labels)
    for size in range(len(judged), 0, -1):
        for cand in combinations(judged, size):
            c = frozenset(cand)
            if any(c <= k for k in cliques) or any((a, b) in pairs for a, b in combinations(cand, 2)):
                continue
            cliques.append(c)
    rare = [lab for lab in labels if n[lab] < min_tracks]
    fams = [tuple(sorted(c | set(rare), key=lambda lab: (order.get(lab, len(order)), lab))) for c in cliques]
    share = assign_tracks(sets, fams).sum(axis=0)
    return [fams[i] for i in np.argsort(-share, kind="stable")]


def assign_tracks(label_sets: Sequence[Collection[str]], families: Sequence[Collection[str]]) -> np.ndarray:
    """Each track's weight in each family: the families holding all its labels share it (else those holding most).

    Parameters
    ----------
    label_sets : sequence of collections of str
        The labels of each track.
    families : sequence of collections of str
        Each family's labels.

    Returns
    -------
    np.ndarray [shape=(n_tracks, n_families)]
        Rows sum to 1 (0 for a track with no labels).
    """
    out = np.zeros((len(label_sets), len(families)))
    for i, s in enumerate(label_sets):
        if not len(s):
            continue
        held = np.array([len(set(s) & set(f)) for f in families], dtype=np.float64)
        best = held == held.max()
        out[i, best] = 1.0 / best.sum()
    return out


@dataclass(frozen=True)
class LabelFamilies:
    """Families of labels, each with its own grammar and prior; see the module doc.

    Attributes
    ----------
    labels : tuple of tuple of str
        Each family's labels (a subset of the model's classes).
    grammars : tuple of Grammar
        Each family's grammar over its labels (order, duration, first/last/middle priors).
    log_prior : np.ndarray [shape=(n_families,)]
        log P(family): its share of the labelled tracks (add-one).
    tracks : tuple of float
        Labelled tracks counted in each family (a track split between families counts a share).
    """

    labels: tuple[tuple[str, ...], ...]
    grammars: tuple[Grammar, ...]
    log_prior: np.ndarray
    tracks: tuple[float, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Each family's name: its labels, joined by ``/``."""
        return tuple("/".join(f) for f in self.labels)

    def decode(self, beat_probs: np.ndarray, starts: np.ndarray, classes: Sequence[str], *,
               boundary_bonus: np.ndarray | None = None, **smoothing: Any) -> tuple[list[Any], str, dict[str, float]]:
        """The best sections of one track in each family; the family whose best path scores highest wins.

        Parameters
        ----------
        beat_probs : np.ndarray [shape=(n_beats, len(classes))]
            Per-beat probabilities over the model's classes (after the track-wide tie and position factors).
        starts : np.ndarray [shape=(n_bars,)] of int
            Beat index of each bar start.
        classes : sequence of str
            The model's classes, in column order.
        boundary_bonus : np.ndarray [shape=(n_bars,)], optional
            Added to a boundary's score at each bar start (the novelty bonus).
        **smoothing
            ``min_bars``, ``switch_penalty``, ``evidence_weight`` (``phrase_bars`` and ``phrase_penalty``
            are ignored: each family's grammar has its own duration prior).

        Returns
        -------
        segments : list of BeatSegment
            The winning family's sections, labels as indices into ``classes``; confidence the label's
            mean probability over its beats.
        family : str
            The winning family's name.
        scores : dict of str to float
            Each family's best-path score (evidence + weighted priors + weighted family prior).
        """
        from workbench.train import smoothing as sm

        p = np.asarray(beat_probs, dtype=np.float64)
        opts = {"min_len": int(smoothing.get("min_bars", 4)), "switch_penalty": float(smoothing.get("switch_penalty", 2.0)),
                "evidence_weight": float(smoothing.get("evidence_weight", 1.0))}
        best: tuple[float, int, list[sm.Segment], list[int]] | None = None
        scores: dict[str, float] = {}
        for f, (labs, g) in enumerate(zip(self.labels, self.grammars, strict=True)):
            idx = [list(classes).index(lab) for lab in labs]
            evidence = sm.bar_evidence(p[:, idx], starts)
            prior = {**g.viterbi_options(), "boundary_bonus": boundary_bonus}
            segs = sm.segment_viterbi(evidence, **opts, **prior)
            total = path_score(evidence, segs, **opts, **prior) + g.weight * float(self.log_prior[f])
            scores[self.names[f]] = total
            if best is None or total > best[0]:
                best = (total, f, segs, idx)
        if best is None:
            raise ParameterError(f"label families must hold at least one family to decode with; got {len(self.labels)}")
        _, f, segs, idx = best
        edges = np.append(starts, p.shape[0])
        out = []
        for s in segs:
            a, b = int(edges[s.start]), int(edges[s.end])
            out.append(sm.BeatSegment(a, b, idx[s.label], float(p[a:b, idx[s.label]].mean())))
        return out, self.names[f], scores

    def summary(self) -> dict[str, Any]:
        """Plain figures for ``metrics.json``: each family's labels, tracks and prior."""
        return {name: {"labels": list(labs), "tracks": float(n), "prior": float(np.exp(lp))}
                for name, labs, n, lp in zip(self.names, self.labels, self.tracks, self.log_prior, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (JSON and ``torch.save`` with ``weights_only``)."""
        return {"labels": [list(f) for f in self.labels], "grammars": [g.to_dict() for g in self.grammars],
                "log_prior": self.log_prior.tolist(), "tracks": list(self.tracks)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LabelFamilies:
        """What :meth:`to_dict` wrote.

        Parameters
        ----------
        d : mapping
            :meth:`to_dict`'s keys.
        """
        return cls(tuple(tuple(f) for f in d["labels"]), tuple(Grammar.from_dict(g) for g in d["grammars"]),
                   np.asarray(d["log_prior"], dtype=np.float64), tuple(float(x) for x in d["tracks"]))


def path_score(evidence: np.ndarray, segments: Sequence[Any], *, min_len: int = 4, switch_penalty: float = 2.0,
               evidence_weight: float = 1.0, log_transitions: np.ndarray | None = None,
               log_init: np.ndarray | None = None, log_final: np.ndarray | None = None,
               log_middle: np.ndarray | None = None, length_logprior: Any = None,
               boundary_bonus: np.ndarray | None = None) -> float:
    """The score :func:`~workbench.train.smoothing.segment_viterbi` gives a segmentation (its best path's, for its own).

    Parameters
    ----------
    evidence : np.ndarray [shape=(n_units, K)]
        Log-evidence per unit (bar) and label.
    segments : sequence of Segment
        Contiguous, covering ``[0, n_units)``.
    min_len : int
        Unused (segment_viterbi's keyword, accepted so both take the same options).
    switch_penalty, evidence_weight, log_transitions, log_init, log_final, log_middle, length_logprior, boundary_bonus
        As in :func:`~workbench.train.smoothing.segment_viterbi`.

    Returns
    -------
    float
    """
    e = np.asarray(evidence, dtype=np.float64)
    n, k = e.shape
    total = 0.0
    for i, s in enumerate(segments):
        total += evidence_weight * float(e[s.start:s.end, s.label].sum())
        if length_logprior is not None:
            lp = np.asarray(length_logprior(np.array([s.end - s.start])), dtype=np.float64)
            total += float(lp[0] if lp.ndim == 1 else lp[0, s.label])
        if i == 0:
            total += 0.0 if log_init is None else float(log_init[s.label])
        else:
            total += (0.0 if log_transitions is None else float(log_transitions[segments[i - 1].label, s.label]))
            total += (0.0 if boundary_bonus is None else float(boundary_bonus[s.start])) - switch_penalty
            if s.end < n and log_middle is not None:
                total += float(log_middle[s.label])
    if segments and log_final is not None:
        total += float(log_final[segments[-1].label])
    return total


def with_families(grammar: Grammar | None, tracks: Sequence[Any], *, mode: str, alpha: float = 1.0,
                  duration_alpha: float | None = None, min_tracks: int = MIN_TRACKS,
                  apart_at: float = APART_AT, mixed: bool = True) -> Grammar | None:
    """``grammar`` with :class:`LabelFamilies` learned from ``tracks`` (``mode="learned"``, 2+ families), else as it is.

    Parameters
    ----------
    grammar : Grammar or None
        The track-wide grammar over the model's classes (None: no grammar, nothing to do).
    tracks : sequence of TrackFrames
        The labelled training tracks.
    mode : str
        ``"off"`` or ``"learned"`` (:data:`FAMILY_MODES`).
    alpha, duration_alpha : float
        The families' grammars' smoothing counts (:func:`learn_grammar`).
    min_tracks, apart_at
        :func:`learn_families`' rule.
    mixed : bool
        Where ``min_tracks``+ training tracks use labels of two families (the demo's house tracks: verse,
        chorus, build and drop), add a family of every label learned from those tracks alone.

    Returns
    -------
    Grammar or None
        Its ``families`` set where the labels form 2+ families.

    Raises
    ------
    ParameterError
        ``mode`` not in :data:`FAMILY_MODES`.
    """
    check_families_config({"label_families": mode})
    if grammar is None or mode == "off":
        return grammar
    classes = tuple(grammar.classes)
    seqs = track_sequences(tracks)
    sets = [{lab for lab in s[0] if lab in classes} for s in seqs]
    fams = [f for f in learn_families(sets, min_tracks=min_tracks, apart_at=apart_at)]
    fams = [tuple(c for c in classes if c in f) for f in fams]
    fams = [f for f in fams if len(f) >= 2]
    if len(fams) < 2:
        return grammar
    weights = assign_tracks(sets, fams)
    spans = np.array([bool(s) and not any(s <= set(f) for f in fams) for s in sets])
    if mixed and spans.sum() >= min_tracks:
        fams.append(classes)
        weights = np.hstack([np.where(spans[:, None], 0.0, weights), spans[:, None].astype(np.float64)])
    grammars = []  # the labels the parent grammar leaves out of its position factor (config position_free)
    free = list(grammar.position_free)
    for j, fam in enumerate(fams):
        mine = [s for s, w in zip(seqs, weights[:, j], strict=True) if w > 0]
        grammars.append(learn_grammar(mine, fam, alpha=alpha, duration_alpha=duration_alpha, weight=grammar.weight,
                                      phrase_penalty=grammar.phrase_penalty, position_weight=grammar.position_weight,
                                      tie_weight=grammar.tie_weight, order_weight=grammar.order_weight,
                                      position_free=free, ends_weight=grammar.ends_weight))
    n = weights.sum(axis=0)
    log_prior = np.log((n + 1.0) / (n.sum() + len(fams)))
    return replace(grammar, families=LabelFamilies(tuple(fams), tuple(grammars), log_prior, tuple(float(x) for x in n)))
