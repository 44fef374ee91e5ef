"""Session 14's QA pass: a DJ's walk through the README's commands on the real-music folder
(scan, analyze, similar, profile, qa, runs, models, report, the explorer's plots), each finding with
a test that fails without its fix."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from test_analysis import SR, groove
from test_dj_qa4 import _one_track

from workbench.cli import main


def test_sections_given_by_hand_never_replace_the_stored_sections_of_a_tracks_labels(tmp_path, monkeypatch):
    """`profile compare T --section drop:8-24` deleted what T's labels had stored, so the next plain
    compare decoded and measured T's labelled sections again."""
    import workbench.style.sections as sections_mod
    from workbench.labels import Labels
    from workbench.library import Library

    music = tmp_path / "music"
    music.mkdir()
    sf.write(music / "lab.flac", groove(120.0, 32.0, seed=5), SR)
    lib = Library(tmp_path / "data" / "workbench.db")
    lib.scan(music, progress=False)
    track = lib.tracks()[0]
    Labels(lib).add(track, "break", start_beat=0, end_beat=16)
    Labels(lib).add(track, "drop", start_beat=16, end_beat=48)
    from test_style import count_section_features

    measured = count_section_features(monkeypatch)
    own = sections_mod.track_section_features(lib, track)
    given = sections_mod.track_section_features(lib, track, [("drop", 8.0, 24.0)])
    assert measured == [["break", "drop"], ["drop"]]
    assert sections_mod.track_section_features(lib, track) == own  # the labels' sections: still stored
    assert sections_mod.track_section_features(lib, track, [("drop", 8.0, 24.0)]) == given
    assert measured == [["break", "drop"], ["drop"]], measured  # neither measured again
    sections_mod.track_section_features(lib, track, [("drop", 0.0, 16.0)])  # other hand-given sections ...
    kinds = dict(lib.conn.execute("SELECT kind, COUNT(*) FROM analyses WHERE track_id = ? AND kind LIKE 'style_sections%' "
                                  "GROUP BY kind", (track.id,)).fetchall())
    assert kinds == {"style_sections": 1, "style_sections_given": 1}  # ... replace the older ones only
    sections_mod.track_section_features(lib, track)
    assert len(measured) == 3  # the labels' sections were kept through it all


