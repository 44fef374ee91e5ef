"""The browser labeler in-process: its kernel actions (what each page message does) against SQLite,
its media (peaks, Ogg audio), label colour contrast and the missing-bundle error. No browser
(tests/test_browser_labeler.py drives the page)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("anywidget")

from browser import build_demo_library, copy_database  # noqa: E402

from workbench.errors import ParameterError  # noqa: E402
from workbench.labels import LABEL_COLORS, LabelError, Labels, Suggestion  # noqa: E402
from workbench.library import Library  # noqa: E402
from workbench.widgets import labeler_web  # noqa: E402
from workbench.widgets.labeler_media import (  # noqa: E402
    AA_CONTRAST,
    OGG_BLOCK,
    contrast_ratio,
    ogg_bytes,
    text_color,
    waveform_peaks,
)

needs_bundle = pytest.mark.skipif(not labeler_web.BUNDLE.is_file(), reason="front end not built: run `make js`")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return build_demo_library(tmp_path_factory.mktemp("demo"), n_tracks=2, duration_s=30.0)


@pytest.fixture
def library(demo_db, tmp_path) -> Library:
    return Library(copy_database(demo_db, tmp_path / "workbench.db"))


def suggestions(library, track_id):
    from workbench.labels import Labels

    g = Labels(library).grid(track_id)
    return [Suggestion(track_id, "verse", 8, 24, g.time_of(8), g.time_of(24), 0.8, model_name="m", model_version="v1"),
            Suggestion(track_id, "drop", 32, 48, g.time_of(32), g.time_of(48), 0.3, uncertain=True,
                       model_name="m", model_version="v1", uncertain_below=0.8)]


@pytest.fixture
def lab(library):
    t = library.tracks()[0]
    return labeler_web.WebLabeler(library, suggest=suggestions(library, t.id), audio=False)


def rows(library):
    return [tuple(r) for r in library.conn.execute(
        "SELECT label, start_beat, end_beat, source FROM labels ORDER BY start_beat")]


def test_label_colours_meet_wcag_aa():
    for label, bg in LABEL_COLORS.items():
        assert contrast_ratio(text_color(bg), bg) >= AA_CONTRAST, label
    assert contrast_ratio("#ffffff", "#eab308") < 2.5  # the old white-on-yellow failed
    with pytest.raises(ParameterError, match="fg must be a colour '#rrggbb'; got 'red'"):
        contrast_ratio("red", "#000000")


def test_peaks_are_max_min_pairs():
    sr = 1000
    y = np.zeros(2 * sr, dtype=np.float32)
    y[100] = 0.5
    y[1500] = -1.0
    p = np.frombuffer(waveform_peaks(y, sr=sr, per_s=10), dtype=np.int8).reshape(-1, 2)
    assert p.shape == (20, 2)
    assert p[1].tolist() == [64, 0] and p[15].tolist() == [0, -127]
    assert np.count_nonzero(p) == 2
    with pytest.raises(ParameterError, match="sr and per_s must be positive ints; got sr=0"):
        waveform_peaks(y, sr=0)


def test_ogg_is_written_in_blocks_and_decodes():
    import soundfile as sf

    sr = 22050
    t = np.arange(3 * OGG_BLOCK) / sr  # several blocks
    y = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    data = ogg_bytes(y, sr=sr)
    back, back_sr = sf.read(io.BytesIO(data))
    assert back_sr == 22050 and abs(back.size - y.size) < 2048
    assert len(data) < y.size * 2 / 4  # much smaller than 16-bit PCM
    with pytest.raises(ParameterError, match="quality must be in"):
        ogg_bytes(y, sr=sr, quality=2)


def test_missing_bundle_names_the_command(library, monkeypatch, tmp_path):
    monkeypatch.setattr(labeler_web, "BUNDLE", tmp_path / "nope.js")
    with pytest.raises(labeler_web.BundleMissingError, match=r"make install.*Node.js"):
        labeler_web.WebLabeler(library)


@needs_bundle
def test_page_messages_edit_through_the_label_store(lab, library):
    t = library.tracks()[0]
    assert lab.track["id"] == t.id and len(lab.peaks) > 0 and lab.track["bar_numbers"][0] == 1
    lab.handle("add", {"label": "build", "start_beat": 16, "end_beat": 32})
    assert rows(library) == [("build", 16, 32, "user")] and lab.selected_id == lab.rows[0]["id"]
    lid = lab.rows[0]["id"]
    lab.handle("update", {"id": lid, "start_beat": 12, "end_beat": 32})
    lab.handle("relabel", {"id": lid, "label": "drop"})
    assert rows(library) == [("drop", 12, 32, "user")]
    rev = lab.revision
    lab.handle("undo", {})
    assert rows(library) == [("build", 12, 32, "user")] and lab.revision == rev + 1
    lab.handle("redo", {})
    assert rows(library) == [("drop", 12, 32, "user")]
    # an overlapping add: the engine's refusal is shown on the page, nothing stored
    with pytest.raises(LabelError, match="overlaps"):
        lab.add("intro", start_beat=0, end_beat=16)
    lab._on_page_message(lab, {"action": "add", "label": "intro", "start_beat": 0, "end_beat": 16}, [])
    assert "overlaps" in lab.error and rows(library) == [("drop", 12, 32, "user")]
    lab._on_page_message(lab, {"action": "fly"}, [])
    assert lab.error.startswith("unknown page action 'fly'")
    lab.handle("delete", {"id": lid})
    assert rows(library) == [] and lab.selected_id is None


@needs_bundle
@pytest.mark.parametrize(("overlap", "want"), [
    ("keep", [("verse", 8, 12, "model"), ("drop", 12, 20, "user"), ("verse", 20, 24, "model")]),
    ("replace", [("verse", 8, 24, "model")]),
    ("split", [("verse", 8, 24, "model")]),
])
def test_accept_with_each_overlap_choice_and_undo(lab, library, overlap, want):
    lab.add("drop", start_beat=12, end_beat=20)
    before = rows(library)
    lab.handle("accept", {"index": 0, "overlap": overlap})
    assert rows(library) == want
    assert len(lab.suggestions) == 1  # the accepted one is no longer suggested
    lab.undo()
    assert rows(library) == before and len(lab.suggestions) == 2
    lab.accept(0, overlap="merge")
    assert lab.error == "overlap must be one of keep, replace, split; got 'merge'"


@needs_bundle
def test_reject_accept_all_status_next_and_grid(lab, library):
    lab.reject(1)
    assert [s["label"] for s in lab.suggestions] == ["verse"]
    assert [tuple(r) for r in library.conn.execute("SELECT label FROM label_rejections")] == [("drop",)]
    lab.undo()
    assert len(lab.suggestions) == 2 and library.conn.execute("SELECT * FROM label_rejections").fetchall() == []
    lab.accept_all(overlap="keep")
    assert rows(library) == [("verse", 8, 24, "model"), ("drop", 32, 48, "model")] and lab.suggestions == []
    lab.set_status("done")
    assert lab.tracks[0]["status"] == "done"
    lab.next_track("unlabelled")
    assert lab.shown.id == library.tracks()[1].id
    lab.show_track(library.tracks()[0].id)
    first_bar = lab.track["downbeats"][0]
    lab.shift_downbeats(1)
    assert lab.track["downbeats"][0] == first_bar + 1 and "bar lines moved +1" in lab.message
    assert rows(library) == [("verse", 8, 24, "model"), ("drop", 32, 48, "model")]  # labels stay on their beats
    with pytest.raises(ParameterError, match="offset_ms"):
        lab.nudge_grid(0)
    lab.handle("nudge", {"offset_ms": 10})
    assert lab.error == "" and "grid nudged +10 ms" in lab.message


@needs_bundle
def test_edits_are_said_in_bars_as_the_ruler_and_the_selection_say(lab):
    """'added drop 158-304 on track 1' gave beats without a unit beside a ruler, suggestions and a selection in bars."""
    grid = lab.labels.grid(lab.shown)
    lab.handle("add", {"label": "drop", "start_beat": 8, "end_beat": 24})
    assert grid.bar_of(23) == grid.bar_of(24) - 1  # beats 8-24 end where the next bar starts: shown inclusive
    bars = f"bars {grid.bar_of(8)}–{grid.bar_of(23)}"
    assert lab.message == f"added drop {bars}", lab.message
    lid = lab.rows[0]["id"]
    lab.handle("select", {"id": lid})
    assert lab.message.startswith(f"selected drop {bars} ")
    lab.handle("update", {"id": lid, "start_beat": 12, "end_beat": 24})
    assert lab.message == f"moved drop bars {grid.bar_of(12)}–{grid.bar_of(23)}", lab.message


@needs_bundle
def test_uncertain_suggestions_carry_the_rule_and_least_certain_moves_to_them(library):
    """Each model suggestion carries what "uncertain" means (the model's threshold in words, which the page shows:
    tests/test_browser_labeler_suggestions.py); "least certain" still picks the track whose suggestions have the
    lowest mean confidence."""
    t1, t2 = library.tracks()[:2]
    sure = {t1.id: 0.9, t2.id: 0.7}  # 0.7: wrong 3 in 10, more than 1 in 5

    def suggest(t):
        g = Labels(library).grid(t)
        return [Suggestion(t.id, "intro", 0, 16, 0.0, g.time_of(16), sure[t.id], uncertain=sure[t.id] < 0.8,
                           model_name="m", model_version="v1", uncertain_below=0.8)]

    lab = labeler_web.WebLabeler(library, suggest=suggest, audio=False)
    lab.load_suggestions()
    rule = "uncertain: confidence under 80 %, a calibrated chance of more than 1 in 5 that it is wrong"
    assert lab.shown.id == t1.id and lab.suggestions[0]["uncertain"] is False
    assert lab.suggestions[0]["uncertain_rule"] == rule
    lab.handle("next", {"which": "uncertain"})
    lab.load_suggestions()
    assert lab.shown.id == t2.id and lab.suggestions[0]["uncertain"] is True and lab.error == ""


def test_a_rejection_is_said_in_bars_as_the_suggestion_list_says_it(lab):
    """Session 22's QA on real music: the list said "break bars 64–71", rejecting it said "rejected break 64-92 on
    track 14" (beats, no unit, the track's id): the same 64 read as a bar in one line and a beat in the next."""
    grid = lab.labels.grid(lab.shown)
    lab.load_suggestions()
    shown = lab.suggestions[1]
    assert (shown["start_bar"], shown["end_bar"]) == (grid.bar_of(32), grid.bar_of(48))
    lab.handle("reject", {"index": 1})
    assert shown["bars"] == f"bars {grid.bar_of(32)}–{grid.bar_of(47)}" and grid.bar_of(47) == grid.bar_of(48) - 1
    assert lab.error == "" and lab.message == f"rejected drop {shown['bars']}", lab.message


def test_bar_ranges_are_shown_inclusive_as_a_dj_counts_them():
    """Session 22's QA: "intro bars 1–17" then "break bars 17–24" (an exclusive end); a DJ reads bars 1–16, 17–24."""
    from workbench.labels import BeatGrid
    from workbench.widgets.labeler_actions import bars_text

    beats = np.arange(96) * 0.5  # 120 BPM, 4/4 from beat 0: 24 bars
    grid = BeatGrid(1, beats, beats[::4], 48.0)
    assert bars_text(grid, 0, 64) == "bars 1–16"
    assert bars_text(grid, 64, 96) == "bars 17–24"
    assert bars_text(grid, 8, 12) == "bar 3"
