"""Crash-safe files: atomic writes (a crash or a kill never leaves a half-written file under the
real name), the sha256 of a file's bytes, whether the process that left a temporary file still
runs, and JSON of numpy values.

The one place in the package that hashes a file's content (:func:`file_sha256`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Run ``write(tmp)`` on a fresh temporary file beside ``path``, fsync it, then rename it into place.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; its folder must exist.
    write : callable (Path) -> object
        Writes the whole content to the temporary path it is given. Whatever it raises is
        raised here, after the temporary file is removed; ``path`` is then untouched.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    os.close(fd)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    data : bytes
        Its whole content.

    Returns
    -------
    Path
        ``path``.
    """
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


_HASH_CHUNK_BYTES = 1 << 20


def file_kind(mode: int) -> str:
    """What ``os.stat``'s ``st_mode`` says a path is, in words (``"FIFO"``, ``"folder"``, ...).

    Parameters
    ----------
    mode : int
        An ``st_mode`` from :func:`os.stat`, :func:`os.lstat` or :func:`os.fstat`.

    Returns
    -------
    str
        ``"regular file"``, ``"folder"``, ``"FIFO"``, ``"character device"``, ``"block device"``,
        ``"socket"``, ``"symbolic link"``, or ``"special file"`` for anything else.
    """
    for test, word in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISLNK, "symbolic link")):
        if test(mode):
            return word
    return "special file"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file's bytes, read in 1 MiB chunks.

    Parameters
    ----------
    path : str or os.PathLike
        The file to hash. It is opened non-blocking, so a FIFO or device is refused, never read.

    Returns
    -------
    str
        64 lowercase hex digits.

    Raises
    ------
    OSError
        The file cannot be read, or is not a regular file (a FIFO or device is never read:
        it could block or never end).
    """
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"not a regular file ({file_kind(mode)})")
        while chunk := fh.read(_HASH_CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs here (a zombie counts as gone); this process counts as alive.

    Parameters
    ----------
    pid : int
        A process id; <= 0 is never alive.
    """
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a killed child not yet waited for is a zombie ("Z") - gone for our purpose
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def jsonable(value: object) -> object:
    """``json.dumps(..., default=jsonable)``: numpy scalars and arrays, and paths, as plain JSON.

    Parameters
    ----------
    value : object
        A value :mod:`json` cannot write itself.

    Raises
    ------
    TypeError
        ``value`` is none of these.
    """
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
