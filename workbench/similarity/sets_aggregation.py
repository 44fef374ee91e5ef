"""How a track's window vectors add up to one score against another track's: the set score's aggregation.

Each track is a set of unit window vectors ``c_j`` with weights ``v_j`` (windows each stands for), a query a set
``q_i`` with weights ``w_i``; every rule below works on the window-pair cosines ``cos(q_i, c_j)``:

- ``"chamfer"`` (the default, :func:`~workbench.similarity.sets_search.raw_vibe`): each query window's closest
  candidate window, weighted mean (``cover(q, c)``), and both ways averaged for a library track;
- ``"mean"``: the cosine of the two tracks' weighted mean unit windows (one vector a track; an excerpt drifts);
- ``"topk"``: the mean of the :data:`TOPK_PAIRS` highest window-pair cosines (a vote of the closest pairs: two tracks
  that share a passage score high whatever the rest);
- ``"softmax"``: each query window's soft max over the candidate's windows,
  ``tau * log(sum_j v_j exp(cos / tau) / sum_j v_j)`` with ``tau =`` :data:`SOFTMAX_TAU` (between ``"mean"``,
  large ``tau``, and ``"chamfer"``, ``tau -> 0``), weighted like chamfer and both ways for a library track.

Every rule is exact (brute force over every window pair); only chamfer has the cone bounds of ``method="pruned"``.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import ParameterError

#: The rules :func:`raw_scores` knows; ``"chamfer"`` is what search uses unless told.
AGGREGATIONS: tuple[str, ...] = ("chamfer", "mean", "topk", "softmax")
#: Window pairs that vote in ``"topk"``.
TOPK_PAIRS: int = 5
#: Temperature of ``"softmax"`` (cosine units).
SOFTMAX_TAU: float = 0.1


def check_aggregation(aggregation: object) -> str:
    """``aggregation`` when it is one of :data:`AGGREGATIONS`, else a :class:`ParameterError` naming them.

    Parameters
    ----------
    aggregation : object
        The rule asked for.
    """
    if aggregation not in AGGREGATIONS:
        raise ParameterError(f"aggregation must be one of {AGGREGATIONS}; got {aggregation!r}")
    return str(aggregation)


def raw_scores(q: np.ndarray, qw: np.ndarray, windows: np.ndarray, wweights: np.ndarray, offsets: np.ndarray, *,
               symmetric: bool, aggregation: str) -> np.ndarray:
    """Uncalibrated set score of each track (``windows[offsets[t]:offsets[t+1]]``) for the query set, by one rule.

    Parameters
    ----------
    q : np.ndarray [shape=(m, d), dtype=float32]
        Unit query windows.
    qw : np.ndarray [shape=(m,)]
        Their weights (> 0).
    windows : np.ndarray [shape=(W, d), dtype=float32]
        Unit windows of the tracks, track after track.
    wweights : np.ndarray [shape=(W,)]
        Their weights (> 0).
    offsets : np.ndarray [shape=(n + 1,)]
        Where each track's windows start (``offsets[-1] == W``), every track at least one window.
    symmetric : bool
        Score both ways and average (a library track against another); ``"mean"`` and ``"topk"`` are symmetric anyway.
    aggregation : {"chamfer", "mean", "topk", "softmax"}
        The rule (module docstring).

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float64]
        In [-1, 1].
    """
    from workbench.similarity.sets_search import _products, raw_vibe

    aggregation = check_aggregation(aggregation)
    if aggregation == "chamfer":
        return raw_vibe(q, qw, windows, wweights, offsets, symmetric=symmetric)
    qw64, ww64 = np.asarray(qw, np.float64), np.asarray(wweights, np.float64)
    starts = offsets[:-1]
    if aggregation == "mean":
        qm = qw64 @ np.asarray(q, np.float64)
        cm = np.add.reduceat(ww64[:, None] * windows.astype(np.float64), starts, axis=0)
        qm /= max(float(np.linalg.norm(qm)), 1e-12)
        cm /= np.maximum(np.linalg.norm(cm, axis=1, keepdims=True), 1e-12)
        return cm @ qm
    sims = _products(np.asarray(q, np.float32), windows).astype(np.float64)  # (m, W)
    if aggregation == "topk":
        ends = offsets[1:]
        out = np.empty(len(starts))
        for t, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            pairs = sims[:, a:b].ravel()
            k = min(TOPK_PAIRS, pairs.size)
            out[t] = float(np.mean(np.partition(pairs, pairs.size - k)[pairs.size - k:]))
        return out
    # softmax: a weighted log-mean-exp over the other side's windows (shifted by the largest cosine possible, 1)
    tau = SOFTMAX_TAU
    e = np.exp((sims - 1.0) / tau)
    totals = np.add.reduceat(ww64, starts)
    fwd = 1.0 + tau * np.log(np.maximum(np.add.reduceat(e * ww64, starts, axis=1) / totals, 1e-300))  # (m, n)
    out = (qw64 @ fwd) / float(np.sum(qw64))
    if symmetric:
        back = 1.0 + tau * np.log(np.maximum((qw64 @ e) / float(np.sum(qw64)), 1e-300))  # (W,)
        out = 0.5 * (out + np.add.reduceat(back * ww64, starts) / totals)
    return out
