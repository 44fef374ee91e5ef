"""Training jobs: states, run folders, failures, killed processes, concurrency, widget, CLI."""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from workbench.errors import ParameterError, StoreError, WorkbenchError
from workbench.library import Library
from workbench.runs import list_runs, load_run
from workbench.train import jobs as J

ROOT = Path(__file__).resolve().parents[1]


def dummy_train(on_epoch, *, epochs: int = 3, seed: int = 0, sleep_s: float = 0.0, fail_at: int | None = None,
                error: BaseException | None = None):
    """A tiny SectionClassifier trained a few epochs on seeded random data (a stand-in trainer)."""
    import torch

    from workbench.models.heads import SectionClassifier

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 8, generator=g)
    y = torch.randint(0, 7, (64,), generator=g)
    torch.manual_seed(seed)
    model = SectionClassifier(8, hidden_dim=16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for epoch in range(1, epochs + 1):
        if fail_at == epoch:
            raise error or ValueError(f"boom at epoch {epoch}")
        model.train()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        time.sleep(sleep_s)
        record = {"epoch": epoch, "train_loss": loss.item()}
        history.append(record)
        on_epoch(epoch, epochs, record)
    model.eval()
    with torch.no_grad():
        pred = model(x).argmax(1).numpy()
    acc = float((pred == y.numpy()).mean())
    return SimpleNamespace(model=model, history=history, metrics={"model": {"accuracy": acc}},
                           config={"epochs": epochs, "seed": seed}, arrays={"y_true": y.numpy(), "y_pred": pred},
                           timeline=[{"track_id": 1, "name": "t", "duration_s": 10.0, "truth": [], "predicted": []}])


DATA = {"tracks": [{"id": 1, "content_hash": "a" * 64, "name": "one"}, {"id": 2, "content_hash": "b" * 64,
                                                                         "name": "two"}],
        "labels": [("a" * 64, "intro", 0.0, 8.0), ("b" * 64, "drop", 16.0, 32.0)],
        "splits": {"train": [1], "val": [2]}}


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "wb.db") as library:
        yield library


@pytest.fixture
def exp(tmp_path):
    return tmp_path / "experiments"


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- the happy path -------------------------------------------------------------------------

def test_completed_job_writes_a_full_run_folder(lib, exp):
    states, seen_in_training = [], []

    def train(on_epoch):
        seen_in_training.append(J.list_jobs(lib)[0].state)
        return dummy_train(on_epoch, epochs=3, seed=4)

    job, path = J.run_job(lib, "sections", train, config={"epochs": 3, "seed": 4}, data_info=DATA,
                          label_counts={"intro": 1, "drop": 1}, backbone={"name": "features-v1", "dim": 202},
                          experiments_root=exp, progress=False, on_state=lambda j: states.append(j.state))
    assert states == ["pending", "preparing", "training", "evaluating", "completed"]
    assert seen_in_training == ["training"]
    assert job.state == "completed" and job.finished and job.error is None
    assert (job.epoch, job.total_epochs, job.progress) == (3, 3, 1.0)
    assert job.loss == pytest.approx(load_run(path).history[-1]["train_loss"])
    assert job.label_counts == {"intro": 1, "drop": 1}
    assert job.pid == os.getpid() and job.started_at and job.finished_at
    assert path == exp / job.run_id and job.run_id.split("-")[2] == "sections"
    assert sorted(visible(path)) == ["arrays.npz", "config.json", "data.json", "history.json", "metrics.json",
                                     "model.pt", "run.json", "timeline.json"]
    run = load_run(path)
    assert run.info["job_id"] == job.id and run.info["seed"] == 4 and run.info["kind"] == "sections"
    assert run.info["code_version"].startswith("0.") and run.info["backbone"]["name"] == "features-v1"
    assert run.data["fingerprint"] == J.fingerprint(["a" * 64, "b" * 64], DATA["labels"])
    assert run.data["splits"] == DATA["splits"] and run.data["n_labels"] == 2 and "labels" not in run.data
    assert [h["epoch"] for h in run.history] == [1, 2, 3]
    assert run.metrics == job.metrics and 0.0 <= run.metrics["model"]["accuracy"] <= 1.0
    assert set(run.arrays()) == {"y_true", "y_pred"} and len(run.timeline) == 1
    assert list_runs(exp)[0].run_id == job.run_id

    import torch

    from workbench.models.heads import SectionClassifier, load_checkpoint

    model = load_checkpoint(path / "model.pt")
    assert isinstance(model, SectionClassifier)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32))
    again = dummy_train(lambda *a: None, epochs=3, seed=4).model.eval()
    assert torch.allclose(model(x), again(x), atol=1e-5)  # the same trained weights


