"""Section labels: validation, overlap handling, undo/redo, statistics, JSON/CSV/JAMS, two kernels at once.

Most tests use a small library whose beat grids are written as stored analyses (fast and exact:
120 BPM, beats every 0.5 s from 0.1 s); one module fixture uses a real synthesized demo track
analysed for real, for the grid and the ground-truth import.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import WorkbenchError
from workbench.labels import (
    LABEL_COLORS,
    LABELS,
    BeatGrid,
    ImportSummary,
    Label,
    LabelError,
    Labels,
    LabelStats,
    LabelWarning,
    Suggestion,
)
from workbench.library import Library

# jams validates with a jsonschema call that newer jsonschema deprecates; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:Passing a schema to Validator.iter_errors:DeprecationWarning")

SR = 8000
BEAT_S = 0.5      # 120 BPM
OFFSET_S = 0.1    # first beat
TRACKS = {"long.wav": 256, "short.wav": 64, "noise.wav": 0}  # file -> beats (0: no steady beat)


def _store_grid(lib: Library, track, n_beats: int, *, offset_s: float = OFFSET_S) -> None:
    """Write a stored analysis with an exact grid from ``offset_s`` (what analyze_track would reuse)."""
    from workbench.analysis import Analysis
    from workbench.analysis.batch import KIND, _settings_hash
    from workbench.analysis.core import settings_key
    from workbench.analysis.energy import DEFAULT_HOP_S
    from workbench.analysis.key import DEFAULT_PROFILE
    from workbench.store import utc_now

    beats = tuple(round(offset_s + i * BEAT_S, 4) for i in range(n_beats))
    a = Analysis(duration_s=track.duration_s, bpm=120.0 if n_beats else None, beats=beats, downbeats=beats[::4],
                 tempo_stability=1.0 if n_beats else 0.0, key="A minor", camelot="8A", key_confidence=0.5, energy=5,
                 energy_curve=(0.5,), energy_hop_s=DEFAULT_HOP_S, loudness_lufs=-12.0)
    h = _settings_hash(settings_key(bpm_prior=None, key_profile=DEFAULT_PROFILE, energy_hop_s=DEFAULT_HOP_S))
    with lib.store.transaction() as conn:
        conn.execute("INSERT INTO analyses (track_id, kind, settings_hash, content_hash, result_json, created_at) "
                     "VALUES (?,?,?,?,?,?)", (track.id, KIND, h, track.content_hash, a.to_json(), utc_now()))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    import soundfile as sf

    root = tmp_path_factory.mktemp("labels-lib")
    rng = np.random.default_rng(0)
    (root / "audio").mkdir()
    for i, (name, n_beats) in enumerate(TRACKS.items()):
        duration_s = OFFSET_S + max(n_beats, 16) * BEAT_S + 0.2
        sf.write(str(root / "audio" / name), (0.1 * (i + 1) * rng.standard_normal(int(duration_s * SR))), SR)
    lib = Library(root / "template.db")
    lib.scan(root / "audio", progress=False)
    for t in lib.tracks():
        _store_grid(lib, t, TRACKS[Path(t.path).name])
    lib.store.close()
    return root / "template.db"


def _copy(template: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, folder / "w.db")
    return folder / "w.db"


@pytest.fixture
def lib(template, tmp_path) -> Library:
    return Library(_copy(template, tmp_path / "db"))


@pytest.fixture
def labels(lib) -> Labels:
    return Labels(lib)


def _tid(lib: Library, name: str) -> int:
    return next(t.id for t in lib.tracks() if Path(t.path).name == name)


@pytest.fixture
def long_id(lib) -> int:
    return _tid(lib, "long.wav")


@contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelWarning)
        yield


def _spans(labels: Labels, track) -> list[tuple[str, int, int]]:
    return [(x.label, x.start_beat, x.end_beat) for x in labels.for_track(track)]


# -- the beat grid --------------------------------------------------------------------------
def test_grid_from_stored_analysis(labels, lib, long_id):
    g = labels.grid(long_id)
    t = lib.track(long_id)
    assert isinstance(g, BeatGrid) and g.track_id == long_id and g.n_beats == 256
    assert g.time_of(0) == pytest.approx(OFFSET_S) and g.time_of(10) == pytest.approx(OFFSET_S + 5.0)
    assert g.time_of(256) == pytest.approx(t.duration_s)      # the end index is the track's end
    assert g.nearest_beat(5.3) == 10 and g.nearest_beat(0.0) == 0 and g.nearest_beat(1e6) == 256
    assert [g.bar_of(b) for b in (0, 3, 4, 7, 8, 255)] == [1, 1, 2, 2, 3, 64]
    assert labels.grid(t) is g and labels.grid(t.content_hash) is g and labels.grid(t.path) is g  # cached


def test_grid_refuses_a_track_without_beats(labels, lib):
    with pytest.raises(LabelError, match="has no beats"):
        labels.grid(_tid(lib, "noise.wav"))


def test_beat_grid_validates_itself():
    with pytest.raises(LabelError, match="has no beats"):
        BeatGrid(track_id=1, beats_s=np.array([]), downbeats_s=np.array([]), duration_s=10.0)
    with pytest.raises(LabelError, match="increasing"):
        BeatGrid(track_id=1, beats_s=np.array([1.0, 0.5]), downbeats_s=np.array([]), duration_s=10.0)
    with pytest.raises(LabelError, match="after the last beat"):
        BeatGrid(track_id=1, beats_s=np.array([1.0, 2.0]), downbeats_s=np.array([]), duration_s=1.5)
    g = BeatGrid(track_id=1, beats_s=[0.5, 1.0, 1.5, 2.0, 2.5], downbeats_s=[], duration_s=3.0)
    with pytest.raises(LabelError, match=r"beat must be in 0\.\.5 \(the track has 5 beats\); got 6"):
        g.time_of(6)
    with pytest.raises(LabelError, match="beat must be an int"):
        g.time_of(1.5)
    with pytest.raises(LabelError, match="t_s must be a finite time"):
        g.nearest_beat(float("nan"))
    assert g.bar_of(4) == 2                  # no downbeats: bars of 4 beats
    with pytest.raises(ValueError):           # arrays are read-only
        g.beats_s[0] = 9.0


def test_value_objects_validate_on_creation():
    ok = dict(id=1, track_id=1, label="drop", start_beat=0, end_beat=8, start_s=0.0, end_s=4.0, source="user",
              confidence=None, created_at="t", updated_at="t")
    assert Label(**ok).color == LABEL_COLORS["drop"] and Label(**ok).n_beats == 8
    with pytest.raises(LabelError, match="label must be one of intro, build, drop, break, outro, verse, chorus"):
        Label(**{**ok, "label": "solo"})
    with pytest.raises(LabelError, match="end_beat must be after start_beat"):
        Label(**{**ok, "end_beat": 0})
    with pytest.raises(LabelError, match="source must be one of"):
        Label(**{**ok, "source": "robot"})
    with pytest.raises(LabelError, match=r"confidence must be a number in \[0, 1\]; got 1.5"):
        Suggestion(track_id=1, label="drop", start_beat=0, end_beat=8, start_s=0, end_s=4, confidence=1.5)
    assert issubclass(LabelError, WorkbenchError) and issubclass(LabelError, ValueError)


# -- adding and validation ------------------------------------------------------------------
def test_add_stores_times_from_the_grid(labels, lib, long_id):
    a = labels.add(long_id, "Drop ", start_beat=64, end_beat=96)
    assert (a.label, a.start_beat, a.end_beat, a.source, a.confidence) == ("drop", 64, 96, "user", None)
    assert a.start_s == pytest.approx(OFFSET_S + 32.0) and a.end_s == pytest.approx(OFFSET_S + 48.0)
    assert a.created_at == a.updated_at and a.id > 0
    end = labels.add(long_id, "outro", start_beat=240, end_beat=256)
    assert end.end_s == pytest.approx(lib.track(long_id).duration_s)
    m = labels.add(long_id, "intro", start_beat=0, end_beat=16, source="model", confidence=0.75)
    assert (m.source, m.confidence) == ("model", 0.75)
    assert labels.get(a.id) == a
    assert [x.start_beat for x in labels.for_track(long_id)] == [0, 64, 240]
    assert len(labels.all()) == 3 == len(labels)
    # another instance (another kernel) sees them
    assert Labels(Library(lib.path)).for_track(long_id) == labels.for_track(long_id)


@pytest.mark.parametrize("kwargs, match", [
    (dict(label="solo"), "label must be one of intro, build, drop, break, outro, verse, chorus; got 'solo'"),
    (dict(start_beat=8, end_beat=8), "end_beat must be after start_beat; got start_beat=8, end_beat=8"),
    (dict(start_beat=12, end_beat=8), "end_beat must be after start_beat"),
    (dict(start_beat=250, end_beat=260), "outside the track: the track has 256 beats"),
    (dict(start_beat=-4, end_beat=8), "outside the track: the track has 256 beats"),
    (dict(start_beat=0, end_beat=3), r"at least 4 beats; got drop 0-3 \(3 beats\)"),
    (dict(start_beat=0.0, end_beat=8), "start_beat must be an int"),
    (dict(end_beat="8"), "end_beat must be an int"),
    (dict(source="robot"), "source must be one of 'user', 'model', 'import'; got 'robot'"),
    (dict(confidence=0.9), "confidence is only for source 'model'; got confidence=0.9 with source='user'"),
    (dict(source="model", confidence=1.2), r"confidence must be a number in \[0, 1\]; got 1.2"),
    (dict(overlap="merge"), "overlap must be one of 'refuse', 'keep', 'replace', 'split'; got 'merge'"),
])
def test_add_refuses_bad_input(labels, long_id, kwargs, match):
    args = dict(label="drop", start_beat=0, end_beat=16, **{})
    args.update(kwargs)
    label = args.pop("label")
    with pytest.raises(LabelError, match=match):
        labels.add(long_id, label, **args)
    assert labels.all() == [] and not labels.can_undo


def test_short_label_warns(labels, long_id):
    with pytest.warns(LabelWarning, match="is 6 beats, shorter than 8 beats"):
        a = labels.add(long_id, "break", start_beat=10, end_beat=16)
    assert a.n_beats == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels.add(long_id, "break", start_beat=16, end_beat=24)   # 8 beats: no warning


def test_add_seconds_snaps_with_a_note(labels, long_id):
    with pytest.warns(LabelWarning, match=r"snapped to the beat grid: start 10\.230 s -> beat 20 \(10\.100 s\)"):
        a = labels.add_seconds(long_id, "build", start_s=10.23, end_s=18.1)
    assert (a.start_beat, a.end_beat) == (20, 36)
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # on the grid already: no note
        b = labels.add_seconds(long_id, "drop", start_s=OFFSET_S + 20.0, end_s=OFFSET_S + 36.0)
    assert (b.start_beat, b.end_beat) == (40, 72)
    with pytest.raises(LabelError, match="outside the track: the track is"):
        labels.add_seconds(long_id, "drop", start_s=100.0, end_s=1000.0)
    with pytest.raises(LabelError, match="end_s must be after start_s"):
        labels.add_seconds(long_id, "drop", start_s=50.0, end_s=40.0)
    with pytest.raises(LabelError, match="start_s must be a finite time"):
        labels.add_seconds(long_id, "drop", start_s=float("inf"), end_s=40.0)


# -- overlaps -------------------------------------------------------------------------------
def test_overlap_refused_by_default_naming_the_existing_label(labels, long_id):
    a = labels.add(long_id, "drop", start_beat=32, end_beat=64)
    with pytest.raises(LabelError, match=rf"build 48-80 overlaps the existing label drop 32-64 \(id {a.id}\).*"
                                         "overlap='replace'.*overlap='split'"):
        labels.add(long_id, "build", start_beat=48, end_beat=80)
    labels.add(long_id, "build", start_beat=64, end_beat=80)       # touching is not overlapping
    assert _spans(labels, long_id) == [("drop", 32, 64), ("build", 64, 80)]


def test_overlap_replace_deletes_overlapped_labels(labels, long_id):
    labels.add(long_id, "intro", start_beat=0, end_beat=32)
    labels.add(long_id, "build", start_beat=32, end_beat=64)
    labels.add(long_id, "outro", start_beat=200, end_beat=256)
    labels.add(long_id, "drop", start_beat=16, end_beat=48, overlap="replace")
    assert _spans(labels, long_id) == [("drop", 16, 48), ("outro", 200, 256)]


def test_overlap_split_trims_and_splits(labels, long_id):
    keep = labels.add(long_id, "drop", start_beat=0, end_beat=64)
    labels.add(long_id, "break", start_beat=64, end_beat=96)
    labels.add(long_id, "build", start_beat=24, end_beat=40, overlap="split")       # inside: split in two
    assert _spans(labels, long_id) == [("drop", 0, 24), ("build", 24, 40), ("drop", 40, 64), ("break", 64, 96)]
    assert labels.for_track(long_id)[0].id == keep.id                                # the left piece keeps its id
    labels.add(long_id, "chorus", start_beat=56, end_beat=72, overlap="split")       # trims both neighbours
    assert _spans(labels, long_id) == [("drop", 0, 24), ("build", 24, 40), ("drop", 40, 56), ("chorus", 56, 72),
                                       ("break", 72, 96)]
    labels.add(long_id, "verse", start_beat=42, end_beat=70, overlap="split")        # 2-beat remnants go
    assert _spans(labels, long_id) == [("drop", 0, 24), ("build", 24, 40), ("verse", 42, 70), ("break", 72, 96)]
    pieces = labels.for_track(long_id)
    assert pieces[0].end_s == pytest.approx(OFFSET_S + 12.0)                          # times follow the beats


# -- update, delete, accept -----------------------------------------------------------------
def test_update_delete_and_accept(labels, long_id):
    a = labels.add(long_id, "drop", start_beat=32, end_beat=64)
    b = labels.add(long_id, "break", start_beat=64, end_beat=96)
    u = labels.update(a.id, label="build")
    assert (u.id, u.label, u.start_beat, u.created_at) == (a.id, "build", 32, a.created_at)
    u = labels.update(a.id, end_beat=48)
    assert (u.start_beat, u.end_beat, u.end_s) == (32, 48, pytest.approx(OFFSET_S + 24.0))
    with pytest.raises(LabelError, match=rf"overlaps the existing label break 64-96 \(id {b.id}\)"):
        labels.update(a.id, end_beat=80)
    labels.update(a.id, end_beat=80, overlap="split")
    assert _spans(labels, long_id) == [("build", 32, 80), ("break", 80, 96)]
    with pytest.raises(LabelError, match="at least 4 beats"):
        labels.update(a.id, end_beat=34)
    assert labels.delete(b.id).label == "break"
    with pytest.raises(LabelError, match=f"no label has id {b.id}"):
        labels.get(b.id)
    with pytest.raises(LabelError, match=f"no label has id {b.id}"):
        labels.update(b.id, label="drop")
    with pytest.raises(LabelError, match="label_id must be an int"):
        labels.delete("1")
    s = Suggestion(track_id=long_id, label="drop", start_beat=64, end_beat=96, start_s=0, end_s=0, confidence=0.8)
    with pytest.raises(LabelError, match=r"drop 64-96 overlaps the existing label build 32-80 .*overlap='keep'.*"
                                         r"free beats 80-96.*nothing was accepted"):
        labels.accept(s)                                    # the default never deletes a label of yours
    acc = labels.accept(s, overlap="replace")
    assert (acc.source, acc.confidence, acc.label, acc.accepted) == ("model", 0.8, "drop", True)
    assert _spans(labels, long_id) == [("drop", 64, 96)]
    with pytest.raises(LabelError, match="suggestion must be a workbench.labels.Suggestion"):
        labels.accept({"label": "drop"})


# -- undo and redo --------------------------------------------------------------------------
def test_undo_redo_sequence(labels, long_id):
    assert labels.undo() is None and labels.redo() is None and not labels.can_undo and not labels.can_redo
    a = labels.add(long_id, "drop", start_beat=64, end_beat=96)
    labels.update(a.id, label="build")
    labels.delete(a.id)
    assert labels.all() == []
    assert labels.undo() == f"delete build beats 64-96 on track {long_id}"
    assert _spans(labels, long_id) == [("build", 64, 96)] and labels.get(a.id).id == a.id
    assert labels.undo() == f"update drop beats 64-96 on track {long_id} -> build beats 64-96"
    assert labels.get(a.id) == a                              # exactly as it was, timestamps included
    assert labels.undo() == f"add drop beats 64-96 on track {long_id}"
    assert labels.all() == [] and not labels.can_undo and labels.can_redo
    assert labels.redo() == f"add drop beats 64-96 on track {long_id}"
    assert labels.redo() == f"update drop beats 64-96 on track {long_id} -> build beats 64-96"
    assert _spans(labels, long_id) == [("build", 64, 96)] and labels.can_redo
    labels.add(long_id, "intro", start_beat=0, end_beat=16)  # a new edit clears the redo stack
    assert not labels.can_redo and labels.redo() is None


def test_undo_split_and_replace_restore_everything(labels, long_id):
    labels.add(long_id, "drop", start_beat=0, end_beat=64)
    labels.add(long_id, "break", start_beat=64, end_beat=96)
    before = labels.all()
    labels.add(long_id, "build", start_beat=24, end_beat=72, overlap="split")
    labels.add(long_id, "intro", start_beat=0, end_beat=96, overlap="replace")
    assert _spans(labels, long_id) == [("intro", 0, 96)]
    labels.undo()
    assert _spans(labels, long_id) == [("drop", 0, 24), ("build", 24, 72), ("break", 72, 96)]
    labels.undo()
    assert labels.all() == before
    labels.redo()
    labels.redo()
    assert _spans(labels, long_id) == [("intro", 0, 96)]


def test_undo_refuses_to_clobber_another_kernels_edit(labels, lib, long_id):
    a = labels.add(long_id, "drop", start_beat=64, end_beat=96)
    other = Labels(Library(lib.path))                         # a second kernel on the same library
    other.update(a.id, label="chorus")
    with pytest.raises(LabelError, match=rf"cannot undo 'add drop beats 64-96.*label {a.id} changed since this edit "
                                         r"\(it is now chorus beats 64-96"):
        labels.undo()
    assert _spans(labels, long_id) == [("chorus", 64, 96)] and labels.can_undo   # nothing changed, history kept
    b = labels.add(long_id, "intro", start_beat=0, end_beat=32)
    labels.delete(b.id)
    other.add(long_id, "build", start_beat=16, end_beat=48)
    with pytest.raises(LabelError, match="cannot undo 'delete intro beats 0-32.*would overlap build beats 16-48"):
        labels.undo()
    assert _spans(labels, long_id) == [("build", 16, 48), ("chorus", 64, 96)]


# -- statistics -----------------------------------------------------------------------------
def test_stats_readiness_messages(lib, long_id):
    labels = Labels(lib, min_per_class=3, min_classes=2)
    short_id = _tid(lib, "short.wav")
    s = labels.stats()
    assert isinstance(s, LabelStats) and set(s.counts) == set(LABELS) and s.total == 0
    assert (s.ready, s.missing, s.tracks_total, s.avg_per_track) == (False, ["Need 2+ classes"], 3, 0.0)
    for i in range(3):
        labels.add(long_id, "drop", start_beat=16 * i, end_beat=16 * i + 16)
    labels.add(short_id, "build", start_beat=0, end_beat=16)
    s = labels.stats()
    assert s.missing == ["Need more labels: build 1/3"] and not s.ready
    assert (s.counts["drop"], s.counts["build"], s.tracks_covered, s.avg_per_track) == (3, 1, 2, 2.0)
    assert s.table()[:3] == [("intro", 0, 3, False), ("build", 1, 3, False), ("drop", 3, 3, True)]
    labels.add(short_id, "build", start_beat=16, end_beat=32)
    labels.add(short_id, "build", start_beat=32, end_beat=48)
    s = labels.stats()
    assert s.ready and s.missing == [] and "ready for training" in str(s)
    strict = Labels(lib, min_classes=3).stats()
    assert strict.missing == ["Need more labels: build 3/10, drop 3/10", "Need 3+ classes"]
    assert Labels(lib).stats(sources=["model"]).total == 0
    with pytest.raises(LabelError, match="min_per_class must be an int >= 1; got 0"):
        Labels(lib, min_per_class=0)
    with pytest.raises(LabelError, match="sources must be a subset of user, model, import; got 'robot'"):
        labels.stats(sources=["robot"])


# -- export and import ----------------------------------------------------------------------
def _fill(labels: Labels, lib: Library) -> list[Label]:
    long_id, short_id = _tid(lib, "long.wav"), _tid(lib, "short.wav")
    with _quiet():
        labels.add(long_id, "intro", start_beat=0, end_beat=32)
        labels.add(long_id, "build", start_beat=32, end_beat=64)
        labels.add(long_id, "drop", start_beat=64, end_beat=128, source="model", confidence=0.6)
        labels.add(short_id, "break", start_beat=8, end_beat=14)
        labels.add(short_id, "outro", start_beat=48, end_beat=64)
    return labels.all()


def _key(x: Label, lib: Library) -> tuple:
    return (lib.track(x.track_id).content_hash, x.label, x.start_beat, x.end_beat, round(x.start_s, 4),
            round(x.end_s, 4))


@pytest.mark.parametrize("name", ["all.json", "all.csv", "jams-folder"])
def test_round_trip_into_another_library(labels, lib, template, tmp_path, name):
    before = _fill(labels, lib)
    fmt = "jams" if name == "jams-folder" else None
    out = labels.export(tmp_path / name, format=fmt)
    fresh_lib = Library(_copy(template, tmp_path / "fresh"))
    fresh = Labels(fresh_lib)
    with _quiet():
        summary = fresh.import_(out, source=None)
    assert isinstance(summary, ImportSummary) and summary.n_added == 5 and summary.skipped == []
    after = fresh.all()
    assert sorted(_key(x, fresh_lib) for x in after) == sorted(_key(x, lib) for x in before)
    assert sorted((x.source, x.confidence) for x in after) == sorted((x.source, x.confidence) for x in before)
    again = fresh.import_(out)                                 # a second import adds nothing
    assert again.n_added == 0 and {why for _, why in again.skipped} == {"already in the library"}


def test_jams_file_loads_validates_and_feeds_mir_eval(labels, lib, tmp_path):
    import jams
    import mir_eval

    _fill(labels, lib)
    long_id = _tid(lib, "long.wav")
    path = labels.export(tmp_path / "long.jams", tracks=long_id)
    jam = jams.load(str(path), validate=True, strict=True)
    assert jam.sandbox.workbench["content_hash"] == lib.track(long_id).content_hash
    assert jam.file_metadata.duration == pytest.approx(lib.track(long_id).duration_s)
    (ann,) = jam.annotations.search(namespace="segment_open")
    intervals, values = ann.to_interval_values()
    mir_eval.util.validate_intervals(intervals)
    assert values == ["intro", "build", "drop"]
    np.testing.assert_allclose(intervals[:, 0], [0.0, OFFSET_S + 16, OFFSET_S + 32], atol=1e-4)  # beat 0: from 0 s
    assert mir_eval.segment.detection(intervals, intervals, window=0.5)[2] == 1.0
    assert jams.eval.segment(ann, ann)["Pairwise F-measure"] == pytest.approx(1.0)
    with pytest.raises(LabelError, match="a .jams file holds one track's labels; this export has 2 tracks"):
        labels.export(tmp_path / "all.jams")
    with pytest.raises(LabelError, match="cannot tell the format of"):
        labels.export(tmp_path / "all.txt")
    with pytest.raises(LabelError, match="format must be one of json, csv, jams; got 'xml'"):
        labels.export(tmp_path / "all.json", format="xml")


def test_jams_from_another_tool_is_snapped_by_seconds(labels, lib, tmp_path):
    import jams

    long_id = _tid(lib, "long.wav")
    t = lib.track(long_id)
    jam = jams.JAMS()
    jam.file_metadata.duration = t.duration_s
    jam.sandbox.workbench = {"content_hash": t.content_hash}
    ann = jams.Annotation(namespace="segment_open", time=0, duration=t.duration_s)
    ann.append(time=0.12, duration=15.97, value="Intro", confidence=None)      # off the grid by 20 ms
    ann.append(time=16.1, duration=16.0, value="drop", confidence=None)
    jam.annotations.append(ann)
    jam.save(str(tmp_path / "ext.jams"))
    with pytest.warns(LabelWarning, match="snapped to the beat grid"):
        summary = labels.import_(tmp_path / "ext.jams")
    assert summary.n_added == 2
    assert _spans(labels, long_id) == [("intro", 0, 32), ("drop", 32, 64)]


def test_backup_is_written_before_import(labels, lib, tmp_path):
    before = _fill(labels, lib)
    long_id = _tid(lib, "long.wav")
    src = tmp_path / "in.json"
    labels.export(src, tracks=long_id)
    labels.delete(before[0].id)
    state = labels.all()
    summary = labels.import_(src)
    assert summary.backup_path.parent == lib.path.parent / "backups" and summary.n_added == 1
    backup = json.loads(summary.backup_path.read_text())
    saved = [(t["content_hash"], d["label"], d["start_beat"], d["end_beat"]) for t in backup["tracks"]
             for d in t["labels"]]
    assert sorted(saved) == sorted((lib.track(x.track_id).content_hash, x.label, x.start_beat, x.end_beat)
                                   for x in state)
    # the backup is an importable label file: restoring from it into an empty library gives the state back
    for x in labels.all():
        labels.delete(x.id)
    with _quiet():
        assert labels.import_(summary.backup_path, source=None).n_added == len(state)
    custom = Labels(lib, backup_dir=tmp_path / "bk")
    assert custom.import_(src).backup_path.parent == tmp_path / "bk"


def test_import_is_one_undo_step(labels, lib, tmp_path):
    _fill(labels, lib)
    src = labels.export(tmp_path / "all.csv")
    for x in labels.all():
        labels.delete(x.id)
    with _quiet():
        summary = labels.import_(src)
    assert summary.n_added == 5 and {x.source for x in labels.all()} == {"import"}
    assert labels.undo() == "import 5 labels from all.csv"
    assert labels.all() == []
    assert labels.redo() == "import 5 labels from all.csv" and len(labels) == 5


def _write_bad(tmp_path: Path, good: Path, kind: str) -> Path:
    if kind == "not json":
        p = tmp_path / "bad.json"
        p.write_text(good.read_text()[:-40])
    elif kind == "not a label file":
        p = tmp_path / "bad.json"
        p.write_text(json.dumps({"hello": 1}))
    elif kind == "bad label midway":
        doc = json.loads(good.read_text())
        doc["tracks"][0]["labels"][1]["label"] = "solo"
        p = tmp_path / "bad.json"
        p.write_text(json.dumps(doc))
    elif kind == "bad beat":
        p = tmp_path / "bad.csv"
        lines = good.with_suffix(".csv").read_text().splitlines()
        cells = lines[2].split(",")
        cells[4] = "four"
        p.write_text("\n".join([lines[0], lines[1], ",".join(cells)]) + "\n")
    elif kind == "csv header":
        p = tmp_path / "bad.csv"
        p.write_text("a,b\n1,2\n")
    elif kind == "not jams":
        p = tmp_path / "bad.jams"
        p.write_text("{]")
    return p


@pytest.mark.parametrize("kind, match", [
    ("not json", "not valid JSON"),
    ("not a label file", "not a workbench label file"),
    ("bad label midway", r"tracks\[0\]\.labels\[1\]: label must be one of .*got 'solo'; nothing was imported"),
    ("bad beat", "row 3: start_beat must be an int; got 'four'"),
    ("csv header", "the CSV header cannot be imported: no .label. column"),
    ("not jams", "not a readable JAMS file"),
])
def test_corrupt_import_loses_nothing(labels, lib, template, tmp_path, kind, match):
    _fill(labels, lib)
    good = labels.export(tmp_path / "good.json")
    labels.export(tmp_path / "good.csv")
    fresh = Labels(Library(_copy(template, tmp_path / "fresh")))
    with _quiet():
        fresh.add(_tid(lib, "long.wav"), "chorus", start_beat=200, end_beat=232)
    state = fresh.all()
    with pytest.raises(LabelError, match=match):
        fresh.import_(_write_bad(tmp_path, good, kind))
    assert fresh.all() == state and fresh.undo() == f"add {state[0].describe()}"   # history untouched


def test_import_overlap_options(labels, lib, template, tmp_path):
    _fill(labels, lib)
    src = labels.export(tmp_path / "all.json")
    fresh = Labels(Library(_copy(template, tmp_path / "fresh")))
    long_id = _tid(lib, "long.wav")
    fresh.add(long_id, "chorus", start_beat=56, end_beat=72)
    with pytest.raises(LabelError, match="(?s)nothing was imported.*overlaps the existing label chorus 56-72"):
        fresh.import_(src)
    assert _spans(fresh, long_id) == [("chorus", 56, 72)]
    with _quiet():
        s = fresh.import_(src, overlap="skip")
    assert s.n_added == 3 and [w for w, why in s.skipped if "overlap='skip'" in why] != []
    fresh.undo()
    with _quiet():
        s = fresh.import_(src, overlap="replace")
    assert s.n_added == 5 and s.replaced == 1 and ("chorus", 56, 72) not in _spans(fresh, long_id)
    with pytest.raises(LabelError, match="overlap must be one of 'refuse', 'replace', 'split', 'skip'"):
        fresh.import_(src, overlap="merge")


def test_import_skips_tracks_not_in_the_library(labels, lib, tmp_path):
    doc = {"format": "workbench-labels", "version": 1, "tracks": [
        {"content_hash": "f" * 64, "path": "/nowhere/x.flac", "labels": [{"label": "drop", "start_beat": 0,
                                                                         "end_beat": 16}]}]}
    (tmp_path / "x.json").write_text(json.dumps(doc))
    s = labels.import_(tmp_path / "x.json")
    assert s.n_added == 0 and "no track in the library has hash 'ffff" in s.skipped[0][1]
    assert "1 skipped" in str(s)


# -- ground truth from the demo -------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from workbench.demo import synthesize_library

    root = tmp_path_factory.mktemp("labels-demo")
    (track,) = synthesize_library(root / "audio", n_tracks=1, seed=1, duration_s=30, progress=False)
    lib = Library(root / "w.db")
    lib.scan(root / "audio", progress=False)
    return lib, track


def test_import_truth_from_a_demo_track(demo):
    lib, demo_track = demo
    labels = Labels(lib)                                        # grid() runs the real analysis
    t = lib.track(demo_track.audio_path)
    sections = json.loads(Path(demo_track.truth_path).read_text())["sections"]
    grid = labels.grid(t)
    assert 0.25 < np.median(np.diff(grid.beats_s)) * demo_track.bpm / 60 < 4
    stored = labels.import_truth(t, sections)
    assert [x.label for x in stored] == [s["label"] for s in sections]
    assert all(a.end_beat == b.start_beat for a, b in zip(stored, stored[1:], strict=False))   # contiguous, as the truth
    half_beat = 60 / demo_track.bpm / 2
    for x, s in zip(stored, sections, strict=True):
        assert abs(x.start_s - s["start_s"]) <= half_beat + 0.05 and x.source == "import"
    assert labels.undo().startswith(f"import {len(sections)} truth sections")
    assert labels.for_track(t) == []
    with pytest.raises(LabelError, match=r"sections\[0\] must be a dict with start_s, end_s and label"):
        labels.import_truth(t, [{"start_s": 0.0}])


# -- two kernels at once --------------------------------------------------------------------
def _add_many(db: str, track_id: int, starts: list[int]) -> None:
    warnings.simplefilter("ignore", LabelWarning)
    labels = Labels(Library(db, timeout_s=60))
    for s in starts:
        labels.add(track_id, LABELS[s % 7], start_beat=s, end_beat=s + 4)


def _race(db: str, track_id: int, label: str, barrier, results) -> None:
    labels = Labels(Library(db, timeout_s=60))
    labels.grid(track_id)
    barrier.wait(30)
    try:
        labels.add(track_id, label, start_beat=32, end_beat=64)
        results.put(("ok", label))
    except LabelError as exc:
        results.put(("refused", str(exc)))


def test_two_processes_add_at_once_lose_nothing(lib, long_id):
    db = str(lib.path)
    Labels(lib).grid(long_id)
    ctx = mp.get_context("spawn")
    jobs = [list(range(0, 200, 8)), list(range(4, 200, 8))]                  # interleaved, never overlapping
    procs = [ctx.Process(target=_add_many, args=(db, long_id, starts)) for starts in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    got = [(x.start_beat, x.end_beat) for x in Labels(Library(db)).for_track(long_id)]
    assert got == [(s, s + 4) for s in range(0, 200, 4)]


def test_two_processes_racing_to_overlap_end_with_one(lib, long_id):
    db = str(lib.path)
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(db, long_id, name, barrier, results)) for name in ("drop", "build")]
    for p in procs:
        p.start()
    outcomes = sorted(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(60)
    assert [o[0] for o in outcomes] == ["ok", "refused"]
    winner = outcomes[0][1]
    assert "overlaps the existing label " + winner in outcomes[1][1]
    assert _spans(Labels(Library(db)), long_id) == [(winner, 32, 64)]


def test_store_constraint_matches_labels():
    """The schema's CHECK list and LABELS agree (a label the API accepts can always be stored)."""
    from workbench.store import MIGRATIONS

    assert all(f"'{name}'" in MIGRATIONS[3] for name in LABELS)
