"""The weight-free feature frontend, the embedding cache and batch extraction."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from workbench.embed import batch as batch_module
from workbench.embed.batch import cache_for, embed_library, track_vectors
from workbench.embed.cache import EmbeddingCache
from workbench.embed.features import FeatureFrontend, pool, standardize
from workbench.errors import AudioTooShortError, ParameterError
from workbench.library import Library


def noise(duration_s: float, *, sr: int = 22050, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(duration_s * sr))).astype(np.float32)


def test_frontend_shapes_and_timestamps():
    fe = FeatureFrontend()
    emb, ts = fe.embed(noise(5.0), sr=22050)
    assert emb.dtype == np.float32 and emb.shape[1] == fe.dim == 202
    assert np.isfinite(emb).all()
    np.testing.assert_allclose(np.diff(ts), 0.5, atol=0.03)
    assert ts[0] == 0 and ts[-1] <= 4.0 + 1e-6


def test_frontend_is_deterministic_and_resamples():
    fe = FeatureFrontend(window_s=2.0, hop_s=1.0)
    a, _ = fe.embed(noise(6.0, sr=44100), sr=44100)
    b, _ = fe.embed(noise(6.0, sr=44100), sr=44100)
    np.testing.assert_array_equal(a, b)


def test_frontend_tells_timbres_apart():
    fe = FeatureFrontend()
    t = np.arange(22050 * 4) / 22050
    low = (0.3 * np.sin(2 * np.pi * 80 * t)).astype(np.float32)
    high = (0.3 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    vl, vh, vl2 = (pool(fe.embed(x, sr=22050)[0]) for x in (low, high, low * 0.9))
    assert np.linalg.norm(vl - vl2) < np.linalg.norm(vl - vh)


@pytest.mark.parametrize(("kwargs", "match"), [({"window_s": 0.1}, "window_s must be a float in"),
                                               ({"hop_s": 20}, "hop_s must be a float in")])
def test_bad_frontend_settings(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        FeatureFrontend(**kwargs)


def test_too_short_audio():
    with pytest.raises(AudioTooShortError):
        FeatureFrontend().embed(noise(0.3), sr=22050)


def test_pool_and_standardize():
    e = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_allclose(pool(e), [4.5, 5.5, 6.5])
    assert pool(e, with_std=True).shape == (6,)
    with pytest.raises(ParameterError, match=r"embeddings must have shape \(n_windows >= 1, dim\)"):
        pool(np.zeros((0, 3)))
    z, mean, std = standardize(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_allclose(z, [[-1, 0], [1, 0]])
    assert std[1] == 1.0  # a constant dimension is left unscaled, not divided by zero


def test_cache_hit_miss_and_settings(tmp_path):
    h = "ab" * 32
    c = EmbeddingCache(tmp_path, backbone="features-v1", settings={"hop_s": 0.5})
    assert c.get(h) is None
    c.put(h, np.ones((3, 4)), np.arange(3) * 0.5)
    emb, ts = c.get(h)
    assert emb.shape == (3, 4) and ts[-1] == 1.0
    other = EmbeddingCache(tmp_path, backbone="features-v1", settings={"hop_s": 0.1})
    assert other.get(h) is None  # a changed setting misses
    assert not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(ParameterError, match="content_hash must be a lower-case hex sha256"):
        c.get("../../etc/passwd")
    with pytest.raises(ParameterError, match="backbone must be a plain name"):
        EmbeddingCache(tmp_path, backbone="../x", settings={})


def test_killed_write_leaves_no_entry(tmp_path, monkeypatch):
    c = EmbeddingCache(tmp_path, backbone="features-v1", settings={})
    h = "cd" * 32

    def dies(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", dies)
    with pytest.raises(KeyboardInterrupt):
        c.put(h, np.ones((2, 2)), np.zeros(2))
    assert c.get(h) is None
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("*.npz"))


def test_embed_library_caches_and_reports(tmp_path, monkeypatch):
    folder = tmp_path / "m"
    folder.mkdir()
    for i in range(3):
        sf.write(folder / f"t{i}.flac", noise(3.0, seed=i), 22050)
    sf.write(folder / "short.wav", noise(0.2), 22050)
    with Library(tmp_path / "w.db") as lib:
        lib.scan(folder, progress=False)
        s1 = embed_library(lib, progress=False)
        assert len(s1.embedded) == 3 and len(s1.failed) == 1 and "shorter" in s1.failed[0][1]

        real_load = batch_module.audio.load

        def load_only_the_failed_one(path, **kwargs):
            if not str(path).endswith("short.wav"):
                raise AssertionError(f"a cached track was decoded: {path}")
            return real_load(path, **kwargs)

        monkeypatch.setattr(batch_module.audio, "load", load_only_the_failed_one)
        s2 = embed_library(lib, progress=False)
        assert len(s2.cached) == 3 and not s2.embedded and len(s2.failed) == 1  # failures are retried
        tracks, vectors = track_vectors(lib)
        assert len(tracks) == 3 and vectors.shape == (3, 2 * FeatureFrontend().dim)
        assert cache_for(lib).folder.is_relative_to(tmp_path)


def test_style_retrieval_on_the_demo(tmp_path):
    """Nearest neighbours by the pooled, standardised descriptor share the demo style (P@5 >= 0.8)."""
    from workbench.demo import synthesize_library

    records = synthesize_library(tmp_path, n_tracks=36, seed=11, duration_s=30, progress=False)
    fe = FeatureFrontend()
    vectors, styles = [], []
    for r in records:
        y = sf.read(r.audio_path, dtype="float32")[0].T
        vectors.append(pool(fe.embed(y, sr=44100)[0], with_std=True))
        styles.append(r.style)
    z, _, _ = standardize(np.stack(vectors))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    sim = z @ z.T
    np.fill_diagonal(sim, -np.inf)
    styles = np.array(styles)
    p_at_5 = np.mean([(styles[np.argsort(-sim[i])[:5]] == styles[i]).mean() for i in range(len(styles))])
    assert p_at_5 >= 0.8


def test_pool_section():
    from workbench.embed.features import pool_section

    emb = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 2), dtype=np.float32)
    ts = np.arange(10) * 0.5  # 0.0 .. 4.5 s
    np.testing.assert_allclose(pool_section(emb, ts, start_s=1.0, end_s=2.0), [2.5, 2.5])  # windows 2, 3
    np.testing.assert_allclose(pool_section(emb, ts, start_s=1.1, end_s=1.2), [2.0, 2.0])  # nearest the middle
    assert pool_section(emb, ts, start_s=0, end_s=5, with_std=True).shape == (4,)
    with pytest.raises(ParameterError, match="end_s must be greater than start_s"):
        pool_section(emb, ts, start_s=2.0, end_s=2.0)
