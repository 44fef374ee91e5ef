"""Self-training of the section model on unlabelled tracks (workbench.train.sections.self_training)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_sections_transfer import FAST, _data, _track  # noqa: E402

from workbench.errors import ParameterError
from workbench.labels import LABELS


class _Unread(list):
    """A pool track's sections: reading them fails the test (pseudo-labels never see truth)."""

    def __iter__(self):
        raise AssertionError("a pool track's sections were read")

    def __len__(self):
        raise AssertionError("a pool track's sections were read")


def _pool(n: int = 4, seed: int = 5, first_id: int = 1000):
    """Unlabelled tracks of the same forms, made another way (an offset), their truth made unreadable."""
    rng = np.random.default_rng(0)  # the same centres as _data(seed=0)
    centres = {c: rng.normal(0, 3.0, 12) for c in LABELS}
    rng = np.random.default_rng(seed)
    return [replace(_track(first_id + k, "pool", rng, centres, offset=1.5), sections=_Unread(), group="")
            for k in range(n)]


def _fitted(data):
    from workbench.train.sections import SectionTrainer
    from workbench.train.sections.grammar import learn_grammar, track_sequences

    trainer = SectionTrainer(epochs=6, hidden_dim=32, seed=0).fit(data.X, data.y, data.groups)
    return trainer, learn_grammar(track_sequences(data.tracks), trainer.classes_)


@pytest.mark.parametrize(("key", "value", "match"), [
    ("self_training_rounds", -1, "self_training_rounds must be an int in 0..5; got -1"),
    ("self_training_rounds", 1.0, "self_training_rounds must be an int"),
    ("self_training_rounds", True, "self_training_rounds must be an int"),
    ("self_training_threshold", 1.5, r"self_training_threshold must be a float in \[0, 1\]; got 1.5"),
    ("self_training_weight", 0.0, r"self_training_weight must be a float in \(0, 1\]"),
    ("self_training_weight", 2.0, r"a pseudo-label never outweighs a user's label\); got 2.0"),
    ("self_training_cap", 0, "self_training_cap must be a float > 0"),
    ("self_training_max_tracks", 0, "self_training_max_tracks must be an int in 1..100000"),
])
def test_bad_values_are_refused(key, value, match):
    from workbench.train.sections import train_sections

    with pytest.raises(ParameterError, match=match):
        train_sections(_data(), config={**FAST, key: value}, progress=False)


def test_rounds_0_is_today_whatever_the_pool():
    import torch

    from workbench.train.sections import train_sections

    data = _data()
    a = train_sections(data, config=FAST, progress=False)
    b = train_sections(data, config={**FAST, "self_training_rounds": 0}, progress=False, unlabelled=_pool())
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert "self_training" not in b.metrics
    assert a.metrics["model_smoothed"] == b.metrics["model_smoothed"]
    assert a.metrics["transfer"]["leave_one_group_out"]["model_smoothed"] == \
        b.metrics["transfer"]["leave_one_group_out"]["model_smoothed"]


def test_only_suggestions_above_the_threshold_are_picked_whole():
    from workbench.train.sections.self_training import pick_pseudo_labels
    from workbench.train.sections.suggestions import segments_for
    from workbench.train.sections.training import CONFIG_DEFAULTS

    data = _data()
    trainer, grammar = _fitted(data)
    pool = _pool()
    segs = {t.track_id: segments_for(t, trainer.predict_proba(t.features, calibrated=True), trainer.classes_,
                                     grammar=grammar, novelty_weight=CONFIG_DEFAULTS["novelty_weight"]) for t in pool}
    conf = sorted(s.confidence for v in segs.values() for s in v)
    thr = float(np.median(conf))
    assert conf[0] < thr <= conf[-1]  # some suggestions on each side
    cfg = {**CONFIG_DEFAULTS, "self_training_threshold": thr, "self_training_cap": 100.0}
    X, y, t, info = pick_pseudo_labels(trainer, pool, grammar=grammar, cfg=cfg,
                                       labelled_counts={c: int((data.y == c).sum()) for c in trainer.classes_})
    expected = [(tid, s) for tid, v in segs.items() for s in v if s.confidence >= thr]
    assert info["suggestions"] == info["above_threshold"] == len(expected) > 0
    assert info["windows"] == len(y) == len(X) == len(t) > 0
    by_track = {tr.track_id: tr for tr in pool}
    want: dict[tuple[int, str], int] = {}
    rows_want = set()
    for tid, s in expected:  # every window of a kept suggestion, with its label, and nothing else
        tr = by_track[tid]
        rows = (tr.times_s >= s.start_s) & (tr.times_s < s.end_s)
        want[(tid, s.label)] = want.get((tid, s.label), 0) + int(rows.sum())
        rows_want |= {r.tobytes() for r in tr.features[rows]}
    got: dict[tuple[int, str], int] = {}
    for tid, label in zip(t.tolist(), y.tolist(), strict=True):
        got[(tid, label)] = got.get((tid, label), 0) + 1
    assert got == want
    assert {r.tobytes() for r in X} == rows_want


