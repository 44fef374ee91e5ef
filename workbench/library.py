"""The track library: scan folders of audio into the SQLite store.

A track's identity is the sha256 of its file bytes. A rescan trusts size and mtime to skip
unchanged files (no hashing, no decoding), recognises a moved or renamed file by its hash (it
keeps its id, so its labels), warns about a file whose contents changed, marks tracks whose
file has gone as missing, and reports every unreadable file with its reason instead of
stopping.

Robust on a real library:

- Only regular files are read. FIFOs, devices and sockets are reported as failures, never
  opened; a symbolic link is followed only when it points at a regular file inside a folder
  that is (or was) scanned into this library.
- Each new file is decoded whole, block by block, at scan time (:func:`workbench.audio.check_whole`):
  a file that decodes fewer frames than its header promises is *refused* with a named
  :class:`~workbench.errors.CorruptAudioError` (in :attr:`ScanSummary.failed`), never added;
  ``duration_s`` is what decodes, not what the header claims. (``tracks.partial_reason`` is
  left for files a user chooses to keep; the scan does not set it.)
- A folder that cannot be read is a scan failure with its cause; a rescan never marks the
  tracks under it (or any file it cannot stat) missing.
- File names of any bytes: a path that is not valid UTF-8 is stored percent-escaped behind
  the prefix ``fsenc:`` (reversible, see :func:`stored_path_text`), and :attr:`Track.path` is
  the ``str`` Python uses for such names (``os.fsdecode``), which opens the file.
- Tracks inside the library's workspace root are stored relative to it, so a copied or moved
  workspace keeps working; :attr:`Track.path` is always absolute.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

from workbench import audio, config
from workbench.audio import display_path, file_kind
from workbench.errors import (
    AudioError,
    ContentChangedWarning,
    ParameterError,
    StoreError,
    TrackNotFoundError,
    failure_reason,
    os_cause,
)
from workbench.fileio import file_sha256
from workbench.libfiles import (
    ESCAPED_PREFIX,
    path_from_stored,
    present,
    read_tags,
    stored_path_text,
    walk,
)
from workbench.scan import ScanFailure, ScanSummary  # re-exported (moved there)
from workbench.store import Store, transaction, utc_now
from workbench.wording import count_of

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

    Examples
    --------
    >>> lib = Library("data/workbench.db")          # doctest: +SKIP
    >>> print(lib.scan("~/Music/techno"))           # doctest: +SKIP
    >>> [t.name for t in lib.tracks()]              # doctest: +SKIP
    """

    def __init__(self, db_path: str | os.PathLike[str] | None = None, *, timeout_s: float = 30.0,
                 read_only: bool | None = None) -> None:
        self.workspace = config.workspace(db=db_path)
        self.path = self.workspace.db
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
        added; one that is not whole is refused (see the module docstring).

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
        from tqdm.auto import tqdm

        root = Path(folder).expanduser().resolve()
        if not root.is_dir():
            raise ParameterError(f"folder must be an existing folder of audio files; got {display_path(os.fspath(folder))!r}")
        if self.store.read_only:
            raise StoreError(f"{self.path}: the library is open read-only, so it cannot scan")
        started_at = utc_now()
        summary = ScanSummary(folder=str(root))
        unreadable: list[str] = []

        def _on_unreadable(where: str, reason: str) -> None:
            unreadable.append(where)
            summary.failed.append(ScanFailure(where, reason))

        paths = sorted(p for p in walk(root, _on_unreadable) if audio.is_audio_path(p))
        roots = [root, *self._scanned_roots()]
        seen: set[str] = set(unreadable)
        # Hashing and decoding happen outside any transaction; each file's writes are one
        # short transaction, so another kernel's writes never wait on a long scan and an
        # interrupted scan keeps what it finished (a rescan resumes).
        for p in tqdm(paths, desc="scan", unit="file", disable=not progress):
            seen.add(str(p))
            try:
                self._scan_one(p, summary, root, roots)
            except StoreError:
                raise
            except Exception as exc:  # one bad file never stops the scan
                summary.failed.append(ScanFailure(str(p), failure_reason(exc)))
        with transaction(self.conn):
            self._mark_missing(root, seen, unreadable, summary)
            self._record_scan(summary, started_at)
        if summary.changed:
            shown = ", ".join(display_path(c) for c in summary.changed[:5]) + (
                f" and {len(summary.changed) - 5} more" if len(summary.changed) > 5 else "")
            warnings.warn(
                f"{count_of(len(summary.changed), 'file')} changed contents since the last scan: {shown}; "
                "their analyses were dropped and their labels kept: check them",
                ContentChangedWarning,
                stacklevel=2,
            )
        return summary

    def _scanned_roots(self) -> list[Path]:
        """Folders scanned into this library before (a link into one of them is followed)."""
        rows = self.conn.execute("SELECT DISTINCT folder FROM scans").fetchall()
        return [Path(self._abs(r[0])) for r in rows]

    def _regular(self, p: Path, roots: list[Path]) -> os.stat_result | str:
        """The file's stat when it is a regular file to read, else why it is skipped."""
        try:
            lst = os.lstat(p)
        except OSError as exc:
            return f"cannot stat: {os_cause(exc)}"
        if stat.S_ISREG(lst.st_mode):
            return lst
        if not stat.S_ISLNK(lst.st_mode):
            return f"not a regular file ({file_kind(lst.st_mode)}); skipped"
        try:
            st = os.stat(p)
            target = Path(os.path.realpath(p))
        except OSError as exc:
            return f"symbolic link whose target cannot be read: {os_cause(exc)}; not followed"
        if not stat.S_ISREG(st.st_mode):
            return f"symbolic link to a {file_kind(st.st_mode)}, not a regular file; not followed"
        if not any(target.is_relative_to(r) for r in roots):
            return (f"symbolic link to a file outside the scanned folders ({display_path(target)}); "
                    "not followed: scan its folder instead")
        return st

    def _scan_one(self, p: Path, summary: ScanSummary, root: Path, roots: list[Path]) -> None:
        path = str(p)
        st = self._regular(p, roots)
        if isinstance(st, str):
            summary.failed.append(ScanFailure(path, st))
            return
        known = self._row_at(p)
        if known is not None and known["size_bytes"] == st.st_size and known["mtime_ns"] == st.st_mtime_ns:
            stored, root_text = self._store_text(p), self._store_text(root)
            if known["missing_since"] is not None or known["scan_root"] is None or known["path"] != stored:
                with transaction(self.conn):  # also moves an older absolute row to the relative form
                    self.conn.execute("UPDATE tracks SET missing_since = NULL, path = ?, "
                                      "scan_root = COALESCE(scan_root, ?) WHERE id = ?",
                                      (stored, root_text, known["id"]))
            summary.unchanged.append(path)
            return
        try:
            digest = file_sha256(p)
        except OSError as exc:
            summary.failed.append(ScanFailure(path, f"cannot read: {os_cause(exc)}"))
            return
        header: tuple[audio.AudioInfo, tuple[str | None, str | None]] | None = None
        if self._row("content_hash", digest) is None:  # new contents: decode it whole before locking
            try:
                header = audio.check_whole(p), read_tags(p)
            except AudioError as exc:
                summary.failed.append(ScanFailure(path, exc.reason))
                return
        with transaction(self.conn):
            self._apply(p, st, digest, header, summary, root)

    def _row(self, column: str, value: str) -> sqlite3.Row | None:
        return self.conn.execute(f"SELECT * FROM tracks WHERE {column} = ?", (value,)).fetchone()

    def _row_at(self, p: Path) -> sqlite3.Row | None:
        """The row stored for a file path (relative or, for older rows, absolute)."""
        return self.conn.execute("SELECT * FROM tracks WHERE path IN (?, ?)", self._path_keys(p)).fetchone()

    def _apply(self, p: Path, st: os.stat_result, digest: str,
               header: tuple[audio.AudioInfo, tuple[str | None, str | None]] | None, summary: ScanSummary,
               root: Path) -> None:
        """Record one file inside a write transaction, reading the rows afresh."""
        path, stored, root_text, now = str(p), self._store_text(p), self._store_text(root), utc_now()
        known = self._row_at(p)
        by_hash = self._row("content_hash", digest)
        by_hash_path = None if by_hash is None else self._abs(by_hash["path"])
        if by_hash is not None and by_hash_path == path:  # touched, same bytes
            self.conn.execute(
                "UPDATE tracks SET path = ?, size_bytes = ?, mtime_ns = ?, missing_since = NULL WHERE id = ?",
                (stored, st.st_size, st.st_mtime_ns, by_hash["id"]),
            )
            summary.unchanged.append(path)
            return
        if by_hash is not None and known is not None:  # this path held other contents: those are gone now
            self._retire(known, now)
        if by_hash is not None and present(by_hash_path):
            summary.duplicates.append((path, by_hash_path))
            return
        if by_hash is not None:  # its old path is gone: moved or renamed, keeps its id and labels
            self.conn.execute(
                "UPDATE tracks SET path = ?, size_bytes = ?, mtime_ns = ?, missing_since = NULL, "
                "updated_at = ?, scan_root = ? WHERE id = ?",
                (stored, st.st_size, st.st_mtime_ns, now, root_text, by_hash["id"]),
            )
            summary.moved.append((by_hash_path, path))
            return
        if header is None:  # another process removed the row we saw: decode it now
            try:
                header = audio.check_whole(p), read_tags(p)
            except AudioError as exc:
                summary.failed.append(ScanFailure(path, exc.reason))
                return
        meta, (title, artist) = header
        values = (st.st_size, st.st_mtime_ns, meta.duration_s, meta.sample_rate_hz, meta.channels,
                  f"{meta.format}/{meta.subtype}", title, artist)
        if known is not None:  # same path, new bytes
            self.conn.execute(
                "UPDATE tracks SET content_hash = ?, path = ?, size_bytes = ?, mtime_ns = ?, duration_s = ?, "
                "sample_rate_hz = ?, channels = ?, format = ?, title = ?, artist = ?, updated_at = ?, "
                "missing_since = NULL, scan_root = ? WHERE id = ?",
                (digest, stored, *values, now, root_text, known["id"]),
            )
            self.conn.execute("DELETE FROM analyses WHERE track_id = ?", (known["id"],))
            summary.changed.append(path)
            return
        self.conn.execute(
            "INSERT INTO tracks (content_hash, path, size_bytes, mtime_ns, duration_s, sample_rate_hz, "
            "channels, format, title, artist, added_at, updated_at, scan_root) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (digest, stored, *values, now, now, root_text),
        )
        summary.added.append(path)

    def _retire(self, row: sqlite3.Row, now: str) -> None:
        """Free a path whose old contents are gone, keeping the old track as missing."""
        self.conn.execute(
            "UPDATE tracks SET path = ?, missing_since = ? WHERE id = ?",
            (f"{row['path']}#gone-{row['content_hash'][:12]}", now, row["id"]),
        )

    def _mark_missing(self, root: Path, seen: set[str], unreadable: list[str], summary: ScanSummary) -> None:
        """Mark tracks under ``root`` whose file is gone. A file that cannot be stat'ed (permission
        denied, ...) or sits under a folder the walk could not read is *not* missing."""
        prefix = str(root).rstrip(os.sep) + os.sep
        blocked = tuple(u.rstrip(os.sep) + os.sep for u in unreadable)
        rows = self.conn.execute("SELECT id, path FROM tracks WHERE missing_since IS NULL").fetchall()
        now = utc_now()
        for row in rows:
            path = self._abs(row["path"])
            if not path.startswith(prefix) or path in seen or path.startswith(blocked):
                continue
            if not present(path):
                self.conn.execute("UPDATE tracks SET missing_since = ? WHERE id = ?", (now, row["id"]))
                summary.missing.append(path)

    def _record_scan(self, summary: ScanSummary, started_at: str) -> None:
        c = summary.counts()
        cur = self.conn.execute(
            "INSERT INTO scans (folder, started_at, finished_at, added, unchanged, moved, changed, missing, "
            "failed) VALUES (?,?,?,?,?,?,?,?,?)",
            (self._store_text(summary.folder), started_at, utc_now(), c["added"], c["unchanged"], c["moved"],
             c["changed"], c["missing"], c["failed"]),
        )
        self.conn.executemany(
            "INSERT INTO scan_failures (scan_id, path, reason) VALUES (?,?,?)",
            [(cur.lastrowid, self._store_text(f.path), stored_path_text(f.reason)) for f in summary.failed],
        )

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


