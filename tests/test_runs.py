"""Run folders: written whole or not at all, read back, listed; the one flattening of nested records."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from workbench.errors import ParameterError, StoreError
from workbench.runs import flatten, list_runs, load_run, new_run_id, write_run


def _write(root, run_id, **kw):
    return write_run(run_id, info={"kind": run_id.split("-")[2]}, config_={"lr": 0.1}, data={"tracks": []},
                     history=[{"epoch": 1, "train_loss": np.float32(0.5)}], metrics={"model": {"acc": 0.9}},
                     root=root, **kw)


def test_write_load_list_round_trip(tmp_path):
    run_id = new_run_id("sections")
    assert re.fullmatch(r"\d{8}-\d{6}-sections-[0-9a-f]{6}", run_id)
    path = _write(tmp_path, run_id, arrays={"y_true": np.array(["drop", "intro"])},
                  timeline=[{"track_id": 1}], extra=lambda tmp: (tmp / "model.pt").write_bytes(b"x"))
    run = load_run(run_id, root=tmp_path)
    assert run.path == path and run.kind == "sections" and run.run_id == run_id
    assert run.history == [{"epoch": 1, "train_loss": 0.5}] and run.metrics == {"model": {"acc": 0.9}}
    assert run.arrays()["y_true"].tolist() == ["drop", "intro"] and run.timeline == [{"track_id": 1}]
    assert run.model_path == path / "model.pt"
    assert [r.run_id for r in list_runs(tmp_path)] == [run_id]
    assert list_runs(tmp_path, kind="embeddings") == []
    with pytest.raises(StoreError, match="already exists"):
        _write(tmp_path, run_id)


def test_a_failed_write_leaves_nothing(tmp_path):
    def boom(tmp):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        _write(tmp_path, new_run_id("embeddings"), extra=boom)
    assert list(tmp_path.iterdir()) == []


def test_list_runs_removes_temporary_folders_of_dead_writers_only(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / f".r1.{int(dead.stdout)}.tmp").mkdir()
    import os

    alive = tmp_path / f".r2.{os.getpid()}.tmp"
    alive.mkdir()
    assert list_runs(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name]


def test_errors(tmp_path):
    with pytest.raises(ParameterError, match=r"kind must be one of \('embeddings', 'sections'\); got 'x'"):
        new_run_id("x")
    with pytest.raises(StoreError, match="no run folder with run.json"):
        load_run("nope", root=tmp_path)
    bad = tmp_path / "r"
    bad.mkdir()
    (bad / "run.json").write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        load_run(bad)


def test_flatten():
    nested = {"model": {"acc": 0.9, "per_class": {"drop": 1}}, "folds": [1, 2], "many": list(range(13)), "n": 3}
    assert flatten(nested) == {"model.acc": 0.9, "model.per_class.drop": 1, "folds": "1, 2",
                               "many": "[13 items]", "n": 3}
    assert flatten(nested, lists=False) == {"model.acc": 0.9, "model.per_class.drop": 1, "n": 3}
