"""Evaluation for triplet training: embedding rows with a head, and the retrieval metrics against the baselines.

:func:`embed` runs a head (or any network taking rows) over rows in batches; :func:`embedding_spread`
measures collapse. The rest serves :func:`workbench.train.triplet.train_triplet` and the jobs built on it:
validation retrieval (validation tracks querying the validation and training tracks, never their own,
:func:`_val_metrics`), the validation triplet loss where retrieval cannot be measured (:func:`_val_loss`), and
the final comparison of the trained head with the backbone and a random head (:func:`_evaluate`), all through
:func:`workbench.evaluate.retrieval_metrics` with each row's track as its group (same-track excluded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.evaluate.retrieval import retrieval_metrics
from workbench.train.datasets import EmbeddingSet

if TYPE_CHECKING:
    from workbench.models.heads import EmbeddingHead

__all__ = ["embed", "embedding_spread"]


def embed(model: EmbeddingHead, X: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
    """Run ``model`` (eval mode, no gradients) over ``X`` in batches; float32 ``(n, out_dim)``.

    Parameters
    ----------
    model : EmbeddingHead
        The head; its training mode is restored afterwards.
    X : np.ndarray [shape=(n, in_dim)]
        Pooled backbone vectors.
    batch_size : int > 0
        Rows per forward pass.

    Returns
    -------
    np.ndarray [shape=(n, out_dim), dtype=float32]
    """
    import torch

    batch_size = min(batch_size, int(getattr(model, "eval_batch_size", batch_size)))
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for a in range(0, len(X), batch_size):
            out.append(model(torch.as_tensor(np.asarray(X[a:a + batch_size], dtype=np.float32))).numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, model.out_dim), dtype=np.float32)


def embedding_spread(embeddings: np.ndarray) -> float:
    """Total variance of L2-normalised embeddings: ``1 - |mean|^2`` (0 = all identical, ~1 = spread).

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, dim)]
        Embeddings (normalised here).

    Returns
    -------
    float in [0, 1]
    """
    e = np.asarray(embeddings, dtype=np.float64)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    return float(max(0.0, 1.0 - float(np.sum(e.mean(axis=0) ** 2))))




def _labels_in(data: EmbeddingSet, classes: list[str]) -> np.ndarray:
    """``data``'s class ids re-expressed in ``classes``' numbering (unknown classes get new ids)."""
    index = {c: i for i, c in enumerate(classes)}
    extra: dict[str, int] = {}
    out = []
    for c in (data.classes[i] for i in data.y):
        if c not in index and c not in extra:
            extra[c] = len(classes) + len(extra)
        out.append(index.get(c, extra.get(c)))
    return np.asarray(out, dtype=np.int64)


def _val_loss(loss_fn: Any, emb: np.ndarray, y: np.ndarray, *, seed: int, max_rows: int = 128) -> float:
    """Triplet loss over all triplets of (at most ``max_rows``, seeded) validation rows."""
    import torch

    idx = np.arange(len(y))
    if len(idx) > max_rows:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_rows, replace=False))
    with torch.no_grad():
        return float(loss_fn(torch.from_numpy(np.ascontiguousarray(emb[idx])), torch.from_numpy(y[idx])))


def _val_metrics(val_emb: np.ndarray, y_val: np.ndarray, val_tracks: np.ndarray, ref_emb: np.ndarray,
                 y_ref: np.ndarray, ref_tracks: np.ndarray) -> dict[str, Any]:
    """Validation retrieval: each validation track's windows query the validation and training
    tracks' windows, never their own track (a small validation set alone often has no two tracks of a class)."""
    return retrieval_metrics(np.concatenate([val_emb, ref_emb]), np.concatenate([y_val, y_ref]),
                             groups=np.concatenate([val_tracks, ref_tracks]),
                             queries=np.arange(len(y_val) + len(y_ref)) < len(y_val))


def _evaluate(model: EmbeddingHead, untrained: EmbeddingHead, train: EmbeddingSet, splits: dict[str, EmbeddingSet | None],
              mean: np.ndarray, std: np.ndarray) -> dict[str, Any]:
    """Per split: the head (``model``), the random head (``untrained_head``: same architecture,
    initial weights) and the backbone (``baseline``: z-scored backbone vectors), same-track excluded; the backbone's
    ``test`` record has its ``per_class`` figures too (precision@1, R-precision, n queries per class name).

    ``test``: held-out tracks among themselves; ``val``: as during training (validation tracks
    querying validation and training tracks)."""
    out: dict[str, Any] = {"model": {}, "baseline": {}, "untrained_head": {}}
    ref = train.originals()
    embedders = {"model": lambda X: embed(model, X), "untrained_head": lambda X: embed(untrained, X),
                 "baseline": lambda X: (X - mean) / std}
    for name, data in splits.items():
        if data is None:
            continue
        y = _labels_in(data, train.classes)
        for who, f in embedders.items():
            if name == "val":
                out[who][name] = _val_metrics(f(data.X), y, data.track_ids, f(ref.X), ref.y, ref.track_ids)
            elif who == "baseline" and name == "test":  # and the backbone's per-class figures, in the same pass: the
                # report draws them beside the model's (the class names, as arrays.npz gives the model's)
                names = np.asarray([data.classes[i] for i in data.y])
                out[who][name] = retrieval_metrics(f(data.X), names, groups=data.track_ids, per_class=True)
            else:
                out[who][name] = retrieval_metrics(f(data.X), y, groups=data.track_ids)
    return out