def test_the_cap_keeps_a_label_from_flooding():
    from workbench.train.sections.self_training import pick_pseudo_labels
    from workbench.train.sections.training import CONFIG_DEFAULTS

    data = _data()
    trainer, grammar = _fitted(data)
    counts = {c: int((data.y == c).sum()) for c in trainer.classes_}
    cfg = {**CONFIG_DEFAULTS, "self_training_threshold": 0.0, "self_training_cap": 0.05}
    _, y, _, info = pick_pseudo_labels(trainer, _pool(8), grammar=grammar, cfg=cfg, labelled_counts=counts)
    assert info["capped"] > 0
    for c in trainer.classes_:
        assert (y == c).sum() <= 0.05 * counts[c]


def test_pseudo_weight_is_applied_and_pseudo_rows_never_validate():
    from workbench.train.sections import SectionTrainer
    from workbench.train.sections.pseudo import pseudo_rows

    X, y_idx = np.zeros((3, 2), np.float32), np.array([0, 1, 0])
    _, _, tracks, w = pseudo_rows(X, y_idx, np.array([1, 1, 2]), (np.ones((2, 2)), np.array(["b", "a"]),
                                                                 np.array([9, 9]), 0.25), {"a": 0, "b": 1})
    assert w.tolist() == [1, 1, 1, 0.25, 0.25] and tracks.tolist() == [1, 1, 2, 9, 9]
    with pytest.raises(ParameterError, match=r"pseudo labels must be among the labelled classes \['a', 'b'\]"):
        pseudo_rows(X, y_idx, None, (np.ones((1, 2)), np.array(["c"]), np.array([9]), 0.5), {"a": 0, "b": 1})
    with pytest.raises(ParameterError, match=r"pseudo weight must be a float in \(0, 1\]; got 1.5"):
        pseudo_rows(X, y_idx, None, (np.ones((1, 2)), np.array(["a"]), np.array([9]), 1.5), {"a": 0, "b": 1})
    # labelled: intro near -2, drop near +2; pseudo-labels call the region near -2 "drop": the weight decides
    rng = np.random.default_rng(0)
    n = 200
    Xl = np.vstack([rng.normal(-2, 0.5, (n, 2)), rng.normal(2, 0.5, (n, 2))]).astype(np.float32)
    yl = np.array(["intro"] * n + ["drop"] * n)
    groups = np.repeat(np.arange(8), n // 4)
    Xp = rng.normal(-2, 0.5, (2 * n, 2)).astype(np.float32)
    yp = np.full(2 * n, "drop")
    probe = np.full((1, 2), -2.0, np.float32)
    p_drop = {}
    for w in (0.02, 1.0):
        tr = SectionTrainer(epochs=30, hidden_dim=16, lr=1e-2, seed=0, patience=40).fit(
            Xl, yl, groups, pseudo=(Xp, yp, np.full(2 * n, 100), w))
        assert tr.n_pseudo_windows_ == 2 * n
        assert 100 not in tr.early_stopping_["val_groups"]  # the pseudo track never validates
        p_drop[w] = tr.predict_proba(probe)[0, list(tr.classes_).index("drop")]
    assert p_drop[1.0] > p_drop[0.02] + 0.2


def test_train_sections_self_trains_and_says_how_much():
    from workbench.train.sections import train_sections

    data = _data()
    pool = _pool()
    labelled_again = replace(data.tracks[0], sections=_Unread())  # a labelled track in the pool is left out
    res = train_sections(data, config={**FAST, "self_training_rounds": 2, "self_training_threshold": 0.3},
                         progress=False, unlabelled=[*pool, labelled_again])
    st = res.metrics["self_training"]
    assert st["pool_tracks"] == len(pool) and st["left_out_labelled"] == 1
    assert len(st["rounds"]) == 2 and st["pseudo_windows"] == st["rounds"][-1]["windows"] > 0
    assert 0 < st["pseudo_tracks"] <= len(pool)
    assert st["weight"] == 0.5 and st["threshold"] == 0.3
    assert res.trainer.n_pseudo_windows_ == st["pseudo_windows"]
    assert res.trainer.grammar_ is not None
    loso = res.metrics["transfer"]["leave_one_group_out"]
    assert set(loso["self_training"]) == {"a", "b", "c"} and all(v > 0 for v in loso["self_training"].values())
    # pseudo-labels are never scored: the held-out windows are the labelled test tracks' only
    assert set(res.arrays["track_ids"].tolist()) <= set(res.metrics["test_tracks"])


def test_no_pool_or_no_confident_suggestion_keeps_the_labelled_model():
    from workbench.train.sections import train_sections

    data = _data()
    res = train_sections(data, config={**FAST, "self_training_rounds": 1, "transfer": False}, progress=False)
    assert res.metrics["self_training"]["stopped"] == "self-training stopped: no unlabelled tracks in the pool"
    assert res.metrics["self_training"]["stopped"] in res.metrics["warnings"]
    assert res.trainer.n_pseudo_windows_ == 0
    res = train_sections(data, config={**FAST, "self_training_rounds": 1, "transfer": False,
                                       "self_training_threshold": 1.0}, progress=False, unlabelled=_pool(2))
    st = res.metrics["self_training"]
    assert st["pseudo_windows"] == 0 and st["stopped"].startswith("self-training stopped: no suggestion reached the "
                                                                  "threshold 1.00")
    assert st["stopped"] in res.metrics["warnings"]


@pytest.mark.slow
def test_job_self_trains_on_the_librarys_unlabelled_tracks(tmp_path):
    from workbench.demo import synthesize_library
    from workbench.library import Library
    from workbench.runs import load_run
    from workbench.train.jobs import train_sections_job
    from workbench.train.sections import demo_sections

    synthesize_library(tmp_path / "audio", n_tracks=5, seed=2, duration_s=30, styles="trance", progress=False)
    with Library(tmp_path / "workbench.db") as lib:
        lib.scan(tmp_path / "audio", progress=False)
        unlabelled_id = lib.tracks()[-1].id
        records = [r for r in demo_sections(lib) if r["track_id"] != unlabelled_id]
        cfg = {"min_per_class": 1, "epochs": 4, "transfer": False, "self_training_rounds": 1,
               "self_training_threshold": 0.0}
        with pytest.raises(ParameterError, match="self_training_weight must be a float in"):
            train_sections_job(lib, config={**cfg, "self_training_weight": 0}, sections=records,
                               experiments_root=tmp_path / "runs", progress=False)
        job, path = train_sections_job(lib, config=cfg, sections=records, experiments_root=tmp_path / "runs",
                                       progress=False)
    run = load_run(path)
    assert job.state == "completed"
    assert run.data["self_training_pool"] == {"candidates": 1, "used": 1, "failed": []}
    st = run.metrics["self_training"]
    assert st["pool_tracks"] == 1 and st["pseudo_tracks"] == 1 and st["pseudo_windows"] > 0
    assert unlabelled_id not in run.data["splits"]["train"] + run.data["splits"]["test"]


@pytest.mark.parametrize(("key", "value", "match"), [
    ("self_training_select", "best", r"self_training_select must be one of \['stated', 'untied', 'label_quantile'\]; "
                                     r"got 'best'"),
    ("self_training_quantile", 0.0, r"self_training_quantile must be a float in \(0, 1\] \(the share of each label's "
                                    r"suggested windows kept\); got 0.0"),
    ("self_training_quantile", 1.5, r"self_training_quantile must be a float in \(0, 1\].*; got 1.5"),
    ("self_training_quantile", "half", r"self_training_quantile must be a float in \(0, 1\].*; got 'half'"),
    ("self_training_tied_threshold", 1.2, r"self_training_tied_threshold must be None \(the threshold\) or a float in "
                                          r"\[0, 1\]; got 1.2"),
    ("self_training_tied_threshold", True, r"self_training_tied_threshold must be None.*; got True"),
])
def test_bad_selection_values_are_refused(key, value, match):
    from workbench.train.sections import train_sections

    with pytest.raises(ParameterError, match=match):
        train_sections(_data(), config={**FAST, key: value}, progress=False)


_TIED = ("intro", "build", "drop", "break", "outro", "chorus")


class _Fixed:
    """A fitted-model stand-in: each window's probabilities given (the true label at 0.9, or drop at ``p_drop``)."""

    classes_ = _TIED
    confidence_map_ = None

    def __init__(self, p_drop: float = 0.9):
        self.p_drop = p_drop

    def predict_proba(self, features, calibrated=True):
        lab = self.labels[features.tobytes()]
        p = np.full((len(lab), len(_TIED)), 0.02)
        for i, c in enumerate(lab):
            p[i, _TIED.index(c)] = self.p_drop if c == "drop" else 0.9
        return p / p.sum(axis=1, keepdims=True)


def _tied_pool(n: int = 3):
    """Tracks of the FORM (intro build drop break build drop outro) and a fixed model that knows their labels."""
    from test_sections_transfer import FORM

    rng = np.random.default_rng(4)
    centres = {c: np.zeros(12) for c in LABELS}
    pool = [_track(2000 + k, "pool", rng, centres) for k in range(n)]
    model = _Fixed()
    model.labels = {t.features.tobytes(): t.window_labels() for t in pool}
    pool = [replace(t, sections=_Unread(), group="") for t in pool]
    seqs = [(list(FORM), [8.0] * len(FORM), [(j / 7, (j + 1) / 7) for j in range(7)])] * 4
    seqs += [(["intro", "chorus", "break", "chorus", "outro"], [8.0] * 5, [(j / 5, (j + 1) / 5) for j in range(5)])]
    return pool, model, seqs


def test_untied_selection_lets_drops_in_that_the_tie_keeps_out():
    from workbench.train.sections.grammar import learn_grammar
    from workbench.train.sections.self_training import pick_pseudo_labels, untied_confidence
    from workbench.train.sections.suggestions import segments_for
    from workbench.train.sections.training import CONFIG_DEFAULTS

    pool, model, seqs = _tied_pool()
    counts = {c: 10_000 for c in _TIED}
    untied_g, tied_g = learn_grammar(seqs, _TIED, tie_weight=0.0), learn_grammar(seqs, _TIED, tie_weight=0.5)
    for tr in pool:  # with no tie the untied confidence is the stated one
        p = model.predict_proba(tr.features)
        segs = segments_for(tr, p, _TIED, grammar=untied_g)
        np.testing.assert_allclose(untied_confidence(tr, p, segs, _TIED, grammar=untied_g),
                                   [s.confidence for s in segs], atol=1e-9)
        tied = segments_for(tr, p, _TIED, grammar=tied_g)
        assert "drop" in [s.label for s in tied]
        stated = {s.label: s.confidence for s in tied}
        assert stated["drop"] < 0.85 <= untied_confidence(tr, p, [s for s in tied if s.label == "drop"], _TIED,
                                                           grammar=tied_g)[0]
    picks = {}
    for select in ("stated", "untied"):
        cfg = {**CONFIG_DEFAULTS, "self_training_threshold": 0.85, "self_training_select": select}
        _, y, _, info = pick_pseudo_labels(model, pool, grammar=tied_g, cfg=cfg, labelled_counts=counts)
        picks[select] = info["per_label"]
        assert info["select"] == select
    assert "drop" not in picks["stated"] and picks["untied"]["drop"] > 0
    for label, n in picks["stated"].items():  # what passed before still passes
        assert picks["untied"][label] >= n
    # a threshold of its own for the tied pair: out of reach keeps drop out again, the rest as untied
    cfg = {**CONFIG_DEFAULTS, "self_training_threshold": 0.85, "self_training_select": "untied",
           "self_training_tied_threshold": 1.0}
    _, _, _, info = pick_pseudo_labels(model, pool, grammar=tied_g, cfg=cfg, labelled_counts=counts)
    assert info["per_label"] == {c: n for c, n in picks["untied"].items() if c not in ("drop", "chorus")}
    model.p_drop = 0.1  # drops (p 0.5) below the threshold even untied: a low tied threshold lets them in, alone
    got = []
    for tied_thr in (None, 0.3):
        cfg["self_training_tied_threshold"] = tied_thr
        got.append(pick_pseudo_labels(model, pool, grammar=tied_g, cfg=cfg, labelled_counts=counts)[3]["per_label"])
    assert "drop" not in got[0] and got[1]["drop"] > 0
    assert {c: n for c, n in got[1].items() if c != "drop"} == got[0]


def test_label_quantile_keeps_each_labels_most_confident_share():
    from workbench.train.sections.grammar import learn_grammar
    from workbench.train.sections.self_training import pick_pseudo_labels
    from workbench.train.sections.suggestions import segments_for
    from workbench.train.sections.training import CONFIG_DEFAULTS

    pool, model, seqs = _tied_pool(4)
    model.p_drop = 0.5  # drops are suggested, never confidently
    g = learn_grammar(seqs, _TIED, tie_weight=0.5)
    counts = {c: 10_000 for c in _TIED}
    suggested: dict[str, list[tuple[float, int]]] = {}
    for tr in pool:
        for s in segments_for(tr, model.predict_proba(tr.features), _TIED, grammar=g,
                              novelty_weight=CONFIG_DEFAULTS["novelty_weight"]):
            n = int(((tr.times_s >= s.start_s) & (tr.times_s < s.end_s)).sum())
            suggested.setdefault(s.label, []).append((s.confidence, n))
    assert "drop" in suggested and max(c for c, _ in suggested["drop"]) < 0.8
    base = {**CONFIG_DEFAULTS, "self_training_select": "label_quantile"}
    _, y, _, info = pick_pseudo_labels(model, pool, grammar=g, cfg={**base, "self_training_quantile": 1.0},
                                       labelled_counts=counts)
    assert info["per_label"] == {c: sum(n for _, n in v) for c, v in suggested.items()}  # q = 1: every suggestion
    _, y, _, info = pick_pseudo_labels(model, pool, grammar=g, cfg={**base, "self_training_quantile": 0.5},
                                       labelled_counts=counts)
    assert info["per_label"]["drop"] > 0  # a label the threshold would never let in
    for c, v in suggested.items():
        total = sum(n for _, n in v)
        assert info["per_label"].get(c, 0) <= 0.5 * total
    # the cap still applies on top
    _, y, _, info = pick_pseudo_labels(model, pool, grammar=g, cfg={**base, "self_training_cap": 0.001},
                                       labelled_counts=counts)
    assert all(n <= 10 for n in info["per_label"].values()) and info["capped"] > 0


@pytest.mark.parametrize("select", ["untied", "label_quantile"])
def test_train_sections_records_the_selection(select):
    from workbench.train.sections import train_sections

    res = train_sections(_data(), config={**FAST, "transfer": False, "self_training_rounds": 1,
                                          "self_training_select": select, "self_training_quantile": 0.3},
                         progress=False, unlabelled=_pool(2))
    st = res.metrics["self_training"]
    assert st["select"] == select and st["quantile"] == 0.3 and st["rounds"][0]["select"] == select
    assert st["pseudo_windows"] > 0 and res.trainer.n_pseudo_windows_ == st["pseudo_windows"]
