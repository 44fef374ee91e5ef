"""Track analysis: beats and downbeats, BPM, key (Camelot), energy, loudness.

>>> from workbench.analysis import analyze, BpmPrior
>>> a = analyze(y, sr=44100, bpm_prior=BpmPrior.trance())   # doctest: +SKIP
>>> a.bpm, a.camelot, a.energy, a.loudness_lufs             # doctest: +SKIP
"""

from workbench.analysis.batch import AnalysisSummary, analyze_library, analyze_track, stored_analysis
from workbench.analysis.beats import BeatGrid, BpmPrior
from workbench.analysis.core import Analysis, analyze

__all__ = ["Analysis", "AnalysisSummary", "BeatGrid", "BpmPrior", "analyze", "analyze_library",
           "analyze_track", "stored_analysis"]
