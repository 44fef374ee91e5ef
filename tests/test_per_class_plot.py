"""The run report's per-class bar chart: every bar says its value, and no label runs into another or into a
baseline's marker (session 17: three 0 bars' "0.00"s side by side ran together, and a baseline of 0 sat on the F1
bar's label)."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np


def report_per_class_axes(run: Any, root: Any, monkeypatch: Any) -> Any:
    """The axes of the per-class figure the run report draws for ``run`` (its report written under ``root``)."""
    from workbench.report import plots
    from workbench.report import report as write_report

    figures = {}
    real = plots.per_class_figure

    def kept(*args: Any, **kwargs: Any) -> Any:
        figures["per_class"] = fig = real(*args, **kwargs)
        return fig

    monkeypatch.setattr(plots, "per_class_figure", kept)
    write_report(run, root=root)
    return figures["per_class"].axes[0]


def test_per_class_value_labels_never_overlap_each_other_or_a_baseline_marker():
    from workbench.report.plots import per_class_figure

    zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    per_class = {"intro": {**zero, "support": 40}, "build": {"precision": 0.61, "recall": 0.72, "f1": 0.66, "support": 90},
                 "drop": {"precision": 0.8, "recall": 0.0, "f1": 0.0, "support": 80},
                 "outro": {**zero, "support": 30}, "fill": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 3}}
    baselines = {"majority": {"intro": 0.0, "build": 0.5, "drop": 0.0, "outro": 0.0, "fill": 0.0},
                 "logreg": {"intro": 0.02, "build": 0.6, "drop": 0.3, "outro": 0.0, "fill": 0.9}}
    fig = per_class_figure(per_class, keys=["precision", "recall", "f1"], baselines=baselines)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    ax = fig.axes[0]
    canvas = FigureCanvasAgg(fig)  # as png_bytes draws it
    canvas.draw()
    renderer = canvas.get_renderer()
    labels = [t for t in ax.texts]
    assert sorted(t.get_text() for t in labels).count("0.0000") == 8  # every 0 bar still says so (4 decimals, as the project writes)
    boxes = [t.get_window_extent(renderer) for t in labels]
    clashes = [(a.get_text(), b.get_text()) for (a, ba), (b, bb) in combinations(zip(labels, boxes, strict=True), 2)
               if ba.overlaps(bb)]
    assert clashes == [], clashes
    axes_box = ax.get_window_extent(renderer)
    assert all(axes_box.y0 <= b.y0 and b.y1 <= axes_box.y1 for b in boxes)  # a 1.00 bar's label inside the axes
    for coll in ax.collections:  # the baselines' markers
        radius = np.sqrt(coll.get_sizes()[0]) / 2 * fig.dpi / 72
        for x, y in ax.transData.transform(coll.get_offsets()):
            hit = [t.get_text() for t, b in zip(labels, boxes, strict=True)
                   if b.x0 - radius < x < b.x1 + radius and b.y0 - radius < y < b.y1 + radius]
            assert hit == [], (x, y, hit)


def test_baseline_markers_of_one_class_stand_apart_not_on_top_of_each_other():
    """A sections report draws four baselines' F1 (ensemble, logreg, majority, novelty); all four sat at one x, so on
    real music the drop class's ensemble dash, logreg cross and novelty triangle (0.38-0.44) were one black blot.
    Each baseline has its own place beside the class's bars, inside the class's group and clear of its bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from workbench.report.plots import per_class_figure

    names = ["break", "drop", "intro", "outro"]
    per_class = {n: {"precision": 0.4, "recall": 0.45, "f1": 0.42, "support": 50} for n in names}
    baselines = {b: {n: 0.4 for n in names} for b in ("ensemble", "logreg", "majority", "novelty")}  # all alike
    fig = per_class_figure(per_class, keys=["precision", "recall", "f1"], baselines=baselines)
    ax = fig.axes[0]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    bar_right = max(p.get_x() + p.get_width() for p in ax.patches if p.get_x() < 0.5)  # the first class's bars
    xs = sorted(float(coll.get_offsets()[0][0]) for coll in ax.collections)  # each baseline's marker at class 0
    assert len(xs) == 4
    assert all(bar_right < x < 0.5 for x in xs), (bar_right, xs)  # beside the bars, inside the class's group
    pixels = ax.transData.transform([(x, 0.4) for x in xs])[:, 0]
    diameter = max(np.sqrt(coll.get_sizes()[0]) * fig.dpi / 72 for coll in ax.collections)
    assert np.diff(pixels).min() >= diameter, (np.diff(pixels), diameter)  # no marker on top of another
