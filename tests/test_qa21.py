"""Session 21's QA, a DJ who does ML research on the CLI, the reports and the notebooks on the real music.
Each test failed before its fix."""

from __future__ import annotations

import argparse
import re

from test_experiments import _counts_runs
from test_notebook_qa import small_home  # noqa: F401  (a fixture: 4 short tracks scanned, analysed, embedded)


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


# -- the jobs table's loss where the last epoch mined no triplet --------------------------------------------------

def test_the_loss_column_shows_the_last_loss_taken_with_its_epoch_when_the_last_epoch_mined_no_triplet(tmp_path):
    """A job whose last epoch mined no triplet showed "no triplet mined" in the loss column: no loss at all for a
    job that took one at every other epoch. It shows the last loss taken, its epoch and why nothing came after;
    a job that never took one still says "no triplet mined"."""
    from workbench.commands.train import format_jobs, job_line
    from workbench.jobs import JobRunner
    from workbench.library import Library
    from workbench.widgets.jobs import jobs_html

    with Library(tmp_path / "w.db") as lib:
        runner = JobRunner(lib, "embeddings", experiments_root=tmp_path / "x", progress=False, min_interval_s=0.0)
        with runner:
            for epoch, loss, mined in ((1, 0.31, 90), (2, 0.0421, 12), (3, None, 0), (4, None, 0)):
                runner.on_epoch(epoch, 4, {"train_loss": loss, "mined_triplets": mined})
            job = runner.job
        said = "0.0421 (epoch 2; then no triplet mined)"
        assert job.loss is None and job.loss_text == said, job.loss_text
        table = format_jobs([job])
        assert said in table and table.splitlines()[0].index("loss") + 4 == table.splitlines()[1].index(said) + len(said)
        assert said in jobs_html([job])
        line = job_line(job, 2)  # the model kept is epoch 2's: the loss shown is that epoch's, not "the last epoch's"
        assert line.endswith(f"4/4 epochs, loss {said} (the model kept is epoch 2's, the best on validation)"), line

        never = JobRunner(lib, "embeddings", experiments_root=tmp_path / "x", progress=False, min_interval_s=0.0)
        with never:
            never.on_epoch(1, 1, {"train_loss": None, "mined_triplets": 0})
            assert never.job.loss_text == "no triplet mined"


# -- the model card writes scores as the rest of the workbench does -------------------------------------------

def test_the_model_card_writes_scores_with_4_decimals_as_every_other_table():
    """The card wrote 'precision_at_1 | 0.98', 'map_at_r | 0.923' and 'track_map_at_r | 1' where `runs list`,
    `runs compare`, the report and the export's gate lines write 0.9800, 0.9226 and 1.0000."""
    from workbench.registry_card import model_card

    doc = {"model_type": "head", "version": 1, "name": "head_v1", "metadata": {},
           "metrics": {"model": {"map_at_r": 0.92259, "precision_at_1": 0.98, "track_map_at_r": 1.0, "n_queries": 153}},
           "gates": [{"name": "better than backbone", "metric": "map_at_r", "value": 0.92259, "op": ">",
                      "reference": "baselines.backbone", "target": 0.27899, "status": "pass", "blocking": True}]}
    card = model_card(doc)
    for row in ("| model.map_at_r | 0.9226 |", "| model.precision_at_1 | 0.9800 |", "| model.track_map_at_r | 1.0000 |",
                "| model.n_queries | 153 |", "| map_at_r | 0.9226 | > | baselines.backbone 0.2790 |"):
        assert row in card, (row, card)


