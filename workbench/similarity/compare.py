"""Before/after training: the same queries ranked by the backbone and by the head (or by the feature frontend and
the CNN that replaces it), and precision@k by group.

A *group* is how the user organised the library: a track's crate when the library has crates
(its first), else its folder. ``precision@k`` of a query is the share of its ``k`` best matches
(through :class:`~workbench.search.LibrarySearch`, the query's own track never counted) that are
in the query's group; it is reported beside *chance* (the share of the other tracks in the
group) and the *best possible* (``min(k, group size - 1) / k``), averaged over the queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.similarity.groups import held_out_hashes as _held_out
from workbench.similarity.groups import track_groups

if TYPE_CHECKING:
    from workbench.library import Library, Track
    from workbench.search import LibrarySearch
    from workbench.similarity.model import EmbeddingModel
    from workbench.similarity.scores import WeightsLike


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
        ``precision_at_k``, ``chance``, ``best_possible``, ``n_queries``, ``k``, ``model`` and ``per_query``
        (``[track id, matches in its group among the k]`` of every query counted, in the order given).
    """
    return _by_group(search, queries, groups, k=k,
                     ranked=lambda q: [r.track.id for r in search.similar(q, k=k, weights=weights)])


def precision_ceiling(search: LibrarySearch, queries: Sequence[Track], groups: Mapping[int, str], *, k: int = 3,
                      weights: WeightsLike = None, same: float = 1.0) -> dict[str, Any]:
    """Precision@k by group if the vibe were an oracle: what the tempo, key and energy terms leave reachable.

    Every query is ranked by ``search``'s combined score (the index's tempo, key and energy terms,
    ``weights``; an unknown tempo or key counted as its ``unknown`` says) with the vibe replaced by ``same`` for
    the tracks of the query's group and 0 for the others. ``same=1`` is a perfect vibe (the ceiling of any embedding model with these weights);
    ``same=0`` leaves the tempo, key and energy terms alone (what they find without any vibe).

    Parameters
    ----------
    search : LibrarySearch
        Its index supplies the tracks and their analysis (the model does not matter).
    queries, groups, k, weights
        As for :func:`precision_at_k`.
    same : float in [0, 1]
        The oracle's vibe of a track in the query's group.

    Returns
    -------
    dict
        As :func:`precision_at_k` (``model`` says the oracle).
    """
    from workbench.similarity.scores import Weights
    from workbench.similarity.scoring import top_k_order

    if not (isinstance(same, (int, float)) and not isinstance(same, bool) and 0.0 <= same <= 1.0):
        raise ParameterError(f"same must be a vibe in [0, 1]; got {same!r}")
    index = search.update().index
    ids = index.ids  # type: ignore[union-attr]
    of = np.asarray([groups.get(int(i)) for i in ids], dtype=object)
    w = Weights() if weights is None else Weights.coerce(weights)
    unknown = getattr(search, "unknown", None)  # an unknown tempo or key counts as the search counts it

    def ranked(q: Track) -> list[int]:
        """The ``k`` best track ids for ``q`` on the oracle vibe and the index's other terms.

        Parameters
        ----------
        q : Track
            An indexed query track.
        """
        score = index.scores_with_vibe(q.id, np.where(of == groups[q.id], float(same), 0.0), weights=w,  # type: ignore[union-attr]
                                       unknown=unknown)
        return [int(ids[i]) for i in top_k_order(score, ids, k)]

    out = _by_group(search, queries, groups, k=k, ranked=ranked)
    return {**out, "model": f"oracle vibe ({same:g} in the query's group, 0 elsewhere)"}


def _by_group(search: LibrarySearch, queries: Sequence[Track], groups: Mapping[int, str], *, k: int,
              ranked: Callable[[Track], list[int]]) -> dict[str, Any]:
    """Mean precision@k by group of ``ranked(query)`` (track ids, best first), chance and the best possible."""
    if k < 1:
        raise ParameterError(f"k must be >= 1; got {k!r}")
    indexed = [int(i) for i in search.update().index.ids]  # type: ignore[union-attr]
    sizes: dict[str, int] = {}
    for i in indexed:
        sizes[groups[i]] = sizes.get(groups[i], 0) + 1
    p, chance, best, hits = [], [], [], []
    for q in queries:
        g = groups.get(q.id)
        if q.id not in groups or sizes.get(g or "", 0) < 2:
            continue
        hits.append([int(q.id), sum(groups.get(t) == g for t in ranked(q))])
        p.append(hits[-1][1] / k)
        chance.append((sizes[g] - 1) / max(1, len(indexed) - 1))  # type: ignore[index]
        best.append(min(k, sizes[g] - 1) / k)  # type: ignore[index]
    return {"precision_at_k": _mean(p), "chance": _mean(chance), "best_possible": _mean(best), "n_queries": len(p),
            "k": k, "model": search.model_said, "per_query": hits}


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def baseline_said(name: str, *, cnn: bool) -> str:
    """What a trained model's search is compared with, in words (the search gate's record and :func:`before_after`).

    Parameters
    ----------
    name : str
        The compared backbone's name (``"features-v1"``).
    cnn : bool
        The trained model is a CNN (compared with the feature frontend it replaces), not a head (compared with
        its bare backbone).

    Returns
    -------
    str
        ``"features-v1: the bare feature frontend, the backbone the CNN replaces"`` or
        ``"<name>: the bare backbone, searched without the head"``.
    """
    return (f"{name}: the bare feature frontend, the backbone the CNN replaces" if cnn
            else f"{name}: the bare backbone, searched without the head")


