"""QA flags: every planted defect is caught with its measured value; clean tracks raise none.

The test set is made here: a clean stereo groove, and copies with one defect each (a silence
inside, clipping, a DC offset, a duplicated channel, an inverted channel, a low-bitrate-like
transcode, a re-encoded duplicate), plus demo-synthesizer tracks that must stay clean.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from workbench.library import Library
from workbench.qa import excluded_track_ids, keep_track, qa_library, qa_report, unkeep_track
from workbench.qa.fingerprint import bit_error_rate, fingerprint
from workbench.qa.flags import RULE_NAMES, evaluate_flags
from workbench.qa.measures import measure_audio

SR = 44100


def groove(seed: int, *, duration_s: float = 24.0, bpm: float = 124.0) -> np.ndarray:
    """A clean stereo groove (2, n): kick, noise hats (full band), a chord pad wider in stereo."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * SR)
    t = np.arange(n) / SR
    out = np.zeros((2, n))
    beat = 60.0 / bpm
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    for k in range(int(duration_s / beat)):
        a = int(k * beat * SR)
        m = min(n - a, int(0.25 * SR))
        tt = np.arange(m) / SR
        out[:, a:a + m] += 0.6 * np.sin(2 * np.pi * 55 * tt * (1 + 2 * np.exp(-tt * 30))) * np.exp(-tt * 12)
        h = int((k + 0.5) * beat * SR)
        hm = min(n - h, int(0.05 * SR))
        if hm > 0:
            out[:, h:h + hm] += 0.15 * rng.normal(size=(2, hm)) * np.exp(-np.arange(hm) / SR * 60)
    for ratio, pan in ((1.0, 0.3), (1.25 if seed % 2 else 1.2, 0.7), (1.5, 0.5)):
        phase = rng.uniform(0, 2 * np.pi)
        tone = 0.08 * np.sin(2 * np.pi * root * ratio * t + phase)
        out[0] += (1 - pan) * tone
        out[1] += pan * np.sin(2 * np.pi * root * ratio * 1.003 * t + phase) * 0.08
    out += 0.002 * rng.normal(size=out.shape)  # room noise: no digital silence
    return (out / np.abs(out).max() * 0.7).astype(np.float32)


def _defects(clean: np.ndarray) -> dict[str, np.ndarray]:
    import librosa

    silence = clean.copy()
    silence[:, 8 * SR:13 * SR] = 0.0
    clipped = np.clip(clean * 4.0, -1.0, 1.0)
    dc = clean * 0.8 + 0.05
    mono = np.stack([clean.mean(axis=0)] * 2)
    inverted = np.stack([clean[0], -clean[0] * 0.9 + 0.1 * clean[1]])
    down = librosa.resample(clean, orig_sr=SR, target_sr=22050)
    transcode = librosa.resample(down, orig_sr=22050, target_sr=SR)[:, : clean.shape[1]]
    return {"silence": silence, "clipping": clipped, "dc_offset": dc, "near_mono": mono,
            "phase_cancelling": inverted, "low_bandwidth": transcode}


EXPECTED = {"silence": "long_silence", "clipping": "clipping", "dc_offset": "dc_offset", "near_mono": "near_mono",
            "phase_cancelling": "phase_cancelling", "low_bandwidth": "low_bandwidth"}


@pytest.fixture(scope="module")
def qa_lib(tmp_path_factory):
    """A scanned library: 3 clean grooves, one copy per defect, a re-encoded duplicate; QA run."""
    root = tmp_path_factory.mktemp("qa")
    music = root / "music"
    music.mkdir()
    clean = [groove(s) for s in range(3)]
    for i, y in enumerate(clean):
        sf.write(music / f"clean_{i}.flac", y.T, SR)
    for name, y in _defects(groove(10)).items():
        sf.write(music / f"defect_{name}.flac", y.T, SR, subtype="PCM_16")
    # the same recording as clean_0: Ogg Vorbis, 3 dB quieter, lead-in trimmed by 1.3 s
    sf.write(music / "zz_copy_of_clean_0.ogg", (clean[0][:, int(1.3 * SR):] * 0.7).T, SR, format="OGG",
             subtype="VORBIS")
    lib = Library(root / "data" / "workbench.db")
    lib.scan(music, progress=False)
    summary = qa_library(lib, progress=False)
    return lib, summary


def _by_name(lib):
    return {r.path.rsplit("/", 1)[-1]: r for r in qa_report(lib)}


def test_every_planted_defect_is_flagged_with_its_value(qa_lib):
    lib, summary = qa_lib
    assert not summary.failed and len(summary.measured) == 10
    report = _by_name(lib)
    for defect, flag in EXPECTED.items():
        flags = {f.name: f for f in report[f"defect_{defect}.flac"].flags}
        assert flag in flags, (defect, [str(f) for f in flags.values()])
        f = flags[flag]
        assert f.value != f.threshold and str(f.threshold) in json.dumps(f.to_dict())


def test_clean_tracks_raise_no_flag(qa_lib):
    lib, _ = qa_lib
    report = _by_name(lib)
    for i in (1, 2):
        assert report[f"clean_{i}.flac"].flags == (), [str(f) for f in report[f"clean_{i}.flac"].flags]


