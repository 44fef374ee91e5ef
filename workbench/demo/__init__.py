"""The synthesized demo library: DJ-style tracks with exact ground truth.

Six styles (:data:`STYLES`: trance, progressive, techno, house, dnb, downtempo), each with its
own drums, bass, harmony and timbre, randomised per track (key over all 24 keys, tempo within a
few BPM of the style's centre, section lengths, instrument parameters). The ground truth is
exact by construction: the first beat is at t = 0 s, beats fall every ``60 / bpm`` s where the
kick or percussion hits, sections lie on bar starts, and the key's tonic chord opens every
section and is the most frequent chord.

>>> from workbench.demo import synthesize_library, load_truth
>>> tracks = synthesize_library("data/demo", n_tracks=6, seed=0)   # doctest: +SKIP
>>> load_truth(tracks[0].truth_path)["bpm"]                       # doctest: +SKIP
138.0

Modules: :mod:`~workbench.demo.instruments` (one-shot synthesis), :mod:`~workbench.demo.arrange`
(grid, harmony, sections, truth), :mod:`~workbench.demo.compose` (patterns to events),
:mod:`~workbench.demo.styles` (the six styles), :mod:`~workbench.demo.render` (mixing) and
:mod:`~workbench.demo.library` (files). Importing does no work: no files, no randomness.
"""

from __future__ import annotations

from workbench.demo.arrange import SECTION_LABELS
from workbench.demo.library import (
    ARTIST,
    DemoTrack,
    load_truth,
    synthesize_library,
    synthesize_track,
    title_of,
)
from workbench.demo.styles import STYLES

__all__ = ["ARTIST", "SECTION_LABELS", "STYLES", "DemoTrack", "load_truth", "synthesize_library",
           "synthesize_track", "title_of"]
