"""The development set's styles and recording conditions: patterns, tempi, instruments.

A pattern is one or more 16-step bars per role: ``x`` a full hit, ``o`` a ghost (half
velocity), ``.`` a rest. Roles are drums (``kick``, ``snare``, ``clap``, ``hat``, ``ohat``,
``ride``, ``rim``, ``shaker``, ``conga_hi``, ``conga_lo``, ``bongo``, ``cowbell``, ``clave``,
``tom``, ``crash``) and pitched parts (``bass``, ``chords``, ``lead``). Drum note numbers and programs are
General MIDI, so the same pattern renders through FluidSynth or the numpy fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: General MIDI percussion keys (channel 10) of each drum role.
GM_DRUMS: dict[str, int] = {
    "kick": 36, "snare": 38, "clap": 39, "hat": 42, "ohat": 46, "ride": 51, "rim": 37,
    "shaker": 70, "conga_hi": 63, "conga_lo": 64, "bongo": 60, "cowbell": 56, "clave": 75,
    "tom": 45, "crash": 49,
}
DRUM_ROLES: frozenset[str] = frozenset(GM_DRUMS)

#: Recording conditions, assigned in turn so that every style meets several of them.
CONDITIONS: tuple[str, ...] = ("clean", "drift", "swing", "humanised", "lead_in", "detuned", "quiet",
                               "clipped", "drums_only")


@dataclass(frozen=True)
class DevStyle:
    """One style: tempo range, felt-tempo factor, drum patterns and instruments.

    ``felt`` is the felt tempo as a fraction of the notated ``bpm`` (0.5 for half-time styles).
    ``breaks`` (jungle) are alternative one-bar drum patterns chopped in per half bar.
    ``swing`` is the 16th-note swing ratio range (0.5 = straight, 0.66 = triplet).
    ``kit`` is the GM drum-kit program (0 standard, 16 power, 24 electronic, 25 TR-808).
    ``bass`` / ``chords`` are step patterns (``chords="-"``: chords held for their whole span);
    ``pedal`` keeps the bass on the tonic whatever the chord (psytrance's rolling bass).
    """

    name: str
    bpm_range: tuple[float, float]
    drums: dict[str, tuple[str, ...]]
    bass: str
    chords: str
    lead: str | None = None
    felt: float = 1.0
    swing: tuple[float, float] = (0.5, 0.5)
    kit: int = 0
    bass_program: int = 38
    chord_program: int = 89
    lead_program: int = 81
    bass_octave: int = 36
    bars_per_chord: int = 2
    pedal: bool = False
    breaks: tuple[dict[str, str], ...] = field(default_factory=tuple)


_HATS8 = "x.x.x.x.x.x.x.x."
_HATS16 = "xoxoxoxoxoxoxoxo"
_OFFHAT = "..x...x...x...x."
_FOUR = "x...x...x...x..."

STYLES: tuple[DevStyle, ...] = (
    DevStyle("dnb", (170, 176), {
        "kick": ("x.........x.....", "x.........x....."),
        "snare": ("....x.......x...", "....x.......x..o"),
        "hat": (_HATS8, "x.x.x.x.x.x.xxx."), "ride": ("..x...x...x...x.",)},
        bass="x-------x-----x-", chords="-", kit=0, bass_program=38, chord_program=89, bass_octave=28),
    DevStyle("jungle", (170, 176), {
        "kick": ("x.........x.....",), "snare": ("....x.......x...",), "hat": ("x.x.x.x.x.x.x.x.",)},
        bass="x-------------x-", chords="-", kit=8, bass_program=33, chord_program=48, bass_octave=28,
        breaks=(
            {"kick": "x.x.......xx....", "snare": "....x..o.o..x..o", "hat": "x.x.x.x.x.x.x.x."},
            {"kick": "x.........x.....", "snare": "....x..x.x..x...", "ride": "x.x.x.x.x.x.x.x."},
            {"kick": "x.x.......x..x..", "snare": "....x.......x.oo", "hat": "xxx.x.x.x.xxx.x."},
            {"kick": "x.....x...x.....", "snare": "..o.x.o.o.o.x..o", "hat": "x.x.x.x.x.x.x.x."},
        )),
    DevStyle("breakbeat", (126, 136), {
        "kick": ("x.....x...x.....", "x.....x.x......."),
        "snare": ("....x.......x..o", "....x..o....x..."),
        "hat": (_HATS8,), "ohat": ("..............x.",)},
        bass="x..x..x...x.x...", chords="x.....x.........", kit=0, bass_program=39, chord_program=4,
        bars_per_chord=1),
    DevStyle("dubstep", (138, 142), {
        "kick": ("x...............", "x.........x....."),
        "snare": ("........x.......",), "hat": ("x.x.x.x.x.x.x.x.", "x.x.x.x.x.xxx.x.")},
        bass="x.x.xxx.x...x.x.", chords="-", felt=0.5, kit=24, bass_program=39, chord_program=90,
        bass_octave=28),
    DevStyle("ukgarage", (128, 134), {
        "kick": ("x.........x.....", "x......x..x....."),
        "clap": ("....x.......x...",), "hat": (_OFFHAT,), "shaker": ("xoxoxoxoxoxoxoxo",),
        "rim": ("...x..x......x..",)},
        bass="x..x......x..x..", chords="...x..x.......x.", swing=(0.58, 0.66), kit=24, bass_program=38,
        chord_program=17, bars_per_chord=1),
    DevStyle("hiphop", (72, 98), {
        "kick": ("x......x..x.....", "x.x....x..x..x.."),
        "snare": ("....x.......x...",), "hat": (_HATS8,)},
        bass="x......x..x.....", chords="-", swing=(0.55, 0.62), kit=25, bass_program=33,
        chord_program=4, lead_program=11, lead="x...x...x...x..."),
    DevStyle("trap", (138, 150), {
        "kick": ("x......x..x.....", "x.........x..x.."),
        "snare": ("........x.......",), "hat": (_HATS16, "xoxoxoxoxxxxxoxo"), "clap": ("........x.......",)},
        bass="x......x..x.....", chords="-", felt=0.5, kit=25, bass_program=38, chord_program=52,
        bass_octave=28),
    DevStyle("hardstyle", (148, 152), {
        "kick": (_FOUR,), "hat": (_OFFHAT,), "clap": ("....x.......x...",)},
        bass="..x...x...x...x.", chords="x.-.x.-.x.-.x.-.", kit=16, bass_program=39, chord_program=81,
        lead="x.x.x.x.x.x.x.x.", lead_program=81),
    DevStyle("psytrance", (143, 147), {
        "kick": (_FOUR,), "hat": (_OFFHAT,), "ohat": ("..x...x...x...x.",), "clap": ("....x.......x...",)},
        bass=".xxx.xxx.xxx.xxx", chords="-", kit=24, bass_program=38, chord_program=94,
        lead="x.xxx.xxx.xxx.xx", lead_program=80, bars_per_chord=4, pedal=True),
    DevStyle("afrohouse", (120, 124), {
        "kick": (_FOUR,), "shaker": ("xoooxoooxoooxooo",), "hat": (_OFFHAT,),
        "conga_hi": ("..x..x...x.x..x.", "..x..x.x.x....x."), "conga_lo": ("x.....x.....x...",),
        "bongo": (".x.x...x.x.x...x",), "cowbell": ("x...x.x...x.x...",), "clave": ("x..x..x...x.x...",),
        "tom": ("..........x..x..",)},
        bass="x..x..x...x.....", chords="x..x......x.....", kit=0, bass_program=33, chord_program=0,
        lead="x.x...x.x.x.....", lead_program=12),
)
STYLE_NAMES: tuple[str, ...] = tuple(s.name for s in STYLES)


def style_by_name(name: str) -> DevStyle:
    """The :class:`DevStyle` called ``name``.

    Parameters
    ----------
    name : str
        One of ``STYLE_NAMES``.

    Returns
    -------
    DevStyle

    Raises
    ------
    ParameterError
        If there is no such style.
    """
    from workbench.errors import ParameterError

    for s in STYLES:
        if s.name == name:
            return s
    raise ParameterError(f"style must be one of {list(STYLE_NAMES)}; got {name!r}")