def test_duplicate_flags_both_copies_and_excludes_only_the_later(qa_lib):
    lib, _ = qa_lib
    report = _by_name(lib)
    first, copy = report["clean_0.flac"], report["zz_copy_of_clean_0.ogg"]
    dup_first = [f for f in first.flags if f.name == "duplicate"]
    dup_copy = [f for f in copy.flags if f.name == "duplicate"]
    assert dup_first and dup_copy
    assert dup_copy[0].other_track_id == first.track_id and dup_first[0].other_track_id == copy.track_id
    assert dup_copy[0].excludes and not dup_first[0].excludes
    assert copy.excluded and not first.excluded and first.needs_review


def test_training_leaves_flagged_tracks_out_unless_kept(qa_lib):
    from workbench.train.classes import resolve_classes

    lib, _ = qa_lib
    report = _by_name(lib)
    clipped = report["defect_clipping.flac"].track_id
    assert clipped in excluded_track_ids(lib)
    choice = resolve_classes(lib, lib.tracks(), "self")
    assert clipped in choice.qa_excluded and clipped not in choice.classes
    assert "left out by QA flags" in choice.summary() and clipped in choice.to_dict()["qa_excluded"]
    assert clipped in resolve_classes(lib, lib.tracks(), "self", keep_flagged=True).classes
    keep_track(lib, clipped, note="I like it loud")
    try:
        assert clipped not in excluded_track_ids(lib)
        assert clipped in resolve_classes(lib, lib.tracks(), "self").classes
        assert not _by_name(lib)["defect_clipping.flac"].needs_review
    finally:
        assert unkeep_track(lib, clipped) and not unkeep_track(lib, clipped)
    assert clipped in excluded_track_ids(lib)


def test_rerun_reuses_stored_measures_and_bad_file_is_reported(qa_lib, tmp_path):
    lib, _ = qa_lib
    again = qa_library(lib, progress=False)
    assert not again.measured and len(again.reused) == 10
    music = tmp_path / "m"
    music.mkdir()
    sf.write(music / "ok.flac", groove(3, duration_s=8).T, SR)
    lib2 = Library(tmp_path / "data" / "w.db")
    lib2.scan(music, progress=False)
    (music / "ok.flac").write_bytes(b"not audio any more")
    summary = qa_library(lib2, progress=False)
    assert summary.failed and "ok.flac" in summary.failed[0][0] and not summary.measured


def test_analysis_flags_read_the_stored_analysis(qa_lib):
    """A track analysed with no beat gets `no_beat`; before analysis it is only 'not analysed'."""
    from workbench.analysis import analyze_track

    lib, _ = qa_lib
    t = next(t for t in lib.tracks() if t.path.endswith("defect_silence.flac"))
    assert not _by_name(lib)["defect_silence.flac"].analysed
    analyze_track(lib, t)
    r = _by_name(lib)["defect_silence.flac"]
    assert r.analysed
    names = {f.name for f in r.flags}
    assert "long_silence" in names and names <= set(RULE_NAMES)


def test_fingerprint_separates_recordings():
    a, b = groove(0, duration_s=20), groove(1, duration_s=20)
    fa, fb = fingerprint(a.mean(axis=0), sr=SR), fingerprint(b.mean(axis=0), sr=SR)
    assert bit_error_rate(fa, fa) == 0.0
    assert bit_error_rate(fa, fingerprint(0.5 * a.mean(axis=0), sr=SR)) < 0.05
    assert bit_error_rate(fa, fb) > 0.4


def test_demo_tracks_are_clean():
    from workbench.demo import synthesize_track

    for style, seed in (("techno", 1), ("downtempo", 2)):
        y, _truth = synthesize_track(style, seed=seed, duration_s=40)
        assert y.ndim == 2 and y.shape[1] == 2  # (n, channels), as soundfile writes it
        flags = evaluate_flags(measure_audio(y.T, sr=44100).to_dict())
        assert flags == [], (style, [str(f) for f in flags])


def test_cli_lists_flags_and_keeps(qa_lib, capsys):
    from workbench.cli import main

    lib, _ = qa_lib
    db = str(lib.path)
    assert main(["--db", db, "qa", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["flagged"] >= 7 and {r["name"] for r in doc["rules"]} == set(RULE_NAMES)
    names = {t["path"].rsplit("/", 1)[-1] for t in doc["tracks"]}
    assert "defect_clipping.flac" in names and "clean_1.flac" not in names
    tid = next(t["track_id"] for t in doc["tracks"] if t["path"].endswith("defect_dc_offset.flac"))
    assert main(["--db", db, "qa", "keep", str(tid), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"kept": [tid]}
    assert main(["--db", db, "qa", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert next(t for t in doc["tracks"] if t["track_id"] == tid)["kept"]
    assert main(["--db", db, "qa", "unkeep", str(tid)]) == 0
    assert "no longer kept" in capsys.readouterr().out


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="sr"):
        measure_audio(np.zeros(100, dtype=np.float32), sr=0)
    with pytest.raises(ValueError, match="library must be a workbench Library"):
        qa_library("not a library")  # type: ignore[arg-type]
