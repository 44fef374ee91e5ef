"""Session 20's QA on real music: the README's CLI walk on a copy of the real-audio folder with a
truncated WAV and FLAC in it (scan, analyze, correct, similar, qa, profile, labels, suggest, train,
runs, export), each command with and without ``--json``, and bad input."""

from __future__ import annotations

import html
import json
from types import SimpleNamespace

import pytest
from test_dj_qa4 import _one_track

from workbench.cli import main
from workbench.report.examples import write_example_run


def test_correct_says_no_key_for_a_drums_only_track_as_analyze_does(tmp_path, capsys, monkeypatch):
    """`correct 6` on the real Amen loop printed "every consumer sees: ... key C minor (5A)" where
    `analyze` lists the same track as "no key" (drums only: the key is a guess); `--json` gave the
    guessed key with nothing saying it was one."""
    import workbench.analysis

    _one_track(tmp_path, capsys, "amen")
    drums = SimpleNamespace(bpm=140.0, has_key=False, key="C minor", camelot="5A", downbeats=[0.5], beats=[0.5] * 16)
    monkeypatch.setattr(workbench.analysis, "track_analysis", lambda *a, **k: drums)
    home = ["--home", str(tmp_path / "ws")]
    assert main([*home, "correct", "1"]) == 0
    out = capsys.readouterr().out
    assert "no key (drums only)" in out and "C minor" not in out, out
    assert main([*home, "correct", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["analysis"]["has_key"] is False
    drums.has_key = True
    assert main([*home, "correct", "1"]) == 0
    assert "key C minor (5A)" in capsys.readouterr().out


def test_labels_import_names_only_the_path_a_row_gives_for_a_track_not_in_the_library(tmp_path, capsys):
    """A CSV row with a path the library lacks was skipped as "no track in the library has hash None
    or path '/music/nothere.ogg'": the row gave no hash."""
    music, home = _one_track(tmp_path, capsys, "a")
    table = tmp_path / "l.csv"
    table.write_text(f"path,label,start_s,end_s\n{music / 'nothere.ogg'},drop,0,5\n")
    assert main([*home, "labels", "import", str(table), "--json"]) == 0
    reason = json.loads(capsys.readouterr().out)["skipped"][0]["reason"]
    assert reason == f"no track in the library has path {str(music / 'nothere.ogg')!r}", reason


def test_crates_show_heads_its_columns_with_their_units_as_tracks_does(tmp_path, capsys):
    """`crates show supertuxkart` printed "   14    197.6  Sky Vibe - High Frequency": nothing said that
    197.6 is the length in seconds (`tracks` heads the same column "dur s")."""
    _, home = _one_track(tmp_path, capsys, "a")
    assert main([*home, "crates", "add", "set", "1"]) == 0
    capsys.readouterr()
    assert main([*home, "crates", "show", "set"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "dur", "s", "name"] and lines[1].split()[:2] == ["1", "10.0"], lines


def test_a_folded_tempos_advice_gives_the_target_in_the_tracks_own_count():
    """`profile compare stk 3` (Let's Go Fishin', 88.5 BPM, against the supertuxkart crate's 128-153) said
    "tempo 88.5 BPM (177.0 at double time), target 128-153: slow the project down": 88.5 is below 128, so
    "slow down" read as wrong. The target is now said in the track's own count, then the profile's."""
    from workbench.style.gap import compare_features

    profile = {"features": {"bpm": {"mean": 140.5, "std": 7.0, "range": [127.6, 153.3]}}}
    out, = compare_features({"bpm": 88.5}, profile)
    assert out["value"] == 177.0 and out["folded_from"] == 88.5
    assert out["advice"] == "tempo 88.5 BPM, target 64-77 (128-153 at double time): slow the project down"
    plain, = compare_features({"bpm": 120.4}, profile)
    assert plain["advice"] == "tempo 120.4 BPM, target 128-153: speed the project up"


def test_profile_build_takes_the_folders_path_as_analyze_folder_does(tmp_path):
    """`profile build lp --folder ~/music/loops` was refused ("must name a sub-folder of a scanned folder
    (folders: ..., loops, ...); got '/.../music/loops'"), where `analyze --folder` takes that very path."""
    import soundfile as sf
    from test_analysis import SR, groove

    from workbench.errors import ParameterError
    from workbench.library import Library
    from workbench.style.profiles import reference_tracks

    (tmp_path / "music" / "loops").mkdir(parents=True)
    (tmp_path / "music" / "other").mkdir()
    for i in range(2):
        sf.write(tmp_path / "music" / "loops" / f"l{i}.flac", groove(120.0 + i, 4.0, seed=i), SR)
    sf.write(tmp_path / "music" / "other" / "o.flac", groove(100.0, 4.0, seed=5), SR)
    with Library(tmp_path / "w.db") as lib:
        lib.scan(tmp_path / "music", progress=False)
        for given in ("loops", str(tmp_path / "music" / "loops")):
            tracks, source = reference_tracks(lib, given, kind="folder")
            assert sorted(t.name for t in tracks) == ["l0", "l1"] and source == "folder:loops", given
        with pytest.raises(ParameterError, match="folders: loops, other"):
            reference_tracks(lib, str(tmp_path / "music"), kind="folder")  # the scanned folder: no sub-folder


def test_the_section_timeline_says_what_its_paler_bars_mean():
    """The real-music sections report's timeline drew predicted sections in paler and fuller colours (their
    confidence) with nothing in the figure or its caption saying so: a reader took a pale red for another label."""
    from workbench.report.overview import timeline_caption
    from workbench.report.plots import timeline_figure

    track = {"name": "Nebula", "duration_s": 60.0, "truth": [{"label": "drop", "start_s": 0.0, "end_s": 60.0}],
             "predicted": [{"label": "drop", "start_s": 0.0, "end_s": 30.0, "confidence": 0.9},
                           {"label": "break", "start_s": 30.0, "end_s": 60.0, "confidence": 0.3}]}
    fig = timeline_figure([track])
    said = "paler where the model is less sure"
    assert said in fig.legends[0].get_title().get_text()
    assert said in timeline_caption([track])
    for s in track["predicted"]:
        del s["confidence"]
    assert said not in timeline_caption([track]) and said not in timeline_figure([track]).legends[0].get_title().get_text()


def test_suggest_names_a_failing_gate_once_with_its_metrics():
    """`suggest 16` with a real-music sections run below the majority class on both metrics said "it fails its
    gates (better than majority, better than majority)": one name twice, and neither metric."""
    from workbench.widgets.suggest import failed_gates_said

    metrics = {"model": {"accuracy": 0.2508, "macro_f1": 0.1685},
               "baselines": {"majority": {"accuracy": 0.6133, "macro_f1": 0.1901}}}
    assert failed_gates_said(metrics) == ("not better than majority (macro_f1 of unsmoothed windows 0.1685 <= 0.1901, "
                                          "accuracy of unsmoothed windows 0.2508 < 0.6133)")  # no model_smoothed
    metrics["model"]["macro_f1"] = 0.5
    assert failed_gates_said(metrics) == "not better than majority (accuracy of unsmoothed windows 0.2508 < 0.6133)"
    metrics["model"]["accuracy"] = 0.7
    assert failed_gates_said(metrics) == ""


def test_runs_compare_of_one_run_does_not_claim_to_show_differences(tmp_path, capsys):
    """`runs compare 08c84c` (one run) headed its 90 parameters "differences only; --all for every one" and
    its metrics "Δ: minus the baseline ..." with no Δ column: one run has nothing to differ from."""
    from workbench.runs import load_run

    run = load_run(write_example_run("sections", root=tmp_path / "experiments", seed=1, n_tracks=6))
    assert main(["--home", str(tmp_path), "runs", "compare", run.run_id]) == 0
    out = capsys.readouterr().out
    assert "differences only" not in out and "Δ" not in out and "name a second run to see what differs" in out, out
    assert "metrics (-: not recorded):" in out


@pytest.mark.parametrize(("kind", "unit"), [("embeddings", "windows"), ("sections", "labelled sections")])
def test_the_reports_class_counts_say_what_they_count(tmp_path, kind, unit):
    """The real-music embeddings report drew "Label counts" of "labelled examples": librosa_data 42, loops 6,
    supertuxkart 50, where the run said "tracks per class: loops 6, librosa_data 4, supertuxkart 4": the bars
    count 8-s windows (a sections run's count labelled sections), and nothing said so."""
    from workbench.report import build
    from workbench.runs import load_run

    run = load_run(write_example_run(kind, root=tmp_path, seed=2, n_tracks=8))
    body, pngs, _ = build(run)
    body = html.unescape(body)
    said = f"{unit[:1].upper()}{unit[1:]} per class, the run's training and held-out tracks together."
    assert said in body and "labelled examples" not in body.lower() and "label_counts" in pngs
    run.data["window_s"] = 8.0
    if kind == "embeddings":
        assert "8-s windows per class" in build(run)[0]


def test_a_forced_section_export_says_what_suggest_uses_with_none_active():
    """`export RUN --force` of a real-music sections run said "`suggest` and `similar` ignore it, no dj_section
    version is active, so they use none", and `suggest` then suggested with the newest sections run."""
    from workbench.commands.version_said import forced_line

    version = SimpleNamespace(name="dj_section_v1", model_type="dj_section", version=1, active=False,
                              forced=[{"failing_gates": [{"metric": "accuracy"}]}])
    said = forced_line(version, None, before=None, versions=[version])
    assert "use none" not in said and "falls back to the newest sections run" in said, said
    off = forced_line(version, None, before=None, versions=[version], deactivated=True)
    assert "novelty boundaries" in off and "newest sections run" not in off, off
    head = SimpleNamespace(**{**vars(version), "name": "head_v2", "model_type": "head"})
    assert "no head version is active, so they use none" in forced_line(head, None, before=None, versions=[head])


def test_the_profile_plot_says_a_tempo_is_drawn_at_double_time():
    """Notebook 07's gap plot of Let's Go Fishin' (88.5 BPM) against the supertuxkart profile put a red dot far
    right of "127.6 .. 153.3 BPM": the 177 it was compared at, with nothing saying the track reads 88.5."""
    from workbench.style.plots import plot_profile

    profile = {"name": "stk", "version": 1, "tracks": [1, 2, 3, 4, 5],
               "features": {"bpm": {"range": [127.6, 153.3], "ci95": [135.2, 145.1], "mean": 140.5}}}
    gap = {"target": "fishin.ogg", "features": [{"feature": "bpm", "value": 177.0, "outside": True,
                                                 "folded_from": 88.5}]}
    texts = [t.get_text() for t in plot_profile(profile, gap=gap).axes[0].texts]
    assert texts == ["127.6 .. 153.3 BPM (the track's 88.5, drawn at double time)"], texts
    gap["features"][0].update(value=150.0, folded_from=None, outside=False)
    assert [t.get_text() for t in plot_profile(profile, gap=gap).axes[0].texts] == ["127.6 .. 153.3 BPM"]


def test_a_track_named_by_its_title_is_refused_with_how_tracks_are_named(tmp_path, capsys):
    """`similar Nebula` (a title) said "'Nebula' is neither a track of ... nor an audio file" and no more; the
    user did not learn that a track is named by its id, hash or path (`profile compare` said the same)."""
    from workbench.errors import TrackNotFoundError
    from workbench.library import Library
    from workbench.style.gap import gap_analysis

    _, home = _one_track(tmp_path, capsys, "a")
    said = "a track is named by its id, content hash or path: `workbench tracks` lists them"
    assert main([*home, "similar", "Nebula"]) == 1
    assert said in capsys.readouterr().err
    with Library(tmp_path / "ws" / "data" / "workbench.db") as lib, pytest.raises(TrackNotFoundError) as e:
        gap_analysis(lib, {"features": {}}, "Nebula")
    assert said in str(e.value)


def test_a_forced_section_export_says_the_labeler_uses_novelty_with_none_active(tmp_path):
    """Session 20's forced line said "`suggest` and the labeler fall back to the newest sections run": the CLI's
    `suggest` does, but the labeler (:func:`active_suggester`) reads the registry alone and gives novelty boundaries
    with no active dj_section model, even beside that sections run."""
    from workbench import config
    from workbench.commands.version_said import forced_line
    from workbench.library import Library
    from workbench.widgets.suggest import active_suggester

    db = tmp_path / "ws" / "data" / "workbench.db"
    db.parent.mkdir(parents=True)
    with Library(db) as lib:
        write_example_run("sections", root=config.workspace(db=lib.path).experiments, seed=1, n_tracks=6)
        labeler = active_suggester(lib)
    assert labeler.fallback and labeler.model_name == "novelty"  # what the labeler really does
    version = SimpleNamespace(name="dj_section_v1", model_type="dj_section", version=1, active=False,
                              forced=[{"failing_gates": [{"metric": "accuracy"}]}])
    said = forced_line(version, None, before=None, versions=[version])
    assert "the labeler fall back to the newest sections run" not in said, said
    assert "`suggest` falls back to the newest sections run" in said and "the labeler to novelty boundaries" in said
