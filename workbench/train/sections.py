"""The DJ-section classifier: windows of a track's embeddings → the seven section labels.

Pipeline (each step a function here or in :mod:`workbench.train.smoothing`):

1. :func:`check_readiness`: enough labelled *sections* (10 per class, 2 classes) before training.
2. :func:`section_dataset`: every labelled track's frame embeddings (from the cache) become
   window features (:class:`WindowFeatures`: the frame, mean-pooled context around it, the
   context relative to the track's mean, and the position in the track); windows whose centre
   falls in a labelled span get its label.
3. :class:`SectionTrainer`: a small MLP (:class:`workbench.models.heads.SectionClassifier`)
   trained with class weighting; scikit-learn style, deterministic for a seed.
4. :func:`cross_validate`: grouped K-fold (no track on both sides) for the MLP and the
   scikit-learn baselines on the same folds.
5. :func:`suggest_sections`: full-track inference, frames → beats → bars → smoothed segments
   snapped to bars, each with a confidence (:class:`workbench.labels.Suggestion`).
6. :func:`train_sections`: all of it for the job runner, returning a :class:`SectionResult`.

The smoothing model and :func:`~workbench.train.smoothing.segment_eval` (mir_eval boundary
hit rates, pairwise F) live in :mod:`workbench.train.smoothing`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from workbench.errors import ParameterError, WorkbenchError
from workbench.labels import LABELS
from workbench.train.datasets import demo_sections  # noqa: F401  (re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from workbench.labels import Suggestion
    from workbench.library import Library, Track
    from workbench.models.heads import SectionClassifier

EpochCallback = Callable[[int, int, Mapping[str, Any]], None]


class NotReadyError(WorkbenchError, ValueError):
    """Too few labelled sections to train (the message says which classes lack how many)."""


class NotFittedError(WorkbenchError, _SklearnNotFittedError):
    """A learner was used before ``fit``."""


# ------------------------------------------------------------------------------- readiness


def check_readiness(counts: Mapping[str, int], *, min_per_class: int = 10, min_classes: int = 2) -> None:
    """Refuse to train on too few labels.

    Parameters
    ----------
    counts : mapping of label → int
        Number of labelled *sections* per label (not windows).
    min_per_class : int
        Sections every labelled class needs.
    min_classes : int
        Classes that need labels.

    Raises
    ------
    NotReadyError
        ``"Need 2+ classes: have 1 (drop)"`` or ``"Need more labels: drop 3/10, intro 5/10
        (labelled sections per class)"``.
    """
    present = {k: int(v) for k, v in counts.items() if int(v) > 0}
    unknown = sorted(set(present) - set(LABELS))
    if unknown:
        raise ParameterError(f"counts must use the labels {LABELS}; got unknown {unknown}")
    if len(present) < min_classes:
        names = ", ".join(present) or "none"
        raise NotReadyError(f"Need {min_classes}+ classes: have {len(present)} ({names})")
    short = [f"{k} {present[k]}/{min_per_class}" for k in LABELS if k in present and present[k] < min_per_class]
    if short:
        raise NotReadyError(f"Need more labels: {', '.join(short)} (labelled sections per class)")


# -------------------------------------------------------------------------------- features


@dataclass(frozen=True)
class WindowFeatures:
    """How a track's frame embeddings become one feature vector per frame ("window").

    Parameters
    ----------
    context_s : tuple of float
        Half-widths in seconds of mean-pooled context around each frame (one block each).
    track_relative : bool
        Append each context block minus the track's mean frame (relative level: a drop is
        louder and denser than the rest of *its* track).
    position : bool
        Append the relative position in the track, ``t / duration`` and ``4 r (1 - r)``.

    The layout is ``[frame, context..., (context - track mean)..., position]``; :meth:`dim`
    gives its length for a backbone size.
    """

    context_s: tuple[float, ...] = (4.0, 16.0)
    track_relative: bool = True
    position: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.context_s, tuple) or any(not (isinstance(c, (int, float)) and c > 0) for c in self.context_s):
            raise ParameterError(f"context_s must be a tuple of seconds > 0; got {self.context_s!r}")

    def dim(self, base_dim: int) -> int:
        n_ctx = len(self.context_s)
        return base_dim * (1 + n_ctx + (n_ctx if self.track_relative else 0)) + (2 if self.position else 0)

    def to_dict(self) -> dict[str, Any]:
        return {"context_s": list(self.context_s), "track_relative": self.track_relative, "position": self.position}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WindowFeatures:
        return cls(tuple(float(c) for c in d["context_s"]), bool(d["track_relative"]), bool(d["position"]))

    def transform(self, frames: np.ndarray, times_s: np.ndarray, *, duration_s: float) -> np.ndarray:
        """Features of every frame; ``frames`` (n, d), ``times_s`` frame centres; returns (n, dim(d)) float32."""
        f = np.asarray(frames, dtype=np.float64)
        t = np.asarray(times_s, dtype=np.float64)
        if f.ndim != 2 or f.shape[0] == 0 or t.shape != (f.shape[0],):
            raise ParameterError(f"frames must be (n >= 1, d) with one time each; got {f.shape} and {t.shape}")
        csum = np.vstack([np.zeros((1, f.shape[1])), np.cumsum(f, axis=0)])
        blocks = [f]
        contexts = []
        for c in self.context_s:
            lo = np.searchsorted(t, t - c, side="left")
            hi = np.searchsorted(t, t + c, side="right")
            contexts.append((csum[hi] - csum[lo]) / (hi - lo)[:, None])
        blocks += contexts
        if self.track_relative:
            mean = f.mean(axis=0)
            blocks += [ctx - mean for ctx in contexts]
        if self.position:
            r = np.clip(t / max(float(duration_s), 1e-9), 0.0, 1.0)[:, None]
            blocks += [r, 4 * r * (1 - r)]
        return np.hstack(blocks).astype(np.float32)


# ---------------------------------------------------------------------------------- dataset


@dataclass
class TrackFrames:
    """One track's window features and grid. Times in seconds.

    ``features`` (n, dim) and ``times_s`` (n,) (window centres) cover the whole track;
    ``beats``/``downbeats`` its grid; ``sections`` its labelled spans ``[{start_s, end_s, label}]``.
    """

    track_id: int
    name: str
    duration_s: float
    features: np.ndarray
    times_s: np.ndarray
    beats: np.ndarray
    downbeats: np.ndarray
    sections: list[dict[str, Any]]

    def window_labels(self) -> np.ndarray:
        """Label of each window ('' where no labelled span holds its centre)."""
        out = np.full(self.times_s.shape, "", dtype=object)
        for s in self.sections:
            out[(self.times_s >= s["start_s"]) & (self.times_s < s["end_s"])] = s["label"]
        return out


@dataclass
class SectionData:
    """Labelled windows of a set of tracks, with each track kept whole for smoothing and timelines.

    ``X`` (n, dim) float32, ``y`` (n,) label strings, ``groups`` (n,) track ids and ``times_s``
    (n,) window centres hold only windows inside labelled spans.
    """

    tracks: list[TrackFrames]
    features: WindowFeatures
    backbone: str
    X: np.ndarray = field(init=False, repr=False)
    y: np.ndarray = field(init=False, repr=False)
    groups: np.ndarray = field(init=False, repr=False)
    times_s: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        xs, ys, gs, ts = [], [], [], []
        for tr in self.tracks:
            lab = tr.window_labels()
            keep = lab != ""
            xs.append(tr.features[keep])
            ys.append(lab[keep].astype(str))
            gs.append(np.full(int(keep.sum()), tr.track_id, dtype=np.int64))
            ts.append(tr.times_s[keep])
        dim = self.tracks[0].features.shape[1] if self.tracks else 0
        self.X = np.vstack(xs) if xs else np.zeros((0, dim), dtype=np.float32)
        self.y = np.concatenate(ys) if ys else np.zeros(0, dtype=str)
        self.groups = np.concatenate(gs) if gs else np.zeros(0, dtype=np.int64)
        self.times_s = np.concatenate(ts) if ts else np.zeros(0)

    def section_counts(self) -> dict[str, int]:
        """Labelled sections per label (what :func:`check_readiness` counts)."""
        counts = dict.fromkeys(LABELS, 0)
        for tr in self.tracks:
            for s in tr.sections:
                counts[s["label"]] += 1
        return counts

    def subset(self, track_ids: Iterable[int]) -> SectionData:
        keep = set(int(i) for i in track_ids)
        return SectionData([t for t in self.tracks if t.track_id in keep], self.features, self.backbone)


def _record(r: Any) -> dict[str, Any]:
    get = r.get if isinstance(r, Mapping) else lambda k: getattr(r, k, None)
    rec = {"track_id": get("track_id"), "label": get("label"), "start_s": get("start_s"), "end_s": get("end_s")}
    if rec["label"] not in LABELS:
        raise ParameterError(f"section label must be one of {LABELS}; got {rec['label']!r} in {rec}")
    if not (isinstance(rec["track_id"], int) and rec["start_s"] is not None and rec["end_s"] is not None
            and float(rec["end_s"]) > float(rec["start_s"])):
        raise ParameterError(f"sections need an int track_id and end_s > start_s; got {rec}")
    return {"track_id": rec["track_id"], "label": rec["label"], "start_s": float(rec["start_s"]),
            "end_s": float(rec["end_s"])}


def track_frames(library: Library, track: Track | int | str, *, backbone: Any = None,
                 features: WindowFeatures | None = None) -> TrackFrames:
    """A track's window features (embedding and analysing it first if needed) and beat grid."""
    from workbench.analysis import track_analysis
    from workbench.embed.batch import cache_for, embed_library
    from workbench.embed.features import FeatureFrontend

    t = track if not isinstance(track, (int, str)) else library.track(track)
    b = backbone if backbone is not None else FeatureFrontend()
    spec = features if features is not None else WindowFeatures()
    cache = cache_for(library, b)
    hit = cache.get(t.content_hash)
    if hit is None:
        summary = embed_library(library, backbone=b, tracks=[t], progress=False)
        if summary.failed:
            raise ParameterError(f"track {t.id} cannot be embedded: {summary.failed[0][1]}")
        hit = cache.get(t.content_hash)
        if hit is None:  # pragma: no cover - stored just above
            raise ParameterError(f"track {t.id}: embeddings were not cached in {cache.folder}")
    frames, starts = hit
    times = np.asarray(starts, dtype=np.float64) + float(getattr(b, "window_s", 1.0)) / 2
    analysis = track_analysis(library, t)
    return TrackFrames(t.id, t.name, float(t.duration_s), spec.transform(frames, times, duration_s=t.duration_s),
                       times, np.asarray(analysis.beats), np.asarray(analysis.downbeats), [])


