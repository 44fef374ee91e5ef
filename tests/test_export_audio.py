"""Audio-in Core ML exports (issue 19): samples in, the spectrogram inside, parity on real audio, lint, metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ct = pytest.importorskip("coremltools")

from workbench.errors import ParameterError  # noqa: E402
from workbench.export import audio_in, coreml  # noqa: E402
from workbench.export.lint import lint  # noqa: E402
from workbench.export.mil_eval import run  # noqa: E402
from workbench.models.heads import EmbeddingHead, SectionClassifier  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL = SHARED / "real-audio"
OPENL3_REF = SHARED / "openl3-ref"


def _real_files() -> list[Path]:
    files = sorted((REAL / "loops").glob("*.flac")) + sorted((REAL / "librosa_data").glob("*.ogg"))[:2]
    if not files:
        pytest.skip(f"real audio not present at {REAL} (shared test data)")
    return files


def _synthetic_windows(tmp_path: Path, spec: audio_in.AudioSpec, n: int) -> np.ndarray:
    """Seeded synthetic audio (tones, noise bursts, a quiet passage) written with soundfile and read back."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    sr = 44100
    t = np.arange(int(sr * (spec.window_s + spec.hop_s * n))) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 3520 * t) + 0.05 * rng.standard_normal(t.size)
    y[: sr // 2] *= 1e-3  # a quiet start: the bins fp16 would lose
    sf.write(tmp_path / "synth.wav", np.stack([y, 0.5 * y], axis=1).astype(np.float32), sr)
    return audio_in.file_windows([tmp_path / "synth.wav"], spec, n_windows=n)


def _fit_classifier(backbone, windows: np.ndarray) -> SectionClassifier:
    """A section classifier trained on 4 k-means clusters of the windows' embeddings (varied labels)."""
    from sklearn.cluster import KMeans

    emb = audio_in.reference(backbone)(windows)
    y = KMeans(n_clusters=4, n_init=4, random_state=0).fit_predict(emb)
    clf = SectionClassifier(emb.shape[1]).train()
    opt = torch.optim.Adam(clf.parameters(), lr=3e-3)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(clf(torch.from_numpy(emb)), torch.from_numpy(y.astype(np.int64))).backward()
        opt.step()
    return clf.eval()


@pytest.fixture(scope="module")
def cnn():
    from workbench.models.cnn import build_cnn

    return build_cnn(seed=0).eval()


@pytest.fixture(scope="module")
def cnn_exports(tmp_path_factory, cnn):
    """The CNN backbone, the head over it (batch 2) and a frame classifier, exported with parity on real windows."""
    spec = audio_in.audio_spec(cnn)
    windows = audio_in.file_windows(_real_files(), spec, n_windows=8, seed=1)
    d = tmp_path_factory.mktemp("audio")
    g = torch.Generator().manual_seed(0)
    head = EmbeddingHead(spec.dim).eval()
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    clf = _fit_classifier(cnn, windows)
    return {"spec": spec, "windows": windows, "head": head, "clf": clf, "cnn": cnn,
            "backbone": audio_in.export_backbone(cnn, d / "bb.mlpackage", windows=windows),
            "embedding": coreml.export_embedding_model(head, d / "emb.mlpackage", backbone=cnn, batch=2,
                                                       windows=windows),
            "dj_section": coreml.export_classifier(clf, d / "clf.mlpackage", backbone=cnn, windows=windows)}


def test_cnn_models_take_audio_and_match_pytorch(cnn_exports):
    spec = cnn_exports["spec"]
    assert (spec.sample_rate, spec.n_samples) == (22050, 66150)
    for key in ("backbone", "embedding", "dj_section"):
        r = cnn_exports[key]
        assert r.lint.ok, str(r.lint)
        assert r.parity is not None and r.parity.n_windows == 8
        assert r.parity.psnr_db >= 60.0, f"{key}: {r.parity}"
        assert not r.parity.fp16_overflow
        # the CNN frontend is fp16-safe by construction: no float32 island, almost all ops eligible
        assert "fp32_island" not in r.metadata
        assert r.lint.ane_eligible_share > 0.85, str(r.lint)
        print(f"{key}: {r.parity}; ANE-eligible {r.lint.n_ane_eligible}/{r.lint.n_compute_ops}")
    labels = audio_in.reference(cnn_exports["cnn"], cnn_exports["clf"])(cnn_exports["windows"]).argmax(axis=1)
    assert len(set(labels.tolist())) >= 2  # agreement over one repeated label would say nothing
    assert cnn_exports["dj_section"].parity.label_agreement == 1.0


def test_audio_in_shapes_names_and_metadata(cnn_exports):
    from workbench.export.mil_eval import load_program, main_function

    shapes = {"backbone": ((1, 66150), "embedding"), "embedding": ((2, 66150), "embedding_256"),
              "dj_section": ((1, 66150), "label")}
    for key, (shape, out) in shapes.items():
        r = cnn_exports[key]
        fn = main_function(load_program(r.path))
        assert list(fn.inputs) == ["samples"] and tuple(fn.inputs["samples"].shape) == shape
        meta = coreml.read_metadata(r.path)
        assert out in meta["outputs"]
        assert meta["sample_rate"] == 22050 and meta["window_samples"] == 66150 and meta["hop_s"] == 0.5
        assert "mono" in meta["channels"] and "full scale" in meta["level"]
        desc = meta["inputs"]["samples"]
        assert "22050 Hz" in desc and "66150 samples" in desc and "mono" in desc and f"{shape}" in desc
        m = ct.models.MLModel(str(r.path), skip_model_load=True)
        assert m.user_defined_metadata["com.workbench.sample_rate"] == "22050"
    assert coreml.read_metadata(cnn_exports["dj_section"].path)["model_type"] == "dj_section"


def test_batch_model_rows_equal_single_windows(cnn_exports, cnn):
    w = cnn_exports["windows"][:2]
    out = run(cnn_exports["embedding"].path, {"samples": w})["embedding_256"]
    want = audio_in.reference(cnn, cnn_exports["head"])(w)
    assert out.shape == (2, 256)
    assert float(np.abs(out - want).max()) < 5e-3
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=2e-3)


