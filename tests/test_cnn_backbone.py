"""Issue 19: the trainable CNN backbone on log-mel patches (audio in, exports whole), ``--backbone cnn``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import low_high_library

from workbench.runs import load_run

torch = pytest.importorskip("torch")

from workbench.models.cnn import (  # noqa: E402
    N_FRAMES,
    N_MELS,
    POWER_FLOOR,
    SAMPLE_RATE_HZ,
    SPECTRUM_GAIN,
    WINDOW_SAMPLES,
    AudioCNN,
    LogMel,
    MelCNN,
    build_cnn,
    load_cnn,
    save_cnn,
)
from workbench.models.cnn_backbone import CNNBackbone, MelPatches, audio_windows  # noqa: E402

SR = 22050
#: A tiny CNN run: two folders of four tracks, few windows, two epochs.
TINY = {"epochs": 2, "n_views": 1, "invariance_clips": 2, "classes_from": "folder", "test_size": 0.34,
        "val_size": 0.34, "m": 2, "batch_size": 4, "backbone": "cnn"}


def _signal(seed: int, *, freq_hz: float = 220.0, duration_s: float = 3.0, sr: int = SR) -> np.ndarray:
    """A real-ish signal: a harmonic tone with a tremolo, a decaying noise burst every half second, hiss."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sr)) / sr
    y = sum(0.3 / k * np.sin(2 * np.pi * k * freq_hz * t + rng.uniform(0, 6)) for k in (1, 2, 3, 5))
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t))
    y = y + 0.3 * rng.standard_normal(t.size) * np.exp(-30 * (t % 0.5))
    return (y + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def _write(path: Path, *, freq_hz: float, seed: int, duration_s: float = 12.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), _signal(seed, freq_hz=freq_hz, duration_s=duration_s), SR)


@pytest.fixture(scope="module")
def tiny_library(tmp_path_factory):
    lib = low_high_library(tmp_path_factory.mktemp("cnn"), _write)
    yield lib
    lib.close()


@pytest.fixture(scope="module")
def tiny_run(tiny_library, tmp_path_factory):
    from workbench.train.jobs import train_embeddings_job

    job, path = train_embeddings_job(tiny_library, config=TINY, progress=False,
                                     experiments_root=tmp_path_factory.mktemp("exp"))
    assert job.state == "completed"
    return load_run(path)


def test_contract_shapes_and_unit_embeddings():
    model = build_cnn(seed=0)
    assert (model.sample_rate_hz, model.window_samples, model.window_s) == (22050, 66150, 3.0)
    assert model.hop_samples == 512 and (model.n_mels, model.n_frames) == (128, 128)
    x = torch.from_numpy(np.stack([_signal(1), _signal(2)])[:, :WINDOW_SAMPLES])
    with torch.no_grad():
        patches, emb = model.frontend(x), model(x)
    assert patches.shape == (2, N_MELS, N_FRAMES)
    assert emb.shape == (2, 128) and torch.allclose(emb.norm(dim=1), torch.ones(2), atol=1e-5)
    assert MelCNN(embedding_dim=32)(patches.reshape(2, -1)).shape == (2, 32)  # flattened rows too


def test_the_cnn_backbone_is_described_with_its_weights_and_searches(tmp_path):
    """Search (``LibrarySearch(backbone=CNNBackbone)``) names its backbone with describe_backbone, which read the
    AudioCNN's weights_sha256 method as a string and failed: a CNN could not rank search at all."""
    from workbench.embed.batch import describe_backbone
    from workbench.library import Library
    from workbench.search import LibrarySearch

    b = CNNBackbone(build_cnn(seed=0))
    assert describe_backbone(b) == f"{b.name} (weights sha256 {b.weights_sha256[:12]})"
    with Library(tmp_path / "lib.db") as lib:
        assert LibrarySearch(lib, backbone=b, model="backbone", progress=False).model_said == f"backbone ({b.name})"


def test_same_seed_same_weights_and_outputs_other_seed_differs():
    a, b, c = build_cnn(seed=3), build_cnn(seed=3), build_cnn(seed=4)
    assert a.weights_sha256() == b.weights_sha256() != c.weights_sha256()
    x = torch.from_numpy(_signal(5)[None, :WINDOW_SAMPLES])
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
        assert not torch.allclose(a(x), c(x))


def test_frontend_matches_librosa_log_mel():
    import librosa

    y = _signal(7)[:WINDOW_SAMPLES] * 0.25  # any level: the window is normalised by its peak
    with torch.no_grad():
        ours = LogMel()(torch.from_numpy(y[None]))[0].numpy()
    mel = librosa.feature.melspectrogram(y=y / np.abs(y).max(), sr=SAMPLE_RATE_HZ, n_fft=1024, hop_length=512,
                                         center=False, power=2.0, n_mels=N_MELS, norm=None)
    ref = np.log(np.maximum(mel[:, :N_FRAMES] * (SPECTRUM_GAIN / 512.0) ** 2, POWER_FLOOR))
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-3
    assert (ref > np.log(POWER_FLOOR) + 1).mean() > 0.5  # most bins are above the floor: the test compares music


