"""A head blended with its backbone in search, the blend weight picked on training tracks only."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.similarity.blend import Blend, blend_vectors
from workbench.train.datasets import EmbeddingSet
from workbench.train.embeddings_blend import blend_note, check_blend, pick_blend, track_folds


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_blended_cosine_is_the_weighted_sum_of_both(weight):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 5)) * 3 + 1
    H = rng.normal(size=(7, 4))
    mean, std = X.mean(axis=0), X.std(axis=0)
    v = blend_vectors(X, H, weight=weight, mean=mean, std=std)
    assert v.shape == (7, 9) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    want = weight * _cos((X - mean) / std, (X - mean) / std) + (1 - weight) * _cos(H, H)
    assert np.allclose(v @ v.T, want, atol=1e-5)


def test_blend_errors_and_checkpoint_round_trip(tmp_path):
    import torch

    from workbench.models.heads import read_weights

    with pytest.raises(ParameterError, match=r"blend weight must be a number in \[0, 1\]; got 1.5"):
        Blend(1.5, np.zeros(3), np.ones(3))
    with pytest.raises(ParameterError, match="std > 0"):
        Blend(0.5, np.zeros(3), np.zeros(3))
    with pytest.raises(ParameterError, match=r"backbone and head must be \(n, d\) and \(n, out_dim\) with d = 3"):
        blend_vectors(np.zeros((2, 4)), np.zeros((2, 2)), weight=0.5, mean=np.zeros(3), std=np.ones(3))
    with pytest.raises(ParameterError, match=r"weight must be in \[0, 1\]; got -0.1"):
        blend_vectors(np.zeros((2, 3)), np.zeros((2, 2)), weight=-0.1, mean=np.zeros(3), std=np.ones(3))
    b = Blend(0.25, np.arange(3, dtype=np.float32), np.full(3, 2.0, dtype=np.float32))
    torch.save({"config": {}, "blend": b.to_checkpoint()}, tmp_path / "m.pt")
    again = Blend.from_checkpoint(read_weights(tmp_path / "m.pt"))
    assert again is not None and again.weight == 0.25 and np.array_equal(again.mean, b.mean) and again.in_dim == 3
    assert Blend.from_checkpoint({"config": {}}) is None
    with pytest.raises(ParameterError, match="model.pt's blend must hold weight, mean and std"):
        Blend.from_checkpoint({"blend": {"weight": 0.5}})


def test_check_blend():
    assert check_blend("auto") == "auto" and check_blend(None) is None and check_blend("off") is None
    assert check_blend(0.5) == 0.5 and check_blend(1) == 1.0
    for bad in (1.5, "yes", True):
        with pytest.raises(ParameterError, match=r"blend must be 'auto', 'off' \(the head alone\) or a backbone share"):
            check_blend(bad)


def _set(n_per_class: list[int], *, dim: int = 6, rows: int = 4, seed: int = 0, separable: bool = True,
         first_track: int = 0) -> EmbeddingSet:
    """``rows`` windows per track, tracks per class as given; classes far apart in the backbone when ``separable``."""
    rng = np.random.default_rng(seed)
    X, y, t = [], [], []
    track = first_track
    for c, n in enumerate(n_per_class):
        centre = rng.normal(size=dim) * (4.0 if separable else 0.0)
        for _ in range(n):
            X.append(centre + rng.normal(size=(rows, dim)))
            y += [c] * rows
            t += [track] * rows
            track += 1
    return EmbeddingSet(np.vstack(X), np.asarray(y), [f"c{i}" for i in range(len(n_per_class))], np.asarray(t),
                        np.zeros(len(y), dtype=np.int64), rows={"start_s": np.tile(np.arange(rows) * 8.0, track - first_track)})


def test_track_folds_keep_a_track_of_every_class_in_training():
    data = _set([1, 2, 3, 5])
    folds = track_folds(data, folds=3, seed=0)
    assert 1 <= len(folds) <= 3
    class_of = {int(t): int(c) for t, c in zip(data.track_ids, data.y, strict=True)}
    held = np.concatenate(folds)
    assert 0 not in held  # the lone track of class 0 never leaves training
    assert sorted(held.tolist()) == list(range(1, 11))  # every other track is held out once
    for fold in folds:
        for c in (1, 2, 3):
            assert sum(class_of[t] == c for t in class_of if t not in set(fold.tolist())) >= 1


def test_pick_blend_keeps_the_backbone_when_the_head_is_no_better():
    import torch

    from workbench.models.heads import EmbeddingHead, seeded
    from workbench.train.triplet import TripletConfig

    train, val = _set([3, 3, 3], seed=1), _set([1, 1, 1], seed=1, first_track=100)
    # a random head on a backbone whose classes are far apart: the backbone is the better ranking
    head = seeded(EmbeddingHead, train.dim, hidden_dim=16, out_dim=8, dropout=0.0,
                  generator=torch.Generator().manual_seed(0))
    cfg = TripletConfig(m=2, batch_size=6, max_epochs=2, patience=1, hidden_dim=16, out_dim=8, seed=0)
    blend = pick_blend(train, val, head, cfg, folds=0)
    scores = blend.scores["weights"]
    assert scores["1"] >= scores["0"] and blend.weight > 0.0
    full = pick_blend(train, val, head, cfg, folds=2, others=_set([2], seed=5, first_track=200))  # + unclassed tracks
    assert [p["part"] for p in full.scores["parts"]] == ["validation", "fold 1", "fold 2"]
    assert set(full.scores["weights"]) == {"0", "0.25", "0.5", "0.75", "1"}
    assert blend_note(Blend(1.0, blend.mean, blend.std)) is not None and blend_note(Blend(0.5, blend.mean, blend.std)) is None
    with pytest.raises(ParameterError, match="folds must be 0 or an int >= 2; got 1"):
        pick_blend(train, val, head, cfg, folds=1)
    with pytest.raises(ParameterError, match=r"weights must be backbone shares in \[0, 1\]"):
        pick_blend(train, val, head, cfg, weights=(0.5, 2.0))


def test_pick_blend_uses_the_head_when_the_backbone_is_noise():
    from workbench.train.triplet import TripletConfig, train_triplet

    # class information only in the first two of 6 dimensions, the rest loud noise: a trained head finds it
    rng = np.random.default_rng(3)

    def make(n_tracks: int, first: int) -> EmbeddingSet:
        X, y, t = [], [], []
        for i in range(n_tracks * 2):
            c = i % 2
            X.append(np.hstack([np.full((6, 2), 3.0 * (2 * c - 1)) + rng.normal(size=(6, 2)) * 0.3,
                                rng.normal(size=(6, 30)) * 6.0]))
            y += [c] * 6
            t += [first + i] * 6
        return EmbeddingSet(np.vstack(X), np.asarray(y), ["a", "b"], np.asarray(t), np.zeros(len(y), dtype=np.int64))

    train, val = make(4, 0), make(1, 100)
    cfg = TripletConfig(m=4, batch_size=8, max_epochs=30, patience=30, hidden_dim=32, out_dim=8, lr=3e-3, seed=0,
                        dropout=0.0)
    head = train_triplet(train, val, config=cfg, progress=False).model
    blend = pick_blend(train, val, head, cfg, folds=2)
    scores, windows = blend.scores["weights"], blend.scores["window_weights"]
    chosen = f"{blend.weight:g}"
    assert blend.weight < 1.0 and (scores[chosen], windows[chosen]) > (scores["1"], windows["1"])


def test_pick_blend_breaks_a_saturated_tie_on_window_map(monkeypatch):
    import torch

    import workbench.train.embeddings_blend as eb
    from workbench.models.heads import EmbeddingHead, seeded
    from workbench.train.triplet import TripletConfig

    train, val = _set([3, 3, 3], seed=1), _set([1, 1, 1], seed=1, first_track=100)
    head = seeded(EmbeddingHead, train.dim, hidden_dim=16, out_dim=8, dropout=0.0,
                  generator=torch.Generator().manual_seed(0))
    cfg = TripletConfig(m=2, batch_size=6, max_epochs=2, patience=1, hidden_dim=16, out_dim=8, seed=0)
    weights = (0.0, 0.25, 0.5, 0.75, 1.0)
    # a few well-separated tracks: every weight ranks the tracks perfectly, the windows tell them apart
    saturated = {w: 1.0 for w in weights}
    windows = {0.0: 0.80, 0.25: 0.86, 0.5: 0.70, 0.75: 0.50, 1.0: 0.30}
    monkeypatch.setattr(eb, "_scores", lambda *a, **k: (dict(saturated), dict(windows)))
    blend = pick_blend(train, val, head, cfg, folds=0)
    assert blend.weight == 0.25
    assert blend.scores["window_weights"]["0.25"] == pytest.approx(0.86)
    monkeypatch.setattr(eb, "_scores", lambda *a, **k: (dict(saturated), {w: 0.5 for w in weights}))
    assert pick_blend(train, val, head, cfg, folds=0).weight == 1.0  # a full tie still keeps the backbone
    monkeypatch.setattr(eb, "_scores", lambda *a, **k: ({w: 0.9 for w in weights} | {0.5: 1.0}, dict(windows)))
    assert pick_blend(train, val, head, cfg, folds=0).weight == 0.5  # the track level decides first

def test_a_registered_head_with_a_blend_searches_on_blended_windows(tmp_path):
    import torch

    from workbench.embed.features import FeatureFrontend
    from workbench.library import Library
    from workbench.models.heads import EmbeddingHead, checkpoint, seeded
    from workbench.registry import Registry
    from workbench.similarity.model import resolve_model, window_means

    d = FeatureFrontend().dim
    head = seeded(EmbeddingHead, d, hidden_dim=32, out_dim=16, dropout=0.0, generator=torch.Generator().manual_seed(1))
    rng = np.random.default_rng(0)
    blend = Blend(0.5, rng.normal(size=d).astype(np.float32), (1 + rng.random(d)).astype(np.float32))
    with Library(tmp_path / "w.db") as lib:
        folder = lib.workspace.experiments / "run-b"
        folder.mkdir(parents=True)
        torch.save({**checkpoint(head), "blend": blend.to_checkpoint()}, folder / "model.pt")
        (folder / "data.json").write_text(json.dumps({"window_s": 4.0}))
        with Registry(lib, cleanup=False) as reg:
            reg._insert({"model_type": "head", "version": 1, "run_id": "run-b",
                         "metadata": {"backbone": {"name": "features-v1", "dim": d}, "run_id": "run-b"},
                         "created_at": datetime.now(timezone.utc).isoformat()}, activate=True)
        model = resolve_model(lib, backbone=FeatureFrontend())
    assert model.blend is not None and model.blend.weight == 0.5 and model.dim == d + 16
    assert "backbone share 0.5" in model.said
    import dataclasses

    alone = dataclasses.replace(model, blend=None)  # the same file without its blend: its own index
    assert model.tag.endswith("-b0.5") and alone.tag != model.tag and alone.key != model.key and alone.dim == 16
    frames, ts = rng.normal(size=(40, d)).astype(np.float32), np.arange(40) * 0.5
    got = model.windows(frames, ts)
    means = window_means(frames, ts, window_s=4.0, hop_s=1.0)
    with torch.no_grad():
        h = head(torch.from_numpy(means)).numpy()
    assert np.allclose(got, blend.vectors(means, h), atol=1e-6) and got.shape == (len(means), d + 16)


def test_a_blend_with_no_backbone_share_searches_on_the_head_alone(tmp_path):
    import torch

    from workbench.models.heads import EmbeddingHead, checkpoint, seeded
    from workbench.similarity.model import _read_head

    head = seeded(EmbeddingHead, 8, hidden_dim=16, out_dim=4, dropout=0.0, generator=torch.Generator().manual_seed(2))
    stats = (np.zeros(8, dtype=np.float32), np.ones(8, dtype=np.float32))
    for weight, kept in ((0.0, False), (0.25, True)):
        torch.save({**checkpoint(head), "blend": Blend(weight, *stats).to_checkpoint()}, tmp_path / "model.pt")
        _, blend = _read_head(tmp_path / "model.pt")
        assert (blend is not None) is kept  # weight 0: the head's own vectors (the same cosine), no padding
    x = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    h = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    zero = Blend(0.0, *stats).vectors(x, h)
    unit = h / np.linalg.norm(h, axis=1, keepdims=True)
    assert np.allclose(zero @ zero.T, unit @ unit.T, atol=1e-6)  # what the None blend gives up: nothing


def test_the_job_refuses_a_bad_blend_before_it_starts(tmp_path):
    from workbench.library import Library
    from workbench.train.embeddings_job import train_embeddings_job

    with Library(tmp_path / "w.db") as lib:
        with pytest.raises(ParameterError, match=r"blend must be 'auto', 'off'.*got 2"):
            train_embeddings_job(lib, config={"blend": 2}, experiments_root=tmp_path / "x")
        with pytest.raises(ParameterError, match="blend_folds must be 0 or an int >= 2; got 1"):
            train_embeddings_job(lib, config={"blend_folds": 1}, experiments_root=tmp_path / "x")


def test_set_map_ranks_tracks_by_their_window_sets():
    from workbench.train.embeddings_blend import set_map

    # tracks 0 and 1 (class a) share a window direction; track 2 (class b) is elsewhere; track 3 (b) near 2
    v = np.array([[1, 0, 0], [0, 0, 1], [1, 0.1, 0], [0, 1, 0], [0, 1, 0.1], [0.1, 1, 0]], dtype=float)
    y = np.array([0, 0, 0, 1, 1, 1])
    t = np.array([0, 0, 1, 2, 2, 3])
    q = t == 0
    assert set_map(v, y, t, q) == pytest.approx(1.0)  # track 1 ranks first for track 0
    y_wrong = np.array([0, 0, 1, 1, 1, 0])  # now track 3 is track 0's class and ranks last
    assert set_map(v, y_wrong, t, q) == pytest.approx(1 / 3)
    assert np.isnan(set_map(v, np.array([0, 0, 1, 1, 1, 1]), t, q))  # nothing relevant to find


def test_set_map_counts_unclassed_tracks_as_candidates_never_relevant():
    from workbench.train.embeddings_blend import set_map

    v = np.array([[1, 0], [0.9, 0.1], [1, 0.01]], dtype=float)
    t, q = np.array([0, 1, 2]), np.array([True, False, False])
    assert set_map(v, np.array([0, 0, -1]), t, q) == pytest.approx(0.5)  # the unclassed track 2 ranks above 1