def test_fp32_island_is_declared_and_linted(tmp_path, cnn):
    """An island kept in float32 on purpose is a lint warning and counts against the eligible share;
    the same program without the declaration is an error (an fp32 op never runs on the Neural Engine)."""
    spec = audio_in.audio_spec(cnn)
    w = _synthetic_windows(tmp_path, spec, 2)
    r = audio_in.export_backbone(cnn, tmp_path / "i.mlpackage", windows=w, fp32_frontend=True)
    assert r.lint.ok and r.parity.psnr_db >= 60.0, f"{r.lint}\n{r.parity}"
    assert "float32" in r.metadata["fp32_island"]
    assert any("declared float32 island" in f.message for f in r.lint.warnings)
    assert r.lint.n_ane_eligible < r.lint.n_compute_ops
    m = ct.models.MLModel(str(r.path), skip_model_load=True)
    del m.user_defined_metadata["com.workbench.fp32_island"]
    m.save(str(tmp_path / "undeclared.mlpackage"))
    bad = lint(tmp_path / "undeclared.mlpackage")
    assert not bad.ok and any("computes in fp32" in f.message for f in bad.errors)


def test_audio_in_refusals(tmp_path, cnn):
    head = EmbeddingHead(128)
    from workbench.embed.features import FeatureFrontend

    with pytest.raises(ParameterError, match=r"only FeatureFrontend\(window_s=1.0, hop_s=0.5\) runs inside"):
        audio_in.export_backbone(FeatureFrontend(hop_s=1.0), tmp_path / "f.mlpackage")
    with pytest.raises(ParameterError, match="batch must be 1 for the whole-track model of features-v1; got 2"):
        audio_in.export_backbone("features", tmp_path / "f.mlpackage", batch=2)
    with pytest.raises(ParameterError, match="features-v1 takes the whole track .* returns one label"):
        coreml.export_classifier(SectionClassifier(202), tmp_path / "c.mlpackage", backbone="features")
    with pytest.raises(ParameterError, match=r"head.in_dim \(64\) must equal the backbone's embedding size \(128\)"):
        coreml.export_embedding_model(EmbeddingHead(64), tmp_path / "e.mlpackage", backbone=cnn)
    with pytest.raises(ParameterError, match="window features with context and track-relative blocks need the whole"):
        coreml.export_classifier(SectionClassifier(1012), tmp_path / "c.mlpackage", backbone=cnn)
    with pytest.raises(ParameterError, match="input='logmel' is OpenL3's log-mel patch; the backbone is 'AudioCNN'"):
        coreml.export_classifier(SectionClassifier(128), tmp_path / "c.mlpackage", backbone=cnn, input="logmel")
    with pytest.raises(ParameterError, match="batch must be"):
        coreml.export_embedding_model(head, tmp_path / "e.mlpackage", backbone=cnn, batch=0)
    with pytest.raises(ParameterError, match="model_type must be one of"):
        audio_in.export_backbone(cnn, tmp_path / "b.mlpackage", model_type="head")
    with pytest.raises(ParameterError, match="no whole 3-s window could be read"):
        audio_in.file_windows([tmp_path / "missing.wav"], audio_in.audio_spec(cnn))