def section_dataset(library: Library, sections: Iterable[Any], *, backbone: Any = None,
                    features: WindowFeatures | None = None, progress: bool = True) -> SectionData:
    """Labelled windows of every track that has sections.

    Parameters
    ----------
    library : Library
    sections : iterable of records
        Dicts or objects with ``track_id``, ``label``, ``start_s``, ``end_s`` (label-store
        records, :class:`workbench.labels.Label`, or :func:`demo_sections`).
    backbone : backbone or None
        Frame embeddings to use (default the feature frontend); missing ones are computed.
    features : WindowFeatures or None
        Window feature layout (default :class:`WindowFeatures`).
    """
    from tqdm.auto import tqdm

    from workbench.embed.features import FeatureFrontend

    b = backbone if backbone is not None else FeatureFrontend()
    spec = features if features is not None else WindowFeatures()
    by_track: dict[int, list[dict[str, Any]]] = {}
    for r in sections:
        rec = _record(r)
        by_track.setdefault(rec.pop("track_id"), []).append(rec)
    tracks = []
    for tid in tqdm(sorted(by_track), desc="section data", unit="track", disable=not progress):
        tr = track_frames(library, tid, backbone=b, features=spec)
        tr.sections = sorted(by_track[tid], key=lambda s: s["start_s"])
        tracks.append(tr)
    return SectionData(tracks, spec, b.name)


