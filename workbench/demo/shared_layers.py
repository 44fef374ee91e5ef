"""Layers shared by the demo styles: tuned roots, kick, hats, clap, snare, build FX, supersaw, vocal, leads, bass.

Split out of :mod:`workbench.demo.styles` (which re-exports every name here).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from workbench.demo import instruments as ins
from workbench.demo.arrange import Note, place
from workbench.demo.compose import Composer
from workbench.demo.instruments import midi_hz
from workbench.demo.render import Buffer


def _tuned(c: Composer, low: int, high: int) -> float:
    """Frequency (Hz) of the tonic, else the fifth, else the third, placed in MIDI ``low..high``."""
    h = c.harmony
    third = 3 if h.mode == "minor" else 4
    for interval in (0, 7, third):
        midi = place((h.tonic_pc + interval) % 12, low)
        if midi <= high:
            return midi_hz(midi)
    return midi_hz(place(h.tonic_pc, low))


def _kick(c: Composer, *, heavy: bool = False) -> None:
    """Kick whose body settles on the key's tonic, between 39 and 73 Hz."""
    r = c.rng
    p = {
        "f_start_hz": r.uniform(150, 190), "f_end_hz": _tuned(c, 27, 38),
        "pitch_decay_s": r.uniform(0.03, 0.045), "decay_s": r.uniform(0.16, 0.24) if not heavy else r.uniform(0.28, 0.36),
        "click": r.uniform(0.15, 0.35), "drive": r.uniform(1.2, 1.8) if not heavy else r.uniform(1.8, 2.4),
        "length_s": 0.45 if not heavy else 0.6,
    }
    c.layer("kick", lambda k: ins.kick(r, c.sr, **p), gain=0.55)


def _hats(c: Composer, *, metallic: float, closed_gain: float = 0.45, open_gain: float = 0.45) -> None:
    r = c.rng
    cd, od = r.uniform(0.018, 0.035), r.uniform(0.09, 0.18)
    c.layer("hat", lambda k: ins.hat(r, c.sr, decay_s=cd, metallic=metallic, highpass_hz=7000.0, length_s=0.12),
            gain=1.6 * closed_gain, pan=-0.3)
    c.layer("ohat", lambda k: ins.hat(r, c.sr, decay_s=od, metallic=metallic, highpass_hz=6000.0, length_s=0.5),
            gain=1.6 * open_gain, pan=0.3)


def _clap(c: Composer, gain: float = 1.1) -> None:
    r = c.rng
    d = r.uniform(0.07, 0.13)
    c.layer("clap", lambda k: ins.clap(r, c.sr, decay_s=d, spread_s=0.009, band_hz=(900.0, 5000.0), length_s=0.35),
            gain=gain, pan=0.05)


def _snare(c: Composer, name: str = "snare", gain: float = 1.0, bright: bool = False) -> None:
    r = c.rng
    p: dict[str, Any] = {"tone_hz": _tuned(c, 53, 58), "tone_decay_s": r.uniform(0.04, 0.07), "noise_decay_s": r.uniform(0.09, 0.16),
         "band_hz": (1500.0, 9000.0) if bright else (900.0, 7000.0), "tone_mix": 0.6, "length_s": 0.4}
    c.layer(name, lambda k: ins.snare(r, c.sr, **p), gain=gain)


def _build_fx(c: Composer) -> None:
    """Snare roll, noise riser and crash (used by builds and drops)."""
    r = c.rng
    _snare(c, "roll", gain=0.5, bright=True)
    lo, hi = r.uniform(300, 600), r.uniform(7000, 11000)
    c.layer("riser", lambda k: ins.riser(r, c.sr, c.grid.steps_n(16 * int(k)), f_lo_hz=lo, f_hi_hz=hi, curve=2.0),
            gain=1.0)
    c.layer("crash", lambda k: ins.crash(r, c.sr, decay_s=r.uniform(0.6, 1.0), length_s=2.5), gain=0.45, pan=0.2)


def _supersaw(c: Composer, name: str, *, voices: int, detune: float, cutoff: float, attack: float, release: float,
              decay: float | None, width: float, **options: Any) -> None:
    r = c.rng
    phases = r.uniform(0.0, 1.0, 64)

    def make(k: Any) -> Buffer:
        """The supersaw chord of an event key.

        Parameters
        ----------
        k : tuple
            ``(midi notes, length in sixteenths)``.

        Returns
        -------
        np.ndarray [shape=(n, 2), dtype=float32]
        """
        chord, steps = k
        return ins.saw_stack(chord, c.tail(steps, release), c.sr, voices=voices, detune_cents=detune, cutoff_hz=cutoff,
                             attack_s=attack, release_s=release, width=width, phases=phases, decay_s=decay)

    c.layer(name, make, **options)


def _vocal(c: Composer, name: str, **options: Any) -> Callable[[Note], Hashable]:
    r = c.rng
    vib_hz, vib_c = r.uniform(4.8, 6.2), r.uniform(20, 40)

    def make(k: Any) -> Buffer:
        """The vocal note of an event key.

        Parameters
        ----------
        k : tuple
            ``(midi note, length in sixteenths, vowel index)``.

        Returns
        -------
        np.ndarray [shape=(n,), dtype=float32]
        """
        midi, steps, vowel = k
        return ins.vocal(midi_hz(midi), c.tail(steps, 0.12), c.sr, vowel=vowel, vibrato_hz=vib_hz,
                         vibrato_cents=vib_c, attack_s=0.05, release_s=0.12, breath=0.05, rng=r)

    c.layer(name, make, **options)
    return lambda note: (note.midi, note.length, int(note.midi * 7 + note.step) % 4)


def _saw_lead(c: Composer, name: str, *, cutoff: float, decay: float | None, **options: Any) -> None:
    r = c.rng
    det, vib = r.uniform(6, 14), r.uniform(5.0, 6.0)

    def make(k: Any) -> Buffer:
        """The lead note of an event key.

        Parameters
        ----------
        k : tuple
            ``(midi note, length in sixteenths)``.

        Returns
        -------
        np.ndarray [shape=(n,), dtype=float32]
        """
        midi, steps = k
        return ins.lead(midi_hz(midi), c.tail(steps, 0.08), c.sr, cutoff_hz=cutoff, detune_cents=det,
                        vibrato_hz=vib, vibrato_cents=12.0, attack_s=0.006, release_s=0.08, decay_s=decay)

    c.layer(name, make, **options)


def _bass(c: Composer, *, release: float = 0.02, **params: Any) -> Callable[[Hashable], Buffer]:
    def make(k: Any) -> Buffer:
        """The bass note of an event key.

        Parameters
        ----------
        k : tuple
            ``(midi note, length in sixteenths)``.

        Returns
        -------
        np.ndarray [shape=(n,), dtype=float32]
        """
        midi, steps = k
        return ins.synth_bass(midi_hz(midi), c.tail(steps, release), c.sr, release_s=release, **params)

    return make