@pytest.mark.slow
@pytest.mark.parametrize("size", [512, 6144])
def test_openl3_from_raw_samples_reaches_60_db(tmp_path, size):
    """Issue 19: OpenL3 whole from raw 48 kHz samples, PSNR >= 60 dB against PyTorch (all-fp16: 29 dB)."""
    h5 = OPENL3_REF / "openl3_audio_mel128_music.h5"
    if not h5.is_file():
        pytest.skip(f"OpenL3 reference weights not present at {OPENL3_REF} (shared test data)")
    from workbench.embed.openl3 import OpenL3

    model = OpenL3.from_weights(h5, embedding_size=size)
    spec = audio_in.audio_spec(model)
    assert (spec.sample_rate, spec.n_samples, spec.dim) == (48000, 48000, size)
    w = audio_in.file_windows(_real_files(), spec, n_windows=3, seed=2)
    r = audio_in.export_backbone(model, tmp_path / "o.mlpackage", windows=w)
    assert r.lint.ok, str(r.lint)
    assert r.parity.psnr_db >= 60.0, str(r.parity)
    assert coreml.read_metadata(r.path)["sample_rate"] == 48000
    print(f"OpenL3 {size}: {r.parity}; ANE-eligible {r.lint.n_ane_eligible}/{r.lint.n_compute_ops}")


def test_export_run_jobs_are_audio_in_where_the_backbone_allows(tmp_path, cnn):
    """A CNN run (model.pt is the whole CNN) exports its audio-in embedding model, a run on the default feature
    frontend its whole-track one; one with other settings keeps the vector-in models and says why."""
    from types import SimpleNamespace

    from workbench.export.run_export import NO_AUDIO_IN, _jobs
    from workbench.models.cnn import save_cnn

    save_cnn(cnn, tmp_path / "model.pt")
    spec = audio_in.audio_spec(cnn)
    wav = _synthetic_windows(tmp_path, spec, 1)  # writes synth.wav
    assert wav.shape == (1, spec.n_samples)
    lib = SimpleNamespace(tracks=lambda: [SimpleNamespace(path=str(tmp_path / "synth.wav"))])
    run = SimpleNamespace(kind="embeddings", run_id="r-cnn", info={"backbone": {"name": "cnn-x"}})
    kw = {"io_dtype": "fp32", "deployment_target": "macOS14", "compress": None}
    jobs = _jobs(run, lib, tmp_path / "model.pt", {"run_id": "r-cnn"}, None, kw, input="samples",
                 openl3_weights=None, n_windows=2)
    assert [t for t, _ in jobs] == ["embedding"]
    r = jobs[0][1](tmp_path / "e.mlpackage")
    meta = coreml.read_metadata(r.path)
    assert list(meta["inputs"]) == ["samples"] and meta["sample_rate"] == 22050 and meta["model_type"] == "embedding"
    assert r.parity is not None and r.parity.psnr_db >= 60.0, str(r.parity)
    features_run = SimpleNamespace(kind="embeddings", run_id="r-f", info={"backbone": {"name": "features-v1"}})
    from workbench.models.heads import save_checkpoint

    save_checkpoint(EmbeddingHead(202), tmp_path / "head.pt")
    jobs = _jobs(features_run, lib, tmp_path / "head.pt", {}, None, kw, input="samples", openl3_weights=None,
                 n_windows=2)
    assert [t for t, _ in jobs] == ["head", "embedding"]
    r = jobs[1][1](tmp_path / "f.mlpackage")
    meta = coreml.read_metadata(r.path)  # the default feature frontend: the whole track in
    assert list(meta["inputs"]) == ["samples"] and meta["whole_track"] is True and r.lint.ok
    assert meta["input_range"] == {"1": [22050, 1200 * 22050]} and "standardisation" in meta
    other = SimpleNamespace(kind="embeddings", run_id="r-g",
                            info={"backbone": {"name": "features-v1", "settings": {"window_s": 2.0, "hop_s": 0.5}}})
    jobs = _jobs(other, lib, tmp_path / "head.pt", {}, None, kw, input="samples", openl3_weights=None, n_windows=2)
    meta = coreml.read_metadata(jobs[1][1](tmp_path / "g.mlpackage").path)
    assert list(meta["inputs"]) == ["features"] and meta["audio_in"] == NO_AUDIO_IN


