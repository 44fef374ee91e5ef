"""Issue 19: the distilled CNN's tempo options, all off by default: the rhythm branch (onset-envelope
autocorrelation of its own log-mel patch), its tempo bands (the feature frontend's tempogram pooling)
and unstretched student views (``distill_keep_tempo``)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench.models.cnn import (  # noqa: E402
    HOP_SAMPLES,
    SAMPLE_RATE_HZ,
    WINDOW_SAMPLES,
    build_cnn,
    cnn_checkpoint,
    load_cnn,
)


def _clicks(bpm: float, *, seed: int = 0, n: int = WINDOW_SAMPLES) -> np.ndarray:
    """Seeded noise bursts (10 ms) every beat at ``bpm``, over a quiet tone: mono float32 samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SAMPLE_RATE_HZ
    y = 0.05 * np.sin(2 * np.pi * 330 * t)
    step = SAMPLE_RATE_HZ * 60.0 / bpm
    for k in np.arange(0, n, step).astype(int):
        y[k:k + 220] += 0.5 * rng.standard_normal(len(y[k:k + 220]))
    return y.astype(np.float32)


def _rhythm(model, y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.net.rhythm(model.frontend(torch.from_numpy(np.atleast_2d(y)))).numpy()


def test_rhythm_branch_shapes_and_range():
    model = build_cnn(seed=0, stats=True, rhythm_lags=96)
    off = build_cnn(seed=0, stats=True)
    assert model.net.fc1.in_features == off.net.fc1.in_features + 96
    x = torch.from_numpy(np.stack([_clicks(131.0), _clicks(90.0, seed=1), 0.1 * _clicks(131.0)]))
    with torch.no_grad():
        r = model.net.rhythm(model.frontend(x))
        flat = model.net.rhythm(model.frontend(x).reshape(3, -1))  # the training rows' flattened patches
        assert tuple(model(x).shape) == (3, 128)
    assert tuple(r.shape) == (3, 96) and torch.equal(r, flat)
    assert float(r.abs().max()) <= 1.0 + 1e-5
    np.testing.assert_allclose(r[0].numpy(), r[2].numpy(), atol=1e-4)  # any level: the frontend's peak norm


@pytest.mark.parametrize("bpm", [90.0, 131.0, 174.0])
def test_rhythm_peaks_at_the_beat_period(bpm):
    r = _rhythm(build_cnn(seed=0, rhythm_lags=96), _clicks(bpm))[0]
    period = SAMPLE_RATE_HZ * 60.0 / bpm / HOP_SAMPLES  # frames per beat
    lags = np.arange(1, 97)
    near = np.abs(lags - period) <= 1.0
    assert r[near].max() > 0.5
    assert r[near].max() > r[(lags > 3) & (np.abs(lags % period) > 2) & (np.abs(lags % period - period) > 2)].max()


def test_the_option_changes_the_model_and_is_read_back():
    on = build_cnn(seed=0, stats=True, rhythm_lags=48)
    x = torch.from_numpy(np.stack([_clicks(131.0), _clicks(126.0, seed=2)]))
    without = build_cnn(seed=0, stats=True, rhythm_lags=48)
    with torch.no_grad():
        without.net.fc1.weight[:, -48:] = 0.0  # the same network, the rhythm's columns cut
        assert float((on(x) - without(x)).abs().max()) > 1e-3
    assert on.config()["rhythm_lags"] == 48 and "rhythm_lags" not in build_cnn(seed=0).config()
    again = load_cnn(cnn_checkpoint(on))
    assert again.net.rhythm_lags == 48
    with torch.no_grad():
        assert torch.equal(again(x), on(x))


@pytest.mark.parametrize("bad", [-1, 127, True, 2.5])
def test_rhythm_lags_refused(bad):
    with pytest.raises(ValueError, match=r"rhythm_lags must be an int"):
        build_cnn(seed=0, rhythm_lags=bad)


def test_tempo_bands_pool_the_autocorrelation_as_the_feature_frontend_pools_its_tempogram():
    """Each band is the maximum of the rhythm's autocorrelation over the lags librosa puts in it (40-320 BPM)."""
    import librosa

    model = build_cnn(seed=0, stats=True, rhythm_lags=96, tempo_bands=12)
    x = torch.from_numpy(np.stack([_clicks(126.0), _clicks(131.0, seed=1), _clicks(136.0, seed=2), 0.1 * _clicks(136.0, seed=2)]))
    with torch.no_grad():
        p = model.frontend(x)
        bands, ac = model.net.tempo(p).numpy(), model.net.rhythm(p).numpy()
        assert tuple(model(x).shape) == (4, 128)
    bpm = librosa.tempo_frequencies(97, sr=SAMPLE_RATE_HZ, hop_length=HOP_SAMPLES)[1:]  # lags 1..96
    edges = np.geomspace(40.0, 320.0, 13)
    want = np.stack([ac[:, (bpm >= lo) & (bpm < hi)].max(axis=1) for lo, hi in zip(edges[:-1], edges[1:], strict=True)], 1)
    np.testing.assert_allclose(bands, want, atol=1e-6)
    # the beat's band: 126 BPM in [113, 134.5), 136 BPM in [134.5, 160); 131 BPM sits on their edge (lag 19.7)
    assert bands[0, 6] > bands[0, 7] + 0.2 and bands[2, 7] > bands[2, 6] + 0.2
    np.testing.assert_allclose(bands[2], bands[3], atol=1e-4)  # any level


def test_tempo_bands_alone_and_read_back():
    model = build_cnn(seed=0, stats=True, tempo_bands=12)
    assert model.net.max_lag == 64 and model.net.fc1.in_features == build_cnn(seed=0, stats=True).net.fc1.in_features + 12
    assert model.config()["tempo_bands"] == 12 and "tempo_bands" not in build_cnn(seed=0).config()
    x = torch.from_numpy(np.stack([_clicks(131.0), _clicks(92.0, seed=1)]))
    again = load_cnn(cnn_checkpoint(model))
    with torch.no_grad():
        assert torch.equal(again(x), model(x)) and again.net.tempo_bands == 12
    with pytest.raises(ValueError, match=r"rhythm needs a network built with rhythm_lags >= 1; got rhythm_lags=0"):
        model.net.rhythm(model.frontend(x))
    with pytest.raises(ValueError, match=r"tempo needs a network built with tempo_bands >= 1; got tempo_bands=0"):
        build_cnn(seed=0).net.tempo(model.frontend(x))


@pytest.mark.parametrize("bad", [-1, 13, True, 2.5])
def test_tempo_bands_refused(bad):
    with pytest.raises(ValueError, match=r"tempo_bands must be an int"):
        build_cnn(seed=0, tempo_bands=bad)


def test_job_setting_is_checked():
    from workbench.train.cnn_student import resolve_job_student, rhythm_lags

    def check_job_student(data_cfg):  # type: ignore[no-untyped-def]
        return resolve_job_student(dict(data_cfg))

    assert rhythm_lags({}) == 0 and rhythm_lags({"distill_rhythm_lags": 96}) == 96
    check_job_student({"distill": "features", "distill_rhythm_lags": 96})
    with pytest.raises(ValueError, match=r"distill_rhythm_lags only apply with distill='features'; got distill=None"):
        check_job_student({"distill": None, "distill_rhythm_lags": 96})
    with pytest.raises(ValueError, match=r"distill_rhythm_lags must be an int in 0..126; got 200"):
        check_job_student({"distill": "features", "distill_rhythm_lags": 200})
    check_job_student({"distill": "features", "distill_keep_tempo": True})
    with pytest.raises(ValueError, match=r"distill_keep_tempo only apply with distill='features'; got distill=None"):
        check_job_student({"distill": None, "distill_keep_tempo": True})
    with pytest.raises(ValueError, match=r"distill_keep_tempo must be true or false; got 'yes'"):
        check_job_student({"distill": "features", "distill_keep_tempo": "yes"})
    check_job_student({"distill": "features", "distill_tempo_bands": 12})
    with pytest.raises(ValueError, match=r"distill_tempo_bands only apply with distill='features'; got distill=None"):
        check_job_student({"distill": None, "distill_tempo_bands": 12})
    with pytest.raises(ValueError, match=r"distill_tempo_bands must be an int in 0..12; got 24"):
        check_job_student({"distill": "features", "distill_tempo_bands": 24})


def test_keep_tempo_views_are_not_stretched(tmp_path, monkeypatch):
    """``student_rows(stretch=False)``: every view as long as its track (no stretch), the other draws unchanged."""
    from conftest import low_high_library
    from test_cnn_backbone import _write

    import workbench.augment as augment_mod
    from workbench.augment_core import draw_params
    from workbench.models.heads import EmbeddingHead
    from workbench.train.cnn_distill import student_rows

    settings_seen: list = []
    original = augment_mod.augment

    def recording(y, **kw):  # type: ignore[no-untyped-def]
        settings_seen.append(kw["settings"])
        return original(y, **kw)

    monkeypatch.setattr(augment_mod, "augment", recording)
    lib = low_high_library(tmp_path, _write)
    try:
        tracks = lib.tracks()[:2]
        teacher = EmbeddingHead(202, out_dim=128).eval()
        kept = student_rows(tracks, teacher, n_views=3, seed=0, stretch=False)
        free = student_rows(tracks, teacher, n_views=3, seed=0)
    finally:
        lib.close()
    assert [s.stretch_p for s in settings_seen] == [0.0] * 6 + [0.8] * 6
    for t in tracks:  # 12-s clips: 10 windows a view, 4 views (the original and 3) when nothing is stretched
        assert int(np.sum(kept.track_ids == t.id)) == 40
    assert sorted(np.unique(free.track_ids, return_counts=True)[1].tolist()) != [40, 40]  # stretched views differ
    a, b = draw_params(settings_seen[0], seed=5), draw_params(settings_seen[-1], seed=5)
    assert a["time_stretch"] == {"should_apply": False} and all(a[k] == b[k] for k in ("pitch_shift", "gain", "noise"))


@pytest.mark.parametrize(("lags", "bands"), [(96, 0), (0, 12), (96, 12)])
def test_a_cnn_with_the_rhythm_branch_exports_whole(tmp_path, lags, bands):
    """Audio in, the branches inside: parity on the MIL evaluator, and the branch cut is what the parity checks."""
    pytest.importorskip("coremltools")
    import soundfile as sf

    from workbench.export import audio_in
    from workbench.export.mil_eval import run

    model = build_cnn(seed=0, stats=True, rhythm_lags=lags, tempo_bands=bands).eval()
    n = bands or lags  # the last branch's columns of the dense layer (the tempo bands' where there are some)
    with torch.no_grad():  # weighted up so that the branch moves the embedding well beyond float16's error
        model.net.fc1.weight[:, -n:] *= 4.0
    y = np.concatenate([_clicks(131.0, n=3 * WINDOW_SAMPLES), _clicks(92.0, seed=3, n=3 * WINDOW_SAMPLES)])
    sf.write(tmp_path / "beats.wav", y, SAMPLE_RATE_HZ)
    spec = audio_in.audio_spec(model)
    windows = audio_in.file_windows([tmp_path / "beats.wav"], spec, n_windows=4, seed=0)
    r = audio_in.export_backbone(model, tmp_path / "bb.mlpackage", windows=windows)
    assert r.lint.ok, str(r.lint)
    assert r.parity is not None and r.parity.psnr_db >= 60.0, str(r.parity)
    out = run(r.path, {"samples": windows[:1]})["embedding"]
    want = audio_in.reference(model)(windows[:1])
    cut = copy.deepcopy(model)
    with torch.no_grad():
        cut.net.fc1.weight[:, -n:] = 0.0
    without = audio_in.reference(cut)(windows[:1])
    err = float(np.abs(out - want).max())
    assert err < 5e-3 and float(np.abs(without - want).max()) > 10 * err
