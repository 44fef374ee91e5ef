"""The section model's trainer: a scikit-learn classifier around a small MLP, with early stopping.

:class:`SectionTrainer` fits a :class:`workbench.models.heads.SectionClassifier` on window
features with class weighting. Given ``groups`` (the track of each window) it holds a few
*tracks* out of the training windows as a validation set, keeps the weights of the epoch with
the lowest validation loss and stops after ``patience`` epochs without improvement
(:attr:`SectionTrainer.early_stopping_` records what happened, with a warning when the best
epoch was the first: the model only got worse on unseen tracks). :func:`~workbench.train.sections.model_file.save_section_model`
and :func:`~workbench.train.sections.model_file.load_section_model` write and read the head with
what inference needs. The epoch loop itself is :func:`~workbench.train.sections.epoch_loop.run_epochs`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from workbench.errors import ParameterError, WorkbenchError
from workbench.labels import LABELS
from workbench.validate import check_float, check_int

if TYPE_CHECKING:  # pragma: no cover
    from workbench.models.heads import SectionClassifier

EpochCallback = Callable[[int, int, Mapping[str, Any]], None]

#: Most validation windows scored after each epoch (a seeded sample of the validation tracks' windows).
MAX_VAL_WINDOWS = 2048
#: What early stopping keeps (``SectionTrainer.checkpoint_on``): the lowest validation loss or the highest macro F1.
CHECKPOINT_ON = ("loss", "macro_f1")


class NotFittedError(WorkbenchError, _SklearnNotFittedError):
    """A learner was used before ``fit``."""


def _classes_of(y: np.ndarray) -> tuple[str, ...]:
    unknown = sorted(set(y.tolist()) - set(LABELS))
    if unknown:
        raise ParameterError(f"y must hold labels from {LABELS}; got unknown {unknown}")
    classes = tuple(label for label in LABELS if label in set(y.tolist()))
    if len(classes) < 2:
        raise ParameterError(f"y must hold 2+ classes; got {list(classes)}")
    return classes


class SectionTrainer(ClassifierMixin, BaseEstimator):
    """Trains a :class:`~workbench.models.heads.SectionClassifier` on window features (a scikit-learn classifier).

    Parameters
    ----------
    hidden_dim, dropout : int, float
        The MLP's size (see the head).
    epochs, batch_size : int
        Most epochs (fewer when early stopping ends training); windows per step.
    lr, weight_decay : float
        AdamW settings.
    class_weight : "balanced", None or dict
        Loss weight per class; "balanced" = ``n / (K · count_k)``.
    seed : int
        Fixes the validation split, initialisation, dropout and batch order (torch's global RNG
        is restored after).
    n_threads : int or None
        torch threads while fitting (restored after); ``None`` keeps torch's setting. One
        thread is the default: batches this small gain nothing from more, and on shared
        cores extra threads spin (measured 30 ms vs 520 ms per step on 2 busy cores).
    max_samples_per_epoch : int or None
        An epoch visits at most this many windows, drawn afresh each epoch (``None``: all).
    early_stopping : bool
        With ``groups`` in :meth:`fit`, hold ``validation_fraction`` of the training *tracks*
        out, keep the weights of the epoch with the lowest validation loss and stop after
        ``patience`` epochs without a lower one. Without ``groups`` (or with one track) all
        epochs run and the last weights are kept (``early_stopping_["used"]`` is False).
    validation_fraction : float in (0, 1)
        Share of the training tracks held out for early stopping (a grouped, stratified split).
    patience : int >= 1
        Epochs without a lower validation loss before training stops.
    not_weight : float >= 0
        Weight of the complementary-label loss on "not this label" windows (``fit``'s
        ``not_X``/``not_y``, from rejected suggestions): ``-log(1 - p(rejected label))`` per
        window, averaged over each step's share of them, added to the cross-entropy.
    input_noise : float >= 0
        Training-time augmentation in feature space: Gaussian noise of this standard deviation
        (in units of each column's training std) added to every training window at every step.
    track_jitter : float >= 0
        Training-time augmentation per track: at every epoch each training track's columns are
        scaled by ``exp(N(0, track_jitter))`` and shifted by ``N(0, track_jitter)`` (in units of the
        column's std), one draw per track and column: another generator or mix gives a track's
        sections another contrast. Needs ``groups`` in :meth:`fit` (without them, per window).
    label_smoothing : float in [0, 1)
        The training loss's label smoothing (``torch.nn.functional.cross_entropy``'s): each
        window's target keeps ``1 - label_smoothing`` on its label and spreads the rest evenly
        over every class. The validation loss (early stopping) stays plain cross-entropy.
    checkpoint_on : {"loss", "macro_f1"}
        What early stopping keeps and waits on: ``"loss"`` the epoch with the lowest validation loss;
        ``"macro_f1"`` the epoch with the highest macro F1 of the validation windows' arg-max (over
        the classes they hold), the lower validation loss breaking ties. A class-weighted loss can
        rise while the arg-max improves (confident mistakes on a few unseen tracks outweigh more
        windows right): ``"loss"`` then keeps epoch 1 (and the job warns, naming ``"macro_f1"``). ``"loss"`` is the
        default here and in a sections job (:data:`~workbench.train.sections.training.CONFIG_DEFAULTS`).

    Learned: ``classes_`` (labels in output order), ``model_`` (the head in eval mode, with
    the input standardisation folded into its first layer, so it takes raw features),
    ``class_weight_``, ``history_`` (one dict per epoch: ``epoch``, ``train_loss``,
    ``val_loss``, ``val_accuracy``, ``val_macro_f1``, ``seconds``, ``samples``, ``samples_per_s``) and
    ``early_stopping_`` (``used``, ``best_epoch``, ``best_val_loss``, ``epochs_run``,
    ``max_epochs``, ``patience``, ``stopped_early``, ``val_groups``, ``n_val_windows``,
    ``warning``: see :func:`overfit_warning`).
    """

    def __init__(self, *, hidden_dim: int = 256, dropout: float = 0.2, epochs: int = 40, batch_size: int = 256,
                 lr: float = 1e-3, weight_decay: float = 1e-4, class_weight: str | dict | None = "balanced",
                 seed: int = 0, n_threads: int | None = 1, max_samples_per_epoch: int | None = 8192,
                 early_stopping: bool = True, validation_fraction: float = 0.2, patience: int = 8,
                 not_weight: float = 1.0, input_noise: float = 0.0, track_jitter: float = 0.0,
                 label_smoothing: float = 0.0, checkpoint_on: str = "loss") -> None:
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.seed = seed
        self.n_threads = n_threads
        self.max_samples_per_epoch = max_samples_per_epoch
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.not_weight = not_weight
        self.input_noise = input_noise
        self.track_jitter = track_jitter
        self.label_smoothing = label_smoothing
        self.checkpoint_on = checkpoint_on

    def _check_params(self) -> None:
        # the network's own settings: a bad one failed the job at the model's construction (torch's
        # "Invalid weight_decay value: -1"), after the job was made; checked here, before it
        check_int("hidden_dim", self.hidden_dim, min=1)
        check_float("dropout", self.dropout, min=0, max=1, max_open=True, what="a float")
        check_float("weight_decay", self.weight_decay, min=0, what="a float")
        m = self.max_samples_per_epoch
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise ParameterError(f"max_samples_per_epoch must be None or an int >= 1; got {m!r}")
        for name in ("epochs", "batch_size", "seed", "patience"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "seed" else 1):
                raise ParameterError(f"{name} must be an int >= {0 if name == 'seed' else 1}; got {v!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ParameterError(f"lr must be a float > 0; got {self.lr!r}")
        if not (isinstance(self.validation_fraction, float) and 0 < self.validation_fraction < 1):
            raise ParameterError(f"validation_fraction must be a float in (0, 1); got {self.validation_fraction!r}")
        if self.n_threads is not None and (isinstance(self.n_threads, bool) or not isinstance(self.n_threads, int)
                                           or self.n_threads < 1):
            raise ParameterError(f"n_threads must be None or an int >= 1; got {self.n_threads!r}")
        if isinstance(self.not_weight, bool) or not (isinstance(self.not_weight, (int, float)) and self.not_weight >= 0):
            raise ParameterError(f"not_weight must be a float >= 0; got {self.not_weight!r}")
        for name in ("input_noise", "track_jitter"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and 0 <= v < 10):
                raise ParameterError(f"{name} must be a float in [0, 10); got {v!r}")
        ls = self.label_smoothing
        if isinstance(ls, bool) or not (isinstance(ls, (int, float)) and 0 <= ls < 1):
            raise ParameterError(f"label_smoothing must be a float in [0, 1); got {ls!r}")
        if self.checkpoint_on not in CHECKPOINT_ON:
            raise ParameterError(f"checkpoint_on must be one of {list(CHECKPOINT_ON)}; got {self.checkpoint_on!r}")
        if not (self.class_weight is None or self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise ParameterError(f"class_weight must be 'balanced', None or a dict label → weight; got {self.class_weight!r}")

    def _weights(self, y_idx: np.ndarray, k: int) -> np.ndarray:
        if self.class_weight is None:
            return np.ones(k)
        if self.class_weight == "balanced":
            counts = np.bincount(y_idx, minlength=k).astype(np.float64)
            return len(y_idx) / (k * np.maximum(counts, 1.0))
        return np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_])  # type: ignore[union-attr]

    def _validation_split(self, y: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        """Row indices (train, validation) with whole tracks held out, or None when that cannot be done."""
        from workbench.train.datasets import grouped_kfold

        if not self.early_stopping or groups is None:
            return None
        g = np.asarray(groups)
        if g.shape != y.shape:
            raise ParameterError(f"groups must have one entry per row ({y.shape[0]}); got shape {g.shape}")
        n_groups = len(np.unique(g))
        if n_groups < 2:
            return None
        n_splits = int(np.clip(round(1 / self.validation_fraction), 2, n_groups))
        return grouped_kfold(g, n_splits=n_splits, seed=self.seed, y=y)[0]

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None, *,
            validation: tuple[np.ndarray, np.ndarray] | None = None, on_epoch: EpochCallback | None = None,
            not_X: np.ndarray | None = None, not_y: np.ndarray | None = None,
            pseudo: tuple[np.ndarray, np.ndarray, np.ndarray, float] | None = None,
            views: tuple[np.ndarray, np.ndarray, np.ndarray, float] | None = None) -> SectionTrainer:
        """Train on windows ``X`` (n, dim) with labels ``y`` (n,) (strings from :data:`LABELS`).

        ``groups`` (n,): the track of each window; with ``early_stopping`` a share of the tracks
        becomes the validation set (see the class doc). ``validation`` ``(X_val, y_val)``
        gives the validation set instead (the caller keeps it apart from the training
        tracks). ``on_epoch(epoch, max_epochs, record)`` is called after every epoch (its
        exceptions propagate).

        Parameters
        ----------
        X : np.ndarray [shape=(n, dim)]
            Finite window features, n >= 1.
        y : np.ndarray [shape=(n,)]
            Labels from :data:`LABELS`, 2+ classes.
        groups : np.ndarray [shape=(n,)], optional
            The track of each window.
        validation : (np.ndarray [shape=(m, dim)], np.ndarray [shape=(m,)]), optional
            A validation set given by the caller.
        on_epoch : callable(int, int, mapping), optional
            The epoch callback.
        not_X : np.ndarray [shape=(m, dim)], optional
            Windows known *not* to be ``not_y`` (inside rejected suggestions); trained with the
            complementary-label loss (``not_weight``). Labels outside ``classes_`` are skipped;
            ``n_not_windows_`` says how many were used.
        not_y : np.ndarray [shape=(m,)], optional
            The rejected label of each ``not_X`` row.
        pseudo : (np.ndarray [shape=(p, dim)], np.ndarray [shape=(p,)], np.ndarray [shape=(p,)], float), optional
            Pseudo-labelled windows of unlabelled tracks (:mod:`~workbench.train.sections.self_training`):
            features, labels (among ``y``'s classes), track ids, and their loss weight in (0, 1].
            Added to the training rows only (never to the validation tracks, nor to the
            standardisation or the class weights); ``n_pseudo_windows_`` says how many.
        views : (np.ndarray [shape=(v, dim)], np.ndarray [shape=(v,)], np.ndarray [shape=(v,)], float), optional
            Windows of augmented audio views of the training tracks (:func:`~.audio_views.view_rows`), as
            ``pseudo`` but with each row's entry of ``groups``: a validation group's views never train.

        Returns
        -------
        SectionTrainer
            ``self``, fitted.

        Raises
        ------
        ParameterError
            Bad shapes, non-finite features, unknown labels or fewer than 2 classes.
        """
        import torch

        self._check_params()
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y).astype(str)
        if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0 or not np.all(np.isfinite(X)):
            raise ParameterError(f"X must be a finite (n >= 1, dim) array with one label per row; got X {X.shape}, y {y.shape}")
        self.classes_ = _classes_of(y)
        index = {c: i for i, c in enumerate(self.classes_)}
        info: dict[str, Any] = {"used": False, "max_epochs": self.epochs, "patience": self.patience,
                                "checkpoint_on": self.checkpoint_on}
        split = None if validation is not None else self._validation_split(y, groups)
        rows_track = None if groups is None else np.asarray(groups)
        if rows_track is not None and rows_track.shape != y.shape:
            raise ParameterError(f"groups must have one entry per row ({y.shape[0]}); got shape {rows_track.shape}")
        if split is not None:
            tr, va = split
            validation = (X[va], y[va])
            info["val_groups"] = sorted(np.unique(np.asarray(groups)[va]).tolist())
            X, y = X[tr], y[tr]
            rows_track = rows_track[tr]
        elif validation is None:
            info["reason"] = ("early_stopping is off" if not self.early_stopping else
                              "no groups (tracks) to hold out" if groups is None else "one track only")
        y_idx = np.array([index[c] for c in y], dtype=np.int64)
        self.class_weight_ = self._weights(y_idx, len(self.classes_))
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        sample_weight, self.n_pseudo_windows_ = None, 0
        if views is not None and split is not None:  # a validation group's own rows (its audio views) never train
            out = ~np.isin(np.asarray(views[2]), np.asarray(groups)[split[1]])
            views = (*(np.asarray(v)[out] for v in views[:3]), views[3])
        self.n_view_windows_ = 0 if views is None else int(len(views[1]))
        for extra in (pseudo, views):  # after the split: pseudo-labels and views never validate
            if extra is not None and len(extra[1]):
                from workbench.train.sections.pseudo import pseudo_rows

                n = len(y_idx)
                X, y_idx, rows_track, w = pseudo_rows(X, y_idx, rows_track, extra, index)
                sample_weight = w if sample_weight is None else np.concatenate([sample_weight, w[n:]])
        self.n_pseudo_windows_ = 0 if pseudo is None else int(len(pseudo[1]))
        scale = np.where(scale > 1e-6, scale, 1.0).astype(np.float32)
        val = None
        if validation is not None:
            xv, yv = np.asarray(validation[0], dtype=np.float32), np.asarray(validation[1]).astype(str)
            seen = np.isin(yv, self.classes_)
            if seen.sum() > MAX_VAL_WINDOWS:  # a seeded sample: neighbouring windows overlap anyway
                keep = np.random.default_rng(self.seed).choice(np.flatnonzero(seen), MAX_VAL_WINDOWS, replace=False)
                seen = np.zeros_like(seen)
                seen[keep] = True
            if seen.any():
                val = (torch.from_numpy((xv[seen] - mean) / scale),
                       torch.tensor([index[c] for c in yv[seen]], dtype=torch.long))
                info.update(used=bool(self.early_stopping), n_val_windows=int(seen.sum()))
        comp = None
        self.n_not_windows_ = 0
        if not_X is not None and not_y is not None and len(not_y) and self.not_weight > 0:
            nx, ny = np.asarray(not_X, dtype=np.float32), np.asarray(not_y).astype(str)
            if nx.ndim != 2 or nx.shape != (ny.shape[0], X.shape[1]) or not np.all(np.isfinite(nx)):
                raise ParameterError(f"not_X must be a finite (m, {X.shape[1]}) array with one not_y per row; "
                                     f"got not_X {nx.shape}, not_y {ny.shape}")
            known = np.isin(ny, self.classes_)
            if known.any():
                comp = (torch.from_numpy((nx[known] - mean) / scale),
                        torch.tensor([index[c] for c in ny[known]], dtype=torch.long))
                self.n_not_windows_ = int(known.sum())
        threads = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(self.n_threads)
        try:
            self._train(X, y_idx, mean, scale, val, on_epoch, info, comp, rows_track, sample_weight)
        finally:
            torch.set_num_threads(threads)
        return self

    def _train(self, X: np.ndarray, y_idx: np.ndarray, mean: np.ndarray, scale: np.ndarray,
               val: tuple[Any, Any] | None, on_epoch: EpochCallback | None, info: dict[str, Any],
               comp: tuple[Any, Any] | None = None, rows_track: np.ndarray | None = None,
               sample_weight: np.ndarray | None = None) -> None:
        from workbench.train.sections.epoch_loop import run_epochs

        run_epochs(self, X, y_idx, mean, scale, val, on_epoch, info, comp=comp, rows_track=rows_track,
                   sample_weight=sample_weight)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this SectionTrainer is not fitted yet; call fit(X, y) first")

    def predict_proba(self, X: np.ndarray, *, calibrated: bool = False) -> np.ndarray:
        """Class probabilities (n, len(classes_)) in ``classes_`` order.

        Parameters
        ----------
        X : np.ndarray [shape=(n, dim)]
            Window features.
        calibrated : bool
            Divide the log-probabilities by ``temperature_`` (set after fitting, from held-out
            predictions; 1 when none was fitted).

        Raises
        ------
        NotFittedError
            Not fitted yet.
        """
        self._check_fitted()
        p = classifier_proba(self.model_, X)
        temp = float(getattr(self, "temperature_", 1.0))
        if calibrated and temp != 1.0:
            from workbench.evaluate.calibration import apply_temperature

            p = apply_temperature(p, temp)
        return p

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable label of each window.

        Parameters
        ----------
        X : np.ndarray [shape=(n, dim)]
            Window features.

        Returns
        -------
        np.ndarray [shape=(n,)] of str
        """
        proba = self.predict_proba(X)
        return np.asarray(self.classes_)[proba.argmax(axis=1)]

    @classmethod
    def from_model(cls, model: SectionClassifier) -> SectionTrainer:
        """A fitted trainer around a trained head (e.g. from :func:`load_section_model`).

        Parameters
        ----------
        model : SectionClassifier
            The trained head (put in eval mode); its ``labels`` become ``classes_``.
        """
        t = cls(hidden_dim=model.hidden_dim, dropout=model.dropout)
        t.classes_ = tuple(model.labels)
        t.model_ = model.eval()
        t.history_ = []
        return t


def classifier_proba(model: SectionClassifier, X: np.ndarray) -> np.ndarray:
    """Softmax output of a head on raw window features, in its ``labels`` order.

    Parameters
    ----------
    model : SectionClassifier
        The head (put in eval mode).
    X : np.ndarray [shape=(n, model.in_dim)]
        Window features.

    Returns
    -------
    np.ndarray [shape=(n, n_classes), dtype=float64]

    Raises
    ------
    ParameterError
        ``X`` of the wrong shape.
    """
    import torch

    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != model.in_dim:
        raise ParameterError(f"X must have shape (n, {model.in_dim}) for this model; got {X.shape}")
    model.eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a few hundred windows: more threads only spin on shared cores
    try:
        with torch.no_grad():
            return torch.softmax(model(torch.from_numpy(X)), dim=1).numpy().astype(np.float64)
    finally:
        torch.set_num_threads(threads)