def test_progress_is_written_per_epoch_and_throttled(lib, exp):
    seen = []

    def train(on_epoch):
        for epoch in range(1, 5):
            on_epoch(epoch, 4, {"train_loss": 1.0 / epoch})
            seen.append((J.get_job(lib, runner.job_id).epoch, runner._state))
        return dummy_train(lambda *a: None, epochs=1)

    runner = J.JobRunner(lib, "embeddings", config={"epochs": 4}, experiments_root=exp, progress=False,
                         min_interval_s=3600.0)
    with runner:
        runner.training()
        runner.finish(train(runner.on_epoch))
    # epochs 1..3 come too fast to be written; the last one is written and moves on to evaluating
    assert seen == [(None, "training"), (None, "training"), (None, "training"), (4, "evaluating")]
    job = runner.job
    assert (job.state, job.epoch, job.loss) == ("completed", 4, 0.25)

    runner = J.JobRunner(lib, "embeddings", experiments_root=exp, progress=False, min_interval_s=0.0)
    with runner:
        runner.on_epoch(1, 4, {"loss": 2.0})  # "loss" works too; preparing → training
        job = runner.job
        assert (job.state, job.epoch, job.total_epochs, job.progress, job.loss) == ("training", 1, 4, 0.25, 2.0)
        runner.on_epoch(2, 4, {"train_loss": float("nan")})
        assert runner.job.loss is None
        runner.finish(dummy_train(lambda *a: None, epochs=1))


def test_progress_bar_shows_epochs_and_loss(lib, exp, capsys):
    J.run_job(lib, "sections", lambda cb: dummy_train(cb, epochs=2), config={"epochs": 2}, data_info=DATA,
              experiments_root=exp, progress=True)
    err = capsys.readouterr().err
    assert "sections job 1" in err and "2/2" in err and "loss=" in err


# -- failures -------------------------------------------------------------------------------

@pytest.mark.parametrize("error, message", [
    (ValueError("boom"), "ValueError: boom"),
    (KeyboardInterrupt(), "KeyboardInterrupt: interrupted by the user"),
    (RuntimeError(), "RuntimeError"),
])
def test_interrupted_job_fails_with_its_reason_and_leaves_no_run(lib, exp, error, message):
    states = []
    with pytest.raises(type(error)):
        J.run_job(lib, "sections", lambda cb: dummy_train(cb, epochs=4, fail_at=3, error=error),
                  config={"epochs": 4}, data_info=DATA, experiments_root=exp, progress=False,
                  on_state=lambda j: states.append(j.state))
    job = J.list_jobs(lib)[0]
    assert states == ["pending", "preparing", "training", "failed"]
    assert job.state == "failed" and job.error == message and job.run_id is None and job.finished_at
    assert job.epoch == 2  # the last finished epoch was recorded before the failure
    assert visible(exp) == [] and list_runs(exp) == []


def test_failure_while_writing_the_run_leaves_nothing(lib, exp, monkeypatch):
    import workbench.models.heads as heads

    def broken(model, path):
        Path(path).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(heads, "save_checkpoint", broken)
    with pytest.raises(OSError, match="disk full"):
        J.run_job(lib, "sections", lambda cb: dummy_train(cb, epochs=1), data_info=DATA, experiments_root=exp,
                  progress=False)
    job = J.list_jobs(lib)[0]
    assert (job.state, job.error) == ("failed", "OSError: disk full")
    assert visible(exp) == []


def test_failure_to_record_completion_removes_the_run(lib, exp, monkeypatch):
    real = J._update_sql

    def update(conn, job_id, **values):
        if values.get("state") == "completed":
            raise sqlite3.OperationalError("database is locked")
        real(conn, job_id, **values)

    monkeypatch.setattr("workbench.jobs._update_sql", update)  # where JobRunner looks it up
    with pytest.raises(StoreError, match="database is locked"):  # the package's own error, naming the cause
        J.run_job(lib, "sections", lambda cb: dummy_train(cb, epochs=1), data_info=DATA, experiments_root=exp,
                  progress=False)
    assert J.list_jobs(lib)[0].state == "failed" and visible(exp) == []


