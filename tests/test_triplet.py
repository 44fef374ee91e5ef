"""Triplet fine-tuning: config and sampler guard rails, determinism, collapse, quality vs the backbone."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.train.datasets import EmbeddingSet
from workbench.train.triplet import (
    CollapseError,
    SamplerError,
    TripletConfig,
    check_sampler,
    embed,
    embedding_spread,
    retrieval_metrics,
    train_triplet,
)

RECORD_KEYS = {"epoch", "train_loss", "val_map_at_r", "val_precision_at_1", "mined_triplets", "embedding_spread",
               "seconds"}


def clustered(*, n_classes=6, per_class=24, dim=48, signal_dims=6, seed=0, first_track=0):
    """Classes that differ in a few dimensions under large nuisance variance elsewhere.

    The raw vectors retrieve poorly (the nuisance dominates cosine similarity); a learned
    projection can find the few dimensions that matter.
    """
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(1234).normal(size=(n_classes, signal_dims)) * 1.2
    X = rng.normal(size=(n_classes * per_class, dim)) * 1.0
    y = np.repeat(np.arange(n_classes), per_class)
    X[:, :signal_dims] = centers[y] + 0.5 * rng.normal(size=(len(y), signal_dims))
    tracks = first_track + np.arange(len(y))
    return EmbeddingSet(X.astype(np.float32), y, [f"style{i}" for i in range(n_classes)], tracks,
                        np.zeros(len(y), dtype=np.int64))


FAST = {"num_threads": 1, "batch_size": 24, "m": 4, "lr": 1e-3, "max_epochs": 4, "patience": 3, "hidden_dim": 64, "out_dim": 32}


@pytest.fixture(scope="module")
def splits():
    return clustered(seed=0), clustered(seed=1, per_class=8, first_track=10_000), \
        clustered(seed=2, per_class=10, first_track=20_000)


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"margin": 0.5}, ParameterError, r"margin must be in \[0.2, 0.3\] \(the research's range; pass allow_any_margin"),
    ({"margin": 3.0, "allow_any_margin": True}, ParameterError, r"margin must be a number in \(0, 2\]; got 3.0"),
    ({"batch_size": 30, "m": 4}, SamplerError, r"batch_size must be a multiple of m \(m=4 samples per class\); got batch_size=30"),
    ({"m": 0}, ParameterError, r"m must be an int in \[1, 1e\+09\]; got 0"),
    ({"lr": 0.0}, ParameterError, r"lr must be a number in \(0, 10\]; got 0.0"),
    ({"max_epochs": 2.5}, ParameterError, r"max_epochs must be an int"),
    ({"samples_per_epoch": 10}, ParameterError, r"samples_per_epoch must be an int in \[64"),
    ({"type_of_triplets": "medium"}, ParameterError, r"type_of_triplets must be one of \['semihard'"),
    ({"on_collapse": "ignore"}, ParameterError, r"on_collapse must be 'raise' or 'stop'; got 'ignore'"),
    ({"seed": -1}, ParameterError, r"seed must be an int"),
])
def test_config_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        TripletConfig(**kwargs)


def test_config_defaults_are_the_research_recipe():
    c = TripletConfig()
    assert (c.margin, c.m, c.batch_size, c.lr, c.weight_decay) == (0.2, 4, 64, 1e-4, 0.01)
    assert (c.type_of_triplets, c.hidden_dim, c.out_dim, c.dropout) == ("semihard", 512, 256, 0.1)
    assert TripletConfig(margin=0.3).margin == 0.3


# ------------------------------------------------------------------ sampler guard rails


def test_sampler_refuses_too_few_classes_for_the_batch_and_suggests():
    y = np.repeat(np.arange(6), 20)  # 6 styles: batch 64 with m=4 needs 16 classes
    with pytest.raises(SamplerError, match=r"batch_size=64 with m=4 needs 16 classes with >= 4 samples each; the "
                                           r"training set has 6 such classes .*Possible: batch_size=24"):
        check_sampler(y, m=4, batch_size=64)
    assert check_sampler(y, m=4, batch_size=24) == 120
    assert check_sampler(y, m=16, batch_size=64) == 64  # 4 classes of 16 per batch; one batch per epoch
    assert check_sampler(y, m=4, batch_size=24, samples_per_epoch=100) == 96


def test_sampler_refuses_classes_without_a_positive_and_thin_classes():
    with pytest.raises(SamplerError, match=r"1 class has a single sample, so no positive pair: class ids \[2\]"):
        check_sampler(np.array([0, 0, 1, 1, 2]), m=2, batch_size=4)
    y = np.array([0] * 10 + [1] * 2 + [2] * 2)  # only one class has m=4 samples
    with pytest.raises(SamplerError, match=r"needs 2 classes with >= 4 samples each; the training set has 1"):
        check_sampler(y, m=4, batch_size=8)
    with pytest.raises(SamplerError, match=r"batch_size must be a multiple of m \(m=4\); got batch_size=10"):
        check_sampler(y, m=4, batch_size=10)


def test_train_refuses_impossible_batches_before_training(splits):
    train, val, _ = splits
    with pytest.raises(SamplerError, match=r"batch_size=64 with m=4 needs 16 classes"):
        train_triplet(train, val, config=TripletConfig(), progress=False)


def test_train_checks_its_inputs(splits):
    train, val, _ = splits
    narrow = EmbeddingSet(val.X[:, :10], val.y, val.classes, val.track_ids, val.view)
    with pytest.raises(ParameterError, match=r"val has vectors of size 10; the training set's are 48"):
        train_triplet(train, narrow, config=TripletConfig(**FAST), progress=False)
    with pytest.raises(ParameterError, match=r"train must be an EmbeddingSet; got ndarray"):
        train_triplet(train.X, val, progress=False)
    with pytest.raises(ParameterError, match=r"config must be a TripletConfig; got dict"):
        train_triplet(train, val, config=dict(FAST), progress=False)


# ------------------------------------------------------------------ metrics


def test_trainer_uses_the_one_honest_implementation():
    from workbench import evaluate

    assert retrieval_metrics is evaluate.retrieval_metrics  # no copy of the metrics in the trainer
    assert embedding_spread(np.ones((4, 3))) == pytest.approx(0.0)
    assert embedding_spread(np.eye(4)) == pytest.approx(0.75)


def windows_of_tracks(*, n_tracks=24, per_track=6, n_classes=3, dim=48, seed=0, first_track=0):
    """Windows that sit close to their own track only: the class carries no signal at all."""
    rng = np.random.default_rng(seed)
    track_centres = rng.normal(size=(n_tracks, dim)) * 3
    tracks = np.repeat(np.arange(n_tracks), per_track)
    X = track_centres[tracks] + 0.1 * rng.normal(size=(len(tracks), dim))
    y = tracks % n_classes
    return EmbeddingSet(X.astype(np.float32), y, [f"c{i}" for i in range(n_classes)], first_track + tracks,
                        np.zeros(len(tracks), dtype=np.int64))


def test_validation_and_test_metrics_never_count_the_query_track(splits):
    train = splits[0]
    val = windows_of_tracks(n_tracks=12, seed=1, first_track=50_000)
    cfg = TripletConfig(**{**FAST, "max_epochs": 1})
    result = train_triplet(train, val, test=val, config=cfg, progress=False)
    base = result.metrics["baseline"]["test"]
    # counting same-track windows, every query's nearest neighbours are its own windows: ~1.0
    assert retrieval_metrics((val.X - val.X.mean(0)) / val.X.std(0), val.y)["precision_at_1"] > 0.95
    # honest: the class says nothing about the vectors, so chance (1/3) give or take
    assert base["precision_at_1"] < 0.6 and base["map_at_r"] < 0.6
    assert result.history[0]["val_precision_at_1"] < 0.6
    assert base["n_queries"] == len(val) and base["track_map_at_r"] < 0.8


def test_self_supervised_validation_stops_on_the_loss(splits):
    train = splits[0]
    tracks = np.arange(len(train)) // 4  # each class: 4 rows of one track (say, its windows and views)
    selfsup = EmbeddingSet(train.X, tracks, [str(i) for i in range(tracks.max() + 1)], tracks,
                           np.zeros(len(tracks), dtype=np.int64))
    n = len(selfsup)
    tr, va = selfsup.subset(np.arange(n) < n * 3 // 4), selfsup.subset(np.arange(n) >= n * 3 // 4)
    result = train_triplet(tr, va, config=TripletConfig(**{**FAST, "max_epochs": 3}), progress=False)
    assert all(np.isnan(r["val_map_at_r"]) for r in result.history)  # nothing on another track to find
    assert all(np.isfinite(r["val_loss"]) for r in result.history)
    assert result.best_epoch == 1 + int(np.argmin([r["val_loss"] for r in result.history]))


# ------------------------------------------------------------------ training


def test_fine_tuned_head_beats_the_backbone_on_held_out_tracks(splits):
    train, val, test = splits
    result = train_triplet(train, val, test=test, config=TripletConfig(**{**FAST, "max_epochs": 12, "patience": 4}),
                           progress=False)
    head, base = result.metrics["model"]["test"], result.metrics["baseline"]["test"]
    assert head["map_at_r"] > base["map_at_r"] + 0.05
    assert head["precision_at_5"] > base["precision_at_5"] + 0.05
    assert "fine-tuned" in result.report() and "backbone" in result.report()
    assert all(r["mined_triplets"] >= 0 for r in result.history) and result.history[0]["mined_triplets"] > 0
    # the kept head is the best epoch's, and it takes raw vectors (the z-scoring is folded in)
    best = result.history[result.best_epoch - 1]
    assert result.metrics["model"]["val"]["map_at_r"] == pytest.approx(best["val_map_at_r"], abs=1e-5)
    assert best["val_map_at_r"] == max(r["val_map_at_r"] for r in result.history)
    assert not result.model.training


def test_same_seed_same_weights_other_seed_other_weights(splits):
    import torch

    train, val, _ = splits
    cfg = TripletConfig(**{**FAST, "max_epochs": 2})
    a = train_triplet(train, val, config=cfg, progress=False)
    b = train_triplet(train, val, config=cfg, progress=False)
    c = train_triplet(train, val, config=TripletConfig(**{**FAST, "max_epochs": 2, "seed": 1}), progress=False)
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in a.history] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in b.history]
    assert not torch.equal(a.model.fc1.weight, c.model.fc1.weight)


def test_callback_gets_every_epoch_and_can_abort(splits):
    train, val, _ = splits
    calls = []
    result = train_triplet(train, val, config=TripletConfig(**{**FAST, "max_epochs": 3, "patience": 10}),
                           on_epoch=lambda e, total, rec: calls.append((e, total, rec)), progress=False)
    assert [c[0] for c in calls] == [1, 2, 3] and all(c[1] == 3 for c in calls)
    for _, _, rec in calls:
        assert RECORD_KEYS <= set(rec) and isinstance(rec["mined_triplets"], int)
    assert len(result.history) == 3

    class Stop(Exception):
        pass

    def abort(epoch, total, record):
        raise Stop(f"cancelled at {epoch}")

    with pytest.raises(Stop, match="cancelled at 1"):
        train_triplet(train, val, config=TripletConfig(**FAST), on_epoch=abort, progress=False)


def test_collapse_is_detected_and_stops_with_a_message(splits):
    train, val, _ = splits
    flat = EmbeddingSet(np.ones_like(train.X), train.y, train.classes, train.track_ids, train.view)
    flat_val = EmbeddingSet(np.ones_like(val.X), val.y, val.classes, val.track_ids, val.view)
    records = []
    with pytest.raises(CollapseError, match=r"collapse at epoch 2: embedding spread .* < min_spread 0.001 for 2 "
                                            r"epochs \(all embeddings alike\); try a lower lr") as info:
        train_triplet(flat, flat_val, config=TripletConfig(**{**FAST, "max_epochs": 10}),
                      on_epoch=lambda e, t, r: records.append(r), progress=False)
    assert len(records) == 2 and records[-1]["embedding_spread"] < 1e-3
    assert info.value.result is not None and info.value.result.collapse["epoch"] == 2
    result = train_triplet(flat, flat_val, config=TripletConfig(**{**FAST, "max_epochs": 10, "on_collapse": "stop"}),
                           progress=False)
    assert result.stopped_reason.startswith("collapse at epoch 2") and len(result.history) == 2


def test_early_stopping_and_checkpoint_round_trip(splits, tmp_path):
    from workbench.models.heads import load_checkpoint, save_checkpoint

    train, val, _ = splits
    result = train_triplet(train, val, config=TripletConfig(**{**FAST, "max_epochs": 40, "patience": 1,
                                                                  "lr": 1e-2}), progress=False)
    assert len(result.history) < 40 and result.stopped_reason.startswith("early stop")
    save_checkpoint(result.model, tmp_path / "head.pt")
    again = load_checkpoint(tmp_path / "head.pt")
    np.testing.assert_allclose(result.embed(val.X), embed(again, val.X), atol=1e-6)
