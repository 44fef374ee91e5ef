"""What a DJ meets running the notebooks on their own music (session 14's QA in JupyterLab on the
real music): an expected refusal said briefly, figures printed alike, progress bars named, label
names that fit their regions, text columns aligned left."""

from __future__ import annotations

import re
import shutil

import pytest
from test_notebook_qa import small_home  # noqa: F401  (a fixture: 4 short tracks scanned, analysed, embedded)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


# -- notebook 04: too few labels is said in the cells that need them; Run All goes on --------------------------------

def test_notebook_04_on_an_unlabelled_library_says_what_to_do_and_runs_to_the_end(small_home, tmp_path):  # noqa: F811
    """Run All on a library without section labels stopped at the training cell with a NotReadyError (the
    cells after it then failed on an undefined ``run``): now each cell that needs a model says what is
    missing and how to label, and the labeler is shown to label with."""
    from test_notebooks import execute, outputs

    from workbench.jobs import list_jobs
    from workbench.library import Library

    home = tmp_path / "ws"
    shutil.copytree(small_home, home)
    nb = execute("04_train_sections.ipynb", home, {"MIN_PER_CLASS": 3, "N_SPLITS": 3})  # raises on an error output
    said = ("not trained: no labelled sections in this library: label sections first: in the labeler notebook "
            "(notebooks/02_label_sections.ipynb, workbench.labels.Labels) or with `workbench labels import` "
            "(sections from a file); training needs 3 labelled sections per class for 2+ classes\n")
    for call in ("StatsGrid(labels)", "train_sections_job(lib", "cv_table(run)", "show(run)", "Labeler(lib"):
        cell = next(c for c in nb.cells if call in c.source)
        assert [o.get("text") for o in cell.outputs if o.get("output_type") == "stream"] == [said], call
    assert len(outputs(nb, "application/vnd.jupyter.widget-view+json")) == 3  # stats, jobs, the labeler
    lib = Library(home / "data" / "workbench.db")
    assert list_jobs(lib) == []  # refused before any job


def test_sections_not_ready_says_the_jobs_refusal_or_none(small_home, tmp_path):  # noqa: F811
    from workbench.errors import ParameterError
    from workbench.labels import Labels
    from workbench.library import Library
    from workbench.train.sections import NotReadyError, sections_not_ready, train_sections_job

    home = tmp_path / "ws"
    shutil.copytree(small_home, home)
    lib = Library(home / "data" / "workbench.db")
    assert sections_not_ready(lib).endswith("training needs 10 labelled sections per class for 2+ classes")
    labels = Labels(lib)
    for track in lib.tracks()[:2]:
        labels.add(track, "intro", start_beat=0, end_beat=8)
        labels.add(track, "drop", start_beat=8, end_beat=16)
    assert sections_not_ready(lib, config={"min_per_class": 2}) is None
    said = sections_not_ready(lib, config={"min_per_class": 3})
    with pytest.raises(NotReadyError) as info:
        train_sections_job(lib, config={"min_per_class": 3}, experiments_root=tmp_path / "x", progress=False)
    assert said == f"not trained: {info.value}" and "Need more labels: intro 2/3, drop 2/3" in said
    with pytest.raises(ParameterError, match="min_per_class must be an int .*; got 'ten'"):
        sections_not_ready(lib, config={"min_per_class": "ten"})
    with pytest.raises(ParameterError, match="keep_flagged must be true or false; got 'yes'"):  # as the job: not "ready"
        sections_not_ready(lib, config={"min_per_class": 2, "keep_flagged": "yes"})


def test_the_refusal_outside_jupyter_is_the_same_error_with_its_message(tmp_path):
    """The brief rendering is only IPython's: the exception, its type and message are unchanged."""
    from workbench.library import Library
    from workbench.train.jobs import train_sections_job
    from workbench.train.sections import NotReadyError

    with pytest.raises(NotReadyError, match=r"^no labelled sections in this library") as info:
        train_sections_job(Library(tmp_path / "w.db"), config={"min_per_class": 3},
                           experiments_root=tmp_path / "x", progress=False)
    lines = [ANSI.sub("", line) for line in info.value._render_traceback_()]
    assert lines == [f"NotReadyError: {info.value}"]



