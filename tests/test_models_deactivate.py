"""``workbench models deactivate TYPE``: no command made no version active again once one was (session 17's QA);
now the registry records it as activate and rollback do, and every default-model rule reads a deactivated type as
having no active version."""

from __future__ import annotations

import argparse
import json
import re

import pytest
from test_registry import _add, _metrics, _parser, _run, package, reg  # noqa: F401  (fixtures)
from test_search_default_cnn import register_cnn
from test_search_model import lib, music, prepared, register_head  # noqa: F401  (fixtures)

from workbench.registry import Registry
from workbench.similarity.model import resolve_model


def _registry_cli(tmp_path, package, monkeypatch, accuracies):  # noqa: F811
    """``workbench`` run in-process on a workspace under ``tmp_path`` with one dj_section version per accuracy."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    with Registry(db) as r:
        for accuracy in accuracies:
            _add(r, package, accuracy)
    p = _parser()

    def cli(*argv):
        args = p.parse_args(["--db", db, "--quiet", *argv])
        return args.func(args)

    return cli


def test_deactivate_makes_none_active_records_when_and_activate_undoes_it(reg, package):  # noqa: F811
    _add(reg, package, 0.5)
    v2 = _add(reg, package, 0.7)
    assert reg.active("dj_section").version == 2 and reg.deactivated("dj_section") is None
    was = reg.deactivate("dj_section")
    assert was.name == "dj_section_v2" and not was.active and was.deactivated_at
    assert reg.active("dj_section") is None and [v.active for v in reg.list("dj_section")] == [False, False]
    assert reg.deactivated("dj_section").version == 2
    assert reg.deactivate("dj_section") is None  # nothing active: nothing changed
    assert reg.activate("dj_section", 2).active and reg.deactivated("dj_section") is None
    assert reg.get("dj_section", 2).activated_at > was.deactivated_at  # both recorded, in order
    assert v2.as_dict()["deactivated_at"] is None and "activated_at" in v2.as_dict()
    reg.deactivate("dj_section")
    reg.delete("dj_section", 2)  # an inactive version can go
    assert [v.version for v in reg.list("dj_section")] == [1]


def test_cli_models_deactivate_says_what_changed_and_the_way_back(tmp_path, package, capsys, monkeypatch):  # noqa: F811
    cli = _registry_cli(tmp_path, package, monkeypatch, [0.5])

    assert cli("models", "deactivate", "dj_section", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["model_type"], doc["previous"]["name"], doc["active"], doc["changed"]) == (
        "dj_section", "dj_section_v1", None, True)
    assert doc["previous"]["active"] is False and doc["previous"]["deactivated_at"]
    assert cli("models", "deactivate", "dj_section", "--json") == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False
    assert cli("models", "deactivate", "dj_section") == 0
    assert capsys.readouterr().out.strip() == "no dj_section version is active; nothing changed"
    assert cli("models", "activate", "dj_section", "1") == 0
    capsys.readouterr()
    assert cli("models", "deactivate", "dj_section") == 0
    out = capsys.readouterr().out
    assert out.startswith("deactivated dj_section_v1: no dj_section version is active now; `workbench suggest` and the "
                          "labeler suggest novelty boundaries"), out
    assert out.rstrip().endswith("`workbench models activate dj_section 1` makes it active again"), out
    assert cli("models", "list") == 0
    out = capsys.readouterr().out  # which version was turned off, and when (the table alone showed no active one)
    assert "*" not in out and re.search(r"\ndj_section: no version active: dj_section_v1 was deactivated "
                                        r"\d{4}-\d\d-\d\d \d\d:\d\d \(UTC\); `workbench models activate "
                                        r"dj_section 1` makes it active again\n", out), out


def test_the_way_back_to_none_active_names_deactivate():
    """way_back said "no command makes none active again (the registry has no deactivate)"."""
    from types import SimpleNamespace

    from workbench.commands.export import way_back

    v1 = SimpleNamespace(version=1, name="head_v1", forced=[])
    assert way_back("head", 1, None, [v1]) == ("no head version was active before it: `workbench models deactivate "
                                               "head` makes none active again")


def test_a_deactivated_head_or_cnn_is_not_the_default_model(lib):  # noqa: F811
    register_head(lib, 1, seed=1, active=True)
    run_id = register_cnn(lib, 1, active=True)  # activated after the head: it ranks
    assert resolve_model(lib).name == "cnn@1"
    with Registry(lib, cleanup=False) as registry:
        registry.deactivate("embedding")
        assert resolve_model(lib).name == "head@1"  # the head, not the deactivated CNN
        registry.activate("embedding", 1, force=True)
        registry.activate("head", 1, force=True)  # the head is the most recent: it ranks
        assert resolve_model(lib).name == "head@1"
        registry.deactivate("head")
        m = resolve_model(lib)
        assert m.name == "cnn@1" and m.run_id == run_id  # no head active: the active CNN
        registry.deactivate("embedding")
        m = resolve_model(lib)
        assert m.name == "backbone" and "head@1 was deactivated" in m.said, m.said
        with pytest.raises(Exception, match="head@1 was deactivated"):
            resolve_model(lib, "head")
        assert resolve_model(lib, "head@1").name == "head@1"  # named, it still ranks


def test_suggest_after_deactivate_uses_no_model_not_the_newest_run(tmp_path, package, monkeypatch):  # noqa: F811
    """With dj_section deactivated, `workbench suggest` took the newest sections run: most often the very model the
    user had just turned off."""
    from workbench.commands.suggest import SectionModelDeactivatedError, section_run
    from workbench.library import Library
    from workbench.widgets.suggest import active_suggester

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = tmp_path / "data" / "workbench.db"
    rid = _run(tmp_path, package, _metrics(0.7))
    with Library(db) as library:
        args = argparse.Namespace(db=str(db), home=None, run=None)
        assert section_run(args, library)[0].run_id == rid  # nothing registered yet: the newest run, as before
        with Registry(library) as r:
            _add(r, package, 0.7, run_id=rid)
            assert section_run(args, library)[1].startswith("active model dj_section_v1")
            r.deactivate("dj_section")
        with pytest.raises(SectionModelDeactivatedError, match=r"dj_section_v1 was deactivated .* \(UTC\); "
                                                                r"`workbench models activate dj_section 1`"):
            section_run(args, library)
        s = active_suggester(library)
        assert s.fallback and "dj_section_v1 was deactivated" in s.said, s.said


def test_after_deactivate_a_new_export_is_not_activated_without_asking(reg, package):  # noqa: F811
    """Notebook 06's "activate only what is better" said yes to any new model with none active, so a type the user had
    just deactivated came back on with the next export."""
    from workbench.export.activation import activation_decision

    _add(reg, package, 0.5)
    reg.deactivate("dj_section")
    said = activation_decision(reg, "dj_section", _metrics(0.9))
    assert not said.activate and "dj_section_v1 was deactivated" in said.reason, said.reason
    reg.activate("dj_section", 1)
    assert activation_decision(reg, "dj_section", _metrics(0.9)).active_name == "dj_section_v1"


def test_deactivate_with_nothing_active_writes_nothing(tmp_path):
    """Reading the registry never creates models/; deactivating a type with no version active is a read."""
    from workbench.library import Library

    with Library(tmp_path / "data" / "workbench.db") as library:
        registry = Registry(library, root=tmp_path / "models")
        assert registry.deactivate("head") is None and registry.deactivated("head") is None
    assert not (tmp_path / "models").exists()


def test_notebook_01_names_the_deactivated_head_not_train_one(lib):  # noqa: F811
    """With its head deactivated, notebook 01's before/after said "no trained head is active: `workbench demo` (or
    train embeddings and `workbench export`) makes one" to a user who had one, exported, and had just turned off."""
    import json
    from pathlib import Path

    from workbench.similarity.compare import nothing_to_compare_said
    from workbench.similarity.model import deactivated_head

    assert "workbench demo" in nothing_to_compare_said(lib) and deactivated_head(lib) is None  # none ever made
    register_head(lib, 1, seed=1, active=True)
    assert deactivated_head(lib) is None
    with Registry(lib, cleanup=False) as registry:
        registry.deactivate("head")
        said = nothing_to_compare_said(lib)
        assert deactivated_head(lib)[0] == 1
        assert "head@1 was deactivated" in said and "(UTC)" in said, said
        assert 'MODEL = "head@1"' in said and "`workbench models activate head 1`" in said, said
        assert "workbench demo" not in said
        registry.activate("head", 1, force=True)
        assert deactivated_head(lib) is None
    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "01_explore_library.ipynb").read_text())
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "print(nothing_to_compare_said(lib))" in code and "makes one;" not in code


