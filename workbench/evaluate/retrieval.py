"""Retrieval metrics of an embedding space: each item queries all the others (itself excluded).

Similarity is cosine (rows are normalised; exact search with numpy). As in
pytorch-metric-learning's ``AccuracyCalculator``, queries whose class has no other member
("lone" queries) are left out, since they have nothing to retrieve.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import ParameterError
from workbench.evaluate._validate import embeddings_and_labels, normalize

_CHUNK = 1024


def _neighbours(emb: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of each row's k most cosine-similar other rows, best first."""
    x = normalize(emb)
    n = x.shape[0]
    k = min(k, n - 1)
    out = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, _CHUNK):
        sim = x[start:start + _CHUNK] @ x.T
        rows = np.arange(sim.shape[0])
        sim[rows, start + rows] = -np.inf  # the query is not its own neighbour
        part = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k < n else np.argsort(-sim, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sim, part, axis=1), axis=1, kind="stable")
        out[start:start + sim.shape[0]] = np.take_along_axis(part, order, axis=1)
    return out


def _prepare(embeddings: object, labels: object, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(hits (q, k) bool, relevant count per query (q,), query labels, kept mask) for non-lone queries."""
    emb, lab = embeddings_and_labels(embeddings, labels)
    _, inverse, counts = np.unique(lab, return_inverse=True, return_counts=True)
    relevant = counts[inverse] - 1
    keep = relevant > 0
    if not keep.any():
        raise ParameterError("retrieval needs a class with at least 2 items; every class in labels has 1")
    nn = _neighbours(emb, k)
    hits = lab[nn] == lab[:, None]
    return hits[keep], relevant[keep], lab[keep], keep


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be an integer >= 1; got {k!r}")
    return int(k)


def precision_at_k(embeddings: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Mean fraction of each query's ``k`` nearest other items that share its label.

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
    labels : np.ndarray [shape=(n,)]
    k : int >= 1
        Capped at ``n - 1`` (the number of other items).
    """
    k = _check_k(k)
    hits, _, _, _ = _prepare(embeddings, labels, k)
    return float(np.mean(hits.sum(axis=1) / hits.shape[1]))


def _r_metrics(hits: np.ndarray, relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-query R-precision and average precision at R."""
    r_max = hits.shape[1]
    cols = np.arange(1, r_max + 1)
    within_r = cols[None, :] <= relevant[:, None]
    h = hits & within_r
    r_prec = h.sum(axis=1) / relevant
    precision_at_i = np.cumsum(h, axis=1) / cols[None, :]
    ap_r = (precision_at_i * h).sum(axis=1) / relevant
    return r_prec, ap_r


def r_precision(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """Mean over queries of the fraction of same-label items among the R nearest (R = its class size - 1)."""
    emb, lab = embeddings_and_labels(embeddings, labels)
    r_max = int(np.unique(lab, return_counts=True)[1].max()) - 1
    hits, relevant, _, _ = _prepare(emb, lab, max(r_max, 1))
    return float(np.mean(_r_metrics(hits, relevant)[0]))


def map_at_r(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """Mean average precision at R (Musgrave et al. 2020, "A metric learning reality check")."""
    emb, lab = embeddings_and_labels(embeddings, labels)
    r_max = int(np.unique(lab, return_counts=True)[1].max()) - 1
    hits, relevant, _, _ = _prepare(emb, lab, max(r_max, 1))
    return float(np.mean(_r_metrics(hits, relevant)[1]))


def retrieval_metrics(embeddings: np.ndarray, labels: np.ndarray, *, per_class: bool = False) -> dict:
    """``precision_at_1``, ``precision_at_5``, ``r_precision``, ``map_at_r`` and ``n_queries``.

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
        One vector per item (held-out set); compared by cosine similarity.
    labels : np.ndarray [shape=(n,)]
        Class of each item (ints or strings).
    per_class : bool
        Also return ``per_class`` = {label: {"precision_at_1", "r_precision", "n"}}.

    Returns
    -------
    dict of float (``n_queries`` is an int: the queries whose class has another member)
    """
    emb, lab = embeddings_and_labels(embeddings, labels)
    r_max = int(np.unique(lab, return_counts=True)[1].max()) - 1
    k = max(r_max, 5, 1)
    hits, relevant, qlab, _ = _prepare(emb, lab, k)
    k5 = min(5, hits.shape[1])
    r_prec, ap_r = _r_metrics(hits[:, :max(r_max, 1)], relevant)
    out: dict = {
        "precision_at_1": float(np.mean(hits[:, 0])),
        "precision_at_5": float(np.mean(hits[:, :k5].sum(axis=1) / k5)),
        "r_precision": float(np.mean(r_prec)),
        "map_at_r": float(np.mean(ap_r)),
        "n_queries": int(hits.shape[0]),
    }
    if per_class:
        out["per_class"] = {
            str(c): {"precision_at_1": float(np.mean(hits[qlab == c, 0])),
                     "r_precision": float(np.mean(r_prec[qlab == c])),
                     "n": int(np.sum(qlab == c))}
            for c in np.unique(qlab)
        }
    return out
