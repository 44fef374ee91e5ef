"""Before/after a trained head: the same queries ranked by the backbone and by the head, and precision@k by group.

A *group* is how the user organised the library: a track's crate when the library has crates
(its first), else its folder. ``precision@k`` of a query is the share of its ``k`` best matches
(through :class:`~workbench.search.LibrarySearch`, the query's own track never counted) that are
in the query's group; it is reported beside *chance* (the share of the other tracks in the
group) and the *best possible* (``min(k, group size - 1) / k``), averaged over the queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.library import Library, Track
    from workbench.search import LibrarySearch
    from workbench.similarity.model import EmbeddingModel
    from workbench.similarity.scores import WeightsLike


def track_groups(library: Library, tracks: Iterable[Track] | None = None) -> tuple[dict[int, str], str]:
    """Each track's group, and what the groups are (``"crate"`` or ``"folder"``).

    Parameters
    ----------
    library : Library
        The library.
    tracks : iterable of Track or None
        Default: every track.
    """
    from workbench.crates import Crates

    selected = list(library.tracks() if tracks is None else tracks)
    membership = Crates(library).membership()
    if any(membership.get(t.id) for t in selected):
        return {t.id: (membership.get(t.id) or ["(no crate)"])[0] for t in selected}, "crate"
    return {t.id: Path(t.path).parent.name for t in selected}, "folder"


def precision_at_k(search: LibrarySearch, queries: Sequence[Track], groups: Mapping[int, str], *, k: int = 3,
                   weights: WeightsLike = None) -> dict[str, Any]:
    """Mean precision@k by group of ``queries`` through ``search``, with chance and the best possible.

    Parameters
    ----------
    search : LibrarySearch
        Ranks the library.
    queries : sequence of Track
        Query tracks (in the index; a query whose group has no other track is skipped).
    groups : mapping of int to str
        Group of every indexed track.
    k : int >= 1
        Matches looked at.
    weights : Weights, mapping or None
        Search weights (None: the defaults, as ``workbench similar``).

    Returns
    -------
    dict
        ``precision_at_k``, ``chance``, ``best_possible``, ``n_queries``, ``k``, ``model``.
    """
    if k < 1:
        raise ParameterError(f"k must be >= 1; got {k!r}")
    indexed = [int(i) for i in search.update().index.ids]  # type: ignore[union-attr]
    sizes: dict[str, int] = {}
    for i in indexed:
        sizes[groups[i]] = sizes.get(groups[i], 0) + 1
    p, chance, best = [], [], []
    for q in queries:
        g = groups.get(q.id)
        if q.id not in groups or sizes.get(g or "", 0) < 2:
            continue
        got = search.similar(q, k=k, weights=weights)
        p.append(sum(groups.get(r.track.id) == g for r in got) / k)
        chance.append((sizes[g] - 1) / max(1, len(indexed) - 1))  # type: ignore[index]
        best.append(min(k, sizes[g] - 1) / k)  # type: ignore[index]
    return {"precision_at_k": _mean(p), "chance": _mean(chance), "best_possible": _mean(best), "n_queries": len(p),
            "k": k, "model": search.model_said}


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def before_after(library: Library, head: EmbeddingModel | str = "head", *, held_out_hashes: Iterable[str] | None = None,
                 k: int = 3, n_examples: int = 3, weights: WeightsLike = None) -> dict[str, Any]:
    """The backbone and a head on the same library: precision@k by group and the same queries ranked by both.

    Parameters
    ----------
    library : Library
        The library searched.
    head : EmbeddingModel or str
        The head (a model, or ``"head"`` / ``"head@N"`` from the registry).
    held_out_hashes : iterable of str or None
        Content hashes of the tracks the head never trained on; queries are only these (the whole
        library is searched). None: the head's run's ``metrics.json`` ``held_out.track_hashes``
        when the run is found, else every track.
    k : int >= 1
        Matches per query.
    n_examples : int >= 0
        Queries shown ranked by both models.
    weights : Weights, mapping or None
        Search weights (None: the defaults).

    Returns
    -------
    dict
        ``groups_by`` ("crate"/"folder"), ``queries`` ("held-out" or "all"), ``backbone`` and ``head``
        (each :func:`precision_at_k`), and ``examples``: per query its name, group and both rankings.
    """
    from workbench.search import LibrarySearch

    after = LibrarySearch(library, model=head, progress=False)
    if after.model.head is None:
        raise ParameterError(f"head must name a trained head; got {head!r}, which resolves to the bare backbone")
    before = LibrarySearch(library, backbone=after.backbone, model="backbone", progress=False)
    groups, by = track_groups(library)
    if held_out_hashes is None and after.model.run_id:
        held_out_hashes = _held_out(library, after.model.run_id)
    held = set(held_out_hashes or [])
    queries = [t for t in library.tracks() if not held or t.content_hash in held]
    out: dict[str, Any] = {"groups_by": by, "queries": "held-out" if held else "all", "k": k,
                           "backbone": precision_at_k(before, queries, groups, k=k, weights=weights),
                           "head": precision_at_k(after, queries, groups, k=k, weights=weights), "examples": []}
    for q in queries[:n_examples]:
        if q.id not in set(int(i) for i in after.index.ids):  # type: ignore[union-attr]
            continue
        out["examples"].append({"query": q.name, "group": groups.get(q.id), "rankings": {
            name: [{"name": r.track.name, "group": groups.get(r.track.id), "score": r.match.score,
                    "explanation": r.match.explanation} for r in s.similar(q, k=k, weights=weights)]
            for name, s in (("backbone", before), ("head", after))}})
    out["models"] = {"backbone": before.model_said, "head": after.model_said}
    return out


def _held_out(library: Library, run_id: str) -> list[str] | None:
    """The held-out track hashes a run recorded, or None when its folder or metrics cannot be read."""
    from workbench.errors import WorkbenchError
    from workbench.runs import load_run

    try:
        run = load_run(run_id, root=library.workspace.experiments)
    except (OSError, ValueError, WorkbenchError):
        return None
    return (run.metrics.get("held_out") or {}).get("track_hashes") or None
