"""Invariance of an embedding to musical augmentations (pitch shift, time stretch, gain).

For each augmentation and strength, every clip is transformed deterministically (the
audiomentations transform with ``min == max`` and ``p = 1``) and embedded; the score is the mean
cosine similarity between the clip's embedding and the transformed clip's (1 = unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from workbench.errors import ParameterError

#: Default strengths: pitch in semitones, stretch as a rate, gain in dB.
DEFAULT_AUGMENTATIONS: dict[str, tuple[float, ...]] = {
    "pitch": (-3.0, -1.0, 1.0, 3.0),
    "stretch": (0.9, 1.1),
    "gain": (-6.0, 3.0),
}


def make_transform(augmentation: str, strength: float) -> Callable[[np.ndarray, int], np.ndarray]:
    """A deterministic transform ``f(y, sr) -> y`` for one augmentation at one strength.

    ``pitch``: ``strength`` semitones; ``stretch``: playback rate (0.9 = 10 % slower);
    ``gain``: ``strength`` dB.

    Parameters
    ----------
    augmentation : {"pitch", "stretch", "gain"}
    strength : float
        Semitones (pitch), rate > 0 (stretch) or dB (gain).

    Returns
    -------
    callable
        ``f(y, sr) -> np.ndarray``: ``y`` mono float [shape=(n,)], ``sr`` in Hz; the result is
        float32 (longer or shorter than ``y`` for a stretch).

    Raises
    ------
    ParameterError
        On an unknown augmentation or a stretch rate <= 0.
    """
    import audiomentations as am

    s = float(strength)
    if augmentation == "pitch":
        t = am.PitchShift(min_semitones=s, max_semitones=s, p=1.0)
    elif augmentation == "stretch":
        if s <= 0:
            raise ParameterError(f"stretch strength is a rate and must be > 0; got {strength!r}")
        t = am.TimeStretch(min_rate=s, max_rate=s, leave_length_unchanged=False, p=1.0)
    elif augmentation == "gain":
        t = am.Gain(min_gain_db=s, max_gain_db=s, p=1.0)
    else:
        raise ParameterError(f"augmentation must be one of {tuple(DEFAULT_AUGMENTATIONS)}; got {augmentation!r}")

    def apply(y: np.ndarray, sr: int) -> np.ndarray:
        """The transformed clip.

        Parameters
        ----------
        y : np.ndarray [shape=(n,)]
            Mono samples.
        sr : int > 0
            Sample rate in Hz.
        """
        return t(samples=np.asarray(y, dtype=np.float32), sample_rate=sr)

    return apply


def _vector(embed_fn: Callable[[np.ndarray], np.ndarray], y: np.ndarray) -> np.ndarray:
    v = np.asarray(embed_fn(y), dtype=np.float64)
    if v.ndim == 2:  # frame embeddings: mean-pool
        v = v.mean(axis=0)
    if v.ndim != 1 or not np.all(np.isfinite(v)):
        raise ParameterError(f"embed_fn must return a finite 1-D vector or (frames, d) array; got shape {v.shape}")
    return v


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


def invariance(embed_fn: Callable[[np.ndarray], np.ndarray], clips: Sequence[np.ndarray], *, sr: int,
               augmentations: Mapping[str, Sequence[float]] | None = None) -> dict[str, dict[str, float]]:
    """Mean cosine similarity between each clip's embedding and its augmented versions'.

    Parameters
    ----------
    embed_fn : callable
        ``embed_fn(y) -> vector`` for mono float audio ``y`` at ``sr``; a (frames, d) result is
        mean-pooled.
    clips : sequence of np.ndarray [shape=(n,)]
        Mono clips (a few seconds each).
    sr : int > 0
        Sample rate of the clips, in Hz.
    augmentations : {name: [strength, ...]} or None
        Names from ``pitch`` (semitones), ``stretch`` (rate), ``gain`` (dB); default
        :data:`DEFAULT_AUGMENTATIONS`.

    Returns
    -------
    {augmentation: {strength: mean cosine}}
        Strength keys are strings (``f"{strength:g}"``), as they read back from JSON.
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ParameterError(f"sr must be a positive integer (Hz); got {sr!r}")
    if len(clips) == 0:
        raise ParameterError("clips is empty; need at least one clip")
    augs = DEFAULT_AUGMENTATIONS if augmentations is None else augmentations
    base = [_vector(embed_fn, np.asarray(y, dtype=np.float32)) for y in clips]
    out: dict[str, dict[str, float]] = {}
    for name, strengths in augs.items():
        out[name] = {}
        for s in strengths:
            f = make_transform(name, s)
            sims = [_cosine(b, _vector(embed_fn, f(np.asarray(y, dtype=np.float32), int(sr))))
                    for b, y in zip(base, clips, strict=True)]
            out[name][f"{float(s):g}"] = float(np.mean(sims))
    return out


