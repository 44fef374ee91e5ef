"""The report's "Model vs baselines" part: the model next to each baseline on the same held-out data.

Reads ``metrics["model"]``, ``metrics["baselines"]`` ({name: the same keys}), for a sections
run the per-class F1 (``per_class[label]["f1"]``), ``metrics["early_stopping"]``, ``metrics["pretrain"]`` (the
``random_head`` column is then the pretrained head) and
``metrics["warnings"]`` (shown first, as warnings). "Best" is marked only on metrics with a known
direction (:func:`workbench.experiments_compare.metric_direction`), never on counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.experiments_compare import metric_direction
from workbench.report import html as H
from workbench.wording import count_of

#: Headline keys shown first when the model and a baseline both have them.
HEADLINE_KEYS: tuple[str, ...] = ("accuracy", "macro_f1", "map_at_r", "precision_at_1", "precision_at_5")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: object) -> object:
    """A score as the report writes one (:func:`workbench.report.html.number`: 4 fixed decimals, a count whole)."""
    return H.number(value) if value is None or _number(value) else value


def comparison(metrics: Mapping[str, Any]) -> str:
    """HTML: warnings, the headline metrics and the per-class F1 of the model and every baseline.

    Parameters
    ----------
    metrics : mapping
        A run's ``metrics.json``: ``model``, ``baselines`` {name: metrics}, and optionally
        ``warnings``, ``held_out`` and ``early_stopping``.

    Returns
    -------
    str
        HTML; "not recorded" in place of the tables when ``model`` or ``baselines`` is missing.
    """
    parts: list[str] = []
    for text in metrics.get("warnings") or []:
        parts.append(f'<p class="fail">warning: {H.esc(text)}</p>')
    model = metrics.get("model")
    baselines = metrics.get("baselines")
    if not isinstance(model, Mapping) or not isinstance(baselines, Mapping) or not baselines:
        return "".join(parts) + H.not_recorded("metrics.json model and baselines")
    names = ["model", *baselines]
    columns = {"model": model, **{n: b for n, b in baselines.items() if isinstance(b, Mapping)}}
    keys = [k for k in HEADLINE_KEYS if _number(model.get(k))]
    keys += [k for k, v in model.items() if _number(v) and k not in keys
             and any(_number(c.get(k)) for n, c in columns.items() if n != "model")]
    rows, cls = [], []
    for k in keys:
        values = [columns[n].get(k) if _number(columns[n].get(k)) else None for n in names]
        direction = metric_direction(k)  # counts (n_queries) and unknown metrics get no "best"
        present = [v for v in values if v is not None]
        best = (None if direction is None or len(set(present)) < 2
                else (min if direction == "lower" else max)(present))
        rows.append((k, *[_cell(v) for v in values]))  # 4 fixed decimals: .4g wrote novelty 1.0 as "1", 0.3950 "0.395"
        cls.append(("", *["best" if v is not None and v == best else "" for v in values]))
    parts.append(H.table(rows, ("metric", *names), cls))
    per_class = model.get("per_class")
    if isinstance(per_class, Mapping) and per_class and all(isinstance(v, Mapping) and "f1" in v
                                                            for v in per_class.values()):
        rows, cls = [], []
        for label, row in per_class.items():
            values = [((columns[n].get("per_class") or {}).get(label) or {}).get("f1") for n in names]
            best = max((float(v) for v in values if isinstance(v, (int, float))), default=None)
            rows.append((label, row.get("support"), *[_cell(v) if _number(v) else v for v in values]))
            cls.append(("", "", *["best" if v is not None and v == best else "" for v in values]))
        parts.append('<p class="meta">F1 per class on the held-out windows (support: windows)</p>')
        parts.append(H.table(rows, ("class", "support", *names), cls))
    pre = metrics.get("pretrain")
    if isinstance(pre, Mapping) and "epochs" in pre and "random_head" in names:  # pretrain_epochs: not random
        parts.append(f'<p class="meta">random_head: the head after the label-free first stage (pretrain_epochs '
                     f'{H.esc(H.fmt(pre.get("epochs")))}, {H.esc(str(pre.get("loss")))}, '
                     f'{count_of(int(pre.get("tracks") or 0), "track")}), before any label; not a random head</p>')
    held = (metrics.get("held_out") or {}).get("track_hashes")
    if held:
        parts.append(f'<p class="meta">same held-out data for every column: {count_of(len(held), "track")}</p>')
    es = metrics.get("early_stopping")
    if isinstance(es, Mapping) and es.get("used"):
        by = " (highest validation macro F1)" if es.get("checkpoint_on") == "macro_f1" else ""
        parts.append(f'<p class="meta">early stopping on {H.esc(H.fmt(es.get("n_val_windows")))} validation '
                     f'windows of {count_of(len(es.get("val_groups") or []), "training track")}: best epoch '
                     f'{H.esc(H.fmt(es.get("best_epoch")))}{by} of {H.esc(H.fmt(es.get("epochs_run")))} run '
                     f'(at most {H.esc(H.fmt(es.get("max_epochs")))}, patience {H.esc(H.fmt(es.get("patience")))}); '
                     "its weights are the model's</p>")
    elif isinstance(es, Mapping) and es.get("rule") == "folds":  # an embeddings run (its warning above says why)
        best = [r.get("best_epoch") for r in es.get("folds") or []]
        parts.append(f'<p class="meta">early stopping tuned on fold heads: the head trains '
                     f'{H.esc(H.fmt(es.get("epochs")))} epochs, the median best epoch of {count_of(len(best), "fold head")} '
                     f'{H.esc(str(best))} (see the warning above)</p>')
    elif isinstance(es, Mapping) and es.get("rule") == "validation":  # an embeddings run
        parts.append(f'<p class="meta">{H.esc(es.get("said") or "early stopping on the validation slice")}</p>')
    elif isinstance(es, Mapping):
        parts.append(f'<p class="meta">no early stopping ({H.esc(es.get("reason", "not used"))})</p>')
    return "".join(parts)
