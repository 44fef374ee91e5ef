"""Whole-track similarity from window sets: a vibe that survives excerpts, and tracks with no beat.

Each track is a small set of unit window vectors (with weights: how many of the track's windows
each stands for). The *vibe* of a candidate for a query is set-to-set:

``cover(q, c) = sum_i w_i * max_j cos(q_i, c_j) / sum_i w_i``, clipped to [0, 1]

-- how well the candidate's windows cover each of the query's. Audio given as a query (a file, a
:class:`SetQuery`) asks which tracks cover it: ``vibe = cover(q, c)``, so an excerpt of a track is
matched by that track almost perfectly (each of its windows is near one of the track's), where
one mean vector of the whole track would drift away from the excerpt's mean. A library track
asked about is compared whole against whole: ``vibe = (cover(q, c) + cover(c, q)) / 2``
(symmetric; a track that merely contains a sound like each of the query's is not enough).
In an experiment on the feature frontend's windows (vibe alone), the symmetric score found the
folder better on 19 real tracks (precision@3 0.56 vs 0.40 one-sided), and the one-sided one
found the own track of every 30-s excerpt of the demo's held-out tracks (12 of 12; symmetric 9).

The raw score is then calibrated on the library (:meth:`TrackSetIndex.calibrate`): ``vibe =
(raw - baseline) / (1 - baseline)``, clipped, with ``baseline`` the median raw score of two
different tracks, so 0 % is "no more alike than a typical pair" and the vibe term, not the
others, separates the tracks.

A track with no steady beat has no tempo (drums only: no key). By default (``unknown="drop"``,
:data:`~.sets_terms.UNKNOWN_TERMS`) an unknown term is left out of the weighted mean (not scored 0)
and the explanation says ``tempo unknown``; so a track with neither tempo nor key competes on vibe and
energy alone and can outrank one of equal vibe that had to match on tempo and key too. With
``unknown="expected"`` (an option: session 22's rule, docs/experiments/search.md) the term counts as
what the query's tempo (key) agrees with on average over the indexed tracks where it is known, and
the explanation says what it counted as. Where the query's own is unknown no track's can be compared:
the term is left out of every weighted mean alike, either way. Scoring is exact: brute force over
every window (numpy), or ``method="pruned"`` (:mod:`workbench.similarity.sets_search`: the same
result from cone bounds); a library of ``n`` tracks costs ``n x max_windows x d`` floats of memory.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ParameterError, TrackNotFoundError
from workbench.similarity._inputs import check_k, check_min_score, is_track_id
from workbench.similarity.query import Match
from workbench.similarity.scores import Weights, WeightsLike
from workbench.similarity.scoring import top_k_order
from workbench.similarity.sets_search import (
    DEFAULT_CONES,
    METHODS,
    PrunedStats,
    SetBounds,
    _ip_margin,
    gather,
    pruned_rows,
    raw_vibe,
    set_terms,
)
from workbench.similarity.sets_store import load_sets, read_manifest, save_sets
from workbench.similarity.sets_terms import UNKNOWN, SetPairTerms
from workbench.similarity.sets_types import Resolved, SetQuery, explain_matches, key_code, window_set

__all__ = ["SetQuery", "TrackSetIndex"]


class TrackSetIndex(SetPairTerms):
    """Explained similarity search over tracks held as window sets (see the module docstring).

    Parameters
    ----------
    dim : int >= 1
        Length of a window vector.
    """

    def __init__(self, dim: int) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ParameterError(f"dim must be an integer >= 1; got {dim!r}")
        self._dim = dim
        self._ids = np.zeros(0, np.int64)
        self._offsets = np.zeros(1, np.int64)
        self._windows = np.zeros((0, dim), np.float32)
        self._wweights = np.zeros(0, np.float32)
        self.baseline = 0.0  # the raw set score of a typical pair of tracks (see calibrate)
        self._bpm = np.zeros(0, np.float64)
        self._key = np.zeros(0, np.int8)
        self._energy = np.zeros(0, np.int8)
        self._rough = np.zeros(0, bool)  # tempo rough (live, rubato): its BPM deltas are said "Δ~"
        self._bounds: SetBounds | None = None  # cones for method="pruned" (built on first use)
        self._lowp: Any = None  # the windows in bfloat16 for method="pruned" (sets_lowp; built on first use)
        self.last_search: PrunedStats | None = None  # how the last pruned search went
        self.aggregation = "chamfer"  # how window pairs add up to a set score (sets_aggregation; set_aggregation)

    # -- properties ------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._ids.shape[0])

    def __contains__(self, track_id: object) -> bool:
        return is_track_id(track_id) and bool((self._ids == int(track_id)).any())  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"TrackSetIndex({len(self)} tracks, {self._windows.shape[0]} windows, dim={self._dim})"

    @property
    def dim(self) -> int:
        """Window vector length ``d``."""
        return self._dim

    @property
    def ids(self) -> np.ndarray:
        """Track ids, shape (n,), int64 (a copy)."""
        return self._ids.copy()

    @property
    def exact(self) -> bool:
        """Always True: every window of every track is scored."""
        return True

    def windows_of(self, track_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(unit window vectors (m, d), their weights (m,)) of an indexed track.

        Parameters
        ----------
        track_id : int
            A track in the index.
        """
        row = self._row(track_id)
        a, b = self._offsets[row], self._offsets[row + 1]
        return self._windows[a:b].copy(), self._wweights[a:b].copy()

    def _row(self, track_id: int) -> int:
        hit = np.flatnonzero(self._ids == int(track_id))
        if hit.size == 0:
            raise TrackNotFoundError(f"track id {int(track_id)} is not in the similarity index")
        return int(hit[0])

    # -- mutation --------------------------------------------------------------------------
    def add(self, track_id: int, windows: np.ndarray, *, bpm: float | None, camelot: str | None, energy: int,
            weights: np.ndarray | None = None, tempo_rough: bool = False) -> None:
        """Add one track.

        Parameters
        ----------
        track_id : int
            Not in the index yet.
        windows : np.ndarray [shape=(m >= 1, dim)]
            Its window vectors (L2-normalised here).
        bpm : float > 0 or None
            Tempo; None for a track with no steady beat.
        camelot : str or None
            Camelot key code; None for a track with no key (drums only), stored as -1.
        energy : int in 1..10
            Energy level.
        weights : np.ndarray [shape=(m,)] or None
            Weight of each window; None: equal.
        tempo_rough : bool
            Its tempo is rough (``Analysis.tempo_rough``): explanations mark BPM deltas to it ``Δ~``.

        Raises
        ------
        ParameterError
            The id is indexed already, or a value is out of range.
        """
        if not is_track_id(track_id):
            raise ParameterError(f"track_id must be an integer; got {track_id!r}")
        if int(track_id) in self:
            raise ParameterError(f"track_id must not already be in the index; id {int(track_id)} is")
        w, ww = window_set(self._dim, windows, weights, f"track {int(track_id)}'s windows")
        if bpm is not None and not (isinstance(bpm, (int, float)) and math.isfinite(bpm) and bpm > 0):
            raise ParameterError(f"bpm must be a number > 0 or None; got {bpm!r}")
        if isinstance(energy, bool) or not isinstance(energy, (int, np.integer)) or not 1 <= int(energy) <= 10:
            raise ParameterError(f"energy must be an integer in 1..10; got {energy!r}")
        key = key_code(camelot)
        self._bounds = None
        self._ids = np.append(self._ids, np.int64(track_id))
        self._windows = np.vstack([self._windows, w])
        self._wweights = np.concatenate([self._wweights, ww])
        self._offsets = np.append(self._offsets, self._windows.shape[0])
        self._bpm = np.append(self._bpm, np.nan if bpm is None else float(bpm))
        self._key = np.append(self._key, np.int8(key))
        self._energy = np.append(self._energy, np.int8(energy))
        self._rough = np.append(self._rough, bool(tempo_rough))

    def remove(self, ids: list[int]) -> None:
        """Remove tracks by id (all or none).

        Parameters
        ----------
        ids : list of int
            Tracks in the index.

        Raises
        ------
        TrackNotFoundError
            An id is not in the index.
        """
        rows = [self._row(i) for i in ids]
        self._bounds = None
        keep = np.ones(len(self), dtype=bool)
        keep[rows] = False
        lengths = np.diff(self._offsets)
        wkeep = np.repeat(keep, lengths)
        self._ids, self._bpm, self._key, self._energy, self._rough = (
            a[keep] for a in (self._ids, self._bpm, self._key, self._energy, self._rough))
        self._windows, self._wweights = self._windows[wkeep], self._wweights[wkeep]
        self._offsets = np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64)

    # -- search ----------------------------------------------------------------------------
    def vibe(self, q: np.ndarray, qw: np.ndarray, *, symmetric: bool = False, rows: np.ndarray | None = None,
             stable: bool = False) -> np.ndarray:
        """Set-to-set vibe of every track (or of the tracks at ``rows``) for unit query windows ``q`` with weights ``qw``.

        Parameters
        ----------
        q : np.ndarray [shape=(m, dim)]
            Unit query windows.
        qw : np.ndarray [shape=(m,)]
            Their weights.
        symmetric : bool
            ``(cover(q, c) + cover(c, q)) / 2`` instead of ``cover(q, c)`` (module docstring).
        rows : np.ndarray [shape=(r,), dtype=int] or None
            Only these tracks (the numbers of scoring all of them, to float32 rounding); None: all.
        stable : bool
            Chamfer's products in float64 in a fixed order (``raw_vibe(stable=True)``, slower): the
            numbers :meth:`similar` reports, the same bits whichever rows; other rules ignore it.

        Returns
        -------
        np.ndarray [shape=(len(self),) or (r,), dtype=float64]
            In [0, 1].
        """
        return self._calibrated(self._raw(q, qw, symmetric=symmetric, rows=rows, stable=stable))

    def set_aggregation(self, aggregation: str) -> float:
        """Score window sets by another rule (:mod:`~workbench.similarity.sets_aggregation`), recalibrate, and return
        the new :attr:`baseline` (the rule is not saved with the index: a loaded index scores by chamfer).

        Parameters
        ----------
        aggregation : {"chamfer", "mean", "topk", "softmax"}
            The rule; every rule but chamfer is searched exactly (``method="pruned"`` scans too).
        """
        from workbench.similarity.sets_aggregation import check_aggregation

        self.aggregation = check_aggregation(aggregation)
        return self.calibrate()

    def _raw(self, q: np.ndarray, qw: np.ndarray, *, symmetric: bool, rows: np.ndarray | None = None,
             stable: bool = False) -> np.ndarray:
        from workbench.similarity.sets_aggregation import raw_scores

        if rows is None:
            if len(self) == 0:
                return np.zeros(0)
            windows, wweights, offsets = self._windows, self._wweights, self._offsets
        elif rows.shape[0] == 0:
            return np.zeros(0)
        else:
            windows, wweights, offsets = gather(self._windows, self._wweights, self._offsets, rows)
        if self.aggregation == "chamfer":
            return raw_vibe(q, qw, windows, wweights, offsets, symmetric=symmetric, stable=stable)
        return raw_scores(q, qw, windows, wweights, offsets, symmetric=symmetric, aggregation=self.aggregation)

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        return np.clip((raw - self.baseline) / (1.0 - self.baseline), 0.0, 1.0)

    def bounds(self, *, cones: int | None = None) -> SetBounds:
        """The cone bounds of ``method="pruned"`` (built now when missing or stale; see :mod:`.sets_search`).

        Parameters
        ----------
        cones : int >= 1 or None
            Cones per track; None: those of the bounds in use, else :data:`~.sets_search.DEFAULT_CONES`.
        """
        b = self._bounds
        fresh = b is not None and b.matches(self._ids, self._windows.shape[0])
        if not fresh or (cones is not None and b.cones != cones):  # type: ignore[union-attr]
            b = SetBounds.build(self._ids, self._windows, self._wweights, self._offsets,
                                cones=DEFAULT_CONES if cones is None else cones)
            self._bounds = b
        return b  # type: ignore[return-value]

    def low_precision_bounds(self) -> Any:
        """The bfloat16 first pass of ``method="pruned"`` (:mod:`.sets_lowp`), or None where it cannot be trusted."""
        from workbench.similarity.sets_lowp import LowPrecisionBounds

        lp = self._lowp
        if lp is None or lp is False or not lp.matches(self._ids, self._windows.shape[0]):
            lp = LowPrecisionBounds.build(self._ids, self._windows, self._wweights, self._offsets)
            self._lowp = lp if lp is not None else False
        return lp or None

    def use_bounds(self, bounds: SetBounds) -> bool:
        """Adopt bounds built earlier (e.g. loaded from disk) when they fit this index; say whether they did.

        Parameters
        ----------
        bounds : SetBounds
            Bounds to use.
        """
        if bounds.matches(self._ids, self._windows.shape[0]):
            self._bounds = bounds
            return True
        return False

    def calibrate(self, *, max_queries: int = 200, seed: int = 0) -> float:
        """Set :attr:`baseline` to the median raw (symmetric) score of two different tracks, and return it.

        Vibe is then ``(raw - baseline) / (1 - baseline)``, clipped to [0, 1]: 0 % means no more alike
        than a typical pair of this library's tracks, 100 % the same sound. Without it a set score
        is high for every pair (every track has some window like some window of another), the
        vibe term barely separates tracks and tempo, key and energy decide the ranking.

        Parameters
        ----------
        max_queries : int >= 1
            Tracks asked (a seeded sample when there are more).
        seed : int
            Seeds the sample.
        """
        self.baseline = 0.0
        n = len(self)
        if n < 2:
            return 0.0
        rows = np.arange(n)
        if n > max_queries:
            rows = np.sort(np.random.default_rng(seed).choice(n, size=max_queries, replace=False))
        raw = []
        for row in rows.tolist():
            q, qw = self.windows_of(int(self._ids[row]))
            v = self.vibe(q, qw, symmetric=True)
            raw.append(np.delete(v, row))
        self.baseline = float(min(0.99, max(0.0, np.median(np.concatenate(raw)))))
        return self.baseline

    def _resolve(self, query: Any) -> Resolved:
        if is_track_id(query):
            row = self._row(int(query))
            q, qw = self.windows_of(int(query))
            bpm = None if math.isnan(self._bpm[row]) else float(self._bpm[row])
            return Resolved(q, qw, bpm, int(self._key[row]), int(self._energy[row]), row, symmetric=True,
                            tempo_rough=bool(self._rough[row]))
        if isinstance(query, SetQuery):
            q, qw = window_set(self._dim, query.windows, query.weights, "query windows")
            key = key_code(query.camelot)
            rows = None
            if query.bpm_by_id:
                by_id = {int(i): (np.nan if b is None else float(b)) for i, b in query.bpm_by_id.items()}
                base = np.nan if query.bpm is None else float(query.bpm)
                rows = np.array([by_id.get(int(i), base) for i in self._ids], dtype=np.float64)
            return Resolved(q, qw, query.bpm, key, int(query.energy), None, symmetric=bool(query.symmetric),
                            tempo_rough=bool(query.tempo_rough), bpm_rows=rows)
        if isinstance(query, np.ndarray):
            q, qw = window_set(self._dim, query, None, "query vector")
            return Resolved(q, qw, None, None, None, None)
        raise ParameterError(f"query must be a track id (int), a SetQuery or a vector of length {self._dim}; "
                             f"got {type(query).__name__}")

    def similar(self, query: Any, *, k: int = 10, min_score: float | None = None, weights: WeightsLike = None,
                exclude_self: bool = True, method: str = "exact", unknown: str = UNKNOWN) -> list[Match]:
        """The ``k`` tracks with the best combined score, best first (score desc, then id asc), explained.

        Parameters
        ----------
        query : int, SetQuery or np.ndarray [shape=(dim,) or (m, dim)]
            A track id in the index (scored whole against whole), audio outside it (which tracks
            cover it), or raw window vectors (vibe only).
        k : int >= 1
            How many matches at most.
        min_score : float in [0, 1] or None
            Leave out matches scoring below it.
        weights : Weights, mapping or None
            Term weights; None: the defaults. The tempo term is left out wherever a tempo is unknown.
        exclude_self : bool
            Leave a track id query's own track out.
        method : {"exact", "pruned"}
            ``"exact"`` scores every window; ``"pruned"`` returns the same from cone bounds and the
            tracks they cannot rule out (:mod:`workbench.similarity.sets_search`).
        unknown : {"expected", "drop"}
            What a track's unknown tempo or key counts as (:data:`~.sets_terms.UNKNOWN_TERMS`).

        Raises
        ------
        TrackNotFoundError
            ``query`` is an id not in the index.
        ParameterError
            Bad ``k``, ``min_score``, ``weights``, ``method`` or query.
        """
        k = check_k(k)
        min_score = check_min_score(min_score)
        if method not in METHODS:
            raise ParameterError(f"method must be one of {METHODS}; got {method!r}")
        w = Weights() if weights is None else Weights.coerce(weights)
        r = self._with_fill(self._resolve(query), unknown)
        if r.key is None and w.vibe == 0:
            raise ParameterError("weights['vibe'] must be > 0 for a query by raw vector (only its vibe is known); got 0.0")
        excluded = r.self_row if exclude_self else None
        n = len(self)
        tol = 2 * _ip_margin(self.dim) / max(1e-12, 1.0 - self.baseline)  # BLAS vs stable order, score units
        if method == "pruned" and n > 0 and self.aggregation == "chamfer":  # the cone bounds bound chamfer only
            bounds, lowp = self.bounds(), self.low_precision_bounds()
            cones_first = lowp is None or not bounds.loose  # wide cones bound nothing: the bf16 pass alone
            rows, raw, self.last_search = pruned_rows(
                bounds, n=n, k=k, raw_upper=(bounds if cones_first else lowp).vibe_upper(r.q, r.qw, symmetric=r.symmetric),
                combined=lambda rows_, raw_: self._terms(r, w, rows_, self._calibrated(raw_))["score"],
                exact=lambda rows_: self._raw(r.q, r.qw, symmetric=r.symmetric, rows=rows_),
                excluded=excluded, min_score=min_score,
                refine=(lambda: lowp.vibe_upper(r.q, r.qw, symmetric=r.symmetric)) if lowp and cones_first else None,
                slack=tol)
        else:
            rows, raw = np.arange(n, dtype=np.int64), self._raw(r.q, r.qw, symmetric=r.symmetric)
        if self.aggregation == "chamfer" and rows.shape[0]:
            rows, raw = self._settle(r, w, rows, raw, k=k, tol=tol, excluded=excluded, min_score=min_score)
        vibe = self._calibrated(raw)
        t = self._terms(r, w, rows, vibe)
        score = t["score"]
        if excluded is not None:
            score[rows == excluded] = -math.inf
        order = top_k_order(score, self._ids[rows], k)
        return explain_matches(r, t, vibe, score, order, rows=rows, ids=self._ids, bpm=self._bpm, key=self._key,
                               rough=self._rough, min_score=min_score)

    def _settle(self, r: Resolved, w: Weights, rows: np.ndarray, raw: np.ndarray, *, k: int, tol: float,
                excluded: int | None, min_score: float | None) -> tuple[np.ndarray, np.ndarray]:
        """The rows that can be in the top ``k``, their raw vibe rescored in a fixed order (``stable=True``).

        BLAS products round differently by where a window sits in the matrix (OpenBLAS on AVX2), so the
        scan and a pruned search's gathered tracks can differ in the last bits; scores within ``tol``
        (their largest difference, score units) of the k-th best are rescored the same way by both.
        """
        score = np.asarray(self._terms(r, w, rows, self._calibrated(raw))["score"], np.float64)
        if excluded is not None:
            score[rows == excluded] = -math.inf
        kth = float(np.partition(score, score.shape[0] - k)[score.shape[0] - k]) if score.shape[0] >= k else -math.inf
        keep = (score >= kth - 2 * tol) & (score > -math.inf)
        if min_score is not None:
            keep &= score >= min_score - tol
        return rows[keep], self._raw(r.q, r.qw, symmetric=r.symmetric, rows=rows[keep], stable=True)

    def _terms(self, r: Resolved, w: Weights, rows: np.ndarray, vibe: np.ndarray) -> dict[str, np.ndarray]:
        """Combined score and its terms of the tracks at ``rows`` given their (calibrated) ``vibe``."""
        known = r.key is not None
        bpm_q = r.bpm if r.bpm_rows is None else r.bpm_rows[rows]
        return set_terms(self._bpm[rows], self._key[rows], self._energy[rows], vibe, w, bpm_q=bpm_q,
                         key_q=r.key if known else None, energy_q=r.energy, tempo_fill=r.tempo_fill,
                         key_fill=r.key_fill)

    # -- persistence (workbench.similarity.sets_store) ----------------------------------------
    def save(self, folder: str | os.PathLike[str], *, info: dict[str, Any] | None = None) -> Path:
        """Write ``track-sets.npz`` and then its manifest ``track-sets.json`` (atomically) in ``folder``.

        Parameters
        ----------
        folder : str or os.PathLike
            Created if needed.
        info : dict or None
            Extra JSON stored in the manifest (the model, track signatures).
        """
        return save_sets(self, folder, info=info)

    @staticmethod
    def manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
        """The manifest :meth:`save` wrote in ``folder``, or None when there is none (or it is unreadable).

        Parameters
        ----------
        folder : str or os.PathLike
            The index's folder.
        """
        return read_manifest(folder)

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> TrackSetIndex:
        """Read an index :meth:`save` wrote (:func:`~workbench.similarity.sets_store.load_sets` says what it raises).

        Parameters
        ----------
        folder : str or os.PathLike
            The index's folder.
        """
        return load_sets(cls, folder)
