"""Session 15's second QA pass on the real-music folder: what a user read wrong in runs, reports and exports."""

from __future__ import annotations

import json

import pytest

from workbench.cli import main

# -- one name for --epochs across run kinds -------------------------------------------------------------------

def _two_kinds_of_run(root):
    from workbench.runs import write_run

    # a sections run stores --epochs as "epochs", an embeddings run as "max_epochs" (as stored, older runs too)
    write_run("sections-20261207-000001-aaaa", info={"kind": "sections", "created_at": "2026-12-07T00:00:01+00:00"},
              config_={"epochs": 3, "lr": 0.001}, data={}, history=[], metrics={}, root=root)
    write_run("embeddings-20261207-000002-bbbb", info={"kind": "embeddings", "created_at": "2026-12-07T00:00:02+00:00"},
              config_={"max_epochs": 2, "lr": 0.001}, data={}, history=[], metrics={}, root=root)


def test_runs_table_reads_epochs_of_both_kinds_as_one_column(tmp_path):
    """The runs table had an 'epochs' column empty for embeddings runs and 'max_epochs' empty for sections."""
    from workbench.experiments import runs_table

    _two_kinds_of_run(tmp_path)
    df = runs_table(tmp_path)
    assert "max_epochs" not in df.columns
    assert df.set_index("kind")["epochs"].to_dict() == {"sections": 3, "embeddings": 2}


def test_runs_compare_shows_one_epochs_row(tmp_path):
    """`workbench runs compare` of a sections and an embeddings run showed two half-empty rows."""
    from workbench.experiments import compare

    _two_kinds_of_run(tmp_path)
    c = compare(["sections-20261207-000001-aaaa", "embeddings-20261207-000002-bbbb"], root=tmp_path,
                differences_only=False)
    params = c.all_params
    assert "config.max_epochs" not in params.index
    assert list(params.loc["config.epochs"]) == [3, 2]


# -- the embeddings report's early stopping: one story ------------------------------------------------------

def test_embeddings_report_does_not_say_no_early_stopping_after_saying_fold_heads():
    """The report warned 'early stopping: ... the median best epoch of 3 fold heads' and then said
    'no early stopping (...)' about the same run."""
    from workbench.report.baselines import comparison
    from workbench.train.embeddings_stopping import stopping_record

    chosen = {"epochs": 2, "folds": [{"fold": i, "n_tracks": 4, "best_epoch": b, "val_map_at_r": 0.5,
                                      "stopped": "patience"} for i, b in ((1, 1), (2, 2), (3, 3))], "notes": []}
    es = stopping_record("folds", "the validation slice holds 1 track of 1 class (fewer than 2)", chosen)
    metrics = {"model": {"map_at_r": 0.4}, "baselines": {"frontend": {"map_at_r": 0.3}},
               "early_stopping": es, "warnings": [es["said"]]}
    html = comparison(metrics)
    assert "no early stopping" not in html
    assert "fold heads" in html.split("</table>")[-1]  # the line under the table says the same as the warning
    assert "trains 2 epochs" in html.split("</table>")[-1]
    es = stopping_record("validation", "the validation slice holds 6 tracks of 3 classes")
    html = comparison({**metrics, "early_stopping": es, "warnings": []})
    assert "no early stopping" not in html and "on the validation slice" in html
    # a self-supervised real-music run (each track its own class) had no MAP@R: its validation loss decided,
    # where the line said MAP@R
    assert "or its triplet loss where no MAP@R can be measured" in html


# -- training curves: the model's quantities, and the epoch kept ----------------------------------------------

def _sections_history():
    return [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 0.6 + 0.02 * (e - 4) ** 2, "val_accuracy": 0.5,
             "seconds": 1.2, "samples": 1800, "samples_per_s": 1500.0 + e} for e in range(1, 9)]


