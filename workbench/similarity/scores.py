"""Component scores of the combined similarity, each in [0, 1], and their weights.

Four musical facets, each scored from 0 (useless for a mix) to 1 (ideal):

========  ==================================================================================
vibe      cosine similarity of the two embeddings, clipped to [0, 1] (negative cosine -> 0)
tempo     1 at the same BPM, linearly down to 0 at :data:`TEMPO_WINDOW_BPM` (10) BPM apart;
          half and double time match (70 BPM vs 140 BPM scores 1)
key       Camelot wheel: same code 1.0, relative (same number, other letter) 0.9, adjacent
          (±1 number, same letter) 0.8, two steps (±2, same letter) 0.6, anything else 0.2
energy    1 at the same level (1..10), linearly down to 0 at :data:`ENERGY_WINDOW` (5) apart
========  ==================================================================================

The functions broadcast like numpy ufuncs; with scalar arguments they return a ``float``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Union

import numpy as np

from workbench.camelot import N_KEYS, camelot_distance, code_at, index_of
from workbench.errors import ParameterError

#: BPM difference (after half/double-time matching) at which the tempo score reaches 0.
TEMPO_WINDOW_BPM: float = 10.0
#: Energy-level difference at which the energy score reaches 0.
ENERGY_WINDOW: int = 5
#: Lowest and highest energy level.
ENERGY_RANGE: tuple[int, int] = (1, 10)
#: Key relation (as :func:`key_relation` names it) -> key score.
KEY_RELATION_SCORES: Mapping[str, float] = MappingProxyType({
    "same": 1.0,
    "relative": 0.9,
    "compatible": 0.8,
    "two steps": 0.6,
    "clash": 0.2,
})
_RELATIONS: tuple[str, ...] = tuple(KEY_RELATION_SCORES)

ArrayLike = Union[float, int, str, np.ndarray, "list[Any]", "tuple[Any, ...]"]


# --------------------------------------------------------------------------- Camelot codes


def camelot_index(codes: ArrayLike, *, name: str = "camelot") -> np.ndarray:
    """Compact key indices 0..23 (:func:`workbench.camelot.index_of`) of one code or an array of codes.

    Parameters
    ----------
    codes : str or array-like of str, any shape
        Camelot codes such as ``"8A"`` (case and surrounding spaces are forgiven).
    name : str
        How error messages call the argument.

    Returns
    -------
    numpy.ndarray of int8, shape of ``codes``
        ``number - 1`` for ``A`` codes, ``12 + number - 1`` for ``B`` codes (not positions in
        :data:`workbench.camelot.CAMELOT_CODES`).

    Raises
    ------
    ParameterError
        A code is not ``1A``..``12A`` or ``1B``..``12B``.
    """
    arr = np.asarray(codes, dtype=object)
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.int8)
    flat = arr.reshape(-1)
    out = np.empty(flat.shape[0], dtype=np.int8)
    cache: dict[Any, int] = {}
    for i, code in enumerate(flat):
        try:
            out[i] = cache[code]
            continue
        except (KeyError, TypeError):
            pass
        try:
            idx = index_of(code, name=name)
        except ParameterError as exc:
            where = f" at index {i}" if arr.ndim else ""
            raise ParameterError(f"{exc}{where}") from None
        out[i] = idx
        cache[code] = idx
    return out.reshape(arr.shape)


def canonical_camelot(code: Any, *, name: str = "camelot") -> str:
    """The canonical spelling of one Camelot code: ``" 8a"`` -> ``"8A"``.

    Parameters
    ----------
    code : str
        A Camelot code, any case, spaces ignored; any value is checked.
    name : str
        How the message names the value.

    Raises
    ------
    ParameterError
        Not a Camelot code 1A..12A or 1B..12B.
    """
    if not isinstance(code, str):
        raise ParameterError(f"{name} must be a Camelot code 1A..12A or 1B..12B; got {code!r}")
    return code_at(index_of(code, name=name))


@lru_cache(maxsize=1)
def _key_tables() -> tuple[np.ndarray, np.ndarray]:
    """(24, 24) relation indices into ``_RELATIONS`` and (24, 24) key scores by compact key index, read-only."""
    rel = np.empty((N_KEYS, N_KEYS), dtype=np.int8)
    codes = [code_at(i) for i in range(N_KEYS)]
    for i, a in enumerate(codes):
        for j, b in enumerate(codes):
            steps, letter_differs = camelot_distance(a, b)
            if steps == 0:
                name = "relative" if letter_differs else "same"
            elif letter_differs:
                name = "clash"
            else:
                name = {1: "compatible", 2: "two steps"}.get(steps, "clash")
            rel[i, j] = _RELATIONS.index(name)
    scores = np.array([KEY_RELATION_SCORES[r] for r in _RELATIONS], dtype=np.float64)[rel]
    rel.setflags(write=False)
    scores.setflags(write=False)
    return rel, scores


@lru_cache(maxsize=1)
def _energy_table() -> np.ndarray:
    """Energy score by absolute level difference 0..9, read-only."""
    diff = np.arange(ENERGY_RANGE[1] - ENERGY_RANGE[0] + 1, dtype=np.float64)
    table = np.maximum(0.0, (ENERGY_WINDOW - diff) / ENERGY_WINDOW)
    table.setflags(write=False)
    return table


# --------------------------------------------------------------------------- validation helpers


def _as_bpm(value: Any, name: str) -> np.ndarray:
    arr = _as_real(value, name)
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        raise ParameterError(f"{name} must be finite and > 0; got {arr[bad].flat[0].item()!r}")
    return arr


def _as_energy(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError(
            f"{name} must be integers in {ENERGY_RANGE[0]}..{ENERGY_RANGE[1]}; got dtype {arr.dtype} ({_preview(value)})"
        )
    bad = (arr < ENERGY_RANGE[0]) | (arr > ENERGY_RANGE[1])
    if bad.any():
        raise ParameterError(
            f"{name} must be integers in {ENERGY_RANGE[0]}..{ENERGY_RANGE[1]}; got {arr[bad].flat[0].item()!r}"
        )
    return arr.astype(np.int64)


def _as_real(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be real numbers; got {_preview(value)}") from exc
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ParameterError(f"{name} must be real numbers; got dtype {arr.dtype} ({_preview(value)})")
    return arr.astype(np.float64)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _out(arr: np.ndarray) -> float | np.ndarray:
    """A Python float for a 0-d result, the array otherwise."""
    return float(arr) if arr.ndim == 0 else arr


# --------------------------------------------------------------------------- component scores


def vibe_score(query: ArrayLike, embeddings: ArrayLike) -> float | np.ndarray:
    """Cosine similarity of embeddings, clipped to [0, 1].

    Parameters
    ----------
    query : array-like, shape (d,)
        One embedding (any scale; it is L2-normalised here).
    embeddings : array-like, shape (d,) or (n, d)
        One or ``n`` embeddings.

    Returns
    -------
    float or numpy.ndarray of float64, shape (n,)
        ``max(0, cos)``; the same number :class:`~workbench.similarity.SimilarityIndex` reports.

    Raises
    ------
    ParameterError
        Shapes disagree, a value is not finite, or a vector is all zeros.
    """
    from workbench.similarity.vectors import cosine_rows, normalize_rows

    q = _as_real(query, "query")
    e = _as_real(embeddings, "embeddings")
    if q.ndim != 1 or q.shape[0] == 0:
        raise ParameterError(f"query must be a non-empty 1-D vector; got shape {q.shape}")
    single = e.ndim == 1
    e2 = e[None, :] if single else e
    if e2.ndim != 2 or e2.shape[1] != q.shape[0]:
        raise ParameterError(
            f"embeddings must have shape ({q.shape[0]},) or (n, {q.shape[0]}) to match the query; got {e.shape}"
        )
    qn = normalize_rows(q[None, :], name="query")[0]
    en = normalize_rows(e2, name="embeddings")
    out = cosine_rows(en, qn)
    return float(out[0]) if single else out


def tempo_delta(bpm_a: ArrayLike, bpm_b: ArrayLike) -> float | np.ndarray:
    """Signed BPM difference of ``bpm_b`` from ``bpm_a`` after half/double-time matching.

    ``bpm_b`` is compared with ``bpm_a``, ``2 * bpm_a`` and ``bpm_a / 2``; the one closest to it
    wins (``bpm_a`` on a tie, then double, then half) and the result is ``bpm_b`` minus it. When none
    comes within :data:`TEMPO_WINDOW_BPM` (the tempo score is 0 whichever is taken), the result is the
    plain difference ``bpm_b - bpm_a``.

    Parameters
    ----------
    bpm_a, bpm_b : float or array-like, broadcastable, BPM > 0
        Query and candidate tempi.

    Returns
    -------
    float or numpy.ndarray of float64
        Candidate minus (matched) query tempo, in BPM: ``tempo_delta(128, 130) == 2``,
        ``tempo_delta(70, 141) == 1``, ``tempo_delta(120.2, 89.9) == -30.3`` (not +29.8 from 60.1).
    """
    a = _as_bpm(bpm_a, "bpm_a")
    b = _as_bpm(bpm_b, "bpm_b")
    return _out(_tempo_delta(a, b))


def tempo_score(bpm_a: ArrayLike, bpm_b: ArrayLike) -> float | np.ndarray:
    """Tempo compatibility: ``max(0, (10 - |tempo_delta|) / 10)``.

    Parameters
    ----------
    bpm_a, bpm_b : float or array-like, broadcastable, BPM > 0

    Returns
    -------
    float or numpy.ndarray of float64 in [0, 1]
        128 vs 130 -> 0.8; 70 vs 140 -> 1.0 (double time); 128 vs 138 -> 0.0.
    """
    a = _as_bpm(bpm_a, "bpm_a")
    b = _as_bpm(bpm_b, "bpm_b")
    return _out(_tempo_from_delta(_tempo_delta(a, b)))


def key_relation(camelot_a: str, camelot_b: str) -> str:
    """How two Camelot codes relate: ``"same"``, ``"relative"``, ``"compatible"``, ``"two steps"`` or ``"clash"``.

    ``"compatible"`` is one step around the wheel with the same letter (8A -> 9A, 12A -> 1A);
    ``"relative"`` is the same number with the other letter (8A -> 8B).

    Parameters
    ----------
    camelot_a, camelot_b : str
        Camelot codes such as ``"8A"``.
    """
    a = _one_index(camelot_a, "camelot_a")
    b = _one_index(camelot_b, "camelot_b")
    return _RELATIONS[int(_key_tables()[0][a, b])]


def _one_index(code: Any, name: str) -> int:
    if isinstance(code, str):
        return index_of(code, name=name)
    return int(camelot_index(code, name=name))


def key_score(camelot_a: ArrayLike, camelot_b: ArrayLike) -> float | np.ndarray:
    """Harmonic compatibility of Camelot codes (see :data:`KEY_RELATION_SCORES`).

    Parameters
    ----------
    camelot_a, camelot_b : str or array-like of str, broadcastable
        Camelot codes such as ``"8A"``.

    Returns
    -------
    float or numpy.ndarray of float64 in {0.2, 0.6, 0.8, 0.9, 1.0}
        8A/8A 1.0, 8A/8B 0.9, 8A/9A 0.8, 12A/1A 0.8, 8A/10A 0.6, 8A/3B 0.2.
    """
    a = camelot_index(camelot_a, name="camelot_a")
    b = camelot_index(camelot_b, name="camelot_b")
    return _out(np.asarray(_key_tables()[1][a, b], dtype=np.float64))


def energy_score(energy_a: ArrayLike, energy_b: ArrayLike) -> float | np.ndarray:
    """Energy compatibility: ``max(0, (5 - |a - b|) / 5)`` for levels 1..10.

    Parameters
    ----------
    energy_a, energy_b : int or array-like of int, broadcastable, in 1..10

    Returns
    -------
    float or numpy.ndarray of float64 in [0, 1]
        5 vs 7 -> 0.6; 1 vs 6 -> 0.0.
    """
    a = _as_energy(energy_a, "energy_a")
    b = _as_energy(energy_b, "energy_b")
    return _out(np.asarray(_energy_table()[np.abs(b - a)], dtype=np.float64))


# Unvalidated vectorised kernels, shared by the index and the brute-force reference so that
# both compute bit-identical numbers (element-wise operations only).


def _tempo_match(a: np.ndarray | float, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``b`` minus the nearest of ``a``, ``2 a``, ``a / 2`` (ties: that order), and that multiple (1, 2 or 0.5);
    ``b - a`` and 1 where none is within :data:`TEMPO_WINDOW_BPM`."""
    a = np.asarray(a, dtype=np.float64)
    delta = np.asarray(b - a, dtype=np.float64)
    factor = np.ones_like(delta)
    best = np.abs(delta)
    for f in (2.0, 0.5):
        cand = b - f * a
        dist = np.abs(cand)
        better = dist < best
        delta = np.where(better, cand, delta)
        factor = np.where(better, f, factor)
        best = np.where(better, dist, best)
    # no multiple comes within the tempo window (the tempo term is 0 either way): the plain difference,
    # so that 89.9 against 120.2 reads -30, not +30 "at half time" from 60.1
    far = best >= TEMPO_WINDOW_BPM
    return np.where(far, b - a, delta), np.where(far, 1.0, factor)


