"""The SQLite store: schema, migrations and transactions.

One file (``data/workbench.db`` by default) holds what a user would hate to lose: tracks,
analyses, section labels, training jobs and model versions (runs live as folders under
``experiments/``; jobs point at them by ``run_id``). WAL mode lets
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

from workbench.errors import ParameterError, SchemaVersionError, StoreError, os_cause

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
    3: """
        CREATE TABLE labels (
            id          INTEGER PRIMARY KEY,
            track_id    INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            label       TEXT    NOT NULL
                        CHECK (label IN ('intro', 'build', 'drop', 'break', 'outro', 'verse', 'chorus')),
            start_beat  INTEGER NOT NULL CHECK (start_beat >= 0),
            end_beat    INTEGER NOT NULL,
            start_s     REAL    NOT NULL CHECK (start_s >= 0),
            end_s       REAL    NOT NULL,
            source      TEXT    NOT NULL CHECK (source IN ('user', 'model', 'import')),
            confidence  REAL    CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
            created_at  TEXT    NOT NULL,
            updated_at  TEXT    NOT NULL,
            CHECK (end_beat > start_beat),
            CHECK (end_s > start_s)
        );
        CREATE INDEX labels_track ON labels(track_id, start_beat);
        CREATE TABLE jobs (
            id           INTEGER PRIMARY KEY,
            kind         TEXT    NOT NULL,
            state        TEXT    NOT NULL CHECK (state IN
                         ('pending', 'preparing', 'training', 'evaluating', 'completed', 'failed')),
            progress     REAL    NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
            epoch        INTEGER,
            total_epochs INTEGER,
            loss         REAL,
            label_counts TEXT,
            metrics      TEXT,
            config       TEXT,
            error        TEXT,
            run_id       TEXT    UNIQUE,
            pid          INTEGER,
            created_at   TEXT    NOT NULL,
            started_at   TEXT,
            updated_at   TEXT    NOT NULL,
            finished_at  TEXT
        );
        CREATE TABLE model_versions (
            id          INTEGER PRIMARY KEY,
            model_type  TEXT    NOT NULL,
            version     INTEGER NOT NULL CHECK (version >= 1),
            path        TEXT    NOT NULL,
            active      INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
            job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            run_id      TEXT,
            metadata    TEXT    NOT NULL,
            created_at  TEXT    NOT NULL,
            UNIQUE (model_type, version)
        );
        CREATE UNIQUE INDEX model_versions_one_active ON model_versions(model_type) WHERE active = 1;
    """,
    4: """
        ALTER TABLE tracks ADD COLUMN scan_root TEXT;
        ALTER TABLE tracks ADD COLUMN partial_reason TEXT;
        CREATE TABLE crates (
            id          INTEGER PRIMARY KEY,
            name        TEXT    NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
            created_at  TEXT    NOT NULL
        );
        CREATE TABLE crate_tracks (
            crate_id    INTEGER NOT NULL REFERENCES crates(id) ON DELETE CASCADE,
            track_id    INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            added_at    TEXT    NOT NULL,
            PRIMARY KEY (crate_id, track_id)
        );
        CREATE INDEX crate_tracks_track ON crate_tracks(track_id);
        CREATE TABLE analysis_settings (
            scope       TEXT    NOT NULL CHECK (scope IN ('library', 'folder', 'track')),
            target      TEXT    NOT NULL,
            settings    TEXT    NOT NULL,
            updated_at  TEXT    NOT NULL,
            PRIMARY KEY (scope, target)
        );
        CREATE TABLE track_corrections (
            track_id         INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            bpm              REAL    CHECK (bpm IS NULL OR (bpm > 0 AND bpm < 400)),
            first_downbeat_s REAL    CHECK (first_downbeat_s IS NULL OR first_downbeat_s >= 0),
            key              TEXT,
            locked           INTEGER NOT NULL DEFAULT 1 CHECK (locked IN (0, 1)),
            updated_at       TEXT    NOT NULL
        );
        ALTER TABLE jobs ADD COLUMN pid_start_ticks INTEGER;
        CREATE TABLE model_version_numbers (
            model_type  TEXT    PRIMARY KEY,
            last        INTEGER NOT NULL CHECK (last >= 0)
        );
    """,
    5: """
        CREATE TABLE qa_keep (
            track_id    INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            kept_at     TEXT    NOT NULL,
            note        TEXT
        );
    """,
    # v6 (labels that learn from the user): provenance of accepted suggestions on labels, the
    # suggestions a user rejected (not shown again; training reads them), each track's labelling
    # status, and a grid nudge (seconds) among a track's locked corrections.
    6: """
        ALTER TABLE labels ADD COLUMN model_name TEXT;
        ALTER TABLE labels ADD COLUMN model_version TEXT;
        ALTER TABLE labels ADD COLUMN accepted_at TEXT;
        CREATE TABLE label_rejections (
            id            INTEGER PRIMARY KEY,
            track_id      INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            label         TEXT    NOT NULL
                          CHECK (label IN ('intro', 'build', 'drop', 'break', 'outro', 'verse', 'chorus')),
            start_beat    INTEGER NOT NULL CHECK (start_beat >= 0),
            end_beat      INTEGER NOT NULL,
            start_s       REAL    NOT NULL CHECK (start_s >= 0),
            end_s         REAL    NOT NULL,
            confidence    REAL    CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
            model_name    TEXT    NOT NULL,
            model_version TEXT    NOT NULL,
            rejected_at   TEXT    NOT NULL,
            CHECK (end_beat > start_beat)
        );
        CREATE INDEX label_rejections_track ON label_rejections(track_id, model_name, model_version);
        CREATE TABLE track_status (
            track_id    INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            status      TEXT    NOT NULL CHECK (status IN ('unlabelled', 'in_progress', 'done', 'skipped')),
            updated_at  TEXT    NOT NULL
        );
        ALTER TABLE track_corrections ADD COLUMN grid_offset_s REAL
            CHECK (grid_offset_s IS NULL OR (grid_offset_s >= -1 AND grid_offset_s <= 1));
    """,
    # v7: a label (or rejection) from beat 0 starts the track (start_s 0, not the first beat's
    # time; workbench.labels.BeatGrid.span_s), as one to the last beat ends it.
    7: """
        UPDATE labels SET start_s = 0.0 WHERE start_beat = 0;
        UPDATE label_rejections SET start_s = 0.0 WHERE start_beat = 0;
    """,
    # v8: ``models deactivate`` leaves a type with no active version: one row per type, outside the version rows (a
    # deleted version keeps it deactivated); from the newest ``deactivated_at`` in a row of a type with none active.
    8: """
        CREATE TABLE model_deactivations (
            model_type     TEXT    PRIMARY KEY,
            version        INTEGER NOT NULL CHECK (version >= 1),
            deactivated_at TEXT    NOT NULL
        );
        INSERT INTO model_deactivations (model_type, version, deactivated_at)
            SELECT model_type, version, MAX(at) FROM (SELECT model_type, version, CASE WHEN json_valid(metadata) THEN
                CASE json_type(metadata, '$.deactivated_at') WHEN 'text' THEN json_extract(metadata, '$.deactivated_at')
                END END AS at FROM model_versions)
            WHERE at IS NOT NULL AND model_type NOT IN (SELECT model_type FROM model_versions WHERE active = 1)
            GROUP BY model_type;
    """,
}

#: The schema version this code writes.
SCHEMA_VERSION: int = max(MIGRATIONS)


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
