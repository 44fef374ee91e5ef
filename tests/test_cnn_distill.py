"""Issue 19: the CNN distilled from the feature frontend's head (``--distill features``) and its band statistics."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import low_high_library

from workbench.runs import load_run

torch = pytest.importorskip("torch")

from test_cnn_backbone import _signal, _write  # noqa: E402

from workbench.models.cnn import WINDOW_SAMPLES, build_cnn, cnn_checkpoint, load_cnn  # noqa: E402


@pytest.fixture(scope="module")
def tiny_library(tmp_path_factory):
    lib = low_high_library(tmp_path_factory.mktemp("distill"), _write)
    yield lib
    lib.close()


@pytest.fixture(scope="module")
def distill_calls():
    """What the shared distilled run computed: ``windows`` (backbone name, n_views) of each
    ``section_windows`` call; ``frontend_in_student_rows``: feature-frontend passes inside ``student_rows``."""
    return {"windows": [], "frontend_in_student_rows": 0}


@pytest.fixture(scope="module")
def distilled(tiny_library, tmp_path_factory, distill_calls):
    """A distilled run through the CLI, with the tracks the student was given recorded."""
    from workbench import cli
    from workbench.embed.features import FeatureFrontend
    from workbench.train import cnn_distill
    from workbench.train import datasets as ds

    seen: list[list[int]] = []
    original, windows, frontend_embed = cnn_distill.student_rows, ds.section_windows, FeatureFrontend.embed

    def counting_embed(self, y, *, sr):  # type: ignore[no-untyped-def]
        distill_calls["frontend_in_student_rows"] += 1
        return frontend_embed(self, y, sr=sr)

    def recording(tracks, teacher, **kw):  # type: ignore[no-untyped-def]
        seen.append(sorted(t.id for t in tracks))
        with pytest.MonkeyPatch.context() as inner:
            inner.setattr(FeatureFrontend, "embed", counting_embed)
            return original(tracks, teacher, **kw)

    def counting_windows(library, sections=None, **kw):  # type: ignore[no-untyped-def]
        distill_calls["windows"].append((kw["backbone"].name, kw.get("n_views", 0)))
        return windows(library, sections, **kw)

    exp = tmp_path_factory.mktemp("exp")
    mp = pytest.MonkeyPatch()
    mp.setattr(cnn_distill, "student_rows", recording)
    mp.setattr(ds, "section_windows", counting_windows)
    try:
        rc = cli.main(["--db", str(tiny_library.path), "--quiet", "train", "embeddings", "--backbone", "cnn",
                       "--distill", "features", "--epochs", "3", "--set", "n_views=1", "--set", "invariance_clips=1",
                       "--set", "m=2", "--set", "batch_size=4", "--set", "test_size=0.34", "--set", "val_size=0.34",
                       "--classes", "folder", "--experiments", str(exp)])
    finally:
        mp.undo()
    assert rc == 0
    return load_run(next(exp.glob("*/model.pt")).parent), seen


def test_job_distils_the_feature_head_into_the_cnn_and_records_it(distilled):
    run, seen = distilled
    assert run.config["distill"] == "features" and run.config["backbone"] == "cnn"
    assert "distilled in this run from the feature frontend" in run.info["backbone"]["trained"]
    d = run.metrics["distill"]
    assert d["teacher"].startswith("features-v1 + triplet head (128-d)")
    assert 0 <= d["teacher_val_map_at_r"] <= 1 and d["student_rows"] > 0
    history = run.history
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert d["val_cosine"] == max(h["val_cosine"] for h in history)
    assert d["select_by"] == "cosine" and not any("val_select" in h for h in history)  # the default rule
    model = load_cnn(run.model_path)
    assert model.net.stats and model.weights_sha256()[:12] == run.info["backbone"]["name"][-12:]
    assert model.weights_sha256() != build_cnn(seed=0, stats=True).weights_sha256()
    assert set(run.metrics["baselines"]) == {"backbone", "random_head"} and "map_at_r" in run.metrics["model"]


def test_job_defaults_are_the_distilled_students_options(distilled):
    """No ``distill_*`` given: the class term, weight averaging, the rhythm branch and unstretched views are on
    (the class term is then off here: one training track per class, and the run says so)."""
    from workbench.train.cnn_student import DISTILL_STUDENT_DEFAULTS, DISTILL_TEMPO_DEFAULTS

    run, _ = distilled
    options = dict(run.metrics["distill"]["student_options"])  # a copy: the fixture's run is shared
    assert options.pop("class_term").startswith("off: no class has two training tracks")
    assert options.pop("distill_class_weight") == {"value": 0.0, "from": "default"}
    assert "warnings" not in run.metrics or not any("class term" in w for w in run.metrics["warnings"])
    defaults = {**DISTILL_STUDENT_DEFAULTS, **DISTILL_TEMPO_DEFAULTS}
    assert options == {k: {"value": v, "from": "default"} for k, v in defaults.items() if k != "distill_class_weight"}
    assert {k: run.config[k] for k in defaults} == defaults  # the run's settings; the metrics say what took effect
    assert load_cnn(run.model_path).net.rhythm_lags == 96  # the saved audio-in model has the branch
    assert run.metrics["distill"]["student_stopped"] == "reached max_epochs=3; weights averaged over epochs 1-3"
    from workbench.commands.train import embeddings_lines

    said = [line for line in embeddings_lines(run.path) if line.startswith("distilled from features-v1")]
    assert len(said) == 1 and "student: class term off: no class has two training tracks" in said[0]
    assert said[0].endswith("mean of the last 4 epochs, rhythm branch (96 lags), views without time stretch")


def test_student_learns_from_training_tracks_only(distilled):
    run, seen = distilled
    splits = run.data["splits"]
    assert seen == [splits["train"], splits["val"]]  # the student's rows; the validation ones only choose the epoch
    assert not set(seen[0]) & (set(splits["val"]) | set(splits["test"]))


def test_distilled_job_computes_no_unused_views_nor_frames_twice(distilled, distill_calls):
    """The job's own patch rows get no augmented views (only their originals are read), and the student's rows
    take the teacher's cached frontend frames instead of computing them again."""
    run, _ = distilled
    cnn_calls = [n_views for name, n_views in distill_calls["windows"] if name != "features-v1"]
    assert cnn_calls and not any(cnn_calls), distill_calls["windows"]  # the patch rows: originals only
    assert ("features-v1", 1) in distill_calls["windows"]  # the teacher's views are built (the counter sees them)
    assert distill_calls["frontend_in_student_rows"] == 0
    assert run.data["n_views"] == 1 and run.data["rows"]["train"] % 2 == 0  # counted as with the views (1 each)


