"""The bfloat16 first pass of pruned window-set search: bounds that bound, results identical to the full scan."""

from __future__ import annotations

import numpy as np
import pytest
from test_search_sets import make_index, same

from workbench.similarity import sets_lowp, sets_search
from workbench.similarity.sets import TrackSetIndex
from workbench.similarity.sets_lowp import LowPrecisionBounds
from workbench.similarity.sets_search import raw_vibe
from workbench.similarity.sets_store import index_from_arrays

pytest.importorskip("torch")
if not sets_lowp.bf16_kernel_ok():  # pragma: no cover - a torch whose bf16 product is not fp32-accumulated
    pytest.skip("this torch's bf16 product does not stay within the bound: the pass is off", allow_module_level=True)


def uniform_index(*, n: int = 1200, dim: int = 64, seed: int = 0) -> TrackSetIndex:
    """Unclustered window sets (every window random): the cones bound nothing."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 13, size=n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    windows = rng.normal(size=(int(offsets[-1]), dim))
    bpm = rng.uniform(90, 150, size=n)
    bpm[rng.random(n) < 0.1] = np.nan
    index = index_from_arrays(TrackSetIndex, np.arange(1, n + 1), windows, offsets, bpm=bpm,
                              key=rng.integers(0, 24, size=n), energy=rng.integers(1, 11, size=n),
                              wweights=rng.uniform(0.5, 3.0, size=int(offsets[-1])))
    index.calibrate(max_queries=40)
    return index


@pytest.fixture(scope="module")
def uniform():
    return uniform_index()


@pytest.mark.parametrize("kind", ["uniform", "clustered", "duplicates"])
def test_bf16_bounds_bound_every_track(uniform, kind):
    index = {"uniform": uniform, "clustered": make_index(n=800, seed=4),
             "duplicates": make_index(n=300, duplicates=True, seed=2)}[kind]
    lp = LowPrecisionBounds.build(index._ids, index._windows, index._wweights, index._offsets)
    rng = np.random.default_rng(1)
    gaps = []
    for t in range(6):
        # queries near library windows (the hard case: products close to 1) and random ones
        q = index._windows[rng.choice(index._windows.shape[0], 5)] if t % 2 else rng.normal(size=(5, index.dim))
        q = (q + 0.01 * rng.normal(size=q.shape)).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        qw = rng.uniform(0.5, 2, size=5)
        for symmetric in (False, True):
            exact = raw_vibe(q, qw, index._windows, index._wweights, index._offsets, symmetric=symmetric)
            upper = lp.vibe_upper(q, qw, symmetric=symmetric)
            assert (upper >= exact).all()
            gaps.append(float(np.max(upper - exact)))
    assert max(gaps) < 0.03  # tight: a bound of ~1 would prune nothing


def test_uniform_data_skips_the_cones_and_prunes_with_the_bf16_pass(uniform):
    assert uniform.bounds(cones=1).loose
    scored = []
    for q in uniform.ids[::131]:
        for weights in (None, {"vibe": 1, "tempo": 0, "key": 0, "energy": 0}):
            for k in (1, 10):
                assert same(uniform.similar(int(q), k=k, weights=weights, method="pruned"),
                            uniform.similar(int(q), k=k, weights=weights, method="exact"))
                scored.append(uniform.last_search.scored)
    assert np.median(scored) < 0.2 * len(uniform)  # pruning does happen


def test_refining_cone_bounds_with_the_bf16_pass_stays_exact(monkeypatch):
    index = make_index(n=1500, seed=6, spread=1.5)  # cones that bound, but leave tracks to score
    assert not index.bounds(cones=1).loose
    calls = []
    real = LowPrecisionBounds.vibe_upper

    def counted(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LowPrecisionBounds, "vibe_upper", counted)
    monkeypatch.setattr(sets_search, "REFINE_SHARE", 0.0)  # always refine
    for q in index.ids[::211]:
        for k in (1, 7, 40):
            assert same(index.similar(int(q), k=k, method="pruned"), index.similar(int(q), k=k, method="exact"))
    assert calls


def test_without_a_trusted_bf16_product_the_pass_is_off(monkeypatch):
    index = uniform_index(n=300, seed=3)
    monkeypatch.setattr(sets_lowp, "bf16_kernel_ok", lambda: False)
    assert index.low_precision_bounds() is None
    for q in index.ids[::50]:
        assert same(index.similar(int(q), k=5, method="pruned"), index.similar(int(q), k=5, method="exact"))


def test_bf16_bounds_follow_the_index(uniform):
    index = uniform_index(n=200, seed=5)
    lp = index.low_precision_bounds()
    assert lp is index.low_precision_bounds() and lp.matches(index._ids, index._windows.shape[0])
    index.add(10_000, np.ones((2, index.dim)), bpm=120.0, camelot="8A", energy=5)
    fresh = index.low_precision_bounds()
    assert fresh is not lp and fresh.matches(index._ids, index._windows.shape[0])
    assert same(index.similar(10_000, k=5, method="pruned"), index.similar(10_000, k=5, method="exact"))


@pytest.mark.parametrize("trusted", [True, False])
def test_cone_bounds_bound_with_and_without_the_bf16_centroid_products(monkeypatch, trusted):
    from workbench.similarity.sets_search import SetBounds

    if not trusted:
        monkeypatch.setattr(sets_lowp, "bf16_kernel_ok", lambda: False)
    index = make_index(n=600, seed=8)
    rng = np.random.default_rng(2)
    for cones in (1, 3):
        b = SetBounds.build(index._ids, index._windows, index._wweights, index._offsets, cones=cones)
        assert (b._bf16 is not None) == trusted
        for t in range(4):
            q = index._windows[rng.choice(index._windows.shape[0], 4)] if t % 2 else rng.normal(size=(4, index.dim))
            q = (q + 0.01 * rng.normal(size=q.shape)).astype(np.float32)
            q /= np.linalg.norm(q, axis=1, keepdims=True)
            qw = rng.uniform(0.5, 2, size=4)
            for symmetric in (False, True):
                exact = raw_vibe(q, qw, index._windows, index._wweights, index._offsets, symmetric=symmetric)
                assert (b.vibe_upper(q, qw, symmetric=symmetric) >= exact).all()
