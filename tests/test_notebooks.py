"""Every notebook runs top to bottom (nbclient, a real kernel) on a small demo library.

One session-scoped workbench home holds the demo: ``run_demo`` with small settings, the same
main job ``make demo`` runs. Each notebook's ``parameters`` cell is followed by an injected cell
with the test's small settings (as papermill does), and the executed notebook must have no
error output. Outputs are checked for what a person would look at (tables, images).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory):
    """A workbench home with the demo library (12 short tracks) and everything the main job makes."""
    from workbench.pipeline import run_demo

    home = tmp_path_factory.mktemp("nbhome")
    for sub in ("data", "experiments", "models"):
        (home / sub).mkdir()
    old = {k: os.environ.get(k) for k in ("WORKBENCH_HOME", "WORKBENCH_DB")}
    os.environ["WORKBENCH_HOME"] = str(home)
    os.environ.pop("WORKBENCH_DB", None)
    try:
        result = run_demo(n_tracks=12, seed=5, duration_s=60, progress=False, **DEMO_SMALL)
        yield home, result
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: Small settings for the main job in the notebook tests (filled in as the stages land).
DEMO_SMALL: dict[str, object] = {}


def execute(name: str, home: Path, params: dict[str, object] | None = None, timeout_s: int = 300):
    """Run a notebook in ``home`` with ``params`` injected after its parameters cell; return it."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged, f"{name} has no cell tagged 'parameters'"
    if params:
        source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
        injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(tagged[0] + 1, injected)
    NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                   resources={"metadata": {"path": str(home)}}).execute()
    return nb


def outputs(nb, mime: str) -> list[str]:
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if "data" in o and mime in o["data"]]


def test_notebooks_are_stored_without_outputs():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs in git"
            assert "def " not in cell.source.split("\n")[0], f"{path.name} defines a function; keep it in the package"


def test_01_explore_library(demo_home):
    home, _ = demo_home
    nb = execute("01_explore_library.ipynb", home, {"K": 3})
    html = "\n".join(outputs(nb, "text/html"))
    assert "camelot" in html and "similar vibe" in html  # the table and the explained matches
    assert len(outputs(nb, "image/png")) >= 2  # distributions and the embedding map
    assert any("<audio" in h for h in outputs(nb, "text/html"))  # playback
