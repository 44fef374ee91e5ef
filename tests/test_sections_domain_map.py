"""The domain-aware confidence map: a track unlike the training tracks is served a lower confidence."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

FAST = {"epochs": 6, "transfer_epochs": 4, "hidden_dim": 32, "baselines": ["majority", "logreg"],
        "min_per_class": 2, "seed": 0, "confidence_map_domain": True}  # the option on (off by default)


def _data(groups: tuple[str, ...] = ("a", "b", "c"), per_group: int = 3, seed: int = 0, *, shift: float = 0.0):
    """Tracks of test_sections_transfer's form whose sections are hard to tell apart (some suggestions wrong)."""
    from section_tracks import synthetic_track
    from test_sections_transfer import FORM

    from workbench.labels import LABELS
    from workbench.train.sections import SectionData, WindowFeatures

    rng = np.random.default_rng(seed)
    centres = {c: rng.normal(0, 0.7, 12) for c in LABELS}
    tracks = [synthetic_track(i * per_group + k + 1 + 100 * seed, FORM, g, rng, centres, offset=float(i) + shift)
              for i, g in enumerate(groups) for k in range(per_group)]
    return SectionData(tracks, WindowFeatures(context_s=(4.0,)), "test")


def test_beyond_the_folds_a_track_is_served_the_folds_share_right():
    from workbench.evaluate.calibration import apply_confidence_map, confidence_ece, fit_platt
    from workbench.train.sections.domain_fit import fit_domain_map, fold_check
    from workbench.train.sections.domain_map import TrackDistance

    rng = np.random.default_rng(19)
    conf = rng.uniform(0.5, 1.0, 4000)
    right = rng.random(4000) < conf  # in the folds the stated confidence ranks well
    dist = rng.uniform(0.5, 2.0, 4000)
    ref = TrackDistance.fit(rng.normal(size=(6, 4)))
    dm = fit_domain_map(right, dist, reference=ref)
    assert dm.seen_max == pytest.approx(dist.max()) and dm.limit == pytest.approx(1.25 * dist.max())
    platt = fit_platt(conf, right)
    assert dm.knots(2.0, platt) is platt and not dm.unlike(2.0)  # within the folds: the Platt map
    x, y = dm.knots(3.0, platt)  # unlike them: the folds' share right, whatever the stated confidence
    assert dm.unlike(3.0) and np.allclose(y, right.mean()) and x.tolist() == [0.0, 1.0]
    far_conf = rng.uniform(0.9, 1.0, 3000)  # another generator: stated high, right as often as in the folds,
    far_right = rng.random(3000) < right.mean()  # and the confidence no longer ranks
    served = apply_confidence_map(far_conf, dm.knots(3.0, platt))
    assert confidence_ece(served, far_right) < 0.03 < confidence_ece(apply_confidence_map(far_conf, platt), far_right)
    folds = np.repeat(np.array(["a", "b", "c", "d"]), 1000)
    d = np.where(folds == "d", 9.0, dist)  # one fold far beyond the others
    by_platt, by_domain = fold_check(conf, right, d, folds)
    assert np.allclose(by_domain[folds != "d"], by_platt[folds != "d"])
    assert np.allclose(by_domain[folds == "d"], right[folds != "d"].mean())
    with pytest.raises(ValueError, match="distance must be > 0"):
        fit_domain_map(right, -dist, reference=ref)
    with pytest.raises(ValueError, match="margin must be a number >= 1; got 0.5"):
        fit_domain_map(right, dist, reference=ref, margin=0.5)


