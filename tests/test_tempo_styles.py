"""The beat tracker on short seeded drum clips in the styles DJs play, and its failure modes.

Each clip is a 16-step pattern per drum rendered with numpy (sine-sweep kick, noise snare and
hats), so the true tempo, felt tempo and beat times are known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.analysis.beats import BeatGrid, track_beats
from workbench.analysis.onsets import magnitude_spectrogram
from workbench.errors import ParameterError

SR = 22050


def _shots(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = np.arange(int(0.15 * SR)) / SR
    kick = np.sin(2 * np.pi * (45 + 90 * np.exp(-t * 35)) * t) * np.exp(-t * 22)
    noise = rng.standard_normal(int(0.12 * SR))
    tn = np.arange(noise.size) / SR
    snare = (0.6 * noise + 0.5 * np.sin(2 * np.pi * 190 * tn)) * np.exp(-tn * 28)
    hat_noise = rng.standard_normal(int(0.04 * SR))
    hat = np.diff(hat_noise, prepend=0.0) * np.exp(-np.arange(hat_noise.size) / SR * 120) * 0.25
    return {"kick": kick, "snare": snare, "hat": hat}


def drums(bpm: float, patterns: dict[str, str], *, duration_s: float = 16.0, swing: float = 0.5,
          lead_in_s: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A drum clip and its beat times: ``patterns`` maps kick/snare/hat to 16-step strings (x hit, o ghost)."""
    rng = np.random.default_rng(seed)
    shots = _shots(rng)
    y = np.zeros(int((duration_s + lead_in_s) * SR) + SR)
    step_s = 60.0 / bpm / 4
    n_steps = int(duration_s / step_s)
    for role, pattern in patterns.items():
        for i in range(n_steps):
            if pattern[i % 16] not in "xo":
                continue
            t = lead_in_s + i * step_s + (2 * swing - 1) * step_s * (i % 2)  # swung off-sixteenths
            a = int(t * SR)
            seg = y[a:a + shots[role].size]
            level = 1.0 if pattern[i % 16] == "x" else 0.4
            seg += shots[role][:seg.size] * level * (0.9 + 0.1 * rng.random())
    beats = lead_in_s + np.arange(0, n_steps, 4) * step_s
    return (y[: int((duration_s + lead_in_s) * SR)] * 0.5).astype(np.float32), beats


def _close(est: np.ndarray, truth: np.ndarray) -> float:
    """Share of true beats with an estimated beat within 70 ms."""
    return float((np.abs(truth[:, None] - est[None, :]).min(axis=1) < 0.07).mean())


HATS8 = "x.x.x.x.x.x.x.x."
HATS16 = "xxxxxxxxxxxxxxxx"


def test_drum_and_bass_at_its_dj_tempo_with_a_grid():
    y, beats = drums(174.0, {"kick": "x.........x.....", "snare": "....x.......x...", "hat": HATS8})
    g = track_beats(y, sr=SR)
    assert g.has_beat and 170 <= g.bpm <= 178
    assert g.felt_bpm is None
    assert _close(g.beats, beats[4:-2]) > 0.9


def test_dubstep_counted_at_140_felt_at_70():
    y, beats = drums(140.0, {"kick": "x...............", "snare": "........x.......", "hat": HATS8})
    g = track_beats(y, sr=SR)
    assert g.bpm == pytest.approx(140.0, rel=0.02)
    assert g.felt_bpm == pytest.approx(70.0, rel=0.02)
    assert _close(g.beats, beats[4:-2]) > 0.9


def test_trap_counted_at_140_felt_at_70():
    y, _ = drums(144.0, {"kick": "x......x..x.....", "snare": "........x.......", "hat": HATS16})
    g = track_beats(y, sr=SR)
    assert g.bpm == pytest.approx(144.0, rel=0.02)
    assert g.felt_bpm == pytest.approx(72.0, rel=0.02)


def test_hip_hop_at_its_own_tempo():
    y, beats = drums(86.0, {"kick": "x......x..x.....", "snare": "....x.......x...", "hat": HATS8})
    g = track_beats(y, sr=SR)
    assert g.bpm == pytest.approx(86.0, rel=0.02)
    assert g.felt_bpm is None
    assert _close(g.beats, beats[2:-1]) > 0.9


