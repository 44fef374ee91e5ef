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
    assert "Δ " + ids[1] in c._repr_html_()
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
    back = data_diff(b, a)  # the order given does not matter: always from the earlier run to the later
    assert (back.base, back.other) == (a.run_id, b.run_id)
    assert back.tracks_added == d.tracks_added and back.tracks_removed == [] and len(back.labels_added) == 14
    assert back.label_counts["drop"] == (24, 28)
    assert f"data from {a.run_id} to {b.run_id}" in back.summary()


def test_comparison_reads_forward_whatever_the_pick_order(exp):
    root, a, b, _ = exp
    c = compare([b.run_id, a.run_id], root=root)  # newest first, as the widget's picker lists them
    assert c.baseline == a.run_id  # default baseline: the oldest
    (d,) = c.data_diffs
    assert d.tracks_added == ["013_trance.flac", "014_house.flac"] and d.tracks_removed == []
    assert c.data_diff.tracks_added == d.tracks_added
    assert c.deltas.loc["model.accuracy", b.run_id] == pytest.approx(
        b.metrics["model"]["accuracy"] - a.metrics["model"]["accuracy"])
    assert c.deltas.loc["model.accuracy", a.run_id] == 0
    assert c.confusion_other == b.run_id
    c2 = compare([a.run_id, b.run_id], root=root, baseline=b.run_id)
    assert c2.deltas.loc["model.accuracy", a.run_id] < 0 and c2.data_diffs[0].tracks_added == d.tracks_added
    np.testing.assert_allclose(c2.confusion_delta.to_numpy(), -c.confusion_delta.to_numpy(), atol=1e-12)
    with pytest.raises(ParameterError, match="baseline must be one of the compared runs"):
        compare([a.run_id], root=root, baseline=b.run_id)


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
    curves = [ln for ln in loss_ax.get_lines() if ln.get_marker() == "o"]
    assert len(curves) == 3  # one per run, and a dashed line at each run's kept epoch
    assert len([ln for ln in loss_ax.get_lines() if ln.get_linestyle() == "--"]) == 3
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
    table = nb.cells[4].outputs[-1]["data"]["text/html"]  # the runs table (session 17): no row numbers from 0,
    assert "row_heading" not in table  # and scores with the runs view's 4 decimals (text_left gave 3)
    scores = re.findall(r">(\d\.\d+)</td>", table)
    assert scores and max(len(x.split(".")[1]) for x in scores) == 4, scores
    assert not list((tmp_path / "experiments").glob("*")) if (tmp_path / "experiments").exists() else True


# ---------------------------------------------------------------- metric directions, runs table, names and notes

def test_metric_directions():
    from workbench.experiments import metric_direction

    assert metric_direction("model.accuracy") == "higher"
    assert metric_direction("segments.smoothed.boundary_f_0.5s") == "higher"  # a dot inside the leaf name
    assert metric_direction("transfer.leave_one_group_out.calibration.ece_after") == "lower"
    assert metric_direction("model.val_loss") == "lower"
    assert metric_direction("invariance.pitch+1st.model") == "higher"  # from its group
    for unknown in ("n_windows", "n_sections", "seconds.total", "model.support", "calibration.temperature"):
        assert metric_direction(unknown) is None, unknown


def _counts_runs(root):
    ids = []
    for i, (acc, n) in enumerate(((0.6, 900), (0.8, 500), (0.7, 700))):
        rid = f"2025010{i}-000000-sections-00000{i}"
        write_run(rid, info={"kind": "sections", "created_at": f"2025-01-0{i + 1}T00:00:00+00:00"},
                  config_={"lr": 10.0 ** -(i + 2)}, data={}, history=[],
                  metrics={"model": {"accuracy": acc, "val_loss": 1 - acc}, "n_windows": n,
                           "seconds": {"total": 10.0 + i}}, root=root)
        ids.append(rid)
    return ids


def test_best_only_on_metrics_with_a_direction(tmp_path):
    ids = _counts_runs(tmp_path)
    c = compare(ids, root=tmp_path)
    assert c.best.loc["model.accuracy"].tolist() == [False, True, False]
    assert c.best.loc["model.val_loss"].tolist() == [False, True, False]
    assert not c.best.loc["n_windows"].any() and not c.best.loc["seconds.total"].any()  # counts, times: no best


