"""When the embedding head stops training, and on what: a validation slice, or folds on a small library.

The embeddings job holds out whole tracks for the test (what the gates and the report score) and,
by default, a validation slice whose MAP@R early-stops training. On a small library that slice
starves training and measures little: with 4-7 tracks per folder, two go to the test and two to
validation, so a folder may keep two training tracks, and the validation slice may hold a single
folder (its tracks then rank well at epoch 1, and early stopping keeps epoch 1-5).

:func:`stopping_rule` decides (``early_stopping="auto"``): the validation slice early-stops
training only when it holds tracks of at least :data:`MIN_VAL_CLASSES` classes **and** every class
keeps at least :data:`MIN_TRAIN_PER_CLASS` (8) training tracks beside it, so that the slice (two or
more tracks of each class) takes at most a fifth of a class's tracks from training. Otherwise the
library is small, and

* the validation tracks train too (the test tracks stay held out, untouched);
* :func:`epochs_on_folds` chooses the number of epochs: ``folds`` heads, one per fold of the
  training tracks (:func:`workbench.train.embeddings_blend.track_folds`: stratified by class, a
  class's last track never leaves training), each trained with the run's settings on the other
  training tracks and early-stopped on its own out-of-fold tracks (they query the fold's training
  tracks, never their own); the run's number of epochs is the median of their best epochs;
* the final head trains on all the training tracks for exactly that many epochs
  (``keep_epoch="last"``).

``metrics.json`` says what happened under ``early_stopping`` (``rule``, ``reason``, ``epochs``, the
folds' best epochs and out-of-fold MAP@R) and in a warning ("early stopping: ...").
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError, WorkbenchError
from workbench.wording import count_of

if TYPE_CHECKING:
    from workbench.train.datasets import EmbeddingSet
    from workbench.train.triplet import TripletConfig

#: The job's ``early_stopping`` settings: ``auto`` (:func:`stopping_rule`), ``validation`` (always the
#: validation slice), ``folds`` (always the epoch count chosen on folds, no validation slice).
EARLY_STOPPING: tuple[str, ...] = ("auto", "validation", "folds")
#: A validation slice must hold tracks of at least this many classes to early-stop training ...
MIN_VAL_CLASSES = 2
#: ... and leave every class at least this many training tracks. Chosen on the devset's dev tracks (60 tracks in
#: 10 style folders, seeds 0-2): the folds (4 training tracks per class) beat the validation slice (3) on held-out
#: tracks, precision@3 by folder 0.956 vs 0.933 and MAP@R 0.865 vs 0.797 (``benchmarks/bench_search_real.py``).
MIN_TRAIN_PER_CLASS = 8


def check_early_stopping(value: object) -> str:
    """The job's ``early_stopping`` setting, checked.

    Parameters
    ----------
    value : "auto", "validation" or "folds"
        As given in the config.

    Raises
    ------
    ParameterError
        Anything else.
    """
    if value not in EARLY_STOPPING:
        raise ParameterError(f"early_stopping must be one of {list(EARLY_STOPPING)}; got {value!r}")
    return str(value)


def _tracks_per_class(part: EmbeddingSet) -> dict[str, int]:
    """Distinct tracks of each class name in ``part`` (classes with none left out)."""
    pairs = {(int(t), int(c)) for t, c in zip(part.track_ids, part.y, strict=True)}
    out: dict[str, int] = {}
    for _, c in pairs:
        out[part.classes[c]] = out.get(part.classes[c], 0) + 1
    return dict(sorted(out.items()))


def stopping_rule(train: EmbeddingSet, val: EmbeddingSet, *, setting: str = "auto",
                  min_val_classes: int = MIN_VAL_CLASSES, min_train_per_class: int = MIN_TRAIN_PER_CLASS
                  ) -> tuple[str, str]:
    """``("validation" | "folds", reason)``: what stops the run's training (see the module).

    Parameters
    ----------
    train, val : EmbeddingSet
        The split's training and validation rows (before augmented views).
    setting : "auto", "validation" or "folds"
        The job's ``early_stopping``; only ``auto`` looks at the split.
    min_val_classes : int >= 1
        Classes the validation slice must hold tracks of.
    min_train_per_class : int >= 1
        Training tracks every class must keep beside the validation slice.

    Returns
    -------
    (str, str)
        The rule and one sentence saying why.

    Raises
    ------
    ParameterError
        An unknown ``setting``.
    """
    setting = check_early_stopping(setting)
    if setting != "auto":
        return setting, f"early_stopping={setting!r} in the run's settings"
    in_val, in_train = _tracks_per_class(val), _tracks_per_class(train)
    n_val = sum(in_val.values())
    if len(in_val) < min_val_classes:
        return "folds", (f"the validation slice holds {count_of(n_val, 'track')} of {count_of(len(in_val), 'class', 'classes')} "
                         f"(fewer than {min_val_classes}), too narrow to decide when to stop")
    classes = sorted(set(in_train) | set(in_val))
    thin = {c: in_train.get(c, 0) for c in classes if in_train.get(c, 0) < min_train_per_class}
    if thin:
        return "folds", (f"a validation slice would leave {count_of(len(thin), 'class', 'classes')} with fewer than {min_train_per_class} "
                         f"training tracks ({', '.join(f'{c}: {n}' for c, n in list(thin.items())[:4])})")
    return "validation", (f"the validation slice holds {n_val} tracks of {len(in_val)} classes and every class "
                          f"keeps at least {min_train_per_class} training tracks")


def fold_config(fold_train: EmbeddingSet, config: TripletConfig) -> TripletConfig:
    """The run's settings for a head trained on one fold: stop (not raise) on a collapse, and a batch
    of ``m`` rows of each class that has ``m`` rows (2..16 classes), as the job sizes its own.

    Parameters
    ----------
    fold_train : EmbeddingSet
        The fold's training rows.
    config : TripletConfig
        The run's settings.
    """
    m = config.m
    full = int((np.bincount(fold_train.y) >= m).sum())
    return dataclasses.replace(config, on_collapse="stop",
                               batch_size=m * min(64 // m, max(2, full)) if m <= 32 else config.batch_size)


def epochs_on_folds(train: EmbeddingSet, config: TripletConfig, *, folds: int = 3) -> dict[str, Any]:
    """The number of epochs for the final head: the median best epoch of heads trained on folds.

    Each fold's head trains on the other training tracks (and their augmented views) with
    ``config`` and stops early on the fold's own tracks (original audio), which query the fold's
    training tracks, never their own.

    Parameters
    ----------
    train : EmbeddingSet
        All the training rows (augmented views included).
    config : TripletConfig
        The run's settings (``max_epochs`` and ``patience`` bound each fold's run).
    folds : int >= 2
        Most folds (:func:`workbench.train.embeddings_blend.track_folds`, seeded by ``config.seed``).

    Returns
    -------
    dict
        ``{"epochs": int, "folds": [{"fold", "n_tracks", "best_epoch", "val_map_at_r", "stopped"}],
        "notes": [...]}``; ``epochs`` is ``config.max_epochs`` (with a note) when no fold could be trained.

    Raises
    ------
    ParameterError
        ``folds`` below 2.
    """
    from workbench.train.embeddings_blend import track_folds
    from workbench.train.triplet import train_triplet

    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
        raise ParameterError(f"folds must be an int >= 2; got {folds!r}")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for i, fold in enumerate(track_folds(train, folds=folds, seed=config.seed)):
        inside = np.isin(train.track_ids, fold)
        fold_train, fold_val = train.subset(~inside), train.subset(inside).originals()
        try:
            fit = train_triplet(fold_train, fold_val, config=fold_config(fold_train, config), progress=False)
        except (WorkbenchError, ValueError) as exc:  # e.g. the sampler cannot serve a small fold
            notes.append(f"fold {i + 1}: not trained ({exc})")
            continue
        best = next((h for h in fit.history if h["epoch"] == fit.best_epoch), {})
        rows.append({"fold": i + 1, "n_tracks": int(len(fold)), "best_epoch": int(fit.best_epoch),
                     "val_map_at_r": best.get("val_map_at_r"), "stopped": fit.stopped_reason})
    if not rows:
        notes.append(f"no fold could be trained: max_epochs={config.max_epochs} is used")
        return {"epochs": int(config.max_epochs), "folds": rows, "notes": notes}
    epochs = max(1, int(round(statistics.median(r["best_epoch"] for r in rows))))
    return {"epochs": epochs, "folds": rows, "notes": notes}


def stopping_record(rule: str, reason: str, chosen: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's ``metrics["early_stopping"]`` and its one-line ``said`` (also a warning on folds).

    Parameters
    ----------
    rule : "validation" or "folds"
        What stopped training.
    reason : str
        Why (:func:`stopping_rule`).
    chosen : dict or None
        :func:`epochs_on_folds`'s result (with ``folds``).
    """
    if rule == "validation" or chosen is None:
        return {"rule": rule, "reason": reason,
                "said": f"early stopping: on the validation slice's MAP@R, or its triplet loss where no "
                        f"MAP@R can be measured (each track its own class) ({reason})"}
    best = [r["best_epoch"] for r in chosen["folds"]]
    said = (f"early stopping: no separate validation slice ({reason}); its tracks train too, and the head "
            f"trains {chosen['epochs']} epochs, the median best epoch of {len(best)} fold heads {best} "
            f"early-stopped on their out-of-fold training tracks")
    return {"rule": "folds", "reason": reason, "epochs": chosen["epochs"], "folds": chosen["folds"],
            "notes": chosen.get("notes", []), "said": said}
