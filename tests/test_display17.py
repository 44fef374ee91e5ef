"""Session 17's display QA: one way to write a score (4 fixed decimals), counts and their differences as integers,
no pandas row numbers from 0, and every shown time as ``runs.started_text`` says it. Each test failed before."""

from __future__ import annotations

import argparse
import re

from test_experiments import _counts_runs

from workbench.experiments import compare


def test_the_runs_table_writes_every_score_with_4_decimals_and_counts_as_integers(tmp_path):
    """The notebooks' runs table wrote .4g: '0.8' beside '0.7452' (1 and 4 decimals), and 'n_windows' Δ '+0.0000'."""
    from workbench.report.runs_view import runs_view

    ids = _counts_runs(tmp_path)  # accuracy 0.6, 0.8, 0.7; n_windows 900, 500, 700 (counts)
    html = runs_view(tmp_path, metrics=["accuracy", "n_windows"], params=["lr"], baseline=ids[0]).to_html()
    cells = re.findall(r'<td class="(?:best )?num">([^<]*)</td>', html)
    assert "0.8000" in cells and "0.6000" in cells and "0.8" not in cells, cells
    assert {"900", "500", "700"} <= set(cells) and "-200" in cells and "-400" in cells, cells
    assert "+0.2000" in cells and "+0.1000" in cells and "900.0000" not in cells, cells  # (the baseline's own: "baseline")
    assert "0.001" in cells and "0.0001" in cells  # a parameter keeps its own digits (lr 1e-05 is no 0.0000)


def test_runs_compare_cli_writes_counts_and_their_deltas_as_integers(tmp_path, capsys):
    """`workbench runs compare` printed 'n_windows  900.0000  500.0000 ...' and Δ '-400.0000' (the baseline's own Δ
    of a count '+0.0000' in the notebook); `runs list` wrote 3 decimals where compare writes 4."""
    from workbench.commands import runs

    assert compare(_counts_runs(tmp_path), root=tmp_path).counts == {"n_windows"}

    ids = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    parser = argparse.ArgumentParser(prog="workbench")
    runs.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["runs", "--experiments", str(tmp_path), "compare", *ids])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("n_windows"))
    assert line.split() == ["n_windows", "900", "500", "700", "-400", "-200"], line
    acc = next(x for x in out.splitlines() if x.startswith("model.accuracy"))
    assert "0.6000" in acc and "+0.2000" in acc, acc
    args = parser.parse_args(["runs", "--experiments", str(tmp_path), "list"])
    assert args.func(args) == 0
    listed = capsys.readouterr().out
    assert "0.8000" in listed and "0.800 " not in listed, listed  # `runs list` wrote 3 decimals, compare 4


def test_comparison_html_and_styler_write_counts_as_integers(tmp_path):
    ids = _counts_runs(tmp_path)
    c = compare(ids, root=tmp_path)
    html = c._repr_html_()
    assert "+0.0000" not in html and "-400.0000" not in html and ">-400<" in html and ">0.8000<" in html
    styled = c.metrics_styled().to_html()
    assert ">900<" in styled and ">0.8000<" in styled and "900.0000" not in styled


def test_text_left_hides_pandas_row_numbers():
    """Notebook 05's runs table, notebook 06's gates and model versions and notebook 07's profile numbered their rows
    0, 1, 2 in a nameless first column (the first model version 'row 0')."""
    import pandas as pd

    from workbench.report.tables import text_left

    html = text_left(pd.DataFrame({"model": ["dj_section_v1", "dj_section_v2"], "size_MB": [1.5, 2.0]})).to_html()
    assert "row_heading" not in html and "dj_section_v1" in html, html
    named = text_left(pd.DataFrame({"v1": [0.5]}, index=pd.Index(["accuracy"], name="metric"))).to_html()
    assert "row_heading" in named and "accuracy" in named  # an index that names its rows stays


def test_jobs_table_and_model_card_say_times_as_started_text():
    """The jobs table cut '2026-12-07T04:50:39+00:00' by hand to '2026-12-07 04:50:39' (seconds, no zone), where
    every other table says '2026-12-07 04:50'; the model card wrote '... UTC' where the rest write '(UTC)'."""
    from workbench.registry_card import model_card
    from workbench.widgets.jobs import jobs_html

    class Job:
        id, kind, state, epoch, total_epochs, loss, label_counts = 2, "embeddings", "completed", 5, 5, 0.03, {}
        error, run_id, updated_at, metrics, progress = None, None, "2026-12-07T04:50:39+00:00", {}, 1.0

    html = jobs_html([Job()])
    assert ">2026-12-07 04:50</td>" in html and "updated (UTC)" in html and "04:50:39" not in html, html
    card = model_card({"model_type": "dj_section", "version": 1, "created_at": "2026-12-07T05:08:38+00:00",
                       "forced": [{"action": "export", "at": "2026-12-07T05:08:38+00:00", "failing_gates": []}]})
    assert "| created | 2026-12-07 05:08 (UTC) |" in card and "**Forced (export, 2026-12-07 05:08 (UTC))**" in card
    assert "05:08 UTC" not in card
