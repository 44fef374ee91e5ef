"""Exact top-k without a full float32 scan: cluster bounds, then a compressed pass with a bounded error.

Two ways to rule rows out without scoring them, both exact (the result equals
:func:`~workbench.similarity.brute_force_similar`: same ids, order and scores):

1. **Cluster walk.** The rows are partitioned by spherical k-means (FAISS). Each cluster keeps
   its pivot ``c`` (unit centroid), its angular radius ``r`` (largest angle between a member and
   ``c``) and the range of its members' metadata (BPM min/max, energy min/max, the keys present).
   For a query ``q`` at angle ``a`` from ``c`` every member ``x`` satisfies
   ``angle(q, x) >= a - r`` (triangle inequality on the sphere), so
   ``vibe(q, x) <= cos(max(0, a - r))``; the tempo, key and energy terms are bounded by their
   best value over the cluster's ranges. Clusters are visited in order of that combined bound
   and the walk stops when the k-th best exact score found beats the bound of every cluster
   left (strictly: a tie could still enter by id).
2. **Compressed pass.** When the bounds cannot prune enough (high-dimensional data with no
   tight clusters: the bounds of many clusters stay near 1), the clusters not yet visited whose
   bound still reaches the k-th best score so far are scanned in float16 (FAISS
   ``IndexIVFScalarQuantizer``, one inverted list per cluster, rows encoded as they are, half
   the bytes of float32). Its inner products differ from the exact ones by at most
   ``E + eps`` (``E``: largest ``||x - decode(encode(x))||``, measured at build with FAISS's own
   codec; ``eps``: float32 rounding), so a scanned row it does not return cannot have a vibe
   above the m-th returned inner product plus that margin. The rows that could still reach the
   k-th best combined score through their metadata are found by
   :class:`~workbench.similarity._meta.MetaIndex` and scored exactly, best metadata first,
   until their bound falls below the k-th best (as in :mod:`workbench.similarity.search_exact`).

The walk moves to the compressed pass as soon as the clusters it would still have to visit hold
more than ``SWITCH_FRACTION`` of the rows. Every score that is returned is computed by the same
element-wise operations as brute force (:func:`~workbench.similarity._inputs.cosine_rows`), so
ties are ties in both and are broken by id. Rows added after the build (the *tail*) are scored
exactly on every query; the owner rebuilds once the tail grows past ``TAIL_FRACTION``. Removed
rows stay in their clusters (the bounds remain upper bounds) and are skipped by the ``alive`` mask.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.camelot import N_KEYS
from workbench.similarity._faiss import load_faiss
from workbench.similarity._inputs import cosine_rows
from workbench.similarity.scores import TEMPO_WINDOW_BPM, _energy_table, _key_tables
from workbench.similarity.scoring import Scorer, kth_largest, top_k_order

#: Past this fraction of the rows still to visit, the walk hands over to the compressed pass.
SWITCH_FRACTION: float = 0.2
#: The index rebuilds the partition once rows added after it exceed this fraction.
TAIL_FRACTION: float = 0.1
_FIRST_BATCH_ROWS = 512
_MIN_CANDIDATES = 256
_CANDIDATES_PER_RESULT = 16
_KMEANS_ITER = 6
_KMEANS_POINTS_PER_CENTROID = 32
_SCORE_SLACK = 1e-9
_NORM_SLACK = 1e-6  # |q| * |x| of float32-normalised rows is within 1e-6 of 1


def ip_error_bound(dim: int) -> float:
    """Upper bound on |float32 inner product - exact| for unit vectors of ``dim`` values.

    Parameters
    ----------
    dim : int
        Vector length.
    """
    u = 2.0**-24
    gamma = dim * u / max(1e-12, 1.0 - dim * u)
    return 2.0 * gamma * 1.001 + u  # two float32 computations may round in opposite directions


def default_clusters(rows: int) -> int:
    """Clusters for ``rows`` rows: about ``sqrt(rows)`` (at least 1, at most ``rows``).

    Parameters
    ----------
    rows : int
        Rows to partition.
    """
    return max(1, min(rows, int(round(math.sqrt(rows)))))


@dataclass(frozen=True)
class PrunedStats:
    """How a pruned search found its answer.

    Attributes
    ----------
    path : str
        ``"pruned"`` (the cluster walk settled it), ``"compressed"`` (float16 pass plus exact
        rescoring) or ``"brute"`` (too many rows survived: every row scored).
    visited : int
        Rows scored exactly by the walk (tail included).
    rescored : int
        Rows scored exactly after the compressed pass.
    """

    path: str
    visited: int
    rescored: int


class PrunedIndex:
    """Clusters with score bounds (and, on first need, a float16 copy) over an index's rows.

    Parameters
    ----------
    vectors : np.ndarray [shape=(rows, d), dtype=float32]
        L2-normalised rows (the index's storage; copied in cluster order).
    bpm : np.ndarray [shape=(rows,)]
        Tempo of each row in BPM.
    key : np.ndarray [shape=(rows,)]
        Compact Camelot key index (0..23) of each row.
    energy : np.ndarray [shape=(rows,)]
        Energy level (1..10) of each row.
    n_clusters : int or None
        Clusters; None: :func:`default_clusters`.
    seed : int
        k-means seed.
    source : object
        What the partition was built from (the owner checks it to know when to rebuild).

    Notes
    -----
    Memory: a float32 copy of the vectors in cluster order (4 bytes x d per row), ~25 bytes of
    metadata per row, and once the compressed pass is first needed float16 lists (2 bytes x d
    plus an 8-byte id per row).
    Build: a few k-means iterations on a sample of 32 rows per cluster, one assignment pass.
    """

    def __init__(self, vectors: np.ndarray, bpm: np.ndarray, key: np.ndarray, energy: np.ndarray, *,
                 n_clusters: int | None = None, seed: int = 0, source: Any = None) -> None:
        n, d = vectors.shape
        self.source = source
        self.rows_built = int(n)
        self.dim = int(d)
        self._eps = ip_error_bound(d)
        labels, pivots = _partition(vectors, min(n, n_clusters or default_clusters(n)), seed)
        order = np.argsort(labels, kind="stable")
        sizes = np.bincount(labels, minlength=pivots.shape[0])
        used = sizes > 0
        pivots, sizes = pivots[used], sizes[used]
        self._order = order.astype(np.int64)
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._sizes = sizes.astype(np.int64)
        self._vectors = np.ascontiguousarray(vectors[order], dtype=np.float32)
        self._bpm = np.asarray(bpm, dtype=np.float64)[order]
        self._key = np.asarray(key)[order]
        self._energy = np.asarray(energy)[order]
        self._pivots = pivots
        self._theta_r = self._radii()
        heads = self._starts[:-1]
        self._bpm_lo = np.minimum.reduceat(self._bpm, heads) if n else np.empty(0)
        self._bpm_hi = np.maximum.reduceat(self._bpm, heads) if n else np.empty(0)
        self._energy_lo = np.minimum.reduceat(self._energy.astype(np.int64), heads) if n else np.empty(0, np.int64)
        self._energy_hi = np.maximum.reduceat(self._energy.astype(np.int64), heads) if n else np.empty(0, np.int64)
        self._key_mask = np.zeros((sizes.shape[0], N_KEYS), dtype=bool)
        self._key_mask[np.repeat(np.arange(sizes.shape[0]), sizes), self._key.astype(np.int64)] = True
        self._cluster_of_row = np.empty(n, dtype=np.int32)
        self._cluster_of_row[order] = np.repeat(np.arange(sizes.shape[0], dtype=np.int32), sizes)
        self._fp16: Any = None
        self._fp16_quantizer: Any = None
        self._fp16_error = 0.0

    @property
    def n_clusters(self) -> int:
        """Non-empty clusters."""
        return int(self._sizes.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held (vector copies, metadata, cluster tables)."""
        arrays = (self._order, self._starts, self._sizes, self._vectors, self._bpm, self._key, self._energy,
                  self._pivots, self._theta_r, self._bpm_lo, self._bpm_hi, self._energy_lo, self._energy_hi,
                  self._key_mask)
        fp16 = (2 * self.dim + 8) * int(self._fp16.ntotal) if self._fp16 is not None else 0  # codes + ids
        return int(sum(a.nbytes for a in arrays)) + self._cluster_of_row.nbytes + fp16

    def _radii(self) -> np.ndarray:
        """Per cluster: the largest angle (radians) between a member and the pivot, plus slack."""
        theta = np.empty(self._sizes.shape[0])
        for c in range(theta.shape[0]):
            block = self._vectors[self._starts[c]:self._starts[c + 1]].astype(np.float64)
            cos = (block @ self._pivots[c]) / np.linalg.norm(block, axis=1)
            theta[c] = math.acos(max(-1.0, min(1.0, float(cos.min()))))
        return theta + 1e-9

    # ------------------------------------------------------------------ bounds

    def bounds(self, scorer: Scorer) -> np.ndarray:
        """Per cluster, an upper bound on any member's combined score for ``scorer``.

        Parameters
        ----------
        scorer : Scorer
            The query.

        Returns
        -------
        np.ndarray [shape=(n_clusters,), dtype=float64]
        """
        q = scorer.q.astype(np.float64)
        q /= np.linalg.norm(q)
        angle = np.arccos(np.clip(self._pivots @ q, -1.0, 1.0))
        vibe = np.cos(np.maximum(0.0, angle - self._theta_r)) * (1.0 + _NORM_SLACK) + self._eps + _SCORE_SLACK
        vibe = np.clip(vibe, 0.0, 1.0)
        wv, wt, wk, we = scorer.w
        bound = wv * vibe
        if scorer.bpm is not None and scorer.key is not None and scorer.energy is not None:
            dist = np.full(self.n_clusters, math.inf)
            for target in (scorer.bpm, 2.0 * scorer.bpm, 0.5 * scorer.bpm):
                gap = np.maximum(0.0, np.maximum(self._bpm_lo - target, target - self._bpm_hi))
                dist = np.minimum(dist, gap)
            tempo = np.maximum(0.0, (TEMPO_WINDOW_BPM - dist) / TEMPO_WINDOW_BPM)
            keys = np.where(self._key_mask, _key_tables()[1][scorer.key][None, :], -math.inf).max(axis=1)
            gap_e = np.maximum(0, np.maximum(self._energy_lo - scorer.energy, scorer.energy - self._energy_hi))
            energy = _energy_table()[gap_e]
            bound = bound + ((wt * tempo + wk * keys) + we * energy)
        return bound + _SCORE_SLACK

    # ------------------------------------------------------------------ search

    def search(self, scorer: Scorer, k: int, *, vectors: np.ndarray, bpm: np.ndarray, key: np.ndarray,
               energy: np.ndarray, ids: np.ndarray, alive: np.ndarray, exclude_row: int | None,
               min_score: float | None, meta: Callable[[], Any],
               brute: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, PrunedStats]:
        """The exact top ``k`` rows by combined score: (rows in result order, scores, stats).

        Parameters
        ----------
        scorer : Scorer
            The query (vibe weight > 0).
        k : int >= 1
            How many.
        vectors : np.ndarray [shape=(rows, d)]
            The index's rows now (at least ``rows_built``; later rows form the tail).
        bpm, key, energy : np.ndarray [shape=(rows,)]
            Their metadata.
        ids : np.ndarray [shape=(rows,)]
            Their track ids (the tie-break).
        alive : np.ndarray of bool [shape=(rows,)]
            Rows not removed.
        exclude_row : int or None
            A row to leave out (the query's own).
        min_score : float or None
            Rows below it need not be found.
        meta : callable () -> MetaIndex
            The index's metadata index (for the compressed pass).
        brute : callable () -> (rows, scores)
            Brute force over every row (the fallback).
        """
        n_rows = vectors.shape[0]
        floor = -math.inf if min_score is None else float(min_score)
        pool_rows = np.arange(self.rows_built, n_rows, dtype=np.int64)
        pool_scores = scorer.score(vectors[self.rows_built:], bpm[pool_rows], key[pool_rows], energy[pool_rows])
        pool_scores[~alive[pool_rows]] = -math.inf
        if exclude_row is not None:
            pool_scores[pool_rows == exclude_row] = -math.inf
        visited = int(pool_rows.shape[0])
        ub = self.bounds(scorer)
        order = np.argsort(-ub, kind="stable")
        ub_sorted = ub[order]
        cum = np.concatenate([[0], np.cumsum(self._sizes[order])])
        i, budget = 0, _FIRST_BATCH_ROWS
        while i < order.shape[0]:
            threshold = max(kth_largest(pool_scores, k), floor)
            # clusters whose bound reaches the threshold: a prefix of the sorted order
            reach = int(np.searchsorted(-ub_sorted, -threshold, side="right"))
            if reach <= i:
                break
            if visited and cum[reach] - cum[i] > SWITCH_FRACTION * n_rows:
                return self._compressed(scorer, k, threshold, probe=order[i:reach], pool=pool_rows, pool_scores=pool_scores,
                                        vectors=vectors, bpm=bpm, key=key, energy=energy, ids=ids, alive=alive,
                                        exclude_row=exclude_row, meta=meta, brute=brute, visited=visited)
            j = max(i + 1, min(reach, int(np.searchsorted(cum, cum[i] + budget, side="right")) - 1))
            rows, scores = self._score_clusters(scorer, order[i:j], alive, exclude_row)
            pool_rows = np.concatenate([pool_rows, rows])
            pool_scores = np.concatenate([pool_scores, scores])
            keep = pool_scores >= kth_largest(pool_scores, k)
            pool_rows, pool_scores = pool_rows[keep], pool_scores[keep]
            visited += int(rows.shape[0])
            i, budget = j, 2 * budget
        pos = top_k_order(pool_scores, ids[pool_rows], k)
        return pool_rows[pos], pool_scores[pos], PrunedStats("pruned", visited, 0)

    def _score_clusters(self, scorer: Scorer, clusters: np.ndarray, alive: np.ndarray,
                        exclude_row: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of every member of ``clusters``: (rows, scores), removed/excluded at -inf."""
        starts, stops = self._starts[clusters], self._starts[clusters + 1]
        vibe = np.concatenate([cosine_rows(self._vectors[s:e], scorer.q) for s, e in zip(starts, stops, strict=True)])
        length = stops - starts
        positions = np.repeat(starts - (np.cumsum(length) - length), length) + np.arange(int(length.sum()))
        scores = scorer.combine(vibe, scorer.rest(self._bpm[positions], self._key[positions], self._energy[positions]))
        rows = self._order[positions]
        scores[~alive[rows]] = -math.inf
        if exclude_row is not None:
            scores[rows == exclude_row] = -math.inf
        return rows, scores

    def _fp16_lists(self) -> tuple[Any, float]:
        """The float16 copy, one inverted list per cluster (built on first need), and its error ``E``.

        ``E`` is the largest ``||x - decode(encode(x))||`` over the rows, computed with FAISS's
        own codec (the one the lists use; ``by_residual=False``: rows are encoded as they are).
        """
        if self._fp16 is None:
            faiss = load_faiss()
            d, n_lists = self.dim, self.n_clusters
            codec = faiss.ScalarQuantizer(d, faiss.ScalarQuantizer.QT_fp16)
            error = 0.0
            for lo in range(0, self.rows_built, 65536):
                block = self._vectors[lo:lo + 65536]
                decoded = codec.decode(codec.compute_codes(block)).astype(np.float64)
                error = max(error, float(np.linalg.norm(decoded - block.astype(np.float64), axis=1).max()))
            quantizer = faiss.IndexFlatIP(d)
            quantizer.add(np.ascontiguousarray(self._pivots, dtype=np.float32))
            lists = faiss.IndexIVFScalarQuantizer(quantizer, d, n_lists, faiss.ScalarQuantizer.QT_fp16,
                                                  faiss.METRIC_INNER_PRODUCT, False)
            lists.is_trained = True
            assign = np.repeat(np.arange(n_lists, dtype=np.int64), self._sizes)
            lists.add_core(self.rows_built, faiss.swig_ptr(self._vectors), faiss.swig_ptr(self._order),
                           faiss.swig_ptr(assign))
            self._fp16, self._fp16_quantizer, self._fp16_error = lists, quantizer, error
        return self._fp16, self._fp16_error

    def _compressed(self, scorer: Scorer, k: int, threshold: float, *, probe: np.ndarray, pool: np.ndarray,
                    pool_scores: np.ndarray, vectors: np.ndarray, bpm: np.ndarray, key: np.ndarray,
                    energy: np.ndarray, ids: np.ndarray, alive: np.ndarray, exclude_row: int | None,
                    meta: Callable[[], Any], brute: Callable[[], tuple[np.ndarray, np.ndarray]],
                    visited: int) -> tuple[np.ndarray, np.ndarray, PrunedStats]:
        """The float16 pass over the clusters ``probe``, exact rescoring, metadata rows.

        ``threshold`` is a lower bound on the k-th best score (real rows' exact scores, or
        ``min_score``). ``pool``: the rows the walk scored exactly that may still make the top k
        (the tail, rows added since the build and not in the lists, and the best of the clusters
        it visited); ``probe``: the clusters not visited whose bound reaches ``threshold`` (any
        other cluster's rows score below it).
        """
        n_rows = vectors.shape[0]
        index, error = self._fp16_lists()
        margin = error * (1.0 + _NORM_SLACK) + self._eps * (1.0 + error) + _SCORE_SLACK
        probed_rows = int(self._sizes[probe].sum())
        m = min(probed_rows, max(_MIN_CANDIDATES, _CANDIDATES_PER_RESULT * (k + 1)))
        index.nprobe = int(probe.shape[0])
        dist, labels = index.search_preassigned(np.ascontiguousarray(scorer.q[None, :], dtype=np.float32), max(m, 1),
                                                probe[None, :].astype(np.int64), None)
        found = labels[0] >= 0
        fetched, approx_ip = labels[0][found], dist[0][found].astype(np.float64)
        keep = alive[fetched]
        if exclude_row is not None:
            keep &= fetched != exclude_row
        cand = fetched[keep]
        rest = scorer.rest(bpm[cand], key[cand], energy[cand])
        approx = scorer.combine(np.clip(approx_ip[keep], 0.0, 1.0), rest)
        # exact = approx +- w_v * margin: a candidate 2 * w_v * margin below the k-th best approx cannot win
        close = approx >= kth_largest(approx, k) - 2.0 * scorer.w[0] * margin - 1e-12
        cand = cand[close]
        scores = scorer.combine(cosine_rows(vectors[cand], scorer.q), rest[close])
        cand, scores = np.concatenate([cand, pool]), np.concatenate([scores, pool_scores])
        rescored = int(cand.shape[0])
        if fetched.size < probed_rows:
            # probed rows not fetched have a float16 inner product <= the m-th one
            threshold = max(threshold, kth_largest(scores, k))
            vibe_bound = min(1.0, max(0.0, float(approx_ip[-1]) + margin))
            if float(scorer.combine(vibe_bound, scorer.rest_max())) >= threshold:
                extra = meta().rows_reaching(scorer, vibe_bound, threshold)
                extra = extra[extra < self.rows_built]  # the tail is in the pool
                probed = np.zeros(self.n_clusters, dtype=bool)
                probed[probe] = True
                # rows of visited clusters are in the pool or below its k-th best; others are below their bound
                keep = alive[extra] & probed[self._cluster_of_row[extra]] & ~np.isin(extra, fetched)
                if exclude_row is not None:
                    keep &= extra != exclude_row
                extra = extra[keep]
                if extra.size > n_rows // 2:
                    rows, scores = brute()
                    return rows, scores, PrunedStats("brute", visited, n_rows)
                extra, extra_scores = _score_by_bound(scorer, k, threshold, vibe_bound, extra, vectors=vectors,
                                                      bpm=bpm, key=key, energy=energy, scores=scores)
                cand = np.concatenate([cand, extra])
                scores = np.concatenate([scores, extra_scores])
                rescored += int(extra.shape[0])
        pos = top_k_order(scores, ids[cand], k)
        return cand[pos], scores[pos], PrunedStats("compressed", visited, rescored)


def _score_by_bound(scorer: Scorer, k: int, threshold: float, vibe_bound: float, rows: np.ndarray, *,
                    vectors: np.ndarray, bpm: np.ndarray, key: np.ndarray, energy: np.ndarray,
                    scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact scores of the ``rows`` that can still reach the k-th best, best metadata first.

    Each row's bound is ``w_v * vibe_bound + rest`` (its metadata is known exactly). Rows are
    scored in that order, in growing chunks; after each chunk the k-th best of ``scores`` and
    everything scored so far raises the threshold, and rows whose bound falls below it are
    dropped unscored. Returns (rows scored, their scores).
    """
    rest = scorer.rest(bpm[rows], key[rows], energy[rows])
    bound = scorer.combine(vibe_bound, rest)
    order = np.argsort(-bound, kind="stable")
    rows, rest, bound = rows[order], rest[order], bound[order]
    done_rows, done_scores = [], []
    best = scores
    start, chunk = 0, _CANDIDATES_PER_RESULT * (k + 1)
    while start < rows.shape[0]:
        threshold = max(threshold, kth_largest(best, k))
        stop = int(np.searchsorted(-bound, -threshold, side="right"))  # bounds are sorted descending
        if stop <= start:
            break
        stop = min(stop, start + chunk)
        by_row = np.argsort(rows[start:stop])  # gathers in memory order
        part = rows[start:stop][by_row]
        got = scorer.combine(cosine_rows(vectors[part], scorer.q), rest[start:stop][by_row])
        done_rows.append(part)
        done_scores.append(got)
        best = np.concatenate([best, got])
        start, chunk = stop, 4 * chunk
    if not done_rows:
        return np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(done_rows), np.concatenate(done_scores)


def _partition(vectors: np.ndarray, n_clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means labels (rows,) and float64 unit pivots (clusters, d)."""
    n, d = vectors.shape
    if n_clusters <= 1 or n <= 1:
        pivot = vectors.astype(np.float64).sum(axis=0) if n else np.ones(d)
        norm = np.linalg.norm(pivot)
        pivot = pivot / norm if norm > 0 else np.eye(1, d)[0]
        return np.zeros(n, dtype=np.int64), pivot[None, :]
    faiss = load_faiss()
    km = faiss.Kmeans(d, n_clusters, niter=_KMEANS_ITER, seed=seed, spherical=True, verbose=False,
                      max_points_per_centroid=_KMEANS_POINTS_PER_CENTROID, min_points_per_centroid=1)
    km.train(np.ascontiguousarray(vectors, dtype=np.float32))
    _, labels = km.index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
    pivots = km.centroids.astype(np.float64)
    norms = np.linalg.norm(pivots, axis=1, keepdims=True)
    pivots = np.where(norms > 0, pivots / np.where(norms > 0, norms, 1.0), 0.0)
    return labels[:, 0].astype(np.int64), pivots
