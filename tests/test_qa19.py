"""Session 19's QA on real music: the README's CLI walk from the top (each command with and without
``--json``, bad input) and notebooks 01, 05 and 06 in JupyterLab."""

from __future__ import annotations

import json
import re

import pytest
from test_dj_qa4 import _one_track
from test_style import style_lib  # noqa: F401  (a fixture)

from workbench.cli import main
from workbench.errors import ParameterError


def test_similar_with_an_empty_or_corrupt_file_says_so_before_analysing_the_library(tmp_path, capsys):
    """`similar bad/empty.mp3` analysed and embedded all 19 real tracks (two minutes) before saying
    that the file is empty: now the query file is checked first, and nothing is computed."""
    from workbench.analysis import track_analysis
    from workbench.library import Library

    music, home = _one_track(tmp_path, capsys, "a")
    empty, corrupt = tmp_path / "empty.mp3", tmp_path / "cut.flac"
    empty.write_bytes(b"")
    corrupt.write_bytes((music / "a.flac").read_bytes()[:3000])
    for query, cause in ((empty, "the file is empty (0 bytes)"), (corrupt, "corrupt or truncated .flac file")):
        assert main([*home, "similar", str(query)]) == 1
        err = capsys.readouterr().err
        assert cause in err and str(query) in err and "analyse" not in err, err
    with Library(tmp_path / "ws" / "data" / "workbench.db") as lib:
        assert track_analysis(lib, lib.tracks()[0], compute=False) is None


def test_suggest_text_calls_a_novelty_boundarys_label_a_guess_not_0_percent():
    """Without a section model `suggest` printed every novelty boundary at "0%  uncertain", a
    confidence nothing gave it; the labeler says "guess", and now so does the text."""
    from workbench.commands.suggest import suggestion_line

    row = {"label": "intro", "start_beat": 0, "end_beat": 46, "start_s": 0.0, "end_s": 31.7, "confidence": 0.0,
           "uncertain": True}
    assert suggestion_line(row, guess=True).split() == ["intro", "0-46", "0.0-31.7", "guess", "uncertain"]
    assert suggestion_line({**row, "confidence": 0.34}).split()[-2] == "34%"


def test_library_table_gives_no_key_confidence_where_there_is_no_key(tmp_path, capsys, monkeypatch):
    """Notebook 01's table showed the real drum loops with key "–", camelot "–" and a key
    confidence 0.04-0.23: a confidence in a key the analysis says is not there (`analyze` shows "-")."""
    import math
    from types import SimpleNamespace

    import workbench.analysis
    from workbench.explore import library_table
    from workbench.library import Library

    _one_track(tmp_path, capsys, "loop")
    drums = SimpleNamespace(bpm=140.0, has_key=False, key="C major", camelot="8B", key_confidence=0.23, energy=7,
                            loudness_lufs=-9.0)
    monkeypatch.setattr(workbench.analysis, "track_analysis", lambda *a, **k: drums)
    with Library(tmp_path / "ws" / "data" / "workbench.db") as lib:
        row = library_table(lib).iloc[0]
    assert row["key"] is None and row["camelot"] is None and math.isnan(row["key_confidence"]), row
    drums.has_key = True
    with Library(tmp_path / "ws" / "data" / "workbench.db") as lib:
        assert library_table(lib).iloc[0]["key_confidence"] == 0.23


def test_model_card_lists_the_models_own_metrics_first_and_an_unmeasured_one_as_a_dash():
    """The real-music dj_section_v1 card listed its ~300 metrics by name: `model.accuracy` came after
    every baseline's per-class row, and unmeasured values read `null`."""
    from workbench.registry_card import model_card

    metrics = {"baselines": {"majority": {"accuracy": 0.4319}}, "calibration": {"suggestions": {"ece_after": None}},
               "model": {"accuracy": 0.4319, "macro_f1": 0.2928}, "model_smoothed": {"accuracy": 0.5727}}
    card = model_card({"model_type": "dj_section", "version": 1, "metadata": {}, "metrics": metrics})
    rows = [line for line in card.split("## Metrics")[1].split("##")[0].splitlines() if line.startswith("| ") and
            not line.startswith("| |")]
    assert [r.split("|")[1].strip() for r in rows] == ["model.accuracy", "model.macro_f1", "model_smoothed.accuracy",
                                                      "baselines.majority.accuracy", "calibration.suggestions.ece_after"]
    assert rows[-1] == "| calibration.suggestions.ece_after | - |" and "null" not in card, rows


