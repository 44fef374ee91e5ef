"""Baselines of the section model, and grouped cross-validation of the model and the baselines.

Every number comes from :func:`workbench.evaluate.classification_metrics`; every split from
:func:`workbench.train.datasets.grouped_kfold` (whole tracks on one side, checked for leakage).

Speed: scikit-learn's BLAS and OpenMP thread pools are held to ``n_threads`` (default 1) while
the baselines fit. On the 2 shared cores this project runs on, two threads spin against each
other and the other users: a logistic regression on 4,500 windows took 4.1 s with 2 threads
and 0.05 s with one; the whole scaler + PCA + regression 5 s against 0.5 s. The baselines fit on
at most ``max_windows`` training windows (a seeded sample): neighbouring windows overlap and
share their context, and the RBF SVM inside the ensemble grows with the square of the windows.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from workbench.errors import ParameterError
from workbench.labels import LABELS
from workbench.validate import check_int

#: Models :func:`cross_validate` knows: the MLP and the scikit-learn baselines.
MODELS: tuple[str, ...] = ("mlp", "logreg", "ensemble")
#: Baselines scored on the held-out windows next to the model.
BASELINES: tuple[str, ...] = ("majority", "logreg", "ensemble")


def make_baseline(name: str, *, seed: int = 0, n_components: int = 64) -> Any:
    """A scikit-learn baseline on the same window features.

    ``"majority"``: always the most frequent training class. ``"logreg"``: StandardScaler + PCA
    + balanced logistic regression (Newton-Cholesky: the PCA components' variances span ~600:1 on
    the window features, and lbfgs took ~250 of its 500 iterations there and ran out on some label
    sets; Newton-Cholesky reaches the same optimum in ~9, probabilities within 0.003).
    ``"ensemble"`` (the research design): RobustScaler +
    PCA + soft voting of a random forest, histogram gradient boosting and an RBF SVM
    (probabilities by sigmoid calibration), all class-balanced. The PCA keeps the top
    ``n_components`` components (fitted on the training windows only): at the ~1000-d window
    features the full-width ensemble took over 15 minutes for 4 folds on a 2-core CPU. The
    gradient boosting uses 63 bins and 15 leaves per tree (27 s → 4 s on 3,000 windows on the
    busy 2-core machine; the bins are of 64 PCA components, not raw features).

    Parameters
    ----------
    name : {"majority", "logreg", "ensemble"}
        The baseline.
    seed : int
        Seed of the PCA, the forest and the boosting.
    n_components : int >= 1
        PCA components kept.

    Returns
    -------
    sklearn estimator
        Unfitted.

    Raises
    ------
    ParameterError
        Unknown ``name`` or ``n_components`` < 1.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.decomposition import PCA
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import RobustScaler, StandardScaler
    from sklearn.svm import SVC

    check_int("n_components", n_components, min=1)
    if name == "majority":
        return DummyClassifier(strategy="most_frequent")
    pca = PCA(n_components=n_components, random_state=seed)
    if name == "logreg":
        return make_pipeline(StandardScaler(), pca, LogisticRegression(C=0.1, solver="newton-cholesky", max_iter=100,
                                                                    class_weight="balanced"))
    if name == "ensemble":
        vote = VotingClassifier([
            ("rf", RandomForestClassifier(n_estimators=100, min_samples_leaf=2, class_weight="balanced",
                                          random_state=seed, n_jobs=1)),
            ("gb", HistGradientBoostingClassifier(max_iter=50, learning_rate=0.1, max_leaf_nodes=15, max_bins=63,
                                                  class_weight="balanced", early_stopping=False, random_state=seed)),
            ("svm", CalibratedClassifierCV(SVC(C=1.0, class_weight="balanced"), cv=3, ensemble=False)),
        ], voting="soft")
        return make_pipeline(RobustScaler(), pca, vote)
    raise ParameterError(f"model must be one of {('majority', *MODELS[1:])}; got {name!r}")


def baseline_converged(model: Any) -> bool | None:
    """Whether a fitted baseline's iterative solver converged (its logistic regression stopped before ``max_iter``).

    :func:`fit_baseline` silences scikit-learn's ``ConvergenceWarning`` (nine lines of advice per fit); this is
    its record, kept in the run's ``baselines`` as ``converged`` and said once in its warnings.

    Parameters
    ----------
    model : sklearn estimator
        A baseline fitted by :func:`fit_baseline` (a pipeline or an estimator).

    Returns
    -------
    bool or None
        None for baselines without an iterative solver that can stop short (majority, ensemble).
    """
    from sklearn.linear_model import LogisticRegression

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    if not isinstance(final, LogisticRegression) or not hasattr(final, "n_iter_"):
        return None
    return bool(np.max(final.n_iter_) < final.max_iter)