# -- every refusal of the workbench's own family is said briefly; a bug keeps its traceback ----------------------

def test_notebook_01_with_a_bad_weights_parameter_says_what_is_allowed_in_one_line(small_home, tmp_path):  # noqa: F811
    """A bad notebook parameter showed a traceback through weights_option.py above the ParameterError."""
    from nbclient.exceptions import CellExecutionError
    from test_notebooks import execute

    home = tmp_path / "ws"
    shutil.copytree(small_home, home)
    with pytest.raises(CellExecutionError) as info:
        execute("01_explore_library.ipynb", home, {"WEIGHTS": "bogus"})
    text = ANSI.sub("", str(info.value)).split("-" * 18)[-1].strip()  # what the cell shows under it
    assert text == ("ParameterError: WEIGHTS must be four numbers V,T,K,E, 'learned' or 'default'; "
                    "got 'bogus'"), text


REFUSAL_THEN_BUG = [
    "from workbench.errors import ParameterError\n"
    "from workbench.similarity.weights_option import search_weights\n"
    "search_weights('bogus', name='WEIGHTS')",
    "import traceback\ntraceback.print_last()  # the refusal's frames, when wanted",
    "try:\n"
    "    search_weights('bogus', name='WEIGHTS')\n"
    "except ParameterError:\n"
    "    {}['missing']  # a bug while handling a refusal",
    "from workbench.library import Library\n"
    "Library.tracks(None)  # a bug inside workbench code",
]


