"""The six demo styles: tempo, key, form, and the instruments and patterns of each section.

Every style is a ``compose(composer) -> layers`` function plus a :class:`StyleSpec` with its
tempo range, modes, chord progressions, section template and section energies. Instrument
parameters (detune, cut-off, decay, pattern variants, progressions) are drawn per track.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from workbench.demo.arrange import SectionPlan
from workbench.demo.compose import Composer
from workbench.demo.composers import dnb, downtempo, house, progressive, techno, trance
from workbench.demo.render import Layer
from workbench.demo.shared_layers import (  # noqa: F401  (re-exported: were defined here)
    _bass,
    _build_fx,
    _clap,
    _hats,
    _kick,
    _saw_lead,
    _snare,
    _supersaw,
    _tuned,
    _vocal,
)

# Above: the composers and their shared layers live in sibling modules (issue 15: no module over 500
# lines); every name, public and private, is re-exported from here.

MINOR_PROGRESSIONS = (("i", "VI", "i", "VII"), ("i", "i", "VI", "VII"), ("i", "iv", "i", "VII"),
                      ("i", "VI", "VII", "i"))
MAJOR_PROGRESSIONS = (("I", "V", "I", "IV"), ("I", "IV", "I", "V"), ("I", "IV", "V", "I"), ("I", "I", "IV", "V"))
TECHNO_PROGRESSIONS = (("i", "i", "VI", "i"), ("i", "i", "iv", "i"), ("i", "i", "i", "VII"))

EDM_FORM = ("intro", "build", "drop", "break", "build", "drop", "outro")
EDM_PRIORITY = (2, 3, 1, 4, 7, 6, 5)


def _edm(*bars: tuple[int, ...]) -> tuple[SectionPlan, ...]:
    return tuple(SectionPlan(label, b, p) for label, b, p in zip(EDM_FORM, bars, EDM_PRIORITY, strict=True))


@dataclass(frozen=True)
class StyleSpec:
    """Tempo range (BPM), modes, progressions, bars per chord, section template and energies (1..10)."""

    name: str
    bpm_range: tuple[float, float]
    modes: tuple[str, ...]
    progressions: dict[str, tuple[tuple[str, ...], ...]]
    bars_per_chord: tuple[int, ...]
    template: tuple[SectionPlan, ...]
    energy: dict[str, int]
    compose: Callable[[Composer], list[Layer]]


def _plans(spec: tuple[tuple[str, tuple[int, ...], int], ...]) -> tuple[SectionPlan, ...]:
    return tuple(SectionPlan(label, bars, prio) for label, bars, prio in spec)


_EDM_ENERGY = {"intro": 3, "build": 6, "drop": 9, "break": 4, "outro": 3, "verse": 5, "chorus": 7}

SPECS: dict[str, StyleSpec] = {
    "trance": StyleSpec("trance", (136.0, 140.0), ("minor",), {"minor": MINOR_PROGRESSIONS}, (1,),
                        _edm((8,), (4, 8), (8, 16), (8,), (4,), (8, 16), (4, 8)),
                        {**_EDM_ENERGY, "drop": 10}, trance),
    "progressive": StyleSpec("progressive", (126.0, 130.0), ("minor", "major"),
                             {"minor": MINOR_PROGRESSIONS, "major": MAJOR_PROGRESSIONS}, (1, 2),
                             _edm((8,), (8,), (8, 16), (8,), (8,), (8,), (4, 8)),
                             {**_EDM_ENERGY, "drop": 8, "build": 6}, progressive),
    "techno": StyleSpec("techno", (130.0, 134.0), ("minor",), {"minor": TECHNO_PROGRESSIONS}, (1, 2),
                        _edm((8, 16), (4,), (8, 16), (4, 8), (4,), (8, 16), (8,)),
                        {**_EDM_ENERGY, "intro": 4, "break": 3, "outro": 4}, techno),
    "house": StyleSpec("house", (122.0, 126.0), ("major", "minor"),
                       {"minor": MINOR_PROGRESSIONS, "major": MAJOR_PROGRESSIONS}, (1,),
                       _plans((("intro", (8,), 2), ("verse", (8,), 3), ("chorus", (8,), 1), ("break", (4, 8), 5),
                               ("build", (4,), 6), ("drop", (8,), 4), ("outro", (4, 8), 7))),
                       {**_EDM_ENERGY, "drop": 8}, house),
    "dnb": StyleSpec("dnb", (170.0, 176.0), ("minor",), {"minor": MINOR_PROGRESSIONS}, (1, 2),
                     _edm((8, 16), (8,), (16,), (8,), (4, 8), (16,), (8,)),
                     {**_EDM_ENERGY, "drop": 10, "build": 7}, dnb),
    "downtempo": StyleSpec("downtempo", (86.0, 94.0), ("minor", "major"),
                           {"minor": MINOR_PROGRESSIONS, "major": MAJOR_PROGRESSIONS}, (1, 2),
                           _plans((("intro", (4,), 3), ("verse", (8,), 1), ("chorus", (4, 8), 2),
                                   ("break", (4,), 7), ("verse", (4, 8), 5), ("chorus", (8,), 6),
                                   ("outro", (4,), 4))),
                           {"intro": 2, "verse": 4, "chorus": 6, "break": 3, "outro": 2, "build": 5, "drop": 7},
                           downtempo),
}

STYLES: tuple[str, ...] = tuple(SPECS)


def draw_bpm(rng: np.random.Generator, spec: StyleSpec) -> float:
    """A tempo in the style's range, in steps of 0.5 BPM.

    Parameters
    ----------
    rng : np.random.Generator
    spec : StyleSpec
        Its ``bpm_range`` (BPM, inclusive) bounds the draw.

    Returns
    -------
    float
        BPM.
    """
    lo, hi = spec.bpm_range
    return float(lo + 0.5 * int(rng.integers(0, int(round(2 * (hi - lo))) + 1)))
