"""One-shot instrument buffers and a few effects, in numpy and ``scipy.signal`` only.

Every function returns a ``float32`` array: mono ``(n,)`` or stereo ``(n, 2)``. A buffer starts at
its onset (sample 0 is where the note or hit begins), so placing it at a beat's sample puts the
audible attack on that beat. Randomness comes only from the ``rng`` a caller passes in.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import signal

Buffer = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

#: Vowel formants (Hz) and their relative gains, for the vocal-like lead.
VOWELS: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = (
    ((800.0, 1150.0, 2900.0), (1.0, 0.5, 0.25)),  # "ah"
    ((450.0, 800.0, 2830.0), (1.0, 0.45, 0.2)),  # "oh"
    ((400.0, 1700.0, 2600.0), (1.0, 0.4, 0.25)),  # "eh"
    ((325.0, 700.0, 2530.0), (1.0, 0.35, 0.15)),  # "oo"
)


def midi_hz(midi: float) -> float:
    """Frequency in Hz of a MIDI note number (A4 = 69 = 440 Hz).

    Parameters
    ----------
    midi : float
        MIDI note number (fractional allowed).

    Returns
    -------
    float
    """
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def _n(seconds: float, sr: int) -> int:
    return max(1, int(round(seconds * sr)))


def _time(n: int, sr: int) -> F64:
    return np.arange(n, dtype=np.float64) / sr


def _fade(y: F64, sr: int, *, fade_s: float = 0.004) -> F64:
    """Short linear fade at the end so a buffer never stops with a click."""
    k = min(y.shape[0], _n(fade_s, sr))
    ramp = np.linspace(1.0, 0.0, k)
    y[-k:] *= ramp if y.ndim == 1 else ramp[:, None]
    return y


def _peak(y: F64, level: float = 1.0) -> F64:
    p = float(np.max(np.abs(y))) if y.size else 0.0
    return y * (level / p) if p > 0 else y


def envelope(n: int, sr: int, *, attack_s: float, release_s: float, decay_s: float | None = None) -> F64:
    """Linear attack, optional exponential decay, linear release over the last ``release_s``.

    Parameters
    ----------
    n : int >= 0
        Length in samples.
    sr : int > 0
        Sample rate in Hz.
    attack_s, release_s : float >= 0
        Linear attack and release, in seconds.
    decay_s : float > 0 or None
        Exponential decay time constant in seconds; None holds the level.

    Returns
    -------
    np.ndarray [shape=(n,)]
        Gain in [0, 1].
    """
    env = np.ones(n)
    a = min(n, _n(attack_s, sr))
    env[:a] = np.linspace(0.0, 1.0, a + 1)[1:]
    if decay_s is not None:
        env *= np.exp(-np.arange(n) / (decay_s * sr))
    r = min(n - 1, _n(release_s, sr)) if n > 1 else 0
    if r > 0:
        env[n - r:] *= np.linspace(1.0, 0.0, r)
    return env


@lru_cache(maxsize=512)
def _butter(order: int, wn: float | tuple[float, float], kind: str, sr: int) -> F64:
    return signal.butter(order, wn, btype=kind, fs=sr, output="sos")


def filt(x: F64, sr: int, kind: str, cutoff_hz: float | tuple[float, float], order: int = 2) -> F64:
    """Butterworth ``lowpass``, ``highpass`` or ``bandpass`` along axis 0 (cutoffs in Hz).

    Parameters
    ----------
    x : np.ndarray [shape=(n,) or (n, channels)]
    sr : int > 0
        Sample rate in Hz.
    kind : {"lowpass", "highpass", "bandpass"}
    cutoff_hz : float or (float, float)
        Cutoff in Hz, or the band's edges for ``"bandpass"``; clamped below Nyquist.
    order : int >= 1
        Butterworth order.

    Returns
    -------
    np.ndarray [shape=x.shape]
    """
    nyq = 0.49 * sr
    if isinstance(cutoff_hz, tuple):
        wn: float | tuple[float, float] = (min(float(cutoff_hz[0]), nyq * 0.9), min(float(cutoff_hz[1]), nyq))
    else:
        wn = min(float(cutoff_hz), nyq)
    return signal.sosfilt(_butter(order, wn, kind, sr), x, axis=0)


def saw(freq_hz: float | F64, n: int, sr: int, *, phase0: float = 0.0) -> F64:
    """Band-limited (polyBLEP) sawtooth in -1..1; ``freq_hz`` is a constant or one value per sample.

    Parameters
    ----------
    freq_hz : float or np.ndarray [shape=(n,)]
        Frequency in Hz.
    n : int >= 0
        Length in samples.
    sr : int > 0
        Sample rate in Hz.
    phase0 : float
        Start phase, in cycles.

    Returns
    -------
    np.ndarray [shape=(n,)]
    """
    if np.ndim(freq_hz) == 0:
        dt: float | F64 = float(freq_hz) / sr
        phase = (phase0 + np.arange(n) * dt) % 1.0
    else:
        dt = np.asarray(freq_hz, dtype=np.float64)[:n] / sr
        phase = (phase0 + np.cumsum(dt) - dt[0]) % 1.0
    y = 2.0 * phase - 1.0
    dts = np.broadcast_to(dt, phase.shape)
    lo = phase < dts
    x = phase[lo] / dts[lo]
    y[lo] -= x + x - x * x - 1.0
    hi = phase > 1.0 - dts
    x = (phase[hi] - 1.0) / dts[hi]
    y[hi] -= x * x + x + x + 1.0
    return y.astype(np.float64, copy=False)


# --------------------------------------------------------------------------------------- drums


def kick(rng: np.random.Generator, sr: int, *, f_start_hz: float, f_end_hz: float, pitch_decay_s: float,
         decay_s: float, click: float, drive: float, length_s: float) -> Buffer:
    """Sine kick: exponential pitch drop to ``f_end_hz``, exponential decay, tanh drive, a noise click.

    Parameters
    ----------
    rng : np.random.Generator
        Draws the noise.
    sr : int > 0
        Sample rate in Hz.
    f_start_hz, f_end_hz : float > 0
        Pitch at the start and the end of the drop, in Hz.
    pitch_decay_s, decay_s : float > 0
        Time constants of the pitch drop and the amplitude, in seconds.
    click : float >= 0
        Gain of the noise click.
    drive : float
        tanh drive.
    length_s : float > 0
        Buffer length in seconds.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``round(length_s * sr)`` samples, peak-normalised to 1.
    """
    n = _n(length_s, sr)
    t = _time(n, sr)
    f = f_end_hz + (f_start_hz - f_end_hz) * np.exp(-t / pitch_decay_s)
    phase = 2.0 * np.pi * (np.cumsum(f) - f[0]) / sr
    body = np.sin(phase + 0.25 * np.pi) * np.exp(-t / decay_s)
    cl = filt(rng.standard_normal(n) * np.exp(-t / 0.0012), sr, "highpass", 1500.0)
    y = filt(np.tanh(drive * body) / np.tanh(drive), sr, "lowpass", 4.0 * f_end_hz) + click * cl
    return _fade(_peak(y), sr, fade_s=0.02).astype(np.float32)


def snare(rng: np.random.Generator, sr: int, *, tone_hz: float, tone_decay_s: float, noise_decay_s: float,
          band_hz: tuple[float, float], tone_mix: float, length_s: float) -> Buffer:
    """Snare: a pitched body (slight drop) plus band-passed noise.

    Parameters
    ----------
    rng : np.random.Generator
        Draws the noise.
    sr : int > 0
        Sample rate in Hz.
    tone_hz : float > 0
        Body pitch in Hz.
    tone_decay_s, noise_decay_s : float > 0
        Decay time constants of body and noise, in seconds.
    band_hz : (float, float)
        The noise's band, in Hz.
    tone_mix : float in [0, 1]
        Share of the body.
    length_s : float > 0
        Buffer length in seconds.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``round(length_s * sr)`` samples, peak-normalised to 1.
    """
    n = _n(length_s, sr)
    t = _time(n, sr)
    f = tone_hz * (1.0 + 0.3 * np.exp(-t / 0.01))
    tone = np.sin(2.0 * np.pi * np.cumsum(f) / sr) * np.exp(-t / tone_decay_s)
    noise = filt(rng.standard_normal(n), sr, "bandpass", band_hz) * np.exp(-t / noise_decay_s)
    y = tone_mix * _peak(tone) + _peak(noise)
    return _fade(_peak(y), sr).astype(np.float32)


def clap(rng: np.random.Generator, sr: int, *, decay_s: float, spread_s: float, band_hz: tuple[float, float],
         length_s: float) -> Buffer:
    """Hand clap: three quick noise bursts then a decaying tail, band-passed; first burst at sample 0.

    Parameters
    ----------
    rng : np.random.Generator
        Draws the noise.
    sr : int > 0
        Sample rate in Hz.
    decay_s : float > 0
        Tail decay time constant, in seconds.
    spread_s : float >= 0
        Gap between the bursts, in seconds.
    band_hz : (float, float)
        Band-pass edges in Hz.
    length_s : float > 0
        Buffer length in seconds.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``round(length_s * sr)`` samples, peak-normalised to 1.
    """
    n = _n(length_s, sr)
    t = _time(n, sr)
    env = np.exp(-t / decay_s)
    for k in range(3):
        start = int(round(k * spread_s * sr))
        env[start:] += np.exp(-(t[: n - start]) / 0.004) * (0.9 - 0.1 * k)
    y = filt(rng.standard_normal(n), sr, "bandpass", band_hz) * env
    return _fade(_peak(y), sr).astype(np.float32)


_METAL_HZ = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)


def hat(rng: np.random.Generator, sr: int, *, decay_s: float, metallic: float, highpass_hz: float,
        length_s: float) -> Buffer:
    """Hi-hat: high-passed noise mixed with six inharmonic square waves (808 style) by ``metallic``.

    Parameters
    ----------
    rng : np.random.Generator
        Draws the noise.
    sr : int > 0
        Sample rate in Hz.
    decay_s : float > 0
        Decay time constant, in seconds.
    metallic : float in [0, 1]
        Share of the square waves.
    highpass_hz : float > 0
        High-pass cutoff in Hz.
    length_s : float > 0
        Buffer length in seconds.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``round(length_s * sr)`` samples, peak-normalised to 1.
    """
    n = _n(length_s, sr)
    t = _time(n, sr)
    src = (1.0 - metallic) * rng.standard_normal(n)
    if metallic > 0:
        scale = rng.uniform(1.6, 2.2)
        phases = rng.uniform(0.0, 1.0, len(_METAL_HZ))
        sq = sum(np.sign(np.sin(2.0 * np.pi * (f * scale * t + p))) for f, p in zip(_METAL_HZ, phases, strict=True))
        src = src + metallic * sq / 3.0
    y = filt(src, sr, "highpass", highpass_hz, order=4) * np.exp(-t / decay_s)
    return _fade(_peak(y), sr).astype(np.float32)


def crash(rng: np.random.Generator, sr: int, *, decay_s: float, length_s: float) -> Buffer:
    """Crash cymbal: bright noise and metal partials with a long decay.

    Parameters
    ----------
    rng : np.random.Generator
        Draws the noise.
    sr : int > 0
        Sample rate in Hz.
    decay_s : float > 0
        Decay time constant, in seconds.
    length_s : float > 0
        Buffer length in seconds.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``round(length_s * sr)`` samples, peak-normalised to 1.
    """
    n = _n(length_s, sr)
    t = _time(n, sr)
    src = rng.standard_normal(n)
    y = filt(src, sr, "highpass", 3500.0, order=2) * (0.7 * np.exp(-t / decay_s) + 0.3 * np.exp(-t / 0.05))
    return _fade(_peak(y), sr, fade_s=0.05).astype(np.float32)


def bell(sr: int, *, freq_hz: float, ratio: float, index: float, decay_s: float, length_s: float) -> Buffer:
    """FM percussion (metallic tick or bell): carrier ``freq_hz``, modulator ``ratio`` times it.

    Parameters
    ----------
    sr : int > 0
        Sample rate in Hz.
    freq_hz : float > 0
        Carrier frequency in Hz.
    ratio : float > 0
        Modulator frequency over carrier frequency.
    index : float >= 0
        Modulation index at the start.
    decay_s : float > 0
        Decay time constant, in seconds.
    length_s : float > 0
        Buffer length in seconds.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``round(length_s * sr)`` samples, peak-normalised to 1.
    """
    n = _n(length_s, sr)
    t = _time(n, sr)
    mod = index * np.exp(-t / (0.4 * decay_s)) * np.sin(2.0 * np.pi * freq_hz * ratio * t)
    y = np.sin(2.0 * np.pi * freq_hz * t + mod) * np.exp(-t / decay_s)
    return _fade(_peak(y), sr).astype(np.float32)


def riser(rng: np.random.Generator, sr: int, n: int, *, f_lo_hz: float, f_hi_hz: float, curve: float) -> Buffer:
    """White-noise riser: a band-pass sweeping up from ``f_lo_hz`` to ``f_hi_hz`` while the gain rises.

    Parameters
    ----------
    rng : np.random.Generator
        Draws the noise.
    sr : int > 0
        Sample rate in Hz.
    n : int >= 1
        Length in samples.
    f_lo_hz, f_hi_hz : float > 0
        Band centre at the start and the end, in Hz.
    curve : float > 0
        Gain rises as ``u ** curve`` over the riser.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        ``n`` samples, peak-normalised to 1.
    """
    noise = rng.standard_normal(n)
    y = sweep(noise, sr, f_lo_hz, f_hi_hz, kind="bandpass", shape=1.3)
    u = np.linspace(0.0, 1.0, n)
    y *= u**curve
    return _fade(_peak(y), sr, fade_s=0.01).astype(np.float32)


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


# -------------------------------------------------------------------------------------- effects


def sweep(x: F64 | Buffer, sr: int, f_from_hz: float, f_to_hz: float, *, kind: str = "lowpass",
          bands: int = 6, shape: float = 1.0) -> F64:
    """Time-varying filter: cross-fade between ``bands`` fixed filters spaced log-evenly in cutoff.

    The cutoff moves from ``f_from_hz`` to ``f_to_hz`` over the length of ``x`` (axis 0) following
    ``u ** shape``; each band filters only the stretch where its weight is non-zero.

    Parameters
    ----------
    x : np.ndarray [shape=(n,) or (n, channels)]
    sr : int > 0
        Sample rate in Hz.
    f_from_hz, f_to_hz : float > 0
        Cutoff (or band centre) at the start and the end, in Hz.
    kind : {"lowpass", "highpass", "bandpass"}
    bands : int >= 2
        Fixed filters cross-faded.
    shape : float > 0
        The cutoff follows ``u ** shape`` with ``u`` from 0 to 1.

    Returns
    -------
    np.ndarray [shape=x.shape, dtype=float64]
    """
    n = x.shape[0]
    freqs = np.geomspace(f_from_hz, f_to_hz, bands)
    pos = np.linspace(0.0, 1.0, n) ** shape * (bands - 1)
    out = np.zeros(x.shape)
    for i, fc in enumerate(freqs):
        start = int(np.searchsorted(pos, i - 1.0, side="right"))
        stop = int(np.searchsorted(pos, i + 1.0, side="left"))
        if stop <= start:
            continue
        w = np.clip(1.0 - np.abs(pos[start:stop] - i), 0.0, 1.0)
        band = (fc / 1.6, min(fc * 1.6, 0.45 * sr)) if kind == "bandpass" else fc
        y = filt(np.asarray(x[start:stop], dtype=np.float64), sr, kind, band)
        out[start:stop] += y * (w if x.ndim == 1 else w[:, None])
    return out