def test_in_jupyters_kernel_a_refusal_is_one_line_and_a_bug_keeps_its_traceback(tmp_path):
    """ipykernel (JupyterLab's kernel) sends what ``_render_traceback_`` returns as the cell's traceback."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in REFUSAL_THEN_BUG])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [[o for o in cell.outputs if o.output_type == "error"] for cell in nb.cells]
    assert [len(e) for e in errors] == [1, 0, 1, 1], errors
    refusal, handled, inside = (e[0] for e in errors if e)
    frames = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "weights_option.py" in frames and frames.rstrip().endswith(f"ParameterError: {refusal.evalue}"), frames
    assert refusal.ename == "ParameterError" and refusal.evalue.startswith("WEIGHTS must be four numbers")
    assert [ANSI.sub("", line) for line in refusal.traceback] == [f"ParameterError: {refusal.evalue}"]
    handled_text = ANSI.sub("", "\n".join(handled.traceback))
    assert handled.ename == "KeyError" and "Traceback" in handled_text and "weights_option.py" in handled_text
    assert "During handling of the above exception" in handled_text  # the refusal it met is still shown
    inside_text = ANSI.sub("", "\n".join(inside.traceback))
    assert inside.ename not in ("ParameterError", "WorkbenchError") and "Traceback" in inside_text
    assert "library" in inside_text and len(inside.traceback) > 1, inside_text


def test_in_plain_ipython_a_refusal_is_one_line_and_a_bug_keeps_its_traceback():
    """The terminal IPython shell renders the same way; plain Python keeps the whole traceback."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    refusal = "from workbench.errors import TrackNotFoundError; raise TrackNotFoundError('no track 99; ids are 1-4')"
    run = [sys.executable, "-m", "IPython", "--colors=nocolor", "--no-banner", "-c"]
    shown = subprocess.run([*run, refusal], capture_output=True, text=True, env=env, timeout=120)
    assert ANSI.sub("", shown.stdout + shown.stderr).strip() == "TrackNotFoundError: no track 99; ids are 1-4"
    bug = subprocess.run([*run, "import workbench.errors; {}['missing']"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert "Traceback" in bug.stdout + bug.stderr and "KeyError" in bug.stdout + bug.stderr
    script = subprocess.run([sys.executable, "-c", refusal], capture_output=True, text=True, env=env, timeout=120)
    assert script.stderr.startswith("Traceback") and script.stderr.rstrip().endswith(
        "workbench.errors.TrackNotFoundError: no track 99; ids are 1-4"), script.stderr

# -- the report's headline: every rate to 4 decimals ------------------------------------------------------

def test_the_headline_shows_a_perfect_track_map_at_r_with_4_decimals_as_the_other_rows(tmp_path):
    """Notebook 03 on the real music showed 'track MAP@R 1' under 0.8723, 0.9057, 0.8981."""
    from workbench.report.overview import headline
    from workbench.runs import Run

    model = {"map_at_r": 0.8723021, "precision_at_1": 0.9057, "precision_at_5": 0.8981, "track_map_at_r": 1.0}
    base = {"map_at_r": 0.7994602, "precision_at_1": 0.868, "precision_at_5": 0.883, "track_map_at_r": 1.0}
    run = Run(path=tmp_path / "r-embeddings", info={"kind": "embeddings"}, config={}, data={}, history=[],
              metrics={"model": model, "baselines": {"backbone": base}})
    models = re.findall(r'<tr><td>[^<]*</td><td class="num[^"]*">([^<]*)</td>', headline(run))  # the model column
    assert models == ["0.8723", "0.9057", "0.8981", "1.0000"], headline(run)


# -- notebook 03: each progress bar says what it embeds ------------------------------------------------------

def progress_bars(monkeypatch) -> list[tuple[str, int]]:
    """The (name, length) of every progress bar shown from now on (``tqdm.auto.tqdm`` recorded, not drawn)."""
    import tqdm.auto

    names: list[tuple[str, int]] = []
    real = tqdm.auto.tqdm

    def recording(iterable=None, *args, **kwargs):
        items = list(iterable) if iterable is not None else None
        if not kwargs.get("disable"):
            names.append((kwargs.get("desc"), len(items) if items is not None else kwargs.get("total")))
        return real(items, *args, **{**kwargs, "disable": True})

    monkeypatch.setattr(tqdm.auto, "tqdm", recording)
    return names


def test_the_embeddings_jobs_two_embedding_bars_say_which_tracks_they_embed(tmp_path, monkeypatch):
    """Notebook 03 showed 'embed 0/16' then 'embed 0/10': the labelled tracks, then the training tracks."""
    from test_classes import _library

    from workbench.train.jobs import train_embeddings_job

    names = progress_bars(monkeypatch)
    lib = _library(tmp_path, {"bass": [80.0, 90.0, 100.0, 110.0], "high": [1800.0, 2000.0, 2200.0, 2400.0]})
    job, _ = train_embeddings_job(lib, config={"epochs": 2, "invariance_clips": 0, "n_views": 1},
                                  experiments_root=tmp_path / "exp", progress=True)
    assert job.state == "completed"
    embedding = [(n, k) for n, k in names if n and n.startswith("embed")]
    assert [n for n, _ in embedding] == ["embed every track", "embed training tracks"], names
    assert embedding[0][1] == 8 > embedding[1][1]


# -- notebook 02 in a real browser: a region's name fits it or is shortened ----------------------------------

SHORT_SUGGESTIONS = """\
from workbench.labels import Suggestion
_g = labeler.labels.grid(labeler.shown)
_mk = lambda lab, a, b, c: Suggestion(labeler.shown.id, lab, a, b, _g.time_of(a), _g.time_of(b), c,
                                      uncertain=False, model_name="dj_section", model_version="v1")
labeler.use_suggestions([_mk("chorus", 0, 2, 0.81), _mk("break", 8, 20, 0.55), _mk("verse", 40, 120, 0.9)])
"""

REGION_JS = """el => {
  const tag = el.querySelector('.wb-region-tag'), r = el.getBoundingClientRect();
  const t = tag.getBoundingClientRect(), shown = getComputedStyle(tag).display !== 'none';
  return {label: el.dataset.label, title: el.title, text: shown ? tag.textContent : null,
          inside: !shown || (t.left >= r.left - 1 && t.right <= r.right + 1)};
}"""


@pytest.mark.slow
def test_labeler_region_names_fit_their_regions_shortened_or_hidden(tmp_path):
    """On the real music short suggestions read 'break g', 'drop gu', 'break gue': the name ran past its region."""
    from browser import LABELER_NOTEBOOK, ConsoleErrors, chromium, labeler_notebook, open_notebook, run_all
    from test_notebook_qa import _browser_reason

    reason = _browser_reason()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import expect

    with labeler_notebook(tmp_path, extra_cell=SHORT_SUGGESTIONS) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        errors = ConsoleErrors(page)
        open_notebook(page, server, LABELER_NOTEBOOK)
        run_all(page)
        expect(page.locator(".wb-lab[data-ready]:not([data-ready=''])")).to_have_count(1)
        expect(page.locator(".wb-suggestion-region")).to_have_count(3)
        page.wait_for_timeout(500)
        page.locator(".wb-lab .wb-wave").first.screenshot(path=str(tmp_path / "regions.png"))
        regions = {r["label"]: r for r in (el.evaluate(REGION_JS) for el in
                                           page.locator(".wb-suggestion-region").element_handles())}
        assert all(r["inside"] for r in regions.values()), regions
        assert regions["verse"]["text"] == "verse 90%"  # room: the whole name and confidence
        assert regions["break"]["text"] in ("break", "bre…")  # 12 beats, ~55 px: shortened, never cut
        assert regions["chorus"]["text"] is None  # 2 beats, ~9 px: no room, no name
        assert regions["chorus"]["title"] == "chorus 81%" and regions["break"]["title"] == "break 55%"
        page.locator(".wb-zoom-in").click()  # zoomed in twice: the break has room for its confidence again
        page.locator(".wb-zoom-in").click()
        page.wait_for_timeout(500)
        wide = {r["label"]: r for r in (el.evaluate(REGION_JS) for el in
                                        page.locator(".wb-suggestion-region").element_handles())}
        assert wide["break"]["text"] == "break 55%" and all(r["inside"] for r in wide.values()), wide
        assert not errors, errors


# -- notebook 01: the similar tracks' text aligned left ------------------------------------------------------

def _left_aligned_columns(html: str) -> set[str]:
    """Headings of the columns whose first-row cell a Styler's CSS aligns left."""
    heads = dict((m.group(1), m.group(2)) for m in re.finditer(r'id="T_\w+_level0_col(\d+)"[^>]*>([^<]*)</th>', html))
    left = set()
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", html):
        if "text-align: left" in body:
            left |= set(re.findall(r"_row0_col(\d+)\b", selectors))
    return {heads[c] for c in left if c in heads}


def test_notebook_01s_similar_tracks_align_their_text_left(small_home, tmp_path):  # noqa: F811
    """JupyterLab right-aligned every cell: the explanations read ragged against the right edge."""
    from test_notebooks import execute, outputs

    home = tmp_path / "ws"
    shutil.copytree(small_home, home)
    nb = execute("01_explore_library.ipynb", home, {"K": 3})
    table = next(h for h in outputs(nb, "text/html") if "explanation" in h)
    assert _left_aligned_columns(table) == {"name", "explanation"}, table  # score and id stay right
    assert "BPM;" in table and "..." not in table  # still in full


def test_text_left_leaves_numbers_right_and_shows_3_decimals():
    import pandas as pd

    from workbench.report.tables import text_left

    frame = pd.DataFrame({"score": [0.9123456, 0.8], "id": [3, 4], "ok": [True, False], "name": ["a", "b"]})
    html = text_left(frame).to_html()
    assert _left_aligned_columns(html) == {"name"}
    assert ">0.912<" in html and ">0.800<" in html
    assert text_left(frame).data is frame


def test_the_python_labelers_names_fit_their_regions_or_are_shortened(monkeypatch):
    """The picture labeler left out a short suggestion's name ('drop? 62%' in a 10-s region), and its
    estimate of 6.5 px a letter could let a bold name run past its region: names are measured, then shortened."""
    from types import SimpleNamespace

    import numpy as np
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    from workbench.widgets import trackview

    drawn = []
    real = trackview._span_text
    monkeypatch.setattr(trackview, "_span_text", lambda ax, a, b, text, **kw: drawn.append((text, a, b)) or
                        real(ax, a, b, text, **kw))
    sr, dur = 8000, 240.0
    y = np.random.default_rng(0).standard_normal(int(sr * dur)).astype(np.float32) * 0.1
    beats = np.arange(0, dur, 0.5)
    view = trackview.TrackView(y, sr=sr, beats_s=beats, downbeats_s=beats[::4], duration_s=dur)
    sections = [SimpleNamespace(label=lab, start_s=a, end_s=b, color="#9333ea", id=i)
                for i, (lab, a, b) in enumerate([("intro", 0, 6), ("chorus", 6, 14), ("break", 14, 40)])]
    suggestions = [SimpleNamespace(label=lab, start_s=a, end_s=b, color="#dc2626", confidence=p, uncertain=False)
                   for lab, a, b, p in [("drop", 40, 50, 0.62), ("break", 50, 57, 0.55), ("outro", 57, 62, 0.7),
                                        ("verse", 62, 120, 0.9)]]
    view.render(sections=sections, suggestions=suggestions)
    assert [t for t, _, _ in drawn] == ["cho…", "break", "drop?", "bre…", "verse? 90%"], drawn
    g, prop = view.geometry, FontProperties(size=8, weight="bold")
    for text, a, b in drawn:  # measured apart from the renderer: every name inside its region
        assert TextPath((0, 0), text, prop=prop).get_extents().width * view.dpi / 72 <= g.x_of(b) - g.x_of(a), text


@pytest.mark.slow
def test_the_reports_text_columns_stay_left_under_jupyterlabs_right_alignment(tmp_path):
    """Notebook 03's report in JupyterLab: 'metric', 'gate' and the best-baseline names read right-aligned
    (JupyterLab's rule outranked the report's); numbers stay right."""
    from browser import chromium
    from test_notebook_qa import _browser_reason

    from workbench.report.overview import headline
    from workbench.runs import Run

    reason = _browser_reason()
    if reason is not None:
        pytest.skip(reason)
    from workbench.report import html as H

    run = Run(path=tmp_path / "r-embeddings", info={"kind": "embeddings"}, config={}, data={}, history=[],
              metrics={"model": {"map_at_r": 0.87}, "baselines": {"backbone": {"map_at_r": 0.8}}})
    lab_rule = (":not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td, :not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon "
                "th { text-align: right; }")  # JupyterLab 4's, as its page has it
    page_html = (f"<html><head><style>{lab_rule}</style></head><body><div class='jp-RenderedHTMLCommon'>"
                 f"<div class='wb-report'><style>{H.CSS}</style>{headline(run)}</div></div></body></html>")
    with chromium() as browser:
        page = browser.new_page()
        page.set_content(page_html)
        align = page.eval_on_selector_all("td", "cells => cells.map(c => [c.textContent, getComputedStyle(c).textAlign])")
        heads = page.eval_on_selector_all("th", "cells => cells.map(c => getComputedStyle(c).textAlign)")
    assert dict(align) == {"MAP@R": "left", "0.8700": "right", "backbone 0.8000": "left", "+0.0700": "right"}, align
    assert set(heads) == {"left"}, heads


# -- notebook 07: run again, the same profile is the version saved before -------------------------------------

def test_notebook_07_run_again_reuses_the_profile_version_it_saved(small_home, tmp_path):  # noqa: F811
    """Each Run All of notebook 07 saved a new version of the same profile (v1, v2, v3 ... all identical)."""
    from test_notebooks import execute

    home = tmp_path / "ws"
    shutil.copytree(small_home, home)
    said = []
    for _ in range(2):
        nb = execute("07_style_dna.ipynb", home, {"REFERENCE": "grooves", "MIN_TRACKS": 2})
        cell = next(c for c in nb.cells if "save_or_reuse_profile(lib, profile)" in c.source)
        said += [o["text"] for o in cell.outputs if o.get("output_type") == "stream"]
    assert said == ["saved models/profiles/grooves/v1.json\n",
                    "grooves@1 unchanged: the same tracks, settings and figures as models/profiles/grooves/v1.json; "
                    "no new version saved\n"]
    assert sorted(p.name for p in (home / "models" / "profiles" / "grooves").iterdir()) == ["v1.json"]
