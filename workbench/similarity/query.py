"""The public value objects of a similarity search: :class:`Query` (a track's embedding and
metadata) and :class:`Match` (one result, with :func:`format_explanation`'s one-line reason)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

from workbench.camelot import CAMELOT_CODES
from workbench.errors import ParameterError
from workbench.similarity._inputs import _as_bpm_scalar, _as_energy_scalar, _as_vector, normalize_rows
from workbench.similarity.scores import canonical_camelot, key_relation


@dataclass(frozen=True, eq=False)
class Query:
    """A track that is not (necessarily) in the index: its embedding and metadata.

    Parameters
    ----------
    vector : array-like, shape (d,)
        Its embedding (any scale; L2-normalised when searching). Stored as a read-only
        float32 copy.
    bpm : float > 0
        Tempo in BPM.
    camelot : str
        Camelot key code, ``"1A"``..``"12B"`` (stored in canonical form, ``" 8a"`` -> ``"8A"``).
    energy : int in 1..10
        Energy level.
    """

    vector: np.ndarray
    bpm: float
    camelot: str
    energy: int

    def __post_init__(self) -> None:
        vec = _as_vector(self.vector, "Query.vector")
        normalize_rows(vec[None, :], name="Query.vector")  # finite and nonzero, or raise
        vec = vec.astype(np.float32)
        vec.setflags(write=False)
        object.__setattr__(self, "vector", vec)
        object.__setattr__(self, "bpm", _as_bpm_scalar(self.bpm, "Query.bpm"))
        object.__setattr__(self, "camelot", canonical_camelot(self.camelot, name="Query.camelot"))
        object.__setattr__(self, "energy", _as_energy_scalar(self.energy, "Query.energy"))


@dataclass(frozen=True)
class Match:
    """One result of a similarity search, with its explanation.

    Attributes
    ----------
    id : int
        The track.
    score : float in [0, 1]
        Combined score: the weighted mean of the component scores (weights normalised).
    vibe, tempo, key, energy : float in [0, 1]
        Component scores. ``tempo``, ``key`` and ``energy`` are ``None`` for a query by raw
        vector (its tempo, key and energy are unknown).
    bpm_delta : float or None
        Candidate minus query tempo in BPM, after half/double-time matching.
    key_from, key_to : str or None
        Query and candidate Camelot codes (``key_from`` is ``None`` for a raw vector query; either is
        ``None`` for a track with no key, drums only).
    energy_delta : int or None
        Candidate minus query energy level.
    explanation : str
        E.g. ``"similar vibe (82%); Δ+2 BPM; key: 8A→9A (compatible); energy +1"``; see
        :func:`format_explanation`.
    tempo_assumed, key_assumed : float in [0, 1] or None
        What an unknown tempo (key) term counted as in ``score`` (the query's average agreement over the
        tracks where it is known, :mod:`workbench.similarity.sets`); None where the term is known, or left out.
    """

    id: int
    score: float
    vibe: float
    tempo: float | None
    key: float | None
    energy: float | None
    bpm_delta: float | None
    key_from: str | None
    key_to: str | None
    energy_delta: int | None
    explanation: str
    tempo_assumed: float | None = None
    key_assumed: float | None = None

    def __post_init__(self) -> None:
        for name in ("score", "vibe", "tempo", "key", "energy", "tempo_assumed", "key_assumed"):
            value = getattr(self, name)
            if value is None and name not in ("score", "vibe"):
                continue
            if not (isinstance(value, float) and 0.0 <= value <= 1.0):
                raise ParameterError(f"Match.{name} must be a float in [0, 1]; got {value!r}")
        if any(k is not None and k not in CAMELOT_CODES for k in (self.key_from, self.key_to)):
            raise ParameterError(f"Match keys must be canonical Camelot codes or None (no key); got {self.key_from!r}, "
                                 f"{self.key_to!r}")


def format_explanation(
    *,
    vibe: float,
    bpm_delta: float | None = None,
    key_from: str | None = None,
    key_to: str | None = None,
    energy_delta: int | None = None,
    tempo_unknown: bool = False,
    tempo_match: str | None = None,
    key_unknown: bool = False,
    tempo_rough: bool = False,
    tempo_assumed: float | None = None,
    key_assumed: float | None = None,
) -> str:
    """The one-line explanation of a match.

    Parts, joined by ``"; "``:

    * the vibe score as a percent, rounded half up, in words that never contradict it:
      ``"similar vibe (82%)"`` from 50 %, ``"loosely related vibe (35%)"`` from 25 %, else
      ``"different vibe (3%)"`` (see :func:`vibe_words`);
    * ``"Δ+2 BPM"`` / ``"Δ-3 BPM"`` -- the BPM delta rounded half away from zero;
      ``"same BPM"`` when it rounds to 0; ``" (half time)"`` / ``" (double time)"`` after it when the
      match was compared with half or double the query's tempo (``tempo_match``: 70 BPM against 128
      reads ``"Δ+6 BPM (half time)"``, not a 58 BPM gap); with ``tempo_rough`` (the query's or the
      match's tempo is rough: a live or rubato track, :data:`workbench.analysis.core.ROUGH_TEMPO_STABILITY`)
      ``"Δ~+6 BPM"`` / ``"~same BPM"``, so a delta between rough tempi is not read as exact;
    * ``"key: 8A (same)"`` or ``"key: 8A→9A (compatible)"`` with ``relative``, ``compatible``,
      ``two steps`` or ``clash`` (see :func:`~workbench.similarity.key_relation`);
    * with ``key_unknown`` (query or match has no key: the key term is never scored 0; it counts as
      ``key_assumed``, or is left out of the score) the words name which side has none:
      ``"key unknown (drums only)"`` when the match has no key, ``"key: 8A (query drums only)"`` when
      only the query has none (the match's key is still worth knowing), ``"key unknown (both drums
      only)"`` when neither has one;
    * ``"energy +1"`` / ``"energy -2"`` / ``"energy same"``.

    * ``"tempo unknown (no beat)"`` with ``tempo_unknown`` (query or match has no steady beat:
      the tempo term is never scored 0; it counts as ``tempo_assumed``, or is left out of the score).
    * with ``tempo_assumed`` (``key_assumed``) the unknown term counted as that value, and the words say so:
      ``"tempo unknown (no beat): counted as 31%, the library's average"``,
      ``"key unknown (drums only): counted as 35%, the library's average"``.

    Parts whose inputs are ``None`` are left out (a raw vector query explains only the vibe).

    Parameters
    ----------
    vibe : float in [0, 1]
        The vibe score.
    bpm_delta : float or None
        Tempo difference in BPM (match minus query, after halving or doubling; see :func:`tempo_delta`).
    key_from, key_to : str or None
        The query's and the match's Camelot keys.
    energy_delta : int or None
        Energy level difference.
    tempo_unknown : bool
        Say that the tempo could not be compared.
    key_unknown : bool
        Say that the keys could not be compared.
    tempo_match : {"half", "double"} or None
        Which multiple of the query's tempo ``bpm_delta`` is measured from (:func:`tempo_match_of`);
        None: the query's own tempo.
    tempo_rough : bool
        Mark the BPM part rough (``Δ~``, ``~same BPM``); nothing changes without a BPM part.
    tempo_assumed, key_assumed : float in [0, 1] or None
        What an unknown tempo (key) counted as in the score; None: left out of it.
    """
    percent = math.floor(vibe * 100.0 + 0.5)
    parts = [f"{vibe_words(percent)} ({percent}%)"]
    if tempo_unknown:
        parts.append("tempo unknown (no beat)" + _counted_as(tempo_assumed))
    elif bpm_delta is not None:
        rounded = int(math.copysign(math.floor(abs(bpm_delta) + 0.5), bpm_delta))
        rough = "~" if tempo_rough else ""
        parts.append((f"{rough}same BPM" if rounded == 0 else f"Δ{rough}{rounded:+d} BPM")
                     + (f" ({tempo_match} time)" if tempo_match in ("half", "double") else ""))
    if key_unknown:
        if key_to is None:
            parts.append("key unknown (both drums only)" if key_from is None
                         else "key unknown (drums only)" + _counted_as(key_assumed))
        else:
            parts.append(f"key: {key_to} (query drums only)" if key_from is None
                         else "key unknown (drums only)" + _counted_as(key_assumed))
    elif key_from is not None and key_to is not None:
        relation = key_relation(key_from, key_to)
        if relation == "same":
            parts.append(f"key: {key_from} (same)")
        else:
            parts.append(f"key: {key_from}→{key_to} ({relation})")
    if energy_delta is not None:
        parts.append("energy same" if energy_delta == 0 else f"energy {energy_delta:+d}")
    return "; ".join(parts)


def _counted_as(value: float | None) -> str:
    """``": counted as 31%, the library's average"`` for an unknown term that counted as ``value``; "" for None."""
    return "" if value is None else f": counted as {math.floor(value * 100.0 + 0.5)}%, the library's average"


def tempo_match_of(bpm_query: float | None, bpm_match: float | None) -> str | None:
    """Which multiple of the query's tempo the match's BPM delta is measured from: "half", "double" or None.

    The choice :func:`~workbench.similarity.scores.tempo_delta` makes (the nearest of the query's tempo,
    double it and half it).

    Parameters
    ----------
    bpm_query, bpm_match : float or None
        The two tempi in BPM (None or NaN: unknown, and None is returned).
    """
    from workbench.similarity.scores import _tempo_match

    if bpm_query is None or bpm_match is None or not (bpm_query > 0 and bpm_match > 0):
        return None
    factor = float(_tempo_match(float(bpm_query), np.float64(bpm_match))[1])
    return {2.0: "double", 0.5: "half"}.get(factor)


def vibe_words(percent: int) -> str:
    """How a vibe score in percent is said: "similar vibe" (>= 50), "loosely related vibe" (>= 25), else "different vibe".

    Parameters
    ----------
    percent : int
        The vibe score in percent (0..100).
    """
    if percent >= 50:
        return "similar vibe"
    return "loosely related vibe" if percent >= 25 else "different vibe"


QueryLike = Union[int, Query, np.ndarray, Sequence[float]]  # noqa: UP007 (a runtime alias on 3.10)


__all__ = ["Match", "Query", "QueryLike", "format_explanation", "tempo_match_of", "vibe_words"]
