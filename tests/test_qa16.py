"""Session 16's QA defects, one test (or a few) each: every one failed before its fix."""

from __future__ import annotations

import json
import re

import pytest
from test_search_model import lib, music, prepared  # noqa: F401  (fixtures: an embedded library)


def _body_rows(html: str) -> int:
    """How many rows a Styler's HTML shows (its hidden rows are not written)."""
    body = html.split("<tbody>", 1)[1]
    return len(re.findall(r"<tr>", body))


def test_text_left_cuts_a_styler_at_max_rows():
    """text_left(styler, max_rows=5) showed all 40 rows: max_rows applied to a DataFrame only."""
    import pandas as pd

    from workbench.report.tables import text_left

    frame = pd.DataFrame({"name": [f"t{i}" for i in range(40)], "score": [i / 40 for i in range(40)]})
    html = text_left(frame.style.highlight_max(subset=["score"]), max_rows=5).to_html()
    assert _body_rows(html) == 5, html
    assert "the first 5 of 40 rows" in html and "t4" in html and "t5<" not in html
    assert _body_rows(text_left(frame.style, max_rows=50).to_html()) == 40  # fewer rows than max_rows: all shown


def test_text_left_refuses_to_cut_a_styler_with_a_repeated_index():
    import pandas as pd

    from workbench.errors import ParameterError
    from workbench.report.tables import text_left

    frame = pd.DataFrame({"score": range(6)}, index=["a", "b", "a", "c", "d", "e"])
    with pytest.raises(ParameterError, match=r"max_rows=3.*'a'"):
        text_left(frame.style, max_rows=3)
    assert _body_rows(text_left(frame, max_rows=3).to_html()) == 3  # the frame itself is cut as before


