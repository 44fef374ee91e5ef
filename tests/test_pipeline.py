"""The main job on a small demo library: runs, reports, and a second run reuses everything."""

from __future__ import annotations

import pytest

from workbench.errors import ParameterError
from workbench.pipeline import run_demo


def test_demo_runs_and_resumes(tmp_path):
    folder, db = tmp_path / "demo", tmp_path / "w.db"
    first = run_demo(demo_folder=folder, db_path=db, n_tracks=6, seed=3, progress=False)
    assert first.synthesized and first.scan.counts()["added"] == 6
    assert sorted(first.styles) == ["dnb", "downtempo", "house", "progressive", "techno", "trance"]
    assert set(first.accuracy) == {"BPM within 2%", "key exact"}
    assert "6 analysed" in first.analysis
    text = first.summary()
    assert str(folder) in text and str(db) in text and "vs truth" in text

    second = run_demo(demo_folder=folder, db_path=db, n_tracks=6, seed=3, progress=False)
    assert not second.synthesized
    assert second.scan.counts()["unchanged"] == 6
    assert "6 reused" in second.analysis
    assert second.example == first.example and "similar vibe" in second.example[1]
    assert second.accuracy == first.accuracy


def test_interrupted_synthesis_is_redone(tmp_path):
    folder = tmp_path / "demo"
    run_demo(demo_folder=folder, db_path=tmp_path / "w.db", n_tracks=2, seed=0, progress=False)
    next(folder.glob("*.flac")).unlink()  # as if the run had died mid-way
    again = run_demo(demo_folder=folder, db_path=tmp_path / "w.db", n_tracks=2, seed=0, progress=False)
    assert again.synthesized and again.scan.counts()["failed"] == 0


def test_bad_track_count(tmp_path):
    with pytest.raises(ParameterError, match="n_tracks must be an int >= 1; got 0"):
        run_demo(demo_folder=tmp_path, db_path=tmp_path / "w.db", n_tracks=0)
