"""The epoch a run kept: recorded by the trainer that kept it (``metrics.json`` ``kept_epoch``), read by
:attr:`workbench.runs.Run.kept_epoch`; derived from ``history.json`` only for runs without the record."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from workbench.runs import load_run, write_run
from workbench.train.datasets import EmbeddingSet
from workbench.train.triplet import TripletConfig, TripletResult, train_triplet


def _set(seed: int, first_track: int, per_class: int) -> EmbeddingSet:
    """Four classes apart in 4 of 24 dimensions, one row per track."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), per_class)
    X = rng.normal(size=(len(y), 24))
    X[:, :4] += np.random.default_rng(7).normal(size=(4, 4))[y] * 2.0
    return EmbeddingSet(X.astype(np.float32), y, [f"c{i}" for i in range(4)], first_track + np.arange(len(y)),
                        np.zeros(len(y), dtype=np.int64))


@pytest.fixture(scope="module")
def stopped_early():
    """A head trained with a patience of 2 over at most 30 epochs: it stops early and keeps an earlier epoch."""
    cfg = TripletConfig(num_threads=1, batch_size=16, m=4, lr=3e-3, max_epochs=30, patience=2, hidden_dim=32,
                        out_dim=16, seed=3)
    return train_triplet(_set(0, 0, 16), _set(1, 1000, 4), config=cfg, progress=False)


def test_the_triplet_trainer_records_the_epoch_it_kept(stopped_early):
    res = stopped_early
    epochs = [h["epoch"] for h in res.history]
    assert res.stopped_reason.startswith("early stop")
    assert res.metrics["kept_epoch"] == res.best_epoch < max(epochs)
    best = max(h["val_map_at_r"] for h in res.history)
    assert res.history[epochs.index(res.best_epoch)]["val_map_at_r"] == best


def test_run_kept_epoch_reads_the_record(stopped_early, tmp_path):
    res = stopped_early
    p = write_run("embeddings-20261207-000001-aaaa", info={"kind": "embeddings"}, config_={}, data={},
                  history=res.history, metrics={**res.metrics, "early_stopping": {"rule": "validation"}}, root=tmp_path)
    assert load_run(p).kept_epoch == res.best_epoch


def test_a_distilled_cnn_run_keeps_its_recorded_epoch_where_history_cannot_tell(tmp_path):
    """A distilled CNN selects on ``val_cosine`` (no ``val_map_at_r`` in its history): derived from history,
    its kept epoch read as the last one; the record says which it kept."""
    hist = [{"epoch": e, "train_loss": 0.3, "val_cosine": c} for e, c in enumerate((0.5, 0.7, 0.6, 0.6, 0.55), 1)]
    net = SimpleNamespace()
    res = TripletResult(model=net, history=hist, metrics={"early_stopping": {"rule": "validation"}}, config={},
                        stopped_reason="early stop", best_epoch=2)
    p = write_run("embeddings-20261207-000002-bbbb", info={"kind": "embeddings"}, config_={}, data={},
                  history=hist, metrics=res.metrics, root=tmp_path)
    assert load_run(p).kept_epoch == 2
    old = write_run("embeddings-20261207-000003-cccc", info={"kind": "embeddings"}, config_={}, data={},
                    history=hist, metrics={"early_stopping": {"rule": "validation"}}, root=tmp_path)
    assert load_run(old).kept_epoch == 5  # an old run without the record: today's derivation (nothing better)


@pytest.mark.parametrize("bad", [0, 9, True, "2", 2.0])
def test_a_record_that_names_no_epoch_of_the_history_falls_back(bad, tmp_path):
    hist = [{"epoch": e, "train_loss": 0.2, "val_map_at_r": v} for e, v in enumerate((0.1, 0.3, 0.2), start=1)]
    p = write_run("embeddings-20261207-000004-dddd", info={"kind": "embeddings"}, config_={}, data={}, history=hist,
                  metrics={"kept_epoch": bad, "early_stopping": {"rule": "validation"}}, root=tmp_path)
    assert load_run(p).kept_epoch == 2


def _job_line_of_run(job, metrics, tmp_path, name):
    """`train`'s first line for a run of ``job.epoch`` epochs with ``metrics``, read as `train` reads it."""
    from workbench.commands.train import job_line

    hist = [{"epoch": e, "train_loss": 0.2, "val_map_at_r": 0.1 * e} for e in range(1, job.epoch + 1)]
    p = write_run(f"embeddings-20261207-00001{name}-eeee", info={"kind": "embeddings"}, config_={}, data={},
                  history=hist, metrics=metrics, root=tmp_path)
    return job_line(job, load_run(p).kept_epoch)


def test_train_prints_the_recorded_kept_epoch(tmp_path):
    job = SimpleNamespace(id=3, state="completed", kind="embeddings", epoch=7, total_epochs=40, loss=0.0312)
    assert _job_line_of_run(job, {"kept_epoch": 4, "early_stopping": {"rule": "validation"}}, tmp_path, 1).endswith(
        "(the last epoch's; the model kept is epoch 4's, the best on validation)")
    assert _job_line_of_run(job, {"kept_epoch": 7}, tmp_path, 2) == "job 3 completed: embeddings, 7/40 epochs, loss 0.0312"


@pytest.mark.parametrize("bad", [0, 9, True, "2"])
def test_train_does_not_print_a_kept_epoch_the_history_does_not_hold(bad, tmp_path):
    """`train` read ``metrics["kept_epoch"]`` itself, unchecked: a record naming no epoch of the run's history
    (0, 9 of 7 epochs) was printed as the model kept, while the report's :attr:`Run.kept_epoch` fell back."""
    job = SimpleNamespace(id=3, state="completed", kind="embeddings", epoch=7, total_epochs=40, loss=0.0312)
    said = _job_line_of_run(job, {"kept_epoch": bad}, tmp_path, 3)
    assert said == "job 3 completed: embeddings, 7/40 epochs, loss 0.0312"  # no record the history holds: the last
