"""Every notebook runs top to bottom (nbclient, a real kernel) on a small demo library.

The session-scoped ``demo_home`` fixture (conftest.py) holds the demo: ``run_demo`` with small
settings, the same main job ``make demo`` runs. Each notebook's ``parameters`` cell is followed by an injected cell
with the test's small settings (as papermill does), and the executed notebook must have no
error output. Outputs are checked for what a person would look at (tables, images).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from conftest import workbench_home
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, home: Path, params: dict[str, object] | None = None, timeout_s: int = 300):
    """Run a notebook in ``home`` with ``params`` injected after its parameters cell; return it."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged, f"{name} has no cell tagged 'parameters'"
    if params:
        source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
        injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(tagged[0] + 1, injected)
    with workbench_home(home):  # the kernel inherits the environment
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


def test_02_label_sections(demo_home):
    home, _ = demo_home
    nb = execute("02_label_sections.ipynb", home)
    widgets = outputs(nb, "application/vnd.jupyter.widget-view+json")
    assert len(widgets) >= 2  # the labeler and the stats grid
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "12 tracks" in text


def test_03_train_embeddings(demo_home):
    home, _ = demo_home
    nb = execute("03_train_embeddings.ipynb", home, {"EPOCHS": 4, "N_VIEWS": 0})
    html = "\n".join(outputs(nb, "text/html"))
    assert "fine-tuned head" in html and "backbone (no training)" in html  # before/after table
    assert "Invariance" in html and "Training curves" in html  # the report, inline


def test_04_train_sections(demo_home):
    home, _ = demo_home
    nb = execute("04_train_sections.ipynb", home, {"MIN_PER_CLASS": 3, "N_SPLITS": 3})
    html = "\n".join(outputs(nb, "text/html"))
    assert "logreg" in html and "ensemble" in html and "mlp" in html  # cross-validation table
    assert "Confusion matrix" in html and "Section timeline" in html
    assert len(outputs(nb, "application/vnd.jupyter.widget-view+json")) >= 3  # stats, jobs, labeler


def test_05_compare_experiments(demo_home):
    home, _ = demo_home
    nb = execute("05_compare_experiments.ipynb", home)
    assert outputs(nb, "application/vnd.jupyter.widget-view+json")
    assert outputs(nb, "text/html")


def test_06_export_models(demo_home):
    home, _ = demo_home
    nb = execute("06_export_models.ipynb", home)
    html = "\n".join(outputs(nb, "text/html") + outputs(nb, "text/markdown"))
    assert "dj_section" in html and "active" in html


def test_07_style_dna(demo_home):
    home, _ = demo_home
    nb = execute("07_style_dna.ipynb", home, {"MIN_TRACKS": 2})
    assert len(outputs(nb, "image/png")) >= 3  # the envelope, and two tracks against it
    html = "\n".join(outputs(nb, "text/html"))
    assert "detune_cents" in html and "advice" in html
