"""Key estimation on synthesized loops: tuning, relative keys, drums only, profiles, bad input."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from workbench.analysis.key import DEFAULT_PROFILE, PROFILES, KeyEstimate, estimate_key, key_from_scores
from workbench.errors import ParameterError
from workbench.evaluate.analysis import key_score

SR = 22050
BPM = 124.0
BAR_S = 4 * 60.0 / BPM
# semitones above the tonic and quality of each chord, one chord per bar
MINOR_LOOP = ((0, "m"), (8, "M"), (10, "M"), (0, "m"))  # i bVI bVII i: Am F G Am
MAJOR_LOOP = ((0, "M"), (5, "M"), (7, "M"), (0, "M"))   # I IV V I


def _tone(midi: float, dur_s: float, *, cents: float, amp: float) -> np.ndarray:
    """A saw-like tone (6 partials, 1/h) with a short attack and release."""
    t = np.arange(int(dur_s * SR)) / SR
    f0 = 440.0 * 2.0 ** ((midi - 69 + cents / 100.0) / 12.0)
    y = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 7) if h * f0 < SR / 2)
    env = np.minimum(1.0, t / 0.01) * np.minimum(1.0, (dur_s - t) / 0.05)
    return amp * env * y


def _drums(n: int, rng: np.random.Generator) -> np.ndarray:
    """Kick on every beat (a falling sine), snare on 2 and 4 and 8th-note hats (noise)."""
    y = np.zeros(n)
    beat = int(60.0 / BPM * SR)
    t = np.arange(int(0.25 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 12)
    for i, start in enumerate(range(0, n - kick.size, beat)):
        y[start:start + kick.size] += 0.8 * kick
        if i % 2 == 1:
            y[start:start + 3000] += 0.3 * rng.standard_normal(3000) * np.exp(-np.arange(3000) / 600)
        half = start + beat // 2
        y[half:half + 800] += 0.15 * np.diff(rng.standard_normal(801)) * np.exp(-np.arange(800) / 150)
    return y


def _loop(tonic_midi: int, chords: tuple[tuple[int, str], ...], *, bars: int = 6, cents: float = 0.0,
          drums: bool = True, seed: int = 0) -> np.ndarray:
    """Held chords (one per bar), a bass on each chord's root, and a drum kit."""
    rng = np.random.default_rng(seed)
    n = int(bars * BAR_S * SR)
    y = np.zeros(n)
    for bar in range(bars):
        root, quality = chords[bar % len(chords)]
        third = 4 if quality == "M" else 3
        start = int(bar * BAR_S * SR)
        for iv in (0, third, 7):
            note = _tone(tonic_midi + root + iv, BAR_S, cents=cents, amp=0.12)
            y[start:start + note.size] += note[: n - start]
        bass = _tone(tonic_midi + root - 24, BAR_S, cents=cents, amp=0.25)
        y[start:start + bass.size] += bass[: n - start]
    if drums:
        y += _drums(n, rng)
    return (y / np.abs(y).max() * 0.8).astype(np.float32)


@pytest.fixture(scope="module")
def a_minor_loop() -> np.ndarray:
    return _loop(57, MINOR_LOOP)  # A3: A and C are equally frequent, as in C major


def test_minor_loop_is_not_its_relative_major(a_minor_loop):
    k = estimate_key(a_minor_loop, sr=SR)
    assert isinstance(k, KeyEstimate)
    assert (k.name, k.camelot, k.has_key) == ("A minor", "8A", True)
    assert abs(k.tuning_cents) < 5
    assert 1 / 24 < k.confidence <= 1.0


def test_same_chords_starting_on_the_major_tonic_read_major():
    """C G Am F (I V vi IV): every chord of C major's relative minor loop, opening on C."""
    k = estimate_key(_loop(60, ((0, "M"), (7, "M"), (9, "m"), (5, "M")), seed=1), sr=SR)
    assert k.name == "C major"


