"""Experiment comparison: runs table, compare (params, best metrics, curves, data diff, confusion change),
MLflow export (error path and a recording fake), the comparison widget and ``workbench runs``."""

from __future__ import annotations

import argparse
import re
import sys
import types

import numpy as np
import pytest

from workbench.errors import ParameterError, StoreError
from workbench.experiments import MlflowNotInstalledError, compare, data_diff, log_to_mlflow, runs_table
from workbench.report.examples import write_example_run
from workbench.runs import load_run, write_run


@pytest.fixture(scope="module")
def exp(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments")
    a = write_example_run("sections", root=root, seed=1, n_tracks=12, quality=0.6, config={"dropout": 0.2})
    b = write_example_run("sections", root=root, seed=1, n_tracks=14, quality=0.85, config={"dropout": 0.3})
    e = write_example_run("embeddings", root=root, seed=2, quality=0.7)
    return root, load_run(a), load_run(b), load_run(e)


def test_runs_table(exp):
    root, a, b, e = exp
    df = runs_table(root)
    assert list(df["run_id"]) == [a.run_id, b.run_id, e.run_id]  # in creation order
    assert list(df.columns[:5]) == ["run_id", "kind", "created", "backbone", "tracks"]
    assert {"lr", "dropout", "accuracy", "macro_f1", "precision_at_5", "nmi"} <= set(df.columns)
    row = df.set_index("run_id").loc[b.run_id]
    assert row["accuracy"] == pytest.approx(b.metrics["model"]["accuracy"]) and row["tracks"] == 14
    assert list(runs_table(root, kind="embeddings")["run_id"]) == [e.run_id]


def test_runs_table_empty_and_bad_kind(tmp_path):
    assert runs_table(tmp_path / "none").empty
    with pytest.raises(ParameterError, match="kind must be one of"):
        runs_table(tmp_path, kind="tracks")


def test_compare_params_differences_only(exp):
    root, a, b, _ = exp
    c = compare([a.run_id, b.run_id], root=root)
    assert list(c.params.columns) == [a.run_id, b.run_id]
    assert "config.dropout" in c.params.index and "config.batch_size" not in c.params.index
    assert "config.batch_size" in c.all_params.index
    assert c.params.loc["data.tracks"].tolist() == [12, 14]
    c.differences_only = False
    assert len(c.params) == len(c.all_params)


def test_compare_metrics_best_marked(exp):
    root, a, b, _ = exp
    c = compare([a, b])
    m, best = c.metrics, c.best
    assert m.loc["model.accuracy", a.run_id] == pytest.approx(a.metrics["model"]["accuracy"])
    higher = a.run_id if m.loc["model.accuracy", a.run_id] > m.loc["model.accuracy", b.run_id] else b.run_id
    assert best.loc["model.accuracy"].tolist() == [higher == a.run_id, higher == b.run_id]
    assert best.to_numpy().sum(axis=1).max() <= 2
    styled = c.metrics_styled().to_html()
    assert "#dcfce7" in styled


def test_best_prefers_lower_losses(tmp_path):
    ids = []
    for i, loss in enumerate((0.5, 0.2)):
        rid = f"2025010{i}-000000-sections-00000{i}"
        write_run(rid, info={"kind": "sections"}, config_={}, data={}, history=[],
                  metrics={"model": {"val_loss": loss, "accuracy": 0.5 + i * 0.1}, "other": {"x": 1.0}}, root=tmp_path)
        ids.append(rid)
    c = compare(ids, root=tmp_path)
    assert c.best.loc["model.val_loss"].tolist() == [False, True]
    assert c.best.loc["model.accuracy"].tolist() == [False, True]
    assert c.best.loc["other.x"].tolist() == [False, False]  # a tie has no best
    assert c.data_diff.labels_added is None  # data.json has no labels list
    assert "not recorded" in c.data_diff.summary()


def test_data_diff_tracks_and_labels(exp):
    _, a, b, _ = exp
    d = data_diff(a, b)
    assert d.tracks_added == ["013_trance.flac", "014_house.flac"] and d.tracks_removed == []
    assert len(d.labels_added) == 14 and d.labels_removed == []  # 7 sections per added track
    assert {x["track_hash"] for x in d.labels_added} == {t["content_hash"] for t in b.data["tracks"][12:]}
    assert d.label_counts["drop"] == (24, 28)
    assert d.fingerprint_changed is True
    back = data_diff(b, a)
    assert back.tracks_removed == d.tracks_added and len(back.labels_removed) == 14


def test_confusion_delta(exp):
    _, a, b, e = exp
    c = compare([a, b])
    delta = c.confusion_delta
    from workbench.evaluate import classification_metrics

    def rates(run):
        arr = run.arrays()
        cm = np.asarray(classification_metrics(arr["y_true"], arr["y_pred"], class_names=run.data["classes"])["confusion"],
                        dtype=float)
        return cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)

    used = ["intro", "build", "drop", "break", "outro"]  # verse and chorus: never seen nor predicted
    assert list(delta.index) == list(delta.columns) == used
    np.testing.assert_allclose(delta.to_numpy(), (rates(b) - rates(a))[:5, :5])
    assert compare([a, e]).confusion_delta is None
    assert compare([a]).confusion_delta is None and compare([a]).data_diff is None