def _tempo_delta(a: np.ndarray | float, b: np.ndarray) -> np.ndarray:
    return _tempo_match(a, b)[0]


def _tempo_from_delta(delta: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, (TEMPO_WINDOW_BPM - np.abs(delta)) / TEMPO_WINDOW_BPM)


# --------------------------------------------------------------------------- weights

WeightsLike = Union["Weights", Mapping[str, float], None]


@dataclass(frozen=True)
class Weights:
    """How much each component counts in the combined score.

    Weights are relative: the combined score is ``sum(w_i * score_i) / sum(w_i)``, so it stays
    in [0, 1] and ``Weights(2, 0, 0, 0)`` ranks exactly like ``Weights(1, 0, 0, 0)``.

    Parameters
    ----------
    vibe, tempo, key, energy : float, finite, >= 0
        Relative weights; at least one must be > 0. Defaults 0.5 / 0.2 / 0.2 / 0.1.

    Raises
    ------
    ParameterError
        A weight is not a finite number >= 0, or they are all 0.
    """

    vibe: float = 0.50
    tempo: float = 0.20
    key: float = 0.20
    energy: float = 0.10

    def __post_init__(self) -> None:
        total = 0.0
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ParameterError(f"weights[{f.name!r}] must be a real number >= 0; got {value!r}")
            number = float(value)
            if not math.isfinite(number):
                raise ParameterError(f"weights[{f.name!r}] must be finite; got {value!r}")
            if number < 0:
                raise ParameterError(f"weights[{f.name!r}] must be >= 0; got {value!r}")
            object.__setattr__(self, f.name, number)
            total += number
        if not total > 0:
            raise ParameterError(f"weights must have a sum > 0 (at least one weight > 0); got {self!r}")

    @classmethod
    def coerce(cls, value: WeightsLike) -> Weights:
        """``None`` -> the defaults; a mapping -> ``Weights(**mapping)`` (missing names keep their default).

        Parameters
        ----------
        value : Weights, mapping of str to float, or None
            A :class:`Weights` is returned as it is.

        Raises
        ------
        ParameterError
            Unknown names, or a value of another type.
        """
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            allowed = tuple(f.name for f in fields(cls))
            unknown = [name for name in value if name not in allowed]
            if unknown:
                raise ParameterError(f"weights keys must be among {allowed}; got {unknown[0]!r}")
            return cls(**dict(value))
        raise ParameterError(f"weights must be a Weights, a mapping of {{name: weight}} or None; got {value!r}")

    def normalized(self) -> tuple[float, float, float, float]:
        """``(vibe, tempo, key, energy)`` divided by their sum (they add up to 1)."""
        total = self.vibe + self.tempo + self.key + self.energy
        return (self.vibe / total, self.tempo / total, self.key / total, self.energy / total)
