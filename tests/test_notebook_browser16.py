"""What running the seven notebooks in JupyterLab on a copy of the real music showed (session 16's
browser pass, /tmp/h16-nb): the defects it found, each pinned by the test that failed before its fix."""

from __future__ import annotations

import re


def test_the_comparison_says_when_each_run_started_as_the_runs_table_does(tmp_path):
    """Notebook 05's side-by-side comparison listed 'started 2026-12-07T04:47:48+00:00' (run.json's raw ISO
    time) under a runs table that says '2026-12-07 04:47'."""
    from workbench.experiments import compare
    from workbench.report.examples import write_example_run
    from workbench.runs import load_run, started_text

    a = load_run(write_example_run("sections", root=tmp_path, seed=1, n_tracks=12, quality=0.6))
    b = load_run(write_example_run("sections", root=tmp_path, seed=1, n_tracks=14, quality=0.8))
    html = compare([a, b])._repr_html_()
    runs = html.split("<h2>Runs</h2>", 1)[1].split("</table>", 1)[0]
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", runs), runs
    assert started_text(a.info["created_at"]) in runs, runs


def _notebook_bars(monkeypatch):
    """Make ``tqdm.auto.tqdm`` the notebook bar (as in JupyterLab) and collect every bar made."""
    import tqdm.auto
    from tqdm.notebook import tqdm as notebook_tqdm

    made = []

    class Recorded(notebook_tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorded)
    return made


def test_an_epoch_bar_stopped_early_ends_full_and_green_not_red(monkeypatch):
    """Notebook 04 on the real music ended with 'train sections: 32% 13/40' in a red bar (tqdm.notebook's sign
    of an error) after early stopping at epoch 13; the triplet bar of notebook 03 does the same at 40 epochs."""
    from test_triplet import FAST, clustered

    from workbench.train.triplet import TripletConfig, train_triplet

    made = _notebook_bars(monkeypatch)
    result = train_triplet(clustered(seed=0), clustered(seed=1, per_class=8, first_track=10_000),
                           config=TripletConfig(**{**FAST, "max_epochs": 40, "patience": 1, "lr": 1e-2}))
    assert result.stopped_reason.startswith("early stop") and len(result.history) < 40
    bar = next(b for b in made if b.desc.startswith("triplet"))
    widget = bar.container.children[1]
    assert widget.bar_style == "success" and widget.value == widget.max == len(result.history), \
        (widget.bar_style, widget.value, widget.max)
    said = bar.container.children[2].value.replace("\u2007", " ")  # tqdm.notebook pads with figure spaces
    assert said.rstrip("]").endswith("early stop"), said


def test_a_bar_closed_by_an_error_stays_red(monkeypatch):
    import tqdm.auto

    from workbench.train.progress import close_stopped

    made = _notebook_bars(monkeypatch)
    bar = tqdm.auto.tqdm(total=40, desc="train sections")
    bar.update(13)
    bar.close()  # what the `finally` does after an exception
    assert made[0].container.children[1].bar_style == "danger"
    done = tqdm.auto.tqdm(total=40, desc="train sections")
    done.update(40)
    close_stopped(done, "early stop")  # a run to its total: no note, green
    assert done.container.children[1].bar_style == "success" and "early stop" not in done.container.children[2].value


