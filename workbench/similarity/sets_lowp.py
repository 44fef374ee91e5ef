"""A low-precision first pass over every window whose error is bounded: an upper bound on each track's set score.

Where cone bounds (:class:`~workbench.similarity.sets_search.SetBounds`) are loose (windows spread
all over the sphere, e.g. unclustered libraries), ``method="pruned"`` still avoids the float32 scan:
every window is also kept in bfloat16 (half the bytes; the CPU's AVX-512 BF16 or AMX products,
through torch), and a query's products with all of them give, per track, an upper bound on its
exact score. Tracks whose bound cannot reach the k-th best exact score are never scored; the rest
are scored exactly, as the full scan scores them (:mod:`~workbench.similarity.sets_search`, step 5): identical.

**The bound.** With ``x~ = bf16(x)``, ``q~ = bf16(q)`` (round to nearest), ``e_x = ||x - x~||`` and
``e_q = ||q - q~||`` (measured when rounding, in float64), and ``|x| <= 1 + 1e-6``::

    q . x = q~ . x~ + q~ . (x - x~) + (q - q~) . x <= q~ . x~ + |q~| e_x + e_q (1 + 1e-6)

The product ``p = q~ . x~`` is accumulated in float32 (``d`` terms: error at most ``gamma_d |q~| |x~|``
with ``gamma_d = d u32 / (1 - d u32)``) and rounded once to bfloat16 (relative error at most
``u16 = 2^-8``), so ``p <= out + 2 u16 |out| + gamma_d |q~| |x~|``; ``out -> out + 2 u16 |out|`` is
increasing, so it may be applied after the per-track maximum. Whether this torch build's bf16
product really accumulates in float32 is checked once per process on seeded data (the error must
stay within the bound with room to spare); where it does not, the pass is not used.

Tracks are grouped by window count (each group one contiguous block), so a track's best window per
query window is a reshape and a maximum, not a segmented reduction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

U16 = 2.0**-8  # bfloat16 unit roundoff (8 significant bits)
_U32 = 2.0**-24
_NORM_SLACK = 1e-6  # unit windows are unit to float32 rounding
_KERNEL_OK: dict[int, bool] = {}  # torch thread count -> whether the bf16 product stayed within the bound


def gamma(d: int) -> float:
    """The float32 rounding factor of a ``d``-term sum of products: ``d u / (1 - d u)``, ``u = 2^-24``.

    Parameters
    ----------
    d : int >= 1
        Terms summed.
    """
    return d * _U32 / (1.0 - d * _U32)


def to_bf16(x: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
    """Rows rounded to bfloat16, with what the rounding cost (both rounded up).

    Parameters
    ----------
    x : np.ndarray [shape=(n, d)]
        Rows.

    Returns
    -------
    rounded : torch.Tensor [shape=(n, d), dtype=bfloat16]
    error : np.ndarray [shape=(n,), dtype=float64]
        ``||x - rounded||`` of each row.
    norm : np.ndarray [shape=(n,), dtype=float64]
        ``||rounded||`` of each row.
    """
    import torch

    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(torch.bfloat16)
    back = t.to(torch.float64).numpy()
    err = np.linalg.norm(np.asarray(x, np.float64) - back, axis=1) * (1 + 1e-9) + 1e-12
    return t, err, np.linalg.norm(back, axis=1) * (1 + 1e-9)


def bf16_kernel_ok() -> bool:
    """Whether torch's bf16 product here is float32-accumulated and bf16-rounded (checked once per thread count).

    A seeded (16, 128) x (128, 4096) product of unit vectors is compared with the float64 product
    of the same rounded values; every error must be at most half of what the bound allows.
    """
    try:
        import torch
    except ImportError:
        return False
    threads = torch.get_num_threads()
    if threads not in _KERNEL_OK:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(4096, 128)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        q = x[:16] + 0.3 * x[16:32]
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        xb, _, nx = to_bf16(x)
        qb, _, nq = to_bf16(q)
        out = (xb @ qb.T).to(torch.float64).numpy()
        exact = xb.to(torch.float64).numpy() @ qb.to(torch.float64).numpy().T
        allowed = 2 * U16 * np.abs(out) + gamma(128) * nx[:, None] * nq[None, :]
        _KERNEL_OK[threads] = bool(np.all(np.abs(out - exact) <= 0.5 * allowed))
    return _KERNEL_OK[threads]


def _normalised(w: np.ndarray) -> np.ndarray:
    return w / w.sum(axis=0, keepdims=True)


class BuiltFor:
    """Bounds that know the tracks they were built for (``ids``, ``n_windows``): rebuilt when the index changes."""

    ids: np.ndarray
    n_windows: int

    def matches(self, ids: np.ndarray, n_windows: int) -> bool:
        """Whether these bounds were built for exactly these tracks.

        Parameters
        ----------
        ids : np.ndarray [shape=(n,)]
            The index's track ids.
        n_windows : int
            Its window count.
        """
        return self.n_windows == int(n_windows) and np.array_equal(self.ids, ids)


@dataclass(frozen=True)
class _Group:
    rows: np.ndarray  # (g,) track rows with this many windows
    windows: Any  # torch bf16 (length * g, d): every track's first window, then every track's second, ...
    err: np.ndarray  # (length, g) float64: each window's rounding error norm
    err_max: np.ndarray  # (g,) the largest per track
    weights: np.ndarray  # (length, g) float64 window weights, each track's summing to 1
    length: int


@dataclass(frozen=True)
class LowPrecisionBounds(BuiltFor):
    """Every window in bfloat16, tracks grouped by window count (module docstring).

    Attributes
    ----------
    groups : tuple
        One block of tracks per window count.
    ids : np.ndarray [shape=(n,), dtype=int64]
        The tracks they were built for.
    n_windows : int
        Windows they were built from.
    dim : int
        Vector length.
    """

    groups: tuple[_Group, ...]
    ids: np.ndarray
    n_windows: int
    dim: int

    @classmethod
    def build(cls, ids: np.ndarray, windows: np.ndarray, wweights: np.ndarray,
              offsets: np.ndarray) -> LowPrecisionBounds | None:
        """Round every window to bfloat16 and group the tracks by window count; None where the
        bf16 product cannot be trusted (:func:`bf16_kernel_ok`) or torch is missing.

        Parameters
        ----------
        ids : np.ndarray [shape=(n,)]
            Track ids.
        windows : np.ndarray [shape=(W, d), dtype=float32]
            Unit windows, track after track.
        wweights : np.ndarray [shape=(W,)]
            Their weights.
        offsets : np.ndarray [shape=(n + 1,)]
            Where each track's windows start.
        """
        if not bf16_kernel_ok():
            return None
        lengths = np.diff(offsets)
        groups = []
        for length in np.unique(lengths[lengths > 0]).tolist():
            rows = np.flatnonzero(lengths == length)
            idx = (offsets[rows][None, :] + np.arange(length)[:, None]).reshape(-1)  # window slot after slot
            xb, err, _ = to_bf16(windows[idx])
            err = err.reshape(length, len(rows))
            groups.append(_Group(rows, xb, err, err.max(axis=0),
                                 _normalised(np.asarray(wweights[idx], np.float64).reshape(length, len(rows))),
                                 int(length)))
        return cls(tuple(groups), np.asarray(ids, np.int64).copy(), int(windows.shape[0]), int(windows.shape[1]))

    def vibe_upper(self, q: np.ndarray, qw: np.ndarray, *, symmetric: bool) -> np.ndarray:
        """An upper bound on :func:`~workbench.similarity.sets_search.raw_vibe` of every track
        (tracks without windows: -inf).

        Parameters
        ----------
        q : np.ndarray [shape=(m, d)]
            Unit query windows.
        qw : np.ndarray [shape=(m,)]
            Their weights.
        symmetric : bool
            As for ``raw_vibe``.

        Returns
        -------
        np.ndarray [shape=(n,), dtype=float64]
        """

        qb, e_q, n_q = to_bf16(q)
        w = np.asarray(qw, np.float64) / float(np.sum(qw))
        out = np.full(self.ids.shape[0], -np.inf)
        # per query window: the rounding of q and the float32 sums (of this pass and of the exact scan)
        q_slack = e_q * (1.0 + _NORM_SLACK) + 2.02 * gamma(self.dim) * n_q * (1.0 + _NORM_SLACK)
        for g in self.groups:
            prod = (qb @ g.windows.T).float()  # (m, windows x tracks), bf16 values
            fwd = prod.view(-1, g.length, len(g.rows)).amax(dim=1).numpy().T.astype(np.float64)  # (tracks, m): each
            # track's best window per query window
            fwd += 2 * U16 * np.abs(fwd) + n_q[None, :] * g.err_max[:, None] + q_slack[None, :]
            score = fwd @ w
            if symmetric:  # each window's best query window, weighted, per track
                back = prod.amax(dim=0).numpy().reshape(g.length, -1).astype(np.float64)  # (windows, tracks)
                back += 2 * U16 * np.abs(back) + n_q.max() * g.err + q_slack.max()
                score = 0.5 * (score + np.einsum("lt,lt->t", back, g.weights))
            out[g.rows] = score
        return out
