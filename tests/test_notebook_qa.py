"""What a DJ meets running the notebooks on their own music (session 11's user QA): no decoder noise
in red under a cell, match explanations and style advice shown in full, a reference that is not
there named with the crates and folders that are."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_analysis import SR, groove
from test_registry import package as exported_classifier  # noqa: F401  (a fixture: one small exported classifier)
from test_user_qa import SR_DRUMS, drums

from workbench.cli import main

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-audio"
MACHINE_WARS = REAL / "asc" / "machine_wars.mp3"
NOISE = b"[src/libmpg123/layer3.c:INT123_do_layer3():1774] error: part2_3_length (1984) too large for available " \
        b"bit count (1928)\n"


# -- libmpg123's stderr ---------------------------------------------------------------------------

def test_libmpg123_lines_are_dropped_and_everything_else_on_fd2_is_kept(capfd):
    from workbench.audio import quiet_mpg123

    with quiet_mpg123():
        os.write(2, NOISE)
        os.write(2, b"something else on fd 2\n")
        os.write(2, NOISE)
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "libmpg123" not in err
    assert err == "something else on fd 2\nafter\n"


def test_fd2_comes_back_when_the_decode_fails(capfd):
    from workbench.audio import quiet_mpg123

    with pytest.raises(RuntimeError, match="decoder failed"), quiet_mpg123():
        os.write(2, b"kept\n")
        raise RuntimeError("decoder failed")
    os.write(2, b"fd 2 works\n")
    assert capfd.readouterr().err == "kept\nfd 2 works\n"


def test_an_mp3_is_recognised_by_name_or_by_its_first_bytes(tmp_path):
    from workbench.audio import looks_like_mp3

    (tmp_path / "a.MP3").write_bytes(b"\0\0\0")
    (tmp_path / "tagged.bin").write_bytes(b"ID3\x04\0")
    (tmp_path / "frame.bin").write_bytes(b"\xff\xfb\x90")
    (tmp_path / "a.flac").write_bytes(b"fLaC")
    assert [looks_like_mp3(tmp_path / n) for n in ("a.MP3", "tagged.bin", "frame.bin", "a.flac")] == \
        [True, True, True, False]


@pytest.mark.skipif(not MACHINE_WARS.is_file(), reason=f"real audio not here: {MACHINE_WARS}")
def test_machine_wars_decodes_without_noise_and_loses_nothing(capfd):
    """Block by block, libmpg123 printed 'part2_3_length ... too large' (session 10's leftover); the
    samples equal a one-read decode, which prints nothing."""
    from workbench.audio import load

    y, sr = load(MACHINE_WARS, sr=None, mono=False)
    assert capfd.readouterr().err == ""
    whole, sr_whole = sf.read(MACHINE_WARS, dtype="float32", always_2d=True)
    capfd.readouterr()
    assert sr == sr_whole and y.T.shape == whole.shape
    assert float(np.max(np.abs(y.T - whole))) < 1e-6


# -- notebook 07: the reference crate or folder ------------------------------------------------------

@pytest.fixture(scope="module")
def small_home(tmp_path_factory) -> Path:
    """A workspace of 4 short tracks in two sub-folders (grooves/, loops/), scanned, analysed, embedded."""
    music = tmp_path_factory.mktemp("music")
    (music / "grooves").mkdir()
    (music / "loops").mkdir()
    sf.write(music / "grooves" / "a.flac", groove(124.0, 12.0, seed=0), SR)
    sf.write(music / "grooves" / "b.flac", groove(126.0, 12.0, seed=3), SR)
    sf.write(music / "loops" / "c.flac", drums(128.0, 12.0, seed=1), SR_DRUMS)
    sf.write(music / "loops" / "d.flac", drums(100.0, 12.0, seed=2), SR_DRUMS)
    home = tmp_path_factory.mktemp("ws")
    for cmd in (["scan", str(music)], ["analyze", "--workers", "1"], ["embed"]):
        assert main(["--home", str(home), "--quiet", *cmd]) == 0, cmd
    return home


def test_a_missing_reference_names_the_crates_and_folders_there_are(small_home):
    import workbench
    from workbench.crates import Crates
    from workbench.errors import ParameterError
    from workbench.style import reference_tracks

    lib = workbench.Library(small_home / "data" / "workbench.db")
    Crates(lib).add("warmup", [t.id for t in lib.tracks()][:2])
    tracks, source = reference_tracks(lib, "loops")
    assert source == "folder:loops" and sorted(Path(t.path).name for t in tracks) == ["c.flac", "d.flac"]
    tracks, source = reference_tracks(lib, "warmup")
    assert source == "crate:warmup" and len(tracks) == 2
    with pytest.raises(ParameterError,
                       match=r"crate or a sub-folder .*crates: warmup; folders: grooves, loops\); got 'trance'"):
        reference_tracks(lib, "trance")


def test_notebook_01_shows_each_explanation_in_full(small_home):
    from test_notebooks import execute, outputs

    nb = execute("01_explore_library.ipynb", small_home, {"K": 3})
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    table = next(h for h in outputs(nb, "text/html") if "explanation" in h)
    assert "BPM;" in table and "energy" in table  # every part of the explanation ...
    assert "..." not in table  # ... none cut short by pandas' 50-character columns


# -- notebook 05: the baseline run ---------------------------------------------------------------------

def test_notebook_05_takes_its_baseline_from_the_kind_it_compares(tmp_path):
    """An embeddings run first, then two sections runs: the deltas are against the older sections run
    (against the embeddings run every accuracy delta was blank)."""
    from test_notebooks import execute, outputs

    from workbench.report.examples import write_example_run

    root = tmp_path / "experiments"
    write_example_run("embeddings", root=root, seed=2, quality=0.7)
    first = write_example_run("sections", root=root, seed=1, n_tracks=12, quality=0.6).name
    second = write_example_run("sections", root=root, seed=1, n_tracks=14, quality=0.85).name
    for sub in ("data", "models"):
        (tmp_path / sub).mkdir()
    nb = execute("05_compare_experiments.ipynb", tmp_path, {"EXPERIMENTS": str(root)})
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    view = next(h for h in outputs(nb, "text/html") if "the run minus the baseline" in h)
    assert f"the run minus the baseline {first}" in view
    assert second in view


# -- leftovers of session 10 ---------------------------------------------------------------------------

def test_the_readme_says_what_a_rubato_track_gets():
    """A wandering pulse keeps a rough BPM (stability near 0); only no pulse at all gives bpm=None.

    The README said "a track without a steady beat gets `bpm=None`", but the real Brahms dance reads
    151 BPM at stability 0.00 (session 10's note)."""
    from test_tempo_styles import SR as SR_TEMPO
    from test_tempo_styles import _rubato

    from workbench.analysis.beats import track_beats

    rubato = track_beats(_rubato(3), sr=SR_TEMPO)
    assert rubato.has_beat and rubato.bpm is not None and rubato.tempo_stability < 0.5
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert "a track without a steady beat gets `bpm=None`" not in readme
    assert "a track with no pulse at all" in readme and "keeps its rough tempo with a low `tempo_stability`" in readme


def test_export_and_runs_report_show_a_progress_bar(tmp_path, exported_classifier, capsys,  # noqa: F811
                                                      monkeypatch):
    """Both took 35-40 s on the real workspace with nothing on the screen (session 10's note)."""
    from test_registry import _metrics, _run

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    rid = _run(tmp_path, exported_classifier, _metrics(0.6))
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "export", rid]) == 0
    err = capsys.readouterr().err
    assert f"export {rid}" in err and "2/2" in err and "dj_section: convert, lint, parity" in err
    assert main(["--home", str(tmp_path), "runs", "report", rid]) == 0
    err = capsys.readouterr().err
    assert f"report {rid}" in err and "2/2" in err and "metrics and figures" in err
    assert main(["--home", str(tmp_path), "runs", "report", rid, "--json"]) == 0
    assert f"report {rid}" not in capsys.readouterr().err  # --json: nothing but the JSON


