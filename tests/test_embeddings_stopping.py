"""Issue 17: a small library's embeddings run does not early-stop on a starving validation slice; the
epoch count is chosen on folds of the training tracks, and the run says so."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from workbench.errors import ParameterError
from workbench.runs import load_run
from workbench.train.datasets import EmbeddingSet
from workbench.train.embeddings_stopping import (
    check_early_stopping,
    epochs_on_folds,
    stopping_record,
    stopping_rule,
)
from workbench.train.triplet import TripletConfig, train_triplet

pytest.importorskip("torch")


def _set(n_per_class: list[int], *, dim: int = 6, rows: int = 4, seed: int = 0, first_track: int = 0,
         spread: float = 1.5) -> EmbeddingSet:
    """``rows`` windows per track, tracks per class as given (class centres ``spread`` apart)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(len(n_per_class), dim)) * spread
    X, y, t = [], [], []
    track = first_track
    for c, n in enumerate(n_per_class):
        for _ in range(n):
            X.append(centres[c] + rng.normal(size=(rows, dim)))
            y += [c] * rows
            t += [track] * rows
            track += 1
    return EmbeddingSet(np.vstack(X), np.asarray(y), [f"c{i}" for i in range(len(n_per_class))], np.asarray(t),
                        np.zeros(len(y), dtype=np.int64))


def test_a_one_class_validation_slice_does_not_stop_training():
    train = _set([3, 3, 3])
    rule, why = stopping_rule(train, _set([2, 0, 0], first_track=100, seed=1))
    assert rule == "folds" and "2 tracks of 1 class" in why
    empty = train.subset(np.zeros(len(train), dtype=bool))  # no validation track at all
    rule, why = stopping_rule(train, empty)
    assert rule == "folds" and "0 tracks of 0 classes" in why
    # two classes, but a class would keep fewer than eight training tracks
    rule, why = stopping_rule(_set([7, 8, 8]), _set([2, 2, 0], first_track=100, seed=1))
    assert rule == "folds" and "1 class with fewer than 8 training tracks (c0: 7)" in why
    rule, why = stopping_rule(train, _set([1, 1, 0], first_track=100, seed=1))
    assert rule == "folds" and "3 classes with fewer than 8 training tracks" in why
    rule, why = stopping_rule(_set([8, 8, 8]), _set([2, 2, 0], first_track=100, seed=1))
    assert rule == "validation" and "4 tracks of 2 classes" in why
    assert stopping_rule(train, _set([1, 1, 0], first_track=100), min_train_per_class=3)[0] == "validation"
    # the user's setting wins over the split
    assert stopping_rule(train, _set([2, 0, 0], first_track=100), setting="validation")[0] == "validation"
    assert stopping_rule(train, _set([1, 1, 0], first_track=100), setting="folds")[0] == "folds"


def test_setting_errors():
    assert check_early_stopping("auto") == "auto"
    for bad in ("yes", None, 3):
        with pytest.raises(ParameterError, match=r"early_stopping must be one of \['auto', 'validation', 'folds'\]"):
            check_early_stopping(bad)
    with pytest.raises(ParameterError, match="folds must be an int >= 2; got 1"):
        epochs_on_folds(_set([3, 3]), TripletConfig(m=2, batch_size=4), folds=1)
    with pytest.raises(ParameterError, match="keep_epoch must be 'best' or 'last'; got 'first'"):
        TripletConfig(keep_epoch="first")


def test_keep_last_trains_exactly_max_epochs():
    data = _set([4, 4, 4])
    fit = train_triplet(data, _set([2, 2, 2], first_track=50, seed=3), progress=False,
                        config=TripletConfig(m=2, batch_size=6, max_epochs=4, patience=1, keep_epoch="last"))
    assert fit.best_epoch == 4 and len(fit.history) == 4 and fit.stopped_reason == "reached max_epochs=4"


