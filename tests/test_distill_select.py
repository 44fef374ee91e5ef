"""Issue 19: the distilled student's epoch kept by validation retrieval (teacher cosine breaking ties)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench.models.cnn import build_cnn  # noqa: E402
from workbench.train.cnn_distill import StudentRows, _better, fit_student, retrieval_select  # noqa: E402
from workbench.train.triplet import TripletConfig  # noqa: E402


def _two_kinds(n: int = 24, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patches of two kinds (a ramp added to half), their kind, and 4 tracks of each kind."""
    rng = np.random.default_rng(seed)
    patches = rng.normal(size=(n, 128 * 128)).astype(np.float16)
    patches[: n // 2] += np.linspace(-2, 2, 128 * 128, dtype=np.float16)
    kind = np.repeat(["ramp", "flat"], n // 2)
    tracks = np.arange(n) // (n // 8)
    return patches, kind, tracks


class _Sign(torch.nn.Module):
    """Embeds a patch by whether its ramp correlation passes half the ramp's energy: separates the two kinds."""

    def forward(self, x):  # type: ignore[no-untyped-def]
        ramp = torch.linspace(-2, 2, 128 * 128)
        s = torch.sign((x.reshape(len(x), -1) * ramp).sum(dim=1, keepdim=True) - 0.5 * float((ramp * ramp).sum()))
        return torch.cat([s, torch.ones_like(s)], dim=1) / math.sqrt(2.0)


def test_retrieval_select_scores_the_validation_rows_among_the_training_ones():
    patches, kind, tracks = _two_kinds()
    queries = np.isin(tracks, [0, 4])  # one track of each kind asks
    score = retrieval_select(patches, kind, tracks, queries)
    assert score(_Sign()) == pytest.approx(1.0)
    shuffled = retrieval_select(patches, np.roll(kind, 3), tracks, queries)  # labels that do not follow the audio
    assert shuffled(_Sign()) < 0.9
    lone = retrieval_select(patches, np.where(tracks == 0, "only", kind), tracks, tracks == 0)
    assert math.isnan(lone(_Sign()))  # no same-class window on another track: no verdict


def test_retrieval_select_refuses_mismatched_rows_and_no_queries():
    patches, kind, tracks = _two_kinds()
    with pytest.raises(ValueError, match=r"one entry per row \(24\); got 23 labels"):
        retrieval_select(patches, kind[:-1], tracks, tracks == 0)
    with pytest.raises(ValueError, match=r"queries of dtype int64"):
        retrieval_select(patches, kind, tracks, (tracks == 0).astype(np.int64))
    with pytest.raises(ValueError, match=r"needs at least one query row; got none"):
        retrieval_select(patches, kind, tracks, np.zeros(24, dtype=bool))


def test_better_orders_by_selection_then_cosine():
    assert _better((0.8, 0.1), (0.7, 0.9))  # a higher retrieval score wins over a higher cosine
    assert not _better((0.7, 0.95), (0.8, 0.1))
    assert _better((0.8, 0.5), (0.8 + 1e-9, 0.4))  # the same score: the cosine decides
    assert _better((-math.inf, 0.5), (-math.inf, 0.4)) and not _better((-math.inf, 0.4), (-math.inf, 0.5))
    assert _better((0.1, 0.0), (-math.inf, 0.9))  # any verdict beats none


def _rows(seed: int = 0) -> StudentRows:
    patches, kind, tracks = _two_kinds(seed=seed)
    targets = np.zeros((len(patches), 128), np.float32)
    targets[kind == "ramp", 0] = targets[kind == "flat", 1] = 1.0
    return StudentRows(patches, targets, tracks)


def test_fit_student_keeps_the_epoch_the_selection_prefers_and_records_it():
    rows = _rows()
    scores = iter([0.2, 0.9, 0.5, 0.4])  # epoch 2 retrieves best, whatever its cosine
    cfg = TripletConfig(lr=3e-3, max_epochs=4, patience=4, seed=0, weight_decay=0.0)
    kept: dict[int, dict] = {}

    def select(net):  # type: ignore[no-untyped-def]
        kept[len(kept) + 1] = {k: v.clone() for k, v in net.state_dict().items()}
        return next(scores)

    net = build_cnn(seed=0, stats=True).net
    history, best_epoch, stopped = fit_student(net, rows, rows, cfg=cfg, batch_size=8, select=select)
    assert best_epoch == 2 and [h["val_select"] for h in history] == [0.2, 0.9, 0.5, 0.4]
    assert all(torch.equal(v, kept[2][k]) for k, v in net.state_dict().items())  # epoch 2's weights are back
    assert stopped.startswith("reached max_epochs=4")


def test_fit_student_breaks_selection_ties_by_cosine_and_stops_on_the_selection():
    rows = _rows(1)
    cfg = TripletConfig(lr=3e-3, max_epochs=5, patience=2, seed=0, weight_decay=0.0)
    history, best_epoch, _ = fit_student(build_cnn(seed=0, stats=True).net, rows, rows, cfg=cfg, batch_size=8,
                                         select=lambda net: 1.0)  # saturated: every epoch ties
    cos = [h["val_cosine"] for h in history]
    assert best_epoch == int(np.argmax(cos)) + 1
    flat = iter([0.9, 0.5, 0.5, 0.5, 0.5])  # never better than epoch 1: stops after 2 stale epochs
    history, best_epoch, stopped = fit_student(build_cnn(seed=0, stats=True).net, rows, rows, cfg=cfg, batch_size=8,
                                               select=lambda net: next(flat))
    assert best_epoch == 1 and len(history) == 3
    assert stopped == "early stop: validation score did not improve for 2 epochs"


def test_bench_replay_keeps_the_same_epoch_as_fit_student():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_distill_draws import kept_epoch, summary

    log = [{"epoch": e, "val_cosine": c, "val_retrieval": r, "held_out": h} for e, c, r, h in
           [(1, 0.5, 0.6, 0.5), (2, 0.7, 0.9, 0.9), (3, 0.8, 0.7, 0.7), (4, 0.85, 0.7, 0.6), (5, 0.9, 0.95, 0.95)]]
    assert kept_epoch(log, "cosine", patience=4) == 5
    assert kept_epoch(log, "retrieval", patience=2) == 2  # stopped before epoch 5
    assert kept_epoch(log, "retrieval", patience=3) == 5
    text = summary([{"seed": 0, "features_head": {"map_at_r": 0.9}, "epochs": log}], patience=2)
    assert "0.950 ( 5)" in text and "0.900 ( 2)" in text and "+0.050" in text and "+0.000" in text


def test_job_select_takes_at_most_select_windows_per_track_and_scores_validation_against_training():
    from workbench.train import cnn_distill
    from workbench.train.datasets import EmbeddingSet

    patches, kind, tracks = _two_kinds(48, seed=2)  # 8 tracks of 6 windows
    y = (kind == "flat").astype(np.int64)
    is_val = np.isin(tracks, [0, 7])
    train = EmbeddingSet(patches[~is_val], y[~is_val], ["ramp", "flat"], tracks[~is_val], np.zeros((~is_val).sum()))
    val = EmbeddingSet(patches[is_val], y[is_val], ["ramp", "flat"], tracks[is_val], np.zeros(is_val.sum()))
    seen: list[int] = []
    mp = pytest.MonkeyPatch()
    mp.setattr(cnn_distill, "SELECT_WINDOWS", 4)
    mp.setattr(cnn_distill, "_student_embed", lambda net, p: (seen.append(len(p)), _Sign()(torch.from_numpy(
        p.astype(np.float32))).numpy())[1])
    try:
        score = cnn_distill._job_select(train, val)
        assert score is not None and score(None) == pytest.approx(1.0)
    finally:
        mp.undo()
    assert seen == [8 * 4]  # 4 of each track's 6 windows
    empty = EmbeddingSet(np.zeros((0, 128 * 128)), np.zeros(0), ["ramp", "flat"], np.zeros(0), np.zeros(0))
    assert cnn_distill._job_select(train, empty) is None  # no validation rows: the cosine alone
