"""Session 18's QA on real music (notebooks 02, 03, 04 and 07 and their CLI steps), and last session's leftovers:
``workbench export --json`` says why a version was registered inactive, as the text output does."""

from __future__ import annotations

import json

from test_models_deactivate import _registry_cli
from test_registry import _metrics, _run, package  # noqa: F401  (package is a fixture)
from test_style import style_lib  # noqa: F401  (a fixture)

from workbench.registry import Registry


def _cli(tmp_path, package, monkeypatch):  # noqa: F811
    """``workbench`` in-process on a workspace under ``tmp_path`` (no version yet), and its database."""
    return _registry_cli(tmp_path, package, monkeypatch, []), str(tmp_path / "data" / "workbench.db")


def test_export_json_says_why_a_version_is_inactive_after_deactivate(tmp_path, package, capsys, monkeypatch):  # noqa: F811
    """The text output said "dj_section_v2 is registered inactive: dj_section_v1 was deactivated ..."; --json said only
    ``"active": false``."""
    cli, db = _cli(tmp_path, package, monkeypatch)
    first = _run(tmp_path, package, _metrics(0.6), rid="20250101-000000-sections-aaaaaa")
    assert cli("export", first, "--json") == 0
    (v1,) = json.loads(capsys.readouterr().out)["versions"]
    assert v1["active"] and v1["inactive_reason"] is None
    with Registry(db) as r:
        r.deactivate("dj_section")
    second = _run(tmp_path, package, _metrics(0.7), rid="20250101-000001-sections-aaaaaa")
    assert cli("export", second, "--json") == 0
    (v2,) = json.loads(capsys.readouterr().out)["versions"]
    assert not v2["active"]
    assert v2["inactive_reason"] == ("dj_section_v2 is registered inactive: dj_section_v1 was deactivated (`workbench "
                                     "models deactivate dj_section`); `workbench models activate dj_section 2` makes "
                                     "the new one active")


def test_export_json_says_why_for_no_activate_and_for_a_forced_export(tmp_path, package, capsys, monkeypatch):  # noqa: F811
    cli, _ = _cli(tmp_path, package, monkeypatch)
    rid = _run(tmp_path, package, _metrics(0.6), rid="20250101-000000-sections-aaaaaa")
    assert cli("export", rid, "--no-activate", "--json") == 0
    (v,) = json.loads(capsys.readouterr().out)["versions"]
    assert not v["active"] and v["inactive_reason"] == (
        "dj_section_v1 is registered inactive: exported with --no-activate; `workbench models activate dj_section 1` "
        "makes it active")
    bad = _run(tmp_path, package, _metrics(0.2, majority={"accuracy": 0.5, "macro_f1": 0.1}))
    assert cli("export", bad, "--force", "--json") == 0
    (v,) = json.loads(capsys.readouterr().out)["versions"]
    assert not v["active"] and v["inactive_reason"].startswith(
        "dj_section_v2 fails its blocking gate (accuracy of unsmoothed windows): registered but NOT active")
    assert "`workbench models activate dj_section 2 --force`" in v["inactive_reason"]


def test_profile_show_without_embeddings_says_none_in_one_line(style_lib, capsys):  # noqa: F811
    """`profile show` printed "style clusters: 0: 0 reference tracks have embeddings (feature frontend, not OpenL3: no
    OpenL3 weights found (looked for ... in: ...). Copy the published ...): run `workbench embed` ...": a count that
    read as a cluster id and a paragraph about OpenL3 weights where the fix is `workbench embed`."""
    from workbench.cli import main

    lib, _ = style_lib
    assert main(["--db", str(lib.path), "profile", "build", "qa18", "--crate", "ref"]) == 0
    capsys.readouterr()
    assert main(["--db", str(lib.path), "profile", "show", "qa18"]) == 0
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("style clusters")]
    assert line == ("style clusters: none (0 of 6 reference tracks have embeddings, 3 needed: run `workbench embed` "
                    "for style clusters)"), line


