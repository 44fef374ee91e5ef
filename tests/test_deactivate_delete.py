"""``models deactivate`` then ``models delete`` of the version it turned off: the mark lived in that version's own row,
so deleting it undid "deactivated" (``suggest`` fell back to the newest sections run, most often the deleted model's
own, and the next plain export activated again). The type's state is now its row of ``model_deactivations``."""

from __future__ import annotations

import argparse
import json
import sqlite3

import pytest
from test_models_deactivate import _registry_cli
from test_registry import _add, _metrics, _run, package, reg  # noqa: F401  (fixtures)
from test_search_model import lib, music, prepared, register_head  # noqa: F401  (fixtures)

from workbench import store
from workbench.registry import Registry


def test_suggest_after_deactivate_and_delete_still_uses_no_model(tmp_path, package, monkeypatch):  # noqa: F811
    from workbench.commands.suggest import SectionModelDeactivatedError, section_run
    from workbench.library import Library
    from workbench.widgets.suggest import active_suggester

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = tmp_path / "data" / "workbench.db"
    rid = _run(tmp_path, package, _metrics(0.7))  # the deleted model's own run stays: the old fallback's pick
    with Library(db) as library:
        args = argparse.Namespace(db=str(db), home=None, run=None)
        with Registry(library) as r:
            _add(r, package, 0.7, run_id=rid)
            r.deactivate("dj_section")
            r.delete("dj_section", 1)
            off = r.deactivated("dj_section")
            assert (off.name, off.version, off.deleted, off.versions) == ("dj_section_v1", 1, True, ())
        with pytest.raises(SectionModelDeactivatedError) as caught:
            section_run(args, library)
        said = str(caught.value)
        assert "novelty boundaries" in said and "dj_section_v1 (deleted) was deactivated " in said, said
        assert "activate dj_section 1" not in said and "no dj_section version is left" in said, said
        s = active_suggester(library)
        assert s.fallback and s.run_id is None, s
        assert "novelty boundaries" in s.said and "dj_section_v1 (deleted) was deactivated" in s.said, s.said


def test_export_after_deactivate_and_delete_stays_inactive(reg, package):  # noqa: F811
    from workbench.commands.export import inactive_line
    from workbench.export.activation import activation_decision

    _add(reg, package, 0.5)
    reg.deactivate("dj_section")
    reg.delete("dj_section", 1)
    decided = activation_decision(reg, "dj_section", _metrics(0.9))
    assert not decided.activate and "dj_section_v1 (deleted) was deactivated" in decided.reason, decided.reason
    v2 = _add(reg, package, 0.9, activate=None)  # plain `workbench export`
    assert not v2.active and reg.active("dj_section") is None
    assert "dj_section_v1 (deleted) was deactivated" in inactive_line(reg, v2)
    off = reg.deactivated("dj_section")
    assert off.deleted and off.versions == (2,)
    assert off.way_back() == "`workbench models activate dj_section N` (N in [2]) makes a version active"
    with pytest.raises(Exception, match=r"dj_section_v1 \(deleted\) was deactivated .*N in \[2\]"):
        reg.rollback("dj_section")
    assert reg.activate("dj_section", 2).active and reg.deactivated("dj_section") is None  # activate clears it
    assert _add(reg, package, 0.95, activate=None).active  # and export decides as before


def test_cli_models_list_names_a_type_deactivated_with_no_version_left(tmp_path, package, capsys, monkeypatch):  # noqa: F811
    cli = _registry_cli(tmp_path, package, monkeypatch, [0.5])
    assert cli("models", "deactivate", "dj_section") == 0
    assert cli("models", "delete", "dj_section", "1") == 0
    capsys.readouterr()
    assert cli("models", "list") == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("dj_section: no version active: dj_section_v1 (deleted) was deactivated "), last
    assert last.endswith("no dj_section version is left: `workbench export RUN --activate` registers one and makes "
                         "it active"), last
    assert cli("models", "list", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["versions"] == [] and [(d["name"], d["deleted"]) for d in doc["deactivated"]] == [("dj_section_v1", True)]


def test_a_deleted_deactivated_head_is_named_deleted_and_not_offered(lib):  # noqa: F811
    from workbench.similarity.compare import nothing_to_compare_said
    from workbench.similarity.model import deactivated_head, resolve_model

    register_head(lib, 1, seed=1, active=True)
    register_head(lib, 2, seed=2, active=False)
    with Registry(lib, cleanup=False) as registry:
        registry.deactivate("head")
        registry.delete("head", 1)
        assert deactivated_head(lib) == (1, registry.deactivated("head").deactivated_at, (2,))
        said = nothing_to_compare_said(lib)
        assert "head@1 (deleted) was deactivated" in said and 'MODEL = "head@1"' not in said, said
        assert "`workbench models activate head N` makes it active (N in [2])" in said, said
        assert "head@1 (deleted) was deactivated" in resolve_model(lib).said
        registry.activate("head", 2, force=True)
        assert deactivated_head(lib) is None and registry.deactivated("head") is None


def _v7_database(path):
    """A schema-7 database (before ``model_deactivations``) whose rows carry ``deactivated_at`` only."""
    conn = store.connect(path)
    store.migrate(conn, target=7)

    def row(model_type, version, active, meta):
        conn.execute("INSERT INTO model_versions (model_type, version, path, active, metadata, created_at) "
                     "VALUES (?, ?, ?, ?, ?, '2026-12-07T06:00:00+00:00')",
                     (model_type, version, f"{model_type}_v{version}.mlpackage", active, meta))

    row("dj_section", 1, 0, json.dumps({"deactivated_at": "2026-12-07T07:00:00.000001+00:00"}))
    row("dj_section", 2, 0, json.dumps({"deactivated_at": "2026-12-07T08:00:00.000001+00:00",
                                        "forced": [{"action": "activate"}]}))
    row("dj_section", 3, 0, "not json")  # an unreadable row never stops the migration
    row("head", 1, 0, json.dumps({"deactivated_at": "2026-12-07T07:30:00+00:00"}))
    row("head", 2, 1, json.dumps({}))  # deactivated once, but a head is active now: not off
    row("embedding", 1, 0, json.dumps({"deactivated_at": 5}))  # not a time: ignored
    conn.commit()
    conn.close()


def test_an_old_database_keeps_its_deactivated_type(tmp_path):
    db = tmp_path / "old.db"
    _v7_database(db)
    with Registry(db, root=tmp_path / "models", cleanup=False) as r:
        assert r.library.store.version == store.SCHEMA_VERSION == 8
        off = r.deactivated("dj_section")
        assert (off.version, off.deactivated_at, off.deleted) == (2, "2026-12-07T08:00:00.000001+00:00", False)
        assert off.way_back() == "`workbench models activate dj_section 2 --force` makes it active again"
        assert r.deactivated("head") is None and r.deactivated("embedding") is None
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT * FROM model_deactivations").fetchall() == [
        ("dj_section", 2, "2026-12-07T08:00:00.000001+00:00")]
    conn.close()
