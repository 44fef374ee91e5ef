"""Core ML export: Neural-Engine layers equal the PyTorch models, conversion, metadata, lint, parity."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ct = pytest.importorskip("coremltools")

from workbench.errors import ParameterError  # noqa: E402
from workbench.export import ane_layers, coreml  # noqa: E402
from workbench.export.lint import lint  # noqa: E402
from workbench.export.mil_eval import psnr_db, run  # noqa: E402
from workbench.models.heads import SECTION_LABELS, EmbeddingHead, SectionClassifier  # noqa: E402

OPENL3_REF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "openl3-ref"


@pytest.fixture(scope="module")
def demo_windows(tmp_path_factory):
    """Feature-frontend vectors of real demo windows (two synthesized 30-s tracks) and their section labels."""
    from workbench.audio import load
    from workbench.demo import synthesize_library
    from workbench.embed.features import FeatureFrontend

    folder = tmp_path_factory.mktemp("demo")
    tracks = synthesize_library(folder, n_tracks=2, duration_s=30, progress=False)
    xs, ys = [], []
    for t in tracks:
        y, sr = load(t.audio_path)
        emb, ts = FeatureFrontend().embed(y, sr=sr)
        sections = json.loads(Path(t.truth_path).read_text())["sections"]
        for e, start in zip(emb, ts, strict=True):
            mid = start + 0.5
            label = next((s["label"] for s in sections if s["start_s"] <= mid < s["end_s"]), sections[-1]["label"])
            xs.append(e)
            ys.append(SECTION_LABELS.index(label) if label in SECTION_LABELS else 0)
    return np.stack(xs).astype(np.float32), np.array(ys)


def _train(model, x, y, *, steps=60, seed=0):
    """A few Adam steps so the heads are trained models, not random ones."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        out = model(xt)
        loss = torch.nn.functional.cross_entropy(out, yt) if model.kind == "section_classifier" else \
            -(out[:-1] * out[1:]).sum(dim=1).mean()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def heads(demo_windows):
    x, y = demo_windows
    torch.manual_seed(0)
    return _train(EmbeddingHead(x.shape[1]), x, y), _train(SectionClassifier(x.shape[1]), x, y)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, heads, demo_windows):
    """The head (fp32 and fp16 I/O) and the classifier, exported once with parity on the demo windows."""
    x, _ = demo_windows
    head, clf = heads
    d = tmp_path_factory.mktemp("export")
    meta = {"metrics": {"model": {"accuracy": 0.9}}, "fingerprint": "f" * 64,
            "backbone": {"name": "features-v1", "dim": 202}, "run_id": "r1"}
    return {
        "head32": coreml.export_head(head, d / "head32.mlpackage", windows=x, metadata=meta),
        "head16": coreml.export_head(head, d / "head16.mlpackage", io_dtype="fp16", deployment_target="iOS17",
                                     windows=x, metadata=meta),
        "clf": coreml.export_classifier(clf, d / "clf.mlpackage", windows=x, metadata=meta),
        "emb": coreml.export_embedding_model(head, d / "emb.mlpackage", backbone="features", input="features",
                                             metadata=meta),
        "dir": d,
    }


# -- Neural-Engine layers ------------------------------------------------------------------

def test_ane_head_equals_pytorch_head(heads, demo_windows):
    x = torch.from_numpy(demo_windows[0])
    head, clf = heads
    with torch.no_grad():
        np.testing.assert_allclose(ane_layers.build_head(head)(x), head(x), atol=2e-6)
        np.testing.assert_allclose(ane_layers.build_head(clf)(x), torch.softmax(clf(x), 1), atol=2e-6)


def test_ane_layernorm_and_l2_are_exact_and_fp16_safe():
    ln = torch.nn.LayerNorm(64)
    torch.nn.init.normal_(ln.weight)
    x = torch.randn(3, 64) * 1000  # squares would overflow fp16 (65504) in a naive LayerNorm
    ane = ane_layers.ANELayerNorm(ln)
    got = ane(x.reshape(3, 64, 1, 1)).reshape(3, 64)
    np.testing.assert_allclose(got.detach(), ln(x).detach(), rtol=1e-4, atol=1e-4)
    l2 = ane_layers.ANEL2Norm()
    np.testing.assert_allclose(l2(x.reshape(3, 64, 1, 1)).reshape(3, 64),
                               torch.nn.functional.normalize(x, dim=1), atol=1e-6)
    with torch.no_grad(), torch.autocast("cpu", enabled=False):
        half = l2(x.reshape(3, 64, 1, 1).half().float())  # the scaled form never squares a value > 1
    assert torch.isfinite(half).all()


