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


def sec(acc, f1, *, majority=(0.4, 0.1), held=HELD, boundaries=(0.9, 0.8)):
    """Sections metrics; ``boundaries``: (the smoothed sections', novelty's) boundary F @3 s, or None: not recorded."""
    m = {"model": {"accuracy": acc, "macro_f1": f1},
         "baselines": {"majority": {"accuracy": majority[0], "macro_f1": majority[1]}, "logreg": {"accuracy": 0.6}}}
    if boundaries is not None:
        m["segments"] = {"smoothed": {"boundary_f_3s": boundaries[0]}, "novelty": {"boundary_f_3s": boundaries[1]}}
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
    assert [g.status for g in blocking_gates(sec(0.6, 0.3), "dj_section")] == ["pass", "pass", "pass"]
    # below "always say drop": fewer right than the majority class
    gates = blocking_gates(sec(0.3, 0.2), "sections")
    assert [(g.metric, g.status) for g in failing(gates)] == [("accuracy of unsmoothed windows", "fail")]
    assert [g.status for g in blocking_gates(sec(0.4, 0.1), "sections")][:2] == ["fail", "pass"]  # f1 equal, acc equal


def test_sections_boundaries_must_not_fall_below_the_unsupervised_novelty_baseline():
    """Issue 18 asks suggestions never below the majority-class and unsupervised baselines; session 19's QA exported a
    dj_section model (trained on accepted novelty suggestions) whose boundaries were far below novelty's: the gates
    compared the majority class only."""
    gates = blocking_gates(sec(0.6, 0.3, boundaries=(0.41, 0.86)), "dj_section")
    assert [(g.name, g.status) for g in failing(gates)] == [("boundaries not below novelty", "fail")]
    g = failing(gates)[0]
    assert (g.value, g.op, g.reference, g.target) == (0.41, ">=", "segments.novelty", 0.86)
    assert g.figure == "boundary F @3 s of smoothed sections" and "0.4100 < segments.novelty 0.8600 -> fail" in str(g)
    assert "no per-track figures" in g.how and "no allowance for noise" in g.how  # recorded before session 21
    assert "boundaries below novelty: boundary F @3 s" in refusal_message("dj_section of run r", gates)  # what failed
    with pytest.raises(GateFailedError) as err:  # what export and activation raise
        raise GateFailedError("x", gates=failing(gates))
    assert err.value.gates[0].as_dict()["blocking"] is True
    assert blocking_gates(sec(0.6, 0.3, boundaries=(0.86, 0.86)), "sections")[2].status == "pass"  # equal: not below


def test_a_run_without_the_novelty_figure_is_unknown_and_does_not_block():
    """Runs without the figures (no held-out segments scored) say the gate is unknown and why, instead of passing it
    or failing it. (Runs trained before the gate have the figures, so they are passed or failed: below.)"""
    for metrics, missing in ((sec(0.6, 0.3, boundaries=None), "segments.smoothed.boundary_f_3s and segments.novelty"),
                             ({**sec(0.6, 0.3), "segments": {"smoothed": {"boundary_f_3s": 0.9}, "novelty": {}}},
                              "no segments.novelty.boundary_f_3s"),
                             ({**sec(0.6, 0.3), "segments": {"smoothed": {"boundary_f_3s": float("nan")},
                                                             "novelty": {"boundary_f_3s": 0.5}}},
                              "no segments.smoothed.boundary_f_3s (")):
        g = blocking_gates(metrics, "sections")[2]
        assert g.name == "boundaries not below novelty" and g.status == "unknown" and not g.blocking
        assert missing in g.metric and "does not block" in g.metric, g.metric
        assert failing(blocking_gates(metrics, "sections")) == []
    assert [g.name for g in blocking_gates(emb(0.35), "embeddings")].count("boundaries not below novelty") == 0


def test_missing_baselines_are_not_recorded_and_block():
    old = {"model": {"accuracy": 0.9, "macro_f1": 0.9}}
    gates = blocking_gates(old, "sections")[:2]
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
    assert status(sec_gates)[3] == ("not worse than active version", "macro_f1 of unsmoothed windows", "fail")