def test_track_distance_is_in_units_of_the_training_tracks_spread():
    from workbench.train.sections.domain_map import DomainMap, TrackDistance, track_descriptor

    rng = np.random.default_rng(0)
    refs = rng.normal(size=(12, 8))
    ref = TrackDistance.fit(refs, k=3)
    like = ref.distance(rng.normal(size=(40, 8)))
    assert 0.7 < float(np.median(like)) < 1.5  # a track drawn like them: about 1
    assert ref.distance(rng.normal(size=(1, 8)) + 6.0)[0] > 3 * float(np.median(like))
    back = DomainMap.from_dict(DomainMap(0.9, 1.8, ref).to_dict())
    assert back.share_right == 0.9 and back.seen_max == 1.8 and back.margin == 1.25
    assert np.allclose(back.reference.distance(refs[:3]), ref.distance(refs[:3]))
    assert track_descriptor(np.ones((5, 3))).tolist() == [1, 1, 1, 0, 0, 0]
    with pytest.raises(ValueError, match=r"descriptors must be a finite \(n >= 2, D\) array.*\(1, 8\)"):
        TrackDistance.fit(refs[:1])
    with pytest.raises(ValueError, match="k must be an int >= 1; got 0"):
        TrackDistance.fit(refs, k=0)
    with pytest.raises(ValueError, match=r"descriptors must have 8 columns.*got shape \(1, 5\)"):
        ref.distance(np.zeros((1, 5)))
    with pytest.raises(ValueError, match=r"frames must be a finite \(n >= 1, d\) array"):
        track_descriptor(np.zeros((0, 3)))


def test_train_sections_fits_serves_and_stores_the_domain_map(tmp_path):
    from workbench.train.sections import load_section_model, save_section_model, train_sections
    from workbench.train.sections.domain_map import served_map

    data = _data(groups=("a", "b", "c"), per_group=3)
    cfg = {**FAST, "calibration_guard": False, "confidence_map_domain": True}
    far = _data(groups=("d",), per_group=2, seed=5, shift=6.0)  # another sound: every frame shifted
    res = train_sections(data, config=cfg, external={"other": far}, progress=False)
    dm, rec = res.trainer.domain_map_, res.metrics["calibration"]["suggestions"]["domain"]
    assert dm is not None and rec["share_right"] == dm.share_right and "folds_ece_domain" in rec
    assert dm.unlike(dm.distance(far.tracks[0]))  # unlike every held-out group of the folds
    knots = served_map(res.trainer, far.tracks[0])
    assert np.allclose(knots[1], dm.share_right)  # not the Platt map
    assert served_map(res.trainer, data.tracks[0]) is res.trainer.confidence_map_  # a training track: the Platt map
    ext = res.metrics["transfer"]["external"]["other"]["calibration"]["suggestions"]
    # every window of the far set is served the share right: one bin holds them all
    assert ext["reliability_after"]["count"][int(dm.share_right * 15 - 1e-9)] == sum(ext["reliability_after"]["count"])
    save_section_model(res.trainer, tmp_path / "m.pt", features=res.features, backbone="test")
    loaded, _, _ = load_section_model(tmp_path / "m.pt")
    assert loaded.domain_map_.share_right == dm.share_right and loaded.domain_map_.limit == dm.limit
    assert np.allclose(served_map(loaded, far.tracks[0])[1], knots[1])
    _stored_as_float32_and_the_old_lists_still_load(tmp_path / "m.pt", res.trainer, far.tracks + data.tracks)
    plain = train_sections(data, config={**cfg, "confidence_map_domain": False}, progress=False)
    assert getattr(plain.trainer, "domain_map_", None) is None
    assert np.allclose(served_map(plain.trainer, far.tracks[0])[1], plain.trainer.confidence_map_[1])
    with pytest.raises(ValueError, match="confidence_map_domain must be True or False; got 'yes'"):
        train_sections(data, config={**FAST, "confidence_map_domain": "yes"}, progress=False)


