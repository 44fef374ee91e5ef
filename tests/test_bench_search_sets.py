"""The search benchmark's library generator: the same library whatever the block size, exact search on it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from test_search_sets import same

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_search_sets.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_search_sets", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", ["clustered", "tight", "uniform"])
def test_block_size_does_not_change_the_library(bench, kind):
    a = bench.make_library(kind, tracks=300, dim=16, groups=7, seed=3, block=7)
    b = bench.make_library(kind, tracks=300, dim=16, groups=7, seed=3, block=10**6)
    assert np.array_equal(a._windows, b._windows) and np.array_equal(a._offsets, b._offsets)
    assert np.array_equal(a._bpm, b._bpm, equal_nan=True) and a.baseline == b.baseline
    lengths = np.diff(a._offsets)
    assert lengths.min() >= 8 and lengths.max() <= 24


def test_clustered_windows_stay_near_their_own_track(bench):
    index = bench.make_library("clustered", tracks=200, dim=64, groups=5, seed=1, block=9)
    centroid = np.add.reduceat(index._windows, index._offsets[:-1], axis=0)
    centroid /= np.linalg.norm(centroid, axis=1, keepdims=True)
    own = np.repeat(np.arange(len(index)), np.diff(index._offsets))
    cos = index._windows @ centroid.T
    assert (cos.argmax(axis=1) == own).mean() > 0.99  # a block boundary that shifted windows would fail this


@pytest.mark.parametrize("kind", ["clustered", "uniform"])
def test_pruned_equals_the_scan_on_the_benchmark_libraries_and_the_cache_round_trips(bench, kind, tmp_path):
    index = bench.make_library(kind, tracks=900, dim=48, groups=12, seed=2, block=100, cache=str(tmp_path))
    again = bench.make_library(kind, tracks=900, dim=48, groups=12, seed=2, cache=str(tmp_path))  # loaded
    assert np.array_equal(again._windows, index._windows) and again.baseline == index.baseline
    for weights in (None, {"vibe": 1, "tempo": 0, "key": 0, "energy": 0}):
        for q in index.ids[::151]:
            exact = index.similar(int(q), k=10, weights=weights, method="exact")
            assert same(again.similar(int(q), k=10, weights=weights, method="pruned"), exact)
