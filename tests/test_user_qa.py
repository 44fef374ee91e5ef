"""What a DJ meets walking the README on their own music (session 10's user QA): the analysis
table says when a track has no key or a rough tempo, the workbench's own warnings read as one
line, training refuses a bad setting before any work, ``scan`` and ``runs report`` take
``--json``, duplicates are named, and every style feature outside its range has advice."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_analysis import SR, groove

from workbench.cli import main, third_party_noise_filtered

SR_DRUMS = 22050


def drums(bpm: float, duration_s: float, *, seed: int) -> np.ndarray:
    """Kick on every beat and a noise hat on the off-beats: no pitched sound at all."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * SR_DRUMS)
    y = np.zeros(n)
    beat = 60.0 / bpm
    tk = np.arange(int(0.12 * SR_DRUMS)) / SR_DRUMS
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-tk * 40)) * tk) * np.exp(-tk * 25)
    hat = rng.standard_normal(int(0.03 * SR_DRUMS)) * np.exp(-np.arange(int(0.03 * SR_DRUMS)) / SR_DRUMS * 150) * 0.3
    for t0 in np.arange(0, duration_s, beat):
        a, b = int(t0 * SR_DRUMS), int((t0 + beat / 2) * SR_DRUMS)
        seg = y[a: a + kick.size]
        seg += kick[: seg.size]
        seg = y[b: b + hat.size]
        seg += hat[: seg.size]
    return y.astype(np.float32)


@pytest.fixture(scope="module")
def music(tmp_path_factory) -> Path:
    """A groove with chords, a drums-only loop and a byte-identical copy of the groove."""
    folder = tmp_path_factory.mktemp("music")
    sf.write(folder / "a_groove.flac", groove(124.0, 12.0, seed=0), SR)
    sf.write(folder / "b_drums.flac", drums(128.0, 12.0, seed=1), SR_DRUMS)
    (folder / "c_copy.flac").write_bytes((folder / "a_groove.flac").read_bytes())
    return folder


@pytest.fixture(scope="module")
def home(music, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    assert main(["--home", str(root), "--quiet", "scan", str(music)]) == 0
    return root


def test_scan_names_duplicates_and_prints_json(music, tmp_path, capsys):
    root = tmp_path / "ws"
    capsys.readouterr()
    assert main(["--home", str(root), "--quiet", "scan", str(music)]) == 0
    out = capsys.readouterr().out
    assert f"duplicate, not added: {music / 'c_copy.flac'}: the same audio as {music / 'a_groove.flac'}" in out
    assert main(["--home", str(root), "scan", "--json", str(music)]) == 0
    doc = json.loads(capsys.readouterr().out)  # nothing but JSON on stdout (no progress bar there)
    assert doc["counts"] == {"added": 0, "unchanged": 2, "moved": 0, "changed": 0, "missing": 0, "duplicates": 1,
                             "failed": 0}
    assert doc["duplicates"] == [{"path": str(music / "c_copy.flac"), "copy_of": str(music / "a_groove.flac")}]
    assert doc["tracks"] == 2 and doc["library"] == str(root / "data" / "workbench.db")


def test_analyze_table_says_no_key_for_drums_and_json_has_the_flags(home, capsys):
    capsys.readouterr()
    assert main(["--home", str(home), "--quiet", "analyze", "--workers", "1", "--json"]) == 0
    rows = {Path(r["path"]).name: r for r in json.loads(capsys.readouterr().out)["tracks"]}
    drum, tonal = rows["b_drums.flac"], rows["a_groove.flac"]
    assert drum["has_key"] is False and tonal["has_key"] is True
    assert {"tempo_stability", "beat_confidence"} <= set(drum)
    assert main(["--home", str(home), "--quiet", "analyze", "--workers", "1"]) == 0
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines() if ln.strip()[:1].isdigit()}
    assert "no key" in lines[str(drum["id"])] and drum["camelot"] not in lines[str(drum["id"])].split()
    # nor a key confidence ("no key  -  0.04" read as a bad key): '-' as the Camelot column
    assert re.search(r"no key\s+-\s+-\s", lines[str(drum["id"])]), lines[str(drum["id"])]
    assert "no key" not in lines[str(tonal["id"])] and tonal["camelot"] in lines[str(tonal["id"])].split()


