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
    assert "x" in out and "1 tracks" in out
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