def test_ane_layer_errors():
    with pytest.raises(ParameterError, match="eps must be in"):
        ane_layers.ANEL2Norm(eps=1e-8)
    with pytest.raises(ParameterError, match="head must be an EmbeddingHead or SectionClassifier"):
        ane_layers.ANEHead(torch.nn.Linear(3, 3))
    with pytest.raises(ParameterError, match="batch must be an int >= 1"):
        ane_layers.build_head(EmbeddingHead(8)).set_batch(0)
    with pytest.raises(ParameterError, match="expected 4x2x3"):
        ane_layers.keras_to_chw_columns(torch.zeros(2, 5), channels=4, hw=(2, 3))


# -- conversion, metadata ------------------------------------------------------------------

def test_every_model_type_converts_lints_clean_and_passes_parity(exported):
    for key in ("head32", "head16", "clf", "emb"):
        r = exported[key]
        assert r.path.is_dir() and (r.path / "Manifest.json").is_file()
        assert r.lint.ok, str(r.lint)
        assert not r.lint.warnings, str(r.lint)
        assert r.size_bytes > 100_000
    for key in ("head32", "head16", "clf"):
        p = exported[key].parity
        assert p.n_windows > 80
        assert p.psnr_db >= 60.0, str(p)
        assert not p.fp16_overflow and p.fp16_max_abs < 65504
    assert exported["clf"].parity.label_agreement >= 0.99


def test_io_dtype_is_explicit_the_dtype_trap(exported):
    def io(r):
        spec = ct.models.MLModel(str(r.path), skip_model_load=True).get_spec()
        return spec.description.input[0].type.multiArrayType.dataType, spec.description.output[0]
    ft = ct.proto.FeatureTypes_pb2.ArrayFeatureType
    inp, out = io(exported["head32"])
    assert inp == ft.FLOAT32 and out.type.multiArrayType.dataType == ft.FLOAT32
    inp, out = io(exported["head16"])
    assert inp == ft.FLOAT16 and out.type.multiArrayType.dataType == ft.FLOAT16
    spec = ct.models.MLModel(str(exported["head16"].path), skip_model_load=True).get_spec()
    assert spec.specificationVersion == 8  # iOS17


def test_metadata_round_trips_with_units_and_provenance(exported):
    meta = coreml.read_metadata(exported["clf"].path)
    assert meta["labels"] == list(SECTION_LABELS)
    assert meta["data_fingerprint"] == "f" * 64
    assert meta["training_metrics"] == {"model": {"accuracy": 0.9}}
    assert meta["backbone"]["name"] == "features-v1"
    assert meta["workbench_version"].startswith("0.")
    assert meta["author"] and meta["license"] and meta["description"]
    assert "22.05 kHz" in meta["inputs"]["embedding"] and "hop 0.5 s" in meta["inputs"]["embedding"]
    assert set(meta["outputs"]) == {"label", "label_probs"}
    keys = ct.models.MLModel(str(exported["clf"].path), skip_model_load=True).user_defined_metadata
    assert any(k.startswith("com.github.apple.coremltools.") for k in keys)  # the converter's keys kept
    emb = coreml.read_metadata(exported["emb"].path)
    assert "frontend" in emb and "app" in emb["frontend"] and "features" in emb["inputs"]


def test_classifier_outputs_label_and_probabilities(exported, heads, demo_windows):
    x = demo_windows[0][:5]
    clf = heads[1]
    for row in x:
        out = run(exported["clf"].path, {"embedding": row[None]})
        probs = out["label_probs"]
        assert set(probs) == set(SECTION_LABELS) and abs(sum(probs.values()) - 1) < 1e-2
        with torch.no_grad():
            want = SECTION_LABELS[int(clf(torch.from_numpy(row[None])).argmax())]
        assert out["label"] == want


