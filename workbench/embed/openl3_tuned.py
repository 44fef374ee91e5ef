"""An OpenL3 network whose last convolution blocks were fine-tuned: its file, its loader, its backbone.

``workbench train embeddings --finetune-backbone`` (:mod:`workbench.train.finetune`) trains the last
``blocks`` of OpenL3's four convolution blocks together with the head and saves the network beside
the head (``backbone.pt`` in the run folder) with :func:`save_tuned`: tensors, numbers and strings
only, so :func:`load_tuned` reads it with ``torch.load(..., weights_only=True)``.

:class:`TunedOpenL3Backbone` embeds with those weights. Its ``name`` carries the blocks and the
weights' fingerprint (``openl3-mel128-music-512-ft2-<sha256[:12]>``), so the embedding cache and a
search index built for the frozen OpenL3 are never reused for the tuned one (and the reverse).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import torch

from workbench.embed.openl3 import OpenL3, OpenL3Backbone, WeightsError
from workbench.errors import ParameterError

#: The ``format`` of a tuned-backbone file.
TUNED_FORMAT = "workbench-openl3-tuned-v1"
#: OpenL3's convolution blocks (each two 3x3 convolutions; max-pooling after the first three).
N_BLOCKS = 4


def block_convs(blocks: int) -> range:
    """Indices into ``Network.convs`` of the last ``blocks`` blocks (block ``b`` holds convs ``2b-2, 2b-1``).

    Parameters
    ----------
    blocks : int in [1, 4]
        How many of the last blocks.

    Returns
    -------
    range

    Raises
    ------
    ParameterError
        ``blocks`` outside 1..4.
    """
    if isinstance(blocks, bool) or not isinstance(blocks, int) or not 1 <= blocks <= N_BLOCKS:
        raise ParameterError(f"finetune_blocks must be an int in [1, {N_BLOCKS}] (OpenL3's convolution "
                             f"blocks, counted from the last); got {blocks!r}")
    return range(2 * (N_BLOCKS - blocks), 2 * N_BLOCKS)


def state_sha256(model: OpenL3) -> str:
    """sha256 of the network's tensors (names, shapes and bytes, in order): the tuned weights' fingerprint.

    Parameters
    ----------
    model : OpenL3
        The model.
    """
    h = hashlib.sha256()
    for name, t in model.network.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def tuned_said(model: OpenL3, blocks: int, lr: float) -> str:
    """``"openl3-512 (fine-tuned: last 2 blocks, lr 1e-05)"``: the backbone in words.

    Parameters
    ----------
    model : OpenL3
        The tuned model.
    blocks : int
        Blocks tuned.
    lr : float
        Their learning rate.
    """
    return f"openl3-{model.embedding_size} (fine-tuned: last {blocks} block{'s' if blocks != 1 else ''}, lr {lr:g})"


def save_tuned(model: OpenL3, path: str | os.PathLike[str], *, blocks: int, lr: float) -> None:
    """Write the tuned network (folded batch norms) and how it was tuned, atomically.

    Parameters
    ----------
    model : OpenL3
        The tuned model (its network's batch norms folded, as :meth:`OpenL3.from_weights` leaves them).
    path : str or path
        The file (``backbone.pt``).
    blocks : int in [1, 4]
        Blocks tuned.
    lr : float
        Their learning rate.
    """
    from workbench.fileio import atomic_write

    block_convs(blocks)
    blob = {"format": TUNED_FORMAT, "input_repr": model.input_repr, "content_type": model.content_type,
            "embedding_size": int(model.embedding_size), "blocks": int(blocks), "backbone_lr": float(lr),
            "base_weights_sha256": str(getattr(model, "base_weights_sha256", None) or model.weights_sha256 or "random"),
            "state_dict": {k: v.detach().cpu().clone() for k, v in model.network.state_dict().items()}}
    atomic_write(path, lambda tmp: torch.save(blob, tmp))


def load_tuned(path: str | os.PathLike[str]) -> tuple[OpenL3, dict[str, Any]]:
    """Read a file of :func:`save_tuned` (``weights_only=True``): the model and its record.

    Parameters
    ----------
    path : str or path
        ``backbone.pt`` of a fine-tuning run.

    Returns
    -------
    model : OpenL3
        Eval mode, batch norms folded; ``weights_sha256`` is the tuned weights' fingerprint.
    record : dict
        ``blocks``, ``backbone_lr``, ``base_weights_sha256``, ``said``.

    Raises
    ------
    WeightsError
        Not such a file, or its tensors do not fit the network it names.
    """
    p = Path(path)
    try:
        blob = torch.load(io.BytesIO(p.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as exc:  # missing, damaged, or a pickle that would run code
        raise WeightsError(f"{p}: not a fine-tuned OpenL3 file ({exc})") from exc
    if not isinstance(blob, dict) or blob.get("format") != TUNED_FORMAT:
        raise WeightsError(f"{p}: not a fine-tuned OpenL3 file (format must be {TUNED_FORMAT!r})")
    model = OpenL3(str(blob["input_repr"]), str(blob["content_type"]), int(blob["embedding_size"]))
    model.network.fold_batch_norm()
    try:
        model.network.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        raise WeightsError(f"{p}: its tensors do not fit OpenL3 {model.name} ({exc})") from exc
    model.eval()
    model.base_weights_sha256 = str(blob.get("base_weights_sha256"))
    model.weights_sha256 = state_sha256(model)
    model.weights_path = p
    record = {"blocks": int(blob["blocks"]), "backbone_lr": float(blob["backbone_lr"]),
              "base_weights_sha256": model.base_weights_sha256,
              "said": tuned_said(model, int(blob["blocks"]), float(blob["backbone_lr"]))}
    return model, record


class TunedOpenL3Backbone(OpenL3Backbone):
    """A fine-tuned OpenL3 as an embedding backbone (its own cache and index keys).

    Parameters
    ----------
    model : OpenL3
        The tuned model (``weights_sha256``: the tuned weights' fingerprint, :func:`state_sha256`).
    blocks : int in [1, 4]
        Blocks tuned.
    lr : float
        Their learning rate.
    hop_s : float in (0, 10]
        Seconds between windows.
    batch_size : int >= 1
        Windows per forward pass.
    """

    def __init__(self, model: OpenL3, *, blocks: int, lr: float, hop_s: float = 0.5, batch_size: int = 16) -> None:
        super().__init__(model, hop_s=hop_s, batch_size=batch_size)
        block_convs(blocks)
        self.blocks, self.lr = int(blocks), float(lr)
        if not model.weights_sha256:
            model.weights_sha256 = state_sha256(model)

    @property
    def base_name(self) -> str:
        """The frozen OpenL3's name (``openl3-mel128-music-512``)."""
        return self.model.name

    @property
    def name(self) -> str:
        """``<base name>-ft<blocks>-<tuned weights sha256[:12]>``."""
        return f"{self.model.name}-ft{self.blocks}-{str(self.model.weights_sha256)[:12]}"

    @property
    def said(self) -> str:
        """E.g. ``"openl3-512 (fine-tuned: last 2 blocks, lr 1e-05)"``."""
        return tuned_said(self.model, self.blocks, self.lr)

    @property
    def settings(self) -> dict[str, object]:
        """The cache key's settings: the frozen one's, the tuned weights' sha256 and the blocks."""
        return {**super().settings, "finetuned_blocks": self.blocks, "backbone_lr": self.lr}

    def info(self) -> dict[str, Any]:
        """What runs and model metadata record: name, base name, settings, size and how it was tuned."""
        return {"name": self.name, "base_name": self.base_name, "settings": dict(self.settings), "dim": int(self.dim),
                "said": self.said, "finetuned": {"blocks": self.blocks, "lr": self.lr, "file": "backbone.pt",
                                                 "weights_sha256": self.model.weights_sha256}}


def tuned_backbone_from(path: str | os.PathLike[str], *, hop_s: float = 0.5) -> TunedOpenL3Backbone:
    """The backbone of a fine-tuning run's ``backbone.pt``.

    Parameters
    ----------
    path : str or path
        The file.
    hop_s : float in (0, 10]
        Seconds between windows.

    Raises
    ------
    WeightsError
        See :func:`load_tuned`.
    """
    model, record = load_tuned(path)
    return TunedOpenL3Backbone(model, blocks=record["blocks"], lr=record["backbone_lr"], hop_s=hop_s)