def test_tracks_may_be_library_tracks(lib, exp, write_audio):
    lib.scan(write_audio("x/a.wav", duration_s=1.0).parent, progress=False)
    track = lib.tracks()[0]
    job, path = J.run_job(lib, "sections", lambda cb: dummy_train(cb, epochs=1), experiments_root=exp,
                          data_info={"tracks": [track]}, progress=False)
    data = load_run(path).data
    assert data["tracks"] == [{"id": track.id, "content_hash": track.content_hash, "name": "a"}]
    assert data["fingerprint"] == J.fingerprint([track.content_hash])


def test_runner_left_without_finish_fails(lib, exp):
    with J.JobRunner(lib, "embeddings", experiments_root=exp, progress=False) as runner:
        runner.on_epoch(1, 2, {"train_loss": 1.0})
    job = runner.job
    assert job.state == "failed" and "finish() was not called" in job.error


def test_result_without_model_history_metrics_is_refused(lib, exp):
    with pytest.raises(ParameterError, match=r"result must have .model, .history and .metrics; .* no .history"):
        J.run_job(lib, "sections", lambda cb: SimpleNamespace(model=None, metrics={}), experiments_root=exp,
                  progress=False)
    assert J.list_jobs(lib)[0].error.startswith("ParameterError: result must have")
    assert visible(exp) == []


def test_a_result_without_a_model_writes_no_model_file(lib, exp):
    result = SimpleNamespace(model=None, history=[], metrics={"baseline": {"map": np.float32(0.5)}}, config={})
    job, path = J.run_job(lib, "embeddings", lambda cb: result, experiments_root=exp, progress=False)
    assert job.metrics == {"baseline": {"map": 0.5}} and not (path / "model.pt").exists()
    assert not (path / "arrays.npz").exists() and load_run(path).data["fingerprint"] == J.fingerprint([])


# -- killed processes and concurrency ------------------------------------------------------

CHILD = r"""
import signal, sys, time
# Ctrl-C as in a terminal: a shell's background job (pytest run with `&`) starts with SIGINT ignored,
# and Python leaves an ignored SIGINT ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
from pathlib import Path
from types import SimpleNamespace
import numpy as np
from workbench.library import Library
from workbench.train import jobs as J

db, exp, epochs, sleep_s, seed, mode = sys.argv[1:7]
epochs, sleep_s, seed = int(epochs), float(sleep_s), int(seed)
DATA = {data!r}


def train(on_epoch):
    # least squares by gradient descent in numpy: a trainer that starts fast (no torch import)
    rng = np.random.default_rng(seed)
    x, w_true = rng.standard_normal((256, 8)), rng.standard_normal(8)
    y, w, history = x @ w_true, np.zeros(8), []
    for epoch in range(1, epochs + 1):
        for _ in range(10):  # an epoch in steps, so a kill lands mid-epoch
            w -= 0.05 * x.T @ (x @ w - y) / len(y)
            time.sleep(sleep_s / 10)
        history.append({{"epoch": epoch, "train_loss": float(np.mean((x @ w - y) ** 2))}})
        on_epoch(epoch, epochs, history[-1])
    return SimpleNamespace(model=None, history=history, metrics={{"model": {{"mse": history[-1]["train_loss"]}}}},
                           config={{"epochs": epochs, "seed": seed}}, arrays={{"w": w}})


if mode == "barrier":  # start together with the other writer
    while not Path(db).with_name("GO").exists():
        time.sleep(0.01)
if mode == "hang-in-write":
    real = np.savez_compressed
    def slow(path, **arrays):
        real(path, **arrays)
        Path(path).with_name("WRITING").touch()
        time.sleep(600)
    np.savez_compressed = slow
with Library(db) as lib:
    job, path = J.run_job(lib, "sections", train, config={{"epochs": epochs, "seed": seed}}, data_info=DATA,
                          experiments_root=exp, progress=False)
    print(job.id, path)
"""


def spawn(tmp_path, *, epochs, sleep_s, seed=0, mode="normal"):
    code = CHILD.format(data=DATA)
    env = {**os.environ, "NUMBA_CPU_NAME": "generic", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "wb.db"), str(tmp_path / "experiments"),
                             str(epochs), str(sleep_s), str(seed), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)


