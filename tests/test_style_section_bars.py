"""Style profiles measure a section of 4 bars at any tempo: the limit is in beats where the track has a beat grid."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _track(bpm: float):
    from workbench.analysis import analyze
    from workbench.style.testbed import render_reference

    y, _ = render_reference(bpm=bpm, duration_s=16.0, sr=22050)
    return y, 22050, analyze(y, sr=22050)


def test_a_4_bar_section_at_128_bpm_is_profiled():
    """16 beats at 128 BPM are 7.5 s: under the old 8-s limit no 16-beat phrase above 120 BPM was ever measured."""
    from workbench.style.sections import section_features

    y, sr, a = _track(128.0)
    assert a.has_beat and abs(a.bpm - 128.0) < 2.0, a.bpm
    beats = np.asarray(a.beats)
    four_bars = ("drop", float(beats[4]), float(beats[20]))  # 16 beats, ~7.5 s
    three_bars = ("break", float(beats[4]), float(beats[16]))  # 12 beats
    assert 7.0 < four_bars[2] - four_bars[1] < 8.0
    rows = section_features(y, sr, a, [four_bars, three_bars])
    assert rows[0]["features"] is not None and "skipped" not in rows[0], rows[0].get("skipped")
    assert rows[1]["features"] is None
    assert rows[1]["skipped"] == "12 beats long; sections shorter than 16 beats (4 bars) are not measured"


def test_without_a_beat_grid_the_limit_stays_in_seconds():
    from dataclasses import replace

    from workbench.style.sections import section_features, too_short

    y, sr, a = _track(128.0)
    no_grid = replace(a, bpm=None)
    rows = section_features(y, sr, no_grid, [("drop", 1.0, 8.5), ("drop", 1.0, 8.96)])
    assert rows[0]["features"] is None and rows[0]["skipped"] == ("7.50 s long; sections shorter than 8 s are not "
                                                                  "measured")
    assert rows[1]["skipped"] == "7.96 s long; sections shorter than 8 s are not measured"
    assert too_short(0.0, 8.0, None) is None
    # with a grid, a section snapped a hair off its beats still counts them; never under 3 s of audio
    grid = np.arange(0, 20, 0.25)  # 240 BPM
    assert too_short(0.01, 3.99, grid) is None
    assert too_short(0.0, 2.9, np.arange(0, 20, 0.1)).endswith("sections shorter than 3 s are not measured")


def test_several_sections_too_short_in_beats_are_said_as_a_range():
    from workbench.commands.style import not_compared_lines

    why = "sections shorter than 16 beats (4 bars) are not measured"
    secs = [{"label": "drop", "start_s": 0.0, "end_s": 6.0, "compared": False, "reason": f"12 beats long; {why}"},
            {"label": "break", "start_s": 6.0, "end_s": 10.0, "compared": False, "reason": f"8 beats long; {why}"}]
    assert not_compared_lines(secs) == [f"  [2 sections: drop 0.0-6.0 s, break 6.0-10.0 s] not compared: {why} "
                                        "(8-12 beats long)"]