def test_distribution_plots_count_whole_tracks(small_home):
    """With 1-3 tracks a bar, notebook 01's count axes read 0.25, 0.50, 0.75 ... tracks."""
    import workbench
    from workbench import explore

    lib = workbench.Library(small_home / "data" / "workbench.db")
    fig = explore.plot_distributions(explore.library_table(lib))
    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        ticks = [t for t in ax.get_yticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), (ax.get_title(), ticks)


# -- notebook 02 in a real browser: suggestions before any section model --------------------------------

def _browser_reason() -> str | None:
    from browser import skip_reason

    reason = skip_reason()
    if reason is None:
        from workbench.widgets.labeler_web import BUNDLE

        if not BUNDLE.is_file():
            reason = f"the labeler's front end is not built ({BUNDLE}): run `make js` (needs Node.js)"
    return reason


@pytest.mark.slow
def test_novelty_suggestions_say_they_are_guesses_not_0_percent(tmp_path):
    """A new library has no section model: notebook 02 suggests novelty boundaries with guessed labels,
    and every one read "intro 0%?" / "0% (uncertain)" on the page, as if a model were sure it was wrong."""
    from browser import LABELER_NOTEBOOK, ConsoleErrors, chromium, labeler_notebook, open_notebook, run_all

    reason = _browser_reason()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import expect

    with labeler_notebook(tmp_path) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        errors = ConsoleErrors(page)
        open_notebook(page, server, LABELER_NOTEBOOK)
        run_all(page)
        expect(page.locator(".wb-lab[data-ready]:not([data-ready=''])")).to_have_count(1)
        first = page.locator(".wb-sugg").first
        expect(first).to_contain_text("a guess (no active section model)")
        texts = page.locator(".wb-sugg").all_inner_texts() + page.locator(".wb-region-tag").all_inner_texts()
        assert texts and not [t for t in texts if "0%" in t], texts
        assert not errors, errors