def test_the_job_result_names_the_backbones_figures_once():
    """`train embeddings` ended "metrics: model.map_at_r=0.8619  model.precision_at_1=0.9057
    baseline.test.map_at_r=0.8083  baseline.test.precision_at_1=0.8679  baselines.backbone.map_at_r=0.8083 ...":
    the bare backbone's figures twice under two names (the jobs table's result column too)."""
    from workbench.job_records import headline

    metrics = {"model": {"map_at_r": 0.8619, "precision_at_1": 0.9057},
               "baseline": {"test": {"map_at_r": 0.8083, "precision_at_1": 0.8679}},
               "baselines": {"backbone": {"map_at_r": 0.8083, "precision_at_1": 0.8679},
                             "random_head": {"map_at_r": 0.829}}}
    said = headline(metrics, max_items=8)
    assert said.count("0.8083") == 1 and said.count("0.8679") == 1, said
    assert "baselines.random_head.map_at_r=0.8290" in said  # another baseline keeps its figure


# -- runs compare: a config key newer than a run, at its default, is no difference ---------------------------------

def _embeddings_runs(root):
    """Three embeddings runs with full configs: one from before ``pretrain_*`` existed, one with them at their
    defaults, one with the first stage on."""
    from workbench.experiments_compare import config_defaults
    from workbench.runs import write_run

    now = {k: v for k, v in config_defaults("embeddings").items() if k != "epochs"} | {"max_epochs": 40}
    old = {k: v for k, v in now.items() if not k.startswith("pretrain_")}
    ids = []
    for i, cfg in enumerate((old, now, {**now, "pretrain_epochs": 20})):
        rid = f"2026120{i + 1}-000000-embeddings-00000{i}"
        write_run(rid, info={"kind": "embeddings", "created_at": f"2026-12-0{i + 1}T00:00:00+00:00", "seed": 0},
                  config_=cfg, data={}, history=[], metrics={"model": {"map_at_r": 0.5 + i / 10}}, root=root)
        ids.append(rid)
    return ids


def test_runs_compare_does_not_call_a_key_newer_than_a_run_a_difference_where_it_is_at_its_default(tmp_path, capsys):
    """`runs compare` of a run from before session 20 and one after listed config.pretrain_epochs (- vs 0) and
    config.pretrain_loss (- vs supcon) as differences: the old run trained exactly as the default does."""
    from workbench.experiments import compare

    ids = _embeddings_runs(tmp_path)
    assert list(compare(ids[:2], root=tmp_path).params.index) == []  # nothing differs but the new keys' presence
    shown = list(compare([ids[0], ids[2]], root=tmp_path).params.index)
    assert shown == ["config.pretrain_epochs"], shown  # a first stage the old run did not have is one
    assert "config.pretrain_loss" in compare(ids[:2], root=tmp_path, differences_only=False).params.index  # --all: all

    assert _runs_cli(["runs", "--experiments", str(tmp_path), "compare", *ids[:2]]) == 0
    out = capsys.readouterr().out
    assert "pretrain" not in out and "(no differences)" in out, out


# -- notebook 05's first table: the columns that differ, not ~140 ---------------------------------------------

def test_the_runs_table_can_show_only_the_parameters_that_differ_between_runs_of_a_kind(tmp_path):
    from workbench.errors import ParameterError
    from workbench.experiments import runs_table

    ids = _embeddings_runs(tmp_path)
    every = runs_table(tmp_path)
    some = runs_table(tmp_path, params="differing")
    assert len(every.columns) > 50, list(every.columns)
    assert list(some.columns) == ["run_id", "kind", "created", "backbone", "tracks", "pretrain_epochs", "map_at_r"]
    assert some.attrs["hidden_params"] == len(every.columns) - len(some.columns)
    assert some.set_index("run_id")["pretrain_epochs"].isna().tolist() == [True, False, False] and ids
    try:
        runs_table(tmp_path, params="some")
    except ParameterError as exc:
        assert "params must be 'all' (every config column) or 'differing'" in str(exc) and "'some'" in str(exc)
    else:
        raise AssertionError("params='some' was accepted")


