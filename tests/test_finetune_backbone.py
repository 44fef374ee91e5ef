"""Issue 17: fine-tuning OpenL3's last blocks with the head (``--finetune-backbone``), off by default.

OpenL3 runs on the random-weight reference file in ``../shared/data/openl3-ref`` (skipped with a
reason when that folder is absent); the library is a few seeded two-second clips in two folders.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import harmonic_clip, low_high_library

from workbench.errors import ParameterError
from workbench.runs import load_run

torch = pytest.importorskip("torch")

SR = 22050
REF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "openl3-ref" / "openl3_audio_mel128_music.h5"
#: One epoch, one one-second frame per one-second window, one augmented view; no invariance clips: CPU-fast.
TINY = {"epochs": 1, "n_views": 1, "window_s": 1.0, "invariance_clips": 0, "classes_from": "folder",
        "test_size": 0.34, "val_size": 0.34, "m": 2, "batch_size": 4, "finetune_frames": 1}


def _write(path: Path, *, freq_hz: float, seed: int, duration_s: float = 2.2) -> None:
    harmonic_clip(path, freq_hz=freq_hz, seed=seed, duration_s=duration_s, sr=SR)


def _ref() -> Path:
    if not REF.is_file():
        pytest.skip(f"the OpenL3 reference weights are absent ({REF}; shared test data, not on a user's machine)")
    return REF


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    library = low_high_library(tmp_path_factory.mktemp("ft"), _write)
    yield library
    library.close()


@pytest.fixture(scope="module")
def frozen():
    from workbench.embed.openl3 import OpenL3, OpenL3Backbone

    return OpenL3Backbone(OpenL3.from_weights(_ref(), embedding_size=512))


@pytest.fixture(scope="module")
def tuned_run(lib, frozen):
    from workbench.train.jobs import train_embeddings_job

    job, path = train_embeddings_job(lib, config={**TINY, "backbone": "openl3", "openl3_weights": str(_ref()),
                                                  "finetune_backbone": True, "backbone_lr": 2e-5,
                                                  "finetune_blocks": 2, "lr": 1e-3},
                                     experiments_root=lib.workspace.experiments, progress=False)
    assert job.state == "completed"
    return load_run(path)


# ------------------------------------------------------------------ refusals (fast)


def test_fine_tuning_the_feature_frontend_is_refused_before_any_job(lib):
    from workbench.train.jobs import train_embeddings_job

    with pytest.raises(ParameterError, match=r"finetune_backbone needs the OpenL3 backbone \(--backbone openl3\); "
                                             r"got 'features-v1': it has no weights to tune"):
        train_embeddings_job(lib, config={**TINY, "backbone": "features", "finetune_backbone": True}, progress=False,
                             experiments_root=lib.workspace.experiments)
    assert lib.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


@pytest.mark.parametrize(("key", "value", "match"), [
    ("finetune_blocks", 5, r"finetune_blocks must be an int in \[1, 4\].*got 5"),
    ("finetune_blocks", 0, r"finetune_blocks must be an int in \[1, 4\].*got 0"),
    ("backbone_lr", 0, r"backbone_lr must be a learning rate in \(0, 1\]; got 0"),
    ("finetune_frames", 0, r"finetune_frames must be an int in \[1, 32\].*got 0"),
    ("finetune_backbone", "yes", r"finetune_backbone must be True or False; got 'yes'"),
])
def test_bad_fine_tuning_settings_are_refused(lib, key, value, match):
    from workbench.train.jobs import train_embeddings_job

    with pytest.raises(ParameterError, match=match):
        train_embeddings_job(lib, config={**TINY, "backbone": "features", key: value}, progress=False,
                             experiments_root=lib.workspace.experiments)


def test_the_cnn_is_refused_as_trained_whole_already():
    from workbench.train.backbones import cnn_backbone
    from workbench.train.finetune import check_finetune

    with pytest.raises(ParameterError, match=r"got 'cnn-v1-[0-9a-f]{12}': the CNN \(--backbone cnn\) is trained whole"):
        check_finetune({"finetune_backbone": True}, cnn_backbone(search=False))
    assert check_finetune({}, cnn_backbone(search=False)) is False  # off by default


def test_cli_flags_reach_the_job(lib, capsys):
    from workbench.cli import main

    code = main(["--db", str(lib.path), "--quiet", "train", "embeddings", "--backbone", "features",
                 "--finetune-backbone", "--backbone-lr", "3e-5", "--finetune-blocks", "1"])
    assert code != 0
    assert "finetune_backbone needs the OpenL3 backbone" in capsys.readouterr().err


def test_blocks_are_counted_from_the_last():
    from workbench.embed.openl3_tuned import block_convs

    assert list(block_convs(1)) == [6, 7] and list(block_convs(2)) == [4, 5, 6, 7] and list(block_convs(4)) == list(range(8))


# ------------------------------------------------------------------ a tiny fine-tuning run


@pytest.mark.slow
def test_last_blocks_change_earlier_ones_do_not_and_lr_groups_are_as_asked(tuned_run, frozen):
    from workbench.embed.openl3_tuned import load_tuned

    model, record = load_tuned(tuned_run.path / "backbone.pt")
    assert record == {"blocks": 2, "backbone_lr": 2e-5, "base_weights_sha256": frozen.model.weights_sha256,
                      "said": "openl3-512 (fine-tuned: last 2 blocks, lr 2e-05)"}
    before, after = frozen.model.network, model.network
    assert torch.equal(before.bn0.running_mean, after.bn0.running_mean) and torch.equal(before.bn0.weight, after.bn0.weight)
    for i in range(8):
        same = torch.equal(before.convs[i].weight, after.convs[i].weight)
        assert same == (i < 4), f"conv {i}: {'unchanged' if same else 'changed'}"
        if i >= 4:  # moved, but by steps of the backbone's small learning rate
            assert 0 < float((before.convs[i].weight - after.convs[i].weight).detach().abs().max()) < 1e-2
    groups = {g["name"]: g for g in tuned_run.metrics["backbone_finetune"]["param_groups"]}
    assert groups["head"]["lr"] == 1e-3 and groups["backbone"]["lr"] == 2e-5
    assert groups["backbone"]["n_params"] == sum(p.numel() for c in before.convs[4:] for p in c.parameters())


@pytest.mark.slow
def test_run_records_the_tuned_backbone_everywhere(tuned_run, frozen):
    info = tuned_run.info["backbone"]
    assert info["said"] == "openl3-512 (fine-tuned: last 2 blocks, lr 2e-05)"
    assert info["base_name"] == "openl3-mel128-music-512" and info["name"].startswith("openl3-mel128-music-512-ft2-")
    assert info["finetuned"]["file"] == "backbone.pt" and info["dim"] == 512
    assert tuned_run.config["finetune_backbone"] is True and tuned_run.config["finetune_blocks"] == 2
    ft = tuned_run.metrics["backbone_finetune"]
    assert ft["said"] == info["said"] and ft["weights_sha256"] != frozen.model.weights_sha256
    assert set(tuned_run.metrics["baselines"]) == {"backbone", "random_head"}  # the frozen OpenL3, same windows
    blob = torch.load(tuned_run.path / "backbone.pt", weights_only=True)  # data only
    assert blob["format"] == "workbench-openl3-tuned-v1"


@pytest.mark.slow
def test_search_and_embedding_use_the_tuned_weights(tuned_run, lib, frozen):
    from workbench.registry import Registry
    from workbench.search import LibrarySearch
    from workbench.similarity.model import model_from_run, resolve_model

    model = model_from_run(tuned_run)
    assert model.backbone.name == tuned_run.info["backbone"]["name"] != frozen.name
    assert "fine-tuned: last 2 blocks" in model.said
    y = np.asarray(sf.read(str(lib.tracks()[0].path), dtype="float32")[0])
    tuned_frames, ts = model.backbone.embed(y, sr=SR)
    frozen_frames, _ = frozen.embed(y, sr=SR)
    assert tuned_frames.shape == frozen_frames.shape
    assert not np.allclose(tuned_frames, frozen_frames, atol=1e-6)  # different vectors than the frozen backbone

    meta = {"backbone": tuned_run.info["backbone"], "run_id": tuned_run.run_id}
    with Registry(lib, cleanup=False) as reg:
        reg._insert({"model_type": "head", "version": 1, "metadata": meta, "run_id": tuned_run.run_id,
                     "created_at": datetime.now(timezone.utc).isoformat()}, activate=True)
    active = resolve_model(lib, None, backbone=frozen)  # the active head serves the library's OpenL3
    assert active.name == "head@1" and active.backbone.name == model.backbone.name
    np.testing.assert_array_equal(active.windows(tuned_frames, ts), model.windows(tuned_frames, ts))
    search = LibrarySearch(lib, backbone=frozen, progress=False)
    assert search.folder.name.startswith(model.backbone.name + "+head1-")  # never the frozen backbone's index
    bare = LibrarySearch(lib, backbone=frozen, model="backbone", progress=False)
    assert bare.folder.name == frozen.name
    json.dumps(active.said)


@pytest.mark.slow
def test_export_takes_the_runs_tuned_backbone(tuned_run):
    from workbench.export.run_export import _audio_backbone

    net = _audio_backbone(tuned_run, None)
    from workbench.embed.openl3_tuned import load_tuned

    expected, _ = load_tuned(tuned_run.path / "backbone.pt")
    for a, b in zip(net.network.state_dict().values(), expected.network.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_model_card_says_the_backbone_was_fine_tuned(tuned_run):
    from workbench.registry_card import model_card

    card = model_card({"model_type": "head", "version": 1, "metadata": {"backbone": tuned_run.info["backbone"]}})
    assert "openl3-512 (fine-tuned: last 2 blocks, lr 2e-05)" in card


def test_demo_refuses_fine_tuning_without_openl3_before_any_work(tmp_path, capsys):
    from workbench.cli import main

    code = main(["--db", str(tmp_path / "w.db"), "--quiet", "demo", "--finetune-backbone", "--backbone", "features",
                 "--folder", str(tmp_path / "demo")])
    assert code != 0 and "--finetune-backbone needs --backbone openl3" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_rows_that_would_not_fit_in_memory_are_refused(frozen, monkeypatch):
    from workbench.train import finetune
    from workbench.train.datasets import EmbeddingSet

    data = EmbeddingSet(np.zeros((3, 512), np.float32), np.array([0, 0, 1]), ["a", "b"], np.array([1, 1, 2]),
                        np.zeros(3), rows={"start_s": np.zeros(3), "end_s": np.ones(3)})
    monkeypatch.setattr(finetune, "MAX_ROW_BYTES", 2 * 4 * 128 * 199)  # room for two one-frame rows
    plan = finetune.FinetunePlan(backbone=frozen, blocks=2, lr=1e-5, frames=1, seed=0)
    with pytest.raises(ParameterError, match=r"fine-tuning needs 0\.0 GiB for the spectrograms of 3 windows x 1 "
                                             r"frames.*lower finetune_frames, raise window_s"):
        plan.rows(None, data, progress=False)


@pytest.mark.slow
def test_the_search_gate_compares_a_tuned_run_with_the_frozen_backbone(lib, frozen, monkeypatch, tmp_path):
    """The search gate's 'backbone' was the tuned network without the head (its index then left behind in
    similarity/), not the frozen OpenL3 that search without the head uses, as the other gates compare with."""
    import workbench.train.embeddings_search as es
    from workbench.train.jobs import train_embeddings_job

    seen: dict = {}

    def spy(library, save_model, **kwargs):
        seen.update(kwargs)
        return es.not_measured("spied")

    monkeypatch.setattr(es, "search_record", spy)
    job, _ = train_embeddings_job(lib, config={**TINY, "backbone": "openl3", "openl3_weights": str(_ref()),
                                               "finetune_backbone": True, "backbone_lr": 2e-5, "finetune_blocks": 2,
                                               "lr": 1e-3}, experiments_root=tmp_path / "e", progress=False)
    assert job.state == "completed"
    assert "-ft2-" in seen["backbone_info"]["name"]  # the head's own backbone is the tuned network ...
    assert seen["baseline"] is not None and seen["baseline"].name == frozen.name  # ... compared with the frozen one
