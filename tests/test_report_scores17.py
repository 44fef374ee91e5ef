"""A run report writes every score of its headline and gates tables with 4 fixed decimals, as the runs tables
do: on real music the headline read "MAP@R 0.6597 | backbone 0.578 | +0.081" and a gate's reference "0.925" under
"0.8976" (the model column alone had 4 decimals)."""

from __future__ import annotations

import re


def _run(tmp_path):
    from workbench.runs import Run

    model = {"map_at_r": 0.6597, "precision_at_1": 0.7805, "precision_at_5": 0.7415, "track_map_at_r": 1.0}
    base = {"map_at_r": 0.5784, "precision_at_1": 0.68293, "precision_at_5": 0.6927, "track_map_at_r": 0.6667}
    return Run(path=tmp_path / "r-embeddings", info={"kind": "embeddings"}, config={}, data={}, history=[],
               metrics={"model": model, "baselines": {"backbone": base}})


def test_the_headline_writes_the_best_baseline_and_the_difference_with_4_decimals(tmp_path):
    from workbench.report.overview import headline

    rows = re.findall(r"<tr><td>([^<]*)</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td>",
                      headline(_run(tmp_path)))
    assert rows[0][1:] == ("0.6597", "backbone 0.5784", "+0.0813"), rows
    assert rows[1][1:] == ("0.7805", "backbone 0.6829", "+0.0976"), rows


def test_the_blocking_gates_table_writes_value_and_reference_with_4_decimals(tmp_path):
    from workbench.report.gates_part import gates_part

    html, _ = gates_part({"model": {"map_at_r": 0.6597}, "baselines": {"backbone": {"map_at_r": 0.925}}},
                         "embeddings", [])
    row = re.search(r"<tr><td>better than backbone</td>(.*?)</tr>", html).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells[1] == "0.6597" and cells[3] == "0.9250", cells


def test_the_research_targets_table_writes_its_values_with_4_decimals(tmp_path):
    """Session 22's QA on real music: "accuracy 0.2714" above "macro_f1 0.111" (a 0.1110 written with .4g)."""
    from workbench.evaluate import quality_gates
    from workbench.report.gates_part import gates_part

    html, _ = gates_part({}, "sections", quality_gates({"accuracy": 0.2714, "macro_f1": 0.111}, "sections"))
    targets = html.split("Research targets", 1)[1]
    values = [re.findall(r"<td[^>]*>([^<]*)</td>", row)[1] for row in re.findall(r"<tr>(<td.*?)</tr>", targets)]
    assert values == ["0.2714", "0.1110"], values
