"""The whole-track section model (issue 19): torch window features, the track model, its export and parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench.train.sections.features import DEFAULT_FEATURES, WindowFeatures  # noqa: E402
from workbench.train.sections.features_torch import TorchWindowFeatures, grid_span  # noqa: E402

HOP_V1 = 22 * 512 / 22050  # the feature frontend's real hop (22 STFT frames)
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-audio"
#: The default layout with the "lead" group (issue 18's candidate default): its 90th percentiles computed inside.
LEAD = WindowFeatures(extra=("dj", "novelty", "ends", "lead"), track_relative=False, track_norm=True)
LAYOUTS = [DEFAULT_FEATURES, WindowFeatures(), WindowFeatures(embedding=False, extra=("ends", "dj")),
           WindowFeatures(context_s=(2.0, 8.0, 30.0), track_relative=False, extra=("novelty",)),
           WindowFeatures(track_norm=True, extra=("ends",)),  # standardised within the track, the ends kept raw
           LEAD, WindowFeatures(embedding=False, position=False, extra=("lead",))]  # the lead column alone


def _torch_features(spec: WindowFeatures, frames: np.ndarray, duration_s: float, *, hop_s: float = HOP_V1,
                    offset_s: float = 0.5, dtype: torch.dtype = torch.float64) -> np.ndarray:
    m = TorchWindowFeatures(spec, hop_s=hop_s, offset_s=offset_s, frame_dim=frames.shape[1]).to(dtype)
    with torch.no_grad():
        return m(torch.from_numpy(frames).to(dtype), torch.tensor(duration_s, dtype=dtype)).numpy()


def _audio(seconds: float, *, seed: int, sr: int = 22050) -> np.ndarray:
    """Seeded synthetic track: a quiet tonal intro, a loud drop with kicks and noise, a thin outro."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.normal(size=t.size)
    drop = (t > seconds / 3) & (t < 2 * seconds / 3)
    kick = np.sin(2 * np.pi * 55 * t) * np.exp(-30 * (t % 0.5))
    y[drop] += 0.6 * kick[drop] + 0.15 * rng.normal(size=int(drop.sum()))
    y[t > 2 * seconds / 3] *= 0.3
    return (0.9 * y / np.abs(y).max()).astype(np.float32)


@pytest.mark.parametrize("hop_s", [0.5, HOP_V1, 0.25, 1.0])
def test_grid_span_is_the_searchsorted_span(hop_s: float) -> None:
    t = 0.5 + np.arange(200) * hop_s
    for lo, hi in ((-4.0, 4.0), (-16.0, 16.0), (-2.0, 2.0), (0.0, 8.0), (-8.0, 0.0)):
        ka, kb = grid_span(lo, hi, hop_s)
        i = 100
        assert np.searchsorted(t, t[i] + lo, side="left") == i + ka
        assert np.searchsorted(t, t[i] + hi, side="right") == i + kb + 1


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 117])
def test_percentile_rows_is_numpys_linear_percentile(n: int) -> None:
    from workbench.train.sections.features_torch import percentile_rows

    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 5))
    x[:, 4] = np.round(x[:, 4])  # ties
    idx = torch.arange(n, dtype=torch.float64).reshape(n, 1)
    for q in (0.0, 10.0, 50.0, 90.0, 100.0, 37.5):
        got = percentile_rows(torch.from_numpy(x), idx, torch.tensor(float(n), dtype=torch.float64), q).numpy()
        np.testing.assert_allclose(got, np.percentile(x, q, axis=0), rtol=0, atol=1e-12, err_msg=f"q={q}")
    np.testing.assert_array_equal(percentile_rows(torch.from_numpy(x), idx, torch.tensor(float(n)).double(), 50.0),
                                  np.median(x, axis=0))


@pytest.mark.parametrize("spec", LAYOUTS, ids=lambda s: "+".join(s.group_names())[:40])
@pytest.mark.parametrize("n", [1, 3, 40, 300])
def test_torch_features_equal_transform_on_random_frames(spec: WindowFeatures, n: int) -> None:
    rng = np.random.default_rng(n)
    frames = rng.normal(size=(n, 202)).astype(np.float32)
    t = 0.5 + np.arange(n) * HOP_V1
    dur = float(t[-1] + 0.7)
    want = spec.transform(frames, t, duration_s=dur)
    got = _torch_features(spec, frames, dur)
    assert got.shape == want.shape == (n, spec.dim(202))
    np.testing.assert_allclose(got, want, atol=2e-6, rtol=1e-6)
    if n >= 40:  # float32, as the exported model computes it (tiny tracks' novelty is ill-conditioned in fp32)
        np.testing.assert_allclose(_torch_features(spec, frames, dur, dtype=torch.float32), want, atol=2e-4)


