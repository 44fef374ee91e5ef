"""Issue 19: the CNN's rhythm fusion (``AudioCNN(rhythm_fusion=w)``, off by default): the patch's fixed
onset-envelope autocorrelation appended to the trained network's embedding, inside the model."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_cnn_rhythm import _clicks  # noqa: E402  (beats over a quiet tone)

from workbench.models.cnn import SAMPLE_RATE_HZ, WINDOW_SAMPLES, build_cnn, cnn_checkpoint, load_cnn  # noqa: E402
from workbench.models.cnn_rhythm import FUSION_LAGS  # noqa: E402


def _fused(w: float):  # type: ignore[no-untyped-def]
    model = build_cnn(seed=0, stats=True, rhythm_lags=96)
    model.set_rhythm_fusion(w)
    return model


def test_fused_embedding_is_the_network_s_and_the_rhythm_weighted():
    x = torch.from_numpy(np.stack([_clicks(131.0), _clicks(136.0, seed=1), _clicks(92.0, seed=2), 0.1 * _clicks(131.0)]))
    plain, fused = build_cnn(seed=0, stats=True, rhythm_lags=96), _fused(1.5)
    assert fused.embedding_dim == 128 + FUSION_LAGS == 224 and plain.embedding_dim == 128
    with torch.no_grad():
        e, f = plain(x).numpy(), fused(x).numpy()
        a = plain.net.rhythm(plain.frontend(x)).numpy()  # the network's own rhythm input: the same 96 lags
    assert f.shape == (4, 224)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    scale = 1 / np.sqrt(1 + 1.5 ** 2)
    np.testing.assert_allclose(f[:, :128], e * scale, atol=1e-6)  # the trained part is untouched
    np.testing.assert_allclose(f[:, 128:], 1.5 * scale * a / np.linalg.norm(a, axis=1, keepdims=True), atol=1e-5)
    # cosine of two fused windows = (cos of the networks' + w^2 cos of the rhythms') / (1 + w^2)
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    np.testing.assert_allclose(f[0] @ f[1], (e[0] @ e[1] + 1.5 ** 2 * (an[0] @ an[1])) / (1 + 1.5 ** 2), atol=1e-5)
    np.testing.assert_allclose(f[0], f[3], atol=1e-4)  # any level, as the frontend


def test_off_by_default_and_read_back():
    plain = build_cnn(seed=0, stats=True, rhythm_lags=96)
    assert plain.rhythm_fusion == 0.0 and plain.fusion is None and "rhythm_fusion" not in plain.config()
    fused = _fused(1.0)
    assert fused.config()["rhythm_fusion"] == 1.0
    assert fused.weights_sha256() != plain.weights_sha256()  # other embeddings: another cache key
    fused.set_rhythm_fusion(0.0)
    assert fused.weights_sha256() == plain.weights_sha256() and fused.embedding_dim == 128
    fused.set_rhythm_fusion(1.0)
    again = load_cnn(cnn_checkpoint(fused))
    x = torch.from_numpy(np.stack([_clicks(126.0), _clicks(140.0, seed=4)]))
    with torch.no_grad():
        assert again.rhythm_fusion == 1.0 and torch.equal(again(x), fused(x))


def test_fusion_separates_close_tempos_an_untrained_network_mixes():
    """Two windows at 131 BPM are nearer each other than either is to 140 BPM once the rhythm is appended."""
    x = torch.from_numpy(np.stack([_clicks(131.0, seed=1), _clicks(131.0, seed=2), _clicks(140.0, seed=3)]))
    with torch.no_grad():
        f = _fused(1.0)(x).numpy()
    assert f[0] @ f[1] > max(f[0] @ f[2], f[1] @ f[2])


@pytest.mark.parametrize("bad", [-1.0, 11.0, True, "1", float("nan")])
def test_bad_weight_refused(bad):
    with pytest.raises(ValueError, match=r"rhythm_fusion must be a number in \[0, 10\] \(0: off\)"):
        build_cnn(seed=0).set_rhythm_fusion(bad)


def test_backbone_embeds_the_fused_vectors():
    from workbench.models.cnn_backbone import CNNBackbone

    fused = _fused(1.0)
    bb, plain = CNNBackbone(fused, hop_s=1.0), CNNBackbone(build_cnn(seed=0, stats=True, rhythm_lags=96), hop_s=1.0)
    y = np.concatenate([_clicks(131.0, n=2 * WINDOW_SAMPLES), _clicks(92.0, seed=5, n=2 * WINDOW_SAMPLES)])
    emb, starts = bb.embed(y, sr=SAMPLE_RATE_HZ)
    assert bb.dim == 224 and emb.shape == (len(starts), 224) and bb.name != plain.name
    np.testing.assert_allclose(emb[:, :128] * np.sqrt(2), plain.embed(y, sr=SAMPLE_RATE_HZ)[0], atol=1e-5)


def test_a_fused_cnn_exports_whole(tmp_path):
    """Audio in, the fused rhythm inside: parity on the MIL evaluator, and the fused part is what the parity checks."""
    pytest.importorskip("coremltools")
    import soundfile as sf

    from workbench.export import audio_in
    from workbench.export.mil_eval import run

    model = _fused(1.0).eval()
    y = np.concatenate([_clicks(131.0, n=3 * WINDOW_SAMPLES), _clicks(92.0, seed=3, n=3 * WINDOW_SAMPLES)])
    sf.write(tmp_path / "beats.wav", y, SAMPLE_RATE_HZ)
    spec = audio_in.audio_spec(model)
    assert spec.dim == 224
    windows = audio_in.file_windows([tmp_path / "beats.wav"], spec, n_windows=4, seed=0)
    r = audio_in.export_backbone(model, tmp_path / "bb.mlpackage", windows=windows)
    assert r.lint.ok, str(r.lint)
    assert r.parity is not None and r.parity.psnr_db >= 60.0, str(r.parity)
    out = np.concatenate([run(r.path, {"samples": windows[i:i + 1]})["embedding"] for i in range(2)])
    want = audio_in.reference(model)(windows[:2])
    assert out.shape == (2, 224)
    err = float(np.abs(out - want).max())
    assert err < 5e-3 and float(np.abs(want[:, 128:]).max()) > 10 * err  # the rhythm part is well above the error
