"""An embeddings run's per-class chart had no baseline (session 17): the run now records the backbone's per-class
retrieval figures where it computes the backbone's overall ones (the same held-out windows, one pass), and the
report draws them beside the model's bars, as a sections report draws each baseline's F1."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_per_class_plot import report_per_class_axes
from test_triplet import FAST, splits  # noqa: F401  (fixture)

torch = pytest.importorskip("torch")


def test_a_run_records_the_backbones_per_class_figures_on_the_test_tracks(splits):  # noqa: F811
    from workbench.evaluate.retrieval import retrieval_metrics
    from workbench.train.triplet import TripletConfig, _standardise_stats, train_triplet

    train, val, test = splits
    result = train_triplet(train, val, test=test, config=TripletConfig(**{**FAST, "max_epochs": 1}), progress=False)
    base = result.metrics["baseline"]["test"]
    per_class = base["per_class"]
    assert sorted(per_class) == sorted(test.classes)  # by class name, as the report's model figures
    assert sum(v["n"] for v in per_class.values()) == base["n_queries"] == len(test.y)
    mean, std = _standardise_stats(train.X)  # the backbone z-scored as the run does it
    alone = retrieval_metrics((test.X - mean) / std, np.asarray(test.classes)[test.y], groups=test.track_ids,
                              per_class=True)
    for name, row in per_class.items():
        assert row["r_precision"] == pytest.approx(alone["per_class"][name]["r_precision"], abs=1e-6)
    assert base["map_at_r"] == pytest.approx(alone["map_at_r"], abs=1e-9)  # the overall figure as before
    assert "per_class" not in result.metrics["model"]["test"]  # the model's are the report's, from arrays.npz
    assert "per_class" not in result.metrics["baseline"]["val"]


def test_an_embeddings_reports_per_class_figure_draws_the_backbone(tmp_path, monkeypatch):
    from workbench.report.examples import write_example_run
    from workbench.runs import load_run

    folder = Path(write_example_run("embeddings", root=tmp_path, seed=2, quality=0.7))
    from workbench.evaluate import evaluate_run

    classes = list(evaluate_run(load_run(folder))["per_class"])  # as the report names the model's classes
    metrics = json.loads((folder / "metrics.json").read_text())
    backbone = {c: {"precision_at_1": 0.5, "r_precision": 0.1 * (i + 1), "n": 4} for i, c in enumerate(classes)}
    metrics.setdefault("baselines", {}).setdefault("backbone", {})["per_class"] = backbone
    (folder / "metrics.json").write_text(json.dumps(metrics))
    ax = report_per_class_axes(load_run(folder), tmp_path, monkeypatch)
    assert "backbone (r_precision)" in {t.get_text() for t in ax.get_legend().get_texts()}
    marks = next(c for c in ax.collections if c.get_label() == "backbone (r_precision)")
    shown = [t.get_text().split("\n")[0] for t in ax.get_xticklabels()]
    assert [round(float(y), 6) for _, y in marks.get_offsets()] == [round(backbone[c]["r_precision"], 6) for c in shown]