def nothing_to_compare_said(library: Library) -> str:
    """Why there is no trained model to set against the backbone (notebook 01's before and after), and what makes one.

    Parameters
    ----------
    library : Library
        Its ``model_versions`` table says which head versions exist and which was turned off.

    Returns
    -------
    str
        With a head deactivated (``workbench models deactivate head``): its version, when, and how to compare it
        anyway or make it active again; else how to train and export one.
    """
    from workbench.runs import started_text
    from workbench.similarity.model import deactivated_head

    off = deactivated_head(library)
    if off is not None:
        version, at, left = off
        was = (f"no trained head is active: head@{version}{'' if version in left else ' (deleted)'} was deactivated "
               f"{started_text(at, zone=True)} "
               "(`workbench models deactivate head`); ")
        if version in left:
            return (was + f"MODEL = \"head@{version}\" compares it here, `workbench models activate head {version}` "
                          "makes it active again")
        if left:
            return (was + f"MODEL = \"head@N\" compares a version left here, `workbench models activate head N` makes "
                          f"it active (N in {list(left)})")
        return was + "no head version is left: `workbench export RUN --activate` registers one and makes it active"
    return ("no trained head is active: `workbench demo` (or train embeddings and `workbench export`) makes one; "
            "MODEL = \"cnn\" compares a CNN trained with `workbench train embeddings --backbone cnn`")


def recorded_precision(record: Mapping[str, Any] | None, k: int) -> dict[str, Any] | None:
    """A run's search record (``metrics["search"]``) as :func:`before_after`'s ``backbone`` and ``head`` blocks.

    Parameters
    ----------
    record : mapping or None
        The record :func:`workbench.train.embeddings_search.search_record` wrote: precision@k of the held-out
        queries for the trained model (``model``) and its baseline (``backbone``), each query's matches paired.
    k : int
        The matches per query wanted.

    Returns
    -------
    dict or None
        ``{"backbone": {...}, "head": {...}, "groups_by": ...}`` with :func:`precision_at_k`'s keys; None when the
        record holds none for ``k``: no record, not measured, another ``k``, or no per-query matches (before
        session 15).
    """
    if not isinstance(record, Mapping) or record.get("status") != "measured" or record.get("k") != k:
        return None
    per = record.get("per_query") if isinstance(record.get("per_query"), Mapping) else {}
    ids, mine, base = per.get("track_ids"), per.get("model"), per.get("backbone")
    if not (isinstance(ids, list) and isinstance(mine, list) and isinstance(base, list) and ids
            and len(ids) == len(mine) == len(base)):
        return None
    models = record.get("models") if isinstance(record.get("models"), Mapping) else {}
    common = {"chance": record.get("chance"), "best_possible": record.get("best_possible"), "n_queries": len(ids), "k": k}
    return {"groups_by": record.get("groups_by", "folder"),
            "backbone": {**common, "precision_at_k": record.get("backbone"), "model": models.get("backbone", "backbone"),
                         "per_query": [[int(i), int(m)] for i, m in zip(ids, base, strict=True)]},
            "head": {**common, "precision_at_k": record.get("model"), "model": models.get("model", "trained model"),
                     "per_query": [[int(i), int(m)] for i, m in zip(ids, mine, strict=True)]}}


def _recorded_said(record: Mapping[str, Any] | None, k: int, read: bool, weights: WeightsLike) -> str:
    """Where :func:`before_after`'s precision came from, in words."""
    if read:
        return ("read from the run's search record (measured when it was trained, on its held-out tracks: the figures "
                "its search gate read)")
    if not isinstance(record, Mapping) or not record:
        return "recomputed now (the run has no search record)"
    if weights is not None:
        return "recomputed now (with the weights given; the run's search record has the default weights)"
    if record.get("status") != "measured":
        return f"recomputed now (the run's search record was not measured: {record.get('reason', 'no reason recorded')})"
    if record.get("k") != k:
        return f"recomputed now (the run's search record is precision@{record.get('k')}, not @{k})"
    return "recomputed now (the run's search record has no per-query matches: written before session 15)"


