"""The README's "Your own music" steps (session 21's QA on the real music): `qa` runs before training.

Training leaves out tracks with an excluding QA flag only once ``workbench qa`` has measured them
(:func:`workbench.qa.library_qa.excluded_track_ids`), so a user who ran ``qa`` after training had
trained on the clipped tracks it then flagged.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from workbench.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def own_music_steps() -> list[list[str]]:
    """The ``$wb ...`` commands of the README's own-music block, in order, without their comments."""
    text = README.read_text(encoding="utf-8")
    block = text[text.index("## Your own music, end to end"):]
    block = block[block.index("```bash"):]
    block = block[:block.index("```", 7)]
    return [shlex.split(line.split("#", 1)[0])[1:] for line in block.splitlines() if line.startswith("$wb ")]


def test_qa_runs_after_analysis_and_before_any_training():
    subcommands = [argv[0] for argv in own_music_steps()]
    assert "qa" in subcommands, subcommands
    qa = subcommands.index("qa")
    assert max(i for i, c in enumerate(subcommands) if c == "analyze") < qa  # its beat and key flags need the analysis
    assert qa < subcommands.index("train"), subcommands


def test_every_own_music_step_parses():
    parser = build_parser()
    for argv in own_music_steps():
        assert callable(parser.parse_args(argv).func), argv  # an unknown option or command exits here