@pytest.mark.slow
def test_a_trained_cnn_run_exports_an_audio_in_embedding_model(tmp_path):
    """End to end: a tiny `--backbone cnn` embeddings run -> export_run -> the registered embedding model
    takes 3-s windows of 22,050 Hz samples and matches the trained CNN on the library's audio."""
    import soundfile as sf

    from workbench.export import export_run
    from workbench.library import Library
    from workbench.models.cnn import load_cnn
    from workbench.runs import load_run
    from workbench.train.jobs import train_embeddings_job

    rng = np.random.default_rng(0)
    sr = 22050
    t = np.arange(12 * sr) / sr
    for folder, freqs in {"low": (110.0, 130.0, 150.0, 170.0), "high": (1500.0, 1700.0, 1900.0, 2100.0)}.items():
        (tmp_path / "music" / folder).mkdir(parents=True)
        for i, f in enumerate(freqs):
            y = sum(0.3 / k * np.sin(2 * np.pi * k * f * t) for k in (1, 2, 3)) + 0.02 * rng.standard_normal(t.size)
            sf.write(tmp_path / "music" / folder / f"t{i}.wav", y.astype(np.float32), sr)
    lib = Library(tmp_path / "lib.db")
    try:
        lib.scan(tmp_path / "music", progress=False)
        job, path = train_embeddings_job(lib, progress=False, experiments_root=tmp_path / "exp", config={
            "epochs": 2, "n_views": 1, "invariance_clips": 2, "classes_from": "folder", "test_size": 0.34,
            "val_size": 0.34, "m": 2, "batch_size": 4, "backbone": "cnn"})
        assert job.state == "completed"
        run = load_run(path)
        pairs = export_run(run, library=lib, force=True, n_windows=4)
    finally:
        lib.close()
    assert [v.model_type for _, v in pairs] == ["embedding"]
    result, version = pairs[0]
    meta = coreml.read_metadata(result.path)
    assert list(meta["inputs"]) == ["samples"] and list(meta["outputs"]) == ["embedding"]
    assert meta["sample_rate"] == 22050 and meta["window_samples"] == 66150
    assert meta["backbone"]["name"] == run.info["backbone"]["name"]
    assert result.parity is not None and result.parity.n_windows == 4 and result.parity.psnr_db >= 60.0
    assert result.lint.ok, str(result.lint)
    card = result.path.with_suffix(".md").read_text()
    assert "audio: 22050 Hz, windows of 66150 samples" in card and "Neural-Engine eligible" in card
    trained = load_cnn(run.model_path)
    w = audio_in.file_windows([tmp_path / "music" / "low" / "t0.wav"], audio_in.audio_spec(trained), n_windows=1)
    got = run_program(result.path, w)
    want = audio_in.reference(trained)(w)
    assert float(np.abs(got - want).max()) < 5e-3


def run_program(path, windows):
    return run(path, {"samples": windows})["embedding"]
