"""A track and its nearest neighbours, in the order the labeler shows them (label alike tracks one after another).

Ranked as ``workbench similar`` ranks them (:class:`~workbench.search.LibrarySearch`): the same
embedding model (the active head, else the backbone, or the one named) and the same term weights
option (``"default"``, ``"learned"`` from your folders or crates, four numbers, or None).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.library import Library, Track


def neighbour_tracks(library: Library, track: int | str | Track, *, k: int = 10, model: str | None = None,
                     weights: Any = None) -> tuple[list[Track], str]:
    """``track`` and its ``k`` most similar library tracks, best first, and what ranked them in words.

    Parameters
    ----------
    library : Library
        The library searched (analysed and embedded where it is not yet).
    track : int, str or Track
        A library track (id, content hash or path).
    k : int >= 1
        Neighbours after the track itself.
    model : str or None
        ``"backbone"``, ``"head"``, ``"head@N"``, ``"cnn"``, ``"cnn@N"`` or None (the active head, else the backbone), as
        ``workbench similar --model``.
    weights : None, str, sequence of 4 float or mapping
        As ``workbench similar --weights`` (:func:`~workbench.similarity.weights_option.search_weights`).

    Returns
    -------
    tracks : list of Track
        ``[track, neighbour 1, ..., neighbour k]`` (fewer where the library has fewer).
    said : str
        E.g. ``"model: backbone (features-v1); weights: default: vibe 50%, tempo 20%, key 20%, energy 10%"``.

    Raises
    ------
    ParameterError
        ``k`` below 1 or a bad ``weights`` value; ``"learned"`` where none can be fitted.
    TrackNotFoundError
        ``track`` is not a library track.
    """
    from workbench.library import Track
    from workbench.search import LibrarySearch
    from workbench.similarity.weights_option import search_weights

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be a whole number >= 1 (neighbours after the track); got {k!r}")
    term_weights, given = search_weights(weights, name="weights")
    query = track if isinstance(track, Track) else library.track(track)  # said before the library is embedded
    search = LibrarySearch(library, model=model, progress=False, term_weights=term_weights).update()
    results = search.similar(query.id, k=k, weights=given)
    said = f"model: {search.model_said}; weights: {results[0].weights}" if results else f"model: {search.model_said}"
    return [query, *(r.track for r in results)], said
