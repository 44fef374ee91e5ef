"""Scoring window sets, exactly, without scoring every window: cone bounds per track, then exact rescoring.

:class:`~workbench.similarity.sets.TrackSetIndex` scores a query against every window of every
track (brute force: ``m x W x d`` multiply-adds for ``m`` query windows and ``W`` library windows).
``method="pruned"`` returns the same result (same tracks, order and scores; tested) from far fewer:

1. **Cones.** Each track's windows are split into ``cones`` groups (a few seeded Lloyd steps on the
   sphere); a group keeps its unit centroid ``mu`` and the cosine ``rho`` of its member farthest
   from ``mu``. For a query window ``q`` with ``g = cos(q, mu)`` every member ``x`` has
   ``cos(q, x) <= 1`` if ``g >= rho`` else ``g * rho + sqrt(1 - g^2) * sqrt(1 - rho^2)`` (the
   triangle inequality on the sphere: ``angle(q, x) >= angle(q, mu) - angle(x, mu)``), plus a margin
   for float32 rounding. A track's best window for ``q`` is then bounded by the max over its cones,
   so ``cover(q, c)`` is bounded by the weighted mean of those bounds, and ``cover(c, q)`` by the
   weighted mean over the cones of their best bound over the query windows. Cost: ``m x (n * cones)
   x d``, ``max_windows / cones`` times less than brute force.
2. **Combined bound.** The calibrated vibe is monotone in the raw set score and the combined score
   is monotone in the vibe, so plugging the vibe bound into each track's own weighted mean (its tempo,
   key and energy are known exactly) bounds its combined score.
3. **Exact rescoring.** The tracks with the best bounds are scored exactly (their windows only) and
   give a k-th best score ``s_k``; every other track whose bound reaches ``s_k`` is scored too; the
   rest provably cannot enter the top k. Should more than a third of the tracks survive, every track
   is scored (brute force: gathering their windows would cost as much).
4. **A bfloat16 pass where cones are loose** (:mod:`workbench.similarity.sets_lowp`): every window's
   product in bfloat16 with its error bounded gives a much tighter bound for half the bytes of the
   scan. It replaces the cones where they are too wide to bound anything (:attr:`SetBounds.loose`:
   unclustered libraries) and refines them where they leave more than :data:`REFINE_SHARE` of the
   tracks to score; its best tracks are scored exactly before the rest is pruned. The cones' own
   centroid products run in bfloat16 too, their error added to the cosine before the bound (the
   bound grows with the cosine), wherever torch's bf16 product is checked to accumulate in float32.

5. **The same final scores.** BLAS rounds a product differently by where its window sits in the matrix
   (OpenBLAS on AVX2), so the scan and the gathered tracks can differ in the last bits; both paths
   therefore rescore every track within twice the float32 error bound of the k-th best with
   ``raw_vibe(stable=True)`` (float64, a fixed order: the same bits whatever else is scored) and rank by that, so
   ties stay ties and are broken by id. ``benchmarks/bench_search_sets.py`` measures it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ParameterError
from workbench.fileio import atomic_write
from workbench.similarity.scores import Weights, _energy_table, _key_tables, _tempo_delta, _tempo_from_delta
from workbench.similarity.sets_lowp import BuiltFor

#: Search methods of a window-set index: ``"exact"`` scores every window; ``"pruned"`` is exact too.
METHODS: tuple[str, ...] = ("exact", "pruned")
#: Cones per track by default (``bench_search_sets.py``: 1 cone answered 3x faster than 2 at 20k tracks).
DEFAULT_CONES: int = 1
_BOUNDS_FILE = "track-sets-bounds.npz"
_LLOYD_STEPS = 4
_CHUNK_TRACKS = 2048
_SCORE_SLACK = 1e-12
#: The share of tracks left to score above which the bfloat16 pass refines the cone bounds.
REFINE_SHARE: float = 0.25  # below it, scoring those tracks exactly costs less than the pass
_GEMM_SMALL = 1_000_000  # above OpenBLAS's small-matrix limit (measured: between 2.0e5 and 3.1e5)


def _ip_margin(dim: int) -> float:
    """A bound on float32 rounding in a unit-vector inner product of ``dim`` values (three of them add up)."""
    u = 2.0**-24
    return 3.0 * (2.0 * dim * u / max(1e-12, 1.0 - dim * u) + u) + 1e-6


def raw_vibe(q: np.ndarray, qw: np.ndarray, windows: np.ndarray, wweights: np.ndarray, offsets: np.ndarray, *,
             symmetric: bool, stable: bool = False) -> np.ndarray:
    """Uncalibrated set score of each track whose windows are ``windows[offsets[t]:offsets[t+1]]``.

    Parameters
    ----------
    q : np.ndarray [shape=(m, d), dtype=float32]
        Unit query windows.
    qw : np.ndarray [shape=(m,)]
        Their weights.
    windows : np.ndarray [shape=(W, d), dtype=float32]
        Unit windows of the tracks, track after track.
    wweights : np.ndarray [shape=(W,)]
        Their weights.
    offsets : np.ndarray [shape=(n + 1,)]
        Where each track's windows start (``offsets[-1] == W``).
    symmetric : bool
        ``(cover(q, c) + cover(c, q)) / 2`` instead of ``cover(q, c)``.
    stable : bool
        Products and means in float64, element by element in a fixed order (slower): each track's score is
        then the same bits whichever other tracks are in the call, without BLAS (which rounds a product
        differently by its position in the matrix, e.g. OpenBLAS on AVX2); else float32 BLAS products.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float64]
    """
    if stable:  # float64 sums in a fixed order, element by element: the same bits whatever else is scored
        q64, w64 = np.asarray(q, np.float64)[:, None, :], np.asarray(windows, np.float64)[None]
        sims = np.empty((q64.shape[0], w64.shape[1]))
        step = max(1, 2**20 // (q64.shape[0] * q64.shape[2]))  # 8 MB of products at a time
        for a in range(0, w64.shape[1], step):  # each product's d terms summed pairwise, along its own row
            sims[:, a:a + step] = (q64 * w64[:, a:a + step]).sum(axis=2)
    else:
        sims = _products(np.asarray(q, np.float32), windows)  # (m, W)
    best = np.maximum.reduceat(sims, offsets[:-1], axis=1).astype(np.float64)  # (m, n): each track's closest window
    if stable:
        out = np.zeros(best.shape[1])
        for i, wi in enumerate(np.asarray(qw, np.float64).tolist()):
            out += wi * best[i]
        out /= float(np.sum(qw))
    else:
        out = (np.asarray(qw, np.float64) @ best) / float(np.sum(qw))
    if symmetric:  # each candidate window's closest query window, weighted, per track
        back = sims.max(axis=0).astype(np.float64) * wweights
        totals = np.add.reduceat(wweights.astype(np.float64), offsets[:-1])
        out = 0.5 * (out + np.add.reduceat(back, offsets[:-1]) / totals)
    return out


def _products(q: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """``q @ windows.T`` in float32, each product the same whichever other windows are in the call.

    OpenBLAS multiplies small matrices (``m * W * d`` up to about 64^3) with another kernel, whose
    rounding differs from the one big products use; padding with zero rows past
    :data:`_GEMM_SMALL` keeps every call on the big kernel. That is not enough everywhere (OpenBLAS's
    AVX2 kernels round by position): results that must not depend on the call use ``stable=True``.
    """
    m, d = q.shape
    n = windows.shape[0]
    need = _GEMM_SMALL // max(1, m * d) + 1
    if n >= need:
        return q @ windows.T
    padded = np.zeros((need, d), np.float32)
    padded[:n] = windows
    return (q @ padded.T)[:, :n]


def gather(windows: np.ndarray, wweights: np.ndarray, offsets: np.ndarray, rows: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The windows, weights and local offsets of the tracks at ``rows`` (in that order).

    Parameters
    ----------
    windows, wweights, offsets : np.ndarray
        The index's arrays (as for :func:`raw_vibe`).
    rows : np.ndarray [shape=(r,), dtype=int]
        Track rows.
    """
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    local = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    idx = np.repeat(starts - local[:-1], lengths) + np.arange(int(local[-1]))
    return windows[idx], wweights[idx], local


