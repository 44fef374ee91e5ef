"""The main job on a small demo library: every stage runs, reports, and a second run reuses everything."""

from __future__ import annotations

import json

import pytest
from conftest import DEMO_SMALL, workbench_home

from workbench.errors import ParameterError
from workbench.pipeline import run_demo


def test_demo_runs_every_stage(demo_home):
    home, first = demo_home
    assert first.synthesized and first.scan.counts()["added"] == 12
    assert sorted(first.styles) == ["dnb", "downtempo", "house", "progressive", "techno", "trance"]
    assert set(first.accuracy) == {"BPM within 2%", "key exact"}
    assert "not OpenL3" in first.backbone
    assert "9 tracks labelled now" in first.labels and "3 left unlabelled" in first.labels
    assert set(first.runs) == {"embeddings", "sections"}
    for kind, path in first.runs.items():
        assert path.parent == home / "experiments"
        assert (path / "model.pt").is_file() and first.reports[kind] == path / "report.html"
        assert first.reports[kind].stat().st_size > 50_000  # plots embedded
    # each model is exported (lint clean) unless it fails a blocking gate, which the summary says
    exported = {line.split()[0] for line in first.exports}
    refused_kinds = {line.split()[0] for line in first.refused}
    # every model is lint clean; the whole-track dj_section model (flexible length, float32) declares its
    # flexible input and float32 island, so where it runs (GPU/CPU, not the Neural Engine) is a warning
    assert all("lint 0 errors" in e for e in first.exports), first.exports
    for e in (e for e in first.exports if "whole track in" in e):
        doc = json.loads((home / "models" / f"{e.split()[0]}_{e.split()[1]}.json").read_text())
        warnings = [f["message"] for f in doc["export"]["lint"]["findings"] if f["level"] == "warning"]
        assert any("declared flexible input" in m for m in warnings), warnings
    assert {"sections" if t == "dj_section" else "embeddings" for t in exported}.isdisjoint(refused_kinds)
    assert exported | {t for k in refused_kinds for t in {"sections": ["dj_section"],
                                                             "embeddings": ["head", "embedding"]}[k]} == \
        {"dj_section", "embedding", "head"}
    assert {line.split()[0] for line in first.versions} == (exported or {"no"})  # "no active version in ..."
    assert all((home / "models" / f"{t}_v1.mlpackage").is_dir() for t in exported)
    assert all("fails its gates" in line and "->" in line for line in first.refused)
    assert all(line in first.summary() for line in first.refused)
    assert len(first.suggestions) == 3 and all(first.suggestions.values())
    names = {h.name for h in first.headlines}
    assert {"embeddings: precision_at_5", "sections: accuracy", "sections: macro_f1"} <= names
    text = first.summary()
    for needle in (str(home), "report (sections)", "registry", "suggested for", "headline metrics", "stages (s)"):
        assert needle in text
    state = json.loads((home / "data" / "demo" / "PIPELINE.json").read_text())
    assert state["embeddings"]["run_id"] == first.runs["embeddings"].name
    # the same "similar to" query before training (the bare backbone) and, once a head is active, with it
    assert first.example[0].startswith("  similar to ") and ", ranked by backbone (" in first.example[0]
    assert len(first.example_ids) == 3 == len(first.example) - 1
    if "head" in exported:
        assert first.example_after and ", ranked by head@1 (on " in first.example_after[0], first.example_after
        assert first.example_after[0].split(", ranked")[0] == first.example[0].split(", ranked")[0]  # the same query
        assert len(first.example_after_ids) == 3 == len(first.example_after) - 1
        moved = sum(a != b for a, b in zip(first.example_ids, first.example_after_ids, strict=True))
        assert f"(the active head changed {moved} of the 3 places)" in text
        assert all(line in text for line in first.example_after)
    else:  # no head was activated: nothing to show after
        assert not first.example_after and "the active head changed" not in text


