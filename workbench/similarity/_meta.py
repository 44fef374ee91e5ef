"""Find, without touching vectors or scanning every row, the rows whose metadata can still reach a score.

Rows are grouped by (Camelot key, energy level) -- 240 groups -- and sorted by BPM within each
group. For a query the key and energy scores are constant per group, so "``w_v * u + rest >= t``"
becomes, per group, either "every row", "no row" or "BPM within ``r`` of the query tempo, its
double or its half": three binary searches. The cost is O(240 log n + rows returned) instead of
O(n). The result is a superset (a hair of slack against rounding); callers score it exactly.
"""

from __future__ import annotations

import math

import numpy as np

from workbench.similarity.scores import ENERGY_RANGE, TEMPO_WINDOW_BPM, _energy_table, _key_tables
from workbench.similarity.scoring import Scorer

_N_ENERGY = ENERGY_RANGE[1] - ENERGY_RANGE[0] + 1
_N_GROUPS = 24 * _N_ENERGY
_SCORE_SLACK = 1e-9
_BPM_SLACK = 1e-6


class MetaIndex:
    """Rows sorted by (key, energy, BPM).

    Parameters
    ----------
    bpm : ndarray of float64, shape (rows,)
    key : ndarray of int, shape (rows,)
        Compact key indices 0..23 (:func:`workbench.camelot.index_of`).
    energy : ndarray of int, shape (rows,)
        Levels 1..10.
    """

    def __init__(self, bpm: np.ndarray, key: np.ndarray, energy: np.ndarray) -> None:
        group = key.astype(np.int64) * _N_ENERGY + (energy.astype(np.int64) - ENERGY_RANGE[0])
        self._order = np.lexsort((bpm, group))
        sorted_group = group[self._order]
        top = float(bpm.max()) if bpm.size else 1.0
        # Composite sort key group * scale + bpm with scale a power of two above any BPM searched.
        self._scale = float(2.0 ** math.ceil(math.log2(3.0 * top + 4.0 * TEMPO_WINDOW_BPM + 1.0)))
        self._keys = sorted_group * self._scale + bpm[self._order]
        self._starts = np.searchsorted(sorted_group, np.arange(_N_GROUPS + 1))
        self._group_key = np.arange(_N_GROUPS) // _N_ENERGY
        self._group_energy = np.arange(_N_GROUPS) % _N_ENERGY + ENERGY_RANGE[0]

    def rows_reaching(self, scorer: Scorer, vibe_bound: float, threshold: float) -> np.ndarray:
        """Rows (unique, in no particular order) whose ``w_v * vibe_bound + rest`` may be ``>= threshold``.

        A superset: every row that reaches the threshold is in it.

        Parameters
        ----------
        scorer : Scorer
            The query's weights and metadata.
        vibe_bound : float
            An upper bound on any row's vibe score.
        threshold : float
            The combined score a row must reach.
        """
        wv, wt, wk, we = scorer.w
        # A raw-vector query has no metadata and weights (1, 0, 0, 0): the terms below vanish.
        q_bpm, q_key, q_energy = scorer.bpm or 1.0, scorer.key or 0, scorer.energy or ENERGY_RANGE[0]
        constant = (wk * _key_tables()[1][q_key][self._group_key]
                    + we * _energy_table()[np.abs(self._group_energy - q_energy)])
        base = wv * vibe_bound + constant + _SCORE_SLACK
        lo_bound, hi_bound = self._starts[:-1], self._starts[1:]
        if wt == 0.0:
            whole = base >= threshold
            partial = np.zeros(_N_GROUPS, dtype=bool)
            need = np.zeros(_N_GROUPS)
        else:
            need = (threshold - base) / wt  # tempo score a row of the group needs
            whole = need <= 0.0
            partial = (need > 0.0) & (need <= 1.0)
        starts = [lo_bound[whole]]
        stops = [hi_bound[whole]]
        groups = np.flatnonzero(partial & (hi_bound > lo_bound))
        if groups.size:
            radius = TEMPO_WINDOW_BPM * (1.0 - need[groups]) + _BPM_SLACK
            offset = groups * self._scale
            for centre in (q_bpm, 2.0 * q_bpm, 0.5 * q_bpm):
                lo = np.searchsorted(self._keys, offset + (centre - radius), side="left")
                hi = np.searchsorted(self._keys, offset + (centre + radius), side="right")
                starts.append(np.clip(lo, lo_bound[groups], hi_bound[groups]))
                stops.append(np.clip(hi, lo_bound[groups], hi_bound[groups]))
        start = np.concatenate(starts)
        length = np.maximum(np.concatenate(stops) - start, 0)
        total = int(length.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        first = np.cumsum(length) - length
        positions = np.repeat(start - first, length) + np.arange(total)
        rows = self._order[positions]
        # Whole and partial groups are disjoint, and a partial group's three BPM windows can
        # only overlap when the window is wider than a quarter of the query tempo.
        if groups.size and radius.max() >= 0.25 * q_bpm:
            rows = np.unique(rows)
        return rows
