"""Embedding extraction on a local Dask cluster gives what the in-process path gives."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from workbench.embed.batch import cache_for, embed_library
from workbench.embed.distributed import backbone_spec, embed_library_distributed
from workbench.errors import ParameterError
from workbench.library import Library

pytest.importorskip("dask.distributed", reason="the 'distributed' extra is not installed")


def test_local_cluster_matches_in_process(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        sf.write(folder / f"t{i}.flac", (0.1 * rng.standard_normal(22050 * 3)).astype(np.float32), 22050)
    sf.write(folder / "short.wav", np.zeros(100, dtype=np.float32) + 0.1, 22050)
    with Library(tmp_path / "a.db") as lib_a, Library(tmp_path / "b" / "b.db") as lib_b:
        lib_a.scan(folder, progress=False)
        lib_b.scan(folder, progress=False)
        local = embed_library(lib_a, progress=False)
        dist = embed_library_distributed(lib_b, n_workers=2, progress=False)
        assert sorted(dist.embedded) == sorted(local.embedded) and len(dist.failed) == 1
        assert len(dist.worker_builds) <= 2 and all(n == 1 for n in dist.worker_builds.values())  # once per worker
        for t in lib_a.tracks():
            hit_a = cache_for(lib_a).get(t.content_hash)
            if hit_a is None:
                continue
            hit_b = cache_for(lib_b).get(t.content_hash)
            np.testing.assert_allclose(hit_b[0], hit_a[0], rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(hit_b[1], hit_a[1])
        again = embed_library_distributed(lib_b, n_workers=2, progress=False)
        assert len(again.cached) == 4 and not again.embedded  # nothing recomputed, no cluster started


def test_bad_arguments(tmp_path):
    with pytest.raises(ParameterError, match="backbone must be a FeatureFrontend or an OpenL3Backbone"):
        backbone_spec(object())  # type: ignore[arg-type]
    with Library(tmp_path / "w.db") as lib:
        with pytest.raises(ParameterError, match="n_workers must be an int >= 1; got 0"):
            embed_library_distributed(lib, n_workers=0)


def test_openl3_on_the_cluster(tmp_path):
    from test_openl3 import WEIGHTS

    if not WEIGHTS.is_file():
        pytest.skip("OpenL3 reference weights (shared test data) not present")
    from workbench.embed.openl3 import OpenL3, OpenL3Backbone

    folder = tmp_path / "m"
    folder.mkdir()
    sf.write(folder / "a.flac", (0.1 * np.random.default_rng(1).standard_normal(44100 * 2)).astype(np.float32), 44100)
    backbone = OpenL3Backbone(OpenL3.from_weights(WEIGHTS, embedding_size=512), hop_s=0.5)
    with Library(tmp_path / "w.db") as lib:
        lib.scan(folder, progress=False)
        track = lib.tracks()[0]
        expected, _ = backbone.embed(sf.read(track.path, dtype="float32")[0], sr=44100)
        summary = embed_library_distributed(lib, backbone=backbone, n_workers=1, progress=False)
        assert summary.embedded == [track.id]
        got, ts = cache_for(lib, backbone).get(track.content_hash)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)
