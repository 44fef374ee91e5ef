"""What running the seven notebooks in JupyterLab on a copy of the real music showed (session 15's
browser pass): figures shown with the decimals they were rounded to, and notebook 01's library
table aligned and without 'NaN'/'None'."""

from __future__ import annotations

import re
import shutil

from test_notebook_qa import small_home  # noqa: F401  (a fixture: 4 short tracks scanned, analysed, embedded)
from test_notebook_qa2 import _left_aligned_columns


def _cells(html: str) -> list[str]:
    return re.findall(r">([^<>]*)</td>", html)


def test_text_left_shows_a_rounded_column_with_its_own_decimals():
    """Notebook 01's group summary read 'median_bpm 86.800', 'median_lufs -16.000', 'minutes 0.900':
    figures rounded to 0.1 padded to 3 decimals by the Styler."""
    import numpy as np
    import pandas as pd

    from workbench.report.tables import text_left

    frame = pd.DataFrame({"median_bpm": [86.8, 145.0, np.nan], "ratio": [0.25, 0.125, 1.0],
                          "score": [0.9123456, 0.8, 0.5], "tracks": [7, 5, 4]})
    assert _cells(text_left(frame).to_html()) == ["86.8", "0.250", "0.912", "7",
                                                  "145.0", "0.125", "0.800", "5",
                                                  "–", "1.000", "0.500", "4"]
    assert _cells(text_left(frame, precision=1).to_html())[:3] == ["86.8", "0.2", "0.9"]  # never past precision


def test_notebook_01s_library_table_aligns_names_left_and_shows_a_gap_as_a_dash(small_home, tmp_path):  # noqa: F811
    """The library table was the bare DataFrame: names right-aligned and wrapped against the right edge,
    'NaN' for a track without artist or key, 'None' for every style."""
    from test_notebooks import execute, outputs

    home = tmp_path / "ws"
    shutil.copytree(small_home, home)
    nb = execute("01_explore_library.ipynb", home, {"K": 3})
    table = next(h for h in outputs(nb, "text/html") if "loudness_lufs" in h)
    assert {"name", "folder", "group"} <= _left_aligned_columns(table), table
    cells = _cells(table)
    assert "NaN" not in cells and "None" not in cells and "nan" not in cells and "–" in cells, cells
    assert not [c for c in cells if re.fullmatch(r"-?\d+\.\d{3}", c) and c.endswith("00")], cells  # 12.0, not 12.000


def test_a_big_librarys_table_is_cut_as_a_dataframes_is():
    """text_left's Styler renders every row; notebook 01 caps it at pandas' display.max_rows."""
    import json
    from pathlib import Path

    import pandas as pd

    from workbench.report.tables import text_left

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "01_explore_library.ipynb").read_text())
    setup = next("".join(c["source"]) for c in nb["cells"] if "display.max_colwidth" in "".join(c["source"]))
    option = next(ln for ln in setup.splitlines() if "styler.render.max_rows" in ln)
    with pd.option_context("display.max_rows", 60):
        exec(option.split("#")[0], {"pd": pd})  # the notebook's own line
        try:
            html = text_left(pd.DataFrame({"name": [f"t{i}" for i in range(500)]}))._repr_html_()
        finally:
            pd.reset_option("styler.render.max_rows")
    assert html.count("<tr") < 70, html.count("<tr")


def test_training_curves_tick_whole_epochs_only():
    """A 3-epoch run's curves (notebook 03's report) ticked epochs 1.0, 1.5, 2.0, 2.5, 3.0."""
    from workbench.report.plots import curves_figure

    history = [{"epoch": e, "train_loss": 0.09 - 0.01 * e, "mined_triplets": 500 - 150 * e} for e in (1, 2, 3)]
    fig = curves_figure({"run": history})
    fig.canvas.draw()
    for ax in fig.axes:
        if ax.get_visible():
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
    many = curves_figure({"run": [{"epoch": e, "train_loss": 1 / e} for e in range(1, 41)]})
    many.canvas.draw()
    assert len(many.axes[0].get_xticks()) <= 11  # a long run still gets a few ticks, not one per epoch


def test_text_left_never_shows_a_small_value_as_zero():
    """Notebook 05's runs table read learning rates 0.0001 and 1e-05 as 'lr 0.000', 'backbone_lr 0.000'."""
    import numpy as np
    import pandas as pd

    from workbench.report.tables import text_left

    frame = pd.DataFrame({"lr": [0.0001, 0.001, np.nan], "backbone_lr": [1e-05, 1e-05, 2.5e-06],
                          "weight_decay": [0.01, 0.0, 0.01], "score": [0.8391, 0.0, 0.25]})
    assert _cells(text_left(frame).to_html()) == ["0.0001", "1e-05", "0.01", "0.839",
                                                  "0.001", "1e-05", "0.00", "0.000",
                                                  "–", "2.5e-06", "0.01", "0.250"]


