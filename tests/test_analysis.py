"""Track analysis on seeded synthetic signals with known answers, and its bad-input branches."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from workbench.analysis import Analysis, BpmPrior, analyze, analyze_library, analyze_track, stored_analysis
from workbench.analysis.key import key_scores
from workbench.analysis.loudness import integrated_lufs
from workbench.errors import AudioTooShortError, ParameterError, SilentAudioError
from workbench.library import Library

SR = 22050
A_MINOR = [(57, 60, 64), (53, 57, 60), (57, 60, 64), (55, 59, 62)]  # Am F Am G as MIDI triads


def midi_hz(m: float) -> float:
    return 440.0 * 2 ** ((m - 69) / 12)


def groove(bpm: float, duration_s: float, *, seed: int = 0, chords=A_MINOR, kick: bool = True) -> np.ndarray:
    """Kick on every beat (accented on the one), a hat on the off-beats, triads changing per bar."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * SR)
    y = np.zeros(n)
    beat = 60.0 / bpm
    k_len = int(0.12 * SR)
    tk = np.arange(k_len) / SR
    kick_shot = np.sin(2 * np.pi * (50 + 80 * np.exp(-tk * 40)) * tk) * np.exp(-tk * 25)
    hat = rng.standard_normal(int(0.03 * SR)) * np.exp(-np.arange(int(0.03 * SR)) / SR * 150) * 0.2
    for i, t0 in enumerate(np.arange(0, duration_s, beat)):
        a = int(t0 * SR)
        if kick:
            seg = y[a : a + k_len]
            seg += kick_shot[: seg.size] * (1.0 if i % 4 == 0 else 0.7)
        b = int((t0 + beat / 2) * SR)
        seg = y[b : b + hat.size]
        seg += hat[: seg.size]
    t = np.arange(n) / SR
    bar = 4 * beat
    for j, t0 in enumerate(np.arange(0, duration_s, bar)):
        a, b = int(t0 * SR), min(n, int((t0 + bar) * SR))
        for m in chords[j % len(chords)]:
            y[a:b] += 0.06 * np.sin(2 * np.pi * midi_hz(m) * t[a:b])
        y[a:b] += 0.1 * np.sin(2 * np.pi * midi_hz(chords[j % len(chords)][0] - 24) * t[a:b])
    return y.astype(np.float32)


@pytest.mark.parametrize("bpm", [124.0, 138.0, 174.0, 90.0])
def test_bpm_and_beats_on_a_groove(bpm):
    a = analyze(groove(bpm, 30.0), sr=SR)
    assert a.bpm == pytest.approx(bpm, rel=0.02)
    beats = np.array(a.beats)
    truth = np.arange(0, 30.0, 60.0 / bpm)
    # every detected beat is within 70 ms of a true one (mir_eval's window)
    assert np.abs(beats[:, None] - truth[None, :]).min(axis=1).max() < 0.07
    assert a.tempo_stability > 0.95
    # bars start where the chords change and the kick is accented
    bars = np.arange(0, 30.0, 240.0 / bpm)
    assert np.abs(np.array(a.downbeats)[:, None] - bars[None, :]).min(axis=1).max() < 0.07


def test_prior_chooses_the_octave():
    y = groove(140.0, 30.0)
    assert analyze(y, sr=SR, bpm_prior=BpmPrior.trance()).bpm == pytest.approx(140.0, rel=0.02)
    slow = analyze(y, sr=SR, bpm_prior=BpmPrior(min_bpm=60, max_bpm=100, center_bpm=75))
    assert slow.bpm == pytest.approx(70.0, rel=0.02)


def test_key_of_a_minor_progression():
    a = analyze(groove(128.0, 20.0), sr=SR)
    assert (a.key, a.camelot) in {("A minor", "8A"), ("C major", "8B")}
    assert a.key == "A minor"
    assert 0.04 < a.key_confidence <= 1.0


def test_key_scores_golden():
    c_major_scale = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=float)
    c_major_triad = np.zeros(12)
    c_major_triad[[0, 4, 7]] = 1.0
    chroma = c_major_triad + 0.3 * c_major_scale
    scores = key_scores(chroma, profile="krumhansl")
    assert int(np.argmax(scores)) == 0  # C major
    assert scores[0] == pytest.approx(0.90698, abs=1e-4)
    ks_major = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
    assert scores[0] == pytest.approx(np.corrcoef(chroma, ks_major)[0, 1], abs=1e-9)
    ks_minor = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]
    assert scores[12 + 9] == pytest.approx(np.corrcoef(chroma, np.roll(ks_minor, 9))[0, 1], abs=1e-9)  # A minor


