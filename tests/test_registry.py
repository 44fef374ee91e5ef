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
    """Run metrics as the contract has them (model, baselines on the same held-out tracks)."""
    m = {"model": {"accuracy": acc, "macro_f1": acc}, "baselines": {"majority": dict(majority)}}
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
    assert cli("models", "activate", "dj_section", "2") == 0
    assert cli("models", "compare", "dj_section", "1", "2") == 0
    assert "metrics.model.accuracy" in capsys.readouterr().out
    with pytest.raises(RegistryError, match="active"):
        cli("models", "delete", "dj_section", "2")
    assert cli("models", "delete", "dj_section", "1") == 0
    with pytest.raises(SystemExit):
        p.parse_args(["models", "activate", "tagger", "1"])


def test_cli_export_of_a_run(tmp_path, package, capsys, monkeypatch):
    """`workbench export RUN`: a sections run's checkpoint becomes dj_section v1 with its metrics."""
    from workbench.runs import new_run_id, write_run

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    ckpt = package.path.parent / "model.pt"
    rid = new_run_id("sections")
    write_run(rid, info={"kind": "sections", "backbone": {"name": "features-v1", "dim": 16}},
              config_={}, data={"fingerprint": "abc"}, history=[], metrics={"model": {"macro_f1": 0.4}},
              extra=lambda d: shutil.copy(ckpt, d / "model.pt"), root=tmp_path / "experiments")
    p = _parser()
    args = p.parse_args(["--db", db, "--quiet", "export", "--io", "fp16"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "dj_section_v1 (active)" in out and "Neural Engine lint" in out
    with Registry(db) as r:
        v = r.active("dj_section")
        assert v.run_id == rid and v.metrics == {"model": {"macro_f1": 0.4}}
        assert v.metadata["data_fingerprint"] == "abc" and v.metadata["io_dtype"] == "fp16"
    assert not [n for n in os.listdir(tmp_path / "models") if n.endswith(".tmp")]
