"""`runs compare` of runs of different kinds shows the rows they share and says what it left out."""

from __future__ import annotations

import json

from workbench.cli import main


def _runs(tmp_path):
    from workbench.report.examples import write_example_run

    a = write_example_run("sections", root=tmp_path / "experiments", seed=1, n_tracks=12, quality=0.6)
    b = write_example_run("embeddings", root=tmp_path / "experiments", seed=2, quality=0.7)
    return a.name, b.name


def _section(out: str, head: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(head))
    rest = lines[start + 1:]
    end = next((i for i, line in enumerate(rest) if not line.strip()), len(rest))
    return rest[:end]


def test_runs_of_two_kinds_show_only_the_rows_they_share(tmp_path, capsys):
    """An embeddings run beside a sections run printed ~250 rows, most of them one kind's own ("-" in the other)."""
    a, b = _runs(tmp_path)
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "runs", "compare", a, b, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    n_params = sum(1 for v in record["params"].values() if all(x is not None for x in v.values()))
    own_params = len(record["params"]) - n_params
    own_metrics = sum(1 for v in record["metrics"].values() if any(x is None or x != x for x in v.values()))
    assert own_params > 0 and own_metrics > 0  # --json keeps every row
    assert main(["--home", str(tmp_path), "runs", "compare", a, b]) == 0
    out = capsys.readouterr().out
    params = _section(out, "parameters")
    assert len(params) == 2 + n_params, params  # the header, the index name and the shared rows
    assert not any(line.split()[-1] == "-" or line.split()[-2] == "-" for line in params[2:]), params
    assert (f"left out: {own_params} parameters and {own_metrics} metrics that only one kind of run records "
            "(--all shows them, --json has every one)") in out, out
    assert main(["--home", str(tmp_path), "runs", "compare", a, b, "--all"]) == 0
    every = capsys.readouterr().out
    assert "left out" not in every and len(every.splitlines()) > len(out.splitlines()) + own_metrics
    assert "macro_f1" in every and "macro_f1" not in out.split("left out")[0]


def test_runs_of_one_kind_leave_nothing_out(tmp_path, capsys):
    from workbench.report.examples import write_example_run

    a = write_example_run("sections", root=tmp_path / "experiments", seed=1, n_tracks=12, quality=0.6)
    c = write_example_run("sections", root=tmp_path / "experiments", seed=3, n_tracks=12, quality=0.7)
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "runs", "compare", a.name, c.name]) == 0
    assert "left out" not in capsys.readouterr().out


def test_a_row_both_kinds_record_stays_where_one_run_has_no_value_for_it(tmp_path, capsys):
    """"Only one kind of run records" was read off the table as "some run shows '-'": a run from before ``code_version``
    was recorded (None) lost that row beside a run of another kind that has one, and the row was counted as left out
    for being one kind's own. A row is left out only where no run of some kind has the key at all."""
    a, b = _runs(tmp_path)
    info = tmp_path / "experiments" / a / "run.json"
    record = json.loads(info.read_text())
    assert record.pop("code_version") is not None
    info.write_text(json.dumps(record))
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "runs", "compare", a, b]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in _section(out, "parameters")[2:]]
    shown = {r[0]: r[1:] for r in rows}
    assert "code_version" in shown and shown["code_version"][0] == "-", rows
    assert main(["--home", str(tmp_path), "runs", "compare", a, b, "--json"]) == 0
    params = json.loads(capsys.readouterr().out)["params"]
    own = sum(1 for name, v in params.items() if name not in shown)
    assert f"left out: {own} parameters" in out, out
