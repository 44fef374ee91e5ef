"""The blend's backbone end z-scored as search z-scores the bare backbone (``blend_backbone="search"``)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import three_folder_music

from workbench.errors import ParameterError
from workbench.similarity.blend import Blend, blend_vectors, check_blend_backbone
from workbench.train.datasets import EmbeddingSet


def test_a_bad_blend_backbone_is_refused_naming_it(tmp_path):
    from workbench.library import Library
    from workbench.train.embeddings_job import train_embeddings_job

    for bad in ("raw", "", None, 1):
        with pytest.raises(ParameterError, match=rf"blend_backbone must be one of \['training', 'search'\].*got {bad!r}"):
            check_blend_backbone(bad, "blend_backbone")
    with Library(tmp_path / "w.db") as lib:  # refused before any job is recorded
        with pytest.raises(ParameterError, match=r"blend_backbone must be one of \['training', 'search'\].*got 'raw'"):
            train_embeddings_job(lib, config={"blend_backbone": "raw"}, experiments_root=tmp_path / "x")
        assert lib.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    with pytest.raises(ParameterError, match=r"blend backbone must be one of .*got 'zscored'"):
        Blend(0.5, np.zeros(3), np.ones(3), backbone="zscored")


def test_the_checkpoint_keeps_whose_statistics_and_old_ones_read_as_training(tmp_path):
    import torch

    from workbench.models.heads import read_weights

    b = Blend(0.25, np.arange(3, dtype=np.float32), np.full(3, 2.0, dtype=np.float32), backbone="search")
    torch.save({"config": {}, "blend": b.to_checkpoint()}, tmp_path / "m.pt")
    again = Blend.from_checkpoint(read_weights(tmp_path / "m.pt"))
    assert again is not None and again.backbone == "search" and np.array_equal(again.mean, b.mean)
    old = {k: v for k, v in b.to_checkpoint().items() if k != "backbone"}  # written before the setting existed
    assert Blend.from_checkpoint({"blend": old}).backbone == "training"


def _set(seed: int, first: int, n_per_class: int) -> EmbeddingSet:
    rng = np.random.default_rng(seed)
    X, y, t = [], [], []
    for c in range(3):
        centre = rng.normal(size=6) * 3.0
        for i in range(n_per_class):
            X.append(centre + rng.normal(size=(4, 6)))
            y += [c] * 4
            t += [first + c * n_per_class + i] * 4
    return EmbeddingSet(np.vstack(X) * 5.0 + 2.0, np.asarray(y), ["a", "b", "c"], np.asarray(t),
                        np.zeros(len(y), dtype=np.int64))


def test_pick_blend_scores_every_part_with_searchs_statistics_when_given():
    import torch

    from workbench.models.heads import EmbeddingHead, seeded
    from workbench.train.embeddings_blend import _stats, pick_blend, set_map
    from workbench.train.triplet import TripletConfig
    from workbench.train.triplet_eval import embed

    train, val = _set(1, 0, 3), _set(2, 100, 1)
    head = seeded(EmbeddingHead, 6, hidden_dim=16, out_dim=8, dropout=0.0, generator=torch.Generator().manual_seed(0))
    cfg = TripletConfig(m=2, batch_size=6, max_epochs=2, patience=1, hidden_dim=16, out_dim=8, seed=0)
    rng = np.random.default_rng(9)
    search = (rng.normal(size=6).astype(np.float32), (0.5 + rng.random(6)).astype(np.float32))
    keep: list = []
    got = pick_blend(train, val, head, cfg, folds=2, keep=keep, search_stats=search)
    assert got.backbone == "search" and np.array_equal(got.mean, search[0]) and np.array_equal(got.std, search[1])
    assert keep and all(s is search for _, _, s in keep)  # every fold's backbone end is search's, not its rows'
    # the validation part's share-1 score is the backbone z-scored with search's statistics
    X = np.concatenate([val.X, train.originals().X])
    y = np.concatenate([val.y, train.originals().y])
    t = np.concatenate([val.track_ids, train.originals().track_ids])
    queries = np.arange(len(X)) < len(val)
    want = {w: set_map(blend_vectors(X, embed(head, X), weight=w, mean=search[0], std=search[1]), y, t, queries)
            for w in (0.0, 1.0)}
    assert got.scores["parts"][0]["part"] == "validation"
    assert got.scores["parts"][0]["set_map"]["1"] == pytest.approx(want[1.0])
    assert got.scores["parts"][0]["set_map"]["0"] == pytest.approx(want[0.0])
    own = pick_blend(train, val, head, cfg, folds=0)  # the default: the training rows' own statistics
    assert own.backbone == "training" and np.allclose(own.mean, _stats(train.X)[0])


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """Three folders of six clips, scanned, analysed and embedded with the feature frontend (once)."""
    from workbench.analysis import analyze_library
    from workbench.embed.batch import embed_library
    from workbench.embed.features import FeatureFrontend
    from workbench.library import Library

    root = tmp_path_factory.mktemp("blend_backbone")
    music = three_folder_music(root)
    with Library(root / "w.db") as lib:
        lib.scan(music, progress=False)
        analyze_library(lib, progress=False)
        embed_library(lib, backbone=FeatureFrontend(), progress=False)
    return root


def test_share_one_of_searchs_backbone_ranks_exactly_as_the_backbone(searched):
    import torch

    from workbench.embed.features import FeatureFrontend
    from workbench.library import Library
    from workbench.models.heads import EmbeddingHead, seeded
    from workbench.search import LibrarySearch
    from workbench.similarity.model import EmbeddingModel
    from workbench.train.embeddings_blend import blend_backbone_stats, search_window_stats

    fe = FeatureFrontend()
    head = seeded(EmbeddingHead, fe.dim, hidden_dim=16, out_dim=8, dropout=0.0, generator=torch.Generator().manual_seed(4))
    with Library(searched / "w.db") as lib:
        stats = search_window_stats(lib, fe)
        plain = LibrarySearch(lib, backbone=fe, model="backbone", progress=False).update()
        assert all(np.array_equal(a, b) for a, b in zip(stats, plain.window_stats(), strict=True))
        assert blend_backbone_stats("training", library=lib, backbone=fe) is None
        assert all(np.array_equal(a, b) for a, b in
                   zip(blend_backbone_stats("search", library=lib, backbone=fe), stats, strict=True))
        models = {w: EmbeddingModel(fe, head, None, 8.0, 2.0, weights_sha256="ab" * 32, blend=Blend(w, *stats, backbone="search"))
                  for w in (1.0, 0.5)}
        assert models[1.0].tag.endswith("-b1s") and "z-scored as search does" in models[1.0].said
        blended = {w: LibrarySearch(lib, backbone=fe, model=m, progress=False).update() for w, m in models.items()}
        differs = 0
        for track in lib.tracks():
            want = plain.similar(track.id, k=17, weights={"vibe": 1, "tempo": 0, "key": 0, "energy": 0})
            got = blended[1.0].similar(track.id, k=17, weights={"vibe": 1, "tempo": 0, "key": 0, "energy": 0})
            assert [r.track.id for r in got] == [r.track.id for r in want]
            assert np.allclose([r.match.score for r in got], [r.match.score for r in want], atol=1e-5)
            assert [r.track.id for r in blended[1.0].similar(track.id, k=17)] == [
                r.track.id for r in plain.similar(track.id, k=17)]  # default weights too
            half = blended[0.5].similar(track.id, k=17, weights={"vibe": 1, "tempo": 0, "key": 0, "energy": 0})
            differs += not np.allclose([r.match.score for r in half], [r.match.score for r in want], atol=1e-3)
        assert differs > 0  # the head's half of the cosine moves the scores: share 1 is not trivially the same index


def search_end_job(tmp_path, *, blend: float, invariance_clips: int = 1):
    """``(run, (mean, std))``: a one-epoch ``blend_backbone=search`` run on three folders of tones (feature frontend)
    and the bare backbone index's statistics after it."""
    from workbench.embed.features import FeatureFrontend
    from workbench.library import Library
    from workbench.runs import load_run
    from workbench.search import LibrarySearch
    from workbench.train.jobs import train_embeddings_job

    music = three_folder_music(tmp_path)
    config = {"epochs": 1, "n_views": 1, "window_s": 4.0, "invariance_clips": invariance_clips, "classes_from": "folder",
              "test_size": 0.34, "val_size": 0.34, "m": 2, "batch_size": 4, "blend": blend, "blend_backbone": "search"}
    with Library(tmp_path / "lib.db") as lib:
        lib.scan(music, progress=False)
        run = load_run(train_embeddings_job(lib, config=config, progress=False, experiments_root=tmp_path / "e")[1])
        return run, LibrarySearch(lib, backbone=FeatureFrontend(), model="backbone", progress=False).window_stats()


