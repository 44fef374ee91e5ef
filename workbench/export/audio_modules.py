"""What an audio-in model takes and the torch module that computes it (the exports are :mod:`workbench.export.audio_in`).

:class:`AudioSpec` is a model's ``samples`` input: rate, window, hop, the backbone's size and the
submodules kept in float32; :func:`audio_spec` reads it off a backbone (OpenL3, the trainable CNN,
or the feature frontend's whole-track model). :func:`audio_model` builds the exportable module
(samples -> backbone [-> head]); :func:`reference` is the float64 PyTorch computation it must
reproduce; :func:`backbone_metadata` is what the package says about its backbone. Nothing here
converts or writes a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.export import audio_track
from workbench.export.audio_terms import LEVEL, MONO_MIX
from workbench.validate import check_int

if TYPE_CHECKING:
    import torch

    from workbench.models.heads import EmbeddingHead, SectionClassifier
    from workbench.similarity.blend import Blend

#: The input name of every audio-in model.
AUDIO_INPUT = "samples"
#: Backbones with an audio-in export.
AUDIO_BACKBONES = ("cnn", "openl3")


@dataclass(frozen=True)
class AudioSpec:
    """What an audio-in model's ``samples`` input is.

    Parameters
    ----------
    name : str
        The backbone's name (``"openl3-mel128-music-512"``, ``"cnn-..."``).
    sample_rate : int
        Samples per second the model expects.
    n_samples : int
        Samples per window.
    hop_s : float
        Seconds between window starts when a track is embedded.
    dim : int
        The backbone embedding's length.
    fp32_scopes : tuple of str
        Submodules kept in float32 (the spectrogram frontend); empty when all of it computes in fp16.
    track_range : (int, int) or None
        A whole-track model: shortest and longest input (samples; ``n_samples`` is the traced example's).
    row_samples : int or None
        Samples one output row describes, where that is not the input (a whole-track model).
    """

    name: str
    sample_rate: int
    n_samples: int
    hop_s: float
    dim: int
    fp32_scopes: tuple[str, ...] = ("frontend",)
    track_range: tuple[int, int] | None = None
    row_samples: int | None = None

    @property
    def window_s(self) -> float:
        """The window length in seconds."""
        return (self.row_samples or self.n_samples) / self.sample_rate

    def metadata(self) -> dict[str, Any]:
        """The ``com.workbench.*`` keys of the input: ``sample_rate``, window, hop, mono mix, level."""
        meta = {"sample_rate": int(self.sample_rate), "window_samples": int(self.row_samples or self.n_samples),
                "window_s": round(self.window_s, 6), "hop_s": float(self.hop_s), "channels": MONO_MIX,
                "level": LEVEL, "input": AUDIO_INPUT}
        if self.track_range:
            meta.update(audio_track.track_metadata(self))
        return meta

    def describe(self, batch: int = 1) -> str:
        """The input description stored in the package.

        Parameters
        ----------
        batch : int >= 1
            Windows per prediction.
        """
        if self.track_range:
            return audio_track.describe_track(self, mono_mix=MONO_MIX, level=LEVEL)
        what = "one window" if batch == 1 else f"{batch} windows (one per row)"
        return (f"{what} of audio, {self.n_samples} samples = {self.window_s:g} s at {self.sample_rate} Hz, "
                f"{MONO_MIX}, {LEVEL}; for a track, windows every {self.hop_s:g} s (hop). Shape "
                f"({batch}, {self.n_samples}).")


def audio_spec(backbone: Any) -> AudioSpec:
    """The audio input of a backbone that can run inside a model (OpenL3, or the trainable CNN).

    A CNN backbone (any ``torch.nn.Module`` taking ``(batch, n_samples)``) states its rate and
    window as attributes: ``sample_rate`` (or ``sample_rate_hz``), ``n_samples`` (or
    ``window_samples``), and optionally ``hop_s`` and ``embedding_size`` (or ``dim``/``out_dim``).

    Parameters
    ----------
    backbone : OpenL3, torch.nn.Module, FeatureFrontend or str
        ``"features"``/``"features-v1"``, a ``FeatureFrontend`` or its torch module: the whole-track
        feature-frontend model (:func:`workbench.export.audio_track.features_spec`).

    Returns
    -------
    AudioSpec

    Raises
    ------
    ParameterError
        Another name than the feature frontend's, a feature frontend with other settings than
        the default, or a module that does not state its sample rate and window.
    """
    name = backbone if isinstance(backbone, str) else str(getattr(backbone, "name", type(backbone).__name__))
    if audio_track.is_features(backbone):
        return AudioSpec(**audio_track.features_spec(backbone))
    if isinstance(backbone, str):
        raise ParameterError(f"backbone must be {' or '.join(repr(b) for b in (*AUDIO_BACKBONES, 'features'))} (a name "
                             f"stands only for the feature frontend, 'features'; pass the OpenL3 or CNN object); got {name!r}")
    if hasattr(backbone, "network") and hasattr(backbone, "input_repr"):  # OpenL3
        return AudioSpec(name=name, sample_rate=48000, n_samples=48000, hop_s=0.5, dim=int(backbone.embedding_size))
    module = audio_module(backbone)
    hop_s = float(getattr(backbone, "hop_s", getattr(module, "hop_s", 0.5)))
    name = str(getattr(backbone, "name", type(module).__name__))
    backbone = module
    rate = getattr(backbone, "sample_rate", None) or getattr(backbone, "sample_rate_hz", None)
    n = getattr(backbone, "n_samples", None) or getattr(backbone, "window_samples", None)
    if not rate or not n:
        raise ParameterError(f"backbone {name!r} must state sample_rate and n_samples (its audio window) to "
                             f"export with audio input; got sample_rate={rate!r}, n_samples={n!r}")
    dim = next((getattr(backbone, a) for a in ("embedding_size", "embedding_dim", "dim", "out_dim")
                if isinstance(getattr(backbone, a, None), int)), None)
    if not dim:
        import torch

        with torch.no_grad():
            dim = int(backbone.eval()(torch.zeros(1, int(n))).reshape(1, -1).shape[1])
    # a module's frontend computes in fp16 unless it says otherwise (the CNN's is built for it:
    # peak normalisation before the DFT, a power floor before the log; 73 dB all-fp16)
    scopes = ("frontend",) if getattr(backbone, "fp32_frontend", False) else ()
    return AudioSpec(name=name, sample_rate=int(rate), n_samples=int(n), hop_s=hop_s, dim=int(dim), fp32_scopes=scopes)


def audio_module(backbone: Any) -> Any:
    """The torch module of an audio backbone: OpenL3 itself, or the ``model`` a backbone wrapper holds.

    Parameters
    ----------
    backbone : OpenL3, torch.nn.Module, or a backbone holding one as ``model`` (``CNNBackbone``)
        (the feature frontend: its :class:`~workbench.models.features_torch.FeaturesModule`)
    """
    if audio_track.is_features(backbone):
        return audio_track.features_backbone(backbone)
    inner = getattr(backbone, "model", None)
    if inner is not None and hasattr(inner, "forward") and not hasattr(backbone, "forward"):
        return inner
    return backbone


def audio_model(backbone: Any, head: EmbeddingHead | SectionClassifier | None = None, *, batch: int = 1,
                probabilities: bool = True, blend: Blend | None = None) -> torch.nn.Module:
    """The exportable module: samples ``(batch, n_samples)`` -> backbone [-> head] -> ``(batch, out)``.

    Parameters
    ----------
    backbone : OpenL3 or torch.nn.Module
        An audio backbone (:func:`audio_spec`).
    head : EmbeddingHead, SectionClassifier or None
        None exports the backbone embedding itself.
    batch : int >= 1
        The static batch of windows.
    probabilities : bool
        A classifier outputs softmax probabilities.
    blend : Blend or None
        Search's blend of an embedding head with the backbone (:mod:`workbench.export.search_blend`):
        the output is then the blended vector ``(batch, dim + head.out_dim)``.

    Returns
    -------
    torch.nn.Module
        In eval mode; its frontend submodule is named ``frontend`` (the float32 island).
    """
    from workbench.export.ane_audio import BareOpenL3, ModuleAudio, TrackAudio
    from workbench.export.ane_layers import ANEHead, build_openl3

    check_int("batch", batch, min=1)
    spec = audio_spec(backbone)
    if head is not None and head.in_dim != spec.dim:
        raise ParameterError(f"head.in_dim ({head.in_dim}) must equal the backbone's embedding size ({spec.dim})")
    if blend is not None and (head is None or head.kind != "embedding_head"):
        raise ParameterError("a search blend goes with an embedding head; got "
                             f"{getattr(head, 'kind', None)!r}")

    from workbench.export.search_blend import blend_openl3, maybe_blended


    if spec.track_range:
        if batch != 1:
            raise ParameterError(f"batch must be 1 for the whole-track model of {spec.name}; got {batch}")
        return TrackAudio(audio_module(backbone),
                          maybe_blended(ANEHead(head, probabilities=probabilities), blend) if head else None).eval()
    if hasattr(backbone, "network") and hasattr(backbone, "input_repr"):
        if head is None:
            return BareOpenL3(backbone).set_batch(batch).eval()
        model = build_openl3(backbone, head, input="samples", probabilities=probabilities).set_batch(batch)
        return (model if blend is None else blend_openl3(model, backbone, blend)).eval()
    ane_head = ANEHead(head, probabilities=probabilities) if head is not None else None
    return ModuleAudio(audio_module(backbone), maybe_blended(ane_head, blend) if ane_head is not None else None,
                       dim=spec.dim, batch=batch).eval()


def reference(backbone: Any, head: EmbeddingHead | SectionClassifier | None = None) -> Any:
    """The PyTorch computation the audio-in model must reproduce, in float64: ``(n, n_samples)`` -> ``(n, out)``.

    Float64, because OpenL3's frontend keeps 80 dB of *magnitude* (160 dB of power) below each
    window's peak: in the near-empty bands of real audio (above 22.05 kHz in audio resampled
    from 44.1 kHz) float32 round-off alone puts openl3's own float32 output 59.5 dB PSNR away
    from its float64 output, so a float32 reference could not tell a 60-dB export from a
    perfect one. The modules are copied; the originals are not changed.

    Parameters
    ----------
    backbone : OpenL3 or torch.nn.Module
    head : EmbeddingHead, SectionClassifier or None
        A classifier's output is its softmax.
    """
    import copy

    if audio_spec(backbone).track_range:
        return audio_track.track_reference(audio_module(backbone), head)
    module = copy.deepcopy(audio_module(backbone)).double().eval()
    head64 = copy.deepcopy(head).double().eval() if head is not None else None

    def run(x: np.ndarray) -> np.ndarray:
        """The reference on a batch of windows.

        Parameters
        ----------
        x : np.ndarray [shape=(n, n_samples)]
        """
        import torch

        with torch.no_grad():
            e = module(torch.from_numpy(np.ascontiguousarray(x, np.float64))).reshape(len(x), -1)
            if head64 is None:
                return e.float().numpy()
            out = head64(e.double())
            if getattr(head64, "kind", "") == "section_classifier":
                out = torch.softmax(out, dim=1)
            return out.float().numpy()

    return run


def backbone_metadata(backbone: Any) -> dict[str, Any]:
    """The ``backbone`` metadata of an audio backbone (name, dim, rate, window, frontend).

    Parameters
    ----------
    backbone : OpenL3 or torch.nn.Module
    """
    if hasattr(backbone, "network") and hasattr(backbone, "input_repr"):
        from workbench.export.coreml_finish import _openl3_meta

        return _openl3_meta(backbone)
    spec = audio_spec(backbone)
    config = getattr(audio_module(backbone), "config", None)
    sha = getattr(backbone, "weights_sha256", None)
    sha = sha() if callable(sha) else sha
    trained = getattr(backbone, "trained", "")
    return {"backbone": {"name": spec.name, "dim": spec.dim, "sample_rate_hz": spec.sample_rate,
                         "window_s": spec.window_s, "hop_s": spec.hop_s,
                         **({"config": config()} if callable(config) else {})},
            "weights_source": (f"{spec.name} weights sha256 {sha}" + (f" ({trained})" if trained else ""))
            if sha else None}
