"""Session 15's demanding user: what tripped a DJ walking the README on the real-music folder."""

from __future__ import annotations

import json
import re

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from workbench.cli import main

# -- the explorer map: names moved apart ----------------------------------------------------------------------

def _crowded_points():
    import pandas as pd

    # the real-music map had five game tracks within a name's width of each other (Sky Vibe, track3, egypt, ...)
    xs = [0.0, 0.15, 0.3, 0.1, 0.25, 0.2, 5.0, 9.0, 9.1]
    ys = [0.0, 0.05, 0.0, -0.08, -0.1, 0.1, 4.0, 1.0, 0.9]
    names = ["Sky Vibe - High Frequency", "track3", "Let's Go Fishin'", "egypt", "celtic", "bay", "loop_compus",
             "P. I. Tchaikovsky: Dance of the Sugar Plum Fairy", "Hungarian Dance No. 5"]
    points = pd.DataFrame({"x": xs, "y": ys, "name": names, "group": ["a"] * 6 + ["b"] * 3},
                          index=range(1, len(xs) + 1))
    points.attrs.update(group_by="folder", backbone="feature frontend features-v1 (weight-free; not OpenL3)")
    return points


def _overlapping_names(ax) -> list[tuple[str, str]]:
    boxes = [(t.get_text(), t.get_window_extent()) for t in ax.texts]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[:i] if box_a.overlaps(box_b)]


def test_the_embedding_maps_names_do_not_cover_each_other(monkeypatch):
    """Names were written at a fixed offset from their points: on the real-music map 'Sky Vibe - High
    Frequency' ran over 'track3' and 'Let's Go Fishin'', Tchaikovsky over the Hungarian Dance."""
    from workbench import explore

    monkeypatch.setattr(explore, "embedding_points", lambda *a, **kw: _crowded_points())
    fig = explore.embedding_map(None)
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    assert len(ax.texts) == 9
    assert _overlapping_names(ax) == []
    frame = ax.get_window_extent()
    for text in ax.texts:  # and none runs out of the map
        box = text.get_window_extent()
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, text
    # a cut name says it was cut; the legend sits beside the map, over no point or name
    assert "P. I. Tchaikovsky: Dance of…" in [t.get_text() for t in ax.texts]
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= frame.x1


def test_the_runs_scatter_names_runs_that_score_alike_apart(tmp_path):
    """Two runs with the same two metrics had their names printed on top of each other."""
    from workbench.report.examples import write_example_run
    from workbench.report.runs_view import runs_view

    for n in range(3):
        write_example_run("sections", root=tmp_path, seed=1, n_tracks=12, quality=0.6, config={"dropout": 0.1 * n})
    fig = runs_view(tmp_path).scatter_figure("accuracy", "macro_f1")
    FigureCanvasAgg(fig).draw()
    assert len(fig.axes[0].texts) == 3 and _overlapping_names(fig.axes[0]) == []


# -- runs list --json: 'started', as the table says ---------------------------------------------------------