def test_held_out_hashes_and_refusal_message():
    assert held_out_hashes(emb(0.4)) == ("a", "b", "c")
    assert held_out_hashes({"held_out": {"track_hashes": []}}) is None
    gates = blocking_gates(emb(0.2), "embeddings")
    msg = refusal_message("run r1 (head)", gates)
    assert msg.startswith("run r1 (head) fails 1 blocking gate:")
    assert "not better than backbone: map_at_r 0.2000 <= baselines.backbone 0.3000 -> fail" in msg and "--force" in msg
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


def test_the_report_and_its_json_show_the_boundary_gate():
    from workbench.report.gates_part import gates_part

    html, records = gates_part(sec(0.6, 0.3, boundaries=(0.41, 0.86)), "sections", [])
    assert "boundaries not below novelty</td><td>boundary F @3 s of smoothed sections; the means" in html
    assert records[2] == {"name": "boundaries not below novelty", "metric": "boundary F @3 s of smoothed sections; the "
                          "means over the held-out tracks are compared, no allowance for noise: the run has no per-track "
                          "figures, segments.per_track (trained before runs recorded them: train again for the paired test)", "value": 0.41, "op": ">=", "reference": "segments.novelty", "target": 0.86,
                          "status": "fail", "blocking": True}
    _, records = gates_part(sec(0.6, 0.3, boundaries=None), "sections", [])
    assert records[2]["status"] == "unknown" and records[2]["blocking"] is False


def test_a_run_from_before_the_boundary_gate_is_gated_and_unknown_does_not_say_otherwise():
    """Sections runs have recorded segments.smoothed and segments.novelty since the first sections job (long before
    session 20's gate): such a run is passed or failed, never "unknown". The unknown gate said "(trained before this
    gate, or without held-out segments)", which a run trained before this gate is not."""
    session19 = sec(0.6, 0.3, boundaries=(0.41, 0.86))  # as held_out.py has written them since the first job
    assert blocking_gates(session19, "dj_section")[2].status == "fail"
    unknown = blocking_gates(sec(0.6, 0.3, boundaries=None), "sections")[2]
    assert unknown.status == "unknown" and "trained before this gate" not in unknown.metric, unknown.metric
    assert "without held-out segments" in unknown.metric


def test_sections_gates_judge_the_smoothed_sections_the_user_is_served_and_say_so():
    """QA, session 20: a 6-track sections run scored 0.25 accuracy unsmoothed and 0.85 smoothed; `suggest` and the
    report serve the smoothed sections, but the gates judged the windows and refused the model. They judge
    ``model_smoothed`` where the run recorded it and say which figure they judged; an older run falls back, said so."""
    run = {"model": {"accuracy": 0.25, "macro_f1": 0.20}, "model_smoothed": {"accuracy": 0.85, "macro_f1": 0.70},
           "baselines": {"majority": {"accuracy": 0.40, "macro_f1": 0.14}},
           "segments": {"smoothed": {"boundary_f_3s": 0.9}, "novelty": {"boundary_f_3s": 0.8}}}
    gates = blocking_gates(run, "sections")
    assert [(g.metric, g.value, g.status) for g in gates[:2]] == [
        ("macro_f1 of smoothed sections", 0.70, "pass"), ("accuracy of smoothed sections", 0.85, "pass")]
    assert not failing(gates)
    old = {k: v for k, v in run.items() if k != "model_smoothed"}
    gates = blocking_gates(old, "sections")
    assert [(g.metric, g.value, g.status) for g in gates[:2]] == [
        ("macro_f1 of unsmoothed windows", 0.20, "pass"), ("accuracy of unsmoothed windows", 0.25, "fail")]
    active = {**run, "held_out": {"track_hashes": ["a"]}}
    vs = blocking_gates(active, "sections", active_metrics={**active, "model_smoothed": {"accuracy": 0.9, "macro_f1": 0.75}},
                        active_name="dj_section_v1")[-1]
    assert (vs.metric, vs.value, vs.target, vs.status) == ("macro_f1 of smoothed sections", 0.70, 0.75, "fail")
    vs = blocking_gates(active, "sections", active_metrics={**old, "held_out": {"track_hashes": ["a"]}})[-1]
    # the active version recorded no smoothed figure: both unsmoothed, said so
    assert (vs.metric, vs.value) == ("macro_f1 of unsmoothed windows", 0.20)
