"""Where things live: one workspace root, resolved from an argument, the environment, or defaults.

A workspace is one folder that holds ``data/`` (the SQLite database, caches, the demo library),
``experiments/`` (one folder per run) and ``models/`` (the versioned model registry). Every
command and notebook finds all three from the same root, whatever the current folder is.

The root is, in this order:

1. an explicit ``home`` argument (the CLI's ``--home``);
2. ``$WORKBENCH_HOME``;
3. the workspace of an explicit database (the CLI's ``--db``, ``Library(path)``) or of
   ``$WORKBENCH_DB``: a database ``<root>/data/<name>.db`` belongs to ``<root>``, any other
   ``<folder>/<name>.db`` to ``<folder>`` (so runs and models sit beside the database it was given,
   never in the current folder);
4. the nearest folder at or above the current directory that has both ``data/`` and ``models/``
   (so a notebook in ``notebooks/`` finds the project's);
5. the current directory.

The database is ``<root>/data/workbench.db`` unless one is given. Nothing here creates a file
or folder: resolving a workspace is a read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "WORKBENCH_HOME"
DB_ENV = "WORKBENCH_DB"
DB_FILENAME = "workbench.db"

PathArg = str | os.PathLike[str] | None


def _resolved(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().resolve()


def root_of_db(db: str | os.PathLike[str]) -> Path:
    """The workspace root a database file belongs to (see the module docstring, step 3).

    Parameters
    ----------
    db : str or os.PathLike
        The database file.

    Returns
    -------
    pathlib.Path
        The parent of its ``data/`` folder, else the folder that holds it.
    """
    p = _resolved(db)
    return p.parent.parent if p.parent.name == "data" else p.parent


@dataclass(frozen=True)
class Workspace:
    """The folders of one workspace, all absolute.

    Attributes
    ----------
    root : Path
        The workspace root.
    db : Path
        The SQLite library.
    """

    root: Path
    db: Path

    @property
    def data(self) -> Path:
        """``<root>/data``: the database (by default), caches, the demo library."""
        return self.root / "data"

    @property
    def experiments(self) -> Path:
        """``<root>/experiments``: one folder per training run."""
        return self.root / "experiments"

    @property
    def models(self) -> Path:
        """``<root>/models``: the versioned model registry."""
        return self.root / "models"

    @property
    def demo(self) -> Path:
        """``<root>/data/demo``: the synthesized demo library."""
        return self.data / "demo"

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to the root when it lies inside it, else absolute (for storing).

        Parameters
        ----------
        path : str or os.PathLike
            A file or folder; resolved first.

        Returns
        -------
        str
            A POSIX path relative to the root, or the absolute path.
        """
        p = _resolved(path)
        try:
            return p.relative_to(self.root).as_posix()
        except ValueError:
            return str(p)

    def absolute(self, stored: str) -> Path:
        """A stored path (relative to the root, or absolute) as an absolute path.

        Parameters
        ----------
        stored : str
            A path as :meth:`relative` stored it.

        Returns
        -------
        pathlib.Path
        """
        p = Path(stored)
        return p if p.is_absolute() else self.root / p

    def to_dict(self) -> dict[str, str]:
        """Every folder by name, as strings (for ``workbench info --json``)."""
        return {"root": str(self.root), "db": str(self.db), "data": str(self.data),
                "experiments": str(self.experiments), "models": str(self.models)}


def workspace(home: PathArg = None, *, db: PathArg = None) -> Workspace:
    """The workspace for an explicit home and/or database, else from the environment and defaults.

    Parameters
    ----------
    home : path-like or None
        The workspace root; ``None`` resolves it as the module docstring says.
    db : path-like or None
        The database; ``None`` means ``$WORKBENCH_DB``, else ``<root>/data/workbench.db``.
    """
    db_arg = db if db is not None else os.environ.get(DB_ENV) or None
    if home is not None:
        root = _resolved(home)
    elif os.environ.get(HOME_ENV):
        root = _resolved(os.environ[HOME_ENV])
    elif db_arg is not None:
        root = root_of_db(db_arg)
    else:
        root = _search_root()
    db_file = _resolved(db_arg) if db_arg is not None else root / "data" / DB_FILENAME
    return Workspace(root=root, db=db_file)


def how_found(home: PathArg = None, *, db: PathArg = None) -> str:
    """How :func:`workspace` chose the database for these arguments, in words (for a message that says where
    it looked).

    Parameters
    ----------
    home, db : path-like or None
        As :func:`workspace` takes them.

    Returns
    -------
    str
        E.g. ``"$WORKBENCH_HOME=/x"``, ``"the database given"`` or ``"the nearest folder at or above /x/notebooks
        with data/ and models/ ($WORKBENCH_HOME and $WORKBENCH_DB are not set)"``.
    """
    if db is not None:
        return "the database given"
    if os.environ.get(DB_ENV):
        return f"${DB_ENV}={os.environ[DB_ENV]}"
    if home is not None:
        return "the home given"
    if os.environ.get(HOME_ENV):
        return f"${HOME_ENV}={os.environ[HOME_ENV]}"
    cwd = Path.cwd().resolve()
    unset = f"${HOME_ENV} and ${DB_ENV} are not set"
    if _search_root() != cwd or ((cwd / "data").is_dir() and (cwd / "models").is_dir()):
        return f"the nearest folder at or above {cwd} with data/ and models/ ({unset})"
    return f"the current folder: no folder at or above it has data/ and models/ ({unset})"


def _search_root() -> Path:
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "data").is_dir() and (folder / "models").is_dir():
            return folder
    return cwd


def home(path: PathArg = None) -> Path:
    """The workspace root (see the module docstring for the order of resolution).

    Parameters
    ----------
    path : path-like or None
        The root; None resolves it from the environment and defaults.

    Returns
    -------
    pathlib.Path
    """
    return workspace(path).root


def data_dir(path: PathArg = None) -> Path:
    """``<root>/data``: user audio, the demo library and the SQLite database.

    Parameters
    ----------
    path : path-like or None
        An explicit folder (returned resolved); None means the workspace's.

    Returns
    -------
    pathlib.Path
    """
    return _resolved(path) if path is not None else workspace().data


def db_path(path: PathArg = None) -> Path:
    """The SQLite library: the argument, else ``$WORKBENCH_DB``, else ``<root>/data/workbench.db``.

    Parameters
    ----------
    path : path-like or None
        An explicit database file (returned resolved); None means the workspace's.

    Returns
    -------
    pathlib.Path
    """
    return _resolved(path) if path is not None else workspace().db


def demo_dir(path: PathArg = None) -> Path:
    """Where the synthesized demo library is written: ``<root>/data/demo``.

    Parameters
    ----------
    path : path-like or None
        An explicit folder (returned resolved); None means the workspace's.

    Returns
    -------
    pathlib.Path
    """
    return _resolved(path) if path is not None else workspace().demo


def experiments_dir(path: PathArg = None) -> Path:
    """One folder per run: ``<root>/experiments``.

    Parameters
    ----------
    path : path-like or None
        An explicit folder (returned resolved); None means the workspace's.

    Returns
    -------
    pathlib.Path
    """
    return _resolved(path) if path is not None else workspace().experiments


def models_dir(path: PathArg = None) -> Path:
    """The versioned model registry: ``<root>/models``.

    Parameters
    ----------
    path : path-like or None
        An explicit folder (returned resolved); None means the workspace's.

    Returns
    -------
    pathlib.Path
    """
    return _resolved(path) if path is not None else workspace().models