def test_curves_and_html(exp):
    _, a, b, e = exp
    c = compare([a, b, e], differences_only=True)
    fig = c.curves_figure()
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert {"train_loss", "val_accuracy", "val_map_at_r"} <= set(titles)
    loss_ax = next(ax for ax in fig.axes if ax.get_title() == "train_loss")
    assert len(loss_ax.get_lines()) == 3
    html = c._repr_html_()
    for part in ("Parameters (differences only)", "Metrics (best in green)", "Training curves", "Data changes",
                 "data:image/png;base64,"):
        assert part in html
    assert re.search(r'<td class="best num">', html)


def test_compare_errors(tmp_path):
    with pytest.raises(ParameterError, match="at least one run"):
        compare([], root=tmp_path)
    with pytest.raises(StoreError, match="no run folder"):
        compare(["nope"], root=tmp_path)


# ---------------------------------------------------------------- MLflow

def test_mlflow_missing_names_the_install(exp, monkeypatch):
    _, a, _, _ = exp
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    with pytest.raises(MlflowNotInstalledError, match="pip install mlflow"):
        log_to_mlflow(a)
    with pytest.raises(ImportError):  # also the built-in
        log_to_mlflow(a)


def test_mlflow_logging_with_a_fake_module(exp, monkeypatch):
    root, a, _, _ = exp
    calls: list[tuple] = []
    fake = types.ModuleType("mlflow")

    class _Active:
        info = types.SimpleNamespace(run_id="mlf-123")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            calls.append(("end_run",))

    for name in ("set_tracking_uri", "set_experiment", "set_tags", "log_params", "log_metrics", "log_artifact"):
        setattr(fake, name, lambda *args, _n=name, **kw: calls.append((_n, args, kw)))
    fake.log_metric = lambda key, value, step=None: calls.append(("log_metric", (key, value), {"step": step}))
    fake.start_run = lambda **kw: (calls.append(("start_run", (), kw)), _Active())[1]
    monkeypatch.setitem(sys.modules, "mlflow", fake)

    assert log_to_mlflow(a.run_id, root=root) == "mlf-123"
    names = [c[0] for c in calls]
    assert names[:3] == ["set_tracking_uri", "set_experiment", "start_run"] and names[-1] == "end_run"
    uri = calls[0][1][0]
    assert uri.startswith("sqlite:///") and uri.endswith("mlflow.db") and str(root) in uri
    assert calls[2][2]["run_name"] == a.run_id
    params = next(c for c in calls if c[0] == "log_params")[1][0]
    assert params["config.dropout"] == "0.2" and params["kind"] == "sections"
    metrics = next(c for c in calls if c[0] == "log_metrics")[1][0]
    assert metrics["model.accuracy"] == pytest.approx(a.metrics["model"]["accuracy"])
    assert all("@" not in k for k in metrics)
    steps = [c for c in calls if c[0] == "log_metric" and c[1][0] == "history.train_loss"]
    assert [s[2]["step"] for s in steps] == [row["epoch"] for row in a.history]
    assert any(c[0] == "log_artifact" and c[1][0].endswith("metrics.json") for c in calls)


