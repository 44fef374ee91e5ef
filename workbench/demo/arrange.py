"""Time grid, harmony, melodies and section plans of a demo track, and its ground truth.

Time is counted in 4/4 bars of 16 steps (sixteenth notes). Beat ``k`` of a track lies at exactly
``k * 60 / bpm`` seconds (the first beat at t = 0) and at sample ``round(k * 60 / bpm * sr)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.camelot import key_name, to_camelot

#: The section labels the ground truth uses.
SECTION_LABELS: tuple[str, ...] = ("intro", "build", "drop", "break", "outro", "verse", "chorus")

STEPS_PER_BAR = 16
BEATS_PER_BAR = 4
PHRASE_BARS = 4
NATURAL_MIN_S = 75.0
NATURAL_MAX_S = 120.0

SCALES: dict[str, tuple[int, ...]] = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
#: Chord symbol -> (root in semitones above the tonic, triad intervals).
CHORDS: dict[str, tuple[int, tuple[int, int, int]]] = {
    "i": (0, (0, 3, 7)), "iv": (5, (0, 3, 7)), "v": (7, (0, 3, 7)), "III": (3, (0, 4, 7)),
    "VI": (8, (0, 4, 7)), "VII": (10, (0, 4, 7)),
    "I": (0, (0, 4, 7)), "ii": (2, (0, 3, 7)), "IV": (5, (0, 4, 7)), "V": (7, (0, 4, 7)), "vi": (9, (0, 3, 7)),
}


@dataclass(frozen=True)
class Grid:
    """Tempo grid: ``bpm`` (exact), ``sr`` in Hz and the track length in bars."""

    bpm: float
    sr: int
    n_bars: int

    @property
    def beat_s(self) -> float:
        """Seconds per beat (quarter note)."""
        return 60.0 / self.bpm

    @property
    def bar_s(self) -> float:
        """Seconds per 4/4 bar."""
        return BEATS_PER_BAR * self.beat_s

    @property
    def n_samples(self) -> int:
        """Samples in the track: whole bars, rounded to the sample."""
        return self.sample(self.n_bars * BEATS_PER_BAR)

    def sample(self, beat: float) -> int:
        """Sample index of a beat position (beats from the start, fractional allowed).

        Parameters
        ----------
        beat : float >= 0
            Beats from the start.

        Returns
        -------
        int
        """
        return int(round(beat * self.beat_s * self.sr))

    def step_sample(self, bar: int, step: float) -> int:
        """Sample index of sixteenth ``step`` (0..15, fractional allowed) of ``bar``.

        Parameters
        ----------
        bar : int >= 0
            Bar from the start.
        step : float
            Sixteenth within the bar.

        Returns
        -------
        int
        """
        return self.sample(bar * BEATS_PER_BAR + step / 4.0)

    def steps_n(self, steps: float) -> int:
        """Length in samples of ``steps`` sixteenth notes.

        Parameters
        ----------
        steps : float >= 0
            Sixteenth notes.

        Returns
        -------
        int >= 1
        """
        return max(1, int(round(steps * self.beat_s * self.sr / 4.0)))


@dataclass(frozen=True)
class Section:
    """One arrangement section: ``label``, first bar and length in bars."""

    label: str
    start_bar: int
    n_bars: int

    @property
    def end_bar(self) -> int:
        """First bar after the section."""
        return self.start_bar + self.n_bars


@dataclass(frozen=True)
class SectionPlan:
    """A template slot: label, allowed lengths in bars (multiples of 4) and keep-priority (1 = keep first)."""

    label: str
    bars: tuple[int, ...]
    priority: int


@dataclass(frozen=True)
class Harmony:
    """Key and chord progression; chords change every ``bars_per_chord`` bars from each section start."""

    tonic_pc: int
    mode: str
    progression: tuple[str, ...]
    bars_per_chord: int

    @property
    def key(self) -> str:
        """Key name such as ``"A minor"``."""
        return key_name(self.tonic_pc, self.mode)

    @property
    def camelot(self) -> str:
        """Camelot code such as ``"8A"``."""
        return to_camelot(self.tonic_pc, self.mode)

    @property
    def cycle_bars(self) -> int:
        """Bars before the progression repeats."""
        return self.bars_per_chord * len(self.progression)

    def chord(self, bar_in_section: int) -> tuple[int, tuple[int, ...]]:
        """``(root pitch class, chord pitch classes)`` sounding in a bar of a section.

        Parameters
        ----------
        bar_in_section : int >= 0
            Bar counted from the section's start.

        Returns
        -------
        root : int in 0..11
        pcs : tuple of int
        """
        symbol = self.progression[(bar_in_section // self.bars_per_chord) % len(self.progression)]
        offset, triad = CHORDS[symbol]
        root = (self.tonic_pc + offset) % 12
        return root, tuple((root + i) % 12 for i in triad)

    def scale_midis(self, low: int, high: int) -> list[int]:
        """MIDI notes of the scale in ``low..high`` inclusive.

        Parameters
        ----------
        low, high : int
            MIDI range, inclusive.

        Returns
        -------
        list of int
        """
        pcs = {(self.tonic_pc + s) % 12 for s in SCALES[self.mode]}
        return [m for m in range(low, high + 1) if m % 12 in pcs]


def place(pc: int, low: int) -> int:
    """The MIDI note of pitch class ``pc`` in ``low .. low + 11``.

    Parameters
    ----------
    pc : int
        Pitch class (taken mod 12).
    low : int
        Lowest MIDI note.

    Returns
    -------
    int
    """
    return low + (pc - low) % 12


def voicing(pcs: Sequence[int], low: int) -> tuple[int, ...]:
    """Close voicing of pitch classes within one octave from ``low`` (smooth voice leading).

    Parameters
    ----------
    pcs : sequence of int
        Pitch classes.
    low : int
        Lowest MIDI note.

    Returns
    -------
    tuple of int
        MIDI notes, ascending.
    """
    return tuple(sorted(place(pc, low) for pc in pcs))


@dataclass(frozen=True)
class Note:
    """A melody note: bar in the cycle, sixteenth step, length in steps and MIDI pitch."""

    bar: int
    step: int
    length: int
    midi: int


def melody(rng: np.random.Generator, harmony: Harmony, rhythm: Sequence[tuple[int, int]], *, low: int,
           high: int) -> list[Note]:
    """A melody over one progression cycle: chord tones on strong steps, scale steps in between.

    ``rhythm`` lists ``(step, length)`` per bar. The cycle starts and ends on the tonic, so the
    key's tonic is the melody's centre.

    Parameters
    ----------
    rng : np.random.Generator
        Draws the steps.
    harmony : Harmony
        Key and progression.
    rhythm : sequence of (int, int)
        ``(step, length)`` in sixteenths, the same every bar.
    low, high : int
        MIDI range of the melody.

    Returns
    -------
    list of Note
        ``harmony.cycle_bars`` bars of notes.
    """
    scale = harmony.scale_midis(low, high)
    tonic_notes = [m for m in scale if m % 12 == harmony.tonic_pc]
    current = tonic_notes[len(tonic_notes) // 2] if tonic_notes else scale[len(scale) // 2]
    notes: list[Note] = []
    n_bars = harmony.cycle_bars
    for bar in range(n_bars):
        _, pcs = harmony.chord(bar)
        for j, (step, length) in enumerate(rhythm):
            last = bar == n_bars - 1 and j == len(rhythm) - 1
            if (bar == 0 and j == 0) or last:
                target = min(tonic_notes, key=lambda m: abs(m - current)) if tonic_notes else current
            elif step % 8 == 0:
                tones = [m for m in scale if m % 12 in pcs]
                near = sorted(tones, key=lambda m: abs(m - current))[:2]
                target = near[int(rng.integers(len(near)))]
            else:
                i = scale.index(min(scale, key=lambda m: abs(m - current)))
                i = int(np.clip(i + rng.choice((-2, -1, -1, 1, 1, 2)), 0, len(scale) - 1))
                target = scale[i]
            current = target
            notes.append(Note(bar, step, length, target))
    return notes


def plan_sections(rng: np.random.Generator, template: Sequence[SectionPlan], bar_s: float,
                  duration_s: float | None) -> list[Section]:
    """Choose section lengths and fit them to the natural length range or to ``duration_s``.

    Lengths are whole 4-bar phrases. With ``duration_s=None`` the drawn lengths stand unless the
    total falls outside 75..120 s; otherwise the track gets ``round(duration_s / phrase)``
    phrases (at least 3). A long track repeats the template's middle (its fourth section up to
    the one before the last, e.g. break -> build -> drop) while whole copies fit. Sections are
    dropped by priority when there are fewer phrases than sections, then shortened (longest
    first) or lengthened (most under its drawn length first).

    Parameters
    ----------
    rng : np.random.Generator
        Draws the section lengths.
    template : sequence of SectionPlan
        The style's sections in order, with their drawn lengths and drop priorities.
    bar_s : float > 0
        Seconds per bar.
    duration_s : float > 0 or None
        Target length in seconds; None keeps the natural length.

    Returns
    -------
    list of Section
        Contiguous from bar 0.
    """
    template = list(template)
    preferred = [int(rng.choice(p.bars)) // PHRASE_BARS for p in template]
    phrase_s = PHRASE_BARS * bar_s
    if duration_s is None:
        lo = math.ceil(NATURAL_MIN_S / phrase_s)
        hi = max(lo, math.floor(NATURAL_MAX_S / phrase_s))
        target = int(np.clip(sum(preferred), lo, hi))
    else:
        target = max(3, int(round(duration_s / phrase_s)))
        middle = list(range(3, len(template) - 1))
        extra = sum(preferred[i] for i in middle)
        while middle and sum(preferred) + extra <= target:
            at = len(template) - 1
            template[at:at] = [SectionPlan(template[i].label, template[i].bars, 100 + len(template)) for i in middle]
            preferred[at:at] = [preferred[i] for i in middle]
    order = sorted(range(len(template)), key=lambda i: template[i].priority)
    keep = sorted(order[: min(target, len(template))])
    lengths = {i: preferred[i] for i in keep}
    while sum(lengths.values()) > target:
        i = max(keep, key=lambda i: (lengths[i], template[i].priority))
        lengths[i] -= 1
    while sum(lengths.values()) < target:
        i = min(keep, key=lambda i: (lengths[i] / preferred[i], template[i].priority))
        lengths[i] += 1
    sections = []
    bar = 0
    for i in keep:
        sections.append(Section(template[i].label, bar, lengths[i] * PHRASE_BARS))
        bar += lengths[i] * PHRASE_BARS
    return sections


def energy_curve(audio: npt.NDArray[np.float32], sr: int, hop_s: float) -> list[float]:
    """Per-hop energy in 0..1: ``clip(1 + rms_dBFS / 40, 0, 1)`` of the mono mix, hops of ``hop_s``.

    Parameters
    ----------
    audio : np.ndarray [shape=(n, channels), dtype=float32]
    sr : int > 0
        Sample rate in Hz.
    hop_s : float > 0
        Hop in seconds.

    Returns
    -------
    list of float
        ``ceil(n / hop)`` values in [0, 1], the last hop possibly shorter.
    """
    mono = (audio[:, 0] + audio[:, 1]) * np.float32(0.5) if audio.shape[1] == 2 else audio.mean(axis=1)
    hop = max(1, int(round(hop_s * sr)))
    n_hops = math.ceil(mono.size / hop)
    padded = np.zeros(n_hops * hop, dtype=np.float32)
    padded[: mono.size] = mono
    counts = np.full(n_hops, hop, dtype=np.float64)
    counts[-1] = mono.size - (n_hops - 1) * hop
    rms = np.sqrt(np.square(padded).reshape(n_hops, hop).sum(axis=1, dtype=np.float64) / counts)
    db = 20.0 * np.log10(np.maximum(rms, 1e-10))
    return [round(float(v), 4) for v in np.clip(1.0 + db / 40.0, 0.0, 1.0)]


def truth_timeline(grid: Grid, sections: Sequence[Section]) -> dict[str, object]:
    """Beats, downbeats and sections in seconds (6 decimals); the last section ends at the file's end.

    Parameters
    ----------
    grid : Grid
    sections : sequence of Section
        Contiguous, the last ending at ``grid.n_bars``.

    Returns
    -------
    dict
        ``duration_s``, ``beats``, ``downbeats`` (seconds) and ``sections``
        (``start_s``, ``end_s``, ``label``).
    """
    duration_s = grid.n_samples / grid.sr
    beats = [round(k * grid.beat_s, 6) for k in range(grid.n_bars * BEATS_PER_BAR)]
    downbeats = beats[::BEATS_PER_BAR]
    out_sections = []
    for s in sections:
        end = round(duration_s, 6) if s.end_bar == grid.n_bars else downbeats[s.end_bar]
        out_sections.append({"start_s": downbeats[s.start_bar], "end_s": end, "label": s.label})
    return {"duration_s": round(duration_s, 6), "beats": beats, "downbeats": downbeats, "sections": out_sections}
