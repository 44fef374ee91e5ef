"""Whole-track audio-in models: the feature frontend (``features-v1``) inside Core ML.

The feature frontend's descriptors depend on the whole track (the STFT's edge padding, the
spectral contrast's 80-dB floor under the track's loudest band, the tempogram's 8.9-s context
and its ramps at both ends), so its model takes the whole track, not a window:
``samples (1, n_samples)``, ``n_samples`` flexible from 1 s to :data:`MAX_TRACK_S` (coremltools
``RangeDim``), mono at 22,050 Hz, full scale -> ``(n_windows, 202)``, one row per window of
0.998 s every 0.511 s (:func:`workbench.models.features_torch.window_times`). The app must not
cut the track into chunks: a chunk's rows differ from the track's near the chunk's ends.

The module is :class:`workbench.models.features_torch.FeaturesModule`; every op of it computes in
float32 (its log of the power with ``amin`` 1e-10 and the tempogram's normalisation need it), the
head over its rows in float16. Flexible shapes run on the GPU or CPU (the Neural Engine takes
static shapes); the package declares both (``com.workbench.fp32_island``, ``input_range``).

:func:`file_windows` (re-exported by :mod:`workbench.export.audio_in`) cuts the real audio every
audio-in parity check reads: windows for a fixed-window model, excerpts for a whole-track one.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from workbench.errors import ParameterError
from workbench.validate import check_int

#: An :class:`workbench.export.audio_modules.AudioSpec` (not imported: audio_modules imports this module).
AudioSpec = Any

#: Longest input of the exported model, in seconds (20 min).
MAX_TRACK_S = 1200
#: Length of the traced example and of the parity excerpts, in seconds.
EXCERPT_S = 5.0
#: Where the head's input standardisation lives (it is not an input the app computes).
STANDARDISATION = ("the library standardisation of the 202-d descriptors (mean and std of the training vectors) "
                   "is folded into the head's first layer (workbench.train.triplet._fold_scaling): the head takes "
                   "the raw descriptors")


def is_features(backbone: Any) -> bool:
    """Whether ``backbone`` is the feature frontend: ``"features*"``, a ``FeatureFrontend`` or its torch module.

    Parameters
    ----------
    backbone : Any
    """
    if isinstance(backbone, str):
        return backbone.startswith("features")
    return type(backbone).__name__ in ("FeatureFrontend", "FeaturesModule")


def features_backbone(backbone: Any) -> Any:
    """The torch module of the feature frontend (:func:`~workbench.models.features_torch.features_module`).

    Parameters
    ----------
    backbone : str, FeatureFrontend or FeaturesModule
        Only the default settings (window 1 s, hop 0.5 s) are ported.

    Raises
    ------
    ParameterError
        A ``FeatureFrontend`` with other settings, or another name than ``features-v1``.
    """
    from workbench.models.features_torch import FeaturesModule, features_module

    if isinstance(backbone, FeaturesModule):
        return backbone.eval()
    name = backbone if isinstance(backbone, str) else str(getattr(backbone, "name", ""))
    if name not in ("features", "features-v1"):
        raise ParameterError(f"backbone must be the feature frontend 'features-v1'; got {name!r}")
    settings = getattr(backbone, "settings", {"window_s": 1.0, "hop_s": 0.5})
    if settings != {"window_s": 1.0, "hop_s": 0.5}:
        raise ParameterError(f"only FeatureFrontend(window_s=1.0, hop_s=0.5) runs inside a model; got {settings}")
    return features_module()


def features_spec(backbone: Any) -> dict[str, Any]:
    """The fields of the :class:`~workbench.export.audio_modules.AudioSpec` of the feature frontend's whole-track model.

    Parameters
    ----------
    backbone : str, FeatureFrontend or FeaturesModule
    """
    from workbench.models.features_torch import FRAMES_PER_WINDOW, HOP_SAMPLES, MIN_SAMPLES

    module = features_backbone(backbone)
    rate = int(module.sample_rate)
    return {"name": module.name, "sample_rate": rate, "n_samples": int(EXCERPT_S * rate), "hop_s": float(module.hop_s),
            "dim": int(module.dim), "fp32_scopes": ("frontend", "stats"),
            "track_range": (int(MIN_SAMPLES), int(MAX_TRACK_S * rate)), "row_samples": FRAMES_PER_WINDOW * HOP_SAMPLES}


def describe_track(spec: AudioSpec, *, mono_mix: str, level: str) -> str:
    """The input description of a whole-track model.

    Parameters
    ----------
    spec : AudioSpec
        With ``track_range``.
    mono_mix, level : str
        How the app mixes and scales the audio (``audio_in.MONO_MIX``, ``audio_in.LEVEL``).
    """
    lo, hi = spec.track_range or (spec.n_samples, spec.n_samples)
    hop = round(spec.hop_s * spec.sample_rate)
    return (f"the whole track (not a window: do not cut it into chunks), {mono_mix}, at {spec.sample_rate} Hz, "
            f"{level}. Shape (1, n_samples), n_samples from {lo} ({lo / spec.sample_rate:g} s) to {hi} "
            f"({hi / spec.sample_rate / 60:g} min). One output row per window of {spec.row_samples} samples "
            f"({spec.window_s:.3f} s); row i starts at sample {hop} * i ({spec.hop_s:.4f} s); "
            f"rows = (1 + n_samples // 512 - 43) // 22 + 1.")


def what_in(spec: AudioSpec) -> str:
    """What one output row describes, for a model's description: a window, or each window of a whole track.

    Parameters
    ----------
    spec : AudioSpec
    """
    if spec.track_range:
        return f"each {spec.window_s:.3f}-s window (every {spec.hop_s:.3f} s) of a whole mono track"
    return f"a {spec.window_s:g}-s mono audio window"


def track_metadata(spec: AudioSpec) -> dict[str, Any]:
    """The ``com.workbench.*`` keys a whole-track model adds: its input range, row hop and the tempogram context.

    Parameters
    ----------
    spec : AudioSpec
    """
    from workbench.models.features_torch import HOP_SAMPLES, TEMPOGRAM_FRAMES

    lo, hi = spec.track_range or (spec.n_samples, spec.n_samples)
    return {"whole_track": True, "input_samples": [int(lo), int(hi)], "hop_samples": round(spec.hop_s * spec.sample_rate),
            "rows": "one per window: (1 + n_samples // 512 - 43) // 22 + 1",
            "tempogram_context_s": round(TEMPOGRAM_FRAMES * HOP_SAMPLES / spec.sample_rate, 3)}


def track_reference(module: Any, head: Any = None) -> Any:
    """The float64 PyTorch computation of a whole-track model: ``(k, n_samples)`` -> ``(k, n_windows * out)``.

    Each row is one track (or excerpt); its rows of output are flattened, as the parity check
    compares them.

    Parameters
    ----------
    module : torch.nn.Module
        The whole-track backbone (copied, in float64).
    head : EmbeddingHead, SectionClassifier or None
    """
    import copy

    import torch

    m64 = copy.deepcopy(module).double().eval()
    h64 = copy.deepcopy(head).double().eval() if head is not None else None

    def run(x: np.ndarray) -> np.ndarray:
        """The reference on a stack of tracks of one length.

        Parameters
        ----------
        x : np.ndarray [shape=(k, n_samples)]
        """
        out = []
        with torch.no_grad():
            for row in np.asarray(x, np.float64):
                e = m64(torch.from_numpy(row)[None, :])
                if h64 is not None:
                    e = h64(e)
                    if getattr(h64, "kind", "") == "section_classifier":
                        e = torch.softmax(e, dim=1)
                out.append(e.float().numpy().ravel())
        return np.stack(out)

    return run


def track_excerpts(paths: list[str | os.PathLike[str]], spec: AudioSpec, *, n_excerpts: int = 2,
                   seed: int = 0) -> np.ndarray:
    """Real audio for the parity check of a whole-track model: excerpts of ``spec.n_samples`` samples.

    Parameters
    ----------
    paths : list of str or path
        Audio files (unreadable ones are skipped).
    spec : AudioSpec
    n_excerpts : int > 0
        Excerpts returned (fewer when the files hold fewer), a seeded pick over all files.
    seed : int

    Returns
    -------
    np.ndarray [shape=(n, spec.n_samples), dtype=float32]

    Raises
    ------
    ParameterError
        No file holds a whole excerpt.
    """
    check_int("n_excerpts", n_excerpts, min=1)
    n = spec.n_samples
    picked = _seeded_cuts(paths, sample_rate=spec.sample_rate, length=n, step=n, k=n_excerpts, seed=seed)
    if picked is None:
        raise ParameterError(f"no whole {n / spec.sample_rate:g}-s excerpt could be read from {len(paths)} file(s)")
    return picked


def file_windows(paths: list[str | os.PathLike[str]], spec: AudioSpec, *, n_windows: int = 16,
                 seed: int = 0) -> np.ndarray:
    """Real audio windows for parity: mono, resampled to the model's rate, cut at its window and hop.

    Parameters
    ----------
    paths : list of str or path
        Audio files (a file that cannot be read is skipped; at least one must be readable).
    spec : AudioSpec
        The model's rate, window and hop.
    n_windows : int > 0
        Windows returned (fewer when the files are shorter), a seeded sample spread over all files.
    seed : int
        Seeds the pick.

    Returns
    -------
    np.ndarray [shape=(n, n_samples), dtype=float32]

    Raises
    ------
    ParameterError
        No file could be read, or they hold no whole window.
    """
    check_int("n_windows", n_windows, min=1)
    if spec.track_range:  # a whole-track model: excerpts of spec.n_samples, 8 windows each
        return track_excerpts(paths, spec, n_excerpts=max(1, n_windows // 8), seed=seed)
    picked = _seeded_cuts(paths, sample_rate=spec.sample_rate, length=spec.n_samples,
                          step=max(1, round(spec.hop_s * spec.sample_rate)), k=n_windows, seed=seed)
    if picked is None:
        raise ParameterError(f"no whole {spec.window_s:g}-s window could be read from {len(paths)} file(s)")
    return picked


def _seeded_cuts(paths: list[str | os.PathLike[str]], *, sample_rate: int, length: int, step: int, k: int,
                 seed: int) -> np.ndarray | None:
    """``k`` cuts of ``length`` samples every ``step`` over the readable files (mono, at ``sample_rate``),
    a seeded pick kept in file order; None when no file holds a whole cut."""
    from workbench.audio import load
    from workbench.errors import WorkbenchError

    cuts: list[np.ndarray] = []
    for p in paths:
        try:
            y, _ = load(p, sr=sample_rate, mono=True)
        except WorkbenchError:  # one unreadable file never stops the check
            continue
        cuts += [y[a:a + length] for a in range(0, len(y) - length + 1, step)]
    if not cuts:
        return None
    pick = np.sort(np.random.default_rng(seed).choice(len(cuts), size=min(k, len(cuts)), replace=False))
    return np.ascontiguousarray(np.stack([cuts[i] for i in pick]).astype(np.float32))