# ---------------------------------------------------------------- widget

def test_compare_widget(exp):
    pytest.importorskip("ipywidgets")
    from workbench.widgets.compare import CompareWidget

    root, a, b, e = exp
    w = CompareWidget(root)
    assert set(w.picker.options) >= {a.run_id, b.run_id, e.run_id}
    assert "Pick one or more" in w.view.value and w.comparison is None
    w.select([a.run_id, b.run_id])
    assert w.comparison.run_ids == [a.run_id, b.run_id]
    assert "Metrics (best in green)" in w.view.value and "config.batch_size" not in w.view.value
    w.set_differences_only(False)
    assert "config.batch_size" in w.view.value
    with pytest.raises(ParameterError, match="unknown"):
        w.select(["no-such-run"])


def test_compare_widget_refresh_sees_new_runs(tmp_path):
    pytest.importorskip("ipywidgets")
    from workbench.widgets.compare import CompareWidget

    w = CompareWidget(tmp_path)
    assert w.picker.options == () and "No runs yet" in w.view.value
    rid = "20250101-000000-sections-abcdef"
    write_run(rid, info={"kind": "sections"}, config_={}, data={}, history=[], metrics={}, root=tmp_path)
    w.refresh_button.click()
    assert w.picker.options == (rid,)


# ---------------------------------------------------------------- CLI

@pytest.fixture
def cli():
    from workbench.commands import runs

    parser = argparse.ArgumentParser(prog="workbench")
    runs.register(parser.add_subparsers(dest="command"))

    def call(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        return args.func(args)

    return call


def test_cli_list_and_compare(exp, cli, capsys):
    root, a, b, _ = exp
    assert cli("runs", "--experiments", str(root), "list") == 0
    out = capsys.readouterr().out
    assert a.run_id in out and "accuracy" in out
    assert cli("runs", "--experiments", str(root), "compare", a.run_id, b.run_id) == 0
    out = capsys.readouterr().out
    assert "differences only" in out and "config.dropout" in out and "config.batch_size" not in out
    assert " *" in out and "tracks: +2 -0" in out and "confusion matrix change" in out
    assert cli("runs", "--experiments", str(root), "compare", a.run_id, b.run_id, "--all") == 0
    assert "config.batch_size" in capsys.readouterr().out


def test_cli_report_and_empty(exp, cli, capsys, tmp_path):
    root, _, _, e = exp
    assert cli("runs", "--experiments", str(root), "report", e.run_id) == 0
    path = capsys.readouterr().out.strip()
    assert path == str(e.path / "report.html") and (e.path / "report.html").is_file()
    assert cli("runs", "--experiments", str(tmp_path), "list") == 0
    assert "no runs" in capsys.readouterr().out
    assert cli("runs") == 2


# ---------------------------------------------------------------- notebook

@pytest.mark.slow
def test_notebook_05_runs_top_to_bottom(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "notebooks" / "05_compare_experiments.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert "parameters" in nb.cells[0].metadata.get("tags", [])
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # stored stripped
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))  # no runs there: the notebook uses example runs
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "tracks: +2 -0" in text and "report.html" in text
    assert not list((tmp_path / "experiments").glob("*")) if (tmp_path / "experiments").exists() else True
