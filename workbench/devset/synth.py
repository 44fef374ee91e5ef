"""The numpy fallback renderer, for machines without FluidSynth or a GM soundfont.

Its timbres are chosen to differ from the demo synthesizer's (:mod:`workbench.demo`): two-operator
FM for bass, lead and kicks, Karplus-Strong plucked strings for chords, 808-style metallic
square-wave clusters for hats and cymbals, and modal (inharmonic sine) membranes for snares,
congas, bongos and toms.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import signal

from workbench.devset.compose import Note, is_drum
from workbench.devset.styles import DevStyle

PANS: dict[str, float] = {"hat": 0.3, "ohat": 0.3, "ride": -0.3, "crash": -0.1, "shaker": 0.45,
                          "conga_hi": -0.4, "conga_lo": -0.2, "bongo": 0.4, "cowbell": 0.25, "clave": -0.35,
                          "tom": -0.25, "chords": -0.2, "lead": 0.25}
GAINS: dict[str, float] = {"kick": 1.0, "snare": 0.55, "clap": 0.45, "hat": 0.16, "ohat": 0.16, "ride": 0.12,
                           "crash": 0.14, "rim": 0.3, "shaker": 0.1, "conga_hi": 0.35, "conga_lo": 0.4, "bongo": 0.3,
                           "cowbell": 0.16, "clave": 0.2, "tom": 0.35, "bass": 0.5, "chords": 0.2, "lead": 0.14}


def _hz(midi: float, tuning_hz: float) -> float:
    return tuning_hz * 2.0 ** ((midi - 69.0) / 12.0)


def _env(n: int, sr: int, decay_s: float, attack_s: float = 0.001) -> np.ndarray:
    t = np.arange(n) / sr
    return np.minimum(1.0, t / attack_s) * np.exp(-t / decay_s)


def _noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, n)


@lru_cache(maxsize=64)
def _drum(role: str, sr: int, hard: bool) -> np.ndarray:
    """One drum hit; deterministic (its noise is seeded by the role)."""
    seed = sum(map(ord, role))
    if role == "kick":
        n = int(0.45 * sr)
        t = np.arange(n) / sr
        f = 48 + 140 * np.exp(-t / 0.035)
        phase = 2 * np.pi * np.cumsum(f) / sr
        y = np.sin(phase + 1.8 * np.exp(-t / 0.01) * np.sin(1.5 * phase)) * _env(n, sr, 0.22)
        return np.tanh(4.0 * y) / np.tanh(4.0) if hard else y
    if role in ("hat", "ohat", "ride", "cowbell", "crash"):
        freqs = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0) if role != "cowbell" else (540.0, 800.0)
        n = int({"ohat": 0.35, "ride": 0.35, "crash": 1.2, "cowbell": 0.2}.get(role, 0.08) * sr)
        t = np.arange(n) / sr
        y = np.sum([signal.square(2 * np.pi * f * t) for f in freqs], axis=0)
        band = (6000, 14000) if role != "cowbell" else (500, 2500)
        y = signal.sosfilt(signal.butter(4, band, "bandpass", fs=sr, output="sos"), y)
        if role == "crash":
            y = y + 2.0 * signal.sosfilt(signal.butter(2, 4000, "highpass", fs=sr, output="sos"), _noise(n, seed))
        return y * _env(n, sr, {"ohat": 0.09, "ride": 0.09, "crash": 0.45, "cowbell": 0.06}.get(role, 0.02))
    if role in ("snare", "clap", "rim"):
        n = int(0.25 * sr)
        t = np.arange(n) / sr
        modes = sum(a * np.sin(2 * np.pi * f * t) * np.exp(-t / d) for f, a, d in
                    ((185.0, 1.0, 0.05), (330.0, 0.6, 0.04), (487.0, 0.3, 0.03)))
        noise = signal.sosfilt(signal.butter(2, (1500, 9000), "bandpass", fs=sr, output="sos"), _noise(n, seed))
        if role == "clap":
            env = sum(_env(n, sr, 0.008) * (np.arange(n) >= int(k * 0.011 * sr)) for k in range(3)) + _env(n, sr, 0.06)
            return noise * env
        if role == "rim":
            return np.sin(2 * np.pi * 1700 * t) * _env(n, sr, 0.012) + 0.3 * noise * _env(n, sr, 0.005)
        return 0.7 * modes + 0.8 * noise * _env(n, sr, 0.07)
    if role == "shaker":
        n = int(0.07 * sr)
        return signal.sosfilt(signal.butter(2, 5000, "highpass", fs=sr, output="sos"), _noise(n, seed)) \
            * np.sin(np.pi * np.arange(n) / n) ** 2
    if role == "clave":
        n = int(0.08 * sr)
        return np.sin(2 * np.pi * 2500 * np.arange(n) / sr) * _env(n, sr, 0.015)
    base = {"conga_hi": 330.0, "conga_lo": 220.0, "bongo": 440.0, "tom": 130.0}[role]
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    bend = 1 + 0.12 * np.exp(-t / 0.02)
    return np.sum([a * np.sin(2 * np.pi * base * r * np.cumsum(bend) / sr) * np.exp(-t / (0.16 / r))
                   for r, a in ((1.0, 1.0), (1.59, 0.45), (2.14, 0.25), (2.3, 0.15))], axis=0)


def _fm(f: float, n: int, sr: int, *, ratio: float, index: float, decay_s: float) -> np.ndarray:
    t = np.arange(n) / sr
    mod = index * np.exp(-t / decay_s) * np.sin(2 * np.pi * f * ratio * t)
    return np.sin(2 * np.pi * f * t + mod)


def _pluck(f: float, n: int, sr: int, seed: int) -> np.ndarray:
    """Karplus-Strong string: a noise burst through a damped comb filter."""
    period = max(2, int(round(sr / f)))
    x = np.zeros(n)
    burst = _noise(period, seed)
    x[:period] = burst - burst.mean()
    a = np.zeros(period + 2)
    a[0], a[period], a[period + 1] = 1.0, -0.497, -0.497
    return signal.lfilter([1.0], a, x)


def _pitched(note: Note, sr: int, tuning_hz: float, style: DevStyle) -> np.ndarray:
    f = _hz(note.pitch, tuning_hz)
    n = max(16, int((note.dur_s + 0.08) * sr))
    t = np.arange(n) / sr
    release = np.clip((note.dur_s + 0.08 - t) / 0.08, 0.0, 1.0)
    if note.role == "bass":
        wobble = style.felt < 1
        y = _fm(f, n, sr, ratio=1.0 if not wobble else 2.0, index=2.5 if wobble else 1.2, decay_s=note.dur_s)
        y = y + 0.6 * np.sin(2 * np.pi * f * t)
        return y * np.minimum(1.0, t / 0.004) * release
    if note.role == "chords":
        return _pluck(f, n, sr, note.pitch) * release
    return _fm(f, n, sr, ratio=3.5, index=3.0, decay_s=0.15) * _env(n, sr, 0.35, 0.003) * release


def render_numpy(notes: Sequence[Note], style: DevStyle, *, sr: int, n_samples: int, tuning_hz: float) -> np.ndarray:
    """Render ``notes`` with the numpy instruments; float32 ``(n_samples, 2)``, unnormalised.

    Parameters
    ----------
    notes : sequence of Note
    style : DevStyle
    sr : int > 0
        Sample rate in Hz.
    n_samples : int >= 0
        Output length; notes past it are cut.
    tuning_hz : float > 0
        Concert A, in Hz.

    Returns
    -------
    np.ndarray [shape=(n_samples, 2), dtype=float32]
    """
    out = np.zeros((n_samples, 2))
    hard = style.name == "hardstyle"
    for note in notes:
        start = int(round(note.time_s * sr))
        if start >= n_samples:
            continue
        buf = _drum(note.role, sr, hard) if is_drum(note.role) else _pitched(note, sr, tuning_hz, style)
        buf = buf[: n_samples - start] * GAINS[note.role] * (note.velocity / 127.0)
        pan = PANS.get(note.role, 0.0)
        out[start:start + buf.shape[0], 0] += buf * np.sqrt(0.5 * (1 - pan))
        out[start:start + buf.shape[0], 1] += buf * np.sqrt(0.5 * (1 + pan))
    return out.astype(np.float32)
