"""The embeddings report's "Search before/after" section: what the trained head changes in ``workbench similar``.

:func:`write_before_after` ranks the library with the bare backbone and with the run's head (a CNN run's CNN:
against the feature frontend it replaces)
(:func:`workbench.similarity.compare.before_after`, queries limited to the run's held-out tracks)
and stores the result as ``search_before_after.json`` in the run folder; :func:`section_html`
renders it (or says how to record it). Precision@3 is read from the run's search record (``metrics["search"]``,
measured when it was trained: the search gate's figures) where it holds each query's matches, and recomputed only
where it does not; the section says which. The example rankings are made now.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from workbench.report import html as H
from workbench.wording import score_text

if TYPE_CHECKING:
    from pathlib import Path

    from workbench.library import Library
    from workbench.runs import Run

FILE = "search_before_after.json"


def write_before_after(run: Run, library: Library, *, k: int = 3) -> dict[str, Any]:
    """Compare backbone and the run's head through similar-track search, and save it in the run folder.

    Parameters
    ----------
    run : Run
        An embeddings run with a ``model.pt``.
    library : Library
        The library it was trained on (searched whole; queries are its held-out tracks).
    k : int >= 1
        Matches per query.

    Returns
    -------
    dict
        What :func:`workbench.similarity.compare.before_after` returns.
    """
    from workbench.fileio import atomic_write_bytes, jsonable
    from workbench.runs import is_cnn_run
    from workbench.similarity.compare import before_after
    from workbench.similarity.model import model_from_run

    held = (run.metrics.get("held_out") or {}).get("track_hashes") or None
    recorded = run.metrics.get("search")  # precision read from it where it holds it; recomputed only where not
    if is_cnn_run(run):  # a CNN run: the CNN against the feature frontend it replaces
        from workbench.similarity.model import cnn_model_from_run

        model = cnn_model_from_run(run)
    else:
        model = model_from_run(run)
    doc = before_after(library, model, held_out_hashes=held, k=k, recorded=recorded if isinstance(recorded, dict) else None)
    atomic_write_bytes(run.path / FILE, json.dumps(doc, indent=1, default=jsonable).encode("utf-8"))
    return doc


def find_library(run: Run) -> Path | None:
    """The database of the library ``run`` was trained on, or None when none is found.

    Tried in order: the library ``Library()`` opens (``$WORKBENCH_DB``, else the workspace's), then the
    ``data/workbench.db`` of the workspace the run folder is in (``<root>/experiments/<run_id>``).
    A database counts only when it holds every track the run held out (``metrics.json``
    ``held_out.track_hashes``; else the run's ``data.json`` tracks), so another library is never
    searched in the run's name.

    Parameters
    ----------
    run : Run
        An embeddings run.

    Returns
    -------
    pathlib.Path or None
    """
    import sqlite3

    from workbench import config

    wanted = set((run.metrics.get("held_out") or {}).get("track_hashes") or
                 [t.get("content_hash") for t in run.data.get("tracks") or [] if t.get("content_hash")])
    if not wanted:
        return None
    candidates = [config.workspace().db, run.path.resolve().parent.parent / "data" / config.DB_FILENAME]
    for db in dict.fromkeys(c.resolve() for c in candidates):
        if not db.is_file():
            continue
        try:  # read only: looking must not create or change a database
            with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
                held = {h for (h,) in conn.execute("SELECT content_hash FROM tracks")}
        except sqlite3.Error:
            continue
        if wanted <= held:
            return db
    return None


def step_said(run: Run) -> str:
    """The report's progress-bar step for this section: which two models are searched.

    Parameters
    ----------
    run : Run
        The run reported.

    Returns
    -------
    str
        ``"search before/after (feature frontend and CNN)"`` for a CNN run, else ``"... (backbone and head)"``;
        `` (precision from the run's search record)`` added where the record holds it.
    """
    from workbench.runs import is_cnn_run
    from workbench.similarity.compare import recorded_precision

    read = " (precision from the run's search record)" if recorded_precision(run.metrics.get("search"), 3) else ""
    return f"search before/after ({'feature frontend and CNN' if is_cnn_run(run) else 'backbone and head'}){read}"


def section_html(run: Run) -> str:
    """The section's HTML from ``search_before_after.json`` (a note when it was not recorded).

    Parameters
    ----------
    run : Run
        The run whose folder is read.
    """
    try:
        doc = json.loads((run.path / FILE).read_text())
    except (OSError, ValueError):
        return H.not_recorded(f"{FILE} (report(run, library=...) records it)")
    k, labels = doc.get("k", 3), doc.get("labels") or {}  # a CNN: "feature frontend" and "cnn of run <id>"
    rows = []
    for name in ("backbone", "head"):
        m = doc.get(name) or {}
        rows.append((m.get("model", name), m.get("precision_at_k"), m.get("chance"), m.get("best_possible"),
                     m.get("n_queries")))
    b, h = (doc.get("backbone") or {}).get("precision_at_k"), (doc.get("head") or {}).get("precision_at_k")
    delta = (f" Change: {score_text(h - b, signed=True)}." if isinstance(b, (int, float)) and isinstance(h, (int, float))
             else "")  # 4 decimals, as the table under it (0.7222 - 0.7778: -0.0556, not -0.06)
    body = (f'<p class="meta">precision@{k} by {H.esc(doc.get("groups_by", "group"))} through similar-track search '
            f'(default weights; the query\'s own track never counts), queries: {H.esc(doc.get("queries", ""))} '
            f"tracks; the whole library is searched.{H.esc(delta)}"
            + (f" Compared with {H.esc(doc['baseline'])}." if doc.get("baseline") else "")
            + (f" Precision {H.esc(doc['precision_said'])}; the examples are ranked now." if doc.get("precision_said")
               else "") + "</p>")
    body += H.table(rows, ("model", f"precision@{k}", "chance", "best possible", "queries"))
    for ex in doc.get("examples") or []:
        ranks = {m: (ex.get("rankings") or {}).get(m) or [] for m in ("backbone", "head")}
        n = max(len(v) for v in ranks.values())
        body += f'<p class="meta">query: {H.esc(ex.get("query"))} [{H.esc(ex.get("group"))}]</p>'
        body += H.table([(i + 1, _cell(ranks["backbone"], i), _cell(ranks["head"], i)) for i in range(n)],
                        ("rank", labels.get("backbone", "backbone"), labels.get("head", "head")))
    return body


def _cell(ranking: list[dict[str, Any]], i: int) -> str:
    """Rank ``i`` of a ranking as "name [group] score" ("" past its end)."""
    return f"{ranking[i]['name']} [{ranking[i]['group']}] {ranking[i]['score']:.2f}" if i < len(ranking) else ""