def test_an_opening_counts_only_when_it_names_a_chord():
    """A clear triad moves its tonic's two keys; a riser or noise (no triad fits well) moves none."""
    from workbench.analysis.key import OPENING_MIN_CLARITY, OPENING_WEIGHT, key_scores, with_opening

    profile = key_scores(np.array([1.0, 0.1, 0.6, 0.1, 0.6, 0.5, 0.1, 0.8, 0.1, 0.6, 0.1, 0.3]))
    c_major_triad = np.zeros(24)
    c_major_triad[0] = 0.9  # C major triad: C major and C minor both gain
    moved = with_opening(profile, c_major_triad) - profile
    assert moved[0] == pytest.approx(OPENING_WEIGHT * 0.9) and moved[12] == pytest.approx(OPENING_WEIGHT * 0.9)
    assert np.count_nonzero(moved) == 2
    unclear = np.full(24, OPENING_MIN_CLARITY - 0.05)
    np.testing.assert_array_equal(with_opening(profile, unclear), profile)


def test_major_loop_and_default_profile():
    assert DEFAULT_PROFILE in PROFILES
    assert estimate_key(_loop(62, MAJOR_LOOP, seed=2), sr=SR).name == "D major"


@pytest.mark.parametrize("cents", [30.0, -40.0])
def test_detuned_loop_keeps_its_key_and_reads_its_tuning(cents):
    k = estimate_key(_loop(57, MINOR_LOOP, cents=cents, seed=3), sr=SR)
    assert k.name == "A minor" and k.has_key
    assert k.tuning_cents == pytest.approx(cents, abs=10.0)


def test_drums_only_have_no_key():
    y = _drums(int(8 * BAR_S * SR), np.random.default_rng(4)).astype(np.float32)
    k = estimate_key(y, sr=SR)
    assert not k.has_key
    assert k.confidence < 0.1
    tonal = estimate_key(_loop(57, MINOR_LOOP, seed=4), sr=SR)
    assert tonal.confidence > 5 * k.confidence


def test_every_profile_is_selectable(a_minor_loop):
    seen = {}
    for profile in sorted(PROFILES):
        k = estimate_key(a_minor_loop, sr=SR, profile=profile)
        assert k.has_key and len(k.scores) == 24
        seen[profile] = (k.name, k.scores)
    assert len({scores for _, scores in seen.values()}) == len(PROFILES)  # each scores differently
    # every profile lands on A minor or a close key (relative or a fifth: MIREX >= 0.3); the
    # default and the other pop/EDM profiles get it exactly
    assert all(key_score("A minor", name) >= 0.3 for name, _ in seen.values()), seen
    assert {p: seen[p][0] for p in ("shaath", "edma", "bgate", "krumhansl")} == dict.fromkeys(
        ("shaath", "edma", "bgate", "krumhansl"), "A minor")


def test_spec_is_accepted(a_minor_loop):
    spec = np.abs(np.random.default_rng(5).standard_normal((1025, 10)))
    assert estimate_key(a_minor_loop, sr=SR, spec=spec).name == estimate_key(a_minor_loop, sr=SR).name


def test_bad_arguments(a_minor_loop):
    with pytest.raises(ParameterError, match=r"profile must be one of \[.*'edma'.*\]; got 'edm'"):
        estimate_key(a_minor_loop, sr=SR, profile="edm")
    with pytest.raises(ParameterError, match="hop_length must be a positive int"):
        estimate_key(a_minor_loop, sr=SR, hop_length=0)
    with pytest.raises(ParameterError, match=r"scores must be 24 finite values; got shape \(12,\)"):
        key_from_scores(np.zeros(12))
    with pytest.raises(ParameterError, match=r"tonality must be a float in \[0, 1\]; got 2"):
        key_from_scores(np.zeros(24), tonality=2)


@pytest.mark.real_audio
def test_real_drum_loops_have_no_key_and_the_trumpet_has_one(real_audio_dir):
    """The shared loops: six drum/percussion loops (tabla included) and a trumpet loop titled F."""
    from workbench import audio

    results = {}
    with open(real_audio_dir / "manifest.csv", newline="") as fh:
        paths = [row["path"] for row in csv.DictReader(fh) if row["path"].startswith("loops/")]
    for rel in paths:
        y, sr = audio.load(real_audio_dir / rel)
        results[rel.split("/")[-1]] = estimate_key(audio.resample(y, orig_sr=sr, target_sr=SR), sr=SR)
    trumpet = results.pop("sorohanro_-_solo-trumpet-06.hq.ogg")
    assert len(results) == 6 and not any(k.has_key for k in results.values()), results
    assert trumpet.has_key and trumpet.tonic_pc == 5  # F (the title gives no mode)
