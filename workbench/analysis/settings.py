"""Analysis settings stored for a library, a folder or one track, and resolved per track.

A setting chosen once (``workbench analyze --prior 80-100@90``, or
:func:`set_analysis_settings` in a notebook) is stored in the ``analysis_settings`` table and
read by every consumer of an analysis (search, explorer, labeler, training, suggestions) through
:func:`workbench.analysis.track_analysis`. Each field resolves on its own, the most specific
scope winning: the track, then the deepest stored folder that contains the track's file, then
the library, then the defaults (:class:`AnalysisSettings`).

Targets are stored as: ``""`` for the library; a folder path relative to the workspace root when
it lies inside it, else absolute (as track paths are stored); a track's id for a track.

>>> set_analysis_settings(lib, prior="128-150@139")                      # doctest: +SKIP
>>> set_analysis_settings(lib, scope="folder", target="~/Music/dnb", prior="160-180")  # doctest: +SKIP
>>> effective_settings(lib, lib.track(12)).bpm_prior                     # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.analysis.beats import BpmPrior
from workbench.analysis.energy import DEFAULT_HOP_S
from workbench.analysis.key import DEFAULT_PROFILE, PROFILES
from workbench.errors import ParameterError, StoreError
from workbench.library import Library, Track
from workbench.store import transaction, utc_now

#: The scopes a setting is stored for, from the least to the most specific.
SCOPES: tuple[str, ...] = ("library", "folder", "track")
#: The fields a stored setting may hold.
FIELDS: tuple[str, ...] = ("bpm_prior", "key_profile", "energy_hop_s")


@dataclass(frozen=True)
class AnalysisSettings:
    """The settings one analysis runs with (the arguments of :func:`workbench.analysis.analyze`).

    ``bpm_prior`` ``None`` means ``BpmPrior()`` (70-185 BPM centred on 125).
    ``sources`` names, per field, the scope it came from (``"default"``, ``"library"``,
    ``"folder:<target>"`` or ``"track:<id>"``); it does not take part in equality.
    """

    bpm_prior: BpmPrior | None = None
    key_profile: str = DEFAULT_PROFILE
    energy_hop_s: float = DEFAULT_HOP_S
    sources: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~workbench.analysis.analyze` and the batch functions."""
        return {"bpm_prior": self.bpm_prior, "key_profile": self.key_profile, "energy_hop_s": self.energy_hop_s}