def test_notebook_06_says_a_deactivated_type_is_asked_about_not_activated():
    """Notebook 06 said a new version is activated "only if no version is active yet, or if it beats the active
    version"; after `models deactivate` no version is active, and the cell below asked instead (its reason names
    the deactivated version): the text contradicted what the notebook did."""
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "06_export_models.ipynb").read_text())
    text = next("".join(c["source"]) for c in nb["cells"]
                if c["cell_type"] == "markdown" and "Activate only what is better" in "".join(c["source"]))
    assert "only if no version is active yet," not in text
    assert "deactivate" in text and "asks" in text


def test_models_list_says_which_type_was_deactivated_and_the_way_back(tmp_path, package, capsys, monkeypatch):  # noqa: F811
    """After `models deactivate head`, `models list` showed head_v1 with an empty 'active' column, as a version never
    made active: nothing said the user had turned the type off, when, or how to turn it back on."""
    cli = _registry_cli(tmp_path, package, monkeypatch, [0.5])

    assert cli("models", "list") == 0
    assert "deactivated" not in capsys.readouterr().out
    assert cli("models", "deactivate", "dj_section") == 0
    capsys.readouterr()
    assert cli("models", "list") == 0
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert last.startswith("dj_section: no version active: dj_section_v1 was deactivated ") and "(UTC)" in last, last
    assert last.endswith("`workbench models activate dj_section 1` makes it active again"), last


