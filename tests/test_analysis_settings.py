"""Analysis settings stored per library/folder/track, and hand corrections, seen by every consumer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from workbench.analysis import (
    Analysis,
    BpmPrior,
    analyze_library,
    clear_analysis_settings,
    clear_correction,
    correct_track,
    effective_settings,
    get_analysis_settings,
    get_correction,
    list_analysis_settings,
    set_analysis_settings,
    stored_analysis,
    track_analysis,
)
from workbench.analysis.corrections import Correction
from workbench.cli import main
from workbench.errors import ParameterError, TrackNotFoundError
from workbench.library import Library

SR = 22050
TEMPO = 190.0  # above the default prior's 185 BPM: the default analysis reads half tempo
FAST = "160-200@185"


def clicks(bpm: float, duration_s: float, *, seed: int = 0) -> np.ndarray:
    """A click on every beat, the one of each bar accented with a low thump; the first at 0 s."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * SR)
    y = np.zeros(n, dtype=np.float32)
    t = np.arange(int(0.03 * SR)) / SR
    click = np.sin(2 * np.pi * 1000 * t) * np.exp(-t * 150)
    thump = np.sin(2 * np.pi * 60 * t) * np.exp(-t * 60)
    for i, t0 in enumerate(np.arange(0, duration_s, 60.0 / bpm)):
        a = int(t0 * SR)
        seg = y[a : a + t.size]
        seg += ((click + thump) if i % 4 == 0 else 0.6 * click)[: seg.size]
    return y + 0.001 * rng.standard_normal(n).astype(np.float32)


@pytest.fixture
def lib(tmp_path) -> Library:
    folder = tmp_path / "music"
    folder.mkdir()
    sf.write(folder / "fast.flac", clicks(TEMPO, 12.0), SR)
    library = Library(tmp_path / "data" / "w.db")
    library.scan(folder, progress=False)
    yield library
    library.close()


def spacing(beats) -> float:
    return float(np.median(np.diff(np.asarray(beats))))


def consumers(lib: Library, track) -> dict[str, float]:
    """The BPM each consumer sees (from its beat spacing where it has a grid)."""
    from workbench.embed.batch import embed_library
    from workbench.embed.features import FeatureFrontend
    from workbench.explore import library_table
    from workbench.labels import Labels
    from workbench.search import LibrarySearch
    from workbench.train.sections import track_frames

    embed_library(lib, backbone=FeatureFrontend(), progress=False)
    search = LibrarySearch(lib, backbone=FeatureFrontend(), progress=False)
    tracks, _, meta = search._rows()  # the rows the similarity index is built from
    seen = {"search": dict(zip([t.id for t in tracks], [m[0] for m in meta], strict=True))[track.id],
            "explorer": float(library_table(lib).loc[track.id, "bpm"]),
            "labels grid": 60.0 / spacing(Labels(lib).grid(track).beats_s),
            "training features": 60.0 / spacing(track_frames(lib, track).beats)}
    pytest.importorskip("ipywidgets")
    from workbench.widgets import Labeler

    labeler = Labeler(lib, autoplay=False)
    labeler.show_track(track)
    seen["labeler grid"] = 60.0 / spacing(labeler.grid.beats_s)
    return seen


def test_a_stored_prior_fixes_the_octave_for_every_consumer(lib):
    t = lib.tracks()[0]
    analyze_library(lib, progress=False)
    assert track_analysis(lib, t).bpm == pytest.approx(TEMPO / 2, rel=0.01)  # the default prior: wrong octave
    stored = set_analysis_settings(lib, prior=FAST)
    assert stored.scope == "library" and stored.settings["bpm_prior"]["max_bpm"] == 200
    assert track_analysis(lib, t, compute=False) is None  # not analysed under the new prior yet
    summary = analyze_library(lib, progress=False)  # no settings given: the stored ones
    assert summary.analysed == [t.id]
    assert analyze_library(lib, progress=False).reused == [t.id]
    seen = consumers(lib, t)
    assert seen == pytest.approx(dict.fromkeys(seen, TEMPO), rel=0.01), seen
    # snapping seconds to beats uses the same grid: 16 beats at 190 BPM are 16 beats, not 8
    from workbench.labels import Labels

    beats = track_analysis(lib, t).beats
    label = Labels(lib).add_seconds(t, "drop", start_s=beats[4], end_s=beats[20])
    assert (label.start_beat, label.end_beat) == (4, 20)
    # the raw analysis under explicit settings is still there, and the default one still reads half tempo
    assert stored_analysis(lib, t, bpm_prior=None).bpm == pytest.approx(TEMPO / 2, rel=0.01)


