"""The real-music search benchmark asks for out-of-fold learned weights only where its run trains fold heads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

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
