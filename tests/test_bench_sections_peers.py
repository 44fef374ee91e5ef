"""The MSAF peer benchmark's own parts: MSAF's boundaries to sections, the scores, the table, the cache.

MSAF itself runs in its own venv (benchmarks/README.md); these tests feed the benchmark fake peer
answers, and the one test that runs the peer script skips where that venv is absent.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from section_tracks import synthetic_track  # noqa: E402 (tests/ on sys.path)

from workbench.labels import LABELS

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sections_peers.py"
FORM = ("intro", "build", "drop", "outro")  # 8 bars of 2 s each: truth boundaries at 16, 32, 48 s; end 64 s


@pytest.fixture(scope="module")
def bench():
    if str(BENCH.parent) not in sys.path:
        sys.path.insert(0, str(BENCH.parent))
    return importlib.import_module(BENCH.stem)


def _track(index: int = 1, group: str = "a", seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = {c: rng.normal(0, 3.0, 12) for c in LABELS}
    return synthetic_track(index, FORM, group, rng, centres)


def test_boundary_sections_drop_msaf_edge_beats_unless_kept(bench):
    # MSAF returns 0, its first beat, the sections, its last beat and the end
    times = [0.0, 0.46, 27.7, 57.35, 57.39]
    secs = bench.boundary_sections(times, duration_s=57.39, first_beat_s=0.2)
    assert [(s["start_s"], s["end_s"]) for s in secs] == [(0.0, 27.7), (27.7, 57.39)]
    kept = bench.boundary_sections(times, duration_s=57.39, edge_s=-1)
    assert [s["start_s"] for s in kept] == [0.0, 0.46, 27.7, 57.35]
    # a lead-in: our grid's first beat at 5.6 s; a boundary by it starts the track, one after it is kept
    late = bench.boundary_sections([0.0, 5.9, 7.0, 30.0], duration_s=30.0, first_beat_s=5.6)
    assert [s["start_s"] for s in late] == [0.0, 7.0]


def test_scores_hit_miss_and_failure(bench):
    tr = _track()
    exact = bench.boundary_sections([16.0, 32.0, 48.0], duration_s=tr.duration_s)
    late = bench.boundary_sections([18.0, 34.0, 50.0], duration_s=tr.duration_s)  # 2 s late: in 3 s, not 0.5 s
    half = bench.boundary_sections([32.0], duration_s=tr.duration_s)
    got = bench.score_tracks([tr], {"exact": {1: exact}, "late": {1: late}, "half": {1: half}, "failed": {1: None}})
    assert got["exact"]["f3"] == 1.0 and got["exact"]["f05"] == 1.0 and got["exact"]["boundaries_per_track"] == 3
    assert got["late"]["f3"] == 1.0 and got["late"]["f05"] == 0.0
    assert got["late"]["median_offset_s"] == pytest.approx(2.0) and got["exact"]["median_offset_s"] == 0.0
    assert bench.hit_offsets(late, tr.sections, duration_s=tr.duration_s, window_s=1.0) == []
    assert got["half"]["p3"] == 1.0 and got["half"]["r3"] == pytest.approx(1 / 3)
    assert got["half"]["f3"] == pytest.approx(0.5)
    assert got["failed"]["failed"] == 1 and got["failed"]["f3"] == 0.0
    assert got["truth"]["boundaries_per_track"] == 3


def test_fake_peer_from_the_cache_to_the_table_and_json(bench, tmp_path):
    a, b = _track(1, "a", 0), _track(2, "b", 1)
    paths = {1: str(tmp_path / "a.flac"), 2: str(tmp_path / "b.flac")}
    fake = {"path": paths[1], "duration_s": a.duration_s, "feature": "pcp", "beats": 120, "feature_seconds": 1.0,
            "boundaries": {"foote": [0.0, 0.5, 16.2, 47.0, 63.5, 64.0], "olda": [0.0, 40.0, 64.0]},
            "seconds": {"foote": 0.1, "sf": 0.1, "olda": 0.1}, "errors": {"sf": "ValueError: x"}}
    cache = tmp_path / "msaf.jsonl"
    cache.write_text(json.dumps(fake) + "\n" + json.dumps({"path": paths[2], "error": "RuntimeError: x"}) + "\n")
    # no MSAF venv: the cached answer is used; a cached error line is no answer
    answers = bench.msaf_side(list(paths.values()), python=str(tmp_path / "absent"), work=tmp_path, feature="pcp",
                              algorithms=["foote", "sf", "olda"], cache=cache)
    assert list(answers) == [paths[1]]
    assert bench.msaf_side([paths[1]], python=str(tmp_path / "absent"), work=tmp_path, feature="mfcc",
                           algorithms=["foote"], cache=cache) == {}
    ours = {t.track_id: {"smoothed": t.sections, "novelty": bench.boundary_sections([30.0], duration_s=t.duration_s)}
            for t in (a, b)}

    class Data:
        tracks = [a, b]

    # every system on the track MSAF answered (track 2: not run yet); sf's error there is a failure (F 0)
    col = bench.column(Data, ours, paths, answers, algorithms=["foote", "sf", "olda"], edge_s=1.0)
    assert col["truth"]["not_run"] == 1 and {r["tracks"] for r in col.values()} == {1}
    assert col["workbench suggestions"]["f3"] == 1.0 and list(col["workbench novelty"]["per_track"]) == [1]
    # foote: 16.2 and 47.0 hit (3 s; 32 missed), 0.5 and 63.5 are MSAF's edge beats, dropped: P 1, R 2/3
    assert col["MSAF foote"]["failed"] == 0 and col["MSAF foote"]["f3"] == pytest.approx(0.8)
    assert col["MSAF sf"]["failed"] == 1 and col["MSAF sf"]["f3"] == 0.0
    assert col["MSAF olda"]["f3"] == 0.0 and col["MSAF olda"]["boundaries_per_track"] == 1
    text = bench.markdown_table({"set": col}, [*bench.OURS, "MSAF foote", "MSAF sf", "MSAF cnmf"])
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()[2:]}
    assert "(1 failed)" in rows["MSAF sf"] and rows["MSAF cnmf"].count(" - ") == 3
    assert "set (1): F @3 s" in text.splitlines()[0]
    # the whole set without MSAF: our two rows on both tracks, MSAF's "-"
    alone = bench.column(Data, ours, paths, {}, algorithms=["foote"], edge_s=1.0)
    assert alone["workbench suggestions"]["tracks"] == 2 and "MSAF foote" not in alone


def test_agreement_is_symmetric_and_pairs_every_system(bench):
    dur = 64.0
    a = bench.boundary_sections([16.0, 32.0, 48.0], duration_s=dur)
    b = bench.boundary_sections([17.0, 40.0], duration_s=dur)
    assert bench.agreement(a, b, duration_s=dur) == pytest.approx(bench.agreement(b, a, duration_s=dur))
    assert bench.agreement(a, b, duration_s=dur) == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    ours = {"x.ogg": {"duration_s": dur, "first_beat_s": 0.1, "smoothed": a, "novelty": b},
            "bad.ogg": {"error": "ParameterError: no beats"}}
    answers = {"x.ogg": {"boundaries": {"sf": [0.0, 0.3, 16.5, 32.2, 48.1, 64.0]}}}
    got = bench.real_agreement(ours, answers, algorithms=["sf", "foote"], edge_s=1.0)
    assert got["workbench suggestions vs MSAF sf"] == {"tracks": 1, "f3": 1.0}
    assert got["workbench novelty vs MSAF sf"]["f3"] == pytest.approx(0.4)
    assert "workbench suggestions vs MSAF foote" not in got
    assert got["boundaries per track"]["MSAF sf"] == 3


def test_leave_one_group_out_keeps_each_tracks_sections():
    from workbench.train.sections import CONFIG_DEFAULTS, SectionData, WindowFeatures, leave_one_group_out

    tracks = [_track(i + 1, g, i) for i, g in enumerate(("a", "a", "b", "b", "c", "c"))]
    data = SectionData(tracks, WindowFeatures(context_s=(4.0,)), "test")
    cfg = {**CONFIG_DEFAULTS, "epochs": 3, "hidden_dim": 16, "baselines": ["majority"], "min_per_class": 1, "seed": 0}
    out, oof = leave_one_group_out(data, cfg=cfg, trainer_params={"epochs": 3, "hidden_dim": 16})
    assert sorted(oof["sections"]) == [t.track_id for t in tracks]
    by_id = {t.track_id: t for t in tracks}
    for kind, key in (("smoothed", "smoothed"), ("novelty", "novelty")):
        f3 = [by_id[t].segment_eval(s[kind])["boundary_f_3s"] for t, s in oof["sections"].items()]
        assert np.mean(f3) == pytest.approx(out["segments"][key]["boundary_f_3s"])


MSAF_PYTHON = os.environ.get("MSAF_PYTHON", "/work/venvs/msaf/bin/python")


@pytest.mark.skipif(not Path(MSAF_PYTHON).exists(),
                    reason=f"MSAF's venv is absent ({MSAF_PYTHON}; benchmarks/README.md says how to make it)")
def test_peer_script_finds_a_planted_change_in_audio(tmp_path):
    import soundfile as sf

    sr = 22050
    t = np.arange(int(40 * sr)) / sr
    click = (np.sin(2 * np.pi * 1000 * t) * np.exp(-((t % 0.5) * 60))) * 0.5  # a beat every 0.5 s
    chord = np.where(t < 20, np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277 * t),
                     np.sin(2 * np.pi * 311 * t) + np.sin(2 * np.pi * 392 * t)) * 0.2
    path = tmp_path / "planted.wav"
    sf.write(path, (click + chord).astype(np.float32), sr)
    proc = subprocess.run([MSAF_PYTHON, str(BENCH.parent / "peers" / "msaf_segment.py"), "--work", str(tmp_path / "w"),
                           "--algorithms", "foote,sf", str(path)], capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["errors"] == {} and out["duration_s"] == pytest.approx(40.0, abs=0.1)
    inner = [b for b in out["boundaries"]["foote"] + out["boundaries"]["sf"] if 2.0 < b < 38.0]
    assert any(abs(b - 20.0) < 3.0 for b in inner), out["boundaries"]
    assert not (tmp_path / "estimations").exists() and (tmp_path / "w" / "features").is_dir()


@pytest.mark.skipif(not Path(MSAF_PYTHON).exists(),
                    reason=f"MSAF's venv is absent ({MSAF_PYTHON}; benchmarks/README.md says how to make it)")
def test_peer_cnmf_answer_is_the_same_every_run(tmp_path):
    # cnmf draws from numpy's and the standard library's random: both seeded per algorithm, its answer is the same
    # run to run, whatever ran before it (it was not: pymf's Kmeans drew from the unseeded random module)
    import soundfile as sf

    sr = 22050
    t = np.arange(int(60 * sr)) / sr
    rng = np.random.default_rng(0)
    y = sum(np.where((t // 15) % 2 == k, np.sin(2 * np.pi * f * t), 0) for k, f in ((0, 220), (1, 330)))
    path = tmp_path / "planted.wav"
    sf.write(path, (0.2 * y + 0.05 * rng.standard_normal(t.size)).astype(np.float32), sr)

    def cnmf(algorithms):
        proc = subprocess.run([MSAF_PYTHON, str(BENCH.parent / "peers" / "msaf_segment.py"), "--work", str(tmp_path / "w"),
                               "--algorithms", algorithms, str(path)], capture_output=True, text=True, check=True)
        return json.loads(proc.stdout.splitlines()[-1])["boundaries"]["cnmf"]

    assert cnmf("cnmf") == cnmf("cnmf") == cnmf("scluster,cnmf")


def test_peer_json_lines_keep_going_past_a_bad_file(capsys):
    sys.path.insert(0, str(BENCH.parent / "peers"))
    try:
        from json_lines import print_answers
    finally:
        sys.path.remove(str(BENCH.parent / "peers"))

    def answer(path):
        if path == "bad.flac":
            raise ValueError("cannot decode")
        return {"path": path, "boundaries": {"sf": [0.0, 1.0]}}

    assert print_answers(["a.flac", "bad.flac", "b.flac"], answer) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["path"] for x in lines] == ["a.flac", "bad.flac", "b.flac"]
    assert lines[1] == {"path": "bad.flac", "error": "ValueError: cannot decode"} and "error" not in lines[2]