def test_a_correction_is_seen_by_every_consumer_and_survives_force(lib):
    t = lib.tracks()[0]
    analyze_library(lib, progress=False)  # default prior: 95 BPM
    c = correct_track(lib, t, bpm=TEMPO, first_downbeat_s=0.0, key="8A")
    assert c.locked and c.key == "A minor" and c.camelot == "8A"
    a = track_analysis(lib, t)
    assert a.bpm == TEMPO and a.key == "A minor" and a.camelot == "8A" and a.key_confidence == 1.0
    assert spacing(a.beats) == pytest.approx(60.0 / TEMPO, abs=1e-6)
    assert a.beats[0] == pytest.approx(0.0) and a.beats[-1] < t.duration_s <= a.beats[-1] + 60.0 / TEMPO + 1e-6
    assert a.downbeats[:2] == pytest.approx([0.0, 4 * 60.0 / TEMPO])
    seen = consumers(lib, t)
    assert seen == pytest.approx(dict.fromkeys(seen, TEMPO), rel=0.001), seen
    summary = analyze_library(lib, force=True, progress=False)
    assert summary.analysed == [t.id] and summary.locked == [t.id] and f"1 locked correction kept (track {t.id})" in str(summary)
    assert get_correction(lib, t) == c and track_analysis(lib, t).bpm == TEMPO
    # unlock: the analysis shows again
    assert clear_correction(lib, t) == c
    assert get_correction(lib, t) is None and track_analysis(lib, t).bpm == pytest.approx(TEMPO / 2, rel=0.01)
    # an unlocked correction is applied until a re-analysis replaces it
    correct_track(lib, t, key="C major", locked=False)
    assert track_analysis(lib, t).camelot == "8B"
    summary = analyze_library(lib, force=True, progress=False)
    assert summary.unlocked == [t.id] and get_correction(lib, t) is None


def _analysis(**kw) -> Analysis:
    base = dict(duration_s=10.0, bpm=120.0, beats=tuple(0.1 + 0.5 * np.arange(20)), downbeats=(), tempo_stability=0.97,
                key="C major", camelot="8B", key_confidence=0.4, energy=5, energy_curve=(0.5,) * 20,
                energy_hop_s=0.5, loudness_lufs=-9.0)
    base["downbeats"] = base["beats"][1::4]
    return Analysis(**{**base, **kw})


def test_correction_arithmetic():
    a = _analysis()
    # bpm only: a metronomic grid through the analysed first downbeat (0.6 s), covering the track
    g = Correction(1, 100.0, None, None, True, "").apply(a)
    assert g.bpm == 100.0 and g.tempo_stability == 1.0
    assert np.allclose(np.diff(g.beats), 0.6) and g.beats[0] == pytest.approx(0.0) and g.beats[-1] < 10.0
    assert len(g.beats) == 17 and g.downbeats[0] == pytest.approx(0.6) and np.allclose(np.diff(g.downbeats), 2.4)
    # first downbeat only: the analysed beats stay, the bar phase moves to the nearest beat
    d = Correction(1, None, 1.08, None, True, "").apply(a)
    assert d.beats == a.beats and d.downbeats[0] == pytest.approx(1.1) and d.bpm == 120.0
    # key only: beats untouched
    k = Correction(1, None, None, "F# minor", True, "").apply(a)
    assert (k.key, k.camelot, k.beats, k.downbeats) == ("F# minor", "11A", a.beats, a.downbeats)
    # no analysed beat: a bpm correction builds the grid from 0 s (or the given downbeat)
    n = Correction(1, 120.0, 0.25, None, True, "").apply(_analysis(bpm=None, beats=(), downbeats=()))
    assert n.beats[0] == pytest.approx(0.25) and n.downbeats[0] == pytest.approx(0.25) and n.bpm == 120.0


