"""The report's figures (matplotlib, Agg): each function takes plain data and returns a Figure.

Import only on use (matplotlib is heavy); :func:`png_bytes` renders a figure and closes it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_LOWER_IS_BETTER = ("loss", "error", "seconds")


def _figure(width_in: float = 7.0, height_in: float = 3.6, **kw: Any) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    ax = fig.subplots(**kw)
    return fig, ax


def class_colors(names: Sequence[str]) -> dict[str, str]:
    """A colour per class: the DJ label colours where the name is a label, else the tab10 cycle.

    Parameters
    ----------
    names : sequence of str
        Class names, in the order the tab10 colours are given out.

    Returns
    -------
    dict of str to str
        Name -> hex colour (``"#1f77b4"``).
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    from workbench.labels import LABEL_COLORS

    cmap = colormaps["tab10"]
    out, i = {}, 0
    for n in names:
        if n in LABEL_COLORS:
            out[n] = LABEL_COLORS[n]
        else:
            out[n] = to_hex(cmap(i % 10))
            i += 1
    return out


def png_bytes(fig: Figure, *, dpi: int = 110) -> bytes:
    """The figure as PNG bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int > 0
        Dots per inch.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


#: ``history.json`` quantities that measure the machine, not the model: no panel of their own by default
#: (``batch_rows``: the rows a loss without a miner saw in an epoch, fixed by the sampler).
THROUGHPUT_KEYS: tuple[str, ...] = ("epoch", "seconds", "samples", "samples_per_s", "batch_rows")


def curves_figure(histories: Mapping[str, Sequence[Mapping[str, Any]]], *, keys: Sequence[str] | None = None,
                  kept: Mapping[str, int | None] | None = None) -> Figure:
    """Training curves: one panel per tracked quantity, one line per run (``{run: history}``).

    Parameters
    ----------
    histories : mapping of str to sequence of mappings
        Run name -> its ``history.json`` rows (``epoch`` plus numeric quantities).
    keys : sequence of str or None
        The quantities to draw, one panel each; None draws every numeric one but
        :data:`THROUGHPUT_KEYS` (epoch, seconds, samples, samples per second) and those never finite
        (``val_map_at_r`` NaN on every epoch when each track is its own class).
    kept : mapping of str to int or None
        Run name -> the epoch whose weights it kept (:attr:`workbench.runs.Run.kept_epoch`): a dashed
        line at that epoch in every panel, named in the legend.
    """
    if keys is None:
        seen: list[str] = []
        for hist in histories.values():
            for row in hist:
                for k, v in row.items():
                    if k not in THROUGHPUT_KEYS and k not in seen and isinstance(v, (int, float)) \
                            and not isinstance(v, bool) and np.isfinite(v):  # a quantity never measured: no panel
                        seen.append(k)
        keys = seen
    from matplotlib.ticker import MaxNLocator

    keys = list(keys) or ["train_loss"]
    ncols = min(3, len(keys))
    nrows = -(-len(keys) // ncols)
    fig, axes = _figure(3.4 * ncols, 2.7 * nrows, nrows=nrows, ncols=ncols, squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        for name, hist in histories.items():
            # an epoch that recorded the key as None (e.g. no triplet mined: no loss) is a gap in the line, never a 0
            pts = [(row.get("epoch", i + 1), np.nan if row.get(key) is None else row[key]) for i, row in enumerate(hist)
                   if key in row and (row[key] is None or isinstance(row[key], (int, float)))]
            if any(np.isfinite(y) for _, y in pts):
                x, y = zip(*pts, strict=True)
                line, = ax.plot(x, y, marker="o", markersize=3, label=name if len(histories) > 1 else None)
                gaps = [e for e, v in pts if not np.isfinite(v)]
                if gaps:  # where they are, at the panel's foot, named in the legend
                    ax.plot(gaps, [0.0] * len(gaps), linestyle="none", marker="x", color=line.get_color(),
                            transform=ax.get_xaxis_transform(), clip_on=False,
                            label=f"no value: {_gap_reason(hist, key)}" + (f" ({name})" if len(histories) > 1 else ""))
                epoch = (kept or {}).get(name)
                if isinstance(epoch, int):
                    ax.axvline(epoch, color=line.get_color(), linestyle="--", linewidth=1,
                               label=f"kept: epoch {epoch}" + (f" ({name})" if len(histories) > 1 else ""))
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs 1, 2, 3: no 1.5
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in list(axes.flat)[1:]:  # a gap's marker is in its own panel: named once in the legend too
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label.startswith("no value") and label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(labels)), fontsize=8)
    return fig


def _gap_reason(history: Sequence[Mapping[str, Any]], key: str) -> str:
    """Why ``history`` has epochs without ``key``: no triplet mined (a loss not taken), else not measured."""
    if key.endswith("loss") and any(row.get(key) is None and row.get("mined_triplets") == 0 for row in history):
        return "no triplet mined"
    return "not measured"


def confusion_figure(confusion: Sequence[Sequence[float]] | np.ndarray, classes: Sequence[str], *,
                     title: str = "Confusion matrix (rows: truth; numbers: counts)",
                     delta: bool = False) -> Figure:
    """Row-normalised confusion matrix with counts (or a signed difference when ``delta``).

    Parameters
    ----------
    confusion : array-like [shape=(n_classes, n_classes)]
        Counts, rows the truth and columns the prediction; with ``delta``, signed rates (-1..1).
    classes : sequence of str [length n_classes]
    title : str
    delta : bool
        Draw ``confusion`` as a signed difference (red-blue, values printed) instead of counts.
    """
    cm = np.asarray(confusion, dtype=float)
    n = len(classes)
    fig, ax = _figure(1.0 + 0.75 * n + 1.5, 1.0 + 0.65 * n + 0.6)
    if delta:
        rates = cm
        lim = max(float(np.abs(cm).max()), 1e-9)
        im = ax.imshow(rates, cmap="RdBu", vmin=-lim, vmax=lim)
    else:
        rows = cm.sum(axis=1, keepdims=True)
        rates = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
        im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            text = f"{rates[i, j]:+.2f}" if delta else f"{int(cm[i, j])}"
            dark = abs(rates[i, j]) > 0.55 * (max(float(np.abs(rates).max()), 1e-9) if delta else 1.0)
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set_xlabel("predicted", fontsize=9)
    ax.set_ylabel("truth", fontsize=9)
    ax.set_title(title, fontsize=10)
    bar = fig.colorbar(im, ax=ax, shrink=0.8)  # the numbers are counts: say what the colour is
    bar.set_label("difference in share of the row" if delta else "share of the truth row", fontsize=8)
    return fig


def per_class_figure(per_class: Mapping[str, Mapping[str, float]], *, keys: Sequence[str] | None = None,
                     title: str = "Per-class scores",
                     baselines: Mapping[str, Mapping[str, float]] | None = None) -> Figure:
    """Grouped bars: for each class, one bar per score (``keys``, default every float score), each labelled with its value.

    Parameters
    ----------
    per_class : mapping of str to mapping of str to float
        Class -> scores (``precision``, ``recall``, ``f1``, 0..1) and optionally ``support`` or ``n``.
    keys : sequence of str or None
        The scores to draw; None draws every float score of the first class.
    title : str
    baselines : mapping of str to mapping of str to float, or None
        Baseline name -> class -> its score on the same windows (the last key's: the F1 of ``precision, recall,
        f1``), each drawn as its own marker in a strip right of the class's bars, one place per baseline, so
        baselines of about the same score stand side by side instead of on top of each other.
    """
    names = list(per_class)
    if keys is None:
        keys = [k for k, v in next(iter(per_class.values())).items()
                if isinstance(v, float) and k not in ("support", "n")]
    n_base = len(baselines or {})
    # each class's group spans 0.8 of a unit: its bars on the left, a strip of one place per baseline on the right
    strip = min(0.32, 0.08 * n_base)
    fig, ax = _figure(max(5.0, (0.9 + 0.15 * n_base) * len(names) + 2.0), 3.4)
    width = (0.8 - strip) / max(len(keys), 1)
    x = np.arange(len(names))
    bars_mid = x - strip / 2
    for i, key in enumerate(keys):
        vals = [float(per_class[n].get(key, np.nan)) for n in names]
        at = bars_mid + (i - (len(keys) - 1) / 2) * width
        ax.bar(at, vals, width, label=key)
        # every bar says its value: a score of 0 draws no bar and would read as a class left out. Upright, each
        # label keeps within its own bar's width: side by side, three 0 bars' "0.00"s ran into one another
        for xi, v in zip(at, vals, strict=True):
            ax.text(xi, (0.0 if np.isnan(v) else v) + 0.015, "n/a" if np.isnan(v) else f"{v:.4f}", ha="center",
                    va="bottom", fontsize=6, rotation=90)
    markers = "_xd^v<>"
    for i, (name, scores) in enumerate((baselines or {}).items()):
        vals = [scores.get(n, np.nan) for n in names]
        # its own place in the strip right of the bars: clear of the bars' upright value labels (a 0 baseline sat
        # on one) and of the other baselines (four of about the same F1 at one x were one black blot)
        ax.scatter(x + 0.4 - strip + (i + 0.5) * strip / n_base, [np.nan if v is None else float(v) for v in vals],
                   s=40, zorder=3, color="black", marker=markers[i % len(markers)], label=f"{name} ({keys[-1]})",
                   clip_on=False)  # drawn whole: a majority F1 of 0 cut at the axis read as a triangle, another marker
    support = [per_class[n].get("support", per_class[n].get("n")) for n in names]
    labels = [f"{n}\n(n={s})" if s is not None else n for n, s in zip(names, support, strict=True)]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 1.2)  # room above a bar of 1.00 for its upright label (4 decimals: "1.0000")
    ax.set_ylabel("score", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return fig


PROJECTIONS = ("pca", "tsne")


def projection(embeddings: np.ndarray, *, seed: int = 0, method: str = "pca") -> tuple[np.ndarray, str]:
    """2-D coordinates of the (normalised) rows and the method's display name.

    ``method`` is "pca" (fast, default) or "tsne" (slower: about a minute for 500 points on a
    busy 2-core machine).

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
        One row per item; rows are L2-normalised first (zero rows left as they are).
    seed : int
        ``random_state`` of the PCA or t-SNE.
    method : {"pca", "tsne"}
        t-SNE needs at least 5 rows (fewer fall back to PCA).

    Returns
    -------
    xy : np.ndarray [shape=(n, 2)]
    name : str
        ``"PCA"`` or ``"t-SNE"``.

    Raises
    ------
    ParameterError
        ``method`` is not one of :data:`PROJECTIONS`.
    """
    from sklearn.decomposition import PCA

    from workbench.errors import ParameterError

    if method not in PROJECTIONS:
        raise ParameterError(f"projection method must be one of {PROJECTIONS}; got {method!r}")

    x = np.asarray(embeddings, dtype=np.float64)
    x = x / np.where(np.linalg.norm(x, axis=1, keepdims=True) > 0, np.linalg.norm(x, axis=1, keepdims=True), 1.0)
    n = x.shape[0]
    if method == "tsne" and n >= 5:
        from sklearn.manifold import TSNE

        xy = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed,
                  metric="cosine").fit_transform(x)
        return xy, "t-SNE"
    else:
        xy = PCA(n_components=2, random_state=seed).fit_transform(x) if x.shape[1] >= 2 else np.c_[x, np.zeros(n)]
    return xy, "PCA"


def projection_figure(embeddings: np.ndarray, labels: Sequence[str] | np.ndarray, *, seed: int = 0,
                      title: str = "Embedding space", method: str = "pca") -> Figure:
    """Scatter of a 2-D projection of the embeddings (see :func:`projection`), coloured by class.

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
    labels : sequence of str or np.ndarray [shape=(n,)]
        The class of each row (colours and legend counts).
    seed : int
        As in :func:`projection`.
    title : str
    method : {"pca", "tsne"}
        As in :func:`projection`.
    """
    xy, method = projection(embeddings, seed=seed, method=method)
    lab = np.asarray([str(x) for x in labels])
    names = list(dict.fromkeys(sorted(lab.tolist())))
    colors = class_colors(names)
    fig, ax = _figure(6.4, 4.6)
    for n in names:
        m = lab == n
        ax.scatter(xy[m, 0], xy[m, 1], s=14, alpha=0.8, color=colors[n], label=f"{n} ({int(m.sum())})",
                   edgecolors="none")
    ax.set_title(f"{title} ({method} of {len(lab)} held-out items, cosine)", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return fig


def invariance_figure(invariance: Mapping[str, Mapping[str, float]]) -> Figure:
    """Bars of mean cosine similarity per augmentation, the y-axis scaled to the data.

    The cosines sit within a few hundredths of 1, so an axis from 0 hides every difference: the
    axis spans the values (and the gate lines), and says it does not start at 0.

    Parameters
    ----------
    invariance : mapping of str to mapping of str to float
        Either the gate layout, transform -> ``{"model", "backbone"[, "backbone_raw"]}`` (the
        run's ``metrics["invariance"]``): model and backbone bars side by side per transform and
        the gate (the backbone's cosine minus
        :data:`~workbench.evaluate.invariance.INVARIANCE_TOLERANCE`, the model must reach it) as a
        dashed line over each pair; or augmentation -> {strength: mean cosine to the original}
        (pitch strengths in semitones, gain in dB, stretch a rate).
    """
    from workbench.evaluate.invariance import INVARIANCE_TOLERANCE

    units = {"pitch": " st", "gain": " dB", "stretch": "x"}
    gated = bool(invariance) and all(isinstance(v, Mapping) and "model" in v and "backbone" in v
                                     for v in invariance.values())
    series = ("model", "backbone", "backbone_raw") if gated else ()
    names = {"model": "model", "backbone": "backbone (z-scored, the gate's reference)", "backbone_raw": "backbone raw"}
    series_colors = {"model": "#2563eb", "backbone": "#9ca3af", "backbone_raw": "#e5e7eb"}
    palette = ["#2563eb", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444"]
    labels, vals, colors, xs, gates = [], [], [], [], []
    x = 0.0
    for i, (aug, by_strength) in enumerate(invariance.items()):
        if gated:
            keys = [k for k in series if k in by_strength]
            labels.append((x + (len(keys) - 1) / 2 * 0.8, str(aug)))
            for k in keys:
                xs.append(x)
                vals.append(float(by_strength[k]))
                colors.append(series_colors[k])
                x += 0.8
            gates.append((xs[-len(keys)] - 0.4, xs[-1] + 0.4, float(by_strength["backbone"]) - INVARIANCE_TOLERANCE))
            x += 0.6
        else:
            for s, v in by_strength.items():
                labels.append((x, f"{aug}\n{s}{units.get(aug, '')}"))
                xs.append(x)
                vals.append(float(v))
                colors.append(palette[i % len(palette)])
                x += 1.0
    fig, ax = _figure(max(5.0, 0.45 * len(vals) + 2.0), 3.4)
    lo = min(vals + [g[2] for g in gates], default=0.0)
    hi = max(vals, default=1.0)
    pad = max(0.01, 0.12 * (hi - lo))
    bottom = lo - pad
    bars = ax.bar(xs, [v - bottom for v in vals], bottom=bottom, width=0.75, color=colors, edgecolor="#4b5563",
                  linewidth=0.4)
    for b, v in zip(bars, vals, strict=True):
        ax.text(b.get_x() + b.get_width() / 2, v + pad * 0.08, f"{v:.3f}", ha="center", va="bottom", fontsize=6.5)
    for x0, x1, target in gates:
        ax.hlines(target, x0, x1, colors="#b91c1c", linestyles="--", linewidth=1.2)
    ax.set_xticks([p for p, _ in labels], [t for _, t in labels], fontsize=8)
    ax.set_ylim(bottom, hi + 1.6 * pad)
    ax.set_ylabel("mean cosine to original\n(axis not from 0)", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    if gated:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=series_colors[k], edgecolor="#4b5563", label=names[k]) for k in series
                   if any(k in v for v in invariance.values())]
        handles.append(Line2D([], [], color="#b91c1c", linestyle="--",
                              label=f"gate: model >= backbone - {INVARIANCE_TOLERANCE:g}"))
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.set_title("Invariance to augmentations: the model's cosine to its own transformed copy", fontsize=10)
    else:
        ax.set_title("Invariance to augmentations (1 = unchanged)", fontsize=10)
    return fig


#: What the paler predicted sections of :func:`timeline_figure` mean (its legend and the report's caption).
TIMELINE_SHADING = "a predicted section is paler where the model is less sure of it (its confidence)"


def timeline_figure(timeline: Sequence[Mapping[str, Any]], *, max_tracks: int = 4) -> Figure:
    """For each track, the true sections above the predicted ones, in label colours.

    Parameters
    ----------
    timeline : sequence of mappings
        Per track: ``name`` (or ``track_id``), ``duration_s`` (seconds, optional), ``truth`` and
        ``predicted`` sections ``{label, start_s, end_s, confidence}`` (times in seconds; confidence
        0..1, optional).
    max_tracks : int > 0
        Only the first ``max_tracks`` tracks are drawn.
    """
    from matplotlib.patches import Patch

    from workbench.evaluate import song_order
    from workbench.labels import LABEL_COLORS

    tracks = list(timeline)[:max_tracks]
    shaded = any(s.get("confidence") is not None for t in tracks for s in t.get("predicted") or [])
    fig, axes = _figure(9.0, 0.3 + 0.2 * shaded + 1.05 * len(tracks), nrows=len(tracks), ncols=1, squeeze=False)
    used: set[str] = set()
    for ax, t in zip(axes[:, 0], tracks, strict=True):
        for row, key in ((1, "truth"), (0, "predicted")):
            for s in t.get(key) or []:
                label = str(s["label"])
                used.add(label)
                alpha = 0.5 + 0.5 * float(s["confidence"]) if s.get("confidence") is not None else 1.0
                ax.barh(row, float(s["end_s"]) - float(s["start_s"]), left=float(s["start_s"]), height=0.8,
                        color=LABEL_COLORS.get(label, "#9ca3af"), alpha=alpha, edgecolor="white", linewidth=0.8)
        ax.set_yticks([0, 1], ["predicted", "truth"], fontsize=8)
        end = t.get("duration_s") or max([float(s["end_s"]) for k in ("truth", "predicted")
                                           for s in (t.get(k) or [])] or [1.0])
        ax.set_xlim(0, float(end))
        ax.set_ylim(-0.5, 1.5)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(str(t.get("name") or t.get("track_id", "")), fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (s)", fontsize=8)
    order = song_order(sorted(used))
    fig.legend(handles=[Patch(color=LABEL_COLORS.get(lab, "#9ca3af"), label=lab) for lab in order],
               loc="outside lower center", ncols=len(order) or 1, fontsize=8, frameon=False,
               title=TIMELINE_SHADING if shaded else None, title_fontsize=8)  # say what the paler bars mean
    return fig


def label_counts_figure(label_counts: Mapping[str, int], *, unit: str = "labelled examples") -> Figure:
    """Horizontal bars of how many labelled examples each class has.

    Parameters
    ----------
    label_counts : mapping of str to int
        Class -> number of labelled examples.
    unit : str
        What is counted, for the axis and title ("labelled sections", "8-s windows").
    """
    names = list(label_counts)
    colors = class_colors(names)
    fig, ax = _figure(6.0, 0.6 + 0.32 * len(names))
    vals = [int(label_counts[n]) for n in names]
    ax.barh(range(len(names)), vals, color=[colors[n] for n in names])
    for i, v in enumerate(vals):
        ax.text(v, i, f" {v}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(unit, fontsize=8)
    ax.set_title(f"{unit[:1].upper()}{unit[1:]} per class", fontsize=10)
    ax.margins(x=0.12)
    return fig
