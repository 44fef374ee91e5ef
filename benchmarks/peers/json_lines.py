"""One JSON line per file for the peer scripts (standard library only: it runs inside every peer's own venv)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any


def print_answers(paths: Iterable[str], answer: Callable[[str], dict[str, Any]]) -> int:
    """Print ``answer(path)`` as one JSON line per path; a failing file prints ``{"path", "error"}`` instead.

    Parameters
    ----------
    paths : iterable of str
        Audio files, in order.
    answer : callable
        The peer's analysis of one file, a JSON-serialisable dict.

    Returns
    -------
    int
        0 (one bad file never stops the run; its line says why).
    """
    for path in paths:
        try:
            out = answer(path)
        except Exception as exc:  # one bad file never stops the run
            out = {"path": path, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(out), flush=True)
    return 0