def test_runs_view_columns_sort_filter_delta(tmp_path):
    from workbench.report.runs_view import runs_view

    ids = _counts_runs(tmp_path)
    v = runs_view(tmp_path, metrics=["accuracy", "n_windows"], params=["lr"], baseline=ids[0], sort_by="accuracy")
    assert v.metrics == ["model.accuracy", "n_windows"] and v.params == ["config.lr"]
    assert [r.run_id for r in v.runs] == [ids[1], ids[2], ids[0]]  # a higher-is-better metric: best first
    df = v.frame
    assert list(df.columns) == ["run_id", "name", "note", "kind", "created", "config.lr", "model.accuracy",
                                "n_windows", "Δ model.accuracy", "Δ n_windows", "report"]
    assert df.set_index("run_id").loc[ids[1], "Δ model.accuracy"] == pytest.approx(0.2)
    assert df.set_index("run_id").loc[ids[0], "Δ n_windows"] == 0
    assert v.best == {"model.accuracy": [ids[1]]}  # n_windows is a count: never "best"
    assert [r.run_id for r in runs_view(tmp_path, sort_by="val_loss").runs] == [ids[1], ids[2], ids[0]]  # lowest first
    assert [r.run_id for r in runs_view(tmp_path, sort_by="accuracy", descending=False).runs] == [ids[0], ids[2], ids[1]]
    assert [r.run_id for r in runs_view(tmp_path, filter="accuracy >= 0.7 and lr < 0.005").runs] == [ids[1], ids[2]]
    assert [r.run_id for r in runs_view(tmp_path, filter="kind == embeddings").runs] == []
    html = v.to_html()
    assert '<td class="best num">0.8000</td>' in html and "<b>baseline</b>" in html and "none yet" in html
    assert "n_windows ↑" not in html and "model.accuracy ↑" in html


def test_runs_view_errors(tmp_path):
    from workbench.report.runs_view import runs_view

    ids = _counts_runs(tmp_path)
    with pytest.raises(ParameterError, match="metrics must be one of those the runs recorded.*got 'f1_score'"):
        runs_view(tmp_path, metrics=["f1_score"])
    with pytest.raises(ParameterError, match="params must be one of.*got 'momentum'"):
        runs_view(tmp_path, params=["momentum"])
    with pytest.raises(ParameterError, match="baseline must be one of the runs"):
        runs_view(tmp_path, baseline="nope")
    with pytest.raises(ParameterError, match="field must be a metric, a parameter"):
        runs_view(tmp_path, filter="speed > 3")
    with pytest.raises(ParameterError, match="is a number, so the value must be one; got 'high'"):
        runs_view(tmp_path, filter="accuracy > high")
    with pytest.raises(ParameterError, match="is text; use ==, != or ~"):
        runs_view(tmp_path, filter="kind > sections")
    with pytest.raises(ParameterError, match="kind must be one of"):
        runs_view(tmp_path, kind="tracks")
    with pytest.raises(ParameterError, match="x must be one of"):
        runs_view(tmp_path).scatter_figure("nope", "accuracy")
    assert ids


def test_scatter_figure(tmp_path):
    from workbench.report.runs_view import runs_view

    ids = _counts_runs(tmp_path)
    fig = runs_view(tmp_path, baseline=ids[0]).scatter_figure("accuracy", "n_windows")
    ax = fig.axes[0]
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    assert sorted(map(tuple, offsets.tolist())) == [(0.6, 900.0), (0.7, 700.0), (0.8, 500.0)]
    assert "higher is better" in ax.get_xlabel() and ax.get_ylabel() == "n_windows"
    assert "star: baseline" in ax.get_title()


def test_run_names_and_notes(tmp_path):
    from workbench.report.runs_view import runs_view
    from workbench.runs import read_run_notes, set_run_notes

    ids = _counts_runs(tmp_path)
    assert load_run(ids[0], root=tmp_path).notes == {"name": "", "note": ""}
    assert set_run_notes(ids[0], name="  small lr ", root=tmp_path) == {"name": "small lr", "note": ""}
    set_run_notes(ids[0], note="first try\nwith 3 crates", root=tmp_path)
    assert read_run_notes(tmp_path / ids[0]) == {"name": "small lr", "note": "first try\nwith 3 crates"}
    assert load_run(ids[0], root=tmp_path).notes["name"] == "small lr"
    assert [r.run_id for r in runs_view(tmp_path, filter="small").runs] == [ids[0]]  # free text finds names
    assert [r.run_id for r in runs_view(tmp_path, filter="note ~ CRATES").runs] == [ids[0]]
    set_run_notes(ids[0], name="", root=tmp_path)
    assert read_run_notes(tmp_path / ids[0])["name"] == ""
    with pytest.raises(ParameterError, match="name must be one line"):
        set_run_notes(ids[0], name="a\nb", root=tmp_path)
    with pytest.raises(ParameterError, match="name must be one line of at most 80"):
        set_run_notes(ids[0], name="x" * 81, root=tmp_path)
    with pytest.raises(ParameterError, match="note must be at most"):
        set_run_notes(ids[0], note="x" * 5000, root=tmp_path)
    with pytest.raises(StoreError, match="no run folder"):
        set_run_notes("nope", name="x", root=tmp_path)
    (tmp_path / ids[1] / "notes.json").write_text("{broken")
    with pytest.raises(StoreError, match="not valid JSON"):
        read_run_notes(tmp_path / ids[1])


