"""Issue 17: training that teaches invariance (a window's own augmented views are its positives),
invariance as a blocking gate, and the backbone chosen by name from every entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import harmonic_clip, low_high_library

from workbench.evaluate.gates import blocking_gates, failing, invariance_gates
from workbench.evaluate.invariance import GATE_TRANSFORMS, INVARIANCE_TOLERANCE, paired_invariance
from workbench.library import Library
from workbench.runs import load_run
from workbench.train.datasets import EmbeddingSet
from workbench.train.triplet import TripletConfig, embed, train_triplet
from workbench.train.views import training_view_settings, view_groups, with_own_views

torch = pytest.importorskip("torch")

SR = 22050
REF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "openl3-ref"
#: A tiny run: few windows, few epochs, two held-out clips for the invariance measurement.
TINY = {"epochs": 2, "n_views": 1, "window_s": 4.0, "invariance_clips": 2, "classes_from": "folder",
        "test_size": 0.34, "val_size": 0.34, "m": 2, "batch_size": 4}


def _write(path: Path, *, freq_hz: float, seed: int, duration_s: float = 9.0) -> None:
    harmonic_clip(path, freq_hz=freq_hz, seed=seed, duration_s=duration_s, sr=SR)


@pytest.fixture(scope="module")
def tiny_library(tmp_path_factory):
    lib = low_high_library(tmp_path_factory.mktemp("inv"), _write)
    yield lib
    lib.close()


@pytest.fixture(scope="module")
def tiny_run(tiny_library, tmp_path_factory):
    from workbench.train.jobs import train_embeddings_job

    job, path = train_embeddings_job(tiny_library, config={**TINY, "backbone": "features"}, progress=False,
                                     experiments_root=tmp_path_factory.mktemp("exp"))
    assert job.state == "completed"
    return load_run(path)


# ------------------------------------------------------------------ views as positives


def _nuisance_set(*, n_views: int, seed: int = 0) -> EmbeddingSet:
    """3 classes in dims 0..7; each view adds a large random shift in dims 8..23 (the "pitch" the
    head must learn to ignore). Originals have no shift."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, 8)) * 2
    X, y, tracks, views, starts = [], [], [], [], []
    for track in range(12):
        c = track % 3
        for w in range(4):
            base = np.concatenate([centers[c] + 0.8 * rng.normal(size=8), 0.3 * rng.normal(size=16)])
            for v in range(n_views + 1):
                shift = np.zeros(24) if v == 0 else np.concatenate([np.zeros(8), 3 * rng.normal(size=16)])
                X.append(base + shift)
                y.append(c)
                tracks.append(track)
                views.append(v)
                starts.append(4.0 * w)
    return EmbeddingSet(np.asarray(X, np.float32), y, ["a", "b", "c"], tracks, views,
                        rows={"start_s": np.asarray(starts)})


def _own_view_cosine(model, data: EmbeddingSet) -> float:
    originals, groups = view_groups(data)
    e = embed(model, data.X)
    return float(np.mean([e[o] @ e[g[0]] for o, g in zip(originals, groups, strict=True)]))


def test_view_groups_and_batches_pair_each_window_with_its_own_view():
    data = _nuisance_set(n_views=2)
    originals, groups = view_groups(data)
    assert len(originals) == 48 and all(len(g) == 2 for g in groups)
    for o, g in zip(originals, groups, strict=True):
        assert (data.track_ids[g] == data.track_ids[o]).all() and (data.rows["start_s"][g] == data.rows["start_s"][o]).all()
        assert (data.view[g] > 0).all()
    rows, pairs = with_own_views(np.array([0, 5, 9]), originals, groups, np.random.RandomState(0))
    assert len(rows) == 6 and pairs.tolist() == [[0, 3], [1, 4], [2, 5]]
    for a, b in pairs:  # the view carries its original's class and window
        assert data.y[rows[a]] == data.y[rows[b]] and data.track_ids[rows[a]] == data.track_ids[rows[b]]


def test_own_views_as_positives_teach_invariance_that_class_training_alone_does_not():
    data = _nuisance_set(n_views=2)
    train, val = data.subset(data.track_ids < 9), data.subset(data.track_ids >= 9)
    base = {"max_epochs": 6, "patience": 6, "m": 4, "batch_size": 12, "lr": 1e-3, "on_collapse": "stop", "seed": 1}
    with_views = train_triplet(train, val, config=TripletConfig(**base), progress=False)
    originals_only = train_triplet(train.originals(), val, config=TripletConfig(**base), progress=False)
    rows_only = train_triplet(train, val, config=TripletConfig(**base, view_positives=False), progress=False)
    assert all("view_loss" in r for r in with_views.history)
    assert not any("view_loss" in r for r in rows_only.history)
    learned, never_seen, as_rows = (_own_view_cosine(r.model, val) for r in (with_views, originals_only, rows_only))
    assert learned > never_seen + 0.1 and learned > as_rows
    assert learned > 0.8


