"""Notebooks 01 and 02 with ``MODEL = "cnn"`` (issue 17): a CNN trained with ``workbench train embeddings --backbone
cnn --distill features`` ranks the similar tracks and the labeler's neighbours, named as ``workbench similar`` names
it; notebook 01's before/after sets it against the feature frontend it replaces; no CNN is a one-line refusal.

Run headless with nbclient on a workspace of eight 12-second clips and a CNN trained for 2 epochs.
"""

from __future__ import annotations

import re
import shutil

import pytest

torch = pytest.importorskip("torch")

from test_cnn_backbone import _write  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;]*m")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cnn_home(tmp_path_factory):
    """A workspace (data/, experiments/, models/) of two folders of four clips, analysed, and a tiny distilled CNN run:
    (home, run)."""
    from conftest import LOW_HIGH_FREQS

    from workbench.cli import main
    from workbench.runs import load_run

    root = tmp_path_factory.mktemp("nbcnn")
    home = root / "ws"
    for sub in ("data", "experiments", "models"):
        (home / sub).mkdir(parents=True)
    seed = 0
    for folder, freqs in LOW_HIGH_FREQS.items():
        for i, f in enumerate(freqs):
            _write(root / "music" / folder / f"t{i}.wav", freq_hz=f, seed=seed)
            seed += 1
    for cmd in (["scan", str(root / "music")], ["analyze", "--workers", "1"],
                ["train", "embeddings", "--backbone", "cnn", "--distill", "features", "--epochs", "2",
                 "--set", "n_views=1", "--set", "invariance_clips=1", "--set", "m=2", "--set", "batch_size=4",
                 "--set", "test_size=0.34", "--set", "val_size=0.34", "--classes", "folder"]):
        assert main(["--home", str(home), "--quiet", *cmd]) == 0, cmd
    return home, load_run(next((home / "experiments").glob("*/model.pt")).parent)


def _text(nb) -> str:
    """Everything the notebook printed (streams and plain-text results)."""
    return "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_notebook_01_ranks_with_the_cnn_and_sets_it_against_the_feature_frontend(cnn_home):
    from test_notebooks import execute, outputs, stderr_of

    home, run = cnn_home
    nb = execute("01_explore_library.ipynb", home, {"K": 3, "MODEL": "cnn"})
    text, html = _text(nb), "\n".join(outputs(nb, "text/html"))
    name = f"cnn of run {run.run_id}"
    assert f"model: {name} (cnn-v1-" in text  # as `workbench similar --model cnn` names it
    # the before/after: the CNN against the feature frontend it replaces, not against its own untrained weights
    assert "compared with features-v1: the bare feature frontend, the backbone the CNN replaces" in text
    table = next(h for h in outputs(nb, "text/html") if "precision_at_k" in h)
    assert ">feature frontend</th>" in table and f">{name}</th>" in table  # row names (a Styler: text_left)
    assert "backbone (features-v1)" in table and f"{name} (cnn-v1-" in table
    assert ">head</th>" not in table and "head@" not in table  # a CNN has no head: no row says one
    assert "query:" in text and f">{name}</th>" in html.split("precision_at_k", 1)[1].split("</table>", 1)[1]  # the example rankings
    assert not stderr_of(nb)


def test_notebook_01_with_model_cnn_and_no_cnn_is_the_one_line_refusal(cnn_home, tmp_path):
    from nbclient.exceptions import CellExecutionError
    from test_notebooks import execute

    home = tmp_path / "ws"
    shutil.copytree(cnn_home[0], home, ignore=shutil.ignore_patterns("experiments"))
    (home / "experiments").mkdir()
    with pytest.raises(CellExecutionError) as info:
        execute("01_explore_library.ipynb", home, {"K": 3, "MODEL": "cnn"})
    text = ANSI.sub("", str(info.value)).split("-" * 18)[-1].strip()  # what the cell shows under it
    assert re.fullmatch(r"ParameterError: model 'cnn' needs a CNN: none is registered as the active embedding model "
                        r"and no run in \S+ trained one; train one with `workbench train embeddings --backbone cnn` "
                        r"\(--distill features to learn the feature frontend's head\)", text), text


def test_notebook_02_neighbours_ranked_by_the_cnn_name_it(cnn_home):
    from test_notebooks import execute

    from workbench.library import Library
    from workbench.widgets import neighbour_tracks

    home, run = cnn_home
    nb = execute("02_label_sections.ipynb", home, {"NEIGHBOURS_OF": 1, "K": 3, "MODEL": "cnn"})
    line = next(t for t in _text(nb).splitlines() if "nearest" in t)
    lib = Library(home / "data" / "workbench.db")
    try:
        tracks, said = neighbour_tracks(lib, 1, k=3, model="cnn")
    finally:
        lib.close()
    assert line == f"{tracks[0].name} and its 3 nearest ({said})"
    assert said.startswith(f"model: cnn of run {run.run_id} (cnn-v1-"), said
