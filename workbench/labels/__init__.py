"""Section labels: the seven DJ labels, validation, the label store with undo/redo, statistics, import/export.

>>> from workbench.labels import Labels, LABELS                               # doctest: +SKIP
>>> labels = Labels(library)                                                   # doctest: +SKIP
>>> labels.add(track, "drop", start_beat=64, end_beat=96)                      # doctest: +SKIP
>>> labels.stats().missing                                                     # doctest: +SKIP
['Need more labels: drop 1/10', 'Need 2+ classes']

Modules: :mod:`~workbench.labels.core` (labels, colours, value objects, beat grid, errors),
:mod:`~workbench.labels.api` (:class:`Labels`, its public API listed there),
:mod:`~workbench.labels.history` (undo and redo, per track), :mod:`~workbench.labels.review`
(accept/reject suggestions, provenance, rejections), :mod:`~workbench.labels.status` (per-track
status, next unlabelled / least certain track), :mod:`~workbench.labels.gridfix` (downbeat shift
and grid nudge), :mod:`~workbench.labels.files` (import/export methods), :mod:`~workbench.labels.stats`,
:mod:`~workbench.labels.formats` (JSON, CSV, JAMS files).
"""

from workbench._lazy import lazy_exports
from workbench.labels.core import (
    ADD_OVERLAP_OPTIONS,
    LABEL_COLORS,
    LABEL_TEXT_COLORS,
    LABELS,
    MIN_BEATS,
    OVERLAP_OPTIONS,
    SOURCES,
    TRACK_STATUSES,
    WARN_BEATS,
    BeatGrid,
    Label,
    LabelError,
    LabelRowsError,
    LabelWarning,
    Rejection,
    Suggestion,
    contrast_ratio,
    too_short_note,
)

__all__ = ["ADD_OVERLAP_OPTIONS", "LABEL_TEXT_COLORS", "Rejection", "TRACK_STATUSES", "contrast_ratio", "too_short_note", "LABELS", "LABEL_COLORS", "MIN_BEATS", "OVERLAP_OPTIONS", "SOURCES", "WARN_BEATS", "BeatGrid",
           "FORMATS", "ImportSummary", "Label", "LabelError", "LabelRowsError", "LabelStats", "LabelWarning", "Labels",
           "Suggestion"]


# The store, statistics and file formats import the library (sqlite; numpy is already loaded by
# core): they load on first use so `from workbench.labels import LABELS` stays cheap.
__getattr__ = lazy_exports(__name__, {
    "Labels": "workbench.labels.api",
    "ImportSummary": "workbench.labels.transfer",
    "LabelStats": "workbench.labels.stats",
    "FORMATS": "workbench.labels.formats",
}, globals())[0]