def test_view_settings_are_the_safe_ranges():
    s = training_view_settings()
    assert s.pitch_semitones == (-3.0, 3.0) and s.stretch_rate == (0.9, 1.1) and s.gain_db == (-6.0, 3.0)
    assert not s.allow_unsafe and min(s.pitch_p, s.stretch_p, s.gain_p) >= 0.5


def test_config_checks_the_view_settings():
    with pytest.raises(ValueError, match="view_weight must be a number in"):
        TripletConfig(view_weight=-1.0)
    with pytest.raises(ValueError, match="view_positives must be True or False; got 'yes'"):
        TripletConfig(view_positives="yes")


# ------------------------------------------------------------------ the tiny run


def test_tiny_run_trains_on_own_views_and_records_invariance(tiny_run):
    run = tiny_run
    assert "positive" in run.data["views"] and run.data["n_views"] == 1
    assert any("view_loss" in r for r in run.history)
    inv = run.metrics["invariance"]
    assert set(inv) == set(GATE_TRANSFORMS) and run.metrics["invariance_n_clips"] == 2
    for entry in inv.values():
        assert set(entry) == {"backbone", "model", "backbone_raw"}
        assert all(-1.0 <= v <= 1.0 + 1e-6 for v in entry.values())
    names = [g.name for g in blocking_gates(run.metrics, "head")]
    assert names[0] == "better than backbone" and names[1:-1] == [f"invariance {t}" for t in GATE_TRANSFORMS]
    # two held-out tracks: too few queries to measure search, which the gate says without blocking
    assert names[-1] == "search not worse than backbone" and run.metrics["search"]["status"] == "not measured"
    assert "fewer than 6" in run.metrics["search"]["reason"]
    assert all(g.status in ("pass", "fail") for g in invariance_gates(run.metrics))


def test_backbone_is_named_in_run_config_and_model_metadata(tiny_run):
    run = tiny_run
    assert run.config["backbone"] == "features-v1"
    assert run.info["backbone"]["name"] == "features-v1" and run.data["backbone"]["name"] == "features-v1"
    from workbench.commands.train import embeddings_lines

    text = "\n".join(embeddings_lines(run.path))
    assert "backbone: features-v1" in text and "pitch+1st" in text


# ------------------------------------------------------------------ the gate


def _metrics(model_cos: float, backbone_cos: float = 0.9) -> dict:
    inv = {t: {"backbone": backbone_cos, "model": backbone_cos} for t in GATE_TRANSFORMS}
    inv["pitch+1st"] = {"backbone": backbone_cos, "model": model_cos}
    return {"model": {"map_at_r": 0.8}, "baselines": {"backbone": {"map_at_r": 0.3}},
            "held_out": {"track_hashes": ["a"]}, "invariance": inv,
            "search": {"status": "not measured", "reason": "1 held-out query"}}


def test_gate_refuses_a_head_that_loses_invariance_and_force_passes_it(tmp_path):
    from workbench.evaluate.gates import GateFailedError
    from workbench.registry import Registry

    bad = failing(blocking_gates(_metrics(0.38), "head"))
    assert [(g.name, g.status) for g in bad] == [("invariance pitch+1st", "fail")]
    assert bad[0].target == pytest.approx(0.9 - INVARIANCE_TOLERANCE)
    assert not failing(blocking_gates(_metrics(0.9 - INVARIANCE_TOLERANCE + 1e-9), "head"))
    # older layout ({augmentation: {strength: cos}}) or nothing measured: not recorded, which blocks
    old = {**_metrics(0.9), "invariance": {"pitch": {"1": 0.4}}}
    assert {g.status for g in invariance_gates(old)} == {"not recorded"}
    assert len(failing(blocking_gates({k: v for k, v in old.items() if k != "invariance"}, "head"))) == 6
    with Library(tmp_path / "w.db") as lib:
        reg = Registry(lib, root=tmp_path / "models")
        with pytest.raises(GateFailedError, match=r"(?s)invariance pitch\+1st not met: cosine to own copy 0.3800 < "
                                                  r"backbone - 0.05 0.8500 -> fail.*--force"):
            reg.check_gates("head", _metrics(0.38), what="activating head_v1")
        _, forced = reg.check_gates("head", _metrics(0.38), what="activating head_v1", force=True)
        assert [g.name for g in forced] == ["invariance pitch+1st"]
        assert reg.check_gates("head", _metrics(0.88), what="activating head_v1") == (
            reg.gates("head", _metrics(0.88)), [])