@dataclass(frozen=True)
class SetBounds(BuiltFor):
    """Cones of every track's windows (module docstring), for :func:`pruned_rows`.

    Attributes
    ----------
    centroids : np.ndarray [shape=(n * cones, d), dtype=float32]
        Unit cone centroids, track after track.
    rho : np.ndarray [shape=(n * cones,), dtype=float32]
        Cosine of each cone's farthest member to its centroid (rounded down by the margin).
    weight : np.ndarray [shape=(n * cones,), dtype=float64]
        Summed window weights of each cone (0 for an empty one).
    cones : int
        Cones per track.
    ids : np.ndarray [shape=(n,), dtype=int64]
        The tracks they were built for (a stale set of bounds is refused).
    n_windows : int
        Windows they were built from.
    """

    centroids: np.ndarray
    rho: np.ndarray
    weight: np.ndarray
    cones: int
    ids: np.ndarray
    n_windows: int
    _bf16: Any = field(default=None, compare=False, repr=False)  # (centroids in bf16, their rounding error norms)

    def __post_init__(self) -> None:
        from workbench.similarity.sets_lowp import bf16_kernel_ok, to_bf16

        if self.centroids.shape[0] and bf16_kernel_ok():  # the centroid products in bf16, their error bounded
            cb, err, _ = to_bf16(self.centroids)
            object.__setattr__(self, "_bf16", (cb, err.astype(np.float32)))

    @classmethod
    def build(cls, ids: np.ndarray, windows: np.ndarray, wweights: np.ndarray, offsets: np.ndarray, *,
              cones: int = DEFAULT_CONES) -> SetBounds:
        """Split each track's windows into ``cones`` groups and bound each.

        Parameters
        ----------
        ids : np.ndarray [shape=(n,)]
            Track ids.
        windows, wweights, offsets : np.ndarray
            The index's arrays (as for :func:`raw_vibe`).
        cones : int >= 1
            Groups per track (a track with fewer windows has empty ones).
        """
        if isinstance(cones, bool) or not isinstance(cones, int) or cones < 1:
            raise ParameterError(f"cones must be an integer >= 1; got {cones!r}")
        n, d = int(ids.shape[0]), int(windows.shape[1])
        cent = np.zeros((n, cones, d), np.float32)
        rho = np.ones((n, cones), np.float32)
        weight = np.zeros((n, cones), np.float64)
        lengths = np.diff(offsets)
        for a in range(0, n, _CHUNK_TRACKS):
            b = min(n, a + _CHUNK_TRACKS)
            width = int(lengths[a:b].max()) if b > a else 0
            pad = np.zeros((b - a, width, d), np.float32)
            pw = np.zeros((b - a, width), np.float32)
            for t in range(a, b):
                s, e = offsets[t], offsets[t + 1]
                pad[t - a, : e - s], pw[t - a, : e - s] = windows[s:e], wweights[s:e]
            c, r, w = _cones(pad, pw, cones)
            cent[a:b], rho[a:b], weight[a:b] = c, r, w
        margin = _ip_margin(d)
        return cls(cent.reshape(n * cones, d), np.maximum(-1.0, rho.reshape(-1) - margin).astype(np.float32),
                   weight.reshape(-1), cones, np.asarray(ids, np.int64).copy(), int(windows.shape[0]))

    @property
    def loose(self) -> bool:
        """Whether the cones are too wide to bound anything (median ``rho`` below 0.5: members 60 degrees
        or more from their centroid, as in unclustered libraries)."""
        return bool(self.rho.size) and float(np.median(self.rho)) < 0.5

    def vibe_upper(self, q: np.ndarray, qw: np.ndarray, *, symmetric: bool) -> np.ndarray:
        """An upper bound on :func:`raw_vibe` of every track.

        Parameters
        ----------
        q : np.ndarray [shape=(m, d)]
            Unit query windows.
        qw : np.ndarray [shape=(m,)]
            Their weights.
        symmetric : bool
            As for :func:`raw_vibe`.

        Returns
        -------
        np.ndarray [shape=(n,), dtype=float64]
        """
        n, c = self.ids.shape[0], self.cones
        g = self._cosines(np.asarray(q, np.float32))  # (m, n * cones): at least cos(q, mu)
        rho = self.rho[None, :]
        np.minimum(g, rho, out=g)  # at g >= rho the bound is 1, which the formula gives at g = rho
        bound = np.multiply(g, g)
        np.subtract(np.float32(1.0), bound, out=bound)
        np.maximum(bound, 0.0, out=bound)
        np.sqrt(bound, out=bound)
        bound *= np.sqrt(np.maximum(0.0, 1.0 - rho * rho))
        g *= rho
        bound += g
        # float32 rounding (of the bounds, and of these float32 means: relative m * 2^-24): one margin,
        # added once to the means (each term had it), twice over
        margin = _ip_margin(q.shape[1])
        per_track = bound.reshape(-1, n, c).max(axis=2) if c > 1 else bound  # (m, n)
        w = np.asarray(qw, np.float64)
        out = (np.asarray(w / w.sum(), np.float32) @ per_track).astype(np.float64)
        if symmetric:
            back = bound.max(axis=0).astype(np.float64).reshape(n, c) * self.weight.reshape(n, c)
            out = 0.5 * (out + back.sum(axis=1) / self.weight.reshape(n, c).sum(axis=1))
        out += 2 * margin
        return out

    def _cosines(self, q: np.ndarray) -> np.ndarray:
        """Upper bounds on ``cos(q_j, mu)`` for every query window (rows) and centroid (columns), float32.

        In bfloat16 where its product can be trusted (:mod:`workbench.similarity.sets_lowp`: rounding
        of both sides, float32 sums, the bf16 result), else the float32 product itself.
        """
        if self._bf16 is None:
            return q @ self.centroids.T
        from workbench.similarity.sets_lowp import U16, gamma, to_bf16

        cb, err = self._bf16
        qb, e_q, n_q = to_bf16(q)
        g = (qb @ cb.T).float().numpy()
        # the bf16 result's rounding 2 u |g| <= 2 u 1.02 (|g| <= (1 + u)^3); q's and mu's roundings; float32 sums
        per_query = np.max(e_q * (1.0 + 1e-6) + 1.01 * gamma(q.shape[1]) * n_q * 1.01) + 2 * U16 * 1.02
        g += (err * np.float32(n_q.max()) + np.float32(per_query))[None, :]  # per centroid, one pass
        return g

    def save(self, folder: str | Path) -> Path:
        """Write the bounds beside an index (``track-sets-bounds.npz``).

        Parameters
        ----------
        folder : str or Path
            The index's folder.
        """
        path = Path(folder) / _BOUNDS_FILE

        def write(tmp: Path) -> None:
            """Write the arrays to ``tmp``.

            Parameters
            ----------
            tmp : Path
                The temporary file renamed into place.
            """
            with open(tmp, "wb") as fh:
                np.savez(fh, centroids=self.centroids, rho=self.rho, weight=self.weight, cones=np.int64(self.cones),
                         ids=self.ids, n_windows=np.int64(self.n_windows))

        atomic_write(path, write)
        return path

    @classmethod
    def load(cls, folder: str | Path) -> SetBounds | None:
        """The bounds :meth:`save` wrote in ``folder``, or None (none, or unreadable: they are rebuilt).

        Parameters
        ----------
        folder : str or Path
            The index's folder.
        """
        try:
            with np.load(Path(folder) / _BOUNDS_FILE, allow_pickle=False) as z:
                return cls(z["centroids"].astype(np.float32), z["rho"].astype(np.float32), z["weight"],
                           int(z["cones"]), z["ids"].astype(np.int64), int(z["n_windows"]))
        except (OSError, KeyError, ValueError):
            return None


