"""The ``workbench`` command line: the same package functions the notebooks call.

This module only assembles the parser and runs a command; the commands live in
:mod:`workbench.commands` (one module per area). :func:`main` decides the workspace once, from
``--home``, ``--db``, ``$WORKBENCH_HOME``, ``$WORKBENCH_DB`` and the defaults
(:func:`workbench.config.workspace`), and sets ``$WORKBENCH_HOME`` and ``$WORKBENCH_DB`` to it
for the length of the command (restored afterwards), so every default path in the package, and
any process a command starts, resolves to the same root whatever the current folder is.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from workbench import __version__
from workbench.errors import WorkbenchError

#: Third-party modules whose deprecation and future warnings mean nothing to a user of the CLI.
NOISY_MODULES = r"(sklearn|numba|librosa|torch|torchaudio|coremltools|audioread|h5py|pandas|dask|distributed)(\..*)?"

#: What coremltools logs on import on a machine without the macOS Core ML runtime (the export still works).
COREMLTOOLS_NOISE = ("Failed to load", "has not been tested with coremltools", "is not supported. Minimum required",
                     "Disabling scikit-learn conversion")


#: A value that starts with a minus and is still a value, not an option: a number or numbers joined by
#: commas (``--weights -1,1,1,1``, ``--min-score -0.5``).
NEGATIVE_VALUE = re.compile(r"^-(\d+\.?\d*|\.\d+)(,-?(\d+\.?\d*|\.\d+))*$")


class _Parser(argparse.ArgumentParser):
    """argparse, except that a list of numbers that starts with a minus is an option's value.

    argparse takes only one number (``-1``, ``-.5``) that starts with a minus for a value: it read
    ``--weights -1,1,1,1`` as an option ``-1,1,1,1`` and said only "expected one argument", where
    ``--weights=-1,1,1,1`` reached the option's own message (the value and what is allowed).
    Subcommands' parsers are of this class too (argparse makes them of the parent's class).
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._negative_number_matcher = NEGATIVE_VALUE


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(
        prog="workbench",
        description="A research and training workbench for music audio, on your own library.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("--home", default=None, metavar="DIR",
                        help="the workspace root: data/ (database, caches), experiments/, models/ "
                             "(default: $WORKBENCH_HOME, else the workspace of --db/$WORKBENCH_DB, else the nearest "
                             "folder up from here with data/ and models/, else the current folder)")
    parser.add_argument("--db", default=None,
                        help="the library database (default: $WORKBENCH_DB, else <home>/data/workbench.db); "
                             "on its own it brings its workspace (<root>/data/x.db -> <root>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--verbose", action="store_true", help="show third-party warnings and log messages too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from workbench.commands import register_all

    register_all(sub)

    return parser


def _workspace_source(args: argparse.Namespace) -> str:
    from workbench import config

    if args.home is not None:
        return "--home"
    if os.environ.get(config.HOME_ENV):
        return f"${config.HOME_ENV}"
    if args.db is not None:
        return "the workspace of --db"
    if os.environ.get(config.DB_ENV):
        return f"the workspace of ${config.DB_ENV}"
    return "found from the current folder"


@contextmanager
def workspace_env(args: argparse.Namespace) -> Iterator[None]:
    """Set ``$WORKBENCH_HOME`` and ``$WORKBENCH_DB`` to the command's workspace; restore them after.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line (``home``, ``db``); ``workspace_source`` is set on it (where the
        workspace came from, in words), and ``workspace_how`` (how its database was found, in the words of
        :func:`workbench.config.how_found`, read before the variables are set).

    Yields
    ------
    None
    """
    from workbench import config

    args.workspace_source = _workspace_source(args)
    how = config.how_found(args.home, db=args.db)
    args.workspace_how = {"the home given": "--home", "the database given": "--db"}.get(how, how)
    ws = config.workspace(args.home, db=args.db)
    old = {k: os.environ.get(k) for k in (config.HOME_ENV, config.DB_ENV)}
    os.environ[config.HOME_ENV], os.environ[config.DB_ENV] = str(ws.root), str(ws.db)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to keep ``record``.

        Parameters
        ----------
        record : logging.LogRecord

        Returns
        -------
        bool
            False for a coremltools message that means nothing to the user.
        """
        message = record.getMessage()
        return not any(text in message for text in COREMLTOOLS_NOISE)


@contextmanager
def third_party_noise_filtered(*, enabled: bool = True) -> Iterator[None]:
    """Keep third-party warnings that mean nothing to the user out of the output (see
    :data:`NOISY_MODULES`, :data:`COREMLTOOLS_NOISE`); everything else still shows.

    Parameters
    ----------
    enabled : bool
        False: filter nothing (``--verbose``).

    Yields
    ------
    None
    """
    if not enabled:
        yield
        return
    logger, drop = logging.getLogger("coremltools"), _DropNoise()
    with warnings.catch_warnings():
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=NOISY_MODULES)
        warnings.filterwarnings("ignore", module=r"numba(\..*)?")
        warnings.showwarning = _own_warnings_shown(warnings.showwarning)  # one line each (restored on exit)
        handlers = [h for h in (logging.lastResort,) if h is not None]
        logger.addFilter(drop)
        for h in handlers:  # also what coremltools' sub-loggers pass up to the last-resort handler
            h.addFilter(drop)
        try:
            yield
        finally:
            logger.removeFilter(drop)
            for h in handlers:
                h.removeFilter(drop)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _own_warnings_shown(fallback: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints a warning the workbench raised as ``warning: MESSAGE`` on
    one line (no file, line or source echo: they mean nothing to a user of the CLI) and hands any
    other (a third party's) to ``fallback``, Python's format.

    Parameters
    ----------
    fallback : callable
        The ``showwarning`` in place before.
    """

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        """Show one warning.

        Parameters
        ----------
        message, category, filename, lineno, file, line
            As :func:`warnings.showwarning` takes them.
        """
        if not os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep):
            fallback(message, category, filename, lineno, file, line)
            return
        try:
            print(f"warning: {message}", file=sys.stderr if file is None else file)
        except OSError:  # stderr gone: as Python's own showwarning, say nothing
            pass

    return show


def _stdout_gone() -> None:
    """After a broken pipe (output piped into ``head``): send what is left to /dev/null, quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (captured in tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 a workbench error, 2 usage).

    A workbench error prints ``workbench COMMAND: error: MESSAGE`` on stderr; with ``--json`` it
    also prints ``{"error": MESSAGE, "type": CLASS}`` on stdout, one line, for scripts.

    Output piped into a program that stops reading (``workbench tracks | head -1``) ends quietly
    with status 0.

    Parameters
    ----------
    argv : sequence of str or None
        The arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    int
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    with workspace_env(args), third_party_noise_filtered(enabled=not args.verbose):
        try:
            status = int(args.func(args) or 0)
            sys.stdout.flush()
            return status
        except BrokenPipeError:
            _stdout_gone()
            return 0
        except WorkbenchError as exc:
            print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
            if getattr(args, "json", False):  # a script parsing stdout gets the error too
                import json

                details = getattr(exc, "json_details", None) or {}  # e.g. every bad row of a label file
                print(json.dumps({"error": str(exc), "type": type(exc).__name__, **details}))
            return 1
