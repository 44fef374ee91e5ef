"""Options of the distilled student's training (issue 19): weight averaging, a class term, masked patches.

:func:`workbench.train.cnn_distill.fit_student` learns a teacher's embedding of the training tracks'
windows. On some demo draws (``benchmarks/bench_distill_draws.py``) the student is far below the
teacher on held-out tracks while its validation figures look fine, and another initialisation moves
it by ~0.1 MAP@R. Three ways to make the student less dependent on its draw (the job's defaults with
``distill="features"``: :data:`DISTILL_STUDENT_DEFAULTS`; :func:`fit_student`'s keywords are off unless given):

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

And options about tempo (:data:`DISTILL_TEMPO_DEFAULTS`):

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

The embeddings job (:func:`resolve_job_student`) sets, on a run with ``distill="features"``, every option
the user did not set to its default there: class term 0.5, the mean of the last 4 epochs, rhythm branch
of 96 lags, views without time stretch (session 11's student, ``benchmarks/bench_distill_draws.py``:
held-out MAP@R 0.924 over five demo draws vs 0.870 with every option off); ``--set distill_rhythm_lags=0``
(``0`` / ``false``) turns one off. A run without ``distill`` keeps every option off and refuses one the
user turned on. The class term needs a class with two training tracks (:func:`class_term`): on a
self-supervised run (each track its own class) it is off, and the run's metrics say so.
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
#: The embeddings job's student options with ``distill="features"`` where the user sets none
#: (``--set distill_class_weight=0`` ... turns one off).
DISTILL_STUDENT_DEFAULTS: dict[str, Any] = {"distill_average_epochs": 4, "distill_class_weight": 0.5,
                                            "distill_mask_bins": 0, "distill_precision": "float32"}
#: The job's tempo options of the distilled student with ``distill="features"`` (``--set distill_rhythm_lags=0``,
#: ``distill_keep_tempo=false`` turn them off; ``distill_tempo_bands=12`` turns the bands on).
DISTILL_TEMPO_DEFAULTS: dict[str, Any] = {"distill_rhythm_lags": 96, "distill_keep_tempo": True,
                                          "distill_tempo_bands": 0}
#: Every option off: a run without ``distill``, and :func:`student_options`' missing keys.
DISTILL_OFF: dict[str, Any] = {"distill_average_epochs": 0, "distill_class_weight": 0.0, "distill_mask_bins": 0,
                               "distill_precision": "float32",
                               "distill_rhythm_lags": 0, "distill_keep_tempo": False, "distill_tempo_bands": 0}


def student_options(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """:func:`~workbench.train.cnn_distill.fit_student`'s keywords from the job's ``distill_*`` settings.

    Parameters
    ----------
    settings : mapping or None
        Keys of :data:`DISTILL_STUDENT_DEFAULTS` (missing: off, as :data:`DISTILL_OFF`; None: all off).

    Raises
    ------
    ParameterError
        An unknown key, or a value out of range.
    """
    given = dict(settings or {})
    unknown = sorted(set(given) - set(DISTILL_STUDENT_DEFAULTS))
    if unknown:
        raise ParameterError(f"student settings must be among {sorted(DISTILL_STUDENT_DEFAULTS)}; got {unknown}")
    out = {k[len("distill_"):]: given.get(k, DISTILL_OFF[k]) for k in DISTILL_STUDENT_DEFAULTS}
    check_student_options(**out, classes=None, n_rows=0, need_classes=False)
    return out


def resolve_job_student(data_cfg: dict[str, Any]) -> dict[str, str]:
    """Fill an embeddings job's ``distill_*`` options in place; refuse bad ones, or ones turned on without ``distill``.

    An option the user did not set (None) gets :data:`DISTILL_STUDENT_DEFAULTS` / :data:`DISTILL_TEMPO_DEFAULTS`
    on a run with ``distill``, :data:`DISTILL_OFF` on a run without; an option the user set keeps its value.

    Parameters
    ----------
    data_cfg : dict
        The job's data settings (``distill`` and the keys of :data:`DISTILL_OFF`, None where unset); updated.

    Returns
    -------
    dict
        Each option -> ``"default"`` or ``"set"`` (by the user).

    Raises
    ------
    ParameterError
        A value out of range, or an option turned on for a run that distils nothing.
    """
    distilled = data_cfg.get("distill") not in (None, False)
    given = {k: data_cfg[k] for k in DISTILL_OFF if data_cfg.get(k) is not None}
    defaults = {**DISTILL_STUDENT_DEFAULTS, **DISTILL_TEMPO_DEFAULTS} if distilled else DISTILL_OFF
    data_cfg.update({**defaults, **given})
    student_options({k: data_cfg[k] for k in DISTILL_STUDENT_DEFAULTS})
    rhythm_lags(data_cfg)
    tempo_bands(data_cfg)
    keep = data_cfg["distill_keep_tempo"]
    if not isinstance(keep, bool):
        raise ParameterError(f"distill_keep_tempo must be true or false; got {keep!r}")
    turned_on = [k for k, v in given.items() if v != DISTILL_OFF[k]]
    if turned_on and not distilled:
        raise ParameterError(f"{', '.join(turned_on)} only apply with distill='features'; got distill=None")
    return {k: "set" if k in given else "default" for k in DISTILL_OFF}


def class_term(class_weight: float, classes: Mapping[Any, Any], train_tracks: Any) -> str | None:
    """Why the class term is off for these training tracks (None: it applies).

    The term's positives are windows of *another* track of the same class, so it needs a class with two
    training tracks; a self-supervised run (each track its own class) has none.

    Parameters
    ----------
    class_weight : float >= 0
        The run's ``distill_class_weight``.
    classes : mapping
        Track id -> class name.
    train_tracks : iterable of int
        The student's training tracks.
    """
    if not class_weight > 0:
        return "off (distill_class_weight=0)"
    names = [classes[int(t)] for t in set(int(t) for t in train_tracks)]
    if len(set(names)) == len(names):
        return ("off: no class has two training tracks (its positives are other tracks of the anchor's class; a "
                "self-supervised run, each track its own class, has none)")
    return None


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
                          classes: np.ndarray | None, n_rows: int, need_classes: bool = True,
                          precision: object = "float32") -> None:
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
    precision : str
        The student's compute precision (:data:`workbench.models.cnn_fast.PRECISIONS`).

    Raises
    ------
    ParameterError
        A value out of range, or a class term without one class per row.
    """
    from workbench.models.cnn_fast import check_precision

    check_precision(precision)
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


