"""Drum and effect one-shots of the demo: kick, snare, clap, hats, crash, bell, riser.

Split out of :mod:`workbench.demo.instruments` (which re-exports every name here).
"""

from __future__ import annotations

import numpy as np

from workbench.demo.dsp import Buffer, _fade, _n, _peak, _time, filt, sweep

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
