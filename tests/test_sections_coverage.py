"""Issue 18: section suggestions tile the whole track (0 s to its end) with boundaries on bar lines,
and the segment scores neither reward nor punish a start at 0 s against a label from the first beat."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.evaluate.segmentation import segment_eval
from workbench.train.sections import TrackFrames, segments_for

CLASSES = ("intro", "drop", "outro")


def _late_track() -> TrackFrames:
    """Music (and the first beat) from 1.75 s, a 2-beat pickup, downbeats every 4 beats, 1.3 s after the last beat."""
    beats = 1.75 + 0.5 * np.arange(70)
    duration = float(beats[-1] + 1.3)
    times = np.arange(0.0, duration, 0.25) + 0.125
    beat_at = np.searchsorted(beats, times, side="right") - 1
    probs = np.full((times.size, 3), [0.05, 0.9, 0.05])
    probs[beat_at < 18] = [0.9, 0.05, 0.05]
    probs[beat_at >= 50] = [0.05, 0.05, 0.9]
    sections = [{"start_s": float(beats[0]), "end_s": float(beats[18]), "label": "intro"},
                {"start_s": float(beats[18]), "end_s": float(beats[50]), "label": "drop"},
                {"start_s": float(beats[50]), "end_s": duration, "label": "outro"}]
    tr = TrackFrames(3, "late", duration, np.zeros((times.size, 1), np.float32), times, beats, beats[2::4], sections)
    tr.probs = probs  # type: ignore[attr-defined]
    return tr


@pytest.mark.parametrize("smooth", [True, False])
def test_suggestions_tile_the_track_from_0_s_to_its_end(smooth: bool) -> None:
    tr = _late_track()
    segs = segments_for(tr, tr.probs, CLASSES, smooth=smooth, min_bars=1)  # type: ignore[attr-defined]
    assert segs[0].start_s == 0.0 and segs[0].start_beat == 0  # not the first beat, 1.75 s
    assert segs[-1].end_s == pytest.approx(tr.duration_s) and segs[-1].end_beat == len(tr.beats)
    assert all(a.end_s == b.start_s and a.end_beat == b.start_beat for a, b in zip(segs[:-1], segs[1:], strict=True))
    assert sum(s.end_s - s.start_s for s in segs) == pytest.approx(tr.duration_s)
    if smooth:
        assert [s.label for s in segs] == list(CLASSES)
        downbeats = set(np.round(tr.downbeats, 6))
        assert all(round(s.start_s, 6) in downbeats for s in segs[1:])  # inner boundaries on bar lines
        assert segs[0].end_beat == 18  # the pickup joins the first bar (smoothing.bar_starts)


def test_a_start_at_0_s_against_a_label_from_the_first_beat_is_no_boundary() -> None:
    tr = _late_track()
    segs = segments_for(tr, tr.probs, CLASSES, min_bars=1)  # type: ignore[attr-defined]
    r = tr.segment_eval(segs)
    assert r["boundary_precision_0.5s"] == 1.0 and r["boundary_recall_0.5s"] == 1.0
    assert r["label_accuracy"] == 1.0
    # without the first beat the label's start (1.75 s, beyond the 1-s tolerance) pads the truth with an
    # unlabelled span: a boundary the suggestions "miss"
    plain = segment_eval(tr.sections, segs, duration_s=tr.duration_s)
    assert plain["boundary_recall_0.5s"] < 1.0
    # the track's own start and end are no boundary hits: one section for the whole track scores 0
    whole = [{"start_s": 0.0, "end_s": tr.duration_s, "label": "drop"}]
    assert segment_eval(tr.sections, whole, duration_s=tr.duration_s, first_beat_s=1.75)["boundary_f_3s"] == 0.0


def test_an_inner_boundary_after_the_first_beat_still_counts() -> None:
    truth = [{"start_s": 0.2, "end_s": 4.0, "label": "intro"}, {"start_s": 4.0, "end_s": 60.0, "label": "drop"}]
    late = [{"start_s": 0.0, "end_s": 60.0, "label": "drop"}]  # missed the intro
    r = segment_eval(truth, late, duration_s=60.0, first_beat_s=0.2)
    assert r["boundary_recall_3s"] == 0.0 and r["label_accuracy"] < 1.0
