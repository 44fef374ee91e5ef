"""The sections report's transfer, boundary and calibration parts.

Reads a sections run's ``metrics.json``: ``model``, ``model_smoothed``, ``baselines`` (in-domain
held-out tracks), ``transfer.leave_one_group_out`` (each crate or folder held out in turn:
``model``, ``model_smoothed``, ``baselines``, ``segments``, ``intro_outro_confusion``,
``per_group``, ``calibration``), ``transfer.external`` (other sets: a second generator),
``segments`` {smoothed, raw, novelty}, ``intro_outro_confusion``, ``calibration`` (temperature,
window ECE before and after, reliability bins; ``suggestions``: the smoothed suggestions' ECE as
stated and through the confidence map, with their bins) and ``rejections`` (rejected suggestions
trained as "not this label").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.report import html as H
from workbench.wording import groups_are, score_text

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


def _scope_rows(metrics: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], str]]:
    """(scope name, its block, what it is) for in-domain, held-out groups and each other set that was scored."""
    out: list[tuple[str, Mapping[str, Any], str]] = []
    if isinstance(metrics.get("model_smoothed"), Mapping):
        n = len(_get(metrics, "held_out", "track_hashes") or metrics.get("test_tracks") or [])
        out.append(("in-domain", {**metrics, "tracks": n or None}, "held-out tracks of the training crates"))
    loso = _get(metrics, "transfer", "leave_one_group_out")
    if isinstance(loso, Mapping) and "skipped" not in loso and loso.get("model_smoothed"):
        groups = loso.get("groups") or {}
        out.append(("cross-style", {**loso, "tracks": sum(int(v) for v in groups.values()) or None},
                    "each crate or folder held out in turn"))
    for name, e in (_get(metrics, "transfer", "external") or {}).items():
        if isinstance(e, Mapping) and "skipped" not in e:
            out.append((f"cross-generator: {name}", e, "another set, never trained on"))
    return out


def scopes_table(metrics: Mapping[str, Any]) -> str:
    """HTML: in-domain, cross-style and cross-generator figures side by side, each with its baselines.

    One row per scope the run recorded: the held-out tracks (in-domain), the held-out groups
    (``transfer.leave_one_group_out``: cross-style) and each other set (``transfer.external``:
    cross-generator), with the smoothed model's accuracy and macro F1 beside the majority-class
    and logistic-regression baselines on the same windows, and its boundaries beside the
    unsupervised novelty boundaries. Skipped scopes are listed under the table.

    Parameters
    ----------
    metrics : mapping
        A sections run's ``metrics.json``.
    """
    rows, cls = [], []
    for name, b, _ in _scope_rows(metrics):
        base, seg = b.get("baselines") or {}, b.get("segments") or {}
        acc = _get(b, "model_smoothed", "accuracy")
        best = max((v for v in (_get(base, "majority", "accuracy"), _get(base, "logreg", "accuracy"))
                    if isinstance(v, (int, float))), default=None)
        f3, n3 = _get(seg, "smoothed", "boundary_f_3s"), _get(seg, "novelty", "boundary_f_3s")
        rows.append((name, b.get("tracks"), acc, _get(base, "majority", "accuracy"), _get(base, "logreg", "accuracy"),
                     _get(b, "model_smoothed", "macro_f1"), _get(base, "logreg", "macro_f1"), f3, n3,
                     _get(seg, "smoothed", "boundary_f_0.5s"), _get(seg, "novelty", "boundary_f_0.5s"),
                     _get(b, "intro_outro_confusion", "model_smoothed")))
        below = ("fail" if isinstance(acc, (int, float)) and best is not None and acc < best else "")
        worse = ("fail" if isinstance(f3, (int, float)) and isinstance(n3, (int, float)) and f3 < n3 else "")
        cls.append(("", "", below, "", "", "", "", worse, "", "", "", ""))
    skipped = [f"{n}: {e['skipped']}" for n, e in (_get(metrics, "transfer", "external") or {}).items()
               if isinstance(e, Mapping) and "skipped" in e]
    loso = _get(metrics, "transfer", "leave_one_group_out")
    if isinstance(loso, Mapping) and "skipped" in loso:
        skipped.insert(0, f"cross-style: {loso['skipped']}")
    if not rows:
        return H.not_recorded("model_smoothed")
    out = H.table(rows, ("scope", "tracks", "accuracy (smoothed)", "majority", "logreg", "macro F1", "logreg macro F1",
                         "boundary F @3 s", "novelty F @3 s", "F @0.5 s", "novelty F @0.5 s", "intro/outro confusion"),
                  cls)
    groups = _get(metrics, "transfer", "leave_one_group_out", "groups")  # folders where the library has no crates
    kind = groups_are(groups) if groups else "crates or folders"
    one = {"folders": "folder", "crates": "crate"}.get(kind, "crate or folder")
    out += (f'<p class="meta">in-domain: held-out tracks of the {kind} trained on; cross-style: each {one} '
            "held out in turn, trained on the others; cross-generator: other sets scored by the final "
            "model. Baselines on the same windows: majority class and logistic regression (fitted on the same "
            "training tracks), novelty boundaries (no training). Red: below a baseline.")
    if not any(n.startswith("cross-generator") for n, _, _ in _scope_rows(metrics)):
        out += " No other set was scored in this run (no cross-generator figure)."
    out += "</p>"
    if skipped:
        out += f'<p class="na">not scored: {H.esc("; ".join(skipped))}</p>'
    return out


def rejections_part(metrics: Mapping[str, Any]) -> str:
    """HTML: how many rejected suggestions the training used (``metrics["rejections"]``).

    A rejected suggestion is never a positive for its label in its span, and its windows train
    as "not this label" (the complementary loss, weight ``not_weight``).

    Parameters
    ----------
    metrics : mapping
        A sections run's ``metrics.json``.
    """
    rej = metrics.get("rejections")
    if not isinstance(rej, Mapping):
        return H.not_recorded("rejections")
    names = {"spans": "rejected suggestions (spans)", "not_windows": "windows inside them",
             "not_windows_trained": "windows trained as \"not this label\"",
             "positives_dropped": "labelled windows no longer a positive of the rejected label",
             "unused": "rejections on tracks without labels (not used)", "not_weight": "weight of that loss"}
    out = H.kv_table({names.get(k, k): v for k, v in rej.items()})
    if not rej.get("spans"):
        out += '<p class="meta">no rejected suggestion in the labels: trained on accepted labels only.</p>'
    return out


#: A reliability curve is too few to read with fewer than this many independent items a non-empty bin on average.
FEW_PER_BIN: int = 5


def _count_said(ns: list[int]) -> str:
    lo, hi = min(ns), max(ns)
    return f"{lo:,}" if lo == hi else f"{lo:,} to {hi:,}"


def reliability_figure(bins: Mapping[str, Mapping[str, Any]], *, title: str = "Reliability on held-out windows",
                       xlabel: str = "confidence (arg-max probability)", unit: str = "windows",
                       drawn_from: Mapping[str, int] | None = None, drawn_unit: str = "suggestions") -> Figure:
    """Reliability diagram: accuracy against confidence per bin, one line per curve, the diagonal for reference.

    Each bin's marker area grows with its share of the curve's items (windows or suggestions), so
    a bin of a handful does not read like a trend; each bin's count is written beside it, and the title
    says how many items the curves were drawn from, and "too few to read" where a curve has fewer than
    :data:`FEW_PER_BIN` independent items a non-empty bin.

    Parameters
    ----------
    bins : mapping of str to mapping
        ``{name: reliability dict}`` (:func:`workbench.evaluate.calibration.reliability` or
        :func:`~workbench.evaluate.calibration.confidence_reliability`: ``confidence``,
        ``accuracy``, ``count``, ``ece``).
    title, xlabel : str
        The plot's title and x-axis label.
    unit : str
        What a bin's count counts (plural).
    drawn_from : mapping of str to int, optional
        ``{name: n}``: how many independent items (e.g. suggestions, whose windows are not independent) a
        curve's counts come from; None: the counts themselves are independent.
    drawn_unit : str
        What ``drawn_from`` counts (plural).
    """
    import numpy as np

    from workbench.report.plots import _figure

    fig, ax = _figure(5.0, 4.0 + 0.18 * ((len(bins) + 2) // 2))  # room for the legend below
    ax.plot([0, 1], [0, 1], color="#9ca3af", linestyle="--", linewidth=1, label="calibrated")
    totals, independent, few = [], [], False
    for name, rel in bins.items():
        counts = rel.get("count") or [1] * len(rel["confidence"])
        pts = [(c, a, n) for c, a, n in zip(rel["confidence"], rel["accuracy"], counts, strict=True) if c is not None]
        if pts:
            xs, ys, ns = zip(*pts, strict=True)
            line, = ax.plot(xs, ys, linewidth=1, label=f"{name} (ECE {score_text(rel['ece'])})")  # as the tables
            # marker area by the bin's share of the curve's items: a bin of two windows is not a trend
            share = np.asarray(ns, dtype=np.float64) / max(sum(ns), 1)
            ax.scatter(xs, ys, s=8 + 300 * share, color=line.get_color(), zorder=3)
            if rel.get("count"):  # each bin's count beside its marker
                for x, y, n in pts:
                    ax.annotate(f"{n:,}", (x, y), xytext=(4, -8), textcoords="offset points", fontsize=6,
                                color=line.get_color())
                totals.append(int(sum(ns)))
                n_drawn = (drawn_from or {}).get(name)
                if n_drawn is not None:
                    independent.append(int(n_drawn))
                few = few or (totals[-1] if n_drawn is None else int(n_drawn)) < FEW_PER_BIN * len(pts)
    ax.set_xlabel(f"{xlabel}\n(marker area: share of the items in the bin; number: its {unit})", fontsize=9)
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fig.legend(loc="outside lower center", ncols=2, fontsize=7)  # inside, it hid the bins it fell on
    if totals:
        said = f"{_count_said(totals)} {unit}" + (f" in {_count_said(independent)} {drawn_unit}" if independent else "")
        per = drawn_unit if independent else unit
        title += f"\n({said})" + (f"\ntoo few to read: under {FEW_PER_BIN} {per} a bin" if few else "")
    ax.set_title(title, fontsize=9 if totals else None)
    return fig


def calibration_table(metrics: Mapping[str, Any]) -> str:
    """HTML: window ECE (before and after the temperature) beside the suggestions' ECE, per scope.

    The window ECE scores the arg-max probability of each window; the suggestion ECE the
    confidence the labeler shows, that of the smoothed section holding each window, as stated
    and through the model's confidence map (Platt, fitted on held-out predictions).

    Parameters
    ----------
    metrics : mapping
        A sections run's ``metrics.json``.
    """
    rows = []
    for name, b, _ in _scope_rows(metrics):
        cal = b.get("calibration") or {}
        sug = cal.get("suggestions") or {}
        span = (sug.get("span") or {}).get("after") or {}
        ci = span.get("interval")
        n = H.number  # every ECE with 4 fixed decimals (.4g wrote 0.06685 beside 0.371 in one row)
        rows.append((name, n(cal.get("ece_before")), n(cal.get("ece_after")), n(sug.get("ece_before")),
                     n(sug.get("ece_after")), n(span.get("ece")), _interval_said(ci, span.get("n_tracks")),
                     n(span.get("floor")), n(span.get("floor_95")), n(span.get("n_suggestions"), count=True)))
    if not rows:
        return ""
    return (H.table(rows, ("scope", "window ECE, before", "window ECE, after temperature", "suggestion ECE, stated",
                           "suggestion ECE, confidence map", "per suggestion, served", "95 % interval",
                           "if calibrated", "calibrated, 95th percentile", "suggestions"))
            + '<p class="meta">ECE: 15 equal-width confidence bins, weighted by windows; target under 0.05. '
              "Per suggestion: each suggestion counted once, right when half its windows carry its label (as a "
              "labeler accepts it); interval: bootstrap over tracks; \"if calibrated\": the ECE a perfectly "
              "calibrated map would still show with this few suggestions (on average; one above its 95th percentile is "
              "miscalibration, not the count). "
              "Cross-style: temperature and map fitted on the other groups' held-out windows.</p>")


def _interval_said(interval: Sequence[float] | None, n_tracks: int | None) -> str | None:
    """The bootstrap interval over tracks as the calibration table writes it: ``"0.0510-0.4120"`` (4 decimals, as every
    score of the report); over one track a bootstrap has nothing to resample (it read "0.509-0.509", as if exact)."""
    if not interval:
        return None
    if n_tracks is not None and n_tracks < 2:
        return f"none ({n_tracks} track: nothing to resample)"
    return f"{interval[0]:.4f}-{interval[1]:.4f}"


def calibration_part(metrics: Mapping[str, Any], figure: FigureFn) -> str:
    """HTML: the temperature, window and suggestion ECE per scope, and the reliability diagrams.

    Parameters
    ----------
    metrics : mapping
        A sections run's ``metrics.json``.
    figure : callable(name, Figure, alt) -> str
        Keeps a figure as a PNG and returns its ``<img>``.
    """
    cal = metrics.get("calibration") or {}
    out = calibration_table(metrics)
    if cal.get("temperature") is None:
        out = H.not_recorded(f"temperature ({cal.get('fitted_on', 'no temperature')})") + out
    else:
        kv = {"temperature": cal["temperature"], "fitted on": cal.get("fitted_on"),
              "confidence map fitted on": _get(cal, "suggestions", "fitted_on")}
        if cal.get("temperature_fitted") is not None:
            kv["temperature fitted, not kept"] = cal["temperature_fitted"]
        if _get(cal, "suggestions", "map_dropped"):
            kv["confidence map"] = _get(cal, "suggestions", "map_dropped")
        domain = _get(cal, "suggestions", "domain") or {}  # config confidence_map_domain
        if domain.get("skipped"):
            kv["tracks unlike the labelled ones"] = f"no domain map: {domain['skipped']}"
        elif domain.get("limit") is not None:
            kv["tracks unlike the labelled ones"] = domain.get("dropped") or (
                f"beyond distance {domain['limit']:.2f}: served the folds' share right {domain['share_right']:.2f} "
                f"({domain['fitted_on']})")
        out = H.kv_table(kv) + out
    if cal.get("uncertain_rule"):  # what "uncertain" means where the suggestions are shown
        out += f'<p class="meta">In the labeler and <code>workbench suggest</code>, {H.esc(cal["uncertain_rule"])}.</p>'
    if cal.get("reliability_before") and cal.get("reliability_after"):
        out += figure("reliability", reliability_figure({"before": cal["reliability_before"],
                                                         "after temperature": cal["reliability_after"]}),
                      "reliability diagram of the held-out windows before and after temperature scaling")
    curves, scopes, drawn = {}, [], {}
    for name, b, _ in _scope_rows(metrics):
        sug = _get(b, "calibration", "suggestions") or {}
        for key, how in (("reliability_before", "stated"), ("reliability_after", "map")):
            if isinstance(sug.get(key), Mapping):
                curves[f"{name}, {how}"] = sug[key]
                scopes += [name] if name not in scopes else []
                drawn[f"{name}, {how}"] = (sug.get("span") or {}).get("n_suggestions")  # its windows' suggestions
    if curves:  # the caption names the scopes drawn (a run without a cross-generator set draws none)
        out += figure("reliability_suggestions",
                      reliability_figure(curves, title="Reliability of the suggestions' confidence",
                                         xlabel="confidence of the smoothed suggestion", drawn_from=drawn),
                      f"reliability diagram of the suggestions' confidence ({', '.join(scopes)})")
    return out


def families_part(metrics: Mapping[str, Any]) -> str:
    """HTML: the label families each track was decoded in (``label_families="learned"``), or nothing.

    Parameters
    ----------
    metrics : mapping
        A sections run's ``metrics.json`` (``label_families``: ``families`` {name: labels, tracks, prior},
        ``held_out`` {track id: family}; ``transfer.*.label_families`` {track id: family}).
    """
    from collections import Counter

    fam = metrics.get("label_families")
    if not isinstance(fam, Mapping):
        return ""
    learned = "; ".join(f"{n} ({H.fmt(f.get('tracks'))} tracks)" for n, f in (fam.get("families") or {}).items())
    scopes = [("in-domain", fam.get("held_out")), ("cross-style", _get(metrics, "transfer", "leave_one_group_out",
                                                                        "label_families"))]
    scopes += [(f"cross-generator: {n}", _get(e, "label_families"))
               for n, e in (_get(metrics, "transfer", "external") or {}).items()]
    said = [f"{s}: " + ", ".join(f"{k} {v}" for k, v in Counter(d.values()).most_common())
            for s, d in scopes if isinstance(d, Mapping) and d]
    return (f'<p class="meta">label families learned from the training tracks: {H.esc(learned)}. Each track is '
            f'decoded in the family whose best path scores highest; tracks per family: {H.esc("; ".join(said))}</p>')


def sections_part(metrics: Mapping[str, Any], figure: FigureFn) -> str:
    """HTML of the sections-only parts: scopes, held-out groups, calibration, rejections.

    Parameters
    ----------
    metrics : mapping
        A sections run's ``metrics.json``.
    figure : callable(name, Figure, alt) -> str
        Keeps a figure as a PNG and returns its ``<img>``.
    """
    feats = metrics.get("feature_groups")
    head = (f'<p class="meta">feature groups: {H.esc(", ".join(feats))}</p>' if feats else "") + families_part(metrics)
    return (head + "<h3>In-domain, cross-style and cross-generator, with baselines</h3>" + scopes_table(metrics)
            + "<h3>Each held-out group (crate or folder) on its own</h3>" + transfer_table(metrics)
            + "<h3>Calibration</h3>" + calibration_part(metrics, figure)
            + "<h3>Rejected suggestions used in training</h3>" + rejections_part(metrics))
