"""The report's lead and its grouped metric tables.

:func:`headline` is what a report opens with: the headline metrics of the model beside the best
baseline on the same held-out tracks and, for a sections run, the same figures when each crate or
folder is held out in turn (leave one group out, "transfer"). :func:`grouped_metrics` follows with
one small table per group of metrics, holding only the cells that were recorded, each table saying
on which tracks it was computed. Numbers recomputed from the saved arrays are shown beside the
recorded ones as a check, and the segmentation recomputed from ``timeline.json`` says that it
covers only the tracks drawn in the timeline.

Reads ``metrics.json`` as :mod:`docs/runs.md <workbench.runs>` describes it: ``model``,
``model_smoothed``, ``baselines``, ``held_out.track_hashes``, ``segments`` {smoothed, raw, novelty},
``transfer.leave_one_group_out`` (``groups``, ``model``, ``model_smoothed``, ``baselines``,
``segments``, ``intro_outro_confusion``), ``invariance``, ``n_windows``, ``n_sections``, ``seconds``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.report import html as H
from workbench.wording import count_of

if TYPE_CHECKING:
    from workbench.runs import Run

#: Headline rows per run kind: (label, where the model's value is, where its baselines are).
#: A path is a tuple of keys into ``metrics.json`` (or into the LOSO block for transfer figures).
HEADLINES: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...], str]]] = {
    "sections": [
        ("accuracy (windows)", ("model", "accuracy"), ("baselines",), "accuracy"),
        ("macro F1 (windows)", ("model", "macro_f1"), ("baselines",), "macro_f1"),
        ("accuracy after smoothing", ("model_smoothed", "accuracy"), ("baselines",), "accuracy"),
        ("boundary F @3 s (smoothed sections)", ("segments", "smoothed", "boundary_f_3s"), ("segments",),
         "boundary_f_3s"),
        ("boundary F @0.5 s (smoothed sections)", ("segments", "smoothed", "boundary_f_0.5s"), ("segments",),
         "boundary_f_0.5s"),
    ],
    "embeddings": [
        ("MAP@R", ("model", "map_at_r"), ("baselines",), "map_at_r"),
        ("precision@1", ("model", "precision_at_1"), ("baselines",), "precision_at_1"),
        ("precision@5", ("model", "precision_at_5"), ("baselines",), "precision_at_5"),
        ("track MAP@R", ("model", "track_map_at_r"), ("baselines",), "track_map_at_r"),
    ],
}
#: Segment "baselines": the novelty boundaries need no training; raw is the model unsmoothed (not a baseline).
_SEGMENT_BASELINES = ("novelty",)


#: The invariance table's caption where it has ``backbone_raw`` (a column the table left unexplained).
INVARIANCE_COLUMNS = ('<p class="meta">model: the trained head; backbone: the backbone\'s pooled vectors z-scored '
                      "with the training windows' mean and spread (the space of the backbone baseline, the gate's "
                      "reference); backbone_raw: the same vectors as they are, not z-scored, for reference only "
                      "(no gate reads it)</p>")

def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def _num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _score(key: str, value: Any) -> Any:
    """A metric's cell as every score table writes it (:func:`~workbench.report.html.number`): 4 fixed decimals, a
    count (``n_*``, ``tracks``, ``support`` or an int) whole; ``.4g`` wrote a track MAP@R of 1.0 as "1"."""
    if not _num(value):
        return value
    return H.number(value, count=isinstance(value, int) or key.startswith("n_") or key in ("tracks", "support"))


def loso(metrics: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The leave-one-group-out block of a sections run, or None (not run, or skipped).

    Parameters
    ----------
    metrics : mapping
        ``metrics.json``.
    """
    block = _get(metrics, "transfer", "leave_one_group_out")
    return block if isinstance(block, Mapping) and "skipped" not in block and block.get("groups") else None


def held_out_text(run: Run) -> str:
    """Where the model and baseline figures were computed, in words (tracks, windows).

    Parameters
    ----------
    run : Run
    """
    m = run.metrics
    hashes = _get(m, "held_out", "track_hashes") or []
    ids = m.get("test_tracks") or _get(run.data, "splits", "test") or []
    n = len(hashes) or len(ids)
    names = {t.get("id"): t.get("name") for t in run.data.get("tracks") or []}
    shown = [str(names.get(i) or i) for i in ids][:6]
    text = f"{count_of(n, 'held-out track')}, none trained on" if n else "held-out tracks not recorded"
    if shown:
        text += f" ({', '.join(shown)}{' ...' if len(ids) > len(shown) else ''})"
    support = sum(int(v.get("support", 0)) for v in (_get(m, "model", "per_class") or {}).values()
                  if isinstance(v, Mapping))
    if support:
        text += f", {support} labelled windows"
    return text


def loso_text(block: Mapping[str, Any]) -> str:
    """The held-out groups in words: ``3 groups held out in turn: house (4 tracks), ...``.

    Parameters
    ----------
    block : mapping
        The ``transfer.leave_one_group_out`` block.
    """
    groups = block.get("groups") or {}
    total = sum(int(v) for v in groups.values() if _num(v))
    parts = ", ".join(f"{g} ({count_of(n, 'track')})" for g, n in groups.items())
    return (f"{count_of(len(groups), 'group')} (crates or folders) each held out in turn, trained on the others: "
            f"{parts}" + (f"; {count_of(total, 'track')} in all" if total else ""))