def test_compressed_variants_are_smaller_and_report_parity(tmp_path, heads, demo_windows):
    x = demo_windows[0][:16]
    base = coreml.export_head(heads[0], tmp_path / "h.mlpackage", windows=x)
    q8 = coreml.export_head(heads[0], tmp_path / "q8.mlpackage", windows=x, compress="int8")
    assert q8.size_bytes < 0.6 * base.size_bytes
    assert q8.lint.ok
    assert 30.0 < q8.parity.psnr_db < base.parity.psnr_db
    assert coreml.read_metadata(q8.path)["compression"] == "int8"


@pytest.mark.slow
def test_palettized_variants(tmp_path, heads, demo_windows):
    x = demo_windows[0][:8]
    p6 = coreml.export_head(heads[0], tmp_path / "p6.mlpackage", windows=x, compress="palettize6")
    p4 = coreml.export_head(heads[0], tmp_path / "p4.mlpackage", windows=x, compress="palettize4")
    assert p4.size_bytes < p6.size_bytes
    assert p4.parity.psnr_db < p6.parity.psnr_db


def test_export_errors(tmp_path, heads):
    head, clf = heads
    with pytest.raises(ParameterError, match="io_dtype must be one of"):
        coreml.export_head(head, tmp_path / "a.mlpackage", io_dtype="fp64")
    with pytest.raises(ParameterError, match="deployment_target must be one of"):
        coreml.export_head(head, tmp_path / "a.mlpackage", deployment_target="iOS12")
    with pytest.raises(ParameterError, match="compress must be one of"):
        coreml.export_head(head, tmp_path / "a.mlpackage", compress="int3")
    with pytest.raises(ParameterError, match="expected a embedding_head"):
        coreml.export_head(clf, tmp_path / "a.mlpackage")
    with pytest.raises(ParameterError, match="path must end in .mlpackage"):
        coreml.save_package(None, tmp_path / "a.mlmodel")
    (tmp_path / "b.mlpackage").mkdir()
    with pytest.raises(ParameterError, match="exists; pass overwrite=True"):
        coreml.save_package(None, tmp_path / "b.mlpackage")
    with pytest.raises(ParameterError, match="input must be one of"):
        coreml.export_embedding_model(head, tmp_path / "c.mlpackage", backbone=object(), input="wav")
    with pytest.raises(ParameterError, match="must state sample_rate and n_samples"):
        coreml.export_embedding_model(head, tmp_path / "c.mlpackage", backbone=object())
    # audio in is the default; the feature frontend runs inside with its default settings only
    from workbench.embed.features import FeatureFrontend

    with pytest.raises(ParameterError, match=r"only FeatureFrontend\(window_s=1.0, hop_s=0.5\) runs inside a model"):
        coreml.export_embedding_model(head, tmp_path / "c.mlpackage", backbone=FeatureFrontend(window_s=2.0))
    with pytest.raises(ParameterError, match="backbone must be 'cnn' or 'openl3' or 'features'.*got 'mfcc'"):
        coreml.export_embedding_model(head, tmp_path / "c.mlpackage", backbone="mfcc")
    with pytest.raises(ParameterError, match="backbone must be the feature frontend 'features-v1'; got 'features-v2'"):
        coreml.export_embedding_model(head, tmp_path / "c.mlpackage", backbone="features-v2")
    with pytest.raises(ParameterError, match="input='logmel' is OpenL3's log-mel patch"):
        coreml.export_embedding_model(head, tmp_path / "c.mlpackage", backbone="features", input="logmel")
    with pytest.raises(ParameterError, match="input='features' is the feature frontend's vector"):
        coreml.export_embedding_model(head, tmp_path / "c.mlpackage", backbone=object(), input="features")
    assert not list(tmp_path.glob(".*tmp*"))


def test_strict_export_raises_on_failed_parity(tmp_path, heads, demo_windows):
    x = demo_windows[0][:4]
    with pytest.raises(coreml.ExportError, match="export checks failed"):
        coreml.export_head(heads[0], tmp_path / "s.mlpackage", windows=x, compress="palettize4", strict=True)


def test_checkpoint_file_exports(tmp_path, heads):
    from workbench.models.heads import save_checkpoint

    save_checkpoint(heads[1], tmp_path / "model.pt")
    r = coreml.export_classifier(tmp_path / "model.pt", tmp_path / "c.mlpackage")
    assert r.lint.ok and r.parity is None


