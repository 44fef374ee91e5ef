"""Files for the library scan: stored path text, tags, the folder walk (:func:`file_sha256`, re-exported
here, lives in :mod:`workbench.fileio`).

Split from :mod:`workbench.library` (which re-exports these names).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from workbench.errors import os_cause
from workbench.fileio import file_sha256

__all__ = ["ESCAPED_PREFIX", "file_sha256", "path_from_stored", "present", "read_tags", "sidecar_style",
           "stored_path_text", "walk"]

#: Prefix of a stored path whose bytes are not UTF-8 (the rest is percent-escaped bytes).
ESCAPED_PREFIX = "fsenc:"


def stored_path_text(path: str) -> str:
    """A path as text SQLite can store, reversibly (see :func:`path_from_stored`).

    A path that is valid UTF-8 is stored as it is; one with undecodable bytes (held by Python
    as lone surrogates) is stored as ``"fsenc:"`` + its percent-escaped bytes.

    Parameters
    ----------
    path : str
        A file system path, possibly holding surrogate-escaped bytes.

    Returns
    -------
    str
        Text that is valid UTF-8.
    """
    try:
        path.encode("utf-8")
        clean = not path.startswith(ESCAPED_PREFIX)
    except UnicodeEncodeError:
        clean = False
    if clean:
        return path
    from urllib.parse import quote

    return ESCAPED_PREFIX + quote(os.fsencode(path), safe="/")


def path_from_stored(text: str) -> str:
    """The inverse of :func:`stored_path_text`.

    Parameters
    ----------
    text : str
        A path as stored.

    Returns
    -------
    str
        The path, with its original bytes.
    """
    from urllib.parse import unquote_to_bytes

    return os.fsdecode(unquote_to_bytes(text[len(ESCAPED_PREFIX):])) if text.startswith(ESCAPED_PREFIX) else text


def present(path: str) -> bool:
    """False only when the path is certainly gone (no such file or folder); a path that cannot
    be checked (permission denied, I/O error, ...) counts as present.

    Parameters
    ----------
    path : str
        The path to check (a symbolic link is not followed).
    """
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except (OSError, ValueError):
        return True
    return True


def read_tags(path: str | os.PathLike[str]) -> tuple[str | None, str | None]:
    """Title and artist from the file's tags (ID3, Vorbis comments, ...), ``None`` where absent.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file; unreadable tags give ``(None, None)``.

    Returns
    -------
    title, artist : str or None
    """
    import mutagen

    try:
        tagged = mutagen.File(str(path), easy=True)
    except Exception:  # unreadable tags are not a reason to drop a track
        return None, None
    if tagged is None or not tagged.tags:
        return None, None

    def _first(name: str) -> str | None:
        try:
            values = tagged.tags.get(name)
        except (KeyError, ValueError):
            return None
        if not values:
            return None
        text = str(values[0]).strip()
        return text or None

    return _first("title"), _first("artist")


def sidecar_style(path: str | os.PathLike[str]) -> str | None:
    """The ``"style"`` field of the JSON file beside an audio file (``song.wav`` -> ``song.json``),
    as the synthesized demo writes it, else ``None`` (no file, unreadable, or no such field).

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    """
    import json

    sidecar = Path(path).with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        style = json.loads(sidecar.read_text(encoding="utf-8")).get("style")
    except (OSError, ValueError, AttributeError):
        return None
    return style.strip() if isinstance(style, str) and style.strip() else None


def walk(root: Path, on_unreadable: Callable[[str, str], None]) -> Iterator[Path]:
    """Files under ``root`` (hidden ones and symlinked folders skipped); each folder that cannot
    be read is passed to ``on_unreadable(folder, reason)``.

    Parameters
    ----------
    root : Path
        The folder to walk.
    on_unreadable : callable (str, str) -> None
        Called with a folder's path and the reason it cannot be read; the walk goes on.

    Yields
    ------
    Path
        Each file, folders in sorted order.
    """

    def _onerror(exc: OSError) -> None:
        where = os.fspath(exc.filename) if exc.filename is not None else str(root)
        on_unreadable(where, f"cannot read folder: {os_cause(exc)}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=_onerror):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith("."):
                yield Path(dirpath) / name
