"""Explainable similarity search for DJ tracks: vibe, tempo, key and energy.

A track is an id, an embedding (cosine similarity), a BPM, a Camelot key and an energy level
1..10. :class:`SimilarityIndex` finds the tracks with the best *combined* score

``score = (w_v*vibe + w_t*tempo + w_k*key + w_e*energy) / (w_v + w_t + w_k + w_e)``

and explains each match (``"similar vibe (82%); Δ+2 BPM; key: 8A→9A (compatible); energy +1"``).
FAISS supplies vibe candidates; a bound on the other terms makes the flat index's answer
exactly the brute-force one (:func:`brute_force_similar`). See :mod:`workbench.similarity.search_exact`.

>>> from workbench.similarity import SimilarityIndex, Query, Weights
>>> index = SimilarityIndex(ids, embeddings, bpm, camelot, energy)            # doctest: +SKIP
>>> index.similar(42, k=5, weights=Weights(vibe=1, tempo=0.5, key=0.5, energy=0))  # doctest: +SKIP

Modules: :mod:`~workbench.similarity.query` (:class:`Query`, :class:`Match`),
:mod:`~workbench.similarity.scores` (component scores, :class:`Weights`),
:mod:`~workbench.similarity.scoring` (combined scores, :func:`brute_force_similar`),
:mod:`~workbench.similarity.search_exact` (the bounded FAISS search),
:mod:`~workbench.similarity.index` (:class:`SimilarityIndex`, save/load),
:mod:`~workbench.similarity.model` (the embedding model a library search ranks with: backbone +
optional trained head), :mod:`~workbench.similarity.sets` (tracks as window sets: the library
search's index), :mod:`~workbench.similarity.compare` (backbone vs head). ``CAMELOT_CODES`` is
:data:`workbench.camelot.CAMELOT_CODES` (wheel order).

Importing this package loads numpy only; FAISS is imported when an index is built or loaded.
"""

from __future__ import annotations

from workbench.camelot import CAMELOT_CODES
from workbench.similarity.index import (
    DEFAULT_HNSW_THRESHOLD,
    IndexFileError,
    IndexNotFoundError,
    SearchStats,
    SimilarityIndex,
)
from workbench.similarity.query import Match, Query, format_explanation
from workbench.similarity.scores import (
    KEY_RELATION_SCORES,
    Weights,
    energy_score,
    key_relation,
    key_score,
    tempo_delta,
    tempo_score,
    vibe_score,
)
from workbench.similarity.scoring import brute_force_similar

__all__ = [
    "CAMELOT_CODES",
    "DEFAULT_HNSW_THRESHOLD",
    "KEY_RELATION_SCORES",
    "IndexFileError",
    "IndexNotFoundError",
    "Match",
    "Query",
    "SearchStats",
    "SimilarityIndex",
    "Weights",
    "brute_force_similar",
    "energy_score",
    "format_explanation",
    "key_relation",
    "key_score",
    "tempo_delta",
    "tempo_score",
    "vibe_score",
]
