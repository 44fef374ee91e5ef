"""A development set for the analysis that is not the one it was tuned on.

A second, independent generator (it shares no code with :mod:`workbench.demo`): ten styles the
demo lacks or plays too regularly (:data:`~workbench.devset.styles.STYLE_NAMES`: drum & bass,
jungle with chopped breaks, breakbeat, dubstep, UK garage, hip-hop, trap, hardstyle, psytrance,
afro house) under recording conditions (:data:`~workbench.devset.styles.CONDITIONS`: tempo
drift, swing, humanised timing, silent lead-in, detuned tuning, quiet and clipped masters,
drums only). Notes are written as General MIDI and rendered with FluidSynth and a GM soundfont
when both are installed (``apt-get install fluidsynth fluid-soundfont-gm``), else with a numpy
synthesizer; each truth JSON names its renderer. Ground truth is exact: beats, downbeats, the
per-beat tempo curve, felt tempo (half of the notated tempo for dubstep and trap), key (``None``
for drums only) and a ``split``: ``"held_out"`` tracks stay out of every tuning decision.
With ``sections=True`` (``--sections``) tracks are arranged in DJ sections (intro, build,
drop, break, outro; verse and chorus for hip-hop and trap: :mod:`~workbench.devset.arrange`) and
their truth adds ``sections``: the section model's second, independently made set
(``benchmarks/bench_sections_devset.py``). Without it the truth is what it always was.

>>> from workbench.devset import write_set, load_devset
>>> write_set("data/devset", per_style=3, seed=0)         # doctest: +SKIP
>>> [t["split"] for t in load_devset("data/devset")][:3]  # doctest: +SKIP
['dev', 'dev', 'dev']

Command line: ``python -m workbench.devset OUT --per-style 3 --seed 0``. Scores against the
truth: :mod:`workbench.evaluate.analysis`; the side-by-side benchmark with essentia and librosa:
``benchmarks/bench_analysis_peers.py``. Importing does no work.
"""

from __future__ import annotations

from workbench.devset.generate import load_devset, make_track, split_of, write_set
from workbench.devset.styles import CONDITIONS, STYLE_NAMES, STYLES

__all__ = ["CONDITIONS", "STYLES", "STYLE_NAMES", "load_devset", "make_track", "split_of", "write_set"]
