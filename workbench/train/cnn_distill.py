"""Distillation of the feature frontend (+ its triplet head) into the CNN (``--distill features``).

Trained with the triplet loss alone on a library's few training tracks, the CNN learns too little
(a job on the demo trains on 9 tracks, ~10 batches an epoch; early stopping on 3 validation tracks
keeps epoch 1). Here the CNN instead learns to reproduce a teacher's embedding of the same music:

1. **Teacher**: the triplet head over the weight-free feature frontend (``features-v1``), trained
   in this run on the run's training tracks (8-s windows, the job's augmented views, the run's
   seed) with :func:`workbench.train.triplet.train_triplet`, its output the CNN's size.
2. **Targets**: for each 3.0-s window (every ``hop_s`` seconds, at most ``max_windows`` per track
   and view, evenly spread) the teacher's embedding of the 8-s context centred on it
   (pooled feature frames of the *original* audio). An augmented view's window (pitch, tempo,
   gain, noise: :func:`workbench.train.views.training_view_settings`) gets the target of the
   original music it holds (its time mapped back), so the CNN learns the invariance too.
3. **Student**: the CNN's network over log-mel patches, AdamW with a one-cycle learning rate,
   loss ``1 - cos(student, target)``; the epoch kept (:data:`SELECT_BY`) is the one with the best
   mean cosine to the teacher on the validation tracks' windows (or, with ``"retrieval"``, the one
   whose validation windows retrieve their class best among the training tracks' windows,
   :func:`retrieval_select`, the cosine breaking ties). These tracks are never trained on.

Only the run's training tracks are learnt from; its validation tracks choose the epoch; its test
tracks (and any track outside the run) are never seen. The result has the triplet path's shape
(:class:`~workbench.train.triplet.TripletResult`, same metrics and baselines on the same 3-s
windows) plus ``metrics["distill"]`` (teacher, its scores, the cosine reached).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.models.cnn_fast import embed_patches as _student_embed
from workbench.train.cnn_distill_rows import HOP_S, MAX_WINDOWS, StudentRows, student_rows
from workbench.train.cnn_teacher import CONTEXT_S, train_teacher

__all__ = ["CONTEXT_S", "StudentRows", "distill_cnn", "fit_student", "retrieval_select", "student_rows",
           "train_teacher"]

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from workbench.library import Library
    from workbench.train.datasets import EmbeddingSet
    from workbench.train.triplet import OnEpoch, TripletConfig, TripletResult

#: Teachers ``--distill`` accepts.
DISTILL_CHOICES = ("features",)
#: Training settings of a distilled CNN where the run does not set them.
DISTILL_DEFAULTS: dict[str, Any] = {"lr": 1e-3, "max_epochs": 12, "patience": 4, "dropout": 0.1,
                                    "weight_decay": 1e-4}
#: Rows per batch of the student (its windows' hop and count: :mod:`workbench.train.cnn_distill_rows`).
BATCH_SIZE = 32
#: Augmented views of each training track the student learns from (at least the run's ``n_views``):
#: the teacher labels any audio, so views are cheap targets; each epoch draws at most
#: :data:`ROWS_PER_EPOCH` of all the rows (another draw every epoch).
STUDENT_VIEWS = 3
ROWS_PER_EPOCH = 768
#: Weight of the frontend's own features as a second target (``fit_student(feature_weight=...)``).
FEATURE_WEIGHT = 0.0
#: How the student's epoch is kept: ``"cosine"`` (mean cosine to the teacher on the validation windows)
#: or ``"retrieval"`` (validation windows' MAP@R among the training tracks' windows, cosine breaking
#: ties: :func:`retrieval_select`). Cosine: on the demo draw where the student collapses (seed 0 of
#: ``benchmarks/bench_distill_draws.py``) both rise together while the held-out MAP@R stays ~0.70
#: from epoch 4 on, so neither rule can rescue it, and retrieval costs an extra pass per epoch.
SELECT_BY = "cosine"
#: Most windows per track (evenly spread) that :func:`retrieval_select` embeds each epoch.
SELECT_WINDOWS = 16


def check_distill(value: object, *, backbone: object) -> str | None:
    """``value`` when it names a teacher (None: no distillation); only the CNN is distilled.

    Parameters
    ----------
    value : str or None
        The run's ``distill`` setting.
    backbone : str
        The run's backbone kind.

    Raises
    ------
    ParameterError
        An unknown teacher, or a backbone other than ``cnn``.
    """
    if value is None or value is False:
        return None
    if value not in DISTILL_CHOICES:
        raise ParameterError(f"distill must be one of {list(DISTILL_CHOICES)} or None; got {value!r}")
    if backbone != "cnn":
        raise ParameterError(f"distill trains the CNN: it needs backbone='cnn'; got backbone={backbone!r}")
    return str(value)


def retrieval_select(patches: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                     queries: np.ndarray) -> Callable[[Any], float]:
    """A ``fit_student(select=...)`` score: MAP@R of the validation windows among the training ones.

    Teacher cosine alone can rise while the student's neighbourhoods stop matching classes; this
    asks what search asks. Each query window (a validation track's) ranks every window of the other
    tracks (its own track's are never a match, :func:`workbench.evaluate.retrieval.retrieval_metrics`)
    by the student's cosine, classes as the run's.

    Parameters
    ----------
    patches : np.ndarray [shape=(n, 128 * 128)]
        Log-mel patches: the training tracks' (references) and the validation tracks' (queries).
    labels : np.ndarray [shape=(n,)]
        Class of each row.
    groups : np.ndarray [shape=(n,)]
        Track of each row.
    queries : np.ndarray [shape=(n,), dtype=bool]
        The validation rows (they ask; every row of another track is a reference).

    Returns
    -------
    callable
        ``score(net) -> float`` in [0, 1], NaN when no query has a same-class window on another track.
    """
    from workbench.evaluate.retrieval import retrieval_metrics

    q = np.asarray(queries)
    if q.dtype != bool or q.shape != (len(patches),) or len(labels) != len(patches) or len(groups) != len(patches):
        raise ParameterError(f"patches, labels, groups and queries must have one entry per row ({len(patches)}); "
                             f"got {len(labels)} labels, {len(groups)} groups, queries of dtype {q.dtype} "
                             f"and shape {q.shape}")
    if not q.any():
        raise ParameterError("retrieval_select needs at least one query row; got none")

    def score(net: Any) -> float:
        """MAP@R of the query rows by ``net``'s embeddings.

        Parameters
        ----------
        net : MelCNN
            The student.
        """
        return float(retrieval_metrics(_student_embed(net, patches), labels, groups=groups, queries=q)["map_at_r"])

    return score


def fit_student(net: Any, train: StudentRows, val: StudentRows, *, cfg: TripletConfig, batch_size: int = BATCH_SIZE,
                rows_per_epoch: int = ROWS_PER_EPOCH, feature_weight: float = 0.0,
                select: Callable[[Any], float] | None = None, average_epochs: int = 0,
                class_weight: float = 0.0, mask_bins: int = 0, precision: str = "float32",
                on_epoch: OnEpoch | None = None) -> tuple[list[dict[str, Any]], int, str]:
    """Train ``net`` (in place) to ``train``'s targets; keep the epoch of best validation score.

    Parameters
    ----------
    net : MelCNN
        The network (patches -> unit embeddings).
    train, val : StudentRows
        Training rows; validation rows (other tracks) that choose the epoch.
    cfg : TripletConfig
        ``lr``, ``weight_decay``, ``max_epochs``, ``patience``, ``seed``, ``num_threads``.
    batch_size : int >= 2
        Rows per step.
    rows_per_epoch : int >= 1
        Rows drawn (without replacement) each epoch, at most all of them.
    feature_weight : float >= 0
        Weight of a second target: the frontend's own pooled features (``train.features``,
        z-scored with the training rows' statistics), read from the network's dense layer
        (:meth:`~workbench.models.cnn.MelCNN.hidden`) by a linear probe that is trained here and
        then dropped (the saved network is unchanged). 0 (default): the teacher's embedding alone.
    select : callable, optional
        ``select(net) -> float`` (higher is better, NaN: no verdict) after each epoch, recorded as
        ``val_select``; the epoch kept (and early stopping) then follows it first and the validation
        cosine second (ties), e.g. :func:`retrieval_select`. None (default): the cosine alone.
    average_epochs : int >= 0
        k >= 1: the kept network is the mean of the weights after the last k of all ``max_epochs`` epochs
        (:class:`~workbench.train.cnn_student.EpochAverage`; no early stopping: the one-cycle rate is annealed
        over them), not the best epoch; 0 (default): off.
    class_weight : float >= 0
        Weight of a triplet loss on ``train.classes`` with positives on other tracks
        (:func:`~workbench.train.cnn_student.class_triplet_loss`); 0 (default): off.
    mask_bins : int >= 0
        Widest masked band of each training patch (:func:`~workbench.train.cnn_student.mask_patches`);
        0 (default): off.
    precision : str
        ``"float32"`` (default) or ``"bfloat16"``: the network's forward passes (training and validation) under
        bfloat16 autocast in channels-last layout (:mod:`workbench.models.cnn_fast`; not with ``feature_weight``).
        float32 keeps the default layout (the old path, bit for bit) unless ``cnn_fast.CHANNELS_LAST``.
    on_epoch : callable, optional
        ``on_epoch(epoch, total, record)`` after each epoch.

    Returns
    -------
    history, best_epoch, stopped_reason
    """
    import torch

    from workbench.models import cnn_fast as fast
    from workbench.train import cnn_student as cs
    from workbench.train.triplet import embedding_spread

    if fast.check_precision(precision) != "float32" and feature_weight:
        raise ParameterError(f"precision={precision!r} needs feature_weight=0; got feature_weight={feature_weight!r}")
    cs.check_student_options(average_epochs=average_epochs, class_weight=class_weight, mask_bins=mask_bins,
                             classes=train.classes, n_rows=len(train.patches))
    average = cs.EpochAverage(average_epochs) if average_epochs else None
    codes = torch.from_numpy(cs.class_codes(train.classes)) if class_weight > 0 else None
    track_codes = torch.from_numpy(cs.class_codes(train.track_ids)) if class_weight > 0 else None
    masks = torch.Generator().manual_seed(int(cfg.seed) + 2)
    rng = np.random.default_rng(cfg.seed)
    per_epoch = min(len(train.patches), rows_per_epoch)
    steps = max(1, per_epoch // batch_size)
    probe, feats = cs.feature_probe(net, train.features, feature_weight, seed=cfg.seed)
    params = list(net.parameters()) + ([] if probe is None else list(probe.parameters()))
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.max_epochs * steps, pct_start=0.25)
    targets = torch.from_numpy(train.targets)
    history: list[dict[str, Any]] = []
    best: tuple[float, float] = (-math.inf, -math.inf)
    best_epoch, best_state, stale = 0, copy.deepcopy(net.state_dict()), 0
    stopped = f"reached max_epochs={cfg.max_epochs}"
    saved_threads = torch.get_num_threads()
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    try:
        with fast.student_layout(net) if precision != "float32" or fast.CHANNELS_LAST else contextlib.nullcontext():
            for epoch in range(1, cfg.max_epochs + 1):
                t0 = time.perf_counter()
                net.train()
                order, losses = rng.permutation(len(train.patches))[:per_epoch], []
                for k in range(steps):
                    b = np.sort(order[k * batch_size:(k + 1) * batch_size])
                    x = torch.from_numpy(train.patches[b].astype(np.float32))
                    if mask_bins:
                        x = cs.mask_patches(x, max_bins=mask_bins, generator=masks)
                    if probe is None:
                        with fast.autocast(precision):
                            emb = net(x)
                        emb = emb.float()
                        loss = (1.0 - (emb * targets[b]).sum(dim=1)).mean()
                    else:  # the embedding from the dense layer as in forward, the probe beside it
                        h = net.hidden(x)
                        z = net.fc2(net.drop(h))
                        emb = z / torch.clamp(torch.sqrt(torch.sum(z * z, dim=1, keepdim=True)), min=1e-6)
                        loss = (1.0 - (emb * targets[b]).sum(dim=1)).mean()
                        loss = loss + feature_weight * torch.mean((probe(h) - feats[b]) ** 2)
                    if codes is not None:
                        loss = loss + class_weight * cs.class_triplet_loss(emb, codes[b], track_codes[b])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    losses.append(float(loss.detach()))
                val_emb = fast.embed_patches(net, val.patches, precision=precision)
                cos = float(np.mean(np.sum(val_emb * val.targets, axis=1)))
                record = {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_cosine": cos,
                          "embedding_spread": embedding_spread(val_emb), "lr": float(sched.get_last_lr()[0]),
                          "seconds": time.perf_counter() - t0}
                key = (-math.inf, cos)
                if select is not None:
                    record["val_select"] = float(select(net))
                    key = (record["val_select"] if math.isfinite(record["val_select"]) else -math.inf, cos)
                history.append(record)
                if average is not None:
                    average.add(net, epoch)
                if _better(key, best):
                    best, best_epoch, best_state, stale = key, epoch, copy.deepcopy(net.state_dict()), 0
                else:
                    stale += 1
                if on_epoch is not None:
                    on_epoch(epoch, cfg.max_epochs, dict(record))
                if stale >= cfg.patience and average is None:
                    what = "validation cosine to the teacher" if select is None else "validation score"
                    stopped = f"early stop: {what} did not improve for {cfg.patience} epochs"
                    break
    finally:
        torch.set_num_threads(saved_threads)
    if average is not None:
        average.average_into(net)
        best_epoch = history[-1]["epoch"]
        stopped += f"; weights averaged over epochs {average.epochs[0]}-{average.epochs[-1]}"
    else:
        net.load_state_dict(best_state)
    net.eval()
    return history, best_epoch, stopped


def _job_select(train: EmbeddingSet, val: EmbeddingSet) -> Callable[[Any], float] | None:
    """:func:`retrieval_select` over a run's patch rows (at most :data:`SELECT_WINDOWS` per track); None without queries."""
    keep = []
    for part in (train, val):
        for t in np.unique(part.track_ids):
            idx = np.flatnonzero(part.track_ids == t)
            keep.append((part, idx[np.unique(np.linspace(0, len(idx) - 1, min(len(idx), SELECT_WINDOWS)).round().astype(int))]))
    if not any(part is val for part, _ in keep) or len(train) == 0:
        return None
    patches = np.concatenate([part.X[i] for part, i in keep])
    labels = np.concatenate([np.asarray(part.classes)[part.y[i]] for part, i in keep])
    groups = np.concatenate([part.track_ids[i] for part, i in keep])
    queries = np.concatenate([np.full(len(i), part is val) for part, i in keep])
    return retrieval_select(patches, labels, groups, queries)


def _better(key: tuple[float, float], best: tuple[float, float], *, tol: float = 1e-6) -> bool:
    """``key`` beats ``best``: a higher first score (selection), or the same one (within ``tol``) and a higher cosine."""
    same = key[0] == best[0] or (math.isfinite(key[0]) and math.isfinite(best[0]) and abs(key[0] - best[0]) <= tol)
    return key[1] > best[1] + tol if same else key[0] > best[0]


def distill_cnn(library: Library, net: Any, *, train: EmbeddingSet, val: EmbeddingSet, test: EmbeddingSet,
                classes: Any, cfg: TripletConfig, n_views: int, batch_size: int | None = None,
                progress: bool = True, on_epoch: OnEpoch | None = None,
                student: Mapping[str, Any] | None = None, keep_tempo: bool = False,
                student_from: Mapping[str, str] | None = None) -> TripletResult:
    """The whole distillation: teacher, targets, student; metrics like :func:`~workbench.train.triplet.train_triplet`'s.

    Parameters
    ----------
    library : Library
        Where the tracks are.
    net : MelCNN
        The CNN's network, trained in place.
    train, val, test : EmbeddingSet
        The run's 3-s patch rows of each split (their tracks decide who is trained on; ``val`` and
        ``test`` score the student as the triplet path's are scored).
    classes : mapping
        Track id -> class name.
    cfg : TripletConfig
        The run's settings.
    n_views : int >= 0
        Augmented views per training track (the teacher's; the student's at least :data:`STUDENT_VIEWS`).
    batch_size : int or None
        Rows per step (default :data:`BATCH_SIZE`).
    progress : bool
        Progress bars (teacher).
    on_epoch : callable, optional
        The student's per-epoch callback.
    student : mapping, optional
        The job's ``distill_*`` student options (:data:`~workbench.train.cnn_student.DISTILL_STUDENT_DEFAULTS`:
        weight averaging, class term, masked patches); None: all off. The class term is off where no class
        has two training tracks (:func:`~workbench.train.cnn_student.class_term`).
    keep_tempo : bool
        The student's views are never time-stretched (:func:`student_rows`' ``stretch=False``).
    student_from : mapping, optional
        Which options the job's user set (:func:`~workbench.train.cnn_student.resolve_job_student`), for the record.
    """
    from workbench.embed.batch import cache_for
    from workbench.embed.features import FeatureFrontend
    from workbench.models.cnn_fast import student_layout
    from workbench.train import cnn_student as cs
    from workbench.train.triplet import TripletResult
    from workbench.train.triplet_eval import _evaluate

    options = cs.student_options(student)
    parts = {name: [library.track(int(t)) for t in sorted(set(part.track_ids.tolist()))]
             for name, part in (("train", train), ("val", val), ("test", test))}
    clock = [time.perf_counter()]  # each stage's end: teacher, student rows, validation rows, student, evaluation
    teacher = train_teacher(library, parts, classes=classes, cfg=cfg, out_dim=int(net.embedding_dim),
                            n_views=n_views, progress=progress)
    clock.append(time.perf_counter())
    cached = cache_for(library, FeatureFrontend()).get  # the teacher's frames of the original audio
    rows = student_rows(parts["train"], teacher.model, n_views=max(n_views, STUDENT_VIEWS), seed=cfg.seed,
                        stretch=not keep_tempo, cached_frames=cached)
    clock.append(time.perf_counter())
    val_rows = student_rows(parts["val"], teacher.model, n_views=0, seed=cfg.seed, cached_frames=cached)
    clock.append(time.perf_counter())
    class_off = cs.class_term(options["class_weight"], classes, rows.track_ids)
    record, warnings = cs.student_record(options, net=net, keep_tempo=keep_tempo, class_off=class_off,
                                         student_from=student_from)
    if class_off is None:
        rows.classes = np.array([str(classes[int(t)]) for t in rows.track_ids])
    options["class_weight"] = record["distill_class_weight"]["value"]
    untrained = copy.deepcopy(net).eval()
    select = _job_select(train.originals(), val) if SELECT_BY == "retrieval" else None
    history, best_epoch, stopped = fit_student(net, rows, val_rows, cfg=cfg, batch_size=batch_size or BATCH_SIZE,
                                               feature_weight=FEATURE_WEIGHT, select=select, on_epoch=on_epoch, **options)
    clock.append(time.perf_counter())
    with student_layout(net, untrained):
        metrics = _evaluate(net, untrained, train, {"val": val, "test": test}, np.zeros(train.dim, np.float32),
                            np.ones(train.dim, np.float32))
    clock.append(time.perf_counter())
    stages = dict(zip(("teacher", "student_rows", "val_rows", "student", "evaluate"), np.diff(clock).round(1).tolist(), strict=True))
    tm = teacher.metrics.get("model", {})
    metrics["distill"] = {
        "teacher": f"features-v1 + triplet head ({int(net.embedding_dim)}-d), trained in this run",
        "teacher_val_map_at_r": (tm.get("val") or {}).get("map_at_r"),
        "teacher_test_map_at_r": (tm.get("test") or {}).get("map_at_r"),
        "teacher_window_s": CONTEXT_S, "val_cosine": max(h["val_cosine"] for h in history),
        "student_rows": len(rows.patches), "val_rows": len(val_rows.patches), "hop_s": HOP_S,
        "student_views": max(n_views, STUDENT_VIEWS), "rows_per_epoch": min(len(rows.patches), ROWS_PER_EPOCH),
        "max_windows": MAX_WINDOWS, "feature_weight": FEATURE_WEIGHT, "prepare_s": round(clock[3] - clock[0], 1), "stage_s": stages,
        "select_by": SELECT_BY if select is not None else "cosine",
        "epoch_s": round(float(np.mean([h["seconds"] for h in history])), 1), **options,
        "rhythm_lags": int(getattr(net, "rhythm_lags", 0)), "tempo_bands": int(getattr(net, "tempo_bands", 0)),
        "keep_tempo": bool(keep_tempo), "student_stopped": stopped, "student_options": record}
    if warnings:
        metrics.setdefault("warnings", []).extend(warnings)
    config = {**cfg.to_dict(), "distill": "features", "distill_batch_size": batch_size or BATCH_SIZE}
    return TripletResult(model=net, history=history, metrics=metrics, config=config, stopped_reason=stopped,
                         best_epoch=best_epoch, data={"train_rows": len(rows.patches), "val_rows": len(val),
                                                      "test_rows": len(test), "classes": list(train.classes),
                                                      "in_dim": train.dim, "distill": "features"})
