"""The real-music search benchmark asks for out-of-fold learned weights only where its run trains fold heads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_search_real.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_search_real", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_learned_oof_is_asked_for_only_where_the_blend_is_picked_on_folds():
    oof_setting = _bench().oof_setting
    asked = ["--set", "learned_oof=true"]
    assert oof_setting([]) == asked and oof_setting(["blend=auto", "blend_folds=3", "epochs=2"]) == asked
    for settings in (["blend=off"], ["blend=0.5"], ["blend_folds=0"], ["finetune_backbone=true"],
                     ["finetune_backbone=True", "blend=auto"], ["learned_oof=false"], ["learned_oof=true"]):
        assert oof_setting(settings) == [], settings  # the job refuses it there (or the run said it itself)
    assert oof_setting(["finetune_backbone=false"]) == asked


def test_per_query_lines_say_which_queries_the_head_loses_by_folder():
    per_query_lines = _bench().per_query_lines
    row = {"backbone": {"per_query": [[1, 3], [2, 2], [3, 1]]}, "head": {"per_query": [[1, 2], [2, 2], [3, 3]]}}
    r = {"seed": 0, "p_at_3": {"default": row, "vibe": row},
         "queries": {"1": {"name": "Alpha", "folder": "asc"}, "2": {"name": "Beta", "folder": "asc"},
                     "3": {"name": "Gamma", "folder": "loops"}}}
    lines = per_query_lines(r, "v")
    assert lines[0] == ("v seed 0 default folder asc: 2 queries, head worse on 1, better on 0 "
                        "(backbone->head matches of 3: Alpha 3->2, Beta 2->2)")
    assert lines[1] == ("v seed 0 default folder loops: 1 query, head worse on 0, better on 1 "
                        "(backbone->head matches of 3: Gamma 1->3)")
    assert len(lines) == 4 and lines[2].startswith("v seed 0 vibe    folder asc")


def test_inner_scores_read_only_the_training_folds_and_skip_unscored_ones():
    inner_scores = _bench().inner_scores
    part = {"set_map": {"0": 0.6, "0.25": 0.5, "0.5": 0.5, "0.75": 0.5, "1": 0.4}}
    empty = {"set_map": dict.fromkeys(part["set_map"], float("nan"))}  # a fold with nothing to score
    other = {"set_map": {"0": 0.2, "0.25": 0.5, "0.5": 0.5, "0.75": 0.5, "1": 0.8}}
    results = [{"blend": {"weight": 0.0, "parts": [part, empty]}, "p_at_3": {"default": "held out, never read"}},
               {"blend": {"weight": 1.0, "parts": [other]}}]
    got = inner_scores(results)
    assert got["head_alone"] == pytest.approx(0.4) and got["backbone_end"] == pytest.approx(0.6)
    assert got["n_parts"] == 2 and got["shares"] == [0.0, 1.0]
    assert inner_scores([{"blend": None}]) == {}


def _devset(root: Path, styles: int = 6, per_style: int = 9) -> Path:
    """A fake devset: a manifest and tiny files, every third track of a style held out (as `workbench.devset`)."""
    import json

    root.mkdir()
    tracks = []
    for s in range(styles):
        for i in range(per_style):
            name = f"style{s}_{i:02d}.flac"
            (root / name).write_bytes(name.encode())
            tracks.append({"file": name, "style": f"style{s}", "split": "held_out" if i % 3 == 2 else "dev"})
    (root / "MANIFEST.json").write_text(json.dumps({"format": "workbench-devset/1", "tracks": tracks}))
    return root


def test_dev_libraries_are_shaped_like_the_real_files_from_dev_tracks_only(tmp_path):
    import sys

    sys.path.insert(0, str(BENCH.parent))
    from search_dev_libraries import REAL_LONE, REAL_SHAPE, dev_library, dev_tracks

    devset = _devset(tmp_path / "devset")
    assert all(len(files) == 6 for files in dev_tracks(devset).values())  # 9 a style, 3 held out
    plan = dev_library(devset, tmp_path / "a", draw=0)
    assert [len(v) for k, v in plan.items() if not k.startswith("lone")] == [min(n, 6) for n in REAL_SHAPE]
    assert [len(v) for k, v in plan.items() if k.startswith("lone")] == [1] * REAL_LONE
    styles = [f.split("_")[0] for files in plan.values() for f in files[:1]]
    assert len(set(styles)) == len(REAL_SHAPE) + REAL_LONE  # every folder its own style
    on_disk = sorted(str(p.relative_to(tmp_path / "a")) for p in (tmp_path / "a").rglob("*.flac"))
    assert on_disk == sorted(f"{k}/{f}" for k, v in plan.items() for f in v)
    assert all(int(p.stem.split("_")[1]) % 3 != 2 for p in (tmp_path / "a").rglob("*.flac"))  # no held-out track
    assert dev_library(devset, tmp_path / "b", draw=0) == plan and dev_library(devset, tmp_path / "c", draw=1) != plan
    with pytest.raises(ValueError, match="4 folders and 3 lone tracks need 7 styles; the devset has 6"):
        dev_library(devset, tmp_path / "d", draw=0, shape=(4, 4, 4, 4))
    with pytest.raises(ValueError, match="has no MANIFEST.json"):
        dev_library(tmp_path / "a", tmp_path / "e", draw=0)


def test_aggregation_summary_averages_each_rule_over_the_runs_that_measured_it():
    cell = {"default": {"backbone": 0.5, "head": 0.6}, "vibe": {"backbone": 0.4, "head": 0.8}}
    other = {"default": {"backbone": 0.7, "head": 0.8}, "vibe": {"backbone": 0.6, "head": 1.0}}
    results = [{"variant": "v", "by_aggregation": {"mean": cell}}, {"variant": "v", "by_aggregation": {"mean": other}},
               {"variant": "v", "by_aggregation": {}}]
    assert _bench().aggregation_summary(results) == [
        "v aggregation mean     default backbone 0.600  head 0.700  (2 runs)",
        "v aggregation mean     vibe    backbone 0.500  head 0.900  (2 runs)"]
