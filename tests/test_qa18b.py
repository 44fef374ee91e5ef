"""Session 18's second QA pass on real music (notebooks 03, 04 and 07): what the first pass left.

An epoch without a mined triplet has no loss (never "loss 0.0000"); run ids against start times; scores
with 4 decimals in sentences; the transfer warning names its metric; the no-model fallback's spans;
the style plot's units; the older labeler's picture; the augmentation settings shown readably.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from test_cli_json import home  # noqa: F401  (a fixture)
from test_jobs import dummy_train, exp, lib  # noqa: F401  (fixtures)
from test_triplet import FAST, clustered

from workbench.train import jobs as J

# -- 1. an epoch whose miner found no triplet ----------------------------------------------------------

def _no_triplets(monkeypatch):
    """The triplet miner finds no hard triplet in any batch (as on a small, well-separated library)."""
    import torch

    from workbench.train import triplet as T

    built = T.build_objective

    def build(*args, **kwargs):
        objective = built(*args, **kwargs)
        none = torch.zeros(0, dtype=torch.long)
        return dataclasses.replace(objective, miner=lambda emb, y: (none, none, none))

    monkeypatch.setattr(T, "build_objective", build)


def test_an_epoch_without_a_mined_triplet_records_no_loss_not_zero(monkeypatch):
    from workbench.train.triplet import TripletConfig, train_triplet

    _no_triplets(monkeypatch)
    seen = []
    result = train_triplet(clustered(seed=0), clustered(seed=1, per_class=8, first_track=10_000),
                           config=TripletConfig(**{**FAST, "max_epochs": 2, "patience": 5}),
                           on_epoch=lambda e, total, rec: seen.append(rec), progress=False)
    assert [r["mined_triplets"] for r in result.history] == [0, 0]
    assert [r["train_loss"] for r in result.history] == [None, None]  # was 0.0: a "perfect" loss
    assert all(r["train_loss"] is None for r in seen)


def test_jobs_say_no_triplet_mined_instead_of_loss_0(lib, exp, capsys):  # noqa: F811
    from workbench.commands.train import format_jobs, job_line
    from workbench.widgets.jobs import jobs_html

    runner = J.JobRunner(lib, "embeddings", experiments_root=exp, progress=False, min_interval_s=0.0)
    with runner:
        runner.on_epoch(1, 2, {"train_loss": 0.2, "mined_triplets": 40})
        assert runner.job.loss_text == "0.2000"
        runner.on_epoch(2, 2, {"train_loss": None, "mined_triplets": 0})
        job = runner.job
        assert job.loss is None and job.loss_text == "0.2000 (epoch 1; then no triplet mined)"  # session 21: its last loss
        runner.finish(dummy_train(lambda *a: None, epochs=1))
    job = runner.job
    assert job.state == "completed" and job.loss_text == "0.2000 (epoch 1; then no triplet mined)"
    assert "no triplet mined" in format_jobs([job]) and "0.0000" not in format_jobs([job])
    assert "no triplet mined" in jobs_html([job])
    assert job_line(job, None).endswith("2/2 epochs, loss 0.2000 (epoch 1; then no triplet mined)")
    # the run's own metrics are the model's, not the job's note
    assert "last_epoch_loss" not in json.loads((runner.run_path / "metrics.json").read_text())


def test_training_curve_leaves_a_gap_where_no_triplet_was_mined():
    from workbench.report.plots import curves_figure

    history = [{"epoch": 1, "train_loss": 0.09, "mined_triplets": 500}, {"epoch": 2, "train_loss": 0.05,
                                                                         "mined_triplets": 40},
               {"epoch": 3, "train_loss": None, "mined_triplets": 0}]
    fig = curves_figure({"run": history}, kept={"run": 3})
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    y = np.asarray(line.get_ydata(), dtype=float)
    assert y[:2].tolist() == [0.09, 0.05] and np.isnan(y[2])  # a gap, never a point at 0
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "no value: no triplet mined" in labels


# -- 2. the run id's time is the run's end, the list's order its start ---------------------------------

def test_runs_list_shows_when_each_run_finished_the_time_in_its_id(tmp_path, capsys):
    """Two jobs started 10:03 and 10:05 finished 10:06:56 and 10:06:18: `runs list` sorted them by their start
    under a "started (UTC)" column, and the ids (the finish) read out of order with nothing saying why."""
    from workbench.cli import main
    from workbench.runs import write_run

    root = tmp_path / "experiments"
    for rid, start, end in (("20261207-100656-embeddings-532eb5", "10:03:58", "10:06:56"),
                            ("20261207-100618-embeddings-4f313a", "10:05:13", "10:06:18")):
        write_run(rid, info={"kind": "embeddings", "created_at": f"2026-12-07T{start}+00:00",
                             "finished_at": f"2026-12-07T{end}+00:00"}, config_={}, data={}, history=[],
                  metrics={"model": {"map_at_r": 0.5}}, root=root)
    assert main(["runs", "--experiments", str(root), "list"]) == 0
    header, first, second = capsys.readouterr().out.splitlines()[:3]
    assert "started (UTC)" in header and "finished (UTC)" in header
    assert first.split()[0] == "20261207-100656-embeddings-532eb5"  # by start, as the column says
    assert "2026-12-07 10:03:58 2026-12-07 10:06:56" in first and "2026-12-07 10:05:13 2026-12-07 10:06:18" in second
    assert main(["runs", "--experiments", str(root), "list", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["finished"] for r in runs] == ["2026-12-07T10:06:56+00:00", "2026-12-07T10:06:18+00:00"]


# -- 3. scores in sentences with 4 fixed decimals, as the tables write them ---------------------------

def test_a_gate_sentence_writes_both_scores_with_4_decimals():
    """`export` said "not worse than dj_section_v1: macro_f1 0.288 >= dj_section_v1 0.3729 -> fail"."""
    from workbench.evaluate.gates import BlockingGate

    gate = BlockingGate("not worse than dj_section_v1", "macro_f1", 0.288, ">=", "dj_section_v1", 0.3729, "fail")
    assert str(gate) == "worse than dj_section_v1: macro_f1 0.2880 < dj_section_v1 0.3729 -> fail"
    assert str(gate._replace(value=1.0, target=None)).endswith("macro_f1 1.0000 < dj_section_v1 - -> fail")


def test_the_majority_warning_and_the_report_note_write_4_decimals():
    from workbench.train.sections.training import _beats_majority

    said = _beats_majority({"accuracy": 0.37, "macro_f1": 0.288}, {"accuracy": 0.452, "macro_f1": 0.156})
    assert "accuracy 0.3700 is below the majority's 0.4520 (its macro F1 0.2880 is above the majority's 0.1560)" in said


def test_the_demo_summary_writes_scores_with_4_decimals():
    from workbench.pipeline_summary import Headline

    assert "0.8500" in str(Headline("sections: accuracy", 0.85, "≥ 0.85", True))


# -- 4. the transfer warning names the metric below the baseline ---------------------------------------

def _loso(acc, f1):
    return {"leave_one_group_out": {"model_smoothed": {"accuracy": acc, "macro_f1": f1},
                                    "baselines": {"logreg": {"accuracy": 0.594, "macro_f1": 0.522}}}}


def test_the_transfer_warning_says_which_metric_is_below_which_baseline():
    """It said "below the logreg baseline: accuracy 0.557 vs 0.594, macro F1 0.563 vs 0.522", where macro F1 is above."""
    from workbench.train.sections.transfer import transfer_warnings

    (said,) = transfer_warnings(_loso(0.557, 0.563))
    assert said.startswith("on held-out groups (crates) the smoothed model's accuracy 0.5570 is below the logreg "
                           "baseline's 0.5940 (its macro F1 0.5630 is not below the baseline's 0.5220)")
    (said,) = transfer_warnings(_loso(0.557, 0.463))
    assert "accuracy 0.5570 and macro F1 0.4630 are below the logreg baseline's 0.5940 and 0.5220" in said
    (said,) = transfer_warnings(_loso(0.6, 0.5))
    assert "macro F1 0.5000 is below the logreg baseline's 0.5220 (its accuracy 0.6000 is not below" in said
    assert transfer_warnings(_loso(0.6, 0.6)) == []


# -- 5. the no-model fallback never suggests what the labeler warns about -------------------------------

def _fallback(monkeypatch, bar_beats, sections, n_beats):
    """novelty_suggestions on a track of ``n_beats`` whose bars start at ``bar_beats`` and whose novelty sections
    are ``(label, start_bar, end_bar)``."""
    from types import SimpleNamespace

    from workbench.train import smoothing
    from workbench.train.sections import novelty
    from workbench.train.sections.suggestions import novelty_suggestions

    edges = np.append(np.asarray(bar_beats, dtype=float), n_beats) * 0.5
    monkeypatch.setattr(smoothing, "bar_starts", lambda beats, downbeats: np.asarray(bar_beats))
    monkeypatch.setattr(novelty, "novelty_sections", lambda frames, backbone="": [
        {"label": label, "start_bar": a, "end_bar": b, "start_s": edges[a], "end_s": edges[b]}
        for label, a, b in sections])
    frames = SimpleNamespace(track_id=12, beats=np.arange(n_beats) * 0.5, downbeats=np.asarray(bar_beats) * 0.5)
    return novelty_suggestions(frames, backbone="features-v1")


def test_the_fallback_joins_a_span_under_8_beats_to_its_neighbour(monkeypatch):
    from workbench.labels import WARN_BEATS

    got = _fallback(monkeypatch, [0, 2, 6, 10, 14, 18, 22, 26, 30], [("intro", 0, 1), ("build", 1, 5),
                                                                      ("drop", 5, 9)], 32)
    assert [(s.label, s.start_beat, s.end_beat, s.start_s, s.end_s) for s in got] == [
        ("build", 0, 18, 0.0, 9.0), ("drop", 18, 32, 9.0, 16.0)]  # "intro 0-2" was a 2-beat span
    assert all(s.end_beat - s.start_beat >= WARN_BEATS and s.uncertain for s in got)
    got = _fallback(monkeypatch, [0, 4, 8, 12, 16, 20], [("intro", 0, 4), ("outro", 4, 6)], 22)
    assert [(s.label, s.start_beat, s.end_beat) for s in got] == [("intro", 0, 22)]  # a 6-beat tail joins the one before


def test_the_fallback_suggests_nothing_on_a_track_shorter_than_8_beats(monkeypatch):
    """Track 12 of the real music (5 beats, 5.3 s) got "break 0-5"; accepting it raised a LabelWarning."""
    assert _fallback(monkeypatch, [0, 4], [("break", 0, 2)], 5) == []


def test_suggest_says_why_a_track_gets_no_fallback_suggestion(home, capsys, monkeypatch):  # noqa: F811
    """`suggest` printed a bare table heading for a track the fallback offers nothing on."""
    import workbench.train.sections as sections
    from workbench.cli import main

    monkeypatch.setattr(sections, "fallback_suggestions", lambda library, track: [])
    assert main(["--home", str(home), "suggest", "1"]) == 0
    out = capsys.readouterr().out
    assert "no suggestions: none at least 8 beats long" in out and "confidence" not in out


# -- 6. the style plot's ranges with their units --------------------------------------------------------

def test_the_profile_plot_writes_each_range_with_its_unit():
    """Notebook 07's plot wrote "127.6 .. 153.3" beside bpm, with no unit."""
    from workbench.style.plots import plot_profile

    feats = {"bpm": (127.6, 153.3), "pumping_db": (0.0, 15.96), "acid_glide": (0.0, 0.3069), "pumping_depth": (0.1, 0.9),
             "phase_correlation": (0.1983, 0.9055)}
    profile = {"name": "trance", "version": 1, "tracks": [1, 2, 3, 4, 5],
               "features": {k: {"range": list(v), "ci95": list(v), "mean": sum(v) / 2} for k, v in feats.items()}}
    fig = plot_profile(profile)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"127.6 .. 153.3 BPM", "0 .. 15.96 dB", "0 .. 0.3069 (of 0..1)", "0.1983 .. 0.9055 (of -1..1)",
            "0.1 .. 0.9 (of 0..1, linear)"} <= texts