def _stored_as_float32_and_the_old_lists_still_load(path, trainer, tracks):
    """Session 19's files held the training tracks' descriptors as Python lists (about 14 MB and 2.9 s more load at
    1,000 tracks): now a float32 tensor; a file saved the old way loads to the same distances and decisions."""
    import torch

    from workbench.train.sections import load_section_model

    state = torch.load(path, weights_only=True)
    ref = state["domain_map"]["reference"]
    assert isinstance(ref["refs"], torch.Tensor) and ref["refs"].dtype == torch.float32
    assert ref["center"].dtype == torch.float64 and ref["refs"].shape == trainer.domain_map_.reference.refs.shape
    old = {**state, "domain_map": {**state["domain_map"], "reference": {
        **ref, **{k: trainer.domain_map_.reference.__dict__[k].tolist() for k in ("center", "scale", "refs")}}}}
    torch.save(old, path.with_name("old.pt"))
    new, _, _ = load_section_model(path)
    before, _, _ = load_section_model(path.with_name("old.pt"))
    assert before.domain_map_.reference.refs.dtype == np.float64
    np.testing.assert_array_equal(before.domain_map_.reference.refs, trainer.domain_map_.reference.refs)
    for tr in tracks:  # float32 summaries: the same distance to 1e-6, the same decision
        want = trainer.domain_map_.distance(tr)
        assert before.domain_map_.distance(tr) == pytest.approx(want, rel=1e-12)
        assert new.domain_map_.distance(tr) == pytest.approx(want, rel=1e-6)
        assert new.domain_map_.unlike(new.domain_map_.distance(tr)) == trainer.domain_map_.unlike(want)


def test_the_guard_keeps_the_platt_map_where_the_domain_map_raised_the_folds_ece():
    from workbench.train.sections import train_sections

    data = _data(groups=("a", "b", "c"), per_group=3)
    res = train_sections(data, config={**FAST, "confidence_map_domain": True}, progress=False)
    rec = res.metrics["calibration"].get("suggestions", {}).get("domain")
    if res.trainer.confidence_map_ is None:  # the Platt map itself was dropped: no domain map on top of nothing
        assert rec is None and res.trainer.domain_map_ is None
    else:
        worse = rec["folds_ece_domain"] > rec["folds_ece_platt"]
        assert ("dropped" in rec) == worse and (res.trainer.domain_map_ is None) == worse


def test_a_suggestion_says_when_its_track_is_unlike_the_labelled_tracks():
    from workbench.labels import Suggestion
    from workbench.labels.uncertain import unlike_note

    s = Suggestion(1, "drop", 0, 16, 0.0, 8.0, 0.87, unlike_labelled=2.345)
    assert s.unlike_labelled == 2.345 and Suggestion(1, "drop", 0, 16, 0.0, 8.0, 0.87).unlike_labelled is None
    note = unlike_note(s.unlike_labelled)
    assert note.startswith("unlike your labelled tracks (distance 2.3,") and "share of those held-out" in note


def test_the_report_says_how_tracks_unlike_the_labelled_ones_are_served():
    from workbench.report.sections import calibration_part

    domain = {"share_right": 0.853, "seen_max": 1.69, "limit": 2.12, "fitted_on": "tracks farther than 1.25 x ..."}
    cal = {"temperature": 1.2, "fitted_on": "x", "suggestions": {"fitted_on": "Platt", "domain": domain}}
    html = calibration_part({"calibration": cal}, lambda name, fig, alt: "")
    assert "tracks unlike the labelled ones" in html and "beyond distance 2.12" in html and "0.85" in html
    cal["suggestions"]["domain"] = {**domain, "dropped": "Platt map kept alone: the domain map raised"}
    assert "Platt map kept alone" in calibration_part({"calibration": cal}, lambda name, fig, alt: "")
    cal["suggestions"]["domain"] = {"skipped": "a track's distance needs 2+ training tracks; fold(s) a trained on fewer"}
    html = calibration_part({"calibration": cal}, lambda name, fig, alt: "")  # said, where it was left out silently
    assert "no domain map: a track&#x27;s distance needs 2+ training tracks; fold(s) a trained on fewer" in html


def test_a_fold_trained_on_one_track_trains_without_the_domain_map():
    """Two crates, one of a single track: its fold's reference has no spread; the run trains and says why (it raised)."""
    from workbench.train.sections import train_sections

    d = _data(groups=("a", "b"), per_group=3)
    one = d.subset([t.track_id for t in d.tracks if t.group == "a"] + [d.tracks[-1].track_id])
    res = train_sections(one, config={**FAST, "calibration_guard": False}, progress=False)
    rec = res.metrics["calibration"]["suggestions"]["domain"]
    assert res.trainer.domain_map_ is None and "fold(s) a trained on fewer" in rec["skipped"]


