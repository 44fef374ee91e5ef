"""Options of the distilled student's training (issue 19): weight averaging, a class term, masked patches.

:func:`workbench.train.cnn_distill.fit_student` learns a teacher's embedding of the training tracks'
windows. On some demo draws (``benchmarks/bench_distill_draws.py``) the student is far below the
teacher on held-out tracks while its validation figures look fine, and another initialisation moves
it by ~0.1 MAP@R. Three optional ways to make the student less dependent on its draw, each off by
default:

- ``average_epochs`` (k >= 1): the kept network is the mean of the weights (and BatchNorm buffers)
  after each of the last k epochs trained (stochastic weight averaging,
  :class:`torch.optim.swa_utils.AveragedModel`), instead of the epoch of best validation score;
- ``class_weight`` (w > 0): beside ``1 - cos(student, teacher)``, w times a triplet loss on the run's
  classes (:class:`pytorch_metric_learning.losses.TripletMarginLoss`, cosine distance, margin
  :data:`CLASS_MARGIN`) over the batch's triplets whose positive is on *another* track than the
  anchor (a window of its own track is never the positive: search never counts it a match);
- ``mask_bins`` (b >= 1): each training patch gets one band of at most b mel bins and one span of at
  most b frames set to its mean (SpecAugment-style), the target unchanged (the teacher's, of the
  clean music).

And two options about tempo (:data:`DISTILL_TEMPO_DEFAULTS`), also off by default:

- ``distill_rhythm_lags`` (k >= 1): the CNN gets a rhythm branch
  (:meth:`workbench.models.cnn.MelCNN.rhythm`: its patch's onset-envelope autocorrelation at lags 1..k
  frames beside the convolutions), computed inside the model from its log-mel input, so the exported
  audio-in model keeps it;
- ``distill_keep_tempo`` (True): the student's augmented views are not time-stretched (pitch, gain and
  noise as before, the same draws). A stretched view keeps the target of the original music, so it
  teaches the student that tempo does not matter (rate 0.9..1.1 with probability 0.8: +-10 %, wider
  than the 4-5 % between the demo's techno, trance and progressive);
- ``distill_tempo_bands`` (k in 1..12): the CNN gets the maxima of that autocorrelation over k
  log-spaced tempo bands between 40 and 320 BPM (:meth:`workbench.models.cnn.MelCNN.tempo`), the
  feature frontend's pooled tempogram, i.e. the teacher's own tempo description, on the patch's 3 s;
  also computed inside the model (a masked maximum), so the audio-in export keeps it.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The class term's triplet margin (cosine distance; the triplet path's default).
CLASS_MARGIN = 0.2
#: The embeddings job's settings of these options (``--set distill_average_epochs=4`` ...), all off.
DISTILL_STUDENT_DEFAULTS: dict[str, Any] = {"distill_average_epochs": 0, "distill_class_weight": 0.0,
                                            "distill_mask_bins": 0}
#: The job's tempo settings of the distilled student (``--set distill_rhythm_lags=96``, ``distill_keep_tempo=true``,
#: ``distill_tempo_bands=12``), off.
DISTILL_TEMPO_DEFAULTS: dict[str, Any] = {"distill_rhythm_lags": 0, "distill_keep_tempo": False,
                                          "distill_tempo_bands": 0}


def student_options(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """:func:`~workbench.train.cnn_distill.fit_student`'s keywords from the job's ``distill_*`` settings.

    Parameters
    ----------
    settings : mapping or None
        Keys of :data:`DISTILL_STUDENT_DEFAULTS` (missing: the default; None: all defaults).

    Raises
    ------
    ParameterError
        An unknown key, or a value out of range.
    """
    given = dict(settings or {})
    unknown = sorted(set(given) - set(DISTILL_STUDENT_DEFAULTS))
    if unknown:
        raise ParameterError(f"student settings must be among {sorted(DISTILL_STUDENT_DEFAULTS)}; got {unknown}")
    out = {k[len("distill_"):]: given.get(k, v) for k, v in DISTILL_STUDENT_DEFAULTS.items()}
    check_student_options(**out, classes=None, n_rows=0, need_classes=False)
    return out


def check_job_student(data_cfg: Mapping[str, Any]) -> None:
    """Refuse bad ``distill_*`` student settings of an embeddings job, or ones set without ``distill``.

    Parameters
    ----------
    data_cfg : mapping
        The job's data settings (keys of :data:`DISTILL_STUDENT_DEFAULTS` and :data:`DISTILL_TEMPO_DEFAULTS`
        among them).

    Raises
    ------
    ParameterError
        A value out of range, or a student option on a run that distils nothing.
    """
    options = student_options({k: data_cfg.get(k, v) for k, v in DISTILL_STUDENT_DEFAULTS.items()})
    changed = [f"distill_{k}" for k, v in options.items() if v != DISTILL_STUDENT_DEFAULTS[f"distill_{k}"]]
    if rhythm_lags(data_cfg):
        changed.append("distill_rhythm_lags")
    if tempo_bands(data_cfg):
        changed.append("distill_tempo_bands")
    keep = data_cfg.get("distill_keep_tempo", False)
    if not isinstance(keep, bool):
        raise ParameterError(f"distill_keep_tempo must be true or false; got {keep!r}")
    if keep:
        changed.append("distill_keep_tempo")
    if changed and data_cfg.get("distill") is None:
        raise ParameterError(f"{', '.join(changed)} only apply with distill='features'; got distill=None")


def rhythm_lags(data_cfg: Mapping[str, Any]) -> int:
    """The job's ``distill_rhythm_lags`` (0: no rhythm branch), checked.

    Parameters
    ----------
    data_cfg : mapping
        The job's data settings.

    Raises
    ------
    ParameterError
        Not an integer in [0, 126] (a patch has 128 frames).
    """
    from workbench.validate import check_int

    return check_int("distill_rhythm_lags", data_cfg.get("distill_rhythm_lags", 0), min=0, max=126)


def tempo_bands(data_cfg: Mapping[str, Any]) -> int:
    """The job's ``distill_tempo_bands`` (0: no tempo bands), checked.

    Parameters
    ----------
    data_cfg : mapping
        The job's data settings.

    Raises
    ------
    ParameterError
        Not an integer in [0, 12] (:data:`workbench.models.cnn.MAX_TEMPO_BANDS`).
    """
    from workbench.models.cnn import MAX_TEMPO_BANDS
    from workbench.validate import check_int

    return check_int("distill_tempo_bands", data_cfg.get("distill_tempo_bands", 0), min=0, max=MAX_TEMPO_BANDS)


def check_student_options(*, average_epochs: object, class_weight: object, mask_bins: object,
                          classes: np.ndarray | None, n_rows: int, need_classes: bool = True) -> None:
    """Refuse bad student options with a clear error.

    Parameters
    ----------
    average_epochs : int >= 0
        Epochs averaged (0: off).
    class_weight : float >= 0
        Weight of the class term (0: off).
    mask_bins : int >= 0
        Widest masked band (0: off).
    classes : np.ndarray or None [shape=(n_rows,)]
        Class of each training row (needed when ``class_weight > 0``).
    n_rows : int
        Training rows.
    need_classes : bool
        Check ``classes`` against ``n_rows`` (False: the values alone).

    Raises
    ------
    ParameterError
        A value out of range, or a class term without one class per row.
    """
    for name, value in (("average_epochs", average_epochs), ("mask_bins", mask_bins)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ParameterError(f"{name} must be an integer >= 0; got {value!r}")
    if mask_bins > 127:  # type: ignore[operator]
        raise ParameterError(f"mask_bins must be at most 127 (a patch is 128 x 128); got {mask_bins!r}")
    if isinstance(class_weight, bool) or not isinstance(class_weight, (int, float)) or not class_weight >= 0:
        raise ParameterError(f"class_weight must be a number >= 0; got {class_weight!r}")
    if need_classes and class_weight > 0 and (classes is None or len(classes) != n_rows):
        got = "None" if classes is None else f"{len(classes)} classes"
        raise ParameterError(f"class_weight > 0 needs one class per training row (StudentRows.classes, "
                             f"{n_rows} rows); got {got}")


class EpochAverage:
    """The mean of a network's weights and buffers over its last ``epochs`` epoch-end snapshots.

    Parameters
    ----------
    epochs : int >= 1
        Snapshots kept (the most recent ones).
    """

    def __init__(self, epochs: int) -> None:
        self.snapshots: deque[tuple[int, dict[str, Any]]] = deque(maxlen=int(epochs))

    def add(self, net: Any, epoch: int) -> None:
        """Keep a copy of ``net``'s state after ``epoch``.

        Parameters
        ----------
        net : torch.nn.Module
            The network.
        epoch : int
            The epoch just trained.
        """
        self.snapshots.append((epoch, copy.deepcopy(net.state_dict())))

    @property
    def epochs(self) -> list[int]:
        """The epochs averaged."""
        return [e for e, _ in self.snapshots]

    def average_into(self, net: Any) -> None:
        """Load the mean of the kept snapshots into ``net`` (integer buffers: the last snapshot's).

        Parameters
        ----------
        net : torch.nn.Module
            The network (its architecture is the snapshots').
        """
        from torch.optim.swa_utils import AveragedModel

        if not self.snapshots:
            raise ParameterError("EpochAverage has no snapshot to average; got none (add one per epoch)")
        work = copy.deepcopy(net)
        avg = AveragedModel(work, use_buffers=True)
        for _, state in self.snapshots:
            work.load_state_dict(state)
            avg.update_parameters(work)
        last = self.snapshots[-1][1]
        net.load_state_dict({k: v if v.is_floating_point() else last[k] for k, v in avg.module.state_dict().items()})


def class_triplet_loss(emb: Any, classes: Any, tracks: Any, *, margin: float = CLASS_MARGIN) -> Any:
    """Triplet loss on classes over the batch's triplets whose positive is on another track.

    Parameters
    ----------
    emb : torch.Tensor [shape=(n, d)]
        Unit embeddings of the batch.
    classes : torch.Tensor [shape=(n,), dtype=int64]
        Class of each row.
    tracks : torch.Tensor [shape=(n,), dtype=int64]
        Track of each row.
    margin : float
        Cosine-distance margin.

    Returns
    -------
    torch.Tensor
        A scalar (0 with a gradient path when the batch has no such triplet).
    """
    from pytorch_metric_learning import distances, losses
    from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

    a, p, n = lmu.get_all_triplets_indices(classes)
    keep = tracks[a] != tracks[p]
    if not bool(keep.any()):
        return emb.sum() * 0.0
    loss = losses.TripletMarginLoss(margin=float(margin), distance=distances.CosineSimilarity())
    return loss(emb, classes, (a[keep], p[keep], n[keep]))


def mask_patches(x: Any, *, max_bins: int, generator: Any) -> Any:
    """``x`` with one band of rows and one of columns (each at most ``max_bins`` wide) set to the patch mean.

    Parameters
    ----------
    x : torch.Tensor [shape=(n, 128 * 128)]
        Log-mel patches (flattened 128 x 128).
    max_bins : int >= 1
        Widest band.
    generator : torch.Generator
        Draws the widths and positions.

    Returns
    -------
    torch.Tensor [shape=(n, 128 * 128)]
        A masked copy.
    """
    import torch

    n = len(x)
    p = x.reshape(n, 128, 128).clone()
    mean = p.mean(dim=(1, 2))
    idx = torch.arange(128)
    for axis in (1, 2):
        width = torch.randint(0, max_bins + 1, (n,), generator=generator)
        start = (torch.rand(n, generator=generator) * (128 - width + 1)).long()
        band = (idx[None, :] >= start[:, None]) & (idx[None, :] < (start + width)[:, None])
        m = band[:, :, None].expand(n, 128, 128) if axis == 1 else band[:, None, :].expand(n, 128, 128)
        p = torch.where(m, mean[:, None, None].expand_as(p), p)
    return p.reshape(n, -1)


def class_codes(classes: np.ndarray) -> np.ndarray:
    """Integer codes (int64) of class names, in sorted order of the names.

    Parameters
    ----------
    classes : np.ndarray [shape=(n,)]
        Class names (or any sortable labels).
    """
    return np.unique(np.asarray(classes), return_inverse=True)[1].astype(np.int64)
