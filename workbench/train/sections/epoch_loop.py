"""The epoch loop of :class:`~workbench.train.sections.trainer.SectionTrainer`: optimisation and early stopping.

:func:`run_epochs` trains the head (AdamW, cosine schedule, class-weighted cross-entropy, the
"not this label" loss of rejected suggestions, feature-space augmentation per track or window),
keeps the weights of the epoch with the lowest validation loss (or, with ``checkpoint_on="macro_f1"``, the
highest validation macro F1, the loss breaking ties: :func:`checkpoint_key`) and folds the input
standardisation into the first layer. :func:`overfit_warning` says when validation loss never
improved on the first epoch. The estimator's API (``fit``, ``predict_proba``) stays in
:mod:`~workbench.train.sections.trainer`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from workbench.train.sections.trainer import EpochCallback, SectionTrainer


def overfit_warning(val_losses: list[float]) -> str | None:
    """A warning when held-out loss never improved on the first epoch (``None`` otherwise).

    Parameters
    ----------
    val_losses : list of float
        Validation loss after each epoch; fewer than 2 gives None.
    """
    if len(val_losses) < 2:
        return None
    rising = all(b >= a for a, b in zip(val_losses[:-1], val_losses[1:], strict=True))
    if int(np.argmin(val_losses)) == 0 or rising:
        how = "only rose" if rising else "never went below epoch 1's"
        return (f"validation loss {how} ({val_losses[0]:.4f} at epoch 1, {val_losses[-1]:.4f} at epoch "
                f"{len(val_losses)}): the model fits the training tracks but not unseen ones, so its best "
                "weights are from epoch 1; label more tracks (or more varied ones) before trusting it")
    return None


def _loss_warning(history: list[dict[str, Any]], best_epoch: int) -> str | None:
    said = overfit_warning([h["val_loss"] for h in history])
    f1s = [h["val_macro_f1"] for h in history]
    if said is None or max(f1s) <= f1s[best_epoch - 1]:
        return said
    top = int(np.argmax(f1s))
    return (f"{said} (validation macro F1 rose meanwhile, {f1s[best_epoch - 1]:.4f} -> {f1s[top]:.4f} at epoch "
            f"{top + 1}: `--set checkpoint_on=macro_f1` keeps that epoch)")


def _f1_warning(f1s: list[float], best_epoch: int) -> str | None:
    if len(f1s) < 2 or best_epoch != 1:
        return None
    return (f"validation macro F1 never rose above epoch 1's ({f1s[0]:.4f}; {f1s[-1]:.4f} at epoch {len(f1s)}): "
            "the model fits the training tracks but not unseen ones, so its best weights are from epoch 1; "
            "label more tracks (or more varied ones) before trusting it")


def macro_f1(pred: np.ndarray, truth: np.ndarray) -> float:
    """Macro F1 of window predictions over the classes the truth holds (scikit-learn's ``f1_score``).

    Parameters
    ----------
    pred, truth : np.ndarray [shape=(n,)] of int
        Predicted and true class indices.
    """
    from sklearn.metrics import f1_score

    return float(f1_score(truth, pred, labels=np.unique(truth), average="macro", zero_division=0))


def checkpoint_key(record: dict[str, Any], on: str) -> tuple[float, ...]:
    """The epoch's rank for early stopping (smaller is better): ``(val_loss,)`` or ``(-val_macro_f1, val_loss)``.

    Parameters
    ----------
    record : dict
        The epoch's record (``val_loss``, ``val_macro_f1``).
    on : {"loss", "macro_f1"}
        :attr:`SectionTrainer.checkpoint_on`.
    """
    if on == "macro_f1":
        return (-round(record["val_macro_f1"], 6), record["val_loss"])
    return (record["val_loss"],)


def run_epochs(self: SectionTrainer, X: np.ndarray, y_idx: np.ndarray, mean: np.ndarray, scale: np.ndarray,
               val: tuple[Any, Any] | None, on_epoch: EpochCallback | None, info: dict[str, Any], *,
               comp: tuple[Any, Any] | None = None, rows_track: np.ndarray | None = None,
               sample_weight: np.ndarray | None = None) -> None:
    """The epochs of :meth:`SectionTrainer.fit`: sets the trainer's ``history_``, ``early_stopping_`` and ``model_``.

    Parameters
    ----------
    self : SectionTrainer
        The trainer being fitted (its hyper-parameters, ``classes_`` and ``class_weight_``).
    X : np.ndarray [shape=(n, dim)]
        Training windows (raw features).
    y_idx : np.ndarray [shape=(n,)] of int
        Their class indices in ``classes_``.
    mean, scale : np.ndarray [shape=(dim,)]
        The training standardisation (folded into the head's first layer at the end).
    val : (torch.Tensor, torch.Tensor) or None
        Standardised validation windows and their class indices.
    on_epoch : callable or None
        Called with ``(epoch, epochs, record)`` after each epoch.
    info : dict
        The early-stopping record (``used`` set); updated and kept as ``early_stopping_``.
    comp : (torch.Tensor, torch.Tensor) or None
        Standardised "not this label" windows and the label each is not.
    rows_track : np.ndarray [shape=(n,)] or None
        Each row's track (for ``track_jitter``).
    sample_weight : np.ndarray [shape=(n,)] or None
        Per-row loss weight (pseudo-labelled rows).
    """
    import torch
    from torch.nn import functional as F

    from workbench.models.heads import SectionClassifier, seeded

    xs = torch.from_numpy((X - mean) / scale)
    yt = torch.from_numpy(y_idx)
    rng = np.random.default_rng(self.seed)
    weight = torch.tensor(self.class_weight_, dtype=torch.float32)
    smoothing = float(self.label_smoothing)  # the training loss only; the validation loss stays plain
    self.history_: list[dict[str, Any]] = []
    generator = torch.Generator().manual_seed(self.seed)
    model = seeded(SectionClassifier, X.shape[1], hidden_dim=self.hidden_dim, dropout=self.dropout,
                   labels=self.classes_, generator=generator)
    opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs)
    best: tuple[tuple[float, ...], int, dict[str, Any]] | None = None  # (checkpoint_key, epoch, weights)
    comp_rng = np.random.default_rng(self.seed + 1)  # its own stream: without rejections nothing changes
    aug_rng = np.random.default_rng(self.seed + 2)  # its own stream: without augmentation nothing changes
    track_of = (np.unique(rows_track, return_inverse=True)[1] if rows_track is not None
                else np.arange(len(yt)))
    for epoch in range(1, self.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        if self.track_jitter > 0:  # one gain and offset per track and column for this epoch
            n_tr, d = int(track_of.max()) + 1, xs.shape[1]
            gain = torch.from_numpy(np.exp(aug_rng.normal(0, self.track_jitter, (n_tr, d))).astype(np.float32))
            shift = torch.from_numpy(aug_rng.normal(0, self.track_jitter, (n_tr, d)).astype(np.float32))
            tix = torch.from_numpy(track_of)
        order = torch.from_numpy(rng.permutation(len(yt))[: self.max_samples_per_epoch])
        total = 0.0
        n_steps = -(-len(order) // self.batch_size)
        comp_batches = ([] if comp is None else  # every "not" window about as often as a labelled one
                        np.array_split(comp_rng.permutation(len(comp[1]))[
                            : max(1, round(len(comp[1]) * len(order) / len(yt)))], n_steps))
        for step, a in enumerate(range(0, len(order), self.batch_size)):
            idx = order[a:a + self.batch_size]
            xb = xs[idx]
            if self.track_jitter > 0:
                xb = xb * gain[tix[idx]] + shift[tix[idx]]
            if self.input_noise > 0:
                xb = xb + self.input_noise * torch.from_numpy(
                    aug_rng.standard_normal(tuple(xb.shape)).astype(np.float32))
            if sample_weight is None:
                loss = F.cross_entropy(model(xb), yt[idx], weight=weight, label_smoothing=smoothing)
            else:  # pseudo-labelled rows weigh less: sum(w_y s l) / sum(w_y s)
                sw = torch.from_numpy(sample_weight[idx.numpy()])
                per_row = F.cross_entropy(model(xb), yt[idx], weight=weight, reduction="none",
                                          label_smoothing=smoothing)
                loss = (per_row * sw).sum() / (weight[yt[idx]] * sw).sum()
            if comp_batches and len(comp_batches[step]):
                ci = torch.from_numpy(comp_batches[step])
                p_not = torch.softmax(model(comp[0][ci]), dim=1).gather(1, comp[1][ci][:, None])[:, 0]
                loss = loss - self.not_weight * torch.log1p(-p_not.clamp(max=1 - 1e-6)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        seconds = time.perf_counter() - t0
        record: dict[str, Any] = {"epoch": epoch, "train_loss": total / len(order), "seconds": seconds,
                                  "samples": len(order), "samples_per_s": len(order) / max(seconds, 1e-9)}
        if val is not None:
            model.eval()
            with torch.no_grad():
                logits = model(val[0])
            record["val_loss"] = float(F.cross_entropy(logits, val[1], weight=weight))
            record["val_accuracy"] = float((logits.argmax(1) == val[1]).float().mean())
            record["val_macro_f1"] = macro_f1(logits.argmax(1).numpy(), val[1].numpy())
            key = checkpoint_key(record, self.checkpoint_on)
            if best is None or key < best[0]:
                best = (key, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
        self.history_.append(record)
        if on_epoch is not None:
            on_epoch(epoch, self.epochs, dict(record))
        if info["used"] and best is not None and epoch - best[1] >= self.patience:
            break
    if info["used"] and best is not None:
        model.load_state_dict(best[2])
    if val is not None and best is not None:
        kept = self.history_[best[1] - 1]
        info.update(best_epoch=best[1], best_val_loss=kept["val_loss"], best_val_macro_f1=kept["val_macro_f1"],
                    best_val_accuracy=kept["val_accuracy"], epochs_run=len(self.history_),
                    stopped_early=len(self.history_) < self.epochs,
                    warning=(_loss_warning(self.history_, best[1]) if self.checkpoint_on == "loss" else
                             _f1_warning([h["val_macro_f1"] for h in self.history_], best[1])))
    else:
        info.update(epochs_run=len(self.history_), stopped_early=False, warning=None)
    self.early_stopping_ = info
    model.eval()
    with torch.no_grad():  # fold the standardisation into fc1: W (x - m) / s + b = (W / s) x + (b - (W / s) m)
        w = model.fc1.weight / torch.from_numpy(scale)[None, :]
        model.fc1.bias.copy_(model.fc1.bias - w @ torch.from_numpy(mean))
        model.fc1.weight.copy_(w)
    self.model_ = model
