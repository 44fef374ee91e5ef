"""Section classifier: accuracy on held-out demo tracks, smoothing's value, baselines, training speed.

Targets (issue 6): held-out window accuracy >= 0.85 and boundary hit rate (mir_eval detection
F at 3 s, first/last boundaries trimmed) >= 0.8 after smoothing; 1,000 labelled sections
train in under 60 s on this 2-core CPU.

    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_sections.py            # 24 tracks, seed 0
    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_sections.py --folder data/demo --no-ensemble

Every track is held out once (``--folds`` grouped folds); the figures are means over the
held-out tracks. Baselines are cross-validated on the same grouped folds as the MLP.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ACC_TARGET = 0.85
HIT3_TARGET = 0.8
SPEED_TARGET_S = 60.0


def build_library(folder: Path | None, work: Path, *, n_tracks: int, seed: int):
    from workbench.demo import synthesize_library
    from workbench.embed.batch import embed_library
    from workbench.library import Library

    demo = work / "demo"
    if folder is not None:
        shutil.copytree(folder, demo)
    else:
        synthesize_library(demo, n_tracks=n_tracks, seed=seed, progress=False)
    lib = Library(work / "workbench.db")
    lib.scan(demo, progress=False)
    embed_library(lib, progress=False)
    return lib


def held_out(data, *, folds: int, epochs: int, seed: int) -> dict[str, float]:
    from workbench.train.sections import train_sections

    rows = []
    for fold in range(folds):
        r = train_sections(data, config={"holdout": 1 / folds, "holdout_fold": fold, "models": [], "epochs": epochs,
                                         "seed": seed}, progress=False)
        m = r.metrics
        n = len(m["test_tracks"])
        rows.append((n, {
            "acc_raw": m["holdout"]["accuracy"], "f1_raw": m["holdout"]["macro_f1"],
            "acc_smooth": m["holdout_smoothed"]["accuracy"], "f1_smooth": m["holdout_smoothed"]["macro_f1"],
            **{f"{k}_{kind}": v for kind in ("raw", "smoothed") for k, v in m["segments"][kind].items()},
        }))
    total = sum(n for n, _ in rows)
    return {k: sum(n * r[k] for n, r in rows) / total for k in rows[0][1]}


def speed(n_sections: int, *, dim: int, epochs: int, seed: int) -> dict[str, float]:
    """Fit on synthetic windows of ``n_sections`` sections (30 windows each, the demo's mean ~ 15 s).

    Accuracy is on the windows of ``n_sections // 5`` fresh sections drawn the same way.
    """
    from workbench.labels import LABELS
    from workbench.train.sections import SectionTrainer

    rng = np.random.default_rng(seed)
    per = 30
    centres = {c: rng.normal(0, 1, dim) for c in LABELS}

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.choice(LABELS, size=n)
        X = np.vstack([centres[c] + rng.normal(0, 8, (per, dim)) for c in labels]).astype(np.float32)
        return X, np.repeat(labels, per)

    X, y = draw(n_sections)
    X_test, y_test = draw(n_sections // 5)
    t0 = time.perf_counter()
    t = SectionTrainer(epochs=epochs, seed=seed).fit(X, y)
    total = time.perf_counter() - t0
    ep = np.array([h["seconds"] for h in t.history_])
    return {"windows": len(y), "total_s": total, "epoch_s": float(ep.mean()),
            "samples_per_epoch": t.history_[0]["samples"],
            "samples_per_s": float(np.mean([h["samples_per_s"] for h in t.history_])),
            "accuracy": float(np.mean(t.predict(X_test) == y_test))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="an existing demo library folder (FLAC + JSON) to copy")
    parser.add_argument("--n-tracks", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--no-ensemble", action="store_true", help="skip the (slow) RF/GB/SVM ensemble baseline")
    args = parser.parse_args()

    from workbench.train.sections import WindowFeatures, cross_validate, demo_sections, section_dataset

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        lib = build_library(args.folder, Path(tmp), n_tracks=args.n_tracks, seed=args.seed)
        records = demo_sections(lib)
        data = section_dataset(lib, records, progress=False)
        print(f"library: {len(lib.tracks())} tracks, {len(records)} sections, {len(data.y)} windows, "
              f"{data.X.shape[1]}-d features ({data.backbone}); prepared in {time.perf_counter() - t0:.0f} s")

        t0 = time.perf_counter()
        h = held_out(data, folds=args.folds, epochs=args.epochs, seed=args.seed)
        print(f"\nheld-out tracks ({args.folds} grouped folds, every track held out once; {time.perf_counter() - t0:.0f} s)")
        print(f"{'':28s} {'raw (per-beat argmax)':>22s} {'smoothed':>10s} {'target':>8s}")
        print(f"{'window accuracy':28s} {h['acc_raw']:22.3f} {h['acc_smooth']:10.3f} {ACC_TARGET:8.2f}")
        print(f"{'window macro F1':28s} {h['f1_raw']:22.3f} {h['f1_smooth']:10.3f}")
        for w in ("0.5", "3"):
            print(f"{'boundary hit F @' + w + ' s':28s} {h['hit_f_' + w + '_raw']:22.3f} {h['hit_f_' + w + '_smoothed']:10.3f} "
                  f"{(HIT3_TARGET if w == '3' else float('nan')):8.2f}")
            print(f"{'  precision / recall':28s} {h['hit_p_' + w + '_raw']:10.3f} / {h['hit_r_' + w + '_raw']:.3f} "
                  f"{h['hit_p_' + w + '_smoothed']:5.3f}/{h['hit_r_' + w + '_smoothed']:.3f}")
        print(f"{'pairwise F (labels)':28s} {h['pairwise_f_raw']:22.3f} {h['pairwise_f_smoothed']:10.3f}")
        ok = h["acc_smooth"] >= ACC_TARGET and h["hit_f_3_smoothed"] >= HIT3_TARGET
        print(f"targets: {'MET' if ok else 'NOT MET'}")

        models = ("mlp", "logreg") if args.no_ensemble else ("mlp", "logreg", "ensemble")
        t0 = time.perf_counter()
        cv = cross_validate(data.X, data.y, data.groups, n_splits=args.folds, seed=args.seed, models=models,
                            trainer_params={"epochs": args.epochs})
        plain = section_dataset(lib, records, features=WindowFeatures(context_s=(), track_relative=False,
                                                                       position=False), progress=False)
        cv_plain = cross_validate(plain.X, plain.y, plain.groups, n_splits=args.folds, seed=args.seed,
                                  models=("mlp",), trainer_params={"epochs": args.epochs})
        print(f"\ngrouped {args.folds}-fold CV, window level, same folds for every model ({time.perf_counter() - t0:.0f} s)")
        print(f"{'model':34s} {'accuracy':>9s} {'macro F1':>9s} {'seconds':>8s}")
        for name in models:
            r = cv[name]
            print(f"{name + ' (context features)':34s} {r['accuracy']:9.3f} {r['macro_f1']:9.3f} {r['seconds']:8.1f}")
        r = cv_plain["mlp"]
        print(f"{'mlp (frame only, ablation)':34s} {r['accuracy']:9.3f} {r['macro_f1']:9.3f} {r['seconds']:8.1f}")
        print("mlp per-class recall: " + ", ".join(f"{c} {v['recall']:.2f}" for c, v in cv["mlp"]["per_class"].items()))

        s = speed(1000, dim=data.X.shape[1], epochs=args.epochs, seed=args.seed)
        print(f"\nspeed: 1,000 synthetic sections = {s['windows']} windows x {data.X.shape[1]}-d, "
              f"{args.epochs} epochs of {s['samples_per_epoch']} windows; held-out accuracy {s['accuracy']:.3f}")
        print(f"  total {s['total_s']:.1f} s (target < {SPEED_TARGET_S:.0f} s: {'MET' if s['total_s'] < SPEED_TARGET_S else 'NOT MET'}), "
              f"{s['epoch_s']:.2f} s/epoch, {s['samples_per_s']:.0f} samples/s")


if __name__ == "__main__":
    main()