# -- 7. the older labeler's picture: names apart from the suggestions', lane names readable --------------

def _picture(monkeypatch):
    from types import SimpleNamespace

    from workbench.labels import Suggestion
    from workbench.widgets import trackview
    from workbench.widgets.trackview import TrackView

    drawn = []
    span_text = trackview._span_text

    def record(ax, start_s, end_s, text, **kw):
        artist = span_text(ax, start_s, end_s, text, **kw)
        drawn.append((ax, artist))
        return artist

    monkeypatch.setattr(trackview, "_span_text", record)
    sr, d = 8000, 120.0
    y = (np.random.default_rng(0).normal(size=int(sr * d)) * 0.1).astype(np.float32)
    beats = np.arange(0, d, 0.5)
    view = TrackView(y, sr=sr, beats_s=beats, downbeats_s=beats[::4], duration_s=d, title="machine_wars")
    secs = [SimpleNamespace(label="intro", start_s=0.0, end_s=16.0, color="#22c55e", id=1),
            SimpleNamespace(label="drop", start_s=20.0, end_s=80.0, color="#ef4444", id=3)]
    sugg = [Suggestion(1, "intro", 0, 40, 0.0, 20.0, 0.89), Suggestion(1, "drop", 40, 200, 20.0, 100.0, 0.14)]
    view.render(sections=secs, suggestions=sugg)
    return view, drawn


