"""Session 21's QA, a DJ who does ML research on the CLI, the reports and the notebooks on the real music.
Each test failed before its fix."""

from __future__ import annotations

import argparse
import re

from test_experiments import _counts_runs


def _runs_cli(argv: list[str]) -> int:
    from workbench.commands import runs

    parser = argparse.ArgumentParser(prog="workbench")
    runs.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


# -- the runs view: the baseline's own row has no Δ ------------------------------------------------------------

def test_the_runs_views_baseline_row_says_baseline_not_a_delta_against_itself(tmp_path, capsys):
    """Notebook 05's runs view and `runs table --baseline` gave the baseline row "Δ +0.0000" (and "+0" for a count):
    a difference of the run from itself."""
    from workbench.report.runs_view import runs_view

    ids = _counts_runs(tmp_path)  # accuracy 0.6, 0.8, 0.7; n_windows 900, 500, 700 (counts)
    html = runs_view(tmp_path, metrics=["accuracy", "n_windows"], baseline=ids[0]).to_html()
    rows = {re.search(r"<code>([^<]+)</code>", row).group(1): row for row in html.split("<tr>")[2:]}
    base = rows[ids[0]]
    assert "+0.0000" not in base and ">+0<" not in base, base
    assert base.count(">baseline</td>") == 2, base  # one per Δ column
    assert ">+0.2000<" in rows[ids[1]] and ">-400<" in rows[ids[1]]  # the others keep theirs

    assert _runs_cli(["runs", "--experiments", str(tmp_path), "table", "-m", "accuracy", "-m", "n_windows",
                      "--baseline", ids[0]]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(ids[0]))
    assert "+0.0000" not in line and " +0 " not in f"{line} " and line.split()[-2:] == ["baseline", "baseline"], line
