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
