"""The Swift example in docs/ (issue 19) uses the input, output and metadata names and shapes the export writes.

No Swift compiler runs here (Linux); the test reads the example's names and constants and checks
them against the specs of exported packages (read with coremltools on Linux).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ct = pytest.importorskip("coremltools")

SWIFT = Path(__file__).resolve().parents[1] / "docs" / "swift" / "WorkbenchExample.swift"


def _enum(text: str, name: str) -> dict[str, str]:
    body = re.search(r"enum " + name + r" \{(.*?)\n\}", text, re.S)
    assert body, f"enum {name} not found in {SWIFT.name}"
    return {k: v.strip('"') for k, v in re.findall(r"static let (\w+) = (\"[^\"]*\"|[\d.]+)", body.group(1))}


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    from workbench.export import audio_in, coreml
    from workbench.export.run_export import track_norm_metadata
    from workbench.models.cnn import build_cnn
    from workbench.models.heads import EmbeddingHead, SectionClassifier
    from workbench.similarity.blend import Blend
    from workbench.train.sections.features import DEFAULT_FEATURES

    cnn = build_cnn(seed=0).eval()
    d = tmp_path_factory.mktemp("swift")
    rng = np.random.default_rng(0)
    blend = Blend(0.3, rng.normal(size=128).astype(np.float32), rng.uniform(0.5, 2, size=128).astype(np.float32))
    norm = track_norm_metadata(DEFAULT_FEATURES, 202)
    return {"embedding": coreml.export_embedding_model(EmbeddingHead(128), d / "e.mlpackage", backbone=cnn, batch=4).path,
            "blended": coreml.export_embedding_model(EmbeddingHead(128), d / "bl.mlpackage", backbone=cnn, batch=4,
                                                     blend=blend).path,
            "backbone": audio_in.export_backbone(cnn, d / "b.mlpackage").path,
            "cnn_run": audio_in.export_backbone(cnn, d / "c.mlpackage", model_type="embedding").path,
            "dj_section": coreml.export_classifier(SectionClassifier(128), d / "s.mlpackage", backbone=cnn).path,
            "vector_section": coreml.export_classifier(SectionClassifier(norm["dim"]), d / "v.mlpackage",
                                                       metadata={"track_norm": norm}).path}


def _spec(path):
    m = ct.models.MLModel(str(path), skip_model_load=True)
    return m.get_spec(), m.user_defined_metadata


def test_swift_names_and_shapes_match_the_exported_specs(packages):
    text = SWIFT.read_text()
    names, cnn = _enum(text, "Workbench"), _enum(text, "CNNDefaults")
    outputs = {"embedding": [names["embeddingOutput"]], "backbone": [names["backboneOutput"]],
               "cnn_run": [names["backboneOutput"]], "blended": [names["blendOutput"]],
               "dj_section": [names["labelOutput"], names["probabilitiesOutput"]]}
    for kind, path in packages.items():
        if kind == "vector_section":
            continue
        spec, meta = _spec(path)
        (inp,) = spec.description.input
        assert inp.name == names["inputName"]
        assert inp.type.multiArrayType.dataType == ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32
        shape = list(inp.type.multiArrayType.shape)
        assert len(shape) == 2 and shape[1] == int(cnn["windowSamples"])  # (batch, windowSamples), as AudioContract reads
        assert sorted(o.name for o in spec.description.output) == sorted(outputs[kind])
        assert float(meta[names["sampleRateKey"]]) == float(cnn["sampleRate"])
        assert int(meta[names["windowSamplesKey"]]) == int(cnn["windowSamples"])
        assert float(meta[names["hopKey"]]) == float(cnn["hopSeconds"])
    spec, _ = _spec(packages["embedding"])
    assert list(spec.description.input[0].type.multiArrayType.shape) == [4, 66150]
    out = spec.description.output[0].type.multiArrayType
    assert list(out.shape) == [4, 256]
    spec, meta = _spec(packages["blended"])  # search's blend inside: 128 + 256 floats per window
    assert list(spec.description.output[0].type.multiArrayType.shape) == [4, 128 + 256]
    assert json.loads(meta[names["searchBlendKey"]])["dim"] == 128 + 256
    assert names["searchBlendKey"] not in _spec(packages["embedding"])[1]
    spec, meta = _spec(packages["vector_section"])  # vector in: the app z-scores the window features per track
    (inp,) = spec.description.input
    norm = json.loads(meta[names["trackNormKey"]])
    assert inp.name == names["vectorInputName"] and list(inp.type.multiArrayType.shape) == [1, norm["dim"]]
    assert norm["raw_columns"] and all(0 <= c < norm["dim"] for c in norm["raw_columns"])
    assert sorted(o.name for o in spec.description.output) == sorted([names["labelOutput"], names["probabilitiesOutput"]])
    spec, _ = _spec(packages["cnn_run"])
    assert list(spec.description.output[0].type.multiArrayType.shape) == [1, int(cnn["embeddingDimensions"])]
    assert out.dataType == ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32  # the example binds Float
    spec, _ = _spec(packages["dj_section"])
    kinds = {o.name: o.type.WhichOneof("Type") for o in spec.description.output}
    assert kinds == {names["labelOutput"]: "stringType", names["probabilitiesOutput"]: "dictionaryType"}


def test_swift_example_walks_the_whole_path():
    """AVAudioFile -> mono -> resample -> windows -> prediction -> embedding / label -> cosine, and no
    name used that the Workbench enum does not define."""
    text = SWIFT.read_text()
    for needle in ("AVAudioFile(forReading:", "AVAudioConverter", "MLMultiArray(shape:", "dataType: .float32",
                   "model.prediction(from:", "func cosine(", "stringValue", "dictionaryValue", "@main",
                   # search's window-set score over the model's rows, and the per-track z-score of window features
                   "func cover(", "func vibe(", "(cover(a, b) + cover(b, a)) / 2", "func zScoredWithinTrack(",
                   '"raw_columns"', "max(variance.squareRoot(), 1e-6)", "/ n", "Workbench.blendOutput"):
        assert needle in text, needle
    defined = set(_enum(text, "Workbench"))
    used = set(re.findall(r"Workbench\.(\w+)", text))
    assert used <= defined, used - defined
    assert text.count("{") == text.count("}") and text.count("(") == text.count(")")
