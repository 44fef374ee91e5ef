"""``workbench models compare`` and notebook 06's "compare with the previous version" write a score as every runs
table does since session 17 (4 fixed decimals, a count as an integer, a difference signed): on real music they wrote
``.4g`` (a P@1 of 1.0 as "1" beside "0.6667", a delta of "-0.02481" under "-0.375", "-0.000544")."""

from __future__ import annotations

from test_registry import package, reg  # noqa: F401  (fixtures)

from workbench.registry_types import Comparison

ROWS = (("metrics.model.r_precision", 0.8865, 0.8617, 0.8617 - 0.8865),
        ("metrics.model.track_precision_at_1", 1.0, 0.6667, 0.6667 - 1.0),
        ("metrics.invariance.pitch.backbone", 0.948, 0.947456, 0.947456 - 0.948),
        ("metrics.test.n_queries", 53, 41, -12),
        ("metrics.test.n_track_queries", 6, 6, 0),
        ("metrics.early_stopping.rule", "folds", "folds", None))


def test_models_compare_text_writes_scores_with_4_decimals_and_counts_as_integers():
    lines = {line.split()[0]: line.split()[1:] for line in str(Comparison("head", 1, 2, ROWS)).splitlines()[1:]}
    assert lines["metrics.model.r_precision"] == ["0.8865", "0.8617", "-0.0248"]
    assert lines["metrics.model.track_precision_at_1"] == ["1.0000", "0.6667", "-0.3333"]
    assert lines["metrics.invariance.pitch.backbone"] == ["0.9480", "0.9475", "-0.0005"]
    assert lines["metrics.test.n_queries"] == ["53", "41", "-12"]
    assert lines["metrics.test.n_track_queries"] == ["6", "6", "+0"]
    assert lines["metrics.early_stopping.rule"] == ["folds", "folds", "-"]


def test_the_notebooks_comparison_table_writes_the_same_and_keeps_numbers_right_aligned():
    from workbench.report.tables import text_columns

    frame = Comparison("head", 1, 2, ROWS).to_frame(texts=True)
    assert list(frame.columns) == ["v1", "v2", "delta"]
    assert frame.loc["metrics.model.track_precision_at_1"].tolist() == ["1.0000", "0.6667", "-0.3333"]
    assert frame.loc["metrics.test.n_queries"].tolist() == ["53", "41", "-12"]
    assert frame["delta"].tolist() == ["-0.0248", "-0.3333", "-0.0005", "-12", "+0", "-"]
    assert text_columns(frame) == ["v1", "v2"]  # the rule's text; the delta column of numbers stays right
    numbers = Comparison("head", 1, 2, ROWS).to_frame()  # as notebook 06 shows it: no text row, every column right
    assert "metrics.early_stopping.rule" not in numbers.index and text_columns(numbers) == []


def test_notebook_06_shows_gate_values_and_versions_metrics_with_4_decimals():
    """Notebook 06 on real music: the gates table read "0.660 > 0.578" while the activation reason under it said
    "map_at_r 0.6597 vs 0.8913"; the model versions table wrote its metrics with 3 decimals too."""
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "06_export_models.ipynb").read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    gates = next(c for c in code if "pd.DataFrame(gate_rows)" in c)
    versions = next(c for c in code if "text_left(registry.frame()" in c)
    assert "precision=4" in gates and "text_left(registry.frame(), precision=4)" in versions


def test_the_versions_table_writes_psnr_to_0_1_db_as_models_list_does(reg, package):  # noqa: F811
    """Notebook 06's versions table at 4 decimals wrote a PSNR of '96.1604' dB where `models list` says 96.2."""
    from test_registry import _metrics

    export = {**package.as_dict(), "parity": {"psnr_db": 96.16041, "n_windows": 655}}
    reg.register("dj_section", package.path, metadata=package.metadata, metrics=_metrics(0.5), export=export)
    assert reg.frame()["psnr_dB"].tolist() == [96.2]


def test_a_missing_version_of_a_type_with_none_says_how_one_is_made(reg, package):  # noqa: F811
    """`workbench models activate head 3` in a fresh workspace said "no head version 3; versions are []"."""
    import pytest

    from workbench.registry_types import RegistryError

    with pytest.raises(RegistryError) as none:
        reg.get("head", 3)
    assert str(none.value) == ("no head version 3: no head version is registered yet (`workbench export RUN` "
                               "registers a run's models)"), str(none.value)
    from test_registry import _add

    _add(reg, package, 0.5)
    with pytest.raises(RegistryError, match=r"^no dj_section version 3; versions are \[1\]$"):
        reg.get("dj_section", 3)
