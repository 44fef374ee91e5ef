"""Issue 19: the distilled student's options (weight averaging, class term, masked patches)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench.models.cnn import build_cnn  # noqa: E402
from workbench.train.cnn_distill import StudentRows, fit_student  # noqa: E402
from workbench.train.cnn_student import (  # noqa: E402
    EpochAverage,
    check_student_options,
    class_triplet_loss,
    mask_patches,
)
from workbench.train.triplet import TripletConfig  # noqa: E402


def _rows(n: int = 48, *, seed: int = 0) -> tuple[StudentRows, StudentRows]:
    """Random patches and unit targets: 6 tracks of 8 rows, two classes; the last 16 rows validate."""
    rng = np.random.default_rng(seed)
    patches = rng.normal(size=(n, 128 * 128)).astype(np.float16)
    targets = rng.normal(size=(n, 128)).astype(np.float32)
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    tracks = np.arange(n) // 8
    classes = np.array(["a", "b"])[tracks % 2]
    cut = n - 16
    return (StudentRows(patches[:cut], targets[:cut], tracks[:cut], classes=classes[:cut]),
            StudentRows(patches[cut:], targets[cut:], tracks[cut:]))


def _fit(**options):  # type: ignore[no-untyped-def]
    """A student trained 3 epochs with ``options``; its state after each epoch; the kept state."""
    train, val = _rows()
    net = build_cnn(seed=0, stats=True, dropout=0.1).net
    states: list[dict] = []

    def snap(epoch, total, record):  # type: ignore[no-untyped-def]
        states.append({k: v.clone() for k, v in net.state_dict().items()})

    cfg = TripletConfig(seed=0, num_threads=1, max_epochs=3, patience=3, lr=1e-3)
    history, best, stopped = fit_student(net, train, val, cfg=cfg, batch_size=16, on_epoch=snap, **options)
    return states, net.state_dict(), best, stopped


def test_epoch_average_is_the_mean_of_the_last_snapshots():
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    avg, states = EpochAverage(2), []
    for epoch in range(1, 4):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(float(epoch))
        net[1].running_mean.add_(float(epoch))
        net[1].num_batches_tracked.add_(5)
        states.append({k: v.clone() for k, v in net.state_dict().items()})
        avg.add(net, epoch)
    assert avg.epochs == [2, 3]
    avg.average_into(net)
    got = net.state_dict()
    for k, v in got.items():
        if v.is_floating_point():
            assert torch.allclose(v, (states[1][k] + states[2][k]) / 2), k
        else:  # integer buffers: the last snapshot's
            assert int(v) == int(states[2][k])
    assert not torch.allclose(got["0.weight"], states[2]["0.weight"])  # not simply the last epoch
    with pytest.raises(ValueError, match="no snapshot to average; got none"):
        EpochAverage(2).average_into(net)


def test_fit_student_average_epochs_keeps_the_mean_of_the_last_epochs():
    states, kept, best, stopped = _fit(average_epochs=2)
    assert best == 3 and "weights averaged over epochs 2-3" in stopped
    for k, v in kept.items():
        if v.is_floating_point():
            assert torch.allclose(v, (states[1][k] + states[2][k]) / 2, atol=1e-6), k
    assert not torch.allclose(kept["fc2.weight"], states[2]["fc2.weight"])


def test_fit_student_with_average_epochs_trains_every_epoch():
    """Averaging keeps the mean of the annealed last epochs: no early stop (without it, a flat cosine stops)."""
    train, val = _rows(32)
    cfg = TripletConfig(seed=0, num_threads=1, max_epochs=3, patience=1, lr=1e-3)

    def worse():  # type: ignore[no-untyped-def]
        scores = iter([0.9, 0.8, 0.7])  # a validation score that only falls: stale from epoch 2
        return lambda net: next(scores)

    history, best, stopped = fit_student(build_cnn(seed=0, stats=True, dropout=0.1).net, train, val, cfg=cfg,
                                         batch_size=16, average_epochs=2, select=worse())
    assert len(history) == 3 and best == 3 and stopped == "reached max_epochs=3; weights averaged over epochs 2-3"
    history, best, stopped = fit_student(build_cnn(seed=0, stats=True, dropout=0.1).net, train, val, cfg=cfg,
                                         batch_size=16, select=worse())
    assert len(history) == 2 and best == 1 and stopped.startswith("early stop")


def test_class_term_and_masks_change_the_trained_weights():
    _, plain, _, _ = _fit()
    _, with_class, _, _ = _fit(class_weight=0.5)
    _, masked, _, _ = _fit(mask_bins=16)
    _, again, _, _ = _fit(class_weight=0.5)
    assert not torch.allclose(plain["fc2.weight"], with_class["fc2.weight"])
    assert not torch.allclose(plain["fc2.weight"], masked["fc2.weight"])
    assert torch.allclose(with_class["fc2.weight"], again["fc2.weight"])  # seeded: the same run twice


def test_class_triplet_loss_takes_positives_on_other_tracks_only():
    emb = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]), dim=1)
    classes = torch.tensor([0, 0, 1, 1])
    same_track = torch.tensor([0, 0, 1, 1])  # each class on one track: no cross-track positive
    assert float(class_triplet_loss(emb, classes, same_track)) == 0.0
    other = torch.tensor([0, 1, 2, 3])  # class 1's rows apart, and one of them near class 0: violated
    assert float(class_triplet_loss(emb, classes, other)) > 0.0


def test_mask_patches_sets_bands_to_the_patch_mean():
    x = torch.arange(2 * 128 * 128, dtype=torch.float32).reshape(2, -1)
    g = torch.Generator().manual_seed(0)
    y = mask_patches(x, max_bins=8, generator=g)
    changed = (y != x).reshape(2, 128, 128)
    for i in range(2):
        rows = changed[i].all(dim=1).sum()
        cols = changed[i].all(dim=0).sum()
        assert rows <= 8 and cols <= 8
        assert torch.all(y[i][changed[i].reshape(-1)] == x[i].mean())
    again = mask_patches(x, max_bins=8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, again)


def test_student_options_refuse_bad_values():
    ok = {"average_epochs": 0, "class_weight": 0.0, "mask_bins": 0, "classes": None, "n_rows": 4}
    with pytest.raises(ValueError, match=r"average_epochs must be an integer >= 0; got -1"):
        check_student_options(**{**ok, "average_epochs": -1})
    with pytest.raises(ValueError, match=r"mask_bins must be an integer >= 0; got 2.5"):
        check_student_options(**{**ok, "mask_bins": 2.5})
    with pytest.raises(ValueError, match=r"mask_bins must be at most 127 .* got 200"):
        check_student_options(**{**ok, "mask_bins": 200})
    with pytest.raises(ValueError, match=r"class_weight must be a number >= 0; got 'x'"):
        check_student_options(**{**ok, "class_weight": "x"})
    with pytest.raises(ValueError, match=r"class_weight > 0 needs one class per training row .*4 rows\); got None"):
        check_student_options(**{**ok, "class_weight": 1.0})
    with pytest.raises(ValueError, match=r"got 3 classes"):
        check_student_options(**{**ok, "class_weight": 1.0, "classes": np.array(["a", "b", "a"])})


def test_student_options_from_job_settings():
    from workbench.train.cnn_student import resolve_job_student, student_options

    assert student_options(None) == {"average_epochs": 0, "class_weight": 0.0, "mask_bins": 0, "precision": "float32"}
    assert student_options({"distill_average_epochs": 4})["average_epochs"] == 4
    with pytest.raises(ValueError, match=r"student settings must be among .*; got \['distill_swa'\]"):
        student_options({"distill_swa": 4})
    with pytest.raises(ValueError, match=r"class_weight must be a number >= 0; got -0.5"):
        student_options({"distill_class_weight": -0.5})
    assert resolve_job_student({"distill": "features", "distill_mask_bins": 8})["distill_mask_bins"] == "set"
    with pytest.raises(ValueError, match=r"distill_mask_bins only apply with distill='features'; got distill=None"):
        resolve_job_student({"distill": None, "distill_mask_bins": 8})


def test_job_passes_the_student_options_and_records_them(tmp_path):
    from conftest import low_high_library
    from test_cnn_backbone import _write

    from workbench import cli
    from workbench.runs import load_run

    lib = low_high_library(tmp_path, _write)
    for i, (folder, freq) in enumerate((("low", 150.0), ("low", 160.0), ("high", 2100.0), ("high", 2250.0))):
        _write(tmp_path / "music" / folder / f"x{i}.wav", freq_hz=freq, seed=8 + i)  # two training tracks per class
    lib.scan(tmp_path / "music", progress=False)
    exp = tmp_path / "exp"
    base = ["--db", str(lib.path), "--quiet", "train", "embeddings", "--backbone", "cnn", "--epochs", "2",
            "--set", "n_views=1", "--set", "invariance_clips=1", "--set", "m=2", "--set", "batch_size=4",
            "--set", "test_size=0.34", "--set", "val_size=0.34", "--classes", "folder", "--experiments", str(exp)]
    try:
        with pytest.raises(ValueError, match=r"distill_average_epochs only apply with distill='features'"):
            _job(lib, exp)
        rc = cli.main([*base, "--distill", "features", "--set", "distill_average_epochs=2",
                       "--set", "distill_class_weight=0.5", "--set", "distill_mask_bins=8",
                       "--set", "distill_rhythm_lags=8", "--set", "distill_keep_tempo=true",
                       "--set", "distill_tempo_bands=12", "--set", "distill_precision=bfloat16"])
    finally:
        lib.close()
    assert rc == 0
    run = load_run(next(exp.glob("*/model.pt")).parent)
    d = run.metrics["distill"]
    assert (d["average_epochs"], d["class_weight"], d["mask_bins"], d["precision"]) == (2, 0.5, 8, "bfloat16")
    assert d["student_stopped"] == "reached max_epochs=2; weights averaged over epochs 1-2"
    from workbench.models.cnn import load_cnn

    assert d["student_options"]["class_term"] == "on"
    assert all(v["from"] == "set" for k, v in d["student_options"].items() if k != "class_term")
    assert d["rhythm_lags"] == 8 and run.config["distill_rhythm_lags"] == 8
    assert d["keep_tempo"] is True and run.config["distill_keep_tempo"] is True
    assert d["tempo_bands"] == 12 and run.config["distill_tempo_bands"] == 12
    net = load_cnn(run.model_path).net
    assert (net.rhythm_lags, net.tempo_bands) == (8, 12)  # the saved network has the branches


def _job(lib, exp):  # type: ignore[no-untyped-def]
    from workbench.train.embeddings_job import train_embeddings_job

    train_embeddings_job(lib, config={"backbone": "cnn", "distill_average_epochs": 2}, experiments_root=exp,
                         progress=False)
