"""Section data: the readiness rule, window features and the labelled-window dataset.

:func:`check_readiness` refuses to train on too few labelled *sections* (10 per class, 2
classes). :class:`WindowFeatures` turns a track's frame embeddings into one feature vector per
frame ("window"): the frame, mean-pooled context around it, the context relative to the
track's mean, and the position in the track. :func:`section_dataset` gives every labelled
track's windows (:class:`TrackFrames`) and the labelled ones stacked (:class:`SectionData`);
it and :func:`track_frames` live in :mod:`~workbench.train.sections.library_data` (they read a library).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from workbench.errors import ParameterError, WorkbenchError
from workbench.labels import LABELS


class NotReadyError(WorkbenchError, ValueError):
    """Too few labelled sections to train (the message says which classes lack how many)."""


# ------------------------------------------------------------------------------- readiness


def check_readiness(counts: Mapping[str, int], *, min_per_class: int = 10, min_classes: int = 2) -> None:
    """Refuse to train on too few labels.

    Parameters
    ----------
    counts : mapping of label → int
        Number of labelled *sections* per label (not windows).
    min_per_class : int
        Sections every labelled class needs.
    min_classes : int
        Classes that need labels.

    Raises
    ------
    NotReadyError
        ``"Need 2+ classes: have 1 (drop)"`` or ``"Need more labels: drop 3/10, intro 5/10
        (labelled sections per class): label more, or lower the rule ... min_per_class=3"``.
    """
    present = {k: int(v) for k, v in counts.items() if int(v) > 0}
    unknown = sorted(set(present) - set(LABELS))
    if unknown:
        raise ParameterError(f"counts must use the labels {LABELS}; got unknown {unknown}")
    if len(present) < min_classes:
        names = ", ".join(present) or "none"
        raise NotReadyError(f"Need {min_classes}+ classes: have {len(present)} ({names})")
    short = [k for k in LABELS if k in present and present[k] < min_per_class]
    if short:
        lower = min(present[k] for k in short)  # the rule every class here already meets
        raise NotReadyError(f"Need more labels: {', '.join(f'{k} {present[k]}/{min_per_class}' for k in short)} "
                            f"(labelled sections per class): label more, or lower the rule for an experiment "
                            f"(`workbench train sections --set min_per_class={lower}`, config min_per_class={lower})")


# -------------------------------------------------------------------------------- features


@dataclass(frozen=True)
class WindowFeatures:
    """How a track's frame embeddings become one feature vector per frame ("window").

    Parameters
    ----------
    context_s : tuple of float
        Half-widths in seconds of mean-pooled context around each frame (one block each).
    track_relative : bool
        Append each context block minus the track's mean frame (relative level: a drop is
        louder and denser than the rest of *its* track).
    position : bool
        Append the relative position in the track, ``t / duration`` and ``4 r (1 - r)``.
    extra : tuple of str
        Feature groups of :mod:`~workbench.train.sections.dj_features` appended in this order:
        ``"dj"`` (level, slope, low end, onsets, brightness and rise: needs ``features-v1``
        frames), ``"novelty"`` (change against the neighbouring seconds), ``"ends"`` (distance
        to the start and the end); not by default: ``"bars"``, ``"lead"`` and ``"repeat"`` (how the
        window's bar recurs elsewhere in the track: :mod:`~workbench.train.sections.repetition`).

    embedding : bool
        False leaves the backbone's frames and contexts out (only position and ``extra``: the
        DJ descriptors alone, which do not depend on how a generator or a mix sounds).
    track_norm : bool
        Standardise every column within the track (z-score over the track's windows), except
        the position and ``"ends"`` columns: a drop is loud and dense against *its own* track,
        whatever the generator's or the mix's level and timbre (issue 18: generator-robust).
    norm : {"z", "rank"}
        How ``track_norm`` standardises a column within the track: ``"z"`` (the default) its
        z-score; ``"rank"`` its within-track quantile mapped to a standard normal
        (``Φ⁻¹((rank − 0.5) / n)``, ties averaged), unchanged by any increasing per-track map of
        the column (gain, offset, compression): only the order of the track's windows counts.
        ``"rank"`` has no audio-in (Core ML) track model.
    context_bars : bool
        ``context_s`` counts bars, not seconds: each half-width is that many of the track's
        median bar (from ``downbeats_s``; 2 s without a grid), the same musical span at any tempo.

    The layout is ``[frame, context..., (context - track mean)..., position, extra...]``;
    :meth:`dim` gives its length for a backbone size, :meth:`group_names` names the groups.
    Training uses :data:`DEFAULT_FEATURES` (every extra group) unless told otherwise.
    """

    context_s: tuple[float, ...] = (4.0, 16.0)
    track_relative: bool = True
    position: bool = True
    extra: tuple[str, ...] = ()
    embedding: bool = True
    track_norm: bool = False
    context_bars: bool = False
    norm: str = "z"

    def __post_init__(self) -> None:
        from workbench.train.sections.dj_features import EXTRA_GROUPS

        if not isinstance(self.context_s, tuple) or any(not (isinstance(c, (int, float)) and c > 0) for c in self.context_s):
            raise ParameterError(f"context_s must be a tuple of seconds > 0; got {self.context_s!r}")
        if not isinstance(self.extra, tuple) or any(g not in EXTRA_GROUPS for g in self.extra) \
                or len(set(self.extra)) != len(self.extra):
            raise ParameterError(f"extra must be a tuple of distinct groups from {tuple(EXTRA_GROUPS)}; got {self.extra!r}")
        if self.norm not in ("z", "rank"):
            raise ParameterError(f"norm must be 'z' or 'rank'; got {self.norm!r}")
        if not (self.embedding or self.position or self.extra):
            raise ParameterError("a window layout needs the embedding, the position or an extra group; got none")

    def group_names(self) -> list[str]:
        """The feature groups of this layout, in order (what a run records as ``feature_groups``)."""
        unit = "bars" if self.context_bars else "s"
        names = (["embedding (frame)"] + [f"embedding context ±{c:g} {unit}" for c in self.context_s]
                 if self.embedding else [])
        if self.track_relative and self.embedding:
            names.append("embedding context − track mean")
        if self.position:
            names.append("position in track")
        return names + list(self.extra)

    def dim(self, base_dim: int) -> int:
        """Length of a window's feature vector.

        Parameters
        ----------
        base_dim : int > 0
            Size of the backbone's frame embedding.
        """
        from workbench.train.sections.dj_features import EXTRA_GROUPS

        n_ctx = len(self.context_s)
        return (base_dim * (1 + n_ctx + (n_ctx if self.track_relative else 0)) * int(self.embedding)
                + (2 if self.position else 0)
                + sum(EXTRA_GROUPS[g] for g in self.extra))

    def to_dict(self) -> dict[str, Any]:
        return {"context_s": list(self.context_s), "track_relative": self.track_relative, "position": self.position,
                "extra": list(self.extra), "embedding": self.embedding, "track_norm": self.track_norm,
                "context_bars": self.context_bars, "norm": self.norm}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WindowFeatures:
        """The layout :meth:`to_dict` wrote.

        Parameters
        ----------
        d : mapping
            ``{"context_s": [...], "track_relative": bool, "position": bool, "extra": [...]}``
            (a layout saved without ``extra`` has none).
        """
        return cls(tuple(float(c) for c in d["context_s"]), bool(d["track_relative"]), bool(d["position"]),
                   tuple(d.get("extra") or ()), bool(d.get("embedding", True)), bool(d.get("track_norm", False)),
                   bool(d.get("context_bars", False)), str(d.get("norm", "z")))

    def transform(self, frames: np.ndarray, times_s: np.ndarray, *, duration_s: float,
                  dj_frames: np.ndarray | None = None, downbeats_s: np.ndarray | None = None) -> np.ndarray:
        """Features of every frame; ``frames`` (n, d), ``times_s`` frame centres; returns (n, dim(d)) float32.

        Parameters
        ----------
        frames : np.ndarray [shape=(n, d)]
            Frame embeddings, n >= 1.
        times_s : np.ndarray [shape=(n,)]
            Frame centres in seconds.
        duration_s : float > 0
            Track length in seconds (for the position features).
        dj_frames : np.ndarray [shape=(n, 202)], optional
            ``features-v1`` frames at ``times_s`` for the ``"dj"`` group; default ``frames``
            when they are ``features-v1`` frames (202 columns). The ``"bars"`` group needs them too.
        downbeats_s : np.ndarray [shape=(m,)], optional
            The track's downbeats in seconds, for the ``"bars"`` group (none: 2-s pseudo-bars).

        Raises
        ------
        ParameterError
            ``frames`` not 2-d and non-empty, or ``times_s`` of another length; the ``"dj"``
            group without ``features-v1`` frames.
        """
        from workbench.train.sections import dj_features as dj

        f = np.asarray(frames, dtype=np.float64)
        t = np.asarray(times_s, dtype=np.float64)
        if f.ndim != 2 or f.shape[0] == 0 or t.shape != (f.shape[0],):
            raise ParameterError(f"frames must be (n >= 1, d) with one time each; got {f.shape} and {t.shape}")
        csum = np.vstack([np.zeros((1, f.shape[1])), np.cumsum(f, axis=0)])
        blocks = [f]
        contexts = []
        unit = 1.0
        if self.context_bars:
            db = np.asarray(downbeats_s if downbeats_s is not None else [], dtype=np.float64)
            unit = float(np.median(np.diff(db))) if db.size > 1 else 2.0
        for c in (c * unit for c in self.context_s):
            lo = np.searchsorted(t, t - c, side="left")
            hi = np.searchsorted(t, t + c, side="right")
            contexts.append((csum[hi] - csum[lo]) / (hi - lo)[:, None])
        blocks += contexts
        if self.track_relative:
            mean = f.mean(axis=0)
            blocks += [ctx - mean for ctx in contexts]
        if not self.embedding:
            blocks = []
        keep_raw = []  # position and distance to the ends: already relative to the track
        if self.position:
            r = np.clip(t / max(float(duration_s), 1e-9), 0.0, 1.0)[:, None]
            blocks += [r, 4 * r * (1 - r)]
            keep_raw += [True, True]
        keep_raw = [False] * (len(blocks) - len(keep_raw)) + keep_raw
        for g in self.extra:
            if g in ("dj", "bars"):
                src = dj_frames if dj_frames is not None else f
                if np.shape(src)[1] != dj.FEATURES_V1_DIM:
                    raise ParameterError(f"the {g!r} feature group needs features-v1 frames ({dj.FEATURES_V1_DIM} "
                                         f"columns); got {np.shape(src)[1]}: pass dj_frames or drop {g!r} from extra")
                blocks.append(dj.dj_block(src, t) if g == "dj" else
                              dj.bars_block(src, t, downbeats_s, duration_s=duration_s))
            elif g == "lead":
                src = dj_frames if dj_frames is not None else f
                if np.shape(src)[1] != dj.FEATURES_V1_DIM:
                    raise ParameterError(f"the 'lead' feature group needs features-v1 frames ({dj.FEATURES_V1_DIM} "
                                         f"columns); got {np.shape(src)[1]}: pass dj_frames or drop 'lead' from extra")
                blocks.append(dj.lead_block(src, t))
            elif g == "repeat":
                from workbench.train.sections.repetition import repeat_block

                src = dj_frames if dj_frames is not None else f
                if np.shape(src)[1] != dj.FEATURES_V1_DIM:
                    raise ParameterError(f"the 'repeat' feature group needs features-v1 frames ({dj.FEATURES_V1_DIM} "
                                         f"columns); got {np.shape(src)[1]}: pass dj_frames or drop 'repeat' from extra")
                blocks.append(repeat_block(src, t, downbeats_s, duration_s=duration_s))
            elif g == "novelty":
                blocks.append(dj.novelty_block(f, t))
            else:
                blocks.append(dj.ends_block(t, duration_s))
            keep_raw.append(g in RAW_GROUPS)
        out = np.hstack(blocks)
        if self.track_norm:
            raw = np.concatenate([np.full(b.shape[1], k) for b, k in zip(blocks, keep_raw, strict=True)])
            if self.norm == "rank":
                from scipy.special import ndtri
                from scipy.stats import rankdata

                z = ndtri((rankdata(out, axis=0, method="average") - 0.5) / out.shape[0])
            else:
                z = (out - out.mean(axis=0)) / np.maximum(out.std(axis=0), 1e-6)
            out = np.where(raw[None, :], out, z)
        return out.astype(np.float32)


#: Extra groups kept as they are under ``track_norm`` (already relative to the track or its ends).
RAW_GROUPS = frozenset({"ends", "lead", "repeat"})

#: The window layout section training uses by default: the embedding with context, position, the ``dj``,
#: ``novelty`` and ``ends`` groups, every column standardised within its track (issue 18: the leave-one-style-out
#: and cross-generator scores rose with it; ``context − track mean`` is then redundant and left out).
DEFAULT_FEATURES = WindowFeatures(extra=("dj", "novelty", "ends"), track_relative=False, track_norm=True)


# ---------------------------------------------------------------------------------- dataset


@dataclass
class TrackFrames:
    """One track's window features and grid. Times in seconds.

    ``features`` (n, dim) and ``times_s`` (n,) (window centres) cover the whole track;
    ``beats``/``downbeats`` its grid; ``sections`` its labelled spans ``[{start_s, end_s, label}]``;
    ``content_hash`` the audio's content hash (what ``metrics["held_out"]["track_hashes"]`` lists);
    ``frames`` (n, d) the backbone's frame embeddings the features were made from (None when not
    kept); ``group`` the track's crate (or folder) for leave-one-group-out scores ("" unknown);
    ``views`` window features of augmented audio views of the track, each (n, dim) and aligned with
    ``features`` (:func:`~workbench.train.sections.audio_views.add_audio_views`; training rows only).
    """

    track_id: int
    name: str
    duration_s: float
    features: np.ndarray
    times_s: np.ndarray
    beats: np.ndarray
    downbeats: np.ndarray
    sections: list[dict[str, Any]]
    content_hash: str = ""
    frames: np.ndarray | None = field(default=None, repr=False)
    group: str = ""
    rejected: list[dict[str, Any]] = field(default_factory=list)
    views: list[np.ndarray] = field(default_factory=list, repr=False)

    def window_labels(self) -> np.ndarray:
        """Label of each window ('' where no labelled span holds its centre, or a rejection of that label does)."""
        out = np.full(self.times_s.shape, "", dtype=object)
        for s in self.sections:
            out[(self.times_s >= s["start_s"]) & (self.times_s < s["end_s"])] = s["label"]
        for r in self.rejected:  # a rejected span's label is never a positive there
            out[(self.times_s >= r["start_s"]) & (self.times_s < r["end_s"]) & (out == r["label"])] = ""
        return out

    def segment_eval(self, predicted: Sequence[Any]) -> dict[str, float]:
        """:func:`~workbench.evaluate.segmentation.segment_eval` of ``predicted`` against :attr:`sections`.

        Both start the track when they start by its first beat (a label from beat 0, a suggestion from 0 s).

        Parameters
        ----------
        predicted : sequence of sections
            Dicts or objects with ``start_s``, ``end_s``, ``label`` (e.g. suggestions).
        """
        from workbench.evaluate.segmentation import segment_eval

        first = float(self.beats[0]) if len(self.beats) else None
        return segment_eval(self.sections, predicted, duration_s=self.duration_s, first_beat_s=first)

    def not_labels(self) -> np.ndarray:
        """Which labels were rejected at each window with no positive label, shape ``(n, len(LABELS))`` bool."""
        pos = self.window_labels()
        out = np.zeros((self.times_s.size, len(LABELS)), dtype=bool)
        for r in self.rejected:
            inside = (self.times_s >= r["start_s"]) & (self.times_s < r["end_s"]) & (pos == "")
            out[inside, LABELS.index(r["label"])] = True
        return out


@dataclass
class SectionData:
    """Labelled windows of a set of tracks, with each track kept whole for smoothing and timelines.

    ``X`` (n, dim) float32, ``y`` (n,) label strings, ``groups`` (n,) track ids and ``times_s``
    (n,) window centres hold only windows inside labelled spans (less those inside a rejected
    suggestion of the same label: :attr:`TrackFrames.rejected`). ``X_not`` (m, dim), ``y_not``
    (m,) and ``groups_not`` (m,) hold the windows inside rejected suggestions that have no
    positive label, one row per window and rejected label: "not ``y_not``" (the trainer's
    complementary-label loss).
    """

    tracks: list[TrackFrames]
    features: WindowFeatures
    backbone: str
    X: np.ndarray = field(init=False, repr=False)
    y: np.ndarray = field(init=False, repr=False)
    groups: np.ndarray = field(init=False, repr=False)
    times_s: np.ndarray = field(init=False, repr=False)
    #: ``(track id, reason)`` of labelled tracks left out because they could not be read or embedded.
    failed: list[tuple[int, str]] = field(init=False, repr=False, default_factory=list)
    #: Rejected suggestions on tracks with no labels (not used: such a track has no windows here).
    rejections_unused: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        xs, ys, gs, ts, xn, yn, gn = [], [], [], [], [], [], []
        for tr in self.tracks:
            lab = tr.window_labels()
            keep = lab != ""
            xs.append(tr.features[keep])
            ys.append(lab[keep].astype(str))
            gs.append(np.full(int(keep.sum()), tr.track_id, dtype=np.int64))
            ts.append(tr.times_s[keep])
            if tr.rejected:  # one row per window and rejected label
                rows, cols = np.nonzero(tr.not_labels())
                xn.append(tr.features[rows])
                yn.append(np.asarray(LABELS)[cols].astype(str))
                gn.append(np.full(rows.size, tr.track_id, dtype=np.int64))
        dim = self.tracks[0].features.shape[1] if self.tracks else 0
        self.X_not = np.vstack(xn) if xn else np.zeros((0, dim), dtype=np.float32)
        self.y_not = np.concatenate(yn) if yn else np.zeros(0, dtype=str)
        self.groups_not = np.concatenate(gn) if gn else np.zeros(0, dtype=np.int64)
        self.X = np.vstack(xs) if xs else np.zeros((0, dim), dtype=np.float32)
        self.y = np.concatenate(ys) if ys else np.zeros(0, dtype=str)
        self.groups = np.concatenate(gs) if gs else np.zeros(0, dtype=np.int64)
        self.times_s = np.concatenate(ts) if ts else np.zeros(0)

    def section_counts(self) -> dict[str, int]:
        """Labelled sections per label (what :func:`check_readiness` counts)."""
        counts = dict.fromkeys(LABELS, 0)
        for tr in self.tracks:
            for s in tr.sections:
                counts[s["label"]] += 1
        return counts

    def rejection_counts(self) -> dict[str, int]:
        """How the rejected suggestions entered the data (what a run records).

        Returns
        -------
        dict
            ``spans`` (rejections on these tracks), ``not_windows`` (windows trained as "not
            this label"), ``positives_dropped`` (labelled windows left out because a
            rejection of the same label covers them), ``unused`` (rejections on tracks
            without labels).
        """
        dropped = 0
        for tr in self.tracks:
            if tr.rejected:
                plain = replace(tr, rejected=[])
                dropped += int(((plain.window_labels() != "") & (tr.window_labels() == "")).sum())
        return {"spans": sum(len(t.rejected) for t in self.tracks), "not_windows": int(len(self.y_not)),
                "positives_dropped": dropped, "unused": int(self.rejections_unused)}

    def subset(self, track_ids: Iterable[int]) -> SectionData:
        """Only the tracks ``track_ids`` (same features and backbone).

        Parameters
        ----------
        track_ids : iterable of int
            Library track ids kept.
        """
        keep = set(int(i) for i in track_ids)
        return SectionData([t for t in self.tracks if t.track_id in keep], self.features, self.backbone)
