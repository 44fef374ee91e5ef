"""Value objects, validation and the numpy scoring core shared by the index and brute force.

Exactness rests on one rule: a track's combined score is computed by the same element-wise
operations whether it is scored alone, among FAISS candidates or in a full brute-force pass.
The cosine is ``np.einsum("ij,j->i")`` over float32 rows, whose per-row result does not depend
on which other rows are in the batch (BLAS ``gemv`` does depend on it: a row's last bit
changes with its position), and everything else is element-wise. So ties (duplicated
tracks) are ties in both paths, broken by id.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from workbench.errors import ParameterError, TrackNotFoundError
from workbench.similarity.scores import (
    CAMELOT_CODES,
    ENERGY_RANGE,
    KEY_RELATION_SCORES,
    Weights,
    WeightsLike,
    _canonical_lookup,
    _energy_table,
    _key_tables,
    _preview,
    _tempo_delta,
    _tempo_from_delta,
    camelot_index,
    canonical_camelot,
    key_relation,
)

_NORMALIZE_CHUNK_ROWS = 65536
_DEFAULT_WEIGHTS = Weights()


# --------------------------------------------------------------------------- value objects


@dataclass(frozen=True, eq=False)
class Query:
    """A track that is not (necessarily) in the index: its embedding and metadata.

    Parameters
    ----------
    vector : array-like, shape (d,)
        Its embedding (any scale; L2-normalised when searching). Stored as a read-only
        float32 copy.
    bpm : float > 0
        Tempo in BPM.
    camelot : str
        Camelot key code, ``"1A"``..``"12B"`` (stored in canonical form, ``" 8a"`` -> ``"8A"``).
    energy : int in 1..10
        Energy level.
    """

    vector: np.ndarray
    bpm: float
    camelot: str
    energy: int

    def __post_init__(self) -> None:
        vec = _as_vector(self.vector, "Query.vector")
        normalize_rows(vec[None, :], name="Query.vector")  # finite and nonzero, or raise
        vec = vec.astype(np.float32)
        vec.setflags(write=False)
        object.__setattr__(self, "vector", vec)
        object.__setattr__(self, "bpm", _as_bpm_scalar(self.bpm, "Query.bpm"))
        object.__setattr__(self, "camelot", canonical_camelot(self.camelot, name="Query.camelot"))
        object.__setattr__(self, "energy", _as_energy_scalar(self.energy, "Query.energy"))


@dataclass(frozen=True)
class Match:
    """One result of a similarity search, with its explanation.

    Attributes
    ----------
    id : int
        The track.
    score : float in [0, 1]
        Combined score: the weighted mean of the component scores (weights normalised).
    vibe, tempo, key, energy : float in [0, 1]
        Component scores. ``tempo``, ``key`` and ``energy`` are ``None`` for a query by raw
        vector (its tempo, key and energy are unknown).
    bpm_delta : float or None
        Candidate minus query tempo in BPM, after half/double-time matching.
    key_from, key_to : str
        Query and candidate Camelot codes (``key_from`` is ``None`` for a raw vector query).
    energy_delta : int or None
        Candidate minus query energy level.
    explanation : str
        E.g. ``"similar vibe (82%); Δ+2 BPM; key: 8A→9A (compatible); energy +1"``; see
        :func:`format_explanation`.
    """

    id: int
    score: float
    vibe: float
    tempo: float | None
    key: float | None
    energy: float | None
    bpm_delta: float | None
    key_from: str | None
    key_to: str
    energy_delta: int | None
    explanation: str

    def __post_init__(self) -> None:
        for name in ("score", "vibe", "tempo", "key", "energy"):
            value = getattr(self, name)
            if value is None and name not in ("score", "vibe"):
                continue
            if not (isinstance(value, float) and 0.0 <= value <= 1.0):
                raise ParameterError(f"Match.{name} must be a float in [0, 1]; got {value!r}")
        if self.key_to not in CAMELOT_CODES or (self.key_from is not None and self.key_from not in CAMELOT_CODES):
            raise ParameterError(f"Match keys must be canonical Camelot codes; got {self.key_from!r}, {self.key_to!r}")


def format_explanation(
    *,
    vibe: float,
    bpm_delta: float | None = None,
    key_from: str | None = None,
    key_to: str | None = None,
    energy_delta: int | None = None,
) -> str:
    """The one-line explanation of a match.

    Parts, joined by ``"; "``:

    * ``"similar vibe (82%)"`` -- the vibe score as a percent, rounded half up;
    * ``"Δ+2 BPM"`` / ``"Δ-3 BPM"`` -- the BPM delta rounded half away from zero;
      ``"same BPM"`` when it rounds to 0;
    * ``"key: 8A (same)"`` or ``"key: 8A→9A (compatible)"`` with ``relative``, ``compatible``,
      ``two steps`` or ``clash`` (see :func:`~workbench.similarity.key_relation`);
    * ``"energy +1"`` / ``"energy -2"`` / ``"energy same"``.

    Parts whose inputs are ``None`` are left out (a raw vector query explains only the vibe).
    """
    parts = [f"similar vibe ({math.floor(vibe * 100.0 + 0.5)}%)"]
    if bpm_delta is not None:
        rounded = int(math.copysign(math.floor(abs(bpm_delta) + 0.5), bpm_delta))
        parts.append("same BPM" if rounded == 0 else f"Δ{rounded:+d} BPM")
    if key_from is not None and key_to is not None:
        relation = key_relation(key_from, key_to)
        if relation == "same":
            parts.append(f"key: {key_from} (same)")
        else:
            parts.append(f"key: {key_from}→{key_to} ({relation})")
    if energy_delta is not None:
        parts.append("energy same" if energy_delta == 0 else f"energy {energy_delta:+d}")
    return "; ".join(parts)


QueryLike = Union[int, Query, np.ndarray, Sequence[float]]  # noqa: UP007 (a runtime alias on 3.10)


# --------------------------------------------------------------------------- validation


def _as_vector(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a 1-D array of real numbers; got {_preview(value)}") from exc
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ParameterError(f"{name} must be a 1-D array of real numbers; got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ParameterError(f"{name} must be a non-empty 1-D vector; got shape {arr.shape}")
    return arr


def _as_bpm_scalar(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
        math.isfinite(float(value)) and float(value) > 0
    ):
        raise ParameterError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def _as_energy_scalar(value: Any, name: str) -> int:
    lo, hi = ENERGY_RANGE
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= int(value) <= hi:
        raise ParameterError(f"{name} must be an integer in {lo}..{hi}; got {value!r}")
    return int(value)


def check_k(k: Any) -> int:
    """``k`` as an int >= 1, or raise."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or int(k) < 1:
        raise ParameterError(f"k must be an integer >= 1; got {k!r}")
    return int(k)


