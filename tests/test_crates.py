"""Crates from the command line: import-folders, add, show, remove, delete, errors, --json."""

from __future__ import annotations

import json

import pytest

from workbench.cli import main


@pytest.fixture
def db(tmp_path, write_audio, capsys) -> str:
    """A library of five short tones: two in a/, two in b/x/, one at the top of the scanned folder."""
    music = tmp_path / "music"
    for i, name in enumerate(("a/one.wav", "a/two.wav", "b/x/three.wav", "b/x/four.wav", "top.wav")):
        write_audio(name, folder=music, duration_s=3.0, seed=i, freq_hz=220.0 * (i + 1))
    path = str(tmp_path / "ws" / "data" / "workbench.db")
    assert main(["--db", path, "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    return path


def cli_json(argv: list[str], capsys) -> object:
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def names_of(db: str, crate: str, capsys) -> list[str]:
    return sorted(t["name"] for t in cli_json(["--db", db, "crates", "show", crate, "--json"], capsys))


def test_crates_round_trip(db, tmp_path, capsys):
    assert cli_json(["--db", db, "crates", "list", "--json"], capsys) == []
    made = cli_json(["--db", db, "crates", "import-folders", "--json"], capsys)
    assert made == [{"name": "a", "added": 2, "n_tracks": 2}, {"name": "b/x", "added": 2, "n_tracks": 2}]
    # a second import adds nothing new
    assert [m["added"] for m in cli_json(["--db", db, "crates", "import-folders", "--json"], capsys)] == [0, 0]
    top = str(tmp_path / "music" / "top.wav")
    doc = cli_json(["--db", db, "crates", "add", "warm-up", top, "1", "--json"], capsys)
    assert doc == {"name": "warm-up", "added": 2, "n_tracks": 2}
    assert names_of(db, "warm-up", capsys) == ["one", "top"]
    listed = cli_json(["--db", db, "crates", "list", "--json"], capsys)
    assert [(c["name"], c["n_tracks"]) for c in listed] == [("a", 2), ("b/x", 2), ("warm-up", 2)]
    assert all(set(c) == {"name", "n_tracks", "created_at"} for c in listed)
    tracks = cli_json(["--db", db, "tracks", "--json"], capsys)
    assert {t["name"]: t["crates"] for t in tracks}["one"] == ["a", "warm-up"]
    doc = cli_json(["--db", db, "crates", "remove", "warm-up", "1", "--json"], capsys)
    assert doc == {"name": "warm-up", "removed": 1, "deleted": False, "n_tracks": 1}
    assert names_of(db, "warm-up", capsys) == ["top"]
    doc = cli_json(["--db", db, "crates", "remove", "warm-up", "--json"], capsys)
    assert doc == {"name": "warm-up", "removed": 1, "deleted": True, "n_tracks": None}
    assert [c["name"] for c in cli_json(["--db", db, "crates", "list", "--json"], capsys)] == ["a", "b/x"]
    assert len(cli_json(["--db", db, "tracks", "--json"], capsys)) == 5  # deleting a crate keeps its tracks
    assert main(["--db", db, "crates", "list"]) == 0
    out = capsys.readouterr().out
    assert "a " in out and "b/x" in out


def test_crate_errors_exit_1_with_a_message(db, capsys):
    assert main(["--db", db, "crates", "show", "nope"]) == 1
    assert "no crate named 'nope'; crates: none yet" in capsys.readouterr().err
    assert main(["--db", db, "crates", "add", " ", "1"]) == 1
    assert "crate name must be a non-empty string" in capsys.readouterr().err
    assert main(["--db", db, "crates", "add", "x", "999"]) == 1
    err = capsys.readouterr().err
    assert "no track in" in err and "'999'" in err
    assert main(["--db", db, "crates", "remove", "nope"]) == 1
    assert "no crate named 'nope'" in capsys.readouterr().err
    assert main(["--db", db, "crates"]) == 2  # no action: the help, and a usage status


def test_crate_text_counts_say_track_for_one(db, capsys):
    def said(*argv):
        capsys.readouterr()
        assert main(["--db", db, "crates", *argv]) == 0
        return capsys.readouterr().out

    assert "crate 'solo': 2 added, 2 tracks" in said("add", "solo", "1", "2")
    assert "crate 'solo': 1 removed, 1 track\n" in said("remove", "solo", "2")
    assert "1 track in crate 'solo'" in said("show", "solo")
    assert "crate 'solo' deleted (1 track left it;" in said("remove", "solo")
    assert "crate 'pair': 2 added, 2 tracks" in said("add", "pair", "1", "2")
    assert "2 tracks in crate 'pair'" in said("show", "pair")