def test_the_default_backbone_without_openl3_weights_does_not_import_torch(tmp_path):
    """Every `profile compare` paid about 1.5 s (5 s under load) importing torch only to learn that
    no OpenL3 weights exist and the feature frontend is the backbone."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; from workbench.embed.batch import default_backbone; b, said = default_backbone(); "
            "print(b.name, 'torch' in sys.modules); print(said)")
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_OPENL3_WEIGHTS", "WORKBENCH_DB")}
    env.update(WORKBENCH_HOME=str(tmp_path), PYTHONPATH=str(Path(__file__).parents[1]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    first, said = out.splitlines()[:2]
    assert first == "features-v1 False", out
    assert said.startswith("feature frontend, not OpenL3: no OpenL3 weights found"), said


def test_similar_says_its_backbone_and_model_once_per_library_state(tmp_path, capsys):
    """`similar` printed its backbone notice ("feature frontend, not OpenL3 (no OpenL3 weights: ...)")
    on every call; now once, and again when the library or the model changes. The model that ranked
    the results is named on every call (issue 17: every result says which model produced it)."""
    music, home = _one_track(tmp_path, capsys, "first")
    sf.write(music / "second.flac", groove(126.0, 10.0, seed=4), SR)
    assert main([*home, "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main([*home, "--quiet", "similar", "1", "-k", "1"]) == 0
    query, out = capsys.readouterr().out.split("\n", 1)  # the first line names the query (session 21)
    assert query.startswith("similar to: track 1  first  ("), query
    assert out.startswith("backbone: feature frontend, not OpenL3 (no OpenL3 weights") and "\nmodel: backbone" in out
    assert main([*home, "--quiet", "similar", "2", "-k", "1"]) == 0
    again = capsys.readouterr().out.split("\n", 1)[1]
    assert "backbone:" not in again and again.startswith("model: backbone"), again  # which model ranked: always
    sf.write(music / "third.flac", groove(130.0, 10.0, seed=6), SR)  # the library changes: said again
    assert main([*home, "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main([*home, "--quiet", "similar", "1", "-k", "1"]) == 0
    assert capsys.readouterr().out.split("\n", 1)[1].startswith("backbone: feature frontend")


def test_a_section_given_by_hand_past_the_end_of_the_target_is_refused_with_its_length(tmp_path, capsys):
    """`profile compare kart 2 --section drop:0-400` on a 46-s track was accepted and measured the
    46 s as a 400-s drop."""
    from workbench.errors import ParameterError
    from workbench.library import Library
    from workbench.style.gap import gap_analysis

    music, home = _one_track(tmp_path, capsys, "short")
    lib = Library(tmp_path / "ws" / "data" / "workbench.db")
    track = lib.tracks()[0]
    with pytest.raises(ParameterError, match=r"section drop:0-400 must lie inside short \(0 <= START < END <= 10\.0 s"):
        gap_analysis(lib, {"name": "p"}, track, sections=[("drop", 0.0, 400.0)])
    with pytest.raises(ParameterError, match=r"must lie inside .*short\.flac \(0 <= START < END <= 10\.0 s.*END 12"):
        gap_analysis(lib, {"name": "p"}, music / "short.flac", sections=[("intro", 0.0, 8.0), ("drop", 2.0, 12.0)])


def test_a_section_against_a_profile_without_any_sections_says_why_not_it_has_none():
    """The reason read "the profile has no reference drop sections (it has: none)"."""
    from workbench.style.gap import section_gaps

    row = section_gaps([{"label": "drop", "start_s": 0.0, "end_s": 30.0, "features": {"bpm": 120.0}}],
                       {"sections": {}})[0]
    assert not row["compared"] and "(it has: none)" not in row["reason"]
    assert row["reason"].startswith("the profile has no reference sections of any label (a label needs 3 labelled")


def test_profile_show_says_which_section_labels_the_profile_keeps():
    """`profile show` of a profile built on labelled tracks said nothing of its per-label sections,
    so nobody could tell a profile that compares drops with drops from one that cannot."""
    from workbench.commands.style import sections_line

    kept = sections_line({"sections": {"intro": {"n_sections": 3, "n_tracks": 3, "features": {}},
                                       "drop": {"n_sections": 4, "n_tracks": 1, "features": {}}}})
    assert kept.startswith("sections: drop (4 sections on 1 track), intro (3 sections on 3 tracks); "), kept
    none = sections_line({"sections": {}})
    assert none.startswith("sections: none (a label needs 3 labelled sections among the tracks"), none


def test_runs_compare_refuses_a_run_named_twice(tmp_path, capsys):
    """`runs compare A A` (or A and A's folder) printed one column and deltas against itself."""
    from workbench.runs import new_run_id, write_run

    root = tmp_path / "experiments"
    run_id = new_run_id("sections")
    write_run(run_id, info={"kind": "sections", "backbone": {"name": "features-v1", "dim": 16}}, config_={},
              data={"fingerprint": "abc"}, history=[], metrics={"model": {"accuracy": 0.5}}, root=root)
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "runs", "--experiments", str(root), "compare", run_id,
                 str(root / run_id)]) == 1
    assert f"runs must name each run once; got {run_id} more than once" in capsys.readouterr().err
    assert main(["--home", str(tmp_path), "runs", "--experiments", str(root), "compare", run_id]) == 0  # one is fine


@pytest.mark.parametrize(("option", "said"), [(["--min-score", "2"], "--min-score must be a number in [0, 1] (a match's "
                                                                     "score); got 2"),
                                              (["-k", "0"], "-k must be a whole number >= 1 (how many similar tracks); "
                                                            "got 0")])