def wait_for(predicate, timeout_s=60.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_job_killed_mid_epoch_is_reaped_as_failed(lib, tmp_path, exp):
    proc = spawn(tmp_path, epochs=50, sleep_s=0.3)
    try:
        job = wait_for(lambda: next((j for j in J.list_jobs(lib) if (j.epoch or 0) >= 1), None), what="epoch 1")
        assert job.state == "training" and job.pid == proc.pid
        assert J.reap_stale(lib) == []  # alive: left alone
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.communicate()
    assert J.reap_stale(lib) == [job.id]
    job = J.get_job(lib, job.id)
    assert job.state == "failed" and job.error == f"killed: process {proc.pid} is gone" and job.run_id is None
    assert J.reap_stale(lib) == []  # once
    assert list_runs(exp) == [] and visible(exp) == []


def test_ctrl_c_in_a_training_process_fails_the_job(lib, tmp_path, exp):
    proc = spawn(tmp_path, epochs=50, sleep_s=0.3)
    try:
        job = wait_for(lambda: next((j for j in J.list_jobs(lib) if (j.epoch or 0) >= 1), None), what="epoch 1")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert J.reap_stale(lib) == []  # the process recorded its own end
    job = J.get_job(lib, job.id)
    assert (job.state, job.error) == ("failed", "KeyboardInterrupt: interrupted by the user")
    assert 1 <= job.epoch < 50 and list_runs(exp) == [] and visible(exp) == []


def test_job_killed_while_writing_its_run_leaves_no_visible_run(lib, tmp_path, exp):
    proc = spawn(tmp_path, epochs=1, sleep_s=0.0, mode="hang-in-write")
    try:
        marker = wait_for(lambda: next(iter(exp.glob(".*.tmp/WRITING")), None), what="the run being written")
        assert J.list_jobs(lib)[0].state == "evaluating"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.communicate()
    assert marker.parent.name.endswith(f".{proc.pid}.tmp")
    job = J.list_jobs(lib)[0]  # reaps
    assert job.state == "failed" and job.error.startswith("killed: process")
    assert list_runs(exp) == [] and visible(exp) == []  # the dead writer's temporary folder is gone


def test_two_jobs_in_two_processes_do_not_mix(tmp_path, exp):
    with Library(tmp_path / "wb.db"):
        pass  # create the schema once, before the two writers race
    procs = [spawn(tmp_path, epochs=6, sleep_s=0.1, seed=seed, mode="barrier") for seed in (1, 2)]
    (tmp_path / "GO").touch()
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    with Library(tmp_path / "wb.db") as lib:
        jobs = sorted(J.list_jobs(lib), key=lambda j: j.id)
    assert len(jobs) == 2 and {j.pid for j in jobs} == {p.pid for p in procs}
    assert all(j.state == "completed" and j.epoch == 6 and j.progress == 1.0 for j in jobs)
    runs = {r.info["job_id"]: r for r in list_runs(exp)}
    assert sorted(runs) == [j.id for j in jobs]
    for j in jobs:
        run = runs[j.id]
        assert run.run_id == j.run_id and run.info["seed"] == j.config["seed"] == run.config["seed"]
        assert len(run.history) == 6 and j.loss == pytest.approx(run.history[-1]["train_loss"])
    assert jobs[0].loss != jobs[1].loss


# -- the pieces -----------------------------------------------------------------------------

def test_fingerprint_is_order_free_and_sensitive():
    tracks, labels = ["a" * 64, "b" * 64], [("a" * 64, "intro", 0.0, 8.0), ("b" * 64, "drop", 16.0, 32.0)]
    fp = J.fingerprint(tracks, labels)
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert J.fingerprint(tracks[::-1], labels[::-1]) == fp
    assert J.fingerprint(tracks, [("a" * 64, "intro", 0.0000001, 8.0), labels[1]]) == fp  # below 1 ms
    assert J.fingerprint(tracks, [("a" * 64, "build", 0.0, 8.0), labels[1]]) != fp
    assert J.fingerprint(tracks, [("a" * 64, "intro", 0.0, 8.5), labels[1]]) != fp
    assert J.fingerprint(tracks[:1], labels) != fp
    assert J.fingerprint(tracks) != J.fingerprint(tracks, labels)


@pytest.mark.parametrize("tracks, labels, match", [
    ([""], [], "tracks must be non-empty content-hash strings"),
    ([3], [], "tracks must be non-empty content-hash strings"),
    (["a"], [("a", "intro", 0.0)], r"labels must be \(track_hash, label, start_s, end_s\) tuples"),
    (["a"], ["abcd"], r"labels must be \(track_hash, label, start_s, end_s\) tuples"),
    (["a"], [("a", "intro", "x", 1.0)], "label times start_s, end_s must be numbers"),
])
def test_fingerprint_rejects_bad_input(tracks, labels, match):
    with pytest.raises(ParameterError, match=match):
        J.fingerprint(tracks, labels)


def test_create_get_list_and_their_errors(lib):
    a = J.create_job(lib, "embeddings", config={"epochs": 2}, label_counts={"drop": 3})
    b = J.create_job(lib, "sections")
    assert (a.state, a.progress, a.config, a.label_counts, a.pid) == ("pending", 0.0, {"epochs": 2}, {"drop": 3},
                                                                     os.getpid())
    assert a.running and not a.finished and b.config == {} and b.metrics == {}
    assert [j.id for j in J.list_jobs(lib)] == [b.id, a.id] and [j.id for j in J.list_jobs(lib, limit=1)] == [b.id]
    assert J.get_job(lib, a.id) == a
    with pytest.raises(J.JobNotFoundError, match="no job with id 999"):
        J.get_job(lib, 999)
    with pytest.raises(ParameterError, match="job_id must be an int; got '1'"):
        J.get_job(lib, "1")
    with pytest.raises(ParameterError, match=r"kind must be one of \('embeddings', 'sections'\); got 'tags'"):
        J.create_job(lib, "tags")
    with pytest.raises(ParameterError, match="config must be a dict of hyperparameters or None; got list"):
        J.create_job(lib, "sections", config=[1])
    with pytest.raises(ParameterError, match="limit must be an int >= 1 or None; got 0"):
        J.list_jobs(lib, limit=0)
    with pytest.raises(ParameterError, match="library must be a workbench Library or a sqlite3 connection"):
        J.list_jobs("wb.db")
    with pytest.raises(ParameterError, match="unknown job columns"):
        J._update(lib.conn, a.id, colour="red")


def test_runner_parameter_errors(lib, exp):
    with pytest.raises(ParameterError, match="kind must be one of"):
        J.JobRunner(lib, "tags")
    with pytest.raises(ParameterError, match=r"min_interval_s must be a float >= 0 \(seconds\); got -1"):
        J.JobRunner(lib, "sections", min_interval_s=-1)
    runner = J.JobRunner(lib, "sections", experiments_root=exp)
    for call in (lambda: runner.job, lambda: runner.on_epoch(1, 1, {}), lambda: runner.finish(None)):
        with pytest.raises(WorkbenchError, match="the job has not started"):
            call()
    with pytest.raises(ParameterError, match="data_info must be a dict; got list"):
        with J.JobRunner(lib, "sections", experiments_root=exp, progress=False) as r:
            r.set_data([1])
    assert J.list_jobs(lib)[0].error.startswith("ParameterError: data_info must be a dict")


def test_job_value_object_is_validated(lib):
    job = J.create_job(lib, "sections")
    import dataclasses

    with pytest.raises(ParameterError, match="state must be one of"):
        dataclasses.replace(job, state="running")
    with pytest.raises(ParameterError, match=r"progress must be in \[0, 1\]; got 1.5"):
        dataclasses.replace(job, progress=1.5)


def test_reap_stale_leaves_live_finished_and_pidless_jobs(lib):
    live = J.create_job(lib, "sections")
    dead_proc = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_proc.wait()
    dead = J.create_job(lib, "sections")
    done = J.create_job(lib, "sections")
    orphan = J.create_job(lib, "sections")
    J._update(lib.conn, dead.id, pid=dead_proc.pid, state="training")
    J._update(lib.conn, done.id, pid=dead_proc.pid, state="completed")
    J._update(lib.conn, orphan.id, pid=None)
    assert J.reap_stale(lib) == [dead.id]
    states = {j.id: j.state for j in J.list_jobs(lib)}
    assert states == {live.id: "pending", dead.id: "failed", done.id: "completed", orphan.id: "pending"}
    assert J.pid_alive(os.getpid()) and not J.pid_alive(dead_proc.pid) and not J.pid_alive(0)


def test_a_reused_pid_does_not_keep_a_job_running(lib):
    """Issue 14: the job's pid now belongs to another process (other start ticks): reaped as gone."""
    mine = J.create_job(lib, "sections")
    assert mine.pid_start_ticks == J.process_start_ticks(os.getpid()) is not None
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ticks = J.process_start_ticks(sleeper.pid)
        same = J.create_job(lib, "sections")
        reused = J.create_job(lib, "sections")
        J._update(lib.conn, same.id, pid=sleeper.pid, pid_start_ticks=ticks, state="training")
        J._update(lib.conn, reused.id, pid=sleeper.pid, pid_start_ticks=ticks - 1, state="training")
        assert J.reap_stale(lib) == [reused.id]
        job = J.get_job(lib, reused.id)
        assert job.state == "failed" and job.error == f"killed: process {sleeper.pid} is gone"
        assert J.get_job(lib, same.id).state == "training" and J.get_job(lib, mine.id).state == "pending"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert J.process_start_ticks(sleeper.pid) is None and not J.job_process_alive(sleeper.pid, ticks)


def test_a_job_records_its_process_start(lib, exp):
    job, _ = J.run_job(lib, "sections", lambda cb: dummy_train(cb, epochs=1), data_info=DATA, experiments_root=exp,
                       progress=False)
    assert job.pid == os.getpid() and job.pid_start_ticks == J.process_start_ticks(os.getpid())


def test_a_zombie_counts_as_gone():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_for(lambda: Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
             if Path(f"/proc/{proc.pid}").exists() else True, timeout_s=20, what="the child to exit")
    try:
        assert not J.pid_alive(proc.pid)
    finally:
        proc.wait()


def test_headline_flattens_and_orders_metrics():
    m = {"n": 3, "baseline": {"map_at_r": 0.5, "x": 2}, "model": {"val": {"map_at_r": 0.8123456}, "acc": 1,
                                                               "ok": True, "name": "x"}}
    assert J.headline(m) == "model.val.map_at_r=0.8123  baseline.map_at_r=0.5000  model.acc=1  n=3"
    assert J.headline(m, max_items=1) == "model.val.map_at_r=0.8123" and J.headline({}) == ""
    sections = {"holdout": {"accuracy": 0.7, "per_class": {"drop": {"f1": 0.5}}, "macro_f1": 0.6}, "n_windows": 9}
    assert J.headline(sections, max_items=3) == "holdout.accuracy=0.7000  holdout.macro_f1=0.6000  n_windows=9"


# -- widget -----------------------------------------------------------------------------------

def test_jobs_html_and_widget(lib, exp):
    from workbench.widgets.jobs import STATE_COLORS, JobsWidget, jobs_html

    assert "no training jobs yet" in jobs_html([])
    w = JobsWidget(lib)
    assert w.jobs == [] and not w.auto_refreshing and "no training jobs yet" in w.html.value
    J.run_job(lib, "sections", lambda cb: dummy_train(cb, epochs=2), data_info=DATA, experiments_root=exp,
              progress=False)
    with pytest.raises(ValueError):
        J.run_job(lib, "embeddings", lambda cb: dummy_train(cb, epochs=4, fail_at=2, error=ValueError("x<y")),
                  config={"epochs": 4}, experiments_root=exp, progress=False)
    running = J.create_job(lib, "sections")
    J._update(lib.conn, running.id, state="training", epoch=3, total_epochs=10, progress=0.3, loss=0.5)
    jobs = w.refresh()
    assert [j.state for j in jobs] == ["training", "failed", "completed"]
    html = w.html.value
    assert html == w._repr_html_() and w.widget is w and w.children == (w.html,)
    for state in ("training", "failed", "completed"):
        assert f"wb-state-{state}" in html and STATE_COLORS[state] in html
    assert "width:30.0%" in html and "3/10" in html and "0.5000" in html and "width:100.0%" in html
    assert "ValueError: x&lt;y" in html and jobs[2].run_id in html and "model.accuracy=" in html
    assert "0/4" not in html and "1/4" in html  # the failed job stopped after epoch 1
    with pytest.raises(ParameterError, match="limit must be an int >= 1; got 0"):
        JobsWidget(lib, limit=0)
    with pytest.raises(ParameterError, match=r"refresh_s must be a float > 0 \(seconds\); got 0"):
        w.start(0)


def test_widget_auto_refresh_follows_another_writer(lib):
    from workbench.widgets.jobs import JobsWidget

    w = JobsWidget(lib, refresh_s=0.05)
    try:
        assert w.auto_refreshing
        J.create_job(lib, "embeddings")
        wait_for(lambda: "wb-state-pending" in w.html.value, timeout_s=10, what="the widget to refresh")
    finally:
        w.stop()
    assert not w.auto_refreshing
    w.stop()  # idempotent
    with pytest.raises(ParameterError, match=r"auto-refresh needs a Library with a \.path"):
        JobsWidget(lib.conn).start(1.0)


# -- CLI --------------------------------------------------------------------------------------

def cli(argv, lib_path):
    from workbench.commands import train as cmd

    parser = argparse.ArgumentParser(prog="workbench")
    parser.add_argument("--db")
    parser.add_argument("--quiet", action="store_true")
    sub = parser.add_subparsers(dest="command")
    cmd.register(sub)
    args = parser.parse_args(["--db", str(lib_path), *argv])
    return args.func(args)


def test_cli_jobs_lists_and_watches_until_nothing_runs(lib, tmp_path, exp, capsys):
    assert cli(["jobs"], lib.path) == 0
    assert "(no training jobs yet)" in capsys.readouterr().out
    J.run_job(lib, "sections", lambda cb: dummy_train(cb, epochs=2), data_info=DATA, experiments_root=exp,
              progress=False)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.0)"])
    try:
        watched = J.create_job(lib, "embeddings")
        J._update(lib.conn, watched.id, pid=sleeper.pid, pid_start_ticks=J.process_start_ticks(sleeper.pid),
                  state="training", epoch=1, total_epochs=4, progress=0.25)
        t0 = time.monotonic()
        assert cli(["jobs", "--watch", "--interval", "0.1"], lib.path) == 0
        assert time.monotonic() - t0 >= 0.3  # it waited for the sleeper to go
    finally:
        sleeper.wait()
    out = capsys.readouterr().out
    tables = [t for t in out.split("\n\n") if t.strip()]
    assert len(tables) >= 2
    assert "training" in tables[0] and "[####............]  25%" in tables[0] and "1/4" in tables[0]
    assert f"killed: process {sleeper.pid} is gone" in tables[-1] and "completed" in tables[-1]
    with pytest.raises(ParameterError, match=r"--interval must be > 0 \(seconds\); got 0.0"):
        cli(["jobs", "--interval", "0"], lib.path)


