"""The search gate's measurement: precision@3 by folder through similar-track search, head vs backbone, held-out tracks.

A head can beat its backbone on window retrieval (``map_at_r``, the baseline gate) and still make
``workbench similar`` worse: search ranks whole tracks on the window-set vibe together with the
tempo, key and energy terms. :func:`search_record` measures what the user would see, before the
run is written: the library is searched whole (:class:`~workbench.search.LibrarySearch`, the bare
backbone and the head as it will be saved, blend included), with the same index contents, the
same default term weights for both, the queries being the tracks the run held out (never trained
on; the query's own track never counted, :func:`workbench.similarity.compare.precision_at_k`).
The record goes to ``metrics.json`` under ``"search"``, with each query's matches for both models; the blocking
gate (:func:`workbench.evaluate.gates.search_gate`) refuses a head only when it is worse beyond sampling noise: worse
on more queries than it is better on, by a one-sided sign test at p < 0.05 (a record without per-query matches,
written before session 15, is read as before: ``model >= backbone``).

A CNN run (``--backbone cnn``, :mod:`workbench.train.cnn_training`) saves no head: its ``model.pt`` is the
whole audio-in network, which search uses as the library's backbone (``LibrarySearch(library,
backbone=cnn_backbone(model.pt), model="backbone")``, as ``workbench embed --backbone cnn`` embeds with it).
Its search is measured that way, against the bare feature frontend (``features-v1``), the backbone the CNN
replaces (the record's ``baseline`` says so): a CNN's own untrained weights are no baseline anyone searches with.

It is measured only where it means something: classes from the user's folders or crates (the
groups precision is counted in), and at least :data:`MIN_SEARCH_QUERIES` held-out queries in
groups of two or more tracks. Otherwise the record says why it was not measured, and the gate
says so and does not block. Precision@3 moves in steps of ``1 / (3 n)``: with 6 queries one
changed match is 0.056, which is why the gate tests the queries, not the mean: with 6 queries it blocks a head
worse on 5 or 6 of them and better on none (p = 0.031 / 0.016), never one that changed one match.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.library import Library

#: Fewest held-out queries (in groups of two or more indexed tracks) for the search gate to be measured.
MIN_SEARCH_QUERIES = 6
#: Matches per query (precision@K by folder, as the benchmark and the report's before/after section).
SEARCH_K = 3
#: Class sources whose classes are the groups search precision is counted in.
GROUPED_SOURCES = ("crates", "folder")


def not_measured(reason: str, **fields: Any) -> dict[str, Any]:
    """The record of a search gate that could not be measured (it does not block).

    Parameters
    ----------
    reason : str
        Why, in words ("classes are self-supervised: ...").
    **fields
        More keys for the record (``n_queries``).

    Returns
    -------
    dict
        ``{"status": "not measured", "reason": reason, "min_queries": ..., "k": ...}``.
    """
    return {"status": "not measured", "reason": reason, "min_queries": MIN_SEARCH_QUERIES, "k": SEARCH_K, **fields}


def search_record(library: Library, save_model: Callable[[Path], None], *, backbone_info: Mapping[str, Any],
                  window_s: float, held_out_hashes: Iterable[str], class_source: str,
                  baseline: Backbone | None = None, cnn: bool = False) -> dict[str, Any]:
    """Precision@3 by folder of the held-out tracks through search, the backbone's and the head's.

    Parameters
    ----------
    library : Library
        The library the head was trained on (searched whole; analysed and embedded where missing).
    save_model : callable(Path)
        Writes the head's ``model.pt`` as the run will (blend included); written to a temporary
        folder beside the library's database and read back as search reads it.
    backbone_info : mapping
        The run's backbone as ``run.json`` records it (``name``, ``dim``).
    window_s : float > 0
        The head's window in seconds.
    held_out_hashes : iterable of str
        Content hashes of the run's held-out tracks (the queries).
    class_source : str
        Where the run's classes came from (:class:`~workbench.train.classes.ClassChoice` ``source``).
    baseline : Backbone or None
        The bare backbone the head is compared with, as ``workbench similar --model backbone`` searches;
        None: the head's own backbone (a CNN run's: the feature frontend). A fine-tuned run passes the frozen
        backbone it started from (the head's own is the tuned network, which is not what searching without the
        head uses).
    cnn : bool
        ``save_model`` writes a CNN (:func:`workbench.models.cnn.save_cnn`), not a head: search ranks with it
        as the backbone (its window means, no head), read back with :func:`workbench.train.backbones.cnn_backbone`.

    Returns
    -------
    dict
        Measured: ``status="measured"``, ``k``, ``groups_by``, ``n_queries``, ``min_queries``,
        ``weights`` (in words), ``backbone`` and ``model`` (precision@k), ``per_query`` (``track_ids`` and, for
        each, the matches in its group among the ``k`` for ``model`` and ``backbone``: the gate's sign test), ``chance``,
        ``best_possible``, the models in words, ``trained`` (``"head"`` or ``"cnn"``: the model gated) and
        ``baseline`` (the model compared with, in words).
        Otherwise :func:`not_measured`'s record (with ``trained`` too).
    """
    from types import SimpleNamespace

    from workbench.errors import failure_reason
    from workbench.search import LibrarySearch
    from workbench.similarity.compare import baseline_said, precision_at_k
    from workbench.similarity.groups import track_groups
    from workbench.similarity.learned_weights import weights_said
    from workbench.similarity.model import model_from_run
    from workbench.similarity.scores import Weights

    trained = "cnn" if cnn else "head"  # the model the gate holds to its backbone
    if class_source not in GROUPED_SOURCES:
        return not_measured(f"the run's classes come from {class_source!r}, not from folders or crates: search "
                            "precision by folder says nothing about them", trained=trained)
    held = set(held_out_hashes)
    queries = [t for t in library.tracks() if t.content_hash in held]
    groups, by = track_groups(library)
    sizes: dict[str, int] = {}
    for g in groups.values():
        sizes[g] = sizes.get(g, 0) + 1
    usable = [t for t in queries if sizes.get(groups.get(t.id, ""), 0) >= 2 and groups.get(t.id) != "(no crate)"]
    if len(usable) < MIN_SEARCH_QUERIES:
        return not_measured(f"{len(usable)} held-out queries in {by}s of two or more tracks, fewer than "
                            f"{MIN_SEARCH_QUERIES}", n_queries=len(usable), trained=trained)
    weights = Weights()
    folder = Path(library.path).parent
    after = None
    try:
        with tempfile.TemporaryDirectory(prefix=".search-gate-", dir=folder) as tmp:
            path = Path(tmp) / "model.pt"
            save_model(path)
            if cnn:  # the CNN is the backbone search ranks with; compared with the feature frontend it replaces
                from workbench.embed.features import FeatureFrontend
                from workbench.models.cnn_backbone import recorded_hop_s
                from workbench.train.backbones import cnn_backbone

                hop_s = recorded_hop_s(backbone_info)
                after = LibrarySearch(library, backbone=cnn_backbone(path, hop_s=hop_s, search=False), model="backbone",
                                      progress=False, term_weights="default")
                baseline = FeatureFrontend() if baseline is None else baseline
            else:
                run = SimpleNamespace(model_path=path, run_id=None, info={"backbone": dict(backbone_info)},
                                      data={"window_s": float(window_s)})
                after = LibrarySearch(library, model=model_from_run(run), progress=False, term_weights="default")
            before = LibrarySearch(library, backbone=after.backbone if baseline is None else baseline,
                                   model="backbone", progress=False,
                                   term_weights="default")
            b = precision_at_k(before, usable, groups, k=SEARCH_K, weights=weights)
            h = precision_at_k(after, usable, groups, k=SEARCH_K, weights=weights)
    except Exception as exc:  # noqa: BLE001 - the run is still written; the record says why search was not measured
        return not_measured(f"search could not be measured: {failure_reason(exc)}", n_queries=len(usable), trained=trained)
    finally:
        if after is not None:  # the head's index was named by this temporary file: never searched again
            shutil.rmtree(after.folder, ignore_errors=True)
    if b["n_queries"] != h["n_queries"] or h["n_queries"] < MIN_SEARCH_QUERIES:
        return not_measured(f"{h['n_queries']} held-out queries could be searched (backbone {b['n_queries']}), "
                            f"fewer than {MIN_SEARCH_QUERIES} or not the same", n_queries=int(h["n_queries"]), trained=trained)
    base, mine = dict(map(tuple, b.get("per_query", []))), dict(map(tuple, h.get("per_query", [])))
    ids = [i for i in mine if i in base]  # the same queries, paired (the gate's sign test)
    per_query = {"track_ids": ids, "model": [mine[i] for i in ids], "backbone": [base[i] for i in ids]}
    return {"status": "measured", "k": SEARCH_K, "groups_by": by, "n_queries": int(h["n_queries"]), "per_query": per_query,
            "min_queries": MIN_SEARCH_QUERIES, "weights": f"default: {weights_said(weights)}",
            "backbone": float(b["precision_at_k"]), "model": float(h["precision_at_k"]),
            "chance": float(h["chance"]), "best_possible": float(h["best_possible"]),
            "models": {"backbone": before.model_said, "model": after.model_said}, "trained": trained,
            "baseline": baseline_said(before.backbone.name, cnn=cnn)}


def job_search_record(library: Library, model: Any, save: Callable[[Path], None] | None,
                      backbone_info: Mapping[str, Any], data_cfg: Mapping[str, Any], source: str,
                      held_out_hashes: Iterable[str], baseline: Backbone | None = None,
                      cnn: bool = False) -> dict[str, Any]:
    """The embeddings job's ``metrics["search"]``: :func:`search_record`, or why it is not measured.

    Parameters
    ----------
    library : Library
        The library trained on.
    model : EmbeddingHead
        The trained head (saved with :func:`~workbench.models.heads.save_checkpoint` when ``save`` is None).
    save : callable(Path) or None
        How the run writes ``model.pt`` (a blend, a CNN or a tuned backbone saves its own).
    backbone_info : mapping
        The run's backbone (``run.json``'s ``backbone``).
    data_cfg : mapping
        The job's data settings (``window_s``).
    source : str
        The class source.
    held_out_hashes : iterable of str
        The held-out tracks' content hashes.
    baseline : Backbone or None
        The bare backbone to compare with (:func:`search_record`); None: the head's own.
    cnn : bool
        The run trained the CNN (``save`` writes it): searched as the backbone, against the feature frontend.
    """
    if save is None:
        from workbench.models.heads import save_checkpoint

        def save(path: Path) -> None:
            """Write the head's checkpoint as the run does.

            Parameters
            ----------
            path : Path
                Where ``model.pt`` goes.
            """
            save_checkpoint(model, path)

    return search_record(library, save, backbone_info=backbone_info, window_s=float(data_cfg["window_s"]),
                         held_out_hashes=held_out_hashes, class_source=source, baseline=baseline, cnn=cnn)
