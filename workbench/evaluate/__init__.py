"""Evaluation metrics: retrieval, clustering, classification, segmentation, invariance, quality gates.

Functions take numpy arrays (or section dicts) and return dicts of floats. :func:`evaluate_run`
recomputes a run's metrics from its saved evaluation arrays.

What :func:`evaluate_run` and :func:`class_names` read from a run folder (see :mod:`workbench.runs`):

- ``run.json`` ``kind``: "embeddings" or "sections".
- ``arrays.npz``, embeddings runs: ``embeddings`` (n, d) float, held-out items;
  ``classes`` (n,) int class index (``labels`` is accepted as well); ``track_ids`` (n,), when
  present, the track of each item: retrieval then never counts a query's own track as a match.
- ``arrays.npz``, sections runs: ``y_true`` (n,) int, ``y_pred`` (n,) int,
  ``probs`` (n, n_classes) float (optional).
- class names, first found: ``data.json["classes"]`` (list of str), ``arrays.npz["class_names"]``
  (str array), for sections runs :data:`workbench.labels.LABELS`, else the index as a string.
- ``timeline.json`` (sections): [{track_id, name, duration_s, truth: [{start_s, end_s, label}],
  predicted: [{start_s, end_s, label, confidence}]}] for the segmentation metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.evaluate.classification import classification_metrics
from workbench.evaluate.clustering import clustering_metrics
from workbench.evaluate.gates import QUALITY_GATES, Gate, model_metrics, quality_gates
from workbench.evaluate.invariance import DEFAULT_AUGMENTATIONS, invariance, make_transform
from workbench.evaluate.retrieval import map_at_r, precision_at_k, r_precision, retrieval_metrics
from workbench.evaluate.segmentation import segment_eval, segment_scores, segmentation_metrics

if TYPE_CHECKING:
    import numpy as np

    from workbench.runs import Run

__all__ = [
    "DEFAULT_AUGMENTATIONS", "QUALITY_GATES", "Gate", "class_names", "n_classes", "classification_metrics",
    "clustering_metrics", "evaluate_run", "invariance", "make_transform", "map_at_r", "model_metrics",
    "precision_at_k", "quality_gates", "r_precision", "retrieval_metrics", "segment_eval", "segment_scores",
    "segmentation_metrics",
]


def class_names(run: Run, n: int, arrays: dict[str, np.ndarray] | None = None) -> list[str]:
    """Names of class indices ``0..n-1`` of a run (see the module docstring for the order looked in).

    Parameters
    ----------
    run : Run
        The run whose names are looked up.
    n : int >= 0
        Number of classes.
    arrays : dict of str to np.ndarray, optional
        The run's ``arrays.npz`` if already read; None reads it.

    Returns
    -------
    list of str [length n]
        Names for indices without a recorded name are the index as a string.
    """
    from workbench.labels import LABELS

    arrays = run.arrays() if arrays is None else arrays
    names = run.data.get("classes")
    if names is None and "class_names" in arrays:
        names = [str(x) for x in arrays["class_names"].tolist()]
    if names is None and run.kind == "sections" and n <= len(LABELS):
        names = list(LABELS)
    names = list(names or [])
    return [str(names[i]) if i < len(names) else str(i) for i in range(n)]


def n_classes(run: Run, arrays: dict[str, np.ndarray] | None = None) -> int:
    """Number of classes of a sections run: the largest of the recorded names, ``probs`` columns and
    the highest index in ``y_true``/``y_pred`` (+1).

    Parameters
    ----------
    run : Run
        A sections run.
    arrays : dict of str to np.ndarray, optional
        The run's ``arrays.npz`` if already read; None reads it.

    Returns
    -------
    int >= 0
    """
    arrays = run.arrays() if arrays is None else arrays
    n = len(run.data.get("classes") or [])
    if "class_names" in arrays:
        n = max(n, len(arrays["class_names"]))
    if "probs" in arrays and arrays["probs"].ndim == 2:
        n = max(n, arrays["probs"].shape[1])
    for key in ("y_true", "y_pred"):
        if key in arrays and arrays[key].size and arrays[key].dtype.kind in "iu":
            n = max(n, int(arrays[key].max()) + 1)
    return n


def evaluate_run(run: Run, *, seed: int = 0) -> dict[str, Any]:
    """Metrics recomputed from a run's ``arrays.npz`` and ``timeline.json``.

    Embeddings runs give retrieval (with ``per_class``) and clustering metrics; sections runs
    give classification metrics and, with a timeline, segmentation metrics under
    ``"segmentation"``. Parts whose inputs were not recorded are absent.

    Parameters
    ----------
    run : Run
        The run to evaluate.
    seed : int
        Seed of the clustering metrics' k-means.

    Returns
    -------
    dict
        Metric name -> float (retrieval and clustering, or classification), with nested dicts
        for ``per_class`` and ``"segmentation"``. Empty when nothing was recorded.
    """
    import numpy as np

    arrays = run.arrays()
    out: dict[str, Any] = {}
    if "embeddings" in arrays and ("classes" in arrays or "labels" in arrays):
        emb = arrays["embeddings"]
        lab = arrays["classes"] if "classes" in arrays else arrays["labels"]
        if lab.dtype.kind in "iu" and lab.size:
            names = class_names(run, int(lab.max()) + 1, arrays)
            lab = np.array(names)[lab]
        groups = arrays["track_ids"] if "track_ids" in arrays and len(arrays["track_ids"]) == len(emb) else None
        out.update(retrieval_metrics(emb, lab, groups=groups, per_class=True))
        out.update(clustering_metrics(emb, lab, seed=seed))
    if "y_true" in arrays and "y_pred" in arrays:
        t, p = arrays["y_true"], arrays["y_pred"]
        cnames = (class_names(run, n_classes(run, arrays), arrays) if t.dtype.kind in "iu"
                  else song_order(t, p) if run.kind == "sections" else None)
        out.update(classification_metrics(t, p, class_names=cnames))
    if run.timeline:
        try:
            out["segmentation"] = segmentation_metrics(run.timeline)
        except ValueError:
            pass
    return out


def song_order(*label_arrays: Any) -> list[str]:
    """Section names found in the arrays in :data:`~workbench.labels.LABELS` order (intro, build, drop, break, outro,
    verse, chorus: the order of a track, as the label counts and the labeler list them), names outside it after, sorted;
    the rows of a sections run's confusion matrix and per-class scores (sorted, they read break, build, drop, intro), and
    the legend of the report's section timelines.

    Parameters
    ----------
    *label_arrays : array-like of str
        Section names (a run's ``y_true`` and ``y_pred``, or the names a plot drew, as a list).
    """
    import numpy as np

    from workbench.labels import LABELS

    seen = set().union(*(set(np.asarray(a).astype(str).tolist()) for a in label_arrays))
    return [c for c in LABELS if c in seen] + sorted(seen - set(LABELS))
