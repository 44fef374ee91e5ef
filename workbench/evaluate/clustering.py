"""Clustering quality of an embedding space (scikit-learn): silhouette, NMI and AMI."""

from __future__ import annotations

import numpy as np

from workbench.errors import ParameterError
from workbench.evaluate._validate import embeddings_and_labels, normalize


def clustering_metrics(embeddings: np.ndarray, labels: np.ndarray, *, n_clusters: int | None = None,
                       seed: int = 0) -> dict[str, float]:
    """How well the classes form clusters.

    ``silhouette`` is the cosine silhouette of the true classes (-1..1). ``nmi`` and ``ami``
    compare the true classes with k-means clusters (k = ``n_clusters``, default the number of
    classes) of the normalised embeddings (0..1, AMI is chance-corrected).

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
    labels : np.ndarray [shape=(n,)]
    n_clusters : int >= 2 or None
    seed : int
        k-means initialisation seed.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score, silhouette_score

    emb, lab = embeddings_and_labels(embeddings, labels)
    n_classes = len(np.unique(lab))
    if not 2 <= n_classes <= len(lab) - 1:
        raise ParameterError(
            f"clustering metrics need between 2 and n-1 = {len(lab) - 1} classes; got {n_classes}")
    k = n_classes if n_clusters is None else n_clusters
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= len(lab):
        raise ParameterError(f"n_clusters must be an integer in [2, {len(lab)}] or None; got {n_clusters!r}")
    x = normalize(emb)
    clusters = KMeans(n_clusters=int(k), n_init=10, random_state=seed).fit_predict(x)
    return {
        "silhouette": float(silhouette_score(x, lab, metric="cosine")),
        "nmi": float(normalized_mutual_info_score(lab, clusters)),
        "ami": float(adjusted_mutual_info_score(lab, clusters)),
    }
