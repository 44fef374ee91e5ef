"""Every public function says what its parameters are: a numpydoc ``Parameters`` section.

Read from the source with ``ast`` (nothing is imported): a function or method whose name does
not start with ``_`` and that takes a parameter (other than ``self``/``cls``) must document it.
And every module of the package is named in ``docs/architecture.md``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"


def undocumented(package: Path = PACKAGE) -> list[str]:
    """``path:line name`` of each public function with parameters and no Parameters section."""
    out = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("_"):
                continue
            params = [a for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                      if a.arg not in ("self", "cls")]
            if params and "Parameters\n" not in (ast.get_docstring(node) or ""):
                out.append(f"{path.relative_to(package.parent)}:{node.lineno} {node.name}")
    return out


def test_every_public_function_documents_its_parameters():
    missing = undocumented()
    assert not missing, f"{len(missing)} public functions without a numpydoc Parameters section:\n" + "\n".join(missing)


def test_the_check_finds_a_missing_section(tmp_path):
    pkg = tmp_path / "workbench"
    pkg.mkdir()
    (pkg / "m.py").write_text(
        'def documented(x):\n    """Doc.\n\n    Parameters\n    ----------\n    x : int\n    """\n\n'
        'def bare(y):\n    """Doc."""\n\n'
        'def _private(z):\n    pass\n\n'
        'def no_params():\n    pass\n'
    )
    assert undocumented(pkg) == ["workbench/m.py:9 bare"]


def unnamed_modules(package: Path = PACKAGE, page: Path = PACKAGE.parent / "docs" / "architecture.md") -> list[str]:
    """The package's modules (``__init__.py`` aside) whose name (``held_out`` of ``held_out.py``) is not a word of
    ``docs/architecture.md``."""
    import re

    text = page.read_text(encoding="utf-8")
    return [str(p.relative_to(package)) for p in sorted(package.rglob("*.py"))
            if p.name != "__init__.py" and "static" not in p.parts
            and re.search(rf"(?<![\w-]){re.escape(p.stem)}(?![\w-])", text) is None]


def test_architecture_names_every_module():
    missing = unnamed_modules()
    assert not missing, f"docs/architecture.md does not name {len(missing)} modules: " + ", ".join(missing)


def test_the_module_check_finds_an_unnamed_module(tmp_path):
    pkg = tmp_path / "workbench"
    (pkg / "sub").mkdir(parents=True)
    for name in ("__init__.py", "named.py", "sub/held_out.py", "sub/held.py"):
        (pkg / name).write_text("")
    page = tmp_path / "architecture.md"
    page.write_text("named.py (x), sub/ (held_out.py: the held-out scores)")
    assert unnamed_modules(pkg, page) == ["sub/held.py"]
