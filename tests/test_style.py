"""Style DNA: production features recover the settings of synthesized audio; profiles and gap analysis.

Reference clips come from :func:`workbench.style.render_reference` (the demo synthesizer's saw
stacks and filters with a set sidechain depth, detune, width, groove and acid sweep); each test
says the tolerance it holds the feature to (the same as ``FEATURES[...].tolerance`` or wider
where the clip is short).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from workbench.style import FEATURES, TRANCE, production_features, render_reference
from workbench.style.scores import STYLE_SCORES

SR = 44100


def feats(**kw):
    y, truth = render_reference(duration_s=kw.pop("duration_s", 24.0), seed=kw.pop("seed", 3), **kw)
    return production_features(y, sr=SR, beats=np.array(truth["beats"]), bpm=truth["bpm"]), truth


@pytest.mark.parametrize("detune", [10.0, 20.0, 35.0])
def test_detune_is_recovered_within_4_cents(detune):
    f, _ = feats(detune_cents=detune)
    assert abs(f["detune_cents"] - detune) <= 4.0, f["detune_cents"]


def test_pumping_depth_is_recovered_and_regular():
    got = {d: feats(pumping_depth=d, duration_s=32.0)[0] for d in (0.3, 0.6, 0.8)}
    for d, f in got.items():
        assert abs(f["pumping_depth"] - d) <= 0.1, (d, f["pumping_depth"])
    assert got[0.8]["pumping_regularity"] < 0.15 and got[0.6]["pumping_regularity"] < 0.15
    assert got[0.3]["pumping_depth"] < got[0.6]["pumping_depth"] < got[0.8]["pumping_depth"]
    assert abs(got[0.6]["pumping_db"] - (-20 * np.log10(1 - got[0.6]["pumping_depth"]))) < 1e-6


def test_stereo_width_and_correlation():
    mono, _ = feats(width=0.0)
    half, _ = feats(width=0.5)
    wide, _ = feats(width=1.0)
    assert mono["stereo_width"] < 0.005 and mono["phase_correlation"] > 0.99
    assert mono["stereo_width"] < half["stereo_width"] < wide["stereo_width"]
    assert wide["phase_correlation"] < half["phase_correlation"] < 1.0


def test_groove_features():
    four, _ = feats(four_on_floor=True, offbeat_hats=True)
    broken, _ = feats(four_on_floor=False, offbeat_hats=False)
    assert four["four_on_floor"] >= 0.9 and broken["four_on_floor"] <= 0.6
    assert four["offbeat_hats"] >= 0.8 and broken["offbeat_hats"] <= 0.2


def test_acid_sweep_grows_with_the_set_sweep():
    sweeps = [feats(acid_sweep_octaves=o, chord=False)[0]["acid_sweep_octaves"] for o in (0.25, 1.0, 1.5)]
    assert sweeps[0] < sweeps[1] < sweeps[2]


def test_acid_sweep_is_recovered_with_accents_left_out():
    f, truth = feats(acid_sweep_octaves=0.5, acid_q=3.0, acid_accent=0.3, chord=False, seed=6, duration_s=30.0)
    tol = {x.name: x.tolerance for x in FEATURES}
    assert abs(f["acid_sweep_octaves"] - truth["acid_sweep_octaves"]) <= tol["acid_sweep_octaves"], f


@pytest.mark.parametrize(("q", "glide"), [(0.7071, 0.0), (3.0, 0.4), (9.0, 0.7)])
def test_acid_resonance_and_glide_are_recovered(q, glide):
    f, truth = feats(acid_sweep_octaves=0.6, acid_q=q, acid_glide=glide, acid_accent=0.2, chord=False, seed=7)
    tol = {x.name: x.tolerance for x in FEATURES}
    assert abs(f["acid_resonance_db"] - truth["acid_resonance_db"]) <= tol["acid_resonance_db"], (f, truth)
    assert abs(f["acid_glide"] - truth["acid_glide"]) <= tol["acid_glide"], (f, truth)
    if glide:
        assert truth["acid_glide"] > 0  # the clip really has slides


@pytest.mark.parametrize(("accent", "sweep", "seed"), [(0.0, 1.0, 3), (0.15, 0.4, 4), (0.35, 0.8, 5)])
def test_acid_accent_share_is_recovered(accent, sweep, seed):
    f, truth = feats(acid_sweep_octaves=sweep, acid_q=4.0, acid_glide=0.3, acid_accent=accent, chord=False, seed=seed,
                     duration_s=30.0)
    tol = {x.name: x.tolerance for x in FEATURES}
    assert abs(f["acid_accent"] - truth["acid_accent_share"]) <= tol["acid_accent"], (f["acid_accent"], truth)


def test_accents_are_joint_jumps_above_a_sweeping_trend():
    from workbench.style.acid import _accented

    steps = np.arange(200)
    edge = np.log2(500.0) + 1.2 * np.sin(2 * np.pi * steps / 64)  # a slow sweep alone: no accent
    level = -20 + 3 * np.sin(2 * np.pi * steps / 64)
    assert not _accented(edge, level).any()
    accented = np.zeros(200, dtype=bool)
    accented[np.random.default_rng(0).choice(200, 60, replace=False)] = True  # 30 %: they would lift a plain median
    found = _accented(edge + accented, level + 6 * accented)
    assert (found == accented).mean() >= 0.97
    assert not _accented(edge[:5], level[:5]).any()  # too few steps to have a trend


def test_acid_filter_truth_is_its_peak_gain():
    from workbench.style.testbed import resonance_db

    assert abs(resonance_db(0.7071)) < 0.05  # Butterworth: no peak
    assert 8.5 < resonance_db(4.0) < 10.5 and resonance_db(9.0) > resonance_db(4.0) + 5


def test_no_beat_leaves_beat_features_unknown():
    y, _ = render_reference(duration_s=10.0)
    f = production_features(y, sr=SR, beats=None)
    assert f["pumping_depth"] is None and f["four_on_floor"] is None and f["detune_cents"] is not None
    s, parts = TRANCE.score(f)
    assert 0.0 <= s <= 1.0 and "pumping_depth" not in parts


def test_trance_score_has_the_seed_weights_and_ranks_a_trance_track_first():
    weights = {t.feature: t.weight for t in TRANCE.terms}
    assert weights == {"bpm": 0.20, "pumping_depth": 0.15, "energy_range": 0.15, "four_on_floor": 0.12,
                       "supersaw": 0.10, "acid_score": 0.08, "offbeat_hats": 0.08, "brightness_hz": 0.07,
                       "tempo_stability": 0.05}
    assert abs(sum(weights.values()) - 1.0) < 1e-9 and STYLE_SCORES["trance"] is TRANCE
    trance = {"bpm": 138, "pumping_depth": 0.45, "energy_range": 0.3, "four_on_floor": 0.97, "stereo_width": 0.15,
              "detune_cents": 22, "acid_score": 0.5, "offbeat_hats": 0.8, "brightness_hz": 650, "tempo_stability": 0.98}
    downtempo = {**trance, "bpm": 90, "four_on_floor": 0.4, "pumping_depth": 0.2, "offbeat_hats": 0.4}
    assert TRANCE.score(trance)[0] > 0.85 > TRANCE.score(downtempo)[0]


def test_every_feature_documents_unit_range_and_tolerance():
    for f in FEATURES:
        assert f.unit and f.low < f.high and f.meaning and f.tolerance > 0, f


@pytest.fixture(scope="module")
def style_lib(tmp_path_factory):
    """Six 138-BPM reference clips in a crate, two 120-BPM clips and a work in progress outside the library."""
    from workbench.crates import Crates
    from workbench.library import Library

    root = tmp_path_factory.mktemp("style")
    music = root / "music"
    music.mkdir()
    for i in range(6):
        y, _ = render_reference(bpm=138.0, pumping_depth=0.5, detune_cents=20.0, duration_s=20.0, seed=i)
        sf.write(music / f"ref_{i}.flac", y.T, SR)
    for i in range(2):
        y, _ = render_reference(bpm=100.0 + 20 * i, pumping_depth=0.1, detune_cents=5.0, width=0.1,
                                duration_s=20.0, seed=10 + i)
        sf.write(music / f"other_{i}.flac", y.T, SR)
    wip, _ = render_reference(bpm=124.0, pumping_depth=0.9, detune_cents=4.0, width=0.0, duration_s=20.0, seed=20)
    sf.write(root / "wip.wav", wip.T, SR)
    lib = Library(root / "data" / "workbench.db")
    lib.scan(music, progress=False)
    crates = Crates(lib)
    crates.add("ref", [t.id for t in lib.tracks() if "ref_" in t.path])
    crates.add("mixed", [t.id for t in lib.tracks() if "ref_0" in t.path or "ref_1" in t.path or "ref_2" in t.path
                         or "other" in t.path])
    return lib, root


def test_profile_build_save_load_and_gap(style_lib):
    from workbench.crates import Crates
    from workbench.style import (
        build_profile,
        gap_analysis,
        list_profiles,
        load_profile,
        save_or_reuse_profile,
        save_profile,
    )

    lib, root = style_lib
    tracks = Crates(lib).tracks("ref")
    p = build_profile(lib, "ref", tracks, source="crate:ref", progress=False)
    assert len(p["tracks"]) == 6 and p["source"] == "crate:ref" and len(p["analysis_settings"]) == 6
    det = p["features"]["detune_cents"]
    assert det["range"][0] <= 20.0 <= det["range"][1] and det["ci95"][0] <= det["mean"] <= det["ci95"][1]
    assert p["features"]["bpm"]["range"][0] <= 138.0 <= p["features"]["bpm"]["range"][1]
    first = save_profile(lib, p)
    again = {**build_profile(lib, "ref", tracks, source="crate:ref", progress=False),  # built again, later
             "created_at": "2030-01-01T00:00:00+00:00"}
    same = save_or_reuse_profile(lib, again)  # notebook 07 run again saved an identical v2, v3, ...
    assert (first.name, same.path, same.reused) == ("v1.json", first, True)
    assert same.said == "ref@1 unchanged: the same tracks, settings and figures as models/profiles/ref/v1.json; " \
                        "no new version saved"
    second = save_or_reuse_profile(lib, {**p, "source": "crate:ref2"})  # a change: the next version
    assert (second.path.name, second.reused, second.said) == ("v2.json", False, "saved models/profiles/ref/v2.json")
    assert save_or_reuse_profile(lib, p).path.name == "v3.json"  # as v1 again: the latest is the one built last
    assert load_profile(lib, "ref@1")["version"] == 1 and load_profile(lib, "ref")["version"] == 3
    assert list_profiles(lib)[0]["versions"] == [1, 2, 3]
    gap = gap_analysis(lib, load_profile(lib, "ref"), root / "wip.wav")
    outside = set(gap["outside"])
    assert {"bpm", "detune_cents", "stereo_width"} <= outside
    row = next(r for r in gap["features"] if r["feature"] == "detune_cents")
    assert row["value"] < row["range"][0] and "more detune" in row["advice"]
    assert set(gap["energy_classes"]["track"]) == set(p["energy_classes"])
    same = gap_analysis(lib, load_profile(lib, "ref"), tracks[0])
    assert "bpm" not in same["outside"] and "detune_cents" not in same["outside"]


def test_profile_refuses_too_few_or_inconsistent_tracks(style_lib):
    from workbench.crates import Crates
    from workbench.style import ProfileError, build_profile, load_profile

    lib, _ = style_lib
    with pytest.raises(ProfileError, match="at least 5 reference tracks"):
        build_profile(lib, "few", Crates(lib).tracks("ref")[:3], source="x", progress=False)
    with pytest.raises(ProfileError, match="too inconsistent"):
        build_profile(lib, "mixed", Crates(lib).tracks("mixed"), source="crate:mixed", progress=False)
    with pytest.raises(ValueError, match="profile name must be"):
        build_profile(lib, "../evil", Crates(lib).tracks("ref"), source="x", progress=False)
    with pytest.raises(ProfileError, match="no profile 'nope'"):
        load_profile(lib, "nope")


def test_cli_profile_commands(style_lib, capsys):
    from workbench.cli import main

    lib, root = style_lib
    db = str(lib.path)
    assert main(["--db", db, "profile", "build", "cli", "--crate", "ref", "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["n_tracks"] == 6 and built["version"] == 1 and built["reused"] is False
    assert main(["--db", db, "profile", "build", "cli", "--crate", "ref"]) == 0  # the same again: v1, said so
    assert capsys.readouterr().out.splitlines()[1:] == [
        "  cli@1 unchanged: the same tracks, settings and figures as models/profiles/cli/v1.json; no new version saved"]
    assert main(["--db", db, "profile", "build", "cli", "--crate", "ref", "--json"]) == 0
    assert {k: v for k, v in json.loads(capsys.readouterr().out).items() if k in ("version", "reused")} == \
        {"version": 1, "reused": True}
    assert main(["--db", db, "profile", "list", "--json"]) == 0
    assert "cli" in {r["name"] for r in json.loads(capsys.readouterr().out)}
    assert main(["--db", db, "profile", "show", "cli@1", "--json"]) == 0
    assert "detune_cents" in json.loads(capsys.readouterr().out)["features"]
    assert main(["--db", db, "profile", "compare", "cli", str(root / "wip.wav"), "--json"]) == 0
    gap = json.loads(capsys.readouterr().out)
    assert "bpm" in gap["outside"] and gap["seconds"] > 0
    assert main(["--db", db, "profile", "compare", "cli", str(root / "wip.wav")]) == 0
    assert "OUT bpm" in capsys.readouterr().out


def test_energy_classes_follow_the_curve():
    from workbench.style.features import ENERGY_CLASSES, energy_classes

    # 120 BPM: a bar is 2 s = 4 values at 0.5 s; low, a rise, high, a fall
    curve = np.concatenate([np.full(16, 0.2), np.linspace(0.2, 0.9, 16), np.full(16, 0.9), np.linspace(0.9, 0.2, 8)])
    classes, shares = energy_classes(curve, hop_s=0.5, bpm=120.0)
    assert classes[0] == "low" and "rising" in classes and "high" in classes and classes[-1] in ("falling", "low")
    assert classes.index("rising") < classes.index("high") and set(shares) == set(ENERGY_CLASSES)
    assert abs(sum(shares.values()) - 1.0) < 1e-9
    assert energy_classes(np.zeros(0), hop_s=0.5, bpm=None) == ([], dict.fromkeys(ENERGY_CLASSES, 0.0))


@pytest.fixture(scope="module")
def sectioned_lib(tmp_path_factory):
    """Five labelled reference tracks (16-s break without pumping, then a 16-s drop pumping 0.6) at 120 BPM."""
    from workbench.labels import Labels
    from workbench.library import Library

    root = tmp_path_factory.mktemp("style_sections")
    music = root / "music"
    music.mkdir()

    def two_part(seed, break_depth, drop_depth):
        brk, _ = render_reference(bpm=120.0, duration_s=16.0, pumping_depth=break_depth, four_on_floor=False,
                                  seed=seed)
        drop, _ = render_reference(bpm=120.0, duration_s=16.0, pumping_depth=drop_depth, seed=seed)
        return np.concatenate([brk, drop], axis=1)

    for i in range(5):
        sf.write(music / f"ref_{i}.flac", two_part(i, 0.0, 0.6).T, SR)
    sf.write(root / "wip.wav", two_part(9, 0.6, 0.0).T, SR)  # pumps in the break, flat in the drop
    lib = Library(root / "data" / "workbench.db")
    lib.scan(music, progress=False)
    labels = Labels(lib)
    for t in lib.tracks():
        labels.add(t, "break", start_beat=0, end_beat=32)
        labels.add(t, "drop", start_beat=32, end_beat=64)
    return lib, root


def test_profile_keeps_each_section_label_and_gaps_are_per_section(sectioned_lib, capsys):
    from workbench.cli import main
    from workbench.style import build_profile, gap_analysis
    from workbench.style.gap import section_gaps

    lib, root = sectioned_lib
    p = build_profile(lib, "sec", lib.tracks(), source="test", progress=False)
    assert set(p["sections"]) == {"break", "drop"} and p["sections"]["drop"]["n_sections"] == 5
    drop_pump = p["sections"]["drop"]["features"]["pumping_depth"]
    break_pump = p["sections"]["break"]["features"]["pumping_depth"]
    assert drop_pump["mean"] > 0.4 > break_pump["mean"] + 0.2  # the drop pumps, the break does not
    gap = gap_analysis(lib, p, root / "wip.wav", sections=[("break", 0.0, 16.0), ("drop", 16.0, 32.0),
                                                            ("outro", 30.0, 32.0)])
    brk, drop, outro = gap["sections"]
    assert brk["compared"] and "pumping_depth" in brk["outside"]
    assert drop["compared"] and "pumping_depth" in drop["outside"]
    row = next(r for r in drop["features"] if r["feature"] == "pumping_depth")
    assert row["value"] < row["range"][0] and row["advice"]
    assert not outro["compared"] and "shorter than" in outro["reason"]
    # a library track's own labels are used by default; its sections sit inside the profile's ranges
    own = gap_analysis(lib, p, lib.tracks()[0])
    assert [s["label"] for s in own["sections"]] == ["break", "drop"]
    assert all(s["compared"] and "pumping_depth" not in s["outside"] for s in own["sections"])
    none = section_gaps([{"label": "intro", "start_s": 0, "end_s": 20, "features": {"bpm": 120.0}}], p)
    assert "no reference intro sections (it has: break, drop)" in none[0]["reason"]
    # the command line: sections given in seconds, shown per section
    from workbench.style import save_profile

    save_profile(lib, p)
    db = str(lib.path)
    assert main(["--db", db, "profile", "compare", "sec", str(root / "wip.wav"), "--section", "break:0-16",
                 "--section", "drop:16-32"]) == 0
    out = capsys.readouterr().out
    assert "[break 0.0-16.0 s]" in out and "OUT pumping_depth" in out
    assert main(["--db", db, "profile", "compare", "sec", str(root / "wip.wav"), "--section", "solo:0-16"]) != 0
    assert "--section label must be one of intro, build" in capsys.readouterr().err
    assert main(["--db", db, "profile", "compare", "sec", str(root / "wip.wav"), "--section", "drop:a-b"]) != 0
    assert "LABEL:START-END in seconds" in capsys.readouterr().err


def test_trance_score_tells_trance_from_other_music_at_the_same_tempo():
    """At one tempo (the tempo term cannot decide), production decides: pumped, detuned, wide
    saws over four-on-the-floor with off-beat hats score above a dry, narrow, broken-beat clip."""
    trance, _ = feats(bpm=138.0, pumping_depth=0.5, detune_cents=22.0, width=0.8, acid_sweep_octaves=0.5)
    other, _ = feats(bpm=138.0, pumping_depth=0.0, detune_cents=2.0, width=0.05, four_on_floor=False,
                     offbeat_hats=False)
    s_trance, parts_trance = TRANCE.score(trance)
    s_other, parts_other = TRANCE.score(other)
    assert abs(parts_trance["bpm"] - parts_other["bpm"]) < 1e-9  # same tempo, same tempo term
    assert s_trance > s_other + 0.2, (parts_trance, parts_other)


def count_section_features(monkeypatch) -> list[list[str]]:
    """Record the labels of every :func:`workbench.style.sections.section_features` call (the sections measured)."""
    import workbench.style.sections as sections_mod

    measured: list[list[str]] = []
    real = sections_mod.section_features

    def counting(y, sr, analysis, sections):
        measured.append([s[0] for s in sections])
        return real(y, sr, analysis, sections)

    monkeypatch.setattr(sections_mod, "section_features", counting)
    return measured


def test_a_library_tracks_section_features_are_stored_until_its_labels_change(sectioned_lib, monkeypatch):
    """A second gap analysis of a labelled library track measures no section again; a label edit does."""
    from workbench.labels import Labels
    from workbench.style import build_profile, gap_analysis

    lib, _ = sectioned_lib
    p = build_profile(lib, "sec_stored", lib.tracks(), source="test", progress=False)
    track = lib.tracks()[1]
    measured = count_section_features(monkeypatch)
    labels = Labels(lib)
    brk = next(r for r in labels.for_track(track) if r.label == "break")
    labels.update(brk.id, label="intro")
    try:
        first = gap_analysis(lib, p, track)
        assert measured == [["intro", "drop"]]  # the edited labels are measured once ...
        second = gap_analysis(lib, p, track)
        assert measured == [["intro", "drop"]]  # ... and stored: the second call measures nothing
        assert second["sections"] == first["sections"] and [s["label"] for s in first["sections"]] == ["intro", "drop"]
        assert not first["sections"][0]["compared"] and first["sections"][1]["compared"]
    finally:
        labels.update(brk.id, label="break")
    back = gap_analysis(lib, p, track)
    assert measured == [["intro", "drop"], ["break", "drop"]]  # the label changed back: measured again
    assert [s["label"] for s in back["sections"]] == ["break", "drop"] and all(s["compared"] for s in back["sections"])
    kinds = lib.conn.execute("SELECT COUNT(*) FROM analyses WHERE track_id = ? AND kind = 'style_sections'",
                             (track.id,)).fetchone()[0]
    assert kinds == 1  # only the latest sections are kept
