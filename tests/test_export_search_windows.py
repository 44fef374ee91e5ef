"""Search's 8-s windows inside the whole-track embedding model (export/search_windows.py).

Search scores windows (the mean of the frames starting in each ``window_s`` window, every
``window_s / 4`` s, then the head and search's blend), not frames. The model exported with
``search_windows=True`` must give, row for row, the vectors search computes for the same audio
(:meth:`workbench.similarity.model.EmbeddingModel.windows`, what ``LibrarySearch`` indexes), so an
app's cosine over its rows is search's window score. Checked on the NumPy MIL evaluator of the saved
programs, on seeded synthetic audio of several lengths.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_CPU_NAME", "generic")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

torch = pytest.importorskip("torch")
pytest.importorskip("coremltools")

from workbench.embed.features import FeatureFrontend  # noqa: E402
from workbench.errors import ParameterError  # noqa: E402
from workbench.export import audio_in, coreml, mil_eval  # noqa: E402
from workbench.export.search_windows import SearchWindows  # noqa: E402
from workbench.models.heads import EmbeddingHead  # noqa: E402
from workbench.similarity.blend import Blend  # noqa: E402
from workbench.similarity.model import EmbeddingModel, window_means  # noqa: E402

SR = 22050
WEIGHT = 0.35
#: Lengths (s): shorter than a window (one row), a few windows, and one whose frames do not fall evenly.
LENGTHS_S = (5.3, 19.0, 31.7)


def _track(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    tone = 0.3 * np.sin(2 * np.pi * (220 + 55 * seed) * t) * (np.sin(2 * np.pi * 0.3 * t) > 0)
    kick = 0.5 * np.exp(-25 * (t % 0.5)) * np.sin(2 * np.pi * 55 * t)
    hat = 0.1 * rng.normal(size=t.size) * (np.sin(2 * np.pi * 0.11 * t + seed) > 0.3)
    return (tone + kick + hat + 0.02 * rng.normal(size=t.size)).astype(np.float32)


def _cos(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    v = u if y is None else y / np.linalg.norm(y, axis=1, keepdims=True)
    return u @ v.T


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A seeded head over the feature frontend, a blend from the tracks' frames, a checkpoint holding both."""
    import soundfile as sf

    from workbench.train.embeddings_blend import blend_saver
    from workbench.train.triplet import _standardise_stats

    d = tmp_path_factory.mktemp("searchwin")
    tracks = [_track(s, i) for i, s in enumerate(LENGTHS_S)]
    for i, y in enumerate(tracks):
        sf.write(d / f"t{i}.wav", y, SR)
    fe = FeatureFrontend()
    frames = [fe.embed(y, sr=SR) for y in tracks]
    g = torch.Generator().manual_seed(3)
    head = EmbeddingHead(202).eval()
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    blend = Blend(WEIGHT, *_standardise_stats(np.concatenate([f for f, _ in frames])))
    blend_saver(head, blend)(d / "model.pt")
    excerpts = audio_in.file_windows([d / "t1.wav", d / "t2.wav"], audio_in.audio_spec("features"), n_windows=8)
    return {"d": d, "tracks": tracks, "frames": frames, "head": head, "blend": blend, "excerpts": excerpts}


def test_pooling_module_is_window_means():
    """SearchWindows (torch, float32) puts every frame in the windows search's window_means does, at every length."""
    pool = SearchWindows(frame_hop_samples=11264, sample_rate=SR, window_s=8.0, hop_s=2.0, max_samples=1200 * SR)
    rng = np.random.default_rng(0)
    for n in (1, 2, 15, 16, 17, 40, 123, 2346):
        frames = rng.normal(size=(n, 5)).astype(np.float32)
        times = np.arange(n) * 11264 / SR  # FeatureFrontend.embed's stamps
        want = window_means(frames, times, window_s=8.0, hop_s=2.0)
        with torch.no_grad():
            got = pool(torch.from_numpy(frames)).numpy()
        assert got.shape == want.shape, n
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_pooling_refuses_lengths_it_cannot_hold():
    with pytest.raises(ParameterError, match="window_s must be a positive whole number of samples"):
        SearchWindows(frame_hop_samples=11264, sample_rate=SR, window_s=8.00001, hop_s=2.0, max_samples=SR)
    with pytest.raises(ParameterError, match="pass float32's exact integers"):
        SearchWindows(frame_hop_samples=11264, sample_rate=SR, window_s=8.0, hop_s=2.0, max_samples=10**9)


