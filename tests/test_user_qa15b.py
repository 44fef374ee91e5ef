"""Session 15's second QA pass on the real-music folder: what a user read wrong in runs, reports and exports."""

from __future__ import annotations


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