@pytest.mark.skipif(platform.system() != "Darwin", reason="Core ML prediction needs macOS: no Core ML runtime "
                                                          "exists for Linux (the NumPy evaluator checks parity here)")
def test_coreml_predict_matches_pytorch_on_macos(exported, heads, demo_windows):
    x = demo_windows[0][:32]
    got = np.stack([coreml.macos_predict(exported["head32"].path, {"embedding": r[None]})["embedding_256"][0]
                    for r in x])
    with torch.no_grad():
        want = heads[0](torch.from_numpy(x)).numpy()
    assert psnr_db(got, want) >= 60.0


def test_macos_predict_refuses_on_linux(exported):
    if platform.system() == "Darwin":
        pytest.skip("on macOS prediction works")
    with pytest.raises(coreml.ExportError, match="needs macOS"):
        coreml.macos_predict(exported["head32"].path, {})


# -- OpenL3 window models (random-weights reference file) ----------------------------------

@pytest.fixture(scope="module")
def openl3_windows():
    h5 = OPENL3_REF / "openl3_audio_mel128_music.h5"
    if not h5.is_file():
        pytest.skip(f"OpenL3 reference weights not present at {OPENL3_REF} (shared test data)")
    from workbench.embed.openl3 import OpenL3, frame

    model = OpenL3.from_weights(h5, embedding_size=6144)
    d = np.load(OPENL3_REF / "openl3ref_mel128_music_b_egypt30s.npz")
    w, _ = frame(d["audio_48k_mono"], sr=48000, hop_s=0.5)
    w = np.ascontiguousarray(w[::7][:3])
    with torch.no_grad():
        lm = model.frontend(torch.from_numpy(w)).numpy()
    return model, w, lm


def test_openl3_ane_forms_equal_pytorch(openl3_windows):
    model, w, lm = openl3_windows
    torch.manual_seed(1)
    head = EmbeddingHead(6144).eval()
    with torch.no_grad():
        want = head(model(torch.from_numpy(w)))
        got = ane_layers.build_openl3(model, head, input="logmel")(torch.from_numpy(lm))
        np.testing.assert_allclose(got, want, atol=1e-5)
        got = ane_layers.build_openl3(model, head, input="samples")(torch.from_numpy(w))
        assert float((got - want).abs().max()) < 2e-3  # DFT-by-convolution vs FFT at the -80 dB floor
    with pytest.raises(ParameterError, match="must equal the OpenL3 embedding size"):
        ane_layers.build_openl3(model, EmbeddingHead(512))


@pytest.mark.slow
def test_openl3_embedding_model_exports_with_parity(tmp_path, openl3_windows):
    model, w, lm = openl3_windows
    torch.manual_seed(1)
    head = EmbeddingHead(6144).eval()
    r = coreml.export_embedding_model(head, tmp_path / "e.mlpackage", backbone=model, input="logmel", windows=lm)
    assert r.lint.ok and not r.lint.warnings, str(r.lint)
    assert r.parity.psnr_db >= 60.0, str(r.parity)
    meta = coreml.read_metadata(r.path)
    assert meta["backbone"]["sample_rate_hz"] == 48000 and meta["backbone"]["mel"]["hop_samples"] == 242
    assert "random weights" not in meta["weights_source"] and "sha256" in meta["weights_source"]
    assert lint(r.path).op_counts.get("transpose", 0) == 0


def test_a_poisoned_checkpoint_is_refused_without_torchs_advice(tmp_path):
    """Issue 14: a model.pt that would run code is not loaded, and the error does not advise
    loading it with weights_only=False."""
    import os as _os

    from workbench.models.heads import CheckpointError, load_checkpoint

    class Evil:
        def __reduce__(self):
            return (_os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"config": {"kind": "section"}, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"evil.pt is not a plain weights file.*GLOBAL posix.system") as info:
        load_checkpoint(tmp_path / "evil.pt")
    assert "weights_only" not in str(info.value) and not (tmp_path / "pwned").exists()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pt is not a plain weights file") as info:
        load_checkpoint(tmp_path / "junk.pt")
    assert "weights_only" not in str(info.value) and isinstance(info.value, ParameterError)
    torch.save({"state_dict": {}}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a workbench head checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
