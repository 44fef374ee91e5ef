"""Explainable similarity search for DJ tracks: vibe, tempo, key and energy.

A track is an id, an embedding (cosine similarity), a BPM, a Camelot key and an energy level
1..10. :class:`SimilarityIndex` finds the tracks with the best *combined* score

``score = (w_v*vibe + w_t*tempo + w_k*key + w_e*energy) / (w_v + w_t + w_k + w_e)``

and explains each match (``"similar vibe (82%); Δ+2 BPM; key: 8A→9A (compatible); energy +1"``).
FAISS supplies vibe candidates; a bound on the other terms makes the flat index's answer
exactly the brute-force one (:func:`brute_force_similar`). See :mod:`workbench.similarity.index`.

>>> from workbench.similarity import SimilarityIndex, Query, Weights
>>> index = SimilarityIndex(ids, embeddings, bpm, camelot, energy)            # doctest: +SKIP
>>> index.similar(42, k=5, weights=Weights(vibe=1, tempo=0.5, key=0.5, energy=0))  # doctest: +SKIP

Importing this package loads numpy only; FAISS is imported when an index is built or loaded.
"""

from __future__ import annotations

from workbench.similarity._core import Match, Query, brute_force_similar, format_explanation
from workbench.similarity.index import (
    DEFAULT_HNSW_THRESHOLD,
    IndexFileError,
    IndexNotFoundError,
    SearchStats,
    SimilarityIndex,
)
from workbench.similarity.scores import (
    CAMELOT_CODES,
    KEY_RELATION_SCORES,
    Weights,
    energy_score,
    key_relation,
    key_score,
    tempo_delta,
    tempo_score,
    vibe_score,
)

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
