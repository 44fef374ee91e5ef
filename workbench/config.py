"""Where things live: resolved from an explicit argument, then the environment, then defaults.

The workbench home is the folder that holds ``data/``, ``experiments/`` and ``models/``:
``$WORKBENCH_HOME`` when set, else the nearest folder at or above the current directory
that has a ``data/`` and a ``models/`` folder (so a notebook in ``notebooks/`` finds the
project's), else the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "WORKBENCH_HOME"
DB_ENV = "WORKBENCH_DB"
DB_FILENAME = "workbench.db"


def home(path: str | os.PathLike[str] | None = None) -> Path:
    """The workbench home folder (see the module docstring for the order of resolution)."""
    if path is not None:
        return Path(path).expanduser().resolve()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "data").is_dir() and (folder / "models").is_dir():
            return folder
    return cwd


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """``<home>/data``: user audio, the demo library and the SQLite database."""
    return Path(path).expanduser().resolve() if path is not None else home() / "data"


def db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The SQLite library: the argument, else ``$WORKBENCH_DB``, else ``<home>/data/workbench.db``."""
    if path is not None:
        return Path(path).expanduser().resolve()
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return data_dir() / DB_FILENAME


def demo_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Where the synthesized demo library is written: ``<home>/data/demo``."""
    return Path(path).expanduser().resolve() if path is not None else data_dir() / "demo"


def experiments_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """One folder per run: ``<home>/experiments``."""
    return Path(path).expanduser().resolve() if path is not None else home() / "experiments"


def models_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The versioned model registry: ``<home>/models``."""
    return Path(path).expanduser().resolve() if path is not None else home() / "models"
