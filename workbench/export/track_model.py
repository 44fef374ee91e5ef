"""The torch module of the whole-track section model: a track's samples in, every window's section out.

A section classifier over window features (:class:`~workbench.train.sections.WindowFeatures`:
context of ±4 s and ±16 s, the track's mean, the position, the DJ groups) needs the whole track,
so it has no single-window audio-in model. :class:`TrackSectionModel` takes the whole track
instead:

``samples (1, n)`` -> ``frontend`` -> frames ``(n_windows, d)`` -> :class:`TorchWindowFeatures`
-> the trained :class:`~workbench.models.heads.SectionClassifier` -> softmax, and returns
``label_probs (n_windows, n_labels)``, ``label_index (n_windows,)`` (the argmax) and
``times_s (n_windows,)``: window ``i`` is centred at ``offset_s + i * hop_s`` seconds.

The frontend is any torch module with a whole-track forward ``samples (1, n) -> (n_windows, d)``
that states ``sample_rate`` (Hz), its hop (``hop_samples``, or ``hop_s`` in seconds: the exact
spacing of its windows), ``window_s`` (frame ``i`` is stamped ``i * hop_s + window_s / 2``, the
convention of :func:`~workbench.train.sections.features.track_frames`; ``offset_s`` overrides it, and
the ``features-v1`` module is stamped at 0.5 s as its librosa twin's nominal 1-s window)
and its frame size (``dim``, ``out_dim`` or ``embedding_size``). :func:`frontend_grid` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from workbench.errors import ParameterError
from workbench.train.sections.features_torch import TorchWindowFeatures

if TYPE_CHECKING:  # pragma: no cover
    from workbench.models.heads import SectionClassifier
    from workbench.train.sections.features import WindowFeatures


@dataclass(frozen=True)
class FrontendGrid:
    """Where a whole-track frontend puts its windows.

    ``name``; ``sample_rate`` (Hz); ``hop_s`` (seconds between windows); ``offset_s`` (centre of
    window 0); ``window_s`` (nominal window length); ``dim`` (frame size).
    """

    name: str
    sample_rate: int
    hop_s: float
    offset_s: float
    window_s: float
    dim: int

    def times_formula(self) -> str:
        """The window times in words, for the metadata and the card."""
        return f"times_s[i] = {self.offset_s:g} + i * {self.hop_s:.9g} (seconds; window i of the track)"


def frontend_grid(frontend: Any) -> FrontendGrid:
    """The grid of a whole-track frontend module (see the module doc for the attributes it states).

    Parameters
    ----------
    frontend : torch.nn.Module
        ``samples (1, n) -> (n_windows, d)``.

    Returns
    -------
    FrontendGrid

    Raises
    ------
    ParameterError
        The module does not state its sample rate, hop, window or frame size.
    """
    name = str(getattr(frontend, "name", type(frontend).__name__))
    rate = getattr(frontend, "sample_rate", None) or getattr(frontend, "sample_rate_hz", None)
    hop_n = getattr(frontend, "hop_samples", None)
    hop_s = float(hop_n) / float(rate) if hop_n and rate else getattr(frontend, "hop_s", None)
    window_s = getattr(frontend, "window_s", None)
    dim = next((getattr(frontend, a) for a in ("dim", "out_dim", "embedding_size")
                if isinstance(getattr(frontend, a, None), int)), None)
    if not (isinstance(frontend, nn.Module) and rate and hop_s and window_s and dim):
        raise ParameterError(
            f"a whole-track frontend must be a torch module stating sample_rate, hop_samples (or hop_s), window_s "
            f"and dim; {name!r} gives sample_rate={rate!r}, hop_s={hop_s!r}, window_s={window_s!r}, dim={dim!r}")
    offset = getattr(frontend, "offset_s", None)
    if offset is None and name == "features-v1":  # stamped as track_frames stamps FeatureFrontend's frames
        from workbench.embed.features import FeatureFrontend

        offset = FeatureFrontend().window_s / 2
    offset_s = float(offset) if offset is not None else float(window_s) / 2
    return FrontendGrid(name, int(rate), float(hop_s), offset_s, float(window_s), int(dim))


class SampleDuration(nn.Module):
    """The track's length in seconds from the input's shape (exact: no sum of millions of ones in fp16)."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.sample_rate = int(sample_rate)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        """``n / sample_rate`` of ``samples (1, n)``, shape ``(1,)``.

        Parameters
        ----------
        samples : torch.Tensor [shape=(1, n)]
        """
        n = torch._shape_as_tensor(samples)[-1:].to(torch.float32)
        return n / float(self.sample_rate)


class WindowTimes(nn.Module):
    """Centre of each window in seconds, ``offset_s + i * hop_s`` (its own module: computed in float32)."""

    def __init__(self, hop_s: float, offset_s: float) -> None:
        super().__init__()
        self.hop_s, self.offset_s = float(hop_s), float(offset_s)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Times of the frames, shape ``(n,)``.

        Parameters
        ----------
        frames : torch.Tensor [shape=(n, d)]
        """
        idx = torch.cumsum(frames[:, 0] * 0.0 + 1.0, dim=0) - 1.0
        return self.offset_s + idx * self.hop_s


