"""Session 16's user walk-through (README "Your own music, end to end"): one test per defect, each failed
before its fix."""

from __future__ import annotations

import pytest
from test_user_qa15b import section_package  # noqa: F401  (fixture: a small exported section classifier)


def test_forced_activate_export_names_the_real_way_back(tmp_path, section_package, capsys,  # noqa: F811
                                                        monkeypatch):
    """`export RUN --force --activate` said "`workbench models rollback dj_section` goes back" even when the
    version below the new one was not the one active before (here: none was active, and then v1 was)."""
    from test_registry import _metrics, _parser, _run

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    p = _parser()

    def export(*argv):
        args = p.parse_args(["--db", db, "--quiet", "export", *argv])
        assert args.func(args) == 0
        return capsys.readouterr().err

    bad = _run(tmp_path, section_package, _metrics(0.2, majority={"accuracy": 0.5, "macro_f1": 0.1}))
    export(bad, "--force")                                       # v1: inactive, nothing active
    err = export(bad, "--force", "--activate", "--io", "fp16")   # v2: active; none was before
    assert "dj_section_v2 fails its blocking gate (accuracy of unsmoothed windows) and is now ACTIVE (--activate)" in err
    assert "goes back" not in err, err
    assert ("no dj_section version was active before it: `workbench models deactivate dj_section` makes none active "
            "again") in err  # session 17: deactivate is the way back to none active
    good = _run(tmp_path, section_package, _metrics(0.9, majority={"accuracy": 0.5, "macro_f1": 0.1}))
    args = p.parse_args(["--db", db, "--quiet", "models", "activate", "dj_section", "1", "--force"])
    assert args.func(args) == 0
    export(good)                                                 # v3: passes, active; v1 was active before
    args = p.parse_args(["--db", db, "--quiet", "models", "activate", "dj_section", "1", "--force"])
    assert args.func(args) == 0
    capsys.readouterr()
    bad2 = _run(tmp_path, section_package, _metrics(0.3, majority={"accuracy": 0.5, "macro_f1": 0.1}))
    err = export(bad2, "--force", "--activate")                 # v4 over v1 active, v3 below it
    assert "dj_section_v4 fails its blocking gate (accuracy of unsmoothed windows) and is now ACTIVE (--activate)" in err
    assert ("`workbench models activate dj_section 1 --force` goes back to dj_section_v1 (`workbench models rollback "
            "dj_section` activates dj_section_v3, the version below it)") in err, err


def test_every_readme_pointer_in_the_package_names_a_heading():
    """workbench/pipeline.py sent users to "README: 'Adding OpenL3 weights'", a heading the README no longer has
    (it is "Embeddings, and adding OpenL3 weights")."""
    import re
    from pathlib import Path

    root = Path(__file__).parents[1]
    headings = {line.lstrip("#").strip() for line in (root / "README.md").read_text().splitlines()
                if line.startswith("#")}
    pointers = []
    for path in sorted((root / "workbench").rglob("*.py")):
        for name in re.findall(r"README[,:] ?'([^']+)'", path.read_text()):
            pointers.append((path.name, " ".join(name.split())))  # a docstring may wrap it
    assert len(pointers) >= 3  # embed/batch.py, pipeline.py, commands/__init__.py
    missing = [(file, name) for file, name in pointers if name not in headings]
    assert not missing, f"README pointers to headings it does not have: {missing}"


def test_report_shows_the_run_start_as_runs_list_does(tmp_path):
    """A run report's "Run" table (and its header's "started") showed ``created_at`` as a raw ISO value
    ("2026-12-07T04:13:33.123456+00:00"), unlike `runs list` ("2026-12-07 04:13")."""
    import re

    from workbench.report import build
    from workbench.report.examples import write_example_run
    from workbench.runs import load_run, started_text

    run = load_run(write_example_run("sections", root=tmp_path, seed=1, quality=0.7))
    html, _, _ = build(run)
    created = run.info["created_at"]
    assert "T" in created and created not in html  # the raw ISO value is shown nowhere
    readable = started_text(created)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", readable)
    run_table = html.split("<h2>Run</h2>", 1)[1]
    assert re.search(rf"<td>created_at</td>\s*<td>{readable} \(UTC\)</td>", run_table), run_table[:600]
    assert re.search(rf"<td>finished_at</td>\s*<td>{started_text(run.info['finished_at'])} \(UTC\)</td>", run_table)
    assert f"started {readable} (UTC)" in html


def test_export_again_with_activate_names_the_command_that_activates_it():
    """`export RUN --force --activate` after `export RUN --force` (same options) said "`workbench models activate
    TYPE N` makes one active": neither the version it meant nor that a forced one needs --force."""
    from types import SimpleNamespace

    from workbench.export.reexport import already_exported_message

    forced = SimpleNamespace(name="dj_section_v1", model_type="dj_section", version=1, metadata={"version": "1.0.0"},
                             active=False, forced=[{"action": "export"}])
    said = already_exported_message("r1", [forced])
    assert "TYPE N" not in said, said
    assert "`workbench models activate dj_section 1 --force` makes it active" in said
    assert "--io, --target, --compress or --input make another export" in said
    plain = SimpleNamespace(**{**vars(forced), "forced": []})
    assert "`workbench models activate dj_section 1` makes it active" in already_exported_message("r1", [plain])
    active = SimpleNamespace(**{**vars(plain), "active": True})
    said = already_exported_message("r1", [active])
    assert "models activate" not in said and "--io, --target, --compress or --input make another export" in said