def test_notebook_01s_players_say_which_track_they_play(tmp_path, capsys):
    """Notebook 01's "Listen to the query and its best match" showed two bare players: nothing said which
    was machine_wars and which loop_tabla."""
    from workbench.explore import player
    from workbench.library import Library

    _one_track(tmp_path, capsys, "a <b> & c")
    with Library(tmp_path / "ws" / "data" / "workbench.db") as lib:
        track = lib.tracks()[0]
        html = player(track, duration_s=20)._repr_html_()
        assert html.startswith("<div>track 1: a &lt;b&gt; &amp; c (0-10 s)</div>") and "<audio" in html, html[:200]
        assert "(4-10 s)" in player(track, start_s=4.0)._repr_html_()[:80]


def test_notebook_01s_before_after_table_shows_scores_to_4_decimals():
    """Notebook 01's before/after table said 0.778 and 0.722 where `train embeddings` said the same search
    gate's 0.7778 and 0.7222 (as notebook 03's table, session 18)."""
    from pathlib import Path

    source = (Path(__file__).resolve().parents[1] / "notebooks" / "01_explore_library.ipynb").read_text()
    assert '\\"n_queries\\"]].infer_objects(), precision=4))' in source


@pytest.mark.parametrize(("key", "value", "said"), [
    ("dropout", 2, "dropout must be a float in [0, 1); got 2"),
    ("hidden_dim", 0, "hidden_dim must be an int >= 1; got 0"),
    ("weight_decay", -1, "weight_decay must be a float >= 0; got -1"),
])
def test_train_sections_refuses_a_bad_network_setting_before_making_a_job(key, value, said):
    """`train sections --set dropout=2` (or hidden_dim=0, weight_decay=-1) made a job, computed features and
    failed it ("ValueError: Invalid weight_decay value: -1" from torch): `workbench jobs` kept a failed
    job for a typo. The config check now refuses them, as it refuses `--lr -1`, before any job."""
    from workbench.train.sections.config_check import check_sections_config

    with pytest.raises(ParameterError, match=re.escape(said)):
        check_sections_config({key: value})


def test_data_diff_of_two_section_runs_says_their_labels_are_the_same_when_the_fingerprint_is():
    """Notebook 05 compared two sections runs on the same labels and said "fingerprint: same" above
    "labels added/removed: not recorded": runs keep label counts and a fingerprint of the labels, not the
    labels, so every real run read "not recorded"; the fingerprint says whether they are the same."""
    from workbench.experiments_compare import data_diff
    from workbench.runs import Run

    def run(name, created, fp, counts):
        return Run(path=f"/x/{name}", info={"run_id": name, "kind": "sections", "created_at": created}, config={},
                   history=[],
                   metrics={}, data={"tracks": [{"content_hash": "h1", "name": "a"}], "fingerprint": fp,
                                     "label_counts": counts})

    a = run("a", "2026-12-07T13:24:00", "f1", {"drop": 39, "break": 29})
    said = data_diff(a, run("b", "2026-12-07T13:35:00", "f1", {"drop": 39, "break": 29})).summary()
    assert "  labels: the same (the fingerprint covers them)" in said and "not recorded" not in said, said
    said = data_diff(a, run("c", "2026-12-07T13:40:00", "f2", {"drop": 40, "break": 29})).summary()
    assert "labels: which were added or removed is not recorded; the counts per class changed (below)" in said
    assert "  label counts: drop 39->40" in said, said
    said = data_diff(a, run("d", "2026-12-07T13:45:00", "f3", {"drop": 39, "break": 29})).summary()
    assert said.endswith("the counts per class are the same"), said


def test_runs_compare_lists_the_models_own_metrics_first(tmp_path):
    """Notebook 05 and `runs compare` put two sections runs' model.accuracy after 40-odd baseline and
    calibration rows; the model's own metrics now come first, the rest in their order."""
    from workbench.experiments import compare
    from workbench.runs import Run

    def run(name, created, acc):
        metrics = {"baselines": {"majority": {"accuracy": 0.4319}}, "calibration": {"ece_after": 0.1366},
                   "model": {"accuracy": acc}, "model_smoothed": {"accuracy": acc + 0.1}, "n_sections": 71}
        return Run(path=tmp_path / name, info={"run_id": name, "kind": "sections", "created_at": created}, config={},
                   data={}, history=[], metrics=metrics)

    shown = compare([run("a", "2026-12-07T13:24", 0.4319), run("b", "2026-12-07T13:35", 0.4296)]).metrics
    assert list(shown.index) == ["model.accuracy", "model_smoothed.accuracy", "baselines.majority.accuracy",
                                 "calibration.ece_after", "n_sections"], list(shown.index)


