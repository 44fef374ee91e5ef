"""Reference audio with known production settings, to validate :mod:`workbench.style.features`.

Built from the demo synthesizer's instruments (:mod:`workbench.demo.synths`: detuned saw stacks,
filters, sweeps): a kick, hats, a sustained supersaw chord whose detune and stereo width are
set, ducked under the kick by a set depth, and optionally an acid line whose filter sweeps
over a set number of octaves. The truth is what was set, not what was measured.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SR = 44100


def render_reference(*, bpm: float = 138.0, duration_s: float = 16.0, pumping_depth: float = 0.0,
                     detune_cents: float = 20.0, voices: int = 7, width: float = 0.8, four_on_floor: bool = True,
                     offbeat_hats: bool = True, acid_sweep_octaves: float = 0.0, chord: bool = True, seed: int = 0,
                     sr: int = SR) -> tuple[np.ndarray, dict[str, Any]]:
    """One reference clip and the settings it was made with.

    Parameters
    ----------
    bpm : float
        Tempo; the first beat is at 0 s.
    duration_s : float
        Length in seconds.
    pumping_depth : float in [0, 1)
        Sidechain depth: the chord's gain is ``1 - depth`` at each kick and recovers over the beat.
    detune_cents : float >= 0
        Detune of the outermost saw voices.
    voices : int >= 1
        Saws per chord note.
    width : float in [0, 1]
        Stereo spread of the voices.
    four_on_floor : bool
        A kick on every beat (else on beats 1 and 3 of each bar... shifted: a broken pattern).
    offbeat_hats : bool
        Closed hats on the off-beat 8ths (else on the beats).
    acid_sweep_octaves : float >= 0
        0: no acid line; else a 16th-note saw bass whose low-pass cutoff follows a sine whose
        standard deviation is this many octaves.
    chord : bool
        Play the supersaw chord (off: the acid line and drums alone).
    seed : int
        Seed of the chord voicing, phases and hat noise.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    y : np.ndarray [shape=(2, n), dtype=float32]
        Stereo samples, peak 0.9.
    truth : dict
        Every setting above and the beat times.
    """
    from workbench.demo.dsp import filt, saw
    from workbench.demo.synths import saw_stack

    rng = np.random.default_rng(seed)
    n = int(duration_s * sr)
    beat_s = 60.0 / bpm
    beats = np.arange(0.0, duration_s - 1e-9, beat_s)
    root = 57 + int(rng.integers(0, 7))
    chord_on = chord
    chord = saw_stack([root, root + 3, root + 7], n, sr, voices=voices, detune_cents=detune_cents,
                      cutoff_hz=6000.0, attack_s=0.01, release_s=0.05, width=width,
                      phases=rng.uniform(0, 1, 64)).T.astype(np.float64)
    if pumping_depth > 0:
        t_in = np.arange(n) / sr
        phase = t_in - beats[np.clip(np.searchsorted(beats, t_in, side="right") - 1, 0, None)]
        chord *= 1.0 - pumping_depth * np.where(phase < 0.01, 1.0, np.exp(-phase / (0.3 * beat_s)))
    out = 0.35 * chord / np.abs(chord).max() * float(chord_on)
    kick_times = beats if four_on_floor else beats[(np.arange(beats.size) % 4 == 0)
                                                   | (np.arange(beats.size) % 4 == 2) & (rng.uniform(size=beats.size) < 0.5)]
    tk = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * 50 * tk + 2 * np.pi * 120 * 0.03 * (1 - np.exp(-tk / 0.03))) * np.exp(-tk / 0.12)
    hat_times = beats + beat_s / 2 if offbeat_hats else beats
    for times, sound, gain in ((kick_times, kick, 0.8), (hat_times, None, 0.12)):
        for t0 in times:
            a = int(t0 * sr)
            if a >= n:
                continue
            snd = sound if sound is not None else \
                filt(rng.normal(size=int(0.04 * sr)), sr, "highpass", 7000.0) * np.exp(-np.arange(int(0.04 * sr)) / sr / 0.01)
            m = min(n - a, snd.size)
            out[:, a:a + m] += gain * snd[:m]
    if acid_sweep_octaves > 0:
        step_n = int(beat_s / 4 * sr)
        line = np.zeros(n)
        lfo_period = 16 * beat_s
        for a in range(0, n - step_n, step_n):
            f = 440.0 * 2 ** ((root - 24 - 69 + int(rng.choice([0, 0, 12, 3, 7]))) / 12)
            note = saw(f, step_n, sr)
            centre = np.log2(500.0) + acid_sweep_octaves * np.sqrt(2) * np.sin(2 * np.pi * (a / sr) / lfo_period)
            cutoff = float(np.clip(2 ** centre, 60.0, 9000.0))
            line[a:a + step_n] = filt(note, sr, "lowpass", cutoff, order=4) * np.exp(-np.arange(step_n) / sr / 0.15)
        out += 0.3 * line / max(np.abs(line).max(), 1e-9)
    out = out / np.abs(out).max() * 0.9
    truth = {"bpm": bpm, "beats": beats.tolist(), "pumping_depth": pumping_depth, "detune_cents": detune_cents,
             "voices": voices, "width": width, "four_on_floor": four_on_floor, "offbeat_hats": offbeat_hats,
             "acid_sweep_octaves": acid_sweep_octaves, "duration_s": duration_s}
    return out.astype(np.float32), truth
