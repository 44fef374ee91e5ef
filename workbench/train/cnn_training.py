"""End-to-end training of the CNN backbone inside the embeddings job (``--backbone cnn``).

Where other backbones are frozen and a head is trained over their pooled vectors, the CNN itself
is trained: the job's rows are the log-mel patches of 3.0-s windows (the CNN's fixed frontend,
:class:`~workbench.models.cnn_backbone.MelPatches`, computed once per window and per augmented
view, cached like any backbone's frames), and :func:`workbench.train.triplet.train_triplet`
trains the network (:class:`~workbench.models.cnn.MelCNN`) over them with the same triplet
objective, sampler, augmented positives and early stopping as the head. With no classes (each
track its own class) it is self-supervised: a window's augmented views and its track's other
windows are positives, other tracks' windows negatives.

The trained network goes back into the :class:`~workbench.models.cnn.AudioCNN` (audio in), which
the run saves as ``model.pt`` (:func:`workbench.models.cnn.save_cnn`, read back with
``weights_only=True`` by :func:`workbench.models.cnn.load_cnn`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

    from workbench.embed.batch import Backbone
    from workbench.models.cnn_backbone import CNNBackbone

#: Training settings of the CNN where the run does not set them (a network from scratch learns
#: faster than a head: a larger learning rate, fewer epochs; batches of at most 32 windows).
CNN_TRAIN_DEFAULTS: dict[str, Any] = {"lr": 1e-3, "max_epochs": 12, "patience": 4, "dropout": 0.5}


@dataclass
class CNNPlan:
    """How the job trains the CNN: the rows' backbone (patches), the window, the network to train."""

    backbone: CNNBackbone
    rows: Backbone
    window_s: float
    net: Any

    def finish(self, result: Any) -> None:
        """Put the trained network into the backbone's :class:`AudioCNN` (refreshing its fingerprint).

        Parameters
        ----------
        result : TripletResult
            The finished run (its ``model`` is the trained network).
        """
        self.backbone.model.net.load_state_dict(result.model.state_dict())
        self.backbone.refresh()
        self.backbone.trained = "trained in this run"

    def save(self, path: Path) -> None:
        """Write the whole audio-in model's checkpoint.

        Parameters
        ----------
        path : Path
            The run's ``model.pt``.
        """
        from workbench.models.cnn import save_cnn

        save_cnn(self.backbone.model, path)

    def identity_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Zero mean and unit scale for the patch rows (the CNN normalises its own input)."""
        return np.zeros(self.rows.dim, np.float32), np.ones(self.rows.dim, np.float32)


def cnn_plan(backbone: Backbone, cfg: dict[str, Any]) -> CNNPlan | None:
    """The plan when ``backbone`` is the CNN (None otherwise); fills ``cfg`` with :data:`CNN_TRAIN_DEFAULTS`.

    Parameters
    ----------
    backbone : Backbone
        The job's backbone.
    cfg : dict
        The run's triplet settings (updated in place with the CNN's defaults where unset;
        ``dropout`` is the network's).
    """
    import torch

    from workbench.models.cnn import WINDOW_S
    from workbench.models.cnn_backbone import CNNBackbone, MelPatches

    if not isinstance(backbone, CNNBackbone):
        return None
    for key, value in CNN_TRAIN_DEFAULTS.items():
        cfg.setdefault(key, value)
    net = copy.deepcopy(backbone.model.net)
    net.dropout = net.drop.p = float(cfg["dropout"])
    if net.drop.generator is None:  # read from a file: the masks follow the run's seed
        net.drop.generator = torch.Generator().manual_seed(int(cfg.get("seed", 0)))
    # else the seed's initial weights (build_cnn): its generator goes on to the masks, as in benchmarks/bench_distill_draws.py
    return CNNPlan(backbone=backbone, rows=MelPatches(hop_s=round(WINDOW_S, 6)), window_s=round(WINDOW_S, 6),
                   net=net)
