"""Session 21's QA on the real music, small fixes: notebook 07's default reference on a library without it."""

from __future__ import annotations

import shutil

import pytest
from test_notebook_qa import small_home  # noqa: F401  (a fixture: 4 short tracks in grooves/ and loops/)


@pytest.fixture
def own_home(small_home, tmp_path):  # noqa: F811
    home = tmp_path / "ws"
    shutil.copytree(small_home, home)
    return home


def test_the_default_reference_falls_back_to_the_first_crate_or_folder_big_enough(own_home):
    import workbench
    from workbench.crates import Crates
    from workbench.errors import ParameterError
    from workbench.style import reference_or_first

    lib = workbench.Library(own_home / "data" / "workbench.db")
    Crates(lib).add("aaa-one", [lib.tracks()[0].id])  # a crate of 1 track: too few to stand in
    tracks, source, said = reference_or_first(lib, "trance", default="trance", min_tracks=2)
    assert source == "folder:grooves" and len(tracks) == 2
    assert said is not None and "'trance'" in said and "folder 'grooves'" in said and "2 tracks or more" in said
    assert reference_or_first(lib, "loops", default="trance", min_tracks=2)[1:] == ("folder:loops", None)
    with pytest.raises(ParameterError, match="got 'techno'"):  # a name the user set keeps the error
        reference_or_first(lib, "techno", default="trance", min_tracks=2)
    with pytest.raises(ParameterError, match="no crate or folder has 3 tracks or more"):
        reference_or_first(lib, "trance", default="trance", min_tracks=3)


def test_notebook_07_runs_with_its_default_reference_on_a_library_without_trance(own_home):
    """`REFERENCE = "trance"` stopped notebook 07 with an error on any library without a "trance" crate or folder."""
    from test_notebooks import execute

    nb = execute("07_style_dna.ipynb", own_home, {"MIN_TRACKS": 2})  # REFERENCE left at its default
    cell = next(c for c in nb.cells if "reference_or_first(lib, REFERENCE" in c.source)
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    assert "using the folder 'grooves'" in text and "2 reference tracks in folder:grooves" in text, text


def test_the_invariance_table_says_what_its_backbone_raw_column_is(tmp_path):
    """The embeddings report's invariance table had a `backbone_raw` column nothing explained."""
    from workbench.report.overview import grouped_metrics
    from workbench.runs import Run

    inv = {"pitch": {"backbone": 0.91, "model": 0.93, "backbone_raw": 0.97}}
    run = Run(path=tmp_path / "r-embeddings", info={"kind": "embeddings"}, config={}, data={}, history=[],
              metrics={"invariance": inv})
    html = grouped_metrics(run, {})
    assert "backbone_raw</th>" in html and "backbone_raw: the same vectors as they are, not z-scored" in html, html
    bare = Run(path=tmp_path / "r-old", info={"kind": "embeddings"}, config={}, data={}, history=[],
               metrics={"invariance": {"pitch": {"backbone": 0.91, "model": 0.93}}})
    assert "backbone_raw" not in grouped_metrics(bare, {})  # no such column: no caption for it
