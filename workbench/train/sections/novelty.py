"""Boundaries without labels: Foote novelty on a bar-synchronous self-similarity matrix.

The unsupervised baseline of every sections report and the fallback suggestion for a track
when no section model is trained yet (as in librosa's and MSAF's segmentation examples):

1. :func:`bar_features`: the backbone's frame embeddings averaged over each bar of the track's
   beat grid (bars start at the downbeats, :func:`workbench.train.smoothing.bar_starts`).
2. :func:`novelty_curve`: the features standardised over the track, a cosine self-similarity
   matrix between bars, and a Gaussian-tapered checkerboard kernel slid along its diagonal
   (Foote 2000): high where the bars before and after a point are alike among themselves and
   unlike each other.
3. :func:`novelty_boundaries`: peaks of the curve (:func:`librosa.util.peak_pick`) at least
   ``min_bars`` apart and above the curve's mean plus ``delta`` standard deviations.
4. :func:`novelty_sections`: the bars between boundaries as sections with a guessed label
   (the first "intro", the last "outro", the others "drop" when louder than the track's median
   bar and "break" when not; "drop" for every middle one without a loudness measure).
   The labels are a guess; the boundaries are what this baseline is scored on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.train.sections.features import TrackFrames

#: Settings of the novelty baseline: checkerboard half-width, closest boundaries, peak threshold (bars, std).
NOVELTY_DEFAULTS: dict[str, Any] = {"kernel_bars": 4, "min_bars": 4, "delta": 0.3}
#: Columns of a ``features-v1`` frame that hold the log-mel band means (dB / 10): a loudness measure.
_FEATURES_V1_MEL = slice(0, 64)


def bar_grid(beats_s: np.ndarray, downbeats_s: np.ndarray, *, duration_s: float) -> np.ndarray:
    """Bar edges in seconds: every bar start (from the beat grid) and the track's end.

    Parameters
    ----------
    beats_s, downbeats_s : np.ndarray [shape=(n,)]
        The track's beats and downbeats in seconds.
    duration_s : float
        Track length in seconds.

    Returns
    -------
    np.ndarray [shape=(n_bars + 1,)]
        Increasing; the first edge is 0 (the part before the first beat joins the first bar).

    Raises
    ------
    ParameterError
        No beats.
    """
    from workbench.train.smoothing import bar_starts

    beats = np.asarray(beats_s, dtype=np.float64)
    starts = beats[bar_starts(beats, np.asarray(downbeats_s, dtype=np.float64))]
    starts[0] = 0.0
    return np.append(starts, max(float(duration_s), float(starts[-1]) + 1e-3))


def bar_features(frames: np.ndarray, times_s: np.ndarray, edges_s: np.ndarray) -> np.ndarray:
    """Mean frame embedding of each bar; a bar with no frame centre takes the nearest frame.

    Parameters
    ----------
    frames : np.ndarray [shape=(n_frames, d)]
        Frame embeddings.
    times_s : np.ndarray [shape=(n_frames,)]
        Frame centres in seconds, increasing.
    edges_s : np.ndarray [shape=(n_bars + 1,)]
        Bar edges (:func:`bar_grid`).

    Returns
    -------
    np.ndarray [shape=(n_bars, d)]
    """
    f = np.asarray(frames, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] == 0 or t.shape != (f.shape[0],):
        raise ParameterError(f"frames must be (n >= 1, d) with one time each; got {f.shape} and {t.shape}")
    lo = np.searchsorted(t, edges_s[:-1], side="left")
    hi = np.searchsorted(t, edges_s[1:], side="left")
    csum = np.vstack([np.zeros((1, f.shape[1])), np.cumsum(f, axis=0)])
    out = np.empty((len(lo), f.shape[1]))
    has = hi > lo
    out[has] = (csum[hi[has]] - csum[lo[has]]) / (hi - lo)[has, None]
    if not has.all():
        mids = (edges_s[:-1] + edges_s[1:])[~has] / 2
        out[~has] = f[np.clip(np.searchsorted(t, mids), 0, len(t) - 1)]
    return out


def level_fall(bar_level: np.ndarray, *, before_bars: int = 4, clip: float = 2.0) -> np.ndarray:
    """How far the music thins out at each bar start: the level of the bars before it over the rest of the track.

    ``fall[s] = mean(z[s - before_bars:s]) - mean(z[s:])``, ``z`` the bars' level standardised over
    the track, clipped to ``±clip``; 0 at the first bar. Positive where what follows, to the end, is
    quieter than what came just before (where an outro starts), negative where it is louder.

    Parameters
    ----------
    bar_level : np.ndarray [shape=(n_bars,)]
        A loudness measure per bar (e.g. :func:`loudness` averaged over each bar).
    before_bars : int >= 1
        Bars before the start that are compared.
    clip : float > 0
        Bound of the result (in track standard deviations).

    Returns
    -------
    np.ndarray [shape=(n_bars,)]
    """
    x = np.asarray(bar_level, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ParameterError(f"bar_level must be a finite (n_bars >= 1,) array; got shape {x.shape}")
    z = (x - x.mean()) / max(float(x.std()), 1e-9)
    csum = np.append(0.0, np.cumsum(z))
    n = z.size
    s = np.arange(1, n)
    lo = np.maximum(s - int(before_bars), 0)
    out = np.zeros(n)
    out[1:] = (csum[s] - csum[lo]) / (s - lo) - (csum[n] - csum[s]) / (n - s)
    return np.clip(out, -clip, clip)


def novelty_curve(bar_feats: np.ndarray, *, kernel_bars: int = 4) -> np.ndarray:
    """Foote's checkerboard novelty of each bar start on the cosine self-similarity of bars.

    Parameters
    ----------
    bar_feats : np.ndarray [shape=(n_bars, d)]
        One feature vector per bar.
    kernel_bars : int >= 1
        Half-width of the checkerboard kernel in bars.

    Returns
    -------
    np.ndarray [shape=(n_bars,)]
        Novelty at the start of each bar (0 at bar 0), >= 0.
    """
    if isinstance(kernel_bars, bool) or not isinstance(kernel_bars, int) or kernel_bars < 1:
        raise ParameterError(f"kernel_bars must be an int >= 1; got {kernel_bars!r}")
    x = np.asarray(bar_feats, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        return np.zeros(n)
    x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-9)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    ssm = x @ x.T
    w = kernel_bars
    ax = np.arange(-w, w) + 0.5
    taper = np.exp(-0.5 * (ax / (0.5 * w)) ** 2)
    kernel = np.outer(np.sign(ax), np.sign(ax)) * np.outer(taper, taper)  # + within a side, - across
    padded = np.pad(ssm, w, mode="edge")
    out = np.zeros(n)
    for i in range(1, n):  # the boundary before bar i: bars i-w..i-1 against i..i+w-1
        block = padded[i:i + 2 * w, i:i + 2 * w]
        out[i] = float(np.sum(kernel * block))
    return np.maximum(out, 0.0)


def novelty_boundaries(curve: np.ndarray, *, min_bars: int = 4, delta: float = 0.3) -> np.ndarray:
    """Bar indices of the novelty peaks (section starts, bar 0 not included).

    Parameters
    ----------
    curve : np.ndarray [shape=(n_bars,)]
        :func:`novelty_curve`.
    min_bars : int >= 1
        Fewest bars between two boundaries (and from either end of the track).
    delta : float >= 0
        A peak must stand ``delta`` standard deviations of the curve above its local mean.

    Returns
    -------
    np.ndarray [shape=(n_boundaries,), dtype=int64]
    """
    import librosa

    c = np.asarray(curve, dtype=np.float64)
    if c.size < 2 * min_bars + 1 or not np.any(c > 0):
        return np.zeros(0, dtype=np.int64)
    norm = (c - c.mean()) / max(float(c.std()), 1e-9)
    peaks = librosa.util.peak_pick(norm, pre_max=min_bars, post_max=min_bars, pre_avg=2 * min_bars,
                                   post_avg=2 * min_bars, delta=float(delta), wait=min_bars)
    peaks = peaks[(peaks >= min_bars) & (peaks <= c.size - min_bars)]
    return np.asarray(peaks, dtype=np.int64)


#: A boundary is weak where the model's posterior changes by less than this (total variation) ...
WEAK_CHANGE = 0.3
#: ... and the bar's novelty (z, clipped at 0; the bar and its neighbours) is below this (session 22).
WEAK_NOVELTY = 0.5


def weak_boundaries(bar_probs: np.ndarray, bar_novelty: np.ndarray, *, bars: int = 2,
                    change_below: float = WEAK_CHANGE, novelty_below: float = WEAK_NOVELTY) -> np.ndarray:
    """Bar starts where a boundary would have support from neither the model nor the music.

    A boundary before bar ``j`` is weak when the mean class probabilities of the ``bars`` bars
    before it and the ``bars`` bars from it differ by less than ``change_below`` (total variation,
    half the L1 distance) and the novelty at bars ``j - 1 .. j + 1`` stays below ``novelty_below``.
    On tracks of another generator such boundaries were right 22-40 % of the time, the others
    80-94 % (session 22, ``docs/experiments/sections.md``).

    Parameters
    ----------
    bar_probs : np.ndarray [shape=(n_bars, K)]
        Mean class probabilities of each bar.
    bar_novelty : np.ndarray [shape=(n_bars,)]
        Foote novelty at each bar start, z-scored, negatives 0 (as the decoder's boundary bonus).
    bars : int >= 1
        Bars on each side of the boundary.
    change_below, novelty_below : float
        The thresholds (total variation in [0, 1]; novelty in track standard deviations).

    Returns
    -------
    np.ndarray [shape=(n_bars,), dtype=bool]
        True where a boundary is weak; bar 0 (the track's start) is never weak.

    Raises
    ------
    ParameterError
        Shapes that do not match, or ``bars`` < 1.
    """
    p = np.asarray(bar_probs, dtype=np.float64)
    nov = np.asarray(bar_novelty, dtype=np.float64)
    if p.ndim != 2 or nov.shape != (p.shape[0],):
        raise ParameterError(f"bar_probs must be (n_bars, K) and bar_novelty (n_bars,); got {p.shape} and {nov.shape}")
    if isinstance(bars, bool) or not isinstance(bars, (int, np.integer)) or bars < 1:
        raise ParameterError(f"bars must be an int >= 1; got {bars!r}")
    n = p.shape[0]
    csum = np.vstack([np.zeros((1, p.shape[1])), np.cumsum(p, axis=0)])
    j = np.arange(1, n)
    lo, hi = np.maximum(j - bars, 0), np.minimum(j + bars, n)
    before = (csum[j] - csum[lo]) / (j - lo)[:, None]
    after = (csum[hi] - csum[j]) / (hi - j)[:, None]
    change = 0.5 * np.abs(before - after).sum(axis=1)
    padded = np.concatenate([[-np.inf], nov, [-np.inf]])
    near = np.max(np.stack([padded[j], padded[j + 1], padded[j + 2]]), axis=0)
    out = np.zeros(n, dtype=bool)
    out[1:] = (change < change_below) & (near < novelty_below)
    return out


def loudness(frames: np.ndarray, backbone: str) -> np.ndarray | None:
    """A loudness measure per frame where the backbone's layout gives one (``features-v1``), else None.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, d)]
        Frame embeddings.
    backbone : str
        The backbone's name.
    """
    f = np.asarray(frames)
    if backbone == "features-v1" and f.ndim == 2 and f.shape[1] >= _FEATURES_V1_MEL.stop:
        return f[:, _FEATURES_V1_MEL].mean(axis=1)
    return None


def novelty_sections(frames: TrackFrames, *, backbone: str = "", kernel_bars: int = 4, min_bars: int = 4,
                     delta: float = 0.3) -> list[dict[str, Any]]:
    """Sections of one track from novelty boundaries alone (no labels, no model).

    Parameters
    ----------
    frames : TrackFrames
        The track; its ``frames`` (frame embeddings) are used, else its window features.
    backbone : str
        The backbone's name (``features-v1`` gives a loudness measure for the label guess).
    kernel_bars, min_bars, delta
        See :func:`novelty_curve` and :func:`novelty_boundaries`.

    Returns
    -------
    list of dict
        ``{start_s, end_s, label, start_bar, end_bar}`` covering the track; labels guessed (see
        the module doc).

    Raises
    ------
    ParameterError
        The track has no beat grid.
    """
    if len(frames.beats) == 0:
        raise ParameterError(f"track {frames.track_id} has no beat grid; novelty boundaries are on bars")
    emb = frames.frames if frames.frames is not None else frames.features
    edges = bar_grid(frames.beats, frames.downbeats, duration_s=frames.duration_s)
    bars = bar_features(emb, frames.times_s, edges)
    cuts = novelty_boundaries(novelty_curve(bars, kernel_bars=kernel_bars), min_bars=min_bars, delta=delta)
    bounds = np.concatenate([[0], cuts, [len(bars)]]).astype(int)
    level = loudness(emb, backbone)
    bar_level = None if level is None else bar_features(level[:, None], frames.times_s, edges)[:, 0]
    median = None if bar_level is None else float(np.median(bar_level))
    out = []
    n = len(bounds) - 1
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        if n > 1 and i == 0:
            label = "intro"
        elif n > 1 and i == n - 1:
            label = "outro"
        elif bar_level is None:
            label = "drop"
        else:
            label = "drop" if float(bar_level[a:b].mean()) > median else "break"
        out.append({"start_s": float(edges[a]), "end_s": float(edges[b]), "label": label,
                    "start_bar": int(a), "end_bar": int(b)})
    return out
