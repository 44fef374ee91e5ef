"""The trainable heads: the triplet embedding head and the DJ-section classifier.

Both take a pooled backbone embedding of shape ``(batch, in_dim)`` (6144 for OpenL3, 202 for
the feature frontend). Training uses these definitions; :mod:`workbench.export` rebuilds the
same weights in a Neural-Engine-friendly layout (1x1 convolutions over ``(B, C, 1, S)``).

Randomness is explicit: :func:`seeded` draws a head's initial weights and its dropout masks
from a ``torch.Generator`` (no global seeding), so training is reproducible for a seed.

Each model carries its constructor arguments in ``config()`` so a checkpoint
(``{"config": ..., "state_dict": ...}``) can be rebuilt with :func:`load_checkpoint`, which
reads tensors only (``weights_only=True``).
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn import functional as F

from workbench.errors import ParameterError

#: The seven DJ section labels, in their canonical order (class index = position).
from workbench.labels import LABELS as SECTION_LABELS  # noqa: E402  (one list of labels)
from workbench.validate import check_float, check_int


def _check_dim(name: str, value: object) -> int:
    return check_int(name, value, min=1)


def _check_dropout(value: object) -> float:
    return check_float("dropout", value, min=0, max=1, max_open=True, what="a float")


class SeededDropout(nn.Module):
    """``nn.Dropout`` whose masks come from ``generator`` (the global RNG while it is None)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Drop each value with probability ``p`` and scale the rest by ``1 / (1 - p)`` (training only).

        Parameters
        ----------
        x : torch.Tensor [shape=(batch, dim)]
            Activations.
        """
        if not self.training or self.p == 0.0:
            return x
        if self.generator is None:
            return F.dropout(x, self.p, training=True)
        keep = torch.rand(x.shape, generator=self.generator, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)


_M = TypeVar("_M", bound=nn.Module)


def seeded(cls: type[_M], *args: Any, generator: torch.Generator, **kwargs: Any) -> _M:
    """Build ``cls(*args, **kwargs)`` with its initial weights and dropout masks drawn from ``generator``.

    The module is built on the meta device (no draw from the global RNG), then every Linear
    layer gets PyTorch's default initialisation from ``generator`` and LayerNorms their ones
    and zeros.

    Parameters
    ----------
    cls : type of nn.Module
        The head class (:class:`EmbeddingHead`, :class:`SectionClassifier`).
    *args, **kwargs
        Its constructor arguments.
    generator : torch.Generator
        Source of the initial weights and, afterwards, of the dropout masks.
    """
    import math

    with torch.device("meta"):
        model = cls(*args, **kwargs)
    model.to_empty(device="cpu")
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(module.in_features)
            nn.init.uniform_(module.bias, -bound, bound, generator=generator)
        elif isinstance(module, nn.LayerNorm):
            module.reset_parameters()
        elif isinstance(module, SeededDropout):
            module.generator = generator
    return model


class EmbeddingHead(nn.Module):
    """Linear(in, hidden) → LayerNorm → GELU → Dropout → Linear(hidden, out) → L2 normalise.

    Parameters
    ----------
    in_dim : int
        Size of the backbone embedding (6144 for OpenL3 music/mel128).
    hidden_dim, out_dim : int
        512 and 256 in the research design.
    dropout : float in [0, 1)
    """

    kind = "embedding_head"

    def __init__(self, in_dim: int, *, hidden_dim: int = 512, out_dim: int = 256, dropout: float = 0.1) -> None:
        super().__init__()
        self.in_dim = _check_dim("in_dim", in_dim)
        self.hidden_dim = _check_dim("hidden_dim", hidden_dim)
        self.out_dim = _check_dim("out_dim", out_dim)
        self.dropout = _check_dropout(dropout)
        self.fc1 = nn.Linear(self.in_dim, self.hidden_dim)
        self.norm = nn.LayerNorm(self.hidden_dim)
        self.drop = SeededDropout(self.dropout)
        self.fc2 = nn.Linear(self.hidden_dim, self.out_dim)

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "in_dim": self.in_dim, "hidden_dim": self.hidden_dim,
                "out_dim": self.out_dim, "dropout": self.dropout}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-length embeddings.

        Parameters
        ----------
        x : torch.Tensor [shape=(batch, in_dim)]
            Pooled backbone embeddings.

        Returns
        -------
        torch.Tensor [shape=(batch, out_dim)]
            L2-normalised embeddings.
        """
        h = self.drop(F.gelu(self.norm(self.fc1(x))))
        return F.normalize(self.fc2(h), p=2.0, dim=-1, eps=1e-6)


