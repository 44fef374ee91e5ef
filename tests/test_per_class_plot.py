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
    assert sorted(t.get_text() for t in labels).count("0.00") == 8  # every 0 bar still says so
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
