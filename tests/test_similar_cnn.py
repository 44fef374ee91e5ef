"""``workbench similar --model cnn|cnn@N`` (issue 17): a CNN trained with ``train embeddings --backbone cnn
--distill features`` ranks search from the CLI, named in every result, its index keyed by its weights."""

from __future__ import annotations

import json

import pytest
from conftest import low_high_library

from workbench.errors import ParameterError
from workbench.runs import load_run

torch = pytest.importorskip("torch")

from test_cnn_backbone import _write  # noqa: E402


@pytest.fixture(scope="module")
def cnn_library(tmp_path_factory):
    """Two folders of four tracks and a tiny distilled CNN run in the library's own experiments folder."""
    from workbench import cli

    lib = low_high_library(tmp_path_factory.mktemp("simcnn"), _write)
    exp = lib.workspace.experiments
    rc = cli.main(["--db", str(lib.path), "--quiet", "train", "embeddings", "--backbone", "cnn", "--distill", "features",
                   "--epochs", "2", "--set", "n_views=1", "--set", "invariance_clips=1", "--set", "m=2",
                   "--set", "batch_size=4", "--set", "test_size=0.34", "--set", "val_size=0.34", "--classes", "folder",
                   "--experiments", str(exp)])
    assert rc == 0
    yield lib, load_run(next(exp.glob("*/model.pt")).parent)
    lib.close()


def _similar(lib, capsys, *args):
    from workbench.cli import main

    capsys.readouterr()
    rc = main(["--db", str(lib.path), "--quiet", "similar", str(lib.tracks()[0].id), "-k", "3", *args])
    return rc, capsys.readouterr().out


def test_similar_ranks_with_the_newest_cnn_run_and_names_it(cnn_library, capsys):
    from workbench.search import LibrarySearch
    from workbench.train.backbones import cnn_backbone

    lib, run = cnn_library
    rc, out = _similar(lib, capsys, "--model", "cnn", "--json")
    assert rc == 0
    rows = json.loads(out)
    assert len(rows) == 3 and {r["model"] for r in rows} == {f"cnn of run {run.run_id} ({run.info['backbone']['name']})"}
    # the same ranking as search with that CNN as the backbone (as the run's search gate measured it)
    gate = LibrarySearch(lib, backbone=cnn_backbone(run.model_path), model="backbone", progress=False).update()
    expected = gate.similar(lib.tracks()[0], k=3)
    assert [r["track_id"] for r in rows] == [r.track.id for r in expected]
    assert [r["score"] for r in rows] == pytest.approx([r.match.score for r in expected], abs=1e-4)
    # its index is keyed by the CNN's weights, apart from the feature frontend's
    assert (lib.workspace.root / "similarity" / run.info["backbone"]["name"] / "track-sets.json").is_file()
    rc, text = _similar(lib, capsys, "--model", "cnn")
    assert rc == 0 and f"model: cnn of run {run.run_id} (cnn-v1-" in text


def test_before_after_sets_the_cnn_against_the_feature_frontend_it_replaces(cnn_library):
    """Notebook 01's before/after with MODEL = "cnn": as the run's search gate, the feature frontend is the before."""
    from workbench.embed.features import FeatureFrontend
    from workbench.search import LibrarySearch
    from workbench.similarity.compare import before_after, precision_at_k
    from workbench.similarity.groups import held_out_hashes, track_groups
    from workbench.train.backbones import cnn_backbone

    lib, run = cnn_library
    ba = before_after(lib, "cnn", k=3, n_examples=2)
    assert ba["labels"] == {"backbone": "feature frontend", "head": f"cnn of run {run.run_id}"}
    assert ba["baseline"] == "features-v1: the bare feature frontend, the backbone the CNN replaces"
    held = set(held_out_hashes(lib, run.run_id))
    assert ba["queries"] == "held-out" and held
    queries = [t for t in lib.tracks() if t.content_hash in held]
    groups, _ = track_groups(lib)
    for key, backbone in (("backbone", FeatureFrontend()), ("head", cnn_backbone(run.model_path))):
        search = LibrarySearch(lib, backbone=backbone, model="backbone", progress=False)
        assert ba[key]["per_query"] == precision_at_k(search, queries, groups, k=3)["per_query"], key
    assert ba["models"]["backbone"] == "backbone (features-v1)"
    assert ba["models"]["head"].startswith(f"cnn of run {run.run_id} (cnn-v1-")
    assert len(ba["examples"]) == min(2, len(queries))
    with pytest.raises(ParameterError, match=r"trained head or CNN .*got 'backbone', which resolves to the bare"):
        before_after(lib, "backbone")


