"""The synthesized demo library: files, ground truth, determinism, and that the music carries the truth.

The "golden" checks analyse the rendered audio with numpy/scipy only: an onset envelope (spectral
flux) for tempo and beat phase, a whitened chroma with Krumhansl-Kessler profiles for the key,
band energies for the sections.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from scipy import signal
from scipy.ndimage import median_filter

from workbench.camelot import key_name, to_camelot
from workbench.demo import (
    ARTIST,
    SECTION_LABELS,
    STYLES,
    DemoTrack,
    load_truth,
    synthesize_library,
    synthesize_track,
)
from workbench.errors import ParameterError

SR = 44100
SEED = 7
HOP = 256
BPM_RANGES = {"trance": (136, 140), "progressive": (126, 130), "techno": (130, 134), "house": (122, 126),
              "dnb": (170, 176), "downtempo": (86, 94)}
EDM = ("trance", "progressive", "techno", "dnb")
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[np.ndarray, dict]]:
    """One track per style at its natural length (seed 7)."""
    return {style: synthesize_track(style, seed=SEED) for style in STYLES}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[DemoTrack], object]:
    folder = tmp_path_factory.mktemp("demo") / "nested" / "lib"
    return synthesize_library(folder, n_tracks=7, seed=3, duration_s=30, progress=False), folder


# ----------------------------------------------------------------------------------- analysis


def onset_envelope(audio: np.ndarray) -> np.ndarray:
    """Spectral flux of log magnitudes; frame i is centred at sample i * HOP + 512."""
    mono = audio.mean(axis=1).astype(np.float64)
    _, _, z = signal.stft(mono, fs=SR, nperseg=1024, noverlap=1024 - HOP, boundary=None, padded=False)
    mag = np.log1p(100.0 * np.abs(z))
    return np.concatenate([[0.0], np.maximum(0.0, np.diff(mag, axis=1)).sum(axis=0)])


def autocorrelation(env: np.ndarray) -> np.ndarray:
    """Autocorrelation of the onset envelope, detrended, rectified and smoothed over +-2 frames."""
    env = np.maximum(env - np.convolve(env, np.ones(61) / 61, mode="same"), 0.0)
    env = np.convolve(env, np.hanning(7)[1:-1] / np.hanning(7)[1:-1].sum(), mode="same")
    ac = signal.correlate(env, env, mode="full", method="fft")[env.size - 1:]
    return ac / ac[0]


def tempo_estimate(ac: np.ndarray, fps: float) -> float:
    """ACF peak in 60..200 BPM under the usual log-normal tempo prior (120 BPM, one octave)."""
    lags = np.arange(int(60 / 200 * fps), int(60 / 60 * fps) + 1)
    prior = np.exp(-0.5 * np.log2(60 * fps / lags / 120.0) ** 2)
    best = lags[np.argmax(ac[lags] * prior)]
    y0, y1, y2 = ac[best - 1], ac[best], ac[best + 1]
    shift = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) if y0 - 2 * y1 + y2 != 0 else 0.0
    return 60.0 * fps / (best + shift)


def chroma(audio: np.ndarray, fmin: float = 100.0, fmax: float = 2000.0) -> np.ndarray:
    """FFT bins folded to pitch classes: per-semitone peak minus the median of +-6 semitones."""
    mono = audio.mean(axis=1).astype(np.float64)
    f, _, z = signal.stft(mono, fs=SR, nperseg=16384, noverlap=16384 - 4096)
    mag = np.abs(z)
    notes = np.arange(math.ceil(69 + 12 * math.log2(fmin / 440)), math.floor(69 + 12 * math.log2(fmax / 440)) + 1)
    semis = np.zeros((notes.size, mag.shape[1]))
    for i, m in enumerate(notes):
        sel = (f >= 440 * 2 ** ((m - 69.5) / 12)) & (f < 440 * 2 ** ((m - 68.5) / 12))
        semis[i] = mag[sel].max(axis=0)
    tonal = np.maximum(semis - median_filter(semis, size=(13, 1), mode="nearest"), 0.0).sum(axis=1)
    return np.bincount(notes % 12, weights=tonal, minlength=12)


def estimate_key(audio: np.ndarray) -> tuple[int, str]:
    c = chroma(audio)
    scores = {(tonic, mode): np.corrcoef(c, np.roll(profile, tonic))[0, 1]
              for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)) for tonic in range(12)}
    return max(scores, key=scores.__getitem__)


def segment(x: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    return x[int(round(start_s * SR)):int(round(end_s * SR))]


def rms_db(x: np.ndarray) -> float:
    return 20.0 * math.log10(math.sqrt(float(np.mean(np.square(x, dtype=np.float64)))) + 1e-12)


def sections_of(truth: dict, label: str) -> list[dict]:
    return [s for s in truth["sections"] if s["label"] == label]


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -------------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("style", STYLES)
def test_every_style_renders(rendered, style):
    audio, truth = rendered[style]
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[1] == 2
    assert audio.shape[0] == round(truth["duration_s"] * SR)
    assert truth["sample_rate_hz"] == SR
    assert np.isfinite(audio).all()
    peak = float(np.abs(audio).max())
    assert 0.5 < peak <= 1.0
    assert peak == pytest.approx(10 ** (-1 / 20), abs=1e-3)  # -1 dBFS
    assert 75.0 <= truth["duration_s"] <= 120.0  # natural length
    assert np.abs(audio[:, 0] - audio[:, 1]).max() > 1e-3  # really stereo


@pytest.mark.parametrize(("style", "duration_s"), [("dnb", 30), ("downtempo", 30), ("trance", 45.5), ("house", 200)])
def test_duration_fits_whole_phrases(style, duration_s):
    audio, truth = synthesize_track(style, seed=1, duration_s=duration_s)
    bar_s = 240.0 / truth["bpm"]
    assert truth["n_bars"] % 4 == 0 and truth["n_bars"] >= 12
    assert abs(truth["duration_s"] - duration_s) <= 2 * bar_s + 1e-3  # nearest whole 4-bar phrase
    assert truth["duration_s"] == pytest.approx(truth["n_bars"] * bar_s, abs=1 / SR)
    assert audio.shape[0] == round(truth["duration_s"] * SR)
    labels = [s["label"] for s in truth["sections"]]
    assert len(labels) >= 3 and labels[0] == "intro"
    if duration_s >= 200:  # a long track repeats break -> build -> drop rather than stretching sections
        assert labels.count("drop") >= 2 and labels[-1] == "outro"
        assert max(s["end_s"] - s["start_s"] for s in truth["sections"]) <= 16 * bar_s + 1e-3


def test_styles_cover_the_forms(rendered):
    assert len(STYLES) >= 6 and set(BPM_RANGES) <= set(STYLES)
    for style in EDM:
        labels = [s["label"] for s in rendered[style][1]["sections"]]
        assert labels == ["intro", "build", "drop", "break", "build", "drop", "outro"], style
    for style in ("house", "downtempo"):
        labels = {s["label"] for s in rendered[style][1]["sections"]}
        assert {"intro", "verse", "chorus", "outro"} <= labels, style


# ------------------------------------------------------------------------------ ground truth


@pytest.mark.parametrize("style", STYLES)
def test_ground_truth_is_consistent(rendered, style):
    _, t = rendered[style]
    lo, hi = BPM_RANGES[style]
    assert t["style"] == style and t["artist"] == ARTIST and t["title"] == f"Demo 001 ({style})"
    assert isinstance(t["bpm"], float) and lo <= t["bpm"] <= hi
    beat_s, bar_s = 60.0 / t["bpm"], 240.0 / t["bpm"]
    beats, downbeats = np.array(t["beats"]), np.array(t["downbeats"])
    assert beats[0] == 0.0 and t["first_beat_s"] == 0.0
    np.testing.assert_allclose(np.diff(beats), beat_s, atol=2e-6)
    assert beats[-1] < t["duration_s"] <= beats[-1] + beat_s + 1.0 / SR  # every quarter note to the end
    assert t["downbeats"] == t["beats"][::4]
    assert len(downbeats) == t["n_bars"]
    # sections: contiguous, cover 0..duration, start on downbeats, whole 4-bar phrases, known labels
    secs = t["sections"]
    assert secs[0]["start_s"] == 0.0 and secs[-1]["end_s"] == t["duration_s"]
    for a, b in zip(secs, secs[1:], strict=False):
        assert a["end_s"] == b["start_s"]
    for s in secs:
        assert s["label"] in SECTION_LABELS
        assert s["start_s"] in t["downbeats"]
        bars = (s["end_s"] - s["start_s"]) / bar_s
        assert abs(bars - round(bars)) < 1e-4 and round(bars) % 4 == 0
    # key
    assert t["key"] == key_name(t["tonic_pc"], t["mode"])
    assert t["camelot"] == to_camelot(t["tonic_pc"], t["mode"])
    assert t["progression"][0] in ("i", "I")
    # energies
    assert len(t["section_energy"]) == len(secs)
    assert all(isinstance(e, int) and 1 <= e <= 10 for e in t["section_energy"])
    curve = t["energy_curve"]
    assert len(curve["values"]) == math.ceil(t["duration_s"] / curve["hop_s"])
    assert all(0.0 <= v <= 1.0 for v in curve["values"])
    json.dumps(t, allow_nan=False)  # JSON-clean


def test_section_energy_follows_the_form(rendered):
    for style, (_, t) in rendered.items():
        energy = dict(zip((s["label"] for s in t["sections"]), t["section_energy"], strict=True))
        peak = energy.get("drop", energy.get("chorus"))
        assert peak > energy["intro"] and peak > energy["break"] and peak >= max(energy.values()) - 1, style
        # the energy curve of the mix agrees: the loudest section type is louder than the intro
        values, hop = np.array(t["energy_curve"]["values"]), t["energy_curve"]["hop_s"]

        def mean_energy(label: str, t=t, values=values, hop=hop) -> float:
            idx = [i for s in sections_of(t, label) for i in range(int(s["start_s"] / hop) + 1, int(s["end_s"] / hop))]
            return float(values[idx].mean())

        assert mean_energy("drop" if "drop" in energy else "chorus") > mean_energy("intro") + 0.03, style


def test_keys_and_tempi_vary_with_the_seed():
    truths = [synthesize_track("house", seed=s, duration_s=30)[1] for s in range(8)]
    assert len({(t["tonic_pc"], t["mode"]) for t in truths}) >= 4
    assert len({t["bpm"] for t in truths}) >= 3
    assert {t["mode"] for t in truths} == {"major", "minor"}


# ---------------------------------------------------------------- the music carries the truth


@pytest.mark.parametrize("style", STYLES)
def test_tempo_is_recoverable_from_onsets(rendered, style):
    audio, t = rendered[style]
    fps = SR / HOP
    ac = autocorrelation(onset_envelope(audio))
    period = 60.0 / t["bpm"] * fps
    # the autocorrelation peaks at the beat period (within one frame) ...
    window = np.arange(int(period * 0.9), int(period * 1.1) + 2)
    assert abs(window[np.argmax(ac[window])] - period) <= 1.0
    # ... is among the strongest periodicities in 60..200 BPM (half-bar lags compete: claps on 2 and 4) ...
    lags = np.arange(int(60 / 200 * fps), int(60 / 60 * fps) + 1)
    assert ac[int(round(period))] >= 0.6 * ac[lags].max()
    # ... and a standard estimator reads the tempo; drum & bass's half-time feel may give half of it
    est = tempo_estimate(ac, fps)
    targets = (t["bpm"], t["bpm"] / 2) if style == "dnb" else (t["bpm"],)
    assert min(abs(est - b) / b for b in targets) < 0.02, (est, t["bpm"])


@pytest.mark.parametrize("style", STYLES)
def test_beats_fall_on_onsets(rendered, style):
    audio, t = rendered[style]
    env = onset_envelope(audio)

    def strength(times: np.ndarray) -> float:
        frames = np.clip(np.round((times * SR - 512) / HOP).astype(int), 1, env.size - 2)
        return float(np.mean([env[f - 1:f + 2].max() for f in frames]))

    beats = np.array(t["beats"])
    on = strength(beats)
    assert on > 3.5 * strength(beats + 60.0 / t["bpm"] / 8)  # a 32nd note late
    assert on > 3.5 * strength(beats + 60.0 / t["bpm"] * 3 / 8)
    # the grid sits on the onsets, not a few milliseconds off: shifting it by up to 35 ms only loses
    offsets = np.arange(-6, 7) * HOP / SR
    best = offsets[int(np.argmax([strength(beats + d) for d in offsets]))]
    assert abs(best) <= 1.5 * HOP / SR, best


def test_key_is_audible(rendered):
    hits = {style: estimate_key(audio) == (t["tonic_pc"], t["mode"]) for style, (audio, t) in rendered.items()}
    assert sum(hits.values()) >= 5, hits


@pytest.mark.parametrize("style", STYLES)
def test_sections_sound_like_their_labels(rendered, style):
    audio, t = rendered[style]
    mono = audio.mean(axis=1)
    low = signal.sosfilt(signal.butter(4, 150, "low", fs=SR, output="sos"), mono)
    high = signal.sosfilt(signal.butter(4, 4000, "high", fs=SR, output="sos"), mono)
    peak_label = "drop" if sections_of(t, "drop") else "chorus"
    intro = sections_of(t, "intro")[0]
    for peak in sections_of(t, peak_label):  # drops (choruses) are louder than the intro
        assert rms_db(segment(mono, peak["start_s"], peak["end_s"])) > rms_db(
            segment(mono, intro["start_s"], intro["end_s"])) + 2.0
    for brk in sections_of(t, "break"):  # breaks drop the kick and the bass
        for peak in sections_of(t, peak_label):
            assert rms_db(segment(low, brk["start_s"], brk["end_s"])) < rms_db(
                segment(low, peak["start_s"], peak["end_s"])) - 12.0
    bar_s = 240.0 / t["bpm"]
    for build in sections_of(t, "build"):  # builds rise
        first = (build["start_s"], build["start_s"] + bar_s)
        last = (build["end_s"] - bar_s, build["end_s"])
        assert rms_db(segment(high, *last)) > rms_db(segment(high, *first)) + 3.0
        assert rms_db(segment(mono, *last)) > rms_db(segment(mono, *first))
    for verse, chorus in zip(sections_of(t, "verse"), sections_of(t, "chorus"), strict=False):  # choruses are fuller
        assert rms_db(segment(mono, chorus["start_s"], chorus["end_s"])) > rms_db(
            segment(mono, verse["start_s"], verse["end_s"])) + 0.5


# -------------------------------------------------------------------------- files and seeds


def test_library_files_tags_and_records(library):
    tracks, folder = library
    assert [tr.index for tr in tracks] == list(range(1, 8))
    assert [tr.style for tr in tracks] == [*STYLES, STYLES[0]]  # cycles through every style
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"{i:03d}_{s}.flac" for i, s in enumerate([*STYLES, STYLES[0]], 1)]
                           + [f"{i:03d}_{s}.json" for i, s in enumerate([*STYLES, STYLES[0]], 1)])
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    for tr in tracks:
        info = sf.info(str(tr.audio_path))
        assert (info.samplerate, info.channels, info.format, info.subtype) == (SR, 2, "FLAC", "PCM_16")
        with sf.SoundFile(str(tr.audio_path)) as f:
            assert f.title == tr.title == f"Demo {tr.index:03d} ({tr.style})"
            assert f.artist == "workbench demo"
        truth = load_truth(tr.truth_path)
        assert truth == load_truth(tr.audio_path)  # the JSON next to the audio
        assert truth == json.loads(tr.truth_path.read_text())
        assert (truth["style"], truth["bpm"], truth["key"], truth["camelot"]) == (tr.style, tr.bpm, tr.key, tr.camelot)
        assert truth["seed"] == tr.seed == 3 and truth["index"] == tr.index
        assert info.frames == round(truth["duration_s"] * SR)
    with pytest.raises(AttributeError):
        tracks[0].bpm = 1.0  # type: ignore[misc]


def test_library_track_is_the_in_memory_track(library):
    tracks, _ = library
    tr = tracks[2]
    audio, truth = synthesize_track(tr.style, seed=3, duration_s=30, index=tr.index)
    data, sr = sf.read(str(tr.audio_path), dtype="float32")
    assert sr == SR and data.shape == audio.shape
    assert np.abs(data - audio).max() <= 1.0 / 32768 + 1e-6  # PCM_16 rounding only
    assert 0.5 < np.abs(data).max() <= 1.0
    assert load_truth(tr.truth_path) == json.loads(json.dumps(truth))


def test_same_seed_same_bytes_different_seed_different_audio(tmp_path):
    kw = {"n_tracks": 2, "duration_s": 30, "styles": ("dnb", "house"), "progress": False}
    a = synthesize_library(tmp_path / "a", seed=11, **kw)
    b = synthesize_library(tmp_path / "b", seed=11, **kw)
    c = synthesize_library(tmp_path / "c", seed=12, **kw)
    for x, y in zip(a, b, strict=True):
        assert sha256(x.audio_path) == sha256(y.audio_path)
        assert sha256(x.truth_path) == sha256(y.truth_path)
    for x, z in zip(a, c, strict=True):
        assert sha256(x.audio_path) != sha256(z.audio_path)
    one, _ = synthesize_track("techno", seed=0, duration_s=30)
    two, _ = synthesize_track("techno", seed=1, duration_s=30)
    n = min(len(one), len(two))
    assert np.abs(one[:n] - two[:n]).mean() > 1e-3


def test_progress_flag(tmp_path, capsys):
    synthesize_library(tmp_path / "quiet", n_tracks=1, duration_s=30, progress=False)
    assert capsys.readouterr().err == ""
    synthesize_library(tmp_path / "loud", n_tracks=1, duration_s=30, styles="techno", progress=True)
    assert "demo library" in capsys.readouterr().err


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def boom(self, data):
        raise OSError("disk full")

    monkeypatch.setattr(sf.SoundFile, "write", boom)
    with pytest.raises(OSError, match="disk full"):
        synthesize_library(tmp_path, n_tracks=1, duration_s=30, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_import_does_no_work(tmp_path):
    code = (
        "import numpy as np; state = np.random.get_state()[1].copy(); "
        "import workbench.demo; "
        "assert (np.random.get_state()[1] == state).all(); print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ bad arguments


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_tracks": 0}, r"n_tracks must be an int >= 1; got 0"),
    ({"n_tracks": 2.0}, r"n_tracks must be an int >= 1; got 2\.0"),
    ({"n_tracks": True}, r"n_tracks must be an int >= 1; got True"),
    ({"seed": -1}, r"seed must be an int >= 0; got -1"),
    ({"duration_s": 29.9}, r"duration_s must be None or a number of seconds in 30\.\.1200; got 29\.9"),
    ({"duration_s": float("nan")}, r"duration_s must be None .* got nan"),
    ({"duration_s": "60"}, r"duration_s must be None .* got '60'"),
    ({"styles": ["techno", "polka"]}, r"styles must be names from .*'trance'.*; got unknown \['polka'\]"),
    ({"styles": []}, r"styles must be None or a non-empty collection"),
    ({"styles": 3}, r"styles must be None or a non-empty collection .* got 3"),
    ({"progress": "yes"}, r"progress must be True or False; got 'yes'"),
])
def test_synthesize_library_rejects_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        synthesize_library(tmp_path / "lib", **kwargs)
    assert not (tmp_path / "lib").exists()


def test_synthesize_library_rejects_a_file_as_folder(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("x")
    with pytest.raises(ParameterError, match=r"folder must be a directory; got the file"):
        synthesize_library(path, n_tracks=1)
    with pytest.raises(ParameterError, match=r"folder must be a path"):
        synthesize_library(None, n_tracks=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    (("polka",), {"seed": 0}, r"style must be one of \('trance', .*\); got 'polka'"),
    (("techno",), {"seed": "0"}, r"seed must be an int >= 0; got '0'"),
    (("techno",), {"seed": 0, "sr": 8000}, r"sr must be an int >= 16000; got 8000"),
    (("techno",), {"seed": 0, "index": 0}, r"index must be an int >= 1; got 0"),
    (("techno",), {"seed": 0, "duration_s": 1e6}, r"duration_s must be None or a number of seconds in 30\.\.1200"),
])
def test_synthesize_track_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        synthesize_track(*args, **kwargs)


def test_load_truth_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ParameterError, match=r"not valid JSON"):
        load_truth(bad)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"title": "x"}))
    with pytest.raises(ParameterError, match=r"lacks \['artist'"):
        load_truth(partial)
    with pytest.raises(FileNotFoundError, match=r"ground-truth file not found"):
        load_truth(tmp_path / "missing.json")
    with pytest.raises(ParameterError, match=r"path must be a path"):
        load_truth(3)  # type: ignore[arg-type]


def test_other_sample_rate():
    audio, truth = synthesize_track("house", seed=2, duration_s=30, sr=22050)
    assert truth["sample_rate_hz"] == 22050 and audio.shape == (round(truth["duration_s"] * 22050), 2)
    assert np.isfinite(audio).all() and 0.5 < np.abs(audio).max() <= 1.0
