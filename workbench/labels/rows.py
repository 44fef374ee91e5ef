"""Label rows in SQLite, and the record of an edit (rows before and after) that undo and redo replay."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

from workbench.labels.core import Label

COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Label))


@dataclass(frozen=True)
class Change:
    """One row before and after an edit (``None``: the row did not exist)."""

    before: Label | None
    after: Label | None


@dataclass(frozen=True)
class Step:
    """One undoable edit: its description and its row changes, in the order they were made."""

    description: str
    changes: tuple[Change, ...]


def from_row(row: sqlite3.Row) -> Label:
    """A label from its row of the ``labels`` table.

    Parameters
    ----------
    row : sqlite3.Row
        A row with every column of :data:`COLUMNS`.
    """
    return Label(**{name: row[name] for name in COLUMNS})


def read(conn: sqlite3.Connection, label_id: int) -> Label | None:
    """The label with this id, or ``None``.

    Parameters
    ----------
    conn : sqlite3.Connection
        The library's database.
    label_id : int
        The label's id.
    """
    row = conn.execute("SELECT * FROM labels WHERE id = ?", (label_id,)).fetchone()
    return None if row is None else from_row(row)


def on_track(conn: sqlite3.Connection, track_id: int) -> list[Label]:
    """The labels of a track, by start beat.

    Parameters
    ----------
    conn : sqlite3.Connection
        The library's database.
    track_id : int
        The track's id.
    """
    rows = conn.execute("SELECT * FROM labels WHERE track_id = ? ORDER BY start_beat, id", (track_id,))
    return [from_row(r) for r in rows]


def write(conn: sqlite3.Connection, label: Label, *, insert: bool) -> Label:
    """Insert (``label.id == 0``: with a new id) or update a row; returns the label as stored.

    Parameters
    ----------
    conn : sqlite3.Connection
        The library's database (the caller holds the transaction).
    label : Label
        The label to write.
    insert : bool
        Insert a new row (else update the row with ``label.id``).
    """
    values = [getattr(label, c) for c in COLUMNS[1:]]
    if insert and label.id == 0:
        cur = conn.execute(f"INSERT INTO labels ({', '.join(COLUMNS[1:])}) VALUES ({', '.join('?' * len(values))})",
                           values)
        return replace(label, id=int(cur.lastrowid))  # type: ignore[arg-type]
    if insert:
        conn.execute(f"INSERT INTO labels ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                     [label.id, *values])
    else:
        conn.execute(f"UPDATE labels SET {', '.join(f'{c} = ?' for c in COLUMNS[1:])} WHERE id = ?",
                     [*values, label.id])
    return label


def overlapping(labels: Iterable[Label], start_beat: int, end_beat: int, *, ignore: int | None = None) -> list[Label]:
    """The labels that share a beat with ``[start_beat, end_beat)`` (other than the one with id ``ignore``).

    Parameters
    ----------
    labels : iterable of Label
        The labels to look through (usually one track's).
    start_beat, end_beat : int
        The beat range, end excluded.
    ignore : int or None
        A label id to leave out (the one being moved).
    """
    return [r for r in labels if r.id != ignore and r.start_beat < end_beat and start_beat < r.end_beat]
