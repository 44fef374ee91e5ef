"""``bench_sections_targets.py``: the columns it scores must be columns of the runs it reads."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import bench_module


def test_a_scored_column_no_run_has_is_refused_with_the_columns_there_are(tmp_path, monkeypatch, capsys):
    """Session 21's review: `--scored "devset LOSO dev"` (a comma missing) printed a block of nan and no verdict,
    as if the column had been scored; it is refused, naming the column and the runs' columns."""
    bench = bench_module("bench_sections_targets")
    row = {"accuracy": 0.9, "majority": 0.3, "f3": 0.9, "f3_novelty": 0.8, "f05": 0.7, "f05_novelty": 0.6,
           "intro_as_outro": 0.0, "outro_as_intro": 0.0, "ece_after": 0.02, "span_ece_after": 0.04}
    run = tmp_path / "d0.json"
    run.write_text(json.dumps({"seed": 0, "columns": {"devset LOSO, dev": row}}))
    monkeypatch.setattr(sys, "argv", ["bench", "--setting", "default", str(run), "--scored", "devset LOSO dev",
                                      "--info"])
    with pytest.raises(SystemExit, match=r"--scored \['devset LOSO dev'\]: in none of the runs; their columns: "
                                         r"\['devset LOSO, dev'\]"):
        bench.main()
    monkeypatch.setattr(sys, "argv", ["bench", "--setting", "default", str(run), "--scored", "devset LOSO, dev",
                                      "--info"])
    bench.main()
    assert "default: " in capsys.readouterr().out  # the column scored: a verdict