def test_label_grid_shows_a_command_as_code_not_backticks(tmp_path):
    """Notebook 02's grid under the labeler read "... or add a file of them with `workbench labels import FILE`", the
    backticks on the page (screenshot /tmp/h18-qa/shots/nb02_02.png)."""
    import pytest

    pytest.importorskip("ipywidgets")
    from browser import build_demo_library

    from workbench.labels import Labels
    from workbench.library import Library
    from workbench.widgets import StatsGrid

    library = Library(build_demo_library(tmp_path / "demo", n_tracks=2, duration_s=30.0))
    grid = StatsGrid(Labels(library))._html.value
    assert "<code>workbench labels import FILE</code>" in grid and "`" not in grid


def test_notebook_03s_before_after_shows_scores_to_4_decimals_without_the_per_class_dict(tmp_path):
    """On the real music, notebook 03's table had a per_class cell holding a dict of 16-digit floats (the backbone row
    only, "-" in the others) and scores to 3 decimals where the report beside it says 0.7995 (shots/nb03_03.png)."""
    from workbench.experiments import before_after
    from workbench.runs import Run

    def split(map_at_r, **extra):  # as the real-music run's metrics.json holds them (session 18)
        return {"test": {"map_at_r": map_at_r, "n_queries": 53, "n_track_queries": 6, "precision_at_1": 0.8679245283,
                         "precision_at_5": 0.8830188679, "r_precision": 0.8423180593, "track_map_at_r": 1.0, **extra}}

    per_class = {"loops": {"n": 2, "precision_at_1": 0.0, "r_precision": 0.0},
                 "supertuxkart": {"n": 32, "precision_at_1": 0.875, "r_precision": 0.875}}
    run = Run(path=tmp_path / "r-embeddings", info={"kind": "embeddings"}, config={}, data={}, history=[],
              metrics={"baseline": split(0.7994602, per_class=per_class), "untrained_head": split(0.7955591),
                       "model": split(0.8723021)})
    table = before_after(run)
    assert "per_class" not in table.columns
    assert table.loc["backbone (no training)", "map_at_r"] == 0.7995
    assert list(table.columns)[-2:] == ["n_queries", "n_track_queries"]
    assert all(table[c].dtype.kind == "f" for c in table.columns[:-2])


def test_jobs_table_says_an_embeddings_job_trained_on_windows_of_classes_not_labels():
    """Notebook 03's jobs table read "labels 123" for an embeddings job on three crates (123 windows; it has no
    labels; shots/nb03_02.png); a sections job's cell says its labels."""
    from workbench.job_records import Job
    from workbench.widgets.jobs import jobs_html

    def job(kind, counts):
        return Job(id=1, kind=kind, state="completed", progress=1.0, epoch=10, total_epochs=10, loss=0.1,
                   label_counts=counts, metrics={}, config={}, error=None, run_id=None, pid=None,
                   created_at="2026-12-07T10:00:00+00:00", started_at=None, updated_at="2026-12-07T10:00:00+00:00",
                   finished_at=None)

    emb = jobs_html([job("embeddings", {"librosa_data": 42, "loops": 7, "supertuxkart": 74})])
    assert ">123 windows, 3 classes<" in emb and ">labels<" not in emb and ">data<" in emb
    assert ">12 labels<" in jobs_html([job("sections", {"intro": 5, "drop": 7})])


