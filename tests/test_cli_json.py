"""The command line as scripts use it: one workspace from any folder, reads that never create,
``--json`` with the fields the README documents, quiet broken pipes, no third-party noise."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import soundfile as sf
from test_analysis import SR, groove

from workbench.cli import main, third_party_noise_filtered

#: The fields each --json output documents in the README ("Command line and --json fields").
TRACK_FIELDS = {"id", "name", "title", "artist", "path", "folder", "crates", "duration_s", "sample_rate_hz",
                "channels", "format", "content_hash", "missing"}
SIMILAR_FIELDS = {"track_id", "name", "path", "model", "weights", "weights_used", "score", "vibe", "tempo", "key", "energy",
                  "bpm_delta", "key_from", "key_to", "energy_delta", "explanation",
                  "query_id", "query_name",  # the track searched from (QA s21: `similar 7` never named it)
                  "tempo_assumed", "key_assumed"}  # what an unknown term counted as (s22, `--unknown expected`)
WORKSPACE_FIELDS = {"root", "db", "data", "experiments", "models", "source", "exists", "tracks"}
RUN_FIELDS = {"run_id", "kind", "started", "finished", "created", "backbone", "tracks", "path", "metrics", "name", "note"}
JOB_FIELDS = {"id", "kind", "state", "progress", "epoch", "total_epochs", "loss", "label_counts", "metrics", "config",
              "error", "run_id", "pid", "pid_start_ticks", "created_at", "started_at", "updated_at", "finished_at"}
LABEL_FIELDS = {"id", "track_id", "track_name", "label", "start_beat", "end_beat", "start_s", "end_s", "source",
                "confidence", "created_at", "updated_at"}
SUGGESTION_FIELDS = {"label", "start_beat", "end_beat", "start_s", "end_s", "confidence", "uncertain",
                     "family"}  # family: the label family decoded in (label_families="learned"), else null


def run_json(argv: list[str], capsys) -> object:
    """Run the CLI, check it exits 0 with nothing but JSON on stdout, return the parsed document."""
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A workspace with four 10-second grooves scanned from two sub-folders (house/, trance/)."""
    root = tmp_path_factory.mktemp("wbhome")
    music = tmp_path_factory.mktemp("music")
    for i, (folder, bpm) in enumerate([("house", 124.0), ("house", 126.0), ("trance", 138.0), ("trance", 140.0)]):
        (music / folder).mkdir(exist_ok=True)
        sf.write(music / folder / f"g{i}.flac", groove(bpm, 10.0, seed=i), SR)
    assert main(["--home", str(root), "--quiet", "scan", str(music)]) == 0
    return root


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """The current folder is an empty folder outside the workspace; the environment names none."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    monkeypatch.delenv("WORKBENCH_DB", raising=False)
    return folder


@pytest.mark.parametrize("argv", [["tracks"], ["tracks", "--json"], ["jobs"], ["runs", "list"], ["labels", "list"],
                                  ["suggest", "1"], ["crates", "list"], ["similar", "1"], ["embed"]])
def test_reads_on_a_missing_library_create_nothing(argv, tmp_path, elsewhere, capsys):
    nowhere = tmp_path / "ws"
    assert main(["--home", str(nowhere), *argv]) == 1
    err = capsys.readouterr().err
    # session 22: said where it looked and how that place was found (as the notebooks say it), and how to make one
    assert f"no library at {nowhere / 'data' / 'workbench.db'} (found from --home); nothing was created" in err
    assert "Make one there with `workbench scan FOLDER`" in err and "--home, --db or $WORKBENCH_HOME" in err, err
    assert not nowhere.exists() and files_under(elsewhere) == []
    # a database given on its own: the same, nothing created beside it either
    assert main(["--db", str(tmp_path / "other" / "x.db"), *argv]) == 1
    assert f"no library at {tmp_path / 'other' / 'x.db'} (found from --db)" in capsys.readouterr().err
    assert not (tmp_path / "other").exists() and files_under(elsewhere) == []
    # nothing named at all: the current folder is the workspace, and stays empty
    assert main(argv) == 1
    assert (f"no library at {elsewhere / 'data' / 'workbench.db'} (found from the current folder: no folder at or "
            "above it has data/ and models/") in capsys.readouterr().err
    assert files_under(elsewhere) == []


def test_info_prints_the_workspace_without_creating_it(tmp_path, elsewhere, capsys):
    ws = tmp_path / "ws"
    doc = run_json(["--home", str(ws), "info", "--json"], capsys)
    assert set(doc) == WORKSPACE_FIELDS
    assert doc["root"] == str(ws) and doc["db"] == str(ws / "data" / "workbench.db")
    assert doc["experiments"] == str(ws / "experiments") and doc["models"] == str(ws / "models")
    assert doc["exists"] == {"root": False, "db": False, "data": False, "experiments": False, "models": False}
    assert doc["tracks"] is None and doc["source"] == "--home"
    assert not ws.exists()
    assert main(["--home", str(ws), "info"]) == 0
    out = capsys.readouterr()
    assert f"workspace {ws}" in out.out and "not created yet" in out.out and "workbench scan FOLDER" in out.err


def test_a_database_brings_its_workspace_from_any_folder(home, elsewhere, monkeypatch, capsys):
    db = home / "data" / "workbench.db"
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    doc = run_json(["info", "--json"], capsys)
    assert doc["root"] == str(home) and doc["tracks"] == 4 and doc["exists"]["db"]
    assert doc["source"] == "the workspace of $WORKBENCH_DB"
    tracks = run_json(["tracks", "--json"], capsys)
    assert len(tracks) == 4 and all(set(t) == TRACK_FIELDS for t in tracks)
    assert sorted(t["folder"] for t in tracks) == ["house", "house", "trance", "trance"]
    assert all(t["missing"] is False and t["duration_s"] == pytest.approx(10.0, abs=0.01) for t in tracks)
    # runs are looked for in the library's workspace, never in the current folder
    from workbench.runs import write_run

    write_run("sections-test-1", info={"kind": "sections", "created_at": "2026-01-01T00:00:00+00:00"}, config_={"epochs": 3},
              data={"tracks": [1, 2]}, history=[], metrics={"model": {"accuracy": 0.5, "macro_f1": 0.25}},
              root=home / "experiments")
    runs = run_json(["runs", "list", "--json"], capsys)
    assert [r["run_id"] for r in runs] == ["sections-test-1"]
    assert set(runs[0]) == RUN_FIELDS and runs[0]["path"] == str(home / "experiments" / "sections-test-1")
    assert runs[0]["kind"] == "sections" and runs[0]["tracks"] == 2
    wide = run_json(["runs", "list", "--params", "--json"], capsys)
    assert wide[0]["params"]["epochs"] == 3
    assert files_under(elsewhere) == []


def test_home_wins_over_the_current_folder(home, elsewhere, capsys):
    (elsewhere / "data").mkdir()
    (elsewhere / "models").mkdir()  # the current folder looks like a workspace, but --home names another
    doc = run_json(["--home", str(home), "info", "--json"], capsys)
    assert doc["root"] == str(home) and doc["tracks"] == 4
    assert run_json(["info", "--json"], capsys)["root"] == str(elsewhere)


def test_similar_json_and_one_progress_bar_at_most(home, capsys):
    db = str(home / "data" / "workbench.db")
    capsys.readouterr()
    assert main(["--db", db, "similar", "1", "-k", "2", "--json"]) == 0
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert "%|" not in out.err  # no progress bar with --json
    assert len(rows) == 2 and all(set(r) == SIMILAR_FIELDS for r in rows)
    assert all(r["track_id"] != 1 and 0.0 <= r["score"] <= 1.0 for r in rows)
    assert all(r["query_id"] == 1 and r["query_name"] == "g0" for r in rows)
    assert all(r["weights"] == "default: vibe 50%, tempo 20%, key 20%, energy 10%" for r in rows)
    assert rows[0]["score"] >= rows[1]["score"]
    capsys.readouterr()
    assert main(["--db", db, "similar", "1", "-k", "2"]) == 0
    out = capsys.readouterr()
    bars = set(re.findall(r"([A-Za-z][A-Za-z ]*): +\d+%\|", out.err))  # tqdm's "desc:  40%|"
    assert bars <= {"analyse and embed"}, bars
    assert "backbone:" in out.out and "model: backbone (features-v1)" in out.out and " vibe (" in out.out
    first = out.out.splitlines()[0]  # the query named first, with its tempo and key as the library has them
    assert re.fullmatch(r"similar to: track 1  g0  \(.*g0\.flac; \d+\.\d BPM, (.+ \(\d+[AB]\)|no key)\)", first), first


def test_jobs_json(home, capsys):
    from workbench.library import Library
    from workbench.train.jobs import create_job

    db = str(home / "data" / "workbench.db")
    assert run_json(["--db", db, "jobs", "--json"], capsys) == []
    with Library(db) as lib:
        job = create_job(lib, "sections", config={"epochs": 2})
    jobs = run_json(["--db", db, "jobs", "--json"], capsys)
    assert [j["id"] for j in jobs] == [job.id] and set(jobs[0]) == JOB_FIELDS
    assert jobs[0]["kind"] == "sections" and jobs[0]["config"] == {"epochs": 2}
    assert main(["--db", db, "jobs", "--json", "--watch"]) == 1
    assert "--json prints the jobs once" in capsys.readouterr().err


def test_info_of_a_file_json(tmp_path, write_audio, capsys):
    path = write_audio("x.wav", duration_s=1.5, sr=22050, channels=2)
    doc = run_json(["info", str(path), "--json"], capsys)
    assert doc["sample_rate_hz"] == 22050 and doc["channels"] == 2 and doc["duration_s"] == pytest.approx(1.5)
    assert set(doc) == {"path", "format", "subtype", "sample_rate_hz", "channels", "frames", "duration_s"}


def test_suggest_without_a_model_falls_back_to_novelty_and_says_so(home, capsys):
    doc = run_json(["--home", str(home), "suggest", "1", "--json"], capsys)
    assert doc["run_id"] is None and doc["model"].startswith("no section model yet: unsupervised novelty")
    assert "workbench train sections" in doc["model"]
    rows = doc["suggestions"]
    assert rows and all(set(s) == SUGGESTION_FIELDS and s["uncertain"] and s["confidence"] == 0 for s in rows)
    assert rows[0]["start_beat"] == 0 and all(a["end_beat"] == b["start_beat"] for a, b in zip(rows, rows[1:], strict=False))
    assert doc["uncertain_below"] is None and doc["uncertain_rule"].startswith("uncertain: every suggestion (no section")
    assert main(["--home", str(home), "suggest", "1"]) == 0
    out = capsys.readouterr().out
    assert "no section model yet" in out and "uncertain: every suggestion" in out and "guess  uncertain" in out
    assert "0%" not in out  # a novelty guess has no confidence, as the labeler says
    assert main(["--home", str(home), "suggest", "1", "--run", "nope"]) == 1  # a named run is never replaced


def test_suggest_runs_list_and_compare_on_the_demo(demo_home, capsys):
    root, _ = demo_home
    doc = run_json(["--home", str(root), "suggest", "1", "--json"], capsys)
    assert set(doc) == {"track_id", "track_name", "run_id", "model", "uncertain_below", "uncertain_rule", "suggestions",
                        "no_suggestions_reason", "unlike_labelled", "served_by"}
    assert doc["uncertain_below"] == 0.8 and "more than 1 in 5 that it is wrong" in doc["uncertain_rule"]
    assert doc["suggestions"] and doc["no_suggestions_reason"] is None  # a reason only where there is no suggestion
    assert all(s["uncertain"] == (s["confidence"] < 0.8) for s in doc["suggestions"])
    assert main(["--home", str(root), "suggest", "1"]) == 0  # the table marks them and says the rule under it
    table = capsys.readouterr().out
    assert doc["uncertain_rule"] in table and table.count("  uncertain\n") == sum(s["uncertain"] for s in doc["suggestions"])
    assert doc["track_id"] == 1 and doc["model"].startswith("active model dj_section_v")
    assert doc["suggestions"] and all(set(s) == SUGGESTION_FIELDS for s in doc["suggestions"])
    spans = [(s["start_beat"], s["end_beat"]) for s in doc["suggestions"]]
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))  # contiguous
    runs = run_json(["--home", str(root), "runs", "list", "--json"], capsys)
    assert {r["kind"] for r in runs} == {"embeddings", "sections"} and all(set(r) == RUN_FIELDS for r in runs)
    ids = [r["run_id"] for r in runs if r["kind"] == "sections"]
    cmp = run_json(["--home", str(root), "runs", "compare", ids[0], "--json"], capsys)  # one run (twice is refused)
    assert set(cmp) == {"runs", "baseline", "names", "differences_only", "params", "metrics", "deltas", "best",
                        "data_diffs", "confusion_delta"}
    assert cmp["runs"] == [ids[0]] and isinstance(cmp["params"], dict)
    listed = next(r for r in runs if r["run_id"] == ids[0])
    assert cmp["metrics"]["model.accuracy"][ids[0]] == pytest.approx(listed["metrics"]["accuracy"])
    jobs = run_json(["--home", str(root), "jobs", "--json"], capsys)
    assert {j["state"] for j in jobs} == {"completed"} and all(set(j) == JOB_FIELDS for j in jobs)


def test_output_piped_into_head_ends_quietly(home):
    db = str(home / "data" / "workbench.db")
    cmd = f"set -o pipefail; sleep 0 | {sys.executable} -m workbench --db {db} tracks --json | head -n 0"
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr and "Exception ignored" not in out.stderr
    first = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -m workbench --db {db} tracks | head -1"],
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and first.stdout.split() == ["id", "dur", "s", "rate", "Hz", "ch", "hash", "name"]
    assert "Traceback" not in first.stderr


def test_third_party_noise_is_filtered_and_the_rest_kept(caplog, capsys):
    caplog.set_level(logging.WARNING)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with third_party_noise_filtered():
            logging.getLogger("coremltools").warning("Failed to load _MLModelProxy: No module named 'x'")
            logging.getLogger("coremltools").warning("a real coremltools problem")
            warnings.warn_explicit("old API", FutureWarning, "sklearn/base.py", 1, module="sklearn.base")
            warnings.warn_explicit("numba says", UserWarning, "numba/core.py", 1, module="numba.core")
            warnings.warn_explicit("check this track", UserWarning, "workbench/x.py", 1, module="workbench.x")
        with third_party_noise_filtered(enabled=False):  # --verbose
            logging.getLogger("coremltools").warning("Failed to load _MLComputePlanProxy")
    messages = [r.getMessage() for r in caplog.records]
    assert "a real coremltools problem" in messages and "Failed to load _MLComputePlanProxy" in messages
    assert not any("_MLModelProxy" in m for m in messages)
    assert [str(w.message) for w in seen] == []  # the workbench's own warning is kept, shown on one line:
    assert "warning: check this track\n" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "kind", "said"), [
    (["similar", "9999"], "TrackNotFoundError", "'9999' is neither a track"),  # a bad track id
    (["runs", "compare", "nope"], "StoreError", "looked for run id 'nope'"),  # a bad run id
    (["train", "sections", "--set", "epochs=-3"], "ParameterError", "epochs must be an int >= 1; got -3"),
])
def test_an_error_with_json_is_also_a_json_object_on_stdout(home, argv, kind, said, capsys):
    capsys.readouterr()
    assert main(["--home", str(home), *argv, "--json"]) == 1
    out = capsys.readouterr()
    doc = json.loads(out.out)  # one object, nothing else on stdout
    assert set(doc) == {"error", "type"} and doc["type"] == kind and said in doc["error"]
    assert f"workbench {argv[0]}: error: {doc['error']}" in out.err  # the stderr line stays
    assert main(["--home", str(home), *argv]) == 1  # without --json: stderr only, as before
    out = capsys.readouterr()
    assert out.out == "" and said in out.err


def test_demo_json_is_the_final_summary_alone_on_stdout(demo_home, monkeypatch, capsys):
    """`demo --json` prints one JSON document (the summary's contents); what the stages print goes to stderr."""
    import workbench.pipeline as pipeline

    home, result = demo_home

    def fake_run_demo(**kwargs):
        print("a stage talking on stdout")
        assert kwargs["progress"] is False  # no bars around the document
        return result

    monkeypatch.setattr(pipeline, "run_demo", fake_run_demo)
    assert main(["--home", str(home), "demo", "--json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    from workbench.commands import jsonable

    assert doc == json.loads(json.dumps(jsonable(result.to_dict())))  # NaN (a metric not measured) is null
    assert "a stage talking on stdout" in err
    assert doc["db_path"] == str(result.db_path) and doc["scan"] == result.scan.counts()
    assert doc["runs"] == {k: str(v) for k, v in result.runs.items()} and doc["runs"]
    assert [h["name"] for h in doc["headlines"]] == [h.name for h in result.headlines] and doc["headlines"]
    assert set(doc["headlines"][0]) == {"name", "value", "target", "passed"}


def test_a_folder_named_as_the_database_is_said_to_be_one(tmp_path, capsys):
    """`--db DIR` (a workspace folder, not its database) read "no library at DIR: run `workbench scan FOLDER` first",
    and `scan` then failed with "cannot open the file (missing folder or permission denied)"."""
    folder = tmp_path / "work"
    (folder / "music").mkdir(parents=True)
    for argv in (["tracks"], ["scan", str(folder / "music")]):
        assert main(["--db", str(folder), *argv]) == 1
        err = capsys.readouterr().err
        assert f"no library at {folder} (found from --db): it is a folder, not a database file" in err, err
    assert sorted(p.name for p in folder.iterdir()) == ["music"]  # nothing made in it
