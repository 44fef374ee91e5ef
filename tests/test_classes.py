"""Embedding training on a user's own library: classes from crates, folders or the tracks themselves,
honest held-out metrics next to the baselines, and a clear refusal when there is nothing to learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from workbench.crates import Crates
from workbench.evaluate.splits import per_class_split
from workbench.library import Library
from workbench.runs import load_run
from workbench.train.classes import NotEnoughClassesError, resolve_classes
from workbench.train.jobs import train_embeddings_job

SR = 22050
#: Short runs: no class options (the point of these tests), only fewer epochs and no invariance clips.
QUICK = {"epochs": 2, "invariance_clips": 0}
METRIC_KEYS = {"map_at_r", "precision_at_1", "precision_at_5"}


def _write(path, *, freq_hz: float, seed: int, duration_s: float = 17.0) -> None:
    """A tone with a few harmonics, seeded noise and a slow tremolo, so windows of one track differ."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    f = freq_hz * (1 + 0.02 * rng.standard_normal())
    y = sum(0.3 / k * np.sin(2 * np.pi * k * f * t + rng.uniform(0, 6)) for k in (1, 2, 3))
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t)) + 0.03 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y.astype(np.float32), SR)


def _library(tmp_path, layout: dict[str, list[float]]) -> Library:
    """``{sub-folder ("" = the scanned folder itself): [tone Hz per track]}`` -> a scanned library."""
    music = tmp_path / "music"
    seed = 0
    for folder, freqs in layout.items():
        for i, f in enumerate(freqs):
            _write(music / folder / f"track{i}.wav", freq_hz=f, seed=seed)
            seed += 1
    lib = Library(tmp_path / "lib.db")
    lib.scan(music, progress=False)
    return lib


FOLDERS = {"bass": [80.0, 85.0, 90.0, 95.0, 100.0, 105.0], "mid": [400.0, 420.0, 440.0, 460.0, 480.0, 500.0],
           "high": [1800.0, 1900.0, 2000.0, 2100.0, 2200.0, 2300.0]}


@pytest.fixture(scope="module")
def sorted_library(tmp_path_factory):
    lib = _library(tmp_path_factory.mktemp("sorted"), FOLDERS)
    yield lib
    lib.close()


@pytest.fixture(scope="module")
def folder_run(sorted_library, tmp_path_factory):
    job, path = train_embeddings_job(sorted_library, config=QUICK, experiments_root=tmp_path_factory.mktemp("exp"),
                                     progress=False)
    assert job.state == "completed"
    return load_run(path)


def test_folders_give_the_classes_with_no_options(sorted_library, folder_run):
    run = folder_run
    source = run.data["class_source"]
    assert run.data["classes_from"] == source["source"] == "folder"
    assert source["tracks_per_class"] == {"bass": 6, "high": 6, "mid": 6}
    assert source["tried"] == {"crates": "no track has one"}
    # the contract: model and baselines, same keys, on the same held-out tracks
    m = run.metrics
    assert METRIC_KEYS <= set(m["model"])
    assert set(m["baselines"]) == {"backbone", "random_head"}
    for name in ("backbone", "random_head"):
        assert METRIC_KEYS <= set(m["baselines"][name])
        assert m["baselines"][name]["n_queries"] == m["model"]["n_queries"] > 0
    test_ids = run.data["splits"]["test"]
    hashes = sorted(t["content_hash"] for t in run.data["tracks"] if t["id"] in test_ids)
    assert m["held_out"]["track_hashes"] == hashes
    # two held-out tracks of every class: each query has another track to find
    test_classes = [sorted_library.track(t).folder for t in test_ids]
    assert sorted(test_classes) == ["bass", "bass", "high", "high", "mid", "mid"]
    assert not set(test_ids) & set(run.data["splits"]["train"])
    # the recorded figures are the honest ones: recomputed from the saved arrays with same-track exclusion
    from workbench.evaluate import evaluate_run

    again = evaluate_run(run)
    assert again["map_at_r"] == pytest.approx(m["model"]["map_at_r"], abs=1e-5)
    assert again["precision_at_1"] == pytest.approx(m["model"]["precision_at_1"], abs=1e-5)


def test_report_shows_model_vs_baselines(folder_run):
    from workbench.report import report

    text = report(folder_run).read_text()
    section = text[text.index("<h2>Model vs baselines</h2>"):text.index("<h2>Metrics</h2>")]
    assert "<th>backbone</th>" in section and "<th>random_head</th>" in section and ">map_at_r<" in section
    assert "never counts windows of its own track" in section
    m = folder_run.metrics
    verdict = "beats" if m["model"]["map_at_r"] > m["baselines"]["backbone"]["map_at_r"] else "does not beat"
    assert f"the head {verdict} the untrained backbone" in section


def test_crates_come_first(sorted_library, tmp_path):
    tracks = sorted_library.tracks()
    crates = Crates(sorted_library)
    crates.add("warm-up", tracks[0::2])
    crates.add("peak", tracks[1::2])
    crates.add("everything", tracks)  # a track in several crates takes the smallest (most specific)
    try:
        choice = resolve_classes(sorted_library, tracks)
        assert choice.source == "crates" and choice.tracks_per_class == {"peak": 9, "warm-up": 9}
        assert "crates: 2 classes of 18 tracks" in choice.summary()
        _, path = train_embeddings_job(sorted_library, config=QUICK, experiments_root=tmp_path, progress=False)
        run = load_run(path)
        assert run.data["class_source"]["source"] == "crates"
        assert set(run.data["label_counts"]) == {"peak", "warm-up"}
        # asked for explicitly, the folders still win over the crates
        assert resolve_classes(sorted_library, tracks, "folder").source == "folder"
    finally:
        for name in ("warm-up", "peak", "everything"):
            crates.remove(name)


