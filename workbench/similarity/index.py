"""The FAISS-backed similarity index: exact combined-score search with a vibe bound.

How a search stays exact
------------------------
The combined score is ``w_v * vibe + rest`` where ``rest = w_t*tempo + w_k*key + w_e*energy``
(weights normalised) and ``rest <= w_t + w_k + w_e``. FAISS returns the ``m`` rows with the
largest inner product; ``s_m`` is the ``m``-th. A row not fetched has a vibe of at most
``u = clip(s_m + eps, 0, 1)`` (``eps`` bounds float32 rounding in FAISS's inner product), so

1. if the k-th best combined score among the fetched rows is larger than
   ``w_v * u + (w_t + w_k + w_e)``, no other row can enter the top k: done;
2. otherwise the rows not fetched whose own bound ``w_v * u + rest`` still reaches the k-th
   best are found from the metadata alone (rows sorted by key, energy and BPM: a few binary
   searches, no vectors, see :mod:`workbench.similarity._meta`) and scored exactly; every other
   row is provably out: done;
3. should more than half the rows survive step 2, every row is scored (brute force).

Step 2 replaces the textbook "double ``m`` and search again": a flat search scans every vector
whatever ``m`` is, so rescoring the few rows the bound cannot rule out is cheaper than another
scan. (HNSW does grow ``m`` -- by 4x, up to min(4096, n/128) -- while step 2 would leave more
than max(2048, 2m) rows to rescore, since a bigger HNSW beam is cheap.)

So a flat (``IndexFlatIP``) index always returns exactly what :func:`brute_force_similar`
returns: same ids, order (score descending, then id ascending) and scores. An HNSW index is
approximate: its ``m`` candidates are not guaranteed to be the true top ``m`` by inner
product, so ``s_m`` is not a guaranteed bound; results can miss tracks (see the recall measured
by ``benchmarks/bench_similarity.py``). Two kinds of HNSW failure are caught, and answered
by widening the beam (4x, up to min(4096, n/128)) and, failing that, by scoring every row:
for a track id query HNSW must return the track itself (cosine 1), and a fixed sample of
2048 rows must not hold 5 or more rows, outside the candidates, that beat the ``m``-th
candidate (were HNSW's ``m`` the true top ``m`` there would be none; a few missed neighbours
rarely make 5). With vibe weight 0 no vector search is needed at all: every track is ranked
by its metadata (exact on both backends).

Removal
-------
Neither backend renumbers on removal: removed rows become tombstones, skipped at query time
(they still count against ``m``), and the FAISS index is rebuilt from the live rows once
tombstones exceed ``rebuild_fraction`` of the rows (for HNSW the rebuild costs as much as the
first build). :meth:`SimilarityIndex.compact` rebuilds on demand.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import numbers
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import IndexFileError, IndexNotFoundError, ParameterError, TrackNotFoundError
from workbench.similarity._core import (
    Match,
    QueryLike,
    Scorer,
    brute_force_rows,
    build_matches,
    check_k,
    check_min_score,
    cosine_rows,
    kth_largest,
    resolve_query,
    top_k_order,
    validate_ids,
    validate_tracks,
)
from workbench.similarity._meta import MetaIndex
from workbench.similarity.scores import CAMELOT_CODES, ENERGY_RANGE, WeightsLike

KINDS: tuple[str, ...] = ("auto", "flat", "hnsw")
#: ``kind="auto"`` builds HNSW from this many live tracks on (flat below).
DEFAULT_HNSW_THRESHOLD: int = 50_000
_FORMAT = "workbench.similarity-index"
_FORMAT_VERSION = 1
_MANIFEST = "similarity-index.json"
_LOCK = ".similarity-index.lock"
_MIN_CANDIDATES = 256
_CANDIDATES_PER_RESULT = 16
_RESCORE_BUDGET = 2048
_MAX_HNSW_CANDIDATES = 4096
_ROWS_PER_WIDE_CANDIDATE = 128
_PROBE_ROWS = 2048
_PROBE_ALARM = 5


@dataclass(frozen=True)
class SearchStats:
    """How the last :meth:`SimilarityIndex.similar` call found its answer.

    Attributes
    ----------
    path : str
        ``"bound"`` (FAISS candidates sufficed), ``"rescored"`` (plus rows whose bound could not
        rule them out), ``"complete"`` (FAISS returned every row), ``"brute"`` (every row
        scored), ``"metadata"`` (vibe weight 0: no vector search) or ``"empty"``.
    candidates : int
        Rows FAISS returned (``m``).
    rescored : int
        Rows scored exactly beyond the FAISS candidates.
    exact : bool
        Whether the result is guaranteed to equal brute force (False only on HNSW paths that
        relied on FAISS candidates).
    """

    path: str
    candidates: int
    rescored: int
    exact: bool


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "SimilarityIndex needs FAISS: pip install faiss-cpu (or the 'workbench[torch]' extra)"
        ) from exc
    return faiss


def _ip_error_bound(dim: int) -> float:
    """Upper bound on |float32 inner product - exact| for unit vectors of ``dim`` values."""
    u = 2.0**-24
    gamma = dim * u / max(1e-12, 1.0 - dim * u)
    return 2.0 * gamma * 1.001 + u  # FAISS's and ours may round in opposite directions


def _check_int(value: Any, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < lo:
        raise ParameterError(f"{name} must be an integer >= {lo}; got {value!r}")
    return int(value)


class SimilarityIndex:
    """Explainable combined-score similarity search over a track library.

    Parameters
    ----------
    ids : array-like of int, shape (n,)
        Unique track ids.
    embeddings : array-like of float, shape (n, d)
        Embeddings (e.g. 512-d float32); L2-normalised on insert (cosine similarity).
    bpm : array-like of float > 0, shape (n,)
    camelot : sequence of str, length n
        Camelot key codes, ``"1A"``..``"12B"``.
    energy : array-like of int in 1..10, shape (n,)
    kind : {"auto", "flat", "hnsw"}
        Backend. ``"flat"`` (``IndexFlatIP``) is exact; ``"hnsw"`` (``IndexHNSWFlat``, inner
        product) is approximate but much faster on large libraries; ``"auto"`` uses HNSW from
        ``hnsw_threshold`` live tracks on (re-checked when adding and on rebuilds).
    hnsw_threshold : int >= 1
        Size from which ``kind="auto"`` uses HNSW (default 50 000).
    hnsw_m : int >= 2
        HNSW graph degree (``M``).
    ef_construction : int >= 1
        HNSW build-time beam width.
    ef_search : int >= 1
        HNSW query-time beam width (at least the number of candidates requested).
    rebuild_fraction : float in (0, 1]
        Rebuild the FAISS index once removed rows exceed this fraction of all rows.

    Raises
    ------
    ParameterError
        Bad shapes, lengths, dtypes, NaN/inf or zero embeddings, duplicated ids, BPM <= 0,
        energy outside 1..10, bad Camelot codes, or bad options.

    Notes
    -----
    * Memory: the vectors live once, inside FAISS (4 bytes x d per track, plus the HNSW graph);
      the metadata adds ~20 bytes per track and an id dict.
    * Not thread-safe for mutation (``add``/``remove``/``compact``) concurrent with searches.
    * FAISS spreads even one query over its OpenMP threads. On small machines a single-query
      flat search can be *slower* that way (idle workers are woken on every call); calling
      ``faiss.omp_set_num_threads(1)`` helps there. That setting is process-wide, so it is left
      to the application.

    Examples
    --------
    >>> index = SimilarityIndex(ids, emb, bpm, keys, energy)           # doctest: +SKIP
    >>> for m in index.similar(42, k=5):                               # doctest: +SKIP
    ...     print(m.id, f"{m.score:.2f}", m.explanation)
    7 0.91 similar vibe (88%); Δ+2 BPM; key: 8A→9A (compatible); energy +1
    """

    def __init__(
        self,
        ids: Any,
        embeddings: Any,
        bpm: Any,
        camelot: Any,
        energy: Any,
        *,
        kind: str = "auto",
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
        hnsw_m: int = 32,
        ef_construction: int = 40,
        ef_search: int = 64,
        rebuild_fraction: float = 0.25,
    ) -> None:
        self._set_options(kind, hnsw_threshold, hnsw_m, ef_construction, ef_search, rebuild_fraction)
        id_arr, vecs, bpm_arr, key_arr, energy_arr = validate_tracks(ids, embeddings, bpm, camelot, energy)
        self._dim = int(vecs.shape[1])
        self._set_rows(id_arr, bpm_arr, key_arr, energy_arr, np.ones(id_arr.shape[0], dtype=bool))
        self._backend = self._choose_backend(id_arr.shape[0])
        self._view: np.ndarray | None = None
        self._probe: tuple[np.ndarray, np.ndarray] | None = None
        self._index = self._new_faiss(self._backend)
        self._index.add(vecs)
        self._last = SearchStats("empty", 0, 0, True)

    # ------------------------------------------------------------------ state

    def _set_options(self, kind: Any, hnsw_threshold: Any, hnsw_m: Any, ef_construction: Any,
                     ef_search: Any, rebuild_fraction: Any) -> None:
        if kind not in KINDS:
            raise ParameterError(f"kind must be one of {KINDS}; got {kind!r}")
        self._kind = str(kind)
        self._hnsw_threshold = _check_int(hnsw_threshold, "hnsw_threshold", 1)
        self._hnsw_m = _check_int(hnsw_m, "hnsw_m", 2)
        self._ef_construction = _check_int(ef_construction, "ef_construction", 1)
        self._ef_search = _check_int(ef_search, "ef_search", 1)
        if (isinstance(rebuild_fraction, bool) or not isinstance(rebuild_fraction, numbers.Real)
                or not 0.0 < float(rebuild_fraction) <= 1.0):
            raise ParameterError(f"rebuild_fraction must be a number in (0, 1]; got {rebuild_fraction!r}")
        self._rebuild_fraction = float(rebuild_fraction)

    def _set_rows(self, ids: np.ndarray, bpm: np.ndarray, key: np.ndarray, energy: np.ndarray,
                  alive: np.ndarray) -> None:
        self._ids = ids
        self._bpm = bpm
        self._key = key
        self._energy = energy
        self._alive = alive
        live = np.flatnonzero(alive)
        self._row_of: dict[int, int] = dict(zip(ids[live].tolist(), live.tolist(), strict=True))
        self._n_dead = int(alive.shape[0] - live.shape[0])
        self._meta: MetaIndex | None = None  # built on first need; removals keep it valid

    def _choose_backend(self, n_live: int) -> str:
        if self._kind != "auto":
            return self._kind
        return "hnsw" if n_live >= self._hnsw_threshold else "flat"

    def _new_faiss(self, backend: str) -> Any:
        faiss = _faiss()
        if backend == "flat":
            return faiss.IndexFlatIP(self._dim)
        index = faiss.IndexHNSWFlat(self._dim, self._hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self._ef_construction
        return index

    def _vectors(self) -> np.ndarray:
        """Zero-copy (rows, d) float32 view of FAISS's storage, cached until the index changes.

        Never handed out: it dangles once FAISS reallocates (``add``) or the index is replaced.
        """
        n = int(self._index.ntotal)
        view = self._view
        if view is not None and view.shape[0] == n:
            return view
        if n == 0:
            view = np.empty((0, self._dim), dtype=np.float32)
        else:
            faiss = _faiss()
            flat = self._index if self._backend == "flat" else faiss.downcast_index(self._index.storage)
            view = faiss.rev_swig_ptr(flat.get_xb(), n * self._dim).reshape(n, self._dim)
        self._view = view
        return view

    # ------------------------------------------------------------------ properties

    def __len__(self) -> int:
        """Number of live tracks."""
        return len(self._row_of)

    def __contains__(self, track_id: object) -> bool:
        return isinstance(track_id, (int, np.integer)) and int(track_id) in self._row_of

    def __repr__(self) -> str:
        return (f"SimilarityIndex({len(self)} tracks, dim={self._dim}, backend={self._backend!r}, "
                f"kind={self._kind!r}, tombstones={self._n_dead})")

    @property
    def dim(self) -> int:
        """Embedding dimension ``d``."""
        return self._dim

    @property
    def kind(self) -> str:
        """The ``kind`` asked for: ``"auto"``, ``"flat"`` or ``"hnsw"``."""
        return self._kind

    @property
    def backend(self) -> str:
        """The FAISS index in use: ``"flat"`` (exact) or ``"hnsw"`` (approximate)."""
        return self._backend

    @property
    def exact(self) -> bool:
        """Whether :meth:`similar` is guaranteed to equal :func:`brute_force_similar`."""
        return self._backend == "flat"

    @property
    def ids(self) -> np.ndarray:
        """Live track ids, shape (len(self),), int64 (a copy)."""
        return self._ids[self._alive].copy()

    @property
    def last_search(self) -> SearchStats:
        """How the most recent :meth:`similar` call was answered (for diagnostics)."""
        return self._last

    # ------------------------------------------------------------------ mutation

    def add(self, ids: Any, embeddings: Any, bpm: Any, camelot: Any, energy: Any) -> None:
        """Add tracks (same arrays as the constructor); ids must not be in the index already.

        A removed id may be added again. With ``kind="auto"``, crossing ``hnsw_threshold``
        rebuilds the index as HNSW.

        Raises
        ------
        ParameterError
            Invalid arrays (see the class), or an id is already in the index.
        """
        id_arr, vecs, bpm_arr, key_arr, energy_arr = validate_tracks(
            ids, embeddings, bpm, camelot, energy, dim=self._dim
        )
        for track_id in id_arr.tolist():
            if track_id in self._row_of:
                raise ParameterError(f"ids must not already be in the index; id {track_id} is (remove it first)")
        if id_arr.shape[0] == 0:
            return
        start = int(self._index.ntotal)
        self._view = self._probe = None
        self._index.add(vecs)
        self._ids = np.concatenate([self._ids, id_arr])
        self._bpm = np.concatenate([self._bpm, bpm_arr])
        self._key = np.concatenate([self._key, key_arr])
        self._energy = np.concatenate([self._energy, energy_arr])
        self._alive = np.concatenate([self._alive, np.ones(id_arr.shape[0], dtype=bool)])
        self._row_of.update(zip(id_arr.tolist(), range(start, start + id_arr.shape[0]), strict=True))
        self._meta = None
        if self._choose_backend(len(self)) != self._backend:
            self.compact()

    def remove(self, ids: Any) -> None:
        """Remove tracks by id (all or none).

        Raises
        ------
        TrackNotFoundError
            An id is not in the index (nothing is removed).
        ParameterError
            ``ids`` is not a sequence of unique integers.
        """
        if isinstance(ids, (int, np.integer)) and not isinstance(ids, bool):
            ids = [ids]
        id_arr = validate_ids(ids)
        rows = []
        for track_id in id_arr.tolist():
            row = self._row_of.get(track_id)
            if row is None:
                raise TrackNotFoundError(f"track id {track_id} is not in the similarity index")
            rows.append(row)
        for track_id in id_arr.tolist():
            del self._row_of[track_id]
        self._alive[rows] = False
        self._n_dead += len(rows)
        if self._n_dead > self._rebuild_fraction * self._index.ntotal:
            self.compact()

    def compact(self) -> None:
        """Rebuild the FAISS index from the live rows (drops tombstones; re-chooses the backend for ``"auto"``)."""
        live = np.flatnonzero(self._alive)
        vecs = self._vectors()[live]  # a copy: the old index goes away below
        backend = self._choose_backend(live.shape[0])
        old_backend = self._backend
        self._backend = backend
        try:
            index = self._new_faiss(backend)
            index.add(vecs)
        except BaseException:
            self._backend = old_backend
            raise
        self._view = self._probe = None
        self._index = index
        self._set_rows(self._ids[live], self._bpm[live], self._key[live], self._energy[live],
                       np.ones(live.shape[0], dtype=bool))

    # ------------------------------------------------------------------ search

    def _resolve(self, query: Any, weights: WeightsLike, exclude_self: bool) -> tuple[Scorer, int | None, int | None]:
        """(scorer, the query's own row or None, the row to leave out or None)."""
        vectors = self._vectors()
        scorer, self_row = resolve_query(
            query, weights=weights, dim=self._dim, row_of=self._row_of.get, vectors=lambda r: vectors[r],
            bpm=self._bpm, key=self._key, energy=self._energy, exclude_self=exclude_self,
        )
        return scorer, self_row, (self_row if exclude_self else None)

    def similar(
        self,
        query: QueryLike,
        *,
        k: int = 10,
        min_score: float | None = None,
        weights: WeightsLike = None,
        exclude_self: bool = True,
    ) -> list[Match]:
        """The ``k`` tracks most similar to ``query`` by combined score, best first.

        Parameters
        ----------
        query : int, Query or array-like of shape (d,)
            * a track id in the index: its stored embedding and metadata are the query;
            * a :class:`Query` (vector + bpm + camelot + energy) for audio not in the library;
            * a raw embedding: only the vibe is known, so the score **is** the vibe (tempo,
              key and energy weights are dropped; those :class:`Match` fields are ``None``).
              ``weights.vibe`` must then be > 0.
        k : int >= 1
            How many matches at most (fewer when the library is smaller).
        min_score : float in [0, 1] or None
            Drop matches whose combined score is below it.
        weights : Weights, mapping or None
            Component weights; ``None`` -> :class:`Weights` defaults. A mapping such as
            ``{"vibe": 1, "key": 0.5}`` fills the rest from the defaults.
        exclude_self : bool
            For a track id query, leave that track out of the results (ignored otherwise).

        Returns
        -------
        list of Match
            Score descending, then id ascending. Equal to :func:`brute_force_similar` on a
            flat index; approximate on HNSW (see the module notes).

        Raises
        ------
        TrackNotFoundError
            ``query`` is an id not in the index.
        ParameterError
            Bad ``k``, ``min_score``, ``weights``, vector length or query type.
        """
        k = check_k(k)
        min_score = check_min_score(min_score)
        scorer, self_row, exclude_row = self._resolve(query, weights, exclude_self)
        rows, scores, self._last = self._search(scorer, k, min_score, exclude_row, self_row)
        return build_matches(scorer, rows, scores, vectors=self._vectors(), ids=self._ids, bpm=self._bpm,
                             key=self._key, energy=self._energy, min_score=min_score)

    def brute_force(
        self,
        query: QueryLike,
        *,
        k: int = 10,
        min_score: float | None = None,
        weights: WeightsLike = None,
        exclude_self: bool = True,
    ) -> list[Match]:
        """:meth:`similar` by scoring every live track with numpy (exact; the benchmark baseline).

        Same parameters and result as :func:`brute_force_similar` over this index's tracks.
        """
        k = check_k(k)
        min_score = check_min_score(min_score)
        scorer, _, exclude_row = self._resolve(query, weights, exclude_self)
        rows, scores = self._brute(scorer, k, exclude_row)
        return build_matches(scorer, rows, scores, vectors=self._vectors(), ids=self._ids, bpm=self._bpm,
                             key=self._key, energy=self._energy, min_score=min_score)

    def _brute(self, scorer: Scorer, k: int, exclude_row: int | None) -> tuple[np.ndarray, np.ndarray]:
        return brute_force_rows(scorer, k, vectors=self._vectors(), ids=self._ids, bpm=self._bpm, key=self._key,
                                energy=self._energy, alive=self._alive if self._n_dead else None,
                                exclude_row=exclude_row)

    def _finish(self, rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        order = top_k_order(scores, self._ids[rows], k)
        return rows[order], scores[order]

    def _search(self, scorer: Scorer, k: int, min_score: float | None, exclude_row: int | None,
                self_row: int | None = None) -> tuple[np.ndarray, np.ndarray, SearchStats]:
        n_rows = int(self._index.ntotal)
        n_live = len(self) - (1 if exclude_row is not None else 0)
        exact_backend = self._backend == "flat"
        if n_live <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0), SearchStats("empty", 0, 0, True)
        if scorer.w[0] == 0.0:
            # Vibe does not count: rank by metadata alone, no vector search needed.
            rest = scorer.rest(self._bpm, self._key, self._energy)
            scores = scorer.combine(0.0, rest)
            scores[~self._alive] = -math.inf
            if exclude_row is not None:
                scores[exclude_row] = -math.inf
            order = top_k_order(scores, self._ids, k)
            return order, scores[order], SearchStats("metadata", 0, n_rows, True)

        m = min(n_rows, max(_MIN_CANDIDATES, _CANDIDATES_PER_RESULT * (k + 1)))
        # Widening an HNSW beam costs about in proportion to it; past n/128 candidates scoring
        # every row is the cheaper (and exact) way out.
        max_m = min(n_rows, max(m, min(_MAX_HNSW_CANDIDATES, n_rows // _ROWS_PER_WIDE_CANDIDATE)))
        vectors = self._vectors()
        while True:
            dist, labels = self._faiss_search(scorer.q, m)
            found = labels >= 0
            fetched = labels[found]
            if fetched.size == 0:
                rows, scores = self._brute(scorer, k, exclude_row)
                return rows, scores, SearchStats("brute", 0, n_rows, True)
            if self._backend == "hnsw" and self_row is not None and not (fetched == self_row).any():
                # An id query's own vector (cosine 1) is always the nearest: HNSW missing it means
                # its greedy descent got stuck in another region of the graph. Widen the beam,
                # and score everything if even the widest one misses it.
                if 4 * m <= max_m:
                    m *= 4
                    continue
                rows, scores = self._brute(scorer, k, exclude_row)
                return rows, scores, SearchStats("brute", int(fetched.size), n_rows, True)
            keep = self._alive[fetched]
            if exclude_row is not None:
                keep &= fetched != exclude_row
            cand = fetched[keep]
            # FAISS's inner products are within `eps` of the exact cosine: candidates whose
            # approximate score is 2*w_v*eps below the k-th best approximate one cannot make the
            # top k, so only the others are scored exactly (vectors gathered).
            eps = _ip_error_bound(self._dim)
            rest = scorer.rest(self._bpm[cand], self._key[cand], self._energy[cand])
            approx = scorer.combine(np.clip(dist[found][keep].astype(np.float64), 0.0, 1.0), rest)
            close = approx >= kth_largest(approx, k) - 2.0 * scorer.w[0] * eps - 1e-12
            cand = cand[close]
            scores = scorer.combine(cosine_rows(vectors[cand], scorer.q), rest[close])
            if fetched.size >= n_rows:
                rows, scores = self._finish(cand, scores, k)
                return rows, scores, SearchStats("complete", int(fetched.size), 0, True)

            threshold = kth_largest(scores, k)  # a true k-th best score lower bound: real rows
            if min_score is not None:
                threshold = max(threshold, min_score)
            s_m = float(dist[found][-1])
            vibe_bound = min(1.0, max(0.0, s_m + eps))
            if self._backend == "hnsw" and self._hnsw_lost(scorer, s_m + eps, fetched, exclude_row):
                if 4 * m <= max_m:
                    m *= 4
                    continue
                rows, scores = self._brute(scorer, k, exclude_row)
                return rows, scores, SearchStats("brute", int(fetched.size), n_rows, True)
            if float(scorer.combine(vibe_bound, scorer.rest_max())) < threshold:
                rows, scores = self._finish(cand, scores, k)
                return rows, scores, SearchStats("bound", int(fetched.size), 0, exact_backend)

            # Rows not fetched whose metadata could still lift them to the k-th best score.
            extra = self._meta_index().rows_reaching(scorer, vibe_bound, threshold)
            keep = self._alive[extra] & ~_member(extra, np.sort(fetched))
            if exclude_row is not None:
                keep &= extra != exclude_row
            extra = extra[keep]
            # HNSW: asking it for more candidates is cheap next to rescoring many rows; a flat
            # search scans every row again, so rescoring is always the better deal there.
            if (self._backend == "hnsw" and extra.size > max(_RESCORE_BUDGET, 2 * m)
                    and m < max_m):
                m = min(4 * m, max_m)
                continue
            break
        if extra.size > n_rows // 2:
            rows, scores = self._brute(scorer, k, exclude_row)
            return rows, scores, SearchStats("brute", int(fetched.size), n_rows, True)
        extra_scores = scorer.score(vectors[extra], self._bpm[extra], self._key[extra], self._energy[extra])
        rows, scores = self._finish(np.concatenate([cand, extra]), np.concatenate([scores, extra_scores]), k)
        return rows, scores, SearchStats("rescored", int(fetched.size), int(extra.size), exact_backend)

    def _hnsw_lost(self, scorer: Scorer, vibe_limit: float, fetched: np.ndarray, exclude_row: int | None) -> bool:
        """Whether a fixed sample of rows shows HNSW's candidates to be far from the true top ``m``.

        If HNSW returned the true top ``m`` by inner product, no row outside them beats the
        ``m``-th (``vibe_limit`` includes the rounding margin), and an HNSW that merely missed a
        few leaves a sample of :data:`_PROBE_ROWS` rows almost clean. :data:`_PROBE_ALARM` or
        more sampled rows beating it mean that a sizeable part of the library (about 0.25% or
        more) does: the search went astray (e.g. stuck beside the query's cluster). A heuristic
        for HNSW only; flat search needs none.
        """
        if self._probe is None:
            n = int(self._index.ntotal)
            count = min(_PROBE_ROWS, n)
            rows = (np.arange(count, dtype=np.int64) * n) // max(count, 1)
            rows = rows[np.argsort(np.arange(count) % 4, kind="stable")]  # each quarter spans the library
            self._probe = (rows, np.ascontiguousarray(self._vectors()[rows]))
        rows, vectors = self._probe
        # FAISS's kernel (faster than einsum; the last bits do not matter here). A quarter of
        # the sample first: a search that went astray shows there too, a sound one rarely does.
        faiss = _faiss()
        ips = np.empty(rows.shape[0], dtype=np.float32)
        first = rows.shape[0] // 4
        pool = np.sort(fetched)

        def outside(hits: np.ndarray) -> int:  # sampled rows beating the limit, not fetched, live
            keep = self._alive[hits] & ~_member(hits, pool)
            if exclude_row is not None:
                keep &= hits != exclude_row
            return int(keep.sum())

        faiss.fvec_inner_products_ny(faiss.swig_ptr(ips), faiss.swig_ptr(scorer.q), faiss.swig_ptr(vectors),
                                     self._dim, first)
        if outside(rows[:first][ips[:first] > vibe_limit]) == 0:
            return False
        faiss.fvec_inner_products_ny(faiss.swig_ptr(ips[first:]), faiss.swig_ptr(scorer.q),
                                     faiss.swig_ptr(vectors[first:]), self._dim, rows.shape[0] - first)
        return outside(rows[ips > vibe_limit]) >= _PROBE_ALARM

    def _meta_index(self) -> MetaIndex:
        if self._meta is None:
            self._meta = MetaIndex(self._bpm, self._key, self._energy)
        return self._meta

    def _faiss_search(self, q: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(q[None, :], dtype=np.float32)
        if self._backend == "flat":
            dist, labels = self._index.search(x, m)
        else:
            # efSearch set on the index, not passed as search params: faiss.contrib.torch_utils (which
            # pytorch-metric-learning imports) replaces Index.search with a wrapper that has no params
            self._index.hnsw.efSearch = max(self._ef_search, m)
            dist, labels = self._index.search(x, m)
        return dist[0], labels[0]

    # ------------------------------------------------------------------ persistence

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the index to ``folder`` (created if needed); returns the manifest's path.

        Writes ``index-<token>.faiss`` (FAISS), ``meta-<token>.npz`` (ids, bpm, keys, energy,
        tombstones) and then the manifest ``similarity-index.json`` naming them, each atomically
        (:func:`workbench.fileio.atomic_write`: temp file, fsync, rename); older index/meta files
        in the folder are then deleted. A crash mid-save leaves the previous save loadable. Saves
        (and loads) of one folder are serialised by an ``flock`` on ``.similarity-index.lock``
        beside the index, so two processes saving at once leave one complete, loadable index.
        """
        from workbench.fileio import atomic_write

        faiss = _faiss()
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:16]
        index_name, meta_name = f"index-{token}.faiss", f"meta-{token}.npz"

        def write_meta(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, ids=self._ids, bpm=self._bpm, key=self._key, energy=self._energy, alive=self._alive)

        manifest = {
            "format": _FORMAT, "version": _FORMAT_VERSION, "dim": self._dim, "rows": int(self._index.ntotal),
            "backend": self._backend, "kind": self._kind, "hnsw_threshold": self._hnsw_threshold,
            "hnsw_m": self._hnsw_m, "ef_construction": self._ef_construction, "ef_search": self._ef_search,
            "rebuild_fraction": self._rebuild_fraction, "index_file": index_name, "meta_file": meta_name,
        }
        with _folder_lock(root, exclusive=True):
            atomic_write(root / index_name, lambda tmp: faiss.write_index(self._index, str(tmp)))
            atomic_write(root / meta_name, write_meta)
            atomic_write(root / _MANIFEST,
                         lambda tmp: tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8"))
            for old in list(root.glob("index-*.faiss")) + list(root.glob("meta-*.npz")):
                if old.name not in (index_name, meta_name):
                    try:
                        old.unlink()
                    except OSError:  # pragma: no cover - best effort
                        pass
        return root / _MANIFEST

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> SimilarityIndex:
        """Read an index written by :meth:`save` (under a shared lock: never mid-save).

        Raises
        ------
        IndexNotFoundError
            ``folder`` has no ``similarity-index.json``.
        IndexFileError
            The files are missing, inconsistent or of an unknown format/version.
        """
        root = Path(folder)
        if not (root / _MANIFEST).exists():
            raise IndexNotFoundError(f"no saved similarity index in {str(root)!r} (no {_MANIFEST})")
        with _folder_lock(root, exclusive=False):
            return cls._load_unlocked(root)

    @classmethod
    def _load_unlocked(cls, root: Path) -> SimilarityIndex:
        faiss = _faiss()
        try:
            manifest = json.loads((root / _MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexNotFoundError(f"no saved similarity index in {str(root)!r} (no {_MANIFEST})") from None
        except (OSError, ValueError) as exc:
            raise IndexFileError(f"cannot read {str(root / _MANIFEST)!r}: {exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            raise IndexFileError(f"{str(root / _MANIFEST)!r} is not a {_FORMAT} manifest")
        if manifest.get("version") != _FORMAT_VERSION:
            raise IndexFileError(
                f"similarity index format version must be {_FORMAT_VERSION}; got {manifest.get('version')!r}"
            )
        obj = cls.__new__(cls)
        try:
            obj._set_options(manifest["kind"], manifest["hnsw_threshold"], manifest["hnsw_m"],
                              manifest["ef_construction"], manifest["ef_search"], manifest["rebuild_fraction"])
            dim, rows, backend = int(manifest["dim"]), int(manifest["rows"]), manifest["backend"]
            index_path = root / Path(manifest["index_file"]).name
            meta_path = root / Path(manifest["meta_file"]).name
        except (KeyError, TypeError, ValueError, ParameterError) as exc:
            raise IndexFileError(f"bad similarity index manifest in {str(root)!r}: {exc}") from exc
        if backend not in ("flat", "hnsw"):
            raise IndexFileError(f"manifest backend must be 'flat' or 'hnsw'; got {backend!r}")
        try:
            index = faiss.read_index(str(index_path))
            with np.load(meta_path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in ("ids", "bpm", "key", "energy", "alive")}
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            raise IndexFileError(f"cannot read the similarity index in {str(root)!r}: {exc}") from exc
        _check_loaded(index, arrays, dim=dim, rows=rows, backend=backend, faiss=faiss)
        obj._dim = dim
        obj._backend = backend
        obj._index = index
        obj._view = obj._probe = None
        obj._set_rows(arrays["ids"].astype(np.int64), arrays["bpm"].astype(np.float64),
                       arrays["key"].astype(np.int8), arrays["energy"].astype(np.int8),
                       arrays["alive"].astype(bool))
        obj._last = SearchStats("empty", 0, 0, True)
        return obj


def _member(values: np.ndarray, sorted_pool: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_pool)`` for a sorted pool, by binary search (cheaper for small arrays)."""
    if sorted_pool.size == 0:
        return np.zeros(values.shape[0], dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_pool, values), sorted_pool.size - 1)
    return sorted_pool[pos] == values


def _check_loaded(index: Any, arrays: dict[str, np.ndarray], *, dim: int, rows: int, backend: str,
                  faiss: Any) -> None:
    expected = faiss.IndexFlatIP if backend == "flat" else faiss.IndexHNSWFlat
    if not isinstance(index, expected) or index.d != dim or index.ntotal != rows:
        raise IndexFileError(
            f"saved FAISS index must be {expected.__name__} with d={dim} and {rows} rows; "
            f"got {type(index).__name__} with d={index.d} and {index.ntotal} rows"
        )
    if index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IndexFileError("saved FAISS index must use the inner-product metric")
    for name, arr in arrays.items():
        if arr.shape != (rows,):
            raise IndexFileError(f"saved {name} must have shape ({rows},); got {arr.shape}")
    ids, alive = arrays["ids"], arrays["alive"]
    if not np.issubdtype(ids.dtype, np.integer) or alive.dtype != np.bool_:
        raise IndexFileError("saved ids must be integers and alive flags booleans")
    if np.unique(ids[alive]).shape[0] != int(alive.sum()):
        raise IndexFileError("saved ids of live tracks must be unique")
    bpm, key, energy = arrays["bpm"], arrays["key"], arrays["energy"]
    if not (np.isfinite(bpm).all() and (bpm > 0).all()):
        raise IndexFileError("saved bpm must be finite and > 0")
    if ((key < 0) | (key >= len(CAMELOT_CODES))).any():
        raise IndexFileError("saved keys must be Camelot indices 0..23")
    if ((energy < ENERGY_RANGE[0]) | (energy > ENERGY_RANGE[1])).any():
        raise IndexFileError("saved energy must be in 1..10")


@contextlib.contextmanager
def _folder_lock(root: Path, *, exclusive: bool) -> Iterator[None]:
    """``flock`` on ``<root>/.similarity-index.lock`` (exclusive to save, shared to load). Where the
    lock file cannot be opened (a read-only folder) a load goes on without it."""
    try:
        fd = os.open(root / _LOCK, os.O_CREAT | os.O_RDWR, 0o666)
    except OSError:
        if exclusive:
            raise
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
