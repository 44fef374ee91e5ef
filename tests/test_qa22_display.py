"""Session 22's QA on real music: figures and spans said without their unit or precision, groups called crates."""

from __future__ import annotations

from workbench.labels import Label, Suggestion


def test_suggest_json_gives_every_second_with_4_decimals():
    """`suggest --json`: the last end_s read 197.63485260770975 (the track's duration) under 4-decimal beat times."""
    from workbench.commands.suggest import suggestion_row

    s = Suggestion(1, "outro", 400, 412, 192.99412, 197.63485260770975, 0.5)
    row = suggestion_row(s)
    assert (row["start_s"], row["end_s"]) == (192.9941, 197.6349) and row["label"] == "outro"
    assert "track_id" not in row and "model_name" not in row


def test_a_label_is_described_in_beats_with_the_unit():
    """`Label.describe()` and the undo history said "intro 0-32 on track 13": beats with no unit."""
    lab = Label(id=1, track_id=13, label="intro", start_beat=0, end_beat=32, start_s=0.0, end_s=16.0, source="user",
                confidence=None, created_at="", updated_at="")
    assert lab.describe() == "intro beats 0-32 on track 13"
    assert Suggestion(13, "drop", 32, 64, 16.0, 32.0, 0.71).describe().startswith("drop beats 32-64 on track 13")


def test_the_scopes_caption_names_folders_where_the_groups_were_folders():
    """The report's caption said "held-out tracks of the crates trained on" on a library with no crates."""
    from workbench.report.sections import scopes_table

    scope = {"tracks": 4, "model_smoothed": {"accuracy": 0.5, "macro_f1": 0.4},
             "baselines": {"majority": {"accuracy": 0.6}}}
    metrics = {"model_smoothed": {"accuracy": 0.5, "macro_f1": 0.4}, "baselines": {"majority": {"accuracy": 0.6}},
               "transfer": {"leave_one_group_out": {**scope, "groups": {"folder:a": 2, "folder:b": 2}}}}
    html = scopes_table(metrics)
    assert "held-out tracks of the folders trained on" in html and "crate" not in html, html
    metrics["transfer"]["leave_one_group_out"]["groups"] = {"crate:house": 2, "crate:techno": 2}
    assert "held-out tracks of the crates trained on; cross-style: each crate held out" in scopes_table(metrics)


def test_runs_list_says_a_sections_runs_accuracy_scores_its_windows(tmp_path, capsys):
    """`runs list` showed 0.2714 (unsmoothed windows) where the gates and `suggest` said 0.5218 (smoothed sections),
    neither saying which."""
    import argparse

    from test_experiments import _counts_runs

    from workbench.commands import runs

    _counts_runs(tmp_path)
    parser = argparse.ArgumentParser(prog="workbench")
    runs.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["runs", "--experiments", str(tmp_path), "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "unsmoothed windows" in out and "smoothed sections" in out, out


def test_research_targets_say_a_sections_run_scores_its_windows():
    """The report's research targets read "accuracy 0.2714" beside gates on the smoothed sections (0.5218)."""
    from workbench.evaluate.gates import quality_gates
    from workbench.report.gates_part import gates_part

    metrics = {"model": {"accuracy": 0.2714, "macro_f1": 0.111}, "model_smoothed": {"accuracy": 0.5218}}
    html, _ = gates_part(metrics, "sections", quality_gates(metrics, "sections"))
    targets = html.split("Research targets", 1)[1]
    assert "accuracy (unsmoothed windows)" in targets and "macro_f1 (unsmoothed windows)" in targets, targets
    html, _ = gates_part({"model": {"map_at_r": 0.5}}, "embeddings", quality_gates({"model": {"map_at_r": 0.5}}, "embeddings"))
    assert "windows" not in html.split("Research targets", 1)[1]
