"""What each instrument plays per bar: patterns, and the parts that turn patterns, chords and melodies into hits.

Patterns are strings of 16 characters per bar (longer strings cycle bar by bar): ``X`` accent,
``x`` normal, ``-`` ghost, ``.`` rest; pitched patterns add ``o`` (octave up), ``f`` (fifth up) and
``=`` (tie: the previous note lasts one more step); :func:`parse` reads them.

A :data:`Part` plays one bar of a section through :meth:`workbench.demo.compose.Composer.hit`.
:class:`Parts` builds them (drums, bass, held roots, stabs, pads, arpeggios, melodies, rolls, one-shots);
:class:`~workbench.demo.compose.Composer` inherits it, so a style writes ``c.drums("kick", "x...")``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from workbench.demo.arrange import STEPS_PER_BAR, Note, Section, place, voicing

if TYPE_CHECKING:
    from workbench.demo.compose import Composer

_VELOCITY = {"X": 1.0, "x": 0.75, "-": 0.45, "o": 0.75, "f": 0.75}
_INTERVAL = {"o": 12, "f": 7}

#: A part adds the events of one bar: ``part(composer, section, bar_in_section, gain)`` (:data:`PART_PARAMETERS`).
Part = Callable[["Composer", Section, int, float], None]

#: What every :data:`Part` takes, in the numpydoc of each part :class:`Parts` builds (written once here).
PART_PARAMETERS = """

Parameters
----------
c : Composer
s : Section
    The section being played.
b : int >= 0
    Bar within the section.
gain : float
    Linear gain of the part in this section.