@pytest.mark.parametrize("source", ["synthetic", "real"])
def test_torch_features_equal_transform_on_feature_frontend_frames(source: str) -> None:
    from workbench.embed.features import FeatureFrontend

    fe = FeatureFrontend()
    if source == "synthetic":
        y, sr = _audio(75.0, seed=3), 22050
    else:
        # real songs (the loops are under 10 s: the shortest track the model takes; there the 8-s novelty spans the
        # whole track, the mean of standardised frames, 0 up to rounding, and its cosine is rounding noise)
        real = sorted((REAL / "librosa_data").glob("*.ogg"))[:1] if REAL.is_dir() else []
        if not real:
            pytest.skip(f"no real audio at {REAL} (../shared/data/real-audio beside the project)")
        from workbench.audio import load

        y, sr = load(real[0], sr=22050, mono=True)
    frames, starts = fe.embed(y, sr=sr)
    times = starts + fe.window_s / 2  # as track_frames stamps them
    np.testing.assert_allclose(np.diff(times), HOP_V1, atol=1e-9)
    dur = len(y) / sr
    for spec in (DEFAULT_FEATURES, LEAD):
        want = spec.transform(frames, times, duration_s=dur)
        np.testing.assert_allclose(_torch_features(spec, frames, dur), want, atol=2e-6, rtol=1e-6)
        np.testing.assert_allclose(_torch_features(spec, frames, dur, dtype=torch.float32), want, atol=5e-4, rtol=1e-4)
    lead = want[:, -1]  # the lead column of LEAD: raw, not z-scored; it must move for the check to say anything
    assert lead.min() >= 0.0 and np.ptp(lead) > 0.05, np.ptp(lead)


def test_torch_features_refusals() -> None:
    from workbench.errors import ParameterError

    with pytest.raises(ParameterError, match="'bars' feature group needs the track's downbeats"):
        TorchWindowFeatures(WindowFeatures(extra=("bars",)), hop_s=0.5, offset_s=0.5, frame_dim=202)
    with pytest.raises(ParameterError, match="'dj' feature group needs features-v1 frames"):
        TorchWindowFeatures(DEFAULT_FEATURES, hop_s=0.5, offset_s=0.5, frame_dim=128)
    with pytest.raises(ParameterError, match="context in bars"):
        TorchWindowFeatures(WindowFeatures(context_bars=True), hop_s=0.5, offset_s=0.5, frame_dim=16)
    with pytest.raises(ParameterError, match="hop_s must be > 0"):
        TorchWindowFeatures(WindowFeatures(), hop_s=0.0, offset_s=0.5, frame_dim=16)
    with pytest.raises(ParameterError, match="the span must hold its frame"):
        grid_span(1.0, 2.0, 0.5)


class StandIn(torch.nn.Module):
    """A whole-track frontend with the contract's attributes: a strided conv, log1p(|.|), 202 columns."""

    sample_rate = 22050
    hop_samples = 11264
    window_s = 1.0
    dim = 202
    name = "stand-in"

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 202, 512, stride=self.hop_samples)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g) * 0.05)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(torch.abs(self.conv(x.unsqueeze(1))))[0].transpose(0, 1)


def _classifier(in_dim: int, seed: int = 1):
    from workbench.models.heads import SectionClassifier

    clf = SectionClassifier(in_dim).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in clf.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return clf


def test_track_model_refusals() -> None:
    from workbench.errors import ParameterError
    from workbench.export.track_in import convert_track
    from workbench.export.track_model import TrackSectionModel, frontend_grid

    with pytest.raises(ParameterError, match="classifier takes 99 floats"):
        TrackSectionModel(StandIn(), DEFAULT_FEATURES, _classifier(99))
    with pytest.raises(ParameterError, match="temperature must be a float > 0"):
        TrackSectionModel(StandIn(), DEFAULT_FEATURES, _classifier(DEFAULT_FEATURES.dim(202)), temperature=0)
    with pytest.raises(ParameterError, match="must be a torch module stating sample_rate"):
        frontend_grid(torch.nn.Linear(2, 2))
    model = TrackSectionModel(StandIn(), DEFAULT_FEATURES, _classifier(DEFAULT_FEATURES.dim(202)))
    with pytest.raises(ParameterError, match="0 < min_s < max_s"):
        convert_track(model, min_s=60.0, max_s=30.0)


