"""The distilled CNN's training rows: log-mel patches of a run's tracks and views, with the teacher's targets.

:func:`student_rows` cuts each track (and its augmented views) into the CNN's 3-s windows and labels
each with the teacher's embedding of the 8-s context of the original audio around it (a view's
window mapped back to original time). :func:`workbench.train.cnn_distill.distill_cnn` trains the
student on them; that module re-exports both names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.train.cnn_teacher import CONTEXT_S

if TYPE_CHECKING:
    from collections.abc import Callable

    from workbench.library import Track

#: Seconds between the student's training windows, and windows kept per track and view.
HOP_S = 1.0
MAX_WINDOWS = 48


@dataclass
class StudentRows:
    """Log-mel patches (float16, ``(n, 128 * 128)``) with their unit teacher targets ``(n, dim)`` and tracks.

    ``features`` (``(n, 202)``, float32, optional) are the frontend's pooled vectors of each window's
    context: what the teacher's head read (the student may learn them too: ``feature_weight``).
    ``classes`` (``(n,)``, optional): the run's class of each row's track (``fit_student(class_weight=...)``).
    """

    patches: np.ndarray
    targets: np.ndarray
    track_ids: np.ndarray
    features: np.ndarray | None = None
    classes: np.ndarray | None = None


def student_rows(tracks: list[Track], teacher: Any, *, n_views: int, seed: int,
                 hop_s: float = HOP_S, max_windows: int = MAX_WINDOWS, stretch: bool = True,
                 cached_frames: Callable[[str], tuple[np.ndarray, np.ndarray] | None] | None = None) -> StudentRows:
    """The student's windows of ``tracks`` (and of ``n_views`` augmented views each) with their targets.

    Parameters
    ----------
    tracks : list of Track
        The tracks (read from their paths; one that cannot be read is left out).
    teacher : EmbeddingHead
        The feature frontend's head (takes raw pooled feature vectors).
    n_views : int >= 0
        Augmented views per track (seeded by ``seed`` and the track's content hash).
    seed : int >= 0
        The run's seed.
    hop_s : float
        Seconds between window starts.
    max_windows : int >= 1
        Most windows per track and view (evenly spread).
    stretch : bool
        The views may be time-stretched (the training views' settings); False: never (the job's
        ``distill_keep_tempo``), every other draw the same.
    cached_frames : callable, optional
        ``cached_frames(content_hash) -> (frames, timestamps_s) or None``: the frontend's frames of the original
        audio already computed (the teacher's cache: same decoding and resampling, same numbers); a miss (None)
        or None (default): computed here.
    """
    import dataclasses

    import torch

    from workbench import audio
    from workbench.augment import augment, time_scale, view_seed
    from workbench.embed.features import FeatureFrontend, pool
    from workbench.models.cnn import SAMPLE_RATE_HZ, WINDOW_S, LogMel
    from workbench.models.cnn_backbone import audio_windows
    from workbench.train.triplet import embed
    from workbench.train.views import training_view_settings

    frontend, logmel, settings = FeatureFrontend(), LogMel(), training_view_settings()
    if not stretch:
        settings = dataclasses.replace(settings, stretch_p=0.0)
    patches, targets, feats, tids = [], [], [], []
    for t in tracks:
        try:
            y, sr = audio.load(t.path, sr=SAMPLE_RATE_HZ, mono=True)
            hit = None if cached_frames is None else cached_frames(t.content_hash)
            frames, ts = frontend.embed(y, sr=sr) if hit is None else hit
        except Exception:  # one bad file never stops the run (it is left out of the student's rows)
            continue
        last = max(0.0, float(ts[-1]) - (CONTEXT_S - frontend.window_s))
        views = [(y, 1.0)]
        for i in range(n_views):
            yv, params = augment(y, sr=sr, settings=settings, seed=view_seed(seed, i + 1, content_hash=t.content_hash))
            views.append((yv, time_scale(params)))
        for yv, scale in views:
            windows, starts = audio_windows(yv, sr=sr, hop_s=hop_s)
            if len(windows) > max_windows:
                keep = np.unique(np.linspace(0, len(windows) - 1, max_windows).round().astype(int))
                windows, starts = windows[keep], starts[keep]
            centres = (starts + WINDOW_S / 2) / scale  # original time of each window's middle
            ctx = []
            for c in centres:
                a = min(max(0.0, c - CONTEXT_S / 2), last)
                inside = (ts >= a - 1e-6) & (ts < a + CONTEXT_S)
                ctx.append(pool(frames[inside] if inside.any() else frames[[int(np.argmin(np.abs(ts - a)))]]))
            with torch.no_grad():
                p = torch.cat([logmel(torch.from_numpy(windows[k:k + 32])) for k in range(0, len(windows), 32)])
            patches.append(p.reshape(len(windows), -1).numpy().astype(np.float16))
            feats.append(np.stack(ctx).astype(np.float32))
            targets.append(embed(teacher, feats[-1]))
            tids += [t.id] * len(windows)
    if not patches:
        raise ParameterError(f"distillation found no audio it could read among {len(tracks)} tracks")
    return StudentRows(np.concatenate(patches), np.concatenate(targets).astype(np.float32), np.asarray(tids),
                       np.concatenate(feats))
