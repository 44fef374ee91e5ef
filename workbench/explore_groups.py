"""How the explorer groups a library's tracks, and which colour each group gets.

A track's group is its crate(s), the sub-folder it sits in, its artist tag, or a style tag (the
``"style"`` of a JSON file beside the audio): :func:`track_groups` picks the first grouping that
splits the library, unless told. The table, the distributions and the embedding map of
:mod:`workbench.explore` all colour by it: at most :data:`MAX_GROUPS` groups, the smaller ones
as "other" (:func:`shown_groups`, :func:`group_colours`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.library import Library, Track

#: How tracks can be grouped: the user's crates, the sub-folder they sit in, their artist tag, or a
#: style tag (the ``"style"`` of a JSON file beside the audio, as the demo library has).
GROUP_BY: tuple[str, ...] = ("crate", "folder", "artist", "style")

#: Groups drawn in their own colour; the smaller ones share "other".
MAX_GROUPS = 12

_NONE = {"crate": "no crate", "folder": "no folder", "artist": "unknown artist", "style": "untagged"}


def style_tag(track: Track) -> str | None:
    """The ``"style"`` of the JSON file beside the track's audio (:func:`workbench.libfiles.sidecar_style`).

    Parameters
    ----------
    track : Track
        The track; None is returned when there is no such file or field.
    """
    from workbench.libfiles import sidecar_style

    return sidecar_style(track.path)


def track_folder(track: Track) -> str:
    """The sub-folder under its scan root, else the name of the folder the file sits in.

    Parameters
    ----------
    track : Track
        The track (its ``folder`` and ``path``).
    """
    return track.folder or Path(track.path).parent.name or _NONE["folder"]


def track_groups(library: Library, group_by: str | None = None, *,
                 tracks: list[Track] | None = None) -> tuple[str, dict[int, str]]:
    """Each track's group, and the grouping used.

    Parameters
    ----------
    library : Library
        Its crates and tracks are read.
    group_by : {"crate", "folder", "artist", "style"} or None
        ``None`` picks the first of crate, folder, style, artist that splits the library into
        two groups or more (the user's own organisation first), else ``"folder"``. A track in
        several crates is in the group ``"a + b"``.
    tracks : list of Track or None
        Default every present track.

    Returns
    -------
    (str, dict of int to str)
        The grouping, and the group of each track id.
    """
    from workbench.crates import Crates

    if group_by is not None and group_by not in GROUP_BY:
        raise ParameterError(f"group_by must be one of {GROUP_BY} or None; got {group_by!r}")
    tracks = library.tracks() if tracks is None else tracks
    membership = Crates(library).membership()

    def _of(kind: str) -> dict[int, str]:
        if kind == "crate":
            return {t.id: " + ".join(membership[t.id]) if t.id in membership else _NONE["crate"] for t in tracks}
        if kind == "folder":
            return {t.id: track_folder(t) for t in tracks}
        if kind == "artist":
            return {t.id: " ".join((t.artist or "").split()) or _NONE["artist"] for t in tracks}
        return {t.id: style_tag(t) or _NONE["style"] for t in tracks}

    if group_by is not None:
        return group_by, _of(group_by)
    for kind in ("crate", "folder", "style", "artist"):
        groups = _of(kind)
        if len(set(groups.values())) >= 2:
            return kind, groups
    return "folder", _of("folder")


def shown_groups(groups: list[str]) -> list[str]:
    """``groups`` with all but the :data:`MAX_GROUPS` - 1 largest put in "other".

    Parameters
    ----------
    groups : list of str
        The group of each point (track), in order.
    """
    from collections import Counter

    counts = Counter(groups)
    if len(counts) <= MAX_GROUPS:
        return groups
    keep = {g for g, _ in counts.most_common(MAX_GROUPS - 1)}
    return [g if g in keep else "other" for g in groups]


def group_colours(names: list[str]) -> dict[str, Any]:
    """A colour per group name: tab10 (tab20 past ten groups), grey for "other".

    Parameters
    ----------
    names : list of str
        The groups, in legend order.
    """
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {n: ("#9ca3af" if n == "other" else cmap(i % cmap.N)) for i, n in enumerate(names)}
