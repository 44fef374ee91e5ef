"""Suggestion calibration counted per suggestion: span outcomes, the ECE's count, interval and floor, the span map."""

from __future__ import annotations

import numpy as np
import pytest


def _windows(rng: np.random.Generator, n_tracks: int) -> dict[str, np.ndarray]:
    """Synthetic scored windows of suggestions whose chance of being right is known.

    Short suggestions (2 windows) stated at 0.9 are right 90 % of the time; long ones (30 windows)
    stated at 0.9 are right 30 % of the time; stated 0.5 are right half the time. A window map is
    dragged down by the long wrong ones; the share of *suggestions* right at 0.9 is ~0.81.
    """
    tid, sid, conf, right = [], [], [], []
    for t in range(n_tracks):
        for k in range(6):
            kind = rng.integers(3)
            n, c, p = [(2, 0.9, 0.9), (30, 0.9, 0.3), (4, 0.5, 0.5)][kind]
            ok = rng.random() < p
            tid.append(np.full(n, t))
            sid.append(np.full(n, k))
            conf.append(np.full(n, c))
            right.append(np.full(n, ok))
    return {"track_ids": np.concatenate(tid), "suggestion_index": np.concatenate(sid),
            "confidence": np.concatenate(conf), "right": np.concatenate(right)}


def test_windows_group_into_suggestions_with_one_outcome_each():
    from workbench.evaluate.span_calibration import span_outcomes

    t = np.array([5, 5, 5, 5, 9, 9, 9])
    s = np.array([0, 0, 0, 1, 0, 0, 0])
    c = np.array([0.8, 0.8, 0.8, 0.4, 0.7, 0.7, 0.7])
    r = np.array([True, True, False, False, True, False, False])
    sp = span_outcomes(t, s, c, r)
    assert sp["track_ids"].tolist() == [5, 5, 9] and sp["suggestion_index"].tolist() == [0, 1, 0]
    assert sp["confidence"].tolist() == pytest.approx([0.8, 0.4, 0.7])
    assert sp["share_right"].tolist() == pytest.approx([2 / 3, 0.0, 1 / 3])
    assert sp["right"].tolist() == [True, False, False] and sp["n_windows"].tolist() == [3, 1, 3]
    assert sp["window_span"].tolist() == [0, 0, 0, 1, 2, 2, 2]
    assert span_outcomes(t, s, c, r, accept_at=0.25)["right"].tolist() == [True, False, True]
    assert len(span_outcomes(t[:0], s[:0], c[:0], r[:0])["confidence"]) == 0


def test_span_outcomes_refuse_bad_input():
    from workbench.evaluate.span_calibration import span_outcomes

    t, s, c, r = np.zeros(3, int), np.zeros(3, int), np.full(3, 0.5), np.ones(3, bool)
    with pytest.raises(ValueError, match="must be \\(n,\\) arrays of one length"):
        span_outcomes(t, s[:2], c, r)
    with pytest.raises(ValueError, match="confidence must be in \\[0, 1\\]"):
        span_outcomes(t, s, c + 1, r)
    with pytest.raises(ValueError, match="suggestion 0 of track 0 states several"):
        span_outcomes(t, s, np.array([0.5, 0.5, 0.6]), r)
    with pytest.raises(ValueError, match="accept_at must be a share in \\(0, 1\\]; got 0"):
        span_outcomes(t, s, c, r, accept_at=0)


def test_span_ece_counts_each_suggestion_once():
    from workbench.evaluate.span_calibration import span_ece

    # track 1: one 10-window suggestion at 0.9, wrong; track 2: four 1-window suggestions at 0.9, right
    t = np.array([1] * 10 + [2] * 4)
    s = np.array([0] * 10 + [0, 1, 2, 3])
    c = np.full(14, 0.9)
    r = np.array([False] * 10 + [True] * 4)
    out = span_ece(t, s, c, r)
    assert out["n_suggestions"] == 5 and out["n_tracks"] == 2 and out["share_right"] == pytest.approx(0.8)
    assert out["ece"] == pytest.approx(0.1)  # 0.9 stated, 4 of 5 right; per window it would be |0.9 - 4/14| = 0.61
    lo, hi = out["interval"]
    assert 0 <= lo <= hi <= 1
    assert span_ece(t[:0], s[:0], c[:0], r[:0]) == {}