def test_models_list_shows_created_as_runs_list_shows_started(tmp_path, section_package, capsys,  # noqa: F811
                                                              monkeypatch):
    """`models list` printed each version's created time raw ("2026-12-07T04:15:24+00:00") beside `runs list`'s
    "2026-12-07 04:15"."""
    import re

    from test_registry import _metrics, _parser, _run

    from workbench.registry import Registry
    from workbench.runs import started_text

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    good = _run(tmp_path, section_package, _metrics(0.9, majority={"accuracy": 0.5, "macro_f1": 0.1}))
    p = _parser()
    args = p.parse_args(["--db", db, "--quiet", "export", good])
    assert args.func(args) == 0
    capsys.readouterr()
    args = p.parse_args(["--db", db, "--quiet", "models", "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    with Registry(db) as reg:
        (version,) = reg.list()
    assert version.created_at not in out, out
    row = next(line for line in out.splitlines() if line.startswith("dj_section_v1"))
    assert f"  {started_text(version.created_at)}  " in row and re.search(r"\d\d:\d\d  " + re.escape(good), row)
    assert "created (UTC)" in out.splitlines()[0]


def test_profile_show_says_when_it_was_built_as_runs_list_would(tmp_path, capsys, monkeypatch):
    """`profile show` headed its table "built 2026-12-07T04:16:43+00:00" (raw ISO), unlike every other table."""
    import workbench.style
    from workbench.cli import main
    from workbench.library import Library

    Library(tmp_path / "data" / "workbench.db").close()
    profile = {"name": "kart", "version": 1, "source": "crate:supertuxkart", "tracks": [1, 2, 3, 4, 5],
               "created_at": "2026-12-07T04:16:43.123456+00:00", "features": {}, "sections": {},
               "trance_score": {"mean": 0.1, "range": [0.0, 0.2]}, "clusters": {"k": 0, "note": "too few"}}
    monkeypatch.setattr(workbench.style, "load_profile", lambda lib, name: profile)
    assert main(["--home", str(tmp_path), "profile", "show", "kart"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "profile kart@1: 5 tracks from crate:supertuxkart, built 2026-12-07 04:16 (UTC)", first


def test_crates_list_shows_created_as_runs_list_shows_started(tmp_path, capsys):
    """`crates list` printed "2026-12-07T04:11:33+00:00" under 'created'; `runs list` writes "2026-12-07 04:11"."""
    import re

    from workbench.cli import main
    from workbench.crates import Crates
    from workbench.library import Library

    with Library(tmp_path / "data" / "workbench.db") as lib:
        Crates(lib).create("warm-up")
        created = Crates(lib).list()[0].created_at
    assert main(["--home", str(tmp_path), "crates", "list"]) == 0
    head, row = capsys.readouterr().out.splitlines()[:2]
    assert head.split()[-2:] == ["created", "(UTC)"] and created not in row, row
    assert re.fullmatch(r"warm-up\s+0  \d{4}-\d\d-\d\d \d\d:\d\d", row), row


def test_the_way_back_to_a_forced_version_says_force():
    """The way back named `workbench models rollback dj_section` to a version that fails its gates; run as
    said, it is refused ("rolling back to dj_section_v1 fails 1 blocking gate ... Pass --force")."""
    from types import SimpleNamespace

    from workbench.commands.export import way_back

    def version(n, forced):
        return SimpleNamespace(version=n, name=f"dj_section_v{n}", forced=[{"action": "export"}] if forced else [])

    v1, v2, v3 = version(1, True), version(2, False), version(3, True)
    said = way_back("dj_section", 3, v1, [v1, v2, v3])
    assert "`workbench models rollback dj_section` activates dj_section_v2" in said  # v2 passes: no --force
    said = way_back("dj_section", 2, v3, [v1, v2, v3])
    assert "`workbench models rollback dj_section --force` activates dj_section_v1" in said, said
    said = way_back("dj_section", 2, v1, [v1, v2])
    assert said == "`workbench models rollback dj_section --force` goes back to dj_section_v1", said
    said = way_back("dj_section", 4, v1, [v1, v2, v3, version(4, True)])
    assert said.startswith("`workbench models activate dj_section 1 --force` goes back to dj_section_v1 ("), said
    assert "`workbench models rollback dj_section --force` activates dj_section_v3" in said, said


def test_export_refusal_says_force_registers_it_inactive(tmp_path, section_package, capsys, monkeypatch):  # noqa: F811
    """`workbench export RUN` refused with "Pass --force ... to export or activate it anyway": read as "--force makes
    it the model in use", but a forced export is registered inactive unless --activate is given too."""
    from test_registry import _metrics, _parser, _run

    from workbench.evaluate.gates import GateFailedError

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    bad = _run(tmp_path, section_package, _metrics(0.2, majority={"accuracy": 0.5, "macro_f1": 0.1}))
    args = _parser().parse_args(["--db", db, "--quiet", "export", bad])
    with pytest.raises(GateFailedError) as refused:
        args.func(args)
    said = str(refused.value)
    assert "export or activate it anyway" not in said, said
    assert ("Pass --force (force=True in Python) to export it anyway, registered inactive (with --activate, "
            "activate=True, too: active)") in said, said
