"""Names a package exports but loads on first use (PEP 562 module ``__getattr__``).

One mechanism for every package that keeps its import cheap (``workbench``, ``workbench.labels``,
``workbench.widgets``)::

    __getattr__, __dir__ = lazy_exports(__name__, {"Library": "workbench.library"}, globals())

The first ``package.Library`` imports ``workbench.library``, stores the value in the package
(later look-ups are plain attribute reads) and returns it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str], namespace: MutableMapping[str, Any]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` for ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (for the error message).
    names : mapping of str to str
        Exported name -> the module that defines it (absolute, ``"workbench.library"``).
    namespace : mutable mapping
        The package's ``globals()``: a loaded name is cached there, and ``__dir__`` lists its
        public names with ``names``.

    Returns
    -------
    (__getattr__, __dir__)
        Assign both at the package's top level.
    """
    lazy = dict(names)

    def __getattr__(name: str) -> Any:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        exported = namespace.get("__all__")
        public = exported if exported is not None else [k for k in namespace if not k.startswith("_")]
        return sorted(set(public) | set(lazy))

    return __getattr__, __dir__