def test_models_activate_names_the_way_back(tmp_path, capsys, monkeypatch):
    """`models activate --force` (and its refusal) said nothing of how to undo it."""
    pytest.importorskip("coremltools")
    from test_registry import _add, _parser

    from workbench.evaluate.gates import GateFailedError
    from workbench.registry import Registry

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    bad = {"accuracy": 0.9, "macro_f1": 0.9}  # a majority baseline the model falls below
    pkg = _one_package(tmp_path)
    with Registry(db) as r:
        _add(r, pkg, 0.5)                                  # v1, active
        _add(r, pkg, 0.6, activate=False)                  # v2
        _add(r, pkg, 0.2, majority=bad, activate=False, force=True)  # v3 fails its gate
    p = _parser()

    def cli(*argv):
        args = p.parse_args(["--db", db, *argv])
        return args.func(args)

    with pytest.raises(GateFailedError) as refused:
        cli("models", "activate", "dj_section", "3")
    said = str(refused.value)
    assert "Pass --force" in said and "If you force it, `workbench models activate dj_section 1` goes back to " \
                                     "dj_section_v1 (`workbench models rollback dj_section` activates dj_section_v2" in said
    assert cli("models", "activate", "dj_section", "2") == 0  # v2 active: rollback from v3 comes back to it
    capsys.readouterr()
    assert cli("models", "activate", "dj_section", "3", "--force", "--json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["forced_past_gates"] is True
    assert "WARNING: dj_section_v3 is ACTIVE past its failing gates" in err
    assert "`workbench models rollback dj_section` goes back to dj_section_v2" in err
    assert cli("models", "rollback", "dj_section") == 0 and "dj_section_v2" in capsys.readouterr().out  # it does
    assert cli("models", "activate", "dj_section", "1", "--force") == 0  # passes its gates: nothing to warn of
    assert "WARNING" not in capsys.readouterr().err


def _one_package(tmp_path):
    """A small exported section classifier (coremltools)."""
    import torch

    from workbench.export.coreml import export_classifier
    from workbench.models.heads import SectionClassifier

    torch.manual_seed(0)
    return export_classifier(SectionClassifier(16, hidden_dim=32).eval(), tmp_path / "clf.mlpackage",
                             metadata={"metrics": {"model": {"accuracy": 0.5}}})


def test_a_sections_report_says_invariance_is_not_applicable(tmp_path):
    """The sections report read 'invariance: not recorded', as if a measurement were missing."""
    from test_report import _section_of

    from workbench.report import report
    from workbench.runs import write_run

    sections = write_run("20250101-000000-sections-abcdef", info={"kind": "sections"}, config_={}, data={},
                         history=[], metrics={"model": {"accuracy": 0.8}}, root=tmp_path)
    said = _section_of(report(sections).read_text(), "Invariance")
    assert "not applicable" in said and "not recorded" not in said, said
    embeddings = write_run("20250101-000000-embeddings-abcdef", info={"kind": "embeddings"}, config_={}, data={},
                           history=[], metrics={"model": {"map_at_r": 0.8}}, root=tmp_path)
    said = _section_of(report(embeddings).read_text(), "Invariance")  # an embeddings run should have measured it
    assert "not recorded" in said and "not applicable" not in said, said


def test_label_stats_say_there_are_no_labels_and_how_to_make_some(tmp_path):
    """Notebook 02's grid read '0/12 tracks labelled, 0.0 labels per labelled track' on a new library."""
    pytest.importorskip("ipywidgets")
    from browser import build_demo_library

    from workbench.labels import Labels
    from workbench.library import Library
    from workbench.widgets import StatsGrid

    library = Library(build_demo_library(tmp_path / "demo", n_tracks=2, duration_s=30.0))
    labels = Labels(library)
    grid = StatsGrid(labels)._html.value
    assert "0.0 labels" not in grid and "no labels yet (0/2 tracks labelled)" in grid
    assert "drag across the waveform in the labeler above" in grid and "workbench labels import FILE" in grid
    said = str(labels.stats())
    assert "0.0 per labelled track" not in said and "no labels yet" in said and "02_label_sections" in said
    track = library.tracks()[0]
    labels.add(track, "intro", start_beat=0, end_beat=16)
    grid = StatsGrid(labels)._html.value
    assert "1/2 tracks labelled, 1.0 labels per labelled track" in grid and "no labels yet" not in grid


def test_show_finds_the_runs_library_for_search_before_after(lib, monkeypatch):  # noqa: F811  (lib: a fixture)
    """Notebook 03's report read 'search before/after: not recorded': show(run) took no library."""
    from test_search_model import head_run

    from workbench.report import show
    from workbench.report.search_section import FILE, find_library

    run, _, held = head_run(lib, "run-show")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    assert find_library(run) is None  # $WORKBENCH_DB unset and no data/workbench.db beside experiments/
    show(run)
    assert "not recorded" in _report_part(shown[-1], "Search before/after")
    monkeypatch.setenv("WORKBENCH_DB", str(lib.path))  # the library a notebook opens
    assert find_library(run) == lib.path.resolve()
    show(run)
    part = _report_part(shown[-1], "Search before/after")
    assert "precision@3 by folder" in part and "head of run run-show" in part, part
    assert (run.path / FILE).is_file()
    # a library without the run's held-out tracks is never searched in its name
    other, _, _ = head_run(lib, "run-other", held=[*held, "f" * 64])
    assert find_library(other) is None


def _report_part(html: str, title: str) -> str:
    """One ``<h2>`` section of a report's HTML."""
    return html.split(f"<h2>{title}</h2>", 1)[1].split("<h2>", 1)[0]


def test_started_text_is_the_runs_views_minutes():
    from workbench.runs import started_text

    assert started_text("2026-12-07T01:34:12.531123+00:00") == "2026-12-07 01:34"
    assert started_text("2026-12-07T02:34:12+01:00") == "2026-12-07 01:34"  # shown in UTC, as recorded
    assert started_text(None) is None and started_text(float("nan")) is None and started_text("") is None
    assert started_text("yesterday") == "yesterday"  # not a time: as recorded


def _mixed_runs(root):
    """Three embeddings runs, then one sections run (the kind with the most runs is embeddings)."""
    from workbench.report.examples import write_example_run

    ids = [write_example_run("embeddings", root=root, seed=s, quality=q).name for s, q in ((2, 0.6), (3, 0.7), (4, 0.8))]
    ids.append(write_example_run("sections", root=root, seed=1, n_tracks=12, quality=0.6).name)
    return ids


def test_the_scatter_of_one_kind_has_its_baseline_among_its_points(tmp_path):
    """Notebook 05 scattered the first two metric columns (a sections run's accuracy and macro F1) with an
    embeddings run as the baseline: one point, no star."""
    from workbench.errors import ParameterError
    from workbench.report.runs_view import runs_view

    ids = _mixed_runs(tmp_path)
    view = runs_view(tmp_path, baseline=ids[0])
    assert view.metrics[:2] == ["model.accuracy", "model.macro_f1"]  # the sections run's: the old scatter's pair
    pair = view.kind_metrics("embeddings")[:2]
    assert pair == ["model.map_at_r", "model.precision_at_1"], pair
    title = view.scatter_figure(*pair, kind="embeddings").axes[0].get_title()
    assert title == "3 embeddings runs · star: baseline", title
    assert view.kind_metrics("sections")[:2] == ["model.accuracy", "model.macro_f1"]
    assert view.scatter_figure("accuracy", "macro_f1", kind="embeddings").axes[0].get_title().startswith(
        "0 embeddings runs (3 without both metrics left out)")
    with pytest.raises(ParameterError, match="kind must be one of"):
        view.kind_metrics("tempo")


def test_notebook_05_shows_readable_times_and_a_baseline_of_the_scatters_kind(tmp_path):
    from test_notebooks import execute, outputs

    root = tmp_path / "experiments"
    ids = _mixed_runs(root)
    for sub in ("data", "models"):
        (tmp_path / sub).mkdir()
    nb = execute("05_compare_experiments.ipynb", tmp_path, {"EXPERIMENTS": str(root)})
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    tables = "\n".join(h for h in outputs(nb, "text/html") if "wb-report" not in h)  # the runs, not a run's record
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", tables), "an ISO time in a runs table"
    table = next(h for h in outputs(nb, "text/html") if ">started (UTC)<" in h and ids[0] in h)
    assert re.search(r">\d{4}-\d\d-\d\d \d\d:\d\d<", table), table
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert f"baseline: {ids[0]}, the oldest of the 3 embeddings runs" in text, text
    assert outputs(nb, "image/png")  # the scatter


def test_notebook_05_says_plainly_when_there_is_no_run(tmp_path):
    from test_notebooks import execute

    for sub in ("data", "models", "experiments"):
        (tmp_path / sub).mkdir()
    nb = execute("05_compare_experiments.ipynb", tmp_path, {"EXPERIMENTS": str(tmp_path / "experiments"),
                                                            "EXAMPLES_IF_EMPTY": False})
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "no baseline: there are no runs yet" in text and "no scatter: no runs yet" in text, text


def test_runs_list_shows_the_start_as_the_runs_view_does(tmp_path, monkeypatch, capsys):
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("WORKBENCH_DB", raising=False)
    ids = _mixed_runs(tmp_path / "experiments")
    assert main(["--quiet", "runs", "list"]) == 0
    out = capsys.readouterr().out
    assert ids[0] in out and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? ", out) and not re.search(r"\dT\d\d:", out), out
    assert main(["--quiet", "runs", "list", "--json"]) == 0  # scripts keep the ISO time
    assert "T" in json.loads(capsys.readouterr().out)[0]["started"]


def test_the_trance_score_is_said_only_for_a_trance_profile():
    """Notebook 07 printed a 'trance score' for a profile of drum loops."""
    from workbench.style.gap import gap_said
    from workbench.style.scores import scores_for

    assert scores_for({"name": "trance", "source": "crate:trance"}) == ["trance"]
    assert scores_for({"name": "mine", "source": "folder:uplifting-trance"}) == ["trance"]
    assert scores_for({"name": "loops", "source": "folder:loops"}) == []
    assert scores_for({"name": "trancey", "source": "crate:entrance"}) == []  # a word, not a part of one
    gap = {"target": "/abs/music/loops/loop_amen_full.flac", "name": "loops/loop_amen_full.flac", "outside": ["bpm"],
           "features": [{}] * 18, "trance_score": {"value": 0.42, "applies": False}}
    assert gap_said(gap) == "loops/loop_amen_full.flac: 1 of 18 features outside the range"
    assert gap_said({**gap, "trance_score": {"value": 0.42, "applies": True}}).endswith(", trance score 0.42")


def test_a_gap_names_its_track_under_the_scanned_folder(tmp_path):
    from browser import build_demo_library

    from workbench.library import Library
    from workbench.style import build_profile, gap_analysis

    with Library(build_demo_library(tmp_path / "demo", n_tracks=3, duration_s=30.0)) as library:
        tracks = library.tracks()
        profile = {**build_profile(library, "loops", tracks[:2], source="folder:loops", min_tracks=2), "version": 1}
        gap = gap_analysis(library, profile, tracks[2].id)
        rel = str(tracks[2].path)[len(str(tracks[2].scan_root)) + 1:]
        assert gap["name"] == rel and not gap["name"].startswith("/") and gap["target"] == tracks[2].path
        assert gap["trance_score"]["applies"] is False
        trance = {**profile, "name": "trance", "source": "crate:trance"}
        assert gap_analysis(library, trance, tracks[2].id)["trance_score"]["applies"] is True


def test_a_spreadsheets_tab_separated_unicode_text_is_read_by_its_columns(tmp_path):
    """Excel's 'Unicode Text' (UTF-16 with its mark, tabs, CRLF, saved as .txt) was read as one column."""
    import soundfile as sf
    from test_analysis import SR, groove

    from workbench.labels import Labels
    from workbench.labels.formats import csv_delimiter
    from workbench.library import Library

    folder = tmp_path / "my music, live"  # a comma in every path: a tab file must not split on it
    folder.mkdir()
    sf.write(folder / "g.flac", groove(124.0, 20.0, seed=0), SR)
    with Library(tmp_path / "w.db") as library:
        library.scan(folder)
        track = library.tracks()[0]
        rows = ["Label\tPath\tstart_beat\tend_beat", f"intro\t{track.path}\t0\t16", f"drop\t{track.path}\t16\t32"]
        unicode_text = tmp_path / "labels.txt"
        unicode_text.write_bytes("\r\n".join(rows).encode("utf-16") + "\r\n".encode("utf-16-le"))
        summary = Labels(library).import_(unicode_text)
        assert summary.n_added == 2, summary
        assert sorted((lab.label, lab.start_beat) for lab in Labels(library).for_track(track)) == [("drop", 16), ("intro", 0)]
    assert csv_delimiter("label;path;start_s;end_s\nintro;a.flac;0,5;8\n") == ";"
    assert csv_delimiter("label,path,start_s,end_s\n") == ","
    assert csv_delimiter("nothing here\n") == ","  # no label column: the header's own error says so


def test_labels_import_help_names_the_tab_separated_files(capsys):
    """`labels import --help` listed .json, .csv and .jams only: a user with a spreadsheet's .txt could not tell."""
    from workbench.cli import main

    with pytest.raises(SystemExit):
        main(["labels", "import", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert ".tsv" in said and ".txt" in said and "tab-separated" in said