def test_make_bench_runs_a_list_of_quick_benches_with_their_arguments():
    """`make bench` ran every benchmarks/bench_*.py without arguments and stopped at the first that needs
    one (bench_key.py --devset); the distillation benches take hours. Now it runs BENCH_QUICK, each with
    the arguments it is given there, and every other bench is named in BENCH_BY_HAND."""
    import re
    import shlex

    root = Path(__file__).resolve().parents[1]
    make = (root / "Makefile").read_text().replace("\\\n", " ")
    recipe = re.search(r"^bench:.*\n((?:\t.*\n)+)", make, re.M).group(1)
    assert "$(BENCH_QUICK)" in recipe and "bench_*.py" not in recipe
    quick = [shlex.split(e) for e in shlex.split(re.search(r"^BENCH_QUICK :=(.*)$", make, re.M).group(1))]
    by_hand = re.search(r"^BENCH_BY_HAND :=(.*)$", make, re.M).group(1).split()
    names = [q[0] for q in quick]
    assert sorted(names + by_hand) == sorted(p.name for p in (root / "benchmarks").glob("bench_*.py"))
    assert not set(names) & set(by_hand)
    for script, *args in quick:
        src = (root / "benchmarks" / script).read_text()
        required = re.findall(r'add_argument\("(--[\w-]+)"[^\n]*required=True', src)
        assert set(required) <= set(args), (script, required)
        assert all(f'"{a}"' in src for a in args if a.startswith("--")), (script, args)  # flags it defines


# -- notebook 06: the model versions table -----------------------------------------------------------------

def test_the_versions_table_shows_the_models_figures_not_a_baselines(tmp_path, exported_classifier):  # noqa: F811
    """metrics.json is written with sorted keys, so "the first three metrics" were baseline.*: notebook 06
    showed the embedding head's backbone MAP@R 0.799 beside the version, not its own 0.872."""
    from test_registry import _metrics

    from workbench.library import Library
    from workbench.registry import Registry

    lib = Library(tmp_path / "data" / "workbench.db")
    reg = Registry(lib, root=tmp_path / "models")
    metrics = {"baseline": {"test": {"map_at_r": 0.799}}, **_metrics(0.6, majority={"accuracy": 0.3, "macro_f1": 0.1})}
    metrics["model"] |= {"n_windows": 500, "per_class": {"drop": {"f1": 0.7}}}
    reg.register("dj_section", exported_classifier.path, metadata=exported_classifier.metadata, metrics=metrics,
                 export=exported_classifier.as_dict())
    row = reg.frame().iloc[0]
    shown = [c for c in reg.frame().columns if "." in c]
    assert shown == ["model.accuracy", "model.macro_f1"], shown
    assert row["model.accuracy"] == 0.6
    lib.store.close()