@pytest.mark.slow
def test_the_job_blends_with_searchs_backbone_when_asked(tmp_path):
    from workbench.models.heads import read_weights

    run, stats = search_end_job(tmp_path, blend=0.5)
    saved = Blend.from_checkpoint(read_weights(run.model_path))
    assert run.config["blend_backbone"] == "search" and run.metrics["blend"]["backbone"] == "search"
    assert saved.backbone == "search" and saved.weight == 0.5
    assert np.allclose(saved.mean, stats[0]) and np.allclose(saved.std, stats[1])  # search's own, not the rows'
    assert "as search ranks with it" in run.metrics["blend"]["said"]
    assert "baseline_training_stats" in run.metrics  # its backbone baseline is search's (share 1 scores it exactly)
    assert "z-scored as search does" in run.metrics["search"]["models"]["model"]


def test_the_model_card_says_whose_statistics_the_blend_z_scores_with():
    from workbench.registry_card import model_card

    for whose, said in (("search", "z-scored as workbench search z-scores the bare backbone"),
                        ("training", "z-scored with the training windows' statistics"),
                        (None, "z-scored with the training windows' statistics")):  # a run written before the setting
        blend = {"weight": 0.5, **({"backbone": whose} if whose else {})}
        card = model_card({"model_type": "head", "version": 1, "metadata": {}, "metrics": {"blend": blend}})
        assert said in card


