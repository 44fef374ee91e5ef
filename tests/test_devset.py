"""The development set (workbench.devset) and the peer benchmark's metric helpers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from workbench.devset import STYLE_NAMES, load_devset, make_track, split_of, write_set
from workbench.devset.__main__ import main as devset_main
from workbench.devset.generate import condition_of
from workbench.devset.midi import find_fluidsynth
from workbench.errors import ParameterError
from workbench.evaluate.analysis import (
    beat_f,
    key_score,
    same_key,
    score_estimate,
    summarise,
    tempo_accuracy1,
    tempo_accuracy2,
)

HAS_FLUIDSYNTH = find_fluidsynth() is not None
RENDERERS = ["numpy", pytest.param("fluidsynth", marks=pytest.mark.skipif(
    not HAS_FLUIDSYNTH, reason="fluidsynth or a GM soundfont is not installed"))]


def _first(condition: str) -> tuple[str, int]:
    return next((s, k) for k in range(9) for s in STYLE_NAMES if condition_of(s, k) == condition)


@pytest.fixture(scope="module", params=RENDERERS)
def drums_only(request):
    """Psytrance track 1: drums only (kick on every beat), rendered by each renderer."""
    assert condition_of("psytrance", 1) == "drums_only"
    return make_track("psytrance", 1, seed=0, renderer=request.param)


# --------------------------------------------------------------------------------- generator

@pytest.mark.parametrize("renderer", RENDERERS)
def test_set_is_deterministic_to_the_byte(tmp_path, renderer):
    a = write_set(tmp_path / "a", per_style=1, seed=4, styles=["hiphop"], renderer=renderer, progress=False)
    b = write_set(tmp_path / "b", per_style=1, seed=4, styles=["hiphop"], renderer=renderer, progress=False)
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes()
        assert pa.with_suffix(".flac").read_bytes() == pb.with_suffix(".flac").read_bytes()
    c = write_set(tmp_path / "c", per_style=1, seed=5, styles=["hiphop"], renderer=renderer, progress=False)
    assert c[0].with_suffix(".flac").read_bytes() != a[0].with_suffix(".flac").read_bytes()
    truth = load_devset(tmp_path / "a")[0]
    assert truth["renderer"].startswith(renderer)
    assert Path(truth["audio_path"]).exists()
    assert json.loads((tmp_path / "a" / "MANIFEST.json").read_text())["tracks"][0]["split"] == "dev"


def _kick_rise(y: np.ndarray, sr: int, times: np.ndarray) -> np.ndarray:
    """Rise of the energy below 120 Hz (the kick) over the 30 ms after each time (vs the 30 ms before)."""
    from scipy import signal

    low = signal.sosfilt(signal.butter(4, 120, "lowpass", fs=sr, output="sos"), y.mean(axis=1))
    energy = np.concatenate([[0.0], np.cumsum(low.astype(np.float64) ** 2)])
    w = int(0.03 * sr)
    i = np.clip((times * sr).astype(int), w, len(low) - w)
    return (energy[i + w] - energy[i]) - (energy[i] - energy[i - w])


def _attack_offsets(y: np.ndarray, sr: int, times: np.ndarray) -> np.ndarray:
    """Seconds from each time to the steepest rise of the zero-phase low band's envelope nearby (-30..+40 ms)."""
    from scipy import signal

    low = signal.sosfiltfilt(signal.butter(4, 150, "lowpass", fs=sr, output="sos"), y.mean(axis=1))
    env = np.convolve(np.abs(signal.hilbert(low)), np.ones(sr // 1000) / (sr // 1000), mode="same")
    rise = np.diff(env)
    pre, post = int(0.03 * sr), int(0.04 * sr)
    return np.array([(np.argmax(rise[int(t * sr) - pre: int(t * sr) + post]) - pre) / sr for t in times])


def test_truth_beats_sit_on_the_kicks(drums_only):
    y, truth = drums_only
    sr = truth["sample_rate_hz"]
    beats = np.asarray(truth["beats"])
    rise = _kick_rise(y, sr, beats)
    assert np.mean(rise > 0.2 * rise.max()) >= 0.75  # every beat but the two breakdown bars has a kick
    half = _kick_rise(y, sr, beats + 0.5 * np.median(np.diff(beats)))
    assert np.median(half) < 0.1 * np.median(rise)  # half a beat off: no kicks there
    offsets = _attack_offsets(y, sr, beats[rise > 0.2 * rise.max()])
    assert 0.0 <= np.median(offsets) <= 0.012  # the kick's body swells within 12 ms of the truth beat
    assert truth["downbeats"] == truth["beats"][::4]


def test_drums_only_has_no_key(drums_only):
    _, truth = drums_only
    assert truth["key"] is None and truth["tonic_pc"] is None and truth["condition"] == "drums_only"


def test_drift_track_has_a_moving_tempo():
    style, k = _first("drift")
    _, truth = make_track(style, k, seed=0)
    ibi = np.diff(truth["beats"])
    local = np.array([bpm for _, bpm in truth["tempo_curve"]])
    assert ibi.std() / ibi.mean() > 0.005
    assert local.max() / local.min() > 1.02
    np.testing.assert_allclose(60.0 / ibi, local[:-1], rtol=2e-3)
    _, steady = make_track("dnb", 0, seed=0)
    assert steady["condition"] == "clean" and np.ptp(np.diff(steady["beats"])) < 2e-3


@pytest.mark.parametrize("style", ["dubstep", "trap"])
def test_half_time_styles_record_felt_tempo(style):
    _, truth = make_track(style, 0, seed=0)
    assert truth["felt_bpm"] == pytest.approx(truth["bpm"] / 2, abs=1e-3)
    assert 135 <= truth["bpm"] <= 150


def test_conditions_change_the_master():
    style, k = _first("quiet")
    yq, tq = make_track(style, k, seed=0)
    style, k = _first("clipped")
    yc, tc = make_track(style, k, seed=0)
    from workbench.analysis.loudness import integrated_lufs

    assert integrated_lufs(yq.T, sr=44100) == pytest.approx(-30.0, abs=0.5) and tq["master"] == "quiet"
    assert np.mean(np.abs(yc) >= 0.999) > 0.001 and tc["master"] == "clipped"
    style, k = _first("lead_in")
    y, t = make_track(style, k, seed=0)
    assert t["lead_in_s"] >= 2.0 and t["beats"][0] >= t["lead_in_s"]
    assert np.abs(y[: int(t["lead_in_s"] * 44100) - 100]).max() < 1e-4  # below -80 dBFS: silent


def test_split_is_stable_and_held_out():
    assert [split_of(k) for k in range(6)] == ["dev", "dev", "held_out", "dev", "dev", "held_out"]
    _, held = make_track("trap", 2, seed=0)
    _, dev = make_track("trap", 1, seed=0)
    assert held["split"] == "held_out" and dev["split"] == "dev"


def test_cli_writes_the_set_with_json(tmp_path, capsys):
    assert devset_main([str(tmp_path), "--per-style", "1", "--styles", "trap", "--renderer", "numpy", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["style"] == "trap" and out[0]["split"] == "dev" and Path(out[0]["path"]).exists()


def test_generator_errors(tmp_path):
    with pytest.raises(ParameterError, match="style must be one of"):
        make_track("polka", 0, seed=0)
    with pytest.raises(ParameterError, match="renderer must be one of"):
        make_track("trap", 0, seed=0, renderer="csound")
    with pytest.raises(ParameterError, match="per_style must be an int >= 1; got 0"):
        write_set(tmp_path, per_style=0)
    with pytest.raises(ParameterError, match="seed must be an int >= 0"):
        write_set(tmp_path, seed=-1)
    with pytest.raises(ParameterError, match="no such folder"):
        load_devset(tmp_path / "missing")


# ---------------------------------------------------------------------------- metric helpers

def test_tempo_accuracy_with_octave_errors():
    assert tempo_accuracy1(121.0, 120.0) and not tempo_accuracy1(123.0, 120.0)
    assert not tempo_accuracy1(None, 120.0) and not tempo_accuracy2(None, 120.0)
    for est in (60.0, 240.0, 40.0, 360.0, 119.0):
        assert tempo_accuracy2(est, 120.0), est
    for est in (180.0, 80.0, 90.0):  # 3/2, 2/3 and 3/4 are not octave errors
        assert not tempo_accuracy2(est, 120.0), est
    with pytest.raises(ParameterError, match="ref_bpm must be a positive finite tempo in BPM; got 0"):
        tempo_accuracy1(120.0, 0)
    with pytest.raises(ParameterError, match="est_bpm must be a positive finite tempo"):
        tempo_accuracy2(float("nan"), 120.0)


def test_key_weighted_score():
    assert key_score("A minor", "A minor") == 1.0
    assert key_score("A minor", "E minor") == 0.5  # fifth
    assert key_score("A minor", "C major") == 0.3  # relative
    assert key_score("A minor", "A major") == 0.2  # parallel
    assert key_score("A minor", "F# major") == 0.0
    assert key_score("A minor", None) == 0.0
    assert same_key("A# minor", "Bb minor") and not same_key("A minor", "C major") and not same_key(None, "C major")
    with pytest.raises(ParameterError, match="keys must be names such as 'A minor'"):
        key_score("A minor", "H dorian")


def test_beat_f_and_summary():
    ref = np.arange(0, 30, 0.5)
    assert beat_f(ref, ref + 0.02) == 1.0
    assert beat_f(ref, ref + 0.25) == 0.0
    with pytest.raises(ParameterError, match="ref_s must hold beats after the first 5 s"):
        beat_f([1.0, 2.0], [1.0])
    truth = {"bpm": 120.0, "beats": list(ref), "downbeats": list(ref[::4]), "key": "C major"}
    est = {"bpm": 60.0, "beats": list(ref), "downbeats": None, "key": "G major", "seconds": 1.0}
    good = score_estimate(truth, est)
    assert (good["acc1"], good["acc2"], good["beat_f"], good["down_f"], good["key_mirex"]) == (False, True, 1.0, None, 0.5)
    none = score_estimate({**truth, "key": None}, {"bpm": None, "beats": [], "key": "C major", "seconds": 3.0})
    assert none["no_grid"] and none["key_exact"] is None
    s = summarise([{**good, "duration_s": 30.0}, {**none, "duration_s": 30.0}])
    assert s["acc2"] == 0.5 and s["key_mirex"] == 0.5 and s["n_key_mirex"] == 1 and s["down_f"] is None
    assert s["seconds_per_min"] == pytest.approx(4.0)


def test_benchmark_table_groups_and_cells():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_analysis_peers.py"
    spec = importlib.util.spec_from_file_location("bench_analysis_peers", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    row = {"acc1": True, "acc2": True, "beat_f": 1.0, "down_f": None, "key_exact": None, "key_mirex": None,
           "no_grid": False, "seconds": 1.0, "duration_s": 60.0}
    items = [{"style": "trap", "scores": {"workbench": row, "essentia": {**row, "acc1": False}}},
             {"style": "dnb", "scores": {"workbench": {**row, "acc1": False}}}]
    text, data = bench.table(items, "style")
    lines = text.splitlines()
    assert lines[2].startswith("| trap | 1 | 1.00 / 0.00 / - |")
    assert lines[-1].startswith("| all | 2 | 0.50 / 0.00 / - |")
    assert data["all"]["workbench"]["seconds_per_min"] == pytest.approx(1.0)


def test_auto_renderer_falls_back_to_numpy_without_fluidsynth(monkeypatch):
    import workbench.devset.midi as midi

    monkeypatch.setattr(midi, "find_fluidsynth", lambda: None)
    with pytest.raises(ParameterError, match="fluidsynth command or a GM soundfont is missing"):
        make_track("trap", 0, seed=0, renderer="fluidsynth")
    y, truth = make_track("trap", 0, seed=0, renderer="auto")
    assert truth["renderer"].startswith("numpy") and y.shape[1] == 2 and np.abs(y).max() > 0.5


# ------------------------------------------------------------------------- section arrangements

#: sha256 of track jungle 01 (seed 0)'s truth without its renderer, as set9 (rendered before sections existed) has it.
JUNGLE_01_TRUTH_SHA = "7b18bd921fc90f6476452f9ca0117e5b25d9fe84e207c5cd9e2b30417a66d829"


def test_truth_without_sections_is_unchanged():
    import hashlib

    _, truth = make_track("jungle", 1, seed=0, renderer="numpy")
    assert "sections" not in truth and "arrangement" not in truth
    truth.pop("renderer")
    assert hashlib.sha256(json.dumps(truth, sort_keys=True).encode()).hexdigest() == JUNGLE_01_TRUTH_SHA


@pytest.fixture(scope="module")
def arranged():
    """dnb 00 (an EDM form) and hip-hop 00 (a song form), arranged in sections, numpy render."""
    return {s: make_track(s, 0, seed=0, renderer="numpy", sections=True) for s in ("dnb", "hiphop")}


def test_section_truth_tiles_the_track_in_whole_phrases(arranged):
    from workbench.devset.arrange import MAX_DURATION_S, PHRASE_BARS
    from workbench.labels import LABELS

    for style, (y, truth) in arranged.items():
        _, plain = make_track(style, 0, seed=0, renderer="numpy")
        assert (truth["nominal_bpm"], truth["key"], truth["condition"]) == \
            (plain["nominal_bpm"], plain["key"], plain["condition"])  # same draws, longer track
        secs = truth["sections"]
        assert secs[0]["start_s"] == 0.0 and secs[-1]["end_s"] == truth["duration_s"] == pytest.approx(len(y) / 44100, abs=1e-4)
        assert all(a["end_s"] == b["start_s"] for a, b in zip(secs, secs[1:], strict=False))
        assert all(s["label"] in LABELS and s["bars"] % PHRASE_BARS == 0 for s in secs)
        assert sum(s["bars"] for s in secs) == truth["n_bars"] == len(truth["downbeats"])
        downbeats = set(truth["downbeats"])
        assert all(s["start_s"] in downbeats for s in secs[1:])
        assert secs[0]["label"] == "intro" and secs[-1]["label"] == "outro"
        assert truth["duration_s"] <= MAX_DURATION_S + 240.0 / truth["nominal_bpm"] + 1.6
    assert arranged["dnb"][1]["arrangement"].startswith("edm") and arranged["hiphop"][1]["arrangement"] == "song"
    assert {"verse", "chorus"} <= {s["label"] for s in arranged["hiphop"][1]["sections"]}


def test_sections_sound_as_labelled(arranged):
    """Drops carry the low end that intros and builds lack; breaks have no kick (quieter low end)."""
    import librosa

    y, truth = arranged["dnb"]
    mono = y.mean(axis=1)
    spec = np.abs(librosa.stft(mono, n_fft=4096, hop_length=2048)) ** 2
    times = librosa.frames_to_time(np.arange(spec.shape[1]), sr=44100, hop_length=2048, n_fft=4096)
    low = spec[librosa.fft_frequencies(sr=44100, n_fft=4096) < 120].sum(axis=0)

    def mean_low(label: str) -> float:
        inside = np.zeros_like(times, dtype=bool)
        for s in truth["sections"]:
            if s["label"] == label:
                inside |= (times >= s["start_s"] + 1) & (times < s["end_s"] - 1)
        return float(low[inside].mean())

    drop = mean_low("drop")
    assert drop > 4 * mean_low("build") and drop > 1.5 * mean_low("intro")


def test_arrangement_fits_the_length_and_differs_per_split():
    from workbench.devset.arrange import MAX_DURATION_S, bar_parts, draw_arrangement

    form, plan = draw_arrangement("hiphop", bar_s=240 / 72, seed=0, style_index=5, k=0, held_out=False)
    assert form == "song" and sum(b for _, b in plan) * 240 / 72 <= MAX_DURATION_S
    plans = {tuple(draw_arrangement("dnb", bar_s=1.4, seed=s, style_index=0, k=0, held_out=h)[1])
             for s in range(4) for h in (False, True)}
    assert len(plans) > 2
    parts = bar_parts([("intro", 8), ("build", 4), ("drop", 8), ("break", 4)])
    assert parts[0].drums and "kick" not in parts[0].drums and "kick" in parts[7].drums  # hats first
    assert parts[8].roll == 2 and parts[11].roll == 4 and not parts[8].bass
    assert parts[12].crash and parts[12].drums is None and not parts[13].crash
    assert parts[20].drums == frozenset() and bar_parts([("break", 4)], drums_only=True)[0].drums


def test_cli_writes_sections(tmp_path, capsys):
    assert devset_main([str(tmp_path), "--per-style", "1", "--styles", "trap", "--renderer", "numpy",
                        "--sections"]) == 0
    truth = load_devset(tmp_path)[0]
    assert truth["arrangement"] == "song" and truth["sections"][0]["label"] == "intro"
    assert json.loads((tmp_path / "MANIFEST.json").read_text())["sections"] is True
