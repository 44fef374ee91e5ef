"""Notebook widgets: views over the package's functions (no labeling rules of their own).

- :class:`WebLabeler`: label a track's sections with the mouse (wavesurfer.js waveform,
  spectrogram, zoom, regions to drag and resize, suggestions); notebook 02 shows it.
- :class:`Labeler`: the earlier labeler (a picture with buttons; no Node.js needed).
- :class:`StatsGrid`: label counts against the minimum and readiness for training.
- :class:`TrackView`: the track picture itself (matplotlib, cached background).
- :class:`CompareWidget`, :class:`JobsWidget`: compare runs, follow training jobs.
- :class:`AugmentPreview`: listen to and look at augmented views of a clip.

One convention for every widget: an ``ipywidgets`` container subclass (``VBox``) whose
user-visible state is traitlets, every user action a method, and the view built in ``_build``
with no logic of its own (``x.widget`` is ``x``, for notebooks written before). :class:`TrackView`
is not a widget: it renders the Labeler's picture to PNG bytes.

Importing this package is cheap; ipywidgets and matplotlib load on first use of a name.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_LAZY = {
    "WebLabeler": "workbench.widgets.labeler_web",
    "Labeler": "workbench.widgets.labeler",
    "StatsGrid": "workbench.widgets.stats",
    "TrackView": "workbench.widgets.trackview",
    "CompareWidget": "workbench.widgets.compare",
    "JobsWidget": "workbench.widgets.jobs",
    "AugmentPreview": "workbench.widgets.augment_preview",
    "neighbour_tracks": "workbench.widgets.neighbours",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