def test_cli_train_passes_options_and_prints_the_run(lib, exp, capsys, monkeypatch):
    calls = []

    def fake_entry(library, *, config=None, experiments_root=None, progress=True):
        calls.append((config, experiments_root, progress))
        return J.run_job(library, "sections", lambda cb: dummy_train(cb, epochs=config["epochs"]),
                         config=config, data_info=DATA, experiments_root=experiments_root, progress=progress)

    monkeypatch.setattr(J, "train_sections_job", fake_entry)
    assert cli(["--quiet", "train", "sections", "--epochs", "2", "--seed", "3", "--lr", "0.01",
                "--set", "margin=0.2", "--set", "name=abc", "--set", "hidden-dim=64",
                "--experiments", str(exp)], lib.path) == 0
    assert calls == [({"epochs": 2, "seed": 3, "lr": 0.01, "margin": 0.2, "name": "abc", "hidden_dim": 64},
                      str(exp), False)]
    out = capsys.readouterr().out
    job = J.list_jobs(lib)[0]
    assert f"job {job.id} completed: sections, 2/2 epochs, loss" in out
    assert f"run {job.run_id}: {exp / job.run_id}" in out and "metrics: model.accuracy=" in out
    with pytest.raises(ParameterError, match="--set must be KEY=VALUE; got 'margin'"):
        cli(["train", "embeddings", "--set", "margin"], lib.path)
    capsys.readouterr()
    assert cli(["train"], lib.path) == 2  # bare `train` lists what it trains (as `runs` and `crates`), exit 2
    listed = capsys.readouterr().out
    assert "embeddings" in listed and "sections" in listed


