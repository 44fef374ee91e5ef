"""Generator-invariant section features and training-time augmentation (issue 18, cross-generator)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ParameterError


def _frames(seed: int = 0, n: int = 120, d: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    times = np.arange(n) * 0.5 + 0.25
    return rng.normal(0, 1.0, (n, d)), times


def test_rank_norm_is_unchanged_by_increasing_maps_where_z_score_is_not():
    from workbench.train.sections import WindowFeatures

    frames, times = _frames()
    rank = WindowFeatures(context_s=(4.0,), extra=("ends",), track_norm=True, norm="rank")
    z = WindowFeatures(context_s=(4.0,), extra=("ends",), track_norm=True)
    d = frames.shape[1]
    gain = np.array([0.5, 2.0, 3.0, 1.0, 7.0, 0.1])
    affine = frames * gain + np.arange(d)  # another mix: a gain and an offset per column
    a, b = rank.transform(frames, times, duration_s=60.0), rank.transform(affine, times, duration_s=60.0)
    assert np.allclose(a, b, atol=1e-5)  # every block: context means move affinely too
    squashed = np.exp(frames)  # an increasing, non-linear map: only the frame block keeps its order
    a2 = rank.transform(squashed, times, duration_s=60.0)
    assert np.allclose(a[:, :d], a2[:, :d], atol=1e-5)
    z1, z2 = z.transform(frames, times, duration_s=60.0), z.transform(squashed, times, duration_s=60.0)
    assert not np.allclose(z1[:, :d], z2[:, :d], atol=1e-2)  # the z-score is not invariant to it
    # each normalised column is the standard normal's quantiles of its ranks; position and ends stay raw
    assert np.allclose(np.sort(a[:, 0]), np.sort(a[:, 1]), atol=1e-6)
    assert abs(float(a[:, 0].mean())) < 1e-6 and 0.9 < float(a[:, 0].std()) < 1.0
    assert np.allclose(a[:, -6], np.clip(times / 60.0, 0, 1), atol=1e-6)
    assert np.allclose(a[:, -4], np.minimum(times / 60.0, 4.0), atol=1e-6)


def test_rank_norm_round_trips_and_bad_values_are_refused():
    from workbench.train.sections import WindowFeatures
    from workbench.train.sections.features_torch import TorchWindowFeatures

    spec = WindowFeatures(track_norm=True, norm="rank")
    assert WindowFeatures.from_dict(spec.to_dict()) == spec
    assert WindowFeatures.from_dict({"context_s": [4.0], "track_relative": True, "position": True}).norm == "z"
    with pytest.raises(ParameterError, match="norm must be 'z' or 'rank'; got 'quantile'"):
        WindowFeatures(norm="quantile")
    with pytest.raises(ParameterError, match="has no audio-in track model"):
        TorchWindowFeatures(spec, hop_s=0.5, offset_s=0.5, frame_dim=202)


def _windows(seed: int = 0, tracks: int = 8, per_track: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.array(["intro", "drop", "outro"])
    y = np.tile(np.repeat(labels, per_track // 3), tracks)
    centres = {c: rng.normal(0, 2.0, 5) for c in labels}
    X = np.stack([centres[c] for c in y]) + rng.normal(0, 1.0, (y.size, 5))
    groups = np.repeat(np.arange(tracks), per_track)
    return X.astype(np.float32), y, groups


@pytest.mark.parametrize("name", ["input_noise", "track_jitter"])
def test_augmentation_options_are_checked(name):
    from workbench.train.sections import SectionTrainer

    X, y, _ = _windows()
    with pytest.raises(ParameterError, match=f"{name} must be a float in \\[0, 10\\); got -0.1"):
        SectionTrainer(**{name: -0.1}).fit(X, y)
    with pytest.raises(ParameterError, match=f"{name} must be a float in \\[0, 10\\); got True"):
        SectionTrainer(**{name: True}).fit(X, y)


def test_augmentation_is_seeded_changes_the_fit_and_off_leaves_it_alone():
    from workbench.train.sections import SectionTrainer

    X, y, groups = _windows()
    args = {"epochs": 3, "hidden_dim": 16, "early_stopping": False, "seed": 3}

    def fit(**kw):
        return SectionTrainer(**args, **kw).fit(X, y, groups).predict_proba(X)

    plain = fit()
    assert np.array_equal(plain, fit(track_jitter=0.0, input_noise=0.0))
    for kw in ({"track_jitter": 0.5}, {"input_noise": 0.5}):
        once, again = fit(**kw), fit(**kw)
        assert np.array_equal(once, again)  # seeded: the same draws every fit
        assert not np.allclose(once, plain, atol=1e-4)  # and they do change what is learned


def test_label_smoothing_is_checked_and_softens_the_fit():
    """label_smoothing (config and trainer): refused outside [0, 1); on separable windows the smoothed fit's
    largest probability stays near 1 - s + s / K, where the plain fit's goes to 1."""
    from workbench.train.sections import SectionTrainer
    from workbench.train.sections.config_check import check_sections_config

    X, y, groups = _windows()
    for bad in (1.0, -0.1, True):
        with pytest.raises(ParameterError, match=f"label_smoothing must be a float in \\[0, 1\\); got {bad!r}"):
            SectionTrainer(label_smoothing=bad).fit(X, y)
    with pytest.raises(ParameterError, match="label_smoothing must be a number"):
        check_sections_config({"label_smoothing": "0.1"})
    X = X * 3  # well apart: a plain fit grows sure of every window
    args = {"epochs": 30, "hidden_dim": 16, "seed": 3, "max_samples_per_epoch": None, "early_stopping": False,
            "lr": 1e-2}
    plain = SectionTrainer(**args).fit(X, y, groups)
    smooth = SectionTrainer(**args, label_smoothing=0.3).fit(X, y, groups)
    top_plain, top_smooth = plain.predict_proba(X).max(axis=1), smooth.predict_proba(X).max(axis=1)
    assert np.median(top_plain) > 0.95  # 1 - 0.3 + 0.3 / 3 = 0.8 is the smoothed loss's optimum:
    assert 0.7 < np.median(top_smooth) < 0.85 and top_smooth.max() < 0.9
    assert (smooth.predict(X) == y).mean() > 0.9  # the labels are still learned


