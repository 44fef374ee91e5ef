"""Pruned exact search of the window-set index: identical to brute force, bounds that bound, saved bounds."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.similarity import sets_search
from workbench.similarity.sets import SetQuery, TrackSetIndex
from workbench.similarity.sets_search import SetBounds, _products, gather, raw_vibe
from workbench.similarity.sets_store import index_from_arrays

CAMELOT = [f"{i}{c}" for i in range(1, 13) for c in "AB"]


def make_index(*, n: int = 1500, dim: int = 32, groups: int = 40, seed: int = 0, spread: float = 0.6,
               duplicates: bool = False, no_key: float = 0.05) -> TrackSetIndex:
    """Seeded clustered window sets with some no-beat and no-key tracks (and, optionally, exact duplicates: ties)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 13, size=n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    group = rng.integers(0, groups, size=n)
    centres = rng.normal(size=(groups, dim))
    track = centres[group] + spread * rng.normal(size=(n, dim))
    windows = np.repeat(track, counts, axis=0) + 0.4 * spread * rng.normal(size=(int(offsets[-1]), dim))
    if duplicates:  # tracks 1..10 copy track 0 (windows and metadata): same scores, order by id
        for t in range(1, 11):
            counts[t] = counts[0]
        offsets = np.concatenate([[0], np.cumsum(counts)])
        windows = np.concatenate([windows[: counts[0]] if t <= 10 else
                                  np.repeat(track[t:t + 1], counts[t], axis=0) for t in range(n)])
    bpm = rng.uniform(90, 150, size=n)
    bpm[rng.random(n) < 0.1] = np.nan
    key, energy = rng.integers(0, 24, size=n), rng.integers(1, 11, size=n)
    key[np.random.default_rng(seed + 1).random(n) < no_key] = -1  # drums only: no key (own stream: the rest as before)
    if duplicates:
        bpm[1:11], key[1:11], energy[1:11] = bpm[0], key[0], energy[0]
    index = index_from_arrays(TrackSetIndex, np.arange(100, 100 + n), windows, offsets, bpm=bpm, key=key,
                              energy=energy, wweights=rng.uniform(0.5, 3.0, size=int(offsets[-1])))
    index.calibrate(max_queries=40)
    return index


def same(a: list, b: list) -> bool:
    return [(m.id, m.score, m.vibe, m.explanation) for m in a] == [(m.id, m.score, m.vibe, m.explanation) for m in b]


@pytest.fixture(scope="module")
def index():
    return make_index()


@pytest.mark.parametrize("cones", [1, 2, 3])
@pytest.mark.parametrize("weights", [None, {"vibe": 1, "tempo": 0, "key": 0, "energy": 0},
                                     {"vibe": 0.2, "tempo": 1, "key": 1, "energy": 1}])
def test_pruned_equals_brute_force_for_id_queries(index, cones, weights):
    index.bounds(cones=cones)
    for q in index.ids[::97]:
        for k in (1, 7, 40):
            exact = index.similar(int(q), k=k, weights=weights, method="exact")
            assert same(index.similar(int(q), k=k, weights=weights, method="pruned"), exact)


def test_pruned_scores_few_tracks_on_clustered_data():
    index = make_index(n=3000, spread=0.3, seed=3)
    index.bounds(cones=1)
    scored = []
    for q in index.ids[::301]:
        index.similar(int(q), k=10, weights={"vibe": 1, "tempo": 0, "key": 0, "energy": 0}, method="pruned")
        scored.append(index.last_search.scored)
    assert np.median(scored) < 0.2 * len(index)  # pruning does happen (not brute force in disguise)


def test_pruned_equals_brute_force_for_audio_and_vector_queries_min_score_and_self(index):
    rng = np.random.default_rng(7)
    w0, _ = index.windows_of(int(index.ids[5]))
    queries = [SetQuery(w0[:2] + 0.05 * rng.normal(size=w0[:2].shape), 120.0, "8A", 6),
               SetQuery(rng.normal(size=(5, index.dim)), None, "3B", 2, symmetric=True),
               rng.normal(size=index.dim)]
    for q in queries:
        for min_score in (None, 0.3):
            assert same(index.similar(q, k=12, min_score=min_score, method="pruned"),
                        index.similar(q, k=12, min_score=min_score, method="exact"))
    own = int(index.ids[3])
    assert same(index.similar(own, k=5, exclude_self=False, method="pruned"),
                index.similar(own, k=5, exclude_self=False, method="exact"))
    assert index.similar(own, k=1, exclude_self=False, method="pruned")[0].id == own


