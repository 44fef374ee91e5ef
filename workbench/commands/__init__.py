"""Subcommands of the ``workbench`` CLI, one module per area.

Each module listed in :data:`MODULES` defines ``register(sub)``, which adds its subparsers to
the CLI's ``add_subparsers()`` object and sets ``func`` on each to a handler
``(args: argparse.Namespace) -> int``. These modules must stay cheap to import: handlers
import torch, the training code and the like inside their bodies.

Handlers get the global options as ``args.db`` (library path or None), ``args.home`` and
``args.quiet``. :func:`workbench.cli.main` has already put the workspace they name into
``$WORKBENCH_HOME`` and ``$WORKBENCH_DB`` for the length of the command, so every default
(:mod:`workbench.config`) resolves to the same root. A command that only reads opens the library
with :func:`open_library` (``create=False``): a missing database is an error, never created.
A command that lists or reports takes ``--json`` (:func:`add_json`) and writes with
:func:`print_json`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import NoLibraryError  # in errors.py since Library raises it too
from workbench.wording import agree, count_of, count_verb  # noqa: F401  (the commands' counts in words)

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Workspace
    from workbench.library import Library

#: Area modules, in the order their commands appear in ``workbench --help``.
MODULES: tuple[str, ...] = ("library", "analysis", "crates", "labels", "suggest", "train", "runs", "export", "qa", "style")


def register_all(sub: argparse._SubParsersAction) -> None:
    """Let every area module add its subcommands.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()`` object.
    """
    for name in MODULES:
        importlib.import_module(f"workbench.commands.{name}").register(sub)


def workspace_of(args: argparse.Namespace) -> Workspace:
    """The workspace of this command (``--home``, ``--db``, the environment, the defaults).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line (``home`` and ``db`` may be absent or None).

    Returns
    -------
    Workspace
    """
    from workbench import config

    return config.workspace(getattr(args, "home", None), db=getattr(args, "db", None))


def open_library(args: argparse.Namespace, *, create: bool = False) -> Library:
    """The command's library; with ``create=False`` a missing database is a :class:`NoLibraryError`
    (nothing is created: neither the file nor its folder).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line (``home``, ``db``).
    create : bool
        Create the database (and its folder) when missing.

    Returns
    -------
    Library
        Open; the caller closes it (``with``).

    Raises
    ------
    NoLibraryError
        ``create`` is false and the database file does not exist.
    """
    from workbench.library import Library

    ws = workspace_of(args)
    if ws.db.is_dir() or (not create and not ws.db.is_file()):
        raise NoLibraryError(missing_library_said(args))
    return Library(ws.db)


def missing_library_said(args: argparse.Namespace) -> str:
    """Why the command has no library: where it looked, how that place was found, and how to make one (the
    notebooks' wording, :func:`workbench.library.missing_library_said`, told for the command line).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line (``home``, ``db``).

    Returns
    -------
    str
    """
    from workbench import config
    from workbench.library import missing_library_said as said

    how = getattr(args, "workspace_how", None)  # read by the CLI before it sets $WORKBENCH_HOME and $WORKBENCH_DB
    if how is None:
        how = config.how_found(getattr(args, "home", None), db=getattr(args, "db", None))
    return said(workspace_of(args).db, how, cli=True)


def add_json(parser: argparse.ArgumentParser) -> None:
    """Give a listing or report command its ``--json`` option.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.
    """
    parser.add_argument("--json", action="store_true",
                        help="print JSON for scripts (fields: see README, 'Command line and --json fields')")


def jsonable(value: Any) -> Any:
    """``value`` with paths as strings, numpy scalars as numbers, NaN as ``null``, tuples as lists.

    Parameters
    ----------
    value : Any
        A JSON-like value: dicts, lists, tuples, sets, paths, numbers, numpy scalars, strings.

    Returns
    -------
    Any
        The same structure with only JSON types (dict keys as strings).
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_json(value: Any) -> None:
    """Write ``value`` as indented JSON to stdout (one document, newline-terminated).

    Parameters
    ----------
    value : Any
        A JSON-like value (see :func:`jsonable`).
    """
    sys.stdout.write(json.dumps(jsonable(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()
