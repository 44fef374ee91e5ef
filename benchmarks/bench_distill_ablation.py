"""Distillation settings of the CNN, chosen on validation tracks only, then the held-out figures (issue 19).

For each seed: the demo (``--tracks`` x ``--duration`` s, generator seed 0) holds out ``--hold-out``
tracks per style (drawn with the seed, as :mod:`bench_backbones` does); the rest are the training
tracks, of which one per style (seeded) is a validation track (one per style: its MAP@R has no
same-style partner, so variants are chosen by the validation cosine to the teacher, the criterion the
job keeps its epoch by). On the remaining fit tracks:

- the teacher: the feature frontend's triplet head (:func:`workbench.train.cnn_distill.train_teacher`,
  its early stopping on the validation tracks), which is also the ``features + head`` system;
- the student rows (:func:`~workbench.train.cnn_distill.student_rows`, ``--views`` augmented views),
  once per seed, shared by every variant;
- each ``--variants`` entry: a CNN from the seed's initial weights trained by
  :func:`~workbench.train.cnn_distill.fit_student` with that variant's settings.

Every system is scored as :mod:`bench_backbones` scores it (8-s windows, the CNN's 3-s embeddings every
1 s mean-pooled inside each, MAP@R with same-track exclusion, classes = style) on the held-out tracks
(reported, never chosen by).
Each (seed, variant) is appended as one JSON line to ``--out`` as soon as it is done.

Session 7 (2026-12-06, shared 2-core CPU, load 5-14, one process per seed, one torch thread each;
18 fit / 6 validation / 12 held-out tracks per seed, 36 x 40 s demo), held-out MAP@R over seeds 0, 1, 2:
features + head 0.911 ± 0.006 (0.906..0.917); cnn distilled [base] (the job's settings) 0.891 ± 0.140
(0.730..0.981), per seed -0.187 / +0.056 / +0.072 against features + head (mean -0.020 ± 0.145);
student validation cosine 0.914 ± 0.029; ~45 min wall per student (12 epochs x 768 rows). ``feat1``
(the frontend's features as a second target, weight 1): validation cosine lower on every seed
(0.904 ± 0.027), so not kept (``FEATURE_WEIGHT`` stays 0); its held-out MAP@R, looked at after, 0.857 ± 0.113.

    python benchmarks/bench_distill_ablation.py --seeds 0,1,2 --variants base,nostats,feat1 [--out X.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

#: Student settings per variant name (unset: fit_student's / DISTILL_DEFAULTS').
VARIANTS: dict[str, dict] = {
    "base": {},
    "nostats": {"stats": False},
    "feat1": {"feature_weight": 1.0},
    "feat03": {"feature_weight": 0.3},
    "long": {"max_epochs": 24, "patience": 6},
    "feat1long": {"feature_weight": 1.0, "max_epochs": 24, "patience": 6},
    "rows2x": {"rows_per_epoch": 1536},
}


def _split_val(tracks, *, seed: int):
    from workbench.train.classes import track_style

    rng = np.random.default_rng(seed + 1000)
    by_style: dict[str, list] = {}
    for t in tracks:
        by_style.setdefault(track_style(t), []).append(t)
    val = {g[int(rng.integers(len(g)))].id for _, g in sorted(by_style.items())}
    return [t for t in tracks if t.id not in val], [t for t in tracks if t.id in val]


def _cnn_score(library, net, tracks, *, seed: int) -> dict:
    from bench_backbones import _score, _vectors

    from workbench.models.cnn import build_cnn
    from workbench.models.cnn_backbone import CNNBackbone

    model = build_cnn(seed=seed, stats=bool(net.stats))
    model.net.load_state_dict(net.state_dict())
    data = _vectors(library, tracks, CNNBackbone(model.eval(), hop_s=1.0), classes="style")
    return _score(data.X, data)


def teacher_rows(library, fit, val, held, *, seed: int, views: int, stretch: bool = True) -> tuple:
    """Train the draw's feature-frontend teacher and build the student's rows.

    Parameters
    ----------
    library : Library
        The demo library.
    fit, val, held : list of Track
        The draw's fit, validation and held-out tracks.
    seed : int
        The draw's seed (teacher, views).
    views : int >= 0
        Augmented views per fit track in the student's rows.
    stretch : bool
        Those views may be time-stretched (False: ``student_rows(stretch=False)``).

    Returns
    -------
    (StudentRows, StudentRows, float)
        The fit and validation rows, and the teacher's held-out MAP@R (features + head).
    """
    from bench_backbones import _score, _vectors

    from workbench.embed.features import FeatureFrontend
    from workbench.train.cnn_distill import student_rows, train_teacher
    from workbench.train.triplet import TripletConfig, embed

    cfg = TripletConfig(seed=seed, num_threads=1, m=4)
    teacher = train_teacher(library, {"train": fit, "val": val, "test": []}, classes="style", cfg=cfg, out_dim=128,
                            n_views=1, progress=False).model
    f = _vectors(library, held, FeatureFrontend(), classes="style")
    score = _score(embed(teacher, f.X), f)
    return (student_rows(fit, teacher, n_views=views, seed=seed, stretch=stretch),
            student_rows(val, teacher, n_views=0, seed=seed), score)


def run_seed(library, tracks, *, seed: int, variants: list[str], views: int, out: Path, hold_out: int) -> None:
    from bench_backbones import _hold_out

    from workbench.models.cnn import build_cnn
    from workbench.train.cnn_distill import DISTILL_DEFAULTS, fit_student
    from workbench.train.triplet import TripletConfig

    train, held = _hold_out(tracks, per_style=hold_out, seed=seed)
    fit, val = _split_val(train, seed=seed)
    t0 = time.perf_counter()
    rows, val_rows, teacher_score = teacher_rows(library, fit, val, held, seed=seed, views=views)
    scores = {"held_out": teacher_score}
    prep = time.perf_counter() - t0
    _write(out, {"seed": seed, "system": "features + head", "held_out": scores["held_out"],
                 "fit_tracks": len(fit), "val_tracks": len(val), "held_out_tracks": len(held),
                 "student_rows": len(rows.patches), "prepare_s": round(prep, 1)})
    for name in variants:
        v = dict(VARIANTS[name])
        stats = v.pop("stats", True)
        fit_kw = {k: v.pop(k) for k in ("feature_weight", "rows_per_epoch") if k in v}
        settings = {**DISTILL_DEFAULTS, **v}
        net = build_cnn(seed=seed, stats=stats, dropout=settings.pop("dropout")).net
        scfg = TripletConfig(seed=seed, num_threads=1, **settings)
        t1 = time.perf_counter()
        history, best, stopped = fit_student(net, rows, val_rows, cfg=scfg, **fit_kw)
        secs = time.perf_counter() - t1
        _write(out, {"seed": seed, "system": f"cnn distilled [{name}]", "settings": VARIANTS[name],
                     "held_out": _cnn_score(library, net, held, seed=seed),
                     "val_cosine": max(h["val_cosine"] for h in history), "best_epoch": best, "epochs": len(history),
                     "train_s": round(secs, 1), "stopped": stopped})


def _write(out: Path, record: dict) -> None:
    print(json.dumps(record), flush=True)
    with out.open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def summary(lines: list[dict]) -> str:
    """Mean and spread (sample std, min..max) over seeds of each system: validation cosine, held-out MAP@R.

    Parameters
    ----------
    lines : list of dict
        The JSON records.
    """
    out = [f"{'system':<34} {'seeds':>5} {'val cosine':>16} {'held-out MAP@R':>24}"]
    systems = list(dict.fromkeys(r["system"] for r in lines))
    for s in systems:
        rs = [r for r in lines if r["system"] == s]
        v = np.array([r.get("val_cosine", 1.0) for r in rs])
        h = np.array([r["held_out"]["map_at_r"] for r in rs])
        def sd(a: np.ndarray) -> float:
            """Sample standard deviation (0 for one value)."""
            return float(a.std(ddof=1)) if len(a) > 1 else 0.0

        out.append(f"{s:<34} {len(rs):>5} {v.mean():>8.3f} ± {sd(v):.3f} {h.mean():>10.3f} ± {sd(h):.3f} "
                   f"({h.min():.3f}..{h.max():.3f})")
    return "\n".join(out)


def demo_library(work: Path, *, n_tracks: int, duration_s: float):
    """The seeded demo library the distillation benches train on, synthesized once under ``work`` and scanned.

    Parameters
    ----------
    work : Path
        Folder that holds ``demo<n>x<s>/`` (the audio, reused when present) and its database.
    n_tracks : int
        Tracks of the demo library.
    duration_s : float
        Length of each track, in seconds.
    """
    from workbench.demo import synthesize_library
    from workbench.library import Library

    folder = work / f"demo{n_tracks}x{duration_s:g}"
    if not folder.is_dir():
        synthesize_library(folder, n_tracks=n_tracks, seed=0, duration_s=duration_s, progress=False)
    library = Library(work / f"demo{n_tracks}x{duration_s:g}.db")
    library.scan(folder, progress=False)
    return library


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tracks", type=int, default=36)
    p.add_argument("--duration", type=float, default=40.0)
    p.add_argument("--hold-out", type=int, default=2)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--variants", default="base")
    p.add_argument("--views", type=int, default=3, help="augmented views per fit track in the student rows")
    p.add_argument("--workdir", default="/tmp/bench_distill_ablation", help="demo library (reused when present)")
    p.add_argument("--out", default="distill_ablation.jsonl")
    p.add_argument("--summary", action="store_true", help="only print the summary of --out")
    args = p.parse_args(argv)
    out = Path(args.out)
    if not args.summary:
        import torch

        torch.set_num_threads(1)
        library = demo_library(Path(args.workdir), n_tracks=args.tracks, duration_s=args.duration)
        unknown = sorted(set(args.variants.split(",")) - set(VARIANTS))
        if unknown:
            raise SystemExit(f"variants must be among {sorted(VARIANTS)}; got {unknown}")
        try:
            for seed in (int(s) for s in args.seeds.split(",")):
                run_seed(library, library.tracks(), seed=seed, variants=args.variants.split(","), views=args.views,
                         out=out, hold_out=args.hold_out)
        finally:
            library.close()
    print(summary([json.loads(line) for line in out.read_text().splitlines() if line.strip()]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
