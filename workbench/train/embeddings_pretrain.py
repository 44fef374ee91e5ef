"""A label-free first stage of the embedding head on every track of the library (transductive pretraining).

Before the supervised head trains on the folders' training tracks, :func:`pretrain_head` trains the same
head architecture on the windows of *every* track the job may search (training, held-out and unclassed
tracks alike; no class is read): each track is its own class, so the positives of a window are the other
windows of its track and its augmented views (:func:`~workbench.train.views.training_view_settings`, the
safe ranges), as in COLA (Saeed et al. 2021: segments of one clip are positives). The head so learns what
stays constant within a track (its instruments, production), which album folders may share.

The supervised stage (and every fold head the job trains for its epoch count and its blend) then starts
from these weights instead of the seed's random ones: the job passes the head explicitly as ``TripletConfig.init_head``
on the config of every head it trains (:func:`workbench.train.head_start.initial_head` adapts it to each z-scoring).

The job's ``random_head`` baseline is then that start, the pretrained head before any label (``metrics.json``
``pretrain`` says so). A CNN or a fine-tuned backbone trains its own network: there the setting is recorded as
skipped. Off by default (``pretrain_epochs=0``); ``workbench train embeddings --set pretrain_epochs=N``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.library import Library, Track
    from workbench.models.heads import EmbeddingHead
    from workbench.train.triplet import TripletConfig

#: Objectives the first stage may use (:mod:`workbench.train.metric_losses`).
PRETRAIN_LOSSES: tuple[str, ...] = ("supcon", "triplet")


def check_pretrain(epochs: object, loss: object) -> tuple[int, str]:
    """The job's ``pretrain_epochs`` (an int in [0, 500]; 0: off) and ``pretrain_loss`` (one of :data:`PRETRAIN_LOSSES`).

    Parameters
    ----------
    epochs : object
        The setting as given.
    loss : object
        The setting as given.

    Returns
    -------
    (int, str)

    Raises
    ------
    ParameterError
        A value out of range, naming it and what is allowed.
    """
    if not isinstance(epochs, int) or isinstance(epochs, bool) or not 0 <= epochs <= 500:
        raise ParameterError(f"pretrain_epochs must be an int in [0, 500] (0: off); got {epochs!r}")
    if loss not in PRETRAIN_LOSSES:
        raise ParameterError(f"pretrain_loss must be one of {list(PRETRAIN_LOSSES)}; got {loss!r}")
    return epochs, str(loss)


def pretrain_head(library: Library, tracks: list[Track], *, backbone: Backbone, window_s: float, config: TripletConfig,
                  epochs: int, loss: str = "supcon", n_views: int = 1) -> tuple[EmbeddingHead, dict[str, Any]]:
    """Train the head's architecture with each track its own class, on every given track's windows and views.

    Parameters
    ----------
    library : Library
    tracks : list of Track
        Every track search may offer (no class is read).
    backbone : Backbone
        The job's backbone (rows as the supervised stage sees them).
    window_s : float > 0
        Window length in seconds.
    config : TripletConfig
        The supervised stage's settings: the architecture, ``lr``, ``seed``, ``num_threads`` are kept; the
        objective, epoch count and sampler are the first stage's.
    epochs : int >= 1
        Epochs of the first stage (the last epoch's weights are kept).
    loss : str
        One of :data:`PRETRAIN_LOSSES`.
    n_views : int >= 0
        Augmented views per track (positives of their own window).

    Returns
    -------
    (EmbeddingHead, dict)
        The head (raw backbone rows in, unit vectors of ``config.out_dim`` out) and a record for ``metrics.json``.
    """
    import dataclasses

    from workbench.train import datasets as ds
    from workbench.train.triplet import train_triplet
    from workbench.train.views import training_view_settings

    if len(tracks) < 2:
        raise ParameterError(f"pretraining needs at least 2 tracks; got {len(tracks)}")
    rows = ds.section_windows(library, ds.whole_tracks(library, tracks), backbone=backbone, window_s=window_s,
                              classes_from={t.id: f"track {t.id}" for t in tracks}, n_views=n_views,
                              seed=config.seed, augment_settings=training_view_settings(), progress=False)
    counts = np.bincount(rows.y)
    # m 4 where 2+ tracks have 4 rows (windows and views); short tracks (one window and its view) are paired, m 2
    m = 4 if int((counts >= 4).sum()) >= 2 else 2
    full = int((counts >= m).sum())
    cfg = dataclasses.replace(config, loss=loss, max_epochs=int(epochs), keep_epoch="last", m=m,
                              batch_size=m * min(64 // m, max(2, full)), samples_per_epoch=None)
    result = train_triplet(rows, rows.originals(), config=cfg, progress=False)
    record = {"epochs": int(epochs), "loss": loss, "tracks": len(tracks), "rows": len(rows), "n_views": n_views, "m": m,
              "last_train_loss": result.history[-1].get("train_loss") if result.history else None,
              "random_head": "the job's random_head baseline is this pretrained head, before supervised training"}
    return result.model, record
