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
                     offbeat_hats: bool = True, acid_sweep_octaves: float = 0.0, acid_q: float = 0.7071,
                     acid_glide: float = 0.0, acid_accent: float = 0.0, chord: bool = True, drums: bool = True, seed: int = 0,
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
        standard deviation is this many octaves (< 0: an acid line with a fixed cutoff).
    acid_q : float >= 0.5
        Q of the acid line's resonant low-pass (RBJ biquad, cascaded with a Butterworth pair; 0.707:
        no resonance). The truth ``acid_resonance_db`` is the filter's peak gain over its pass band.
    acid_glide : float in [0, 1]
        Chance that a note change slides (60 ms portamento, envelope not retriggered, as a 303 slide).
        The truth ``acid_glide`` is the share of note changes that slide.
    acid_accent : float in [0, 1]
        Chance that a 16th step is accented (+6 dB, cutoff one octave up). Truth: ``acid_accent_share``.
    chord : bool
        Play the supersaw chord (off: the acid line and drums alone).
    drums : bool
        Play the kick and hats.
    seed : int
        Seed of the chord voicing, phases and hat noise.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    y : np.ndarray [shape=(2, n), dtype=float32]
        Stereo samples, peak 0.9.
    truth : dict
        Every setting above and the beat times; with the chord, also ``stereo_width`` and
        ``phase_correlation`` of the supersaw stem alone (500 Hz-8 kHz), before drums are mixed in.
    """
    from workbench.demo.dsp import filt
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
    stem_truth = _stereo_truth(chord, sr) if chord_on else {}
    kick_times = beats if four_on_floor else beats[(np.arange(beats.size) % 4 == 0)
                                                   | (np.arange(beats.size) % 4 == 2) & (rng.uniform(size=beats.size) < 0.5)]
    tk = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * 50 * tk + 2 * np.pi * 120 * 0.03 * (1 - np.exp(-tk / 0.03))) * np.exp(-tk / 0.12)
    hat_times = beats + beat_s / 2 if offbeat_hats else beats
    for times, sound, gain in ((kick_times, kick, 0.8 * drums), (hat_times, None, 0.12 * drums)):
        for t0 in times:
            a = int(t0 * sr)
            if a >= n:
                continue
            snd = sound if sound is not None else \
                filt(rng.normal(size=int(0.04 * sr)), sr, "highpass", 7000.0) * np.exp(-np.arange(int(0.04 * sr)) / sr / 0.01)
            m = min(n - a, snd.size)
            out[:, a:a + m] += gain * snd[:m]
    acid_truth: dict[str, float] = {}
    if acid_sweep_octaves != 0:
        line, acid_truth = acid_line(n, sr, step_s=beat_s / 4, root_midi=root - 24, sweep_octaves=max(acid_sweep_octaves, 0.0),
                                     q=acid_q, glide=acid_glide, accent=acid_accent, rng=rng)
        out += 0.3 * line / max(np.abs(line).max(), 1e-9)
    out = out / np.abs(out).max() * 0.9
    truth = {"bpm": bpm, "beats": beats.tolist(), "pumping_depth": pumping_depth, "detune_cents": detune_cents,
             "voices": voices, "width": width, "four_on_floor": four_on_floor, "offbeat_hats": offbeat_hats,
             "acid_sweep_octaves": max(acid_sweep_octaves, 0.0), "duration_s": duration_s, **acid_truth, **stem_truth}
    return out.astype(np.float32), truth


def _stereo_truth(chord: np.ndarray, sr: int) -> dict[str, float]:
    """The supersaw stem's own side/mid ratio and left/right correlation, before drums and the mix."""
    from workbench import audio
    from workbench.style.features import SR as FEATURES_SR
    from workbench.style.features import stereo

    left, right = (audio.resample(ch, orig_sr=sr, target_sr=FEATURES_SR) for ch in chord)
    width, corr = stereo(left, right)
    return {"stereo_width": float(width or 0.0), "phase_correlation": float(1.0 if corr is None else corr)}


def _lowpass_sos(cutoff_hz: float, q: float, sr: int) -> np.ndarray:
    """Second-order sections of the acid filter: an RBJ resonant low-pass then a Butterworth one."""
    return np.stack([_rbj_lowpass(cutoff_hz, q, sr), _rbj_lowpass(cutoff_hz, 0.7071, sr)])


