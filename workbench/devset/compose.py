"""Patterns to timed notes, and the ground truth that comes with them.

Every onset time is computed here, in seconds, from a beat clock (:class:`Clock`) that may
drift, swing and be humanised; both renderers play these times exactly, so the beats and
downbeats written to the truth are exact by construction (to 1 ms in MIDI).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workbench.devset.arrange import BarParts
from workbench.devset.styles import DRUM_ROLES, GM_DRUMS, DevStyle

#: Chord progressions as (root offset from the tonic in semitones, quality), one chord per slot.
PROGRESSIONS: dict[str, tuple[tuple[tuple[int, str], ...], ...]] = {
    "minor": (((0, "m"), (8, "M"), (3, "M"), (10, "M")), ((0, "m"), (5, "m"), (0, "m"), (7, "m")),
              ((0, "m"), (8, "M"), (10, "M"), (0, "m"))),
    "major": (((0, "M"), (7, "M"), (9, "m"), (5, "M")), ((0, "M"), (5, "M"), (0, "M"), (7, "M")),
              ((0, "M"), (9, "m"), (5, "M"), (7, "M"))),
}


@dataclass(frozen=True)
class Note:
    """One note or hit: onset ``time_s``, length ``dur_s``, ``role``, MIDI ``pitch`` (GM key for
    drums), MIDI ``velocity`` 1..127."""

    time_s: float
    dur_s: float
    role: str
    pitch: int
    velocity: int


class Clock:
    """Beat position -> seconds, through per-beat times (drift), swing and humanising.

    Parameters
    ----------
    beat_times_s : np.ndarray [shape=(n_beats + 1,)]
        Onset of every beat, one past the last so the last beat has a length.
    swing : float in [0.5, 0.75]
        Where the second 16th of each 8th-note pair falls, as a fraction of the pair.
    jitter_s : float >= 0
        Standard deviation of the humanising offset added to every note (clipped to 2.5 x).
    rng : np.random.Generator
    """

    def __init__(self, beat_times_s: np.ndarray, *, swing: float, jitter_s: float, rng: np.random.Generator):
        self.beat_times_s = beat_times_s
        self.swing = swing
        self.jitter_s = jitter_s
        self.rng = rng

    def time(self, step: int, *, humanise: bool = True) -> float:
        """Onset in seconds of 16th-note ``step`` counted from the first beat.

        Parameters
        ----------
        step : int >= 0
            16th-note index.
        humanise : bool
            Add the clock's timing jitter (normal, clipped to 2.5 standard deviations).

        Returns
        -------
        float >= 0
            Seconds.
        """
        beat, sub = divmod(step, 4)
        pair, second = divmod(sub, 2)
        frac = 0.5 * pair + (0.5 * self.swing if second else 0.0)
        t0, t1 = self.beat_times_s[beat], self.beat_times_s[min(beat + 1, len(self.beat_times_s) - 1)]
        t = float(t0 + frac * (t1 - t0))
        if humanise and self.jitter_s > 0:
            t += float(np.clip(self.rng.normal(0.0, self.jitter_s), -2.5 * self.jitter_s, 2.5 * self.jitter_s))
        return max(0.0, t)


def beat_times(*, bpm: float, n_beats: int, start_s: float, drift: bool, rng: np.random.Generator) -> np.ndarray:
    """Onsets of ``n_beats + 1`` beats: steady, or drifting as a live band does (+-2-5 %).

    Drift is a slow sine (period 16-48 beats, depth 1.5-3 %) plus a linear push or drag of up to
    3 % over the track.

    Parameters
    ----------
    bpm : float > 0
        Mean tempo, in BPM.
    n_beats : int >= 1
        Beats in the track.
    start_s : float >= 0
        Onset of the first beat, in seconds.
    drift : bool
        Let the tempo drift; False keeps it steady.
    rng : np.random.Generator
        Draws the drift.

    Returns
    -------
    np.ndarray [shape=(n_beats + 1,)]
        Beat onsets in seconds, increasing.
    """
    k = np.arange(n_beats + 1, dtype=np.float64)
    factor = np.ones_like(k)
    if drift:
        depth = rng.uniform(0.015, 0.03)
        period = rng.uniform(16, 48)
        phase = rng.uniform(0, 2 * np.pi)
        slope = rng.uniform(-0.03, 0.03)
        factor = 1.0 + depth * np.sin(2 * np.pi * k / period + phase) + slope * (k / max(1, n_beats) - 0.5)
    ibi = 60.0 / (bpm * factor)
    return start_s + np.concatenate([[0.0], np.cumsum(ibi[:-1])])


def _durations(pattern: str) -> list[tuple[int, int]]:
    """(step, length in steps) of each ``x``/``o`` in a 16-step pattern; a note lasts to the next one."""
    hits = [i for i, c in enumerate(pattern) if c in "xo"]
    return [(s, ((hits[(j + 1) % len(hits)] - s - 1) % 16) + 1) for j, s in enumerate(hits)]


def chord_pitches(tonic_pc: int, root: int, quality: str, *, low: int) -> tuple[int, ...]:
    """A close triad (plus the octave) on ``tonic_pc + root``, its root at or above ``low``.

    Parameters
    ----------
    tonic_pc : int in 0..11
        The key's tonic pitch class (C=0).
    root : int in 0..11
        The chord root, in semitones above the tonic.
    quality : {"M", "m"}
        Major or minor triad.
    low : int
        The lowest MIDI note the root may take.

    Returns
    -------
    tuple of int
        Four MIDI notes: root, third, fifth, octave.
    """
    r = low + (tonic_pc + root - low) % 12
    third = 3 if quality == "m" else 4
    return (r, r + third, r + 7, r + 12)


def compose(style: DevStyle, *, n_bars: int, clock: Clock, tonic_pc: int | None, mode: str,
            rng: np.random.Generator, humanised: bool,
            parts: Sequence[BarParts] | None = None) -> tuple[list[Note], list[str]]:
    """All notes of one track, and its chord progression (``["i", "bVI", ...]``, empty for drums only).

    ``tonic_pc=None`` gives drums only. Bars 0-1 have no bass; with 10 bars or more, two bars in
    the middle drop the kick and the bass (a breakdown), as DJ tracks do; the beat goes on. A
    crash cymbal marks the first beat of every 8-bar phrase and the bar after the breakdown.

    Parameters
    ----------
    style : DevStyle
    clock : Clock
        Beat onsets, swing and timing jitter.
    n_bars : int >= 1
        Length in 4/4 bars.
    tonic_pc : int in 0..11 or None
        The key's tonic (C=0); None for drums only.
    mode : {"major", "minor"}
    rng : np.random.Generator
        Draws velocities and fills.
    humanised : bool
        Vary velocities (timing is the clock's).
    parts : sequence of BarParts, optional
        What plays in each of the ``n_bars`` bars (an arrangement of
        :mod:`~workbench.devset.arrange`); it replaces the breakdown and the phrase crashes.
        None keeps the notes (and the random draws) of a track without sections.

    Returns
    -------
    notes : list of Note
    progression : list of str
        Roman numerals, one per chord.
    """
    notes: list[Note] = []
    step_s = float(np.median(np.diff(clock.beat_times_s))) / 4
    breakdown = range(n_bars // 2, n_bars // 2 + 2) if n_bars >= 10 and parts is None else range(0)

    def vel(c: str, gain: float = 1.0) -> int:
        """MIDI velocity of a drum-pattern character (``"x"`` accent, else ghost), humanised.

        Parameters
        ----------
        c : str
            The pattern character.
        gain : float > 0
            Velocity factor (a section's level).

        Returns
        -------
        int in 20..127
        """
        v = 108 if c == "x" else 58
        if humanised:
            v += int(rng.integers(-14, 10))
        return int(np.clip(v if gain == 1.0 else int(round(v * gain)), 20, 127))

    for bar in range(n_bars):
        part = parts[bar] if parts is not None else None
        gain = part.gain if part is not None else 1.0
        for half in (0, 1):
            pats = {role: p[bar % len(p)] for role, p in style.drums.items()}
            if style.breaks and bar % 4 != 0:
                pats = dict(style.breaks[int(rng.integers(len(style.breaks)))])
                pats.setdefault("kick", style.drums["kick"][0])
            if part is not None:
                pats = {r: p for r, p in pats.items() if part.drums is None or r in part.drums}
                if part.roll:
                    pats["snare"] = ("x" + "." * (4 // part.roll - 1)) * (4 * part.roll)
            for role, pat in pats.items():
                if role == "kick" and bar in breakdown:
                    continue
                for s in range(8 * half, 8 * half + 8):
                    c = pat[s]
                    if c in "xo":
                        t = clock.time(bar * 16 + s, humanise=humanised)
                        notes.append(Note(t, 0.2, role, GM_DRUMS[role], vel(c, gain)))
        crash = part.crash if part is not None else bar % 8 == 0 or (breakdown and bar == breakdown[-1] + 1)
        if crash:
            notes.append(Note(clock.time(bar * 16, humanise=humanised), 1.0, "crash", GM_DRUMS["crash"], vel("x")))
    if tonic_pc is None:
        notes.sort(key=lambda n: (n.time_s, n.role, n.pitch))
        return notes, []
    progression = PROGRESSIONS[mode][int(rng.integers(len(PROGRESSIONS[mode])))]
    for bar in range(n_bars):
        part = parts[bar] if parts is not None else None
        gain = part.gain if part is not None else 1.0
        slot = (bar // style.bars_per_chord) % len(progression)
        root, quality = progression[slot]
        pitches = chord_pitches(tonic_pc, root, quality, low=57)
        bass_pc = tonic_pc if style.pedal else tonic_pc + root
        bass_root = style.bass_octave + (bass_pc - style.bass_octave) % 12
        if (part.bass if part is not None else bar >= 2 and bar not in breakdown):
            for s, length in _durations(style.bass):
                notes.append(Note(clock.time(bar * 16 + s, humanise=humanised), 0.9 * length * step_s, "bass",
                                  bass_root + (12 if s % 8 == 6 and style.name == "breakbeat" else 0), vel("x")))
        if part is not None and not part.chords:
            pass
        elif style.chords == "-":
            held = parts is not None and bar % style.bars_per_chord != 0 and (
                not parts[bar - 1].chords or parts[bar - 1].label != parts[bar].label)
            if bar % style.bars_per_chord == 0 or held:  # held chords start again where a section brings them in
                bars = _held_bars(parts, bar, style.bars_per_chord)
                dur = bars * 16 * step_s * 0.98
                for p in pitches[:3]:
                    notes.append(Note(clock.time(bar * 16, humanise=False), dur, "chords", p,
                                      80 if gain == 1.0 else int(round(80 * gain))))
        else:
            for s, length in _durations(style.chords):
                t = clock.time(bar * 16 + s, humanise=humanised)
                for p in pitches[:3]:
                    notes.append(Note(t, 0.8 * min(length, 4) * step_s, "chords", p,
                                      88 if gain == 1.0 else int(round(88 * gain))))
        if style.lead is not None and (part.lead if part is not None else bar >= 2):
            tones = pitches + (pitches[1] + 12, pitches[2] + 12)
            for i, (s, _) in enumerate(_durations(style.lead)):
                notes.append(Note(clock.time(bar * 16 + s, humanise=humanised), 1.6 * step_s, "lead",
                                  tones[(i + bar) % len(tones)] + 12, vel("x", gain) - 10))
    notes.sort(key=lambda n: (n.time_s, n.role, n.pitch))
    return notes, [roman(root, quality) for root, quality in progression]


_ROMAN = {0: "I", 2: "II", 3: "bIII", 4: "III", 5: "IV", 7: "V", 8: "bVI", 9: "VI", 10: "bVII", 11: "VII"}


def roman(root: int, quality: str) -> str:
    """Roman numeral of a chord, relative to the tonic's major scale: ``(8, "M") -> "bVI"``, minor in lower case.

    Parameters
    ----------
    root : int in 0..11
        Semitones above the tonic.
    quality : {"M", "m"}
        Major or minor.

    Returns
    -------
    str
    """
    name = _ROMAN[root]
    return name.lower() if quality == "m" else name


def _held_bars(parts: Sequence[BarParts] | None, bar: int, bars_per_chord: int) -> int:
    """Bars a held chord starting at ``bar`` lasts: to the chord change, or where its section stops the chords."""
    if parts is None:
        return bars_per_chord
    n = 1
    while n < bars_per_chord - bar % bars_per_chord and bar + n < len(parts) and parts[bar + n].chords \
            and parts[bar + n].label == parts[bar].label:
        n += 1
    return n


def is_drum(role: str) -> bool:
    """True for the roles played on the GM percussion channel.

    Parameters
    ----------
    role : str
        A note's role (``"kick"``, ``"bass"``, ...).

    Returns
    -------
    bool
    """
    return role in DRUM_ROLES