def test_models_activate_says_what_was_active_before_and_the_way_back(tmp_path, package, capsys, monkeypatch):  # noqa: F811
    """`models activate head 2` said only "active head: head_v2": not that head_v1 had been active, nor how to go
    back (deactivate and a forced activate name it; a plain one did not)."""
    cli = _registry_cli(tmp_path, package, monkeypatch, [0.5, 0.7])  # v2 active

    assert cli("models", "activate", "dj_section", "1") == 0
    out, *note = capsys.readouterr().out.strip().splitlines()  # note: no held-out tracks recorded, none compared
    assert note == ["note: cannot tell whether it is better than dj_section_v2: the two were measured on different "
                    "held-out tracks (macro_f1 of unsmoothed windows 0.5000 vs 0.7000)"], note
    assert out == ("active dj_section: dj_section_v1 (was dj_section_v2; `workbench models activate dj_section 2` "
                   "goes back to dj_section_v2 (`workbench models rollback dj_section` has no version below it to go "
                   "back to))"), out
    assert cli("models", "activate", "dj_section", "1") == 0
    assert capsys.readouterr().out.strip() == "active dj_section: dj_section_v1 (already active; nothing changed)"
    assert cli("models", "deactivate", "dj_section") == 0
    capsys.readouterr()
    assert cli("models", "activate", "dj_section", "2") == 0
    out = capsys.readouterr().out.strip()
    assert out == ("active dj_section: dj_section_v2 (none was active before: `workbench models deactivate "
                   "dj_section` makes none active again)"), out


def test_after_deactivate_an_export_without_activate_stays_inactive(reg, package):  # noqa: F811
    """`workbench export` (``register(activate=None)``: active when it passes its gates) switched a deactivated type back
    on with the next export, as the notebook's decision did before ac41dbd; ``activate=True`` (``--activate``) still
    activates it."""
    _add(reg, package, 0.5)
    reg.deactivate("dj_section")
    v2 = _add(reg, package, 0.9, activate=None)
    assert not v2.active and reg.active("dj_section") is None and reg.deactivated("dj_section").version == 1
    v3 = _add(reg, package, 0.9, activate=True)
    assert v3.active and reg.deactivated("dj_section") is None
    assert _add(reg, package, 0.95, activate=None).active  # a type with a version active: as before


def test_cli_export_after_deactivate_says_why_the_new_version_is_inactive(tmp_path, package, capsys, monkeypatch):  # noqa: F811
    from workbench.commands.export import inactive_line

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    with Registry(str(tmp_path / "data" / "workbench.db")) as r:
        _add(r, package, 0.5)
        r.deactivate("dj_section")
        v2 = _add(r, package, 0.9, activate=None)
        said = inactive_line(r, v2)
        assert said == ("dj_section_v2 is registered inactive: dj_section_v1 was deactivated (`workbench models "
                        "deactivate dj_section`); `workbench models activate dj_section 2` makes the new one active"), said
        r.activate("dj_section", 2)
        assert inactive_line(r, r.get("dj_section", 2)) is None


def test_rollback_after_deactivate_names_the_way_back(reg, package):  # noqa: F811
    """`models rollback` after `models deactivate` said only "no active dj_section version to roll back from"."""
    from workbench.registry import RegistryError

    _add(reg, package, 0.5)
    _add(reg, package, 0.7)
    reg.deactivate("dj_section")
    with pytest.raises(RegistryError, match=r"^no active dj_section version to roll back from: dj_section_v2 was "
                                            r"deactivated; `workbench models activate dj_section N` makes a version "
                                            r"active \(2 makes it active again\)$"):
        reg.rollback("dj_section")


def test_notebook_06_run_again_says_a_deactivated_type_and_the_way_back(reg, package):  # noqa: F811
    """Notebook 06 run again said "dj_section_v2: registered before, not active" after `models deactivate`,
    not that no version of the type is active nor how one is made active again."""
    import re
    from pathlib import Path

    from workbench.export.rerun import registered_said

    v1, v2 = _add(reg, package, 0.5), _add(reg, package, 0.7)
    assert registered_said(reg, v2) == "dj_section_v2: registered before, active"
    assert registered_said(reg, v1) == "dj_section_v1: registered before, not active"  # v2 is: nothing turned off
    reg.deactivate("dj_section")
    said = registered_said(reg, v1)
    assert re.fullmatch(r"dj_section_v1: registered before, not active; no dj_section version is active: dj_section_v2 "
                        r"was deactivated \d{4}-\d\d-\d\d \d\d:\d\d \(UTC\); `workbench models activate dj_section 2` "
                        r"makes it active again", said), said
    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "06_export_models.ipynb").read_text())
    assert "print(registered_said(registry, version))" in "".join("".join(c["source"]) for c in nb["cells"])