def test_notebook_05_names_a_lone_run_of_its_kind_in_words():
    """Notebook 05 said "the oldest of the 1 embeddings runs" on a workspace with one run of each kind."""
    from pathlib import Path

    cell = next(c for c in json.loads((Path(__file__).resolve().parents[1] / "notebooks" /
                                       "05_compare_experiments.ipynb").read_text())["cells"]
                if "baseline: {oldest}" in "".join(c["source"]))
    source = "".join(cell["source"])
    assert 'f"the only {kind} run" if counts.iloc[0] == 1 else' in source and "the oldest of the 1" not in source


def test_models_compare_text_lists_the_models_own_metrics_first():
    """`models compare dj_section 1 2` listed ~200 baseline rows by name before metrics.model.accuracy
    (notebook 06's table put the headline first; the command did not)."""
    from types import SimpleNamespace

    from workbench.registry_types import Comparison

    def version(n, acc):
        return SimpleNamespace(model_type="dj_section", version=n, size_bytes=19_790_000, export={},
                               metrics={"baselines": {"ensemble": {"accuracy": 0.4781}}, "calibration": {"ece": 0.13},
                                        "model": {"accuracy": acc}})

    text = str(Comparison.of(version(1, 0.4319), version(2, 0.4296)))
    names = [line.split()[0] for line in text.splitlines()[1:]]
    assert names == ["metrics.model.accuracy", "size_mb", "metrics.baselines.ensemble.accuracy",
                     "metrics.calibration.ece"], names


def test_profile_show_says_its_range_is_the_target_band_not_the_references_span(style_lib, capsys):  # noqa: F811
    """`profile show stk` on the real supertuxkart crate (tempi 132-145 BPM) gave bpm "range 127.6 .. 153.3"
    with no word on what the range is: a reader takes it for the references' lowest .. highest."""
    lib, _ = style_lib
    assert main(["--db", str(lib.path), "profile", "build", "qa19", "--crate", "ref"]) == 0
    capsys.readouterr()
    assert main(["--db", str(lib.path), "profile", "show", "qa19"]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(out) if line.startswith("feature "))
    legend = next(line for line in out if line.startswith("range: "))
    assert out.index(legend) > header and "10th-90th percentiles" in legend and "not their lowest .. highest" in legend


def test_info_of_a_truncated_file_says_what_scan_says(tmp_path, capsys):
    """`info bad/truncated_amen.flac` (the first 100 kB of the real Amen loop) printed its header's "6.86 s"
    with exit 0, where `scan` refuses the same file as truncated: `info` now decodes it whole, as scan does."""
    music, home = _one_track(tmp_path, capsys, "whole")
    cut = tmp_path / "cut.flac"
    cut.write_bytes((music / "whole.flac").read_bytes()[:20000])
    assert main([*home, "info", str(cut)]) == 1
    assert "corrupt or truncated .flac file" in capsys.readouterr().err
    assert main([*home, "info", str(music / "whole.flac"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["duration_s"] == pytest.approx(10.0, abs=0.01)


def test_the_majority_warning_names_the_failing_metric_as_failing_and_the_other_as_passing():
    """The real-music sections report warned "the model does not beat always saying the most frequent class ...:
    accuracy 0.4296 vs 0.4319, macro F1 0.2893 vs 0.1508": the macro F1 beats it by far, the sentence said otherwise."""
    from workbench.train.sections.training import _beats_majority

    majority = {"accuracy": 0.4319, "macro_f1": 0.1508}
    said = _beats_majority({"accuracy": 0.4296, "macro_f1": 0.2893}, majority)
    assert said.endswith("held-out tracks: its accuracy 0.4296 is below the majority's 0.4319 (its macro F1 "
                         "0.2893 is above the majority's 0.1508)"), said
    said = _beats_majority({"accuracy": 0.40, "macro_f1": 0.15}, majority)
    assert said.endswith("its accuracy 0.4000 is below the majority's 0.4319 and its macro F1 0.1500 is not above "
                         "the majority's 0.1508"), said
    assert _beats_majority({"accuracy": 0.5, "macro_f1": 0.3}, majority) is None


def test_tracks_table_gives_its_units(tmp_path, capsys):
    """`workbench tracks` headed its columns "dur" and "rate" (seconds? samples? Hz?), where `models list` writes
    "size MB" and "PSNR dB"."""
    _music, home = _one_track(tmp_path, capsys, "unit")
    assert main([*home, "tracks"]) == 0
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert header.split()[:5] == ["id", "dur", "s", "rate", "Hz"] and row.split()[1:3] == ["10.0", "22050"], row
