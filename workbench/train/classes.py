"""Where embedding training gets its classes: the user's own organisation of their music.

"Similar" means what the user says it means. :func:`resolve_classes` takes, with
``classes_from="auto"`` (the default), the first of these that gives at least two classes of at
least two tracks each:

1. ``"crates"``: the crates the user made (:class:`workbench.crates.Crates`). A track in
   several crates takes the smallest of them that holds two or more of the tracks (the most
   specific), ties by name.
2. ``"folder"``: the sub-folder each track sits in under the folder it was scanned from
   (:attr:`workbench.library.Track.folder`); tracks directly in the scanned folder have none.
3. ``"self"``: self-supervised, each track its own class (its windows and augmented views are
   positives, other tracks negatives); needs two tracks.

``"artist"`` (the artist tag) is chosen only explicitly, as is a mapping from track id (or
content hash) to a class, or a callable ``track -> str | None``. Classes with fewer than two
tracks are dropped (a query on another track would have nothing to retrieve); their tracks
are listed in :attr:`ClassChoice.dropped`.

>>> choice = resolve_classes(lib, lib.tracks())           # doctest: +SKIP
>>> print(choice.summary())                               # doctest: +SKIP
classes from folder: 8 classes of 33 tracks (house 5, techno 4, ...)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError, WorkbenchError
from workbench.wording import count_of

if TYPE_CHECKING:
    from workbench.library import Library, Track

#: ``classes_from`` values of embedding training, in the order ``"auto"`` tries the first three.
CLASS_SOURCES: tuple[str, ...] = ("auto", "crates", "folder", "artist", "self")
#: The order ``"auto"`` tries.
AUTO_ORDER: tuple[str, ...] = ("crates", "folder", "self")
#: Older names still accepted: ``"track"`` is ``"self"``; ``"style"`` reads a ``"style"`` field
#: from a JSON file beside the audio (as the synthesized demo writes).
ALIASES: dict[str, str] = {"track": "self"}
LEGACY_SOURCES: tuple[str, ...] = ("style", "track")

ClassSource = str | Callable[[Any], "str | None"] | Mapping[Any, str]

#: What the user can do when no source gives enough classes (shown in the error).
HOW_TO = ("put tracks in crates (Python: workbench.crates.Crates(library).add(name, tracks)), "
          "sort the files into sub-folders and scan again (classes_from='folder'), "
          "use the artist tags (--set classes_from=artist), or train self-supervised with each track "
          "its own class (--set classes_from=self); a mapping track id -> class works from Python")


class NotEnoughClassesError(WorkbenchError, ValueError):
    """No class source gives at least two classes of at least two tracks (``self``: two tracks)."""


@dataclass(frozen=True)
class ClassChoice:
    """The classes embedding training uses.

    Attributes
    ----------
    source : str
        ``"crates"``, ``"folder"``, ``"artist"``, ``"self"``, ``"style"`` or ``"custom"``.
    classes : dict of int to str
        Track id -> class name, for the tracks kept.
    dropped : list of int
        Track ids left out (no class, or a class with fewer than two tracks).
    tried : dict of str to str
        For ``"auto"``: why each source before the chosen one was passed over.
    qa_excluded : list of int
        Track ids left out because a QA flag excludes them from training (:mod:`workbench.qa`;
        ``workbench qa keep TRACK`` keeps one).
    """

    source: str
    classes: dict[int, str]
    dropped: list[int] = field(default_factory=list)
    tried: dict[str, str] = field(default_factory=dict)
    qa_excluded: list[int] = field(default_factory=list)

    @property
    def tracks_per_class(self) -> dict[str, int]:
        """Class name -> number of tracks, largest first."""
        return dict(Counter(self.classes.values()).most_common())

    def summary(self, *, max_classes: int = 12) -> str:
        """One line: the source, the classes and their track counts.

        Parameters
        ----------
        max_classes : int
            Most classes named; the rest are counted.
        """
        counts = self.tracks_per_class
        if self.source == "self":
            text = f"classes from self (self-supervised): each of {len(self.classes)} tracks its own class"
        else:
            shown = ", ".join(f"{k} {v}" for k, v in list(counts.items())[:max_classes])
            more = f", ... {len(counts) - max_classes} more" if len(counts) > max_classes else ""
            text = (f"classes from {self.source}: {len(counts)} classes of {len(self.classes)} tracks "
                    f"(tracks per class: {shown}{more})")
        if self.dropped:
            text += f"; {len(self.dropped)} tracks left out (no class, or alone in theirs)"
        if self.qa_excluded:
            text += (f"; {len(self.qa_excluded)} tracks left out by QA flags (`workbench qa` lists them, "
                     "`workbench qa keep TRACK` keeps one)")
        return text

    def to_dict(self) -> dict[str, Any]:
        """For ``data.json``: source, tracks per class, dropped track ids and why others were passed over."""
        return {"source": self.source, "tracks_per_class": self.tracks_per_class, "n_tracks": len(self.classes),
                "dropped": list(self.dropped), "tried": dict(self.tried), "qa_excluded": list(self.qa_excluded)}


def track_style(track: Track) -> str | None:
    """The ``"style"`` of the JSON file beside the track's audio (:func:`workbench.libfiles.sidecar_style`).

    Parameters
    ----------
    track : Track
        A library track (its ``path`` is read).

    Returns
    -------
    str or None
        The style; None when there is no such file or field.
    """
    from workbench.libfiles import sidecar_style

    return sidecar_style(track.path)


def check_classes_from(classes_from: object, *, allow_label: bool = False) -> None:
    """Refuse a ``classes_from`` that is not a known source, a mapping or a callable.

    Parameters
    ----------
    classes_from : object
        The value to check: one of :data:`CLASS_SOURCES` or :data:`LEGACY_SOURCES`, a mapping or a callable.
    allow_label : bool
        Also accept ``"label"`` (section windows).

    Raises
    ------
    ParameterError
        Anything else.
    """
    if callable(classes_from) or isinstance(classes_from, Mapping):
        return
    allowed = (*CLASS_SOURCES, *LEGACY_SOURCES, *(("label",) if allow_label else ()))
    if classes_from not in allowed:
        raise ParameterError(f"classes_from must be one of {list(CLASS_SOURCES)} (auto tries "
                             f"{' -> '.join(AUTO_ORDER)}), a mapping track id -> class or a callable"
                             f"{' (or label for section windows)' if allow_label else ''}; got {classes_from!r}")


def class_of(track: Track, classes_from: ClassSource) -> str | None:
    """The class of one track under a per-track source (``None`` when it has none).

    ``"folder"`` (:attr:`Track.folder`), ``"artist"`` (the tag), ``"self"``/``"track"`` (its id),
    ``"style"`` (:func:`track_style`), a mapping from track id or content hash to a class, or a
    callable ``track -> str | None``. ``"crates"`` and ``"auto"`` need the library: use
    :func:`resolve_classes`.

    Parameters
    ----------
    track : Track
        The track.
    classes_from : str, mapping or callable
        The per-track source, as above.
    """
    if callable(classes_from):
        value = classes_from(track)
    elif isinstance(classes_from, Mapping):
        value = classes_from.get(track.id, classes_from.get(track.content_hash))
    elif classes_from == "folder":
        value = track.folder
    elif classes_from == "artist":
        value = track.artist
    elif classes_from in ("self", "track"):
        value = str(track.id)
    elif classes_from == "style":
        value = track_style(track)
    else:
        raise ParameterError(f"classes_from must be one of 'folder', 'artist', 'self', 'style', a mapping or a "
                             f"callable here ('crates' and 'auto' need the library: resolve_classes); "
                             f"got {classes_from!r}")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value).strip()


def _crate_classes(library: Library, tracks: list[Track]) -> dict[int, str]:
    from workbench.crates import Crates

    ids = {t.id for t in tracks}
    membership = {tid: names for tid, names in Crates(library).membership().items() if tid in ids}
    size = Counter(name for names in membership.values() for name in names)
    out = {}
    for tid, names in membership.items():
        usable = [n for n in names if size[n] >= 2] or list(names)
        out[tid] = min(usable, key=lambda n: (size[n] if size[n] >= 2 else 10**9, n))
    return out


def _candidate(library: Library, tracks: list[Track], source: ClassSource) -> dict[int, str]:
    """Track id -> class under ``source`` (classes of any size; tracks without a class absent)."""
    if source == "crates":
        return _crate_classes(library, tracks)
    out = {}
    for t in tracks:
        c = class_of(t, source)
        if c is not None:
            out[t.id] = c
    return out


def _enough(name: str, raw: dict[int, str], tracks: list[Track], *, min_classes: int,
            min_tracks: int) -> tuple[ClassChoice | None, str]:
    """A choice when ``raw`` has enough classes (after dropping small ones), else why not."""
    if name == "self":
        if len(raw) >= 2:
            return ClassChoice("self", raw, [t.id for t in tracks if t.id not in raw]), ""
        return None, f"self-supervised training needs at least 2 tracks; got {len(raw)}"
    counts = Counter(raw.values())
    kept = {tid: c for tid, c in raw.items() if counts[c] >= min_tracks}
    n_big = len(set(kept.values()))
    if n_big >= min_classes:
        return ClassChoice(name, kept, sorted(t.id for t in tracks if t.id not in kept)), ""
    if not raw:
        return None, "no track has one"
    return None, (f"{count_of(len(counts), 'class', 'classes')} over {count_of(len(raw), 'track')}, {n_big} of "
                  f"them with >= {count_of(min_tracks, 'track')} (needs {min_classes})")


def resolve_classes(library: Library, tracks: Iterable[Track], classes_from: ClassSource = "auto", *,
                    min_classes: int = 2, min_tracks: int = 2, keep_flagged: bool = False) -> ClassChoice:
    """The classes of ``tracks`` for embedding training (see the module docstring for the order).

    Parameters
    ----------
    library : workbench.library.Library
        For the crates.
    tracks : iterable of Track
    classes_from : "auto", "crates", "folder", "artist", "self", mapping or callable
        ``"track"`` (= ``"self"``) and ``"style"`` are accepted too.
    min_classes, min_tracks : int
        A source is usable with at least ``min_classes`` classes of at least ``min_tracks`` tracks.
    keep_flagged : bool
        Keep tracks whose QA flags exclude them from training (default: leave them out,
        listed in ``qa_excluded``; tracks the user kept with ``workbench qa keep`` stay either way).

    Raises
    ------
    NotEnoughClassesError
        No source (or not the one asked for) is usable; the message says what each gave and
        what the user can do.
    """
    from workbench.qa import excluded_track_ids

    check_classes_from(classes_from)
    tracks = list(tracks)
    flagged = set() if keep_flagged else excluded_track_ids(library)
    qa_excluded = sorted(t.id for t in tracks if t.id in flagged)
    tracks = [t for t in tracks if t.id not in flagged]
    source = ALIASES.get(classes_from, classes_from) if isinstance(classes_from, str) else classes_from
    order = AUTO_ORDER if source == "auto" else (source,)
    tried: dict[str, str] = {}
    for name in order:
        label = name if isinstance(name, str) else "custom"
        choice, why = _enough(label, _candidate(library, tracks, name), tracks, min_classes=min_classes,
                              min_tracks=min_tracks)
        if choice is not None:
            return ClassChoice(choice.source, choice.classes, choice.dropped, tried, qa_excluded)
        tried[label] = why
    said = "; ".join(f"{k}: {v}" for k, v in tried.items())
    asked = "classes_from='auto' (crates, then folder, then self)" if source == "auto" else \
        f"classes_from={classes_from if isinstance(classes_from, str) else 'custom'!r}"
    raise NotEnoughClassesError(
        f"no classes to train on: {asked} over {count_of(len(tracks), 'track')} gives none with at least "
        f"{count_of(min_classes, 'class', 'classes')} of {min_tracks}+ tracks ({said}). Options: {HOW_TO}")