def _best_baseline(where: Mapping[str, Any] | None, key: str, *, segments: bool) -> tuple[str, float] | None:
    if not isinstance(where, Mapping):
        return None
    names = _SEGMENT_BASELINES if segments else tuple(where)
    vals = [(n, float(_get(where, n, key))) for n in names if _num(_get(where, n, key))]
    return max(vals, key=lambda nv: nv[1]) if vals else None


def headline(run: Run) -> str:
    """HTML: the headline metrics beside the best baseline, in-domain and on held-out groups (LOSO).

    Parameters
    ----------
    run : Run

    Returns
    -------
    str
        A table (only the rows whose model value was recorded) and, under it, on which tracks each
        column was computed; a "not recorded" line when no headline metric was.
    """
    m = run.metrics
    rows_spec = HEADLINES.get(run.kind, [])
    block = loso(m)
    rows, cls = [], []
    for label, model_path, base_path, key in rows_spec:
        value = _get(m, *model_path)
        if not _num(value):
            continue
        segments = base_path == ("segments",)
        base = _best_baseline(_get(m, *base_path), key, segments=segments)
        # every score with 4 decimals, the baseline and the difference too ("0.6597 | backbone 0.578 | +0.081")
        row: list[Any] = [label, f"{float(value):.4f}", f"{base[0]} {base[1]:.4f}" if base else "–",
                          "–" if base is None else f"{float(value) - base[1]:+.4f}"]
        c = ["", "num best" if base and value > base[1] else "num", "best" if base and base[1] > value else "", "num"]
        if block is not None:
            lo_value = _get(block, *model_path)
            lo_base = _best_baseline(_get(block, *base_path), key, segments=segments)
            row += [f"{float(lo_value):.4f}" if _num(lo_value) else "–",
                    f"{lo_base[0]} {lo_base[1]:.4f}" if lo_base else "–"]
            better = _num(lo_value) and lo_base is not None
            c += ["num best" if better and lo_value > lo_base[1] else "num",
                  "best" if better and lo_base[1] > lo_value else ""]
        rows.append(row)
        cls.append(c)
    if not rows:
        return H.not_recorded("headline metrics (metrics.json model)")
    header = ["metric", "model", "best baseline", "model − best baseline"]
    if block is not None:
        header += ["held-out groups: model", "held-out groups: best baseline"]
    out = H.table(rows, header, cls)
    out += f'<p class="meta">model, baselines: {H.esc(held_out_text(run))}.'
    if run.kind == "embeddings":
        out += " A query never counts windows of its own track as matches."
    if block is not None:
        out += f" Held-out groups: {H.esc(loso_text(block))}."
    elif run.kind == "sections":
        skipped = _get(m, "transfer", "leave_one_group_out", "skipped")
        out += f" No held-out-group figure: {H.esc(skipped or 'transfer not recorded')}."
    out += " Green: the better of model and best baseline."
    if run.kind == "sections":
        out += " Boundary baseline: novelty boundaries (no training)."
    out += "</p>"
    return out


def _group_table(columns: Mapping[str, Mapping[str, Any]], *, where: str) -> str:
    """One table: a column per member, only the rows every member recorded; the rest listed under it."""
    cols = {n: {k: v for k, v in c.items() if _num(v)} for n, c in columns.items() if isinstance(c, Mapping)}
    cols = {n: c for n, c in cols.items() if c}
    if not cols:
        return ""
    keys = list(dict.fromkeys(k for c in cols.values() for k in c))
    shared = [k for k in keys if all(k in c for c in cols.values())]
    out = H.table([(k, *[_score(k, cols[n][k]) for n in cols]) for k in shared], ("metric", *cols)) if shared else ""
    extra = [f"{n}: " + ", ".join(f"{k} {H.fmt(c[k])}" for k in c if k not in shared)
             for n, c in cols.items() if any(k not in shared for k in c)]
    if extra:
        out += '<p class="meta">also recorded: ' + H.esc("; ".join(extra)) + "</p>"
    return out + f'<p class="meta">computed on: {H.esc(where)}</p>'


