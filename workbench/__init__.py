"""workbench: a Jupyter-centric research and training workbench for music audio.

Importing the package is cheap: names below load their module on first use.

>>> import workbench
>>> lib = workbench.Library()            # doctest: +SKIP
>>> y, sr = workbench.load("track.flac")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Library": "workbench.library",
    "Track": "workbench.library",
    "ScanSummary": "workbench.library",
    "load": "workbench.audio",
    "synthesize_library": "workbench.demo",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
