"""Notebook 07's reference: the crate or folder it names, else (for its default only) the library's first that can be one.

Notebook 07 ships with ``REFERENCE = "trance"``; on a library without a "trance" crate or folder it stopped with
an error before showing anything. A value the user set keeps :func:`~workbench.style.profiles.reference_tracks`'s
error, which lists the crates and folders there are.
"""

from __future__ import annotations

from workbench.errors import ParameterError
from workbench.library import Library, Track
from workbench.style.profiles import reference_tracks


def reference_or_first(library: Library, name: str, *, default: str, min_tracks: int) -> tuple[list[Track], str, str | None]:
    """The tracks of the crate or folder ``name``; for ``name == default`` absent, the first with ``min_tracks``.

    Parameters
    ----------
    library : Library
    name : str
        The crate or sub-folder asked for (notebook 07's ``REFERENCE``).
    default : str
        The notebook's default value: only this one falls back.
    min_tracks : int
        Fewest tracks (count) a crate or folder needs to stand in: crates first, by name, then folders, by name.

    Returns
    -------
    tracks : list of Track
    source : str
        ``"crate:NAME"`` or ``"folder:NAME"``.
    said : str or None
        The line saying which crate or folder stood in for ``default`` and why; None when ``name`` was found.

    Raises
    ------
    ParameterError
        ``name`` is not there and is not ``default``, or no crate or folder has ``min_tracks`` tracks (the
        error lists what there is).
    """
    from workbench.crates import Crates

    try:
        tracks, source = reference_tracks(library, name)
        return tracks, source, None
    except ParameterError as exc:
        if name != default:
            raise
        missing = exc
    crates = Crates(library)
    candidates = [("crate", c.name, crates.tracks(c.name)) for c in crates.list()]
    folders = sorted({t.folder for t in library.tracks() if t.folder})
    candidates += [("folder", f, reference_tracks(library, f, kind="folder")[0]) for f in folders]
    for kind, found, tracks in candidates:
        if len(tracks) >= min_tracks:
            return tracks, f"{kind}:{found}", (f"no crate or folder {default!r} (the default REFERENCE): using the "
                                              f"{kind} {found!r}, the first with {min_tracks} tracks or more; set "
                                              "REFERENCE to choose another")
    raise ParameterError(f"{missing}; and no crate or folder has {min_tracks} tracks or more (MIN_TRACKS) to stand "
                         "in for the default") from missing
