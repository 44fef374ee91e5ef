"""The label-free first stage of the embedding head (``pretrain_epochs``): its start, its scope, its settings."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from test_triplet import FAST, clustered

from workbench.errors import ParameterError
from workbench.train.embeddings_pretrain import check_pretrain
from workbench.train.head_start import initial_head
from workbench.train.triplet import TripletConfig, embed, train_triplet


def _head(dim: int, seed: int):
    import torch

    from workbench.models.heads import EmbeddingHead, seeded

    return seeded(EmbeddingHead, dim, hidden_dim=FAST["hidden_dim"], out_dim=FAST["out_dim"], dropout=0.1,
                  generator=torch.Generator().manual_seed(seed)).eval()


def test_initial_head_takes_z_scored_rows_and_answers_as_the_pretrained_head_on_raw_rows():
    X = clustered(seed=3).X * 3.0 + 5.0
    head0 = _head(X.shape[1], seed=7)
    mean, std = X.mean(axis=0), X.std(axis=0) + 0.5
    assert initial_head(None, mean, std) is None  # no start given: the seed's random head
    before = embed(head0, X)
    adapted = initial_head(head0, mean, std).eval()
    np.testing.assert_allclose(embed(adapted, ((X - mean) / std).astype(np.float32)), before, atol=1e-5)
    np.testing.assert_array_equal(embed(head0, X), before)  # a copy was adapted: the start itself is unchanged


def test_training_with_init_head_starts_from_it():
    train, val = clustered(seed=0), clustered(seed=1, per_class=8, first_track=10_000)
    head0 = _head(train.dim, seed=11)
    cfg = TripletConfig(**{**FAST, "lr": 1e-9, "max_epochs": 1})  # next to no step: the start shows
    plain = train_triplet(train, val, config=cfg, progress=False).model
    started = train_triplet(train, val, config=dataclasses.replace(cfg, init_head=head0), progress=False).model
    assert np.abs(embed(started, val.X) - embed(head0, val.X)).max() < 1e-3
    assert np.abs(embed(plain, val.X) - embed(head0, val.X)).max() > 0.1


def test_a_head_trained_without_init_head_never_picks_up_a_start():
    """Session 20 kept the start in a context variable that the job set: a head trained after session 20's `use_head` and
    outside the job's scope (a notebook calling train_triplet) started from the pretrained head. The start is now an
    argument: a plain config trains the seed's head whatever was trained before it."""
    train, val = clustered(seed=0), clustered(seed=1, per_class=8, first_track=10_000)
    cfg = TripletConfig(**{**FAST, "max_epochs": 1})
    before = embed(train_triplet(train, val, config=cfg, progress=False).model, val.X)
    train_triplet(train, val, config=dataclasses.replace(cfg, init_head=_head(train.dim, seed=11)), progress=False)
    after = embed(train_triplet(train, val, config=cfg, progress=False).model, val.X)
    np.testing.assert_allclose(after, before, atol=1e-6)
    assert TripletConfig().init_head is None and "init_head" not in cfg.to_dict()  # weights are not a recorded setting


def test_init_head_is_neither_a_user_setting_nor_anything_but_a_head(tmp_path):
    from workbench.library import Library
    from workbench.train.embeddings_job import train_embeddings_job

    with pytest.raises(ParameterError, match=r"init_head must be None or an EmbeddingHead \(raw rows in\); got str"):
        TripletConfig(init_head="head@3")
    with Library(tmp_path / "w.db") as lib, pytest.raises(ParameterError, match=r"got unknown \['init_head'\]"):
        train_embeddings_job(lib, config={"init_head": "x"}, experiments_root=tmp_path / "x")


@pytest.mark.parametrize(("epochs", "loss", "match"), [
    (-1, "supcon", r"pretrain_epochs must be an int in \[0, 500\] \(0: off\); got -1"),
    (2.5, "supcon", r"pretrain_epochs must be an int in \[0, 500\] \(0: off\); got 2.5"),
    (True, "supcon", r"pretrain_epochs must be an int"),
    (10, "proxy_anchor", r"pretrain_loss must be one of \['supcon', 'triplet'\]; got 'proxy_anchor'"),
])
def test_bad_pretrain_settings_are_refused(epochs, loss, match):
    with pytest.raises(ParameterError, match=match):
        check_pretrain(epochs, loss)


