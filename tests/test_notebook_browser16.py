"""What running the seven notebooks in JupyterLab on a copy of the real music showed (session 16's
browser pass, /tmp/h16-nb): the defects it found, each pinned by the test that failed before its fix."""

from __future__ import annotations

import re


def test_the_comparison_says_when_each_run_started_as_the_runs_table_does(tmp_path):
    """Notebook 05's side-by-side comparison listed 'started 2026-12-07T04:47:48+00:00' (run.json's raw ISO
    time) under a runs table that says '2026-12-07 04:47'."""
    from workbench.experiments import compare
    from workbench.report.examples import write_example_run
    from workbench.runs import load_run, started_text

    a = load_run(write_example_run("sections", root=tmp_path, seed=1, n_tracks=12, quality=0.6))
    b = load_run(write_example_run("sections", root=tmp_path, seed=1, n_tracks=14, quality=0.8))
    html = compare([a, b])._repr_html_()
    runs = html.split("<h2>Runs</h2>", 1)[1].split("</table>", 1)[0]
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", runs), runs
    assert started_text(a.info["created_at"]) in runs, runs
