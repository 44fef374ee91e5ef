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
    # session 22: with --unknown expected the tempo term is counted (as the library's average), not left out
    assert main([*home, "--quiet", "similar", "1", "--unknown", "expected"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "searched on vibe, key and energy" not in out and "tempo is unknown" not in out, out
    assert ("(1 track without a steady beat is searched with its unknown tempo counted as the library's average: the "
            "query's mean tempo agreement with the tracks whose tempo is known, --unknown expected)") in out, out


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
    assert lines[1].split() == ["model", "0.4200", "0.3500"] and lines[3].split() == ["majority", "0.4500", "0.1300"]
    assert lines[4].split() == ["ensemble", "0.4800", "n/a"]
    assert lines[-1] == ("export gates (each says what it judged): macro_f1 of smoothed sections 0.5500 > majority "
                         "0.1300: pass; accuracy of smoothed sections 0.5300 >= majority 0.4500: pass; "
                         "boundary F @3 s of smoothed sections: the run recorded no "
                         "segments.smoothed.boundary_f_3s and segments.novelty.boundary_f_3s (a run without held-out "
                         "segments scored, or from before the sections job recorded them), so it is unknown and "
                         "does not block")
    metrics["segments"] = {"smoothed": {"boundary_f_3s": 0.41}, "novelty": {"boundary_f_3s": 0.86}}
    assert sections_lines(metrics)[-1].endswith("; boundary F @3 s of smoothed sections 0.4100 < novelty 0.8600: fail "
                                                "(the means over the held-out tracks are compared, no allowance for "
                                                "noise: the run has no per-track figures, segments.per_track (trained "
                                                "before runs recorded them: train again for the paired test))")


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