def before_after(library: Library, head: EmbeddingModel | str = "head", *, held_out_hashes: Iterable[str] | None = None,
                 k: int = 3, n_examples: int = 3, weights: WeightsLike = None,
                 recorded: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The model before and after training on the same library: precision@k by group and the same queries ranked by both.

    A head is compared with its bare backbone; a CNN (``"cnn"`` / ``"cnn@N"``, trained with ``workbench train
    embeddings --backbone cnn``) with the feature frontend it replaces, as its run's search gate compares them
    (:mod:`workbench.train.embeddings_search`).

    Parameters
    ----------
    library : Library
        The library searched.
    head : EmbeddingModel or str
        The trained model: a head (a model, or ``"head"`` / ``"head@N"`` from the registry) or a CNN
        (``"cnn"`` / ``"cnn@N"``, or its model).
    held_out_hashes : iterable of str or None
        Content hashes of the tracks the model never trained on; queries are only these (the whole
        library is searched). None: the model's run's ``metrics.json`` ``held_out.track_hashes``
        when the run is found, else every track.
    k : int >= 1
        Matches per query.
    n_examples : int >= 0
        Queries shown ranked by both models.
    weights : Weights, mapping or None
        Search weights (None: the defaults).
    recorded : mapping or None
        The model's run's search record (``metrics["search"]``): when it holds precision@k with each query's
        matches (:func:`recorded_precision`; measured with the default weights, so not with other ``weights``),
        ``backbone`` and ``head`` are read from it and only the examples are ranked now; else both are recomputed.

    Returns
    -------
    dict
        ``groups_by`` ("crate"/"folder"), ``queries`` ("held-out" or "all"), ``backbone`` (the model before:
        the bare backbone, or the feature frontend a CNN replaces) and ``head`` (the trained model; each
        :func:`precision_at_k`), ``examples``: per query its name, group and both rankings, ``labels``: the two
        in a word each (``{"backbone": "backbone", "head": "head"}``, or ``"feature frontend"`` and ``"cnn@2"``),
        ``baseline``: what the trained model is compared with, in words, and ``precision_from`` (``"record"`` or
        ``"recomputed"``) with ``precision_said``, why, in words.

    Raises
    ------
    ParameterError
        ``head`` resolves to the bare backbone (no head, no CNN).
    """
    from workbench.models.cnn_backbone import CNNBackbone
    from workbench.search import LibrarySearch

    after = LibrarySearch(library, model=head, progress=False)
    cnn = after.model.head is None and isinstance(after.model.backbone, CNNBackbone)  # the CNN ranks as the backbone
    if after.model.head is None and not cnn:
        raise ParameterError(f"head must name a trained head or CNN ('head', 'head@N', 'cnn', 'cnn@N'); got {head!r}, "
                             "which resolves to the bare backbone")
    if cnn:  # the feature frontend the CNN was distilled from and replaces, as the run's search gate compares them
        from workbench.embed.features import FeatureFrontend

        before = LibrarySearch(library, backbone=FeatureFrontend(), model="backbone", progress=False)
        labels = {"backbone": "feature frontend", "head": after.model.name}
    else:
        before = LibrarySearch(library, backbone=after.backbone, model="backbone", progress=False)
        labels = {"backbone": "backbone", "head": "head"}
    baseline = baseline_said(before.backbone.name, cnn=cnn)
    groups, by = track_groups(library)
    if held_out_hashes is None and after.model.run_id:
        held_out_hashes = _held_out(library, after.model.run_id)
    held = set(held_out_hashes or [])
    queries = [t for t in library.tracks() if not held or t.content_hash in held]
    read = recorded_precision(recorded, k) if weights is None else None  # the record: default weights
    out: dict[str, Any] = {"groups_by": by, "queries": "held-out" if held else "all", "k": k, "examples": [],
                           "precision_from": "record" if read else "recomputed",
                           "precision_said": _recorded_said(recorded, k, bool(read), weights)}
    if read is not None:  # the head's row named as it ranks now (the record named it before the run had an id)
        out.update(read)
        out["head"]["model"] = after.model_said
        baseline = str((recorded or {}).get("baseline") or baseline)
    else:
        out.update({"backbone": precision_at_k(before, queries, groups, k=k, weights=weights),
                    "head": precision_at_k(after, queries, groups, k=k, weights=weights)})
    indexed = {int(i) for i in after.update().index.ids}  # type: ignore[union-attr]
    for q in queries[:n_examples]:
        if q.id not in indexed:
            continue
        out["examples"].append({"query": q.name, "group": groups.get(q.id), "rankings": {
            name: [{"name": r.track.name, "group": groups.get(r.track.id), "score": r.match.score,
                    "explanation": r.match.explanation} for r in s.similar(q, k=k, weights=weights)]
            for name, s in (("backbone", before), ("head", after))}})
    out["models"] = {"backbone": before.model_said, "head": after.model_said}
    return {**out, "labels": labels, "baseline": baseline}
