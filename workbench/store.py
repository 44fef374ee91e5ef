"""The SQLite store: connections, migrations and transactions.

One file (``data/workbench.db`` by default) holds what a user would hate to lose: tracks,
analyses, section labels, training jobs and model versions (runs live as folders under
``experiments/``; jobs point at them by ``run_id``). WAL mode lets
readers go on while one writer writes; ``BEGIN IMMEDIATE`` plus a busy timeout lets two
kernels write to the same library without "database is locked" surprises; a transaction
that fails midway is rolled back whole.

The schema version is SQLite's ``user_version``. :data:`MIGRATIONS` (its steps live in
:mod:`workbench.store_schema`) maps each version to the SQL that brings the one before it up;
opening a database runs the missing steps in order, inside one transaction.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from pathlib import Path

from workbench.errors import ParameterError, SchemaVersionError, StoreError, os_cause
from workbench.store_schema import MIGRATIONS, SCHEMA_VERSION  # noqa: F401  (re-exported: the schema's home)


def utc_now(timespec: str = "seconds") -> str:
    """The current time as an ISO 8601 UTC string.

    Parameters
    ----------
    timespec : {"seconds", "milliseconds", "microseconds"}
        Its precision (:meth:`datetime.datetime.isoformat`): seconds for every stored time, microseconds where two
        events in one second must still order (a registry activation, :data:`workbench.registry_types.ACTIVATED_AT`).
    """
    return datetime.now(timezone.utc).isoformat(timespec=timespec)


def connect(path: str | os.PathLike[str], *, timeout_s: float = 30.0, read_only: bool = False) -> sqlite3.Connection:
    """Open a SQLite connection with the workbench's settings (WAL, foreign keys, busy timeout).

    The connection is in autocommit mode; write through :func:`transaction`. With
    ``read_only`` the file is opened with SQLite's ``mode=ro`` (it must exist; nothing is
    created or changed; on a folder that cannot be written, ``immutable=1`` too).

    Parameters
    ----------
    path : str or os.PathLike
        The SQLite file; created unless ``read_only``.
    timeout_s : float >= 0
        How long a statement waits for another process's write lock, in seconds.
    read_only : bool
        Open without writing (the file must exist).

    Returns
    -------
    sqlite3.Connection

    Raises
    ------
    ParameterError
        If ``timeout_s`` is not a number >= 0.
    StoreError
        If the file cannot be opened.
    """
    if not isinstance(timeout_s, (int, float)) or timeout_s < 0:
        raise ParameterError(f"timeout_s must be a float >= 0 (seconds); got {timeout_s!r}")
    p = Path(path)
    try:
        if read_only:
            if not p.is_file():
                raise StoreError(f"{p}: cannot open read-only: no such database file")
            query = "mode=ro" + ("" if _writable(p.parent) else "&immutable=1")
            conn = sqlite3.connect(f"{p.resolve().as_uri()}?{query}", uri=True, timeout=timeout_s,
                                   isolation_level=None)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(p), timeout=timeout_s, isolation_level=None)
        conn.row_factory = sqlite3.Row
        if not read_only:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
    except OSError as exc:
        raise StoreError(f"{p}: cannot open the database: {os_cause(exc)}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{p}: cannot open as a SQLite database: {_sqlite_cause(exc)}") from exc
    return conn


def _writable(p: Path) -> bool:
    return os.access(p, os.W_OK)


def _sqlite_cause(exc: sqlite3.Error) -> str:
    """What a SQLite error means, in words, with SQLite's own message after it."""
    text = str(exc)
    low = text.lower()
    for needle, words in (("disk is full", "disk full"), ("readonly", "the database is read-only"),
                          ("unable to open", "cannot open the file (missing folder or permission denied)"),
                          ("disk i/o", "input/output error"), ("locked", "another process holds the write lock"),
                          ("not a database", "the file is not a SQLite database (or is damaged)")):
        if needle in low:
            return f"{words} ({text})"
    return text


def _db_file(conn: sqlite3.Connection) -> str:
    try:
        row = conn.execute("PRAGMA database_list").fetchone()
        return str(row[2]) if row is not None and row[2] else "the database"
    except sqlite3.Error:
        return "the database"


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on any error.

    Parameters
    ----------
    conn : sqlite3.Connection
        A connection from :func:`connect` (autocommit mode).

    Yields
    ------
    sqlite3.Connection
        ``conn``, inside the transaction.

    Raises
    ------
    StoreError
        SQLite cannot write (disk full, read-only database, I/O error, locked past the busy
        timeout); the message names the database file and the cause. Constraint errors
        (:class:`sqlite3.IntegrityError`) pass through unchanged.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise StoreError(f"{_db_file(conn)}: cannot write: {_sqlite_cause(exc)}") from exc
    try:
        yield conn
    except BaseException as exc:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:  # SQLite may have rolled back already (disk full, I/O error)
            pass
        if isinstance(exc, sqlite3.OperationalError):
            raise StoreError(f"{_db_file(conn)}: cannot write: {_sqlite_cause(exc)}") from exc
        raise
    else:
        try:
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise StoreError(f"{_db_file(conn)}: cannot write: {_sqlite_cause(exc)}") from exc


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's schema version (0 for a new, empty database).

    Parameters
    ----------
    conn : sqlite3.Connection

    Returns
    -------
    int
        SQLite's ``user_version``.
    """
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema up to ``target``; return the version it had before.

    Parameters
    ----------
    conn : sqlite3.Connection
        An open, writable connection.
    target : int
        The schema version to reach (default: the newest).

    Returns
    -------
    int
        The version before migrating.

    Raises
    ------
    SchemaVersionError
        The database is newer than this workbench knows.
    ParameterError
        ``target`` is not a known version.
    """
    if target not in MIGRATIONS:
        raise ParameterError(f"target must be a schema version in 1..{SCHEMA_VERSION}; got {target!r}")
    current = schema_version(conn)
    if current == target:  # nothing to do: take no write lock (the file may be read-only)
        return current
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
    read_only : bool or None
        ``True`` opens the file with SQLite's ``mode=ro`` (reading only; a write raises
        :class:`StoreError`). ``None`` (default) does so when the file exists and it, or its
        folder, cannot be written; ``False`` always opens for writing.

    Raises
    ------
    StoreError
        The file cannot be opened, or is read-only and older than :data:`SCHEMA_VERSION`.
    SchemaVersionError
        The database was written by a newer workbench.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout_s: float = 30.0,
                 read_only: bool | None = None) -> None:
        self.path = Path(path)
        if read_only is None:
            read_only = self.path.is_file() and not (_writable(self.path) and _writable(self.path.parent))
        self.read_only = bool(read_only)
        self.conn = connect(self.path, timeout_s=timeout_s, read_only=self.read_only)
        try:
            if self.read_only:
                self._check_read_only_version()
            else:
                migrate(self.conn)
        except BaseException:
            self.conn.close()
            raise

    def _check_read_only_version(self) -> None:
        try:
            version = schema_version(self.conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read as a SQLite database: {_sqlite_cause(exc)}") from exc
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the database has schema version {version} but this workbench knows up to "
                f"{SCHEMA_VERSION}: upgrade the workbench package to open it"
            )
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: the database has schema version {version}, older than {SCHEMA_VERSION}, "
                "and is opened read-only, so it cannot be upgraded: open it once where it can be written"
            )

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
