"""The command line, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from workbench.cli import main


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_help_and_version():
    out = run("--help")
    assert out.returncode == 0
    for command in ("demo", "scan", "tracks", "info"):
        assert command in out.stdout
    assert run("--version").stdout.startswith("workbench ")


def test_console_script_is_installed():
    exe = __import__("shutil").which("workbench", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert exe is not None
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "scan" in out.stdout


def test_scan_tracks_info(tmp_path, write_audio, capsys):
    folder = tmp_path / "m"
    path = write_audio("x.flac", folder=folder, duration_s=2.0, sr=44100)
    (folder / "bad.wav").write_bytes(b"RIFF????WAVE")
    db = str(tmp_path / "w.db")
    assert main(["--db", db, "--quiet", "scan", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "1 added" in out and "1 failed" in out and "bad.wav" in out
    assert main(["--db", db, "tracks"]) == 0
    out = capsys.readouterr().out
    assert "x" in out and "1 track in" in out
    assert main(["info", str(path)]) == 0
    assert "44100 Hz" in capsys.readouterr().out


def test_errors_exit_1_with_a_message(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "w.db"), "scan", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert "workbench scan: error: folder must be an existing folder" in err
    assert main(["info", str(tmp_path / "missing.wav")]) == 1
    assert "no such audio file" in capsys.readouterr().err


def test_analyze_command(tmp_path, capsys):
    import soundfile as sf
    from test_analysis import SR, groove

    folder = tmp_path / "m"
    folder.mkdir()
    sf.write(folder / "g.flac", groove(132.0, 12.0), SR)
    db = str(tmp_path / "w.db")
    assert main(["--db", db, "--quiet", "scan", str(folder)]) == 0
    assert main(["--db", db, "--quiet", "analyze", "--prior", "100-160"]) == 0
    out = capsys.readouterr().out
    assert "1 analysed" in out and " 132." in out and "g" in out
    assert main(["--db", db, "--quiet", "analyze", "--prior", "100-160"]) == 0
    assert "1 reused" in capsys.readouterr().out
    assert main(["--db", db, "analyze", "--prior", "fast"]) == 1
    assert "--prior must be 'trance'" in capsys.readouterr().err


def test_help_lists_every_area():
    out = run("--help")
    for command in ("crates", "labels", "suggest", "jobs", "runs", "models", "--home"):
        assert command in out.stdout


def test_labels_export_import_round_trip(tmp_path, capsys):
    import json

    import soundfile as sf
    from test_analysis import SR, groove

    from workbench.labels import Labels
    from workbench.library import Library

    folder = tmp_path / "m"
    folder.mkdir()
    for i, bpm in enumerate((128.0, 132.0)):
        sf.write(folder / f"g{i}.flac", groove(bpm, 12.0, seed=i), SR)
    db = str(tmp_path / "data" / "w.db")
    assert main(["--db", db, "--quiet", "scan", str(folder)]) == 0
    with Library(db) as lib:
        labels = Labels(lib)
        labels.add(1, "intro", start_beat=0, end_beat=8)
        labels.add(1, "drop", start_beat=8, end_beat=16)
        labels.add(2, "break", start_beat=4, end_beat=12)
    capsys.readouterr()

    def listed(*extra):
        assert main(["--db", db, "labels", "list", *extra, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    before = listed()
    assert [(r["track_id"], r["label"], r["start_beat"], r["end_beat"]) for r in before] == [
        (1, "intro", 0, 8), (1, "drop", 8, 16), (2, "break", 4, 12)]
    assert {r["track_name"] for r in before} == {"g0", "g1"} and all(r["source"] == "user" for r in before)
    assert [r["label"] for r in listed("2")] == ["break"]
    for fmt in ("json", "csv"):
        out = tmp_path / f"labels.{fmt}"
        assert main(["--db", db, "labels", "export", str(out), "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {"path": str(out), "labels": 3}
        assert out.is_file()
    assert main(["--db", db, "labels", "export", str(tmp_path / "one.json"), "--track", "2"]) == 0
    assert "1 label written" in capsys.readouterr().out
    with Library(db) as lib:
        labels = Labels(lib)
        for lab in labels.all():
            labels.delete(lab.id)
    assert listed() == []
    assert main(["--db", db, "labels", "import", str(tmp_path / "labels.csv"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["added"] == 3 and doc["skipped"] == [] and doc["replaced"] == 0
    assert json.loads(open(doc["backup_path"]).read()) is not None  # the backup was written first
    key = [(r["track_id"], r["label"], r["start_beat"], r["end_beat"], r["start_s"], r["end_s"]) for r in listed()]
    assert key == [(r["track_id"], r["label"], r["start_beat"], r["end_beat"], r["start_s"], r["end_s"]) for r in before]
    assert main(["--db", db, "labels", "import", str(tmp_path / "labels.json")]) == 0
    assert "0 added" in capsys.readouterr().out  # already in the library: skipped, nothing doubled
    assert len(listed()) == 3
    assert main(["--db", db, "labels", "import", str(tmp_path / "nowhere.json")]) == 1
    assert "workbench labels: error:" in capsys.readouterr().err
