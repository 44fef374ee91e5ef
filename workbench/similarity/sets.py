"""Whole-track similarity from window sets: a vibe that survives excerpts, and tracks with no beat.

Each track is a small set of unit window vectors (with weights: how many of the track's windows
each stands for). The *vibe* of a candidate for a query is set-to-set:

``cover(q, c) = sum_i w_i * max_j cos(q_i, c_j) / sum_i w_i``, clipped to [0, 1]

-- how well the candidate's windows cover each of the query's. Audio given as a query (a file, a
:class:`SetQuery`) asks which tracks cover it: ``vibe = cover(q, c)``, so an excerpt of a track is
matched by that track almost perfectly (each of its windows is near one of the track's), where
one mean vector of the whole track would drift away from the excerpt's mean. A library track
asked about is compared whole against whole: ``vibe = (cover(q, c) + cover(c, q)) / 2``
(symmetric; a track that merely contains a sound like each of the query's is not enough).
In an experiment on the feature frontend's windows (vibe alone), the symmetric score found the
folder better on 19 real tracks (precision@3 0.56 vs 0.40 one-sided), and the one-sided one
found the own track of every 30-s excerpt of the demo's held-out tracks (12 of 12; symmetric 9).

The raw score is then calibrated on the library (:meth:`TrackSetIndex.calibrate`): ``vibe =
(raw - baseline) / (1 - baseline)``, clipped, with ``baseline`` the median raw score of two
different tracks, so 0 % is "no more alike than a typical pair" and the vibe term, not the
others, separates the tracks.

The combined score is the weighted mean of the terms that are *known*: a track (or query) with no
steady beat has no tempo, so the tempo term is left out of its weighted mean (not scored 0) and the
explanation says ``tempo unknown``. Scoring is exact brute force over every window (numpy); a
library of ``n`` tracks costs ``n x max_windows x d`` floats of memory.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.camelot import code_at
from workbench.errors import IndexFileError, IndexNotFoundError, ParameterError, TrackNotFoundError
from workbench.fileio import atomic_write, atomic_write_bytes
from workbench.similarity._inputs import check_k, check_min_score, is_track_id, normalize_rows
from workbench.similarity.query import Match, format_explanation
from workbench.similarity.scores import (
    Weights,
    WeightsLike,
    _energy_table,
    _key_tables,
    _tempo_delta,
    _tempo_from_delta,
    camelot_index,
)
from workbench.similarity.scoring import top_k_order

_FILE = "track-sets.npz"
_MANIFEST = "track-sets.json"
_FORMAT = 1


@dataclass(frozen=True, eq=False)
class SetQuery:
    """Audio that is not (necessarily) in the index: its window vectors and analysis.

    Parameters
    ----------
    windows : np.ndarray [shape=(m, d)]
        Window vectors in the index's space (any scale: L2-normalised here).
    bpm : float > 0 or None
        Tempo in BPM; None when the audio has no steady beat (the tempo term is then unknown).
    camelot : str
        Camelot key code.
    energy : int in 1..10
        Energy level.
    weights : np.ndarray [shape=(m,)] or None
        How much each window counts; None: equally.
    symmetric : bool
        Score whole against whole (as for a library track) instead of "which tracks cover this audio".
    """

    windows: np.ndarray
    bpm: float | None
    camelot: str
    energy: int
    weights: np.ndarray | None = None
    symmetric: bool = False


@dataclass(frozen=True)
class _Resolved:
    q: np.ndarray  # (m, d) unit rows
    qw: np.ndarray  # (m,) weights
    bpm: float | None
    key: int | None
    energy: int | None
    self_row: int | None
    symmetric: bool = False


class TrackSetIndex:
    """Explained similarity search over tracks held as window sets (see the module docstring).

    Parameters
    ----------
    dim : int >= 1
        Length of a window vector.
    """

    def __init__(self, dim: int) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ParameterError(f"dim must be an integer >= 1; got {dim!r}")
        self._dim = dim
        self._ids = np.zeros(0, np.int64)
        self._offsets = np.zeros(1, np.int64)
        self._windows = np.zeros((0, dim), np.float32)
        self._wweights = np.zeros(0, np.float32)
        self.baseline = 0.0  # the raw set score of a typical pair of tracks (see calibrate)
        self._bpm = np.zeros(0, np.float64)
        self._key = np.zeros(0, np.int8)
        self._energy = np.zeros(0, np.int8)

    # -- properties ------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._ids.shape[0])

    def __contains__(self, track_id: object) -> bool:
        return is_track_id(track_id) and bool((self._ids == int(track_id)).any())  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"TrackSetIndex({len(self)} tracks, {self._windows.shape[0]} windows, dim={self._dim})"

    @property
    def dim(self) -> int:
        """Window vector length ``d``."""
        return self._dim

    @property
    def ids(self) -> np.ndarray:
        """Track ids, shape (n,), int64 (a copy)."""
        return self._ids.copy()

    @property
    def exact(self) -> bool:
        """Always True: every window of every track is scored."""
        return True

    def windows_of(self, track_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(unit window vectors (m, d), their weights (m,)) of an indexed track.

        Parameters
        ----------
        track_id : int
            A track in the index.
        """
        row = self._row(track_id)
        a, b = self._offsets[row], self._offsets[row + 1]
        return self._windows[a:b].copy(), self._wweights[a:b].copy()

    def _row(self, track_id: int) -> int:
        hit = np.flatnonzero(self._ids == int(track_id))
        if hit.size == 0:
            raise TrackNotFoundError(f"track id {int(track_id)} is not in the similarity index")
        return int(hit[0])

    # -- mutation --------------------------------------------------------------------------
    def add(self, track_id: int, windows: np.ndarray, *, bpm: float | None, camelot: str, energy: int,
            weights: np.ndarray | None = None) -> None:
        """Add one track.

        Parameters
        ----------
        track_id : int
            Not in the index yet.
        windows : np.ndarray [shape=(m >= 1, dim)]
            Its window vectors (L2-normalised here).
        bpm : float > 0 or None
            Tempo; None for a track with no steady beat.
        camelot : str
            Camelot key code.
        energy : int in 1..10
            Energy level.
        weights : np.ndarray [shape=(m,)] or None
            Weight of each window; None: equal.

        Raises
        ------
        ParameterError
            The id is indexed already, or a value is out of range.
        """
        if not is_track_id(track_id):
            raise ParameterError(f"track_id must be an integer; got {track_id!r}")
        if int(track_id) in self:
            raise ParameterError(f"track_id must not already be in the index; id {int(track_id)} is")
        w, ww = self._window_set(windows, weights, f"track {int(track_id)}'s windows")
        if bpm is not None and not (isinstance(bpm, (int, float)) and math.isfinite(bpm) and bpm > 0):
            raise ParameterError(f"bpm must be a number > 0 or None; got {bpm!r}")
        if isinstance(energy, bool) or not isinstance(energy, (int, np.integer)) or not 1 <= int(energy) <= 10:
            raise ParameterError(f"energy must be an integer in 1..10; got {energy!r}")
        key = int(camelot_index(np.array([camelot], dtype=object))[0])
        self._ids = np.append(self._ids, np.int64(track_id))
        self._windows = np.vstack([self._windows, w])
        self._wweights = np.concatenate([self._wweights, ww])
        self._offsets = np.append(self._offsets, self._windows.shape[0])
        self._bpm = np.append(self._bpm, np.nan if bpm is None else float(bpm))
        self._key = np.append(self._key, np.int8(key))
        self._energy = np.append(self._energy, np.int8(energy))

    def remove(self, ids: list[int]) -> None:
        """Remove tracks by id (all or none).

        Parameters
        ----------
        ids : list of int
            Tracks in the index.

        Raises
        ------
        TrackNotFoundError
            An id is not in the index.
        """
        rows = [self._row(i) for i in ids]
        keep = np.ones(len(self), dtype=bool)
        keep[rows] = False
        lengths = np.diff(self._offsets)
        wkeep = np.repeat(keep, lengths)
        self._ids, self._bpm, self._key, self._energy = (a[keep] for a in (self._ids, self._bpm, self._key, self._energy))
        self._windows, self._wweights = self._windows[wkeep], self._wweights[wkeep]
        self._offsets = np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64)

    def _window_set(self, windows: Any, weights: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
        w = np.asarray(windows)
        if w.ndim == 1:
            w = w[None, :]
        if w.ndim != 2 or w.shape[0] == 0 or w.shape[1] != self._dim:
            raise ParameterError(f"{name} must have shape (m >= 1, {self._dim}) (the index's dimension); got {w.shape}")
        unit = normalize_rows(w, name=name)
        ww = np.ones(unit.shape[0], np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
        if ww.shape != (unit.shape[0],) or not (np.isfinite(ww).all() and (ww > 0).all()):
            raise ParameterError(f"{name}: weights must be {unit.shape[0]} positive numbers; got {np.shape(weights)}")
        return unit, ww

    # -- search ----------------------------------------------------------------------------
    def vibe(self, q: np.ndarray, qw: np.ndarray, *, symmetric: bool = False) -> np.ndarray:
        """Set-to-set vibe of every track for unit query windows ``q`` with weights ``qw``.

        Parameters
        ----------
        q : np.ndarray [shape=(m, dim)]
            Unit query windows.
        qw : np.ndarray [shape=(m,)]
            Their weights.
        symmetric : bool
            ``(cover(q, c) + cover(c, q)) / 2`` instead of ``cover(q, c)`` (module docstring).

        Returns
        -------
        np.ndarray [shape=(len(self),), dtype=float64]
            In [0, 1].
        """
        if len(self) == 0:
            return np.zeros(0)
        sims = np.asarray(q, np.float32) @ self._windows.T  # (m, total windows)
        best = np.maximum.reduceat(sims, self._offsets[:-1], axis=1)  # (m, n): each track's closest window
        out = (np.asarray(qw, np.float64) @ best.astype(np.float64)) / float(np.sum(qw))
        if symmetric:  # each candidate window's closest query window, weighted, per track
            back = sims.max(axis=0).astype(np.float64) * self._wweights
            totals = np.add.reduceat(self._wweights.astype(np.float64), self._offsets[:-1])
            out = 0.5 * (out + np.add.reduceat(back, self._offsets[:-1]) / totals)
        return np.clip((out - self.baseline) / (1.0 - self.baseline), 0.0, 1.0)

    def calibrate(self, *, max_queries: int = 200, seed: int = 0) -> float:
        """Set :attr:`baseline` to the median raw (symmetric) score of two different tracks, and return it.

        Vibe is then ``(raw - baseline) / (1 - baseline)``, clipped to [0, 1]: 0 % means no more alike
        than a typical pair of this library's tracks, 100 % the same sound. Without it a set score
        is high for every pair (every track has some window like some window of another), the
        vibe term barely separates tracks and tempo, key and energy decide the ranking.

        Parameters
        ----------
        max_queries : int >= 1
            Tracks asked (a seeded sample when there are more).
        seed : int
            Seeds the sample.
        """
        self.baseline = 0.0
        n = len(self)
        if n < 2:
            return 0.0
        rows = np.arange(n)
        if n > max_queries:
            rows = np.sort(np.random.default_rng(seed).choice(n, size=max_queries, replace=False))
        raw = []
        for row in rows.tolist():
            q, qw = self.windows_of(int(self._ids[row]))
            v = self.vibe(q, qw, symmetric=True)
            raw.append(np.delete(v, row))
        self.baseline = float(min(0.99, max(0.0, np.median(np.concatenate(raw)))))
        return self.baseline

    def _resolve(self, query: Any) -> _Resolved:
        if is_track_id(query):
            row = self._row(int(query))
            q, qw = self.windows_of(int(query))
            bpm = None if math.isnan(self._bpm[row]) else float(self._bpm[row])
            return _Resolved(q, qw, bpm, int(self._key[row]), int(self._energy[row]), row, symmetric=True)
        if isinstance(query, SetQuery):
            q, qw = self._window_set(query.windows, query.weights, "query windows")
            key = int(camelot_index(np.array([query.camelot], dtype=object))[0])
            return _Resolved(q, qw, query.bpm, key, int(query.energy), None, symmetric=bool(query.symmetric))
        if isinstance(query, np.ndarray):
            q, qw = self._window_set(query, None, "query vector")
            return _Resolved(q, qw, None, None, None, None)
        raise ParameterError(f"query must be a track id (int), a SetQuery or a vector of length {self._dim}; "
                             f"got {type(query).__name__}")

    def similar(self, query: Any, *, k: int = 10, min_score: float | None = None, weights: WeightsLike = None,
                exclude_self: bool = True) -> list[Match]:
        """The ``k`` tracks with the best combined score, best first (score desc, then id asc), explained.

        Parameters
        ----------
        query : int, SetQuery or np.ndarray [shape=(dim,) or (m, dim)]
            A track id in the index (scored whole against whole), audio outside it (which tracks
            cover it), or raw window vectors (vibe only).
        k : int >= 1
            How many matches at most.
        min_score : float in [0, 1] or None
            Leave out matches scoring below it.
        weights : Weights, mapping or None
            Term weights; None: the defaults. The tempo term is left out wherever a tempo is unknown.
        exclude_self : bool
            Leave a track id query's own track out.

        Raises
        ------
        TrackNotFoundError
            ``query`` is an id not in the index.
        ParameterError
            Bad ``k``, ``min_score``, ``weights`` or query.
        """
        k = check_k(k)
        min_score = check_min_score(min_score)
        w = Weights() if weights is None else Weights.coerce(weights)
        r = self._resolve(query)
        vibe = self.vibe(r.q, r.qw, symmetric=r.symmetric)
        n = len(self)
        if r.key is None:  # raw vectors: only the vibe is known
            if w.vibe == 0:
                raise ParameterError("weights['vibe'] must be > 0 for a query by raw vector (only its vibe is known); got 0.0")
            score = vibe.copy()
            tempo_known = np.zeros(n, dtype=bool)
            tempo = keys = energies = np.zeros(n)
            delta = e_delta = None
        else:
            tempo_known = np.isfinite(self._bpm) & (r.bpm is not None)
            delta = _tempo_delta(r.bpm if r.bpm is not None else 1.0, np.where(tempo_known, self._bpm, 1.0))
            tempo = np.where(tempo_known, _tempo_from_delta(delta), 0.0)
            keys = _key_tables()[1][r.key][self._key]
            e_delta = self._energy.astype(np.int64) - int(r.energy)  # type: ignore[arg-type]
            energies = _energy_table()[np.abs(e_delta)]
            wt = np.where(tempo_known, w.tempo, 0.0)
            total = w.vibe + wt + w.key + w.energy
            num = w.vibe * vibe + wt * tempo + w.key * keys + w.energy * energies
            score = np.divide(num, total, out=np.zeros(n), where=total > 0)
        score = np.clip(score, 0.0, 1.0)
        if exclude_self and r.self_row is not None:
            score[r.self_row] = -math.inf
        order = top_k_order(score, self._ids, k)
        out = []
        key_from = code_at(r.key) if r.key is not None else None
        for row in order.tolist():
            s = float(score[row])
            if min_score is not None and s < min_score:
                continue
            known = r.key is not None
            t_known = bool(tempo_known[row])
            d = float(delta[row]) if (known and t_known and delta is not None) else None
            ed = int(e_delta[row]) if (known and e_delta is not None) else None
            key_to = code_at(int(self._key[row]))
            out.append(Match(
                id=int(self._ids[row]), score=s, vibe=float(vibe[row]),
                tempo=float(tempo[row]) if (known and t_known) else None,
                key=float(keys[row]) if known else None, energy=float(energies[row]) if known else None,
                bpm_delta=d, key_from=key_from, key_to=key_to, energy_delta=ed,
                explanation=format_explanation(vibe=float(vibe[row]), bpm_delta=d, key_from=key_from, key_to=key_to,
                                               energy_delta=ed, tempo_unknown=known and not t_known)))
        return out

    # -- persistence -----------------------------------------------------------------------
    def save(self, folder: str | os.PathLike[str], *, info: dict[str, Any] | None = None) -> Path:
        """Write ``track-sets.npz`` and then its manifest ``track-sets.json`` (atomically) in ``folder``.

        Parameters
        ----------
        folder : str or os.PathLike
            Created if needed.
        info : dict or None
            Extra JSON stored in the manifest (the model, track signatures).
        """
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)

        def write(tmp: Path) -> None:
            """Write the arrays to ``tmp``.

            Parameters
            ----------
            tmp : Path
                The temporary file :func:`~workbench.fileio.atomic_write` renames into place.
            """
            with open(tmp, "wb") as fh:
                np.savez(fh, ids=self._ids, offsets=self._offsets, windows=self._windows, wweights=self._wweights,
                         baseline=np.float64(self.baseline),
                         bpm=self._bpm, key=self._key, energy=self._energy)

        atomic_write(root / _FILE, write)
        manifest = {"format": _FORMAT, "dim": self._dim, "tracks": len(self), **(info or {})}
        atomic_write_bytes(root / _MANIFEST, json.dumps(manifest, indent=1).encode())
        return root / _MANIFEST

    @staticmethod
    def manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
        """The manifest :meth:`save` wrote in ``folder``, or None when there is none (or it is unreadable).

        Parameters
        ----------
        folder : str or os.PathLike
            The index's folder.
        """
        try:
            doc = json.loads((Path(folder) / _MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) and doc.get("format") == _FORMAT else None

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> TrackSetIndex:
        """Read an index :meth:`save` wrote.

        Parameters
        ----------
        folder : str or os.PathLike
            The index's folder.

        Raises
        ------
        IndexNotFoundError
            No manifest in ``folder``.
        IndexFileError
            The arrays are missing or inconsistent.
        """
        doc = cls.manifest(folder)
        if doc is None:
            raise IndexNotFoundError(f"no track-set index in {str(folder)!r}")
        try:
            with np.load(Path(folder) / _FILE, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            obj = cls(int(doc["dim"]))
            obj._ids, obj._offsets = arrays["ids"].astype(np.int64), arrays["offsets"].astype(np.int64)
            obj._windows, obj._wweights = arrays["windows"].astype(np.float32), arrays["wweights"].astype(np.float32)
            obj.baseline = float(arrays["baseline"]) if "baseline" in arrays else 0.0
            obj._bpm, obj._key, obj._energy = (arrays["bpm"].astype(np.float64), arrays["key"].astype(np.int8),
                                               arrays["energy"].astype(np.int8))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise IndexFileError(f"damaged track-set index in {str(folder)!r}: {exc}") from exc
        n = obj._ids.shape[0]
        if (obj._offsets.shape != (n + 1,) or obj._offsets[-1] != obj._windows.shape[0]
                or obj._windows.shape[1:] != (obj._dim,) or obj._bpm.shape != (n,)):
            raise IndexFileError(f"damaged track-set index in {str(folder)!r}: arrays do not match")
        return obj