def test_cli_names_notes_table_json(tmp_path, cli, capsys):
    import json

    ids = _counts_runs(tmp_path)
    base = ("runs", "--experiments", str(tmp_path))
    assert cli(*base, "name", ids[1], "bigger batch") == 0
    assert cli(*base, "note", ids[1], "lr 1e-3", "--json") == 0
    capsys.readouterr()
    assert cli(*base, "list", "--json") == 0
    listed = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed[ids[1]]["name"] == "bigger batch" and listed[ids[1]]["note"] == "lr 1e-3"
    assert cli(*base, "table", "-m", "accuracy", "-m", "n_windows", "-p", "lr", "--baseline", ids[0],
               "--sort", "accuracy", "--filter", "accuracy > 0.65", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in out["runs"]] == [ids[1], ids[2]]
    assert out["runs"][0]["name"] == "bigger batch" and out["runs"][0]["Δ model.accuracy"] == pytest.approx(0.2)
    assert out["best"] == {"model.accuracy": [ids[1]]} and out["directions"]["n_windows"] is None
    assert cli(*base, "table", "-m", "accuracy", "--baseline", ids[0]) == 0
    text = capsys.readouterr().out
    assert "0.8000 *" in text and "bigger batch" in text and f"minus the baseline {ids[0]}" in text
    assert cli(*base, "compare", ids[2], ids[0], "--baseline", ids[2], "--json") == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["baseline"] == ids[2] and rec["deltas"]["model.accuracy"][ids[0]] == pytest.approx(-0.1)
    assert rec["data_diffs"][0]["base"] == ids[0]  # earlier run first, whatever the baseline


def test_compare_widget_table_scatter_notes(tmp_path):
    pytest.importorskip("ipywidgets")
    from workbench.widgets.compare import CompareWidget

    ids = _counts_runs(tmp_path)
    w = CompareWidget(tmp_path)
    assert "model.accuracy" in w.metric_pick.options and "config.lr" in w.param_pick.options
    w.set_columns(metrics=["accuracy", "val_loss"], params=["lr"])
    w.sort("accuracy")
    w.set_baseline(ids[0])
    assert [r.run_id for r in w.runs_view.runs] == [ids[1], ids[2], ids[0]]
    assert "Δ model.val_loss" in w.table.value and "config.lr" in w.table.value
    w.filter_box.value = "accuracy > nope"  # typed on the page: the error shows there
    assert "must be one" in w.message.value
    w.set_filter("accuracy > 0.65")
    assert len(w.runs_view.runs) == 2 and w.message.value == ""
    assert "Pick two metrics" in w.scatter.value
    w.set_scatter("accuracy", "val_loss")
    assert "data:image/png;base64," in w.scatter.value
    w.notes_run.value = ids[2]
    w.name_box.value, w.note_box.value = "third", "lr 1e-4"
    w.save_notes.click()
    assert load_run(ids[2], root=tmp_path).notes == {"name": "third", "note": "lr 1e-4"}
    assert "third" in w.table.value
    w.select([ids[2], ids[0]])  # the baseline is among them: deltas against it
    assert w.comparison.baseline == ids[0] and f"Δ {ids[2]}" in w.view.value
    w.report_button.click()  # the run chosen for notes: its report, written on demand, shown in the widget
    assert (tmp_path / ids[2] / "report.html").is_file() and "<h2>Headline</h2>" in w.report_view.value
    with pytest.raises(ParameterError, match="run_id must be one of"):
        w.show_report("nope")
    with pytest.raises(ParameterError, match="by must be a metric"):
        w.sort("speed")
    with pytest.raises(ParameterError, match="run_id must be one of"):
        w.set_baseline("nope")


def test_the_scatter_of_shares_stays_within_0_and_1(tmp_path):
    """Notebook 05's scatter ran its precision axis to 1.2 (the margin for the run names): a precision above 1."""
    from workbench.report.runs_view import runs_view

    for i, (p1, p5, loss) in enumerate(((1.0, 0.9, 1.5), (0.95, 0.8, 2.5), (0.9, 0.85, 2.0))):
        write_run(f"2025010{i}-000000-embeddings-00000{i}",
                  info={"kind": "embeddings", "created_at": f"2025-01-0{i + 1}T00:00:00+00:00"}, config_={},
                  data={}, history=[], metrics={"model": {"precision_at_1": p1, "precision_at_5": p5, "loss": loss}},
                  root=tmp_path)
    ax = runs_view(tmp_path).scatter_figure("precision_at_5", "precision_at_1").axes[0]
    assert ax.get_ylim()[1] == 1.0 and 0.0 <= ax.get_ylim()[0] < 0.9 and ax.get_xlim()[1] <= 1.0
    assert all(not c.get_clip_on() for c in ax.collections)  # the run at precision 1.0 drawn whole
    ax = runs_view(tmp_path).scatter_figure("precision_at_1", "loss").axes[0]
    assert ax.get_ylim()[1] > 2.5  # not a share: the margin kept