def scores_of(model: Any, y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """:func:`scores` of a fitted baseline's predictions, with its ``converged`` (:func:`baseline_converged`) where it has one.

    Parameters
    ----------
    model : sklearn estimator
        The baseline fitted by :func:`fit_baseline` that predicted ``y_pred``.
    y_true, y_pred : np.ndarray [shape=(n,)]
        Window labels and the baseline's predictions (str).
    names : sequence of str
        The classes scored.

    Returns
    -------
    dict
        The classification metrics, plus ``converged`` (bool) for a baseline with an iterative solver (logreg).
    """
    out = scores(y_true, y_pred, names)
    converged = baseline_converged(model)
    if converged is not None:
        out["converged"] = converged
    return out


def convergence_warnings(baselines: Mapping[str, Any], *, where: str = "") -> list[str]:
    """One sentence per baseline whose solver stopped short (``converged`` False), for a run's ``warnings``.

    Parameters
    ----------
    baselines : mapping
        A run's ``baselines`` (:func:`held_out_baselines`): ``{name: metrics}``.
    where : str
        Which scores, said after the baseline's name (``" on held-out groups (crates)"``).

    Returns
    -------
    list of str
    """
    return [f"the {name} baseline{where} did not converge (its solver stopped at its iteration limit): its "
            "figures are of an unfinished fit" for name, m in baselines.items()
            if isinstance(m, Mapping) and m.get("converged") is False]


def class_names(*label_arrays: np.ndarray) -> list[str]:
    """The labels found in any of the arrays, in :data:`LABELS` order (the rows of every confusion matrix)."""
    seen = set().union(*(set(np.asarray(a).astype(str).tolist()) for a in label_arrays))
    return [c for c in LABELS if c in seen]


def scores(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """:func:`workbench.evaluate.classification_metrics` over ``names`` (the same keys for every model).

    Parameters
    ----------
    y_true, y_pred : np.ndarray [shape=(n,)]
        True and predicted labels (compared as strings).
    names : sequence of str
        The classes scored, in order.
    """
    from workbench.evaluate import classification_metrics

    return classification_metrics(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str), class_names=names)


def fit_baseline(name: str, X: np.ndarray, y: np.ndarray, *, seed: int = 0, max_windows: int | None = 6000,
                 n_threads: int | None = 1) -> Any:
    """Fit :func:`make_baseline` on at most ``max_windows`` rows (seeded sample) with ``n_threads`` threads.

    Parameters
    ----------
    name : {"majority", "logreg", "ensemble"}
        The baseline.
    X : np.ndarray [shape=(n, dim)]
        Window features.
    y : np.ndarray [shape=(n,)]
        Window labels.
    seed : int
        Seed of the sample and of the model.
    max_windows : int >= 2, optional
        Most training rows; None fits on all.
    n_threads : int, optional
        BLAS/OpenMP threads while fitting; None leaves the pools as they are.

    Returns
    -------
    sklearn estimator
        Fitted; :func:`baseline_converged` says whether its solver converged (its
        ``ConvergenceWarning`` is silenced: that is its record).

    Raises
    ------
    ParameterError
        ``max_windows`` is not None or an int >= 2.
    """
    from threadpoolctl import threadpool_limits

    if max_windows is not None and (isinstance(max_windows, bool) or not isinstance(max_windows, int)
                                    or max_windows < 2):
        raise ParameterError(f"max_windows must be None or an int >= 2; got {max_windows!r}")
    rows = np.arange(len(y))
    if max_windows is not None and len(rows) > max_windows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=max_windows, replace=False))
    model = make_baseline(name, seed=seed, n_components=max(1, min(64, X.shape[1], len(rows) - 1)))
    from sklearn.exceptions import ConvergenceWarning

    with threadpool_limits(limits=n_threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # recorded instead: baseline_converged
        return model.fit(X[rows], y[rows])


def _predict(model: Any, X: np.ndarray, n_threads: int | None) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_threads):
        return np.asarray(model.predict(X)).astype(str)


def held_out_baselines(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, *,
                       names: Iterable[str] = BASELINES, class_labels: Sequence[str] | None = None, seed: int = 0,
                       max_windows: int | None = 6000, n_threads: int | None = 1
                       ) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """Fit each baseline on the training windows and score it on the held-out ones.

    Parameters
    ----------
    X_train, X_test : np.ndarray [shape=(n, dim)]
        Window features.
    y_train, y_test : np.ndarray [shape=(n,)]
        Window labels.
    names : iterable of str
        Baselines among :data:`BASELINES`.
    class_labels : sequence of str, optional
        Classes scored; None takes those found in ``y_train`` and ``y_test``.
    seed, max_windows, n_threads
        As for :func:`fit_baseline`.

    Raises
    ------
    ParameterError
        An unknown baseline name.

    Returns
    -------
    metrics : dict
        ``{name: classification metrics}`` (the keys of ``metrics["model"]``), with ``converged``
        (:func:`baseline_converged`) for a baseline with an iterative solver (logreg).
    seconds : dict
        ``{name: seconds to fit and predict}``.
    """
    chosen = tuple(names)
    bad = [n for n in chosen if n not in BASELINES]
    if bad:
        raise ParameterError(f"baselines must be among {BASELINES}; got {bad}")
    y_train, y_test = np.asarray(y_train).astype(str), np.asarray(y_test).astype(str)
    labels = list(class_labels) if class_labels is not None else class_names(y_train, y_test)
    out: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    for name in chosen:
        t0 = time.perf_counter()
        model = fit_baseline(name, X_train, y_train, seed=seed, max_windows=max_windows, n_threads=n_threads)
        out[name] = scores_of(model, y_test, _predict(model, X_test, n_threads), labels)
        seconds[name] = time.perf_counter() - t0
    return out, seconds


