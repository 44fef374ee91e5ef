"""The OpenL3 port: every variant builds and runs; parity with the original TF/kapre openl3 0.4.2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.embed import openl3
from workbench.errors import ParameterError

REF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "openl3-ref"
WEIGHTS = REF / "openl3_audio_mel128_music.h5"


@pytest.fixture(scope="module")
def ref():
    if not WEIGHTS.is_file():
        pytest.skip(f"OpenL3 reference data not present at {REF} (shared test data, absent on a user's machine)")
    return {case: np.load(REF / f"openl3ref_mel128_music_{case}.npz") for case in ("a_chirp44k", "b_egypt30s")}


@pytest.fixture(scope="module")
def models(ref):
    return {e: openl3.OpenL3.from_weights(WEIGHTS, embedding_size=e) for e in openl3.EMBEDDING_SIZES}


@pytest.mark.parametrize("input_repr", openl3.INPUT_REPRS)
@pytest.mark.parametrize("content_type", openl3.CONTENT_TYPES)
@pytest.mark.parametrize("embedding_size", openl3.EMBEDDING_SIZES)
def test_every_variant_builds_and_runs(input_repr, content_type, embedding_size):
    torch.manual_seed(0)  # the network's random init, in the test only
    model = openl3.OpenL3(input_repr, content_type, embedding_size)
    windows = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 48000)).astype(np.float32) * 0.1)
    with torch.inference_mode():
        spec = model.frontend(windows)
        out = model(windows)
    freq = {"linear": 257, "mel128": 128, "mel256": 256}[input_repr]
    assert spec.shape == (2, 1, freq, 197 if input_repr == "linear" else 199)
    assert out.shape == (2, embedding_size) and torch.isfinite(out).all()
    assert model.name == f"openl3-{input_repr}-{content_type}-{embedding_size}"


def test_network_alone_matches_the_original(ref, models):
    for case, d in ref.items():
        for hop in ("0p1", "0p5"):
            key = f"frontend_output_hop{hop}"
            if key not in d:
                continue
            spec = torch.from_numpy(d[key]).permute(0, 3, 1, 2).contiguous()
            for e, model in models.items():
                with torch.inference_mode():
                    out = model.network(spec).numpy()
                np.testing.assert_allclose(out, d[f"embedding_{e}_hop{hop}"], rtol=1e-4, atol=1e-3,
                                           err_msg=f"{case} {e} hop {hop}")


def test_frontend_matches_kapre(ref, models):
    d = ref["a_chirp44k"]
    windows = torch.from_numpy(d["frontend_input_windows_hop0p1"][:, 0])
    with torch.inference_mode():
        spec = models[6144].frontend(windows).numpy()
    expected = d["frontend_output_hop0p1"].transpose(0, 3, 1, 2)
    loud = expected >= -40.0
    assert np.abs(spec - expected)[loud].max() < 5e-3  # dB
    # before dB: the mel magnitude, relative to its maximum
    frames = torch.nn.functional.pad(windows, (0, 198 * 242 + 2048 - 48000)).unfold(-1, 2048, 242)[:, :199]
    mag = (torch.fft.rfft(frames * models[6144].frontend.window, dim=-1).abs() @ models[6144].frontend.mel.T).numpy()
    ref_mag = d["frontend_mel_magnitude_hop0p1"][..., 0]
    assert np.abs(mag - ref_mag).max() / ref_mag.max() < 1e-5


@pytest.mark.parametrize("from_48k", [False, True])
def test_end_to_end_matches_the_original(ref, models, from_48k):
    """From the file's audio (our soxr resampling) and from openl3's own 48 kHz signal (chirp only)."""
    for case, d in ref.items():
        if from_48k and case != "a_chirp44k":
            continue
        y = d["audio_48k_mono"] if from_48k else d["audio"]
        sr = 48000 if from_48k else int(d["sr"])
        y = y.T if y.ndim == 2 else y  # ours is (channels, n)
        for e, model in models.items():
            for hop_s, hop in ((0.1, "0p1"), (0.5, "0p5")):
                emb, ts = openl3.embed(y, sr=sr, model=model, hop_s=hop_s, batch_size=8)
                expected = d[f"embedding_{e}_hop{hop}"]
                assert emb.shape == expected.shape
                np.testing.assert_array_equal(ts, d[f"timestamps_hop{hop}"])
                assert np.abs(emb - expected).max() <= 2e-2 * np.abs(expected).max()
                cos = (emb * expected).sum(1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(expected, axis=1)
                assert cos.min() >= 0.9999, f"{case} {e} {hop}"


def test_framing_semantics():
    y = np.ones(48000 + 100, dtype=np.float32)
    w, ts = openl3.frame(y, sr=48000, hop_s=0.1, center=True)
    # 24000 zeros + 48100 samples = 72100 -> padded to 72000 + 4800k: n = 1 + ceil(24100 / 4800) = 7
    assert w.shape == (7, 48000) and np.allclose(ts, np.arange(7) * 0.1)
    assert w[0, :24000].max() == 0 and w[0, 24000] == 1
    w2, _ = openl3.frame(np.ones(1000, dtype=np.float32), sr=48000, hop_s=0.5, center=False)
    assert w2.shape == (1, 48000) and w2[0, 1000:].max() == 0


def test_weight_errors(tmp_path, monkeypatch):
    monkeypatch.delenv(openl3.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    with pytest.raises(openl3.WeightsError, match=r"no OpenL3 weights found \(looked for openl3_audio_mel256_env\.h5 in: .*models/openl3"):
        openl3.OpenL3.from_weights(input_repr="mel256", content_type="env")
    with pytest.raises(openl3.WeightsError, match="no OpenL3 weight file at"):
        openl3.OpenL3.from_weights(tmp_path / "missing.h5")
    odd = tmp_path / "weights.h5"
    odd.write_bytes(b"")
    with pytest.raises(openl3.WeightsError, match="cannot tell the input representation"):
        openl3.OpenL3.from_weights(odd)
    with pytest.raises(ParameterError, match="input_repr must be one of"):
        openl3.OpenL3("mel64")
    with pytest.raises(ParameterError, match="embedding_size must be one of"):
        openl3.OpenL3("mel128", "music", 1024)


def test_mislabelled_weight_file_is_refused(ref, tmp_path):
    """The mel128 file renamed as a linear-spectrogram file: its frontend layer gives it away."""
    import shutil

    fake = tmp_path / "openl3_audio_linear_music.h5"
    shutil.copy(WEIGHTS, fake)
    with pytest.raises(openl3.WeightsError, match="saved with a melspectrogram frontend.*input_repr='linear'"):
        openl3.OpenL3.from_weights(fake)


def test_found_through_models_folder(ref, tmp_path, monkeypatch):
    import shutil

    (tmp_path / "models" / "openl3").mkdir(parents=True)
    shutil.copy(WEIGHTS, tmp_path / "models" / "openl3" / WEIGHTS.name)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.delenv(openl3.WEIGHTS_ENV, raising=False)
    assert openl3.find_weights() == tmp_path / "models" / "openl3" / WEIGHTS.name
    monkeypatch.setenv(openl3.WEIGHTS_ENV, str(tmp_path / "models" / "openl3"))
    assert openl3.OpenL3.from_weights(embedding_size=512).embedding_size == 512


def test_bad_embed_arguments(ref, models):
    with pytest.raises(ParameterError, match="model must be an OpenL3 module"):
        openl3.embed(np.zeros(48000), sr=48000, model=object())  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="batch_size must be an int >= 1"):
        openl3.embed(np.zeros(48000), sr=48000, model=models[512], batch_size=0)
    with pytest.raises(ParameterError, match=r"hop_s must be a float in \(0, 10\]"):
        openl3.frame(np.zeros(48000), sr=48000, hop_s=0)


def test_openl3_backbone_in_batch_extraction(ref, tmp_path, capsys):
    """`workbench embed --weights ...` embeds a library with OpenL3 and caches it apart from the features."""
    import soundfile as sf

    from workbench.cli import main
    from workbench.embed.batch import cache_for
    from workbench.library import Library

    d = ref["a_chirp44k"]
    folder = tmp_path / "m"
    folder.mkdir()
    sf.write(folder / "chirp.wav", d["audio"], int(d["sr"]))
    db = str(tmp_path / "w.db")
    assert main(["--db", db, "--quiet", "scan", str(folder)]) == 0
    args = ["--db", db, "--quiet", "embed", "--weights", str(WEIGHTS), "--hop", "0.5", "--size", "6144"]
    assert main(args) == 0
    assert "OpenL3 openl3-mel128-music-6144" in capsys.readouterr().out
    assert main(args) == 0
    assert "0 embedded, 1 cached" in capsys.readouterr().out
    with Library(db) as lib:
        model = openl3.OpenL3.from_weights(WEIGHTS, embedding_size=6144)
        emb, ts = cache_for(lib, openl3.OpenL3Backbone(model, hop_s=0.5)).get(lib.tracks()[0].content_hash)
    expected = d["embedding_6144_hop0p5"]
    assert emb.shape == expected.shape  # 16-bit WAV round trip: close, not identical
    cos = (emb * expected).sum(1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(expected, axis=1)
    assert cos.min() > 0.999
    assert main(["--db", db, "--quiet", "embed", "--backbone", "features"]) == 0
    assert "1 embedded" in capsys.readouterr().out  # another backbone, another cache


def test_auto_backbone_says_which(tmp_path, monkeypatch):
    from workbench.embed.batch import default_backbone
    from workbench.embed.features import FeatureFrontend

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.delenv(openl3.WEIGHTS_ENV, raising=False)
    backbone, said = default_backbone()
    assert isinstance(backbone, FeatureFrontend) and said.startswith("feature frontend, not OpenL3: no OpenL3 weights found")
    if WEIGHTS.is_file():
        monkeypatch.setenv(openl3.WEIGHTS_ENV, str(WEIGHTS))
        backbone, said = default_backbone()
        assert backbone.name == "openl3-mel128-music-512" and said.startswith("OpenL3")


def _unfolded(embedding_size: int) -> openl3.OpenL3:
    model = openl3.OpenL3("mel128", "music", embedding_size)
    openl3.load_keras_h5(model, WEIGHTS)
    return model


def _torchopenl3_state(model: openl3.OpenL3) -> dict:
    """A state dict with torchopenl3's exact key names and shapes, from one of our (unfolded) models."""
    net = model.network
    state = {}
    for i, bn in enumerate([net.bn0, *net.bns], start=1):
        for name in ("weight", "bias", "running_mean", "running_var"):
            state[f"batch_normalization_{i}.{name}"] = getattr(bn, name).detach().clone()
        state[f"batch_normalization_{i}.num_batches_tracked"] = torch.tensor(0)
    for i, conv in enumerate(net.convs, start=1):
        name = "audio_embedding_layer" if i == 8 else f"conv2d_{i}"
        state[f"{name}.weight"] = conv.weight.detach().clone()
        state[f"{name}.bias"] = conv.bias.detach().clone()
    state["speclayer.dft_real_kernels"] = torch.zeros(1025, 1, 2048)  # ignored: our frontend rebuilds it
    return state


