"""The label store: add, edit and delete section labels of library tracks, with undo and redo.

Every write is one ``BEGIN IMMEDIATE`` transaction of the library's store. A label is checked
against its track's beat grid first; the checks that depend on what is stored (overlaps, a row
changed by another kernel before an undo) run inside the write transaction, so two kernels
writing labels to the same library at once lose nothing and cannot both insert overlapping
labels.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

import numpy as np

from workbench.errors import ParameterError
from workbench.labels import engine, rows, transfer
from workbench.labels.core import (
    MIN_BEATS,
    OVERLAP_OPTIONS,
    BeatGrid,
    Label,
    LabelError,
    LabelWarning,
    Suggestion,
    check_choice,
)
from workbench.labels.history import HISTORY_LIMIT as HISTORY_LIMIT  # re-exported
from workbench.labels.history import History
from workbench.labels.stats import LabelStats, check_threshold, compute_stats
from workbench.library import Library, Track
from workbench.store import utc_now


def _caller_level() -> int:
    """The ``stacklevel`` that makes a warning point at the first caller outside this package."""
    here = os.path.dirname(__file__)
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == here:
        frame, level = frame.f_back, level + 1
    return level


class Labels:
    """Section labels of a library's tracks, stored in its SQLite database.

    Parameters
    ----------
    library : Library
        The library whose tracks are labelled (its store holds the labels).
    min_per_class : int >= 1
        Labels each label in use needs before :meth:`stats` calls the set ready for training.
    min_classes : int >= 1
        Distinct labels in use needed for training.
    backup_dir : path-like or None
        Where :meth:`import_` writes its backup first; default ``<db folder>/backups``.

    Examples
    --------
    >>> labels = Labels(Library("data/workbench.db"))                      # doctest: +SKIP
    >>> labels.add(3, "drop", start_beat=64, end_beat=96)                  # doctest: +SKIP
    >>> labels.undo()                                                      # doctest: +SKIP
    'add drop 64-96 on track 3'
    """

    def __init__(self, library: Library, *, min_per_class: int = 10, min_classes: int = 2,
                 backup_dir: str | os.PathLike[str] | None = None) -> None:
        if not isinstance(library, Library):
            raise ParameterError(f"library must be a workbench Library; got {type(library).__name__}")
        self.library = library
        self.min_per_class = check_threshold("min_per_class", min_per_class, 1)
        self.min_classes = check_threshold("min_classes", min_classes, 1)
        self.backup_dir = Path(backup_dir) if backup_dir is not None else Path(library.path).parent / "backups"
        self._grids: dict[int, BeatGrid] = {}
        self._history = History()

    # -- tracks and grids ----------------------------------------------------------------
    def _track(self, track: Track | int | str | os.PathLike[str]) -> Track:
        return self.library.track(track.id if isinstance(track, Track) else track)

    def grid(self, track: Track | int | str | os.PathLike[str]) -> BeatGrid:
        """The beat grid of ``track`` (id, hash, path or :class:`Track`), from its stored analysis.

        Analyses the track when it has no stored analysis yet. Cached per instance.

        Parameters
        ----------
        track : Track, int, str or os.PathLike
            A :class:`Track`, or its id, content hash or path.

        Raises
        ------
        LabelError
            The track has no steady beat (no grid to label on).
        TrackNotFoundError
            No such track.
        """
        if isinstance(track, int) and not isinstance(track, bool) and track in self._grids:
            return self._grids[track]
        t = self._track(track)
        if t.id not in self._grids:
            from workbench.analysis import track_analysis

            a = track_analysis(self.library, t)
            if not a.beats:
                raise LabelError(f"track {t.id} ({t.name}) has no beats (no steady beat was found): "
                                 "it cannot be labelled on a beat grid")
            self._grids[t.id] = BeatGrid(track_id=t.id, beats_s=np.asarray(a.beats), downbeats_s=np.asarray(a.downbeats),
                                         duration_s=max(a.duration_s, a.beats[-1] + 1e-3))
        return self._grids[t.id]

    # -- validation ------------------------------------------------------------------------
    def _validate(self, grid: BeatGrid, label: object, start_beat: object, end_beat: object,
                  source: object = "user", confidence: object = None) -> tuple[dict, list[str]]:
        """The checked fields of a label, and the warnings it deserves (:func:`engine.validate_span`)."""
        return engine.validate_span(grid, label, start_beat, end_beat, source, confidence)

    def _snap(self, grid: BeatGrid, start_s: object, end_s: object) -> tuple[int, int, list[str]]:
        return engine.snap_span(grid, start_s, end_s)

    # -- the write engine ----------------------------------------------------------------
    def _place(self, conn: sqlite3.Connection, spec: dict, *, overlap: str, now: str, changes: list[rows.Change],
               ignore: int | None = None) -> int:
        """Make room for ``spec`` on its track (refuse, replace or split); return how many rows it touched."""
        return engine.place(conn, self._grids[spec["track_id"]], spec, overlap=overlap, now=now, changes=changes,
                            ignore=ignore)

    def _insert(self, conn: sqlite3.Connection, spec: dict, *, overlap: str, now: str,
                changes: list[rows.Change]) -> Label:
        self._place(conn, spec, overlap=overlap, now=now, changes=changes)
        stored = rows.write(conn, Label(id=0, created_at=now, updated_at=now, **spec), insert=True)
        changes.append(rows.Change(None, stored))
        return stored

    def _record(self, description: str, changes: list[rows.Change]) -> None:
        self._history.record(description, changes)

    @staticmethod
    def _warn(notes: Iterable[str]) -> None:
        for note in notes:
            warnings.warn(note, LabelWarning, stacklevel=_caller_level())

    # -- editing -------------------------------------------------------------------------
    def add(self, track: Track | int | str | os.PathLike[str], label: str, *, start_beat: int, end_beat: int,
            source: str = "user", confidence: float | None = None, overlap: str = "refuse") -> Label:
        """Store a label on beats ``[start_beat, end_beat)`` of ``track``.

        Parameters
        ----------
        track : Track, int, str or path
            The track (object, id, content hash or path).
        label : str
            One of :data:`LABELS`.
        start_beat, end_beat : int
            Beat indices; ``end_beat`` may be the number of beats (the track's end). At least
            4 beats; under 8 stores with a :class:`LabelWarning`.
        source : {"user", "model", "import"}
        confidence : float in [0, 1] or None
            Only for ``source="model"``.
        overlap : {"refuse", "replace", "split"}
            What to do with stored labels the new one overlaps: raise :class:`LabelError`
            naming the first, delete them, or trim/split them around the new label (pieces
            shorter than 4 beats are deleted).

        Returns
        -------
        Label
            The stored label.
        """
        return self._add(self.grid(track), label, start_beat, end_beat, source, confidence, overlap, [])

    def _add(self, grid: BeatGrid, label: object, start_beat: object, end_beat: object, source: object,
             confidence: object, overlap: object, notes: list[str]) -> Label:
        check_choice("overlap", overlap, OVERLAP_OPTIONS)
        spec, more = self._validate(grid, label, start_beat, end_beat, source, confidence)
        changes: list[rows.Change] = []
        with self.library.store.transaction() as conn:
            stored = self._insert(conn, spec, overlap=str(overlap), now=utc_now(), changes=changes)
        self._record(f"add {stored.describe()}", changes)
        self._warn(notes + more)  # only once stored
        return stored

    def add_seconds(self, track: Track | int | str | os.PathLike[str], label: str, *, start_s: float, end_s: float,
                    source: str = "user", confidence: float | None = None, overlap: str = "refuse") -> Label:
        """Like :meth:`add`, with times in seconds snapped to the nearest beats.

        A snap of more than 10 ms gets a :class:`LabelWarning` saying where each end went.

        Parameters
        ----------
        track : Track, int, str or os.PathLike
            A :class:`Track`, or its id, content hash or path.
        label : str
            One of :data:`LABELS`.
        start_s, end_s : float
            The section, in seconds.
        source : {"user", "model", "import"}
            As in :meth:`add`.
        confidence : float in [0, 1] or None
            Only for ``source="model"``.
        overlap : {"refuse", "replace", "split"}
            As in :meth:`add`.
        """
        grid = self.grid(track)
        s, e, notes = self._snap(grid, start_s, end_s)
        return self._add(grid, label, s, e, source, confidence, overlap, notes)

    def update(self, label_id: int, *, label: str | None = None, start_beat: int | None = None,
               end_beat: int | None = None, overlap: str = "refuse") -> Label:
        """Change a stored label's value and/or beats (``None`` keeps the current one).

        ``overlap`` as in :meth:`add`, for the other labels the changed one overlaps.

        Parameters
        ----------
        label_id : int
            The stored label's id.
        label : str or None
            A new value from :data:`LABELS`.
        start_beat, end_beat : int or None
            New beat range (end excluded).
        overlap : {"refuse", "replace", "split"}
            As in :meth:`add`.

        Raises
        ------
        LabelError
            No such label, an invalid value or range, or an overlap under ``"refuse"``.
        """
        check_choice("overlap", overlap, OVERLAP_OPTIONS)
        current = self.get(label_id)
        grid = self.grid(current.track_id)
        changes: list[rows.Change] = []
        with self.library.store.transaction() as conn:
            current = self._get(conn, label_id)  # read again under the write lock
            spec, notes = self._validate(
                grid, current.label if label is None else label,
                current.start_beat if start_beat is None else start_beat,
                current.end_beat if end_beat is None else end_beat, current.source, current.confidence)
            now = utc_now()
            self._place(conn, spec, overlap=overlap, now=now, changes=changes, ignore=label_id)
            new = rows.write(conn, replace(current, **spec, updated_at=now), insert=False)
            changes.append(rows.Change(current, new))
        self._record(f"update {current.describe()} -> {new.label} {new.start_beat}-{new.end_beat}", changes)
        self._warn(notes)
        return new

    def delete(self, label_id: int) -> Label:
        """Delete a stored label; returns it as it was.

        Parameters
        ----------
        label_id : int
            The stored label's id.
        """
        with self.library.store.transaction() as conn:
            current = self._get(conn, label_id)
            conn.execute("DELETE FROM labels WHERE id = ?", (current.id,))
        self._record(f"delete {current.describe()}", [rows.Change(current, None)])
        return current

    def accept(self, suggestion: Suggestion, *, overlap: str = "replace") -> Label:
        """Store a model's :class:`Suggestion` as a user label (a person accepted it).

        Parameters
        ----------
        suggestion : Suggestion
            A model's suggestion.
        overlap : {"refuse", "replace", "split"}
            As in :meth:`add`; by default the accepted label replaces what it overlaps.
        """
        if not isinstance(suggestion, Suggestion):
            raise LabelError(f"suggestion must be a workbench.labels.Suggestion; got {type(suggestion).__name__}")
        check_choice("overlap", overlap, OVERLAP_OPTIONS)
        grid = self.grid(suggestion.track_id)
        spec, notes = self._validate(grid, suggestion.label, suggestion.start_beat, suggestion.end_beat, "user")
        changes: list[rows.Change] = []
        with self.library.store.transaction() as conn:
            stored = self._insert(conn, spec, overlap=overlap, now=utc_now(), changes=changes)
        self._record(f"accept {stored.describe()}", changes)
        self._warn(notes)
        return stored

    # -- reading -------------------------------------------------------------------------
    def _get(self, conn: sqlite3.Connection, label_id: object) -> Label:
        if isinstance(label_id, bool) or not isinstance(label_id, int):
            raise LabelError(f"label_id must be an int (a label's id); got {label_id!r}")
        found = rows.read(conn, label_id)
        if found is None:
            raise LabelError(f"no label has id {label_id} (deleted, perhaps by another kernel)")
        return found

    def get(self, label_id: int) -> Label:
        """The stored label with this id.

        Parameters
        ----------
        label_id : int
            The label's id.

        Raises
        ------
        LabelError
            No label has this id.
        """
        return self._get(self.library.conn, label_id)

    def for_track(self, track: Track | int | str | os.PathLike[str]) -> list[Label]:
        """The labels of ``track``, by start beat.

        Parameters
        ----------
        track : Track, int, str or os.PathLike
            A :class:`Track`, or its id, content hash or path.
        """
        return rows.on_track(self.library.conn, self._track(track).id)

    def all(self) -> list[Label]:
        """Every stored label, by track and start beat."""
        cur = self.library.conn.execute("SELECT * FROM labels ORDER BY track_id, start_beat, id")
        return [rows.from_row(r) for r in cur]

    def __len__(self) -> int:
        return int(self.library.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0])

    def stats(self, *, sources: Sequence[str] | None = None) -> LabelStats:
        """Counts per label, tracks covered and readiness for training (labels from ``sources`` only, if given).

        Parameters
        ----------
        sources : sequence of str or None
            Count only labels from these sources; None: all.
        """
        return compute_stats(self.library.conn, min_per_class=self.min_per_class, min_classes=self.min_classes,
                             sources=None if sources is None else tuple(sources))

    # -- undo and redo (workbench.labels.history) ---------------------------------------
    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    def undo(self) -> str | None:
        """Undo this instance's last edit; returns its description, ``None`` when there is none.

        Raises
        ------
        LabelError
            A label the edit touched has changed since (another kernel edited it), or restoring
            would overlap a label added since: nothing is changed and the history is kept.
        """
        return self._history.undo(self.library.store)

    def redo(self) -> str | None:
        """Redo the last undone edit; returns its description, ``None`` when there is none.

        Raises
        ------
        LabelError
            As for :meth:`undo`.
        """
        return self._history.redo(self.library.store)

    # -- import and export ---------------------------------------------------------------
    def export(self, path: str | os.PathLike[str], *, format: str | None = None,
               tracks: Iterable[Track | int | str] | Track | int | str | None = None) -> Path:
        """Write labels (all, or those of ``tracks``) as JSON, CSV or JAMS.

        ``format`` comes from the suffix (``.json``, ``.csv``, ``.jams``) unless given. JAMS
        holds one track per file: a ``.jams`` path takes exactly one track's labels; a folder
        (an existing one, or a path without the ``.jams`` suffix with ``format="jams"``) gets
        one ``<file stem>.<hash prefix>.jams`` per track. Every format names each track's content
        hash and path, so :meth:`import_` matches tracks by contents in another library. JAMS
        intervals are in seconds (namespace ``segment_open``, readable by ``mir_eval`` via
        ``annotation.to_interval_values()``). Files are written atomically.

        Parameters
        ----------
        path : str or os.PathLike
            The file, or a folder for one JAMS file per track.
        format : {"json", "csv", "jams"} or None
            Default: from the suffix.
        tracks : Track, int, str, an iterable of these, or None
            Whose labels to write; None: every track's.

        Returns
        -------
        Path
            The file or folder written.

        Raises
        ------
        LabelError
            Unknown format, or a single ``.jams`` file for more than one track.
        """
        return transfer.export_labels(self, path, format=format, tracks=tracks)

    def import_(self, path: str | os.PathLike[str], *, format: str | None = None, overlap: str = "refuse",
                source: str | None = "import") -> transfer.ImportSummary:
        """Add the labels of a JSON, CSV or JAMS file (or a folder of ``.jams``), all or nothing.

        Tracks are matched by content hash, else by path; entries of tracks not in the library,
        and labels already stored exactly, are skipped (and listed in the summary). Entries
        with beat indices use them; entries with only seconds are snapped to the beat grid. A
        backup (a JSON export of every label, importable) is written to ``backup_dir`` inside
        the write transaction, before anything changes. The import is one :meth:`undo` step.

        Parameters
        ----------
        path : path-like
            The file (``.json``, ``.csv``, ``.jams``) or a folder of ``.jams`` files.
        format : {"json", "csv", "jams"} or None
            Default: from the suffix.
        overlap : {"refuse", "replace", "split", "skip"}
            As in :meth:`add`; ``"skip"`` keeps the stored label and skips the imported one.
        source : {"user", "model", "import"} or None
            Source stored with the imported labels; ``None`` keeps each entry's own.

        Returns
        -------
        ImportSummary
            Labels added, how many stored ones were replaced, entries skipped, the backup path.

        Raises
        ------
        LabelError
            The file cannot be read or parsed, an entry is invalid (the message says which),
            or an entry overlaps a stored label under ``overlap="refuse"``: nothing is imported.
        """
        return transfer.import_labels(self, path, format=format, overlap=overlap, source=source)

    def import_truth(self, track: Track | int | str | os.PathLike[str], sections: Sequence[dict], *,
                     source: str = "import", overlap: str = "refuse") -> list[Label]:
        """Store ground-truth sections ``[{"start_s", "end_s", "label"}, ...]`` snapped to the beat grid.

        Used by the demo pipeline. All or nothing (one transaction, one undo step); sections
        that snap to fewer than 4 beats (a sliver at the track's edge) are left out with a
        :class:`LabelWarning`.

        Parameters
        ----------
        track : Track, int, str or os.PathLike
            A :class:`Track`, or its id, content hash or path.
        sections : sequence of dict
            Each with ``start_s`` and ``end_s`` (seconds) and ``label``.
        source : {"user", "model", "import"}
            Stored with each label.
        overlap : {"refuse", "replace", "split"}
            As in :meth:`add`.

        Raises
        ------
        LabelError
            A section is not such a dict, or is invalid: nothing is stored.
        """
        check_choice("overlap", overlap, OVERLAP_OPTIONS)
        grid = self.grid(track)
        specs, notes = [], []
        for i, sec in enumerate(sections):
            if not isinstance(sec, dict) or not {"start_s", "end_s", "label"} <= set(sec):
                raise LabelError(f"sections[{i}] must be a dict with start_s, end_s and label; got {sec!r}")
            s, e, _ = self._snap(grid, sec["start_s"], sec["end_s"])
            if e - s < MIN_BEATS:
                notes.append(f"sections[{i}] {sec['label']} {sec['start_s']}-{sec['end_s']} s snaps to "
                             f"{e - s} beats: left out")
                continue
            spec, more = self._validate(grid, sec["label"], s, e, source)
            specs.append(spec)
            notes += more
        changes: list[rows.Change] = []
        with self.library.store.transaction() as conn:
            now = utc_now()
            stored = [self._insert(conn, spec, overlap=overlap, now=now, changes=changes) for spec in specs]
        if changes:
            self._record(f"import {len(stored)} truth sections on track {grid.track_id}", changes)
        self._warn(notes)
        return stored
