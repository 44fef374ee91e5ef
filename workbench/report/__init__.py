"""Run reports: ``experiments/<run_id>/report.html``, one self-contained page, plus PNGs and JSON.

:func:`report` writes, inside the run folder:

- ``report.html``: every plot embedded as a data URI, no external resource (opens offline).
- ``plots/*.png``: the same figures as files.
- ``evaluation.json``: ``{"run_id", "recorded": <metrics.json>, "computed": <metrics recomputed from
  arrays.npz / timeline.json>, "gates": [{name, value, target, passed}], "blocking_gates": [...]}``:
  ``gates`` are the research targets (informational, never blocking); ``blocking_gates`` what
  export and activation check (:mod:`workbench.report.gates_part`).

:func:`show` displays the report inline in a notebook.

Keys read from the run folder (anything missing shows as "not recorded"):

- ``run.json``: ``run_id``, ``kind``, ``created_at``, ``finished_at``, ``seed``, ``code_version``,
  ``job_id``, ``backbone`` {``name``, ``settings``, ``dim``}.
- ``config.json``: shown as a table (nested keys dotted).
- ``data.json``: ``fingerprint``, ``tracks`` [{id, content_hash, name}], ``label_counts``
  {class: n}, ``backbone`` (used when run.json has none), ``classes`` (class names), ``splits``.
- ``history.json``: per epoch ``epoch`` plus any numeric keys (``train_loss``, ``val_map_at_r``, ...);
  each numeric key gets a panel; ``seconds`` is not plotted.
- ``metrics.json``: nested {group: {metric: value}} (``model``, ``baseline``, ...) or flat;
  ``metrics["baselines"]`` = {name: {metric: value}} on the model's held-out data (embeddings:
  ``backbone``, ``random_head``), shown beside ``metrics["model"]`` in "Model vs baselines";
  ``metrics["invariance"]`` = {augmentation: {strength: mean cosine}}; the quality gates read
  ``metrics["model"]`` (or the top level), falling back to the recomputed value.
- ``arrays.npz`` and ``timeline.json``: see :mod:`workbench.evaluate` (``embeddings``/``classes``,
  ``y_true``/``y_pred``/``probs``, ``class_names``); an embeddings projection uses ``embeddings``
  (else, for a sections run, ``probs``) coloured by ``classes`` (or ``y_true``).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.experiments_compare import config_params
from workbench.report import html as H
from workbench.report.baselines import comparison
from workbench.runs import flatten, started_text
from workbench.wording import score_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.library import Library
    from workbench.runs import Run

__all__ = ["as_run", "backbone_text", "build", "report", "show"]

SECTIONS = ("Headline", "Quality gates", "Model vs baselines", "Metrics", "Training curves", "Confusion matrix",
            "Per-class scores", "Embedding space", "Search before/after", "Invariance", "Section timeline", "Dataset",
            "Config", "Run")


def as_run(run: Run | str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> Run:
    """A :class:`~workbench.runs.Run` from a Run, a run id or a run folder path.

    Parameters
    ----------
    run : Run, run id or run folder
    root : str, path or None
        Experiments folder used to look up a run id (default :func:`workbench.config.experiments_dir`).

    Returns
    -------
    Run
    """
    from workbench.runs import Run, load_run

    return run if isinstance(run, Run) else load_run(run, root=root)


def backbone_text(run: Run) -> str:
    """E.g. ``"features-v1 (weight-free feature frontend, not OpenL3), dim 202"``, or "not recorded".

    Parameters
    ----------
    run : Run
        Its ``run.json`` ``backbone`` (else ``data.json``'s): a name, or ``{name, dim}``.

    Returns
    -------
    str
    """
    bb = run.info.get("backbone") or run.data.get("backbone")
    if not bb:
        return H.NOT_RECORDED
    if isinstance(bb, str):
        bb = {"name": bb}
    name = str(bb.get("name", H.NOT_RECORDED))
    low = name.lower()
    if low.startswith("features"):
        what = "weight-free feature frontend, not OpenL3"
    elif low.startswith("openl3"):
        what = "OpenL3, pretrained weights"
    else:
        what = ""
    text = f"{name} ({what})" if what else name
    return f"{text}, dim {bb['dim']}" if bb.get("dim") is not None else text


def _applicable(config: dict) -> dict:
    """A run's config without settings its backbone has no use for: ``size`` (OpenL3's embedding size) of a
    run on another backbone (the feature frontend, a CNN); kept where the backbone is not recorded."""
    if "backbone" in config and config["backbone"] != "openl3":
        return {k: v for k, v in config.items() if k != "size"}
    return config


def _section(title: str, content: str) -> str:
    anchor = title.lower().replace(" ", "-")
    return f'<section id="{anchor}"><h2>{H.esc(title)}</h2>{content}</section>'


#: Captions of the report's figures, by plot name (the section timeline's names its tracks).
CAPTIONS: dict[str, str] = {
    "training_curves": "Training curves, one panel per quantity tracked each epoch (validation figures on "
                       "validation tracks taken from the training side, never the held-out tracks).",
    "confusion_matrix": "Confusion matrix of the model's window labels (arg-max, before smoothing) on the held-out "
                        "tracks: rows are the truth, columns the prediction.",
    "per_class": "Per-class scores on the held-out tracks (support: labelled windows of the class).",
    "embedding_projection": "2-D projection of the held-out windows, coloured by their class: classes that form "
                            "their own clusters are easy to tell apart.",
    "invariance": "Mean cosine between held-out clips and their pitch-, tempo- and gain-shifted copies, for the "
                  "backbone and the trained head (higher: the change moves the vector less).",
    "reliability": "Reliability on held-out windows before and after temperature scaling: a calibrated model "
                   "lies on the diagonal.",
}


def counted_unit(run: Run) -> str:
    """What a run's ``label_counts`` count, in words: an embeddings run's windows (``"8-s windows"``), a
    sections run's ``"labelled sections"``.

    Parameters
    ----------
    run : Run
    """
    if run.kind != "embeddings":
        return "labelled sections" if run.kind == "sections" else "labelled examples"
    window_s = run.data.get("window_s")
    return f"{window_s:g}-s windows" if _is_number(window_s) else "windows"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _baseline_notes(run: Run) -> str:
    """Notes under the model-vs-baselines table: what the held-out numbers mean for this kind."""
    from workbench.evaluate import model_metrics

    notes = []
    baselines = run.metrics.get("baselines")
    if run.kind == "embeddings" and isinstance(baselines, dict):
        notes.append("held-out tracks; a query never counts windows of its own track as matches")
        base = (baselines.get("backbone") or {}).get("map_at_r")
        head = model_metrics(run.metrics).get("map_at_r")
        if _is_number(base) and _is_number(head):
            verdict = "beats" if head > base else "does not beat"
            notes.append(f"the head {verdict} the untrained backbone on MAP@R ({score_text(head)} vs {score_text(base)})")
    if isinstance(run.metrics.get("note"), str):
        notes.append(run.metrics["note"])
    return "".join(f'<p class="meta">{H.esc(n)}</p>' for n in notes)


def build(run: Run, *, seed: int = 0, projection: str = "pca") -> tuple[str, dict[str, bytes], dict[str, Any]]:
    """(report body HTML, {plot name: PNG bytes}, evaluation dict), without writing anything.

    Parameters
    ----------
    run : Run
    seed : int
        Seed of the k-means and t-SNE used for the clustering metrics and the projection.
    projection : {"pca", "tsne"}
        2-D projection of the embedding space.

    Returns
    -------
    (body, pngs, evaluation) : (str, dict of str to bytes, dict)
        The report's HTML body, its plots as PNG bytes by name, and the ``evaluation.json`` contents.
    """
    import numpy as np

    from workbench.evaluate import class_names, evaluate_run, model_metrics, quality_gates
    from workbench.report import overview as O
    from workbench.report import plots as P
    from workbench.report.gates_part import WINDOWS_SAID

    computed = evaluate_run(run, seed=seed)
    arrays = run.arrays()
    pngs: dict[str, bytes] = {}

    def figure(name: str, fig: Figure, alt: str, caption: str | None = None) -> str:
        """Keep ``fig`` as PNG ``name`` and return its ``<figure>`` with ``<img>`` and caption.

        Parameters
        ----------
        name : str
            The plot's name (``plots/<name>.png``).
        fig : matplotlib.figure.Figure
        alt : str
            The image's alt text.
        caption : str or None
            What the figure shows and on which tracks; None: a caption from :data:`CAPTIONS` or ``alt``.
        """
        pngs[name] = P.png_bytes(fig)
        return O.figure(H.img(pngs[name], alt), caption or CAPTIONS.get(name, alt))

    recorded_model = model_metrics(run.metrics)
    gate_source = {**{k: v for k, v in computed.items() if not isinstance(v, dict)}, **recorded_model}
    gates = quality_gates(gate_source, run.kind) if run.kind in ("embeddings", "sections") else []
    parts: list[str] = []

    # header
    info = run.info
    parts.append(f"<h1>Run {H.esc(run.run_id)}</h1>")
    parts.append(f'<div class="backbone">backbone: {H.esc(backbone_text(run))}</div>')
    parts.append(f'<p class="meta">kind <b>{H.esc(run.kind)}</b> · started {H.esc(H.fmt(started_text(info.get("created_at"), zone=True)))}'
                 f' · code {H.esc(H.fmt(info.get("code_version")))} · seed {H.esc(H.fmt(info.get("seed")))}</p>')
    notes = run.notes
    if notes["name"] or notes["note"]:
        parts.append(f'<p class="meta"><b>{H.esc(notes["name"])}</b> {H.esc(notes["note"])}</p>')

    # the lead: headline metrics beside their best baseline, in-domain and on held-out groups
    parts.append(_section("Headline", O.headline(run)))

    # gates: the blocking ones (what export and activation check), then the research targets
    blocking: list[dict[str, Any]] = []
    if gates:
        from workbench.report.gates_part import gates_part

        body, blocking = gates_part(run.metrics, run.kind, gates)
        parts.append(_section("Quality gates", body))
    else:
        parts.append(_section("Quality gates", H.not_recorded(f"no gates for kind {run.kind!r}")))

    extra = ""
    if run.kind == "sections":  # transfer to held-out crates, novelty boundaries, calibration (h3 parts)
        from workbench.report.sections import sections_part

        extra = sections_part(run.metrics, figure)
    parts.append(_section("Model vs baselines", comparison(run.metrics) + _baseline_notes(run) + extra))

    # grouped tables: only the cells that exist, each saying on which tracks it was computed
    parts.append(_section("Metrics", O.grouped_metrics(run, computed)))

    # curves
    if run.history:
        curves = P.curves_figure({run.run_id: run.history}, kept={run.run_id: run.kept_epoch})
        parts.append(_section("Training curves", figure("training_curves", curves, "training curves")))
    else:
        parts.append(_section("Training curves", H.not_recorded("history.json")))

    # confusion matrix and per-class bars
    if "confusion" in computed:
        cm = np.asarray(computed["confusion"])
        used = [i for i in range(len(cm)) if cm[i].sum() + cm[:, i].sum() > 0]  # classes never seen nor predicted
        unused = [computed["classes"][i] for i in range(len(cm)) if i not in used]
        note = f'<p class="meta">not in the test set nor predicted: {H.esc(", ".join(unused))}</p>' if unused else ""
        scored = f'<p class="meta">of the {WINDOWS_SAID}, as the research targets; the gates and the labeler ' \
                 "judge the smoothed sections (Sections by scope)</p>" if run.kind == "sections" else ""
        parts.append(_section("Confusion matrix", figure(
            "confusion_matrix", P.confusion_figure(cm[np.ix_(used, used)], [computed["classes"][i] for i in used]),
            "confusion matrix") + note + scored))
    else:
        body = (H.not_recorded("y_true / y_pred in arrays.npz") if run.kind == "sections"
                else '<p class="na">not applicable: an embeddings run has no classifier</p>')
        parts.append(_section("Confusion matrix", body))
    per_class = computed.get("per_class") or run.metrics.get("per_class")
    if per_class:
        per_class = {k: v for k, v in per_class.items() if v.get("support", v.get("n", 1)) or v.get("precision")}
        first = next(iter(per_class.values()))
        keys = (["precision", "recall", "f1"] if "f1" in first else
                [k for k, v in first.items() if isinstance(v, float) and k not in ("support", "n")])
        title = "Per-class precision, recall and F1" if "f1" in first else "Per-class retrieval (query excluded)"
        title += f" ({WINDOWS_SAID})" if run.kind == "sections" else ""
        # each baseline's last score (F1; an embeddings run's backbone: R-precision) on the same held-out data beside
        # the model's, where the run recorded it per class (embeddings runs since session 17: the backbone)
        base = {name: {c: v[keys[-1]] for c, v in (b.get("per_class") or {}).items()
                       if isinstance(v, Mapping) and keys[-1] in v}
                for name, b in (run.metrics.get("baselines") or {}).items() if isinstance(b, Mapping)} if keys else {}
        parts.append(_section("Per-class scores", figure("per_class", P.per_class_figure(
            per_class, keys=keys or None, title=title, baselines={n: b for n, b in base.items() if b}), title)))
    else:
        parts.append(_section("Per-class scores", H.not_recorded("per-class scores")))

    # projection
    emb_key = "embeddings" if "embeddings" in arrays else ("probs" if "probs" in arrays else None)
    # per-row class labels: the first of these with one entry per embedding row ("classes" may be
    # the list of class names instead)
    rows = len(arrays[emb_key]) if emb_key else -1
    lab_key = next((k for k in ("classes", "labels", "y_true") if k in arrays and len(arrays[k]) == rows), None)
    if emb_key and lab_key and arrays[emb_key].ndim == 2 and len(arrays[emb_key]) == len(arrays[lab_key]) >= 3:
        lab = arrays[lab_key]
        if lab.dtype.kind in "iu":
            lab = np.array(class_names(run, int(lab.max()) + 1, arrays))[lab]
        title = "Embedding space" if emb_key == "embeddings" else "Class probabilities"
        parts.append(_section("Embedding space", figure(
            "embedding_projection", P.projection_figure(arrays[emb_key], lab, seed=seed, title=title,
                                                     method=projection),
            "2-D projection of the embedding space")))
    else:
        parts.append(_section("Embedding space", H.not_recorded("embeddings and classes in arrays.npz")))

    # what the head changes in similar-track search (recorded by report(run, library=...))
    if run.kind == "embeddings":
        from workbench.report.search_section import section_html

        parts.append(_section("Search before/after", section_html(run)))
    else:
        parts.append(_section("Search before/after", '<p class="na">not applicable: only an embeddings run '
                                                      "changes similar-track search</p>"))

    # invariance
    inv = run.metrics.get("invariance") or recorded_model.get("invariance")
    if inv:
        parts.append(_section("Invariance", figure("invariance", P.invariance_figure(inv), "invariance bars")))
    elif run.kind == "sections":  # measured for an embedding (a clip against its shifted copy), never a section model
        parts.append(_section("Invariance", '<p class="na">not applicable: invariance is measured for an embeddings '
                                            "run (a clip's embedding against its pitch-, tempo- and gain-shifted "
                                            "copy's), not for a section model</p>"))
    else:
        parts.append(_section("Invariance", H.not_recorded("metrics.json invariance")))

    # timeline
    if run.timeline:
        parts.append(_section("Section timeline", figure(
            "section_timeline", P.timeline_figure(run.timeline), "section timeline, truth above prediction",
            O.timeline_caption(run.timeline))))
    elif run.kind == "embeddings":  # a section model's output, never an embedding's (as Invariance says the other way)
        parts.append(_section("Section timeline", '<p class="na">not applicable: the timeline shows a sections run\'s '
                                                  "predicted sections against the labels, not an embeddings run's</p>"))
    else:
        parts.append(_section("Section timeline", H.not_recorded("timeline.json")))

    # dataset
    data = run.data
    tracks = data.get("tracks") or []
    unit = counted_unit(run)
    facts = {"backbone": backbone_text(run), "fingerprint": data.get("fingerprint"),
             "tracks": len(tracks) if tracks else None,
             unit: sum(int(v) for v in data["label_counts"].values()) if data.get("label_counts") else None}
    for k, v in (data.get("splits") or {}).items():
        facts[f"split {k}"] = len(v) if isinstance(v, (list, tuple)) else v
    body = H.kv_table(facts)
    if data.get("label_counts"):
        body = f'<div class="row"><div>{body}</div><div>' + figure(
            "label_counts", P.label_counts_figure(data["label_counts"], unit=unit), "label counts",
            f"{unit[:1].upper()}{unit[1:]} per class, the run's training and held-out tracks together.") + "</div></div>"
    if tracks:
        shown = tracks[:30]
        body += H.table([(t.get("id"), t.get("name"), str(t.get("content_hash", ""))[:12]) for t in shown],
                        ("id", "track", "content hash"))
        if len(tracks) > len(shown):
            body += f'<p class="meta">... and {len(tracks) - len(shown)} more tracks</p>'
    parts.append(_section("Dataset", body))

    # config and run info
    # None: off/default; max_epochs read as epochs, as runs compare reads it
    config = {k: "none" if v is None else v for k, v in config_params(_applicable(run.config)).items()}
    parts.append(_section("Config", H.kv_table(config) if config else H.not_recorded("config.json")))
    times = {k: started_text(info.get(k), zone=True) for k in ("created_at", "finished_at") if info.get(k) is not None}
    parts.append(_section("Run", H.kv_table(flatten({**info, **times}))))  # times as `runs list` shows them

    body = f'<div class="wb-report"><style>{H.CSS}</style>' + "".join(parts) + "</div>"
    evaluation = {"run_id": run.run_id, "recorded": run.metrics, "computed": computed,
                  "gates": [g._asdict() for g in gates], "blocking_gates": blocking}
    return body, pngs, evaluation


def report(run: Run | str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
           seed: int = 0, projection: str = "pca", library: Library | None = None, progress: bool = False) -> Path:
    """Write ``report.html``, ``plots/*.png`` and ``evaluation.json`` into the run folder; return the HTML path.

    Parameters
    ----------
    run : Run, run id or run folder
    root : experiments folder used to look up a run id (default :func:`workbench.config.experiments_dir`)
    seed : int
        Seed of the k-means and t-SNE used for the clustering metrics and the projection.
    projection : {"pca", "tsne"}
        2-D projection of the embedding space (t-SNE is much slower).
    library : Library or None
        For an embeddings run: the library it was trained on, searched with the backbone and with
        the run's head (a CNN run: with the feature frontend and with the CNN) for the "Search before/after"
        section (one failure is said there, not raised).
    progress : bool
        A ``tqdm.auto`` bar of the steps (search before/after, metrics and figures, writing), naming the
        step running: a report takes tens of seconds.
    """
    from tqdm.auto import tqdm

    run = as_run(run, root=root)
    search = library is not None and run.kind == "embeddings" and run.model_path is not None
    bar = tqdm(total=2 + search, desc=f"report {run.run_id}", unit="step", disable=not progress)
    try:
        return _report(run, bar, seed=seed, projection=projection, library=library if search else None)
    finally:
        bar.close()


def _report(run: Run, bar: Any, *, seed: int, projection: str, library: Library | None) -> Path:
    """:func:`report`'s steps, each ticking ``bar``."""
    from workbench.fileio import atomic_write_bytes, jsonable

    if library is not None:
        from workbench.report.search_section import FILE, step_said, write_before_after

        bar.set_postfix_str(step_said(run))
        try:
            write_before_after(run, library)
        except Exception as exc:  # noqa: BLE001 - the report still comes; the section says why
            from workbench.errors import failure_reason

            (run.path / FILE).unlink(missing_ok=True)  # no stale comparison
            warnings.warn(f"search before/after not recorded: {failure_reason(exc)}", stacklevel=3)
        bar.update(1)
    bar.set_postfix_str("metrics and figures")
    body, pngs, evaluation = build(run, seed=seed, projection=projection)
    bar.update(1)
    bar.set_postfix_str("writing")
    plots = run.path / "plots"
    plots.mkdir(exist_ok=True)
    for name, png in pngs.items():
        atomic_write_bytes(plots / f"{name}.png", png)
    atomic_write_bytes(run.path / "evaluation.json",
                       json.dumps(evaluation, indent=2, default=jsonable).encode("utf-8"))
    page = H.document(body, title=f"workbench run {run.run_id}")
    path = atomic_write_bytes(run.path / "report.html", page.encode("utf-8"))
    bar.update(1)
    return path


def show(run: Run | str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None, seed: int = 0,
         projection: str = "pca", library: Library | None = None) -> None:
    """Write the report (as :func:`report`) and display it inline in a notebook.

    Parameters
    ----------
    run : Run, run id or run folder
    root : str, path or None
        Experiments folder used to look up a run id.
    seed : int
        As in :func:`report`.
    projection : {"pca", "tsne"}
        As in :func:`report`.
    library : Library or None
        As in :func:`report`: an embeddings run's library, searched for "Search before/after". None:
        a comparison already recorded in the run folder is shown; if there is none, the run's own
        library is found (:func:`~workbench.report.search_section.find_library`: the one that holds
        its held-out tracks) and searched, else the section says how to record it.
    """
    from IPython.display import HTML, display

    run = as_run(run, root=root)
    if library is None and run.kind == "embeddings" and run.model_path is not None:
        from workbench.report.search_section import FILE, find_library

        db = None if (run.path / FILE).is_file() else find_library(run)
        if db is not None:
            from workbench.library import Library

            with Library(db) as found:
                report(run, seed=seed, projection=projection, library=found)
        else:
            report(run, seed=seed, projection=projection)
    else:
        report(run, seed=seed, projection=projection, library=library)
    text = (run.path / "report.html").read_text(encoding="utf-8")
    start = text.index('<div class="wb-report">')
    display(HTML(text[start:text.rindex("</body>")]))
