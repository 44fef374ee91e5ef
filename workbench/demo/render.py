"""Mixing: note events -> one stem per layer (one-shot buffers added in place) -> stereo master."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from workbench.demo.arrange import Grid, Section
from workbench.demo.instruments import sweep

Buffer = npt.NDArray[np.float32]

PEAK_DBFS = -1.0


@dataclass
class Layer:
    """One instrument track of the mix.

    ``make(key)`` builds the one-shot buffer of an event key (cached per key); ``events`` are
    ``(sample, key, gain)``. ``duck`` is the sidechain depth under the kick (0..1), ``delay`` the
    send to an eighth-note ping-pong delay, ``sweep`` opens a low-pass across build sections.
    """

    name: str
    make: Callable[[Any], Buffer]
    gain: float = 1.0
    pan: float = 0.0
    duck: float = 0.0
    delay: float = 0.0
    sweep: bool = False
    events: list[tuple[int, Hashable, float]] = field(default_factory=list)
    _cache: dict[Hashable, Buffer] = field(default_factory=dict, repr=False)

    def buffer(self, key: Hashable) -> Buffer:
        """The cached one-shot for ``key``.

        Parameters
        ----------
        key : hashable
            The event key passed to ``make``.

        Returns
        -------
        np.ndarray [dtype=float32]
        """
        buf = self._cache.get(key)
        if buf is None:
            buf = self._cache[key] = self.make(key)
        return buf


def _span(layer: Layer, n: int) -> tuple[int, int]:
    """First and one-past-last sample the layer's events touch."""
    lo = min(pos for pos, _, _ in layer.events)
    hi = max(pos + layer.buffer(key).shape[0] for pos, key, _ in layer.events)
    return max(0, min(lo, n)), min(hi, n)


def _add(out: npt.NDArray[np.float32], offset: int, layer: Layer, gains: tuple[float, float]) -> None:
    """Add the layer's events into ``out`` (2, m), which starts at sample ``offset``; mono gets ``gains``."""
    m = out.shape[1]
    for pos, key, gain in layer.events:
        start = pos - offset
        if start >= m or gain == 0.0:
            continue
        buf = layer.buffer(key)
        end = min(m, start + buf.shape[0])
        part = buf[: end - start]
        if part.ndim == 1:
            out[0, start:end] += np.float32(gain * gains[0]) * part
            out[1, start:end] += np.float32(gain * gains[1]) * part
        else:
            out[:, start:end] += np.float32(gain) * part.T


def _kick_shape(kick: Layer, n: int, grid: Grid) -> npt.NDArray[np.float32]:
    """Sidechain shape in 0..1: 1 at each kick hit, decaying over the beat; 0 where no kick plays."""
    k = grid.steps_n(4)
    t = np.arange(k) / grid.sr
    shape = (np.exp(-t / (0.35 * grid.beat_s)) * np.minimum(1.0, t / 0.004 + 0.6)).astype(np.float32)
    acc = np.zeros(n, dtype=np.float32)
    for pos, _, gain in kick.events:
        if pos < n and gain > 0:
            end = min(n, pos + k)
            np.maximum(acc[pos:end], shape[: end - pos], out=acc[pos:end])
    return acc


def _delay(stem: npt.NDArray[np.float32], d: int, feedback: float, taps: int = 4) -> npt.NDArray[np.float32]:
    """Ping-pong delay (2, m) of a stem: taps alternate left and right, each ``feedback`` quieter."""
    m = stem.shape[1]
    mono = stem.mean(axis=0)
    wet = np.zeros((2, m), dtype=np.float32)
    for i in range(1, taps + 1):
        shift = i * d
        if shift >= m:
            break
        wet[(i - 1) % 2, shift:] += np.float32(feedback**i) * mono[: m - shift]
    return wet


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power left/right gains for ``pan`` in -1 (left) .. 1 (right); 1, 1 at the centre.

    Parameters
    ----------
    pan : float in [-1, 1]

    Returns
    -------
    left, right : float
    """
    a = (pan + 1.0) * np.pi / 4.0
    return float(np.cos(a) * np.sqrt(2.0)), float(np.sin(a) * np.sqrt(2.0))


def mix(layers: Sequence[Layer], grid: Grid, sections: Sequence[Section], *, kick_layer: str = "kick",
        sweep_hz: tuple[float, float] = (250.0, 12000.0)) -> Buffer:
    """Render every layer, apply build sweeps, sidechain and delay, sum and peak-normalise.

    Layers without effects are added straight into the master; the others are rendered to a
    stem covering only the span their events touch. Returns ``(n, 2)`` float32 at ``grid.sr``
    with the peak at -1 dBFS.

    Parameters
    ----------
    layers : sequence of Layer
        With their events.
    grid : Grid
        Length and sample rate.
    sections : sequence of Section
        Build sections get the sweep.
    kick_layer : str
        The layer that drives the sidechain.
    sweep_hz : tuple of float
        Low-pass cutoff at a build's start and end, in Hz.

    Returns
    -------
    np.ndarray [shape=(grid.n_samples, 2), dtype=float32]
    """
    n = grid.n_samples
    master = np.zeros((2, n), dtype=np.float32)
    kick = next((layer for layer in layers if layer.name == kick_layer), None)
    kick_shape: npt.NDArray[np.float32] | None = None
    builds = [s for s in sections if s.label == "build"]
    delay_n = grid.steps_n(2)
    for layer in layers:
        if not layer.events:
            continue
        gains = pan_gains(layer.pan)
        ducked = layer.duck > 0 and kick is not None and bool(kick.events)
        if not (layer.sweep or ducked or layer.delay > 0):
            _add(master, 0, layer, (gains[0] * layer.gain, gains[1] * layer.gain))
            continue
        lo, hi = _span(layer, n)
        if layer.delay > 0:
            hi = min(n, hi + 4 * delay_n)
        stem = np.zeros((2, hi - lo), dtype=np.float32)
        _add(stem, lo, layer, gains)
        if layer.sweep:
            for s in builds:
                a = max(lo, grid.sample(s.start_bar * 4)) - lo
                b = min(hi, grid.sample(s.end_bar * 4)) - lo
                if b > a:
                    stem[:, a:b] = sweep(stem[:, a:b].T, grid.sr, sweep_hz[0], sweep_hz[1], shape=1.6).T
        if ducked and kick is not None:
            if kick_shape is None:
                kick_shape = _kick_shape(kick, n, grid)
            stem *= 1.0 - np.float32(layer.duck) * kick_shape[lo:hi]
        if layer.delay > 0:
            stem += np.float32(layer.delay) * _delay(stem, delay_n, 0.45)
        master[:, lo:hi] += np.float32(layer.gain) * stem
    fade = min(n, grid.sr // 20)
    master[:, n - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    peak = max(float(master.max()), -float(master.min()))
    if peak > 0:
        master *= np.float32(10.0 ** (PEAK_DBFS / 20.0) / peak)
    return np.ascontiguousarray(master.T)