class SectionClassifier(nn.Module):
    """A small MLP from an embedding to the seven section classes (logits).

    Linear(in, hidden) → LayerNorm → GELU → Dropout → Linear(hidden, n_classes).
    ``labels`` names the classes in output order (default :data:`SECTION_LABELS`).
    """

    kind = "section_classifier"

    def __init__(self, in_dim: int, *, hidden_dim: int = 256, dropout: float = 0.2,
                 labels: tuple[str, ...] | list[str] = SECTION_LABELS) -> None:
        super().__init__()
        self.in_dim = _check_dim("in_dim", in_dim)
        self.hidden_dim = _check_dim("hidden_dim", hidden_dim)
        self.dropout = _check_dropout(dropout)
        self.labels = tuple(labels)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ParameterError(f"labels must be 2+ distinct names; got {list(self.labels)!r}")
        self.fc1 = nn.Linear(self.in_dim, self.hidden_dim)
        self.norm = nn.LayerNorm(self.hidden_dim)
        self.drop = SeededDropout(self.dropout)
        self.fc2 = nn.Linear(self.hidden_dim, len(self.labels))

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "in_dim": self.in_dim, "hidden_dim": self.hidden_dim,
                "dropout": self.dropout, "labels": list(self.labels)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits.

        Parameters
        ----------
        x : torch.Tensor [shape=(batch, in_dim)]
            Pooled backbone embeddings.

        Returns
        -------
        torch.Tensor [shape=(batch, n_classes)]
            Unnormalised scores, in the order of ``labels``.
        """
        return self.fc2(self.drop(F.gelu(self.norm(self.fc1(x)))))


_KINDS: dict[str, type[nn.Module]] = {EmbeddingHead.kind: EmbeddingHead, SectionClassifier.kind: SectionClassifier}


def checkpoint(model: EmbeddingHead | SectionClassifier) -> dict[str, Any]:
    """A plain-data checkpoint (config + tensors) that :func:`load_checkpoint` rebuilds.

    Parameters
    ----------
    model : EmbeddingHead or SectionClassifier
        The head; its tensors are copied to the CPU.
    """
    return {"config": model.config(), "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}


def save_checkpoint(model: EmbeddingHead | SectionClassifier, path: str | os.PathLike[str]) -> None:
    """Write :func:`checkpoint` atomically to ``path`` (``.pt``).

    Parameters
    ----------
    model : EmbeddingHead or SectionClassifier
        The head.
    path : str or path
        The ``.pt`` file written.
    """
    from workbench.fileio import atomic_write

    atomic_write(path, lambda tmp: torch.save(checkpoint(model), tmp))


class CheckpointError(ParameterError):
    """A file is not a plain weights file this workbench wrote (it was not loaded)."""


def read_weights(path: str | os.PathLike[str]) -> Any:
    """``torch.load(path, weights_only=True)``, with torch's own errors (and its advice to load the
    file with ``weights_only=False``, i.e. to run whatever code it holds) replaced by ours.

    Parameters
    ----------
    path : str or path
        A ``.pt`` file.

    Returns
    -------
    object
        The plain data stored (tensors, dicts, lists, numbers, strings).

    Raises
    ------
    FileNotFoundError
        No such file.
    CheckpointError
        The file is not a plain weights file.
    """
    import pickle
    import zipfile

    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, AttributeError,
            TypeError) as exc:
        # torch's message advises loading with weights_only=False (running the file's code): keep only
        # the line that says what was found
        skip = ("weights_only", "Weights only", "Check the documentation", "Please file an issue")
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not any(k in ln for k in skip)]
        first = lines[0].rstrip(".") if lines else type(exc).__name__
        raise CheckpointError(
            f"{os.fspath(path)} is not a plain weights file (a workbench checkpoint holds only tensors and plain "
            f"values): {first}. It was not loaded; use a model.pt written by workbench training.") from None


def load_checkpoint(path_or_data: str | os.PathLike[str] | dict[str, Any]) -> EmbeddingHead | SectionClassifier:
    """Rebuild a head from a checkpoint file or dict; the file is read as data (``weights_only=True``).

    Parameters
    ----------
    path_or_data : str, path or dict
        A ``.pt`` file, or a checkpoint as :func:`checkpoint` returns it.

    Raises
    ------
    CheckpointError
        The file is not a plain weights file (a pickle that would run code, a damaged or foreign
        file), or not a workbench head checkpoint.
    """
    data = path_or_data if isinstance(path_or_data, dict) else read_weights(path_or_data)
    try:
        config = dict(data["config"])
        kind = config.pop("kind")
        cls = _KINDS[kind]
    except (KeyError, TypeError) as exc:
        raise CheckpointError(
            f"not a workbench head checkpoint (needs config.kind in {sorted(_KINDS)}): {exc!r}") from exc
    if "labels" in config:
        config["labels"] = tuple(config["labels"])
    in_dim = config.pop("in_dim")
    model = cls(in_dim, **config)
    model.load_state_dict(data["state_dict"])
    model.eval()
    return model
