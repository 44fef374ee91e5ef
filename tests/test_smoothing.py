"""Smoothing of section probabilities (semi-Markov Viterbi over bars), segments snapped to bars, segment scores."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.evaluate.segmentation import segment_eval
from workbench.labels import Suggestion
from workbench.train import smoothing as sm
from workbench.train.sections import TrackFrames, segments_for

# ------------------------------------------------------------------------------ smoothing


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.asarray(p, dtype=float))


def test_viterbi_removes_flicker() -> None:
    p = np.full((16, 3), 0.1)
    p[:8, 0] = 0.8
    p[8:, 1] = 0.8
    p[3] = [0.1, 0.1, 0.8]  # one-bar blips
    p[12] = [0.8, 0.1, 0.1]
    assert len(sm.runs(p.argmax(axis=1))) == 6
    segs = sm.segment_viterbi(_log(p), min_len=2, switch_penalty=1.0)
    assert segs == [sm.Segment(0, 8, 0), sm.Segment(8, 16, 1)]


def test_viterbi_respects_min_length() -> None:
    p = np.full((12, 2), 0.2)
    p[:, 0] = 0.8
    p[5:7] = [0.01, 0.99]  # a confident 2-unit excursion
    assert [s.label for s in sm.segment_viterbi(_log(p), min_len=2, switch_penalty=0.0)] == [0, 1, 0]
    segs = sm.segment_viterbi(_log(p), min_len=3, switch_penalty=0.0)
    assert all(s.end - s.start >= 3 for s in segs)
    assert segs[0].start == 0 and segs[-1].end == 12
    assert all(a.end == b.start and a.label != b.label for a, b in zip(segs[:-1], segs[1:], strict=True))
    # shorter than min_len: one segment
    assert sm.segment_viterbi(_log(p[:2]), min_len=4) == [sm.Segment(0, 2, 0)]


def test_viterbi_transition_prior_and_phrase_prior() -> None:
    # ambiguous second half (labels 1 and 2 tie); the order prior 0 -> 2 decides
    p = np.full((8, 3), 0.49)
    p[:, 0] = 0.02
    p[:4] = [0.9, 0.05, 0.05]
    log_t = np.log(np.array([[0, 0.1, 0.9], [0.5, 0, 0.5], [0.5, 0.5, 0]]) + 1e-12)
    segs = sm.segment_viterbi(_log(p), min_len=1, log_transitions=log_t)
    assert [s.label for s in segs] == [0, 2]
    # a 5/3 split becomes 4/4 under a strong phrase prior
    q = np.full((8, 2), 0.4)
    q[:5, 0] = 0.6
    q[5:, 1] = 0.6
    assert [(s.start, s.end) for s in sm.segment_viterbi(_log(q), min_len=1, switch_penalty=0)] == [(0, 5), (5, 8)]
    prior = sm.phrase_prior(phrase_bars=4, penalty=5.0)
    assert [(s.start, s.end) for s in sm.segment_viterbi(_log(q), min_len=1, switch_penalty=0,
                                                                   length_logprior=prior)] == [(0, 4), (4, 8)]


def test_learn_transitions() -> None:
    log_t, log_init, log_final = sm.learn_transitions([[0, 0, 1, 2], [0, 1, 2]], 3, alpha=0.5)
    assert np.isneginf(np.diag(log_t)).all()
    np.testing.assert_allclose(np.exp(log_t).sum(axis=1), 1.0)
    assert log_t[0, 1] > log_t[0, 2] and log_init.argmax() == 0 and log_final.argmax() == 2
    with pytest.raises(ParameterError, match="alpha must be > 0"):
        sm.learn_transitions([], 3, alpha=0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"min_len": 0}, "min_len must be an int >= 1"),
    ({"max_len": 1, "min_len": 2}, "max_len must be None or an int >= min_len"),
    ({"switch_penalty": -1}, "switch_penalty must be >= 0"),
    ({"evidence_weight": 0}, "evidence_weight must be > 0"),
    ({"log_init": np.zeros(5)}, "log_init"),
])
def test_viterbi_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        sm.segment_viterbi(np.zeros((4, 2)), **kwargs)


def test_viterbi_rejects_bad_evidence() -> None:
    with pytest.raises(ParameterError, match="evidence must be a finite"):
        sm.segment_viterbi(np.array([[0.0, np.nan]]))


def test_beat_probabilities_and_bar_starts() -> None:
    probs = np.eye(3)[[0, 0, 1, 1, 2]]
    bp = sm.beat_probabilities(probs, np.arange(5) * 0.5 + 0.5, [0.0, 1.0, 2.0, 5.0], duration_s=6.0)
    np.testing.assert_allclose(bp[:3], [[1, 0, 0], [0.5, 0.5, 0], [0, 0.5, 0.5]])
    np.testing.assert_allclose(bp[3], [0, 0, 1])  # no frame inside: the nearest frame
    # beats from 0 s, first downbeat at 1 s: a 1-beat pickup whose bar would start at -3 s joins the first bar
    assert sm.bar_starts(np.arange(10.0), [1.0, 5.0, 9.0]).tolist() == [0, 5, 9]
    # the grid starts at 3 s: the 1 s before the first downbeat (4 s) is the tail of a bar the tracker missed
    assert sm.bar_starts(np.arange(3.0, 13.0), [4.0, 8.0, 12.0]).tolist() == [0, 1, 5, 9]
    assert sm.bar_starts(np.arange(10.0), []).tolist() == [0, 4, 8]
    with pytest.raises(ParameterError, match="no beat grid"):
        sm.bar_starts([], [])
    with pytest.raises(ParameterError, match="beats_s must be a non-empty increasing"):
        sm.beat_probabilities(probs, np.arange(5.0), [1.0, 0.5], duration_s=3)


def _grid_track(n_bars: int = 16, bpm: float = 120.0, hop_s: float = 0.5, downbeat_offset: int = 0) -> TrackFrames:
    beat_s = 60 / bpm
    beats = np.arange(n_bars * 4) * beat_s
    duration = n_bars * 4 * beat_s
    times = np.arange(0, duration, hop_s) + hop_s / 2
    return TrackFrames(7, "grid", duration, np.zeros((times.size, 1), np.float32), times, beats,
                       beats[downbeat_offset::4], [])


def test_segments_snap_to_bars_and_have_confidence() -> None:
    tr = _grid_track(n_bars=16)  # 2 s bars, 4 frames per bar
    truth_change_s = 17.0  # mid-bar 8 (bars start at 16 s and 18 s)
    probs = np.where(tr.times_s[:, None] < truth_change_s, [0.9, 0.1], [0.1, 0.9])
    rng = np.random.default_rng(0)
    flicker = rng.random(tr.times_s.size) < 0.1
    probs[flicker] = probs[flicker][:, ::-1]
    raw = segments_for(tr, probs, ("intro", "drop"), smooth=False)
    smoothed = segments_for(tr, probs, ("intro", "drop"))
    assert len(raw) > 2
    assert [s.label for s in smoothed] == ["intro", "drop"]
    downbeats = set(np.round(tr.downbeats, 6))
    for s in smoothed:
        assert isinstance(s, Suggestion) and s.track_id == 7
        assert s.start_beat % 4 == 0 and (s.end_beat % 4 == 0 or s.end_beat == len(tr.beats))
        assert round(s.start_s, 6) in downbeats
        assert 0.5 < s.confidence <= 1.0
    assert smoothed[0].start_beat == 0 and smoothed[-1].end_beat == len(tr.beats)
    assert smoothed[-1].end_s == pytest.approx(tr.duration_s)
    assert smoothed[0].end_s in (16.0, 18.0)


def test_segments_use_analysis_downbeats() -> None:
    tr = _grid_track(n_bars=8, downbeat_offset=1)
    probs = np.where(tr.times_s[:, None] < 8.5, [0.9, 0.1], [0.1, 0.9])
    segs = segments_for(tr, probs, ("intro", "drop"), min_bars=1)
    assert segs[0].end_beat % 4 == 1


def test_segments_refuse_beatless_track_and_unknown_options() -> None:
    tr = _grid_track()
    probs = np.full((tr.times_s.size, 2), 0.5)
    with pytest.raises(ParameterError, match="smoothing options"):
        segments_for(tr, probs, ("intro", "drop"), min_length=3)
    tr.beats = np.zeros(0)
    with pytest.raises(ParameterError, match="no beat grid"):
        segments_for(tr, probs, ("intro", "drop"))


def test_segment_eval_scores_boundaries() -> None:
    truth = [{"start_s": 0.0, "end_s": 30.0, "label": "intro"}, {"start_s": 30.0, "end_s": 60.0, "label": "drop"},
             {"start_s": 60.0, "end_s": 90.0, "label": "outro"}]
    close = [{"start_s": 0.4, "end_s": 31.0, "label": "intro"}, {"start_s": 31.0, "end_s": 60.2, "label": "drop"},
             {"start_s": 60.2, "end_s": 90.0, "label": "outro"}]
    r = segment_eval(truth, close, duration_s=90.0)
    assert r["boundary_f_3s"] == 1.0 and r["boundary_recall_0.5s"] == 0.5
    far = [{"start_s": 0.0, "end_s": 45.0, "label": "intro"}, {"start_s": 45.0, "end_s": 90.0, "label": "drop"}]
    r2 = segment_eval(truth, far, duration_s=90.0)
    assert r2["boundary_f_3s"] == 0.0 and r2["pairwise_f"] < 1.0
    assert segment_eval(truth, truth, duration_s=90.0)["label_accuracy"] == 1.0
    with pytest.raises(ParameterError, match="at least one section"):
        segment_eval(truth, [], duration_s=90.0)


def test_bar_starts_pickup_joins_first_bar_but_truncated_bar_stays() -> None:
    """Issue 18: a pickup before the first downbeat is no bar of its own (an intro of 14 beats read as 4 bars)."""
    beats = 0.25 + 0.5 * np.arange(20)  # music from 0.25 s; the first downbeat's bar would start at -0.75 s
    assert sm.bar_starts(beats, beats[2::4]).tolist() == [0, 6, 10, 14, 18]
    late = 0.5 + 0.5 * np.arange(20)  # the tracker missed the beat at 0 s: its bar (0-2 s) fits in the audio
    assert sm.bar_starts(late, late[3::4]).tolist() == [0, 3, 7, 11, 15, 19]


def test_suggested_intro_after_a_pickup_is_whole_bars() -> None:
    """A 2-beat pickup + 3 bars (14 beats) was a 4-bar phrase to the smoother; pickup + 4 bars is one now."""
    beat_s = 0.5
    beats = 0.25 + beat_s * np.arange(70)  # downbeats at beats 2, 6, 10, ...
    duration = float(beats[-1] + beat_s)
    times = np.arange(0, duration, 0.25) + 0.125
    beat_at = np.clip(np.searchsorted(beats, times, side="right") - 1, 0, beats.size - 1)
    probs = np.full((times.size, 3), [0.05, 0.9, 0.05])  # drop
    probs[beat_at < 14] = [0.9, 0.05, 0.05]  # intro on the pickup and 3 bars
    probs[(beat_at >= 14) & (beat_at < 18)] = [0.475, 0.475, 0.05]  # the 4th bar: intro or drop, evenly
    probs[beat_at >= 38] = [0.05, 0.05, 0.9]  # outro from the downbeat at beat 38
    tr = TrackFrames(9, "pickup", duration, np.zeros((times.size, 1), np.float32), times, beats, beats[2::4], [])
    segs = segments_for(tr, probs, ("intro", "drop", "outro"), min_bars=1, switch_penalty=0.0, phrase_penalty=2.0)
    assert [s.label for s in segs] == ["intro", "drop", "outro"]
    assert segs[0].end_beat == 18  # the pickup and 4 whole bars
    assert all((s.start_beat - 2) % 4 == 0 for s in segs[1:])  # every boundary a downbeat


def test_decoded_intro_only_first_and_outro_only_last() -> None:
    """An intro after a build (the QA's machine_wars: intro -> build -> intro) or a section after an outro.

    Add-one smoothing left those orders possible; strong evidence in the middle then decoded them.
    """
    from workbench.train.sections.grammar import learn_grammar

    classes = ("build", "drop", "intro", "outro")
    tr = _grid_track(n_bars=48)  # 2 s bars, 4 frames per bar
    bar = (tr.times_s // 2).astype(int)
    # intro 0-7, build 8-15, intro-like 16-31, outro-like 32-39, drop 40-47
    truth = np.select([bar < 8, bar < 16, bar < 32, bar < 40], [2, 0, 2, 3], 1)
    probs = np.full((tr.times_s.size, 4), 0.02)
    probs[np.arange(truth.size), truth] = 0.94
    forms = [(["intro", "build", "drop", "outro"], [8.0, 8.0, 16.0, 8.0])] * 2
    grammar = learn_grammar(forms, classes, weight=2.0)
    for kwargs in ({"grammar": grammar}, {}, {"transitions": sm.learn_transitions([[2, 0, 1, 3]] * 2, 4)}):
        labels = [s.label for s in segments_for(tr, probs, classes, **kwargs)]
        assert "intro" not in labels[1:] and "outro" not in labels[:-1], (kwargs, labels)


def test_ends_order_forbids_only_intro_after_others_and_after_outro() -> None:
    t = sm.ends_order(("intro", "drop", "outro"))
    assert np.isneginf(t[1, 0]) and np.isneginf(t[2, 0]) and np.isneginf(t[2, 1])
    assert t[0, 1] == 0 and t[0, 2] == 0 and t[1, 2] == 0 and t[0, 0] == 0
    assert np.array_equal(sm.ends_order(("build", "drop")), np.zeros((2, 2)))
    with pytest.raises(ParameterError, match=r"\(3, 3\)"):
        sm.ends_order(("intro", "drop", "outro"), np.zeros((2, 2)))
