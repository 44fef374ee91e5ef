"""The track library: scan folders of audio into the SQLite store.

A track's identity is the sha256 of its file bytes. A rescan trusts size and mtime to skip
unchanged files (no hashing, no decoding), recognises a moved or renamed file by its hash (it
keeps its id, so its labels), warns about a file whose contents changed, marks tracks whose
file has gone as missing, and reports every unreadable file with its reason instead of
stopping.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

from workbench import audio, config
from workbench.errors import (
    AudioError,
    ContentChangedWarning,
    ParameterError,
    TrackNotFoundError,
)
from workbench.store import Store, transaction, utc_now

_HASH_CHUNK_BYTES = 1 << 20


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
        """Title from the tags, else the file name without its suffix."""
        return self.title or Path(self.path).stem

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
    def from_row(cls, row: sqlite3.Row) -> Track:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class ScanFailure:
    """A file the scan could not read, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class ScanSummary:
    """What one :meth:`Library.scan` did. Paths are absolute."""

    folder: str
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (this path, copy of)
    failed: list[ScanFailure] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The number of files in each outcome."""
        return {
            "added": len(self.added),
            "unchanged": len(self.unchanged),
            "moved": len(self.moved),
            "changed": len(self.changed),
            "missing": len(self.missing),
            "duplicates": len(self.duplicates),
            "failed": len(self.failed),
        }

    def __str__(self) -> str:
        parts = ", ".join(f"{n} {k}" for k, n in self.counts().items())
        lines = [f"scan of {self.folder}: {parts}"]
        lines += [f"  failed: {f.path}: {f.reason}" for f in self.failed]
        return "\n".join(lines)


class Library:
    """A library of tracks in a SQLite database.

    Parameters
    ----------
    db_path : path-like or None
        The database file; ``None`` means :func:`workbench.config.db_path` (``data/workbench.db``).
    timeout_s : float >= 0
        How long a write waits for another process's write to finish.

    Examples
    --------
    >>> lib = Library("data/workbench.db")          # doctest: +SKIP
    >>> print(lib.scan("~/Music/techno"))           # doctest: +SKIP
    >>> [t.name for t in lib.tracks()]              # doctest: +SKIP
    """

    def __init__(self, db_path: str | os.PathLike[str] | None = None, *, timeout_s: float = 30.0) -> None:
        self.workspace = config.workspace(db=db_path)
        self.path = self.workspace.db
        self.store = Store(self.path, timeout_s=timeout_s)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.conn

    # -- reading -------------------------------------------------------------------------
    def tracks(self, *, include_missing: bool = False) -> list[Track]:
        """All tracks, ordered by path; those whose file has gone only when asked."""
        where = "" if include_missing else "WHERE missing_since IS NULL"
        rows = self.conn.execute(f"SELECT * FROM tracks {where} ORDER BY path").fetchall()
        return [Track.from_row(r) for r in rows]

    def track(self, key: int | str | os.PathLike[str]) -> Track:
        """Find one track by id, content hash (or a unique prefix of 8+ hex digits) or path.

        Raises
        ------
        TrackNotFoundError
            Nothing (or more than one track, for a hash prefix) matches.
        """
        row = None
        if isinstance(key, (int,)) and not isinstance(key, bool):
            row = self.conn.execute("SELECT * FROM tracks WHERE id = ?", (key,)).fetchone()
        elif isinstance(key, (str, os.PathLike)):
            text = os.fspath(key)
            row = self.conn.execute(
                "SELECT * FROM tracks WHERE path = ?", (str(Path(text).expanduser().resolve()),)
            ).fetchone()
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
            raise TrackNotFoundError(f"no track in {self.path} has id, hash or path {key if isinstance(key, int) else os.fspath(key)!r}")
        return Track.from_row(row)

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM tracks WHERE missing_since IS NULL").fetchone()[0])

    def __iter__(self) -> Iterator[Track]:
        return iter(self.tracks())

    # -- scanning ------------------------------------------------------------------------
    def scan(self, folder: str | os.PathLike[str], *, progress: bool = True) -> ScanSummary:
        """Add the audio files under ``folder`` (recursively) to the library.

        Files with a suffix in :data:`workbench.audio.SUPPORTED_EXTENSIONS` are considered;
        other files are ignored. Idempotent: a second scan of an unchanged folder reads only
        file sizes and modification times.

        Returns
        -------
        ScanSummary
            Added, unchanged, moved, changed, missing, duplicate and failed files.

        Raises
        ------
        ParameterError
            ``folder`` does not exist or is not a folder.
        """
        from tqdm.auto import tqdm

        root = Path(folder).expanduser().resolve()
        if not root.is_dir():
            raise ParameterError(f"folder must be an existing folder of audio files; got {os.fspath(folder)!r}")
        started_at = utc_now()
        summary = ScanSummary(folder=str(root))
        paths = sorted(p for p in _walk(root) if audio.is_audio_path(p))
        seen: set[str] = set()
        # Hashing and header reads happen outside any transaction; each file's writes are one
        # short transaction, so another kernel's writes never wait on a long scan and an
        # interrupted scan keeps what it finished (a rescan resumes).
        for p in tqdm(paths, desc="scan", unit="file", disable=not progress):
            seen.add(str(p))
            self._scan_one(p, summary, root)
        with transaction(self.conn):
            self._mark_missing(root, seen, summary)
            self._record_scan(summary, started_at)
        if summary.changed:
            shown = ", ".join(summary.changed[:5]) + (f" and {len(summary.changed) - 5} more" if len(summary.changed) > 5 else "")
            warnings.warn(
                f"{len(summary.changed)} file(s) changed contents since the last scan: {shown}; "
                "their analyses were dropped and their labels kept: check them",
                ContentChangedWarning,
                stacklevel=2,
            )
        return summary

    def _scan_one(self, p: Path, summary: ScanSummary, root: Path) -> None:
        path = str(p)
        try:
            st = p.stat()
        except OSError as exc:
            summary.failed.append(ScanFailure(path, f"cannot stat: {exc.strerror or exc}"))
            return
        known = self._row("path", path)
        if known is not None and known["size_bytes"] == st.st_size and known["mtime_ns"] == st.st_mtime_ns:
            if known["missing_since"] is not None or known["scan_root"] is None:
                with transaction(self.conn):
                    self.conn.execute("UPDATE tracks SET missing_since = NULL, scan_root = COALESCE(scan_root, ?) "
                                      "WHERE id = ?", (str(root), known["id"]))
            summary.unchanged.append(path)
            return
        try:
            digest = file_sha256(p)
        except OSError as exc:
            summary.failed.append(ScanFailure(path, f"cannot read: {exc.strerror or exc}"))
            return
        header: tuple[audio.AudioInfo, tuple[str | None, str | None]] | None = None
        if self._row("content_hash", digest) is None:  # new contents: read the header before locking
            try:
                header = audio.info(p), read_tags(p)
            except AudioError as exc:
                summary.failed.append(ScanFailure(path, exc.reason))
                return
        with transaction(self.conn):
            self._apply(p, st, digest, header, summary, root)

    def _row(self, column: str, value: str) -> sqlite3.Row | None:
        return self.conn.execute(f"SELECT * FROM tracks WHERE {column} = ?", (value,)).fetchone()

    def _apply(self, p: Path, st: os.stat_result, digest: str,
               header: tuple[audio.AudioInfo, tuple[str | None, str | None]] | None, summary: ScanSummary,
               root: Path) -> None:
        """Record one file inside a write transaction, reading the rows afresh."""
        path, now = str(p), utc_now()
        known = self._row("path", path)
        by_hash = self._row("content_hash", digest)
        if by_hash is not None and by_hash["path"] == path:  # touched, same bytes
            self.conn.execute(
                "UPDATE tracks SET size_bytes = ?, mtime_ns = ?, missing_since = NULL WHERE id = ?",
                (st.st_size, st.st_mtime_ns, by_hash["id"]),
            )
            summary.unchanged.append(path)
            return
        if by_hash is not None and known is not None:  # this path held other contents: those are gone now
            self._retire(known, now)
        if by_hash is not None and Path(by_hash["path"]).exists():
            summary.duplicates.append((path, by_hash["path"]))
            return
        if by_hash is not None:  # its old path is gone: moved or renamed, keeps its id and labels
            self.conn.execute(
                "UPDATE tracks SET path = ?, size_bytes = ?, mtime_ns = ?, missing_since = NULL, "
                "updated_at = ?, scan_root = ? WHERE id = ?",
                (path, st.st_size, st.st_mtime_ns, now, str(root), by_hash["id"]),
            )
            summary.moved.append((by_hash["path"], path))
            return
        if header is None:  # another process removed the row we saw: read the header now
            try:
                header = audio.info(p), read_tags(p)
            except AudioError as exc:
                summary.failed.append(ScanFailure(path, exc.reason))
                return
        meta, (title, artist) = header
        values = (st.st_size, st.st_mtime_ns, meta.duration_s, meta.sample_rate_hz, meta.channels,
                  f"{meta.format}/{meta.subtype}", title, artist)
        if known is not None:  # same path, new bytes
            self.conn.execute(
                "UPDATE tracks SET content_hash = ?, size_bytes = ?, mtime_ns = ?, duration_s = ?, "
                "sample_rate_hz = ?, channels = ?, format = ?, title = ?, artist = ?, updated_at = ?, "
                "missing_since = NULL, scan_root = ? WHERE id = ?",
                (digest, *values, now, str(root), known["id"]),
            )
            self.conn.execute("DELETE FROM analyses WHERE track_id = ?", (known["id"],))
            summary.changed.append(path)
            return
        self.conn.execute(
            "INSERT INTO tracks (content_hash, path, size_bytes, mtime_ns, duration_s, sample_rate_hz, "
            "channels, format, title, artist, added_at, updated_at, scan_root) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (digest, path, *values, now, now, str(root)),
        )
        summary.added.append(path)

    def _retire(self, row: sqlite3.Row, now: str) -> None:
        """Free a path whose old contents are gone, keeping the old track as missing."""
        self.conn.execute(
            "UPDATE tracks SET path = ?, missing_since = ? WHERE id = ?",
            (f"{row['path']}#gone-{row['content_hash'][:12]}", now, row["id"]),
        )

    def _mark_missing(self, root: Path, seen: set[str], summary: ScanSummary) -> None:
        prefix = str(root).rstrip(os.sep) + os.sep
        rows = self.conn.execute(
            "SELECT id, path FROM tracks WHERE missing_since IS NULL AND substr(path, 1, ?) = ?",
            (len(prefix), prefix),
        ).fetchall()
        now = utc_now()
        for row in rows:
            if row["path"] not in seen and not Path(row["path"]).exists():
                self.conn.execute("UPDATE tracks SET missing_since = ? WHERE id = ?", (now, row["id"]))
                summary.missing.append(row["path"])

    def _record_scan(self, summary: ScanSummary, started_at: str) -> None:
        c = summary.counts()
        cur = self.conn.execute(
            "INSERT INTO scans (folder, started_at, finished_at, added, unchanged, moved, changed, missing, "
            "failed) VALUES (?,?,?,?,?,?,?,?,?)",
            (summary.folder, started_at, utc_now(), c["added"], c["unchanged"], c["moved"], c["changed"],
             c["missing"], c["failed"]),
        )
        self.conn.executemany(
            "INSERT INTO scan_failures (scan_id, path, reason) VALUES (?,?,?)",
            [(cur.lastrowid, f.path, f.reason) for f in summary.failed],
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


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def read_tags(path: str | os.PathLike[str]) -> tuple[str | None, str | None]:
    """Title and artist from the file's tags (ID3, Vorbis comments, ...), ``None`` where absent."""
    import mutagen

    try:
        tagged = mutagen.File(str(path), easy=True)
    except Exception:  # unreadable tags are not a reason to drop a track
        return None, None
    if tagged is None or not tagged.tags:
        return None, None

    def first(name: str) -> str | None:
        try:
            values = tagged.tags.get(name)
        except (KeyError, ValueError):
            return None
        if not values:
            return None
        text = str(values[0]).strip()
        return text or None

    return first("title"), first("artist")


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith("."):
                yield Path(dirpath) / name
