"""Settings of triplet fine-tuning (:class:`TripletConfig`, the research's defaults), checked on creation.

:func:`workbench.train.triplet.train_triplet` trains with them; :class:`SamplerError` is raised for
settings the class-balanced sampler cannot serve (here and in
:func:`workbench.train.triplet.check_sampler`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from workbench.errors import ParameterError

#: Margins the research allows (cosine distance).
MARGIN_RANGE = (0.2, 0.3)
_TRIPLET_TYPES = ("semihard", "hard", "all", "easy")


class SamplerError(ParameterError):
    """The class-balanced sampler cannot build batches from this data and these settings."""


def _num(name: str, value: object, lo: float, hi: float, *, integer: bool = False, lo_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if integer:
        ok = ok and isinstance(value, int)
    if ok:
        ok = (value > lo if lo_open else value >= lo) and value <= hi
    if not ok:
        kind = "an int" if integer else "a number"
        raise ParameterError(f"{name} must be {kind} in {'(' if lo_open else '['}{lo:g}, {hi:g}]; got {value!r}")


@dataclass(frozen=True)
class TripletConfig:
    """Settings of a triplet fine-tuning run (the research's defaults).

    Parameters
    ----------
    margin : float
        Triplet margin (cosine distance), 0.2..0.3 unless ``allow_any_margin``.
    m : int >= 1
        Samples per class in a batch (``MPerClassSampler``).
    batch_size : int
        A multiple of ``m``; needs ``batch_size / m`` classes with at least ``m`` samples each.
    lr, weight_decay : float
        AdamW's.
    max_epochs, patience : int
        Epoch limit; stop after ``patience`` epochs without a better validation MAP@R.
    keep_epoch : "best" or "last"
        Keep the best validation epoch's weights (default, early stopping) or train exactly
        ``max_epochs`` and keep the last (the epoch count chosen elsewhere, e.g. on folds; the
        validation rows then only watch for collapse).
    samples_per_epoch : int or None
        Sampler length per epoch (``length_before_new_iter``); default: the training set's
        size rounded down to whole batches (at least one batch).
    type_of_triplets : "semihard", "hard", "all" or "easy"
        The miner's selection.
    hidden_dim, out_dim, dropout
        The head's (512, 256, 0.1).
    min_spread : float
        Collapse when the embeddings' spread (total variance of the L2-normalised vectors, 0..1)
        falls below this ...
    collapse_patience : int
        ... or the loss sits at the margin, for this many epochs in a row.
    on_collapse : "raise" or "stop"
        Raise :class:`CollapseError` (default) or return the best head with ``stopped_reason``.
    num_threads : int >= 1 or None
        Torch's intra-op threads during training (restored after); ``None`` keeps torch's
        setting. The default 1 suits the small head: on a busy 2-core CPU two threads made an
        epoch 4x slower (contention), while one thread leaves the other core to the rest.
    view_positives : bool
        Draw batches over the original windows and add one of each original's own augmented
        views (same class) as its positive, with a pair term (see :mod:`workbench.train.views`);
        False samples views as further rows of their class. No effect without views.
    view_weight : float >= 0
        Weight of the pair term (mean cosine distance of each original to its own view); 0
        keeps the views as triplet positives only.
    loss : str
        The objective (:data:`workbench.train.metric_losses.LOSSES`): ``"triplet"`` (semi-hard mined triplets, the
        default), ``"proxy_anchor"`` or ``"supcon"`` (:mod:`workbench.train.metric_losses`).
    seed : int >= 0
    init_head : EmbeddingHead or None
        Where the head starts: None (default), the seed's random weights; a head taking raw rows (e.g. the embeddings
        job's label-free first stage, :mod:`workbench.train.embeddings_pretrain`), copied and adapted to the run's
        z-scoring (:func:`workbench.train.head_start.initial_head`). Passed explicitly by whoever trains (the job sets
        it on every head it trains, fold heads included); never a user setting, never in :meth:`to_dict`.
    """

    margin: float = 0.2
    allow_any_margin: bool = False
    m: int = 4
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 0.01
    max_epochs: int = 50
    patience: int = 5
    keep_epoch: str = "best"
    samples_per_epoch: int | None = None
    type_of_triplets: str = "semihard"
    hidden_dim: int = 512
    out_dim: int = 256
    dropout: float = 0.1
    min_spread: float = 1e-3
    collapse_patience: int = 2
    on_collapse: str = "raise"
    num_threads: int | None = 1
    view_positives: bool = True
    view_weight: float = 1.0
    loss: str = "triplet"
    seed: int = 0
    init_head: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.allow_any_margin, bool):
            raise ParameterError(f"allow_any_margin must be True or False; got {self.allow_any_margin!r}")
        if self.allow_any_margin:
            _num("margin", self.margin, 0.0, 2.0, lo_open=True)
        elif not (isinstance(self.margin, (int, float)) and not isinstance(self.margin, bool)
                  and MARGIN_RANGE[0] <= self.margin <= MARGIN_RANGE[1]):
            raise ParameterError(f"margin must be in [{MARGIN_RANGE[0]}, {MARGIN_RANGE[1]}] (the research's range; "
                                 f"pass allow_any_margin=True for another in (0, 2]); got {self.margin!r}")
        _num("m", self.m, 1, 1e9, integer=True)
        _num("batch_size", self.batch_size, 2, 1e9, integer=True)
        if self.batch_size % self.m:
            raise SamplerError(f"batch_size must be a multiple of m (m={self.m} samples per class); "
                               f"got batch_size={self.batch_size}")
        _num("lr", self.lr, 0.0, 10.0, lo_open=True)
        _num("weight_decay", self.weight_decay, 0.0, 10.0)
        _num("max_epochs", self.max_epochs, 1, 1e6, integer=True)
        _num("patience", self.patience, 1, 1e6, integer=True)
        if self.keep_epoch not in ("best", "last"):
            raise ParameterError(f"keep_epoch must be 'best' or 'last'; got {self.keep_epoch!r}")
        if self.samples_per_epoch is not None:
            _num("samples_per_epoch", self.samples_per_epoch, self.batch_size, 1e9, integer=True)
        if self.type_of_triplets not in _TRIPLET_TYPES:
            raise ParameterError(f"type_of_triplets must be one of {list(_TRIPLET_TYPES)}; got {self.type_of_triplets!r}")
        _num("hidden_dim", self.hidden_dim, 1, 1e6, integer=True)
        _num("out_dim", self.out_dim, 1, 1e6, integer=True)
        _num("dropout", self.dropout, 0.0, 0.99)
        _num("min_spread", self.min_spread, 0.0, 1.0)
        _num("collapse_patience", self.collapse_patience, 1, 1e6, integer=True)
        if self.on_collapse not in ("raise", "stop"):
            raise ParameterError(f"on_collapse must be 'raise' or 'stop'; got {self.on_collapse!r}")
        if self.num_threads is not None:
            _num("num_threads", self.num_threads, 1, 1024, integer=True)
        if not isinstance(self.view_positives, bool):
            raise ParameterError(f"view_positives must be True or False; got {self.view_positives!r}")
        _num("view_weight", self.view_weight, 0.0, 100.0)
        from workbench.train.metric_losses import LOSSES

        if self.loss not in LOSSES:
            raise ParameterError(f"loss must be one of {list(LOSSES)}; got {self.loss!r}")
        _num("seed", self.seed, 0, 2**63 - 1, integer=True)
        if self.init_head is not None and not hasattr(self.init_head, "fc1"):
            raise ParameterError(f"init_head must be None or an EmbeddingHead (raw rows in); got {type(self.init_head).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a run records them (every field but :attr:`init_head`, which is weights, not a setting)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in NOT_SETTINGS}


#: Fields of :class:`TripletConfig` that are not user settings (no ``--set``, not in :meth:`TripletConfig.to_dict`).
NOT_SETTINGS: tuple[str, ...] = ("init_head",)


def param_groups(optimizer: Any) -> list[dict[str, Any]]:
    """The optimizer's parameter groups as a run records them: name, learning rate, parameters.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        After construction (a group without a ``name`` is named by its index).
    """
    return [{"name": g.get("name", str(i)), "lr": float(g["lr"]), "n_params": sum(int(p.numel()) for p in g["params"])}
            for i, g in enumerate(optimizer.param_groups)]


def check_job_config(cfg: dict[str, Any]) -> None:
    """Refuse bad triplet settings before the job starts (``batch_size`` is chosen later when not given).

    Parameters
    ----------
    cfg : dict
        The run's :class:`~workbench.train.triplet.TripletConfig` keys (``max_epochs``, not ``epochs``).

    Raises
    ------
    ParameterError
        A value out of range, named as the user gave it (``epochs`` for ``max_epochs``).
    """
    probe = dict(cfg)
    m = probe.get("m", 4)
    if "batch_size" not in probe and isinstance(m, int) and not isinstance(m, bool) and m >= 1:
        probe["batch_size"] = 2 * m  # a valid stand-in: the job picks the real one from the classes
    try:
        TripletConfig(**probe)
    except ParameterError as exc:
        raise type(exc)(str(exc).replace("max_epochs must", "epochs must", 1)) from None
