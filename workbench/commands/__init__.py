"""Subcommands of the ``workbench`` CLI, one module per area.

Each module listed in :data:`MODULES` defines ``register(sub)``, which adds its subparsers to
the CLI's ``add_subparsers()`` object and sets ``func`` on each to a handler
``(args: argparse.Namespace) -> int``. These modules must stay cheap to import: handlers
import torch, the training code and the like inside their bodies.

Handlers get the global options as ``args.db`` (library path or None) and ``args.quiet``.
"""

from __future__ import annotations

import argparse
import importlib

#: Area modules, in the order their commands appear in ``workbench --help``.
MODULES: tuple[str, ...] = ("analysis", "train", "runs", "export")


def register_all(sub: argparse._SubParsersAction) -> None:
    """Let every area module add its subcommands."""
    for name in MODULES:
        importlib.import_module(f"workbench.commands.{name}").register(sub)
