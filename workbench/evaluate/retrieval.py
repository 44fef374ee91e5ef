"""Retrieval metrics of an embedding space, honest about tracks: a query never matches its own track.

Every metric here is computed by pytorch-metric-learning's ``AccuracyCalculator`` (the field's
implementation of MAP@R, R-precision and precision@1), on cosine similarity (rows are L2
normalised; exact k-NN). With ``groups`` (the track id of each row), each group's rows are
queried against the rows of *all other* groups only (``reference`` without the query's group,
``ref_includes_query=False``), so windows or augmented views of the query's own track neither
count as matches nor push other tracks down the ranking; R (the number of relevant references)
is then the number of same-class rows on other tracks. Without ``groups`` each row queries all
the others (itself excluded), as in ``AccuracyCalculator`` with ``ref_includes_query=True``.

As in ``AccuracyCalculator``, queries with no relevant reference ("lone" queries: their class has
no row on another track) are left out; ``n_queries`` counts the others. When no query is left the
metrics are NaN (nothing could be measured), never a made-up score.

:func:`retrieval_metrics` also reports track-level figures (``track_map_at_r``,
``track_precision_at_1``): each group's rows mean-pooled into one vector, one query per track.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.evaluate._validate import embeddings_and_labels, normalize
from workbench.validate import check_int

if TYPE_CHECKING:
    import torch

#: The window-level metrics every embeddings run records (the contract's headline keys).
HEADLINE_KEYS = ("map_at_r", "precision_at_1", "precision_at_5")
_PML = {"map_at_r": "mean_average_precision_at_r", "precision_at_1": "precision_at_1",
        "r_precision": "r_precision"}


def _cosine_knn(query: torch.Tensor, k: int, reference: torch.Tensor,
                ref_includes_query: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k-NN by cosine similarity (rows already unit length), the query itself excluded
    when ``ref_includes_query``; returns (similarities, indices), best first. An
    ``AccuracyCalculator`` ``knn_func``."""
    import torch

    sim = query @ reference.T
    if ref_includes_query:
        idx = torch.arange(len(query), device=sim.device)
        sim[idx, idx] = -torch.inf
    k = min(int(k), reference.shape[0] - int(ref_includes_query))
    return torch.topk(sim, k, dim=1, largest=True, sorted=True)


def _calculator(k: Any = "max_bin_count", *, per_class: bool = False) -> Any:
    import torch
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

    return AccuracyCalculator(include=tuple(_PML.values()), k=k, knn_func=_cosine_knn,
                              device=torch.device("cpu"), return_per_class=per_class)