def test_frontend_keeps_its_range_in_float16():
    x = torch.from_numpy(np.stack([_signal(8), 0.01 * _signal(9)])[:, :WINDOW_SAMPLES])
    frontend = LogMel()
    with torch.no_grad():
        full = frontend(x)
        half = frontend.half()(x.half()).float()
    assert torch.isfinite(half).all()
    psnr = 10 * np.log10(float((full.max() - full.min()) ** 2 / ((full - half) ** 2).mean()))
    assert psnr > 50


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    model = build_cnn(seed=1, embedding_dim=64)
    save_cnn(model, tmp_path / "cnn.pt")
    again = load_cnn(tmp_path / "cnn.pt")
    assert isinstance(again, AudioCNN) and again.weights_sha256() == model.weights_sha256()
    data = torch.load(tmp_path / "cnn.pt", weights_only=True)
    assert data["config"]["kind"] == "audio_cnn"


def test_bad_values_are_refused_clearly(tmp_path):
    from workbench.models.heads import CheckpointError, EmbeddingHead, save_checkpoint

    with pytest.raises(ValueError, match="embedding_dim must be"):
        MelCNN(embedding_dim=0)
    with pytest.raises(ValueError, match=r"dropout must be a float in \[0, 1\); got 1.5"):
        MelCNN(dropout=1.5)
    with pytest.raises(ValueError, match="power_floor must be a number > 0; got 0"):
        LogMel(power_floor=0)
    with pytest.raises(ValueError, match="seed must be"):
        build_cnn(seed=-1)
    with pytest.raises(ValueError, match=r"hop_s must be a number of seconds in \[0.1, 10\]; got 0"):
        CNNBackbone(build_cnn(), hop_s=0)
    with pytest.raises(ValueError, match="model must be an AudioCNN; got str"):
        CNNBackbone("x")  # type: ignore[arg-type]
    save_checkpoint(EmbeddingHead(8), tmp_path / "head.pt")
    with pytest.raises(CheckpointError, match="config.kind must be 'audio_cnn'; got 'embedding_head'"):
        load_cnn(tmp_path / "head.pt")


def test_backbones_window_audio_at_any_rate():
    y = np.stack([_signal(1, duration_s=7.0, sr=44100)] * 2)  # stereo 44.1 kHz
    windows, starts = audio_windows(y, sr=44100, hop_s=1.0)
    assert windows.shape == (5, WINDOW_SAMPLES) and np.allclose(starts, [0, 1, 2, 3, 4])
    short, _ = audio_windows(_signal(2, duration_s=1.0), sr=SR, hop_s=0.5)
    assert short.shape == (1, WINDOW_SAMPLES)  # padded to one window
    b = CNNBackbone(build_cnn(seed=0), hop_s=1.0)
    emb, ts = b.embed(y, sr=44100)
    assert emb.shape == (5, b.dim) and b.name.startswith("cnn-v1-") and b.settings["sample_rate_hz"] == 22050
    patches, _ = MelPatches().embed(y, sr=44100)
    assert patches.shape == (2, N_MELS * N_FRAMES)


def test_training_reduces_the_triplet_loss_on_a_tiny_synthetic_set():
    from workbench.train.datasets import EmbeddingSet
    from workbench.train.triplet import TripletConfig, embed, train_triplet

    frontend = LogMel()
    rows, y, tracks = [], [], []
    for track in range(12):  # two classes: low tones and high tones, 3 windows per track
        f = (110.0 + 10 * track) if track % 2 == 0 else (1500.0 + 50 * track)
        audio = _signal(track, freq_hz=f, duration_s=9.0)
        with torch.no_grad():
            rows.append(frontend(torch.from_numpy(audio[:3 * WINDOW_SAMPLES].reshape(3, -1))).reshape(3, -1).numpy())
        y += [track % 2] * 3
        tracks += [track] * 3
    X = np.concatenate(rows)
    data = EmbeddingSet(X, y, ["low", "high"], tracks, np.zeros(len(y)))
    train, val = data.subset(np.asarray(tracks) < 8), data.subset(np.asarray(tracks) >= 8)
    cfg = TripletConfig(max_epochs=6, patience=6, lr=1e-3, m=4, batch_size=8, seed=0, on_collapse="stop")
    net = build_cnn(seed=0).net

    def full_loss(model) -> float:  # mean over every triplet of the training rows (not only the mined ones)
        from pytorch_metric_learning import distances, losses, reducers

        loss = losses.TripletMarginLoss(margin=0.2, distance=distances.CosineSimilarity(),
                                        reducer=reducers.MeanReducer())
        return float(loss(torch.from_numpy(embed(model, train.X)), torch.from_numpy(train.y)))

    before = full_loss(net)
    result = train_triplet(train, val, config=cfg, progress=False, model=net)
    assert full_loss(result.model) < 0.5 * before
    again = train_triplet(train, val, config=cfg, progress=False, model=build_cnn(seed=0).net)
    assert [h["train_loss"] for h in again.history] == [h["train_loss"] for h in result.history]  # same seed