def test_a_bad_similar_option_is_named_as_typed_before_the_library_is_analysed(tmp_path, capsys, option, said):
    """`similar 2 --min-score 2` analysed and embedded the whole library first, then said
    "min_score must be None or a number in [0, 1]" (Python's names, not the option's)."""
    from workbench.analysis import track_analysis
    from workbench.library import Library

    music, home = _one_track(tmp_path, capsys, "solo")
    assert main([*home, "--quiet", "similar", "1", *option]) == 1
    assert said in capsys.readouterr().err
    lib = Library(tmp_path / "ws" / "data" / "workbench.db")
    assert track_analysis(lib, lib.tracks()[0], compute=False) is None  # nothing was analysed for it


def test_qa_all_marks_review_exactly_the_tracks_its_summary_counts(tmp_path, capsys):
    """`qa --all` marked every clean track "[review]" under a summary of "6 need review", and the
    tracks left out of training (which need review too) were not marked so."""
    music, home = _one_track(tmp_path, capsys, "lofi")  # a 22.05 kHz groove: low bandwidth
    noise = np.random.default_rng(0).normal(0.0, 0.1, (10 * 44100, 2)).astype(np.float32)  # broadband, wide
    sf.write(music / "clean.flac", noise, 44100)
    assert main([*home, "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main([*home, "--quiet", "qa", "--all"]) == 0
    out = capsys.readouterr().out
    summary, *rows = out.splitlines()
    marks = {line.split()[1]: line.split("[")[1].rstrip("]") for line in rows if line.startswith("    ") and "[" in line}
    assert "1 of 2 tracks flagged, 1 needs review, 1 left out" in summary, out
    assert marks == {"lofi": "review, left out of training", "clean": "no flags"}, out
    # the flag says the file's sample rate stops it, not "a transcode", and prints its value plainly
    assert (f"low_bandwidth: {SR // 2} <= 15000 Hz: no content above this frequency: the file's {SR} Hz sample "
            f"rate holds nothing above {SR // 2} Hz") in out, out


def test_a_file_too_short_or_silent_for_similar_or_profile_compare_is_named_by_its_path(tmp_path, capsys):
    """`similar short.wav` and `profile compare P short.wav` said "y: 2.000 s of audio is shorter
    than the minimum 3 s" (the code's variable, not the file); a file of zeros "peak -400 dBFS"."""
    music, home = _one_track(tmp_path, capsys, "one")
    short, silent = tmp_path / "short.wav", tmp_path / "silent.wav"
    sf.write(short, groove(120.0, 2.0, seed=1), SR)
    sf.write(silent, np.zeros(5 * SR, dtype=np.float32), SR)
    assert main([*home, "--quiet", "similar", str(short)]) == 1
    assert f"error: {short}: 2.000 s of audio is shorter than the minimum 3 s" in capsys.readouterr().err
    assert main([*home, "--quiet", "similar", str(silent)]) == 1
    assert f"error: {silent}: audio is silent (every sample is 0); nothing to analyse" in capsys.readouterr().err
    from workbench.library import Library
    from workbench.style.gap import gap_analysis

    with pytest.raises(Exception, match=f"^{short}: 2.000 s of audio is shorter"):
        gap_analysis(Library(tmp_path / "ws" / "data" / "workbench.db"), {"name": "p"}, short)


def test_the_key_panel_says_what_a_and_b_mean_without_naming_two_keys():
    """The key panel's title read "Key (Camelot; A minor, B major; ...)", as if the keys A minor and
    B major were meant, not Camelot's letters."""
    import pandas as pd

    from workbench.explore import plot_distributions

    table = pd.DataFrame({"bpm": [120.0, 128.0], "camelot": ["8A", "11B"], "energy": [5, 7],
                          "loudness_lufs": [-12.0, -9.0], "group": ["a", "b"]})
    fig = plot_distributions(table)
    titles = [ax.get_title() for ax in fig.axes]
    key = next(t for t in titles if t.startswith("Key"))
    assert key == "Key (Camelot: nA = minor, nB = major; 2 tracks with a key)", titles


def test_similar_names_learned_weights_once_above_the_results_not_on_every_line():
    """With learned weights `similar` printed "weights learned from your crates (13 tracks): vibe
    67%, ..." under its `weights:` line and again at the end of every result line."""
    from types import SimpleNamespace

    from workbench.commands.library import shown_explanation

    said = "learned from your crates (13 tracks): vibe 67%, tempo 33%, key 0%, energy 0%"
    learned = SimpleNamespace(weights=said, match=SimpleNamespace(explanation=f"similar vibe (61%); same BPM; weights {said}"))
    assert shown_explanation(learned) == "similar vibe (61%); same BPM"
    plain = SimpleNamespace(weights="default: vibe 50%", match=SimpleNamespace(explanation="similar vibe (61%)"))
    assert shown_explanation(plain) == "similar vibe (61%)"


def test_a_tempo_compared_at_half_time_says_the_tempo_the_analysis_read():
    """`profile compare` of a 145-BPM track against a 74-102 BPM profile said "tempo 72.7 BPM, target
    74-102: speed the project up": the half-time figure, as if the analysis had read 72.7."""
    from workbench.style.gap import compare_features

    profile = {"features": {"bpm": {"mean": 88.0, "std": 7.0, "range": [74.0, 102.0]}}}
    out, = compare_features({"bpm": 145.3}, profile)
    assert out["outside"] and out["value"] == pytest.approx(72.65) and out["folded_from"] == 145.3
    assert out["advice"] == "tempo 145.3 BPM, target 148-204 (74-102 at half time): speed the project up"  # session 20
    inside, = compare_features({"bpm": 170.0}, profile)
    assert not inside["outside"] and inside["folded_from"] == 170.0 and inside["value"] == 85.0
    same, = compare_features({"bpm": 90.0}, profile)
    assert same["folded_from"] is None and same["value"] == 90.0


def test_the_reliability_legend_sits_outside_the_axes_and_hides_no_bin():
    """The report's reliability plot of the suggestions (four curves) put its legend inside the axes
    ("best" place), over the bins at low confidence and low accuracy."""
    from workbench.report.sections import reliability_figure

    def curve(shift):
        conf = [0.15 + 0.1 * i for i in range(8)]
        return {"confidence": conf, "accuracy": [min(1.0, max(0.0, c - shift)) for c in conf],
                "count": [5] * 8, "ece": 0.2}

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = reliability_figure({f"curve {i}": curve(0.1 * i) for i in range(4)})
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    (ax,) = fig.axes
    legend = fig.legends[0] if fig.legends else ax.get_legend()
    assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


def test_train_says_which_epochs_model_it_kept_beside_the_last_loss(tmp_path):
    """`train sections` said "job 2 completed: sections, 9/10 epochs, loss 0.0421" and, further
    down, that the validation loss only rose and the weights are epoch 1's: the loss shown was the
    last epoch's, not the kept model's."""
    from types import SimpleNamespace

    from workbench.commands.train import job_line
    from workbench.runs import load_run, write_run

    def said(metrics, name):
        p = write_run(f"sections-20261207-00000{name}-aaaa", info={"kind": "sections"}, config_={}, data={},
                      history=[{"epoch": e, "train_loss": 0.1} for e in range(1, 10)], metrics=metrics, root=tmp_path)
        return job_line(job, load_run(p).kept_epoch)

    job = SimpleNamespace(id=2, state="completed", kind="sections", epoch=9, total_epochs=10, loss=0.0421)
    assert said({"early_stopping": {"used": True, "best_epoch": 1, "epochs_run": 9}}, 1) == (
        "job 2 completed: sections, 9/10 epochs, loss 0.0421 (the last epoch's; the model kept is "
        "epoch 1's, the best on validation)")
    assert said({"early_stopping": {"used": True, "best_epoch": 9}}, 2) == (
        "job 2 completed: sections, 9/10 epochs, loss 0.0421")
    assert said({}, 3) == "job 2 completed: sections, 9/10 epochs, loss 0.0421"
    assert job_line(job, None) == "job 2 completed: sections, 9/10 epochs, loss 0.0421"  # no run folder


def test_a_sections_reports_projection_is_titled_in_words(tmp_path, monkeypatch):
    """A sections report titled its projection "Classifier output space (probs) (PCA of 738 ...)":
    the code's word for the arrays, and two pairs of parentheses."""
    import workbench.report.plots as P
    from workbench.report import build
    from workbench.runs import load_run, new_run_id, write_run

    titles: list[str] = []
    real = P.projection_figure

    def recording(*args, title, **kw):
        titles.append(title)
        return real(*args, title=title, **kw)

    monkeypatch.setattr(P, "projection_figure", recording)
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=12)
    run_id = new_run_id("sections")
    write_run(run_id, info={"kind": "sections"}, config_={}, data={}, history=[], metrics={"model": {"accuracy": 0.5}},
              arrays={"probs": probs, "y_true": probs.argmax(1)}, root=tmp_path)
    build(load_run(run_id, root=tmp_path))
    assert titles == ["Class probabilities"], titles


# -- second QA pass on the real music: labels import, similar --json, models delete, runs list -----


def _labelled_one_track(tmp_path, capsys):
    """A workspace with one scanned groove holding two labels, and its labels exported as CSV:
    (``--home`` arguments, the CSV's path, its lines)."""
    import json

    music, home = _one_track(tmp_path, capsys, "lab")
    from workbench.labels import Labels
    from workbench.library import Library

    with Library(tmp_path / "ws" / "data" / "workbench.db") as lib:
        Labels(lib).add(1, "intro", start_beat=0, end_beat=8)
        Labels(lib).add(1, "drop", start_beat=8, end_beat=16)
    csv_path = tmp_path / "labels.csv"
    assert main([*home, "labels", "export", str(csv_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] == 2
    return home, csv_path, csv_path.read_text().splitlines()


def test_labels_import_names_every_bad_row_and_imports_nothing(tmp_path, capsys):
    """`labels import` said only the first bad row ("nothing was imported"), so a user fixed one row
    per try: every bad row is named (where, the value, what is allowed), and `--json` lists them."""
    import csv
    import io
    import json

    home, csv_path, lines = _labelled_one_track(tmp_path, capsys)
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    rows[0]["label"], rows[0]["start_beat"], rows[0]["end_beat"] = "chorus", "16", "20"  # a good row: not imported
    bad = [dict(rows[1], label="solo", start_beat="16", end_beat="20"),  # row 3: not a label name
           dict(rows[1], start_beat="four", end_beat="20")]  # row 4: not an int
    bad_csv = tmp_path / "bad.csv"
    with bad_csv.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows([rows[0], *bad])
    assert main([*home, "labels", "import", str(bad_csv)]) == 1
    err = capsys.readouterr().err
    assert "2 bad entries; nothing was imported" in err, err
    assert "row 3: label must be one of" in err and "got 'solo'" in err, err
    assert "row 4: start_beat must be an int; got 'four'" in err, err
    assert main([*home, "labels", "import", str(bad_csv), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["type"] == "LabelRowsError" and doc["path"] == str(bad_csv)
    assert [p["where"] for p in doc["problems"]] == ["row 3", "row 4"]
    assert doc["problems"][1]["problem"] == "start_beat must be an int; got 'four'"
    assert main([*home, "labels", "list", "--json"]) == 0
    assert [r["label"] for r in json.loads(capsys.readouterr().out)] == ["intro", "drop"]  # all or nothing


def test_importing_a_labels_file_again_changes_nothing_and_writes_no_backup(tmp_path, capsys):
    """A second import of the same file skipped every label but still wrote a backup file; a
    no-op import changes nothing, says so, and writes none."""
    import json

    home, csv_path, _ = _labelled_one_track(tmp_path, capsys)
    backups = tmp_path / "ws" / "data" / "backups"
    assert main([*home, "labels", "import", str(csv_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["added"], doc["changed"], doc["backup_path"]) == (0, False, None), doc
    assert [s["reason"] for s in doc["skipped"]] == ["already in the library"] * 2
    assert not backups.exists() or not list(backups.iterdir())
    assert main([*home, "labels", "import", str(csv_path)]) == 0
    assert "0 added, nothing changed" in capsys.readouterr().out
    assert not backups.exists() or not list(backups.iterdir())


def test_similar_json_rounds_scores_weights_and_bpm_delta_for_output(tmp_path, capsys):
    """`similar --json` printed float noise (weights_used 0.5000000000000001, bpm_delta
    -0.325000000017): scores and weights to 4 decimals, bpm_delta to 0.01 BPM; ranked unrounded."""
    import types

    from workbench.commands.library import similar_record
    from workbench.similarity.query import Match

    match = Match(id=2, score=0.48437519, vibe=0.2306001, tempo=0.961337, key=None, energy=0.8000000000000002,
                  bpm_delta=-0.325000000017, key_from="4A", key_to=None, energy_delta=1, explanation="x")
    track = types.SimpleNamespace(id=2, name="b", path="/b.flac")
    result = types.SimpleNamespace(track=track, match=match, model="backbone", weights="w",
                                   weights_used={"vibe": 0.5000000000000001, "tempo": 0.2, "key": 0.2,
                                                 "energy": 0.09999999999999998})
    doc = similar_record(result)
    assert doc["weights_used"] == {"vibe": 0.5, "tempo": 0.2, "key": 0.2, "energy": 0.1}
    assert (doc["score"], doc["vibe"], doc["tempo"], doc["energy"]) == (0.4844, 0.2306, 0.9613, 0.8)
    assert doc["bpm_delta"] == -0.33 and doc["key"] is None and doc["energy_delta"] == 1
    assert match.score == 0.48437519  # the match itself (and so the ranking) is untouched


def test_models_delete_has_json(tmp_path, capsys, monkeypatch):
    """`models delete` was the one registry command without `--json`."""
    import json

    from workbench.library import Library
    from workbench.registry import Registry

    model_pb2 = pytest.importorskip("coremltools.proto.Model_pb2")
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    pkg = tmp_path / "pkg.mlpackage"  # the smallest package the registry stamps: a manifest and an empty spec
    (pkg / "Data").mkdir(parents=True)
    (pkg / "Data" / "model.mlmodel").write_bytes(model_pb2.Model(specificationVersion=1).SerializeToString())
    (pkg / "Manifest.json").write_text(json.dumps({"rootModelIdentifier": "m", "itemInfoEntries": {
        "m": {"path": "model.mlmodel"}}}))
    metrics = {"model": {"accuracy": 0.9, "macro_f1": 0.9}, "baselines": {"majority": {"accuracy": 0.3,
                                                                                       "macro_f1": 0.1}}}
    with Library(tmp_path / "data" / "workbench.db") as lib, Registry(lib, root=tmp_path / "models") as reg:
        for _ in range(2):
            reg.register("dj_section", pkg, metadata={}, metrics=metrics)
    home = ["--home", str(tmp_path)]
    assert main([*home, "models", "delete", "dj_section", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model_type"] == "dj_section" and doc["deleted"]["name"] == "dj_section_v1"
    assert doc["deleted"]["version"] == 1 and doc["deleted"]["active"] is False
    assert main([*home, "models", "list", "--json"]) == 0
    assert [v["name"] for v in json.loads(capsys.readouterr().out)["versions"]] == ["dj_section_v2"]


def test_runs_list_names_the_job_start_column_started(tmp_path, capsys):
    """`runs list` headed the job's start time "created", earlier than the time in the run id
    (stamped when the run was written): the column is "started", and the help says which is which."""
    from workbench.runs import new_run_id, write_run

    root = tmp_path / "experiments"
    write_run(new_run_id("sections"), info={"kind": "sections", "created_at": "2026-12-06T22:00:00+00:00"},
              config_={}, data={}, history=[], metrics={"model": {"accuracy": 0.5}}, root=root)
    assert main(["--home", str(tmp_path), "runs", "--experiments", str(root), "list"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "started (UTC)" in header and "created" not in header.split(), header  # the zone, as `models list` says