def test_head_rows_are_search_windows(setup, tmp_path):
    """Head alone: each row of the model is search's window vector of the same track (and the same count)."""
    r = coreml.export_embedding_model(setup["head"], tmp_path / "w.mlpackage", backbone="features",
                                      windows=setup["excerpts"], search_windows=True)
    assert r.lint.ok, str(r.lint)
    assert r.parity is not None and r.parity.psnr_db >= 60.0, str(r.parity)
    search = EmbeddingModel(backbone=FeatureFrontend(), head=setup["head"])  # window_s 8, hop 2: search's default
    counts = []
    for y, (frames, times) in zip(setup["tracks"], setup["frames"], strict=True):
        out = mil_eval.run(r.path, {"samples": y[None, :]})["embedding_256"]
        want = search.windows(frames, times)
        assert out.shape == want.shape
        np.testing.assert_allclose(out, want, atol=2e-3)
        counts.append(out.shape[0])
    assert counts[0] == 1 and counts[2] > counts[1] > 1  # one window under 8 s; more with length
    meta = coreml.read_metadata(r.path)
    assert meta["search_windows"]["window_s"] == 8.0 and meta["search_windows"]["hop_s"] == 2.0
    assert "search_windows" in meta["fp32_island"]
    assert "search window" in meta["outputs"]["embedding_256"]
    # the Swift example's key (docs/swift) is the package's metadata key, and its output name is unchanged
    import json
    import re
    from pathlib import Path

    import coremltools as ct

    swift = (Path(__file__).resolve().parents[1] / "docs" / "swift" / "WorkbenchExample.swift").read_text()
    key = re.search(r'static let searchWindowsKey = "([^"]+)"', swift).group(1)
    m = ct.models.MLModel(str(r.path), skip_model_load=True)
    assert json.loads(m.user_defined_metadata[key]) == meta["search_windows"]
    assert [o.name for o in m.get_spec().description.output] == [re.search(
        r'static let embeddingOutput = "([^"]+)"', swift).group(1)]


def test_blended_rows_score_as_search(setup, tmp_path):
    """With the checkpoint's blend: the cosine of any two rows, of one track or two, is search's window score."""
    r = coreml.export_embedding_model(setup["d"] / "model.pt", tmp_path / "b.mlpackage", backbone="features",
                                      windows=setup["excerpts"], search_windows=True)
    assert r.lint.ok, str(r.lint)
    assert r.parity.psnr_db >= 60.0, str(r.parity)
    search = EmbeddingModel(backbone=FeatureFrontend(), head=setup["head"], blend=setup["blend"])
    got = [mil_eval.run(r.path, {"samples": y[None, :]})["embedding_blend"] for y in setup["tracks"][1:]]
    want = [search.windows(f, t) for f, t in setup["frames"][1:]]
    for a in range(2):
        for b in range(2):
            np.testing.assert_allclose(_cos(got[a], got[b]), want[a] @ want[b].T, atol=2e-3)
    # the window scores differ from the per-frame model's: the pooling is what makes them search's
    frames = setup["frames"][2][0]
    with torch.no_grad():
        h = setup["head"](torch.from_numpy(frames[:1])).numpy()
    per_frame = setup["blend"].vectors(frames[:1], h)
    assert np.abs(per_frame @ want[1].T - want[1][:1] @ want[1].T).max() > 0.01
    assert coreml.read_metadata(r.path)["search_blend"]["weight"] == pytest.approx(WEIGHT)


def test_search_windows_refused_where_there_is_no_whole_track(setup, tmp_path):
    from workbench.models.cnn import build_cnn

    with pytest.raises(ParameterError, match="search_windows needs a whole-track model"):
        coreml.export_embedding_model(EmbeddingHead(128).eval(), tmp_path / "c.mlpackage", backbone=build_cnn(seed=0),
                                      search_windows=True)
    with pytest.raises(ParameterError, match="input must be 'samples'"):
        coreml.export_embedding_model(setup["head"], tmp_path / "f.mlpackage", backbone="features", input="features",
                                      search_windows=True)


def test_export_run_jobs_pass_search_windows_and_refuse_other_runs(setup, tmp_path):
    """`workbench export --search-windows` (run_export._jobs): a features-v1 embeddings run's embedding model
    pools into search's windows; a sections run, or a log-mel input, is refused naming the run and what to do."""
    from types import SimpleNamespace

    from workbench.export.run_export import _jobs

    d = setup["d"]
    lib = SimpleNamespace(tracks=lambda: [SimpleNamespace(path=str(d / "t0.wav"))])
    run = SimpleNamespace(kind="embeddings", run_id="r-w", info={"backbone": {"name": "features-v1"}})
    kw = {"io_dtype": "fp32", "deployment_target": "macOS14", "compress": None}
    jobs = dict(_jobs(run, lib, d / "model.pt", {"run_id": "r-w"}, setup["frames"][0][0][:4], kw, input="samples",
                      openl3_weights=None, n_windows=8, search_windows=True))
    meta = coreml.read_metadata(jobs["embedding"](tmp_path / "e.mlpackage").path)
    assert meta["search_windows"]["window_s"] == pytest.approx(8.0)
    plain = dict(_jobs(run, lib, d / "model.pt", {"run_id": "r-w"}, setup["frames"][0][0][:4], kw, input="samples",
                       openl3_weights=None, n_windows=8))
    assert "search_windows" not in coreml.read_metadata(plain["embedding"](tmp_path / "p.mlpackage").path)
    sections = SimpleNamespace(kind="sections", run_id="r-s", info={"backbone": {"name": "features-v1"}})
    with pytest.raises(ParameterError, match=r"run r-s is a sections run on features-v1 \(input='samples'\)"):
        _jobs(sections, lib, d / "model.pt", {}, None, kw, input="samples", openl3_weights=None, n_windows=8,
              search_windows=True)
    with pytest.raises(ParameterError, match=r"needs an embeddings run on the feature frontend.*input='logmel'"):
        _jobs(run, lib, d / "model.pt", {}, None, kw, input="logmel", openl3_weights=None, n_windows=8,
              search_windows=True)
