"""QA flags for the library: tracks that need review before they pollute training.

Measured once per file (:func:`qa_library`): long silences, clipping, DC offset, near-mono or
phase-cancelling stereo, low bandwidth (low-bitrate or upsampled transcodes) and an audio
fingerprint for duplicates; read with the track's analysis (no beat, unsteady tempo, low key
confidence). Each flag carries its measured value and threshold (:data:`RULES`).

>>> from workbench.qa import qa_library, qa_report
>>> qa_library(lib)                                         # doctest: +SKIP
>>> [r.to_dict() for r in qa_report(lib) if r.needs_review]  # doctest: +SKIP

Command line: ``workbench qa [--json]``, ``workbench qa keep TRACK``. Importing does no work.
"""

from workbench._lazy import lazy_exports

_EXPORTS = {
    "RULES": "workbench.qa.flags",
    "Flag": "workbench.qa.flags",
    "Rule": "workbench.qa.flags",
    "AudioMeasures": "workbench.qa.measures",
    "measure_audio": "workbench.qa.measures",
    "QaSummary": "workbench.qa.library_qa",
    "TrackQa": "workbench.qa.library_qa",
    "excluded_track_ids": "workbench.qa.library_qa",
    "keep_track": "workbench.qa.library_qa",
    "qa_library": "workbench.qa.library_qa",
    "qa_report": "workbench.qa.library_qa",
    "unkeep_track": "workbench.qa.library_qa",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
