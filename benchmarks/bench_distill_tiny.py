"""A tiny distilled job (``--backbone cnn --distill features``, 2 epochs) for before/after checks of its stages.

One run writes ``N`` seeded stereo 44.1-kHz tracks of ``DUR`` seconds (two folders, the classes) into ``OUT/lib``,
runs the job through the CLI (``n_views=1``, one torch thread) and keeps the saved network's ``state_dict``
(``OUT/state.npz``), its metrics and history and the job's wall seconds (``OUT/result.json``). Run it from two
trees (``PYTHONPATH``) into two folders, interleaved; ``--compare A B`` then says which tensors, metrics, history,
``data.json``/``config.json`` entries and saved arrays differ (timings aside), ``--table DIR ...`` prints the
stage seconds (``metrics.json``'s ``distill.stage_s``; ``job_other``: the rest of the job's wall time).

    PYTHONPATH=TREE python benchmarks/bench_distill_tiny.py OUT --tracks 8 --seconds 90
    python benchmarks/bench_distill_tiny.py --compare OUT_A OUT_B
    python benchmarks/bench_distill_tiny.py --table OUT_A OUT_B ...

The session-13 figures (the job without its unused views and without recomputing the teacher's frames, against
586d590) are in ``bench_distill_job.py``'s docstring.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

STAGES = ("teacher", "student_rows", "val_rows", "student", "evaluate", "job_other", "run_s")
TIMING_KEYS = {"seconds", "stage_s", "prepare_s", "epoch_s", "elapsed_s", "wall_s", "created", "run_id", "path"}


def write_library(root: Path, n_tracks: int, duration_s: float) -> Path:
    """Seeded stereo tones with noise bursts, ``low``/``high`` folders; returns the scanned library's path."""
    import soundfile as sf

    from workbench.library import Library

    sr = 44100
    for i in range(n_tracks):
        folder = "low" if i % 2 == 0 else "high"
        rng = np.random.default_rng(i)
        t = np.arange(int(duration_s * sr)) / sr
        f = (110 if folder == "low" else 880) * (1 + 0.05 * i)
        y = sum(0.3 / k * np.sin(2 * np.pi * k * f * t + rng.uniform(0, 6)) for k in (1, 2, 3))
        y = y * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
        y = y + 0.2 * rng.standard_normal(t.size) * np.exp(-20 * (t % 0.5))
        (root / "music" / folder).mkdir(parents=True, exist_ok=True)
        sf.write(str(root / "music" / folder / f"t{i}.wav"), np.stack([y, 0.8 * np.roll(y, 37)], axis=1), sr)
    lib = Library(root / "lib.db")
    lib.scan(root / "music", progress=False)
    lib.close()
    return root / "lib.db"


def run_job(out: Path, n_tracks: int, duration_s: float) -> dict:
    """One tiny distilled job into ``out``; returns its wall seconds and stage seconds."""
    import torch

    from workbench import cli
    from workbench.models.cnn import load_cnn
    from workbench.runs import load_run

    torch.set_num_threads(1)
    db = write_library(out / "lib", n_tracks, duration_s)
    t0 = time.perf_counter()
    rc = cli.main(["--db", str(db), "--quiet", "train", "embeddings", "--backbone", "cnn", "--distill", "features",
                   "--epochs", "2", "--set", "n_views=1", "--set", "invariance_clips=1", "--set", "test_size=0.25",
                   "--set", "val_size=0.25", "--classes", "folder", "--experiments", str(out / "exp")])
    wall = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"the job failed (exit code {rc})")
    run = load_run(next((out / "exp").glob("*/model.pt")).parent)
    state = load_cnn(run.model_path).net.state_dict()
    np.savez(out / "state.npz", **{k: v.detach().cpu().numpy() for k, v in state.items()})
    (out / "result.json").write_text(json.dumps({"wall_s": wall, "metrics": run.metrics, "history": run.history},
                                                default=str))
    return {"wall_s": round(wall, 1), "stage_s": run.metrics["distill"]["stage_s"]}


def differences(a: object, b: object, where: str = "") -> list[str]:
    """Where two JSON-like values differ (timing keys skipped)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}/{k}: only in one" for k in set(a) ^ set(b) if k not in TIMING_KEYS]
        return out + [d for k in set(a) & set(b) - TIMING_KEYS for d in differences(a[k], b[k], f"{where}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (u, v) in enumerate(zip(a, b, strict=True)) for d in differences(u, v, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def compare(a: Path, b: Path) -> list[str]:
    """Every difference between two runs' saved networks, records and arrays (timings aside)."""
    sa, sb = np.load(a / "state.npz"), np.load(b / "state.npz")
    out = [f"state_dict {k}" for k in sorted(set(sa) | set(sb)) if k not in sa or k not in sb
           or not np.array_equal(sa[k], sb[k])]
    ra, rb = (json.loads((d / "result.json").read_text()) for d in (a, b))
    out += differences(ra["metrics"], rb["metrics"], "metrics") + differences(ra["history"], rb["history"], "history")
    da, db = (next((d / "exp").glob("*/model.pt")).parent for d in (a, b))
    for name in ("data.json", "config.json"):
        out += differences(json.loads((da / name).read_text()), json.loads((db / name).read_text()), name)
    xa, xb = np.load(da / "arrays.npz", allow_pickle=True), np.load(db / "arrays.npz", allow_pickle=True)
    return out + [f"arrays.npz {k}" for k in xa if not np.array_equal(xa[k], xb[k])]


def table(dirs: list[Path]) -> str:
    """Stage seconds of each run, one column per folder."""
    cols = {}
    for d in dirs:
        r = json.loads((d / "result.json").read_text())
        s = dict(r["metrics"]["distill"]["stage_s"])
        cols[d.name] = {**s, "job_other": round(r["wall_s"] - sum(s.values()), 1), "run_s": round(r["wall_s"], 1)}
    lines = ["stage (s)    " + "".join(f"{n:>12}" for n in cols)]
    lines += [f"{k:<13}" + "".join(f"{c[k]:>12}" for c in cols.values()) for k in STAGES]
    return "\n".join(lines)


def main() -> None:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", type=Path)
    p.add_argument("--tracks", type=int, default=8)
    p.add_argument("--seconds", type=float, default=90.0)
    p.add_argument("--compare", nargs=2, type=Path)
    p.add_argument("--table", nargs="+", type=Path)
    args = p.parse_args()
    if args.compare:
        found = compare(*args.compare)
        print("\n".join(found) if found else "identical: every state_dict tensor, metric, history entry and array")
    elif args.table:
        print(table(args.table))
    elif args.out is not None:
        print(json.dumps(run_job(args.out, args.tracks, args.seconds)))
    else:
        p.error("give OUT, --compare A B or --table DIR ...")


if __name__ == "__main__":
    main()
