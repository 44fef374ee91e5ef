"""Search's blend inside the exported embedding model (export/search_blend.py): the app's cosine is search's score.

Search ranks windows by ``w * cos(z-scored backbone) + (1 - w) * cos(head)`` (similarity/blend.py); the
exported ``embedding`` model of such a run outputs ``embedding_blend``, whose plain cosine must equal it.
Proved here on the NumPy MIL evaluator of the saved programs, against the vectors search itself builds
(:meth:`workbench.similarity.model.EmbeddingModel.windows`), on seeded synthetic audio.
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
from workbench.models.heads import EmbeddingHead  # noqa: E402
from workbench.similarity.blend import Blend  # noqa: E402
from workbench.similarity.model import EmbeddingModel, window_means  # noqa: E402

SR = 22050
WEIGHT = 0.35


def _track(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    tone = 0.3 * np.sin(2 * np.pi * (220 + 110 * seed) * t) * (np.sin(2 * np.pi * 0.6 * t) > 0)
    kick = 0.5 * np.exp(-25 * (t % 0.5)) * np.sin(2 * np.pi * 55 * t)
    return (tone + kick + 0.02 * rng.normal(size=t.size)).astype(np.float32)


def _cos(x: np.ndarray) -> np.ndarray:
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    return u @ u.T


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A seeded head over the feature frontend, its blend (training statistics of two tracks' frames), a checkpoint."""
    import soundfile as sf

    from workbench.train.embeddings_blend import blend_saver
    from workbench.train.triplet import _standardise_stats

    d = tmp_path_factory.mktemp("blend")
    tracks = [_track(12.0, 0), _track(12.0, 1)]
    for i, y in enumerate(tracks):
        sf.write(d / f"t{i}.wav", y, SR)
    fe = FeatureFrontend()
    frames = [fe.embed(y, sr=SR) for y in tracks]  # (frames (n, 202), times (n,))
    mean, std = _standardise_stats(np.concatenate([f for f, _ in frames]))
    g = torch.Generator().manual_seed(5)
    head = EmbeddingHead(202).eval()
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    blend = Blend(WEIGHT, mean, std)
    blend_saver(head, blend)(d / "model.pt")
    blend_saver(head, Blend(0.0, mean, std))(d / "model_w0.pt")
    excerpts = audio_in.file_windows([d / "t0.wav", d / "t1.wav"], audio_in.audio_spec("features"), n_windows=8, seed=0)
    return {"d": d, "tracks": tracks, "frames": frames, "head": head, "blend": blend, "excerpts": excerpts,
            "search": EmbeddingModel(backbone=fe, head=head, blend=blend)}


@pytest.fixture(scope="module")
def whole_track(setup):
    """The audio-in whole-track embedding model of the blended checkpoint (the blend read from model.pt)."""
    return coreml.export_embedding_model(setup["d"] / "model.pt", setup["d"] / "e.mlpackage", backbone="features",
                                         windows=setup["excerpts"])


def test_whole_track_model_cosine_is_search_blended_score(setup, whole_track):
    """Cosine of the exported model's rows == the blended score search computes for the same windows."""
    r = whole_track
    assert r.lint.ok, str(r.lint)
    assert r.parity is not None and r.parity.psnr_db >= 60.0, str(r.parity)
    y = setup["tracks"][1][: int(3.3 * SR)]
    out = mil_eval.run(r.path, {"samples": y[None, :]})[audio_in_blend_output()]
    frames, times = FeatureFrontend().embed(y, sr=SR)
    assert out.shape == (frames.shape[0], 202 + 256)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=2e-3)
    # search's own window vectors, one window per frame (EmbeddingModel.windows: window means, head, blend)
    search = np.concatenate([setup["search"].windows(frames[i:i + 1], times[i:i + 1]) for i in range(len(frames))])
    assert search.shape == out.shape
    np.testing.assert_allclose(_cos(out), search @ search.T, atol=2e-3)
    # and that is w * cos(z-scored backbone) + (1 - w) * cos(head), computed here from its definition
    b = setup["blend"]
    with torch.no_grad():
        h = setup["head"](torch.from_numpy(frames)).numpy()
    want = WEIGHT * _cos((frames - b.mean) / b.std) + (1 - WEIGHT) * _cos(h)
    np.testing.assert_allclose(_cos(out), want, atol=2e-3)
    assert np.abs(want - _cos(h)).max() > 0.05  # the blend changes the scores: the check above is not the head's


