"""The demo's cross-generator line: a second, independently made set, scored beside its baselines."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import workbench_home

from workbench.errors import ParameterError


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_cross_generator_set_renders_seeded_and_writes_only_inside_the_demo_folder(tmp_path):
    from workbench.pipeline_cross import CROSS_GENERATOR_DIR, cross_generator_set

    home = tmp_path / "home"
    folder = home / "data" / "demo"
    folder.mkdir(parents=True)
    before = _files(tmp_path)
    with workbench_home(home):
        data, info = cross_generator_set(folder, n_tracks=2, seed=3, progress=False)
        made = _files(tmp_path) - before
        again, info2 = cross_generator_set(folder, n_tracks=2, seed=3, progress=False)
    inside = folder / CROSS_GENERATOR_DIR
    assert made and all(inside in p.parents for p in made), sorted(str(p) for p in made if inside not in p.parents)
    assert (inside / "workbench.db").is_file() and (inside / "audio" / "hiphop_00.flac").is_file()
    assert info["rendered"] and not info2["rendered"] and info["style_names"] == ["hiphop", "dubstep"]
    assert info["tracks"] == 2 and info["without_truth"] == 0 and not info["failed"]
    assert sorted(t.group for t in data.tracks) == ["style:dubstep", "style:hiphop"]
    assert {"intro", "verse", "chorus", "outro"} <= set(data.y)  # hip-hop's form, from the devset's truth
    assert [t.content_hash for t in again.tracks] == [t.content_hash for t in data.tracks]
    np.testing.assert_array_equal(again.X, data.X)


def test_cross_generator_bad_arguments(tmp_path):
    from workbench.pipeline import run_demo
    from workbench.pipeline_cross import cross_generator_set

    with pytest.raises(ParameterError, match=r"cross_generator_tracks must be an int in \[0, 9\].*got 10"):
        run_demo(demo_folder=tmp_path / "demo", db_path=tmp_path / "w.db", n_tracks=30, cross_generator_tracks=10)
    assert not (tmp_path / "demo").exists()  # refused before anything was made
    with pytest.raises(ParameterError, match="cross_generator_tracks must be >= 1 to render a set; got 0"):
        cross_generator_set(tmp_path, n_tracks=0)
    with pytest.raises(ParameterError, match=r"cross_generator_tracks must be an int in \[0, 9\].*got True"):
        cross_generator_set(tmp_path, n_tracks=True)


def test_folder_section_data_refuses_what_it_cannot_score(tmp_path):
    from workbench.train.sections.external import folder_section_data
    from workbench.train.sections.job import train_sections_job

    with pytest.raises(ParameterError, match="folder must be a folder of audio files with truth JSON"):
        folder_section_data(tmp_path / "nope", library_dir=tmp_path / "lib")
    music = tmp_path / "music"
    music.mkdir()
    rng = np.random.default_rng(0)
    sf.write(str(music / "a.wav"), (0.1 * rng.standard_normal(22050 * 4)).astype(np.float32), 22050)
    with pytest.raises(ParameterError, match=r"got none in .*music.* \(1 audio files without it\)"):
        folder_section_data(music, library_dir=tmp_path / "lib", progress=False)
    (music / "a.json").write_text(json.dumps({"sections": [{"label": "chorale", "start_s": 0, "end_s": 4}]}))
    with pytest.raises(ParameterError, match="section label must be one of"):
        folder_section_data(music, library_dir=tmp_path / "lib", progress=False)
    with pytest.raises(ParameterError, match="external set 'x' must be SectionData or a folder"):
        train_sections_job(object(), external={"x": tmp_path / "nope"})  # type: ignore[arg-type]


def test_demo_shows_the_cross_generator_line_with_its_baselines(demo_home):
    from workbench.library import Library
    from workbench.pipeline_cross import CROSS_GENERATOR_DIR
    from workbench.runs import load_run

    home, result = demo_home
    inside = home / "data" / "demo" / CROSS_GENERATOR_DIR
    assert "cross-generator set" in result.stage_seconds
    assert "3 tracks of devset (hiphop, dubstep, ukgarage" in result.cross_generator and str(inside) in \
        result.cross_generator
    assert "cross-generator set: 3 tracks of devset" in result.summary()
    with workbench_home(home), Library() as lib:  # the set stays out of the user's (the demo's) library
        assert not [t for t in lib.tracks() if CROSS_GENERATOR_DIR in str(t.path)]
    e = load_run(result.runs["sections"]).metrics["transfer"]["external"]["devset"]
    assert e["tracks"] == 3 and {"majority", "logreg", "novelty"} <= set(e["baselines"])
    for key in ("boundary_f_3s", "boundary_f_0.5s"):
        assert 0 <= e["segments"]["smoothed"][key] <= 1 and 0 <= e["segments"]["novelty"][key] <= 1
    lines = {h.name: h for h in result.headlines if "devset" in h.name}
    acc = next(h for n, h in lines.items() if n.startswith("sections: accuracy on devset"))
    assert acc.value == e["model_smoothed"]["accuracy"]
    assert f"majority {e['baselines']['majority']['accuracy']:.4f}" in acc.name
    assert f"novelty {e['baselines']['novelty']['accuracy']:.4f}" in acc.name
    f3 = lines[f"sections: boundary F @3 s on devset (novelty {e['segments']['novelty']['boundary_f_3s']:.4f})"]
    assert f3.value == e["segments"]["smoothed"]["boundary_f_3s"]
    assert any(n.startswith("sections: boundary F @0.5 s on devset (novelty") for n in lines)
    assert "sections: intro/outro confusion on devset" in lines
    served = next(h for n, h in lines.items() if n.startswith("sections: suggestion ECE on devset, as served, per "
                                                                "scored window ("))
    assert served.value is not None and " windows; " in served.name
    assert any(h.name.startswith("sections: same, per suggestion as the user judges it (") for h in result.headlines)
    html = result.reports["sections"].read_text()
    assert "cross-generator: devset" in html and "No other set was scored" not in html


@pytest.mark.slow
def test_train_sections_cli_scores_a_labelled_folder_beside_the_baselines(tmp_path, capsys):
    """Outside the demo: `workbench train sections --external DIR` scores a user's own labelled second set."""
    from workbench.cli import main
    from workbench.demo import synthesize_library
    from workbench.labels import Labels, LabelWarning
    from workbench.library import Library
    from workbench.runs import load_run

    synthesize_library(tmp_path / "audio", n_tracks=6, seed=3, duration_s=30, styles="trance", progress=False)
    synthesize_library(tmp_path / "other", n_tracks=2, seed=9, duration_s=30, styles="techno", progress=False)
    with Library(tmp_path / "w.db") as lib:
        lib.scan(tmp_path / "audio", progress=False)
        labels = Labels(lib)
        for t in lib.tracks():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LabelWarning)  # sections shorter than 8 beats are expected
                labels.import_truth(t, json.loads(Path(t.path).with_suffix(".json").read_text())["sections"])
    rc = main(["--db", str(tmp_path / "w.db"), "--quiet", "train", "sections", "--external", str(tmp_path / "other"),
               "--set", "min_per_class=2", "--epochs", "3", "--experiments", str(tmp_path / "exp")])
    out = capsys.readouterr().out
    assert rc == 0, out
    line = next(x for x in out.splitlines() if "sections: accuracy on other (other generator, 2 tracks)" in x)
    assert "majority 0." in line and "novelty 0." in line
    assert "sections: boundary F @3 s on other (novelty " in out
    run = load_run(next((tmp_path / "exp").iterdir()))
    e = run.metrics["transfer"]["external"]["other"]
    assert e["tracks"] == 2 and {"majority", "logreg", "novelty"} <= set(e["baselines"])
    assert run.data["external"]["other"]["tracks"] == 2
    assert [p.name.startswith("other-") for p in (tmp_path / "external").iterdir()] == [True]  # beside the database