def test_notebooks_03_and_04_show_their_tables_scores_to_4_decimals(tmp_path):
    """Notebook 03's before/after and notebook 04's cross-validation tables showed 0.799 and 0.563 (text_left's
    default 3 decimals) above a report that says 0.7995 and 0.5630 (shots/nb03_03.png, nb04b_02.png)."""
    from pathlib import Path

    from workbench.experiments import cv_table
    from workbench.report.tables import text_left
    from workbench.runs import Run

    nbs = Path(__file__).resolve().parents[1] / "notebooks"
    run = Run(path=tmp_path / "r-sections", info={"kind": "sections"}, config={}, data={}, history=[],
              metrics={"cv": {"logreg": {"accuracy": 0.56312, "macro_f1": 0.44912, "seconds": 1.0523},
                                  "mlp": {"accuracy": 0.50743, "macro_f1": 0.41835, "seconds": 6.2634}}})
    for notebook, call in (("03_train_embeddings", "text_left(experiments.before_after(run), precision=4)"),
                           ("04_train_sections", "text_left(experiments.cv_table(run), precision=4)")):
        assert call in (nbs / f"{notebook}.ipynb").read_text(), notebook
    html = text_left(cv_table(run), precision=4).to_html()
    assert ">0.5631<" in html and ">0.4491<" in html and ">0.5074<" in html and ">6.3<" in html


def test_report_model_vs_baselines_writes_scores_to_4_decimals():
    """A sections run's report (notebook 04, `runs report`) read "novelty 1", "ensemble 0.395", "majority 0" beside
    "model 0.4811" (.4g; shots/nb04b_03.png); now every score has 4 fixed decimals and a support stays whole."""
    from workbench.report.baselines import comparison

    metrics = {"model": {"accuracy": 0.48113, "macro_f1": 0.37291,
                         "per_class": {"drop": {"f1": 0.696, "support": 477}}},
               "baselines": {"ensemble": {"accuracy": 0.5511, "macro_f1": 0.395,
                                          "per_class": {"drop": {"f1": 0.73, "support": 477}}},
                             "novelty": {"accuracy": 1.0, "macro_f1": 1.0,
                                         "per_class": {"drop": {"f1": 1.0, "support": 477}}},
                             "majority": {"accuracy": 0.4517, "macro_f1": 0.1556,
                                          "per_class": {"drop": {"f1": 0.0, "support": 477}}}}}
    html = comparison(metrics)
    for text in (">0.4811<", ">0.3950<", ">1.0000<", ">0.6960<", ">0.7300<", ">0.0000<", ">477<"):
        assert text in html, text
    assert ">1<" not in html and ">0.395<" not in html


def test_old_labelers_track_row_wraps_instead_of_cutting_its_buttons(tmp_path):
    """Notebook 04's labeler (suggestions on an unlabelled track) showed "◀ ...", "ne...", "next unl...", "least ce...":
    its first row holds 1157 px of fixed widths and squeezed them in a narrower notebook (shots/nb04b_14.png)."""
    import pytest

    pytest.importorskip("ipywidgets")
    from browser import build_demo_library

    from workbench.library import Library
    from workbench.widgets import Labeler

    library = Library(build_demo_library(tmp_path / "demo", n_tracks=1, duration_s=30.0))
    row = Labeler(library, autoplay=False).children[0]
    assert "wb-next-unlabelled" in [c for child in row.children for c in child._dom_classes]
    assert row.layout.flex_flow == "row wrap"


