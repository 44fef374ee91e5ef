"""The Swift example in docs/ (issue 19) uses the input, output and metadata names and shapes the export writes.

No Swift compiler runs here (Linux); the test reads the example's names and constants and checks
them against the specs of exported packages (read with coremltools on Linux).
"""

from __future__ import annotations

import re
from pathlib import Path

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
    from workbench.models.cnn import build_cnn
    from workbench.models.heads import EmbeddingHead, SectionClassifier

    cnn = build_cnn(seed=0).eval()
    d = tmp_path_factory.mktemp("swift")
    return {"embedding": coreml.export_embedding_model(EmbeddingHead(128), d / "e.mlpackage", backbone=cnn, batch=4).path,
            "backbone": audio_in.export_backbone(cnn, d / "b.mlpackage").path,
            "cnn_run": audio_in.export_backbone(cnn, d / "c.mlpackage", model_type="embedding").path,
            "dj_section": coreml.export_classifier(SectionClassifier(128), d / "s.mlpackage", backbone=cnn).path}


def _spec(path):
    m = ct.models.MLModel(str(path), skip_model_load=True)
    return m.get_spec(), m.user_defined_metadata


def test_swift_names_and_shapes_match_the_exported_specs(packages):
    text = SWIFT.read_text()
    names, cnn = _enum(text, "Workbench"), _enum(text, "CNNDefaults")
    outputs = {"embedding": [names["embeddingOutput"]], "backbone": [names["backboneOutput"]],
               "cnn_run": [names["backboneOutput"]],
               "dj_section": [names["labelOutput"], names["probabilitiesOutput"]]}
    for kind, path in packages.items():
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
                   "model.prediction(from:", "func cosine(", "stringValue", "dictionaryValue", "@main"):
        assert needle in text, needle
    defined = set(_enum(text, "Workbench"))
    used = set(re.findall(r"Workbench\.(\w+)", text))
    assert used <= defined, used - defined
    assert text.count("{") == text.count("}") and text.count("(") == text.count(")")
