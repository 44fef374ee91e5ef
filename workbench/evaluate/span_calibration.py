"""Calibration of section suggestions as the labeler sees them: one suggestion, one outcome.

A suggestion states one confidence for a whole span of windows. The labeler accepts or rejects
the span, so the outcome that matters is per suggestion: :func:`span_outcomes` groups scored
windows into their suggestions and calls a suggestion *right* when at least ``accept_at`` of its
windows carry its label (the rule ``benchmarks/bench_sections_loop.py`` simulates a labeler
with). :func:`span_ece` is the ECE over suggestions (each counted once, the same 15 equal-width
bins as :func:`~workbench.evaluate.calibration.confidence_ece`) with the count it rests on, a
bootstrap interval over tracks (:func:`ece_interval`: the suggestions of one track are not
independent) and the ECE a perfectly calibrated predictor would still show at that count
(:func:`ece_floor`: with ~150 suggestions it is 0.03-0.07, so an ECE under 0.05 is near what
the count can show; its 95th percentile, ``floor_95``, is where an ECE stops being the count's). :func:`fit_suggestion_map` fits the map from stated confidence to the share
right on windows, on suggestions weighted by their windows' share right, or on spans.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.errors import ParameterError
from workbench.evaluate.calibration import N_BINS, confidence_reliability, fit_platt

#: How a confidence map may count its out-of-fold data (:func:`fit_suggestion_map`), and what that means.
MAP_PER = {"window": "each window counted once", "suggestion": "each suggestion counted once",
           "span": "one outcome per suggestion: right when half its windows are"}


def span_outcomes(track_ids: np.ndarray, suggestion_index: np.ndarray, confidence: np.ndarray,
                  right: np.ndarray, *, accept_at: float = 0.5) -> dict[str, np.ndarray]:
    """Scored windows grouped into their suggestions: one confidence and one outcome per suggestion.

    Parameters
    ----------
    track_ids : np.ndarray [shape=(n,)] of int
        The track of each scored window.
    suggestion_index : np.ndarray [shape=(n,)] of int
        The index, within its track, of the suggestion holding the window.
    confidence : np.ndarray [shape=(n,)]
        The confidence of the suggestion holding each window (the same for all its windows), in [0, 1].
    right : np.ndarray [shape=(n,)] of bool
        Whether the suggestion's label is the window's.
    accept_at : float in (0, 1]
        Share of its windows a suggestion must have right to count as right.

    Returns
    -------
    dict of np.ndarray
        Per suggestion (m of them, sorted by track, then index): ``confidence``, ``share_right``,
        ``right`` (bool), ``n_windows``, ``track_ids``, ``suggestion_index``; and ``window_span``
        (n,): the suggestion row of each window.

    Raises
    ------
    ParameterError
        Arrays of different lengths, confidences outside [0, 1], a suggestion whose windows state
        different confidences, or ``accept_at`` outside (0, 1].
    """
    t, s = np.asarray(track_ids, dtype=np.int64), np.asarray(suggestion_index, dtype=np.int64)
    c, r = np.asarray(confidence, dtype=np.float64), np.asarray(right, dtype=bool)
    if not (t.ndim == 1 and t.shape == s.shape == c.shape == r.shape):
        raise ParameterError(f"track_ids, suggestion_index, confidence and right must be (n,) arrays of one length; "
                             f"got {t.shape}, {s.shape}, {c.shape}, {r.shape}")
    if not np.all((c >= 0) & (c <= 1)):
        raise ParameterError(f"confidence must be in [0, 1]; got values from {c.min():.3g} to {c.max():.3g}")
    if isinstance(accept_at, bool) or not isinstance(accept_at, (int, float)) or not 0 < accept_at <= 1:
        raise ParameterError(f"accept_at must be a share in (0, 1]; got {accept_at!r}")
    if not len(t):
        empty = np.zeros(0)
        return {"confidence": empty, "share_right": empty, "right": empty.astype(bool),
                "n_windows": empty.astype(np.int64), "track_ids": empty.astype(np.int64),
                "suggestion_index": empty.astype(np.int64), "window_span": empty.astype(np.int64)}
    keys, inverse, counts = np.unique(np.column_stack([t, s]), axis=0, return_inverse=True, return_counts=True)
    inverse = np.ravel(inverse)
    conf = np.bincount(inverse, weights=c) / counts
    spread = np.bincount(inverse, weights=np.abs(c - conf[inverse]))
    if np.any(spread > 1e-6 * counts):
        bad = keys[int(np.argmax(spread))]
        raise ParameterError(f"every window of a suggestion must state its confidence; suggestion {int(bad[1])} of "
                             f"track {int(bad[0])} states several")
    share = np.bincount(inverse, weights=r.astype(np.float64)) / counts
    return {"confidence": conf, "share_right": share, "right": share >= accept_at - 1e-12, "n_windows": counts,
            "track_ids": keys[:, 0], "suggestion_index": keys[:, 1], "window_span": inverse}


def per_suggestion_weights(track_ids: np.ndarray, suggestion_index: np.ndarray) -> np.ndarray:
    """One over the scored windows of each window's suggestion: every suggestion then weighs 1 in a fit.

    Parameters
    ----------
    track_ids : np.ndarray [shape=(n,)] of int
        The track of each scored window.
    suggestion_index : np.ndarray [shape=(n,)] of int
        The index, within its track, of the suggestion holding the window.

    Returns
    -------
    np.ndarray [shape=(n,)]
    """
    keys = np.column_stack([np.asarray(track_ids, dtype=np.int64), np.asarray(suggestion_index, dtype=np.int64)])
    if not len(keys):
        return np.zeros(0)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return 1.0 / counts[np.ravel(inverse)]


def _bin_sums(confidence: np.ndarray, correct: np.ndarray, groups: np.ndarray, n_bins: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, confidence sum, right sum) per group (rows) and bin (columns)."""
    which = np.clip(np.digitize(confidence, np.linspace(0.0, 1.0, n_bins + 1)[1:-1], right=True), 0, n_bins - 1)
    _, g = np.unique(groups, return_inverse=True)
    g = np.ravel(g)
    shape = (int(g.max()) + 1, n_bins)
    flat = g * n_bins + which
    size = shape[0] * n_bins
    return (np.bincount(flat, minlength=size).reshape(shape).astype(np.float64),
            np.bincount(flat, weights=confidence, minlength=size).reshape(shape),
            np.bincount(flat, weights=correct, minlength=size).reshape(shape))