def test_training_curves_draw_no_throughput_panels_and_mark_the_kept_epoch(tmp_path):
    """The curves gave two of five panels to 'samples' and 'samples_per_s' and did not show that early
    stopping kept epoch 4 of 8."""
    from workbench.report.plots import curves_figure
    from workbench.runs import load_run, write_run

    p = write_run("sections-20261207-000003-cccc", info={"kind": "sections"}, config_={"epochs": 8}, data={},
                  history=_sections_history(), root=tmp_path,
                  metrics={"early_stopping": {"used": True, "best_epoch": 4, "epochs_run": 8}})
    run = load_run(p)
    assert run.kept_epoch == 4
    fig = curves_figure({run.run_id: run.history}, kept={run.run_id: run.kept_epoch})
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["train_loss", "val_loss", "val_accuracy"]
    for ax in panels:  # a vertical line at epoch 4 in every panel
        assert any(list(line.get_xdata()) == [4, 4] for line in ax.get_lines()), ax.get_title()
    assert "kept: epoch 4" in [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_kept_epoch_of_runs_that_did_not_stop_early_and_of_embeddings_runs(tmp_path):
    from workbench.runs import load_run, write_run

    hist = _sections_history()
    no_stop = write_run("sections-20261207-000004-dddd", info={"kind": "sections"}, config_={}, data={},
                        history=hist, metrics={"early_stopping": {"used": False}}, root=tmp_path)
    assert load_run(no_stop).kept_epoch == 8  # validation only watched: the last epoch's weights
    emb = [{"epoch": e, "train_loss": 0.2, "val_map_at_r": v} for e, v in enumerate((0.1, 0.3, 0.3, 0.2, 0.1), start=1)]
    val = write_run("embeddings-20261207-000005-eeee", info={"kind": "embeddings"}, config_={}, data={},
                    history=emb, metrics={"early_stopping": {"rule": "validation"}}, root=tmp_path)
    assert load_run(val).kept_epoch == 2  # the first epoch of best MAP@R (a tie does not move it)
    folds = write_run("embeddings-20261207-000006-ffff", info={"kind": "embeddings"}, config_={}, data={},
                      history=emb[:3], metrics={"early_stopping": {"rule": "folds", "epochs": 3}}, root=tmp_path)
    assert load_run(folds).kept_epoch == 3  # a fixed epoch count tuned on fold heads: the last


# -- a forced export does not silently become the model suggest and similar use -----------------------------

@pytest.fixture(scope="module")
def section_package(tmp_path_factory):
    """A small exported section classifier with its checkpoint beside it (as test_registry's ``package``)."""
    pytest.importorskip("coremltools")
    import torch

    from workbench.export.coreml import export_classifier
    from workbench.models.heads import SectionClassifier, save_checkpoint

    folder = tmp_path_factory.mktemp("pkg")
    torch.manual_seed(0)
    clf = SectionClassifier(16, hidden_dim=32).eval()
    save_checkpoint(clf, folder / "model.pt")
    return export_classifier(clf, folder / "clf.mlpackage", metadata={"metrics": {}})


def test_forced_export_is_registered_inactive_unless_activate_is_asked(tmp_path, section_package, capsys,
                                                                        monkeypatch):
    """`export RUN --force` with no active version made the gate-failing model the active one: `suggest`
    used a model below 'always the majority class' and nothing said so."""

    from test_registry import _metrics, _parser, _run

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    db = str(tmp_path / "data" / "workbench.db")
    bad = _run(tmp_path, section_package, _metrics(0.2, majority={"accuracy": 0.5, "macro_f1": 0.1}))
    p = _parser()
    args = p.parse_args(["--db", db, "--quiet", "export", bad, "--force", "--json"])
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    (v,) = json.loads(out)["versions"]
    assert v["name"] == "dj_section_v1" and v["forced"] and not v["active"]
    assert "dj_section_v1 fails its blocking gate (accuracy of unsmoothed windows): registered but NOT active" in err
    assert "`workbench models activate dj_section 1 --force`" in err
    # asked for: active, and said loudly
    args = p.parse_args(["--db", db, "--quiet", "export", bad, "--force", "--activate", "--io", "fp16"])
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    assert "== dj_section_v2 (active) FORCED past failing gates" in out
    assert "dj_section_v2 fails its blocking gate (accuracy of unsmoothed windows) and is now ACTIVE (--activate)" in err
    # a model that passes its gates is still made active by a plain export, and nothing is said
    good = _run(tmp_path, section_package, _metrics(0.9, majority={"accuracy": 0.5, "macro_f1": 0.1}))
    args = p.parse_args(["--db", db, "--quiet", "export", good, "--force"])
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    assert "== dj_section_v3 (active)" in out and "WARNING" not in err


def test_export_help_says_a_forced_model_is_not_activated(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "The forced version is NOT made active unless --activate is given" in help_text


# -- notebook 01's library table: names aligned left, and a row cap ---------------------------------------------

def test_text_left_keeps_a_row_cap_and_says_how_many_rows_there_are():
    """Through text_left a 300-track library table rendered all 300 rows (a DataFrame stops at 60)."""
    import re

    import pandas as pd

    from workbench.report.tables import text_left

    frame = pd.DataFrame({"name": [f"track {i}" for i in range(300)], "bpm": [120.0 + i for i in range(300)]})
    html = text_left(frame, max_rows=60).to_html()
    assert len(re.findall(r"<td id=\"T_\w+_row\d+_col0\"", html)) == 60  # (pandas' row numbers hidden: session 17)
    assert "the first 60 of 300 rows" in html and "track 59" in html and "track 60" not in html
    assert "text-align: left" in html
    short = text_left(frame.head(5), max_rows=60).to_html()
    assert "rows</caption>" not in short and "track 4" in short
    with pytest.raises(ValueError, match="max_rows"):
        text_left(frame, max_rows=0)


def test_notebook_01_shows_the_library_table_left_aligned_with_a_row_cap():
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "01_explore_library.ipynb").read_text())
    cell = next("".join(c["source"]) for c in nb["cells"]
                if "table = explore.library_table(lib" in "".join(c["source"]))
    assert 'text_left(table.drop(columns="path"), max_rows=60)' in cell


def test_a_runs_report_names_epochs_as_runs_compare_does(tmp_path):
    from workbench.report import build
    from workbench.runs import load_run

    _two_kinds_of_run(tmp_path)
    html, _, _ = build(load_run("embeddings-20261207-000002-bbbb", root=tmp_path))
    config = html.split(">Config<")[1].split(">Run<")[0]
    assert ">epochs<" in config and "max_epochs" not in config


def test_training_curves_of_a_self_supervised_run_skip_quantities_never_measured():
    """A real-music embeddings run (each track its own class) gave three of eight panels to val_map_at_r,
    val_precision_at_1 and _5, NaN on every epoch, and ticked its 3 epochs at 1.5 and 2.5."""
    from workbench.report.plots import curves_figure

    nan = float("nan")
    hist = [{"epoch": e, "train_loss": 0.1 / e, "val_map_at_r": nan, "val_precision_at_1": nan, "val_loss": 0.1 + e}
            for e in (1, 2, 3)]
    fig = curves_figure({"run": hist}, kept={"run": 1})
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["train_loss", "val_loss"]
    fig.canvas.draw()
    assert all(float(t.get_text().replace("−", "-")).is_integer() for ax in panels
               for t in ax.get_xticklabels() if t.get_text())