@dataclass(frozen=True)
class StoredSettings:
    """One row of ``analysis_settings``: the fields set for ``scope``/``target``.

    ``target`` is as stored (``""``, a workspace-relative or absolute folder, a track id);
    ``settings`` holds only the fields that were set, ``bpm_prior`` as a dict of BPM floats.
    """

    scope: str
    target: str
    settings: dict[str, Any]
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line: scope, target and each field, e.g. ``library: prior 80-100@90``."""
        where = self.scope if self.scope == "library" else f"{self.scope} {self.target}"
        parts = []
        for name in FIELDS:
            if name in self.settings:
                value = self.settings[name]
                parts.append(f"prior {format_prior(_prior(value))}" if name == "bpm_prior" else f"{name} {value}")
        return f"{where}: {', '.join(parts)}"


def format_prior(prior: BpmPrior | None) -> str:
    """``"MIN-MAX@CENTRE"`` (BPM, as :func:`parse_prior` reads it; the centre to 0.1 BPM), or
    ``"70-185@125 (default)"``.

    Parameters
    ----------
    prior : BpmPrior or None
        None means the default prior.

    Returns
    -------
    str
    """
    p = prior if prior is not None else BpmPrior()
    text = f"{p.min_bpm:g}-{p.max_bpm:g}@{round(p.center_bpm, 1):g}"  # a range's geometric mean: 89.4, not 89.4427
    if p.width_octaves != BpmPrior().width_octaves:
        text += f" (width {p.width_octaves:g} octaves)"
    return text + (" (default)" if prior is None else "")


def parse_prior(text: str | BpmPrior | None) -> BpmPrior | None:
    """``"trance"``, ``"MIN-MAX"`` or ``"MIN-MAX@CENTRE"`` (BPM) as a :class:`BpmPrior`.

    A :class:`BpmPrior` or ``None`` is returned as it is. Without a centre, the geometric
    mean of the range is the centre.

    Parameters
    ----------
    text : str, BpmPrior or None

    Returns
    -------
    BpmPrior or None

    Raises
    ------
    ParameterError
        Anything else, naming the value and the forms allowed.
    """
    if text is None or isinstance(text, BpmPrior):
        return text
    if not isinstance(text, str):
        raise ParameterError(f"prior must be a BpmPrior, 'trance', 'MIN-MAX' or 'MIN-MAX@CENTRE'; "
                             f"got {type(text).__name__}")
    if text.strip().lower() == "trance":
        return BpmPrior.trance()
    try:
        span, _, centre = text.partition("@")
        lo, hi = (float(v) for v in span.split("-"))
        return BpmPrior(min_bpm=lo, max_bpm=hi, center_bpm=float(centre) if centre else (lo * hi) ** 0.5)
    except ValueError as exc:
        if isinstance(exc, ParameterError):
            raise
        raise ParameterError(f"--prior must be 'trance', 'MIN-MAX' or 'MIN-MAX@CENTRE' in BPM; got {text!r}") from exc


def _prior(value: dict[str, float] | None) -> BpmPrior | None:
    return None if value is None else BpmPrior(**value)


def _check_fields(prior: str | BpmPrior | None, key_profile: str | None,
                  energy_hop_s: float | None) -> dict[str, Any]:
    """The given fields, validated, in their stored (JSON) form."""
    out: dict[str, Any] = {}
    if prior is not None:
        out["bpm_prior"] = asdict(parse_prior(prior))  # type: ignore[arg-type]
    if key_profile is not None:
        if key_profile not in PROFILES:
            raise ParameterError(f"key_profile must be one of {sorted(PROFILES)}; got {key_profile!r}")
        out["key_profile"] = key_profile
    if energy_hop_s is not None:
        if isinstance(energy_hop_s, bool) or not isinstance(energy_hop_s, (int, float)) \
                or not math.isfinite(energy_hop_s) or not 0.05 <= energy_hop_s <= 10:
            raise ParameterError(f"energy_hop_s must be a float in [0.05, 10] seconds; got {energy_hop_s!r}")
        out["energy_hop_s"] = float(energy_hop_s)
    return out


def scope_target(library: Library, scope: str, target: str | int | os.PathLike[str] | Track | None) -> str:
    """The stored form of ``target`` for ``scope`` (see the module docstring).

    Parameters
    ----------
    library : Library
    scope : {"library", "folder", "track"}
    target : path-like, int, str, Track or None
        The folder or the track (id, hash, path or :class:`Track`); None for the library.

    Returns
    -------
    str
        ``""`` for the library, the folder relative to the workspace, or the track id.

    Raises
    ------
    ParameterError
        An unknown scope, a target for the library scope, a missing target, or a folder that
        does not exist.
    TrackNotFoundError
        A track scope naming no track.
    """
    if scope not in SCOPES:
        raise ParameterError(f"scope must be one of {SCOPES}; got {scope!r}")
    if scope == "library":
        if target not in (None, ""):
            raise ParameterError(f"the library scope takes no target; got target={target!r}")
        return ""
    if target is None or target == "":
        raise ParameterError(f"scope {scope!r} needs a target (a {'folder path' if scope == 'folder' else 'track'}); "
                             "got none")
    if scope == "folder":
        if not isinstance(target, (str, os.PathLike)):
            raise ParameterError(f"a folder target must be a path; got {type(target).__name__}")
        folder = Path(target).expanduser()
        if not folder.is_absolute() and not folder.exists():
            folder = library.workspace.absolute(os.fspath(target))  # as stored: relative to the workspace
        if not folder.is_dir():
            raise ParameterError(f"folder must be an existing folder; got {os.fspath(target)!r}")
        return library.workspace.relative(folder)
    track = target if isinstance(target, Track) else library.track(target)  # type: ignore[arg-type]
    return str(track.id)


def _row(r: sqlite3.Row) -> StoredSettings:
    return StoredSettings(r["scope"], r["target"], json.loads(r["settings"]), r["updated_at"])


def set_analysis_settings(library: Library, *, scope: str = "library",
                          target: str | int | os.PathLike[str] | Track | None = None,
                          prior: str | BpmPrior | None = None, key_profile: str | None = None,
                          energy_hop_s: float | None = None) -> StoredSettings:
    """Store analysis settings for the library, a folder or a track; they are used from then on.

    Only the fields given change; the others keep what was stored for this scope and target.

    Parameters
    ----------
    library : Library
    scope : {"library", "folder", "track"}
    target : path-like, int, str or Track
        The folder (absolute, ``~``, or relative to the workspace root) or the track (id, hash,
        path or :class:`Track`); none for the library.
    prior : BpmPrior or str
        A :class:`BpmPrior`, ``"trance"``, ``"MIN-MAX"`` or ``"MIN-MAX@CENTRE"`` (BPM).
    key_profile : str
        A name in :data:`workbench.analysis.key.PROFILES` (``"shaath"``, the default, ``"edma"``,
        ``"bgate"``, ``"braw"``, ``"krumhansl"``, ``"temperley"``).
    energy_hop_s : float in [0.05, 10]
        Seconds per value of the energy curve.

    Returns
    -------
    StoredSettings
        What is stored now for this scope and target.

    Raises
    ------
    ParameterError
        No field given, or a bad value (see :func:`scope_target`).
    """
    fields = _check_fields(prior, key_profile, energy_hop_s)
    if not fields:
        raise ParameterError("set_analysis_settings needs at least one of prior, key_profile, energy_hop_s; got none")
    key = scope_target(library, scope, target)
    with transaction(library.conn):
        old = library.conn.execute("SELECT settings FROM analysis_settings WHERE scope = ? AND target = ?",
                                   (scope, key)).fetchone()
        merged = {**(json.loads(old[0]) if old else {}), **fields}
        library.conn.execute(
            "INSERT INTO analysis_settings (scope, target, settings, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT (scope, target) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
            (scope, key, json.dumps(merged, sort_keys=True), utc_now()))
    stored = get_analysis_settings(library, scope=scope, target=target)
    if stored is None:  # another process deleted it between the write and the read
        raise StoreError(f"{library.path}: the analysis settings just written is gone (another process removed it)")
    return stored


def get_analysis_settings(library: Library, *, scope: str = "library",
                          target: str | int | os.PathLike[str] | Track | None = None) -> StoredSettings | None:
    """What is stored for ``scope``/``target``, or ``None``.

    Parameters
    ----------
    library : Library
    scope : {"library", "folder", "track"}
    target : path-like, int, str, Track or None
        As for :func:`set_analysis_settings`.

    Returns
    -------
    StoredSettings or None
    """
    key = scope_target(library, scope, target)
    r = library.conn.execute("SELECT * FROM analysis_settings WHERE scope = ? AND target = ?", (scope, key)).fetchone()
    return None if r is None else _row(r)


def clear_analysis_settings(library: Library, *, scope: str = "library",
                            target: str | int | os.PathLike[str] | Track | None = None) -> bool:
    """Remove what is stored for ``scope``/``target``; ``True`` when there was something.

    Parameters
    ----------
    library : Library
    scope : {"library", "folder", "track"}
    target : path-like, int, str, Track or None
        As for :func:`set_analysis_settings`.

    Returns
    -------
    bool
    """
    key = scope_target(library, scope, target)
    with transaction(library.conn):
        cur = library.conn.execute("DELETE FROM analysis_settings WHERE scope = ? AND target = ?", (scope, key))
    return cur.rowcount > 0


def list_analysis_settings(library: Library) -> list[StoredSettings]:
    """Every stored setting: the library's, then folders by path, then tracks by id.

    Parameters
    ----------
    library : Library

    Returns
    -------
    list of StoredSettings
    """
    rows = [_row(r) for r in library.conn.execute("SELECT * FROM analysis_settings").fetchall()]
    order = {s: i for i, s in enumerate(SCOPES)}
    return sorted(rows, key=lambda s: (order[s.scope], int(s.target) if s.scope == "track" else 0, s.target))


def _contains(folder: Path, path: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def effective_settings(library: Library, track: Track | str | os.PathLike[str], *,
                       stored: list[StoredSettings] | None = None) -> AnalysisSettings:
    """The settings ``track`` is analysed with: per field, track > deepest folder > library > default.

    ``track`` may also be the path of an audio file outside the library (then the folder and
    library settings apply). ``stored`` is :func:`list_analysis_settings` read once (for a
    loop over many tracks).

    Parameters
    ----------
    library : Library
    track : Track, str or os.PathLike
        A library track, or an audio file's path.
    stored : list of StoredSettings or None
        Settings already read; None reads them.

    Returns
    -------
    AnalysisSettings
        With ``sources`` naming where each field came from.
    """
    rows = list_analysis_settings(library) if stored is None else stored
    path = Path(track.path if isinstance(track, Track) else os.fspath(track)).expanduser().resolve()
    track_id = str(track.id) if isinstance(track, Track) else None
    folders = []
    for s in rows:
        if s.scope == "folder":
            folder = library.workspace.absolute(s.target).resolve()
            if _contains(folder, path):
                folders.append((len(folder.parts), s))
    chain = [s for s in rows if s.scope == "library"] + [s for _, s in sorted(folders, key=lambda f: f[0])] \
        + [s for s in rows if s.scope == "track" and s.target == track_id]
    values: dict[str, Any] = {}
    sources = dict.fromkeys(FIELDS, "default")
    for s in chain:  # least specific first: later ones win
        for name in FIELDS:
            if name in s.settings:
                values[name] = s.settings[name]
                sources[name] = s.scope if s.scope == "library" else f"{s.scope}:{s.target}"
    return AnalysisSettings(bpm_prior=_prior(values.get("bpm_prior")),
                            key_profile=values.get("key_profile", DEFAULT_PROFILE),
                            energy_hop_s=float(values.get("energy_hop_s", DEFAULT_HOP_S)), sources=sources)
