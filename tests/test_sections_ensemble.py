"""Ensemble confidence of section suggestions: lower where the members disagree, kept in the model file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_sections_transfer import FAST, _data  # noqa: E402

CLASSES = ("intro", "build", "drop")


def _frames():
    from workbench.train.sections import TrackFrames

    times = np.arange(0.25, 32.0, 0.5)
    beats = np.arange(0.0, 32.0, 0.5)
    return TrackFrames(1, "t", 32.0, np.zeros((times.size, 3), dtype=np.float32), times, beats, beats[::4], [])


def _suggestions():
    from workbench.labels import Suggestion

    return [Suggestion(1, "intro", 0, 32, 0.0, 16.0, 0.9), Suggestion(1, "drop", 32, 64, 16.0, 32.0, 0.9)]


def _probs(first: int, second: int, p: float = 0.8) -> np.ndarray:
    """Window probabilities saying class ``first`` in the first half, ``second`` in the second, at ``p``."""
    out = np.full((64, 3), (1 - p) / 2)
    out[:32, first] = p
    out[32:, second] = p
    return out


@pytest.mark.parametrize("score", ["mean", "agreement", "stated_agreement"])
def test_confidence_falls_where_the_models_disagree(score):
    from workbench.train.sections.ensemble import ensemble_confidence

    agree = [_probs(0, 2)] * 4
    split = [_probs(0, 2), _probs(0, 1), _probs(0, 1), _probs(1, 1)]  # drop: 1 of 4; intro: 3 of 4
    a = ensemble_confidence(_frames(), _suggestions(), agree, CLASSES, score=score)
    d = ensemble_confidence(_frames(), _suggestions(), split, CLASSES, score=score)
    assert np.all(d < a - 0.1)
    assert d[1] < d[0]  # the suggestion with less support gets the lower confidence
    if score == "agreement":
        assert a.tolist() == [1.0, 1.0] and d.tolist() == [0.75, 0.25]
    if score == "mean":
        assert a == pytest.approx([0.8, 0.8]) and d[1] == pytest.approx((0.8 + 3 * 0.1) / 4)


def test_with_ensemble_confidence_maps_and_marks_uncertain():
    from workbench.train.sections.ensemble import with_ensemble_confidence

    class Member:
        classes_ = ("build", "intro")  # another column order, no drop: placed by name, drop 0

        def predict_proba(self, x):  # intro in the first half (agrees), build in the second (disagrees)
            out = np.tile([0.1, 0.9], (64, 1))
            out[32:] = [0.9, 0.1]
            return out

    segs = with_ensemble_confidence(_frames(), _suggestions(), _probs(0, 2), [Member()], CLASSES,
                                    score="agreement", uncertain_below=0.6)
    assert [s.confidence for s in segs] == [1.0, 0.5] and [s.uncertain for s in segs] == [False, True]
    assert [s.label for s in segs] == ["intro", "drop"]
    flat = (np.array([0.0, 1.0]), np.array([0.3, 0.3]))
    mapped = with_ensemble_confidence(_frames(), _suggestions(), _probs(0, 2), [Member()], CLASSES,
                                      score="agreement", confidence_map=flat, uncertain_below=0.6)
    assert [s.confidence for s in mapped] == pytest.approx([0.3, 0.3]) and all(s.uncertain for s in mapped)
    assert with_ensemble_confidence(_frames(), _suggestions(), _probs(0, 2), [], CLASSES) == _suggestions()


def test_member_splits_leave_out_whole_groups_and_cover_every_track():
    from workbench.train.sections.ensemble import member_splits

    data = _data(groups=("a", "b", "c", "d", "e"), per_group=2)
    parts = member_splits(data, n_members=3, seed=0)
    flat = [t for p in parts for t in p]
    assert len(parts) == 3 and sorted(flat) == sorted(t.track_id for t in data.tracks) and len(set(flat)) == len(flat)
    group = {t.track_id: t.group for t in data.tracks}
    for p in parts:  # a group is never split between members
        assert all(sum(group[t] == group[u] for u in p) == 2 for t in p)
    few = member_splits(_data(groups=("a", "b"), per_group=3), n_members=4, seed=0)
    assert len(few) == 4 and all(len(p) in (1, 2) for p in few)  # fewer groups than members: by track


def test_config_is_checked():
    from workbench.train.sections import train_sections

    with pytest.raises(ValueError, match=r"config confidence must be one of \('stated', 'ensemble'\); got 'bag'"):
        train_sections(_data(), config={**FAST, "confidence": "bag"}, progress=False)
    with pytest.raises(ValueError, match="config ensemble_members must be an int >= 2; got 1"):
        train_sections(_data(), config={**FAST, "confidence": "ensemble", "ensemble_members": 1}, progress=False)
    with pytest.raises(ValueError, match="config ensemble_score must be one of"):
        train_sections(_data(), config={**FAST, "ensemble_score": "vote"}, progress=False)


def test_train_sections_with_an_ensemble_and_its_model_file(tmp_path):
    from workbench.train.sections import load_section_model, save_section_model, train_sections

    data = _data(groups=("a", "b", "c", "d"), per_group=3)
    cfg = {**FAST, "confidence": "ensemble", "ensemble_members": 3, "ensemble_score": "agreement"}
    res = train_sections(data, config=cfg, progress=False)
    assert len(res.trainer.members_) == 3 and res.metrics["seconds"]["ensemble_members"] > 0
    train_ids = set(res.metrics["train_tracks"])
    assert all(m.classes_ for m in res.trainer.members_)
    conf = res.metrics["transfer"]["leave_one_group_out"]["calibration"]["suggestions"]["reliability_before"]
    edges = np.asarray(conf["edges"])  # agreement of 4 models (main + 3): confidences only in {0, .25, .5, .75, 1}
    filled = [c for c, n in zip(conf["confidence"], conf["count"], strict=True) if n]
    assert all(min(abs(c - v) for v in (0, 0.25, 0.5, 0.75, 1.0)) < 1e-9 for c in filled) and len(edges) == 16
    assert train_ids and not set(res.metrics["test_tracks"]) & train_ids
    save_section_model(res.trainer, tmp_path / "m.pt", features=res.features, backbone="test")
    back, _, _ = load_section_model(tmp_path / "m.pt")
    assert len(back.members_) == 3 and back.ensemble_score_ == "agreement"
    x = data.tracks[0].features
    for a, b in zip(res.trainer.members_, back.members_, strict=True):
        assert np.allclose(a.predict_proba(x), b.predict_proba(x), atol=1e-6)
    plain = train_sections(data, config=FAST, progress=False)
    assert plain.trainer.members_ == []
    save_section_model(plain.trainer, tmp_path / "p.pt", features=plain.features, backbone="test")
    assert load_section_model(tmp_path / "p.pt")[0].members_ == []
    assert (tmp_path / "m.pt").stat().st_size > (tmp_path / "p.pt").stat().st_size


def test_feature_members_ignore_the_groups_they_drop():
    from workbench.train.sections import WindowFeatures
    from workbench.train.sections.ensemble import feature_blocks, fit_members

    layout = WindowFeatures(context_s=(4.0, 16.0), track_relative=False, extra=("dj", "novelty", "ends"))
    assert [len(b) for b in feature_blocks(layout, 623)] == [202, 202, 202, 2, 9, 2, 4]
    with pytest.raises(ValueError, match="n_columns must match the layout's width; got 600"):
        feature_blocks(layout, 600)
    data = _data(groups=("a", "b", "c"), per_group=2)
    cfg = {**FAST, "ensemble_members": 3, "ensemble_split": "features"}
    members = fit_members(data, cfg=cfg, trainer_params={"hidden_dim": 16, "epochs": 3})
    assert len(members) == 3
    x = data.tracks[0].features.copy()
    rng = np.random.default_rng(1)
    dropped = []
    for m in members:
        cols = np.flatnonzero(m.model_.fc1.weight.detach().abs().sum(0).numpy() == 0)
        assert len(cols) in (12, 14)  # 1-2 of the 4 blocks (frame, context, context - mean: 12 each; position: 2)
        y = x.copy()
        y[:, cols] += rng.normal(0, 5, (len(y), len(cols)))
        assert np.allclose(m.predict_proba(x), m.predict_proba(y), atol=1e-6)
        dropped.append(tuple(cols))
    flat = [c for d in dropped for c in d]
    assert sorted(flat) == list(range(38))  # disjoint, and every group is dropped by one member
    bad = {**FAST, "confidence": "ensemble", "ensemble_split": "styles"}
    from workbench.train.sections import train_sections

    with pytest.raises(ValueError, match="config ensemble_split must be 'groups' or 'features'; got 'styles'"):
        train_sections(data, config=bad, progress=False)
