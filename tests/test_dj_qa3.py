"""Session 12's third QA pass: a re-run export stage reuses what is registered, a narrow tempo prior's
warnings are summarised in the terminal (all kept in --json), old model cards are shown with
rounded figures, and the CLI's listings and errors."""

from __future__ import annotations

import json

import pytest
from test_registry import package  # noqa: F401  (a fixture)

from workbench.registry import Registry

# -- many tracks outside a narrow prior ------------------------------------------------------------


def test_many_outside_prior_warnings_are_one_line_in_the_terminal_and_all_in_json(tmp_path, capsys):
    """`analyze --prior 80-100@90` on the 19 real files printed 15 long warning lines, one per track.
    Past three the terminal says it in one line (the count, a few tracks, how to see all);
    `--verbose` prints each and `--json` keeps every one."""
    import soundfile as sf
    from test_user_qa import SR_DRUMS, drums

    from workbench.cli import main

    music = tmp_path / "music"
    music.mkdir()
    for seed in range(4):  # 128 BPM: the family 64/128 has no member in 80-100
        sf.write(music / f"groove{seed}.wav", drums(128.0, 20.0, seed=seed + 10), SR_DRUMS)
    home = ["--home", str(tmp_path / "ws")]
    assert main([*home, "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main([*home, "--quiet", "analyze", "--prior", "80-100@90"]) == 0
    out = capsys.readouterr().out
    warned = [x for x in out.splitlines() if x.startswith("warning:")]
    assert len(warned) == 1, out
    assert warned[0].startswith("warning: 4 tracks read a tempo inside the prior 80-100@90")
    assert "groove0 read 8" in warned[0] and "--verbose" in warned[0] and "--json" in warned[0]
    assert main([*home, "--quiet", "--verbose", "analyze"]) == 0
    assert sum(x.startswith("warning: groove") for x in capsys.readouterr().out.splitlines()) == 4
    assert main([*home, "analyze", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["warnings"]) == 4 and all(w.startswith("warning: groove") for w in doc["warnings"])


# -- the demo's export stage run again without its state ---------------------------------------------


def test_the_export_stage_without_its_state_reuses_the_versions_registered_and_registers_none(demo_home, tmp_path):
    """`PIPELINE.json` lost (or the stage run again on a library exported before): export refuses a
    duplicate version, and the stage takes the versions registered already as its own (reused, as
    the state file would have said), registers nothing, records them, and a third pass reuses them
    through the state file."""
    import dataclasses

    from conftest import workbench_home

    from workbench.library import Library
    from workbench.pipeline import _export, _State
    from workbench.registry import Registry
    from workbench.runs import load_run

    home, first = demo_home
    assert first.exports, first.refused  # the small demo exports at least one run: the path is exercised
    with workbench_home(home), Library() as lib:
        runs = {kind: load_run(path) for kind, path in first.runs.items()}
        before = [(v.model_type, v.version, v.active) for v in Registry(lib).list()]
        state = _State(tmp_path / "PIPELINE.json")  # no state: as if the file was lost
        passes = []
        for _ in range(2):
            result = dataclasses.replace(first, reused=[], exports=[], refused=[], versions=[])
            _export(state, lib, runs, None, result)
            passes.append(result)
        after = [(v.model_type, v.version, v.active) for v in Registry(lib).list()]
        registered = {(v.run_id, v.model_type, v.version) for v in Registry(lib).list()}
        active = [f"{v.model_type} v{v.version} active: {v.path}" for v in Registry(lib).list() if v.active]
    assert after == before  # nothing registered again
    exported_runs = {r.run_id for r in runs.values() if not any(r.run_id in x for x in first.refused)}
    for result in passes:
        assert not result.exports
        assert sorted(result.reused) == sorted(f"export of {rid}" for rid in exported_runs)
        assert result.refused == first.refused and result.versions == active
    recorded = json.loads((tmp_path / "PIPELINE.json").read_text())["exports"]
    assert set(recorded) == exported_runs
    assert all((rid, t, v) in registered for rid, pairs in recorded.items() for t, v in pairs)


# -- a model card written before the rounding ----------------------------------------------------


def test_a_card_written_before_the_rounding_is_shown_rounded_and_its_file_left_alone(tmp_path, package):  # noqa: F811
    """Cards registered before the three-decimal rounding keep 16 digits on disk (nothing rewrites
    a card but a forced activation): shown to the user, a card is rendered from its JSON now."""
    from workbench.registry_card import card_text

    with Registry(tmp_path / "data" / "workbench.db") as reg:
        v = reg.register("dj_section", package.path, metadata=package.metadata,
                         metrics={"model": {"accuracy": 0.6328667295087156, "macro_f1": 0.6328667295087156},
                                  "baselines": {"majority": {"accuracy": 0.25, "macro_f1": 0.1}}},
                         export=package.as_dict())
        old = v.card_path.read_text().replace("0.6329", "0.6328667295087156")  # as the card was written then
        v.card_path.write_text(old)
        shown = card_text(reg.get("dj_section", v.version))
    assert "| model.accuracy | 0.6329 |" in shown and "0.6328667" not in shown
    assert v.card_path.read_text() == old  # the file is not rewritten


def test_notebook_06s_export_cell_run_again_names_the_versions_registered(demo_home):
    """Notebook 06's export cell (:func:`export_or_registered`) on a run the demo exported with the
    same options: nothing exported, the versions it has already, and the line that says so."""
    from conftest import workbench_home

    from workbench.export.rerun import export_or_registered
    from workbench.library import Library
    from workbench.runs import load_run

    home, first = demo_home
    with workbench_home(home), Library() as lib:
        registry = Registry(lib)
        for path in first.runs.values():
            run = load_run(path)
            mine = {(v.model_type, v.version) for v in registry.list() if v.run_id == run.run_id
                    and v.export.get("options", {}).get("deployment_target") == "macOS14"}
            before = registry.list()
            exported, registered, said = export_or_registered(run, registry=registry)
            assert not exported and registry.list() == before
            if any(run.run_id in line for line in first.refused):  # fails its gates: says which
                assert not registered and said.startswith("Not exported:") and "->" in said
            else:
                assert {(v.model_type, v.version) for v in registered} == mine and mine
                assert said.startswith(f"run {run.run_id} is already exported with these options as ")


# -- train --set values ----------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "said"), [
    ("epochs=abc", "epochs must be an int (default 40); got 'abc'"),
    ("grammar=yes", "grammar must be true or false (default true); got 'yes'"),
    ("holdout=abc", "holdout must be a number (default 0.25); got 'abc'"),
    ("epochs=0", "epochs must be an int >= 1; got 0"),
    ("n_threads=0", "n_threads must be None or an int >= 1; got 0"),
])
def test_a_bad_train_sections_value_is_refused_before_any_job(tmp_path, capsys, setting, said):
    """`train sections --set epochs=abc` ended in a traceback from inside the job (int('abc')):
    refused before a job is made, naming the key, what it takes and the value."""
    from workbench.cli import main
    from workbench.library import Library
    from workbench.train.jobs import list_jobs

    home = tmp_path / "ws"
    (home / "data").mkdir(parents=True)
    Library(home / "data" / "workbench.db").store.close()  # a library without labels: the check comes first
    assert main(["--home", str(home), "--quiet", "train", "sections", "--set", setting]) == 1
    assert said in capsys.readouterr().err
    with Library(home / "data" / "workbench.db") as lib:
        assert list_jobs(lib) == []


def test_a_good_train_sections_value_passes_the_check():
    from workbench.train.sections.config_check import check_sections_config

    check_sections_config({"epochs": 5, "holdout": 0.3, "grammar_weight": 2, "grammar": False, "n_threads": None,
                           "class_weight": None, "models": []})


# -- analyze --folder outside the library ----------------------------------------------------------


def test_analyze_for_a_folder_without_library_tracks_is_refused_and_stores_no_prior(tmp_path, capsys):
    """`analyze --folder /etc --prior 80-100` stored a prior for /etc and analysed 0 tracks with
    exit 0: a folder holding no track of the library (a typo, never scanned) is refused, naming it."""
    import soundfile as sf
    from test_user_qa import SR_DRUMS, drums

    from workbench.cli import main

    music, other = tmp_path / "music", tmp_path / "elsewhere"
    music.mkdir()
    other.mkdir()
    sf.write(music / "groove.wav", drums(120.0, 8.0, seed=1), SR_DRUMS)
    home = ["--home", str(tmp_path / "ws")]
    assert main([*home, "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main([*home, "--quiet", "analyze", "--folder", str(other), "--prior", "80-100"]) == 1
    assert f"folder must hold tracks of the library; got {str(other)!r}, which holds none" \
        in capsys.readouterr().err
    assert main([*home, "settings", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"] == []


# -- profile compare with a missing track id -------------------------------------------------------


def test_profile_compare_with_a_missing_track_id_says_it_is_neither_a_track_nor_a_file(tmp_path):
    """`profile compare stk 9999` said '9999: no such audio file' (as if a path were meant): a
    target that is no library track and no file says both, as `similar` does."""
    from workbench.errors import TrackNotFoundError
    from workbench.library import Library
    from workbench.style import gap_analysis

    with Library(tmp_path / "data" / "workbench.db") as lib, \
            pytest.raises(TrackNotFoundError, match=r"'9999' is neither a track of .* nor an audio file"):
        gap_analysis(lib, {}, "9999")


# -- models compare: explanations in the table -----------------------------------------------------


def test_models_compare_cuts_long_texts_to_its_columns():
    """`models compare embedding 1 2` printed the early-stopping explanation (300+ characters) whole
    in both version columns: rows of 700 characters. Texts are cut to the column and the table
    says where they are whole; numbers are untouched."""
    from workbench.registry_types import CELL, Comparison

    said = "early stopping: no separate validation slice (the validation slice holds 2 track(s) of 1 class(es))"
    cmp = Comparison("embedding", 1, 2, (("metrics.early_stopping.said", said, said, None),
                                         ("metrics.model.map_at_r", 0.6329, 0.6401, 0.0072)))
    lines = str(cmp).splitlines()
    width = len("metrics.early_stopping.said") + 2 * (2 + CELL) + 2 + 10
    assert all(len(line) <= width for line in lines[:3]), lines
    assert "early stopping: no sepa…" in lines[1] and "0.6329" in lines[2] and "0.0072" in lines[2]
    assert "--json` has them whole" in lines[-1]
    assert cmp.as_dict()["rows"][0]["a"] == said


# -- runs list: the name column ----------------------------------------------------------------------


def test_runs_list_and_table_show_a_name_column_only_once_a_run_is_named(tmp_path, capsys):
    """`runs list` and `runs table` on the real workspace had a 'name' column empty in every row (no run is
    named until `workbench runs name`): it appears once a run has a name; --json keeps the key."""
    from workbench.cli import main
    from workbench.runs import new_run_id, write_run

    root = tmp_path / "experiments"
    rid = new_run_id("sections")
    write_run(rid, info={"kind": "sections", "backbone": {"name": "features-v1", "dim": 16}}, config_={},
              data={"fingerprint": "abc"}, history=[], metrics={"model": {"accuracy": 0.5, "macro_f1": 0.4}},
              root=root)
    runs = ["--home", str(tmp_path), "runs", "--experiments", str(root)]
    assert main([*runs, "list"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[:2] == ["run_id", "kind"]
    assert main([*runs, "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == ""
    assert main([*runs, "table"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[:2] == ["run_id", "kind"]
    assert main([*runs, "name", rid, "first-try"]) == 0
    capsys.readouterr()
    for listing in ("list", "table"):
        assert main([*runs, listing]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].split()[:3] == ["run_id", "name", "kind"] and "first-try" in out[1]


def test_a_prior_without_a_centre_is_shown_with_its_centre_to_a_tenth_of_a_bpm():
    """`analyze --folder F --prior 80-100` stored and showed '80-100@89.4427' (the range's geometric
    mean to six figures): shown as 80-100@89.4; the stored centre is unchanged."""
    from workbench.analysis.settings import format_prior, parse_prior

    prior = parse_prior("80-100")
    assert format_prior(prior) == "80-100@89.4" and prior.center_bpm == pytest.approx(89.4427, abs=1e-4)
    assert format_prior(parse_prior("128-150@139")) == "128-150@139"


def test_labels_import_of_a_file_without_a_known_suffix_names_the_cli_option(tmp_path, capsys):
    """`labels import /etc/hostname` said 'pass format= one of json, csv, jams' (the Python keyword)
    to a command-line user: it names --format."""
    from workbench.cli import main
    from workbench.library import Library

    (tmp_path / "data").mkdir()
    Library(tmp_path / "data" / "workbench.db").store.close()
    (tmp_path / "labels.dat").write_text("{}")
    assert main(["--home", str(tmp_path), "labels", "import", str(tmp_path / "labels.dat")]) == 1
    err = capsys.readouterr().err
    assert "cannot tell the format of" in err and "--format" in err and "one of json, csv, jams" in err
    # .txt is a spreadsheet's tab-separated "Unicode Text" since session 16: read as a table, its header refused
    (tmp_path / "labels.txt").write_text("{}")
    assert main(["--home", str(tmp_path), "labels", "import", str(tmp_path / "labels.txt")]) == 1
    assert "the CSV header cannot be imported: no 'label' column" in capsys.readouterr().err


def test_runs_list_and_table_write_a_missing_metric_the_same_way(tmp_path, capsys):
    """`runs table` wrote "not recorded" where `runs list` wrote "-" for the same missing metric: both "-"."""
    from workbench.cli import main
    from workbench.runs import new_run_id, write_run

    root = tmp_path / "experiments"
    for metrics in ({"accuracy": 0.5, "macro_f1": 0.4}, {"accuracy": 0.6}):
        write_run(new_run_id("sections"), info={"kind": "sections", "backbone": {"name": "features-v1", "dim": 16}},
                  config_={}, data={"fingerprint": "abc"}, history=[], metrics={"model": metrics}, root=root)
    runs = ["--home", str(tmp_path), "runs", "--experiments", str(root)]
    for listing in (["list"], ["table", "-m", "accuracy", "-m", "macro_f1"]):
        capsys.readouterr()
        assert main([*runs, *listing]) == 0
        out = capsys.readouterr().out
        rows = [line for line in out.splitlines() if not line.startswith("*")]  # the table, not its legend
        row = next(line for line in rows if "0.6" in line)
        assert row.split()[-1] == "-" and not any("not recorded" in line for line in rows), out