def test_the_runs_scatter_says_1_run_and_no_star_when_the_baseline_is_not_drawn(tmp_path):
    """Notebook 05 on one sections and one embeddings run: '1 runs (1 without both metrics left out) · star:
    baseline' over a single dot, the baseline (the embeddings run) not drawn."""
    from workbench.report.examples import write_example_run
    from workbench.report.runs_view import runs_view

    write_example_run("embeddings", root=tmp_path, seed=2, quality=0.7)
    write_example_run("sections", root=tmp_path, seed=1, n_tracks=12, quality=0.6)
    view = runs_view(tmp_path)
    embeddings = next(r.run_id for r in view.runs if "embeddings" in r.run_id)
    title = runs_view(tmp_path, baseline=embeddings).scatter_figure("accuracy", "macro_f1").axes[0].get_title()
    assert title == "1 run (1 without both metrics left out)", title
    sections = next(r.run_id for r in view.runs if "sections" in r.run_id)
    title = runs_view(tmp_path, baseline=sections).scatter_figure("accuracy", "macro_f1").axes[0].get_title()
    assert title == "1 run (1 without both metrics left out) · star: baseline", title


def test_the_profile_plot_writes_ranges_as_the_profile_table_does():
    """Notebook 07's envelope on the real loops read 'brightness_hz 0 .. 4.16e+03' and 'bpm 73.9 .. 102' beside
    a table saying '0 .. 4159' and '73.95 .. 102.4'."""
    import matplotlib

    matplotlib.use("Agg")
    from workbench.style.plots import plot_profile
    from workbench.style.tables import profile_table

    profile = {"name": "loops", "tracks": [1, 2], "features": {"bpm": {"mean": 88.18, "range": [73.95, 102.4], "ci95": [83.32, 93.23], "n": 6},
                            "brightness_hz": {"mean": 1518.0, "range": [0.0, 4159.0], "ci95": [690.5, 2382.0], "n": 7}}}
    fig = plot_profile(profile)
    shown = [t.get_text() for t in fig.axes[0].texts]
    table = list(profile_table(profile)["range"])
    assert table == ["73.95 .. 102.4", "0 .. 4159"], table
    # the same numbers as the table, the plot adding each feature's unit (session 18)
    assert shown == ["73.95 .. 102.4 BPM", "0 .. 4159 Hz"], shown


def test_notebook_07_says_how_many_of_the_features_are_outside():
    """Notebook 07 on the real loops printed 'loop_amen_full.flac: 1 features outside'."""
    import json
    from pathlib import Path

    from workbench.style.gap import gap_said

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "07_style_dna.ipynb").read_text())
    source = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert source.count("print(gap_said(") == 3, source  # the other track, one of the style, a work in progress
    gap = {"target": "/music/loops/loop.flac", "name": "loops/loop.flac", "outside": ["bpm"], "features": [{}] * 18,
           "trance_score": {"value": 0.5, "applies": True}}
    assert gap_said(gap) == "loops/loop.flac: 1 of 18 features outside the range, trance score 0.50"
    assert gap_said({**gap, "trance_score": {"value": 0.5, "applies": False}}) == \
        "loops/loop.flac: 1 of 18 features outside the range"


OLD_LABELER_CELL = """
from workbench.labels import Labels, Suggestion
from workbench.widgets import Labeler
old_labels = Labels(library)
def one_suggestion(t):
    g = old_labels.grid(t)
    return [Suggestion(track_id=t.id, label="drop", start_beat=0, end_beat=16, start_s=g.time_of(0),
                       end_s=g.time_of(16), confidence=0.66)]
old = Labeler(library, labels=old_labels, suggest=one_suggestion, autoplay=False)
old
"""

CUT_OR_WRAPPED_JS = """root => {
  const cut = [...root.querySelectorAll('button')].filter(b => b.offsetWidth > 0 && b.scrollWidth > b.clientWidth + 1)
    .map(b => b.textContent.trim());
  const pos = root.querySelector('.wb-position .wb-pos');
  return {cut, posLines: pos ? Math.round(pos.getBoundingClientRect().height / parseFloat(getComputedStyle(pos).lineHeight)) : -1,
          pos: pos ? pos.textContent : null};
}"""


def test_notebook_04s_labeler_shows_its_buttons_and_position_whole(tmp_path):
    """Notebook 04's labeler (the Python one) on the real music, in JupyterLab: 'next unlabel…' and 'keep …' cut
    short, '1 / 7' wrapped onto two lines beside the track menu, and '1 model suggestion(s)'."""
    import pytest
    from browser import LABELER_NOTEBOOK, ConsoleErrors, chromium, labeler_notebook, open_notebook, run_all
    from test_notebook_qa import _browser_reason

    reason = _browser_reason()
    if reason is not None:
        pytest.skip(reason)
    with labeler_notebook(tmp_path, extra_cell=OLD_LABELER_CELL, n_tracks=2, duration_s=30.0) as server, \
            chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        errors = ConsoleErrors(page)
        open_notebook(page, server, LABELER_NOTEBOOK)
        run_all(page)
        root = page.locator(".wb-labeler").first
        root.locator(".wb-suggestions").get_by_text("model suggestion").wait_for()
        seen = root.evaluate(CUT_OR_WRAPPED_JS)
        assert seen["cut"] == [] and seen["pos"] == "1 / 2" and seen["posLines"] == 1, seen
        said = root.locator(".wb-suggestions").inner_text()
        assert "1 model suggestion (dashed" in said, said
        assert not errors, errors


