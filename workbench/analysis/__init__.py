"""Track analysis: beats and downbeats, BPM, key (Camelot), energy, loudness.

>>> from workbench.analysis import analyze, BpmPrior
>>> a = analyze(y, sr=44100, bpm_prior=BpmPrior.trance())   # doctest: +SKIP
>>> a.bpm, a.camelot, a.energy, a.loudness_lufs             # doctest: +SKIP

In a library, every consumer reads :func:`track_analysis`: the stored analysis under the
track's stored settings (:func:`set_analysis_settings`), with its correction
(:func:`correct_track`) on top.
"""

from workbench.analysis.batch import (
    AnalysisSummary,
    analyze_library,
    analyze_track,
    stored_analysis,
    track_analysis,
)
from workbench.analysis.beats import BeatGrid, BpmPrior
from workbench.analysis.core import Analysis, analyze
from workbench.analysis.corrections import (
    Correction,
    clear_correction,
    correct_track,
    get_correction,
    list_corrections,
)
from workbench.analysis.settings import (
    AnalysisSettings,
    StoredSettings,
    clear_analysis_settings,
    effective_settings,
    get_analysis_settings,
    list_analysis_settings,
    parse_prior,
    set_analysis_settings,
)

__all__ = ["Analysis", "AnalysisSettings", "AnalysisSummary", "BeatGrid", "BpmPrior", "Correction", "StoredSettings",
           "analyze", "analyze_library", "analyze_track", "clear_analysis_settings", "clear_correction",
           "correct_track", "effective_settings", "get_analysis_settings", "get_correction", "list_analysis_settings",
           "list_corrections", "parse_prior", "set_analysis_settings", "stored_analysis", "track_analysis"]