@pytest.mark.parametrize("wrapped", [False, True])
def test_torchopenl3_weights_map_like_the_keras_ones(ref, models, tmp_path, wrapped):
    """A .pth.tar written with torchopenl3's key names gives the same embeddings as the Keras file."""
    torch.manual_seed(1)
    keras = models[6144]
    state = _torchopenl3_state(_unfolded(6144))
    path = tmp_path / "torchopenl3_mel128_music_6144.pth.tar"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}} if wrapped else state, path)
    ported = openl3.OpenL3.from_weights(path)
    assert (ported.input_repr, ported.content_type) == ("mel128", "music")
    windows = torch.from_numpy(ref["a_chirp44k"]["frontend_input_windows_hop0p1"][:4, 0])
    with torch.inference_mode():
        np.testing.assert_array_equal(ported(windows).numpy(), keras(windows).numpy())


def test_torchopenl3_file_errors(ref, models, tmp_path):
    state = _torchopenl3_state(_unfolded(512))
    del state["conv2d_3.bias"]
    path = tmp_path / "torchopenl3_mel128_music_512.pth.tar"
    torch.save(state, path)
    with pytest.raises(openl3.WeightsError, match="no tensor 'conv2d_3.bias'"):
        openl3.OpenL3.from_weights(path)
    state = _torchopenl3_state(_unfolded(512))
    state["conv2d_1.weight"] = torch.zeros(64, 2, 3, 3)
    torch.save(state, path)
    with pytest.raises(openl3.WeightsError, match=r"conv2d_1.weight has shape \(64, 2, 3, 3\); the network expects"):
        openl3.OpenL3.from_weights(path)
    path.write_bytes(b"not a torch file")
    with pytest.raises(openl3.WeightsError, match="not a readable torchopenl3 state dict"):
        openl3.OpenL3.from_weights(path)


def test_folded_batch_norm_matches_and_is_final(ref, models):
    """from_weights folds BN into the convolutions for speed: same outputs, and no reloading into it."""
    windows = torch.from_numpy(ref["a_chirp44k"]["frontend_input_windows_hop0p1"][:4, 0])
    plain = _unfolded(6144)
    assert models[6144].network.folded and not plain.network.folded
    with torch.inference_mode():
        a, b = models[6144](windows).numpy(), plain(windows).numpy()
    assert np.abs(a - b).max() <= 1e-5 * np.abs(b).max()
    with pytest.raises(ParameterError, match="cannot load weights into a network whose batch norms are folded"):
        openl3.load_keras_h5(models[6144], WEIGHTS)
