"""Pitched demo instruments: bass, additive and FM keys, supersaw stack, vocal-like and saw leads.

Split out of :mod:`workbench.demo.instruments` (which re-exports every name here).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import signal

from workbench.demo.dsp import F64, Buffer, _peak, _time, envelope, filt, midi_hz, saw

#: Vowel formants (Hz) and their relative gains, for the vocal-like lead.
VOWELS: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = (
    ((800.0, 1150.0, 2900.0), (1.0, 0.5, 0.25)),  # "ah"
    ((450.0, 800.0, 2830.0), (1.0, 0.45, 0.2)),  # "oh"
    ((400.0, 1700.0, 2600.0), (1.0, 0.4, 0.25)),  # "eh"
    ((325.0, 700.0, 2530.0), (1.0, 0.35, 0.15)),  # "oo"
)


# ------------------------------------------------------------------------------------- pitched


def synth_bass(freq_hz: float, n: int, sr: int, *, saw_mix: float, cutoff_hz: float, sub: float,
               decay_s: float | None, attack_s: float, release_s: float, drive: float,
               detune_cents: float = 0.0, phase0: float = 0.0, order: int = 2, octave: float = 0.0) -> Buffer:
    """Bass note: sine sub plus (optionally detuned) saws, driven (tanh) and then low-passed.

    Driving before the filter keeps the distortion's upper harmonics (the root's major third
    among them) out of a bass that should only carry its root. ``octave`` adds the second
    harmonic (the root an octave up) to a sine bass.

    Parameters
    ----------
    freq_hz : float > 0
        Fundamental in Hz.
    n : int >= 0
        Length in samples.
    sr : int > 0
        Sample rate in Hz.
    saw_mix : float >= 0
        Gain of the saws.
    cutoff_hz : float > 0
        Low-pass cutoff in Hz.
    sub : float >= 0
        Gain of the sine sub.
    decay_s : float > 0 or None
        Decay time constant in seconds; None holds the note.
    attack_s, release_s : float >= 0
        Linear attack and release, in seconds.
    drive : float
        tanh drive; <= 1 means none.
    detune_cents : float >= 0
        Detune of the two saws, in cents; 0 uses one saw.
    phase0 : float
        Saw start phase, in cycles.
    order : int >= 1
        Low-pass order.
    octave : float >= 0
        Gain of the second harmonic.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``n`` samples, peak-normalised to 1.
    """
    t = _time(n, sr)
    y = sub * np.sin(2.0 * np.pi * freq_hz * t) + octave * np.sin(4.0 * np.pi * freq_hz * t)
    if saw_mix > 0:
        if detune_cents > 0:
            ratio = 2.0 ** (detune_cents / 1200.0)
            raw = saw(freq_hz * ratio, n, sr, phase0=phase0) + saw(freq_hz / ratio, n, sr, phase0=phase0 + 0.37)
            raw *= 0.5
        else:
            raw = saw(freq_hz, n, sr, phase0=phase0)
        y = y + saw_mix * raw
    if drive > 1.0:
        y = np.tanh(drive * y) / np.tanh(drive)
    y = filt(y, sr, "lowpass", cutoff_hz, order=order)
    y = y * envelope(n, sr, attack_s=attack_s, release_s=release_s, decay_s=decay_s)
    return _peak(y).astype(np.float32)


def additive(freq_hz: float, n: int, sr: int, *, amps: Sequence[float], ratios: Sequence[float] | None = None,
             decay_s: float, tilt: float, attack_s: float, release_s: float) -> Buffer:
    """Sum of partials (piano, organ, pluck): partial ``k`` decays ``1 + tilt * k`` times faster.

    Parameters
    ----------
    freq_hz : float > 0
        Fundamental in Hz.
    n : int >= 0
        Length in samples.
    sr : int > 0
        Sample rate in Hz.
    amps : sequence of float
        Partial gains.
    ratios : sequence of float or None
        Partial frequencies over ``freq_hz`` (same length as ``amps``); None means 1, 2, 3, ...
    decay_s : float > 0
        Decay time constant of the first partial, in seconds.
    tilt : float >= 0
        How much faster higher partials decay.
    attack_s, release_s : float >= 0
        Linear attack and release, in seconds.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``n`` samples, peak-normalised to 1.
    """
    t = _time(n, sr)
    y = np.zeros(n)
    ratios = ratios if ratios is not None else [k + 1.0 for k in range(len(amps))]
    for k, (a, r) in enumerate(zip(amps, ratios, strict=True)):
        f = freq_hz * r
        if f >= 0.45 * sr or a == 0:
            continue
        y += a * np.sin(2.0 * np.pi * f * t) * np.exp(-t * (1.0 + tilt * k) / decay_s)
    y *= envelope(n, sr, attack_s=attack_s, release_s=release_s)
    return _peak(y).astype(np.float32)


def epiano(freq_hz: float, n: int, sr: int, *, index: float, decay_s: float, release_s: float) -> Buffer:
    """Electric-piano-like FM note: a 1:1 modulator whose index decays faster than the note.

    Parameters
    ----------
    freq_hz : float > 0
        Fundamental in Hz.
    n : int >= 0
        Length in samples.
    sr : int > 0
        Sample rate in Hz.
    index : float >= 0
        Modulation index at the start.
    decay_s : float > 0
        Decay time constant, in seconds.
    release_s : float >= 0
        Linear release, in seconds.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``n`` samples, peak-normalised to 1.
    """
    t = _time(n, sr)
    mod = index * np.exp(-t / (0.3 * decay_s)) * np.sin(2.0 * np.pi * freq_hz * t)
    y = np.sin(2.0 * np.pi * freq_hz * t + mod) * np.exp(-t / decay_s)
    y *= envelope(n, sr, attack_s=0.002, release_s=release_s)
    return _peak(y).astype(np.float32)


def saw_stack(pitches: Sequence[float], n: int, sr: int, *, voices: int, detune_cents: float, cutoff_hz: float,
              attack_s: float, release_s: float, width: float, phases: F64, decay_s: float | None = None,
              highpass_hz: float = 140.0) -> Buffer:
    """Stereo stack of detuned saws per pitch (supersaw with 7 voices, pads with 3), low-passed.

    Voice ``v`` of ``voices`` is detuned by up to ``detune_cents`` and panned by ``width`` so the
    outer voices spread left and right; ``phases`` gives one start phase per (pitch, voice).

    Parameters
    ----------
    pitches : sequence of float
        MIDI notes.
    n : int >= 0
        Length in samples.
    sr : int > 0
        Sample rate in Hz.
    voices : int >= 1
        Saws per pitch.
    detune_cents : float >= 0
        Detune of the outermost voices, in cents.
    cutoff_hz : float > 0
        Low-pass cutoff in Hz.
    attack_s, release_s : float >= 0
        Linear attack and release, in seconds.
    width : float in [0, 1]
        Stereo spread of the voices.
    phases : np.ndarray [shape=(k,)]
        Start phases in cycles, cycled over (pitch, voice).
    decay_s : float > 0 or None
        Decay time constant in seconds; None holds the chord.
    highpass_hz : float >= 0
        High-pass cutoff in Hz; 0 means none.

    Returns
    -------
    np.ndarray [shape=(n, 2), dtype=float32]
        Peak-normalised to 1.
    """
    spread = np.linspace(-1.0, 1.0, voices) if voices > 1 else np.zeros(1)
    out = np.zeros((n, 2))
    for i, p in enumerate(pitches):
        f0 = midi_hz(p)
        for v, s in enumerate(spread):
            y = saw(f0 * 2.0 ** (s * detune_cents / 1200.0), n, sr, phase0=float(phases[(i * voices + v) % phases.size]))
            pan = s * width
            out[:, 0] += y * np.cos((pan + 1.0) * np.pi / 4.0)
            out[:, 1] += y * np.sin((pan + 1.0) * np.pi / 4.0)
    out = filt(out, sr, "lowpass", cutoff_hz)
    if highpass_hz > 0:
        out = filt(out, sr, "highpass", highpass_hz)
    out *= envelope(n, sr, attack_s=attack_s, release_s=release_s, decay_s=decay_s)[:, None]
    return _peak(out).astype(np.float32)


def vocal(freq_hz: float, n: int, sr: int, *, vowel: int, vibrato_hz: float, vibrato_cents: float,
          attack_s: float, release_s: float, breath: float, rng: np.random.Generator) -> Buffer:
    """Vocal-like note: a saw with delayed vibrato through three vowel formant resonators.

    Parameters
    ----------
    freq_hz : float > 0
        Fundamental in Hz.
    n : int >= 0
        Length in samples.
    sr : int > 0
        Sample rate in Hz.
    vowel : int
        Index into ``VOWELS`` (taken modulo its length).
    vibrato_hz : float > 0
        Vibrato rate in Hz.
    vibrato_cents : float >= 0
        Vibrato depth in cents, reached over about 0.2 s.
    attack_s, release_s : float >= 0
        Linear attack and release, in seconds.
    breath : float >= 0
        Gain of the noise.
    rng : np.random.Generator
        Draws the breath noise.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``n`` samples, peak-normalised to 1.
    """
    t = _time(n, sr)
    depth = vibrato_cents * (1.0 - np.exp(-t / 0.18))
    f = freq_hz * 2.0 ** (depth * np.sin(2.0 * np.pi * vibrato_hz * t) / 1200.0)
    src = saw(f, n, sr) + breath * rng.standard_normal(n)
    formants, gains = VOWELS[vowel % len(VOWELS)]
    y = np.zeros(n)
    for fc, g in zip(formants, gains, strict=True):
        b, a = signal.iirpeak(fc, Q=fc / 90.0 if fc < 1000 else fc / 140.0, fs=sr)
        y += g * signal.lfilter(b, a, src)
    y += 0.15 * np.sin(2.0 * np.pi * np.cumsum(f) / sr)  # a little fundamental keeps the pitch clear
    y *= envelope(n, sr, attack_s=attack_s, release_s=release_s)
    return _peak(y).astype(np.float32)


def lead(freq_hz: float, n: int, sr: int, *, cutoff_hz: float, detune_cents: float, vibrato_hz: float,
         vibrato_cents: float, attack_s: float, release_s: float, decay_s: float | None) -> Buffer:
    """Saw lead: two slightly detuned saws with vibrato, low-passed.

    Parameters
    ----------
    freq_hz : float > 0
        Fundamental in Hz.
    n : int >= 0
        Length in samples.
    sr : int > 0
        Sample rate in Hz.
    cutoff_hz : float > 0
        Low-pass cutoff in Hz.
    detune_cents : float >= 0
        Detune of the two saws, in cents.
    vibrato_hz : float > 0
        Vibrato rate in Hz.
    vibrato_cents : float >= 0
        Vibrato depth in cents.
    attack_s, release_s : float >= 0
        Linear attack and release, in seconds.
    decay_s : float > 0 or None
        Decay time constant in seconds; None holds the note.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``n`` samples, peak-normalised to 1.
    """
    t = _time(n, sr)
    depth = vibrato_cents * (1.0 - np.exp(-t / 0.25))
    f = freq_hz * 2.0 ** (depth * np.sin(2.0 * np.pi * vibrato_hz * t) / 1200.0)
    r = 2.0 ** (detune_cents / 1200.0)
    y = saw(f * r, n, sr) + saw(f / r, n, sr, phase0=0.5)
    y = filt(y, sr, "lowpass", cutoff_hz)
    y *= envelope(n, sr, attack_s=attack_s, release_s=release_s, decay_s=decay_s)
    return _peak(y).astype(np.float32)