def test_notebook_05s_first_table_shows_the_parameters_that_differ_and_says_how_to_see_all(tmp_path):
    """Notebook 05's first table had a column per config key of every kind (about 140 on a workspace with both
    kinds): unreadable. It shows the parameters that differ between runs of a kind and says how to see every one."""
    from test_notebooks import execute, outputs

    root = tmp_path / "experiments"
    _embeddings_runs(root)
    for sub in ("data", "models"):
        (tmp_path / sub).mkdir()
    nb = execute("05_compare_experiments.ipynb", tmp_path, {"EXPERIMENTS": str(root)})
    table = next(h for h in outputs(nb, "text/html") if ">started (UTC)<" in h and "wb-runs" not in h)
    heads = re.findall(r'<th id="T_\w+_level0_col\d+" class="col_heading[^"]*" >([^<]*)</th>', table)
    assert heads == ["run_id", "kind", "started (UTC)", "backbone", "tracks", "pretrain_epochs", "map_at_r"], heads
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "parameter columns equal in every run of their kind are hidden: ALL_COLUMNS = True shows them" in text
    every = execute("05_compare_experiments.ipynb", tmp_path, {"EXPERIMENTS": str(root), "ALL_COLUMNS": True})
    table = next(h for h in outputs(every, "text/html") if ">started (UTC)<" in h and "wb-runs" not in h)
    assert ">lr<" in table and ">pretrain_loss<" in table


# -- notebook 02 names the section model once -------------------------------------------------------------------

def test_notebook_02_names_the_section_model_once_in_the_labeler_not_again_above_it(small_home, tmp_path):  # noqa: F811
    """Notebook 02 printed "no active section model: novelty boundaries, labels guessed (train one ...)" above the
    labeler, which says the same line under its suggestions: twice on one screen."""
    import shutil

    from test_notebooks import execute

    from workbench.library import Library
    from workbench.widgets import WebLabeler
    from workbench.widgets.suggest import active_suggester

    home = tmp_path / "ws"
    shutil.copytree(small_home, home)
    nb = execute("02_label_sections.ipynb", home)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "no active section model" not in text, text
    with Library(home / "data" / "workbench.db") as lib:  # the labeler's own line, under its suggestions
        suggest = active_suggester(lib)
        labeler = WebLabeler(lib, suggest=suggest)
        labeler.load_suggestions()
        assert labeler.suggest_note.startswith("no active section model: novelty boundaries"), labeler.suggest_note


def test_a_key_one_run_sets_to_none_and_another_kind_lacks_is_no_difference(tmp_path):
    """Both read "-" in the table: listing them as a difference would show "-" against "-"."""
    from workbench.experiments import compare
    from workbench.runs import write_run

    for i, (kind, cfg) in enumerate((("embeddings", {"openl3_weights": None, "lr": 1e-4}), ("sections", {"lr": 1e-3}))):
        write_run(f"2026120{i + 1}-000000-{kind}-00000{i}", info={"kind": kind, "created_at": f"2026-12-0{i + 1}T00:00:00"},
                  config_=cfg, data={}, history=[], metrics={}, root=tmp_path)
    params = compare(sorted(p.name for p in tmp_path.iterdir()), root=tmp_path).params
    assert "config.openl3_weights" not in params.index and "config.lr" in params.index, list(params.index)


# -- the report's search section writes its change as its table does ------------------------------------------

def test_the_reports_search_change_has_4_decimals_as_the_precisions_beside_it(tmp_path):
    """An embeddings report on the real music said "Change: -0.06." above a table of 0.7778 and 0.7222."""
    import json

    from workbench.report.search_section import FILE, section_html
    from workbench.runs import load_run, write_run

    path = write_run("20261207-000000-embeddings-000000", info={"kind": "embeddings"}, config_={}, data={},
                     history=[], metrics={}, root=tmp_path)
    (path / FILE).write_text(json.dumps({"k": 3, "groups_by": "crate", "queries": "held-out",
                                         "backbone": {"precision_at_k": 0.7778, "n_queries": 6},
                                         "head": {"precision_at_k": 0.7222, "n_queries": 6}}))
    page = section_html(load_run(path))
    assert "Change: -0.0556." in page and "-0.06" not in page, page