def _groups_array(groups: object, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    g = np.asarray(groups)
    if g.ndim != 1 or g.shape[0] != n:
        raise ParameterError(f"groups must be a 1-D array with one entry (track id) per row ({n}); "
                             f"got shape {g.shape}")
    return g


def _empty(per_class: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"map_at_r": float("nan"), "precision_at_1": float("nan"),
                           "precision_at_5": float("nan"), "r_precision": float("nan"), "n_queries": 0}
    if per_class:
        out["per_class"] = {}
    return out


def _window_metrics(x: np.ndarray, codes: np.ndarray, names: np.ndarray, groups: np.ndarray | None, *,
                    per_class: bool, queries: np.ndarray | None = None) -> dict[str, Any]:
    """The window-level metrics: (query block, reference block) pairs through AccuracyCalculator."""
    import torch

    if groups is None:  # every row its own group: all others are references
        blocks = [(np.arange(len(x)), None)]
    else:
        asking = np.unique(groups if queries is None else groups[queries])
        blocks = [(np.flatnonzero(groups == g), np.flatnonzero(groups != g)) for g in asking]
    if queries is not None:
        blocks = [(q[queries[q]], r) for q, r in blocks]
    sums = {k: 0.0 for k in (*_PML, "precision_at_5")}
    n_total = 0
    class_sums: dict[int, list[float]] = {}  # code -> [p@1 sum, r-precision sum, n]
    calc = _calculator(per_class=per_class)
    for q_idx, r_idx in blocks:
        ref_idx = np.arange(len(x)) if r_idx is None else r_idx
        ref_counts = np.bincount(codes[ref_idx], minlength=len(names))
        need = 2 if r_idx is None else 1  # a query in its own reference needs one more
        q_idx = q_idx[ref_counts[codes[q_idx]] >= need]  # drop lone queries
        if q_idx.size == 0:
            continue
        q = torch.from_numpy(x[q_idx])
        ql = torch.from_numpy(codes[q_idx])
        if r_idx is None:  # references: the queries first (as AccuracyCalculator wants), then the lone rows
            order = np.concatenate([q_idx, np.setdiff1d(np.arange(len(x)), q_idx)])
            r, rl = torch.from_numpy(x[order]), torch.from_numpy(codes[order])
            acc = calc.get_accuracy(q, ql, r, rl, ref_includes_query=True)
            knn = _cosine_knn(q, 5, r, True)[1].numpy()
            hits5 = codes[order][knn] == codes[q_idx][:, None]
        else:
            r, rl = torch.from_numpy(x[r_idx]), torch.from_numpy(codes[r_idx])
            acc = calc.get_accuracy(q, ql, r, rl, ref_includes_query=False)
            knn = _cosine_knn(q, 5, r, False)[1].numpy()
            hits5 = codes[r_idx][knn] == codes[q_idx][:, None]
        n = int(q_idx.size)
        if per_class:
            present = np.unique(codes[q_idx])  # AccuracyCalculator's order: sorted unique query labels
            for j, c in enumerate(present):
                m = int(np.sum(codes[q_idx] == c))
                row = class_sums.setdefault(int(c), [0.0, 0.0, 0])
                row[0] += acc["precision_at_1"][j] * m
                row[1] += acc["r_precision"][j] * m
                row[2] += m
            for key, pml in _PML.items():
                per = np.asarray(acc[pml], dtype=np.float64)
                counts = np.array([np.sum(codes[q_idx] == c) for c in present])
                sums[key] += float(np.sum(per * counts))
        else:
            for key, pml in _PML.items():
                sums[key] += float(acc[pml]) * n
        sums["precision_at_5"] += float(hits5.mean(axis=1).sum())
        n_total += n
    if n_total == 0:
        return _empty(per_class)
    out: dict[str, Any] = {k: v / n_total for k, v in sums.items()}
    out["n_queries"] = n_total
    if per_class:
        out["per_class"] = {str(names[c]): {"precision_at_1": s[0] / s[2], "r_precision": s[1] / s[2], "n": int(s[2])}
                            for c, s in sorted(class_sums.items())}
    return out


def _track_metrics(x: np.ndarray, codes: np.ndarray, names: np.ndarray, groups: np.ndarray,
                   queries: np.ndarray | None) -> dict[str, Any]:
    """Track-level MAP@R and precision@1: each group's rows mean-pooled, labelled by its most common class."""
    uniq, inverse = np.unique(groups, return_inverse=True)
    pooled = np.zeros((len(uniq), x.shape[1]), dtype=np.float64)
    np.add.at(pooled, inverse, x)
    pooled = normalize(pooled / np.bincount(inverse)[:, None]).astype(np.float32)
    track_codes = np.array([np.bincount(codes[inverse == i]).argmax() for i in range(len(uniq))], dtype=np.int64)
    asking = None if queries is None else np.isin(np.arange(len(uniq)), inverse[queries])
    m = _window_metrics(pooled, track_codes, names, None if asking is None else np.arange(len(uniq)),
                        per_class=False, queries=asking)
    return {"track_map_at_r": m["map_at_r"], "track_precision_at_1": m["precision_at_1"],
            "n_track_queries": m["n_queries"]}


def retrieval_metrics(embeddings: np.ndarray, labels: np.ndarray, *, groups: np.ndarray | None = None,
                      queries: np.ndarray | None = None, per_class: bool = False) -> dict[str, Any]:
    """MAP@R, precision@1, precision@5 and R-precision, never counting a query's own track.

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
        One vector per item (window, view or track); compared by cosine similarity.
    labels : np.ndarray [shape=(n,)]
        Class of each item (ints or strings).
    groups : np.ndarray [shape=(n,)] or None
        The track (any hashable id) of each item: items of the query's group are not references
        for it. ``None``: every item is its own group (only the query itself is excluded).
    queries : np.ndarray [shape=(n,), dtype=bool] or None
        Only these rows ask (e.g. held-out tracks); every row of another group stays a reference
        (e.g. a library of training tracks). Needs ``groups``. Default: every row asks.
    per_class : bool
        Also return ``per_class`` = {label: {"precision_at_1", "r_precision", "n"}}.

    Returns
    -------
    dict
        ``map_at_r``, ``precision_at_1``, ``precision_at_5``, ``r_precision`` (floats, NaN when no
        query has a relevant item on another track), ``n_queries`` (int); with ``groups`` also
        ``track_map_at_r``, ``track_precision_at_1`` and ``n_track_queries`` on mean-pooled tracks.
    """
    emb, lab = embeddings_and_labels(embeddings, labels)
    g = _groups_array(groups, len(lab))
    mask = None
    if queries is not None:
        mask = np.asarray(queries)
        if mask.dtype != bool or mask.shape != lab.shape:
            raise ParameterError(f"queries must be a boolean mask with one entry per row ({len(lab)}); "
                                 f"got dtype {mask.dtype}, shape {mask.shape}")
        if g is None:
            raise ParameterError("queries needs groups (the track of each row), so a query's own track is excluded")
    names, codes = np.unique(lab, return_inverse=True)
    x = normalize(emb).astype(np.float32)
    codes = codes.astype(np.int64)
    out = _window_metrics(x, codes, names, g, per_class=per_class, queries=mask)
    if g is not None:
        out.update(_track_metrics(x, codes, names, g, mask))
    return out


def precision_at_k(embeddings: np.ndarray, labels: np.ndarray, k: int, *,
                   groups: np.ndarray | None = None) -> float:
    """Mean fraction of each query's ``k`` nearest items (other tracks only, with ``groups``) that
    share its label; ``k`` is capped at the number of references. NaN when no query has a positive.

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
    labels : np.ndarray [shape=(n,)]
    k : int >= 1
        Neighbours per query.
    groups : np.ndarray [shape=(n,)], optional
        The track of each item; items of the query's own track are never neighbours. None:
        every other item is a reference.

    Returns
    -------
    float in [0, 1], or NaN

    Raises
    ------
    ParameterError
        If ``k`` is not an int >= 1, or on bad embeddings, labels or groups.
    """
    import torch

    k = check_int("k", k, min=1, what="an integer")
    if k == 1:
        return float(retrieval_metrics(embeddings, labels, groups=groups)["precision_at_1"])
    if k == 5:
        return float(retrieval_metrics(embeddings, labels, groups=groups)["precision_at_5"])
    emb, lab = embeddings_and_labels(embeddings, labels)
    g = _groups_array(groups, len(lab))
    codes = np.unique(lab, return_inverse=True)[1]
    x = torch.from_numpy(normalize(emb).astype(np.float32))
    scores = []
    for grp in ([None] if g is None else np.unique(g)):
        q_idx = np.arange(len(lab)) if grp is None else np.flatnonzero(g == grp)
        r_idx = np.arange(len(lab)) if grp is None else np.flatnonzero(g != grp)
        counts = np.bincount(codes[r_idx], minlength=codes.max() + 1)
        q_idx = q_idx[counts[codes[q_idx]] >= (2 if grp is None else 1)]
        if q_idx.size == 0:
            continue
        knn = _cosine_knn(x[q_idx], k, x[r_idx], grp is None)[1].numpy()
        scores += list((codes[r_idx][knn] == codes[q_idx][:, None]).mean(axis=1))
    return float(np.mean(scores)) if scores else float("nan")


def r_precision(embeddings: np.ndarray, labels: np.ndarray, *, groups: np.ndarray | None = None) -> float:
    """Mean over queries of the fraction of same-label items among the R nearest (other tracks only).

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
    labels : np.ndarray [shape=(n,)]
    groups : np.ndarray [shape=(n,)], optional
        The track of each item (own-track items excluded); None: all other items count.

    Returns
    -------
    float in [0, 1], or NaN
    """
    return float(retrieval_metrics(embeddings, labels, groups=groups)["r_precision"])


def map_at_r(embeddings: np.ndarray, labels: np.ndarray, *, groups: np.ndarray | None = None) -> float:
    """Mean average precision at R (Musgrave et al. 2020, "A metric learning reality check"),
    same-track items excluded with ``groups``.

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
    labels : np.ndarray [shape=(n,)]
    groups : np.ndarray [shape=(n,)], optional
        The track of each item (own-track items excluded); None: all other items count.

    Returns
    -------
    float in [0, 1], or NaN
    """
    return float(retrieval_metrics(embeddings, labels, groups=groups)["map_at_r"])