# -- the two training jobs on a small demo library --------------------------------------------

@pytest.fixture(scope="module")
def demo_lib(tmp_path_factory):
    from workbench.demo import synthesize_library

    root = tmp_path_factory.mktemp("demo-jobs")
    synthesize_library(root / "audio", n_tracks=6, duration_s=30, styles=["trance", "house"], seed=1, progress=False)
    with Library(root / "wb.db") as library:
        library.scan(root / "audio", progress=False)
        yield library


@pytest.mark.slow
def test_train_sections_job_on_imported_labels(demo_lib, tmp_path):
    import json
    import warnings
    from pathlib import Path

    from workbench.labels import Labels
    from workbench.models.heads import SectionClassifier, load_checkpoint
    from workbench.train.sections import NotReadyError, load_section_model

    with pytest.raises(NotReadyError, match="no labelled sections .*labeler notebook"):  # no demo-truth fallback
        J.train_sections_job(demo_lib, experiments_root=tmp_path, progress=False)
    labels = Labels(demo_lib)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stored = [labels.import_truth(t, json.loads(Path(t.path).with_suffix(".json").read_text())["sections"])
                  for t in demo_lib.tracks()]
    assert all(stored)

    states = []
    job, path = J.train_sections_job(demo_lib, config={"epochs": 2, "min_per_class": 1, "models": [], "seed": 2},
                                     experiments_root=tmp_path, progress=False, on_state=lambda j: states.append(j.state))
    assert states == ["pending", "preparing", "training", "evaluating", "completed"]
    assert job.state == "completed" and (job.epoch, job.total_epochs) == (2, 2) and job.loss > 0
    run = load_run(path)
    assert run.info["backbone"]["name"] == "features-v1" and run.info["seed"] == 2 and run.info["job_id"] == job.id
    assert run.data["source"] == "labels" and len(run.data["tracks"]) == 6 and run.data["label_counts"] == job.label_counts
    assert sorted(run.data["splits"]["train"] + run.data["splits"]["test"]) == [t.id for t in demo_lib.tracks()]
    assert run.config["epochs"] == 2 and len(run.history) == 2 and {"model", "baselines", "held_out"} <= set(run.metrics)
    assert {"y_true", "y_pred", "probs"} <= set(run.arrays()) and run.timeline
    assert isinstance(load_checkpoint(path / "model.pt"), SectionClassifier)
    trainer, features, _ = load_section_model(path / "model.pt")
    assert trainer.classes_
    with pytest.raises(ParameterError, match=r"config keys must be among .*got unknown \['margin'\]"):
        J.train_sections_job(demo_lib, config={"margin": 0.2}, experiments_root=tmp_path)
    for label in labels.all():  # leave the library as the other tests expect it
        labels.delete(label.id)


