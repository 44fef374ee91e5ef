"""A user's corrections of one track's analysis (BPM, first downbeat, key), locked against re-analysis.

The seed design promises that a user can override any AI suggestion and lock the edit from
re-analysis. A correction lives in ``track_corrections`` and is applied on top of the stored
analysis by :func:`workbench.analysis.track_analysis`, so every consumer sees it:

- a corrected ``bpm`` re-derives the beat grid: metronomic beats ``60 / bpm`` seconds apart,
  through the first downbeat (the corrected one, else the analysed one, else the first
  analysed beat), covering the whole track; bars start on every fourth beat from there;
- a corrected ``first_downbeat_s`` alone keeps the analysed beats and moves the bar phase to
  the beat nearest that time;
- a corrected ``key`` sets the key name and its Camelot code (confidence 1); a key-only
  correction keeps the analysed beats;
- a ``grid_offset_s`` (schema v6) moves every beat and downbeat by that many seconds after the
  above (a grid that sits a little early or late): :func:`nudge_grid`. The beats keep their
  indices, so section labels (stored in beats) stay on the same beats and their seconds follow.

:func:`shift_downbeats` moves the bar phase by whole beats (a first downbeat ``k`` beats later or
earlier), stored as ``first_downbeat_s``; the beats do not move.

A locked correction survives ``workbench analyze --force``; an unlocked one is dropped by it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from workbench.analysis.core import Analysis
from workbench.analysis.stored import stored_analysis
from workbench.camelot import key_name, parse_key, to_camelot
from workbench.errors import ParameterError, StoreError
from workbench.library import Library, Track
from workbench.store import transaction, utc_now
from workbench.validate import check_bool

#: Corrected tempos allowed (BPM), as for a :class:`~workbench.analysis.BpmPrior`.
MIN_BPM, MAX_BPM = 30.0, 300.0


@dataclass(frozen=True)
class Correction:
    """One track's correction; a field left ``None`` keeps the analysed value.

    ``bpm`` in BPM, ``first_downbeat_s`` in seconds from the start of the file, ``key`` a key
    name (``"A minor"``), ``camelot`` its code (``"8A"``), ``grid_offset_s`` seconds every beat
    is moved by (positive: later).
    """

    track_id: int
    bpm: float | None
    first_downbeat_s: float | None
    key: str | None
    locked: bool
    updated_at: str
    grid_offset_s: float | None = None

    @property
    def camelot(self) -> str | None:
        return None if self.key is None else to_camelot(*parse_key(self.key))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "camelot": self.camelot}

    def describe(self) -> str:
        """``"bpm 140, downbeat 0.43 s, key A minor (8A), locked"``."""
        parts = []
        if self.bpm is not None:
            parts.append(f"bpm {self.bpm:g}")
        if self.first_downbeat_s is not None:
            parts.append(f"first downbeat {self.first_downbeat_s:g} s")
        if self.key is not None:
            parts.append(f"key {self.key} ({self.camelot})")
        if self.grid_offset_s:
            parts.append(f"grid {self.grid_offset_s * 1000:+g} ms")
        return ", ".join(parts + ["locked" if self.locked else "unlocked"])

    def apply(self, analysis: Analysis) -> Analysis:
        """``analysis`` with this correction on top (see the module docstring).

        Parameters
        ----------
        analysis : Analysis
            The track's analysis as analysed.

        Returns
        -------
        Analysis
            A corrected copy: a corrected BPM re-draws a metronomic beat grid (downbeats every 4 beats
            from the anchor), a first downbeat re-phases the downbeats, a key replaces the key, a
            grid offset moves every beat (kept when it would push a beat outside the track).
        """
        a = analysis
        if self.bpm is not None:
            period_s = 60.0 / self.bpm
            if self.first_downbeat_s is not None:
                anchor = self.first_downbeat_s
            elif a.downbeats:
                anchor = a.downbeats[0]
            else:
                anchor = a.beats[0] if a.beats else 0.0
            n_before = int(math.floor(anchor / period_s + 1e-9))
            start = anchor - n_before * period_s
            beats = start + period_s * np.arange(int(math.floor((a.duration_s - start) / period_s)) + 1)
            beats = beats[beats < a.duration_s]
            a = replace(a, bpm=round(float(self.bpm), 3), beats=tuple(float(t) for t in beats),
                        downbeats=tuple(float(t) for t in beats[n_before % 4::4]), tempo_stability=1.0,
                        felt_bpm=None, beat_confidence=1.0)
        elif self.first_downbeat_s is not None and a.beats:
            beats = np.asarray(a.beats)
            phase = int(np.argmin(np.abs(beats - self.first_downbeat_s))) % 4
            a = replace(a, downbeats=tuple(float(t) for t in beats[phase::4]))
        if self.key is not None:
            a = replace(a, key=self.key, camelot=self.camelot, key_confidence=1.0,  # type: ignore[arg-type]
                        has_key=True)
        if self.grid_offset_s and a.beats and _offset_fits(a.beats, self.grid_offset_s, a.duration_s):
            off = self.grid_offset_s
            a = replace(a, beats=tuple(t + off for t in a.beats), downbeats=tuple(t + off for t in a.downbeats))
        return a


def _offset_fits(beats: tuple[float, ...] | np.ndarray, offset_s: float, duration_s: float) -> bool:
    """Whether moving every beat by ``offset_s`` keeps them all inside ``[0, duration_s)``."""
    return len(beats) == 0 or (beats[0] + offset_s >= 0 and beats[-1] + offset_s < duration_s)


def _check_bpm(bpm: object) -> float | None:
    if bpm is None:
        return None
    if isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not math.isfinite(bpm) \
            or not MIN_BPM <= bpm <= MAX_BPM:
        raise ParameterError(f"bpm must be a number in [{MIN_BPM:g}, {MAX_BPM:g}] BPM; got {bpm!r}")
    return float(bpm)


def _check_downbeat(first_downbeat_s: object, duration_s: float) -> float | None:
    if first_downbeat_s is None:
        return None
    if isinstance(first_downbeat_s, bool) or not isinstance(first_downbeat_s, (int, float)) \
            or not math.isfinite(first_downbeat_s) or not 0 <= first_downbeat_s < duration_s:
        raise ParameterError(f"first_downbeat_s must be a time in [0, {duration_s:.2f}) seconds (the track's "
                             f"length); got {first_downbeat_s!r}")
    return float(first_downbeat_s)


def _check_key(key: object) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str):
        raise ParameterError(f"key must be a key name such as 'A minor' or a Camelot code 1A..12B; got {key!r}")
    try:
        return key_name(*parse_key(key))
    except ParameterError as exc:
        raise ParameterError(f"key must be a key name such as 'A minor', 'F# major', 'Bbm' or a Camelot code "
                             f"1A..12A (minor) / 1B..12B (major); got {key!r}") from exc


def _track(library: Library, track: Track | int | str) -> Track:
    return track if isinstance(track, Track) else library.track(track)


def get_correction(library: Library, track: Track | int | str) -> Correction | None:
    """The correction of ``track`` (id, hash, path or :class:`Track`), or ``None``.

    Parameters
    ----------
    library : Library
    track : Track, int or str
        The track, or its id, content hash or path.

    Returns
    -------
    Correction or None

    Raises
    ------
    TrackNotFoundError
        If ``track`` names no track.
    """
    t = _track(library, track)
    r = library.conn.execute("SELECT * FROM track_corrections WHERE track_id = ?", (t.id,)).fetchone()
    if r is None:
        return None
    return Correction(int(r["track_id"]), r["bpm"], r["first_downbeat_s"], r["key"], bool(r["locked"]),
                      r["updated_at"], r["grid_offset_s"])


def correct_track(library: Library, track: Track | int | str, *, bpm: float | None = None,
                  first_downbeat_s: float | None = None, key: str | None = None,
                  locked: bool = True) -> Correction:
    """Correct a track's BPM, first downbeat and/or key by hand; every consumer sees the correction.

    Fields not given keep what an earlier correction of the track set.

    Parameters
    ----------
    library : Library
    track : Track, int or str
        The track: id, content hash, path or :class:`Track`.
    bpm : float in [30, 300] or None
        The tempo in BPM; the beat grid is re-derived from it.
    first_downbeat_s : float or None
        Seconds from the start to the first beat of a bar, in ``[0, duration_s)``.
    key : str or None
        A key name (``"A minor"``, ``"F# major"``, ``"Bbm"``) or a Camelot code (``"8A"``).
    locked : bool
        Keep the correction when the track is re-analysed (``analyze --force``).

    Returns
    -------
    Correction
        What is stored now.

    Raises
    ------
    ParameterError
        No field given (and none stored before), a value out of its range, or a first downbeat
        without a bpm for a track whose analysis found no beat.
    TrackNotFoundError
        No such track.
    """
    t = _track(library, track)
    check_bool("locked", locked)
    new = {"bpm": _check_bpm(bpm), "first_downbeat_s": _check_downbeat(first_downbeat_s, t.duration_s),
           "key": _check_key(key)}
    old = get_correction(library, t)
    merged = {name: value if value is not None else (getattr(old, name) if old else None)
              for name, value in new.items()}
    if all(v is None for v in merged.values()):
        raise ParameterError("a correction needs at least one of bpm, first_downbeat_s, key; got none")
    if merged["first_downbeat_s"] is not None and merged["bpm"] is None:
        a = stored_analysis(library, t)
        if a is not None and not a.beats:
            raise ParameterError(f"track {t.id} ({t.name}) has no analysed beats, so a first downbeat alone places "
                                 "no grid: give bpm too")
    with transaction(library.conn):
        library.conn.execute(
            "INSERT INTO track_corrections (track_id, bpm, first_downbeat_s, key, locked, updated_at) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT (track_id) DO UPDATE SET bpm = excluded.bpm, "
            "first_downbeat_s = excluded.first_downbeat_s, key = excluded.key, locked = excluded.locked, "
            "updated_at = excluded.updated_at",
            (t.id, merged["bpm"], merged["first_downbeat_s"], merged["key"], int(locked), utc_now()))
    stored = get_correction(library, t)
    if stored is None:  # another process deleted it between the write and the read
        raise StoreError(f"{library.path}: the correction just written is gone (another process removed it)")
    return stored


def clear_correction(library: Library, track: Track | int | str) -> Correction | None:
    """Remove (unlock) a track's correction: the analysed values show again. Returns what was removed.

    Parameters
    ----------
    library : Library
    track : Track, int or str
        The track, or its id, content hash or path.

    Returns
    -------
    Correction or None
        The correction removed; None when there was none.

    Raises
    ------
    TrackNotFoundError
        If ``track`` names no track.
    """
    t = _track(library, track)
    old = get_correction(library, t)
    with transaction(library.conn):
        library.conn.execute("DELETE FROM track_corrections WHERE track_id = ?", (t.id,))
    return old


def list_corrections(library: Library) -> list[Correction]:
    """Every stored correction, by track id.

    Parameters
    ----------
    library : Library

    Returns
    -------
    list of Correction
    """
    ids = [r[0] for r in library.conn.execute("SELECT track_id FROM track_corrections ORDER BY track_id")]
    return [c for c in (get_correction(library, i) for i in ids) if c is not None]


def _store_grid_fields(library: Library, t: Track, *, first_downbeat_s: float | None, grid_offset_s: float | None,
                       locked: bool) -> Correction:
    """Upsert the grid fields of ``t``'s correction (other fields kept); the stored correction."""
    with transaction(library.conn):
        library.conn.execute(
            "INSERT INTO track_corrections (track_id, first_downbeat_s, grid_offset_s, locked, updated_at) "
            "VALUES (?,?,?,?,?) ON CONFLICT (track_id) DO UPDATE SET first_downbeat_s = excluded.first_downbeat_s, "
            "grid_offset_s = excluded.grid_offset_s, locked = excluded.locked, updated_at = excluded.updated_at",
            (t.id, first_downbeat_s, grid_offset_s, int(locked), utc_now()))
    stored = get_correction(library, t)
    if stored is None:  # another process deleted it between the write and the read
        raise StoreError(f"{library.path}: the correction just written is gone (another process removed it)")
    return stored