# -- notebook 01: the search's term weights, as `workbench similar --weights` -----------------------------

@pytest.fixture
def folders_home(small_home, tmp_path) -> Path:
    """A copy of ``small_home`` grouped by its two folders only (other tests here add crates to the original)."""
    import shutil

    import workbench
    from workbench.crates import Crates

    home = tmp_path / "ws"
    shutil.copytree(small_home, home)
    lib = workbench.Library(home / "data" / "workbench.db")
    for crate in Crates(lib).list():
        Crates(lib).remove(crate.name)
    lib.conn.close()
    return home


def test_notebook_01_searches_with_learned_weights_as_the_cli_does(folders_home, capsys):
    """WEIGHTS = "learned" in notebook 01 ranks and explains as `workbench similar --weights learned` (issue 17)."""
    import json

    from test_notebooks import execute, outputs

    nb = execute("01_explore_library.ipynb", folders_home, {"K": 3, "WEIGHTS": "learned", "QUERY": 1})
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    said = next(line for line in text.splitlines() if line.startswith("weights: ")).removeprefix("weights: ")
    assert said.startswith("learned from your folders (4 tracks): vibe ")
    assert main(["--home", str(folders_home), "--quiet", "similar", "1", "-k", "3", "--weights", "learned", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert records and all(r["weights"] == said for r in records)  # the same weights, in the same words
    table = next(h for h in outputs(nb, "text/html") if "explanation" in h)
    assert table.count(f"; weights {said}") == len(records)  # every match names them, as on the command line
    where = [table.find(f">{r['name']}<") for r in records]
    assert -1 not in where and where == sorted(where)  # the same matches in the same order


def test_search_weights_reads_the_cli_and_notebook_option_alike():
    from workbench.errors import ParameterError
    from workbench.similarity.weights_option import search_weights

    assert search_weights(None) == ("auto", None)
    assert search_weights("learned") == ("learned", None) and search_weights("default") == ("default", None)
    want = {"vibe": 1.0, "tempo": 0.0, "key": 0.5, "energy": 0.25}
    assert search_weights("1,0,0.5,0.25") == search_weights((1, 0, 0.5, 0.25)) == search_weights(want) == ("auto", want)
    for bad in ("1,2", "learnt", {"bpm": 1.0}, {"vibe": "x"}, 3):
        with pytest.raises(ParameterError, match=rf"WEIGHTS must be four numbers V,T,K,E, 'learned' or 'default'; "
                                                 rf"got {re.escape(repr(bad))}"):
            search_weights(bad, name="WEIGHTS")


# -- notebook 01: the plots' words and names ---------------------------------------------------------------

def test_the_embedding_maps_names_stay_inside_the_picture_and_the_key_panel_says_what_a_and_b_are(monkeypatch):
    """Long names of the points at the right edge were cut off by the frame; "A minor, B major" read as two keys."""
    import pandas as pd
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from workbench import explore

    points = pd.DataFrame({"x": [0.0, 1.0, 2.0, 10.0], "y": [0.0, 3.0, 1.0, 2.0],
                           "name": ["a", "b", "c", "sorohanro_-_solo-trumpet-06.hq"], "group": ["g", "g", "h", "h"]},
                          index=[1, 2, 3, 4])
    points.attrs.update(group_by="folder", backbone="feature frontend features-v1 (weight-free; not OpenL3)")
    monkeypatch.setattr(explore, "embedding_points", lambda *a, **kw: points)
    fig = explore.embedding_map(None)
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    frame = ax.get_window_extent()
    for text in ax.texts:
        box = text.get_window_extent()
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, f"{text.get_text()!r} runs out of the map"
    assert ax.get_title() == "Tracks by folder: PCA of feature frontend features-v1 (weight-free; not OpenL3)"
    table = pd.DataFrame({"bpm": [120.0, None], "camelot": ["8A", None], "energy": [5, 6],
                          "loudness_lufs": [-9.0, -12.0], "group": ["g", "h"]}, index=[1, 2])
    titles = [a.get_title() for a in explore.plot_distributions(table).axes]
    assert "Key (Camelot: nA = minor, nB = major; 1 track with a key)" in titles


# -- notebook 04: the refusal says the notebook's rule ------------------------------------------------------

def test_a_library_without_labels_is_refused_with_the_rule_the_job_was_given(tmp_path):
    """Notebook 04 with MIN_PER_CLASS = 3 on an unlabelled library said 'training needs 10 labelled sections'."""
    from workbench.library import Library
    from workbench.train.sections import HOW_TO_LABEL, NotReadyError, train_sections_job

    lib = Library(tmp_path / "w.db")
    with pytest.raises(NotReadyError, match=r"training needs 3 labelled sections per class for 2\+ classes$"):
        train_sections_job(lib, config={"min_per_class": 3}, experiments_root=tmp_path / "x", progress=False)
    with pytest.raises(NotReadyError, match=r"training needs 10 labelled sections per class for 3\+ classes$"):
        train_sections_job(lib, config={"min_classes": 3}, experiments_root=tmp_path / "x", progress=False)
    assert HOW_TO_LABEL.endswith("training needs 10 labelled sections per class for 2+ classes")


# -- notebook 02: the labeler's neighbours, ranked as `workbench similar` -------------------------------------

def test_the_labelers_neighbours_are_ranked_as_similar_ranks_them(folders_home, capsys):
    """NEIGHBOURS_OF in notebook 02 lists a track and its nearest, with the CLI's model and weights options."""
    import json

    from test_notebooks import execute

    import workbench
    from workbench.errors import ParameterError
    from workbench.widgets import WebLabeler, neighbour_tracks

    lib = workbench.Library(folders_home / "data" / "workbench.db")
    for weights, flag in ((None, []), ("learned", ["--weights", "learned"]), ("1,0,0,0", ["--weights", "1,0,0,0"])):
        tracks, said = neighbour_tracks(lib, 1, k=2, weights=weights)
        assert main(["--home", str(folders_home), "--quiet", "similar", "1", "-k", "2", *flag, "--json"]) == 0
        records = json.loads(capsys.readouterr().out)
        assert [t.id for t in tracks] == [1, *(r["track_id"] for r in records)]
        assert said == f"model: {records[0]['model']}; weights: {records[0]['weights']}"
    assert WebLabeler(lib, tracks=tracks, audio=False).tracks[0]["id"] == 1  # the labeler opens on the track
    with pytest.raises(ParameterError, match="k must be a whole number >= 1"):
        neighbour_tracks(lib, 1, k=0)
    nb = execute("02_label_sections.ipynb", folders_home, {"NEIGHBOURS_OF": 1, "K": 2, "WEIGHTS": "learned"})
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert f"{tracks[0].name} and its 2 nearest (model: " in text and "weights: learned from your folders" in text


# -- notebook 06: run again, it says what to change in its own words --------------------------------------------

def test_notebook_06_run_again_names_its_parameters_not_the_commands_options(monkeypatch):
    """'--io, --target, --compress or --input make another export' under a notebook cell named options it has not."""
    from types import SimpleNamespace

    from workbench.export import run_export
    from workbench.export.reexport import AlreadyExportedError, already_exported_message
    from workbench.export.rerun import export_or_registered

    head = SimpleNamespace(name="head_v1", metadata={"version": "1.0.0"}, active=True)
    cli = already_exported_message("r1", [head])

    def refuse(*args, **kwargs):
        raise AlreadyExportedError(cli, versions=[head])

    monkeypatch.setattr(run_export, "export_run", refuse)
    exported, registered, said = export_or_registered(SimpleNamespace(run_id="r1"), registry=SimpleNamespace(library=None))
    assert exported == [] and registered == [head]
    assert said.startswith("run r1 is already exported with these options as head_v1 (1.0.0, active): nothing registered")
    assert "--" not in said and "io_dtype, deployment_target or compress in the parameters cell" in said
    assert "--io, --target, --compress or --input" in cli  # the command keeps its own options


# -- notebook 07: the profile and gap tables as `profile show` prints them ----------------------------------------

def test_notebook_07s_tables_carry_units_and_readable_numbers():
    """The profile table showed raw floats (127.573843, 0.002747) with no units, unlike `workbench profile show`."""
    from workbench.style import gap_table, profile_table

    profile = {"features": {
        "bpm": {"mean": 140.4614, "range": [127.573843, 153.348957], "ci95": [135.2012, 145.125], "n": 5},
        "detune_cents": {"mean": 23.323859, "range": [10.1727, 36.475018], "ci95": [18.189406, 28.493681], "n": 5}}}
    table = profile_table(profile)
    assert table.loc["bpm"].to_dict() == {"unit": "BPM", "mean": "140.5", "range": "127.6 .. 153.3",
                                          "95% CI of mean": "135.2 .. 145.1", "n": 5}
    assert table.loc["detune_cents", "unit"] == "cents" and table.loc["detune_cents", "mean"] == "23.32"
    gap = {"features": [
        {"feature": "bpm", "unit": "BPM", "value": 120.357, "range": [127.573843, 153.348957], "z": -3.119971,
         "outside": True, "advice": "tempo 120.4 BPM, target 128-153: speed the project up"},
        {"feature": "detune_cents", "unit": "cents", "value": 20.0, "range": [10.1727, 36.475018], "z": -0.5,
         "outside": False, "advice": None}]}
    rows = gap_table(gap).to_dict("records")
    assert rows == [{"feature": "bpm", "value": "120.4", "unit": "BPM", "range": "127.6 .. 153.3", "z": "-3.12",
                     "advice": "tempo 120.4 BPM, target 128-153: speed the project up"}]
    assert len(gap_table(gap, outside_only=False)) == 2


# -- notebook 06: the lint says fifteen alike findings once --------------------------------------------------------

def test_the_lint_says_alike_findings_on_one_line():
    """Notebook 06 listed 'warning topk op_80...: op is known to run off the Neural Engine' fifteen times."""
    from workbench.export.lint import Finding, LintReport

    off = "op is known to run off the Neural Engine (inside the declared float32 island)"
    findings = (*(Finding("warning", f"topk op_{i}", off) for i in range(15)),
                Finding("warning", "program", "declared flexible input"), Finding("note", "cast c1", "cast to fp32"),
                Finding("note", "cast c2", "cast to fp32"))
    lines = str(LintReport("m.mlpackage", findings, n_compute_ops=20, n_ane_eligible=0)).splitlines()
    assert lines[1:] == [f"  warning topk op_0, topk op_1, topk op_2 and 12 more (15 ops): {off}",
                         "  warning program: declared flexible input",
                         "  note    cast c1: cast to fp32", "  note    cast c2: cast to fp32"]
    assert lines[0].startswith("Neural Engine lint of m.mlpackage: 0 errors, 16 warnings, 2 notes")


# -- notebook 03: before and after, in words and readable numbers ---------------------------------------------------

def test_notebook_03s_before_after_names_its_rows_in_words_and_counts_whole(tmp_path):
    """The table read 'untrained_head' beside 'fine-tuned head', and '53.0' queries with six decimals of MAP@R."""
    from workbench.experiments import before_after
    from workbench.runs import Run

    def split(map_at_r):  # as a real run's metrics.json holds them (session 14, the real-music workspace)
        return {"test": {"map_at_r": map_at_r, "n_queries": 53, "n_track_queries": 6, "precision_at_1": 0.8679245283,
                         "precision_at_5": 0.8830188679, "r_precision": 0.8423180593}}

    run = Run(path=tmp_path / "r-embeddings", info={"kind": "embeddings"}, config={}, data={}, history=[],
              metrics={"baseline": split(0.7994602), "untrained_head": split(0.7955591), "model": split(0.8723021)})
    assert run.kind == "embeddings"
    table = before_after(run)
    assert table.loc["fine-tuned head", "map_at_r"] == 0.8723 and table.loc["fine-tuned head", "n_queries"] == 53
    assert list(table.index) == ["backbone (no training)", "head before training", "fine-tuned head"]
    counts = [c for c in table.columns if c.startswith("n_")]
    assert counts and all(table[c].dtype.kind == "i" for c in counts), table.dtypes
    assert all(v == round(v, 4) for c in table.columns if c not in counts for v in table[c])
