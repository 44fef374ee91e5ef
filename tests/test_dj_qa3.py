"""Session 12's third QA pass: a re-run export stage reuses what is registered, a narrow tempo prior's
warnings are summarised in the terminal (all kept in --json), old model cards are shown with
rounded figures, and the CLI's listings and errors."""

from __future__ import annotations

import json

# -- many tracks outside a narrow prior ------------------------------------------------------------


def test_many_outside_prior_warnings_are_one_line_in_the_terminal_and_all_in_json(tmp_path, capsys):
    """`analyze --prior 80-100@90` on the 19 real files printed 15 long warning lines, one per track.
    Past three the terminal says it in one line (the count, a few tracks, how to see all);
    `--verbose` prints each and `--json` keeps every one."""
    import soundfile as sf
    from test_user_qa import SR_DRUMS, drums

    from workbench.cli import main

    music = tmp_path / "music"
    music.mkdir()
    for seed in range(4):  # 128 BPM: the family 64/128 has no member in 80-100
        sf.write(music / f"groove{seed}.wav", drums(128.0, 20.0, seed=seed + 10), SR_DRUMS)
    home = ["--home", str(tmp_path / "ws")]
    assert main([*home, "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main([*home, "--quiet", "analyze", "--prior", "80-100@90"]) == 0
    out = capsys.readouterr().out
    warned = [x for x in out.splitlines() if x.startswith("warning:")]
    assert len(warned) == 1, out
    assert warned[0].startswith("warning: 4 tracks read a tempo inside the prior 80-100@90")
    assert "groove0 read 8" in warned[0] and "--verbose" in warned[0] and "--json" in warned[0]
    assert main([*home, "--quiet", "--verbose", "analyze"]) == 0
    assert sum(x.startswith("warning: groove") for x in capsys.readouterr().out.splitlines()) == 4
    assert main([*home, "analyze", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["warnings"]) == 4 and all(w.startswith("warning: groove") for w in doc["warnings"])