def test_student_rows_from_cached_frames_are_bit_identical(tmp_path):
    """Stereo 44.1-kHz tracks (decoded, mixed and resampled as the frontend's cache does): the rows built from the
    cached frames equal the rows whose frames are computed again, and no frontend pass runs."""
    import soundfile as sf

    from workbench.embed.batch import cache_for, embed_library
    from workbench.embed.features import FeatureFrontend
    from workbench.library import Library
    from workbench.models.heads import EmbeddingHead
    from workbench.train.cnn_distill import student_rows

    for i in range(2):
        y = _signal(i, freq_hz=150.0 * (i + 1), duration_s=12.0, sr=44100)
        (tmp_path / "music").mkdir(exist_ok=True)
        sf.write(str(tmp_path / "music" / f"t{i}.wav"), np.stack([y, 0.7 * np.roll(y, 41)], axis=1), 44100)
    lib = Library(tmp_path / "lib.db")
    lib.scan(tmp_path / "music", progress=False)
    tracks = list(lib.tracks())
    embed_library(lib, backbone=FeatureFrontend(), tracks=tracks, progress=False)
    torch.manual_seed(0)
    teacher = EmbeddingHead(FeatureFrontend().dim, out_dim=128).eval()
    fresh = student_rows(tracks, teacher, n_views=1, seed=3)
    calls = []
    mp = pytest.MonkeyPatch()
    mp.setattr(FeatureFrontend, "embed", lambda self, y, *, sr: calls.append(sr))
    try:
        reused = student_rows(tracks, teacher, n_views=1, seed=3, cached_frames=cache_for(lib, FeatureFrontend()).get)
    finally:
        mp.undo()
        lib.close()
    assert calls == []
    for name in ("patches", "targets", "track_ids", "features"):
        a, b = getattr(fresh, name), getattr(reused, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name


def test_student_moves_towards_its_targets():
    from workbench.train.cnn_distill import StudentRows, fit_student
    from workbench.train.triplet import TripletConfig

    rng = np.random.default_rng(0)
    patches = rng.normal(size=(24, 128 * 128)).astype(np.float16)
    patches[:12] += np.linspace(-2, 2, 128 * 128, dtype=np.float16)  # two kinds of input
    targets = np.zeros((24, 128), np.float32)
    targets[:12, 0] = targets[12:, 1] = 1.0  # each kind its own direction
    rows = StudentRows(patches, targets, np.arange(24) // 6)
    net = build_cnn(seed=0, stats=True).net
    cfg = TripletConfig(lr=3e-3, max_epochs=4, patience=4, seed=0, weight_decay=0.0)
    history, best_epoch, stopped = fit_student(net, rows, rows, cfg=cfg, batch_size=8)
    assert history[best_epoch - 1]["val_cosine"] > history[0]["val_cosine"] - 1e-6
    assert max(h["val_cosine"] for h in history) > 0.5 and stopped.startswith("reached max_epochs=4")


def test_feature_target_is_learnt_by_a_probe_and_leaves_the_network_unchanged_in_shape():
    from workbench.train.cnn_distill import StudentRows, fit_student
    from workbench.train.triplet import TripletConfig

    rng = np.random.default_rng(1)
    patches = rng.normal(size=(16, 128 * 128)).astype(np.float16)
    patches[:8] += 1.5  # louder half
    targets = np.zeros((16, 128), np.float32)
    targets[:, 0] = 1.0
    feats = np.zeros((16, 5), np.float32)
    feats[:8, 2] = 4.0  # a feature the two halves differ in
    rows = StudentRows(patches, targets, np.arange(16) // 4, feats)
    cfg = TripletConfig(lr=3e-3, max_epochs=3, patience=3, seed=0, weight_decay=0.0)
    before = {k: v.shape for k, v in build_cnn(seed=0, stats=True).net.state_dict().items()}
    net = build_cnn(seed=0, stats=True).net
    history, _, _ = fit_student(net, rows, rows, cfg=cfg, batch_size=8, feature_weight=1.0)
    assert {k: v.shape for k, v in net.state_dict().items()} == before  # the probe is not part of the network
    assert len(history) == 3 and np.isfinite([h["train_loss"] for h in history]).all()
    with torch.no_grad():
        x = torch.from_numpy(patches[:4].astype(np.float32))
        h = net.hidden(x)
        z = net.fc2(h)
        assert h.shape == (4, 256) and torch.allclose(net(x), z / z.norm(dim=1, keepdim=True), atol=1e-5)
    with pytest.raises(ValueError, match=r"feature_weight must be a number >= 0; got -1"):
        fit_student(net, rows, rows, cfg=cfg, feature_weight=-1)
    with pytest.raises(ValueError, match=r"feature_weight > 0 needs the rows' frontend features"):
        fit_student(net, StudentRows(patches, targets, np.arange(16) // 4), rows, cfg=cfg, feature_weight=0.5)


def test_bad_distill_values_are_refused_before_a_job(tiny_library, tmp_path):
    from workbench.train.jobs import train_embeddings_job

    with pytest.raises(ValueError, match=r"distill must be one of \['features'\] or None; got 'openl3'"):
        train_embeddings_job(tiny_library, config={"backbone": "cnn", "distill": "openl3"}, experiments_root=tmp_path)
    with pytest.raises(ValueError, match=r"distill trains the CNN: it needs backbone='cnn'; got backbone='features-v1'"):
        train_embeddings_job(tiny_library, config={"backbone": "features", "distill": "features"},
                             experiments_root=tmp_path)


def test_band_statistics_branch_shapes_checkpoint_and_old_configs():
    model = build_cnn(seed=0, stats=True)
    x = torch.from_numpy(np.stack([_signal(1), _signal(2, freq_hz=1800.0)])[:, :WINDOW_SAMPLES])
    with torch.no_grad():
        e = model(x)
    assert e.shape == (2, 128) and torch.allclose(e.norm(dim=1), torch.ones(2), atol=1e-5)
    assert model.net.fc1.in_features == 2048 + 256
    data = cnn_checkpoint(model)
    assert data["config"]["stats"] is True
    with torch.no_grad():
        assert torch.equal(load_cnn(data)(x), e)
    plain = cnn_checkpoint(build_cnn(seed=0))
    assert "stats" not in plain["config"] and not load_cnn(plain).net.stats  # checkpoints from before the branch
    with pytest.raises(ValueError, match=r"stats must be True or False; got 1"):
        build_cnn(seed=0, stats=1)  # type: ignore[arg-type]


def test_band_statistics_convert_whole_and_keep_parity(tmp_path):
    ct = pytest.importorskip("coremltools")
    from workbench.export import mil_eval

    model = build_cnn(seed=0, stats=True)
    windows = np.stack([_signal(11, freq_hz=220.0), 0.05 * _signal(12, freq_hz=1800.0)])[:, :WINDOW_SAMPLES]
    traced = torch.jit.trace(model, torch.from_numpy(windows[:1]))
    ml = ct.convert(traced, inputs=[ct.TensorType(name="samples", shape=(1, WINDOW_SAMPLES), dtype=np.float32)],
                    outputs=[ct.TensorType(name="embedding")], convert_to="mlprogram",
                    minimum_deployment_target=ct.target.macOS13, compute_precision=ct.precision.FLOAT16)
    path = tmp_path / "cnn_stats.mlpackage"
    ml.save(str(path))

    def reference(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(np.asarray(batch, np.float32).reshape(-1, WINDOW_SAMPLES))).numpy()

    report = mil_eval.parity(path, reference, windows)
    assert not report.fp16_overflow and report.psnr_db >= 60


def test_distilled_run_exports_whole_with_parity_and_says_it_was_distilled(distilled, tiny_library, tmp_path):
    pytest.importorskip("coremltools")
    from workbench.export import coreml
    from workbench.export.run_export import _jobs

    run, _ = distilled
    kw = {"io_dtype": "fp32", "deployment_target": "macOS14", "compress": None}
    jobs = _jobs(run, tiny_library, run.model_path, {"run_id": run.run_id}, None, kw, input="samples",
                 openl3_weights=None, n_windows=2)
    assert [t for t, _ in jobs] == ["embedding"]
    r = jobs[0][1](tmp_path / "distilled.mlpackage")
    meta = coreml.read_metadata(r.path)
    assert list(meta["inputs"]) == ["samples"] and meta["sample_rate"] == 22050
    assert f"distilled from the feature frontend's head (features) in run {run.run_id}" in meta["weights_source"]
    assert ("student: class term off: no class has two training tracks" in meta["weights_source"]
            and "mean of the last 4 epochs, rhythm branch (96 lags), views without time stretch" in meta["weights_source"])
    assert r.parity is not None and r.parity.psnr_db >= 60.0, str(r.parity)