def test_track_jitter_draws_one_gain_and_offset_per_track(monkeypatch):
    """Within a track, every window of a column gets the same gain and offset in an epoch."""
    import torch

    from workbench.models import heads
    from workbench.train.sections import SectionTrainer

    X, y, groups = _windows(tracks=4)
    seen: list[torch.Tensor] = []
    real = heads.SectionClassifier.forward

    def spy(self, x):
        if self.training:
            seen.append(x.detach().clone())
        return real(self, x)

    monkeypatch.setattr(heads.SectionClassifier, "forward", spy)
    t = SectionTrainer(epochs=1, hidden_dim=8, early_stopping=False, batch_size=10_000, max_samples_per_epoch=None,
                       track_jitter=0.5, seed=1).fit(X, y, groups)
    assert len(seen) == 1
    rng = np.random.default_rng(1)
    order = rng.permutation(len(y))  # the trainer's batch order (its rng, seeded alike)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    clean = (X[order] - mean) / scale
    got = seen[0].numpy()
    g = groups[order]
    for track in range(4):
        rows = np.flatnonzero(g == track)
        # got = clean * gain + shift, one (gain, shift) per column: fit it per track exactly from two windows
        a, b = rows[0], rows[1]
        gain = (got[a] - got[b]) / (clean[a] - clean[b])
        shift = got[a] - clean[a] * gain
        assert np.allclose(got[rows], clean[rows] * gain + shift, atol=1e-3)
        assert np.all(gain > 0) and not np.allclose(gain, 1.0, atol=1e-3)
    assert t.track_jitter == 0.5


def test_vector_in_export_metadata_says_which_track_norm():
    from dataclasses import replace

    from workbench.export.run_export import track_norm_metadata
    from workbench.train.sections import DEFAULT_FEATURES

    z = track_norm_metadata(DEFAULT_FEATURES, 202)
    rank = track_norm_metadata(replace(DEFAULT_FEATURES, norm="rank"), 202)
    assert z["how"].startswith("z-score") and "rank" not in z["how"]
    assert "quantile of its rank" in rank["how"] and rank["raw_columns"] == z["raw_columns"]