def test_audio_classifier_without_layout_names_the_track_model() -> None:
    from workbench.errors import ParameterError
    from workbench.export.audio_in import export_audio_classifier
    from workbench.models.cnn import build_cnn

    with pytest.raises(ParameterError, match="pass features=<its WindowFeatures layout> for the whole-track model"):
        export_audio_classifier(_classifier(1027), "/nonexistent/x.mlpackage", backbone=build_cnn(seed=0))
    with pytest.raises(ParameterError, match="'bars' feature group needs the track's downbeats"):
        export_audio_classifier(_classifier(WindowFeatures(extra=("bars",)).dim(202)), "/nonexistent/x.mlpackage",
                                backbone="features", features=WindowFeatures(extra=("bars",)))


@pytest.fixture(scope="module")
def stand_in_export(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("coremltools")
    from workbench.export.coreml import export_classifier

    tracks = [_audio(40.0, seed=1), _audio(95.0, seed=2)]
    path = tmp_path_factory.mktemp("track") / "dj_section.mlpackage"
    clf = _classifier(DEFAULT_FEATURES.dim(202))
    result = export_classifier(clf, path, backbone=StandIn(), features=DEFAULT_FEATURES, tracks=tracks)
    return result, clf


def test_track_export_parity_and_outputs(stand_in_export) -> None:
    from workbench.export.mil_eval import run
    from workbench.export.track_in import track_reference
    from workbench.export.track_model import TrackSectionModel

    result, clf = stand_in_export
    par = result.parity
    assert par is not None and par.psnr_db >= 60.0 and par.label_agreement >= 0.995, str(par)
    assert par.n_windows == sum(int((n - 512) // 11264 + 1) for n in (40 * 22050, 95 * 22050))
    y = _audio(61.3, seed=5)  # a length the parity did not see
    out = run(result.path, {"samples": y[None]})
    ref = track_reference(TrackSectionModel(StandIn(), DEFAULT_FEATURES, clf))(y)
    assert out["label_probs"].shape == ref.shape
    assert len(set(ref.argmax(axis=1))) >= 2, "agreement over one repeated label would say nothing"
    np.testing.assert_array_equal(out["label_index"], out["label_probs"].argmax(axis=1))
    np.testing.assert_allclose(out["times_s"], 0.5 + np.arange(len(ref)) * 11264 / 22050, atol=1e-4)
    np.testing.assert_allclose(out["label_probs"], ref, atol=2e-3)


def test_track_export_metadata_and_descriptions(stand_in_export) -> None:
    from workbench.export.coreml_meta import read_metadata
    from workbench.export.quiet import coremltools

    result, _ = stand_in_export
    meta = read_metadata(result.path)
    assert meta["sample_rate"] == 22050 and meta["hop_s"] == pytest.approx(11264 / 22050)
    assert "mono" in meta["channels"] and "full scale" in meta["level"]
    assert meta["track_in"]["window_features"] == DEFAULT_FEATURES.to_dict()
    assert "times_s[i] = 0.5 + i * 0.510839" in meta["track_in"]["times_s"]
    assert "grammar" in meta["track_in"]["smoothing"]
    spec = coremltools().models.MLModel(str(result.path), skip_model_load=True).get_spec()
    inputs = {i.name: i for i in spec.description.input}
    outputs = {o.name: o.shortDescription for o in spec.description.output}
    assert list(inputs) == ["samples"] and "whole track" in inputs["samples"].shortDescription
    assert "22050 Hz" in inputs["samples"].shortDescription
    rng = inputs["samples"].type.multiArrayType.shapeRange.sizeRanges
    assert (rng[1].lowerBound, rng[1].upperBound) == (10 * 22050, 1800 * 22050)
    assert set(outputs) == {"label_probs", "label_index", "times_s"}
    assert "intro, build, drop" in outputs["label_probs"] and "0.510839" in outputs["times_s"]


def test_track_export_over_the_feature_frontend_port(tmp_path: Path) -> None:
    """The demo's case: the feature frontend's torch port inside, checked against the librosa path."""
    pytest.importorskip("coremltools")
    from workbench.export.audio_in import export_audio_classifier

    y = _audio(30.0, seed=7)
    r = export_audio_classifier(_classifier(DEFAULT_FEATURES.dim(202), seed=3), tmp_path / "t.mlpackage",
                                backbone="features", features=DEFAULT_FEATURES, tracks=[y], min_s=5.0, max_s=900.0)
    assert r.parity is not None and r.parity.psnr_db >= 60.0 and r.parity.label_agreement >= 0.995, str(r.parity)
    assert r.metadata["frontend"].startswith("included: features-v1")


def test_evaluator_shape_ops_match_numpy() -> None:
    from workbench.export.mil_ops import _OPS

    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 7)).astype(np.float32)
    vals, idx = _OPS["topk"](x, k=3, axis=1)
    np.testing.assert_array_equal(vals, -np.sort(-x, axis=1)[:, :3])
    np.testing.assert_array_equal(np.take_along_axis(x, idx.astype(int), axis=1), vals)
    np.testing.assert_array_equal(_OPS["argsort"](x, axis=0, ascending=True), np.argsort(x, axis=0, kind="stable"))
    np.testing.assert_allclose(_OPS["cumsum"](x, axis=1), np.cumsum(x, axis=1), rtol=1e-6)
    np.testing.assert_allclose(_OPS["cumsum"](x, axis=0, exclusive=True, reverse=True),
                               np.cumsum(x[::-1], axis=0)[::-1] - x, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(_OPS["shape"](x), [5, 7])
    np.testing.assert_array_equal(_OPS["reduce_argmax"](x, axis=1), x.argmax(axis=1))
    np.testing.assert_array_equal(_OPS["gather"](x, np.array([4, 0]), axis=0), x[[4, 0]])


@pytest.mark.parametrize("layout", ["default", "lead"])
def test_sections_run_on_the_feature_frontend_exports_the_track_model(tmp_path: Path, layout: str) -> None:
    """`make demo`'s case: a sections run over features-v1 frames exports the whole-track model (not vector-in),
    with the run's temperature inside; a layout with 'bars' keeps the vector-in model. ``lead``: the layout with the
    'lead' group (its track percentiles computed inside), a classifier trained on a real song's windows, parity on
    that whole song."""
    pytest.importorskip("coremltools")
    from types import SimpleNamespace

    import soundfile as sf

    from workbench.export.coreml_meta import read_metadata
    from workbench.export.run_export import _jobs
    from workbench.registry_card import model_card
    from workbench.train.sections import SectionTrainer, save_section_model

    run = SimpleNamespace(kind="sections", run_id="r-s", info={"backbone": {"name": "features-v1"}})
    kw = {"io_dtype": "fp32", "deployment_target": "macOS14", "compress": None}
    labels = np.array(["intro", "drop", "outro", "break"])
    rng = np.random.default_rng(0)
    if layout == "default":
        track, spec = tmp_path / "a.wav", DEFAULT_FEATURES
        sf.write(track, np.stack([_audio(24.0, seed=8)] * 2, axis=1), 22050)
        trained = []
        for lay, name in ((spec, "m.pt"), (WindowFeatures(extra=("bars",)), "bars.pt")):
            x = rng.normal(size=(140, lay.dim(202))).astype(np.float32)
            trained.append((lay, name, x, labels[np.argmax(x[:, :4], axis=1)]))  # learnable: real margins
    else:
        track, spec = REAL / "librosa_data" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg", LEAD
        if not track.is_file():
            pytest.skip(f"no real audio at {track} (../shared/data/real-audio beside the project)")
        from workbench.audio import load
        from workbench.embed.features import FeatureFrontend

        y, _ = load(track, sr=22050, mono=True)
        frames, starts = FeatureFrontend().embed(y, sr=22050)
        times = starts + 0.5
        x = spec.transform(frames, times, duration_s=len(y) / 22050)
        trained = [(spec, "m.pt", x, labels[np.minimum((4 * times / times[-1]).astype(int), 3)])]  # by quarter
    lib = SimpleNamespace(tracks=lambda: [SimpleNamespace(path=str(track))])
    for lay, name, x, y_lab in trained:
        trainer = SectionTrainer(epochs=30, seed=0, early_stopping=False).fit(x, y_lab)
        trainer.temperature_ = 1.5
        save_section_model(trainer, tmp_path / name, features=lay, backbone="features-v1")
    if layout == "default":
        jobs = _jobs(run, lib, tmp_path / "bars.pt", {}, None, kw, input="samples", openl3_weights=None, n_windows=2)
        assert [t for t, _ in jobs] == ["dj_section"]
        bars = read_metadata(jobs[0][1](tmp_path / "bars.mlpackage").path)
        assert list(bars["inputs"]) == ["embedding"] and bars["audio_in"].startswith("not available")
    else:  # agreement over one repeated label would say nothing
        with torch.no_grad():
            top = trainer.model_(torch.from_numpy(x)).argmax(dim=1).numpy()
        assert len(set(top.tolist())) >= 3, np.bincount(top)
    jobs = _jobs(run, lib, tmp_path / "m.pt", {"run_id": "r-s"}, None, kw, input="samples", openl3_weights=None,
                 n_windows=2)
    r = jobs[0][1](tmp_path / "t.mlpackage")
    meta = read_metadata(r.path)
    assert list(meta["inputs"]) == ["samples"] and meta["temperature"] == 1.5 and meta["audio_in"].startswith("whole")
    assert meta["track_in"]["window_features"] == spec.to_dict()
    assert r.parity is not None and r.parity.psnr_db >= 60.0 and r.parity.label_agreement >= 0.995, str(r.parity)
    card = model_card({"model_type": "dj_section", "version": 1, "metadata": r.metadata,
                       "export": r.as_dict()})
    assert "input shape [1, n] (flexible" in card and "times_s[i] = 0.5 + i * 0.510839" in card
    assert 'featureValue(for: "label_probs")' in card
    assert "declared flexible input" in card and card.count("has a dynamic shape") == 0
    assert r.lint is not None and not r.lint.errors, r.lint  # flexible input and float32 island declared


def test_swift_example_names_match_the_track_model(stand_in_export) -> None:
    """docs/swift/WorkbenchExample.swift's whole-track path uses the exported input, outputs and metadata keys."""
    import json
    import re

    from workbench.export.quiet import coremltools

    text = (Path(__file__).resolve().parents[1] / "docs" / "swift" / "WorkbenchExample.swift").read_text()
    body = re.search(r"enum Workbench \{(.*?)\n\}", text, re.S)
    assert body
    names = dict(re.findall(r'static let (\w+) = "([^"]*)"', body.group(1)))
    result, clf = stand_in_export
    model = coremltools().models.MLModel(str(result.path), skip_model_load=True)
    spec = model.get_spec()
    assert [i.name for i in spec.description.input] == [names["inputName"]]
    assert {o.name for o in spec.description.output} == {names["probabilitiesOutput"], names["labelIndexOutput"],
                                                         names["timesOutput"]}
    meta = model.user_defined_metadata
    assert json.loads(meta[names["labelsKey"]]) == list(clf.labels)
    assert float(meta[names["sampleRateKey"]]) == 22050.0
    assert "func trackSections(" in text and "[1, NSNumber(value: y.count)]" in text


@pytest.mark.parametrize("spec", [WindowFeatures(track_norm=True, norm="rank"), WindowFeatures(context_bars=True),
                                  WindowFeatures(extra=("bars",))], ids=["rank", "context_bars", "bars"])
def test_track_job_keeps_the_vector_in_model_for_a_layout_audio_cannot_compute(tmp_path: Path, spec) -> None:
    """A layout the whole-track model refuses (rank norm, bars) gets no audio-in job (None), so the
    export keeps the run's vector-in model instead of raising ParameterError at export time."""
    from types import SimpleNamespace

    from workbench.errors import ParameterError
    from workbench.export.track_in import track_job
    from workbench.train.sections import SectionTrainer, save_section_model

    with pytest.raises(ParameterError):  # what the export would raise if a job were built
        TorchWindowFeatures(spec, hop_s=0.5, offset_s=0.5, frame_dim=202)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, spec.dim(202))).astype(np.float32)
    trainer = SectionTrainer(epochs=2, seed=0, early_stopping=False).fit(x, np.array(["drop", "break"] * 20))
    save_section_model(trainer, tmp_path / "m.pt", features=spec, backbone="features-v1")
    lib = SimpleNamespace(tracks=lambda: [])
    run = SimpleNamespace(kind="sections", run_id="r-s", info={"backbone": {"name": "features-v1"}})
    assert track_job(run, lib, tmp_path / "m.pt", {}, {}) is None
    x = rng.normal(size=(40, DEFAULT_FEATURES.dim(202))).astype(np.float32)
    trainer = SectionTrainer(epochs=2, seed=0, early_stopping=False).fit(x, np.array(["drop", "break"] * 20))
    save_section_model(trainer, tmp_path / "z.pt", features=DEFAULT_FEATURES, backbone="features-v1")
    assert callable(track_job(run, lib, tmp_path / "z.pt", {}, {}))  # the peer: the default layout gets its job