def _rbj_lowpass(cutoff_hz: float, q: float, sr: int) -> np.ndarray:
    """One RBJ-cookbook low-pass biquad as a second-order section ``[b0 b1 b2 1 a1 a2]``."""
    w0 = 2 * np.pi * cutoff_hz / sr
    cw, alpha = np.cos(w0), np.sin(w0) / (2 * q)
    b = np.array([(1 - cw) / 2, 1 - cw, (1 - cw) / 2])
    a = np.array([1 + alpha, -2 * cw, 1 - alpha])
    return np.concatenate([b / a[0], a / a[0]])


def resonance_db(q: float, *, sr: int = SR, cutoff_hz: float = 500.0) -> float:
    """Peak gain (dB) of the acid filter over its gain at 0 Hz, for a resonance ``q``.

    Parameters
    ----------
    q : float
        The resonant stage's Q.
    sr : int
        Sample rate in Hz.
    cutoff_hz : float
        Cutoff (the peak height barely depends on it well below Nyquist).

    Returns
    -------
    float
    """
    from scipy import signal

    _, h = signal.sosfreqz(_lowpass_sos(cutoff_hz, q, sr), worN=8192, fs=sr)
    return float(20 * np.log10(np.abs(h).max() / np.abs(h[0])))


def acid_line(n: int, sr: int, *, step_s: float, root_midi: int, sweep_octaves: float, q: float, glide: float,
              accent: float, rng: np.random.Generator, glide_s: float = 0.06) -> tuple[np.ndarray, dict[str, float]]:
    """A 303-style bass line: 16th notes of a phase-continuous saw through a swept resonant low-pass.

    Parameters
    ----------
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.
    step_s : float
        Seconds per 16th step (the first starts at 0).
    root_midi : int
        The line's root note (MIDI); steps play root, its octave, minor third or fifth.
    sweep_octaves : float >= 0
        Standard deviation (octaves) of the cutoff's sine sweep around 500 Hz (period 64 steps).
    q : float
        Resonance of the filter (see :func:`resonance_db`).
    glide : float in [0, 1]
        Chance that a note change slides over ``glide_s`` without retriggering the envelope.
    accent : float in [0, 1]
        Chance that a step is accented: +6 dB and the cutoff an octave up.
    rng : np.random.Generator
        Notes, slides and accents.
    glide_s : float
        Slide time in seconds.

    Returns
    -------
    y : np.ndarray [shape=(n,)]
    truth : dict
        ``acid_resonance_db``, ``acid_glide`` (share of note changes that slide) and
        ``acid_accent_share`` (share of accented steps), as rendered.
    """
    from scipy import signal

    from workbench.demo.dsp import saw

    step_n = int(step_s * sr)
    steps = max(n // step_n, 1)
    notes = root_midi + rng.choice([0, 0, 12, 3, 7], steps)
    changes = np.flatnonzero(np.diff(notes) != 0) + 1
    slides = np.zeros(steps, dtype=bool)
    slides[changes] = rng.uniform(size=changes.size) < glide
    accents = rng.uniform(size=steps) < accent
    midi = np.repeat(notes.astype(np.float64), step_n)
    glide_n = min(int(glide_s * sr), step_n)
    for i in np.flatnonzero(slides):
        midi[i * step_n:i * step_n + glide_n] = np.linspace(notes[i - 1], notes[i], glide_n)
    midi = np.concatenate([midi, np.full(max(n - midi.size, 0), notes[-1])])[:n]
    y = saw(440.0 * 2 ** ((midi - 69) / 12), n, sr)
    out = np.zeros(n)
    zi = np.zeros((2, 2))
    t = np.arange(step_n) / sr
    env_start = 0.0
    for i in range(steps):
        a = i * step_n
        if not slides[i]:
            env_start = 0.0
        centre = np.log2(500.0) + sweep_octaves * np.sqrt(2) * np.sin(2 * np.pi * (a / sr) / (64 * step_s))
        cutoff = float(np.clip(2 ** (centre + float(accents[i])), 60.0, 0.4 * sr))
        seg, zi = signal.sosfilt(_lowpass_sos(cutoff, q, sr), y[a:a + step_n], zi=zi)
        env = 0.4 + 0.6 * np.exp(-(env_start + t[:seg.size]) / 0.15)  # decays to a sustain, held through slides
        out[a:a + seg.size] = (2.0 if accents[i] else 1.0) * env * seg
        env_start += step_s
    truth = {"acid_resonance_db": resonance_db(q, sr=sr), "acid_q": float(q),
             "acid_glide": float(slides[changes].mean()) if changes.size else 0.0,
             "acid_accent_share": float(accents.mean())}
    return out, truth
