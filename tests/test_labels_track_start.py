"""A label from beat 0 starts the track (0 s), not at its first beat: the store, edits, review,
export, the CLI, the Python labeler's selection and the training windows.

The track's first beat is late (5.6 s, an intro without a beat), so the old rule (beat 0 at the
first beat's time) leaves a 5.6 s gap that each test would see.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from workbench.labels import BeatGrid, LabelError, Labels, LabelWarning, Suggestion
from workbench.library import Library

SR = 8000
FIRST_BEAT_S = 5.6
BEAT_S = 0.5
N_BEATS = 64
DURATION_S = FIRST_BEAT_S + N_BEATS * BEAT_S + 0.4   # 38.0 s


@pytest.fixture
def lib(tmp_path) -> Library:
    """A library of one noise track with a stored grid: 64 beats every 0.5 s from 5.6 s."""
    import soundfile as sf
    from test_labels import _store_grid

    (tmp_path / "audio").mkdir()
    rng = np.random.default_rng(0)
    sf.write(str(tmp_path / "audio" / "late.wav"), 0.1 * rng.standard_normal(int(DURATION_S * SR)), SR)
    lib = Library(tmp_path / "db" / "w.db")
    lib.scan(tmp_path / "audio", progress=False)
    (t,) = lib.tracks()
    _store_grid(lib, t, N_BEATS, offset_s=FIRST_BEAT_S)
    return lib


@pytest.fixture
def labels(lib) -> Labels:
    return Labels(lib)


@pytest.fixture
def tid(lib) -> int:
    return lib.tracks()[0].id


def _stored(lib: Library, table: str = "labels") -> list[tuple]:
    return [tuple(r) for r in lib.store.conn.execute(f"SELECT start_beat, end_beat, start_s, end_s FROM {table} "
                                                     "ORDER BY start_beat")]


def test_span_s_is_the_one_label_edge_rule():
    beats = FIRST_BEAT_S + BEAT_S * np.arange(N_BEATS)
    g = BeatGrid(track_id=1, beats_s=beats, downbeats_s=beats[::4], duration_s=DURATION_S)
    assert g.time_of(0) == pytest.approx(FIRST_BEAT_S)                 # the beat itself is still at 5.6 s
    assert g.edge_s(0) == 0.0 and g.edge_s(1) == pytest.approx(FIRST_BEAT_S + BEAT_S)
    assert g.edge_s(N_BEATS) == DURATION_S
    assert g.span_s(0, 8) == (0.0, pytest.approx(FIRST_BEAT_S + 4.0))
    assert g.span_s(0, N_BEATS) == (0.0, DURATION_S)                    # the whole track
    assert g.span_s(8, 16) == (pytest.approx(FIRST_BEAT_S + 4.0), pytest.approx(FIRST_BEAT_S + 8.0))
    with pytest.raises(LabelError, match=f"beat must be in 0..{N_BEATS}"):
        g.edge_s(N_BEATS + 1)


def test_add_split_undo_and_nudge_keep_beat_0_at_0_s(labels, lib, tid):
    a = labels.add(tid, "intro", start_beat=0, end_beat=16)
    assert (a.start_s, a.end_s) == (0.0, pytest.approx(FIRST_BEAT_S + 8.0))
    assert _stored(lib)[0][2] == 0.0
    with pytest.warns(LabelWarning, match="shorter than 8 beats"):
        labels.add(tid, "build", start_beat=4, end_beat=8, overlap="split")  # splits the intro: 0-4 and 8-16
    assert [(s, e, round(t0, 3)) for s, e, t0, _ in _stored(lib)] == [(0, 4, 0.0), (4, 8, 7.6), (8, 16, 9.6)]
    labels.undo()
    labels.undo()
    labels.redo()
    assert [(s, e, round(t0, 3)) for s, e, t0, _ in _stored(lib)] == [(0, 16, 0.0)]
    assert labels.for_track(tid)[0].start_s == 0.0
    labels.nudge_grid(tid, 100.0)                                        # the grid moves; beat 0 still starts the track
    assert _stored(lib)[0][2:] == (0.0, pytest.approx(FIRST_BEAT_S + 8.1))
    labels.update(a.id, start_beat=4, end_beat=16)
    assert labels.get(a.id).start_s == pytest.approx(FIRST_BEAT_S + 2.1)


def test_seconds_from_0_snap_to_beat_0_without_a_note(labels, tid):
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelWarning)                     # 0 s is beat 0's edge: nothing moved
        a = labels.add_seconds(tid, "intro", start_s=0.0, end_s=FIRST_BEAT_S + 8.0)
    assert (a.start_beat, a.end_beat, a.start_s) == (0, 16, 0.0)
    with pytest.warns(LabelWarning, match=r"start 5\.600 s -> beat 0 \(0\.000 s\)"):
        b = labels.add_seconds(tid, "drop", start_s=FIRST_BEAT_S, end_s=FIRST_BEAT_S + 8.0, overlap="replace")
    assert (b.start_beat, b.start_s) == (0, 0.0)


def test_accepted_and_rejected_first_suggestions_start_the_track(labels, lib, tid):
    def mk(label, a, b, start_s):
        return Suggestion(tid, label, a, b, start_s, FIRST_BEAT_S + b * BEAT_S, 0.8, model_name="m", model_version="v1")

    # a suggester's first suggestion starts at 0 s (suggest_sections) and an older one at the first beat:
    # stored, both start the track
    for start_s in (0.0, FIRST_BEAT_S):
        got = labels.accept(mk("intro", 0, 16, start_s), overlap="replace")
        assert (got.start_beat, got.start_s, got.accepted) == (0, 0.0, True)
    labels.reject(mk("drop", 0, 8, FIRST_BEAT_S))
    assert _stored(lib, "label_rejections")[0][2] == 0.0
    assert labels.rejections()[0].start_s == 0.0


def test_export_and_cli_list_start_beat_0_at_0_s(labels, lib, tid, tmp_path, capsys):
    from workbench.cli import main

    labels.add(tid, "intro", start_beat=0, end_beat=16)
    labels.add(tid, "drop", start_beat=16, end_beat=N_BEATS)
    out = labels.export(tmp_path / "all.json")
    (track,) = json.loads(out.read_text())["tracks"]
    rows = track["labels"]
    assert [(r["start_beat"], r["start_s"], r["end_s"]) for r in rows] == [
        (0, 0.0, pytest.approx(FIRST_BEAT_S + 8.0)), (16, pytest.approx(FIRST_BEAT_S + 8.0), pytest.approx(DURATION_S))]
    csv = labels.export(tmp_path / "all.csv").read_text().splitlines()
    assert csv[1].split(",")[4:7] == ["0", "16", "0.0"]
    lib.store.close()
    capsys.readouterr()
    assert main(["--db", str(lib.path), "labels", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["start_beat"], r["start_s"]) for r in listed][0] == (0, 0.0)
    assert main(["--db", str(lib.path), "labels", "export", str(tmp_path / "cli.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] == 2
    (track,) = json.loads((tmp_path / "cli.json").read_text())["tracks"]
    assert track["labels"][0]["start_s"] == 0.0


def test_training_windows_before_the_first_beat_belong_to_the_first_label(labels, lib, tid):
    from workbench.train.sections import section_dataset

    labels.add(tid, "intro", start_beat=0, end_beat=16)
    labels.add(tid, "drop", start_beat=16, end_beat=N_BEATS)
    data = section_dataset(lib, labels.all(), progress=False)
    assert len(data.tracks) == 1, (data.failed, data.rejections_unused)
    (tr,) = data.tracks
    lab = tr.window_labels()
    before = tr.times_s < FIRST_BEAT_S
    assert before.sum() >= 3                                             # windows centred in the unbeated intro
    assert set(lab[before]) == {"intro"}                                 # were "" (untrained) with the old times
    assert (lab != "").all()


def test_labeler_selection_from_beat_0_starts_at_0_s(labels, lib, tid):
    pytest.importorskip("ipywidgets")
    from workbench.widgets.labeler import Labeler

    lab = Labeler(lib, labels=labels, autoplay=False)
    lab.show_track(tid)
    lab.set_range(0, 16)
    assert "0.00–13.60 s · 16 beats" in lab._range.value               # the selection drawn from 0 s, not 5.60 s
    lab.choose("intro")
    stored = lab.add()
    assert (stored.start_beat, stored.start_s) == (0, 0.0)
    assert "0.00–13.60" in lab._table.value                             # the table lists it from 0 s
