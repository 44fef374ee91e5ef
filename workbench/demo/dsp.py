"""Shared DSP helpers of the demo instruments: pitch, envelopes, filters, band-limited saw, filter sweep.

Split out of :mod:`workbench.demo.instruments` (which re-exports every name here).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import signal

Buffer = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


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
