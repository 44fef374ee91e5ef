"""What a library search's query names: a track of the library, an audio file, or nothing (said before anything slow).

:func:`check_query` lets ``workbench similar`` refuse an unknown track before the library is analysed and embedded;
:class:`workbench.search.LibrarySearch` raises :func:`unknown_query`'s error in the same words.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench import audio
from workbench.errors import TrackNotFoundError
from workbench.library import Library
from workbench.wording import TRACK_NAMED


def check_query(library: Library, query: str | os.PathLike[str]) -> None:
    """Refuse, before anything slow, a query that is neither a track of ``library`` nor a file.

    ``workbench similar 99`` analysed and embedded the whole library before saying that 99 is
    no track; this says it first, in the words :meth:`LibrarySearch.similar` uses. A file that is
    not a track is decoded here (:func:`workbench.audio.check_whole`), so an empty, truncated or
    unreadable query file is refused before the library is analysed too.

    Parameters
    ----------
    library : Library
    query : str or os.PathLike
        A track's id, content hash or path, or an audio file.

    Raises
    ------
    TrackNotFoundError
        ``query`` names no track and no file.
    AudioError
        ``query`` is a file that does not decode whole (empty, truncated, not audio), with its cause.
    """
    try:
        library.track(query)  # type: ignore[arg-type]
        return
    except TrackNotFoundError:
        if is_file(query):
            audio.check_whole(query)
            return
    raise unknown_query(library, query)


def unknown_query(library: Library, query: object) -> TrackNotFoundError:
    """The error for a query that names no track of ``library`` and no file (the file's path as the user gave it).

    Parameters
    ----------
    library : Library
    query : object
        What the user asked for.

    Returns
    -------
    TrackNotFoundError
    """
    shown = audio.display_path(os.fspath(query)) if isinstance(query, (str, os.PathLike)) else repr(query)
    return TrackNotFoundError(f"{shown!r} is neither a track of {library.path} nor an audio file ({TRACK_NAMED})")


def is_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an existing file (False for a path the system cannot even check).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    bool
    """
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False
