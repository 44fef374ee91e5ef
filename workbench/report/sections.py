"""The sections report's transfer, boundary and calibration parts.

Reads a sections run's ``metrics.json``: ``model``, ``model_smoothed``, ``baselines`` (in-domain
held-out tracks), ``transfer.leave_one_group_out`` (each crate or folder held out in turn:
``model``, ``model_smoothed``, ``baselines``, ``segments``, ``intro_outro_confusion``,
``per_group``, ``calibration``), ``segments`` {smoothed, raw, novelty} and ``calibration``
(temperature, ECE before and after, reliability bins).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from workbench.report import html as H

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

FigureFn = Callable[[str, "Figure", str], str]


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def transfer_table(metrics: Mapping[str, Any]) -> str:
    """HTML: the held-out groups one at a time (tracks, accuracy, boundary F, temperature) and the intro/outro confusion.

    The model and baselines on held-out groups are in the report's headline and grouped tables
    (:mod:`workbench.report.overview`); this part adds what only the leave-one-group-out block has.

    Parameters
    ----------
    metrics : mapping
        A sections run's ``metrics.json``.
    """
    loso = _get(metrics, "transfer", "leave_one_group_out")
    if not loso:
        return H.not_recorded("transfer.leave_one_group_out (turned off)")
    if "skipped" in loso:
        return f'<p class="na">no held-out-group score: {H.esc(loso["skipped"])}</p>'
    io = loso.get("intro_outro_confusion") or {}
    out = (f'<p class="meta">groups held out in turn: {H.esc(", ".join(f"{g} ({n})" for g, n in loso["groups"].items()))}'
           f'. Intro/outro confusion on held-out groups (share of intro and outro windows called the other): '
           + ", ".join(f"{H.esc(k)} {H.fmt(v)}" for k, v in io.items()) + "</p>")
    per = loso.get("per_group") or {}
    if per:
        out += H.table([(g, r.get("tracks"), r.get("accuracy"), r.get("smoothed_accuracy"), r.get("boundary_f_3s"),
                         r.get("temperature")) for g, r in per.items()],
                       ("held-out group", "tracks", "accuracy", "smoothed accuracy", "boundary F @3 s", "temperature"))
    return out


def external_table(metrics: Mapping[str, Any]) -> str:
    """HTML: the model and its baselines on other sets (``transfer.external``: a second generator), or "".

    Parameters
    ----------
    metrics : mapping
        A sections run's ``metrics.json``.
    """
    ext = _get(metrics, "transfer", "external") or {}
    if not ext:
        return ""
    rows = []
    for name, e in ext.items():
        if "skipped" in e:
            rows.append((name, e["skipped"], None, None, None, None, None))
            continue
        seg, base = e.get("segments") or {}, e.get("baselines") or {}
        rows.append((f"{name}: model, smoothed ({e.get('tracks')} tracks)", _get(e, "model_smoothed", "accuracy"),
                     _get(e, "model_smoothed", "macro_f1"), _get(seg, "smoothed", "boundary_f_3s"),
                     _get(seg, "smoothed", "boundary_f_0.5s"), _get(e, "intro_outro_confusion", "model_smoothed"),
                     _get(e, "calibration", "ece_after")))
        for b in ("majority", "logreg", "novelty"):
            nov = b == "novelty"
            rows.append((f"{name}: baseline {b}", _get(base, b, "accuracy"), _get(base, b, "macro_f1"),
                         _get(seg, "novelty", "boundary_f_3s") if nov else None,
                         _get(seg, "novelty", "boundary_f_0.5s") if nov else None, None, None))
    return ("<h3>Other sets (cross-generator), with baselines</h3>"
            + H.table(rows, ("", "accuracy", "macro F1", "boundary F @3 s", "F @0.5 s", "intro/outro confusion",
                             "ECE")))


def reliability_figure(bins: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Reliability diagram: accuracy against confidence per bin, one line per curve, the diagonal for reference.

    Parameters
    ----------
    bins : mapping of str to mapping
        ``{name: reliability dict}`` (:func:`workbench.evaluate.calibration.reliability`:
        ``confidence``, ``accuracy``, ``count``, ``ece``).
    """
    from workbench.report.plots import _figure

    fig, ax = _figure(5.0, 4.0)
    ax.plot([0, 1], [0, 1], color="#9ca3af", linestyle="--", linewidth=1, label="calibrated")
    for name, rel in bins.items():
        pts = [(c, a) for c, a in zip(rel["confidence"], rel["accuracy"], strict=True) if c is not None]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o", label=f"{name} (ECE {rel['ece']:.3f})")
    ax.set_xlabel("confidence (arg-max probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Reliability on held-out windows")
    return fig


def calibration_part(metrics: Mapping[str, Any], figure: FigureFn) -> str:
    """HTML: the temperature, ECE before and after on the held-out tracks and groups, and the reliability diagram.

    Parameters
    ----------
    metrics : mapping
        A sections run's ``metrics.json``.
    figure : callable(name, Figure, alt) -> str
        Keeps a figure as a PNG and returns its ``<img>``.
    """
    cal = metrics.get("calibration") or {}
    if cal.get("temperature") is None:
        return H.not_recorded(f"calibration ({cal.get('fitted_on', 'no temperature')})")
    lo_cal = _get(metrics, "transfer", "leave_one_group_out", "calibration") or {}
    out = H.kv_table({"temperature": cal["temperature"], "fitted on": cal.get("fitted_on"),
                      "ECE (15 bins) in-domain, before": cal.get("ece_before"),
                      "ECE in-domain, after": cal.get("ece_after"),
                      "ECE held-out groups, before": lo_cal.get("ece_before"),
                      "ECE held-out groups, after": lo_cal.get("ece_after")})
    if cal.get("reliability_before") and cal.get("reliability_after"):
        out += figure("reliability", reliability_figure({"before": cal["reliability_before"],
                                                         "after temperature": cal["reliability_after"]}),
                      "reliability diagram before and after temperature scaling")
    return out


def sections_part(metrics: Mapping[str, Any], figure: FigureFn) -> str:
    """HTML of the sections-only parts: transfer table, then calibration.

    Parameters
    ----------
    metrics : mapping
        A sections run's ``metrics.json``.
    figure : callable(name, Figure, alt) -> str
        Keeps a figure as a PNG and returns its ``<img>``.
    """
    feats = metrics.get("feature_groups")
    head = (f'<p class="meta">feature groups: {H.esc(", ".join(feats))}</p>' if feats else "")
    return (head + "<h3>Each held-out group (crate or folder) on its own</h3>" + transfer_table(metrics)
            + external_table(metrics) + "<h3>Calibration</h3>" + calibration_part(metrics, figure))