def _unnudged_grid(library: Library, t: Track, old: Correction | None) -> Analysis:
    """The track's stored analysis with its correction on top but without the grid nudge."""
    a = stored_analysis(library, t)
    if a is not None and old is not None:
        a = replace(old, grid_offset_s=None).apply(a)
    if a is None or not a.beats:
        raise ParameterError(f"track {t.id} ({t.name}) has no analysed beats: there is no grid to correct "
                             "(analyse it, or give its bpm with correct_track first)")
    return a


def shift_downbeats(library: Library, track: Track | int | str, beats: int, *, locked: bool = True) -> Correction:
    """Move the track's bar phase by ``beats`` beats (the downbeats), stored as its locked correction.

    The beats stay where they are; only which of them start a bar changes (``first_downbeat_s``
    becomes the beat ``beats`` after the current first downbeat, taken modulo 4 so it stays near
    the start). Labels, stored in beats, do not move; their bar numbers change.

    Parameters
    ----------
    library : Library
    track : Track, int or str
        The track: id, content hash, path or :class:`Track`.
    beats : int
        Beats to move the downbeats by: ``1`` (one beat later), ``-1`` (one earlier), ...;
        not a multiple of 4 (that is no change).
    locked : bool
        Keep the correction when the track is re-analysed.

    Returns
    -------
    Correction
        What is stored now.

    Raises
    ------
    ParameterError
        ``beats`` is not a non-zero int that is not a multiple of 4, or the track has no beats.
    TrackNotFoundError
        No such track.
    """
    if isinstance(beats, bool) or not isinstance(beats, (int, np.integer)) or int(beats) % 4 == 0:
        raise ParameterError(f"beats must be an int that is not a multiple of 4 (bars are 4 beats: a multiple "
                             f"moves nothing); got {beats!r}")
    t = _track(library, track)
    check_bool("locked", locked)
    old = get_correction(library, t)
    a = _unnudged_grid(library, t, old)
    grid = np.asarray(a.beats)
    first = int(np.argmin(np.abs(grid - a.downbeats[0]))) if a.downbeats else 0
    j = (first + int(beats)) % 4
    if j >= len(grid):
        raise ParameterError(f"track {t.id} ({t.name}) has only {len(grid)} beats: no downbeat {beats:+d} beats away")
    return _store_grid_fields(library, t, first_downbeat_s=float(grid[j]),
                              grid_offset_s=old.grid_offset_s if old else None, locked=locked)