def test_the_overfit_warning_writes_its_losses_with_4_decimals_as_the_job_line_above_it():
    """`train sections` on the real music printed "loss 0.0149" in its job line and then "validation loss only rose
    (0.902 at epoch 1, 1.889 at epoch 9)": two precisions for one quantity on one screen."""
    from workbench.train.sections import overfit_warning

    said = overfit_warning([0.90213, 1.2, 1.88912])
    assert "(0.9021 at epoch 1, 1.8891 at epoch 3)" in said, said


# -- profile compare: sections not compared, one line per reason -------------------------------------------------

def test_profile_compare_says_each_reason_for_sections_not_compared_once():
    """`profile compare kart 1` on a track labelled in 16-beat phrases printed 35 "not compared" lines, 18 with one
    reason and 17 with the other, and "[drop 16.8-24.8 s] not compared: 8.0 s long; sections shorter than 8 s are not
    measured" (7.96 s, rounded up to the limit it was refused under)."""
    from workbench.commands.style import not_compared_lines

    none = "the profile has no reference sections of any label"
    sections = [{"label": "drop", "start_s": 0.0, "end_s": 16.8, "compared": False, "reason": none},
                {"label": "drop", "start_s": 16.8, "end_s": 24.76, "compared": False,
                 "reason": "7.96 s long; sections shorter than 8 s are not measured"},
                {"label": "break", "start_s": 24.76, "end_s": 32.45, "compared": False,
                 "reason": "7.69 s long; sections shorter than 8 s are not measured"},
                {"label": "drop", "start_s": 56.3, "end_s": 64.3, "compared": False, "reason": none},
                {"label": "drop", "start_s": 64.3, "end_s": 72.3, "compared": True, "reason": None}]
    assert not_compared_lines(sections, named=1) == [
        f"  [2 sections: drop 0.0-16.8 s and 1 more] not compared: {none}",
        "  [2 sections: drop 16.8-24.8 s and 1 more] not compared: sections shorter than 8 s are not measured "
        "(7.69-7.96 s long)"]
    assert not_compared_lines(sections[1:2]) == [f"  [drop 16.8-24.8 s] not compared: {sections[1]['reason']}"]


def test_a_section_just_under_8_s_is_not_said_to_be_8_s_long():
    import numpy as np

    from workbench.analysis import analyze
    from workbench.style.sections import section_features

    sr = 22050
    t = np.arange(20 * sr) / sr
    y = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + (np.sin(2 * np.pi * 2 * t) > 0))).astype(np.float32)
    from dataclasses import replace

    no_grid = replace(analyze(y, sr=sr), bpm=None)  # with a beat grid the limit is 16 beats (test_style_section_bars)
    rows = section_features(y, sr=sr, analysis=no_grid, sections=[("drop", 1.0, 8.96)])
    assert rows[0]["skipped"] == "7.96 s long; sections shorter than 8 s are not measured", rows[0]


# -- labels import: one line per reason for skipped rows -------------------------------------------------------

def test_a_labels_import_says_each_reason_for_skipped_rows_once(tmp_path):
    """Importing a file whose 224 labels were already there printed 20 lines "skipped row N: already in the library"
    and "... and 204 more"."""
    from workbench.labels.transfer import ImportSummary

    skipped = [(f"row {i}", "already in the library") for i in range(2, 226)] + [("row 226", "unknown label 'solo'")]
    said = str(ImportSummary(path=tmp_path / "l.csv", added=[], replaced=0, skipped=skipped, backup_path=None))
    assert said.splitlines()[1:] == ["  skipped 224 (row 2, row 3, row 4 and 221 more): already in the library",
                                     "  skipped row 226: unknown label 'solo'"], said


def test_the_reliability_plots_legend_writes_ece_with_4_decimals_as_the_tables():
    """The sections report's reliability plot said "(ECE 0.058)" where its calibration table and `make demo`'s
    summary write ECE 0.0581."""
    from workbench.report.sections import reliability_figure

    curve = {"confidence": [0.2, 0.8], "accuracy": [0.3, 0.7], "count": [5, 9], "ece": 0.05812}
    fig = reliability_figure({"cross-style, stated": curve})
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "cross-style, stated (ECE 0.0581)" in labels, labels