class TrackSectionModel(nn.Module):
    """``samples (1, n)`` -> (``label_probs``, ``label_index``, ``times_s``) of every window of the track.

    Parameters
    ----------
    frontend : torch.nn.Module
        Whole-track frontend (:func:`frontend_grid`).
    features : WindowFeatures
        The classifier's window layout (the run's ``window_features``).
    classifier : SectionClassifier
        Trained on that layout over this frontend's frames (``in_dim = features.dim(frontend dim)``).
    temperature : float > 0
        The logits are divided by it before the softmax (a calibrated run's temperature; 1 = none).

    Raises
    ------
    ParameterError
        The classifier's input size is not the layout's, or the layout cannot be computed from audio.
    """

    def __init__(self, frontend: nn.Module, features: WindowFeatures, classifier: SectionClassifier, *,
                 temperature: float = 1.0) -> None:
        super().__init__()
        grid = frontend_grid(frontend)
        want = features.dim(grid.dim)
        if classifier.in_dim != want:
            raise ParameterError(f"the classifier takes {classifier.in_dim} floats, but the window layout "
                                 f"{features.group_names()} over the {grid.dim}-d frames of {grid.name!r} gives {want}: "
                                 "pass the layout and the frontend the classifier was trained with")
        if not (isinstance(temperature, (int, float)) and temperature > 0):
            raise ParameterError(f"temperature must be a float > 0; got {temperature!r}")
        self.grid = grid
        self.frontend = frontend.eval()
        self.duration = SampleDuration(grid.sample_rate)
        self.features = TorchWindowFeatures(features, hop_s=grid.hop_s, offset_s=grid.offset_s, frame_dim=grid.dim)
        self.times = WindowTimes(grid.hop_s, grid.offset_s)
        self.classifier = classifier.eval()
        self.temperature = float(temperature)

    def forward(self, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Section probabilities, the top label's index and the time of every window.

        Parameters
        ----------
        samples : torch.Tensor [shape=(1, n)]
            The whole track, mono, at ``grid.sample_rate``, full scale +-1.

        Returns
        -------
        label_probs : torch.Tensor [shape=(n_windows, n_labels)]
        label_index : torch.Tensor [shape=(n_windows,), dtype=int32]
        times_s : torch.Tensor [shape=(n_windows,)]
        """
        frames = self.frontend(samples)
        x = self.features(frames, self.duration(samples))
        logits = self.classifier(x)
        probs = torch.softmax(logits / self.temperature if self.temperature != 1.0 else logits, dim=1)
        return probs, torch.argmax(probs, dim=1).to(torch.int32), self.times(frames)
