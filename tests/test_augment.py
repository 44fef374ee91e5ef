"""Safe-range augmentation: opt-in for unsafe ranges, recorded and replayable views, cached offline views."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench import audio as audio_module
from workbench.augment import (
    SAFE_RANGES,
    AugmentSettings,
    UnsafeAugmentationError,
    augment,
    augmented_views,
    draw_params,
    embed_views,
    replay,
    time_scale,
    view_cache,
    view_key,
)
from workbench.embed.features import FeatureFrontend
from workbench.errors import ParameterError
from workbench.library import Library

SR = 22050
ALL_ON = AugmentSettings(pitch_p=1.0, stretch_p=1.0, noise_p=1.0, gain_p=1.0)


def music(duration_s: float = 2.0, *, sr: int = SR, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330 * t) + 0.01 * rng.standard_normal(t.size)
    return y.astype(np.float32)


# ------------------------------------------------------------------ settings and safe ranges


def test_defaults_are_the_safe_ranges_each_on_with_a_probability():
    s = AugmentSettings()
    assert s.pitch_semitones == (-3.0, 3.0) and s.stretch_rate == (0.9, 1.1)
    assert s.noise_amplitude == (0.001, 0.015) and s.gain_db == (-6.0, 3.0)
    assert all(0 < p < 1 for p in (s.pitch_p, s.stretch_p, s.noise_p, s.gain_p))
    assert not s.allow_unsafe
    assert json.loads(json.dumps(s.to_dict()))["gain_db"] == [-6.0, 3.0]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"pitch_semitones": (-5, 5)}, r"pitch_semitones=\(-5.0, 5.0\) is outside the safe range \[-3, 3\] semitones "
                                   r"\(beyond ±4 semitones the perceived key changes\); pass allow_unsafe=True"),
    ({"stretch_rate": (0.8, 1.0)}, r"stretch_rate=.* outside the safe range \[0.9, 1.1\] x"),
    ({"noise_amplitude": (0.001, 0.05)}, r"noise_amplitude=.* outside the safe range \[0.001, 0.015\] amplitude"),
    ({"gain_db": (-6, 6)}, r"gain_db=.* outside the safe range \[-6, 3\] dB"),
])
def test_unsafe_ranges_need_an_explicit_opt_in(kwargs, match):
    with pytest.raises(UnsafeAugmentationError, match=match):
        AugmentSettings(**kwargs)
    s = AugmentSettings(**kwargs, allow_unsafe=True)  # opted in: accepted
    name, value = next(iter(kwargs.items()))
    assert getattr(s, name) == tuple(float(v) for v in value)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"pitch_semitones": (-30, 0), "allow_unsafe": True}, r"pitch_semitones must lie within \[-24, 24\] semitones "
                                                          r"even with allow_unsafe=True"),
    ({"gain_db": (3, -6)}, r"gain_db must have low <= high"),
    ({"stretch_rate": 1.0}, r"stretch_rate must be a \(low, high\) pair"),
    ({"noise_amplitude": (0.001, float("nan"))}, r"noise_amplitude must be a \(low, high\) pair of finite"),
    ({"pitch_p": 1.5}, r"pitch_p must be a probability in \[0, 1\]; got 1.5"),
    ({"allow_unsafe": "yes"}, r"allow_unsafe must be True or False"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        AugmentSettings(**kwargs)


def test_safe_ranges_table_matches_defaults():
    s = AugmentSettings()
    for name, (lo, hi, _, _) in SAFE_RANGES.items():
        assert getattr(s, name) == (lo, hi)


# ------------------------------------------------------------------ seeded, recorded, replayable


def test_params_are_recorded_within_range_and_seeded():
    p = draw_params(ALL_ON, seed=7)
    assert p == draw_params(ALL_ON, seed=7) and p != draw_params(ALL_ON, seed=8)
    assert -3 <= p["pitch_shift"]["num_semitones"] <= 3
    assert 0.9 <= p["time_stretch"]["rate"] <= 1.1
    assert 0.001 <= p["noise"]["amplitude"] <= 0.015
    assert -6 <= p["gain"]["gain_db"] <= 3
    assert p["gain"]["amplitude_ratio"] == pytest.approx(10 ** (p["gain"]["gain_db"] / 20))
    json.dumps(p)  # JSON-ready


def test_probability_zero_turns_a_transform_off():
    s = AugmentSettings(pitch_p=0.0, stretch_p=0.0, noise_p=0.0, gain_p=1.0)
    y = music(1.0)
    y_aug, p = augment(y, sr=SR, settings=s, seed=3)
    assert not p["pitch_shift"]["should_apply"] and not p["time_stretch"]["should_apply"]
    assert not p["noise"]["should_apply"] and p["gain"]["should_apply"]
    np.testing.assert_allclose(y_aug, y * p["gain"]["amplitude_ratio"], rtol=1e-6)


def test_probabilities_apply_about_as_often_as_asked():
    s = AugmentSettings(pitch_p=0.5, stretch_p=0.0, noise_p=1.0, gain_p=0.2)
    draws = [draw_params(s, seed=i) for i in range(400)]
    assert 0.4 < np.mean([d["pitch_shift"]["should_apply"] for d in draws]) < 0.6
    assert 0.12 < np.mean([d["gain"]["should_apply"] for d in draws]) < 0.28
    assert all(d["noise"]["should_apply"] and not d["time_stretch"]["should_apply"] for d in draws)


def test_augment_records_what_the_transforms_used_and_replay_is_exact():
    y = np.stack([music(2.0), music(2.0, seed=1)])  # stereo, channels first
    y_aug, params = augment(y, sr=SR, settings=ALL_ON, seed=11)
    assert params == draw_params(ALL_ON, seed=11)  # read back from each transform's .parameters
    assert y_aug.dtype == np.float32 and y_aug.shape[0] == 2
    # time stretch changes the length by 1 / rate
    assert y_aug.shape[1] == pytest.approx(y.shape[1] * time_scale(params), rel=0.02)
    assert not np.allclose(y_aug[:, :1000], y[:, :1000])
    np.testing.assert_array_equal(replay(y, sr=SR, params=params), y_aug)
    np.testing.assert_array_equal(augment(y, sr=SR, settings=ALL_ON, seed=11)[0], y_aug)
    assert not np.array_equal(augment(y, sr=SR, settings=ALL_ON, seed=12)[0][:, :1000], y_aug[:, :1000])


def test_replay_survives_a_json_round_trip():
    y = music(1.5)
    y_aug, params = augment(y, sr=SR, settings=ALL_ON, seed=5)
    np.testing.assert_array_equal(replay(y, sr=SR, params=json.loads(json.dumps(params))), y_aug)


def test_augment_does_not_touch_global_random_state():
    import random

    random.seed(1)
    np.random.seed(1)
    a, b = random.random(), np.random.random()
    random.seed(1)
    np.random.seed(1)
    augment(music(1.0), sr=SR, settings=ALL_ON, seed=2)
    assert (random.random(), np.random.random()) == (a, b)


def test_augmented_views_are_distinct_and_seeded():
    y = music(1.0)
    views = augmented_views(y, sr=SR, n_views=3, settings=ALL_ON, seed=4)
    assert len(views) == 3 and len({json.dumps(p, sort_keys=True) for _, p in views}) == 3
    again = augmented_views(y, sr=SR, n_views=3, settings=ALL_ON, seed=4)
    for (a, pa), (b, pb) in zip(views, again, strict=True):
        assert pa == pb
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: augment(np.zeros((3, 100), np.float32), sr=SR, seed=0), r"y must have shape \(n,\) or \(channels <= 2"),
    (lambda: augment(np.full(100, np.nan, np.float32), sr=SR, seed=0), "y contains NaN"),
    (lambda: augment(music(0.5), sr=0, seed=0), r"sr must be an int > 0 \(Hz\); got 0"),
    (lambda: augment(music(0.5), sr=SR, seed=-1), r"seed must be an int >= 0; got -1"),
    (lambda: augment(music(0.5), sr=SR, settings={"pitch_p": 1}, seed=0), "settings must be an AugmentSettings"),
    (lambda: replay(music(0.5), sr=SR, params={"version": 99}), r"params must be a dict from draw_params"),
    (lambda: replay(music(0.5), sr=SR, params={"version": 1, "seed": 0}), r"params\['time_stretch'\] must be a dict"),
    (lambda: augmented_views(music(0.5), sr=SR, n_views=0), r"n_views must be an int >= 1; got 0"),
])
def test_bad_calls(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


# ------------------------------------------------------------------ offline views, cached


@pytest.fixture
def small_library(tmp_path, write_audio):
    folder = tmp_path / "music"
    write_audio("a.wav", duration_s=3.0, seed=1, freq_hz=220.0, folder=folder)
    write_audio("b.wav", duration_s=3.0, seed=2, freq_hz=660.0, folder=folder)
    lib = Library(tmp_path / "lib.db")
    lib.scan(folder, progress=False)
    yield lib
    lib.close()


def test_embed_views_caches_by_params_and_second_run_decodes_nothing(small_library, monkeypatch):
    loads = []
    real_load = audio_module.load

    def counting_load(*args, **kwargs):
        loads.append(args[0])
        return real_load(*args, **kwargs)

    monkeypatch.setattr(audio_module, "load", counting_load)
    fe = FeatureFrontend()
    first = embed_views(small_library, n_views=2, settings=ALL_ON, seed=3, progress=False)
    assert (first.embedded, first.cached, first.failed) == (4, 0, [])
    assert len(loads) == 2  # each track decoded once for all its views
    second = embed_views(small_library, n_views=2, settings=ALL_ON, seed=3, progress=False)
    assert (second.embedded, second.cached) == (0, 4)
    assert len(loads) == 2  # nothing decoded the second time
    for a, b in zip(first.views, second.views, strict=True):
        assert a.params == b.params and (a.track_id, a.view) == (b.track_id, b.view)
        np.testing.assert_array_equal(a.embeddings, b.embeddings)
    # the key includes the parameters: other params, other entries
    cache = view_cache(small_library, fe)
    v = first.views[0]
    assert cache.get(view_key(v.content_hash, v.params)) is not None
    other = dict(v.params, seed=v.params["seed"] + 1)
    assert view_key(v.content_hash, other) != view_key(v.content_hash, v.params)
    third = embed_views(small_library, n_views=2, settings=ALL_ON, seed=4, progress=False)
    assert third.embedded == 4 and len(loads) == 4
    # different settings, different params, different entries
    fourth = embed_views(small_library, n_views=1, settings=AugmentSettings(gain_p=1.0, pitch_p=0.0, stretch_p=0.0,
                                                                             noise_p=0.0), seed=3, progress=False)
    assert fourth.embedded == 2


def test_embed_views_maps_time_back_and_records_params(small_library):
    s = AugmentSettings(stretch_p=1.0, pitch_p=0.0, noise_p=0.0, gain_p=0.0)
    out = embed_views(small_library, n_views=1, settings=s, seed=0, progress=False)
    for v in out.views:
        rate = v.params["time_stretch"]["rate"]
        assert v.params["time_stretch"]["should_apply"] and 0.9 <= rate <= 1.1
        # the view's last frame, mapped back, lies within the original track
        assert v.timestamps_s[-1] <= 3.0
        np.testing.assert_allclose(np.diff(v.timestamps_s), 0.5 * rate, atol=0.03)


def test_embed_views_reports_bad_files_and_continues(small_library, tmp_path):
    t = small_library.tracks()[0]
    (tmp_path / "music" / "a.wav").write_bytes(b"not audio")
    out = embed_views(small_library, n_views=1, seed=0, progress=False)
    assert len(out.failed) == 1 and out.failed[0][0] == t.path
    assert [v.track_id for v in out.views] == [small_library.tracks()[1].id]
    assert "1 failed" in str(out)
