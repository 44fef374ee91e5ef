"""The similarity index's search: exact combined-score search with a vibe bound.

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

Pruned exact search (flat backend, from ``PRUNE_MIN_ROWS`` rows)
----------------------------------------------------------------
Steps 1-3 still scan every vector once (FAISS's flat search). From :data:`PRUNE_MIN_ROWS` rows
on, a flat index answers through :class:`~workbench.similarity.pruned.PrunedIndex` instead:
clusters visited in order of a bound on their best combined score, and where the bounds cannot
prune, a float16 pass whose error is bounded, then the same metadata rescoring as step 2. The
result is the same (exact) and :attr:`SearchStats.path` says ``"pruned"`` or ``"compressed"``.
Building the partition (k-means, an assignment pass, the copies) costs about as much CPU as
85-95 brute-force queries at 100k rows (``benchmarks/bench_search.py`` prints the ratio), so it is built
on the :data:`PRUNE_BUILD_AFTER`-th flat search, when the scans so far have cost about what
the build does (the ski-rental rule: never more than twice the cost of the better choice in
hindsight; a process answering a few queries never pays for it), or at once by
:meth:`ExactSearch.build_partition`. It is
rebuilt when the FAISS index is replaced (``compact``) or when rows added since exceed
:data:`~workbench.similarity.pruned.TAIL_FRACTION` (until then they are scored on every query).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.errors import ParameterError
from workbench.similarity._faiss import load_faiss as _faiss
from workbench.similarity._inputs import cosine_rows
from workbench.similarity._meta import MetaIndex
from workbench.similarity.pruned import TAIL_FRACTION, PrunedIndex, ip_error_bound
from workbench.similarity.scoring import Scorer, brute_force_rows, kth_largest, top_k_order

_MIN_CANDIDATES = 256
_CANDIDATES_PER_RESULT = 16
_RESCORE_BUDGET = 2048
_MAX_HNSW_CANDIDATES = 4096
_ROWS_PER_WIDE_CANDIDATE = 128
_PROBE_ROWS = 2048
_PROBE_ALARM = 5
#: A flat index prunes (clusters, float16 pass) from this many rows on.
PRUNE_MIN_ROWS: int = 20_000
#: ... from its this-many-th search on (or after :meth:`ExactSearch.build_partition`): about
#: the build's cost in flat scans.
PRUNE_BUILD_AFTER: int = 96


@dataclass(frozen=True)
class SearchStats:
    """How the last :meth:`SimilarityIndex.similar` call found its answer.

    Attributes
    ----------
    path : str
        ``"bound"`` (FAISS candidates sufficed), ``"rescored"`` (plus rows whose bound could not
        rule them out), ``"complete"`` (FAISS returned every row), ``"brute"`` (every row
        scored), ``"metadata"`` (vibe weight 0: no vector search) or ``"empty"``; on a
        partitioned flat index ``"pruned"`` (cluster bounds sufficed) or ``"compressed"``
        (float16 pass plus exact rescoring, see :mod:`workbench.similarity.pruned`).
    candidates : int
        Rows FAISS returned (``m``); for ``"pruned"``/``"compressed"``: rows the cluster walk scored.
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



_ip_error_bound = ip_error_bound