def test_hardstyle_four_on_the_floor_not_halved():
    y, _ = drums(150.0, {"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": "..x...x...x...x."})
    g = track_beats(y, sr=SR)
    assert g.bpm == pytest.approx(150.0, rel=0.02)
    assert g.felt_bpm is None


def test_uk_garage_swung_two_step_not_read_at_two_thirds():
    y, _ = drums(132.0, {"kick": "x.........x.....", "snare": "....x.......x...", "hat": "xxxxxxxxxxxxxxxx"},
                 swing=0.62)
    g = track_beats(y, sr=SR)
    assert g.bpm == pytest.approx(132.0, rel=0.02)


def test_afro_house_percussion_keeps_the_grid_on_the_beat():
    # four-on-the-floor, shaker accented on the beat, syncopated percussion in the snare band
    y, beats = drums(122.0, {"kick": "x...x...x...x...", "hat": "xoooxoooxoooxooo", "snare": "..x..x...x.x..x."})
    g = track_beats(y, sr=SR)
    assert g.bpm == pytest.approx(122.0, rel=0.02)
    assert _close(g.beats, beats[2:-2]) > 0.9


def test_silent_lead_in_still_gets_a_grid():
    y, beats = drums(126.0, {"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": "..x...x...x...x."},
                     lead_in_s=5.0)
    g = track_beats(y, sr=SR)
    assert g.has_beat and g.bpm == pytest.approx(126.0, rel=0.02)
    assert g.beats[0] > 4.5  # no grid over the silence
    assert _close(g.beats, beats[2:-2]) > 0.9


def test_pad_without_drums_gets_no_grid():
    t = np.arange(12 * SR) / SR
    pad = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.1
    pad *= np.minimum(1.0, t / 2.0)  # slow swell, nothing struck
    g = track_beats(pad.astype(np.float32), sr=SR)
    assert not g.has_beat and g.bpm is None and g.beats.size == 0 and g.confidence == 0.0


def _rubato(seed: int) -> np.ndarray:
    """Kick and snare whose beat period wanders +-25 % around 0.5 s over half a minute, like a conductor's rubato."""
    rng = np.random.default_rng(seed)
    shots = _shots(rng)
    periods = 0.5 * np.exp(0.25 * np.sin(np.cumsum(rng.uniform(0.05, 0.15, 80))))
    times = np.cumsum(periods)
    y = np.zeros(int((times[-1] + 1) * SR))
    for i, t in enumerate(times):
        shot = shots["kick"] if i % 2 == 0 else shots["snare"]
        a = int(t * SR)
        y[a:a + shot.size] += shot[: y.size - a]
    return (0.5 * y).astype(np.float32)


def test_stability_separates_rubato_from_a_drum_machine():
    steady, _ = drums(120.0, {"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": HATS8},
                      duration_s=30.0)
    machine = track_beats(steady, sr=SR)
    loose = track_beats(_rubato(3), sr=SR)
    assert machine.tempo_stability > 0.9
    assert loose.tempo_stability < 0.5
    assert 0.0 <= loose.tempo_stability <= 1.0 and 0.0 <= machine.confidence <= 1.0


def test_a_shared_spectrogram_gives_the_same_grid():
    y, _ = drums(128.0, {"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": HATS8}, duration_s=12.0)
    a = track_beats(y, sr=SR)
    b = track_beats(y, sr=SR, spec=magnitude_spectrogram(y))
    assert isinstance(b, BeatGrid) and a.bpm == b.bpm and np.array_equal(a.beats, b.beats)


def test_a_spectrogram_of_other_audio_is_refused():
    y, _ = drums(128.0, {"kick": "x...x...x...x...", "hat": HATS8}, duration_s=8.0)
    with pytest.raises(ParameterError, match="spec must be"):
        track_beats(y, sr=SR, spec=np.ones((513, 10)))
    with pytest.raises(ParameterError, match="bpm_prior must be"):
        track_beats(y, sr=SR, bpm_prior="fast")
