"""The z-scoring of a bare backbone's window vectors in a saved search index: ``standardize-windows.npz``.

:meth:`workbench.search.LibrarySearch.rebuild` fits each dimension's mean and standard deviation over the
library's windows (:func:`fit_window_stats`, saved beside the index); queries and tracks added later are scaled with
them until the next rebuild. A search keeps the statistics its loaded index was built with, read once per index
load or build, not from disk at every query (:func:`read_window_stats` is the one reader of the file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.embed.features import standardize
from workbench.fileio import atomic_write

#: The statistics' file, beside the index's own files.
STATS_FILE = "standardize-windows.npz"

#: ``(mean, std)`` [shape=(d,) each].
WindowStats = tuple[np.ndarray, np.ndarray]


def read_window_stats(folder: Path) -> WindowStats | None:
    """The saved ``(mean, std)`` in an index folder, or None when there are none.

    Parameters
    ----------
    folder : Path
        The index's folder (``<db folder>/similarity/<backbone>/``).

    Returns
    -------
    (np.ndarray, np.ndarray) or None
        Each of shape ``(d,)``.
    """
    path = Path(folder) / STATS_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return data["mean"], data["std"]


def fit_window_stats(folder: Path, pooled: np.ndarray) -> WindowStats | None:
    """Fit the z-scoring over a library's windows and save it in ``folder`` (atomically); with fewer than two
    windows (z-scoring would zero the one), none: the file is removed and None returned.

    Parameters
    ----------
    folder : Path
        The index's folder (created if missing).
    pooled : np.ndarray [shape=(n, d)]
        Every indexed track's window vectors, stacked.

    Returns
    -------
    (np.ndarray, np.ndarray) or None
        ``(mean, std)``, each of shape ``(d,)``; stds below 1e-6 are 1 (:func:`workbench.embed.features.standardize`).
    """
    folder = Path(folder)
    if len(pooled) < 2:
        (folder / STATS_FILE).unlink(missing_ok=True)
        return None
    _, mean, std = standardize(pooled)
    folder.mkdir(parents=True, exist_ok=True)

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, mean=mean, std=std)

    atomic_write(folder / STATS_FILE, _write)
    return mean, std
