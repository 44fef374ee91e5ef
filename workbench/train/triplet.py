"""Triplet fine-tuning of the embedding head on cached backbone vectors.

The research recipe, with pytorch-metric-learning: :class:`~workbench.models.heads.EmbeddingHead`
(Linear(in, 512) → LayerNorm → GELU → Dropout(0.1) → Linear(512, 256) → L2 normalise),
``TripletMarginLoss`` (margin 0.2) on cosine distance with a semi-hard ``TripletMarginMiner`` of
the same margin, batches from ``MPerClassSampler`` (m = 4 per class, batch 64), AdamW (lr 1e-4,
weight decay 0.01), early stopping on validation MAP@R with the best epoch's weights kept.

Augmented views (rows with ``view > 0``) are positives of their own window: with
``view_positives`` (default) batches are drawn over the original windows and each brings one of its
own views plus a pair term (:mod:`workbench.train.views`), so the head keeps the backbone's
invariance to pitch, tempo and gain.

Inputs are z-scored with the training set's statistics, the scaling folded into the first linear layer at the
end (the head takes raw backbone vectors); a ``model`` (the CNN over log-mel patch rows) takes the rows as they are.

Guard rails: impossible sampler settings are refused before training; a collapse (embedding spread near zero,
or the loss stuck at the margin) stops training with :class:`CollapseError`; every epoch reports its mined triplets
(``mined_triplets``; a loss that mines none, SupCon or Proxy Anchor, reports ``batch_rows`` instead: the rows its
batches gave it, every one used, a count fixed by the sampler rather than a sign of learning). Runs are deterministic for a seed on CPU (all randomness
comes from the seed: the global RNGs are forked and restored).

Metrics compare the head with two baselines on the validation set and, when given, a held-out
test set: the untrained backbone (its vectors z-scored with the training set's statistics,
cosine) and a random head (same architecture, the seed's initial weights, never trained). They
come from :func:`workbench.evaluate.retrieval_metrics` (pytorch-metric-learning's
``AccuracyCalculator``) with the track of each row as its group: a query never counts windows or
views of its own track as matches. Early stopping follows validation MAP@R (validation tracks
querying the validation and training tracks, never their own); where it cannot be measured
(self-supervised classes, one track per class) it follows the validation triplet loss instead.
The test split is scored among its own tracks only.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError, WorkbenchError
from workbench.evaluate.retrieval import retrieval_metrics
from workbench.train.datasets import EmbeddingSet
from workbench.train.metric_losses import PROXY_LR_SCALE, ROWS_KEY, build_objective
from workbench.train.triplet_config import (  # noqa: F401  (re-exported)
    _TRIPLET_TYPES,
    MARGIN_RANGE,
    SamplerError,
    TripletConfig,
    _num,
    param_groups,
)
from workbench.train.triplet_eval import (
    _evaluate,
    _labels_in,
    _val_loss,
    _val_metrics,
    embed,
    embedding_spread,
)
from workbench.wording import count_verb

if TYPE_CHECKING:
    from workbench.models.heads import EmbeddingHead

__all__ = ["CollapseError", "SamplerError", "TripletConfig", "TripletResult", "check_sampler", "embed",
           "embedding_spread", "retrieval_metrics", "train_triplet"]

OnEpoch = Callable[[int, int, dict[str, Any]], None]


class CollapseError(WorkbenchError, RuntimeError):
    """Training collapsed (all embeddings alike); ``result`` holds the best head up to then."""

    def __init__(self, message: str, *, result: TripletResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class TripletResult:
    """A finished run.

    ``model`` is the best epoch's head (eval mode, takes raw backbone vectors); ``history`` one
    record per epoch; ``metrics`` ``{"model": {"val": {...}, "test": {...}}, "baseline": {...},
    "untrained_head": {...}}`` (``baseline``: the backbone; ``untrained_head``: the random head)
    with the keys of :func:`workbench.evaluate.retrieval_metrics` each (same-track excluded), and
    ``kept_epoch``: ``best_epoch``, the epoch whose weights ``model`` holds (the run's record of it,
    read by :attr:`workbench.runs.Run.kept_epoch`); ``stopped_reason`` one sentence; ``collapse``
    ``None`` or what was detected.
    """

    model: EmbeddingHead
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    config: dict[str, Any]
    stopped_reason: str
    best_epoch: int
    collapse: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.metrics["kept_epoch"] = int(self.best_epoch)  # recorded where it is decided, never re-derived

    def embed(self, X: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
        """Head embeddings of raw backbone vectors, shape ``(n, out_dim)``.

        Parameters
        ----------
        X : np.ndarray [shape=(n, in_dim)]
            Pooled backbone vectors.
        batch_size : int > 0
            Rows per forward pass.
        """
        return embed(self.model, X, batch_size=batch_size)

    def report(self) -> str:
        """A small table: head vs the untrained backbone on each split."""
        lines = [f"{'split':<6} {'model':<15} {'MAP@R':>7} {'P@1':>7} {'P@5':>7}"]
        for split in ("val", "test"):
            for who in ("baseline", "untrained_head", "model"):
                m = self.metrics.get(who, {}).get(split)
                if m:
                    name = {"baseline": "backbone", "untrained_head": "random head", "model": "fine-tuned"}[who]
                    lines.append(f"{split:<6} {name:<15} {m['map_at_r']:>7.3f} {m['precision_at_1']:>7.3f} "
                                 f"{m['precision_at_5']:>7.3f}")
        lines.append(f"stopped: {self.stopped_reason} (best epoch {self.best_epoch})")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The sampler
# --------------------------------------------------------------------------------------------


def check_sampler(y: np.ndarray, *, m: int, batch_size: int, samples_per_epoch: int | None = None) -> int:
    """Refuse class/batch settings ``MPerClassSampler`` cannot serve; return the epoch length.

    Needs ``batch_size % m == 0``, at least ``batch_size / m`` classes with ``m`` or more
    samples, and every class at least 2 samples (an anchor needs a positive).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        The class of each training row.
    m : int > 0
        Samples per class in a batch.
    batch_size : int > 0
        Rows per batch; a multiple of ``m``.
    samples_per_epoch : int, optional
        Rows drawn per epoch; None draws ``len(y)``.

    Returns
    -------
    int
        The epoch length: rounded down to whole batches, at least one batch.

    Raises
    ------
    SamplerError
        The settings cannot be served; the message proposes ones that can.
    """
    yy = np.asarray(y).reshape(-1)
    if batch_size % m:
        raise SamplerError(f"batch_size must be a multiple of m (m={m}); got batch_size={batch_size}")
    classes, counts = np.unique(yy, return_counts=True)
    lone = classes[counts < 2]
    if lone.size:
        raise SamplerError(f"{count_verb(lone.size, 'class', 'has', 'have', plural='classes')} a single sample, so "
                           f"no positive pair: class ids {lone[:10].tolist()}; drop them, merge them or add "
                           "augmented views (n_views)")
    per_batch = batch_size // m
    full = int((counts >= m).sum())
    if full < per_batch:
        top = sorted(counts.tolist(), reverse=True)
        options = [f"batch_size={k * m}" for k in (full,) if k >= 2]
        options += [f"m={mm} with batch_size={bb}" for mm in (2, 4, 8, 16) for bb in (32, 64)
                    if bb % mm == 0 and (counts >= mm).sum() >= bb // mm]
        raise SamplerError(
            f"batch_size={batch_size} with m={m} needs {per_batch} classes with >= {m} samples each; the training "
            f"set has {full} such classes ({classes.size} classes, largest {top[:6]}). "
            f"Possible: {', '.join(options[:4]) or 'more classes or more samples per class'}")
    n = len(yy) if samples_per_epoch is None else int(samples_per_epoch)
    return max(batch_size, n - n % batch_size)


def _batches(y: np.ndarray, *, m: int, batch_size: int, length: int, rng: np.random.RandomState) -> list[np.ndarray]:
    """One epoch of ``MPerClassSampler`` indices (its global ``NUMPY_RANDOM`` swapped for ``rng``)."""
    from pytorch_metric_learning.samplers import MPerClassSampler
    from pytorch_metric_learning.utils import common_functions as c_f

    sampler = MPerClassSampler(y, m=m, batch_size=batch_size, length_before_new_iter=length)
    saved = c_f.NUMPY_RANDOM
    c_f.NUMPY_RANDOM = rng
    try:
        idx = np.fromiter(iter(sampler), dtype=np.int64, count=len(sampler))
    finally:
        c_f.NUMPY_RANDOM = saved
    return [idx[a:a + batch_size] for a in range(0, len(idx), batch_size)]


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def _standardise_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0).astype(np.float32)
    std = X.std(axis=0)
    return mean, np.where(std > 1e-6, std, 1.0).astype(np.float32)


def _fold_scaling(model: EmbeddingHead, mean: np.ndarray, std: np.ndarray) -> None:
    """Make ``model(x)`` equal the trained ``model((x - mean) / std)``: rescale the first layer."""
    import torch

    with torch.no_grad():
        w = model.fc1.weight / torch.from_numpy(std)[None, :]
        model.fc1.bias.sub_(w @ torch.from_numpy(mean))
        model.fc1.weight.copy_(w)


def _check_set(name: str, data: object, dim: int | None = None) -> EmbeddingSet:
    if not isinstance(data, EmbeddingSet):
        raise ParameterError(f"{name} must be an EmbeddingSet; got {type(data).__name__}")
    if len(data) < 2:
        raise ParameterError(f"{name} needs at least 2 rows; got {len(data)}")
    if dim is not None and data.dim != dim:
        raise ParameterError(f"{name} has vectors of size {data.dim}; the training set's are {dim}")
    if not np.isfinite(data.X).all():
        raise ParameterError(f"{name}.X contains NaN or infinity")
    return data


def train_triplet(train: EmbeddingSet, val: EmbeddingSet, *, test: EmbeddingSet | None = None,
                  config: TripletConfig | None = None, on_epoch: OnEpoch | None = None,
                  progress: bool = True, model: Any = None) -> TripletResult:
    """Fine-tune an :class:`~workbench.models.heads.EmbeddingHead` with semi-hard triplets.

    Parameters
    ----------
    train, val : EmbeddingSet
        Training rows and the validation rows for early stopping (split them by track first:
        :meth:`EmbeddingSet.split`). Classes are matched by name.
    test : EmbeddingSet or None
        Held-out rows, evaluated once with the best head (and the baselines).
    config : TripletConfig or None
    on_epoch : callable or None
        ``on_epoch(epoch, total_epochs, record)`` after every epoch (``epoch`` from 1); ``record``
        has ``epoch, train_loss, val_map_at_r, val_precision_at_1, mined_triplets`` (``batch_rows`` instead for a
        loss without a miner: :data:`ROWS_KEY`), ``embedding_spread, seconds``; ``train_loss`` is None for an epoch
        whose batches mined no triplet (no loss was taken). An exception it raises stops training and propagates.
    progress : bool
        A tqdm bar over epochs.
    model : torch.nn.Module or None
        Trained in place instead of a new head (rows -> unit embeddings, with ``out_dim``; e.g. the
        CNN over log-mel patches); rows not z-scored; the untrained baseline is its copy as given.

    Raises
    ------
    SamplerError
        The sampler settings cannot be served by ``train``'s classes.
    CollapseError
        The embeddings collapsed (with ``on_collapse="raise"``).
    """
    import torch

    cfg = config if config is not None else TripletConfig()
    if not isinstance(cfg, TripletConfig):
        raise ParameterError(f"config must be a TripletConfig; got {type(cfg).__name__}")
    train = _check_set("train", train)
    val = _check_set("val", val, train.dim)
    if test is not None:
        test = _check_set("test", test, train.dim)
    from workbench.train.views import plan_sampling

    sampling = plan_sampling(train, cfg, check_sampler)  # originals, each bringing its own view, where possible
    y_val = _labels_in(val, train.classes)
    mean, std = _standardise_stats(train.X) if model is None else (  # a given network: rows as they are
        np.zeros(train.dim, np.float32), np.ones(train.dim, np.float32))

    saved_threads = torch.get_num_threads()
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    try:
        return _train(train, val, test, cfg, y_val, sampling, mean, std, on_epoch, progress, model)
    finally:
        torch.set_num_threads(saved_threads)


def _train(train: EmbeddingSet, val: EmbeddingSet, test: EmbeddingSet | None, cfg: TripletConfig,
           y_val: np.ndarray, sampling: Any, mean: np.ndarray, std: np.ndarray, on_epoch: OnEpoch | None,
           progress: bool, given: Any = None) -> TripletResult:
    import torch
    from pytorch_metric_learning import distances, losses
    from tqdm.auto import tqdm

    from workbench.models.heads import EmbeddingHead, seeded
    from workbench.train.progress import close_stopped
    from workbench.train.views import view_alignment_loss, with_own_views

    y_train, own_views, length = sampling.y, sampling.own_views, sampling.length
    Xtr = torch.from_numpy((train.X - mean) / std)
    ytr = torch.from_numpy(train.y)
    Xval = (val.X - mean) / std
    ref = train.originals()  # validation tracks query these too (never their own track)
    Xref, y_ref, ref_tracks = (ref.X - mean) / std, ref.y, ref.track_ids
    rng = np.random.RandomState(cfg.seed % 2**32)
    history: list[dict[str, Any]] = []
    generator = torch.Generator().manual_seed(cfg.seed)
    from workbench.train.head_start import initial_head

    start = None if given is not None else initial_head(cfg.init_head, mean, std)  # e.g. a label-free first stage
    model = given if given is not None else start if start is not None else seeded(
        EmbeddingHead, train.dim, hidden_dim=cfg.hidden_dim, out_dim=cfg.out_dim, dropout=cfg.dropout,
        generator=generator)
    untrained = copy.deepcopy(model)
    distance = distances.CosineSimilarity()
    val_loss_fn = losses.TripletMarginLoss(margin=cfg.margin, distance=distance)  # validation, where MAP@R cannot
    objective = build_objective(cfg.loss, margin=cfg.margin, type_of_triplets=cfg.type_of_triplets,  # proxies: seeded
                                n_classes=len(train.classes), out_dim=cfg.out_dim,
                                generator=torch.Generator().manual_seed(cfg.seed))
    loss_fn, miner = objective.loss, objective.miner
    groups = model.param_groups(cfg.lr) if hasattr(model, "param_groups") else model.parameters()  # e.g. a tuned backbone's own lr
    groups = list(groups)
    if objective.proxies is not None:  # the class vectors learn faster than the head (the paper's recipe)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups, "name": "head"}]
        groups.append({"params": list(objective.proxies.parameters()), "lr": cfg.lr * PROXY_LR_SCALE,
                       "weight_decay": 0.0, "name": "proxies"})
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)

    best_map, best_epoch, best_state = -math.inf, 0, copy.deepcopy(model.state_dict())
    stale = collapsed_for = 0
    stopped = f"reached max_epochs={cfg.max_epochs}"
    collapse: dict[str, Any] | None = None
    # a bar over a count, not over the range: leaving a loop over a tqdm iterable closes it at once (red in a notebook)
    bar = tqdm(total=cfg.max_epochs, desc="triplet", unit="epoch", disable=not progress)
    count_key = "mined_triplets" if miner is not None else ROWS_KEY  # SupCon, Proxy Anchor: no triplets mined
    for epoch in range(1, cfg.max_epochs + 1):
        t0 = time.perf_counter()
        model.train()
        losses_, view_losses, mined = [], [], 0
        for idx in _batches(y_train, m=sampling.m, batch_size=sampling.batch_size, length=length, rng=rng):
            pairs = np.zeros((0, 2), dtype=np.int64)
            if own_views is not None:  # positions among the originals -> rows, plus each one's own view
                idx, pairs = with_own_views(idx, *own_views, rng)
            bi = torch.from_numpy(idx)
            xb, yb = Xtr[bi], ytr[bi]
            emb = model(xb)
            if miner is not None:
                triplets = miner(emb, yb)
                n_mined = int(triplets[0].numel())
                loss = loss_fn(emb, yb, triplets)
            else:  # a proxy or contrastive loss uses every row of the batch
                n_mined, loss = len(bi), loss_fn(emb, yb)
            mined += n_mined
            opt.zero_grad(set_to_none=True)
            total, paired = loss, bool(len(pairs)) and cfg.view_weight > 0
            if paired:
                aligned = view_alignment_loss(emb, pairs)
                view_losses.append(float(aligned.detach()))
                total = loss + cfg.view_weight * aligned
            if n_mined or paired:
                total.backward()
                opt.step()
            if n_mined:
                losses_.append(float(loss.detach()))
        val_emb = embed(model, Xval)
        vm = _val_metrics(val_emb, y_val, val.track_ids, embed(model, Xref), y_ref, ref_tracks)
        spread = embedding_spread(val_emb)
        # no batch mined a triplet: there was no loss to take (None, never a 0 that reads as a perfect fit)
        train_loss = float(np.mean(losses_)) if losses_ else None
        record = {"epoch": epoch, "train_loss": train_loss, "val_map_at_r": vm["map_at_r"],
                  "val_precision_at_1": vm["precision_at_1"], "val_precision_at_5": vm["precision_at_5"],
                  count_key: mined, "embedding_spread": spread}
        if view_losses:
            record["view_loss"] = float(np.mean(view_losses))
        if math.isfinite(vm["map_at_r"]):
            score = vm["map_at_r"]
        else:  # nothing to retrieve on other tracks (e.g. each track its own class): the loss decides
            record["val_loss"] = _val_loss(val_loss_fn, val_emb, y_val, seed=cfg.seed)
            score = -record["val_loss"]
        record["seconds"] = time.perf_counter() - t0
        history.append(record)
        shown_loss = "no triplet mined" if train_loss is None else f"{train_loss:.4f}"
        bar.set_postfix({"loss": shown_loss, "map_r": f"{vm['map_at_r']:.4f}",
                         "mined" if miner is not None else "rows": mined}, refresh=False)
        bar.update(1)
        improved = score > best_map + 1e-6 or cfg.keep_epoch == "last"  # last: a fixed epoch count
        if improved:
            best_map, best_epoch, best_state, stale = score, epoch, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
        at_margin = objective.margin_bound and bool(losses_) and abs(train_loss - cfg.margin) < 0.01 * cfg.margin
        collapsed_for = collapsed_for + 1 if (spread < cfg.min_spread or at_margin) else 0
        if on_epoch is not None:
            on_epoch(epoch, cfg.max_epochs, dict(record))
        if collapsed_for >= cfg.collapse_patience:
            why = (f"embedding spread {spread:.2e} < min_spread {cfg.min_spread:g}" if spread < cfg.min_spread
                   else f"training loss {train_loss:.4f} stuck at the margin {cfg.margin:g}")
            collapse = {"epoch": epoch, "embedding_spread": spread, "train_loss": train_loss,
                        count_key: mined, "reason": why}
            stopped = (f"collapse at epoch {epoch}: {why} for {collapsed_for} epochs (all embeddings alike); "
                       f"try a lower lr (now {cfg.lr:g}), check the inputs vary, or check the classes")
            break
        if stale >= cfg.patience:
            what = "MAP@R" if "val_loss" not in record else "triplet loss"
            stopped = f"early stop: validation {what} did not improve for {cfg.patience} epochs"
            break
    close_stopped(bar, "collapse" if collapse else "early stop")  # full and green, not red, when stopped on purpose
    model.load_state_dict(best_state)
    model.eval()
    if given is None:
        _fold_scaling(model, mean, std)
        _fold_scaling(untrained, mean, std)
    untrained.eval()
    metrics = _evaluate(model, untrained, train, {"val": val, "test": test}, mean, std)
    result = TripletResult(model=model, history=history, metrics=metrics, config=cfg.to_dict(),
                           stopped_reason=stopped, best_epoch=best_epoch, collapse=collapse,
                           data={"train_rows": len(train), "val_rows": len(val),
                                 "test_rows": 0 if test is None else len(test), "classes": list(train.classes),
                                 "samples_per_epoch": length, "in_dim": train.dim,
                                 "own_view_pairs": own_views is not None, "param_groups": param_groups(opt)})
    if sampling.note:
        metrics.setdefault("warnings", []).append(sampling.note)
    if collapse is not None and cfg.on_collapse == "raise":
        raise CollapseError(f"triplet training stopped: {stopped}", result=result)
    return result