def _cones(pad: np.ndarray, pw: np.ndarray, cones: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cones of a chunk of tracks given as padded windows ``pad`` (B, L, d) with weights ``pw`` (0 = padding)."""
    real = pw > 0
    centers = _unit(np.einsum("bl,bld->bd", pw, pad))[:, None, :].repeat(cones, axis=1)
    if cones > 1:  # farthest-point seeds, then a few Lloyd steps
        best = np.full(real.shape, np.inf, np.float32)
        for j in range(1, cones):
            best = np.minimum(best, np.einsum("bld,bd->bl", pad, centers[:, j - 1]))
            far = np.where(real, best, np.inf).argmin(axis=1)
            centers[:, j] = pad[np.arange(pad.shape[0]), far]
        for _ in range(_LLOYD_STEPS):
            assign = np.einsum("bld,bcd->blc", pad, centers).argmax(axis=2)
            onehot = (assign[:, :, None] == np.arange(cones)) * pw[:, :, None]
            sums = np.einsum("blc,bld->bcd", onehot, pad)
            filled = onehot.sum(axis=1) > 0
            centers = np.where(filled[:, :, None], _unit(sums), centers[:, :1])
    assign = np.einsum("bld,bcd->blc", pad, centers).argmax(axis=2) if cones > 1 else np.zeros(real.shape, np.int64)
    cos = np.einsum("bld,bld->bl", pad, np.take_along_axis(centers, assign[:, :, None], axis=1))
    member = (assign[:, :, None] == np.arange(cones)) & real[:, :, None]
    rho = np.where(member, cos[:, :, None], np.inf).min(axis=1).astype(np.float32)
    weight = (member * pw[:, :, None]).sum(axis=1).astype(np.float64)
    empty = ~member.any(axis=1)  # an empty cone copies a filled one (its bound then changes no maximum)
    filled = np.argmax(~empty, axis=1)[:, None]  # (B, 1): the first filled cone of each track
    centers = np.where(empty[:, :, None], np.take_along_axis(centers, filled[:, :, None], axis=1), centers)
    rho = np.where(empty, np.take_along_axis(rho, filled, axis=1), rho)
    return centers.astype(np.float32), rho, weight


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


def set_terms(bpm: np.ndarray, key: np.ndarray, energy: np.ndarray, vibe: np.ndarray, w: Weights, *,
              bpm_q: float | None = None, key_q: int | None = None, energy_q: int | None = None,
              tempo_fill: float | None = None, key_fill: float | None = None) -> dict[str, np.ndarray]:
    """The combined score of tracks and its terms, given their calibrated vibe and the query's analysis.

    Parameters
    ----------
    bpm, key, energy : np.ndarray [shape=(r,)]
        The tracks' tempo (NaN: unknown), key index (-1: no key, drums only) and energy.
    vibe : np.ndarray [shape=(r,)]
        Their calibrated vibe in [0, 1].
    w : Weights
        Term weights.
    bpm_q, key_q, energy_q : float (or np.ndarray [shape=(n,)] of BPM, NaN: none), int, int or None
        The query's (a tempo per track: read with each track's prior); ``key_q=None``: a raw vector query, only the vibe is known; ``key_q=-1``: the
        query has no key (its tempo and energy still count).
    tempo_fill, key_fill : float in [0, 1] or None
        What an unknown tempo (key) term counts as (``SetPairTerms.expected_terms``); None: left out, the rest renormalised.

    Returns
    -------
    dict of str to np.ndarray [shape=(r,)]
        ``score``, ``tempo_known``, ``key_known``, ``delta``, ``tempo``, ``keys``, ``energies``, ``e_delta``;
        ``tempo`` and ``keys`` are 0 where unknown (the fill is not written into them).
    """
    n = vibe.shape[0]
    if key_q is None:
        z = np.zeros(n)
        return {"score": np.clip(vibe.copy(), 0.0, 1.0), "tempo_known": np.zeros(n, dtype=bool),
                "key_known": np.zeros(n, dtype=bool), "delta": z,
                "tempo": z, "keys": z, "energies": z, "e_delta": np.zeros(n, np.int64)}
    q_bpm = np.asarray(np.nan if bpm_q is None else bpm_q, dtype=np.float64)  # one tempo, or one per track
    tempo_known = np.isfinite(bpm) & np.isfinite(q_bpm)
    delta = _tempo_delta(np.where(np.isfinite(q_bpm), q_bpm, 1.0), np.where(tempo_known, bpm, 1.0))
    tempo = np.where(tempo_known, _tempo_from_delta(delta), 0.0)
    key_known = (np.asarray(key) >= 0) & (key_q >= 0)
    keys = np.where(key_known, _key_tables()[1][max(key_q, 0)][np.maximum(key, 0)], 0.0)
    e_delta = energy.astype(np.int64) - int(energy_q)  # type: ignore[arg-type]
    energies = _energy_table()[np.abs(e_delta)]
    wt = np.where(tempo_known | (tempo_fill is not None), w.tempo, 0.0)
    wk = np.where(key_known | (key_fill is not None), w.key, 0.0)
    total = w.vibe + wt + wk + w.energy
    num = (w.vibe * vibe + wt * np.where(tempo_known, tempo, tempo_fill or 0.0)
           + wk * np.where(key_known, keys, key_fill or 0.0) + w.energy * energies)
    score = np.clip(np.divide(num, total, out=np.zeros(n), where=total > 0), 0.0, 1.0)
    return {"score": score, "tempo_known": tempo_known, "key_known": key_known, "delta": delta, "tempo": tempo,
            "keys": keys,
            "energies": energies, "e_delta": e_delta}


@dataclass(frozen=True)
class PrunedStats:
    """How a pruned search went: tracks scored exactly out of all (``brute``: every one was)."""

    scored: int
    tracks: int
    brute: bool


def pruned_rows(bounds: SetBounds, *, n: int, k: int, raw_upper: np.ndarray, combined: Any, exact: Any,
                excluded: int | None, min_score: float | None,
                refine: Any = None, slack: float = _SCORE_SLACK) -> tuple[np.ndarray, np.ndarray, PrunedStats]:
    """Rows that hold the exact top ``k``, and their exact raw vibe (module docstring, steps 2-3).

    Parameters
    ----------
    bounds : SetBounds
        The index's cones.
    n : int
        Tracks in the index.
    k : int >= 1
        Results wanted.
    raw_upper : np.ndarray [shape=(n,)]
        :meth:`SetBounds.vibe_upper` of the query.
    combined : callable
        ``combined(rows, raw_vibe) -> combined scores`` of those rows (as brute force scores them).
    exact : callable
        ``exact(rows) -> raw vibe`` of those rows (as brute force computes it); ``exact(None)``: of every row.
    excluded : int or None
        A row never returned (the query's own track).
    min_score : float or None
        Scores below it are not wanted (a higher threshold prunes more).
    refine : callable or None
        ``refine() -> raw vibe upper bounds`` of every row, tighter and dearer (the bfloat16 pass,
        :mod:`workbench.similarity.sets_lowp`); asked only when ``raw_upper`` leaves more than
        :data:`REFINE_SHARE` of the tracks to score.
    slack : float >= 0
        Tracks whose bound falls short of the k-th best score by at most this are kept too (score units).

    Returns
    -------
    rows : np.ndarray [shape=(r,), dtype=int64]
        Every row that can be in the top ``k`` (a superset; it may hold ``excluded``: leave it out).
    raw : np.ndarray [shape=(r,), dtype=float64]
        Their exact raw vibe.
    stats : PrunedStats
    """
    all_rows = np.arange(n, dtype=np.int64)
    upper = np.asarray(combined(all_rows, raw_upper), np.float64)
    if excluded is not None:
        upper[excluded] = -math.inf
    first_n = min(n, max(64, 4 * k))
    first = np.argpartition(-upper, first_n - 1)[:first_n] if first_n < n else all_rows
    first = first[upper[first] > -math.inf]
    if first.shape[0] == 0:
        return first, np.zeros(0), PrunedStats(0, n, False)
    raw_first = exact(first)
    scores = np.asarray(combined(first, raw_first), np.float64)
    threshold = float(np.partition(scores, scores.shape[0] - k)[scores.shape[0] - k]) if scores.shape[0] >= k \
        else -math.inf
    if min_score is not None:
        threshold = max(threshold, float(min_score))
    seen = np.zeros(n, dtype=bool)
    seen[first] = True
    rest = np.flatnonzero(~seen & (upper >= threshold - slack))
    tighter = refine() if refine is not None and rest.shape[0] > REFINE_SHARE * n else None
    if tighter is not None:  # a second, tighter bound; its best unscored tracks may raise the threshold
        upper = np.minimum(upper, np.asarray(combined(all_rows, tighter), np.float64))
        if excluded is not None:
            upper[excluded] = -math.inf
        open_ = np.where(seen, -math.inf, upper)
        second = np.argpartition(-open_, first_n - 1)[:first_n] if first_n < n else all_rows
        second = second[open_[second] > -math.inf]
        raw_second = exact(second)
        first, raw_first = np.concatenate([first, second]), np.concatenate([raw_first, raw_second])
        scores = np.asarray(combined(first, raw_first), np.float64)
        threshold = float(np.partition(scores, scores.shape[0] - k)[scores.shape[0] - k]) \
            if scores.shape[0] >= k else -math.inf
        if min_score is not None:
            threshold = max(threshold, float(min_score))
        seen[second] = True
        rest = np.flatnonzero(~seen & (upper >= threshold - slack))
    if rest.shape[0] > n // 3:  # gathering a third of the windows costs about what a full scan does
        return all_rows, exact(None), PrunedStats(n, n, True)  # the scan itself: no copy of the windows
    rows = np.concatenate([first, rest])
    return rows, np.concatenate([raw_first, exact(rest)]), PrunedStats(int(rows.shape[0]), n, False)
