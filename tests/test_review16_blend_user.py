"""Session 16's review of h16/blend and h16/user: one test per defect, each failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import three_folder_music
from test_user_qa15b import section_package  # noqa: F401  (fixture: a small exported section classifier)

from workbench.similarity.blend import Blend


def test_a_default_blend_writes_model_pt_as_before_the_setting():
    """``Blend.to_checkpoint`` wrote ``"backbone": "training"`` into every run's ``model.pt``: a default run's file
    (and so its sha256, its search tag and index folder) was no longer the one the same run wrote before."""
    mean, std = np.arange(3, dtype=np.float32), np.full(3, 2.0, dtype=np.float32)
    assert set(Blend(0.25, mean, std).to_checkpoint()) == {"weight", "mean", "std"}
    searched = Blend(0.25, mean, std, backbone="search").to_checkpoint()
    assert searched["backbone"] == "search"
    assert Blend.from_checkpoint({"blend": searched}).backbone == "search"
    assert Blend.from_checkpoint({"blend": Blend(0.25, mean, std).to_checkpoint()}).backbone == "training"


@pytest.mark.slow
def test_a_search_end_blend_of_share_one_keeps_exactly_its_backbones_invariance(tmp_path):
    """With ``blend_backbone=search`` the retrieval baseline is the backbone as search z-scores it, but the invariance
    gate still compared the model with the backbone z-scored with the training windows' statistics: a share of 1
    (the backbone search ranks with, exactly) measured another invariance than "the backbone" it is compared with."""
    from test_blend_backbone import search_end_job

    run, _ = search_end_job(tmp_path, blend=1.0, invariance_clips=2)
    invariance = run.metrics["invariance"]
    assert invariance and run.metrics["blend"]["backbone"] == "search"
    for name, space in invariance.items():
        assert space["model"] == pytest.approx(space["backbone"], abs=1e-5), (name, space)


def test_the_run_report_says_its_times_are_utc(tmp_path):
    """The report showed "started 2026-12-07 04:13" and ``created_at`` / ``finished_at`` "2026-12-07 04:13" without
    a zone (the stored ISO value carried one): a reader east or west of Greenwich read the wrong hour. `crates list`,
    `models list` and `profile show` say "(UTC)"."""
    import re

    from workbench.report import build
    from workbench.report.examples import write_example_run
    from workbench.runs import load_run, started_text

    run = load_run(write_example_run("sections", root=tmp_path, seed=1, quality=0.7))
    html, _, _ = build(run)
    readable = started_text(run.info["created_at"])
    assert f"started {readable} (UTC)" in html
    run_table = html.split("<h2>Run</h2>", 1)[1]
    assert re.search(rf"<td>created_at</td>\s*<td>{readable} \(UTC\)</td>", run_table), run_table[:600]
    assert re.search(rf"<td>finished_at</td>\s*<td>{started_text(run.info['finished_at'])} \(UTC\)</td>", run_table)
    run.info.pop("created_at")  # not recorded: no zone after "not recorded"
    html, _, _ = build(run)
    assert "started not recorded ·" in html
    assert started_text("the day before", zone=True) == "the day before"  # not a time read: no zone claimed for it
    assert started_text(None, zone=True) is None


@pytest.mark.slow
def test_search_says_when_a_search_end_blend_no_longer_has_searchs_statistics(tmp_path):
    """A ``blend_backbone=search`` run freezes search's statistics in its ``model.pt``; when the backbone's index is
    rebuilt later (``--max-windows``, a new index format, its folder deleted) with other statistics, share 1 no longer
    ranks as ``similar --model backbone`` and nothing said so."""
    import dataclasses

    import torch

    from workbench.analysis import analyze_library
    from workbench.embed.batch import embed_library
    from workbench.embed.features import FeatureFrontend
    from workbench.library import Library
    from workbench.models.heads import EmbeddingHead, seeded
    from workbench.search import LibrarySearch
    from workbench.similarity.model import EmbeddingModel

    fe = FeatureFrontend()
    head = seeded(EmbeddingHead, fe.dim, hidden_dim=16, out_dim=8, dropout=0.0, generator=torch.Generator().manual_seed(4))
    music = three_folder_music(tmp_path)
    with Library(tmp_path / "w.db") as lib:
        lib.scan(music, progress=False)
        analyze_library(lib, progress=False)
        embed_library(lib, backbone=fe, progress=False)
        mean, std = LibrarySearch(lib, backbone=fe, model="backbone", progress=False).update().window_stats()

        def said(blend: Blend) -> str:
            model = EmbeddingModel(fe, head, None, 8.0, 2.0, weights_sha256="ab" * 32, blend=blend)
            return LibrarySearch(lib, backbone=fe, model=model, progress=False).model_said

        assert "rebuilt" not in said(Blend(0.5, mean, std, backbone="search"))  # still search's: nothing to say
        moved = dataclasses.replace(Blend(0.5, mean, std, backbone="search"), mean=mean + std)
        text = said(moved)
        assert "rebuilt" in text and "1 std" in text and "blend_backbone=search" in text, text
        assert "rebuilt" not in said(dataclasses.replace(moved, backbone="training"))  # its own statistics: no claim


def test_activation_and_rollback_refusals_say_what_force_does_there(tmp_path, section_package, capsys,  # noqa: F811
                                                                   monkeypatch):
    """h16/user made the export refusal say what --force does there, but `models activate` and `models rollback`
    still said "Pass --force ... to export or activate it anyway": nothing is exported there."""
    from test_registry import _metrics, _parser, _run

    from workbench.evaluate.gates import GateFailedError

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    p = _parser()

    def cli(*argv):
        args = p.parse_args(["--db", db, "--quiet", *argv])
        return args.func(args)

    bad = _run(tmp_path, section_package, _metrics(0.2, majority={"accuracy": 0.5, "macro_f1": 0.1}))
    assert cli("export", bad, "--force") == 0                   # v1: fails its gate, inactive
    with pytest.raises(GateFailedError) as refused:
        cli("models", "activate", "dj_section", "1")
    said = str(refused.value)
    assert "export or activate" not in said and "Pass --force (force=True in Python) to activate it anyway" in said, said
    good = _run(tmp_path, section_package, _metrics(0.9, majority={"accuracy": 0.5, "macro_f1": 0.1}))
    assert cli("export", good) == 0                             # v2: passes, active
    with pytest.raises(GateFailedError) as refused:
        cli("models", "rollback", "dj_section")                 # to v1, which fails
    said = str(refused.value)
    assert "export or activate" not in said and "Pass --force (force=True in Python) to roll back to it anyway" in said, said