def audio_in_blend_output() -> str:
    from workbench.export.search_blend import BLEND_OUTPUT

    return BLEND_OUTPUT


def test_blended_model_states_its_output_and_blend(whole_track):
    meta = coreml.read_metadata(whole_track.path)
    blend = meta["search_blend"]
    assert blend["weight"] == pytest.approx(WEIGHT) and blend["dim"] == 458
    assert (blend["backbone_dim"], blend["head_dim"], blend["output"]) == (202, 256, "embedding_blend")
    desc = meta["outputs"]["embedding_blend"]
    assert "458-d unit vector" in desc and "search's window score" in desc
    assert "blend_stats" in meta["fp32_island"] and "frontend" in meta["fp32_island"]
    from workbench.registry_card import model_card

    card = model_card({"model_type": "embedding", "version": 2, "metadata": meta,
                       "metrics": {"blend": {"weight": WEIGHT}}})
    assert "search blend: carried inside the model" in card and "`embedding_blend` (458 floats" in card
    assert "the app adds nothing" in card and 'featureValue(for: "embedding_blend")' in card
    head_card = model_card({"model_type": "head", "version": 2, "metadata": {}, "metrics": {"blend": {"weight": WEIGHT}}})
    assert "blends the two itself" in head_card and "whose output carries the blend" in head_card


def test_vector_in_model_on_search_windows(setup, tmp_path):
    """The vector-in embedding model fed search's own 8-s windows (means of frames) gives search's window vectors'
    cosines; the head model of the same run stays the head alone."""
    d = setup["d"]
    frames, times = setup["frames"][0]
    means = window_means(frames, times, window_s=8.0, hop_s=1.0)  # search's windows (EmbeddingModel default 8 s)
    assert means.shape[0] >= 2
    r = coreml.export_embedding_model(d / "model.pt", tmp_path / "v.mlpackage", backbone="features",
                                      input="features", windows=frames[:8])
    assert r.lint.ok, str(r.lint)
    assert r.parity.psnr_db >= 60.0, str(r.parity)
    out = np.concatenate([mil_eval.run(r.path, {"features": m[None, :]})["embedding_blend"] for m in means])
    search = EmbeddingModel(backbone=FeatureFrontend(), head=setup["head"], blend=setup["blend"], window_s=8.0,
                            hop_s=1.0).windows(frames, times)
    np.testing.assert_allclose(_cos(out), search @ search.T, atol=2e-3)
    head = coreml.export_head(d / "model.pt", tmp_path / "h.mlpackage")
    spec_out = mil_eval.run(head.path, {"embedding": frames[:1]})
    assert list(spec_out) == ["embedding_256"] and spec_out["embedding_256"].shape == (1, 256)
    with pytest.raises(ParameterError, match="the head model is the head alone"):
        coreml.export_head(setup["head"], tmp_path / "h2.mlpackage", blend=setup["blend"])


def test_no_backbone_share_keeps_the_head_alone(setup, tmp_path):
    """w = 0 (stored), or blend=False: the output is embedding_256 (256-d) as before, and no search_blend key."""
    d = setup["d"]
    for source, blend in ((d / "model_w0.pt", None), (d / "model.pt", False)):
        r = coreml.export_embedding_model(source, tmp_path / f"{blend}.mlpackage", backbone="features",
                                          input="features", blend=blend)
        out = mil_eval.run(r.path, {"features": setup["frames"][0][0][:1]})
        assert list(out) == ["embedding_256"] and out["embedding_256"].shape == (1, 256)
        assert "search_blend" not in coreml.read_metadata(r.path)
    with pytest.raises(ParameterError, match="blend must be a workbench.similarity.blend.Blend"):
        coreml.export_embedding_model(setup["head"], tmp_path / "x.mlpackage", backbone="features",
                                      input="features", blend=0.5)


