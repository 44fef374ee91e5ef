"""What running notebooks 02-07 in JupyterLab on a copy of the real music showed (session 21's browser pass,
/tmp/h21-nbqa): the defects it found, each pinned by the test that failed before its fix."""

from __future__ import annotations

import json
import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOKS / name).read_text())["cells"]


def test_every_notebooks_db_parameter_names_the_workspace_as_the_readme_does():
    """Notebooks 02-04 said 'DB = None  # None means $WORKBENCH_DB or data/workbench.db' (and 02's text 'The
    library is `$WORKBENCH_DB`') while the README starts Lab with `WORKBENCH_HOME=~/wb`, which they follow."""
    said = {}
    for path in sorted(NOTEBOOKS.glob("0*.ipynb")):
        for cell in _cells(path.name):
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("DB = None"):
                    said[path.name] = line
                if cell["cell_type"] == "markdown" and "$WORKBENCH_DB" in line:
                    assert "$WORKBENCH_HOME" in line, (path.name, line)
    assert {"02_label_sections.ipynb", "03_train_embeddings.ipynb", "04_train_sections.ipynb"} <= set(said), said
    for name, line in said.items():
        comment = line.split("#", 1)[1]
        assert "workspace" in comment and ("$WORKBENCH_HOME" in comment or "$WORKBENCH_DB" not in comment), \
            (name, line)


def test_the_runs_table_says_when_a_run_started_on_one_line():
    """Notebook 05's first table (``text_left(runs_table(...))``) on the real music wrapped 'started (UTC)' to
    '2026-12-' / '07 19:34' beside run ids that wrap too; the runs view and the jobs table keep it on one line."""
    import pandas as pd

    from workbench.report.tables import text_left
    from workbench.runs import STARTED_HEADING, started_text

    frame = pd.DataFrame({"run_id": ["20261207-194212-embeddings-ab965c", "20261207-194817-sections-7230a2"],
                          STARTED_HEADING: [started_text("2026-12-07T19:34:53+00:00"), None],
                          "note": ["2026-12-07 19:34 was fine", "x"], "map_at_r": [0.8619, None]})
    html = text_left(frame, precision=4).to_html()
    cell = re.search(r'<td id="T_(\w+)_row0_col1" class="([^"]*)"\s*>2026-12-07 19:34</td>', html)
    assert cell, html
    rules = re.findall(r"([^{}]+)\{([^{}]*)\}", html.split("</style>", 1)[0])
    nowrap = [sel for sel, props in rules if "white-space: nowrap" in props]
    assert any("row0_col1" in sel for sel in nowrap), nowrap  # the started cell
    assert not any("col2" in sel or "col0" in sel for sel in nowrap), nowrap  # text and ids still wrap


def test_a_failed_gates_reason_puts_its_value_next_to_its_figure_and_says_how_after():
    """Notebook 06 on a real sections run: 'boundaries not below novelty: boundary F @3 s of smoothed sections; the
    means over the held-out tracks are compared, no allowance for noise: the run has no per-track figures,
    segments.per_track, recorded since session 21 0.2115 >= segments.novelty 0.3166 -> fail': the value ran into
    the judging text, and 'session 21' means nothing to a user."""
    from workbench.evaluate.gates_sections import boundary_gate

    gate = boundary_gate({"segments": {"smoothed": {"boundary_f_3s": 0.2115}, "novelty": {"boundary_f_3s": 0.3166}}})
    said = str(gate)
    assert said.startswith("boundaries below novelty: boundary F @3 s of smoothed sections 0.2115 < "
                           "segments.novelty 0.3166 -> fail ("), said
    assert said.endswith(f"({gate.how})") and "no allowance for noise" in gate.how, said
    assert "session" not in said and "train again" in said, said


def test_the_boundary_gate_counts_one_held_out_track_in_the_singular():
    """Notebook 04 on the real music (one held-out track, Nebula): 'below novelty on 1 held-out tracks'."""
    from workbench.evaluate.gates_sections import boundary_gate

    gate = boundary_gate({"segments": {"smoothed": {"boundary_f_3s": 0.3158}, "novelty": {"boundary_f_3s": 0.5652},
                                       "per_track": {"track_ids": [7], "smoothed": {"boundary_f_3s": [0.3158]},
                                                     "novelty": {"boundary_f_3s": [0.5652]}}}})
    assert "below novelty on 1 held-out track, above on 0, equal on 0" in gate.how, gate.how


def test_a_ready_stats_grid_names_the_classes_it_trains_on():
    """Notebook 02's grid on the real music: 'ready to train ✓' under intro, build, outro, verse and chorus
    '0/10 ✗' in red, with nothing to say that training (notebook 04) learns drop and break alone."""
    from workbench.labels.stats import LabelStats
    from workbench.widgets import StatsGrid

    counts = {"intro": 0, "build": 0, "drop": 181, "break": 43, "outro": 0, "verse": 0, "chorus": 0}
    stats = LabelStats(counts=counts, total=224, tracks_covered=12, tracks_total=19, avg_per_track=18.7, ready=True,
                       missing=[], min_per_class=10, min_classes=2)
    said = StatsGrid.to_html(StatsGrid.__new__(StatsGrid), stats)
    assert "ready to train ✓" in said, said
    assert "trains on 2 classes: drop, break (intro, build, outro, verse, chorus: no labels, left out)" in said, said