def test_a_sections_reports_per_class_figure_draws_each_baselines_f1(tmp_path, monkeypatch):
    """Notebook 04's report on the real music drew 'Per-class precision, recall and F1' of the model alone: outro
    0.00 / 0.00 / 0.00 with nothing to say that every baseline but novelty scores 0 there too."""
    import json
    from pathlib import Path

    from test_per_class_plot import report_per_class_axes

    from workbench.report.examples import write_example_run
    from workbench.runs import load_run

    folder = Path(write_example_run("sections", root=tmp_path, seed=1, n_tracks=12, quality=0.6))
    metrics = json.loads((folder / "metrics.json").read_text())
    labels = ["intro", "build", "drop", "break", "outro"]
    metrics["baselines"] = {"majority": {"per_class": {c: {"f1": 0.6 if c == "drop" else 0.0} for c in labels}},
                            "logreg": {"per_class": {c: {"f1": 0.1 * (i + 1)} for i, c in enumerate(labels)}}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    run = load_run(folder)
    ax = report_per_class_axes(run, tmp_path, monkeypatch)
    names = {t.get_text() for t in ax.get_legend().get_texts()}
    recorded = {n for n, b in run.metrics["baselines"].items() if b.get("per_class")}
    assert recorded and {f"{n} (f1)" for n in recorded} <= names, (names, recorded)
    majority = next(c for c in ax.collections if c.get_label() == "majority (f1)")
    classes = [t.get_text().split("\n")[0] for t in ax.get_xticklabels()]
    want = [run.metrics["baselines"]["majority"]["per_class"][c]["f1"] for c in classes]
    assert [round(float(y), 6) for _, y in majority.get_offsets()] == [round(w, 6) for w in want]


def test_the_jobs_table_says_each_metric_once_and_its_time_on_one_line():
    """Notebook 03's jobs table on the real music: 'model.map_at_r=0.8639 model.precision_at_1=0.8868
    model.test.map_at_r=0.8639 model.test.precision_at_1=0.8868' (the same two figures twice, no baseline), and
    'updated' wrapped onto three lines, '2026-12-' / '07' / '04:50:39'."""
    import re as re_

    from workbench.jobs import headline
    from workbench.widgets.jobs import jobs_html

    metrics = {"model": {"map_at_r": 0.8639, "precision_at_1": 0.8868,
                         "test": {"map_at_r": 0.8639, "precision_at_1": 0.8868}},
               "baseline": {"test": {"map_at_r": 0.7995, "precision_at_1": 0.8868}}}
    assert headline(metrics) == ("model.map_at_r=0.8639  model.precision_at_1=0.8868  "
                                 "baseline.test.map_at_r=0.7995  baseline.test.precision_at_1=0.8868")

    class Job:
        id, kind, state, epoch, total_epochs, loss, label_counts = 2, "embeddings", "completed", 5, 5, 0.03, {"a": 1}
        error, run_id, updated_at, metrics = None, "20261207-045039-embeddings-1b6aae", "2026-12-07T04:50:39+00:00", {}
        progress = 1.0

    html = jobs_html([Job()])
    cell = re_.search(r'<td style="([^"]*)">2026-12-07 04:50</td>', html)
    assert cell and "white-space:nowrap" in cell.group(1), html


def test_notebooks_03_and_04_name_the_run_folder_under_the_workspace(tmp_path):
    """Notebooks 03 and 04 on the real music printed 'completed /tmp/h16-nb/home/experiments/20261207-...'; the
    workspace's own path says nothing the user needs (notebook 07 names its profile as models/profiles/...)."""
    import json
    from pathlib import Path
    from types import SimpleNamespace

    from workbench.config import Workspace

    root = tmp_path / "ws"
    for name in ("03_train_embeddings.ipynb", "04_train_sections.ipynb"):
        nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / name).read_text())
        line = next(ln.strip() for c in nb["cells"] for ln in "".join(c["source"]).splitlines()
                    if ln.strip().startswith("print(job.state"))  # 04 trains only when ready: the line is indented
        lib = SimpleNamespace(workspace=Workspace(root.resolve(), root.resolve() / "data" / "workbench.db"))
        run = SimpleNamespace(path=root / "experiments" / "20261207-045039-embeddings-1b6aae")
        said = eval(line.split("#")[0].replace("print(", "(", 1), {"job": SimpleNamespace(state="completed"),  # noqa: S307
                                                                     "run": run, "lib": lib})
        assert said == ("completed", "experiments/20261207-045039-embeddings-1b6aae"), (name, said)


def test_two_runs_with_the_same_parameters_say_so_not_not_recorded(tmp_path):
    """Notebook 05 on two real embedding runs of the same settings: 'Parameters (differences only)' then
    'no differences: not recorded', as though the parameters were missing."""
    from workbench.experiments import compare
    from workbench.report.examples import write_example_run
    from workbench.runs import load_run

    a = load_run(write_example_run("embeddings", root=tmp_path, seed=2, quality=0.7))
    b = load_run(write_example_run("embeddings", root=tmp_path, seed=2, quality=0.7))
    html = compare([a, b], differences_only=True)._repr_html_()
    part = html.split("<h2>Parameters (differences only)</h2>", 1)[1].split("<h2>", 1)[0]
    assert "not recorded" not in part and "same parameters" in part, part


CUT_BUTTONS_JS = """root => [...root.querySelectorAll('button')]
  .filter(b => b.offsetWidth > 0 && b.scrollWidth > b.clientWidth + 1).map(b => b.textContent.trim())"""


def test_notebook_05s_compare_widget_shows_its_buttons_whole(tmp_path):
    """Notebook 05's 'Pick runs yourself' in JupyterLab read 'Save name an...': the button kept ipywidgets'
    default width, too narrow for its label."""
    import pytest
    from browser import compare_widget_page, skip_reason

    from workbench.report.examples import write_example_run

    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    runs = tmp_path / "experiments"
    write_example_run("embeddings", root=runs, seed=2, quality=0.7)
    with compare_widget_page(tmp_path, runs) as (root, errors):
        assert root.evaluate(CUT_BUTTONS_JS) == []
        assert not errors, errors


