"""What the learned term weights and the precision ceiling ask of a window-set index: terms without a ranking.

:class:`SetPairTerms` is a part of :class:`workbench.similarity.sets.TrackSetIndex`: ``pair_terms`` gives
the four terms of every ordered pair of indexed tracks exactly as search scores them (the rows
:mod:`workbench.similarity.learned_weights` fits on), ``scores_with_vibe`` the combined score with
the vibe given instead of measured (an oracle vibe: :func:`workbench.similarity.compare.precision_ceiling`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.similarity.scores import Weights, WeightsLike

if TYPE_CHECKING:
    from workbench.similarity.sets_types import Resolved

#: What a track's unknown tempo or key counts as where the query's is known: ``"drop"``, left out and the other
#: weights renormalised (a track with neither tempo nor key competes on vibe and energy alone, and can rank first);
#: ``"expected"``, the query's mean agreement over the indexed tracks where the term is known (what a track of this
#: library scores on it, knowing nothing else; the learned weights impute unknown terms the same way).
UNKNOWN_TERMS: tuple[str, ...] = ("drop", "expected")
#: The default of :data:`UNKNOWN_TERMS`: ``"expected"`` failed its rule (session 22, docs/experiments/search.md: it
#: cost the dev libraries' heads 3 of 108 held-out queries, where a folder-mate whose key was not found lost its place
#: to a keyed track of another folder), so it is an option.
UNKNOWN: str = "drop"


def check_unknown(unknown: str | None) -> str:
    """``unknown`` checked (one of :data:`UNKNOWN_TERMS`), or :data:`UNKNOWN` for None.

    Parameters
    ----------
    unknown : str or None
        What an unknown tempo or key counts as.

    Raises
    ------
    ParameterError
        Anything else.
    """
    if unknown is None:
        return UNKNOWN
    if unknown not in UNKNOWN_TERMS:
        raise ParameterError(f"unknown must be one of {UNKNOWN_TERMS} (what a track's unknown tempo or key counts as); "
                             f"got {unknown!r}")
    return unknown


class SetPairTerms:
    """Term-level answers of a :class:`~workbench.similarity.sets.TrackSetIndex` (its ``_row``, ``_resolve``,
    ``_raw``, ``_calibrated`` and ``_terms`` do the work, as in its search)."""

    if TYPE_CHECKING:  # TrackSetIndex's own
        def __len__(self) -> int: ...
        def _row(self, track_id: int) -> int: ...
        def _resolve(self, query: Any) -> Resolved: ...
        def _raw(self, q: np.ndarray, qw: np.ndarray, *, symmetric: bool, rows: np.ndarray | None = None
                 ) -> np.ndarray: ...
        def _calibrated(self, raw: np.ndarray) -> np.ndarray: ...
        def _terms(self, r: Resolved, w: Weights, rows: np.ndarray, vibe: np.ndarray) -> dict[str, np.ndarray]: ...

    def expected_terms(self, r: Resolved) -> tuple[float | None, float | None]:
        """What an unknown tempo and key count as for the query ``r``: its mean tempo (key) term over the other
        indexed tracks where that term is known; None for a term no track can be compared on (the query's own
        is unknown, or a raw vector query).

        Parameters
        ----------
        r : Resolved
            The query (:meth:`_resolve`).
        """
        if r.key is None or len(self) == 0:
            return None, None
        rows = np.arange(len(self))
        t = self._terms(dataclasses.replace(r, tempo_fill=None, key_fill=None), Weights(), rows,
                        np.zeros(len(self)))
        other = rows != (-1 if r.self_row is None else r.self_row)
        fills = []
        for known, term in ((t["tempo_known"] & other, t["tempo"]), (t["key_known"] & other, t["keys"])):
            fills.append(float(np.mean(term[known])) if known.any() else None)
        return fills[0], fills[1]

    def _with_fill(self, r: Resolved, unknown: str) -> Resolved:
        """``r`` with what its unknown terms count as (:data:`UNKNOWN_TERMS`; ``"drop"``: none)."""
        if check_unknown(unknown) == "drop":
            return dataclasses.replace(r, tempo_fill=None, key_fill=None)
        tempo_fill, key_fill = self.expected_terms(r)
        return dataclasses.replace(r, tempo_fill=tempo_fill, key_fill=key_fill)

    def pair_terms(self, track_ids: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The vibe, tempo, key and energy terms of every ordered pair of distinct indexed tracks, as search scores them.

        Parameters
        ----------
        track_ids : iterable of int
            Indexed tracks (at least two).

        Returns
        -------
        terms : np.ndarray [shape=(p, 4), dtype=float64]
            Vibe (calibrated, symmetric), tempo, key and energy scores; NaN where a term is unknown.
        query, candidate : np.ndarray [shape=(p,), dtype=int64]
            The pair's track ids, by query in ascending id order.

        Raises
        ------
        ParameterError
            Fewer than two distinct ids.
        TrackNotFoundError
            An id is not in the index.
        """
        ids = sorted({int(i) for i in track_ids})
        if len(ids) < 2:
            raise ParameterError(f"pair_terms needs at least two indexed tracks; got {len(ids)}")
        rows = np.asarray([self._row(i) for i in ids], dtype=np.int64)
        terms, query, candidate = [], [], []
        for i in ids:
            r = self._resolve(i)
            vibe = self._calibrated(self._raw(r.q, r.qw, symmetric=True, rows=rows))
            t = self._terms(r, Weights(), rows, vibe)
            block = np.stack([vibe, np.where(t["tempo_known"], t["tempo"], np.nan),
                              np.where(t["key_known"], t["keys"], np.nan), t["energies"]], axis=1)
            other = rows != r.self_row
            terms.append(block[other])
            query.append(np.full(int(other.sum()), i, dtype=np.int64))
            candidate.append(np.asarray(ids, dtype=np.int64)[other])
        return np.concatenate(terms), np.concatenate(query), np.concatenate(candidate)

    def scores_with_vibe(self, query: Any, vibe: Any, *, weights: WeightsLike = None, unknown: str = UNKNOWN
                         ) -> np.ndarray:
        """The combined score of every indexed track for ``query`` with its vibe given instead of measured.

        The tempo, key and energy terms are search's own (:meth:`similar`), so this answers "what would search
        rank with this vibe": e.g. an oracle vibe (:func:`workbench.similarity.compare.precision_ceiling`).

        Parameters
        ----------
        query : int or SetQuery
            A track id in the index (its own track scores ``-inf``) or audio outside it.
        vibe : array_like [shape=(n,)]
            The calibrated vibe of each indexed track, in [0, 1], in :attr:`ids` order.
        weights : Weights, mapping or None
            Term weights; None: the defaults.
        unknown : {"expected", "drop"}
            What an unknown tempo or key counts as (:data:`UNKNOWN_TERMS`), as in :meth:`similar`.

        Returns
        -------
        np.ndarray [shape=(n,), dtype=float64]
            In :attr:`ids` order.

        Raises
        ------
        ParameterError
            ``vibe`` is not ``n`` numbers in [0, 1], or bad ``weights`` or query.
        TrackNotFoundError
            ``query`` is an id not in the index.
        """
        v = np.asarray(vibe, dtype=np.float64)
        if v.shape != (len(self),) or not np.all((v >= 0.0) & (v <= 1.0)):
            raise ParameterError(f"vibe must be {len(self)} numbers in [0, 1] (one per indexed track); got shape "
                                 f"{v.shape}" + ("" if v.shape != (len(self),) else f", range [{v.min():g}, {v.max():g}]"))
        r = self._with_fill(self._resolve(query), unknown)
        score = self._terms(r, Weights() if weights is None else Weights.coerce(weights), np.arange(len(self)), v)["score"]
        if r.self_row is not None:
            score[r.self_row] = -math.inf
        return score
