"""The label store: add, edit and delete section labels of library tracks, with undo and redo per track.

Every write is one ``BEGIN IMMEDIATE`` transaction of the library's store. A label is checked
against its track's beat grid first; the checks that depend on what is stored (overlaps, a row
changed by another kernel before an undo) run inside the write transaction, so two kernels
writing labels to the same library at once lose nothing and cannot both insert overlapping
labels.

:class:`Labels` gathers four concerns, each in its own module: editing, reading, undo/redo and
import/export (here); model suggestions -- accept with an explicit overlap choice, reject,
provenance, what is still pending (:class:`~workbench.labels.review.Review`); each track's status
and the next track to label, unlabelled or least certain (:class:`~workbench.labels.status.TrackStatus`);
grid corrections that keep labels on their beats (:class:`~workbench.labels.gridfix.GridFixes`).

Public API (all options keyword-only; a widget calls exactly these)::

    Labels(library, *, min_per_class=10, min_classes=2, backup_dir=None, suggest=None)
    grid(track) -> BeatGrid
    add(track, label, *, start_beat, end_beat, source="user", confidence=None, overlap="refuse") -> Label
    add_seconds(track, label, *, start_s, end_s, source="user", confidence=None, overlap="refuse") -> Label
    update(label_id, *, label=None, start_beat=None, end_beat=None, overlap="refuse") -> Label
    delete(label_id) -> Label
    get(label_id) -> Label;  for_track(track) -> list[Label];  all() -> list[Label];  len(labels)
    stats(*, sources=None) -> LabelStats
    undo(*, track=None) -> str | None;  redo(*, track=None) -> str | None
    can_undo / can_redo (any track);  history(*, track=None) -> (undo descriptions, redo descriptions)
    export(path, *, format=None, tracks=None) -> Path;  import_(path, *, format=None, overlap="refuse", source="import")
    import_truth(track, sections, *, source="import", overlap="refuse") -> list[Label]
    -- Review:  accept(suggestion, *, overlap="refuse") -> Label;  accept_all(suggestions, *, overlap="refuse") -> list[Label]
                reject(suggestion) -> Rejection;  reject_all(suggestions) -> list[Rejection]
                rejections(*, track=None) -> list[Rejection];  suggestions(track, *, suggest=None, refresh=False) -> list[Suggestion]
                pending(track, suggestions) -> list[Suggestion]
    -- TrackStatus: status(track) -> str;  set_status(track, status) -> str;  statuses(tracks=None) -> dict[int, str]
                certainty(track, *, suggest=None) -> float | None
                next_track(mode="unlabelled", *, after=None, suggest=None) -> Track | None
    -- GridFixes: shift_downbeats(track, beats) -> Correction;  nudge_grid(track, offset_ms) -> Correction
                (a nudge adds to earlier ones; nudge back to undo it)

Overlap choices (``overlap=``): ``"refuse"`` (the default everywhere: nothing is deleted; the
error names the labels in the way and the choices), ``"keep"`` (keep yours: the new label goes on
the free beats only, refused when none are free), ``"replace"`` (delete yours), ``"split"`` (cut
yours around the new one). :meth:`update` takes refuse/replace/split.
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
from workbench.labels import engine, rows
from workbench.labels.core import (
    ADD_OVERLAP_OPTIONS,
    OVERLAP_OPTIONS,
    BeatGrid,
    Label,
    LabelError,
    LabelWarning,
    check_choice,
)
from workbench.labels.files import LabelFiles
from workbench.labels.gridfix import GridFixes
from workbench.labels.history import HISTORY_LIMIT as HISTORY_LIMIT  # re-exported
from workbench.labels.history import History
from workbench.labels.review import Review, Suggest
from workbench.labels.stats import LabelStats, check_threshold, compute_stats
from workbench.labels.status import TrackStatus
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


class Labels(Review, TrackStatus, GridFixes, LabelFiles):
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
    suggest : callable or None
        ``track -> list[Suggestion]``, the model's suggestions (e.g.
        :func:`workbench.widgets.suggest.active_suggester`); used by :meth:`suggestions`,
        :meth:`certainty` and ``next_track(mode="least_certain")`` unless they are given one.

    Examples
    --------
    >>> labels = Labels(Library("data/workbench.db"))                      # doctest: +SKIP
    >>> labels.add(3, "drop", start_beat=64, end_beat=96)                  # doctest: +SKIP
    >>> labels.undo()                                                      # doctest: +SKIP
    'add drop 64-96 on track 3'
    """

    def __init__(self, library: Library, *, min_per_class: int = 10, min_classes: int = 2,
                 backup_dir: str | os.PathLike[str] | None = None, suggest: Suggest | None = None) -> None:
        if not isinstance(library, Library):
            raise ParameterError(f"library must be a workbench Library; got {type(library).__name__}")
        if suggest is not None and not callable(suggest):
            raise ParameterError(f"suggest must be a function track -> list of Suggestion, or None; got {suggest!r}")
        self.suggest = suggest
        self._suggested: dict[tuple[int, int], list] = {}
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
               ignore: int | None = None, keep_choice: bool = False) -> int:
        """Make room for ``spec`` on its track (refuse, replace or split); return how many rows it touched."""
        return engine.place(conn, self._grids[spec["track_id"]], spec, overlap=overlap, now=now, changes=changes,
                            ignore=ignore, keep_choice=keep_choice)

    def _insert(self, conn: sqlite3.Connection, spec: dict, *, overlap: str, now: str,
                changes: list[rows.Change], keep_choice: bool = False) -> Label:
        return self._insert_all(conn, spec, overlap=overlap, now=now, changes=changes, keep_choice=keep_choice)[0]

    def _insert_all(self, conn: sqlite3.Connection, spec: dict, *, overlap: str, now: str,
                    changes: list[rows.Change], keep_choice: bool = True) -> list[Label]:
        """Store ``spec`` (making room, or with ``overlap="keep"`` on its free beats only); the rows stored."""
        spans = [(spec["start_beat"], spec["end_beat"])]
        if overlap == "keep":
            existing = rows.on_track(conn, spec["track_id"])
            hits = rows.overlapping(existing, *spans[0])
            spans = engine.free_spans(existing, *spans[0])
            if hits and not spans:
                raise LabelError(engine.overlap_message(spec, hits, [], keep=False).replace(
                    "choose", "with overlap='keep' nothing is left to store; nothing was changed; choose", 1))
        else:
            self._place(conn, spec, overlap=overlap, now=now, changes=changes, keep_choice=keep_choice)
        grid = self._grids[spec["track_id"]]
        out = []
        for a, b in spans:
            a_s, b_s = grid.span_s(a, b)
            piece = {**spec, "start_beat": a, "end_beat": b, "start_s": a_s, "end_s": b_s}
            stored = rows.write(conn, Label(id=0, created_at=now, updated_at=now, **piece), insert=True)
            changes.append(rows.Change(None, stored))
            out.append(stored)
        return out

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
        overlap : {"refuse", "keep", "replace", "split"}
            What to do with stored labels the new one overlaps: raise :class:`LabelError`
            naming them and the choices, keep them (the new label goes on the free beats only,
            runs under 4 beats left out; refused when none is free), delete them, or
            trim/split them around the new label (pieces shorter than 4 beats are deleted).

        Returns
        -------
        Label
            The stored label (with ``"keep"``, the first piece; more pieces get a
            :class:`LabelWarning` naming them).
        """
        return self._add(self.grid(track), label, start_beat, end_beat, source, confidence, overlap, [])

    def _add(self, grid: BeatGrid, label: object, start_beat: object, end_beat: object, source: object,
             confidence: object, overlap: object, notes: list[str]) -> Label:
        check_choice("overlap", overlap, ADD_OVERLAP_OPTIONS)
        spec, more = self._validate(grid, label, start_beat, end_beat, source, confidence)
        changes: list[rows.Change] = []
        with self.library.store.transaction() as conn:
            stored = self._insert_all(conn, spec, overlap=str(overlap), now=utc_now(), changes=changes)
        self._record(f"add {', '.join(x.describe() for x in stored)}", changes)
        self._warn(notes + more + engine.kept_note(spec, stored))  # only once stored
        return stored[0]

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
        overlap : {"refuse", "keep", "replace", "split"}
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

        Notes
        -----
        A ``source="model"`` label (an accepted suggestion) whose value or beats change becomes
        ``source="user"`` without a confidence, keeping ``model_name``/``model_version``/``accepted_at``.
        """
        check_choice("overlap", overlap, OVERLAP_OPTIONS)
        current = self.get(label_id)
        grid = self.grid(current.track_id)
        changes: list[rows.Change] = []
        with self.library.store.transaction() as conn:
            current = self._get(conn, label_id)  # read again under the write lock
            new_label = current.label if label is None else label
            s, e = (current.start_beat if start_beat is None else start_beat,
                    current.end_beat if end_beat is None else end_beat)
            edited = current.source == "model" and (new_label, s, e) != (current.label, current.start_beat,
                                                                          current.end_beat)
            # a person changed a model's label: it is theirs now (provenance columns kept)
            spec, notes = self._validate(grid, new_label, s, e, "user" if edited else current.source,
                                         None if edited else current.confidence)
            now = utc_now()
            self._place(conn, spec, overlap=overlap, now=now, changes=changes, ignore=label_id)
            new = rows.write(conn, replace(current, **spec, updated_at=now), insert=False)
            changes.append(rows.Change(current, new))
        self._record(f"update {current.describe()} -> {new.label} beats {new.start_beat}-{new.end_beat}", changes)
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
            rows.delete(conn, current)
        self._record(f"delete {current.describe()}", [rows.Change(current, None)])
        return current

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

    def _track_id(self, track: Track | int | str | os.PathLike[str] | None) -> int | None:
        if track is None or (isinstance(track, int) and not isinstance(track, bool)):
            return track  # type: ignore[return-value]
        return self._track(track).id

    def _timer(self, label: Label) -> Label:
        """``label`` with the seconds of its track's current grid (the beats are what is stored)."""
        try:
            g = self.grid(label.track_id)
            start_s, end_s = g.span_s(label.start_beat, label.end_beat)
            return replace(label, start_s=start_s, end_s=end_s)
        except LabelError:
            return label

    def history(self, *, track: Track | int | str | None = None) -> tuple[list[str], list[str]]:
        """What :meth:`undo` and :meth:`redo` would replay (of ``track``, or of every track), oldest first.

        Parameters
        ----------
        track : Track, int, str or None
            One track's edits; None: all.

        Returns
        -------
        (list of str, list of str)
            The undo steps' and the redo steps' descriptions.
        """
        return self._history.steps(track=self._track_id(track))

    def undo(self, *, track: Track | int | str | None = None) -> str | None:
        """Undo this instance's last edit (of ``track``, else of any track); its description, ``None`` when there is none.

        Parameters
        ----------
        track : Track, int, str or None
            Undo the last edit of this track only (edits of other tracks made since stay).

        Raises
        ------
        LabelError
            A label the edit touched has changed since (another kernel edited it), restoring
            would overlap a label added since, or the track's last edit also changed other
            tracks (an import: undo it with ``undo()``): nothing is changed and the history is kept.
        """
        return self._history.undo(self.library.store, track=self._track_id(track), timer=self._timer)

    def redo(self, *, track: Track | int | str | None = None) -> str | None:
        """Redo the last undone edit (of ``track``, else of any track); its description, ``None`` when there is none.

        Parameters
        ----------
        track : Track, int, str or None
            As for :meth:`undo`.

        Raises
        ------
        LabelError
            As for :meth:`undo`.
        """
        return self._history.redo(self.library.store, track=self._track_id(track), timer=self._timer)