def test_ties_are_broken_by_id_as_in_brute_force():
    index = make_index(n=600, duplicates=True, seed=2)
    got = index.similar(int(index.ids[0]), k=10, method="pruned")
    assert same(got, index.similar(int(index.ids[0]), k=10, method="exact"))
    assert [m.id for m in got[:10]] == list(range(101, 111))  # the ten copies, tied, in id order


def test_cone_bounds_bound_every_track(index):
    rng = np.random.default_rng(1)
    for cones in (1, 2, 4):
        b = SetBounds.build(index._ids, index._windows, index._wweights, index._offsets, cones=cones)
        for _ in range(5):
            q = rng.normal(size=(4, index.dim)).astype(np.float32)
            q /= np.linalg.norm(q, axis=1, keepdims=True)
            qw = rng.uniform(0.5, 2, size=4)
            for symmetric in (False, True):
                exact = raw_vibe(q, qw, index._windows, index._wweights, index._offsets, symmetric=symmetric)
                assert (b.vibe_upper(q, qw, symmetric=symmetric) >= exact).all()


def test_products_do_not_depend_on_which_windows_are_in_the_call():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(6, 48)).astype(np.float32)
    w = rng.normal(size=(5000, 48)).astype(np.float32)
    full = _products(q, w)
    for size in (1, 3, 17, 200):
        rows = rng.choice(5000, size=size, replace=False)
        assert np.array_equal(_products(q, w[rows]), full[:, rows])


def test_pruned_equals_the_scan_where_blas_rounds_by_position(index, monkeypatch):
    # OpenBLAS's AVX2 kernels round a product by where its window sits in the matrix: the scan and the
    # gathered tracks then differ in the last bits. Simulated here on any CPU (a few float32 ulps).
    def products(q, windows):
        return q @ windows.T + np.float32(2e-7) * (np.arange(windows.shape[0]) % 3 - 1).astype(np.float32)

    monkeypatch.setattr(sets_search, "_products", products)
    for q in index.ids[::97]:
        for k in (1, 7, 40):
            assert same(index.similar(int(q), k=k, method="pruned"), index.similar(int(q), k=k, method="exact"))


def test_stable_raw_vibe_does_not_depend_on_the_other_tracks(index):
    rng = np.random.default_rng(4)
    q, qw = index.windows_of(int(index.ids[8]))
    full = raw_vibe(q, qw, index._windows, index._wweights, index._offsets, symmetric=True, stable=True)
    rows = rng.choice(len(index), size=37, replace=False)
    part = raw_vibe(q, qw, *gather(index._windows, index._wweights, index._offsets, rows), symmetric=True,
                    stable=True)
    assert np.array_equal(part, full[rows])
    blas = raw_vibe(q, qw, index._windows, index._wweights, index._offsets, symmetric=True)
    assert np.abs(full - blas).max() < 1e-5


def test_bounds_follow_the_index_and_are_refused_when_stale(index, tmp_path):
    small = make_index(n=200, seed=4)
    b = small.bounds()
    b.save(tmp_path)
    loaded = SetBounds.load(tmp_path)
    assert loaded is not None and loaded.matches(small.ids, small._windows.shape[0])
    small.remove([int(small.ids[0])])
    assert not small.use_bounds(loaded)
    assert same(small.similar(int(small.ids[1]), k=5, method="pruned"),
                small.similar(int(small.ids[1]), k=5, method="exact"))
    assert SetBounds.load(tmp_path / "none") is None


def test_bad_method_cones_and_arrays_are_refused(index):
    with pytest.raises(ParameterError, match="method must be one of"):
        index.similar(int(index.ids[0]), method="hnsw")
    with pytest.raises(ParameterError, match="cones must be an integer >= 1"):
        index.bounds(cones=0)
    with pytest.raises(ParameterError, match="offsets must be"):
        index_from_arrays(TrackSetIndex, np.arange(2), np.ones((3, 4)), np.array([0, 2]), bpm=np.ones(2),
                          key=np.zeros(2, int), energy=np.ones(2, int))
    with pytest.raises(ParameterError, match="ids must be distinct"):
        index_from_arrays(TrackSetIndex, np.array([1, 1]), np.ones((3, 4)), np.array([0, 1, 3]), bpm=np.ones(2),
                          key=np.zeros(2, int), energy=np.ones(2, int))
    with pytest.raises(ParameterError, match="key must be in 0..23"):
        index_from_arrays(TrackSetIndex, np.arange(2), np.ones((3, 4)), np.array([0, 1, 3]), bpm=np.ones(2),
                          key=np.array([0, 30]), energy=np.ones(2, int))
    with pytest.raises(ParameterError, match="bpm must have shape"):
        index_from_arrays(TrackSetIndex, np.arange(2), np.ones((3, 4)), np.array([0, 1, 3]), bpm=np.ones(3),
                          key=np.zeros(2, int), energy=np.ones(2, int))
    with pytest.raises(ParameterError, match="wweights must be 3 positive"):
        index_from_arrays(TrackSetIndex, np.arange(2), np.ones((3, 4)), np.array([0, 1, 3]), bpm=np.ones(2),
                          key=np.zeros(2, int), energy=np.ones(2, int), wweights=np.zeros(3))


