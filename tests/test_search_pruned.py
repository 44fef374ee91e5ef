"""Pruned exact search (cluster bounds + float16 pass): identical to brute force in every case."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.similarity import (
    CAMELOT_CODES,
    Match,
    Query,
    SimilarityIndex,
    brute_force_similar,
    search_exact,
)
from workbench.similarity import pruned as pruned_mod

faiss = pytest.importorskip("faiss")


@pytest.fixture(autouse=True)
def one_faiss_thread() -> Iterator[None]:
    """Single-query FAISS searches on one thread (waking idle OpenMP workers dominates tiny searches)."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def library(rng: np.random.Generator, n: int, d: int = 16, *, spread: float | None = 0.3,
            duplicates: int = 0) -> dict:
    """Seeded library; ``spread`` None: isotropic random vectors, else clusters with that noise."""
    if spread is None:
        emb = rng.standard_normal((n, d))
    else:
        centres = rng.standard_normal((max(1, n // 40), d))
        emb = centres[rng.integers(0, centres.shape[0], n)] + spread * rng.standard_normal((n, d))
    emb = emb.astype(np.float32)
    bpm = rng.uniform(70.0, 180.0, n)
    keys = rng.integers(0, 24, n)
    energy = rng.integers(1, 11, n)
    if duplicates:
        src, dst = rng.integers(0, n, duplicates), rng.integers(0, n, duplicates)
        emb[dst], bpm[dst], keys[dst], energy[dst] = emb[src], bpm[src], keys[src], energy[src]
    ids = rng.permutation(3 * n)[:n].astype(np.int64) - n
    return {"ids": ids, "embeddings": emb, "bpm": bpm, "camelot": [CAMELOT_CODES[i] for i in keys],
            "energy": energy}


def assert_same(got: list[Match], want: list[Match]) -> None:
    assert [m.id for m in got] == [m.id for m in want]
    assert [m.score for m in got] == [m.score for m in want]  # bit-identical: same arithmetic per row


@pytest.fixture
def prune_small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Partition even tiny indexes (the default threshold is 20 000 rows)."""
    monkeypatch.setattr(search_exact, "PRUNE_MIN_ROWS", 0)
    monkeypatch.setattr(search_exact, "PRUNE_BUILD_AFTER", 1)


def pruned_index(lib: dict, n_clusters: int | None = None) -> SimilarityIndex:
    index = SimilarityIndex(**lib, kind="flat")
    index.build_partition(n_clusters=n_clusters, seed=1)
    return index


@pytest.mark.parametrize("switch", [1.0, 0.0, pruned_mod.SWITCH_FRACTION], ids=["walk", "compressed", "default"])
@pytest.mark.parametrize("spread", [0.05, 0.3, None], ids=["tight", "clustered", "random"])
@pytest.mark.parametrize("n", [1, 9, 120, 400])
def test_identical_to_brute_force(prune_small: None, monkeypatch: pytest.MonkeyPatch, switch: float,
                                  spread: float | None, n: int) -> None:
    monkeypatch.setattr(pruned_mod, "SWITCH_FRACTION", switch)
    if switch == 0.0:
        monkeypatch.setattr(pruned_mod, "_FIRST_BATCH_ROWS", 1)  # one cluster, then the float16 pass
    rng = np.random.default_rng(n * 7 + (0 if spread is None else int(spread * 100)))
    lib = library(rng, n, spread=spread, duplicates=n // 10)
    index = pruned_index(lib)
    assert index.partition is not None
    paths = set()
    for k in sorted({1, 3, 10, 25, n, n + 4}):
        for q in rng.choice(lib["ids"], size=min(n, 4), replace=False).tolist():
            for weights in (None, {"vibe": 1.0, "tempo": 0, "key": 0, "energy": 0}, {"vibe": 0.2, "key": 1.0}):
                for exclude_self in (True, False):
                    got = index.similar(q, k=k, weights=weights, exclude_self=exclude_self)
                    paths.add(index.last_search.path)
                    assert index.last_search.exact
                    want = brute_force_similar(q, **lib, k=k, weights=weights, exclude_self=exclude_self)
                    assert_same(got, want)
        vec = rng.standard_normal(16)
        assert_same(index.similar(vec, k=k), brute_force_similar(vec, **lib, k=k))
        query = Query(vec, bpm=128.0, camelot="8A", energy=6)
        assert_same(index.similar(query, k=k, min_score=0.3), brute_force_similar(query, **lib, k=k, min_score=0.3))
    if switch == 1.0:
        assert paths - {"empty"} == {"pruned"}
    elif switch == 0.0 and n > 100:
        assert "compressed" in paths


def test_duplicates_tie_by_id(prune_small: None) -> None:
    rng = np.random.default_rng(3)
    lib = library(rng, 200, spread=0.3)
    lib["embeddings"][100:] = lib["embeddings"][:100]  # every vector twice, metadata too
    lib["bpm"][100:], lib["energy"][100:] = lib["bpm"][:100], lib["energy"][:100]
    lib["camelot"][100:] = lib["camelot"][:100]
    index = pruned_index(lib)
    for q in lib["ids"][:20].tolist():
        got = index.similar(q, k=15, exclude_self=False)
        assert_same(got, brute_force_similar(q, **lib, k=15, exclude_self=False))
        assert got[0].score == got[1].score and got[0].id < got[1].id  # the row and its copy


def test_k_beyond_cluster_sizes_and_library(prune_small: None) -> None:
    rng = np.random.default_rng(4)
    lib = library(rng, 150, spread=0.05)
    index = pruned_index(lib, n_clusters=40)  # clusters of ~4 rows, k far larger
    for k in (7, 60, 149, 150, 1000):
        for q in lib["ids"][:5].tolist():
            got = index.similar(q, k=k)
            assert len(got) == min(k, 149)
            assert_same(got, brute_force_similar(q, **lib, k=k))


def test_bounds_hold_for_every_member() -> None:
    rng = np.random.default_rng(5)
    lib = library(rng, 300, spread=0.3)
    index = pruned_index(lib, n_clusters=12)
    part = index.partition
    assert part is not None and part.n_clusters <= 12
    rows_of = {int(i): r for r, i in enumerate(lib["ids"].tolist())}
    labels = np.empty(300, dtype=np.int64)
    labels[part._order] = np.repeat(np.arange(part.n_clusters), part._sizes)
    for q in lib["ids"][:10].tolist():
        scorer, _, _ = index._resolve(q, None, False)
        exact = np.array([m.score for m in brute_force_similar(q, **lib, k=300, exclude_self=False)])
        order = [rows_of[m.id] for m in brute_force_similar(q, **lib, k=300, exclude_self=False)]
        best = np.full(part.n_clusters, -np.inf)
        np.maximum.at(best, labels[order], exact)
        assert (part.bounds(scorer) >= best).all()


def test_walk_prunes_separated_clusters(prune_small: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pruned_mod, "_FIRST_BATCH_ROWS", 8)
    rng = np.random.default_rng(6)
    lib = library(rng, 800, d=32, spread=0.02)
    index = pruned_index(lib)
    visited = []
    for q in lib["ids"][:20].tolist():
        weights = {"vibe": 1.0, "tempo": 0, "key": 0, "energy": 0}
        assert_same(index.similar(q, k=5, weights=weights), brute_force_similar(q, **lib, k=5, weights=weights))
        assert index.last_search.path == "pruned"
        visited.append(index.last_search.candidates)
    assert np.median(visited) < 800 / 4  # the bounds rule most clusters out without scoring them


def test_stays_exact_after_adds_removes_and_compact(prune_small: None) -> None:
    rng = np.random.default_rng(7)
    lib = library(rng, 300, spread=0.3)
    index = pruned_index(lib)
    first = index.partition
    ids = lib["ids"]
    index.remove(ids[:20].tolist())  # tombstones: skipped, bounds stay valid
    more = library(np.random.default_rng(8), 20, spread=0.3)
    more["ids"] = more["ids"] + 10_000
    index.add(**more)  # a tail within TAIL_FRACTION: scored on every query
    live = {key: (np.concatenate([lib[key][20:], more[key]]) if key != "camelot" else lib[key][20:] + more[key])
            for key in lib}
    for q in live["ids"][::25].tolist() + more["ids"][:3].tolist():
        assert_same(index.similar(q, k=12), brute_force_similar(q, **live, k=12))
        assert index.partition is first
    for query in (ids[0], ids[5]):  # removed: not found
        with pytest.raises(Exception, match="not in the similarity index"):
            index.similar(int(query))
    big = library(np.random.default_rng(9), 100, spread=0.3)
    big["ids"] = big["ids"] + 20_000
    index.add(**big)  # past the tail fraction: rebuilt on the next search
    live = {key: (np.concatenate([live[key], big[key]]) if key != "camelot" else live[key] + big[key]) for key in live}
    q = int(big["ids"][0])
    assert_same(index.similar(q, k=12), brute_force_similar(q, **live, k=12))
    assert index.partition is not first and index.partition.rows_built == 420
    index.compact()  # a new FAISS index: the old partition is stale
    assert index.partition is None
    assert_same(index.similar(q, k=12), brute_force_similar(q, **live, k=12))
    assert index.partition is not None and index.partition.rows_built == 400


def test_small_index_scans_and_builds_after_some_searches(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(10)
    lib = library(rng, 120, spread=0.3)
    index = SimilarityIndex(**lib, kind="flat")
    q = int(lib["ids"][0])
    index.similar(q)
    assert index.partition is None and index.last_search.path in {"bound", "rescored", "complete"}
    monkeypatch.setattr(search_exact, "PRUNE_MIN_ROWS", 100)
    monkeypatch.setattr(search_exact, "PRUNE_BUILD_AFTER", 3)
    for _ in range(2):
        assert_same(index.similar(q), brute_force_similar(q, **lib))
        assert index.partition is None
    assert_same(index.similar(q), brute_force_similar(q, **lib))
    assert index.partition is not None and index.last_search.path in {"pruned", "compressed"}


def test_hnsw_ignores_the_partition(prune_small: None) -> None:
    lib = library(np.random.default_rng(11), 120, spread=0.3)
    index = SimilarityIndex(**lib, kind="hnsw")
    index.similar(int(lib["ids"][0]))
    assert index.last_search.path not in {"pruned", "compressed"}


def test_errors(prune_small: None) -> None:
    lib = library(np.random.default_rng(12), 60, spread=0.3)
    index = pruned_index(lib)
    for k in (0, -1, 2.5, True, "3"):
        with pytest.raises(ParameterError, match="k must be an integer >= 1; got"):
            index.similar(int(lib["ids"][0]), k=k)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ParameterError, match="n_clusters must be an integer >= 1 or None; got"):
            index.build_partition(n_clusters=bad)
    with pytest.raises(ParameterError, match="query vector row 0 is a zero vector"):
        index.similar(np.zeros(16))
    bad_lib = dict(lib, embeddings=lib["embeddings"].copy())
    bad_lib["embeddings"][3] = 0.0
    with pytest.raises(ParameterError, match=r"embeddings row 3 \(id -?\d+\) is a zero vector"):
        SimilarityIndex(**bad_lib, kind="flat")