def test_folder_and_track_settings_take_precedence(tmp_path):
    root = tmp_path / "music"
    for sub in ("house", "dnb", "dnb/liquid"):
        (root / sub).mkdir(parents=True)
    for i, rel in enumerate(("house/a.wav", "dnb/b.wav", "dnb/liquid/c.wav", "d.wav")):
        sf.write(root / rel, clicks(120.0, 4.0, seed=i), SR)
    with Library(tmp_path / "data" / "w.db") as lib:
        lib.scan(root, progress=False)
        a, b, c, d = (lib.track(root / rel) for rel in ("house/a.wav", "dnb/b.wav", "dnb/liquid/c.wav", "d.wav"))
        assert effective_settings(lib, a).bpm_prior is None and effective_settings(lib, a).sources["bpm_prior"] == "default"
        set_analysis_settings(lib, prior="118-130@124", key_profile="temperley")
        set_analysis_settings(lib, scope="folder", target=root / "dnb", prior="160-180@174")
        set_analysis_settings(lib, scope="folder", target=root / "dnb" / "liquid", prior="165-178@172")
        set_analysis_settings(lib, scope="track", target=d.id, prior=BpmPrior.trance())
        priors = {t.name: effective_settings(lib, t).bpm_prior.center_bpm for t in (a, b, c, d)}
        assert priors == {"a": 124, "b": 174, "c": 172, "d": 139}
        # a file outside the library (a search query) gets its folder's and the library's settings
        assert effective_settings(lib, root / "dnb" / "query.wav").bpm_prior.center_bpm == 174
        assert effective_settings(lib, tmp_path / "elsewhere.wav").bpm_prior.center_bpm == 124
        # fields resolve one by one: the folder sets the prior, the library's key profile still holds
        s = effective_settings(lib, c)
        assert s.key_profile == "temperley" and s.sources == {
            "bpm_prior": f"folder:{lib.workspace.relative(root / 'dnb' / 'liquid')}", "key_profile": "library",
            "energy_hop_s": "default"}
        # a folder inside the workspace is stored relative to it, as track paths are
        assert get_analysis_settings(lib, scope="folder", target="music/dnb").target == "music/dnb"
        assert [x.scope for x in list_analysis_settings(lib)] == ["library", "folder", "folder", "track"]
        # setting one field keeps the others stored for that scope
        set_analysis_settings(lib, energy_hop_s=1.0)
        assert effective_settings(lib, a).bpm_prior.center_bpm == 124 and effective_settings(lib, a).energy_hop_s == 1.0
        assert clear_analysis_settings(lib, scope="folder", target=root / "dnb" / "liquid")
        assert not clear_analysis_settings(lib, scope="folder", target=root / "dnb" / "liquid")
        assert effective_settings(lib, c).bpm_prior.center_bpm == 174


def test_bad_settings_and_corrections_are_named(lib, tmp_path):
    t = lib.tracks()[0]
    with pytest.raises(ParameterError, match=r"scope must be one of \('library', 'folder', 'track'\); got 'crate'"):
        set_analysis_settings(lib, scope="crate", target="x", prior="trance")
    with pytest.raises(ParameterError, match="folder must be an existing folder; got .*nowhere"):
        set_analysis_settings(lib, scope="folder", target=tmp_path / "nowhere", prior="trance")
    with pytest.raises(ParameterError, match="the library scope takes no target; got target='x'"):
        set_analysis_settings(lib, target="x", prior="trance")
    with pytest.raises(ParameterError, match="scope 'track' needs a target"):
        set_analysis_settings(lib, scope="track", prior="trance")
    with pytest.raises(TrackNotFoundError, match="999"):
        set_analysis_settings(lib, scope="track", target=999, prior="trance")
    with pytest.raises(ParameterError, match="needs at least one of prior, key_profile, energy_hop_s"):
        set_analysis_settings(lib)
    with pytest.raises(ParameterError, match="--prior must be 'trance', 'MIN-MAX' or 'MIN-MAX@CENTRE' in BPM; got 'fast'"):
        set_analysis_settings(lib, prior="fast")
    with pytest.raises(ParameterError, match="BpmPrior.center_bpm must lie in"):
        set_analysis_settings(lib, prior="80-100@150")
    with pytest.raises(ParameterError, match=r"key_profile must be one of \['bgate', 'braw', 'edma', 'krumhansl', 'shaath', 'temperley'\]; got 'x'"):
        set_analysis_settings(lib, key_profile="x")
    with pytest.raises(ParameterError, match=r"energy_hop_s must be a float in \[0.05, 10\] seconds; got 0"):
        set_analysis_settings(lib, energy_hop_s=0)
    with pytest.raises(ParameterError, match=r"bpm must be a number in \[30, 300\] BPM; got 500"):
        correct_track(lib, t, bpm=500)
    with pytest.raises(ParameterError, match=r"first_downbeat_s must be a time in \[0, 12.00\) seconds"):
        correct_track(lib, t, first_downbeat_s=12.5)
    with pytest.raises(ParameterError, match="Camelot code 1A..12A .minor. / 1B..12B .major.; got '13A'"):
        correct_track(lib, t, key="13A")
    with pytest.raises(ParameterError, match="needs at least one of bpm, first_downbeat_s, key; got none"):
        correct_track(lib, t)
    assert list_analysis_settings(lib) == [] and get_correction(lib, t) is None  # nothing half-stored


