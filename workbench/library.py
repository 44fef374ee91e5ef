"""The track library: scan folders of audio into the SQLite store.

A track's identity is the sha256 of its file bytes. :meth:`Library.scan` adds a folder's audio,
recognises moved and changed files and marks gone ones missing (its work:
:mod:`workbench.library_scan`).

Robust on a real library:

- What a scan reads, refuses and marks missing: :mod:`workbench.library_scan`.
- File names of any bytes: a path that is not valid UTF-8 is stored percent-escaped behind
  the prefix ``fsenc:`` (reversible, see :func:`stored_path_text`), and :attr:`Track.path` is
  the ``str`` Python uses for such names (``os.fsdecode``), which opens the file.
- Tracks inside the library's workspace root are stored relative to it, so a copied or moved
  workspace keeps working; :attr:`Track.path` is always absolute.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

from workbench import config
from workbench.audio import display_path
from workbench.errors import (
    NoLibraryError,
    ParameterError,
    TrackNotFoundError,
)
from workbench.fileio import file_sha256
from workbench.libfiles import (
    ESCAPED_PREFIX,
    path_from_stored,
    read_tags,
    stored_path_text,
)
from workbench.scan import ScanFailure, ScanSummary  # re-exported (moved there)
from workbench.store import Store

__all__ = ["ESCAPED_PREFIX", "Library", "ScanFailure", "ScanSummary", "Track", "file_sha256", "path_from_stored",
           "read_tags", "stored_path_text"]


@dataclass(frozen=True)
class Track:
    """One track as the library knows it.

    ``duration_s`` and ``sample_rate_hz`` are the file's own (from its header);
    ``missing_since`` is set when the last scan of its folder did not find the file.
    """

    id: int
    content_hash: str
    path: str
    size_bytes: int
    mtime_ns: int
    duration_s: float
    sample_rate_hz: int
    channels: int
    format: str
    title: str | None
    artist: str | None
    added_at: str
    updated_at: str
    missing_since: str | None
    scan_root: str | None = None

    @property
    def name(self) -> str:
        """Title from the tags, else the file name without its suffix, for display.

        Runs of whitespace in the title become one space (``"Sky Vibe  -  High Frequency"`` reads
        ``"Sky Vibe - High Frequency"``); the stored ``title`` is left as the tags have it.
        """
        title = " ".join(self.title.split()) if self.title else ""
        return title or Path(self.path).stem

    @property
    def folder(self) -> str | None:
        """The sub-folder the file sits in under the folder it was scanned from (``a/b``), or
        ``None`` when it sits directly in that folder (or the scan root is unknown)."""
        if not self.scan_root:
            return None
        try:
            rel = Path(self.path).parent.relative_to(self.scan_root)
        except ValueError:
            return None
        text = rel.as_posix()
        return None if text in ("", ".") else text

    @classmethod
    def from_row(cls, row: sqlite3.Row, root: str | os.PathLike[str] | None = None) -> Track:
        """A track from its row; stored paths are decoded and, relative ones, joined to ``root``
        (the library's workspace root).

        Parameters
        ----------
        row : sqlite3.Row
            A row of the ``tracks`` table.
        root : str, os.PathLike or None
            The workspace root; None leaves relative paths relative.
        """
        values = {f.name: row[f.name] for f in fields(cls)}
        for name in ("path", "scan_root"):
            if values[name] is not None:
                text = path_from_stored(values[name])
                if root is not None and not os.path.isabs(text):
                    text = os.path.join(os.fspath(root), text)
                values[name] = text
        return cls(**values)


def missing_library_said(db: Path, how: str, *, cli: bool = False) -> str:
    """Why there is no library to open, where it was looked for, and how to make one.

    Parameters
    ----------
    db : Path
        The database file that is not there.
    how : str
        How that path was found (:func:`workbench.config.how_found`).
    cli : bool
        Said to a command-line user: how to make one, or name another, on the command line (not in a notebook).

    Returns
    -------
    str
        Where ``db`` is a folder (a workspace named where its database file was asked for), the message says so
        and names the database inside it, if there is one.
    """
    if db.is_dir():
        inside = [f for f in (db / "data" / config.DB_FILENAME, db / config.DB_FILENAME) if f.is_file()]
        return (f"no library at {db} (found from {how}): it is a folder, not a database file; "
                + (f"its library is {inside[0]}: name that file" if inside else
                   "name the database file itself (DIR/data/workbench.db)"))
    said = f"no library at {db} (found from {how}); nothing was created. "
    if cli:
        return (said + "Make one there with `workbench scan FOLDER` (then `workbench analyze`), or `make demo` for "
                "the demo library; or name another with --home, --db or $WORKBENCH_HOME")
    return (said + "Make one with `WORKBENCH_HOME=DIR workbench scan FOLDER` (then `workbench analyze`), or "
            "`make demo` for the demo library, and start Jupyter with `WORKBENCH_HOME=DIR jupyter lab` so the notebooks open it (or set "
            "DB = 'DIR/data/workbench.db' in the parameters cell)")


class Library:
    """A library of tracks in a SQLite database.

    Parameters
    ----------
    db_path : path-like or None
        The database file; ``None`` means :func:`workbench.config.db_path` (``data/workbench.db``).
    timeout_s : float >= 0
        How long a write waits for another process's write to finish.
    read_only : bool or None
        Open the database for reading only; ``None`` does so when it cannot be written (see
        :class:`workbench.store.Store`).
    create : bool
        Make the database (and its folder) when it is missing, as writing does (``scan``); ``False`` for a look
        that must leave no empty database behind (the notebooks): a missing one is a :class:`NoLibraryError`
        that says where it was looked for and how to make one.

    Raises
    ------
    NoLibraryError
        ``create`` is false and there is no database file, or the path is a folder.

    Examples
    --------
    >>> lib = Library("data/workbench.db")          # doctest: +SKIP
    >>> print(lib.scan("~/Music/techno"))           # doctest: +SKIP
    >>> [t.name for t in lib.tracks()]              # doctest: +SKIP
    """

    def __init__(self, db_path: str | os.PathLike[str] | None = None, *, timeout_s: float = 30.0,
                 read_only: bool | None = None, create: bool = True) -> None:
        self.workspace = config.workspace(db=db_path)
        self.path = self.workspace.db
        if self.path.is_dir() or (not create and not self.path.is_file()):  # a folder is no database, made or not
            raise NoLibraryError(missing_library_said(self.path, config.how_found(db=db_path)))
        self.store = Store(self.path, timeout_s=timeout_s, read_only=read_only)

    # -- stored paths ----------------------------------------------------------------------
    def _store_text(self, path: str | os.PathLike[str]) -> str:
        """How a path is stored: relative to the workspace root when inside it (no link is
        resolved, unlike :meth:`Workspace.relative`), escaped when not UTF-8."""
        text = os.fspath(path)
        prefix = self._root_prefix
        if text.startswith(prefix):
            text = text[len(prefix):].replace(os.sep, "/")
        return stored_path_text(text)

    @property
    def _root_prefix(self) -> str:
        return str(self.workspace.root).rstrip(os.sep) + os.sep

    def _path_keys(self, path: str | os.PathLike[str]) -> tuple[str, str]:
        """The stored forms a path may have: relative (current) and absolute (older rows)."""
        return self._store_text(path), stored_path_text(str(path))

    def _abs(self, stored: str) -> str:
        """A stored path as an absolute path (string form of :meth:`Workspace.absolute`)."""
        text = path_from_stored(stored)
        return text if os.path.isabs(text) else self._root_prefix + text

    def _track(self, row: sqlite3.Row) -> Track:
        return Track.from_row(row, self.workspace.root)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.conn

    # -- reading -------------------------------------------------------------------------
    def tracks(self, *, include_missing: bool = False) -> list[Track]:
        """All tracks, ordered by path; those whose file has gone only when asked.

        Parameters
        ----------
        include_missing : bool
            Also list tracks whose file was missing at the last scan.
        """
        where = "" if include_missing else "WHERE missing_since IS NULL"
        rows = self.conn.execute(f"SELECT * FROM tracks {where} ORDER BY path").fetchall()
        return sorted((self._track(r) for r in rows), key=lambda t: t.path)

    def track(self, key: int | str | os.PathLike[str]) -> Track:
        """Find one track by id, content hash (or a unique prefix of 8+ hex digits) or path.

        Parameters
        ----------
        key : int, str or os.PathLike
            A track id (also as digits), a content hash or unique prefix of >= 8 hex digits, or a path.

        Raises
        ------
        ParameterError
            ``key`` is none of these types.
        TrackNotFoundError
            Nothing (or more than one track, for a hash prefix) matches.
        """
        row = None
        if isinstance(key, (int,)) and not isinstance(key, bool):
            row = self.conn.execute("SELECT * FROM tracks WHERE id = ?", (key,)).fetchone()
        elif isinstance(key, (str, os.PathLike)):
            text = os.fspath(key)
            try:
                keys = self._path_keys(Path(text).expanduser().resolve())
            except (OSError, RuntimeError):
                keys = self._path_keys(Path(text).expanduser().absolute())
            row = self.conn.execute("SELECT * FROM tracks WHERE path IN (?, ?)", keys).fetchone()
            if row is None and len(text) >= 8 and all(c in "0123456789abcdef" for c in text.lower()):
                rows = self.conn.execute(
                    "SELECT * FROM tracks WHERE content_hash LIKE ?", (text.lower() + "%",)
                ).fetchall()
                if len(rows) > 1:
                    raise TrackNotFoundError(f"hash prefix {text!r} matches {len(rows)} tracks; give more digits")
                row = rows[0] if rows else None
            if row is None and text.isdigit():
                row = self.conn.execute("SELECT * FROM tracks WHERE id = ?", (int(text),)).fetchone()
        else:
            raise ParameterError(f"key must be a track id (int), content hash or path; got {type(key).__name__}")
        if row is None:
            shown = key if isinstance(key, int) else display_path(os.fspath(key))
            raise TrackNotFoundError(f"no track in {self.path} has id, hash or path {shown!r}")
        return self._track(row)

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM tracks WHERE missing_since IS NULL").fetchone()[0])

    def __iter__(self) -> Iterator[Track]:
        return iter(self.tracks())

    # -- scanning ------------------------------------------------------------------------
    def scan(self, folder: str | os.PathLike[str], *, progress: bool = True) -> ScanSummary:
        """Add the audio files under ``folder`` (recursively) to the library.

        Files with a suffix in :data:`workbench.audio.SUPPORTED_EXTENSIONS` are considered;
        other files are ignored. Idempotent: a second scan of an unchanged folder reads only
        file sizes and modification times. One bad file (or unreadable folder) never stops
        the scan: it is listed in :attr:`ScanSummary.failed` with its cause, and recorded in
        the ``scan_failures`` table. A new file is decoded whole (by blocks) before it is
        added; one that is not whole is refused (see :mod:`workbench.library_scan`, which does the work).

        Parameters
        ----------
        folder : str or os.PathLike
            An existing folder; ``~`` is expanded.
        progress : bool
            Show a progress bar.

        Returns
        -------
        ScanSummary
            Added, unchanged, moved, changed, missing, duplicate and failed files.

        Raises
        ------
        ParameterError
            ``folder`` does not exist or is not a folder.
        StoreError
            The database cannot be written (read-only, disk full, ...).
        """
        from workbench.library_scan import scan_folder

        return scan_folder(self, folder, progress=progress)

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Close the database connection."""
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r}, tracks={len(self)})"


