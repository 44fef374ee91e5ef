"""Term weights learned from out-of-fold vibe (issue 17): fitted on pairs whose query the scoring head never saw, only
when a run asks for them (``learned_oof``, off by default: search does not read them)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import three_folder_music

from workbench.errors import ParameterError
from workbench.similarity.learned_weights import fit_terms, fit_weights, pair_terms, training_digest

torch = pytest.importorskip("torch")


def test_learned_oof_is_a_bool_and_is_refused_where_the_run_trains_no_fold_heads(tmp_path):
    from workbench.library import Library
    from workbench.train.backbones import cnn_backbone
    from workbench.train.embeddings_job import EMBEDDING_DATA_DEFAULTS, train_embeddings_job
    from workbench.train.embeddings_oof import check_learned_oof

    assert EMBEDDING_DATA_DEFAULTS["learned_oof"] is False  # off by default: every run (make demo) skips it
    with Library(tmp_path / "lib.db") as lib:  # refused before any job is created
        for config, message in (({"learned_oof": "yes"}, "learned_oof must be true or false; got 'yes'"),
                                ({"learned_oof": 1}, "learned_oof must be true or false; got 1"),
                                ({"learned_oof": True, "blend": None}, r"here blend is not 'auto' \(blend=None"),
                                ({"learned_oof": True, "blend": 0.5}, "here blend is not 'auto'"),
                                ({"learned_oof": True, "blend_folds": 0}, "here blend_folds is 0"),
                                ({"blend_folds": 1}, "blend_folds must be 0 or an int >= 2; got 1")):
            with pytest.raises(ParameterError, match=message):
                train_embeddings_job(lib, config=config, progress=False, experiments_root=tmp_path / "e")
        assert lib.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    with pytest.raises(ParameterError, match="needs the blend's fold heads.*the CNN backbone picks no blend"):
        check_learned_oof(True, blend="auto", blend_folds=3, backbone=cnn_backbone(search=False), finetune=False)
    from workbench.embed.features import FeatureFrontend

    with pytest.raises(ParameterError, match="a fine-tuned backbone picks no blend"):
        check_learned_oof(True, blend="auto", blend_folds=3, backbone=FeatureFrontend(), finetune=True)
    assert check_learned_oof(True, blend="auto", blend_folds=2, backbone=FeatureFrontend(), finetune=False) is True
    assert check_learned_oof(False, blend=None, blend_folds=0, backbone=FeatureFrontend(), finetune=False) is False


def test_fit_terms_is_the_fit_of_fit_weights_and_refuses_rows_it_cannot_fit():
    from test_learned_weights import grouped_index, split

    index, groups = grouped_index(tempo="group", seed=3)
    train, _ = split(groups)
    learned = fit_weights(index, groups, training_hashes=train)
    X, q, c = pair_terms(index, train)
    y = np.asarray([groups[int(a)] == groups[int(b)] for a, b in zip(q, c, strict=True)], dtype=np.int64)
    again = fit_terms(X, y, groups_by="folder", n_tracks=len(train), trained_on=training_digest(train.values()))
    assert again == learned
    with pytest.raises(ParameterError, match="labels of both kinds"):
        fit_terms(X, np.zeros(len(X), dtype=np.int64), groups_by="folder", n_tracks=3, trained_on="x")
    with pytest.raises(ParameterError, match=r"pair rows must be \(p, 4\)"):
        fit_terms(X[:, :3], y, groups_by="folder", n_tracks=3, trained_on="x")




@pytest.mark.slow
def test_the_job_fits_weights_on_out_of_fold_pairs_of_its_training_tracks(tmp_path):
    from workbench.library import Library
    from workbench.runs import load_run
    from workbench.train.jobs import train_embeddings_job

    music = three_folder_music(tmp_path)
    config = {"epochs": 2, "n_views": 1, "window_s": 4.0, "invariance_clips": 1, "classes_from": "folder",
              "test_size": 0.34, "val_size": 0.34, "m": 2, "batch_size": 4, "blend": "auto", "blend_folds": 3,
              "learned_oof": True}
    with Library(tmp_path / "lib.db") as lib:
        lib.scan(music, progress=False)
        run = load_run(train_embeddings_job(lib, config=config, progress=False, experiments_root=tmp_path / "e")[1])
        held = set(run.metrics["held_out"]["track_hashes"])
        train = [t.content_hash for t in lib.tracks() if t.content_hash not in held]
    oof = run.metrics["learned_weights_oof"]
    assert oof["status"] == "fitted" and oof["folds"] == 3 and oof["said"].startswith("out-of-fold (3 fold heads)")
    learned = oof["learned"]
    # a small library trains on folds: all 12 tracks that are not held out are in a fold, each queries the 11 others
    assert len(held) == 6 and learned["n_tracks"] == 12 and learned["n_pairs"] == 12 * 11
    assert learned["n_positive"] == 12 * 3  # four tracks per folder outside the held-out: three others each
    assert learned["trained_on"] == training_digest(train)  # the held-out tracks never enter
    assert sum(learned["weights"].values()) == pytest.approx(1.0) and learned["weights"]["vibe"] > 0
    assert [p.name for p in (tmp_path / "similarity").iterdir()] == ["features-v1"]  # the fold heads' indexes removed


@pytest.mark.slow
def test_a_default_run_picks_its_blend_on_folds_and_fits_no_out_of_fold_weights(tmp_path, monkeypatch):
    import workbench.train.embeddings_oof as oof
    from workbench.library import Library
    from workbench.runs import load_run
    from workbench.train.jobs import train_embeddings_job

    def never(*args, **kwargs):
        raise AssertionError("out-of-fold weights fitted on a run that did not ask for them")

    monkeypatch.setattr(oof, "oof_learned_weights", never)
    music = three_folder_music(tmp_path)
    config = {"epochs": 1, "n_views": 1, "window_s": 4.0, "invariance_clips": 1, "classes_from": "folder",
              "test_size": 0.34, "val_size": 0.34, "m": 2, "batch_size": 4}  # blend "auto" on 3 folds: the default
    with Library(tmp_path / "lib.db") as lib:
        lib.scan(music, progress=False)
        run = load_run(train_embeddings_job(lib, config=config, progress=False, experiments_root=tmp_path / "e")[1])
    assert run.config["learned_oof"] is False and run.config["blend"] == "auto"
    assert [p["part"] for p in run.metrics["blend"]["parts"]] == ["fold 1", "fold 2", "fold 3"]  # the fold heads ran
    assert "learned_weights_oof" not in run.metrics
