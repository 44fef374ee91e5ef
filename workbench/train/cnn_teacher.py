"""The distillation's teacher: the feature frontend's triplet head, trained in the run (issue 19).

Split from :mod:`workbench.train.cnn_distill` (which re-exports :func:`train_teacher`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from workbench.library import Library, Track
    from workbench.train.datasets import EmbeddingSet
    from workbench.train.triplet import TripletConfig, TripletResult

#: The teacher's context (seconds): the feature windows the head was trained on.
CONTEXT_S = 8.0


def _teacher_config(cfg: TripletConfig, train: EmbeddingSet, out_dim: int) -> TripletConfig:
    from workbench.train.triplet import TripletConfig

    m = cfg.m  # the run's m; the batch as the job sizes it, over the teacher's own rows
    full = int((np.bincount(train.y) >= m).sum())
    return TripletConfig(seed=cfg.seed, num_threads=cfg.num_threads, out_dim=out_dim, m=m,
                         batch_size=m * min(64 // m, max(2, full)) if m <= 32 else m, on_collapse="stop")


def train_teacher(library: Library, tracks: dict[str, list[Track]], *, classes: Any, cfg: TripletConfig,
                  out_dim: int, n_views: int, progress: bool) -> TripletResult:
    """The feature frontend's triplet head, trained on ``tracks["train"]`` (views included).

    Parameters
    ----------
    library : Library
        Where the tracks are.
    tracks : dict
        ``train``, ``val`` and ``test`` tracks of the run.
    classes : mapping
        Track id -> class name (the run's classes).
    cfg : TripletConfig
        The run's settings (its seed and threads are used; the head keeps its own defaults).
    out_dim : int
        The teacher's output size: the CNN's embedding size.
    n_views : int >= 0
        Augmented views of each training track.
    progress : bool
        Progress bars.
    """
    from workbench.embed.features import FeatureFrontend
    from workbench.train import datasets as ds
    from workbench.train.triplet import train_triplet
    from workbench.train.views import training_view_settings

    def rows(part: str, views: int) -> EmbeddingSet:
        """The feature frontend's 8-s windows of one split.

        Parameters
        ----------
        part : str
            ``train``, ``val`` or ``test``.
        views : int >= 0
            Augmented views per track.
        """
        return ds.section_windows(library, ds.whole_tracks(library, tracks[part]), backbone=FeatureFrontend(),
                                  window_s=CONTEXT_S, classes_from=classes, n_views=views,
                                  augment_settings=training_view_settings() if views else None, seed=cfg.seed,
                                  progress=progress)

    train = rows("train", n_views)
    test = rows("test", 0) if tracks.get("test") else None
    return train_triplet(train, rows("val", 0), test=test, config=_teacher_config(cfg, train, out_dim),
                         progress=progress)