def test_the_floor_is_what_a_calibrated_predictor_shows_and_falls_with_the_count():
    from workbench.evaluate.calibration import confidence_ece
    from workbench.evaluate.span_calibration import ece_floor

    rng = np.random.default_rng(7)
    few, many = rng.uniform(0.5, 1.0, 150), rng.uniform(0.5, 1.0, 20000)
    floor_few, floor_many = ece_floor(few), ece_floor(many)
    assert floor_many < 0.01 < 0.03 < floor_few  # 150 suggestions: a calibrated map still shows an ECE of ~0.04
    seen = [confidence_ece(few, rng.random(150) < few) for _ in range(200)]
    assert np.mean(seen) == pytest.approx(floor_few, abs=0.01)
    assert ece_floor(np.full(150, 0.9)) < floor_few  # one bin: only the share's own noise
    p95 = ece_floor(few, n_draws=1000, quantile=0.95)
    assert floor_few < p95 == pytest.approx(np.percentile(seen, 95), abs=0.01)
    assert np.mean(np.array(seen) > p95) == pytest.approx(0.05, abs=0.04)
    with pytest.raises(ValueError, match="quantile must be None or in"):
        ece_floor(few, quantile=1.5)
    with pytest.raises(ValueError, match="n_draws must be an int >= 1; got 0"):
        ece_floor(few, n_draws=0)


def test_the_interval_resamples_whole_tracks_and_covers_the_ece():
    from workbench.evaluate.calibration import confidence_ece
    from workbench.evaluate.span_calibration import ece_interval

    rng = np.random.default_rng(3)
    conf = rng.uniform(0.3, 1.0, 200)
    right = rng.random(200) < conf - 0.1  # over-confident by 0.1
    lo, hi = ece_interval(conf, right, groups=np.repeat(np.arange(20), 10), seed=1)
    assert lo < confidence_ece(conf, right) < hi and hi - lo < 0.2
    assert ece_interval(conf, right, groups=np.repeat(np.arange(20), 10), seed=1) == (lo, hi)  # seeded
    with pytest.raises(ValueError, match="groups must be \\(200,\\), one per prediction"):
        ece_interval(conf, right, groups=np.arange(5))
    with pytest.raises(ValueError, match="level must be a float in \\(0, 1\\); got 95"):
        ece_interval(conf, right, level=95)
    with pytest.raises(ValueError, match="n_boot must be an int >= 1; got 0"):
        ece_interval(conf, right, n_boot=0)


def test_a_span_map_is_calibrated_for_suggestions_where_a_window_map_is_not():
    from workbench.evaluate.calibration import apply_confidence_map
    from workbench.evaluate.span_calibration import fit_suggestion_map, span_ece

    rng = np.random.default_rng(18)
    fit_on, score_on = _windows(rng, 150), _windows(rng, 150)
    ece = {}
    for per in ("window", "suggestion", "span"):
        knots = fit_suggestion_map(fit_on["confidence"], fit_on["right"], per=per, track_ids=fit_on["track_ids"],
                                   suggestion_index=fit_on["suggestion_index"])
        served = apply_confidence_map(score_on["confidence"], knots)
        ece[per] = span_ece(score_on["track_ids"], score_on["suggestion_index"], served, score_on["right"])["ece"]
    stated = span_ece(score_on["track_ids"], score_on["suggestion_index"], score_on["confidence"],
                      score_on["right"])["ece"]
    # Platt has two parameters and the 0.9 suggestions are a mix, so no map is exact; the span map is nearest
    assert ece["span"] < 0.05 < ece["window"] and ece["span"] < stated
    with pytest.raises(ValueError, match="per must be one of \\['window', 'suggestion', 'span'\\]; got 'track'"):
        fit_suggestion_map(fit_on["confidence"], fit_on["right"], per="track", track_ids=fit_on["track_ids"],
                           suggestion_index=fit_on["suggestion_index"])
