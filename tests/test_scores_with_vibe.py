"""``TrackSetIndex.scores_with_vibe``: search's combined score with a given vibe (the public way
``precision_ceiling`` ranks on an oracle vibe, which reached into the index's private methods before)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from test_learned_weights import grouped_index

from workbench.errors import ParameterError, TrackNotFoundError
from workbench.similarity.compare import precision_ceiling
from workbench.similarity.scores import Weights
from workbench.similarity.scoring import top_k_order


def test_with_the_measured_vibe_it_is_the_score_similar_ranks_by():
    index, _ = grouped_index(tempo="group", seed=1)
    ids = index.ids
    for q in (1, 9, 20):
        measured = index.vibe(*index.windows_of(q), symmetric=True, stable=True)  # as similar scores a library track
        for weights in (None, {"vibe": 0.3, "tempo": 0.4, "key": 0.2, "energy": 0.1}):
            score = index.scores_with_vibe(q, measured, weights=weights)
            assert score.shape == (len(index),) and score[ids == q] == -np.inf  # its own track is never a match
            matches = index.similar(q, k=len(index) - 1, weights=weights)
            assert [m.id for m in matches] == [int(ids[i]) for i in top_k_order(score, ids, len(index) - 1)]
            for m in matches:
                assert score[ids == m.id][0] == pytest.approx(m.score, abs=1e-12)


def test_it_scores_as_the_private_path_precision_ceiling_used_before():
    """Before: ``index._terms(index._resolve(q), w, rows, vibe)["score"]`` with the own row set to -inf."""
    index, groups = grouped_index(tempo="random", key="against", seed=2)
    ids = index.ids
    of = np.asarray([groups[int(i)] for i in ids], dtype=object)
    rows = np.arange(len(ids), dtype=np.int64)
    for same in (1.0, 0.5, 0.2, 0.0):
        for w in (Weights(), Weights.coerce({"vibe": 0.1, "tempo": 0.5, "key": 0.3, "energy": 0.1})):
            for q in map(int, ids):
                oracle = np.where(of == groups[q], same, 0.0)
                r = index._resolve(q)
                before = index._terms(r, w, rows, oracle)["score"]
                before[r.self_row] = -np.inf
                np.testing.assert_array_equal(index.scores_with_vibe(q, oracle, weights=w), before)

    def ceiling_before(same: float, k: int = 3) -> float:  # the old precision_ceiling's ranking, by hand
        p = []
        for q in map(int, ids):
            r = index._resolve(q)
            score = index._terms(r, Weights(), rows, np.where(of == groups[q], same, 0.0))["score"]
            score[r.self_row] = -np.inf
            p.append(sum(groups[int(ids[i])] == groups[q] for i in top_k_order(score, ids, k)) / k)
        return float(np.mean(p))

    search = SimpleNamespace(index=index, model_said="grouped index")
    search.update = lambda: search
    queries = [SimpleNamespace(id=int(i)) for i in ids]
    seen = []
    for same in (1.0, 0.3, 0.1, 0.0):
        after = precision_ceiling(search, queries, groups, k=3, same=same)  # type: ignore[arg-type]
        assert after["n_queries"] == len(ids) and after["precision_at_k"] == pytest.approx(ceiling_before(same))
        seen.append(after["precision_at_k"])
    assert seen[0] == 1.0 and seen[-1] < 0.5  # not one number: the oracle's vibe decides (key points away)


def test_a_vibe_that_is_not_one_number_in_0_1_per_track_is_refused():
    index, _ = grouped_index()
    n = len(index)
    with pytest.raises(ParameterError, match=rf"vibe must be {n} numbers in \[0, 1\].*got shape \(3,\)"):
        index.scores_with_vibe(1, np.zeros(3))
    with pytest.raises(ParameterError, match=r"range \[0, 1.5\]"):
        index.scores_with_vibe(1, np.full(n, 1.5) * (np.arange(n) == 0))
    with pytest.raises(ParameterError, match="numbers in"):
        index.scores_with_vibe(1, np.full(n, np.nan))
    with pytest.raises(TrackNotFoundError):
        index.scores_with_vibe(10_000, np.zeros(n))