def test_rough_tempo_is_marked(home, capsys, monkeypatch):
    from workbench.commands import analysis as cmd

    monkeypatch.setattr(cmd, "UNSTEADY", 1.01)  # every tempo counts as wandering: each BPM gets its mark
    capsys.readouterr()
    assert main(["--home", str(home), "--quiet", "analyze", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "~: the tempo wanders (stability under 1.01" in out
    assert all("~" in ln for ln in out.splitlines() if ln.strip()[:1].isdigit() and " none " not in ln)


def test_own_warnings_print_as_one_line(capsys):
    own = str(Path(__import__("workbench").__file__).parent / "labels" / "core.py")
    with pytest.warns(UserWarning, match="a third-party notice") as passed_on:
        with third_party_noise_filtered():
            warnings.warn_explicit("row 2: snapped to the beat grid", UserWarning, own, 10)
            warnings.warn_explicit("a third-party notice", UserWarning, "/elsewhere/pkg/mod.py", 7)
    err = capsys.readouterr().err
    assert err == "warning: row 2: snapped to the beat grid\n"  # no file, line or source echo for our own
    assert [str(w.message) for w in passed_on] == ["a third-party notice"]  # others go on as before


@pytest.mark.parametrize(("setting", "match"), [
    (["--set", "epochs=abc"], r"epochs must be an int in \[1, 1e\+06\]; got 'abc'"),
    (["--epochs", "0"], r"epochs must be an int in \[1, 1e\+06\]; got 0"),
    (["--set", "margin=0.9"], r"margin must be in \[0.2, 0.3\].*got 0.9"),
    (["--set", "m=3", "--batch-size", "8"], r"batch_size must be a multiple of m \(m=3 samples per class\); got "
                                            r"batch_size=8"),
])
def test_train_embeddings_refuses_a_bad_setting_before_the_job(home, setting, match, capsys):
    capsys.readouterr()
    assert main(["--home", str(home), "--quiet", "train", "embeddings", *setting]) == 1
    err = capsys.readouterr().err
    assert re.search("workbench train: error: " + match, err), err
    assert "max_epochs" not in err  # named as the user gave it
    assert main(["--home", str(home), "jobs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # refused before a job was recorded (and before any work)


def test_train_embeddings_job_refuses_before_the_job(home):
    from workbench.errors import ParameterError
    from workbench.job_records import list_jobs
    from workbench.library import Library
    from workbench.train.embeddings_job import train_embeddings_job

    with Library(home / "data" / "workbench.db") as lib:
        with pytest.raises(ParameterError, match=r"patience must be an int in \[1, 1e\+06\]; got -1"):
            train_embeddings_job(lib, config={"patience": -1}, progress=False)
        assert list_jobs(lib) == []


def test_runs_report_json(tmp_path, capsys):
    from workbench.report.examples import write_example_run

    run = write_example_run("sections", root=tmp_path / "experiments", seed=5, quality=0.7)
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "runs", "report", run.name, "--no-search", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["run_id"] == run.name and doc["report"] == str(run / "report.html")
    assert Path(doc["report"]).is_file() and Path(doc["evaluation"]).is_file()
    assert doc["plots"] and all(Path(p).is_file() and p.endswith(".png") for p in doc["plots"])


@pytest.mark.parametrize("name", ["pumping_db", "acid_sweep_octaves", "acid_resonance_db", "acid_glide", "acid_accent"])
def test_style_features_that_had_no_advice_now_say_what_to_do(name):
    from workbench.style.gap import ADVICE, _advice

    low, high = _advice(name, -1.0, 0.0, 0.5), _advice(name, 2.0, 0.0, 0.5)
    assert name in ADVICE and low != high
    assert name not in low and name not in high  # words, not the feature's code name
    assert "target" in low and "target" in high


def test_advice_fallback_names_the_target_and_unit(monkeypatch):
    from workbench.style import gap
    from workbench.style.gap import _advice

    # every feature has advice both ways now (tests/test_review18.py); the fallback is for one without any
    monkeypatch.delitem(gap.ADVICE, "tempo_stability")
    assert _advice("tempo_stability", 1.5, 0.2, 1.0) == "tempo_stability 1.5, target 0.2-1 (0..1)"
    assert _advice("acid_accent", 0.52, 0.0, 0.45) == ("accents on 52% of the bass line's 16ths, target 0%-45%: "
                                                       "fewer accented steps")


def test_explorer_table_and_plot_leave_out_the_key_of_drums(home):
    from workbench.analysis import track_analysis
    from workbench.explore import library_table, plot_distributions
    from workbench.library import Library

    assert main(["--home", str(home), "--quiet", "analyze", "--workers", "1"]) == 0
    with Library(home / "data" / "workbench.db") as lib:
        table = library_table(lib)
        keyed = {t.id: track_analysis(lib, t, compute=False).has_key for t in lib.tracks()}
    assert sorted(keyed.values()) == [False, True]
    for tid, has_key in keyed.items():
        assert bool(table.loc[[tid], "camelot"].notna().iloc[0]) == has_key
        assert bool(table.loc[[tid], "key"].notna().iloc[0]) == has_key
    fig = plot_distributions(table)
    assert "1 track with a key" in fig.axes[1].get_title()
    assert sum(p.get_height() for p in fig.axes[1].patches) == 1  # the drums add no bar


def test_labels_export_to_a_missing_folder_is_refused_by_name(home, tmp_path):
    from workbench.labels import Labels
    from workbench.labels.core import LabelError
    from workbench.library import Library

    target = tmp_path / "no" / "such" / "labels.json"
    with Library(home / "data" / "workbench.db") as lib:
        with pytest.raises(LabelError, match=r"cannot write labels to .*labels\.json': the folder .*such' does not "
                                             r"exist"):
            Labels(lib).export(target)
    assert not (tmp_path / "no").exists()


def test_labels_import_of_a_bad_cell_names_the_file(home, tmp_path):
    from workbench.labels import Labels
    from workbench.labels.core import LabelError
    from workbench.library import Library

    bad = tmp_path / "bad.csv"
    bad.write_text("path,label,start_s,end_s\nsomewhere.flac,drop,abc,20\n")
    with Library(home / "data" / "workbench.db") as lib:
        with pytest.raises(LabelError, match=r"bad\.csv: row 2: start_s must be a number; got 'abc'; nothing was "
                                             r"imported"):
            Labels(lib).import_(bad)


@pytest.mark.parametrize(("setting", "match"), [("min_per_class=abc", r"min_per_class must be an int >= 1 "
                                                 r"\(labelled sections\); got 'abc'"),
                                                ("min_classes=0", r"min_classes must be an int >= 1 \(labelled "
                                                 r"sections\); got 0")])
def test_train_sections_refuses_a_bad_readiness_rule(home, setting, match, capsys):
    capsys.readouterr()
    assert main(["--home", str(home), "--quiet", "train", "sections", "--set", setting]) == 1
    err = capsys.readouterr().err
    assert re.search("workbench train: error: " + match, err) and "Traceback" not in err


def test_similar_on_a_track_whose_file_went_missing_says_so(tmp_path, capsys):
    music, root = tmp_path / "music", tmp_path / "ws"
    music.mkdir()
    sf.write(music / "a.flac", groove(124.0, 10.0, seed=3), SR)
    sf.write(music / "b.flac", groove(128.0, 10.0, seed=4), SR)
    assert main(["--home", str(root), "--quiet", "scan", str(music)]) == 0
    (music / "b.flac").unlink()
    assert main(["--home", str(root), "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main(["--home", str(root), "--quiet", "similar", "2"]) == 1
    err = capsys.readouterr().err
    assert re.search(r"track 2 \(b\): its file was missing at the last scan \(since .*\): .*b\.flac; put it back",
                     err), err


def test_a_one_track_library_searches_instead_of_failing(tmp_path, capsys):
    music, root = tmp_path / "music", tmp_path / "ws"
    music.mkdir()
    sf.write(music / "only.flac", groove(124.0, 6.0, seed=5), SR)  # shorter than one 8-s window: one window
    assert main(["--home", str(root), "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main(["--home", str(root), "--quiet", "similar", "1"]) == 0, capsys.readouterr().err
    assert "no matches: the library has no other analysed, embedded track to compare with" in capsys.readouterr().out
    probe = tmp_path / "probe.flac"
    sf.write(probe, groove(126.0, 6.0, seed=6), SR)
    assert main(["--home", str(root), "--quiet", "similar", str(probe), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [m["track_id"] for m in found] == [1] and 0.0 <= found[0]["vibe"] <= 1.0


def test_embed_json(home, capsys):
    capsys.readouterr()
    assert main(["--home", str(home), "embed", "--json", "--workers", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)  # nothing but JSON on stdout
    assert doc["backbone"] == "features-v1" and doc["failed"] == []
    assert sorted(doc["embedded"] + doc["cached"]) == [1, 2]


@pytest.mark.filterwarnings("ignore")
def test_train_sections_json_and_text_carry_the_runs_warnings(home, capsys):
    from workbench.labels import Labels
    from workbench.library import Library

    with Library(home / "data" / "workbench.db") as lib:  # two classes on two 12-s tracks: too few to beat anything
        labels = Labels(lib)
        for t in lib.tracks():
            labels.add_seconds(t, "drop", start_s=0.0, end_s=6.0)
            labels.add_seconds(t, "break", start_s=6.0, end_s=11.5)
    rule = ["--set", "min_per_class=1", "--set", "keep_flagged=true", "--epochs", "2"]
    capsys.readouterr()
    assert main(["--home", str(home), "--quiet", "train", "sections", *rule, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["state"] == "completed" and doc["kind"] == "sections" and Path(doc["path"]).is_dir()
    from workbench.runs import load_run

    assert doc["warnings"] and doc["warnings"] == load_run(doc["path"]).metrics["warnings"]  # 2 tracks: it warns
    per_track = doc["metrics"]["segments"]["per_track"]  # the boundary gate's paired figures, in --json too
    assert (len(per_track["smoothed"]["boundary_f_3s"]) == len(per_track["track_ids"])
            == len(per_track["novelty"]["boundary_f_3s"]) >= 1)
    assert main(["--home", str(home), "--quiet", "train", "sections", *rule]) == 0
    out = capsys.readouterr().out
    for w in load_run(out.split("run ")[1].split(": ")[1].split()[0]).metrics.get("warnings") or []:
        assert f"warning: {w}" in out
    # suggest with the newest (not activated) run says whether it failed its gates, and names the run once
    from workbench.evaluate.gates import blocking_gates
    from workbench.runs import list_runs

    newest = [r for r in list_runs(home / "experiments", kind="sections") if r.model_path is not None][-1]
    from workbench.wording import score_text

    failed = [g for g in blocking_gates(newest.metrics, "sections") if g.status == "fail"]
    assert main(["--home", str(home), "suggest", "1"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head.count(newest.run_id) == 1
    assert ("; it fails its gates: " in head) == bool(failed) and ("fails" in head) == bool(failed), head
    # each failing gate named, with its figure and values: whichever fail (the boundary gate alone, too)
    for g in failed:
        assert f"{g.said_name} (" in head and f"{g.figure} {score_text(g.value)} {g.said_op} {score_text(g.target)}" in head, head


def test_runs_list_shows_a_dash_for_a_metric_the_kind_has_not(tmp_path, capsys):
    from workbench.report.examples import write_example_run

    for kind in ("embeddings", "sections"):
        write_example_run(kind, root=tmp_path / "experiments", seed=5, quality=0.7)
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "runs", "list"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and "nan" not in out
    rows = [ln.split() for ln in out.splitlines()[1:] if not ln.startswith("sections runs'")]  # the note under it
    assert {r[2] for r in rows} >= {"embeddings", "sections"} or {r[1] for r in rows} >= {"embeddings", "sections"}
    assert all("-" in r for r in rows)


def test_a_sections_run_says_what_self_training_and_label_families_did():
    from workbench.commands.train import sections_option_lines

    assert sections_option_lines({"warnings": []}) == []  # options off: nothing said
    lines = sections_option_lines({
        "self_training": {"pseudo_windows": 379, "pseudo_tracks": 3, "pool_tracks": 4, "threshold": 0.9, "weight": 0.5},
        "label_families": {"families": {"edm": {"labels": ["intro", "build", "drop", "outro"], "tracks": 5.0},
                                        "song": {"labels": ["intro", "verse", "chorus", "outro"], "tracks": 2.0}}}})
    assert lines[0] == ("self-training: 379 pseudo-labelled windows on 3 of 4 unlabelled tracks (confidence >= 0.9, "
                        "weight 0.5; never scored)")
    assert lines[1] == "label families: intro/build/drop/outro (5 tracks); intro/verse/chorus/outro (2 tracks)"