def test_a_flat_folder_trains_self_supervised(tmp_path):
    lib = _library(tmp_path, {"": [100.0, 300.0, 900.0, 2700.0, 5000.0]})
    try:
        choice = resolve_classes(lib, lib.tracks())
        assert choice.source == "self" and set(choice.tried) == {"crates", "folder"}
        _, path = train_embeddings_job(lib, config=QUICK, experiments_root=tmp_path / "exp", progress=False)
        run = load_run(path)
        assert run.data["class_source"]["source"] == "self" and run.data["n_views"] >= 1  # a view as positive
        assert "val_loss" in run.history[0]  # nothing on another track to retrieve: the loss decides
        assert np.isnan(run.metrics["model"]["map_at_r"]) and "self-supervised" in run.metrics["note"]
    finally:
        lib.close()


def test_one_track_is_refused_naming_the_options(tmp_path):
    lib = _library(tmp_path, {"only": [440.0]})
    try:
        with pytest.raises(NotEnoughClassesError, match=r"classes_from='auto' .* over 1 track .*self: .*got 1.*"
                                                        r"Options: put tracks in crates.*classes_from=artist.*"
                                                        r"classes_from=self"):
            train_embeddings_job(lib, config=QUICK, experiments_root=tmp_path / "exp", progress=False)
        from workbench.train.jobs import list_jobs

        assert list_jobs(lib)[0].state == "failed" and "Options:" in list_jobs(lib)[0].error
        with pytest.raises(NotEnoughClassesError, match=r"classes_from='artist' .*artist: no track has one"):
            resolve_classes(lib, lib.tracks(), "artist")
        with pytest.raises(ValueError, match=r"classes_from must be one of \['auto', 'crates', 'folder', 'artist', "
                                             r"'self'\].*got 'genre'"):
            resolve_classes(lib, lib.tracks(), "genre")
    finally:
        lib.close()


def test_explicit_mapping_and_small_classes_dropped(sorted_library):
    tracks = sorted_library.tracks()
    mapping = {t.id: ("a" if i < 3 else "b" if i < 6 else "solo") for i, t in enumerate(tracks[:7])}
    choice = resolve_classes(sorted_library, tracks, mapping)
    assert choice.source == "custom" and choice.tracks_per_class == {"a": 3, "b": 3}
    assert tracks[6].id in choice.dropped and tracks[10].id in choice.dropped  # alone in its class / no class


def test_per_class_split_holds_out_two_tracks_per_class():
    tracks = np.repeat(np.arange(14), 3)  # 14 tracks, 3 rows each
    y = np.repeat([0] * 6 + [1] * 5 + [2] * 3, 3)  # class 2 cannot spare two tracks
    train, test = per_class_split(tracks, y, test_size=0.2, seed=0)
    assert not set(tracks[train]) & set(tracks[test]) and len(train) + len(test) == len(y)
    held = {c: len(set(tracks[test][y[test] == c])) for c in (0, 1, 2)}
    assert held == {0: 2, 1: 2, 2: 0}
    assert per_class_split(np.arange(4), np.arange(4), test_size=0.2) is None  # each track its own class
    with pytest.raises(ValueError, match=r"test_size must be a fraction in \(0, 1\); got 1.5"):
        per_class_split(tracks, y, test_size=1.5)


def test_cli_help_documents_the_classes(capsys):
    from workbench.cli import main

    with pytest.raises(SystemExit):
        main(["train", "embeddings", "--help"])
    out = capsys.readouterr().out
    assert "--classes" in out and "classes_from" in out
    assert out.index("crates") < out.index("folder") < out.index("self")


def test_cli_prints_the_source_and_model_vs_baselines(sorted_library, tmp_path, capsys):
    from workbench.cli import main

    code = main(["--db", str(sorted_library.path), "--quiet", "train", "embeddings", "--epochs", "1",
                 "--classes", "folder", "--set", "invariance_clips=0", "--experiments", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "classes: from folder, 3 classes; tracks per class: bass 6, high 6, mid 6" in out
    assert "backbone" in out and "random_head" in out and "MAP@R" in out


@pytest.mark.slow
@pytest.mark.real_audio
def test_real_audio_default_config(real_audio_dir, tmp_path):
    """The shared real-music folder (sub-folders by source): defaults, feature backbone, few epochs."""
    lib = Library(tmp_path / "lib.db")
    try:
        lib.scan(real_audio_dir, progress=False)
        _, path = train_embeddings_job(lib, config={"epochs": 3, "invariance_clips": 0}, experiments_root=tmp_path,
                                       progress=False)
        run = load_run(path)
        source = run.data["class_source"]
        assert source["source"] == "folder" and len(source["tracks_per_class"]) >= 2
        m = run.metrics
        assert m["model"]["n_queries"] > 0 and 0.0 <= m["model"]["map_at_r"] <= 1.0
        for name in ("backbone", "random_head"):
            assert m["baselines"][name]["n_queries"] == m["model"]["n_queries"]
        assert len(m["held_out"]["track_hashes"]) == len(run.data["splits"]["test"]) >= 2
        print(json.dumps({"source": source, "model": m["model"], "baselines": m["baselines"]}, default=str))
    finally:
        lib.close()