def test_runs_list_json_says_started_as_the_table_heads_it(tmp_path, capsys):
    """The text table heads the job's start 'started'; --json called it only 'created'."""
    from workbench.runs import write_run

    write_run("sections-x-1", info={"kind": "sections", "created_at": "2026-01-01T00:00:00+00:00"}, config_={},
              data={"tracks": [1]}, history=[], metrics={"model": {"accuracy": 0.5}}, root=tmp_path / "experiments")
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "runs", "list"]) == 0
    head = capsys.readouterr().out.splitlines()[0].split()
    assert "started" in head and "created" not in head
    assert main(["--home", str(tmp_path), "runs", "list", "--json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["started"] == rec["created"] == "2026-01-01T00:00:00+00:00"


# -- labels import: a whole-file problem says everything to fix at once ---------------------------------------

@pytest.fixture
def lib(tmp_path):
    from workbench.library import Library

    return Library(tmp_path / "w.db")


def _refusal(lib, path) -> str:
    from workbench.labels import LabelError, Labels

    with pytest.raises(LabelError) as err:
        Labels(lib).import_(path)
    return str(err.value)


def test_a_csv_header_names_every_missing_column_at_once(lib, tmp_path):
    """A hand-made CSV ('Track', 'start', 'end') was refused with a generic rule; each fix then met the next refusal."""
    p = tmp_path / "mine.csv"
    p.write_text("label,Track,start,end\nintro,1,0,16\n")
    said = _refusal(lib, p)
    assert "no 'content_hash' or 'path' column" in said
    assert "no 'start_beat' and 'end_beat' (or 'start_s' and 'end_s') columns" in said
    assert "columns not used: 'Track', 'start', 'end'" in said and said.endswith("nothing was imported")
    p.write_text("label,track_id,start_beat\nintro,1,0\n")
    said = _refusal(lib, p)
    assert "'track_id' alone is not enough" in said and "'start_beat' without 'end_beat'" in said


def test_a_spreadsheets_csv_reads_with_its_byte_order_mark_and_capitalised_header(lib, tmp_path):
    """Excel's 'CSV UTF-8' starts with a byte-order mark: its first column read '\\ufefflabel' and the file was refused."""
    import soundfile as sf
    from test_analysis import SR, groove

    from workbench.labels import Labels

    (tmp_path / "music").mkdir()
    sf.write(tmp_path / "music" / "g.flac", groove(124.0, 20.0, seed=0), SR)
    lib.scan(tmp_path / "music")
    track = lib.tracks()[0]
    p = tmp_path / "excel.csv"
    p.write_bytes(b"\xef\xbb\xbfLabel, Path ,start_beat,end_beat\r\n" + f"intro,{track.path},0,16\r\n".encode())
    summary = Labels(lib).import_(p)
    assert summary.n_added == 1, summary
    utf16 = tmp_path / "unicode.csv"  # a spreadsheet's "Unicode text"
    utf16.write_bytes(f"label,path,start_beat,end_beat\nbreak,{track.path},16,32\n".encode("utf-16"))
    assert Labels(lib).import_(utf16).n_added == 1


def test_a_json_file_names_every_whole_file_problem(lib, tmp_path):
    """The first bad 'tracks' entry stopped the read; format and version were said one at a time."""
    p = tmp_path / "old.json"
    p.write_text(json.dumps({"format": "wrong", "version": 3, "tracks": [1, {"labels": 3}, {"labels": []}]}))
    said = _refusal(lib, p)
    for part in ("'format' must be 'workbench-labels'; got 'wrong'", "'version' must be 1", "tracks[0]", "tracks[1]"):
        assert part in said
    assert "tracks[2]" not in said and said.endswith("nothing was imported")


def test_an_unreadable_label_file_says_why_in_words(lib, tmp_path):
    said = _refusal(lib, tmp_path / "missing.csv")
    assert said.endswith("cannot read the label file: no such file; nothing was imported")
    p = tmp_path / "latin1.csv"
    p.write_bytes("label,path,start_s,end_s\nintro,caf\xe9.flac,0,8\n".encode("latin-1"))
    assert "not a text file in UTF-8" in _refusal(lib, p) and "CSV UTF-8" in _refusal(lib, p)


def test_a_label_file_in_utf16_without_its_mark_or_cut_short_is_refused_by_its_encoding(lib, tmp_path):
    """UTF-16 without a byte-order mark decoded as UTF-8 into NUL-strewn columns ('l\\x00a\\x00b...': no 'label'
    column); a UTF-16 file cut at an odd byte was said to be 'not UTF-8'."""
    text = "label,path,start_s,end_s\nintro,a.flac,0,8\n"
    bare = tmp_path / "bare16.csv"
    bare.write_bytes(text.encode("utf-16-le"))
    said = _refusal(lib, bare)
    assert "not a text file in UTF-8 (a NUL character at character 1: UTF-16 without a byte-order mark" in said
    assert said.endswith("nothing was imported")
    cut = tmp_path / "cut16.csv"
    cut.write_bytes(text.encode("utf-16")[:-1])
    assert "not a text file in UTF-16 (byte" in _refusal(lib, cut)


# -- notebook tables: text left, numbers right, in every notebook ------------------------------------------

def test_text_left_aligns_row_names_and_keeps_numbers_written_as_text_right():
    import pandas as pd

    from workbench.report.tables import text_columns, text_left

    gap = pd.DataFrame({"feature": ["detune_cents"], "value": ["12.5"], "unit": ["cents"], "range": ["20 .. 40"],
                        "z": ["+1.23"], "advice": ["widen the supersaw"]})
    assert text_columns(gap) == ["feature", "unit", "range", "advice"]  # value and z read as numbers
    cv = pd.DataFrame({"accuracy": [0.8, 0.7]}, index=["mlp", "logreg"])
    html = text_left(cv).to_html()
    assert "th.row_heading" in html.split("</style>")[0] and "text-align: left" in html
    styled = pd.DataFrame({"a": [1.0]}, index=["accuracy"]).style.format("{:.4g}")
    assert "th.row_heading" in text_left(styled).to_html()  # a Styler keeps its format and gains the alignment


@pytest.mark.parametrize("notebook, tables", [
    ("03_train_embeddings", ["experiments.before_after(run)"]),
    ("04_train_sections", ["experiments.cv_table(run)"]),
    ("05_compare_experiments", ["table", "comparison.metrics_styled()"]),
    ("06_export_models", ["pd.DataFrame(gate_rows)", "registry.frame()", ".to_frame()"]),
    ("07_style_dna", ["profile_table(profile)", "gap_table(gap_other)", "gap_table(gap_wip)"]),
])
def test_every_notebooks_tables_go_through_text_left(notebook, tables):
    """Session 14 aligned notebook 01's tables; 03-07 still showed text right-aligned under JupyterLab's CSS."""
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / f"{notebook}.ipynb").read_text())
    shown = []  # each code cell's last line (what Jupyter shows) and its display(...) calls
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            shown += [ln.strip() for ln in lines if "display(" in ln] + [lines[-1].strip()]
    for table in tables:
        uses = [ln for ln in shown if table in ln]
        assert uses and all("text_left(" in ln for ln in uses), (table, uses)


