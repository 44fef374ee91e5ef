"""Search term weights learned from the user's groups: fitted on training tracks, better on held-out ones, exact."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.similarity.learned_weights import LearnedWeights, fit_weights, load_or_fit, pair_terms
from workbench.similarity.scores import Weights
from workbench.similarity.sets import TrackSetIndex
from workbench.similarity.sets_store import index_from_arrays


def grouped_index(*, groups: int = 4, per_group: int = 8, dim: int = 16, vibe_noise: float = 1.0,
                  tempo: str = "random", key: str = "random", seed: int = 0) -> tuple[TrackSetIndex, dict[int, str]]:
    """Window sets around one centre per group; tempo ``"random"`` (two tempi, blind to the group) or ``"group"``
    (one tempo per group), key ``"random"`` or ``"against"`` (more often the same key across groups than within)."""
    rng = np.random.default_rng(seed)
    n = groups * per_group
    group = np.repeat(np.arange(groups), per_group)
    centres = rng.normal(size=(groups, dim))
    counts = np.full(n, 4)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    track = centres[group] + vibe_noise * rng.normal(size=(n, dim))
    windows = np.repeat(track, counts, axis=0) + 0.3 * rng.normal(size=(int(offsets[-1]), dim))
    bpm = rng.choice([100.0, 140.0], size=n) if tempo == "random" else 90.0 + 20.0 * group
    # "against": four clashing keys (1A, 5A, 9A, 6B) in turn within each group, so a track shares its key with 1 of
    # the 7 others in its group but with 1 in 4 outside it: the key term points away from the group
    keys = rng.integers(0, 24, size=n) if key == "random" else np.asarray([0, 4, 8, 17])[np.arange(n) % 4]
    energy = rng.integers(4, 7, size=n)
    ids = np.arange(1, n + 1)
    index = index_from_arrays(TrackSetIndex, ids, windows, offsets, bpm=bpm, key=keys, energy=energy)
    index.calibrate()
    return index, {int(i): f"g{g}" for i, g in zip(ids, group, strict=True)}


def split(groups: dict[int, str]) -> tuple[dict[int, str], list[int]]:
    """Training tracks (id -> a stand-in content hash) and held-out ids: every fourth track held out."""
    held = [i for i in groups if i % 4 == 0]
    return {i: f"hash{i}" for i in groups if i % 4 != 0}, held


def precision_at_3(index: TrackSetIndex, groups: dict[int, str], queries: list[int], weights: Weights) -> float:
    return float(np.mean([sum(groups[m.id] == groups[q] for m in index.similar(q, k=3, weights=weights)) / 3
                          for q in queries]))


def test_pair_terms_are_the_terms_search_scores():
    index, groups = grouped_index()
    X, q, c = pair_terms(index, [1, 2, 3])
    assert X.shape == (6, 4) and sorted(zip(q.tolist(), c.tolist(), strict=True)) == [(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)]
    one = {m.id: m for m in index.similar(1, k=50, weights=Weights())}
    for (a, b), row in zip(zip(q, c, strict=True), X, strict=True):
        if a == 1:
            m = one[int(b)]
            assert row.tolist() == pytest.approx([m.vibe, m.tempo, m.key, m.energy])


def test_weights_learned_where_tempo_misleads_find_the_group_on_held_out_tracks():
    index, groups = grouped_index(vibe_noise=1.6, tempo="random")
    train, held = split(groups)
    learned = fit_weights(index, groups, training_hashes=train)
    assert learned.weights.vibe > 0.8 and learned.weights.tempo < 0.05  # tempo says nothing about these groups
    assert learned.n_tracks == 24 and learned.n_pairs == 24 * 23 and learned.n_positive == 4 * 6 * 5
    default = precision_at_3(index, groups, held, Weights())
    better = precision_at_3(index, groups, held, learned.weights)
    assert better > default + 0.1, (default, better)


def test_a_term_that_points_the_wrong_way_gets_weight_zero_and_the_rest_is_refitted():
    index, groups = grouped_index(vibe_noise=1.0, key="against")
    train, _ = split(groups)
    learned = fit_weights(index, groups, training_hashes=train)
    assert learned.weights.key == 0.0 and "key" in learned.dropped and learned.coefficients["key"] == 0.0
    assert learned.weights.vibe > 0 and sum(learned.weights.normalized()) == pytest.approx(1.0)
    assert "key 0%" in learned.said and learned.said.startswith("learned from your folders (24 tracks): vibe ")


def test_too_few_tracks_one_group_or_no_sound_signal_is_refused():
    index, groups = grouped_index(groups=2, per_group=2)
    with pytest.raises(ParameterError, match="at least 4 training tracks in folders of two or more; got 2"):
        fit_weights(index, groups, training_hashes={1: "a", 2: "b", 3: "c"})
    index, groups = grouped_index(groups=4)
    with pytest.raises(ParameterError, match="training tracks in at least two folders; got 1"):
        fit_weights(index, groups, training_hashes={i: str(i) for i in range(1, 9)})
    index, groups = grouped_index(vibe_noise=40.0, tempo="group", seed=3)  # tempo tells the groups, sound does not
    train, _ = split(groups)
    with pytest.raises(ParameterError, match="gave the vibe no positive weight"):
        fit_weights(index, groups, training_hashes=train)
    with pytest.raises(ParameterError, match="C must be a number > 0; got 0"):
        fit_weights(index, groups, training_hashes=train, C=0)


def test_learned_weights_are_saved_and_reused_only_for_the_same_model_tracks_and_groups(tmp_path, monkeypatch):
    from workbench.similarity import learned_weights as lw

    index, groups = grouped_index()
    train, _ = split(groups)
    first = load_or_fit(index, tmp_path, groups, training_hashes=train, groups_by="folder", model_key="m1")
    doc = json.loads((tmp_path / "learned-weights.json").read_text())
    assert LearnedWeights.from_json(doc["learned"]) == first
    calls = []
    monkeypatch.setattr(lw, "fit_weights", lambda *a, **k: calls.append(1) or first)
    assert load_or_fit(index, tmp_path, groups, training_hashes=train, groups_by="folder", model_key="m1") == first
    assert calls == []  # reused
    load_or_fit(index, tmp_path, groups, training_hashes=train, groups_by="folder", model_key="m2")
    moved = {**groups, 1: "g3"}
    load_or_fit(index, tmp_path, moved, training_hashes=train, groups_by="folder", model_key="m2")
    assert calls == [1, 1]  # another model, then another grouping: fitted again
    with pytest.raises(ParameterError, match="what LearnedWeights.to_json wrote"):
        LearnedWeights.from_json({"weights": {}})


@pytest.mark.parametrize("seed", [0, 1])
def test_pruned_search_with_learned_weights_equals_exact(seed):
    index, groups = grouped_index(groups=12, per_group=25, key="against", seed=seed)
    train, _ = split(groups)
    learned = fit_weights(index, groups, training_hashes=train)
    assert 0.0 in learned.weights.normalized()  # a zero weight too: the bounds must hold for any weights >= 0
    index.bounds(cones=2)
    for q in index.ids[::23]:
        exact = index.similar(int(q), k=5, weights=learned.weights, method="exact")
        pruned = index.similar(int(q), k=5, weights=learned.weights, method="pruned")
        assert [(m.id, m.score, m.explanation) for m in pruned] == [(m.id, m.score, m.explanation) for m in exact]