def grouped_folds(y: np.ndarray, groups: np.ndarray, *, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified grouped K-fold (no track on both sides, checked): :func:`workbench.train.datasets.grouped_kfold`.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Window labels (stratified by).
    groups : np.ndarray [shape=(n,)]
        The track of each window.
    n_splits : int
        Folds, 2 up to the number of tracks.
    seed : int
        Seed of the shuffle.

    Raises
    ------
    ParameterError
        ``n_splits`` out of range.
    """
    from workbench.evaluate.splits import grouped_kfold

    n_groups = len(np.unique(groups))
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or not 2 <= n_splits <= n_groups:
        raise ParameterError(f"n_splits must be an int in 2..{n_groups} (the number of tracks); got {n_splits!r}")
    return grouped_kfold(groups, n_splits=n_splits, seed=seed, y=y)


def cross_validate(X: np.ndarray, y: np.ndarray, groups: np.ndarray, *, n_splits: int = 3, seed: int = 0,
                   models: Iterable[str] = MODELS, trainer_params: Mapping[str, Any] | None = None,
                   max_windows: int | None = 6000, n_threads: int | None = 1, progress: bool = False) -> dict[str, Any]:
    """Grouped K-fold cross-validation of the MLP and the baselines on the same folds.

    The MLP gets each training fold's ``groups`` (its early stopping holds tracks out of them).

    Parameters
    ----------
    X : np.ndarray [shape=(n, dim)]
        Window features.
    y : np.ndarray [shape=(n,)]
        Window labels.
    groups : np.ndarray [shape=(n,)]
        The track of each window.
    n_splits : int
        Folds, 2 up to the number of tracks.
    seed : int
        Seed of the folds and the models.
    models : iterable of str
        A non-empty subset of :data:`MODELS`.
    trainer_params : mapping, optional
        Keyword arguments of :class:`~workbench.train.sections.trainer.SectionTrainer`.
    max_windows, n_threads
        As for :func:`fit_baseline`.
    progress : bool
        Show a bar over the folds.

    Raises
    ------
    ParameterError
        An unknown model, or ``n_splits`` out of range.

    Returns
    -------
    dict
        ``folds``: per fold ``{"test_groups": [...], "n_train", "n_test"}``; per model name
        (``"mlp"``, ``"logreg"``, ``"ensemble"``): the
        :func:`~workbench.evaluate.classification_metrics` of the pooled out-of-fold
        predictions (``accuracy``, ``macro_f1``, ``per_class``, ``confusion``, ``classes``),
        plus ``fold_accuracy`` (list) and ``seconds``; ``converged`` (every fold's solver,
        :func:`baseline_converged`) for logreg.
    """
    from tqdm.auto import tqdm

    from workbench.train.sections.trainer import SectionTrainer

    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).astype(str)
    groups = np.asarray(groups)
    names = tuple(models)
    bad = [m for m in names if m not in MODELS]
    if bad or not names:
        raise ParameterError(f"models must be a non-empty subset of {MODELS}; got {list(names)!r}")
    folds = grouped_folds(y, groups, n_splits=n_splits, seed=seed)
    labels = class_names(y)
    out: dict[str, Any] = {"folds": [{"test_groups": sorted(np.unique(groups[te]).tolist()), "n_train": len(tr),
                                      "n_test": len(te)} for tr, te in folds]}
    for name in names:
        t0 = time.perf_counter()
        pred = np.empty(len(y), dtype=object)
        fold_acc, fold_converged = [], []
        for tr, te in tqdm(folds, desc=f"cv {name}", disable=not progress):
            if name == "mlp":
                model = SectionTrainer(**{"seed": seed, **dict(trainer_params or {})}).fit(X[tr], y[tr], groups[tr])
                pred[te] = model.predict(X[te])
            else:
                model = fit_baseline(name, X[tr], y[tr], seed=seed, max_windows=max_windows, n_threads=n_threads)
                pred[te] = _predict(model, X[te], n_threads)
                fold_converged.append(baseline_converged(model))
            fold_acc.append(float(np.mean(pred[te] == y[te])))
        out[name] = {**scores(y, pred.astype(str), labels), "fold_accuracy": fold_acc,
                     "seconds": time.perf_counter() - t0}
        if any(c is not None for c in fold_converged):  # a baseline with an iterative solver: did every fold's?
            out[name]["converged"] = all(c is not False for c in fold_converged)
    return out
