"""The domain gate of self-training (workbench.train.sections.domain_gate, config self_training_gate)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_sections_transfer import FAST, _data, _track  # noqa: E402

from workbench.errors import ParameterError
from workbench.labels import LABELS


def _pool(offsets, first_id: int = 2000):
    """Unlabelled tracks of the labelled forms, each shifted by its offset (another mix or synthesizer)."""
    rng = np.random.default_rng(0)  # the same centres as _data(seed=0)
    centres = {c: rng.normal(0, 3.0, 12) for c in LABELS}
    rng = np.random.default_rng(7)
    return [replace(_track(first_id + k, "pool", rng, centres, offset=float(o)), sections=[], group="")
            for k, o in enumerate(offsets)]


def test_only_tracks_farther_than_the_labelled_styles_are_from_each_other_pass():
    from workbench.train.sections.domain_gate import domain_gate

    data = _data()  # groups a, b, c at offsets 0, 1, 2: a new style lies about 1 from the others
    keep, info = domain_gate(_pool([0.0, 1.0, 2.0, 8.0, -6.0]), data.tracks, gate=1.0)
    assert keep.tolist() == [False, False, False, True, True]
    assert info["in_domain"] == 3 and info["out_of_domain"] == 2 and info["reference"] > 0
    assert all(d > 1 for d in info["distances"][3:]) and all(d <= 1 for d in info["distances"][:3])
    keep, _ = domain_gate(_pool([0.0, 8.0]), data.tracks, gate=0.0)  # gate 0: every track that is not a copy
    assert keep.tolist() == [True, True]


@pytest.mark.parametrize("gate", [-1.0, "far", True, float("nan")])
def test_bad_gates_are_refused(gate):
    from workbench.train.sections import train_sections

    with pytest.raises(ParameterError, match="self_training_gate must be None .* or a float >= 0"):
        train_sections(_data(), config={**FAST, "self_training_rounds": 1, "self_training_gate": gate},
                       progress=False)


def test_an_in_domain_pool_trains_as_without_self_training():
    import torch

    from workbench.train.sections import train_sections

    data = _data()
    pool = _pool([0.0, 1.0, 2.0])
    cfg = {**FAST, "self_training_rounds": 1, "self_training_threshold": 0.3, "transfer": False}
    ungated = train_sections(data, config=cfg, progress=False, unlabelled=pool)
    assert ungated.metrics["self_training"]["pseudo_windows"] > 0  # without the gate these tracks are trained on
    gated = train_sections(data, config={**cfg, "self_training_gate": 1.0}, progress=False, unlabelled=pool)
    plain = train_sections(data, config={**cfg, "self_training_rounds": 0}, progress=False)
    st = gated.metrics["self_training"]
    assert st["gate"]["in_domain"] == 3 and st["pool_tracks"] == 0 and st["pseudo_windows"] == 0
    assert "out of the labelled tracks' domain" in st["stopped"]
    for (k, va), vb in zip(plain.model.state_dict().items(), gated.model.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k


def test_the_out_of_domain_tracks_are_self_trained_on():
    from workbench.train.sections import train_sections

    cfg = {**FAST, "self_training_rounds": 1, "self_training_threshold": 0.3, "self_training_gate": 1.0}
    res = train_sections(_data(), config=cfg, progress=False, unlabelled=_pool([0.0, 8.0, 8.5]))
    st = res.metrics["self_training"]
    assert st["gate"]["out_of_domain"] == 2 and st["pool_tracks"] == 2 and st["pseudo_windows"] > 0
    assert 0 < st["pseudo_tracks"] <= 2
    loso = res.metrics["transfer"]["leave_one_group_out"]  # every fold gates against its own training tracks
    assert set(loso["self_training"]) == {"a", "b", "c"}


def test_a_fold_of_one_labelled_track_self_trains_on_nothing_and_says_why():
    """Two crates, one of a single track: its fold's gate had no spread to measure and stopped the whole run."""
    from test_sections_domain_map import _data as _hard

    from workbench.train.sections import train_sections

    d = _hard(groups=("a", "b"), per_group=3)
    one = d.subset([t.track_id for t in d.tracks if t.group == "a"] + [d.tracks[-1].track_id])
    cfg = {**FAST, "self_training_rounds": 1, "self_training_threshold": 0.3, "self_training_gate": 1.0}
    res = train_sections(one, config=cfg, progress=False, unlabelled=_pool([0.0, 8.0]))
    assert res.metrics["transfer"]["leave_one_group_out"]["self_training"]["a"] == 0  # the fold trained on b's one track
    assert "gate" in res.metrics["self_training"]


def test_the_gate_reference_is_stored_as_float32_and_an_older_float64_state_loads(tmp_path):
    """The route's labelled summaries (n, 2 d) travel in the model file as float32 tensors (float64 until session
    20), read back with torch.load(weights_only=True); a file saved the old way still loads."""
    import torch

    from workbench.train.sections.domain_gate import GateReference

    data = _data()
    ref = GateReference.fit(data.tracks)
    state = ref.to_state()
    assert state["labelled"].dtype == torch.float32 and state["center"].dtype == torch.float64
    torch.save(state, tmp_path / "new.pt")
    torch.save({k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in ref.__dict__.items()},
               tmp_path / "old.pt")  # as model_file saved the route before session 20
    pool = _pool([0.0, 1.0, 2.0, 8.0, -6.0])
    for name, rel in (("new.pt", 1e-6), ("old.pt", 1e-12)):
        back = GateReference.from_state(torch.load(tmp_path / name, weights_only=True))
        assert back.labelled.dtype == np.float64 and back.reference == ref.reference
        np.testing.assert_allclose(back.distance(pool), ref.distance(pool), rtol=rel)
