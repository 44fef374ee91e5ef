"""The FAISS-backed similarity index: explainable combined-score search over a track library.

:class:`SimilarityIndex` holds the tracks (vectors inside FAISS, metadata in numpy arrays) and
answers :meth:`~SimilarityIndex.similar`. How a search stays exact (the vibe bound, metadata
rescoring, the HNSW checks) is described in :mod:`workbench.similarity.search_exact`; the saved
files in :mod:`workbench.similarity._storage`.

Removal
-------
Neither backend renumbers on removal: removed rows become tombstones, skipped at query time
(they still count against ``m``), and the FAISS index is rebuilt from the live rows once
tombstones exceed ``rebuild_fraction`` of the rows (for HNSW the rebuild costs as much as the
first build). :meth:`SimilarityIndex.compact` rebuilds on demand.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import IndexFileError, IndexNotFoundError, ParameterError, TrackNotFoundError
from workbench.similarity import _storage
from workbench.similarity._faiss import load_faiss as _faiss
from workbench.similarity._inputs import check_k, check_min_score, validate_ids, validate_tracks
from workbench.similarity._meta import MetaIndex
from workbench.similarity.query import Match, QueryLike
from workbench.similarity.scores import WeightsLike
from workbench.similarity.scoring import Scorer, build_matches, resolve_query
from workbench.similarity.search_exact import ExactSearch, SearchStats

KINDS: tuple[str, ...] = ("auto", "flat", "hnsw")
#: ``kind="auto"`` builds HNSW from this many live tracks on (flat below).
DEFAULT_HNSW_THRESHOLD: int = 50_000


def _check_int(value: Any, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < lo:
        raise ParameterError(f"{name} must be an integer >= {lo}; got {value!r}")
    return int(value)



class SimilarityIndex(ExactSearch):
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

        Parameters
        ----------
        ids : array-like of int, shape (m,)
            New, unique track ids.
        embeddings : array-like, shape (m, d)
            Their embeddings (``d`` is the index's dimension).
        bpm : array-like of float > 0, shape (m,)
            Tempo in BPM.
        camelot : sequence of str, length m
            Camelot key codes.
        energy : array-like of int in 1..10, shape (m,)
            Energy levels.

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

        Parameters
        ----------
        ids : array-like of int
            Track ids in the index.

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

        Parameters
        ----------
        query, k, min_score, weights, exclude_self
            As in :meth:`similar`.
        """
        k = check_k(k)
        min_score = check_min_score(min_score)
        scorer, _, exclude_row = self._resolve(query, weights, exclude_self)
        rows, scores = self._brute(scorer, k, exclude_row)
        return build_matches(scorer, rows, scores, vectors=self._vectors(), ids=self._ids, bpm=self._bpm,
                             key=self._key, energy=self._energy, min_score=min_score)

    # ------------------------------------------------------------------ persistence

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the index to ``folder`` (created if needed); returns the manifest's path.

        Writes ``index-<token>.faiss`` (FAISS), ``meta-<token>.npz`` (ids, bpm, compact key
        indices, energy, tombstones) and then the manifest ``similarity-index.json`` naming them, each atomically
        (:func:`workbench.fileio.atomic_write`: temp file, fsync, rename); older index/meta files
        in the folder are then deleted. A crash mid-save leaves the previous save loadable. Saves
        (and loads) of one folder are serialised by an ``flock`` on ``.similarity-index.lock``
        beside the index, so two processes saving at once leave one complete, loadable index.

        Parameters
        ----------
        folder : str or os.PathLike
            The index's folder.
        """
        root = Path(folder)
        arrays = {"ids": self._ids, "bpm": self._bpm, "key": self._key, "energy": self._energy, "alive": self._alive}
        settings = {
            "dim": self._dim, "rows": int(self._index.ntotal), "backend": self._backend, "kind": self._kind,
            "hnsw_threshold": self._hnsw_threshold, "hnsw_m": self._hnsw_m, "ef_construction": self._ef_construction,
            "ef_search": self._ef_search, "rebuild_fraction": self._rebuild_fraction,
        }
        return _storage.write_index(root, self._index, arrays, settings)

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> SimilarityIndex:
        """Read an index written by :meth:`save` (under a shared lock: never mid-save).

        Parameters
        ----------
        folder : str or os.PathLike
            The folder :meth:`save` wrote.

        Raises
        ------
        IndexNotFoundError
            ``folder`` has no ``similarity-index.json``.
        IndexFileError
            The files are missing, inconsistent or of an unknown format/version.
        """
        root = Path(folder)
        with _storage.reading(root):
            _faiss()
            manifest = _storage.read_manifest(root)
            obj = cls.__new__(cls)
            try:
                obj._set_options(manifest["kind"], manifest["hnsw_threshold"], manifest["hnsw_m"],
                                  manifest["ef_construction"], manifest["ef_search"], manifest["rebuild_fraction"])
                dim, rows, backend = int(manifest["dim"]), int(manifest["rows"]), manifest["backend"]
                index_path = root / Path(manifest["index_file"]).name
                meta_path = root / Path(manifest["meta_file"]).name
            except (KeyError, TypeError, ValueError, ParameterError) as exc:
                raise IndexFileError(f"bad similarity index manifest in {str(root)!r}: {exc}") from exc
            index, arrays = _storage.read_files(index_path, meta_path, root, dim=dim, rows=rows, backend=backend)
        obj._dim = dim
        obj._backend = backend
        obj._index = index
        obj._view = obj._probe = None
        obj._set_rows(arrays["ids"].astype(np.int64), arrays["bpm"].astype(np.float64),
                       arrays["key"].astype(np.int8), arrays["energy"].astype(np.int8),
                       arrays["alive"].astype(bool))
        obj._last = SearchStats("empty", 0, 0, True)
        return obj


__all__ = [
    "DEFAULT_HNSW_THRESHOLD",
    "KINDS",
    "IndexFileError",
    "IndexNotFoundError",
    "SearchStats",
    "SimilarityIndex",
]