def test_the_epoch_count_is_the_median_best_epoch_of_the_folds():
    data = _set([4, 4, 4])
    cfg = TripletConfig(m=2, batch_size=6, max_epochs=12, patience=3, seed=2)
    chosen = epochs_on_folds(data, cfg, folds=3)
    best = [f["best_epoch"] for f in chosen["folds"]]
    assert len(best) == 3 and chosen["epochs"] == max(1, round(statistics.median(best)))
    assert all(1 <= b <= 12 for b in best) and all(f["n_tracks"] == 4 for f in chosen["folds"])
    assert epochs_on_folds(data, cfg, folds=3) == chosen  # seeded
    record = stopping_record("folds", "why", chosen)
    assert record["epochs"] == chosen["epochs"] and record["said"].startswith("early stopping: no separate validation")
    assert f"trains {chosen['epochs']} epochs" in record["said"] and str(best) in record["said"]
    assert stopping_record("validation", "why")["said"] == ("early stopping: on the validation slice's MAP@R, or its "
                                                            "triplet loss where no MAP@R can be measured (each "
                                                            "track its own class) (why)")


# ------------------------------------------------------------------ the job on a small folder library

SR = 22050
FOLDERS = {"low": 110.0, "mid": 440.0, "high": 1760.0}


def _write(path: Path, *, freq_hz: float, seed: int, duration_s: float = 6.0) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    f = freq_hz * rng.uniform(0.9, 1.1)
    y = sum(0.3 / k * np.sin(2 * np.pi * k * f * t + rng.uniform(0, 6)) for k in (1, 2, 3))
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t)) + 0.05 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y.astype(np.float32), SR)


@pytest.fixture(scope="module")
def small_library(tmp_path_factory):
    """Three folders of five tracks: the test takes two of each, so a validation slice would starve training."""
    from workbench.library import Library

    root = tmp_path_factory.mktemp("small")
    seed = 0
    for folder, freq in FOLDERS.items():
        for i in range(5):
            _write(root / "music" / folder / f"t{i}.wav", freq_hz=freq, seed=seed)
            seed += 1
    lib = Library(root / "lib.db")
    lib.scan(root / "music", progress=False)
    yield lib
    lib.close()


SMALL = {"epochs": 8, "patience": 2, "m": 2, "window_s": 2.0, "n_views": 0, "invariance_clips": 0,
         "classes_from": "folder", "blend": "off", "seed": 3}


@pytest.mark.slow
def test_a_small_library_trains_on_validation_tracks_for_an_epoch_count_chosen_on_folds(small_library, tmp_path):
    from workbench.train.jobs import train_embeddings_job

    job, path = train_embeddings_job(small_library, config=SMALL, progress=False, experiments_root=tmp_path)
    assert job.state == "completed"
    run = load_run(path)
    stop = run.metrics["early_stopping"]
    assert stop["rule"] == "folds" and "fewer than 8 training tracks" in stop["reason"]
    split = run.data["splits"]
    assert split["val"] == [] and len(split["test"]) == 6 and len(split["train"]) == 9  # the test share stays
    best = [f["best_epoch"] for f in stop["folds"]]
    assert stop["epochs"] == max(1, round(statistics.median(best))) and all(1 <= b <= 8 for b in best)
    assert run.config["max_epochs"] == stop["epochs"] and run.config["keep_epoch"] == "last"
    assert len(run.history) == stop["epochs"] and not any(k.startswith("val_") for k in run.history[-1])
    assert "val" not in run.metrics["model"] and "map_at_r" in run.metrics["model"]
    assert any(w.startswith("early stopping: no separate validation slice") for w in run.metrics["warnings"])

    _, path = train_embeddings_job(small_library, config={**SMALL, "early_stopping": "validation"}, progress=False,
                                   experiments_root=tmp_path)
    old = load_run(path)
    assert old.metrics["early_stopping"]["rule"] == "validation" and old.data["splits"]["val"]
    assert old.config["keep_epoch"] == "best" and "val" in old.metrics["model"]
    assert not any(w.startswith("early stopping") for w in old.metrics.get("warnings", []))
    with pytest.raises(ParameterError, match=r"early_stopping must be 'auto' or 'validation' here \(self-supervised"):
        train_embeddings_job(small_library, config={**SMALL, "classes_from": "self", "early_stopping": "folds"},
                             progress=False, experiments_root=tmp_path)
    with pytest.raises(ParameterError, match=r"early_stopping must be one of .*got 'soon'"):
        train_embeddings_job(small_library, config={**SMALL, "early_stopping": "soon"}, experiments_root=tmp_path)
