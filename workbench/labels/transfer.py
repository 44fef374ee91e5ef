"""Export labels to files and import them back (all or nothing, after a backup): the work behind
:meth:`Labels.export <workbench.labels.api.Labels.export>` and :meth:`Labels.import_`."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import TrackNotFoundError
from workbench.labels import formats, rows
from workbench.labels.core import OVERLAP_OPTIONS, SOURCES, Label, LabelError, LabelRowsError, check_choice
from workbench.library import Track
from workbench.store import utc_now

if TYPE_CHECKING:
    from workbench.labels.api import Labels


@dataclass(frozen=True)
class ImportSummary:
    """What :meth:`Labels.import_` did.

    ``added`` are the stored labels, ``replaced`` the stored labels deleted or trimmed to make
    room, ``skipped`` pairs each skipped entry (where it is in the file) with the reason, and
    ``backup_path`` is the JSON file of every label as it was before the import, None when the
    import changed nothing (no backup is written then).
    """

    path: Path
    added: list[Label]
    replaced: int
    skipped: list[tuple[str, str]]
    backup_path: Path | None

    @property
    def n_added(self) -> int:
        return len(self.added)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def __str__(self) -> str:
        if self.backup_path is None:
            lines = [f"import of {self.path}: 0 added, nothing changed ({self.n_skipped} skipped, listed below); "
                     "no backup written"]
        else:
            lines = [f"import of {self.path}: {self.n_added} added, {self.replaced} replaced or trimmed, "
                     f"{self.n_skipped} skipped; labels before the import backed up to {self.backup_path}"]
        by_why: dict[str, list[str]] = {}  # one line per reason: a file imported twice is 224 rows "already in ..."
        for what, why in self.skipped:
            by_why.setdefault(why, []).append(what)
        for why, whats in list(by_why.items())[:20]:
            more = f" and {len(whats) - 3} more" if len(whats) > 3 else ""
            lines.append(f"  skipped {whats[0]}: {why}" if len(whats) == 1 else
                         f"  skipped {len(whats)} ({', '.join(whats[:3])}{more}): {why}")
        if len(by_why) > 20:
            lines.append(f"  ... and {len(by_why) - 20} other reasons (--json lists every row)")
        return "\n".join(lines)


def groups(labels: Labels, tracks: list[Track] | None, conn: sqlite3.Connection) -> list[formats.Group]:
    """(track, duration_s, labels) for ``tracks``, or for every track with labels.

    Parameters
    ----------
    labels : Labels
        The labels of one library.
    tracks : list of Track or None
        None: every track with labels.
    conn : sqlite3.Connection
        The connection to read in.
    """
    if tracks is None:
        ids = [r[0] for r in conn.execute("SELECT DISTINCT track_id FROM labels ORDER BY track_id")]
        tracks = [labels.library.track(i) for i in ids]
    return [(t, labels._grids[t.id].duration_s if t.id in labels._grids else t.duration_s, rows.on_track(conn, t.id))
            for t in tracks]


def export_labels(labels: Labels, path: str | os.PathLike[str], *, format: str | None,
                  tracks: Iterable[Track | int | str] | Track | int | str | None) -> Path:
    """:meth:`Labels.export`: write labels as JSON, CSV or JAMS; returns the file or folder written.

    Parameters
    ----------
    labels : Labels
        The labels of one library.
    path : str or os.PathLike
        The file or folder.
    format : {"json", "csv", "jams"} or None
        None: from the suffix.
    tracks : Track, int, str, an iterable of these, or None
        Whose labels; None: every track with labels.
    """
    fmt = formats.format_of(path, format)
    parent = Path(path).expanduser().absolute().parent
    if not parent.is_dir():  # said by name, before any label is read
        raise LabelError(f"cannot write labels to {os.fspath(path)!r}: the folder {str(parent)!r} does not exist "
                         "(create it first, or name a file in an existing folder)")
    chosen = None
    if tracks is not None:
        items = [tracks] if isinstance(tracks, (Track, int, str, os.PathLike)) else list(tracks)
        chosen = [labels._track(t) for t in items]
    return formats.write(Path(path), fmt, groups(labels, chosen, labels.library.conn))


def backup(labels: Labels, conn: sqlite3.Connection) -> Path:
    """Write every stored label (as read in ``conn``'s transaction) to a new JSON file in ``backup_dir``.

    Parameters
    ----------
    labels : Labels
        The labels of one library.
    conn : sqlite3.Connection
        The connection whose transaction is open.
    """
    folder = labels.backup_dir
    folder.mkdir(parents=True, exist_ok=True)
    stamp = utc_now().replace(":", "").replace("-", "").replace("+0000", "Z")
    n = 0
    while (path := folder / f"labels-{stamp}-{os.getpid()}-{n}.json").exists():
        n += 1
    return formats.write(path, "json", groups(labels, None, conn))


def _match(labels: Labels, entry: formats.Entry) -> Track | None:
    for key in (entry.content_hash, entry.path):
        if key:
            try:
                return labels.library.track(key)
            except TrackNotFoundError:
                continue
    return None


def _spec(labels: Labels, track: Track, entry: formats.Entry, source: str | None) -> tuple[dict, list[str]]:
    grid = labels.grid(track)
    notes: list[str] = []
    if entry.start_beat is not None and entry.end_beat is not None:
        s, e = entry.start_beat, entry.end_beat
    elif entry.start_s is not None and entry.end_s is not None:
        s, e, notes = labels._snap(grid, entry.start_s, entry.end_s)
        notes = [f"{entry.where}: {n}" for n in notes]
    else:
        raise LabelError("each label needs start_beat and end_beat, or start_s and end_s")
    src = source if source is not None else (entry.source or "import")
    spec, more = labels._validate(grid, entry.label, s, e, src, entry.confidence if src == "model" else None)
    return spec, notes + more


def import_labels(labels: Labels, path: str | os.PathLike[str], *, format: str | None, overlap: str,
                  source: str | None) -> ImportSummary:
    """:meth:`Labels.import_`: add the labels of a file, all or nothing.

    Parameters
    ----------
    labels : Labels
        The labels of one library.
    path : str or os.PathLike
        The file, or a folder of ``.jams`` files.
    format : {"json", "csv", "jams"} or None
        None: from the suffix.
    overlap : {"refuse", "replace", "split", "skip"}
        See :meth:`Labels.import_`.
    source : {"user", "model", "import"} or None
        Stored with each label; None keeps each entry's own.
    """
    check_choice("overlap", overlap, (*OVERLAP_OPTIONS, "skip"))
    if source is not None:
        check_choice("source", source, SOURCES)
    src_path = Path(path)
    problems: list[tuple[str, str]] = []  # every bad entry, said together: nothing is imported
    entries = formats.read(src_path, formats.format_of(path, format, reading=True), problems)
    skipped: list[tuple[str, str]] = []
    specs: list[tuple[str, dict, list[str]]] = []
    for entry in entries:  # everything is checked before the write transaction starts
        track = _match(labels, entry)
        if track is None:
            given = [f"{what} {value!r}" for what, value in (("hash", entry.content_hash), ("path", entry.path))
                     if value]  # only what the entry gives: a CSV row with a path has no hash
            skipped.append((entry.where, f"no track in the library has {' or '.join(given)}" if given
                            else "the entry names no track (no hash or path)"))
            continue
        try:
            spec, more = _spec(labels, track, entry, source)
        except LabelError as exc:
            problems.append((entry.where, str(exc)))
            continue
        specs.append((entry.where, spec, more))
    if problems:
        raise LabelRowsError(src_path, problems)
    changes: list[rows.Change] = []
    added: list[Label] = []
    replaced = 0
    notes: list[str] = []  # only about labels that were stored
    backup_path: Path | None = None  # written before the first change only: a no-op import leaves no file
    with labels.library.store.transaction() as conn:
        now = utc_now()
        for where, spec, more in specs:
            stored = rows.on_track(conn, spec["track_id"])
            span = (spec["start_beat"], spec["end_beat"])
            if any(r.label == spec["label"] and (r.start_beat, r.end_beat) == span for r in stored):
                skipped.append((where, "already in the library"))
                continue
            if overlap == "skip" and rows.overlapping(stored, *span):
                skipped.append((where, "overlaps a stored label (overlap='skip')"))
                continue
            if backup_path is None:  # nothing has changed yet in this transaction
                backup_path = backup(labels, conn)
            try:
                replaced += labels._place(conn, spec, overlap="refuse" if overlap == "skip" else overlap, now=now,
                                          changes=changes)
            except LabelError as exc:  # said with every other entry that cannot be placed; all rolled back
                problems.append((where, str(exc)))
                continue
            new = rows.write(conn, Label(id=0, created_at=now, updated_at=now, **spec), insert=True)
            changes.append(rows.Change(None, new))
            added.append(new)
            notes += more
        if problems:
            raise LabelRowsError(src_path, problems)
    if changes:
        labels._record(f"import {len(added)} labels from {src_path.name}", changes)
    labels._warn(notes[:5] + ([f"... and {len(notes) - 5} more notes like these"] if len(notes) > 5 else []))
    return ImportSummary(path=src_path, added=added, replaced=replaced, skipped=skipped, backup_path=backup_path)