def test_notebook_06_says_there_are_no_model_versions_instead_of_an_empty_table(tmp_path, capsys):
    """Notebook 06 on the real music refused the sections run (below the majority baseline); 'Model versions'
    then showed nothing at all, an empty table."""
    import json
    from pathlib import Path

    from workbench.registry import Registry
    from workbench.report.tables import text_left

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "06_export_models.ipynb").read_text())
    cell = next("".join(c["source"]) for c in nb["cells"] if "registry.frame()" in "".join(c["source"]))
    registry = Registry(tmp_path / "data" / "workbench.db")
    assert len(registry.frame()) == 0
    shown = eval(cell, {"registry": registry, "text_left": text_left})  # noqa: S307 - the notebook's own cell
    assert shown is None and capsys.readouterr().out.startswith("no model versions yet: "), shown


def test_a_heads_search_record_made_before_its_run_has_an_id_does_not_say_run_none():
    """Notebook 06's card of the real music's embedding run listed 'search.models.model: head of run None (on
    features-v1; backbone share 0.25)': the search gate measures the head before the run is written."""
    from workbench.embed.features import FeatureFrontend
    from workbench.models.heads import EmbeddingHead
    from workbench.similarity.model import EmbeddingModel

    head = EmbeddingHead(202)
    assert EmbeddingModel(FeatureFrontend(), head=head).name == "head of this run"
    assert EmbeddingModel(FeatureFrontend(), head=head, run_id="20261207-x").name == "head of run 20261207-x"
    assert EmbeddingModel(FeatureFrontend(), head=head, version=2, run_id="20261207-x").name == "head@2"


def test_notebook_06s_gates_table_heads_the_reference_value_as_the_report_does(tmp_path):
    """Notebook 06's gates read 'reference baselines.backbone', 'target 0.799': the backbone's MAP@R under
    'target', where the run's report and the model card call it the reference value."""
    import json
    from pathlib import Path
    from types import SimpleNamespace

    from workbench.registry import Registry
    from workbench.report.tables import text_left

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "06_export_models.ipynb").read_text())
    cell = next("".join(c["source"]) for c in nb["cells"] if "gate_rows = []" in "".join(c["source"]))
    *body, last = cell.rstrip().splitlines()
    run = SimpleNamespace(kind="sections", metrics={"model": {"accuracy": 0.7, "macro_f1": 0.6},
                                                    "baselines": {"majority": {"accuracy": 0.8, "macro_f1": 0.4}}})
    space = {"run": run, "registry": Registry(tmp_path / "data" / "workbench.db"), "text_left": text_left}
    exec("\n".join(body), space)  # noqa: S102 - the notebook's own cell
    shown = eval(last, space).data  # noqa: S307
    assert list(shown.columns)[-3:] == ["reference", "reference value", "status"], list(shown.columns)
    assert shown["reference value"].tolist()[:2] == [0.4, 0.8], shown
    # the boundary gate (session 20): this run recorded no segment scores, so its reference is unknown
    assert shown["status"].tolist()[2:] == ["unknown"] and shown["reference value"].isna().tolist()[2:] == [True], shown


def test_every_table_notebook_01_shows_goes_through_text_left():
    """Notebook 01's before/after precision table (MODEL = "cnn" on the real music) was the one table with its
    row names and model names right-aligned, 'best_possible 1.0' beside '0.778'."""
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "01_explore_library.ipynb").read_text())
    shown = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            shown += [ln.strip() for ln in lines if "display(" in ln] + [lines[-1].strip()]
    tables = [ln for ln in shown if "DataFrame(" in ln or ln.startswith(("display(", "text_left(", "table", "similar"))]
    assert len(tables) == 6 and all("text_left(" in ln for ln in tables), tables


def test_notebook_01s_query_is_a_track_as_workbench_similar_takes_it(small_home, tmp_path):  # noqa: F811
    """QUERY took only an id (``int(QUERY)``): a path or content hash, as `workbench similar TRACK` takes them,
    stopped the notebook with "invalid literal for int() with base 10"."""
    from test_notebooks import execute

    from workbench.library import Library

    home = tmp_path / "ws"
    shutil.copytree(small_home, home)
    with Library(home / "data" / "workbench.db") as lib:
        track = lib.tracks()[-1]
    nb = execute("01_explore_library.ipynb", home, {"K": 2, "QUERY": str(track.path)})
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"query: {track.name}\n" in printed, printed
