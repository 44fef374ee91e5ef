"""Session 13's QA pass: counts in words everywhere ("1 track was", "2 tracks were"), below the
CLI too (errors, figure titles, reports), and what a DJ's walk through the README on real music
turned up."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from test_analysis import SR, groove

from workbench.cli import main
from workbench.wording import agree, count_of, count_verb


@pytest.mark.parametrize(("n", "said"), [(0, "0 tracks were"), (1, "1 track was"), (2, "2 tracks were")])
def test_a_count_and_its_verb_agree(n, said):
    assert count_verb(n, "track", "was", "were") == said
    assert count_of(n, "class", "classes") == ("1 class" if n == 1 else f"{n} classes")
    assert agree(n, "needs", "need") == ("needs" if n == 1 else "need")


def test_the_commands_count_helper_is_the_shared_one():
    from workbench import commands, wording

    assert commands.count_of is wording.count_of


def _hum(duration_s: float) -> np.ndarray:
    """A held chord with no onsets: no beat to track."""
    t = np.arange(int(duration_s * SR)) / SR
    return (0.2 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))).astype(np.float32)


def _one_track(tmp_path, capsys, name: str) -> tuple:
    """A workspace with one scanned 10-s groove ``name``.flac: (music folder, ``--home`` arguments)."""
    music, home = tmp_path / "music", ["--home", str(tmp_path / "ws")]
    music.mkdir()
    sf.write(music / f"{name}.flac", groove(124.0, 10.0, seed=3), SR)
    assert main([*home, "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    return music, home


def test_qa_and_similar_on_one_track_say_track_and_agree(tmp_path, capsys):
    """`qa` said "0 of 1 tracks flagged" and "1 tracks not analysed"; `similar` said "(1 tracks
    without a steady beat are searched ...: their tempo is unknown)"."""
    music, home = _one_track(tmp_path, capsys, "only")
    assert main([*home, "--quiet", "qa"]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 track flagged, 1 needs review, 1 left out" in out and "1 tracks" not in out, out
    assert "  1 track not analysed: `workbench analyze`" in out, out
    assert "    1  only  [review, left out of training]" in out, out  # the track's name, as `tracks` and `similar` show it
    assert main([*home, "qa", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tracks"][0]["name"] == "only"

    sf.write(music / "hum.flac", _hum(10.0), SR)
    assert main([*home, "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main([*home, "--quiet", "similar", "1"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "(1 track without a steady beat is searched on vibe, key and energy: its tempo is unknown)" in out, out


def test_runs_compare_writes_a_missing_metric_as_runs_list_and_table_do(tmp_path, capsys):
    """`runs compare` wrote "not recorded" in its metrics table where `runs list` and `runs table`
    write "-": all three "-", and the legend says what "-" means."""
    from workbench.runs import new_run_id, write_run

    root = tmp_path / "experiments"
    ids = []
    for metrics in ({"accuracy": 0.5, "macro_f1": 0.4}, {"accuracy": 0.6}):
        ids.append(new_run_id("sections"))
        write_run(ids[-1], info={"kind": "sections", "backbone": {"name": "features-v1", "dim": 16}},
                  config_={}, data={"fingerprint": "abc"}, history=[], metrics={"model": metrics}, root=root)
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "runs", "--experiments", str(root), "compare", *ids]) == 0
    out = capsys.readouterr().out
    legend, *table = out.split("metrics (", 1)[1].split("\n\n", 1)[0].splitlines()  # up to the data changes
    row = next(line for line in table if line.startswith("model.macro_f1"))
    assert row.split()[1:] == ["0.4000", "-"], out
    assert "-: not recorded" in legend and not any("not recorded" in line for line in table), out


def test_a_yes_no_flag_is_printed_without_a_meaningless_comparison():
    """`qa` printed "no_beat: 0 <= 0 : no beat grid: ..." for the trumpet loop."""
    from workbench.qa.flags import evaluate_flags

    flags = {f.name: f for f in evaluate_flags({"has_beat": 0.0, "tempo_stability": 0.1})}
    assert str(flags["no_beat"]).startswith("no_beat: no beat grid: check it is rhythmic"), str(flags["no_beat"])
    assert str(flags["unsteady_tempo"]).startswith("unsteady_tempo: 0.1 <= 0.5 stability: ")


def test_profile_show_gives_each_feature_its_unit():
    """`profile show` printed "pumping_regularity 0.4234" and "detune_cents 23.32" with no unit:
    a coefficient of variation, cents and a 0..1 share read alike."""
    from workbench.commands.style import _feature_table

    stats = {"mean": 0.42, "range": (0.0, 1.07), "ci95": (0.18, 0.67), "n": 5}
    header, *rows = _feature_table({"pumping_regularity": stats, "bpm": {**stats, "mean": 140.5}})
    assert header.split()[-2:] == ["n", "unit"]
    assert rows[0].endswith("5  coefficient of variation") and rows[1].endswith("5  BPM"), rows


def test_a_groups_top_key_is_not_claimed_from_a_tie():
    """`group_summary` gave the real librosa_data folder (6A, 6B, 9A, 12B, one track each) the "top"
    key 12B, the first in sort order."""
    import pandas as pd

    from workbench.explore import group_summary

    table = pd.DataFrame({"group": ["a"] * 4 + ["b"] * 3 + ["c"] * 2 + ["d"],
                          "camelot": ["6A", "6B", "9A", "12B", "8A", "8A", "5A", "9A", "6A", None],
                          "bpm": 120.0, "energy": 5, "loudness_lufs": -12.0, "duration_s": 60.0})
    top = group_summary(table)["top_camelot"].to_dict()
    assert pd.isna(top.pop("d")) and top == {"a": "mixed: 4 keys", "b": "8A", "c": "6A/9A"}, top


def test_similar_with_an_unknown_track_says_so_before_analysing_the_library(tmp_path, capsys):
    """`similar 99` analysed and embedded every track (minutes on a fresh library) before saying
    that 99 is no track: now it says it first, and nothing is computed."""
    from workbench.analysis import track_analysis
    from workbench.library import Library

    _music, home = _one_track(tmp_path, capsys, "a")
    assert main([*home, "similar", "99"]) == 1
    err = capsys.readouterr().err
    assert "'99' is neither a track of" in err and "nor an audio file" in err and "analyse" not in err, err
    with Library(tmp_path / "ws" / "data" / "workbench.db") as lib:
        assert track_analysis(lib, lib.tracks()[0], compute=False) is None


def test_too_few_labels_of_a_class_says_how_to_train_anyway():
    """On the real files labelled from suggestions (drop 35, break 28, intro 9, outro 9), `train
    sections` said "Need more labels: intro 7/10, outro 7/10" and no way on; the README's
    troubleshooting has one (`--set min_per_class`), now the error gives it with the number that passes."""
    from workbench.train.sections.features import NotReadyError, check_readiness

    with pytest.raises(NotReadyError, match=r"Need more labels: intro 7/10, outro 8/10 \(labelled sections per "
                                            r"class\): label more, or lower the rule for an experiment "
                                            r"\(`workbench train sections --set min_per_class=7`"):
        check_readiness({"drop": 35, "break": 28, "intro": 7, "outro": 8})


def test_train_sections_prints_the_model_beside_the_majority_class_and_its_gates():
    """`train sections` printed "metrics: model.accuracy=0.4224 ... baselines.ensemble.accuracy=..."
    without the majority class, the baseline its export gates hold it to (embeddings print a table)."""
    from workbench.commands.train import sections_lines

    metrics = {"model": {"accuracy": 0.42, "macro_f1": 0.35}, "model_smoothed": {"accuracy": 0.53, "macro_f1": 0.55},
               "baselines": {"majority": {"accuracy": 0.45, "macro_f1": 0.13}, "ensemble": {"accuracy": 0.48}},
               "held_out": {"track_hashes": ["a", "b"]}}
    lines = sections_lines(metrics)
    assert lines[0].split() == ["held-out", "(2", "tracks)", "accuracy", "macro", "F1"]
    assert lines[1].split() == ["model", "0.420", "0.350"] and lines[3].split() == ["majority", "0.450", "0.130"]
    assert lines[4].split() == ["ensemble", "0.480", "n/a"]
    assert lines[-1] == ("export gates (the model, unsmoothed): macro_f1 0.350 > majority 0.130: pass; "
                         "accuracy 0.420 >= majority 0.450: fail")


def test_the_confusion_matrix_says_its_numbers_are_counts_and_its_colour_a_share():
    """The sections report's confusion matrix printed counts (181, 125 ...) under "normalised per
    row" and a 0-1 colour bar without a name: which is normalised?"""
    from workbench.report.plots import confusion_figure

    fig = confusion_figure([[18, 125, 181], [37, 248, 6], [0, 0, 71]], ["break", "drop", "intro"])
    ax, bar = fig.axes
    assert ax.get_title() == "Confusion matrix (rows: truth; numbers: counts)"
    assert bar.get_ylabel() == "share of the truth row"
    assert sorted(t.get_text() for t in ax.texts)[:3] == ["0", "0", "125"]


def test_the_reports_early_stopping_line_counts_one_training_track_in_the_singular():
    """The sections report on the real files said "early stopping on 258 validation windows of 1
    training tracks"."""
    from workbench.report.baselines import comparison

    es = {"used": True, "n_val_windows": 258, "val_groups": ["t1"], "best_epoch": 1, "epochs_run": 9,
          "max_epochs": 10, "patience": 8}
    html = comparison({"model": {"accuracy": 0.4}, "baselines": {"majority": {"accuracy": 0.3}}, "early_stopping": es})
    assert "early stopping on 258 validation windows of 1 training track: best epoch 1 of 9 run" in html, html


def test_runs_compare_writes_a_parameter_one_run_lacks_as_dash_not_none(tmp_path, capsys):
    """`runs compare` of an embeddings and a sections run printed "None" for every parameter the
    other kind lacks, beside metrics written "-"."""
    from workbench.runs import new_run_id, write_run

    root = tmp_path / "experiments"
    ids = []
    for config in ({"margin": 0.2, "lr": 0.01}, {"lr": 0.001}):
        ids.append(new_run_id("sections"))
        write_run(ids[-1], info={"kind": "sections"}, config_=config, data={"fingerprint": "abc"}, history=[],
                  metrics={"model": {"accuracy": 0.5}}, root=root)
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "runs", "--experiments", str(root), "compare", *ids]) == 0
    out = capsys.readouterr().out
    head, table = out.split("metrics (", 1)[0].split("\n", 1)
    assert head.endswith("; -: not set in that run:"), out
    row = next(line for line in table.splitlines() if line.startswith("config.margin"))
    assert row.split()[1:] == ["0.2", "-"] and "None" not in table, out


def test_the_reports_config_says_none_for_a_setting_set_to_none(tmp_path):
    """The embeddings report's Config listed "distill: not recorded" and "openl3_weights: not
    recorded" for settings the run recorded as None (no distillation, the default weights)."""
    from workbench.report import build
    from workbench.runs import load_run, new_run_id, write_run

    run_id = new_run_id("sections")
    write_run(run_id, info={"kind": "sections"}, config_={"distill": None, "lr": 0.001}, data={}, history=[],
              metrics={"model": {"accuracy": 0.5}}, root=tmp_path)
    html, _plots, _computed = build(load_run(run_id, root=tmp_path))
    config = html[html.index("<h2>Config</h2>"):]
    config = config[:config.index("</section>")]
    assert "not recorded" not in config and ">distill<" in config and ">none<" in config, config


@pytest.mark.parametrize("worst_op", ["", "add op_12"])
def test_an_export_with_no_fp16_op_does_not_report_a_largest_fp16_activation_of_0(worst_op):
    """Exporting the sections run printed "largest fp16 activation 0 ()" and its model card
    "largest fp16 activation 0 (limit 65504)": the program computes in float32 and has none."""
    import json

    from workbench.export.mil_eval import ParityReport
    from workbench.registry_card import model_card

    report = ParityReport(n_windows=655, psnr_db=100.8, max_abs_error=6e-5, label_agreement=1.0,
                          fp16_max_abs=0.0 if not worst_op else 42.5, fp16_worst_op=worst_op, fp16_overflow=(),
                          top_ranges=())
    said, card = str(report), model_card({"name": "dj_section", "version": 1, "model_type": "dj_section",
                                          "export": {"parity": json.loads(json.dumps(report.as_dict()))}})
    if worst_op:
        assert said.endswith("largest fp16 activation 42.5 (add op_12)") and "largest fp16 activation 42.5" in card
    else:
        assert said.endswith("same label on 100.0%; no fp16 activation (the program computes in float32)"), said
        assert "no fp16 activation (float32 throughout)" in card and "largest fp16" not in card, card


def test_labels_list_without_labels_says_how_to_add_some_instead_of_an_empty_table(tmp_path, capsys):
    """`labels list` on a library without labels printed the table's header and "0 labels"."""
    _music, home = _one_track(tmp_path, capsys, "only")
    for extra, said in (([], "no labels yet: "), (["1"], "no labels on track 1: ")):
        assert main([*home, "labels", "list", *extra]) == 0
        out = capsys.readouterr().out
        assert out.startswith(said) and "workbench labels import FILE" in out and "track name" not in out, out


def test_profile_compare_names_a_library_track_by_its_id_and_name(tmp_path, capsys, monkeypatch):
    """`profile compare tux 1` headed its gap analysis with the file's full path, where every other
    listing names the track; a file outside the library keeps its path."""
    import workbench.style as style

    music, home = _one_track(tmp_path, capsys, "groove")
    monkeypatch.setattr(style, "load_profile", lambda lib, name: {"name": name})
    monkeypatch.setattr(style, "gap_analysis", lambda lib, profile, target, sections=None: {
        "target": getattr(target, "path", str(target)), "profile": "tux@1", "features": [], "outside": [],
        "seconds": 0.1, "trance_score": {"value": 0.5, "profile_mean": 0.6}, "cluster": None, "sections": []})
    for target in ("1", str(music / "groove.flac")):
        assert main([*home, "profile", "compare", "tux", target]) == 0, capsys.readouterr()
        assert capsys.readouterr().out.startswith("track 1 (groove) against tux@1: 0 of 0 features")
    wip = tmp_path / "wip.flac"
    sf.write(wip, groove(124.0, 4.0, seed=9), SR)
    assert main([*home, "profile", "compare", "tux", str(wip)]) == 0, capsys.readouterr()
    assert capsys.readouterr().out.startswith(f"{wip} against tux@1")


# --------------------------------------------------------------------------- session 14's QA pass


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
    measured: list[list[str]] = []
    real = sections_mod.section_features

    def counting(y, sr, analysis, sections):
        measured.append([s[0] for s in sections])
        return real(y, sr, analysis, sections)

    monkeypatch.setattr(sections_mod, "section_features", counting)
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
    and its model on every call; now once, and again when the library or the model changes."""
    music, home = _one_track(tmp_path, capsys, "first")
    sf.write(music / "second.flac", groove(126.0, 10.0, seed=4), SR)
    assert main([*home, "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main([*home, "--quiet", "similar", "1", "-k", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("backbone: feature frontend, not OpenL3 (no OpenL3 weights") and "\nmodel: backbone" in out
    assert main([*home, "--quiet", "similar", "2", "-k", "1"]) == 0
    again = capsys.readouterr().out
    assert "backbone:" not in again and "model:" not in again and again.startswith("weights: default"), again
    sf.write(music / "third.flac", groove(130.0, 10.0, seed=6), SR)  # the library changes: said again
    assert main([*home, "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main([*home, "--quiet", "similar", "1", "-k", "1"]) == 0
    assert capsys.readouterr().out.startswith("backbone: feature frontend")


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
    assert out["advice"] == "tempo 145.3 BPM (72.7 at half time), target 74-102: speed the project up"
    inside, = compare_features({"bpm": 170.0}, profile)
    assert not inside["outside"] and inside["folded_from"] == 170.0 and inside["value"] == 85.0
    same, = compare_features({"bpm": 90.0}, profile)
    assert same["folded_from"] is None and same["value"] == 90.0