# -- bare commands list their actions -------------------------------------------------------------------------

@pytest.mark.parametrize("command, actions", [("models", ("list", "activate", "rollback")),
                                              ("train", ("embeddings", "sections"))])
def test_a_bare_command_lists_what_it_can_do(command, actions, tmp_path, capsys):
    """`workbench models` and `workbench train` said only 'the following arguments are required'
    (and `train`'s help was the jobs command's), where `runs` and `crates` list their actions."""
    assert main(["--home", str(tmp_path), command]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"usage: workbench {command} ") and all(f"    {a}" in out for a in actions), out


def test_train_help_names_the_workspaces_experiments_folder(capsys):
    """`train sections --help` said 'default experiments/' (the current folder's), while runs go to <home>/experiments."""
    with pytest.raises(SystemExit):
        main(["train", "sections", "--help"])
    assert "<home>/experiments" in " ".join(capsys.readouterr().out.split())


def test_train_sections_names_the_labelled_tracks_qa_left_out(tmp_path):
    """12 tracks labelled, 'tracks 10' in `runs list`, and nothing said of the two that QA flags left out."""
    import soundfile as sf
    from test_analysis import SR, groove

    from workbench.commands.train import qa_left_out_line
    from workbench.library import Library
    from workbench.runs import write_run

    (tmp_path / "music").mkdir()
    sf.write(tmp_path / "music" / "clipped.flac", groove(124.0, 6.0, seed=0), SR)
    lib = Library(tmp_path / "w.db")
    lib.scan(tmp_path / "music")
    tid = lib.tracks()[0].id
    with_qa = write_run("sections-a-1", info={"kind": "sections"}, config_={}, data={"tracks": [], "qa_excluded": [tid]},
                        history=[], metrics={}, root=tmp_path / "x")
    line = qa_left_out_line(lib, with_qa)
    assert line.startswith("1 labelled track left out by QA flags: clipped (") and "workbench qa keep" in line
    none = write_run("sections-b-1", info={"kind": "sections"}, config_={}, data={"tracks": []}, history=[],
                     metrics={}, root=tmp_path / "x")
    assert qa_left_out_line(lib, none) is None