def _classification(block: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    cols: dict[str, Mapping[str, Any]] = {}
    for key, name in (("model", "model"), ("model_smoothed", "model, smoothed")):
        if isinstance(block.get(key), Mapping):
            cols[name] = block[key]
    for name, b in (block.get("baselines") or {}).items():
        if isinstance(b, Mapping):
            cols[f"baseline: {name}"] = b
    return cols


def grouped_metrics(run: Run, computed: Mapping[str, Any]) -> str:
    """HTML: one table per group of recorded metrics, only the cells that exist, each with its tracks.

    Parameters
    ----------
    run : Run
    computed : mapping
        :func:`workbench.evaluate.evaluate_run` of the run (recomputed from ``arrays.npz`` and
        ``timeline.json``).

    Returns
    -------
    str
        ``<h3>`` per group; "not recorded" when the run recorded no metric at all.
    """
    m = run.metrics
    where = held_out_text(run)
    parts: list[str] = []

    def add(title: str, body: str) -> None:
        """Add a group under ``title`` when it has a table.

        Parameters
        ----------
        title : str
        body : str
            Its HTML ("" leaves the group out).
        """
        if body:
            parts.append(f"<h3>{H.esc(title)}</h3>{body}")

    name = "retrieval on the held-out tracks" if run.kind == "embeddings" else "window labels on the held-out tracks"
    add(name.capitalize(), _group_table(_classification(m), where=where))
    segs = m.get("segments") or {}
    add("Sections and boundaries on the held-out tracks",
        _group_table({k: segs[k] for k in ("smoothed", "raw", "novelty") if k in segs},
                     where=where + "; smoothed and raw: the model's sections, novelty: boundaries without training"))
    block = loso(m)
    if block is not None:
        add("Window labels on held-out groups (leave one group out)",
            _group_table(_classification(block), where=loso_text(block)))
        lsegs = block.get("segments") or {}
        add("Sections and boundaries on held-out groups",
            _group_table({k: lsegs[k] for k in ("smoothed", "raw", "novelty") if k in lsegs}, where=loso_text(block)))
    inv = m.get("invariance")
    if isinstance(inv, Mapping) and inv and all(isinstance(v, Mapping) for v in inv.values()):
        cols = list(dict.fromkeys(k for v in inv.values() for k in v if _num(v.get(k))))
        rows = [(t, *[v.get(c) if _num(v.get(c)) else "–" for c in cols]) for t, v in inv.items()]
        add("Invariance (mean cosine between a window and its transformed copy)",
            H.table(rows, ("transform", *cols))
            + f'<p class="meta">computed on: {H.esc(H.fmt(_get(run.config, "invariance_clips") or "some"))} '
              "held-out clips per transform</p>" + (INVARIANCE_COLUMNS if "backbone_raw" in cols else ""))
    # recomputed from the saved arrays: the same held-out windows, a check of the recorded figures
    model = m.get("model") if isinstance(m.get("model"), Mapping) else {}
    check = [(k, model.get(k), computed[k]) for k in computed if _num(computed.get(k)) and _num(model.get(k))]
    only_computed = {k: v for k, v in computed.items() if _num(v) and not _num(model.get(k))}
    body = ""
    if check:
        body += H.table([(k, _score(k, a), _score(k, b), "yes" if abs(a - b) < 1e-4 else "no") for k, a, b in check],
                        ("metric", "recorded", "recomputed from arrays", "same"))
    if only_computed:
        body += H.table([(k, _score(k, v)) for k, v in only_computed.items()], ("metric", "recomputed from arrays only"))
    if body:
        body += f'<p class="meta">computed on: the held-out windows saved in arrays.npz ({H.esc(where)})</p>'
    seg = computed.get("segmentation")
    if isinstance(seg, Mapping) and seg:
        names = [str(t.get("name") or t.get("track_id")) for t in run.timeline]
        body += H.table([(k, v) for k, v in seg.items() if _num(v)], ("metric", "timeline tracks only"))
        body += (f'<p class="meta">computed on: only the {count_of(len(names), "track")} drawn in the section '
                 f"timeline ({H.esc(', '.join(names))}), smoothed sections; not comparable with the figures on all "
                 "held-out tracks above</p>")
    add("Recomputed from arrays (a check of the recorded figures)", body)
    counts = {k: v for k, v in m.items() if _num(v)}
    counts.update({f"seconds.{k}": v for k, v in (m.get("seconds") or {}).items() if _num(v)})
    if counts:
        add("Counts and times", H.kv_table(counts) + '<p class="meta">sizes and wall-clock seconds; '
            "no better or worse</p>")
    return "".join(parts) or H.not_recorded("metrics")


def figure(img_html: str, caption: str) -> str:
    """An image with its caption (``<figure>``/``<figcaption>``).

    Parameters
    ----------
    img_html : str
        An ``<img>`` tag (:func:`workbench.report.html.img`).
    caption : str
        Plain text, escaped here.
    """
    return f'<figure class="wb-figure">{img_html}<figcaption>{H.esc(caption)}</figcaption></figure>'


def timeline_caption(timeline: Sequence[Mapping[str, Any]]) -> str:
    """The caption of the section timeline: which tracks it draws and what the rows are.

    Parameters
    ----------
    timeline : sequence of mapping
        ``timeline.json``.
    """
    from workbench.report.plots import TIMELINE_SHADING

    names = [str(t.get("name") or t.get("track_id")) for t in timeline[:4]]
    shaded = any(s.get("confidence") is not None for t in timeline[:4] for s in t.get("predicted") or [])
    return (f"Sections of {count_of(len(names), 'held-out track')} ({', '.join(names)}): the labelled truth above the model's "
            f"smoothed prediction{'; ' + TIMELINE_SHADING if shaded else ''}; the timeline shows a few tracks, the "
            "tables above use every held-out track.")