#: Largest single grid nudge, in milliseconds.
MAX_NUDGE_MS = 500.0


def nudge_grid(library: Library, track: Track | int | str, offset_ms: float, *, locked: bool = True) -> Correction:
    """Move every beat of the track by ``offset_ms`` milliseconds (added to any earlier nudge), stored as its locked correction.

    The beats keep their indices: labels (stored in beats) stay on the same beats and their
    seconds follow the grid (:meth:`workbench.labels.Labels.nudge_grid` re-times them).

    Parameters
    ----------
    library : Library
    track : Track, int or str
        The track: id, content hash, path or :class:`Track`.
    offset_ms : float in [-500, 500], not 0
        Milliseconds; positive moves the grid later.
    locked : bool
        Keep the correction when the track is re-analysed.

    Returns
    -------
    Correction
        What is stored now (``grid_offset_s`` the total nudge; 0 total clears it).

    Raises
    ------
    ParameterError
        ``offset_ms`` is not a non-zero number within +-500 ms, the total would pass +-1 s, a
        beat would leave the track, or the track has no beats.
    TrackNotFoundError
        No such track.
    """
    if isinstance(offset_ms, bool) or not isinstance(offset_ms, (int, float, np.integer, np.floating)) \
            or not math.isfinite(offset_ms) or offset_ms == 0 or abs(offset_ms) > MAX_NUDGE_MS:
        raise ParameterError(f"offset_ms must be a non-zero number of milliseconds within +-{MAX_NUDGE_MS:g}; "
                             f"got {offset_ms!r}")
    t = _track(library, track)
    check_bool("locked", locked)
    old = get_correction(library, t)
    a = _unnudged_grid(library, t, old)
    before = (old.grid_offset_s or 0.0) if old else 0.0
    total = round(before + float(offset_ms) / 1000.0, 6)
    if abs(total) > 1.0:
        raise ParameterError(f"offset_ms={offset_ms!r} makes the grid's total nudge {total * 1000:+.0f} ms; the "
                             "total must stay within +-1000 ms")
    if not _offset_fits(a.beats, total, a.duration_s):
        raise ParameterError(f"offset_ms={offset_ms!r} moves a beat outside the track (first beat "
                             f"{a.beats[0]:.3f} s, last {a.beats[-1]:.3f} s of {a.duration_s:.3f} s)")
    return _store_grid_fields(library, t, first_downbeat_s=old.first_downbeat_s if old else None,
                              grid_offset_s=total or None, locked=locked)
