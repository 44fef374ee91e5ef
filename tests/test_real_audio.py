"""Every file of the shared real-music folder loads and scans (skipped where it is absent)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from workbench import audio
from workbench.library import Library

pytestmark = pytest.mark.real_audio


def _manifest(real_audio_dir):
    with open(real_audio_dir / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_real_file_loads(real_audio_dir):
    rows = _manifest(real_audio_dir)
    assert len(rows) >= 10
    formats = set()
    for row in rows:
        path = real_audio_dir / row["path"]
        y, sr = audio.load(path, mono=False)
        formats.add(row["format"])
        assert sr == int(row["samplerate"]), row["path"]
        assert y.shape[0] == int(row["channels"]), row["path"]
        assert y.dtype == np.float32 and np.isfinite(y).all()
        assert y.shape[1] / sr == pytest.approx(float(row["duration_s"]), abs=0.1), row["path"]
        # decoded peaks are kept as they are, above 1.0 included
        assert float(np.abs(y).max()) == pytest.approx(float(row["peak"]), rel=0.02), row["path"]
    assert {"MP3/MPEG_LAYER_III", "OGG/VORBIS", "OGG/OPUS", "FLAC/PCM_16"} <= formats


def test_real_file_resamples_to_the_openl3_rate(real_audio_dir):
    row = next(r for r in _manifest(real_audio_dir) if r["path"].endswith(".mp3"))
    y, sr = audio.load(real_audio_dir / row["path"], sr=48000)
    assert sr == 48000
    assert y.size / sr == pytest.approx(float(row["duration_s"]), abs=0.1)


def test_real_folder_scans(real_audio_dir, tmp_path):
    with Library(tmp_path / "w.db") as lib:
        summary = lib.scan(real_audio_dir, progress=False)
        assert summary.failed == []
        assert len(lib) == len(_manifest(real_audio_dir))
        assert lib.scan(real_audio_dir, progress=False).counts()["unchanged"] == len(lib)


def test_real_files_analyse_to_plausible_values(real_audio_dir):
    from workbench.analysis import analyze
    from workbench.camelot import from_camelot

    seen_beat = 0
    for row in _manifest(real_audio_dir):
        y, sr = audio.load(real_audio_dir / row["path"], mono=False)
        a = analyze(y, sr=sr)
        duration = float(row["duration_s"])
        assert a.duration_s == pytest.approx(duration, abs=0.1), row["path"]
        if a.bpm is not None:
            seen_beat += 1
            assert 70 <= a.bpm <= 185, row["path"]
            beats = np.asarray(a.beats)
            assert (np.diff(beats) > 0).all() and 0 <= beats[0] and beats[-1] <= duration, row["path"]
            assert set(a.downbeats) <= set(a.beats)
        from_camelot(a.camelot)  # a valid code
        assert 1 / 24 <= a.key_confidence <= 1
        assert 1 <= a.energy <= 10
        assert -45 < a.loudness_lufs < -3, row["path"]
    assert seen_beat >= 12  # most of these have a steady beat


@pytest.mark.parametrize("path", ["loops/loop_tabla.flac", "loops/sorohanro_-_solo-trumpet-06.hq.ogg"])
def test_real_loops_with_a_stated_tempo_read_90(real_audio_dir, path):
    # the tabla loop is 16 beats in 10.67 s; the trumpet loop's title says 90 bpm (8 beats in 5.33 s)
    from workbench.analysis import analyze

    y, sr = audio.load(real_audio_dir / path, mono=False)
    a = analyze(y, sr=sr)
    assert a.bpm == pytest.approx(90.0, rel=0.02), path
