"""Import coremltools without the messages it prints on a machine it does not fully support.

On import, coremltools logs (through the ``coremltools`` logger, which reaches stderr through
:data:`logging.lastResort`, a red block in a notebook) that its native Core ML runtime is missing on
Linux ("Failed to load _MLModelProxy ..."), that the installed torch or scikit-learn versions are
newer than it was tested with, and it may warn. None of it concerns the user: conversion works and
the parity check runs on :mod:`workbench.export.mil_eval`. :func:`coremltools` silences exactly these
messages, only while the module is imported; every other message of coremltools still shows.
"""

from __future__ import annotations

import logging
import warnings
from types import ModuleType

#: What coremltools logs on import on a machine without the macOS Core ML runtime (the export still works).
IMPORT_NOISE: tuple[str, ...] = ("Failed to load", "has not been tested with coremltools",
                                 "is not supported. Minimum required", "Disabling scikit-learn conversion")


class _DropImportNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to keep ``record`` (False for one of :data:`IMPORT_NOISE`).

        Parameters
        ----------
        record : logging.LogRecord
        """
        message = record.getMessage()
        return not any(text in message for text in IMPORT_NOISE)


def coremltools() -> ModuleType:
    """``import coremltools``, with its import-time noise (:data:`IMPORT_NOISE`) left out.

    Returns
    -------
    module
        The ``coremltools`` package (``ct = coremltools()``).
    """
    import sys

    if "coremltools" in sys.modules:
        return sys.modules["coremltools"]
    drop = _DropImportNoise()
    targets = [logging.getLogger("coremltools")]
    if logging.lastResort is not None:
        targets.append(logging.lastResort)  # type: ignore[arg-type]
    for t in targets:
        t.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"coremltools(\..*)?")
            import coremltools as ct
    finally:
        for t in targets:
            t.removeFilter(drop)
    return ct
