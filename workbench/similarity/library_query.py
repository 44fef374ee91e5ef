"""What a library search's query names: a track of the library, an audio file, or nothing (said before anything slow).

:func:`check_query` lets ``workbench similar`` refuse an unknown track before the library is analysed and embedded;
:class:`workbench.search.LibrarySearch` raises :func:`unknown_query`'s error in the same words.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import audio
from workbench.errors import TrackNotFoundError
from workbench.library import Library, Track
from workbench.wording import TRACK_NAMED

if TYPE_CHECKING:
    from workbench.similarity.query import Match

#: Most tempi :func:`tempi_by_prior` keeps in a ``cache`` (one per file and prior): a notebook that asks about
#: file after file for hours holds this many, the oldest dropped first.
FILE_TEMPO_CACHE_SIZE = 256


def weights_used(match: Match, used: dict[str, float]) -> dict[str, float]:
    """The weights that made ``match``'s score (sum 1): ``used`` where every term counts, a term left out of it 0 and the
    rest renormalised. A term is left out where it is unknown and counted as nothing (``tempo_assumed`` /
    ``key_assumed`` None: no track's tempo or key could be compared with the query's).

    Parameters
    ----------
    match : Match
        One match of the search.
    used : dict of str to float
        The normalised weights of ``vibe``, ``tempo``, ``key`` and ``energy`` the search was asked with.
    """
    present = {t: v for t, v in used.items()
               if getattr(match, t, None) is not None or getattr(match, f"{t}_assumed", None) is not None}
    total = sum(present.values())
    return {t: present.get(t, 0.0) / total for t in used} if total > 0 else dict(used)


@dataclasses.dataclass(frozen=True)
class SimilarTrack:
    """One match of :class:`workbench.search.LibrarySearch`: the library track, the scored, explained
    :class:`~workbench.similarity.Match`, and the model.

    ``model`` names the embedding model that ranked it (e.g. ``"head@3 (on features-v1)"``), ``weights`` the
    term weights in words (e.g. ``"default: vibe 50%, tempo 20%, key 20%, energy 10%"``), ``weights_used`` those that
    made this score (:func:`weights_used`): ``score`` is the sum of weight times term, an unknown term counting as
    ``match.tempo_assumed`` / ``match.key_assumed``.
    """

    track: Track
    match: Match
    model: str = ""
    weights: str = ""
    weights_used: dict[str, float] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        m = self.match
        return f"{m.score:.2f}  {self.track.name}  —  {m.explanation}"


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


def tempi_by_prior(library: Library, ids: object, y: object, *, sr: int, name: str, base: object,
                   cache: dict[tuple[str, str], float | None] | None = None,
                   ) -> tuple[dict[int, float | None], dict[int, str]]:
    """An outside file's tempo read with each indexed track's own tempo prior, where it differs from ``base``'s.

    The same audio read with two priors can give two tempi that are no octave of each other (a loop
    read 98.7 BPM inside a folder's 80-100 prior and 147.6 with the default); comparing each track
    with the file read the way that track was read keeps one recording from being said to differ
    from itself. One analysis per distinct prior (a library usually has one or two), once per file with ``cache``.

    Parameters
    ----------
    library : Library
    ids : iterable of int
        The index's track ids.
    y : np.ndarray [shape=(n,) or (channels, n)]
        The file's audio.
    sr : int > 0
        Its sample rate in Hz.
    name : str
        The file's name, for messages.
    base : AnalysisSettings
        The settings the file was analysed with (the library's, :func:`~workbench.analysis.effective_settings`).
    cache : dict or None
        Tempi already read, kept by the caller for its session (a :class:`~workbench.search.LibrarySearch`): keyed by
        the file's content (sha256 of ``name``, the file's path) and the settings with the prior, so the same file
        asked again is not analysed again (at most :data:`FILE_TEMPO_CACHE_SIZE` entries, the oldest dropped first);
        None: no cache.

    Returns
    -------
    tuple of (dict of int to float or None, dict of int to str)
        The tempo in BPM (None: no beat) by track id, and the prior said (``"80-100@89.4"``) by track id;
        tracks analysed with ``base``'s prior are absent.
    """
    from workbench.analysis import analyze, effective_settings
    from workbench.analysis.settings import format_prior, list_analysis_settings

    rows = list_analysis_settings(library)
    if not any(s.scope != "library" and "bpm_prior" in s.settings for s in rows):
        return {}, {}
    tracks = {t.id: t for t in library.tracks()}
    tempo: dict[object, float | None] = {}
    bpm_by_id: dict[int, float | None] = {}
    said: dict[int, str] = {}
    digest: str | None = None
    for track_id in (int(i) for i in ids):  # type: ignore[attr-defined]
        if track_id not in tracks:
            continue
        prior = effective_settings(library, tracks[track_id], stored=rows).bpm_prior
        if prior == base.bpm_prior:  # type: ignore[attr-defined]
            continue
        if prior not in tempo:
            settings = {**base.kwargs(), "bpm_prior": prior}  # type: ignore[attr-defined]
            if cache is not None and digest is None:
                from workbench.fileio import file_sha256

                digest = file_sha256(name)
            key = (str(digest), repr(sorted(settings.items())))
            if cache is not None and key in cache:
                tempo[prior] = cache[key]
            else:
                tempo[prior] = analyze(y, sr=sr, name=name, **settings).bpm
                if cache is not None:
                    cache[key] = tempo[prior]
                    while len(cache) > FILE_TEMPO_CACHE_SIZE:  # bounded: the oldest file's tempo goes first
                        del cache[next(iter(cache))]
        bpm_by_id[track_id], said[track_id] = tempo[prior], format_prior(prior)
    return bpm_by_id, said


def similar_query(library: Library, query: str) -> dict[str, object]:
    """The track or file ``workbench similar`` searches from, as its first line and ``--json`` name it.

    Parameters
    ----------
    library : Library
    query : str
        What the user gave: a track's id, content hash or path, or an audio file outside the library.

    Returns
    -------
    dict
        ``query_id`` (None for an outside file), ``query_name``, ``query_path``, and for a library track
        ``query_bpm`` (BPM, None when unknown) and ``query_key`` (e.g. ``"A minor (8A)"``, None without
        one) as the library's analysis has them (its correction on top).
    """
    from workbench.analysis.batch import track_analysis

    try:
        track = library.track(query)
    except TrackNotFoundError:  # an outside file (check_query has vouched for it)
        return {"query_id": None, "query_name": audio.display_path(query), "query_path": os.path.abspath(query)}
    a = track_analysis(library, track, compute=False)
    bpm = None if a is None or a.bpm is None else round(float(a.bpm), 2)
    key = None if a is None or not a.has_key else f"{a.key} ({a.camelot})"
    return {"query_id": track.id, "query_name": track.name, "query_path": track.path, "query_bpm": bpm,
            "query_key": key}


def similar_query_line(query: dict[str, object]) -> str:
    """The first line of ``workbench similar``: the query it searches from, from :func:`similar_query`.

    Parameters
    ----------
    query : dict
        :func:`similar_query`'s record.

    Returns
    -------
    str
    """
    if query["query_id"] is None:
        return f"similar to: {query['query_name']} (a file outside the library, analysed and embedded now)"
    bpm = "tempo unknown" if query["query_bpm"] is None else f"{query['query_bpm']:.1f} BPM"
    path = audio.display_path(str(query["query_path"]))
    return f"similar to: track {query['query_id']}  {query['query_name']}  ({path}; {bpm}, {query['query_key'] or 'no key'})"
