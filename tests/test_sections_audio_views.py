"""Augmented audio views of labelled tracks as training rows (workbench.train.sections.audio_views)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ParameterError


def _track(index: int, group: str = "g"):
    from section_tracks import synthetic_track

    rng = np.random.default_rng(index)
    centres = {"intro": np.full(12, -1.0), "drop": np.full(12, 1.0), "outro": np.zeros(12)}
    return synthetic_track(index, ("intro", "drop", "outro"), group, rng, centres, bars=4)


def test_view_rows_are_the_labelled_windows_of_each_view_with_their_track():
    from workbench.train.sections import SectionData, WindowFeatures
    from workbench.train.sections.audio_views import view_rows

    a, b = _track(1), _track(2)
    data = SectionData([a, b], WindowFeatures(context_s=(4.0,)), "features-v1")
    assert view_rows(data) is None  # no views: the trainer's path is unchanged
    a.sections = a.sections[:2]  # the outro of track 1 is unlabelled: its windows are no rows
    a.views = [a.features + 1.0, a.features + 2.0]
    b.views = [b.features - 1.0]
    X, y, tracks, w = view_rows(data, 0.5)
    lab_a = a.window_labels()
    n_a = int((lab_a != "").sum())
    assert n_a < len(a.times_s)
    assert X.shape == (2 * n_a + len(b.times_s), a.features.shape[1]) and w == 0.5
    assert tracks.tolist() == [1] * (2 * n_a) + [2] * len(b.times_s)
    np.testing.assert_allclose(X[:n_a], a.features[lab_a != ""] + 1.0)
    np.testing.assert_allclose(X[n_a:2 * n_a], a.features[lab_a != ""] + 2.0)
    assert y[:n_a].tolist() == lab_a[lab_a != ""].tolist()


def test_a_validation_tracks_own_extra_rows_never_train():
    from workbench.train.sections import SectionTrainer

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-2, 0.5, (200, 2)), rng.normal(2, 0.5, (200, 2))]).astype(np.float32)
    y = np.array(["intro"] * 200 + ["drop"] * 200)
    groups = np.repeat(np.arange(8), 50)
    extra = (X.copy(), y.copy(), groups.copy(), 1.0)  # one view of every track, rows aligned
    tr = SectionTrainer(epochs=3, hidden_dim=8, seed=0).fit(X, y, groups, views=extra)
    held = tr.early_stopping_["val_groups"]
    assert held  # some tracks validate ...
    assert tr.n_view_windows_ == int((~np.isin(groups, held)).sum())  # ... and their views are not trained on
    # pseudo-labelled rows of unlabelled tracks are another matter: an id that equals a validation group's
    # code (validate_on_groups numbers the groups 0, 1, ...) is no reason to drop them
    pseudo = (X[:100].copy(), y[:100].copy(), np.full(100, held[0]), 0.5)
    both = SectionTrainer(epochs=3, hidden_dim=8, seed=0).fit(X, y, groups, pseudo=pseudo, views=extra)
    assert both.n_pseudo_windows_ == 100 and both.n_view_windows_ == tr.n_view_windows_


def test_view_rows_carry_the_validation_group_the_trainer_splits_on():
    from workbench.train.sections import SectionData, WindowFeatures
    from workbench.train.sections.audio_views import view_rows
    from workbench.train.sections.transfer import validation_groups

    tracks = [_track(10 + i, group=f"crate{i % 3}") for i in range(6)]
    data = SectionData(tracks, WindowFeatures(context_s=(4.0,)), "features-v1")
    for t in tracks:
        t.views = [t.features + 1.0]
    codes = validation_groups(data, by_group=True)
    assert set(codes.tolist()) == {0, 1, 2}  # crates, numbered: not the track ids 10..15
    _, _, groups, _ = view_rows(data, groups=codes)
    code_of = dict(zip(data.groups.tolist(), codes.tolist(), strict=True))
    expected = np.concatenate([np.full(int((t.window_labels() != "").sum()), code_of[t.track_id]) for t in tracks])
    assert groups.tolist() == expected.tolist() and set(groups.tolist()) == {0, 1, 2}
    _, _, ids, _ = view_rows(data)
    assert set(ids.tolist()) == {t.track_id for t in tracks}


@pytest.fixture
def labelled_track(tmp_path):
    import soundfile as sf

    from workbench.library import Library
    from workbench.train.sections import track_frames

    sr = 22050
    t = np.arange(int(12 * sr)) / sr
    rng = np.random.default_rng(0)
    y = 0.3 * np.sin(2 * np.pi * 220 * t) * (t > 4) + 0.2 * rng.standard_normal(t.size) * (np.sin(4 * np.pi * t) > 0)
    (tmp_path / "music").mkdir()
    sf.write(tmp_path / "music" / "a.wav", y.astype(np.float32), sr)
    lib = Library(tmp_path / "lib.db")
    lib.scan(tmp_path / "music", progress=False)
    tr = track_frames(lib, lib.tracks()[0])
    tr.sections = [{"start_s": 0.0, "end_s": 4.0, "label": "intro"}, {"start_s": 4.0, "end_s": 12.0, "label": "drop"}]
    yield lib, tr
    lib.close()


def test_audio_views_are_aligned_with_the_track_and_a_gain_alone_leaves_the_normed_windows(labelled_track):
    from workbench.augment import AugmentSettings
    from workbench.train.sections import DEFAULT_FEATURES, SectionData
    from workbench.train.sections.audio_views import add_audio_views

    lib, tr = labelled_track
    data = SectionData([tr], DEFAULT_FEATURES, "features-v1")
    gain = AugmentSettings(gain_db=(-6.0, -6.0), gain_p=1.0, pitch_p=0.0, stretch_p=0.0, noise_p=0.0)
    out = add_audio_views(lib, data, n_views=1, settings=gain)
    assert out["views"] == 1 and out["embedded"] == 1 and not out["failed"]
    (view,) = tr.views
    assert view.shape == tr.features.shape
    # every column is standardised within the track: a gain moves the level columns, not the windows' z-scores
    assert np.corrcoef(view.ravel(), tr.features.ravel())[0, 1] > 0.9
    pitch = AugmentSettings(pitch_semitones=(3.0, 3.0), pitch_p=1.0, stretch_p=0.0, noise_p=0.0, gain_p=0.0)
    again = add_audio_views(lib, data, n_views=1, settings=pitch)
    assert again["embedded"] == 1 and len(tr.views) == 1  # replaced, not appended
    assert np.abs(tr.views[0] - tr.features).mean() > np.abs(view - tr.features).mean()
    assert add_audio_views(lib, data, n_views=1, settings=gain)["cached"] == 1  # the view cache is read again


def test_audio_views_need_the_feature_frontend_and_a_view(labelled_track):
    from workbench.train.sections import DEFAULT_FEATURES, SectionData
    from workbench.train.sections.audio_views import add_audio_views

    lib, tr = labelled_track
    with pytest.raises(ParameterError, match="feature frontend"):
        add_audio_views(lib, SectionData([tr], DEFAULT_FEATURES, "cnn-v1"), n_views=1)
    with pytest.raises(ParameterError, match="n_views"):
        add_audio_views(lib, SectionData([tr], DEFAULT_FEATURES, "features-v1"), n_views=0)


def test_an_eq_view_changes_the_tone_is_seeded_and_keyed_apart(labelled_track):
    from workbench.augment import AugmentSettings, embed_views
    from workbench.train.sections import DEFAULT_FEATURES, SectionData
    from workbench.train.sections.audio_views import add_audio_views

    lib, tr = labelled_track
    data = SectionData([tr], DEFAULT_FEATURES, "features-v1")
    off = AugmentSettings(pitch_p=0.0, stretch_p=0.0, noise_p=0.0, gain_p=0.0)
    assert add_audio_views(lib, data, n_views=1, settings=off)["embedded"] == 1
    plain = tr.views[0]
    assert np.abs(plain - tr.features).max() < 1e-4  # nothing applied: the track's own windows
    assert add_audio_views(lib, data, n_views=1, settings=off, eq_db=9.0)["embedded"] == 1  # a cache entry apart
    eq = tr.views[0]
    assert np.abs(eq - tr.features).mean() > 0.01
    first = embed_views(lib, n_views=1, settings=off, eq_db=9.0, progress=False).views[0]
    assert first.params["eq"] == {"max_db": 9.0, "seed": first.params["seed"]}
    with pytest.raises(ParameterError, match=r"eq_db must be a number of dB in \[0, 12\]; got 13"):
        embed_views(lib, n_views=1, eq_db=13, progress=False)


@pytest.mark.slow
def test_a_sections_job_trains_on_audio_views_and_says_so(tmp_path, monkeypatch):
    """(Session 17: the job made the run's held-out split twice, for the views and in train_sections; now once.)"""
    from workbench.demo import synthesize_library
    from workbench.library import Library
    from workbench.runs import load_run
    from workbench.train.jobs import train_sections_job
    from workbench.train.sections import demo_sections, training
    from workbench.train.sections import job as job_module

    synthesize_library(tmp_path / "audio", n_tracks=4, seed=1, duration_s=30, styles="trance", progress=False)
    with Library(tmp_path / "wb.db") as lib:
        lib.scan(tmp_path / "audio", progress=False)
        cfg = {"epochs": 2, "min_per_class": 1, "models": [], "transfer": False, "audio_views": 1}
        with pytest.raises(ParameterError, match=r"audio_view_eq_db must be in \[0, 12\]; got 20"):
            train_sections_job(lib, config={**cfg, "audio_view_eq_db": 20}, sections=demo_sections(lib),
                               experiments_root=tmp_path / "runs", progress=False)
        splits = []

        def counted(*args, **kwargs):
            splits.append(kwargs)
            return real_split(*args, **kwargs)

        real_split = training.holdout_split
        monkeypatch.setattr(training, "holdout_split", counted)
        monkeypatch.setattr(job_module, "holdout_split", counted)
        job, path = train_sections_job(lib, config=cfg, sections=demo_sections(lib), experiments_root=tmp_path / "runs",
                                       progress=False)
    assert job.state == "completed"
    assert len(splits) == 1, splits  # the views' split is the run's: made once
    run = load_run(path)
    views = run.data["audio_views"]
    held_out = run.metrics["held_out"]["track_ids"]
    assert len(held_out) == 1  # holdout 0.25 of 4 tracks: only the 3 training tracks get a view
    assert views["views"] == 3 and views["embedded"] == 3 and views["tracks"] == 3 and views["failed"] == []


def test_only_the_given_tracks_get_views_and_the_others_none(labelled_track):
    from workbench.augment import AugmentSettings
    from workbench.train.sections import DEFAULT_FEATURES, SectionData
    from workbench.train.sections.audio_views import add_audio_views, view_rows

    lib, tr = labelled_track
    tr.views = [tr.features.copy()]  # a stale view: a track left out must not keep it
    data = SectionData([tr], DEFAULT_FEATURES, "features-v1")
    gain = AugmentSettings(gain_db=(-6.0, -6.0), gain_p=1.0, pitch_p=0.0, stretch_p=0.0, noise_p=0.0)
    out = add_audio_views(lib, data, n_views=1, settings=gain, track_ids=[])
    assert out["views"] == 0 and out["tracks"] == 0 and tr.views == [] and view_rows(data) is None
    out = add_audio_views(lib, data, n_views=1, settings=gain, track_ids=[tr.track_id])
    assert out["views"] == 1 and out["tracks"] == 1 and len(tr.views) == 1


def test_a_self_trained_model_keeps_the_audio_views():
    """Self-training refits on the labelled rows and the pseudo-labels: the audio views were left out of the refit,
    so `audio_views` with `self_training_rounds` trained the final model without them."""
    from test_sections_self_training import _pool
    from test_sections_transfer import FAST, _data

    from workbench.train.sections import train_sections

    data = _data()
    for t in data.tracks:
        t.views = [t.features + 0.1]
    res = train_sections(data, config={**FAST, "self_training_rounds": 1, "self_training_threshold": 0.3,
                                       "transfer": False}, progress=False, unlabelled=_pool())
    assert res.metrics["self_training"]["pseudo_windows"] > 0  # the model is the self-trained one ...
    assert res.trainer.n_pseudo_windows_ == res.metrics["self_training"]["pseudo_windows"]
    assert res.trainer.n_view_windows_ > 0  # ... and it trained on the training tracks' views as well


def test_the_view_eq_is_drawn_from_its_seed_never_from_the_global_rngs(monkeypatch):
    """The EQ of an audio view takes its bands from a Generator seeded by the view: the global ``random``
    and ``numpy.random`` are neither read (other draws there change nothing) nor reseeded (their state
    after the call is what it was)."""
    import random

    from workbench.augment import _equalised

    x = np.random.default_rng(0).standard_normal(22050).astype(np.float32) * 0.1
    eq = {"max_db": 9.0, "seed": 1234}
    random.seed(1)
    np.random.seed(1)
    first = _equalised(x, 22050, eq)
    after = (random.random(), np.random.random())
    random.seed(1)
    np.random.seed(1)
    random.random(), np.random.random()  # another state going in
    second = _equalised(x, 22050, eq)
    random.seed(1)
    np.random.seed(1)
    _equalised(x, 22050, eq)
    assert (random.random(), np.random.random()) == after  # the global state untouched
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, x)  # an EQ was applied
    assert not np.allclose(first, _equalised(x, 22050, {**eq, "seed": 99}))  # another seed, other bands
    assert _equalised(x, 22050, None) is x
    seeded = []  # package code never seeds a global RNG (it takes a seed and makes its own Generator)
    monkeypatch.setattr(random, "seed", lambda *a, **k: seeded.append("random"))
    monkeypatch.setattr(np.random, "seed", lambda *a, **k: seeded.append("numpy"))
    np.testing.assert_array_equal(_equalised(x, 22050, eq), first)
    assert seeded == []