def test_a_search_end_blend_of_share_one_scores_exactly_its_backbone_baseline():
    from types import SimpleNamespace

    import torch

    from workbench.models.heads import EmbeddingHead, seeded
    from workbench.train.embeddings_blend import _stats, apply_blend

    train, val, test = _set(1, 0, 3), _set(2, 100, 1), _set(3, 200, 2)
    head = seeded(EmbeddingHead, 6, hidden_dim=16, out_dim=8, dropout=0.0, generator=torch.Generator().manual_seed(0))
    search = (np.full(6, 1.5, dtype=np.float32), np.linspace(0.5, 3.0, 6).astype(np.float32))
    for weight, equal in ((1.0, True), (0.25, False)):
        result = SimpleNamespace(model=head, metrics={"model": {"test": {"map_at_r": 0.5}}, "baseline": {"test": {"x": 1}}})
        apply_blend(result, Blend(weight, *search, backbone="search"), train=train, val=val, test=test)
        m, b = result.metrics["model"], result.metrics["baseline"]
        assert result.metrics["baseline_training_stats"] == {"test": {"x": 1}}  # the triplet job's, kept
        assert (m["test"]["map_at_r"] == b["test"]["map_at_r"] and m["val"] == b["val"]) is equal
    result = SimpleNamespace(model=head, metrics={"model": {}, "baseline": {"test": {"x": 1}}})
    apply_blend(result, Blend(1.0, *_stats(train.X)), train=train, val=val, test=test)  # the training end: untouched
    assert result.metrics["baseline"] == {"test": {"x": 1}} and "baseline_training_stats" not in result.metrics