def test_pretrain_is_off_by_default():
    from workbench.train.embeddings_job import EMBEDDING_DATA_DEFAULTS

    assert EMBEDDING_DATA_DEFAULTS["pretrain_epochs"] == 0
    assert check_pretrain(0, "supcon") == (0, "supcon")


def test_a_bad_pretrain_setting_is_refused_before_any_job(tmp_path):
    from workbench.library import Library
    from workbench.train.embeddings_job import train_embeddings_job

    with Library(tmp_path / "w.db") as lib:
        with pytest.raises(ParameterError, match=r"pretrain_epochs must be an int in \[0, 500\] \(0: off\); got -3"):
            train_embeddings_job(lib, config={"pretrain_epochs": -3}, experiments_root=tmp_path / "x")
        assert lib.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


@pytest.mark.slow
def test_the_job_pretrains_on_every_track_and_says_so(tmp_path):
    from conftest import three_folder_music

    from workbench.library import Library
    from workbench.runs import load_run
    from workbench.train.jobs import train_embeddings_job

    music = three_folder_music(tmp_path)
    config = {"epochs": 1, "n_views": 1, "window_s": 4.0, "invariance_clips": 0, "classes_from": "folder",
              "test_size": 0.34, "val_size": 0.34, "m": 2, "batch_size": 4, "blend": 0.5, "pretrain_epochs": 2}
    with Library(tmp_path / "lib.db") as lib:
        lib.scan(music, progress=False)
        run = load_run(train_embeddings_job(lib, config=config, progress=False, experiments_root=tmp_path / "e")[1])
        n_tracks = len(list(lib.tracks()))
    record = run.metrics["pretrain"]
    assert record["tracks"] == n_tracks == 18  # held-out tracks too: no class is read
    assert record["epochs"] == 2 and record["loss"] == "supcon" and run.config["pretrain_epochs"] == 2
    # the start the job passed every head (TripletConfig.init_head) is weights: never in the run's config or metrics
    assert "init_head" not in json.dumps(run.config) and "init_head" not in json.dumps(run.metrics)


def test_tracks_of_one_window_are_pretrained_with_pairs(tmp_path):
    """A library of short tracks (9 s at the default 8-s window: one window and its view, 2 rows a track) stopped the
    job after its embedding with a SamplerError naming m and batch_size settings no `--set` reaches (m 4 was fixed)."""
    from conftest import harmonic_clip

    from workbench.library import Library
    from workbench.train.embeddings_pretrain import pretrain_head
    from workbench.train.triplet import TripletConfig

    for i in range(4):
        harmonic_clip(tmp_path / "music" / f"t{i}.wav", freq_hz=200.0 * (1 + 0.3 * i), seed=i)
    with Library(tmp_path / "lib.db") as lib:
        lib.scan(tmp_path / "music", progress=False)
        tracks = list(lib.tracks())
        head, record = pretrain_head(lib, tracks, backbone=None, window_s=8.0,
                                     config=TripletConfig(**{**FAST, "max_epochs": 1}), epochs=1)
    assert record["tracks"] == 4 and record["rows"] == 8 and record["m"] == 2


def test_the_report_says_the_random_head_column_is_the_pretrained_head():
    """With pretrain_epochs the job's random_head baseline is the pretrained head (metrics.json ``pretrain`` said so),
    but the report's "Model vs baselines" table showed it as random_head with no word: a higher 'random head' than the
    backbone read as a bug."""
    from workbench.report.baselines import comparison

    base = {"model": {"map_at_r": 0.6}, "baselines": {"backbone": {"map_at_r": 0.3}, "random_head": {"map_at_r": 0.5}}}
    html = comparison({**base, "pretrain": {"epochs": 20, "loss": "supcon", "tracks": 19}})
    assert "random_head: the head after the label-free first stage (pretrain_epochs 20, supcon, 19 tracks)" in html
    assert "label-free" not in comparison(base)
    assert "label-free" not in comparison({**base, "pretrain": {"skipped": "a CNN ..."}})


def test_the_fold_heads_settings_keep_the_start():
    """The epoch count's fold heads train on :func:`fold_config` of the job's config: the start travels with it."""
    from workbench.train.embeddings_stopping import fold_config

    train = clustered(seed=0)
    head0 = _head(train.dim, seed=11)
    cfg = TripletConfig(**{**FAST, "init_head": head0})
    assert fold_config(train, cfg).init_head is head0
    assert fold_config(train, TripletConfig(**FAST)).init_head is None