def test_cnn_batch_model_carries_the_blend(setup, tmp_path):
    """A fixed-window backbone (the CNN, batch 2): the rows of a batch are search's blended vectors of each window."""
    from workbench.models.cnn import build_cnn
    from workbench.train.triplet import _standardise_stats

    cnn = build_cnn(seed=0).eval()
    spec = audio_in.audio_spec(cnn)
    w = audio_in.file_windows([setup["d"] / "t0.wav", setup["d"] / "t1.wav"], spec, n_windows=4, seed=0)
    b = audio_in.reference(cnn)(w)
    g = torch.Generator().manual_seed(1)
    head = EmbeddingHead(spec.dim).eval()
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    blend = Blend(0.5, *_standardise_stats(b))
    r = coreml.export_embedding_model(head, tmp_path / "c.mlpackage", backbone=cnn, batch=2, blend=blend)
    assert r.lint.ok, str(r.lint)
    out = np.concatenate([mil_eval.run(r.path, {"samples": w[i:i + 2]})["embedding_blend"] for i in (0, 2)])
    assert out.shape == (4, spec.dim + 256)
    with torch.no_grad():
        h = head(torch.from_numpy(b)).numpy()
    want = blend.vectors(b, h)
    # The CNN computes in fp16 and the blend z-scores its output: this random CNN's 4 windows barely differ
    # (|mean| / std up to 260), so fp16's rounding of the backbone vectors alone moves search's score by
    # `once` (0.0019); the network stores k = 5 weighted layers' outputs in fp16 (3 convolutions, 2 linear),
    # each rounding moving the score by about as much, at worst adding up: (k + 1) * once (0.011; measured
    # 0.0055, the same on any CPU since the evaluator computes in float64).
    b16 = b.astype(np.float16).astype(np.float32)
    once = np.abs(_cos(blend.vectors(b16, h)) - want @ want.T).max()
    layers = sum(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) for m in cnn.modules())
    tol = (layers + 1) * once
    assert tol < 0.5 * np.abs(want @ want.T - _cos(h)).max()  # still far below what carrying the blend changes
    np.testing.assert_allclose(_cos(out), want @ want.T, atol=tol)


def test_track_norm_metadata_names_the_columns_left_raw():
    """The vector-in section model's metadata: which columns the app leaves raw (the others are z-scored per
    track), checked against WindowFeatures.transform itself."""
    from dataclasses import replace

    from workbench.export.run_export import _vector_in_norm, track_norm_metadata
    from workbench.train.sections.features import DEFAULT_FEATURES

    rng = np.random.default_rng(0)
    frames = rng.normal(size=(60, 202)).astype(np.float32) * 3 + 5
    times = 0.25 + 0.5 * np.arange(60)
    z = DEFAULT_FEATURES.transform(frames, times, duration_s=30.0)
    raw = replace(DEFAULT_FEATURES, track_norm=False).transform(frames, times, duration_s=30.0)
    meta = track_norm_metadata(DEFAULT_FEATURES, 202)
    assert meta["dim"] == z.shape[1] and meta["raw_columns"]
    kept = np.isclose(z, raw, atol=1e-5).all(axis=0)
    assert sorted(np.flatnonzero(kept).tolist()) == meta["raw_columns"]
    cols = np.setdiff1d(np.arange(z.shape[1]), meta["raw_columns"])
    np.testing.assert_allclose(z[:, cols].mean(axis=0), 0.0, atol=1e-4)
    assert track_norm_metadata(replace(DEFAULT_FEATURES, track_norm=False), 202) is None
    assert _vector_in_norm({"window_features": DEFAULT_FEATURES.to_dict(), "backbone": {"dim": 202}})["track_norm"] == meta


def test_export_run_jobs_carry_the_runs_blend(setup, tmp_path):
    """The path `workbench export` takes (run_export._jobs) on a features-v1 run whose model.pt holds a blend:
    the embedding model carries it (read from the checkpoint), the head model stays the head alone."""
    from types import SimpleNamespace

    from workbench.export.run_export import _jobs

    d = setup["d"]
    lib = SimpleNamespace(tracks=lambda: [SimpleNamespace(path=str(d / "t0.wav"))])
    run = SimpleNamespace(kind="embeddings", run_id="r-b", info={"backbone": {"name": "features-v1"}})
    kw = {"io_dtype": "fp32", "deployment_target": "macOS14", "compress": None}
    jobs = dict(_jobs(run, lib, d / "model.pt", {"run_id": "r-b"}, setup["frames"][0][0][:4], kw, input="samples",
                      openl3_weights=None, n_windows=8))
    head = coreml.read_metadata(jobs["head"](tmp_path / "h.mlpackage").path)
    assert list(head["outputs"]) == ["embedding_256"] and "search_blend" not in head
    r = jobs["embedding"](tmp_path / "e.mlpackage")
    meta = coreml.read_metadata(r.path)
    assert list(meta["outputs"]) == ["embedding_blend"] and meta["search_blend"]["weight"] == pytest.approx(WEIGHT)
    assert meta["whole_track"] is True and r.lint.ok


