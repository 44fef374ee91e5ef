"""What a DJ meets running the notebooks on their own music (session 14's QA in JupyterLab on the
real music): an expected refusal said briefly, figures printed alike, progress bars named, label
names that fit their regions, text columns aligned left."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from test_notebook_qa import small_home  # noqa: F401  (a fixture: 4 short tracks scanned, analysed, embedded)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


# -- notebook 04: too few labels is a refusal, not a traceback ---------------------------------------------------

def test_notebook_04_on_an_unlabelled_library_says_what_to_do_without_a_traceback(small_home, tmp_path):  # noqa: F811
    """On the real music (no labels) the training cell showed a two-part traceback through the job's code."""
    from nbclient.exceptions import CellExecutionError
    from test_notebooks import execute

    home = tmp_path / "ws"
    shutil.copytree(small_home, home)
    with pytest.raises(CellExecutionError) as info:  # the run stops at the refusal, as "Run All" does
        execute("04_train_sections.ipynb", home, {"MIN_PER_CLASS": 3, "N_SPLITS": 3})
    text = ANSI.sub("", str(info.value)).split("-" * 18)[-1].strip()  # what the cell shows under it
    assert "NotReadyError: no labelled sections in this library: label sections first" in text
    assert "training needs 3 labelled sections per class for 2+ classes" in text
    assert "Traceback" not in text and "File " not in text and "job.py" not in text, text
    assert len(text.splitlines()) == 1, text


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


# -- the report's headline: every rate to 4 decimals ------------------------------------------------------

def test_the_headline_shows_a_perfect_track_map_at_r_with_4_decimals_as_the_other_rows(tmp_path):
    """Notebook 03 on the real music showed 'track MAP@R 1' under 0.8723, 0.9057, 0.8981."""
    from workbench.report.overview import headline
    from workbench.runs import Run

    model = {"map_at_r": 0.8723021, "precision_at_1": 0.9057, "precision_at_5": 0.8981, "track_map_at_r": 1.0}
    base = {"map_at_r": 0.7994602, "precision_at_1": 0.868, "precision_at_5": 0.883, "track_map_at_r": 1.0}
    run = Run(path=tmp_path / "r-embeddings", info={"kind": "embeddings"}, config={}, data={}, history=[],
              metrics={"model": model, "baselines": {"backbone": base}})
    cells = re.findall(r'<td class="(num[^"]*)">([^<]*)</td>', headline(run))
    assert [text for _, text in cells] == ["0.8723", "0.9057", "0.8981", "1.0000"], cells


# -- notebook 03: each progress bar says what it embeds ------------------------------------------------------

def test_the_embeddings_jobs_two_embedding_bars_say_which_tracks_they_embed(tmp_path, monkeypatch):
    """Notebook 03 showed 'embed 0/16' then 'embed 0/10': the labelled tracks, then the training tracks."""
    import tqdm.auto
    from test_classes import _library

    from workbench.train.jobs import train_embeddings_job

    names: list[tuple[str, int]] = []
    real = tqdm.auto.tqdm

    def recording(iterable=None, *args, **kwargs):
        items = list(iterable) if iterable is not None else None
        if not kwargs.get("disable"):
            names.append((kwargs.get("desc"), len(items) if items is not None else kwargs.get("total")))
        return real(items, *args, **{**kwargs, "disable": True})

    monkeypatch.setattr(tqdm.auto, "tqdm", recording)
    lib = _library(tmp_path, {"bass": [80.0, 90.0, 100.0, 110.0], "high": [1800.0, 2000.0, 2200.0, 2400.0]})
    job, _ = train_embeddings_job(lib, config={"epochs": 2, "invariance_clips": 0, "n_views": 1},
                                  experiments_root=tmp_path / "exp", progress=True)
    assert job.state == "completed"
    embedding = [(n, k) for n, k in names if n and n.startswith("embed")]
    assert [n for n, _ in embedding] == ["embed every track", "embed training tracks"], names
    assert embedding[0][1] == 8 > embedding[1][1]