def test_lufs_golden():
    """BS.1770: a full-scale 997 Hz sine in one channel reads -3.01 LUFS; 0.1 of it, -23.01."""
    sr = 48000
    t = np.arange(sr * 5) / sr
    y = 0.1 * np.sin(2 * np.pi * 997 * t)
    assert integrated_lufs(y, sr=sr) == pytest.approx(-23.01, abs=0.05)


def test_energy_follows_density():
    quiet = groove(128.0, 20.0, kick=False) * 0.3
    loud = groove(128.0, 20.0)
    y = np.concatenate([quiet, loud])
    a = analyze(y, sr=SR)
    assert a.section_energy(20.0, 40.0) > a.section_energy(0.0, 20.0)
    assert 1 <= a.energy <= 10
    assert len(a.energy_curve) == pytest.approx(40.0 / a.energy_hop_s, abs=1)


def test_stereo_and_loud_input():
    y = groove(128.0, 12.0)
    stereo = np.stack([y, y]) * 3.0  # peaks far above 1.0 are real data, not an error
    a = analyze(stereo, sr=SR)
    assert a.bpm == pytest.approx(128.0, rel=0.02)
    assert a.loudness_lufs > integrated_lufs(y, sr=SR)


def test_no_beat_track():
    t = np.arange(SR * 10) / SR
    pad = sum(np.sin(2 * np.pi * midi_hz(m) * t) for m in (57, 60, 64)) * 0.1
    a = analyze(pad.astype(np.float32), sr=SR)
    assert a.bpm is None and a.beats == () and not a.has_beat
    assert a.key in {"A minor", "C major"}


def test_silent_track():
    with pytest.raises(SilentAudioError, match=r"^audio is silent \(every sample is 0\)"):  # not "peak -400 dBFS"
        analyze(np.zeros(SR * 5, dtype=np.float32), sr=SR)
    with pytest.raises(SilentAudioError, match=r"^a\.wav: audio is silent \(peak -100 dBFS\)"):
        analyze(np.full(SR * 5, 1e-5, dtype=np.float32), sr=SR, name="a.wav")


def test_one_second_track():
    with pytest.raises(AudioTooShortError, match=r"1\.000 s of audio is shorter than the minimum 3 s"):
        analyze(groove(128.0, 1.0), sr=SR)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"min_bpm": 120, "max_bpm": 100}, "min_bpm < max_bpm"),
    ({"center_bpm": 200}, r"center_bpm must lie in \[min_bpm, max_bpm\]"),
    ({"width_octaves": 0}, "width_octaves must be a finite float > 0; got 0"),
])
def test_bad_prior(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        BpmPrior(**kwargs)


def test_bad_options():
    with pytest.raises(ParameterError, match="bpm_prior must be a BpmPrior or None; got dict"):
        analyze(groove(128, 5), sr=SR, bpm_prior={"min_bpm": 100})  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"profile must be one of \['bgate', 'braw', 'edma', 'krumhansl', 'shaath', 'temperley'\]; got 'edm'"):
        analyze(groove(128, 5), sr=SR, key_profile="edm")
    with pytest.raises(ParameterError, match="energy_hop_s must be a float in"):
        analyze(groove(128, 5), sr=SR, energy_hop_s=0)


def test_json_round_trip():
    a = analyze(groove(128.0, 8.0), sr=SR)
    b = Analysis.from_json(a.to_json())
    assert b.bpm == a.bpm and b.camelot == a.camelot and len(b.beats) == len(a.beats)


def test_analyze_library_stores_reuses_and_reports(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    sf.write(folder / "a.flac", groove(128.0, 10.0), SR)
    sf.write(folder / "b.flac", groove(140.0, 10.0, seed=1), SR)
    sf.write(folder / "silent.wav", np.zeros(SR * 5, dtype=np.float32), SR)
    with Library(tmp_path / "w.db") as lib:
        lib.scan(folder, progress=False)
        s1 = analyze_library(lib, progress=False)
        assert len(s1.analysed) == 2 and len(s1.failed) == 1
        assert s1.failed[0][0].endswith("silent.wav") and "silent" in s1.failed[0][1]
        s2 = analyze_library(lib, progress=False)
        assert len(s2.reused) == 2 and not s2.analysed
        s3 = analyze_library(lib, progress=False, bpm_prior=BpmPrior.trance())  # new settings: recomputed
        assert len(s3.analysed) == 2
        a = stored_analysis(lib, lib.track(folder / "a.flac"))
        assert a is not None and a.bpm == pytest.approx(128.0, rel=0.02)
        assert analyze_track(lib, folder / "b.flac").bpm == pytest.approx(140.0, rel=0.02)


def test_track_energy_is_absolute():
    dense = analyze(groove(128.0, 12.0), sr=SR)
    quiet = analyze(groove(128.0, 12.0, kick=False) * 0.05, sr=SR)
    assert dense.energy > quiet.energy
    assert quiet.loudness_lufs < dense.loudness_lufs - 20
