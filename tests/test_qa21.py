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