def test_a_downbeat_alone_needs_analysed_beats(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    t_ = np.arange(6 * SR) / SR
    sf.write(folder / "pad.wav", (0.2 * np.sin(2 * np.pi * 220 * t_)).astype(np.float32), SR)  # no beat at all
    with Library(tmp_path / "w.db") as lib:
        lib.scan(folder, progress=False)
        t = lib.tracks()[0]
        assert track_analysis(lib, t).bpm is None
        with pytest.raises(ParameterError, match=r"track 1 \(pad\) has no analysed beats.*give bpm too"):
            correct_track(lib, t, first_downbeat_s=0.5)
        fixed = correct_track(lib, t, first_downbeat_s=0.5, bpm=120)
        a = track_analysis(lib, t)
        assert fixed.bpm == 120 and a.beats[:2] == pytest.approx([0.0, 0.5]) and a.downbeats[0] == pytest.approx(0.5)


def test_cli_round_trip(lib, capsys):
    db = str(lib.path)
    t = lib.tracks()[0]

    def run(*argv: str) -> dict:
        assert main(["--db", db, "--quiet", *argv]) == 0
        return json.loads(capsys.readouterr().out)

    out = run("analyze", "--prior", FAST, "--json")
    assert out["stored"]["scope"] == "library" and out["stored"]["settings"]["bpm_prior"]["center_bpm"] == 185
    assert out["tracks"][0]["bpm"] == pytest.approx(TEMPO, rel=0.01) and out["tracks"][0]["prior"] == "160-200@185"
    # the next analyze, with no prior, keeps the stored one
    out = run("analyze", "--json")
    assert out["stored"] is None and out["summary"]["reused"] == [t.id]
    assert out["tracks"][0]["bpm"] == pytest.approx(TEMPO, rel=0.01) and out["tracks"][0]["prior_from"] == "library"
    assert main(["--db", db, "--quiet", "analyze"]) == 0
    table = capsys.readouterr().out
    assert "1 reused" in table and " 190." in table and "160-200@185" in table
    assert [s["scope"] for s in run("settings", "--json")["settings"]] == ["library"]
    out = run("correct", str(t.id), "--key", "A minor", "--bpm", "95", "--json")
    assert out["correction"]["locked"] and out["correction"]["camelot"] == "8A"
    assert out["analysis"]["bpm"] == 95.0 and out["analysis"]["camelot"] == "8A"
    out = run("analyze", "--force", "--json")
    assert out["summary"]["locked"] == [t.id] and out["tracks"][0]["bpm"] == 95.0
    assert run("settings", "--json")["corrections"][0]["track_id"] == t.id
    out = run("correct", str(t.id), "--unlock", "--json")
    assert out["correction"] is None and out["analysis"]["bpm"] == pytest.approx(TEMPO, rel=0.01)
    out = run("settings", "--clear", "--json")
    assert out["cleared"]["removed"] and out["settings"] == []
    assert main(["--db", db, "correct", str(t.id), "--key", "H minor"]) == 1
    assert "key must be a key name" in capsys.readouterr().err
    assert main(["--db", db, "analyze", "--prior", "fast"]) == 1
    assert "--prior must be 'trance'" in capsys.readouterr().err
    assert main(["--db", db, "analyze", "--folder", str(Path(db).parent / "nowhere"), "--prior", FAST]) == 1
    assert "folder must be an existing folder" in capsys.readouterr().err
    assert run("settings", "--json")["settings"] == []  # a refused command stores nothing
