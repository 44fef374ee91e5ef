"""The distilled student's fast path (workbench.models.cnn_fast): channels-last layout, bfloat16 option."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _net(seed: int = 0):
    from workbench.models.cnn import build_cnn

    return build_cnn(seed=seed, stats=True, rhythm_lags=96).net.eval()


def test_layout_keeps_outputs_and_restores_the_default_layout():
    from workbench.models.cnn_fast import embed_patches, student_layout

    net = _net()
    x = np.random.default_rng(0).standard_normal((5, 128 * 128)).astype(np.float32) * 4
    before = embed_patches(net, x)
    with torch.no_grad():
        direct = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(before, direct, atol=1e-6)
    with student_layout(net):
        assert net.blocks[4].weight.is_contiguous(memory_format=torch.channels_last)
        assert not net.blocks[4].weight.is_contiguous()
        inside = embed_patches(net, x)
    assert all(p.is_contiguous() for p in net.parameters())  # saved and exported as before
    np.testing.assert_allclose(inside, before, atol=1e-5)
    np.testing.assert_allclose(embed_patches(net, x), before, atol=0)


def test_bfloat16_embeddings_are_close_and_float32():
    from workbench.models.cnn_fast import embed_patches

    net = _net(1)
    x = np.random.default_rng(1).standard_normal((4, 128 * 128)).astype(np.float16)
    full, half = embed_patches(net, x), embed_patches(net, x, precision="bfloat16")
    assert half.dtype == np.float32 and half.shape == full.shape == (4, 128)
    assert np.min(np.sum(full * half, axis=1)) > 0.99  # close, not equal: bfloat16 keeps 8 bits of mantissa
    assert np.max(np.abs(full - half)) > 0
    assert embed_patches(net, x[:0]).shape == (0, 128)


def test_bad_precision_is_refused_everywhere():
    from workbench.errors import ParameterError
    from workbench.models.cnn_fast import check_precision
    from workbench.train.cnn_distill import StudentRows, fit_student
    from workbench.train.cnn_student import describe_student, resolve_job_student, student_options
    from workbench.train.triplet import TripletConfig

    with pytest.raises(ParameterError, match=r"precision must be one of \['float32', 'bfloat16'\]; got 'half'"):
        check_precision("half")
    with pytest.raises(ParameterError, match="precision must be one of"):
        student_options({"distill_precision": "float16"})
    with pytest.raises(ParameterError, match="precision must be one of"):
        resolve_job_student({"distill": "features", "distill_precision": 16})
    cfg = {"distill": "features"}
    assert resolve_job_student(cfg)["distill_precision"] == "default" and cfg["distill_precision"] == "float32"
    with pytest.raises(ValueError, match="distill_precision only apply with distill='features'"):
        resolve_job_student({"distill": None, "distill_precision": "bfloat16"})
    rows = StudentRows(np.zeros((4, 128 * 128), np.float16), np.eye(4, 128, dtype=np.float32), np.arange(4),
                       features=np.ones((4, 202), np.float32))
    with pytest.raises(ParameterError, match=r"precision='bfloat16' needs feature_weight=0; got feature_weight=0.5"):
        fit_student(_net(), rows, rows, cfg=TripletConfig(max_epochs=2), feature_weight=0.5, precision="bfloat16")
    record = {"distill_precision": {"value": "bfloat16"}, "class_term": "on"}
    assert "bfloat16 compute" in describe_student(record)
    assert "compute" not in describe_student({"distill_precision": {"value": "float32"}, "class_term": "on"})


def test_bfloat16_student_trains_and_leaves_float32_weights():
    from workbench.train.cnn_distill import StudentRows, fit_student
    from workbench.train.triplet import TripletConfig

    rng = np.random.default_rng(3)
    targets = rng.standard_normal((2, 128)).astype(np.float32)
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    kind = np.repeat([0, 1], 16)
    patches = (rng.standard_normal((32, 128 * 128)) + 3 * kind[:, None]).astype(np.float16)
    rows = StudentRows(patches, targets[kind], np.repeat(np.arange(8), 4))
    net = _net(2).train()
    history, _, _ = fit_student(net, rows, rows, cfg=TripletConfig(max_epochs=6, seed=0, lr=3e-3), batch_size=8,
                                rows_per_epoch=32, precision="bfloat16")
    assert history[-1]["val_cosine"] > history[0]["val_cosine"] + 0.1  # it learns the two targets
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in net.parameters())
