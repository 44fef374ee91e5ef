"""Blocking gates (issue 13): a model must beat its baselines on the same held-out tracks, and not be
worse than the active version when both were measured on the same tracks. Hand-made metrics dicts."""

from __future__ import annotations

import pytest

from workbench.errors import ParameterError
from workbench.evaluate.gates import (
    GateFailedError,
    blocking_gates,
    failing,
    held_out_hashes,
    quality_gates,
    refusal_message,
)
from workbench.evaluate.invariance import GATE_TRANSFORMS

HELD = {"track_hashes": ["b", "a", "c"]}


def emb(map_at_r, backbone=0.30, *, held=HELD):
    m = {"model": {"map_at_r": map_at_r, "precision_at_1": 0.5},
         "baselines": {"backbone": {"map_at_r": backbone}, "random_head": {"map_at_r": 0.05}},
         "invariance": {t: {"backbone": 0.9, "model": 0.9} for t in GATE_TRANSFORMS},  # passing (tests/test_invariance_training.py)
         "search": {"status": "measured", "k": 3, "n_queries": 6, "backbone": 0.7, "model": 0.8}}  # passing (test_search_gate.py)
    if held is not None:
        m["held_out"] = held
    return m


def sec(acc, f1, *, majority=(0.4, 0.1), held=HELD):
    m = {"model": {"accuracy": acc, "macro_f1": f1},
         "baselines": {"majority": {"accuracy": majority[0], "macro_f1": majority[1]}, "logreg": {"accuracy": 0.6}}}
    if held is not None:
        m["held_out"] = held
    return m


def status(gates):
    """The baseline and active-version gates (the invariance gates are tested in test_invariance_training, the search
    gate in test_search_gate)."""
    return [(g.name, g.metric, g.status) for g in gates if not g.name.startswith(("invariance ", "search "))]


def test_embeddings_must_beat_the_untrained_backbone():
    assert status(blocking_gates(emb(0.35), "embeddings")) == [("better than backbone", "map_at_r", "pass")]
    # the finding of issue 13: a fine-tuned head worse than the untrained backbone
    worse = blocking_gates(emb(0.25), "head")
    assert status(worse) == [("better than backbone", "map_at_r", "fail")] and failing(worse) == worse[:1]
    assert status(blocking_gates(emb(0.30), "embedding"))[0][2] == "fail"  # equal is not better


def test_sections_must_beat_always_say_the_majority_class():
    assert [g.status for g in blocking_gates(sec(0.6, 0.3), "dj_section")] == ["pass", "pass"]
    # below "always say drop": fewer right than the majority class
    gates = blocking_gates(sec(0.3, 0.2), "sections")
    assert [(g.metric, g.status) for g in failing(gates)] == [("accuracy", "fail")]
    assert [g.status for g in blocking_gates(sec(0.4, 0.1), "sections")] == ["fail", "pass"]  # f1 equal, acc equal


def test_missing_baselines_are_not_recorded_and_block():
    old = {"model": {"accuracy": 0.9, "macro_f1": 0.9}}
    gates = blocking_gates(old, "sections")
    assert [g.status for g in gates] == ["not recorded", "not recorded"] and all(g.blocking for g in gates)
    assert "gates not recorded" in refusal_message("run x", gates)
    assert blocking_gates({}, "embeddings")[0].status == "not recorded"
    nan = emb(float("nan"))
    assert blocking_gates(nan, "embeddings")[0].status == "not recorded"


def test_comparison_with_the_active_version_needs_the_same_held_out_tracks():
    active = emb(0.50, held={"track_hashes": ["a", "b", "c"]})  # same set, other order
    gates = blocking_gates(emb(0.40), "embeddings", active_metrics=active, active_name="embedding_v2")
    assert status(gates)[1] == ("not worse than embedding_v2", "map_at_r", "fail")
    assert gates[1].target == 0.5 and "embedding_v2" in str(gates[1])
    assert blocking_gates(emb(0.50), "embeddings", active_metrics=active)[1].status == "pass"  # equal: not worse
    other = emb(0.50, held={"track_hashes": ["x"]})
    g = blocking_gates(emb(0.40), "embeddings", active_metrics=other)[1]
    assert g.status == "not comparable" and not g.blocking
    assert blocking_gates(emb(0.40), "embeddings", active_metrics=emb(0.5, held=None))[1].status == "not comparable"
    sec_gates = blocking_gates(sec(0.6, 0.30), "sections", active_metrics=sec(0.7, 0.35))
    assert status(sec_gates)[2] == ("not worse than active version", "macro_f1", "fail")


def test_held_out_hashes_and_refusal_message():
    assert held_out_hashes(emb(0.4)) == ("a", "b", "c")
    assert held_out_hashes({"held_out": {"track_hashes": []}}) is None
    gates = blocking_gates(emb(0.2), "embeddings")
    msg = refusal_message("run r1 (head)", gates)
    assert msg.startswith("run r1 (head) fails 1 blocking gate:")
    assert "map_at_r 0.2000 > baselines.backbone 0.3000 -> fail" in msg and "--force" in msg
    err = GateFailedError(msg, gates=failing(gates))
    assert isinstance(err, ValueError) and err.gates == tuple(failing(gates))
    assert gates[0].as_dict()["blocking"] is True


def test_errors():
    with pytest.raises(ParameterError, match=r"kind must be one of \('embeddings', 'sections'\) or a model type"):
        blocking_gates({}, "tagger")
    with pytest.raises(ParameterError, match="metrics must be a dict"):
        blocking_gates([], "sections")


def test_research_targets_stay_reported_targets():
    gates = quality_gates({"model": {"precision_at_5": 0.8}}, "embeddings")
    assert [(g.name, g.passed) for g in gates] == [("precision_at_5", True), ("silhouette", None), ("nmi", None)]
