"""Augmented views as positives of their own window in triplet training (invariance the head keeps).

A window's augmented views (pitch, tempo, gain, noise: :mod:`workbench.augment`, embedded once and
cached) carry the window's class, so the miner may pair them with any window of the class; that
alone does not make the head map a window and its own pitch-shifted copy together. Here every
batch is drawn over the original windows (``MPerClassSampler``) and each original brings one of its
own views (drawn with the run's seeded generator), labelled with its class: the view is a positive
of its anchor for the triplet miner, and a pair term, the mean cosine distance between each
original and its own view (:func:`view_alignment_loss`, weight ``view_weight``), pulls the pair
together even when the triplet margin is already met.

The views are drawn from :func:`training_view_settings`: the safe ranges of
:data:`workbench.augment.SAFE_RANGES` (pitch ±3 semitones, tempo 0.9..1.1, gain -6..+3 dB, light
noise), each transform applied more often than the augment module's default so that few views
are left unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.train.triplet_config import SamplerError
from workbench.wording import count_of

if TYPE_CHECKING:
    import torch

    from workbench.augment import AugmentSettings
    from workbench.train.datasets import EmbeddingSet

#: Probabilities of each transform in a training view (the ranges are the safe defaults).
VIEW_PROBABILITIES: dict[str, float] = {"pitch_p": 0.8, "stretch_p": 0.8, "gain_p": 0.8, "noise_p": 0.3}


def training_view_settings() -> AugmentSettings:
    """The augmentation of training views: the safe ranges, each transform with :data:`VIEW_PROBABILITIES`.

    Returns
    -------
    AugmentSettings
        Pitch -3..+3 semitones, stretch rate 0.9..1.1, gain -6..+3 dB, noise 0.001..0.015.
    """
    from workbench.augment import AugmentSettings

    return AugmentSettings(**VIEW_PROBABILITIES)


def view_groups(data: EmbeddingSet) -> tuple[np.ndarray, list[np.ndarray]]:
    """The original rows (view 0) and, for each, the rows of its own augmented views.

    A view belongs to an original when it has the same track and the same window start
    (``rows["start_s"]``; track sets without windows match on the track alone).

    Parameters
    ----------
    data : EmbeddingSet
        Originals and views.

    Returns
    -------
    originals : np.ndarray [shape=(n_originals,), dtype=int64]
        Row positions of the originals.
    views : list of np.ndarray
        ``views[i]``: row positions of the views of ``originals[i]`` (possibly empty).
    """
    start = data.rows.get("start_s")
    key = (np.zeros(len(data)) if start is None else np.round(np.asarray(start, dtype=np.float64), 6))
    originals = np.flatnonzero(data.view == 0)
    where: dict[tuple[int, float], list[int]] = {}
    for i in np.flatnonzero(data.view > 0):
        where.setdefault((int(data.track_ids[i]), float(key[i])), []).append(int(i))
    views = [np.asarray(where.get((int(data.track_ids[i]), float(key[i])), []), dtype=np.int64) for i in originals]
    return originals, views


def with_own_views(batch: np.ndarray, originals: np.ndarray, views: list[np.ndarray],
                   rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """A batch of originals extended with one of each original's own views.

    Parameters
    ----------
    batch : np.ndarray [shape=(b,), dtype=int64]
        Positions into ``originals`` (a sampler's batch over the originals).
    originals, views
        From :func:`view_groups`.
    rng : np.random.RandomState
        The run's generator (which view each original brings).

    Returns
    -------
    rows : np.ndarray [shape=(b + k,), dtype=int64]
        Row positions into the data: the ``b`` originals, then ``k`` views.
    pairs : np.ndarray [shape=(k, 2), dtype=int64]
        ``(position of the original, position of its view)`` within ``rows``.
    """
    rows = [int(originals[j]) for j in batch]
    pairs = []
    for pos, j in enumerate(batch):
        own = views[int(j)]
        if own.size:
            pairs.append((pos, len(rows)))
            rows.append(int(own[rng.randint(own.size)]))
    return np.asarray(rows, dtype=np.int64), np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def view_alignment_loss(embeddings: torch.Tensor, pairs: np.ndarray) -> torch.Tensor:
    """Mean cosine distance ``1 - cos`` between each original and its own view in a batch.

    Parameters
    ----------
    embeddings : torch.Tensor [shape=(n, d)]
        L2-normalised head outputs of the batch.
    pairs : np.ndarray [shape=(k, 2)]
        Positions of (original, view) in the batch; ``k = 0`` gives 0.

    Returns
    -------
    torch.Tensor
        A scalar.
    """
    import torch

    if len(pairs) == 0:
        return embeddings.sum() * 0.0
    a = embeddings[torch.from_numpy(pairs[:, 0])]
    v = embeddings[torch.from_numpy(pairs[:, 1])]
    return (1.0 - (a * v).sum(dim=1)).mean()


@dataclass(frozen=True)
class Sampling:
    """How an epoch's batches are drawn: over ``y`` (the originals' classes when ``own_views`` is set,
    else every row's), ``m`` per class, ``batch_size`` drawn rows, ``length`` rows per epoch;
    ``own_views`` is :func:`view_groups`' result, and ``note`` says what was done when the views
    could not be paired (empty otherwise)."""

    y: np.ndarray
    m: int
    batch_size: int
    length: int
    own_views: tuple[np.ndarray, list[np.ndarray]] | None
    note: str = ""


def plan_sampling(train: EmbeddingSet, config: Any, check: Callable[..., int]) -> Sampling:
    """The sampling of a run: originals with their own views when ``config.view_positives`` and there are views.

    With views paired, ``m / 2`` originals per class and ``batch_size / 2`` originals per batch are
    drawn (for an even ``m``), so that a batch still holds ``batch_size`` rows, ``m`` per class.
    When the originals alone cannot serve the sampler (e.g. one class per track with few windows),
    the views are sampled as rows of their class, as without ``view_positives``, and ``note`` says so.

    Parameters
    ----------
    train : EmbeddingSet
        The training rows.
    config : TripletConfig
        ``m``, ``batch_size``, ``samples_per_epoch``, ``view_positives``.
    check : callable
        :func:`workbench.train.triplet.check_sampler`.

    Returns
    -------
    Sampling

    Raises
    ------
    SamplerError
        Neither way can be served.
    """
    note = ""
    if config.view_positives and (train.view > 0).any():
        originals, groups = view_groups(train)
        half = config.m % 2 == 0
        m, b = (config.m // 2, config.batch_size // 2) if half else (config.m, config.batch_size)
        spe = config.samples_per_epoch
        if spe is not None and half:
            spe = max(b, spe // 2)
        try:
            length = check(train.y[originals], m=m, batch_size=b, samples_per_epoch=spe)
            return Sampling(train.y[originals], m, b, length, (originals, groups))
        except SamplerError as exc:
            note = (f"augmented views not paired with their own windows (the original windows alone cannot fill "
                    f"batches: {exc}); they were sampled as further rows of their class")
    length = check(train.y, m=config.m, batch_size=config.batch_size, samples_per_epoch=config.samples_per_epoch)
    return Sampling(train.y, config.m, config.batch_size, length, None, note)


def describe(config: Any, n_views: int) -> str:
    """One sentence on how the views were used in training (for the run's data record).

    Parameters
    ----------
    config : TripletConfig
        The run's settings (``view_positives``, ``view_weight``).
    n_views : int >= 0
        Augmented views per track.
    """
    if not n_views:
        return "no augmented views: nothing teaches invariance"
    if not config.view_positives:
        return f"{count_of(n_views, 'augmented view')} per track, sampled as further rows of their class"
    return (f"{count_of(n_views, 'augmented view')} per track; each original window brings one of its own views as a "
            f"positive (same class), plus a pair term of weight {config.view_weight:g}")
