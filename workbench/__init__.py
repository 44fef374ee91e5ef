"""workbench: a Jupyter-centric research and training workbench for music audio.

Importing the package is cheap: names below load their module on first use.

>>> import workbench
>>> lib = workbench.Library()            # doctest: +SKIP
>>> y, sr = workbench.load("track.flac")  # doctest: +SKIP
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "Library": "workbench.library",
    "Track": "workbench.library",
    "ScanSummary": "workbench.library",
    "load": "workbench.audio",
    "synthesize_library": "workbench.demo",
}

__all__ = ["__version__", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