def test_the_domain_map_is_off_by_default():
    """Session 19: on `make demo`'s cross-generator line the map raised the suggestion ECE (0.0729 -> 0.0938)."""
    from workbench.train.sections import train_sections

    res = train_sections(_data(), config={k: v for k, v in FAST.items() if k != "confidence_map_domain"}, progress=False)
    assert res.trainer.domain_map_ is None and "domain" not in res.metrics["calibration"]["suggestions"]


def test_without_a_confidence_map_no_suggestion_ece_is_said_to_be_served_through_one():
    from workbench.train.sections import train_sections

    res = train_sections(_data(), config={**FAST, "calibrate": False}, progress=False)
    sug = res.metrics["calibration"]["suggestions"]
    assert res.trainer.confidence_map_ is None
    assert sug["ece_after"] is None and sug["reliability_after"] is None and sug["ece_before"] is not None


def test_a_crate_whose_name_holds_a_plus_is_held_out_whole():
    """leave_one_group_out joins a fold's crates with " + ": the held-out crates are read from its tracks."""
    from dataclasses import replace

    from workbench.train.sections import SectionData
    from workbench.train.sections.domain_fit import fold_distances
    from workbench.train.sections.domain_map import TrackDistance, track_descriptor

    d = _data(groups=("a", "b", "c"), per_group=3)
    d = SectionData([replace(t, group="a + b") if t.group == "a" else t for t in d.tracks], d.features, d.backbone)
    held = [t for t in d.tracks if t.group == "a + b"]
    ids = np.array([t.track_id for t in held])
    got = fold_distances(d, ids, np.full(len(ids), "a + b"))
    others = [t for t in d.tracks if t.group != "a + b"]
    want = TrackDistance.fit(np.array([track_descriptor(t.frames) for t in others])).distance(
        np.array([track_descriptor(t.frames) for t in held]))
    assert np.allclose(got, want)


def test_a_model_file_saved_before_the_domain_map_serves_its_platt_map(tmp_path):
    """A file without the "domain_map" key (sessions before 19) loads, serves the Platt map everywhere, says nothing."""
    import torch

    from workbench.train.sections import load_section_model, save_section_model, train_sections
    from workbench.train.sections.domain_map import served_map, unlike_labelled

    data, far = _data(), _data(groups=("d",), per_group=1, seed=5, shift=6.0)
    res = train_sections(data, config={**FAST, "calibration_guard": False}, progress=False)
    assert res.trainer.domain_map_ is not None and res.trainer.confidence_map_ is not None
    save_section_model(res.trainer, tmp_path / "m.pt", features=res.features, backbone="test")
    old = torch.load(tmp_path / "m.pt", weights_only=True)
    del old["domain_map"]
    torch.save(old, tmp_path / "old.pt")
    loaded, _, _ = load_section_model(tmp_path / "old.pt")
    assert loaded.domain_map_ is None
    assert served_map(loaded, far.tracks[0]) is loaded.confidence_map_
    assert unlike_labelled(loaded, far.tracks[0]) is None
    assert np.allclose(loaded.confidence_map_[1], res.trainer.confidence_map_[1])


def test_the_web_labeler_says_a_track_is_unlike_the_labelled_tracks_after_the_model(tmp_path):
    import soundfile as sf
    from test_labels import _store_grid

    from workbench.labels import Labels, Suggestion
    from workbench.labels.uncertain import unlike_note
    from workbench.library import Library
    from workbench.widgets.labeler_web import WebLabeler
    from workbench.widgets.suggest import Suggester

    (tmp_path / "audio").mkdir()
    sf.write(str(tmp_path / "audio" / "t.wav"), 0.1 * np.random.default_rng(0).standard_normal(20 * 8000), 8000)
    lib = Library(tmp_path / "db" / "w.db")
    lib.scan(tmp_path / "audio", progress=False)
    (t,) = lib.tracks()
    _store_grid(lib, t, 32)
    said = "active model dj_section (run r1)"
    for far, note in ((None, said), (2.345, f"{said}; {unlike_note(2.345)}")):
        def fn(track, far=far):
            g = Labels(lib).grid(track)
            return [Suggestion(track.id, "intro", 0, 16, 0.0, g.time_of(16), 0.6, uncertain=True, uncertain_below=0.8,
                               unlike_labelled=far)]

        w = WebLabeler(lib, suggest=Suggester("dj_section", "v1", False, said, None, fn), audio=False)
        w.load_suggestions()
        assert w.suggest_note == note


