"""What DJs hear, per window: level and its slope, low end, onsets, brightness and its rise, novelty, ends.

Feature groups beyond the backbone embedding (:class:`~workbench.train.sections.WindowFeatures`
``extra``), each a few numbers per window:

- ``"dj"`` (9): from the weight-free frontend's frame layout (``features-v1``: log-mel band means
  in dB / 10, onset strength): level (mean log-mel), its slope (the next 8 s against the last
  8 s), its level against the track's median; low-end presence (the lowest six mel bands, about
  below 150 Hz, against the level) and against the track's median; onset density and against
  the track's median; brightness (the mel centroid, 0..1) and its rise (next 8 s against last 8 s).
  Each is a 4 s running mean (about two bars), so a single hit does not make a drop.
- ``"novelty"`` (2): cosine distance between the mean frame of the 4 s (and 8 s) before and
  after each window, frames standardised over the track: high at a change of section.
- ``"ends"`` (4): seconds from the start and to the end (over 60, capped at 4) and
  ``exp(-t / 30 s)``, ``exp(-(T - t) / 30 s)``: an intro is near the start, an outro near the end.
- ``"bars"`` (12): on the track's bar grid (its downbeats; 2-s pseudo-bars without one): level,
  low end, onset density and brightness of the window's bar and of its 8-bar phrase (phrases
  counted from the first downbeat), each standardised over the track (z-scores: a drop is loud
  for *its* track, whatever the style's mix); the phrase's level and low end against the
  previous phrase's (what a drop does after a build); bars from the first and to the last
  downbeat (over 32, capped at 2).
- ``"lead"`` (1, not in the default layout): how far the window's 1-3 kHz bands sit below the
  track's fullest (their 90th percentile), kept raw under the track norm (:func:`lead_block`):
  a verse lacks the lead a drop or chorus has. Session 13's try at verse vs drop across styles;
  figures in ``benchmarks/bench_sections_devset.py``. The whole-track audio-in model computes it
  too (:func:`~workbench.train.sections.features_torch.percentile_rows`: numpy's percentile in torch).
- ``"repeat"`` (5, not in the default layout): how the window's bar recurs elsewhere in the track
  (bar-synchronous self-similarity: :mod:`~workbench.train.sections.repetition`).
"""

from __future__ import annotations

import numpy as np

from workbench.errors import ParameterError

#: Extra feature groups and their sizes.
EXTRA_GROUPS: dict[str, int] = {"dj": 9, "novelty": 2, "ends": 4, "bars": 12, "lead": 1, "repeat": 5}
#: Bars of a phrase in the ``"bars"`` group.
PHRASE_BARS = 8
#: Size of a ``features-v1`` frame; its columns 0..63 are log-mel band means (dB / 10), column 187 log1p(mean onset).
FEATURES_V1_DIM = 202
_MEL = slice(0, 64)
_ONSET = 187
_LOW_BANDS = 6


#: Mel bands of the ``"lead"`` group (features-v1's 64 bands, 0-11 kHz): about 1-3 kHz.
LEAD_BANDS = (19, 41)
#: Percentile of the track's windows taken as its fullest arrangement in the ``"lead"`` group.
FULL_PERCENTILE = 90.0


