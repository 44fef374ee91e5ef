"""Routing by domain at serving time (workbench.train.sections.domain_route, config self_training_route)."""

from __future__ import annotations

import numpy as np
import pytest
from test_cli_json import home, run_json  # noqa: F401 - the fixture, for the CLI test
from test_sections_domain_gate import _pool
from test_sections_transfer import FAST, _data

from workbench.errors import ParameterError

ROUTED = {**FAST, "self_training_rounds": 1, "self_training_threshold": 0.3, "self_training_gate": 1.0}
#: Pool: one track like the labelled ones (left out by the gate), two far from them (self-trained on).
POOL = (0.0, 8.0, 8.5)


@pytest.fixture(scope="module")
def runs():
    """The same data trained three ways: labels only, gated self-training, gated self-training with routing."""
    from workbench.train.sections import train_sections

    data = _data()
    plain = train_sections(data, config={**ROUTED, "self_training_rounds": 0, "self_training_gate": None},
                           progress=False)
    gated = train_sections(data, config=ROUTED, progress=False, unlabelled=_pool(POOL))
    routed = train_sections(data, config={**ROUTED, "self_training_route": True}, progress=False,
                            unlabelled=_pool(POOL))
    return plain, gated, routed


def test_a_track_like_the_labelled_ones_is_served_the_labels_only_model(runs):
    from workbench.train.sections.domain_route import BASE, SELF_TRAINED, served

    plain, gated, routed = runs
    assert routed.metrics["self_training"]["pseudo_windows"] > 0 and routed.trainer.route_ is not None
    near, far = _pool([0.5, 9.0], first_id=3000)
    model, said = served(routed.trainer, near)
    assert said == BASE
    np.testing.assert_array_equal(model.predict_proba(near.features), plain.trainer.predict_proba(near.features))
    assert not np.array_equal(gated.trainer.predict_proba(near.features), plain.trainer.predict_proba(near.features))
    model, said = served(routed.trainer, far)
    assert said == SELF_TRAINED and model is routed.trainer
    np.testing.assert_array_equal(model.predict_proba(far.features), gated.trainer.predict_proba(far.features))
    assert served(gated.trainer, near) == (gated.trainer, None)  # no route: one model, nothing said


def test_the_held_out_labelled_tracks_are_scored_with_the_base_model(runs):
    plain, gated, routed = runs
    np.testing.assert_array_equal(routed.arrays["probs"], plain.arrays["probs"])  # the in-domain test tracks
    assert not np.array_equal(gated.arrays["probs"], plain.arrays["probs"])  # without the route the self-trained


def test_each_fold_routes_with_its_own_training_tracks(runs):
    _, gated, routed = runs
    loso = routed.metrics["transfer"]["leave_one_group_out"]
    assert set(loso["served_base_model"]) == set(loso["self_training"]) == {"a", "b", "c"}
    # a held-out style lies about 1 from the others (the reference): every fold's own tracks are within the gate
    assert sum(loso["served_base_model"].values()) >= 1
    assert "served_base_model" not in gated.metrics["transfer"]["leave_one_group_out"]


def test_the_route_survives_the_model_file(runs, tmp_path):
    import torch

    from workbench.train.sections import load_section_model, save_section_model
    from workbench.train.sections.domain_route import served

    _, _, routed = runs
    path = tmp_path / "model.pt"
    save_section_model(routed.trainer, path, features=routed.features, backbone="test")
    back, _, _ = load_section_model(path)
    a, b = routed.trainer.route_, back.route_
    assert b is not None and b.gate == a.gate and b.reference.reference == a.reference.reference
    for va, vb in zip(a.base.state_dict().values(), b.base.state_dict().values(), strict=True):
        assert torch.equal(va, vb)
    for tr in _pool([0.5, 9.0], first_id=3000):
        (ma, wa), (mb, wb) = served(routed.trainer, tr), served(back, tr)
        assert wa == wb and b.distance(tr) == pytest.approx(a.distance(tr))
        np.testing.assert_allclose(mb.predict_proba(tr.features, calibrated=True),
                                   ma.predict_proba(tr.features, calibrated=True), rtol=1e-6)


def test_no_route_when_no_pool_track_was_trained_on():
    from workbench.train.sections import train_sections

    res = train_sections(_data(), config={**ROUTED, "self_training_route": True, "transfer": False}, progress=False,
                         unlabelled=_pool([0.0, 1.0]))  # in domain: the gate leaves every pool track out
    assert getattr(res.trainer, "route_", None) is None and res.metrics["self_training"]["pseudo_windows"] == 0


@pytest.mark.parametrize(("extra", "match"), [({"self_training_route": "yes"}, "must be True or False"),
                                              ({"self_training_route": True, "self_training_gate": None},
                                               "needs self_training_gate")])
def test_bad_routes_are_refused(extra, match):
    from workbench.train.sections import train_sections

    with pytest.raises(ParameterError, match=match):
        train_sections(_data(), config={**ROUTED, **extra}, progress=False)


def test_suggest_says_which_model_served_the_track(home, capsys, monkeypatch):  # noqa: F811
    import workbench.commands.suggest as cmd
    import workbench.train.sections as sections
    from workbench.cli import main
    from workbench.labels import Suggestion
    from workbench.train.sections.domain_route import BASE

    class Run:
        kind, model_path, run_id = "sections", "model.pt", "r1"

    monkeypatch.setattr(cmd, "section_run", lambda args, lib: (Run(), "newest sections run r1"))
    monkeypatch.setattr(cmd, "_backbone", lambda run: None)
    monkeypatch.setattr(sections, "load_section_model", lambda path: (object(), None, None))
    monkeypatch.setattr(sections, "suggest_sections", lambda *a, **k: [
        Suggestion(1, "intro", 0, 16, 0.0, 8.0, 0.9, uncertain_below=0.8, served_by=BASE)])
    doc = run_json(["--home", str(home), "suggest", "1", "--json"], capsys)
    assert doc["served_by"] == BASE and "served_by" not in doc["suggestions"][0]
    assert main(["--home", str(home), "suggest", "1"]) == 0
    assert "served by the base (labels only) model (the track sounds like your labelled tracks)" in \
        capsys.readouterr().out


def test_a_fold_served_the_base_head_decodes_as_the_labels_only_model(runs):
    plain, _, routed = runs
    loso, base = routed.metrics["transfer"]["leave_one_group_out"], plain.metrics["transfer"]["leave_one_group_out"]
    whole = [g for g, n in loso["served_base_model"].items() if n == loso["groups"][g]]
    assert whole  # every track of these folds is like the other folds' tracks
    for g in whole:  # each head's temperature is fitted on that head's out-of-fold windows: the default's here
        assert loso["per_group"][g]["smoothed_accuracy"] == base["per_group"][g]["smoothed_accuracy"], g
    temps = routed.metrics["calibration"]["head_temperatures"]
    assert routed.trainer.route_.temperature == temps["base"] and routed.trainer.temperature_ == temps["self_trained"]
    if plain.metrics["calibration"]["temperature"] is not None:
        assert temps["base"] == pytest.approx(plain.metrics["calibration"]["temperature"])