def test_every_runs_view_says_started_as_runs_list_does(tmp_path, capsys):
    """`runs table`, the runs page, the comparison and the run report headed the same time 'created'."""
    from workbench.experiments import compare
    from workbench.report import report
    from workbench.report.examples import write_example_run
    from workbench.report.runs_view import runs_view

    a = write_example_run("sections", root=tmp_path / "experiments", seed=1, n_tracks=12, quality=0.6)
    b = write_example_run("sections", root=tmp_path / "experiments", seed=2, n_tracks=12, quality=0.7)
    assert main(["--home", str(tmp_path), "runs", "table"]) == 0
    line, first = capsys.readouterr().out.splitlines()[:2]
    assert "started (UTC)" in line and "created" not in line.split()  # the zone, as the jobs table heads it
    assert re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d ", first), first  # not the ISO value
    assert main(["--home", str(tmp_path), "runs", "table", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)["runs"][0]
    assert rec["started"] == rec["created"] is not None
    assert "<th>started (UTC)</th>" in runs_view(tmp_path / "experiments").to_html()
    assert "<th>started (UTC)</th>" in compare([a.name, b.name], root=tmp_path / "experiments")._repr_html_()
    page = report(a.name, root=tmp_path / "experiments").read_text()
    assert "· started 20" in page and "· created" not in page


def test_train_embeddings_names_the_tracks_it_left_out(tmp_path):
    """'left out (no class, or alone in theirs): tracks 13, 19': numbers a user had to look up."""
    from workbench.commands.train import embeddings_lines
    from workbench.runs import write_run

    run = write_run("embeddings-a-1", info={"kind": "embeddings"}, config_={},
                    data={"tracks": [], "class_source": {"source": "crates", "tracks_per_class": {"loops": 6},
                                                         "dropped": [13, 19], "qa_excluded": [1]}},
                    history=[], metrics={}, root=tmp_path)
    text = "\n".join(embeddings_lines(run, {13: "Nebula", 19: "track3", 1: "machine_wars"}))
    assert "tracks 13 Nebula, 19 track3" in text and "tracks 1 machine_wars" in text
    assert "tracks 13, 19" in "\n".join(embeddings_lines(run))  # without names, as before


def test_suggest_says_when_the_active_section_model_was_forced_past_its_gates(tmp_path, monkeypatch):
    """`export RUN --force` made a model that loses to the majority class active; `suggest` then named it
    plainly, where the newest run that is not active says it fails its gates."""
    import argparse

    from workbench.commands.suggest import section_run
    from workbench.report.examples import write_example_run
    from workbench.runs import load_run
    from workbench.widgets import suggest

    weak = load_run(write_example_run("sections", root=tmp_path / "experiments", seed=1, n_tracks=12, quality=0.6))
    weak.metrics["model"].update(accuracy=0.2, macro_f1=0.1)  # below always-the-majority
    weak.metrics["baselines"] = {"majority": {"accuracy": 0.4, "macro_f1": 0.15}}
    monkeypatch.setattr(suggest, "active_section_run", lambda *a, **kw: (weak, 1, "dj_section_v1"))
    _, said = section_run(argparse.Namespace(home=str(tmp_path), db=None, run=None), None)
    assert said.startswith("active model dj_section_v1 (forced past its gates: not better than majority")
    good = load_run(write_example_run("sections", root=tmp_path / "experiments", seed=2, n_tracks=12, quality=0.95))
    good.metrics["baselines"] = {"majority": {"accuracy": 0.4, "macro_f1": 0.15}}
    monkeypatch.setattr(suggest, "active_section_run", lambda *a, **kw: (good, 2, "dj_section_v2"))
    assert section_run(argparse.Namespace(home=str(tmp_path), db=None, run=None), None)[1] == "active model dj_section_v2"


def test_text_left_shows_whole_numbers_and_gaps_as_a_reader_expects():
    """Notebook 05's runs table under text_left read 'n_splits 3.000', 'baseline_max_windows 3000.000' and 'nan'
    (an int column with a gap for the other kind of run becomes float)."""
    import re

    import numpy as np
    import pandas as pd

    from workbench.report.tables import text_left

    frame = pd.DataFrame({"n_splits": [3.0, np.nan], "holdout": [0.25, np.nan], "kind": ["sections", "embeddings"]})
    cells = re.findall(r">([^<>]+)</td>", text_left(frame).to_html())
    assert cells == ["3", "0.25", "sections", "–", "–", "embeddings"]  # a column rounded to 2 decimals shows 2


def test_notebook_05_heads_the_jobs_start_started():
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "05_compare_experiments.ipynb").read_text())
    cell = next("".join(c["source"]) for c in nb["cells"] if "table = runs_table(EXPERIMENTS" in "".join(c["source"]))
    shown = next(ln for ln in cell.splitlines() if ln.startswith("text_left(table"))
    assert '.rename(columns={"created": STARTED_HEADING})' in shown  # as the runs view says it
    assert 'started = table["created"].map(started_text)' in cell and "table.assign(created=started)" in shown


