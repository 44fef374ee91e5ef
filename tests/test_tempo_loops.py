"""Failure modes of issue 16 on small seeded clips: a tabla loop, house downbeats, a drumless breakdown.

Each clip is rendered with numpy from a 16-step pattern, so the true tempo, beats and downbeats
are known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.analysis.beats import track_beats
from workbench.analysis.onsets import magnitude_spectrogram, onset_envelopes
from workbench.analysis.tempo import autocorrelation, lag_strength, loop_tempo

SR = 22050


def _decay(n: int, rate: float) -> np.ndarray:
    return np.exp(-np.arange(n) / SR * rate)


def _tabla_loop(*, bpm: float = 90.0, beats: int = 16, seed: int = 0) -> np.ndarray:
    """A tabla-like loop: dayan strokes (ringing 520 Hz with a click) on every sixteenth, accented
    on the eighths, and bayan (a low gliding stroke) on 1, 3 and the "and" of 3."""
    rng = np.random.default_rng(seed)
    step = int(round(60.0 / bpm / 4 * SR))
    y = np.zeros(beats * 4 * step + SR // 2)
    t = np.arange(int(0.3 * SR)) / SR
    dayan = (np.sin(2 * np.pi * 520 * t) + 0.5 * np.sin(2 * np.pi * 1040 * t)) * _decay(t.size, 14)
    click = np.diff(rng.standard_normal(int(0.006 * SR)), prepend=0.0) * 0.6
    bayan = np.sin(2 * np.pi * (70 * t + 20 / 6 * (1 - np.exp(-6 * t)))) * _decay(t.size, 7)
    for i in range(beats * 4):
        a = i * step
        level = 1.0 if i % 2 == 0 else 0.55
        level *= 0.9 + 0.1 * rng.random()
        y[a:a + t.size] += 0.4 * level * dayan
        y[a:a + click.size] += level * click
        if i % 16 in (0, 8, 10):
            y[a:a + t.size] += 0.8 * bayan
    return (y[: beats * 4 * step] * 0.4).astype(np.float32)


def test_tabla_loop_is_read_at_its_beat_not_its_eighth_note():
    y = _tabla_loop()
    onsets = onset_envelopes(magnitude_spectrogram(y), sr=SR)
    ac = autocorrelation(onsets.beat)
    # the strongest short periodicity is the eighth note (180 BPM), as in the real tabla loop
    assert lag_strength(ac, 180.0, onsets.frame_rate) > lag_strength(ac, 90.0, onsets.frame_rate) * 0.8
    g = track_beats(y, sr=SR)
    assert g.has_beat and g.bpm == pytest.approx(90.0, rel=0.02)
    assert np.median(np.diff(g.beats)) == pytest.approx(60.0 / 90.0, rel=0.02)  # the grid is at the beat too


def _house(*, bpm: float = 124.0, bars: int = 16, seed: int = 1) -> np.ndarray:
    """Four-on-the-floor house: kick on every beat, clap on 2 and 4, open hats on the "and"s and a
    syncopated piano-like stab (on the "and" of 1, on 2 and on the "and" of 3) whose chord changes at
    each bar (Am, F, C, G)."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    y = np.zeros(int((bars * 4 + 1) * beat * SR))
    t = np.arange(int(0.25 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) * _decay(t.size, 18)
    noise = rng.standard_normal(int(0.15 * SR))
    clap = noise * _decay(noise.size, 30) * 0.5
    hat = np.diff(rng.standard_normal(int(0.12 * SR)), prepend=0.0) * _decay(int(0.12 * SR), 25) * 0.2
    chords = ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62))
    for b in range(bars * 4):
        a = int(b * beat * SR)
        y[a:a + kick.size] += kick
        if b % 2 == 1:
            y[a:a + clap.size] += clap
        h = int((b + 0.5) * beat * SR)
        y[h:h + hat.size] += hat
        chord = chords[(b // 4) % 4]
        stab = sum(np.sin(2 * np.pi * 440.0 * 2 ** ((m - 69) / 12) * t) for m in chord) / 3 * _decay(t.size, 9)
        for at in {0: (0.5,), 1: (0.0,), 2: (0.5,)}.get(b % 4, ()):
            s0 = int((b + at) * beat * SR)
            y[s0:s0 + t.size] += 0.3 * stab
    return (y * 0.4).astype(np.float32)


def test_house_downbeats_fall_on_the_one():
    y = _house()
    g = track_beats(y, sr=SR)
    assert g.bpm == pytest.approx(124.0, rel=0.02)
    bars = np.arange(16) * 4 * 60.0 / 124.0
    assert g.downbeats.size >= 12
    near = np.abs(g.downbeats[:, None] - bars[None, :]).min(axis=1)
    assert (near < 0.07).mean() > 0.9


def test_loop_tempo_is_the_whole_bar_family_of_a_short_clip():
    assert loop_tempo(16 * 60.0 / 90.0) == pytest.approx(90.0)  # 16 beats at 90 (the tabla loop)
    assert loop_tempo(8 * 60.0 / 90.0) == pytest.approx(90.0)
    assert loop_tempo(8.0) == pytest.approx(120.0)
    assert loop_tempo(30.0) is None  # a song or an excerpt: its length says nothing
    assert loop_tempo(0.5) is None



def _with_breakdown(*, bpm: float = 128.0, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Eight bars of four-on-the-floor, eight drumless bars of a pad with stray off-grid plucks, eight bars
    of drums again; returns the audio and the true beat times."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    n_beats = 96
    y = np.zeros(int((n_beats + 1) * beat * SR))
    t = np.arange(int(0.2 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) * _decay(t.size, 18)
    hat = np.diff(rng.standard_normal(int(0.05 * SR)), prepend=0.0) * _decay(int(0.05 * SR), 60) * 0.3
    for b in range(n_beats):
        a = int(b * beat * SR)
        if not 32 <= b < 64:
            y[a:a + kick.size] += kick
            h = int((b + 0.5) * beat * SR)
            y[h:h + hat.size] += hat
    lo, hi = int(32 * beat * SR), int(64 * beat * SR)
    tp = np.arange(hi - lo) / SR
    y[lo:hi] += 0.08 * sum(np.sin(2 * np.pi * f * tp) for f in (220.0, 261.6, 329.6))
    for at in np.sort(rng.uniform(32.3, 63.5, 14)):  # plucks at random times, off the beat grid
        a = int(at * beat * SR)
        y[a:a + t.size] += 0.5 * np.sin(2 * np.pi * 660.0 * t) * _decay(t.size, 25)
    return (0.4 * y).astype(np.float32), np.arange(n_beats) * beat


def test_grid_runs_on_the_clock_through_a_drumless_breakdown():
    y, truth = _with_breakdown()
    g = track_beats(y, sr=SR)
    assert g.bpm == pytest.approx(128.0, abs=0.1)
    inside = truth[34:62]  # the breakdown's beats
    assert (np.abs(inside[:, None] - g.beats[None, :]).min(axis=1) < 0.035).mean() > 0.95
