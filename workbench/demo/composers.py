"""The per-style composers of the demo: ``compose(composer) -> layers`` for each of the six styles.

Split out of :mod:`workbench.demo.styles` (which re-exports every name here).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.demo import instruments as ins
from workbench.demo.arrange import melody
from workbench.demo.compose import Composer
from workbench.demo.instruments import midi_hz
from workbench.demo.render import Buffer, Layer
from workbench.demo.shared_layers import (
    _bass,
    _build_fx,
    _clap,
    _hats,
    _kick,
    _saw_lead,
    _snare,
    _supersaw,
    _vocal,
)


def trance(c: Composer) -> list[Layer]:
    """138 BPM: four-on-the-floor, rolling offbeat bass, gated supersaw chords, saw lead.

    Parameters
    ----------
    c : Composer
        The track's random stream, grid, sections and harmony.

    Returns
    -------
    list of Layer
        Every layer with its events, ready for :func:`~workbench.demo.render.mix`.
    """
    r = c.rng
    _kick(c)
    _clap(c)
    _hats(c, metallic=0.25)
    _build_fx(c)
    c.layer("bass", _bass(c, saw_mix=1.0, cutoff_hz=r.uniform(300, 600), sub=0.6, decay_s=0.12,
                          attack_s=0.002, drive=1.2), gain=1.1, duck=0.3)
    _supersaw(c, "chords", voices=7, detune=r.uniform(14, 30), cutoff=r.uniform(2500, 5500), attack=0.004,
              release=0.03, decay=None, width=0.8, gain=0.6, duck=0.5, sweep=True)
    _supersaw(c, "pad", voices=3, detune=r.uniform(8, 16), cutoff=r.uniform(1400, 2400), attack=0.4,
              release=0.5, decay=None, width=0.9, gain=0.7, duck=0.3, sweep=True)
    _saw_lead(c, "lead", cutoff=r.uniform(3000, 6000), decay=None, gain=0.35, delay=0.35, pan=0.1)
    gate = str(r.choice(["X=x.X=x.X=x.X=x.", "..X=..X=..X=..X=", "X=.xX=.xX=.xX=.x"]))
    bass_pat = str(r.choice([".xxx.xxx.xxx.xxx", ".xox.xox.xox.xox", "..X...X...X...X."]))
    drop_rhythm = [(0, 2), (2, 2), (4, 3), (8, 2), (10, 2), (12, 3)]
    break_rhythm = [(0, 6), (6, 2), (8, 8)]
    parts = {
        "kick": c.drums("kick", "X...X...X...X..."),
        "kick_b": c.drums("kick", "X...X...X...X...", skip_last_build_bar=True),
        "clap": c.drums("clap", "....X.......X..."),
        "hat": c.drums("hat", str(r.choice(["x.x.x.x.x.x.x.x.", "X.x.X.x.X.x.X.x.", "x.x-x.x-x.x-x.x-"])), variants=4),
        "ohat": c.drums("ohat", "..x...x...x...x.", variants=2),
        "roll": c.roll("roll"), "riser": c.once("riser", key=lambda s: s.n_bars), "crash": c.once("crash"),
        "bass": c.bass("bass", bass_pat, low=33),
        "gate": c.stabs("chords", gate, low=57),
        "build_stabs": c.stabs("chords", "X.x.X.x.X.x.X.x.", low=57),
        "pad": c.pad("pad", low=55),
        "lead": c.line("lead", melody(r, c.harmony, drop_rhythm, low=67, high=84)),
        "lead_break": c.line("lead", melody(r, c.harmony, break_rhythm, low=64, high=81)),
    }
    roles = {
        "intro": {"kick": 0.85, "hat": 0.8, "ohat": 0.7, "clap": 0.6},
        "build": {"kick_b": 0.9, "hat": 1.0, "ohat": 0.8, "roll": 1.0, "riser": 1.0, "build_stabs": 0.8, "pad": 0.6},
        "drop": {"kick": 1.0, "clap": 1.0, "hat": 1.0, "ohat": 1.0, "bass": 1.0, "gate": 1.0, "pad": 0.5,
                 "lead": 1.0, "crash": 1.0},
        "break": {"pad": 1.0, "lead_break": 1.0, "hat": 0.3},
        "outro": {"kick": 0.9, "hat": 0.8, "ohat": 0.6, "clap": 0.5},
    }
    return c.perform(roles, parts)


def progressive(c: Composer) -> list[Layer]:
    """128 BPM: four-on-the-floor, soft plucky arpeggio with delay, pads, long builds.

    Parameters
    ----------
    c : Composer
        The track's random stream, grid, sections and harmony.

    Returns
    -------
    list of Layer
        Every layer with its events, ready for :func:`~workbench.demo.render.mix`.
    """
    r = c.rng
    _kick(c)
    _clap(c, gain=0.85)
    _hats(c, metallic=0.1, closed_gain=0.36, open_gain=0.36)
    _build_fx(c)
    c.layer("bass", _bass(c, saw_mix=0.8, cutoff_hz=r.uniform(300, 600), sub=0.8, decay_s=0.18,
                          attack_s=0.003, drive=1.0), gain=1.0, duck=0.35)
    decay, tilt = r.uniform(0.2, 0.4), r.uniform(0.25, 0.5)
    amps = [1.0 / k for k in range(1, 11)]

    def pluck(k: Any) -> Buffer:
        """The plucked note of an event key.

        Parameters
        ----------
        k : tuple
            ``(midi note, length in sixteenths)``.

        Returns
        -------
        np.ndarray [shape=(n,), dtype=float32]
        """
        midi, steps = k
        return ins.additive(midi_hz(midi), c.tail(steps, decay * 2), c.sr, amps=amps, decay_s=decay, tilt=tilt,
                            attack_s=0.002, release_s=0.05)

    c.layer("arp", pluck, gain=0.45, delay=0.45, pan=-0.1, duck=0.3, sweep=True)
    _supersaw(c, "pad", voices=3, detune=r.uniform(8, 18), cutoff=r.uniform(1000, 2000), attack=0.6,
              release=0.8, decay=None, width=0.9, gain=0.6, duck=0.4, sweep=True)
    _saw_lead(c, "lead", cutoff=r.uniform(1800, 3200), decay=None, gain=0.3, delay=0.4, pan=0.15)
    order = [list(p) for p in ((0, 1, 2, 3), (0, 2, 1, 3, 2, 1), (0, 1, 2, 1, 3, 2))][int(r.integers(3))]
    parts = {
        "kick": c.drums("kick", "X...X...X...X..."),
        "kick_b": c.drums("kick", "X...X...X...X...", skip_last_build_bar=True),
        "clap": c.drums("clap", "....x.......x..."),
        "hat": c.drums("hat", "-.x.-.x.-.x.-.x.", variants=4),
        "ohat": c.drums("ohat", "..x...x...x...x.", variants=2),
        "roll": c.roll("roll"), "riser": c.once("riser", key=lambda s: s.n_bars), "crash": c.once("crash"),
        "bass": c.bass("bass", str(r.choice(["..x...x...x...x.", "..x.x...x.x.x...", "..xo..xo..xo..xo"])), low=33),
        "arp": c.arp("arp", order, low=60, length=2, rate=1),
        "arp_half": c.arp("arp", order, low=60, length=2, rate=2),
        "pad": c.pad("pad", low=55),
        "lead": c.line("lead", melody(r, c.harmony, [(0, 4), (4, 4), (8, 6), (14, 2)], low=64, high=79)),
    }
    roles = {
        "intro": {"kick": 0.85, "hat": 0.9, "ohat": 0.6, "clap": 0.5},
        "build": {"kick_b": 0.9, "hat": 1.0, "ohat": 0.7, "roll": 0.8, "riser": 1.0, "arp_half": 1.0, "pad": 0.7},
        "drop": {"kick": 1.0, "clap": 1.0, "hat": 1.0, "ohat": 1.0, "bass": 1.0, "arp": 1.0, "pad": 0.8,
                 "crash": 1.0},
        "break": {"pad": 1.0, "arp_half": 0.7, "lead": 1.0},
        "outro": {"kick": 0.9, "hat": 0.9, "ohat": 0.5, "clap": 0.4},
    }
    return c.perform(roles, parts)


def techno(c: Composer) -> list[Layer]:
    """132 BPM: heavy driven kick, rumble bass, metallic percussion, a dub chord stab, minimal harmony.

    Parameters
    ----------
    c : Composer
        The track's random stream, grid, sections and harmony.

    Returns
    -------
    list of Layer
        Every layer with its events, ready for :func:`~workbench.demo.render.mix`.
    """
    r = c.rng
    _kick(c, heavy=True)
    _clap(c, gain=0.8)
    _hats(c, metallic=0.7, closed_gain=0.5, open_gain=0.45)
    _build_fx(c)
    c.layer("rumble", _bass(c, saw_mix=0.6, cutoff_hz=r.uniform(140, 220), sub=1.0, decay_s=0.09,
                            attack_s=0.006, drive=2.0, order=4), gain=1.5, duck=0.5)
    bell_hz = midi_hz(84 + c.harmony.tonic_pc)
    ratio, index = float(r.choice([2.0, 3.0, 4.0])), r.uniform(1.5, 3.0)
    c.layer("perc", lambda k: ins.bell(c.sr, freq_hz=bell_hz * (1.0, 2.0)[int(k) % 2], ratio=ratio, index=index,
                                      decay_s=r.uniform(0.03, 0.06), length_s=0.25), gain=0.3, pan=0.4)
    _supersaw(c, "stab", voices=2, detune=r.uniform(5, 12), cutoff=r.uniform(900, 1800), attack=0.002,
              release=0.05, decay=0.18, width=0.4, gain=0.9, delay=0.6, sweep=True)
    _supersaw(c, "drone", voices=3, detune=r.uniform(6, 12), cutoff=r.uniform(600, 1000), attack=0.8,
              release=1.0, decay=None, width=0.9, gain=0.6)
    parts = {
        "kick": c.drums("kick", "X...X...X...X..."),
        "clap": c.drums("clap", "....x.......x..."),
        "hat": c.drums("hat", str(r.choice(["xXx-xXx-xXx-xXx-", "-.x.-.x.-.x.-.x.", "x-x-x-x-x-x-x-x-"])), variants=4),
        "ohat": c.drums("ohat", "..x...x...x...x.", variants=2),
        "perc": c.drums("perc", str(r.choice(["...x...x...x...x", ".x...x...x...x..", "...x..x....x..x.",
                                                   ".x.x...x.x.x...x"])), variants=2),
        "roll": c.roll("roll"), "riser": c.once("riser", key=lambda s: s.n_bars), "crash": c.once("crash"),
        "rumble": c.bass("rumble", str(r.choice([".xx..xx..xx..xx.", ".xxx.xxx.xxx.xxx", "..xx..xx..xx..xx"])), low=28),
        "stab": c.stabs("stab", str(r.choice(["...x......x.....", ".......x.......x", "..x.....x..x...."])), low=52),
        "drone": c.pad("drone", low=52),
    }
    roles = {
        "intro": {"kick": 0.75, "hat": 0.6, "perc": 0.6},
        "build": {"kick": 1.0, "hat": 1.0, "ohat": 0.7, "perc": 1.0, "roll": 0.8, "riser": 1.0, "stab": 1.0},
        "drop": {"kick": 1.0, "clap": 1.0, "hat": 1.0, "ohat": 1.0, "perc": 1.0, "rumble": 1.0, "stab": 1.0,
                 "crash": 0.7},
        "break": {"drone": 1.0, "stab": 0.8, "perc": 0.5},
        "outro": {"kick": 0.9, "hat": 0.8, "perc": 0.6, "ohat": 0.5},
    }
    return c.perform(roles, parts)


def house(c: Composer) -> list[Layer]:
    """124 BPM: four-on-the-floor, offbeat open hats, clap on 2 and 4, piano or organ stabs, vocal lead.

    Parameters
    ----------
    c : Composer
        The track's random stream, grid, sections and harmony.

    Returns
    -------
    list of Layer
        Every layer with its events, ready for :func:`~workbench.demo.render.mix`.
    """
    r = c.rng
    _kick(c)
    _clap(c, gain=1.2)
    _hats(c, metallic=0.15, closed_gain=0.35, open_gain=0.55)
    _build_fx(c)
    c.layer("bass", _bass(c, saw_mix=0.35, cutoff_hz=r.uniform(500, 900), sub=1.0, decay_s=0.25,
                          attack_s=0.003, drive=1.3), gain=0.8, duck=0.3)
    organ = bool(r.integers(2))
    amps = [1.0, 0.7, 0.35, 0.3, 0.15, 0.12] if organ else [1.0, 0.55, 0.3, 0.2, 0.12, 0.08]
    ratios = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0] if organ else None  # drawbars 8', 4', 2 2/3', 2', 1 1/3', 1'
    decay = r.uniform(0.6, 1.0) if organ else r.uniform(0.35, 0.6)

    def stab(k: Any) -> Buffer:
        """The piano or organ chord of an event key, the mean of its notes.

        Parameters
        ----------
        k : tuple
            ``(midi notes, length in sixteenths)``.

        Returns
        -------
        np.ndarray [shape=(n,), dtype=float32]
        """
        chord, steps = k
        n = c.tail(steps, 0.08)
        notes = [ins.additive(midi_hz(m), n, c.sr, amps=amps, ratios=ratios, decay_s=decay, tilt=0.0 if organ else 0.6,
                              attack_s=0.003, release_s=0.06) for m in chord]
        return (np.sum(notes, axis=0) / len(notes)).astype(np.float32)

    c.layer("keys", stab, gain=0.75, duck=0.3, sweep=True, pan=-0.1)
    _supersaw(c, "pad", voices=3, detune=r.uniform(6, 12), cutoff=r.uniform(1200, 2200), attack=0.3,
              release=0.5, decay=None, width=0.8, gain=0.5, duck=0.35)
    keyed = _vocal(c, "vocal", gain=0.4, delay=0.25, pan=0.1)
    verse_line = melody(r, c.harmony, [(0, 3), (4, 2), (6, 2), (10, 4)], low=60, high=72)
    chorus_line = melody(r, c.harmony, [(0, 2), (2, 2), (4, 4), (8, 2), (10, 2), (12, 4)], low=64, high=76)
    stab_pat = str(r.choice(["x..x..x...x..x..", "..x..x....x..x..", "x=.x=.x...x=.x.."]))
    parts = {
        "kick": c.drums("kick", "X...X...X...X..."),
        "clap": c.drums("clap", "....X.......X..."),
        "hat": c.drums("hat", "x.x.x.x.x.x.x.x.", variants=4),
        "ohat": c.drums("ohat", "..x...x...x...x.", variants=2),
        "roll": c.roll("roll"), "riser": c.once("riser", key=lambda s: s.n_bars), "crash": c.once("crash"),
        "bass": c.bass("bass", str(r.choice(["..x..o.x..x..o.x", "..x...x...x...x.", "..x.x.o...x.x.o."])), low=36),
        "stabs": c.stabs("keys", stab_pat, low=57),
        "verse_keys": c.stabs("keys", "x=......x=......", low=57),
        "pad": c.pad("pad", low=57),
        "verse": c.line("vocal", verse_line, keyed=keyed),
        "chorus": c.line("vocal", chorus_line, keyed=keyed),
    }
    roles = {
        "intro": {"kick": 0.85, "hat": 0.8, "ohat": 0.6},
        "verse": {"kick": 0.95, "clap": 0.8, "hat": 0.9, "ohat": 0.8, "bass": 0.85, "verse_keys": 0.7, "verse": 1.0},
        "chorus": {"kick": 1.0, "clap": 1.0, "hat": 1.0, "ohat": 1.0, "bass": 1.0, "stabs": 1.0, "pad": 0.8,
                   "chorus": 1.0, "crash": 0.8},
        "break": {"pad": 1.0, "verse": 0.9, "hat": 0.3},
        "build": {"kick": 0.9, "hat": 1.0, "roll": 1.0, "riser": 1.0, "stabs": 0.8},
        "drop": {"kick": 1.0, "clap": 1.0, "hat": 1.0, "ohat": 1.0, "bass": 1.0, "stabs": 1.0, "pad": 0.7,
                 "chorus": 0.8, "crash": 1.0},
        "outro": {"kick": 0.9, "hat": 0.8, "ohat": 0.6, "clap": 0.5},
    }
    return c.perform(roles, parts)


def dnb(c: Composer) -> list[Layer]:
    """174 BPM: two-step breakbeat (kick on 1 and the and of 3, snare on 2 and 4), reese bass.

    Parameters
    ----------
    c : Composer
        The track's random stream, grid, sections and harmony.

    Returns
    -------
    list of Layer
        Every layer with its events, ready for :func:`~workbench.demo.render.mix`.
    """
    r = c.rng
    _kick(c)
    _snare(c, gain=1.2)
    _hats(c, metallic=0.2, closed_gain=0.45, open_gain=0.36)
    _build_fx(c)
    det, cut = r.uniform(12, 25), r.uniform(400, 800)
    c.layer("reese", _bass(c, saw_mix=0.9, cutoff_hz=cut, sub=0.8, decay_s=None, attack_s=0.01,
                           drive=1.6, detune_cents=det, release=0.08), gain=0.4)
    _supersaw(c, "pad", voices=3, detune=r.uniform(8, 16), cutoff=r.uniform(1200, 2200), attack=0.5,
              release=0.8, decay=None, width=0.9, gain=0.55, sweep=True)
    keyed = _vocal(c, "vocal", gain=0.3, delay=0.35, pan=-0.1)
    kick_pat = str(r.choice(["X.........X.....", "X.........X.....X.........X..x..", "X.x.......X....."]))
    snare_pat = str(r.choice(["....X.......X...", "....X.......X..-....X..-....X...", "....X..-....X..."]))
    parts = {
        "kick": c.drums("kick", kick_pat),
        "snare": c.drums("snare", snare_pat),
        "hat": c.drums("hat", "X.x.X.x.X.x.X.x.", variants=4),
        "ride": c.drums("ohat", "x...x...x...x...", variants=2),
        "roll": c.roll("roll"), "riser": c.once("riser", key=lambda s: s.n_bars), "crash": c.once("crash"),
        "reese": c.held("reese", low=31),
        "pad": c.pad("pad", low=57),
        "vocal": c.line("vocal", melody(r, c.harmony, [(0, 8), (8, 4), (12, 4)], low=62, high=76), keyed=keyed),
    }
    roles = {
        "intro": {"kick": 0.8, "snare": 0.7, "hat": 0.9},
        "build": {"kick": 0.9, "snare": 0.6, "hat": 1.0, "roll": 1.0, "riser": 1.0, "pad": 0.8},
        "drop": {"kick": 1.0, "snare": 1.0, "hat": 1.0, "ride": 0.9, "reese": 1.0, "pad": 0.6, "crash": 1.0},
        "break": {"pad": 1.0, "vocal": 1.0, "hat": 0.35},
        "outro": {"kick": 0.85, "snare": 0.8, "hat": 0.8},
    }
    return c.perform(roles, parts)


def downtempo(c: Composer) -> list[Layer]:
    """90 BPM: laid-back kick and snare, warm pads, sine bass, electric piano, vocal-like lead.

    Parameters
    ----------
    c : Composer
        The track's random stream, grid, sections and harmony.

    Returns
    -------
    list of Layer
        Every layer with its events, ready for :func:`~workbench.demo.render.mix`.
    """
    r = c.rng
    _kick(c)
    _snare(c, gain=0.8)
    _hats(c, metallic=0.05, closed_gain=0.3, open_gain=0.3)
    r_sh = r.uniform(0.03, 0.05)
    c.layer("shaker", lambda k: ins.hat(r, c.sr, decay_s=r_sh, metallic=0.0, highpass_hz=5000.0, length_s=0.15),
            gain=0.2, pan=0.35)
    c.layer("crash", lambda k: ins.crash(r, c.sr, decay_s=1.2, length_s=3.0), gain=0.35, pan=-0.2)
    c.layer("bass", _bass(c, saw_mix=0.0, cutoff_hz=400.0, sub=1.0, decay_s=None, attack_s=0.01,
                          drive=1.0, release=0.06, octave=0.35), gain=0.3)
    index, ep_decay = r.uniform(0.8, 1.8), r.uniform(0.6, 1.2)

    def ep(k: Any) -> Buffer:
        """The electric-piano chord of an event key, the mean of its notes.

        Parameters
        ----------
        k : tuple
            ``(midi notes, length in sixteenths)``.

        Returns
        -------
        np.ndarray [shape=(n,), dtype=float32]
        """
        chord, steps = k
        n = c.tail(steps, 0.2)
        notes = [ins.epiano(midi_hz(m), n, c.sr, index=index, decay_s=ep_decay, release_s=0.15) for m in chord]
        return (np.sum(notes, axis=0) / len(notes)).astype(np.float32)

    c.layer("keys", ep, gain=0.55, pan=0.15)
    _supersaw(c, "pad", voices=3, detune=r.uniform(6, 14), cutoff=r.uniform(800, 1500), attack=0.8,
              release=1.0, decay=None, width=0.9, gain=0.45)
    keyed = _vocal(c, "vocal", gain=0.3, delay=0.3, pan=-0.05)
    verse_line = melody(r, c.harmony, [(0, 6), (8, 4), (12, 4)], low=60, high=72)
    chorus_line = melody(r, c.harmony, [(0, 4), (4, 4), (8, 6), (14, 2)], low=64, high=76)
    parts = {
        "kick": c.drums("kick", str(r.choice(["X.......X.-.....", "X.......X.......", "X......-X......."]))),
        "snare": c.drums("snare", "....X.......X..."),
        "hat": c.drums("hat", "x.-.x.-.x.-.x.-.", variants=4),
        "ohat": c.drums("ohat", "......x.......x.", variants=2),
        "shaker": c.drums("shaker", "-x-x-x-x-x-x-x-x", variants=3),
        "crash": c.once("crash"),
        "bass": c.bass("bass", str(r.choice(["x=====..x===..f.", "x=====....x===..", "x=======x===..o."])), low=36),
        "keys": c.stabs("keys", "x=======x=======", low=57),
        "keys_half": c.stabs("keys", "x=======........", low=57),
        "pad": c.pad("pad", low=55),
        "verse": c.line("vocal", verse_line, keyed=keyed),
        "chorus": c.line("vocal", chorus_line, keyed=keyed),
    }
    roles = {
        "intro": {"kick": 0.8, "hat": 0.8, "keys_half": 0.4},
        "verse": {"kick": 0.9, "snare": 0.85, "hat": 0.9, "bass": 0.85, "keys_half": 0.8, "verse": 1.0},
        "chorus": {"kick": 1.0, "snare": 1.0, "hat": 1.0, "ohat": 1.0, "shaker": 1.0, "bass": 1.0, "keys": 0.9,
                   "pad": 1.0, "chorus": 1.0, "crash": 1.0},
        "break": {"pad": 1.0, "verse": 0.9, "shaker": 0.5},
        "outro": {"kick": 0.8, "snare": 0.6, "hat": 0.8, "keys_half": 0.3},
    }
    return c.perform(roles, parts)
