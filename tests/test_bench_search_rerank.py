"""The re-ranking bench's rules in score space equal the published rules on vectors; its shortlist ranking."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    return importlib.import_module("bench_search_rerank")


def unit_vectors(seed: int, m: int = 10, d: int = 5) -> np.ndarray:
    X = np.random.default_rng(seed).normal(size=(m, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_query_expansion_in_score_space_is_alpha_qe_on_vectors(bench):
    X = unit_vectors(0)
    M = X @ X.T
    nn = np.argsort(-(X[0] @ X[1:].T))[:3] + 1
    assert np.all(M[0, nn] > 0)
    w = M[0, nn] ** 3
    expanded = X[0] + (w[:, None] * X[nn]).sum(axis=0)  # Radenovic et al.'s alpha-QE, k 3, alpha 3
    assert bench.rerank_scores(M, "qe", k=3, alpha=3) == pytest.approx((expanded @ X.T) / (1 + w.sum()))


def test_database_side_augmentation_is_the_cosine_of_augmented_vectors(bench):
    X = unit_vectors(1)
    M = X @ X.T
    Y = np.empty_like(X)
    for i in range(len(X)):  # every vector, the query's too, averaged with its 2 nearest, weight cosine ** 1
        nn = np.argsort(-np.where(np.arange(len(X)) == i, -np.inf, M[i]))[:2]
        Y[i] = X[i] + (np.clip(M[i, nn], 0, None)[:, None] * X[nn]).sum(axis=0)
    Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    assert bench.rerank_scores(M, "dba", k=2, alpha=1) == pytest.approx(Y[0] @ Y.T)


def test_k_reciprocal_with_all_weight_on_the_distance_is_the_base_score(bench):
    X = unit_vectors(2)
    M = (1 + X @ X.T) / 2
    assert bench.rerank_scores(M, "kreciprocal", k1=3, k2=1, lam=1.0) == pytest.approx(M[0])
    assert not np.allclose(bench.rerank_scores(M, "kreciprocal", k1=3, k2=1, lam=0.3), M[0])
    with pytest.raises(ValueError, match="rule must be one of"):
        bench.rerank_scores(M, "expand")


def test_query_expansion_brings_up_the_nearest_track_s_neighbour_in_the_shortlist(bench):
    """Base order B, D, C for query A; C lies near B (A's best match), D does not: with B averaged in, C overtakes D.
    Among the pool only (a removed row is never a neighbour), and the query is never its own match."""
    rad = np.radians
    X = np.array([[1.0, 0, 0], [np.cos(rad(30)), np.sin(rad(30)), 0], [np.cos(rad(50)), np.sin(rad(50)), 0],
                  [np.cos(rad(40)), 0, np.sin(rad(40))]])  # A, B, C, D
    S = X @ X.T
    assert bench.ranked(S, 0, [0, 1, 2, 3], "none", {}) == [1, 3, 2]
    assert bench.ranked(S, 0, [0, 1, 2, 3], "qe", {"k": 1, "alpha": 1}) == [1, 2, 3]
    assert bench.ranked(S, 0, [0, 2, 3], "qe", {"k": 1, "alpha": 1}) == [3, 2]  # without B, D stays ahead
    groups = ["x", "x", "x", "y"]
    assert bench.hits_at_3(S, groups, [0], [0, 1, 2, 3], "qe", {"k": 1, "alpha": 1}) == [2]
    assert bench.hits_at_3(S[:2, :2], groups[:1] + ["y"], [0], [0, 1], "none", {}) == []  # no folder-mate: skipped
