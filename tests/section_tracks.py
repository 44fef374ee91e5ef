"""Synthetic labelled tracks for the section tests: a form of sections, each a cluster of frame features."""

from __future__ import annotations

import numpy as np


def synthetic_track(index: int, form: tuple[str, ...], group: str, rng: np.random.Generator,
                    centres: dict[str, np.ndarray], *, bars: int = 8, bpm: float = 120.0, dim: int = 12,
                    offset: float = 0.0):
    """A track whose sections follow ``form``, ``bars`` bars each, frames every 0.5 s.

    Parameters
    ----------
    index : int
        Track id (also its name ``t{index}`` and content hash ``h{index}``).
    form : tuple of str
        The section labels in order.
    group : str
        The track's crate or folder.
    rng : numpy.random.Generator
        Draws the frame noise, N(0, 1) per feature.
    centres : dict of str to numpy.ndarray, shape (dim,)
        Added to the frames of each label's sections.
    bars, bpm : int, float
        Section length in bars of 4 beats, and the tempo in BPM.
    dim : int
        Frame features.
    offset : float
        Added to every frame (a track-level shift, as another mix would give).

    Returns
    -------
    workbench.train.sections.TrackFrames
    """
    from workbench.train.sections import TrackFrames, WindowFeatures

    bar_s = 240.0 / bpm
    duration_s = len(form) * bars * bar_s
    times = np.arange(0.25, duration_s, 0.5)
    frames = rng.normal(0, 1.0, (times.size, dim)) + offset
    sections = []
    for j, label in enumerate(form):
        a, b = j * bars * bar_s, (j + 1) * bars * bar_s
        frames[(times >= a) & (times < b)] += centres[label]
        sections.append({"start_s": a, "end_s": b, "label": label})
    beats = np.arange(0.0, duration_s, 60.0 / bpm)
    spec = WindowFeatures(context_s=(4.0,))
    return TrackFrames(index, f"t{index}", duration_s, spec.transform(frames, times, duration_s=duration_s), times,
                       beats, beats[::4], sections, content_hash=f"h{index}", frames=frames.astype(np.float32),
                       group=group)


def logreg_stopping_short(monkeypatch) -> None:
    """Make the sections' logreg baseline stop after one solver iteration (it cannot converge), as a label set
    did where lbfgs ran out of its 500: patches :func:`workbench.train.sections.baselines.make_baseline`."""
    from workbench.train.sections import baselines

    real = baselines.make_baseline

    def one_iteration(name, **kw):
        model = real(name, **kw)
        if name == "logreg":
            model.steps[-1][1].max_iter = 1
        return model

    monkeypatch.setattr(baselines, "make_baseline", one_iteration)