def student_record(options: Mapping[str, Any], *, net: Any, keep_tempo: bool, class_off: str | None,
                   student_from: Mapping[str, str] | None) -> tuple[dict[str, Any], list[str]]:
    """The run's record of its student options (``metrics["distill"]["student_options"]``) and warnings.

    Parameters
    ----------
    options : mapping
        :func:`student_options`' keywords as asked (``class_weight`` before :func:`class_term`).
    net : MelCNN
        The student (its ``rhythm_lags`` and ``tempo_bands``).
    keep_tempo : bool
        The student's views were not time-stretched.
    class_off : str or None
        :func:`class_term`'s verdict.
    student_from : mapping or None
        :func:`resolve_job_student`'s ``"default"`` / ``"set"`` per option (None: not a job's).

    Returns
    -------
    (dict, list of str)
        ``{option: {"value": in effect, "from": "default" | "set" | "caller"}}`` plus ``class_term``; warnings
        (an option the user set that had no effect).
    """
    asked = {f"distill_{k}": v for k, v in options.items()}
    asked.update(distill_rhythm_lags=int(getattr(net, "rhythm_lags", 0)), distill_keep_tempo=bool(keep_tempo),
                 distill_tempo_bands=int(getattr(net, "tempo_bands", 0)))
    source = dict(student_from or {})
    record: dict[str, Any] = {k: {"value": 0.0 if k == "distill_class_weight" and class_off else v,
                                  "from": source.get(k, "caller")} for k, v in asked.items()}
    record["class_term"] = class_off or "on"
    warnings = []
    if class_off and asked["distill_class_weight"] > 0 and source.get("distill_class_weight") == "set":
        warnings.append(f"distill_class_weight={asked['distill_class_weight']!r} was set but the class term is {class_off}")
    return record, warnings


def describe_student(record: Mapping[str, Any] | None) -> str:
    """The student options a distilled run used, in words (a model card's ``trained``); ``""`` without a record.

    Parameters
    ----------
    record : mapping or None
        A run's ``metrics["distill"]["student_options"]`` (:func:`student_record`).
    """
    if not record:
        return ""
    value = {k: v["value"] for k, v in record.items() if isinstance(v, dict)}
    parts = [f"class term {value['distill_class_weight']:g}" if value.get("distill_class_weight") else
             f"class term {record.get('class_term', 'off')}",
             f"mean of the last {value['distill_average_epochs']} epochs" if value.get("distill_average_epochs") else "",
             f"rhythm branch ({value['distill_rhythm_lags']} lags)" if value.get("distill_rhythm_lags") else "",
             f"tempo bands ({value['distill_tempo_bands']})" if value.get("distill_tempo_bands") else "",
             f"masked bands (<= {value['distill_mask_bins']})" if value.get("distill_mask_bins") else "",
             "views without time stretch" if value.get("distill_keep_tempo") else "",
             f"{value['distill_precision']} compute" if value.get("distill_precision", "float32") != "float32" else ""]
    return "student: " + ", ".join(p for p in parts if p)


def feature_probe(net: Any, features: np.ndarray | None, weight: object, *, seed: int) -> tuple[Any, Any]:
    """The linear probe and z-scored targets of ``fit_student``'s second target; (None, None) at weight 0.

    Parameters
    ----------
    net : MelCNN
        The student (the probe reads its dense layer, ``fc1``).
    features : np.ndarray or None [shape=(n, 202)]
        The rows' frontend features (:attr:`~workbench.train.cnn_distill.StudentRows.features`).
    weight : float >= 0
        ``fit_student``'s ``feature_weight``.
    seed : int
        The run's seed (the probe's initial weights draw from ``seed + 1``).

    Raises
    ------
    ParameterError
        A weight that is not a number >= 0, or a weight > 0 without features.
    """
    import math

    import torch

    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
        raise ParameterError(f"feature_weight must be a number >= 0; got {weight!r}")
    if weight == 0:
        return None, None
    if features is None:
        raise ParameterError("feature_weight > 0 needs the rows' frontend features (StudentRows.features); got None")
    f = features.astype(np.float64)
    std = f.std(axis=0)
    z = (f - f.mean(axis=0)) / np.where(std > 1e-6, std, 1.0)
    probe = torch.nn.Linear(int(net.fc1.out_features), f.shape[1])
    g = torch.Generator().manual_seed(int(seed) + 1)
    torch.nn.init.normal_(probe.weight, std=1.0 / math.sqrt(probe.in_features), generator=g)
    torch.nn.init.zeros_(probe.bias)
    return probe, torch.from_numpy(z.astype(np.float32))
