"""Fine-tuning OpenL3's last convolution blocks with the head (``--finetune-backbone``), off by default.

Frozen, the embeddings job trains the head on cached pooled OpenL3 vectors. Fine-tuned, the last
``finetune_blocks`` of OpenL3's four blocks are trained too, with their own learning rate
(``backbone_lr``, seed 1e-5; an AdamW parameter group beside the head's ``lr``), so every step runs
the network's forward on audio: each training window (``window_s`` seconds, original or augmented
view) becomes ``finetune_frames`` one-second OpenL3 windows spread evenly over it, kept as their dB
mel spectrograms (OpenL3's frontend has no weights); a step runs the frozen blocks without
gradients and the tuned blocks with them, averages the frames' embeddings and applies the head.
OpenL3's batch norms are folded into the convolutions (their inference statistics, as batch norms
in eval mode), so no running statistic moves, in the frozen blocks or the tuned ones.

The run keeps the head in ``model.pt`` (taking the *tuned* backbone's pooled vectors) and the tuned
network in ``backbone.pt`` (:mod:`workbench.embed.openl3_tuned`); the run's backbone record names
both (``openl3-512 (fine-tuned: last 2 blocks, lr 1e-05)``). The ``backbone`` baseline stays the
frozen OpenL3 on the same held-out windows; ``random_head`` is the frozen OpenL3 with the seed's
random head.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from pathlib import Path

    from workbench.embed.batch import Backbone
    from workbench.embed.openl3 import OpenL3
    from workbench.embed.openl3_tuned import TunedOpenL3Backbone
    from workbench.library import Library
    from workbench.train.datasets import EmbeddingSet

#: The job's fine-tuning settings (``config`` keys; CLI ``--finetune-backbone --backbone-lr --finetune-blocks``).
FINETUNE_DEFAULTS: dict[str, Any] = {"finetune_backbone": False, "backbone_lr": 1e-5, "finetune_blocks": 2,
                                     "finetune_frames": 4}


#: Most bytes the fine-tuning rows (dB mel spectrograms, float32) may take in memory.
MAX_ROW_BYTES = 8 * 2**30


def check_finetune(data_cfg: dict[str, Any], backbone: Backbone) -> bool:
    """Whether the job fine-tunes; refuses settings that cannot be served.

    Parameters
    ----------
    data_cfg : dict
        The job's data settings (the keys of :data:`FINETUNE_DEFAULTS`).
    backbone : Backbone
        The job's backbone.

    Returns
    -------
    bool

    Raises
    ------
    ParameterError
        A setting of the wrong type or range, or fine-tuning asked of a backbone that is not OpenL3
        (the feature frontend has no weights to tune; the CNN is trained whole already).
    """
    from workbench.embed.openl3 import OpenL3Backbone
    from workbench.embed.openl3_tuned import block_convs

    on = data_cfg.get("finetune_backbone", False)
    if not isinstance(on, bool):
        raise ParameterError(f"finetune_backbone must be True or False; got {on!r}")
    lr = data_cfg.get("backbone_lr", FINETUNE_DEFAULTS["backbone_lr"])
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr <= 1:
        raise ParameterError(f"backbone_lr must be a learning rate in (0, 1]; got {lr!r}")
    block_convs(data_cfg.get("finetune_blocks", FINETUNE_DEFAULTS["finetune_blocks"]))
    k = data_cfg.get("finetune_frames", FINETUNE_DEFAULTS["finetune_frames"])
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 32:
        raise ParameterError(f"finetune_frames must be an int in [1, 32] (one-second OpenL3 windows per "
                             f"training window); got {k!r}")
    if on and not isinstance(backbone, OpenL3Backbone):
        name = getattr(backbone, "name", type(backbone).__name__)
        why = ("the CNN (--backbone cnn) is trained whole, end to end, already" if str(name).startswith("cnn")
               else "it has no weights to tune")
        raise ParameterError(f"finetune_backbone needs the OpenL3 backbone (--backbone openl3); got {name!r}: {why}")
    return on


def _run_convs(net: Any, x: Any, lo: int, hi: int) -> Any:
    """Convolutions ``lo..hi-1`` of OpenL3's (folded) network, with their ReLUs and poolings."""
    import torch

    for i in range(lo, hi):
        x = net.convs[i](x)
        if i < 7:
            x = torch.relu(net.bns[i](x))
        if i in (1, 3, 5):
            x = torch.nn.functional.max_pool2d(x, 2)
    return x