def check_min_score(min_score: Any) -> float | None:
    """``min_score`` as a float in [0, 1] or ``None``, or raise."""
    if min_score is None:
        return None
    if isinstance(min_score, bool) or not isinstance(min_score, numbers.Real) or not 0.0 <= float(min_score) <= 1.0:
        raise ParameterError(f"min_score must be None or a number in [0, 1]; got {min_score!r}")
    return float(min_score)


def is_track_id(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def validate_ids(ids: Any, *, name: str = "ids") -> np.ndarray:
    """1-D int64 array of unique ids, or raise."""
    try:
        arr = np.asarray(ids)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ParameterError(f"{name} must be a 1-D sequence of integers; got {_preview(ids)}") from exc
    if arr.ndim != 1:
        raise ParameterError(f"{name} must be a 1-D sequence of integers; got shape {arr.shape}")
    if arr.size and (arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer)):
        raise ParameterError(f"{name} must be integers; got dtype {arr.dtype} ({_preview(ids)})")
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ParameterError(f"{name} must fit in int64; got {int(arr.max())}")
    out = arr.astype(np.int64)
    if out.size > 1:
        uniq, counts = np.unique(out, return_counts=True)
        if (counts > 1).any():
            first = int(np.argmax(counts > 1))
            raise ParameterError(f"{name} must be unique; id {int(uniq[first])} appears {int(counts[first])} times")
    return out


