"""Scanning a folder into a library: the body of :meth:`workbench.library.Library.scan`.

A rescan trusts size and mtime to skip unchanged files (no hashing, no decoding), recognises a
moved or renamed file by its hash (it keeps its id, so its labels), warns about a file whose
contents changed, marks tracks whose file has gone as missing, and reports every unreadable file
with its reason instead of stopping. Each file's writes are one short transaction; hashing and
decoding happen outside any.

- Only regular files are read. FIFOs, devices and sockets are reported as failures, never
  opened; a symbolic link is followed only when it points at a regular file inside a folder
  that is (or was) scanned into this library.
- Each new file is decoded whole, block by block (:func:`workbench.audio.check_whole`): a file
  that decodes fewer frames than its header promises is *refused* with a named
  :class:`~workbench.errors.CorruptAudioError` (in :attr:`ScanSummary.failed`), never added;
  ``duration_s`` is what decodes, not what the header claims. (``tracks.partial_reason`` is
  left for files a user chooses to keep; the scan does not set it.)
- A folder that cannot be read is a scan failure with its cause; a rescan never marks the
  tracks under it (or any file it cannot stat) missing.

The library's stored-path forms (relative to the workspace root, escaped when not UTF-8) are its
own (``Library._store_text``, ``_abs``, ``_path_keys``); this module only reads and writes rows.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import audio
from workbench.audio import display_path, file_kind
from workbench.errors import (
    AudioError,
    ContentChangedWarning,
    ParameterError,
    StoreError,
    failure_reason,
    os_cause,
)
from workbench.fileio import file_sha256
from workbench.libfiles import present, read_tags, stored_path_text, walk
from workbench.scan import ScanFailure, ScanSummary
from workbench.store import transaction, utc_now
from workbench.wording import count_of

if TYPE_CHECKING:
    from workbench.library import Library


def scan_folder(lib: Library, folder: str | os.PathLike[str], *, progress: bool = True) -> ScanSummary:
    """Add the audio files under ``folder`` (recursively) to ``lib``; :meth:`workbench.library.Library.scan` calls it.

    Parameters
    ----------
    lib : Library
        Open for writing: its connection and stored-path forms are used.
    folder : str or os.PathLike
        The folder :meth:`~workbench.library.Library.scan` was given (its errors are raised here).
    progress : bool
        A tqdm bar over the files.

    Returns
    -------
    ScanSummary
        What the scan did, also recorded in the ``scans`` and ``scan_failures`` tables.
    """
    from tqdm.auto import tqdm

    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise ParameterError(f"folder must be an existing folder of audio files; got {display_path(os.fspath(folder))!r}")
    if lib.store.read_only:
        raise StoreError(f"{lib.path}: the library is open read-only, so it cannot scan")
    started_at = utc_now()
    summary = ScanSummary(folder=str(root))
    unreadable: list[str] = []

    def _on_unreadable(where: str, reason: str) -> None:
        unreadable.append(where)
        summary.failed.append(ScanFailure(where, reason))

    paths = sorted(p for p in walk(root, _on_unreadable) if audio.is_audio_path(p))
    roots = [root, *_scanned_roots(lib)]
    seen: set[str] = set(unreadable)
    # Hashing and decoding happen outside any transaction; each file's writes are one
    # short transaction, so another kernel's writes never wait on a long scan and an
    # interrupted scan keeps what it finished (a rescan resumes).
    for p in tqdm(paths, desc="scan", unit="file", disable=not progress):
        seen.add(str(p))
        try:
            _scan_one(lib, p, summary, root, roots)
        except StoreError:
            raise
        except Exception as exc:  # one bad file never stops the scan
            summary.failed.append(ScanFailure(str(p), failure_reason(exc)))
    with transaction(lib.conn):
        _mark_missing(lib, root, seen, unreadable, summary)
        _record_scan(lib, summary, started_at)
    if summary.changed:
        shown = ", ".join(display_path(c) for c in summary.changed[:5]) + (
            f" and {len(summary.changed) - 5} more" if len(summary.changed) > 5 else "")
        warnings.warn(
            f"{count_of(len(summary.changed), 'file')} changed contents since the last scan: {shown}; "
            "their analyses were dropped and their labels kept: check them",
            ContentChangedWarning,
            stacklevel=3,  # the caller of Library.scan
        )
    return summary


def _scanned_roots(lib: Library) -> list[Path]:
    """Folders scanned into this library before (a link into one of them is followed)."""
    rows = lib.conn.execute("SELECT DISTINCT folder FROM scans").fetchall()
    return [Path(lib._abs(r[0])) for r in rows]


def _regular(p: Path, roots: list[Path]) -> os.stat_result | str:
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


def _scan_one(lib: Library, p: Path, summary: ScanSummary, root: Path, roots: list[Path]) -> None:
    path = str(p)
    st = _regular(p, roots)
    if isinstance(st, str):
        summary.failed.append(ScanFailure(path, st))
        return
    known = _row_at(lib, p)
    if known is not None and known["size_bytes"] == st.st_size and known["mtime_ns"] == st.st_mtime_ns:
        stored, root_text = lib._store_text(p), lib._store_text(root)
        if known["missing_since"] is not None or known["scan_root"] is None or known["path"] != stored:
            with transaction(lib.conn):  # also moves an older absolute row to the relative form
                lib.conn.execute("UPDATE tracks SET missing_since = NULL, path = ?, "
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
    if _row(lib, "content_hash", digest) is None:  # new contents: decode it whole before locking
        try:
            header = audio.check_whole(p), read_tags(p)
        except AudioError as exc:
            summary.failed.append(ScanFailure(path, exc.reason))
            return
    with transaction(lib.conn):
        _apply(lib, p, st, digest, header, summary, root)


def _row(lib: Library, column: str, value: str) -> sqlite3.Row | None:
    return lib.conn.execute(f"SELECT * FROM tracks WHERE {column} = ?", (value,)).fetchone()


def _row_at(lib: Library, p: Path) -> sqlite3.Row | None:
    """The row stored for a file path (relative or, for older rows, absolute)."""
    return lib.conn.execute("SELECT * FROM tracks WHERE path IN (?, ?)", lib._path_keys(p)).fetchone()


def _apply(lib: Library, p: Path, st: os.stat_result, digest: str,
           header: tuple[audio.AudioInfo, tuple[str | None, str | None]] | None, summary: ScanSummary,
           root: Path) -> None:
    """Record one file inside a write transaction, reading the rows afresh."""
    path, stored, root_text, now = str(p), lib._store_text(p), lib._store_text(root), utc_now()
    known = _row_at(lib, p)
    by_hash = _row(lib, "content_hash", digest)
    by_hash_path = None if by_hash is None else lib._abs(by_hash["path"])
    if by_hash is not None and by_hash_path == path:  # touched, same bytes
        lib.conn.execute(
            "UPDATE tracks SET path = ?, size_bytes = ?, mtime_ns = ?, missing_since = NULL WHERE id = ?",
            (stored, st.st_size, st.st_mtime_ns, by_hash["id"]),
        )
        summary.unchanged.append(path)
        return
    if by_hash is not None and known is not None:  # this path held other contents: those are gone now
        _retire(lib, known, now)
    if by_hash is not None and present(by_hash_path):
        summary.duplicates.append((path, by_hash_path))
        return
    if by_hash is not None:  # its old path is gone: moved or renamed, keeps its id and labels
        lib.conn.execute(
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
        lib.conn.execute(
            "UPDATE tracks SET content_hash = ?, path = ?, size_bytes = ?, mtime_ns = ?, duration_s = ?, "
            "sample_rate_hz = ?, channels = ?, format = ?, title = ?, artist = ?, updated_at = ?, "
            "missing_since = NULL, scan_root = ? WHERE id = ?",
            (digest, stored, *values, now, root_text, known["id"]),
        )
        lib.conn.execute("DELETE FROM analyses WHERE track_id = ?", (known["id"],))
        summary.changed.append(path)
        return
    lib.conn.execute(
        "INSERT INTO tracks (content_hash, path, size_bytes, mtime_ns, duration_s, sample_rate_hz, "
        "channels, format, title, artist, added_at, updated_at, scan_root) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (digest, stored, *values, now, now, root_text),
    )
    summary.added.append(path)


def _retire(lib: Library, row: sqlite3.Row, now: str) -> None:
    """Free a path whose old contents are gone, keeping the old track as missing."""
    lib.conn.execute(
        "UPDATE tracks SET path = ?, missing_since = ? WHERE id = ?",
        (f"{row['path']}#gone-{row['content_hash'][:12]}", now, row["id"]),
    )


def _mark_missing(lib: Library, root: Path, seen: set[str], unreadable: list[str], summary: ScanSummary) -> None:
    """Mark tracks under ``root`` whose file is gone. A file that cannot be stat'ed (permission
    denied, ...) or sits under a folder the walk could not read is *not* missing."""
    prefix = str(root).rstrip(os.sep) + os.sep
    blocked = tuple(u.rstrip(os.sep) + os.sep for u in unreadable)
    rows = lib.conn.execute("SELECT id, path FROM tracks WHERE missing_since IS NULL").fetchall()
    now = utc_now()
    for row in rows:
        path = lib._abs(row["path"])
        if not path.startswith(prefix) or path in seen or path.startswith(blocked):
            continue
        if not present(path):
            lib.conn.execute("UPDATE tracks SET missing_since = ? WHERE id = ?", (now, row["id"]))
            summary.missing.append(path)


def _record_scan(lib: Library, summary: ScanSummary, started_at: str) -> None:
    c = summary.counts()
    cur = lib.conn.execute(
        "INSERT INTO scans (folder, started_at, finished_at, added, unchanged, moved, changed, missing, "
        "failed) VALUES (?,?,?,?,?,?,?,?,?)",
        (lib._store_text(summary.folder), started_at, utc_now(), c["added"], c["unchanged"], c["moved"],
         c["changed"], c["missing"], c["failed"]),
    )
    lib.conn.executemany(
        "INSERT INTO scan_failures (scan_id, path, reason) VALUES (?,?,?)",
        [(cur.lastrowid, lib._store_text(f.path), stored_path_text(f.reason)) for f in summary.failed],
    )