def test_model_versions_say_when_they_were_created_as_runs_do(tmp_path):
    """Notebook 06 on the real music: the model versions table and the model card read 'created
    2026-12-07T05:05:56+00:00', the raw ISO time, where every runs table says '2026-12-07 05:05'."""
    import torch

    from workbench.export.coreml import export_classifier
    from workbench.library import Library
    from workbench.models.heads import SectionClassifier
    from workbench.registry import Registry
    from workbench.registry_card import card_text, model_card

    torch.manual_seed(0)
    package = export_classifier(SectionClassifier(16, hidden_dim=32).eval(), tmp_path / "clf.mlpackage",
                                metadata={"metrics": {"model": {"accuracy": 0.5}}})
    lib = Library(tmp_path / "data" / "workbench.db")
    try:
        reg = Registry(lib, root=tmp_path / "models")
        version = reg.register("dj_section", package.path, metadata=package.metadata, export=package.as_dict(),
                               metrics={"model": {"accuracy": 0.5, "macro_f1": 0.5},
                                        "baselines": {"majority": {"accuracy": 0.3, "macro_f1": 0.1}}})
        created = reg.frame()["created (UTC)"].tolist()  # headed as `models list` heads it (notebook 06 said "created", session 21)
        assert len(created) == 1 and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", created[0]), created
        card = card_text(version)
        assert f"| created | {created[0]} (UTC) |" in card and "+00:00" not in card, card[:800]
        forced = model_card({"model_type": "dj_section", "version": 1, "forced": [
            {"action": "export", "at": "2026-12-07T05:08:38+00:00", "failing_gates": []}]})
        assert "**Forced (export, 2026-12-07 05:08 (UTC))**" in forced, forced[:600]
    finally:
        lib.store.close()


def test_the_labeler_says_when_its_active_section_model_was_forced_past_its_gates(tmp_path, monkeypatch):
    """Notebook 02 on the real music with a sections run exported with `--force --activate` (accuracy below
    always-the-majority) said 'active model dj_section_v1 (run ...)' above the suggestions, where `workbench
    suggest` says 'forced past its gates: better than majority; treat its suggestions with care'."""
    import workbench.train.sections as sections
    from workbench.library import Library
    from workbench.report.examples import write_example_run
    from workbench.runs import load_run
    from workbench.widgets import suggest

    weak = load_run(write_example_run("sections", root=tmp_path / "experiments", seed=1, n_tracks=12, quality=0.6))
    weak.metrics["model"].update(accuracy=0.22, macro_f1=0.21)
    weak.metrics["baselines"] = {"majority": {"accuracy": 0.40, "macro_f1": 0.14}}
    monkeypatch.setattr(suggest, "active_section_run", lambda *a, **kw: (weak, 1, "dj_section_v1"))
    monkeypatch.setattr(suggest, "run_backbone", lambda run: None)
    monkeypatch.setattr(sections, "suggester", lambda library, run, backbone=None: (lambda track: []))
    lib = Library(tmp_path / "data" / "workbench.db")
    try:
        said = suggest.active_suggester(lib).said
    finally:
        lib.store.close()
    assert said == (f"active model dj_section_v1 (run {weak.run_id}) (forced past its gates: not better than majority "
                    "(accuracy of unsmoothed windows 0.2200 < 0.4000); treat its suggestions with care)"), said


def test_notebook_01s_similar_tracks_are_ranked_from_1():
    """Notebook 01's similar tracks on the real music were numbered 0..4 in a nameless first column: the best
    match read as number 0."""
    from types import SimpleNamespace

    from workbench.explore import similar_table
    from workbench.report.tables import text_left

    def result(score, tid):
        return SimpleNamespace(match=SimpleNamespace(score=score, explanation="similar vibe (54%)"),
                               track=SimpleNamespace(id=tid, name=f"t{tid}"), model="head@1", weights="default")

    search = SimpleNamespace(similar=lambda track, k, weights=None: [result(0.672, 10), result(0.671, 8)])
    table = similar_table(search, 1, k=2)
    assert list(table.index) == [1, 2] and table.index.name == "rank", table
    assert table["id"].iloc[0] == 10
    assert table["score"].tolist() == [0.67, 0.67]  # 2 decimals, as `workbench similar` writes a score (it wrote 3)
    assert ">0.67<" in text_left(table).to_html() and "0.672" not in text_left(table).to_html()
