"""Exact combined scores: the resolved query (:class:`Scorer`), top-k ordering, :class:`Match`
building and the brute-force reference (:func:`brute_force_similar`) that the index must equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.camelot import code_at
from workbench.errors import ParameterError, TrackNotFoundError
from workbench.similarity._inputs import (
    _as_vector,
    check_k,
    check_min_score,
    cosine_rows,
    is_track_id,
    normalize_rows,
    validate_tracks,
)
from workbench.similarity.query import Match, Query, QueryLike, format_explanation, tempo_match_of
from workbench.similarity.scores import (
    Weights,
    WeightsLike,
    _energy_table,
    _key_tables,
    _tempo_delta,
    _tempo_from_delta,
    camelot_index,
)

_DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True, eq=False)
class Scorer:
    """A resolved query: normalised vector, metadata (``None`` for raw vectors) and weights.

    ``w`` are the normalised weights ``(vibe, tempo, key, energy)``; for a raw vector query
    they are ``(1, 0, 0, 0)``.

    The score is not clipped here: results are ranked, and ``min_score`` compared, on :meth:`score` as it is.
    :func:`build_matches` clips only the ``Match.score`` it shows to [0, 1], and that clip is harmless (checked,
    session 22, ``tests/test_search_display22.py``): every term is already in [0, 1] (the vibe is the cosine
    clipped at 0 by :func:`~workbench.similarity.vectors.cosine_rows`, as :mod:`~workbench.similarity.scores`
    documents: an opposite sound reads "different vibe (0%)", no negative term is there to hide) and the
    normalised weights sum to 1, so the score leaves [0, 1] only by float rounding (a few ulp above 1); the clip
    makes no tie the ranking does not have beyond that, and hides nothing. What does tie is the vibe clip
    itself: tracks whose cosine is below 0 all read vibe 0 and are ordered by tempo, key and energy (then id),
    which is the documented meaning of 0 % (no shared sound), not an effect of this clip.
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
        """``w_t*tempo + w_k*key + w_e*energy`` per row (float64); zeros for a raw vector query.

        Parameters
        ----------
        bpm : np.ndarray [shape=(n,)]
            Tempo of each row in BPM.
        key : np.ndarray [shape=(n,)]
            Compact Camelot key index (0..23) of each row.
        energy : np.ndarray [shape=(n,)]
            Energy level (1..10) of each row.
        """
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
        """``w_v*vibe + rest``; monotone in both arguments (IEEE rounding is monotone).

        Parameters
        ----------
        vibe : np.ndarray or float
            Vibe scores (cosine similarity).
        rest : np.ndarray or float
            What :meth:`rest` returned.
        """
        return self.w[0] * np.asarray(vibe, dtype=np.float64) + rest

    def score(self, vectors: np.ndarray, bpm: np.ndarray, key: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """Combined scores of rows (float64).

        Parameters
        ----------
        vectors : np.ndarray [shape=(n, d)]
            L2-normalised embeddings.
        bpm : np.ndarray [shape=(n,)]
            Tempo of each row in BPM.
        key : np.ndarray [shape=(n,)]
            Compact Camelot key index (0..23) of each row.
        energy : np.ndarray [shape=(n,)]
            Energy level (1..10) of each row.
        """
        return self.combine(cosine_rows(vectors, self.q), self.rest(bpm, key, energy))


def resolve_query(
    query: QueryLike,
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

    Parameters
    ----------
    query : int, Query or array-like of shape (d,)
        See :meth:`SimilarityIndex.similar`.
    weights : Weights, mapping or None
        Component weights; None: the defaults.
    dim : int
        The index's dimension.
    row_of : callable (int) -> int or None
        A track id's row, None when not indexed.
    vectors : callable (int) -> np.ndarray
        A row's stored (normalised) embedding.
    bpm : np.ndarray [shape=(n,)]
        Tempo of each row in BPM.
    key : np.ndarray [shape=(n,)]
        Compact Camelot key index (0..23) of each row.
    energy : np.ndarray [shape=(n,)]
        Energy level (1..10) of each row.
    exclude_self : bool
        Checked to be a bool here; the caller applies it.

    Raises
    ------
    TrackNotFoundError
        A track id that is not indexed.
    ParameterError
        Any other bad query, dimension or weights.
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
    """The k-th largest value (``-inf`` when there are fewer than k).

    Parameters
    ----------
    scores : np.ndarray [shape=(m,)]
        Scores.
    k : int >= 1
        Rank.
    """
    m = scores.shape[0]
    if m < k:
        return -math.inf
    return float(np.partition(scores, m - k)[m - k])


def top_k_order(scores: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Positions of the best ``k`` by score descending, then id ascending; ``-inf`` left out.

    Parameters
    ----------
    scores : np.ndarray [shape=(m,)]
        Scores.
    ids : np.ndarray [shape=(m,)]
        Track ids, the tie-break.
    k : int >= 1
        How many.
    """
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
    """:class:`Match` objects for ``rows`` (already ordered) with their combined ``scores``.

    Parameters
    ----------
    scorer : Scorer
        The query.
    rows : np.ndarray [shape=(m,)]
        Result rows, in result order.
    scores : np.ndarray [shape=(m,)]
        Their combined scores.
    vectors : np.ndarray [shape=(n, d)]
        All rows' normalised embeddings.
    ids : np.ndarray [shape=(n,)]
        All rows' track ids.
    bpm : np.ndarray [shape=(n,)]
        Tempo of each row in BPM.
    key : np.ndarray [shape=(n,)]
        Compact Camelot key index (0..23) of each row.
    energy : np.ndarray [shape=(n,)]
        Energy level (1..10) of each row.
    min_score : float or None
        Drop matches below it.
    """
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
        key_from = code_at(scorer.key)
    for j, row in enumerate(rows.tolist()):
        key_to = code_at(int(key[row]))
        v = float(vibe[j])
        explanation = format_explanation(vibe=v, bpm_delta=deltas[j], key_from=key_from, key_to=key_to,
                                         energy_delta=e_deltas[j], tempo_match=tempo_match_of(
                                             scorer.bpm, float(bpm[row])))
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
    """Score every row and return (rows in result order, their scores): the exact reference.

    Parameters
    ----------
    scorer : Scorer
        The query.
    k : int >= 1
        How many.
    vectors : np.ndarray [shape=(n, d)]
        Normalised embeddings.
    ids : np.ndarray [shape=(n,)]
        Track ids (the tie-break).
    bpm : np.ndarray [shape=(n,)]
        Tempo of each row in BPM.
    key : np.ndarray [shape=(n,)]
        Compact Camelot key index (0..23) of each row.
    energy : np.ndarray [shape=(n,)]
        Energy level (1..10) of each row.
    alive : np.ndarray of bool [shape=(n,)] or None
        Rows not removed; None: all.
    exclude_row : int or None
        A row to leave out (the query's own).
    """
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
