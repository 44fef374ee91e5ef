"""A trained head blended with its backbone: one window vector whose cosine is a weighted sum of both cosines.

On a small library a triplet head can do worse than the bare backbone on tracks it never saw (a
handful of training tracks per folder). The embeddings job therefore picks, on its training tracks
only (:mod:`workbench.train.embeddings_blend`), how much of the backbone to keep: ``weight`` is the
backbone's share. A window ``x`` (mean backbone frame) becomes::

    concat(sqrt(weight) * unit((x - mean) / std), sqrt(1 - weight) * head(x))

a unit vector, so the cosine of two blended windows is exactly
``weight * cos_backbone + (1 - weight) * cos_head``. ``backbone`` says whose ``mean`` and ``std``
(per-dimension statistics) z-score the backbone end:

* ``"training"``: the run's training windows, augmented views included (the space the head trains in
  and its MAP@R baseline);
* ``"search"``: the library's windows as ``workbench similar --model backbone`` z-scores them (its
  index's ``standardize-windows.npz``), so the backbone end is the backbone search compares with
  and a share of 1 ranks exactly as it does.

``weight = 0`` is the head alone, ``weight = 1`` the backbone alone. The blend is stored in the run's
``model.pt`` beside the head (key ``"blend"``: floats, a string and tensors, read with
``weights_only=True``; a checkpoint without ``"backbone"`` is ``"training"``, as every blend was before).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.errors import ParameterError

#: Whose statistics z-score a blend's backbone end: the run's training windows, or search's (the library's windows).
BLEND_BACKBONES: tuple[str, ...] = ("training", "search")


@dataclass(frozen=True, eq=False)
class Blend:
    """The backbone's share in a blended window vector and the backbone's standardisation.

    Parameters
    ----------
    weight : float in [0, 1]
        Share of the backbone's cosine in the blended cosine.
    mean, std : np.ndarray [shape=(d,)]
        Per-dimension statistics of the training windows (``std > 0``).
    scores : dict, optional
        How the weight was picked (candidate weight -> score on training folds), for the record.
    backbone : {"training", "search"}
        Whose statistics ``mean`` and ``std`` are (see the module).
    """

    weight: float
    mean: np.ndarray
    std: np.ndarray
    scores: dict[str, Any] = field(default_factory=dict)
    backbone: str = "training"

    def __post_init__(self) -> None:
        w = self.weight
        if not (isinstance(w, (int, float)) and not isinstance(w, bool) and 0.0 <= float(w) <= 1.0):
            raise ParameterError(f"blend weight must be a number in [0, 1]; got {w!r}")
        mean, std = np.asarray(self.mean), np.asarray(self.std)
        if mean.ndim != 1 or mean.shape != std.shape or not (np.isfinite(std).all() and (std > 0).all()):
            raise ParameterError(f"blend mean and std must be 1-d of one size with std > 0; got shapes "
                                 f"{mean.shape} and {std.shape}")
        check_blend_backbone(self.backbone)

    @property
    def backbone_said(self) -> str:
        """The backbone end in words (``"the backbone as search ranks with it"``)."""
        return ("the backbone as search ranks with it (z-scored over the library's windows)" if self.backbone == "search"
                else "the backbone z-scored with the training windows' statistics")

    @property
    def in_dim(self) -> int:
        """Size of a backbone vector."""
        return int(np.asarray(self.mean).shape[0])

    def vectors(self, backbone: np.ndarray, head: np.ndarray) -> np.ndarray:
        """Blended unit vectors of windows.

        Parameters
        ----------
        backbone : np.ndarray [shape=(n, d)]
            Raw backbone window vectors (before standardisation).
        head : np.ndarray [shape=(n, out_dim)]
            The head's unit vectors of the same windows.

        Returns
        -------
        np.ndarray [shape=(n, d + out_dim), dtype=float32]
            Unit rows (a row whose standardised backbone part is zero keeps only its head part).
        """
        return blend_vectors(backbone, head, weight=self.weight, mean=self.mean, std=self.std)

    def to_checkpoint(self) -> dict[str, Any]:
        """Plain data for ``model.pt`` (floats, tensors and, for search's statistics only, ``"backbone": "search"``:
        a default blend's checkpoint is byte for byte the one written before the setting existed)."""
        import torch

        data = {"weight": float(self.weight), "mean": torch.from_numpy(np.asarray(self.mean, dtype=np.float32)),
                "std": torch.from_numpy(np.asarray(self.std, dtype=np.float32))}
        return data if self.backbone == "training" else {**data, "backbone": self.backbone}

    @classmethod
    def from_checkpoint(cls, data: Any) -> Blend | None:
        """The blend stored in a checkpoint dict (its ``"blend"`` key), or None when there is none.

        Parameters
        ----------
        data : dict
            A checkpoint as read from ``model.pt``.

        Raises
        ------
        ParameterError
            The stored blend is malformed.
        """
        raw = data.get("blend") if isinstance(data, dict) else None
        if raw is None:
            return None
        try:
            return cls(float(raw["weight"]), np.asarray(raw["mean"], dtype=np.float32),
                       np.asarray(raw["std"], dtype=np.float32), backbone=str(raw.get("backbone", "training")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterError(f"model.pt's blend must hold weight, mean and std; got {exc!r}") from None


def check_blend_backbone(value: object, name: str = "blend backbone") -> str:
    """``value`` when it is one of :data:`BLEND_BACKBONES`.

    Parameters
    ----------
    value : str
        ``"training"`` or ``"search"``.
    name : str
        The setting's name in the message.

    Raises
    ------
    ParameterError
        Anything else.
    """
    if not (isinstance(value, str) and value in BLEND_BACKBONES):
        raise ParameterError(f"{name} must be one of {list(BLEND_BACKBONES)} (the backbone z-scored with the run's "
                             f"training windows, or as search ranks with it: the library's windows); got {value!r}")
    return value


def stale_search_note(blend: Blend, current: tuple[np.ndarray, np.ndarray] | None) -> str:
    """What to tell a user whose search-end blend no longer holds search's statistics; "" when it does.

    A ``blend.backbone == "search"`` blend keeps the statistics the bare backbone's index had when its run was
    trained. That index refits them whenever it is rebuilt (another ``max_windows``, a new index format, its folder
    deleted), after which a share of 1 no longer ranks exactly as ``workbench similar --model backbone``.

    Parameters
    ----------
    blend : Blend
        The head's blend.
    current : (np.ndarray, np.ndarray) or None
        The bare backbone index's ``(mean, std)`` now (:meth:`workbench.search.LibrarySearch.window_stats`); None
        before it has any (nothing to compare with).

    Returns
    -------
    str
        "" for a training-end blend, an index without statistics, or the same statistics; else one sentence with
        the largest difference of the means in the blend's standard deviations.
    """
    if blend.backbone != "search" or current is None:
        return ""
    mean, std = (np.asarray(v, dtype=np.float32) for v in current)
    if mean.shape == blend.mean.shape and np.allclose(mean, blend.mean, rtol=1e-5, atol=1e-6) and np.allclose(
            std, blend.std, rtol=1e-5, atol=1e-6):
        return ""
    apart = (f"means up to {float(np.max(np.abs(mean - blend.mean) / blend.std)):.2g} std apart"
             if mean.shape == blend.mean.shape else f"{mean.shape[0]} dimensions, not {blend.in_dim}")
    return ("its backbone end keeps the search statistics of when its run was trained; the backbone's index was "
            f"rebuilt since with others ({apart}), so a share of 1 no longer ranks exactly as `workbench similar "
            "--model backbone`: train again with --set blend_backbone=search to take the new ones")


def blend_vectors(backbone: np.ndarray, head: np.ndarray, *, weight: float, mean: np.ndarray,
                  std: np.ndarray) -> np.ndarray:
    """``concat(sqrt(weight) * unit((backbone - mean) / std), sqrt(1 - weight) * unit(head))``, row-wise.

    Parameters
    ----------
    backbone : np.ndarray [shape=(n, d)]
        Raw backbone vectors.
    head : np.ndarray [shape=(n, out_dim)]
        Head vectors (normalised here again).
    weight : float in [0, 1]
        The backbone's share of the cosine.
    mean, std : np.ndarray [shape=(d,)]
        Standardisation of the backbone vectors.

    Returns
    -------
    np.ndarray [shape=(n, d + out_dim), dtype=float32]

    Raises
    ------
    ParameterError
        Shapes that do not match, or a weight outside [0, 1].
    """
    b = np.asarray(backbone, dtype=np.float64)
    h = np.asarray(head, dtype=np.float64)
    if b.ndim != 2 or h.ndim != 2 or b.shape[0] != h.shape[0] or b.shape[1] != np.asarray(mean).shape[0]:
        raise ParameterError(f"backbone and head must be (n, d) and (n, out_dim) with d = {np.asarray(mean).shape[0]}; "
                             f"got {b.shape} and {h.shape}")
    if not 0.0 <= float(weight) <= 1.0:
        raise ParameterError(f"weight must be in [0, 1]; got {weight!r}")
    z = (b - np.asarray(mean, dtype=np.float64)) / np.asarray(std, dtype=np.float64)
    z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    h = h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-12)
    return np.hstack([np.sqrt(weight) * z, np.sqrt(1.0 - weight) * h]).astype(np.float32)
