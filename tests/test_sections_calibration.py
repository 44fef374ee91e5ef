"""Sections calibration: a temperature or confidence map that made held-out groups worse is not kept."""

from __future__ import annotations

import numpy as np
import pytest


class _Fitted:
    temperature_ = 1.7
    confidence_map_ = (np.linspace(0, 1, 3), np.array([0.2, 0.5, 0.6]))


def _loso(win: tuple[float, float], sug: tuple[float, float]) -> dict:
    return {"calibration": {"ece_before": win[0], "ece_after": win[1],
                            "suggestions": {"ece_before": sug[0], "ece_after": sug[1]}}}


def test_identity_is_kept_where_the_fit_worsened_held_out_groups():
    from workbench.train.sections.calibration_fit import keep_if_it_helps

    t, cal = _Fitted(), {"temperature": 1.7, "fitted_on": "leave-one-group-out predictions", "suggestions": {}}
    keep_if_it_helps(t, cal, _loso((0.05, 0.08), (0.10, 0.12)))
    assert t.temperature_ == 1.0 and cal["temperature"] == 1.0 and cal["temperature_fitted"] == 1.7
    assert "identity kept" in cal["fitted_on"] and "(0.0500 -> 0.0800)" in cal["fitted_on"]
    assert t.confidence_map_ is None and "(0.1000 -> 0.1200)" in cal["suggestions"]["map_dropped"]


def test_a_fit_that_helped_is_kept():
    from workbench.train.sections.calibration_fit import keep_if_it_helps

    t, cal = _Fitted(), {"temperature": 1.7, "fitted_on": "x", "suggestions": {}}
    keep_if_it_helps(t, cal, _loso((0.08, 0.03), (0.10, 0.05)))
    assert t.temperature_ == 1.7 and cal["temperature"] == 1.7 and "temperature_fitted" not in cal
    assert t.confidence_map_ is not None and "map_dropped" not in cal["suggestions"]
    keep_if_it_helps(t, cal, None)  # no held-out groups: nothing to check against, nothing changes
    assert t.temperature_ == 1.7 and t.confidence_map_ is not None


def test_train_sections_records_the_guard():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_sections_transfer import FAST, _data

    from workbench.train.sections import train_sections

    res = train_sections(_data(), config=FAST, progress=False)
    cal, lo = res.metrics["calibration"], res.metrics["transfer"]["leave_one_group_out"]["calibration"]
    worse = lo["ece_after"] > lo["ece_before"]
    assert ("temperature_fitted" in cal) == worse
    if worse:
        assert res.trainer.temperature_ == 1.0 == cal["temperature"]
    else:
        assert res.trainer.temperature_ == pytest.approx(cal["temperature"])
    sug_worse = lo["suggestions"]["ece_after"] > lo["suggestions"]["ece_before"]
    assert ("map_dropped" in cal["suggestions"]) == (sug_worse and "fitted_on" in cal["suggestions"])
    off = train_sections(_data(), config={**FAST, "calibration_guard": False}, progress=False)
    assert "temperature_fitted" not in off.metrics["calibration"]
    assert "map_dropped" not in off.metrics["calibration"].get("suggestions", {})


def test_report_says_when_the_identity_was_kept():
    from workbench.report.sections import calibration_part

    cal = {"temperature": 1.0, "temperature_fitted": 1.7, "fitted_on": "x; identity kept: ...",
           "suggestions": {"fitted_on": "Platt", "map_dropped": "identity kept: the map fitted on other groups raised"}}
    html = calibration_part({"calibration": cal}, lambda name, fig, alt: "")
    assert "temperature fitted, not kept" in html and "1.7" in html and "the map fitted on other groups raised" in html


def test_each_suggestion_counts_once_in_the_map():
    from workbench.evaluate.span_calibration import per_suggestion_weights

    w = per_suggestion_weights(np.array([7, 7, 7, 7, 9, 9]), np.array([0, 0, 0, 1, 0, 0]))
    assert w.tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1.0, 0.5, 0.5])
    assert per_suggestion_weights(np.zeros(0), np.zeros(0)).shape == (0,)