@pytest.mark.slow
def test_openl3_blended_export_keeps_60_db(tmp_path):
    """OpenL3 512 + head with search's blend from raw samples: >= 60 dB on real windows (57.8 dB before its stem,
    the input batch norm and first convolution, joined the float32 island), the cosines search's."""
    from pathlib import Path

    from workbench.train.triplet import _standardise_stats

    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    h5 = shared / "openl3-ref" / "openl3_audio_mel128_music.h5"
    files = sorted((shared / "real-audio" / "loops").glob("*.flac"))
    if not h5.is_file() or not files:
        pytest.skip(f"OpenL3 reference weights or real audio not present under {shared} (shared test data)")
    from workbench.embed.openl3 import OpenL3

    o = OpenL3.from_weights(h5, embedding_size=512)
    spec = audio_in.audio_spec(o)
    w = audio_in.file_windows(files, spec, n_windows=4, seed=0)
    blend = Blend(WEIGHT, *_standardise_stats(audio_in.reference(o)(audio_in.file_windows(files, spec, n_windows=16,
                                                                                          seed=7))))
    g = torch.Generator().manual_seed(2)
    head = EmbeddingHead(512).eval()
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    r = coreml.export_embedding_model(head, tmp_path / "o.mlpackage", backbone=o, windows=w, blend=blend)
    assert r.lint.ok, str(r.lint)
    assert r.parity.psnr_db >= 60.0, str(r.parity)
    assert "stem" in coreml.read_metadata(r.path)["fp32_island"]
    got = np.concatenate([mil_eval.run(r.path, {"samples": x[None]})["embedding_blend"] for x in w])
    b = audio_in.reference(o)(w)
    with torch.no_grad():
        want = blend.vectors(b, head(torch.from_numpy(b)).numpy())
    np.testing.assert_allclose(_cos(got), want @ want.T, atol=2e-3)


def test_a_blend_with_searchs_statistics_is_carried_the_same_way(setup, tmp_path):
    """``blend_backbone="search"`` (the backbone end z-scored as search does, library statistics fixed at training):
    the same fp32 z-score module carries it; the model's cosine is search's, the metadata says whose statistics."""
    import dataclasses

    from workbench.train.embeddings_blend import blend_saver

    frames, times = setup["frames"][1]
    rng = np.random.default_rng(3)  # statistics other than the training rows' (the library's, as search fits them)
    blend = Blend(0.6, frames.mean(axis=0) + rng.normal(size=202).astype(np.float32) * 0.1,
                  frames.std(axis=0) + 0.5, backbone="search")
    blend_saver(setup["head"], blend)(tmp_path / "model.pt")
    r = coreml.export_embedding_model(tmp_path / "model.pt", tmp_path / "s.mlpackage", backbone="features",
                                      input="features", windows=frames[:8])
    assert r.lint.ok, str(r.lint)
    assert r.parity.psnr_db >= 60.0, str(r.parity)
    means = window_means(frames, times, window_s=8.0, hop_s=1.0)
    out = np.concatenate([mil_eval.run(r.path, {"features": m[None, :]})["embedding_blend"] for m in means])
    search = EmbeddingModel(backbone=FeatureFrontend(), head=setup["head"], blend=blend, window_s=8.0,
                            hop_s=1.0).windows(frames, times)
    np.testing.assert_allclose(_cos(out), search @ search.T, atol=2e-3)
    other = dataclasses.replace(blend, backbone="training", mean=setup["blend"].mean, std=setup["blend"].std)
    theirs = EmbeddingModel(backbone=FeatureFrontend(), head=setup["head"], blend=other, window_s=8.0,
                            hop_s=1.0).windows(frames, times)
    assert np.abs(theirs @ theirs.T - search @ search.T).max() > 0.01  # the statistics carried are the ones that matter
    meta = coreml.read_metadata(r.path)
    assert meta["search_blend"]["backbone_stats"] == "search" and meta["search_blend"]["weight"] == pytest.approx(0.6)
    assert "search's (the library's windows when the run was trained) statistics" in meta["outputs"]["embedding_blend"]
    from workbench.registry_card import model_card

    card = model_card({"model_type": "embedding", "version": 3, "metadata": meta, "metrics": {"blend": {"weight": 0.6}}})
    assert "z-scored as workbench search z-scores the bare backbone" in card
