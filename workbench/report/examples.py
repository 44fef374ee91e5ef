"""Synthetic example runs with realistic shapes: to try reports and comparisons before any training.

The arrays are random but seeded; the metrics in ``metrics.json`` are computed from them with
:mod:`workbench.evaluate`, so a report's recorded and recomputed columns agree. Used by the
tests and by ``notebooks/05_compare_experiments.ipynb`` when no real run exists yet.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ParameterError

STYLES = ("trance", "house", "techno", "dnb", "ambient", "hiphop")
_TEMPLATE = (("intro", 16), ("build", 16), ("drop", 32), ("break", 16), ("build", 8), ("drop", 32), ("outro", 16))


def _tracks(n_tracks: int) -> list[dict[str, Any]]:
    return [{"id": i + 1, "content_hash": f"{i + 1:04x}" + "ab" * 30, "name": f"{i + 1:03d}_{STYLES[i % 6]}.flac"}
            for i in range(n_tracks)]


def _sections(rng: np.random.Generator, beat_s: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    t = 0.0
    for label, beats in _TEMPLATE:
        d = beats * beat_s * float(rng.choice([0.5, 1.0, 1.0, 1.5]))
        out.append({"start_s": round(t, 3), "end_s": round(t + d, 3), "label": label})
        t += d
    return out


def _predict(rng: np.random.Generator, truth: list[dict[str, Any]], error: float) -> list[dict[str, Any]]:
    from workbench.labels import LABELS

    out: list[dict[str, Any]] = []
    for i, s in enumerate(truth):
        start = s["start_s"] if i == 0 else out[-1]["end_s"]
        end = s["end_s"] if i == len(truth) - 1 else s["end_s"] + float(rng.normal(0, 4 * error))
        end = max(end, start + 1.0)
        label = s["label"] if rng.random() > error else str(rng.choice(LABELS[:5]))
        out.append({"start_s": round(start, 3), "end_s": round(end, 3), "label": label,
                    "confidence": round(float(np.clip(rng.normal(0.85 - error, 0.1), 0.05, 1.0)), 3)})
    return out


def _frames(sections: list[dict[str, Any]], hop_s: float, duration_s: float) -> list[str]:
    times = np.arange(0.0, duration_s, hop_s) + hop_s / 2
    labels = []
    for t in times:
        hit = next((s["label"] for s in sections if s["start_s"] <= t < s["end_s"]), sections[-1]["label"])
        labels.append(hit)
    return labels


def write_example_run(kind: str, *, root: str | os.PathLike[str] | None = None, seed: int = 0,
                      n_tracks: int = 12, quality: float = 0.7, epochs: int = 8,
                      config: Mapping[str, Any] | None = None, backbone: str = "features-v1") -> Path:
    """Write a synthetic run folder of ``kind`` ("embeddings" | "sections") and return its path.

    Parameters
    ----------
    kind : {"embeddings", "sections"}
    root : experiments folder (default :func:`workbench.config.experiments_dir`)
    seed : int
        Seeds every array, so the same arguments give the same run (apart from its id).
    n_tracks : int >= 3
        Tracks in ``data.json`` (labels follow the tracks, so more tracks = labels added).
    quality : float in (0, 1)
        How good the fake model is (class separation / prediction accuracy).
    epochs : int >= 1
        Rows in ``history.json``.
    config : extra hyperparameters merged into ``config.json``.
    backbone : backbone name written to ``run.json``.
    """
    from workbench.evaluate import (
        classification_metrics,
        clustering_metrics,
        retrieval_metrics,
        segmentation_metrics,
    )
    from workbench.labels import LABELS
    from workbench.runs import RUN_KINDS, code_version, new_run_id, write_run

    if kind not in RUN_KINDS:
        raise ParameterError(f"kind must be one of {RUN_KINDS}; got {kind!r}")
    if not 0 < quality < 1:
        raise ParameterError(f"quality must be in (0, 1); got {quality!r}")
    if n_tracks < 3:
        raise ParameterError(f"n_tracks must be >= 3; got {n_tracks!r}")
    rng = np.random.default_rng(seed)
    tracks = _tracks(n_tracks)
    beat_s = 60.0 / 128.0
    # sections depend on the track only, so runs over more tracks only add labels
    truths = {t["content_hash"]: _sections(np.random.default_rng([t["id"]]), beat_s) for t in tracks}
    labels = [{"track_hash": h, **s} for h, secs in truths.items() for s in secs]
    dim = 202 if backbone.startswith("features") else 512
    now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    info = {"kind": kind, "created_at": now, "finished_at": now, "job_id": None, "seed": seed,
            "code_version": code_version(), "backbone": {"name": backbone, "settings": {"hop_s": 0.5}, "dim": dim}}
    lr = float(rng.choice([1e-3, 3e-4]))
    decay = 0.25 + 0.3 * quality
    history = []
    for e in range(1, epochs + 1):
        row: dict[str, Any] = {"epoch": e, "train_loss": round(float(0.9 * np.exp(-decay * e) + 0.05 * rng.random()), 4)}
        if kind == "embeddings":
            row["val_map_at_r"] = round(float(quality * (1 - np.exp(-0.5 * e)) + 0.02 * rng.random()), 4)
            row["mined_triplets"] = int(4000 * np.exp(-0.3 * e))
        else:
            row["val_loss"] = round(float(1.0 * np.exp(-0.6 * decay * e) + 0.2 + 0.05 * rng.random()), 4)
            row["val_accuracy"] = round(float(quality * (1 - np.exp(-0.6 * e)) + 0.02 * rng.random()), 4)
        row["seconds"] = round(float(1.0 + rng.random()), 2)
        history.append(row)

    if kind == "embeddings":
        names = list(STYLES)
        n_per = 20
        classes = np.repeat(np.arange(len(names)), n_per)
        centers = rng.normal(size=(len(names), 32))
        sep = 0.2 + 0.8 * quality
        emb = centers[classes] * sep + rng.normal(size=(classes.size, 32))
        base = centers[classes] * 0.3 + rng.normal(size=(classes.size, 32))
        model = {**retrieval_metrics(emb, classes), **clustering_metrics(emb, classes, seed=seed)}
        baseline = {**retrieval_metrics(base, classes), **clustering_metrics(base, classes, seed=seed)}
        arrays: dict[str, np.ndarray] = {"embeddings": emb.astype(np.float32), "classes": classes, "class_names": np.array(names)}
        metrics: dict[str, Any] = {
            "model": model, "baseline": baseline, "baselines": {"backbone": baseline},
            "invariance": {"pitch": {s: round(float(0.97 - 0.05 * abs(float(s)) * (1.2 - quality)), 4)
                                     for s in ("-3", "-1", "1", "3")},
                           "stretch": {"0.9": round(0.93 + 0.05 * quality, 4), "1.1": round(0.92 + 0.05 * quality, 4)},
                           "gain": {"-6": 0.995, "3": 0.998}}}
        timeline = None
        label_counts = {n: n_per for n in names}
        cfg = {"epochs": epochs, "lr": lr, "batch_size": 64, "margin": 0.2, "miner": "semihard",
               "out_dim": 256, "hidden_dim": 512}
    else:
        names = list(LABELS)
        error = 1.0 - quality
        timeline, y_true, y_pred = [], [], []
        for t in tracks[:4]:
            truth = truths[t["content_hash"]]
            pred = _predict(rng, truth, error * 0.6)
            duration = truth[-1]["end_s"]
            timeline.append({"track_id": t["id"], "name": t["name"], "duration_s": duration,
                             "truth": truth, "predicted": pred})
            y_true += _frames(truth, 0.5, duration)
            y_pred += _frames(pred, 0.5, duration)
        yt = np.array([names.index(x) for x in y_true])
        yp = np.array([names.index(x) for x in y_pred])
        logits = np.eye(len(names))[yp] * (1 + 3 * quality) + rng.normal(0, 0.5, (yp.size, len(names)))
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        cls = classification_metrics(yt, yp, class_names=names)
        majority = np.full_like(yt, np.bincount(yt).argmax())
        base_cls = classification_metrics(yt, majority, class_names=names)
        seg = segmentation_metrics(timeline)
        metrics = {"model": {"accuracy": cls["accuracy"], "macro_f1": cls["macro_f1"],
                             **{k: v for k, v in seg.items() if k != "n_tracks"}},
                   "baseline": {"accuracy": base_cls["accuracy"], "macro_f1": base_cls["macro_f1"]}}
        arrays = {"y_true": yt, "y_pred": yp, "probs": probs.astype(np.float32)}
        label_counts = {}
        for lab in labels:
            label_counts[lab["label"]] = label_counts.get(lab["label"], 0) + 1
        cfg = {"epochs": epochs, "lr": lr, "batch_size": 128, "window_s": 4.0, "hidden_dim": 256,
               "dropout": 0.2, "smoothing": "hmm"}
    cfg.update(dict(config or {}))
    data = {"fingerprint": f"{seed:08x}{n_tracks:04x}" + "0" * 52, "tracks": tracks, "label_counts": label_counts,
            "classes": names, "labels": labels,
            "splits": {"train": [t["id"] for t in tracks[4:]], "test": [t["id"] for t in tracks[:4]]}}
    return write_run(new_run_id(kind), info=info, config_=cfg, data=data, history=history, metrics=metrics,
                     arrays=arrays, timeline=timeline, root=root)