"""


def _bar_part(summary: str) -> Callable[[Part], Part]:
    """A decorator giving a part built by :class:`Parts` its docstring: ``summary`` and :data:`PART_PARAMETERS`."""
    def _document(part: Part) -> Part:
        part.__doc__ = summary + PART_PARAMETERS
        return part
    return _document


@lru_cache(maxsize=256)
def parse(pattern: str) -> tuple[tuple[tuple[int, float, int, int], ...], ...]:
    """Per bar, the hits of a pattern as ``(step, velocity, length_steps, interval)``.

    Parameters
    ----------
    pattern : str
        16 characters per bar: ``X x - o f`` are hits (``o`` an octave up, ``f`` a fifth up),
        ``=`` extends the previous hit by a step, anything else rests.

    Returns
    -------
    tuple of tuple
        Per bar, ``(step, velocity, length_steps, interval)`` per hit.
    """
    bars = []
    for start in range(0, len(pattern), STEPS_PER_BAR):
        chunk = pattern[start:start + STEPS_PER_BAR]
        hits: list[list[float]] = []
        for step, ch in enumerate(chunk):
            if ch == "=" and hits:
                hits[-1][2] += 1
            elif ch in _VELOCITY:
                hits.append([step, _VELOCITY[ch], 1, _INTERVAL.get(ch, 0)])
        bars.append(tuple((int(s), v, int(n), int(i)) for s, v, n, i in hits))
    return tuple(bars)


class Parts:
    """The part builders a :class:`~workbench.demo.compose.Composer` offers; each returns a :data:`Part`.

    None reads the composer it is called on: a part plays on the composer it is given, bar by bar.
    """

    def drums(self, name: str, pattern: str, *, variants: int = 1, skip_last_build_bar: bool = False) -> Part:
        """A drum pattern; ``variants`` one-shots alternate by step (round robin).

        Parameters
        ----------
        name : str
            The layer the events go to.
        pattern : str
            A pattern as :func:`parse` reads it.
        variants : int >= 1
            One-shot variants, alternated by step.
        skip_last_build_bar : bool
            Rest in the last bar of a build longer than 4 bars.

        Returns
        -------
        Part
        """
        bars = parse(pattern)

        @_bar_part("Play one bar of the drum pattern.")
        def _part(c: Composer, s: Section, b: int, gain: float) -> None:
            if skip_last_build_bar and s.label == "build" and b == s.n_bars - 1 and s.n_bars > 4:
                return
            for step, vel, _, _ in bars[b % len(bars)]:
                c.hit(name, s, b, step, (b * STEPS_PER_BAR + step) % variants, gain * vel)

        return _part

    def bass(self, name: str, pattern: str, *, low: int) -> Part:
        """A bass line on the chord roots (``low`` = lowest MIDI note of the root).

        Parameters
        ----------
        name : str
            The layer the events go to.
        pattern : str
            A pattern as :func:`parse` reads it; each hit's interval is added to the root.
        low : int
            Lowest MIDI note of the root.

        Returns
        -------
        Part
        """
        bars = parse(pattern)

        @_bar_part("Play one bar of the bass line.")
        def _part(c: Composer, s: Section, b: int, gain: float) -> None:
            root, _ = c.harmony.chord(b)
            midi = place(root, low)
            for step, vel, length, interval in bars[b % len(bars)]:
                c.hit(name, s, b, step, (midi + interval, length), gain * vel)

        return _part

    def held(self, name: str, *, low: int) -> Part:
        """The chord root held for the chord's whole length (``bars_per_chord`` bars).

        Parameters
        ----------
        name : str
            The layer the events go to.
        low : int
            Lowest MIDI note of the root.

        Returns
        -------
        Part
        """

        @_bar_part("Hold the chord root at the chord's first bar.")
        def _part(c: Composer, s: Section, b: int, gain: float) -> None:
            bpc = c.harmony.bars_per_chord
            if b % bpc == 0:
                root, _ = c.harmony.chord(b)
                c.hit(name, s, b, 0, (place(root, low), STEPS_PER_BAR * min(bpc, s.n_bars - b)), gain)

        return _part

    def stabs(self, name: str, pattern: str, *, low: int) -> Part:
        """Chord stabs (or held chords, with ties) voiced close from ``low``.

        Parameters
        ----------
        name : str
            The layer the events go to.
        pattern : str
            A pattern as :func:`parse` reads it.
        low : int
            Lowest MIDI note of the voicing.

        Returns
        -------
        Part
        """
        bars = parse(pattern)

        @_bar_part("Play one bar of stabs.")
        def _part(c: Composer, s: Section, b: int, gain: float) -> None:
            _, pcs = c.harmony.chord(b)
            chord = voicing(pcs, low)
            for step, vel, length, _ in bars[b % len(bars)]:
                c.hit(name, s, b, step, (chord, length), gain * vel)

        return _part

    def pad(self, name: str, *, low: int) -> Part:
        """Chords held for their whole length (``bars_per_chord`` bars), the root doubled an octave up.

        Parameters
        ----------
        name : str
            The layer the events go to.
        low : int
            Lowest MIDI note of the voicing.

        Returns
        -------
        Part
        """

        @_bar_part("Hold the chord at the chord's first bar.")
        def _part(c: Composer, s: Section, b: int, gain: float) -> None:
            bpc = c.harmony.bars_per_chord
            if b % bpc == 0:
                root, pcs = c.harmony.chord(b)
                length = STEPS_PER_BAR * min(bpc, s.n_bars - b)
                chord = (*voicing(pcs, low), place(root, low) + 12)
                c.hit(name, s, b, 0, (chord, length), gain)

        return _part

    def arp(self, name: str, order: Sequence[int], *, low: int, length: int = 1, rate: int = 1) -> Part:
        """Arpeggio every ``rate`` steps through chord tones (``order`` indexes tones, +3 = octave up).

        Parameters
        ----------
        name : str
            The layer the events go to.
        order : sequence of int
            Chord-tone indexes (0..2, +3 per octave up).
        low : int
            Lowest MIDI note of the voicing.
        length : int >= 1
            Note length in sixteenths.
        rate : int >= 1
            Sixteenths between notes.

        Returns
        -------
        Part
        """

        @_bar_part("Play one bar of the arpeggio.")
        def _part(c: Composer, s: Section, b: int, gain: float) -> None:
            _, pcs = c.harmony.chord(b)
            tones = voicing(pcs, low)
            for j, step in enumerate(range(0, STEPS_PER_BAR, rate)):
                idx = order[j % len(order)]
                midi = tones[idx % 3] + 12 * (idx // 3)
                vel = 1.0 if step % 4 == 0 else 0.8
                c.hit(name, s, b, step, (midi, length), gain * vel)

        return _part

    def line(self, name: str, notes: Sequence[Note], *, keyed: Callable[[Note], Hashable] | None = None) -> Part:
        """A melody cycling with the chord progression.

        Parameters
        ----------
        name : str
            The layer the events go to.
        notes : sequence of Note
            One progression cycle, as :func:`~workbench.demo.arrange.melody` makes it.
        keyed : callable or None
            The event key of a note; None means ``(midi, length)``.

        Returns
        -------
        Part
        """

        @_bar_part("Play the melody's notes of this bar.")
        def _part(c: Composer, s: Section, b: int, gain: float) -> None:
            cb = b % c.harmony.cycle_bars
            for note in notes:
                if note.bar == cb:
                    key = keyed(note) if keyed else (note.midi, note.length)
                    c.hit(name, s, b, note.step, key, gain * (1.0 if note.step % 4 == 0 else 0.85))

        return _part

    def roll(self, name: str) -> Part:
        """Snare roll accelerating across a section: quarters, eighths, sixteenths, then 32nds.

        Parameters
        ----------
        name : str
            The layer the events go to.

        Returns
        -------
        Part
        """

        @_bar_part("Play one bar of the roll.")
        def _part(c: Composer, s: Section, b: int, gain: float) -> None:
            u = b / s.n_bars
            rate = 4.0 if u < 0.25 else 2.0 if u < 0.5 else 1.0 if u < 0.75 else 0.5
            for step in np.arange(0.0, STEPS_PER_BAR, rate):
                v = (b + step / STEPS_PER_BAR) / s.n_bars
                c.hit(name, s, b, float(step), int(step * 2) % 3, gain * (0.3 + 0.7 * v))

        return _part

    def once(self, name: str, *, key: Callable[[Section], Hashable] | None = None) -> Part:
        """One event at the first beat of a section (crash, riser whose key holds the section length).

        Parameters
        ----------
        name : str
            The layer the events go to.
        key : callable or None
            The event key from the section; None means 0.

        Returns
        -------
        Part
        """

        @_bar_part("Play the event at the section's first bar.")
        def _part(c: Composer, s: Section, b: int, gain: float) -> None:
            if b == 0:
                c.hit(name, s, 0, 0, key(s) if key else 0, gain)

        return _part
