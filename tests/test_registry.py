"""The model registry: versions, one active per type, rollback, delete, compare, atomicity, CLI."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("coremltools")

from workbench.errors import ParameterError  # noqa: E402
from workbench.evaluate.gates import GateFailedError  # noqa: E402
from workbench.library import Library  # noqa: E402
from workbench.registry import PAUSE_ENV, Registry, RegistryError, flatten_metrics  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """One small exported classifier package, reused by every test (copied on register)."""
    from workbench.export.coreml import export_classifier
    from workbench.models.heads import SectionClassifier, save_checkpoint

    d = tmp_path_factory.mktemp("pkg")
    torch.manual_seed(0)
    clf = SectionClassifier(16, hidden_dim=32).eval()
    save_checkpoint(clf, d / "model.pt")
    r = export_classifier(clf, d / "clf.mlpackage", metadata={"metrics": {"model": {"accuracy": 0.5}}})
    return r


@pytest.fixture
def reg(tmp_path):
    lib = Library(tmp_path / "data" / "workbench.db")
    r = Registry(lib, root=tmp_path / "models")
    yield r
    lib.store.close()


MAJORITY = {"accuracy": 0.3, "macro_f1": 0.1}


def _metrics(acc, *, held_out=None, majority=MAJORITY):
    """Run metrics as the contract has them (model, baselines and boundaries on the same held-out tracks)."""
    m = {"model": {"accuracy": acc, "macro_f1": acc}, "baselines": {"majority": dict(majority)},
         "segments": {"smoothed": {"boundary_f_3s": 0.9}, "novelty": {"boundary_f_3s": 0.8}}}
    if held_out is not None:
        m["held_out"] = {"track_hashes": sorted(held_out)}
    return m


def _add(reg, package, acc, *, held_out=None, majority=MAJORITY, **kw):
    return reg.register("dj_section", package.path, metadata=package.metadata,
                        metrics=_metrics(acc, held_out=held_out, majority=majority), export=package.as_dict(), **kw)


def _visible(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name != ".registry.lock")


def test_register_lists_and_activates(reg, package):
    v1 = _add(reg, package, 0.5, run_id="run-a")
    v2 = _add(reg, package, 0.7)
    assert (v1.version, v2.version) == (1, 2)
    assert _visible(reg.root) == ["dj_section_v1.json", "dj_section_v1.md", "dj_section_v1.mlpackage",
                                  "dj_section_v2.json", "dj_section_v2.md", "dj_section_v2.mlpackage"]
    assert [v.active for v in reg.list("dj_section")] == [False, True]
    assert reg.active("dj_section").version == 2 and reg.active("head") is None
    assert reg.get("dj_section", 1).run_id == "run-a"
    doc = json.loads(v1.json_path.read_text())
    assert doc["metadata"]["version"] == "1.0.0" and doc["metrics"]["model"]["accuracy"] == 0.5
    from workbench.export.coreml import read_metadata

    assert read_metadata(v2.path)["version"] == "2.0.0"  # stamped into the package
    card = v1.card_path.read_text()
    assert "xcrun coremlcompiler compile dj_section_v1.mlpackage" in card and "MLModel.compileModel" in card
    assert "model.accuracy" in card and "Intended use" in card
    v3 = _add(reg, package, 0.6, activate=False)
    assert not v3.active and reg.active("dj_section").version == 2
    rows = reg.library.conn.execute("SELECT COUNT(*) FROM model_versions WHERE active = 1").fetchone()[0]
    assert rows == 1


def test_activate_rollback_delete_compare(reg, package):
    for acc in (0.5, 0.6, 0.8):
        _add(reg, package, acc)
    assert reg.rollback("dj_section").version == 2
    assert reg.rollback("dj_section").version == 1
    with pytest.raises(RegistryError, match="earliest version"):
        reg.rollback("dj_section")
    reg.activate("dj_section", 3)
    with pytest.raises(RegistryError, match="is the active dj_section version"):
        reg.delete("dj_section", 3)
    reg.delete("dj_section", 2)
    assert [v.version for v in reg.list()] == [1, 3]
    assert not any("v2" in n for n in _visible(reg.root))
    cmp = reg.compare("dj_section", 1, 3)
    row = {r[0]: r for r in cmp.rows}["metrics.model.accuracy"]
    assert row[1:3] == (0.5, 0.8) and row[3] == pytest.approx(0.3)
    assert "metrics.model.accuracy" in str(cmp) and cmp.to_frame().shape[1] == 3
    assert list(reg.frame()["model"]) == ["dj_section_v1", "dj_section_v3"]
    assert _add(reg, package, 0.9).version == 4  # numbers are not reused below the highest


def test_errors(reg, package, tmp_path):
    with pytest.raises(ParameterError, match="model_type must be one of"):
        reg.list("tagger")
    with pytest.raises(ParameterError, match="no Manifest.json"):
        reg.register("head", tmp_path, metadata={})
    with pytest.raises(ParameterError, match="metadata must be a dict"):
        reg.register("head", package.path, metadata=None)
    with pytest.raises(RegistryError, match="no head version 3"):
        reg.activate("head", 3)
    with pytest.raises(ParameterError, match=r"version must be an int in 1\.\.999999999; got 0"):
        reg.get("head", 0)
    with pytest.raises(RegistryError, match="no active head version"):
        reg.rollback("head")


def test_cleanup_repairs_files_and_rows(reg, package):
    v1 = _add(reg, package, 0.5)
    v2 = _add(reg, package, 0.6)
    # stray temporary folder of a dead writer, an orphan package without its JSON
    (reg.root / ".dj_section_v9.999999.tmp").mkdir()
    shutil.copytree(v1.path, reg.root / "dj_section_v7.mlpackage")
    # a version whose files are gone, and a JSON whose row is gone
    shutil.rmtree(v1.path)
    with reg.library.store.transaction() as conn:
        conn.execute("DELETE FROM model_versions WHERE version = 2")
    report = reg.cleanup()
    assert ".dj_section_v9.999999.tmp" in report.removed and "dj_section_v7.mlpackage" in report.removed
    assert report.rows_added == ("dj_section_v2",) and report.rows_dropped == ("dj_section_v1",)
    assert [v.version for v in reg.list()] == [2] and not reg.get("dj_section", 2).active
    assert str(reg.cleanup()) == "registry clean"
    assert v2.path.is_dir()


_CHILD = textwrap.dedent("""
    import sys
    from workbench.library import Library
    from workbench.registry import Registry
    reg = Registry(Library(sys.argv[1]), root=sys.argv[2])
    reg.register("dj_section", sys.argv[3], metadata={"description": "x"}, metrics={}, force=True)
    print("DONE", flush=True)