def test_paired_invariance_measures_each_space_on_the_same_audio():
    rng = np.random.default_rng(0)
    clips = [0.3 * np.sin(2 * np.pi * 220 * np.arange(SR) / SR) + 0.01 * rng.standard_normal(SR) for _ in range(2)]

    def spectrum(y):
        return np.abs(np.fft.rfft(y, n=4096))[:400]

    out = paired_invariance(spectrum, {"raw": lambda v: v, "level": lambda v: np.array([v.sum(), 1.0])}, clips,
                            sr=SR)
    assert set(out) == set(GATE_TRANSFORMS)
    assert out["gain+6dB"]["raw"] == pytest.approx(1.0, abs=1e-5)  # a level change keeps the spectrum's shape
    assert out["pitch+1st"]["raw"] < 0.9  # a pitch shift moves it
    with pytest.raises(ValueError, match="spaces is empty"):
        paired_invariance(spectrum, {}, clips, sr=SR)
    with pytest.raises(ValueError, match="clips is empty"):
        paired_invariance(spectrum, {"raw": lambda v: v}, [], sr=SR)


# ------------------------------------------------------------------ any backbone


def test_openl3_without_weights_is_a_clear_error(tiny_library, tmp_path, monkeypatch, capsys):
    from workbench.cli import main
    from workbench.embed.openl3_weights import WeightsError
    from workbench.train.jobs import list_jobs

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))  # no models/openl3/ here
    monkeypatch.delenv("WORKBENCH_OPENL3_WEIGHTS", raising=False)
    before = len(list_jobs(tiny_library, limit=100))
    for kind in ("embeddings", "sections"):
        code = main(["--db", str(tiny_library.path), "--quiet", "train", kind, "--backbone", "openl3",
                     "--experiments", str(tmp_path)])
        err = capsys.readouterr().err
        assert code != 0 and "--backbone openl3) needs the published OpenL3 weights" in err
        assert "models/openl3" in err and "WORKBENCH_OPENL3_WEIGHTS" in err and "--backbone features" in err
    assert len(list_jobs(tiny_library, limit=100)) == before  # refused before any job was created
    from workbench.train.backbones import backbone_by_name

    with pytest.raises(WeightsError, match=r"(?s)needs the published OpenL3 weights.*WORKBENCH_OPENL3_WEIGHTS"):
        backbone_by_name("openl3")

    with pytest.raises(ValueError, match=r"backbone must be one of \['auto', 'features', 'openl3', 'cnn'\]; got 'vgg'"):
        backbone_by_name("vgg")
    with pytest.raises(ValueError, match=r"size must be one of \[512, 6144\]"):
        backbone_by_name("openl3", size=128)
    assert backbone_by_name("auto").name == "features-v1"  # no weights: the frontend


def test_cli_flags_reach_the_job(tiny_library, tmp_path, capsys):
    from workbench.cli import main

    code = main(["--db", str(tiny_library.path), "--quiet", "train", "embeddings", "--backbone", "features",
                 "--size", "512", "--epochs", "1", "--classes", "folder", "--set", "invariance_clips=1",
                 "--set", "window_s=4", "--set", "n_views=1", "--set", "m=2", "--batch-size", "4", "--experiments", str(tmp_path)])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, captured.err
    assert "backbone: features-v1" in out and "invariance" in out and "tempo-4%" in out


@pytest.mark.slow
def test_openl3_backbone_by_name_with_reference_weights(tiny_library, tmp_path):
    ref = REF / "openl3_audio_mel128_music.h5"
    if not ref.is_file():
        pytest.skip(f"the OpenL3 reference weights are absent ({ref})")
    from workbench.train.jobs import train_embeddings_job

    _, path = train_embeddings_job(tiny_library, config={**TINY, "epochs": 1, "invariance_clips": 1, "n_views": 0,
                                                         "backbone": "openl3", "openl3_weights": str(ref)},
                                   experiments_root=tmp_path, progress=False)
    run = load_run(path)
    assert run.config["backbone"] == "openl3" and run.config["size"] == 512
    assert run.info["backbone"]["name"] == "openl3-mel128-music-512" and run.info["backbone"]["dim"] == 512
    assert set(run.metrics["invariance"]) == set(GATE_TRANSFORMS)


def test_demo_refuses_openl3_without_weights_before_any_work(tmp_path, monkeypatch):
    from workbench.embed.openl3_weights import WeightsError
    from workbench.pipeline import run_demo

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("WORKBENCH_OPENL3_WEIGHTS", raising=False)
    with pytest.raises(WeightsError, match="needs the published OpenL3 weights"):
        run_demo(demo_folder=tmp_path / "demo", db_path=tmp_path / "w.db", n_tracks=2, train=False,
                 progress=False, backbone="openl3")
    assert not (tmp_path / "demo").exists() and not (tmp_path / "w.db").exists()
    with pytest.raises(ValueError, match="backbone must be one of"):
        run_demo(demo_folder=tmp_path / "demo", db_path=tmp_path / "w.db", n_tracks=2, train=False,
                 progress=False, backbone="vgg")
