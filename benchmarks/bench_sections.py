"""Section classifier: training time with every baseline, and held-out quality on demo tracks.

Target (issue 13): 100 and 1,000 labelled sections train in under a minute on this 2-core CPU,
*including* every baseline (majority, logistic regression, the RF/GB/SVM ensemble), all scored on
the same held-out windows. Speed (default) uses synthetic demo labels: tracks that follow the
EDM demo styles' section templates (:mod:`workbench.demo.styles`), with 202-d frame features
(the feature frontend's size) that carry a per-label signal under per-track offsets and noise,
made into the real window features (1,012-d). ``--demo`` adds the held-out quality on a
synthesized demo library (audio → embeddings → windows), every track held out once.

    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_sections.py              # 100 and 1,000
    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_sections.py --sections 88 --demo

Wall seconds depend on what else runs on the shared cores, so CPU seconds (this process, all
threads) are printed next to them.

Measured on the shared 2-core machine (load average about 8), 2026-12-05:

    sections  windows  wall s  cpu s  mlp s  majority s  logreg s  ensemble s
         100     3020    21.0    6.9   12.2         0.3       0.5         7.0
        1000    29414    31.0   10.2   13.2         0.1       0.7         9.8

Before (commit a12ed61's ``train_sections`` with its defaults on the same 100 synthetic sections:
5-fold CV of the MLP, logreg and the ensemble, then the MLP): 485 s wall, 144 s CPU (CV: ensemble
394 s, logreg 29 s, MLP 59 s). What changed: scikit-learn's BLAS/OpenMP pools held to one thread
(two threads spin on busy cores: a logistic-regression fit took 4.1 s vs 0.05 s), the baselines
fit once on the training tracks (at most 3,000 windows) and are scored on the held-out windows
instead of cross-validated (CV is opt-in, ``models``), gradient boosting with 63 bins and 15
leaves, the MLP's epochs capped at 4,096 windows and stopped early on validation tracks.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

SPEED_TARGET_S = 60.0
ACC_TARGET = 0.85
HIT3_TARGET = 0.8


#: Styles of the synthetic tracks: the four EDM forms (intro, build, drop, break, build, drop, outro), so
#: 100 sections give every label its 10 (with house and downtempo, verses and choruses fall short).
SYNTHETIC_STYLES = ("trance", "progressive", "techno", "dnb")


def synthetic_sections(n_sections: int, *, seed: int = 0, dim: int = 202, hop_s: float = 0.5,
                       styles: tuple[str, ...] = SYNTHETIC_STYLES):
    """A :class:`~workbench.train.sections.SectionData` of ``n_sections`` sections in demo arrangements."""
    from workbench.demo.styles import SPECS
    from workbench.labels import LABELS
    from workbench.train.sections import SectionData, TrackFrames, WindowFeatures

    rng = np.random.default_rng(seed)
    spec = WindowFeatures()
    centres = {c: rng.normal(0, 1, dim) for c in LABELS}
    tracks, made, index = [], 0, 0
    while made < n_sections:
        style = SPECS[styles[index % len(styles)]]
        bpm = float(rng.uniform(*style.bpm_range))
        bar_s = 240.0 / bpm
        plans = style.template[: n_sections - made]
        bars = [int(rng.choice(p.bars)) for p in plans]
        edges = np.concatenate([[0.0], np.cumsum(bars) * bar_s])
        duration_s = float(edges[-1])
        times = np.arange(hop_s / 2, duration_s, hop_s)
        frames = rng.normal(0, 4.0, (times.size, dim)) + rng.normal(0, 1.5, dim)
        sections = []
        for p, a, b in zip(plans, edges[:-1], edges[1:], strict=True):
            inside = (times >= a) & (times < b)
            frames[inside] += centres[p.label]
            sections.append({"start_s": float(a), "end_s": float(b), "label": p.label})
        beats = np.arange(0.0, duration_s, 60.0 / bpm)
        index += 1
        tracks.append(TrackFrames(index, f"synthetic {index}", duration_s,
                                  spec.transform(frames, times, duration_s=duration_s), times, beats, beats[::4],
                                  sections, content_hash=f"synthetic-{seed}-{index}"))
        made += len(plans)
    return SectionData(tracks, spec, "features-v1")


def speed(n_sections: int, *, seed: int, config: dict) -> dict:
    from workbench.train.sections import train_sections

    data = synthetic_sections(n_sections, seed=seed)
    wall, cpu = time.perf_counter(), time.process_time()
    result = train_sections(data, config={"seed": seed, **config}, progress=False)
    m = result.metrics
    return {"sections": sum(data.section_counts().values()), "windows": len(data.y), "tracks": len(data.tracks),
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "seconds": m["seconds"],
            "epochs": m["early_stopping"]["epochs_run"], "best_epoch": m["early_stopping"].get("best_epoch"),
            "scores": {"model": m["model"], **m["baselines"]}, "warnings": m["warnings"]}


def held_out_demo(n_tracks: int, *, folds: int, seed: int) -> dict[str, float]:
    """Every track of a synthesized demo library held out once; means over held-out tracks."""
    from workbench.demo import synthesize_library
    from workbench.embed.batch import embed_library
    from workbench.library import Library
    from workbench.train.sections import demo_sections, section_dataset, train_sections

    with tempfile.TemporaryDirectory() as tmp:
        synthesize_library(Path(tmp) / "demo", n_tracks=n_tracks, seed=seed, progress=False)
        lib = Library(Path(tmp) / "workbench.db")
        lib.scan(Path(tmp) / "demo", progress=False)
        embed_library(lib, progress=False)
        data = section_dataset(lib, demo_sections(lib), progress=False)
        lib.close()
    rows = []
    for fold in range(folds):
        m = train_sections(data, config={"holdout": 1 / folds, "holdout_fold": fold, "seed": seed},
                           progress=False).metrics
        rows.append((len(m["test_tracks"]), {
            "model": m["model"]["accuracy"], "smoothed": m["model_smoothed"]["accuracy"],
            "model_f1": m["model"]["macro_f1"], "majority": m["baselines"]["majority"]["accuracy"],
            "majority_f1": m["baselines"]["majority"]["macro_f1"], "logreg_f1": m["baselines"]["logreg"]["macro_f1"],
            "boundary_f_3s": m["segments"]["smoothed"]["boundary_f_3s"],
            "boundary_f_3s_raw": m["segments"]["raw"]["boundary_f_3s"]}))
    total = sum(n for n, _ in rows)
    return {k: sum(n * r[k] for n, r in rows) / total for k in rows[0][1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", type=int, nargs="+", default=[100, 1000], help="labelled sections to train on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cv", action="store_true", help="also cross-validate the MLP and logreg (config models)")
    parser.add_argument("--demo", action="store_true", help="held-out quality on a synthesized demo library")
    parser.add_argument("--n-tracks", type=int, default=24)
    parser.add_argument("--folds", type=int, default=4)
    args = parser.parse_args()

    config = {"models": ["mlp", "logreg"]} if args.cv else {}
    results = [speed(n, seed=args.seed, config=config) for n in args.sections]
    names = ["mlp", "majority", "logreg", "ensemble"] + (["cv"] if args.cv else [])
    print(f"section training with every baseline (synthetic demo labels; target < {SPEED_TARGET_S:.0f} s wall)")
    print(f"{'sections':>8} {'windows':>8} {'wall s':>7} {'cpu s':>7} " + " ".join(f"{n + ' s':>11}" for n in names)
          + f" {'epochs':>7} {'target':>7}")
    for r in results:
        print(f"{r['sections']:>8} {r['windows']:>8} {r['wall_s']:>7.1f} {r['cpu_s']:>7.1f} "
              + " ".join(f"{r['seconds'].get(n, float('nan')):>11.1f}" for n in names)
              + f" {r['epochs']:>4}/{r['best_epoch']!s:<2} {'MET' if r['wall_s'] < SPEED_TARGET_S else 'NOT MET':>7}")
    print("\nheld-out windows, accuracy / macro F1 (the same windows for every column)")
    cols = list(results[0]["scores"])
    print(f"{'sections':>8} " + " ".join(f"{c:>15}" for c in cols))
    for r in results:
        print(f"{r['sections']:>8} " + " ".join(f"{r['scores'][c]['accuracy']:>7.3f}/{r['scores'][c]['macro_f1']:<7.3f}"
                                               for c in cols))
        for w in r["warnings"]:
            print(f"  warning: {w}")

    if args.demo:
        t0 = time.perf_counter()
        h = held_out_demo(args.n_tracks, folds=args.folds, seed=args.seed)
        print(f"\ndemo library, {args.n_tracks} tracks, {args.folds} grouped folds, every track held out once "
              f"({time.perf_counter() - t0:.0f} s)")
        print(f"window accuracy: model {h['model']:.3f}, smoothed {h['smoothed']:.3f} (target {ACC_TARGET}), "
              f"majority {h['majority']:.3f}")
        print(f"macro F1: model {h['model_f1']:.3f}, logreg {h['logreg_f1']:.3f}, majority {h['majority_f1']:.3f}")
        print(f"boundary F @3 s: smoothed {h['boundary_f_3s']:.3f} (target {HIT3_TARGET}), raw {h['boundary_f_3s_raw']:.3f}")


if __name__ == "__main__":
    main()
