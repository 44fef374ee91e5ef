"""What sections early stopping keeps: the lowest validation loss or the highest validation macro F1."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.train.sections import SectionTrainer
from workbench.train.sections.epoch_loop import checkpoint_key

LABS = ("intro", "drop", "break")


def _windows(n_tracks: int, per: int, seed: int, outliers: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Three overlapping classes; ``outliers`` of each class's windows lie far along another class's axis."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n_tracks):
        for k, label in enumerate(LABS):
            centre = np.zeros(8)
            centre[k] = 1.0
            x = rng.normal(centre, 1.0, (per, 8))
            n_out = int(outliers * per)
            x[:n_out] = rng.normal(0, 0.3, (n_out, 8))
            x[:n_out, (k + 1) % 3] = 6.0  # confidently wrong, more so every epoch: the loss rises
            xs.append(x)
            ys.append(np.full(per, label))
    return np.vstack(xs).astype(np.float32), np.concatenate(ys)


def _fit(on: str) -> SectionTrainer:
    X, y = _windows(8, 40, seed=1)
    val = _windows(3, 40, seed=2, outliers=0.2)
    return SectionTrainer(epochs=25, patience=25, hidden_dim=64, seed=0, checkpoint_on=on).fit(X, y, validation=val)


def test_macro_f1_keeps_the_epoch_whose_windows_are_right_most_often_where_the_loss_rises() -> None:
    """Session 21's run kept epoch 1: its validation loss only rose while its accuracy rose."""
    by_loss, by_f1 = _fit("loss"), _fit("macro_f1")
    f1s = [h["val_macro_f1"] for h in by_f1.history_]
    losses = [h["val_loss"] for h in by_f1.history_]
    es = by_f1.early_stopping_
    best = max(f1s)
    tied = [i for i, f in enumerate(f1s) if round(f, 6) == round(best, 6)]
    assert es["best_epoch"] == min(tied, key=lambda i: losses[i]) + 1  # the loss breaks ties
    assert es["checkpoint_on"] == "macro_f1" and es["best_val_macro_f1"] == best
    assert es["best_val_loss"] == losses[es["best_epoch"] - 1] > min(losses)
    # the kept weights are that epoch's: their validation macro F1 is the recorded one
    Xv, yv = _windows(3, 40, seed=2, outliers=0.2)
    from sklearn.metrics import f1_score

    assert f1_score(yv, by_f1.predict(Xv), average="macro") == pytest.approx(best, abs=1e-6)
    # the loss rule (the default) keeps an earlier epoch that is right less often on the same windows
    assert by_loss.early_stopping_["best_epoch"] < es["best_epoch"]
    assert by_loss.early_stopping_["best_val_macro_f1"] < best
    assert by_loss.early_stopping_["checkpoint_on"] == "loss"


def test_checkpoint_key_and_setting() -> None:
    assert checkpoint_key({"val_loss": 0.5, "val_macro_f1": 0.8}, "loss") == (0.5,)
    assert checkpoint_key({"val_loss": 0.5, "val_macro_f1": 0.8}, "macro_f1") < checkpoint_key(
        {"val_loss": 0.4, "val_macro_f1": 0.7}, "macro_f1")
    assert checkpoint_key({"val_loss": 0.4, "val_macro_f1": 0.8}, "macro_f1") < checkpoint_key(
        {"val_loss": 0.5, "val_macro_f1": 0.8}, "macro_f1")
    X, y = _windows(2, 10, seed=0)
    with pytest.raises(ParameterError, match=r"checkpoint_on must be one of \['loss', 'macro_f1'\]; got 'f1'"):
        SectionTrainer(checkpoint_on="f1").fit(X, y)


def test_runs_compare_reads_a_run_from_before_the_setting_as_the_loss(tmp_path):
    """Every sections run before `checkpoint_on` kept the lowest validation loss: no difference against "loss"."""
    from workbench.experiments import compare
    from workbench.report.examples import write_example_run

    root = tmp_path / "experiments"
    old = write_example_run("sections", root=root, seed=1, n_tracks=12)
    same = write_example_run("sections", root=root, seed=1, n_tracks=12, config={"checkpoint_on": "loss"})
    other = write_example_run("sections", root=root, seed=1, n_tracks=12, config={"checkpoint_on": "macro_f1"})
    assert "config.checkpoint_on" not in compare([old.name, same.name], root=root).params.index
    assert "config.checkpoint_on" in compare([old.name, other.name], root=root).params.index


def test_the_report_says_what_the_kept_epoch_was_chosen_on():
    from workbench.report.baselines import comparison

    es = {"used": True, "n_val_windows": 400, "val_groups": [4, 15], "best_epoch": 5, "epochs_run": 13,
          "max_epochs": 40, "patience": 8}
    scores = {"model": {"accuracy": 0.8, "macro_f1": 0.7, "per_class": {}},
              "baselines": {"majority": {"accuracy": 0.3, "macro_f1": 0.1, "per_class": {}}}}
    assert "best epoch 5 (highest validation macro F1) of 13" in comparison({**scores, "early_stopping": {
        **es, "checkpoint_on": "macro_f1"}})
    assert "best epoch 5 of 13" in comparison({**scores, "early_stopping": {**es, "checkpoint_on": "loss"}})


def test_the_loss_rules_warning_names_the_setting_when_macro_f1_rose():
    from workbench.train.sections.epoch_loop import _loss_warning

    rows = [{"val_loss": 0.902, "val_macro_f1": 0.558}, {"val_loss": 1.098, "val_macro_f1": 0.583},
            {"val_loss": 1.523, "val_macro_f1": 0.601}, {"val_loss": 2.022, "val_macro_f1": 0.575}]
    said = _loss_warning(rows, best_epoch=1)
    assert said.startswith("validation loss only rose (0.9020 at epoch 1, 2.0220 at epoch 4)")
    assert said.endswith("(validation macro F1 rose meanwhile, 0.5580 -> 0.6010 at epoch 3: "
                         "`--set checkpoint_on=macro_f1` keeps that epoch)")
    falling = [{**r, "val_macro_f1": 0.6 - 0.01 * i} for i, r in enumerate(rows)]
    assert "macro F1" not in _loss_warning(falling, best_epoch=1)


def test_runs_compare_marks_the_best_kept_macro_f1_as_it_marks_the_best_kept_loss():
    """Session 22 records the kept epoch's validation macro F1 and accuracy beside its loss; ``best_val_loss`` had a
    direction (the lowest marked best in `runs compare`) and the two new ones had none, so the figure early stopping
    now chooses on was never marked."""
    from workbench.experiments import metric_direction

    assert metric_direction("early_stopping.best_val_loss") == "lower"
    assert metric_direction("early_stopping.best_val_macro_f1") == "higher"
    assert metric_direction("early_stopping.best_val_accuracy") == "higher"
