"""Label rows in SQLite, and the record of an edit (rows before and after) that undo and redo replay.

Two kinds of row take part in an edit: :class:`~workbench.labels.core.Label` (table ``labels``)
and :class:`~workbench.labels.core.Rejection` (table ``label_rejections``, a rejected
suggestion); :func:`read`, :func:`write` and :func:`delete` take either.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

from workbench.labels.core import Label, Rejection

COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Label))
REJECTION_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Rejection))
_TABLES: dict[type, tuple[str, tuple[str, ...]]] = {Label: ("labels", COLUMNS),
                                                    Rejection: ("label_rejections", REJECTION_COLUMNS)}

Row = Label | Rejection


@dataclass(frozen=True)
class Change:
    """One row (a :class:`Label` or a :class:`Rejection`) before and after an edit (``None``: the row did not exist)."""

    before: Row | None
    after: Row | None

    @property
    def kind(self) -> type:
        """The row's class."""
        return type(self.before if self.before is not None else self.after)

    @property
    def track_id(self) -> int:
        """The track of the row."""
        return (self.before if self.before is not None else self.after).track_id  # type: ignore[union-attr]


@dataclass(frozen=True)
class Step:
    """One undoable edit: its description and its row changes, in the order they were made."""

    description: str
    changes: tuple[Change, ...]

    @property
    def tracks(self) -> frozenset[int]:
        """The tracks whose rows the edit changed."""
        return frozenset(c.track_id for c in self.changes)


def from_row(row: sqlite3.Row) -> Label:
    """A label from its row of the ``labels`` table.

    Parameters
    ----------
    row : sqlite3.Row
        A row with every column of :data:`COLUMNS`.
    """
    return Label(**{name: row[name] for name in COLUMNS})


def read(conn: sqlite3.Connection, label_id: int, kind: type = Label) -> Row | None:
    """The label (or, with ``kind=Rejection``, the rejection) with this id, or ``None``.

    Parameters
    ----------
    conn : sqlite3.Connection
        The library's database.
    label_id : int
        The row's id.
    kind : {Label, Rejection}
        Which table.
    """
    table, cols = _TABLES[kind]
    row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (label_id,)).fetchone()
    return None if row is None else kind(**{name: row[name] for name in cols})


def delete(conn: sqlite3.Connection, row: Row) -> None:
    """Delete the row of ``row`` (a label or a rejection) by its id.

    Parameters
    ----------
    conn : sqlite3.Connection
        The library's database (the caller holds the transaction).
    row : Label or Rejection
        The row to delete.
    """
    conn.execute(f"DELETE FROM {_TABLES[type(row)][0]} WHERE id = ?", (row.id,))


def rejections(conn: sqlite3.Connection, track_id: int | None = None) -> list[Rejection]:
    """The stored rejections (of one track, or all), by track, start beat and id.

    Parameters
    ----------
    conn : sqlite3.Connection
        The library's database.
    track_id : int or None
        One track's; None: every track's.
    """
    where, args = ("WHERE track_id = ?", (track_id,)) if track_id is not None else ("", ())
    cur = conn.execute(f"SELECT * FROM label_rejections {where} ORDER BY track_id, start_beat, id", args)
    return [Rejection(**{name: r[name] for name in REJECTION_COLUMNS}) for r in cur]


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


def write(conn: sqlite3.Connection, label: Row, *, insert: bool) -> Row:
    """Insert (``label.id == 0``: with a new id) or update a row; returns the row as stored.

    Parameters
    ----------
    conn : sqlite3.Connection
        The library's database (the caller holds the transaction).
    label : Label or Rejection
        The row to write (its class picks the table).
    insert : bool
        Insert a new row (else update the row with ``label.id``).
    """
    table, cols = _TABLES[type(label)]
    values = [getattr(label, c) for c in cols[1:]]
    if insert and label.id == 0:
        cur = conn.execute(f"INSERT INTO {table} ({', '.join(cols[1:])}) VALUES ({', '.join('?' * len(values))})",
                           values)
        return replace(label, id=int(cur.lastrowid))  # type: ignore[arg-type]
    if insert:
        conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     [label.id, *values])
    else:
        conn.execute(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in cols[1:])} WHERE id = ?",
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
