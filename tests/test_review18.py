"""Session 18's review of what was merged: each test failed before its fix."""

from __future__ import annotations

import json

from test_models_deactivate import _registry_cli
from test_registry import _metrics, _run, package  # noqa: F401  (package is a fixture)


def test_export_text_says_why_a_no_activate_version_is_inactive_as_its_json_does(tmp_path, package, capsys,  # noqa: F811
                                                                                  monkeypatch):
    """``export --no-activate --json`` gave inactive_reason "... exported with --no-activate; `workbench models activate
    dj_section 1` makes it active", said to be "the sentence the text output prints"; the text printed none."""
    cli = _registry_cli(tmp_path, package, monkeypatch, [])
    first = _run(tmp_path, package, _metrics(0.6), rid="20250101-000000-sections-aaaaaa")
    assert cli("export", first, "--no-activate", "--json") == 0
    (v,) = json.loads(capsys.readouterr().out)["versions"]
    second = _run(tmp_path, package, _metrics(0.6), rid="20250101-000001-sections-aaaaaa")
    assert cli("export", second, "--no-activate") == 0
    text = capsys.readouterr().out
    assert "== dj_section_v2 (inactive)" in text
    assert v["inactive_reason"].replace("v1", "v2").replace("dj_section 1", "dj_section 2") in text.splitlines()