def _window_mean(x: np.ndarray, t: np.ndarray, lo_s: float, hi_s: float) -> np.ndarray:
    """Mean of ``x`` (n, d) over frames with times in ``[t + lo_s, t + hi_s]`` for each frame (itself if none)."""
    csum = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    lo = np.searchsorted(t, t + lo_s, side="left")
    hi = np.searchsorted(t, t + hi_s, side="right")
    idx = np.arange(len(t))
    empty = hi <= lo
    lo = np.where(empty, idx, lo)
    hi = np.where(empty, idx + 1, hi)
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def _checked(frames_v1: np.ndarray, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``frames_v1`` (n, 202) and ``times_s`` (n,) as float64; ParameterError for any other shape."""
    f = np.asarray(frames_v1, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    if f.ndim != 2 or f.shape[1] != FEATURES_V1_DIM or t.shape != (f.shape[0],):
        raise ParameterError(f"frames_v1 must be (n, {FEATURES_V1_DIM}) features-v1 frames with one time each; "
                             f"got {f.shape} and {t.shape}")
    return f, t


def dj_block(frames_v1: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """The ``"dj"`` group of every window (see the module doc), shape ``(n, 9)``.

    Parameters
    ----------
    frames_v1 : np.ndarray [shape=(n, 202)]
        ``features-v1`` frame descriptors at ``times_s``.
    times_s : np.ndarray [shape=(n,)]
        Frame centres in seconds, increasing.

    Raises
    ------
    ParameterError
        ``frames_v1`` is not (n, 202).
    """
    f, t = _checked(frames_v1, times_s)
    raw = _raw(f)
    s = _window_mean(raw, t, -2.0, 2.0)
    after, before = _window_mean(raw, t, 0.0, 8.0), _window_mean(raw, t, -8.0, 0.0)
    med = np.median(s, axis=0)
    return np.column_stack([s[:, 0], after[:, 0] - before[:, 0], s[:, 0] - med[0],
                            s[:, 1], s[:, 1] - med[1],
                            s[:, 2], s[:, 2] - med[2],
                            s[:, 3], after[:, 3] - before[:, 3]])


def _raw(f: np.ndarray) -> np.ndarray:
    """Level, low end (against the level), onset strength and brightness of each features-v1 frame, (n, 4)."""
    mel = f[:, _MEL]
    level = mel.mean(axis=1)
    low = mel[:, :_LOW_BANDS].mean(axis=1) - level
    power = 10.0 ** np.clip(mel - mel.max(axis=1, keepdims=True), -12, 0)
    bright = (power * np.arange(mel.shape[1])).sum(axis=1) / power.sum(axis=1) / (mel.shape[1] - 1)
    return np.column_stack([level, low, f[:, _ONSET], bright])


def _span_means(x: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    """Mean of the rows of ``x`` per span ``index`` (0..n-1), each row given its span's mean (0 for none)."""
    sums = np.zeros((n, x.shape[1]))
    np.add.at(sums, index, x)
    counts = np.bincount(index, minlength=n)[:, None]
    return sums / np.maximum(counts, 1)


def bar_index(times_s: np.ndarray, downbeats_s: np.ndarray | None, *, duration_s: float,
              ) -> tuple[np.ndarray, np.ndarray]:
    """The bar of every window on the track's grid, and the grid's downbeats.

    Bars are counted from the first downbeat (0); windows before it get negative bars and
    windows past the last bar count on, both at the grid's median bar length.

    Parameters
    ----------
    times_s, downbeats_s, duration_s : np.ndarray [shape=(n,)], np.ndarray [shape=(m,)] or None, float
        Window centres (s, increasing), the track's downbeats (s; fewer than 2, no beat grid: 2-s
        pseudo-bars) and its length (s), as :func:`bars_block` takes them.

    Returns
    -------
    (np.ndarray [shape=(n,)] of int, np.ndarray [shape=(m',)])
        Each window's bar and the downbeats used (the pseudo-bars' when there was no grid).
    """
    t = np.asarray(times_s, dtype=np.float64)
    db = np.asarray(downbeats_s if downbeats_s is not None else [], dtype=np.float64)
    if db.size < 2:
        db = np.arange(0.0, max(float(duration_s), 2.0), 2.0)
    bar_s = float(np.median(np.diff(db)))
    bar = np.searchsorted(db, t, side="right") - 1
    before = t < db[0]
    bar[before] = -np.ceil((db[0] - t[before]) / bar_s).astype(int)
    after = t >= db[-1] + bar_s
    bar[after] = db.size - 1 + np.floor((t[after] - db[-1]) / bar_s).astype(int)
    return bar, db


def bars_block(frames_v1: np.ndarray, times_s: np.ndarray, downbeats_s: np.ndarray | None, *,
               duration_s: float) -> np.ndarray:
    """The ``"bars"`` group of every window (see the module doc), shape ``(n, 12)``.

    Parameters
    ----------
    frames_v1 : np.ndarray [shape=(n, 202)]
        ``features-v1`` frame descriptors at ``times_s``.
    times_s : np.ndarray [shape=(n,)]
        Frame centres in seconds, increasing.
    downbeats_s : np.ndarray [shape=(m,)] or None
        The track's downbeats in seconds; fewer than 2 (no beat grid) gives 2-s pseudo-bars.
    duration_s : float > 0
        Track length in seconds.

    Raises
    ------
    ParameterError
        ``frames_v1`` is not (n, 202).
    """
    f, t = _checked(frames_v1, times_s)
    bar, db = bar_index(t, downbeats_s, duration_s=duration_s)
    raw = _raw(f)
    z = (raw - np.median(raw, axis=0)) / np.maximum(raw.std(axis=0), 1e-6)
    b0 = bar - bar.min()
    per_bar = _span_means(z, b0, int(b0.max()) + 1)
    phrase = np.floor_divide(bar, PHRASE_BARS)
    p0 = phrase - phrase.min()
    per_phrase = _span_means(z, p0, int(p0.max()) + 1)
    prev = np.vstack([per_phrase[:1], per_phrase[:-1]])
    rise = (per_phrase - prev)[:, :2]
    last_bar = db.size - 1
    return np.column_stack([per_bar[b0], per_phrase[p0], rise[p0],
                            np.clip(bar / 32.0, -1.0, 2.0), np.clip((last_bar - bar) / 32.0, -1.0, 2.0)])


def lead_block(frames_v1: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """The ``"lead"`` group: how far a window's 1-3 kHz sits below its track's fullest, shape ``(n, 1)``.

    Per mel band of :data:`LEAD_BANDS` (about 1-3 kHz, where a lead or a voice carries), the
    4-s running mean of the log-mel frames against its :data:`FULL_PERCENTILE` percentile over
    the track; the window's value is the mean shortfall (dB / 10, negatives 0). A drop or a
    chorus plays every part (about 0); a verse lacks the lead. Relative to the track itself, so
    kept raw (not z-scored) by :meth:`WindowFeatures.transform`.

    Parameters
    ----------
    frames_v1, times_s : np.ndarray [shape=(n, 202)], np.ndarray [shape=(n,)]
        ``features-v1`` frames and their centres in seconds (increasing), as :func:`dj_block` takes
        them; another shape raises ParameterError.
    """
    f, t = _checked(frames_v1, times_s)
    mel = _window_mean(f[:, LEAD_BANDS[0]:LEAD_BANDS[1]], t, -2.0, 2.0)
    full = np.percentile(mel, FULL_PERCENTILE, axis=0)
    return np.maximum(full[None, :] - mel, 0.0).mean(axis=1, keepdims=True)


def novelty_block(frames: np.ndarray, times_s: np.ndarray, *, half_widths_s: tuple[float, ...] = (4.0, 8.0)) -> np.ndarray:
    """The ``"novelty"`` group: cosine distance of the mean frame before and after each window.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, d)]
        Frame embeddings (any backbone).
    times_s : np.ndarray [shape=(n,)]
        Frame centres in seconds, increasing.
    half_widths_s : tuple of float
        Seconds on each side; one column each.

    Returns
    -------
    np.ndarray [shape=(n, len(half_widths_s))]
        In [0, 2].
    """
    f = np.asarray(frames, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    z = (f - f.mean(axis=0)) / np.maximum(f.std(axis=0), 1e-9)
    cols = []
    for w in half_widths_s:
        a, b = _window_mean(z, t, -w, 0.0), _window_mean(z, t, 0.0, w)
        cos = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-9)
        cols.append(1.0 - cos)
    return np.column_stack(cols)


def ends_block(times_s: np.ndarray, duration_s: float) -> np.ndarray:
    """The ``"ends"`` group: how far each window is from the track's start and end.

    Parameters
    ----------
    times_s : np.ndarray [shape=(n,)]
        Window centres in seconds.
    duration_s : float
        Track length in seconds.

    Returns
    -------
    np.ndarray [shape=(n, 4)]
    """
    t = np.asarray(times_s, dtype=np.float64)
    to_end = np.maximum(float(duration_s) - t, 0.0)
    return np.column_stack([np.minimum(t / 60.0, 4.0), np.minimum(to_end / 60.0, 4.0), np.exp(-t / 30.0),
                            np.exp(-to_end / 30.0)])