def test_section_names_and_suggestion_names_never_overlap(monkeypatch):
    """Notebook 04: "intro" was written over "intro? 89%", "drop" beside "drop? 14%" on one line."""
    view, drawn = _picture(monkeypatch)
    renderer = view._fig.canvas.get_renderer()
    for ax, artist in drawn:  # drawn for one render, then taken off: put back to measure where they were
        ax.add_artist(artist)
    drawn = [artist for _, artist in drawn]
    names = [t for t in drawn if "?" not in t.get_text()]
    guesses = [t for t in drawn if "?" in t.get_text()]
    assert names and guesses
    for a in names:
        for b in guesses:
            box_a, box_b = a.get_window_extent(renderer), b.get_window_extent(renderer)
            assert not box_a.overlaps(box_b), (a.get_text(), b.get_text())


def test_the_panels_names_are_readable(monkeypatch):
    """"wave", "mel", "sections" and "time (s)" were 7 pt in a 1400 px picture shown at about 930 px."""
    view, _ = _picture(monkeypatch)
    lane, wave, spec = view._axes
    assert min(ax.yaxis.label.get_fontsize() for ax in (lane, wave, spec)) >= 10
    assert spec.xaxis.label.get_fontsize() >= 10
    assert min(t.get_fontsize() for t in spec.get_xticklabels()) >= 9