#: The transforms the invariance gate checks: ``name -> (augmentation, strength)`` (pitch in
#: semitones, tempo as a stretch rate, gain in dB).
GATE_TRANSFORMS: dict[str, tuple[str, float]] = {
    "pitch+1st": ("pitch", 1.0), "pitch-1st": ("pitch", -1.0),
    "tempo+4%": ("stretch", 1.04), "tempo-4%": ("stretch", 0.96),
    "gain+6dB": ("gain", 6.0), "gain-6dB": ("gain", -6.0),
}
#: How much of the backbone's mean cosine a model may lose under a gate transform.
INVARIANCE_TOLERANCE = 0.05


def paired_invariance(embed_fn: Callable[[np.ndarray], np.ndarray],
                      spaces: Mapping[str, Callable[[np.ndarray], np.ndarray]], clips: Sequence[np.ndarray], *,
                      sr: int, transforms: Mapping[str, tuple[str, float]] | None = None) -> dict[str, dict[str, float]]:
    """Mean cosine between each clip and its transformed copy, in several spaces from one backbone pass.

    Every clip and every transformed clip is embedded once by ``embed_fn`` (the backbone); each
    space then maps that vector (the backbone as compared, a trained head, ...), so the spaces are
    measured on exactly the same audio.

    Parameters
    ----------
    embed_fn : callable
        ``embed_fn(y) -> vector`` for mono float audio ``y`` at ``sr`` (a (frames, d) result is
        mean-pooled).
    spaces : {name: callable}
        ``space(vector) -> vector``: e.g. ``{"backbone": standardise, "model": head}``.
    clips : sequence of np.ndarray [shape=(n,)]
        Mono clips (held-out windows, a few seconds each).
    sr : int > 0
        Sample rate of the clips, in Hz.
    transforms : {name: (augmentation, strength)} or None
        Default :data:`GATE_TRANSFORMS`.

    Returns
    -------
    {transform: {space: mean cosine}}

    Raises
    ------
    ParameterError
        No clips, no spaces, a bad sample rate or an unknown augmentation.
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ParameterError(f"sr must be a positive integer (Hz); got {sr!r}")
    if len(clips) == 0:
        raise ParameterError("clips is empty; need at least one clip")
    if not spaces:
        raise ParameterError("spaces is empty; need at least one, e.g. {'backbone': lambda v: v}")
    chosen = GATE_TRANSFORMS if transforms is None else transforms
    audio = [np.asarray(y, dtype=np.float32) for y in clips]
    base = [_vector(embed_fn, y) for y in audio]
    mapped = {name: [np.asarray(f(b), dtype=np.float64).reshape(-1) for b in base] for name, f in spaces.items()}
    out: dict[str, dict[str, float]] = {}
    for tname, (aug, strength) in chosen.items():
        f = make_transform(aug, strength)
        moved = [_vector(embed_fn, f(y, int(sr))) for y in audio]
        out[tname] = {name: float(np.mean([_cosine(a, np.asarray(g(m), dtype=np.float64).reshape(-1))
                                           for a, m in zip(mapped[name], moved, strict=True)]))
                      for name, g in spaces.items()}
    return out
