"""The demo self-training benchmark's pool: the scored tracks never in it, no truth read, ids apart from the demo's."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import bench_module

from workbench.train.sections.features import TrackFrames


@pytest.fixture(scope="module")
def bench():
    return bench_module("bench_sections_selftrain_demo")


def _track(i: int) -> TrackFrames:
    n = 4
    return TrackFrames(track_id=i, name=f"style_{i:02d}", duration_s=8.0, features=np.zeros((n, 3), np.float32),
                       times_s=np.arange(n) * 2.0 + 1.0, beats=np.arange(16) * 0.5, downbeats=np.arange(4) * 2.0,
                       sections=[{"start_s": 0.0, "end_s": 8.0, "label": "intro"}], content_hash=f"h{i}",
                       rejected=[{"start_s": 0.0, "end_s": 2.0, "label": "drop"}])


def test_other_pool_leaves_out_the_scored_tracks_and_their_truth(bench, monkeypatch, tmp_path):
    import workbench.train.sections.external as external

    data = SimpleNamespace(tracks=[_track(i) for i in (1, 2, 3)])
    seen = {}

    def fake(folder, *, library_dir, progress):
        seen.update(folder=folder, library_dir=library_dir)
        return data, {}

    monkeypatch.setattr(external, "folder_section_data", fake)
    pool = bench.other_pool(tmp_path, {"h2"})
    assert seen == {"folder": tmp_path / "audio", "library_dir": tmp_path}
    assert [t.content_hash for t in pool] == ["h1", "h3"]
    assert all(t.sections == [] and t.rejected == [] for t in pool)
    assert [t.track_id for t in pool] == [1 + bench.POOL_ID_OFFSET, 3 + bench.POOL_ID_OFFSET]
    assert data.tracks[0].sections  # the set read is not changed
