"""The DJ-section classifier: readiness, the estimator with early stopping, baselines, grouped CV, end to end."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ParameterError, WorkbenchError
from workbench.labels import LABELS
from workbench.train import smoothing as sm
from workbench.train.sections import (
    NotFittedError,
    NotReadyError,
    SectionTrainer,
    WindowFeatures,
    check_readiness,
    cross_validate,
    grouped_folds,
)

# ------------------------------------------------------------------------------ helpers


def blobs(n_per_class: int = 60, classes: tuple[str, ...] = ("intro", "drop", "break"), dim: int = 12,
          seed: int = 0, spread: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Separable Gaussian blobs per class; 6 groups ("tracks") each holding every class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (len(classes), dim))
    X = np.vstack([rng.normal(centres[i], spread, (n_per_class, dim)) for i in range(len(classes))])
    y = np.repeat(np.array(classes), n_per_class)
    groups = np.tile(np.arange(6), len(y) // 6 + 1)[: len(y)]
    return X.astype(np.float32), y, groups


# ---------------------------------------------------------------------------- readiness


def test_readiness_passes_with_enough_sections() -> None:
    check_readiness({"drop": 10, "intro": 12, "outro": 0})


def test_readiness_needs_two_classes() -> None:
    with pytest.raises(NotReadyError, match=r"Need 2\+ classes: have 1 \(drop\)"):
        check_readiness({"drop": 30, "intro": 0})
    with pytest.raises(NotReadyError, match=r"Need 2\+ classes: have 0 \(none\)"):
        check_readiness({})


def test_too_few_labels_are_refused_before_a_job_is_created(tmp_path, monkeypatch, capsys) -> None:
    """A `train sections` refused for too few labels left a failed job in `workbench jobs` every
    time; the label counts are checked first now, so a refusal creates no job."""
    import workbench.qa
    from workbench.cli import main
    from workbench.job_records import list_jobs
    from workbench.library import Library
    from workbench.train.jobs import train_sections_job

    few = [{"track_id": t, "label": label, "start_s": 8.0 * i, "end_s": 8.0 * i + 8.0}
           for t in (1, 2) for i, label in enumerate(("intro", "drop", "drop"))]
    with Library(tmp_path / "data" / "workbench.db") as lib:
        with pytest.raises(NotReadyError, match=r"Need more labels: intro 2/10, drop 4/10 .*min_per_class=2"):
            train_sections_job(lib, sections=few, experiments_root=tmp_path / "experiments", progress=False)
        with pytest.raises(NotReadyError, match=r"Need 3\+ classes: have 2 \(intro, drop\)"):
            train_sections_job(lib, sections=few, config={"min_per_class": 1, "min_classes": 3},
                               experiments_root=tmp_path / "experiments", progress=False)
        monkeypatch.setattr(workbench.qa, "excluded_track_ids", lambda _lib: {2})  # QA leaves track 2 out
        with pytest.raises(NotReadyError, match=r"Need more labels: intro 1/2 \(labelled .*; 1 labelled track is left "
                                                r"out by QA flags .*keep_flagged=true"):
            train_sections_job(lib, sections=few, config={"min_per_class": 2},
                               experiments_root=tmp_path / "experiments", progress=False)
        assert list_jobs(lib) == []
    monkeypatch.undo()
    # the command on stored labels: none at all is refused the same way, with no job either
    assert main(["--home", str(tmp_path), "--quiet", "train", "sections"]) == 1
    assert "no labelled sections" in capsys.readouterr().err
    with Library(tmp_path / "data" / "workbench.db") as lib:
        assert list_jobs(lib) == []
    assert not (tmp_path / "experiments").exists() or not any((tmp_path / "experiments").iterdir())


def test_readiness_names_each_short_class_and_counts_sections() -> None:
    with pytest.raises(NotReadyError, match=r"Need more labels: drop 3/10, outro 9/10 \(labelled sections per class\)"):
        check_readiness({"drop": 3, "intro": 10, "outro": 9})
    with pytest.raises(ValueError, match="Need more labels: intro 1/2"):
        check_readiness({"drop": 3, "intro": 1}, min_per_class=2)
    assert issubclass(NotReadyError, WorkbenchError)


def test_readiness_refuses_unknown_labels() -> None:
    with pytest.raises(ParameterError, match="unknown"):
        check_readiness({"drop": 10, "hook": 10})


# ------------------------------------------------------------------------------ trainer


def test_predict_before_fit_raises() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        SectionTrainer().predict(np.zeros((2, 3)))
    with pytest.raises(AttributeError):  # sklearn's NotFittedError is also an AttributeError
        SectionTrainer().predict_proba(np.zeros((2, 3)))


def test_trainer_learns_separable_classes_and_is_deterministic() -> None:
    X, y, _ = blobs()
    a = SectionTrainer(epochs=15, seed=3).fit(X, y)
    b = SectionTrainer(epochs=15, seed=3).fit(X, y)
    c = SectionTrainer(epochs=15, seed=4).fit(X, y)
    assert a.classes_ == ("intro", "drop", "break")  # canonical label order, present classes only
    assert np.mean(a.predict(X) == y) > 0.95
    pa, pb, pc = a.predict_proba(X), b.predict_proba(X), c.predict_proba(X)
    assert pa.shape == (len(y), 3) and np.allclose(pa.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(pa, pc)
    assert [h["epoch"] for h in a.history_] == list(range(1, 16))
    capped = SectionTrainer(epochs=2, max_samples_per_epoch=50).fit(X, y)
    assert [h["samples"] for h in capped.history_] == [50, 50]


def test_trainer_keeps_torch_rng_and_threads() -> None:
    import torch

    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    X, y, _ = blobs(n_per_class=20)
    SectionTrainer(epochs=2).fit(X, y)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_standardisation_is_folded_into_the_model() -> None:
    from workbench.train.sections import classifier_proba

    X, y, _ = blobs(n_per_class=30)
    X = X * 50 + 1000  # far from zero mean / unit scale
    t = SectionTrainer(epochs=10).fit(X, y)
    assert np.mean(t.predict(X) == y) > 0.95
    np.testing.assert_allclose(classifier_proba(t.model_, X), t.predict_proba(X))


def test_class_weighting_balances_a_rare_class() -> None:
    rng = np.random.default_rng(0)
    # overlapping classes, 10:1 imbalance: without weights the rare class is mostly missed
    X = np.vstack([rng.normal(0, 1, (600, 4)), rng.normal(1.0, 1, (60, 4))]).astype(np.float32)
    y = np.array(["drop"] * 600 + ["break"] * 60)
    balanced = SectionTrainer(epochs=20, class_weight="balanced").fit(X, y)
    plain = SectionTrainer(epochs=20, class_weight=None).fit(X, y)
    assert balanced.class_weight_[balanced.classes_.index("break")] == pytest.approx(660 / (2 * 60))
    rare = y == "break"
    recall_balanced = np.mean(balanced.predict(X[rare]) == "break")
    recall_plain = np.mean(plain.predict(X[rare]) == "break")
    assert recall_balanced > recall_plain + 0.2


def test_epoch_callback_gets_records_and_its_errors_propagate() -> None:
    X, y, _ = blobs(n_per_class=20)
    seen = []
    SectionTrainer(epochs=3).fit(X, y, validation=(X, y), on_epoch=lambda e, n, r: seen.append((e, n, dict(r))))
    assert [(e, n) for e, n, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds", "samples_per_s"} <= set(seen[0][2])

    def stop(epoch: int, total: int, record: object) -> None:
        raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt, match="cancelled"):
        SectionTrainer(epochs=3).fit(X, y, on_epoch=stop)


@pytest.mark.parametrize(("params", "match"), [
    ({"epochs": 0}, "epochs must be an int >= 1"),
    ({"lr": -1.0}, "lr must be a float > 0"),
    ({"class_weight": "auto"}, "class_weight must be"),
    ({"n_threads": 0}, "n_threads must be None or an int >= 1"),
    ({"max_samples_per_epoch": 0}, "max_samples_per_epoch must be None or an int >= 1"),
])
def test_trainer_rejects_bad_params(params: dict, match: str) -> None:
    X, y, _ = blobs(n_per_class=5)
    with pytest.raises(ParameterError, match=match):
        SectionTrainer(**params).fit(X, y)


def test_trainer_rejects_bad_data() -> None:
    X, y, _ = blobs(n_per_class=5)
    with pytest.raises(ParameterError, match="2\\+ classes"):
        SectionTrainer().fit(X[y == "drop"], y[y == "drop"])
    with pytest.raises(ParameterError, match="unknown"):
        SectionTrainer().fit(X, np.where(y == "drop", "hook", y))
    with pytest.raises(ParameterError, match="one label per row"):
        SectionTrainer().fit(X, y[:-1])


def test_save_and_load_section_model(tmp_path) -> None:
    from workbench.train.sections import load_section_model, save_section_model

    X, y, _ = blobs(n_per_class=20)
    t = SectionTrainer(epochs=3).fit(X, y)
    trans = sm.learn_transitions([[0, 1, 2]], 3)
    path = tmp_path / "sections.pt"
    save_section_model(t, path, features=WindowFeatures(context_s=(2.0,)), backbone="features-v1", transitions=trans)
    loaded, features, trans2 = load_section_model(path)
    assert features == WindowFeatures(context_s=(2.0,))
    assert loaded.classes_ == t.classes_
    np.testing.assert_allclose(loaded.predict_proba(X), t.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(trans2[1], trans[1])


# ------------------------------------------------------------------------ cross-validation


def test_cv_folds_are_grouped_and_shared_by_every_model() -> None:
    X, y, groups = blobs(n_per_class=30)
    for tr, te in grouped_folds(y, groups, n_splits=3, seed=0):
        assert not set(groups[tr]) & set(groups[te])
    cv = cross_validate(X, y, groups, n_splits=3, seed=0, models=("mlp", "logreg"), trainer_params={"epochs": 10, "batch_size": 16})
    assert len(cv["folds"]) == 3
    assert sorted(g for f in cv["folds"] for g in f["test_groups"]) == list(range(6))
    for name in ("mlp", "logreg"):
        r = cv[name]
        assert r["accuracy"] > 0.9 and r["macro_f1"] > 0.9
        assert r["classes"] == ["intro", "drop", "break"]
        assert np.array(r["confusion"]).sum() == len(y)
        assert set(r["per_class"]["drop"]) == {"precision", "recall", "f1", "support"}
        assert len(r["fold_accuracy"]) == 3


@pytest.mark.slow
def test_cv_ensemble_baseline_runs() -> None:
    X, y, groups = blobs(n_per_class=12, dim=6)
    cv = cross_validate(X, y, groups, n_splits=2, seed=0, models=("ensemble",))
    assert cv["ensemble"]["accuracy"] > 0.8


def test_cv_rejects_bad_arguments() -> None:
    X, y, groups = blobs(n_per_class=6)
    with pytest.raises(ParameterError, match=r"n_splits must be an int in 2\.\.6"):
        cross_validate(X, y, groups, n_splits=7)
    with pytest.raises(ParameterError, match="models must be a non-empty subset"):
        cross_validate(X, y, groups, models=("mlp", "xgboost"))


def test_window_features_layout() -> None:
    spec = WindowFeatures(context_s=(1.0, 4.0))
    frames = np.arange(20, dtype=np.float32).reshape(10, 2)
    times = np.arange(10) * 0.5 + 0.5
    out = spec.transform(frames, times, duration_s=5.5)
    assert out.shape == (10, spec.dim(2)) == (10, 2 * 5 + 2)
    np.testing.assert_allclose(out[:, :2], frames)
    np.testing.assert_allclose(out[4, 2:4], frames[2:7].mean(axis=0))  # +-1 s around 2.5 s
    assert out[:, -2].min() > 0 and out[:, -2].max() < 1
    assert WindowFeatures.from_dict(spec.to_dict()) == spec
    with pytest.raises(ParameterError, match="context_s must be a tuple"):
        WindowFeatures(context_s=(0.0,))


# ------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def tiny_library(tmp_path_factory):
    """Four 30 s trance tracks: synthesized, scanned, analysed and embedded once."""
    from workbench.demo import synthesize_library
    from workbench.embed.batch import embed_library
    from workbench.library import Library

    root = tmp_path_factory.mktemp("sections")
    synthesize_library(root / "demo", n_tracks=4, seed=1, duration_s=30, styles="trance", progress=False)
    lib = Library(root / "workbench.db")
    lib.scan(root / "demo", progress=False)
    embed_library(lib, progress=False)
    return lib


@pytest.mark.slow
def test_end_to_end_learns_above_chance(tiny_library) -> None:
    from workbench.train.sections import demo_sections, section_dataset, suggest_sections, train_sections

    lib = tiny_library
    records = demo_sections(lib)
    data = section_dataset(lib, records, progress=False)
    assert data.X.shape[0] == data.y.shape[0] == data.groups.shape[0] > 100
    assert set(data.groups.tolist()) == {t.id for t in lib.tracks()}
    with pytest.raises(NotReadyError, match="Need more labels"):
        train_sections(data, progress=False)
    epochs = []
    result = train_sections(data, config={"min_per_class": 1, "holdout": 0.25, "n_splits": 3, "models": ["logreg"],
                                          "epochs": 15, "patience": 15, "timeline_tracks": 1},
                            on_epoch=lambda e, n, r: epochs.append(e), progress=False)
    assert epochs == list(range(1, 16)) and len(result.history) == 15
    classes = result.trainer.classes_
    acc = result.metrics["model"]["accuracy"]
    assert acc > 1.5 / len(classes), f"held-out window accuracy {acc:.2f} is not above chance (1/{len(classes)})"
    assert set(result.metrics["cv"]) == {"folds", "logreg"}
    seg = result.metrics["segments"]
    assert {"smoothed", "raw", "novelty", "per_track"} == set(seg)  # novelty: the unsupervised baseline
    # per held-out track, paired, for the boundary gate's test over tracks (session 21); their mean is the figure
    per = seg["per_track"]
    assert sorted(per["track_ids"]) == sorted(result.metrics["held_out"]["track_ids"])
    for k in ("smoothed", "novelty"):
        assert len(per[k]["boundary_f_3s"]) == len(per["track_ids"])
        assert np.mean(per[k]["boundary_f_3s"]) == pytest.approx(seg[k]["boundary_f_3s"])
    assert len(result.metrics["test_tracks"]) == 1
    assert result.arrays["probs"].shape == (len(result.arrays["y_true"]), len(classes))
    tl = result.timeline[0]
    assert tl["predicted"] and tl["truth"] and tl["duration_s"] > 25

    track = lib.track(result.metrics["test_tracks"][0])
    sugg = suggest_sections(lib, track, model=result.trainer, transitions=result.transitions)
    from workbench.analysis import analyze_track

    beats = analyze_track(lib, track).beats
    assert sugg[0].start_beat == 0 and sugg[-1].end_beat == len(beats)
    for a, b in zip(sugg[:-1], sugg[1:], strict=True):
        assert a.end_beat == b.start_beat and a.label != b.label
    for s in sugg:
        assert s.label in LABELS and 0 <= s.confidence <= 1 and s.start_s < s.end_s <= track.duration_s + 1e-6
    # the bare head gives the same suggestions as the trainer without its temperature and grammar
    import copy

    plain = copy.copy(result.trainer)
    plain.temperature_, plain.grammar_ = 1.0, None
    assert suggest_sections(lib, track, model=result.model, transitions=result.transitions) == \
        suggest_sections(lib, track, model=plain, transitions=result.transitions)
    # with ensemble members the labels and spans stay, only the confidence is the models' support
    ens = copy.copy(result.trainer)
    ens.members_, ens.ensemble_score_, ens.confidence_map_ = [result.trainer] * 3, "agreement", None
    served = suggest_sections(lib, track, model=ens, transitions=result.transitions)
    assert [(s.label, s.start_beat, s.end_beat) for s in served] == [(s.label, s.start_beat, s.end_beat) for s in sugg]
    assert {s.confidence for s in served} <= {0.0, 1.0}  # 4 copies of one model: all agree or none
    with pytest.raises(ParameterError, match="config keys"):
        train_sections(data, config={"epoch": 3}, progress=False)


# ------------------------------------------------------------- early stopping, estimator, baselines


def test_trainer_is_a_scikit_learn_classifier() -> None:
    from sklearn.base import clone, is_classifier

    t = SectionTrainer(epochs=3, patience=2)
    assert is_classifier(t)
    assert t.get_params()["patience"] == 2 and t.get_params()["early_stopping"] is True
    c = clone(t).set_params(epochs=30, hidden_dim=16, batch_size=16)
    assert (c.epochs, c.hidden_dim, c.patience) == (30, 16, 2) and t.epochs == 3
    X, y, groups = blobs(n_per_class=20)
    assert c.fit(X, y, groups).score(X, y) > 0.9
    with pytest.raises(ParameterError, match=r"patience must be an int >= 1; got 0"):
        SectionTrainer(patience=0).fit(X, y)
    with pytest.raises(ParameterError, match=r"validation_fraction must be a float in \(0, 1\); got 1.5"):
        SectionTrainer(validation_fraction=1.5).fit(X, y)


def test_early_stopping_holds_tracks_out_and_keeps_the_best_epoch() -> None:
    X, y, groups = blobs(n_per_class=60, spread=2.5)
    t = SectionTrainer(epochs=30, patience=3, hidden_dim=32, seed=1).fit(X, y, groups)
    es = t.early_stopping_
    assert es["used"] and es["val_groups"] and set(es["val_groups"]) < set(groups.tolist())
    assert es["n_val_windows"] == int(np.isin(groups, es["val_groups"]).sum())
    losses = [h["val_loss"] for h in t.history_]
    assert es["epochs_run"] == len(t.history_) <= 30
    assert es["best_epoch"] == int(np.argmin(losses)) + 1 and es["best_val_loss"] == min(losses)
    if es["stopped_early"]:
        assert len(losses) == es["best_epoch"] + 3
    # the kept weights are the best epoch's: recompute its (class-weighted) validation loss
    val = np.isin(groups, es["val_groups"])
    p = t.predict_proba(X[val])
    idx = np.array([t.classes_.index(c) for c in y[val]])
    w = t.class_weight_[idx]
    loss = float(np.sum(-w * np.log(p[np.arange(len(idx)), idx])) / np.sum(w))
    assert loss == pytest.approx(es["best_val_loss"], rel=1e-3)
    # without groups there is nothing to hold out: every epoch runs, the reason is recorded
    t2 = SectionTrainer(epochs=4).fit(X, y)
    assert not t2.early_stopping_["used"] and len(t2.history_) == 4
    assert "no groups" in t2.early_stopping_["reason"]


def test_overfit_warning_when_validation_loss_only_rises() -> None:
    from workbench.train.sections import overfit_warning

    assert "only rose" in overfit_warning([1.9, 2.5, 3.1, 4.2])
    assert "never went below epoch 1" in overfit_warning([1.9, 2.5, 1.95, 4.2])
    assert overfit_warning([1.9, 1.2, 1.5]) is None and overfit_warning([1.0]) is None
    # labels unrelated to the features of other tracks: the held-out loss rises from the start
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (600, 40)).astype(np.float32)
    groups = np.repeat(np.arange(12), 50)
    y = np.where(rng.random(600) < 0.5, "drop", "break")
    t = SectionTrainer(epochs=12, patience=4, lr=1e-2, dropout=0.0).fit(X, y, groups)
    assert t.early_stopping_["best_epoch"] <= 2
    if t.early_stopping_["best_epoch"] == 1:
        assert "validation loss" in t.early_stopping_["warning"]


def test_held_out_baselines_share_the_windows_and_keys() -> None:
    from workbench.train.sections import held_out_baselines

    X, y, groups = blobs(n_per_class=30)
    y = y.copy()
    y[:10] = "drop"  # drop is the most frequent class now
    test = groups >= 4
    metrics, seconds = held_out_baselines(X[~test], y[~test], X[test], y[test], max_windows=50)
    assert set(metrics) == set(seconds) == {"majority", "logreg", "ensemble"}
    maj = metrics["majority"]
    assert maj["accuracy"] == pytest.approx(np.mean(y[test] == "drop"))
    assert maj["per_class"]["intro"]["f1"] == 0.0
    for name, m in metrics.items():
        assert set(m) - {"converged"} == {"accuracy", "macro_f1", "per_class", "confusion", "classes"}
        assert ("converged" in m) == (name == "logreg")  # the one baseline with a solver that can stop short
        assert m["classes"] == ["intro", "drop", "break"]
        assert np.array(m["confusion"]).sum() == int(test.sum())
    assert metrics["logreg"]["macro_f1"] > maj["macro_f1"]
    with pytest.raises(ParameterError, match=r"baselines must be among .*got \['svm'\]"):
        held_out_baselines(X, y, X, y, names=["svm"])
    with pytest.raises(ParameterError, match="max_windows must be None or an int >= 2; got 1"):
        held_out_baselines(X, y, X, y, names=["logreg"], max_windows=1)


def test_a_baseline_that_stops_short_is_recorded_once_not_warned_per_fit(monkeypatch) -> None:
    """`train sections` printed nine lines of scikit-learn's ConvergenceWarning (lbfgs stopped at 500 iterations)
    and the run kept no record that its logreg baseline was an unfinished fit."""
    import warnings

    from section_tracks import logreg_stopping_short
    from sklearn.exceptions import ConvergenceWarning

    from workbench.train.sections.baselines import convergence_warnings, held_out_baselines

    X, y, groups = blobs(n_per_class=30)
    test = groups >= 4
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        metrics, _ = held_out_baselines(X[~test], y[~test], X[test], y[test], names=["logreg"])
        cv = cross_validate(X, y, groups, n_splits=3, seed=0, models=("logreg",))
    assert metrics["logreg"]["converged"] is True and cv["logreg"]["converged"] is True
    assert convergence_warnings(metrics) == []
    logreg_stopping_short(monkeypatch)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        metrics, _ = held_out_baselines(X[~test], y[~test], X[test], y[test], names=["majority", "logreg"])
        cv = cross_validate(X, y, groups, n_splits=3, seed=0, models=("logreg",))
    assert not [w for w in said if issubclass(w.category, ConvergenceWarning)]
    assert metrics["logreg"]["converged"] is False and "converged" not in metrics["majority"]
    assert cv["logreg"]["converged"] is False
    assert convergence_warnings(metrics) == ["the logreg baseline did not converge (its solver stopped at its "
                                             "iteration limit): its figures are of an unfinished fit"]


def test_grouped_folds_go_through_the_leakage_check(monkeypatch) -> None:
    from workbench.evaluate import splits

    calls = []
    real = splits.assert_no_leakage
    monkeypatch.setattr(splits, "assert_no_leakage", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    X, y, groups = blobs(n_per_class=12)
    assert len(grouped_folds(y, groups, n_splits=3, seed=0)) == 3 and len(calls) == 3


# ----------------------------------------------------------------- as a user: labels, then a job


@pytest.fixture(scope="module")
def labelled_library(tmp_path_factory):
    """Six 30 s trance tracks, scanned; no labels yet (the test adds them as the labeler does)."""
    from workbench.demo import synthesize_library
    from workbench.library import Library

    root = tmp_path_factory.mktemp("sections-user")
    synthesize_library(root / "audio", n_tracks=6, seed=3, duration_s=30, styles="trance", progress=False)
    with Library(root / "workbench.db") as lib:
        lib.scan(root / "audio", progress=False)
        yield lib


@pytest.mark.slow
def test_job_refuses_without_labels_then_trains_on_labeller_labels(labelled_library, tmp_path, monkeypatch) -> None:
    import json
    from pathlib import Path

    from workbench.labels import Labels
    from workbench.runs import load_run
    from workbench.train.jobs import train_sections_job

    lib = labelled_library
    with pytest.raises(NotReadyError, match=r"no labelled sections .*labeler notebook.*workbench labels import"):
        train_sections_job(lib, experiments_root=tmp_path, progress=False)
    labels = Labels(lib)
    for t in lib.tracks():  # 2-bar spans labelled with the section they fall in, as a user would mark them
        truth = json.loads(Path(t.path).with_suffix(".json").read_text())["sections"]
        n_beats = len(labels.grid(t).beats_s)
        for start in range(0, n_beats - 7, 8):
            mid_s = labels.grid(t).beats_s[start + 4]
            label = next(s["label"] for s in truth if s["start_s"] <= mid_s < s["end_s"])
            labels.add(t, label, start_beat=start, end_beat=start + 8)
    assert labels.stats().ready
    from workbench.labels import Suggestion

    first, last = lib.tracks()[0], lib.tracks()[-1]
    bar = labels.grid(first).beats_s
    n_before = len(labels.all())
    # a suggestion accepted over the first span (replace: the user chose it) keeps its provenance
    labels.accept(Suggestion(first.id, "intro", 0, 8, float(bar[0]), float(bar[8]), 0.9, model_name="dj_section",
                             model_version="v3"), overlap="replace")
    assert len(labels.all()) == n_before
    # a label a model stored that nobody accepted is not trained on
    free = len(labels.grid(first).beats_s) - 8
    labels.add(first, "outro", start_beat=free, end_beat=free + 8, source="model", confidence=0.5, overlap="replace")
    n_unaccepted = 1
    import workbench.qa

    # too few labels once QA flags leave tracks out: the refusal says so and how to keep them
    others = {t.id for t in lib.tracks()[1:]}
    monkeypatch.setattr(workbench.qa, "excluded_track_ids", lambda _lib: others)
    with pytest.raises(NotReadyError, match=r"Need .*; \d+ labelled tracks are left out by QA flags .*keep_flagged=true"):
        train_sections_job(lib, config={"min_per_class": 5}, experiments_root=tmp_path, progress=False)
    with pytest.raises(ParameterError, match=r"keep_flagged must be true or false; got 'no'"):
        train_sections_job(lib, config={"keep_flagged": "no"}, experiments_root=tmp_path, progress=False)
    # the last track carries a QA flag that excludes it from training (monkeypatched: QA is tested in test_qa)
    monkeypatch.setattr(workbench.qa, "excluded_track_ids", lambda _lib: {last.id})
    n_last = len(labels.for_track(last))
    # a rejected suggestion over the first track's labelled bars 3-4 (beats 8-16): "not build" there
    labels.reject(Suggestion(first.id, "build", 8, 16, float(bar[8]), float(bar[16]), 0.7, model_name="dj_section",
                             model_version="v3"))
    job, path = train_sections_job(lib, config={"min_per_class": 5}, experiments_root=tmp_path, progress=False)
    run = load_run(path)
    m = run.metrics
    assert job.state == "completed" and run.data["source"] == "labels"
    prov = run.data["label_provenance"]
    assert prov["accepted_suggestions"] == 1 and prov["unaccepted_model_labels"] == n_unaccepted
    assert prov["labels_by_source"]["model"] == 1 + n_unaccepted and prov["rejected_suggestions"]["rows"] == 1
    assert prov["rejected_suggestions"]["used_in_training"] and run.data["rejections"]["spans"] == 1
    first_label = next(x.label for x in labels.for_track(first) if x.start_beat == 8)
    # a rejection of the label the user gave drops those positives; of another label, nothing drops
    assert (run.data["rejections"]["positives_dropped"] > 0) == (first_label == "build")
    assert m["rejections"]["spans"] == 1 and m["rejections"]["not_weight"] == 1.0
    assert run.data["qa_excluded"] == [last.id] and last.id not in run.data["splits"]["train"] + run.data["splits"]["test"]
    assert run.data["n_labels"] == len(labels.all()) - n_unaccepted - n_last
    assert set(m["baselines"]) == {"majority", "logreg", "ensemble", "novelty"}  # novelty: unsupervised boundaries
    for b in m["baselines"].values():
        assert set(b) - {"converged"} == set(m["model"]) and set(b["per_class"]) == set(m["model"]["per_class"])
    held = sorted(lib.track(i).content_hash for i in run.data["splits"]["test"])
    assert m["held_out"]["track_hashes"] == held and held
    assert not set(run.data["splits"]["test"]) & set(run.data["splits"]["train"])
    es = m["early_stopping"]
    assert es["used"] and 1 <= es["best_epoch"] <= es["epochs_run"] == len(run.history)
    assert not set(es["val_groups"]) & set(run.data["splits"]["test"])
    assert isinstance(m["warnings"], list)
    assert all(k in m["segments"]["smoothed"] for k in ("boundary_f_3s", "pairwise_f", "label_accuracy"))
    from workbench.report import report

    text = report(run).read_text()
    assert "Model vs baselines" in text and "majority" in text and "early stopping on" in text