class ExactSearch:
    """The search half of :class:`~workbench.similarity.SimilarityIndex`: FAISS candidates, the
    vibe bound, metadata rescoring and the HNSW checks described in this module's notes.

    A mixin: the index supplies the FAISS index, the row arrays and :meth:`_vectors`.
    """

    _dim: int
    _backend: str
    _ef_search: int
    _index: Any
    _ids: np.ndarray
    _bpm: np.ndarray
    _key: np.ndarray
    _energy: np.ndarray
    _alive: np.ndarray
    _n_dead: int
    _meta: MetaIndex | None
    _probe: tuple[np.ndarray, np.ndarray] | None
    _partition: PrunedIndex | None
    _flat_searches: int

    def __len__(self) -> int:  # pragma: no cover - the index defines it
        raise NotImplementedError

    def _vectors(self) -> np.ndarray:  # pragma: no cover - the index defines it
        raise NotImplementedError

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

        pruned = self._partition_for_search() if self._backend == "flat" else None
        if pruned is not None:
            rows, scores, how = pruned.search(
                scorer, k, vectors=self._vectors(), bpm=self._bpm, key=self._key, energy=self._energy, ids=self._ids,
                alive=self._alive, exclude_row=exclude_row, min_score=min_score, meta=self._meta_index,
                brute=lambda: self._brute(scorer, k, exclude_row))
            return rows, scores, SearchStats(how.path, how.visited, how.rescored, True)

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

        def _outside(hits: np.ndarray) -> int:  # sampled rows beating the limit, not fetched, live
            keep = self._alive[hits] & ~_member(hits, pool)
            if exclude_row is not None:
                keep &= hits != exclude_row
            return int(keep.sum())

        faiss.fvec_inner_products_ny(faiss.swig_ptr(ips), faiss.swig_ptr(scorer.q), faiss.swig_ptr(vectors),
                                     self._dim, first)
        if _outside(rows[:first][ips[:first] > vibe_limit]) == 0:
            return False
        faiss.fvec_inner_products_ny(faiss.swig_ptr(ips[first:]), faiss.swig_ptr(scorer.q),
                                     faiss.swig_ptr(vectors[first:]), self._dim, rows.shape[0] - first)
        return _outside(rows[ips > vibe_limit]) >= _PROBE_ALARM

    def build_partition(self, *, n_clusters: int | None = None, seed: int = 0) -> None:
        """Build the pruning structures now (clusters with score bounds; see the module notes).

        Without this call a flat index builds them on its :data:`PRUNE_BUILD_AFTER`-th search
        once it holds :data:`PRUNE_MIN_ROWS` rows. Searches stay exact either way; an HNSW
        index ignores the partition.

        Parameters
        ----------
        n_clusters : int >= 1 or None
            k-means clusters; None: about ``sqrt(rows)``.
        seed : int
            k-means seed.

        Raises
        ------
        ParameterError
            ``n_clusters`` is not an integer >= 1.
        """
        if n_clusters is not None and (isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer))
                                       or int(n_clusters) < 1):
            raise ParameterError(f"n_clusters must be an integer >= 1 or None; got {n_clusters!r}")
        n = int(self._index.ntotal)
        self._partition = PrunedIndex(self._vectors(), self._bpm[:n], self._key[:n], self._energy[:n],
                                      n_clusters=None if n_clusters is None else int(n_clusters), seed=seed,
                                      source=self._index)

    @property
    def partition(self) -> PrunedIndex | None:
        """The pruning structures in use (None until built, or once stale)."""
        part: PrunedIndex | None = getattr(self, "_partition", None)
        if part is None or part.source is not self._index or int(self._index.ntotal) < part.rows_built:
            return None
        return part

    def _partition_for_search(self) -> PrunedIndex | None:
        """The partition to search with, built or rebuilt when due; None: scan as before."""
        n = int(self._index.ntotal)
        if n < PRUNE_MIN_ROWS:
            return None
        part = self.partition
        if part is not None and n - part.rows_built <= TAIL_FRACTION * part.rows_built:
            return part
        searches = getattr(self, "_flat_searches", 0) + 1
        self._flat_searches = searches
        if part is None and searches < PRUNE_BUILD_AFTER:
            return None
        self._flat_searches = 0
        self.build_partition()
        return self._partition

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



def _member(values: np.ndarray, sorted_pool: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_pool)`` for a sorted pool, by binary search (cheaper for small arrays)."""
    if sorted_pool.size == 0:
        return np.zeros(values.shape[0], dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_pool, values), sorted_pool.size - 1)
    return sorted_pool[pos] == values
