"""Suggestions that never destroy work, rejections, undo per track, track status, next track, grid fixes.

The library is small and exact: two tracks whose beat grids are written as stored analyses
(120 BPM, beats every 0.5 s from 0.1 s), as in tests/test_labels.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.analysis.corrections import get_correction
from workbench.errors import ParameterError
from workbench.labels import Label, LabelError, Labels, LabelWarning, Rejection, Suggestion
from workbench.library import Library

SR = 8000
BEAT_S = 0.5
OFFSET_S = 0.1
TRACKS = {"a.wav": 128, "b.wav": 64, "c.wav": 64}


def _store_grid(lib: Library, track, n_beats: int) -> None:
    from workbench.analysis import Analysis
    from workbench.analysis.batch import KIND, _settings_hash
    from workbench.analysis.core import settings_key
    from workbench.analysis.energy import DEFAULT_HOP_S
    from workbench.analysis.key import DEFAULT_PROFILE
    from workbench.store import utc_now

    beats = tuple(round(OFFSET_S + i * BEAT_S, 4) for i in range(n_beats))
    a = Analysis(duration_s=track.duration_s, bpm=120.0, beats=beats, downbeats=beats[::4], tempo_stability=1.0,
                 key="A minor", camelot="8A", key_confidence=0.5, energy=5, energy_curve=(0.5,),
                 energy_hop_s=DEFAULT_HOP_S, loudness_lufs=-12.0)
    h = _settings_hash(settings_key(bpm_prior=None, key_profile=DEFAULT_PROFILE, energy_hop_s=DEFAULT_HOP_S))
    with lib.store.transaction() as conn:
        conn.execute("INSERT INTO analyses (track_id, kind, settings_hash, content_hash, result_json, created_at) "
                     "VALUES (?,?,?,?,?,?)", (track.id, KIND, h, track.content_hash, a.to_json(), utc_now()))


@pytest.fixture
def lib(tmp_path) -> Library:
    import soundfile as sf

    rng = np.random.default_rng(1)
    (tmp_path / "audio").mkdir()
    for i, (name, n) in enumerate(TRACKS.items()):
        sf.write(str(tmp_path / "audio" / name), 0.1 * (i + 1) * rng.standard_normal(int((OFFSET_S + n * BEAT_S + 0.3) * SR)),
                 SR)
    lib = Library(tmp_path / "data" / "w.db")
    lib.scan(tmp_path / "audio", progress=False)
    for t in lib.tracks():
        _store_grid(lib, t, TRACKS[Path(t.path).name])
    return lib


def _ids(lib: Library) -> dict[str, int]:
    return {Path(t.path).name: t.id for t in lib.tracks()}


def _spans(labels: Labels, track) -> list[tuple[str, int, int, str]]:
    return [(x.label, x.start_beat, x.end_beat, x.source) for x in labels.for_track(track)]


def _sugg(tid: int, label: str, a: int, b: int, conf: float = 0.7, version: str = "v1") -> Suggestion:
    return Suggestion(tid, label, a, b, 0.0, 0.0, conf, uncertain=conf < 0.6, model_name="dj_section",
                      model_version=version)


# -- accepting never destroys work -----------------------------------------------------------
def test_accept_refuses_by_default_naming_the_labels_and_the_choices(lib):
    labels, a = Labels(lib), _ids(lib)["a.wav"]
    mine = labels.add(a, "build", start_beat=16, end_beat=32)
    s = _sugg(a, "verse", 16, 48)
    with pytest.raises(LabelError, match=rf"verse 16-48 overlaps the existing label build 16-32 \(id {mine.id}\).*"
                                         r"overlap='keep' \(keep yours; store verse on the free beats 32-48\), "
                                         r"overlap='replace' \(delete yours\) or overlap='split'.*nothing was accepted"):
        labels.accept(s)
    assert _spans(labels, a) == [("build", 16, 32, "user")]           # the lost "build 16-32" stays
    with pytest.raises(LabelError, match="overlap must be one of 'refuse', 'keep', 'replace', 'split'; got 'ask'"):
        labels.accept(s, overlap="ask")
    with pytest.raises(LabelError, match="suggestion must be a workbench.labels.Suggestion; got dict"):
        labels.accept({"label": "verse"})


def test_accept_keep_trims_to_free_beats_with_provenance(lib):
    labels, a = Labels(lib), _ids(lib)["a.wav"]
    labels.add(a, "build", start_beat=16, end_beat=32)
    with pytest.warns(LabelWarning, match="verse 16-48 kept clear of your labels: stored on beats 32-48"):
        acc = labels.accept(_sugg(a, "verse", 16, 48, conf=0.73), overlap="keep")
    assert (acc.label, acc.start_beat, acc.end_beat) == ("verse", 32, 48)
    assert (acc.source, acc.confidence, acc.model_name, acc.model_version, acc.accepted) == (
        "model", 0.73, "dj_section", "v1", True)
    assert acc.start_s == pytest.approx(OFFSET_S + 16.0)
    assert _spans(labels, a) == [("build", 16, 32, "user"), ("verse", 32, 48, "model")]
    with pytest.raises(LabelError, match=r"drop 16-48 overlaps the existing labels build 16-32 .* and verse 32-48 .*"
                                         "with overlap='keep' nothing is left to store; nothing was changed; "
                                         "choose overlap='replace'"):
        labels.accept(_sugg(a, "drop", 16, 48), overlap="keep")


def test_accept_keep_in_pieces_warns_and_accept_all_returns_every_piece(lib):
    labels, a = Labels(lib), _ids(lib)["a.wav"]
    labels.add(a, "drop", start_beat=24, end_beat=32)
    with pytest.warns(LabelWarning, match=r"verse 16-48 kept clear of your labels: stored on beats 16-24, 32-48"):
        first = labels.accept(_sugg(a, "verse", 16, 48), overlap="keep")
    assert (first.start_beat, first.end_beat) == (16, 24)
    assert _spans(labels, a) == [("verse", 16, 24, "model"), ("drop", 24, 32, "user"), ("verse", 32, 48, "model")]
    labels.undo(track=a)
    assert _spans(labels, a) == [("drop", 24, 32, "user")]
    with pytest.warns(LabelWarning, match="kept clear"):
        stored = labels.accept_all([_sugg(a, "intro", 0, 28), _sugg(a, "build", 28, 64)], overlap="keep")
    assert [(x.label, x.start_beat, x.end_beat) for x in stored] == [("intro", 0, 24), ("build", 32, 64)]
    assert labels.history(track=a)[0][-1] == "accept all 2 suggestions"


def test_accept_replace_and_split_and_undo_brings_the_suggestion_back(lib):
    labels, a = Labels(lib), _ids(lib)["a.wav"]
    labels.add(a, "build", start_beat=16, end_beat=32)
    labels.add(a, "drop", start_beat=40, end_beat=64)
    found = [_sugg(a, "verse", 16, 48), _sugg(a, "chorus", 48, 64)]
    assert labels.pending(a, found) == found
    labels.accept(found[0], overlap="split")
    assert _spans(labels, a) == [("verse", 16, 48, "model"), ("drop", 48, 64, "user")]
    assert labels.pending(a, found) == [found[1]]                      # accepted: no longer pending
    assert labels.undo(track=a).startswith("accept verse beats 16-48 on track")
    assert _spans(labels, a) == [("build", 16, 32, "user"), ("drop", 40, 64, "user")]
    assert labels.pending(a, found) == found                           # the suggestion is back
    labels.redo(track=a)
    assert _spans(labels, a) == [("verse", 16, 48, "model"), ("drop", 48, 64, "user")]
    labels.accept(found[1], overlap="replace")
    assert _spans(labels, a) == [("verse", 16, 48, "model"), ("chorus", 48, 64, "model")]
    labels.undo(track=a)
    assert _spans(labels, a)[-1] == ("drop", 48, 64, "user")


def test_accept_all_refuse_lists_every_overlap_and_stores_nothing(lib):
    labels, a = Labels(lib), _ids(lib)["a.wav"]
    labels.add(a, "build", start_beat=0, end_beat=8)
    labels.add(a, "drop", start_beat=40, end_beat=48)
    with pytest.raises(LabelError, match=r"2 suggestions overlap your labels: intro 0-16 overlaps .*build 0-8.*; "
                                         r"verse 32-64 overlaps .*drop 40-48.*nothing was accepted"):
        labels.accept_all([_sugg(a, "intro", 0, 16), _sugg(a, "break", 16, 32), _sugg(a, "verse", 32, 64)])
    assert len(labels) == 2
    assert labels.accept_all([]) == []
    with pytest.raises(LabelError, match=r"suggestions\[1\] must be a workbench.labels.Suggestion"):
        labels.accept_all([_sugg(a, "intro", 0, 16), "drop"])


def test_editing_an_accepted_label_makes_it_the_users(lib):
    labels, a = Labels(lib), _ids(lib)["a.wav"]
    acc = labels.accept(_sugg(a, "verse", 16, 48, conf=0.9))
    same = labels.update(acc.id, label="verse")
    assert (same.source, same.confidence) == ("model", 0.9)               # nothing changed: still the model's
    moved = labels.update(acc.id, end_beat=40)
    assert (moved.source, moved.confidence, moved.model_name, moved.accepted) == ("user", None, "dj_section", True)


# -- rejections ------------------------------------------------------------------------------
def test_reject_is_stored_hidden_per_model_version_and_undoable(lib):
    labels, a = Labels(lib), _ids(lib)["a.wav"]
    s = _sugg(a, "drop", 32, 64, conf=0.42)
    r = labels.reject(s)
    assert isinstance(r, Rejection) and (r.label, r.start_beat, r.end_beat, r.model_version) == ("drop", 32, 64, "v1")
    assert r.start_s == pytest.approx(OFFSET_S + 16.0) and r.confidence == pytest.approx(0.42)
    assert labels.pending(a, [s]) == []
    newer = _sugg(a, "drop", 32, 64, version="v2")
    assert labels.pending(a, [s, newer]) == [newer]                   # another model version is shown
    assert labels.reject(s).id == r.id and len(labels.rejections()) == 1   # rejecting twice stores one
    assert Labels(Library(lib.path)).rejections(track=a) == [r]         # another kernel (training) reads it
    assert labels.undo(track=a) == f"reject {s.describe()}"
    assert labels.pending(a, [s]) == [s] and labels.rejections() == []
    labels.redo(track=a)
    assert labels.pending(a, [s]) == []
    assert labels.reject_all([newer])[0].model_version == "v2" and labels.reject_all([]) == []
    with pytest.raises(LabelError, match="suggestion must be a workbench.labels.Suggestion"):
        labels.reject("drop")


def test_undo_of_a_reject_refuses_when_another_kernel_removed_it(lib):
    labels, a = Labels(lib), _ids(lib)["a.wav"]
    r = labels.reject(_sugg(a, "drop", 32, 64))
    with lib.store.transaction() as conn:
        conn.execute("DELETE FROM label_rejections WHERE id = ?", (r.id,))
    with pytest.raises(LabelError, match=rf"cannot undo 'reject drop beats 32-64.*rejection {r.id} changed since this edit "
                                         r"\(it was deleted"):
        labels.undo(track=a)


def test_suggestions_filters_and_caches_the_suggester(lib):
    a = _ids(lib)["a.wav"]
    calls = []

    def suggest(track):
        calls.append(track.id)
        return [_sugg(track.id, "intro", 0, 16), _sugg(track.id, "drop", 16, 32)]

    with pytest.raises(ParameterError, match="suggest must be a function track -> list of Suggestion, or None"):
        Labels(lib, suggest=[1])
    with pytest.raises(LabelError, match="no suggester: pass suggest="):
        Labels(lib).suggestions(a)
    labels = Labels(lib, suggest=suggest)
    first = labels.suggestions(a)
    labels.reject(first[0])
    assert labels.suggestions(a) == first[1:] and calls == [a]          # asked once
    labels.undo()
    assert labels.suggestions(a) == first and calls == [a]
    labels.suggestions(a, refresh=True)
    assert calls == [a, a]


# -- undo per track --------------------------------------------------------------------------
def test_undo_and_redo_per_track(lib):
    labels = Labels(lib)
    ids = _ids(lib)
    a, b = ids["a.wav"], ids["b.wav"]
    labels.add(a, "intro", start_beat=0, end_beat=16)
    labels.add(b, "drop", start_beat=0, end_beat=16)
    labels.add(a, "build", start_beat=16, end_beat=32)
    assert labels.history(track=b) == ([f"add drop beats 0-16 on track {b}"], [])
    assert labels.undo(track=b) == f"add drop beats 0-16 on track {b}"        # b's edit, though a's is newer
    assert _spans(labels, a) == [("intro", 0, 16, "user"), ("build", 16, 32, "user")]
    assert labels.undo(track=b) is None and labels.redo(track=a) is None
    labels.add(a, "drop", start_beat=32, end_beat=48)                     # a new edit on a keeps b's redo
    assert labels.redo(track=b) == f"add drop beats 0-16 on track {b}"
    assert labels.undo() == f"add drop beats 0-16 on track {b}"                  # no track: the last edit of any
    assert labels.undo(track=lib.track(a)) == f"add drop beats 32-48 on track {a}"   # a Track works too


def test_undo_per_track_refuses_an_edit_of_several_tracks(lib, tmp_path):
    labels = Labels(lib)
    ids = _ids(lib)
    labels.add(ids["a.wav"], "intro", start_beat=0, end_beat=16)
    labels.add(ids["b.wav"], "drop", start_beat=0, end_beat=16)
    path = labels.export(tmp_path / "all.json")
    other = Labels(Library(tmp_path / "data" / "w.db"))
    for x in other.all():
        other.delete(x.id)
    other.import_(path)
    with pytest.raises(LabelError, match=r"cannot undo 'import.*' for track \d+ alone: it also changed track\(s\) "
                                         r"\d+; undo it for every track with undo\(\) \(no track\)"):
        other.undo(track=ids["a.wav"])
    assert other.undo() is not None and len(other) == 0


# -- status and the next track ---------------------------------------------------------------
def test_track_status_derived_stored_and_cleared(lib):
    labels = Labels(lib)
    ids = _ids(lib)
    a, b = ids["a.wav"], ids["b.wav"]
    assert labels.status(a) == "unlabelled"
    labels.add(a, "intro", start_beat=0, end_beat=16)
    assert labels.status(a) == "in_progress"
    assert labels.set_status(a, "done") == "done" and labels.status(a) == "done"
    assert labels.set_status(b, "skipped") == "skipped"
    assert labels.statuses() == {a: "done", b: "skipped", ids["c.wav"]: "unlabelled"}
    assert labels.set_status(a, None) == "in_progress"
    with pytest.raises(LabelError, match="status must be one of 'unlabelled', 'in_progress', 'done', 'skipped'; "
                                         "got 'finished'"):
        labels.set_status(a, "finished")


def test_next_track_unlabelled_wraps_round(lib):
    labels = Labels(lib)
    ids = _ids(lib)
    a, b, c = ids["a.wav"], ids["b.wav"], ids["c.wav"]
    assert labels.next_track().id == a and labels.next_track(after=a).id == b
    labels.add(b, "intro", start_beat=0, end_beat=16)
    assert labels.next_track(after=a).id == c
    assert labels.next_track(after=c).id == a                             # wraps round
    labels.set_status(a, "skipped")
    assert labels.next_track(after=c) is None
    with pytest.raises(LabelError, match="mode must be one of 'unlabelled', 'least_certain'; got 'random'"):
        labels.next_track("random")


def test_next_track_least_certain_is_the_active_learning_proposal(lib):
    ids = _ids(lib)
    a, b, c = ids["a.wav"], ids["b.wav"], ids["c.wav"]
    conf = {a: (0.9, 0.5), b: (0.4, 0.6), c: (0.6, 0.2)}                  # weighted means: a .7, b .5, c .4

    def suggest(track):
        hi, lo = conf[track.id]
        return [_sugg(track.id, "intro", 0, 32, hi), _sugg(track.id, "drop", 32, 64, lo)]

    with pytest.raises(LabelError, match="mode='least_certain' needs a suggester"):
        Labels(lib).next_track("least_certain")
    labels = Labels(lib, suggest=suggest)
    assert labels.certainty(b) == pytest.approx(0.5)
    assert labels.next_track("least_certain").id == c
    assert labels.next_track("least_certain", after=c).id == b            # never the track shown now
    labels.set_status(b, "done")
    assert labels.next_track("least_certain", after=c).id == a
    labels.set_status(a, "skipped")
    assert labels.next_track("least_certain", after=c) is None
    assert Labels(lib).next_track("least_certain", suggest=suggest).id == c   # a suggester given to the call


# -- grid corrections ------------------------------------------------------------------------
def test_shift_downbeats_keeps_labels_on_their_beats(lib):
    labels, a = Labels(lib), _ids(lib)["a.wav"]
    lab = labels.add(a, "drop", start_beat=16, end_beat=32)
    assert labels.grid(a).bar_of(16) == 5
    c = labels.shift_downbeats(a, 1)
    assert c.locked and c.first_downbeat_s == pytest.approx(OFFSET_S + BEAT_S)
    g = labels.grid(a)
    assert g.downbeats_s[0] == pytest.approx(OFFSET_S + BEAT_S) and g.bar_of(16) == 4
    assert labels.get(lab.id) == lab                                       # same beats, same seconds
    labels.shift_downbeats(a, -1)
    assert labels.grid(a).downbeats_s[0] == pytest.approx(OFFSET_S)
    with pytest.raises(ParameterError, match="beats must be an int that is not a multiple of 4.*got 4"):
        labels.shift_downbeats(a, 4)
    with pytest.raises(ParameterError, match="beats must be an int that is not a multiple of 4.*got 1.5"):
        labels.shift_downbeats(a, 1.5)


def test_nudge_grid_moves_label_seconds_with_the_grid_and_undo_still_works(lib):
    labels, a = Labels(lib), _ids(lib)["a.wav"]
    lab = labels.add(a, "drop", start_beat=16, end_beat=32)
    c = labels.nudge_grid(a, 20)
    assert c.grid_offset_s == pytest.approx(0.02) and c.locked and "grid +20 ms" in c.describe()
    now = labels.get(lab.id)
    assert (now.start_beat, now.end_beat) == (16, 32)
    assert now.start_s == pytest.approx(OFFSET_S + 8.0 + 0.02) and now.updated_at == lab.updated_at
    assert labels.grid(a).beats_s[0] == pytest.approx(OFFSET_S + 0.02)
    assert Labels(Library(lib.path)).grid(a).beats_s[0] == pytest.approx(OFFSET_S + 0.02)  # stored for everyone
    assert labels.nudge_grid(a, -20).grid_offset_s is None                 # back to zero: no nudge stored
    labels.nudge_grid(a, 30)
    assert labels.undo(track=a) == f"add drop beats 16-32 on track {a}"          # seconds moved: the undo still works
    labels.redo(track=a)
    assert labels.get(labels.for_track(a)[0].id).start_s == pytest.approx(OFFSET_S + 8.03)
    assert get_correction(lib, a).grid_offset_s == pytest.approx(0.03)
    with pytest.raises(ParameterError, match="offset_ms must be a non-zero number of milliseconds within"):
        labels.nudge_grid(a, 0)
    with pytest.raises(ParameterError, match="offset_ms must be a non-zero number of milliseconds within"):
        labels.nudge_grid(a, 900)
    with pytest.raises(ParameterError, match="moves a beat outside the track"):
        labels.nudge_grid(a, -200)                                         # the first beat is at 0.1 s


def test_nudge_total_is_bounded(lib):
    labels, a = Labels(lib), _ids(lib)["a.wav"]
    labels.nudge_grid(a, 60)
    labels.nudge_grid(a, 500)
    with pytest.raises(ParameterError, match=r"total nudge \+1060 ms; the total must stay within \+-1000 ms"):
        labels.nudge_grid(a, 500)
    assert get_correction(lib, a).grid_offset_s == pytest.approx(0.56)


def test_label_defaults_keep_old_construction():
    lab = Label(1, 2, "drop", 0, 8, 0.0, 4.0, "user", None, "t", "t")
    assert (lab.model_name, lab.model_version, lab.accepted) == (None, None, False)


def test_grid_corrections_without_beats_and_on_a_corrected_tempo(lib):
    from workbench.analysis import track_analysis
    from workbench.analysis.corrections import correct_track, nudge_grid, shift_downbeats

    ids = _ids(lib)
    with lib.store.transaction() as conn:
        conn.execute("DELETE FROM analyses WHERE track_id = ?", (ids["c.wav"],))
    with pytest.raises(ParameterError, match=r"has no analysed beats: there is no grid to correct"):
        nudge_grid(lib, ids["c.wav"], 10)
    with pytest.raises(ParameterError, match=r"has no analysed beats: there is no grid to correct"):
        shift_downbeats(lib, ids["c.wav"], 1)
    a = ids["a.wav"]
    correct_track(lib, a, bpm=100.0)                                      # a metronomic grid through the downbeat
    before = track_analysis(lib, a)
    c = shift_downbeats(lib, a, -1)
    after = track_analysis(lib, a)
    assert c.bpm == 100.0 and len(after.beats) == len(before.beats)
    assert after.beats == pytest.approx(before.beats)                      # the beats stay
    k = int(np.argmin(np.abs(np.asarray(after.beats) - after.downbeats[0])))
    assert k == 3                                                          # bars start one beat earlier (mod 4)


def test_an_accepted_guess_is_stored_with_no_confidence(lib):
    """Session 22: accepting a novelty guess (no section model) stored confidence 0.0 for the label, a false "0 %"
    (the labeler drew "✓0%" on it); a guess has no confidence: stored as None, as a person's label is."""
    from workbench.widgets.suggest import FALLBACK_MODEL

    labels, a = Labels(lib), _ids(lib)["a.wav"]
    guess = Suggestion(a, "drop", 16, 48, 0.0, 0.0, 0.0, uncertain=True, model_name=FALLBACK_MODEL[0],
                       model_version=FALLBACK_MODEL[1])
    assert guess.guessed and not _sugg(a, "verse", 64, 96).guessed
    acc = labels.accept(guess)
    assert (acc.source, acc.confidence, acc.model_name) == ("model", None, "novelty")
    assert labels.for_track(a)[0].confidence is None  # as stored, read back
    with lib.store.transaction() as conn:
        assert conn.execute("SELECT confidence FROM labels WHERE id = ?", (acc.id,)).fetchone()[0] is None
    assert labels.accept(_sugg(a, "verse", 64, 96, conf=0.73)).confidence == 0.73  # a model's stays