@pytest.mark.slow
def test_train_embeddings_job_on_demo_styles(demo_lib, tmp_path):
    from workbench.crates import Crates
    from workbench.models.heads import EmbeddingHead, load_checkpoint
    from workbench.train.classes import track_style

    for t in demo_lib.tracks():  # the user's organisation: a crate per style (as the demo pipeline makes)
        Crates(demo_lib).add(track_style(t), [t])
    job, path = J.train_embeddings_job(demo_lib, config={"epochs": 2, "window_s": 4.0, "seed": 1,  # the slice's path
                                                         "early_stopping": "validation"},  # (folds: test_embeddings_stopping)
                                       experiments_root=tmp_path, progress=False)
    assert job.state == "completed" and job.total_epochs == 2 and set(job.label_counts) == {"trance", "house"}
    run = load_run(path)
    assert run.data["class_source"]["source"] == "crates"
    assert run.config["max_epochs"] == 2 and run.config["window_s"] == 4.0 and run.config["batch_size"] == 8
    split = run.data["splits"]
    assert sorted(split["train"] + split["val"] + split["test"]) == [t.id for t in demo_lib.tracks()]
    assert "map_at_r" in run.metrics["model"]["val"]
    arrays = run.arrays()
    assert arrays["embeddings"].shape == (len(arrays["classes"]), 202 + 256)  # blended with the backbone (blend="auto")
    assert run.metrics["blend"]["weight"] in (0.0, 0.25, 0.5, 0.75, 1.0) and "test" in run.metrics["head_alone"]
    assert set(arrays["track_ids"].tolist()) == set(split["test"])
    head = load_checkpoint(path / "model.pt")
    assert isinstance(head, EmbeddingHead) and head.in_dim == run.info["backbone"]["dim"] == 202
    with pytest.raises(ParameterError, match=r"got unknown \['bogus'\]"):
        J.train_embeddings_job(demo_lib, config={"bogus": 1}, experiments_root=tmp_path)
    n_jobs = len(J.list_jobs(demo_lib))
    with pytest.raises(ParameterError, match="test_size and val_size must be fractions"):
        J.train_embeddings_job(demo_lib, config={"test_size": 0.6, "val_size": 0.5}, experiments_root=tmp_path,
                               progress=False)
    failed = J.list_jobs(demo_lib)[0]
    assert len(J.list_jobs(demo_lib)) == n_jobs + 1 and failed.state == "failed"
    assert failed.error.startswith("ParameterError: test_size and val_size")
