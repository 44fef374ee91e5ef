"""Window-set aggregations (workbench.similarity.sets_aggregation): each rule computes what its docstring says."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.similarity import sets_aggregation as sa
from workbench.similarity.sets import TrackSetIndex
from workbench.similarity.sets_search import raw_vibe


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture()
def sets():
    rng = np.random.default_rng(3)
    tracks = [_unit(rng.normal(size=(n, 6))) for n in (2, 5, 3, 7)]
    weights = [rng.uniform(1, 4, size=len(t)).astype(np.float32) for t in tracks]
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in tracks])]).astype(np.int64)
    q = _unit(rng.normal(size=(4, 6)))
    qw = rng.uniform(1, 3, size=4).astype(np.float32)
    return q, qw, tracks, weights, np.concatenate(tracks), np.concatenate(weights), offsets


def _by_hand(rule, q, qw, c, cw, symmetric):
    cos = q.astype(np.float64) @ c.T.astype(np.float64)
    if rule == "mean":
        a, b = qw @ q.astype(np.float64), cw @ c.astype(np.float64)
        return a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    if rule == "topk":
        return np.sort(cos.ravel())[-min(sa.TOPK_PAIRS, cos.size):].mean()
    tau = sa.SOFTMAX_TAU
    fwd = np.sum(qw * tau * np.log((np.exp(cos / tau) @ cw) / cw.sum())) / qw.sum()
    back = np.sum(cw * tau * np.log((qw @ np.exp(cos / tau)) / qw.sum())) / cw.sum()
    return 0.5 * (fwd + back) if symmetric else fwd


@pytest.mark.parametrize("rule", ["mean", "topk", "softmax"])
@pytest.mark.parametrize("symmetric", [False, True])
def test_each_rule_scores_every_track_as_computed_by_hand(sets, rule, symmetric):
    q, qw, tracks, weights, windows, wweights, offsets = sets
    got = sa.raw_scores(q, qw, windows, wweights, offsets, symmetric=symmetric, aggregation=rule)
    want = [_by_hand(rule, q, qw.astype(np.float64), c, w.astype(np.float64), symmetric) for c, w in zip(tracks, weights, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_chamfer_is_the_search_default_and_softmax_lies_between_mean_cosine_and_chamfer(sets):
    q, qw, _, _, windows, wweights, offsets = sets
    chamfer = sa.raw_scores(q, qw, windows, wweights, offsets, symmetric=False, aggregation="chamfer")
    np.testing.assert_array_equal(chamfer, raw_vibe(q, qw, windows, wweights, offsets, symmetric=False))
    soft = sa.raw_scores(q, qw, windows, wweights, offsets, symmetric=False, aggregation="softmax")
    cos = q @ windows.T
    mean_cos = np.array([(qw @ cos[:, a:b] @ wweights[a:b]) / qw.sum() / wweights[a:b].sum()
                         for a, b in zip(offsets[:-1], offsets[1:], strict=True)])
    assert np.all(soft <= chamfer + 1e-9) and np.all(soft >= mean_cos - 1e-9)  # log-mean-exp: mean <= it <= max


def test_an_index_scores_by_the_rule_set_recalibrates_and_pruned_search_scans_for_other_rules(sets):
    _, _, tracks, weights, *_ = sets
    index = TrackSetIndex(6)
    for i, (c, w) in enumerate(zip(tracks, weights, strict=True)):
        index.add(i + 1, c, weights=w, bpm=120.0 + i, camelot="8A", energy=5)
    assert index.aggregation == "chamfer"
    index.calibrate()
    chamfer_baseline = index.baseline
    assert index.set_aggregation("topk") == index.baseline != chamfer_baseline
    q, qw = index.windows_of(1)
    raw = sa.raw_scores(q, qw, index._windows, index._wweights, index._offsets, symmetric=True, aggregation="topk")
    np.testing.assert_allclose(index.vibe(q, qw, symmetric=True), index._calibrated(raw))
    exact = [(m.id, m.score) for m in index.similar(1, k=3, method="exact")]
    assert [(m.id, m.score) for m in index.similar(1, k=3, method="pruned")] == exact
    with pytest.raises(ParameterError, match=r"aggregation must be one of \('chamfer', 'mean', 'topk', 'softmax'\); got 'max'"):
        index.set_aggregation("max")
    assert index.aggregation == "topk"