def validate_tracks(
    ids: Any, embeddings: Any, bpm: Any, camelot: Any, energy: Any, *, dim: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check track arrays and bring them to storage form.

    Parameters
    ----------
    ids : array-like of int, shape (n,)
    embeddings : array-like of float, shape (n, d)
    bpm : array-like of float > 0, shape (n,)
    camelot : sequence of str, length n
    energy : array-like of int in 1..10, shape (n,)
    dim : int or None
        Required ``d`` (an existing index's dimension).

    Returns
    -------
    (ids int64 (n,), vectors float32 (n, d) L2-normalised, bpm float64 (n,), key int8 (n,) indices
    into CAMELOT_CODES, energy int8 (n,))
    """
    id_arr = validate_ids(ids)
    n = id_arr.shape[0]
    try:
        emb = np.asarray(embeddings)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"embeddings must be a 2-D array of real numbers; got {_preview(embeddings)}") from exc
    if emb.dtype == np.bool_ or not (np.issubdtype(emb.dtype, np.floating) or np.issubdtype(emb.dtype, np.integer)):
        raise ParameterError(f"embeddings must be real numbers (float32 preferred); got dtype {emb.dtype}")
    if emb.ndim != 2:
        raise ParameterError(f"embeddings must be 2-D, shape (n, d); got shape {emb.shape}")
    if emb.shape[1] < 1:
        raise ParameterError(f"embeddings must have d >= 1 columns; got shape {emb.shape}")
    if dim is not None and emb.shape[1] != dim:
        raise ParameterError(f"embeddings must have {dim} columns (the index's dimension); got shape {emb.shape}")
    if isinstance(camelot, str):
        raise ParameterError(f"camelot must be a sequence of Camelot codes, one per track; got the string {camelot!r}")
    lengths = {"ids": n, "embeddings": emb.shape[0]}
    for name, value in (("bpm", bpm), ("camelot", camelot), ("energy", energy)):
        if np.ndim(value) != 1:
            raise ParameterError(f"{name} must be 1-D, one value per track; got {_preview(value)}")
        lengths[name] = len(value)
    if len(set(lengths.values())) != 1:
        text = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ParameterError(f"lengths must match (one row per track); got {text}")
    bpm_arr = _as_real_1d(bpm, "bpm")
    bad = ~(np.isfinite(bpm_arr) & (bpm_arr > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ParameterError(f"bpm must be finite and > 0; got {bpm_arr[i].item()!r} for id {int(id_arr[i])}")
    key_arr = _camelot_1d(camelot, id_arr)
    energy_arr = np.asarray(energy)
    lo, hi = ENERGY_RANGE
    if energy_arr.size and (energy_arr.dtype == np.bool_ or not np.issubdtype(energy_arr.dtype, np.integer)):
        raise ParameterError(f"energy must be integers in {lo}..{hi}; got dtype {energy_arr.dtype}")
    bad = (energy_arr < lo) | (energy_arr > hi)
    if bad.any():
        i = int(np.argmax(bad))
        raise ParameterError(f"energy must be integers in {lo}..{hi}; got {energy_arr[i].item()!r} for id {int(id_arr[i])}")
    vectors = normalize_rows(emb, name="embeddings", ids=id_arr)
    return id_arr, vectors, bpm_arr, key_arr, energy_arr.astype(np.int8)


def _as_real_1d(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.size and (arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer))):
        raise ParameterError(f"{name} must be real numbers; got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _camelot_1d(camelot: Any, ids: np.ndarray) -> np.ndarray:
    """Camelot indices of a sequence of codes; a bad code's error names its track id."""
    codes = list(camelot)
    try:
        return camelot_index(np.array(codes, dtype=object))
    except ParameterError:
        lookup = _canonical_lookup()
        for i, code in enumerate(codes):
            if not isinstance(code, str) or code.strip().upper() not in lookup:
                raise ParameterError(
                    f"camelot must be Camelot codes 1A..12A or 1B..12B; got {code!r} for id {int(ids[i])}"
                ) from None
        raise


def normalize_rows(x: np.ndarray, *, name: str = "embeddings", ids: np.ndarray | None = None) -> np.ndarray:
    """L2-normalise rows into a new C-contiguous float32 array (computed in float64, row by row).

    The result of a row depends only on that row, so normalising a library at once or in
    batches gives the same bits.

    Raises
    ------
    ParameterError
        A row has NaN/inf, or is all zeros (naming its id when ``ids`` is given).
    """
    x = np.asarray(x)
    n, d = x.shape
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, _NORMALIZE_CHUNK_ROWS):
        block = np.asarray(x[start : start + _NORMALIZE_CHUNK_ROWS], dtype=np.float64)
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            i = start + int(np.argmin(finite))
            raise ParameterError(f"{name} must be finite; row {i}{_id_text(ids, i)} contains NaN or inf")
        norms = np.sqrt(np.add.reduce(block * block, axis=1))
        ok = (norms > 0) & np.isfinite(norms)
        if not ok.all():
            i = start + int(np.argmin(ok))
            what = "is a zero vector" if norms[i - start] == 0 else "is too large to normalise"
            raise ParameterError(
                f"{name} row {i}{_id_text(ids, i)} {what}; cosine similarity needs a finite nonzero vector"
            )
        out[start : start + block.shape[0]] = block / norms[:, None]
    return out


def _id_text(ids: np.ndarray | None, i: int) -> str:
    return f" (id {int(ids[i])})" if ids is not None else ""


# --------------------------------------------------------------------------- scoring


def cosine_rows(vectors: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``clip(vectors @ q, 0, 1)`` as float64, for L2-normalised float32 rows and query.

    ``einsum`` (not BLAS): each row's value is independent of the batch it is computed in.
    """
    raw = np.einsum("ij,j->i", np.ascontiguousarray(vectors, dtype=np.float32), q)
    return np.clip(raw.astype(np.float64), 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class Scorer:
    """A resolved query: normalised vector, metadata (``None`` for raw vectors) and weights.

    ``w`` are the normalised weights ``(vibe, tempo, key, energy)``; for a raw vector query
    they are ``(1, 0, 0, 0)``.
    """

    q: np.ndarray
    bpm: float | None
    key: int | None
    energy: int | None
    w: tuple[float, float, float, float]

    @property
    def has_meta(self) -> bool:
        return self.bpm is not None

    def rest(self, bpm: np.ndarray, key: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """``w_t*tempo + w_k*key + w_e*energy`` per row (float64); zeros for a raw vector query."""
        if self.bpm is None or self.key is None or self.energy is None:
            return np.zeros(np.shape(bpm)[0], dtype=np.float64)
        _, wt, wk, we = self.w
        tempo = _tempo_from_delta(_tempo_delta(self.bpm, bpm))
        keys = _key_tables()[1][self.key][key]
        energies = _energy_table()[np.abs(energy.astype(np.int64) - self.energy)]
        return (wt * tempo + wk * keys) + we * energies

    def rest_max(self) -> float:
        """The largest value :meth:`rest` can return (all three components 1), same rounding."""
        if self.bpm is None or self.key is None or self.energy is None:
            return 0.0
        _, wt, wk, we = self.w
        return float((wt * np.float64(1.0) + wk * np.float64(1.0)) + we * np.float64(1.0))

    def combine(self, vibe: np.ndarray | float, rest: np.ndarray | float) -> np.ndarray:
        """``w_v*vibe + rest``; monotone in both arguments (IEEE rounding is monotone)."""
        return self.w[0] * np.asarray(vibe, dtype=np.float64) + rest

    def score(self, vectors: np.ndarray, bpm: np.ndarray, key: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """Combined scores of rows (float64)."""
        return self.combine(cosine_rows(vectors, self.q), self.rest(bpm, key, energy))


def resolve_query(
    query: Any,
    *,
    weights: WeightsLike,
    dim: int,
    row_of: Callable[[int], int | None],
    vectors: Callable[[int], np.ndarray],
    bpm: np.ndarray,
    key: np.ndarray,
    energy: np.ndarray,
    exclude_self: bool,
) -> tuple[Scorer, int | None]:
    """Turn a track id, :class:`Query` or raw vector into a :class:`Scorer` and the query's own row.

    The row is ``None`` unless ``query`` is a track id.
    """
    w = _DEFAULT_WEIGHTS if weights is None else Weights.coerce(weights)
    if not isinstance(exclude_self, (bool, np.bool_)):
        raise ParameterError(f"exclude_self must be True or False; got {exclude_self!r}")
    if is_track_id(query):
        row = row_of(int(query))
        if row is None:
            raise TrackNotFoundError(f"track id {int(query)} is not in the similarity index")
        q = np.array(vectors(row), dtype=np.float32)  # stored rows are already normalised
        scorer = Scorer(q, float(bpm[row]), int(key[row]), int(energy[row]), w.normalized())
        return scorer, row
    if isinstance(query, Query):
        vec = query.vector
        meta: tuple[float, int, int] | None = (query.bpm, int(camelot_index(query.camelot)), query.energy)
    elif isinstance(query, (np.ndarray, list, tuple)):
        vec = _as_vector(query, "query")
        meta = None
    else:
        raise ParameterError(
            f"query must be a track id (int), a Query or a 1-D embedding vector; got {type(query).__name__}"
        )
    if vec.shape[0] != dim:
        raise ParameterError(f"query vector must have {dim} values (the index's dimension); got {vec.shape[0]}")
    q = normalize_rows(vec[None, :], name="query vector")[0]
    if meta is None:
        if w.vibe == 0:
            raise ParameterError(
                "weights['vibe'] must be > 0 for a query by raw vector (only its vibe is known); got 0.0"
            )
        return Scorer(q, None, None, None, (1.0, 0.0, 0.0, 0.0)), None
    return Scorer(q, meta[0], meta[1], meta[2], w.normalized()), None


def kth_largest(scores: np.ndarray, k: int) -> float:
    """The k-th largest value (``-inf`` when there are fewer than k)."""
    m = scores.shape[0]
    if m < k:
        return -math.inf
    return float(np.partition(scores, m - k)[m - k])


def top_k_order(scores: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Positions of the best ``k`` by score descending, then id ascending; ``-inf`` left out."""
    m = scores.shape[0]
    if m > k:
        pos = np.flatnonzero(scores >= kth_largest(scores, k))
    else:
        pos = np.arange(m)
    pos = pos[scores[pos] > -math.inf]
    return pos[np.lexsort((ids[pos], -scores[pos]))][:k]


def build_matches(
    scorer: Scorer,
    rows: np.ndarray,
    scores: np.ndarray,
    *,
    vectors: np.ndarray,
    ids: np.ndarray,
    bpm: np.ndarray,
    key: np.ndarray,
    energy: np.ndarray,
    min_score: float | None,
) -> list[Match]:
    """:class:`Match` objects for ``rows`` (already ordered) with their combined ``scores``."""
    keep = scores >= min_score if min_score is not None else np.ones(rows.shape[0], dtype=bool)
    rows, scores = rows[keep], scores[keep]
    if rows.size == 0:
        return []
    vibe = cosine_rows(vectors[rows], scorer.q)
    out = []
    n = rows.shape[0]
    tempo: list[float | None] = [None] * n
    keys: list[float | None] = [None] * n
    energies: list[float | None] = [None] * n
    deltas: list[float | None] = [None] * n
    e_deltas: list[int | None] = [None] * n
    key_from: str | None = None
    if scorer.bpm is not None and scorer.key is not None and scorer.energy is not None:
        delta = _tempo_delta(scorer.bpm, bpm[rows])
        e_delta = energy[rows].astype(np.int64) - scorer.energy
        deltas, e_deltas = delta.tolist(), e_delta.tolist()
        tempo = _tempo_from_delta(delta).tolist()
        keys = _key_tables()[1][scorer.key][key[rows]].tolist()
        energies = _energy_table()[np.abs(e_delta)].tolist()
        key_from = CAMELOT_CODES[scorer.key]
    for j, row in enumerate(rows.tolist()):
        key_to = CAMELOT_CODES[int(key[row])]
        v = float(vibe[j])
        explanation = format_explanation(vibe=v, bpm_delta=deltas[j], key_from=key_from, key_to=key_to,
                                         energy_delta=e_deltas[j])
        out.append(Match(id=int(ids[row]), score=min(1.0, max(0.0, float(scores[j]))), vibe=v, tempo=tempo[j],
                         key=keys[j], energy=energies[j], bpm_delta=deltas[j], key_from=key_from, key_to=key_to,
                         energy_delta=e_deltas[j], explanation=explanation))
    return out


def brute_force_rows(
    scorer: Scorer,
    k: int,
    *,
    vectors: np.ndarray,
    ids: np.ndarray,
    bpm: np.ndarray,
    key: np.ndarray,
    energy: np.ndarray,
    alive: np.ndarray | None,
    exclude_row: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Score every row and return (rows in result order, their scores): the exact reference."""
    scores = scorer.score(vectors, bpm, key, energy)
    if alive is not None:
        scores[~alive] = -math.inf
    if exclude_row is not None:
        scores[exclude_row] = -math.inf
    order = top_k_order(scores, ids, k)
    return order, scores[order]


def brute_force_similar(
    query: QueryLike,
    *,
    ids: Any,
    embeddings: Any,
    bpm: Any,
    camelot: Any,
    energy: Any,
    k: int = 10,
    min_score: float | None = None,
    weights: WeightsLike = None,
    exclude_self: bool = True,
) -> list[Match]:
    """Exact similarity search by scoring every track with numpy: the reference for the index.

    Takes the same track arrays as :class:`~workbench.similarity.SimilarityIndex` and the same
    query and options as :meth:`~workbench.similarity.SimilarityIndex.similar`, and returns
    the same list (same ids, order and scores) as the exact (flat) index does. No FAISS.

    Parameters
    ----------
    query : int, Query or array-like of shape (d,)
        A track id among ``ids``, a :class:`Query`, or a raw embedding (scores vibe only).
    ids, embeddings, bpm, camelot, energy
        The library; shapes (n,), (n, d), (n,), (n,), (n,).
    k : int >= 1
        How many matches at most.
    min_score : float in [0, 1] or None
        Drop matches scoring below it.
    weights : Weights, mapping or None
        Component weights (default :class:`Weights`).
    exclude_self : bool
        For a track id query, leave that track out.

    Returns
    -------
    list of Match
        Best first: score descending, then id ascending.
    """
    k = check_k(k)
    min_score = check_min_score(min_score)
    id_arr, vecs, bpm_arr, key_arr, energy_arr = validate_tracks(ids, embeddings, bpm, camelot, energy)
    lookup = {int(v): i for i, v in enumerate(id_arr.tolist())} if is_track_id(query) else {}
    scorer, self_row = resolve_query(
        query, weights=weights, dim=vecs.shape[1], row_of=lookup.get, vectors=lambda r: vecs[r],
        bpm=bpm_arr, key=key_arr, energy=energy_arr, exclude_self=exclude_self,
    )
    exclude_row = self_row if exclude_self else None
    rows, scores = brute_force_rows(scorer, k, vectors=vecs, ids=id_arr, bpm=bpm_arr, key=key_arr,
                                    energy=energy_arr, alive=None, exclude_row=exclude_row)
    return build_matches(scorer, rows, scores, vectors=vecs, ids=id_arr, bpm=bpm_arr, key=key_arr,
                         energy=energy_arr, min_score=min_score)


__all__ = [
    "KEY_RELATION_SCORES",
    "Match",
    "Query",
    "QueryLike",
    "brute_force_similar",
    "format_explanation",
]
