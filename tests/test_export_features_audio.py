"""The feature frontend exported whole-track from audio (export/audio_track.py): round trip on the MIL evaluator."""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_CPU_NAME", "generic")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("coremltools")
pytest.importorskip("torch")

from workbench.embed.features import FeatureFrontend  # noqa: E402
from workbench.export import audio_in, coreml, mil_eval  # noqa: E402
from workbench.models import features_torch as ft  # noqa: E402
from workbench.models.heads import EmbeddingHead  # noqa: E402

SR = 22050


def _track(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    tone = 0.3 * np.sin(2 * np.pi * 330 * t) * (np.sin(2 * np.pi * 0.9 * t) > 0)
    kick = 0.5 * np.exp(-25 * (t % 0.45)) * np.sin(2 * np.pi * 55 * t)
    return (tone + kick + 0.02 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    import soundfile as sf
    import torch

    d = tmp_path_factory.mktemp("features_audio")
    sf.write(d / "a.wav", _track(12.0, 0), SR)
    spec = audio_in.audio_spec("features")
    excerpts = audio_in.file_windows([d / "a.wav"], spec, n_windows=8, seed=0)
    g = torch.Generator().manual_seed(3)
    head = EmbeddingHead(ft.DIM).eval()
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    backbone = audio_in.export_backbone(FeatureFrontend(), d / "f.mlpackage", windows=excerpts)
    embedding = coreml.export_embedding_model(head, d / "fe.mlpackage", backbone="features", windows=excerpts)
    return {"spec": spec, "excerpts": excerpts, "head": head, "backbone": backbone, "embedding": embedding}


def test_whole_track_spec_and_input_description(exports):
    spec = exports["spec"]
    assert (spec.sample_rate, spec.dim, spec.track_range) == (SR, 202, (SR, 1200 * SR))
    assert exports["excerpts"].shape == (1, spec.n_samples)
    meta = coreml.read_metadata(exports["backbone"].path)
    desc = meta["inputs"]["samples"]
    for text in ("the whole track", "22050 Hz", "mono", "full scale", "(1, n_samples)", "rows ="):
        assert text in desc
    assert meta["sample_rate"] == SR and meta["hop_samples"] == 22 * 512 and meta["window_samples"] == 43 * 512
    assert meta["input_range"] == {"1": [SR, 1200 * SR]} and meta["whole_track"] is True
    assert "float32" in meta["fp32_island"]
    program = mil_eval.load_program(exports["backbone"].path)
    shape = tuple(mil_eval.main_function(program).inputs["samples"].shape)
    assert shape[0] == 1 and not isinstance(shape[1], int)  # flexible length


def test_backbone_round_trip_matches_librosa_at_two_lengths(exports):
    r = exports["backbone"]
    assert r.lint.ok, str(r.lint)
    assert any("declared flexible input" in f.message for f in r.lint.warnings)
    assert r.parity is not None and r.parity.psnr_db >= 60.0, str(r.parity)
    for seconds in (2.0, 3.3):
        y = _track(seconds, 1)
        out = mil_eval.run(r.path, {"samples": y[None, :]})["embedding"]
        ref, _ = FeatureFrontend().embed(y, sr=SR)
        assert out.shape == ref.shape == (ft.n_windows(y.size), 202)
        for a, b in ((0, 128), (128, 168), (168, 175), (175, 190), (190, 202)):
            assert mil_eval.psnr_db(out[:, a:b], ref[:, a:b]) >= 60.0, (seconds, a, b)


def test_embedding_round_trip_and_standardisation(exports):
    r = exports["embedding"]
    assert r.lint.ok, str(r.lint)
    assert r.parity is not None and r.parity.psnr_db >= 60.0, str(r.parity)
    meta = coreml.read_metadata(r.path)
    assert "folded into the head's first layer" in meta["standardisation"]
    y = _track(2.5, 2)
    out = mil_eval.run(r.path, {"samples": y[None, :]})["embedding_256"]
    import torch

    with torch.no_grad():
        want = exports["head"](torch.from_numpy(FeatureFrontend().embed(y, sr=SR)[0])).numpy()
    assert out.shape == want.shape == (ft.n_windows(y.size), 256)
    assert mil_eval.psnr_db(out, want) >= 60.0
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-2)


def test_swift_example_reads_the_whole_track_contract(exports):
    """docs/swift/WorkbenchExample.swift: the names it reads exist in the whole-track packages, and it sends
    the track as (1, n_samples) when ``com.workbench.whole_track`` is true."""
    import re
    from pathlib import Path

    import coremltools as ct

    text = (Path(__file__).resolve().parents[1] / "docs" / "swift" / "WorkbenchExample.swift").read_text()
    body = re.search(r"enum Workbench \{(.*?)\n\}", text, re.S).group(1)
    names = dict(re.findall(r'static let (\w+) = "([^"]*)"', body))
    for kind, output in (("backbone", names["backboneOutput"]), ("embedding", names["embeddingOutput"])):
        m = ct.models.MLModel(str(exports[kind].path), skip_model_load=True)
        spec, meta = m.get_spec(), m.user_defined_metadata
        (inp,) = spec.description.input
        assert inp.name == names["inputName"] and [o.name for o in spec.description.output] == [output]
        assert meta[names["wholeTrackKey"]] == "true" and int(meta[names["sampleRateKey"]]) == SR
        ranges = inp.type.multiArrayType.shapeRange.sizeRanges
        assert [(r.lowerBound, r.upperBound) for r in ranges] == [(1, 1), (SR, 1200 * SR)]
    assert "MLMultiArray(shape: [1, NSNumber(value: y.count)], dataType: .float32)" in text


def test_lint_relaxes_only_what_the_package_declares(exports, tmp_path):
    """Dynamic shapes are warnings only under a declared flexible input, topk only inside the declared island."""
    import coremltools as ct

    from workbench.export.lint import lint

    for key, message in (("com.workbench.input_range", "has a dynamic shape"),
                         ("com.workbench.fp32_island", "op is known to run off the Neural Engine")):
        m = ct.models.MLModel(str(exports["backbone"].path), skip_model_load=True)
        del m.user_defined_metadata[key]
        m.save(str(tmp_path / f"{key}.mlpackage"))
        bad = lint(tmp_path / f"{key}.mlpackage")
        assert not bad.ok and any(message in f.message for f in bad.errors), key
    assert exports["backbone"].lint.n_ane_eligible == 0  # flexible shapes: GPU or CPU, all of it


def test_psnr_of_an_overflowed_output_is_minus_infinity():
    """An fp16 overflow (inf or NaN in the model's output) scores -inf, not an exception."""
    ref = np.array([1.0, 2.0, 3.0])
    for bad in (np.inf, np.nan):
        assert mil_eval.psnr_db(np.array([1.0, bad, 3.0]), ref) == -np.inf
    assert mil_eval.psnr_db(ref, ref) == np.inf


def test_model_card_states_the_flexible_input():
    """The card of a whole-track model: the input shape is the traced example, with its range; the Swift line
    sizes the input from the track."""
    from workbench.registry_card import model_card

    meta = {"input_shape": [1, 110250], "input_range": {"1": [SR, 1200 * SR]}, "io_dtype": "fp32",
            "inputs": {"samples": "the whole track"}, "outputs": {"embedding_256": "256-d"}}
    card = model_card({"model_type": "embedding", "version": 1, "metadata": meta})
    assert "input shape [1, 110250] (traced example; flexible axis: [lowest, highest] {'1': [22050, 26460000]})" in card
    assert "(static)" not in card and "MLMultiArray(shape: [1, NSNumber(value: samples.count)]" in card
    static = model_card({"model_type": "embedding", "version": 1, "metadata": {**meta, "input_range": None}})
    assert "input shape [1, 110250] (static)" in static


def test_model_card_states_a_search_blend():
    """A head blended with its backbone in search: the card says what an app must add; the head alone says nothing."""
    from workbench.registry_card import model_card

    doc = {"model_type": "head", "version": 1, "metadata": {}, "metrics": {"blend": {"weight": 0.25}}}
    assert "search blend: workbench ranks with 0.25 x the cosine of the backbone vectors" in model_card(doc)
    assert "0.75 x the cosine of this head's output" in model_card(doc)
    for metrics in ({"blend": {"weight": 0.0}}, {}):
        assert "search blend" not in model_card({**doc, "metrics": metrics})
    assert "search blend" not in model_card({**doc, "model_type": "dj_section"})
