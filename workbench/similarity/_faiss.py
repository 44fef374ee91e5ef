"""FAISS, imported on first use (importing :mod:`workbench.similarity` loads numpy only)."""

from __future__ import annotations

from typing import Any


def load_faiss() -> Any:
    """The ``faiss`` module.

    Raises
    ------
    ImportError
        FAISS is not installed (with the command that installs it).
    """
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "SimilarityIndex needs FAISS: pip install faiss-cpu (or the 'workbench[torch]' extra)"
        ) from exc
    return faiss
