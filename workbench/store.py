"""The SQLite store: schema, migrations and transactions.

One file (``data/workbench.db`` by default) holds what a user would hate to lose: tracks,
analyses, and, as their issues land, labels, jobs, model versions and runs. WAL mode lets
readers go on while one writer writes; ``BEGIN IMMEDIATE`` plus a busy timeout lets two
kernels write to the same library without "database is locked" surprises; a transaction
that fails midway is rolled back whole.

The schema version is SQLite's ``user_version``. :data:`MIGRATIONS` maps each version to the
SQL that brings the one before it up; opening a database runs the missing steps in order,
inside one transaction.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from pathlib import Path

from workbench.errors import ParameterError, SchemaVersionError, StoreError

MIGRATIONS: dict[int, str] = {
    1: """
        CREATE TABLE tracks (
            id             INTEGER PRIMARY KEY,
            content_hash   TEXT    NOT NULL UNIQUE,
            path           TEXT    NOT NULL UNIQUE,
            size_bytes     INTEGER NOT NULL CHECK (size_bytes > 0),
            mtime_ns       INTEGER NOT NULL,
            duration_s     REAL    NOT NULL CHECK (duration_s > 0),
            sample_rate_hz INTEGER NOT NULL CHECK (sample_rate_hz > 0),
            channels       INTEGER NOT NULL CHECK (channels > 0),
            format         TEXT    NOT NULL,
            title          TEXT,
            artist         TEXT,
            added_at       TEXT    NOT NULL,
            updated_at     TEXT    NOT NULL
        );
        CREATE TABLE analyses (
            id            INTEGER PRIMARY KEY,
            track_id      INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            kind          TEXT    NOT NULL,
            settings_hash TEXT    NOT NULL,
            content_hash  TEXT    NOT NULL,
            result_json   TEXT    NOT NULL,
            created_at    TEXT    NOT NULL,
            UNIQUE (track_id, kind, settings_hash)
        );
        CREATE INDEX analyses_track ON analyses(track_id);
    """,
    2: """
        ALTER TABLE tracks ADD COLUMN missing_since TEXT;
        CREATE TABLE scans (
            id          INTEGER PRIMARY KEY,
            folder      TEXT    NOT NULL,
            started_at  TEXT    NOT NULL,
            finished_at TEXT    NOT NULL,
            added       INTEGER NOT NULL,
            unchanged   INTEGER NOT NULL,
            moved       INTEGER NOT NULL,
            changed     INTEGER NOT NULL,
            missing     INTEGER NOT NULL,
            failed      INTEGER NOT NULL
        );
        CREATE TABLE scan_failures (
            scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
            path    TEXT    NOT NULL,
            reason  TEXT    NOT NULL
        );
    """,
}

#: The schema version this code writes.
SCHEMA_VERSION: int = max(MIGRATIONS)


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def connect(path: str | os.PathLike[str], *, timeout_s: float = 30.0) -> sqlite3.Connection:
    """Open a SQLite connection with the workbench's settings (WAL, foreign keys, busy timeout).

    The connection is in autocommit mode; write through :func:`transaction`.
    """
    if not isinstance(timeout_s, (int, float)) or timeout_s < 0:
        raise ParameterError(f"timeout_s must be a float >= 0 (seconds); got {timeout_s!r}")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(p), timeout=timeout_s, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{p}: cannot open as a SQLite database: {exc}") from exc
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's schema version (0 for a new, empty database)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema up to ``target``; return the version it had before.

    Raises
    ------
    SchemaVersionError
        The database is newer than this workbench knows.
    ParameterError
        ``target`` is not a known version.
    """
    if target not in MIGRATIONS:
        raise ParameterError(f"target must be a schema version in 1..{SCHEMA_VERSION}; got {target!r}")
    with transaction(conn):
        before = schema_version(conn)
        if before > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the database has schema version {before} but this workbench knows up to "
                f"{SCHEMA_VERSION}: upgrade the workbench package to open it"
            )
        for version in range(before + 1, target + 1):
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version}")
    return before


class Store:
    """An open, migrated workbench database.

    Parameters
    ----------
    path : path-like
        The SQLite file; created with its folder when missing.
    timeout_s : float >= 0
        How long a writer waits for another writer before giving up.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.conn = connect(self.path, timeout_s=timeout_s)
        try:
            migrate(self.conn)
        except BaseException:
            self.conn.close()
            raise

    @property
    def version(self) -> int:
        """The schema version of the open database."""
        return schema_version(self.conn)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """See :func:`transaction`."""
        return transaction(self.conn)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
