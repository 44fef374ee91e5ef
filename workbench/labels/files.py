"""Import and export of labels, and ground-truth import: the file half of :class:`~workbench.labels.api.Labels`.

A mixin: :class:`LabelFiles` holds no state; it uses the store, grids and history of the
:class:`~workbench.labels.api.Labels` it is mixed into. The work is in
:mod:`workbench.labels.transfer` and :mod:`workbench.labels.formats`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.labels import rows, transfer
from workbench.labels.core import MIN_BEATS, OVERLAP_OPTIONS, Label, LabelError, check_choice
from workbench.library import Track
from workbench.store import utc_now

if TYPE_CHECKING:
    from workbench.labels.api import Labels


class LabelFiles:
    """Export, import and ground-truth import (mixed into :class:`~workbench.labels.api.Labels`)."""

    def export(self: Labels, path: str | os.PathLike[str], *, format: str | None = None,
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

    def import_(self: Labels, path: str | os.PathLike[str], *, format: str | None = None, overlap: str = "refuse",
                source: str | None = "import") -> transfer.ImportSummary:
        """Add the labels of a JSON, CSV or JAMS file (or a folder of ``.jams``), all or nothing.

        Tracks are matched by content hash, else by path; entries of tracks not in the library,
        and labels already stored exactly, are skipped (and listed in the summary). Entries
        with beat indices use them; entries with only seconds are snapped to the beat grid. A
        backup (a JSON export of every label, importable) is written to ``backup_dir`` inside
        the write transaction, before the first change; an import that changes nothing writes
        none. Every bad entry is named in one :class:`LabelRowsError`. The import is one :meth:`undo` step.

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
            Labels added, how many stored ones were replaced, entries skipped, the backup path (None: nothing changed).

        Raises
        ------
        LabelError
            The file cannot be read or parsed: nothing is imported.
        LabelRowsError
            Entries are invalid or overlap a stored label under ``overlap="refuse"``: every one is
            named (its place, the value, what is allowed) and nothing is imported.
        """
        return transfer.import_labels(self, path, format=format, overlap=overlap, source=source)

    def import_truth(self: Labels, track: Track | int | str | os.PathLike[str], sections: Sequence[dict], *,
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