""")


@pytest.mark.parametrize("point", ["tmp-written", "package-renamed"])
def test_killed_export_leaves_no_version_and_no_stray_files(tmp_path, package, point):
    db, root = tmp_path / "w.db", tmp_path / "models"
    env = {**os.environ, PAUSE_ENV: point, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(db), str(root), str(package.path)],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.strip() == f"PAUSED {point}", line
        assert any(p.name.endswith(".tmp") for p in root.iterdir())  # it really was mid-export
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    lib = Library(db)
    reg = Registry(lib, root=root)
    assert reg.list() == []
    assert _visible(root) == []
    assert reg.last_cleanup.removed
    # and the registry still works: the next export is v1
    assert _add(reg, package, 0.5).version == 1
    lib.store.close()


def test_flatten_metrics():
    assert flatten_metrics({"model": {"acc": 1, "cm": [[1]]}, "n": 3}) == {"model.acc": 1, "n": 3}


def _parser():
    from workbench.commands import export as cmd

    p = argparse.ArgumentParser()
    p.add_argument("--db")
    p.add_argument("--quiet", action="store_true")
    cmd.register(p.add_subparsers(dest="command"))
    return p


def test_cli_models_commands(tmp_path, package, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    with Registry(db) as r:
        _add(r, package, 0.5)
        _add(r, package, 0.7)
    p = _parser()

    def cli(*argv):
        args = p.parse_args(["--db", db, *argv])
        return args.func(args)

    assert cli("models", "list") == 0
    out = capsys.readouterr().out
    assert "dj_section_v1" in out and "dj_section_v2" in out and "2 versions" in out
    assert cli("models", "rollback", "dj_section") == 0 and "dj_section_v1" in capsys.readouterr().out
    assert cli("models", "activate", "dj_section", "2", "--json") == 0  # what changed, for scripts
    doc = json.loads(capsys.readouterr().out)
    assert (doc["model_type"], doc["previous"]["name"], doc["active"]["name"]) == ("dj_section", "dj_section_v1",
                                                                                  "dj_section_v2")
    assert doc["changed"] is True and doc["forced_past_gates"] is False and doc["active"]["active"] is True
    assert cli("models", "activate", "dj_section", "2", "--json") == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False  # already active: nothing changed
    assert cli("models", "rollback", "dj_section", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["previous"]["version"], doc["active"]["version"], doc["changed"]) == (2, 1, True)
    assert cli("models", "activate", "dj_section", "2") == 0
    assert cli("models", "compare", "dj_section", "1", "2") == 0
    assert "metrics.model.accuracy" in capsys.readouterr().out
    with pytest.raises(RegistryError, match="active"):
        cli("models", "delete", "dj_section", "2")
    assert cli("models", "delete", "dj_section", "1") == 0
    with pytest.raises(SystemExit):
        p.parse_args(["models", "activate", "tagger", "1"])


def _run(tmp_path, package, metrics, *, job_state="completed", lib=None, rid=None):
    """A sections run folder with the package's checkpoint, written by a job of the library at
    ``tmp_path/data/workbench.db`` that ends in ``job_state``; returns the run id."""
    from workbench.runs import new_run_id, write_run
    from workbench.train import jobs as J

    own = lib is None
    lib = lib or Library(tmp_path / "data" / "workbench.db")
    job = J.create_job(lib, "sections")
    rid = rid or new_run_id("sections")
    ckpt = package.path.parent / "model.pt"
    write_run(rid, info={"kind": "sections", "job_id": job.id, "backbone": {"name": "features-v1", "dim": 16}},
              config_={}, data={"fingerprint": "abc"}, history=[], metrics=metrics,
              extra=lambda d: shutil.copy(ckpt, d / "model.pt"), root=tmp_path / "experiments")
    J._update(lib.conn, job.id, state=job_state, run_id=rid if job_state == "completed" else None)
    if own:
        lib.store.close()
    return rid


def test_cli_export_of_a_run(tmp_path, package, capsys, monkeypatch):
    """`workbench export` (no run id): the newest run of a completed job becomes dj_section v1 with its
    metrics; a newer run whose job failed (its process killed after the folder was renamed) is skipped."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    rid = _run(tmp_path, package, _metrics(0.6), rid="20250101-000000-sections-aaaaaa")
    killed = _run(tmp_path, package, _metrics(0.9), job_state="failed", rid="20250101-000001-sections-aaaaaa")
    p = _parser()
    args = p.parse_args(["--db", db, "--quiet", "export", "--io", "fp16"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "dj_section_v1 (active)" in out and "Neural Engine lint" in out and "FORCED" not in out
    with Registry(db) as r:
        v = r.active("dj_section")
        assert v.run_id == rid and v.metrics == _metrics(0.6) and v.forced == ()
        assert v.metadata["data_fingerprint"] == "abc" and v.metadata["io_dtype"] == "fp16"
        doc = json.loads(v.json_path.read_text())
        assert [g["status"] for g in doc["gates"]] == ["pass", "pass", "pass"] and doc["forced"] == []
        assert "## Blocking gates" in v.card_path.read_text() and "Forced" not in v.card_path.read_text()
    assert not [n for n in os.listdir(tmp_path / "models") if n.endswith(".tmp")]
    # the killed job's run, named: refused, saying why
    args = p.parse_args(["--db", db, "--quiet", "export", killed])
    with pytest.raises(ParameterError, match=rf"run {killed}: its job \d+ is 'failed'.*not completed"):
        args.func(args)


def test_export_refuses_a_model_worse_than_its_baseline_unless_forced(tmp_path, package, capsys, monkeypatch):
    """Issue 13: a section model below "always say the majority class" is held back; --force exports it
    and the JSON, the package metadata and the card say so with the failing gate."""
    from workbench.evaluate.gates import GateFailedError
    from workbench.export import export_run
    from workbench.export.coreml import read_metadata

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    bad = _run(tmp_path, package, _metrics(0.2, majority={"accuracy": 0.5, "macro_f1": 0.1}))
    p = _parser()
    args = p.parse_args(["--db", db, "--quiet", "export", bad])
    with pytest.raises(GateFailedError, match=r"(?s)fails 1 blocking gate.*not better than majority: accuracy of unsmoothed windows 0.2000 < "
                                              r"baselines.majority 0.5000"
                                              r" -> fail.*--force"):
        args.func(args)
    assert not (tmp_path / "models" / "dj_section_v1.json").exists()
    args = p.parse_args(["--db", db, "--quiet", "export", bad, "--force", "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    (v,) = out["versions"]
    assert v["name"] == "dj_section_v1" and v["forced"][0]["action"] == "export"
    assert [g["metric"] for g in v["forced"][0]["failing_gates"]] == ["accuracy of unsmoothed windows"]
    pkg = tmp_path / "models" / "dj_section_v1.mlpackage"
    assert "not better than majority: accuracy of unsmoothed windows 0.2000 < baselines.majority 0.5000 -> fail" in read_metadata(pkg)["forced"]
    card = pkg.with_suffix(".md").read_text()
    assert "**Forced (export" in card and "accuracy of unsmoothed windows: fail" in card
    # gates not recorded (an older run without baselines): refused, and the message says why
    old = _run(tmp_path, package, {"model": {"accuracy": 0.9, "macro_f1": 0.9}})
    with Library(db) as lib, pytest.raises(GateFailedError, match=r"(?s)not recorded.*gates not recorded"):
        export_run(old, library=lib)


_CHILD_JOB = textwrap.dedent("""
    import sys
    from types import SimpleNamespace
    from workbench.library import Library
    from workbench.train.jobs import run_job
    lib = Library(sys.argv[1])
    run_job(lib, "sections", lambda cb: SimpleNamespace(model=None, history=[], metrics={}, config={}),
            experiments_root=sys.argv[2], progress=False)
    print("DONE", flush=True)
""")


def test_a_run_renamed_before_its_job_completed_is_not_exported(tmp_path, package):
    """Kill the training process between the run folder's rename and the job's commit: the run
    folder is there, the job ends failed, and export refuses the run (with or without its id)."""
    from workbench.export import exportable_runs, not_exportable_reason
    from workbench.runs import list_runs, load_run
    from workbench.train import jobs as J

    db, exp = tmp_path / "data" / "workbench.db", tmp_path / "experiments"
    env = {**os.environ, J.PAUSE_ENV: "run-renamed", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD_JOB, str(db), str(exp)], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "PAUSED run-renamed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    (run,) = list_runs(exp)  # the folder was renamed into place
    shutil.copy(package.path.parent / "model.pt", run.path / "model.pt")
    with Library(db) as lib:
        (job,) = J.list_jobs(lib)  # reaped: the process is gone, the completion was never committed
        assert job.state == "failed" and job.run_id is None and "killed" in job.error
        assert exportable_runs(lib) == []
        assert "is 'failed'" in not_exportable_reason(load_run(run.path), lib)


def _project(tmp_path, package, name="a"):
    """A project folder (workspace) with two dj_section versions, v2 active."""
    root = tmp_path / name
    lib = Library(root / "data" / "workbench.db")
    reg = Registry(lib)
    assert reg.root == root / "models"
    _add(reg, package, 0.5)
    _add(reg, package, 0.7)
    lib.store.close()
    return root


def test_a_copied_project_never_touches_the_original(tmp_path, package):
    """Issue 14: delete in a copy removes the copy's files only, even for rows an older workbench
    stored with absolute paths into the original."""
    a = _project(tmp_path, package)
    with Library(a / "data" / "workbench.db") as lib:
        stored = lib.conn.execute("SELECT path FROM model_versions ORDER BY version").fetchall()
        assert [r[0] for r in stored] == ["dj_section_v1.mlpackage", "dj_section_v2.mlpackage"]  # relative
        with lib.store.transaction() as conn:  # as the older registry stored them
            conn.execute("UPDATE model_versions SET path = ? || '/' || path", (str(a / "models"),))
    b = tmp_path / "b"
    shutil.copytree(a, b)
    with Library(b / "data" / "workbench.db") as lib:
        reg = Registry(lib)
        assert not reg.last_cleanup
        v1 = reg.get("dj_section", 1)
        assert v1.path == b / "models" / "dj_section_v1.mlpackage"
        reg.delete("dj_section", 1)
        assert not v1.path.exists()
    assert (a / "models" / "dj_section_v1.mlpackage").is_dir() and (a / "models" / "dj_section_v1.json").is_file()


def test_a_moved_project_keeps_its_versions_and_active_flag(tmp_path, package):
    a = _project(tmp_path, package)
    moved = tmp_path / "elsewhere" / "project"
    moved.parent.mkdir()
    shutil.move(a, moved)
    for _ in range(2):  # not "0 versions once, then every version inactive"
        with Library(moved / "data" / "workbench.db") as lib:
            reg = Registry(lib)
            assert not reg.last_cleanup
            assert [(v.version, v.active) for v in reg.list()] == [(1, False), (2, True)]
            assert reg.active("dj_section").path.is_dir()


def test_delete_refuses_a_path_outside_the_models_folder(reg, package, tmp_path, monkeypatch):
    _add(reg, package, 0.5)
    _add(reg, package, 0.6)
    outside = tmp_path / "elsewhere"
    monkeypatch.setattr(Registry, "_package_path", lambda self, t, n: outside / f"{t}_v{n}.mlpackage")
    with pytest.raises(RegistryError, match="refusing to delete .* outside the models folder"):
        reg.delete("dj_section", 1)


def test_listing_does_not_create_the_models_folder(tmp_path):
    with Library(tmp_path / "data" / "workbench.db") as lib:
        reg = Registry(lib)
        assert reg.list() == [] and reg.active("head") is None
    assert not (tmp_path / "models").exists()


def test_foreign_and_damaged_files_are_skipped_and_reported(reg, package):
    """A version file copied under another number, a JSON missing a key, a number past the range:
    listed as problems, never an exception for every command."""
    v1 = _add(reg, package, 0.5)
    for ext in ("mlpackage", "json", "md"):  # dj_section_v1.* copied as _v9
        src = reg.root / f"dj_section_v1.{ext}"
        (shutil.copytree if src.is_dir() else shutil.copy)(src, reg.root / f"dj_section_v9.{ext}")
    shutil.copytree(v1.path, reg.root / "head_v3.mlpackage")
    doc = json.loads(v1.json_path.read_text())
    del doc["created_at"]
    (reg.root / "head_v3.json").write_text(json.dumps({**doc, "model_type": "head", "version": 3}))
    big = "99999999999999999999999"
    shutil.copytree(v1.path, reg.root / f"embedding_v{big}.mlpackage")
    (reg.root / f"embedding_v{big}.json").write_text("{}")
    report = reg.cleanup()
    problems = dict(report.problems)
    assert "describes dj_section_v1, not dj_section_v9" in problems["dj_section_v9.json"]
    assert "missing key(s) ['created_at']" in problems["head_v3.json"]
    assert "out of range" in problems[f"embedding_v{big}.json"]
    assert [v.name for v in reg.list()] == ["dj_section_v1"]
    assert "skipped dj_section_v9.json" in str(report)
    assert _add(reg, package, 0.6).version == 10  # past the highest valid number seen (v9's files)
    with pytest.raises(ParameterError, match=rf"version must be an int in 1\.\.999999999; got {big}"):
        reg.get("embedding", int(big))
    assert (reg.root / "dj_section_v9.json").exists()  # left alone


def test_version_numbers_are_never_reused(reg, package):
    _add(reg, package, 0.5)
    _add(reg, package, 0.6)
    reg.activate("dj_section", 1)
    reg.delete("dj_section", 2)
    assert _add(reg, package, 0.7).version == 3
    reg.activate("dj_section", 1)
    reg.delete("dj_section", 3)
    row = reg.library.conn.execute("SELECT last FROM model_version_numbers WHERE model_type = 'dj_section'")
    assert row.fetchone()[0] == 3
    assert _add(reg, package, 0.7).version == 4


def test_activation_is_gated_and_forcing_it_is_recorded(reg, package):
    hashes = ["h1", "h2"]
    _add(reg, package, 0.8, held_out=hashes)
    _add(reg, package, 0.6, held_out=["other"], activate=False)  # other held-out tracks: not comparable
    _add(reg, package, 0.2, majority={"accuracy": 0.5, "macro_f1": 0.1}, activate=False, force=True)
    reg.activate("dj_section", 2)  # passes its baselines; its comparison with v1 is "not comparable"
    reg.activate("dj_section", 1)
    with pytest.raises(GateFailedError, match=r"(?s)activating dj_section_v3 fails 1 blocking gate.*accuracy.*"
                                              r"--force"):
        reg.activate("dj_section", 3)
    assert reg.active("dj_section").version == 1
    v3 = reg.activate("dj_section", 3, force=True)
    assert v3.active and [f["action"] for f in v3.forced] == ["export", "activate"]
    assert [f["action"] for f in json.loads(v3.json_path.read_text())["forced"]] == ["export", "activate"]
    assert v3.card_path.read_text().count("**Forced (") == 2
    # worse than the active version on the same held-out tracks
    reg.activate("dj_section", 1)
    with pytest.raises(GateFailedError, match=r"register|fails 1 blocking gate"):
        _add(reg, package, 0.7, held_out=hashes, activate=False)
    gates = reg.gates("dj_section", _metrics(0.7, held_out=hashes))
    assert [g.status for g in gates] == ["pass", "pass", "pass", "fail"] and gates[3].reference == "dj_section_v1"
    # rollback: the earlier version must pass its baselines, not beat the one it replaces
    reg.activate("dj_section", 2)
    assert reg.rollback("dj_section").version == 1


def test_cli_json_outputs(tmp_path, package, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    with Registry(db) as r:
        _add(r, package, 0.5)
        _add(r, package, 0.7)
    (tmp_path / "models" / "head_v2.json").write_text("{not json")
    shutil.copytree(tmp_path / "models" / "dj_section_v1.mlpackage", tmp_path / "models" / "head_v2.mlpackage")
    p = _parser()

    def cli(*argv):
        args = p.parse_args(["--db", db, *argv])
        assert args.func(args) == 0
        return json.loads(capsys.readouterr().out)

    listed = cli("models", "list", "--json")
    assert [(v["name"], v["active"]) for v in listed["versions"]] == [("dj_section_v1", False),
                                                                      ("dj_section_v2", True)]
    assert listed["versions"][0]["metrics"]["model"]["accuracy"] == 0.5
    assert listed["problems"][0]["file"] == "head_v2.json" and "not valid JSON" in listed["problems"][0]["reason"]
    cmp = cli("models", "compare", "dj_section", "1", "2", "--json")
    row = {r["metric"]: r for r in cmp["rows"]}["metrics.model.accuracy"]
    assert (row["a"], row["b"]) == (0.5, 0.7) and row["delta"] == pytest.approx(0.2)