def test_a_run_is_found_by_the_end_of_its_id_and_a_miss_names_the_newest_runs(tmp_path):
    """`runs report sections-cfbd31` (the part of the id a user reads) was refused; a typo named no run to pick from."""
    from workbench.errors import StoreError
    from workbench.runs import load_run, write_run

    for rid in ("20261207-004534-sections-cfbd31", "20261207-004750-embeddings-e31818", "20261207-005000-sections-aa31"):
        write_run(rid, info={"kind": rid.split("-")[2]}, config_={}, data={}, history=[], metrics={}, root=tmp_path)
    assert load_run("cfbd31", root=tmp_path).run_id == "20261207-004534-sections-cfbd31"
    assert load_run("sections-cfbd31", root=tmp_path).run_id == "20261207-004534-sections-cfbd31"
    assert load_run("20261207-0047", root=tmp_path).run_id == "20261207-004750-embeddings-e31818"
    with pytest.raises(StoreError, match="3 run ids match it: .*: give more of the id"):
        load_run("20261207-00", root=tmp_path)
    # a digit or two that happens to end one id is no run id: "18" ends only e31818, "1" only ...cfbd31
    for part in ("18", "1", "bd31"):
        with pytest.raises(StoreError, match="the newest runs"):
            load_run(part, root=tmp_path)
    with pytest.raises(StoreError, match=r"the newest runs: .*-sections-aa31 \(`workbench runs list` lists all\)"):
        load_run("sections", root=tmp_path)  # a word inside ids is not a run
    with pytest.raises(StoreError, match="no runs under .* yet"):
        load_run("x", root=tmp_path / "empty")


def test_a_groups_top_key_says_how_few_tracks_hold_it():
    """The real loops crate's top key read '4A': one trumpet loop of seven (six drum loops have no key)."""
    import pandas as pd

    from workbench.explore import group_summary

    table = pd.DataFrame({"group": ["loops"] * 7 + ["kart"] * 5 + ["b"] * 3,
                          "camelot": ["4A"] + [None] * 6 + ["5A", "5A", "8A", "10B", "11B"] + ["8A", "8A", "5A"],
                          "bpm": 120.0, "energy": 5, "loudness_lufs": -12.0, "duration_s": 60.0})
    top = group_summary(table)["top_camelot"].to_dict()
    assert top == {"loops": "4A (1 of 7)", "kart": "5A (2 of 5)", "b": "8A"}, top  # a majority needs no count
    nb = json.loads((__import__("pathlib").Path(__file__).resolve().parents[1] / "notebooks"
                     / "01_explore_library.ipynb").read_text())
    assert any("text_left(explore.group_summary(table))" in "".join(c["source"]) for c in nb["cells"])


def test_the_lint_note_gives_a_flexible_input_its_range_not_a_coremltools_symbol():
    """`export` printed "input 'samples': fp32 (1, is432)": is432 is coremltools' name for the flexible axis."""
    from workbench.export.lint import _shape_text

    assert _shape_text((1, "is432"), '{"1": [220500, 39690000]}') == "(1, 220500..39690000)"
    assert _shape_text((1, 128, "s9"), None) == "(1, 128, ?)"
    assert _shape_text((1, 202), None) == "(1, 202)"


def test_runs_compare_says_when_the_runs_are_of_different_kinds(tmp_path, capsys):
    """Comparing a sections run with an embeddings run printed 'label counts: intro 10->0, ..., loops 0->6' as
    if the data had changed."""
    from workbench.report.examples import write_example_run

    a = write_example_run("sections", root=tmp_path / "experiments", seed=1, n_tracks=12, quality=0.6)
    b = write_example_run("embeddings", root=tmp_path / "experiments", seed=2, quality=0.7)
    c = write_example_run("sections", root=tmp_path / "experiments", seed=3, n_tracks=12, quality=0.7)
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "runs", "compare", a.name, b.name]) == 0
    assert capsys.readouterr().out.startswith("note: these runs are of different kinds (embeddings, sections)")
    assert main(["--home", str(tmp_path), "runs", "compare", a.name, c.name]) == 0
    assert "different kinds" not in capsys.readouterr().out