def test_the_cnn_runs_report_sets_it_against_the_feature_frontend(cnn_library):
    """`runs report` of a CNN run: its search before/after is recorded (a CNN's model.pt is no head)."""
    from types import SimpleNamespace

    from workbench.export.run_export import _end_to_end_cnn
    from workbench.models.cnn_backbone import recorded_hop_s
    from workbench.report.search_section import section_html, step_said, write_before_after

    lib, run = cnn_library
    doc = write_before_after(run, lib)
    assert doc["labels"] == {"backbone": "feature frontend", "head": f"cnn of run {run.run_id}"}
    assert doc["models"]["head"].startswith(f"cnn of run {run.run_id} (cnn-v1-")
    html = section_html(run)
    assert "Compared with features-v1: the bare feature frontend, the backbone the CNN replaces." in html
    assert f"<th>cnn of run {run.run_id}</th>" in html and "<th>feature frontend</th>" in html
    assert step_said(run) == "search before/after (feature frontend and CNN)"  # the report's progress bar
    # the CNN's hop as its run records it (run.json's backbone settings), read alike by search, the report and export
    assert recorded_hop_s(run.info["backbone"]) == run.info["backbone"]["settings"]["hop_s"]
    assert recorded_hop_s({"settings": {"hop_s": 1.0}}) == 1.0 and recorded_hop_s({"hop_s": 2.0}) == 2.0
    assert recorded_hop_s(None) == 0.5 and recorded_hop_s({"settings": None}) == 0.5
    at_1s = SimpleNamespace(run_id=run.run_id, config={}, metrics={}, info={"backbone": {"settings": {"hop_s": 1.0}}})
    assert _end_to_end_cnn(run.model_path, at_1s).hop_s == 1.0  # the export read a key runs never write (0.5)


def test_cnn_at_a_registered_version_and_the_active_one(cnn_library, capsys, tmp_path):
    pytest.importorskip("coremltools")
    from workbench.export.coreml import export_classifier
    from workbench.models.heads import SectionClassifier
    from workbench.registry import Registry

    lib, run = cnn_library
    package = export_classifier(SectionClassifier(16, hidden_dim=32).eval(), tmp_path / "m.mlpackage",
                                metadata={"metrics": {}})  # stands in for the CNN's Core ML package
    reg = Registry(lib, root=tmp_path / "models")
    v = reg.register("embedding", package.path, metadata={"backbone": run.info["backbone"], "run_id": run.run_id},
                     metrics=run.metrics, export=package.as_dict(), run_id=run.run_id, force=True)
    for model in (f"cnn@{v.version}", "cnn"):  # "cnn": the active embedding version, this CNN
        rc, out = _similar(lib, capsys, "--model", model, "--json")
        assert rc == 0 and {r["model"].split(" (")[0] for r in json.loads(out)} == {f"cnn@{v.version}"}
    from workbench.cli import main

    assert main(["--db", str(lib.path), "--quiet", "similar", str(lib.tracks()[0].id), "--model", "cnn@99"]) == 1
    assert (f"N an embedding version in [{v.version}], 'backbone', 'head' or 'head@N'; got 'cnn@99' "
            "(no embedding version 99)") in capsys.readouterr().err
    # the active CNN's weights gone: said, never replaced by another run's CNN (or "no CNN at all")
    weights = run.model_path
    weights.rename(weights.with_suffix(".away"))
    try:
        assert main(["--db", str(lib.path), "--quiet", "similar", str(lib.tracks()[0].id), "--model", "cnn"]) == 1
        err = capsys.readouterr().err
        assert f"embedding@{v.version}: its weights ({weights}) are gone" in err and "needs a CNN" not in err, err
    finally:
        weights.with_suffix(".away").rename(weights)
    # an active embedding version that is not a CNN (a head's embedding model): the newest CNN run ranks
    fake = lib.workspace.experiments / "not-a-cnn"
    fake.mkdir()
    (fake / "model.pt").write_bytes(b"not a checkpoint")
    other = reg.register("embedding", package.path, metadata={"backbone": {"name": "features-v1"}, "run_id": "not-a-cnn"},
                         metrics=run.metrics, export=package.as_dict(), run_id="not-a-cnn", force=True)
    assert reg.active("embedding").version == other.version
    rc, out = _similar(lib, capsys, "--model", "cnn", "--json")
    assert rc == 0 and {r["model"].split(" (")[0] for r in json.loads(out)} == {f"cnn of run {run.run_id}"}
    assert main(["--db", str(lib.path), "--quiet", "similar", str(lib.tracks()[0].id), "--model",
                 f"cnn@{other.version}"]) == 1
    assert f"embedding@{other.version} (run not-a-cnn) is not a CNN" in capsys.readouterr().err


def test_cnn_without_any_cnn_says_how_to_train_one(tmp_path, capsys):
    from workbench.search import LibrarySearch

    lib = low_high_library(tmp_path, _write)
    try:
        with pytest.raises(ParameterError, match=r"model 'cnn' needs a CNN.*train embeddings --backbone cnn"):
            LibrarySearch(lib, model="cnn", progress=False)
        with pytest.raises(ParameterError, match=r"'cnn' or 'cnn@N'.*got 'cnn@x'"):
            LibrarySearch(lib, model="cnn@x", progress=False)
    finally:
        lib.close()


def test_the_training_summary_names_the_cnn_and_the_feature_frontend_in_its_search_gate_line(cnn_library, tmp_path):
    import shutil

    from workbench.commands.train import embeddings_lines

    _, run = cnn_library
    copy = tmp_path / run.path.name
    shutil.copytree(run.path, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["search"] = {"status": "measured", "k": 3, "groups_by": "folder", "n_queries": 6, "model": 0.833,
                         "backbone": 0.778, "baseline": "features-v1: the bare feature frontend, the backbone the CNN "
                         "replaces", "per_query": {"model": [3, 3, 2, 2, 3, 2], "backbone": [3, 2, 2, 2, 3, 2]}}
    (copy / "metrics.json").write_text(json.dumps(metrics))
    line = next(t for t in embeddings_lines(copy) if t.startswith("search gate:"))
    assert line.endswith(": cnn 0.8330 vs backbone features-v1 0.7780 -> pass"), line
    assert "per query the cnn is better on 1, worse on 0" in line and "the head" not in line, line