# ---------------------------------------------------------------------------------- trainer


def _classes_of(y: np.ndarray) -> tuple[str, ...]:
    unknown = sorted(set(y.tolist()) - set(LABELS))
    if unknown:
        raise ParameterError(f"y must hold labels from {LABELS}; got unknown {unknown}")
    classes = tuple(label for label in LABELS if label in set(y.tolist()))
    if len(classes) < 2:
        raise ParameterError(f"y must hold 2+ classes; got {list(classes)}")
    return classes


class SectionTrainer:
    """Trains a :class:`~workbench.models.heads.SectionClassifier` on window features.

    Parameters
    ----------
    hidden_dim, dropout : int, float
        The MLP's size (see the head).
    epochs, batch_size : int
    lr, weight_decay : float
        AdamW settings.
    class_weight : "balanced", None or dict
        Loss weight per class; "balanced" = ``n / (K · count_k)``.
    seed : int
        Fixes initialisation, dropout and batch order (torch's global RNG is restored after).
    n_threads : int or None
        torch threads while fitting (restored after); ``None`` keeps torch's setting. One
        thread is the default: batches this small gain nothing from more, and on shared
        cores extra threads spin (measured 30 ms vs 520 ms per step on 2 busy cores).
    max_samples_per_epoch : int or None
        An epoch visits at most this many windows, drawn afresh each epoch (``None``: all).
        Neighbouring windows overlap and share their context, so on a large library this
        keeps the number of steps, not the redundancy, growing with the data.

    Learned: ``classes_`` (labels in output order), ``model_`` (the head in eval mode, with
    the input standardisation folded into its first layer, so it takes raw features),
    ``class_weight_``, ``history_`` (one dict per epoch).
    """

    def __init__(self, *, hidden_dim: int = 256, dropout: float = 0.2, epochs: int = 40, batch_size: int = 256,
                 lr: float = 1e-3, weight_decay: float = 1e-4, class_weight: str | dict | None = "balanced",
                 seed: int = 0, n_threads: int | None = 1, max_samples_per_epoch: int | None = 8192) -> None:
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

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("hidden_dim", "dropout", "epochs", "batch_size", "lr", "weight_decay",
                                              "class_weight", "seed", "n_threads",
                                              "max_samples_per_epoch")}

    def _check_params(self) -> None:
        m = self.max_samples_per_epoch
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise ParameterError(f"max_samples_per_epoch must be None or an int >= 1; got {m!r}")
        for name in ("epochs", "batch_size", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "seed" else 1):
                raise ParameterError(f"{name} must be an int >= {0 if name == 'seed' else 1}; got {v!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ParameterError(f"lr must be a float > 0; got {self.lr!r}")
        if self.n_threads is not None and (isinstance(self.n_threads, bool) or not isinstance(self.n_threads, int)
                                           or self.n_threads < 1):
            raise ParameterError(f"n_threads must be None or an int >= 1; got {self.n_threads!r}")
        if not (self.class_weight is None or self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise ParameterError(f"class_weight must be 'balanced', None or a dict label → weight; got {self.class_weight!r}")

    def _weights(self, y_idx: np.ndarray, k: int) -> np.ndarray:
        if self.class_weight is None:
            return np.ones(k)
        if self.class_weight == "balanced":
            counts = np.bincount(y_idx, minlength=k).astype(np.float64)
            return len(y_idx) / (k * np.maximum(counts, 1.0))
        return np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_])  # type: ignore[union-attr]

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None, *,
            validation: tuple[np.ndarray, np.ndarray] | None = None, on_epoch: EpochCallback | None = None
            ) -> SectionTrainer:
        """Train on windows ``X`` (n, dim) with labels ``y`` (n,) (strings from :data:`LABELS`).

        ``groups`` is accepted for scikit-learn symmetry (splits happen outside). ``validation``
        ``(X_val, y_val)`` adds ``val_loss``/``val_accuracy`` to each epoch's record;
        ``on_epoch(epoch, total, record)`` is called after every epoch (its exceptions propagate).
        """
        import torch

        self._check_params()
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y).astype(str)
        if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0 or not np.all(np.isfinite(X)):
            raise ParameterError(f"X must be a finite (n >= 1, dim) array with one label per row; got X {X.shape}, y {y.shape}")
        self.classes_ = _classes_of(y)
        index = {c: i for i, c in enumerate(self.classes_)}
        y_idx = np.array([index[c] for c in y], dtype=np.int64)
        k = len(self.classes_)
        self.class_weight_ = self._weights(y_idx, k)
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        scale = np.where(scale > 1e-6, scale, 1.0).astype(np.float32)
        val = None
        if validation is not None:
            xv, yv = np.asarray(validation[0], dtype=np.float32), np.asarray(validation[1]).astype(str)
            seen = np.isin(yv, self.classes_)
            val = (torch.from_numpy((xv[seen] - mean) / scale), torch.tensor([index[c] for c in yv[seen]], dtype=torch.long))
        threads = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(self.n_threads)
        try:
            self._train(X, y_idx, mean, scale, val, on_epoch)
        finally:
            torch.set_num_threads(threads)
        return self

    def _train(self, X: np.ndarray, y_idx: np.ndarray, mean: np.ndarray, scale: np.ndarray,
               val: tuple[Any, Any] | None, on_epoch: EpochCallback | None) -> None:
        import torch
        from torch.nn import functional as F

        from workbench.models.heads import SectionClassifier, seeded

        xs = torch.from_numpy((X - mean) / scale)
        yt = torch.from_numpy(y_idx)
        rng = np.random.default_rng(self.seed)
        weight = torch.tensor(self.class_weight_, dtype=torch.float32)
        self.history_: list[dict[str, Any]] = []
        generator = torch.Generator().manual_seed(self.seed)
        model = seeded(SectionClassifier, X.shape[1], hidden_dim=self.hidden_dim, dropout=self.dropout,
                       labels=self.classes_, generator=generator)
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs)
        for epoch in range(1, self.epochs + 1):
            t0 = time.perf_counter()
            model.train()
            order = torch.from_numpy(rng.permutation(len(yt))[: self.max_samples_per_epoch])
            total = 0.0
            for a in range(0, len(order), self.batch_size):
                idx = order[a:a + self.batch_size]
                loss = F.cross_entropy(model(xs[idx]), yt[idx], weight=weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            sched.step()
            seconds = time.perf_counter() - t0
            record: dict[str, Any] = {"epoch": epoch, "train_loss": total / len(order), "seconds": seconds,
                                      "samples": len(order), "samples_per_s": len(order) / max(seconds, 1e-9)}
            if val is not None and len(val[1]):
                model.eval()
                with torch.no_grad():
                    logits = model(val[0])
                record["val_loss"] = float(F.cross_entropy(logits, val[1], weight=weight))
                record["val_accuracy"] = float((logits.argmax(1) == val[1]).float().mean())
            self.history_.append(record)
            if on_epoch is not None:
                on_epoch(epoch, self.epochs, dict(record))
        model.eval()
        with torch.no_grad():  # fold the standardisation into fc1: W (x - m) / s + b = (W / s) x + (b - (W / s) m)
            w = model.fc1.weight / torch.from_numpy(scale)[None, :]
            model.fc1.bias.copy_(model.fc1.bias - w @ torch.from_numpy(mean))
            model.fc1.weight.copy_(w)
        self.model_ = model

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this SectionTrainer is not fitted yet; call fit(X, y) first")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, len(classes_)) in ``classes_`` order."""
        self._check_fitted()
        return classifier_proba(self.model_, X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable label of each window."""
        proba = self.predict_proba(X)
        return np.asarray(self.classes_)[proba.argmax(axis=1)]

    @classmethod
    def from_model(cls, model: SectionClassifier) -> SectionTrainer:
        """A fitted trainer around a trained head (e.g. from :func:`load_section_model`)."""
        t = cls(hidden_dim=model.hidden_dim, dropout=model.dropout)
        t.classes_ = tuple(model.labels)
        t.model_ = model.eval()
        t.history_ = []
        return t


def classifier_proba(model: SectionClassifier, X: np.ndarray) -> np.ndarray:
    """Softmax output of a head on raw window features, in its ``labels`` order."""
    import torch

    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != model.in_dim:
        raise ParameterError(f"X must have shape (n, {model.in_dim}) for this model; got {X.shape}")
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(X)), dim=1).numpy().astype(np.float64)


def save_section_model(trainer: SectionTrainer, path: str | Path, *, features: WindowFeatures,
                       backbone: str, transitions: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
    """Write the head's checkpoint plus what inference needs (feature layout, backbone, label-order prior).

    The file is a :func:`workbench.models.heads.checkpoint` with extra keys, so
    :func:`~workbench.models.heads.load_checkpoint` still reads it.
    """
    import torch

    from workbench.fileio import atomic_write
    from workbench.models.heads import checkpoint

    trainer._check_fitted()
    data = checkpoint(trainer.model_)
    data["window_features"] = features.to_dict()
    data["backbone"] = backbone
    if transitions is not None:
        data["log_transitions"] = torch.from_numpy(np.nan_to_num(transitions[0], neginf=-1e9))
        data["log_init"] = torch.from_numpy(transitions[1])
        data["log_final"] = torch.from_numpy(transitions[2])
    atomic_write(path, lambda tmp: torch.save(data, tmp))


def load_section_model(path: str | Path) -> tuple[SectionTrainer, WindowFeatures, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Read :func:`save_section_model`'s file: ``(trainer, features, transitions or None)``."""
    import torch

    from workbench.models.heads import SectionClassifier, load_checkpoint

    data = torch.load(path, weights_only=True, map_location="cpu")
    model = load_checkpoint(data)
    if not isinstance(model, SectionClassifier) or "window_features" not in data:
        raise ParameterError(f"{str(path)!r} is not a section-classifier file written by save_section_model")
    trans = None
    if "log_transitions" in data:
        trans = (data["log_transitions"].numpy(), data["log_init"].numpy(), data["log_final"].numpy())
    return SectionTrainer.from_model(model), WindowFeatures.from_dict(data["window_features"]), trans


# -------------------------------------------------------------------------- cross-validation

MODELS: tuple[str, ...] = ("mlp", "logreg", "ensemble")


def make_baseline(name: str, *, seed: int = 0, n_components: int = 64) -> Any:
    """A scikit-learn baseline on the same window features.

    ``"logreg"``: StandardScaler + balanced logistic regression. ``"ensemble"`` (the research
    design): RobustScaler + soft voting of a random forest, histogram gradient boosting and an
    RBF SVM (probabilities by sigmoid calibration, what ``SVC(probability=True)`` did), all
    class-balanced. Both first project the scaled features on their top ``n_components``
    principal components (fitted on the training fold only): at the ~1000-d window features
    the full-width ensemble took over 15 minutes for 4 folds on a 2-core CPU.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import RobustScaler, StandardScaler
    from sklearn.svm import SVC

    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise ParameterError(f"n_components must be an int >= 1; got {n_components!r}")
    pca = PCA(n_components=n_components, random_state=seed)
    if name == "logreg":
        return make_pipeline(StandardScaler(), pca, LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced"))
    if name == "ensemble":
        vote = VotingClassifier([
            ("rf", RandomForestClassifier(n_estimators=100, min_samples_leaf=2, class_weight="balanced",
                                          random_state=seed, n_jobs=1)),
            ("gb", HistGradientBoostingClassifier(max_iter=50, learning_rate=0.1, class_weight="balanced",
                                                  early_stopping=False, random_state=seed)),
            ("svm", CalibratedClassifierCV(SVC(C=1.0, class_weight="balanced"), cv=3, ensemble=False)),
        ], voting="soft")
        return make_pipeline(RobustScaler(), pca, vote)
    raise ParameterError(f"model must be one of {MODELS}; got {name!r}")


def _report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = [c for c in LABELS if c in set(y_true.tolist()) | set(y_pred.tolist())]
    p, r, f, n = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=[c for c in labels if c in set(y_true.tolist())],
                                   average="macro", zero_division=0)),
        "labels": labels,
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(n[i])}
                      for i, c in enumerate(labels)},
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def grouped_folds(y: np.ndarray, groups: np.ndarray, *, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified grouped K-fold (no group on both sides); ``n_splits`` at most the number of groups."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or not 2 <= n_splits <= n_groups:
        raise ParameterError(f"n_splits must be an int in 2..{n_groups} (the number of tracks); got {n_splits!r}")
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y, groups))


def cross_validate(X: np.ndarray, y: np.ndarray, groups: np.ndarray, *, n_splits: int = 5, seed: int = 0,
                   models: Iterable[str] = MODELS, trainer_params: Mapping[str, Any] | None = None,
                   progress: bool = False) -> dict[str, Any]:
    """Grouped K-fold cross-validation of the MLP and the baselines on the same folds.

    Returns
    -------
    dict
        ``folds``: per fold ``{"test_groups": [...], "n_train", "n_test"}``; per model name
        (``"mlp"``, ``"logreg"``, ``"ensemble"``): ``accuracy``, ``macro_f1``, ``per_class``
        ``{label: {precision, recall, f1, support}}``, ``confusion`` (rows truth, columns
        prediction, in ``labels`` order), all from the pooled out-of-fold predictions, plus
        ``fold_accuracy`` (list) and ``seconds``.
    """
    from tqdm.auto import tqdm

    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).astype(str)
    groups = np.asarray(groups)
    names = tuple(models)
    bad = [m for m in names if m not in MODELS]
    if bad or not names:
        raise ParameterError(f"models must be a non-empty subset of {MODELS}; got {list(names)!r}")
    folds = grouped_folds(y, groups, n_splits=n_splits, seed=seed)
    out: dict[str, Any] = {"folds": [{"test_groups": sorted(np.unique(groups[te]).tolist()), "n_train": len(tr),
                                      "n_test": len(te)} for tr, te in folds]}
    for name in names:
        t0 = time.perf_counter()
        pred = np.empty(len(y), dtype=object)
        fold_acc = []
        for tr, te in tqdm(folds, desc=f"cv {name}", disable=not progress):
            if name == "mlp":
                model = SectionTrainer(**{"seed": seed, **dict(trainer_params or {})})
            else:
                model = make_baseline(name, seed=seed, n_components=max(1, min(64, X.shape[1], len(tr) - 1)))
            model.fit(X[tr], y[tr])
            pred[te] = model.predict(X[te])
            fold_acc.append(float(np.mean(pred[te] == y[te])))
        out[name] = {**_report(y, pred.astype(str)), "fold_accuracy": fold_acc,
                     "seconds": time.perf_counter() - t0}
    return out


# -------------------------------------------------------------------------------- inference

SMOOTHING_DEFAULTS: dict[str, Any] = {"min_bars": 4, "switch_penalty": 2.0, "evidence_weight": 1.0,
                                      "phrase_bars": 4, "phrase_penalty": 1.0}


def segments_for(frames: TrackFrames, probs: np.ndarray, classes: tuple[str, ...], *, smooth: bool = True,
                 transitions: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, **smoothing: Any) -> list[Suggestion]:
    """Window probabilities of one track → suggestions (smoothed, or the raw per-beat arg-max runs).

    ``probs`` (n_windows, len(classes)); ``transitions`` a label-order prior
    ``(log_transitions, log_init, log_final)`` over ``classes``; ``smoothing`` overrides :data:`SMOOTHING_DEFAULTS`.
    """
    from workbench.labels import Suggestion
    from workbench.train import smoothing as sm

    if len(frames.beats) == 0:
        raise ParameterError(f"track {frames.track_id} has no beat grid; section suggestions need beats")
    unknown = sorted(set(smoothing) - set(SMOOTHING_DEFAULTS))
    if unknown:
        raise ParameterError(f"smoothing options must be among {sorted(SMOOTHING_DEFAULTS)}; got {unknown}")
    opts = {**SMOOTHING_DEFAULTS, **smoothing}
    beats = np.asarray(frames.beats, dtype=np.float64)
    bp = sm.beat_probabilities(probs, frames.times_s, beats, duration_s=frames.duration_s)
    if smooth:
        lt, li, lf = transitions if transitions is not None else (None, None, None)
        segs = sm.smooth_beats(bp, sm.bar_starts(beats, frames.downbeats), log_transitions=lt, log_init=li,
                               log_final=lf, **opts)
    else:
        segs = sm.raw_beats(bp)
    edges = np.append(beats, max(frames.duration_s, beats[-1]))
    return [Suggestion(frames.track_id, classes[s.label], s.start_beat, s.end_beat, float(edges[s.start_beat]),
                       float(edges[s.end_beat]), min(1.0, max(0.0, s.confidence))) for s in segs]


def suggest_sections(library: Library, track: Track | int | str, *, model: SectionTrainer | SectionClassifier,
                     backbone: Any = None, features: WindowFeatures | None = None,
                     transitions: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, **smoothing: Any) -> list[Suggestion]:
    """Section suggestions for a whole track: what the labeler shows.

    Sliding windows (the cached frame embeddings) → window probabilities → per-beat
    probabilities → semi-Markov smoothing over bars (:mod:`workbench.train.smoothing`) →
    sections snapped to downbeats, each with the mean probability of its label as confidence.

    Parameters
    ----------
    model : SectionTrainer (fitted) or SectionClassifier
        A head takes the raw window features of ``features`` (it must match their size).
    backbone : backbone or None
        The backbone the model was trained on (default the feature frontend).
    features : WindowFeatures or None
        The window layout used in training (default :class:`WindowFeatures`).
    transitions : (log_transitions, log_init, log_final) or None
        Label-order prior over the model's classes (:attr:`SectionResult.transitions`).
    **smoothing
        ``min_bars``, ``switch_penalty``, ``evidence_weight``, ``phrase_bars``, ``phrase_penalty``.

    Returns
    -------
    list of Suggestion
        Contiguous, covering the track from beat 0 to ``len(beats)``.
    """
    trainer = model if isinstance(model, SectionTrainer) else SectionTrainer.from_model(model)
    trainer._check_fitted()
    frames = track_frames(library, track, backbone=backbone, features=features)
    probs = trainer.predict_proba(frames.features)
    return segments_for(frames, probs, trainer.classes_, transitions=transitions, **smoothing)


def suggester(library: Library, run: Any, *, backbone: Any = None, **smoothing: Any) -> Any:
    """The labeler's ``suggest`` callable (``track -> list[Suggestion]``) for a ``sections`` run.

    ``run`` is a :class:`~workbench.runs.Run`, its folder or its id; the model, its window
    features and its label-order prior are read once from the run's ``model.pt``.
    """
    from functools import partial

    from workbench.runs import Run, load_run

    r = run if isinstance(run, Run) else load_run(run)
    if r.kind != "sections" or r.model_path is None:
        raise ParameterError(f"run {r.run_id} is not a sections run with a model.pt (kind {r.kind!r})")
    trainer, features, transitions = load_section_model(r.model_path)
    return partial(suggest_sections, library, model=trainer, backbone=backbone, features=features,
                   transitions=transitions, **smoothing)


# --------------------------------------------------------------------------- training job

CONFIG_DEFAULTS: dict[str, Any] = {
    "seed": 0, "holdout": 0.25, "holdout_fold": 0, "n_splits": 5, "models": list(MODELS),
    "hidden_dim": 256, "dropout": 0.2, "epochs": 40, "batch_size": 256, "lr": 1e-3, "weight_decay": 1e-4,
    "class_weight": "balanced", "transitions": True, "min_per_class": 10, "min_classes": 2, "timeline_tracks": 3,
    **SMOOTHING_DEFAULTS,
}
_TRAINER_KEYS = ("hidden_dim", "dropout", "epochs", "batch_size", "lr", "weight_decay", "class_weight")


@dataclass
class SectionResult:
    """What :func:`train_sections` returns to the job runner and the report.

    Attributes
    ----------
    model : SectionClassifier
        Trained on the training tracks, eval mode, takes raw window features.
    trainer : SectionTrainer
        The fitted trainer around ``model`` (``predict``, ``predict_proba``, ``classes_``).
    history : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``val_accuracy`` (held-out windows),
        ``seconds``, ``samples_per_s``.
    metrics : dict
        ``cv`` (:func:`cross_validate` on the training tracks: ``mlp`` and each baseline),
        ``holdout`` (window ``accuracy``, ``macro_f1``, ``per_class``, ``confusion``, ``labels``),
        ``holdout_smoothed`` (the same for the smoothed labels at each window), ``segments``
        (mean over held-out tracks of :func:`~workbench.train.smoothing.segment_eval`, keys
        ``smoothed`` and ``raw``), ``n_windows``, ``n_sections``, ``train_tracks``, ``test_tracks``.
    config : dict
        :data:`CONFIG_DEFAULTS` updated with the caller's config, plus ``features`` and ``backbone``.
    arrays : dict of np.ndarray
        Held-out windows: ``y_true``, ``y_pred``, ``y_smoothed`` (str), ``probs`` (n, K in
        ``classes``), ``track_ids``, ``times_s``, ``classes``.
    timeline : list of dict
        A few held-out tracks: ``{track_id, name, duration_s, truth: [{start_s, end_s, label}],
        predicted: [{start_s, end_s, label, confidence}], raw: [...]}``.
    transitions : (log_transitions, log_init, log_final)
        The label-order prior learned from the training tracks (over ``trainer.classes_``).
    features : WindowFeatures
    """

    model: Any
    trainer: SectionTrainer
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    config: dict[str, Any]
    arrays: dict[str, np.ndarray]
    timeline: list[dict[str, Any]]
    transitions: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    features: WindowFeatures


def _holdout_split(data: SectionData, *, holdout: float, seed: int, fold: int = 0) -> tuple[list[int], list[int]]:
    ids = np.array([t.track_id for t in data.tracks])
    if not 0 < holdout < 1:
        raise ParameterError(f"config holdout must be a fraction in (0, 1) of the tracks; got {holdout!r}")
    if len(ids) < 2:
        raise NotReadyError(f"Need 2+ labelled tracks to hold one out; have {len(ids)}")
    n_splits = int(np.clip(round(1 / holdout), 2, len(ids)))
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < n_splits:
        raise ParameterError(f"config holdout_fold must be an int in 0..{n_splits - 1}; got {fold!r}")
    tr, te = grouped_folds(data.y, data.groups, n_splits=n_splits, seed=seed)[fold]
    return sorted(set(data.groups[tr].tolist())), sorted(set(data.groups[te].tolist()))


def train_sections(dataset: SectionData, *, config: Mapping[str, Any] | None = None,
                   on_epoch: EpochCallback | None = None, progress: bool = True) -> SectionResult:
    """Check readiness, cross-validate the MLP and the baselines, train, and evaluate on held-out tracks.

    Parameters
    ----------
    dataset : SectionData
        From :func:`section_dataset`.
    config : mapping or None
        Overrides of :data:`CONFIG_DEFAULTS` (unknown keys are refused). ``holdout`` is the
        fraction of tracks held out (a stratified grouped split into ``round(1 / holdout)``
        folds; ``holdout_fold`` picks which is held out). ``models`` lists the models to
        cross-validate on the training tracks (``[]`` skips cross-validation).
    on_epoch : callable or None
        ``on_epoch(epoch, total, record)`` after each epoch of the final training.

    Raises
    ------
    NotReadyError
        Too few labelled sections (see :func:`check_readiness`) or tracks.
    """
    from tqdm.auto import tqdm

    from workbench.train import smoothing as sm

    unknown = sorted(set(config or {}) - set(CONFIG_DEFAULTS))
    if unknown:
        raise ParameterError(f"config keys must be among {sorted(CONFIG_DEFAULTS)}; got unknown {unknown}")
    cfg = {**CONFIG_DEFAULTS, **dict(config or {})}
    check_readiness(dataset.section_counts(), min_per_class=cfg["min_per_class"], min_classes=cfg["min_classes"])
    train_ids, test_ids = _holdout_split(dataset, holdout=cfg["holdout"], seed=cfg["seed"],
                                        fold=cfg["holdout_fold"])
    train, test = dataset.subset(train_ids), dataset.subset(test_ids)
    trainer_params = {k: cfg[k] for k in _TRAINER_KEYS}
    metrics: dict[str, Any] = {"n_windows": len(dataset.y), "n_sections": sum(dataset.section_counts().values()),
                               "train_tracks": train_ids, "test_tracks": test_ids}
    if cfg["models"]:
        n_splits = min(cfg["n_splits"], len(train_ids))
        metrics["cv"] = cross_validate(train.X, train.y, train.groups, n_splits=n_splits, seed=cfg["seed"],
                                       models=cfg["models"], trainer_params=trainer_params, progress=progress)
    bar = tqdm(total=cfg["epochs"], desc="train sections", unit="epoch", disable=not progress)

    def epoch_done(epoch: int, total: int, record: Mapping[str, Any]) -> None:
        bar.update(1)
        if on_epoch is not None:
            on_epoch(epoch, total, record)

    try:
        trainer = SectionTrainer(seed=cfg["seed"], **trainer_params).fit(
            train.X, train.y, validation=(test.X, test.y), on_epoch=epoch_done)
    finally:
        bar.close()
    classes = trainer.classes_
    transitions = None
    if cfg["transitions"]:
        index = {c: i for i, c in enumerate(classes)}
        seqs = [[index[s["label"]] for s in t.sections if s["label"] in index] for t in train.tracks]
        transitions = sm.learn_transitions(seqs, len(classes))
    smooth_opts = {k: cfg[k] for k in SMOOTHING_DEFAULTS}
    y_true, y_pred, y_smooth, probs, tids, times = [], [], [], [], [], []
    seg_scores: dict[str, list[dict[str, float]]] = {"smoothed": [], "raw": []}
    timeline: list[dict[str, Any]] = []
    for tr in test.tracks:
        p_all = trainer.predict_proba(tr.features)
        smoothed = segments_for(tr, p_all, classes, transitions=transitions, **smooth_opts)
        raw = segments_for(tr, p_all, classes, smooth=False)
        lab = tr.window_labels()
        keep = lab != ""
        starts = np.array([s.start_s for s in smoothed])
        at = np.clip(np.searchsorted(starts, tr.times_s[keep], side="right") - 1, 0, len(smoothed) - 1)
        y_true.append(lab[keep].astype(str))
        y_pred.append(np.asarray(classes)[p_all[keep].argmax(axis=1)])
        y_smooth.append(np.array([smoothed[i].label for i in at]))
        probs.append(p_all[keep])
        tids.append(np.full(int(keep.sum()), tr.track_id))
        times.append(tr.times_s[keep])
        seg_scores["smoothed"].append(sm.segment_eval(tr.sections, smoothed, duration_s=tr.duration_s))
        seg_scores["raw"].append(sm.segment_eval(tr.sections, raw, duration_s=tr.duration_s))
        if len(timeline) < cfg["timeline_tracks"]:
            timeline.append({
                "track_id": tr.track_id, "name": tr.name, "duration_s": tr.duration_s,
                "truth": [dict(s) for s in tr.sections],
                "predicted": [{"start_s": s.start_s, "end_s": s.end_s, "label": s.label, "confidence": s.confidence}
                              for s in smoothed],
                "raw": [{"start_s": s.start_s, "end_s": s.end_s, "label": s.label, "confidence": s.confidence}
                        for s in raw],
            })
    arrays = {"y_true": np.concatenate(y_true), "y_pred": np.concatenate(y_pred),
              "y_smoothed": np.concatenate(y_smooth), "probs": np.vstack(probs),
              "track_ids": np.concatenate(tids), "times_s": np.concatenate(times), "classes": np.asarray(classes)}
    metrics["holdout"] = _report(arrays["y_true"], arrays["y_pred"])
    metrics["holdout_smoothed"] = _report(arrays["y_true"], arrays["y_smoothed"])
    metrics["segments"] = {k: {m: float(np.mean([s[m] for s in v])) for m in v[0]} for k, v in seg_scores.items()}
    cfg_out = {**cfg, "models": list(cfg["models"]), "features": dataset.features.to_dict(),
               "backbone": dataset.backbone}
    return SectionResult(trainer.model_, trainer, trainer.history_, metrics, cfg_out, arrays, timeline,
                         transitions, dataset.features)


__all__ = ["CONFIG_DEFAULTS", "MODELS", "SMOOTHING_DEFAULTS", "NotFittedError", "NotReadyError", "SectionData",
           "SectionResult", "SectionTrainer", "TrackFrames", "WindowFeatures", "check_readiness", "classifier_proba",
           "cross_validate", "demo_sections", "grouped_folds", "load_section_model", "make_baseline",
           "save_section_model", "section_dataset", "segments_for", "suggest_sections", "track_frames",
           "train_sections"]
