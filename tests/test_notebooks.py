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


class WidgetRecorder(NotebookClient):
    """A client that also keeps every widget update the kernel sends, with the cell running at that moment.

    nbclient keeps only the messages of the running cell; a widget refreshed by a background thread
    (the live jobs table) sends its updates on behalf of the cell that made it, so they are caught
    here, before that filter.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.widget_updates: list[tuple[int | None, dict]] = []
        self.running_cell: int | None = None

    async def async_start_new_kernel_client(self):
        from nbclient.util import ensure_async

        kc = await super().async_start_new_kernel_client()
        get = kc.iopub_channel.get_msg

        async def recording_get_msg(*args, **kwargs):
            msg = await ensure_async(get(*args, **kwargs))
            if msg["msg_type"] == "comm_msg":
                self.widget_updates.append((self.running_cell, msg["content"].get("data", {})))
            return msg

        kc.iopub_channel.get_msg = recording_get_msg
        return kc

    async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
        self.running_cell = cell_index
        return await super().async_execute_cell(cell, cell_index, *args, **kwargs)


def stderr_of(nb) -> list[str]:
    """The text a notebook wrote to stderr (a red block in the page), one entry per output."""
    return [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stderr"]


def live_job_states(nb, updates, call: str) -> set[str]:
    """The job states the jobs table showed while the cell containing ``call`` ran (from widget updates)."""
    import re

    cell = next(i for i, c in enumerate(nb.cells) if call in c.source)
    return {state for i, data in updates if i == cell
            for state in re.findall(r"wb-state-(\w+)", str(data.get("state", {}).get("value", "")))}


def execute(name: str, home: Path, params: dict[str, object] | None = None, timeout_s: int = 300,
            *, updates: list | None = None):
    """Run a notebook in ``home`` with ``params`` injected after its parameters cell; return it.

    ``updates``, when given, receives every widget update as (cell index, data) (:class:`WidgetRecorder`).
    """
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged, f"{name} has no cell tagged 'parameters'"
    if params:
        source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
        injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(tagged[0] + 1, injected)
    with workbench_home(home):  # the kernel inherits the environment
        client = WidgetRecorder(nb, timeout=timeout_s, kernel_name="python3",
                                resources={"metadata": {"path": str(home)}})
        client.execute()
    if updates is not None:
        updates.extend(client.widget_updates)
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
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "weights: default: vibe 50%, tempo 20%, key 20%, energy 10%" in text.splitlines()  # as `similar` says them
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
    updates: list = []
    nb = execute("03_train_embeddings.ipynb", home, {"EPOCHS": 4, "N_VIEWS": 0}, updates=updates)
    html = "\n".join(outputs(nb, "text/html"))
    assert "fine-tuned head" in html and "backbone (no training)" in html  # before/after table
    assert "Invariance" in html and "Training curves" in html  # the report, inline
    search = html.split("<h2>Search before/after</h2>", 1)[1].split("<h2>", 1)[0]
    assert "precision@3 by" in search and "not recorded" not in search  # the library, searched with both
    # live progress: while the training cell ran, the jobs table (made with refresh_s) showed the job unfinished
    assert live_job_states(nb, updates, "train_embeddings_job(lib") & {"preparing", "training", "evaluating"}
    assert not stderr_of(nb)  # no third-party warnings in the page


def test_04_train_sections(demo_home):
    home, _ = demo_home
    updates: list = []
    nb = execute("04_train_sections.ipynb", home, {"MIN_PER_CLASS": 3, "N_SPLITS": 3}, updates=updates)
    html = "\n".join(outputs(nb, "text/html"))
    assert "logreg" in html and "ensemble" in html and "mlp" in html  # cross-validation table
    assert "Confusion matrix" in html and "Section timeline" in html
    assert len(outputs(nb, "application/vnd.jupyter.widget-view+json")) >= 3  # stats, jobs, labeler
    assert live_job_states(nb, updates, "train_sections_job(lib") & {"preparing", "training", "evaluating"}
    assert not stderr_of(nb)


def test_05_compare_experiments(demo_home):
    home, _ = demo_home
    nb = execute("05_compare_experiments.ipynb", home)
    assert outputs(nb, "application/vnd.jupyter.widget-view+json")
    html = "\n".join(outputs(nb, "text/html"))
    assert 'class="wb-runs"' in html and "Δ model.accuracy" in html and "<b>baseline</b>" in html  # the runs table
    assert outputs(nb, "image/png")  # the scatter of two metrics
    assert not stderr_of(nb)


def test_06_export_models(demo_home):
    home, _ = demo_home
    from workbench.evaluate.gates import held_out_hashes
    from workbench.library import Library
    from workbench.registry import Registry

    def dj_sections():
        with workbench_home(home):
            lib = Library(home / "data" / "workbench.db")
            try:
                return Registry(lib).list("dj_section")
            finally:
                lib.store.close()

    rival = next((v for v in dj_sections() if v.active), None)  # the version active before the notebook
    # the demo exported the newest run with the notebook's default options already: another target is a new export
    params = {"deployment_target": "macOS15"}
    nb = execute("06_export_models.ipynb", home, params)
    html = "\n".join(outputs(nb, "text/html") + outputs(nb, "text/markdown"))
    assert "dj_section" in html and "active" in html
    assert not stderr_of(nb), stderr_of(nb)  # coremltools' import-time messages are left out
    # the new version is active only if it beats the one active before on the same held-out tracks; else the page asks
    new = dj_sections()[-1]
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    _run_again_registers_nothing(home, params, dj_sections, new)
    if rival is None:
        assert new.active
        return
    same = held_out_hashes(new.metrics) is not None and held_out_hashes(new.metrics) == held_out_hashes(rival.metrics)
    better = same and new.metrics["model"]["macro_f1"] > rival.metrics["model"]["macro_f1"]
    assert new.active == better, (new.metrics["model"]["macro_f1"], rival.metrics["model"]["macro_f1"], same)
    if better:
        assert f"{new.name} activated: better than {rival.name}" in text
    else:
        assert f"ActivatePrompt({new.name}, activated=False)" in "\n".join(outputs(nb, "text/plain"))
        assert next(v for v in dj_sections() if v.version == rival.version).active


def _run_again_registers_nothing(home, params, dj_sections, new):
    """Notebook 06 run again with the same options: no second version; it names the version the run
    has, whether it is active, and shows its card."""
    before = [(v.version, v.active) for v in dj_sections()]
    nb = execute("06_export_models.ipynb", home, params)
    assert [(v.version, v.active) for v in dj_sections()] == before
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert f"is already exported with these options as {new.name}" in text
    assert f"{new.name}: registered before, {'active' if new.active else 'not active'}" in text
    assert f"# {new.name}" in "\n".join(outputs(nb, "text/markdown"))  # its card
    assert not stderr_of(nb), stderr_of(nb)


def test_07_style_dna(demo_home):
    home, _ = demo_home
    nb = execute("07_style_dna.ipynb", home, {"MIN_TRACKS": 2})
    assert len(outputs(nb, "image/png")) >= 3  # the envelope, and two tracks against it
    html = "\n".join(outputs(nb, "text/html"))
    assert "detune_cents" in html and "advice" in html
