"""The workspace: one root for the database, experiments and models, from any folder."""

from __future__ import annotations

import pytest

from workbench import config
from workbench.library import Library


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv(config.HOME_ENV, raising=False)
    monkeypatch.delenv(config.DB_ENV, raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return tmp_path


def test_a_database_in_data_brings_its_workspace(clean_env):
    ws = config.workspace(db=clean_env / "proj" / "data" / "lib.db")
    assert ws.root == clean_env / "proj"
    assert ws.experiments == clean_env / "proj" / "experiments"
    assert ws.models == clean_env / "proj" / "models"
    assert ws.db == clean_env / "proj" / "data" / "lib.db"


def test_a_database_elsewhere_keeps_runs_and_models_beside_it(clean_env):
    ws = config.workspace(db=clean_env / "music" / "lib.db")
    assert ws.root == clean_env / "music" and ws.models == clean_env / "music" / "models"


def test_the_db_environment_variable_brings_its_workspace_from_any_folder(clean_env, monkeypatch):
    monkeypatch.setenv(config.DB_ENV, str(clean_env / "proj" / "data" / "workbench.db"))
    assert config.experiments_dir() == clean_env / "proj" / "experiments"
    assert config.models_dir() == clean_env / "proj" / "models"


def test_home_wins_over_a_database_and_keeps_the_database(clean_env, monkeypatch):
    monkeypatch.setenv(config.HOME_ENV, str(clean_env / "home"))
    ws = config.workspace(db=clean_env / "other" / "x.db")
    assert ws.root == clean_env / "home" and ws.db == clean_env / "other" / "x.db"
    assert config.workspace().db == clean_env / "home" / "data" / config.DB_FILENAME


def test_resolving_a_workspace_creates_nothing(clean_env):
    config.workspace(db=clean_env / "proj" / "data" / "lib.db")
    assert not (clean_env / "proj").exists()
    assert list((clean_env / "elsewhere").iterdir()) == []


def test_relative_and_absolute_round_trip(clean_env):
    ws = config.workspace(home=clean_env / "proj")
    inside, outside = clean_env / "proj" / "data" / "demo" / "a.flac", clean_env / "music" / "b.flac"
    assert ws.relative(inside) == "data/demo/a.flac"
    assert ws.absolute(ws.relative(inside)) == inside
    assert ws.relative(outside) == str(outside) and ws.absolute(str(outside)) == outside


def test_library_knows_its_workspace(clean_env):
    with Library(clean_env / "proj" / "data" / "workbench.db") as lib:
        assert lib.workspace.root == clean_env / "proj"
        assert lib.workspace.models == clean_env / "proj" / "models"
