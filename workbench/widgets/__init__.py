"""Notebook widgets: views over the package's functions (no labeling rules of their own).

- :class:`Labeler`: label a track's sections on its beat grid (picture, buttons, keyboard,
  undo, playback, model suggestions).
- :class:`StatsGrid`: label counts against the minimum and readiness for training.
- :class:`TrackView`: the track picture itself (matplotlib, cached background).
- :class:`CompareWidget`, :class:`JobsWidget`: compare runs, follow training jobs.

Importing this package is cheap; ipywidgets and matplotlib load on first use of a name.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Labeler": "workbench.widgets.labeler",
    "StatsGrid": "workbench.widgets.stats",
    "TrackView": "workbench.widgets.trackview",
    "CompareWidget": "workbench.widgets.compare",
    "JobsWidget": "workbench.widgets.jobs",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