def test_second_run_reuses_everything(demo_home):
    from workbench.library import Library
    from workbench.registry import Registry

    home, first = demo_home
    with workbench_home(home):
        with Library() as lib:  # other tests (the notebooks) may have added versions since
            before = [(v.model_type, v.version, v.active) for v in Registry(lib).list()]
        announced: list[str] = []
        second = run_demo(progress=False, log=announced.append, **DEMO_SMALL)
        with Library() as lib:
            after = [(v.model_type, v.version, v.active) for v in Registry(lib).list()]
    assert not second.synthesized and second.scan.counts()["unchanged"] == 12
    assert "12 reused" in second.analysis and "0 tracks labelled now" in second.labels
    assert second.runs == first.runs
    assert after == before  # nothing exported again
    assert sum(r.startswith("export of") for r in second.reused) == 2 - len(first.refused)
    assert second.refused == first.refused  # checked again, refused again
    assert any(r.startswith("embeddings run") for r in second.reused)
    assert any(r.startswith("sections run") for r in second.reused)
    assert sum(second.stage_seconds.values()) < sum(first.stage_seconds.values()) / 3
    assert second.suggestions == first.suggestions
    stages = [line for line in announced if line.startswith("[")]  # "[k/n] name ...", one per stage, n right
    assert len(stages) == len(second.stage_seconds) == 13
    assert [line.split("]")[0] for line in stages] == [f"[{k}/13" for k in range(1, 14)]


def test_interrupted_synthesis_is_redone(tmp_path):
    folder = tmp_path / "demo"
    run_demo(demo_folder=folder, db_path=tmp_path / "w.db", n_tracks=2, seed=0, train=False, progress=False)
    next(folder.glob("*.flac")).unlink()  # as if the run had died mid-way
    again = run_demo(demo_folder=folder, db_path=tmp_path / "w.db", n_tracks=2, seed=0, train=False,
                     progress=False)
    assert again.synthesized and again.scan.counts()["failed"] == 0


def test_bad_arguments(tmp_path):
    with pytest.raises(ParameterError, match="n_tracks must be an int >= 1; got 0"):
        run_demo(demo_folder=tmp_path, db_path=tmp_path / "w.db", n_tracks=0)
    with pytest.raises(ParameterError, match=r"n_unlabeled must be an int in \[0, n_tracks=4\); got 4"):
        run_demo(demo_folder=tmp_path, db_path=tmp_path / "w.db", n_tracks=4, n_unlabeled=4)


def test_demo_refuses_too_few_tracks_to_train_up_front(tmp_path):
    from workbench.cli import main

    with pytest.raises(ParameterError, match=r"n_tracks must be >= 25 to train the section model with n_unlabeled=3: "
                                             r"training needs 10 labelled sections per class .*verse 3/10"):
        run_demo(demo_folder=tmp_path / "demo", db_path=tmp_path / "w.db", n_tracks=12)
    assert not (tmp_path / "demo").exists()  # refused before anything was made
    with pytest.raises(ParameterError, match=r"n_tracks must be >= 22 .*n_unlabeled=0"):
        run_demo(demo_folder=tmp_path / "demo", db_path=tmp_path / "w.db", n_tracks=21, n_unlabeled=0)
    assert main(["--db", str(tmp_path / "w.db"), "demo", "--tracks", "24", "--folder", str(tmp_path / "d")]) == 1
    assert not (tmp_path / "d").exists()


def test_demo_minimum_is_what_the_readiness_rule_needs_on_the_demo_truth():
    """The accepted side: the truth of the fewest accepted demo tracks passes readiness, one fewer fails."""
    from collections import Counter

    from workbench.demo.library import synthesize_track
    from workbench.demo.readiness import check_demo_size, min_demo_tracks
    from workbench.demo.styles import STYLES
    from workbench.train.sections import NotReadyError, check_readiness

    need = min_demo_tracks(n_unlabeled=3)
    assert need == 25
    check_demo_size(need, n_unlabeled=3)
    check_demo_size(need + 7, n_unlabeled=3)
    with pytest.raises(ParameterError, match="n_tracks must be >= 25"):
        check_demo_size(need - 1, n_unlabeled=3)
    counts: Counter[str] = Counter()
    for index in range(1, need - 3 + 1):  # the labelled tracks, rendered small: the truth does not depend on sr
        _, truth = synthesize_track(STYLES[(index - 1) % len(STYLES)], seed=0, index=index, sr=16000)
        counts.update(s["label"] for s in truth["sections"])
        if index == need - 4:
            with pytest.raises(NotReadyError, match="Need more labels"):
                check_readiness(counts)
    check_readiness(counts)
    check_demo_size(12, n_unlabeled=3, sections_config={"min_per_class": 3})  # the small test demo's settings