def _module() -> type:
    import torch
    from torch import nn

    class TunedModel(nn.Module):
        """Rows of ``frames`` dB mel spectrograms -> frozen blocks -> tuned blocks -> mean -> head.

        The network always runs in eval mode (no batch norm statistic moves); the head follows
        ``train()``. ``mean``/``std`` z-score the pooled vector for the head (folded in at the end).
        """

        def __init__(self, openl3: OpenL3, head: nn.Module, *, blocks: int, frames: int, backbone_lr: float,
                     mean: np.ndarray, std: np.ndarray) -> None:
            from workbench.embed.openl3_tuned import block_convs

            super().__init__()
            self.network, self.head, self.frames = openl3.network, head, int(frames)
            self.backbone_lr = float(backbone_lr)
            self.first = block_convs(blocks).start
            self.spec_shape = (int(openl3.frontend.mel.shape[0]) if openl3.frontend.mel is not None
                               else openl3.frontend.n_fft // 2 + 1, int(openl3.frontend.n_frames))
            for p in self.network.parameters():
                p.requires_grad_(False)
            for i in block_convs(blocks):
                for p in self.network.convs[i].parameters():
                    p.requires_grad_(True)
            self.register_buffer("mean", torch.from_numpy(np.asarray(mean, np.float32)))
            self.register_buffer("std", torch.from_numpy(np.asarray(std, np.float32)))
            self.out_dim = int(head.out_dim)
            self.eval_batch_size = 8

        def train(self, mode: bool = True) -> TunedModel:
            """The head's mode; the network stays in eval mode.

            Parameters
            ----------
            mode : bool
                Training (True) or evaluation.
            """
            super().train(mode)
            self.network.eval()
            return self

        def pooled(self, X: torch.Tensor) -> torch.Tensor:
            """Mean embedding of each row's frames: (n, frames * freq * time) -> (n, dim).

            Parameters
            ----------
            X : torch.Tensor [shape=(n, frames * freq * time)]
                Rows of flattened dB mel spectrograms.
            """
            n, net = X.shape[0], self.network
            spec = X.reshape(n * self.frames, 1, *self.spec_shape).contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                x = _run_convs(net, net.bn0(spec), 0, self.first)
            x = _run_convs(net, x, self.first, len(net.convs))
            x = nn.functional.max_pool2d(x, net.final_pool).permute(0, 2, 3, 1).flatten(1)
            return x.reshape(n, self.frames, -1).mean(dim=1)

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            """The head's unit embeddings of the rows' pooled, z-scored vectors.

            Parameters
            ----------
            X : torch.Tensor [shape=(n, frames * freq * time)]
                Rows of flattened dB mel spectrograms.
            """
            return self.head((self.pooled(X) - self.mean) / self.std)

        def param_groups(self, lr: float) -> list[dict[str, Any]]:
            """AdamW groups: the head at ``lr``, the tuned blocks at :attr:`backbone_lr`.

            Parameters
            ----------
            lr : float
                The head's learning rate.
            """
            tuned = [p for p in self.network.parameters() if p.requires_grad]
            return [{"params": list(self.head.parameters()), "lr": float(lr), "name": "head"},
                    {"params": tuned, "lr": self.backbone_lr, "name": "backbone"}]

    return TunedModel


def _windows_at(y: np.ndarray, centres_s: np.ndarray, sr: int) -> np.ndarray:
    """One-second windows of ``y`` centred on ``centres_s`` (zero-padded at the edges), (k, sr)."""
    half = sr // 2
    padded = np.concatenate([np.zeros(half, np.float32), np.asarray(y, np.float32), np.zeros(sr, np.float32)])
    starts = np.clip(np.round(np.asarray(centres_s) * sr).astype(np.int64), 0, len(y))
    return np.stack([padded[s:s + sr] for s in starts])


@dataclass
class FinetunePlan:
    """How the job fine-tunes: the frozen backbone, the blocks, their learning rate, frames per window."""

    backbone: Any
    blocks: int
    lr: float
    frames: int
    seed: int
    tuned: TunedOpenL3Backbone | None = None

    def rows(self, library: Library, data: EmbeddingSet, *, progress: bool = True) -> EmbeddingSet:
        """``data``'s windows (originals and augmented views) as rows of dB mel spectrograms.

        Each row holds :attr:`frames` one-second OpenL3 windows centred evenly over the window
        (``rows["start_s"]`` .. ``rows["end_s"]``, original time); a view's audio is rebuilt from
        its recorded parameters (:func:`workbench.augment.replay`, the same draw as the job's views)
        and its time axis scaled.

        Parameters
        ----------
        library : Library
            Where the tracks are.
        data : EmbeddingSet
            The frozen backbone's windows.
        progress : bool
            A bar over tracks.
        """
        import torch
        from tqdm.auto import tqdm

        from workbench import audio
        from workbench.augment import draw_params, replay, time_scale, view_seed
        from workbench.embed.openl3 import SAMPLE_RATE_HZ
        from workbench.train.views import training_view_settings

        frontend, sr = self.backbone.model.frontend, SAMPLE_RATE_HZ
        k = self.frames
        per_row = k * 4 * int(frontend.mel.shape[0] if frontend.mel is not None else frontend.n_fft // 2 + 1) \
            * int(frontend.n_frames)
        if len(data) * per_row > MAX_ROW_BYTES:  # every row's spectrograms stay in memory during training
            raise ParameterError(f"fine-tuning needs {len(data) * per_row / 2**30:.1f} GiB for the spectrograms of "
                                 f"{len(data)} windows x {k} frames; at most {MAX_ROW_BYTES / 2**30:.0f} GiB: lower "
                                 f"finetune_frames, raise window_s or train on fewer tracks")
        X = None
        settings = training_view_settings()
        for tid in tqdm(sorted(set(data.track_ids.tolist())), desc="fine-tune rows", unit="track",
                        disable=not progress):
            track = library.track(int(tid))
            y, _ = audio.load(track.path, sr=sr, mono=True)
            mine = np.flatnonzero(data.track_ids == tid)
            for v in sorted(set(data.view[mine].tolist())):
                scale, yv = 1.0, y
                if v > 0:
                    params = draw_params(settings, seed=view_seed(self.seed, v - 1, content_hash=track.content_hash))
                    yv, scale = replay(y, sr=sr, params=params), time_scale(params)
                for i in mine[data.view[mine] == v]:
                    a, z = float(data.rows["start_s"][i]), float(data.rows["end_s"][i])
                    centres = (a + (np.arange(k) + 0.5) * (z - a) / k) * scale
                    with torch.no_grad():
                        spec = frontend(torch.from_numpy(_windows_at(yv, centres, sr))).reshape(1, -1).numpy()
                    if X is None:
                        X = np.zeros((len(data), spec.shape[1]), np.float32)
                    X[i] = spec[0]
        if X is None:
            raise ParameterError("no windows to fine-tune on")
        return replace(data, X=X, meta={**data.meta, "rows": f"openl3 dB mel, {k} one-second windows per row"})

    def model(self, train_frozen: EmbeddingSet, cfg: Any) -> Any:
        """The network to train: a copy of OpenL3 with its last blocks trainable, and a new head.

        Parameters
        ----------
        train_frozen : EmbeddingSet
            The frozen backbone's training windows (their statistics z-score the head's input).
        cfg : TripletConfig
            The head's settings and the seed.
        """
        import torch

        from workbench.models.heads import EmbeddingHead, seeded
        from workbench.train.triplet import _standardise_stats

        mean, std = _standardise_stats(train_frozen.X)
        head = seeded(EmbeddingHead, train_frozen.dim, hidden_dim=cfg.hidden_dim, out_dim=cfg.out_dim,
                      dropout=cfg.dropout, generator=torch.Generator().manual_seed(cfg.seed))
        net = copy.deepcopy(self.backbone.model)
        net.autocast_dtype = None  # trained in fp32
        return _module()(net, head, blocks=self.blocks, frames=self.frames,
                                backbone_lr=self.lr, mean=mean, std=std)

    def finish(self, result: Any, frozen: dict[str, EmbeddingSet]) -> None:
        """Make the run's head take the tuned backbone's vectors, build the tuned backbone, and
        put the frozen backbone's scores in the ``baseline`` metrics (same windows); in place.

        Parameters
        ----------
        result : TripletResult
            The finished run (``model`` the :class:`TunedModel`); its ``model`` becomes the head.
        frozen : dict
            ``train``, ``val`` and ``test`` windows of the frozen backbone.
        """
        from workbench.embed.openl3_tuned import TunedOpenL3Backbone, state_sha256
        from workbench.train.triplet import _fold_scaling, _standardise_stats
        from workbench.train.triplet_eval import _labels_in, _val_metrics

        tuned_model = result.model
        head = copy.deepcopy(tuned_model.head)
        _fold_scaling(head, tuned_model.mean.numpy(), tuned_model.std.numpy())
        head.eval()
        openl3 = copy.deepcopy(self.backbone.model)
        openl3.network.load_state_dict(tuned_model.network.state_dict())
        openl3.network.requires_grad_(False)
        openl3.eval()
        openl3.base_weights_sha256 = self.backbone.model.weights_sha256
        openl3.weights_sha256 = state_sha256(openl3)
        self.tuned = TunedOpenL3Backbone(openl3, blocks=self.blocks, lr=self.lr, hop_s=self.backbone.hop_s)
        result.model = head
        train = frozen["train"]
        mean, std = _standardise_stats(train.X)
        ref = train.originals()
        base = result.metrics.setdefault("baseline", {})
        for name in ("val", "test"):
            data = frozen.get(name)
            if data is None or not len(data):
                continue
            from workbench.evaluate.retrieval import retrieval_metrics

            y = _labels_in(data, train.classes)
            z = (data.X - mean) / std
            base[name] = (_val_metrics(z, y, data.track_ids, (ref.X - mean) / std, ref.y, ref.track_ids)
                          if name == "val" else retrieval_metrics(z, y, groups=data.track_ids))
        result.metrics["backbone_finetune"] = {"blocks": self.blocks, "backbone_lr": self.lr,
                                               "frames_per_window": self.frames, "said": self.tuned.said,
                                               "weights_sha256": openl3.weights_sha256,
                                               "base_weights_sha256": openl3.base_weights_sha256,
                                               "param_groups": list(result.data.get("param_groups") or [])}

    def saver(self, head: Any) -> Any:
        """A ``save_model`` for :meth:`workbench.jobs.JobRunner.finish`: the head, then the tuned network.

        Parameters
        ----------
        head : EmbeddingHead
            The run's head.
        """
        from workbench.embed.openl3_tuned import save_tuned
        from workbench.models.heads import save_checkpoint

        def save(path: Path) -> None:
            """Write ``model.pt`` and ``backbone.pt``.

            Parameters
            ----------
            path : Path
                The run's ``model.pt``.
            """
            save_checkpoint(head, path)
            save_tuned(self.tuned.model, path.parent / "backbone.pt", blocks=self.blocks, lr=self.lr)

        return save


def finetune_plan(backbone: Backbone, data_cfg: dict[str, Any], *, seed: int) -> FinetunePlan | None:
    """The plan when ``data_cfg`` asks to fine-tune (None otherwise).

    Parameters
    ----------
    backbone : Backbone
        The job's backbone (OpenL3).
    data_cfg : dict
        The job's data settings.
    seed : int >= 0
        The run's seed (the views' draw).

    Raises
    ------
    ParameterError
        See :func:`check_finetune`.
    """
    if not check_finetune(data_cfg, backbone):
        return None
    return FinetunePlan(backbone=backbone, blocks=int(data_cfg.get("finetune_blocks", 2)),
                        lr=float(data_cfg.get("backbone_lr", 1e-5)), frames=int(data_cfg.get("finetune_frames", 4)),
                        seed=int(seed))
