"""Crash-safe files: atomic writes (a crash or a kill never leaves a half-written file under the
real name), whether the process that left a temporary file still runs, and JSON of numpy values."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Run ``write(tmp)`` on a fresh temporary file beside ``path``, fsync it, then rename it into place.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; replaced only once ``write`` has finished.
    write : callable
        ``write(tmp)`` writes the whole content to the temporary path ``tmp``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OSError
        Whatever creating, writing or renaming raises; the temporary file is removed.
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
        The whole content.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs here (a zombie counts as gone); this process counts as alive.

    Parameters
    ----------
    pid : int
        A process id; ``<= 0`` is never alive.

    Returns
    -------
    bool
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
        A value ``json`` cannot write itself.

    Returns
    -------
    object
        A Python scalar or list for numpy values, a ``str`` for a path.

    Raises
    ------
    TypeError
        For any other type.
    """
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