def test_job_trains_the_cnn_end_to_end_and_saves_it_whole(tiny_run):
    assert tiny_run.config["backbone"] == "cnn" and tiny_run.config["window_s"] == 3.0
    assert tiny_run.info["backbone"]["name"].startswith("cnn-v1-")
    assert tiny_run.info["backbone"]["trained"] == "trained in this run"
    model = load_cnn(tiny_run.model_path)
    assert model.weights_sha256()[:12] == tiny_run.info["backbone"]["name"][-12:]
    untrained = build_cnn(seed=0)
    assert model.weights_sha256() != untrained.weights_sha256()
    m = tiny_run.metrics
    assert set(m["baselines"]) == {"backbone", "random_head"} and "map_at_r" in m["model"]
    assert "invariance" in m


def test_backbone_cnn_by_name_finds_the_trained_run(tiny_run, monkeypatch):
    from workbench.train.backbones import backbone_by_name, cnn_backbone

    monkeypatch.delenv("WORKBENCH_CNN_WEIGHTS", raising=False)
    b = cnn_backbone(tiny_run.model_path)
    assert b.name == tiny_run.info["backbone"]["name"]
    monkeypatch.setenv("WORKBENCH_CNN_WEIGHTS", str(tiny_run.model_path))
    assert backbone_by_name("cnn").name == b.name
    monkeypatch.setenv("WORKBENCH_CNN_WEIGHTS", os.fspath(tiny_run.path / "missing.pt"))
    with pytest.raises(ValueError, match=r"the CNN weights \(\$WORKBENCH_CNN_WEIGHTS\) must be a file"):
        backbone_by_name("cnn")
    with pytest.raises(ValueError, match=r"backbone must be one of \['auto', 'features', 'openl3', 'cnn'\]; got 'cnnn'"):
        backbone_by_name("cnnn")


def test_cli_accepts_backbone_cnn(tiny_library, tmp_path, capsys):
    from workbench.cli import main

    rc = main(["--db", str(tiny_library.path), "--quiet", "train", "embeddings", "--backbone", "cnn", "--epochs", "1",
               "--set", "n_views=1", "--set", "invariance_clips=1", "--set", "m=2", "--set", "batch_size=4",
               "--set", "test_size=0.34", "--set", "val_size=0.34", "--classes", "folder",
               "--experiments", str(tmp_path / "exp")])
    out = capsys.readouterr().out
    assert rc == 0 and "backbone: cnn" in out
    model_pt = next((tmp_path / "exp").glob("*/model.pt"))
    assert main(["--db", str(tiny_library.path), "--quiet", "embed", "--backbone", "cnn", "--weights", str(model_pt)]) == 0
    out = capsys.readouterr().out
    assert f"CNN cnn-v1-{load_cnn(model_pt).weights_sha256()[:12]} (weights file" in out and "8 embedded" in out
    with pytest.raises(SystemExit):
        main(["--db", str(tiny_library.path), "train", "embeddings", "--backbone", "cnnx"])
    assert "invalid choice: 'cnnx'" in capsys.readouterr().err


def test_converts_whole_with_coremltools_and_matches_pytorch(tmp_path):
    """Audio in: the frontend converts with the network (conv, matmul, log, ...; every op one the
    NumPy MIL evaluator computes), and the float16 program stays close to PyTorch."""
    ct = pytest.importorskip("coremltools")
    from workbench.export import mil_eval

    model = build_cnn(seed=0)
    windows = np.stack([_signal(11, freq_hz=220.0), 0.05 * _signal(12, freq_hz=1800.0)])[:, :WINDOW_SAMPLES]
    traced = torch.jit.trace(model, torch.from_numpy(windows[:1]))
    ml = ct.convert(traced, inputs=[ct.TensorType(name="samples", shape=(1, WINDOW_SAMPLES), dtype=np.float32)],
                    outputs=[ct.TensorType(name="embedding")], convert_to="mlprogram",
                    minimum_deployment_target=ct.target.macOS13, compute_precision=ct.precision.FLOAT16)
    path = tmp_path / "cnn.mlpackage"
    ml.save(str(path))
    fn = mil_eval.main_function(mil_eval.load_program(path))
    ops = {op.op_type for op in fn.operations}
    assert {"conv", "matmul", "log", "reduce_max"} <= ops and ops <= set(mil_eval.SUPPORTED_OPS) | {"const"}

    def reference(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(np.asarray(batch, np.float32).reshape(-1, WINDOW_SAMPLES))).numpy()

    report = mil_eval.parity(path, reference, windows)
    assert not report.fp16_overflow
    assert report.psnr_db >= 60  # the parity target (72.8 dB on four real-music windows, seed-0 weights)