def test_the_domain_map_leaves_every_in_domain_figure_as_the_platt_map_gave_it():
    """confidence_map_domain (an option, default False) moves only tracks beyond the limit: held-out tracks within it score the same."""
    from workbench.train.sections import train_sections
    from workbench.train.sections.domain_map import unlike_labelled

    data = _data(groups=("a", "b", "c"), per_group=4)
    cfg = {**FAST, "calibration_guard": False}
    on, off = (train_sections(data, config={**cfg, "confidence_map_domain": v}, progress=False) for v in (True, False))
    assert on.trainer.domain_map_ is not None
    held = [t for t in data.tracks if t.track_id in set(on.arrays["track_ids"].tolist())]
    assert held and all(unlike_labelled(on.trainer, t) is None for t in held)  # every held-out track within the limit
    a, b = on.metrics["calibration"]["suggestions"], off.metrics["calibration"]["suggestions"]
    assert (a["ece_before"], a["ece_after"], a["span"]["after"]["ece"]) == (b["ece_before"], b["ece_after"],
                                                                          b["span"]["after"]["ece"])
    assert on.metrics["model"] == off.metrics["model"]


def test_the_fold_check_serves_the_platt_map_fitted_per_suggestion_and_the_guard_counts_suggestions():
    from workbench.evaluate.calibration import apply_confidence_map, confidence_ece
    from workbench.evaluate.span_calibration import fit_suggestion_map, span_ece
    from workbench.train.sections.domain_fit import fold_check, guard_ece

    rng = np.random.default_rng(20)
    n_windows = rng.integers(1, 40, 120)  # suggestions of very different lengths: the units disagree
    tids = np.repeat(np.arange(120) // 6, n_windows)
    sids = np.repeat(np.arange(120) % 6, n_windows)
    conf = np.repeat(rng.uniform(0.4, 1.0, 120), n_windows)
    right = rng.random(len(conf)) < np.where(np.repeat(n_windows, n_windows) > 20, 0.95, 0.5)
    folds = np.array(["a", "b", "c"])[tids % 3]
    dist = np.where(folds == "c", 9.0, 1.0)
    platt, domain = fold_check(conf, right, dist, folds, per="suggestion", track_ids=tids, suggestion_index=sids)
    o = folds != "a"
    knots = fit_suggestion_map(conf[o], right[o], per="suggestion", track_ids=tids[o], suggestion_index=sids[o])
    assert np.allclose(platt[~o], apply_confidence_map(conf[~o], knots))  # the map the model serves with per=suggestion
    by_window, _ = fold_check(conf, right, dist, folds)
    assert not np.allclose(platt, by_window)
    assert np.allclose(domain[folds == "c"], right[folds != "c"].mean())  # the share right stays per window
    assert guard_ece(platt, right, per="span", track_ids=tids, suggestion_index=sids) == pytest.approx(
        span_ece(tids, sids, platt, right)["ece"])
    assert guard_ece(platt, right, per="window", track_ids=tids, suggestion_index=sids) == confidence_ece(platt, right)
    with pytest.raises(ValueError, match="per='span' needs track_ids and suggestion_index"):
        fold_check(conf, right, dist, folds, per="span")


def test_with_a_map_per_suggestion_the_domain_guard_compares_suggestions():
    from workbench.train.sections import train_sections

    data = _data(groups=("a", "b", "c"), per_group=3)
    for per, unit in (("span", "suggestions"), ("window", "windows")):
        res = train_sections(data, config={**FAST, "calibration_guard": False, "confidence_map_per": per},
                             progress=False)
        assert res.metrics["calibration"]["suggestions"]["domain"]["guard_on"] == unit
