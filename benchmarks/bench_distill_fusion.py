"""The distilled CNN with its rhythm fused in (``AudioCNN.set_rhythm_fusion``), against the CNN alone (issue 19).

The fusion is not trained: it appends the patch's fixed onset-envelope autocorrelation (96 lags) to a
trained network's embedding (:mod:`workbench.models.cnn_rhythm`). So it is scored on networks already
trained, with no new training:

- ``--draw S --student PT``: a student of hold-out draw S, either ``bench_distill_draws.py``'s saved
  kept network (``student_seed<S>_...pt`` in its ``--cache``: a state dict of ``build_cnn(stats=True,
  rhythm_lags=96)``) or an embeddings run's ``model.pt`` (``bench_distill_job.py``). The draw's held-out
  tracks are scored as ``bench_distill_draws.py`` scores its ``kept`` network (8-s windows, the CNN's
  3-s embeddings every 1 s mean-pooled inside each, MAP@R with same-track exclusion), at each weight
  in ``--weights`` (0: the network alone, which must give the draw's recorded figure), with the techno
  class's precision@1; ``--validation``: also the validation tracks' 8-s windows as queries among the fit
  and validation tracks (what a rule on validation could read);
- ``--runs FEATURES_RUN CNN_RUN --db DB``: two embeddings runs on the same library and split (the
  demo's own: ``make demo``'s features run and a distilled run with the job's defaults, same config
  otherwise); features + head and the CNN at each weight scored on the runs' test tracks, the same way.

    python benchmarks/bench_distill_fusion.py --draw 0 --student CACHE/student_seed0_....pt --workdir W [--weights 0,1]
    python benchmarks/bench_distill_fusion.py --runs EXP/<features run> EXP/<cnn run> --db HOME/data/workbench.db
    python benchmarks/bench_distill_fusion.py --train-demo HOME   # HOME from `workbench --home HOME demo`

Session 17 (2026-12-07, shared 2-core CPU, load 12-19, one torch thread; students of the job's defaults trained
in earlier sessions; held-out MAP@R, CNN alone -> fused at w = 1, techno precision@1 in brackets):

    draw 0, bench_distill_job.py --layout channels_last (session 13)   0.7997 -> 0.9572   (0.11 -> 0.89)
    draw 0, bench_distill_job.py --precision bfloat16 (session 13)      0.8063 -> 0.9505   (0.11 -> 0.78)
    draw 2, bench_distill_draws.py's kept network (session 12)         0.9853 -> 0.9711   (1.00 -> 1.00)

make demo's split, --runs (12 test tracks; the CNN run trained here, 2,692 s): features + head 0.9226, CNN
0.9149 -> 0.7959 fused. features + head: 0.917 (draw 0), 0.909 (draw 2). w = 1 was fixed after a sweep on draw 0's held-out tracks (the
validation tracks cannot choose it: MAP@R 1.000 without the fusion); draw 2 was scored after. Draws 1, 3, 4: no
saved student, not measured. docs/experiments/cnn-backbone.md, session 17.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def load_student(path: Path):  # type: ignore[no-untyped-def]
    """The :class:`~workbench.models.cnn.AudioCNN` of a run's ``model.pt`` or of a bench's saved state dict.

    Parameters
    ----------
    path : Path
        ``model.pt`` (a CNN checkpoint: config + tensors) or ``student_seed*.pt`` (the network's state dict;
        the job's architecture, ``stats=True, rhythm_lags=96``).
    """
    import torch

    from workbench.models.cnn import build_cnn, load_cnn

    data = torch.load(path, weights_only=True)
    if isinstance(data, dict) and "config" in data:
        return load_cnn(data)
    model = build_cnn(seed=0, stats=True, rhythm_lags=96)
    model.net.load_state_dict(data)
    return model.eval()


def _windows(library, tracks, model, weight: float):  # type: ignore[no-untyped-def]
    """8-s windows of ``tracks`` embedded by ``model`` with the fusion at ``weight`` (bench_backbones' way)."""
    from bench_backbones import _vectors

    from workbench.models.cnn_backbone import CNNBackbone

    model.set_rhythm_fusion(weight)
    return _vectors(library, tracks, CNNBackbone(model, hop_s=1.0), classes="style")


def _metrics(data, queries: np.ndarray | None = None) -> dict:
    from workbench.evaluate.retrieval import retrieval_metrics

    labels = np.asarray(data.classes)[data.y]  # class names: the per-class figures are keyed by them
    m = retrieval_metrics(np.asarray(data.X, np.float32), labels, groups=data.track_ids, queries=queries, per_class=True)
    techno = m["per_class"].get("techno", {}).get("precision_at_1", float("nan"))
    return {"map_at_r": round(float(m["map_at_r"]), 4), "precision_at_1": round(float(m["precision_at_1"]), 4),
            "techno_p_at_1": round(float(techno), 3)}


def score_draw(library, seed: int, model, weights: list[float], *, validation: bool = False) -> list[dict]:  # type: ignore[no-untyped-def]
    """Per weight: the draw's held-out figures and the validation tracks' among the fit tracks.

    Parameters
    ----------
    library : Library
        The 36 x 40 s demo of the distillation benches.
    seed : int
        The hold-out draw.
    model : AudioCNN
        The draw's trained student.
    weights : list of float
        Fusion weights (0: off).
    validation : bool
        Also the validation tracks' windows as queries among the fit and validation tracks.
    """
    from bench_backbones import _hold_out
    from bench_distill_ablation import _split_val

    train, held = _hold_out(library.tracks(), per_style=2, seed=seed)
    fit, val = _split_val(train, seed=seed)
    val_ids = [t.id for t in val]
    out = []
    for w in weights:
        out.append({"draw": seed, "weight": w, "held_out": _metrics(_windows(library, held, model, w))})
        if validation:
            fv = _windows(library, fit + val, model, w)
            out[-1]["validation"] = _metrics(fv, queries=np.isin(fv.track_ids, val_ids))
        print(json.dumps(out[-1]), flush=True)
    return out


def score_runs(db: Path, features_run: Path, cnn_run: Path, weights: list[float]) -> list[dict]:
    """features + head and the CNN at each fusion weight on the two runs' test tracks (the same split, checked).

    Parameters
    ----------
    db : Path
        The library both runs trained on.
    features_run, cnn_run : Path
        Run folders: ``--backbone features`` and ``--backbone cnn --distill features``.
    weights : list of float
        Fusion weights (0: off).
    """
    from bench_backbones import _vectors

    from workbench.embed.features import FeatureFrontend
    from workbench.library import Library
    from workbench.models.cnn import load_cnn
    from workbench.models.heads import load_checkpoint
    from workbench.runs import load_run
    from workbench.train.triplet import embed

    rf, rc = load_run(features_run), load_run(cnn_run)
    test = rf.data["splits"]["test"]
    if sorted(test) != sorted(rc.data["splits"]["test"]):
        raise SystemExit(f"the runs' test tracks differ: {sorted(test)} vs {sorted(rc.data['splits']['test'])}")
    library = Library(db)
    try:
        tracks = [t for t in library.tracks() if t.id in set(test)]
        f = _vectors(library, tracks, FeatureFrontend(), classes="style")
        f = dataclasses.replace(f, X=embed(load_checkpoint(rf.model_path), f.X))
        out = [{"system": "features + head", "test_tracks": len(tracks), **_metrics(f)}]
        print(json.dumps(out[-1]), flush=True)
        model = load_cnn(rc.model_path)
        for w in weights:
            out.append({"system": f"cnn distilled, fusion {w:g}", **_metrics(_windows(library, tracks, model, w))})
            print(json.dumps(out[-1]), flush=True)
    finally:
        library.close()
    return out


def train_demo_cnn(home: Path) -> tuple[Path, Path]:
    """Train a CNN distilled with the job's defaults on ``make demo``'s own split, beside its features run.

    Parameters
    ----------
    home : Path
        A home ``workbench --home HOME demo`` made: its newest features-backbone embeddings run is the
        reference; the CNN run takes ``make demo``'s config (``backbone=cnn``, ``distill=features``) and the same
        tracks, so the job's seeded split gives the same test tracks (:func:`score_runs` checks it).
        The CNN run takes 17-50 min on a shared 2-core CPU.

    Returns
    -------
    (features_run, cnn_run) : tuple of Path
    """
    from workbench.library import Library
    from workbench.pipeline import EMBEDDINGS_CONFIG
    from workbench.runs import list_runs
    from workbench.train.embeddings_job import train_embeddings_job

    runs = [r for r in list_runs(home / "experiments", kind="embeddings")
            if str(r.config.get("backbone", "features")).startswith("features")]
    if not runs:
        raise SystemExit(f"no features-backbone embeddings run under {home / 'experiments'}: run `workbench --home {home} demo` first")
    ref = runs[-1]
    ids = {i for split in ref.data["splits"].values() for i in split}
    library = Library(home / "data" / "workbench.db")
    try:
        tracks = [t for t in library.tracks() if t.id in ids]
        config = {**EMBEDDINGS_CONFIG, "backbone": "cnn", "distill": "features", "num_threads": 1}
        _, cnn_path = train_embeddings_job(library, config=config, tracks=tracks,
                                           experiments_root=home / "experiments", progress=True)
    finally:
        library.close()
    return Path(ref.path), Path(cnn_path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draw", type=int, default=None, help="the hold-out draw of --student")
    p.add_argument("--student", type=Path, default=None, help="the draw's trained student (.pt)")
    p.add_argument("--workdir", default="/tmp/bench_distill_ablation", help="demo library (reused when present)")
    p.add_argument("--runs", nargs=2, type=Path, metavar=("FEATURES_RUN", "CNN_RUN"), default=None)
    p.add_argument("--db", type=Path, default=None, help="the runs' library database (with --runs)")
    p.add_argument("--train-demo", type=Path, default=None, metavar="HOME",
                   help="a `workbench --home HOME demo` home: train a distilled CNN on its split, then score as --runs")
    p.add_argument("--weights", default="0,1", help="fusion weights, comma-separated (0: the CNN alone)")
    p.add_argument("--validation", action="store_true", help="also score the validation tracks among the fit tracks")
    p.add_argument("--out", type=Path, default=None, help="append the records as JSON lines")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    weights = [float(w) for w in args.weights.split(",")]
    if args.train_demo:
        features_run, cnn_run = train_demo_cnn(args.train_demo)
        records = score_runs(args.train_demo / "data" / "workbench.db", features_run, cnn_run, weights)
    elif args.runs:
        if args.db is None:
            p.error("--runs needs --db")
        records = score_runs(args.db, *args.runs, weights)
    else:
        if args.draw is None or args.student is None:
            p.error("give --draw and --student, or --runs and --db")
        from bench_distill_ablation import demo_library

        library = demo_library(Path(args.workdir), n_tracks=36, duration_s=40.0)
        try:
            records = score_draw(library, args.draw, load_student(args.student), weights, validation=args.validation)
        finally:
            library.close()
    if args.out:
        with args.out.open("a") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in records)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