def ece_interval(confidence: np.ndarray, correct: np.ndarray, *, groups: np.ndarray | None = None,
                 n_boot: int = 1000, level: float = 0.95, seed: int = 0, n_bins: int = N_BINS) -> tuple[float, float]:
    """Bootstrap interval of :func:`~workbench.evaluate.calibration.confidence_ece`, resampling whole groups.

    Parameters
    ----------
    confidence : np.ndarray [shape=(n,)]
        Stated confidences in [0, 1].
    correct : np.ndarray [shape=(n,)] of bool
        Whether each prediction was right.
    groups : np.ndarray [shape=(n,)], optional
        Resampled together (a track's suggestions); None: each prediction alone.
    n_boot : int >= 1
        Bootstrap draws.
    level : float in (0, 1)
        Coverage of the percentile interval.
    seed : int
        Seed of the draws.
    n_bins : int >= 1
        Equal-width confidence bins.

    Returns
    -------
    (float, float)
        Lower and upper percentile of the resampled ECE.

    Raises
    ------
    ParameterError
        As :func:`~workbench.evaluate.calibration.confidence_ece`, or a bad ``n_boot``, ``level`` or ``groups``.
    """
    confidence_reliability(confidence, correct, n_bins=n_bins)  # the same checks
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ParameterError(f"n_boot must be an int >= 1; got {n_boot!r}")
    if not (isinstance(level, float) and 0 < level < 1):
        raise ParameterError(f"level must be a float in (0, 1); got {level!r}")
    c = np.asarray(confidence, dtype=np.float64)
    g = np.arange(len(c)) if groups is None else np.asarray(groups)
    if g.shape != c.shape:
        raise ParameterError(f"groups must be ({len(c)},), one per prediction; got {g.shape}")
    n, cs, rs = _bin_sums(c, np.asarray(correct, dtype=np.float64), g, n_bins)
    draws = np.random.default_rng(seed).multinomial(len(n), np.full(len(n), 1.0 / len(n)), size=n_boot)
    ece = np.abs(draws @ cs - draws @ rs).sum(axis=1) / np.maximum((draws @ n).sum(axis=1), 1.0)
    lo, hi = np.percentile(ece, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def ece_floor(confidence: np.ndarray, *, n_draws: int = 200, seed: int = 0, n_bins: int = N_BINS,
              quantile: float | None = None) -> float:
    """The mean ECE of a perfectly calibrated predictor stating these confidences: what the count alone gives.

    Each draw makes every prediction right with the chance it states; the ECE of those draws
    is above 0 only because the bins hold few predictions.

    Parameters
    ----------
    confidence : np.ndarray [shape=(n,)]
        Stated confidences in [0, 1].
    n_draws : int >= 1
        Simulated outcome draws.
    seed : int
        Seed of the draws.
    n_bins : int >= 1
        Equal-width confidence bins.
    quantile : float in [0, 1], optional
        Return this quantile of the draws' ECE instead of their mean (0.95: an ECE above it is
        unlikely from a calibrated predictor at this count).

    Returns
    -------
    float

    Raises
    ------
    ParameterError
        Confidences outside [0, 1], a bad ``n_draws`` or ``quantile``.
    """
    c = np.asarray(confidence, dtype=np.float64)
    confidence_reliability(c, np.zeros(len(c), dtype=bool), n_bins=n_bins)  # the same checks
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise ParameterError(f"n_draws must be an int >= 1; got {n_draws!r}")
    outcome = np.random.default_rng(seed).random((n_draws, len(c))) < c
    which = np.clip(np.digitize(c, np.linspace(0.0, 1.0, n_bins + 1)[1:-1], right=True), 0, n_bins - 1)
    onehot = np.eye(n_bins)[which]
    if quantile is not None and not 0 <= quantile <= 1:
        raise ParameterError(f"quantile must be None or in [0, 1]; got {quantile!r}")
    gaps = np.abs(outcome.astype(np.float64) @ onehot - c @ onehot).sum(axis=1) / len(c)
    return float(gaps.mean() if quantile is None else np.quantile(gaps, quantile))


def span_ece(track_ids: np.ndarray, suggestion_index: np.ndarray, confidence: np.ndarray, right: np.ndarray, *,
             accept_at: float = 0.5, seed: int = 0) -> dict[str, Any]:
    """ECE of suggestions (each counted once, right when ``accept_at`` of its windows are) with its count.

    Parameters
    ----------
    track_ids, suggestion_index, confidence, right : np.ndarray [shape=(n,)]
        Per scored window, as in :func:`span_outcomes`.
    accept_at : float in (0, 1]
        Share of its windows a suggestion must have right to count as right.
    seed : int
        Seed of the bootstrap and of the floor's draws.

    Returns
    -------
    dict
        ``ece``, ``n_suggestions``, ``n_tracks``, ``share_right`` (of the suggestions),
        ``interval`` (95 % bootstrap over tracks, :func:`ece_interval`), ``floor``
        (:func:`ece_floor`), ``floor_95`` (its 95th percentile over 1,000 draws: an ECE above it is
        miscalibration, not the count), ``reliability`` (bins over suggestions), ``accept_at``; empty
        without windows.
    """
    sp = span_outcomes(track_ids, suggestion_index, confidence, right, accept_at=accept_at)
    if not len(sp["confidence"]):
        return {}
    rel = confidence_reliability(sp["confidence"], sp["right"])
    return {"ece": rel["ece"], "n_suggestions": int(len(sp["confidence"])),
            "n_tracks": int(len(np.unique(sp["track_ids"]))), "share_right": float(np.mean(sp["right"])),
            "interval": list(ece_interval(sp["confidence"], sp["right"], groups=sp["track_ids"], seed=seed)),
            "floor": ece_floor(sp["confidence"], seed=seed),
            "floor_95": ece_floor(sp["confidence"], seed=seed, n_draws=1000, quantile=0.95), "reliability": rel,
            "accept_at": float(accept_at)}


def fit_suggestion_map(confidence: np.ndarray, right: np.ndarray, *, per: str, track_ids: np.ndarray,
                       suggestion_index: np.ndarray, accept_at: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Platt map of suggestions' confidence from out-of-fold scored windows, counted ``per`` window, suggestion or span.

    Parameters
    ----------
    confidence, right, track_ids, suggestion_index : np.ndarray [shape=(n,)]
        Per scored window, as in :func:`span_outcomes`.
    per : {"window", "suggestion", "span"}
        ``"window"``: each window one sample (a long suggestion weighs its length);
        ``"suggestion"``: each window weighs one over its suggestion's windows (the share right of
        each suggestion, each counted once); ``"span"``: one sample per suggestion, right when
        ``accept_at`` of its windows are (the outcome the labeler sees).
    accept_at : float in (0, 1]
        With ``per="span"``: the share that makes a suggestion right.

    Returns
    -------
    (np.ndarray, np.ndarray)
        Knots for :func:`~workbench.evaluate.calibration.apply_confidence_map`.

    Raises
    ------
    ParameterError
        An unknown ``per``, or as :func:`span_outcomes` and :func:`~workbench.evaluate.calibration.fit_platt`.
    """
    if per not in MAP_PER:
        raise ParameterError(f"per must be one of {list(MAP_PER)}; got {per!r}")
    if per == "span":
        sp = span_outcomes(track_ids, suggestion_index, confidence, right, accept_at=accept_at)
        return fit_platt(sp["confidence"], sp["right"])
    weights = None if per == "window" else per_suggestion_weights(track_ids, suggestion_index)
    return fit_platt(np.asarray(confidence, dtype=np.float64), np.asarray(right, dtype=bool), sample_weight=weights)
