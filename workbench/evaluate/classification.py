"""Classification metrics (scikit-learn): accuracy, macro F1, per-class scores, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.errors import ParameterError


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, *,
                           class_names: Sequence[str] | None = None) -> dict:
    """Scores of predicted classes against the truth.

    Parameters
    ----------
    y_true, y_pred : np.ndarray [shape=(n,)]
        Class indices (ints ``0..len(class_names)-1``) or class names.
    class_names : sequence of str or None
        Name of each class index; the confusion matrix has one row per name, in this order.
        Default: the classes present in either array, sorted.

    Returns
    -------
    dict
        ``accuracy`` and ``macro_f1`` (floats, 0..1; macro F1 over the classes present in
        ``y_true``), ``per_class`` {name: {precision, recall, f1, support}}, ``confusion``
        (rows truth, columns prediction, counts) and ``classes`` (its row names).
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or p.ndim != 1 or t.shape != p.shape:
        raise ParameterError(f"y_true and y_pred must be 1-D arrays of one length; got shapes {t.shape} and {p.shape}")
    if t.size == 0:
        raise ParameterError("y_true is empty; need at least one prediction to score")
    if class_names is not None:
        names = [str(c) for c in class_names]
        ids: list[Any]
        if t.dtype.kind in "iu":
            ids = list(range(len(names)))
            bad = sorted(set(np.concatenate([t, p]).tolist()) - set(ids))
            if bad:
                raise ParameterError(
                    f"class indices must be in 0..{len(names) - 1} (class_names has {len(names)}); got {bad[:5]}")
        else:
            ids = names
    else:
        ids = sorted(set(t.tolist()) | set(p.tolist()))
        names = [str(c) for c in ids]
    present = [i for i in ids if np.any(t == i)]
    prec, rec, f1, support = precision_recall_fscore_support(t, p, labels=ids, zero_division=0)
    return {
        "accuracy": float(accuracy_score(t, p)),
        "macro_f1": float(f1_score(t, p, labels=present, average="macro", zero_division=0)),
        "per_class": {n: {"precision": float(a), "recall": float(b), "f1": float(c), "support": int(d)}
                      for n, a, b, c, d in zip(names, prec, rec, f1, support, strict=True)},
        "confusion": confusion_matrix(t, p, labels=ids).tolist(),
        "classes": names,
    }