def test_notebook_06s_version_comparison_shows_numbers_right_and_the_model_first():
    """Leftover of session 17: notebook 06's "compare with the previous version" showed a real sections model's 412
    rows by name (baselines.ensemble.per_class... first), every number aligned left as text because a few rows hold a
    sentence or True, and each sentence whole (as `workbench models compare dj_section 1 2` on the real music)."""
    from workbench.registry_types import Comparison
    from workbench.report.tables import text_columns, text_left

    rows = (("metrics.baselines.ensemble.accuracy", 0.5511, 0.5549, 0.0038),
            ("metrics.baselines.logreg.converged", True, True, None),
            ("metrics.calibration.fitted_on", "leave-one-group-out predictions of the training tracks", "same", None),
            ("metrics.model.accuracy", 0.4811, 0.3703, 0.3703 - 0.4811),
            ("metrics.model_smoothed.accuracy", 0.607, 0.5341, 0.5341 - 0.607),
            ("metrics.n_windows", 3757, 3757, 0),
            ("parity.psnr_db", 100.6124, 101.1229, 0.5105),
            ("size_mb", 19.797, 19.796, -0.001))
    frame = Comparison("dj_section", 1, 2, rows).to_frame()
    assert list(frame.index) == ["metrics.model.accuracy", "metrics.model_smoothed.accuracy", "parity.psnr_db",
                                 "size_mb", "metrics.baselines.ensemble.accuracy", "metrics.n_windows"]
    assert frame.loc["metrics.model.accuracy"].tolist() == ["0.4811", "0.3703", "-0.1108"]
    assert text_columns(frame) == []  # numbers right, as every other table of the notebooks
    assert "the first 3 of 6 rows" in text_left(frame, max_rows=3).to_html()  # notebook 06 shows 30, and says so
    assert len(Comparison("dj_section", 1, 2, rows).to_frame(texts=True)) == len(rows)


def test_report_metric_tables_write_scores_to_4_decimals_and_counts_whole(tmp_path):
    """An embeddings run's report on the real music read "track_map_at_r 1" and "n_queries 53" beside "0.8528"
    (.4g of float(value); shots/supcon_report_curves.png), and a sections run's grouped tables "0.5" beside
    "0.6338"."""
    from workbench.report.overview import _group_table, grouped_metrics
    from workbench.runs import Run

    run = Run(path=tmp_path / "r-embeddings", info={"kind": "embeddings"}, config={}, data={}, history=[],
              metrics={"model": {"track_map_at_r": 1.0, "n_queries": 53, "precision_at_5": 0.85283}})
    html = grouped_metrics(run, {"track_map_at_r": 1.0, "n_queries": 53, "precision_at_5": 0.85283, "nmi": 0.7})
    for text in (">1.0000<", ">53<", ">0.8528<", ">0.7000<"):
        assert text in html, text
    assert ">1<" not in html and ">53.0<" not in html
    grouped = _group_table({"smoothed": {"boundary_f_3s": 0.5, "tracks": 4}}, where="4 tracks")
    assert ">0.5000<" in grouped and ">4<" in grouped


def test_gap_advice_for_a_mono_four_on_the_floor_loop_is_words_not_the_raw_fallback():
    """Notebook 07's work in progress (a drum loop, loops/loop_mika.flac, against supertuxkart) read "phase_correlation
    1, target 0.198-0.905 (-1..1)" and "four_on_floor 1, target 0.445-0.778 (0..1)": no advice above the range
    (shots/nb07w_06.png)."""
    from workbench.style.gap import _advice

    assert _advice("phase_correlation", 1.0, 0.1983, 0.9055) == (
        "left/right correlation 1.00, target under 0.91: the mix is nearly mono; widen it (stereo pads, panned "
        "percussion)")
    assert _advice("four_on_floor", 1.0, 0.4448, 0.7778) == (
        "kick on 100% of beats, target under 78%: leave some beats without a kick (a broken beat, fills)")
    assert _advice("four_on_floor", 0.3761, 0.4448, 0.7778).endswith("a kick on every beat")


def test_suggest_text_says_uncertain_as_the_json_and_the_labeler_do():
    """`workbench suggest 12` on the real music printed "break 0-5 0.0-5.3 34%" while --json said "uncertain": true
    and the labeler marks it "uncertain"."""
    from workbench.commands.suggest import suggestion_line

    row = {"label": "break", "start_beat": 0, "end_beat": 5, "start_s": 0.0, "end_s": 5.333, "confidence": 0.3406,
           "uncertain": True}
    assert suggestion_line(row).split() == ["break", "0-5", "0.0-5.3", "34%", "uncertain"]
    assert suggestion_line({**row, "uncertain": False}).split()[-1] == "34%"