def test_platt_weights_move_the_map_and_are_checked():
    from workbench.evaluate.calibration import fit_platt

    rng = np.random.default_rng(18)
    # one long suggestion stated at 0.9 and wrong (100 windows), ten short ones at 0.9 and right (2 windows each)
    conf = np.concatenate([np.full(100, 0.9), np.full(20, 0.9), rng.uniform(0.2, 0.4, 60)])
    right = np.concatenate([np.zeros(100, bool), np.ones(20, bool), rng.uniform(size=60) < 0.3])
    per_window = fit_platt(conf, right)[1][90]
    per_suggestion = fit_platt(conf, right, sample_weight=np.concatenate([np.full(100, 0.01), np.full(20, 0.5),
                                                                           np.ones(60)]))[1][90]
    assert per_window < 0.5 < per_suggestion  # counted once, the long wrong one no longer outweighs ten right ones
    assert fit_platt(conf[:3], np.array([True, True, False]), sample_weight=np.array([1.0, 1.0, 0.0]))[1].min() == 1.0
    with pytest.raises(ValueError, match="sample_weight must be"):
        fit_platt(conf, right, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight must be"):
        fit_platt(conf, right, sample_weight=-np.ones(len(conf)))


def test_confidence_map_per_is_a_config_choice():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_sections_transfer import FAST, _data

    from workbench.train.sections import train_sections

    data = _data(groups=("a", "b", "c"), per_group=3)
    each = train_sections(data, config={**FAST, "calibration_guard": False, "confidence_map_per": "suggestion"},
                          progress=False)
    assert "each suggestion counted once" in each.metrics["calibration"]["suggestions"]["fitted_on"]
    assert "suggestions (each counted once)" in each.metrics["transfer"]["leave_one_group_out"]["calibration"][
        "suggestions"]["how"]
    win = train_sections(data, config={**FAST, "calibration_guard": False}, progress=False)  # the default
    assert "each window counted once" in win.metrics["calibration"]["suggestions"]["fitted_on"]
    with pytest.raises(ValueError, match="confidence_map_per must be 'span', 'suggestion' or 'window'; got 'track'"):
        train_sections(data, config={**FAST, "confidence_map_per": "track"}, progress=False)


def test_the_guard_judges_a_span_map_by_the_span_ece():
    from workbench.train.sections.calibration_fit import keep_if_it_helps

    t, cal = _Fitted(), {"temperature": 1.7, "fitted_on": "x", "suggestions": {}}
    lo = _loso((0.08, 0.03), (0.10, 0.05))  # per window the map helped ...
    lo["calibration"]["suggestions"]["guard"] = {"ece_before": 0.04, "ece_after": 0.06}  # ... per suggestion it did not
    keep_if_it_helps(t, cal, lo)
    assert t.confidence_map_ is None and "(0.0400 -> 0.0600)" in cal["suggestions"]["map_dropped"]


def test_a_span_map_is_fitted_and_every_scope_reports_the_ece_per_suggestion():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_sections_transfer import FAST, _data

    from workbench.train.sections import train_sections

    data = _data(groups=("a", "b", "c"), per_group=3)
    res = train_sections(data, config={**FAST, "calibration_guard": False, "confidence_map_per": "span"},
                         external={"other": _data(groups=("d",), per_group=2)}, progress=False)
    cal = res.metrics["calibration"]
    assert "one outcome per suggestion" in cal["suggestions"]["fitted_on"]
    assert cal["uncertain_rule"].startswith("uncertain: confidence under 80 %")  # the report and labeler say it
    lo = res.metrics["transfer"]["leave_one_group_out"]["calibration"]["suggestions"]
    assert "one outcome each" in lo["how"]
    assert lo["guard"] == {"ece_before": lo["span"]["before"]["ece"], "ece_after": lo["span"]["after"]["ece"]}
    ext = res.metrics["transfer"]["external"]["other"]["calibration"]["suggestions"]
    for sp in (lo["span"]["after"], cal["suggestions"]["span"]["after"], ext["span"]["after"]):
        assert sp["n_suggestions"] >= sp["n_tracks"] >= 1 and 0 <= sp["ece"] <= 1
        assert sp["interval"][0] <= sp["interval"][1] and 0 <= sp["floor"] <= sp["floor_95"]


def test_the_demo_summary_gives_the_ece_per_suggestion_with_its_count_and_floor():
    from workbench.pipeline_summary import _external_headlines

    span = {"ece": 0.061, "n_suggestions": 49, "floor": 0.104, "interval": [0.04, 0.15]}
    ext = {"model_smoothed": {"accuracy": 0.79}, "baselines": {"majority": {"accuracy": 0.3}}, "tracks": 8,
           "calibration": {"suggestions": {"ece_before": 0.2, "ece_after": 0.073, "span": {"after": span},
                                           "reliability_after": {"count": [0, 1200, 368]}}}}
    lines = {h.name: h for h in _external_headlines({"transfer": {"external": {"devset": ext}}})}
    # each line says what it counts: scored windows (a long suggestion weighs more) or suggestions as judged
    win = lines["sections: suggestion ECE on devset, as served, per scored window (1568 windows; a long suggestion "
                "counts more)"]
    assert win.value == 0.073 and win.passed is False
    per = lines["sections: same, per suggestion as the user judges it (49 suggestions; calibrated floor 0.1040)"]
    assert per.value == 0.061 and per.passed is False and "0.061" in str(per)
