"""A section grammar learned from the user's labels, for the semi-Markov smoothing.

:func:`learn_grammar` reads the labelled tracks' section sequences and learns, with add-one
(Laplace) smoothing so nothing unseen is impossible:

- **order**: P(next label | previous label) (builds lead into drops, drops into breaks or the
  outro, ...), as :func:`workbench.train.smoothing.learn_transitions` does;
- **position**: P(a track opens with label k), P(it closes with k), and P(a section that is
  neither first nor last is k): an intro that was only ever labelled first costs a lot in the
  middle or at the end, an outro anywhere but last;
- **where in the track**: P(label | position), position the share of the track gone (ten bins),
  as a factor ``P(k | bin) / P(k)`` on each beat's probabilities (:meth:`Grammar.position_adjust`):
  a window in the last tenth of a track is rarely an intro, whatever it sounds like;
- **duration**: P(length in bars | label), a mixture over whole phrases (1, 2, 4, 8, 16, 32, 64
  bars) weighted by how often the user's sections of that label had each, with a penalty for
  lengths that are not whole 4-bar phrases.

:meth:`Grammar.viterbi_options` gives :func:`workbench.train.smoothing.segment_viterbi` its
priors, scaled by ``weight`` (the grammar's weight against one bar of evidence).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.errors import ParameterError

#: Phrase lengths (bars) of the duration model.
PHRASE_BINS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
#: Longest section (bars) the duration model normalises over.
MAX_BARS = 256
#: Position bins (tenths of the track) of the position factor.
POSITION_BINS = 10
#: Label pairs whose evidence a grammar may tie (:attr:`Grammar.tie_weight`): the same full arrangement, named
#: by what comes before it (a chorus after a verse, a drop after a build).
TIED_PAIRS: tuple[tuple[str, str], ...] = (("chorus", "drop"),)


@dataclass(frozen=True)
class Grammar:
    """Log-priors over ``classes`` (K labels); see the module doc.

    Attributes
    ----------
    classes : tuple of str
    log_transitions : np.ndarray [shape=(K, K)]
        log P(next | previous); the diagonal is ignored (a boundary changes label).
    log_init, log_final, log_middle : np.ndarray [shape=(K,)]
        log P(first section is k), log P(last is k), log P(a middle section is k).
    log_phrase : np.ndarray [shape=(K, len(PHRASE_BINS))]
        log P(phrase bin | label).
    phrase_penalty : float
        Log-cost of a length that is not a whole number of 4-bar phrases (lengths >= 4).
    weight : float
        Scale of every prior against the evidence.
    log_position : np.ndarray [shape=(K, POSITION_BINS)] or None
        ``log P(k | position bin) - log P(k)``; None: no position factor.
    position_weight : float
        Exponent of the position factor (apart from ``weight``: a strong position factor
        keeps intros at the start and outros at the end without merging sections, which a
        strong order and duration prior does).
    tie_weight : float in [0, 1]
        How far the evidence of each pair of :data:`TIED_PAIRS` is pulled to the pair's mean
        before smoothing (:meth:`tie_evidence`): 0 keeps it, 1 leaves the choice between a
        chorus and a drop to the order, position and duration priors. Across styles their sound
        does not tell them apart (a style's chorus sounds like another's drop), the section
        before them does.
    order_weight : float >= 0
        Scale of the order prior (``log_transitions``) apart from ``weight``: the order is
        learned from every labelled track together, so a form that few tracks have (a verse
        after the intro where most tracks have a build) pays for its rarity at every
        boundary; a lower order weight leaves more of that choice to the evidence while the
        position, first/last and duration priors keep their weight.
    families : LabelFamilies or None
        Families of labels, each decoded on its own (:mod:`~workbench.train.sections.families`,
        config ``label_families="learned"``; the model file keeps them apart from :meth:`to_dict`);
        None: one grammar over every class.
    position_free : tuple of str
        The labels left out of the position factor (config ``position_free``): their ``log_position``
        rows are 0 by choice, not because the label's position was learned to carry no information.
    ends_weight : float >= 0
        Scale of the first/last priors (``log_init``, ``log_final``) apart from ``weight``: which
        label opens and closes a track is the part of the user's forms that holds best on music made
        another way (session 15: 2.0 lifts the demo model on the devset at every seed, no other cell moved).
    outro_gate : float >= 0
        Weight of the "ends on an outro where the music thins out" gate (config ``outro_gate``): a
        last section called outro scores ``outro_gate`` times the level fall at its start
        (:func:`~workbench.train.sections.novelty.level_fall`, in track standard deviations, ±2):
        an outro that starts where the music thins out is pulled in, one that starts before louder
        bars is pushed out. 0: off (the default); needs a loudness measure (``features-v1``
        frames) and is not used with label families.
    repeat_relabel : float in [0, 1]
        Repetition in the decoder (config ``repeat_relabel``, session 18): above 0, decoded sections
        whose bars repeat each other (at least this share; :data:`~workbench.train.sections.repeat_decode.DECODER_TIE`)
        take the label of their group's first occurrence. 0: off (the default); needs ``features-v1`` frames.
    weak_boundary_penalty : float >= 0
        Log-score cost of a boundary at a bar where neither the model's probabilities nor the music's
        novelty change (config ``weak_boundary_penalty``, session 22;
        :func:`~workbench.train.sections.novelty.weak_boundaries`): such boundaries come from the
        priors alone, and across generators most were wrong. 0: off (the default).
    """

    classes: tuple[str, ...]
    log_transitions: np.ndarray
    log_init: np.ndarray
    log_final: np.ndarray
    log_middle: np.ndarray
    log_phrase: np.ndarray
    phrase_penalty: float = 1.0
    weight: float = 1.0
    log_position: np.ndarray | None = None
    position_weight: float = 1.0
    tie_weight: float = 0.0
    families: Any = None
    order_weight: float = 1.0
    position_free: tuple[str, ...] = ()
    ends_weight: float = 1.0
    outro_gate: float = 0.0
    repeat_relabel: float = 0.0
    weak_boundary_penalty: float = 0.0

    def final_bonus(self, bar_level: np.ndarray | None) -> np.ndarray | None:
        """The gate's score of a last section by its start bar and label, shape ``(n_bars, K)``; None when off.

        Parameters
        ----------
        bar_level : np.ndarray [shape=(n_bars,)] or None
            A loudness measure per bar (None: no measure, no gate).
        """
        if self.outro_gate <= 0 or bar_level is None or "outro" not in self.classes:
            return None
        from workbench.train.sections.novelty import level_fall

        out = np.zeros((len(bar_level), len(self.classes)))
        out[:, self.classes.index("outro")] = float(self.weight) * float(self.outro_gate) * level_fall(bar_level)
        return out

    def tie_evidence(self, probs: np.ndarray) -> np.ndarray:
        """Probabilities with each tied pair's columns pulled ``tie_weight`` of the way to their mean.

        Rows keep their sums; a pair with a label outside ``classes`` is left alone.

        Parameters
        ----------
        probs : np.ndarray [shape=(n, K)]
            Class probabilities in ``classes`` order.

        Returns
        -------
        np.ndarray [shape=(n, K)]
        """
        p = np.array(probs, dtype=np.float64, copy=True)
        if self.tie_weight <= 0:
            return p
        for a, b in TIED_PAIRS:
            if a in self.classes and b in self.classes:
                i, j = self.classes.index(a), self.classes.index(b)
                mean = (p[:, i] + p[:, j]) / 2
                p[:, i] += self.tie_weight * (mean - p[:, i])
                p[:, j] += self.tie_weight * (mean - p[:, j])
        return p

    def position_adjust(self, probs: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Probabilities times ``P(k | position) / P(k)`` (to the power ``position_weight``), rows renormalised.

        Parameters
        ----------
        probs : np.ndarray [shape=(n, K)]
            Class probabilities (e.g. per beat).
        positions : np.ndarray [shape=(n,)]
            Share of the track gone at each row, in [0, 1].

        Returns
        -------
        np.ndarray [shape=(n, K)]
        """
        p = np.asarray(probs, dtype=np.float64)
        if self.log_position is None:
            return p
        centres = (np.arange(POSITION_BINS) + 0.5) / POSITION_BINS  # linear between bin centres: no steps
        x = np.clip(np.asarray(positions, dtype=np.float64), 0.0, 1.0)
        logf = np.column_stack([np.interp(x, centres, row) for row in self.log_position])
        q = p * np.exp(self.position_weight * logf)
        return q / np.maximum(q.sum(axis=1, keepdims=True), 1e-12)

    def length_logprior(self, lengths: np.ndarray) -> np.ndarray:
        """log P(length | label) of each length in bars, shape ``(len(lengths), K)``.

        Parameters
        ----------
        lengths : np.ndarray [shape=(L,)] of int >= 1
            Section lengths in bars.
        """
        grid = np.arange(1, MAX_BARS + 1)
        table = _length_table(self.log_phrase, grid, self.phrase_penalty)  # (MAX_BARS, K)
        idx = np.clip(np.asarray(lengths, dtype=np.int64), 1, MAX_BARS) - 1
        return table[idx]

    def viterbi_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~workbench.train.smoothing.segment_viterbi` (weighted priors)."""
        w = float(self.weight)
        table = w * _length_table(self.log_phrase, np.arange(1, MAX_BARS + 1), self.phrase_penalty)

        def prior(lengths: np.ndarray) -> np.ndarray:
            """Weighted log-prior of each length (rows) and label (columns).

            Parameters
            ----------
            lengths : np.ndarray of int
                Section lengths in bars.
            """
            return table[np.clip(np.asarray(lengths, dtype=np.int64), 1, MAX_BARS) - 1]

        from workbench.train.smoothing import ends_order

        # an impossible order (-inf: the ignored diagonal, an intro after another section, anything after an outro)
        t = ends_order(self.classes, self.log_transitions)  # stays impossible
        order = np.where(np.isfinite(t), float(self.order_weight) * t, t)
        ends = w * float(self.ends_weight)
        return {"log_transitions": w * order, "log_init": ends * self.log_init,
                "log_final": ends * self.log_final, "log_middle": w * self.log_middle, "length_logprior": prior}

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (JSON and ``torch.save`` with ``weights_only``)."""
        return {"classes": list(self.classes), "log_transitions": self.log_transitions.tolist(),
                "log_init": self.log_init.tolist(), "log_final": self.log_final.tolist(),
                "log_middle": self.log_middle.tolist(), "log_phrase": self.log_phrase.tolist(),
                "phrase_penalty": float(self.phrase_penalty), "weight": float(self.weight),
                "log_position": None if self.log_position is None else self.log_position.tolist(),
                "position_weight": float(self.position_weight), "tie_weight": float(self.tie_weight),
                "order_weight": float(self.order_weight), "position_free": list(self.position_free),
                "ends_weight": float(self.ends_weight), "outro_gate": float(self.outro_gate),
                "repeat_relabel": float(self.repeat_relabel),
                "weak_boundary_penalty": float(self.weak_boundary_penalty)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Grammar:
        """What :meth:`to_dict` wrote.

        Parameters
        ----------
        d : mapping
            :meth:`to_dict`'s keys.
        """
        arr = {k: np.asarray(d[k], dtype=np.float64) for k in
               ("log_transitions", "log_init", "log_final", "log_middle", "log_phrase")}
        pos = d.get("log_position")
        return cls(tuple(d["classes"]), phrase_penalty=float(d["phrase_penalty"]), weight=float(d["weight"]),
                   log_position=None if pos is None else np.asarray(pos, dtype=np.float64),
                   position_weight=float(d.get("position_weight", 1.0)), tie_weight=float(d.get("tie_weight", 0.0)),
                   order_weight=float(d.get("order_weight", 1.0)), ends_weight=float(d.get("ends_weight", 1.0)),
                   outro_gate=float(d.get("outro_gate", 0.0)),
                   repeat_relabel=float(d.get("repeat_relabel", 0.0)),
                   weak_boundary_penalty=float(d.get("weak_boundary_penalty", 0.0)),
                   position_free=tuple(str(c) for c in d.get("position_free", ())), **arr)


def _length_table(log_phrase: np.ndarray, grid: np.ndarray, phrase_penalty: float) -> np.ndarray:
    """log P(L | k) for L in ``grid``: phrase mixture in log2 length, off-phrase penalty, normalised."""
    bins = np.log2(np.asarray(PHRASE_BINS, dtype=np.float64))
    lg = np.log2(grid.astype(np.float64))
    near = np.exp(-0.5 * ((lg[:, None] - bins[None, :]) / 0.25) ** 2)  # (L, B)
    p = near @ np.exp(log_phrase).T  # (L, K)
    off = (grid >= 4) & (grid % 4 != 0)
    p[off] *= np.exp(-float(phrase_penalty))
    p = np.maximum(p, 1e-12)
    return np.log(p / p.sum(axis=0, keepdims=True))


def position_free_labels(value: Any) -> list[str]:
    """The labels of config ``position_free`` (one label or a list of them), checked.

    Parameters
    ----------
    value : str or list of str
        Section labels (:data:`~workbench.labels.LABELS`).

    Raises
    ------
    ParameterError
        Not a label or a list of labels.
    """
    from workbench.labels import LABELS

    free = [value] if isinstance(value, str) else value
    if not isinstance(free, (list, tuple)) or any(lab not in LABELS for lab in free):
        raise ParameterError(f"position_free must list section labels among {list(LABELS)}; got {value!r}")
    return list(free)


def learn_grammar(tracks: Sequence[tuple[Sequence[str], Sequence[float]]], classes: Sequence[str], *,
                  alpha: float = 1.0, phrase_penalty: float = 1.0, weight: float = 1.0,
                  position_weight: float = 1.0, tie_weight: float = 0.0, duration_alpha: float | None = None,
                  order_weight: float = 1.0, position_free: Sequence[str] = (), ends_weight: float = 1.0,
                  outro_gate: float = 0.0, repeat_relabel: float = 0.0,
                  weak_boundary_penalty: float = 0.0) -> Grammar:
    """Learn order, position and duration priors from labelled tracks (add-``alpha`` smoothing).

    Parameters
    ----------
    tracks : sequence of (labels, lengths_bars) or (labels, lengths_bars, spans)
        Per track, its sections' labels in time order, their lengths in bars and, optionally,
        their ``(start, end)`` as shares of the track (for the position factor).
    classes : sequence of str
        The model's classes (the grammar's label order); other labels are skipped.
    alpha : float > 0
        Additive smoothing count.
    duration_alpha : float > 0, optional
        The duration prior's own count (None: ``alpha``): a small ``alpha`` makes an order the user
        never labelled (a build into a chorus) costly; the lengths of another library's sections
        differ more, so their prior may stay wider.
    phrase_penalty : float >= 0
        See :class:`Grammar`.
    weight, position_weight : float > 0
        See :class:`Grammar`.
    tie_weight : float in [0, 1]
        See :class:`Grammar`.
    order_weight, ends_weight, outro_gate, weak_boundary_penalty : float >= 0
        See :class:`Grammar`.
    repeat_relabel : float in [0, 1]
        See :class:`Grammar`.
    position_free : sequence of str
        Labels (of :data:`~workbench.labels.LABELS`) left out of the position factor (their rows
        of ``log_position`` 0): a build sits wherever the section before a drop does, so where
        in the track the user's builds were says little about another form's.

    Returns
    -------
    Grammar

    Raises
    ------
    ParameterError
        ``alpha`` or ``weight`` not > 0, ``phrase_penalty`` < 0, fewer than 2 classes, or a
        ``position_free`` entry that is not a section label.
    """
    from workbench.train.smoothing import learn_transitions

    if not alpha > 0 or not weight > 0 or not phrase_penalty >= 0:
        raise ParameterError(f"alpha and weight must be > 0 and phrase_penalty >= 0; got alpha={alpha!r}, "
                             f"weight={weight!r}, phrase_penalty={phrase_penalty!r}")
    if duration_alpha is not None and not duration_alpha > 0:
        raise ParameterError(f"duration_alpha must be None or > 0; got {duration_alpha!r}")
    if isinstance(tie_weight, bool) or not isinstance(tie_weight, (int, float)) or not 0 <= tie_weight <= 1:
        raise ParameterError(f"tie_weight must be a float in [0, 1]; got {tie_weight!r}")
    if isinstance(order_weight, bool) or not isinstance(order_weight, (int, float)) or not order_weight >= 0:
        raise ParameterError(f"order_weight must be a float >= 0; got {order_weight!r}")
    if isinstance(repeat_relabel, bool) or not isinstance(repeat_relabel, (int, float)) or not 0 <= repeat_relabel <= 1:
        raise ParameterError(f"repeat_relabel must be a float in [0, 1]; got {repeat_relabel!r}")
    for name, value in (("ends_weight", ends_weight), ("outro_gate", outro_gate),
                        ("weak_boundary_penalty", weak_boundary_penalty)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ParameterError(f"{name} must be a float >= 0; got {value!r}")
    free = position_free_labels(position_free)
    classes = tuple(classes)
    if len(classes) < 2:
        raise ParameterError(f"classes must hold 2+ labels; got {list(classes)}")
    index = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    d_alpha = float(alpha if duration_alpha is None else duration_alpha)
    seqs, middle, phrase = [], np.full(k, float(alpha)), np.full((k, len(PHRASE_BINS)), d_alpha)
    bins = np.log2(np.asarray(PHRASE_BINS, dtype=np.float64))
    where = np.full((k, POSITION_BINS), float(alpha))
    grid = (np.arange(POSITION_BINS * 8) + 0.5) / (POSITION_BINS * 8)  # 80 points, 8 per bin
    for track in tracks:
        labels, lengths = track[0], track[1]
        for lab, (a, b) in zip(labels, track[2] if len(track) > 2 else [], strict=False):
            if lab in index:
                inside = (grid >= a) & (grid < b)
                np.add.at(where[index[lab]], (grid[inside] * POSITION_BINS).astype(int), 1.0 / 8)
        pairs = [(index[a], float(b)) for a, b in zip(labels, lengths, strict=True) if a in index]
        merged: list[list[float]] = []
        for lab, n in pairs:  # repeats of one label merge into one section
            if merged and merged[-1][0] == lab:
                merged[-1][1] += n
            else:
                merged.append([lab, n])
        if not merged:
            continue
        seqs.append([int(m[0]) for m in merged])
        for j, (lab, n) in enumerate(merged):
            if 0 < j < len(merged) - 1:
                middle[int(lab)] += 1
            phrase[int(lab), int(np.argmin(np.abs(bins - np.log2(max(n, 1.0)))))] += 1
    log_t, log_i, log_f = learn_transitions(seqs, k, alpha=alpha)
    # P(label | middle position) per label, relative to how often the label occurs at all
    totals = np.full(k, 3 * float(alpha))
    for s in seqs:
        for lab in s:
            totals[lab] += 1
    log_m = np.log(middle / totals)
    log_m -= log_m.max()  # the label most at home in the middle costs nothing there
    log_pos = None
    if any(len(t) > 2 for t in tracks):
        p_k_bin = where / where.sum(axis=0, keepdims=True)  # P(k | bin)
        p_k = where.sum(axis=1) / where.sum()
        log_pos = np.log(p_k_bin) - np.log(p_k)[:, None]
        log_pos[[index[lab] for lab in free if lab in index]] = 0.0
    return Grammar(classes, log_t, log_i, log_f, log_m, np.log(phrase / phrase.sum(axis=1, keepdims=True)),
                   phrase_penalty=float(phrase_penalty), weight=float(weight), log_position=log_pos,
                   position_weight=float(position_weight), tie_weight=float(tie_weight),
                   order_weight=float(order_weight), position_free=tuple(c for c in free if c in index),
                   ends_weight=float(ends_weight), outro_gate=float(outro_gate), repeat_relabel=float(repeat_relabel),
                   weak_boundary_penalty=float(weak_boundary_penalty))


def track_sequences(tracks: Sequence[Any]) -> list[tuple[list[str], list[float]]]:
    """Labels and lengths in bars of each :class:`~workbench.train.sections.TrackFrames`' sections.

    Parameters
    ----------
    tracks : sequence of TrackFrames
        Labelled tracks (their beats give the bar length: four median beat intervals).

    Returns
    -------
    list of (labels, lengths_bars, spans)
        ``spans``: each section's ``(start, end)`` as shares of the track.
    """
    out = []
    for t in tracks:
        beats = np.asarray(t.beats, dtype=np.float64)
        bar_s = 4 * float(np.median(np.diff(beats))) if beats.size > 1 else 2.0
        secs = sorted(t.sections, key=lambda s: s["start_s"])
        dur = max(float(t.duration_s), 1e-9)
        out.append(([s["label"] for s in secs], [max(1.0, round((s["end_s"] - s["start_s"]) / bar_s)) for s in secs],
                    [(s["start_s"] / dur, s["end_s"] / dur) for s in secs]))
    return out