def test_index_from_arrays_equals_adding_track_by_track():
    rng = np.random.default_rng(5)
    a = TrackSetIndex(8)
    sets = [rng.normal(size=(int(c), 8)) for c in rng.integers(1, 5, size=20)]
    for i, s in enumerate(sets):
        a.add(i, s, bpm=None if i == 3 else 100.0 + i, camelot=CAMELOT[i], energy=1 + i % 10)
    from workbench.similarity.scores import camelot_index

    b = index_from_arrays(TrackSetIndex, np.arange(20), np.concatenate(sets),
                          np.concatenate([[0], np.cumsum([len(s) for s in sets])]),
                          bpm=np.array([np.nan if i == 3 else 100.0 + i for i in range(20)]),
                          key=camelot_index(np.array(CAMELOT[:20], dtype=object)), energy=1 + np.arange(20) % 10)
    assert same(a.similar(4, k=6), b.similar(4, k=6, method="pruned"))


def test_a_track_with_no_key_is_matched_without_the_key_term():
    """Drums only (no key): the key term is left out of its scores, and its explanation says so."""
    rng = np.random.default_rng(3)
    index = TrackSetIndex(16)
    base = rng.normal(size=(4, 16))
    for tid, camelot in ((1, "8A"), (2, "8A"), (3, None), (4, "3B")):
        index.add(tid, base + 0.3 * rng.normal(size=(4, 16)), bpm=124.0, camelot=camelot, energy=6)
    w = {"vibe": 0.5, "tempo": 0.2, "key": 0.2, "energy": 0.1}
    got = {m.id: m for m in index.similar(1, k=3, weights=w, unknown="drop")}  # the default
    drums = got[3]
    assert drums.key is None and drums.key_to is None and "key unknown (drums only)" in drums.explanation
    assert "key:" not in drums.explanation
    # the weighted mean of the known terms only (tempo 1, energy 1): not a key score of 0, not a made-up one
    assert drums.score == pytest.approx((0.5 * drums.vibe + 0.2 + 0.1) / 0.8, abs=1e-6)
    # unknown="expected" (an option, session 22): not 0, but the mean key term of the keyed tracks (2: 1.0, 4: 0.2)
    now = {m.id: m for m in index.similar(1, k=3, weights=w, unknown="expected")}[3]
    assert now.key is None and now.key_assumed == pytest.approx(0.6)
    assert now.score == pytest.approx(0.5 * now.vibe + 0.2 + 0.2 * 0.6 + 0.1, abs=1e-6)
    assert "key unknown (drums only): counted as 60%, the library's average" in now.explanation
    assert got[2].key == 1.0 and "key: 8A (same)" in got[2].explanation
    # the drum track as the query: tempo and energy still count, no key term anywhere
    # and the words name whose key is missing: the matches' keys are still shown
    for m in index.similar(3, k=3, weights=w):
        assert m.key is None and m.key_from is None and m.tempo == 1.0
        assert f"key: {m.key_to} (query drums only)" in m.explanation and "unknown" not in m.explanation
    index.add(5, base + 0.3 * rng.normal(size=(4, 16)), bpm=124.0, camelot=None, energy=6)
    both = {m.id: m for m in index.similar(3, k=4, weights=w)}[5]
    assert both.key_to is None and "key unknown (both drums only)" in both.explanation
    q = SetQuery(base, bpm=124.0, camelot=None, energy=6)
    assert all(m.key is None for m in index.similar(q, k=3, weights=w))
    assert same(index.similar(q, k=3, weights=w, method="pruned"), index.similar(q, k=3, weights=w, method="exact"))

