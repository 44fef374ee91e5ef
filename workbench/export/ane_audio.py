"""The torch modules of the audio-in exports (:mod:`workbench.export.audio_in`).

- :class:`BareOpenL3`: OpenL3 from samples to its own embedding, in Keras' (H, W, C) order.
- :class:`ModuleAudio`: any samples-in backbone module (the trainable CNN) and an optional
  Neural-Engine head (:class:`~workbench.export.ane_layers.ANEHead`).
- :class:`TrackAudio`: a whole-track backbone (the feature frontend, one row per window) and an
  optional head over its rows.

All name their spectrogram frontend ``frontend`` (directly, or inside ``backbone``), the
submodule the export keeps in float32.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from workbench.export.ane_layers import ANEModel, _batch
from workbench.export.ane_openl3 import ANEOpenL3Frontend, ANEOpenL3Network, openl3_map_hw

if TYPE_CHECKING:
    from workbench.embed.openl3 import OpenL3


class BareOpenL3(ANEModel):
    """OpenL3 from samples ``(B, 48000)`` to its embedding ``(B, embedding_size)``, as ``OpenL3.forward``.

    The network's (C, H, W) output is put back into Keras' (H, W, C) flatten order (one
    transpose; none for the 512-d model, whose final map is 1x1).
    """

    frontend: ANEOpenL3Frontend
    network: ANEOpenL3Network

    def __init__(self, openl3: OpenL3) -> None:
        nn.Module.__init__(self)
        self.frontend = ANEOpenL3Frontend(openl3.frontend)
        self.network = ANEOpenL3Network(openl3.network, map_hw=openl3_map_hw(openl3))
        self.head = None
        self.set_batch(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """OpenL3's embedding of each window.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, 48000)]
            Mono windows at 48 kHz, full scale +-1.

        Returns
        -------
        torch.Tensor [shape=(B, embedding_size)]
        """
        b = _batch(self, x)
        e = self.network(self.frontend(x))  # (B, C*h*w, 1, 1) in (C, H, W) order
        (h, w), c = self.network.out_hw, self.network.channels
        if h * w == 1:
            return e.reshape(b, c)
        return e.reshape(b, c, h * w).transpose(1, 2).reshape(b, c * h * w)


class ModuleAudio(nn.Module):
    """A samples-in backbone module (the trainable CNN) followed by an optional Neural-Engine head.

    Parameters
    ----------
    backbone : torch.nn.Module
        ``(B, n_samples)`` -> ``(B, dim)`` (any shape with ``dim`` values per window).
    head : torch.nn.Module or None
        An :class:`~workbench.export.ane_layers.ANEHead` over ``(B, dim, 1, 1)``; None returns the embedding.
    dim : int
        The backbone's embedding size.
    batch : int
        The static batch the traced program gets.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module | None, *, dim: int, batch: int) -> None:
        super().__init__()
        self.backbone, self.head, self.dim, self.batch = backbone.eval(), head, int(dim), int(batch)

    def forward(self, x: torch.Tensor) -> Any:
        """The backbone's (and head's) output of each window.

        Parameters
        ----------
        x : torch.Tensor [shape=(B, n_samples)]

        Returns
        -------
        torch.Tensor [shape=(B, out)]
        """
        b = _batch(self, x)
        e = self.backbone(x).reshape(b, self.dim)
        if self.head is None:
            return e
        return self.head(e.reshape(b, self.dim, 1, 1)).reshape(b, int(self.head.out_dim))


class TrackAudio(nn.Module):
    """A whole-track backbone (the feature frontend: ``(1, n_samples)`` -> ``(n_windows, dim)``) and an optional head.

    The head runs over the windows as the sequence axis of the Neural-Engine layout
    ``(1, dim, 1, n_windows)``, so the number of windows may vary with the input's length.

    Parameters
    ----------
    backbone : torch.nn.Module
        ``(1, n_samples)`` -> ``(n_windows, dim)``.
    head : torch.nn.Module or None
        An :class:`~workbench.export.ane_layers.ANEHead`; None returns the backbone's rows.
    pool : torch.nn.Module or None
        Rows ``(n_windows, dim)`` -> ``(n_rows, dim)`` before the head (search's windows,
        :class:`~workbench.export.search_windows.SearchWindows`, named ``search_windows``); None: none.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module | None, *, pool: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone, self.head = backbone.eval(), head
        self.search_windows = pool
        self.columns = Columns()  # its own scope: float32 where search's blend z-scores the rows

    def forward(self, x: torch.Tensor) -> Any:
        """One row per window of the track.

        Parameters
        ----------
        x : torch.Tensor [shape=(1, n_samples)]

        Returns
        -------
        torch.Tensor [shape=(n_windows, out)]
        """
        e = self.backbone(x)
        if self.search_windows is not None:
            e = self.search_windows(e)
        if self.head is None:
            return e
        return self.head(self.columns(e))[0, :, 0].transpose(0, 1)


class Columns(nn.Module):
    """Rows ``(n, d)`` to the Neural-Engine layout ``(1, d, 1, n)`` (a submodule, so its ops have a scope)."""

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """The rows as columns of one sequence.

        Parameters
        ----------
        e : torch.Tensor [shape=(n, d)]

        Returns
        -------
        torch.Tensor [shape=(1, d, 1, n)]
        """
        return e.transpose(0, 1).unsqueeze(0).unsqueeze(2)