# -- 8. the augmentation settings, printed to read -------------------------------------------------------

def test_augment_settings_print_one_readable_line_per_transform():
    """Notebook 03 printed "AugmentSettings(pitch_semitones=(-3.0, 3.0), stretch_rate=(0.9, 1.1), ...)"."""
    from workbench import augment

    text = str(augment.AugmentSettings())
    assert "AugmentSettings(" not in text
    lines = text.splitlines()
    assert lines[0] == "augmentation settings (safe ranges):"
    assert [ln.split()[:2] for ln in lines[1:]] == [["pitch", "shift"], ["time", "stretch"], ["added", "noise"],
                                                    ["gain", "-6"]]
    assert "-3 .. +3 semitones" in lines[1] and "0.9 .. 1.1x" in lines[2] and "-6 .. +3 dB" in lines[4]
    assert all(ln.endswith("applied to 50% of views, safe") for ln in lines[1:])
    unsafe = str(augment.AugmentSettings(pitch_semitones=(-5, 5), allow_unsafe=True, noise_p=0)).splitlines()
    assert unsafe[1].endswith("outside the safe range") and "off, safe" in unsafe[3]
    assert repr(augment.AugmentSettings()).startswith("AugmentSettings(pitch_semitones=(-3.0, 3.0)")  # repr unchanged


def test_the_transfer_warning_names_folders_where_the_groups_were_folders():
    """Session 22's QA on real music (no crates, three album folders): the warning said "on held-out groups (crates)"
    of groups that were the library's folders."""
    from workbench.train.sections.transfer import transfer_warnings

    loso = _loso(0.557, 0.563)
    loso["leave_one_group_out"]["groups"] = {"folder:singularity": 1, "folder:supertuxkart": 2}
    (said,) = transfer_warnings(loso)
    assert said.startswith("on held-out groups (folders) the smoothed model's accuracy 0.5570"), said
    loso["leave_one_group_out"]["groups"] = {"crate:house": 3, "folder:supertuxkart": 2}
    assert transfer_warnings(loso)[0].startswith("on held-out groups (crates and folders) ")
    loso["leave_one_group_out"]["groups"] = {"crate:house": 3, "crate:techno": 2}
    assert transfer_warnings(loso)[0].startswith("on held-out groups (crates) ")


def test_a_failed_gate_reads_as_what_failed():
    """Session 22's QA: "fails its gates: better than majority (...)" and "0.5218 >= baselines.majority 0.6656 -> fail"
    read as claims that held; a failure says "not better than majority: ... 0.5218 < ... 0.6656"."""
    from workbench.evaluate.gates import BlockingGate

    gate = BlockingGate("better than majority", "accuracy of smoothed sections", 0.5218, ">=", "baselines.majority",
                        0.6656, "fail")
    assert str(gate) == ("not better than majority: accuracy of smoothed sections 0.5218 < baselines.majority 0.6656 "
                         "-> fail")
    assert str(gate._replace(value=0.7, status="pass")).startswith("better than majority: accuracy of smoothed "
                                                                   "sections 0.7000 >= baselines.majority")
